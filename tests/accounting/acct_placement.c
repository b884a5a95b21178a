// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * acct_placement: contiguous buffers are placed by the task's mempolicy
 * and cpuset, explicit nodes outside the allowed set are refused, and
 * NODE_STRICT keeps a buffer on its node. The guest half of the host test
 * tests/harness/guest_test.sh, which boots a guest with two NUMA nodes; on a guest
 * with one node it skips.
 *
 * The test runs on a CPU of node 0, so that only the policy can send
 * memory to node 1. Where a buffer's pages are: move_pages(2) with no
 * target nodes (each page's node), all 4096 pages of a 16 MiB buffer;
 * cross-checked with the node the kernel reports (RESP_NUMA_NODE, or the
 * library's query) and with the zone /proc/zoneinfo puts the first and
 * last PFN (pagemap) in. Ordinary anonymous memory under the same policy
 * is the control: it shows the policy and the two nodes work at all.
 *
 *  default    no node: the calling CPU's node (0; 1 when run on node 1)
 *  bind       MPOL_BIND {1}: no node -> 1; node 1 -> 1; node 0 -> EINVAL,
 *             with NODE_STRICT too
 *  preferred  MPOL_PREFERRED {1}: no node -> 1; node 0 -> 0 (allowed)
 *  strict     NODE_STRICT with node 1 -> 1, with node 0 from node 1's CPU
 *             -> 0; under PREFERRED {1} without a node -> 1
 *  bad nodes  2 (offline, >= nr_node_ids) and 1000 -> EINVAL
 *  cpuset     a child cgroup with cpuset.mems = 1: no node -> 1, node 1
 *             -> 1, node 0 -> EINVAL
 *  full node  node 1's 2 MiB hugetlb pool grown over all of node 1
 *             (alloc_contig_pages() never takes a range with a hugetlb
 *             page), buffers of 128 MiB, more than node 1 holds outside
 *             the pool (migration could free up to that much: 16 MiB
 *             were measured to succeed there): node 1 + NODE_STRICT ->
 *             ENOMEM, node 1 alone falls
 *             back -> 0, PREFERRED {1} falls back -> 0, PREFERRED {1} +
 *             NODE_STRICT -> ENOMEM, BIND {1} -> ENOMEM (the fallback stays
 *             inside the allowed set); the pool is put back afterwards
 *
 * Every case runs through the raw ioctl, the main ones through the
 * library as well.
 *
 *   acct_placement       (in a guest with two nodes: guest_test.sh)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <linux/mempolicy.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "acct.h"

#define LEN (16 * KT_MIB)
#define NPAGES (LEN / 4096)
#define NONE (-1)
#define STRICT true
#define NODE1_POOL "/sys/devices/system/node/node1/hugepages/" \
		   "hugepages-2048kB/nr_hugepages"
/* After the pool took node 1, less than this may be left free on it. */
/*
 * The full-node cases ask for more than node 1 holds outside its hugetlb
 * pool: with the pool over the rest, no range of that size without a
 * hugetlb page exists there, even after migrating every movable page to
 * node 0 (which alloc_contig_range() may do).
 */
#define FULL_LEN (128 * KT_MIB)

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static int cpu_of_node[2];
static long pool_orig = -1;

/* ---- nodes, policies, pages ---------------------------------------------- */

static long long node_meminfo_kb(int node, const char *field)
{
	char path[96], line[256], key[64];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo",
		 node);
	snprintf(key, sizeof(key), " %s:", field);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (v < 0 && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, key);

		if (p)
			v = strtoll(p + strlen(key), NULL, 10);
	}
	fclose(f);
	return v;
}

static int first_cpu(int node)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist",
		 node);
	return (int)t_read_number(path);
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		t_bail("sched_setaffinity(CPU %d): %s", cpu, strerror(errno));
}

/* set_mempolicy(2); nodes is a bit mask of node ids. */
static void policy(int mode, unsigned long nodes)
{
	unsigned long mask = nodes;
	bool def = mode == MPOL_DEFAULT;

	if (syscall(SYS_set_mempolicy, mode, def ? NULL : &mask,
		    def ? 0 : sizeof(mask) * 8 + 1))
		t_bail("set_mempolicy(%d, 0x%lx): %s", mode, nodes,
		       strerror(errno));
}

