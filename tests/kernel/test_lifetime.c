// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_lifetime: the memory of a contiguous buffer goes back to the page
 * allocator exactly when the last of its holders is gone, whatever ends
 * them and in whatever order: the CONTIG_BUF object, its fd, every mapping
 * (in any process) and every MR over it. It is charged as locked memory
 * (VmLck of the allocating process) exactly as long as the object, the fd
 * or a mapping exists, independently of MRs, and as pinned memory (VmPin)
 * of the registering process while an MR over it exists.
 *
 *  free        ibv_free_contig_mr() returns free memory to its baseline;
 *              ibv_dereg_mr() of such an MR leaves the buffer mapped and
 *              charged until ibv_free_contig_buf()
 *  orders      all 24 orders of FREE, close(fd), munmap and ibv_dereg_mr of
 *              a 64 MiB buffer with an MR over all of it: after each step
 *              the memory is held or back, VmLck and VmPin are what the
 *              holders left imply, and the data is reachable through each
 *              of them (CPU through the mapping, a fresh mapping of the fd,
 *              RDMA READ through the MR)
 *  dead-rkey   after ibv_dereg_mr() the old rkey is refused
 *  split       munmap of 16 MiB in the middle: the MR keeps the hole's
 *              pages (RDMA READ returns their data), the pieces keep the
 *              rest; all of it returns after ibv_dereg_mr and munmap
 *  dontneed    MADV_DONTNEED zaps the PTEs; the next touch maps the same
 *              pages again with their contents; the MR is unaffected
 *  fork        the child of fork() does not have the mapping
 *              (VM_DONTCOPY); after it exits, the parent's MR and data are
 *              intact and RDMA through it works
 *  dofork      after MADV_DOFORK the child shares the pages; once the
 *              parent has let go of everything, the child's mapping holds
 *              the memory, still charged to the parent (VmLck) and not to
 *              the child, until the child exits
 *  context     closing the uverbs context (ibv_close_device()) destroys the
 *              object and the MR; the fd and the mapping keep the memory
 *              until they are gone; an object alone goes with its context
 *  exit        a child with object, fd, mapping and MR exits without
 *              releasing any of them
 *  kill        a child posting RDMA READ/WRITE of 256 KiB in a loop within
 *              a 256 MiB region is SIGKILLed
 *  kill-alloc  children are SIGKILLed inside ibv_alloc_contig_mr() at 5,
 *              30, 60 and 90 % of the time an uninterrupted call for
 *              512 MiB takes (searching, zeroing, mapping, pinning)
 *
 * Free memory is t_free_mem_kb(): MemFree plus the pages on the per-CPU
 * free lists (freed pages land there first and are not counted in MemFree)
 * plus the page cache, which the allocation may reclaim, plus this
 * process's own anonymous memory (its heap grows as it runs). Tolerance:
 * the free and file page counters have per-CPU deltas, each bounded by
 * the zone stat thresholds (zoneinfo, summed over zones and CPUs), plus
 * 4 MiB for what the kernel allocates meanwhile (slab, page tables, the
 * children's contexts). Regions are 64 MiB or more, so a region that was
 * not returned cannot hide in the tolerance. Page by page, too: after the
 * release every frame of the region must have page count 0
 * (/proc/kpagecount) unless the kernel has since reused it for something
 * /proc/kpageflags names (LRU, slab, page table, mapped by a process...),
 * so that not even one leaked page goes unnoticed. VmLck and VmPin are
 * compared exactly: nothing else in this process locks or pins memory
 * while they are read.
 *
 *   kernel_lifetime         (SETUP loop)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "kt.h"

#define REGION (128 * KT_MIB)
#define ORDER_REGION (64 * KT_MIB)
#define TRAFFIC_REGION (256 * KT_MIB)
#define TRAFFIC_OP (256 * KT_KIB)
#define KILL_ALLOC_REGION (512 * KT_MIB)

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct t_loop loop;
static long long tol_kb;

/* ---- measuring ---------------------------------------------------------- */

/* The checks of cmr_test, with this test's tolerance. */
static bool held(const char *what, long long base, uint64_t len)
{
	return t_free_mem_held(what, base, len, tol_kb);
}

static bool returned(const char *what, long long base, double timeout_s)
{
	return t_free_mem_returned(what, base, tol_kb, timeout_s);
}

/*
 * Every frame of the region is free again: page count 0, or in use for
 * something the kernel names (reused since); none held by nobody.
 */
static void pages_free(const char *what, uint64_t pfn, uint64_t len)
{
	uint64_t n = len / 4096, in_use = 0, unexplained = 0;

	if (!pfn) {
		t_skip("%s: no PFN known", what);
		return;
	}
	if (kt_kpage_scan(pfn, n, &in_use, &unexplained)) {
		t_skip("%s: /proc/kpagecount not readable", what);
		return;
	}
	t_ok(!unexplained, "%s: all %" PRIu64 " frames from PFN 0x%" PRIx64
	     " free (kpagecount 0) or reused by the kernel since (%" PRIu64
	     " in use, %" PRIu64 " of them for nothing kpageflags names)",
	     what, n, pfn, in_use, unexplained);
}

/* Where memory other than the regions sits: compare start and end. */
static void meminfo_diag(const char *when)
{
	t_diag("%s: MemFree %lld, Cached %lld, AnonPages %lld, Slab %lld, "
	       "PageTables %lld, KernelStack %lld kB", when,
	       t_meminfo_kb("MemFree"), t_meminfo_kb("Cached"),
	       t_meminfo_kb("AnonPages"), t_meminfo_kb("Slab"),
	       t_meminfo_kb("PageTables"), t_meminfo_kb("KernelStack"));
}

static long long vmlck(void)
{
	return t_status_kb(0, "VmLck");
}

static long long vmpin(void)
{
	return t_status_kb(0, "VmPin");
}

/* ---- data at both ends -------------------------------------------------- */

static void fill_ends(uint8_t *p, uint64_t len, uint64_t seed)
{
	t_fill(p, 4096, seed, 0);
	t_fill(p + len - 4096, 4096, seed, len - 4096);
}

static bool check_ends(const uint8_t *p, uint64_t len, uint64_t seed)
{
	return t_check(p, 4096, seed, 0) < 0 &&
	       t_check(p + len - 4096, 4096, seed, len - 4096) < 0;
}

/* RDMA READ of the first and last 4 KiB of [iova, iova + len). */
static bool read_ends(uint64_t iova, uint32_t rkey, uint64_t len,
		      uint64_t seed)
{
	uint64_t tail = len - 4096;
	struct t_buf b;
	bool ok = false;

	if (t_buf_alloc(&b, pd, 4096, IBV_ACCESS_LOCAL_WRITE))
		return false;
	if (t_loop_rdma(&loop, IBV_WR_RDMA_READ, b.addr, b.mr->lkey, iova,
			rkey, 4096, 20000) ||
	    t_check(b.addr, 4096, seed, 0) >= 0)
		goto out;
	if (t_loop_rdma(&loop, IBV_WR_RDMA_READ, b.addr, b.mr->lkey,
			iova + tail, rkey, 4096, 20000) ||
	    t_check(b.addr, 4096, seed, tail) >= 0)
		goto out;
	ok = true;
out:
	t_buf_free(&b);
	return ok;
}

/* A fresh mapping of the fd shows the data; unmapped again. */
static bool remap_ends(const struct kt_buf *b, uint64_t seed)
{
	uint8_t *p = kt_buf_mmap(b, 0, b->length, MAP_SHARED);
	bool ok;

	if (p == MAP_FAILED) {
		t_diag("mmap of the fd: %s", strerrorname_np(errno));
		return false;
	}
	ok = check_ends(p, b->length, seed);
	munmap(p, b->length);
	return ok;
}

/* ---- library ------------------------------------------------------------ */

static void test_free(void)
{
	long long base = t_free_mem_kb(), lck0 = vmlck(), pin0 = vmpin();
	long long drop, kb = REGION / 1024;
	struct ibv_contig_buf *buf;
	struct ibv_mr *mr;
	uint64_t pfn = 0;
	void *addr;

	mr = ibv_alloc_contig_mr(pd, REGION, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "free: ibv_alloc_contig_mr of 128 MiB")) {
		t_diag("%s", strerrorname_np(errno));
		return;
	}
	t_pagemap_pfn(mr->addr, &pfn);
	drop = base - t_free_mem_kb();
	held("free: allocated", base, REGION);
	t_ok(drop <= kb + tol_kb,
	     "free: no more than the region taken (%lld kB)", drop);
	t_ok(vmlck() == lck0 + kb && vmpin() == pin0 + kb,
	     "free: VmLck +%lld kB (the buffer), VmPin +%lld kB (the MR)",
	     vmlck() - lck0, vmpin() - pin0);
	t_errno_is(ibv_free_contig_mr(mr), 0, "free: ibv_free_contig_mr");
	t_ok(vmlck() == lck0 && vmpin() == pin0,
	     "free: VmLck and VmPin back (%+lld, %+lld kB)", vmlck() - lck0,
	     vmpin() - pin0);
	returned("free: after ibv_free_contig_mr", base, 10);
	pages_free("free: after ibv_free_contig_mr", pfn, REGION);

	/* ibv_dereg_mr() of the one-call MR: the buffer stays. */
	base = t_free_mem_kb();
	mr = ibv_alloc_contig_mr(pd, REGION, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "dereg: ibv_alloc_contig_mr of 128 MiB"))
		return;
	buf = ibv_contig_mr_buf(mr);
	addr = mr->addr;
	pfn = 0;
	t_pagemap_pfn(addr, &pfn);
	fill_ends(addr, REGION, 0x70);
	t_ok(buf && buf->addr == addr && buf->length == REGION,
	     "dereg: ibv_contig_mr_buf() gives the buffer at the MR's address");
	t_errno_is(ibv_dereg_mr(mr), 0, "dereg: ibv_dereg_mr of that MR");
	t_ok(vmlck() == lck0 + kb && vmpin() == pin0 &&
		     t_is_mapped(addr, REGION) && check_ends(addr, REGION, 0x70),
	     "dereg: the buffer stays mapped with its data and charged "
	     "(VmLck %+lld kB), the MR is uncharged (VmPin %+lld kB)",
	     vmlck() - lck0, vmpin() - pin0);
	held("dereg: the buffer holds the memory", base, REGION);
	if (buf)
		t_errno_is(ibv_free_contig_buf(buf), 0,
			   "dereg: ibv_free_contig_buf");
	t_ok(vmlck() == lck0 && !t_is_mapped(addr, 4096),
	     "dereg: unmapped and uncharged (VmLck %+lld kB)",
	     vmlck() - lck0);
	returned("dereg: after ibv_free_contig_buf", base, 10);
	pages_free("dereg: after ibv_free_contig_buf", pfn, REGION);
}

