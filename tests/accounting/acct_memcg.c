// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * acct_memcg: contiguous buffers are charged to the memory cgroup of the
 * task that allocates them, from allocation until their pages are freed,
 * and memory.max turns a request over the limit into ENOMEM, never into an
 * OOM kill.
 *
 * cgroup v2 must be mounted at /sys/fs/cgroup with the memory controller
 * (the guest's runner does it): a kernel without it fails the test, it is
 * not skipped. A child group with memory.max = 96 MiB holds two workers:
 * a bystander with 16 MiB of ordinary anonymous memory (no swap: nothing
 * reclaimable) and the allocator, which takes 32 MiB buffers one at a
 * time. Checked:
 *
 *  - memory.current rises by 32 MiB (-1/+4 MiB) with each buffer, and
 *    memory.stat "kernel" with it;
 *  - MADV_DONTNEED over a buffer does not uncharge it;
 *  - the third (at the latest the fourth) buffer fails with ENOMEM;
 *    memory.events oom_kill stays 0 and both workers are alive;
 *  - after ibv_free_contig_buf() of every buffer memory.current is back
 *    (within 1 MiB: per-CPU charge stock);
 *  - a raw buffer stays charged when its mapping and fd are gone while
 *    the object lives, and is uncharged by CONTIG_BUF_FREE;
 *  - a buffer the allocator still holds when it exits is uncharged too;
 *  - the group is removed at the end.
 *
 *   acct_memcg          (SETUP loop)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acct.h"

#define MAX_BYTES (96 * KT_MIB)
#define BIG (32 * KT_MIB)
#define ANON (16 * KT_MIB)
#define MAX_BUFS 4
#define STEP_TIMEOUT 120.0
#define LOW_TOL (1 * KT_MIB)	/* the charge is per page: nothing missing */
#define HIGH_TOL (4 * KT_MIB)	/* charge stock, slab, page tables */

enum {
	CMD_GO = 'g',		/* start (after the move into the group) */
	CMD_ALLOC = 'a',	/* one more 32 MiB buffer */
	CMD_DONTNEED = 'd',	/* MADV_DONTNEED over the first */
	CMD_FREE = 'f',		/* ibv_free_contig_buf() of all */
	CMD_RAW = 'r',		/* raw: alloc and map */
	CMD_RAW_UNMAP = 'u',	/* raw: munmap and close the fd */
	CMD_RAW_FREE = 'F',	/* raw: CONTIG_BUF_FREE */
	CMD_EXIT = 'x',
};

struct report {
	char setup[160];
	int err;		/* of the last command */
	unsigned int nbufs;
};

static struct report *rep;
static char cg[256];

/* ---- workers ------------------------------------------------------------- */

static void bystander(struct acct_link *l, void *arg)
{
	uint8_t *p;

	(void)arg;
	if (acct_wait(l) != CMD_GO)
		return;
	p = mmap(NULL, ANON, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED)
		memset(p, 0x5a, ANON);
	else
		snprintf(rep->setup, sizeof(rep->setup), "bystander mmap: %s",
			 strerror(errno));
	acct_ack(l);
	acct_wait(l);
}

static void allocator(struct acct_link *l, void *arg)
{
	struct ibv_contig_buf *bufs[MAX_BUFS];
	struct ibv_context *ctx;
	struct ibv_pd *pd = NULL;
	struct kt_buf raw = { .fd = -1 };
	unsigned int i;
	int cmd;

	(void)arg;
	if (acct_wait(l) != CMD_GO)
		return;
	/* Everything from here on is charged to the group. */
	if (acct_open(&ctx, &pd, rep->setup, sizeof(rep->setup)))
		rep->err = ENODEV;
	acct_ack(l);
	while ((cmd = acct_wait(l)) >= 0 && cmd != CMD_EXIT) {
		rep->err = 0;
		switch (cmd) {
		case CMD_ALLOC:
			if (rep->nbufs == MAX_BUFS) {
				rep->err = E2BIG;
				break;
			}
			rep->err = acct_buf_alloc(pd, BIG, -1, 0,
						  &bufs[rep->nbufs]);
			if (!rep->err)
				rep->err = kt_populate(bufs[rep->nbufs]->addr,
						       BIG);
			if (!rep->err)
				rep->nbufs++;
			break;
		case CMD_DONTNEED:
			if (!rep->nbufs ||
			    madvise(bufs[0]->addr, bufs[0]->length,
				    MADV_DONTNEED))
				rep->err = rep->nbufs ? errno : ENOENT;
			break;
		case CMD_FREE:
			for (i = 0; i < rep->nbufs; i++) {
				int ret = ibv_free_contig_buf(bufs[i]);

				if (ret && !rep->err)
					rep->err = ret;
			}
			rep->nbufs = 0;
			break;
		case CMD_RAW:
			rep->err = kt_buf_new(ctx, BIG, &raw);
			break;
		case CMD_RAW_UNMAP:
			rep->err = kt_buf_drop_map(&raw);
			if (!rep->err)
				rep->err = kt_buf_drop_fd(&raw);
			break;
		case CMD_RAW_FREE:
			rep->err = kt_buf_drop_object(&raw);
			break;
		}
		acct_ack(l);
	}
}

/* ---- the test ------------------------------------------------------------ */

static long long current(void)
{
	return acct_cgroup_number(cg, "memory.current");
}

static long long kernel_stat(void)
{
	return acct_cgroup_key(cg, "memory.stat", "kernel");
}

/* Send cmd, wait for the ack; the worker's error, or -1 without an ack. */
static int step(struct acct_link *l, int cmd)
{
	if (!acct_send(l, cmd) || !acct_wait_ack(l, STEP_TIMEOUT))
		return -1;
	return rep->err;
}

/* Start a worker in the group. */
static pid_t start_in_group(struct acct_link *l,
			    void (*fn)(struct acct_link *, void *),
			    const char *what)
{
	bool answered;
	pid_t pid;
	int ret;

	acct_link_init(l);
	pid = acct_spawn(l, fn, NULL);
	ret = acct_cgroup_enter(cg, pid);
	if (!t_ok(!ret, "%s %d moved into %s", what, (int)pid, cg))
		t_bail("cannot place the %s in the group", what);
	rep->setup[0] = '\0';
	answered = acct_send(l, CMD_GO) && acct_wait_ack(l, STEP_TIMEOUT);
	if (!t_ok(answered &&
		  !rep->setup[0], "%s ready%s%s", what,
		  rep->setup[0] ? ": " : "", rep->setup))
		t_bail("the %s did not start", what);
	return pid;
}

static bool rose_by(const char *what, long long before, long long after,
		    uint64_t want)
{
	long long d = after - before;

	return t_ok(d >= (long long)(want - LOW_TOL) &&
		    d <= (long long)(want + HIGH_TOL),
		    "%s: memory.current %lld -> %lld: +%lld kB (want %" PRIu64
		    " kB, -%" PRIu64 "/+%" PRIu64 " kB)", what, before, after,
		    d / 1024, want / KT_KIB, LOW_TOL / KT_KIB,
		    HIGH_TOL / KT_KIB);
}

static bool back_to(const char *what, long long base)
{
	double end = t_now() + 10;
	long long now;

	/* Freed pages are uncharged at once; give RCU-deferred frees time. */
	do {
		now = current();
		if (now >= 0 && now <= base + (long long)LOW_TOL)
			break;
		usleep(100000);
	} while (t_now() < end);
	return t_ok(now >= 0 && now <= base + (long long)LOW_TOL,
		    "%s: memory.current back to %lld (baseline %lld, "
		    "tolerance %" PRIu64 " kB)", what, now, base,
		    LOW_TOL / KT_KIB);
}

int main(void)
{
	struct acct_link la, lb;
	long long base, before, after, kbefore, kafter, oom_kill;
	char value[32];
	unsigned int got = 0;
	pid_t pa, pb;
	int ret = 0, status;

	if (geteuid())
		t_skip_all("needs root (run in the guest)");
	signal(SIGPIPE, SIG_IGN);
	rep = acct_shared(sizeof(*rep));
	if (!acct_cgroup_controller("memory"))
		t_bail("no memory cgroup in this kernel or guest");
	if (acct_cgroup_create("acct-memcg", cg, sizeof(cg)))
		t_bail("cannot create a cgroup");
	snprintf(value, sizeof(value), "%" PRIu64, MAX_BYTES);
	if (!t_ok(!acct_cgroup_write(cg, "memory.max", value),
		  "memory.max of %s = 96 MiB", cg))
		t_bail("cannot set memory.max");
	acct_cgroup_write(cg, "memory.swap.max", "0");

	pb = start_in_group(&lb, bystander, "bystander (16 MiB anonymous)");
	pa = start_in_group(&la, allocator, "allocator");

	base = current();
	t_diag("memory.current with both workers: %lld kB, memory.stat "
	       "kernel %lld kB", base / 1024, kernel_stat() / 1024);
	while (got < MAX_BUFS) {
		char what[64];

		before = current();
		kbefore = kernel_stat();
		ret = step(&la, CMD_ALLOC);
		after = current();
		kafter = kernel_stat();
		if (ret)
			break;
		got++;
		snprintf(what, sizeof(what), "buffer %u of 32 MiB", got);
		rose_by(what, before, after, BIG);
		t_ok(kafter - kbefore >= (long long)(BIG - LOW_TOL),
		     "%s: memory.stat kernel +%lld kB", what,
		     (kafter - kbefore) / 1024);
		if (got == 1) {
			before = current();
			t_errno_is(step(&la, CMD_DONTNEED), 0,
				   "MADV_DONTNEED over buffer 1");
			after = current();
			t_ok(after >= before - (long long)LOW_TOL,
			     "MADV_DONTNEED does not uncharge: memory.current "
			     "%lld -> %lld", before, after);
		}
	}
	t_ok(got == 2 || got == 3, "%u buffers fit under memory.max 96 MiB "
	     "with 16 MiB of the bystander's (want 2 or 3)", got);
	t_errno_is(ret, ENOMEM, "buffer %u: over memory.max", got + 1);
	t_ok(after <= (long long)MAX_BYTES,
	     "memory.current %lld within memory.max", after);
	oom_kill = acct_cgroup_key(cg, "memory.events", "oom_kill");
	t_diag("memory.events: max %lld, oom %lld, oom_kill %lld",
	       acct_cgroup_key(cg, "memory.events", "max"),
	       acct_cgroup_key(cg, "memory.events", "oom"), oom_kill);
	t_ok(oom_kill == 0, "memory.events oom_kill %lld", oom_kill);
	t_ok(acct_alive(pa) && acct_alive(pb),
	     "the allocator and the bystander are alive");

	t_errno_is(step(&la, CMD_FREE), 0, "ibv_free_contig_buf() of all");
	back_to("after freeing", base);

	before = current();
	if (t_errno_is(step(&la, CMD_RAW), 0, "raw: allocate and map 32 MiB")) {
		rose_by("raw buffer", before, current(), BIG);
		t_errno_is(step(&la, CMD_RAW_UNMAP), 0,
			   "raw: munmap and close the fd");
		rose_by("raw buffer, object alone holds it", before, current(),
			BIG);
		t_errno_is(step(&la, CMD_RAW_FREE), 0, "raw: CONTIG_BUF_FREE");
		back_to("raw: after CONTIG_BUF_FREE", before);
	}

	before = current();
	if (t_errno_is(step(&la, CMD_ALLOC), 0, "one more buffer, kept"))
		rose_by("kept buffer", before, current(), BIG);
	acct_send(&la, CMD_EXIT);
	status = acct_reap(pa, 60);
	t_ok(WIFEXITED(status) && !WEXITSTATUS(status),
	     "the allocator exits normally (status 0x%x)", status);
	back_to("after the allocator exited holding a buffer", before);

	acct_send(&lb, CMD_EXIT);
	status = acct_reap(pb, 60);
	t_ok(WIFEXITED(status) && !WEXITSTATUS(status),
	     "the bystander was never killed (status 0x%x)", status);
	acct_link_close(&la);
	acct_link_close(&lb);
	t_errno_is(acct_cgroup_remove(cg), 0, "rmdir %s", cg);
	return t_done();
}
