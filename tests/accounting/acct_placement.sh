#!/usr/bin/env bash
# acct_placement (host): boots a nested guest with two NUMA nodes and runs
# the guest half there (acct_placement.c: mempolicy, cpuset and
# NODE_STRICT placement of contiguous buffers, checked with move_pages).
# Passes when the guest test passes and the guest's logs hold no kernel
# bug report.
#   acct_placement.sh GUEST_BINARY
. "$(dirname "$0")/../harness/lib.sh"
guest=${1:?usage: acct_placement.sh GUEST_BINARY}
[ -x "$guest" ] || fail "no guest binary at $guest (build the user space)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cmr vm --numa 2 --mem 4G --setup loop --timeout 480 -- "$guest" >"$out" 2>&1
rc=$?
cat "$out"
if [ $rc -ne 0 ]; then
	if grep -qE '^# [0-9]+ passed, 0 failed' "$out" &&
		grep -q 'kernel bug reports in' "$out"; then
		fail "the guest test passed, but the two-node guest logged a kernel bug report (see above)"
	fi
	fail "two-node guest run: exit status $rc, want 0"
fi
expect_in "$out" '^# [0-9]+ passed, 0 failed, 0 skipped' "guest TAP summary"
ok "placement by mempolicy, cpuset and NODE_STRICT on a two-node guest"
