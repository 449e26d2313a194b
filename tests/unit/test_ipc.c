/* Unit tests for common/ipc.c: framing, typed getters and the peer. */
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"
#include "dinolimits.h"
#include "tap.h"

/* A raw packet: header fields as given, then payload. */
static size_t
raw(unsigned char *buf, uint32_t type, uint32_t len, uint32_t reqid,
    uint32_t version, const void *payload, size_t plen)
{
	memcpy(buf, &type, 4);
	memcpy(buf + 4, &len, 4);
	memcpy(buf + 8, &reqid, 4);
	memcpy(buf + 12, &version, 4);
	if (plen > 0)
		memcpy(buf + IPC_HDR_LEN, payload, plen);
	return IPC_HDR_LEN + plen;
}

/* Opens a valid packet around the given payload. */
static int
open_payload(struct ipc_msg *m, unsigned char *buf, const void *payload,
    size_t plen)
{
	size_t n;

	n = raw(buf, 42, (uint32_t)(IPC_HDR_LEN + plen), 7, IPC_VERSION,
	    payload, plen);
	return ipc_open(m, buf, n);
}

static void
test_builder(void)
{
	static struct ipc_buf b;
	struct ipc_msg m;
	uint32_t u32, len;
	uint8_t u8;
	int64_t i64;
	char s[16];

	ipc_begin(&b, 4, 99);
	ipc_put_u8(&b, 0xab);
	ipc_put_u32(&b, 0xdeadbeef);
	ipc_put_i64(&b, INT64_MIN);
	ipc_put_str(&b, "hello", 8);
	ipc_put_str(&b, "", 0);
	CHECK(ipc_finish(&b) == 0, "builder: finish ok");
	CHECK(b.len == IPC_HDR_LEN + 1 + 4 + 8 + (2 + 5 + 1) + (2 + 1),
	    "builder: exact length");
	memcpy(&len, b.data + 4, 4);
	CHECK(len == b.len, "builder: header len written by finish");
	CHECK(ipc_open(&m, b.data, b.len) == 0, "builder: opens");
	CHECK(m.hdr.type == 4 && m.hdr.reqid == 99 &&
	    m.hdr.version == IPC_VERSION && m.hdr.len == b.len,
	    "builder: header fields");
	CHECK(ipc_get_u8(&m, &u8) == 0 && u8 == 0xab, "get u8");
	CHECK(ipc_get_u32(&m, &u32) == 0 && u32 == 0xdeadbeef, "get u32");
	CHECK(ipc_get_i64(&m, &i64) == 0 && i64 == INT64_MIN, "get i64");
	CHECK(ipc_get_str(&m, s, 8) == 0 && strcmp(s, "hello") == 0,
	    "get str");
	CHECK(ipc_get_str(&m, s, 0) == 0 && s[0] == '\0', "get empty str");
	CHECK(ipc_end(&m) == 0 && m.why == NULL, "end with nothing left");

	ipc_begin(&b, 4, 0);
	ipc_put_str(&b, "toolong", 6);
	CHECK(b.err && ipc_finish(&b) == -1, "builder: string over max fails");
	ipc_begin(&b, 4, 0);
	ipc_put_str(&b, NULL, 6);
	CHECK(b.err && ipc_finish(&b) == -1, "builder: NULL string fails");
	ipc_begin(&b, 4, 0);
	CHECK(!b.err && ipc_finish(&b) == 0 && b.len == IPC_HDR_LEN,
	    "builder: empty payload ok");
}

