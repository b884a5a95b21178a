// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * acct_memlock: no sequence of calls lets an unprivileged user hold more
 * contiguous memory than its RLIMIT_MEMLOCK, and the charge ends exactly
 * when the last holder of the memory is gone.
 *
 * Every scenario runs in a worker process of user and group 65534 without
 * capabilities, with RLIMIT_MEMLOCK 64 MiB; /dev/infiniband/uverbs* is
 * opened up to everyone (mode 0666, put back at exit) as on a normal RDMA
 * host. The worker tries sixteen 32 MiB buffers, once through the raw
 * CONTIG_BUF_ALLOC ioctl (the library's encoder: nothing in between hides
 * what the kernel does) and once through the public API, and lets go of
 * something after each allocation:
 *
 *  free-object  raw: map it, register and deregister an MR over the
 *               mapping, close the fd, CONTIG_BUF_FREE the object; keep
 *               the mapping. API: ibv_alloc_contig_mr(), then ibv_dereg_mr()
 *               (the buffer stays mapped)
 *  dontneed     MADV_DONTNEED over the whole mapping (it leaves RSS)
 *  dofork       MADV_DOFORK, then fork a child that keeps the mappings and
 *               nothing else (it closes the uverbs fds); the allocator
 *               frees everything, closes its context and exits
 *  close        every buffer from a context of its own, closed right after
 *               the allocation (the uverbs fd with it); keep the mapping
 *  small        one buffer of 64 MiB - 256 KiB, then 4 KiB buffers,
 *               64 + 16 of them: every page is charged, the small ones
 *               cannot slip past the limit (each allocation costs about
 *               0.1 s under TCG whatever its size, so the limit is not
 *               filled with 16384 of them)
 *
 * Checked each time: exactly floor(64 / 32) = 2 allocations succeed and the
 * other 14 fail with ENOMEM (small: the big one and 64 small ones, ENOMEM
 * for the rest); free memory (t_free_mem_kb()) is down by what was allocated
 * and by no more than the limit plus the tolerance; the allocator's VmLck
 * shows the buffers while they are held (dofork: also after it freed
 * everything, while its child holds them; and the user cannot allocate more
 * then); once the last holder is gone free memory is back at its baseline,
 * and the next scenario again gets exactly its two buffers, which proves
 * that the user's locked-memory charge went back to zero.
 *
 * Also: a 32 MiB buffer with an MR over all of it, then a second one: VmLck
 * and VmPin are 32 MiB, then 64 MiB each (both at, not over, the limit); a
 * third buffer, and a 4 KiB MR of ordinary memory, fail with ENOMEM. With
 * CAP_IPC_LOCK (root, the same RLIMIT_MEMLOCK) four 32 MiB buffers succeed.
 *
 *   acct_memlock        (SETUP loop)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acct.h"

#define LIMIT (64 * KT_MIB)
#define BIG (32 * KT_MIB)
#define TRIES 16
#define SMALL (4 * KT_KIB)
#define SMALL_ROOM (256 * KT_KIB)	/* left under the limit for them */
#define SMALL_TRIES ((unsigned int)(SMALL_ROOM / SMALL) + 16)
#define STEP_TIMEOUT 120.0
#define SEED 0x6d656d6c6f636bULL

enum escape { ESC_FREE_OBJECT, ESC_DONTNEED, ESC_DOFORK, ESC_CLOSE, ESC_KEEP };

enum { CMD_GO = 'g', CMD_EXIT = 'x' };

/* What a worker found, in memory shared with the test. */
struct report {
	char setup[160];	/* non-empty: the worker could not start */
	long long cap_eff;
	unsigned int ok, enomem, other;
	int other_err;		/* the first error that was not ENOMEM */
	int head_err;		/* the allocation before the tries */
	unsigned int step_fail;	/* steps after a successful allocation */
	char step[160];		/* the first of them */
	unsigned int free_fail;	/* dofork: the allocator's clean-up */
	pid_t holder;		/* dofork: the child holding the mappings */
	int holder_bad[2];	/* buffers whose copy in the child differs */
	int err[5];		/* mr-fits: one per step */
};

