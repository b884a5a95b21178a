#!/usr/bin/env bash
# Part 6: set-up and release beyond 2 GiB, per GiB: contiguous MRs made of
# 1 GiB extents (one call, and by the buffer calls) against hugetlb 1 GiB
# pages, with the CPU time all CPUs spent (cmr-bench setup, its
# setup_cpu_ns). Meant for a 20 GiB guest: QEMU's pc machine then has the
# 16 one-GiB windows that 16 GiB needs, in either form.
#
#
# 16 GiB comes first, all its rounds before any smaller size, on a fresh
# boot: most likely, the 4 KiB page tables of a smaller buffer's mapping
# (8 MiB for 4 GiB) are unmovable allocations, and when the unmovable
# pageblocks are full the page allocator claims free movable pageblocks
# for them, from the clean windows, for good. In the first full run (2026-12-02), with
# the sizes in rising order in every round, 16 GiB then failed for every
# backing, the 1 GiB hugetlb pool as well: the 20 GiB guest had 16 clean
# windows at boot and 15 by then (5 more unmovable pageblocks).
#
# Writes to --out: scale.csv (setup.csv's columns), conditions-scale.txt,
# scale-memory.txt.
. "$(dirname "$0")/common.sh"
parse_common "$@"
[ -x "$CMR_BENCH_BIN" ] || die "no $CMR_BENCH_BIN (build the project)"
if [ "$SMOKE" = 1 ]; then
	REPEATS=${REPEATS:-1} SIZES=${CMR_BENCH_SCALE_SIZES:-32M,64M}
	BACKINGS=contig,contig-buf
else
	REPEATS=${REPEATS:-3} SIZES=${CMR_BENCH_SCALE_SIZES:-16G,4G,2G,1G}
	BACKINGS=contig,contig-buf,huge1g
fi
setup_part scale --size-major
