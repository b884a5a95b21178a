/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * Keeping a stack program's MRs until a test has seen them (mpi_bw.c,
 * fi_rma.c): the test samples `rdma resource show mr` while the program
 * runs, and on a fast host the transfers can be over before it looks. At
 * the end, before it deregisters anything, the program waits until the
 * test creates a file. A file rather than a signal: MPI and UCX start
 * threads of their own, and a signal one of them does not block would
 * kill the process.
 */
#ifndef CMR_STACKS_HOLD_H
#define CMR_STACKS_HOLD_H

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define HOLD_MAX_SECS 120

/* Until path exists, at most HOLD_MAX_SECS; no wait for a NULL path. */
static inline void hold_until_file(const char *path)
{
	static const struct timespec tick = { .tv_nsec = 50 * 1000 * 1000 };
	int i;

	if (!path)
		return;
	for (i = 0; i < HOLD_MAX_SECS * 20; i++) {
		if (!access(path, F_OK))
			return;
		nanosleep(&tick, NULL);
	}
	fprintf(stderr, "hold: no %s after %d s: going on\n", path,
		HOLD_MAX_SECS);
}

#endif
