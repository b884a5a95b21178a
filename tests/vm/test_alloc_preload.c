// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * vm_alloc_preload: an ordinary program under contig-mr-run
 * (libcontig-mr-alloc.so preloaded). It never calls libibverbs-ext: it
 * allocates with the C library and mmap(), as any program does, and checks
 * from the outside what it got: /proc/self/maps (a contig_buf mapping or
 * not), /proc/self/pagemap (physically contiguous), VmLck (accounted as
 * locked), and its own ibv_reg_mr() on rxe (large device pages per
 * `rdma resource show mr`, data through RDMA).
 *
 *   contig-mr-run --min SIZE -- vm_alloc_preload
 *
 * The threshold is read back from CMR_ALLOC_MIN. Covered: every
 * intercepted call, the threshold, realloc across it both ways, what is
 * never intercepted, fork, threads, and running out (RLIMIT_MEMLOCK of an
 * unprivileged user) under both policies, each in a process of its own
 * started with the policy in its environment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "cmr_test.h"

#define MIB ((size_t)1 << 20)
#define TIMEOUT_MS 20000
#define RW_ACCESS                                                              \
	(IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |                     \
	 IBV_ACCESS_REMOTE_WRITE)

struct ctx {
	size_t min;		/* the preload's threshold */
	size_t page;
	int base_maps;		/* contig_buf mappings at the start */
	long long base_lck;	/* VmLck at the start, kB */
	struct ibv_context *dev;
	struct ibv_pd *pd;
	struct t_loop loop;
};

/* Whether the mapping holding p is a contig_buf mapping. */
static bool in_contig_mapping(const void *p)
{
	char line[512];

	return t_mapping_of(p, 1, line, sizeof(line)) &&
	       strstr(line, "contig_buf");
}

/* Served by the preload: a contig_buf mapping, physically contiguous. */
static bool contig(const void *p, size_t len)
{
	return in_contig_mapping(p) &&
	       t_phys_contig_bytes((const void *)((uintptr_t)p & ~(uintptr_t)4095),
				   len, NULL) >= (long long)len;
}

static void check_plain(const char *what, void *p, size_t len)
{
	t_ok(p && contig(p, len) && malloc_usable_size(p) >= len,
	     "%s(%zu): contiguous, usable size %zu", what, len,
	     p ? malloc_usable_size(p) : 0);
}

/* Reap a forked child: its wait status, or -1 when there is none. */
static int child_status(pid_t pid)
{
	int status;

	return pid > 0 && waitpid(pid, &status, 0) == pid ? status : -1;
}

static bool exited_zero(int status)
{
	return status != -1 && WIFEXITED(status) && !WEXITSTATUS(status);
}

/* Nothing of ours left: no contig_buf mapping, VmLck as at the start. */
static void check_clean(struct ctx *c, const char *what)
{
	int maps = t_mappings_of("contig_buf");
	long long lck = t_status_kb(0, "VmLck");

	t_ok(maps == c->base_maps && lck == c->base_lck,
	     "%s: nothing left (%d contig_buf mappings, VmLck %+lld kB)", what,
	     maps - c->base_maps, lck - c->base_lck);
}

static void test_threshold(struct ctx *c)
{
	void *below = malloc(c->min - 1), *at = malloc(c->min);
	long long lck;

	/* Written first: gcc takes a const void * argument as a read of
	 * the memory, and -Wmaybe-uninitialized fails unoptimised builds. */
	if (below)
		memset(below, 0, c->min - 1);
	t_ok(below && !in_contig_mapping(below),
	     "malloc(min - 1): ordinary memory");
	check_plain("malloc", at, c->min);
	lck = t_status_kb(0, "VmLck");
	t_ok(at && lck - c->base_lck >= (long long)(c->min >> 10),
	     "malloc(min): accounted as locked memory (VmLck %+lld kB)",
	     lck - c->base_lck);
	if (at)
		t_fill(at, c->min, 1, 0);
	free(below);
	free(at);
	check_clean(c, "free");
}

