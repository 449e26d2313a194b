/*
 * The webhook receiver (see webhook.h): transport, verification, dedupe
 * and forward-only updates.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <sodium.h>

#include "creds.h"
#include "dino.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "spend.h"
#include "util.h"
#include "webhook.h"
#include "whsig.h"

/*
 * Seen event ids: a bounded FIFO of keyed 128-bit digests (BLAKE2b under a
 * key random per run), so that the set costs 20 bytes an entry however
 * long the ids are, and a colliding id cannot be chosen from outside.
 * When full, the oldest id is forgotten: by then Dino has long stopped
 * retrying it, and a late copy could only repeat a transition already made.
 */
#define SEEN_HASH_LEN	16

struct seen_entry {
	unsigned char	 h[SEEN_HASH_LEN];
	uint32_t	 next;		/* index + 1 in the bucket chain, 0 end */
	uint32_t	 bucket;	/* index + 1 of its bucket, 0 unused */
};

struct webhook {
	struct event_base		*base;
	const struct broker_config	*cfg;
	struct intent_table		*intents;
	struct evhttp			*http;
	int64_t				 last_seen_ms;	/* a verified one */
	struct evconnlistener		*lev;
	struct journal			*journal;	/* NULL: none */
	unsigned long			 nreq;

	unsigned char			 seen_key[crypto_generichash_KEYBYTES];
	struct seen_entry		*seen;		/* WEBHOOK_SEEN_MAX */
	uint32_t			*seen_heads;	/* WEBHOOK_SEEN_BUCKETS */
	size_t				 seen_n, seen_pos;
};

_Static_assert((WEBHOOK_SEEN_BUCKETS & (WEBHOOK_SEEN_BUCKETS - 1)) == 0,
    "WEBHOOK_SEEN_BUCKETS must be a power of two");

static int	header_token_ok(const char *, size_t);

static const char *const spend_events[] = {
	"spend_request.created", "spend_request.approved",
	"spend_request.declined", "spend_request.cancelled",
};

/*
 * Dedupe.
 */

static void
seen_digest(const struct webhook *wh, const char *id,
    unsigned char h[SEEN_HASH_LEN], uint32_t *bucket)
{
	crypto_generichash(h, SEEN_HASH_LEN, (const unsigned char *)id,
	    strlen(id), wh->seen_key, sizeof(wh->seen_key));
	*bucket = (((uint32_t)h[0] << 8 | h[1]) &
	    (WEBHOOK_SEEN_BUCKETS - 1)) + 1;
}

/* The entry holding digest h in bucket b, index + 1, or 0. */
static uint32_t
seen_find(const struct webhook *wh, const unsigned char h[SEEN_HASH_LEN],
    uint32_t b)
{
	uint32_t i;

	for (i = wh->seen_heads[b - 1]; i != 0; i = wh->seen[i - 1].next)
		if (sodium_memcmp(wh->seen[i - 1].h, h, SEEN_HASH_LEN) == 0)
			return i;
	return 0;
}

int
webhook_seen(struct webhook *wh, const char *event_id)
{
	unsigned char h[SEEN_HASH_LEN];
	uint32_t b;

	seen_digest(wh, event_id, h, &b);
	return seen_find(wh, h, b) != 0;
}

/* Unlinks the entry at index i from its bucket chain. */
static void
seen_unlink(struct webhook *wh, uint32_t i)
{
	struct seen_entry *e = &wh->seen[i];
	uint32_t *p;

	for (p = &wh->seen_heads[e->bucket - 1]; *p != 0;
	    p = &wh->seen[*p - 1].next)
		if (*p == i + 1) {
			*p = e->next;
			break;
		}
	e->bucket = 0;
}

/*
 * Records event_id unless it is there already; 1 if it was.  The digest
 * is computed once, for the lookup and the entry alike: a burst of
 * decisions pays one keyed BLAKE2b per event, not three.
 */
