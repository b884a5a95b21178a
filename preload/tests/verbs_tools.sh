#!/usr/bin/env bash
# vm_alloc_preload_verbs RUN: rdma-core's own tools under the allocator
# preload with the smallest threshold (a page) and no fallback, on the loop
# set-up's rxe device. At a page, libibverbs' own allocations inside
# ibv_get_device_list() (stdio buffers, sysfs reads) reach the preload
# while libibverbs holds its device-list lock; the preload must leave them
# to glibc, not open its device there and deadlock. Then
# ibv_rc_pingpong's message buffers are contiguous regions and the
# exchange (with -c, whose check reads one byte a page) must complete.
# Every command runs under a timeout: a deadlock fails, it does not hang.
RUN=${1:?usage: $0 CONTIG_MR_RUN}
# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"
[ -n "${CMR_RXE:-}" ] || { echo "1..0 # SKIP needs the loop set-up (CMR_RXE)"; exit 77; }
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
echo "TAP version 13"
pre=("$RUN" --min 4K --on-fail fail --verbose --)
served() { grep -c 'contig-mr-alloc\[[0-9]*\]: .*contiguous at' "$1"; }

timeout 60 "${pre[@]}" ibv_devinfo -d "$CMR_RXE" >"$tmp/devinfo" 2>&1
rc=$?
if [ $rc = 0 ] && grep -q "hca_id:[[:space:]]*$CMR_RXE" "$tmp/devinfo"; then
	ok "ibv_devinfo -d $CMR_RXE under --min 4K: exit 0, $(served "$tmp/devinfo") region(s) served"
else
	show "$tmp/devinfo"
	notok "ibv_devinfo under --min 4K: exit $rc (124: timed out)"
fi

size=65536 iters=20 port=$((18700 + RANDOM % 200))
opts=(-d "$CMR_RXE" -g 1 -s "$size" -n "$iters" -c -p "$port")
timeout 120 "${pre[@]}" ibv_rc_pingpong "${opts[@]}" >"$tmp/srv" 2>&1 &
spid=$!
crc=1
for _ in 1 2 3 4 5 6 7 8 9 10; do
	sleep 1
	timeout 120 "${pre[@]}" ibv_rc_pingpong "${opts[@]}" 127.0.0.1 >"$tmp/cli" 2>&1
	crc=$?
	grep -q "Couldn't connect" "$tmp/cli" || break
done
wait "$spid"
src=$?
if [ $crc = 0 ] && [ $src = 0 ] &&
	grep -q "$((size * iters * 2)) bytes in" "$tmp/cli" &&
	! grep -qi 'mismatch\|invalid' "$tmp/cli" "$tmp/srv"; then
	ok "ibv_rc_pingpong -s $size -n $iters -c: server and client exit 0, $(grep -m1 'bytes in' "$tmp/cli")"
else
	show "$tmp/srv"
	show "$tmp/cli"
	notok "ibv_rc_pingpong: server $src, client $crc"
fi
# The message buffer is a page-aligned malloc of $size: a region each side.
for side in srv cli; do
	if grep -q "contig-mr-alloc\[[0-9]*\]: malloc $size bytes: contiguous at" "$tmp/$side"; then
		ok "$side: its $size-byte message buffer was a contiguous region"
	else
		show "$tmp/$side"
		notok "$side: no contiguous region of $size bytes"
	fi
done
tap_end
