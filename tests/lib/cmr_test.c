// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * cmr_test: TAP output, device and loopback QP set-up, memory helpers.
 * See cmr_test.h.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <grp.h>
#include <unistd.h>

#include "cmr_test.h"

/* ---- TAP ---------------------------------------------------------------- */

static pthread_mutex_t t_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int t_count, t_failed, t_skipped, t_planned;
static bool t_plan_printed;

static void t_vline(const char *prefix, const char *fmt, va_list ap)
{
	fputs(prefix, stdout);
	vfprintf(stdout, fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
}

void t_plan(unsigned int n)
{
	pthread_mutex_lock(&t_lock);
	if (!t_plan_printed) {
		printf("TAP version 13\n1..%u\n", n);
		fflush(stdout);
		t_planned = n;
		t_plan_printed = true;
	}
	pthread_mutex_unlock(&t_lock);
}

bool t_ok(bool cond, const char *fmt, ...)
{
	char prefix[48];
	va_list ap;

	pthread_mutex_lock(&t_lock);
	t_count++;
	if (!cond)
		t_failed++;
	snprintf(prefix, sizeof(prefix), "%sok %u - ", cond ? "" : "not ",
		 t_count);
	va_start(ap, fmt);
	t_vline(prefix, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&t_lock);
	return cond;
}

void t_skip(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&t_lock);
	t_count++;
	t_skipped++;
	printf("ok %u - # SKIP ", t_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	pthread_mutex_unlock(&t_lock);
}

void t_diag(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&t_lock);
	va_start(ap, fmt);
	t_vline("# ", fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&t_lock);
}

void t_skip_all(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&t_lock);
	if (!t_plan_printed && !t_count)
		printf("TAP version 13\n1..0 # SKIP ");
	else
		printf("# SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	pthread_mutex_unlock(&t_lock);
	exit(t_failed ? T_EXIT_FAIL : T_EXIT_SKIP);
}

void t_bail(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&t_lock);
	va_start(ap, fmt);
	t_vline("Bail out! ", fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&t_lock);
	exit(T_EXIT_FAIL);
}

int t_done(void)
{
	int ret;

	pthread_mutex_lock(&t_lock);
	if (!t_plan_printed)
		printf("1..%u\n", t_count);
	else if (t_planned != t_count)
		printf("# planned %u test points, ran %u\n", t_planned,
		       t_count);
	printf("# %u passed, %u failed, %u skipped\n",
	       t_count - t_failed - t_skipped, t_failed, t_skipped);
	fflush(stdout);
	if (t_failed || (t_plan_printed && t_planned != t_count))
		ret = T_EXIT_FAIL;
	else if (t_count && t_skipped == t_count)
		ret = T_EXIT_SKIP;
	else
		ret = T_EXIT_PASS;
	pthread_mutex_unlock(&t_lock);
	return ret;
}

unsigned int t_failures(void)
{
	unsigned int n;

	pthread_mutex_lock(&t_lock);
	n = t_failed;
	pthread_mutex_unlock(&t_lock);
	return n;
}

bool t_errno_is(int got, int want, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (got == want)
		return t_ok(true, "%s: %s", what, want ? strerrorname_np(want) : "ok");
	return t_ok(false, "%s: got %s (%s), expected %s", what,
		    got ? strerrorname_np(got) : "success",
		    got ? strerror(got) : "0",
		    want ? strerrorname_np(want) : "success");
}

/* ---- devices ------------------------------------------------------------ */

struct ibv_context *t_open_device(const char *name)
{
	struct ibv_device **list, *dev = NULL;
	struct ibv_context *ctx;
	int i, n;

