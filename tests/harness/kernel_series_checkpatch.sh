#!/usr/bin/env bash
# The kernel series, exported as a maintainer would receive it (new files
# included), is checkpatch --strict clean: no error, warning or check.
# Ignored: FILE_PATH_CHANGES ("does MAINTAINERS need updating?"), which
# every patch adding a file gets; the new files sit under
# drivers/infiniband/, which MAINTAINERS already covers. UNKNOWN_COMMIT_ID:
# the tree is Debian's source tarball, without the upstream history that
# checkpatch looks the Fixes: ids up in; the ids and subjects were checked
# against upstream's own references to them (kernel/README.md). The
# format of the Fixes: lines is still checked (GIT_COMMIT_ID).
. "$(dirname "$0")/lib.sh"
out=$CMR_ROOT/build/series-checked
src=$CMR_ROOT/build/kernel/src
cmr series "$out" >/dev/null || fail "./contig-mr series"
n=0
for p in "$out"/*.patch; do
	n=$((n + 1))
	# Debian's python3 (with ply and git) runs checkpatch's SPDX check.
	res=$(cd "$src" && PATH=/usr/bin:$PATH ./scripts/checkpatch.pl --strict --ignore FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID "$p" 2>&1)
	grep -q '^total: 0 errors, 0 warnings, 0 checks' <<<"$res" ||
		{ echo "$res"; fail "checkpatch: $(basename "$p")"; }
	ok "checkpatch --strict: $(basename "$p")"
done
[ $n -ge 5 ] || fail "only $n patches in the series"