static void test_family(struct ctx *c)
{
	size_t n = c->min + 3 * c->page + 5;
	volatile size_t huge = SIZE_MAX / 2;
	void *p = NULL;
	uint8_t *q;
	int ret;

	q = calloc(3, n);
	t_ok(q && contig(q, 3 * n) && t_check_zero(q, 3 * n) < 0,
	     "calloc(3, %zu): contiguous and zeroed", n);
	free(q);
	errno = 0;
	t_ok(!calloc(huge, 3) && errno == ENOMEM,
	     "calloc overflowing size_t: NULL, ENOMEM");

	ret = posix_memalign(&p, 4096, n);
	t_ok(!ret && contig(p, n) && !((uintptr_t)p % 4096),
	     "posix_memalign(4096, %zu): contiguous, aligned", n);
	free(p);
	p = NULL;
	t_errno_is(posix_memalign(&p, 24, n), EINVAL,
		   "posix_memalign with alignment 24");
	p = memalign(2 * MIB, n);
	t_ok(p && contig(p, n) && !((uintptr_t)p % (2 * MIB)),
	     "memalign(2 MiB, %zu): contiguous, aligned", n);
	free(p);
	p = aligned_alloc(64, 4 * n);
	t_ok(p && contig(p, 4 * n) && !((uintptr_t)p % 64),
	     "aligned_alloc(64, %zu): contiguous", 4 * n);
	free(p);
	p = valloc(n);
	t_ok(p && contig(p, n) && !((uintptr_t)p % c->page),
	     "valloc(%zu): contiguous, page aligned", n);
	free(p);
	p = pvalloc(n);
	t_ok(p && contig(p, n) && malloc_usable_size(p) % c->page == 0,
	     "pvalloc(%zu): contiguous, whole pages", n);
	free(p);
	/* Asked for more alignment than the buffer has: glibc serves it. */
	p = memalign((size_t)1 << 30, c->min);
	t_ok(p && !((uintptr_t)p % ((size_t)1 << 30)),
	     "memalign(1 GiB, min): aligned as asked (%s)",
	     p && in_contig_mapping(p) ? "contiguous" : "ordinary memory");
	free(p);
	check_clean(c, "the family freed");
}

static void test_realloc(struct ctx *c)
{
	size_t small = c->min / 2, big = 3 * c->min, bigger = 5 * c->min;
	volatile size_t huge = SIZE_MAX / 2;
	uint8_t *p, *q;

	p = malloc(small);
	t_fill(p, small, 2, 0);
	q = realloc(p, big);
	t_ok(q && contig(q, big) && t_check(q, small, 2, 0) < 0,
	     "realloc up across the threshold: contiguous, data kept");
	t_fill(q, big, 3, 0);
	p = realloc(q, big - c->page);
	t_ok(p == q, "realloc a little smaller: same region");
	q = realloc(p, bigger);
	t_ok(q && contig(q, bigger) && t_check(q, big - c->page, 3, 0) < 0,
	     "realloc larger than the region: a new one, data kept");
	p = realloc(q, small);
	t_ok(p && !in_contig_mapping(p) && t_check(p, small, 3, 0) < 0,
	     "realloc down across the threshold: ordinary memory, data kept");
	check_clean(c, "realloc down released the region");
	q = reallocarray(p, 4, c->min);
	t_ok(q && contig(q, 4 * c->min) && t_check(q, small, 3, 0) < 0,
	     "reallocarray(4, min): contiguous, data kept");
	errno = 0;
	t_ok(!reallocarray(NULL, huge, 4) && errno == ENOMEM,
	     "reallocarray overflowing: NULL, ENOMEM");
	t_ok(realloc(q, 0) == NULL, "realloc(p, 0) frees");
	check_clean(c, "realloc");
}

