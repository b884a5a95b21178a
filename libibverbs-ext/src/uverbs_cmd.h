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

/* Inputs of UVERBS_METHOD_ALLOC_CONTIG_MR. */
struct cmr_alloc_in {
	uint32_t pd_handle;
	uint64_t length;
	uint32_t access;	/* IB_UVERBS_ACCESS_* == IBV_ACCESS_* */
	int32_t numa_node;	/* < 0: the attribute is left out */
	uint32_t flags;		/* IB_UVERBS_ALLOC_CONTIG_MR_*; 0: left out */
};

/* Outputs; the kernel writes them through pointers set by the encoder. */
struct cmr_alloc_out {
	uint32_t handle;
	uint32_t lkey;
	uint32_t rkey;
	uint64_t addr;
	uint64_t length;
	uint64_t contig_length;
	uint64_t alignment;
};

/*
 * Fill cmd for UVERBS_METHOD_ALLOC_CONTIG_MR. The output attributes point
 * into out, which must stay valid until cmr_decode_alloc_contig_mr().
 * Every attribute sent is marked mandatory: a kernel that does not know one
 * fails the command instead of ignoring, say, NODE_STRICT.
 */
void cmr_encode_alloc_contig_mr(struct cmr_ioctl_cmd *cmd, uint32_t driver_id,
				const struct cmr_alloc_in *in,
				struct cmr_alloc_out *out);

/* After a successful ioctl: copy the new MR handle into out->handle. */
void cmr_decode_alloc_contig_mr(const struct cmr_ioctl_cmd *cmd,
				struct cmr_alloc_out *out);

/* Fill cmd for UVERBS_METHOD_MR_DESTROY of handle. */
void cmr_encode_destroy_mr(struct cmr_ioctl_cmd *cmd, uint32_t driver_id,
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
 * errno of a failed ALLOC_CONTIG_MR as the API reports it: a kernel
 * without the method (EPROTONOSUPPORT from the ioctl framework, ENOTTY from
 * a kernel without ioctl support) is EOPNOTSUPP.
 */
int cmr_alloc_errno(int err);

#endif /* CMR_UVERBS_CMD_H */