/* The node of a PFN: the zone of /proc/zoneinfo that spans it, or -1. */
static int pfn_node(uint64_t pfn)
{
	unsigned long long spanned = 0, start;
	int node = -1, cur = -1;
	char line[256], *p;
	FILE *f;

	f = fopen("/proc/zoneinfo", "re");
	if (!f)
		return -1;
	while (node < 0 && fgets(line, sizeof(line), f)) {
		for (p = line; *p == ' '; p++)
			;
		if (sscanf(p, "Node %d, zone", &cur) == 1)
			spanned = 0;
		else if (sscanf(p, "spanned %llu", &spanned) == 1)
			;
		else if (sscanf(p, "start_pfn: %llu", &start) == 1 &&
			 pfn >= start && pfn < start + spanned)
			node = cur;
	}
	fclose(f);
	return node;
}

/*
 * move_pages(2) without target nodes over the NPAGES pages at addr:
 * on[0], on[1] pages per node, *missing those it found on no node (or on
 * another), *err the first negative status.
 */
static void where(const void *addr, unsigned int on[2], unsigned int *missing,
		  int *err)
{
	static void *pages[NPAGES];
	static int status[NPAGES];
	unsigned int i;

	on[0] = on[1] = *missing = 0;
	*err = 0;
	for (i = 0; i < NPAGES; i++) {
		pages[i] = (char *)addr + (size_t)i * 4096;
		status[i] = -EINVAL;
	}
	if (syscall(SYS_move_pages, 0, NPAGES, pages, NULL, status, 0)) {
		*err = errno;
		*missing = NPAGES;
		return;
	}
	for (i = 0; i < NPAGES; i++) {
		if (status[i] == 0 || status[i] == 1) {
			on[status[i]]++;
		} else {
			if (!*missing && status[i] < 0)
				*err = -status[i];
			(*missing)++;
		}
	}
}

static bool all_on(const char *what, const void *addr, int want)
{
	unsigned int on[2], missing;
	int err;

	where(addr, on, &missing, &err);
	return t_ok(on[want] == NPAGES,
		    "%s: %u of %u pages on node %d (move_pages: node 0 %u, "
		    "node 1 %u, elsewhere %u%s%s)", what, on[want],
		    (unsigned int)NPAGES, want, on[0], on[1], missing,
		    err ? ", first " : "", err ? strerrorname_np(err) : "");
}

/* The first and last page's PFNs lie in a zone of node want. */
static void pfns_on(const char *what, const uint8_t *addr, int want)
{
	uint64_t first, last;

	if (t_pagemap_pfn(addr, &first) ||
	    t_pagemap_pfn(addr + LEN - 4096, &last)) {
		t_ok(false, "%s: PFNs from pagemap", what);
		return;
	}
	t_ok(pfn_node(first) == want && pfn_node(last) == want,
	     "%s: PFNs 0x%" PRIx64 "..0x%" PRIx64 " in zones of node %d "
	     "(zoneinfo: %d, %d)", what, first, last, want, pfn_node(first),
	     pfn_node(last));
}

/* Ordinary anonymous memory under the policy (mode < 0: as it is). */
static void control(const char *what, int mode, unsigned long nodes,
		    int want)
{
	char name[96];
	uint8_t *p;

	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		t_bail("mmap: %s", strerror(errno));
	madvise(p, LEN, MADV_NOHUGEPAGE);
	if (mode >= 0)
		policy(mode, nodes);
	memset(p, 1, LEN);
	if (mode >= 0)
		policy(MPOL_DEFAULT, 0);
	snprintf(name, sizeof(name), "%s: control, anonymous memory", what);
	all_on(name, p, want);
	munmap(p, LEN);
}

/* ---- the cases ----------------------------------------------------------- */

struct place {
	const char *what;
	int mode;		/* set_mempolicy() mode, or -1: leave it */
	unsigned long nodes;
	int node;		/* explicit node, or NONE */
	bool strict;
	int want;		/* node, or NONE when want_err */
	int want_err;
};

static const char *desc(const struct place *p, bool raw, char *buf,
			size_t size)
{
	char node[24] = "no node";

	if (p->node != NONE)
		snprintf(node, sizeof(node), "node %d", p->node);
	snprintf(buf, size, "%s, %s%s (%s)", p->what, node,
		 p->strict ? " + NODE_STRICT" : "",
		 raw ? "raw ioctl" : "library");
	return buf;
}

