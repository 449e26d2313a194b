/*
 * The HTTP face of the sandbox: Dino's /v1 routes with Part A's validation,
 * error envelope and decision order, the operator routes under /_sandbox/,
 * and the injected faults (latency, 500, 429, commit-then-drop).
 *
 * Every request is answered with JSON or, for the drop fault, with a closed
 * connection; nothing a client sends can make the process exit.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
/* The request's HTTP version, for add_date_length(). */
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <sodium.h>

#include "json.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#define PATH_MAX_LEN 1024 /* a longer request path is simply unknown */
#define SEGS_MAX 6

struct rq {
	struct evhttp_request *req;
	int scanned;	    /* the headers below were looked for */
	const char *xrid;   /* X-Request-Id, or NULL */
	const char *auth;   /* Authorization, or NULL */
	const char *idem;   /* Idempotency-Key, or NULL */
	char request_id[SANDBOX_REQUEST_ID_MAX + 1];
	unsigned route; /* ROUTE_* for faults, 0 for /_sandbox */
	int drop;
};

/* A reply held back by the latency fault. */
struct deferred {
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct event *timer;
	int code;
	int drop;
};

static struct {
	struct event_base *base;
	struct seed *seed;
	int has_admin;
	unsigned char admin_digest[crypto_generichash_BYTES];
} api;

static const char *
reason_phrase(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 402:
		return "Payment Required";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Payload Too Large";
	case 429:
		return "Too Many Requests";
	default:
		return "Internal Server Error";
	}
}

/*
 * The request headers the routes read, found in one walk of the list
 * rather than one evhttp_find_header() walk for each name.  The first of
 * a repeated name counts, as there.
 */
static void
scan_headers(struct rq *r)
{
	struct evkeyval *kv;
	const char **to, *name;

	r->scanned = 1;
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(r->req), next)
	{
		switch (kv->key[0] | 0x20) {
		case 'x':
			to = &r->xrid;
			name = "X-Request-Id";
			break;
		case 'a':
			to = &r->auth;
			name = "Authorization";
			break;
		case 'i':
			to = &r->idem;
			name = "Idempotency-Key";
			break;
		default:
			continue;
		}
		/* The C locale's strcasecmp: ASCII, as evhttp's own. */
		if (*to == NULL && strcasecmp(kv->key, name) == 0)
			*to = kv->value;
	}
}

/* A request header the routes read (scan_headers()), or NULL. */
static const char *
header(struct rq *r, const char **which)
{
	if (!r->scanned)
		scan_headers(r);
	return *which;
}

/*
 * The request's correlation id: the client's X-Request-Id when it is sane,
 * else a fresh one.  Made on first use, so a plain read pays nothing.
 */
static const char *
rid(struct rq *r)
{
	const char *h;
	size_t len;

	if (r->request_id[0] != '\0')
		return r->request_id;
	h = header(r, &r->xrid);
	if (h != NULL && (len = strlen(h)) <= SANDBOX_REQUEST_ID_MAX &&
	    printable_ascii(h, len) && len > 0)
		memcpy(r->request_id, h, len + 1);
	else
		make_ulid_id(
		    r->request_id, sizeof(r->request_id), "req_trace_");
	return r->request_id;
}

/*
 * The drop fault: the spend is already committed; shutting the socket down
 * before the reply means the client sees the connection end with no answer,
 * and libevent frees the connection when its write then fails.
 */
static void
drop_connection(struct evhttp_request *req)
{
	struct evhttp_connection *evcon;
	struct bufferevent *bev;
	evutil_socket_t fd;

	if ((evcon = evhttp_request_get_connection(req)) != NULL &&
	    (bev = evhttp_connection_get_bufferevent(evcon)) != NULL &&
	    (fd = bufferevent_getfd(bev)) != -1)
		(void)shutdown(fd, SHUT_RDWR);
}

/*
 * The Date and Content-Length headers evhttp adds to an answer to HTTP/1.1
 * (Content-Length but for HEAD), added here first: evhttp formats the date
 * with gmtime and snprintf, and the length with snprintf, every time.  The
 * same bytes in the same place, after every header of ours; HTTP/1.0 is
 * left to evhttp.
 */
