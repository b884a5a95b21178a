/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * cmr_test: the shared helper of the contig-mr tests and benchmarks. Link
 * the static library `cmr_test` (tests/lib/CMakeLists.txt).
 *
 * Conventions every test follows (see docs/harness.md):
 *   - exit status 0: pass, 77: skip (the reason printed), anything else:
 *     fail; return t_done() from main();
 *   - output is TAP: "ok N - what", "not ok N - what", "# diagnostics",
 *     "ok N - what # SKIP why";
 *   - device tests run in the guest; they find the device themselves
 *     (t_open_device()) and skip when there is none.
 *
 * A minimal device test:
 *
 *	int main(void)
 *	{
 *		struct ibv_context *ctx;
 *		struct ibv_pd *pd;
 *		struct t_loop loop;
 *
 *		t_dev_setup(NULL, &ctx, &pd, &loop);
 *		t_ok(t_loop_rdma(&loop, IBV_WR_RDMA_READ, ...) == 0, "read");
 *		t_dev_teardown(ctx, pd, &loop);
 *		return t_done();
 *	}
 *
 * Nothing here is thread-safe unless said so: t_ok()/t_diag() serialise
 * their output and may be called from any thread; a struct t_loop belongs
 * to one thread at a time.
 */
#ifndef CMR_TEST_H
#define CMR_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdnoreturn.h>

#include <infiniband/verbs.h>

#define T_EXIT_PASS 0
#define T_EXIT_FAIL 1
#define T_EXIT_SKIP 77

#define T_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---- TAP output ------------------------------------------------------ */

/* Print the plan "1..n" first (optional: t_done() prints it otherwise). */
void t_plan(unsigned int n);

/* One test point: "ok N - what" or "not ok N - what". Returns cond. */
bool t_ok(bool cond, const char *fmt, ...) T_PRINTF(2, 3);

/* One test point that was not run: "ok N - # SKIP why". */
void t_skip(const char *fmt, ...) T_PRINTF(1, 2);

/* A diagnostic line "# ...". */
void t_diag(const char *fmt, ...) T_PRINTF(1, 2);

/* Skip the whole test: prints the reason, exits 77. */
noreturn void t_skip_all(const char *fmt, ...) T_PRINTF(1, 2);

/* Give up: "Bail out! why", exit 1. */
noreturn void t_bail(const char *fmt, ...) T_PRINTF(1, 2);

/*
 * End: prints the plan if t_plan() was not called, then returns the exit
 * status: 1 if any point failed, 77 if every point was skipped, else 0.
 */
int t_done(void);

/* Number of failed points so far. */
unsigned int t_failures(void);

/*
 * Check "fn returned NULL / -1 / errno and errno is want": a test point
 * that prints got and expected errno names on failure. got is an errno
 * value (0 for success).
 */
bool t_errno_is(int got, int want, const char *fmt, ...) T_PRINTF(3, 4);

/* ---- devices ---------------------------------------------------------- */

/*
 * Open the device called name; with name NULL the first rxe device
 * (ibv_get_device_list order), else the first device of any kind. No
 * device: t_skip_all(). Failure to open: t_bail().
 */
struct ibv_context *t_open_device(const char *name);

struct t_loop;

/*
 * What a device test's main() sets up first, in one call: the device
 * (t_open_device(name): skips when there is none), a PD on it and, when
 * loop is not NULL, the loopback QP pair on that PD. Bails out on failure.
 */
void t_dev_setup(const char *name, struct ibv_context **ctx,
		 struct ibv_pd **pd, struct t_loop *loop);

/*
 * Undoes t_dev_setup(); loop, when not NULL, is a pair on pd to destroy
 * first, whether t_dev_setup() or the test created it. Deallocating the PD
 * is a test point: it fails (EBUSY) while the test left an MR or a buffer
 * on it.
 */
void t_dev_teardown(struct ibv_context *ctx, struct ibv_pd *pd,
		    struct t_loop *loop);