/* A buffer of len bytes; its placement is checked on its first LEN. */
static void check_len(const struct place *p, bool raw, uint64_t len)
{
	struct ibv_contig_mr_info info;
	struct ibv_contig_buf *buf = NULL;
	struct kt_buf b = { .fd = -1 };
	uint8_t *addr = NULL;
	char what[160];
	int err, node = -1;

	desc(p, raw, what, sizeof(what));
	if (p->mode >= 0)
		policy(p->mode, p->nodes);
	if (raw) {
		err = kt_raw_alloc(ctx, len, p->node, p->strict ?
				   IB_UVERBS_CONTIG_BUF_NODE_STRICT : 0, &b);
		if (!err) {
			node = (int)b.numa_node;
			addr = kt_buf_mmap(&b, 0, b.length, MAP_SHARED);
			if (addr == MAP_FAILED)
				err = errno;
			else
				b.addr = addr;
		}
	} else {
		err = acct_buf_alloc(pd, len, p->node,
				     p->strict ? IBV_CONTIG_MR_NODE_STRICT : 0,
				     &buf);
		if (!err) {
			addr = buf->addr;
			memset(&info, 0, sizeof(info));
			info.comp_mask = IBV_CONTIG_MR_INFO_NUMA_NODE;
			if (!ibv_query_contig_buf(buf, &info) &&
			    (info.comp_mask & IBV_CONTIG_MR_INFO_NUMA_NODE))
				node = info.numa_node;
		}
	}
	if (!err && addr)
		err = kt_populate(addr, len);
	if (p->mode >= 0)
		policy(MPOL_DEFAULT, 0);

	if (p->want_err) {
		if (!t_errno_is(err, p->want_err, "%s", what) && !err)
			t_diag("%s: got a buffer on node %d", what, node);
	} else if (t_errno_is(err, 0, "%s: allocated", what)) {
		all_on(what, addr, p->want);
		t_ok(node == p->want, "%s: the kernel reports node %d", what,
		     node);
		pfns_on(what, addr, p->want);
	}
	if (raw)
		kt_buf_release(&b);
	else if (buf)
		ibv_free_contig_buf(buf);
}

static void check(const struct place *p, bool raw)
{
	check_len(p, raw, LEN);
}

static void both(const struct place *p)
{
	check(p, true);
	check(p, false);
}

static void test_default(void)
{
	const struct place none = { "default policy on node 0's CPU",
				    MPOL_DEFAULT, 0, NONE, false, 0, 0 };
	const struct place cpu1 = { "default policy on node 1's CPU",
				    MPOL_DEFAULT, 0, NONE, false, 1, 0 };

	control("default policy on node 0's CPU", MPOL_DEFAULT, 0, 0);
	both(&none);
	pin(cpu_of_node[1]);
	check(&cpu1, true);
	pin(cpu_of_node[0]);
}

static void test_bind(void)
{
	const unsigned long n1 = 1ul << 1;
	const struct place cases[] = {
		{ "MPOL_BIND {1}", MPOL_BIND, n1, NONE, false, 1, 0 },
		{ "MPOL_BIND {1}", MPOL_BIND, n1, 1, false, 1, 0 },
		{ "MPOL_BIND {1}", MPOL_BIND, n1, 0, false, NONE, EINVAL },
		{ "MPOL_BIND {1}", MPOL_BIND, n1, 0, STRICT, NONE, EINVAL },
	};

	control("MPOL_BIND {1}", MPOL_BIND, n1, 1);
	both(&cases[0]);
	check(&cases[1], true);
	both(&cases[2]);
	check(&cases[3], true);
}

static void test_preferred(void)
{
	const unsigned long n1 = 1ul << 1;
	const struct place none = { "MPOL_PREFERRED {1}", MPOL_PREFERRED, n1,
				    NONE, false, 1, 0 };
	const struct place zero = { "MPOL_PREFERRED {1}", MPOL_PREFERRED, n1,
				    0, false, 0, 0 };

	control("MPOL_PREFERRED {1}", MPOL_PREFERRED, n1, 1);
	both(&none);
	check(&zero, true);
}

static void test_strict(void)
{
	const struct place one = { "default policy", MPOL_DEFAULT, 0, 1,
				   STRICT, 1, 0 };
	const struct place zero = { "default policy on node 1's CPU",
				    MPOL_DEFAULT, 0, 0, STRICT, 0, 0 };
	const struct place pref = { "MPOL_PREFERRED {1}", MPOL_PREFERRED,
				    1ul << 1, NONE, STRICT, 1, 0 };

	both(&one);
	pin(cpu_of_node[1]);
	check(&zero, true);
	pin(cpu_of_node[0]);
	check(&pref, true);
}

static void test_bad_nodes(void)
{
	const struct place two = { "offline node", MPOL_DEFAULT, 0, 2, false,
				   NONE, EINVAL };
	const struct place big = { "node beyond any", MPOL_DEFAULT, 0, 1000,
				   false, NONE, EINVAL };

	both(&two);
	check(&big, true);
}

