// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_hostile: seeded hostile commands to UVERBS_OBJECT_CONTIG_BUF,
 * sent straight to the uverbs ioctl, not through the library.
 *
 *   kernel_hostile CALLS [SEED]
 *
 * Each call starts from a well-formed CONTIG_BUF_ALLOC (random length,
 * NUMA node, flags and minimum extent, edge values among them) or
 * CONTIG_BUF_FREE (a live, freed, never seen or wrong-type handle), and
 * applies up to three mutations: an attribute dropped, duplicated, given
 * another length, id, flag bits or reserved bits; an input replaced by a
 * random or edge value; an output pointed to NULL, an unmapped page, a
 * read-only page or kernel space; a header field changed (driver id,
 * object, method, reserved words, attribute count); the whole command in a
 * read-only page, so that the new handle cannot be written back.
 *
 * The calls come from a child that runs as uid and gid nobody with
 * RLIMIT_MEMLOCK 8 MiB: the unprivileged attacker, whose limit some
 * lengths that would otherwise work exceed.
 *
 * Every call must return an error or a valid object. A valid object's fd
 * is a contig_buf file, RESP_LENGTH covers the length asked for, its first
 * and last byte read zero through a mapping, an MR with random access
 * flags over the mapping registers or fails cleanly, and CONTIG_BUF_FREE
 * of it succeeds. Afterwards: no contig_buf fd or mapping is left, FREE of
 * every handle the run produced fails, VmPin and VmLck are back at their
 * baseline, and once the caller has exited, free memory too. The seed
 * is printed; call N of a seed draws the same mutations whatever the
 * calls before it returned (only the handles FREE picks from follow the
 * run), so a failing call can be repeated. The harness scans the kernel
 * log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kt.h"

/* Lengths that succeed stay small: 10,000 calls must fit a CI run. */
#define MAX_GOOD_LENGTH (16 * KT_MIB)
#define MAX_HANDLES 4096
#define KERNEL_ADDR UINT64_C(0xffff888000000000)
#define MEMLOCK_LIMIT (8 << 20)

struct hostile {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	uint64_t seed;
	uint64_t rng;		/* this call's generator */
	long page;
	void *ro_page;		/* PROT_READ, zero */
	void *unmapped;		/* an address nothing is mapped at */
	uint32_t freed;		/* a handle that was freed */
	uint32_t max_handle;	/* the largest handle a call produced */
	long calls, ok, errors[256];
	/* The end state, as the attacker saw it before it exited. */
	long failures;
	char first_failure[256];
	int left, contig_fds, contig_maps;
	long long pin_before, pin_after, lck_before, lck_after;
};

/* A call that broke the contract: counted, the first few printed. */
static void __attribute__((format(printf, 2, 3)))
failure(struct hostile *h, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!h->failures++)
		snprintf(h->first_failure, sizeof(h->first_failure), "%s", msg);
	if (h->failures <= 10)
		t_diag("call %ld: %s", h->calls, msg);
}

/* splitmix64's finaliser: each call's generator from (seed, call). */
static uint64_t mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static uint64_t rnd(struct hostile *h)
{
	/* xorshift64*: reproducible from the seed, no global state. */
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * UINT64_C(0x2545f4914f6cdd1d);
}

static uint64_t below(struct hostile *h, uint64_t n)
{
	return n ? rnd(h) % n : 0;
}

static uint64_t pick(struct hostile *h, const uint64_t *v, size_t n)
{
	return v[below(h, n)];
}

#define PICK(h, arr) pick(h, arr, sizeof(arr) / sizeof((arr)[0]))

static uint64_t edge_u64(struct hostile *h)
{
	const uint64_t v[] = {
		0, 1, 2, 3, 4095, 4096, 4097, 1 << 21, (1 << 21) + 1,
		UINT64_C(1) << 30, UINT64_C(1) << 31, UINT64_C(1) << 32,
		UINT64_C(1) << 40, UINT64_C(1) << 63, UINT64_MAX,
		UINT64_MAX - 4095, UINT64_MAX - 4096, INT32_MAX, UINT32_MAX,
		(uint64_t)INT64_MAX,
	};

	return below(h, 4) ? PICK(h, v) : rnd(h);
}

/*
 * Lengths at the edges: none that succeeds is large (a gigabyte that
 * works costs seconds here; kernel_errors and kernel_sizes have those).
 */