static void
add_date_length(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char len[FMT_INT_SIZE];
	const char *date;

	if (req->major != 1 || req->minor < 1 || (date = http_date()) == NULL)
		return;
	evhttp_add_header(h, "Date", date);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
		fmt_uint(len, evbuffer_get_length(
		    evhttp_request_get_output_buffer(req)));
		evhttp_add_header(h, "Content-Length", len);
	}
}

/* The body is already in the request's output buffer. */
static void
send_now(struct evhttp_request *req, int code, int drop)
{
	struct evhttp_connection *evcon;

	add_date_length(req);
	if (drop) {
		drop_connection(req);
		evhttp_send_reply(req, code, reason_phrase(code), NULL);
		return;
	}
	evcon = evhttp_request_get_connection(req);
	evhttp_send_reply(req, code, reason_phrase(code), NULL);
	if (evcon != NULL)
		http_write_now(evcon);
}

static void
deferred_free(struct deferred *d)
{
	event_free(d->timer);
	free(d);
}

static void
deferred_closed(struct evhttp_connection *evcon, void *arg)
{
	/* The client went away first: its request is gone with it. */
	deferred_free(arg);
}

static void
deferred_fire(evutil_socket_t fd, short what, void *arg)
{
	struct deferred *d = arg;

	evhttp_connection_set_closecb(d->evcon, NULL, NULL);
	send_now(d->req, d->code, d->drop);
	deferred_free(d);
}

/* Answers with root as the body; root stays the caller's. */
static void
reply(struct rq *r, int code, cJSON *root)
{
	struct evkeyvalq *hdrs = evhttp_request_get_output_headers(r->req);
	const struct faults *f = &api.seed->faults;
	struct deferred *d;
	struct timeval tv;
	const char *text;
	char *heap;
	size_t len;

	text = jout_print(root, &len, &heap);
	evhttp_add_header(hdrs, "Content-Type", "application/json");
	if (r->request_id[0] != '\0' || header(r, &r->xrid) != NULL)
		evhttp_add_header(hdrs, "X-Request-Id", rid(r));
	if (evbuffer_add(evhttp_request_get_output_buffer(r->req), text,
		len) == -1)
		fatalx("evbuffer_add");
	cJSON_free(heap);
	if ((r->route & f->routes) == 0 || f->latency_ms == 0 ||
	    evhttp_request_get_connection(r->req) == NULL) {
		send_now(r->req, code, r->drop);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	d->req = r->req;
	d->evcon = evhttp_request_get_connection(r->req);
	d->code = code;
	d->drop = r->drop;
	if ((d->timer = evtimer_new(api.base, deferred_fire, d)) == NULL)
		fatalx("evtimer_new");
	evhttp_connection_set_closecb(d->evcon, deferred_closed, d);
	tv.tv_sec = f->latency_ms / 1000;
	tv.tv_usec = (f->latency_ms % 1000) * 1000;
	evtimer_add(d->timer, &tv);
}

static void
finish(struct rq *r, int code, cJSON *obj)
{
	reply(r, code, obj);
	cJSON_Delete(obj);
}

static void
reply_spend(struct rq *r, const struct spend *s)
{
	struct jout j;
	cJSON *o;

	o = jout_init(&j);
	sbx_store_spend_out(&j, o, s, 0);
	reply(r, 200, o);
}

/* The error envelope; field, when set, goes into details. */
static void
fail(struct rq *r, int code, const char *ecode, const char *msg,
    const char *field)
{
	cJSON *o, *e, *det;

	if ((o = cJSON_CreateObject()) == NULL ||
	    (e = cJSON_AddObjectToObject(o, "error")) == NULL)
		fatalx("out of memory");
	cJSON_AddStringToObject(e, "code", ecode);
	cJSON_AddStringToObject(e, "message", msg);
	det = cJSON_AddObjectToObject(e, "details");
	if (field != NULL && det != NULL && strlen(field) <= 64 &&
	    text_ok(field, strlen(field)))
		cJSON_AddStringToObject(det, "field", field);
	log_info("event=request_error request_id=%s status=%d code=%s", rid(r),
	    code, ecode);
	finish(r, code, o);
}

/* The "Bearer <token>" of the Authorization header, or NULL. */
static const char *
bearer(struct rq *r)
{
	const char *h;

	h = header(r, &r->auth);
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	return *h == '\0' ? NULL : h;
}

static struct account *
authenticate(struct rq *r)
{
	struct account *a;
	const char *key;

	if ((key = bearer(r)) == NULL ||
	    (a = sbx_store_account_by_key(key, strlen(key))) == NULL) {
		fail(r, 401, "invalid_api_key", "Invalid API key", NULL);
		return NULL;
	}
	if (a->revoked) {
		fail(r, 403, "revoked_api_key", "API key has been revoked",
		    NULL);
		return NULL;
	}
	return a;
}

/*
 * The request body as a strict JSON object.  An empty body is allowed (as
 * {}) only when empty_ok is set, for operator actions.
 */
static cJSON *
body_json(struct rq *r, int empty_ok)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	const char *why;
	char msg[128];
	cJSON *root;
	char *buf;

	if (len > SANDBOX_BODY_MAX) {
		fail(r, 413, "invalid_request",
		    "Request body is larger than "
		    "65536 bytes",
		    NULL);
		return NULL;
	}
	if (len == 0 && empty_ok) {
		if ((root = cJSON_CreateObject()) == NULL)
			fatalx("out of memory");
		return root;
	}
	if ((buf = (char *)evbuffer_pullup(in, -1)) == NULL && len > 0)
		fatalx("evbuffer_pullup");
	if ((root = json_parse_strict(buf, len, JSON_DEPTH_MAX, &why)) ==
	    NULL) {
		snprintf(msg, sizeof(msg), "Request body is not valid JSON: %s",
		    why);
		fail(r, 400, "invalid_request", msg, NULL);
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		fail(r, 400, "invalid_request",
		    "Request body must be a JSON "
		    "object",
		    NULL);
		return NULL;
	}
	return root;
}

