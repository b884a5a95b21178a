// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * RDMA netlink queries over a raw NETLINK_RDMA socket. See nldev.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rdma/rdma_netlink.h>

#include "nldev.h"

#define NL_BUF_SIZE 32768
#define NL_STOP (-1)	/* callback: done, success */

struct nl_req {
	struct nlmsghdr nlh;
	char attrs[256];
};

struct nla_iter {
	const char *p;
	size_t rem;
};

static void nla_iter_init(struct nla_iter *it, const void *data, size_t len)
{
	it->p = data;
	it->rem = len;
}

static const struct nlattr *nla_next(struct nla_iter *it)
{
	const struct nlattr *a;
	size_t step;

	if (it->rem < NLA_HDRLEN)
		return NULL;
	a = (const struct nlattr *)it->p;
	if (a->nla_len < NLA_HDRLEN || a->nla_len > it->rem)
		return NULL;
	step = NLA_ALIGN(a->nla_len);
	if (step > it->rem)
		step = it->rem;
	it->p += step;
	it->rem -= step;
	return a;
}

static int nla_kind(const struct nlattr *a)
{
	return a->nla_type & NLA_TYPE_MASK;
}

static const void *nla_payload(const struct nlattr *a)
{
	return (const char *)a + NLA_HDRLEN;
}

static size_t nla_plen(const struct nlattr *a)
{
	return a->nla_len - NLA_HDRLEN;
}

/* An unsigned value of 1, 2, 4 or 8 bytes; false for other sizes. */
static bool nla_uint(const struct nlattr *a, uint64_t *v)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;

	switch (nla_plen(a)) {
	case 1:
		memcpy(&u8, nla_payload(a), 1);
		*v = u8;
		return true;
	case 2:
		memcpy(&u16, nla_payload(a), 2);
		*v = u16;
		return true;
	case 4:
		memcpy(&u32, nla_payload(a), 4);
		*v = u32;
		return true;
	case 8:
		memcpy(v, nla_payload(a), 8);
		return true;
	default:
		return false;
	}
}

/* Copy a string attribute into buf (NUL-terminated, truncated). */
static void nla_strcpy(char *buf, size_t size, const struct nlattr *a)
{
	size_t n = strnlen(nla_payload(a), nla_plen(a));

	if (n >= size)
		n = size - 1;
	memcpy(buf, nla_payload(a), n);
	buf[n] = '\0';
}

static bool nla_streq(const struct nlattr *a, const char *s)
{
	size_t n = strnlen(nla_payload(a), nla_plen(a));

	return n == strlen(s) && !memcmp(nla_payload(a), s, n);
}

static void req_init(struct nl_req *req, uint16_t cmd, uint16_t flags)
{
	memset(req, 0, sizeof(*req));
	req->nlh.nlmsg_len = NLMSG_LENGTH(0);
	req->nlh.nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, cmd);
	req->nlh.nlmsg_flags = NLM_F_REQUEST | flags;
	req->nlh.nlmsg_seq = 1;
}

static void req_put(struct nl_req *req, uint16_t type, const void *data,
		    size_t len)
{
	struct nlattr *a = (struct nlattr *)((char *)req +
					     NLMSG_ALIGN(req->nlh.nlmsg_len));

	/* Requests are built from constants: they always fit. */
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	req->nlh.nlmsg_len = NLMSG_ALIGN(req->nlh.nlmsg_len) +
			     NLA_ALIGN(a->nla_len);
}

static void req_put_u32(struct nl_req *req, uint16_t type, uint32_t v)
{
	req_put(req, type, &v, sizeof(v));
}

static void req_put_str(struct nl_req *req, uint16_t type, const char *s)
{
	req_put(req, type, s, strlen(s) + 1);
}

/*
 * Send req and feed every reply message to cb until the dump ends (or the
 * single reply of a plain request arrived). cb returns 0 to go on, NL_STOP
 * to finish successfully, or a positive errno.
 */
