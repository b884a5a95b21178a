#!/usr/bin/env bash
# `./contig-mr vm -- CMD` passes the command's output and exit status out.
. "$(dirname "$0")/lib.sh"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cmr vm --timeout 200 -- 'uname -r; echo "from-the-guest $(hostname)"; exit 3' >"$out" 2>&1
rc=$?
[ $rc -eq 3 ] || { cat "$out"; fail "exit status $rc, want 3"; }
expect_in "$out" '^from-the-guest contig-mr-guest$' "guest output"
ok "status and output come back"
