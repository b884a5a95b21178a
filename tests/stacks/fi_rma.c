// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * fi_rma: RDMA READ and WRITE through libfabric's verbs provider (FI_EP_MSG,
 * an RC QP connected by rdma_cm), between a server and a client that each
 * bind their own address, so that each uses the rxe device of that address.
 *
 *   fi_rma -a SRC_IP -p PORT [-S SIZE] [-n ITERS] [-w FILE]            (server)
 *   fi_rma -a SRC_IP -p PORT [-S SIZE] [-n ITERS] [-w FILE] SERVER_IP  (client)
 *
 * libfabric-bin's only traffic tool, fi_pingpong, cannot name its source
 * address, and with both addresses of the pair set-up local to one host
 * the route to the server's goes through the server's own device
 * (docs/applications.md); here the client binds SRC_IP (hints->src_addr).
 *
 * Each side malloc()s a data buffer of SIZE bytes (what backs it is up to
 * the allocator: tests/stacks/libfabric.sh runs this with and without the
 * contig-mr preload) and registers it with fi_mr_reg(). The server fills
 * its buffer and answers the client's first message with its address and
 * key; the client reads it ITERS times with fi_read() and checks every
 * word, then ITERS times fills its own buffer with a pattern of that
 * write's own, writes it into the server's with fi_write() and tells the
 * server which pattern to expect; the server checks every word and
 * answers how many were wrong. Every message answers one of the peer's,
 * and each side posts the receive for the answer before it sends, so no
 * message finds no receive. Both print their buffer's address (to find
 * its MR) and the client the bandwidth of each part, timed over the
 * transfers alone. With -w, each side keeps its MRs at the end until FILE
 * exists, so that a test can see them however fast the transfers were
 * (hold.h). Exit status 0 when every word was right.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_rma.h>

#include "cmr_test.h"
#include "hold.h"
#include "words.h"

#define FI_RMA_VERSION FI_VERSION(1, 9)
#define TIMEOUT_MS 60000
#define CTRL_SIZE 64

/* What the sides tell each other, by fi_send() into a posted fi_recv(). */
struct ctrl {
	uint64_t addr;		/* the server's data buffer (FI_MR_VIRT_ADDR) */
	uint64_t key;
	uint64_t len;
	uint64_t pattern;	/* the client's: what it wrote */
	uint64_t wrong;		/* the server's: words not of that pattern */
};

struct side {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_eq *eq;
	struct fid_pep *pep;
	struct fid_domain *domain;
	struct fid_ep *ep;
	struct fid_cq *cq;
	struct fid_mr *data_mr, *ctrl_mr;
	uint64_t *data;
	struct ctrl *ctrl;	/* [0] received into, [1] sent from */
	size_t size;
	int iters;
	const char *hold_file;	/* -w */
};

#define CHECK(call)							\
	do {								\
		int ret_ = (int)(call);					\
		if (ret_) {						\
			fprintf(stderr, "fi_rma: %s: %s (%d)\n", #call,	\
				fi_strerror(-ret_), ret_);		\
			exit(1);					\
		}							\
	} while (0)

/*
 * One completion of the CQ, waited for up to timeout_ms (-1: no limit);
 * exits on error. The wait sleeps (the CQ has a wait object) rather than
 * polls, so that the two sides on the same two CPUs do not take them from
 * rxe's tasks.
 */
static void cq_wait_for(struct side *s, const char *what, int timeout_ms)
{
	struct fi_cq_err_entry err;
	struct fi_cq_entry e;
	ssize_t n;

	do
		n = fi_cq_sread(s->cq, &e, 1, NULL, timeout_ms);
	while (n == -FI_EINTR);
	if (n == 1)
		return;
	if (n == -FI_EAVAIL) {
		memset(&err, 0, sizeof(err));
		fi_cq_readerr(s->cq, &err, 0);
		fprintf(stderr, "fi_rma: %s: completion error %s (%s)\n",
			what, fi_strerror(err.err),
			fi_cq_strerror(s->cq, err.prov_errno, err.err_data,
				       NULL, 0));
	} else if (n == -FI_EAGAIN) {
		fprintf(stderr, "fi_rma: %s: no completion in %d ms\n", what,
			timeout_ms);
	} else {
		fprintf(stderr, "fi_rma: %s: fi_cq_sread: %s\n", what,
			fi_strerror((int)-n));
	}
	exit(1);
}

static void cq_wait(struct side *s, const char *what)
{
	cq_wait_for(s, what, TIMEOUT_MS);
}

/* The next connection-manager event, which must be want. */
static struct fi_info *eq_wait(struct side *s, uint32_t want)
{
	struct fi_eq_cm_entry entry;
	struct fi_eq_err_entry err;
	uint32_t event;
	ssize_t n;

