// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * acct: helpers of the accounting and placement tests. See acct.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "acct.h"

/* ---- workers ------------------------------------------------------------- */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void acct_link_init(struct acct_link *l)
{
	if (pipe2(l->down, O_CLOEXEC) || pipe2(l->up, O_CLOEXEC))
		t_bail("pipe: %s", strerror(errno));
}

void acct_link_parent(struct acct_link *l)
{
	close_fd(&l->down[0]);
	close_fd(&l->up[1]);
}

void acct_link_child(struct acct_link *l)
{
	close_fd(&l->down[1]);
	close_fd(&l->up[0]);
}

void acct_link_close(struct acct_link *l)
{
	close_fd(&l->down[0]);
	close_fd(&l->down[1]);
	close_fd(&l->up[0]);
	close_fd(&l->up[1]);
}

void acct_ack(struct acct_link *l)
{
	char c = 'a';

	while (write(l->up[1], &c, 1) < 0 && errno == EINTR)
		;
}

int acct_wait(struct acct_link *l)
{
	unsigned char c;
	ssize_t n;

	do
		n = read(l->down[0], &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? c : -1;
}

bool acct_send(struct acct_link *l, int cmd)
{
	char c = (char)cmd;
	ssize_t n;

	do
		n = write(l->down[1], &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1;
}

bool acct_wait_ack(struct acct_link *l, double timeout_s)
{
	double end = t_now() + timeout_s;
	struct pollfd p = { .fd = l->up[0], .events = POLLIN };
	char c;

	for (;;) {
		int left = (int)((end - t_now()) * 1000);
		int n;

		if (left < 0)
			left = 0;
		n = poll(&p, 1, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			t_diag("no answer from the worker within %.0f s",
			       timeout_s);
			return false;
		}
		/* EOF (the worker died) reads 0 bytes. */
		return read(l->up[0], &c, 1) == 1;
	}
}

pid_t acct_spawn(struct acct_link *l, void (*fn)(struct acct_link *, void *),
		 void *arg)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		t_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		acct_link_child(l);
		fn(l, arg);
		exit(0);
	}
	acct_link_parent(l);
	return pid;
}

int acct_reap(pid_t pid, double timeout_s)
{
	double end = t_now() + timeout_s;
	int status;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0)
			return -1;
		if (t_now() > end)
			break;
		usleep(20000);
	}
	t_diag("process %d did not end within %.0f s: killed", (int)pid,
	       timeout_s);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/* The start of a small file as a string; false when there is nothing. */
static bool read_small(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

bool acct_alive(pid_t pid)
{
	char path[64], buf[256], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!read_small(path, buf, sizeof(buf)))
		return false;
	/* "pid (comm) S ...": the state follows the last ')'. */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

void *acct_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		t_bail("mmap of shared memory: %s", strerror(errno));
	return p;
}

/* ---- devices and buffers ------------------------------------------------- */

struct ibv_context *acct_open_device(void)
{
	struct ibv_device **list, *dev = NULL;
	struct ibv_context *ctx;
	int i, n, err;

	list = ibv_get_device_list(&n);
	if (!list)
		return NULL;
	for (i = 0; i < n && !dev; i++)
		if (!strncmp(ibv_get_device_name(list[i]), "rxe", 3))
			dev = list[i];
	if (!dev && n)
		dev = list[0];
	if (!dev) {
		ibv_free_device_list(list);
		errno = ENODEV;
		return NULL;
	}
	ctx = ibv_open_device(dev);
	err = errno;
	ibv_free_device_list(list);
	errno = err;
	return ctx;
}

int acct_open(struct ibv_context **ctx, struct ibv_pd **pd, char *why,
	      size_t why_size)
{
	int ret;

	*pd = NULL;
	*ctx = acct_open_device();
	if (!*ctx) {
		snprintf(why, why_size, "opening the device: %s",
			 strerror(errno));
		return -1;
	}
	*pd = ibv_alloc_pd(*ctx);
	if (!*pd) {
		snprintf(why, why_size, "ibv_alloc_pd: %s", strerror(errno));
		goto err_close;
	}
	ret = kt_raw_init(*ctx);
	if (ret) {
		snprintf(why, why_size, "the device's driver id: %s",
			 strerrorname_np(ret));
		goto err_dealloc;
	}
	return 0;

err_dealloc:
	ibv_dealloc_pd(*pd);
	*pd = NULL;
err_close:
	ibv_close_device(*ctx);
	*ctx = NULL;
	return -1;
}

