// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * acct_teardown: contiguous buffers and MRs over them when their context
 * or device goes away, and the error paths under a thread that remaps a
 * fixed address.
 *
 *  close    a worker holds a raw buffer with an MR, a library buffer with
 *           an MR over half of it and an ibv_alloc_contig_mr() MR (80 MiB),
 *           then ibv_close_device() with all of it outstanding: the
 *           mappings stay readable and hold the memory; once the worker
 *           unmapped them the memory is back at the baseline while the
 *           worker still lives, and its exit is clean
 *  race     one thread maps 2 MiB of anonymous memory with MAP_FIXED over
 *           a fixed address (where a buffer was mapped a moment before),
 *           again and again, writes a pattern and checks it; three threads
 *           allocate and free buffers meanwhile, successfully and through
 *           error paths (a bad node, a length beyond memory, a result the
 *           kernel cannot write: EFAULT, an MR the kernel refuses after
 *           the library mapped the buffer). The remapping thread never
 *           loses its memory or its data; afterwards no fd, no contig_buf
 *           mapping and no memory is left
 *  removal  a worker holds buffers and MRs while `rdma link delete rxe0`
 *           runs (rxe has no disassociate_ucontext: the removal waits for
 *           the open context): the mappings stay readable, freeing works
 *           or fails cleanly, the removal completes once the context is
 *           closed although a raw mapping remains, that mapping is still
 *           readable after the device is gone and its memory returns when
 *           it is unmapped; then rxe0 is added again on the loop set-up's
 *           netdev (scripts/guest/setup.sh) and moves data, so later tests
 *           in the guest find it as before
 *
 *   acct_teardown       (SETUP loop)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acct.h"

#define BIG (32 * KT_MIB)
#define HALF (16 * KT_MIB)
#define REMAP_LEN (2 * KT_MIB)
#define RACE_SECONDS 15.0
#define ALLOCATORS 3
#define STEP_TIMEOUT 120.0
#define TIMEOUT_MS 60000
#define SEED 0x7465617264ULL

enum { CMD_GO = 'g', CMD_EXIT = 'x' };

struct report {
	char setup[160];
	int close_err;
	unsigned int bad;	/* mappings whose data differ */
	int free_err[4];	/* removal: see removal_worker() */
	int unmap_err;
};

static struct report *rep;
static long long tol_kb;
static char netdev[64] = "cmr-va";

static const char *errname(int err)
{
	return err ? strerrorname_np(err) : "ok";
}

/* ---- the worker of close and removal ------------------------------------- */

struct holdings {
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct kt_buf raw;
	struct ibv_mr *raw_mr;
	struct ibv_contig_buf *buf;
	struct ibv_mr *buf_mr;
	struct ibv_mr *one;		/* ibv_alloc_contig_mr() */
	struct ibv_contig_buf *one_buf;
};

static int take(struct holdings *h)
{
	int ret;

	memset(h, 0, sizeof(*h));
	h->raw.fd = -1;
	if (acct_open(&h->ctx, &h->pd, rep->setup, sizeof(rep->setup)))
		return -1;
	ret = kt_buf_new(h->ctx, BIG, &h->raw);
	if (!ret)
		ret = kt_buf_drop_fd(&h->raw);
	if (!ret && !(h->raw_mr = ibv_reg_mr(h->pd, h->raw.addr, BIG,
					     KT_ACCESS_ALL)))
		ret = errno;
	if (!ret)
		ret = acct_buf_alloc(h->pd, BIG, -1, 0, &h->buf);
	if (!ret && !(h->buf_mr = ibv_reg_contig_buf_mr(
			      h->pd, h->buf, (uint8_t *)h->buf->addr + HALF,
			      HALF, KT_ACCESS_ALL)))
		ret = errno;
	if (!ret && !(h->one = ibv_alloc_contig_mr(h->pd, HALF,
						   KT_ACCESS_ALL)))
		ret = errno;
	if (!ret)
		h->one_buf = ibv_contig_mr_buf(h->one);
	if (ret) {
		snprintf(rep->setup, sizeof(rep->setup),
			 "buffers and MRs: %s", strerrorname_np(ret));
		return -1;
	}
	t_fill(h->raw.addr, BIG, SEED, 0);
	t_fill(h->buf->addr, BIG, SEED + 1, 0);
	t_fill(h->one->addr, HALF, SEED + 2, 0);
	return 0;
}

