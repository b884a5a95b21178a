// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_lifetime: the memory of a contiguous MR goes back to the page
 * allocator exactly when both the MR and its mapping are gone, whatever
 * ends them; the MR works while it exists; fork() does not hand it on.
 *
 *  free        ibv_free_contig_mr() returns free memory to its baseline
 *  exit        a child allocates and exits without freeing
 *  kill        a child posting RDMA READ/WRITE of 256 KiB in a loop within
 *              a 256 MiB region is SIGKILLed
 *  kill-alloc  children are SIGKILLed inside the ALLOC_CONTIG_MR ioctl
 *              at 5, 30, 60 and 90 % of the time an uninterrupted
 *              allocation of 512 MiB takes (searching, zeroing, mapping,
 *              pinning)
 *  unmap-first munmap, then MR_DESTROY (raw): the MR keeps the memory,
 *              and still answers RDMA, until it is destroyed
 *  destroy-first  MR_DESTROY, then munmap: the mapping keeps the memory
 *              and its contents until it is unmapped; the old rkey is dead
 *  split       munmap of 16 MiB in the middle: the MR keeps the hole's
 *              pages (RDMA READ returns their data), the pieces keep the
 *              rest; all of it returns after MR_DESTROY and munmap
 *  fork        the child of fork() does not have the mapping
 *              (VM_DONTCOPY); after it exits, the parent's MR and data are
 *              intact and RDMA through it works
 *  dontneed    MADV_DONTNEED zaps the PTEs; the next touch maps the same
 *              pages again with their contents; the MR is unaffected
 *
 * Free memory is t_free_mem_kb(): MemFree plus the pages on the per-CPU
 * free lists (freed pages land there first and are not counted in MemFree)
 * plus the page cache, which the allocation may reclaim, plus this
 * process's own anonymous memory (its heap grows as it runs). Tolerance:
 * the free and file page counters have per-CPU deltas, each bounded by
 * the zone stat thresholds (zoneinfo, summed over zones and CPUs), plus
 * 4 MiB for what the kernel allocates meanwhile (slab, page tables, the
 * children's contexts). Regions are 128 MiB or more, so a region that was
 * not returned cannot hide in the tolerance. Page by page, too: after the
 * release every frame of the region must have page count 0
 * (/proc/kpagecount) unless the kernel has since reused it for something
 * /proc/kpageflags names (LRU, slab, page table, mapped by a process...),
 * so that not even one leaked page goes unnoticed.
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

/* ---- in-process --------------------------------------------------------- */

static void test_free(void)
{
	long long base = t_free_mem_kb(), drop;
	struct ibv_mr *mr;
	uint64_t pfn = 0;

	mr = ibv_alloc_contig_mr(pd, REGION, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "free: allocate 128 MiB")) {
		t_diag("%s", strerrorname_np(errno));
		return;
	}
	t_pagemap_pfn(mr->addr, &pfn);
	drop = base - t_free_mem_kb();
	held("free: allocated", base, REGION);
	t_ok(drop <= (long long)(REGION / 1024) + tol_kb,
	     "free: no more than the region taken (%lld kB)", drop);
	t_errno_is(ibv_free_contig_mr(mr), 0, "free: ibv_free_contig_mr");
	returned("free: after ibv_free_contig_mr", base, 10);
	pages_free("free: after ibv_free_contig_mr", pfn, REGION);
}

static int read_ends(struct kt_raw_mr *mr, uint64_t seed)
{
	struct t_buf b;
	uint64_t tail = mr->length - 4096;
	int ret = -1;

	if (t_buf_alloc(&b, pd, 4096, IBV_ACCESS_LOCAL_WRITE))
		return -1;
	if (t_loop_rdma(&loop, IBV_WR_RDMA_READ, b.addr, b.mr->lkey, mr->addr,
			mr->rkey, 4096, 20000) ||
	    t_check(b.addr, 4096, seed, 0) >= 0)
		goto out;
	if (t_loop_rdma(&loop, IBV_WR_RDMA_READ, b.addr, b.mr->lkey,
			mr->addr + tail, mr->rkey, 4096, 20000) ||
	    t_check(b.addr, 4096, seed, tail) >= 0)
		goto out;
	ret = 0;
out:
	t_buf_free(&b);
	return ret;
}

