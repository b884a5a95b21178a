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
	/* Outside the upstream sequence, at the top of the core key space. */
	t_ok(UVERBS_OBJECT_CONTIG_BUF == 19 &&
		     (int)UVERBS_OBJECT_CONTIG_BUF > (int)UVERBS_OBJECT_ASYNC_EVENT,
	     "CONTIG_BUF is object 19, above every upstream object (%d)",
	     UVERBS_OBJECT_ASYNC_EVENT);
	t_ok(UVERBS_METHOD_CONTIG_BUF_ALLOC == 0 &&
		     UVERBS_METHOD_CONTIG_BUF_FREE == 1,
	     "methods ALLOC 0, FREE 1");
	t_ok(UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE == 0 &&
		     UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH == 1 &&
		     UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE == 2 &&
		     UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS == 3 &&
		     UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD == 4 &&
		     UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH == 5 &&
		     UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_ALIGNMENT == 6 &&
		     UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_NUMA_NODE == 7 &&
		     UVERBS_ATTR_ALLOC_CONTIG_BUF_MIN_EXTENT == 8 &&
		     UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_EXTENT_SIZE == 9,
	     "ALLOC attribute ids 0..9 in the contract's order");
	t_ok(UVERBS_ATTR_FREE_CONTIG_BUF_HANDLE == 0, "FREE handle is id 0");
	t_ok(IB_UVERBS_CONTIG_BUF_NODE_STRICT == 1, "NODE_STRICT is bit 0");
}

/* The attributes every ALLOC carries after the optional inputs. */
static void check_outputs(const struct cmr_ioctl_cmd *cmd, unsigned int p,
			  const struct cmr_buf_alloc_out *out)
{
	check_attr(cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD, 4,
		   (uintptr_t)&out->fd, "RESP_FD (s32) -> out.fd");
	check_attr(cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH, 8,
		   (uintptr_t)&out->length, "RESP_LENGTH (u64) -> out.length");
	check_attr(cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_ALIGNMENT, 8,
		   (uintptr_t)&out->alignment,
		   "RESP_ALIGNMENT (u64) -> out.alignment");
	check_attr(cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_NUMA_NODE, 4,
		   (uintptr_t)&out->numa_node,
		   "RESP_NUMA_NODE (u32) -> out.numa_node");
	check_attr(cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_EXTENT_SIZE, 8,
		   (uintptr_t)&out->extent_size,
		   "RESP_EXTENT_SIZE (u64) -> out.extent_size");
	t_ok(p == cmd->hdr.num_attrs, "nothing after RESP_EXTENT_SIZE");
}

static void test_alloc_full(void)
{
	struct cmr_buf_alloc_in in = {
		.length = 0x123456789ull,
		.numa_node = 1,
		.flags = IB_UVERBS_CONTIG_BUF_NODE_STRICT,
		.min_extent = 1ull << 30,
	};
	struct cmr_buf_alloc_out out;
	struct cmr_ioctl_cmd cmd;
	unsigned int p = 0;

	memset(&cmd, 0xa5, sizeof(cmd));
	memset(&out, 0xa5, sizeof(out));
	cmr_encode_buf_alloc(&cmd, RDMA_DRIVER_RXE, &in, &out);

	t_ok(cmd.hdr.object_id == UVERBS_OBJECT_CONTIG_BUF &&
		     cmd.hdr.method_id == UVERBS_METHOD_CONTIG_BUF_ALLOC,
	     "header: object CONTIG_BUF, method ALLOC");
	t_ok(cmd.hdr.num_attrs == 10, "header: 10 attributes (got %u)",
	     cmd.hdr.num_attrs);
	t_ok(cmd.hdr.length == HDR_LEN + 10 * ATTR_LEN,
	     "header: length %u covers header and attributes", cmd.hdr.length);
	t_ok(cmd.hdr.driver_id == RDMA_DRIVER_RXE, "header: driver id");
	t_ok(cmd.hdr.reserved1 == 0 && cmd.hdr.reserved2 == 0,
	     "header: reserved fields zero");
	t_ok(out.handle == 0 && out.length == 0 && out.alignment == 0,
	     "outputs cleared before the call");
	t_ok(out.fd == -1 && out.numa_node == CMR_RESP_NODE_NONE,
	     "fd -1 and numa_node NONE until the kernel writes them");

	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE, 0, 0,
		   "HANDLE (IDR NEW)");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH, 8,
		   0x123456789ull, "LENGTH (inline u64)");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE, 4, 1,
		   "NUMA_NODE (inline u32)");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS, 4,
		   IB_UVERBS_CONTIG_BUF_NODE_STRICT, "FLAGS (inline u32)");
	check_attr(&cmd, p++, UVERBS_ATTR_ALLOC_CONTIG_BUF_MIN_EXTENT, 8,
		   1ull << 30, "MIN_EXTENT (inline u64)");
	check_outputs(&cmd, p, &out);

	/* What the kernel does on success: the new handle into data. */
	cmd.attrs[0].data = 42;
	cmr_decode_buf_alloc(&cmd, &out);
	t_ok(out.handle == 42, "decode: handle read back from HANDLE's data");
}

