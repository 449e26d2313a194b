/*
 * The Dino client: every call the broker makes to Dino, through libcurl's
 * multi interface driven by the broker's libevent loop (hiperfifo's
 * skeleton: socket and timer callbacks, reaping finished transfers).
 *
 * The broker builds every URL, header and body here from its own
 * configuration and from typed, validated fields; nothing in a request
 * comes verbatim from the frontend.  HTTPS only, except plain HTTP to a
 * loopback address when the configuration says so explicitly (the
 * sandbox); no redirects; connect and total timeouts; a response size cap;
 * an X-Request-Id on every call; keep-alive connections reused.
 */
#ifndef DINO_BROKER_DINO_H
#define DINO_BROKER_DINO_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct event_base;
struct dino_client;

struct dino_options {
	const char	*base_url;	/* "https://api.dino.id" */
	const char	*spend_path;	/* "spend" or "spend-requests" */
	int		 allow_http_loopback;
	const char	*ca_file;	/* NULL: the system bundle */
	long		 connect_timeout_ms;
	long		 total_timeout_ms;
	long		 retry_base_ms;	/* first backoff; doubles, with jitter */
	long		 retry_max_ms;	/* backoff ceiling */
	int		 read_retries;	/* attempts for GETs before giving up */
};

/*
 * A spending key lives in sodium_malloc'd memory owned by the caller (see
 * broker/creds.h); the client only borrows it to build the Authorization
 * header of each call, and wipes its copy of that header afterwards.
 */
struct dino_key {
	const char	*secret;	/* NUL-terminated, sodium_malloc'd */
	size_t		 len;
};

enum dino_outcome {
	DINO_OK,	/* 2xx with a valid body: spend or balance is set */
	DINO_REFUSED,	/* a definitive 4xx (400, 401, 402, 403, 404, 409):
			   err is set, never retried */
	DINO_FAILED,	/* reads only: retries exhausted (transport, 429,
			   5xx); err is set */
};

struct dino_result {
	enum dino_outcome outcome;
	long		 http_status;	/* 0 when no response was read */
	int		 attempts;
	char		 request_id[48];	/* X-Request-Id sent (last) */
	struct spend_obj spend;
	struct msg_balance balance;
	struct msg_error err;	/* Dino's code and message, bounded */
};

typedef void (*dino_cb)(const struct dino_result *, void *arg);

/* Fatal on an invalid option (for example http:// to a non-loopback host). */
struct dino_client *dino_client_new(struct event_base *base,
	    const struct dino_options *opt);
/*
 * Drops every call in flight (their callbacks never run).  Not to be called
 * from a dino_cb or on_retry callback.
 */
void	dino_client_free(struct dino_client *c);

/*
 * The checks dino_client_new() makes, without dying: 0, or -1 with a clear
 * message in err (for the broker's -n and for tests).
 */
int	dino_options_check(const struct dino_options *opt, char *err,
	    size_t errlen);

/*
 * POST {base}/v1/{spend_path} with Idempotency-Key: idem_key.  A create
 * whose outcome is unknown (transport error, timeout, 429, 5xx) is retried
 * with the same key, with exponential backoff and jitter (honouring
 * Retry-After), until Dino answers definitively: cb runs exactly once,
 * with DINO_OK or DINO_REFUSED.  on_retry (may be NULL) runs before each
 * retry so the caller can log or report "submitting".  Returns a handle
 * for dino_cancel(), or NULL if the call could not be started.
 *
 * For every call: the key is copied (into guarded memory, wiped when the
 * call ends) before the function returns, so key may be short-lived; cb
 * and on_retry never run before the function has returned; on_retry sees
 * outcome DINO_FAILED with err saying why the attempt's outcome is
 * unknown; the handle is invalid once cb has returned.  A callback may
 * start calls and cancel any call, its own included.
 */
struct dino_call;
struct dino_call *dino_create_spend(struct dino_client *c,
	    const struct dino_key *key, const char *idem_key,
	    const struct msg_create_spend *req, dino_cb cb,
	    void (*on_retry)(const struct dino_result *, void *), void *arg);

/* GET {base}/v1/{spend_path}/{id}: id must pass spend_check_id(). */
struct dino_call *dino_get_spend(struct dino_client *c,
	    const struct dino_key *key, const char *id, dino_cb cb, void *arg);

/* GET {base}/v1/balance. */
struct dino_call *dino_get_balance(struct dino_client *c,
	    const struct dino_key *key, dino_cb cb, void *arg);

/* Stops a call; its callback never runs. */
void	dino_cancel(struct dino_call *call);

/*
 * Parsers for Dino's bodies, exposed for unit tests and fuzzing: cJSON on
 * Dino's bytes (never on an agent's), lenient about unknown fields and
 * missing optional ones, strict about types and bounds of what is kept.
 * Return 0, or -1 with *why set.
 */
int	dino_parse_spend(const char *body, size_t len, struct spend_obj *out,
	    const char **why);
/* A webhook event (dino-api.md Part A); has_spend for spend_request.*. */
struct dino_event {
	char		 id[WEBHOOK_EVENT_ID_MAX + 1];
	char		 type[WEBHOOK_EVENT_TYPE_MAX + 1];
	int		 has_spend;
	struct spend_obj spend;
};
int	dino_parse_event(const char *body, size_t len, struct dino_event *out,
	    const char **why);
int	dino_parse_balance(const char *body, size_t len,
	    struct msg_balance *out, const char **why);
int	dino_parse_error(const char *body, size_t len, long http_status,
	    struct msg_error *out);

#endif