	list = ibv_get_device_list(&n);
	if (!list || n == 0) {
		if (list)
			ibv_free_device_list(list);
		t_skip_all("no RDMA device (run in the guest with a set-up)");
	}
	for (i = 0; i < n && !dev; i++) {
		const char *dn = ibv_get_device_name(list[i]);

		if (name ? !strcmp(dn, name) : !strncmp(dn, "rxe", 3))
			dev = list[i];
	}
	if (!dev && !name)
		dev = list[0];
	if (!dev) {
		ibv_free_device_list(list);
		t_skip_all("no RDMA device called %s", name);
	}
	ctx = ibv_open_device(dev);
	if (!ctx)
		t_bail("ibv_open_device(%s): %s", ibv_get_device_name(dev),
		       strerror(errno));
	t_diag("device %s", ibv_get_device_name(dev));
	ibv_free_device_list(list);
	return ctx;
}

void t_dev_setup(const char *name, struct ibv_context **ctx,
		 struct ibv_pd **pd, struct t_loop *loop)
{
	*ctx = t_open_device(name);
	*pd = ibv_alloc_pd(*ctx);
	if (!*pd)
		t_bail("ibv_alloc_pd: %s", strerror(errno));
	if (loop && t_loop_create(loop, *pd))
		t_bail("loopback QP pair on %s",
		       ibv_get_device_name((*ctx)->device));
}

void t_dev_teardown(struct ibv_context *ctx, struct ibv_pd *pd,
		    struct t_loop *loop)
{
	if (loop)
		t_loop_destroy(loop);
	t_errno_is(ibv_dealloc_pd(pd), 0, "dealloc the PD: nothing left on it");
	ibv_close_device(ctx);
}

/* ---- RC QPs ------------------------------------------------------------ */

static bool gid_is_zero(const union ibv_gid *gid)
{
	static const union ibv_gid zero;

	return !memcmp(gid, &zero, sizeof(zero));
}

static bool gid_is_ipv4(const union ibv_gid *gid)
{
	static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0,
					    0, 0, 0xff, 0xff };

	return !memcmp(gid->raw, prefix, sizeof(prefix));
}

/* RoCE v2 with an IPv4 address, else RoCE v2, else any valid GID. */
static int pick_gid(struct ibv_context *ctx, struct t_port *port,
		    int table_len)
{
	int best = -1, best_score = -1, i;

	for (i = 0; i < table_len; i++) {
		struct ibv_gid_entry e;
		int score = 0;

		if (ibv_query_gid_ex(ctx, port->num, i, &e, 0) ||
		    gid_is_zero(&e.gid))
			continue;
		if (e.gid_type == IBV_GID_TYPE_ROCE_V2)
			score += 2;
		if (gid_is_ipv4(&e.gid))
			score += 1;
		if (score > best_score) {
			best = i;
			best_score = score;
			port->gid = e.gid;
		}
	}
	return best;
}

int t_port_query(struct ibv_context *ctx, uint8_t num, struct t_port *port)
{
	const char *name = ibv_get_device_name(ctx->device);
	struct ibv_device_attr dattr;
	struct ibv_port_attr pattr;

	memset(port, 0, sizeof(*port));
	port->num = num;
	if (ibv_query_device(ctx, &dattr) || ibv_query_port(ctx, num, &pattr)) {
		t_diag("%s: query device/port: %s", name, strerror(errno));
		return -1;
	}
	if (pattr.state != IBV_PORT_ACTIVE)
		t_diag("%s: port %u is %s", name, num,
		       ibv_port_state_str(pattr.state));
	port->mtu = pattr.active_mtu;
	port->max_msg_sz = pattr.max_msg_sz;
	port->rd_atomic = dattr.max_qp_rd_atom > 16 ? 16 :
			  dattr.max_qp_rd_atom ? dattr.max_qp_rd_atom : 1;
	port->gid_index = pick_gid(ctx, port, pattr.gid_tbl_len);
	if (port->gid_index < 0) {
		t_diag("%s: no valid GID on port %u", name, num);
		return -1;
	}
	return 0;
}

struct ibv_qp *t_rc_qp_create(struct ibv_pd *pd, struct ibv_cq *cq)
{
	struct ibv_qp_init_attr init;
	struct ibv_qp *qp;

