/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * kt: helpers of the kernel tests (tests/kernel), on top of cmr_test.
 *
 *  - raw UVERBS_METHOD_CONTIG_BUF_ALLOC and CONTIG_BUF_FREE through the
 *    library's own ioctl encoder (libibverbs-ext-internal), for what the
 *    public API refuses before the kernel sees it and for tests that must
 *    control the object, its fd and its mapping one by one;
 *  - what `rdma resource show mr -dd` says about an MR (rxe's driver
 *    attributes drv_page_size and drv_map_entries, patch 0006);
 *  - the device page size the series must choose for a region, computed
 *    independently of the kernel;
 *  - whether the frames of a released region are really free
 *    (/proc/kpagecount, /proc/kpageflags).
 */
#ifndef KT_H
#define KT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <infiniband/verbs.h>

#include "cmr_test.h"
#include "uverbs_cmd.h"

#define KT_KIB (UINT64_C(1) << 10)
#define KT_MIB (UINT64_C(1) << 20)
#define KT_GIB (UINT64_C(1) << 30)

#define KT_ACCESS_ALL                                                          \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |                     \
	 IBV_ACCESS_REMOTE_WRITE)

/* "4 KiB", "3 MiB + 4 KiB", "1 GiB": into buf, returned. */
const char *kt_size_str(uint64_t v, char *buf, size_t size);

uint64_t kt_pow2_ceil(uint64_t v);
/* Largest power of two <= v; 0 for 0. */
uint64_t kt_pow2_floor(uint64_t v);
/* Largest power of two dividing v (v != 0). */
uint64_t kt_lowbit(uint64_t v);

/* ---- raw CONTIG_BUF commands ------------------------------------------- */

/*
 * A CONTIG_BUF object as UVERBS_METHOD_CONTIG_BUF_ALLOC returned it, and
 * the three things that hold its memory from user space: the object
 * itself (until CONTIG_BUF_FREE), its fd, and the test's mapping of all of
 * it. MRs over the mapping are registered with ibv_reg_mr() like any
 * others.
 */
struct kt_buf {
	struct ibv_context *ctx;	/* whose uverbs file holds the object */
	uint32_t handle;
	bool object;		/* not freed yet */
	int fd;			/* -1: closed */
	uint64_t length;	/* RESP_LENGTH */
	uint64_t alignment;	/* RESP_ALIGNMENT */
	uint32_t numa_node;	/* RESP_NUMA_NODE */
	uint64_t extent_size;	/* RESP_EXTENT_SIZE */
	uint8_t *addr;		/* mapping of [0, length), NULL: none */
};

/* The device's uverbs driver id (needed in every ioctl header). 0/errno. */
int kt_raw_init(struct ibv_context *ctx);
uint32_t kt_raw_driver_id(void);

/*
 * UVERBS_METHOD_CONTIG_BUF_ALLOC through the library's encoder with every
 * input given raw: numa_node < 0 leaves the attribute out, flags 0 leaves
 * it out. Returns 0 or the ioctl's positive errno (not translated). Maps
 * nothing: b->addr is NULL, b->fd the new fd.
 */
int kt_raw_alloc(struct ibv_context *ctx, uint64_t length, int32_t numa_node,
		 uint32_t flags, struct kt_buf *b);

/* The same with every input the encoder knows (MIN_EXTENT too). */
int kt_raw_alloc_in(struct ibv_context *ctx, const struct cmr_buf_alloc_in *in,
		    struct kt_buf *b);

/* UVERBS_METHOD_CONTIG_BUF_FREE of handle. 0 or errno. */
int kt_raw_free(struct ibv_context *ctx, uint32_t handle);

/* The attribute attr_id of cmd, or NULL. */
struct ib_uverbs_attr *kt_cmd_attr(struct cmr_ioctl_cmd *cmd, uint16_t attr_id);

/*
 * mmap(NULL, len, PROT_READ | PROT_WRITE, flags, b->fd, off): the address,
 * or MAP_FAILED with errno set.
 */
void *kt_buf_mmap(const struct kt_buf *b, uint64_t off, uint64_t len,
		  int flags);

/*
 * kt_raw_alloc() (no node, no flags) and a MAP_SHARED mapping of all of it
 * at b->addr, populated (every page present, so that pagemap shows it);
 * the fd stays open. 0, or errno after t_diag() with nothing left behind.
 */