static void
test_builder_full(void)
{
	static struct ipc_buf b;
	struct ipc_msg m;
	size_t i;

	ipc_begin(&b, 4, 0);
	for (i = IPC_HDR_LEN; i < IPC_MSG_MAX; i++)
		ipc_put_u8(&b, (uint8_t)i);
	CHECK(!b.err && b.len == IPC_MSG_MAX, "builder: fills to IPC_MSG_MAX");
	CHECK(ipc_finish(&b) == 0, "builder: full message finishes");
	CHECK(ipc_open(&m, b.data, b.len) == 0, "full message opens");
	ipc_put_u8(&b, 0);
	CHECK(b.err && ipc_finish(&b) == -1, "builder: one byte over fails");
	ipc_put_u32(&b, 0);
	CHECK(b.err && b.len == IPC_MSG_MAX, "builder: error is sticky");

	ipc_begin(&b, 4, 0);
	for (i = IPC_HDR_LEN; i < IPC_MSG_MAX - 3; i++)
		ipc_put_u8(&b, 0);
	ipc_put_u32(&b, 1);
	CHECK(b.err && b.len == IPC_MSG_MAX - 3,
	    "builder: u32 not fitting fails whole");
	ipc_begin(&b, 4, 0);
	for (i = IPC_HDR_LEN; i < IPC_MSG_MAX - 7; i++)
		ipc_put_u8(&b, 0);
	ipc_put_i64(&b, 1);
	CHECK(b.err, "builder: i64 not fitting fails");
	ipc_begin(&b, 4, 0);
	for (i = IPC_HDR_LEN; i < IPC_MSG_MAX - 5; i++)
		ipc_put_u8(&b, 0);
	ipc_put_str(&b, "abc", 3);
	CHECK(b.err, "builder: string without room for its NUL fails");
	ipc_begin(&b, 4, 0);
	for (i = IPC_HDR_LEN; i < IPC_MSG_MAX - 6; i++)
		ipc_put_u8(&b, 0);
	ipc_put_str(&b, "abc", 3);
	CHECK(!b.err && b.len == IPC_MSG_MAX, "builder: string fits exactly");
}

static void
test_open(void)
{
	static unsigned char buf[IPC_MSG_MAX + 2];
	struct ipc_msg m;
	size_t n;
	int ok = 1;

	memset(buf, 0, sizeof(buf));
	for (n = 0; n < IPC_HDR_LEN; n++) {
		raw(buf, 1, (uint32_t)n, 0, IPC_VERSION, NULL, 0);
		if (ipc_open(&m, buf, n) != -1 || !m.err ||
		    strcmp(m.why, "truncated header") != 0)
			ok = 0;
	}
	CHECK(ok, "open: every header shorter than 16 bytes fails");

	raw(buf, 1, IPC_MSG_MAX + 1, 0, IPC_VERSION, NULL, 0);
	CHECK(ipc_open(&m, buf, IPC_HDR_LEN) == -1 &&
	    strcmp(m.why, "oversized message") == 0,
	    "open: len > IPC_MSG_MAX judged first");
	raw(buf, 1, UINT32_MAX, 0, 99, NULL, 0);
	CHECK(ipc_open(&m, buf, IPC_HDR_LEN) == -1 &&
	    strcmp(m.why, "oversized message") == 0,
	    "open: len before version");
	raw(buf, 1, IPC_MSG_MAX + 1, 0, IPC_VERSION, NULL, 0);
	CHECK(ipc_open(&m, buf, IPC_MSG_MAX + 1) == -1 &&
	    strcmp(m.why, "oversized message") == 0,
	    "open: oversized packet with matching len");
	raw(buf, 1, IPC_MSG_MAX, 0, IPC_VERSION, NULL, 0);
	CHECK(ipc_open(&m, buf, IPC_MSG_MAX) == 0 &&
	    m.left == IPC_MSG_MAX - IPC_HDR_LEN,
	    "open: exactly IPC_MSG_MAX ok");

	raw(buf, 1, 20, 0, IPC_VERSION, NULL, 0);
	CHECK(ipc_open(&m, buf, 16) == -1 &&
	    strcmp(m.why, "length does not match packet size") == 0,
	    "open: len above packet size");
	raw(buf, 1, 16, 0, IPC_VERSION, NULL, 0);
	CHECK(ipc_open(&m, buf, 20) == -1 &&
	    strcmp(m.why, "length does not match packet size") == 0,
	    "open: len below packet size");
	raw(buf, 1, 0, 0, IPC_VERSION, NULL, 0);
	CHECK(ipc_open(&m, buf, 16) == -1, "open: len 0 fails");

	raw(buf, 1, 16, 0, 0, NULL, 0);
	CHECK(ipc_open(&m, buf, 16) == -1 &&
	    strcmp(m.why, "wrong protocol version") == 0, "open: version 0");
	raw(buf, 1, 16, 0, IPC_VERSION + 1, NULL, 0);
	CHECK(ipc_open(&m, buf, 16) == -1 &&
	    strcmp(m.why, "wrong protocol version") == 0, "open: version 2");
	raw(buf, 1, 16, 0, UINT32_MAX, NULL, 0);
	CHECK(ipc_open(&m, buf, 16) == -1, "open: version ~0");
	CHECK(ipc_end(&m) == -1, "open failure is sticky into end");
}

