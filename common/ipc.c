/*
 * Framed messages between frontend and broker (see ipc.h), in the shape of
 * smtpd's mproc.c and tmux's proc.c: a builder, a reader whose getters
 * fail stickily, and a small peer on the libevent loop.
 */
#define _GNU_SOURCE	/* recvmmsg, sendmmsg */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"

_Static_assert(IPC_HDR_LEN == 4 * sizeof(uint32_t), "header is four u32");
_Static_assert(IPC_MSG_MAX >= IPC_HDR_LEN, "IPC_MSG_MAX below header");
_Static_assert(IPC_MSG_MAX <= UINT32_MAX, "len is a u32");
_Static_assert(IPC_SEND_BATCH_BYTES >= IPC_MSG_MAX, "outbox below a message");

/* Byte offsets of the header fields. */
#define HDR_TYPE	0
#define HDR_LEN		4
#define HDR_REQID	8
#define HDR_VERSION	12

/*
 * The builder.
 */

void
ipc_begin(struct ipc_buf *b, uint32_t type, uint32_t reqid)
{
	uint32_t zero = 0, version = IPC_VERSION;

	b->err = 0;
	memset(b->data, 0, IPC_HDR_LEN);
	memcpy(b->data + HDR_TYPE, &type, sizeof(type));
	memcpy(b->data + HDR_LEN, &zero, sizeof(zero));
	memcpy(b->data + HDR_REQID, &reqid, sizeof(reqid));
	memcpy(b->data + HDR_VERSION, &version, sizeof(version));
	b->len = IPC_HDR_LEN;
}

/* Room for n more bytes, taken; NULL (and the buffer failed) if none. */
static unsigned char *
ipc_room(struct ipc_buf *b, size_t n)
{
	unsigned char *d;

	if (b->err)
		return NULL;
	if (b->len < IPC_HDR_LEN || n > IPC_MSG_MAX - b->len) {
		b->err = 1;
		return NULL;
	}
	d = b->data + b->len;
	b->len += n;
	return d;
}

static void
ipc_put(struct ipc_buf *b, const void *p, size_t n)
{
	unsigned char *d;

	if ((d = ipc_room(b, n)) != NULL)
		memcpy(d, p, n);
}

void
ipc_put_u8(struct ipc_buf *b, uint8_t v)
{
	ipc_put(b, &v, sizeof(v));
}

void
ipc_put_u32(struct ipc_buf *b, uint32_t v)
{
	ipc_put(b, &v, sizeof(v));
}

void
ipc_put_i64(struct ipc_buf *b, int64_t v)
{
	ipc_put(b, &v, sizeof(v));
}

void
ipc_put_str(struct ipc_buf *b, const char *s, size_t maxlen)
{
	unsigned char *d;
	uint16_t len16;
	size_t len;

	if (s == NULL) {
		b->err = 1;
		return;
	}
	/* strnlen: never read past maxlen + 1 bytes of a bad string. */
	len = strnlen(s, maxlen + 1);
	if (len > maxlen || len > UINT16_MAX) {
		b->err = 1;
		return;
	}
	/* The length, the bytes and the NUL: one check of the room. */
	if ((d = ipc_room(b, sizeof(len16) + len + 1)) == NULL)
		return;
	len16 = (uint16_t)len;
	memcpy(d, &len16, sizeof(len16));
	memcpy(d + sizeof(len16), s, len);
	d[sizeof(len16) + len] = '\0';
}

int
ipc_finish(struct ipc_buf *b)
{
	uint32_t len;

	if (b->err || b->len < IPC_HDR_LEN || b->len > IPC_MSG_MAX)
		return -1;
	len = (uint32_t)b->len;
	memcpy(b->data + HDR_LEN, &len, sizeof(len));
	return 0;
}

