// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * kernel_kill: SIGKILL ends a large contiguous allocation at once.
 *
 *   kernel_kill LENGTH MIN_EXTENT
 *
 * A child process starts a raw CONTIG_BUF_ALLOC of LENGTH (MIN_EXTENT 0:
 * one range) and is sent SIGKILL while the allocation runs, in the two
 * phases that can take long:
 *  - zeroing: on free memory the range is taken from the free lists in
 *    milliseconds and the rest is the zeroing; killed at half of an
 *    uninterrupted allocation's time T;
 *  - the search: a child holds one page in every 64 KiB of the free
 *    memory but 512 MiB (kt_scatter_start()), so no candidate is free and
 *    each one is isolated and migrated; the kills come after 10 %, 30 %
 *    and 60 % of T, the time on free memory: the search of scattered
 *    memory takes longer than zeroing the same bytes (11.6 s against
 *    3.7 s, measured), and each killed attempt leaves the ranges it
 *    emptied free for the next, so the kills must add up to less than the
 *    search. An uninterrupted allocation on the scattered memory comes
 *    last, for the record; it must take longer than the last kill.
 * For each kill it asserts:
 *  - the allocation had not returned when the signal was sent;
 *  - the child is gone, killed by SIGKILL, within one second of the
 *    signal (the allocation checks for fatal signals between candidate
 *    ranges, during migration and between zeroing chunks, on every CPU
 *    that zeroes);
 * and afterwards: no pageblock left MIGRATE_ISOLATE, free memory back to
 * its baseline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kt.h"

/* What the allocating child writes to its pipe. */
#define MSG_STARTED	'S'
#define MSG_RETURNED	'R'

static const double search_kill_at[] = { 0.10, 0.30, 0.60 };

struct kill_test {
	struct ibv_context *ctx;
	struct cmr_buf_alloc_in in;
};

/* The child: allocate, tell the parent when the ioctl is entered and left. */
static noreturn void allocate_in_child(const struct kill_test *t, int wfd)
{
	char msg = MSG_STARTED;
	struct kt_buf b;
	int ret;

	if (write(wfd, &msg, 1) != 1)
		_exit(2);
	ret = kt_raw_alloc_in(t->ctx, &t->in, &b);
	msg = MSG_RETURNED;
	if (write(wfd, &msg, 1) != 1)
		_exit(2);
	if (!ret)
		kt_buf_release(&b);
	_exit(ret ? 1 : 0);
}

static double timed_alloc(const struct kill_test *t)
{
	double start = t_now();
	struct kt_buf b;
	int ret = kt_raw_alloc_in(t->ctx, &t->in, &b);

	if (ret)
		t_bail("uninterrupted allocation: %s", strerrorname_np(ret));
	start = t_now() - start;
	kt_buf_release(&b);
	return start;
}

/* The state letter of /proc/PID/stat (R, D, S, ...), or '?'. */
static char task_state(pid_t pid)
{
	char path[64], state = '?';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
			state = '?';
		fclose(f);
	}
	return state;
}

/*
 * Wait for the killed child. While it is there after the first 200 ms,
 * record its state and its kernel stack (/proc/PID/stack; empty while it
 * runs on a CPU) every 50 ms, for the report. Returns when it was reaped.
 */
static double reap(pid_t pid, int *status, char *log, size_t size)
{
	double start = t_now(), next = start + 0.2;
	size_t used = 0;
	pid_t got;

	log[0] = 0;
	while (!(got = waitpid(pid, status, WNOHANG))) {
		if (t_now() >= next && used + 256 < size) {
			char path[64];
			FILE *f;

			next += 0.05;
			used += snprintf(log + used, size - used, "+%.2f s %c:",
					 t_now() - start, task_state(pid));
			snprintf(path, sizeof(path), "/proc/%d/stack", (int)pid);
			f = fopen(path, "r");
			if (f) {
				used += fread(log + used, 1, size - used - 2, f);
				fclose(f);
			}
			log[used++] = '\n';
			log[used] = 0;
		}
		usleep(5000);
	}
	if (got != pid)
		t_bail("waitpid: %s", strerror(errno));
	return t_now();
}

static void kill_during_alloc(const struct kill_test *t, double delay)
{
	char stack[8192];
	int fds[2], status;
	double sent, gone;
	struct pollfd p;
	char msg = 0;
	pid_t pid;

	if (pipe(fds))
		t_bail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		t_bail("fork: %s", strerror(errno));
	if (!pid) {
		close(fds[0]);
		allocate_in_child(t, fds[1]);
	}
	close(fds[1]);
	if (read(fds[0], &msg, 1) != 1 || msg != MSG_STARTED)
		t_bail("the allocating child did not start");
	usleep((useconds_t)(delay * 1e6));

	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	t_ok(poll(&p, 1, 0) == 0, "after %.2f s the allocation is still running",
	     delay);
	kill(pid, SIGKILL);
	sent = t_now();
	gone = reap(pid, &status, stack, sizeof(stack)) - sent;
	t_ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	     "the child was killed by SIGKILL (status 0x%x)", status);
	if (!t_ok(gone < 1.0, "killed %.2f s into the allocation: gone %.3f s "
		  "after the signal (limit 1 s)", delay, gone))
		t_diag("its state and kernel stack after the signal:\n%s",
		       stack);
	close(fds[0]);
}

int main(int argc, char **argv)
{
	struct kill_test t = { .in.numa_node = -1 };
	struct kt_scatter scatter;
	long long base, tol;
	uint64_t len, ext;
	double whole, start, last;
	unsigned int i;
	char s[32];

	if (argc != 3 || t_parse_size(argv[1], &len) ||
	    t_parse_size(argv[2], &ext))
		t_bail("usage: %s LENGTH MIN_EXTENT", argv[0]);
	t.in.length = len;
	t.in.min_extent = ext;
	t.ctx = t_open_device(getenv("CMR_RXE"));
	if (kt_raw_init(t.ctx))
		t_bail("uverbs driver id");
	kt_size_str(len, s, sizeof(s));

	base = t_free_mem_kb();
	tol = t_free_mem_tolerance_kb(8192);
	whole = timed_alloc(&t);
	t_diag("free memory: uninterrupted allocation of %s: %.2f s", s,
	       whole);
	if (whole < 0.5)
		t_bail("the allocation takes %.2f s: too short to kill inside "
		       "it, use a larger LENGTH", whole);
	kill_during_alloc(&t, whole / 2);

	start = t_now();
	if (kt_scatter_start(&scatter, 512 * KT_MIB, 64 * KT_KIB))
		t_bail("scattering movable pages: %s", strerror(errno));
	t_diag("a child holds %" PRIu64 " MiB, one page in every 64 KiB "
	       "(set up in %.1f s)", scatter.held >> 20, t_now() - start);
	for (i = 0; i < sizeof(search_kill_at) / sizeof(search_kill_at[0]); i++)
		kill_during_alloc(&t, search_kill_at[i] * whole);
	last = timed_alloc(&t);
	t_ok(last > search_kill_at[i - 1] * whole, "scattered memory: an "
	     "uninterrupted allocation of %s takes %.2f s afterwards, longer "
	     "than the last kill's delay", s, last);
	kt_scatter_stop(&scatter);

	t_ok(kt_isolated_pageblocks() == 0,
	     "/proc/pagetypeinfo: no pageblock left MIGRATE_ISOLATE");
	t_free_mem_returned("after the killed allocations", base, tol, 30);
	ibv_close_device(t.ctx);
	return t_done();
}