static void
test_getters_past_end(void)
{
	unsigned char buf[64], pay[16];
	struct ipc_msg m;
	uint8_t u8;
	uint32_t u32;
	int64_t i64;
	char s[8];
	size_t k;
	int ok;

	memset(pay, 0, sizeof(pay));
	open_payload(&m, buf, pay, 0);
	CHECK(ipc_get_u8(&m, &u8) == -1 &&
	    strcmp(m.why, "truncated message") == 0, "u8 past end");
	for (ok = 1, k = 0; k < 4; k++) {
		open_payload(&m, buf, pay, k);
		if (ipc_get_u32(&m, &u32) != -1 || u32 != 0)
			ok = 0;
	}
	CHECK(ok, "u32 with 0-3 bytes left fails");
	for (ok = 1, k = 0; k < 8; k++) {
		open_payload(&m, buf, pay, k);
		if (ipc_get_i64(&m, &i64) != -1 || i64 != 0)
			ok = 0;
	}
	CHECK(ok, "i64 with 0-7 bytes left fails");
	for (ok = 1, k = 0; k < 2; k++) {
		open_payload(&m, buf, pay, k);
		if (ipc_get_str(&m, s, 7) != -1)
			ok = 0;
	}
	CHECK(ok, "str with no room for its length fails");
	/* Length 3, "abc", no NUL: the string runs off the end. */
	memcpy(pay, "\x03\x00" "abc", 5);
	open_payload(&m, buf, pay, 5);
	CHECK(ipc_get_str(&m, s, 7) == -1 && s[0] == '\0' &&
	    strcmp(m.why, "truncated string") == 0, "str past end");
	open_payload(&m, buf, pay, 4);
	CHECK(ipc_get_str(&m, s, 7) == -1, "str bytes past end");
}

static void
test_strings(void)
{
	unsigned char buf[64], pay[32];
	struct ipc_msg m;
	char s[8];

	memcpy(pay, "\x03\x00" "abcX", 6);
	open_payload(&m, buf, pay, 6);
	CHECK(ipc_get_str(&m, s, 7) == -1 && s[0] == '\0' &&
	    strcmp(m.why, "string not NUL-terminated") == 0,
	    "str without NUL");
	memcpy(pay, "\x03\x00" "a\0c\0", 6);
	open_payload(&m, buf, pay, 6);
	CHECK(ipc_get_str(&m, s, 7) == -1 &&
	    strcmp(m.why, "NUL inside string") == 0, "str with inner NUL");
	memcpy(pay, "\x03\x00" "\0bc\0", 6);
	open_payload(&m, buf, pay, 6);
	CHECK(ipc_get_str(&m, s, 7) == -1, "str with leading NUL");
	memcpy(pay, "\x05\x00" "abcde\0", 8);
	open_payload(&m, buf, pay, 8);
	CHECK(ipc_get_str(&m, s, 4) == -1 &&
	    strcmp(m.why, "string too long") == 0, "str longer than max");
	open_payload(&m, buf, pay, 8);
	CHECK(ipc_get_str(&m, s, 5) == 0 && strcmp(s, "abcde") == 0 &&
	    ipc_end(&m) == 0, "str exactly max");
	memcpy(pay, "\xff\xff", 2);
	open_payload(&m, buf, pay, 2);
	CHECK(ipc_get_str(&m, s, 7) == -1, "str length 65535 refused");
	memcpy(pay, "\x00\x00\0", 3);
	open_payload(&m, buf, pay, 3);
	CHECK(ipc_get_str(&m, s, 0) == 0 && s[0] == '\0' && ipc_end(&m) == 0,
	    "empty str with max 0");
	memcpy(pay, "\x00\x00", 2);
	open_payload(&m, buf, pay, 2);
	CHECK(ipc_get_str(&m, s, 7) == -1, "empty str without NUL");
	memcpy(pay, "\x01\x00" "\xc3\0", 4);
	open_payload(&m, buf, pay, 4);
	CHECK(ipc_get_str(&m, s, 7) == 0 && (unsigned char)s[0] == 0xc3,
	    "framing passes any non-NUL byte (meaning is proto's job)");
}

