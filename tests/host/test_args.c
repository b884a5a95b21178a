// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * host_args: the public entry points of libibverbs-ext.so reject bad
 * arguments with EINVAL before any system call: allocation of buffers and
 * of one-call MRs, registration over a buffer (range, context, access),
 * release and query of things the library did not make.
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

static void expect_null_einval(const void *p, int err, int before,
			       const char *what)
{
	t_ok(!p && err == EINVAL && trapped == before,
	     "%s: NULL, errno %s, %d system calls", what,
	     p ? "(not NULL)" : strerrorname_np(err), (int)(trapped - before));
}

/* A call returning a pointer: NULL, errno EINVAL, no system call. */
#define CALL(expr, what)                                                       \
	do {                                                                   \
		int before_ = trapped;                                         \
		const void *p_;                                                \
		errno = 0;                                                     \
		p_ = (expr);                                                   \
		expect_null_einval(p_, errno, before_, what);                  \
	} while (0)

/* A call returning an errno: EINVAL, no system call. */
#define CALL_INT(expr, what)                                                   \
	do {                                                                   \
		int before_ = trapped;                                         \
		int r_ = (expr);                                               \
		t_ok(r_ == EINVAL && trapped == before_,                       \
		     "%s: %s, %d system calls", what,                          \
		     r_ ? strerrorname_np(r_) : "0",                           \
		     (int)(trapped - before_));                                \
	} while (0)

/*
 * ibv_alloc_contig_buf(): EINVAL returned and left in errno, *buf
 * untouched, no system call.
 */
