// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * vm_policy: the policies (attribute and IBV_CONTIG_MR_ALLOC_TYPE) and the
 * hugetlb back ends, as root in the guest.
 *
 *  - HUGE with an empty pool fails with ENOMEM; with reserved 2 MiB pages
 *    it returns hugetlb memory: 2 MiB extents that pagemap shows
 *    contiguous, device pages of at least 2 MiB, data through the device;
 *    the pages go back to the pool on free.
 *  - HUGE with a 1 GiB page, when the guest can reserve one.
 *  - ALL falling back for real: the hugetlb pool is grown until the memory
 *    outside it is smaller than the request. alloc_contig_pages() skips
 *    every range holding a hugetlb page (pfn_range_valid_contig()), so the
 *    kernel cannot find the range (CONTIG: ENOMEM) and ALL takes 2 MiB
 *    pages instead. On a kernel without the method, CONTIG must fail with
 *    EOPNOTSUPP and ALL fall back the same way.
 *
 *   vm_policy [--require]   (--require: the kernel must have the method)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "cmr_test.h"

#define RW_ACCESS                                                              \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |                     \
	 IBV_ACCESS_REMOTE_WRITE)
#define TIMEOUT_MS 60000
#define SZ_2M (2ul << 20)
#define SZ_1G (1ul << 30)

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct t_loop loop;
static bool have_method;

static struct ibv_mr *alloc_policy(size_t len, uint32_t policy)
{
	struct ibv_alloc_contig_mr_attr a = {
		.comp_mask = IBV_CONTIG_MR_ATTR_POLICY,
		.policy = policy,
	};

	return ibv_alloc_contig_mr_ex(pd, len, RW_ACCESS, &a);
}

static uint32_t backend_of(struct ibv_mr *mr, struct ibv_contig_mr_info *info)
{
	memset(info, 0, sizeof(*info));
	info->comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES;
	if (ibv_query_contig_mr(mr, info))
		return 0;
	return info->backend;
}

/* A hugetlb MR: its shape, its pages, the device's view, data. */
static void check_huge(struct ibv_mr *mr, size_t len, uint64_t page,
		       uint32_t backend, const char *what)
{
	uint64_t map = (len + page - 1) / page * page, off;
	struct ibv_contig_mr_info info;
	bool contig = true, pfns = true;
	size_t n = len < (1u << 20) ? len : (1u << 20);

	uint32_t got = backend_of(mr, &info);

	t_ok(got == backend && info.length == map &&
		     info.contig_extent == page && info.alignment == page,
	     "%s: backend %u, %" PRIu64 " MiB mapped in extents of %" PRIu64
	     " MiB, aligned to them", what, info.backend, info.length >> 20,
	     info.contig_extent >> 20);
	t_ok(mr->length == len && !((uintptr_t)mr->addr % page),
	     "%s: length as asked, address page aligned", what);
	t_ok(t_check_zero(mr->addr, map) < 0, "%s: zeroed", what);
	for (off = 0; off < map; off += page) {
		long long c = t_phys_contig_bytes((char *)mr->addr + off, page,
						  NULL);

		if (c < 0)
			pfns = false;
		else if ((uint64_t)c != page)
			contig = false;
	}
	if (pfns)
		t_ok(contig, "%s: pagemap: every huge page contiguous", what);
	else
		t_skip("%s: PFNs not readable", what);
	if (info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES)
		t_ok(info.device_page_size >= page &&
			     info.device_page_size * info.map_entries >= map,
		     "%s: device pages of %" PRIu64 " KiB x %" PRIu64, what,
		     info.device_page_size >> 10, info.map_entries);
	else
		t_skip("%s: device page size unknown", what);
	t_ok(!t_loop_verify(&loop, mr, 0, n, 11, TIMEOUT_MS) &&
		     !t_loop_verify(&loop, mr, len - n, n, 12, TIMEOUT_MS),
	     "%s: RDMA READ and WRITE, first and last MiB", what);
}