static int
seen_insert(struct webhook *wh, const char *event_id)
{
	unsigned char h[SEEN_HASH_LEN];
	struct seen_entry *e;
	uint32_t b, i;

	seen_digest(wh, event_id, h, &b);
	if (seen_find(wh, h, b) != 0)
		return 1;
	i = (uint32_t)wh->seen_pos;
	e = &wh->seen[i];
	if (e->bucket != 0)
		seen_unlink(wh, i);
	memcpy(e->h, h, SEEN_HASH_LEN);
	e->bucket = b;
	e->next = wh->seen_heads[b - 1];
	wh->seen_heads[b - 1] = i + 1;
	wh->seen_pos = (wh->seen_pos + 1) % WEBHOOK_SEEN_MAX;
	if (wh->seen_n < WEBHOOK_SEEN_MAX)
		wh->seen_n++;
	return 0;
}

void
webhook_seen_add(struct webhook *wh, const char *event_id)
{
	(void)seen_insert(wh, event_id);
}

/*
 * The journal: a JREC_WEBHOOK record {event_id, type, spend_id, outcome}
 * for each first-seen event, never a header or a signature.  It is not
 * waited for: a lost record only means a redelivery after a crash is
 * applied again, which forward-only updates make harmless.
 */
static void
webhook_journal_event(struct webhook *wh, const struct dino_event *ev,
    const char *outcome)
{
	cJSON *o;

	if (wh->journal == NULL)
		return;
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "event_id", ev->id) == NULL ||
	    cJSON_AddStringToObject(o, "type", ev->type) == NULL ||
	    cJSON_AddStringToObject(o, "spend_id", ev->has_spend ?
	    ev->spend.id : "") == NULL ||
	    cJSON_AddStringToObject(o, "outcome", outcome) == NULL)
		fatalx("%s: out of memory", __func__);
	if (journal_append(wh->journal, JREC_WEBHOOK, o, NULL, NULL) == -1)
		log_warnx("event=journal_busy record=webhook event_id=%s",
		    ev->id);
}

void
webhook_set_journal(struct webhook *wh, struct journal *j)
{
	if (wh != NULL)
		wh->journal = j;
}

void
webhook_replay(struct webhook *wh, const cJSON *fields)
{
	const cJSON *id;

	id = cJSON_GetObjectItemCaseSensitive(fields, "event_id");
	if (cJSON_IsString(id) && id->valuestring != NULL &&
	    header_token_ok(id->valuestring, WEBHOOK_EVENT_ID_MAX))
		webhook_seen_add(wh, id->valuestring);
}

/*
 * Verification: nothing is parsed before a configured secret has signed
 * the exact bytes.
 */

static int
verify_v1(const struct broker_config *cfg, const char *sig, const void *body,
    size_t len, int64_t now, const char **why)
{
	const struct creds_key *k;
	size_t i;
	int ok = 0;

	*why = "no secret configured";
	for (i = 0; i < cfg->nwebhook_secrets; i++) {
		if ((k = cfg->webhook_secrets[i].key) == NULL)
			continue;
		if (whsig_verify(k->secret, k->len, sig, body, len, now,
		    cfg->webhook_tolerance_s, why) == 0)
			ok = 1;
	}
	return ok ? 0 : -1;
}

static int
verify_legacy(const struct broker_config *cfg, const char *hex,
    const void *body, size_t len)
{
	const struct creds_key *k;
	size_t i;
	int ok = 0;

	for (i = 0; i < cfg->nwebhook_secrets; i++)
		if ((k = cfg->webhook_secrets[i].key) != NULL &&
		    whsig_verify_legacy(k->secret, k->len, hex, body,
		    len) == 0)
			ok = 1;
	return ok ? 0 : -1;
}

/* An event id or type header: 1..max printable ASCII. */
static int
header_token_ok(const char *v, size_t max)
{
	size_t len;

	return v != NULL && (len = strlen(v)) > 0 && len <= max &&
	    printable_ascii(v, len);
}

int
webhook_verify(const struct broker_config *cfg, const struct wh_headers *h,
    const void *body, size_t len, int64_t now, const char **why)
{
	if (len > WEBHOOK_BODY_MAX) {
		*why = "body too large";
		return 400;
	}
	if (!header_token_ok(h->event_id, WEBHOOK_EVENT_ID_MAX) ||
	    !header_token_ok(h->event_type, WEBHOOK_EVENT_TYPE_MAX)) {
		*why = "Dino-Event-Id or Dino-Event-Type missing or malformed";
		return 400;
	}
	/* A Dino-Signature that fails is final: no fallback to legacy. */
	if (h->signature != NULL) {
		if (strlen(h->signature) >= WHSIG_VERIFY_MAX) {
			*why = "signature header too long";
			return 400;
		}
		return verify_v1(cfg, h->signature, body, len, now, why) == 0 ?
		    0 : 401;
	}
	if (h->legacy == NULL) {
		*why = "no signature";
		return 401;
	}
	if (!cfg->webhook_accept_legacy) {
		*why = "legacy signature alone, not accepted by configuration";
		return 401;
	}
	if (verify_legacy(cfg, h->legacy, body, len) == -1) {
		*why = "legacy signature does not match";
		return 401;
	}
	return 0;
}

