/*
 * The broker's Dino client: libcurl's multi interface driven by the
 * broker's libevent loop, on the skeleton of curl's hiperfifo.c (a socket
 * callback that maps CURL_POLL_* onto persistent events, a timer callback
 * that arms one libevent timer, and a reaper for finished transfers), with
 * the error handling and the transport policy this program needs.
 *
 * Every call is a sequence of attempts.  Each attempt is a fresh easy
 * handle on the one multi handle, so connections are reused across calls
 * and attempts (keep-alive, HTTP/2 multiplexing over TLS), while each
 * attempt starts from clean per-transfer state.  Between attempts a
 * per-call libevent timer waits out the backoff; the same timer starts an
 * attempt that had to wait for a free connection (see "Admission").
 *
 * The retry and error mapping (dino-api.md Part A):
 *
 *   Dino says			create		read		agent sees
 *   2xx, body parses		DINO_OK		DINO_OK		the object
 *   2xx, body bad or too big	retry		retry, then	502 upstream_
 *				(a replay	DINO_FAILED	bad_response
 *				 returns the
 *				 stored object)
 *   transport error, timeout	retry		retry, then	502 upstream_
 *   (connection lost too)			DINO_FAILED	unreachable or
 *								upstream_timeout
 *   408, 429 (Retry-After)	retry		retry, then	503 upstream_
 *							DINO_FAILED	rate_limited
 *							(at once if
 *							 Retry-After >
 *							 retry_max_ms)
 *   5xx			retry		retry, then	502 upstream_error
 *							DINO_FAILED
 *   400, 413, 422, other 4xx	DINO_REFUSED	DINO_REFUSED	502 upstream_
 *   (the broker validated					rejected, Dino's
 *    first: Dino disagrees					message
 *    with it)
 *   401, 403 (the broker's	DINO_REFUSED	DINO_REFUSED	502 upstream_auth,
 *    own key: the operator's					a generic message
 *    problem, not the agent's)
 *   402			DINO_REFUSED	DINO_REFUSED	402, Dino's code
 *   404			DINO_REFUSED	DINO_REFUSED	404 not_found
 *   409			DINO_REFUSED	DINO_REFUSED	409, Dino's code
 *   3xx (never followed)	DINO_REFUSED	DINO_REFUSED	502 upstream_
 *								unexpected
 *   no status, 1xx		retry		retry, then	as transport
 *							DINO_FAILED
 *
 * A create is retried until Dino answers definitively, with the same
 * Idempotency-Key and the same body bytes on every attempt: an unknown
 * outcome is never turned into a refusal.  result.http_status is always
 * Dino's own status; result.err.http_status is the one for the agent.
 */
#include <sys/queue.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <sodium.h>

#include "dino.h"
#include "json.h"
#include "dinolimits.h"
#include "log.h"
#include "metrics.h"
#include "spend.h"
#include "util.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl 7.85 or later is needed for CURLOPT_PROTOCOLS_STR"
#endif

#define DINO_USER_AGENT		"dino-broker/1"
#define DINO_REQUEST_ID_PREFIX	"dbr_"
#define DINO_HDRS_MAX		5	/* headers besides Authorization */
#define DINO_AUTH_PREFIX	"Authorization: Bearer "
#define DINO_AUTH_LEN		(sizeof(DINO_AUTH_PREFIX) + DINO_KEY_MAX)
#define DINO_RESPONSE_CHUNK	4096	/* first response buffer size */
#define DINO_BACKOFF_SHIFT_MAX	30	/* base << 30 is past any ceiling */

enum dino_kind {
	DINO_CREATE,
	DINO_GET_SPEND,
	DINO_GET_BALANCE,
};

enum dino_verdict {
	V_OK,
	V_REFUSED,
	V_RETRY,
};

/* Where a call's next attempt stands (see "Admission" below). */
enum dino_admit {
	ADMIT_NONE,	/* no attempt asked for */
	ADMIT_WAIT,	/* in the client's waiting line */
	ADMIT_SLOT,	/* holds a slot: in flight, or about to start */
};

struct dino_sock {
	TAILQ_ENTRY(dino_sock) entry;
	struct dino_client *c;
	curl_socket_t	 fd;
	struct event	*ev;
};

struct dino_call {
	TAILQ_ENTRY(dino_call) entry;
	struct dino_client *c;
	enum dino_kind	 kind;
	const char	*method;	/* for log lines */
	char		 path[DINO_URL_MAX];	/* "/v1/spend", for logs */
	char		 url[DINO_URL_MAX];

	/*
	 * "Authorization: Bearer <key>" in sodium_malloc'd memory (locked,
	 * guarded, wiped by sodium_free), linked into the header list by a
	 * node of our own so that libcurl's curl_slist_append never makes an
	 * unwiped heap copy of it.
	 */
	char		*auth;
	struct curl_slist auth_node;
	char		 idem_hdr[sizeof("Idempotency-Key: ") +
			    DINO_IDEM_KEY_MAX];
	char		*body;		/* create: the same bytes every time */
	size_t		 bodylen;

	dino_cb		 cb;
	void		(*on_retry)(const struct dino_result *, void *);
	void		*arg;

	CURL		*easy;		/* the attempt in flight, or NULL */
	/*
	 * The other headers, in nodes of our own too: libcurl only reads
	 * the list, and curl_slist_append cost two allocations a header.
	 */
	struct curl_slist hdr_nodes[DINO_HDRS_MAX];
	char		 rid_hdr[80];	/* "X-Request-Id: dbr_..." */
	char		 errbuf[CURL_ERROR_SIZE];
	char		*resp;
	size_t		 resplen;
	size_t		 respcap;
	int		 too_big;
	int64_t		 started_ms;

