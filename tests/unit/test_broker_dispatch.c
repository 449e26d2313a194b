/*
 * Unit tests for the broker's dispatcher (broker/broker.c): a real IPC
 * socket and event loop, a client playing the frontend, and only the
 * paths that are settled before Dino is called (Dino is unreachable).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "../../broker/broker.h"
#include "../../broker/creds.h"
#include "../../broker/dino.h"
#include "../../broker/intent.h"
#include "proto.h"
#include "tap.h"

static struct broker b;
static char dir[] = "/tmp/dino-dispatch-test.XXXXXX";
static char sock_path[100];

static void
pump(void)
{
	int i;

	for (i = 0; i < 20; i++) {
		event_base_loop(b.base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static int
client(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		return -1;
	pump();
	return fd;
}

static void
send_buf(int fd, const struct ipc_buf *buf)
{
	if (send(fd, buf->data, buf->len, 0) != (ssize_t)buf->len)
		printf("# send failed: %s\n", strerror(errno));
	pump();
}

/* Receives one answer; 0 when the broker closed the connection. */
static ssize_t
recv_msg(int fd, unsigned char *pkt, struct ipc_msg *m)
{
	ssize_t n;

	pump();
	if ((n = recv(fd, pkt, IPC_MSG_MAX, MSG_DONTWAIT)) <= 0)
		return n;
	if (ipc_open(m, pkt, (size_t)n) == -1)
		return -1;
	return n;
}

