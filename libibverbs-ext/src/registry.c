// SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
/*
 * The registry: every live buffer of the process, in one list under one
 * mutex.
 *
 * Why global state: the one-call API hands back a plain struct ibv_mr, the
 * provider's own (so that ibv_dereg_mr() on it is safe), with no room for
 * the library's bookkeeping; ibv_free_contig_mr(), ibv_contig_mr_buf() and
 * ibv_query_contig_mr() must find the buffer behind an MR they did not
 * wrap. They find it by address: a buffer is keyed by its mapping, and no
 * two live mappings overlap, so [addr, addr + length) names at most one
 * buffer for as long as the buffer exists. The list also lets
 * ibv_free_contig_buf() and ibv_query_contig_buf() reject a pointer that
 * is not a live buffer instead of following it.
 *
 * A process holds a handful of buffers (each is a large physically
 * contiguous allocation), so a list walk is cheap. Lookups copy what they
 * need under the lock; nothing here calls out of the file with the lock
 * held.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "contig_mr.h"

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cmr_buf *registry_head;

/* Under the lock. */
static bool is_live(const struct cmr_buf *b)
{
	const struct cmr_buf *p;

	for (p = registry_head; p; p = p->next)
		if (p == b)
			return true;
	return false;
}

static bool ref_matches(const struct cmr_mr_ref *ref, const struct ibv_mr *mr)
{
	return ref->mr == mr && ref->handle == mr->handle &&
	       ref->lkey == mr->lkey && ref->addr == mr->addr;
}

void cmr_registry_add(struct cmr_buf *b)
{
	pthread_mutex_lock(&registry_lock);
	b->prev = NULL;
	b->next = registry_head;
	if (registry_head)
		registry_head->prev = b;
	registry_head = b;
	pthread_mutex_unlock(&registry_lock);
}

bool cmr_registry_remove(struct cmr_buf *b)
{
	bool live;

	pthread_mutex_lock(&registry_lock);
	live = is_live(b);
	if (live) {
		if (b->prev)
			b->prev->next = b->next;
		else
			registry_head = b->next;
		if (b->next)
			b->next->prev = b->prev;
		b->prev = b->next = NULL;
	}
	pthread_mutex_unlock(&registry_lock);
	return live;
}

int cmr_registry_copy(const struct cmr_buf *b, struct cmr_buf *copy)
{
	int ret = EINVAL;

	pthread_mutex_lock(&registry_lock);
	if (is_live(b)) {
		*copy = *b;
		ret = 0;
	}
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

int cmr_registry_copy_range(const void *addr, size_t length,
			    struct cmr_buf *copy)
{
	uintptr_t start = (uintptr_t)addr;
	const struct cmr_buf *p;
	int ret = EINVAL;

	if (length > UINTPTR_MAX - start)
		return EINVAL;
	pthread_mutex_lock(&registry_lock);
	for (p = registry_head; p; p = p->next) {
		uintptr_t lo = (uintptr_t)p->pub.addr;

		if (start >= lo && start - lo <= p->pub.length &&
		    length <= p->pub.length - (start - lo)) {
			*copy = *p;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

/* Under the lock: drop every association naming the pointer mr. */
static void forget_locked(const struct ibv_mr *mr)
{
	struct cmr_buf *p;

	for (p = registry_head; p; p = p->next)
		if (p->one_call.mr == mr)
			p->one_call.mr = NULL;
}

void cmr_registry_set_mr(struct cmr_buf *b, struct ibv_mr *mr)
{
	pthread_mutex_lock(&registry_lock);
	forget_locked(mr);
	if (is_live(b)) {
		b->one_call.mr = mr;
		b->one_call.handle = mr->handle;
		b->one_call.lkey = mr->lkey;
		b->one_call.addr = mr->addr;
	}
	pthread_mutex_unlock(&registry_lock);
}

void cmr_registry_forget_mr(const struct ibv_mr *mr)
{
	pthread_mutex_lock(&registry_lock);
	forget_locked(mr);
	pthread_mutex_unlock(&registry_lock);
}

static struct cmr_buf *find_mr(const struct ibv_mr *mr, bool take)
{
	struct cmr_buf *p;

	pthread_mutex_lock(&registry_lock);
	for (p = registry_head; p; p = p->next) {
		if (p->one_call.mr && ref_matches(&p->one_call, mr)) {
			if (take)
				p->one_call.mr = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	return p;
}

struct cmr_buf *cmr_registry_mr_buf(const struct ibv_mr *mr)
{
	return find_mr(mr, false);
}

struct cmr_buf *cmr_registry_take_mr(const struct ibv_mr *mr)
{
	return find_mr(mr, true);
}
