// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Device helpers: how drivers report the device page size of an MR.
 *
 * rxe (with the series' restrack patch) reports two driver attributes per
 * MR, "page_size" (bytes) and "map_entries" (translation entries), as
 * `rdma resource show mr -dd` shows them.
 */
#include <errno.h>
#include <string.h>

#include <rdma/ib_user_ioctl_verbs.h>

#include "backend.h"

bool cmr_drv_attr_get(const struct cmr_drv_attrs *attrs, const char *name,
		      uint64_t *value)
{
	unsigned int i;

	for (i = 0; i < attrs->n; i++) {
		if (attrs->attr[i].numeric &&
		    !strcmp(attrs->attr[i].name, name)) {
			*value = attrs->attr[i].value;
			return true;
		}
	}
	return false;
}

static int rxe_mr_pages(const struct cmr_drv_attrs *attrs,
			uint64_t *page_size, uint64_t *entries)
{
	if (!cmr_drv_attr_get(attrs, "page_size", page_size) ||
	    !cmr_drv_attr_get(attrs, "map_entries", entries))
		return ENOENT;
	return 0;
}

static const struct cmr_device_ops device_ops[] = {
	{ .driver_id = RDMA_DRIVER_RXE, .name = "rxe",
	  .mr_pages = rxe_mr_pages },
};

const struct cmr_device_ops *cmr_device_ops(uint32_t driver_id)
{
	unsigned int i;

	for (i = 0; i < sizeof(device_ops) / sizeof(device_ops[0]); i++)
		if (device_ops[i].driver_id == driver_id)
			return &device_ops[i];
	return NULL;
}
