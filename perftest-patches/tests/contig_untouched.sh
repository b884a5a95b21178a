#!/usr/bin/env bash
# Without --contig the wrapper is invisible: the running process is the
# stock binary (same executable, no preload mapped, no CMR_ or LD_PRELOAD
# variable added), and a run through the wrapper prints what a run of the
# stock binary prints (numbers, keys and addresses masked, and with them
# the column padding, which perftest sizes to the values; and perftest's
# clock-calibration warnings, which depend on the host's load).
. "$(dirname "$0")/lib.sh"
need_rxe
opts=(-d "$CMR_RXE" -x 1 -F -s 65536 -n 50 --wait_destroy=2)
mask() {
	grep -Ev '^ *(Correlation coefficient|Conflicting CPU frequency)' "$TMP/$1.out" |
		sed -E 's/0x[0-9a-fA-F]+/H/g; s/[0-9]+(\.[0-9]+)?/N/g;
			s/[[:space:]]+/ /g; s/^ //; s/ $//'
}

# run_pair NAME SERVER-BIN CLIENT-BIN [CHECK]: one server/client run;
# CHECK runs while the server waits for its client, fully loaded.
run_pair() {
	next_port
	start_server "$1-srv" "$2" "${opts[@]}" -p "$PORT"
	spid=$SPID
	wait_listen "$PORT" || { show "$1-srv"; fail "$1: server does not listen"; }
	[ -z "${4:-}" ] || "$4"
	start_client "$1-cli" "$3" "${opts[@]}" -p "$PORT" "$CMR_IP"
	cpid=$CPID
}

# What is the server process? Read before its client starts: the server
# cannot have exited yet, so a missing /proc entry fails the test.
check_server() {
	exe=$(readlink "/proc/$spid/exe") || fail "server $spid is gone"
	[ "$exe" = "$STOCK/ib_read_bw" ] || fail "server process runs $exe, not $STOCK/ib_read_bw"
	maps=$(cat "/proc/$spid/maps") || fail "cannot read /proc/$spid/maps"
	case $maps in *contig-mr-alloc*) fail "the preload is mapped into the server without --contig" ;; esac
	environ=$(tr '\0' '\n' <"/proc/$spid/environ") || fail "cannot read /proc/$spid/environ"
	env_added=$(grep -E '^(LD_PRELOAD|CMR_ALLOC_)' <<<"$environ" || true)
	[ -z "$env_added" ] || fail "environment added without --contig: $env_added"
}

run_pair wrapped "$BIN/ib_read_bw" "$BIN/ib_read_bw" check_server
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
