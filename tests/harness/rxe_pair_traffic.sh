#!/usr/bin/env bash
# The two-host set-up: IP traffic between the two veth ends, then an RC
# ping-pong between the two rxe devices (ibv_rc_pingpong checks its data),
# with the packets counted on the wire to prove they crossed the veth.
. "$(dirname "$0")/lib.sh"
srv=$(mktemp) cli=$(mktemp) spid=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null; rm -f "$srv" "$cli"' EXIT
rx_packets() { cat "/sys/class/net/$1/statistics/rx_packets"; }

ping -c 2 -W 2 -I "$CMR_IP2" "$CMR_IP1" >"$cli" || { cat "$cli"; fail "ping $CMR_IP2 -> $CMR_IP1"; }
ok "ping from $CMR_IP2 to $CMR_IP1"

before=$(rx_packets cmr-v1)
ibv_rc_pingpong -d "$CMR_RXE1" -g 1 -n 100 -s 4096 -c >"$srv" 2>&1 &
spid=$!
sleep 1
for try in 1 2 3 4 5; do
	ibv_rc_pingpong -d "$CMR_RXE2" -g 1 -n 100 -s 4096 -c "$CMR_IP1" >"$cli" 2>&1 && break
	sleep 1
done
wait $spid || { cat "$srv" "$cli"; fail "ibv_rc_pingpong server failed"; }
spid=
cat "$cli"
expect_in "$cli" '819200 bytes in .* seconds' "100 x 4 KiB each way"
expect_in "$cli" 'GID ::ffff:192\.0\.2\.2' "the client on $CMR_RXE2"
crossed=$(($(rx_packets cmr-v1) - before))
[ "$crossed" -ge 100 ] || fail "only $crossed packets arrived on cmr-v1"
ok "RC ping-pong $CMR_RXE2 -> $CMR_RXE1, data checked (-c), $crossed packets over the veth"