/*
 * Transitions.
 */

/* How far along a status is; the order of intent.c. */
static int
rank(const char *status)
{
	if (strcmp(status, "submitting") == 0)
		return 0;
	if (spend_status_terminal(status))
		return 2;
	return 1;
}

enum wh_transition
webhook_transition(const struct spend_obj *cur, const struct spend_obj *next)
{
	int rc = rank(cur->status), rn = rank(next->status);

	if (rn < rc)
		return WH_STALE;
	if (rc == 2)
		return strcmp(cur->status, next->status) == 0 ? WH_SAME :
		    WH_REGRESS;
	if (rn > rc)
		return WH_APPLY;
	/* Both pending: ISO-8601 UTC of one format orders as text. */
	if (next->updated_at[0] != '\0' && cur->updated_at[0] != '\0') {
		if (strcmp(next->updated_at, cur->updated_at) < 0)
			return WH_STALE;
		if (strcmp(next->updated_at, cur->updated_at) == 0 &&
		    strcmp(next->status, cur->status) == 0)
			return WH_SAME;
	}
	return WH_APPLY;
}

/* The same spend?  Dino's ids are unique, but a mismatch means a bug. */
static int
same_spend(const struct intent *in, const struct spend_obj *s)
{
	const struct intent_spend *c = &in->spend;

	if (s->amount_cents != in->amount_cents ||
	    strcmp(s->currency, in->currency) != 0 ||
	    strcmp(s->merchant_name, in->merchant_name) != 0)
		return 0;
	if (c->agent_account_id[0] != '\0' && s->agent_account_id[0] != '\0' &&
	    strcmp(c->agent_account_id, s->agent_account_id) != 0)
		return 0;
	if (c->team_id[0] != '\0' && s->team_id[0] != '\0' &&
	    strcmp(c->team_id, s->team_id) != 0)
		return 0;
	return 1;
}

#define KEEP(f)								\
	do {								\
		if (out->f[0] == '\0')					\
			memcpy(out->f, cur->f, sizeof(out->f));		\
	} while (0)

/* next, with what it lacks taken from cur (a webhook carries less). */
static void
spend_merge(const struct spend_obj *cur, const struct spend_obj *next,
    struct spend_obj *out)
{
	*out = *next;
	KEEP(decision_reason);
	KEEP(budget_period);
	KEEP(reason);
	KEEP(team_id);
	KEEP(agent_account_id);
	KEEP(created_at);
	if (!spend_status_terminal(out->status))
		KEEP(approval_url);
	/* A remaining budget from before a decision would mislead. */
	if (!out->has_remaining && cur->has_remaining &&
	    strcmp(out->status, cur->status) == 0) {
		out->has_remaining = 1;
		out->remaining_budget_cents = cur->remaining_budget_cents;
		out->remaining_monthly_budget_cents =
		    cur->remaining_monthly_budget_cents;
	}
}
#undef KEEP

int
webhook_apply_spend(struct intent_table *t, struct intent *in,
    const struct spend_obj *next, const char *source)
{
	/* One at a time (one thread): static, not a malloc per event. */
	static struct spend_obj cur_buf, merged_buf;
	struct spend_obj *cur = &cur_buf, *merged = &merged_buf;
	enum wh_transition tr;

	if (!same_spend(in, next)) {
		log_warnx("event=spend_mismatch source=%s id=%s reason=\"the "
		    "spend Dino sent does not match the one requested\"",
		    source, in->spend.id);
		return -1;
	}
	intent_spend_get(in, cur);
	if ((tr = webhook_transition(cur, next)) == WH_REGRESS)
		log_warnx("event=status_regression source=%s id=%s from=%s "
		    "to=%s", source, in->spend.id, in->spend.status,
		    next->status);
	if (tr != WH_APPLY)
		return (int)tr;
	spend_merge(cur, next, merged);
	log_info("event=spend_status source=%s id=%s from=%s to=%s", source,
	    in->spend.id, in->spend.status, merged->status);
	intent_set_spend(t, in, merged);
	return WH_APPLY;
}

