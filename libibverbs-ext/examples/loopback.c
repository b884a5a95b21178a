// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The example's loopback RC QP pair (loopback.h). It uses the standard
 * verbs only, as any program that reads a contiguous MR would.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <time.h>

#include "loopback.h"

struct port {
	uint8_t num;
	enum ibv_mtu mtu;
	uint8_t rd_atomic;
	uint16_t lid;
	int gid_index;		/* -1: no GRH (InfiniBand within a subnet) */
	union ibv_gid gid;
};

/* How long a READ that timed out may take to be flushed from its QP. */
#define FLUSH_TIMEOUT_MS 10000

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ll + ts.tv_nsec / 1000000;
}

static bool gid_is_ipv4(const union ibv_gid *gid)
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(gid->raw, prefix, sizeof(prefix));
}

/*
 * The GID to address the port itself by on RoCE. RoCE v2 is routed by IP,
 * and rxe lists its network device's link-local fe80:: GID first, which
 * needs IPv6 on the link, while an IPv4 address is what a RoCE set-up
 * normally configures: a RoCE v2 GID that carries an IPv4 address
 * (::ffff:a.b.c.d) first, then any RoCE v2 one, then the first valid
 * entry. p->gid is only written together with the index returned, so that
 * the two name the same entry.
 */
static int pick_gid(struct ibv_context *ctx, struct port *p, int table_len)
{
	static const union ibv_gid zero;
	int best = -1, best_score = -1, i;

	/* The address vector's sgid_index is 8 bits wide. */
	if (table_len > UINT8_MAX + 1)
		table_len = UINT8_MAX + 1;
	for (i = 0; i < table_len; i++) {
		struct ibv_gid_entry e;
		int score;

		if (ibv_query_gid_ex(ctx, p->num, i, &e, 0) ||
		    !memcmp(&e.gid, &zero, sizeof(zero)))
			continue;
		score = e.gid_type != IBV_GID_TYPE_ROCE_V2 ? 0 :
			gid_is_ipv4(&e.gid) ? 2 : 1;
		if (score <= best_score)
			continue;	/* ties keep the first entry */
		best = i;
		best_score = score;
		p->gid = e.gid;
		if (score == 2)
			break;
	}
	return best;
}

static int port_query(struct ibv_context *ctx, struct port *p)
{
	struct ibv_device_attr dattr;
	struct ibv_port_attr pattr;
	int ret;

	memset(p, 0, sizeof(*p));
	p->num = 1;
	ret = ibv_query_device(ctx, &dattr);
	if (ret) {
		fprintf(stderr, "ibv_query_device: %s\n", strerror(ret));
		return -1;
	}
	ret = ibv_query_port(ctx, p->num, &pattr);
	if (ret) {
		fprintf(stderr, "ibv_query_port(port %u): %s\n", p->num,
			strerror(ret));
		return -1;
	}
	p->mtu = pattr.active_mtu;
	p->lid = pattr.lid;
	p->rd_atomic = dattr.max_qp_rd_atom > 16 ? 16 :
		       dattr.max_qp_rd_atom ? dattr.max_qp_rd_atom : 1;
	p->gid_index = -1;
	if (pattr.link_layer == IBV_LINK_LAYER_ETHERNET) {
		p->gid_index = pick_gid(ctx, p, pattr.gid_tbl_len);
		if (p->gid_index < 0) {
			fprintf(stderr, "port %u has no valid GID (no IP "
				"address on its network device?)\n", p->num);
			return -1;
		}
	}
	return 0;
}