static void fill_ends(struct kt_raw_mr *mr, uint64_t seed)
{
	uint8_t *p = (uint8_t *)(uintptr_t)mr->addr;

	t_fill(p, 4096, seed, 0);
	t_fill(p + mr->length - 4096, 4096, seed, mr->length - 4096);
}

static void test_unmap_first(void)
{
	long long base = t_free_mem_kb();
	struct kt_raw_mr mr;
	uint64_t pfn = 0;
	int ret;

	ret = kt_raw_alloc(ctx, pd->handle, REGION, KT_ACCESS_ALL, -1, 0, &mr);
	if (!t_errno_is(ret, 0, "unmap-first: raw ALLOC_CONTIG_MR of 128 MiB"))
		return;
	t_pagemap_pfn((void *)(uintptr_t)mr.addr, &pfn);
	fill_ends(&mr, 0x71);
	held("unmap-first: allocated", base, REGION);
	t_errno_is(munmap((void *)(uintptr_t)mr.addr, mr.length) ? errno : 0, 0,
		   "unmap-first: munmap");
	t_ok(!t_is_mapped((void *)(uintptr_t)mr.addr, 4096),
	     "unmap-first: the mapping is gone");
	usleep(200000);
	held("unmap-first: unmapped, MR alive: the MR still holds it", base,
	     REGION);
	t_ok(!read_ends(&mr, 0x71),
	     "unmap-first: RDMA READ of the first and last 4 KiB of the "
	     "unmapped region returns what was written before munmap");
	t_errno_is(kt_raw_destroy(ctx, mr.handle), 0,
		   "unmap-first: MR_DESTROY");
	returned("unmap-first: after MR_DESTROY", base, 10);
	pages_free("unmap-first: after MR_DESTROY", pfn, REGION);
}

static void test_destroy_first(void)
{
	long long base = t_free_mem_kb();
	struct kt_raw_mr mr;
	uint64_t pfn = 0;
	struct t_buf b;
	uint8_t *p, want;
	int ret;

	ret = kt_raw_alloc(ctx, pd->handle, REGION, KT_ACCESS_ALL, -1, 0, &mr);
	if (!t_errno_is(ret, 0,
			"destroy-first: raw ALLOC_CONTIG_MR of 128 MiB"))
		return;
	p = (uint8_t *)(uintptr_t)mr.addr;
	t_pagemap_pfn(p, &pfn);
	fill_ends(&mr, 0x72);
	t_errno_is(kt_raw_destroy(ctx, mr.handle), 0,
		   "destroy-first: MR_DESTROY");
	usleep(200000);
	held("destroy-first: MR gone, mapping alive: the mapping holds it",
	     base, REGION);
	t_ok(t_check(p, 4096, 0x72, 0) < 0 &&
		     t_check(p + mr.length - 4096, 4096, 0x72,
			     mr.length - 4096) < 0,
	     "destroy-first: the mapping still shows the data");
	want = t_pattern_byte(0x72, 0) ^ 0xff;
	p[0] = want;
	t_ok(p[0] == want,
	     "destroy-first: and is still writable");

	/* The old rkey must be dead: the READ fails, the QP goes to error. */
	if (!t_buf_alloc(&b, pd, 4096, IBV_ACCESS_LOCAL_WRITE)) {
		ret = t_loop_rdma(&loop, IBV_WR_RDMA_READ, b.addr, b.mr->lkey,
				  mr.addr, mr.rkey, 4096, 20000);
		t_ok(ret != 0, "destroy-first: RDMA READ with the destroyed "
		     "MR's rkey fails");
		t_buf_free(&b);
		t_loop_destroy(&loop);
		if (t_loop_create(&loop, pd))
			t_bail("recreating the loopback QP pair");
	}

	t_errno_is(munmap(p, mr.length) ? errno : 0, 0,
		   "destroy-first: munmap");
	returned("destroy-first: after munmap", base, 10);
	pages_free("destroy-first: after munmap", pfn, REGION);
}