static int
only_members(struct rq *r, const cJSON *obj, const char *const *names, size_t n)
{
	const cJSON *m;
	size_t i;

	cJSON_ArrayForEach(m, obj)
	{
		for (i = 0; i < n; i++)
			if (strcmp(m->string, names[i]) == 0)
				break;
		if (i == n) {
			fail(r, 400, "invalid_request",
			    "Unknown field in "
			    "request body",
			    m->string);
			return -1;
		}
	}
	return 0;
}

static int
bad_field(struct rq *r, const char *field, const char *why)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "%s: %s", field, why);
	fail(r, 400, "invalid_request", msg, field);
	return -1;
}

static int
idem_ok(const char *k)
{
	size_t len = strlen(k);

	return len >= 1 && len <= IDEMPOTENCY_KEY_MAX &&
	    printable_ascii(k, len);
}

static int
parse_create(
    struct rq *r, struct account *a, const cJSON *obj, struct create_req *cr)
{
	static const char *const names[] = {"amount_cents", "currency",
	    "merchant_name", "reason", "idempotency_key"};
	const cJSON *item;
	const char *why, *c, *h;

	if (only_members(r, obj, names, nitems(names)) == -1)
		return -1;
	if (json_get_int(cJSON_GetObjectItemCaseSensitive(obj, "amount_cents"),
		AMOUNT_CENTS_MIN, AMOUNT_CENTS_MAX, &cr->amount_cents,
		&why) == -1)
		return bad_field(r, "amount_cents",
		    "must be an integer from 1 "
		    "to 1000000000");
	item = cJSON_GetObjectItemCaseSensitive(obj, "currency");
	if (!cJSON_IsString(item) ||
	    strlen(c = item->valuestring) != CURRENCY_LEN || c[0] < 'a' ||
	    c[0] > 'z' || c[1] < 'a' || c[1] > 'z' || c[2] < 'a' || c[2] > 'z')
		return bad_field(r, "currency",
		    "must be a 3-letter lowercase "
		    "currency code");
	if (!sbx_store_currency_ok(a, c))
		return bad_field(r, "currency",
		    "is not allowed for this "
		    "account");
	cr->currency = c;
	item = cJSON_GetObjectItemCaseSensitive(obj, "merchant_name");
	if (!cJSON_IsString(item))
		return bad_field(r, "merchant_name", "must be a string");
	if ((cr->merchant_name =
		    json_get_text(item, 1, MERCHANT_NAME_MAX, &why)) == NULL)
		return bad_field(r, "merchant_name", why);
	cr->reason = "";
	item = cJSON_GetObjectItemCaseSensitive(obj, "reason");
	if (item != NULL && !cJSON_IsNull(item)) {
		if (!cJSON_IsString(item))
			return bad_field(r, "reason", "must be a string");
		if ((cr->reason = json_get_text(item, 0, REASON_MAX, &why)) ==
		    NULL)
			return bad_field(r, "reason", why);
	}
	/* The header wins over the body field when both are sent. */
	cr->idem_key = NULL;
	h = header(r, &r->idem);
	item = cJSON_GetObjectItemCaseSensitive(obj, "idempotency_key");
	if (h != NULL) {
		if (!idem_ok(h))
			return bad_field(r, "Idempotency-Key",
			    "must be 1 to "
			    "128 printable ASCII characters");
		cr->idem_key = h;
	}
	if (item != NULL && !cJSON_IsNull(item)) {
		if (!cJSON_IsString(item) || !idem_ok(item->valuestring))
			return bad_field(r, "idempotency_key",
			    "must be 1 to "
			    "128 printable ASCII characters");
		if (cr->idem_key == NULL)
			cr->idem_key = item->valuestring;
	}
	if (cr->idem_key == NULL && api.seed->require_idempotency_key)
		return bad_field(r, "Idempotency-Key", "is required");
	cr->request_id = rid(r);
	return 0;
}