static void test_mmap(struct ctx *c)
{
	const int rw = PROT_READ | PROT_WRITE, anon = MAP_PRIVATE | MAP_ANONYMOUS;
	size_t len = 2 * c->min;
	uint8_t *p, *q;
	int fd;

	p = mmap(NULL, len, rw, anon, -1, 0);
	t_ok(p != MAP_FAILED && contig(p, len) && t_check_zero(p, len) < 0,
	     "mmap private anonymous: contiguous, zeroed");
	if (p == MAP_FAILED)
		return;
	t_fill(p, len, 4, 0);
	errno = 0;
	t_ok(mremap(p, len, 2 * len, 0) == MAP_FAILED && errno == ENOMEM,
	     "mremap growing without MREMAP_MAYMOVE: ENOMEM");
	q = mremap(p, len, 2 * len, MREMAP_MAYMOVE);
	t_ok(q != MAP_FAILED && contig(q, 2 * len) && t_check(q, len, 4, 0) < 0,
	     "mremap growing with MREMAP_MAYMOVE: contiguous, data kept");
	if (q != MAP_FAILED) {
		t_ok(!munmap(q + len, len) && t_is_mapped(q, len) &&
			     t_check(q, len, 4, 0) < 0,
		     "munmap of the upper half: the lower half stays");
		t_ok(!munmap(q, len), "munmap of the rest");
	}
	check_clean(c, "munmap");

	p = mmap(NULL, len, rw, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	t_ok(p != MAP_FAILED && !in_contig_mapping(p),
	     "mmap MAP_SHARED: not intercepted");
	munmap(p, len);
	p = mmap(NULL, len, PROT_NONE, anon, -1, 0);
	t_ok(p != MAP_FAILED && !in_contig_mapping(p),
	     "mmap PROT_NONE (a reservation): not intercepted");
	munmap(p, len);
	p = mmap(NULL, len, rw, anon | MAP_NORESERVE, -1, 0);
	t_ok(p != MAP_FAILED && !in_contig_mapping(p),
	     "mmap MAP_NORESERVE: not intercepted");
	munmap(p, len);
	p = mmap(NULL, c->min - c->page, rw, anon, -1, 0);
	t_ok(p != MAP_FAILED && !in_contig_mapping(p),
	     "mmap below the threshold: not intercepted");
	munmap(p, c->min - c->page);
	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	p = fd >= 0 ? mmap(NULL, c->page, PROT_READ, MAP_PRIVATE, fd, 0) :
		      MAP_FAILED;
	t_ok(p != MAP_FAILED && !in_contig_mapping(p) && !memcmp(p, "\177ELF", 4),
	     "mmap of a file: not intercepted");
	if (p != MAP_FAILED)
		munmap(p, c->page);
	if (fd >= 0)
		close(fd);
	check_clean(c, "mappings that were not intercepted");
}

/*
 * Changes of the address space the preload must follow, proven by a fork
 * afterwards: the child copies every region it knows, so a stale entry
 * (an odd length unmapped, a MAP_FIXED mapping laid over a region, a
 * region shrunk) or a guard page would crash it.
 */
static void test_table(struct ctx *c)
{
	const int rw = PROT_READ | PROT_WRITE, anon = MAP_PRIVATE | MAP_ANONYMOUS;
	uint8_t *odd, *guard, *over, *shrunk, *p;
	size_t len = 4 * c->min;
	int status;
	pid_t pid;

	odd = mmap(NULL, c->min + 5, rw, anon, -1, 0);
	t_ok(odd != MAP_FAILED && contig(odd, c->min) &&
		     !munmap(odd, c->min + 5) && !t_is_mapped(odd, 1),
	     "a region of min + 5 bytes, unmapped by that length");
	guard = mmap(NULL, len, rw, anon, -1, 0);
	over = mmap(NULL, len, rw, anon, -1, 0);
	shrunk = mmap(NULL, len, rw, anon, -1, 0);
	if (!t_ok(guard != MAP_FAILED && over != MAP_FAILED &&
			  shrunk != MAP_FAILED && contig(guard, len) &&
			  contig(over, len) && contig(shrunk, len),
		  "three more regions of %zu bytes", len))
		return;
	t_fill(guard, c->min, 10, 0);
	t_ok(!mprotect(guard + c->min, c->page, PROT_NONE),
	     "a guard page (PROT_NONE) inside one");
	p = mmap(over, len, rw, anon | MAP_FIXED, -1, 0);
	t_ok(p == over && !in_contig_mapping(over) && t_check_zero(over, len) < 0,
	     "MAP_FIXED ordinary memory over another");
	t_fill(shrunk, len, 11, 0);
	p = mremap(shrunk, len, len / 2, 0);
	t_ok(p == shrunk && t_check(shrunk, len / 2, 11, 0) < 0 &&
		     !t_is_mapped(shrunk + len / 2, 1),
	     "mremap shrinks the third in place");
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit((t_check(guard, c->min, 10, 0) >= 0 ? 1 : 0) |
		      (t_check_zero(over, len) >= 0 ? 2 : 0) |
		      (t_check(shrunk, len / 2, 11, 0) >= 0 ? 4 : 0));
	status = child_status(pid);
	t_ok(exited_zero(status),
	     "fork after all that: the child read every region (status %#x)",
	     status);
	munmap(guard, len);
	munmap(over, len);
	munmap(shrunk, len / 2);
	check_clean(c, "address-space changes");
}

/* The program's own registration gets large device pages. */
static void test_registration(struct ctx *c)
{
	size_t len = 8 * c->min;
	uint64_t page_size = 0, entries = 0;
	struct ibv_mr *mr;
	uint8_t *p;
	int ret;

	p = malloc(len);
	mr = p ? ibv_reg_mr(c->pd, p, len, RW_ACCESS) : NULL;
	if (!t_ok(mr && contig(p, len),
		  "ibv_reg_mr of its own on a malloc(%zu) region", len)) {
		free(p);
		return;
	}
	ret = t_rdma_mr_pages(NULL, "lkey", mr->lkey, &page_size, &entries,
			      NULL, 0);
	t_ok(!ret && page_size >= c->min && entries * page_size >= len &&
		     entries <= len / c->min + 1,
	     "rdma resource show mr: device pages of %" PRIu64 " KiB, %" PRIu64
	     " entries (4 KiB pages would be %zu)",
	     page_size >> 10, entries, len / 4096);
	t_ok(!t_loop_verify(&c->loop, mr, 0, len, 5, TIMEOUT_MS),
	     "RDMA READ and WRITE through it");
	t_errno_is(ibv_dereg_mr(mr), 0, "ibv_dereg_mr");
	free(p);
	check_clean(c, "registered region freed");
}

static void test_fork(struct ctx *c)
{
	size_t len = 2 * c->min;
	uint8_t *heap, *map;
	int status;
	pid_t pid;

	heap = malloc(len);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!t_ok(heap && map != MAP_FAILED && contig(heap, len) &&
			  contig(map, len),
		  "fork: two contiguous regions (malloc, mmap)"))
		return;
	t_fill(heap, len, 6, 0);
	t_fill(map, len, 7, 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* The child's own copy: same data, ordinary memory, its own. */
		int bad = 0;

		bad |= t_check(heap, len, 6, 0) >= 0 ? 1 : 0;
		bad |= t_check(map, len, 7, 0) >= 0 ? 2 : 0;
		bad |= in_contig_mapping(heap) || in_contig_mapping(map) ? 4 : 0;
		t_fill(heap, len, 8, 0);
		t_fill(map, len, 9, 0);
		free(heap);
		bad |= munmap(map, len) ? 8 : 0;
		/* A single-threaded parent's child allocates on its own. */
		heap = malloc(len);
		bad |= heap && contig(heap, len) ? 0 : 16;
		free(heap);
		_exit(bad);
	}
	status = child_status(pid);
	t_ok(exited_zero(status),
	     "fork: the child read the data, in private memory, wrote and "
	     "freed it, and got a contiguous region of its own (status %#x)",
	     status);
	t_ok(t_check(heap, len, 6, 0) < 0 && t_check(map, len, 7, 0) < 0 &&
		     contig(heap, len) && contig(map, len),
	     "fork: the parent's regions are unchanged and still contiguous");
	free(heap);
	munmap(map, len);
	check_clean(c, "fork");
}