/* ---- every order of the four holders ------------------------------------ */

enum holder { H_OBJECT, H_FD, H_MAP, H_MR, H_COUNT };

static const char *const holder_verb[H_COUNT] = {
	"FREE", "close", "munmap", "dereg",
};

/* A buffer with an MR over all of it, and what was measured before. */
struct held_buf {
	struct kt_buf b;
	struct ibv_mr *mr;
	uint64_t iova, pfn, seed;
	uint32_t rkey;
	long long free0, lck0, pin0;
};

static int held_buf_new(struct held_buf *h, struct ibv_context *c,
			struct ibv_pd *p, uint64_t len, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	h->free0 = t_free_mem_kb();
	h->lck0 = vmlck();
	h->pin0 = vmpin();
	if (kt_buf_new(c, len, &h->b))
		return -1;
	h->mr = ibv_reg_mr(p, h->b.addr, h->b.length, KT_ACCESS_ALL);
	if (!h->mr) {
		t_diag("ibv_reg_mr of the buffer: %s", strerrorname_np(errno));
		kt_buf_release(&h->b);
		return -1;
	}
	h->iova = (uintptr_t)h->b.addr;
	h->rkey = h->mr->rkey;
	h->seed = seed;
	t_pagemap_pfn(h->b.addr, &h->pfn);
	fill_ends(h->b.addr, h->b.length, seed);
	return 0;
}

