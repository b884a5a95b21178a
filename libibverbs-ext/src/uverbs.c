// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The uverbs driver id of a context. The kernel rejects an ioctl whose
 * header names another driver (EINVAL), and libibverbs keeps the id in its
 * private structures, so the library finds it itself: from RDMA netlink as
 * libibverbs does, else by probing the command file descriptor.
 */
#include <errno.h>

#include "contig_mr.h"
#include "nldev.h"
#include "uverbs_cmd.h"

/* Larger than any enum rdma_driver_id value so far. */
#define CMR_MAX_DRIVER_ID 64

/*
 * libibverbs learns every device's index from netlink when it lists the
 * devices; it has none only on kernels without RDMA netlink, where no
 * netlink query could succeed either.
 */
int cmr_device_index(struct ibv_context *ctx, uint32_t *index)
{
	int idx = ibv_get_device_index(ctx->device);

	if (idx < 0)
		return ENODEV;
	*index = (uint32_t)idx;
	return 0;
}

int cmr_driver_id_probe(int cmd_fd, uint32_t *driver_id)
{
	struct cmr_ioctl_cmd cmd;
	uint32_t id;
	int ret;

	for (id = 0; id < CMR_MAX_DRIVER_ID; id++) {
		cmr_encode_probe(&cmd, id);
		ret = cmr_ioctl(cmd_fd, &cmd);
		if (ret == EPROTONOSUPPORT) {
			*driver_id = id;
			return 0;
		}
		if (ret != EINVAL)
			return cmr_alloc_errno(ret ? ret : EPROTO);
	}
	return EOPNOTSUPP;
}

int cmr_driver_id(struct ibv_context *ctx, uint32_t *driver_id)
{
	uint32_t index;

	if (!cmr_device_index(ctx, &index) &&
	    !cmr_nl_uverbs_driver_id(index, driver_id))
		return 0;
	return cmr_driver_id_probe(ctx->cmd_fd, driver_id);
}
