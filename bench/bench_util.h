/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * Helpers shared by the parts of cmr-bench: clocks, sizes, the RDMA
 * device, an MR's device pages as rdma(8) reports them, hugetlb pools.
 */
#ifndef CMR_BENCH_UTIL_H
#define CMR_BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#define SZ_4K (UINT64_C(1) << 12)
#define SZ_2M (UINT64_C(1) << 21)
#define SZ_1G (UINT64_C(1) << 30)

#define BENCH_MAX_SIZES 32

/* Access flags of every MR the benchmarks make: what perftest's RDMA READ
 * and WRITE tests need. */
#define BENCH_ACCESS                                                           \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |                     \
	 IBV_ACCESS_REMOTE_WRITE)

uint64_t now_ns(void);
/*
 * CPU time spent busy so far by all CPUs together (/proc/stat: everything
 * but idle and iowait, at USER_HZ resolution), 0 if unreadable: it also
 * counts work the kernel does for a call on other CPUs (zeroing helpers).
 */
uint64_t cpu_busy_ns(void);

/* "2M,8M,1G" (sizes as t_parse_size() reads them, none 0) -> sizes[],
 * returns the count, or -1. */
int parse_sizes(const char *text, uint64_t *sizes, int max);
/* Human form: "2 MiB". */
const char *size_str(uint64_t bytes, char *buf, size_t len);

struct bench_dev {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	char name[64];
};

/* Opens the named device (NULL: $CMR_RXE, else the first one) and a PD. */
int bench_dev_open(const char *name, struct bench_dev *dev);
void bench_dev_close(struct bench_dev *dev);

/*
 * The device page size and translation entries of the MR with this rkey,
 * from `rdma -dd resource show mr` (the series' rxe reports them as the
 * driver attributes page_size and map_entries). Returns 0, or ENOENT
 * when the MR or the attributes are not there (a kernel without the
 * series).
 */
int bench_mr_pages(uint32_t rkey, uint64_t *page_size, uint64_t *entries);

/*
 * hugetlb pools: pages of page_size bytes (2M or 1G). Returns the pool
 * size after writing nr (the kernel may grant fewer), or -1 with errno.
 */
long hugetlb_set_pool(uint64_t page_size, unsigned long nr);
long hugetlb_get_pool(uint64_t page_size);
long hugetlb_free_pages(uint64_t page_size);

/* Writes a line to a sysfs/procfs file; 0 or -1 with errno. */
int write_file(const char *path, const char *text);

/* More "System RAM" ranges than a guest's /proc/iomem shows. */
#define BENCH_RAM_MAX 64

/*
 * The top-level "System RAM" ranges of /proc/iomem as [start, end), at
 * most max of them; their number (0 if unreadable; addresses need root).
 */
int bench_ram_ranges(uint64_t (*r)[2], int max);

/* The errno's name (ENOMEM) for the CSV status columns, or "error". */
const char *bench_err_name(int err);

#endif /* CMR_BENCH_UTIL_H */
