# Helpers for the harness's shell tests. Exit codes: 0 pass, 77 skip,
# anything else fail.
# shellcheck shell=bash
set -u
CMR_ROOT=${CMR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
fail() { echo "not ok - $*"; exit 1; }
ok() { echo "ok - $*"; }
# Nested runs of the driver must not rebuild what the outer run built.
cmr() { CMR_SKIP_BUILD=1 "$CMR_ROOT/contig-mr" "$@"; }
# expect_in FILE PATTERN WHAT
expect_in() { grep -qE "$2" "$1" || { cat "$1"; fail "$3: no /$2/ in the output"; }; }
