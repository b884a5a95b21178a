// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * vm_api: every entry point of libibverbs-ext on a real device (rxe in the
 * guest), with the kernel back end.
 *
 * For a range of sizes: the MR ibv_alloc_contig_mr() returns (a genuine
 * provider MR over a new buffer, IOVA = address), zeroed memory,
 * ibv_query_contig_mr() against /proc/self/pagemap (physically contiguous,
 * va = pa modulo the reported alignment), against get_mempolicy() (the
 * node) and against the device's own view (restrack page size and
 * entries, also as `rdma resource show mr -dd` prints them), data through
 * the device both ways with the MR as the remote and as the local side,
 * release (unmapped, memory back). Then the query's ABI (info_size, unknown
 * comp_mask bits), the buffer calls (ibv_alloc_contig_buf(),
 * ibv_query_contig_buf(), ibv_reg_contig_buf_mr() over part of a buffer on
 * either of two PDs, ibv_contig_mr_buf(), ibv_free_contig_buf() with an MR
 * still registered), several MRs at once, fork(), mremap(), a PD in use,
 * access flags enforced by the device (a refused registration leaves no
 * buffer behind), the NUMA attributes, the policy attribute and
 * environment variable.
 *
 *   vm_api [--require]
 *
 * --require: a kernel without the CONTIG_BUF object is a failure, not a
 * skip (the project's kernel always has it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mempolicy.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "cmr_test.h"

#define RW_ACCESS                                                              \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |                     \
	 IBV_ACCESS_REMOTE_WRITE)
#define TIMEOUT_MS 60000
#define PAGE 4096ul

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct t_loop loop;
static bool require;
static bool is_root;
/* How far free memory may move besides the region (t_free_mem_kb()). */
static long long tol_kb;

