// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * cmr-bench: the benchmark programs of contig-mr (docs/benchmarks.md).
 *
 *   cmr-bench setup      set-up and release cost per backing and size
 *                        (and each MR's device page size and entries)
 *   cmr-bench fragment   fragment guest memory and hold it so
 *   cmr-bench probe      contiguous allocations vs run-time hugetlb pool
 *                        growth, success and latency
 *
 * They need root (hugetlb pools, rdma resource) and an RDMA device; they
 * run in the project's guest (the scripts in bench/guest/).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *what;
} cmds[] = {
	{ "setup", cmd_setup, "set-up and release cost of a registered buffer" },
	{ "fragment", cmd_fragment, "fragment memory and hold it until stdin closes" },
	{ "probe", cmd_probe, "contiguous allocations vs run-time hugetlb pages" },
	{ "hold", cmd_hold, "buffers held at once vs hugetlb and the memory map" },
};

int main(int argc, char **argv)
{
	bool help = argc >= 2 && (!strcmp(argv[1], "--help") ||
				  !strcmp(argv[1], "-h"));
	FILE *f = help ? stdout : stderr;
	size_t i;

	if (argc >= 2) {
		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (!strcmp(argv[1], cmds[i].name))
				return cmds[i].fn(argc - 1, argv + 1);
	}
	fprintf(f, "usage: cmr-bench COMMAND [OPTIONS] (COMMAND --help)\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].what);
	return help ? 0 : 2;
}