struct job {
	enum escape esc;
	bool raw;		/* the ioctl, not the library */
	bool unprivileged;
	uint64_t size;
	unsigned int tries;
	uint64_t head;		/* one allocation of this size first, or 0 */
	struct report *r;
	struct acct_link *holder;	/* dofork: the child's link */
};

/* A buffer the worker holds on to. */
struct held {
	struct kt_buf raw;
	struct ibv_contig_buf *buf;
	uint8_t *addr;
	uint64_t len;
	uint64_t seed;
};

static struct held held[TRIES];
static unsigned int nheld;

static struct report *rep, *probe_rep;
static long long tol_kb;
static pid_t test_pid;

/* ---- the worker ---------------------------------------------------------- */

static void note(char *dst, size_t size, const char *fmt, ...) T_PRINTF(3, 4);

/* The first note sticks: it names what went wrong first. */
static void note(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (dst[0])
		return;
	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
}

#define SETUP_FAIL(r, ...) note((r)->setup, sizeof((r)->setup), __VA_ARGS__)
#define STEP_FAIL(r, ...)                                                      \
	do {                                                                   \
		(r)->step_fail++;                                              \
		note((r)->step, sizeof((r)->step), __VA_ARGS__);               \
	} while (0)

/* The effective capability set (hex in /proc/self/status), or -1. */
static long long cap_eff(void)
{
	char line[256];
	long long v = -1;
	FILE *f;

	f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	while (v < 0 && fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			v = strtoll(line + 7, NULL, 16);
	fclose(f);
	return v;
}

static int become(const struct job *j)
{
	struct rlimit rl = { LIMIT, LIMIT };
	struct report *r = j->r;

	if (setrlimit(RLIMIT_MEMLOCK, &rl)) {
		SETUP_FAIL(r, "setrlimit(RLIMIT_MEMLOCK): %s", strerror(errno));
		return -1;
	}
	if (j->unprivileged &&
	    t_become_nobody()) {
		SETUP_FAIL(r, "dropping to uid/gid %d: %s", T_NOBODY,
			   strerror(errno));
		return -1;
	}
	r->cap_eff = cap_eff();
	if (j->unprivileged && r->cap_eff != 0) {
		SETUP_FAIL(r, "CapEff is %llx after setuid(%d)", r->cap_eff,
			   T_NOBODY);
		return -1;
	}
	return 0;
}

static int open_dev(struct report *r, struct ibv_context **ctx,
		    struct ibv_pd **pd)
{
	return acct_open(ctx, pd, r->setup, sizeof(r->setup));
}

/*
 * One allocation of size bytes as the job says: 0 when it succeeded (h
 * holds it; a failing step after it is a step failure, not an allocation
 * failure), else the allocation's errno.
 */
static int alloc_one(const struct job *j, struct ibv_context *ctx,
		     struct ibv_pd *pd, uint64_t size, struct held *h)
{
	struct ibv_mr *mr;
	int ret;

	memset(h, 0, sizeof(*h));
	h->raw.fd = -1;
	if (j->raw) {
		ret = kt_raw_alloc(ctx, size, -1, 0, &h->raw);
		if (ret)
			return ret;
		h->len = h->raw.length;
		h->addr = kt_buf_mmap(&h->raw, 0, h->len, MAP_SHARED);
		if (h->addr == MAP_FAILED) {
			STEP_FAIL(j->r, "mmap of the contig_buf fd: %s",
				  strerrorname_np(errno));
			h->addr = NULL;
		}
		h->raw.addr = h->addr;
		return 0;
	}
	if (j->esc == ESC_FREE_OBJECT) {
		mr = ibv_alloc_contig_mr(pd, size, KT_ACCESS_ALL);
		if (!mr)
			return errno;
		h->buf = ibv_contig_mr_buf(mr);
		h->addr = mr->addr;
		h->len = size;
		ret = ibv_dereg_mr(mr);
		if (ret)
			STEP_FAIL(j->r, "ibv_dereg_mr on the MR of "
				  "ibv_alloc_contig_mr(): %s",
				  strerrorname_np(ret));
		return 0;
	}
	ret = acct_buf_alloc(pd, size, -1, 0, &h->buf);
	if (ret)
		return ret;
	h->addr = h->buf->addr;
	h->len = h->buf->length;
	return 0;
}

/* After a successful allocation: the escape. */
static void let_go(const struct job *j, struct ibv_pd *pd, struct held *h)
{
	struct report *r = j->r;
	struct ibv_mr *mr;
	int ret;

	if (j->raw && kt_buf_drop_fd(&h->raw))
		STEP_FAIL(r, "close of the contig_buf fd");
	if (!h->addr)
		return;
	switch (j->esc) {
	case ESC_FREE_OBJECT:
		if (!j->raw)
			break;	/* ibv_dereg_mr() in alloc_one() */
		mr = ibv_reg_mr(pd, h->addr, h->len, KT_ACCESS_ALL);
		if (!mr) {
			STEP_FAIL(r, "ibv_reg_mr over the mapping: %s",
				  strerrorname_np(errno));
		} else {
			ret = ibv_dereg_mr(mr);
			if (ret)
				STEP_FAIL(r, "ibv_dereg_mr: %s",
					  strerrorname_np(ret));
		}
		ret = kt_buf_drop_object(&h->raw);
		if (ret)
			STEP_FAIL(r, "CONTIG_BUF_FREE: %s",
				  strerrorname_np(ret));
		break;
	case ESC_DONTNEED:
		ret = kt_populate(h->addr, h->len);
		if (ret)
			STEP_FAIL(r, "populating the mapping: %s",
				  strerrorname_np(ret));
		if (madvise(h->addr, h->len, MADV_DONTNEED))
			STEP_FAIL(r, "MADV_DONTNEED: %s",
				  strerrorname_np(errno));
		break;
	case ESC_DOFORK:
		t_fill(h->addr, h->len, h->seed, 0);
		if (madvise(h->addr, h->len, MADV_DOFORK))
			STEP_FAIL(r, "MADV_DOFORK: %s", strerrorname_np(errno));
		break;
	case ESC_CLOSE:
	case ESC_KEEP:
		break;
	}
}

static void count(struct report *r, int ret)
{
	if (!ret) {
		r->ok++;
	} else if (ret == ENOMEM) {
		r->enomem++;
	} else {
		if (!r->other++)
			r->other_err = ret;
	}
}

/* Which of the held buffers no longer read back their pattern. */
static int held_bad(void)
{
	unsigned int i;
	int bad = 0;

	for (i = 0; i < nheld; i++)
		if (held[i].addr &&
		    t_check(held[i].addr, held[i].len, held[i].seed, 0) >= 0)
			bad++;
	return bad;
}

/*
 * The child of dofork: it keeps the inherited mappings and nothing else
 * (the uverbs fds it inherited are closed), checks them when told, and
 * ends when told or when the test is gone (EOF on its link).
 */
static void fork_holder(const struct job *j, struct acct_link *own,
			struct ibv_context *ctx)
{
	struct acct_link *l = j->holder;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		STEP_FAIL(j->r, "fork: %s", strerror(errno));
		acct_link_close(l);
		return;
	}
	if (pid == 0) {
		acct_link_child(l);
		acct_link_close(own);
		close(ctx->cmd_fd);
		close(ctx->async_fd);
		j->r->holder_bad[0] = held_bad();
		acct_ack(l);
		if (acct_wait(l) != CMD_GO)
			_exit(0);
		j->r->holder_bad[1] = held_bad();
		acct_ack(l);
		acct_wait(l);
		_exit(0);
	}
	j->r->holder = pid;
	acct_link_close(l);
}