/* RESET -> INIT -> RTR -> RTS, with peer_qpn on the same port as peer. */
static int qp_connect(struct ibv_qp *qp, const struct port *p,
		      uint32_t peer_qpn)
{
	const char *to = "INIT";
	struct ibv_qp_attr a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = p->num;
	a.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ;
	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
					   IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
	if (ret)
		goto err;

	to = "RTR";
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = p->mtu;
	a.dest_qp_num = peer_qpn;
	a.max_dest_rd_atomic = p->rd_atomic;
	a.min_rnr_timer = 12;
	a.ah_attr.port_num = p->num;
	a.ah_attr.dlid = p->lid;
	if (p->gid_index >= 0) {
		a.ah_attr.is_global = 1;
		a.ah_attr.grh.dgid = p->gid;
		a.ah_attr.grh.sgid_index = (uint8_t)p->gid_index;
		a.ah_attr.grh.hop_limit = 64;
	}
	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV |
					   IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
					   IBV_QP_RQ_PSN |
					   IBV_QP_MAX_DEST_RD_ATOMIC |
					   IBV_QP_MIN_RNR_TIMER);
	if (ret)
		goto err;

	to = "RTS";
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = p->rd_atomic;
	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
					   IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
					   IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
	if (ret)
		goto err;
	return 0;
err:
	fprintf(stderr, "ibv_modify_qp(QP 0x%x to %s): %s\n", qp->qp_num, to,
		strerror(ret));
	return -1;
}

int loopback_create(struct loopback *lb, struct ibv_pd *pd)
{
	struct ibv_qp_init_attr init;
	struct port p;
	int i;

	memset(lb, 0, sizeof(*lb));
	if (port_query(pd->context, &p))
		return -1;
	lb->channel = ibv_create_comp_channel(pd->context);
	if (!lb->channel) {
		fprintf(stderr, "ibv_create_comp_channel: %s\n",
			strerror(errno));
		goto err;
	}
	lb->cq = ibv_create_cq(pd->context, 8, NULL, lb->channel, 0);
	if (!lb->cq) {
		fprintf(stderr, "ibv_create_cq: %s\n", strerror(errno));
		goto err;
	}
	memset(&init, 0, sizeof(init));
	init.send_cq = lb->cq;
	init.recv_cq = lb->cq;
	init.qp_type = IBV_QPT_RC;
	init.cap.max_send_wr = 4;
	init.cap.max_recv_wr = 1;
	init.cap.max_send_sge = 1;
	init.cap.max_recv_sge = 1;
	for (i = 0; i < 2; i++) {
		lb->qp[i] = ibv_create_qp(pd, &init);
		if (!lb->qp[i]) {
			fprintf(stderr, "ibv_create_qp(QP %d of 2): %s\n",
				i + 1, strerror(errno));
			goto err;
		}
	}
	for (i = 0; i < 2; i++)
		if (qp_connect(lb->qp[i], &p, lb->qp[!i]->qp_num))
			goto err;
	return 0;
err:
	loopback_destroy(lb);
	return -1;
}

void loopback_destroy(struct loopback *lb)
{
	int i;

	for (i = 0; i < 2; i++)
		if (lb->qp[i])
			ibv_destroy_qp(lb->qp[i]);
	if (lb->cq)
		ibv_destroy_cq(lb->cq);
	if (lb->channel)
		ibv_destroy_comp_channel(lb->channel);
	memset(lb, 0, sizeof(*lb));
}

/*
 * Wait up to timeout_ms for a completion on lb's CQ, through its completion
 * channel: the CQ is armed before the request is posted, so the event is
 * not missed. The deadline holds across events that bring no completion.
 * 0 with *wc, 1 at the deadline, or -1 with a message on stderr.
 */
static int wait_completion(struct loopback *lb, struct ibv_wc *wc,
			   int timeout_ms)
{
	struct pollfd pfd = { .fd = lb->channel->fd, .events = POLLIN };
	long long deadline = now_ms() + timeout_ms, left;
	struct ibv_cq *cq;
	void *cq_ctx;
	int n;

	for (;;) {
		n = ibv_poll_cq(lb->cq, 1, wc);
		if (n < 0) {
			fprintf(stderr, "ibv_poll_cq failed (%d)\n", n);
			return -1;
		}
		if (n)
			return 0;
		left = deadline - now_ms();
		if (left <= 0)
			return 1;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "poll(completion channel): %s\n",
				strerror(errno));
			return -1;
		}
		if (!n)
			continue;	/* one last look at the CQ */
		if (ibv_get_cq_event(lb->channel, &cq, &cq_ctx)) {
			fprintf(stderr, "ibv_get_cq_event: %s\n",
				strerror(errno));
			return -1;
		}
		ibv_ack_cq_events(cq, 1);
		n = ibv_req_notify_cq(lb->cq, 0);
		if (n) {
			fprintf(stderr, "ibv_req_notify_cq: %s\n", strerror(n));
			return -1;
		}
	}
}

