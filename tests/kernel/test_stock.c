// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_stock: the ordinary MR paths that the series changes in rxe
 * (patch 0005 builds the map from DMA blocks of the best page size instead
 * of PAGE_SIZE pages, moves mr->offset to the IOVA, and stops rxe_mr_copy()
 * at the last map entry) still work, and report what they use:
 *
 *  scattered  1 MiB of anonymous memory, faulted in even pages first, then
 *             odd ones, so that no two neighbouring pages are physically
 *             consecutive (checked in pagemap); 256 pages,
 *             a whole rxe map array (RXE_BUF_PER_MAP): drv_page_size 4096,
 *             drv_map_entries 256; RDMA READ/WRITE over all of it, its
 *             last byte (the copy ends on the last entry of a full map)
 *             and 4 KiB boundaries;
 *  malloc     a malloc() buffer at an odd address (not page aligned),
 *             faulted in the same way: page size 4096, entries = pages
 *             spanned;
 *             RDMA over all of it and at both ends;
 *  iova       the same buffer registered with ibv_reg_mr_iova2() at an
 *             IOVA far from its address (same page offset): RDMA addressed
 *             by IOVA reaches the right bytes;
 *  thp        4 MiB at a 2 MiB boundary with MADV_HUGEPAGE: whatever page
 *             size the layout allows (computed from pagemap, as for every
 *             case here) is what rxe reports; RDMA across the 2 MiB
 *             boundary and over all of it;
 *  thp-offset an MR from 4 KiB + 13 to 4 MiB - 100 of such memory: the
 *             first device page starts before the IOVA; RDMA at the MR's
 *             first and last bytes, across 2 MiB, all of it;
 *  contig-sub ibv_reg_mr() of [3 MiB + 4 KiB + 7, +4 MiB + 11) of the
 *             mapping of an 8 MiB contiguous buffer (raw CONTIG_BUF_ALLOC):
 *             pinned like any memory, one 8 MiB device page starting 3 MiB
 *             before the IOVA; RDMA as above.
 *
 *   kernel_stock            (SETUP loop)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kt.h"

#define TIMEOUT_MS 30000

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct t_loop loop;
static uint64_t page_size_cap;
static const char *dev;

/*
 * Fault the pages of [p, p + len) in: the even ones first, then the odd
 * ones, so that an allocator handing out consecutive frames in either
 * direction gives no two neighbouring pages consecutive frames.
 */
static void touch_interleaved(uint8_t *p, size_t len)
{
	uintptr_t first = (uintptr_t)p & ~(uintptr_t)4095;
	size_t n = ((uintptr_t)p + len - first + 4095) / 4096, i;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		for (i = pass; i < n; i += 2) {
			uintptr_t a = first + i * 4096;

			if (a < (uintptr_t)p)
				a = (uintptr_t)p;
			*(volatile uint8_t *)a = 1;
		}
	}
}

/* Neighbouring pages of [p, p + len) that are physically consecutive. */
static long consecutive_pairs(const void *p, size_t len)
{
	uintptr_t start = (uintptr_t)p & ~(uintptr_t)4095;
	size_t n = ((uintptr_t)p + len - start + 4095) / 4096, i;
	uint64_t *pfn = calloc(n, sizeof(*pfn));
	long pairs = 0;

	if (!pfn || kt_pagemap((void *)start, n, pfn)) {
		free(pfn);
		return -1;
	}
	for (i = 1; i < n; i++)
		if (pfn[i] && pfn[i] == pfn[i - 1] + 1)
			pairs++;
	free(pfn);
	return pairs;
}

/*
 * The MR's driver attributes against the page size its layout allows;
 * want_4k: the layout was made so that only 4 KiB pages are possible.
 */