	struct event	*retry_ev;
	enum dino_admit	 admit;
	TAILQ_ENTRY(dino_call) wait_entry;
	int		 in_callback;	/* cb or on_retry is running */
	int		 cancelled;	/* dino_cancel() from a callback */
	struct dino_result res;
};

struct dino_client {
	struct event_base *base;
	CURLM		*multi;
	struct event	*timer;
	char		*base_url;	/* without a trailing slash */
	const char	*spend_path;
	const char	*protocols;	/* "https", or "http,https" */
	char		*ca_file;
	long		 connect_timeout_ms;
	long		 total_timeout_ms;
	long		 retry_base_ms;
	long		 retry_max_ms;
	int		 read_retries;
	TAILQ_HEAD(, dino_call) calls;
	TAILQ_HEAD(, dino_sock) socks;
	/* Admission: attempts libcurl may run at once, and the rest. */
	size_t		 nslots;
	size_t		 nbusy;
	TAILQ_HEAD(, dino_call) waiting;
	/*
	 * Wiped guarded buffers for Authorization headers, kept for the next
	 * call: sodium_malloc and sodium_free cost an mmap, mprotect, mlock
	 * and munmap each, and with the resolver thread every munmap and
	 * mprotect is a TLB shootdown on every CPU, which capped creates at
	 * under 2000/s.
	 */
	char		*auth_pool[DINO_AUTH_POOL_MAX];
	size_t		 nauth_pool;
	/*
	 * Idle easy handles, reset, for the next attempt: curl_easy_init
	 * and curl_easy_cleanup were an eighth of the broker's time under
	 * load (a handle is a dozen allocations, two of them 16 KiB and
	 * more).  The connection cache is the multi handle's, so a reused
	 * handle carries no connection of its own.
	 */
	CURL		*easy_pool[DINO_EASY_POOL_MAX];
	size_t		 neasy_pool;
	/*
	 * Finished calls, wiped, each with its retry timer (and its
	 * response buffer, if of the first size): a call is some 5 KiB, and
	 * its calloc, wipe and free, and the timer's event_new and
	 * event_free, were a tenth of a balance look-up.
	 */
	struct dino_call *call_pool[DINO_CALL_POOL_MAX];
	size_t		 ncall_pool;
	/* Finished attempts, and the connections they had to open. */
	uint64_t	 nattempts;
	uint64_t	 nconnects;
};

static void	dino_check_multi_info(struct dino_client *);
static int	dino_attempt_start(struct dino_call *);
static void	dino_call_free(struct dino_call *);
static void	auth_release(struct dino_client *, char *);

/*
 * Options.
 */

/* 127.0.0.0/8, ::1 and "localhost" (which libcurl never asks DNS for). */
static int
host_is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	char buf[64];
	size_t len;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	len = strlen(host);
	if (len < 2 || len >= sizeof(buf) || host[0] != '[' ||
	    host[len - 1] != ']')
		return 0;
	memcpy(buf, host + 1, len - 2);
	buf[len - 2] = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/*
 * The base URL must be scheme://host[:port][/prefix] and nothing else: no
 * user name or password (a credential in a URL ends up in logs), no query
 * or fragment.  Plain http is accepted only to a loopback host, and only
 * when the configuration asks for it.
 */
static int
check_base_url(const struct dino_options *opt, int *http, char *err,
    size_t errlen)
{
	char *scheme = NULL, *host = NULL, *user = NULL, *pw = NULL;
	char *query = NULL, *frag = NULL;
	CURLU *u;
	int rc = -1;

	if ((u = curl_url()) == NULL)
		fatalx("%s: out of memory", __func__);
	if (curl_url_set(u, CURLUPART_URL, opt->base_url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errlen, "dino base URL is not a valid URL");
		goto done;
	}
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &pw, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	curl_url_get(u, CURLUPART_FRAGMENT, &frag, 0);
	if (user != NULL || pw != NULL || query != NULL || frag != NULL) {
		snprintf(err, errlen, "dino base URL must not carry a user, "
		    "password, query or fragment");
		goto done;
	}
	*http = strcmp(scheme, "http") == 0;
	if (!*http && strcmp(scheme, "https") != 0)
		snprintf(err, errlen, "dino base URL must be https://");
	else if (*http && !opt->allow_http_loopback)
		snprintf(err, errlen, "dino base URL must be https:// "
		    "(plain http needs allow_http_loopback)");
	else if (*http && !host_is_loopback(host))
		snprintf(err, errlen, "dino base URL: plain http is allowed "
		    "only to a loopback address (127.0.0.0/8, ::1, localhost)");
	else
		rc = 0;
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(pw);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(u);
	return rc;
}

static int
check_numbers(const struct dino_options *opt, char *err, size_t errlen)
{
	if (opt->connect_timeout_ms < 1 ||
	    opt->connect_timeout_ms > DINO_TIMEOUT_MAX_MS ||
	    opt->total_timeout_ms < 1 ||
	    opt->total_timeout_ms > DINO_TIMEOUT_MAX_MS)
		snprintf(err, errlen, "dino timeouts must be 1 to %ld ms",
		    DINO_TIMEOUT_MAX_MS);
	else if (opt->retry_base_ms < 1 ||
	    opt->retry_max_ms < opt->retry_base_ms ||
	    opt->retry_max_ms > DINO_RETRY_MAX_MS)
		snprintf(err, errlen, "dino retry backoff must satisfy "
		    "1 <= base <= max <= %ld ms", DINO_RETRY_MAX_MS);
	else if (opt->read_retries < 1 ||
	    opt->read_retries > DINO_READ_RETRIES_MAX)
		snprintf(err, errlen, "dino read attempts must be 1 to %d",
		    DINO_READ_RETRIES_MAX);
	else
		return 0;
	return -1;
}

