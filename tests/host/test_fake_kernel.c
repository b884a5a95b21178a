// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * host_fake_kernel: the kernel back end of the library and the common
 * registration code against a simulated uverbs ioctl interface and a
 * simulated provider, without a device.
 *
 * The test links the static copy of the library and defines ioctl(),
 * ibv_get_device_index(), ibv_reg_mr_iova2() and ibv_dereg_mr() itself,
 * so the library's calls land here:
 *   - a small model of the kernel checks every command like
 *     ib_uverbs_ioctl() does (length, reserved fields, driver id), answers
 *     the driver-id probe, "allocates" a CONTIG_BUF object as a memfd of
 *     the page-rounded size (which the library maps MAP_SHARED like the
 *     real descriptor), writes the outputs through the user pointers and
 *     the new handle into the attribute, and frees objects;
 *   - a model of the provider registers MRs from a small static table
 *     (a freed slot is reused first, so a new MR gets the address of the
 *     last one deregistered, as malloc() would do) and checks that the
 *     range it registers is mapped.
 * Errors are injected per call. What is checked: the attributes sent for
 * each kind of request, buffers and MRs and their queries, errno mapping,
 * that nothing leaks on any path (descriptor closed, mapping gone, FREE
 * sent), the one-call MR and the misuse of ibv_dereg_mr() on it, and
 * concurrent use. Run under valgrind as host_valgrind_fake_kernel.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "cmr_test.h"
#include "uverbs_cmd.h"

#define FAKE_DRIVER_ID RDMA_DRIVER_RXE
#define FAKE_ALIGN (64u << 10)
#define FAKE_NODE 1
#define FAKE_MEMFD "fake_contig_buf"
#define MAX_OBJS 64
#define MAX_MRS 64

enum fake_mode {
	FAKE_OK,
	FAKE_OLD_KERNEL,	/* no such object: EPROTONOSUPPORT */
	FAKE_ENOMEM,
	FAKE_EINVAL,
	FAKE_NO_NODE,		/* RESP_NUMA_NODE not written */
	/* Succeed with an answer the library must refuse (EPROTO): */
	FAKE_BAD_FD,		/* fd -1 */
	FAKE_SHORT,		/* length below the request */
	FAKE_ODD_LENGTH,	/* length not a page multiple */
	FAKE_BAD_ALIGN,		/* alignment not a power of two */
	FAKE_BAD_EXTENT,	/* extent neither the length nor a power of 2 */
	/* Succeed with a descriptor that cannot be mapped: */
	FAKE_UNMAPPABLE,
};

struct fake_obj {
	bool live;
	uint32_t handle;
};

static struct {
	pthread_mutex_t lock;
	int cmd_fd;
	enum fake_mode mode;
	int free_err;
	unsigned int wrong_ids, unknown, allocs, frees, bad_headers;
	uint32_t next_handle;
	int last_fd;			/* the fd of the last ALLOC answered */
	uint32_t last_freed;		/* the handle of the last FREE */
	struct fake_obj objs[MAX_OBJS];
	struct cmr_ioctl_cmd last;	/* the last ALLOC seen */

	/* the provider */
	struct ibv_mr mrs[MAX_MRS];
	bool mr_live[MAX_MRS];
	int reg_err, dereg_err;
	bool reuse_mr_handle;		/* a new MR gets its slot's old handle */
	uint32_t next_mr_handle;
	unsigned int regs, deregs;
	struct {
		struct ibv_pd *pd;
		void *addr;
		size_t length;
		uint64_t iova;
		unsigned int access;
	} last_reg;
} fk = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cmd_fd = -1,
	.next_handle = 100,
	.last_fd = -1,
	.next_mr_handle = 500,
};

/* ---- the model of the kernel -------------------------------------------- */

static struct ib_uverbs_attr *attr_of(struct ib_uverbs_ioctl_hdr *hdr,
				      uint16_t id)
{
	unsigned int i;

	for (i = 0; i < hdr->num_attrs; i++)
		if (hdr->attrs[i].attr_id == id)
			return &hdr->attrs[i];
	return NULL;
}

static int out_u64(struct ib_uverbs_attr *a, uint64_t v)
{
	if (!a || a->len != 8)
		return EINVAL;
	memcpy((void *)(uintptr_t)a->data, &v, 8);
	a->flags |= UVERBS_ATTR_F_VALID_OUTPUT;
	return 0;
}

static int out_u32(struct ib_uverbs_attr *a, uint32_t v)
{
	if (!a || a->len != 4)
		return EINVAL;
	memcpy((void *)(uintptr_t)a->data, &v, 4);
	a->flags |= UVERBS_ATTR_F_VALID_OUTPUT;
	return 0;
}