static void alloc_buf_einval(struct ibv_pd *pd, size_t length,
			     const struct ibv_alloc_contig_mr_attr *attr,
			     const char *what)
{
	struct ibv_contig_buf *buf = (struct ibv_contig_buf *)&buf;
	int before = trapped;
	int r;

	errno = 0;
	r = ibv_alloc_contig_buf(pd, length, attr, &buf);
	t_ok(r == EINVAL && errno == EINVAL &&
		     buf == (struct ibv_contig_buf *)&buf && trapped == before,
	     "alloc_buf(%s): EINVAL (errno %s), *buf untouched, %d system "
	     "calls", what, strerrorname_np(errno), (int)(trapped - before));
}

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

	alloc_buf_einval(NULL, 4096, NULL, "NULL pd");
	alloc_buf_einval(pd, 0, NULL, "length 0");
	alloc_buf_einval(pd, SIZE_MAX, NULL, "length SIZE_MAX");
	alloc_buf_einval(pd, SIZE_MAX - 4095, NULL, "length SIZE_MAX - 4095");
	alloc_buf_einval(pd, (size_t)PTRDIFF_MAX + 1, NULL,
			 "length PTRDIFF_MAX + 1");
	a = attr(1u << 5, 0, 0, 0);
	alloc_buf_einval(pd, 4096, &a, "unknown comp_mask bit");
	a = attr(IBV_CONTIG_MR_ATTR_FLAGS, 0, 1u << 4, 0);
	alloc_buf_einval(pd, 4096, &a, "unknown flag");
	a = attr(IBV_CONTIG_MR_ATTR_POLICY, 0, 0, 42);
	alloc_buf_einval(pd, 4096, &a, "unknown policy");
	a = attr(IBV_CONTIG_MR_ATTR_NUMA_NODE, -7, 0, 0);
	alloc_buf_einval(pd, 4096, &a, "numa_node -7");
	a = attr(IBV_CONTIG_MR_ATTR_NUMA_NODE | IBV_CONTIG_MR_ATTR_FLAGS, -1,
		 IBV_CONTIG_MR_NODE_STRICT, 0);
	alloc_buf_einval(pd, 4096, &a, "NODE_STRICT, numa_node -1");
	setenv("IBV_CONTIG_MR_ALLOC_TYPE", "SOMETIMES", 1);
	alloc_buf_einval(pd, 4096, NULL, "IBV_CONTIG_MR_ALLOC_TYPE=SOMETIMES");
	unsetenv("IBV_CONTIG_MR_ALLOC_TYPE");
	{
		int before = trapped;

		errno = 0;
		t_ok(ibv_alloc_contig_buf(pd, 4096, NULL, NULL) == EINVAL &&
			     errno == EINVAL && trapped == before,
		     "alloc_buf(buf NULL): EINVAL, no system call");
	}

	/* A buffer the library did not make: for registration, only its
	 * public fields count; free and query refuse it. */
	{
		static char mem[2 * 4096] __attribute__((aligned(4096)));
		struct ibv_contig_buf fake = { .context = pd->context,
					       .addr = mem,
					       .length = sizeof(mem) };
		struct ibv_context other_ctx = *pd->context;
		struct ibv_pd other_pd = { .context = &other_ctx };
		struct ibv_mr fake_mr = { .context = pd->context, .pd = pd,
					  .addr = mem, .length = 4096,
					  .handle = 3, .lkey = 1, .rkey = 1 };

		CALL(ibv_reg_contig_buf_mr(NULL, &fake, mem, 4096, rw),
		     "reg_buf_mr(NULL pd)");
		CALL(ibv_reg_contig_buf_mr(pd, NULL, mem, 4096, rw),
		     "reg_buf_mr(NULL buf)");
		CALL(ibv_reg_contig_buf_mr(&other_pd, &fake, mem, 4096, rw),
		     "reg_buf_mr(PD of another context)");
		CALL(ibv_reg_contig_buf_mr(pd, &fake, mem, 0, rw),
		     "reg_buf_mr(length 0)");
		CALL(ibv_reg_contig_buf_mr(pd, &fake, mem + 4096, 4097, rw),
		     "reg_buf_mr(past the end)");
		CALL(ibv_reg_contig_buf_mr(pd, &fake, mem + sizeof(mem), 1, rw),
		     "reg_buf_mr(starting at the end)");
		CALL(ibv_reg_contig_buf_mr(pd, &fake, mem + 1, SIZE_MAX, rw),
		     "reg_buf_mr(length SIZE_MAX: overflow)");
		CALL(ibv_reg_contig_buf_mr(pd, &fake, &fake, 8, rw),
		     "reg_buf_mr(an address outside the buffer)");
		CALL(ibv_reg_contig_buf_mr(pd, &fake, mem, 4096,
					   IBV_ACCESS_ON_DEMAND | rw),
		     "reg_buf_mr(IBV_ACCESS_ON_DEMAND)");
		CALL(ibv_reg_contig_buf_mr(pd, &fake, mem, 4096,
					   IBV_ACCESS_ZERO_BASED | rw),
		     "reg_buf_mr(IBV_ACCESS_ZERO_BASED)");
		CALL(ibv_reg_contig_buf_mr(pd, &fake, mem, 4096, 1u << 31),
		     "reg_buf_mr(access bit 31)");

		CALL_INT(ibv_free_contig_buf(NULL), "free_buf(NULL)");
		CALL_INT(ibv_free_contig_buf(&fake),
			 "free_buf(not from ibv_alloc_contig_buf)");
		info.comp_mask = 0;
		CALL_INT(ibv_query_contig_buf(NULL, &info), "query_buf(NULL)");
		CALL_INT(ibv_query_contig_buf(&fake, &info),
			 "query_buf(not from ibv_alloc_contig_buf)");

		CALL_INT(ibv_free_contig_mr(NULL), "free_mr(NULL)");
		CALL_INT(ibv_free_contig_mr(&fake_mr),
			 "free_mr(not from ibv_alloc_contig_mr)");
		CALL(ibv_contig_mr_buf(NULL), "mr_buf(NULL)");
		CALL(ibv_contig_mr_buf(&fake_mr),
		     "mr_buf(not from ibv_alloc_contig_mr)");
		CALL_INT(ibv_query_contig_mr(NULL, &info), "query_mr(NULL)");
		CALL_INT(ibv_query_contig_mr(&fake_mr, NULL),
			 "query_mr(mr, NULL)");
		CALL_INT(ibv_query_contig_mr(&fake_mr, &info),
			 "query_mr(an MR in no buffer)");
		CALL_INT(_ibv_query_contig_mr(&fake_mr, &info,
					      IBV_CONTIG_MR_INFO_SIZE_V1 - 1),
			 "query_mr(info_size below V1)");
		CALL_INT(_ibv_query_contig_buf(&fake, &info, 0),
			 "query_buf(info_size 0)");
		info.comp_mask = 1u << 9;
		CALL_INT(ibv_query_contig_mr(&fake_mr, &info),
			 "query_mr(unknown comp_mask bit)");
	}
	t_ok(trapped == 0, "no system call trapped (last: %d)", (int)last_nr);
	return t_done();
}