/* dofork's second stage: the allocator lets go of everything. */
static void free_all(const struct job *j, struct ibv_context *ctx,
		     struct ibv_pd *pd)
{
	struct report *r = j->r;
	unsigned int i;

	for (i = 0; i < nheld; i++) {
		if (j->raw ? kt_buf_release(&held[i].raw) != 0 :
			     ibv_free_contig_buf(held[i].buf) != 0)
			r->free_fail++;
		held[i].addr = NULL;
	}
	if (ibv_dealloc_pd(pd))
		r->free_fail++;
	if (ibv_close_device(ctx))
		r->free_fail++;
}

static void alloc_worker(struct acct_link *l, void *arg)
{
	const struct job *j = arg;
	struct report *r = j->r;
	struct ibv_context *ctx, *c;
	struct ibv_pd *pd, *p;
	struct held h;
	unsigned int i;
	int ret;

	if (become(j) || open_dev(r, &ctx, &pd))
		goto out;
	r->head_err = -1;
	if (j->head) {
		r->head_err = alloc_one(j, ctx, pd, j->head, &h);
		if (!r->head_err)
			let_go(j, pd, &h);
	}
	for (i = 0; i < j->tries; i++) {
		c = ctx;
		p = pd;
		if (j->esc == ESC_CLOSE && open_dev(r, &c, &p)) {
			STEP_FAIL(r, "%s", r->setup);
			r->setup[0] = '\0';
			continue;
		}
		ret = alloc_one(j, c, p, j->size, &h);
		count(r, ret);
		if (!ret) {
			h.seed = SEED + i;
			let_go(j, p, &h);
			if (nheld < TRIES)
				held[nheld++] = h;
		}
		if (c != ctx && ibv_close_device(c))
			STEP_FAIL(r, "ibv_close_device: %s", strerror(errno));
	}
	if (j->esc == ESC_DOFORK)
		fork_holder(j, l, ctx);
out:
	acct_ack(l);
	if (acct_wait(l) != CMD_GO || r->setup[0])
		return;
	free_all(j, ctx, pd);
	acct_ack(l);
	acct_wait(l);
}

