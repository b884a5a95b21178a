#!/usr/bin/env bash
# A guest test that needs a guest of its own shape (more memory, NUMA
# nodes): boots one with the given options, runs the TAP test in it and
# passes when the test ends "N passed, 0 failed, 0 skipped" and the
# guest's logs hold no kernel bug report.
#   guest_test.sh VM_OPTION... -- GUEST_COMMAND...
. "$(dirname "$0")/lib.sh"
vm_opts=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	vm_opts+=("$1")
	shift
done
[ "${1:-}" = -- ] && [ $# -ge 2 ] || fail "usage: guest_test.sh VM_OPTION... -- GUEST_COMMAND..."
shift
[ -x "$1" ] || fail "no guest binary at $1 (build the user space)"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cmr vm "${vm_opts[@]}" -- "$@" >"$out" 2>&1
rc=$?
cat "$out"
if [ $rc -ne 0 ]; then
	if grep -qE '^# [0-9]+ passed, 0 failed' "$out" &&
		grep -q 'kernel bug reports in' "$out"; then
		fail "the guest test passed, but the guest logged a kernel bug report (see above)"
	fi
	fail "guest run (${vm_opts[*]}): exit status $rc, want 0"
fi
expect_in "$out" '^# [0-9]+ passed, 0 failed, 0 skipped' "guest TAP summary"
ok "$* in a guest booted with ${vm_opts[*]}"
