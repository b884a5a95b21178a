// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_rdma: data integrity of RDMA READ and RDMA WRITE through MRs
 * over contiguous buffers (raw CONTIG_BUF_ALLOC, mmap() of its fd,
 * ibv_reg_mr() over all of it) on rxe, in every role a region can play:
 *
 *   remote source  the peer READs from the contiguous MR
 *   remote target  the peer WRITEs into it
 *   local target   a READ lands in it
 *   local source   a WRITE is sent from it
 *
 * over windows at page and region boundaries: the first byte, the first
 * 64 bytes, across the first 4 KiB boundary, across 2 MiB, over two 4 KiB
 * boundaries and the 2 MiB one at once, across the middle, across the
 * last 4 KiB boundary, the last 64 bytes, the last byte, and the whole
 * region up to 8 MiB (2 MiB with --pair; above, a stretch of 4 MiB, 1 MiB
 * with --pair, across the middle). Every
 * transfer is compared byte for byte, and the 64 bytes on either side of
 * the window in the target must be unchanged (nothing written outside).
 *
 *   kernel_rdma SIZE...          SETUP loop: one rxe device, a QP pair on
 *                                it; one buffer's MR plays all roles
 *   kernel_rdma --pair SIZE...   SETUP pair: two rxe devices over a veth;
 *                                side 0 issues the requests, a buffer's MR
 *                                on side 1 is remote, one on side 0 is
 *                                local
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmr_pair.h"
#include "kt.h"

#define GUARD 64
#define TIMEOUT_MS 30000

static bool use_pair;
static struct t_pair pair;
static struct t_loop loop;
static struct ibv_context *loop_ctx;
static struct ibv_pd *loop_pd;

static struct ibv_pd *side_pd(int side)
{
	return use_pair ? pair.side[side].pd : loop_pd;
}

/* Requests are always posted by side 0 (qp[0] in loop mode). */
static int rdma(enum ibv_wr_opcode op, void *local, uint32_t lkey,
		uint64_t remote, uint32_t rkey, size_t len)
{
	if (use_pair)
		return t_pair_rdma(&pair, 0, op, local, lkey, remote, rkey, len,
				   TIMEOUT_MS);
	return t_loop_rdma(&loop, op, local, lkey, remote, rkey, len,
			   TIMEOUT_MS);
}

struct window {
	uint64_t off, len;
	const char *what;
};

/*
 * The whole region is transferred up to whole_max bytes, else a stretch of
 * stretch bytes around the middle: 8 MiB and 4 MiB through rxe's loopback,
 * 2 MiB and 1 MiB over the pair's veth, which moves well under 1 MB/s
 * under TCG.
 */
static uint64_t whole_max = 8 * KT_MIB, stretch = 4 * KT_MIB;

static unsigned int windows(uint64_t L, struct window *w)
{
	unsigned int n = 0;

#define W(o, l, s)                                                             \
	do {                                                                   \
		if ((o) + (l) <= L && (l) > 0)                                 \
			w[n++] = (struct window){ (o), (l), (s) };             \
	} while (0)
	W(0, 1, "first byte");
	W(0, 64, "first 64 bytes");
	if (L > 4096 + 32)
		W(4096 - 32, 64, "across the first 4 KiB boundary");
	if (L > 2 * KT_MIB + 100)
		W(2 * KT_MIB - 100, 200, "across 2 MiB");
	if (L > 2 * KT_MIB + 4096 + 7)
		W(2 * KT_MIB - 4096 - 7, 8192 + 14,
		  "over two 4 KiB boundaries and 2 MiB");
	if (L >= 8192)
		W(L / 2 - 1000, 2000, "across the middle");
	if (L > 4096 + 5)
		W(L - 4096 - 5, 4096 + 5, "across the last 4 KiB boundary");
	W(L - 64, 64, "last 64 bytes");
	W(L - 1, 1, "last byte");
	if (L <= whole_max)
		W(0, L, "the whole region");
	else
		W(L / 2 - stretch / 2, stretch, "a stretch across the middle");
#undef W
	return n;
}

/*
 * Check [off, off + len) of p against seed and the GUARD bytes around it
 * (within [0, size)) against bg. Returns true when all match; diagnostics
 * name the first bad byte.
 */