static uint64_t pow2_ceil(uint64_t v)
{
	uint64_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

/* A descriptor for the buffer: a memfd the size of the buffer. */
static int make_fd(size_t len)
{
	int fd;

	/* /dev/null has no mmap(): ENODEV. */
	if (fk.mode == FAKE_UNMAPPABLE)
		return open("/dev/null", O_RDWR | O_CLOEXEC);
	fd = memfd_create(FAKE_MEMFD, MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int fake_alloc(struct ib_uverbs_ioctl_hdr *hdr)
{
	struct ib_uverbs_attr *h, *len_a;
	struct fake_obj *obj = NULL;
	uint64_t len, maplen, align, extent;
	unsigned int i;
	int fd, ret = 0;

	memcpy(&fk.last, hdr, hdr->length);
	fk.allocs++;
	switch (fk.mode) {
	case FAKE_OLD_KERNEL:
		return EPROTONOSUPPORT;
	case FAKE_ENOMEM:
		return ENOMEM;
	case FAKE_EINVAL:
		return EINVAL;
	default:
		break;
	}

	h = attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE);
	len_a = attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH);
	if (!h || h->len != 0 || !len_a || len_a->len != 8 || !len_a->data)
		return EINVAL;
	len = len_a->data;
	maplen = (len + 4095) & ~(uint64_t)4095;
	align = pow2_ceil(maplen);
	if (align > FAKE_ALIGN)
		align = FAKE_ALIGN;
	extent = maplen;

	for (i = 0; i < MAX_OBJS && !obj; i++)
		if (!fk.objs[i].live)
			obj = &fk.objs[i];
	if (!obj)
		return ENOMEM;
	fd = make_fd(maplen);
	if (fd < 0)
		return ENOMEM;
	obj->live = true;
	obj->handle = fk.next_handle++;
	fk.last_fd = fd;

	switch (fk.mode) {
	case FAKE_BAD_FD:
		/* The kernel "loses" the descriptor: we close it. */
		close(fd);
		fk.last_fd = -1;
		fd = -1;
		break;
	case FAKE_SHORT:
		maplen = len > 4096 ? maplen - 4096 : 0;
		break;
	case FAKE_ODD_LENGTH:
		maplen += 100;
		break;
	case FAKE_BAD_ALIGN:
		align = 3 * 4096;
		break;
	case FAKE_BAD_EXTENT:
		extent = maplen > 3 * 4096 ? 3 * 4096 : 0;
		break;
	default:
		break;
	}

	h->data = obj->handle;
	ret |= out_u32(attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD),
		       (uint32_t)fd);
	ret |= out_u64(attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH),
		       maplen);
	ret |= out_u64(attr_of(hdr,
			       UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_ALIGNMENT),
		       align);
	ret |= out_u64(attr_of(hdr,
			       UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_EXTENT_SIZE),
		       extent);
	if (fk.mode != FAKE_NO_NODE)
		ret |= out_u32(attr_of(hdr,
				       UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_NUMA_NODE),
			       FAKE_NODE);
	if (ret) {
		/* A malformed command: nothing is left behind. */
		obj->live = false;
		if (fd >= 0)
			close(fd);
		return EINVAL;
	}
	return 0;
}

static int fake_free(struct ib_uverbs_ioctl_hdr *hdr)
{
	struct ib_uverbs_attr *h =
		attr_of(hdr, UVERBS_ATTR_FREE_CONTIG_BUF_HANDLE);
	unsigned int i;

	if (!h || hdr->num_attrs != 1 || h->len != 0)
		return EINVAL;
	if (fk.free_err && fk.free_err != EIO)
		return fk.free_err;
	for (i = 0; i < MAX_OBJS; i++) {
		if (fk.objs[i].live && fk.objs[i].handle == h->data) {
			fk.objs[i].live = false;
			fk.frees++;
			fk.last_freed = (uint32_t)h->data;
			/* EIO: the device went away; the object with it. */
			return fk.free_err;
		}
	}
	return ENOENT;
}

static int fake_uverbs(struct ib_uverbs_ioctl_hdr *hdr)
{
	if (hdr->length != sizeof(*hdr) + hdr->num_attrs *
						   sizeof(struct ib_uverbs_attr) ||
	    hdr->length > 4096) {
		fk.bad_headers++;
		return EINVAL;
	}
	if (hdr->reserved1 || hdr->reserved2) {
		fk.bad_headers++;
		return EPROTONOSUPPORT;
	}
	if (hdr->driver_id != FAKE_DRIVER_ID) {
		fk.wrong_ids++;
		return EINVAL;
	}
	if (hdr->object_id == UVERBS_OBJECT_CONTIG_BUF &&
	    hdr->method_id == UVERBS_METHOD_CONTIG_BUF_ALLOC)
		return fake_alloc(hdr);
	if (hdr->object_id == UVERBS_OBJECT_CONTIG_BUF &&
	    hdr->method_id == UVERBS_METHOD_CONTIG_BUF_FREE)
		return fk.mode == FAKE_OLD_KERNEL ? EPROTONOSUPPORT :
						    fake_free(hdr);
	fk.unknown++;
	return EPROTONOSUPPORT;
}

/* Interposed: the library's ioctl() calls come here. */
int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != fk.cmd_fd || fk.cmd_fd < 0 || request != RDMA_VERBS_IOCTL)
		return syscall(SYS_ioctl, fd, request, arg);

	pthread_mutex_lock(&fk.lock);
	ret = fake_uverbs(arg);
	pthread_mutex_unlock(&fk.lock);
	if (ret) {
		errno = ret;
		return -1;
	}
	return 0;
}

/* Interposed: no kernel index, so the library probes for the driver id. */
int ibv_get_device_index(struct ibv_device *device)
{
	(void)device;
	return -1;
}

/* ---- the model of the provider ------------------------------------------ */

