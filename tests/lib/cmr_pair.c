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

static int side_open(struct t_pair_side *s, const char *name)
{
	s->ctx = t_open_device(name);
	if (t_port_query(s->ctx, 1, &s->port))
		return -1;
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
	s->qp = t_rc_qp_create(s->pd, s->cq);
	return s->qp ? 0 : -1;
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
	mtu = p->side[0].port.mtu < p->side[1].port.mtu ?
		      p->side[0].port.mtu : p->side[1].port.mtu;
	for (i = 0; i < 2; i++)
		if (t_rc_qp_connect(p->side[i].qp, &p->side[i].port,
				    &p->side[!i].port, p->side[!i].qp->qp_num,
				    mtu))
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
	uint32_t max = p->side[side].port.max_msg_sz;
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
