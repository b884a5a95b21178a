// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_errors: UVERBS_METHOD_ALLOC_CONTIG_MR refuses bad input with the
 * documented errno, quickly, and leaves the system healthy. Input the
 * library would refuse before the kernel sees it goes through the raw
 * ioctl encoder (kt_raw_alloc()).
 *
 *  - a PD handle that does not exist, and one of a PD already freed:
 *    ENOENT (the uverbs object lookup);
 *  - length 0: EINVAL; length ~0 and 2^64 - 4095 (overflow when rounded
 *    up to a page): EINVAL; 2^64 - 4096: ENOMEM; through the library too;
 *  - unknown bits in the flags attribute: EINVAL;
 *  - access flags: an unknown bit, ON_DEMAND, ZERO_BASED, REMOTE_WRITE or
 *    REMOTE_ATOMIC without LOCAL_WRITE: EINVAL;
 *  - a NUMA node that does not exist: EINVAL;
 *  - more than the guest's RAM: ENOMEM at once (length check); 7/8 of
 *    MemTotal, which passes that check and goes to alloc_contig_pages():
 *    ENOMEM, timed (no zone of the guest is that large, so it is quick);
 *    afterwards a 2 MiB allocation works and carries RDMA;
 *  - RLIMIT_MEMLOCK: as user 65534 (no CAP_IPC_LOCK) with a 1 MiB limit,
 *    4 MiB fails with ENOMEM (or EPERM, as ib_umem_get() could); 512 KiB
 *    works; a second 768 KiB on top of it fails (the pinned pages are
 *    charged), and works once the first is freed (uncharged); as root with
 *    the same limit, CAP_IPC_LOCK lifts it;
 *  - failures after the memory was allocated leave nothing behind (no MR,
 *    no [contig_mr] mapping, the memory back): an output the kernel cannot
 *    write, the first and the last one it writes (both after the MR was
 *    committed to its uobject): EFAULT; RLIMIT_AS too small for the
 *    mapping (after allocation and zeroing): ENOMEM;
 *  - mremap() cannot grow the mapping (VM_DONTEXPAND), in place or by
 *    moving; the mapping and the MR are intact afterwards.
 *
 * Not here: EOPNOTSUPP on a kernel without the series (tests/vm, library).
 *
 *   kernel_errors           (SETUP loop)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "contig_mr.h"
#include "kt.h"
#include "uverbs_cmd.h"

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct t_loop loop;

/* Raw allocation expected to fail; undoes an unexpected success. */
static int raw_try(uint32_t pd_handle, uint64_t len, uint32_t access,
		   int32_t node, uint32_t flags, double *secs)
{
	struct kt_raw_mr mr;
	double t0 = t_now();
	int ret;

	ret = kt_raw_alloc(ctx, pd_handle, len, access, node, flags, &mr);
	if (secs)
		*secs = t_now() - t0;
	if (!ret)
		kt_raw_free(ctx, &mr);
	return ret;
}

static int lib_try(uint64_t len, unsigned int access)
{
	struct ibv_mr *mr = ibv_alloc_contig_mr(pd, len, access);

	if (mr) {
		ibv_free_contig_mr(mr);
		return 0;
	}
	return errno;
}

static void test_handles(void)
{
	struct ibv_pd *gone;
	uint32_t handle;

	t_errno_is(raw_try(pd->handle, 4096, 0, -1, 0, NULL), 0,
		   "raw: a well-formed command works (control)");
	t_errno_is(raw_try(0x7fffff00, 4096, 0, -1, 0, NULL), ENOENT,
		   "raw: PD handle that does not exist");
	gone = ibv_alloc_pd(ctx);
	if (!gone) {
		t_skip("raw: freed PD handle: ibv_alloc_pd failed");
		return;
	}
	handle = gone->handle;
	ibv_dealloc_pd(gone);
	t_errno_is(raw_try(handle, 4096, 0, -1, 0, NULL), ENOENT,
		   "raw: handle %u of a PD already freed", handle);
}

static void test_lengths(void)
{
	t_errno_is(raw_try(pd->handle, 0, 0, -1, 0, NULL), EINVAL,
		   "raw: length 0");
	t_errno_is(lib_try(0, 0), EINVAL, "library: length 0");
	t_errno_is(raw_try(pd->handle, ~0ULL, 0, -1, 0, NULL), EINVAL,
		   "raw: length ~0 (overflows when rounded up to a page)");
	t_errno_is(raw_try(pd->handle, ~0ULL - 4094, 0, -1, 0, NULL), EINVAL,
		   "raw: length 2^64 - 4095 (overflows by one byte)");
	t_errno_is(raw_try(pd->handle, ~0ULL - 4095, 0, -1, 0, NULL), ENOMEM,
		   "raw: length 2^64 - 4096 (rounds without overflow, more "
		   "than the address space)");
	t_errno_is(lib_try(SIZE_MAX, 0), EINVAL, "library: length SIZE_MAX");
	t_errno_is(raw_try(pd->handle, 1, IBV_ACCESS_LOCAL_WRITE, -1, 0, NULL),
		   0, "raw: length 1 (rounded up to a page) works");
}