int
dino_options_check(const struct dino_options *opt, char *err, size_t errlen)
{
	int http;

	if (opt->base_url == NULL || strlen(opt->base_url) >= DINO_URL_MAX / 2) {
		snprintf(err, errlen, "dino base URL missing or too long");
		return -1;
	}
	if (opt->spend_path == NULL || (strcmp(opt->spend_path, "spend") != 0 &&
	    strcmp(opt->spend_path, "spend-requests") != 0)) {
		snprintf(err, errlen,
		    "dino spend path must be spend or spend-requests");
		return -1;
	}
	if (opt->ca_file != NULL && opt->ca_file[0] == '\0') {
		snprintf(err, errlen, "dino CA file is empty");
		return -1;
	}
	if (check_base_url(opt, &http, err, errlen) == -1)
		return -1;
	return check_numbers(opt, err, errlen);
}

/*
 * The libevent glue (hiperfifo's skeleton).
 */

static void
dino_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dino_client *c = arg;
	int action = 0, running;
	CURLMcode mc;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	if ((mc = curl_multi_socket_action(c->multi, fd, action, &running)) !=
	    CURLM_OK)
		log_err("event=dino_multi_error error=\"%s\"",
		    curl_multi_strerror(mc));
	dino_check_multi_info(c);
}

static void
dino_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dino_client *c = arg;
	int running;
	CURLMcode mc;

	if ((mc = curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0,
	    &running)) != CURLM_OK)
		log_err("event=dino_multi_error error=\"%s\"",
		    curl_multi_strerror(mc));
	dino_check_multi_info(c);
}

/* CURLMOPT_TIMERFUNCTION: libcurl wants to be called after timeout_ms. */
static int
dino_multi_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct dino_client *c = arg;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(c->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(c->timer, &tv) == -1 ? -1 : 0;
}

static void
dino_sock_free(struct dino_client *c, struct dino_sock *ds)
{
	event_free(ds->ev);
	TAILQ_REMOVE(&c->socks, ds, entry);
	free(ds);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what libcurl asks, or stop. */
static int
dino_multi_sock_cb(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct dino_client *c = arg;
	struct dino_sock *ds = sockp;
	short kind = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (ds != NULL)
			dino_sock_free(c, ds);
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (ds == NULL) {
		if ((ds = calloc(1, sizeof(*ds))) == NULL ||
		    (ds->ev = event_new(c->base, fd, kind, dino_event_cb, c)) ==
		    NULL)
			fatal("%s: calloc", __func__);
		ds->c = c;
		ds->fd = fd;
		TAILQ_INSERT_TAIL(&c->socks, ds, entry);
		curl_multi_assign(c->multi, fd, ds);
	} else if (event_del(ds->ev) == -1 ||
	    event_assign(ds->ev, c->base, fd, kind, dino_event_cb, c) == -1)
		fatalx("%s: cannot watch a socket", __func__);
	if (event_add(ds->ev, NULL) == -1)
		fatalx("%s: cannot watch a socket", __func__);
	return 0;
}

/*
 * Client.
 */

/*
 * One multi handle for the client's life: its connection cache is what
 * keeps connections to Dino alive across calls.  Transfers beyond the
 * per-host limit wait in libcurl's queue rather than open more sockets.
 */
static void
dino_multi_init(struct dino_client *c)
{
	if ((c->timer = evtimer_new(c->base, dino_timer_cb, c)) == NULL ||
	    (c->multi = curl_multi_init()) == NULL)
		fatalx("%s: cannot set up the multi handle", __func__);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, dino_multi_sock_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, dino_multi_timer_cb);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    (long)DINO_HOST_CONNS_MAX);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
	    (long)DINO_HOST_CONNS_MAX);
}

struct dino_client *
dino_client_new(struct event_base *base, const struct dino_options *opt)
{
	struct dino_client *c;
	char err[256];
	int http = 0;
	size_t len;

	if (dino_options_check(opt, err, sizeof(err)) == -1)
		fatalx("%s", err);
	check_base_url(opt, &http, err, sizeof(err));
	if (sodium_init() < 0)
		fatalx("%s: sodium_init failed", __func__);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("%s: curl_global_init failed", __func__);
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->base_url = strdup(opt->base_url)) == NULL ||
	    (opt->ca_file != NULL && (c->ca_file = strdup(opt->ca_file)) == NULL))
		fatal("%s: calloc", __func__);
	len = strlen(c->base_url);
	while (len > 0 && c->base_url[len - 1] == '/')
		c->base_url[--len] = '\0';
	c->base = base;
	c->spend_path = strcmp(opt->spend_path, "spend") == 0 ? "spend" :
	    "spend-requests";
	c->protocols = http ? "http,https" : "https";
	c->connect_timeout_ms = opt->connect_timeout_ms;
	c->total_timeout_ms = opt->total_timeout_ms;
	c->retry_base_ms = opt->retry_base_ms;
	c->retry_max_ms = opt->retry_max_ms;
	c->read_retries = opt->read_retries;
	/*
	 * Plain http is HTTP/1.1 (h2 is only asked for over TLS): one
	 * transfer per connection, so never more at once than connections.
	 */
	c->nslots = http ? DINO_HOST_CONNS_MAX : SIZE_MAX;
	TAILQ_INIT(&c->calls);
	TAILQ_INIT(&c->socks);
	TAILQ_INIT(&c->waiting);
	dino_multi_init(c);
	return c;
}

