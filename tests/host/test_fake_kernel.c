// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * host_fake_kernel: the whole kernel back end of the library against a
 * simulated uverbs ioctl interface, without a device.
 *
 * The test links the static copy of the library and defines ioctl() and
 * ibv_get_device_index() itself, so the library's calls land here: a
 * small model of the kernel checks every command like ib_uverbs_ioctl()
 * does (length, reserved fields, driver id), answers the driver-id probe,
 * "allocates" with an aligned anonymous mapping, writes the outputs through
 * the user pointers and the new handle into the attribute, and destroys.
 * Errors are injected per call. What is checked: the attributes sent for
 * each kind of request, the returned MR and its query, errno mapping, the
 * clean-up on every error path (no MR or mapping left behind), and
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
#define MAX_MRS 64

enum fake_mode {
	FAKE_OK,
	FAKE_OLD_KERNEL,	/* no such method: EPROTONOSUPPORT */
	FAKE_ENOMEM,
	FAKE_EINVAL,
	FAKE_BAD_RESPONSE,	/* succeeds but reports address 0 */
};

struct fake_mr {
	bool live;
	uint32_t handle;
	void *addr;
	size_t len;
};

static struct {
	pthread_mutex_t lock;
	int fd;
	enum fake_mode mode;
	int destroy_err;
	unsigned int wrong_ids, unknown, allocs, destroys, bad_headers;
	uint32_t next_handle;
	struct fake_mr mrs[MAX_MRS];
	struct cmr_ioctl_cmd last;	/* the last ALLOC_CONTIG_MR seen */
} fk = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1, .next_handle = 100 };

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

static int fake_alloc(struct ib_uverbs_ioctl_hdr *hdr)
{
	struct ib_uverbs_attr *h, *len_a;
	size_t len, maplen;
	struct fake_mr *mr = NULL;
	char *p, *aligned;
	unsigned int i;
	int ret = 0;

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

	h = attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_MR_HANDLE);
	len_a = attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_MR_LENGTH);
	if (!h || !len_a || !attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_MR_PD_HANDLE))
		return EINVAL;
	len = len_a->data;
	maplen = (len + 4095) & ~(size_t)4095;

	for (i = 0; i < MAX_MRS && !mr; i++)
		if (!fk.mrs[i].live)
			mr = &fk.mrs[i];
	if (!mr)
		return ENOMEM;

	/* An address aligned like a physically contiguous range would be. */
	p = mmap(NULL, maplen + FAKE_ALIGN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return ENOMEM;
	aligned = (char *)(((uintptr_t)p + FAKE_ALIGN - 1) &
			   ~(uintptr_t)(FAKE_ALIGN - 1));
	if (aligned > p)
		munmap(p, aligned - p);
	munmap(aligned + maplen, (p + maplen + FAKE_ALIGN) - (aligned + maplen));

	mr->live = true;
	mr->handle = fk.next_handle++;
	mr->addr = aligned;
	mr->len = maplen;

	h->data = mr->handle;
	ret |= out_u32(attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_LKEY),
		       mr->handle << 8 | 1);
	ret |= out_u32(attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_RKEY),
		       mr->handle << 8 | 2);
	ret |= out_u64(attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ADDR),
		       fk.mode == FAKE_BAD_RESPONSE ? 0 : (uintptr_t)aligned);
	ret |= out_u64(attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_LENGTH),
		       maplen);
	ret |= out_u64(attr_of(hdr,
			       UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_CONTIG_LENGTH),
		       maplen);
	ret |= out_u64(attr_of(hdr, UVERBS_ATTR_ALLOC_CONTIG_MR_RESP_ALIGNMENT),
		       maplen < FAKE_ALIGN ? 4096 : FAKE_ALIGN);
	if (fk.mode == FAKE_BAD_RESPONSE) {
		/* The "kernel" keeps the MR; the library must destroy it and
		 * cannot unmap what it was not told about: we do. */
		munmap(aligned, maplen);
		mr->addr = NULL;
	}
	return ret ? EINVAL : 0;
}

