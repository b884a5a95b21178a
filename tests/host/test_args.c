// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * host_args: the public entry points of libibverbs-ext.so reject bad
 * arguments with EINVAL before any system call.
 *
 * "Before any system call" is enforced: a seccomp filter traps every
 * system call the library could make on the way to the kernel (ioctl,
 * mmap, munmap, madvise, mbind, socket, open, openat, getcpu) and a SIGSYS
 * handler counts them. Run with --no-seccomp under valgrind, which cannot
 * run under a filter.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <infiniband/verbs_contig.h>

#include "cmr_test.h"

static volatile sig_atomic_t trapped;
static volatile sig_atomic_t last_nr;

#if defined(__x86_64__)
#define ARCH_NR AUDIT_ARCH_X86_64
#define SET_RETURN(uc, v) ((uc)->uc_mcontext.gregs[REG_RAX] = (v))
#elif defined(__aarch64__)
#define ARCH_NR AUDIT_ARCH_AARCH64
#define SET_RETURN(uc, v) ((uc)->uc_mcontext.regs[0] = (v))
#endif

#ifdef ARCH_NR
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	trapped++;
	last_nr = si->si_syscall;
	SET_RETURN(uc, -ENOSYS);
}

#define TRAP(nr)                                                               \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1),                       \
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP)

static int install_filter(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH_NR, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		TRAP(__NR_ioctl),
		TRAP(__NR_mmap),
		TRAP(__NR_munmap),
		TRAP(__NR_madvise),
		TRAP(__NR_mbind),
		TRAP(__NR_get_mempolicy),
		TRAP(__NR_set_mempolicy),
		TRAP(__NR_socket),
		TRAP(__NR_openat),
#ifdef __NR_open
		TRAP(__NR_open),
#endif
		TRAP(__NR_getcpu),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(f) / sizeof(f[0]),
		.filter = f,
	};
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };

	if (sigaction(SIGSYS, &sa, NULL))
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}
#else
static int install_filter(void)
{
	errno = ENOSYS;
	return -1;
}
#endif

/*
 * A PD whose context is not a device: its command fd is -1 and its device
 * has a name but no sysfs entry. The library must never get that far.
 */
static struct ibv_pd *fake_pd(void)
{
	static struct ibv_context ctx;
	static char dev_storage[4096] __attribute__((aligned(64)));
	static struct ibv_pd pd;
	struct ibv_device *dev = (struct ibv_device *)dev_storage;

	strcpy(dev->name, "fake0");
	ctx.device = dev;
	ctx.cmd_fd = -1;
	ctx.async_fd = -1;
	pd.context = &ctx;
	pd.handle = 1;
	return &pd;
}

static void expect_null_einval(struct ibv_mr *mr, int err, const char *what)
{
	int before = trapped;

	t_ok(!mr && err == EINVAL && trapped == before,
	     "%s: NULL, errno %s, %d system calls", what,
	     mr ? "(not NULL)" : strerrorname_np(err), (int)(trapped - before));
}

#define CALL(expr, what)                                                       \
	do {                                                                   \
		struct ibv_mr *mr_;                                            \
		errno = 0;                                                     \
		mr_ = (expr);                                                  \
		expect_null_einval(mr_, errno, what);                          \
	} while (0)

static struct ibv_alloc_contig_mr_attr attr(uint32_t mask, int node,
					    uint32_t flags, uint32_t policy)
{
	struct ibv_alloc_contig_mr_attr a = { .comp_mask = mask,
					      .numa_node = node,
					      .flags = flags,
					      .policy = policy };
	return a;
}