int
ipc_copy(struct ipc_buf *b, const struct ipc_buf *from, uint32_t type,
    uint32_t reqid)
{
	uint32_t len;

	b->err = 1;
	if (from->err || from->len < IPC_HDR_LEN || from->len > IPC_MSG_MAX)
		return -1;
	memcpy(&len, from->data + HDR_LEN, sizeof(len));
	if (len != from->len)
		return -1;	/* ipc_finish() was not called */
	ipc_begin(b, type, reqid);
	memcpy(b->data + IPC_HDR_LEN, from->data + IPC_HDR_LEN,
	    from->len - IPC_HDR_LEN);
	b->len = from->len;
	return ipc_finish(b);
}

/*
 * The reader.  Every failure goes through ipc_fail(), which keeps the first
 * reason: a chain of getters is checked once, at its end.
 */

static int
ipc_fail(struct ipc_msg *m, const char *why)
{
	if (!m->err) {
		m->err = 1;
		m->why = why;
	}
	m->left = 0;
	return -1;
}

int
ipc_open(struct ipc_msg *m, const unsigned char *buf, size_t n)
{
	memset(m, 0, sizeof(*m));
	m->p = buf;
	if (n < IPC_HDR_LEN)
		return ipc_fail(m, "truncated header");
	memcpy(&m->hdr.len, buf + HDR_LEN, sizeof(m->hdr.len));
	/* The length is the first thing judged, before type or version. */
	if (m->hdr.len > IPC_MSG_MAX || n > IPC_MSG_MAX)
		return ipc_fail(m, "oversized message");
	if (m->hdr.len != n)
		return ipc_fail(m, "length does not match packet size");
	memcpy(&m->hdr.type, buf + HDR_TYPE, sizeof(m->hdr.type));
	memcpy(&m->hdr.reqid, buf + HDR_REQID, sizeof(m->hdr.reqid));
	memcpy(&m->hdr.version, buf + HDR_VERSION, sizeof(m->hdr.version));
	if (m->hdr.version != IPC_VERSION)
		return ipc_fail(m, "wrong protocol version");
	m->p = buf + IPC_HDR_LEN;
	m->left = n - IPC_HDR_LEN;
	return 0;
}

static int
ipc_get(struct ipc_msg *m, void *v, size_t n)
{
	if (m->err)
		return -1;
	if (n > m->left)
		return ipc_fail(m, "truncated message");
	memcpy(v, m->p, n);
	m->p += n;
	m->left -= n;
	return 0;
}

int
ipc_get_u8(struct ipc_msg *m, uint8_t *v)
{
	*v = 0;
	return ipc_get(m, v, sizeof(*v));
}

int
ipc_get_u32(struct ipc_msg *m, uint32_t *v)
{
	*v = 0;
	return ipc_get(m, v, sizeof(*v));
}

int
ipc_get_i64(struct ipc_msg *m, int64_t *v)
{
	*v = 0;
	return ipc_get(m, v, sizeof(*v));
}

int
ipc_get_str(struct ipc_msg *m, char *out, size_t maxlen)
{
	uint16_t len;

	out[0] = '\0';
	if (ipc_get(m, &len, sizeof(len)) == -1)
		return -1;
	if (len > maxlen)
		return ipc_fail(m, "string too long");
	if ((size_t)len + 1 > m->left)
		return ipc_fail(m, "truncated string");
	if (memchr(m->p, '\0', len) != NULL)
		return ipc_fail(m, "NUL inside string");
	if (m->p[len] != '\0')
		return ipc_fail(m, "string not NUL-terminated");
	memcpy(out, m->p, len);
	out[len] = '\0';
	m->p += (size_t)len + 1;
	m->left -= (size_t)len + 1;
	return 0;
}

int
ipc_end(struct ipc_msg *m)
{
	if (m->err)
		return -1;
	if (m->left != 0)
		return ipc_fail(m, "trailing bytes");
	return 0;
}

/*
 * The peer.  Callbacks run only from ipc_peer_event(); while one runs, the
 * peer is busy and ipc_peer_free() merely marks it, so an owner may free
 * the peer from on_msg or on_close and the memory goes away once the event
 * handler unwinds.  on_close never runs from inside ipc_peer_send(): a
 * full queue is reported through the write event, on the next loop turn.
 */