/* Interposed: the library registers through here. */
struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr, size_t length,
				uint64_t iova, unsigned int access)
{
	struct ibv_mr *mr = NULL;
	unsigned int i;
	int err = 0;

	pthread_mutex_lock(&fk.lock);
	fk.regs++;
	fk.last_reg.pd = pd;
	fk.last_reg.addr = addr;
	fk.last_reg.length = length;
	fk.last_reg.iova = iova;
	fk.last_reg.access = access;
	if (fk.reg_err)
		err = fk.reg_err;
	else if (!t_is_mapped(addr, length))
		err = EFAULT;	/* what pinning an unmapped range gives */
	for (i = 0; !err && i < MAX_MRS && !mr; i++) {
		if (fk.mr_live[i])
			continue;
		mr = &fk.mrs[i];
		fk.mr_live[i] = true;
		if (!fk.reuse_mr_handle || !mr->handle)
			mr->handle = fk.next_mr_handle++;
		mr->context = pd->context;
		mr->pd = pd;
		mr->addr = addr;
		mr->length = length;
		mr->lkey = mr->handle << 8 | 1;
		mr->rkey = mr->handle << 8 | 2;
	}
	if (!err && !mr)
		err = ENOMEM;
	pthread_mutex_unlock(&fk.lock);
	if (err)
		errno = err;
	return mr;
}

int ibv_dereg_mr(struct ibv_mr *mr)
{
	long i = mr - fk.mrs;
	int ret = 0;

	pthread_mutex_lock(&fk.lock);
	if (i < 0 || i >= MAX_MRS || !fk.mr_live[i])
		ret = EINVAL;
	else if (fk.dereg_err)
		ret = fk.dereg_err;
	else {
		fk.mr_live[i] = false;
		fk.deregs++;
	}
	pthread_mutex_unlock(&fk.lock);
	return ret;
}

/* ---- bookkeeping -------------------------------------------------------- */

static unsigned int live_objs(void)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&fk.lock);
	for (i = 0; i < MAX_OBJS; i++)
		n += fk.objs[i].live;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

static unsigned int live_mrs(void)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&fk.lock);
	for (i = 0; i < MAX_MRS; i++)
		n += fk.mr_live[i];
	pthread_mutex_unlock(&fk.lock);
	return n;
}

/*
 * The mappings of fake buffers in /proc/self/maps: how many, and whether
 * the one at addr (if any) is shared.
 */
static unsigned int fake_mappings(const void *addr, bool *shared)
{
	char line[512], perms[8];
	unsigned long lo, hi;
	unsigned int n = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		t_bail("/proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "memfd:" FAKE_MEMFD))
			continue;
		n++;
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 &&
		    shared && (uintptr_t)addr == lo)
			*shared = perms[3] == 's';
	}
	fclose(f);
	return n;
}

static bool fd_closed(int fd)
{
	return fd >= 0 && fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

/* Nothing of any buffer left: no object, no mapping, no MR. */
static void check_nothing_left(const char *what)
{
	t_ok(live_objs() == 0 && fake_mappings(NULL, NULL) == 0 &&
		     live_mrs() == 0,
	     "%s: no object, no mapping, no MR left (%u, %u, %u)", what,
	     live_objs(), fake_mappings(NULL, NULL), live_mrs());
}

/* ---- a context and PD that lead to the model ---------------------------- */

static char sysfs_dir[] = "/tmp/cmr-fake-XXXXXX";
static char dev_storage[4096] __attribute__((aligned(64)));
static struct ibv_context fake_ctx, other_ctx;
static struct ibv_pd fake_pd, fake_pd2, other_pd;

static void set_sysfs_node(const char *value)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/device/numa_node", sysfs_dir);
	if (t_write_file(path, "%s", value))
		t_bail("write %s: %s", path, strerror(errno));
}

static void setup(void)
{
	struct ibv_device *dev = (struct ibv_device *)dev_storage;
	char path[256];
	int fd;

	if (!mkdtemp(sysfs_dir))
		t_bail("mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/device", sysfs_dir);
	if (mkdir(path, 0700))
		t_bail("mkdir: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/device/numa_node", sysfs_dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		t_bail("create %s: %s", path, strerror(errno));
	close(fd);

	strcpy(dev->name, "fake0");
	snprintf(dev->ibdev_path, sizeof(dev->ibdev_path), "%s", sysfs_dir);
	fk.cmd_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fk.cmd_fd < 0)
		t_bail("open /dev/null: %s", strerror(errno));
	fake_ctx.device = dev;
	fake_ctx.cmd_fd = fk.cmd_fd;
	fake_ctx.async_fd = -1;
	fake_pd.context = &fake_ctx;
	fake_pd.handle = 17;
	fake_pd2.context = &fake_ctx;
	fake_pd2.handle = 18;
	other_ctx = fake_ctx;
	other_pd.context = &other_ctx;
	other_pd.handle = 19;
}

static void teardown(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/device/numa_node", sysfs_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/device", sysfs_dir);
	rmdir(path);
	rmdir(sysfs_dir);
	close(fk.cmd_fd);
}

static const struct ib_uverbs_attr *last_attr(uint16_t id)
{
	unsigned int i;

	for (i = 0; i < fk.last.hdr.num_attrs; i++)
		if (fk.last.attrs[i].attr_id == id)
			return &fk.last.attrs[i];
	return NULL;
}

/* ---- tests -------------------------------------------------------------- */