int main(int argc, char **argv)
{
	bool seccomp = !(argc > 1 && !strcmp(argv[1], "--no-seccomp"));
	struct ibv_pd *pd = fake_pd();
	const unsigned int rw = IBV_ACCESS_LOCAL_WRITE;
	struct ibv_contig_mr_info info;
	struct ibv_alloc_contig_mr_attr a;

	/* Output buffers and the environment before the filter goes in. */
	t_diag("argument checks %s a seccomp filter",
	       seccomp ? "under" : "without");
	if (seccomp) {
		unsigned int cpu, node;
		long r;

		if (install_filter())
			t_bail("seccomp filter: %s", strerror(errno));
		/* The filter works: a trapped call is counted and fails. */
		r = syscall(SYS_getcpu, &cpu, &node, NULL);
		t_ok(r == -1 && errno == ENOSYS && trapped == 1 &&
			     last_nr == SYS_getcpu,
		     "filter self-check: getcpu() trapped");
		trapped = 0;
	}
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");

	CALL(ibv_alloc_contig_mr(NULL, 4096, rw), "alloc(NULL pd)");
	CALL(ibv_alloc_contig_mr(pd, 0, rw), "alloc(length 0)");
	CALL(ibv_alloc_contig_mr(pd, SIZE_MAX, rw), "alloc(length SIZE_MAX)");
	CALL(ibv_alloc_contig_mr(pd, SIZE_MAX - 4095, rw),
	     "alloc(length SIZE_MAX - 4095: page rounding overflows)");
	CALL(ibv_alloc_contig_mr(pd, (size_t)PTRDIFF_MAX + 1, rw),
	     "alloc(length PTRDIFF_MAX + 1)");
	CALL(ibv_alloc_contig_mr(pd, 4096, IBV_ACCESS_ON_DEMAND | rw),
	     "alloc(IBV_ACCESS_ON_DEMAND)");
	CALL(ibv_alloc_contig_mr(pd, 4096, IBV_ACCESS_ZERO_BASED | rw),
	     "alloc(IBV_ACCESS_ZERO_BASED)");
	CALL(ibv_alloc_contig_mr(pd, 4096, 1u << 31), "alloc(access bit 31)");

	a = attr(1u << 5, 0, 0, 0);
	CALL(ibv_alloc_contig_mr_ex(pd, 4096, rw, &a),
	     "alloc_ex(unknown comp_mask bit)");
	a = attr(IBV_CONTIG_MR_ATTR_FLAGS, 0, 1u << 4, 0);
	CALL(ibv_alloc_contig_mr_ex(pd, 4096, rw, &a),
	     "alloc_ex(unknown flag)");
	a = attr(IBV_CONTIG_MR_ATTR_POLICY, 0, 0, 42);
	CALL(ibv_alloc_contig_mr_ex(pd, 4096, rw, &a),
	     "alloc_ex(unknown policy)");
	a = attr(IBV_CONTIG_MR_ATTR_NUMA_NODE, -7, 0, 0);
	CALL(ibv_alloc_contig_mr_ex(pd, 4096, rw, &a),
	     "alloc_ex(numa_node -7)");
	a = attr(IBV_CONTIG_MR_ATTR_NUMA_NODE, 1 << 20, 0, 0);
	CALL(ibv_alloc_contig_mr_ex(pd, 4096, rw, &a),
	     "alloc_ex(numa_node 2^20)");
	a = attr(IBV_CONTIG_MR_ATTR_NUMA_NODE | IBV_CONTIG_MR_ATTR_FLAGS, -1,
		 IBV_CONTIG_MR_NODE_STRICT, 0);
	CALL(ibv_alloc_contig_mr_ex(pd, 4096, rw, &a),
	     "alloc_ex(NODE_STRICT, numa_node -1)");
	a = attr(IBV_CONTIG_MR_ATTR_POLICY, 0, 0, IBV_CONTIG_MR_POLICY_ALL);
	CALL(ibv_alloc_contig_mr_ex(NULL, 4096, rw, &a),
	     "alloc_ex(NULL pd, POLICY_ALL)");

	setenv("IBV_CONTIG_MR_ALLOC_TYPE", "SOMETIMES", 1);
	CALL(ibv_alloc_contig_mr(pd, 4096, rw),
	     "alloc with IBV_CONTIG_MR_ALLOC_TYPE=SOMETIMES");
	a = attr(IBV_CONTIG_MR_ATTR_POLICY, 0, 0,
		 IBV_CONTIG_MR_POLICY_DEFAULT);
	CALL(ibv_alloc_contig_mr_ex(pd, 4096, rw, &a),
	     "alloc_ex(POLICY_DEFAULT) with a bad environment");
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");

	t_ok(ibv_free_contig_mr(NULL) == EINVAL, "free(NULL): EINVAL");
	info.comp_mask = 0;
	t_ok(ibv_query_contig_mr(NULL, &info) == EINVAL,
	     "query(NULL, info): EINVAL");
	t_ok(trapped == 0, "no system call trapped (last: %d)", (int)last_nr);
	return t_done();
}
