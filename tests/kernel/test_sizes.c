// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_sizes: contiguous buffers of the sizes given on the command line,
 * allocated with the raw UVERBS_METHOD_CONTIG_BUF_ALLOC of the series'
 * kernel, mapped from their fd, and registered with the standard
 * ibv_reg_mr() (SETUP loop: rxe). For each size it asserts:
 *
 *  - the allocation succeeds; RESP_LENGTH is the length rounded up to
 *    pages, and the mapping of all of it is one physically contiguous
 *    range;
 *  - the memory is zeroed: every byte up to 64 MiB; above, the first and
 *    last 2 MiB completely and the first 4 KiB of every further MiB;
 *  - the CPU reads and writes it at both ends (first and last 4 KiB);
 *  - /proc/self/pagemap shows consecutive PFNs over the whole mapping;
 *  - RESP_ALIGNMENT is the length rounded up to a power of two, capped at
 *    the largest page the device can use (page_size_cap), whatever the
 *    length: 3 MiB + 4 KiB is 4 MiB aligned; the physical start is aligned
 *    to it, and the user address agrees with the physical one modulo it
 *    (so it is aligned to it);
 *  - a mapping at an offset (the second half, at most 64 MiB of it) is
 *    placed the same way: its address agrees with the physical address of
 *    that offset modulo RESP_ALIGNMENT, and it shows the same pages and
 *    data as the first mapping;
 *  - `rdma resource show mr -dd` shows rxe's drv_page_size and
 *    drv_map_entries for an MR over all of it (ibv_reg_mr(), IOVA = user
 *    address) and for one over the offset mapping as
 *    ib_umem_find_best_pgsz() must choose them for that physical layout
 *    (computed here from pagemap), which up to page_size_cap is one entry
 *    of the length rounded up to a power of two (4 KiB, 2 MiB, 4 MiB for
 *    3 MiB + 4 KiB, 16 MiB for 12 MiB + 16 KiB, 1 GiB, 2 GiB);
 *  - one RDMA READ and one RDMA WRITE of 4 KiB at each end go through;
 *  - after ibv_dereg_mr(), FREE, close() and munmap() every frame of the
 *    region is free again (/proc/kpagecount), unless the kernel visibly
 *    reused it since.
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
#include <sys/mman.h>

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

/*
 * The MR's device pages, as rxe reports them, against what the layout of
 * [addr, addr + len) allows. Returns the page size reported, 0 if none.
 */
static uint64_t check_mr_pages(struct ibv_mr *mr, const void *addr,
			       uint64_t len, const char *name,
			       const char *which)
{
	uint64_t want_ps, want_ent = 0, ps = 0, ent = 0;
	char line[1024];
	int ret;

	want_ps = kt_umem_pgsz(addr, len, (uintptr_t)addr, page_size_cap,
			       &want_ent);
	ret = t_rdma_mr_pages(ibv_get_device_name(ctx->device), "lkey",
			      mr->lkey, &ps, &ent, line, sizeof(line));
	if (ret >= 0)
		t_diag("rdma: %s", line);
	t_ok(ret == 0 && ps == want_ps && ent == want_ent,
	     "%s: %s: rdma resource show mr -dd: drv_page_size %" PRIu64
	     " drv_map_entries %" PRIu64 " (expected %" PRIu64 " and %" PRIu64
	     " for this layout)", name, which, ret ? 0 : ps, ret ? 0 : ent,
	     want_ps, want_ent);
	return ret ? 0 : ps;
}

/*
 * A second mapping of [off, off + n) of the buffer: placed so that its
 * address agrees with the physical address of off modulo the alignment;
 * the same pages and data as the first mapping; an MR over it gets the
 * pages its layout allows.
 */
static void check_offset_map(struct kt_buf *b, uint64_t pa, const char *name)
{
	uint64_t off = (b->length / 2) & ~UINT64_C(4095);
	uint64_t n = b->length - off, a = b->alignment, pfn = 0;
	struct ibv_mr *mr;
	uint8_t *p;

	if (n > 64 * KT_MIB)
		n = 64 * KT_MIB;
	p = kt_buf_mmap(b, off, n, MAP_SHARED);
	if (!t_ok(p != MAP_FAILED, "%s: mmap of [%" PRIu64 ", +%" PRIu64
		  ") of the fd", name, off, n)) {
		t_diag("%s", strerrorname_np(errno));
		return;
	}
	t_fill(b->addr + off, 4096, 0x53, off);
	if (t_pagemap_pfn(p, &pfn))
		pfn = 0;
	t_ok(t_check(p, 4096, 0x53, off) < 0 && pfn && pfn * 4096 == pa + off,
	     "%s: offset mapping at %p shows the same page (PFN 0x%" PRIx64
	     ") and data", name, (void *)p, pfn);
	t_ok(a && !(((uintptr_t)p - (pa + off)) & (a - 1)),
	     "%s: offset mapping: address == physical address of the offset "
	     "modulo RESP_ALIGNMENT 0x%" PRIx64, name, a);
	if (kt_populate(p, n)) {
		t_skip("%s: populating the offset mapping failed", name);
	} else {
		mr = ibv_reg_mr(pd, p, n, KT_ACCESS_ALL);
		if (t_ok(mr != NULL, "%s: ibv_reg_mr over the offset mapping",
			 name)) {
			check_mr_pages(mr, p, n, name, "offset MR");
			ibv_dereg_mr(mr);
		}
	}
	munmap(p, n);
}