static int fake_destroy(struct ib_uverbs_ioctl_hdr *hdr)
{
	struct ib_uverbs_attr *h = attr_of(hdr, UVERBS_ATTR_DESTROY_MR_HANDLE);
	unsigned int i;

	if (!h || hdr->num_attrs != 1 || h->len != 0)
		return EINVAL;
	if (fk.destroy_err)
		return fk.destroy_err;
	for (i = 0; i < MAX_MRS; i++) {
		if (fk.mrs[i].live && fk.mrs[i].handle == h->data) {
			fk.mrs[i].live = false;
			fk.destroys++;
			return 0;
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
	if (hdr->object_id == UVERBS_OBJECT_MR &&
	    hdr->method_id == UVERBS_METHOD_ALLOC_CONTIG_MR)
		return fake_alloc(hdr);
	if (hdr->object_id == UVERBS_OBJECT_MR &&
	    hdr->method_id == UVERBS_METHOD_MR_DESTROY)
		return fake_destroy(hdr);
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
	if (fd != fk.fd || fk.fd < 0 || request != RDMA_VERBS_IOCTL)
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

static unsigned int live_mrs(void)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&fk.lock);
	for (i = 0; i < MAX_MRS; i++)
		n += fk.mrs[i].live;
	pthread_mutex_unlock(&fk.lock);
	return n;
}

/* ---- a context and PD that lead to the model ---------------------------- */

static char sysfs_dir[] = "/tmp/cmr-fake-XXXXXX";
static char dev_storage[4096] __attribute__((aligned(64)));
static struct ibv_context fake_ctx;
static struct ibv_pd fake_pd;

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
	fk.fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fk.fd < 0)
		t_bail("open /dev/null: %s", strerror(errno));
	fake_ctx.device = dev;
	fake_ctx.cmd_fd = fk.fd;
	fake_ctx.async_fd = -1;
	fake_pd.context = &fake_ctx;
	fake_pd.handle = 17;
}

static void teardown(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/device/numa_node", sysfs_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/device", sysfs_dir);
	rmdir(path);
	rmdir(sysfs_dir);
	close(fk.fd);
}

