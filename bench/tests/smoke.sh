#!/usr/bin/env bash
# CI's check of the benchmarks: one part in its --smoke form, in the guest
# (loop set-up; the stacks part, pair), then the report over its output. Passes when the raw CSV
# is well-formed with at least one successful measurement (report.py
# --check), the part's plots are PNG files, results.md has its section,
# and the part left THP and the hugetlb pools as it found them.
#   smoke.sh PART CMR_BENCH_BIN PERFTEST_BIN_DIR
set -u
part=${1:?part} bench_bin=${2:?cmr-bench} perftest_bin=${3:?perftest wrapper dir}
here=$(cd "$(dirname "$0")/.." && pwd)
fail() { echo "not ok - $*"; exit 1; }
if [ "$part" = stacks ]; then
	[ -n "${CMR_RXE1:-}" ] || { echo "skip - needs the pair set-up"; exit 77; }
else
	[ -n "${CMR_RXE:-}" ] || { echo "skip - needs the loop set-up"; exit 77; }
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The settings a part changes: it must put them back, because the tests
# after it share this guest boot.
knobs() {
	grep -H . /sys/kernel/mm/transparent_hugepage/enabled \
		/sys/kernel/mm/hugepages/hugepages-*/nr_hugepages 2>/dev/null
}
knobs_before=$(knobs)
start=$(date +%s)
CMR_BENCH_BIN=$bench_bin CMR_PERFTEST_BIN=$perftest_bin \
	bash "$here/guest/$part.sh" --smoke --out "$out" || {
	tail -n 20 "$out"/*.txt 2>/dev/null
	fail "$part.sh --smoke failed"
}
secs=$(($(date +%s) - start))
[ "$(knobs)" = "$knobs_before" ] || {
	diff <(echo "$knobs_before") <(knobs) | sed 's/^/# /'
	fail "$part.sh left kernel settings changed"
}
# A kernel without the series: the contiguous back end reports it, and
# every contiguous measurement failed the same way.
python3 "$here/report.py" "$out" --check || fail "report.py --check"
case $part in
readbw) csvs="readbw.csv readbw-runs.csv" pngs="readbw readbw-ratio" sect="### 1." ;;
setup) csvs="setup.csv" pngs="setup release translation" sect="### 2." ;;
frag) csvs="frag.csv" pngs="frag" sect="### 4." ;;
hold) csvs="hold.csv" pngs="" sect="### 5." ;;
scale) csvs="scale.csv" pngs="" sect="### 6." ;;
stacks) csvs="stacks.csv stacks-runs.csv" pngs="" sect="### 7." ;;
*) fail "unknown part $part" ;;
esac
for f in $csvs; do
	[ "$(wc -l <"$out/$f")" -ge 2 ] || fail "$f has no rows"
done
# The stacks part counts a failed script run and goes on; here each must pass.
if [ "$part" = stacks ]; then
	awk -F, 'NR > 1 && $4 != 0 { bad = 1; print "# failed: " $0 } END { exit bad }' "$out/stacks-runs.csv" ||
		{ cat "$out"/stacks-logs/*.tap | grep '^not ok' | sed 's/^/# /'; fail "a stack's script failed"; }
fi
for p in $pngs; do
	[ "$(head -c 4 "$out/$p.png" 2>/dev/null | od -An -tx1 | tr -d ' ')" = 89504e47 ] ||
		fail "$p.png is missing or not a PNG"
done
grep -q "^$sect" "$out/results.md" || fail "results.md has no section $sect"
grep -q '^| ' "$out/results.md" || fail "results.md has no table"
sed -n "/^$sect/,/^### /p" "$out/results.md" | head -n 40 | sed 's/^/# /'
echo "ok - bench $part --smoke: $(($(wc -l <"$out/${csvs%% *}") - 1)) rows, plots $pngs, in $secs s"