/* ---- the test ------------------------------------------------------------ */

/* Start a worker for job; false (and it is gone) when it could not start. */
static bool start(const char *what, struct job *j, struct acct_link *l,
		  pid_t *pid)
{
	bool answered;
	memset(j->r, 0, sizeof(*j->r));
	j->r->holder_bad[0] = j->r->holder_bad[1] = -1;
	acct_link_init(l);
	*pid = acct_spawn(l, alloc_worker, j);
	if (j->holder)
		acct_link_parent(j->holder);
	answered = acct_wait_ack(l, STEP_TIMEOUT);
	if (t_ok(answered && !j->r->setup[0],
		 "%s: worker %s, RLIMIT_MEMLOCK 64 MiB (CapEff %llx)%s%s",
		 what, j->unprivileged ? "of uid/gid 65534" : "as root",
		 j->r->cap_eff, j->r->setup[0] ? ": " : "", j->r->setup))
		return true;
	acct_link_close(l);
	acct_reap(*pid, 10);
	return false;
}

static void finish(struct acct_link *l, pid_t pid)
{
	acct_send(l, CMD_EXIT);
	acct_reap(pid, 60);
	acct_link_close(l);
}

/*
 * A fresh worker of the user tries n raw 32 MiB buffers and exits: how
 * many it got, or -1.
 */
static int probe(unsigned int n)
{
	struct job j = {
		.esc = ESC_KEEP,
		.raw = true,
		.unprivileged = true,
		.size = BIG,
		.tries = n,
		.r = probe_rep,
	};
	struct acct_link l;
	pid_t pid;
	int got;

	if (!start("probe", &j, &l, &pid))
		return -1;
	got = probe_rep->other ? -1 : (int)probe_rep->ok;
	if (probe_rep->other)
		t_diag("probe: %s", strerrorname_np(probe_rep->other_err));
	finish(&l, pid);
	return got;
}

static void check_counts(const char *what, const struct job *j,
			 unsigned int want_ok)
{
	struct report *r = j->r;
	char size[32];

	kt_size_str(j->size, size, sizeof(size));
	if (j->head) {
		char head[32];

		t_errno_is(r->head_err, 0, "%s: first a buffer of %s", what,
			   kt_size_str(j->head, head, sizeof(head)));
	}
	t_ok(r->ok == want_ok && r->enomem == j->tries - want_ok && !r->other,
	     "%s: %u of %u buffers of %s allocated, %u ENOMEM, %u other "
	     "errors%s%s (want %u, ENOMEM for the rest)", what, r->ok,
	     j->tries, size, r->enomem, r->other, r->other ? ", first " : "",
	     r->other ? strerrorname_np(r->other_err) : "", want_ok);
	t_ok(!r->step_fail, "%s: every step after the allocations worked%s%s",
	     what, r->step_fail ? ": " : "", r->step);
}