static void test_buf(void)
{
	const unsigned int access = IBV_ACCESS_LOCAL_WRITE |
				    IBV_ACCESS_REMOTE_READ;
	struct ibv_contig_mr_info info;
	struct ibv_contig_buf *buf = NULL;
	unsigned char raw[sizeof(info) + 16];
	struct ibv_mr *mr, *mr2;
	bool shared = false;
	uint32_t handle;
	char *base;
	int ret, fd;

	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	set_sysfs_node("3\n");
	fk.mode = FAKE_OK;
	fk.wrong_ids = fk.unknown = 0;
	ret = ibv_alloc_contig_buf(&fake_pd, 5000, NULL, &buf);
	if (!t_ok(ret == 0 && buf, "alloc_buf 5000 bytes: %s", strerror(ret)))
		return;
	fd = fk.last_fd;
	handle = fk.next_handle - 1;
	t_ok(fk.wrong_ids == FAKE_DRIVER_ID && fk.unknown == 1,
	     "driver id found by probing (ids 0..%u refused, %u answered)",
	     fk.wrong_ids - 1, fk.wrong_ids);
	t_ok(fk.last.hdr.driver_id == FAKE_DRIVER_ID &&
		     fk.last.hdr.object_id == UVERBS_OBJECT_CONTIG_BUF,
	     "the command carries the driver id, object CONTIG_BUF");
	t_ok(last_attr(UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH) &&
		     last_attr(UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH)->data ==
			     5000,
	     "LENGTH is the length asked for");
	t_ok(!last_attr(UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE),
	     "no NUMA_NODE without a node from the caller (device node 3 is "
	     "the kernel's business)");
	t_ok(!last_attr(UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS),
	     "no FLAGS when not strict");
	t_ok(fk.regs == 0, "a buffer registers nothing");

	t_ok(buf->context == &fake_ctx, "buf->context is the PD's context");
	t_ok(buf->addr && !((uintptr_t)buf->addr % 4096) &&
		     buf->length == 8192,
	     "buf->addr page aligned, buf->length 8192 (rounded to pages)");
	t_ok(fake_mappings(buf->addr, &shared) == 1 && shared,
	     "one mapping of the descriptor, MAP_SHARED");
	t_ok(fd_closed(fd), "the descriptor (%d) was closed after mmap()", fd);
	t_ok(t_check_zero(buf->addr, 8192) == -1, "memory reads as zeroes");
	memset(buf->addr, 0x5a, 8192);

	memset(&info, 0xff, sizeof(info));
	info.comp_mask = 0;
	t_ok(ibv_query_contig_buf(buf, &info) == 0 &&
		     info.backend == IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG &&
		     info.length == 8192 && info.contig_extent == 8192 &&
		     info.alignment == 8192 && info.device_page_size == 0 &&
		     info.map_entries == 0 && info.comp_mask == 0 &&
		     info.numa_node == FAKE_NODE && info.reserved == 0,
	     "query_buf: kernel back end, 8192 mapped and contiguous, aligned "
	     "8192, node %d", FAKE_NODE);
	info.comp_mask = IBV_CONTIG_MR_INFO_NUMA_NODE |
			 IBV_CONTIG_MR_INFO_DEVICE_PAGES;
	t_ok(ibv_query_contig_buf(buf, &info) == 0 &&
		     info.comp_mask == IBV_CONTIG_MR_INFO_NUMA_NODE &&
		     info.numa_node == FAKE_NODE,
	     "query_buf: NUMA_NODE valid, DEVICE_PAGES not (no MR)");

	/* An older caller: V1 size, nothing written past it. */
	memset(raw, 0xee, sizeof(raw));
	memset(raw, 0, sizeof(uint32_t));	/* comp_mask 0 */
	ret = _ibv_query_contig_buf(buf, (struct ibv_contig_mr_info *)raw,
				    IBV_CONTIG_MR_INFO_SIZE_V1);
	memcpy(&info, raw, sizeof(info));
	t_ok(ret == 0 && info.length == 8192 && raw[48] == 0xee &&
		     raw[sizeof(raw) - 1] == 0xee,
	     "query_buf with info_size V1 (48): filled, byte 48 on untouched");
	info.comp_mask = IBV_CONTIG_MR_INFO_NUMA_NODE;
	memset(raw, 0xee, sizeof(raw));
	memcpy(raw, &info.comp_mask, sizeof(uint32_t));
	ret = _ibv_query_contig_buf(buf, (struct ibv_contig_mr_info *)raw,
				    IBV_CONTIG_MR_INFO_SIZE_V1);
	memcpy(&info, raw, sizeof(uint32_t));
	t_ok(ret == 0 && info.comp_mask == 0,
	     "V1 size: NUMA_NODE asked for but not in the caller's struct: "
	     "bit clear");
	memset(raw, 0xee, sizeof(raw));
	memset(raw, 0, sizeof(uint32_t));
	ret = _ibv_query_contig_buf(buf, (struct ibv_contig_mr_info *)raw,
				    sizeof(raw));
	t_ok(ret == 0 && raw[sizeof(info)] == 0xee &&
		     raw[sizeof(raw) - 1] == 0xee,
	     "a larger info_size: only sizeof(struct) (%zu) written",
	     sizeof(info));
	info.comp_mask = 1u << 5;
	t_ok(ibv_query_contig_buf(buf, &info) == EINVAL,
	     "query_buf with an unknown comp_mask bit: EINVAL");

	/* MRs over it: any PD of the context, any sub-range. */
	base = buf->addr;
	mr = ibv_reg_contig_buf_mr(&fake_pd2, buf, base + 4096, 100, access);
	t_ok(mr && fk.last_reg.pd == &fake_pd2 &&
		     fk.last_reg.addr == base + 4096 &&
		     fk.last_reg.length == 100 &&
		     fk.last_reg.iova == (uintptr_t)(base + 4096) &&
		     fk.last_reg.access == access,
	     "reg_buf_mr(another PD, 100 bytes at 4096): ibv_reg_mr_iova2 "
	     "with iova = addr and the access asked for");
	mr2 = ibv_reg_contig_buf_mr(&fake_pd, buf, base, 8192,
				    IBV_ACCESS_LOCAL_WRITE |
					    IBV_ACCESS_RELAXED_ORDERING);
	t_ok(mr2 && mr2 != mr && fk.last_reg.length == 8192 &&
		     fk.last_reg.access ==
			     (IBV_ACCESS_LOCAL_WRITE |
			      IBV_ACCESS_RELAXED_ORDERING),
	     "a second MR over all of it, optional access flags passed on");
	errno = 0;
	t_ok(!ibv_reg_contig_buf_mr(&fake_pd, buf, base + 4096, 4097, access) &&
		     errno == EINVAL,
	     "reg_buf_mr past the end: EINVAL");
	errno = 0;
	t_ok(!ibv_reg_contig_buf_mr(&other_pd, buf, base, 4096, access) &&
		     errno == EINVAL,
	     "reg_buf_mr on a PD of another context: EINVAL");
	fk.reg_err = ENOSPC;
	errno = 0;
	t_ok(!ibv_reg_contig_buf_mr(&fake_pd, buf, base, 4096, access) &&
		     errno == ENOSPC,
	     "the provider's error is passed on (ENOSPC)");
	fk.reg_err = 0;

	if (mr) {
		info.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES |
				 IBV_CONTIG_MR_INFO_NUMA_NODE;
		errno = 1234;
		ret = ibv_query_contig_mr(mr, &info);
		t_ok(ret == 0 && info.length == 8192 &&
			     info.backend ==
				     IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG &&
			     info.comp_mask == IBV_CONTIG_MR_INFO_NUMA_NODE &&
			     info.device_page_size == 0,
		     "query_mr on an MR of a sub-range: the buffer's fields; "
		     "device pages unknown without a device");
		t_ok(errno == 1234, "query keeps errno");
		errno = 0;
		t_ok(ibv_free_contig_mr(mr) == EINVAL && live_mrs() == 2,
		     "free_contig_mr on it: EINVAL, nothing released");
		t_ok(!ibv_contig_mr_buf(mr) && errno == EINVAL,
		     "contig_mr_buf on it: NULL, EINVAL");
		t_ok(ibv_dereg_mr(mr) == 0, "ibv_dereg_mr on it");
	}

	/* Freeing the buffer leaves its MRs to their owner. */
	ret = ibv_free_contig_buf(buf);
	t_ok(ret == 0 && fk.last_freed == handle && live_objs() == 0,
	     "free_buf: 0, CONTIG_BUF_FREE of handle %u sent", handle);
	t_ok(fake_mappings(NULL, NULL) == 0 && !t_is_mapped(base, 8192),
	     "free_buf: unmapped");
	t_ok(ibv_free_contig_buf(buf) == EINVAL,
	     "free_buf again: EINVAL (not a live buffer)");
	if (mr2) {
		t_ok(ibv_query_contig_mr(mr2, &info) == EINVAL,
		     "query_mr on an MR whose buffer is gone: EINVAL");
		t_ok(ibv_dereg_mr(mr2) == 0 && live_mrs() == 0,
		     "the MR outlives the buffer until ibv_dereg_mr()");
	}
	check_nothing_left("buffer");
}