static void
test_end_and_sticky(void)
{
	unsigned char buf[64], pay[32];
	struct ipc_msg m;
	uint8_t u8;
	uint32_t u32;
	char s[8];

	memset(pay, 0, sizeof(pay));
	open_payload(&m, buf, pay, 4);
	CHECK(ipc_get_u8(&m, &u8) == 0 && ipc_end(&m) == -1 &&
	    strcmp(m.why, "trailing bytes") == 0, "trailing bytes fail end");
	open_payload(&m, buf, pay, 1);
	CHECK(ipc_end(&m) == -1, "one trailing byte fails end");
	open_payload(&m, buf, pay, 4);
	CHECK(ipc_get_u32(&m, &u32) == 0 && ipc_end(&m) == 0,
	    "exact read ends clean");

	/* A failure stays, and keeps its first reason. */
	memcpy(pay, "\x05\x00" "abcde\0" "\x01\x02\x03\x04", 12);
	open_payload(&m, buf, pay, 12);
	CHECK(ipc_get_str(&m, s, 3) == -1, "sticky: first failure");
	CHECK(ipc_get_u8(&m, &u8) == -1, "sticky: next getter fails");
	CHECK(ipc_get_u32(&m, &u32) == -1 && u32 == 0,
	    "sticky: u32 fails and zeroes");
	CHECK(ipc_end(&m) == -1 && strcmp(m.why, "string too long") == 0,
	    "sticky: end fails with the first reason");

	/* The OpenSSH chain: one check at the end. */
	memcpy(pay, "\x01\x02\x03\x04" "\x02\x00" "hi\0", 9);
	open_payload(&m, buf, pay, 9);
	ipc_get_u32(&m, &u32);
	ipc_get_str(&m, s, 7);
	CHECK(ipc_end(&m) == 0 && u32 == 0x04030201 && strcmp(s, "hi") == 0,
	    "chain of getters, one check");
	open_payload(&m, buf, pay, 8);
	ipc_get_u32(&m, &u32);
	ipc_get_str(&m, s, 7);
	ipc_get_u8(&m, &u8);
	CHECK(ipc_end(&m) == -1 && strcmp(m.why, "truncated string") == 0,
	    "chain stops at first failure");
}

/*
 * The peer over a real socketpair.
 */

struct side {
	struct ipc_peer	*peer;
	struct event_base *base;
	int		 nmsg;
	int		 nclose;
	int		 want;
	int		 inorder;
	int		 free_in_msg;
	int		 free_in_close;
	const char	*why;
	uint32_t	 next;
};

static void
on_msg(struct ipc_peer *p, struct ipc_msg *m, void *arg)
{
	struct side *s = arg;
	uint32_t seq;

	if (ipc_get_u32(m, &seq) == 0 && seq != s->next)
		s->inorder = 0;
	s->next++;
	s->nmsg++;
	if (s->free_in_msg) {
		ipc_peer_free(p);
		s->peer = NULL;
	}
	if (s->want && s->nmsg == s->want)
		event_base_loopbreak(s->base);
}

