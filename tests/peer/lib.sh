# Helpers of the peer suites: software nobody here wrote, run on the
# project's kernel, each outcome compared with the one the same kernel
# without the series gave (tests/peer/stock/NAME.txt, recorded by
# `./contig-mr peers --record`). Exit codes: 0 pass, 77 skip, else fail.
# shellcheck shell=bash
PEER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# fail, ok, note, a $TMP removed at exit, and the server/client helpers of
# the perftest tests, here for the stock tools in /usr/bin.
# shellcheck source=../../perftest-patches/tests/lib.sh
. "$PEER_DIR/../../perftest-patches/tests/lib.sh" /usr/bin

# peer_counts FILE: "86 ok, 186 skip, 1 error" of a results file.
peer_counts() { awk -f "$PEER_DIR/counts.awk" "$1"; }

# peer_compare NAME RESULTS: RESULTS ("STATUS ID..." lines) must equal the
# stock kernel's set, line for line. The results are also left for the host
# (CMR_ARTIFACTS, the run directory's tests/), where `./contig-mr peers`
# puts the two kernels side by side.
peer_compare() {
	local name=$1 results=$2 expected=$PEER_DIR/stock/$1.txt
	[ -n "${CMR_ARTIFACTS:-}" ] && cp "$results" "$CMR_ARTIFACTS/$name.txt"
	[ -f "$expected" ] || fail "no recorded stock set $expected"
	note "this kernel ($(uname -rv)): $(peer_counts "$results")"
	note "stock kernel (recorded): $(peer_counts "$expected")"
	if ! diff <(grep -v '^#' "$expected") "$results" >"$TMP/$name.diff"; then
		sed -n 's/^< /#   stock: /p; s/^> /#   here:  /p' "$TMP/$name.diff"
		fail "$name: $(grep -c '^[<>]' "$TMP/$name.diff") line(s) differ from the stock kernel's set"
	fi
	ok "$name: the same outcome as on the stock kernel, test by test ($(peer_counts "$results"))"
}