/*
 * RC QPs: the one set-up of the loopback pair below and of the two-device
 * pair (cmr_pair.h). What connecting a QP needs to know of a port:
 */
struct t_port {
	uint8_t num;
	int gid_index;
	union ibv_gid gid;	/* RoCE v2 with IPv4 preferred */
	enum ibv_mtu mtu;	/* the active one */
	uint32_t max_msg_sz;	/* the port's largest message */
	uint8_t rd_atomic;	/* max_qp_rd_atom, capped at 16, at least 1 */
};

/* Port num of ctx. 0, or -1 after t_diag(). */
int t_port_query(struct ibv_context *ctx, uint8_t num, struct t_port *port);

/* An RC QP on pd for one-sided requests, completions on cq; NULL after
 * t_diag(). */
struct ibv_qp *t_rc_qp_create(struct ibv_pd *pd, struct ibv_cq *cq);

/*
 * INIT, RTR, RTS: qp on local, connected to the QP dest_qpn on remote (its
 * GID and responder resources), with path MTU mtu. 0, or -1 after
 * t_diag().
 */
int t_rc_qp_connect(struct ibv_qp *qp, const struct t_port *local,
		    const struct t_port *remote, uint32_t dest_qpn,
		    enum ibv_mtu mtu);

/*
 * An RC QP pair connected to each other on one port of one device: qp[0]
 * issues the requests, qp[1] answers them, so an RDMA READ or WRITE from
 * qp[0] reaches any MR of the PD with remote access. Works on rxe with the
 * device's own GID (RoCE v2, IPv4 preferred).
 */
struct t_loop {
	struct ibv_context *ctx;
	struct ibv_pd *pd;	/* the caller's */
	struct ibv_cq *cq;	/* qp[0]'s send completions */
	struct ibv_qp *qp[2];
	struct t_port port;	/* port 1 */
	uint64_t wr_id;
};

/* Create and connect the pair on pd (port 1). 0, or -1 after t_diag(). */
int t_loop_create(struct t_loop *loop, struct ibv_pd *pd);
void t_loop_destroy(struct t_loop *loop);

/*
 * Post wr (signaled) on qp[0] and wait up to timeout_ms for its
 * completion. Returns the completion status (IBV_WC_SUCCESS == 0), or -1
 * after t_diag() when posting failed or the time ran out.
 */
int t_loop_post(struct t_loop *loop, struct ibv_send_wr *wr, int timeout_ms);

/*
 * The same for any QP: post wr signaled on qp with the next id from
 * *wr_id, wait up to timeout_ms for its completion on cq (completions of
 * earlier, timed-out requests are skipped). Returns as t_loop_post().
 */
int t_post_wait(struct ibv_qp *qp, struct ibv_cq *cq, uint64_t *wr_id,
		struct ibv_send_wr *wr, int timeout_ms);

/*
 * RDMA READ (remote -> local) or RDMA WRITE (local -> remote) of len bytes,
 * as messages of 1 MiB (at most max_msg_sz) with up to 8 in flight.
 * 0, or -1 after t_diag(). timeout_ms bounds the wait for each completion.
 * After a failure the pair is in the error state: create a new one.
 */
int t_loop_rdma(struct t_loop *loop, enum ibv_wr_opcode op, void *local,
		uint32_t lkey, uint64_t remote, uint32_t rkey, size_t len,
		int timeout_ms);

/*
 * Check an MR end to end through the device, both ways, over bytes
 * [off, off + len) of mr (which needs remote read and write access):
 * the CPU writes a pattern, RDMA READ brings it into a bounce buffer,
 * RDMA WRITE puts a second pattern back, the CPU checks it. Patterns
 * derive from seed. 0, or -1 after t_diag() naming what failed.
 */
int t_loop_verify(struct t_loop *loop, struct ibv_mr *mr, size_t off,
		  size_t len, uint64_t seed, int timeout_ms);

