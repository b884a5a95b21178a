#!/usr/bin/env bash
# Host: --contig with an option that selects another data buffer is refused
# before anything runs (status 2, a message naming the option), including
# getopt_long's abbreviations; --contig itself never reaches perftest.
. "$(dirname "$0")/lib.sh"
for args in "--use_hugepages" "--use_huge" "--mmap=/dev/zero" "--mmap-offset=4096" "--odp" "--mma=/x"; do
	# shellcheck disable=SC2086
	"$BIN/ib_read_bw" --contig $args >"$TMP/out" 2>&1
	rc=$?
	[ $rc = 2 ] || { cat "$TMP/out"; fail "--contig $args: status $rc, expected 2"; }
	grep -q 'cannot be combined with --contig' "$TMP/out" || { cat "$TMP/out"; fail "--contig $args: no message"; }
done
ok "conflicting buffer options are refused with --contig"
# Options after -- are perftest's business, and --contig is removed: with
# no device the stock error comes back, not an unknown-option error.
"$BIN/ib_read_bw" --contig -d no_such_device >"$TMP/out" 2>&1
grep -q 'unrecognized option' "$TMP/out" && { cat "$TMP/out"; fail "--contig reached perftest"; }
grep -qi 'did not detect devices\|no such device\|IB device' "$TMP/out" ||
	{ cat "$TMP/out"; fail "unexpected output without a device"; }
ok "--contig is removed before perftest parses its options"
# Unknown tool names are refused with --contig, passed through without.
ln -s "$BIN/perftest-contig" "$TMP/ib_foo"
"$TMP/ib_foo" --contig >"$TMP/out" 2>&1
[ $? = 2 ] || { cat "$TMP/out"; fail "unknown tool name accepted"; }
ok "an unknown tool name is refused with --contig"
# The device the preload allocates through is perftest's, in each spelling
# getopt_long() takes. A stub stands in for the stock tool: busybox's
# static shell, which the preload (loaded only by the dynamic loader)
# cannot reach.
[ -x /bin/busybox ] || fail "/bin/busybox missing (busybox-static)"
mkdir "$TMP/stock"
printf '#!/bin/busybox sh\necho "${CMR_ALLOC_DEVICE-unset} $IBV_CONTIG_MR_ALLOC_TYPE $CMR_ALLOC_ON_FAIL"\n' >"$TMP/stock/ib_read_bw"
chmod +x "$TMP/stock/ib_read_bw"
for args in "-d rxe7" "-drxe7" "--ib-dev rxe7" "--ib-dev=rxe7" "--ib-d rxe7" "--ib-de=rxe7" "-s 64 -d rxe7 -n 5"; do
	# shellcheck disable=SC2086
	out=$(CMR_ALLOC_DEVICE=other CMR_PERFTEST_STOCK_DIR=$TMP/stock "$BIN/ib_read_bw" --contig $args 2>&1)
	[ "$out" = "rxe7 CONTIG fail" ] || fail "--contig $args: the stub saw '$out', not 'rxe7 CONTIG fail'"
done
out=$(CMR_ALLOC_DEVICE=other CMR_PERFTEST_STOCK_DIR=$TMP/stock "$BIN/ib_read_bw" --contig -s 64 2>&1)
[ "$out" = "unset CONTIG fail" ] || fail "--contig without -d: the stub saw '$out', not 'unset CONTIG fail'"
ok "the preload allocates through perftest's -d/--ib-dev device in each spelling, the first device without one"