/*
 * One delivery.
 */

static int
known_event(const char *type)
{
	size_t i;

	for (i = 0; i < nitems(spend_events); i++)
		if (strcmp(type, spend_events[i]) == 0)
			return 1;
	return 0;
}

/* A decision event must carry the status it names; created any. */
static int
event_status_ok(const struct dino_event *ev)
{
	const char *suffix = ev->type + strlen("spend_request.");

	if (strcmp(suffix, "created") == 0)
		return 1;
	return strcmp(suffix, ev->spend.status) == 0;
}

static const char *
apply_outcome(int tr)
{
	switch (tr) {
	case WH_APPLY:
		return "applied";
	case WH_SAME:
		return "no_change";
	case WH_STALE:
		return "stale";
	case WH_REGRESS:
		return "regression_refused";
	default:
		return "mismatch";
	}
}

/* A verified, parsed, first-seen event: apply what can be applied. */
static const char *
handle_event(struct webhook *wh, const struct dino_event *ev)
{
	struct intent *in;

	if (!known_event(ev->type) || !ev->has_spend)
		return "ignored_type";
	if (!event_status_ok(ev))
		return "inconsistent_status";
	if ((in = intent_by_id(wh->intents, ev->spend.id)) == NULL)
		return "unknown_spend";
	return apply_outcome(webhook_apply_spend(wh->intents, in, &ev->spend,
	    "webhook"));
}

int
webhook_handle(struct webhook *wh, const struct wh_headers *h,
    const char *body, size_t len, int64_t now, const char **outcome)
{
	/* A few KiB, one at a time: static rather than a malloc each. */
	static struct dino_event ev_buf;
	struct dino_event *ev = &ev_buf;
	int status;

	if ((status = webhook_verify(wh->cfg, h, body, len, now,
	    outcome)) != 0)
		return status;
	status = 400;
	if (dino_parse_event(body, len, ev, outcome) == -1)
		goto done;
	/* The header is not signed; the body's id is, and must agree. */
	if (strcmp(ev->id, h->event_id) != 0 ||
	    strcmp(ev->type, h->event_type) != 0) {
		*outcome = "headers disagree with the signed body";
		goto done;
	}
	status = 200;
	if (seen_insert(wh, ev->id)) {
		*outcome = "duplicate";
		goto done;
	}
	*outcome = handle_event(wh, ev);
	webhook_journal_event(wh, ev, *outcome);
done:
	return status;
}

/*
 * Transport.
 */

/* One copy of each header the receiver reads; a repeat is refused. */
static int
headers_get(struct evhttp_request *req, struct wh_headers *h)
{
	static const char *const names[] = { "Dino-Signature",
	    "x-dino-signature-sha256", "Dino-Event-Id", "Dino-Event-Type",
	    "Dino-Delivery-Attempt" };
	const char **slots[] = { &h->signature, &h->legacy, &h->event_id,
	    &h->event_type, &h->attempt };
	struct evkeyvalq *q = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	size_t i;

	memset(h, 0, sizeof(*h));
	TAILQ_FOREACH(kv, q, next)
		for (i = 0; i < nitems(names); i++) {
			if (strcasecmp(kv->key, names[i]) != 0)
				continue;
			if (*slots[i] != NULL)
				return -1;
			*slots[i] = kv->value;
		}
	return 0;
}

static void
reply(struct evhttp_request *req, int status)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);

	evhttp_add_header(out, "Content-Type", "text/plain");
	evhttp_add_header(out, "Cache-Control", "no-store");
	evhttp_send_reply(req, status, status == 200 ? "OK" : NULL, NULL);
}