/*
 * munmap() of the middle of the mapping splits it in two; the MR keeps the
 * pages of the hole, the rest stays mapped, and everything goes back once
 * the MR is destroyed and both pieces are unmapped.
 */
static void test_split(void)
{
	long long base = t_free_mem_kb();
	uint64_t hole = 32 * KT_MIB, hole_len = 16 * KT_MIB;
	struct kt_raw_mr mr;
	uint64_t pfn = 0;
	struct t_buf b;
	uint8_t *p;
	bool ok = false;
	int ret;

	ret = kt_raw_alloc(ctx, pd->handle, REGION, KT_ACCESS_ALL, -1, 0, &mr);
	if (!t_errno_is(ret, 0, "split: raw ALLOC_CONTIG_MR of 128 MiB"))
		return;
	p = (uint8_t *)(uintptr_t)mr.addr;
	t_pagemap_pfn(p, &pfn);
	t_fill(p + hole - 4096, hole_len + 8192, 0x78, hole - 4096);
	t_errno_is(munmap(p + hole, hole_len) ? errno : 0, 0,
		   "split: munmap of 16 MiB in the middle");
	t_ok(t_is_mapped(p, hole) && !t_is_mapped(p + hole, 4096) &&
		     t_is_mapped(p + hole + hole_len,
				 mr.length - hole - hole_len),
	     "split: two mappings left around the hole");
	t_ok(t_check(p + hole - 4096, 4096, 0x78, hole - 4096) < 0 &&
		     t_check(p + hole + hole_len, 4096, 0x78,
			     hole + hole_len) < 0,
	     "split: both pieces keep their data next to the hole");
	if (!t_buf_alloc(&b, pd, hole_len, IBV_ACCESS_LOCAL_WRITE)) {
		ok = !t_loop_rdma(&loop, IBV_WR_RDMA_READ, b.addr, b.mr->lkey,
				  mr.addr + hole, mr.rkey, hole_len, 30000) &&
		     t_check(b.addr, hole_len, 0x78, hole) < 0;
		t_buf_free(&b);
	}
	t_ok(ok, "split: RDMA READ of the hole returns its data (pinned)");
	held("split: hole unmapped", base, REGION);
	t_errno_is(kt_raw_destroy(ctx, mr.handle), 0, "split: MR_DESTROY");
	/* The file holds the whole buffer until its last VMA is gone. */
	held("split: MR destroyed, two pieces mapped: the whole buffer held",
	     base, REGION);
	t_errno_is(munmap(p, mr.length) ? errno : 0, 0,
		   "split: munmap of the whole range");
	returned("split: after both", base, 10);
	pages_free("split: after both", pfn, REGION);
}

static void test_fork(void)
{
	const uint64_t len = 4 * KT_MIB;
	uint64_t pfn0 = 0, pfn1 = 0, pfn0b = 0, pfn1b = 0;
	struct ibv_mr *mr;
	uint8_t *p, v;
	int status;
	pid_t pid;

	mr = ibv_alloc_contig_mr(pd, len, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "fork: allocate 4 MiB"))
		return;
	p = mr->addr;
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
		ibv_free_contig_mr(mr);
		return;
	}
	t_ok(WIFEXITED(status) && WEXITSTATUS(status) == 7,
	     "fork: the child has no mapping at the MR's address, reading "
	     "its first and last byte faults (VM_DONTCOPY) (status 0x%x)",
	     status);
	t_pagemap_pfn(p, &pfn0b);
	t_pagemap_pfn(p + len - 4096, &pfn1b);
	t_ok(pfn0 && pfn0 == pfn0b && pfn1 == pfn1b,
	     "fork: after the child exited the parent's pages are the same "
	     "(PFN 0x%" PRIx64 "..0x%" PRIx64 ")", pfn0b, pfn1b);
	t_ok(t_check(p, len, 0x73, 0) < 0,
	     "fork: the parent's data is intact (4 MiB checked)");
	t_ok(!t_loop_verify(&loop, mr, 0, len, 0x74, 30000),
	     "fork: RDMA READ and WRITE of the whole 4 MiB in the parent");
	t_errno_is(ibv_free_contig_mr(mr), 0, "fork: free");
}