static void *sleeper(void *arg)
{
	char c;

	return read(*(int *)arg, &c, 1) < 0 ? NULL : arg;
}

/* A child of a multi-threaded parent: ordinary memory, never a hang. */
static void test_fork_threaded(struct ctx *c)
{
	int fds[2], status;
	pthread_t th;
	pid_t pid;

	if (pipe(fds) || pthread_create(&th, NULL, sleeper, &fds[0]))
		t_bail("pipe or thread: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		void *p = malloc(2 * c->min);

		_exit(p && !in_contig_mapping(p) ? 0 : 1);
	}
	status = child_status(pid);
	t_ok(exited_zero(status),
	     "fork of a threaded parent: the child's large malloc is "
	     "ordinary memory (status %#x)", status);
	close(fds[1]);
	pthread_join(th, NULL);
	close(fds[0]);
}

struct worker {
	struct ctx *c;
	unsigned int id, rounds, errors;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	const size_t sizes[] = { 4096, w->c->min - 1, w->c->min,
				 w->c->min + 12345, 4 * w->c->min };
	unsigned int i;

	for (i = 0; i < w->rounds; i++) {
		size_t len = sizes[(i + w->id) % 5];
		uint64_t seed = (uint64_t)w->id << 32 | i;
		uint8_t *p = i % 2 ? malloc(len) : calloc(1, len);

		if (!p) {
			w->errors++;
			continue;
		}
		t_fill(p, len, seed, 0);
		p = realloc(p, len + (i % 3) * w->c->min);
		if (!p || t_check(p, len, seed, 0) >= 0)
			w->errors++;
		free(p);
	}
	return NULL;
}

