#!/usr/bin/env bash
# Part 4: contiguous allocations vs run-time hugetlb pool growth, clean and
# after workloads that fragment memory:
#   clean    nothing else running
#   movable  page cache (a tmpfs file) and anonymous memory with holes:
#            everything can be migrated away
#   pinned   the same plus long-term pinned pages (an MR), one every
#            stride over half of memory: unmovable
# Sizes and the workload scale with the guest's memory. For each condition
# cmr-bench probe tries every size with every method, interleaved,
# --repeats times.
#
# Writes to --out: frag.csv, frag-memory.txt (buddyinfo per condition),
# frag-workload.txt, conditions-frag.txt.
. "$(dirname "$0")/common.sh"
parse_common "$@"
[ -x "$CMR_BENCH_BIN" ] || die "no $CMR_BENCH_BIN (build the project)"
mem=$(mem_total_bytes)
mib() { echo "$(($1 >> 20))M"; }
if [ "$SMOKE" = 1 ]; then
	REPEATS=${REPEATS:-1} SIZES=${CMR_BENCH_FRAG_SIZES:-2M,64M}
	CONDITIONS="clean pinned"
else
	REPEATS=${REPEATS:-3} SIZES=${CMR_BENCH_FRAG_SIZES:-2M,8M,32M,128M,512M,1G}
	CONDITIONS="clean movable pinned"
fi
# The workload: a quarter of memory each of anonymous memory and page
# cache, pins over half of it (a quarter of that for --smoke, to keep
# TCG's time to fault it all in short).
scale=1
[ "$SMOKE" = 1 ] && scale=4
ANON=$(mib $((mem / 4 / scale))) PAGECACHE=$(mib $((mem / 4 / scale)))
SPAN=$(mib $((mem / 2 / scale))) STRIDE=${CMR_BENCH_FRAG_STRIDE:-32M}
set_thp madvise
empty_hugetlb_pools
conditions frag >"$OUT/conditions-frag.txt"
cat >>"$OUT/conditions-frag.txt" <<EOC
sizes=$SIZES
workload_anon=$ANON
workload_pagecache=$PAGECACHE
workload_pin_span=$SPAN
workload_pin_stride=$STRIDE
EOC

csv=$OUT/frag.csv
: >"$OUT/frag-memory.txt"
: >"$OUT/frag-workload.txt"
rm -f "$csv"
header=

# probe CONDITION: every size and method, --repeats times.
probe() {
	memory_state "$1" >>"$OUT/frag-memory.txt"
	"$CMR_BENCH_BIN" probe --dev "${CMR_RXE:-}" --sizes "$SIZES" \
		--attempts "$REPEATS" --condition "$1" --csv "$csv" $header ||
		die "cmr-bench probe failed"
	header=--no-header
}

# under CONDITION FRAGMENT-ARGS...: builds the state, probes, releases.
under() {
	local cond=$1 tmp fifo ready pid start
	shift
	# The fifo lives in the guest's tmpfs: --out may be a 9p directory,
	# which cannot hold one.
	tmp=$(mktemp -d) && fifo=$tmp/fifo ready=$tmp/ready
	mkfifo "$fifo" || die "cannot create a fifo in $tmp"
	start=$(date +%s)
	"$CMR_BENCH_BIN" fragment --dev "${CMR_RXE:-}" --dir /tmp "$@" \
		<"$fifo" >"$ready" 2>&1 &
	pid=$!
	exec 3>"$fifo"
	while ! grep -q '^ready' "$ready" 2>/dev/null; do
		kill -0 $pid 2>/dev/null || { cat "$ready" >&2; die "fragment ($cond) failed"; }
		sleep 0.5
	done
	echo "$cond: $(cat "$ready") (built in $(($(date +%s) - start)) s)" >>"$OUT/frag-workload.txt"
	say "$cond: $(cat "$ready")"
	probe "$cond"
	exec 3>&-
	wait $pid || die "fragment ($cond) did not release cleanly"
	rm -rf "$tmp"
}

for cond in $CONDITIONS; do
	case $cond in
	clean) probe clean ;;
	movable) under movable --anon "$ANON" --pagecache "$PAGECACHE" ;;
	pinned) under pinned --pin-span "$SPAN" --pin-stride "$STRIDE" \
		--anon "$ANON" --pagecache "$PAGECACHE" ;;
	esac
done
say "fragmentation: $(($(wc -l <"$csv") - 1)) attempts"
