#!/usr/bin/env bash
# --contig never falls back to ordinary memory. Two ways to be refused;
# each must end the process with a non-zero status and the allocator
# preload's error line ("contig-mr-alloc[PID]: error: N bytes: no
# contiguous memory (...): the call fails"), and must not print a result:
#  1. no contiguous range that large: both sides ask for a buffer larger
#     than the guest's memory;
#  2. the locked-memory limit: the client runs without CAP_IPC_LOCK under
#     `ulimit -l 64` (the stock server runs normally).
# A data buffer of another kind (--use_hugepages, --mmap) is refused by
# the wrapper before perftest runs (wrapper_refuses.sh, on the host).
. "$(dirname "$0")/lib.sh"
need_rxe

# expect_refused NAME: non-zero status in $TMP/NAME.rc, the preload's error.
expect_refused() {
	local rc
	rc=$(cat "$TMP/$1.rc")
	[ "$rc" != 0 ] || { show "$1"; fail "$1: exit status 0"; }
	[ "$rc" != 124 ] || { show "$1"; fail "$1: timed out instead of failing"; }
	grep -qE 'contig-mr-alloc\[[0-9]+\]: error: [0-9]+ bytes: no contiguous memory' "$TMP/$1.out" ||
		{ show "$1"; fail "$1: no contig-mr-alloc error line"; }
	! grep -qE '^ *[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+' "$TMP/$1.out" || { show "$1"; fail "$1: printed a result"; }
	note "$1 (status $rc): $(grep -m1 'contig-mr-alloc.*: error: ' "$TMP/$1.out")"
}

# pair NAME SERVER-CMD... -- CLIENT-CMD...: runs both, records statuses.
pair() {
	local name=$1 srv=() cli=()
	shift
	while [ "$1" != -- ]; do srv+=("$1") && shift; done
	shift
	cli=("$@")
	next_port
	start_server "$name-srv" timeout 120 "${srv[@]}" -p "$PORT"
	spid=$SPID
	wait_listen "$PORT" || { show "$name-srv"; fail "$name: server does not listen"; }
	start_client "$name-cli" timeout 120 "${cli[@]}" -p "$PORT" "$CMR_IP"
	wait "$CPID"
	echo $? >"$TMP/$name-cli.rc"
	wait "$spid"
	echo $? >"$TMP/$name-srv.rc"
}

# 1. Larger than memory: 2 x size > MemTotal on both sides.
mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
size=$(((mem_kib / 2 / 1024 + 64) * 1024 * 1024))
[ $size -le $((1 << 31)) ] || size=$((1 << 31))
opts=(-d "$CMR_RXE" -x 1 -F -n 5 -s "$size")
pair big "$BIN/ib_write_bw" --contig "${opts[@]}" -- "$BIN/ib_write_bw" --contig "${opts[@]}"
skip_without_feature big-srv big-cli
expect_refused big-srv
expect_refused big-cli
ok "a buffer of 2 x $size B (guest memory $((mem_kib >> 10)) MiB) is refused on both sides"

# 2. RLIMIT_MEMLOCK without CAP_IPC_LOCK, client side only.
if command -v setpriv >/dev/null; then
	opts=(-d "$CMR_RXE" -x 1 -F -n 5 -s 1048576)
	pair memlock "$STOCK/ib_read_bw" "${opts[@]}" -- \
		setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock \
		bash -c 'ulimit -l 64 && exec "$0" "$@"' "$BIN/ib_read_bw" --contig "${opts[@]}"
	expect_refused memlock-cli
	[ "$(cat "$TMP/memlock-srv.rc")" != 0 ] || note "the stock server survived its peer's failure"
	ok "a locked-memory limit of 64 KiB refuses the contiguous buffer"
else
	note "no setpriv: the locked-memory case is not run"
fi