/* Calls still in flight are dropped: their callbacks never run. */
void
dino_client_free(struct dino_client *c)
{
	struct dino_call *call;
	struct dino_sock *ds;

	if (c == NULL)
		return;
	while ((call = TAILQ_FIRST(&c->calls)) != NULL)
		dino_call_free(call);
	curl_multi_cleanup(c->multi);
	while ((ds = TAILQ_FIRST(&c->socks)) != NULL)
		dino_sock_free(c, ds);
	while (c->nauth_pool > 0)
		sodium_free(c->auth_pool[--c->nauth_pool]);
	while (c->neasy_pool > 0)
		curl_easy_cleanup(c->easy_pool[--c->neasy_pool]);
	while (c->ncall_pool > 0) {
		call = c->call_pool[--c->ncall_pool];
		event_free(call->retry_ev);
		free(call->resp);
		free(call);
	}
	log_info("event=dino_client_stats attempts=%llu connects=%llu",
	    (unsigned long long)c->nattempts,
	    (unsigned long long)c->nconnects);
	event_free(c->timer);
	free(c->base_url);
	free(c->ca_file);
	free(c);
	curl_global_cleanup();
}

/*
 * One attempt.
 */

/*
 * CURLOPT_WRITEFUNCTION.  The cap is enforced here because
 * CURLOPT_MAXFILESIZE_LARGE only sees a Content-Length, not a chunked or
 * close-delimited body.
 */
static size_t
dino_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct dino_call *call = arg;
	size_t n = size * nmemb, ncap;
	char *p;

	if (n > DINO_RESPONSE_MAX - call->resplen) {
		call->too_big = 1;
		return CURL_WRITEFUNC_ERROR;
	}
	if (call->resplen + n > call->respcap) {
		ncap = call->respcap == 0 ? DINO_RESPONSE_CHUNK : call->respcap;
		while (ncap < call->resplen + n)
			ncap *= 2;
		if (ncap > DINO_RESPONSE_MAX)
			ncap = DINO_RESPONSE_MAX;
		if ((p = realloc(call->resp, ncap)) == NULL)
			fatal("%s: realloc", __func__);
		call->resp = p;
		call->respcap = ncap;
	}
	memcpy(call->resp + call->resplen, ptr, n);
	call->resplen += n;
	return n;
}

/*
 * dst = a b, NUL-terminated; -1 (dst unusable) when it does not fit.
 * The headers and URLs of every attempt are built with it: an snprintf
 * of two strings was some 700 instructions.
 */
static int
join2(char *dst, size_t size, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb >= size)
		return -1;
	memcpy(dst, a, la);
	memcpy(dst + la, b, lb + 1);
	return 0;
}

static void
dino_attempt_headers(struct dino_call *call)
{
	const char *hdrs[DINO_HDRS_MAX];
	size_t i, n = 0;

	make_ulid_id(call->res.request_id, sizeof(call->res.request_id),
	    DINO_REQUEST_ID_PREFIX);
	if (join2(call->rid_hdr, sizeof(call->rid_hdr), "X-Request-Id: ",
	    call->res.request_id) == -1)
		fatalx("%s: request id too long", __func__);
	hdrs[n++] = "Accept: application/json";
	hdrs[n++] = "Content-Type: application/json";
	hdrs[n++] = call->rid_hdr;
	/* No "Expect: 100-continue" round trip for a small body. */
	hdrs[n++] = "Expect:";
	if (call->kind == DINO_CREATE)
		hdrs[n++] = call->idem_hdr;
	for (i = 0; i < n; i++) {
		/* libcurl never writes through data. */
		call->hdr_nodes[i].data = (char *)hdrs[i];
		call->hdr_nodes[i].next = i + 1 < n ? &call->hdr_nodes[i + 1] :
		    NULL;
	}
	call->auth_node.data = call->auth;
	call->auth_node.next = &call->hdr_nodes[0];
}

/*
 * The transport policy: the same for every attempt of every call, so it
 * is set once on a new handle and stays with it in the pool.
 */
static void
easy_policy(struct dino_client *c, CURL *e)
{
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, c->protocols);
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	/* No proxy for any host, without reading no_proxy on every attempt. */
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	curl_easy_setopt(e, CURLOPT_USERAGENT, DINO_USER_AGENT);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)DINO_RESPONSE_MAX);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
	/*
	 * Keep the CA store once loaded: a broker under seccomp may not be
	 * able to open the bundle again later.
	 */
#if LIBCURL_VERSION_NUM >= 0x075700
	curl_easy_setopt(e, CURLOPT_CA_CACHE_TIMEOUT, -1L);
#endif
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, dino_write_cb);
}

/* What one attempt of this call needs; easy_put() takes it all back. */
static void
dino_attempt_setopt(struct dino_call *call, CURL *e, long timeout_ms)
{
	curl_easy_setopt(e, CURLOPT_URL, call->url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, &call->auth_node);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
	if (call->kind == DINO_CREATE) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)call->bodylen);
	}
	/* A pooled handle is a GET already (easy_put). */
}