static void
on_close(struct ipc_peer *p, const char *why, void *arg)
{
	struct side *s = arg;

	s->nclose++;
	s->why = why;
	if (s->free_in_close) {
		ipc_peer_free(p);
		s->peer = NULL;
	}
	event_base_loopbreak(s->base);
}

static void
run(struct event_base *base)
{
	struct timeval tv = { 5, 0 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static int
pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}

static void
side_init(struct side *s, struct event_base *base)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
	s->inorder = 1;
}

/*
 * Fills the socket under a peer, so that what it is asked to send next
 * must queue: a message sent into an empty queue goes out at once.
 */
static void
fill_socket(int fd)
{
	static struct ipc_buf b;

	ipc_begin(&b, 4, 0);
	ipc_put_u32(&b, 0);
	ipc_finish(&b);
	while (send(fd, b.data, b.len, MSG_DONTWAIT) == (ssize_t)b.len)
		;
}

static void
test_peer_roundtrip(struct event_base *base)
{
	static struct ipc_buf b;
	struct side a, z;
	int sv[2], i, ok = 1;
	const int n = 3000;

	side_init(&a, base);
	side_init(&z, base);
	CHECK(pair(sv) == 0, "socketpair");
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	z.peer = ipc_peer_new(base, sv[1], on_msg, on_close, &z);
	CHECK(a.peer != NULL && z.peer != NULL, "peers created");
	CHECK(ipc_peer_fd(a.peer) == sv[0], "peer fd");
	/* Big messages fill the socket, so EAGAIN and EV_WRITE are used. */
	for (i = 0; i < n; i++) {
		ipc_begin(&b, 4, (uint32_t)i);
		ipc_put_u32(&b, (uint32_t)i);
		while (b.len < IPC_MSG_MAX - 8)
			ipc_put_i64(&b, i);
		if (ipc_finish(&b) == -1 || ipc_peer_send(a.peer, &b) == -1)
			ok = 0;
	}
	CHECK(ok, "3000 large messages queued");
	z.want = n;
	run(base);
	CHECK(z.nmsg == n, "all messages arrive");
	CHECK(z.inorder, "in order");
	CHECK(a.nclose == 0 && z.nclose == 0, "no close during round trip");

	ipc_begin(&b, 4, 1);
	ipc_put_u32(&b, 0);
	z.next = 0;
	z.want = 1;
	z.nmsg = 0;
	CHECK(ipc_finish(&b) == 0 && ipc_peer_send(z.peer, &b) == 0,
	    "reply queued");
	a.want = 1;
	run(base);
	CHECK(a.nmsg == 1, "reply arrives the other way");

	ipc_begin(&b, 4, 1);
	ipc_put_u32(&b, 0);
	CHECK(ipc_peer_send(a.peer, &b) == -1, "send without finish refused");
	ipc_put_str(&b, NULL, 1);
	CHECK(ipc_peer_send(a.peer, &b) == -1, "send of failed buffer refused");
	ipc_peer_free(a.peer);
	ipc_peer_free(z.peer);
}

/*
 * Bursts read by recvmmsg: more packets than a batch and than a burst, a
 * batch that ends exactly full, and a bad packet in the middle of a batch
 * (the packets before it are delivered, then the peer closes).
 */
static void
send_seq(int fd, uint32_t from, int n)
{
	static struct ipc_buf b;
	int i;

	for (i = 0; i < n; i++) {
		ipc_begin(&b, 4, from + (uint32_t)i);
		ipc_put_u32(&b, from + (uint32_t)i);
		if (ipc_finish(&b) == -1 ||
		    send(fd, b.data, b.len, 0) != (ssize_t)b.len)
			CHECK(0, "send_seq");
	}
}