/* How many of the (still mapped) areas no longer hold their data. */
static unsigned int bad_data(const struct holdings *h, bool all)
{
	unsigned int bad = 0;

	if (t_check(h->raw.addr, BIG, SEED, 0) >= 0)
		bad++;
	if (all && t_check(h->buf->addr, BIG, SEED + 1, 0) >= 0)
		bad++;
	if (all && t_check(h->one->addr, HALF, SEED + 2, 0) >= 0)
		bad++;
	return bad;
}

static void close_worker(struct acct_link *l, void *arg)
{
	struct holdings h;
	void *addr[2];
	size_t len[2];

	(void)arg;
	if (take(&h))
		goto out;
	addr[0] = h.buf->addr;
	len[0] = h.buf->length;
	addr[1] = h.one->addr;
	len[1] = HALF;
	/*
	 * The context, its PD and MRs are gone after this; so is everything
	 * the library could do with the buffers: the process unmaps them.
	 */
	rep->close_err = ibv_close_device(h.ctx);
	acct_ack(l);
	if (acct_wait(l) != CMD_GO)
		return;
	rep->bad = bad_data(&h, true);
	if (munmap(h.raw.addr, BIG) || munmap(addr[0], len[0]) ||
	    munmap(addr[1], len[1]))
		rep->unmap_err = errno;
out:
	acct_ack(l);
	acct_wait(l);
}

static void removal_worker(struct acct_link *l, void *arg)
{
	struct holdings h;

	(void)arg;
	if (take(&h))
		goto out;
	acct_ack(l);
	/* The removal is under way now: read, then free through the device. */
	if (acct_wait(l) != CMD_GO)
		return;
	rep->bad = bad_data(&h, true);
	rep->free_err[0] = ibv_dereg_mr(h.raw_mr);
	rep->free_err[1] = ibv_free_contig_buf(h.buf);
	if (!rep->free_err[1])
		rep->free_err[1] = ibv_dereg_mr(h.buf_mr);
	rep->free_err[2] = ibv_free_contig_mr(h.one);
	rep->free_err[3] = kt_raw_free(h.ctx, h.raw.handle);
	h.raw.object = false;
	ibv_dealloc_pd(h.pd);
	rep->close_err = ibv_close_device(h.ctx) ? errno : 0;
	acct_ack(l);
	/* The device is gone; the raw mapping is all that is left. */
	if (acct_wait(l) != CMD_GO)
		return;
	rep->bad = bad_data(&h, false);
	rep->unmap_err = kt_buf_drop_map(&h.raw);
out:
	acct_ack(l);
	acct_wait(l);
}

/* ---- close --------------------------------------------------------------- */

static void test_close(void)
{
	bool answered;
	struct acct_link l;
	long long base = t_free_mem_kb();
	pid_t pid;
	int status;

	memset(rep, 0, sizeof(*rep));
	acct_link_init(&l);
	pid = acct_spawn(&l, close_worker, NULL);
	answered = acct_wait_ack(&l, STEP_TIMEOUT);
	if (!t_ok(answered && !rep->setup[0],
		  "close: 80 MiB in buffers, three MRs%s%s",
		  rep->setup[0] ? ": " : "", rep->setup))
		goto out;
	t_errno_is(rep->close_err, 0, "close: ibv_close_device() with all "
		   "of it outstanding");
	t_free_mem_held("close: the mappings hold the buffers", base,
			BIG + BIG + HALF, tol_kb);
	acct_send(&l, CMD_GO);
	answered = acct_wait_ack(&l, STEP_TIMEOUT);
	t_ok(answered && !rep->bad,
	     "close: the mappings read back their data after the close (%u "
	     "differ)", rep->bad);
	t_errno_is(rep->unmap_err, 0, "close: munmap of all three");
	t_free_mem_returned("close: unmapped, worker still alive", base,
			    tol_kb, 20);
out:
	acct_send(&l, CMD_EXIT);
	status = acct_reap(pid, 60);
	t_ok(status == 0, "close: the worker exits cleanly (status 0x%x)",
	     status);
	acct_link_close(&l);
	t_free_mem_returned("close: after the worker exited", base, tol_kb, 20);
}

