// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * cmr-rdma-mr lkey|rkey|pid VALUE [DEVICE]: prints the records of the MRs
 * with that key (lkey, rkey: the one MR; pid: every MR of that process)
 * from `rdma -dd resource show mr`, one per line, for the shell tests, so
 * that they read the tool's output through the same parser as the C tests.
 * Exit status 0 when one is listed, 1 when none is, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmr_test.h"

static void print_record(const char *rec, void *arg)
{
	dprintf(*(int *)arg, "%s\n", rec);
}

int main(int argc, char **argv)
{
	unsigned long value;
	char *end;
	int out, n;

	if (argc < 3 || argc > 4 ||
	    (strcmp(argv[1], "lkey") && strcmp(argv[1], "rkey") &&
	     strcmp(argv[1], "pid"))) {
		fprintf(stderr, "usage: %s lkey|rkey|pid VALUE [DEVICE]\n",
			argv[0]);
		return 2;
	}
	value = strtoul(argv[2], &end, 0);
	if (*end || end == argv[2] || value > UINT32_MAX) {
		fprintf(stderr, "%s: bad %s %s\n", argv[0], argv[1], argv[2]);
		return 2;
	}
	/* stdout carries the records only: the helpers' diagnostics go to
	 * stderr. */
	out = dup(STDOUT_FILENO);
	if (out < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		return 2;
	n = t_rdma_mr_each(argc == 4 ? argv[3] : NULL, argv[1],
			   (uint32_t)value, print_record, &out,
			   strcmp(argv[1], "pid"));
	return n > 0 ? 0 : 1;
}
