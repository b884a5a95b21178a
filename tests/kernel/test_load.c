// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_load: many allocations of mixed sizes, one after another and then
 * from several processes and threads at once under memory pressure, and
 * nothing left behind.
 *
 *   kernel_load CYCLES SECONDS
 *
 *  cycles   CYCLES allocate/free cycles in this process, the size taken
 *           in turn from 4 KiB, 64 KiB, 2 MiB, 3 MiB + 4 KiB (buddy
 *           allocator), 8 MiB and 32 MiB (alloc_contig_pages_aligned()),
 *           each in one of three forms: ibv_alloc_contig_mr(), a buffer
 *           without an MR, a buffer with an MR from
 *           ibv_reg_contig_buf_mr(). Every buffer reads zero at both
 *           ends, is written and released. All of them must succeed;
 *           afterwards free memory (MemFree, that is nr_free_pages, plus
 *           the per-CPU lists and the page cache, t_free_mem_kb()) is back
 *           at its baseline and VmPin and VmLck exactly where they were.
 *  load     for SECONDS, three processes with two threads each run the
 *           same cycles (own contexts, own PDs, seeded sizes) while a
 *           fourth process maps, fills and unmaps 256 MiB of anonymous
 *           memory over and over, up to three such chunks at once. Every
 *           call must succeed or fail with ENOMEM, every thread must
 *           succeed at least once, no process may be killed (the OOM
 *           killer included) and each ends with VmPin and VmLck back at
 *           its start; once all are gone, free memory is back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "kt.h"

#define WORKERS 3
#define THREADS 2
#define CHUNK (256 * KT_MIB)
#define CHUNKS 3

static const uint64_t sizes[] = {
	4 * KT_KIB, 64 * KT_KIB, 2 * KT_MIB, 3 * KT_MIB + 4 * KT_KIB,
	8 * KT_MIB, 32 * KT_MIB,
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* What one thread counted; lives in shared memory. */
struct tally {
	long ok, enomem, other;
	int first_other;	/* errno of the first other failure */
	char what[96];		/* and what failed */
};

static void note_failure(struct tally *t, int err, const char *what)
{
	if (err == ENOMEM) {
		t->enomem++;
		return;
	}
	if (!t->other++) {
		t->first_other = err;
		snprintf(t->what, sizeof(t->what), "%s", what);
	}
}

/* "N ENOMEM, N other[, first: WHAT ERRNO]" of a tally, for the reports. */
static const char *tally_text(const struct tally *t, char *buf, size_t size)
{
	snprintf(buf, size, "%ld ENOMEM, %ld other%s%s%s%s", t->enomem,
		 t->other, t->other ? ", first: " : "", t->what,
		 t->other ? " " : "",
		 t->other ? strerrorname_np(t->first_other) : "");
	return buf;
}

/* Zero at both ends, then written: one page at each end is enough to see
 * a buffer that was not zeroed or not mapped. */
static bool use_buffer(uint8_t *p, uint64_t len)
{
	uint64_t tail = len > 4096 ? len - 4096 : 0;

	if (t_check_zero(p, len < 4096 ? len : 4096) >= 0 ||
	    t_check_zero(p + tail, len - tail) >= 0)
		return false;
	memset(p, 0xa5, len < 4096 ? len : 4096);
	memset(p + tail, 0x5a, len - tail);
	return true;
}

/* One cycle of size sizes[i % NSIZES] in form (i / NSIZES) % 3. */
static void one_cycle(struct ibv_pd *pd, unsigned long i, struct tally *t)
{
	uint64_t len = sizes[i % NSIZES];
	long failed = t->enomem + t->other;
	struct ibv_contig_buf *buf;
	struct ibv_mr *mr;
	int ret;

	switch ((i / NSIZES) % 3) {
	case 0:
		mr = ibv_alloc_contig_mr(pd, len, KT_ACCESS_ALL);
		if (!mr) {
			note_failure(t, errno, "ibv_alloc_contig_mr");
			return;
		}
		if (!use_buffer(mr->addr, len))
			note_failure(t, EIO, "contents of an MR's buffer");
		if (ibv_free_contig_mr(mr)) {
			note_failure(t, errno, "ibv_free_contig_mr");
			return;
		}
		break;
	default:
		ret = ibv_alloc_contig_buf(pd, len, NULL, &buf);
		if (ret) {
			note_failure(t, ret, "ibv_alloc_contig_buf");
			return;
		}
		if (!use_buffer(buf->addr, len))
			note_failure(t, EIO, "contents of a buffer");
		if ((i / NSIZES) % 3 == 2) {
			mr = ibv_reg_contig_buf_mr(pd, buf, buf->addr, len,
						   KT_ACCESS_ALL);
			if (!mr)
				note_failure(t, errno, "ibv_reg_contig_buf_mr");
			else if (ibv_dereg_mr(mr))
				note_failure(t, errno, "ibv_dereg_mr");
		}
		ret = ibv_free_contig_buf(buf);
		if (ret) {
			note_failure(t, ret, "ibv_free_contig_buf");
			return;
		}
		break;
	}
	/* A cycle counts only if every step of it worked. */
	if (t->enomem + t->other == failed)
		t->ok++;
}

struct worker_thread {
	struct ibv_context *ctx;
	struct tally *t;
	double until;
	unsigned long first;
};

static void *worker_thread(void *arg)
{
	struct worker_thread *w = arg;
	struct ibv_pd *pd = ibv_alloc_pd(w->ctx);
	unsigned long i;

	if (!pd) {
		note_failure(w->t, errno, "ibv_alloc_pd");
		return NULL;
	}
	for (i = w->first; t_now() < w->until; i += 7)
		one_cycle(pd, i, w->t);
	ibv_dealloc_pd(pd);
	return NULL;
}

/* A worker process: THREADS threads on one context. Exit 0, or 3 when
 * VmPin or VmLck did not come back. */
static noreturn void worker(unsigned int id, double until, struct tally *t)
{
	struct worker_thread w[THREADS];
	pthread_t th[THREADS];
	struct ibv_context *ctx = t_open_device(getenv("CMR_RXE"));
	long long pin, lck;
	unsigned int i;
	bool back;

	pin = t_status_kb(0, "VmPin");
	lck = t_status_kb(0, "VmLck");
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker_thread){ ctx, &t[i], until,
					       id * 131 + i * 17 };
		if (pthread_create(&th[i], NULL, worker_thread, &w[i]))
			_exit(2);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	back = t_status_kb(0, "VmPin") == pin && t_status_kb(0, "VmLck") == lck;
	ibv_close_device(ctx);
	_exit(back ? 0 : 3);
}