static CURL *
easy_get(struct dino_client *c)
{
	CURL *e;

	if (c->neasy_pool > 0)
		return c->easy_pool[--c->neasy_pool];
	if ((e = curl_easy_init()) == NULL)
		fatalx("%s: curl_easy_init failed", __func__);
	easy_policy(c, e);
	return e;
}

/*
 * A pooled handle keeps the transport policy but none of the call's
 * pointers: the header list (the Authorization buffer among its nodes),
 * the body, the write target, the error buffer and the private pointer
 * are all set back to NULL, and the method to GET, so nothing of one
 * call can reach another.  libcurl keeps its own copy of the URL, the
 * only other per-attempt option, and the next attempt sets it anew.
 */
static void
easy_put(struct dino_client *c, CURL *e)
{
	if (c->neasy_pool == DINO_EASY_POOL_MAX) {
		curl_easy_cleanup(e);
		return;
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
	curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(e, CURLOPT_PRIVATE, NULL);
	c->easy_pool[c->neasy_pool++] = e;
}

/*
 * Admission.  Over plain http libcurl runs at most DINO_HOST_CONNS_MAX
 * transfers at once; it parks any more as "pending" and starts them over,
 * URL parse and connection search included (some 26k instructions each
 * time), whenever a transfer ends, which came to three starts per create
 * at 64 agents.  So the client holds such attempts back itself, in order,
 * and hands each over when a slot frees.  The wait counts against the
 * attempt's total timeout, as it did in libcurl's pending list.
 */
static int
slot_take(struct dino_call *call)
{
	struct dino_client *c = call->c;

	if (call->admit == ADMIT_SLOT)
		return 1;	/* handed a slot while waiting */
	call->started_ms = mono_ms();
	if (c->nbusy == c->nslots) {
		call->admit = ADMIT_WAIT;
		TAILQ_INSERT_TAIL(&c->waiting, call, wait_entry);
		return 0;
	}
	c->nbusy++;
	call->admit = ADMIT_SLOT;
	return 1;
}

/* The slot goes to the first in line, started from the loop. */
static void
slot_release(struct dino_call *call)
{
	struct dino_client *c = call->c;
	struct dino_call *next;
	struct timeval now = { 0, 0 };

	if (call->admit == ADMIT_WAIT)
		TAILQ_REMOVE(&c->waiting, call, wait_entry);
	else if (call->admit == ADMIT_SLOT) {
		if ((next = TAILQ_FIRST(&c->waiting)) == NULL)
			c->nbusy--;
		else {
			TAILQ_REMOVE(&c->waiting, next, wait_entry);
			next->admit = ADMIT_SLOT;
			if (evtimer_add(next->retry_ev, &now) == -1)
				fatalx("%s: evtimer_add", __func__);
		}
	}
	call->admit = ADMIT_NONE;
}

/* 0 when started or waiting for a slot, -1 if it could not be started. */
static int
dino_attempt_start(struct dino_call *call)
{
	CURLMcode mc;
	CURL *e;
	long left;

	if (!slot_take(call))
		return 0;
	left = call->c->total_timeout_ms - (long)(mono_ms() - call->started_ms);
	e = easy_get(call->c);
	call->resplen = 0;
	call->too_big = 0;
	call->errbuf[0] = '\0';
	dino_attempt_headers(call);
	dino_attempt_setopt(call, e, left > 0 ? left : 1);
	call->easy = e;
	if ((mc = curl_multi_add_handle(call->c->multi, e)) != CURLM_OK) {
		log_err("event=dino_call_error id=%s error=\"%s\"",
		    call->res.request_id, curl_multi_strerror(mc));
		call->easy = NULL;
		easy_put(call->c, e);
		slot_release(call);
		return -1;
	}
	return 0;
}

static void
dino_attempt_end(struct dino_call *call)
{
	if (call->easy != NULL) {
		curl_multi_remove_handle(call->c->multi, call->easy);
		easy_put(call->c, call->easy);
		call->easy = NULL;
	}
	slot_release(call);
}

/*
 * Verdicts.
 */

static void
set_err(struct msg_error *err, uint32_t status, const char *code,
    const char *msg)
{
	memset(err, 0, sizeof(*err));
	err->http_status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->message, sizeof(err->message), "%s", msg);
}

/* A definitive 4xx (or an unexpected 1xx or 3xx): what the agent sees. */
static void
map_refusal(long status, const struct msg_error *dino, struct msg_error *err)
{
	if (status == 401 || status == 403)
		set_err(err, 502, "upstream_auth", "Dino refused the broker's "
		    "credentials; the operator must check them");
	else if (status == 402 || status == 409)
		set_err(err, (uint32_t)status, dino->code, dino->message);
	else if (status == 404)
		set_err(err, 404, "not_found", "No such spend");
	else if (status >= 400 && status <= 499)
		set_err(err, 502, "upstream_rejected", dino->message);
	else
		set_err(err, 502, "upstream_unexpected",
		    "Dino gave an unexpected answer");
}

/* Why an attempt's outcome is unknown, for on_retry and DINO_FAILED. */
static void
map_retry(CURLcode rc, long status, struct msg_error *err)
{
	if (rc == CURLE_OK && status >= 200 && status <= 299)
		set_err(err, 502, "upstream_bad_response",
		    "Dino's answer could not be read");
	else if (rc == CURLE_WRITE_ERROR || rc == CURLE_FILESIZE_EXCEEDED)
		set_err(err, 502, "upstream_bad_response",
		    "Dino's answer was too large");
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		set_err(err, 502, "upstream_timeout", "Dino did not answer in time");
	else if (rc != CURLE_OK)
		set_err(err, 502, "upstream_unreachable", "Dino is unreachable");
	else if (status == 429 || status == 408)
		set_err(err, 503, "upstream_rate_limited",
		    "Dino is limiting requests; try again later");
	else
		set_err(err, 502, "upstream_error", "Dino had an internal error");
}