static int nl_transact(struct nl_req *req,
		       int (*cb)(const struct nlmsghdr *nlh, void *arg),
		       void *arg)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char *buf;
	int fd, ret;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_RDMA);
	if (fd < 0)
		return errno;
	buf = malloc(NL_BUF_SIZE);
	if (!buf) {
		ret = ENOMEM;
		goto out_close;
	}
	if (sendto(fd, req, req->nlh.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		ret = errno;
		goto out_free;
	}

	for (;;) {
		const struct nlmsghdr *nlh;
		ssize_t n;
		size_t len;

		n = recv(fd, buf, NL_BUF_SIZE, MSG_TRUNC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = errno;
			goto out_free;
		}
		if (n == 0 || n > NL_BUF_SIZE) {
			ret = EPROTO;
			goto out_free;
		}
		len = (size_t)n;
		for (nlh = (const struct nlmsghdr *)buf; NLMSG_OK(nlh, len);
		     nlh = NLMSG_NEXT(nlh, len)) {
			if (nlh->nlmsg_seq != req->nlh.nlmsg_seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_DONE) {
				ret = 0;
				goto out_free;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(nlh);

				if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					ret = EPROTO;
				else
					ret = -e->error;
				goto out_free;
			}
			ret = cb(nlh, arg);
			if (ret) {
				if (ret == NL_STOP)
					ret = 0;
				goto out_free;
			}
			if (!(nlh->nlmsg_flags & NLM_F_MULTI)) {
				ret = 0;
				goto out_free;
			}
		}
	}

out_free:
	free(buf);
out_close:
	close(fd);
	return ret;
}

static const void *msg_attrs(const struct nlmsghdr *nlh, size_t *len)
{
	*len = nlh->nlmsg_len - NLMSG_HDRLEN;
	return NLMSG_DATA(nlh);
}

struct dev_index_ctx {
	const char *name;
	uint32_t index;
	bool found;
};

static int dev_index_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct dev_index_ctx *c = arg;
	const struct nlattr *a;
	struct nla_iter it;
	bool name_ok = false, have_index = false;
	uint64_t index = 0;
	size_t len;
	const void *data = msg_attrs(nlh, &len);

	nla_iter_init(&it, data, len);
	while ((a = nla_next(&it))) {
		if (nla_kind(a) == RDMA_NLDEV_ATTR_DEV_NAME)
			name_ok = nla_streq(a, c->name);
		else if (nla_kind(a) == RDMA_NLDEV_ATTR_DEV_INDEX)
			have_index = nla_uint(a, &index);
	}
	if (name_ok && have_index && !c->found) {
		c->index = (uint32_t)index;
		c->found = true;
	}
	return 0;
}

int cmr_nl_dev_index(const char *name, uint32_t *index)
{
	struct dev_index_ctx c = { .name = name };
	struct nl_req req;
	int ret;

	req_init(&req, RDMA_NLDEV_CMD_GET, NLM_F_DUMP);
	ret = nl_transact(&req, dev_index_cb, &c);
	if (ret)
		return ret;
	if (!c.found)
		return ENODEV;
	*index = c.index;
	return 0;
}

struct driver_id_ctx {
	uint32_t driver_id;
	bool found;
};

static int driver_id_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct driver_id_ctx *c = arg;
	const struct nlattr *a;
	struct nla_iter it;
	uint64_t v;
	size_t len;
	const void *data = msg_attrs(nlh, &len);

	nla_iter_init(&it, data, len);
	while ((a = nla_next(&it))) {
		if (nla_kind(a) == RDMA_NLDEV_ATTR_UVERBS_DRIVER_ID &&
		    nla_uint(a, &v)) {
			c->driver_id = (uint32_t)v;
			c->found = true;
		}
	}
	return NL_STOP;
}

int cmr_nl_uverbs_driver_id(uint32_t index, uint32_t *driver_id)
{
	struct driver_id_ctx c = {};
	struct nl_req req;
	int ret;

	req_init(&req, RDMA_NLDEV_CMD_GET_CHARDEV, 0);
	req_put_u32(&req, RDMA_NLDEV_ATTR_DEV_INDEX, index);
	req_put_str(&req, RDMA_NLDEV_ATTR_CHARDEV_TYPE, "uverbs");
	ret = nl_transact(&req, driver_id_cb, &c);
	if (ret)
		return ret;
	/* Drivers with uverbs_no_driver_id_binding do not report one. */
	if (!c.found)
		return ENOENT;
	*driver_id = c.driver_id;
	return 0;
}

