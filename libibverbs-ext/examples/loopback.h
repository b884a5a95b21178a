/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * A pair of RC QPs on one port of one device, connected to each other, so
 * that the example can move data by RDMA without a second machine or an
 * out-of-band exchange: what one QP reads, the other QP's device serves.
 */
#ifndef CONTIG_MR_EXAMPLE_LOOPBACK_H
#define CONTIG_MR_EXAMPLE_LOOPBACK_H

#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

struct loopback {
	struct ibv_comp_channel *channel;
	struct ibv_cq *cq;
	struct ibv_qp *qp[2];	/* qp[0] posts, qp[1] is its peer */
	uint64_t wr_id;
};

/*
 * Create and connect the pair on port 1 of pd's device. 0, or -1 with a
 * message on stderr.
 */
int loopback_create(struct loopback *lb, struct ibv_pd *pd);
void loopback_destroy(struct loopback *lb);

/*
 * loopback_read() failed and the device may still write to the local
 * buffer: it must be neither deregistered nor freed.
 */
#define LOOPBACK_IN_FLIGHT (-2)

/*
 * One RDMA READ of len bytes from (raddr, rkey) into (local, lkey), and its
 * completion, waited for up to timeout_ms. 0; -1 with a message on stderr,
 * the READ being over (failed, or flushed from the QP) so that local is the
 * caller's again; or LOOPBACK_IN_FLIGHT with a message on stderr. After a
 * failure the pair is only fit to be destroyed.
 */
int loopback_read(struct loopback *lb, void *local, uint32_t lkey,
		  uint64_t raddr, uint32_t rkey, uint32_t len, int timeout_ms);

#endif