static void test_threads(struct ctx *c)
{
	struct worker w[4];
	pthread_t th[4];
	unsigned int i, errors = 0, started = 0;

	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ .c = c, .id = i, .rounds = 40 };
		if (!pthread_create(&th[i], NULL, work, &w[i]))
			started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		errors += w[i].errors;
	}
	t_ok(started == 4 && !errors,
	     "threads: 4 x 40 rounds of malloc/calloc, realloc, free of mixed "
	     "sizes, data kept (%u errors)", errors);
	check_clean(c, "threads");
}

/*
 * Whether the preload's log holds a line saying a call fails: only such
 * lines count, since verbose logging (the environment's to choose) adds
 * others.
 */
static bool says_a_call_fails(FILE *log)
{
	char line[256];

	fflush(log);
	rewind(log);
	while (fgets(line, sizeof(line), log))
		if (strstr(line, "error: ") && strstr(line, "the call fails"))
			return true;
	return false;
}

/*
 * Run out in a process of its own, with the policy in its environment: as
 * nobody with RLIMIT_MEMLOCK of 2 x min. Exit status: 0 as the policy
 * says, else which check failed.
 */
static int exhaust(const char *policy, size_t min)
{
	const struct rlimit lim = { 2 * min, 2 * min };
	void *p[3], *q;
	int i;

	if (t_become_nobody() || setrlimit(RLIMIT_MEMLOCK, &lim))
		return 10;
	if (!strcmp(policy, "fail")) {
		/* The preload's stderr, to see which call it says fails. */
		FILE *log = tmpfile();

		if (!log || dup2(fileno(log), STDERR_FILENO) < 0)
			return 18;
		/* Full with one region; shrinking it must not fail. */
		p[0] = malloc(2 * min);
		if (!p[0] || !in_contig_mapping(p[0]))
			return 11;
		t_fill(p[0], min, 12, 0);
		q = realloc(p[0], min);
		if (q != p[0] || t_check(q, min, 12, 0) >= 0)
			return 12;
		/* A large block of glibc's (an alignment the preload leaves
		 * to it), shrunk while no region can be had: glibc's still. */
		p[2] = memalign(3 * 8, 2 * min);
		if (!p[2] || in_contig_mapping(p[2]))
			return 22;
		t_fill(p[2], min + 8, 13, 0);
		p[2] = realloc(p[2], min + 8);
		if (!p[2] || in_contig_mapping(p[2]) ||
		    t_check(p[2], min + 8, 13, 0) >= 0)
			return 23;
		free(p[2]);
		if (says_a_call_fails(log))
			return 19;	/* it said a call failed that did not */
		errno = 0;
		p[1] = malloc(min);
		if (p[1] || errno != ENOMEM)
			return 13;
		if (!says_a_call_fails(log))
			return 21;
		free(q);
		p[1] = malloc(min);
		return p[1] && in_contig_mapping(p[1]) ? 0 : 14;
	}
	for (i = 0; i < 3; i++)
		p[i] = malloc(min);
	if (!p[0] || !p[1] || !in_contig_mapping(p[0]) ||
	    !in_contig_mapping(p[1]))
		return 15;
	if (!p[2] || in_contig_mapping(p[2]))
		return 16;
	memset(p[2], 1, min);
	for (i = 0; i < 3; i++)
		free(p[i]);
	/* Room again: contiguous once more. */
	p[0] = malloc(min);
	return p[0] && in_contig_mapping(p[0]) ? 0 : 17;
}

