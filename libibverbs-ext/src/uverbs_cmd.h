/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * The uverbs ioctl commands this library issues on context->cmd_fd
 * (RDMA_VERBS_IOCTL), built without rdma-core's private driver.h.
 *
 * Encoding is separate from execution so that unit tests can check every
 * field of a command without a device: cmr_encode_*() fill a struct
 * cmr_ioctl_cmd, cmr_ioctl() sends it, cmr_decode_*() read the results.
 *
 * The object, method and attribute numbers come from the kernel series' uapi
 * headers (target contig_mr_uapi); none is repeated here.
 */
#ifndef CMR_UVERBS_CMD_H
#define CMR_UVERBS_CMD_H

#include <stdint.h>

#include <rdma/ib_user_ioctl_cmds.h>
#include <rdma/ib_user_ioctl_verbs.h>
#include <rdma/rdma_user_ioctl_cmds.h>

#define CMR_IOCTL_MAX_ATTRS 12

/* One command: the header immediately followed by its attributes. */
struct cmr_ioctl_cmd {
	struct ib_uverbs_ioctl_hdr hdr;
	struct ib_uverbs_attr attrs[CMR_IOCTL_MAX_ATTRS];
};

/* Inputs of UVERBS_METHOD_CONTIG_BUF_ALLOC. */
struct cmr_buf_alloc_in {
	uint64_t length;
	int32_t numa_node;	/* < 0: the attribute is left out */
	uint32_t flags;		/* IB_UVERBS_CONTIG_BUF_*; 0: left out */
	uint64_t min_extent;	/* 0: left out */
};

/* RESP_NUMA_NODE is optional: out->numa_node keeps this when not written. */
#define CMR_RESP_NODE_NONE UINT32_MAX

/*
 * Outputs; the kernel writes them through pointers set by the encoder,
 * which sets fd to -1 and numa_node to CMR_RESP_NODE_NONE first, so that
 * an output the kernel did not write is recognisable.
 */
struct cmr_buf_alloc_out {
	uint32_t handle;	/* the new CONTIG_BUF object */
	int32_t fd;		/* mmap() it MAP_SHARED, then close() it */
	uint64_t length;	/* LENGTH rounded up to pages */
	uint64_t alignment;	/* natural alignment of the physical start */
	uint32_t numa_node;	/* node the memory came from */
	uint64_t extent_size;	/* bytes in each extent but the last */
};

/*
 * Fill cmd for UVERBS_METHOD_CONTIG_BUF_ALLOC. The output attributes point
 * into out, which must stay valid until cmr_decode_buf_alloc().
 * Every attribute sent is marked mandatory: a kernel that does not know one
 * fails the command instead of ignoring, say, NODE_STRICT.
 */
void cmr_encode_buf_alloc(struct cmr_ioctl_cmd *cmd, uint32_t driver_id,
			  const struct cmr_buf_alloc_in *in,
			  struct cmr_buf_alloc_out *out);

/* After a successful ioctl: copy the new handle into out->handle. */
void cmr_decode_buf_alloc(const struct cmr_ioctl_cmd *cmd,
			  struct cmr_buf_alloc_out *out);

/* Fill cmd for UVERBS_METHOD_CONTIG_BUF_FREE of handle. */
void cmr_encode_buf_free(struct cmr_ioctl_cmd *cmd, uint32_t driver_id,
			 uint32_t handle);

/*
 * A command on an object id no kernel defines, with no attributes. The
 * kernel checks the header's driver id before it looks the method up: a
 * wrong id fails with EINVAL, the right one with EPROTONOSUPPORT.
 */
void cmr_encode_probe(struct cmr_ioctl_cmd *cmd, uint32_t driver_id);

/* Send cmd on fd. Returns 0 or the positive errno of the ioctl. */
int cmr_ioctl(int fd, struct cmr_ioctl_cmd *cmd);

/*
 * errno of a failed CONTIG_BUF_ALLOC as the API reports it: a kernel
 * without the method (EPROTONOSUPPORT from the ioctl framework, ENOTTY from
 * a kernel without ioctl support) is EOPNOTSUPP.
 */
int cmr_alloc_errno(int err);

#endif /* CMR_UVERBS_CMD_H */
