/*
 * Tests of the Dino client (broker/dino.c) on a real libevent loop against
 * a small evhttp server in the same process, on 127.0.0.1 port 0.  The
 * server plays a script of answers, one per request, and records what it
 * received, so each test checks both what the client reported and what
 * went over the wire.  Everything the client logs goes to a temporary
 * file that is searched for the canary spending key at the end.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "../../broker/dino.h"
#include "dinolimits.h"
#include "log.h"
#include "util.h"
#include "tap.h"

#define CANARY		"din_test_CANARYc4n4ry0123456789abcdefSECRET"
#define ID		"req_01jwx4k2p00000000000000000"
#define IDEM		"dbk_test-idempotency-key-0001"
#define TEST_LIMIT_S	20	/* one test never runs longer */

#define SPEND_BODY							\
	"{\"id\":\"" ID "\",\"status\":\"approved\","			\
	"\"decision_reason\":\"Spend request approved\","		\
	"\"budget_period\":\"monthly\",\"remaining_budget_cents\":38000," \
	"\"remaining_monthly_budget_cents\":38000,\"amount_cents\":1299," \
	"\"currency\":\"usd\",\"merchant_name\":\"OpenAI\"}"
#define BALANCE_BODY							\
	"{\"currency\":\"usd\",\"wallet_available_cents\":100000,"	\
	"\"budget_period\":\"monthly\",\"budget_cents\":50000,"		\
	"\"spent_cents\":0,\"remaining_budget_cents\":50000,"		\
	"\"remaining_monthly_budget_cents\":50000}"

enum act {
	A_REPLY,	/* status, body, optional header */
	A_DROP,		/* close the connection without an answer */
	A_BIG_CHUNKED,	/* a 200 whose chunked body exceeds the cap */
	A_BIG_LENGTH,	/* a 200 whose Content-Length exceeds the cap */
	A_HANG,		/* never answer */
};

struct step {
	enum act	 act;
	int		 status;
	const char	*body;
	const char	*hname;
	const char	*hval;
};

struct seen {
	char		 method[8];
	char		 uri[256];
	char		 idem[256];
	char		 rid[64];
	char		 auth[600];
	char		 ctype[64];
	int		 expect;
	char		 body[4096];
	size_t		 bodylen;
	int64_t		 at_ms;
	unsigned	 peer_port;
};

static struct {
	struct step	 script[8];
	int		 nscript;
	int		 pos;
	struct seen	 req[16];
	int		 nreq;
	int		 nall;		/* requests, past req[] too */
	int		 redirected;	/* hits on /redirected */
	unsigned	 port;
} srv;

struct outcome {
	int		 done;
	int		 retries;
	struct dino_result res;
	struct dino_call *cancel_on_retry;
};

static struct event_base *base;
static struct dino_client *client;
static const struct dino_key key = { CANARY, sizeof(CANARY) - 1 };
static int leaks;	/* results that held the canary */

static void
script(int n, ...)
{
	va_list ap;
	int i;

	va_start(ap, n);
	for (i = 0; i < n; i++)
		srv.script[i] = va_arg(ap, struct step);
	va_end(ap);
	srv.nscript = n;
	srv.pos = 0;
	srv.nreq = 0;
	srv.nall = 0;
	srv.redirected = 0;
}

static void
copy_header(struct evkeyvalq *h, const char *name, char *dst, size_t len)
{
	const char *v;

	v = evhttp_find_header(h, name);
	snprintf(dst, len, "%s", v == NULL ? "" : v);
}

static void
record(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	struct seen *s;
	char *addr;
	uint16_t port;

	if (srv.nreq == (int)nitems(srv.req))
		return;
	s = &srv.req[srv.nreq++];
	memset(s, 0, sizeof(*s));
	snprintf(s->method, sizeof(s->method), "%s",
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" :
	    evhttp_request_get_command(req) == EVHTTP_REQ_GET ? "GET" : "?");
	snprintf(s->uri, sizeof(s->uri), "%s", evhttp_request_get_uri(req));
	copy_header(h, "Idempotency-Key", s->idem, sizeof(s->idem));
	copy_header(h, "X-Request-Id", s->rid, sizeof(s->rid));
	copy_header(h, "Authorization", s->auth, sizeof(s->auth));
	copy_header(h, "Content-Type", s->ctype, sizeof(s->ctype));
	s->expect = evhttp_find_header(h, "Expect") != NULL;
	s->bodylen = evbuffer_copyout(in, s->body, sizeof(s->body) - 1);
	s->at_ms = mono_ms();
	evhttp_connection_get_peer(evhttp_request_get_connection(req), &addr,
	    &port);
	s->peer_port = port;
}

