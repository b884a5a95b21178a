// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * acct_multi_mr: many MRs over one contiguous buffer through the standard
 * registration path, each with the device pages its layout allows, each
 * moving data byte for byte; and ibv_dereg_mr() on the MR of
 * ibv_alloc_contig_mr().
 *
 * One 64 MiB buffer (ibv_alloc_contig_buf()), five MRs over it on two PDs:
 *
 *  whole       all 64 MiB, PD 0, ibv_reg_contig_buf_mr()
 *  half        the second 32 MiB, PD 1, ibv_reg_mr(), with remote atomics
 *  slice       4 MiB at 10 MiB (2 MiB but not 4 MiB aligned), PD 0,
 *              ibv_reg_mr_iova2() with IOVA = address
 *  unaligned   1 MiB at 4 KiB, PD 1, ibv_reg_mr()
 *  read-only   2 MiB at 48 MiB, PD 0, remote read access only
 *
 * Checked: VmLck shows the buffer once (64 MiB), VmPin every MR (103 MiB);
 * free memory is down by the buffer and not more; each MR's
 * drv_page_size/drv_map_entries (`rdma resource show mr -dd`, kt's parser)
 * are what its physical layout allows (kt_umem_pgsz(), computed from
 * pagemap), at least 2 MiB for the aligned ones; RDMA READ and WRITE
 * through each writable MR, over all of it, byte for byte (t_loop_verify(),
 * on a QP pair of the MR's PD); what was written through "unaligned"
 * reads back through "whole"; the read-only MR answers READ and refuses
 * WRITE; PD 0's QP cannot use PD 1's rkey. ibv_free_contig_buf() with the
 * MRs still registered unmaps and uncharges the buffer (VmLck back), the
 * MRs keep the pages (RDMA READ still returns their data, the memory is
 * still held) until they are deregistered.
 *
 * ibv_dereg_mr() on an MR of ibv_alloc_contig_mr() returns 0 and does not
 * crash; the buffer stays mapped with its data and charged (VmLck), VmPin
 * drops; ibv_free_contig_buf() of the buffer saved with ibv_contig_mr_buf()
 * releases it.
 *
 *   acct_multi_mr       (SETUP loop)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acct.h"

#define BUF_LEN (64 * KT_MIB)
#define MISUSE_LEN (16 * KT_MIB)
#define TIMEOUT_MS 60000
#define SEED 0x6d756c7469ULL

enum reg { REG_BUF, REG_MR, REG_IOVA2 };

struct mr_case {
	const char *name;
	int pd;
	uint64_t off, len;
	unsigned int access;
	enum reg how;
	bool large;		/* the layout allows pages of 2 MiB or more */
};

static const struct mr_case cases[] = {
	{ "whole", 0, 0, 64 * KT_MIB, KT_ACCESS_ALL, REG_BUF, true },
	{ "half", 1, 32 * KT_MIB, 32 * KT_MIB,
	  KT_ACCESS_ALL | IBV_ACCESS_REMOTE_ATOMIC, REG_MR, true },
	{ "slice", 0, 10 * KT_MIB, 4 * KT_MIB, KT_ACCESS_ALL, REG_IOVA2, true },
	{ "unaligned", 1, 4 * KT_KIB, 1 * KT_MIB, KT_ACCESS_ALL, REG_MR,
	  false },
	{ "read-only", 0, 48 * KT_MIB, 2 * KT_MIB, IBV_ACCESS_REMOTE_READ,
	  REG_MR, true },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))
#define WHOLE 0
#define UNALIGNED 3
#define READ_ONLY 4

static struct ibv_context *ctx;
static struct ibv_pd *pd[2];
static struct t_loop loop[2];
static const char *dev;
static uint64_t page_size_cap;
static long long tol_kb;

static void loop_renew(int i)
{
	t_loop_destroy(&loop[i]);
	if (t_loop_create(&loop[i], pd[i]))
		t_bail("QP pair on PD %d: set-up failed", i);
}

static struct ibv_mr *reg(const struct mr_case *c,
			  struct ibv_contig_buf *buf)
{
	uint8_t *addr = (uint8_t *)buf->addr + c->off;

	switch (c->how) {
	case REG_BUF:
		return ibv_reg_contig_buf_mr(pd[c->pd], buf, addr, c->len,
					     c->access);
	case REG_MR:
		return ibv_reg_mr(pd[c->pd], addr, c->len, c->access);
	case REG_IOVA2:
		return ibv_reg_mr_iova2(pd[c->pd], addr, c->len,
					(uintptr_t)addr, c->access);
	}
	return NULL;
}

static void check_pages(const struct mr_case *c, struct ibv_mr *mr)
{
	uint64_t want_ps, want_ent = 0, ps = 0, ent = 0;
	char line[1024];
	int ret;

	want_ps = kt_umem_pgsz(mr->addr, mr->length, (uintptr_t)mr->addr,
			       page_size_cap, &want_ent);
	ret = t_rdma_mr_pages(dev, "lkey", mr->lkey, &ps, &ent, line,
			      sizeof(line));
	if (ret >= 0)
		t_diag("rdma: %s", line);
	t_ok(ret == 0 && want_ps && ps == want_ps && ent == want_ent,
	     "%s: drv_page_size %" PRIu64 " drv_map_entries %" PRIu64
	     " (the layout allows %" PRIu64 " and %" PRIu64 ")", c->name, ps,
	     ent, want_ps, want_ent);
	if (c->large)
		t_ok(ret == 0 && ps >= 2 * KT_MIB,
		     "%s: large device pages (%" PRIu64 " bytes)", c->name, ps);
}

/* RDMA READ of len bytes at remote through l into a bounce buffer. */
static int read_back(struct t_loop *l, uint64_t remote, uint32_t rkey,
		     size_t len, uint64_t seed, uint64_t off)
{
	struct t_buf b;
	int ret = -1;

	if (t_buf_alloc(&b, l->pd, len, IBV_ACCESS_LOCAL_WRITE))
		return -1;
	if (!t_loop_rdma(l, IBV_WR_RDMA_READ, b.addr, b.mr->lkey, remote,
			 rkey, len, TIMEOUT_MS) &&
	    t_check(b.addr, len, seed, off) < 0)
		ret = 0;
	t_buf_free(&b);
	return ret;
}

static void check_read_only(const struct mr_case *c, struct ibv_mr *mr)
{
	struct t_loop *l = &loop[c->pd];
	struct t_buf b;
	int ret;

	t_fill(mr->addr, mr->length, SEED + READ_ONLY, 0);
	t_ok(!read_back(l, (uintptr_t)mr->addr, mr->rkey, mr->length,
			SEED + READ_ONLY, 0),
	     "%s: RDMA READ of all of it, byte for byte", c->name);
	if (t_buf_alloc(&b, l->pd, 4096, IBV_ACCESS_LOCAL_WRITE))
		t_bail("bounce buffer");
	ret = t_loop_rdma(l, IBV_WR_RDMA_WRITE, b.addr, b.mr->lkey,
			  (uintptr_t)mr->addr, mr->rkey, 4096, TIMEOUT_MS);
	t_buf_free(&b);
	t_ok(ret != 0 && t_check(mr->addr, 4096, SEED + READ_ONLY, 0) < 0,
	     "%s: RDMA WRITE refused, the data unchanged", c->name);
	loop_renew(c->pd);
}

static void test_multi(void)
{
	struct ibv_contig_mr_info info;
	struct ibv_contig_buf *buf;
	struct ibv_mr *mr[NCASES];
	long long base, lck0, pin0, drop;
	uint64_t pinned = 0;
	unsigned int i;
	void *addr;
	int ret;

	base = t_free_mem_kb();
	lck0 = t_status_kb(0, "VmLck");
	pin0 = t_status_kb(0, "VmPin");
	ret = acct_buf_alloc(pd[0], BUF_LEN, -1, 0, &buf);
	if (!t_errno_is(ret, 0, "ibv_alloc_contig_buf() of 64 MiB"))
		return;
	addr = buf->addr;
	memset(&info, 0, sizeof(info));
	if (!ibv_query_contig_buf(buf, &info))
		t_diag("buffer at %p: length %" PRIu64 ", alignment 0x%" PRIx64
		       ", contiguous extent %" PRIu64, addr, info.length,
		       info.alignment, info.contig_extent);
	t_ok(kt_populate(addr, BUF_LEN) == 0,
	     "every page of the buffer mapped");

	for (i = 0; i < NCASES; i++) {
		mr[i] = reg(&cases[i], buf);
		if (!t_ok(mr[i] != NULL, "%s: %s on PD %d, [%" PRIu64 " KiB, +%"
			  PRIu64 " KiB), access 0x%x%s%s", cases[i].name,
			  cases[i].how == REG_BUF ? "ibv_reg_contig_buf_mr" :
			  cases[i].how == REG_MR ? "ibv_reg_mr" :
						   "ibv_reg_mr_iova2",
			  cases[i].pd, cases[i].off / KT_KIB,
			  cases[i].len / KT_KIB, cases[i].access,
			  mr[i] ? "" : ": ", mr[i] ? "" : strerror(errno)))
			t_bail("registration failed");
		pinned += cases[i].len;
	}
	t_ok(t_status_kb(0, "VmLck") - lck0 == (long long)(BUF_LEN / KT_KIB),
	     "VmLck shows the buffer once: +%lld kB",
	     t_status_kb(0, "VmLck") - lck0);
	t_ok(t_status_kb(0, "VmPin") - pin0 == (long long)(pinned / KT_KIB),
	     "VmPin shows every MR: +%lld kB (want %" PRIu64 ")",
	     t_status_kb(0, "VmPin") - pin0, pinned / KT_KIB);
	drop = base - t_free_mem_kb();
	t_ok(drop >= (long long)(BUF_LEN / KT_KIB) - tol_kb &&
	     drop <= (long long)(BUF_LEN / KT_KIB) + tol_kb,
	     "free memory down by the buffer only: %lld kB (tolerance %lld)",
	     drop, tol_kb);

	for (i = 0; i < NCASES; i++)
		check_pages(&cases[i], mr[i]);

	for (i = 0; i < NCASES; i++) {
		if (i == READ_ONLY)
			continue;
		t_ok(!t_loop_verify(&loop[cases[i].pd], mr[i], 0,
				    cases[i].len, SEED + i, TIMEOUT_MS),
		     "%s: RDMA READ and WRITE of all %" PRIu64 " KiB, byte for "
		     "byte", cases[i].name, cases[i].len / KT_KIB);
	}
	/* t_loop_verify() leaves ~seed in the MR: read it through "whole". */
	t_ok(!read_back(&loop[0], (uintptr_t)mr[UNALIGNED]->addr,
			mr[WHOLE]->rkey, cases[UNALIGNED].len,
			~(SEED + UNALIGNED), 0),
	     "what was written through unaligned (PD 1) reads back through "
	     "whole (PD 0)");
	check_read_only(&cases[READ_ONLY], mr[READ_ONLY]);
	ret = read_back(&loop[0], (uintptr_t)mr[1]->addr, mr[1]->rkey, 4096,
			~(SEED + 1), 0);
	t_ok(ret != 0, "PD 0's QP cannot use the rkey of half (PD 1)");
	loop_renew(0);

	t_errno_is(ibv_free_contig_buf(buf), 0,
		   "ibv_free_contig_buf() with five MRs registered");
	t_ok(!t_is_mapped(addr, 4096), "the buffer is unmapped");
	t_ok(t_status_kb(0, "VmLck") == lck0, "VmLck back to %lld kB", lck0);
	t_free_mem_held("MRs alone hold the pages", base, BUF_LEN, tol_kb);
	t_ok(!read_back(&loop[1], (uintptr_t)mr[UNALIGNED]->addr,
			mr[UNALIGNED]->rkey, cases[UNALIGNED].len,
			~(SEED + UNALIGNED), 0),
	     "unaligned: RDMA READ after the buffer was freed returns its "
	     "data");
	for (i = 0; i < NCASES; i++) {
		ret = ibv_dereg_mr(mr[i]);
		if (ret)
			t_diag("%s: ibv_dereg_mr: %s", cases[i].name,
			       strerror(ret));
	}
	t_ok(t_status_kb(0, "VmPin") == pin0, "all deregistered: VmPin back "
	     "to %lld kB", pin0);
	t_free_mem_returned("all deregistered", base, tol_kb, 10);
}

static void test_dereg_misuse(void)
{
	struct ibv_contig_buf *saved;
	long long base, lck0, pin0;
	struct ibv_mr *mr;
	uint8_t *addr;

	base = t_free_mem_kb();
	lck0 = t_status_kb(0, "VmLck");
	pin0 = t_status_kb(0, "VmPin");
	mr = ibv_alloc_contig_mr(pd[0], MISUSE_LEN, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "dereg: ibv_alloc_contig_mr() of 16 MiB%s%s",
		  mr ? "" : ": ", mr ? "" : strerror(errno)))
		return;
	saved = ibv_contig_mr_buf(mr);
	t_ok(saved && saved->addr == mr->addr,
	     "dereg: ibv_contig_mr_buf() names the buffer");
	addr = mr->addr;
	t_fill(addr, MISUSE_LEN, SEED, 0);
	t_errno_is(ibv_dereg_mr(mr), 0, "dereg: ibv_dereg_mr() on it");
	t_ok(t_is_mapped(addr, MISUSE_LEN) &&
	     t_check(addr, MISUSE_LEN, SEED, 0) < 0,
	     "dereg: the buffer stays mapped with its data");
	t_ok(t_status_kb(0, "VmLck") - lck0 ==
		     (long long)(MISUSE_LEN / KT_KIB),
	     "dereg: still charged: VmLck +%lld kB",
	     t_status_kb(0, "VmLck") - lck0);
	t_ok(t_status_kb(0, "VmPin") == pin0, "dereg: VmPin back to %lld kB",
	     pin0);
	t_free_mem_held("dereg: the buffer still holds its memory", base,
			MISUSE_LEN, tol_kb);
	if (!saved)
		return;
	t_errno_is(ibv_free_contig_buf(saved), 0,
		   "dereg: ibv_free_contig_buf() of the saved buffer");
	t_ok(!t_is_mapped(addr, 4096) && t_status_kb(0, "VmLck") == lck0,
	     "dereg: unmapped, VmLck back to %lld kB", lck0);
	t_free_mem_returned("dereg: after ibv_free_contig_buf()", base, tol_kb,
			    10);
}

int main(void)
{
	struct ibv_device_attr attr;
	int i;

	ctx = t_open_device(NULL);
	dev = ibv_get_device_name(ctx->device);
	if (ibv_query_device(ctx, &attr))
		t_bail("ibv_query_device: %s", strerror(errno));
	page_size_cap = attr.page_size_cap;
	t_diag("page_size_cap 0x%" PRIx64, page_size_cap);
	for (i = 0; i < 2; i++) {
		pd[i] = ibv_alloc_pd(ctx);
		if (!pd[i] || t_loop_create(&loop[i], pd[i]))
			t_bail("PD %d and its QP pair: set-up failed", i);
	}
	tol_kb = t_free_mem_tolerance_kb(4096);

	test_multi();
	test_dereg_misuse();

	for (i = 0; i < 2; i++) {
		t_loop_destroy(&loop[i]);
		ibv_dealloc_pd(pd[i]);
	}
	ibv_close_device(ctx);
	return t_done();
}
