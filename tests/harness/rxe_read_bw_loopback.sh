#!/usr/bin/env bash
# Stock ib_read_bw, server and client on the one rxe device of the loop
# set-up: RDMA READs complete and a bandwidth is reported.
. "$(dirname "$0")/lib.sh"
srv=$(mktemp) cli=$(mktemp) spid=
trap '[ -n "$spid" ] && kill $spid 2>/dev/null; rm -f "$srv" "$cli"' EXIT
dev=${CMR_RXE:?the loop set-up exports CMR_RXE}
opts=(-d "$dev" -x 1 -F -s 65536 -n 200 -p 18515)

ib_read_bw "${opts[@]}" >"$srv" 2>&1 &
spid=$!
sleep 1
for try in 1 2 3 4 5; do
	ib_read_bw "${opts[@]}" "$CMR_IP" >"$cli" 2>&1 && break
	sleep 1
done
wait $spid || { cat "$srv"; fail "ib_read_bw server failed"; }
cat "$cli"
# The result row: bytes iterations peak avg msg-rate.
read -r bytes iters peak avg rate < <(awk '$1 == 65536 && NF == 5' "$cli")
[ "${iters:-0}" = 200 ] || fail "no result row for 65536 B x 200"
awk -v a="$avg" 'BEGIN { exit !(a > 0) }' || fail "average bandwidth $avg MB/s"
ok "ib_read_bw loopback on $dev: 200 x 64 KiB READs, average $avg MB/s"