static uint64_t edge_length(struct hostile *h)
{
	const uint64_t v[] = {
		0, 1, 4095, 4096, 4097, 1 << 21, (1 << 21) + 1,
		UINT64_C(1) << 40, UINT64_C(1) << 63, UINT64_MAX,
		UINT64_MAX - 4095, UINT64_MAX - 4096, (uint64_t)INT64_MAX,
		(uint64_t)INT64_MAX + 1,
	};

	return below(h, 4) ? PICK(h, v) : rnd(h) | UINT64_C(1) << 40;
}

/* Mostly buddy sizes; one in twenty goes to alloc_contig_pages(). */
static uint64_t good_length(struct hostile *h)
{
	uint64_t r = below(h, 20);

	if (r < 10)
		return 1 + below(h, (uint64_t)h->page * 4);
	if (r < 15)
		return (uint64_t)h->page << below(h, 10);
	if (r < 19)
		return 1 + below(h, 4 * KT_MIB);
	return 1 + below(h, MAX_GOOD_LENGTH);
}

static uint64_t bad_pointer(struct hostile *h)
{
	const uint64_t v[] = {
		0, (uintptr_t)h->unmapped, (uintptr_t)h->ro_page, KERNEL_ADDR,
		UINT64_MAX - 7, 1,
	};

	return PICK(h, v);
}

/* The attributes present: a mutated count may claim more than fit. */
static unsigned int nr_attrs(const struct cmr_ioctl_cmd *cmd)
{
	return cmd->hdr.num_attrs < CMR_IOCTL_MAX_ATTRS ? cmd->hdr.num_attrs :
							  CMR_IOCTL_MAX_ATTRS;
}

static struct ib_uverbs_attr *random_attr(struct hostile *h,
					  struct cmr_ioctl_cmd *cmd)
{
	if (!nr_attrs(cmd))
		return NULL;
	return &cmd->attrs[below(h, nr_attrs(cmd))];
}

static void set_num_attrs(struct cmr_ioctl_cmd *cmd, unsigned int n)
{
	cmd->hdr.num_attrs = n;
	cmd->hdr.length = sizeof(cmd->hdr) + n * sizeof(cmd->attrs[0]);
}

/*
 * Outputs only ever point at the command's own out struct or where no
 * write can land: a random address could be this process's memory.
 */
static bool is_output(uint16_t id)
{
	return id == UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD ||
	       id == UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH ||
	       id == UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_ALIGNMENT ||
	       id == UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_NUMA_NODE ||
	       id == UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_EXTENT_SIZE;
}

/* One mutation of cmd; *ro set when the command goes in a read-only page. */
static void mutate(struct hostile *h, struct cmr_ioctl_cmd *cmd, bool *ro)
{
	struct ib_uverbs_attr *a = random_attr(h, cmd);
	unsigned int n = nr_attrs(cmd), i;

	switch (below(h, 12)) {
	case 0: /* drop */
		if (!a)
			break;
		i = a - cmd->attrs;
		memmove(a, a + 1, (n - i - 1) * sizeof(*a));
		set_num_attrs(cmd, n - 1);
		break;
	case 1: /* duplicate */
		if (!a || n >= CMR_IOCTL_MAX_ATTRS)
			break;
		cmd->attrs[n] = *a;
		set_num_attrs(cmd, n + 1);
		break;
	case 2: /* another length: the wrong type of attribute */
		if (a)
			a->len = (uint16_t)PICK(h, ((const uint64_t[]){
				0, 1, 2, 3, 4, 7, 8, 9, 16, 4096, 65535 }));
		break;
	case 3: /* another id, also unknown ones */
		if (!a)
			break;
		a->attr_id = (uint16_t)(below(h, 3) ? below(h, 16) : rnd(h));
		/* An input's value must not become an address written to. */
		if (is_output(a->attr_id))
			a->data = bad_pointer(h);
		break;
	case 4: /* flag bits */
		if (a)
			a->flags = (uint16_t)rnd(h);
		break;
	case 5: /* reserved bits */
		if (a)
			a->attr_data.reserved = (uint16_t)(1 + below(h, 0xffff));
		break;
	case 6: /* an input value, or an output pointer, gone bad */
	case 7:
		if (a && is_output(a->attr_id))
			a->data = bad_pointer(h);
		else if (a)
			a->data = a->attr_id ==
				  UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH ?
				  edge_length(h) : edge_u64(h);
		break;
	case 8: /* header */
		switch (below(h, 5)) {
		case 0:
			cmd->hdr.driver_id = (uint32_t)rnd(h);
			break;
		case 1: /* objects that do not exist: one that does,
			 * with these attributes, could destroy the PD */
			cmd->hdr.object_id = (uint16_t)PICK(h, ((const uint64_t[]){
				17, 18, 20, 21, 0x1000, 0x1013, 0x7fff,
				0xffff }));
			break;
		case 2:
			cmd->hdr.method_id = (uint16_t)below(h, 8);
			break;
		case 3:
			if (below(h, 2))
				cmd->hdr.reserved1 = rnd(h) | 1;
			else
				cmd->hdr.reserved2 = (uint32_t)rnd(h) | 1;
			break;
		default: /* count and length disagree (within the array:
			  * the kernel writes flags back to what it reads) */
			cmd->hdr.num_attrs =
				(uint16_t)below(h, CMR_IOCTL_MAX_ATTRS + 1);
			break;
		}
		break;
	case 9:
		*ro = true;
		break;
	default: /* two mutations in one */
		mutate(h, cmd, ro);
		mutate(h, cmd, ro);
		break;
	}
}