	memset(&init, 0, sizeof(init));
	init.send_cq = cq;
	init.recv_cq = cq;
	init.qp_type = IBV_QPT_RC;
	init.cap.max_send_wr = 32;
	init.cap.max_recv_wr = 4;
	init.cap.max_send_sge = 1;
	init.cap.max_recv_sge = 1;
	qp = ibv_create_qp(pd, &init);
	if (!qp)
		t_diag("create_qp: %s", strerror(errno));
	return qp;
}

int t_rc_qp_connect(struct ibv_qp *qp, const struct t_port *local,
		    const struct t_port *remote, uint32_t dest_qpn,
		    enum ibv_mtu mtu)
{
	struct ibv_qp_attr a;
	int ret;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = local->num;
	a.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
			    IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC;
	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
					   IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
	if (ret) {
		t_diag("modify_qp INIT: %s", strerror(ret));
		return -1;
	}

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = mtu;
	a.dest_qp_num = dest_qpn;
	a.max_dest_rd_atomic = local->rd_atomic;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = remote->gid;
	a.ah_attr.grh.sgid_index = (uint8_t)local->gid_index;
	a.ah_attr.grh.hop_limit = 64;
	a.ah_attr.port_num = local->num;
	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV |
					   IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
					   IBV_QP_RQ_PSN |
					   IBV_QP_MAX_DEST_RD_ATOMIC |
					   IBV_QP_MIN_RNR_TIMER);
	if (ret) {
		t_diag("modify_qp RTR: %s", strerror(ret));
		return -1;
	}

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.max_rd_atomic = remote->rd_atomic;
	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
					   IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
					   IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
	if (ret) {
		t_diag("modify_qp RTS: %s", strerror(ret));
		return -1;
	}
	return 0;
}

/* ---- loopback QP pair --------------------------------------------------- */

int t_loop_create(struct t_loop *l, struct ibv_pd *pd)
{
	int i;

	memset(l, 0, sizeof(*l));
	l->ctx = pd->context;
	l->pd = pd;
	if (t_port_query(l->ctx, 1, &l->port))
		return -1;
	l->cq = ibv_create_cq(l->ctx, 64, NULL, NULL, 0);
	if (!l->cq) {
		t_diag("create_cq: %s", strerror(errno));
		goto err;
	}
	for (i = 0; i < 2; i++) {
		l->qp[i] = t_rc_qp_create(pd, l->cq);
		if (!l->qp[i])
			goto err;
	}
	for (i = 0; i < 2; i++)
		if (t_rc_qp_connect(l->qp[i], &l->port, &l->port,
				    l->qp[!i]->qp_num, l->port.mtu))
			goto err;
	return 0;

err:
	t_loop_destroy(l);
	return -1;
}

void t_loop_destroy(struct t_loop *l)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (l->qp[i])
			ibv_destroy_qp(l->qp[i]);
		l->qp[i] = NULL;
	}
	if (l->cq)
		ibv_destroy_cq(l->cq);
	l->cq = NULL;
}

int t_post_wait(struct ibv_qp *qp, struct ibv_cq *cq, uint64_t *wr_id,
		struct ibv_send_wr *wr, int timeout_ms)
{
	struct ibv_send_wr *bad;
	struct ibv_wc wc;
	double deadline;
	int ret, n;

	wr->wr_id = ++*wr_id;
	wr->send_flags |= IBV_SEND_SIGNALED;
	wr->next = NULL;
	ret = ibv_post_send(qp, wr, &bad);
	if (ret) {
		t_diag("post_send: %s", strerror(ret));
		return -1;
	}
	deadline = t_now() + timeout_ms / 1000.0;
	for (;;) {
		n = ibv_poll_cq(cq, 1, &wc);
		if (n < 0) {
			t_diag("poll_cq failed");
			return -1;
		}
		if (n == 1) {
			if (wc.wr_id != wr->wr_id)
				continue;	/* a late one from a timeout */
			if (wc.status != IBV_WC_SUCCESS)
				t_diag("completion: %s (vendor 0x%x)",
				       ibv_wc_status_str(wc.status),
				       wc.vendor_err);
			return wc.status;
		}
		if (t_now() > deadline) {
			t_diag("no completion within %d ms", timeout_ms);
			return -1;
		}
		usleep(100);
	}
}