static bool check_window(const uint8_t *p, uint64_t size, uint64_t off,
			 uint64_t len, uint64_t seed, uint64_t bg)
{
	uint64_t lo = off > GUARD ? off - GUARD : 0;
	uint64_t hi = off + len + GUARD < size ? off + len + GUARD : size;
	long long bad;

	bad = t_check(p + off, len, seed, off);
	if (bad >= 0) {
		t_diag("byte %" PRIu64 " differs: 0x%02x, expected 0x%02x",
		       off + (uint64_t)bad, p[off + bad],
		       t_pattern_byte(seed, off + bad));
		return false;
	}
	bad = t_check(p + lo, off - lo, bg, lo);
	if (bad < 0)
		bad = t_check(p + off + len, hi - off - len, bg, off + len);
	else
		bad += lo;
	if (bad >= 0) {
		t_diag("guard byte changed near the window [%" PRIu64
		       ", +%" PRIu64 ")", off, len);
		return false;
	}
	return true;
}

/* Fill [off - GUARD, off + len + GUARD) ∩ [0, size) with bg. */
static void fill_bg(uint8_t *p, uint64_t size, uint64_t off, uint64_t len,
		    uint64_t bg)
{
	uint64_t lo = off > GUARD ? off - GUARD : 0;
	uint64_t hi = off + len + GUARD < size ? off + len + GUARD : size;

	t_fill(p + lo, hi - lo, bg, lo);
}

/*
 * The peer buffer: an ordinary registered buffer of max window + 2 GUARD
 * bytes; window data sits at offset GUARD in it, patterns are computed
 * for the offset the window has in the contiguous region, so expected
 * data is the same on both sides. The bounce buffer b is on side 0 for
 * the remote roles and on side 1 for the local roles.
 */
static int run_roles(struct ibv_mr *remote_mr, struct ibv_mr *local_mr,
		     uint64_t L, const char *name, uint64_t salt)
{
	struct window w[16];
	unsigned int n = windows(L, w), i;
	uint64_t max = 0, seed, bg;
	struct t_buf b0, b1;
	uint8_t *rc = remote_mr->addr, *lc = local_mr->addr;
	unsigned int fails = 0;
	double t0 = t_now();
	uint64_t bytes = 0;

	for (i = 0; i < n; i++)
		if (w[i].len > max)
			max = w[i].len;
	if (t_buf_alloc(&b0, side_pd(0), max + 2 * GUARD, KT_ACCESS_ALL))
		return -1;
	if (t_buf_alloc(&b1, side_pd(1), max + 2 * GUARD, KT_ACCESS_ALL)) {
		t_buf_free(&b0);
		return -1;
	}

	for (i = 0; i < n; i++) {
		uint64_t off = w[i].off, len = w[i].len;
		uint8_t *p0 = (uint8_t *)b0.addr + GUARD;
		uint8_t *p1 = (uint8_t *)b1.addr + GUARD;
		bool ok;

		seed = (salt << 32) ^ (i * 16);
		bg = seed ^ 0xbbbbbbbb;
		bytes += 4 * len;

		/* remote source: READ from the contiguous MR into b0 */
		t_fill(rc + off, len, seed + 1, off);
		memset(b0.addr, 0xee, max + 2 * GUARD);
		ok = !rdma(IBV_WR_RDMA_READ, p0, b0.mr->lkey,
			   (uintptr_t)(rc + off), remote_mr->rkey, len);
		ok = ok && t_check(p0, len, seed + 1, off) < 0;
		ok = ok && ((uint8_t *)b0.addr)[GUARD - 1] == 0xee &&
		     p0[len] == 0xee;
		fails += !t_ok(ok, "%s: remote source, READ %s [%" PRIu64
			       ", +%" PRIu64 ")", name, w[i].what, off, len);

		/* remote target: WRITE from b0 into the contiguous MR */
		fill_bg(rc, L, off, len, bg);
		t_fill(p0, len, seed + 2, off);
		ok = !rdma(IBV_WR_RDMA_WRITE, p0, b0.mr->lkey,
			   (uintptr_t)(rc + off), remote_mr->rkey, len);
		ok = ok && check_window(rc, L, off, len, seed + 2, bg);
		fails += !t_ok(ok, "%s: remote target, WRITE %s", name,
			       w[i].what);

		/* local target: READ from b1 into the contiguous MR */
		fill_bg(lc, L, off, len, bg);
		t_fill(p1, len, seed + 3, off);
		ok = !rdma(IBV_WR_RDMA_READ, lc + off, local_mr->lkey,
			   (uintptr_t)p1, b1.mr->rkey, len);
		ok = ok && check_window(lc, L, off, len, seed + 3, bg);
		fails += !t_ok(ok, "%s: local target, READ into %s", name,
			       w[i].what);

		/* local source: WRITE from the contiguous MR into b1 */
		t_fill(lc + off, len, seed + 4, off);
		memset(b1.addr, 0xee, max + 2 * GUARD);
		ok = !rdma(IBV_WR_RDMA_WRITE, lc + off, local_mr->lkey,
			   (uintptr_t)p1, b1.mr->rkey, len);
		ok = ok && t_check(p1, len, seed + 4, off) < 0 &&
		     ((uint8_t *)b1.addr)[GUARD - 1] == 0xee &&
		     p1[len] == 0xee;
		fails += !t_ok(ok, "%s: local source, WRITE from %s", name,
			       w[i].what);
	}
	t_diag("%s: %u windows x 4 roles, %" PRIu64 " bytes moved in %.2f s",
	       name, n, bytes, t_now() - t0);
	t_buf_free(&b1);
	t_buf_free(&b0);
	return fails ? -1 : 0;
}

