#!/usr/bin/env bash
# Host, no RDMA device: without --contig the wrapper behaves exactly like
# the stock binary -- same stdout, stderr and status for the help text, the
# version, a bad option and a missing device, argv[0] included (both are
# run by name through PATH).
. "$(dirname "$0")/lib.sh"
for tool in ib_read_bw ib_write_bw ib_send_bw ib_read_lat ib_write_lat; do
	[ -x "$STOCK/$tool" ] || skip "no stock $tool (perftest not installed)"
	for args in "--help" "-V" "--no-such-option" "-d no_such_device" "-a -s 7 -d x"; do
		# shellcheck disable=SC2086 # the words of args are the arguments
		(cd "$TMP" && PATH=$BIN:$PATH $tool $args >w.out 2>w.err; echo $? >w.rc)
		# shellcheck disable=SC2086
		(cd "$TMP" && PATH=$STOCK:$PATH $tool $args >s.out 2>s.err; echo $? >s.rc)
		for f in out err rc; do
			cmp -s "$TMP/w.$f" "$TMP/s.$f" ||
				{ diff "$TMP/w.$f" "$TMP/s.$f" | head; fail "$tool $args: $f differs"; }
		done
	done
	ok "$tool: wrapper without --contig = stock binary (help, version, bad option, no device)"
done
