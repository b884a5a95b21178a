#!/bin/sh
# make-uapi-headers.sh PATCH OUTDIR HEADER...
# Copies the named headers from /usr/include/rdma (Debian's rdma-core copies
# of the linux 6.1 uapi) into OUTDIR/rdma and applies the series' uapi patch
# to them. Fails when the patch does not apply, so that the library can never
# be built against an ABI other than the kernel's.
set -eu
patch_file=$1 out=$2
shift 2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/include/uapi/rdma" "$out/rdma"
for h in "$@"; do
	cp "/usr/include/rdma/$h" "$stage/include/uapi/rdma/$h"
done
patch -s -p1 -d "$stage" --forward --no-backup-if-mismatch -r - <"$patch_file"
for h in "$@"; do
	cp "$stage/include/uapi/rdma/$h" "$out/rdma/$h"
done
