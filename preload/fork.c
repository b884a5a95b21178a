// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * fork(). A region is a shared mapping the kernel marks "not inherited"
 * (VM_DONTCOPY): left alone, a child would find holes where its heap was
 * and crash on the first touch. Instead every region is inherited for the
 * moment of the fork (MADV_DOFORK), and the child replaces each with
 * ordinary private memory holding a copy, before fork() returns in
 * either process: the parent waits until the child is done, so that the
 * calling thread's later writes cannot show in the child. Writes by the
 * parent's other threads during the copy can (they would not with
 * copy-on-write memory); the copy costs time and memory in proportion to
 * the regions. vfork() and posix_spawn() (as system() and popen() use)
 * share the address space and need none of this; _Fork(), a raw clone()
 * or syscall(SYS_fork) skip the handlers, and their children find holes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"

static struct {
	int pipe[2];		/* child -> parent: "copied"; -1: no regions */
	size_t regions;
	bool threaded;		/* the parent had other threads */
} forking = { .pipe = { -1, -1 } };

/* Whether this process has more than one thread (/proc/self/status). */
static bool threaded(void)
{
	char buf[4096], *t;
	ssize_t n;
	int fd;

	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	t = strstr(buf, "\nThreads:");
	return !t || strtol(t + 9, NULL, 10) != 1;
}

static void inherit(uintptr_t start, size_t len, void *arg)
{
	madvise((void *)start, len, *(int *)arg);
}

static void prepare(void)
{
	int advice = MADV_DOFORK;

	forking.threaded = threaded();
	cmr_regions_lock();
	forking.regions = cmr_regions_each_locked(NULL, NULL);
	forking.pipe[0] = forking.pipe[1] = -1;
	if (!forking.regions)
		return;
	if (pipe2(forking.pipe, O_CLOEXEC))
		forking.pipe[0] = forking.pipe[1] = -1;
	cmr_regions_each_locked(inherit, &advice);
}

static void parent(void)
{
	int advice = MADV_DONTFORK;
	char c;

	if (forking.regions)
		cmr_regions_each_locked(inherit, &advice);
	if (forking.pipe[0] >= 0) {
		close(forking.pipe[1]);
		/* One byte when the child is done, EOF if it died first. */
		while (read(forking.pipe[0], &c, 1) < 0 && errno == EINTR)
			;
		close(forking.pipe[0]);
	}
	cmr_regions_unlock();
}

/* In the child: the shared region becomes private memory, same contents. */
static void privatise(uintptr_t start, size_t len, void *arg)
{
	void *copy;

	(void)arg;
	copy = cmr_sys_mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (copy == MAP_FAILED) {
		cmr_alloc_warn("fork: no memory to copy %zu bytes at %#lx: the "
			       "child shares them with its parent",
			       len, (unsigned long)start);
		return;
	}
	/* Guard pages the program made (PROT_NONE) must be readable here;
	 * the copy is read-write throughout. */
	mprotect((void *)start, len, PROT_READ);
	memcpy(copy, (void *)start, len);
	if (cmr_sys_mremap(copy, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   (void *)start) == MAP_FAILED) {
		cmr_alloc_warn("fork: cannot replace %zu bytes at %#lx: the "
			       "child shares them with its parent",
			       len, (unsigned long)start);
		cmr_sys_munmap(copy, len);
	}
}

static void child(void)
{
	if (forking.regions)
		cmr_regions_each_locked(privatise, NULL);
	if (forking.pipe[0] >= 0) {
		close(forking.pipe[0]);
		if (write(forking.pipe[1], "", 1) < 0)
			cmr_alloc_log("fork: the parent stopped waiting");
		close(forking.pipe[1]);
	}
	/* The forking thread took it in prepare(), and is this thread. */
	cmr_regions_unlock();
	cmr_source_forget(forking.threaded);
}

__attribute__((constructor)) static void cmr_alloc_fork_init(void)
{
	pthread_atfork(prepare, parent, child);
}
