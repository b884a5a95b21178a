#!/usr/bin/env bash
# The stock ib_write_bw, neither modified nor wrapped by perftest-contig,
# run by the allocator preload's wrapper (contig-mr-run --min 2M), server
# and client on the loop set-up's rxe device, and the same pair without
# the preload in the same run. While each side holds its MR (perftest's
# --wait_destroy), `rdma resource show mr -dd` must show, with the
# preload, the MR inside the region the preload served, with device pages
# that cover it in at most two entries; without it, pages of 2 MiB at most
# (4 KiB, or transparent huge pages). Both runs must report a bandwidth;
# their ratio is printed, not judged (timings under TCG).
. "$(dirname "$0")/lib.sh"
RUN=${3:?usage: $0 WRAPPER_BIN_DIR CMR_RDMA_MR CONTIG_MR_RUN}
need_rxe
size=4194304
common=(-d "$CMR_RXE" -x 1 -F -s "$size" -n 10 --wait_destroy=20)

# mr_pages NAME: "PAGE ENTRIES MRLEN VADDR" of NAME's MR, or nothing.
mr_pages() {
	local rkey rec page entries
	wait_for "$TMP/$1.out" 'local address:.*RKey' 60 || return 1
	rkey=$(rkey_of "$1" local)
	rec=$(mr_record "$rkey") || return 1
	note "$1: rdma: $rec" >&2
	page=$(field "$rec" page_size) entries=$(field "$rec" map_entries)
	[ -n "$page" ] && [ -n "$entries" ] || return 1
	echo "$((page)) $((entries)) $(field "$rec" mrlen) $(vaddr_of "$1" local)"
}

# bandwidth NAME: the average MB/s of the 4 MiB x 10 row, "no clock" when
# its numbers are all zero (perftest's clock calibration failed under TCG:
# bench/guest/readbw.sh).
bandwidth() {
	awk -v s="$size" '$1 == s && $2 == 10 && NF == 5 {
		if ($3 + 0 == 0 && $4 + 0 == 0) print "no clock"; else print $4 }' "$TMP/$1.out"
}

# pair LABEL [PREFIX...]: server and client, each run as PREFIX perftest.
pair() {
	local label=$1 spid cpid
	shift
	next_port
	start_server "$label-srv" "$@" "$STOCK/ib_write_bw" "${common[@]}" -p "$PORT"
	spid=$SPID
	wait_listen "$PORT" || { show "$label-srv"; fail "$label: the server does not listen"; }
	start_client "$label-cli" "$@" "$STOCK/ib_write_bw" "${common[@]}" -p "$PORT" "$CMR_IP"
	cpid=$CPID
	for side in srv cli; do
		read -r page entries mrlen vaddr < <(mr_pages "$label-$side") ||
			{ show "$label-$side"; fail "$label-$side: no MR record"; }
		eval "${label}_${side}=\"$page $entries $mrlen $vaddr\""
	done
	wait "$cpid" || { show "$label-cli"; fail "$label: the client failed"; }
	wait "$spid" || { show "$label-srv"; fail "$label: the server failed"; }
	[ -n "$(bandwidth "$label-cli")" ] ||
		{ show "$label-cli"; fail "$label: no result row"; }
}

pair plain
pair preload "$RUN" --min 2M --verbose
for side in srv cli; do
	eval "set -- \$plain_$side"
	[ "$1" -le $((2 << 20)) ] ||
		fail "plain $side: device pages of $1 bytes without the preload?"
	ok "plain $side: device pages of $1 bytes, $2 entries for $3 bytes"
	eval "set -- \$preload_$side"
	page=$1 entries=$2 mrlen=$3 vaddr=$4
	read -r addr mapped < <(region_holding "preload-$side" "$vaddr") ||
		{ show "preload-$side"; fail "preload $side: perftest's VAddr $vaddr is in no region the preload served"; }
	[ "$entries" -le 2 ] && [ $((page * entries)) -ge "$mrlen" ] && [ "$page" -gt $((2 << 20)) ] ||
		fail "preload $side: $entries entries of $page bytes for $mrlen bytes"
	ok "preload $side: MR at $vaddr in region $addr ($mapped bytes): device pages of $page bytes, $entries entries"
done
with=$(bandwidth preload-cli) without=$(bandwidth plain-cli)
if [ "$with" = "no clock" ] || [ "$without" = "no clock" ]; then
	note "ib_write_bw 4 MiB x 10: with the preload $with, without $without: no ratio (perftest's clock calibration failed)"
else
	note "ib_write_bw 4 MiB x 10: $with MB/s with the preload, $without without: ratio $(ratio "$with" "$without")"
fi
ok "stock ib_write_bw ran with and without the preload"
