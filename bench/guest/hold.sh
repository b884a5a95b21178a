#!/usr/bin/env bash
# Part 5: how many buffers of each size can be held at once (cmr-bench
# hold): contiguous MRs of one range and of two extents, against run-time
# growth of the 1 GiB hugetlb pool and against the aligned windows of the
# memory map (/proc/iomem). Meant for an 8 GiB guest: QEMU's pc machine
# then has six 1 GiB and two 2 GiB windows.
#
# Writes to --out: hold.csv, conditions-hold.txt.
. "$(dirname "$0")/common.sh"
parse_common "$@"
[ -x "$CMR_BENCH_BIN" ] || die "no $CMR_BENCH_BIN (build the project)"
if [ "$SMOKE" = 1 ]; then
	REPEATS=${REPEATS:-1} SIZES=${CMR_BENCH_HOLD_SIZES:-64M} MAX=4
else
	REPEATS=${REPEATS:-3} SIZES=${CMR_BENCH_HOLD_SIZES:-1G,2G} MAX=256
fi
set_thp madvise
empty_hugetlb_pools
conditions hold >"$OUT/conditions-hold.txt"
echo "sizes=$SIZES" >>"$OUT/conditions-hold.txt"
echo "max_held=$MAX" >>"$OUT/conditions-hold.txt"
memory_state "before" >"$OUT/hold-memory.txt"
"$CMR_BENCH_BIN" hold --dev "${CMR_RXE:-}" --sizes "$SIZES" \
	--repeats "$REPEATS" --max "$MAX" --csv "$OUT/hold.csv" || die "cmr-bench hold failed"
memory_state "after" >>"$OUT/hold-memory.txt"
say "held at once: $(($(wc -l <"$OUT/hold.csv") - 1)) measurements"