static void check_pages(struct ibv_mr *mr, const void *addr, size_t len,
			uint64_t iova, const char *name, bool want_4k)
{
	uint64_t want_ps, want_ent = 0, ps = 0, ent = 0;
	char line[1024];
	int ret;

	want_ps = kt_umem_pgsz(addr, len, iova, page_size_cap, &want_ent);
	ret = t_rdma_mr_pages(dev, "lkey", mr->lkey, &ps, &ent, line,
			      sizeof(line));
	if (ret >= 0)
		t_diag("rdma: %s", line);
	t_ok(ret == 0 && ps == want_ps && ent == want_ent,
	     "%s: rdma resource show mr -dd: drv_page_size %" PRIu64
	     " drv_map_entries %" PRIu64 " (the layout allows %" PRIu64
	     " and %" PRIu64 ")", name, ps, ent, want_ps, want_ent);
	if (want_4k)
		t_ok(ret == 0 && ps == 4096 &&
			     ent == ((uintptr_t)addr % 4096 + len + 4095) / 4096,
		     "%s: page size 4096, one entry per page", name);
}

static bool verify(struct ibv_mr *mr, size_t off, size_t len, uint64_t seed)
{
	return !t_loop_verify(&loop, mr, off, len, seed, TIMEOUT_MS);
}

static void test_scattered(void)
{
	const size_t len = KT_MIB;
	struct ibv_mr *mr;
	long pairs;
	uint8_t *p;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		t_bail("mmap: %s", strerror(errno));
	madvise(p, len, MADV_NOHUGEPAGE);
	touch_interleaved(p, len);
	pairs = consecutive_pairs(p, len);
	t_diag("scattered: %ld of 255 neighbouring page pairs physically "
	       "consecutive%s", pairs, pairs ? ": 4 KiB pages not forced, "
	       "only the page size the layout allows is checked" : "");

	mr = ibv_reg_mr(pd, p, len, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "scattered: ibv_reg_mr of 1 MiB (256 pages)")) {
		munmap(p, len);
		return;
	}
	check_pages(mr, p, len, (uintptr_t)p, "scattered", pairs == 0);
	t_ok(verify(mr, 0, len, 0xa1), "scattered: RDMA READ and WRITE of "
	     "the whole 1 MiB");
	t_ok(verify(mr, len - 1, 1, 0xa2) && verify(mr, len - 64, 64, 0xa3),
	     "scattered: the last byte and the last 64 bytes (copy ends on "
	     "the last entry of a full map array)");
	t_ok(verify(mr, 4096 - 3, 6, 0xa4) && verify(mr, 8192 - 5, 4096 + 10,
						      0xa5),
	     "scattered: across one and across two 4 KiB boundaries");
	t_errno_is(ibv_dereg_mr(mr), 0, "scattered: ibv_dereg_mr");
	munmap(p, len);
}