static void test_attrs(void)
{
	struct ibv_alloc_contig_mr_attr attr = { 0 };
	struct ibv_contig_mr_info info;
	const struct ib_uverbs_attr *a;
	struct ibv_contig_buf *buf;
	struct ibv_mr *mr;
	int ret;

	fk.mode = FAKE_OK;
	attr.comp_mask = IBV_CONTIG_MR_ATTR_NUMA_NODE;
	attr.numa_node = -1;
	ret = ibv_alloc_contig_buf(&fake_pd, 4096, &attr, &buf);
	t_ok(!ret && !last_attr(UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE),
	     "numa_node -1: NUMA_NODE not sent");
	if (!ret)
		ibv_free_contig_buf(buf);

	attr.comp_mask = IBV_CONTIG_MR_ATTR_NUMA_NODE | IBV_CONTIG_MR_ATTR_FLAGS;
	attr.numa_node = 0;
	attr.flags = IBV_CONTIG_MR_NODE_STRICT;
	ret = ibv_alloc_contig_buf(&fake_pd, 4096, &attr, &buf);
	a = last_attr(UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS);
	t_ok(!ret && a && a->data == IB_UVERBS_CONTIG_BUF_NODE_STRICT &&
		     last_attr(UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE) &&
		     last_attr(UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE)->data == 0,
	     "node 0 strict: NUMA_NODE 0 and FLAGS NODE_STRICT sent");
	if (!ret)
		ibv_free_contig_buf(buf);

	/* Strict without a node: strict on the node the kernel picks. */
	set_sysfs_node("3\n");
	attr.comp_mask = IBV_CONTIG_MR_ATTR_FLAGS;
	mr = ibv_alloc_contig_mr_ex(&fake_pd, 4096, 0, &attr);
	t_ok(mr && !last_attr(UVERBS_ATTR_ALLOC_CONTIG_BUF_NUMA_NODE) &&
		     last_attr(UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS),
	     "strict without a node: FLAGS only, the kernel chooses the node");
	if (mr)
		ibv_free_contig_mr(mr);
	set_sysfs_node("0\n");

	/* A kernel that does not say where the memory is. */
	fk.mode = FAKE_NO_NODE;
	ret = ibv_alloc_contig_buf(&fake_pd, 4096, NULL, &buf);
	if (t_ok(!ret, "a kernel answer without RESP_NUMA_NODE is fine")) {
		info.comp_mask = IBV_CONTIG_MR_INFO_NUMA_NODE;
		t_ok(!ibv_query_contig_buf(buf, &info) && info.comp_mask == 0 &&
			     info.numa_node == -1,
		     "... numa_node -1, NUMA_NODE bit clear");
		ibv_free_contig_buf(buf);
	}
	fk.mode = FAKE_OK;
	check_nothing_left("attributes");
}