/* A contiguous buffer on a side, mapped, with an MR over all of it. */
struct side_buf {
	struct kt_buf b;
	struct ibv_mr *mr;
};

static int alloc(int side, uint64_t L, const char *name, struct side_buf *s)
{
	struct ibv_pd *p = side_pd(side);
	double t0 = t_now();

	memset(s, 0, sizeof(*s));
	if (kt_buf_new(p->context, L, &s->b)) {
		t_ok(false, "%s: contiguous buffer on %s", name,
		     ibv_get_device_name(p->context->device));
		return -1;
	}
	s->mr = ibv_reg_mr(p, s->b.addr, L, KT_ACCESS_ALL);
	if (!t_ok(s->mr != NULL, "%s: contiguous buffer and ibv_reg_mr over "
		  "it on %s (%.2f s)", name,
		  ibv_get_device_name(p->context->device), t_now() - t0)) {
		t_diag("ibv_reg_mr: %s", strerrorname_np(errno));
		kt_buf_release(&s->b);
		return -1;
	}
	return 0;
}

static void release(struct side_buf *s, const char *name, const char *what)
{
	t_ok(!ibv_dereg_mr(s->mr) && !kt_buf_release(&s->b),
	     "%s: ibv_dereg_mr and FREE, close, munmap%s", name, what);
}

static void test_size(uint64_t L, uint64_t salt)
{
	struct side_buf remote, local;
	char name[64];

	kt_size_str(L, name, sizeof(name));
	t_diag("---- %s ----", name);
	if (alloc(1, L, name, &remote))
		return;
	if (!use_pair) {
		run_roles(remote.mr, remote.mr, L, name, salt);
	} else if (!alloc(0, L, name, &local)) {
		run_roles(remote.mr, local.mr, L, name, salt);
		release(&local, name, " of the local buffer");
	}
	release(&remote, name, use_pair ? " of the remote buffer" : "");
}

int main(int argc, char **argv)
{
	uint64_t L;
	int i = 1;

	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	if (argc > 1 && !strcmp(argv[1], "--pair")) {
		use_pair = true;
		i++;
	}
	if (i >= argc)
		t_bail("usage: %s [--pair] SIZE...", argv[0]);

	if (use_pair) {
		whole_max = 2 * KT_MIB;
		stretch = KT_MIB;
		if (t_pair_create(&pair, NULL, NULL))
			t_bail("connecting %s and %s", getenv("CMR_RXE1"),
			       getenv("CMR_RXE2"));
		t_diag("side 0 %s (requester) <-> side 1 %s",
		       ibv_get_device_name(pair.side[0].ctx->device),
		       ibv_get_device_name(pair.side[1].ctx->device));
	} else {
		loop_ctx = t_open_device(getenv("CMR_RXE"));
		loop_pd = ibv_alloc_pd(loop_ctx);
		if (!loop_pd || t_loop_create(&loop, loop_pd))
			t_bail("loopback QP pair");
	}
	if (kt_raw_init(side_pd(0)->context))
		t_bail("uverbs driver id");

	for (; i < argc; i++) {
		if (t_parse_size(argv[i], &L))
			t_bail("bad size %s", argv[i]);
		test_size(L, (uint64_t)i);
	}

	if (use_pair) {
		t_diag("rxe counters that are not 0:");
		kt_diag_cmd("cd /sys/class/infiniband && grep -r . "
			    "*/ports/1/hw_counters 2>/dev/null | "
			    "grep -v ':0$'");
		t_pair_destroy(&pair);
	} else {
		t_loop_destroy(&loop);
		t_errno_is(ibv_dealloc_pd(loop_pd), 0, "dealloc the PD");
		ibv_close_device(loop_ctx);
	}
	return t_done();
}