static int held_buf_drop(struct held_buf *h, enum holder which)
{
	int ret = 0;

	switch (which) {
	case H_OBJECT:
		return kt_buf_drop_object(&h->b);
	case H_FD:
		return kt_buf_drop_fd(&h->b);
	case H_MAP:
		return kt_buf_drop_map(&h->b);
	case H_MR:
		if (h->mr)
			ret = ibv_dereg_mr(h->mr);
		h->mr = NULL;
		return ret;
	default:
		return EINVAL;
	}
}

/*
 * What the holders left imply: VmLck while the object, the fd or the
 * mapping exists; VmPin while the MR does; the data through each of them;
 * the memory held while any of the four exists, else back and every frame
 * free. One point for the accounting and the data, one for the memory.
 */
static void held_buf_check(struct held_buf *h, const char *what, int err)
{
	uint64_t len = h->b.length;
	long long kb = len / 1024, lck = vmlck(), pin = vmpin();
	bool charged = h->b.object || h->b.fd >= 0 || h->b.addr;
	bool ok = true, one;
	char via[128] = "", msg[160];
	size_t n = 0;

#define VIA(cond, name)                                                        \
	do {                                                                   \
		one = (cond);                                                  \
		ok = ok && one;                                                \
		n += snprintf(via + n, sizeof(via) - n, "%s%s %s",             \
			      n ? ", " : "", name, one ? "ok" : "BAD");        \
	} while (0)
	if (h->b.addr)
		VIA(check_ends(h->b.addr, len, h->seed), "the mapping");
	else if (h->b.fd >= 0)
		VIA(remap_ends(&h->b, h->seed), "a new mapping of the fd");
	if (h->mr)
		VIA(read_ends(h->iova, h->rkey, len, h->seed), "RDMA READ");
#undef VIA
	t_ok(!err && lck == h->lck0 + (charged ? kb : 0) &&
		     pin == h->pin0 + (h->mr ? kb : 0) && ok,
	     "%s: %s; VmLck %+lld kB, VmPin %+lld kB; data: %s", what,
	     err ? strerrorname_np(err) : "ok", lck - h->lck0, pin - h->pin0,
	     n ? via : "nothing left to read it through");
	snprintf(msg, sizeof(msg), "%s: memory", what);
	if (charged || h->mr) {
		held(msg, h->free0, len);
	} else {
		returned(msg, h->free0, 10);
		pages_free(msg, h->pfn, len);
	}
}

