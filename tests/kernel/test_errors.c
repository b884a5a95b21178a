// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_errors: UVERBS_METHOD_CONTIG_BUF_ALLOC and CONTIG_BUF_FREE refuse
 * bad input with the documented errno, quickly, and leave the system
 * healthy; the buffer's fd refuses the mappings it must refuse. Input the
 * library would refuse before the kernel sees it goes through the raw
 * ioctl encoder (kt_raw_alloc()).
 *
 *  - a well-formed command (control): the fd is O_RDWR and O_CLOEXEC, an
 *    anonymous "contig_buf" file; RESP_LENGTH and RESP_ALIGNMENT as the
 *    contract says;
 *  - length 0: EINVAL; 1 and page - 1 work and are one page, page + 1 two;
 *    ~0 and 2^64 - 4095 (overflow when rounded up to a page): EINVAL;
 *    2^64 - 4096 and 2^63 (round without overflow, more than RAM): ENOMEM;
 *    the library refuses 0 and SIZE_MAX with EINVAL too;
 *  - unknown bits in the flags attribute, as u32 and as u64: EINVAL;
 *    NODE_STRICT on node 0 works (control);
 *  - NUMA nodes: >= nr_node_ids (64, 0x7fffffff, the first impossible
 *    one): EINVAL; a possible node that is offline, and an online node
 *    without memory, where the guest has one: EINVAL; node 0 works and
 *    RESP_NUMA_NODE says 0;
 *  - CONTIG_BUF_FREE of a handle that never existed, of one already freed
 *    (twice), of another context's buffer: ENOENT (that buffer survives);
 *    of a PD's handle: EINVAL (wrong object type);
 *  - more than the guest's RAM: ENOMEM at once (length check); 7/8 of
 *    MemTotal, which passes that check and goes to alloc_contig_pages():
 *    ENOMEM, timed (no zone of the guest is that large, so it is quick);
 *    afterwards a 2 MiB buffer works and carries RDMA through an MR;
 *  - outputs the kernel cannot write (RESP_FD, RESP_LENGTH, RESP_ALIGNMENT,
 *    RESP_NUMA_NODE each pointing to NULL, to an unmapped address, to a
 *    read-only page and into kernel space; and the command itself in a
 *    read-only page, so that the new handle cannot be written back), with
 *    64 MiB that the kernel has allocated and zeroed by then: EFAULT, and
 *    nothing left behind: no new fd in /proc/self/fd, no object (FREE of
 *    the handle written back: ENOENT), no mapping, VmLck and free memory
 *    back where they were;
 *  - mmap() of the fd: MAP_PRIVATE, an offset at or past the end, a length
 *    past the end, an offset that is not page aligned: EINVAL; no mapping
 *    is left by any of them;
 *  - RLIMIT_AS too small for the mapping: mmap() fails with ENOMEM, the
 *    buffer is untouched, and all of it goes back when its process exits;
 *  - RLIMIT_MEMLOCK: as user 65534 (no CAP_IPC_LOCK) with a 1 MiB limit,
 *    4 MiB fails with ENOMEM; 512 KiB works; a second 768 KiB on top of it
 *    fails (the buffer is charged for its life), also after FREE and
 *    close() while the mapping still holds the 512 KiB, and works once
 *    it is unmapped (uncharged); as root with the same limit,
 *    CAP_IPC_LOCK lifts it;
 *  - mremap() cannot grow the mapping (VM_DONTEXPAND), in place or by
 *    moving; the mapping and an MR over it are intact afterwards.
 *
 * Not here: EOPNOTSUPP on a kernel without the series (tests/vm, library).
 *
 *   kernel_errors           (SETUP loop)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs_contig.h>

#include "kt.h"

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static struct t_loop loop;

/*
 * Raw allocation expected to fail; undoes an unexpected success. *len
 * (may be NULL) receives RESP_LENGTH of a success.
 */
static int raw_try(uint64_t len, int32_t node, uint32_t flags, double *secs,
		   uint64_t *resp_len)
{
	struct kt_buf b;
	double t0 = t_now();
	int ret;

	ret = kt_raw_alloc(ctx, len, node, flags, &b);
	if (secs)
		*secs = t_now() - t0;
	if (!ret) {
		if (resp_len)
			*resp_len = b.length;
		kt_buf_release(&b);
	}
	return ret;
}

