/* SPDX-License-Identifier: MIT */
/*
 * The bytes of one io_uring direction: chunks sized to need, freed when sent
 * (relay_uring_buf.h).  malloc'ed: chunks of up to 64 KiB come from the
 * heap and go back to it, and a connection that is idle holds only the
 * chunk its receive waits in, sized to the last receives (512 bytes for an
 * idle X client).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "relay_uring_buf.h"

/* A tail with less free space than this is not worth a receive. */
#define URING_BUF_SPACE_MIN 128u

void uring_buf_init(struct uring_buf *b)
{
	*b = (struct uring_buf){ .want = URING_BUF_MIN };
}

static void uring_buf_free_head(struct uring_buf *b)
{
	struct uring_chunk *c = b->head;

	b->head = c->next;
	if (!b->head)
		b->tail = NULL;
	b->held -= c->cap;
	b->n_chunks--;
	free(c);
}

void uring_buf_release(struct uring_buf *b)
{
	while (b->head)
		uring_buf_free_head(b);
	b->pending = 0;
	b->receiving = false;
}

bool uring_buf_may_take(const struct uring_buf *b)
{
	if (b->pending >= URING_BUF_MARK)
		return false;
	if (b->tail && b->tail->cap - b->tail->len >= URING_BUF_SPACE_MIN)
		return true;
	if (b->tail && b->tail->off == b->tail->len)
		return true;   /* all sent: reusable from its start */
	return b->held + URING_BUF_SPACE_MIN <= RELAY_HALF_MAX;
}

uint32_t uring_buf_room(const struct uring_buf *b)
{
	return b->pending >= URING_BUF_MAX ? 0 : URING_BUF_MAX - (uint32_t)b->pending;
}

int uring_buf_take(struct uring_buf *b, void **ret_base, uint32_t *ret_len)
{
	struct uring_chunk *t = b->tail;
	uint64_t room;
	uint32_t cap;

	if (uring_buf_room(b) == 0)
		return -ENOBUFS;

	if (t && t->off == t->len && t->cap >= b->want / 2) {
		/* Everything in it is sent: start it over. */
		t->off = t->len = 0;
	}
	if (!t || t->cap - t->len < MIN(URING_BUF_SPACE_MIN, b->want)) {
		if (t && t->off == t->len) {
			/* Sent, but too small for what this direction now
			 * receives: replace it. */
			uring_buf_free_head(b);
		}
		room = RELAY_HALF_MAX - MIN(b->held, (uint64_t)RELAY_HALF_MAX);
		if (room < URING_BUF_SPACE_MIN)
			return -ENOBUFS;
		cap = (uint32_t)MIN((uint64_t)b->want, room);
		t = malloc(sizeof(*t) + cap);
		if (!t)
			return -ENOMEM;
		*t = (struct uring_chunk){ .cap = cap };
		if (b->tail)
			b->tail->next = t;
		else
			b->head = t;
		b->tail = t;
		b->held += cap;
		b->n_chunks++;
	}
	b->receiving = true;
	b->recv_len = MIN(t->cap - t->len, uring_buf_room(b));
	*ret_base = t->data + t->len;
	*ret_len = b->recv_len;
	return 0;
}

void uring_buf_received(struct uring_buf *b, uint32_t n)
{
	struct uring_chunk *t = b->tail;
	uint32_t space;

	b->receiving = false;
	if (!t)
		return;
	space = MIN(b->recv_len, t->cap - t->len);
	n = MIN(n, space);
	t->len += n;
	b->pending += n;
	/* Adapt the next chunk's size to what arrives: a receive that filled
	 * its space wants more room, one that used a quarter or less, less. */
	if (n == space) {
		if (space >= b->want / 2)
			b->want = MIN(b->want * 2, URING_BUF_MAX);
	} else if (n <= b->want / 4)
		b->want = MAX(b->want / 2, URING_BUF_MIN);
	/* An empty chunk nobody writes into is not kept. */
	if (t->len == t->off && b->head == t && t->cap < b->want / 2)
		uring_buf_free_head(b);
}

int uring_buf_append(struct uring_buf *b, const void *data, uint32_t n)
{
	const char *p = data;

	/* Sized like a receive of this direction's own would be. */
	if (n >= b->want)
		b->want = MIN(b->want * 2, URING_BUF_MAX);
	else if (n <= b->want / 4)
		b->want = MAX(b->want / 2, URING_BUF_MIN);
	while (n > 0) {
		struct uring_chunk *t = b->tail;
		uint32_t k;

		if (t && t->off == t->len && !b->receiving)
			t->off = t->len = 0;   /* all sent: start it over */
		if (!t || t->len == t->cap) {
			uint32_t cap = MAX(b->want, n);

			t = malloc(sizeof(*t) + cap);
			if (!t)
				return -ENOMEM;
			*t = (struct uring_chunk){ .cap = cap };
			if (b->tail)
				b->tail->next = t;
			else
				b->head = t;
			b->tail = t;
			b->held += cap;
			b->n_chunks++;
		}
		k = MIN(n, t->cap - t->len);
		memcpy(t->data + t->len, p, k);
		t->len += k;
		b->pending += k;
		p += k;
		n -= k;
	}
	return 0;
}

unsigned uring_buf_gather(const struct uring_buf *b, struct iovec *iov, unsigned max)
{
	unsigned n = 0;

	for (const struct uring_chunk *c = b->head; c && n < max; c = c->next) {
		if (c->len == c->off)
			continue;
		iov[n].iov_base = (char *)c->data + c->off;
		iov[n].iov_len = c->len - c->off;
		n++;
	}
	return n;
}

void uring_buf_sent(struct uring_buf *b, uint64_t n)
{
	n = MIN(n, b->pending);
	b->pending -= n;
	while (b->head) {
		struct uring_chunk *c = b->head;
		uint32_t left = c->len - c->off;

		if (n < left) {
			c->off += (uint32_t)n;
			return;
		}
		n -= left;
		c->off = c->len;
		/* The tail stays while a receive writes into it. */
		if (c == b->tail && b->receiving)
			return;
		uring_buf_free_head(b);
	}
}

void uring_buf_drop(struct uring_buf *b)
{
	uring_buf_sent(b, b->pending);
}