static void
route_create(struct rq *r)
{
	struct create_req cr;
	struct account *a;
	struct spend *s = NULL;
	cJSON *obj;
	enum create_result res;

	if ((a = authenticate(r)) == NULL)
		return;
	if ((obj = body_json(r, 0)) == NULL)
		return;
	memset(&cr, 0, sizeof(cr));
	if (parse_create(r, a, obj, &cr) == -1) {
		cJSON_Delete(obj);
		return;
	}
	res = sbx_store_create(a, &cr, &s);
	cJSON_Delete(obj);
	switch (res) {
	case CREATE_NEW:
	case CREATE_REPLAY:
		log_info("event=spend_%s id=%s account=%s status=%s "
			 "request_id=%s",
		    res == CREATE_NEW ? "created" : "replayed", s->id, a->id,
		    sbx_status_name(s->status), rid(r));
		reply_spend(r, s);
		break;
	case CREATE_CONFLICT:
		fail(r, 409, "idempotency_key_conflict",
		    "Idempotency key was "
		    "already used for a different request",
		    NULL);
		break;
	case CREATE_NO_FUNDS:
		fail(r, 402, "insufficient_wallet_balance",
		    "Wallet balance "
		    "is too low for this spend; use the sandbox faucet",
		    NULL);
		break;
	default:
		fail(r, 500, "internal_error", "The sandbox store is full",
		    NULL);
		break;
	}
}

static void
route_get_spend(struct rq *r, const char *id)
{
	struct account *a;
	struct spend *s;

	if ((a = authenticate(r)) == NULL)
		return;
	/* Another account's spend is as unknown as a missing one. */
	if ((s = sbx_store_spend_by_id(id)) == NULL || s->acct != a) {
		fail(r, 404, "not_found", "Spend request not found", NULL);
		return;
	}
	reply_spend(r, s);
}

static cJSON *
balance_json(struct account *a)
{
	cJSON *o;
	int64_t rem = sbx_store_remaining(a);

	if ((o = cJSON_CreateObject()) == NULL)
		fatalx("out of memory");
	cJSON_AddStringToObject(o, "currency", a->currencies[0]);
	cJSON_AddNumberToObject(
	    o, "wallet_available_cents", (double)a->wallet_cents);
	cJSON_AddStringToObject(o, "budget_period", sbx_period_name(a->period));
	cJSON_AddNumberToObject(o, "budget_cents", (double)a->budget_cents);
	cJSON_AddNumberToObject(o, "spent_cents", (double)sbx_store_spent(a));
	cJSON_AddNumberToObject(o, "remaining_budget_cents", (double)rem);
	cJSON_AddNumberToObject(
	    o, "remaining_monthly_budget_cents", (double)rem);
	return o;
}

static void
route_balance(struct rq *r)
{
	struct account *a;

	if ((a = authenticate(r)) != NULL)
		finish(r, 200, balance_json(a));
}

/* Adds to the wallet; -1 when the total would pass the sandbox ceiling. */
static int
wallet_add(struct account *a, int64_t n)
{
	if (n > SANDBOX_WALLET_MAX - a->wallet_cents)
		return -1;
	a->wallet_cents += n;
	return 0;
}