/* ---- a well-formed command ---------------------------------------------- */

static void test_control(void)
{
	char path[64], target[256] = "";
	struct kt_buf b;
	ssize_t n;
	int ret, fdfl, fl;

	ret = kt_raw_alloc(ctx, 3 * 4096, -1, 0, &b);
	if (!t_errno_is(ret, 0, "control: CONTIG_BUF_ALLOC of 12 KiB"))
		return;
	fdfl = fcntl(b.fd, F_GETFD);
	fl = fcntl(b.fd, F_GETFL);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", b.fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n > 0)
		target[n] = '\0';
	t_ok(b.fd >= 0 && fdfl >= 0 && (fdfl & FD_CLOEXEC) && fl >= 0 &&
		     (fl & O_ACCMODE) == O_RDWR,
	     "control: RESP_FD %d is O_RDWR and O_CLOEXEC", b.fd);
	t_ok(strstr(target, "contig_buf") != NULL,
	     "control: the fd is the anonymous contig_buf file (%s)", target);
	t_ok(b.length == 3 * 4096, "control: RESP_LENGTH %" PRIu64, b.length);
	t_ok(b.alignment >= 4096 && !(b.alignment & (b.alignment - 1)) &&
		     b.alignment <= 4 * 4096,
	     "control: RESP_ALIGNMENT 0x%" PRIx64 " is a power of two in "
	     "[4 KiB, roundup_pow_of_two(12 KiB)]", b.alignment);
	t_ok(!kt_buf_release(&b), "control: CONTIG_BUF_FREE and close");
}

/* ---- lengths and flags -------------------------------------------------- */

static void test_lengths(void)
{
	struct ibv_contig_buf *buf = NULL;
	struct ibv_mr *mr;
	uint64_t rl;
	int ret;

	t_errno_is(raw_try(0, -1, 0, NULL, NULL), EINVAL, "raw: length 0");
	ret = ibv_alloc_contig_buf(pd, 0, NULL, &buf);
	t_errno_is(ret, EINVAL, "library: ibv_alloc_contig_buf of length 0");
	if (!ret)
		ibv_free_contig_buf(buf);
	mr = ibv_alloc_contig_mr(pd, 0, 0);
	t_errno_is(mr ? 0 : errno, EINVAL, "library: ibv_alloc_contig_mr of "
		   "length 0");
	if (mr)
		ibv_free_contig_mr(mr);

	rl = 0;
	t_errno_is(raw_try(1, -1, 0, NULL, &rl), 0, "raw: length 1 works");
	t_ok(rl == 4096, "raw: ... rounded up to one page (%" PRIu64 ")", rl);
	rl = 0;
	t_errno_is(raw_try(4095, -1, 0, NULL, &rl), 0,
		   "raw: length page - 1 works");
	t_ok(rl == 4096, "raw: ... one page (%" PRIu64 ")", rl);
	rl = 0;
	t_errno_is(raw_try(4097, -1, 0, NULL, &rl), 0,
		   "raw: length page + 1 works");
	t_ok(rl == 8192, "raw: ... two pages (%" PRIu64 ")", rl);

	t_errno_is(raw_try(~0ULL, -1, 0, NULL, NULL), EINVAL,
		   "raw: length ~0 (overflows when rounded up to a page)");
	t_errno_is(raw_try(~0ULL - 4094, -1, 0, NULL, NULL), EINVAL,
		   "raw: length 2^64 - 4095 (overflows by one byte)");
	t_errno_is(raw_try(~0ULL - 4095, -1, 0, NULL, NULL), ENOMEM,
		   "raw: length 2^64 - 4096 (rounds without overflow, more "
		   "than RAM)");
	t_errno_is(raw_try(1ULL << 63, -1, 0, NULL, NULL), ENOMEM,
		   "raw: length 2^63");
	mr = ibv_alloc_contig_mr(pd, SIZE_MAX, 0);
	t_errno_is(mr ? 0 : errno, EINVAL, "library: length SIZE_MAX");
	if (mr)
		ibv_free_contig_mr(mr);
}

