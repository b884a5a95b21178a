#!/usr/bin/env bash
# Without --contig the wrapper is invisible: the running process is the
# stock binary (same executable, no preload mapped, no CMR_ or LD_PRELOAD
# variable added), and a run through the wrapper prints what a run of the
# stock binary prints (numbers, keys and addresses masked).
. "$(dirname "$0")/lib.sh"
need_rxe
opts=(-d "$CMR_RXE" -x 1 -F -s 65536 -n 50 --wait_destroy=2)
mask() { sed -E 's/0x[0-9a-fA-F]+/H/g; s/[0-9]+(\.[0-9]+)?/N/g' "$TMP/$1.out"; }

# run_pair NAME SERVER-BIN CLIENT-BIN: one server/client run.
run_pair() {
	next_port
	start_server "$1-srv" "$2" "${opts[@]}" -p "$PORT"
	spid=$SPID
	wait_listen "$PORT" || { show "$1-srv"; fail "$1: server does not listen"; }
	start_client "$1-cli" "$3" "${opts[@]}" -p "$PORT" "$CMR_IP"
	cpid=$CPID
}

run_pair wrapped "$BIN/ib_read_bw" "$BIN/ib_read_bw"
# While they run: what is the server process?
exe=$(readlink "/proc/$spid/exe")
[ "$exe" = "$STOCK/ib_read_bw" ] || fail "server process runs $exe, not $STOCK/ib_read_bw"
wait_for "$TMP/wrapped-srv.out" 'local address' 60 || fail "no local address line"
if grep -q 'contig-mr-perftest' "/proc/$spid/maps"; then
	fail "the preload is mapped into the server without --contig"
fi
env_added=$(tr '\0' '\n' <"/proc/$spid/environ" | grep -E '^(LD_PRELOAD|CMR_PERFTEST_)' || true)
[ -z "$env_added" ] || fail "environment added without --contig: $env_added"
wait "$cpid" || { show wrapped-cli; fail "wrapped client failed"; }
wait "$spid" || { show wrapped-srv; fail "wrapped server failed"; }
ok "without --contig the server is $exe, no preload, no added environment"

run_pair stock "$STOCK/ib_read_bw" "$STOCK/ib_read_bw"
wait "$cpid" || { show stock-cli; fail "stock client failed"; }
wait "$spid" || { show stock-srv; fail "stock server failed"; }
for side in srv cli; do
	if ! diff <(mask "wrapped-$side") <(mask "stock-$side") >"$TMP/diff-$side"; then
		sed 's/^/#   /' "$TMP/diff-$side"
		fail "$side output differs between the wrapper and the stock binary"
	fi
done
ok "wrapped and stock runs print the same (numbers masked)"
