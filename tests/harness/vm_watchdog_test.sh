#!/usr/bin/env bash
# A guest that hangs is stopped by the watchdog with a clear message.
. "$(dirname "$0")/lib.sh"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start=$(date +%s)
cmr vm --timeout 60 -- sleep 100000 >"$out" 2>&1 && { cat "$out"; fail "a hung guest passed"; }
took=$(($(date +%s) - start))
expect_in "$out" 'guest timed out after 60 s' "watchdog message"
[ $took -lt 150 ] || fail "the watchdog took $took s"
ok "hung guest stopped after $took s"
