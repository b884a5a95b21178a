# Helpers of the perftest --contig tests. Exit codes: 0 pass, 77 skip,
# anything else fail. Sourced with the wrapper directory as $1 (and, for
# mr_record, the cmr-rdma-mr tool as $2).
# shellcheck shell=bash
set -u
BIN=${1:?usage: $0 WRAPPER_BIN_DIR}
STOCK=/usr/bin
fail() { echo "not ok - $*"; exit 1; }
ok() { echo "ok - $*"; }
skip() { echo "skip - $*"; exit 77; }
T0=$(date +%s)
note() { echo "# [$(($(date +%s) - T0)) s] $*"; }
# ratio A B: A / B to two decimals, "n/a" when B is not above zero.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# record_bw TEST BACKING BYTES ITERATIONS MB/S: a bandwidth, as a CSV row
# into $CMR_STACK_CSV when the benchmark (bench/guest/stacks.sh) set it;
# a bandwidth the program did not report is left out.
record_bw() {
	[ -z "${CMR_STACK_CSV:-}" ] || [ -z "$5" ] || echo "$1,$2,$3,$4,$5" >>"$CMR_STACK_CSV"
}
# reported_bw FILE PROG TEST: the "N MB/s," that PROG (mpi_bw, fi_rma)
# printed for TEST in FILE, on its "PROG: TEST ..." line.
reported_bw() {
	awk -v p="$2:" -v w="$3" '$1 == p && $2 == w { for (i = 1; i < NF; i++) if ($(i + 1) == "MB/s,") print $i }' "$1"
}
# compare_bw TEST BYTES ITERATIONS WITH WITHOUT: the bandwidths with and
# without the preload, recorded and noted with their ratio (not judged).
compare_bw() {
	record_bw "$1" plain "$2" "$3" "$5"
	record_bw "$1" preload "$2" "$3" "$4"
	note "$1 $2 B x $3: $4 MB/s with the preload, $5 without: ratio $(ratio "$4" "$5")"
}
# no_hold_timeout LABEL FILE...: fails if a program's hold of its MRs
# (tests/stacks/hold.h) gave up waiting for the test.
no_hold_timeout() {
	local label=$1
	shift
	! grep -h '^hold: .* going on' "$@" || fail "$label: a hold timed out"
}

TMP=$(mktemp -d)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

# Ports: each server gets its own, so a slow TIME_WAIT never collides.
PORT=$((18600 + RANDOM % 200))
next_port() { PORT=$((PORT + 1)); }

# start_server NAME CMD... : runs CMD in the background, output in
# $TMP/NAME.out; sets SPID.
start_server() {
	local name=$1
	shift
	"$@" >"$TMP/$name.out" 2>&1 &
	SPID=$!
	PIDS+=("$SPID")
}

