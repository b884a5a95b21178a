// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * cmr-rdma-mr lkey|rkey KEY [DEVICE]: prints the record of that MR from
 * `rdma -dd resource show mr` on one line, for the shell tests, so that
 * they read the tool's output through the same parser as the C tests.
 * Exit status 0 when the MR is listed, 1 when it is not, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmr_test.h"

int main(int argc, char **argv)
{
	char line[4096], *end;
	uint64_t ps, entries;
	unsigned long key;
	int out;

	if (argc < 3 || argc > 4 ||
	    (strcmp(argv[1], "lkey") && strcmp(argv[1], "rkey"))) {
		fprintf(stderr, "usage: %s lkey|rkey KEY [DEVICE]\n", argv[0]);
		return 2;
	}
	key = strtoul(argv[2], &end, 0);
	if (*end || end == argv[2] || key > UINT32_MAX) {
		fprintf(stderr, "%s: bad key %s\n", argv[0], argv[2]);
		return 2;
	}
	/* stdout carries the record only: the helpers' diagnostics go to
	 * stderr. */
	out = dup(STDOUT_FILENO);
	if (out < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		return 2;
	if (t_rdma_mr_pages(argc == 4 ? argv[3] : NULL, argv[1],
			    (uint32_t)key, &ps, &entries, line,
			    sizeof(line)) < 0)
		return 1;
	dprintf(out, "%s\n", line);
	return 0;
}
