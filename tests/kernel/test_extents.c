// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_extents: a buffer made of several physically contiguous extents,
 * through the public API (ibv_alloc_contig_buf() with
 * IBV_CONTIG_MR_ATTR_MIN_EXTENT) on the series' kernel, SETUP loop (rxe).
 *
 *   kernel_extents [--needs-mem SIZE] [--expect-extents] LENGTH MIN_EXTENT
 *
 * For the buffer it asserts:
 *  - the allocation succeeds; ibv_query_contig_buf() reports the extent
 *    size E: the length (one range) or a power of two >= MIN_EXTENT, and
 *    an alignment of E; with --expect-extents, E < LENGTH (the caller
 *    knows that no single aligned range fits, see CMakeLists.txt);
 *  - the mapping is virtually contiguous and aligned to E; pagemap shows
 *    every extent physically contiguous and its physical start aligned to
 *    E; the memory is zeroed (first and last 4 KiB of every extent);
 *  - one MR over all of it (ibv_reg_mr()) gets device pages of
 *    min(E, largest device page), ceil(LENGTH / that) entries, per
 *    `rdma resource show mr -dd`;
 *  - RDMA READ and WRITE of 8 KiB across every extent boundary, and at
 *    both ends, move the data byte for byte;
 *  - after ibv_dereg_mr() and ibv_free_contig_buf() every frame of every
 *    extent is free again (/proc/kpagecount).
 * And at the raw ioctl: MIN_EXTENT that is not a power of two, below the
 * page size or absurdly large is EINVAL, with nothing left behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <infiniband/verbs_contig.h>

#include "kt.h"

struct ext_test {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct t_loop loop;
	uint64_t page_size_cap;
};

static void check_bad_min_extent(struct ext_test *t)
{
	static const uint64_t bad[] = {
		0, 2048, 3 * 4096, 4096 + 1, UINT64_MAX,
	};
	int fds = kt_fd_count(NULL), ret;
	struct cmr_buf_alloc_in in = { .length = 4 * KT_MIB, .numa_node = -1 };
	struct kt_buf b;
	unsigned int i;

	/* The encoder leaves MIN_EXTENT 0 out: send 0 through the kernel's
	 * own check by asking for a 1 byte extent instead. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		in.min_extent = bad[i] ? bad[i] : 1;
		ret = kt_raw_alloc_in(t->ctx, &in, &b);
		t_errno_is(ret, EINVAL, "raw ALLOC with MIN_EXTENT 0x%" PRIx64,
			   bad[i]);
		if (!ret)
			kt_buf_release(&b);
	}
	t_ok(kt_fd_count(NULL) == fds, "no fd left behind by the refused "
	     "requests");

	/* Larger than the buffer: valid, and means one range. */
	in.min_extent = UINT64_C(1) << 63;
	ret = kt_raw_alloc_in(t->ctx, &in, &b);
	t_ok(!ret && b.extent_size == b.length, "raw ALLOC with MIN_EXTENT "
	     "2^63: one range, RESP_EXTENT_SIZE == RESP_LENGTH (%s)",
	     strerrorname_np(ret));
	if (!ret)
		kt_buf_release(&b);
}

/* Every extent contiguous and aligned; returns the PFNs or NULL. */
static uint64_t *check_layout(const struct ibv_contig_buf *buf, uint64_t ext,
			      uint64_t nr_ext, uint64_t align)
{
	uint64_t *pfn = calloc(nr_ext, sizeof(*pfn));
	uint64_t i, off, len, bad = 0;
	const uint8_t *p;

	if (!pfn)
		t_bail("out of memory");
	for (i = 0; i < nr_ext; i++) {
		off = i * ext;
		len = buf->length - off < ext ? buf->length - off : ext;
		p = (const uint8_t *)buf->addr + off;
		if (t_phys_contig_bytes(p, len, &pfn[i]) != (long long)len ||
		    (pfn[i] * 4096) % align || t_check_zero(p, 4096) >= 0 ||
		    t_check_zero(p + len - 4096, 4096) >= 0) {
			if (bad++ < 4)
				t_diag("extent %" PRIu64 " at PFN 0x%" PRIx64
				       ": not contiguous, aligned or zeroed",
				       i, pfn[i]);
		}
	}
	t_ok(!bad, "pagemap: each of the %" PRIu64 " extents physically "
	     "contiguous, its start aligned to 0x%" PRIx64 ", zeroed at both "
	     "ends", nr_ext, align);
	for (i = 0; i < nr_ext && i < 20; i++)
		t_diag("extent %" PRIu64 ": PA 0x%" PRIx64, i, pfn[i] * 4096);
	return pfn;
}