static void test_flags(void)
{
	struct cmr_buf_alloc_in in = { .length = 4096, .numa_node = -1 };
	struct cmr_buf_alloc_out out;
	struct cmr_ioctl_cmd cmd;
	struct ib_uverbs_attr *a;
	int ret;

	t_errno_is(raw_try(4096, -1, 1u << 1, NULL, NULL), EINVAL,
		   "raw: unknown flag 1 << 1");
	t_errno_is(raw_try(4096, -1, 1u << 31, NULL, NULL), EINVAL,
		   "raw: unknown flag 1 << 31");
	t_errno_is(raw_try(4096, 0, IB_UVERBS_CONTIG_BUF_NODE_STRICT, NULL,
			   NULL),
		   0, "raw: NODE_STRICT on node 0 works (control)");

	/* FLAGS as a u64: NODE_STRICT plus bit 40. */
	in.flags = IB_UVERBS_CONTIG_BUF_NODE_STRICT;
	cmr_encode_buf_alloc(&cmd, kt_raw_driver_id(), &in, &out);
	a = kt_cmd_attr(&cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_FLAGS);
	if (!a) {
		t_skip("raw: u64 flags: the encoder sent no FLAGS attribute");
		return;
	}
	a->len = sizeof(uint64_t);
	a->data = IB_UVERBS_CONTIG_BUF_NODE_STRICT | 1ULL << 40;
	ret = cmr_ioctl(ctx->cmd_fd, &cmd);
	t_errno_is(ret, EINVAL, "raw: FLAGS as u64 with bit 40");
	if (!ret) {
		cmr_decode_buf_alloc(&cmd, &out);
		kt_raw_free(ctx, out.handle);
		close(out.fd);
	}
	a->data = IB_UVERBS_CONTIG_BUF_NODE_STRICT;
	ret = cmr_ioctl(ctx->cmd_fd, &cmd);
	t_errno_is(ret, 0, "raw: FLAGS as u64 with NODE_STRICT only works");
	if (!ret) {
		cmr_decode_buf_alloc(&cmd, &out);
		kt_raw_free(ctx, out.handle);
		close(out.fd);
	}
}

/* ---- NUMA nodes --------------------------------------------------------- */

/* A node list file ("0-1,3") as a mask of nodes 0..63; 0 when unreadable. */
static uint64_t node_mask(const char *file)
{
	char path[128], buf[256], *p;
	uint64_t mask = 0;
	long lo, hi;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/%s", file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	for (p = buf; *p && *p != '\n';) {
		lo = strtol(p, &p, 10);
		hi = lo;
		if (*p == '-')
			hi = strtol(p + 1, &p, 10);
		for (; lo <= hi && lo < 64; lo++)
			mask |= 1ULL << lo;
		if (*p == ',')
			p++;
		else
			break;
	}
	return mask;
}

static void test_nodes(void)
{
	uint64_t possible = node_mask("possible"), online = node_mask("online");
	uint64_t memory = node_mask("has_memory");
	int nr_node_ids = possible ? 64 - __builtin_clzll(possible) : 1;
	struct kt_buf b;
	int node, ret;

	t_diag("nodes: possible 0x%" PRIx64 ", online 0x%" PRIx64
	       ", with memory 0x%" PRIx64 ", nr_node_ids %d", possible, online,
	       memory, nr_node_ids);
	ret = kt_raw_alloc(ctx, 4096, 0, 0, &b);
	if (t_errno_is(ret, 0, "raw: NUMA node 0 works (control)")) {
		t_ok(b.numa_node == 0, "raw: ... RESP_NUMA_NODE %u",
		     b.numa_node);
		kt_buf_release(&b);
	}
	t_errno_is(raw_try(4096, nr_node_ids, 0, NULL, NULL), EINVAL,
		   "raw: NUMA node %d (nr_node_ids)", nr_node_ids);
	t_errno_is(raw_try(4096, 64, 0, NULL, NULL), EINVAL,
		   "raw: NUMA node 64");
	t_errno_is(raw_try(4096, 0x7fffffff, 0, NULL, NULL), EINVAL,
		   "raw: NUMA node 0x7fffffff");
	t_errno_is(raw_try(4096, 0x7fffffff, IB_UVERBS_CONTIG_BUF_NODE_STRICT,
			   NULL, NULL),
		   EINVAL, "raw: NUMA node 0x7fffffff, NODE_STRICT");

	for (node = 0; node < nr_node_ids && node < 64; node++)
		if ((possible & 1ULL << node) && !(online & 1ULL << node))
			break;
	if (node < nr_node_ids && node < 64)
		t_errno_is(raw_try(4096, node, 0, NULL, NULL), EINVAL,
			   "raw: NUMA node %d (possible, offline)", node);
	else
		t_skip("raw: offline node: every possible node is online");

	for (node = 0; node < nr_node_ids && node < 64; node++)
		if ((online & 1ULL << node) && !(memory & 1ULL << node))
			break;
	if (node < nr_node_ids && node < 64 && memory)
		t_errno_is(raw_try(4096, node, 0, NULL, NULL), EINVAL,
			   "raw: NUMA node %d (online, no memory)", node);
	else
		t_skip("raw: memoryless node: every online node has memory");
}

