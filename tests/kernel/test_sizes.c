// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_sizes: contiguous MRs of the sizes given on the command line,
 * through ibv_alloc_contig_mr() and the series' kernel (SETUP loop: rxe).
 * For each size it asserts:
 *
 *  - the allocation succeeds; the mapping is the length rounded up to
 *    pages and one physically contiguous range (the kernel's answer);
 *  - the memory is zeroed: every byte up to 64 MiB; above, the first and
 *    last 2 MiB completely and the first 4 KiB of every further MiB;
 *  - the CPU reads and writes it at both ends (first and last 4 KiB);
 *  - /proc/self/pagemap shows consecutive PFNs over the whole mapping,
 *    starting at an address aligned to the largest power of two that
 *    divides the page count (docs/uapi.md);
 *  - the user address agrees with the physical address modulo the
 *    alignment the kernel reports, which is the largest power of two they
 *    agree modulo (docs/uapi.md) and at least what it promised
 *    (min(roundup_pow_of_two(length), alignment of the physical start),
 *    exactly the length for a power of two), and the user address is
 *    aligned to min(roundup_pow_of_two(length), reported alignment,
 *    alignment of the physical start);
 *  - `rdma resource show mr -dd` shows rxe's drv_page_size and
 *    drv_map_entries as ib_umem_find_best_pgsz() must choose them for that
 *    physical layout (computed here from pagemap), which for a power of two
 *    is the length itself and one entry (4 KiB, 2 MiB, 64 MiB, 1 GiB,
 *    2 GiB); ibv_query_contig_mr() reports the same;
 *  - one RDMA READ and one RDMA WRITE of 4 KiB at each end go through;
 *  - free succeeds, and every frame of the region is free again
 *    (/proc/kpagecount), unless the kernel visibly reused it since.
 *
 *   kernel_sizes [--needs-mem SIZE] SIZE...   (SIZE like 4K, 3M+4K, 1G)
 *
 * --needs-mem: skip when the guest has less memory (MemTotal) than SIZE:
 * a 2 GiB region needs a naturally aligned 2 GiB range inside one zone
 * without unmovable pages, which a 4 GiB guest does not have (QEMU's pc
 * machine puts RAM at 0-3 GiB and from 4 GiB up) and a 6 GiB one has only
 * at 4-6 GiB, where slab pages sit by then; an 8 GiB guest has 6-8 GiB
 * (see CMakeLists.txt).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/verbs_contig.h>

#include "kt.h"

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct t_loop loop;
static uint64_t page_size_cap;

/* Zero check: all of it up to 64 MiB, else ends plus one page per MiB. */
static void check_zero(const uint8_t *p, uint64_t len, const char *name)
{
	uint64_t checked = 0, off;
	long long bad = -1;

	if (len <= 64 * KT_MIB) {
		bad = t_check_zero(p, len);
		t_ok(bad < 0, "%s: zeroed, every byte checked (%" PRIu64
		     " bytes)", name, len);
		if (bad >= 0)
			t_diag("first non-zero byte at offset %lld", bad);
		return;
	}
	bad = t_check_zero(p, 2 * KT_MIB);
	if (bad < 0)
		bad = t_check_zero(p + len - 2 * KT_MIB, 2 * KT_MIB);
	checked = 4 * KT_MIB;
	for (off = 2 * KT_MIB; bad < 0 && off < len - 2 * KT_MIB;
	     off += KT_MIB) {
		bad = t_check_zero(p + off, 4096);
		if (bad >= 0)
			bad += off;
		checked += 4096;
	}
	t_ok(bad < 0, "%s: zeroed, sampled: first and last 2 MiB and the "
	     "first 4 KiB of every MiB between (%" PRIu64 " KiB checked)",
	     name, checked / 1024);
	if (bad >= 0)
		t_diag("non-zero byte at offset %lld", bad);
}

static void check_cpu_ends(uint8_t *p, uint64_t len, const char *name)
{
	uint64_t n = len < 4096 ? len : 4096, tail = len - n;
	bool ok;

	if (len <= 2 * n) {
		t_fill(p, len, 0x51, 0);
		ok = t_check(p, len, 0x51, 0) < 0;
	} else {
		t_fill(p, n, 0x51, 0);
		t_fill(p + tail, n, 0x52, tail);
		ok = t_check(p, n, 0x51, 0) < 0 &&
		     t_check(p + tail, n, 0x52, tail) < 0;
	}
	p[0] = 0xa5;
	p[len - 1] = 0x5a;
	ok = ok && p[0] == 0xa5 && p[len - 1] == 0x5a;
	t_ok(ok, "%s: CPU writes and reads back the first and last 4 KiB and "
	     "bytes 0 and %" PRIu64, name, len - 1);
}

static void check_rdma_ends(struct ibv_mr *mr, uint64_t len, const char *name)
{
	uint64_t n = len < 4096 ? len : 4096;
	int ret;

	ret = t_loop_verify(&loop, mr, 0, n, 0x61, 20000);
	if (!ret)
		ret = t_loop_verify(&loop, mr, len - n, n, 0x62, 20000);
	t_ok(!ret, "%s: RDMA READ and WRITE of the first and last %" PRIu64
	     " bytes through rxe, data checked", name, n);
}

static void test_size(uint64_t len)
{
	struct ibv_contig_mr_info info = {
		.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES,
	};
	uint64_t map_len = (len + 4095) & ~UINT64_C(4095);
	uint64_t pfn = 0, pa, va, promised, want_ps, want_ent = 0, ps, ent;
	char name[64], line[1024];
	long long contig;
	struct ibv_mr *mr;
	double t0, t1;
	int ret;

	kt_size_str(len, name, sizeof(name));
	t_diag("---- %s ----", name);
	t0 = t_now();
	mr = ibv_alloc_contig_mr(pd, len, KT_ACCESS_ALL);
	t1 = t_now();
	if (!t_ok(mr != NULL, "%s: ibv_alloc_contig_mr in %.2f s", name,
		  t1 - t0)) {
		t_diag("errno %s; free memory %lld kB", strerrorname_np(errno),
		       t_free_mem_kb());
		return;
	}
	va = (uintptr_t)mr->addr;

	ret = ibv_query_contig_mr(mr, &info);
	t_ok(!ret && info.backend == IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG &&
		     info.length == map_len && info.contig_extent == map_len,
	     "%s: kernel back end, mapped %" PRIu64 " bytes, contiguous "
	     "extent %" PRIu64, name, info.length, info.contig_extent);

	check_zero(mr->addr, len, name);
	check_cpu_ends(mr->addr, len, name);

	t0 = t_now();
	contig = t_phys_contig_bytes(mr->addr, map_len, &pfn);
	t_ok(contig == (long long)map_len,
	     "%s: pagemap: %lld of %" PRIu64 " bytes physically consecutive "
	     "from PFN 0x%" PRIx64 " (%.2f s)", name, contig, map_len, pfn,
	     t_now() - t0);
	pa = pfn * 4096;

	promised = kt_pow2_ceil(map_len);
	if (pa && kt_lowbit(pa) < promised)
		promised = kt_lowbit(pa);
	t_diag("%s: va 0x%" PRIx64 " pa 0x%" PRIx64 " reported alignment "
	       "0x%" PRIx64 " promised 0x%" PRIx64, name, va, pa,
	       info.alignment, promised);
	t_ok(info.alignment && !(info.alignment & (info.alignment - 1)) &&
		     !((va - pa) & (info.alignment - 1)),
	     "%s: user and physical address agree modulo the reported "
	     "alignment", name);
	t_ok(info.alignment >= promised,
	     "%s: reported alignment >= min(roundup_pow_of_two(length), "
	     "alignment of the physical start)", name);
	{
		/* docs/uapi.md: the largest such power of two, capped. */
		uint64_t cap = kt_pow2_ceil(map_len);
		uint64_t diff = (va ^ pa) & (cap - 1);
		uint64_t shared = diff ? kt_lowbit(diff) : cap;
		uint64_t npages = map_len / 4096;

		t_ok(info.alignment == shared, "%s: reported alignment is the "
		     "largest power of two (at most 0x%" PRIx64 ") that user "
		     "and physical address agree modulo: 0x%" PRIx64, name, cap,
		     shared);
		t_ok(pa && !(pa % (kt_lowbit(npages) * 4096)),
		     "%s: physical start aligned to the largest power of two "
		     "dividing the page count (%" PRIu64 " pages)", name,
		     kt_lowbit(npages));
	}
	if (!(map_len & (map_len - 1)))
		t_ok(info.alignment == map_len && !(va & (map_len - 1)) &&
			     !(pa & (map_len - 1)),
		     "%s: power of two: user and physical address aligned to "
		     "the length, reported alignment == length", name);
	{
		/*
		 * The reported alignment is a congruence (user address ==
		 * physical address modulo it); the user address itself is
		 * aligned as far as the physical start is, too.
		 */
		uint64_t a = kt_pow2_ceil(map_len);

		if (info.alignment < a)
			a = info.alignment;
		if (pa && kt_lowbit(pa) < a)
			a = kt_lowbit(pa);
		t_ok(a && !(va & (a - 1)), "%s: user address aligned to "
		     "min(roundup_pow_of_two(length), reported alignment, "
		     "alignment of the physical start) = 0x%" PRIx64, name, a);
	}
	if (map_len & (map_len - 1))
		t_diag("%s: not a power of two: the physical start is aligned "
		       "to 0x%" PRIx64 " only, which caps the device page "
		       "size", name, pa ? kt_lowbit(pa) : 0);

	want_ps = kt_umem_pgsz(mr->addr, map_len, va, page_size_cap,
			       &want_ent);
	ret = kt_rdma_mr_pages(ibv_get_device_name(ctx->device), mr->lkey, &ps,
			       &ent, line, sizeof(line));
	if (ret >= 0)
		t_diag("rdma: %s", line);
	t_ok(ret == 0 && ps == want_ps && ent == want_ent,
	     "%s: rdma resource show mr -dd: drv_page_size %" PRIu64
	     " drv_map_entries %" PRIu64 " (expected %" PRIu64 " and %" PRIu64
	     " for this layout)", name, ret ? 0 : ps, ret ? 0 : ent, want_ps,
	     want_ent);
	if (!(map_len & (map_len - 1)) && map_len <= page_size_cap)
		t_ok(ret == 0 && ps == map_len && ent == 1,
		     "%s: power of two: one device page of the whole length",
		     name);
	t_ok((info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES) &&
		     info.device_page_size == want_ps &&
		     info.map_entries == want_ent,
	     "%s: ibv_query_contig_mr: device_page_size %" PRIu64
	     " map_entries %" PRIu64, name, info.device_page_size,
	     info.map_entries);

	check_rdma_ends(mr, len, name);

	t0 = t_now();
	ret = ibv_free_contig_mr(mr);
	t_errno_is(ret, 0, "%s: ibv_free_contig_mr (%.2f s)", name,
		   t_now() - t0);
	if (pfn) {
		uint64_t in_use = 0, unexplained = 0;

		ret = kt_kpage_scan(pfn, map_len / 4096, &in_use,
				    &unexplained);
		t_ok(!ret && !unexplained, "%s: every frame free again "
		     "(/proc/kpagecount 0, %" PRIu64 " reused since for "
		     "something /proc/kpageflags names)", name, in_use);
	}
}

int main(int argc, char **argv)
{
	struct ibv_device_attr attr;
	uint64_t need = 0, len;
	int i = 1;

	if (argc > 2 && !strcmp(argv[1], "--needs-mem")) {
		if (kt_parse_size(argv[2], &need))
			t_bail("bad size %s", argv[2]);
		i = 3;
	}
	if (i >= argc)
		t_bail("usage: %s [--needs-mem SIZE] SIZE...", argv[0]);
	if (need && (uint64_t)t_meminfo_kb("MemTotal") * 1024 < need)
		t_skip_all("the guest has %lld kB, this test needs %" PRIu64
			   " MiB (./contig-mr test --mem 8G)",
			   t_meminfo_kb("MemTotal"), need >> 20);

	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	ctx = t_open_device(getenv("CMR_RXE"));
	pd = ibv_alloc_pd(ctx);
	if (!pd)
		t_bail("ibv_alloc_pd: %s", strerror(errno));
	if (ibv_query_device(ctx, &attr))
		t_bail("ibv_query_device: %s", strerror(errno));
	page_size_cap = attr.page_size_cap;
	t_diag("page_size_cap 0x%" PRIx64 ", MemTotal %lld kB, free memory "
	       "%lld kB", page_size_cap, t_meminfo_kb("MemTotal"), t_free_mem_kb());
	if (t_loop_create(&loop, pd))
		t_bail("loopback QP pair");

	for (; i < argc; i++) {
		if (kt_parse_size(argv[i], &len))
			t_bail("bad size %s", argv[i]);
		test_size(len);
	}

	t_loop_destroy(&loop);
	t_errno_is(ibv_dealloc_pd(pd), 0, "dealloc the PD: no MR left");
	ibv_close_device(ctx);
	return t_done();
}
