/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * RDMA netlink (NETLINK_RDMA, the nldev commands) through libnl-3: the
 * uverbs driver id of a device and the restrack driver attributes of one
 * MR. All functions return 0 or a positive errno and open their own
 * socket: no state is kept between calls.
 */
#ifndef CMR_NLDEV_H
#define CMR_NLDEV_H

#include <stdint.h>
#include <linux/netlink.h>

#include "backend.h"

/* ENOENT when the driver does not report one (uverbs_no_driver_id_binding). */
int cmr_nl_uverbs_driver_id(uint32_t index, uint32_t *driver_id);

/*
 * The driver attributes of the MR whose lkey is lkey on device index.
 * ENOENT when no MR matches: keys are reported only to callers with
 * CAP_NET_ADMIN.
 */
int cmr_nl_mr_driver_attrs(uint32_t index, uint32_t lkey,
			   struct cmr_drv_attrs *attrs);

/*
 * The parser of one message of a RES_MR_GET dump, exposed for the unit
 * tests: 0 when it held the MR with lkey (attrs filled), ENOENT when it did
 * not, EPROTO when it is malformed.
 */
int cmr_nl_parse_mr_msg(struct nlmsghdr *nlh, uint32_t lkey,
			struct cmr_drv_attrs *attrs);

#endif /* CMR_NLDEV_H */
