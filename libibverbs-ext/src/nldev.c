// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * RDMA netlink queries (NETLINK_RDMA, the nldev commands) through libnl-3,
 * the netlink library libibverbs itself is built on. See nldev.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <netlink/attr.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <rdma/rdma_netlink.h>

#include "nldev.h"

/*
 * One request and its replies. The kernel's errno comes back in an
 * NLMSG_ERROR message, which libnl turns into its own codes: err_cb keeps
 * the errno itself. parse returns 0 to go on, ENOENT when the message did
 * not hold what it looks for, or another errno to stop with.
 */
struct nl_query {
	int (*parse)(struct nlmsghdr *nlh, void *arg);
	void *arg;
	int found;	/* 0 once parse returned 0, else its last errno */
	int error;	/* the kernel's errno, or 0 */
};

static int valid_cb(struct nl_msg *msg, void *arg)
{
	struct nl_query *q = arg;
	int ret = q->parse(nlmsg_hdr(msg), q->arg);

	if (ret == ENOENT)
		return NL_OK;
	q->found = ret;
	return ret ? NL_STOP : NL_OK;
}

static int err_cb(struct sockaddr_nl *nla, struct nlmsgerr *e, void *arg)
{
	struct nl_query *q = arg;

	(void)nla;
	q->error = -e->error;
	return NL_STOP;
}

/* A dump's error comes in the payload of its NLMSG_DONE, not as an
 * NLMSG_ERROR: libnl passes that message to the finish callback only. */
static int finish_cb(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nl_query *q = arg;
	int err;

	if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(err))) {
		memcpy(&err, nlmsg_data(nlh), sizeof(err));
		if (err < 0)
			q->error = -err;
	}
	return NL_STOP;
}

/* Sends msg (consumed) and feeds its replies to q->parse. */
static int nl_query_run(struct nl_msg *msg, struct nl_query *q)
{
	struct nl_sock *sk;
	int ret;

	q->found = ENOENT;
	q->error = 0;
	sk = nl_socket_alloc();
	if (!sk) {
		nlmsg_free(msg);
		return ENOMEM;
	}
	ret = nl_connect(sk, NETLINK_RDMA);
	if (ret) {
		ret = EPROTONOSUPPORT;
		goto out;
	}
	/* Replies larger than a page (a dump of many MRs) are read whole. */
	nl_socket_enable_msg_peek(sk);
	nl_socket_disable_auto_ack(sk);
	if (nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, valid_cb, q) ||
	    nl_socket_modify_cb(sk, NL_CB_FINISH, NL_CB_CUSTOM, finish_cb, q) ||
	    nl_socket_modify_err_cb(sk, NL_CB_CUSTOM, err_cb, q)) {
		ret = ENOMEM;
		goto out;
	}
	if (nl_send_auto(sk, msg) < 0) {
		ret = EIO;
		goto out;
	}
	ret = nl_recvmsgs_default(sk);
	if (q->error)
		ret = q->error;
	else if (q->found != ENOENT)
		ret = q->found;
	else
		ret = ret < 0 ? EPROTO : ENOENT;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ret;
}

static struct nl_msg *nldev_msg(uint8_t cmd, int flags, uint32_t index)
{
	struct nl_msg *msg;

