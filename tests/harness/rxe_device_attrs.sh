#!/usr/bin/env bash
# The loop set-up's rxe device is there, ACTIVE on its veth, and has the
# attributes Soft-RoCE promises (RoCE link layer, 4 KiB..2 GiB page sizes).
. "$(dirname "$0")/lib.sh"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
dev=${CMR_RXE:?the loop set-up exports CMR_RXE}

rdma link show "$dev/1" >"$out"
expect_in "$out" "link $dev/1 state ACTIVE physical_state LINK_UP netdev cmr-va" "rdma link"
ok "rdma link: $dev ACTIVE on cmr-va"

ibv_devinfo -v -d "$dev" >"$out" || fail "ibv_devinfo -d $dev"
expect_in "$out" 'transport:[[:space:]]+InfiniBand \(0\)' "transport"
expect_in "$out" 'state:[[:space:]]+PORT_ACTIVE' "port state"
expect_in "$out" 'link_layer:[[:space:]]+Ethernet' "link layer"
expect_in "$out" 'page_size_cap:[[:space:]]+0xfffff000' "page sizes 4 KiB..2 GiB"
expect_in "$out" 'GID\[  1\]:.*192\.0\.2\.1' "IPv4 GID of the veth address"
ok "ibv_devinfo: RoCE port ACTIVE, page_size_cap 0xfffff000, GID of $CMR_IP"