static void
test_peer_batches(struct event_base *base)
{
	struct side a;
	int sv[2], n;

	side_init(&a, base);
	CHECK(pair(sv) == 0, "socketpair");
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	n = 3 * IPC_READ_BURST + 5;
	send_seq(sv[1], 0, n);
	a.want = n;
	run(base);
	CHECK(a.nmsg == n && a.inorder, "a long burst arrives whole and in "
	    "order");
	send_seq(sv[1], (uint32_t)n, IPC_RECV_BATCH);
	a.want = n + IPC_RECV_BATCH;
	run(base);
	CHECK(a.nmsg == n + IPC_RECV_BATCH && a.inorder,
	    "an exactly full batch arrives");
	CHECK(a.nclose == 0, "no close during bursts");

	a.next = 0;
	a.nmsg = 0;
	a.want = 0;
	send_seq(sv[1], 0, 3);
	CHECK(send(sv[1], "short", 5, 0) == 5, "bad packet sent");
	send_seq(sv[1], 3, 3);
	run(base);
	CHECK(a.nmsg == 3 && a.inorder, "packets before a bad one delivered");
	CHECK(a.nclose == 1 && a.why != NULL &&
	    strcmp(a.why, "truncated header") == 0, "bad packet closes");
	ipc_peer_free(a.peer);
	close(sv[1]);
}

/* A batching peer: small and large bursts, and a free before the flush. */
static int
send_n(struct ipc_peer *p, uint32_t from, int n, int big)
{
	static struct ipc_buf b;
	int i, ok = 1;

	for (i = 0; i < n; i++) {
		ipc_begin(&b, 4, from + (uint32_t)i);
		ipc_put_u32(&b, from + (uint32_t)i);
		while (big && b.len < IPC_MSG_MAX - 8)
			ipc_put_i64(&b, i);
		if (ipc_finish(&b) == -1 || ipc_peer_send(p, &b) == -1)
			ok = 0;
	}
	return ok;
}

static void
test_peer_batch(struct event_base *base)
{
	struct side a, z;
	int sv[2], n = 3 * IPC_SEND_BATCH + 3;

	side_init(&a, base);
	side_init(&z, base);
	CHECK(pair(sv) == 0, "socketpair");
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	z.peer = ipc_peer_new(base, sv[1], on_msg, on_close, &z);
	CHECK(a.peer != NULL && z.peer != NULL, "peers created");
	CHECK(ipc_peer_batch(a.peer) == 0 && ipc_peer_batch(a.peer) == 0,
	    "batching on, twice");
	CHECK(send_n(a.peer, 0, n, 0), "small burst sent");
	z.want = n;
	run(base);
	CHECK(z.nmsg == n && z.inorder, "small burst arrives in order");
	/* Large messages fill the socket: the rest queue, order holds. */
	CHECK(send_n(a.peer, (uint32_t)n, 2000, 1), "large burst sent");
	z.want = n + 2000;
	run(base);
	CHECK(z.nmsg == n + 2000 && z.inorder, "large burst arrives in order");
	CHECK(send_n(a.peer, (uint32_t)n + 2000, 5, 0), "last ones sent");
	ipc_peer_free(a.peer);
	z.want = n + 2005;
	run(base);
	CHECK(z.nmsg == n + 2005 && z.inorder,
	    "what was sent before ipc_peer_free arrives");
	CHECK(a.nclose == 0, "no close on the batching side");
	ipc_peer_free(z.peer);
}