static void test_flags(void)
{
	static const struct {
		uint32_t access;
		const char *what;
	} bad_access[] = {
		{ 1u << 31, "an unknown access bit (1 << 31)" },
		{ IBV_ACCESS_ON_DEMAND, "IBV_ACCESS_ON_DEMAND" },
		{ IBV_ACCESS_ZERO_BASED, "IBV_ACCESS_ZERO_BASED" },
		{ IBV_ACCESS_REMOTE_WRITE, "REMOTE_WRITE without LOCAL_WRITE" },
		{ IBV_ACCESS_REMOTE_ATOMIC, "REMOTE_ATOMIC without LOCAL_WRITE" },
	};
	unsigned int i;

	t_errno_is(raw_try(pd->handle, 4096, 0, -1, 1u << 1, NULL), EINVAL,
		   "raw: unknown flag 1 << 1");
	t_errno_is(raw_try(pd->handle, 4096, 0, -1, 1u << 31, NULL), EINVAL,
		   "raw: unknown flag 1 << 31");
	t_errno_is(raw_try(pd->handle, 4096, 0, 0,
			   IB_UVERBS_ALLOC_CONTIG_MR_NODE_STRICT, NULL),
		   0, "raw: NODE_STRICT on node 0 works (control)");
	for (i = 0; i < sizeof(bad_access) / sizeof(bad_access[0]); i++)
		t_errno_is(raw_try(pd->handle, 4096, bad_access[i].access, -1,
				   0, NULL),
			   EINVAL, "raw: access %s", bad_access[i].what);
	t_errno_is(raw_try(pd->handle, 4096,
			   KT_ACCESS_ALL | IBV_ACCESS_REMOTE_ATOMIC |
				   IBV_ACCESS_RELAXED_ORDERING,
			   -1, 0, NULL),
		   0, "raw: every valid access flag with RELAXED_ORDERING "
		      "(optional) works (control)");
	t_errno_is(raw_try(pd->handle, 4096, 0, 64, 0, NULL), EINVAL,
		   "raw: NUMA node 64 (does not exist)");
	t_errno_is(raw_try(pd->handle, 4096, 0, 0x7fffffff, 0, NULL), EINVAL,
		   "raw: NUMA node 0x7fffffff");
}

static void test_too_big(void)
{
	long long total_kb = t_meminfo_kb("MemTotal");
	uint64_t total = (uint64_t)total_kb * 1024, big;
	struct ibv_mr *mr;
	double secs;
	int ret;

	ret = raw_try(pd->handle, 2 * total, 0, -1, 0, &secs);
	t_errno_is(ret, ENOMEM, "raw: twice the guest's RAM (%" PRIu64
		   " MiB) in %.3f s", 2 * total >> 20, secs);
	t_ok(secs < 1, "raw: ... refused at once (%.3f s)", secs);
	ret = raw_try(pd->handle, 1ULL << 47, 0, -1, 0, &secs);
	t_errno_is(ret, ENOMEM, "raw: 128 TiB (more than the address space)");

	/* Passes the length check; the allocator must search and give up. */
	big = total / 8 * 7 & ~(KT_MIB - 1);
	ret = raw_try(pd->handle, big, 0, -1, 0, &secs);
	t_errno_is(ret, ENOMEM, "raw: 7/8 of MemTotal (%" PRIu64 " MiB): "
		   "passes the RAM check, no free range that large in %.2f s",
		   big >> 20, secs);
	t_ok(secs < 30, "raw: ... and gives up without a long search");
	t_diag("free memory %lld kB after the failed search", t_free_mem_kb());

	mr = ibv_alloc_contig_mr(pd, 2 * KT_MIB, KT_ACCESS_ALL);
	t_ok(mr != NULL, "afterwards a 2 MiB allocation works");
	if (mr) {
		t_ok(!t_loop_verify(&loop, mr, 0, 2 * KT_MIB, 0x81, 30000),
		     "and carries RDMA READ and WRITE (2 MiB checked)");
		ibv_free_contig_mr(mr);
	}
}