static int
amount_body(struct rq *r, int64_t *amount)
{
	static const char *const names[] = {"amount_cents"};
	const char *why;
	cJSON *obj;
	int rc = -1;

	if ((obj = body_json(r, 0)) == NULL)
		return -1;
	if (only_members(r, obj, names, nitems(names)) == 0) {
		if (json_get_int(
			cJSON_GetObjectItemCaseSensitive(obj, "amount_cents"),
			AMOUNT_CENTS_MIN, AMOUNT_CENTS_MAX, amount, &why) == -1)
			bad_field(r, "amount_cents",
			    "must be an integer from "
			    "1 to 1000000000");
		else
			rc = 0;
	}
	cJSON_Delete(obj);
	return rc;
}

static void
route_faucet(struct rq *r)
{
	struct account *a;
	int64_t n;
	cJSON *o;

	if ((a = authenticate(r)) == NULL)
		return;
	if (strncmp(a->key, "din_test_", 9) != 0) {
		fail(r, 403, "insufficient_scope",
		    "The faucet accepts "
		    "din_test_ keys only",
		    NULL);
		return;
	}
	if (amount_body(r, &n) == -1)
		return;
	if (wallet_add(a, n) == -1) {
		fail(r, 400, "invalid_request",
		    "Wallet would exceed the "
		    "sandbox ceiling",
		    "amount_cents");
		return;
	}
	log_info("event=faucet account=%s amount_cents=%lld request_id=%s",
	    a->id, (long long)n, rid(r));
	if ((o = cJSON_CreateObject()) == NULL)
		fatalx("out of memory");
	cJSON_AddStringToObject(o, "currency", "usd");
	cJSON_AddNumberToObject(o, "amount_cents", (double)n);
	cJSON_AddNumberToObject(
	    o, "wallet_available_cents", (double)a->wallet_cents);
	finish(r, 200, o);
}

/* Operator routes. */

static int
admin_ok(struct rq *r)
{
	unsigned char d[crypto_generichash_BYTES];
	const char *tok;

	if (!api.has_admin)
		return 1;
	if ((tok = bearer(r)) == NULL) {
		fail(r, 401, "invalid_api_key", "Admin token required", NULL);
		return 0;
	}
	/* Digests first, so the compare is constant-time in any length. */
	crypto_generichash(
	    d, sizeof(d), (const unsigned char *)tok, strlen(tok), NULL, 0);
	if (sodium_memcmp(d, api.admin_digest, sizeof(d)) != 0) {
		fail(r, 401, "invalid_api_key", "Admin token required", NULL);
		return 0;
	}
	return 1;
}

static void
route_spend_action(struct rq *r, const char *id, const char *action)
{
	struct spend *s;
	enum spend_status to;
	const char *why;
	int rc;

	if (strcmp(action, "approve") == 0) {
		to = ST_APPROVED;
		why = "Approved by operator";
	} else if (strcmp(action, "decline") == 0) {
		to = ST_DECLINED;
		why = "Declined by operator";
	} else if (strcmp(action, "cancel") == 0) {
		to = ST_CANCELLED;
		why = "Cancelled by operator";
	} else {
		fail(r, 404, "not_found", "Unknown operator action", NULL);
		return;
	}
	if ((s = sbx_store_spend_by_id(id)) == NULL) {
		fail(r, 404, "not_found", "Spend request not found", NULL);
		return;
	}
	rc = sbx_store_transition(s, to, why, rid(r));
	if (rc == -1)
		fail(r, 409, "invalid_request", "unsupported state transition",
		    NULL);
	else if (rc == -2)
		fail(r, 409, "invalid_request",
		    "Approval would exceed the "
		    "budget for this period",
		    NULL);
	else if (rc == -3)
		fail(r, 402, "insufficient_wallet_balance",
		    "Wallet balance "
		    "is too low to approve this spend",
		    NULL);
	else {
		log_info("event=spend_%s id=%s account=%s request_id=%s",
		    sbx_status_name(to), s->id, s->acct->id, rid(r));
		reply_spend(r, s);
	}
}