static void test_one_call(void)
{
	const unsigned int access = IBV_ACCESS_LOCAL_WRITE |
				    IBV_ACCESS_REMOTE_READ;
	struct ibv_contig_mr_info info;
	struct ibv_contig_buf *buf;
	struct ibv_mr *mr, *mr2;
	unsigned int allocs, frees;
	uint32_t handle;
	void *addr;

	fk.mode = FAKE_OK;
	mr = ibv_alloc_contig_mr(&fake_pd, 5000, access);
	if (!t_ok(mr != NULL, "alloc_contig_mr 5000 bytes: %s",
		  mr ? "ok" : strerror(errno)))
		return;
	t_ok(mr >= fk.mrs && mr < fk.mrs + MAX_MRS,
	     "the MR is the provider's own");
	t_ok(fk.last_reg.pd == &fake_pd && fk.last_reg.addr == mr->addr &&
		     fk.last_reg.length == 5000 &&
		     fk.last_reg.iova == (uintptr_t)mr->addr &&
		     fk.last_reg.access == access,
	     "registered: the buffer's address, 5000 bytes, iova = addr, "
	     "the access asked for");
	t_ok(mr->pd == &fake_pd && mr->context == &fake_ctx &&
		     mr->length == 5000,
	     "mr->pd, mr->context, mr->length 5000");
	buf = ibv_contig_mr_buf(mr);
	t_ok(buf && buf->addr == mr->addr && buf->length == 8192 &&
		     buf->context == &fake_ctx,
	     "contig_mr_buf: the buffer at mr->addr, 8192 mapped");
	info.comp_mask = 0;
	t_ok(!ibv_query_contig_mr(mr, &info) && info.length == 8192 &&
		     info.numa_node == FAKE_NODE,
	     "query_mr: the buffer's fields");

	fk.dereg_err = EBUSY;
	t_ok(ibv_free_contig_mr(mr) == EBUSY,
	     "free_contig_mr when deregistration fails: EBUSY");
	t_ok(live_mrs() == 1 && live_objs() == 1 && t_is_mapped(mr->addr, 8192) &&
		     ibv_contig_mr_buf(mr) == buf,
	     "... MR, object, mapping and association intact");
	fk.dereg_err = 0;
	frees = fk.frees;
	addr = mr->addr;
	t_ok(ibv_free_contig_mr(mr) == 0, "free_contig_mr again: 0");
	t_ok(fk.frees == frees + 1 && !t_is_mapped(addr, 8192),
	     "... deregistered, FREE sent, unmapped");
	check_nothing_left("one-call MR");

	/* Registration failure: the buffer goes again. */
	fk.reg_err = ENOMEM;
	frees = fk.frees;
	errno = 0;
	mr = ibv_alloc_contig_mr(&fake_pd, 4096, access);
	t_errno_is(mr ? 0 : errno, ENOMEM,
		   "alloc_contig_mr when registration fails");
	t_ok(fk.frees == frees + 1, "... the buffer was freed (FREE sent)");
	fk.reg_err = 0;
	check_nothing_left("failed registration");

	/* Access flags are checked before anything is allocated. */
	allocs = fk.allocs;
	errno = 0;
	mr = ibv_alloc_contig_mr(&fake_pd, 4096, IBV_ACCESS_ON_DEMAND);
	t_ok(!mr && errno == EINVAL && fk.allocs == allocs,
	     "alloc_contig_mr(IBV_ACCESS_ON_DEMAND): EINVAL, no ALLOC sent");

	/*
	 * ibv_dereg_mr() on a one-call MR is allowed: the buffer stays until
	 * ibv_free_contig_buf() of a pointer kept before. The provider hands
	 * the freed slot to the next MR, as malloc() may.
	 */
	mr = ibv_alloc_contig_mr(&fake_pd, 8192, access);
	if (!t_ok(mr != NULL, "alloc_contig_mr for the ibv_dereg_mr() case"))
		return;
	buf = ibv_contig_mr_buf(mr);
	addr = mr->addr;
	handle = mr->handle;
	t_ok(ibv_dereg_mr(mr) == 0, "ibv_dereg_mr on the one-call MR: 0");
	t_ok(live_objs() == 1 && t_is_mapped(addr, 8192) &&
		     t_check_zero(addr, 8192) == -1,
	     "... the buffer stays mapped and usable");
	/* A plain registration, behind the library's back. */
	mr2 = ibv_reg_mr_iova2(&fake_pd, addr, 8192, (uintptr_t)addr, access);
	t_ok(mr2 == mr && mr2->addr == addr && mr2->handle != handle,
	     "a plain MR gets the old one's address, another handle");
	t_ok(ibv_free_contig_mr(mr2) == EINVAL && live_mrs() == 1 &&
		     live_objs() == 1,
	     "free_contig_mr on it: EINVAL (the handle differs), nothing "
	     "released");
	errno = 0;
	t_ok(!ibv_contig_mr_buf(mr2) && errno == EINVAL,
	     "contig_mr_buf on it: NULL, EINVAL");
	info.comp_mask = 0;
	t_ok(!ibv_query_contig_mr(mr2, &info) && info.length == 8192,
	     "query_mr on it: it lies inside the buffer");
	ibv_dereg_mr(mr2);
	t_ok(ibv_free_contig_buf(buf) == 0 && !t_is_mapped(addr, 8192),
	     "free_buf of the pointer kept: 0, released");
	check_nothing_left("ibv_dereg_mr(), then a plain MR");

	/* The next MR even gets the old handle (and lkey): only the
	 * library's own registration can tell it is a new MR. */
	mr = ibv_alloc_contig_mr(&fake_pd, 8192, access);
	if (!t_ok(mr != NULL, "alloc_contig_mr again"))
		return;
	buf = ibv_contig_mr_buf(mr);
	addr = mr->addr;
	handle = mr->handle;
	ibv_dereg_mr(mr);
	fk.reuse_mr_handle = true;
	mr2 = ibv_reg_contig_buf_mr(&fake_pd, buf, addr, 8192, access);
	fk.reuse_mr_handle = false;
	t_ok(mr2 == mr && mr2->handle == handle && mr2->addr == addr,
	     "reg_buf_mr: same address, same handle, same buffer address");
	t_ok(mr2 && ibv_free_contig_mr(mr2) == EINVAL &&
		     !ibv_contig_mr_buf(mr2) && live_mrs() == 1,
	     "... registering it dropped the stale association: EINVAL");
	if (mr2)
		ibv_dereg_mr(mr2);
	t_ok(ibv_free_contig_buf(buf) == 0 && !t_is_mapped(addr, 8192),
	     "free_buf of the pointer kept: 0, released");
	check_nothing_left("ibv_dereg_mr(), then reg_buf_mr");
}

