// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * vm_threads: threads allocating, using and freeing contiguous MRs on one
 * PD at the same time. Each thread has its own loopback QP pair; every MR
 * must come zeroed, keep its data, carry data through the device both ways
 * and be released. At the end the memory must be back.
 *
 *   vm_threads [--require] [THREADS [ROUNDS]]    (default 4 x 16)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "cmr_test.h"

#define RW_ACCESS                                                              \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |                     \
	 IBV_ACCESS_REMOTE_WRITE)
#define TIMEOUT_MS 60000

static struct ibv_pd *pd;
static unsigned int rounds = 16;

struct worker {
	pthread_t thread;
	unsigned int id;
	unsigned int allocs, alloc_fail, not_zero, data_bad, rdma_bad,
		free_fail;
	int first_errno;
};

static const size_t sizes[] = {
	4096, 12288, 64 << 10, 1 << 20, (2 << 20) + 4096, 8 << 20,
};

static void *run(void *arg)
{
	struct worker *w = arg;
	struct t_loop loop;
	unsigned int i;

	if (t_loop_create(&loop, pd)) {
		w->rdma_bad = rounds;
		return NULL;
	}
	for (i = 0; i < rounds; i++) {
		size_t len = sizes[(w->id * 5 + i) % (sizeof(sizes) /
						       sizeof(sizes[0]))];
		uint64_t seed = (uint64_t)w->id << 32 | i;
		size_t n = len < (256u << 10) ? len : (256u << 10);
		struct ibv_mr *mr;

		mr = ibv_alloc_contig_mr(pd, len, RW_ACCESS);
		if (!mr) {
			if (!w->alloc_fail++)
				w->first_errno = errno;
			continue;
		}
		w->allocs++;
		if (t_check_zero(mr->addr, len) >= 0)
			w->not_zero++;
		t_fill(mr->addr, len, seed, 0);
		sched_yield();
		if (t_check(mr->addr, len, seed, 0) >= 0)
			w->data_bad++;
		if (t_loop_verify(&loop, mr, len - n, n, seed + 1, TIMEOUT_MS))
			w->rdma_bad++;
		if (ibv_free_contig_mr(mr))
			w->free_fail++;
	}
	t_loop_destroy(&loop);
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned int nthreads = 4, i, total = 0;
	bool require = false;
	struct ibv_context *ctx;
	struct worker *w;
	long long free0, tol_kb;
	struct ibv_mr *mr;
	int argi = 1;
	double t0;

	if (argi < argc && !strcmp(argv[argi], "--require")) {
		require = true;
		argi++;
	}
	if (argi < argc)
		nthreads = atoi(argv[argi++]);
	if (argi < argc)
		rounds = atoi(argv[argi++]);
	if (!nthreads || !rounds)
		t_bail("usage: vm_threads [--require] [THREADS [ROUNDS]]");

	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	t_dev_setup(NULL, &ctx, &pd, NULL);
	mr = ibv_alloc_contig_mr(pd, 4096, 0);
	if (!mr && errno == EOPNOTSUPP && !require)
		t_skip_all("kernel without UVERBS_OBJECT_CONTIG_BUF");
	if (!mr)
		t_bail("ibv_alloc_contig_mr: %s", strerrorname_np(errno));
	ibv_free_contig_mr(mr);

	w = calloc(nthreads, sizeof(*w));
	if (!w)
		t_bail("calloc");
	tol_kb = t_free_mem_tolerance_kb(32 << 10);
	free0 = t_free_mem_kb();
	t0 = t_now();
	for (i = 0; i < nthreads; i++) {
		w[i].id = i;
		if (pthread_create(&w[i].thread, NULL, run, &w[i]))
			t_bail("pthread_create");
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(w[i].thread, NULL);
	t_diag("%u threads x %u rounds in %.1f s", nthreads, rounds,
	       t_now() - t0);

	for (i = 0; i < nthreads; i++) {
		struct worker *x = &w[i];

		total += x->allocs;
		t_ok(x->allocs == rounds && !x->not_zero && !x->data_bad &&
			     !x->rdma_bad && !x->free_fail,
		     "thread %u: %u/%u allocated (first error %s), %u not "
		     "zeroed, %u data, %u RDMA, %u free failures", i,
		     x->allocs, rounds,
		     x->alloc_fail ? strerrorname_np(x->first_errno) : "none",
		     x->not_zero, x->data_bad, x->rdma_bad, x->free_fail);
	}
	t_ok(total == nthreads * rounds, "%u MRs in all", total);
	t_free_mem_returned("after every thread", free0, tol_kb, 10);
	t_dev_teardown(ctx, pd, NULL);
	free(w);
	return t_done();
}