int kt_buf_new(struct ibv_context *ctx, uint64_t length, struct kt_buf *b);

/*
 * Let go of one holder: CONTIG_BUF_FREE of the object, close() of the fd,
 * munmap() of the mapping. 0 or errno (t_diag() names it); one that is
 * already gone is 0.
 */
int kt_buf_drop_object(struct kt_buf *b);
int kt_buf_drop_fd(struct kt_buf *b);
int kt_buf_drop_map(struct kt_buf *b);

/* All three that are left. 0 or -1 (diagnostics). A zeroed b is fine. */
int kt_buf_release(struct kt_buf *b);

/* Fault every page of [addr, addr + len) in (page aligned). 0 or errno. */
int kt_populate(void *addr, uint64_t len);

/*
 * Open fds of this process (/proc/self/fd, without the one reading it),
 * and in *contig (may be NULL) those that are a contig_buf file. -1 when
 * /proc cannot be read.
 */
int kt_fd_count(int *contig);

/* ---- device pages ------------------------------------------------------- */

/*
 * PFNs of npages pages from addr (page aligned) from /proc/self/pagemap;
 * 0 for a page that is not present. 0, or -1 when pagemap cannot be read.
 */
int kt_pagemap(const void *addr, size_t npages, uint64_t *pfn);

/*
 * The device page size that ib_umem_find_best_pgsz() must choose for an MR
 * of len bytes at user address addr registered with IOVA iova, among the
 * sizes in cap (the device's page_size_cap), computed from the physical
 * pages behind it (/proc/self/pagemap). rxe's DMA addresses are
 * linear-map addresses, which keep the physical alignment (PAGE_OFFSET is
 * 512 GiB aligned without KASLR). *entries receives the number of blocks
 * of that size (ib_umem_num_dma_blocks()). 0 when the PFNs cannot be read.
 */
uint64_t kt_umem_pgsz(const void *addr, uint64_t len, uint64_t iova,
		      uint64_t cap, uint64_t *entries);

/* ---- memory ------------------------------------------------------------- */

/*
 * Page by page: how many of the frames [pfn, pfn + n) are in use
 * (/proc/kpagecount > 0), and how many of those the kernel does not account
 * to anything it names in /proc/kpageflags (LRU, slab, page table,
 * compound, buddy, zero page, mapped, anonymous, page cache): a page the
 * series failed to free (count > 0, none of these flags) shows up there.
 * Diagnostics name the first few. 0, or -1 when /proc/kpage* cannot be
 * read (needs root and CONFIG_PROC_PAGE_MONITOR).
 */
int kt_kpage_scan(uint64_t pfn, uint64_t n, uint64_t *in_use,
		  uint64_t *unexplained);

/*
 * A child process that holds one page in every @stride bytes of all free
 * memory but @leave bytes. No pageblock it reached is free any more, so a
 * contiguous allocation there must isolate the range and migrate those
 * pages, as on a machine that has run for a while, instead of taking free
 * blocks straight from the free lists. The child is the OOM killer's
 * first choice and dies with its parent. Proactive compaction is off
 * meanwhile (vm.compaction_proactiveness 0): kcompactd would otherwise
 * gather the held pages together, at a pace that depends on the host.
 */
struct kt_scatter {
	pid_t pid;
	uint64_t held;		/* bytes it holds */
	long long proactiveness; /* vm.compaction_proactiveness before, or -1 */
};

/* 0, or -1 with errno (a diagnostic says why). */
int kt_scatter_start(struct kt_scatter *s, uint64_t leave, uint64_t stride);
/* Kill the child and wait for it: its pages are free again. */
void kt_scatter_stop(struct kt_scatter *s);

/* ---- misc --------------------------------------------------------------- */

/* Run a shell command, print its output as diagnostics. Exit status. */
int kt_diag_cmd(const char *cmd);

/* Whether reading *p faults (SIGSEGV/SIGBUS); the value read in *val. */
bool kt_read_faults(const volatile uint8_t *p, uint8_t *val);

/*
 * Pageblocks of migratetype Isolate, summed over all zones
 * (/proc/pagetypeinfo); -1: unknown. Anything but 0 when no allocation
 * runs is a range an allocation failed to give back.
 */
long kt_isolated_pageblocks(void);

#endif /* KT_H */