static void test_huge_2m(void)
{
	struct ibv_mr *mr;
	long got, free0;

	t_hugetlb_pool(2048, 0);
	mr = alloc_policy(4u << 20, IBV_CONTIG_MR_POLICY_HUGE);
	t_errno_is(mr ? 0 : errno, ENOMEM, "HUGE with an empty pool");
	if (mr)
		ibv_free_contig_mr(mr);

	got = t_hugetlb_pool(2048, 32);
	if (got < 20) {
		t_skip("only %ld 2 MiB pages could be reserved", got);
		return;
	}
	free0 = t_hugetlb_free(2048);
	mr = alloc_policy(32u << 20, IBV_CONTIG_MR_POLICY_HUGE);
	if (t_ok(mr != NULL, "HUGE 32 MiB with %ld pages reserved: %s", got,
		 mr ? "ok" : strerrorname_np(errno))) {
		t_ok(t_hugetlb_free(2048) == free0 - 16,
		     "HUGE 32 MiB took 16 pages from the pool");
		check_huge(mr, 32u << 20, SZ_2M,
			   IBV_CONTIG_MR_BACKEND_HUGETLB_2M, "HUGE 32 MiB");
		t_ok(ibv_free_contig_mr(mr) == 0 &&
			     t_hugetlb_free(2048) == free0,
		     "HUGE 32 MiB: freed, pages back in the pool");
	}

	setenv("IBV_CONTIG_MR_ALLOC_TYPE", "HUGE", 1);
	mr = ibv_alloc_contig_mr(pd, (3u << 20) + 1, RW_ACCESS);
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	if (t_ok(mr != NULL, "IBV_CONTIG_MR_ALLOC_TYPE=HUGE, 3 MiB + 1")) {
		check_huge(mr, (3u << 20) + 1, SZ_2M,
			   IBV_CONTIG_MR_BACKEND_HUGETLB_2M, "HUGE 3 MiB + 1");
		t_ok(ibv_free_contig_mr(mr) == 0, "HUGE 3 MiB + 1: freed");
	}

	mr = alloc_policy((size_t)(got + 1) * SZ_2M, IBV_CONTIG_MR_POLICY_HUGE);
	t_errno_is(mr ? 0 : errno, ENOMEM, "HUGE larger than the pool");
	if (mr)
		ibv_free_contig_mr(mr);
	t_ok(t_hugetlb_free(2048) == free0, "... the pool is untouched");

	{
		struct ibv_alloc_contig_mr_attr a = {
			.comp_mask = IBV_CONTIG_MR_ATTR_POLICY |
				     IBV_CONTIG_MR_ATTR_NUMA_NODE |
				     IBV_CONTIG_MR_ATTR_FLAGS,
			.policy = IBV_CONTIG_MR_POLICY_HUGE,
			.numa_node = 0,
			.flags = IBV_CONTIG_MR_NODE_STRICT,
		};

		mr = ibv_alloc_contig_mr_ex(pd, 4u << 20, RW_ACCESS, &a);
		t_ok(mr != NULL, "HUGE on node 0, strict (mbind MPOL_BIND): %s",
		     mr ? "ok" : strerrorname_np(errno));
		if (mr)
			ibv_free_contig_mr(mr);
		a.numa_node = 1000;
		a.flags = 0;
		mr = ibv_alloc_contig_mr_ex(pd, 4u << 20, RW_ACCESS, &a);
		t_errno_is(mr ? 0 : errno, EINVAL, "HUGE on node 1000");
		if (mr)
			ibv_free_contig_mr(mr);
	}
	t_hugetlb_pool(2048, 0);
}

static void test_huge_1g(void)
{
	struct ibv_mr *mr;
	long got;

	got = t_hugetlb_pool(1048576, 1);
	if (got < 1) {
		t_skip("no 1 GiB hugetlb page could be reserved");
		return;
	}
	mr = alloc_policy(SZ_1G, IBV_CONTIG_MR_POLICY_HUGE);
	if (t_ok(mr != NULL, "HUGE 1 GiB with a 1 GiB page reserved: %s",
		 mr ? "ok" : strerrorname_np(errno))) {
		check_huge(mr, SZ_1G, SZ_1G, IBV_CONTIG_MR_BACKEND_HUGETLB_1G,
			   "HUGE 1 GiB");
		t_ok(ibv_free_contig_mr(mr) == 0 &&
			     t_hugetlb_free(1048576) == got,
		     "HUGE 1 GiB: freed, page back in the pool");
	}
	t_hugetlb_pool(1048576, 0);
}

