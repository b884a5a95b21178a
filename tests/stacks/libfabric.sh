#!/usr/bin/env bash
# libfabric 1.17's verbs provider (FI_EP_MSG: an RC QP connected through
# rdma_cm), server on rxe1's address and client bound to rxe2's in the
# pair set-up, running tests/stacks/fi_rma.c: the client reads the server's
# buffer with fi_read() and writes its own into it with fi_write(), every
# word checked on the receiving side; without and then with the allocator
# preload (contig-mr-run --min 1M), in the same run. For each run:
#  - both sides exit 0 and no word was wrong;
#  - each side ran on the device of its own address (the provider's
#    domain), and the data crossed the veth both ways: rxe1 sent and rxe2
#    received a packet per MTU read, rxe2 sent and rxe1 received one per
#    MTU written;
#  - the MR of each side's data buffer, as `rdma resource show mr -dd`
#    lists it once the transfers are over (each side holds its MRs at the
#    end until both were seen, fi_rma -w; looking earlier would take CPU
#    from the transfers being timed): 2 MiB pages at best without the
#    preload, one device page of at least SIZE with it, and with it the
#    buffer lies in a region the preload served;
#  - the bandwidths; their ratios are printed, not judged (TCG).
# Why not fi_pingpong (libfabric-bin): it cannot bind the client's source
# address, and with both addresses local the route to the server's is
# rxe1's, so both ends use rxe1 (docs/applications.md).
T=$(cd "$(dirname "$0")" && pwd)
RUN=${1:?usage: $0 CONTIG_MR_RUN CMR_RDMA_MR FI_RMA}
# shellcheck source=../../perftest-patches/tests/lib.sh
. "$T/../../perftest-patches/tests/lib.sh" /usr/bin "${2:?usage: $0 CONTIG_MR_RUN CMR_RDMA_MR FI_RMA}"
PROG=${3:?usage: $0 CONTIG_MR_RUN CMR_RDMA_MR FI_RMA}
[ -n "${CMR_RXE1:-}" ] || skip "needs the pair set-up (CMR_RXE1, CMR_RXE2)"
size=$((8 << 20)) iters=${CMR_STACK_ITERS:-4}
mtu=$(port_mtu "$CMR_RXE1") || fail "$CMR_RXE1: no active_mtu in ibv_devinfo"
per=$((size * iters / mtu))

# printed NAME FIELD: the pid (FIELD 3) or the data buffer's address
# (FIELD 5) that NAME printed, once it has.
printed() {
	wait_for "$TMP/$1.out" '^fi_rma: pid [0-9]+ data ' 60 || return 1
	awk -v f="$2" '$1 == "fi_rma:" && $2 == "pid" && $4 == "data" { print $f; exit }' "$TMP/$1.out"
}

# expect_domain NAME DEVICE: the provider chose DEVICE's domain.
expect_domain() {
	grep -q "^fi_rma: provider verbs, domain $2\$" "$TMP/$1.out" ||
		{ show "$1"; fail "$1: not on $2's domain"; }
}

# run LABEL [PREFIX...]: server on rxe1, client on rxe2, each as PREFIX fi_rma.
run() {
	local label=$1 spid cpid c1s c2r c2s c1r side pid
	shift
	counter c1s "$CMR_RXE1" sent_pkts && counter c2r "$CMR_RXE2" rcvd_pkts
	counter c2s "$CMR_RXE2" sent_pkts && counter c1r "$CMR_RXE1" rcvd_pkts
	next_port
	start_server "$label-srv" timeout 300 "$@" "$PROG" -a "$CMR_IP1" -p "$PORT" -S "$size" -n "$iters" -w "$TMP/$label.seen"
	spid=$SPID
	wait_for "$TMP/$label-srv.out" '^fi_rma: listening' 60 ||
		{ show "$label-srv"; fail "$label: the server does not listen"; }
	start_client "$label-cli" timeout 300 "$@" "$PROG" -a "$CMR_IP2" -p "$PORT" -S "$size" -n "$iters" -w "$TMP/$label.seen" "$CMR_IP1"
	cpid=$CPID
	wait_for "$TMP/$label-cli.out" '^fi_rma: write ' 300 && wait_for "$TMP/$label-srv.out" '^fi_rma: written to' 60 ||
		{ show "$label-cli"; show "$label-srv"; fail "$label: no result"; }
	for side in srv cli; do
		pid=$(printed "$label-$side" 3) || { show "$label-$side"; fail "$label $side: no buffer"; }
		mrs_of "$label-$side" "$pid" "$size" "$size" ||
			{ show "$label-$side"; fail "$label $side: no MR of $size bytes"; }
	done
	touch "$TMP/$label.seen"
	wait "$cpid" || { show "$label-cli"; show "$label-srv"; fail "$label: the client failed"; }
	wait "$spid" || { show "$label-srv"; fail "$label: the server failed"; }
	no_hold_timeout "$label" "$TMP/$label-cli.out" "$TMP/$label-srv.out"
	expect_domain "$label-srv" "$CMR_RXE1"
	expect_domain "$label-cli" "$CMR_RXE2"
	[ "$(grep -c '^fi_rma: \(read\|write\) .* words checked, 0 wrong$' "$TMP/$label-cli.out")" = 2 ] ||
		{ show "$label-cli"; fail "$label: no clean result for read and write"; }
	grep '^fi_rma: .* words checked' "$TMP/$label-cli.out" | while read -r line; do note "$label: $line"; done
	counter c1s "$CMR_RXE1" sent_pkts "$c1s" && counter c2r "$CMR_RXE2" rcvd_pkts "$c2r"
	counter c2s "$CMR_RXE2" sent_pkts "$c2s" && counter c1r "$CMR_RXE1" rcvd_pkts "$c1r"
	[ "$c1s" -ge "$per" ] && [ "$c2r" -ge "$per" ] && [ "$c2s" -ge "$per" ] && [ "$c1r" -ge "$per" ] ||
		fail "$label: packets $CMR_RXE1 -> $CMR_RXE2 $c1s sent, $c2r received; $CMR_RXE2 -> $CMR_RXE1 $c2s sent, $c1r received; $per each way at least (MTU $mtu)"
	ok "$label: $((size * iters)) bytes read from $CMR_RXE1 and written back from $CMR_RXE2, every word right ($c1s + $c2s packets)"
}

run plain
run preload "$RUN" --min 1M --verbose --
for side in srv cli; do
	expect_pages "plain-$side" "preload-$side" "$size"
	addr=$(printed "preload-$side" 5)
	region_holding "preload-$side" "$addr" >/dev/null ||
		{ show "preload-$side"; fail "preload $side: buffer $addr is in no region the preload served"; }
	ok "preload $side: buffer $addr in the region $(region_holding "preload-$side" "$addr")"
done
bw() { reported_bw "$TMP/$1-cli.out" fi_rma "$2"; }
for what in read write; do
	compare_bw "$what" "$size" "$iters" "$(bw preload "$what")" "$(bw plain "$what")"
done