static void test_orders(void)
{
	enum holder order[H_COUNT];
	struct held_buf h;
	char name[64], what[128];
	unsigned int code, i, n = 0;
	int err;

	for (code = 0; code < 256; code++) {
		unsigned int seen = 0;

		for (i = 0; i < H_COUNT; i++) {
			order[i] = (code >> (2 * i)) & 3;
			seen |= 1u << order[i];
		}
		if (seen != 0xf)
			continue;
		snprintf(name, sizeof(name), "order %s, %s, %s, %s",
			 holder_verb[order[0]], holder_verb[order[1]],
			 holder_verb[order[2]], holder_verb[order[3]]);
		if (held_buf_new(&h, ctx, pd, ORDER_REGION, 0x100 + n++)) {
			t_ok(false, "%s: 64 MiB buffer with an MR over it",
			     name);
			continue;
		}
		for (i = 0; i < H_COUNT; i++) {
			err = held_buf_drop(&h, order[i]);
			snprintf(what, sizeof(what), "%s: after %s", name,
				 holder_verb[order[i]]);
			held_buf_check(&h, what, err);
		}
	}
}

static void test_dead_rkey(void)
{
	struct held_buf h;
	bool ok;

	if (!t_ok(!held_buf_new(&h, ctx, pd, 4 * KT_MIB, 0x72),
		  "dead-rkey: 4 MiB buffer with an MR over it"))
		return;
	t_errno_is(held_buf_drop(&h, H_MR), 0, "dead-rkey: ibv_dereg_mr");
	/* The READ must fail; the QP goes to the error state. */
	ok = read_ends(h.iova, h.rkey, h.b.length, h.seed);
	t_ok(!ok, "dead-rkey: RDMA READ with the deregistered MR's rkey "
	     "fails");
	t_loop_destroy(&loop);
	if (t_loop_create(&loop, pd))
		t_bail("recreating the loopback QP pair");
	t_ok(check_ends(h.b.addr, h.b.length, h.seed),
	     "dead-rkey: the mapping still shows the data");
	t_ok(!kt_buf_release(&h.b), "dead-rkey: FREE, close, munmap");
}

/*
 * munmap() of the middle of the mapping splits it in two; the MR keeps the
 * pages of the hole, the rest stays mapped, and everything goes back once
 * the MR is deregistered and both pieces are unmapped.
 */
static void test_split(void)
{
	uint64_t hole = 32 * KT_MIB, hole_len = 16 * KT_MIB;
	struct held_buf h;
	struct t_buf b;
	uint8_t *p;
	bool ok = false;

	if (!t_ok(!held_buf_new(&h, ctx, pd, REGION, 0x78),
		  "split: 128 MiB buffer with an MR over it"))
		return;
	p = h.b.addr;
	t_fill(p + hole - 4096, hole_len + 8192, 0x78, hole - 4096);
	t_ok(!kt_buf_drop_object(&h.b) && !kt_buf_drop_fd(&h.b),
	     "split: FREE and close: the mapping and the MR are left");
	t_errno_is(munmap(p + hole, hole_len) ? errno : 0, 0,
		   "split: munmap of 16 MiB in the middle");
	t_ok(t_is_mapped(p, hole) && !t_is_mapped(p + hole, 4096) &&
		     t_is_mapped(p + hole + hole_len,
				 h.b.length - hole - hole_len),
	     "split: two mappings left around the hole");
	t_ok(t_check(p + hole - 4096, 4096, 0x78, hole - 4096) < 0 &&
		     t_check(p + hole + hole_len, 4096, 0x78,
			     hole + hole_len) < 0,
	     "split: both pieces keep their data next to the hole");
	if (!t_buf_alloc(&b, pd, hole_len, IBV_ACCESS_LOCAL_WRITE)) {
		ok = !t_loop_rdma(&loop, IBV_WR_RDMA_READ, b.addr, b.mr->lkey,
				  h.iova + hole, h.rkey, hole_len, 30000) &&
		     t_check(b.addr, hole_len, 0x78, hole) < 0;
		t_buf_free(&b);
	}
	t_ok(ok, "split: RDMA READ of the hole returns its data (pinned)");
	held("split: hole unmapped", h.free0, REGION);
	t_errno_is(held_buf_drop(&h, H_MR), 0, "split: ibv_dereg_mr");
	/* The buffer is freed as a whole when its last mapping goes. */
	held("split: MR gone, two pieces mapped: the whole buffer held",
	     h.free0, REGION);
	t_ok(vmlck() == h.lck0 + (long long)(REGION / 1024),
	     "split: still charged (VmLck %+lld kB)", vmlck() - h.lck0);
	t_errno_is(kt_buf_drop_map(&h.b), 0,
		   "split: munmap of the whole range");
	t_ok(vmlck() == h.lck0, "split: uncharged (VmLck %+lld kB)",
	     vmlck() - h.lck0);
	returned("split: after both", h.free0, 10);
	pages_free("split: after both", h.pfn, REGION);
}