/* A kernel answer the library must refuse: EPROTO, nothing left. */
static void bad_answer(enum fake_mode mode, int want, const char *what)
{
	struct ibv_contig_buf *buf = NULL;
	unsigned int frees = fk.frees;
	int ret, err;

	fk.mode = mode;
	fk.last_fd = -1;
	errno = 0;
	ret = ibv_alloc_contig_buf(&fake_pd, 8192, NULL, &buf);
	err = errno;
	t_ok(ret == want && err == want && !buf,
	     "%s: %s (errno %s)", what, ret ? strerrorname_np(ret) : "0",
	     strerrorname_np(err));
	t_ok(fk.frees == frees + 1 && live_objs() == 0,
	     "... the object was freed again");
	t_ok(fk.last_fd < 0 || fd_closed(fk.last_fd),
	     "... its descriptor was closed");
	t_ok(fake_mappings(NULL, NULL) == 0, "... nothing is mapped");
	fk.mode = FAKE_OK;
}

static void test_errors(void)
{
	struct ibv_alloc_contig_mr_attr attr = {
		.comp_mask = IBV_CONTIG_MR_ATTR_POLICY,
		.policy = IBV_CONTIG_MR_POLICY_ALL,
	};
	long long huge_free = t_meminfo_kb("HugePages_Free");
	struct ibv_contig_buf *buf;
	struct ibv_mr *mr;
	void *addr;
	int ret;

	fk.mode = FAKE_OLD_KERNEL;
	errno = 0;
	mr = ibv_alloc_contig_mr(&fake_pd, 4096, 0);
	t_errno_is(mr ? 0 : errno, EOPNOTSUPP,
		   "kernel without the object (EPROTONOSUPPORT)");
	errno = 0;
	ret = ibv_alloc_contig_buf(&fake_pd, 4096, NULL, &buf);
	t_ok(ret == EOPNOTSUPP && errno == EOPNOTSUPP,
	     "alloc_buf on it: EOPNOTSUPP returned and in errno");

	fk.mode = FAKE_ENOMEM;
	mr = ibv_alloc_contig_mr(&fake_pd, 4096, 0);
	t_errno_is(mr ? 0 : errno, ENOMEM, "kernel out of contiguous memory");

	fk.mode = FAKE_EINVAL;
	mr = ibv_alloc_contig_mr_ex(&fake_pd, 4096, 0, &attr);
	t_errno_is(mr ? 0 : errno, EINVAL,
		   "policy ALL: a kernel EINVAL is final, no fallback");

	/* With no hugetlb pool the fallback of ALL ends in ENOMEM. */
	if (huge_free == 0) {
		fk.mode = FAKE_OLD_KERNEL;
		mr = ibv_alloc_contig_mr_ex(&fake_pd, 4096, 0, &attr);
		t_errno_is(mr ? 0 : errno, ENOMEM,
			   "policy ALL, old kernel, empty hugetlb pool");
		ret = ibv_alloc_contig_buf(&fake_pd, 4096, &attr, &buf);
		t_errno_is(ret, ENOMEM, "alloc_buf, the same");
		attr.policy = IBV_CONTIG_MR_POLICY_HUGE;
		mr = ibv_alloc_contig_mr_ex(&fake_pd, 4096, 0, &attr);
		t_errno_is(mr ? 0 : errno, ENOMEM,
			   "policy HUGE, empty hugetlb pool");
		setenv("IBV_CONTIG_MR_ALLOC_TYPE", "huge", 1);
		mr = ibv_alloc_contig_mr(&fake_pd, 4096, 0);
		t_errno_is(mr ? 0 : errno, ENOMEM,
			   "IBV_CONTIG_MR_ALLOC_TYPE=huge, empty pool");
		unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	} else {
		t_skip("this host has free hugetlb pages: fallback in the VM");
	}
	fk.mode = FAKE_OK;
	check_nothing_left("kernel errors");

	bad_answer(FAKE_BAD_FD, EPROTO, "a kernel answer with fd -1");
	bad_answer(FAKE_SHORT, EPROTO, "an answer shorter than the request");
	bad_answer(FAKE_ODD_LENGTH, EPROTO,
		   "an answer whose length is not whole pages");
	bad_answer(FAKE_BAD_ALIGN, EPROTO,
		   "an answer whose alignment is not a power of two");
	bad_answer(FAKE_BAD_EXTENT, EPROTO,
		   "an answer whose extent is neither the length nor a power of two");
	bad_answer(FAKE_UNMAPPABLE, ENODEV,
		   "a descriptor mmap() refuses (ENODEV passed on)");

	/* FREE refused: the buffer stays whole; EIO counts as gone. */
	setenv("IBV_CONTIG_MR_ALLOC_TYPE", "CONTIG", 1);
	ret = ibv_alloc_contig_buf(&fake_pd, 100000, NULL, &buf);
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	if (t_ok(!ret, "IBV_CONTIG_MR_ALLOC_TYPE=CONTIG allocates")) {
		addr = buf->addr;
		fk.free_err = EBUSY;
		t_ok(ibv_free_contig_buf(buf) == EBUSY,
		     "free_buf when the kernel refuses: EBUSY");
		t_ok(t_is_mapped(addr, 100000) && live_objs() == 1 &&
			     buf->addr == addr,
		     "... the buffer is intact");
		fk.free_err = EIO;
		t_ok(ibv_free_contig_buf(buf) == 0,
		     "free_buf when the device is gone (EIO): 0");
		fk.free_err = 0;
		t_ok(!t_is_mapped(addr, 100000) && live_objs() == 0,
		     "... released");
	}
	check_nothing_left("errors");
}