/* Memory held now against base: at least held_bytes, at most the limit. */
static void check_held(const char *what, long long base, uint64_t held_bytes,
		       bool limited)
{
	long long drop = base - t_free_mem_kb();

	if (limited)
		t_ok(drop <= (long long)(LIMIT / KT_KIB) + tol_kb,
		     "%s: free memory down by %lld kB: no more than the "
		     "limit, %" PRIu64 " kB (tolerance %lld kB)", what, drop,
		     LIMIT / KT_KIB, tol_kb);
	t_free_mem_held(what, base, held_bytes, tol_kb);
}

static void check_status(const char *what, pid_t pid, const char *field,
			 uint64_t bytes)
{
	long long v = t_status_kb(pid, field);

	t_ok(v == (long long)(bytes / KT_KIB),
	     "%s: %s of the allocator %lld kB (want %" PRIu64 " kB)", what,
	     field, v, bytes / KT_KIB);
}

static void run_escape(const char *name, enum escape esc, bool raw)
{
	bool small = esc == ESC_KEEP;
	struct job j = {
		.esc = esc,
		.raw = raw,
		.unprivileged = true,
		.size = small ? SMALL : BIG,
		.tries = small ? SMALL_TRIES : TRIES,
		.head = small ? LIMIT - SMALL_ROOM : 0,
		.r = rep,
	};
	unsigned int want = (unsigned int)((LIMIT - j.head) / j.size);
	uint64_t bytes;
	struct acct_link l;
	long long base;
	char what[64];
	pid_t pid;

	snprintf(what, sizeof(what), "%s (%s)", name,
		 raw ? "raw ioctl" : "library");
	base = t_free_mem_kb();
	if (!start(what, &j, &l, &pid))
		return;
	bytes = rep->ok * j.size + (rep->head_err ? 0 : j.head);
	check_counts(what, &j, want);
	check_held(what, base, bytes, true);
	check_status(what, pid, "VmLck", bytes);
	if (esc == ESC_FREE_OBJECT)
		check_status(what, pid, "VmPin", 0);
	finish(&l, pid);
	t_free_mem_returned(what, base, tol_kb, 20);
}

static void run_dofork(bool raw)
{
	bool answered;
	struct acct_link l, hl;
	struct job j = {
		.esc = ESC_DOFORK,
		.raw = raw,
		.unprivileged = true,
		.size = BIG,
		.tries = TRIES,
		.r = rep,
		.holder = &hl,
	};
	const char *what = raw ? "dofork (raw ioctl)" : "dofork (library)";
	uint64_t bytes;
	long long base;
	pid_t pid, child;
	int got;

	base = t_free_mem_kb();
	acct_link_init(&hl);
	if (!start(what, &j, &l, &pid)) {
		acct_link_close(&hl);
		return;
	}
	child = rep->holder;
	answered = child > 0 && acct_wait_ack(&hl, STEP_TIMEOUT);
	if (!t_ok(answered,
		  "%s: a child holds the mappings", what)) {
		acct_link_close(&hl);
		finish(&l, pid);
		return;
	}
	bytes = rep->ok * BIG;
	check_counts(what, &j, (unsigned int)(LIMIT / BIG));
	t_ok(rep->holder_bad[0] == 0,
	     "%s: the child's copies read back the allocator's data (%d "
	     "buffers differ)", what, rep->holder_bad[0]);
	check_held(what, base, bytes, true);
	check_status(what, pid, "VmLck", bytes);

	acct_send(&l, CMD_GO);
	answered = acct_wait_ack(&l, STEP_TIMEOUT);
	t_ok(answered && !rep->free_fail,
	     "%s: the allocator freed its buffers, PD and context (%u "
	     "failures)", what, rep->free_fail);
	check_held("dofork: allocator freed everything, its child holds "
		   "the mappings", base, bytes, true);
	check_status("dofork: allocator freed everything, its child holds "
		     "the mappings", pid, "VmLck", bytes);

	finish(&l, pid);
	check_held("dofork: allocator exited, its child holds the mappings",
		   base, bytes, true);
	got = probe(1);
	t_ok(got == 0, "dofork: while the child holds them the user gets "
	     "no further 32 MiB buffer (%d of 1)", got);
	acct_send(&hl, CMD_GO);
	answered = acct_wait_ack(&hl, STEP_TIMEOUT);
	t_ok(answered && rep->holder_bad[1] == 0,
	     "dofork: the child's copies are intact after the allocator "
	     "exited (%d buffers differ)", rep->holder_bad[1]);
	acct_send(&hl, CMD_EXIT);
	t_ok(acct_reap(child, 60) == 0, "dofork: the child exits");
	acct_link_close(&hl);
	t_free_mem_returned("dofork: after the child exited", base, tol_kb, 20);
	got = probe(3);
	t_ok(got == 2, "dofork: with the last holder gone the user gets its "
	     "two 32 MiB buffers again (%d of 3)", got);
}