/* ---- handles ------------------------------------------------------------ */

static void test_handles(void)
{
	struct ibv_context *ctx2;
	struct ibv_pd *fill[16] = { 0 };
	struct kt_buf b, other;
	unsigned int i;
	int ret;

	t_errno_is(kt_raw_free(ctx, 0x7fffff00), ENOENT,
		   "free: a handle that never existed");
	ret = kt_raw_alloc(ctx, 4096, -1, 0, &b);
	if (t_errno_is(ret, 0, "free: allocate 4 KiB")) {
		t_errno_is(kt_raw_free(ctx, b.handle), 0, "free: handle %u",
			   b.handle);
		t_errno_is(kt_raw_free(ctx, b.handle), ENOENT,
			   "free: the same handle again");
		t_errno_is(kt_raw_free(ctx, b.handle), ENOENT,
			   "free: and a third time");
		b.object = false;
		kt_buf_release(&b);
	}
	t_errno_is(kt_raw_free(ctx, pd->handle), EINVAL,
		   "free: a PD's handle %u (another object type)", pd->handle);

	/*
	 * Handles are per uverbs file: a buffer of a second context, whose
	 * handle (after 16 PDs) exists in no object of ours.
	 */
	ctx2 = ibv_open_device(ctx->device);
	if (!ctx2) {
		t_skip("free: another context's handle: ibv_open_device "
		       "failed");
		return;
	}
	for (i = 0; i < 16; i++)
		fill[i] = ibv_alloc_pd(ctx2);
	ret = kt_raw_alloc(ctx2, 4096, -1, 0, &other);
	if (t_errno_is(ret, 0, "free: a buffer in a second context")) {
		t_errno_is(kt_raw_free(ctx, other.handle), ENOENT,
			   "free: its handle %u in our context", other.handle);
		t_ok(!kt_buf_release(&other), "free: ... the buffer is still "
		     "there: its own context frees it");
	}
	for (i = 16; i-- > 0;)
		if (fill[i])
			ibv_dealloc_pd(fill[i]);
	ibv_close_device(ctx2);
}

/* ---- too big ------------------------------------------------------------ */

static void test_too_big(void)
{
	long long total_kb = t_meminfo_kb("MemTotal");
	uint64_t total = (uint64_t)total_kb * 1024, big;
	struct ibv_mr *mr;
	struct kt_buf b;
	double secs;
	int ret;

	ret = raw_try(2 * total, -1, 0, &secs, NULL);
	t_errno_is(ret, ENOMEM, "raw: twice the guest's RAM (%" PRIu64
		   " MiB) in %.3f s", 2 * total >> 20, secs);
	t_ok(secs < 1, "raw: ... refused at once (%.3f s)", secs);
	ret = raw_try(1ULL << 47, -1, 0, &secs, NULL);
	t_errno_is(ret, ENOMEM, "raw: 128 TiB (more than the address space)");

	/* Passes the length check; the allocator must search and give up. */
	big = total / 8 * 7 & ~(KT_MIB - 1);
	ret = raw_try(big, -1, 0, &secs, NULL);
	t_errno_is(ret, ENOMEM, "raw: 7/8 of MemTotal (%" PRIu64 " MiB): "
		   "passes the RAM check, no free range that large in %.2f s",
		   big >> 20, secs);
	t_ok(secs < 30, "raw: ... and gives up without a long search");
	t_diag("free memory %lld kB after the failed search", t_free_mem_kb());

	ret = kt_buf_new(ctx, 2 * KT_MIB, &b);
	if (!t_errno_is(ret, 0, "afterwards a 2 MiB buffer works"))
		return;
	mr = ibv_reg_mr(pd, b.addr, b.length, KT_ACCESS_ALL);
	t_ok(mr && !t_loop_verify(&loop, mr, 0, 2 * KT_MIB, 0x81, 30000),
	     "and carries RDMA READ and WRITE through an MR over it (2 MiB "
	     "checked)");
	if (mr)
		ibv_dereg_mr(mr);
	kt_buf_release(&b);
}

