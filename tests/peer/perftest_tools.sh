#!/usr/bin/env bash
# The stock perftest tools (Debian's /usr/bin) on ordinary memory, in the
# loop or the pair set-up: each bandwidth and latency tool, over each
# transport rxe offers it (RC, UC, UD). A run is "ok" when server and client exit 0 and
# the client prints its result row. Every outcome must be the one it has on
# the same kernel without the series (tests/peer/stock/perftest-SETUP.txt).
. "$(dirname "$0")/lib.sh"
if [ -n "${CMR_RXE:-}" ]; then
	setup=loop sdev=$CMR_RXE cdev=$CMR_RXE ip=$CMR_IP
elif [ -n "${CMR_RXE1:-}" ]; then
	setup=pair sdev=$CMR_RXE1 cdev=$CMR_RXE2 ip=$CMR_IP1
else
	fail "needs the loop or the pair set-up"
fi
: >"$TMP/results"

# run_pair SIZE TOOL [OPTION...]: one server/client run with messages of
# SIZE bytes; records its outcome.
run_pair() {
	local size=$1 tool=$2 srv cli src=0 crc=0 status=ok
	shift 2
	local what="$tool${*:+ $*}"
	srv=$tool-$setup-srv-$PORT cli=$tool-$setup-cli-$PORT
	next_port
	local opts=(-x 1 -F -s "$size" -n 200 -p "$PORT" "$@")
	# A side that hangs is a failed run, not a test that times out.
	start_server "$srv" timeout 120 "$STOCK/$tool" -d "$sdev" "${opts[@]}"
	local spid=$SPID
	if wait_listen "$PORT"; then
		run_client "$cli" timeout 120 "$STOCK/$tool" -d "$cdev" "${opts[@]}" "$ip" || crc=$?
	else
		crc=no-listen
	fi
	wait "$spid" || src=$?
	awk -v s="$size" '$1 == s { found = 1 } END { exit !found }' "$TMP/$cli.out" 2>/dev/null ||
		status=fail
	[ "$src" = 0 ] && [ "$crc" = 0 ] || status=fail
	if [ $status = ok ]; then
		note "$what: $(awk -v s="$size" '$1 == s' "$TMP/$cli.out" | head -n1)"
	else
		note "$what: server status $src, client status $crc"
		show "$srv"
		show "$cli"
	fi
	echo "$status $what" >>"$TMP/results"
}

# UD carries one MTU per message: rxe's is 1024 bytes over a 1500-byte veth.
for tool in ib_read_bw ib_read_lat; do
	run_pair 65536 "$tool"
done
for tool in ib_write_bw ib_write_lat; do
	run_pair 65536 "$tool" -c RC
	run_pair 65536 "$tool" -c UC
done
for tool in ib_send_bw ib_send_lat; do
	run_pair 65536 "$tool" -c RC
	run_pair 65536 "$tool" -c UC
	run_pair 1024 "$tool" -c UD
done
peer_compare "perftest-$setup" "$TMP/results"