static bool mapped(void *addr, size_t len)
{
	return t_is_mapped(addr, len);
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

static void test_success(void)
{
	const unsigned int access = IBV_ACCESS_LOCAL_WRITE |
				    IBV_ACCESS_REMOTE_READ;
	const struct ib_uverbs_attr *a;
	struct ibv_contig_mr_info info;
	struct ibv_mr *mr;
	unsigned int destroys;
	int ret;

	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	set_sysfs_node("1\n");
	fk.mode = FAKE_OK;
	fk.wrong_ids = fk.unknown = 0;
	mr = ibv_alloc_contig_mr(&fake_pd, 5000, access);
	if (!t_ok(mr != NULL, "alloc 5000 bytes: %s",
		  mr ? "ok" : strerror(errno)))
		return;
	t_ok(fk.wrong_ids == FAKE_DRIVER_ID && fk.unknown == 1,
	     "driver id found by probing (ids 0..%u refused, %u answered)",
	     fk.wrong_ids - 1, fk.wrong_ids);
	t_ok(fk.last.hdr.driver_id == FAKE_DRIVER_ID,
	     "the command carries the driver id");
	a = last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_PD_HANDLE);
	t_ok(a && a->data == 17, "PD_HANDLE is pd->handle");
	a = last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_LENGTH);
	t_ok(a && a->data == 5000, "LENGTH is the length asked for");
	a = last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_ACCESS_FLAGS);
	t_ok(a && a->data == access, "ACCESS_FLAGS passed through");
	a = last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE);
	t_ok(a && a->data == 1, "NUMA_NODE defaults to the device's (sysfs 1)");
	t_ok(!last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_FLAGS),
	     "no FLAGS when not strict");

	t_ok(mr->pd == &fake_pd && mr->context == &fake_ctx,
	     "mr->pd and mr->context");
	t_ok(mr->addr && !((uintptr_t)mr->addr % 4096) && mr->length == 5000,
	     "mr->addr page aligned, mr->length 5000");
	t_ok(mr->lkey == (mr->handle << 8 | 1) &&
		     mr->rkey == (mr->handle << 8 | 2) && mr->handle >= 100,
	     "keys and handle from the kernel's answer");
	t_ok(t_check_zero(mr->addr, 8192) == -1, "memory reads as zeroes");
	memset(mr->addr, 0x5a, 8192);

	memset(&info, 0xff, sizeof(info));
	info.comp_mask = 0;
	t_ok(ibv_query_contig_mr(mr, &info) == 0 &&
		     info.backend == IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG &&
		     info.length == 8192 && info.contig_extent == 8192 &&
		     info.alignment == 4096 && info.device_page_size == 0 &&
		     info.map_entries == 0 && info.comp_mask == 0,
	     "query: kernel back end, 8192 mapped and contiguous, aligned 4096");
	info.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES;
	errno = 1234;
	ret = ibv_query_contig_mr(mr, &info);
	t_ok(ret == 0 && !(info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES) &&
		     info.device_page_size == 0 && info.map_entries == 0,
	     "query device pages without a device: 0, unknown, bit cleared");
	t_ok(errno == 1234, "query keeps errno");
	info.comp_mask = 1u << 7;
	t_ok(ibv_query_contig_mr(mr, &info) == EINVAL,
	     "query with an unknown comp_mask bit: EINVAL");
	t_ok(ibv_query_contig_mr(mr, NULL) == EINVAL, "query(mr, NULL): EINVAL");

	destroys = fk.destroys;
	{
		void *addr = mr->addr;

		t_ok(ibv_free_contig_mr(mr) == 0, "free: 0");
		t_ok(fk.destroys == destroys + 1, "free destroyed the MR");
		t_ok(!mapped(addr, 8192), "free unmapped the memory");
	}
	t_ok(live_mrs() == 0, "no MR left in the kernel");
}

static void test_attrs(void)
{
	struct ibv_alloc_contig_mr_attr attr = { 0 };
	const struct ib_uverbs_attr *a;
	unsigned int cpu, node;
	struct ibv_mr *mr;

	fk.mode = FAKE_OK;
	attr.comp_mask = IBV_CONTIG_MR_ATTR_NUMA_NODE;
	attr.numa_node = -1;
	mr = ibv_alloc_contig_mr_ex(&fake_pd, 4096, 0, &attr);
	t_ok(mr && !last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE),
	     "numa_node -1: NUMA_NODE not sent");
	if (mr)
		ibv_free_contig_mr(mr);

	attr.comp_mask = IBV_CONTIG_MR_ATTR_NUMA_NODE | IBV_CONTIG_MR_ATTR_FLAGS;
	attr.numa_node = 0;
	attr.flags = IBV_CONTIG_MR_NODE_STRICT;
	mr = ibv_alloc_contig_mr_ex(&fake_pd, 4096, 0, &attr);
	a = last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_FLAGS);
	t_ok(mr && a && a->data == IB_UVERBS_ALLOC_CONTIG_MR_NODE_STRICT &&
		     last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE) &&
		     last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE)->data == 0,
	     "node 0 strict: NUMA_NODE 0 and FLAGS NODE_STRICT sent");
	if (mr)
		ibv_free_contig_mr(mr);

	/* Strict without a node: strict on the default node. */
	set_sysfs_node("3\n");
	attr.comp_mask = IBV_CONTIG_MR_ATTR_FLAGS;
	mr = ibv_alloc_contig_mr_ex(&fake_pd, 4096, 0, &attr);
	a = last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE);
	t_ok(mr && a && a->data == 3 &&
		     last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_FLAGS),
	     "strict without a node: strict on the device's node 3");
	if (mr)
		ibv_free_contig_mr(mr);

	/* Device without a node: the caller's. */
	set_sysfs_node("-1\n");
	mr = ibv_alloc_contig_mr(&fake_pd, 4096, 0);
	a = last_attr(UVERBS_ATTR_ALLOC_CONTIG_MR_NUMA_NODE);
	if (syscall(SYS_getcpu, &cpu, &node, NULL))
		node = 0;
	t_ok(mr && a && a->data == node,
	     "device node -1: the caller's node %u is sent", node);
	if (mr)
		ibv_free_contig_mr(mr);
	set_sysfs_node("0\n");
}