static void
route_account_action(struct rq *r, const char *id, const char *action)
{
	struct account *a;
	int64_t n;
	cJSON *o;

	if ((a = sbx_store_account_by_id(id)) == NULL) {
		fail(r, 404, "not_found", "Account not found", NULL);
		return;
	}
	if (strcmp(action, "pause") == 0)
		a->paused = 1;
	else if (strcmp(action, "unpause") == 0)
		a->paused = 0;
	else if (strcmp(action, "topup") == 0) {
		if (amount_body(r, &n) == -1)
			return;
		if (wallet_add(a, n) == -1) {
			fail(r, 400, "invalid_request",
			    "Wallet would exceed "
			    "the sandbox ceiling",
			    "amount_cents");
			return;
		}
	} else {
		fail(r, 404, "not_found", "Unknown operator action", NULL);
		return;
	}
	log_info("event=account_%s account=%s", action, a->id);
	o = balance_json(a);
	cJSON_AddStringToObject(o, "id", a->id);
	cJSON_AddBoolToObject(o, "paused", a->paused);
	finish(r, 200, o);
}

static void
route_revoke(struct rq *r, const char *enc)
{
	struct account *a;
	char *key;
	cJSON *o;

	if ((key = evhttp_uridecode(enc, 0, NULL)) == NULL)
		fatalx("evhttp_uridecode");
	a = sbx_store_account_by_key_any(key);
	sodium_memzero(key, strlen(key));
	free(key);
	if (a == NULL) {
		fail(r, 404, "not_found", "Key not found", NULL);
		return;
	}
	a->revoked = 1;
	log_info("event=key_revoked account=%s", a->id);
	if ((o = cJSON_CreateObject()) == NULL)
		fatalx("out of memory");
	cJSON_AddStringToObject(o, "account_id", a->id);
	cJSON_AddBoolToObject(o, "revoked", 1);
	finish(r, 200, o);
}

static void
route_faults(struct rq *r, int post)
{
	char err[256];
	cJSON *obj;

	if (post) {
		if ((obj = body_json(r, 0)) == NULL)
			return;
		if (sbx_faults_apply(obj, &api.seed->faults, "faults", err,
			sizeof(err)) == -1) {
			cJSON_Delete(obj);
			fail(r, 400, "invalid_request", err, NULL);
			return;
		}
		cJSON_Delete(obj);
		log_info("event=faults_set request_id=%s", rid(r));
		sbx_webhook_kick();
	}
	finish(r, 200, sbx_faults_json(&api.seed->faults));
}

/* Splits "/a/b/c" into at most SEGS_MAX segments; -1 when too many. */
static int
split_path(char *path, char *seg[SEGS_MAX])
{
	int n = 0;
	char *p;

	if (*path != '/')
		return -1;
	for (p = path + 1;;) {
		if (n == SEGS_MAX)
			return -1;
		seg[n++] = p;
		if ((p = strchr(p, '/')) == NULL)
			break;
		*p++ = '\0';
	}
	return n;
}

static int
method_is(struct rq *r, enum evhttp_cmd_type want)
{
	if (evhttp_request_get_command(r->req) == want)
		return 1;
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow",
	    want == EVHTTP_REQ_GET ? "GET" : "POST");
	fail(r, 405, "invalid_request", "Method not allowed", NULL);
	return 0;
}

static void
dispatch_sandbox(struct rq *r, char **seg, int n)
{
	if (!admin_ok(r))
		return;
	if (n == 2 && strcmp(seg[1], "ledger") == 0) {
		if (method_is(r, EVHTTP_REQ_GET))
			finish(r, 200, sbx_store_ledger_json());
	} else if (n == 2 && strcmp(seg[1], "faults") == 0) {
		if (evhttp_request_get_command(r->req) == EVHTTP_REQ_GET)
			route_faults(r, 0);
		else if (method_is(r, EVHTTP_REQ_POST))
			route_faults(r, 1);
	} else if (n == 4 && strcmp(seg[1], "spends") == 0) {
		if (method_is(r, EVHTTP_REQ_POST))
			route_spend_action(r, seg[2], seg[3]);
	} else if (n == 4 && strcmp(seg[1], "accounts") == 0) {
		if (method_is(r, EVHTTP_REQ_POST))
			route_account_action(r, seg[2], seg[3]);
	} else if (n == 4 && strcmp(seg[1], "keys") == 0 &&
	    strcmp(seg[3], "revoke") == 0) {
		if (method_is(r, EVHTTP_REQ_POST))
			route_revoke(r, seg[2]);
	} else
		fail(r, 404, "not_found", "Unknown route", NULL);
}