static void test_dontneed(void)
{
	const uint64_t len = 4 * KT_MIB;
	uint64_t pfn_before = 0, pfn_after = 0, zapped;
	struct held_buf h;
	long long contig;
	uint8_t *p;

	if (!t_ok(!held_buf_new(&h, ctx, pd, len, 0x75),
		  "dontneed: 4 MiB buffer with an MR over it"))
		return;
	p = h.b.addr;
	t_fill(p, len, 0x75, 0);
	t_phys_contig_bytes(p, len, &pfn_before);
	t_errno_is(madvise(p, len, MADV_DONTNEED) ? errno : 0, 0,
		   "dontneed: madvise(MADV_DONTNEED) on the whole mapping");
	zapped = t_pagemap_pfn(p + 4096, &pfn_after) ? 1 : 0;
	t_diag("dontneed: second page %s after MADV_DONTNEED",
	       zapped ? "not present" : "still present");
	t_ok(t_check(p, len, 0x75, 0) < 0,
	     "dontneed: the next touch finds the same contents");
	contig = t_phys_contig_bytes(p, len, &pfn_after);
	t_ok(contig == (long long)len && pfn_after == pfn_before,
	     "dontneed: the same physical pages are mapped again "
	     "(PFN 0x%" PRIx64 ", %lld bytes consecutive)", pfn_after, contig);
	t_ok(!t_loop_verify(&loop, h.mr, 0, 65536, 0x76, 30000) &&
		     !t_loop_verify(&loop, h.mr, len - 65536, 65536, 0x77,
				    30000),
	     "dontneed: RDMA READ and WRITE at both ends still work");
	t_errno_is(held_buf_drop(&h, H_MR), 0, "dontneed: ibv_dereg_mr");
	t_ok(!kt_buf_release(&h.b), "dontneed: FREE, close, munmap");
}

/* ---- fork --------------------------------------------------------------- */

static void test_fork(void)
{
	const uint64_t len = 4 * KT_MIB;
	uint64_t pfn0 = 0, pfn1 = 0, pfn0b = 0, pfn1b = 0;
	struct held_buf h;
	uint8_t *p, v;
	int status;
	pid_t pid;

	if (!t_ok(!held_buf_new(&h, ctx, pd, len, 0x73),
		  "fork: 4 MiB buffer with an MR over it"))
		return;
	p = h.b.addr;
	t_fill(p, len, 0x73, 0);
	t_pagemap_pfn(p, &pfn0);
	t_pagemap_pfn(p + len - 4096, &pfn1);

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int bits = 0;

		/* The child: no mapping at that address at all. */
		if (!t_is_mapped(p, 1))
			bits |= 1;
		if (kt_read_faults(p, &v))
			bits |= 2;
		if (kt_read_faults(p + len - 1, &v))
			bits |= 4;
		_exit(bits);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		t_ok(false, "fork: fork/wait: %s", strerror(errno));
		held_buf_drop(&h, H_MR);
		kt_buf_release(&h.b);
		return;
	}
	t_ok(WIFEXITED(status) && WEXITSTATUS(status) == 7,
	     "fork: the child has no mapping at the buffer's address, "
	     "reading its first and last byte faults (VM_DONTCOPY) "
	     "(status 0x%x)", status);
	t_pagemap_pfn(p, &pfn0b);
	t_pagemap_pfn(p + len - 4096, &pfn1b);
	t_ok(pfn0 && pfn0 == pfn0b && pfn1 == pfn1b,
	     "fork: after the child exited the parent's pages are the same "
	     "(PFN 0x%" PRIx64 "..0x%" PRIx64 ")", pfn0b, pfn1b);
	t_ok(t_check(p, len, 0x73, 0) < 0,
	     "fork: the parent's data is intact (4 MiB checked)");
	t_ok(!t_loop_verify(&loop, h.mr, 0, len, 0x74, 30000),
	     "fork: RDMA READ and WRITE of the whole 4 MiB in the parent");
	t_errno_is(held_buf_drop(&h, H_MR), 0, "fork: ibv_dereg_mr");
	t_ok(!kt_buf_release(&h.b), "fork: FREE, close, munmap");
}

/* What the MADV_DOFORK child saw, through a MAP_SHARED page. */
struct dofork_report {
	volatile int bits;
	volatile uint64_t pfn;
	volatile long long vmlck_kb;
};

