/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * cmr_pair: an RC connection between two RDMA devices, for the guest's
 * "pair" set-up (two rxe devices on the two ends of a veth: two hosts
 * wired back to back; $CMR_RXE1 and $CMR_RXE2). Part of the cmr_test
 * library; the conventions of cmr_test.h apply.
 *
 *	struct t_pair p;
 *
 *	if (t_pair_create(&p, NULL, NULL))	// $CMR_RXE1, $CMR_RXE2
 *		t_bail("pair set-up failed");
 *	// side 0 reads from an MR of side 1's PD
 *	t_pair_rdma(&p, 0, IBV_WR_RDMA_READ, buf, mr0->lkey,
 *		    (uintptr_t)mr1->addr, mr1->rkey, len, 10000);
 *	t_pair_destroy(&p);
 *
 * Every side has its own context, PD, CQ and QP; the QP of side i is
 * connected to that of side !i over RoCE v2 with the device's IPv4 GID.
 * Requests are posted by the side named in t_pair_rdma(); the other side's
 * device answers them without its process doing anything.
 */
#ifndef CMR_PAIR_H
#define CMR_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "cmr_test.h"

struct t_pair_side {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	struct t_port port;	/* port 1 */
	uint64_t wr_id;
};

struct t_pair {
	struct t_pair_side side[2];
	/*
	 * Largest message t_pair_rdma() posts (default T_PAIR_MSG_MAX).
	 * Unlike rxe's loopback, the pair's traffic crosses the veth, whose
	 * receive backlog (net.core.netdev_max_backlog, 1000 packets) a
	 * message of megabytes overflows under TCG: packets are dropped
	 * ("rdma_rxe: Failed sending ACK") and the QP crawls on retries.
	 */
	uint32_t msg_max;
};

#define T_PAIR_MSG_MAX (64u << 10)

/*
 * Open devices name0 and name1 (NULL: the environment's $CMR_RXE1 and
 * $CMR_RXE2; t_skip_all() when they are unset or do not exist), allocate
 * a PD on each and connect the two QPs. 0, or -1 after t_diag() (the pair
 * is then destroyed already).
 */
int t_pair_create(struct t_pair *p, const char *name0, const char *name1);

/* Destroys QPs, CQs and PDs and closes both devices. */
void t_pair_destroy(struct t_pair *p);

/*
 * Post wr (signaled) on side's QP and wait up to timeout_ms for its
 * completion: the completion status (IBV_WC_SUCCESS == 0), or -1 after
 * t_diag() when posting failed or the time ran out.
 */
int t_pair_post(struct t_pair *p, int side, struct ibv_send_wr *wr,
		int timeout_ms);

/*
 * RDMA READ (remote -> local) or RDMA WRITE (local -> remote) of len bytes
 * posted by side: local is memory of an MR of side's PD, remote of the
 * other side's. Split into messages of at most p->msg_max bytes (and the
 * port's max_msg_sz).
 * 0, or -1 after t_diag().
 */
int t_pair_rdma(struct t_pair *p, int side, enum ibv_wr_opcode op,
		void *local, uint32_t lkey, uint64_t remote, uint32_t rkey,
		size_t len, int timeout_ms);

#endif /* CMR_PAIR_H */