static void test_dontneed(void)
{
	const uint64_t len = 4 * KT_MIB;
	uint64_t pfn_before = 0, pfn_after = 0, zapped;
	long long contig;
	struct ibv_mr *mr;
	uint8_t *p;

	mr = ibv_alloc_contig_mr(pd, len, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "dontneed: allocate 4 MiB"))
		return;
	p = mr->addr;
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
	t_ok(!t_loop_verify(&loop, mr, 0, 65536, 0x76, 30000) &&
		     !t_loop_verify(&loop, mr, len - 65536, 65536, 0x77, 30000),
	     "dontneed: RDMA READ and WRITE at both ends still work");
	t_errno_is(ibv_free_contig_mr(mr), 0, "dontneed: free");
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
	struct t_loop l;
	char x;

	c = t_open_device(getenv("CMR_RXE"));
	cpd = ibv_alloc_pd(c);
	if (!cpd)
		_exit(3);
	if (mode == CHILD_TRAFFIC && t_loop_create(&l, cpd))
		_exit(4);
	sh->state = 1;
	mr = ibv_alloc_contig_mr(cpd, len, KT_ACCESS_ALL);
	if (!mr) {
		sh->err = errno;
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
	long long base = t_free_mem_kb();
	int wfd, status;
	pid_t pid;

	pid = spawn(CHILD_EXIT, REGION, &wfd);
	if (!t_ok(wait_state(pid, 2, 120), "exit: the child allocated 128 MiB")) {
		close(wfd);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		return;
	}
	held("exit: child alive", base, REGION);
	close(wfd);
	waitpid(pid, &status, 0);
	t_ok(WIFEXITED(status) && !WEXITSTATUS(status),
	     "exit: the child exited without freeing (status 0x%x)", status);
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
 * One child killed at_s seconds into its ALLOC_CONTIG_MR ioctl (which it
 * enters right after setting state 1). Returns true when the signal
 * arrived before the ioctl returned.
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
	/* state is still 1 if the ioctl never returned to the child. */
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
		t_diag("kill-alloc: SIGKILL %.2f s into the ioctl: %s",
		       frac[i] * t, in ? "before it returned" :
					 "it had returned already");
		returned("kill-alloc: after the SIGKILL", base, 30);
	}
	t_ok(inside > 0, "kill-alloc: %u of %zu children were killed inside "
	     "ALLOC_CONTIG_MR of 512 MiB", inside,
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

	ctx = t_open_device(getenv("CMR_RXE"));
	pd = ibv_alloc_pd(ctx);
	if (!pd || t_loop_create(&loop, pd))
		t_bail("PD and loopback QP pair");
	if (kt_raw_init(ctx))
		t_bail("uverbs driver id");
	tol_kb = t_free_mem_tolerance_kb(4096);
	start = t_free_mem_kb();
	t_diag("MemTotal %lld kB, free %lld kB, tolerance %lld kB",
	       t_meminfo_kb("MemTotal"), start, tol_kb);
	meminfo_diag("start");

	test_free();
	test_exit();
	test_kill_traffic();
	test_kill_alloc();
	test_unmap_first();
	test_destroy_first();
	test_split();
	test_fork();
	test_dontneed();

	t_loop_destroy(&loop);
	t_errno_is(ibv_dealloc_pd(pd), 0, "dealloc the PD: no MR left");
	ibv_close_device(ctx);
	meminfo_diag("end");
	returned("overall: at the end", start, 10);
	return t_done();
}