	n = fi_eq_sread(s->eq, &event, &entry, sizeof(entry), TIMEOUT_MS, 0);
	if (n == -FI_EAVAIL) {
		memset(&err, 0, sizeof(err));
		fi_eq_readerr(s->eq, &err, 0);
		fprintf(stderr, "fi_rma: connection: %s (%s)\n",
			fi_strerror(err.err),
			fi_eq_strerror(s->eq, err.prov_errno, err.err_data,
				       NULL, 0));
		exit(1);
	}
	if (n < 0 || event != want) {
		fprintf(stderr, "fi_rma: waiting for event %u: %s\n", want,
			n < 0 ? fi_strerror((int)-n) : "another event came");
		exit(1);
	}
	return entry.info;
}

static void post_recv(struct side *s)
{
	CHECK(fi_recv(s->ep, &s->ctrl[0], sizeof(s->ctrl[0]),
		      fi_mr_desc(s->ctrl_mr), 0, NULL));
}

static void send_ctrl(struct side *s)
{
	CHECK(fi_send(s->ep, &s->ctrl[1], sizeof(s->ctrl[1]),
		      fi_mr_desc(s->ctrl_mr), 0, NULL));
}

/* The client: send ctrl[1], and wait for the send and for the answer. */
static struct ctrl request(struct side *s, const char *what)
{
	post_recv(s);
	send_ctrl(s);
	cq_wait(s, what);
	cq_wait(s, what);
	return s->ctrl[0];
}

/*
 * The server: the client's next message (into the receive posted before
 * the last answer), with the receive for the one after posted. At the
 * client's pace, which is ITERS reads before its first write: the script
 * running the two bounds the wait.
 */
static struct ctrl next_request(struct side *s, const char *what)
{
	struct ctrl msg;

	cq_wait_for(s, what, -1);
	msg = s->ctrl[0];
	post_recv(s);
	return msg;
}

/* The server: answer with ctrl[1], once it has gone. */
static void answer(struct side *s)
{
	send_ctrl(s);
	cq_wait(s, "answer");
}

/* Domain, buffers, CQ and endpoint on info; the endpoint enabled. */
static void open_endpoint(struct side *s, struct fi_info *info)
{
	struct fi_cq_attr cq_attr = {
		.size = 16, .format = FI_CQ_FORMAT_CONTEXT,
		.wait_obj = FI_WAIT_UNSPEC,
	};
	uint64_t access = FI_READ | FI_WRITE | FI_REMOTE_READ |
			  FI_REMOTE_WRITE | FI_SEND | FI_RECV;

	CHECK(fi_domain(s->fabric, info, &s->domain, NULL));
	s->data = malloc(s->size);
	s->ctrl = calloc(2, sizeof(*s->ctrl));
	if (!s->data || !s->ctrl) {
		fprintf(stderr, "fi_rma: out of memory\n");
		exit(1);
	}
	printf("fi_rma: pid %d data %p\n", (int)getpid(), (void *)s->data);
	fflush(stdout);
	CHECK(fi_mr_reg(s->domain, s->data, s->size, access, 0, 0, 0,
			&s->data_mr, NULL));
	CHECK(fi_mr_reg(s->domain, s->ctrl, 2 * sizeof(*s->ctrl), access, 0,
			1, 0, &s->ctrl_mr, NULL));
	CHECK(fi_cq_open(s->domain, &cq_attr, &s->cq, NULL));
	CHECK(fi_endpoint(s->domain, info, &s->ep, NULL));
	CHECK(fi_ep_bind(s->ep, &s->eq->fid, 0));
	CHECK(fi_ep_bind(s->ep, &s->cq->fid, FI_TRANSMIT | FI_RECV));
	CHECK(fi_enable(s->ep));
}

static void run_server(struct side *s)
{
	uint64_t wrong = 0;
	struct fi_info *conn;
	struct ctrl msg;
	int i;

	CHECK(fi_passive_ep(s->fabric, s->info, &s->pep, NULL));
	CHECK(fi_pep_bind(s->pep, &s->eq->fid, 0));
	CHECK(fi_listen(s->pep));
	printf("fi_rma: listening\n");
	fflush(stdout);
	conn = eq_wait(s, FI_CONNREQ);
	open_endpoint(s, conn);
	post_recv(s);
	CHECK(fi_accept(s->ep, NULL, 0));
	eq_wait(s, FI_CONNECTED);
	fi_freeinfo(conn);

	words_fill(s->data, s->size / 8, 0);
	next_request(s, "the client's first message");
	s->ctrl[1] = (struct ctrl){ .addr = (uintptr_t)s->data,
				    .key = fi_mr_key(s->data_mr),
				    .len = s->size };
	answer(s);
	for (i = 0; i < s->iters; i++) {
		msg = next_request(s, "the client's end of a write");
		s->ctrl[1] = (struct ctrl){ .pattern = msg.pattern };
		s->ctrl[1].wrong = words_check(s->data, s->size / 8,
					       (int)msg.pattern);
		wrong += s->ctrl[1].wrong;
		answer(s);
	}
	printf("fi_rma: written to: %zu words checked, %" PRIu64 " wrong\n",
	       s->size / 8 * (size_t)s->iters, wrong);
	fflush(stdout);
	hold_until_file(s->hold_file);
	eq_wait(s, FI_SHUTDOWN);
	exit(wrong ? 1 : 0);
}

