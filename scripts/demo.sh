#!/bin/sh
# The demo, run in the guest by `./contig-mr demo` (loop set-up: rxe0 on
# cmr-va, 192.0.2.1): one call gives a 1 GiB physically contiguous MR, rxe
# registers it as one 1 GiB device page, RDMA READ reads it back, and the
# memory returns when it is freed; VmLck, VmPin and memory.current show the
# accounting before, during and after.
set -e
demo=$CMR_BUILD/user/libibverbs-ext/examples/ibv_contig_mr_demo
echo "== the Soft-RoCE device"
rdma link show
echo
echo "== ibv_alloc_contig_mr(pd, 1 GiB): allocate, show, RDMA READ the first 16 MiB back, free"
# In a memory cgroup of its own, so that the charge shows in memory.current.
cg=/sys/fs/cgroup/contig-mr-demo
mkdir -p "$cg" && echo $$ >"$cg/cgroup.procs"
# Reading all of it over rxe under TCG would take minutes; -r bounds it.
"$demo" -d "$CMR_RXE" -r 16M -x 'rdma resource show mr -dd' 1G
echo $$ >/sys/fs/cgroup/cgroup.procs && rmdir "$cg"