static int
dino_parse_ok(struct dino_call *call, const char **why)
{
	if (call->kind == DINO_GET_BALANCE)
		return dino_parse_balance(call->resp, call->resplen,
		    &call->res.balance, why);
	return dino_parse_spend(call->resp, call->resplen, &call->res.spend,
	    why);
}

static enum dino_verdict
dino_verdict(struct dino_call *call, CURLcode rc, long status)
{
	struct msg_error dino;
	const char *why = NULL;
	char safe[128];

	if (rc == CURLE_OK && status >= 200 && status <= 299) {
		if (dino_parse_ok(call, &why) == 0)
			return V_OK;
		log_warnx("event=dino_bad_body id=%s status=%ld why=\"%s\"",
		    call->res.request_id, status, why);
		return V_RETRY;
	}
	/*
	 * A 408, 429 or 5xx, or no complete answer at all (a transport
	 * error, a timeout, an aborted oversize body), leaves the outcome
	 * unknown.  Anything else Dino said is definitive, even when its body
	 * was cut short: the status alone decides.
	 */
	if (status < 300 || status == 408 || status == 429 || status >= 500)
		return V_RETRY;
	if (rc == CURLE_OK)
		dino_parse_error(call->resp, call->resplen, status, &dino);
	else
		dino_parse_error(NULL, 0, status, &dino);
	log_warnx("event=dino_refused id=%s status=%ld dino_code=%s",
	    call->res.request_id, status,
	    log_safe(safe, sizeof(safe), dino.code));
	map_refusal(status, &dino, &call->res.err);
	return V_REFUSED;
}

/*
 * Backoff before retry number n (1, 2, ...): full jitter over a ceiling
 * that doubles from retry_base_ms up to retry_max_ms.  A sane Retry-After
 * (seconds; libcurl also turns an HTTP date into seconds) wins, capped so
 * that a confused upstream cannot park a spend for hours.
 */
static long
dino_backoff_ms(struct dino_call *call, curl_off_t retry_after)
{
	struct dino_client *c = call->c;
	int shift = call->res.attempts - 1;
	int64_t ceiling;

	if (retry_after > 0)
		return retry_after > DINO_RETRY_AFTER_MAX_MS / 1000 ?
		    DINO_RETRY_AFTER_MAX_MS : (long)retry_after * 1000;
	if (shift > DINO_BACKOFF_SHIFT_MAX)
		shift = DINO_BACKOFF_SHIFT_MAX;
	ceiling = (int64_t)c->retry_base_ms << shift;
	if (ceiling > c->retry_max_ms)
		ceiling = c->retry_max_ms;
	return (long)randombytes_uniform((uint32_t)ceiling + 1);
}

static void
dino_call_finish(struct dino_call *call, enum dino_outcome outcome)
{
	call->res.outcome = outcome;
	call->in_callback = 1;
	call->cb(&call->res, call->arg);
	dino_call_free(call);
}

static void
dino_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dino_call *call = arg;
	struct timeval tv = { 1, 0 };

	if (dino_attempt_start(call) == -1) {
		set_err(&call->res.err, 502, "upstream_unreachable",
		    "Dino is unreachable");
		if (call->kind == DINO_CREATE) {
			/* Never report a create as failed: try again later. */
			if (evtimer_add(call->retry_ev, &tv) == -1)
				fatalx("%s: evtimer_add", __func__);
			return;
		}
		dino_call_finish(call, DINO_FAILED);
	}
}

