#!/usr/bin/env bash
# Every wrapped tool with --contig on both sides: each side's data buffer
# is contiguous (its MR, as `rdma resource show mr -dd` lists it while the
# tool runs, is one device page), where the tool exchanges a VAddr it lies
# in a region the allocator preload served, the test completes and reports
# a result row, and both processes exit 0.
. "$(dirname "$0")/lib.sh"
need_rxe
size=65536

# check_mrs NAME PID: PID's MRs of the data buffer (at least $size bytes),
# each one device page of its whole length; read while PID holds them.
check_mrs() {
	local min max entries
	mrs_of "$1" "$2" "$size" $((1 << 40)) ||
		{ skip_without_feature "$1"; show "$1"; fail "$1: no MR of $size bytes or more"; }
	read -r min max entries < <(pages "$1")
	[ "$entries" = 1 ] && [ "$min" -ge "$size" ] ||
		{ cat "$TMP/$1.mrs"; fail "$1: MR pages of $min..$max bytes, up to $entries entries"; }
	note "$1: $(cat "$TMP/$1.mrs")"
}

# check_vaddr NAME: the VAddr NAME printed lies in a region the preload
# served (ib_send_bw exchanges no address).
check_vaddr() {
	local vaddr region
	case $1 in ib_send_bw-*) return 0 ;; esac
	vaddr=$(vaddr_of "$1" local)
	[ -n "$vaddr" ] || { show "$1"; fail "$1: no local address line"; }
	region=$(region_holding "$1" "$vaddr") ||
		{ show "$1"; fail "$1: perftest's VAddr $vaddr is in no region the preload served"; }
	ok "$1: VAddr $vaddr in contiguous region $region (start, bytes)"
}

for tool in ib_read_bw ib_write_bw ib_send_bw ib_read_lat ib_write_lat; do
	next_port
	opts=(-d "$CMR_RXE" -x 1 -F -s "$size" -n 50 -p "$PORT" --wait_destroy=5)
	start_server "$tool-srv" "$BIN/$tool" --contig "${opts[@]}"
	spid=$SPID
	wait_listen "$PORT" || { show "$tool-srv"; fail "$tool: the server does not listen"; }
	start_client "$tool-cli" "$BIN/$tool" --contig "${opts[@]}" "$CMR_IP"
	cpid=$CPID
	check_mrs "$tool-srv" "$spid"
	check_mrs "$tool-cli" "$cpid"
	crc=0 src=0
	wait "$cpid" || crc=$?
	wait "$spid" || src=$?
	[ $crc = 0 ] && [ $src = 0 ] ||
		{ show "$tool-srv"; show "$tool-cli"; fail "$tool: server $src, client $crc"; }
	check_vaddr "$tool-srv"
	check_vaddr "$tool-cli"
	row=$(awk -v s="$size" '$1 == s' "$TMP/$tool-cli.out" | head -n1)
	[ -n "$row" ] || { show "$tool-cli"; fail "$tool: no result row for $size B"; }
	ok "$tool --contig on both sides: $row"
done