static void
reply_big(struct evhttp_request *req, int chunked)
{
	struct evbuffer *b;
	char chunk[16384];
	int i;

	memset(chunk, 'x', sizeof(chunk));
	if ((b = evbuffer_new()) == NULL)
		abort();
	if (!chunked) {
		for (i = 0; i < 5; i++)
			evbuffer_add(b, chunk, sizeof(chunk));
		evhttp_send_reply(req, 200, "OK", b);
		evbuffer_free(b);
		return;
	}
	evhttp_send_reply_start(req, 200, "OK");
	for (i = 0; i < 5; i++) {
		evbuffer_add(b, chunk, sizeof(chunk));
		evhttp_send_reply_chunk(req, b);
	}
	evhttp_send_reply_end(req);
	evbuffer_free(b);
}

/*
 * A lost answer: the request arrived (as if Dino committed it) and the
 * connection goes away with nothing sent back.
 */
static void
reply_drop(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	shutdown(bufferevent_getfd(evhttp_connection_get_bufferevent(evcon)),
	    SHUT_RDWR);
	evhttp_send_reply(req, 200, "OK", NULL);
}

static void
srv_cb(struct evhttp_request *req, void *arg)
{
	struct evbuffer *b;
	struct step *st;

	if (strcmp(evhttp_request_get_uri(req), "/redirected") == 0) {
		srv.redirected++;
		evhttp_send_reply(req, 200, "OK", NULL);
		return;
	}
	record(req);
	srv.nall++;
	st = &srv.script[srv.pos < srv.nscript ? srv.pos++ : srv.nscript - 1];
	switch (st->act) {
	case A_DROP:
		reply_drop(req);
		return;
	case A_BIG_CHUNKED:
	case A_BIG_LENGTH:
		reply_big(req, st->act == A_BIG_CHUNKED);
		return;
	case A_HANG:
		return;
	case A_REPLY:
		break;
	}
	if ((b = evbuffer_new()) == NULL)
		abort();
	if (st->body != NULL)
		evbuffer_add(b, st->body, strlen(st->body));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	if (st->hname != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    st->hname, st->hval);
	evhttp_send_reply(req, st->status, "X", b);
	evbuffer_free(b);
}

static void
note_leak(const struct dino_result *r)
{
	if (memmem(r, sizeof(*r), CANARY, sizeof(CANARY) - 1) != NULL ||
	    memmem(r, sizeof(*r), "CANARY", 6) != NULL)
		leaks++;
}

static void
done_cb(const struct dino_result *r, void *arg)
{
	struct outcome *o = arg;

	note_leak(r);
	o->res = *r;
	o->done++;
}

static void
retry_cb(const struct dino_result *r, void *arg)
{
	struct outcome *o = arg;

	note_leak(r);
	o->retries++;
	if (o->cancel_on_retry != NULL)
		dino_cancel(o->cancel_on_retry);
}