static void test_cpuset(void)
{
	const struct place none = { "cpuset.mems 1", -1, 0, NONE, false, 1,
				    0 };
	const struct place one = { "cpuset.mems 1", -1, 0, 1, false, 1, 0 };
	const struct place zero = { "cpuset.mems 1", -1, 0, 0, false, NONE,
				    EINVAL };
	const struct place zero_strict = { "cpuset.mems 1", -1, 0, 0, STRICT,
					   NONE, EINVAL };
	char cg[256];

	/* A kernel or guest without cpusets fails here, it is not skipped. */
	if (!acct_cgroup_controller("cpuset"))
		return;
	if (!t_ok(!acct_cgroup_create("acct-placement", cg, sizeof(cg)),
		  "cpuset: a child cgroup"))
		return;
	if (t_ok(!acct_cgroup_write(cg, "cpuset.mems", "1") &&
		 !acct_cgroup_enter(cg, 0),
		 "cpuset: cpuset.mems = 1 in %s, the test moved in", cg)) {
		t_diag("cpuset.mems.effective: %lld",
		       acct_cgroup_number(cg, "cpuset.mems.effective"));
		control("cpuset.mems 1", -1, 0, 1);
		both(&none);
		check(&one, true);
		both(&zero);
		check(&zero_strict, true);
	}
	t_ok(!acct_cgroup_enter(ACCT_CGROUP_ROOT, 0),
	     "cpuset: the test moved back to the root group");
	t_errno_is(acct_cgroup_remove(cg), 0, "cpuset: rmdir %s", cg);
}

static void pool_restore(void)
{
	if (pool_orig >= 0)
		t_write_file(NODE1_POOL, "%ld", pool_orig);
}

static void test_full_node(void)
{
	const unsigned long n1 = 1ul << 1;
	const struct place cases[] = {
		{ "node 1 full", MPOL_DEFAULT, 0, 1, STRICT, NONE, ENOMEM },
		{ "node 1 full", MPOL_DEFAULT, 0, 1, false, 0, 0 },
		{ "node 1 full, MPOL_PREFERRED {1}", MPOL_PREFERRED, n1, NONE,
		  false, 0, 0 },
		{ "node 1 full, MPOL_PREFERRED {1}", MPOL_PREFERRED, n1, NONE,
		  STRICT, NONE, ENOMEM },
		{ "node 1 full, MPOL_BIND {1}", MPOL_BIND, n1, NONE, false,
		  NONE, ENOMEM },
	};
	long long total = node_meminfo_kb(1, "MemTotal"), left;
	long want = (long)(total / 2048), got;
	double t0 = t_now();
	unsigned int i;

	pool_orig = (long)t_read_number(NODE1_POOL);
	if (pool_orig < 0) {
		t_ok(false, "full node: %s readable", NODE1_POOL);
		return;
	}
	atexit(pool_restore);
	t_write_file(NODE1_POOL, "%ld", want);
	got = (long)t_read_number(NODE1_POOL);
	left = node_meminfo_kb(1, "MemFree");
	if (!t_ok(left >= 0 && total - got * 2048 < (long long)(FULL_LEN >> 10),
		  "full node: node 1's hugetlb pool took %ld of %ld 2 MiB "
		  "pages in %.1f s; %lld kB of node 1 outside it (want < %llu), "
		  "%lld kB free", got, want, t_now() - t0, total - got * 2048,
		  (unsigned long long)(FULL_LEN >> 10), left)) {
		pool_restore();
		return;
	}
	for (i = 0; i < 2; i++) {
		check_len(&cases[i], true, FULL_LEN);
		check_len(&cases[i], false, FULL_LEN);
	}
	for (; i < 5; i++)
		check_len(&cases[i], true, FULL_LEN);
	pool_restore();
	t_ok(t_read_number(NODE1_POOL) == pool_orig,
	     "full node: node 1's pool back to %ld pages", pool_orig);
	pool_orig = -1;
}

int main(void)
{
	char why[128];
	int i;

	if (geteuid())
		t_skip_all("needs root (run in the guest)");
	for (i = 0; i < 2; i++) {
		if (node_meminfo_kb(i, "MemTotal") <= 0 ||
		    (cpu_of_node[i] = first_cpu(i)) < 0)
			t_skip_all("needs two NUMA nodes with memory and CPUs "
				   "(./contig-mr vm --numa 2); node %d has "
				   "none", i);
		t_diag("node %d: MemTotal %lld kB, first CPU %d", i,
		       node_meminfo_kb(i, "MemTotal"), cpu_of_node[i]);
	}
	pin(cpu_of_node[0]);
	if (acct_open(&ctx, &pd, why, sizeof(why)))
		t_bail("%s", why);

	test_default();
	test_bind();
	test_preferred();
	test_strict();
	test_bad_nodes();
	test_cpuset();
	test_full_node();

	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	return t_done();
}
