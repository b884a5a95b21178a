/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/* The subcommands of cmr-bench (cmr_bench.c). */
#ifndef CMR_BENCH_H
#define CMR_BENCH_H

int cmd_setup(int argc, char **argv);
int cmd_fragment(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_hold(int argc, char **argv);

#endif /* CMR_BENCH_H */