static void test_alloc_optional(void)
{
	struct cmr_buf_alloc_in in = {
		.length = 4096, .numa_node = -1, .flags = 0,
	};
	struct cmr_buf_alloc_out out;
	struct cmr_ioctl_cmd cmd;

	cmr_encode_buf_alloc(&cmd, 5, &in, &out);
	t_ok(cmd.hdr.num_attrs == 7 &&
		     cmd.hdr.length == HDR_LEN + 7 * ATTR_LEN,
	     "no node, no flags, no minimum extent: 7 attributes");
	t_ok(!find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_MIN_EXTENT),
	     "min_extent 0: MIN_EXTENT left out (one range only)");
	t_ok(!find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE),
	     "numa_node -1: NUMA_NODE left out (kernel picks)");
	t_ok(!find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS),
	     "flags 0: FLAGS left out");
	check_attr(&cmd, 0, UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE, 0, 0,
		   "HANDLE first");
	check_attr(&cmd, 1, UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH, 8, 4096,
		   "LENGTH second");
	check_outputs(&cmd, 2, &out);

	in.numa_node = -2;
	cmr_encode_buf_alloc(&cmd, 5, &in, &out);
	t_ok(!find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE),
	     "any negative numa_node is left out");
	in.numa_node = 0;
	in.flags = IB_UVERBS_CONTIG_BUF_NODE_STRICT;
	cmr_encode_buf_alloc(&cmd, 5, &in, &out);
	t_ok(find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE) &&
		     find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE)->data == 0,
	     "numa_node 0 is sent as 0");
	in.numa_node = -1;
	cmr_encode_buf_alloc(&cmd, 5, &in, &out);
	t_ok(cmd.hdr.num_attrs == 8 &&
		     !find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE) &&
		     find(&cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS),
	     "NODE_STRICT without a node: FLAGS only (the kernel's node)");
}

static void test_free_probe(void)
{
	struct cmr_ioctl_cmd cmd;

	memset(&cmd, 0xa5, sizeof(cmd));
	cmr_encode_buf_free(&cmd, RDMA_DRIVER_RXE, 99);
	t_ok(cmd.hdr.object_id == UVERBS_OBJECT_CONTIG_BUF &&
		     cmd.hdr.method_id == UVERBS_METHOD_CONTIG_BUF_FREE &&
		     cmd.hdr.num_attrs == 1 &&
		     cmd.hdr.length == HDR_LEN + ATTR_LEN &&
		     cmd.hdr.driver_id == RDMA_DRIVER_RXE &&
		     !cmd.hdr.reserved1 && !cmd.hdr.reserved2,
	     "free: header (object CONTIG_BUF, method FREE, one attribute)");
	check_attr(&cmd, 0, UVERBS_ATTR_FREE_CONTIG_BUF_HANDLE, 0, 99,
		   "FREE_CONTIG_BUF_HANDLE (IDR DESTROY)");

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
	t_ok(cmr_alloc_errno(ENOSYS) == EOPNOTSUPP, "ENOSYS -> EOPNOTSUPP");
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
	test_free_probe();
	test_errno_map();
	return t_done();
}