#define THREADS 4
#define ROUNDS 50

static void *worker(void *arg)
{
	const unsigned int access = IBV_ACCESS_LOCAL_WRITE;
	uintptr_t id = (uintptr_t)arg;
	struct ibv_contig_mr_info info;
	struct ibv_contig_buf *buf;
	unsigned int i;
	long bad = 0;

	for (i = 0; i < ROUNDS; i++) {
		size_t len = 4096 * (1 + (id * 7 + i) % 33);
		struct ibv_mr *mr;

		if ((id + i) % 2) {
			mr = ibv_alloc_contig_mr(&fake_pd, len, access);
			if (!mr) {
				bad++;
				continue;
			}
			if (ibv_contig_mr_buf(mr) == NULL)
				bad++;
		} else {
			if (ibv_alloc_contig_buf(&fake_pd, len, NULL, &buf)) {
				bad++;
				continue;
			}
			mr = ibv_reg_contig_buf_mr(&fake_pd, buf, buf->addr,
						   len, access);
			if (!mr) {
				bad++;
				ibv_free_contig_buf(buf);
				continue;
			}
		}
		info.comp_mask = 0;
		if (ibv_query_contig_mr(mr, &info) || info.length < len)
			bad++;
		if (t_check_zero(mr->addr, len) >= 0)
			bad++;
		t_fill(mr->addr, len, id, 0);
		if (t_check(mr->addr, len, id, 0) >= 0)
			bad++;
		if ((id + i) % 2) {
			if (ibv_free_contig_mr(mr))
				bad++;
		} else if (ibv_dereg_mr(mr) || ibv_free_contig_buf(buf)) {
			bad++;
		}
	}
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t th[THREADS];
	unsigned int allocs = fk.allocs;
	long bad = 0;
	uintptr_t i;

	fk.mode = FAKE_OK;
	for (i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (i = 0; i < THREADS; i++) {
		void *r;

		pthread_join(th[i], &r);
		bad += (long)r;
	}
	t_ok(bad == 0 && fk.allocs - allocs == THREADS * ROUNDS,
	     "%d threads x %d alloc/register/fill/check/free: %ld failures",
	     THREADS, ROUNDS, bad);
	check_nothing_left("threads");
}

int main(void)
{
	setup();
	test_buf();
	test_attrs();
	test_one_call();
	test_errors();
	test_threads();
	t_ok(fk.bad_headers == 0, "every command had a well-formed header");
	teardown();
	return t_done();
}