static void
test_peer_bad_packets(struct event_base *base)
{
	static unsigned char big[IPC_MSG_MAX + 64];
	struct side a;
	int sv[2];
	size_t n;

	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	a.free_in_close = 1;
	memset(big, 'x', sizeof(big));
	n = raw(big, 4, IPC_MSG_MAX, 0, IPC_VERSION, NULL, 0);
	CHECK(send(sv[1], big, IPC_MSG_MAX, 0) == IPC_MSG_MAX,
	    "send max-size packet");
	raw(big, 4, IPC_MSG_MAX + 1, 0, IPC_VERSION, NULL, 0);
	CHECK(send(sv[1], big, IPC_MSG_MAX + 1, 0) == IPC_MSG_MAX + 1,
	    "send oversized packet");
	run(base);
	CHECK(a.nmsg == 1, "max-size packet delivered");
	CHECK(a.nclose == 1 && a.why != NULL &&
	    strcmp(a.why, "oversized message") == 0,
	    "oversized packet closes with why=oversized message");
	CHECK(a.peer == NULL, "freed inside on_close");
	close(sv[1]);

	/* A huge packet, far past the buffer, is still seen as oversized. */
	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	raw(big, 4, 16, 0, IPC_VERSION, NULL, 0);
	send(sv[1], big, sizeof(big), 0);
	run(base);
	CHECK(a.nclose == 1 && strcmp(a.why, "oversized message") == 0,
	    "oversized with a small len field still oversized");
	ipc_peer_free(a.peer);
	close(sv[1]);

	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	n = raw(big, 4, 16, 0, IPC_VERSION + 1, NULL, 0);
	send(sv[1], big, n, 0);
	run(base);
	CHECK(a.nclose == 1 && a.nmsg == 0 &&
	    strcmp(a.why, "wrong protocol version") == 0,
	    "wrong version closes with its why");
	ipc_peer_free(a.peer);
	close(sv[1]);

	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	n = raw(big, 4, 17, 0, IPC_VERSION, NULL, 0);
	send(sv[1], big, 16, 0);
	run(base);
	CHECK(a.nclose == 1 &&
	    strcmp(a.why, "length does not match packet size") == 0,
	    "len mismatch closes with its why");
	ipc_peer_free(a.peer);
	close(sv[1]);

	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	send(sv[1], big, 5, 0);
	run(base);
	CHECK(a.nclose == 1 && strcmp(a.why, "truncated header") == 0,
	    "short packet closes with its why");
	ipc_peer_free(a.peer);
	close(sv[1]);
}

static void
test_peer_hangup(struct event_base *base)
{
	static struct ipc_buf b;
	struct side a;
	int sv[2];

	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	close(sv[1]);
	run(base);
	CHECK(a.nclose == 1 && strcmp(a.why, "hangup") == 0,
	    "hangup calls on_close");
	event_base_loop(base, EVLOOP_NONBLOCK);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(a.nclose == 1, "on_close exactly once");
	ipc_begin(&b, 4, 0);
	ipc_finish(&b);
	CHECK(ipc_peer_send(a.peer, &b) == -1, "send after close refused");
	ipc_peer_free(a.peer);
	ipc_peer_free(NULL);
	CHECK(1, "free(NULL) is a no-op");

	/* A peer freed with messages queued must not leak or crash. */
	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	fill_socket(sv[0]);
	ipc_peer_send(a.peer, &b);
	ipc_peer_free(a.peer);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(1, "free with a queued message");
	close(sv[1]);
}

static void
test_peer_free_in_msg(struct event_base *base)
{
	static struct ipc_buf b;
	struct side a;
	int sv[2], i;

	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	a.free_in_msg = 1;
	a.want = 1;
	ipc_begin(&b, 4, 0);
	ipc_put_u32(&b, 0);
	ipc_finish(&b);
	for (i = 0; i < 10; i++)
		send(sv[1], b.data, b.len, 0);
	run(base);
	event_base_loop(base, EVLOOP_NONBLOCK);
	CHECK(a.nmsg == 1 && a.nclose == 0 && a.peer == NULL,
	    "free inside on_msg stops delivery, no on_close");
	close(sv[1]);
}

static void
test_peer_overflow(struct event_base *base)
{
	static struct ipc_buf b;
	struct side a;
	int sv[2], i, ok = 1;

	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	a.free_in_close = 1;
	ipc_begin(&b, 4, 0);
	ipc_put_u32(&b, 0);
	ipc_finish(&b);
	/*
	 * Nobody reads sv[1], its socket is full and the loop does not run:
	 * all stay queued.
	 */
	fill_socket(sv[0]);
	for (i = 0; i < IPC_QUEUE_MAX; i++)
		if (ipc_peer_send(a.peer, &b) != 0)
			ok = 0;
	CHECK(ok, "IPC_QUEUE_MAX messages queue");
	CHECK(ipc_peer_send(a.peer, &b) == -1, "one more is refused");
	CHECK(a.nclose == 0, "on_close not called from inside send");
	CHECK(ipc_peer_send(a.peer, &b) == -1, "closing peer refuses sends");
	run(base);
	CHECK(a.nclose == 1 && strcmp(a.why, "outbound queue full") == 0,
	    "queue overflow closes the peer");
	CHECK(a.peer == NULL, "overflowed peer freed in on_close");
	close(sv[1]);
}

