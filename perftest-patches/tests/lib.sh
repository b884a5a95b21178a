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

# The preload's report: "contig-mr: data buffer N bytes at 0xADDR: ...
# device page size X, E map entries, lkey 0x.. rkey 0x..".
buffer_line() { grep -m1 '^contig-mr: data buffer' "$TMP/$1.out"; }

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
		why="the running kernel has no contiguous MRs: $(grep -m1 'contig-mr: error' "$TMP/$f.out")"
		[ "${CMR_REQUIRE:-0}" = 1 ] && fail "$why (the project's kernel must have them)"
		skip "$why"
	done
	return 0
}