static void
log_request(struct webhook *wh, const struct wh_headers *h, int status,
    const char *outcome, int64_t start)
{
	char id[WEBHOOK_EVENT_ID_MAX + 1], type[WEBHOOK_EVENT_TYPE_MAX + 1];
	char attempt[16];
	int pri = status == 200 ? LOG_INFO : LOG_WARNING;

	/* Below the level: not even the arguments (a burst pays per event). */
	if (pri > log_getlevel())
		return;
	log_msg(pri, "event=webhook n=%lu "
	    "status=%d outcome=\"%s\" event_id=%s event_type=%s attempt=%s "
	    "duration_ms=%lld", wh->nreq, status, outcome,
	    h->event_id != NULL ? log_safe(id, sizeof(id), h->event_id) : "-",
	    h->event_type != NULL ? log_safe(type, sizeof(type),
	    h->event_type) : "-", h->attempt != NULL ? log_safe(attempt,
	    sizeof(attempt), h->attempt) : "-",
	    (long long)(mono_ms() - start));
}

static void
webhook_request(struct evhttp_request *req, void *arg)
{
	struct webhook *wh = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *path, *outcome = "-";
	const char *body = "";
	struct wh_headers h;
	int64_t start = mono_ms();
	size_t len;
	int status;

	wh->nreq++;
	memset(&h, 0, sizeof(h));
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	len = evbuffer_get_length(in);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST ||
	    path == NULL || strcmp(path, wh->cfg->webhook_path) != 0) {
		status = 404;
		outcome = "wrong method or path";
	} else if (headers_get(req, &h) == -1) {
		status = 400;
		outcome = "a webhook header is repeated";
	} else if (len > WEBHOOK_BODY_MAX) {
		status = 400;
		outcome = "body too large";
	} else if ((body = (const char *)evbuffer_pullup(in,
	    (ev_ssize_t)len)) == NULL && len > 0) {
		status = 503;
		outcome = "out of memory";
	} else
		status = webhook_handle(wh, &h, len > 0 ? body : "", len,
		    (int64_t)time(NULL), &outcome);
	log_request(wh, &h, status, outcome, start);
	metrics_webhook(&metrics, status == 200 ? "verified" : status == 401 ?
	    "bad_signature" : status == 404 ? "not_found" : status == 400 ?
	    "malformed" : "error");
	if (status == 200)
		wh->last_seen_ms = now_ms();
	reply(req, status);
}

int
webhook_bind(const struct broker_config *cfg, char *err, size_t errlen)
{
	return listen_on(cfg->webhook_listen, WEBHOOK_BACKLOG, 0666, err,
	    errlen);
}

static void
webhook_listen(struct webhook *wh, int fd)
{
	struct timeval tv = { WEBHOOK_TIMEOUT_S, 0 };

	if ((wh->http = evhttp_new(wh->base)) == NULL)
		fatalx("%s: evhttp_new", __func__);
	evhttp_set_max_body_size(wh->http, WEBHOOK_BODY_MAX);
	evhttp_set_max_headers_size(wh->http, WEBHOOK_HEADERS_MAX);
	evhttp_set_timeout_tv(wh->http, &tv);
	evhttp_set_allowed_methods(wh->http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
	evhttp_set_gencb(wh->http, webhook_request, wh);
	if ((wh->lev = evconnlistener_new(wh->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd)) == NULL ||
	    evhttp_bind_listener(wh->http, wh->lev) == NULL)
		fatalx("%s: cannot serve the webhook listener", __func__);
}

struct webhook *
webhook_new(struct event_base *base, const struct broker_config *cfg,
    struct intent_table *intents, int fd)
{
	struct webhook *wh;

	if ((wh = calloc(1, sizeof(*wh))) == NULL ||
	    (wh->seen = calloc(WEBHOOK_SEEN_MAX, sizeof(*wh->seen))) == NULL ||
	    (wh->seen_heads = calloc(WEBHOOK_SEEN_BUCKETS,
	    sizeof(*wh->seen_heads))) == NULL)
		fatal("%s: calloc", __func__);
	wh->base = base;
	wh->cfg = cfg;
	wh->intents = intents;
	randombytes_buf(wh->seen_key, sizeof(wh->seen_key));
	if (fd != -1)
		webhook_listen(wh, fd);
	return wh;
}

int64_t
webhook_last_seen_ms(const struct webhook *wh)
{
	return wh != NULL ? wh->last_seen_ms : 0;
}

void
webhook_free(struct webhook *wh)
{
	if (wh == NULL)
		return;
	/* evhttp_free() frees the bound listener, which closes the fd. */
	if (wh->http != NULL)
		evhttp_free(wh->http);
	free(wh->seen);
	free(wh->seen_heads);
	free(wh);
}