static void
test_peer_new(struct event_base *base)
{
	struct side a;
	int sv[2];

	side_init(&a, base);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "stream pair");
	CHECK(ipc_peer_new(base, sv[0], on_msg, on_close, &a) == NULL,
	    "stream socket refused");
	CHECK(ipc_peer_new(base, -1, on_msg, on_close, &a) == NULL,
	    "bad fd refused");
	close(sv[0]);
	close(sv[1]);
}

static void
test_peer_drain_then_hangup(struct event_base *base)
{
	static struct ipc_buf b;
	struct side a;
	int sv[2], i;

	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	a.free_in_close = 1;
	for (i = 0; i < 200; i++) {
		ipc_begin(&b, 4, 0);
		ipc_put_u32(&b, (uint32_t)i);
		ipc_finish(&b);
		send(sv[1], b.data, b.len, 0);
	}
	close(sv[1]);
	run(base);
	CHECK(a.nmsg == 200 && a.inorder,
	    "packets sent before a hangup are all delivered, in order");
	CHECK(a.nclose == 1 && strcmp(a.why, "hangup") == 0 && a.peer == NULL,
	    "then the hangup closes once");

	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg, on_close, &a);
	a.free_in_close = 1;
	send(sv[1], "", 0, 0);
	run(base);
	CHECK(a.nclose == 1 && a.peer == NULL,
	    "a zero-length packet ends the peer");
	close(sv[1]);
}

/* on_msg that answers each message with more than the queue can hold. */
static void
on_msg_flood(struct ipc_peer *p, struct ipc_msg *m, void *arg)
{
	static struct ipc_buf b;
	struct side *s = arg;
	int i;

	s->nmsg++;
	fill_socket(ipc_peer_fd(p));
	ipc_begin(&b, 5, m->hdr.reqid);
	ipc_finish(&b);
	for (i = 0; i <= IPC_QUEUE_MAX; i++)
		if (ipc_peer_send(p, &b) == -1)
			s->inorder = 0;	/* reused: "a send was refused" */
}

static void
test_peer_overflow_in_callback(struct event_base *base)
{
	static struct ipc_buf b;
	struct side a;
	int sv[2], i;

	side_init(&a, base);
	pair(sv);
	a.peer = ipc_peer_new(base, sv[0], on_msg_flood, on_close, &a);
	a.free_in_close = 1;
	ipc_begin(&b, 4, 0);
	ipc_finish(&b);
	for (i = 0; i < 5; i++)
		send(sv[1], b.data, b.len, 0);
	run(base);
	CHECK(a.inorder == 0, "overflow inside on_msg is refused");
	CHECK(a.nmsg == 1, "no further message read after the overflow");
	CHECK(a.nclose == 1 && strcmp(a.why, "outbound queue full") == 0 &&
	    a.peer == NULL, "overflow inside on_msg closes once, then frees");
	close(sv[1]);
}

int
main(void)
{
	struct event_base *base;

	test_builder();
	test_builder_full();
	test_open();
	test_getters_past_end();
	test_strings();
	test_end_and_sticky();
	if ((base = event_base_new()) == NULL)
		return 1;
	test_peer_new(base);
	test_peer_roundtrip(base);
	test_peer_batches(base);
	test_peer_batch(base);
	test_peer_bad_packets(base);
	test_peer_hangup(base);
	test_peer_free_in_msg(base);
	test_peer_overflow(base);
	test_peer_drain_then_hangup(base);
	test_peer_overflow_in_callback(base);
	event_base_free(base);
	return TAP_DONE();
}