static void
limit_cb(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

/* Runs the loop until o is done (or, with o NULL, for ms milliseconds). */
static int
run(struct outcome *o, long ms)
{
	struct timeval tv;
	struct event *limit;
	int expired = 0;

	if (o != NULL)
		ms = TEST_LIMIT_S * 1000L;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if ((limit = evtimer_new(base, limit_cb, &expired)) == NULL)
		abort();
	evtimer_add(limit, &tv);
	while (!expired && (o == NULL || !o->done))
		event_base_loop(base, EVLOOP_ONCE);
	event_free(limit);
	return o == NULL || o->done;
}

static struct msg_create_spend
request(void)
{
	struct msg_create_spend req;

	memset(&req, 0, sizeof(req));
	req.amount_cents = 1299;
	snprintf(req.currency, sizeof(req.currency), "usd");
	snprintf(req.merchant_name, sizeof(req.merchant_name), "OpenAI");
	snprintf(req.reason, sizeof(req.reason), "Caf\xc3\xa9 \"quotes\" test");
	return req;
}

static int
create(struct outcome *o)
{
	struct msg_create_spend req = request();

	memset(o, 0, sizeof(*o));
	if (dino_create_spend(client, &key, IDEM, &req, done_cb, retry_cb,
	    o) == NULL)
		return 0;
	return run(o, 0);
}

static struct step
ok_spend(void)
{
	return (struct step){ A_REPLY, 200, SPEND_BODY, NULL, NULL };
}

static struct step
err_step(int status, const char *code)
{
	static char bodies[8][128];
	static int n;
	char *b = bodies[n++ % 8];

	snprintf(b, sizeof(bodies[0]), "{\"error\":{\"code\":\"%s\","
	    "\"message\":\"Dino says %s\",\"details\":{}}}", code, code);
	return (struct step){ A_REPLY, status, b, NULL, NULL };
}

static void
test_create_ok(void)
{
	struct outcome o;
	struct seen *s = &srv.req[0];

	script(1, ok_spend());
	CHECK(create(&o) && o.done == 1, "create: callback ran once");
	CHECK(o.res.outcome == DINO_OK && o.res.http_status == 200 &&
	    o.res.attempts == 1, "create: DINO_OK in one attempt");
	CHECK(strcmp(o.res.spend.id, ID) == 0 &&
	    strcmp(o.res.spend.status, "approved") == 0 &&
	    o.res.spend.amount_cents == 1299, "create: spend parsed");
	CHECK(srv.nreq == 1 && strcmp(s->method, "POST") == 0 &&
	    strcmp(s->uri, "/v1/spend") == 0, "create: POST /v1/spend");
	CHECK(strcmp(s->idem, IDEM) == 0, "create: Idempotency-Key sent");
	CHECK(strncmp(s->rid, "dbr_", 4) == 0 && strlen(s->rid) == 30 &&
	    strcmp(s->rid, o.res.request_id) == 0,
	    "create: X-Request-Id sent and reported");
	CHECK(strcmp(s->auth, "Bearer " CANARY) == 0,
	    "create: Authorization on the wire");
	CHECK(strcmp(s->ctype, "application/json") == 0 && !s->expect,
	    "create: Content-Type json, no Expect");
	CHECK(strcmp(s->body, "{\"amount_cents\":1299,\"currency\":\"usd\","
	    "\"merchant_name\":\"OpenAI\",\"reason\":\"Caf\xc3\xa9 "
	    "\\\"quotes\\\" test\"}") == 0, "create: body from typed fields");
}

/* The amount's bytes at both ends of its range: what cJSON prints. */
static void
test_create_amounts(void)
{
	static const int64_t amounts[] = { AMOUNT_CENTS_MIN, 10,
	    AMOUNT_CENTS_MAX };
	struct msg_create_spend req = request();
	struct outcome o;
	char want[64];
	size_t i;
	int all = 1;

	for (i = 0; i < nitems(amounts); i++) {
		script(1, ok_spend());
		req.amount_cents = amounts[i];
		memset(&o, 0, sizeof(o));
		all &= dino_create_spend(client, &key, IDEM, &req, done_cb,
		    NULL, &o) != NULL && run(&o, 0);
		snprintf(want, sizeof(want), "{\"amount_cents\":%.15g,",
		    (double)amounts[i]);
		all &= srv.nreq == 1 &&
		    strncmp(srv.req[0].body, want, strlen(want)) == 0;
	}
	CHECK(all, "create: amounts printed as cJSON prints numbers");
}

static void
test_create_500_then_200(void)
{
	struct outcome o;

	script(2, err_step(500, "internal_error"), ok_spend());
	CHECK(create(&o) && o.res.outcome == DINO_OK && o.res.attempts == 2,
	    "500 then 200: DINO_OK after two attempts");
	CHECK(o.retries == 1, "500 then 200: on_retry ran once");
	CHECK(srv.nreq == 2 && strcmp(srv.req[0].idem, IDEM) == 0 &&
	    strcmp(srv.req[1].idem, IDEM) == 0,
	    "500 then 200: same Idempotency-Key");
	CHECK(srv.req[0].bodylen == srv.req[1].bodylen &&
	    memcmp(srv.req[0].body, srv.req[1].body, srv.req[0].bodylen) == 0,
	    "500 then 200: same body bytes");
	CHECK(o.res.err.code[0] == '\0' && o.res.err.http_status == 0,
	    "500 then 200: no stale error on success");
	CHECK(strcmp(srv.req[0].rid, srv.req[1].rid) != 0 &&
	    strcmp(srv.req[1].rid, o.res.request_id) == 0,
	    "500 then 200: fresh X-Request-Id per attempt");
}

static void
test_create_429(void)
{
	struct outcome o;
	struct step limited = err_step(429, "rate_limited");

	limited.hname = "Retry-After";
	limited.hval = "1";
	script(2, limited, ok_spend());
	CHECK(create(&o) && o.res.outcome == DINO_OK && o.res.attempts == 2,
	    "429: DINO_OK after the retry");
	CHECK(srv.nreq == 2 && srv.req[1].at_ms - srv.req[0].at_ms >= 950,
	    "429: Retry-After: 1 honoured (above retry_max_ms)");
	CHECK(srv.nreq == 2 && strcmp(srv.req[1].idem, IDEM) == 0,
	    "429: same Idempotency-Key");
}

/*
 * libcurl itself resends a request once, on a fresh connection, when a
 * reused connection dies before any answer byte: the same easy handle with
 * the same headers, so the same key.  Two drops in a row therefore make
 * sure the client's own retry runs too.
 */
static void
test_create_drop(void)
{
	struct step drop = { A_DROP, 0, NULL, NULL, NULL };
	struct outcome o;
	int i, same = 1;

	script(3, drop, drop, ok_spend());
	CHECK(create(&o) && o.res.outcome == DINO_OK && o.res.attempts >= 2,
	    "dropped connections then 200: DINO_OK");
	for (i = 1; i < srv.nreq; i++)
		same &= strcmp(srv.req[0].idem, srv.req[i].idem) == 0 &&
		    srv.req[0].bodylen == srv.req[i].bodylen &&
		    memcmp(srv.req[0].body, srv.req[i].body,
		    srv.req[0].bodylen) == 0;
	CHECK(o.retries >= 1 && srv.nreq == 3 && same,
	    "dropped connections: retried with the same key and body");
}

static void
test_create_refused(void)
{
	static const struct {
		int		 status;
		const char	*code;
		uint32_t	 agent_status;
		const char	*agent_code;
	} cases[] = {
		{ 400, "invalid_request", 502, "upstream_rejected" },
		{ 401, "invalid_api_key", 502, "upstream_auth" },
		{ 402, "insufficient_wallet_balance", 402,
		    "insufficient_wallet_balance" },
		{ 403, "revoked_api_key", 502, "upstream_auth" },
		{ 409, "idempotency_key_conflict", 409,
		    "idempotency_key_conflict" },
		{ 422, "unprocessable", 502, "upstream_rejected" },
	};
	struct outcome o;
	char name[128];
	size_t i;

	for (i = 0; i < nitems(cases); i++) {
		script(2, err_step(cases[i].status, cases[i].code), ok_spend());
		create(&o);
		snprintf(name, sizeof(name), "%d: DINO_REFUSED, not retried",
		    cases[i].status);
		CHECK(o.done == 1 && o.res.outcome == DINO_REFUSED &&
		    o.res.attempts == 1 && o.retries == 0 && srv.nreq == 1,
		    name);
		snprintf(name, sizeof(name), "%d: agent sees %u %s",
		    cases[i].status, cases[i].agent_status, cases[i].agent_code);
		CHECK(o.res.http_status == cases[i].status &&
		    o.res.err.http_status == cases[i].agent_status &&
		    strcmp(o.res.err.code, cases[i].agent_code) == 0, name);
	}
	CHECK(strstr(o.res.err.message, "unprocessable") != NULL,
	    "upstream_rejected carries Dino's message");
	script(1, err_step(401, "invalid_api_key"));
	create(&o);
	CHECK(strstr(o.res.err.message, "invalid_api_key") == NULL &&
	    strstr(o.res.err.message, "operator") != NULL,
	    "401: a generic message, not Dino's");
	script(1, (struct step){ A_REPLY, 409, "not json", NULL, NULL });
	create(&o);
	CHECK(o.res.outcome == DINO_REFUSED && o.res.err.http_status == 409 &&
	    strstr(o.res.err.message, "409") != NULL,
	    "409 with a junk body: generic message with the status");
}

static void
test_create_bad_body(void)
{
	struct outcome o;

	script(2, (struct step){ A_REPLY, 200, "{\"id\":", NULL, NULL },
	    ok_spend());
	CHECK(create(&o) && o.res.outcome == DINO_OK && o.res.attempts == 2,
	    "create: unparseable 2xx retried, then DINO_OK");
	script(2, (struct step){ A_BIG_LENGTH, 0, NULL, NULL, NULL },
	    ok_spend());
	CHECK(create(&o) && o.res.outcome == DINO_OK && o.res.attempts == 2,
	    "create: oversize 2xx (Content-Length) retried, then DINO_OK");
	script(2, (struct step){ A_REPLY, 201, SPEND_BODY, NULL, NULL },
	    ok_spend());
	CHECK(create(&o) && o.res.outcome == DINO_OK && o.res.attempts == 1,
	    "create: 201 is success");
}

static void
test_reads(void)
{
	struct outcome o;
	struct step limited;

	script(1, (struct step){ A_REPLY, 200, BALANCE_BODY, NULL, NULL });
	memset(&o, 0, sizeof(o));
	CHECK(dino_get_balance(client, &key, done_cb, &o) != NULL && run(&o, 0),
	    "balance: started and finished");
	CHECK(o.res.outcome == DINO_OK && o.res.balance.has[BAL_BUDGET] &&
	    o.res.balance.value[BAL_BUDGET] == 50000, "balance: parsed");
	/* On the handle the last create used: a GET still, without a body. */
	CHECK(strcmp(srv.req[0].method, "GET") == 0 &&
	    srv.req[0].bodylen == 0 &&
	    strcmp(srv.req[0].uri, "/v1/balance") == 0 &&
	    srv.req[0].idem[0] == '\0' && srv.req[0].rid[0] != '\0',
	    "balance: GET /v1/balance, X-Request-Id, no Idempotency-Key");

	script(1, ok_spend());
	memset(&o, 0, sizeof(o));
	CHECK(dino_get_spend(client, &key, ID, done_cb, &o) != NULL &&
	    run(&o, 0) && o.res.outcome == DINO_OK &&
	    strcmp(srv.req[0].uri, "/v1/spend/" ID) == 0,
	    "get_spend: GET /v1/spend/ID");
	CHECK(dino_get_spend(client, &key, "req_../../balance", done_cb, &o) ==
	    NULL && dino_get_spend(client, &key, "req_123", done_cb, &o) ==
	    NULL, "get_spend: a bad id is refused before any request");

	script(1, err_step(404, "not_found"));
	memset(&o, 0, sizeof(o));
	dino_get_spend(client, &key, ID, done_cb, &o);
	run(&o, 0);
	CHECK(o.res.outcome == DINO_REFUSED && o.res.err.http_status == 404 &&
	    strcmp(o.res.err.code, "not_found") == 0 && srv.nreq == 1,
	    "get_spend: 404 refused, not retried");

	script(1, err_step(503, "unavailable"));
	memset(&o, 0, sizeof(o));
	dino_get_spend(client, &key, ID, done_cb, &o);
	run(&o, 0);
	CHECK(o.res.outcome == DINO_FAILED && o.res.attempts == 2 &&
	    srv.nreq == 2 && o.res.err.http_status == 502,
	    "get_spend: 5xx retried read_retries times, then DINO_FAILED");

	limited = err_step(429, "rate_limited");
	limited.hname = "Retry-After";
	limited.hval = "30";
	script(2, limited, ok_spend());
	memset(&o, 0, sizeof(o));
	dino_get_spend(client, &key, ID, done_cb, &o);
	run(&o, 0);
	CHECK(o.res.outcome == DINO_FAILED && o.res.attempts == 1 &&
	    o.res.err.http_status == 503 &&
	    strcmp(o.res.err.code, "upstream_rate_limited") == 0,
	    "get_spend: a long Retry-After fails the read at once");

	script(1, (struct step){ A_REPLY, 200, "[]", NULL, NULL });
	memset(&o, 0, sizeof(o));
	dino_get_balance(client, &key, done_cb, &o);
	run(&o, 0);
	CHECK(o.res.outcome == DINO_FAILED && o.res.attempts == 2 &&
	    strcmp(o.res.err.code, "upstream_bad_response") == 0,
	    "balance: unparseable 2xx fails after retries");
}

static void
test_oversize(void)
{
	struct outcome o;

	script(1, (struct step){ A_BIG_CHUNKED, 0, NULL, NULL, NULL });
	memset(&o, 0, sizeof(o));
	dino_get_balance(client, &key, done_cb, &o);
	CHECK(run(&o, 0) && o.res.outcome == DINO_FAILED &&
	    o.res.attempts == 2 && o.res.http_status == 200 &&
	    strcmp(o.res.err.code, "upstream_bad_response") == 0,
	    "chunked body over the cap aborted");
	script(1, (struct step){ A_BIG_LENGTH, 0, NULL, NULL, NULL });
	memset(&o, 0, sizeof(o));
	dino_get_balance(client, &key, done_cb, &o);
	CHECK(run(&o, 0) && o.res.outcome == DINO_FAILED &&
	    strcmp(o.res.err.code, "upstream_bad_response") == 0,
	    "Content-Length over the cap refused");
}

static void
test_redirect(void)
{
	struct outcome o;
	char loc[128];

	snprintf(loc, sizeof(loc), "http://127.0.0.1:%u/redirected", srv.port);
	script(1, (struct step){ A_REPLY, 302, "", "Location", loc });
	CHECK(create(&o) && o.res.outcome == DINO_REFUSED &&
	    o.res.http_status == 302 && o.res.err.http_status == 502,
	    "302: refused, not followed");
	run(NULL, 100);
	CHECK(srv.redirected == 0 && srv.nreq == 1,
	    "302: the redirect target was never asked");
}

static void
test_keepalive(void)
{
	struct outcome o;

	script(1, ok_spend());
	create(&o);
	create(&o);
	create(&o);
	CHECK(srv.nreq == 3 && srv.req[0].peer_port == srv.req[1].peer_port &&
	    srv.req[1].peer_port == srv.req[2].peer_port,
	    "keep-alive: three calls on one connection");
}

static void
test_cancel(void)
{
	struct msg_create_spend req = request();
	struct outcome o;
	struct dino_call *call;

	script(1, err_step(500, "internal_error"));
	memset(&o, 0, sizeof(o));
	call = dino_create_spend(client, &key, IDEM, &req, done_cb, retry_cb,
	    &o);
	o.cancel_on_retry = call;
	run(NULL, 300);
	CHECK(call != NULL && o.retries == 1 && o.done == 0 && srv.nreq == 1,
	    "cancel from on_retry: no more attempts, no callback");

	script(1, (struct step){ A_HANG, 0, NULL, NULL, NULL });
	memset(&o, 0, sizeof(o));
	call = dino_create_spend(client, &key, IDEM, &req, done_cb, retry_cb,
	    &o);
	run(NULL, 100);
	dino_cancel(call);
	run(NULL, 100);
	CHECK(o.done == 0 && o.retries == 0 && srv.nreq == 1,
	    "cancel in flight: no callback");
}

static void
chain_cb(const struct dino_result *r, void *arg)
{
	struct outcome *o = arg;
	struct dino_call *self = o->cancel_on_retry;

	done_cb(r, arg);
	/* Cancelling itself is harmless; starting another call works. */
	dino_cancel(self);
	if (dino_get_balance(client, &key, done_cb, o + 1) == NULL)
		o->done = 100;
}

static void
test_chain(void)
{
	struct msg_create_spend req = request();
	struct outcome o[2];

	script(2, ok_spend(), (struct step){ A_REPLY, 200, BALANCE_BODY,
	    NULL, NULL });
	memset(o, 0, sizeof(o));
	o[0].cancel_on_retry = dino_create_spend(client, &key, IDEM, &req,
	    chain_cb, NULL, &o[0]);
	CHECK(run(&o[1], 0) && o[0].done == 1 && o[1].done == 1 &&
	    o[1].res.outcome == DINO_OK && srv.nreq == 2 &&
	    strcmp(srv.req[1].method, "GET") == 0 && srv.req[1].bodylen == 0 &&
	    srv.req[1].idem[0] == '\0',
	    "a callback may cancel itself and start another call");
}

static void
test_concurrent(void)
{
	struct outcome o[8];
	int i, all = 1;

	script(1, (struct step){ A_REPLY, 200, BALANCE_BODY, NULL, NULL });
	memset(o, 0, sizeof(o));
	for (i = 0; i < 8; i++)
		all &= dino_get_balance(client, &key, done_cb, &o[i]) != NULL;
	for (i = 0; i < 8; i++)
		all &= run(&o[i], 0) && o[i].done == 1 &&
		    o[i].res.outcome == DINO_OK;
	CHECK(all && srv.nreq == 8, "eight calls at once all complete");
}

/*
 * More calls than connections (plain http: one transfer a connection):
 * the rest wait in the client's own line and go as slots free; one
 * cancelled while it waits is never sent and never called back.
 */
static void
test_admission(void)
{
	struct outcome o[3 * DINO_HOST_CONNS_MAX];
	struct dino_call *late;
	int i, all = 1, n = (int)nitems(o);

	script(1, (struct step){ A_REPLY, 200, BALANCE_BODY, NULL, NULL });
	memset(o, 0, sizeof(o));
	for (i = 0; i < n - 1; i++)
		all &= dino_get_balance(client, &key, done_cb, &o[i]) != NULL;
	late = dino_get_balance(client, &key, done_cb, &o[n - 1]);
	dino_cancel(late);
	for (i = 0; i < n - 1; i++)
		all &= run(&o[i], 0) && o[i].done == 1 &&
		    o[i].res.outcome == DINO_OK;
	run(NULL, 100);
	CHECK(all && late != NULL && o[n - 1].done == 0 && srv.nall == n - 1,
	    "more calls than connections all complete; a waiting call "
	    "cancelled is never sent");
}

static void
test_timeout(void)
{
	struct dino_options opt = {
		.spend_path = "spend", .allow_http_loopback = 1,
		.connect_timeout_ms = 1000, .total_timeout_ms = 200,
		.retry_base_ms = 10, .retry_max_ms = 20, .read_retries = 2,
	};
	struct dino_client *fast;
	struct outcome o;
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", srv.port);
	opt.base_url = url;
	opt.spend_path = "spend-requests";
	fast = dino_client_new(base, &opt);
	script(1, ok_spend());
	memset(&o, 0, sizeof(o));
	dino_get_spend(fast, &key, ID, done_cb, &o);
	CHECK(run(&o, 0) && o.res.outcome == DINO_OK &&
	    strcmp(srv.req[0].uri, "/v1/spend-requests/" ID) == 0,
	    "spend_path spend-requests: GET /v1/spend-requests/ID");
	script(1, (struct step){ A_HANG, 0, NULL, NULL, NULL });
	memset(&o, 0, sizeof(o));
	dino_get_balance(fast, &key, done_cb, &o);
	CHECK(run(&o, 0) && o.res.outcome == DINO_FAILED &&
	    o.res.attempts == 2 && o.res.http_status == 0 &&
	    strcmp(o.res.err.code, "upstream_timeout") == 0,
	    "read timeout: DINO_FAILED upstream_timeout after retries");
	dino_client_free(fast);
}

static int
opt_ok(const char *url, int allow)
{
	struct dino_options opt = {
		.base_url = url, .spend_path = "spend",
		.allow_http_loopback = allow, .connect_timeout_ms = 1000,
		.total_timeout_ms = 2000, .retry_base_ms = 20,
		.retry_max_ms = 100, .read_retries = 2,
	};
	char err[256];

	return dino_options_check(&opt, err, sizeof(err)) == 0;
}

static void
test_options(void)
{
	struct dino_options opt = {
		.base_url = "http://10.1.2.3:8080", .spend_path = "spend",
		.allow_http_loopback = 1, .connect_timeout_ms = 1000,
		.total_timeout_ms = 2000, .retry_base_ms = 20,
		.retry_max_ms = 100, .read_retries = 2,
	};
	char err[256];
	pid_t pid;
	int status;

	CHECK(opt_ok("https://api.dino.id", 0), "https base ok");
	CHECK(opt_ok("https://api.dino.id/", 0), "https base with / ok");
	CHECK(opt_ok("http://127.0.0.1:8080", 1), "http 127.0.0.1 allowed");
	CHECK(opt_ok("http://127.9.8.7", 1), "http 127/8 allowed");
	CHECK(opt_ok("http://[::1]:8080", 1), "http ::1 allowed");
	CHECK(opt_ok("http://localhost:8080", 1), "http localhost allowed");
	CHECK(!opt_ok("http://127.0.0.1:8080", 0), "http without the flag");
	CHECK(!opt_ok("http://api.dino.id", 1), "http to a name refused");
	CHECK(!opt_ok("http://10.0.0.1", 1), "http to 10/8 refused");
	CHECK(!opt_ok("http://[::ffff:127.0.0.1]", 1),
	    "http to mapped v4 refused");
	CHECK(!opt_ok("http://localhost.evil.example", 1),
	    "http to localhost.* refused");
	CHECK(!opt_ok("ftp://127.0.0.1", 1), "ftp refused");
	CHECK(!opt_ok("file:///etc/passwd", 1), "file refused");
	CHECK(!opt_ok("https://u:p@api.dino.id", 0), "userinfo refused");
	CHECK(!opt_ok("https://api.dino.id/?x=1", 0), "query refused");
	CHECK(!opt_ok("not a url", 0), "junk refused");
	CHECK(dino_options_check(&opt, err, sizeof(err)) == -1 &&
	    strstr(err, "loopback") != NULL, "refusal says why");
	opt.base_url = "https://api.dino.id";
	opt.spend_path = "../admin";
	CHECK(dino_options_check(&opt, err, sizeof(err)) == -1,
	    "unknown spend path refused");
	opt.spend_path = "spend-requests";
	opt.read_retries = 0;
	CHECK(dino_options_check(&opt, err, sizeof(err)) == -1,
	    "zero read attempts refused");
	opt.read_retries = 2;
	opt.retry_max_ms = 10;
	CHECK(dino_options_check(&opt, err, sizeof(err)) == -1,
	    "retry max below base refused");

	/* dino_client_new() is fatal on the same options: in a child. */
	opt.retry_max_ms = 100;
	opt.base_url = "http://192.0.2.1";
	if ((pid = fork()) == 0) {
		dino_client_new(base, &opt);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 1,
	    "dino_client_new exits on a non-loopback http base");
}

static void
test_bad_calls(void)
{
	struct msg_create_spend req = request();
	struct dino_key bad = { "din_test_x\r\nX-Evil: 1", 21 };
	struct dino_key shortlen = { CANARY, 5 };
	struct outcome o;

	memset(&o, 0, sizeof(o));
	CHECK(dino_create_spend(client, &bad, IDEM, &req, done_cb, NULL,
	    &o) == NULL, "key with CR LF refused");
	CHECK(dino_create_spend(client, &shortlen, IDEM, &req, done_cb, NULL,
	    &o) == NULL, "key whose len disagrees refused");
	CHECK(dino_create_spend(client, &key, "bad key\n", &req, done_cb, NULL,
	    &o) == NULL, "idempotency key with control bytes refused");
	CHECK(dino_create_spend(client, &key, "", &req, done_cb, NULL,
	    &o) == NULL, "empty idempotency key refused");
	req.amount_cents = 0;
	CHECK(dino_create_spend(client, &key, IDEM, &req, done_cb, NULL,
	    &o) == NULL, "invalid request refused");
	run(NULL, 50);
	CHECK(o.done == 0, "no callback for a call never started");
}

static struct evhttp *
server_start(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct evhttp *http;

	if ((http = evhttp_new(base)) == NULL ||
	    (bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0)) ==
	    NULL ||
	    getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &len) == -1)
		abort();
	srv.port = ntohs(sin.sin_port);
	evhttp_set_gencb(http, srv_cb, NULL);
	evhttp_set_timeout(http, 5);
	return http;
}