/* The attribute's inline u64, if it is there and well formed, else dflt. */
static uint64_t attr_u64(struct cmr_ioctl_cmd *cmd, uint16_t id,
			 uint64_t dflt)
{
	struct ib_uverbs_attr *a = kt_cmd_attr(cmd, id);

	return a && a->len == 8 ? a->data : dflt;
}

static void count_error(struct hostile *h, int err)
{
	h->errors[err > 0 && err < 255 ? err : 255]++;
}

static unsigned int random_access(struct hostile *h)
{
	return (unsigned int)(below(h, 2) ? rnd(h) : below(h, 1U << 16));
}

/*
 * Where the kernel wrote output @id: a mutation may have given another
 * output attribute that id, so the value is read through the attribute's
 * own pointer, which must lie inside @out. False if it does not.
 */
static bool read_output(struct cmr_ioctl_cmd *cmd, uint16_t id,
			const struct cmr_buf_alloc_out *out, void *val,
			size_t size)
{
	struct ib_uverbs_attr *a = kt_cmd_attr(cmd, id);
	uintptr_t lo = (uintptr_t)out, hi = lo + sizeof(*out);

	if (!a || a->data < lo || a->data > hi - size)
		return false;
	memcpy(val, (const void *)(uintptr_t)a->data, size);
	return true;
}

/* A command succeeded: check the object it made, then destroy it. */
static void check_object(struct hostile *h, struct cmr_ioctl_cmd *sent,
			 struct cmr_buf_alloc_out *out, uint64_t asked)
{
	char path[64], target[64] = "";
	uint8_t *p = MAP_FAILED;
	uint64_t length = 0;
	struct ibv_mr *mr;
	int32_t fd = -1;
	bool found;
	ssize_t len;
	int ret;

	cmr_decode_buf_alloc(sent, out);
	if (out->handle > h->max_handle && out->handle < MAX_HANDLES)
		h->max_handle = out->handle;
	found = read_output(sent, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD, out,
			    &fd, sizeof(fd)) &&
		read_output(sent, UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH, out,
			    &length, sizeof(length));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	len = fd >= 0 ? readlink(path, target, sizeof(target) - 1) : -1;
	if (len > 0)
		target[len] = 0;
	if (!found || !strstr(target, "contig_buf") || length < asked ||
	    length - asked >= (uint64_t)h->page || length % h->page ||
	    out->handle >= MAX_HANDLES) {
		failure(h, "not a valid object: outputs %s, fd %d \"%s\", "
			"length %" PRIu64 " for %" PRIu64 ", handle %u",
			found ? "found" : "not where they were sent", fd,
			target, length, asked, out->handle);
		/* Let go of what there is, so that one failure stays one. */
		if (strstr(target, "contig_buf"))
			close(fd);
		if (!kt_raw_free(h->ctx, out->handle))
			h->freed = out->handle;
		return;
	}
	p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || p[0] || p[length - 1]) {
		failure(h, "its memory does not map or does not read zero");
		if (p != MAP_FAILED)
			munmap(p, length);
		p = MAP_FAILED;
	}
	if (p != MAP_FAILED && below(h, 4) == 0) {
		mr = ibv_reg_mr(h->pd, p, length, random_access(h));
		if (mr && ibv_dereg_mr(mr))
			failure(h, "ibv_dereg_mr: %s", strerror(errno));
	}
	if (p != MAP_FAILED)
		munmap(p, length);
	close(fd);
	ret = kt_raw_free(h->ctx, out->handle);
	if (ret)
		failure(h, "CONTIG_BUF_FREE of the new object: %s",
			strerrorname_np(ret));
	h->freed = out->handle;
}

