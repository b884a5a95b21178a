// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * libcontig-mr-perftest.so: `--contig` for the stock perftest binaries.
 *
 * The perftest wrapper (perftest-contig.sh) preloads this library when it is
 * given --contig. perftest 4.5 allocates its data buffer in
 * create_single_mr():
 *
 *	ctx->pd  = ibv_alloc_pd(ctx->context);              (ctx_init)
 *	buf      = memalign(cycle_buffer, buff_size);        (create_single_mr)
 *	memset(buf, 0, buff_size);
 *	mr       = ibv_reg_mr_iova2(pd, buf, buff_size, buf, access);
 *	...
 *	ibv_dereg_mr(mr);                                    (destroy_ctx)
 *	ibv_dealloc_pd(pd); ibv_close_device(...);
 *	free(buf);
 *
 * This library serves exactly that memalign() -- called from the perftest
 * executable itself after a PD exists -- with a contiguous buffer from
 * ibv_alloc_contig_buf(), registers the buffer at the matching
 * registration with ibv_reg_contig_buf_mr() (perftest's own access flags),
 * releases MR and buffer at ibv_dereg_mr() (the buffer must be gone before
 * the device is closed) and swallows the final free(). Every other
 * allocation and registration goes to glibc and libibverbs untouched,
 * including the library's own calls. There is no silent fallback: if the
 * contiguous allocation fails, or perftest registers a data buffer that did
 * not come from it, the process stops with a message and exit status 1.
 *
 * Environment (set by the wrapper):
 *   CMR_PERFTEST_CONTIG   read | write | send | atomic: the verb of the
 *                         tool. Unset or empty: the library does nothing
 *                         at all.
 *   CMR_PERFTEST_VERBOSE  1: trace every interposed call on stderr.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <infiniband/verbs.h>
#include <infiniband/verbs_contig.h>

/* verbs.h turns ibv_reg_mr into a macro; this file defines the symbol. */
#undef ibv_reg_mr

#define CMR_EXPORT __attribute__((visibility("default")))
#define CMR_MAX_BUFS 64

/* glibc's own allocator entry points: never interposed, never recursive. */
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *ptr);

struct cmr_buf {
	bool used;		/* slot taken (possibly still being allocated) */
	void *addr;		/* what memalign() returned: buf->addr */
	size_t length;		/* what perftest asked for */
	size_t map_length;	/* what is mapped at addr */
	struct ibv_contig_buf *buf;	/* NULL once freed */
	struct ibv_mr *mr;	/* perftest's registration of it, or NULL */
	bool registering;	/* a registration is under way */
	bool buf_freed;		/* perftest called free(addr) */
	bool placeholder;	/* addr..map_length is a PROT_NONE reservation */
};

typedef struct ibv_pd *(*alloc_pd_fn)(struct ibv_context *);
typedef struct ibv_mr *(*reg_mr_fn)(struct ibv_pd *, void *, size_t, int);
typedef struct ibv_mr *(*reg_mr_iova2_fn)(struct ibv_pd *, void *, size_t,
					  uint64_t, unsigned int);
typedef int (*dereg_mr_fn)(struct ibv_mr *);

/*
 * The interposer's only state. The fields above `lock` are written once by
 * the constructor, before main(), and only read afterwards; the rest is
 * under the lock.
 */
static struct cmr_state {
	bool enabled;
	bool verbose;
	const char *verb;
	uintptr_t exe_lo, exe_hi;	/* the executable's code */
	alloc_pd_fn real_alloc_pd;
	reg_mr_fn real_reg_mr;
	reg_mr_iova2_fn real_reg_mr_iova2;
	dereg_mr_fn real_dereg_mr;

	pthread_mutex_t lock;
	struct ibv_pd *pd;		/* the last PD the executable allocated */
	unsigned int served;		/* contiguous buffers handed out */
	struct cmr_buf bufs[CMR_MAX_BUFS];
} cmr = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