static void check_mr(struct ext_test *t, struct ibv_contig_buf *buf,
		     uint64_t ext, uint64_t nr_ext, uint64_t align)
{
	uint64_t cap = kt_pow2_floor(t->page_size_cap), floor_ps;
	uint64_t want_ps, ps = 0, ent = 0, want_ent = 0, i, n = 4096;
	struct ibv_mr *mr;
	char line[1024];
	double t0 = t_now();
	int ret, bad = 0;

	mr = ibv_reg_mr(t->pd, buf->addr, buf->length, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "ibv_reg_mr over all %zu bytes in %.2f s",
		  buf->length, t_now() - t0)) {
		t_diag("ibv_reg_mr: %s", strerrorname_np(errno));
		return;
	}
	/*
	 * What ib_umem_find_best_pgsz() must pick for this layout, which is
	 * at least the extent size (up to the device's largest page), and
	 * may be more where neighbouring extents happen to agree further.
	 */
	want_ps = kt_umem_pgsz(buf->addr, buf->length, (uintptr_t)buf->addr,
			       t->page_size_cap, &want_ent);
	floor_ps = kt_pow2_floor(nr_ext > 1 ? ext : align);
	if (floor_ps > cap)
		floor_ps = cap;
	ret = t_rdma_mr_pages(ibv_get_device_name(t->ctx->device), "lkey",
			      mr->lkey, &ps, &ent, line, sizeof(line));
	if (ret >= 0)
		t_diag("rdma: %s", line);
	t_ok(!ret && ps == want_ps && ent == want_ent && ps >= floor_ps,
	     "rdma resource show mr -dd: drv_page_size %" PRIu64
	     " drv_map_entries %" PRIu64 " (expected %" PRIu64 " and %" PRIu64
	     " for this layout; at least 0x%" PRIx64 " pages)", ps, ent,
	     want_ps, want_ent, floor_ps);

	if (t_loop_verify(&t->loop, mr, 0, n, 0x71, 20000) ||
	    t_loop_verify(&t->loop, mr, buf->length - n, n, 0x72, 20000))
		bad++;
	for (i = 1; i < nr_ext; i++)
		if (t_loop_verify(&t->loop, mr, i * ext - n, 2 * n, 0x73 + i,
				  20000))
			bad++;
	t_ok(!bad, "RDMA READ and WRITE across each of the %" PRIu64
	     " extent boundaries (8 KiB) and at both ends, data checked",
	     nr_ext - 1);
	t_errno_is(ibv_dereg_mr(mr), 0, "ibv_dereg_mr");
}

