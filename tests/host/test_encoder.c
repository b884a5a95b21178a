// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * host_encoder: the uverbs ioctl commands the library builds, field by
 * field, without a device.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "cmr_test.h"
#include "uverbs_cmd.h"

#define HDR_LEN sizeof(struct ib_uverbs_ioctl_hdr)
#define ATTR_LEN sizeof(struct ib_uverbs_attr)

static const struct ib_uverbs_attr *find(const struct cmr_ioctl_cmd *cmd,
					 uint16_t id)
{
	unsigned int i;

	for (i = 0; i < cmd->hdr.num_attrs; i++)
		if (cmd->attrs[i].attr_id == id)
			return &cmd->attrs[i];
	return NULL;
}

/* One attribute: present, in position pos, with len, flags and data. */
static void check_attr(const struct cmr_ioctl_cmd *cmd, unsigned int pos,
		       uint16_t id, uint16_t len, uint64_t data,
		       const char *name)
{
	const struct ib_uverbs_attr *a = &cmd->attrs[pos];

	t_ok(pos < cmd->hdr.num_attrs && a->attr_id == id && a->len == len &&
		     a->flags == UVERBS_ATTR_F_MANDATORY &&
		     a->attr_data.reserved == 0 && a->data == data,
	     "attr %u is %s (id %u, len %u, mandatory, data 0x%llx)", pos,
	     name, id, len, (unsigned long long)data);
}

static void test_layout(void)
{
	t_ok(offsetof(struct cmr_ioctl_cmd, attrs) ==
		     offsetof(struct ib_uverbs_ioctl_hdr, attrs),
	     "attributes follow the header like the uapi's flexible array");
	t_ok(HDR_LEN == 24 && ATTR_LEN == 16,
	     "uapi sizes: header 24, attribute 16");
	/* The series appends; nothing may be renumbered. */
	t_ok(UVERBS_METHOD_ALLOC_CONTIG_MR == UVERBS_METHOD_REG_DMABUF_MR + 1,
	     "ALLOC_CONTIG_MR follows REG_DMABUF_MR (method %d)",
	     UVERBS_METHOD_ALLOC_CONTIG_MR);
	t_ok(UVERBS_ATTR_ALLOC_CONTIG_MR_HANDLE == 0 &&
		     UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ALIGNMENT == 11,
	     "12 attribute ids, 0..11");
	t_ok(IB_UVERBS_ALLOC_CONTIG_MR_NODE_STRICT == 1, "NODE_STRICT is bit 0");
}

static void test_alloc_full(void)
{
	struct cmr_alloc_in in = {
		.pd_handle = 7,
		.length = 0x123456789ull,
		.access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ,
		.numa_node = 1,
		.flags = IB_UVERBS_ALLOC_CONTIG_MR_NODE_STRICT,
	};
	struct cmr_alloc_out out;
	struct cmr_ioctl_cmd cmd;
	unsigned int p = 0;

	memset(&cmd, 0xa5, sizeof(cmd));
	memset(&out, 0xa5, sizeof(out));
	cmr_encode_alloc_contig_mr(&cmd, RDMA_DRIVER_RXE, &in, &out);

	t_ok(cmd.hdr.object_id == UVERBS_OBJECT_MR &&
		     cmd.hdr.method_id == UVERBS_METHOD_ALLOC_CONTIG_MR,
	     "header: object MR, method ALLOC_CONTIG_MR");
	t_ok(cmd.hdr.num_attrs == 12, "header: 12 attributes (got %u)",
	     cmd.hdr.num_attrs);
	t_ok(cmd.hdr.length == HDR_LEN + 12 * ATTR_LEN,
	     "header: length %u covers header and attributes", cmd.hdr.length);
	t_ok(cmd.hdr.driver_id == RDMA_DRIVER_RXE, "header: driver id");
	t_ok(cmd.hdr.reserved1 == 0 && cmd.hdr.reserved2 == 0,
	     "header: reserved fields zero");
	t_ok(out.handle == 0 && out.lkey == 0 && out.addr == 0 &&
		     out.alignment == 0,
	     "outputs cleared before the call");

	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_HANDLE, 0, 0,
		   "HANDLE");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_PD_HANDLE, 0, 7,
		   "PD_HANDLE");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_LENGTH, 8,
		   0x123456789ull, "LENGTH (inline u64)");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_ACCESS_FLAGS, 4,
		   in.access, "ACCESS_FLAGS (inline u32)");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE, 4, 1,
		   "NUMA_NODE (inline u32)");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_FLAGS, 4,
		   IB_UVERBS_ALLOC_CONTIG_MR_NODE_STRICT, "FLAGS (inline u32)");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_LKEY, 4,
		   (uintptr_t)&out.lkey, "RESP_LKEY -> out.lkey");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_RKEY, 4,
		   (uintptr_t)&out.rkey, "RESP_RKEY -> out.rkey");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ADDR, 8,
		   (uintptr_t)&out.addr, "RESP_ADDR -> out.addr");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_LENGTH, 8,
		   (uintptr_t)&out.length, "RESP_LENGTH -> out.length");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_CONTIG_LENGTH, 8,
		   (uintptr_t)&out.contig_length,
		   "RESP_CONTIG_LENGTH -> out.contig_length");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ALIGNMENT, 8,
		   (uintptr_t)&out.alignment,
		   "RESP_ALIGNMENT -> out.alignment");

	/* What the kernel does on success: the new handle into data. */
	cmd.attrs[0].data = 42;
	cmr_decode_alloc_contig_mr(&cmd, &out);
	t_ok(out.handle == 42, "decode: handle read back from HANDLE's data");
}

