#!/usr/bin/env bash
# rdma-core's own test suite (python3-pyverbs, the tests under
# /usr/share/doc/rdma-core/tests) on the loop set-up's rxe device: every
# test must end as it does on the same kernel without the series.
. "$(dirname "$0")/lib.sh"
[ -n "${CMR_RXE:-}" ] || fail "needs the loop set-up (CMR_RXE)"
src=/usr/share/doc/rdma-core/tests
[ -f "$src/run_tests.py" ] || fail "no $src/run_tests.py (Debian package python3-pyverbs)"
# Debian ships some of the modules gzipped.
cp -r "$src" "$TMP/tests" && gunzip -f "$TMP"/tests/*.gz || fail "cannot unpack $src"
# Debian's interpreter: pyverbs is built for it, not for another python3
# that may come first in PATH.
/usr/bin/python3 "$PEER_DIR/rdma_core_suite.py" "$TMP/tests" "$CMR_RXE" "$TMP/rdma-core.txt" ||
	fail "the suite did not run to its end"
peer_compare rdma-core "$TMP/rdma-core.txt"
