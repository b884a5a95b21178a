# TAP output of the preload's shell tests; sourced. ok/notok print one
# numbered point, show indents a file as diagnostics, tap_end prints the
# plan and exits 1 if any point failed.
# shellcheck shell=bash
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
show() { sed 's/^/#   /' "$1"; }
tap_end() { echo "1..$n"; exit $failed; }