struct ipc_qmsg {
	TAILQ_ENTRY(ipc_qmsg)	 entry;
	size_t			 len;
	unsigned char		 data[];
};

struct ipc_peer {
	int			 fd;
	struct event_base	*base;
	struct event		*rev;
	struct event		*wev;
	struct event		*fev;		/* ipc_peer_batch(): flush */
	ipc_msg_cb		 on_msg;
	ipc_close_cb		 on_close;
	void			*arg;
	TAILQ_HEAD(, ipc_qmsg)	 queue;
	size_t			 nqueued;
	const char		*fail;		/* deferred close reason */
	int			 closed;	/* on_close has run */
	int			 busy;		/* inside a callback */
	int			 freed;		/* free once not busy */
	/* One spare byte each: a longer packet shows as truncated. */
	unsigned char		 rbuf[IPC_RECV_BATCH][IPC_MSG_MAX + 1];
	/*
	 * The outbox of a batching peer: messages of one loop turn, sent
	 * together.  Only used while the queue is empty, so the queue
	 * always holds what is older than the outbox.
	 */
	size_t			 nout;
	size_t			 outlen;
	size_t			 outsz[IPC_SEND_BATCH];
	unsigned char		*obuf;		/* IPC_SEND_BATCH_BYTES */
};

/* Neither closed, nor freed, nor waiting for a deferred close. */
static int
ipc_peer_live(const struct ipc_peer *p)
{
	return !p->closed && !p->freed && p->fail == NULL;
}

static void
ipc_peer_close(struct ipc_peer *p, const char *why)
{
	if (p->closed || p->freed)
		return;
	p->closed = 1;
	event_del(p->rev);
	event_del(p->wev);
	if (p->fev != NULL)
		event_del(p->fev);
	p->nout = p->outlen = 0;
	p->on_close(p, why, p->arg);
}

static void
ipc_peer_flush(struct ipc_peer *p)
{
	struct ipc_qmsg *q;
	ssize_t n;

	while ((q = TAILQ_FIRST(&p->queue)) != NULL) {
		n = send(p->fd, q->data, q->len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(p->wev, NULL);
			return;
		}
		/* SEQPACKET sends whole packets; anything else is broken. */
		if (n == -1 || (size_t)n != q->len) {
			ipc_peer_close(p, "send failed");
			return;
		}
		TAILQ_REMOVE(&p->queue, q, entry);
		p->nqueued--;
		free(q);
	}
}

/* 0 to go on, -1 once the peer is closing. */
static int
ipc_peer_deliver(struct ipc_peer *p, const unsigned char *buf, size_t n)
{
	struct ipc_msg m;

	if (n == 0) {
		ipc_peer_close(p, "hangup");
		return -1;
	}
	if (n > IPC_MSG_MAX) {
		ipc_peer_close(p, "oversized message");
		return -1;
	}
	if (ipc_open(&m, buf, n) == -1) {
		ipc_peer_close(p, m.why);
		return -1;
	}
	p->on_msg(p, &m, p->arg);
	return ipc_peer_live(p) ? 0 : -1;
}

/*
 * Up to IPC_RECV_BATCH packets per recvmmsg().  A batch that comes back
 * short has emptied the socket: no further call just to see EAGAIN (the
 * read event is level-triggered, so a packet that arrives meanwhile wakes
 * the loop again).
 */