static int
roll(int64_t pct)
{
	return pct > 0 && (int64_t)randombytes_uniform(100) < pct;
}

/*
 * The faults that answer before any work is done.  Counters ("the next N
 * requests") fire before percentages, so tests can be deterministic.
 */
static int
faults_before(struct rq *r)
{
	struct faults *f = &api.seed->faults;
	char secs[24];

	if ((r->route & f->routes) == 0)
		return 0;
	if (f->error_429_next > 0 || roll(f->error_429_pct)) {
		if (f->error_429_next > 0)
			f->error_429_next--;
		snprintf(
		    secs, sizeof(secs), "%lld", (long long)f->retry_after_s);
		evhttp_add_header(evhttp_request_get_output_headers(r->req),
		    "Retry-After", secs);
		fail(r, 429, "rate_limited", "Rate limit exceeded", NULL);
		return 1;
	}
	if (f->error_500_next > 0 || roll(f->error_500_pct)) {
		if (f->error_500_next > 0)
			f->error_500_next--;
		fail(r, 500, "internal_error", "Injected internal error", NULL);
		return 1;
	}
	if (f->drop_after_commit_next > 0 || roll(f->drop_after_commit_pct)) {
		if (f->drop_after_commit_next > 0)
			f->drop_after_commit_next--;
		r->drop = 1;
		log_info("event=fault_drop request_id=%s", rid(r));
	}
	return 0;
}

static void
dispatch_v1(struct rq *r, char **seg, int n)
{
	int spend = n >= 2 &&
	    (strcmp(seg[1], "spend") == 0 ||
		strcmp(seg[1], "spend-requests") == 0);

	if (spend && n == 2)
		r->route = ROUTE_CREATE;
	else if ((spend && n == 3) ||
	    (n == 2 && strcmp(seg[1], "balance") == 0))
		r->route = ROUTE_READ;
	else if (n == 3 && strcmp(seg[1], "sandbox") == 0 &&
	    strcmp(seg[2], "faucet") == 0)
		r->route = ROUTE_OTHER;
	else {
		fail(r, 404, "not_found", "Unknown route", NULL);
		return;
	}
	if (!method_is(
		r, r->route == ROUTE_READ ? EVHTTP_REQ_GET : EVHTTP_REQ_POST) ||
	    faults_before(r))
		return;
	if (r->route == ROUTE_CREATE)
		route_create(r);
	else if (r->route == ROUTE_OTHER)
		route_faucet(r);
	else if (spend)
		route_get_spend(r, seg[2]);
	else
		route_balance(r);
}

static void
handle(struct evhttp_request *req, void *arg)
{
	char path[PATH_MAX_LEN], *seg[SEGS_MAX];
	const char *uri = evhttp_request_get_uri(req);
	struct rq r;
	size_t len;
	int n;

	memset(&r, 0, sizeof(r));
	r.req = req;
	/* The query string and fragment play no part in routing. */
	len = strcspn(uri, "?#");
	if (len >= sizeof(path)) {
		fail(&r, 404, "not_found", "Unknown route", NULL);
		return;
	}
	memcpy(path, uri, len);
	path[len] = '\0';
	if ((n = split_path(path, seg)) < 2) {
		fail(&r, 404, "not_found", "Unknown route", NULL);
		return;
	}
	if (strcmp(seg[0], "v1") == 0)
		dispatch_v1(&r, seg, n);
	else if (strcmp(seg[0], "_sandbox") == 0)
		dispatch_sandbox(&r, seg, n);
	else
		fail(&r, 404, "not_found", "Unknown route", NULL);
}

int
sbx_api_init(struct event_base *base, struct evhttp *http, struct seed *seed,
    const char *admin_token)
{
	memset(&api, 0, sizeof(api));
	api.base = base;
	api.seed = seed;
	if (admin_token != NULL) {
		api.has_admin = 1;
		crypto_generichash(api.admin_digest, sizeof(api.admin_digest),
		    (const unsigned char *)admin_token, strlen(admin_token),
		    NULL, 0);
	}
	evhttp_set_gencb(http, handle, NULL);
	/* Every method reaches the handler, so each gets the envelope. */
	evhttp_set_allowed_methods(http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
		EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
		EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	return 0;
}

void
sbx_api_free(void)
{
	sodium_memzero(&api, sizeof(api));
}