static void test_alloc_optional(void)
{
	struct cmr_alloc_in in = {
		.pd_handle = 3, .length = 4096, .access = 0,
		.numa_node = -1, .flags = 0,
	};
	struct cmr_alloc_out out;
	struct cmr_ioctl_cmd cmd;

	cmr_encode_alloc_contig_mr(&cmd, 5, &in, &out);
	t_ok(cmd.hdr.num_attrs == 10 &&
		     cmd.hdr.length == HDR_LEN + 10 * ATTR_LEN,
	     "no node, no flags: 10 attributes");
	t_ok(!find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE),
	     "numa_node -1: NUMA_NODE left out (kernel picks)");
	t_ok(!find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_MR_FLAGS),
	     "flags 0: FLAGS left out");
	t_ok(find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_MR_ACCESS_FLAGS) &&
		     find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_MR_ACCESS_FLAGS)->data == 0,
	     "access 0 is still sent");

	in.numa_node = 0;
	cmr_encode_alloc_contig_mr(&cmd, 5, &in, &out);
	t_ok(find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE) &&
		     find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE)->data == 0,
	     "numa_node 0 is sent as 0");
}

static void test_destroy_probe(void)
{
	struct cmr_ioctl_cmd cmd;

	memset(&cmd, 0xa5, sizeof(cmd));
	cmr_encode_destroy_mr(&cmd, RDMA_DRIVER_RXE, 99);
	t_ok(cmd.hdr.object_id == UVERBS_OBJECT_MR &&
		     cmd.hdr.method_id == UVERBS_METHOD_MR_DESTROY &&
		     cmd.hdr.num_attrs == 1 &&
		     cmd.hdr.length == HDR_LEN + ATTR_LEN &&
		     cmd.hdr.driver_id == RDMA_DRIVER_RXE &&
		     !cmd.hdr.reserved1 && !cmd.hdr.reserved2,
	     "destroy: header");
	check_attr(&cmd, 0, UVERBS_ATTR_DESTROY_MR_HANDLE, 0, 99,
		   "DESTROY_MR_HANDLE");

	cmr_encode_probe(&cmd, 11);
	t_ok(cmd.hdr.object_id == 0xffff && cmd.hdr.method_id == 0xffff &&
		     cmd.hdr.num_attrs == 0 && cmd.hdr.length == HDR_LEN &&
		     cmd.hdr.driver_id == 11,
	     "probe: no such object, no attributes, the driver id tried");
}

static void test_errno_map(void)
{
	t_ok(cmr_alloc_errno(EPROTONOSUPPORT) == EOPNOTSUPP,
	     "EPROTONOSUPPORT (no such method) -> EOPNOTSUPP");
	t_ok(cmr_alloc_errno(ENOTTY) == EOPNOTSUPP,
	     "ENOTTY (no ioctl interface) -> EOPNOTSUPP");
	t_ok(cmr_alloc_errno(EOPNOTSUPP) == EOPNOTSUPP, "EOPNOTSUPP kept");
	t_ok(cmr_alloc_errno(ENOMEM) == ENOMEM && cmr_alloc_errno(EINVAL) ==
							   EINVAL &&
		     cmr_alloc_errno(ENOENT) == ENOENT,
	     "ENOMEM, EINVAL, ENOENT passed on");
}

int main(void)
{
	test_layout();
	test_alloc_full();
	test_alloc_optional();
	test_destroy_probe();
	test_errno_map();
	return t_done();
}