/* Map, fill and unmap CHUNK after CHUNK, CHUNKS held at a time. */
static noreturn void pressure(double until, long *rounds)
{
	void *chunk[CHUNKS] = { 0 };
	unsigned int i = 0;

	while (t_now() < until) {
		if (chunk[i])
			munmap(chunk[i], CHUNK);
		chunk[i] = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (chunk[i] == MAP_FAILED ||
		    madvise(chunk[i], CHUNK, MADV_POPULATE_WRITE))
			_exit(2);
		(*rounds)++;
		i = (i + 1) % CHUNKS;
	}
	_exit(0);
}

static void run_cycles(struct ibv_pd *pd, unsigned long cycles)
{
	long long base = t_free_mem_kb(), tol = t_free_mem_tolerance_kb(8192);
	long long pin = t_status_kb(0, "VmPin"), lck = t_status_kb(0, "VmLck");
	struct tally t = { 0 };
	double start = t_now();
	unsigned long i;
	char text[192];

	for (i = 0; i < cycles; i++)
		one_cycle(pd, i, &t);
	t_ok(t.ok == (long)cycles, "cycles: %ld of %lu succeeded in %.1f s (%s)",
	     t.ok, cycles, t_now() - start, tally_text(&t, text, sizeof(text)));
	t_ok(t_status_kb(0, "VmPin") == pin && t_status_kb(0, "VmLck") == lck,
	     "cycles: VmPin %lld kB, VmLck %lld kB as before", pin, lck);
	t_free_mem_returned("cycles: afterwards", base, tol, 30);
}

static void run_load(double secs)
{
	long long base = t_free_mem_kb(), tol = t_free_mem_tolerance_kb(16384);
	struct tally *t;
	long *rounds;
	pid_t pid[WORKERS + 1];
	double until = t_now() + secs;
	unsigned int i, j;
	char text[192];
	int status;

	t = mmap(NULL, WORKERS * THREADS * sizeof(*t) + sizeof(*rounds),
		 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		t_bail("mmap: %s", strerror(errno));
	rounds = (long *)(t + WORKERS * THREADS);
	fflush(stdout);
	for (i = 0; i <= WORKERS; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			t_bail("fork: %s", strerror(errno));
		if (!pid[i] && i < WORKERS)
			worker(i, until, &t[i * THREADS]);
		if (!pid[i])
			pressure(until, rounds);
	}
	for (i = 0; i <= WORKERS; i++) {
		if (waitpid(pid[i], &status, 0) != pid[i])
			t_bail("waitpid: %s", strerror(errno));
		t_ok(WIFEXITED(status) && !WEXITSTATUS(status),
		     "load: %s %u exited normally (status 0x%x%s)",
		     i < WORKERS ? "worker" : "pressure", i, status,
		     WIFEXITED(status) && WEXITSTATUS(status) == 3 ?
		     ": VmPin or VmLck not back" : "");
	}
	t_diag("load: the pressure process filled %ld chunks of 256 MiB",
	       *rounds);
	for (i = 0; i < WORKERS; i++)
		for (j = 0; j < THREADS; j++) {
			struct tally *c = &t[i * THREADS + j];

			t_ok(c->ok > 0 && !c->other,
			     "load: worker %u thread %u: %ld succeeded, %s", i,
			     j, c->ok, tally_text(c, text, sizeof(text)));
		}
	t_ok(*rounds > 0, "load: the pressure ran (%ld chunks)", *rounds);
	t_free_mem_returned("load: afterwards", base, tol, 30);
}

int main(int argc, char **argv)
{
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	unsigned long cycles;
	double secs;

	if (argc != 3 || !(cycles = strtoul(argv[1], NULL, 10)) ||
	    (secs = atof(argv[2])) <= 0)
		t_bail("usage: %s CYCLES SECONDS", argv[0]);
	t_dev_setup(getenv("CMR_RXE"), &ctx, &pd, NULL);
	run_cycles(pd, cycles);
	t_dev_teardown(ctx, pd, NULL);
	run_load(secs);
	return t_done();
}