static void test_size(uint64_t len)
{
	uint64_t map_len = (len + 4095) & ~UINT64_C(4095);
	uint64_t pfn = 0, pa, va, want_align, ps;
	struct ibv_mr *mr;
	struct kt_buf b;
	long long contig;
	char name[64];
	double t0, t1;
	int ret;

	kt_size_str(len, name, sizeof(name));
	t_diag("---- %s ----", name);
	t0 = t_now();
	ret = kt_raw_alloc(ctx, len, -1, 0, &b);
	t1 = t_now();
	if (!t_errno_is(ret, 0, "%s: CONTIG_BUF_ALLOC in %.2f s", name,
			t1 - t0)) {
		t_diag("free memory %lld kB", t_free_mem_kb());
		return;
	}
	t_ok(b.length == map_len, "%s: RESP_LENGTH %" PRIu64 " (rounded up "
	     "to pages)", name, b.length);
	b.addr = kt_buf_mmap(&b, 0, b.length, MAP_SHARED);
	if (b.addr == MAP_FAILED) {
		b.addr = NULL;
		t_ok(false, "%s: mmap of the fd: %s", name,
		     strerrorname_np(errno));
		kt_buf_release(&b);
		return;
	}
	t0 = t_now();
	ret = kt_populate(b.addr, b.length);
	t_diag("%s: mapped at %p, populated in %.2f s (%s)", name,
	       (void *)b.addr, t_now() - t0, ret ? strerrorname_np(ret) : "ok");
	va = (uintptr_t)b.addr;

	check_zero(b.addr, len, name);
	check_cpu_ends(b.addr, len, name);

	t0 = t_now();
	contig = t_phys_contig_bytes(b.addr, map_len, &pfn);
	t_ok(contig == (long long)map_len,
	     "%s: pagemap: %lld of %" PRIu64 " bytes physically consecutive "
	     "from PFN 0x%" PRIx64 " (%.2f s)", name, contig, map_len, pfn,
	     t_now() - t0);
	pa = pfn * 4096;
	want_align = kt_pow2_ceil(map_len);
	if (want_align > kt_pow2_floor(page_size_cap))
		want_align = kt_pow2_floor(page_size_cap);
	t_diag("%s: va 0x%" PRIx64 " pa 0x%" PRIx64 " RESP_ALIGNMENT 0x%" PRIx64
	       " expected 0x%" PRIx64, name, va, pa, b.alignment, want_align);
	if (b.alignment < want_align &&
	    t_alignment_fallback_ok(b.alignment, want_align)) {
		t_diag("%s: no window of 0x%" PRIx64 " without reserved or slab "
		       "pages in this guest, nor of twice 0x%" PRIx64 ": the "
		       "documented fallback", name, want_align, b.alignment);
		want_align = b.alignment;
	}
	t_ok(b.alignment == want_align,
	     "%s: RESP_ALIGNMENT == roundup_pow_of_two(length), capped at the "
	     "device's largest page (or halved where no such window exists)",
	     name);
	t_ok(pa && !(pa & (want_align - 1)),
	     "%s: physical start aligned to 0x%" PRIx64, name, want_align);
	t_ok(b.alignment && !(b.alignment & (b.alignment - 1)) &&
		     !((va - pa) & (b.alignment - 1)) &&
		     !(va & (b.alignment - 1)),
	     "%s: user address == physical address modulo RESP_ALIGNMENT, "
	     "so aligned to it", name);

	t0 = t_now();
	mr = ibv_reg_mr(pd, b.addr, b.length, KT_ACCESS_ALL);
	if (t_ok(mr != NULL, "%s: ibv_reg_mr over all of it in %.2f s", name,
		 t_now() - t0)) {
		ps = check_mr_pages(mr, b.addr, b.length, name, "MR");
		if (map_len <= kt_pow2_floor(page_size_cap))
			t_ok(want_align == kt_pow2_ceil(map_len) ?
				     ps == want_align : ps >= want_align,
			     "%s: one device page of the length rounded up "
			     "to a power of two (pages of at least the "
			     "alignment where it was halved)", name);
		check_rdma_ends(mr, len, name);
		t_errno_is(ibv_dereg_mr(mr), 0, "%s: ibv_dereg_mr", name);
	} else {
		t_diag("ibv_reg_mr: %s", strerrorname_np(errno));
	}
	if (map_len >= 8192)
		check_offset_map(&b, pa, name);

	t0 = t_now();
	ret = kt_buf_release(&b);
	t_ok(!ret, "%s: FREE, close, munmap (%.2f s)", name, t_now() - t0);
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
		if (t_parse_size(argv[2], &need))
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
	t_dev_setup(getenv("CMR_RXE"), &ctx, &pd, NULL);
	if (ibv_query_device(ctx, &attr))
		t_bail("ibv_query_device: %s", strerror(errno));
	page_size_cap = attr.page_size_cap;
	if (kt_raw_init(ctx))
		t_bail("uverbs driver id");
	t_diag("page_size_cap 0x%" PRIx64 ", MemTotal %lld kB, free memory "
	       "%lld kB", page_size_cap, t_meminfo_kb("MemTotal"), t_free_mem_kb());
	if (t_loop_create(&loop, pd))
		t_bail("loopback QP pair");

	for (; i < argc; i++) {
		if (t_parse_size(argv[i], &len))
			t_bail("bad size %s", argv[i]);
		test_size(len);
	}

	t_dev_teardown(ctx, pd, &loop);
	return t_done();
}