/*
 * The READ wr_id on qp[0] is unaccounted for (no completion in time, or the
 * wait failed), and the device may still write to its local buffer. In the
 * error state the QP gives up on the request and flushes it to the CQ;
 * once that completion is polled the buffer is the caller's again. The CQ
 * is polled rather than waited on through the channel, as the channel may
 * have failed or no longer be armed.
 */
static int abort_read(struct loopback *lb, uint64_t wr_id)
{
	static const struct timespec tick = { .tv_nsec = 1000000 };
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };
	struct ibv_qp *qp = lb->qp[0];
	long long deadline;
	struct ibv_wc wc;
	int n;

	n = ibv_modify_qp(qp, &a, IBV_QP_STATE);
	if (n) {
		fprintf(stderr, "ibv_modify_qp(QP 0x%x to ERR) to flush the "
			"RDMA READ: %s\n", qp->qp_num, strerror(n));
		return LOOPBACK_IN_FLIGHT;
	}
	deadline = now_ms() + FLUSH_TIMEOUT_MS;
	for (;;) {
		n = ibv_poll_cq(lb->cq, 1, &wc);
		if (n < 0) {
			fprintf(stderr, "ibv_poll_cq failed (%d) while "
				"flushing the RDMA READ\n", n);
			return LOOPBACK_IN_FLIGHT;
		}
		if (n && wc.wr_id == wr_id) {
			fprintf(stderr, "RDMA READ flushed from QP 0x%x (%s)\n",
				qp->qp_num, ibv_wc_status_str(wc.status));
			return -1;
		}
		if (n)
			continue;
		if (now_ms() >= deadline) {
			fprintf(stderr, "RDMA READ not flushed within %d ms of "
				"moving QP 0x%x to ERR\n", FLUSH_TIMEOUT_MS,
				qp->qp_num);
			return LOOPBACK_IN_FLIGHT;
		}
		nanosleep(&tick, NULL);
	}
}

int loopback_read(struct loopback *lb, void *local, uint32_t lkey,
		  uint64_t raddr, uint32_t rkey, uint32_t len, int timeout_ms)
{
	struct ibv_sge sge = { (uintptr_t)local, len, lkey };
	struct ibv_send_wr wr, *bad;
	struct ibv_wc wc;
	int ret;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = ++lb->wr_id;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = IBV_WR_RDMA_READ;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.wr.rdma.remote_addr = raddr;
	wr.wr.rdma.rkey = rkey;
	ret = ibv_req_notify_cq(lb->cq, 0);
	if (ret) {
		fprintf(stderr, "ibv_req_notify_cq: %s\n", strerror(ret));
		return -1;
	}
	ret = ibv_post_send(lb->qp[0], &wr, &bad);
	if (ret) {
		fprintf(stderr, "ibv_post_send(RDMA READ): %s\n",
			strerror(ret));
		return -1;
	}
	ret = wait_completion(lb, &wc, timeout_ms);
	if (!ret && wc.wr_id == wr.wr_id) {
		if (wc.status == IBV_WC_SUCCESS)
			return 0;
		fprintf(stderr, "RDMA READ completed with %s\n",
			ibv_wc_status_str(wc.status));
		return -1;
	}
	if (!ret)
		fprintf(stderr, "RDMA READ: completion of another request "
			"(wr_id %" PRIu64 ", not %" PRIu64 ")\n",
			wc.wr_id, wr.wr_id);
	else if (ret > 0)
		fprintf(stderr, "RDMA READ: no completion within %d ms\n",
			timeout_ms);
	return abort_read(lb, wr.wr_id);
}