static void drv_attr_push(struct cmr_drv_attrs *attrs,
			  const struct cmr_drv_attr *attr)
{
	if (attrs->n < CMR_MAX_DRV_ATTRS)
		attrs->attr[attrs->n++] = *attr;
}

int cmr_nl_parse_driver_nest(const void *data, size_t len,
			     struct cmr_drv_attrs *attrs)
{
	struct cmr_drv_attr cur;
	const struct nlattr *a;
	struct nla_iter it;
	bool have_name = false;
	uint64_t v;

	memset(attrs, 0, sizeof(*attrs));
	nla_iter_init(&it, data, len);
	while ((a = nla_next(&it))) {
		switch (nla_kind(a)) {
		case RDMA_NLDEV_ATTR_DRIVER_STRING:
			if (!have_name) {
				memset(&cur, 0, sizeof(cur));
				nla_strcpy(cur.name, sizeof(cur.name), a);
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
			if (nla_kind(a) == RDMA_NLDEV_ATTR_DRIVER_S32)
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

static int parse_mr_entry(const struct nlattr *entry, uint32_t lkey,
			  struct cmr_drv_attrs *attrs)
{
	const struct nlattr *a, *driver = NULL;
	struct nla_iter it;
	bool match = false;
	uint64_t v;

	nla_iter_init(&it, nla_payload(entry), nla_plen(entry));
	while ((a = nla_next(&it))) {
		if (nla_kind(a) == RDMA_NLDEV_ATTR_RES_LKEY && nla_uint(a, &v))
			match = (uint32_t)v == lkey;
		else if (nla_kind(a) == RDMA_NLDEV_ATTR_DRIVER)
			driver = a;
	}
	if (!match)
		return ENOENT;
	if (!driver) {
		memset(attrs, 0, sizeof(*attrs));
		return 0;
	}
	return cmr_nl_parse_driver_nest(nla_payload(driver), nla_plen(driver),
					attrs);
}

int cmr_nl_parse_mr_msg(const struct nlmsghdr *nlh, uint32_t lkey,
			struct cmr_drv_attrs *attrs)
{
	const struct nlattr *a, *e;
	struct nla_iter it, eit;
	size_t len;
	const void *data;
	int ret;

	if (nlh->nlmsg_len < NLMSG_HDRLEN)
		return EPROTO;
	data = msg_attrs(nlh, &len);
	nla_iter_init(&it, data, len);
	while ((a = nla_next(&it))) {
		if (nla_kind(a) != RDMA_NLDEV_ATTR_RES_MR)
			continue;
		nla_iter_init(&eit, nla_payload(a), nla_plen(a));
		while ((e = nla_next(&eit))) {
			if (nla_kind(e) != RDMA_NLDEV_ATTR_RES_MR_ENTRY)
				continue;
			ret = parse_mr_entry(e, lkey, attrs);
			if (ret != ENOENT)
				return ret;
		}
	}
	return ENOENT;
}

struct mr_ctx {
	uint32_t lkey;
	struct cmr_drv_attrs *attrs;
	int ret;
};

static int mr_cb(const struct nlmsghdr *nlh, void *arg)
{
	struct mr_ctx *c = arg;

	c->ret = cmr_nl_parse_mr_msg(nlh, c->lkey, c->attrs);
	if (c->ret == ENOENT)
		return 0;
	return c->ret ? c->ret : NL_STOP;
}

int cmr_nl_mr_driver_attrs(uint32_t index, uint32_t lkey,
			   struct cmr_drv_attrs *attrs)
{
	struct mr_ctx c = { .lkey = lkey, .attrs = attrs, .ret = ENOENT };
	struct nl_req req;
	int ret;

	req_init(&req, RDMA_NLDEV_CMD_RES_MR_GET, NLM_F_DUMP);
	req_put_u32(&req, RDMA_NLDEV_ATTR_DEV_INDEX, index);
	ret = nl_transact(&req, mr_cb, &c);
	if (ret)
		return ret;
	return c.ret;
}