static uint64_t pow2_ceil(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static const char *human(uint64_t v)
{
	static char buf[8][32];
	static int i;
	char *b = buf[i++ % 8];

	if (v >= (1ull << 30) && !(v % (1ull << 30)))
		snprintf(b, 32, "%" PRIu64 " GiB", v >> 30);
	else if (v >= (1ull << 20) && !(v % (1ull << 20)))
		snprintf(b, 32, "%" PRIu64 " MiB", v >> 20);
	else if (v >= 1024 && !(v % 1024))
		snprintf(b, 32, "%" PRIu64 " KiB", v >> 10);
	else
		snprintf(b, 32, "%" PRIu64 " B", v);
	return b;
}

static void check_support(void)
{
	struct ibv_mr *mr = ibv_alloc_contig_mr(pd, PAGE, 0);

	if (mr) {
		if (ibv_free_contig_mr(mr))
			t_bail("free of the probe MR failed");
		return;
	}
	if (errno == EOPNOTSUPP && !require)
		t_skip_all("kernel without UVERBS_OBJECT_CONTIG_BUF");
	t_bail("ibv_alloc_contig_mr(4 KiB): %s", strerrorname_np(errno));
}

/*
 * `rdma resource show mr -dd` must show the same page size for the lkey.
 * Returns 1 when it agrees, 0 when it does not, -1 when it cannot tell.
 */
static int rdma_tool_agrees(uint32_t lkey, uint64_t page_size,
			    uint64_t entries)
{
	uint64_t ps = 0, ent = 0;
	char line[1024];
	int ret;

	ret = t_rdma_mr_pages(NULL, "lkey", lkey, &ps, &ent, line,
			      sizeof(line));
	if (ret)
		return -1;
	if (ps != page_size || ent != entries)
		t_diag("rdma: %s", line);
	return ps == page_size && ent == entries;
}

/* The node of the page at addr (get_mempolicy(2)), or -1. */
static int page_node(const void *addr)
{
	int node = -1;

	if (syscall(SYS_get_mempolicy, &node, NULL, 0UL, addr,
		    MPOL_F_NODE | MPOL_F_ADDR))
		return -1;
	return node;
}

static void check_query(struct ibv_mr *mr, size_t len)
{
	uint64_t map = (len + PAGE - 1) & ~(PAGE - 1);
	struct ibv_contig_mr_info info;
	uint64_t pfn = 0, pa;
	long long contig;
	bool halved;
	int agree;

	memset(&info, 0xee, sizeof(info));
	info.comp_mask = 0;
	t_ok(!ibv_query_contig_mr(mr, &info) && info.comp_mask == 0 &&
		     info.device_page_size == 0 && info.map_entries == 0,
	     "%s: query without DEVICE_PAGES leaves them 0", human(len));

	info.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES |
			 IBV_CONTIG_MR_INFO_NUMA_NODE;
	if (!t_ok(!ibv_query_contig_mr(mr, &info), "%s: query", human(len)))
		return;
	t_ok((info.comp_mask & IBV_CONTIG_MR_INFO_NUMA_NODE) &&
		     info.numa_node >= 0 &&
		     info.numa_node == page_node(mr->addr),
	     "%s: numa_node %d, where get_mempolicy() finds the first page "
	     "(%d)", human(len), info.numa_node, page_node(mr->addr));
	t_diag("%s: backend %u, length %s, extent %s, alignment %s, device "
	       "pages %s x %" PRIu64, human(len), info.backend,
	       human(info.length), human(info.contig_extent),
	       human(info.alignment), human(info.device_page_size),
	       info.map_entries);
	t_ok(info.backend == IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG,
	     "%s: backend KERNEL_CONTIG", human(len));
	t_ok(info.length == map, "%s: length mapped %s (page rounded)",
	     human(len), human(info.length));
	t_ok(info.contig_extent == map, "%s: one contiguous extent",
	     human(len));
	t_ok(is_pow2(info.alignment) && info.alignment >= PAGE &&
		     info.alignment <= pow2_ceil(map),
	     "%s: alignment %s is a power of two in [4 KiB, %s]", human(len),
	     human(info.alignment), human(pow2_ceil(map)));
	/* uapi.md, Memory kind: where no window of the full alignment can
	 * be had, the kernel halves it, down to a quarter of the size and
	 * 4 MiB. */
	halved = is_pow2(map) && t_alignment_fallback_ok(info.alignment, map);
	if (halved)
		t_diag("%s: no %s window without reserved or slab pages here: "
		       "aligned to %s", human(len), human(map),
		       human(info.alignment));
	if (is_pow2(map))
		t_ok((info.alignment == map || halved) &&
			     !((uintptr_t)mr->addr % info.alignment),
		     "%s: power of two: address naturally aligned (to half "
		     "or a quarter where no such window exists)", human(len));

	/* What the CPU's page tables say. */
	contig = t_phys_contig_bytes(mr->addr, map, &pfn);
	if (contig < 0) {
		if (is_root)
			t_ok(false, "%s: PFNs readable as root", human(len));
		else
			t_skip("%s: PFNs need root", human(len));
	} else {
		pa = pfn * PAGE;
		t_ok((uint64_t)contig == map,
		     "%s: pagemap: %s physically contiguous from PFN 0x%" PRIx64,
		     human(len), human(contig), pfn);
		t_ok(!(((uintptr_t)mr->addr ^ pa) & (info.alignment - 1)),
		     "%s: va 0x%lx = pa 0x%" PRIx64 " modulo the alignment",
		     human(len), (unsigned long)(uintptr_t)mr->addr, pa);
	}

	/* What the device says. */
	if (!(info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES)) {
		if (require && is_root)
			t_ok(false, "%s: device page size known", human(len));
		else
			t_skip("%s: device page size unknown", human(len));
		return;
	}
	/*
	 * A device page may be larger than the region when the region fits
	 * in one naturally aligned block of that size (va and pa agreeing
	 * beyond the alignment the kernel promises).
	 */
	t_ok(is_pow2(info.device_page_size) && info.map_entries >= 1 &&
		     info.device_page_size * info.map_entries >= map &&
		     info.device_page_size >= PAGE &&
		     info.map_entries <= map / PAGE,
	     "%s: device translates it with %" PRIu64 " page(s) of %s",
	     human(len), info.map_entries, human(info.device_page_size));
	t_ok(info.map_entries <= (map + info.alignment - 1) / info.alignment + 1,
	     "%s: no more device pages than alignment-sized pieces",
	     human(len));
	if (is_pow2(map))
		t_ok(halved ? info.map_entries == map / info.alignment :
			      info.map_entries == 1 &&
				      info.device_page_size >= map,
		     "%s: power of two: a single device page (pages of the "
		     "alignment where it was halved)", human(len));
	agree = rdma_tool_agrees(mr->lkey, info.device_page_size,
				 info.map_entries);
	if (agree < 0)
		t_skip("%s: `rdma resource show mr` shows no page_size",
		       human(len));
	else
		t_ok(agree, "%s: `rdma resource show mr -dd` agrees",
		     human(len));
}

/* Data through the device: the MR as remote (rkey) and as local (lkey). */
static void check_rdma(struct ibv_mr *mr, size_t len)
{
	size_t n = len < (1u << 20) ? len : (1u << 20);
	size_t mid = (len / 2) & ~(size_t)7;
	struct t_buf b;
	long long bad;
	bool ok;

	ok = !t_loop_verify(&loop, mr, 0, n, len, TIMEOUT_MS) &&
	     (len <= n || !t_loop_verify(&loop, mr, len - n, n, len + 1,
					 TIMEOUT_MS)) &&
	     (mid + n > len ||
	      !t_loop_verify(&loop, mr, mid, n, len + 2, TIMEOUT_MS));
	t_ok(ok, "%s: RDMA READ and WRITE through the rkey (first, middle, "
	     "last %s)", human(len), human(n));

	if (t_buf_alloc(&b, pd, n, RW_ACCESS)) {
		t_ok(false, "%s: bounce buffer", human(len));
		return;
	}
	t_fill(b.addr, n, 99, 0);
	memset(mr->addr, 0, n);
	ok = !t_loop_rdma(&loop, IBV_WR_RDMA_READ, mr->addr, mr->lkey,
			  (uintptr_t)b.addr, b.mr->rkey, n, TIMEOUT_MS);
	bad = ok ? t_check(mr->addr, n, 99, 0) : 0;
	t_ok(ok && bad < 0, "%s: RDMA READ into it through the lkey",
	     human(len));
	t_buf_free(&b);
}

/* The buffer behind a one-call MR, and what ibv_query_contig_buf() says. */
static void check_buf_of(struct ibv_mr *mr, size_t len)
{
	uint64_t map = (len + PAGE - 1) & ~(PAGE - 1);
	struct ibv_contig_mr_info bi = {
		.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES,
	}, mi = { 0 };
	struct ibv_contig_buf *buf = ibv_contig_mr_buf(mr);

	if (!t_ok(buf && buf->addr == mr->addr && buf->length == map &&
			  buf->context == ctx,
		  "%s: ibv_contig_mr_buf: the buffer at the MR's address, %s "
		  "long", human(len), buf ? human(buf->length) : "-"))
		return;
	t_ok(!ibv_query_contig_buf(buf, &bi) && !ibv_query_contig_mr(mr, &mi) &&
		     bi.backend == mi.backend && bi.length == mi.length &&
		     bi.contig_extent == mi.contig_extent &&
		     bi.alignment == mi.alignment &&
		     !(bi.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES),
	     "%s: ibv_query_contig_buf agrees with the MR's query and has no "
	     "device pages (a buffer has none)", human(len));
}

static void test_size(size_t len)
{
	uint64_t map = (len + PAGE - 1) & ~(PAGE - 1);
	long long free0;
	struct ibv_mr *mr;
	void *addr;
	double t0;

	free0 = t_free_mem_kb();
	t0 = t_now();
	mr = ibv_alloc_contig_mr(pd, len, RW_ACCESS);
	if (!t_ok(mr != NULL, "%s: alloc: %s (%.2f s)", human(len),
		  mr ? "ok" : strerrorname_np(errno), t_now() - t0))
		return;
	addr = mr->addr;
	t_ok(mr->pd == pd && mr->context == ctx && mr->length == len &&
		     addr && !((uintptr_t)addr % PAGE),
	     "%s: mr fields (pd, context, length, page aligned address)",
	     human(len));
	t_ok(t_is_mapped(addr, map), "%s: [addr, +%s) is mapped", human(len),
	     human(map));
	t_ok(t_check_zero(addr, map) < 0, "%s: every byte reads zero",
	     human(len));
	if (map >= (64u << 20))
		t_free_mem_held(human(len), free0, map, tol_kb);

	check_query(mr, len);
	check_buf_of(mr, len);
	check_rdma(mr, len);

	t_ok(ibv_free_contig_mr(mr) == 0, "%s: free", human(len));
	t_ok(!t_is_mapped(addr, PAGE), "%s: unmapped after free", human(len));
	if (map >= (64u << 20))
		t_free_mem_returned(human(len), free0, tol_kb, 10);
}

/*
 * The query's ABI: info_size below the first version, unknown comp_mask
 * bits; a caller of the first version gets nothing beyond it.
 */
static void test_query_abi(void)
{
	struct ibv_mr *mr = ibv_alloc_contig_mr(pd, 1u << 20, RW_ACCESS);
	struct ibv_contig_mr_info info;
	struct t_buf b;

	if (!t_ok(mr != NULL, "query: alloc 1 MiB"))
		return;
	memset(&info, 0, sizeof(info));
	t_errno_is(_ibv_query_contig_mr(mr, &info,
					IBV_CONTIG_MR_INFO_SIZE_V1 - 1),
		   EINVAL, "query: info_size one byte short of the first "
		   "version");
	info.comp_mask = 1u << 31;
	t_errno_is(ibv_query_contig_mr(mr, &info), EINVAL,
		   "query: an unknown comp_mask bit");
	t_errno_is(ibv_query_contig_buf(ibv_contig_mr_buf(mr), &info), EINVAL,
		   "query_buf: an unknown comp_mask bit");
	memset(&info, 0xee, sizeof(info));
	info.comp_mask = IBV_CONTIG_MR_INFO_NUMA_NODE;
	t_ok(!_ibv_query_contig_mr(mr, &info, IBV_CONTIG_MR_INFO_SIZE_V1) &&
		     info.length == 1u << 20 &&
		     !(info.comp_mask & IBV_CONTIG_MR_INFO_NUMA_NODE) &&
		     info.numa_node == (int32_t)0xeeeeeeee &&
		     info.reserved == 0xeeeeeeee,
	     "query: info_size of the first version: filled up to it, "
	     "numa_node neither written nor claimed");
	t_errno_is(_ibv_query_contig_mr(mr, NULL, sizeof(info)), EINVAL,
		   "query: info NULL");
	t_ok(ibv_free_contig_mr(mr) == 0, "query: free");

	/* An MR over no buffer. */
	if (t_buf_alloc(&b, pd, 4096, IBV_ACCESS_LOCAL_WRITE))
		return;
	memset(&info, 0, sizeof(info));
	t_errno_is(ibv_query_contig_mr(b.mr, &info), EINVAL,
		   "query: an ordinary MR");
	t_ok(!ibv_contig_mr_buf(b.mr) && errno == EINVAL,
	     "ibv_contig_mr_buf: an ordinary MR: NULL, EINVAL");
	t_errno_is(ibv_free_contig_mr(b.mr), EINVAL,
		   "ibv_free_contig_mr: an ordinary MR");
	t_buf_free(&b);
}

/*
 * The buffer calls: a buffer, MRs over parts of it on two PDs, the calls
 * that must not take an MR they did not make, and a buffer freed under a
 * registered MR, which keeps its pages.
 */
static void test_buffers(void)
{
	const size_t len = (3u << 20) + 100, map = (3u << 20) + PAGE;
	struct ibv_contig_mr_info info = {
		.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES,
	};
	struct ibv_contig_buf *buf = NULL;
	struct ibv_mr *mr, *mr2;
	struct ibv_pd *pd2;
	uint8_t *p, *sub;
	struct t_buf b;
	void *addr;
	int ret;

	ret = ibv_alloc_contig_buf(pd, len, NULL, &buf);
	if (!t_errno_is(ret, 0, "buf: ibv_alloc_contig_buf of 3 MiB + 100"))
		return;
	p = buf->addr;
	t_ok(buf->context == ctx && buf->length == map &&
		     !((uintptr_t)p % PAGE) && t_is_mapped(p, map) &&
		     t_check_zero(p, map) < 0,
	     "buf: context, length %s, page aligned, mapped, zeroed",
	     human(buf->length));
	t_ok(t_mappings_of("contig_buf") >= 1,
	     "buf: the mapping is of the contig_buf file");
	ret = ibv_query_contig_buf(buf, &info);
	t_ok(!ret && info.backend == IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG &&
		     info.length == map && info.contig_extent == map &&
		     is_pow2(info.alignment) && info.alignment >= PAGE &&
		     !(info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES),
	     "buf: ibv_query_contig_buf: kernel contiguous, %s, alignment %s",
	     human(info.length), human(info.alignment));

	/* An MR over [4 KiB + 5, +1 MiB), IOVA = its address. */
	sub = p + PAGE + 5;
	mr = ibv_reg_contig_buf_mr(pd, buf, sub, 1u << 20, RW_ACCESS);
	if (t_ok(mr && mr->addr == sub && mr->length == 1u << 20 &&
			 mr->pd == pd,
		 "buf: ibv_reg_contig_buf_mr over [4 KiB + 5, +1 MiB)")) {
		t_ok(!t_loop_verify(&loop, mr, 0, 1u << 20, 31, TIMEOUT_MS),
		     "buf: RDMA READ and WRITE through it, by address");
		memset(&info, 0, sizeof(info));
		info.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES;
		ret = ibv_query_contig_mr(mr, &info);
		t_ok(!ret && info.length == map &&
			     (info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES) &&
			     info.device_page_size >= PAGE,
		     "buf: ibv_query_contig_mr of it describes the buffer, "
		     "device pages of %s", human(info.device_page_size));
		t_ok(!ibv_contig_mr_buf(mr) && errno == EINVAL,
		     "buf: ibv_contig_mr_buf of it: NULL, EINVAL (not a "
		     "one-call MR)");
		t_errno_is(ibv_free_contig_mr(mr), EINVAL,
			   "buf: ibv_free_contig_mr of it");
	}
	pd2 = ibv_alloc_pd(ctx);
	mr2 = pd2 ? ibv_reg_contig_buf_mr(pd2, buf, p + map - PAGE, PAGE, 0) :
		    NULL;
	t_ok(mr2 && mr2->pd == pd2, "buf: the last page on a second PD, "
	     "read-only");
	errno = 0;
	t_ok(!ibv_reg_contig_buf_mr(pd, buf, p - 1, PAGE, 0) && errno == EINVAL,
	     "buf: a range starting before the buffer: EINVAL");
	errno = 0;
	t_ok(!ibv_reg_contig_buf_mr(pd, buf, p + PAGE, map, 0) &&
		     errno == EINVAL,
	     "buf: a range ending past the buffer: EINVAL");

	/* Freed under the MR: it keeps its pages and their data. */
	t_fill(sub, 1u << 20, 32, 0);
	addr = p;
	t_errno_is(ibv_free_contig_buf(buf), 0,
		   "buf: ibv_free_contig_buf with two MRs registered");
	t_ok(!t_is_mapped(addr, PAGE), "buf: unmapped");
	t_errno_is(ibv_free_contig_buf(buf), EINVAL, "buf: freed twice");
	if (mr && !t_buf_alloc(&b, pd, 1u << 20, IBV_ACCESS_LOCAL_WRITE)) {
		t_ok(!t_loop_rdma(&loop, IBV_WR_RDMA_READ, b.addr, b.mr->lkey,
				  (uintptr_t)sub, mr->rkey, 1u << 20,
				  TIMEOUT_MS) &&
			     t_check(b.addr, 1u << 20, 32, 0) < 0,
		     "buf: RDMA READ through the MR still returns the data");
		t_buf_free(&b);
	}
	if (mr)
		t_errno_is(ibv_dereg_mr(mr), 0, "buf: ibv_dereg_mr");
	if (mr2)
		t_errno_is(ibv_dereg_mr(mr2), 0,
			   "buf: ibv_dereg_mr on the second PD");
	if (pd2)
		t_errno_is(ibv_dealloc_pd(pd2), 0, "buf: dealloc the second PD");
}

/* Detached: the mapping alone holds the memory, munmap() releases it. */
static void test_detach(void)
{
	const size_t len = 8u << 20;
	struct ibv_contig_buf *buf = NULL;
	long long lck;
	uint8_t *p;
	int maps, ret;

	lck = t_status_kb(0, "VmLck");
	maps = t_mappings_of("contig_buf");
	ret = ibv_alloc_contig_buf(pd, len, NULL, &buf);
	if (!t_errno_is(ret, 0, "detach: ibv_alloc_contig_buf of 8 MiB"))
		return;
	p = buf->addr;
	t_fill(p, len, 41, 0);
	t_errno_is(ibv_detach_contig_buf(buf), 0, "detach: ibv_detach_contig_buf");
	t_ok(t_is_mapped(p, len) && t_check(p, len, 41, 0) < 0 &&
		     t_mappings_of("contig_buf") == maps + 1,
	     "detach: still mapped, data kept");
	t_ok(t_status_kb(0, "VmLck") == lck + (long long)(len >> 10),
	     "detach: still accounted (VmLck +%lld kB)",
	     t_status_kb(0, "VmLck") - lck);
	t_errno_is(ibv_detach_contig_buf(NULL), EINVAL, "detach: NULL");
	t_ok(!munmap(p, len), "detach: munmap");
	t_ok(t_status_kb(0, "VmLck") == lck &&
		     t_mappings_of("contig_buf") == maps,
	     "detach: munmap released it (VmLck %+lld kB)",
	     t_status_kb(0, "VmLck") - lck);
}

static void test_many(void)
{
	enum { N = 8 };
	struct ibv_mr *mr[N];
	bool ok = true;
	int i, j;

	for (i = 0; i < N; i++) {
		mr[i] = ibv_alloc_contig_mr(pd, 1u << 20, RW_ACCESS);
		ok = ok && mr[i];
	}
	t_ok(ok, "8 x 1 MiB at once");
	for (i = 0; ok && i < N; i++)
		for (j = i + 1; j < N; j++) {
			uintptr_t a = (uintptr_t)mr[i]->addr;
			uintptr_t b = (uintptr_t)mr[j]->addr;

			if ((a < b + (1u << 20) && b < a + (1u << 20)) ||
			    mr[i]->lkey == mr[j]->lkey ||
			    mr[i]->handle == mr[j]->handle)
				ok = false;
		}
	t_ok(ok, "... disjoint ranges, distinct keys and handles");
	for (i = 0; i < N && mr[i]; i++)
		t_fill(mr[i]->addr, 1u << 20, i, 0);
	for (i = 0; ok && i < N; i++)
		ok = t_check(mr[i]->addr, 1u << 20, i, 0) < 0;
	t_ok(ok, "... each keeps its own data");
	for (i = 0; i < N; i++)
		if (mr[i] && ibv_free_contig_mr(mr[i]))
			ok = false;
	t_ok(ok, "... all freed");
}

static void test_fork(void)
{
	struct ibv_mr *mr = ibv_alloc_contig_mr(pd, 2u << 20, RW_ACCESS);
	int status;
	pid_t pid;

	if (!t_ok(mr != NULL, "fork: alloc 2 MiB"))
		return;
	t_fill(mr->addr, 2u << 20, 5, 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* Not inherited: not in our maps, and touching it faults. */
		if (t_is_mapped(mr->addr, 4096))
			_exit(3);
		*(volatile char *)mr->addr = 1;
		_exit(4);
	}
	t_ok(pid > 0 && waitpid(pid, &status, 0) == pid &&
		     WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	     "fork: the child has no mapping (SIGSEGV on access)");
	t_ok(t_check(mr->addr, 2u << 20, 5, 0) < 0,
	     "fork: the parent's data is intact");
	t_ok(!t_loop_verify(&loop, mr, 0, 1u << 20, 6, TIMEOUT_MS),
	     "fork: the parent's MR still works through the device");
	t_ok(ibv_free_contig_mr(mr) == 0, "fork: free");
}

static void test_mremap(void)
{
	struct ibv_mr *mr = ibv_alloc_contig_mr(pd, 1u << 20, RW_ACCESS);
	void *p;

	if (!t_ok(mr != NULL, "mremap: alloc 1 MiB"))
		return;
	p = mremap(mr->addr, 1u << 20, 2u << 20, MREMAP_MAYMOVE);
	t_ok(p == MAP_FAILED, "mremap cannot grow the mapping (%s)",
	     p == MAP_FAILED ? strerrorname_np(errno) : "it moved");
	t_ok(ibv_free_contig_mr(mr) == 0, "mremap: free");
}

static void test_pd_busy(void)
{
	struct ibv_pd *pd2 = ibv_alloc_pd(ctx);
	struct ibv_mr *mr;

	if (!t_ok(pd2 != NULL, "second PD"))
		return;
	mr = ibv_alloc_contig_mr(pd2, 1u << 20, 0);
	t_ok(mr && mr->pd == pd2, "alloc on the second PD");
	if (mr) {
		t_errno_is(ibv_dealloc_pd(pd2), EBUSY,
			   "dealloc of a PD with a contiguous MR");
		t_ok(ibv_free_contig_mr(mr) == 0, "free");
	}
	t_errno_is(ibv_dealloc_pd(pd2), 0, "dealloc after the free");
}

static void test_access(void)
{
	struct ibv_mr *mr = ibv_alloc_contig_mr(pd, 1u << 20,
						IBV_ACCESS_LOCAL_WRITE);
	struct t_loop l2;
	struct t_buf b;
	struct ibv_send_wr wr;
	struct ibv_sge sge;
	long long lck;
	int st, maps;

	if (!t_ok(mr != NULL, "access: alloc without remote access"))
		return;
	if (t_loop_create(&l2, pd) || t_buf_alloc(&b, pd, 4096,
						   IBV_ACCESS_LOCAL_WRITE)) {
		t_ok(false, "access: set-up");
		ibv_free_contig_mr(mr);
		return;
	}
	memset(&wr, 0, sizeof(wr));
	sge.addr = (uintptr_t)b.addr;
	sge.length = 4096;
	sge.lkey = b.mr->lkey;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_RDMA_READ;
	wr.wr.rdma.remote_addr = (uintptr_t)mr->addr;
	wr.wr.rdma.rkey = mr->rkey;
	st = t_loop_post(&l2, &wr, TIMEOUT_MS);
	t_ok(st == IBV_WC_REM_ACCESS_ERR,
	     "access: RDMA READ without REMOTE_READ fails (%s)",
	     st >= 0 ? ibv_wc_status_str(st) : "no completion");
	t_buf_free(&b);
	t_loop_destroy(&l2);
	t_ok(ibv_free_contig_mr(mr) == 0, "access: free");

	/* Refused by the device's ibv_reg_mr(): the buffer goes again. */
	lck = t_status_kb(0, "VmLck");
	maps = t_mappings_of("contig_buf");
	mr = ibv_alloc_contig_mr(pd, 4096, IBV_ACCESS_REMOTE_WRITE);
	t_errno_is(mr ? 0 : errno, EINVAL,
		   "access: REMOTE_WRITE without LOCAL_WRITE");
	if (mr)
		ibv_free_contig_mr(mr);
	t_ok(t_status_kb(0, "VmLck") == lck &&
		     t_mappings_of("contig_buf") == maps,
	     "access: ... and no buffer left (VmLck %lld kB, %d contig_buf "
	     "mappings)", t_status_kb(0, "VmLck"),
	     t_mappings_of("contig_buf"));
}

static int possible_nodes(void)
{
	char buf[64];
	FILE *f = fopen("/sys/devices/system/node/possible", "re");
	int lo = 0, hi = 0;

	if (!f)
		return 1;
	if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%d-%d", &lo, &hi) < 2)
		hi = lo;
	fclose(f);
	return hi + 1;
}

static struct ibv_mr *alloc_attr(size_t len, uint32_t mask, int node,
				 uint32_t flags, uint32_t policy)
{
	struct ibv_alloc_contig_mr_attr a = { .comp_mask = mask,
					      .numa_node = node,
					      .flags = flags,
					      .policy = policy };

	return ibv_alloc_contig_mr_ex(pd, len, RW_ACCESS, &a);
}

static void expect_ok(struct ibv_mr *mr, const char *what)
{
	struct ibv_contig_mr_info info = { 0 };

	t_ok(mr && !ibv_query_contig_mr(mr, &info) &&
		     info.backend == IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG,
	     "%s: %s", what, mr ? "kernel contiguous" : strerrorname_np(errno));
	if (mr && ibv_free_contig_mr(mr))
		t_ok(false, "%s: free", what);
}

static void test_attrs(void)
{
	int nodes = possible_nodes();
	struct ibv_mr *mr;

	expect_ok(ibv_alloc_contig_mr_ex(pd, 1u << 20, RW_ACCESS, NULL),
		  "alloc_ex with attr NULL");
	expect_ok(alloc_attr(1u << 20, 0, 0, 0, 0), "alloc_ex, comp_mask 0");
	expect_ok(alloc_attr(1u << 20, IBV_CONTIG_MR_ATTR_NUMA_NODE, 0, 0, 0),
		  "node 0");
	expect_ok(alloc_attr(1u << 20, IBV_CONTIG_MR_ATTR_NUMA_NODE, -1, 0, 0),
		  "node -1 (no preference)");
	expect_ok(alloc_attr(1u << 20,
			     IBV_CONTIG_MR_ATTR_NUMA_NODE |
				     IBV_CONTIG_MR_ATTR_FLAGS,
			     nodes - 1, IBV_CONTIG_MR_NODE_STRICT, 0),
		  "last node, strict");
	expect_ok(alloc_attr(1u << 20, IBV_CONTIG_MR_ATTR_FLAGS, 0,
			     IBV_CONTIG_MR_NODE_STRICT, 0),
		  "strict on the default node");
	mr = alloc_attr(1u << 20, IBV_CONTIG_MR_ATTR_NUMA_NODE, nodes, 0, 0);
	t_errno_is(mr ? 0 : errno, EINVAL, "node %d (does not exist)", nodes);
	if (mr)
		ibv_free_contig_mr(mr);
	mr = alloc_attr(1u << 20, IBV_CONTIG_MR_ATTR_NUMA_NODE, 1023, 0, 0);
	t_errno_is(mr ? 0 : errno, EINVAL, "node 1023 (does not exist)");
	if (mr)
		ibv_free_contig_mr(mr);

	expect_ok(alloc_attr(1u << 20, IBV_CONTIG_MR_ATTR_POLICY, 0, 0,
			     IBV_CONTIG_MR_POLICY_CONTIG),
		  "policy CONTIG");
	expect_ok(alloc_attr(1u << 20, IBV_CONTIG_MR_ATTR_POLICY, 0, 0,
			     IBV_CONTIG_MR_POLICY_ALL),
		  "policy ALL (kernel first)");
	setenv("IBV_CONTIG_MR_ALLOC_TYPE", "ALL", 1);
	expect_ok(ibv_alloc_contig_mr(pd, 1u << 20, RW_ACCESS),
		  "IBV_CONTIG_MR_ALLOC_TYPE=ALL");
	setenv("IBV_CONTIG_MR_ALLOC_TYPE", "HUGE", 1);
	expect_ok(alloc_attr(1u << 20, IBV_CONTIG_MR_ATTR_POLICY, 0, 0,
			     IBV_CONTIG_MR_POLICY_CONTIG),
		  "policy CONTIG overrides IBV_CONTIG_MR_ALLOC_TYPE=HUGE");
	setenv("IBV_CONTIG_MR_ALLOC_TYPE", "bogus", 1);
	mr = ibv_alloc_contig_mr(pd, 1u << 20, RW_ACCESS);
	t_errno_is(mr ? 0 : errno, EINVAL, "IBV_CONTIG_MR_ALLOC_TYPE=bogus");
	if (mr)
		ibv_free_contig_mr(mr);
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = {
		4096, 5000, 64 << 10, 2 << 20, 3 << 20, 64 << 20, 96 << 20,
		1ul << 30,
	};
	unsigned int i;

	require = argc > 1 && !strcmp(argv[1], "--require");
	is_root = geteuid() == 0;
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	t_dev_setup(NULL, &ctx, &pd, NULL);
	check_support();
	if (t_loop_create(&loop, pd))
		t_bail("loopback QP pair");
	/* The RDMA checks' bounce buffers and `rdma` come and go: 8 MiB. */
	tol_kb = t_free_mem_tolerance_kb(8 << 10);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		test_size(sizes[i]);
	test_query_abi();
	test_buffers();
	test_detach();
	test_many();
	test_fork();
	test_mremap();
	test_pd_busy();
	test_access();
	test_attrs();

	t_dev_teardown(ctx, pd, &loop);
	return t_done();
}