int t_loop_post(struct t_loop *l, struct ibv_send_wr *wr, int timeout_ms)
{
	return t_post_wait(l->qp[0], l->cq, &l->wr_id, wr, timeout_ms);
}

/* Messages of a t_loop_rdma() transfer, and how many are in flight. */
#define T_RDMA_CHUNK (1u << 20)
#define T_RDMA_DEPTH 8

int t_loop_rdma(struct t_loop *l, enum ibv_wr_opcode op, void *local,
		uint32_t lkey, uint64_t remote, uint32_t rkey, size_t len,
		int timeout_ms)
{
	size_t chunk = T_RDMA_CHUNK, posted = 0, done = 0;
	unsigned int inflight = 0;
	double deadline = 0;

	if (l->port.max_msg_sz && chunk > l->port.max_msg_sz)
		chunk = l->port.max_msg_sz;
	/* One WR id per transfer: older completions are told apart. */
	l->wr_id++;
	while (done < len) {
		struct ibv_send_wr wr, *bad;
		struct ibv_sge sge;
		struct ibv_wc wc;
		int n, ret;

		while (posted < len && inflight < T_RDMA_DEPTH) {
			size_t n_bytes = len - posted < chunk ? len - posted :
								chunk;

			memset(&wr, 0, sizeof(wr));
			sge.addr = (uintptr_t)local + posted;
			sge.length = (uint32_t)n_bytes;
			sge.lkey = lkey;
			wr.wr_id = l->wr_id;
			wr.sg_list = &sge;
			wr.num_sge = 1;
			wr.opcode = op;
			wr.send_flags = IBV_SEND_SIGNALED;
			wr.wr.rdma.remote_addr = remote + posted;
			wr.wr.rdma.rkey = rkey;
			ret = ibv_post_send(l->qp[0], &wr, &bad);
			if (ret) {
				t_diag("post_send: %s", strerror(ret));
				return -1;
			}
			posted += n_bytes;
			inflight++;
			deadline = t_now() + timeout_ms / 1000.0;
		}

		n = ibv_poll_cq(l->cq, 1, &wc);
		if (n < 0) {
			t_diag("poll_cq failed");
			return -1;
		}
		if (n == 0) {
			if (t_now() > deadline) {
				t_diag("no completion within %d ms", timeout_ms);
				return -1;
			}
			usleep(50);
			continue;
		}
		if (wc.wr_id != l->wr_id)
			continue;	/* left over from a failed transfer */
		if (wc.status != IBV_WC_SUCCESS) {
			t_diag("completion: %s (vendor 0x%x)",
			       ibv_wc_status_str(wc.status), wc.vendor_err);
			return -1;
		}
		inflight--;
		done += (size_t)chunk < len - done ? chunk : len - done;
	}
	return 0;
}

int t_buf_alloc(struct t_buf *b, struct ibv_pd *pd, size_t len,
		unsigned int access)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	memset(b, 0, sizeof(*b));
	b->len = len;
	b->addr = aligned_alloc(page, (len + page - 1) / page * page);
	if (!b->addr) {
		t_diag("aligned_alloc(%zu): %s", len, strerror(errno));
		return -1;
	}
	b->mr = ibv_reg_mr(pd, b->addr, len, access);
	if (!b->mr) {
		t_diag("ibv_reg_mr(%zu): %s", len, strerror(errno));
		free(b->addr);
		b->addr = NULL;
		return -1;
	}
	return 0;
}

void t_buf_free(struct t_buf *b)
{
	if (b->mr)
		ibv_dereg_mr(b->mr);
	free(b->addr);
	memset(b, 0, sizeof(*b));
}