static void test_extents(struct ext_test *t, uint64_t len, uint64_t min_ext,
			 bool expect_extents)
{
	struct ibv_alloc_contig_mr_attr attr = {
		.comp_mask = IBV_CONTIG_MR_ATTR_MIN_EXTENT |
			     IBV_CONTIG_MR_ATTR_POLICY,
		.policy = IBV_CONTIG_MR_POLICY_CONTIG,
		.min_extent = min_ext,
	};
	struct ibv_contig_mr_info info = { 0 };
	uint64_t ext, nr_ext, i, in_use, unexplained, bad = 0, *pfn;
	struct ibv_contig_buf *buf;
	double t0 = t_now();
	char name[64];
	int ret;

	kt_size_str(len, name, sizeof(name));
	ret = ibv_alloc_contig_buf(t->pd, len, &attr, &buf);
	if (!t_errno_is(ret, 0, "ibv_alloc_contig_buf(%s, min_extent 0x%"
			PRIx64 ") in %.2f s", name, min_ext, t_now() - t0)) {
		t_diag("free memory %lld kB", t_free_mem_kb());
		return;
	}
	ret = ibv_query_contig_buf(buf, &info);
	ext = info.contig_extent;
	t_diag("length %" PRIu64 " extent 0x%" PRIx64 " alignment 0x%" PRIx64
	       " at %p", info.length, ext, info.alignment, buf->addr);
	t_ok(!ret && info.length == len &&
		     (ext == len ||
		      (ext >= min_ext && ext < len && !(ext & (ext - 1)))),
	     "ibv_query_contig_buf: extent size 0x%" PRIx64 ": the length, "
	     "or a power of two >= min_extent", ext);
	if (expect_extents)
		t_ok(ext < len, "made of extents (no aligned range of the "
		     "whole length exists in this guest's memory map)");
	if (ret || !ext) {
		ibv_free_contig_buf(buf);
		return;
	}
	nr_ext = (len + ext - 1) / ext;
	if (nr_ext > 1)
		t_ok(info.alignment == ext &&
			     !((uintptr_t)buf->addr & (ext - 1)),
		     "alignment == extent size, the mapping aligned to it");

	pfn = check_layout(buf, ext, nr_ext, info.alignment);
	check_mr(t, buf, ext, nr_ext, info.alignment);

	t0 = t_now();
	t_errno_is(ibv_free_contig_buf(buf), 0, "ibv_free_contig_buf (%.2f s)",
		   t_now() - t0);
	for (i = 0; i < nr_ext; i++) {
		uint64_t n = (len - i * ext < ext ? len - i * ext : ext) / 4096;

		in_use = unexplained = 0;
		if (!pfn[i] || kt_kpage_scan(pfn[i], n, &in_use, &unexplained) ||
		    unexplained)
			bad++;
	}
	t_ok(!bad, "every frame of every extent free again (/proc/kpagecount)");
	free(pfn);
}

int main(int argc, char **argv)
{
	struct ibv_device_attr dattr;
	uint64_t need = 0, len, min_ext;
	bool expect_extents = false;
	struct ext_test t;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--needs-mem") && i + 1 < argc) {
			if (t_parse_size(argv[++i], &need))
				t_bail("bad size %s", argv[i]);
		} else if (!strcmp(argv[i], "--expect-extents")) {
			expect_extents = true;
		} else {
			t_bail("unknown option %s", argv[i]);
		}
	}
	if (argc - i != 2 || t_parse_size(argv[i], &len) ||
	    t_parse_size(argv[i + 1], &min_ext))
		t_bail("usage: %s [--needs-mem SIZE] [--expect-extents] LENGTH "
		       "MIN_EXTENT", argv[0]);
	if (need && (uint64_t)t_meminfo_kb("MemTotal") * 1024 < need)
		t_skip_all("the guest has %lld kB, this test needs %" PRIu64
			   " MiB", t_meminfo_kb("MemTotal"), need >> 20);

	memset(&t, 0, sizeof(t));
	t_dev_setup(getenv("CMR_RXE"), &t.ctx, &t.pd, NULL);
	if (ibv_query_device(t.ctx, &dattr))
		t_bail("ibv_query_device: %s", strerror(errno));
	t.page_size_cap = dattr.page_size_cap;
	if (kt_raw_init(t.ctx))
		t_bail("uverbs driver id");
	if (t_loop_create(&t.loop, t.pd))
		t_bail("loopback QP pair");
	t_diag("MemTotal %lld kB, free %lld kB, page_size_cap 0x%" PRIx64,
	       t_meminfo_kb("MemTotal"), t_free_mem_kb(), t.page_size_cap);

	check_bad_min_extent(&t);
	test_extents(&t, len, min_ext, expect_extents);

	t_dev_teardown(t.ctx, t.pd, &t.loop);
	return t_done();
}