/* ---- outputs the kernel cannot write ------------------------------------ */

struct leftovers {
	int fds, contig_fds, maps;
	long long vmlck_kb, free_kb;
};

static void leftovers_now(struct leftovers *l)
{
	l->fds = kt_fd_count(&l->contig_fds);
	l->maps = t_mappings_of("contig_buf");
	l->vmlck_kb = t_status_kb(0, "VmLck");
	l->free_kb = t_free_mem_kb();
}

/*
 * After an EFAULT: the same fds, no contig_buf fd or mapping, VmLck as
 * before, the handle the kernel wrote back (if it did) unknown, free memory
 * back within tol_kb.
 */
static void check_nothing_left(const char *what,
			       const struct leftovers *before,
			       struct cmr_ioctl_cmd *cmd, uint64_t sentinel,
			       long long tol_kb)
{
	struct ib_uverbs_attr *h =
		kt_cmd_attr(cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE);
	struct leftovers after;
	int free_ret = ENOENT;

	/* The kernel writes the new id back before it runs the handler. */
	if (h && h->data != sentinel)
		free_ret = kt_raw_free(ctx, (uint32_t)h->data);
	t_free_mem_wait(before->free_kb - tol_kb, 10);
	leftovers_now(&after);
	t_ok(after.fds == before->fds && after.contig_fds == 0 &&
		     after.maps == 0 && after.vmlck_kb == before->vmlck_kb &&
		     free_ret == ENOENT &&
		     before->free_kb - after.free_kb <= tol_kb,
	     "%s: nothing left: fds %d -> %d (contig_buf %d), mappings %d, "
	     "VmLck %lld -> %lld kB, FREE of handle %s: %s, free memory "
	     "%+lld kB", what, before->fds, after.fds, after.contig_fds,
	     after.maps, before->vmlck_kb, after.vmlck_kb,
	     h && h->data != sentinel ? "written back" : "(none written)",
	     free_ret ? strerrorname_np(free_ret) : "freed something",
	     after.free_kb - before->free_kb);
}

