/*
 * The agent API, HTTP over the agent socket with libcurl's easy interface.
 * Every request goes to http://localhost/<path> through the UNIX socket;
 * answers are capped at CLIENT_RESPONSE_MAX bytes and parsed strictly.
 * create_spend is the one request retried: always with the same body, so
 * with the same idempotency_key, and only while the outcome is unknown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <curl/curl.h>
#include <sodium.h>

#include "client.h"
#include "json.h"
#include "dinolimits.h"
#include "spend.h"

#define AGENT_URL_MAX	512	/* "http://localhost" + a route */
#define AGENT_KEY_PREFIX "dino-"

static int	curl_call(struct agent *, const char *, const char *,
		    const char *, long, struct agent_resp *);

/* The socket to use: --socket, else $DINO_SOCKET, else the default. */
const char *
agent_socket_path(const char *opt)
{
	const char *env;

	if (opt != NULL && opt[0] != '\0')
		return opt;
	if ((env = getenv(DINO_SOCKET_ENV)) != NULL && env[0] != '\0')
		return env;
	return DINO_SOCKET_DEFAULT;
}

int
agent_init(struct agent *a, const char *socket, const char *label)
{
	memset(a, 0, sizeof(*a));
	if (sodium_init() < 0)
		return -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	if ((a->curl = curl_easy_init()) == NULL)
		return -1;
	a->socket = socket;
	a->label = label;
	a->call = curl_call;
	return 0;
}

void
agent_free(struct agent *a)
{
	if (a->curl != NULL)
		curl_easy_cleanup(a->curl);
	a->curl = NULL;
}

void
agent_resp_free(struct agent_resp *r)
{
	free(r->body);
	cJSON_Delete(r->json);
	r->body = NULL;
	r->json = NULL;
	r->len = 0;
}

/* Collects the body; refusing the bytes past the cap aborts the transfer. */
static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct agent_resp *r = arg;
	size_t add = size * n;
	char *p;

	if (add > CLIENT_RESPONSE_MAX - r->len)
		return 0;
	if ((p = realloc(r->body, r->len + add + 1)) == NULL)
		return 0;
	memcpy(p + r->len, data, add);
	r->body = p;
	r->len += add;
	r->body[r->len] = '\0';
	return add;
}

static struct curl_slist *
request_headers(const struct agent *a, const char *body)
{
	struct curl_slist *h = NULL, *n;
	char label[AGENT_LABEL_MAX + 32];

	/* No "Expect: 100-continue" round trip: the frontend answers. */
	if ((h = curl_slist_append(NULL, "Expect:")) == NULL)
		return NULL;
	if (body != NULL && (n = curl_slist_append(h,
	    "Content-Type: application/json")) != NULL)
		h = n;
	if (a->label != NULL && spend_check_agent_label(a->label) == NULL) {
		snprintf(label, sizeof(label), "X-Dino-Agent: %s", a->label);
		if ((n = curl_slist_append(h, label)) != NULL)
			h = n;
	}
	return h;
}

static void
curl_setup(CURL *c, const struct agent *a, const char *method,
    const char *url, const char *body, long timeout_s)
{
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, a->socket);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT,
	    (long)CLIENT_CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "dino/" DINO_VERSION);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

static int
curl_call(struct agent *a, const char *method, const char *path,
    const char *body, long timeout_s, struct agent_resp *r)
{
	struct curl_slist *hdrs;
	char url[AGENT_URL_MAX];
	CURLcode rc;

	if (snprintf(url, sizeof(url), "http://localhost%s", path) >=
	    (int)sizeof(url)) {
		snprintf(r->errbuf, sizeof(r->errbuf), "request path too long");
		return -1;
	}
	hdrs = request_headers(a, body);
	curl_setup(a->curl, a, method, url, body, timeout_s);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, r);
	rc = curl_easy_perform(a->curl);
	curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		if (rc == CURLE_WRITE_ERROR)
			snprintf(r->errbuf, sizeof(r->errbuf),
			    "answer larger than %d bytes", CLIENT_RESPONSE_MAX);
		else
			snprintf(r->errbuf, sizeof(r->errbuf), "%s: %s",
			    a->socket, curl_easy_strerror(rc));
		/* A cut-off answer is no answer: the outcome is unknown. */
		r->status = 0;
		return -1;
	}
	curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &r->status);
	return 0;
}