static void test_malloc(void)
{
	const size_t len = 300000;
	uint8_t *raw, *p;
	struct ibv_mr *mr;
	uint64_t iova;
	long pairs;
	struct t_buf b;
	bool ok;

	raw = malloc(len + 64);
	if (!raw)
		t_bail("malloc");
	p = raw + 13;
	if (!((uintptr_t)p % 4096))
		p++;
	touch_interleaved(p, len);
	pairs = consecutive_pairs(p, len);
	t_diag("malloc: buffer at %p (page offset %lu), %zu bytes, %ld "
	       "neighbouring page pairs physically consecutive%s", (void *)p,
	       (unsigned long)((uintptr_t)p % 4096), len, pairs,
	       pairs ? ": 4 KiB pages not forced" : "");

	mr = ibv_reg_mr(pd, p, len, KT_ACCESS_ALL);
	if (t_ok(mr != NULL, "malloc: ibv_reg_mr at an odd address")) {
		check_pages(mr, p, len, (uintptr_t)p, "malloc", pairs == 0);
		t_ok(verify(mr, 0, len, 0xb1), "malloc: RDMA READ and WRITE of "
		     "all %zu bytes", len);
		t_ok(verify(mr, 0, 1, 0xb2) && verify(mr, len - 1, 1, 0xb3) &&
			     verify(mr, 4096 - (uintptr_t)p % 4096 - 2, 4, 0xb4),
		     "malloc: first byte, last byte, across the first page "
		     "boundary");
		t_errno_is(ibv_dereg_mr(mr), 0, "malloc: ibv_dereg_mr");
	}

	/* IOVA far from the address, same offset in the page. */
	iova = UINT64_C(0x500000000000) + (uintptr_t)p % 4096;
	mr = ibv_reg_mr_iova2(pd, p, len, iova, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "iova: ibv_reg_mr_iova2 at IOVA 0x%" PRIx64,
		  iova)) {
		t_diag("%s", strerrorname_np(errno));
		free(raw);
		return;
	}
	check_pages(mr, p, len, iova, "iova", false);
	if (t_buf_alloc(&b, pd, len, IBV_ACCESS_LOCAL_WRITE))
		t_bail("bounce buffer");
	t_fill(p, len, 0xb5, 0);
	ok = !t_loop_rdma(&loop, IBV_WR_RDMA_READ, b.addr, b.mr->lkey, iova,
			  mr->rkey, len, TIMEOUT_MS) &&
	     t_check(b.addr, len, 0xb5, 0) < 0;
	t_ok(ok, "iova: RDMA READ by IOVA returns the buffer's bytes");
	t_fill(b.addr, len, 0xb6, 0);
	ok = !t_loop_rdma(&loop, IBV_WR_RDMA_WRITE, b.addr, b.mr->lkey, iova,
			  mr->rkey, len, TIMEOUT_MS) &&
	     t_check(p, len, 0xb6, 0) < 0;
	t_ok(ok, "iova: RDMA WRITE by IOVA lands in the buffer");
	t_fill(b.addr, 1, 0xb7, len - 1);
	ok = !t_loop_rdma(&loop, IBV_WR_RDMA_WRITE, b.addr, b.mr->lkey,
			  iova + len - 1, mr->rkey, 1, TIMEOUT_MS) &&
	     t_check(p + len - 1, 1, 0xb7, len - 1) < 0 &&
	     t_check(p, len - 1, 0xb6, 0) < 0;
	t_ok(ok, "iova: a WRITE to the last IOVA changes the last byte only");
	t_buf_free(&b);
	t_errno_is(ibv_dereg_mr(mr), 0, "iova: ibv_dereg_mr");
	free(raw);
}

static void test_thp(void)
{
	const size_t len = 4 * KT_MIB;
	long long c0, c1;
	struct ibv_mr *mr;
	uint8_t *p;

	p = aligned_alloc(2 * KT_MIB, len);
	if (!p)
		t_bail("aligned_alloc");
	madvise(p, len, MADV_HUGEPAGE);
	memset(p, 0, len);
	c0 = t_phys_contig_bytes(p, 2 * KT_MIB, NULL);
	c1 = t_phys_contig_bytes(p + 2 * KT_MIB, 2 * KT_MIB, NULL);
	t_diag("thp: physically consecutive from the start of each 2 MiB "
	       "half: %lld and %lld bytes (%s)", c0, c1,
	       c0 == (long long)(2 * KT_MIB) && c1 == c0 ?
		       "transparent huge pages" : "no huge pages");

	mr = ibv_reg_mr(pd, p, len, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "thp: ibv_reg_mr of 4 MiB")) {
		free(p);
		return;
	}
	check_pages(mr, p, len, (uintptr_t)p, "thp", false);
	t_ok(verify(mr, 2 * KT_MIB - 100, 200, 0xc1) &&
		     verify(mr, len - 1, 1, 0xc2),
	     "thp: across the 2 MiB boundary and the last byte");
	t_ok(verify(mr, 0, len, 0xc3), "thp: RDMA READ and WRITE of all 4 MiB");
	t_errno_is(ibv_dereg_mr(mr), 0, "thp: ibv_dereg_mr");
	free(p);
}

