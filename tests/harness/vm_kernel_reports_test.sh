#!/usr/bin/env bash
# Real kernel reports, provoked with LKDTM, fail the run: a WARNING (the
# guest goes on; the dmesg scan catches it) and a BUG (oops, panic; the
# harness notices the guest died and shows the console).
. "$(dirname "$0")/lib.sh"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
lkdtm=/sys/kernel/debug/provoke-crash/DIRECT

cmr vm --timeout 200 -- "echo WARNING >$lkdtm; echo still-alive" >"$out" 2>&1 &&
	{ cat "$out"; fail "a WARNING passed"; }
expect_in "$out" 'still-alive' "guest output after the WARNING"
expect_in "$out" 'WARNING: CPU' "WARNING shown"
ok "WARNING fails the run"

cmr vm --timeout 200 -- "echo BUG >$lkdtm; echo not-reached" >"$out" 2>&1 &&
	{ cat "$out"; fail "a BUG passed"; }
expect_in "$out" 'guest stopped before finishing' "guest death noticed"
expect_in "$out" 'kernel BUG at|Kernel panic' "console tail shown"
grep -q '^not-reached' "$out" && fail "the guest went on after BUG"
ok "BUG fails the run"
