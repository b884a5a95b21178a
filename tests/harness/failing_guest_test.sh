#!/usr/bin/env bash
# A failing guest test makes `./contig-mr test` fail and is named; a
# passing and a skipping one next to it are counted as such.
. "$(dirname "$0")/lib.sh"
out=$(mktemp) list=$(mktemp -p "$CMR_ROOT/build")
trap 'rm -f "$out" "$list"' EXIT
printf '%s\t30\tnone\t%s\n' \
	fixture_pass 'true' \
	fixture_fail 'echo deliberately failing; exit 1' \
	fixture_skip 'echo "# SKIP not here"; exit 77' >"$list"
cmr test --list "$list" --only "fixture_pass fixture_fail fixture_skip" >"$out" 2>&1 &&
	{ cat "$out"; fail "a failing guest test passed the run"; }
expect_in "$out" '^FAIL fixture_fail \[vm:none\]' "the failing test named"
expect_in "$out" '^PASS fixture_pass \[vm:none\]' "the passing test"
expect_in "$out" '^SKIP fixture_skip \[vm:none\]' "the skipped test"
expect_in "$out" '^2 passed, 1 failed, 1 skipped$' "the summary"
ok "failing guest test fails the run"
