/*
 * Webhook delivery: every event goes to every endpoint whose filter matches,
 * signed with both of Part A's schemes, over libcurl's multi-socket interface
 * inside the libevent loop (the shape of curl's hiperfifo.c).  A non-2xx
 * answer or a transport error is retried after the configured delays, with
 * the same event id and body, a higher Dino-Delivery-Attempt and a fresh
 * timestamp in the signature.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"
#include "whsig.h"

/* One event, shared by its deliveries to every endpoint. */
struct wh_event {
	int refs;
	char id[SPEND_ID_MAX];
	char type[32];
	char request_id[SANDBOX_REQUEST_ID_MAX + 1];
	char *body;
	size_t bodylen;
};

struct delivery {
	struct wh_event *ev;
	struct endpoint *ep;
	int attempt; /* the next attempt's number */
	int held;    /* waiting for webhooks to unpause */
	struct event *timer;
	CURL *easy;
	struct curl_slist *hdrs;
	TAILQ_ENTRY(delivery) entry;
};
TAILQ_HEAD(deliveryq, delivery);

struct wh_sock {
	curl_socket_t fd;
	struct event *ev;
	TAILQ_ENTRY(wh_sock) entry;
};
TAILQ_HEAD(sockq, wh_sock);

static struct {
	struct event_base *base;
	struct seed *seed;
	CURLM *multi;
	struct event *timer;
	struct deliveryq deliveries;
	size_t ndeliveries;
	struct sockq socks;
} wh;

static void start(struct delivery *d);

static void
event_unref(struct wh_event *ev)
{
	if (--ev->refs > 0)
		return;
	free(ev->body);
	free(ev);
}

static void
delivery_free(struct delivery *d)
{
	TAILQ_REMOVE(&wh.deliveries, d, entry);
	wh.ndeliveries--;
	if (d->easy != NULL) {
		curl_multi_remove_handle(wh.multi, d->easy);
		curl_easy_cleanup(d->easy);
	}
	curl_slist_free_all(d->hdrs);
	event_free(d->timer);
	event_unref(d->ev);
	free(d);
}

static void
retry_or_drop(struct delivery *d, const char *what)
{
	char url[128];
	struct timeval tv;
	int64_t ms;

	if ((size_t)(d->attempt - 1) > wh.seed->nretry_delays) {
		log_warnx("event=webhook_gave_up event_id=%s url=%s "
			  "attempts=%d last=%s",
		    d->ev->id, log_safe(url, sizeof(url), d->ep->url),
		    d->attempt - 1, what);
		delivery_free(d);
		return;
	}
	ms = wh.seed->retry_delays_ms[d->attempt - 2];
	/* The URL is made safe only for a line that is written. */
	if (log_getlevel() >= LOG_INFO)
		log_info("event=webhook_retry event_id=%s url=%s attempt=%d "
			 "last=%s delay_ms=%" PRId64,
		    d->ev->id, log_safe(url, sizeof(url), d->ep->url),
		    d->attempt - 1, what, ms);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(d->timer, &tv);
}

