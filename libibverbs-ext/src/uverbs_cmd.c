// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * uverbs ioctl commands: encoder, decoder and execution. See uverbs_cmd.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "uverbs_cmd.h"

static void cmd_init(struct cmr_ioctl_cmd *cmd, uint16_t object_id,
		     uint16_t method_id, uint32_t driver_id)
{
	memset(cmd, 0, sizeof(*cmd));
	cmd->hdr.object_id = object_id;
	cmd->hdr.method_id = method_id;
	cmd->hdr.driver_id = driver_id;
	cmd->hdr.length = sizeof(cmd->hdr);
}

static struct ib_uverbs_attr *cmd_attr(struct cmr_ioctl_cmd *cmd,
				       uint16_t attr_id, uint16_t len,
				       uint64_t data)
{
	struct ib_uverbs_attr *attr = &cmd->attrs[cmd->hdr.num_attrs++];

	attr->attr_id = attr_id;
	attr->len = len;
	attr->flags = UVERBS_ATTR_F_MANDATORY;
	attr->data = data;
	cmd->hdr.length += sizeof(*attr);
	return attr;
}

/* An object handle (IDR): len 0, the handle in data. */
static void attr_idr(struct cmr_ioctl_cmd *cmd, uint16_t id, uint32_t handle)
{
	cmd_attr(cmd, id, 0, handle);
}

/* Inline input: up to 8 bytes live in data itself. */
static void attr_in_u32(struct cmr_ioctl_cmd *cmd, uint16_t id, uint32_t v)
{
	cmd_attr(cmd, id, sizeof(v), v);
}

static void attr_in_u64(struct cmr_ioctl_cmd *cmd, uint16_t id, uint64_t v)
{
	cmd_attr(cmd, id, sizeof(v), v);
}

/* Output: the kernel copies len bytes to the address in data. */
static void attr_out(struct cmr_ioctl_cmd *cmd, uint16_t id, void *ptr,
		     uint16_t len)
{
	cmd_attr(cmd, id, len, (uintptr_t)ptr);
}

void cmr_encode_buf_alloc(struct cmr_ioctl_cmd *cmd, uint32_t driver_id,
			  const struct cmr_buf_alloc_in *in,
			  struct cmr_buf_alloc_out *out)
{
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	out->numa_node = CMR_RESP_NODE_NONE;
	cmd_init(cmd, UVERBS_OBJECT_CONTIG_BUF, UVERBS_METHOD_CONTIG_BUF_ALLOC,
		 driver_id);

	/* NEW object: the kernel writes the handle back into data. */
	attr_idr(cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE, 0);
	attr_in_u64(cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH, in->length);
	if (in->numa_node >= 0)
		attr_in_u32(cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE,
			    (uint32_t)in->numa_node);
	if (in->flags)
		attr_in_u32(cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS, in->flags);
	if (in->min_extent)
		attr_in_u64(cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_MIN_EXTENT,
			    in->min_extent);

	attr_out(cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD, &out->fd,
		 sizeof(out->fd));
	attr_out(cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH, &out->length,
		 sizeof(out->length));
	attr_out(cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_ALIGNMENT,
		 &out->alignment, sizeof(out->alignment));
	attr_out(cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_NUMA_NODE,
		 &out->numa_node, sizeof(out->numa_node));
	attr_out(cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_EXTENT_SIZE,
		 &out->extent_size, sizeof(out->extent_size));
}

void cmr_decode_buf_alloc(const struct cmr_ioctl_cmd *cmd,
			  struct cmr_buf_alloc_out *out)
{
	unsigned int i;

	for (i = 0; i < cmd->hdr.num_attrs; i++) {
		if (cmd->attrs[i].attr_id ==
		    UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE) {
			out->handle = (uint32_t)cmd->attrs[i].data;
			return;
		}
	}
}

void cmr_encode_buf_free(struct cmr_ioctl_cmd *cmd, uint32_t driver_id,
			 uint32_t handle)
{
	cmd_init(cmd, UVERBS_OBJECT_CONTIG_BUF, UVERBS_METHOD_CONTIG_BUF_FREE,
		 driver_id);
	attr_idr(cmd, UVERBS_ATTR_FREE_CONTIG_BUF_HANDLE, handle);
}

void cmr_encode_probe(struct cmr_ioctl_cmd *cmd, uint32_t driver_id)
{
	cmd_init(cmd, UINT16_MAX, UINT16_MAX, driver_id);
}

int cmr_ioctl(int fd, struct cmr_ioctl_cmd *cmd)
{
	if (ioctl(fd, RDMA_VERBS_IOCTL, &cmd->hdr))
		return errno;
	return 0;
}

int cmr_alloc_errno(int err)
{
	switch (err) {
	case EPROTONOSUPPORT:	/* no such object or method */
	case ENOTTY:		/* no ioctl interface at all */
	case ENOSYS:
		return EOPNOTSUPP;
	default:
		return err;
	}
}