static void test_outputs(void)
{
	static const struct {
		uint16_t id;
		const char *name;
	} outs[] = {
		{ UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD, "RESP_FD" },
		{ UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH, "RESP_LENGTH" },
		{ UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_ALIGNMENT,
		  "RESP_ALIGNMENT" },
		{ UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_NUMA_NODE,
		  "RESP_NUMA_NODE" },
	};
	const uint64_t sentinel = 0x7ffffe00;
	struct cmr_buf_alloc_in in = {
		.length = 64 * KT_MIB, .numa_node = -1,
	};
	long long tol = t_free_mem_tolerance_kb(4096);
	struct cmr_buf_alloc_out out;
	struct cmr_ioctl_cmd cmd, *ro_cmd;
	struct ib_uverbs_attr *a, *h;
	struct leftovers before;
	uint64_t bad[4];
	const char *bad_name[4] = { "NULL", "an unmapped address",
				    "a read-only page", "kernel space" };
	unsigned int i, j;
	char what[128];
	void *ro;
	int ret;

	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro == MAP_FAILED)
		t_bail("mmap: %s", strerror(errno));
	bad[0] = 0;
	bad[1] = 8;
	bad[2] = (uintptr_t)ro;
	bad[3] = UINT64_C(0xffff888000000000);

	for (i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
		cmr_encode_buf_alloc(&cmd, kt_raw_driver_id(), &in, &out);
		if (!kt_cmd_attr(&cmd, outs[i].id)) {
			t_skip("outputs: the encoder sends no %s", outs[i].name);
			continue;
		}
		for (j = 0; j < 4; j++) {
			cmr_encode_buf_alloc(&cmd, kt_raw_driver_id(), &in,
					     &out);
			kt_cmd_attr(&cmd, outs[i].id)->data = bad[j];
			h = kt_cmd_attr(&cmd,
					UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE);
			h->data = sentinel;
			leftovers_now(&before);
			ret = cmr_ioctl(ctx->cmd_fd, &cmd);
			snprintf(what, sizeof(what), "outputs: 64 MiB with %s "
				 "pointing to %s", outs[i].name, bad_name[j]);
			t_errno_is(ret, EFAULT, "%s", what);
			if (!ret) {
				cmr_decode_buf_alloc(&cmd, &out);
				kt_raw_free(ctx, out.handle);
				close(out.fd);
				continue;
			}
			check_nothing_left(what, &before, &cmd, sentinel, tol);
		}
	}

	/* The whole command read-only: the new handle cannot be written. */
	ro_cmd = mmap(NULL, sizeof(*ro_cmd), PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro_cmd == MAP_FAILED)
		t_bail("mmap: %s", strerror(errno));
	cmr_encode_buf_alloc(ro_cmd, kt_raw_driver_id(), &in, &out);
	a = kt_cmd_attr(ro_cmd, UVERBS_ATTR_ALLOC_CONTIG_BUF_HANDLE);
	a->data = sentinel;
	mprotect(ro_cmd, sizeof(*ro_cmd), PROT_READ);
	leftovers_now(&before);
	ret = cmr_ioctl(ctx->cmd_fd, ro_cmd);
	t_errno_is(ret, EFAULT, "outputs: the command in a read-only page "
		   "(the handle cannot be written back)");
	if (!ret) {
		cmr_decode_buf_alloc(ro_cmd, &out);
		kt_raw_free(ctx, out.handle);
		close(out.fd);
	} else {
		check_nothing_left("outputs: read-only command", &before,
				   ro_cmd, sentinel, tol);
	}
	munmap(ro_cmd, sizeof(*ro_cmd));
	munmap(ro, 4096);
}

/* ---- mappings of the fd ------------------------------------------------- */

static void test_mmap(void)
{
	static const struct {
		uint64_t off, len;
		int flags;
		const char *what;
	} bad[] = {
		{ 0, 8192, MAP_PRIVATE, "MAP_PRIVATE" },
		{ 8192, 4096, MAP_SHARED, "offset at the end" },
		{ 16384, 4096, MAP_SHARED, "offset past the end" },
		{ 0, 12288, MAP_SHARED, "length one page past the end" },
		{ 4096, 8192, MAP_SHARED, "offset 1 page, length 2 pages "
					  "(past the end)" },
		{ 100, 4096, MAP_SHARED, "offset not page aligned" },
		{ UINT64_C(1) << 46, 4096, MAP_SHARED, "offset 2^46" },
	};
	struct kt_buf b;
	unsigned int i;
	void *p;
	int ret, maps;

	ret = kt_raw_alloc(ctx, 8192, -1, 0, &b);
	if (!t_errno_is(ret, 0, "mmap: allocate 8 KiB"))
		return;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = kt_buf_mmap(&b, bad[i].off, bad[i].len, bad[i].flags);
		t_errno_is(p == MAP_FAILED ? errno : 0, EINVAL, "mmap: %s",
			   bad[i].what);
		if (p != MAP_FAILED)
			munmap(p, bad[i].len);
	}
	maps = t_mappings_of("contig_buf");
	t_ok(maps == 0, "mmap: no mapping left by the refused ones (%d)",
	     maps);
	p = kt_buf_mmap(&b, 4096, 4096, MAP_SHARED);
	t_ok(p != MAP_FAILED, "mmap: the last page alone works (control)");
	if (p != MAP_FAILED)
		munmap(p, 4096);
	kt_buf_release(&b);
}