static void report(const char *what, struct side *s, double secs,
		   uint64_t bad)
{
	printf("fi_rma: %s %zu B x %d: %.2f MB/s, %zu words checked, %" PRIu64
	       " wrong\n", what, s->size, s->iters,
	       secs > 0 ? (double)s->size * s->iters / secs / 1e6 : 0.0,
	       s->size / 8 * (size_t)s->iters, bad);
}

static void run_client(struct side *s)
{
	uint64_t raddr, rkey, wrong = 0;
	size_t bad = 0;
	double t, t_read = 0, t_write = 0;
	struct ctrl msg;
	int i;

	open_endpoint(s, s->info);
	CHECK(fi_connect(s->ep, s->info->dest_addr, NULL, 0));
	eq_wait(s, FI_CONNECTED);

	s->ctrl[1] = (struct ctrl){ 0 };
	msg = request(s, "the server's buffer");
	raddr = msg.addr;
	rkey = msg.key;
	if (msg.len != s->size) {
		fprintf(stderr, "fi_rma: the server's buffer is %" PRIu64
			" bytes, not %zu\n", msg.len, s->size);
		exit(1);
	}

	for (i = 0; i < s->iters; i++) {
		memset(s->data, 0, s->size);
		t = t_now();
		CHECK(fi_read(s->ep, s->data, s->size, fi_mr_desc(s->data_mr),
			      0, raddr, rkey, NULL));
		cq_wait(s, "fi_read");
		t_read += t_now() - t;
		bad += words_check(s->data, s->size / 8, 0);
	}
	report("read", s, t_read, bad);

	for (i = 0; i < s->iters; i++) {
		words_fill(s->data, s->size / 8, 1 + i);
		t = t_now();
		CHECK(fi_write(s->ep, s->data, s->size, fi_mr_desc(s->data_mr),
			       0, raddr, rkey, NULL));
		cq_wait(s, "fi_write");
		t_write += t_now() - t;
		/* A send after the write: RC delivers it after its data. */
		s->ctrl[1] = (struct ctrl){ .pattern = 1 + i };
		msg = request(s, "the server's check of a write");
		if (msg.pattern != (uint64_t)(1 + i)) {
			fprintf(stderr, "fi_rma: the server checked pattern %"
				PRIu64 ", not %d\n", msg.pattern, 1 + i);
			exit(1);
		}
		wrong += msg.wrong;
	}
	report("write", s, t_write, wrong);
	fflush(stdout);
	hold_until_file(s->hold_file);
	fi_shutdown(s->ep, 0);
	exit(bad || wrong ? 1 : 0);
}

static int usage(void)
{
	fprintf(stderr, "usage: fi_rma -a SRC_IP -p PORT [-S SIZE] [-n ITERS] "
			"[-w FILE] [SERVER_IP]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct fi_eq_attr eq_attr = { .wait_obj = FI_WAIT_UNSPEC };
	const char *src = NULL, *port = NULL;
	struct side s = { .size = 8 << 20, .iters = 4 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct fi_info *hints;
	uint64_t size;
	int opt;

	while ((opt = getopt(argc, argv, "a:p:S:n:w:")) != -1) {
		switch (opt) {
		case 'a':
			src = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		case 'S':
			if (t_parse_size(optarg, &size) || !size || size % 8 ||
			    size > SIZE_MAX)
				return usage();
			s.size = (size_t)size;
			break;
		case 'n':
			s.iters = atoi(optarg);
			break;
		case 'w':
			s.hold_file = optarg;
			break;
		default:
			return usage();
		}
	}
	if (!src || !port || s.iters <= 0 || argc - optind > 1 ||
	    inet_pton(AF_INET, src, &sin.sin_addr) != 1)
		return usage();

	hints = fi_allocinfo();
	if (!hints)
		return 1;
	hints->ep_attr->type = FI_EP_MSG;
	hints->caps = FI_MSG | FI_RMA;
	hints->addr_format = FI_SOCKADDR_IN;
	hints->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR |
				      FI_MR_ALLOCATED | FI_MR_PROV_KEY;
	hints->fabric_attr->prov_name = strdup("verbs");
	if (optind < argc) {
		/* The client: its own address as the source, port any. */
		hints->src_addr = malloc(sizeof(sin));
		if (!hints->src_addr)
			return 1;
		memcpy(hints->src_addr, &sin, sizeof(sin));
		hints->src_addrlen = sizeof(sin);
		CHECK(fi_getinfo(FI_RMA_VERSION, argv[optind], port, 0, hints,
				 &s.info));
	} else {
		CHECK(fi_getinfo(FI_RMA_VERSION, src, port, FI_SOURCE, hints,
				 &s.info));
	}
	fi_freeinfo(hints);
	printf("fi_rma: provider %s, domain %s\n", s.info->fabric_attr->prov_name,
	       s.info->domain_attr->name);
	fflush(stdout);
	CHECK(fi_fabric(s.info->fabric_attr, &s.fabric, NULL));
	CHECK(fi_eq_open(s.fabric, &eq_attr, &s.eq, NULL));
	if (optind < argc)
		run_client(&s);
	else
		run_server(&s);
	return 1;
}
