#!/usr/bin/env bash
# The scanner flags a recorded console log with a real WARNING and BUG
# (captured from the guest with LKDTM) and passes a recorded clean boot.
. "$(dirname "$0")/lib.sh"
scan=$CMR_ROOT/scripts/dmesg-scan.sh
fix=$(dirname "$0")/fixtures
out=$(mktemp)
trap 'rm -f "$out"' EXIT

"$scan" "$fix/clean-boot.log" >"$out" && ok "clean boot log passes" ||
	{ cat "$out"; fail "clean boot log flagged"; }
! "$scan" "$fix/warning-and-bug.log" >"$out" || fail "log with WARNING and BUG passed"
expect_in "$out" 'WARNING: CPU' "WARNING report"
expect_in "$out" 'BUG: kernel NULL pointer dereference|kernel BUG at' "BUG report"
ok "log with WARNING and BUG flagged"
printf 'kmemleak: 1 new suspected memory leaks (see /sys/kernel/debug/kmemleak)\n' |
	"$scan" - >/dev/null && fail "kmemleak report passed"
ok "kmemleak report flagged"
