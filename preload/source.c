// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * Contiguous memory, through libibverbs-ext.
 *
 * The first request opens the device (CMR_ALLOC_DEVICE, else the first
 * one) and a PD of the preload's own; the program's contexts and PDs are
 * never touched, and its MRs, on any device, find the memory contiguous
 * all the same (the MR path looks at the pages, not at who allocated
 * them). Every buffer is detached at once (ibv_detach_contig_buf()): the
 * mapping alone then holds the memory and its accounting, so that free()
 * and munmap() are all it takes to release it.
 *
 * When the device cannot be opened (none, or a kernel without the series)
 * the failure is remembered and every request fails fast with it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <infiniband/verbs_contig.h>

#include "alloc.h"

__thread bool cmr_alloc_busy __attribute__((tls_model("initial-exec")));

enum source_state { SOURCE_UNTRIED, SOURCE_READY, SOURCE_FAILED };

static struct {
	pthread_mutex_t lock;
	enum source_state state;
	int error;		/* SOURCE_FAILED: why */
	struct ibv_context *ctx;
	struct ibv_pd *pd;
} source = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void vsay(const char *fmt, va_list ap)
{
	char line[256];
	int n;

	n = snprintf(line, sizeof(line), "contig-mr-alloc[%d]: ", getpid());
	if (n < 0)
		return;
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	n = strlen(line);
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void cmr_alloc_log(const char *fmt, ...)
{
	va_list ap;

	if (!cmr_alloc_cfg.verbose)
		return;
	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

void cmr_alloc_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

/*
 * The program's own ibv_get_device_list(). libibverbs allocates while it
 * holds its device-list lock (sysfs and netlink reads, stdio buffers, the
 * list): were such an allocation served, its first one would open the
 * device here and ask for that lock again, a deadlock in one thread, or
 * against another thread in source_open(). What it allocates is ordinary
 * memory; small, and never a buffer the program registers.
 */
CMR_ALLOC_EXPORT struct ibv_device **ibv_get_device_list(int *num_devices)
{
	typedef struct ibv_device **(*list_fn)(int *);
	static _Atomic(list_fn) real;
	bool was_busy = cmr_alloc_busy;
	struct ibv_device **list;
	list_fn fn;

	cmr_alloc_busy = true;
	fn = atomic_load(&real);
	if (!fn) {
		fn = (list_fn)dlvsym(RTLD_NEXT, "ibv_get_device_list",
				     "IBVERBS_1.1");
		if (!fn)
			fn = (list_fn)dlsym(RTLD_NEXT, "ibv_get_device_list");
		atomic_store(&real, fn);
	}
	if (fn) {
		list = fn(num_devices);
	} else {
		list = NULL;
		errno = ENOSYS;
	}
	cmr_alloc_busy = was_busy;
	return list;
}

static int source_open(void)
{
	struct ibv_device **list;
	struct ibv_device *dev = NULL;
	int i, n, ret;

	list = ibv_get_device_list(&n);
	if (!list)
		return errno ? errno : ENODEV;
	for (i = 0; i < n && !dev; i++)
		if (!cmr_alloc_cfg.device ||
		    !strcmp(ibv_get_device_name(list[i]), cmr_alloc_cfg.device))
			dev = list[i];
	ret = ENODEV;
	if (dev) {
		source.ctx = ibv_open_device(dev);
		ret = source.ctx ? 0 : errno;
	}
	ibv_free_device_list(list);
	if (ret)
		return ret;
	source.pd = ibv_alloc_pd(source.ctx);
	if (!source.pd) {
		ret = errno;
		ibv_close_device(source.ctx);
		source.ctx = NULL;
		return ret;
	}
	cmr_alloc_log("allocating through %s",
		      ibv_get_device_name(source.ctx->device));
	return 0;
}

/* The PD to allocate with, or NULL with errno set. */
static struct ibv_pd *source_pd(void)
{
	struct ibv_pd *pd;
	int ret;

	pthread_mutex_lock(&source.lock);
	if (source.state == SOURCE_UNTRIED) {
		ret = source_open();
		source.state = ret ? SOURCE_FAILED : SOURCE_READY;
		source.error = ret;
		if (ret)
			cmr_alloc_warn("no contiguous memory (RDMA device %s: "
				       "%s): large allocations %s",
				       cmr_alloc_cfg.device ?
					       cmr_alloc_cfg.device : "any",
				       ret == ENODEV ? "none such" :
						       strerror(ret),
				       cmr_alloc_cfg.on_fail == CMR_ALLOC_FAIL ?
					       "fail" : "use ordinary memory");
	}
	pd = source.pd;
	ret = source.error;
	pthread_mutex_unlock(&source.lock);
	if (!pd)
		errno = ret;
	return pd;
}

/* A kernel or device without contiguous buffers: say so once, stop trying. */
static void source_unsupported(int err)
{
	pthread_mutex_lock(&source.lock);
	if (source.state == SOURCE_READY) {
		source.state = SOURCE_FAILED;
		source.error = err;
		source.pd = NULL;
		cmr_alloc_warn("no contiguous memory (%s: %s; the running "
			       "kernel lacks the contig-mr series or "
			       "CONFIG_CONTIG_ALLOC): large "
			       "allocations %s",
			       ibv_get_device_name(source.ctx->device),
			       strerror(err),
			       cmr_alloc_cfg.on_fail == CMR_ALLOC_FAIL ?
				       "fail" : "use ordinary memory");
	}
	pthread_mutex_unlock(&source.lock);
}

void *cmr_contig_get(size_t len, size_t *mapped)
{
	struct ibv_alloc_contig_mr_attr attr = {
		.comp_mask = IBV_CONTIG_MR_ATTR_MIN_EXTENT,
		.min_extent = cmr_alloc_cfg.min_extent,
	};
	struct ibv_contig_buf *buf;
	struct ibv_pd *pd;
	bool was_busy = cmr_alloc_busy;
	void *addr = NULL;
	int ret;

	cmr_alloc_busy = true;
	pd = source_pd();
	if (!pd)
		goto out;
	ret = ibv_alloc_contig_buf(pd, len,
				   cmr_alloc_cfg.min_extent ? &attr : NULL,
				   &buf);
	if (ret == EOPNOTSUPP || ret == EPROTONOSUPPORT)
		source_unsupported(ret);
	if (ret) {
		errno = ret;
		goto out;
	}
	addr = buf->addr;
	*mapped = buf->length;
	ret = ibv_detach_contig_buf(buf);
	if (ret) {
		ibv_free_contig_buf(buf);
		addr = NULL;
		errno = ret;
	}
out:
	cmr_alloc_busy = was_busy;
	return addr;
}

void cmr_source_forget(bool parent_threaded)
{
	/*
	 * The child shares the parent's uverbs file: closing or using that
	 * context here would act on the parent's objects. Leave it, and
	 * open a new one when the child asks for memory, unless a thread
	 * that is gone may have held a lock of libibverbs.
	 */
	pthread_mutex_init(&source.lock, NULL);
	source.state = parent_threaded ? SOURCE_FAILED : SOURCE_UNTRIED;
	source.error = parent_threaded ? EAGAIN : 0;
	source.ctx = NULL;
	source.pd = NULL;
}