static void test_dofork(void)
{
	const uint64_t len = ORDER_REGION;
	long long base = t_free_mem_kb(), lck0 = vmlck(), kb = len / 1024;
	struct dofork_report *rep;
	uint64_t pfn = 0;
	struct kt_buf b;
	int fds[2], status;
	uint8_t *p;
	char x;
	pid_t pid;

	rep = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rep == MAP_FAILED || pipe(fds))
		t_bail("mmap/pipe: %s", strerror(errno));
	memset((void *)rep, 0, sizeof(*rep));
	if (!t_errno_is(kt_buf_new(ctx, len, &b), 0, "dofork: 64 MiB buffer"))
		return;
	p = b.addr;
	t_pagemap_pfn(p, &pfn);
	fill_ends(p, len, 0x79);
	/* The fd would be inherited too: only the mapping goes along. */
	t_errno_is(kt_buf_drop_fd(&b), 0, "dofork: close the fd");
	t_errno_is(madvise(p, len, MADV_DOFORK) ? errno : 0, 0,
		   "dofork: madvise(MADV_DOFORK)");

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int bits = 0;

		close(fds[1]);
		if (t_is_mapped(p, len))
			bits |= 1;
		if (check_ends(p, len, 0x79))
			bits |= 2;
		t_pagemap_pfn(p, (uint64_t *)&rep->pfn);
		rep->vmlck_kb = t_status_kb(0, "VmLck");
		p[8192] = 0x5a;
		rep->bits = bits | 0x100;
		/* Hold the mapping until the parent closes the pipe. */
		while (read(fds[0], &x, 1) > 0)
			;
		_exit(0);
	}
	close(fds[0]);
	while (pid > 0 && !rep->bits && !waitpid(pid, &status, WNOHANG))
		usleep(10000);
	t_ok(rep->bits == (0x100 | 1 | 2),
	     "dofork: the child has the mapping with the data (bits 0x%x)",
	     rep->bits);
	t_ok(rep->pfn && rep->pfn == pfn, "dofork: the child maps the same "
	     "pages (PFN 0x%" PRIx64 ")", (uint64_t)rep->pfn);
	t_ok(p[8192] == 0x5a, "dofork: the child's write shows in the "
	     "parent (shared)");
	t_ok(rep->vmlck_kb >= 0 && rep->vmlck_kb < kb,
	     "dofork: the child's VmLck (%lld kB) does not count the buffer",
	     rep->vmlck_kb);

	t_ok(!kt_buf_release(&b), "dofork: the parent frees and unmaps");
	held("dofork: the child's mapping holds it", base, len);
	t_ok(vmlck() == lck0 + kb, "dofork: still charged to the parent "
	     "(VmLck %+lld kB)", vmlck() - lck0);
	close(fds[1]);
	waitpid(pid, &status, 0);
	t_ok(WIFEXITED(status) && !WEXITSTATUS(status),
	     "dofork: the child exited (status 0x%x)", status);
	t_ok(vmlck() == lck0, "dofork: uncharged (VmLck %+lld kB)",
	     vmlck() - lck0);
	returned("dofork: after the child's exit", base, 10);
	pages_free("dofork: after the child's exit", pfn, len);
	munmap(rep, 4096);
}

/* ---- context close ------------------------------------------------------ */

static void test_context(void)
{
	long long kb = ORDER_REGION / 1024;
	struct ibv_context *c2;
	struct held_buf h;
	struct ibv_pd *pd2;
	struct kt_buf b;
	long long base, lck0;

	c2 = ibv_open_device(ctx->device);
	pd2 = c2 ? ibv_alloc_pd(c2) : NULL;
	if (!t_ok(pd2 != NULL, "context: a second context and PD"))
		return;
	if (!t_ok(!held_buf_new(&h, c2, pd2, ORDER_REGION, 0x7a),
		  "context: 64 MiB buffer with an MR over it in it")) {
		ibv_close_device(c2);
		return;
	}
	/* The kernel destroys the object, the MR and the PD. */
	t_errno_is(ibv_close_device(c2), 0,
		   "context: ibv_close_device() with all of them alive");
	h.b.object = false;
	h.mr = NULL;
	t_ok(vmlck() == h.lck0 + kb && vmpin() == h.pin0 &&
		     check_ends(h.b.addr, h.b.length, h.seed),
	     "context: the MR is gone (VmPin %+lld kB), the fd and mapping "
	     "keep the buffer charged (VmLck %+lld kB) with its data",
	     vmpin() - h.pin0, vmlck() - h.lck0);
	held("context: fd and mapping hold it", h.free0, ORDER_REGION);
	t_errno_is(kt_buf_drop_fd(&h.b), 0, "context: close the fd");
	held("context: the mapping holds it", h.free0, ORDER_REGION);
	t_errno_is(kt_buf_drop_map(&h.b), 0, "context: munmap");
	t_ok(vmlck() == h.lck0, "context: uncharged (VmLck %+lld kB)",
	     vmlck() - h.lck0);
	returned("context: after close and munmap", h.free0, 10);
	pages_free("context: after close and munmap", h.pfn, ORDER_REGION);

	/* The object alone. */
	c2 = ibv_open_device(ctx->device);
	if (!t_ok(c2 != NULL, "context: a third context"))
		return;
	base = t_free_mem_kb();
	lck0 = vmlck();
	if (!t_errno_is(kt_raw_alloc(c2, ORDER_REGION, -1, 0, &b), 0,
			"context: 64 MiB object, fd closed, never mapped")) {
		ibv_close_device(c2);
		return;
	}
	kt_buf_drop_fd(&b);
	held("context: the object holds it", base, ORDER_REGION);
	t_errno_is(ibv_close_device(c2), 0, "context: ibv_close_device()");
	t_ok(vmlck() == lck0, "context: uncharged with its context "
	     "(VmLck %+lld kB)", vmlck() - lck0);
	returned("context: after the context's close", base, 10);
}