static void test_exhaust(const char *policy)
{
	char *argv[] = { "vm_alloc_preload", "--exhaust", (char *)policy, NULL };
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		setenv("CMR_ALLOC_ON_FAIL", policy, 1);
		execv("/proc/self/exe", argv);
		_exit(20);
	}
	status = child_status(pid);
	t_ok(exited_zero(status),
	     "out of locked memory, policy %s: %s (exit status %d)", policy,
	     strcmp(policy, "fail") ? "ordinary memory, contiguous again "
				      "after free" :
				      "a shrinking realloc kept silently, "
				      "then NULL, ENOMEM and its error line",
	     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(int argc, char **argv)
{
	const char *min = getenv("CMR_ALLOC_MIN");
	struct ctx c = { .page = (size_t)sysconf(_SC_PAGESIZE) };

	if (!min || !getenv("LD_PRELOAD") ||
	    !strstr(getenv("LD_PRELOAD"), "libcontig-mr-alloc"))
		t_bail("run me under contig-mr-run --min SIZE");
	c.min = strtoull(min, NULL, 10);
	if (c.min < 2 * c.page)
		t_bail("CMR_ALLOC_MIN %s: use two pages or more", min);
	if (argc == 3 && !strcmp(argv[1], "--exhaust"))
		return exhaust(argv[2], c.min);
	if (getuid() != 0)
		t_skip_all("needs root (pagemap, and to become nobody)");

	t_dev_setup(NULL, &c.dev, &c.pd, &c.loop);
	c.base_maps = t_mappings_of("contig_buf");
	c.base_lck = t_status_kb(0, "VmLck");
	t_diag("threshold %zu bytes", c.min);

	test_threshold(&c);
	test_family(&c);
	test_realloc(&c);
	test_mmap(&c);
	test_table(&c);
	test_registration(&c);
	test_fork(&c);
	test_fork_threaded(&c);
	test_threads(&c);
	test_exhaust("fallback");
	test_exhaust("fail");

	t_dev_teardown(c.dev, c.pd, &c.loop);
	return t_done();
}