/*
 * An MR that starts and ends inside huge pages: the first device page
 * begins before the IOVA (mr->offset is the IOVA's offset into it).
 */
static void test_thp_offset(void)
{
	const size_t len = 4 * KT_MIB;
	size_t off = 4096 + 13, mlen = len - off - 100;
	struct ibv_mr *mr;
	uint8_t *p;

	p = aligned_alloc(2 * KT_MIB, len);
	if (!p)
		t_bail("aligned_alloc");
	madvise(p, len, MADV_HUGEPAGE);
	memset(p, 0, len);
	mr = ibv_reg_mr(pd, p + off, mlen, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "thp-offset: ibv_reg_mr of [4 KiB + 13, "
		  "4 MiB - 100) of huge pages")) {
		free(p);
		return;
	}
	check_pages(mr, p + off, mlen, (uintptr_t)(p + off), "thp-offset",
		    false);
	t_ok(verify(mr, 0, 1, 0xd1) && verify(mr, 0, 4096, 0xd2) &&
		     verify(mr, mlen - 1, 1, 0xd3) &&
		     verify(mr, mlen - 4096, 4096, 0xd4),
	     "thp-offset: the MR's first and last byte and 4 KiB");
	t_ok(verify(mr, 2 * KT_MIB - off - 50, 100, 0xd5),
	     "thp-offset: across the 2 MiB boundary");
	t_ok(verify(mr, 0, mlen, 0xd6), "thp-offset: all of it");
	t_errno_is(ibv_dereg_mr(mr), 0, "thp-offset: ibv_dereg_mr");
	free(p);
}

/*
 * An ordinary MR over part of a contiguous buffer's mapping: ib_umem_get()
 * pins the mapping's pages like any others, and the device page can be
 * larger than the MR and start well before its IOVA.
 */
static void test_contig_sub(void)
{
	const size_t len = 8 * KT_MIB;
	size_t off = 3 * KT_MIB + 4096 + 7, mlen = 4 * KT_MIB + 11;
	struct ibv_mr *mr;
	struct kt_buf b;
	uint8_t *p;

	if (!t_errno_is(kt_buf_new(ctx, len, &b), 0,
			"contig-sub: contiguous buffer of 8 MiB, mapped"))
		return;
	p = b.addr;
	mr = ibv_reg_mr(pd, p + off, mlen, KT_ACCESS_ALL);
	if (t_ok(mr != NULL, "contig-sub: ibv_reg_mr of [3 MiB + 4 KiB + 7, "
		 "+4 MiB + 11) of it")) {
		check_pages(mr, p + off, mlen, (uintptr_t)(p + off),
			    "contig-sub", false);
		t_ok(verify(mr, 0, 1, 0xe1) && verify(mr, mlen - 1, 1, 0xe2) &&
			     verify(mr, 4 * KT_MIB - off - 30, 60, 0xe3),
		     "contig-sub: first byte, last byte, across 4 MiB");
		t_ok(verify(mr, 0, mlen, 0xe4), "contig-sub: all of it");
		t_errno_is(ibv_dereg_mr(mr), 0, "contig-sub: ibv_dereg_mr");
	}
	t_ok(!kt_buf_release(&b), "contig-sub: FREE, close, munmap");
}

int main(void)
{
	struct ibv_device_attr attr;

	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	t_dev_setup(getenv("CMR_RXE"), &ctx, &pd, &loop);
	dev = ibv_get_device_name(ctx->device);
	if (ibv_query_device(ctx, &attr))
		t_bail("ibv_query_device");
	page_size_cap = attr.page_size_cap;
	if (kt_raw_init(ctx))
		t_bail("uverbs driver id");

	test_scattered();
	test_malloc();
	test_thp();
	test_thp_offset();
	test_contig_sub();

	t_dev_teardown(ctx, pd, &loop);
	return t_done();
}