/* ---- RLIMIT_AS ---------------------------------------------------------- */

static void test_rlimit_as(void)
{
	long long tol = t_free_mem_tolerance_kb(4096), base, now;
	int status;
	pid_t pid;

	/* Allocated and zeroed, then the mapping does not fit. */
	base = t_free_mem_kb();
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* A context of its own: its exit closes it. */
		struct ibv_context *c = t_open_device(getenv("CMR_RXE"));
		long long vm_kb = t_status_kb(0, "VmSize");
		struct rlimit rl;
		struct kt_buf b;
		void *p;
		int bits = 0;

		if (vm_kb < 0)
			_exit(100);
		/* 16 MiB of room: the 64 MiB mapping cannot fit. */
		rl.rlim_cur = rl.rlim_max = (vm_kb + 16 * 1024) * 1024;
		if (setrlimit(RLIMIT_AS, &rl))
			_exit(101);
		if (kt_raw_alloc(c, 64 * KT_MIB, -1, 0, &b))
			_exit(102);
		p = kt_buf_mmap(&b, 0, b.length, MAP_SHARED);
		if (p == MAP_FAILED && errno == ENOMEM)
			bits |= 1;
		if (t_mappings_of("contig_buf") == 0)
			bits |= 2;
		/* Exit with the object and the fd: the exit frees them. */
		_exit(bits);
	}
	waitpid(pid, &status, 0);
	t_ok(WIFEXITED(status) && WEXITSTATUS(status) == 3,
	     "rlimit-as: RLIMIT_AS leaves no room for the mapping: mmap "
	     "ENOMEM, nothing mapped (child status %d)",
	     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	now = t_free_mem_wait(base - tol, 10);
	t_ok(base - now <= tol, "rlimit-as: the 64 MiB went back at the "
	     "child's exit (free memory %+lld kB)", now - base);
}

/* ---- RLIMIT_MEMLOCK ----------------------------------------------------- */

/*
 * In a child (the uid change cannot be undone). Exit status bits:
 * 1: 4 MiB over the limit refused, 2: 512 KiB allowed, 4: 768 KiB more
 * refused, 8: still refused after FREE and close of the 512 KiB while it
 * is mapped, 16: 768 KiB allowed once it is unmapped, 64: set-up failed.
 * Errors seen are printed as diagnostics.
 */
static int memlock_child(bool drop_root)
{
	struct rlimit rl = { KT_MIB, KT_MIB };
	const char *who = drop_root ? "uid 65534" : "root";
	struct ibv_context *c;
	struct kt_buf a, b;
	int bits = 0, ret;

	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		return 64;
	if (drop_root && (setgid(65534) || setuid(65534)))
		return 64;
	c = t_open_device(getenv("CMR_RXE"));

	ret = kt_raw_alloc(c, 4 * KT_MIB, -1, 0, &a);
	printf("# %s, 1 MiB limit: 4 MiB -> %s\n", who,
	       ret ? strerrorname_np(ret) : "allocated");
	if (ret == ENOMEM || (!ret && !drop_root))
		bits |= 1;
	if (!ret)
		kt_buf_release(&a);

	if (kt_buf_new(c, 512 * KT_KIB, &a)) {
		ibv_close_device(c);
		return bits;
	}
	bits |= 2;
	ret = kt_raw_alloc(c, 768 * KT_KIB, -1, 0, &b);
	printf("# %s: 512 KiB held, then 768 KiB more -> %s\n", who,
	       ret ? strerrorname_np(ret) : "allocated");
	if (ret == ENOMEM || (!ret && !drop_root))
		bits |= 4;
	if (!ret)
		kt_buf_release(&b);

	kt_buf_drop_object(&a);
	kt_buf_drop_fd(&a);
	ret = kt_raw_alloc(c, 768 * KT_KIB, -1, 0, &b);
	printf("# %s: 512 KiB freed and closed but mapped, 768 KiB -> %s\n",
	       who, ret ? strerrorname_np(ret) : "allocated");
	if (ret == ENOMEM || (!ret && !drop_root))
		bits |= 8;
	if (!ret)
		kt_buf_release(&b);

	kt_buf_drop_map(&a);
	ret = kt_raw_alloc(c, 768 * KT_KIB, -1, 0, &b);
	printf("# %s: 512 KiB unmapped too, 768 KiB -> %s\n", who,
	       ret ? strerrorname_np(ret) : "allocated");
	if (!ret) {
		bits |= 16;
		kt_buf_release(&b);
	}
	ibv_close_device(c);
	fflush(stdout);
	return bits;
}