static void
ipc_peer_read(struct ipc_peer *p)
{
	struct mmsghdr mm[IPC_RECV_BATCH];
	struct iovec iov[IPC_RECV_BATCH];
	int i, n, total = 0;

	/* A bounded burst keeps one chatty peer from starving the loop. */
	while (total < IPC_READ_BURST) {
		memset(mm, 0, sizeof(mm));
		for (i = 0; i < IPC_RECV_BATCH; i++) {
			iov[i].iov_base = p->rbuf[i];
			iov[i].iov_len = sizeof(p->rbuf[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		/* MSG_TRUNC: msg_len is the real size even if it did not fit. */
		n = recvmmsg(p->fd, mm, IPC_RECV_BATCH,
		    MSG_TRUNC | MSG_DONTWAIT, NULL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1) {
			ipc_peer_close(p, "receive failed");
			return;
		}
		for (i = 0; i < n; i++)
			if (ipc_peer_deliver(p, p->rbuf[i], mm[i].msg_len) == -1)
				return;
		if (n < IPC_RECV_BATCH)
			return;
		total += n;
	}
}

static void
ipc_peer_destroy(struct ipc_peer *p)
{
	struct ipc_qmsg *q;

	while ((q = TAILQ_FIRST(&p->queue)) != NULL) {
		TAILQ_REMOVE(&p->queue, q, entry);
		free(q);
	}
	event_free(p->rev);
	event_free(p->wev);
	if (p->fev != NULL)
		event_free(p->fev);
	free(p->obuf);
	close(p->fd);
	free(p);
}

static void
ipc_peer_event(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_peer *p = arg;

	p->busy = 1;
	if ((what & EV_WRITE) && ipc_peer_live(p))
		ipc_peer_flush(p);
	if ((what & EV_READ) && ipc_peer_live(p))
		ipc_peer_read(p);
	/* A send that failed, here or before, closes the peer now. */
	if (p->fail != NULL)
		ipc_peer_close(p, p->fail);
	p->busy = 0;
	if (p->freed)
		ipc_peer_destroy(p);
}

struct ipc_peer *
ipc_peer_new(struct event_base *base, int fd, ipc_msg_cb on_msg,
    ipc_close_cb on_close, void *arg)
{
	struct ipc_peer *p;
	socklen_t len = sizeof(int);
	int flags, type;

	/* Message boundaries are the framing: refuse a stream socket. */
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_SEQPACKET || on_msg == NULL || on_close == NULL)
		return NULL;
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->fd = fd;
	p->base = base;
	p->on_msg = on_msg;
	p->on_close = on_close;
	p->arg = arg;
	TAILQ_INIT(&p->queue);
	p->rev = event_new(base, fd, EV_READ | EV_PERSIST, ipc_peer_event, p);
	p->wev = event_new(base, fd, EV_WRITE, ipc_peer_event, p);
	if (p->rev == NULL || p->wev == NULL || event_add(p->rev, NULL) == -1) {
		if (p->rev != NULL)
			event_free(p->rev);
		if (p->wev != NULL)
			event_free(p->wev);
		free(p);
		return NULL;
	}
	return p;
}

/* Closes the peer on the next loop turn, never under the caller's feet. */
static int
ipc_peer_defer_close(struct ipc_peer *p, const char *why)
{
	if (p->fail == NULL)
		p->fail = why;
	event_active(p->wev, EV_WRITE, 0);
	return -1;
}

/* Copies a message into the queue, to go out from the loop. */
static int
ipc_peer_enqueue(struct ipc_peer *p, const unsigned char *data, size_t len)
{
	struct ipc_qmsg *q;

	if ((q = malloc(sizeof(*q) + len)) == NULL)
		return ipc_peer_defer_close(p, "out of memory");
	q->len = len;
	memcpy(q->data, data, len);
	TAILQ_INSERT_TAIL(&p->queue, q, entry);
	p->nqueued++;
	/*
	 * Sending from the loop, not here, keeps every send error and its
	 * on_close away from the caller's stack.
	 */
	if (event_add(p->wev, NULL) == -1)
		return ipc_peer_defer_close(p, "event_add failed");
	return 0;
}

/*
 * Sends the outbox with sendmmsg; what the socket does not take goes to
 * the queue, in order.  A send error closes the peer from the loop.
 */
static void
ipc_peer_flush_out(struct ipc_peer *p)
{
	struct mmsghdr mm[IPC_SEND_BATCH];
	struct iovec iov[IPC_SEND_BATCH];
	size_t i, off, sent = 0, nout = p->nout;
	int n;

	p->nout = p->outlen = 0;
	memset(mm, 0, sizeof(mm));
	for (i = 0, off = 0; i < nout; off += p->outsz[i], i++) {
		iov[i].iov_base = p->obuf + off;
		iov[i].iov_len = p->outsz[i];
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while (sent < nout) {
		n = sendmmsg(p->fd, mm + sent, nout - sent,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == -1) {
			(void)ipc_peer_defer_close(p, "send failed");
			return;
		}
		/* SEQPACKET sends whole packets; anything else is broken. */
		for (i = sent; i < sent + (size_t)n; i++)
			if (mm[i].msg_len != p->outsz[i]) {
				(void)ipc_peer_defer_close(p, "send failed");
				return;
			}
		sent += (size_t)n;
	}
	for (i = sent; i < nout; i++)
		if (ipc_peer_enqueue(p, iov[i].iov_base, iov[i].iov_len) == -1)
			return;
}

static void
ipc_peer_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_peer *p = arg;

	if (ipc_peer_live(p) && p->nout > 0)
		ipc_peer_flush_out(p);
}

int
ipc_peer_batch(struct ipc_peer *p)
{
	if (p->fev != NULL)
		return 0;
	if ((p->obuf = malloc(IPC_SEND_BATCH_BYTES)) == NULL)
		return -1;
	if ((p->fev = event_new(p->base, -1, 0, ipc_peer_flush_cb, p)) ==
	    NULL) {
		free(p->obuf);
		p->obuf = NULL;
		return -1;
	}
	return 0;
}

/* A batching peer: into the outbox, flushed at the end of the turn. */
static void
ipc_peer_stash(struct ipc_peer *p, const struct ipc_buf *b)
{
	if (p->nout == IPC_SEND_BATCH ||
	    b->len > IPC_SEND_BATCH_BYTES - p->outlen)
		ipc_peer_flush_out(p);
	if (p->fail != NULL)
		return;
	if (p->nqueued > 0) {
		(void)ipc_peer_enqueue(p, b->data, b->len);
		return;
	}
	memcpy(p->obuf + p->outlen, b->data, b->len);
	p->outsz[p->nout++] = b->len;
	p->outlen += b->len;
	if (p->nout == 1)
		event_active(p->fev, EV_TIMEOUT, 0);
}

int
ipc_peer_send(struct ipc_peer *p, const struct ipc_buf *b)
{
	uint32_t len;
	ssize_t n;

	if (!ipc_peer_live(p))
		return -1;
	if (b->err || b->len < IPC_HDR_LEN || b->len > IPC_MSG_MAX)
		return -1;
	memcpy(&len, b->data + HDR_LEN, sizeof(len));
	if (len != b->len)
		return -1;	/* ipc_finish() was not called */
	if (p->nqueued >= IPC_QUEUE_MAX)
		return ipc_peer_defer_close(p, "outbound queue full");
	if (p->fev != NULL && p->nqueued == 0) {
		ipc_peer_stash(p, b);
		return 0;
	}
	/*
	 * With nothing queued before it the message goes out now: queueing
	 * cost a malloc, two epoll_ctl calls and a loop turn per message,
	 * on both sides of every request.  Only a full socket queues it.  A
	 * send error still closes the peer from the loop, as if the message
	 * had been queued and had failed there.
	 */
	if (p->nqueued == 0) {
		do
			n = send(p->fd, b->data, b->len,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		while (n == -1 && errno == EINTR);
		if (n >= 0 && (size_t)n == b->len)
			return 0;
		if (n != -1 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			(void)ipc_peer_defer_close(p, "send failed");
			return 0;
		}
	}
	return ipc_peer_enqueue(p, b->data, b->len);
}

int
ipc_peer_fd(const struct ipc_peer *p)
{
	return p->fd;
}

void
ipc_peer_free(struct ipc_peer *p)
{
	if (p == NULL)
		return;
	/* A last answer before a hang-up still goes out, as unbatched. */
	if (ipc_peer_live(p) && p->nout > 0)
		ipc_peer_flush_out(p);
	if (p->busy) {
		p->freed = 1;
		event_del(p->rev);
		event_del(p->wev);
		return;
	}
	ipc_peer_destroy(p);
}