static void test_errors(void)
{
	struct ibv_alloc_contig_mr_attr attr = {
		.comp_mask = IBV_CONTIG_MR_ATTR_POLICY,
		.policy = IBV_CONTIG_MR_POLICY_ALL,
	};
	struct ibv_mr *mr;
	unsigned int destroys;
	long long huge_free = t_meminfo_kb("HugePages_Free");

	fk.mode = FAKE_OLD_KERNEL;
	errno = 0;
	mr = ibv_alloc_contig_mr(&fake_pd, 4096, 0);
	t_errno_is(mr ? 0 : errno, EOPNOTSUPP,
		   "kernel without the method (EPROTONOSUPPORT)");

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

	fk.mode = FAKE_BAD_RESPONSE;
	destroys = fk.destroys;
	mr = ibv_alloc_contig_mr(&fake_pd, 4096, 0);
	t_errno_is(mr ? 0 : errno, EPROTO, "a kernel answer with address 0");
	t_ok(fk.destroys == destroys + 1 && live_mrs() == 0,
	     "... and its MR was destroyed again");

	fk.mode = FAKE_OK;
	setenv("IBV_CONTIG_MR_ALLOC_TYPE", "CONTIG", 1);
	mr = ibv_alloc_contig_mr(&fake_pd, 100000, 0);
	t_ok(mr != NULL, "IBV_CONTIG_MR_ALLOC_TYPE=CONTIG allocates");
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	if (mr) {
		void *addr = mr->addr;

		fk.destroy_err = EBUSY;
		t_ok(ibv_free_contig_mr(mr) == EBUSY,
		     "free when the kernel refuses: EBUSY");
		t_ok(mapped(addr, 100000) && live_mrs() == 1 &&
			     mr->addr == addr,
		     "... and the MR is intact");
		fk.destroy_err = 0;
		t_ok(ibv_free_contig_mr(mr) == 0, "free again: 0");
		t_ok(!mapped(addr, 100000) && live_mrs() == 0,
		     "... released");
	}
}

#define THREADS 4
#define ROUNDS 50

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	unsigned int i;
	long bad = 0;

	for (i = 0; i < ROUNDS; i++) {
		size_t len = 4096 * (1 + (id * 7 + i) % 33);
		struct ibv_mr *mr = ibv_alloc_contig_mr(&fake_pd, len, 0);

		if (!mr) {
			bad++;
			continue;
		}
		if (t_check_zero(mr->addr, len) >= 0)
			bad++;
		t_fill(mr->addr, len, id, 0);
		if (t_check(mr->addr, len, id, 0) >= 0)
			bad++;
		if (ibv_free_contig_mr(mr))
			bad++;
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
	t_ok(bad == 0 && fk.allocs - allocs == THREADS * ROUNDS &&
		     live_mrs() == 0,
	     "%d threads x %d alloc/fill/check/free: %ld failures", THREADS,
	     ROUNDS, bad);
}

int main(void)
{
	setup();
	test_success();
	test_attrs();
	test_errors();
	test_threads();
	t_ok(fk.bad_headers == 0, "every command had a well-formed header");
	teardown();
	return t_done();
}