/* Mappings of the anonymous file in /proc/self/maps. */
static int contig_mappings(void)
{
	char line[512];
	int n = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[contig_mr]"))
			n++;
	fclose(f);
	return n;
}

/*
 * Failures after the memory was allocated: an output the kernel cannot
 * write (the first one, RESP_LKEY, and the last one, RESP_ALIGNMENT; the
 * MR exists by then and must be destroyed again), and a mapping refused
 * by RLIMIT_AS. Each must leave no MR, no mapping, and give the 64 MiB
 * back.
 */
static void test_late_failures(void)
{
	static const uint16_t outs[] = {
		UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_LKEY,
		UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ALIGNMENT,
	};
	long long tol = t_free_mem_tolerance_kb(4096), base, now;
	struct cmr_alloc_in in = {
		.pd_handle = pd->handle, .length = 64 * KT_MIB,
		.access = KT_ACCESS_ALL, .numa_node = -1,
	};
	struct cmr_alloc_out out;
	struct cmr_ioctl_cmd cmd;
	uint32_t driver_id;
	unsigned int i, j;
	int ret, status;
	pid_t pid;

	if (cmr_driver_id(ctx, &driver_id)) {
		t_skip("late failures: no driver id");
		return;
	}
	for (i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
		base = t_free_mem_kb();
		cmr_encode_alloc_contig_mr(&cmd, driver_id, &in, &out);
		for (j = 0; j < cmd.hdr.num_attrs; j++)
			if (cmd.attrs[j].attr_id == outs[i])
				cmd.attrs[j].data = 8;	/* unmapped */
		ret = cmr_ioctl(ctx->cmd_fd, &cmd);
		t_errno_is(ret, EFAULT, "late: 64 MiB with %s pointing nowhere",
			   i ? "RESP_ALIGNMENT (written last)" :
			       "RESP_LKEY (written first)");
		now = t_free_mem_wait(base - tol, 10);
		t_ok(base - now <= tol && contig_mappings() == 0,
		     "late: nothing left behind: no [contig_mr] mapping, free "
		     "memory %+lld kB", now - base);
	}

	/* RLIMIT_AS: allocated and zeroed, then vm_mmap() refuses. */
	base = t_free_mem_kb();
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct rlimit rl;
		long long vm_kb = -1;
		char line[256];
		FILE *f = fopen("/proc/self/status", "re");

		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "VmSize: %lld", &vm_kb) == 1)
				break;
		if (f)
			fclose(f);
		if (vm_kb < 0)
			_exit(100);
		/* 16 MiB of room: the 64 MiB mapping cannot fit. */
		rl.rlim_cur = rl.rlim_max = (vm_kb + 16 * 1024) * 1024;
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(101);
		ret = kt_raw_alloc(ctx, pd->handle, 64 * KT_MIB, KT_ACCESS_ALL,
				   -1, 0, &(struct kt_raw_mr){ 0 });
		_exit(ret);
	}
	waitpid(pid, &status, 0);
	t_ok(WIFEXITED(status) && WEXITSTATUS(status) == ENOMEM,
	     "late: RLIMIT_AS leaves no room for the mapping: ENOMEM (child "
	     "status %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	now = t_free_mem_wait(base - tol, 10);
	t_ok(base - now <= tol, "late: the 64 MiB went back (free memory "
	     "%+lld kB)", now - base);
}

/*
 * In a child (the uid change cannot be undone). Exit status bits:
 * 1: 4 MiB over the limit refused, 2: 512 KiB allowed, 4: 768 KiB more
 * refused, 8: 768 KiB allowed after freeing the 512 KiB, 16: set-up failed.
 * Errors seen are printed as diagnostics.
 */