/* A registered, page aligned buffer of ordinary memory. */
struct t_buf {
	void *addr;
	size_t len;
	struct ibv_mr *mr;
};

/* 0, or -1 after t_diag(). t_buf_free() accepts a zeroed or failed one. */
int t_buf_alloc(struct t_buf *buf, struct ibv_pd *pd, size_t len,
		unsigned int access);
void t_buf_free(struct t_buf *buf);

/* ---- memory ----------------------------------------------------------- */

/* Whether [addr, addr + len) lies within one mapping (/proc/self/maps). */
bool t_is_mapped(const void *addr, size_t len);
/* The same; out (may be NULL) receives that mapping's line of maps. */
bool t_mapping_of(const void *addr, size_t len, char *out, size_t out_size);

/* Mappings in /proc/self/maps whose line contains name ("contig_buf"), or
 * -1 when it cannot be read. */
int t_mappings_of(const char *name);

/*
 * Resize the hugetlb pool of pages of page_kb KiB (2048, 1048576) to n
 * pages, as root. Returns the pool size the kernel reached (it may give
 * fewer), or -1. The first call for a page size records the original size
 * and restores it at exit(), so a test cannot leave its pool behind.
 */
long t_hugetlb_pool(unsigned long page_kb, long n);

/* Free pages in that pool, or -1. */
long t_hugetlb_free(unsigned long page_kb);

/*
 * Physical frame number of the page at addr from /proc/self/pagemap.
 * 0 and *pfn set, or -1 when the page is not present or the PFN is hidden
 * (only CAP_SYS_ADMIN sees PFNs; PFN maps (VM_PFNMAP) are not reported).
 */
int t_pagemap_pfn(const void *addr, uint64_t *pfn);

/*
 * Bytes from addr (page aligned) over which the physical pages follow each
 * other without a gap, at most len; -1 when the PFNs cannot be read.
 * *first_pfn (may be NULL) receives the PFN of the first page.
 */
long long t_phys_contig_bytes(const void *addr, size_t len,
			      uint64_t *first_pfn);

/*
 * Whether physical memory has a naturally aligned window of align bytes
 * (a power of two) that the kernel's aligned search could use: inside
 * System RAM, with no page reserved (memblock, firmware, swiotlb) or in
 * slab (/proc/kpageflags; root only). Without one, the buffer's documented
 * fallback to a smaller alignment applies. 1 yes, 0 no, -1 unreadable.
 */
int t_phys_window_possible(uint64_t align);

/*
 * Whether alignment is a fallback the kernel may take for a buffer whose
 * full alignment is full (docs/uapi.md, Memory kind): smaller than full,
 * at least a quarter of it and 4 MiB, no window of full exists, and none
 * of twice alignment either unless that is full itself.
 */
bool t_alignment_fallback_ok(uint64_t alignment, uint64_t full);

/* A field of /proc/meminfo in kB ("MemFree", "HugePages_Free": pages). */
long long t_meminfo_kb(const char *field);

/*
 * A field of /proc/PID/status in kB ("VmLck": locked memory, "VmPin":
 * pinned memory, "RssFile"); pid 0: the calling process. -1 when the
 * process or the field does not exist.
 */
long long t_status_kb(int pid, const char *field);

/*
 * Memory that is not held by what a test allocates, in kB: MemFree, plus
 * the pages parked on the per-CPU free lists (/proc/zoneinfo "count:";
 * free but not in NR_FREE_PAGES), plus the page cache (Cached, Buffers),
 * plus the calling process's own anonymous memory (RssAnon). The page
 * cache is in because the kernel turns it into free memory behind the
 * test's back: alloc_contig_range() reclaims the clean file pages of its
 * range instead of migrating them, and kswapd may drop any. RssAnon is in
 * because the test's heap grows as it runs. A contiguous buffer is in none
 * of these: its pages are not in the page cache, and its mapping (of the
 * buffer's fd) is not anonymous memory. Read in one pass over /proc/meminfo;
 * t_bail() when /proc cannot be read. Reclaim the kernel does on its own
 * (slab shrinkers, THP splitting) still raises it behind the test's back:
 * keep regions large against the tolerance.
 */