static void
check_done(void)
{
	struct delivery *d;
	CURLMsg *msg;
	CURLcode res;
	long code = 0;
	char what[64];
	int left;

	while ((msg = curl_multi_info_read(wh.multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg lives inside the handle: read it all before cleanup. */
		res = msg->data.result;
		curl_easy_getinfo(
		    msg->easy_handle, CURLINFO_PRIVATE, (char **)&d);
		curl_easy_getinfo(
		    msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
		if (res != CURLE_OK)
			snprintf(what, sizeof(what), "curl_error_%d", (int)res);
		else
			snprintf(what, sizeof(what), "http_%ld", code);
		curl_multi_remove_handle(wh.multi, d->easy);
		curl_easy_cleanup(d->easy);
		d->easy = NULL;
		curl_slist_free_all(d->hdrs);
		d->hdrs = NULL;
		if (res == CURLE_OK && code >= 200 && code < 300) {
			log_info("event=webhook_delivered event_id=%s type=%s "
				 "attempt=%d status=%ld",
			    d->ev->id, d->ev->type, d->attempt - 1, code);
			delivery_free(d);
		} else
			retry_or_drop(d, what);
	}
}

static void
sock_cb_ev(evutil_socket_t fd, short kind, void *arg)
{
	int action = 0, running;

	if (kind & EV_READ)
		action |= CURL_CSELECT_IN;
	if (kind & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(wh.multi, fd, action, &running);
	check_done();
}

static void
timer_cb_ev(evutil_socket_t fd, short kind, void *arg)
{
	int running;

	curl_multi_socket_action(wh.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done();
}

static int
curl_sock_cb(CURL *e, curl_socket_t s, int what, void *cbp, void *sockp)
{
	struct wh_sock *ws = sockp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (ws != NULL) {
			TAILQ_REMOVE(&wh.socks, ws, entry);
			event_free(ws->ev);
			free(ws);
			curl_multi_assign(wh.multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	    ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (ws == NULL) {
		if ((ws = calloc(1, sizeof(*ws))) == NULL)
			fatal("calloc");
		ws->fd = s;
		TAILQ_INSERT_TAIL(&wh.socks, ws, entry);
		curl_multi_assign(wh.multi, s, ws);
	} else
		event_free(ws->ev);
	if ((ws->ev = event_new(wh.base, s, kind, sock_cb_ev, ws)) == NULL)
		fatalx("event_new");
	event_add(ws->ev, NULL);
	return 0;
}

static int
curl_timer_cb(CURLM *m, long timeout_ms, void *arg)
{
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(wh.timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(wh.timer, &tv);
	return 0;
}

static size_t
discard_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	return size * nmemb;
}

static struct curl_slist *
add_header(struct curl_slist *l, const char *name, const char *value)
{
	struct curl_slist *n;
	char line[256];

	snprintf(line, sizeof(line), "%s: %s", name, value);
	if ((n = curl_slist_append(l, line)) == NULL)
		fatalx("curl_slist_append");
	return n;
}

static void
start(struct delivery *d)
{
	const struct endpoint *ep = d->ep;
	struct wh_event *ev = d->ev;
	char hex[WHSIG_HEX_LEN + 1], sig[WHSIG_HEADER_MAX], num[16];
	struct curl_slist *h = NULL;

	if (wh.seed->faults.webhooks_paused) {
		d->held = 1;
		return;
	}
	d->held = 0;
	/* Each attempt is signed afresh, with its own timestamp. */
	whsig_legacy_hex(
	    ep->secret, strlen(ep->secret), ev->body, ev->bodylen, hex);
	if (whsig_header(ep->secret, strlen(ep->secret), now_ms() / 1000,
		ev->body, ev->bodylen, sig, sizeof(sig)) == -1)
		fatalx("whsig_header");
	snprintf(num, sizeof(num), "%d", d->attempt++);
	h = add_header(h, "Content-Type", "application/json");
	h = add_header(h, "Dino-Event-Id", ev->id);
	h = add_header(h, "Dino-Event-Type", ev->type);
	h = add_header(h, "Dino-Delivery-Attempt", num);
	h = add_header(h, "Dino-Request-Id", ev->request_id);
	h = add_header(h, "x-dino-signature-sha256", hex);
	h = add_header(h, "Dino-Signature", sig);
	/* A sandbox delivery never waits for "100 Continue". */
	h = add_header(h, "Expect", "");
	d->hdrs = h;
	if ((d->easy = curl_easy_init()) == NULL)
		fatalx("curl_easy_init");
	curl_easy_setopt(d->easy, CURLOPT_URL, ep->url);
	if (ep->unix_socket != NULL)
		curl_easy_setopt(
		    d->easy, CURLOPT_UNIX_SOCKET_PATH, ep->unix_socket);
	curl_easy_setopt(d->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(d->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(d->easy, CURLOPT_POSTFIELDS, ev->body);
	curl_easy_setopt(d->easy, CURLOPT_POSTFIELDSIZE, (long)ev->bodylen);
	curl_easy_setopt(d->easy, CURLOPT_HTTPHEADER, d->hdrs);
	curl_easy_setopt(d->easy, CURLOPT_USERAGENT, "dino-sandbox");
	curl_easy_setopt(
	    d->easy, CURLOPT_TIMEOUT_MS, (long)SANDBOX_WEBHOOK_TIMEOUT_MS);
	curl_easy_setopt(d->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(d->easy, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(d->easy, CURLOPT_PRIVATE, d);
	if (curl_multi_add_handle(wh.multi, d->easy) != CURLM_OK)
		fatalx("curl_multi_add_handle");
}

static void
delivery_timer_cb(evutil_socket_t fd, short kind, void *arg)
{
	start(arg);
}

static void
enqueue(struct wh_event *ev, struct endpoint *ep, int64_t delay_ms)
{
	struct delivery *d;
	struct timeval tv;

	if (wh.ndeliveries >= SANDBOX_DELIVERIES_MAX) {
		log_warnx("event=webhook_dropped event_id=%s reason=queue_full",
		    ev->id);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		fatal("calloc");
	d->ev = ev;
	ev->refs++;
	d->ep = ep;
	d->attempt = 1;
	if ((d->timer = evtimer_new(wh.base, delivery_timer_cb, d)) == NULL)
		fatalx("evtimer_new");
	TAILQ_INSERT_TAIL(&wh.deliveries, d, entry);
	wh.ndeliveries++;
	if (delay_ms > 0) {
		tv.tv_sec = delay_ms / 1000;
		tv.tv_usec = (delay_ms % 1000) * 1000;
		evtimer_add(d->timer, &tv);
	} else
		start(d);
}

static unsigned
type_bit(const char *type)
{
	if (strcmp(type, "spend_request.created") == 0)
		return EV_CREATED;
	if (strcmp(type, "spend_request.approved") == 0)
		return EV_APPROVED;
	if (strcmp(type, "spend_request.declined") == 0)
		return EV_DECLINED;
	return EV_CANCELLED;
}

/* The body of event id about s, built into j; returns its root. */
cJSON *
sbx_webhook_body(struct jout *j, const char *id, const char *type,
    const struct spend *s, const char *request_id)
{
	cJSON *o, *data;

	o = jout_init(j);
	json_stack_str(&j->js, o, "id", id);
	json_stack_str(&j->js, o, "type", type);
	jout_time(j, o, "occurred_at", s->updated_ms);
	json_stack_str(&j->js, o, "request_id", request_id);
	data = json_stack_obj(&j->js, o, "data");
	sbx_store_spend_out(j, json_stack_obj(&j->js, data, "spend"), s, 1);
	return o;
}

void
sbx_webhook_emit(
    const struct spend *s, const char *type, const char *request_id)
{
	const struct faults *f = &wh.seed->faults;
	struct wh_event *ev;
	struct jout j;
	cJSON *o;
	const char *text;
	char *heap;
	unsigned bit = type_bit(type);
	int64_t delay = 0;
	size_t i;

	if (wh.seed->nendpoints == 0)
		return;
	if ((ev = calloc(1, sizeof(*ev))) == NULL)
		fatal("calloc");
	ev->refs = 1;
	make_ulid_id(ev->id, sizeof(ev->id), "evt_");
	snprintf(ev->type, sizeof(ev->type), "%s", type);
	snprintf(ev->request_id, sizeof(ev->request_id), "%s", request_id);
	o = sbx_webhook_body(&j, ev->id, type, s, request_id);
	text = jout_print(o, &ev->bodylen, &heap);
	if ((ev->body = malloc(ev->bodylen + 1)) == NULL)
		fatal("malloc");
	memcpy(ev->body, text, ev->bodylen + 1);
	cJSON_free(heap);
	/*
	 * Out-of-order delivery holds back each "created" event, so the
	 * decision event that follows it arrives first.
	 */
	if (f->webhook_reorder && bit == EV_CREATED)
		delay = f->webhook_reorder_ms;
	for (i = 0; i < wh.seed->nendpoints; i++) {
		if ((wh.seed->endpoints[i].events & bit) == 0)
			continue;
		enqueue(ev, &wh.seed->endpoints[i], delay);
		if (f->webhook_duplicate)
			enqueue(ev, &wh.seed->endpoints[i], delay);
	}
	log_info("event=webhook_event event_id=%s type=%s spend=%s", ev->id,
	    type, s->id);
	event_unref(ev);
}

void
sbx_webhook_kick(void)
{
	struct delivery *d, *next;

	if (wh.seed->faults.webhooks_paused)
		return;
	/* start() may not free d, so a plain safe walk is enough. */
	for (d = TAILQ_FIRST(&wh.deliveries); d != NULL; d = next) {
		next = TAILQ_NEXT(d, entry);
		if (d->held)
			start(d);
	}
}

int
sbx_webhook_init(struct event_base *base, struct seed *seed)
{
	memset(&wh, 0, sizeof(wh));
	wh.base = base;
	wh.seed = seed;
	TAILQ_INIT(&wh.deliveries);
	TAILQ_INIT(&wh.socks);
	if ((wh.multi = curl_multi_init()) == NULL)
		return -1;
	if ((wh.timer = evtimer_new(base, timer_cb_ev, NULL)) == NULL)
		return -1;
	curl_multi_setopt(wh.multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
	curl_multi_setopt(wh.multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
	return 0;
}

void
sbx_webhook_free(void)
{
	struct delivery *d;
	struct wh_sock *ws;

	while ((d = TAILQ_FIRST(&wh.deliveries)) != NULL)
		delivery_free(d);
	if (wh.multi != NULL)
		curl_multi_cleanup(wh.multi);
	while ((ws = TAILQ_FIRST(&wh.socks)) != NULL) {
		TAILQ_REMOVE(&wh.socks, ws, entry);
		event_free(ws->ev);
		free(ws);
	}
	if (wh.timer != NULL)
		event_free(wh.timer);
	memset(&wh, 0, sizeof(wh));
}