static int memlock_child(bool drop_root)
{
	struct rlimit rl = { KT_MIB, KT_MIB };
	struct ibv_context *c;
	struct ibv_mr *a, *b;
	struct ibv_pd *cpd;
	int bits = 0;

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return 16;
	if (drop_root && (setgid(65534) || setuid(65534)))
		return 16;
	c = t_open_device(getenv("CMR_RXE"));
	cpd = ibv_alloc_pd(c);
	if (!cpd)
		return 16;

	a = ibv_alloc_contig_mr(cpd, 4 * KT_MIB, IBV_ACCESS_LOCAL_WRITE);
	if (!a && (errno == ENOMEM || errno == EPERM))
		bits |= 1;
	printf("# %s, 1 MiB limit: 4 MiB -> %s\n",
	       drop_root ? "uid 65534" : "root", a ? "allocated" :
	       strerrorname_np(errno));
	if (a) {
		ibv_free_contig_mr(a);
		if (!drop_root)
			bits |= 1;	/* root: must work */
	}
	a = ibv_alloc_contig_mr(cpd, 512 * KT_KIB, IBV_ACCESS_LOCAL_WRITE);
	if (a)
		bits |= 2;
	b = ibv_alloc_contig_mr(cpd, 768 * KT_KIB, IBV_ACCESS_LOCAL_WRITE);
	printf("# %s: 512 KiB -> %s, then 768 KiB more -> %s\n",
	       drop_root ? "uid 65534" : "root", a ? "allocated" : "failed",
	       b ? "allocated" : strerrorname_np(errno));
	if (!b && (errno == ENOMEM || errno == EPERM))
		bits |= 4;
	if (b) {
		ibv_free_contig_mr(b);
		if (!drop_root)
			bits |= 4;
	}
	if (a)
		ibv_free_contig_mr(a);
	b = ibv_alloc_contig_mr(cpd, 768 * KT_KIB, IBV_ACCESS_LOCAL_WRITE);
	if (b) {
		bits |= 8;
		ibv_free_contig_mr(b);
	}
	ibv_dealloc_pd(cpd);
	ibv_close_device(c);
	fflush(stdout);
	return bits;
}

static int run_child(bool drop_root)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(memlock_child(drop_root));
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 16;
	return WEXITSTATUS(status);
}

static void test_memlock(void)
{
	int bits;

	if (geteuid() != 0) {
		t_skip("memlock: needs root to switch users");
		return;
	}
	bits = run_child(true);
	if (!t_ok(!(bits & 16), "memlock: child as uid 65534 with "
		  "RLIMIT_MEMLOCK 1 MiB set up"))
		return;
	t_ok(bits & 1, "memlock: uid 65534: 4 MiB over a 1 MiB limit refused "
	     "(ENOMEM or EPERM)");
	t_ok(bits & 2, "memlock: uid 65534: 512 KiB within the limit works");
	t_ok(bits & 4, "memlock: uid 65534: 768 KiB more while holding "
	     "512 KiB refused (pinned pages are charged)");
	t_ok(bits & 8, "memlock: uid 65534: 768 KiB works after freeing the "
	     "512 KiB (and uncharged)");

	bits = run_child(false);
	t_ok(bits == (1 | 2 | 4 | 8), "memlock: root (CAP_IPC_LOCK) with the "
	     "same 1 MiB limit: everything works (bits 0x%x)", bits);
}

static void test_mremap(void)
{
	const uint64_t len = 2 * KT_MIB;
	uint64_t pfn_before = 0, pfn_after = 0;
	struct ibv_mr *mr;
	void *p;

	mr = ibv_alloc_contig_mr(pd, len, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "mremap: allocate 2 MiB"))
		return;
	t_fill(mr->addr, len, 0x91, 0);
	t_pagemap_pfn(mr->addr, &pfn_before);

	p = mremap(mr->addr, len, 2 * len, 0);
	t_ok(p == MAP_FAILED, "mremap: growing in place fails (%s)",
	     p == MAP_FAILED ? strerrorname_np(errno) : "it grew");
	p = mremap(mr->addr, len, 2 * len, MREMAP_MAYMOVE);
	t_ok(p == MAP_FAILED, "mremap: growing with MREMAP_MAYMOVE fails (%s)",
	     p == MAP_FAILED ? strerrorname_np(errno) : "it grew");

	t_pagemap_pfn(mr->addr, &pfn_after);
	t_ok(t_is_mapped(mr->addr, len) && pfn_after == pfn_before &&
		     t_check(mr->addr, len, 0x91, 0) < 0,
	     "mremap: the mapping is intact (same pages, same data)");
	t_ok(!t_loop_verify(&loop, mr, 0, len, 0x92, 30000),
	     "mremap: the MR still carries RDMA READ and WRITE");
	t_errno_is(ibv_free_contig_mr(mr), 0, "mremap: free");
}

int main(void)
{
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	ctx = t_open_device(getenv("CMR_RXE"));
	pd = ibv_alloc_pd(ctx);
	if (!pd || t_loop_create(&loop, pd))
		t_bail("PD and loopback QP pair");
	if (kt_raw_init(ctx))
		t_bail("uverbs driver id");

	test_handles();
	test_lengths();
	test_flags();
	test_too_big();
	test_late_failures();
	test_memlock();
	test_mremap();

	t_loop_destroy(&loop);
	t_errno_is(ibv_dealloc_pd(pd), 0, "dealloc the PD: nothing leaked");
	ibv_close_device(ctx);
	return t_done();
}
