/* SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB */
/*
 * acct: helpers of the accounting and placement tests (tests/accounting),
 * on top of cmr_test and kt (tests/kernel: raw CONTIG_BUF commands,
 * `rdma resource show mr -dd`).
 *
 *  - workers: child processes that do one step at a time when told and
 *    report through memory shared with the test, so that only the test
 *    process prints TAP and the numbering stays whole; a worker may be
 *    another user, in another cgroup, or gone while its memory lives on;
 *  - the public allocation with the kernel back end only (no hugetlb
 *    fallback hides what the kernel refused);
 *  - cgroup v2: controllers, a child group, its files.
 *
 * A worker must not call t_ok() (its count is a copy); t_diag() is fine.
 */
#ifndef ACCT_H
#define ACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <infiniband/verbs.h>
#include <infiniband/verbs_contig.h>

#include "kt.h"

/* ---- workers ------------------------------------------------------------- */

/*
 * Two pipes between the test and one worker: commands down, acks up.
 * Made before fork(); each side then closes the other's ends.
 */
struct acct_link {
	int down[2];
	int up[2];
};

/* pipe() both; t_bail() on failure. */
void acct_link_init(struct acct_link *l);
/* In the test after fork(): close the worker's ends. */
void acct_link_parent(struct acct_link *l);
/* In the worker after fork(): close the test's ends. */
void acct_link_child(struct acct_link *l);
/* Close whatever is still open (a process that is neither side). */
void acct_link_close(struct acct_link *l);

/* Worker: report that the step is done. */
void acct_ack(struct acct_link *l);
/* Worker: wait for the next command; the command byte, or -1 (EOF). */
int acct_wait(struct acct_link *l);

/* Test: send a command byte. false when the worker is gone. */
bool acct_send(struct acct_link *l, int cmd);
/* Test: wait up to timeout_s for the worker's ack. false: none came. */
bool acct_wait_ack(struct acct_link *l, double timeout_s);

/*
 * Fork a worker that runs fn(l, arg) and then exit(0)s; it dies with the
 * test (PR_SET_PDEATHSIG). Returns its pid; t_bail() when fork() fails.
 * acct_link_parent() is done here.
 */
pid_t acct_spawn(struct acct_link *l, void (*fn)(struct acct_link *, void *),
		 void *arg);

/*
 * Wait up to timeout_s for pid to end (SIGKILL after that). Returns the
 * wait status, or -1 when it had to be killed or is not our child.
 */
int acct_reap(pid_t pid, double timeout_s);

/* Whether pid exists and is not a zombie. */
bool acct_alive(pid_t pid);

/* Zeroed memory shared with every process forked afterwards. */
void *acct_shared(size_t size);

/* ---- devices and buffers ------------------------------------------------- */

/*
 * Open the first rxe device (else the first device) without touching the
 * TAP output: for workers. NULL with errno set.
 */
struct ibv_context *acct_open_device(void);

/*
 * acct_open_device(), a PD on it and the driver id of the raw commands
 * (kt_raw_init()). 0, or -1 with the step that failed written to why and
 * nothing left open.
 */
int acct_open(struct ibv_context **ctx, struct ibv_pd **pd, char *why,
	      size_t why_size);

/*
 * ibv_alloc_contig_buf() with the kernel back end only
 * (IBV_CONTIG_MR_POLICY_CONTIG): numa_node < 0 names none, flags are
 * IBV_CONTIG_MR_*. 0 or a positive errno.
 */
int acct_buf_alloc(struct ibv_pd *pd, size_t length, int numa_node,
		   uint32_t flags, struct ibv_contig_buf **buf);

/* ---- cgroup v2 ----------------------------------------------------------- */

#define ACCT_CGROUP_ROOT "/sys/fs/cgroup"

/*
 * The controller is available at the root (cgroup.controllers) and
 * enabled for its children (cgroup.subtree_control; enabled here if it is
 * not yet). One test point each; false when either fails.
 */
bool acct_cgroup_controller(const char *controller);

/*
 * A child group ACCT_CGROUP_ROOT/NAME-PID, made anew. 0, or -1 after
 * t_diag(). path receives its directory.
 */
int acct_cgroup_create(const char *name, char *path, size_t size);

/* Write value to the group's file. 0 or errno. */
int acct_cgroup_write(const char *cg, const char *file, const char *value);

/* The number in the group's file ("memory.current"), or -1. */
long long acct_cgroup_number(const char *cg, const char *file);

/* The value of "key N" in a flat-keyed file (memory.events, .stat), or -1. */
long long acct_cgroup_key(const char *cg, const char *file, const char *key);

/* Move pid (0: the caller) into the group. 0 or errno. */
int acct_cgroup_enter(const char *cg, pid_t pid);

/*
 * Remove the group once its processes are gone (rmdir, retried for up to
 * 10 s while it is busy). 0 or errno.
 */
int acct_cgroup_remove(const char *cg);

#endif /* ACCT_H */