/*
 * One request.  Returns 0 when an HTTP answer arrived (of any status), or
 * -1 when none did; r->json is set when the body was one JSON value.
 */
int
agent_request(struct agent *a, const char *method, const char *path,
    const char *body, long timeout_s, struct agent_resp *r)
{
	const char *why;

	memset(r, 0, sizeof(*r));
	if (a->call(a, method, path, body, timeout_s, r) == -1) {
		r->status = 0;
		return -1;
	}
	if (r->body != NULL && r->len > 0 &&
	    (r->json = json_parse_strict(r->body, r->len, JSON_DEPTH_MAX,
	    &why)) == NULL)
		snprintf(r->errbuf, sizeof(r->errbuf), "answer is not JSON: %s",
		    why);
	return 0;
}

/* "dino-" and 32 hex digits of libsodium randomness. */
int
agent_make_key(char *buf, size_t len)
{
	unsigned char rnd[CLIENT_IDEM_KEY_BYTES];
	char hex[2 * CLIENT_IDEM_KEY_BYTES + 1];

	if (len < sizeof(AGENT_KEY_PREFIX) + sizeof(hex) - 1)
		return -1;
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(buf, len, "%s%s", AGENT_KEY_PREFIX, hex);
	return 0;
}

/* Exponential backoff with full jitter in its upper half. */
static void
backoff(const struct agent *a, int attempt)
{
	struct timespec ts;
	long ms = CLIENT_RETRY_BASE_MS;

	if (a->no_sleep)
		return;
	while (attempt-- > 0 && ms < CLIENT_RETRY_MAX_MS)
		ms *= 2;
	if (ms > CLIENT_RETRY_MAX_MS)
		ms = CLIENT_RETRY_MAX_MS;
	ms = ms / 2 + (long)randombytes_uniform((uint32_t)(ms / 2 + 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * POST /tools/create_spend with body, which must already hold the
 * idempotency_key, so every retry repeats the same request: the broker
 * replays instead of spending twice.  Retries while the outcome is unknown
 * (no answer, "submitting", 502-504 except a pause, 429), at most
 * CLIENT_RETRIES attempts.  The last answer is left in r.
 */
int
agent_create_spend(struct agent *a, const cJSON *body, struct agent_resp *r)
{
	char *text;
	int attempt, rc = -1;

	if ((text = fmt_json(body)) == NULL) {
		memset(r, 0, sizeof(*r));
		snprintf(r->errbuf, sizeof(r->errbuf), "out of memory");
		return -1;
	}
	for (attempt = 0; attempt < CLIENT_RETRIES; attempt++) {
		if (attempt > 0) {
			agent_resp_free(r);
			backoff(a, attempt - 1);
		}
		rc = agent_request(a, "POST", "/tools/create_spend", text,
		    CLIENT_REQUEST_TIMEOUT_S, r);
		if (!outcome_retryable(r))
			break;
	}
	cJSON_free(text);
	return rc;
}

/* GET /tools/wait_spend/{id}?timeout_s=N, id checked before use. */
int
agent_wait_spend(struct agent *a, const char *id, long timeout_s,
    struct agent_resp *r)
{
	char path[128];

	memset(r, 0, sizeof(*r));
	if (spend_check_ref(id) != NULL) {
		snprintf(r->errbuf, sizeof(r->errbuf), "not a spend id");
		return -1;
	}
	if (timeout_s < 0)
		timeout_s = 0;
	if (timeout_s > FRONTEND_WAIT_MAX_S)
		timeout_s = FRONTEND_WAIT_MAX_S;
	snprintf(path, sizeof(path), "/tools/wait_spend/%s?timeout_s=%ld", id,
	    timeout_s);
	return agent_request(a, "GET", path, NULL,
	    timeout_s + CLIENT_WAIT_SLACK_S, r);
}