int t_loop_verify(struct t_loop *l, struct ibv_mr *mr, size_t off, size_t len,
		  uint64_t seed, int timeout_ms)
{
	char *target = (char *)mr->addr + off;
	uint64_t remote = (uintptr_t)target;
	struct t_buf b;
	long long bad;
	int ret = -1;

	if (t_buf_alloc(&b, l->pd, len, IBV_ACCESS_LOCAL_WRITE))
		return -1;

	t_fill(target, len, seed, off);
	memset(b.addr, 0, len);
	if (t_loop_rdma(l, IBV_WR_RDMA_READ, b.addr, b.mr->lkey, remote,
			mr->rkey, len, timeout_ms)) {
		t_diag("RDMA READ of [%zu, +%zu) failed", off, len);
		goto out;
	}
	bad = t_check(b.addr, len, seed, off);
	if (bad >= 0) {
		t_diag("RDMA READ: byte %zu differs", off + (size_t)bad);
		goto out;
	}

	t_fill(b.addr, len, ~seed, off);
	if (t_loop_rdma(l, IBV_WR_RDMA_WRITE, b.addr, b.mr->lkey, remote,
			mr->rkey, len, timeout_ms)) {
		t_diag("RDMA WRITE of [%zu, +%zu) failed", off, len);
		goto out;
	}
	bad = t_check(target, len, ~seed, off);
	if (bad >= 0) {
		t_diag("RDMA WRITE: byte %zu differs", off + (size_t)bad);
		goto out;
	}
	ret = 0;
out:
	t_buf_free(&b);
	return ret;
}

/* ---- memory ------------------------------------------------------------- */

bool t_mapping_of(const void *addr, size_t len, char *out, size_t out_size)
{
	unsigned long lo, hi, a = (uintptr_t)addr;
	char line[512];
	bool found = false;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo &&
		    a + len <= hi)
			found = true;
	fclose(f);
	if (found && out)
		snprintf(out, out_size, "%s", line);
	return found;
}

bool t_is_mapped(const void *addr, size_t len)
{
	return t_mapping_of(addr, len, NULL, 0);
}

int t_mappings_of(const char *name)
{
	char line[512];
	int n = 0;
	FILE *f;

	f = fopen("/proc/self/maps", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, name))
			n++;
	fclose(f);
	return n;
}

#define T_MAX_POOLS 4

static struct {
	unsigned long page_kb;
	long orig;
} t_pools[T_MAX_POOLS];
static unsigned int t_npools;

static void hugetlb_path(char *buf, size_t size, unsigned long page_kb,
			 const char *file)
{
	snprintf(buf, size, "/sys/kernel/mm/hugepages/hugepages-%lukB/%s",
		 page_kb, file);
}

static void t_hugetlb_restore(void)
{
	char path[128];
	unsigned int i;

	for (i = 0; i < t_npools; i++) {
		hugetlb_path(path, sizeof(path), t_pools[i].page_kb,
			     "nr_hugepages");
		t_write_file(path, "%ld", t_pools[i].orig);
	}
}

long t_hugetlb_pool(unsigned long page_kb, long n)
{
	char path[128];
	unsigned int i;
	long cur;

	hugetlb_path(path, sizeof(path), page_kb, "nr_hugepages");
	cur = t_read_number(path);
	if (cur < 0)
		return -1;
	pthread_mutex_lock(&t_lock);
	for (i = 0; i < t_npools && t_pools[i].page_kb != page_kb; i++)
		;
	if (i == t_npools && i < T_MAX_POOLS) {
		if (!t_npools)
			atexit(t_hugetlb_restore);
		t_pools[i].page_kb = page_kb;
		t_pools[i].orig = cur;
		t_npools++;
	}
	pthread_mutex_unlock(&t_lock);
	if (t_write_file(path, "%ld", n))
		return -1;
	return t_read_number(path);
}

long t_hugetlb_free(unsigned long page_kb)
{
	char path[128];

	hugetlb_path(path, sizeof(path), page_kb, "free_hugepages");
	return t_read_number(path);
}

