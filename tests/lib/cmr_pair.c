// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * cmr_pair: an RC connection between two RDMA devices. See cmr_pair.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmr_pair.h"
#include "cmr_test.h"

static bool gid_is_ipv4(const union ibv_gid *gid)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
					    0, 0, 0xff, 0xff };

	return !memcmp(gid->raw, prefix, sizeof(prefix));
}

/* RoCE v2 with an IPv4 address, else RoCE v2, else any valid GID. */
static int side_pick_gid(struct t_pair_side *s, int table_len)
{
	static const union ibv_gid zero;
	int best = -1, best_score = -1, i;

	for (i = 0; i < table_len; i++) {
		struct ibv_gid_entry e;
		int score = 0;

		if (ibv_query_gid_ex(s->ctx, s->port, i, &e, 0))
			continue;
		if (!memcmp(&e.gid, &zero, sizeof(zero)))
			continue;
		if (e.gid_type == IBV_GID_TYPE_ROCE_V2)
			score += 2;
		if (gid_is_ipv4(&e.gid))
			score += 1;
		if (score > best_score) {
			best = i;
			best_score = score;
			s->gid = e.gid;
		}
	}
	return best;
}

static int side_open(struct t_pair_side *s, const char *name)
{
	struct ibv_device_attr dattr;
	struct ibv_port_attr pattr;
	struct ibv_qp_init_attr init;

	s->ctx = t_open_device(name);
	s->port = 1;
	if (ibv_query_device(s->ctx, &dattr) ||
	    ibv_query_port(s->ctx, s->port, &pattr)) {
		t_diag("%s: query device/port: %s", name, strerror(errno));
		return -1;
	}
	if (pattr.state != IBV_PORT_ACTIVE)
		t_diag("%s: port %u is %s", name, s->port,
		       ibv_port_state_str(pattr.state));
	s->mtu = pattr.active_mtu;
	s->max_msg_sz = pattr.max_msg_sz;
	s->rd_atomic = dattr.max_qp_rd_atom > 16 ? 16 : dattr.max_qp_rd_atom;
	if (!s->rd_atomic)
		s->rd_atomic = 1;
	s->gid_index = side_pick_gid(s, pattr.gid_tbl_len);
	if (s->gid_index < 0) {
		t_diag("%s: no valid GID on port %u", name, s->port);
		return -1;
	}

	s->pd = ibv_alloc_pd(s->ctx);
	if (!s->pd) {
		t_diag("%s: alloc_pd: %s", name, strerror(errno));
		return -1;
	}
	s->cq = ibv_create_cq(s->ctx, 64, NULL, NULL, 0);
	if (!s->cq) {
		t_diag("%s: create_cq: %s", name, strerror(errno));
		return -1;
	}
	memset(&init, 0, sizeof(init));
	init.send_cq = s->cq;
	init.recv_cq = s->cq;
	init.qp_type = IBV_QPT_RC;
	init.cap.max_send_wr = 32;
	init.cap.max_recv_wr = 4;
	init.cap.max_send_sge = 1;
	init.cap.max_recv_sge = 1;
	s->qp = ibv_create_qp(s->pd, &init);
	if (!s->qp) {
		t_diag("%s: create_qp: %s", name, strerror(errno));
		return -1;
	}
	return 0;
}

static int side_connect(struct t_pair_side *s, const struct t_pair_side *peer,
			enum ibv_mtu mtu)
{
	struct ibv_qp_attr a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = s->port;
	a.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
			    IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC;
	ret = ibv_modify_qp(s->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
					       IBV_QP_PORT |
					       IBV_QP_ACCESS_FLAGS);
	if (ret) {
		t_diag("modify_qp INIT: %s", strerror(ret));
		return -1;
	}

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = mtu;
	a.dest_qp_num = peer->qp->qp_num;
	a.rq_psn = 0;
	a.max_dest_rd_atomic = s->rd_atomic;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = peer->gid;
	a.ah_attr.grh.sgid_index = (uint8_t)s->gid_index;
	a.ah_attr.grh.hop_limit = 64;
	a.ah_attr.port_num = s->port;
	ret = ibv_modify_qp(s->qp, &a, IBV_QP_STATE | IBV_QP_AV |
					       IBV_QP_PATH_MTU |
					       IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
					       IBV_QP_MAX_DEST_RD_ATOMIC |
					       IBV_QP_MIN_RNR_TIMER);
	if (ret) {
		t_diag("modify_qp RTR: %s", strerror(ret));
		return -1;
	}

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = 0;
	a.max_rd_atomic = peer->rd_atomic;
	ret = ibv_modify_qp(s->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
					       IBV_QP_RETRY_CNT |
					       IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
					       IBV_QP_MAX_QP_RD_ATOMIC);
	if (ret) {
		t_diag("modify_qp RTS: %s", strerror(ret));
		return -1;
	}
	return 0;
}

int t_pair_create(struct t_pair *p, const char *name0, const char *name1)
{
	const char *name[2] = { name0, name1 };
	static const char *const env[2] = { "CMR_RXE1", "CMR_RXE2" };
	enum ibv_mtu mtu;
	int i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < 2; i++) {
		if (!name[i])
			name[i] = getenv(env[i]);
		if (!name[i] || !*name[i])
			t_skip_all("$%s is not set (needs the guest's 'pair' "
				   "set-up)", env[i]);
	}
	for (i = 0; i < 2; i++)
		if (side_open(&p->side[i], name[i]))
			goto err;

	p->msg_max = T_PAIR_MSG_MAX;
	mtu = p->side[0].mtu < p->side[1].mtu ? p->side[0].mtu :
						 p->side[1].mtu;
	for (i = 0; i < 2; i++)
		if (side_connect(&p->side[i], &p->side[!i], mtu))
			goto err;
	return 0;

err:
	t_pair_destroy(p);
	return -1;
}

void t_pair_destroy(struct t_pair *p)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct t_pair_side *s = &p->side[i];

		if (s->qp)
			ibv_destroy_qp(s->qp);
		if (s->cq)
			ibv_destroy_cq(s->cq);
		if (s->pd)
			ibv_dealloc_pd(s->pd);
		if (s->ctx)
			ibv_close_device(s->ctx);
		memset(s, 0, sizeof(*s));
	}
}

int t_pair_post(struct t_pair *p, int side, struct ibv_send_wr *wr,
		int timeout_ms)
{
	struct t_pair_side *s = &p->side[side];

	return t_post_wait(s->qp, s->cq, &s->wr_id, wr, timeout_ms);
}

int t_pair_rdma(struct t_pair *p, int side, enum ibv_wr_opcode op,
		void *local, uint32_t lkey, uint64_t remote, uint32_t rkey,
		size_t len, int timeout_ms)
{
	uint32_t max = p->side[side].max_msg_sz;
	size_t off = 0, chunk;

	if (p->msg_max && (!max || p->msg_max < max))
		max = p->msg_max;
	while (off < len) {
		struct ibv_sge sge;
		struct ibv_send_wr wr;

		chunk = len - off;
		if (max && chunk > max)
			chunk = max;
		memset(&wr, 0, sizeof(wr));
		sge.addr = (uintptr_t)local + off;
		sge.length = (uint32_t)chunk;
		sge.lkey = lkey;
		wr.sg_list = &sge;
		wr.num_sge = 1;
		wr.opcode = op;
		wr.wr.rdma.remote_addr = remote + off;
		wr.wr.rdma.rkey = rkey;
		if (t_pair_post(p, side, &wr, timeout_ms))
			return -1;
		off += chunk;
	}
	return 0;
}