static void mr_fits_worker(struct acct_link *l, void *arg)
{
	const struct job *j = arg;
	struct report *r = j->r;
	struct ibv_context *ctx;
	struct ibv_mr *mr;
	struct ibv_pd *pd;
	struct kt_buf b, c;
	uint8_t *page;

	if (become(j) || open_dev(r, &ctx, &pd))
		goto out;
	mr = ibv_alloc_contig_mr(pd, BIG, KT_ACCESS_ALL);
	r->err[0] = mr ? 0 : errno;
	acct_ack(l);
	if (acct_wait(l) != CMD_GO)
		return;

	r->err[1] = kt_buf_new(ctx, BIG, &b);
	r->err[2] = -1;
	if (!r->err[1]) {
		mr = ibv_reg_mr(pd, b.addr, b.length, KT_ACCESS_ALL);
		r->err[2] = mr ? 0 : errno;
	}
	acct_ack(l);
	if (acct_wait(l) != CMD_GO)
		return;

	r->err[3] = kt_raw_alloc(ctx, BIG, -1, 0, &c);
	if (!r->err[3])
		kt_buf_release(&c);
	r->err[4] = -1;
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (page != MAP_FAILED) {
		mr = ibv_reg_mr(pd, page, 4096, IBV_ACCESS_LOCAL_WRITE);
		r->err[4] = mr ? 0 : errno;
		if (mr)
			ibv_dereg_mr(mr);
	}
out:
	acct_ack(l);
	acct_wait(l);
}

static void run_mr_fits(void)
{
	bool answered;
	struct job j = {
		.unprivileged = true,
		.size = BIG,
		.r = rep,
	};
	const char *what = "buffer + MR";
	struct acct_link l;
	long long base;
	pid_t pid;

	base = t_free_mem_kb();
	memset(rep, 0, sizeof(*rep));
	acct_link_init(&l);
	pid = acct_spawn(&l, mr_fits_worker, &j);
	answered = acct_wait_ack(&l, STEP_TIMEOUT);
	if (!t_ok(answered && !rep->setup[0],
		  "%s: worker of uid/gid 65534, RLIMIT_MEMLOCK 64 MiB%s%s",
		  what, rep->setup[0] ? ": " : "", rep->setup)) {
		finish(&l, pid);
		return;
	}
	if (t_errno_is(rep->err[0], 0, "%s: ibv_alloc_contig_mr() of 32 MiB",
		       what)) {
		check_status("buffer + MR over all of it", pid, "VmLck", BIG);
		check_status("buffer + MR over all of it", pid, "VmPin", BIG);
	}
	acct_send(&l, CMD_GO);
	if (!acct_wait_ack(&l, STEP_TIMEOUT))
		t_diag("%s: the worker did not answer", what);
	t_errno_is(rep->err[1], 0, "%s: a second 32 MiB buffer (raw)", what);
	t_errno_is(rep->err[2], 0, "%s: ibv_reg_mr() over all of it", what);
	check_status("two buffers + MRs: at the limit", pid, "VmLck", LIMIT);
	check_status("two buffers + MRs: at the limit", pid, "VmPin", LIMIT);
	check_held("two buffers + MRs over them (the MRs take no memory "
		   "of their own)", base, LIMIT, true);
	acct_send(&l, CMD_GO);
	if (!acct_wait_ack(&l, STEP_TIMEOUT))
		t_diag("%s: the worker did not answer", what);
	t_errno_is(rep->err[3], ENOMEM, "%s: a third 32 MiB buffer (raw)",
		   what);
	t_errno_is(rep->err[4], ENOMEM, "%s: an MR over 4 KiB of ordinary "
		   "memory (VmPin at the limit)", what);
	finish(&l, pid);
	t_free_mem_returned(what, base, tol_kb, 20);
}