#define PM_PRESENT (UINT64_C(1) << 63)
#define PM_PFN_MASK ((UINT64_C(1) << 55) - 1)

static int pagemap_read(const void *addr, size_t npages, uint64_t *ent)
{
	long page = sysconf(_SC_PAGESIZE);
	off_t off = (off_t)((uintptr_t)addr / page) * 8;
	size_t want = npages * 8, got = 0;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (got < want) {
		ssize_t n = pread(fd, (char *)ent + got, want - got, off + got);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		got += n;
	}
	close(fd);
	return 0;
}

int t_pagemap_pfn(const void *addr, uint64_t *pfn)
{
	uint64_t e;

	if (pagemap_read(addr, 1, &e))
		return -1;
	if (!(e & PM_PRESENT) || !(e & PM_PFN_MASK))
		return -1;
	*pfn = e & PM_PFN_MASK;
	return 0;
}

long long t_phys_contig_bytes(const void *addr, size_t len,
			      uint64_t *first_pfn)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t npages = (len + page - 1) / page, i, batch = 4096;
	uint64_t *ent, first = 0;
	long long bytes = 0;

	ent = malloc(batch * sizeof(*ent));
	if (!ent)
		return -1;
	for (i = 0; i < npages; i++) {
		uint64_t e, pfn;

		if (i % batch == 0) {
			size_t n = npages - i < batch ? npages - i : batch;

			if (pagemap_read((const char *)addr + i * page, n,
					 ent)) {
				free(ent);
				return -1;
			}
		}
		e = ent[i % batch];
		pfn = e & PM_PFN_MASK;
		if (!(e & PM_PRESENT) || !pfn) {
			if (i == 0) {
				free(ent);
				return -1;
			}
			break;
		}
		if (i == 0)
			first = pfn;
		else if (pfn != first + i)
			break;
		bytes += page;
	}
	free(ent);
	if (first_pfn)
		*first_pfn = first;
	return bytes > (long long)len ? (long long)len : bytes;
}

#define KPF_SLAB (UINT64_C(1) << 7)
#define KPF_NOPAGE (UINT64_C(1) << 20)
#define KPF_RESERVED (UINT64_C(1) << 32)

/* Whether [start, start + len) of physical memory has no unmovable page. */
static int window_movable(int fd, uint64_t start, uint64_t len)
{
	uint64_t flags[512], pfn = start / 4096, end = (start + len) / 4096;
	size_t n, i;
	ssize_t got;

	while (pfn < end) {
		n = end - pfn < 512 ? end - pfn : 512;
		got = pread(fd, flags, n * 8, (off_t)(pfn * 8));
		if (got != (ssize_t)(n * 8))
			return -1;
		for (i = 0; i < n; i++)
			if (flags[i] & (KPF_SLAB | KPF_NOPAGE | KPF_RESERVED))
				return 0;
		pfn += n;
	}
	return 1;
}

bool t_alignment_fallback_ok(uint64_t alignment, uint64_t full)
{
	if (alignment >= full || alignment < full / 4 ||
	    alignment < (UINT64_C(4) << 20) ||
	    t_phys_window_possible(full) != 0)
		return false;
	return alignment * 2 == full ||
	       t_phys_window_possible(alignment * 2) == 0;
}

int t_phys_window_possible(uint64_t align)
{
	unsigned long long lo, hi;
	char line[256];
	int fd, ret = 0;
	FILE *f;

	if (!align || (align & (align - 1)))
		return -1;
	fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	f = fopen("/proc/iomem", "re");
	if (fd < 0 || !f) {
		ret = -1;
		goto out;
	}
	/* Top-level "System RAM" ranges; a window must lie inside one. */
	while (!ret && fgets(line, sizeof(line), f)) {
		uint64_t w;

		if (line[0] == ' ' || !strstr(line, ": System RAM") ||
		    sscanf(line, "%llx-%llx", &lo, &hi) != 2 || !hi)
			continue;
		for (w = (lo + align - 1) & ~(align - 1);
		     w >= lo && w + align - 1 <= hi && !ret; w += align)
			ret = window_movable(fd, w, align);
	}
out:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	return ret;
}

