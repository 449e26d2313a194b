/*
 * dino-sandbox: a local emulator of the Dino API (dino-api.md Part A).
 *
 * seed.c     reads and checks the seed file into a struct seed
 * store.c    accounts, keys, spends, idempotency and the decision order
 * api.c      the HTTP routes (/v1 and /_sandbox), faults, error envelope
 * webhook.c  signed webhook delivery with libcurl inside the event loop
 * ctl.c      the operator subcommands (approve, pause, ledger, ...)
 */
#ifndef DINO_SANDBOX_H
#define DINO_SANDBOX_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "dinolimits.h"
#include "json.h"

struct event_base;
struct event;

enum budget_period {
	PERIOD_DAILY,
	PERIOD_WEEKLY,
	PERIOD_MONTHLY,
	PERIOD_TOTAL,
};

struct account {
	char *id;
	char *key;
	char *team_id;
	int64_t wallet_cents;
	int64_t budget_cents;
	enum budget_period period;
	int64_t max_transaction_cents;	  /* -1: no limit */
	int64_t approval_threshold_cents; /* -1: none */
	char **currencies;
	size_t ncurrencies;
	char **merchants_allow; /* empty: every merchant */
	size_t nallow;
	char **merchants_block;
	size_t nblock;
	int paused;
	int revoked;	     /* its key */
	int64_t spent_cents; /* in period_index */
	int64_t period_index;
	unsigned char key_digest[32];
};

/* Webhook event types, as bits for an endpoint's filter. */
#define EV_CREATED 0x1
#define EV_APPROVED 0x2
#define EV_DECLINED 0x4
#define EV_CANCELLED 0x8
#define EV_ALL 0xf

struct endpoint {
	char *url;
	char *unix_socket; /* NULL: plain TCP */
	char *secret;
	unsigned events;
};

/* Route classes a fault may be limited to. */
#define ROUTE_CREATE 0x1
#define ROUTE_READ 0x2	/* GET spend, GET balance */
#define ROUTE_OTHER 0x4 /* faucet */
#define ROUTE_ALL 0x7

struct faults {
	int64_t latency_ms;
	int64_t error_500_pct;
	int64_t error_429_pct;
	int64_t drop_after_commit_pct;
	int64_t error_500_next;
	int64_t error_429_next;
	int64_t drop_after_commit_next;
	int64_t retry_after_s;
	unsigned routes;
	int webhook_duplicate;
	int webhook_reorder;
	int64_t webhook_reorder_ms;
	int webhooks_paused;
};

struct seed {
	struct account *accounts;
	size_t naccounts;
	struct endpoint *endpoints;
	size_t nendpoints;
	int64_t approval_expiry_ms;
	int64_t retry_delays_ms[SANDBOX_RETRIES_MAX];
	size_t nretry_delays;
	char *approval_url_base;
	int require_idempotency_key;
	struct faults faults;
};

enum spend_status {
	ST_APPROVED,
	ST_DECLINED,
	ST_NEEDS_APPROVAL,
	ST_CANCELLED,
};

/* The strings live in the same allocation, after the struct. */
struct spend {
	char id[SPEND_ID_MAX];
	struct account *acct;
	char *idem_ix;	/* "<account id>\x1f<key>", or NULL when none */
	char *idem_key; /* the key, inside idem_ix, or NULL */
	int64_t amount_cents;
	char currency[CURRENCY_LEN + 1];
	char *merchant_name;
	char *reason;
	enum spend_status status;
	const char *decision_reason; /* static text */
	enum budget_period period;
	int64_t remaining_cents;
	int64_t created_ms;
	int64_t updated_ms;
	int64_t decided_ms; /* 0 while pending */
	struct event *expiry;
	TAILQ_ENTRY(spend) entry;
};
TAILQ_HEAD(spendq, spend);

/*
 * jout.c: the sandbox's answers and webhook bodies, built on the stack with
 * json.h's struct json_stack (member js), which holds every member but the
 * one joined value (a URL base and an id) that only the sandbox prints.
 */
struct jout {
	struct json_stack js;
	char cat[SANDBOX_URL_MAX + SPEND_ID_MAX];
};

/* Starts over; returns the root object. */
cJSON *jout_init(struct jout *j);
void jout_cat(struct jout *j, cJSON *obj, const char *name, const char *a,
    const char *b);
void jout_time(struct jout *j, cJSON *obj, const char *name, int64_t ms);
/*
 * root printed as cJSON_PrintUnformatted() would: into a static buffer,
 * valid until the next call, or when it does not fit into *heap, which the
 * caller frees with cJSON_free().
 */
const char *jout_print(cJSON *root, size_t *len, char **heap);

/* seed.c */
int sbx_seed_load(
    const char *path, struct seed *seed, char *err, size_t errlen);
int sbx_seed_parse(
    const char *buf, size_t len, struct seed *seed, char *err, size_t errlen);
void sbx_seed_free(struct seed *seed);
/* Applies the members of a faults object; 0, or -1 naming the field. */
int sbx_faults_apply(const cJSON *obj, struct faults *f, const char *where,
    char *err, size_t errlen);
cJSON *sbx_faults_json(const struct faults *f);
const char *sbx_period_name(enum budget_period p);

/* store.c: the outcome of a create, for the HTTP layer. */
enum create_result {
	CREATE_NEW,	 /* 200, new spend */
	CREATE_REPLAY,	 /* 200, the stored spend */
	CREATE_CONFLICT, /* 409 idempotency_key_conflict */
	CREATE_NO_FUNDS, /* 402 insufficient_wallet_balance */
	CREATE_FULL,	 /* 500, the store is full */
};

struct create_req {
	int64_t amount_cents;
	const char *currency;
	const char *merchant_name;
	const char *reason;
	const char *idem_key; /* NULL when none */
	const char *request_id;
};

int sbx_store_init(struct event_base *base, struct seed *seed);
void sbx_store_free(void);
struct account *sbx_store_account_by_key(const char *key, size_t keylen);
struct account *sbx_store_account_by_id(const char *id);
struct account *sbx_store_account_by_key_any(const char *key);
int sbx_store_currency_ok(const struct account *a, const char *currency);
enum create_result sbx_store_create(
    struct account *a, const struct create_req *cr, struct spend **out);
struct spend *sbx_store_spend_by_id(const char *id);
/* Operator transitions: 0, -1 when terminal, -2 budget, -3 wallet. */
int sbx_store_transition(struct spend *s, enum spend_status to, const char *why,
    const char *request_id);
int64_t sbx_store_spent(struct account *a);
int64_t sbx_store_remaining(struct account *a);
void sbx_store_spend_out(
    struct jout *j, cJSON *o, const struct spend *s, int webhook_shape);
cJSON *sbx_store_ledger_json(void);
const char *sbx_status_name(enum spend_status st);

/* webhook.c */
int sbx_webhook_init(struct event_base *base, struct seed *seed);
void sbx_webhook_free(void);
cJSON *sbx_webhook_body(struct jout *j, const char *id, const char *type,
    const struct spend *s, const char *request_id);
void sbx_webhook_emit(
    const struct spend *s, const char *type, const char *request_id);
/* Called after the faults change: starts deliveries held by a pause. */
void sbx_webhook_kick(void);

/* api.c */
struct evhttp;
int sbx_api_init(struct event_base *base, struct evhttp *http,
    struct seed *seed, const char *admin_token);
void sbx_api_free(void);

/* ctl.c */
int sbx_ctl_main(int argc, char *argv[]);
int sbx_ctl_is_command(const char *name);

#endif