/* ---- child processes ---------------------------------------------------- */

enum child_mode { CHILD_EXIT, CHILD_TRAFFIC, CHILD_KILL_ALLOC };

struct shared {
	volatile int state;	/* 1: about to allocate, 2: allocated */
	volatile int err;
	volatile uint64_t ops;
	volatile uint64_t pfn;	/* first frame of the child's region */
};

static struct shared *sh;

/* Never returns; reports through *sh and its exit status. */
static void child(enum child_mode mode, uint64_t len, int rfd)
{
	struct ibv_context *c;
	struct ibv_pd *cpd;
	struct ibv_mr *mr;
	struct kt_buf b;
	struct t_loop l;
	char x;

	c = t_open_device(getenv("CMR_RXE"));
	cpd = ibv_alloc_pd(c);
	if (!cpd)
		_exit(3);
	if (mode == CHILD_TRAFFIC && t_loop_create(&l, cpd))
		_exit(4);
	sh->state = 1;
	if (mode == CHILD_EXIT) {
		/* Object, fd, mapping and an MR: all four holders. */
		sh->err = kt_buf_new(c, len, &b);
		mr = sh->err ? NULL :
			       ibv_reg_mr(cpd, b.addr, len, KT_ACCESS_ALL);
		if (!sh->err && !mr)
			sh->err = errno;
	} else {
		mr = ibv_alloc_contig_mr(cpd, len, KT_ACCESS_ALL);
		if (!mr)
			sh->err = errno;
	}
	if (!mr) {
		sh->state = -1;
		_exit(2);
	}
	t_pagemap_pfn(mr->addr, (uint64_t *)&sh->pfn);
	sh->state = 2;
	switch (mode) {
	case CHILD_EXIT:
		/* Wait for the parent to close the pipe, exit without free. */
		while (read(rfd, &x, 1) > 0)
			;
		_exit(0);
	case CHILD_TRAFFIC:
		for (;;) {
			uint8_t *p = mr->addr;
			uint64_t a = (sh->ops * 7 % 64) * 2 * KT_MIB + 4096 - 3;
			uint64_t b = (sh->ops * 13 % 64 + 64) * 2 * KT_MIB - 4096;

			if (t_loop_rdma(&l, sh->ops & 1 ? IBV_WR_RDMA_READ :
							  IBV_WR_RDMA_WRITE,
					p + a, mr->lkey, (uintptr_t)(p + b),
					mr->rkey, TRAFFIC_OP, 30000))
				_exit(5);
			sh->ops++;
		}
	case CHILD_KILL_ALLOC:
		/* Too late: the allocation finished before the signal. */
		for (;;)
			pause();
	}
	_exit(6);
}

static bool wait_state(pid_t pid, int want, double timeout_s)
{
	double end = t_now() + timeout_s;
	int status;

	while (sh->state != want && sh->state >= 0 && t_now() < end) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			t_diag("child exited early, status 0x%x", status);
			return false;
		}
		usleep(10000);
	}
	if (sh->state != want)
		t_diag("child state %d (errno %s)", sh->state,
		       sh->err ? strerrorname_np(sh->err) : "-");
	return sh->state == want;
}

static pid_t spawn(enum child_mode mode, uint64_t len, int *wfd)
{
	int fds[2];
	pid_t pid;

	memset((void *)sh, 0, sizeof(*sh));
	if (pipe(fds))
		t_bail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		t_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[1]);
		child(mode, len, fds[0]);
	}
	close(fds[0]);
	*wfd = fds[1];
	return pid;
}

static void test_exit(void)
{
	long long base = t_free_mem_kb(), lck;
	int wfd, status;
	pid_t pid;

	pid = spawn(CHILD_EXIT, REGION, &wfd);
	if (!t_ok(wait_state(pid, 2, 120), "exit: the child allocated, "
		  "mapped and registered 128 MiB")) {
		close(wfd);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return;
	}
	held("exit: child alive", base, REGION);
	lck = t_status_kb(pid, "VmLck");
	t_ok(lck >= (long long)(REGION / 1024),
	     "exit: charged to the child (its VmLck %lld kB)", lck);
	close(wfd);
	waitpid(pid, &status, 0);
	t_ok(WIFEXITED(status) && !WEXITSTATUS(status),
	     "exit: the child exited without releasing anything (status "
	     "0x%x)", status);
	returned("exit: after the child's exit", base, 20);
	pages_free("exit: after the child's exit", sh->pfn, REGION);
}