static int run_child(bool drop_root)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(memlock_child(drop_root));
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 64;
	return WEXITSTATUS(status);
}

static void test_memlock(void)
{
	int bits;

	if (geteuid() != 0) {
		t_skip("memlock: needs root to switch users");
		return;
	}
	bits = run_child(true);
	if (!t_ok(!(bits & 64), "memlock: child as uid 65534 with "
		  "RLIMIT_MEMLOCK 1 MiB set up"))
		return;
	t_ok(bits & 1, "memlock: uid 65534: 4 MiB over a 1 MiB limit: ENOMEM");
	t_ok(bits & 2, "memlock: uid 65534: 512 KiB within the limit works");
	t_ok(bits & 4, "memlock: uid 65534: 768 KiB more while holding "
	     "512 KiB: ENOMEM (the buffer is charged)");
	t_ok(bits & 8, "memlock: uid 65534: still ENOMEM after FREE and "
	     "close() of the 512 KiB while its mapping holds it");
	t_ok(bits & 16, "memlock: uid 65534: 768 KiB works once the 512 KiB "
	     "is unmapped too (uncharged with its last holder)");

	bits = run_child(false);
	t_ok(bits == (1 | 2 | 4 | 8 | 16), "memlock: root (CAP_IPC_LOCK) with "
	     "the same 1 MiB limit: everything works (bits 0x%x)", bits);
}

/* ---- mremap ------------------------------------------------------------- */

static void test_mremap(void)
{
	const uint64_t len = 2 * KT_MIB;
	uint64_t pfn_before = 0, pfn_after = 0;
	struct ibv_mr *mr;
	struct kt_buf b;
	void *p;

	if (!t_errno_is(kt_buf_new(ctx, len, &b), 0,
			"mremap: allocate and map 2 MiB"))
		return;
	mr = ibv_reg_mr(pd, b.addr, len, KT_ACCESS_ALL);
	if (!t_ok(mr != NULL, "mremap: ibv_reg_mr over it")) {
		kt_buf_release(&b);
		return;
	}
	t_fill(b.addr, len, 0x91, 0);
	t_pagemap_pfn(b.addr, &pfn_before);

	p = mremap(b.addr, len, 2 * len, 0);
	t_ok(p == MAP_FAILED, "mremap: growing in place fails (%s)",
	     p == MAP_FAILED ? strerrorname_np(errno) : "it grew");
	p = mremap(b.addr, len, 2 * len, MREMAP_MAYMOVE);
	t_ok(p == MAP_FAILED, "mremap: growing with MREMAP_MAYMOVE fails (%s)",
	     p == MAP_FAILED ? strerrorname_np(errno) : "it grew");

	t_pagemap_pfn(b.addr, &pfn_after);
	t_ok(t_is_mapped(b.addr, len) && pfn_after == pfn_before &&
		     t_check(b.addr, len, 0x91, 0) < 0,
	     "mremap: the mapping is intact (same pages, same data)");
	t_ok(!t_loop_verify(&loop, mr, 0, len, 0x92, 30000),
	     "mremap: the MR still carries RDMA READ and WRITE");
	t_errno_is(ibv_dereg_mr(mr), 0, "mremap: ibv_dereg_mr");
	t_ok(!kt_buf_release(&b), "mremap: FREE, close, munmap");
}

int main(void)
{
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	t_dev_setup(getenv("CMR_RXE"), &ctx, &pd, &loop);
	if (kt_raw_init(ctx))
		t_bail("uverbs driver id");

	test_control();
	test_lengths();
	test_flags();
	test_nodes();
	test_handles();
	test_too_big();
	test_outputs();
	test_mmap();
	test_rlimit_as();
	test_memlock();
	test_mremap();

	t_dev_teardown(ctx, pd, &loop);
	return t_done();
}