/*
 * Values of "Name: value" lines of a /proc file (meminfo, status), read in
 * one pass: val[i] for name[i], -1 where the file has no such line.
 * Returns how many were found.
 */
static unsigned int proc_fields(const char *path, const char *const *name,
				long long *val, unsigned int n)
{
	unsigned int i, found = 0;
	char line[256];
	size_t len;
	FILE *f;

	for (i = 0; i < n; i++)
		val[i] = -1;
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (found < n && fgets(line, sizeof(line), f))
		for (i = 0; i < n; i++) {
			len = strlen(name[i]);
			if (val[i] < 0 && !strncmp(line, name[i], len) &&
			    line[len] == ':') {
				val[i] = strtoll(line + len + 1, NULL, 10);
				found++;
			}
		}
	fclose(f);
	return found;
}

long long t_meminfo_kb(const char *field)
{
	long long v;

	proc_fields("/proc/meminfo", &field, &v, 1);
	return v;
}

long long t_status_kb(int pid, const char *field)
{
	char path[64];
	long long v;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	proc_fields(path, &field, &v, 1);
	return v;
}

/* Sum over /proc/zoneinfo of a per-CPU or per-zone line ("count:", ...). */
static long long zoneinfo_sum(const char *key)
{
	char line[256], *p;
	long long sum = 0;
	size_t klen = strlen(key);
	FILE *f;

	f = fopen("/proc/zoneinfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		for (p = line; *p == ' '; p++)
			;
		if (!strncmp(p, key, klen))
			sum += strtoll(p + klen, NULL, 10);
	}
	fclose(f);
	return sum;
}

/* This process's anonymous resident memory (RssAnon), in kB. */
static long long own_rss_anon_kb(void)
{
	return t_status_kb(0, "RssAnon");
}

long long t_free_mem_kb(void)
{
	/* One pass: pages moving between MemFree and Cached meanwhile. */
	static const char *const names[] = { "MemFree", "Cached", "Buffers" };
	long long v[3], pcp, own;

	pcp = zoneinfo_sum("count:");
	own = own_rss_anon_kb();
	if (proc_fields("/proc/meminfo", names, v, 3) != 3 || pcp < 0 ||
	    own < 0)
		t_bail("free memory: /proc/meminfo, /proc/zoneinfo or "
		       "/proc/self/status unreadable");
	return v[0] + v[1] + v[2] + own + pcp * (sysconf(_SC_PAGESIZE) / 1024);
}

long long t_free_mem_tolerance_kb(long long slack_kb)
{
	long page_kb = sysconf(_SC_PAGESIZE) / 1024;
	long long drift = zoneinfo_sum("vm stats threshold:");

	if (drift < 0)
		t_bail("/proc/zoneinfo unreadable");
	t_diag("free memory = MemFree + per-CPU free lists (zoneinfo count:, "
	       "now %lld kB) + page cache (Cached + Buffers, now %lld kB) + "
	       "the test's own RssAnon (now %lld kB); tolerance: per-CPU "
	       "counter drift up to %lld kB (stat thresholds, free and file "
	       "pages) + slack %lld kB", zoneinfo_sum("count:") * page_kb,
	       t_meminfo_kb("Cached") + t_meminfo_kb("Buffers"),
	       own_rss_anon_kb(), 2 * drift * page_kb, slack_kb);
	return 2 * drift * page_kb + slack_kb;
}

long long t_free_mem_wait(long long want_kb, double timeout_s)
{
	double end = t_now() + timeout_s;
	long long v;

	for (;;) {
		v = t_free_mem_kb();
		if (v >= want_kb || t_now() > end)
			return v;
		usleep(100000);
	}
}