	msg = nlmsg_alloc_simple(RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, cmd), flags);
	if (msg && nla_put_u32(msg, RDMA_NLDEV_ATTR_DEV_INDEX, index)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* An unsigned value of 1, 2, 4 or 8 bytes; false for other sizes. */
static bool nla_uint(const struct nlattr *a, uint64_t *v)
{
	union {
		uint8_t u8;
		uint16_t u16;
		uint32_t u32;
		uint64_t u64;
	} u;

	switch (nla_len(a)) {
	case 1:
		memcpy(&u.u8, nla_data(a), 1);
		*v = u.u8;
		return true;
	case 2:
		memcpy(&u.u16, nla_data(a), 2);
		*v = u.u16;
		return true;
	case 4:
		memcpy(&u.u32, nla_data(a), 4);
		*v = u.u32;
		return true;
	case 8:
		memcpy(&u.u64, nla_data(a), 8);
		*v = u.u64;
		return true;
	default:
		return false;
	}
}

static int driver_id_parse(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[RDMA_NLDEV_ATTR_MAX];
	uint32_t *driver_id = arg;
	uint64_t v;

	if (nlmsg_parse(nlh, 0, tb, RDMA_NLDEV_ATTR_MAX - 1, NULL))
		return EPROTO;
	/* Drivers with uverbs_no_driver_id_binding do not report one. */
	if (!tb[RDMA_NLDEV_ATTR_UVERBS_DRIVER_ID] ||
	    !nla_uint(tb[RDMA_NLDEV_ATTR_UVERBS_DRIVER_ID], &v))
		return ENOENT;
	*driver_id = (uint32_t)v;
	return 0;
}

int cmr_nl_uverbs_driver_id(uint32_t index, uint32_t *driver_id)
{
	struct nl_query q = { .parse = driver_id_parse, .arg = driver_id };
	struct nl_msg *msg;

	msg = nldev_msg(RDMA_NLDEV_CMD_GET_CHARDEV, 0, index);
	if (!msg || nla_put_string(msg, RDMA_NLDEV_ATTR_CHARDEV_TYPE, "uverbs")) {
		nlmsg_free(msg);
		return ENOMEM;
	}
	return nl_query_run(msg, &q);
}

static void drv_attr_push(struct cmr_drv_attrs *attrs,
			  const struct cmr_drv_attr *attr)
{
	if (attrs->n < CMR_MAX_DRV_ATTRS)
		attrs->attr[attrs->n++] = *attr;
}

/*
 * The nest is a sequence, not a table: each DRIVER_STRING names the value
 * that follows it (a number, or another string), so it is walked in order.
 */
static int parse_driver_nest(const struct nlattr *nest,
			     struct cmr_drv_attrs *attrs)
{
	struct cmr_drv_attr cur;
	struct nlattr *a;
	bool have_name = false;
	uint64_t v;
	int rem;

	memset(attrs, 0, sizeof(*attrs));
	nla_for_each_nested(a, nest, rem) {
		switch (nla_type(a)) {
		case RDMA_NLDEV_ATTR_DRIVER_STRING:
			if (!have_name) {
				memset(&cur, 0, sizeof(cur));
				nla_strlcpy(cur.name, a, sizeof(cur.name));
				have_name = true;
			} else {
				/* A string value: name only, not numeric. */
				drv_attr_push(attrs, &cur);
				have_name = false;
			}
			break;
		case RDMA_NLDEV_ATTR_DRIVER_S32:
		case RDMA_NLDEV_ATTR_DRIVER_U32:
		case RDMA_NLDEV_ATTR_DRIVER_S64:
		case RDMA_NLDEV_ATTR_DRIVER_U64:
			if (!have_name || !nla_uint(a, &v))
				return EPROTO;
			if (nla_type(a) == RDMA_NLDEV_ATTR_DRIVER_S32)
				v = (uint64_t)(int64_t)(int32_t)v;
			cur.numeric = true;
			cur.value = v;
			drv_attr_push(attrs, &cur);
			have_name = false;
			break;
		default:	/* PRINT_TYPE and anything newer */
			break;
		}
	}
	return 0;
}

struct mr_match {
	uint32_t lkey;
	struct cmr_drv_attrs *attrs;
};

static int mr_parse(struct nlmsghdr *nlh, void *arg)
{
	struct nlattr *tb[RDMA_NLDEV_ATTR_MAX], *etb[RDMA_NLDEV_ATTR_MAX];
	struct mr_match *m = arg;
	struct nlattr *entry;
	uint64_t lkey;
	int rem;

	if (nlmsg_parse(nlh, 0, tb, RDMA_NLDEV_ATTR_MAX - 1, NULL))
		return EPROTO;
	if (!tb[RDMA_NLDEV_ATTR_RES_MR])
		return ENOENT;
	nla_for_each_nested(entry, tb[RDMA_NLDEV_ATTR_RES_MR], rem) {
		if (nla_type(entry) != RDMA_NLDEV_ATTR_RES_MR_ENTRY)
			continue;
		if (nla_parse_nested(etb, RDMA_NLDEV_ATTR_MAX - 1, entry, NULL))
			return EPROTO;
		if (!etb[RDMA_NLDEV_ATTR_RES_LKEY] ||
		    !nla_uint(etb[RDMA_NLDEV_ATTR_RES_LKEY], &lkey) ||
		    (uint32_t)lkey != m->lkey)
			continue;
		if (!etb[RDMA_NLDEV_ATTR_DRIVER]) {
			memset(m->attrs, 0, sizeof(*m->attrs));
			return 0;
		}
		return parse_driver_nest(etb[RDMA_NLDEV_ATTR_DRIVER], m->attrs);
	}
	return ENOENT;
}

int cmr_nl_parse_mr_msg(struct nlmsghdr *nlh, uint32_t lkey,
			struct cmr_drv_attrs *attrs)
{
	struct mr_match m = { .lkey = lkey, .attrs = attrs };

	return mr_parse(nlh, &m);
}

int cmr_nl_mr_driver_attrs(uint32_t index, uint32_t lkey,
			   struct cmr_drv_attrs *attrs)
{
	struct mr_match m = { .lkey = lkey, .attrs = attrs };
	struct nl_query q = { .parse = mr_parse, .arg = &m };
	struct nl_msg *msg;

	msg = nldev_msg(RDMA_NLDEV_CMD_RES_MR_GET, NLM_F_DUMP, index);
	if (!msg)
		return ENOMEM;
	return nl_query_run(msg, &q);
}
