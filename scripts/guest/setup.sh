# rxe set-ups the guest prepares before a job; sourced by run.sh.
# Each exports what tests need to find the devices:
#   loop:  CMR_RXE (device), CMR_IP (its address); server and client both
#          use that one device and address (rxe loops the traffic back).
#   pair:  two hosts wired back to back: devices CMR_RXE1/CMR_RXE2 on the
#          two ends of a veth pair, addresses CMR_IP1/CMR_IP2; everything
#          between them crosses the veth.
# Why not two network namespaces: 6.1's rxe looks routes up and opens its
# UDP socket in init_net only (rxe_net.c: rxe_find_route4(), rxe_net_ipv4_init()),
# so a device in another namespace can never send or receive (measured:
# "local QP operation error"). Policy routing gives the same wire between
# two devices inside init_net.
# Addresses are from TEST-NET-1 (RFC 5737) and exist only inside the guest,
# which has no network device to the outside at all.

cmr_wait_rxe_active() {
	local dev=$1 i
	for i in $(seq 50); do
		rdma link show "$dev/1" 2>/dev/null | grep -q 'state ACTIVE' && return 0
		sleep 0.1
	done
	echo "rxe device $dev did not become ACTIVE"
	rdma link show
	return 1
}

cmr_setup_none() { :; }

cmr_setup_loop() {
	ip link add cmr-va type veth peer name cmr-vb &&
		ip addr add 192.0.2.1/24 dev cmr-va &&
		ip link set cmr-va up && ip link set cmr-vb up &&
		rdma link add rxe0 type rxe netdev cmr-va &&
		cmr_wait_rxe_active rxe0 || return 1
	export CMR_RXE=rxe0 CMR_IP=192.0.2.1
}

cmr_setup_pair() {
	local d
	ip link add cmr-v1 type veth peer name cmr-v2 &&
		ip addr add 192.0.2.1/32 dev cmr-v1 &&
		ip addr add 192.0.2.2/32 dev cmr-v2 &&
		ip link set cmr-v1 up && ip link set cmr-v2 up || return 1
	# Both addresses are local, so by default the kernel would deliver
	# between them through lo. Route what this host sends from one to the
	# other out of its own veth end, and look the local table up only after
	# that (for what arrives on the other end, which it then accepts).
	ip route add 192.0.2.2/32 dev cmr-v1 table 101 &&
		ip route add 192.0.2.1/32 dev cmr-v2 table 102 &&
		ip rule add pref 10 iif lo from 192.0.2.1 to 192.0.2.2 table 101 &&
		ip rule add pref 11 iif lo from 192.0.2.2 to 192.0.2.1 table 102 &&
		ip rule add pref 100 table local &&
		ip rule del pref 0 table local || return 1
	# rdma_cm accepts a connection only when the route back to its source
	# leaves through the device it came in on (cma.c:
	# validate_ipv4_net_dev(), a lookup with that device as oif and no
	# iif): without these, a client bound to the other address is refused.
	ip rule add pref 12 oif cmr-v1 from 192.0.2.1 to 192.0.2.2 table 101 &&
		ip rule add pref 13 oif cmr-v2 from 192.0.2.2 to 192.0.2.1 table 102 || return 1
	for d in all cmr-v1 cmr-v2; do
		sysctl -qw "net.ipv4.conf.$d.rp_filter=0" "net.ipv4.conf.$d.accept_local=1" || return 1
	done
	rdma link add rxe1 type rxe netdev cmr-v1 &&
		rdma link add rxe2 type rxe netdev cmr-v2 &&
		cmr_wait_rxe_active rxe1 && cmr_wait_rxe_active rxe2 || return 1
	export CMR_RXE1=rxe1 CMR_RXE2=rxe2 CMR_IP1=192.0.2.1 CMR_IP2=192.0.2.2
}

# rxe sends the response to an RDMA READ as one burst, a packet per MTU
# (1024 packets for 1 MiB), and veth hands each to the peer's backlog,
# which drops what exceeds net.core.netdev_max_backlog (1000): the
# requester then waits for its retry timer (measured: ucx_perftest's
# rendezvous READs lost 2 packets and retried once per message, at a
# fifth of the speed). Deep enough for the tests' messages of 8 MiB.
cmr_setup_backlog() {
	sysctl -qw net.core.netdev_max_backlog=32768
}

cmr_setup() {
	[ "$1" = none ] || cmr_setup_backlog || return 1
	case $1 in
	none | loop | pair) "cmr_setup_$1" ;;
	*) echo "unknown set-up '$1'" && return 1 ;;
	esac
}