/* Everything logged, searched for the canary, then shown on stderr. */
static void
check_log(FILE *log, int saved)
{
	static char buf[1 << 20];
	size_t n;

	fflush(stderr);
	rewind(log);
	n = fread(buf, 1, sizeof(buf) - 1, log);
	buf[n] = '\0';
	dup2(saved, STDERR_FILENO);
	CHECK(n > 0 && strstr(buf, "event=dino_call ") != NULL &&
	    strstr(buf, "event=dino_retry ") != NULL, "the client logged");
	CHECK(strstr(buf, "plain http is allowed only to a loopback") != NULL,
	    "the fatal option error was logged clearly");
	CHECK(memmem(buf, n, CANARY, sizeof(CANARY) - 1) == NULL &&
	    memmem(buf, n, "CANARY", 6) == NULL &&
	    strstr(buf, "Authorization") == NULL &&
	    strstr(buf, "Bearer") == NULL, "no key in anything logged");
	CHECK(leaks == 0, "no key in any result or error");
	fwrite(buf, 1, n, stderr);
}

int
main(void)
{
	struct dino_options opt = {
		.spend_path = "spend", .allow_http_loopback = 1,
		.connect_timeout_ms = 2000, .total_timeout_ms = 5000,
		.retry_base_ms = 20, .retry_max_ms = 100, .read_retries = 2,
	};
	struct evhttp *http;
	char url[64];
	FILE *log;
	int saved;

	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0 || (log = tmpfile()) == NULL ||
	    (saved = dup(STDERR_FILENO)) == -1 ||
	    dup2(fileno(log), STDERR_FILENO) == -1)
		return 1;
	log_init("test_dino_client", LOG_DEBUG);
	if ((base = event_base_new()) == NULL)
		return 1;
	test_options();
	http = server_start();
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", srv.port);
	opt.base_url = url;
	client = dino_client_new(base, &opt);

	test_create_ok();
	test_create_amounts();
	test_create_500_then_200();
	test_create_429();
	test_create_drop();
	test_create_refused();
	test_create_bad_body();
	test_reads();
	test_oversize();
	test_redirect();
	test_keepalive();
	test_cancel();
	test_chain();
	test_concurrent();
	test_admission();
	test_timeout();
	test_bad_calls();

	dino_client_free(client);
	evhttp_free(http);
	event_base_free(base);
	check_log(log, saved);
	fclose(log);
	return TAP_DONE();
}