long long t_free_mem_kb(void);

/*
 * How far t_free_mem_kb() can be from the truth, in kB: the per-CPU drift
 * of the free and file page counters (zone stat threshold per CPU, summed,
 * once for each) plus slack for what the kernel allocates meanwhile.
 * Prints the parts with t_diag().
 */
long long t_free_mem_tolerance_kb(long long slack_kb);

/*
 * Poll t_free_mem_kb() for up to timeout_s until it is at least want_kb;
 * returns the last value read.
 */
long long t_free_mem_wait(long long want_kb, double timeout_s);

/*
 * Checks (one t_ok() each) against a baseline base = t_free_mem_kb():
 * held: free memory has dropped by at least len bytes minus tol_kb;
 * returned: it is back within tol_kb of base, waiting up to timeout_s
 * for freed pages to arrive.
 */
bool t_free_mem_held(const char *what, long long base, uint64_t len,
		     long long tol_kb);
bool t_free_mem_returned(const char *what, long long base, long long tol_kb,
			 double timeout_s);

/*
 * Deterministic data: byte off of the pattern seeded with seed. Any slice
 * of a buffer can be checked on its own, given its offset.
 */
uint8_t t_pattern_byte(uint64_t seed, uint64_t off);
void t_fill(void *buf, size_t len, uint64_t seed, uint64_t off);
/* Index of the first byte that differs, or -1 when all match. */
long long t_check(const void *buf, size_t len, uint64_t seed, uint64_t off);
/* Index of the first non-zero byte, or -1. */
long long t_check_zero(const void *buf, size_t len);

/* ---- rdma tool (rdma_tool.c) -------------------------------------------- */

/*
 * The MR whose key ("lkey" or "rkey") is value, on device dev (NULL: any),
 * as `rdma -dd resource show mr` lists it; reads the driver attributes
 * page_size and map_entries (drv_ prefixed or not). Returns 0 (both read),
 * 1 (the MR is listed without them), -1 (not listed, or the tool failed).
 * line (may be NULL) receives the MR's record on one line.
 */
int t_rdma_mr_pages(const char *dev, const char *key, uint32_t value,
		    uint64_t *page_size, uint64_t *entries, char *line,
		    size_t line_size);

/*
 * Every MR record (on one line) whose key ("lkey", "rkey", "pid", ...) is
 * value, to fn; with first_only the first one. Returns how many, or -1
 * when the tool failed. t_rdma_record_pages() reads a record's page_size
 * and map_entries (false when the driver did not report them).
 */
int t_rdma_mr_each(const char *dev, const char *key, uint32_t value,
		   void (*fn)(const char *rec, void *arg), void *arg,
		   bool first_only);
bool t_rdma_record_pages(const char *rec, uint64_t *page_size,
			 uint64_t *entries);

/* ---- misc ------------------------------------------------------------- */

/*
 * The one size parser of the project's programs: "4096", "64K", "2M",
 * "1G" (powers of 1024; "KiB"/"KB" spellings too), and sums of such terms,
 * "3M+4K". 0, or -1 on bad input or overflow.
 */
int t_parse_size(const char *s, uint64_t *out);

/* Write a formatted string to a file (sysctl, sysfs). 0 or -1. */
int t_write_file(const char *path, const char *fmt, ...) T_PRINTF(2, 3);

/* The number in a file, or -1. */
long long t_read_number(const char *path);

/* Monotonic seconds. */
double t_now(void);

/* The unprivileged user the tests act as: uid and gid nobody. */
#define T_NOBODY 65534

/* Drop to uid and gid T_NOBODY with no supplementary groups (a root
 * process; capabilities go with uid 0). 0, or -1 with errno. */
int t_become_nobody(void);

#endif /* CMR_TEST_H */