static void cmr_trace(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static void cmr_trace(const char *fmt, ...)
{
	va_list ap;

	if (!cmr.verbose)
		return;
	va_start(ap, fmt);
	fputs("contig-mr: trace: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void cmr_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void cmr_fatal(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	va_start(ap, fmt);
	fputs("contig-mr: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fputs("contig-mr: --contig refuses to fall back to ordinary memory; "
	      "stopping\n", stderr);
	exit(EXIT_FAILURE);
}

static const char *cmr_size_str(uint64_t bytes, char *out, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	while (u < 4 && bytes >= 1024 && bytes % 1024 == 0) {
		bytes /= 1024;
		u++;
	}
	snprintf(out, len, "%" PRIu64 " %s", bytes, units[u]);
	return out;
}

static int cmr_find_exe(struct dl_phdr_info *info, size_t size, void *data)
{
	struct cmr_state *s = data;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	int i;

	(void)size;
	/* The first object is the executable itself. */
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	s->exe_lo = lo;
	s->exe_hi = hi;
	return 1;
}

static void *cmr_real(const char *name, const char *version)
{
	void *fn = dlvsym(RTLD_NEXT, name, version);

	if (!fn)
		fn = dlsym(RTLD_NEXT, name);
	if (!fn)
		cmr_fatal("cannot find %s in libibverbs: %s", name, dlerror());
	return fn;
}

static void cmr_check_verb(const char *verb)
{
	if (strcmp(verb, "read") && strcmp(verb, "write") &&
	    strcmp(verb, "send") && strcmp(verb, "atomic"))
		cmr_fatal("CMR_PERFTEST_CONTIG='%s': expected read, write, "
			  "send or atomic", verb);
}

__attribute__((constructor)) static void cmr_init(void)
{
	const char *verb = getenv("CMR_PERFTEST_CONTIG");
	const char *verbose = getenv("CMR_PERFTEST_VERBOSE");

	/* Resolved even when disabled: the interposers always forward. */
	cmr.real_alloc_pd = (alloc_pd_fn)cmr_real("ibv_alloc_pd", "IBVERBS_1.1");
	cmr.real_reg_mr = (reg_mr_fn)cmr_real("ibv_reg_mr", "IBVERBS_1.1");
	cmr.real_reg_mr_iova2 =
		(reg_mr_iova2_fn)cmr_real("ibv_reg_mr_iova2", "IBVERBS_1.8");
	cmr.real_dereg_mr = (dereg_mr_fn)cmr_real("ibv_dereg_mr", "IBVERBS_1.1");
	if (!verb || !*verb)
		return;
	cmr_check_verb(verb);
	cmr.verb = verb;
	cmr.verbose = verbose && !strcmp(verbose, "1");
	dl_iterate_phdr(cmr_find_exe, &cmr);
	if (cmr.exe_lo >= cmr.exe_hi)
		cmr_fatal("cannot find the executable's code segment");
	cmr.enabled = true;
	cmr_trace("enabled for verb %s, executable code %#" PRIxPTR
		  "-%#" PRIxPTR, verb, cmr.exe_lo, cmr.exe_hi);
}

static bool cmr_from_exe(const void *caller)
{
	return (uintptr_t)caller >= cmr.exe_lo && (uintptr_t)caller < cmr.exe_hi;
}

/* Under the lock: the slot whose buffer starts at addr, or NULL. */
static struct cmr_buf *cmr_find_addr(const void *addr)
{
	unsigned int i;

	for (i = 0; i < CMR_MAX_BUFS; i++)
		if (cmr.bufs[i].used && cmr.bufs[i].addr == addr)
			return &cmr.bufs[i];
	return NULL;
}

/* Under the lock: the slot whose live buffer contains addr, or NULL. */
static struct cmr_buf *cmr_find_inside(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	unsigned int i;

	for (i = 0; i < CMR_MAX_BUFS; i++) {
		struct cmr_buf *b = &cmr.bufs[i];

		if (b->used && b->buf && a >= (uintptr_t)b->addr &&
		    a < (uintptr_t)b->addr + b->map_length)
			return b;
	}
	return NULL;
}

static void *cmr_alloc_buffer(size_t alignment, size_t size)
{
	struct ibv_alloc_contig_mr_attr attr = {
		.comp_mask = IBV_CONTIG_MR_ATTR_POLICY,
		.policy = IBV_CONTIG_MR_POLICY_CONTIG,
	};
	struct ibv_contig_mr_info info = { .comp_mask = 0 };
	struct cmr_buf *slot = NULL;
	struct ibv_contig_buf *buf;
	struct ibv_pd *pd;
	unsigned int i;
	char s1[32];
	int ret;

	pthread_mutex_lock(&cmr.lock);
	pd = cmr.pd;
	for (i = 0; i < CMR_MAX_BUFS && pd; i++) {
		if (!cmr.bufs[i].used) {
			slot = &cmr.bufs[i];
			slot->used = true;
			break;
		}
	}
	pthread_mutex_unlock(&cmr.lock);
	if (!pd)
		cmr_fatal("perftest allocated a buffer (memalign(%zu, %zu)) "
			  "before creating a protection domain; this perftest "
			  "build is not supported", alignment, size);
	if (!slot)
		cmr_fatal("more than %d contiguous buffers", CMR_MAX_BUFS);

	ret = ibv_alloc_contig_buf(pd, size, &attr, &buf);
	if (ret) {
		char hint[160] = "";
		struct rlimit rl;

		if (ret == EOPNOTSUPP || ret == EPROTONOSUPPORT)
			snprintf(hint, sizeof(hint), " (the running kernel "
				 "lacks the contig-mr series)");
		else if (ret == ENOMEM && !getrlimit(RLIMIT_MEMLOCK, &rl) &&
			 rl.rlim_cur != RLIM_INFINITY && size > rl.rlim_cur)
			snprintf(hint, sizeof(hint), " (no free physically "
				 "contiguous range of that size, or the "
				 "locked-memory limit of %s: ulimit -l)",
				 cmr_size_str(rl.rlim_cur, s1, sizeof(s1)));
		else if (ret == ENOMEM)
			snprintf(hint, sizeof(hint), " (no free physically "
				 "contiguous range of that size)");
		cmr_fatal("ibv_alloc_contig_buf(%zu bytes) failed: %s%s", size,
			  strerror(ret), hint);
	}
	ret = ibv_query_contig_buf(buf, &info);
	if (ret)
		cmr_fatal("ibv_query_contig_buf: %s", strerror(ret));
	if (info.backend != IBV_CONTIG_MR_BACKEND_KERNEL_CONTIG)
		cmr_fatal("the buffer came from back end %u, not the kernel's "
			  "contiguous allocator", info.backend);
	if (alignment && ((uintptr_t)buf->addr % alignment))
		cmr_fatal("contiguous buffer %p is not aligned to %zu",
			  buf->addr, alignment);

	pthread_mutex_lock(&cmr.lock);
	slot->addr = buf->addr;
	slot->length = size;
	slot->map_length = buf->length;
	slot->buf = buf;
	cmr.served++;
	pthread_mutex_unlock(&cmr.lock);
	cmr_trace("contiguous buffer of %zu bytes at %p", buf->length,
		  buf->addr);
	return buf->addr;
}

/* The report of a registered data buffer, on stderr. */
static void cmr_report(const struct ibv_contig_buf *buf, struct ibv_mr *mr,
		       size_t length)
{
	struct ibv_contig_mr_info info = {
		.comp_mask = IBV_CONTIG_MR_INFO_DEVICE_PAGES,
	};
	char s1[32], s2[32], s3[32];
	int ret;

	ret = ibv_query_contig_mr(mr, &info);
	if (ret)
		cmr_fatal("ibv_query_contig_mr: %s", strerror(ret));
	fprintf(stderr,
		"contig-mr: data buffer %zu bytes at %p: physically contiguous "
		"(extent %s, aligned to %s), device page size %s, %" PRIu64
		" map entries, lkey 0x%x rkey 0x%x\n", length, buf->addr,
		cmr_size_str(info.contig_extent, s1, sizeof(s1)),
		cmr_size_str(info.alignment, s2, sizeof(s2)),
		info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES ?
		cmr_size_str(info.device_page_size, s3, sizeof(s3)) : "unknown",
		info.comp_mask & IBV_CONTIG_MR_INFO_DEVICE_PAGES ?
		info.map_entries : 0, mr->lkey, mr->rkey);
}

CMR_EXPORT void *memalign(size_t alignment, size_t size)
{
	const void *caller = __builtin_return_address(0);

	if (!cmr.enabled || !cmr_from_exe(caller))
		return __libc_memalign(alignment, size);
	cmr_trace("memalign(%zu, %zu) from the executable", alignment, size);
	return cmr_alloc_buffer(alignment, size);
}

CMR_EXPORT void free(void *ptr)
{
	struct ibv_contig_buf *release = NULL;
	size_t unmap_length = 0;
	struct cmr_buf *b;

	if (!ptr || !cmr.enabled) {
		__libc_free(ptr);
		return;
	}
	pthread_mutex_lock(&cmr.lock);
	b = cmr_find_addr(ptr);
	if (!b) {
		pthread_mutex_unlock(&cmr.lock);
		__libc_free(ptr);
		return;
	}
	if (!b->buf) {
		/* Released at ibv_dereg_mr(); drop its placeholder. */
		if (b->placeholder)
			unmap_length = b->map_length;
		memset(b, 0, sizeof(*b));
	} else if (b->mr || b->registering) {
		/* Still registered: released at ibv_dereg_mr(). */
		b->buf_freed = true;
	} else {
		/* Never registered: nothing else will release it. */
		release = b->buf;
		memset(b, 0, sizeof(*b));
	}
	pthread_mutex_unlock(&cmr.lock);

	cmr_trace("free(%p): contiguous buffer%s", ptr,
		  release ? ", released" : "");
	if (unmap_length)
		munmap(ptr, unmap_length);
	if (release) {
		int ret = ibv_free_contig_buf(release);

		if (ret)
			fprintf(stderr, "contig-mr: ibv_free_contig_buf: %s\n",
				strerror(ret));
	}
}

CMR_EXPORT struct ibv_pd *ibv_alloc_pd(struct ibv_context *context)
{
	const void *caller = __builtin_return_address(0);
	struct ibv_pd *pd;

	pd = cmr.real_alloc_pd(context);
	/* perftest's own PD, not one a library (librdmacm) makes for itself. */
	if (pd && cmr.enabled && cmr_from_exe(caller)) {
		pthread_mutex_lock(&cmr.lock);
		cmr.pd = pd;
		pthread_mutex_unlock(&cmr.lock);
	}
	cmr_trace("ibv_alloc_pd() = %p", (void *)pd);
	return pd;
}

/*
 * A registration by the executable. true: it is of a contiguous buffer,
 * registered here, *out is its MR. false: not ours, the caller registers
 * it normally.
 */
static bool cmr_claim(struct ibv_pd *pd, void *addr, size_t length,
		      uint64_t iova, unsigned int access, struct ibv_mr **out)
{
	struct ibv_contig_buf *buf = NULL;
	const char *why = NULL;
	struct ibv_mr *mr;
	struct cmr_buf *b;
	bool none_yet;
	int err;

	pthread_mutex_lock(&cmr.lock);
	b = cmr_find_inside(addr);
	none_yet = cmr.served == 0;
	if (!b) {
		pthread_mutex_unlock(&cmr.lock);
		/*
		 * perftest registers its data buffer before anything else;
		 * a first registration that is not a contiguous buffer means
		 * the data buffer came from somewhere else (--mmap,
		 * --use_hugepages, another perftest version).
		 */
		if (none_yet)
			cmr_fatal("perftest registered %zu bytes at %p, which "
				  "are not a contiguous buffer: its data buffer "
				  "did not come from memalign()", length, addr);
		return false;
	}
	if (b->addr != addr)
		why = "a part of the contiguous buffer";
	else if (length > b->map_length)
		why = "more than the contiguous buffer";
	else if (b->mr || b->registering)
		why = "the contiguous buffer a second time";
	else if (iova != (uintptr_t)addr)
		why = "the contiguous buffer at an iova other than its address";
	else {
		b->registering = true;
		buf = b->buf;
	}
	pthread_mutex_unlock(&cmr.lock);
	if (why)
		cmr_fatal("perftest registered %s (addr %p, length %zu, iova "
			  "%#" PRIx64 ", access %#x): not supported", why, addr,
			  length, iova, access);

	mr = ibv_reg_contig_buf_mr(pd, buf, addr, length, access);
	if (!mr) {
		err = errno;
		cmr_fatal("ibv_reg_contig_buf_mr(%zu bytes at %p, access %#x) "
			  "failed: %s", length, addr, access, strerror(err));
	}
	pthread_mutex_lock(&cmr.lock);
	b->registering = false;
	b->mr = mr;
	pthread_mutex_unlock(&cmr.lock);
	cmr_trace("registration of %p (%zu bytes, access %#x): lkey %#x", addr,
		  length, access, mr->lkey);
	cmr_report(buf, mr, length);
	*out = mr;
	return true;
}

/*
 * The executable's registrations go through cmr_claim(); everything else,
 * ibv_reg_contig_buf_mr()'s own call included, straight to libibverbs.
 */
CMR_EXPORT struct ibv_mr *ibv_reg_mr(struct ibv_pd *pd, void *addr,
				     size_t length, int access)
{
	struct ibv_mr *mr;

	if (cmr.enabled && cmr_from_exe(__builtin_return_address(0)) &&
	    cmr_claim(pd, addr, length, (uintptr_t)addr, (unsigned int)access,
		      &mr))
		return mr;
	return cmr.real_reg_mr(pd, addr, length, access);
}

CMR_EXPORT struct ibv_mr *ibv_reg_mr_iova2(struct ibv_pd *pd, void *addr,
					   size_t length, uint64_t iova,
					   unsigned int access)
{
	struct ibv_mr *mr;

	if (cmr.enabled && cmr_from_exe(__builtin_return_address(0)) &&
	    cmr_claim(pd, addr, length, iova, access, &mr))
		return mr;
	return cmr.real_reg_mr_iova2(pd, addr, length, iova, access);
}

CMR_EXPORT int ibv_dereg_mr(struct ibv_mr *mr)
{
	struct ibv_contig_buf *buf = NULL;
	struct cmr_buf *b = NULL;
	size_t map_length = 0;
	bool buf_freed = false;
	void *addr = NULL;
	unsigned int i;
	void *hold;
	int ret;

	if (cmr.enabled && mr) {
		pthread_mutex_lock(&cmr.lock);
		for (i = 0; i < CMR_MAX_BUFS && !b; i++)
			if (cmr.bufs[i].used && cmr.bufs[i].mr == mr)
				b = &cmr.bufs[i];
		pthread_mutex_unlock(&cmr.lock);
	}
	ret = cmr.real_dereg_mr(mr);
	if (!b || ret)
		return ret;

	/*
	 * perftest deregisters, then deallocates the PD and closes the
	 * device, and only then frees the buffer: the buffer must go now,
	 * while its context exists. Until free() the range stays reserved
	 * with an inaccessible mapping, so that nothing else lands at an
	 * address perftest still holds.
	 */
	pthread_mutex_lock(&cmr.lock);
	addr = b->addr;
	map_length = b->map_length;
	buf = b->buf;
	buf_freed = b->buf_freed;
	if (buf_freed) {
		memset(b, 0, sizeof(*b));
	} else {
		b->mr = NULL;
		b->buf = NULL;
	}
	pthread_mutex_unlock(&cmr.lock);

	ret = ibv_free_contig_buf(buf);
	if (ret) {
		fprintf(stderr, "contig-mr: ibv_free_contig_buf: %s\n",
			strerror(ret));
		return ret;
	}
	cmr_trace("ibv_dereg_mr(contiguous MR at %p): MR and buffer released",
		  addr);
	if (buf_freed)
		return 0;
	hold = mmap(addr, map_length, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		    MAP_FIXED_NOREPLACE, -1, 0);
	if (hold == addr) {
		pthread_mutex_lock(&cmr.lock);
		for (i = 0; i < CMR_MAX_BUFS; i++)
			if (cmr.bufs[i].used && cmr.bufs[i].addr == addr)
				cmr.bufs[i].placeholder = true;
		pthread_mutex_unlock(&cmr.lock);
	} else if (hold != MAP_FAILED) {
		/* A kernel without MAP_FIXED_NOREPLACE took it as a hint. */
		munmap(hold, map_length);
	}
	return 0;
}