static void run_root(bool raw)
{
	struct job j = {
		.esc = ESC_KEEP,
		.raw = raw,
		.unprivileged = false,
		.size = BIG,
		.tries = 4,
		.r = rep,
	};
	const char *what = raw ? "CAP_IPC_LOCK (raw ioctl)" :
				 "CAP_IPC_LOCK (library)";
	struct acct_link l;
	long long base;
	pid_t pid;

	base = t_free_mem_kb();
	if (!start(what, &j, &l, &pid))
		return;
	check_counts(what, &j, j.tries);
	check_held(what, base, rep->ok * BIG, false);
	check_status(what, pid, "VmLck", rep->ok * BIG);
	finish(&l, pid);
	t_free_mem_returned(what, base, tol_kb, 20);
}

/* ---- /dev/infiniband ----------------------------------------------------- */

#define MAX_DEVS 16

static struct {
	char path[64];
	mode_t mode;
} devs[MAX_DEVS];
static unsigned int ndevs;

static void restore_devs(void)
{
	unsigned int i;

	/* Workers exit() too; only the test puts the modes back. */
	if (getpid() != test_pid)
		return;
	for (i = 0; i < ndevs; i++)
		chmod(devs[i].path, devs[i].mode);
}

static void open_up_devs(void)
{
	struct stat st;
	glob_t g;
	size_t i;

	if (glob("/dev/infiniband/uverbs*", 0, NULL, &g) || !g.gl_pathc)
		t_skip_all("no /dev/infiniband/uverbs* (run in the guest "
			   "with a set-up)");
	atexit(restore_devs);
	for (i = 0; i < g.gl_pathc && ndevs < MAX_DEVS; i++) {
		if (stat(g.gl_pathv[i], &st))
			continue;
		snprintf(devs[ndevs].path, sizeof(devs[ndevs].path), "%s",
			 g.gl_pathv[i]);
		devs[ndevs].mode = st.st_mode & 07777;
		ndevs++;
		if (chmod(g.gl_pathv[i], 0666))
			t_bail("chmod 0666 %s: %s", g.gl_pathv[i],
			       strerror(errno));
		t_diag("%s: mode %o -> 0666 for the test", g.gl_pathv[i],
		       (unsigned int)(st.st_mode & 07777));
	}
	globfree(&g);
}

int main(void)
{
	static const struct {
		const char *name;
		enum escape esc;
	} escapes[] = {
		{ "free-object", ESC_FREE_OBJECT },
		{ "dontneed", ESC_DONTNEED },
		{ "close", ESC_CLOSE },
		{ "small", ESC_KEEP },
	};
	unsigned int i;
	int got;

	if (geteuid())
		t_skip_all("needs root (run in the guest)");
	test_pid = getpid();
	signal(SIGPIPE, SIG_IGN);
	/* The child of dofork outlives its parent: it becomes ours. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1))
		t_bail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	open_up_devs();
	rep = acct_shared(2 * sizeof(*rep));
	probe_rep = rep + 1;
	tol_kb = t_free_mem_tolerance_kb(8192);

	run_mr_fits();
	for (i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		run_escape(escapes[i].name, escapes[i].esc, true);
		run_escape(escapes[i].name, escapes[i].esc, false);
	}
	run_dofork(true);
	run_dofork(false);
	run_root(true);
	run_root(false);
	got = probe(3);
	t_ok(got == 2, "after everything the user gets exactly its two 32 MiB "
	     "buffers (%d of 3)", got);
	return t_done();
}