# wait_for FILE PATTERN SECONDS: until PATTERN shows up in FILE.
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_listen PORT: until a server listens on the TCP port (perftest's
# out-of-band channel), at most 30 s.
wait_listen() {
	local i
	for ((i = 0; i < 300; i++)); do
		ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# start_client NAME CMD... : like start_server (the server must listen).
start_client() {
	local name=$1
	shift
	"$@" >"$TMP/$name.out" 2>&1 &
	CPID=$!
	PIDS+=("$CPID")
}

# run_client NAME CMD... : runs CMD (retrying while the server is not yet
# listening), output in $TMP/NAME.out; returns its status.
run_client() {
	local name=$1 try rc
	shift
	for try in 1 2 3 4 5; do
		"$@" >"$TMP/$name.out" 2>&1
		rc=$?
		grep -q "Couldn't connect\|Unable to open file descriptor" "$TMP/$name.out" || break
		sleep 1
	done
	return $rc
}

show() { sed 's/^/#   /' "$TMP/$1.out"; }

# The fields of perftest's "local address:" / "remote address:" lines.
vaddr_of() { awk -v w="$2" '$1 == w && $2 == "address:" { for (i = 1; i < NF; i++) if ($i == "VAddr") print $(i + 1) }' "$TMP/$1.out" | head -n1; }
rkey_of() { awk -v w="$2" '$1 == w && $2 == "address:" { for (i = 1; i < NF; i++) if ($i == "RKey") print $(i + 1) }' "$TMP/$1.out" | head -n1; }

# The regions the allocator preload served, from its --verbose lines
# (which --contig turns on): "START MAPPED" each. Not anchored at the line's
# start: perftest's buffered stdout shares the file and may end mid-line.
regions_of() {
	sed -nE 's/.*contig-mr-alloc\[[0-9]+\]: (malloc|mmap) [0-9]+ bytes: contiguous at (0x[0-9a-f]+), ([0-9]+) mapped$/\2 \3/p' "$TMP/$1.out"
}
# region_holding NAME ADDR: "START MAPPED" of the region NAME's preload
# served that holds ADDR; status 1 when none does.
region_holding() {
	local start mapped
	while read -r start mapped; do
		[ $(($2)) -ge $((start)) ] && [ $(($2)) -lt $((start + mapped)) ] &&
			{ echo "$start $mapped"; return 0; }
	done < <(regions_of "$1")
	return 1
}

# The `rdma -dd resource show mr` record of the MR with this rkey, on one
# line, through the project's one parser of that output (tests/lib/
# rdma_tool.c): the cmr-rdma-mr tool, which the tests that read records get
# as their second argument.
RDMA_MR=${2:-}
mr_record() {
	# Called in $(...), where fail would end only the subshell.
	[ -x "$RDMA_MR" ] || { echo "# no cmr-rdma-mr tool given (second argument)" >&2; return 2; }
	"$RDMA_MR" rkey "$1"
}
# counter VAR DEV COUNTER [SINCE]: sets VAR to COUNTER of DEV's port 1
# (rdma statistic), less SINCE; fails the test if DEV has no such counter.
counter() {
	local _v
	_v=$(rdma statistic show link "$2/1" | awk -v c="$3" '{ for (i = 1; i < NF; i++) if ($i == c) print $(i + 1) }')
	[[ $_v =~ ^[0-9]+$ ]] || fail "$2: no counter $3 in 'rdma statistic show link $2/1'"
	printf -v "$1" %s $((_v - ${4:-0}))
}
# port_mtu DEV: the active MTU of DEV's port 1 in bytes, the most payload
# one packet carries; status 1 when ibv_devinfo shows none.
port_mtu() {
	local m
	m=$(ibv_devinfo -d "$1" -i 1 | awk '$1 == "active_mtu:" { print $2 }')
	[[ $m =~ ^[0-9]+$ ]] && echo "$m"
}
# mrs_of NAME PID MIN MAX [COUNT]: the records of PID's MRs of MIN to MAX
# bytes, into $TMP/NAME.mrs, once PID has registered COUNT of them (one by
# default; at most 60 s).
mrs_of() {
	local i rec len
	[ -x "$RDMA_MR" ] || { echo "# no cmr-rdma-mr tool given (second argument)" >&2; return 2; }
	for ((i = 0; i < 300; i++)); do
		: >"$TMP/$1.mrs"
		while read -r rec; do
			len=$(field "$rec" mrlen)
			[ "$len" -ge "$3" ] && [ "$len" -le "$4" ] && echo "$rec" >>"$TMP/$1.mrs"
		done < <("$RDMA_MR" pid "$2" 2>/dev/null)
		[ "$(wc -l <"$TMP/$1.mrs")" -ge "${5:-1}" ] && return 0
		sleep 0.2
	done
	return 1
}
# pages NAME: "MIN MAX ENTRIES" over the device page sizes of the MRs in
# $TMP/NAME.mrs, and the most map entries of one.
pages() {
	local rec p e min='' max=0 emax=0
	while read -r rec; do
		p=$(($(field "$rec" page_size))) e=$(($(field "$rec" map_entries)))
		[ -z "$min" ] || [ "$p" -lt "$min" ] && min=$p
		[ "$p" -gt "$max" ] && max=$p
		[ "$e" -gt "$emax" ] && emax=$e
	done <"$TMP/$1.mrs"
	echo "${min:-0} $max $emax"
}
# expect_pages PLAIN PRELOAD MIN: the MRs in $TMP/PLAIN.mrs (a run without
# the preload) have device pages of 2 MiB at most (4 KiB, or transparent
# huge pages); each of those in $TMP/PRELOAD.mrs is one device page of MIN
# bytes or more.
expect_pages() {
	local rec min max entries
	while read -r rec; do note "$1: $rec"; done <"$TMP/$1.mrs"
	read -r min max entries < <(pages "$1")
	[ "$max" -gt 0 ] && [ "$max" -le $((2 << 20)) ] ||
		fail "$1: device pages of $min..$max bytes without the preload"
	ok "$1: $(wc -l <"$TMP/$1.mrs") MR(s), device pages of $max bytes at most"
	while read -r rec; do note "$2: $rec"; done <"$TMP/$2.mrs"
	read -r min max entries < <(pages "$2")
	[ "$min" -ge "$3" ] && [ "$entries" -eq 1 ] ||
		fail "$2: device pages of $min..$max bytes, up to $entries entries"
	ok "$2: $(wc -l <"$TMP/$2.mrs") MR(s), each one device page of $min bytes or more"
}
field() { awk -v f="$2" '{ for (i = 1; i < NF; i++) if ($i == f || $i == "drv_" f) { print $(i + 1); exit } }' <<<"$1"; }

need_rxe() {
	[ -n "${CMR_RXE:-}" ] || skip "needs the loop set-up (CMR_RXE)"
	[ -x "$BIN/ib_read_bw" ] || fail "no wrapper at $BIN/ib_read_bw (build the project)"
}

# Skips when the client or server output says the kernel has no
# contiguous-MR method (a kernel without the series, --kernel PATH); fails
# instead on the project's own kernels (CMR_REQUIRE=1, set by the harness),
# where that message can only mean a bug.
skip_without_feature() {
	local f why
	for f in "$@"; do
		grep -q 'lacks the contig-mr series' "$TMP/$f.out" 2>/dev/null || continue
		why="the running kernel has no contiguous MRs: $(grep -m1 'lacks the contig-mr series' "$TMP/$f.out")"
		[ "${CMR_REQUIRE:-0}" = 1 ] && fail "$why (the project's kernel must have them)"
		skip "$why"
	done
	return 0
}