static void test_fallback(void)
{
	long long total = t_meminfo_kb("MemTotal") << 10;
	long long avail = t_meminfo_kb("MemAvailable") << 10;
	long long pool, outside, want;
	struct ibv_contig_mr_info info;
	struct ibv_mr *mr;
	long got;
	size_t len;

	/* Leave 384 MiB to the rest of the system. */
	want = (avail - (384ll << 20)) / (long long)SZ_2M;
	if (want < 64) {
		t_skip("fallback: too little memory (%lld MiB available)",
		       avail >> 20);
		return;
	}
	got = t_hugetlb_pool(2048, want);
	pool = (long long)got * SZ_2M;
	outside = total - pool;
	/* Longer than all memory outside the pool, on a 64 MiB boundary. */
	len = (size_t)((outside >> 26) + 1) << 26;
	t_diag("fallback: %lld MiB RAM, %ld hugetlb pages (%lld MiB), %lld MiB "
	       "outside, asking for %zu MiB", total >> 20, got, pool >> 20,
	       outside >> 20, len >> 20);
	if ((long long)len > pool) {
		t_skip("fallback: the pool (%lld MiB) is not larger than the "
		       "rest of memory", pool >> 20);
		t_hugetlb_pool(2048, 0);
		return;
	}

	mr = alloc_policy(len, IBV_CONTIG_MR_POLICY_CONTIG);
	t_errno_is(mr ? 0 : errno, have_method ? ENOMEM : EOPNOTSUPP,
		   "CONTIG %zu MiB, every range holds a hugetlb page",
		   len >> 20);
	if (mr)
		ibv_free_contig_mr(mr);

	mr = alloc_policy(len, IBV_CONTIG_MR_POLICY_ALL);
	if (t_ok(mr != NULL, "ALL %zu MiB falls back: %s", len >> 20,
		 mr ? "ok" : strerrorname_np(errno))) {
		t_ok(backend_of(mr, &info) == IBV_CONTIG_MR_BACKEND_HUGETLB_2M,
		     "ALL: backend HUGETLB_2M (1 GiB pages: none reserved)");
		t_ok(!t_loop_verify(&loop, mr, 0, 1u << 20, 21, TIMEOUT_MS) &&
			     !t_loop_verify(&loop, mr, len - (1u << 20),
					    1u << 20, 22, TIMEOUT_MS),
		     "ALL: data through the device");
		t_ok(ibv_free_contig_mr(mr) == 0, "ALL: freed");
	}

	setenv("IBV_CONTIG_MR_ALLOC_TYPE", "all", 1);
	mr = ibv_alloc_contig_mr(pd, len, RW_ACCESS);
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	t_ok(mr && backend_of(mr, &info) == IBV_CONTIG_MR_BACKEND_HUGETLB_2M,
	     "IBV_CONTIG_MR_ALLOC_TYPE=all falls back the same way");
	if (mr)
		ibv_free_contig_mr(mr);

	t_ok(t_hugetlb_pool(2048, 0) == 0, "fallback: pool released");
	if (have_method) {
		mr = alloc_policy(len, IBV_CONTIG_MR_POLICY_ALL);
		t_ok(mr && backend_of(mr, &info) ==
				   IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG,
		     "without the pool, ALL %zu MiB is kernel contiguous: %s",
		     len >> 20, mr ? "ok" : strerrorname_np(errno));
		if (mr)
			ibv_free_contig_mr(mr);
	}
}

int main(int argc, char **argv)
{
	bool require = argc > 1 && !strcmp(argv[1], "--require");
	struct ibv_mr *mr;

	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	if (geteuid() != 0)
		t_skip_all("needs root for the hugetlb pool");
	t_dev_setup(NULL, &ctx, &pd, &loop);

	mr = alloc_policy(4096, IBV_CONTIG_MR_POLICY_CONTIG);
	have_method = mr != NULL;
	if (mr)
		ibv_free_contig_mr(mr);
	else if (errno != EOPNOTSUPP || require)
		t_bail("CONTIG 4 KiB: %s", strerrorname_np(errno));
	t_diag("the kernel %s UVERBS_OBJECT_CONTIG_BUF",
	       have_method ? "has" : "lacks");
	if (!have_method) {
		mr = ibv_alloc_contig_mr(pd, 4096, RW_ACCESS);
		t_errno_is(mr ? 0 : errno, EOPNOTSUPP,
			   "no method: ibv_alloc_contig_mr");
	}

	test_huge_2m();
	test_huge_1g();
	test_fallback();

	t_dev_teardown(ctx, pd, &loop);
	return t_done();
}
