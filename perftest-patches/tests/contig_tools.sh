#!/usr/bin/env bash
# Every wrapped tool with --contig on both sides: each side's data buffer
# comes from ibv_alloc_contig_buf() (the preload says so, and the RKey
# perftest exchanges is that MR's), the test completes and reports a
# result row, and both processes exit 0.
. "$(dirname "$0")/lib.sh"
need_rxe
size=65536

for tool in ib_read_bw ib_write_bw ib_send_bw ib_read_lat ib_write_lat; do
	next_port
	opts=(-d "$CMR_RXE" -x 1 -F -s "$size" -n 50 -p "$PORT")
	start_server "$tool-srv" "$BIN/$tool" --contig "${opts[@]}"
	spid=$SPID
	wait_listen "$PORT" || { show "$tool-srv"; fail "$tool: the server does not listen"; }
	start_client "$tool-cli" "$BIN/$tool" --contig "${opts[@]}" "$CMR_IP"
	cpid=$CPID
	crc=0 src=0
	wait "$cpid" || crc=$?
	wait "$spid" || src=$?
	skip_without_feature "$tool-srv" "$tool-cli"
	for side in srv cli; do
		out=$tool-$side
		line=$(buffer_line "$out")
		[ -n "$line" ] || { show "$out"; fail "$out: no contiguous buffer"; }
		rkey=$(sed -E 's/.* rkey (0x[0-9a-f]+).*/\1/' <<<"$line")
		[ $(($(rkey_of "$out" local))) -eq $((rkey)) ] ||
			{ show "$out"; fail "$out: perftest's RKey is not the contiguous MR's ($rkey)"; }
		note "$out: $line"
	done
	[ $crc = 0 ] && [ $src = 0 ] ||
		{ show "$tool-srv"; show "$tool-cli"; fail "$tool: server $src, client $crc"; }
	row=$(awk -v s="$size" '$1 == s' "$TMP/$tool-cli.out" | head -n1)
	[ -n "$row" ] || { show "$tool-cli"; fail "$tool: no result row for $size B"; }
	ok "$tool --contig on both sides: $row"
done