static void test_kill_traffic(void)
{
	long long base = t_free_mem_kb();
	uint64_t ops0, ops1;
	int wfd, status;
	pid_t pid;

	pid = spawn(CHILD_TRAFFIC, TRAFFIC_REGION, &wfd);
	if (!t_ok(wait_state(pid, 2, 180), "kill: the child allocated 256 MiB")) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(wfd);
		return;
	}
	held("kill: child alive", base, TRAFFIC_REGION);
	while (sh->ops < 2 && !waitpid(pid, &status, WNOHANG))
		usleep(10000);
	ops0 = sh->ops;
	sleep(2);
	ops1 = sh->ops;
	t_ok(ops1 > ops0, "kill: the child is moving data (%" PRIu64
	     " x 256 KiB RDMA READ/WRITE within the region so far, %" PRIu64
	     " in the last 2 s)", ops1, ops1 - ops0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(wfd);
	t_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	     "kill: SIGKILL during traffic (status 0x%x)", status);
	returned("kill: after SIGKILL during traffic", base, 30);
	pages_free("kill: after SIGKILL during traffic", sh->pfn,
		   TRAFFIC_REGION);
}

/* System time of a task in clock ticks (/proc/PID/stat field 15), or -1. */
static long long stime_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	long long v = -1;
	int field;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f)) {
		/* Fields after the command name, which ends with ')'. */
		p = strrchr(buf, ')');
		for (field = 2; p && field < 15; field++)
			p = strchr(p + 1, ' ');
		if (p)
			v = strtoll(p + 1, NULL, 10);
	}
	fclose(f);
	return v;
}

/*
 * One child killed at_s seconds into its ibv_alloc_contig_mr() (which it
 * enters right after setting state 1). Returns true when the signal
 * arrived before the call returned.
 */
static bool kill_alloc_once(double at_s)
{
	int wfd, status;
	double t0;
	pid_t pid;

	pid = spawn(CHILD_KILL_ALLOC, KILL_ALLOC_REGION, &wfd);
	if (!wait_state(pid, 1, 60)) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		close(wfd);
		return false;
	}
	t0 = t_now();
	while (t_now() - t0 < at_s && sh->state == 1)
		usleep(1000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(wfd);
	/* state is still 1 if the call never returned to the child. */
	return sh->state == 1 && WIFSIGNALED(status) &&
	       WTERMSIG(status) == SIGKILL;
}

static void test_kill_alloc(void)
{
	static const double frac[] = { 0.05, 0.3, 0.6, 0.9 };
	long long base = t_free_mem_kb(), st0, st1;
	struct ibv_mr *mr;
	double t0, t;
	unsigned int i, inside = 0;

	/*
	 * How long the allocation takes here, uninterrupted: the second of
	 * two, as the first may have had to migrate pages out of the way.
	 */
	mr = ibv_alloc_contig_mr(pd, KILL_ALLOC_REGION, KT_ACCESS_ALL);
	if (mr)
		ibv_free_contig_mr(mr);
	t0 = t_now();
	st0 = stime_ticks(getpid());
	mr = ibv_alloc_contig_mr(pd, KILL_ALLOC_REGION, KT_ACCESS_ALL);
	t = t_now() - t0;
	st1 = stime_ticks(getpid());
	if (!t_ok(mr != NULL, "kill-alloc: 512 MiB uninterrupted takes "
		  "%.2f s (%lld ticks of system time)", t, st1 - st0))
		return;
	ibv_free_contig_mr(mr);

	for (i = 0; i < sizeof(frac) / sizeof(frac[0]); i++) {
		bool in = kill_alloc_once(frac[i] * t);

		inside += in;
		t_diag("kill-alloc: SIGKILL %.2f s into the call: %s",
		       frac[i] * t, in ? "before it returned" :
					 "it had returned already");
		returned("kill-alloc: after the SIGKILL", base, 30);
	}
	t_ok(inside > 0, "kill-alloc: %u of %zu children were killed inside "
	     "ibv_alloc_contig_mr() of 512 MiB", inside,
	     sizeof(frac) / sizeof(frac[0]));
}

int main(void)
{
	long long start;

	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		t_bail("mmap: %s", strerror(errno));

	t_dev_setup(getenv("CMR_RXE"), &ctx, &pd, &loop);
	if (kt_raw_init(ctx))
		t_bail("uverbs driver id");
	tol_kb = t_free_mem_tolerance_kb(4096);
	start = t_free_mem_kb();
	t_diag("MemTotal %lld kB, free %lld kB, tolerance %lld kB, VmLck "
	       "%lld kB, VmPin %lld kB", t_meminfo_kb("MemTotal"), start,
	       tol_kb, vmlck(), vmpin());
	meminfo_diag("start");

	test_free();
	test_orders();
	test_dead_rkey();
	test_split();
	test_dontneed();
	test_fork();
	test_dofork();
	test_context();
	test_exit();
	test_kill_traffic();
	test_kill_alloc();

	t_dev_teardown(ctx, pd, &loop);
	meminfo_diag("end");
	returned("overall: at the end", start, 10);
	return t_done();
}