static void
dino_schedule_retry(struct dino_call *call, CURLcode rc, long status,
    curl_off_t retry_after)
{
	struct timeval tv;
	long ms;

	map_retry(rc, status, &call->res.err);
	ms = dino_backoff_ms(call, retry_after);
	/*
	 * Someone is waiting on a read: it gets read_retries attempts, and
	 * no Retry-After longer than the backoff ceiling is waited out.
	 */
	if (call->kind != DINO_CREATE &&
	    (call->res.attempts >= call->c->read_retries ||
	    ms > call->c->retry_max_ms)) {
		log_warnx("event=dino_failed id=%s attempts=%d code=%s",
		    call->res.request_id, call->res.attempts,
		    call->res.err.code);
		dino_call_finish(call, DINO_FAILED);
		return;
	}
	metrics.dino_retries++;
	log_info("event=dino_retry id=%s attempt=%d delay_ms=%ld",
	    call->res.request_id, call->res.attempts, ms);
	if (call->on_retry != NULL) {
		call->res.outcome = DINO_FAILED;
		call->in_callback = 1;
		call->on_retry(&call->res, call->arg);
		call->in_callback = 0;
		if (call->cancelled) {
			dino_call_free(call);
			return;
		}
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (evtimer_add(call->retry_ev, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
}

/* One line per attempt: ids, status and timing, never a header or body. */
static void
dino_log_attempt(struct dino_call *call, CURLcode rc, long status)
{
	char safe[CURL_ERROR_SIZE];
	const char *what;

	if (rc == CURLE_OK) {
		log_info("event=dino_call id=%s method=%s path=%s status=%ld "
		    "attempt=%d ms=%lld", call->res.request_id, call->method,
		    call->path, status, call->res.attempts,
		    (long long)(mono_ms() - call->started_ms));
		return;
	}
	if (call->too_big)
		what = "response too large";
	else if (call->errbuf[0] != '\0')
		what = call->errbuf;
	else
		what = curl_easy_strerror(rc);
	log_info("event=dino_call id=%s method=%s path=%s status=%ld "
	    "attempt=%d ms=%lld curl=%d error=\"%s\"", call->res.request_id,
	    call->method, call->path, status, call->res.attempts,
	    (long long)(mono_ms() - call->started_ms), (int)rc,
	    log_safe(safe, sizeof(safe), what));
}

static void
dino_attempt_done(struct dino_call *call, CURLcode rc)
{
	curl_off_t retry_after = -1;
	long status = 0, nconn = 0;

	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(call->easy, CURLINFO_RETRY_AFTER, &retry_after);
	curl_easy_getinfo(call->easy, CURLINFO_NUM_CONNECTS, &nconn);
	call->c->nattempts++;
	call->c->nconnects += nconn > 0 ? (uint64_t)nconn : 0;
	dino_attempt_end(call);
	call->res.http_status = status;
	call->res.attempts++;
	metrics_dino_attempt(&metrics, call->kind == DINO_CREATE ?
	    HIST_DINO_CREATE : call->kind == DINO_GET_SPEND ?
	    HIST_DINO_GET_SPEND : HIST_DINO_GET_BALANCE,
	    mono_ms() - call->started_ms, status);
	dino_log_attempt(call, rc, status);
	switch (dino_verdict(call, rc, status)) {
	case V_OK:
		memset(&call->res.err, 0, sizeof(call->res.err));
		dino_call_finish(call, DINO_OK);
		break;
	case V_REFUSED:
		dino_call_finish(call, DINO_REFUSED);
		break;
	case V_RETRY:
		dino_schedule_retry(call, rc, status, retry_after);
		break;
	}
}

/* hiperfifo's check_multi_info: reap every finished transfer. */
static void
dino_check_multi_info(struct dino_client *c)
{
	struct dino_call *call;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		call = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &call);
		if (call == NULL || call->easy != msg->easy_handle)
			fatalx("%s: a transfer without its call", __func__);
		dino_attempt_done(call, msg->data.result);
	}
}

/*
 * Calls.
 */

/* Wiped, then kept for the next call (with its timer) or freed. */
static void
dino_call_free(struct dino_call *call)
{
	struct dino_client *c = call->c;
	struct event *ev = call->retry_ev;
	char *resp = call->resp;
	size_t respcap = call->respcap;

	dino_attempt_end(call);
	TAILQ_REMOVE(&c->calls, call, entry);
	auth_release(c, call->auth);
	cJSON_free(call->body);
	sodium_memzero(call, sizeof(*call));
	if (c->ncall_pool == DINO_CALL_POOL_MAX) {
		free(resp);
		event_free(ev);
		free(call);
		return;
	}
	event_del(ev);
	call->retry_ev = ev;
	/*
	 * A response buffer of the first size stays with the pooled call
	 * (Dino's answers are not secret): a 4 KiB malloc and free per call
	 * sent glibc through its large-request path every time.
	 */
	if (respcap == DINO_RESPONSE_CHUNK) {
		call->resp = resp;
		call->respcap = respcap;
	} else
		free(resp);
	c->call_pool[c->ncall_pool++] = call;
}

/* Wipes the key's copy; the guarded buffer goes back to the pool. */
static void
auth_release(struct dino_client *c, char *auth)
{
	if (auth == NULL)
		return;
	if (c->nauth_pool == DINO_AUTH_POOL_MAX) {
		sodium_free(auth);	/* wipes before it unmaps */
		return;
	}
	sodium_memzero(auth, DINO_AUTH_LEN);
	c->auth_pool[c->nauth_pool++] = auth;
}

static char *
auth_get(struct dino_client *c)
{
	if (c->nauth_pool > 0)
		return c->auth_pool[--c->nauth_pool];
	return sodium_malloc(DINO_AUTH_LEN);
}

/*
 * The Authorization header is built once per call and kept, wiped at the
 * end, in guarded memory: a create may retry long after the caller's
 * struct dino_key has gone out of scope.
 */
static int
dino_call_auth(struct dino_call *call, const struct dino_key *key)
{
	if (key == NULL || key->secret == NULL || key->len == 0 ||
	    key->len > DINO_KEY_MAX ||
	    strnlen(key->secret, key->len + 1) != key->len ||
	    !printable_ascii(key->secret, key->len))
		return -1;
	if ((call->auth = auth_get(call->c)) == NULL)
		return -1;
	memcpy(call->auth, DINO_AUTH_PREFIX, sizeof(DINO_AUTH_PREFIX) - 1);
	memcpy(call->auth + sizeof(DINO_AUTH_PREFIX) - 1, key->secret,
	    key->len);
	call->auth[sizeof(DINO_AUTH_PREFIX) - 1 + key->len] = '\0';
	return 0;
}

static struct dino_call *
dino_call_new(struct dino_client *c, enum dino_kind kind,
    const struct dino_key *key, dino_cb cb, void *arg)
{
	struct dino_call *call;

	if (c == NULL || cb == NULL)
		return NULL;
	if (c->ncall_pool > 0)
		call = c->call_pool[--c->ncall_pool];	/* wiped */
	else {
		if ((call = calloc(1, sizeof(*call))) == NULL)
			fatal("%s: calloc", __func__);
		/* The timer's argument is the call: it stays with it. */
		if ((call->retry_ev = evtimer_new(c->base, dino_retry_cb,
		    call)) == NULL)
			fatalx("%s: evtimer_new", __func__);
	}
	call->c = c;
	call->kind = kind;
	call->method = kind == DINO_CREATE ? "POST" : "GET";
	call->cb = cb;
	call->arg = arg;
	TAILQ_INSERT_TAIL(&c->calls, call, entry);
	if (dino_call_auth(call, key) == -1) {
		log_warnx("event=dino_call_refused reason=\"unusable spending "
		    "key or no secure memory\"");
		dino_call_free(call);
		return NULL;
	}
	return call;
}

static int
dino_call_url(struct dino_call *call, const char *suffix)
{
	if (join2(call->path, sizeof(call->path), "/v1/", suffix) == -1)
		return -1;
	return join2(call->url, sizeof(call->url), call->c->base_url,
	    call->path);
}

/* Starts the first attempt, or gives the call up. */
static struct dino_call *
dino_call_go(struct dino_call *call)
{
	if (dino_attempt_start(call) == -1) {
		dino_call_free(call);
		return NULL;
	}
	return call;
}

/* The body from the typed, validated fields only. */
static char *
dino_create_body(const struct msg_create_spend *req, size_t *len)
{
	char amount[FMT_INT_SIZE];
	cJSON *o;
	char *s;

	/*
	 * A validated amount (1 to AMOUNT_CENTS_MAX) in decimal: the bytes
	 * cJSON printed for it as a number, without its sprintf("%1.15g")
	 * and sscanf.
	 */
	fmt_int(amount, req->amount_cents);
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddRawToObject(o, "amount_cents", amount) == NULL ||
	    cJSON_AddStringToObject(o, "currency", req->currency) == NULL ||
	    cJSON_AddStringToObject(o, "merchant_name", req->merchant_name) ==
	    NULL ||
	    cJSON_AddStringToObject(o, "reason", req->reason) == NULL ||
	    (s = cJSON_PrintUnformatted(o)) == NULL)
		fatalx("%s: out of memory", __func__);
	cJSON_Delete(o);
	*len = strlen(s);
	return s;
}