int acct_buf_alloc(struct ibv_pd *pd, size_t length, int numa_node,
		   uint32_t flags, struct ibv_contig_buf **buf)
{
	struct ibv_alloc_contig_mr_attr attr = {
		.comp_mask = IBV_CONTIG_MR_ATTR_POLICY,
		.numa_node = -1,
		.policy = IBV_CONTIG_MR_POLICY_CONTIG,
	};

	if (numa_node >= 0) {
		attr.comp_mask |= IBV_CONTIG_MR_ATTR_NUMA_NODE;
		attr.numa_node = numa_node;
	}
	if (flags) {
		attr.comp_mask |= IBV_CONTIG_MR_ATTR_FLAGS;
		attr.flags = flags;
	}
	*buf = NULL;
	return ibv_alloc_contig_buf(pd, length, &attr, buf);
}

/* ---- cgroup v2 ----------------------------------------------------------- */

static bool word_in_file(const char *path, const char *word)
{
	char buf[512], *tok, *save;
	bool found = false;

	if (!read_small(path, buf, sizeof(buf)))
		return false;
	for (tok = strtok_r(buf, " \n", &save); tok && !found;
	     tok = strtok_r(NULL, " \n", &save))
		found = !strcmp(tok, word);
	return found;
}

bool acct_cgroup_controller(const char *controller)
{
	const char *avail = ACCT_CGROUP_ROOT "/cgroup.controllers";
	const char *sub = ACCT_CGROUP_ROOT "/cgroup.subtree_control";
	bool on;

	if (access(avail, R_OK))
		t_diag("%s: %s (cgroup v2 is not mounted at %s)", avail,
		       strerror(errno), ACCT_CGROUP_ROOT);
	if (!t_ok(word_in_file(avail, controller),
		  "cgroup v2: the %s controller is available (%s)", controller,
		  avail))
		return false;
	on = word_in_file(sub, controller);
	if (!on) {
		char value[64];

		snprintf(value, sizeof(value), "+%s", controller);
		t_diag("%s lacks %s: enabling it", sub, controller);
		if (t_write_file(sub, "%s", value))
			t_diag("writing %s to %s: %s", value, sub,
			       strerror(errno));
		on = word_in_file(sub, controller);
	}
	return t_ok(on, "cgroup v2: %s is enabled for child groups (%s)",
		    controller, sub);
}

static void cg_path(char *path, size_t size, const char *cg, const char *file)
{
	snprintf(path, size, "%s/%s", cg, file);
}

int acct_cgroup_create(const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s-%d", ACCT_CGROUP_ROOT, name, (int)getpid());
	/* Left over from an earlier run with this pid: start afresh. */
	rmdir(path);
	if (mkdir(path, 0755)) {
		t_diag("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int acct_cgroup_write(const char *cg, const char *file, const char *value)
{
	char path[512];

	cg_path(path, sizeof(path), cg, file);
	if (t_write_file(path, "%s", value)) {
		int err = errno ? errno : EIO;

		t_diag("writing '%s' to %s: %s", value, path, strerror(err));
		return err;
	}
	return 0;
}

long long acct_cgroup_number(const char *cg, const char *file)
{
	char path[512];

	cg_path(path, sizeof(path), cg, file);
	return t_read_number(path);
}

long long acct_cgroup_key(const char *cg, const char *file, const char *key)
{
	char path[512], line[256];
	size_t klen = strlen(key);
	long long v = -1;
	FILE *f;

	cg_path(path, sizeof(path), cg, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (v < 0 && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			v = strtoll(line + klen + 1, NULL, 10);
	fclose(f);
	return v;
}

int acct_cgroup_enter(const char *cg, pid_t pid)
{
	char value[32];

	snprintf(value, sizeof(value), "%d", pid ? (int)pid : (int)getpid());
	return acct_cgroup_write(cg, "cgroup.procs", value);
}

int acct_cgroup_remove(const char *cg)
{
	double end = t_now() + 10;

	/* An exited task leaves its group a little after wait() returns. */
	while (rmdir(cg)) {
		if (errno != EBUSY || t_now() > end) {
			int err = errno;

			t_diag("rmdir %s: %s", cg, strerror(err));
			return err;
		}
		usleep(50000);
	}
	return 0;
}