static int
closed(int fd)
{
	unsigned char c;

	pump();
	return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

static int
hello(int fd)
{
	struct msg_hello h = { .pid = 1 };
	struct msg_config cf;
	struct ipc_buf buf;
	unsigned char pkt[IPC_MSG_MAX];
	struct ipc_msg m;

	msg_hello_enc(&buf, 1, &h);
	send_buf(fd, &buf);
	return recv_msg(fd, pkt, &m) > 0 && m.hdr.type == MSG_CONFIG &&
	    msg_config_dec(&m, &cf) == 0 &&
	    cf.max_wait_s == BROKER_FE_MAX_WAIT_S;
}

static void
create_req(struct msg_create_spend *r, uid_t uid, int64_t amount,
    const char *merchant, const char *key)
{
	memset(r, 0, sizeof(*r));
	r->caller.uid = uid;
	r->caller.gid = uid;
	r->amount_cents = amount;
	strcpy(r->currency, "usd");
	snprintf(r->merchant_name, sizeof(r->merchant_name), "%s", merchant);
	snprintf(r->idempotency_key, sizeof(r->idempotency_key), "%s", key);
}

/* Sends a create and returns the error code answered, or "" for none. */
static const char *
create_error(int fd, uint32_t reqid, const struct msg_create_spend *r,
    uint32_t *status)
{
	static struct msg_error e;
	struct ipc_buf buf;
	unsigned char pkt[IPC_MSG_MAX];
	struct ipc_msg m;

	msg_create_spend_enc(&buf, reqid, r);
	send_buf(fd, &buf);
	if (recv_msg(fd, pkt, &m) <= 0 || m.hdr.type != MSG_ERROR ||
	    m.hdr.reqid != reqid || msg_error_dec(&m, &e) == -1)
		return "";
	*status = e.http_status;
	return e.code;
}

static void
test_hello_and_policy(void)
{
	struct msg_create_spend r;
	uint32_t st = 0;
	int fd;

	fd = client();
	CHECK(fd != -1 && hello(fd), "HELLO answered with MSG_CONFIG");
	create_req(&r, 4242, 100, "AWS", "");
	CHECK(strcmp(create_error(fd, 2, &r, &st), "unknown_principal") == 0 &&
	    st == 403, "unknown uid: 403 unknown_principal");
	create_req(&r, geteuid(), 5001, "AWS", "");
	CHECK(strcmp(create_error(fd, 3, &r, &st), "policy_denied") == 0 &&
	    st == 403, "above max: 403 policy_denied");
	b.cfg->paused = 1;
	create_req(&r, geteuid(), 100, "AWS", "");
	CHECK(strcmp(create_error(fd, 4, &r, &st), "paused") == 0 &&
	    st == 503, "paused: 503");
	b.cfg->paused = 0;
	close(fd);
}

static struct intent *
add_intent(uid_t uid, const char *key, int64_t amount)
{
	char caller[32], derived[BROKER_IDEM_KEY_LEN + 1];
	struct msg_create_spend r;

	create_req(&r, uid, amount, "AWS", key);
	intent_caller_id(uid, caller, sizeof(caller));
	intent_derive_key(b.cfg->instance_id, caller, key, derived);
	return intent_add(b.intents, derived, key, uid,
	    &b.cfg->principals[0], &r, 1800000000000LL);
}

static void
test_idempotency(void)
{
	struct msg_create_spend r;
	struct intent *in;
	struct spend_obj s;
	struct msg_spend sp;
	struct ipc_buf buf;
	unsigned char pkt[IPC_MSG_MAX];
	struct ipc_msg m;
	uint32_t st = 0;
	int fd;

	in = add_intent(geteuid(), "key-1", 100);
	intent_spend_get(in, &s);
	strcpy(s.id, "req_01arz3ndektsv4rrffq69g5fav");
	strcpy(s.status, "approved");
	intent_set_spend(b.intents, in, &s);
	fd = client();
	hello(fd);
	create_req(&r, geteuid(), 101, "AWS", "key-1");
	CHECK(strcmp(create_error(fd, 2, &r, &st), "idempotency_key_conflict")
	    == 0 && st == 409, "same key, other body: 409");
	create_req(&r, geteuid(), 100, "AWS", "key-1");
	msg_create_spend_enc(&buf, 3, &r);
	send_buf(fd, &buf);
	CHECK(recv_msg(fd, pkt, &m) > 0 && m.hdr.type == MSG_SPEND &&
	    msg_spend_dec(&m, &sp) == 0 && sp.replayed == 1 &&
	    strcmp(sp.spend.id, s.id) == 0 &&
	    strcmp(sp.spend.idempotency_key, "key-1") == 0,
	    "same key, same body: the existing spend, replayed");
	close(fd);
}

static const char *
get_spend_error(int fd, uint32_t reqid, uid_t uid, const char *id)
{
	static struct msg_error e;
	struct msg_get_spend g;
	struct ipc_buf buf;
	unsigned char pkt[IPC_MSG_MAX];
	struct ipc_msg m;

	memset(&g, 0, sizeof(g));
	g.caller.uid = uid;
	g.caller.gid = uid;
	strcpy(g.id, id);
	msg_get_spend_enc(&buf, reqid, &g);
	send_buf(fd, &buf);
	if (recv_msg(fd, pkt, &m) <= 0 || m.hdr.type != MSG_ERROR ||
	    msg_error_dec(&m, &e) == -1)
		return "";
	return e.code;
}

static void
test_ownership(void)
{
	int fd;

	fd = client();
	hello(fd);
	CHECK(strcmp(get_spend_error(fd, 2, geteuid(),
	    "req_01arz3ndektsv4rrffq69g5fzz"), "not_found") == 0,
	    "unknown id: 404");
	CHECK(strcmp(get_spend_error(fd, 3, 1234,
	    "req_01arz3ndektsv4rrffq69g5fav"), "not_found") == 0,
	    "another principal's spend: 404");
	close(fd);
}

static void
send_raw(int fd, uint32_t type, uint32_t reqid, const void *p, size_t n)
{
	struct ipc_buf buf;

	ipc_begin(&buf, type, reqid);
	if (n > 0) {
		memcpy(buf.data + buf.len, p, n);
		buf.len += n;
	}
	ipc_finish(&buf);
	send_buf(fd, &buf);
}

static void
test_violations(void)
{
	struct msg_get_balance g;
	struct ipc_buf buf;
	int fd;

	memset(&g, 0, sizeof(g));
	g.caller.uid = geteuid();
	fd = client();
	msg_get_balance_enc(&buf, 5, &g);
	send_buf(fd, &buf);
	CHECK(closed(fd), "tool request before HELLO ends the connection");
	close(fd);
	fd = client();
	hello(fd);
	send_raw(fd, 100, 5, NULL, 0);
	CHECK(closed(fd), "unknown type ends the connection");
	close(fd);
	fd = client();
	hello(fd);
	send_raw(fd, MSG_SPEND, 5, NULL, 0);
	CHECK(closed(fd), "an answer type from the frontend ends it");
	close(fd);
	fd = client();
	hello(fd);
	hello(fd);
	CHECK(closed(fd), "a second HELLO ends the connection");
	close(fd);
	fd = client();
	hello(fd);
	msg_get_balance_enc(&buf, 0, &g);
	send_buf(fd, &buf);
	CHECK(closed(fd), "reqid 0 ends the connection");
	close(fd);
	fd = client();
	hello(fd);
	send_raw(fd, MSG_GET_BALANCE, 5, "xyz", 3);
	CHECK(closed(fd), "a malformed request ends the connection");
	close(fd);
	fd = client();
	CHECK(fd != -1 && hello(fd), "the broker accepts the next frontend");
	close(fd);
}

static void
setup(void)
{
	static const char conf_fmt[] =
	    "instance_id test\nuser nobody\nipc_socket %s\n"
	    "dino_url http://127.0.0.1:1\nallow_http_loopback yes\n"
	    "account a {\n key_file /nonexistent\n}\n"
	    "principal uid %lu {\n account a\n max_amount_cents 5000\n}\n"
	    "principal uid 1234 {\n account a\n}\n";
	struct config_errors errs;
	struct dino_options opt;
	char conf[512], err[256];

	if (mkdtemp(dir) == NULL)
		exit(1);
	snprintf(sock_path, sizeof(sock_path), "%s/ipc.sock", dir);
	snprintf(conf, sizeof(conf), conf_fmt, sock_path,
	    (unsigned long)geteuid());
	if ((b.cfg = config_parse("t.conf", conf, strlen(conf),
	    &errs)) == NULL) {
		config_errors_print(&errs);
		exit(1);
	}
	b.base = event_base_new();
	b.intents = intent_table_new();
	memset(&opt, 0, sizeof(opt));
	opt.base_url = b.cfg->dino_url;
	opt.spend_path = "spend";
	opt.allow_http_loopback = 1;
	opt.connect_timeout_ms = 100;
	opt.total_timeout_ms = 200;
	opt.retry_base_ms = 10;
	opt.retry_max_ms = 20;
	opt.read_retries = 1;
	b.dino = dino_client_new(b.base, &opt);
	if ((b.listen_fd = broker_listen(b.cfg, 0, err, sizeof(err))) == -1) {
		printf("# %s\n", err);
		exit(1);
	}
	b.peer_uid = geteuid();
	broker_start(&b);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	setup();
	test_hello_and_policy();
	test_idempotency();
	test_ownership();
	test_violations();
	broker_stop(&b);
	dino_client_free(b.dino);
	intent_table_free(b.intents);
	close(b.listen_fd);
	unlink(sock_path);
	rmdir(dir);
	config_free(b.cfg);
	event_base_free(b.base);
	return TAP_DONE();
}