static int
dino_create_valid(const char *idem_key, const struct msg_create_spend *req)
{
	const char *why;
	size_t len;

	if (idem_key == NULL || (len = strnlen(idem_key,
	    DINO_IDEM_KEY_MAX + 1)) == 0 || len > DINO_IDEM_KEY_MAX ||
	    !printable_ascii(idem_key, len))
		why = "idempotency key must be 1-255 printable ASCII characters";
	else if (req == NULL)
		why = "no request";
	else if ((why = spend_check_amount(req->amount_cents)) == NULL &&
	    (why = spend_check_currency(req->currency)) == NULL &&
	    (why = spend_check_merchant(req->merchant_name)) == NULL)
		why = spend_check_reason(req->reason);
	if (why != NULL) {
		log_warnx("event=dino_call_refused reason=\"%s\"", why);
		return -1;
	}
	return 0;
}

struct dino_call *
dino_create_spend(struct dino_client *c, const struct dino_key *key,
    const char *idem_key, const struct msg_create_spend *req, dino_cb cb,
    void (*on_retry)(const struct dino_result *, void *), void *arg)
{
	struct dino_call *call;

	if (dino_create_valid(idem_key, req) == -1 ||
	    (call = dino_call_new(c, DINO_CREATE, key, cb, arg)) == NULL)
		return NULL;
	call->on_retry = on_retry;
	/* It fits: dino_create_valid() held the key to DINO_IDEM_KEY_MAX. */
	join2(call->idem_hdr, sizeof(call->idem_hdr), "Idempotency-Key: ",
	    idem_key);
	call->body = dino_create_body(req, &call->bodylen);
	if (dino_call_url(call, c->spend_path) == -1) {
		dino_call_free(call);
		return NULL;
	}
	return dino_call_go(call);
}

struct dino_call *
dino_get_spend(struct dino_client *c, const struct dino_key *key,
    const char *id, dino_cb cb, void *arg)
{
	struct dino_call *call;
	char suffix[64];

	if (id == NULL || spend_check_id(id) != NULL) {
		log_warnx("event=dino_call_refused reason=\"bad spend id\"");
		return NULL;
	}
	if ((call = dino_call_new(c, DINO_GET_SPEND, key, cb, arg)) == NULL)
		return NULL;
	snprintf(suffix, sizeof(suffix), "%s/%s", c->spend_path, id);
	if (dino_call_url(call, suffix) == -1) {
		dino_call_free(call);
		return NULL;
	}
	return dino_call_go(call);
}

struct dino_call *
dino_get_balance(struct dino_client *c, const struct dino_key *key,
    dino_cb cb, void *arg)
{
	struct dino_call *call;

	if ((call = dino_call_new(c, DINO_GET_BALANCE, key, cb, arg)) == NULL)
		return NULL;
	if (dino_call_url(call, "balance") == -1) {
		dino_call_free(call);
		return NULL;
	}
	return dino_call_go(call);
}

/*
 * From inside the call's own callback the call is only marked: whoever
 * runs the callback frees it when the callback returns.
 */
void
dino_cancel(struct dino_call *call)
{
	if (call == NULL)
		return;
	if (call->in_callback) {
		call->cancelled = 1;
		return;
	}
	log_info("event=dino_cancel id=%s attempts=%d", call->res.request_id,
	    call->res.attempts);
	dino_call_free(call);
}
