/*
 * The frontend-broker boundary: framed messages over a SOCK_SEQPACKET
 * socket, one message per packet.
 *
 * Every message starts with a fixed header of four host-order u32 fields:
 * type, len (the whole message, header included), reqid and version.  len
 * is checked against IPC_MSG_MAX before anything else is read, and must
 * equal the size of the packet.  Payloads are built and read with typed,
 * bounded accessors; a reader that fails once stays failed, so a chain of
 * getters ends in one check (as OpenSSH's monitor does), and ipc_end()
 * refuses trailing bytes (as smtpd's m_end does).
 *
 * Strings travel as a u16 length, the bytes, and a NUL: the reader checks
 * the length against the caller's maximum, the NUL at the end and the
 * absence of any NUL inside.
 */
#ifndef DINO_IPC_H
#define DINO_IPC_H

#include <stddef.h>
#include <stdint.h>

#include "dinolimits.h"

#define IPC_VERSION	1

struct ipc_hdr {
	uint32_t	type;
	uint32_t	len;
	uint32_t	reqid;
	uint32_t	version;
};

/* A message being built. */
struct ipc_buf {
	unsigned char	data[IPC_MSG_MAX];
	size_t		len;
	int		err;	/* set once anything did not fit */
};

void	ipc_begin(struct ipc_buf *b, uint32_t type, uint32_t reqid);
void	ipc_put_u8(struct ipc_buf *b, uint8_t v);
void	ipc_put_u32(struct ipc_buf *b, uint32_t v);
void	ipc_put_i64(struct ipc_buf *b, int64_t v);
/* Fails the buffer if strlen(s) > maxlen. */
void	ipc_put_str(struct ipc_buf *b, const char *s, size_t maxlen);
/* Writes the length into the header; -1 if anything failed. */
int	ipc_finish(struct ipc_buf *b);
/*
 * b as a copy of the finished message from, with another type and reqid;
 * -1 if from failed or was not finished.
 */
int	ipc_copy(struct ipc_buf *b, const struct ipc_buf *from, uint32_t type,
	    uint32_t reqid);

/* A message being read; p points into the caller's packet buffer. */
struct ipc_msg {
	struct ipc_hdr		hdr;
	const unsigned char	*p;
	size_t			left;
	int			err;
	const char		*why;	/* first failure, static text */
};

/*
 * Checks a received packet of n bytes: n >= IPC_HDR_LEN, n <= IPC_MSG_MAX,
 * hdr.len == n, hdr.version == IPC_VERSION.  Returns 0, or -1 with m->why.
 */
int	ipc_open(struct ipc_msg *m, const unsigned char *buf, size_t n);
int	ipc_get_u8(struct ipc_msg *m, uint8_t *v);
int	ipc_get_u32(struct ipc_msg *m, uint32_t *v);
int	ipc_get_i64(struct ipc_msg *m, int64_t *v);
/* Copies into out[maxlen + 1]; fails on a longer string or a bad NUL. */
int	ipc_get_str(struct ipc_msg *m, char *out, size_t maxlen);
/* 0 when every getter succeeded and no byte is left over; else -1. */
int	ipc_end(struct ipc_msg *m);

/*
 * A peer on the event loop: a non-blocking SEQPACKET socket with a bounded
 * outbound queue.  on_msg sees each packet after ipc_open() succeeded;
 * on_close runs once, when the peer hangs up, sends a packet that fails
 * ipc_open() (then why says which check failed), or its queue overflows.
 * After on_close the caller must ipc_peer_free() the peer.
 *
 * Ownership and re-entry: ipc_peer_new() takes the fd (it must be
 * SOCK_SEQPACKET; it is made non-blocking) and ipc_peer_free() closes it;
 * if ipc_peer_new() fails, the fd is still the caller's to close.
 * ipc_peer_free() is safe from inside on_msg or on_close: the memory is
 * released once the event handler unwinds, and on_close then never runs.
 * The ipc_msg handed to on_msg points into the peer's receive buffer and
 * is valid only during the call.  ipc_peer_send() sends b at once when
 * nothing is queued and copies it into the queue otherwise (either way b
 * is the caller's again on return), never calls on_close itself (a full
 * queue or send error closes the peer on a later loop turn), and fails
 * once the peer is closing.
 */
struct event_base;
struct ipc_peer;
typedef void (*ipc_msg_cb)(struct ipc_peer *, struct ipc_msg *, void *);
typedef void (*ipc_close_cb)(struct ipc_peer *, const char *why, void *);

struct ipc_peer *ipc_peer_new(struct event_base *base, int fd,
	    ipc_msg_cb on_msg, ipc_close_cb on_close, void *arg);
/* Queues b (after ipc_finish); -1 if b failed or the queue is full. */
int	ipc_peer_send(struct ipc_peer *p, const struct ipc_buf *b);
int	ipc_peer_fd(const struct ipc_peer *p);
/*
 * Opt-in batching: from now on what the peer is sent during one loop turn
 * waits in an outbox and goes out in one sendmmsg() once the callbacks
 * active in that turn have run (sooner when the outbox fills), in order
 * and with the same error handling; ipc_peer_free() sends what is left.
 * 0, or -1 when out of memory (the peer is unchanged).
 */
int	ipc_peer_batch(struct ipc_peer *p);
void	ipc_peer_free(struct ipc_peer *p);

#endif