/*
 * Send cmd, from a read-only copy if ro (what the kernel wrote to the copy
 * comes back into cmd). 0 or errno.
 */
static int send_cmd(struct hostile *h, struct cmr_ioctl_cmd *cmd, bool ro)
{
	struct cmr_ioctl_cmd *copy;
	int ret;

	if (!ro)
		return cmr_ioctl(h->ctx->cmd_fd, cmd);
	copy = mmap(NULL, sizeof(*cmd), PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (copy == MAP_FAILED)
		t_bail("mmap: %s", strerror(errno));
	memcpy(copy, cmd, sizeof(*cmd));
	if (mprotect(copy, sizeof(*cmd), PROT_READ))
		t_bail("mprotect: %s", strerror(errno));
	ret = cmr_ioctl(h->ctx->cmd_fd, copy);
	memcpy(cmd, copy, sizeof(*cmd));
	munmap(copy, sizeof(*cmd));
	return ret;
}

static void one_alloc(struct hostile *h)
{
	struct cmr_buf_alloc_in in = { .numa_node = -1 };
	struct cmr_buf_alloc_out out = { 0 };
	struct cmr_ioctl_cmd cmd;
	unsigned int i, n = (unsigned int)below(h, 4);
	bool ro = false;
	int ret;

	in.length = below(h, 4) ? good_length(h) : edge_length(h);
	if (below(h, 3) == 0)
		in.numa_node = (int32_t)(below(h, 2) ? below(h, 4) : rnd(h));
	if (below(h, 4) == 0)
		in.flags = (uint32_t)(below(h, 2) ? 1 : rnd(h));
	if (below(h, 4) == 0)
		in.min_extent = below(h, 2) ? (uint64_t)h->page << below(h, 24)
					    : edge_u64(h);
	cmr_encode_buf_alloc(&cmd, kt_raw_driver_id(), &in, &out);
	for (i = 0; i < n; i++)
		mutate(h, &cmd, &ro);
	ret = send_cmd(h, &cmd, ro);
	if (ret) {
		count_error(h, ret);
		return;
	}
	h->ok++;
	check_object(h, &cmd, &out,
		     attr_u64(&cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_LENGTH, 0));
}

static void one_free(struct hostile *h)
{
	uint64_t handles[] = {
		h->freed, h->pd->handle, h->max_handle + 1 + below(h, 64),
		UINT32_MAX, rnd(h),
	};
	struct cmr_ioctl_cmd cmd;
	unsigned int i, n = (unsigned int)below(h, 3);
	bool ro = false;
	int ret;

	cmr_encode_buf_free(&cmd, kt_raw_driver_id(),
			    (uint32_t)PICK(h, handles));
	for (i = 0; i < n; i++)
		mutate(h, &cmd, &ro);
	ret = send_cmd(h, &cmd, ro);
	/* No buffer is alive between calls: nothing can be freed. */
	if (ret)
		count_error(h, ret);
	else
		failure(h, "a FREE with no live buffer succeeded");
}

/*
 * The attacker: uid and gid nobody, RLIMIT_MEMLOCK 8 MiB (so that some
 * lengths that would work exceed it), its own device context. Runs the
 * calls and records its end state in h. Exit status 0 when it got to the
 * end; anything it could not set up bails out.
 */
static noreturn void attacker(struct hostile *h, long calls)
{
	struct rlimit rl = { MEMLOCK_LIMIT, MEMLOCK_LIMIT };
	uint32_t i;

	if (setrlimit(RLIMIT_MEMLOCK, &rl) || t_become_nobody())
		t_bail("dropping privileges: %s", strerror(errno));
	h->page = sysconf(_SC_PAGESIZE);
	h->ctx = t_open_device(getenv("CMR_RXE"));
	if (kt_raw_init(h->ctx))
		t_bail("uverbs driver id");
	h->pd = ibv_alloc_pd(h->ctx);
	h->ro_page = mmap(NULL, h->page, PROT_READ,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	h->unmapped = mmap(NULL, h->page, PROT_NONE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!h->pd || h->ro_page == MAP_FAILED || h->unmapped == MAP_FAILED ||
	    munmap(h->unmapped, h->page))
		t_bail("set-up: %s", strerror(errno));
	h->freed = MAX_HANDLES - 1;
	h->pin_before = t_status_kb(0, "VmPin");
	h->lck_before = t_status_kb(0, "VmLck");

	for (h->calls = 0; h->calls < calls; h->calls++) {
		/* Call N draws the same whatever earlier calls returned. */
		h->rng = mix(h->seed ^ (uint64_t)h->calls) | 1;
		if (below(h, 5))
			one_alloc(h);
		else
			one_free(h);
	}

	for (i = 0; i <= h->max_handle + 16; i++)
		h->left += !kt_raw_free(h->ctx, i);
	if (kt_fd_count(&h->contig_fds) < 0)
		h->contig_fds = -1;
	h->contig_maps = t_mappings_of("contig_buf");
	h->pin_after = t_status_kb(0, "VmPin");
	h->lck_after = t_status_kb(0, "VmLck");
	ibv_dealloc_pd(h->pd);
	ibv_close_device(h->ctx);
	fflush(stdout);
	exit(0);
}

int main(int argc, char **argv)
{
	struct hostile *h;
	long long base, tol;
	uint64_t seed;
	double start;
	int status, e;
	long calls;
	pid_t pid;

	if (argc < 2 || argc > 3 || (calls = atol(argv[1])) <= 0)
		t_bail("usage: %s CALLS [SEED]", argv[0]);
	seed = argc == 3 ? strtoull(argv[2], NULL, 0) :
			   (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	t_diag("seed %" PRIu64 " (repeat: kernel_hostile %ld %" PRIu64 ")",
	       seed, calls, seed);
	h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		t_bail("mmap: %s", strerror(errno));
	memset(h, 0, sizeof(*h));
	h->seed = seed;
	/* No device skips here, before a child could print a plan of its own. */
	ibv_close_device(t_open_device(getenv("CMR_RXE")));

	base = t_free_mem_kb();
	tol = t_free_mem_tolerance_kb(8192);
	start = t_now();
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		t_bail("fork: %s", strerror(errno));
	if (!pid)
		attacker(h, calls);
	if (waitpid(pid, &status, 0) != pid)
		t_bail("waitpid: %s", strerror(errno));
	t_ok(WIFEXITED(status) && !WEXITSTATUS(status),
	     "the caller (uid %d, RLIMIT_MEMLOCK %d MiB) ran %ld of %ld "
	     "calls in %.1f s (status 0x%x)", T_NOBODY, MEMLOCK_LIMIT >> 20,
	     h->calls, calls, t_now() - start, status);
	t_diag("%ld calls made an object", h->ok);
	for (e = 1; e < 256; e++)
		if (h->errors[e])
			t_diag("  %ld failed with %s", h->errors[e],
			       e < 255 && strerrorname_np(e) ?
			       strerrorname_np(e) : "another value");
	t_ok(h->ok > 0 && h->ok < h->calls,
	     "the calls made objects and were refused (%ld of %ld made one)",
	     h->ok, h->calls);
	t_ok(!h->failures, "every object was valid and went away: a "
	     "contig_buf fd, the length asked for, zeroed memory, FREE works "
	     "(%ld broke that%s%s)", h->failures, h->failures ? "; first: " : "",
	     h->first_failure);
	t_ok(!h->left, "no object left: CONTIG_BUF_FREE of handles 0 to %u "
	     "freed %d", h->max_handle + 16, h->left);
	t_ok(!h->contig_fds, "no contig_buf fd left (%d)", h->contig_fds);
	t_ok(!h->contig_maps, "no contig_buf mapping left (%d)",
	     h->contig_maps);
	t_ok(h->pin_before >= 0 && h->lck_before >= 0 &&
	     h->pin_after == h->pin_before && h->lck_after == h->lck_before,
	     "VmPin %lld kB and VmLck %lld kB as before (%lld, %lld)",
	     h->pin_after, h->lck_after, h->pin_before, h->lck_before);
	t_free_mem_returned("after the caller exited", base, tol, 30);
	return t_done();
}
