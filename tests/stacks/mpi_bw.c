// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * mpi_bw SIZE ITERS [HOLD_FILE]: two MPI ranks move SIZE bytes ITERS
 * times from rank 0 to rank 1, first by MPI_Send/MPI_Recv, then by MPI_Put
 * into a window of rank 1, and rank 1 checks every 64-bit word of every
 * message. Each rank prints its buffers' addresses (to find their MRs),
 * and rank 1 the bandwidth of each part, timed over the transfers alone:
 * the fill and the check are outside the clock, and so are a first touch
 * of both buffers and one transfer of each kind before the timed ones.
 * With HOLD_FILE, each rank keeps its buffers and the window, and so their
 * MRs, after the last put (and its report) until HOLD_FILE exists
 * (hold.h). Exit status 1 when a word was wrong or a call failed (MPI
 * aborts on its own errors).
 *
 * The buffers are malloc()ed as a program's are: what memory backs them
 * is up to the allocator (tests/stacks/openmpi_ucx.sh runs this with and
 * without the contig-mr preload).
 */
#include <inttypes.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hold.h"
#include "words.h"

static void report(int rank, const char *what, size_t size, int iters,
		   double seconds, size_t bad)
{
	if (rank != 1)
		return;
	printf("mpi_bw: %s %zu B x %d: %.2f MB/s, %zu words checked, %zu "
	       "wrong\n", what, size, iters,
	       seconds > 0 ? (double)size * iters / seconds / 1e6 : 0.0,
	       size / 8 * (size_t)iters, bad);
}

/* One message of size bytes from rank 0 to rank 1. */
static void send_recv(int rank, uint64_t *buf, size_t size, int tag)
{
	if (!rank)
		MPI_Send(buf, (int)size, MPI_BYTE, 1, tag, MPI_COMM_WORLD);
	else
		MPI_Recv(buf, (int)size, MPI_BYTE, 0, tag, MPI_COMM_WORLD,
			 MPI_STATUS_IGNORE);
}

/* Rank 0 puts size bytes into rank 1's window; the fence completes it. */
static void put_fence(int rank, uint64_t *buf, size_t size, MPI_Win win)
{
	if (!rank)
		MPI_Put(buf, (int)size, MPI_BYTE, 1, 0, (int)size, MPI_BYTE,
			win);
	MPI_Win_fence(0, win);
}

int main(int argc, char **argv)
{
	size_t size, words, bad_send = 0, bad_put = 0, total;
	double t, t_send = 0, t_put = 0;
	uint64_t *buf, *win_buf;
	const char *hold_file;
	int rank, nranks, iters, i;
	MPI_Win win;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &nranks);
	if (argc < 3 || argc > 4 || nranks != 2) {
		if (!rank)
			fprintf(stderr, "usage: mpirun -np 2 %s SIZE ITERS "
				"[HOLD_FILE] (SIZE a multiple of 8 bytes)\n",
				argv[0]);
		MPI_Finalize();
		return 2;
	}
	size = strtoull(argv[1], NULL, 0);
	iters = atoi(argv[2]);
	hold_file = argc > 3 ? argv[3] : NULL;
	words = size / 8;
	if (!words || words * 8 != size || size > INT32_MAX || iters < 1) {
		if (!rank)
			fprintf(stderr, "mpi_bw: bad SIZE or ITERS\n");
		MPI_Finalize();
		return 2;
	}
	buf = malloc(size);
	win_buf = malloc(size);
	if (!buf || !win_buf) {
		fprintf(stderr, "mpi_bw: rank %d: malloc(%zu) failed\n", rank,
			size);
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	printf("mpi_bw: rank %d pid %d send buffer %p window buffer %p\n",
	       rank, (int)getpid(), (void *)buf, (void *)win_buf);
	fflush(stdout);
	/*
	 * Before the clock, for every backing alike: the pages touched (the
	 * preload's come zeroed and mapped, malloc's would fault in inside
	 * the first transfer) and one untimed transfer of each kind, in
	 * which UCX registers the buffers.
	 */
	memset(buf, 0, size);
	memset(win_buf, 0, size);
	send_recv(rank, buf, size, iters);

	for (i = 0; i < iters; i++) {
		if (!rank)
			words_fill(buf, words, i);
		MPI_Barrier(MPI_COMM_WORLD);
		t = MPI_Wtime();
		send_recv(rank, buf, size, i);
		t_send += MPI_Wtime() - t;
		if (rank)
			bad_send += words_check(buf, words, i);
	}
	report(rank, "send/recv", size, iters, t_send, bad_send);

	MPI_Win_create(win_buf, (MPI_Aint)size, 1, MPI_INFO_NULL,
		       MPI_COMM_WORLD, &win);
	MPI_Win_fence(0, win);
	put_fence(rank, buf, size, win);
	for (i = 0; i < iters; i++) {
		if (!rank)
			words_fill(buf, words, iters + i);
		MPI_Win_fence(0, win);
		t = MPI_Wtime();
		put_fence(rank, buf, size, win);
		t_put += MPI_Wtime() - t;
		if (rank)
			bad_put += words_check(win_buf, words, iters + i);
	}
	report(rank, "put", size, iters, t_put, bad_put);
	fflush(stdout);
	hold_until_file(hold_file);
	MPI_Win_free(&win);

	total = bad_send + bad_put;
	free(win_buf);
	free(buf);
	MPI_Finalize();
	return total ? 1 : 0;
}
