#!/bin/sh
# The demo, run in the guest by `./contig-mr demo` (loop set-up: rxe0 on
# cmr-va, 192.0.2.1).
set -e
echo "== the Soft-RoCE device"
rdma link show
ibv_devinfo -d "$CMR_RXE" | grep -E 'hca_id|transport|state|link_layer|active_mtu'
echo
echo "== stock ib_read_bw in loopback on $CMR_RXE (64 KiB RDMA READs)"
ib_read_bw -d "$CMR_RXE" -x 1 -F -s 65536 -n 200 >/tmp/srv.out 2>&1 &
sleep 1
ib_read_bw -d "$CMR_RXE" -x 1 -F -s 65536 -n 200 "$CMR_IP"
wait