bool t_free_mem_held(const char *what, long long base, uint64_t len,
		     long long tol_kb)
{
	long long drop = base - t_free_mem_kb();

	return t_ok(drop >= (long long)(len / 1024) - tol_kb,
		    "%s: free memory %lld kB below the baseline (region %" PRIu64
		    " kB)", what, drop, len / 1024);
}

bool t_free_mem_returned(const char *what, long long base, long long tol_kb,
			 double timeout_s)
{
	double t0 = t_now();
	long long now = t_free_mem_wait(base - tol_kb, timeout_s);

	return t_ok(base - now <= tol_kb,
		    "%s: free memory back to the baseline (%+lld kB, tolerance "
		    "%lld kB) after %.1f s", what, now - base, tol_kb,
		    t_now() - t0);
}

static uint64_t splitmix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

uint8_t t_pattern_byte(uint64_t seed, uint64_t off)
{
	return (uint8_t)(splitmix64(seed ^ (off >> 3)) >> ((off & 7) * 8));
}

void t_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
{
	uint8_t *p = buf;
	size_t i = 0;

	/* Byte by byte up to a word boundary of the pattern, then words. */
	for (; i < len && ((off + i) & 7); i++)
		p[i] = t_pattern_byte(seed, off + i);
	for (; i + 8 <= len; i += 8) {
		uint64_t w = splitmix64(seed ^ ((off + i) >> 3));

		memcpy(p + i, &w, 8);
	}
	for (; i < len; i++)
		p[i] = t_pattern_byte(seed, off + i);
}

long long t_check(const void *buf, size_t len, uint64_t seed, uint64_t off)
{
	const uint8_t *p = buf;
	size_t i = 0;

	for (; i < len && ((off + i) & 7); i++)
		if (p[i] != t_pattern_byte(seed, off + i))
			return (long long)i;
	for (; i + 8 <= len; i += 8) {
		uint64_t w = splitmix64(seed ^ ((off + i) >> 3));

		if (memcmp(p + i, &w, 8))
			break;
	}
	for (; i < len; i++)
		if (p[i] != t_pattern_byte(seed, off + i))
			return (long long)i;
	return -1;
}

long long t_check_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		if (w)
			break;
	}
	for (; i < len; i++)
		if (p[i])
			return (long long)i;
	return -1;
}

/* ---- misc --------------------------------------------------------------- */

/* One term: "4096", "64K", "2M", "1GiB". */
static int parse_size_term(const char *s, size_t n, uint64_t *out)
{
	unsigned long long v;
	const char *unit;
	char term[32], *end;
	int shift = 0;

	if (!n || n >= sizeof(term) || !isdigit((unsigned char)*s))
		return -1;
	memcpy(term, s, n);
	term[n] = '\0';
	errno = 0;
	v = strtoull(term, &end, 10);
	if (errno)
		return -1;
	unit = end;
	switch (toupper((unsigned char)*unit)) {
	case '\0':
		break;
	case 'K':
		shift = 10;
		break;
	case 'M':
		shift = 20;
		break;
	case 'G':
		shift = 30;
		break;
	default:
		return -1;
	}
	if (*unit && unit[1] && strcasecmp(unit + 1, "iB") &&
	    strcasecmp(unit + 1, "B"))
		return -1;
	if (v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

int t_parse_size(const char *s, uint64_t *out)
{
	uint64_t sum = 0, v;
	size_t n;

	if (!s || !*s)
		return -1;
	for (;;) {
		n = strcspn(s, "+");
		if (parse_size_term(s, n, &v) || v > UINT64_MAX - sum)
			return -1;
		sum += v;
		if (!s[n])
			break;
		s += n + 1;
	}
	*out = sum;
	return 0;
}

int t_write_file(const char *path, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int fd, len, ret = 0;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(buf))
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write(fd, buf, len) != len)
		ret = -1;
	if (close(fd))
		ret = -1;
	return ret;
}

long long t_read_number(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

double t_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int t_become_nobody(void)
{
	if (setgroups(0, NULL) || setgid(T_NOBODY) || setuid(T_NOBODY))
		return -1;
	return 0;
}
