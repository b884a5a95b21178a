#!/usr/bin/env bash
# Part 1: ib_read_bw -a (2 B .. 8 MiB) over the loop set-up's rxe device,
# with perftest's data buffer from memalign() (stock), SysV hugetlb
# (--use_hugepages, stock) or ibv_alloc_contig_buf() (--contig), on both
# sides. The three run interleaved (memalign huge contig memalign ...),
# --repeats times.
#
# Writes to --out: readbw.csv (one row per message size and run),
# readbw-runs.csv (one row per run: status, seconds), readbw-logs/ (every
# run's output), conditions-readbw.txt.
. "$(dirname "$0")/common.sh"
parse_common "$@"

# result_rows CLIENT-LOG: perftest's result rows, "bytes iterations peak
# avg msgrate"; its calibration warning is glued to the end of the row
# before the one it spoils, and is cut off.
result_rows() {
	sed 's/Correlation coefficient.*//' "$1" |
		awk 'NF == 5 && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/'
}
# parse_rows REPEAT BACKING CLIENT-LOG: the CSV rows of one run. A row
# whose three numbers are all zero had no clock (large messages have a
# message rate that prints as 0.000000, so it alone says nothing).
parse_rows() {
	result_rows "$3" | awk -v r="$1" -v b="$2" '
		$3 + 0 > 0 || $4 + 0 > 0 || $5 + 0 > 0 {
			printf "%s,%s,%s,%s,%s,%s,%s\n", r, b, $1, $2, $3, $4, $5
		}'
}
count_invalid() {
	result_rows "$1" | awk '$3 + 0 == 0 && $4 + 0 == 0 && $5 + 0 == 0' | wc -l
}

[ -n "${CMR_RXE:-}" ] && [ -n "${CMR_IP:-}" ] || die "needs the loop set-up (CMR_RXE, CMR_IP)"
# The full run sweeps every size (-a: 2 B .. 8 MiB); the smoke run checks
# the pipeline with one size, since each size of a sweep costs seconds of
# perftest's per-size synchronisation under TCG.
if [ "$SMOKE" = 1 ]; then
	REPEATS=${REPEATS:-1} ITERS=5 SWEEP=(-s 1048576)
else
	REPEATS=${REPEATS:-5} ITERS=${CMR_BENCH_READBW_ITERS:-100} SWEEP=(-a)
fi
BACKINGS=(memalign huge contig)
logs=$OUT/readbw-logs
mkdir -p "$logs"
set_thp madvise
# --use_hugepages: each side's buffer (2 x 8 MiB) in a SysV SHM_HUGETLB
# segment of 2 MiB pages, from the pool reserved here.
set_hugepages 2048 64
conditions readbw >"$OUT/conditions-readbw.txt"
echo "iterations=$ITERS" >>"$OUT/conditions-readbw.txt"
echo "hugepages_2m_pool=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages)" >>"$OUT/conditions-readbw.txt"

csv=$OUT/readbw.csv runs=$OUT/readbw-runs.csv
echo "repeat,backing,bytes,iterations,bw_peak_mbs,bw_avg_mbs,msg_rate_mpps" >"$csv"
echo "repeat,backing,status,seconds,server_rc,client_rc,rows,invalid_rows" >"$runs"

# tool BACKING: the binary and the options that choose the buffer.
tool() {
	case $1 in
	memalign) echo /usr/bin/ib_read_bw ;;
	huge) echo "/usr/bin/ib_read_bw --use_hugepages" ;;
	contig) echo "$CMR_PERFTEST_BIN/ib_read_bw --contig" ;;
	esac
}

wait_listen() {
	local i
	for ((i = 0; i < 300; i++)); do
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# run_one REPEAT BACKING TRY: one server/client run; 0 when it produced
# valid rows. perftest calibrates its clock for every size; on a loaded TCG
# host that can fail ("Correlation coefficient r^2 < 0.9", printed into the
# middle of the output) and the size's row then reads all zeros, message
# rate included: such rows are dropped and counted (invalid_rows). A run
# without any valid row is repeated, at most twice.
port=19000
run_one() {
	local r=$1 b=$2 try=$3 opts srv cli start spid src crc secs status rows bad
	port=$((port + 1))
	opts=(-d "$CMR_RXE" -x 1 -F "${SWEEP[@]}" -n "$ITERS" -p "$port")
	srv=$logs/r$r-$b-try$try-server.txt cli=$logs/r$r-$b-try$try-client.txt
	start=$(date +%s.%N)
	# shellcheck disable=SC2046 # tool's words are the command
	timeout 1800 $(tool "$b") "${opts[@]}" >"$srv" 2>&1 &
	spid=$!
	wait_listen "$port" || say "server $b did not listen"
	# shellcheck disable=SC2046
	timeout 1800 $(tool "$b") "${opts[@]}" "$CMR_IP" >"$cli" 2>&1
	crc=$?
	wait $spid
	src=$?
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	parse_rows "$r" "$b" "$cli" >"$logs/.rows"
	rows=$(wc -l <"$logs/.rows")
	bad=$(count_invalid "$cli")
	status=ok
	if [ $crc != 0 ] || [ $src != 0 ]; then
		status=fail
	elif [ "$rows" = 0 ]; then
		status=noclock
	fi
	echo "$r,$b,$status,$secs,$src,$crc,$rows,$bad" >>"$runs"
	say "repeat $r $b (try $try): $status in $secs s ($rows rows, $bad without a clock)"
	if [ $status != ok ]; then
		[ $status = fail ] && tail -n 5 "$srv" "$cli" >&2
		return 1
	fi
	cat "$logs/.rows" >>"$csv"
	rm -f "$logs/.rows"
}

for ((r = 0; r < REPEATS; r++)); do
	for b in "${BACKINGS[@]}"; do
		for try in 0 1 2; do
			run_one "$r" "$b" "$try" && break
		done
	done
done
# perftest's header names its units.
cat "$logs"/r*-client.txt 2>/dev/null | grep -m1 '#bytes' |
	sed 's/^ */perftest_header=/' >>"$OUT/conditions-readbw.txt"
# The contiguous runs' regions, as the allocator preload reported them.
grep -ho 'contig-mr-alloc\[[0-9]*\]: .*' "$logs"/*-contig-*.txt 2>/dev/null | sort -u >"$OUT/readbw-contig-buffers.txt"
ok=$(grep -c ',ok,' "$runs")
say "ib_read_bw: $ok of $((REPEATS * ${#BACKINGS[@]})) runs completed"
[ "$ok" -gt 0 ]