/* ---- race ---------------------------------------------------------------- */

static struct ibv_context *ctx;
static struct ibv_pd *pd;
static uint8_t *fixed;		/* the remapped address */
static uint8_t *no_access;	/* a PROT_NONE page: results go nowhere */
static atomic_bool stop;

struct remap_stats {
	unsigned long rounds, lost, faults, bad_map;
};

struct alloc_stats {
	unsigned int id;
	unsigned long ok, ok_err, errors, wrong;
	char wrong_what[128];
};

static __thread sigjmp_buf *fault_jmp;

static void on_fault(int sig)
{
	if (fault_jmp)
		siglongjmp(*fault_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void *remapper(void *arg)
{
	struct remap_stats *s = arg;
	sigjmp_buf jmp;
	uint64_t seed;
	void *p;

	while (!atomic_load(&stop)) {
		seed = SEED ^ s->rounds;
		p = mmap(fixed, REMAP_LEN, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p != fixed) {
			s->bad_map++;
			break;
		}
		fault_jmp = &jmp;
		if (sigsetjmp(jmp, 1)) {
			s->faults++;
		} else {
			t_fill(fixed, REMAP_LEN, seed, 0);
			sched_yield();
			usleep(200);
			if (t_check(fixed, REMAP_LEN, seed, 0) >= 0)
				s->lost++;
		}
		fault_jmp = NULL;
		s->rounds++;
	}
	return NULL;
}

static void wrong(struct alloc_stats *s, const char *what, int got, int want)
{
	if (!s->wrong++)
		snprintf(s->wrong_what, sizeof(s->wrong_what),
			 "%s: %s, expected %s", what,
			 got ? strerrorname_np(got) : "success",
			 want ? strerrorname_np(want) : "success");
}

/* CONTIG_BUF_ALLOC whose output attr_id points to a PROT_NONE page. */
static int raw_efault(uint16_t attr_id)
{
	struct cmr_buf_alloc_in in = { .length = 64 * KT_KIB, .numa_node = -1 };
	struct cmr_buf_alloc_out out;
	struct cmr_ioctl_cmd cmd;
	struct ib_uverbs_attr *a;

	cmr_encode_buf_alloc(&cmd, kt_raw_driver_id(), &in, &out);
	a = kt_cmd_attr(&cmd, attr_id);
	if (!a)
		return ENOENT;
	a->data = (uintptr_t)no_access;
	return cmr_ioctl(ctx->cmd_fd, &cmd);
}

static void one_round(struct alloc_stats *s, unsigned int round)
{
	static const uint16_t outs[] = {
		UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_FD,
		UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_LENGTH,
		UVERBS_ATTR_ALLOC_CONTIG_BUF_RESP_ALIGNMENT,
	};
	size_t len = round % 2 ? 2 * KT_MIB : 64 * KT_KIB;
	struct ibv_contig_buf *buf;
	struct ibv_mr *mr;
	struct kt_buf b;
	int ret;

	switch (round % 6) {
	case 0:
	case 1:
		ret = acct_buf_alloc(pd, len, -1, 0, &buf);
		if (ret) {
			wrong(s, "ibv_alloc_contig_buf", ret, 0);
			break;
		}
		t_fill(buf->addr, buf->length, s->id, 0);
		mr = ibv_reg_contig_buf_mr(pd, buf, buf->addr, buf->length,
					   KT_ACCESS_ALL);
		if (!mr)
			wrong(s, "ibv_reg_contig_buf_mr", errno, 0);
		else
			ibv_dereg_mr(mr);
		if (t_check(buf->addr, buf->length, s->id, 0) >= 0)
			wrong(s, "own buffer's data", EIO, 0);
		ret = ibv_free_contig_buf(buf);
		if (ret)
			wrong(s, "ibv_free_contig_buf", ret, 0);
		s->ok++;
		return;
	case 2:
		ret = kt_raw_alloc(ctx, len, -1, 0, &b);
		if (ret) {
			wrong(s, "raw CONTIG_BUF_ALLOC", ret, 0);
			break;
		}
		kt_buf_release(&b);
		s->ok++;
		return;
	case 3:
		ret = raw_efault(outs[(round / 6) % 3]);
		if (ret != EFAULT)
			wrong(s, "raw CONTIG_BUF_ALLOC with an unwritable "
			      "result", ret, EFAULT);
		break;
	case 4:
		ret = acct_buf_alloc(pd, len, round % 12 < 6 ? 999 : 64, 0,
				     &buf);
		if (ret != EINVAL)
			wrong(s, "ibv_alloc_contig_buf on a bad node", ret,
			      EINVAL);
		if (!ret)
			ibv_free_contig_buf(buf);
		ret = acct_buf_alloc(pd, (size_t)1 << 40, -1, 0, &buf);
		if (ret != ENOMEM)
			wrong(s, "ibv_alloc_contig_buf of 1 TiB", ret, ENOMEM);
		if (!ret)
			ibv_free_contig_buf(buf);
		break;
	case 5:
		/* The kernel refuses the MR after the buffer is mapped. */
		mr = ibv_alloc_contig_mr(pd, len, IBV_ACCESS_REMOTE_WRITE);
		ret = mr ? 0 : errno;
		if (ret != EINVAL)
			wrong(s, "ibv_alloc_contig_mr with remote write but "
			      "no local write", ret, EINVAL);
		if (mr)
			ibv_free_contig_mr(mr);
		break;
	}
	s->errors++;
}

static void *allocator(void *arg)
{
	struct alloc_stats *s = arg;
	unsigned int round = s->id;

	while (!atomic_load(&stop))
		one_round(s, round++);
	return NULL;
}

static void test_race(void)
{
	struct alloc_stats as[ALLOCATORS];
	struct remap_stats rs = { 0 };
	pthread_t rt, at[ALLOCATORS];
	struct ibv_contig_buf *probe;
	struct sigaction sa;
	int fds0, fds1, contig0, contig1, ret;
	char why[128];
	long long base;
	unsigned int i;
	double t0;

	if (acct_open(&ctx, &pd, why, sizeof(why)))
		t_bail("%s", why);
	no_access = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (no_access == MAP_FAILED)
		t_bail("mmap: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	/* The fixed address: where the kernel placed a buffer just now. */
	ret = acct_buf_alloc(pd, REMAP_LEN, -1, 0, &probe);
	if (!t_errno_is(ret, 0, "race: a 2 MiB buffer to find the address"))
		return;
	fixed = probe->addr;
	ibv_free_contig_buf(probe);
	fds0 = kt_fd_count(&contig0);
	base = t_free_mem_kb();

	atomic_store(&stop, false);
	if (pthread_create(&rt, NULL, remapper, &rs))
		t_bail("pthread_create");
	for (i = 0; i < ALLOCATORS; i++) {
		memset(&as[i], 0, sizeof(as[i]));
		as[i].id = i + 1;
		if (pthread_create(&at[i], NULL, allocator, &as[i]))
			t_bail("pthread_create");
	}
	t0 = t_now();
	while (t_now() - t0 < RACE_SECONDS)
		usleep(100000);
	atomic_store(&stop, true);
	pthread_join(rt, NULL);
	for (i = 0; i < ALLOCATORS; i++)
		pthread_join(at[i], NULL);
	munmap(fixed, REMAP_LEN);

	t_ok(rs.rounds >= 10 && !rs.lost && !rs.faults && !rs.bad_map,
	     "race: the remapping thread kept its memory at %p for %lu "
	     "rounds (%lu patterns lost, %lu faults, %lu failed mmaps)",
	     (void *)fixed, rs.rounds, rs.lost, rs.faults, rs.bad_map);
	for (i = 0; i < ALLOCATORS; i++)
		t_ok(as[i].ok && as[i].errors && !as[i].wrong,
		     "race: allocator %u: %lu buffers, %lu error paths, %lu "
		     "unexpected results%s%s", as[i].id, as[i].ok,
		     as[i].errors, as[i].wrong, as[i].wrong ? ": " : "",
		     as[i].wrong_what);
	fds1 = kt_fd_count(&contig1);
	t_ok(fds1 == fds0 && contig1 == contig0,
	     "race: no fd left behind (%d open, %d before; %d contig_buf)",
	     fds1, fds0, contig1);
	t_ok(t_mappings_of("contig_buf") == 0,
	     "race: no contig_buf mapping left");
	t_free_mem_returned("race: nothing held", base, tol_kb, 20);
	munmap(no_access, 4096);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
}

/* ---- removal ------------------------------------------------------------- */

/* The netdev under rxe0 from `rdma link show` ("... netdev NAME"). */
static void find_netdev(void)
{
	char line[512], *p;
	FILE *f;

	f = popen("rdma link show rxe0/1 2>/dev/null", "r");
	if (!f)
		return;
	if (fgets(line, sizeof(line), f)) {
		p = strstr(line, " netdev ");
		if (p)
			sscanf(p + 8, "%63s", netdev);
	}
	pclose(f);
}

static pid_t run_bg(const char *cmd)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		t_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static bool rxe0_active(double timeout_s)
{
	double end = t_now() + timeout_s;

	do {
		if (!system("rdma link show rxe0/1 2>/dev/null | "
			    "grep -q 'state ACTIVE'"))
			return true;
		usleep(100000);
	} while (t_now() < end);
	return false;
}

/* rxe0 is back: a buffer, an MR over it and data through a QP pair. */
static void check_device_back(void)
{
	struct ibv_contig_buf *buf;
	struct t_loop lp;
	struct ibv_mr *mr;
	int i, ret;

	ctx = t_open_device("rxe0");
	pd = ibv_alloc_pd(ctx);
	if (!pd)
		t_bail("ibv_alloc_pd: %s", strerror(errno));
	/* The GIDs follow the netdev's address a moment after ACTIVE. */
	for (i = 0; i < 50 && t_loop_create(&lp, pd); i++)
		usleep(100000);
	if (!t_ok(i < 50, "removal: a QP pair on the new rxe0"))
		goto out;
	ret = acct_buf_alloc(pd, 2 * KT_MIB, -1, 0, &buf);
	if (t_errno_is(ret, 0, "removal: a buffer on the new rxe0")) {
		mr = ibv_reg_contig_buf_mr(pd, buf, buf->addr, buf->length,
					   KT_ACCESS_ALL);
		t_ok(mr && !t_loop_verify(&lp, mr, 0, buf->length, SEED,
					  TIMEOUT_MS),
		     "removal: RDMA READ and WRITE through an MR over it");
		if (mr)
			ibv_dereg_mr(mr);
		ibv_free_contig_buf(buf);
	}
	t_loop_destroy(&lp);
out:
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
}

static void test_removal(void)
{
	bool answered;
	char cmd[160];
	struct acct_link l;
	long long base = t_free_mem_kb(), before_unmap;
	pid_t pid, del;
	unsigned int i;
	int status;
	bool clean;

	find_netdev();
	t_diag("removal: rxe0 is on netdev %s", netdev);
	memset(rep, 0, sizeof(*rep));
	acct_link_init(&l);
	pid = acct_spawn(&l, removal_worker, NULL);
	answered = acct_wait_ack(&l, STEP_TIMEOUT);
	if (!t_ok(answered && !rep->setup[0],
		  "removal: 80 MiB in buffers, three MRs on rxe0%s%s",
		  rep->setup[0] ? ": " : "", rep->setup)) {
		acct_send(&l, CMD_EXIT);
		acct_reap(pid, 60);
		acct_link_close(&l);
		return;
	}
	del = run_bg("exec rdma link delete rxe0");
	sleep(3);
	if (waitpid(del, &status, WNOHANG) == del) {
		t_diag("removal: rdma link delete returned at once (status "
		       "0x%x): the device disassociated its contexts", status);
		del = -1;
	} else {
		t_diag("removal: rdma link delete waits for the open context");
	}
	acct_send(&l, CMD_GO);
	answered = acct_wait_ack(&l, STEP_TIMEOUT);
	t_ok(answered && !rep->bad,
	     "removal: the mappings read back their data during the removal "
	     "(%u differ)", rep->bad);
	for (i = 0, clean = !rep->close_err; i < 4; i++)
		if (rep->free_err[i] && rep->free_err[i] != EIO)
			clean = false;
	t_ok(clean, "removal: during the removal, ibv_dereg_mr of the raw "
	     "buffer's MR %s, ibv_free_contig_buf + ibv_dereg_mr %s, "
	     "ibv_free_contig_mr %s, CONTIG_BUF_FREE %s, ibv_close_device %s "
	     "(want success or EIO)", errname(rep->free_err[0]),
	     errname(rep->free_err[1]), errname(rep->free_err[2]),
	     errname(rep->free_err[3]), errname(rep->close_err));
	if (del > 0) {
		status = acct_reap(del, 120);
		t_ok(status == 0, "removal: rdma link delete rxe0 completes "
		     "once the context is closed, a mapping still left "
		     "(status 0x%x)", status);
	}
	t_ok(system("rdma link show rxe0 >/dev/null 2>&1") != 0,
	     "removal: rxe0 is gone");
	t_free_mem_held("removal: the raw mapping outlives the device", base,
			BIG, tol_kb);
	/* The device's own memory went with it: measure the munmap itself. */
	before_unmap = t_free_mem_kb();
	acct_send(&l, CMD_GO);
	answered = acct_wait_ack(&l, STEP_TIMEOUT);
	t_ok(answered && !rep->bad && !rep->unmap_err,
	     "removal: the raw mapping reads back its data after the device "
	     "is gone, then unmaps (%u differ, munmap %s)", rep->bad,
	     errname(rep->unmap_err));
	t_free_mem_returned("removal: unmapping gives back all 32 MiB",
			    before_unmap + (long long)(BIG / KT_KIB),
			    tol_kb, 20);
	t_free_mem_returned("removal: unmapped", base, tol_kb, 20);
	acct_send(&l, CMD_EXIT);
	status = acct_reap(pid, 60);
	t_ok(status == 0, "removal: the worker exits cleanly (status 0x%x)",
	     status);
	acct_link_close(&l);

	snprintf(cmd, sizeof(cmd), "rdma link add rxe0 type rxe netdev %s",
		 netdev);
	if (!t_ok(!system(cmd) && rxe0_active(10), "removal: %s: ACTIVE",
		  cmd))
		t_bail("rxe0 could not be added again: later tests in this "
		       "guest will not find it");
	check_device_back();
}

int main(void)
{
	if (geteuid())
		t_skip_all("needs root (run in the guest)");
	signal(SIGPIPE, SIG_IGN);
	/* Skips when there is no device at all. */
	ibv_close_device(t_open_device(NULL));
	rep = acct_shared(sizeof(*rep));
	tol_kb = t_free_mem_tolerance_kb(8192);

	test_close();
	test_race();
	test_removal();
	return t_done();
}
