/*
 * The seed file: accounts, webhook endpoints, timings and faults.  Every
 * field is checked, and a bad one is refused with a message naming it
 * ("seed: accounts[1].budget_cents: must be an integer"), so a typo never
 * turns into a silently different emulator.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "json.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

static const int64_t default_delays_ms[] = {1000, 5000, 30000, 120000, 600000};

#define DEFAULT_EXPIRY_MS (3600 * 1000)
#define DEFAULT_APPROVAL_URL                                                   \
	"https://app.dino.id/agents/approvals?spendRequestId="
#define DEFAULT_TEAM_ID "team_sandbox"
#define DEFAULT_REORDER_MS 500

/* Secrets are wiped before their memory goes back to the allocator. */
static void
free_secret(char *s)
{
	if (s == NULL)
		return;
	sodium_memzero(s, strlen(s));
	free(s);
}

static int
fail(char *err, size_t errlen, const char *where, const char *field,
    const char *why)
{
	snprintf(err, errlen, "%s%s%s: %s", where, *where ? "." : "",
	    field, why);
	return -1;
}

static int
member_known(
    const cJSON *obj, const char *const *names, size_t n, const char **bad)
{
	const cJSON *m;
	size_t i;

	cJSON_ArrayForEach(m, obj)
	{
		for (i = 0; i < n; i++)
			if (strcmp(m->string, names[i]) == 0)
				break;
		if (i == n) {
			*bad = m->string;
			return 0;
		}
	}
	return 1;
}

static int
get_int(const cJSON *obj, const char *name, int64_t min, int64_t max,
    int64_t dflt, int64_t *out, const char *where, char *err, size_t errlen)
{
	const cJSON *item;
	const char *why;

	if ((item = cJSON_GetObjectItemCaseSensitive(obj, name)) == NULL ||
	    cJSON_IsNull(item)) {
		if (dflt == INT64_MIN)
			return fail(err, errlen, where, name, "missing");
		*out = dflt;
		return 0;
	}
	if (json_get_int(item, min, max, out, &why) == -1)
		return fail(err, errlen, where, name, why);
	return 0;
}

/* Seconds, possibly fractional, to milliseconds. */
static int
get_secs_ms(const cJSON *item, int64_t max_s, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(item))
		return -1;
	d = item->valuedouble;
	if (!isfinite(d) || d < 0 || d > (double)max_s)
		return -1;
	*out = (int64_t)(d * 1000.0 + 0.5);
	return 0;
}

static int
get_bool(const cJSON *obj, const char *name, int dflt, int *out,
    const char *where, char *err, size_t errlen)
{
	const cJSON *item;

	if ((item = cJSON_GetObjectItemCaseSensitive(obj, name)) == NULL) {
		*out = dflt;
		return 0;
	}
	if (!cJSON_IsBool(item))
		return fail(err, errlen, where, name, "must be true or false");
	*out = cJSON_IsTrue(item);
	return 0;
}

static int
get_str(const cJSON *obj, const char *name, size_t maxlen, const char *dflt,
    char **out, const char *where, char *err, size_t errlen)
{
	const cJSON *item;
	const char *s, *why;

	if ((item = cJSON_GetObjectItemCaseSensitive(obj, name)) == NULL) {
		if (dflt == NULL)
			return fail(err, errlen, where, name, "missing");
		s = dflt;
	} else if (!cJSON_IsString(item))
		return fail(err, errlen, where, name, "must be a string");
	else if ((s = json_get_text(item, 1, maxlen, &why)) == NULL)
		return fail(err, errlen, where, name, why);
	if ((*out = strdup(s)) == NULL)
		fatal("strdup");
	return 0;
}

static int
id_chars_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static int
get_list(const cJSON *obj, const char *name, size_t maxlen, char ***out,
    size_t *nout, const char *where, char *err, size_t errlen)
{
	const cJSON *arr, *item;
	const char *s, *why;
	char field[64];
	size_t n = 0;

	*out = NULL;
	*nout = 0;
	if ((arr = cJSON_GetObjectItemCaseSensitive(obj, name)) == NULL)
		return 0;
	if (!cJSON_IsArray(arr))
		return fail(err, errlen, where, name, "must be an array");
	if (cJSON_GetArraySize(arr) > SANDBOX_LIST_MAX)
		return fail(err, errlen, where, name, "too many entries");
	if ((*out = calloc(SANDBOX_LIST_MAX, sizeof(char *))) == NULL)
		fatal("calloc");
	cJSON_ArrayForEach(item, arr)
	{
		snprintf(field, sizeof(field), "%s[%zu]", name, n);
		if (!cJSON_IsString(item))
			return fail(
			    err, errlen, where, field, "must be a string");
		if ((s = json_get_text(item, 1, maxlen, &why)) == NULL)
			return fail(err, errlen, where, field, why);
		if (((*out)[n] = strdup(s)) == NULL)
			fatal("strdup");
		*nout = ++n;
	}
	return 0;
}

static int
parse_period(const char *s, enum budget_period *p)
{
	if (strcmp(s, "daily") == 0)
		*p = PERIOD_DAILY;
	else if (strcmp(s, "weekly") == 0)
		*p = PERIOD_WEEKLY;
	else if (strcmp(s, "monthly") == 0)
		*p = PERIOD_MONTHLY;
	else if (strcmp(s, "total") == 0)
		*p = PERIOD_TOTAL;
	else
		return -1;
	return 0;
}

const char *
sbx_period_name(enum budget_period p)
{
	switch (p) {
	case PERIOD_DAILY:
		return "daily";
	case PERIOD_WEEKLY:
		return "weekly";
	case PERIOD_TOTAL:
		return "total";
	default:
		return "monthly";
	}
}

static int
parse_account(const cJSON *obj, struct account *a, const char *where, char *err,
    size_t errlen)
{
	static const char *const names[] = {"id", "key", "team_id",
	    "wallet_cents", "budget_cents", "budget_period",
	    "max_transaction_cents", "approval_threshold_cents", "currencies",
	    "merchants_allow", "merchants_block", "paused"};
	const char *bad;
	char *period = NULL;
	size_t i;
	int rc;

	if (!cJSON_IsObject(obj))
		return fail(err, errlen, "", where, "must be an object");
	if (!member_known(obj, names, nitems(names), &bad))
		return fail(err, errlen, where, bad, "unknown field");
	if (get_str(obj, "id", ACCOUNT_ID_MAX, NULL, &a->id, where, err,
		errlen) == -1)
		return -1;
	if (!id_chars_ok(a->id))
		return fail(err, errlen, where, "id",
		    "only letters, digits, '_' and '-' are allowed");
	if (get_str(obj, "key", SANDBOX_KEY_MAX, NULL, &a->key, where, err,
		errlen) == -1)
		return -1;
	if (!printable_ascii(a->key, strlen(a->key)) ||
	    (strncmp(a->key, "din_test_", 9) != 0 &&
		strncmp(a->key, "din_live_", 9) != 0) ||
	    strlen(a->key) < 10)
		return fail(err, errlen, where, "key",
		    "must be din_test_... "
		    "or din_live_... in printable ASCII");
	if (get_str(obj, "team_id", ACCOUNT_ID_MAX, DEFAULT_TEAM_ID,
		&a->team_id, where, err, errlen) == -1 ||
	    get_int(obj, "wallet_cents", 0, SANDBOX_WALLET_MAX, INT64_MIN,
		&a->wallet_cents, where, err, errlen) == -1 ||
	    get_int(obj, "budget_cents", 0, SANDBOX_WALLET_MAX, INT64_MIN,
		&a->budget_cents, where, err, errlen) == -1 ||
	    get_int(obj, "max_transaction_cents", 1, AMOUNT_CENTS_MAX, -1,
		&a->max_transaction_cents, where, err, errlen) == -1 ||
	    get_int(obj, "approval_threshold_cents", 0, AMOUNT_CENTS_MAX, -1,
		&a->approval_threshold_cents, where, err, errlen) == -1 ||
	    get_bool(obj, "paused", 0, &a->paused, where, err, errlen) == -1)
		return -1;
	if (get_str(obj, "budget_period", BUDGET_PERIOD_MAX, "monthly", &period,
		where, err, errlen) == -1)
		return -1;
	rc = parse_period(period, &a->period);
	free(period);
	if (rc == -1)
		return fail(err, errlen, where, "budget_period",
		    "must be daily, weekly, monthly or total");
	if (get_list(obj, "currencies", CURRENCY_LEN, &a->currencies,
		&a->ncurrencies, where, err, errlen) == -1 ||
	    get_list(obj, "merchants_allow", MERCHANT_NAME_MAX,
		&a->merchants_allow, &a->nallow, where, err, errlen) == -1 ||
	    get_list(obj, "merchants_block", MERCHANT_NAME_MAX,
		&a->merchants_block, &a->nblock, where, err, errlen) == -1)
		return -1;
	if (a->currencies == NULL) {
		if ((a->currencies = calloc(1, sizeof(char *))) == NULL ||
		    (a->currencies[0] = strdup("usd")) == NULL)
			fatal("calloc");
		a->ncurrencies = 1;
	}
	if (a->ncurrencies == 0)
		return fail(
		    err, errlen, where, "currencies", "must not be empty");
	for (i = 0; i < a->ncurrencies; i++) {
		const char *c = a->currencies[i];

		if (strlen(c) != CURRENCY_LEN || c[0] < 'a' || c[0] > 'z' ||
		    c[1] < 'a' || c[1] > 'z' || c[2] < 'a' || c[2] > 'z')
			return fail(err, errlen, where, "currencies",
			    "each must be 3 lowercase letters");
	}
	return 0;
}

static unsigned
event_bit(const char *name)
{
	if (strcmp(name, "spend_request.created") == 0)
		return EV_CREATED;
	if (strcmp(name, "spend_request.approved") == 0)
		return EV_APPROVED;
	if (strcmp(name, "spend_request.declined") == 0)
		return EV_DECLINED;
	if (strcmp(name, "spend_request.cancelled") == 0)
		return EV_CANCELLED;
	return 0;
}

static int
parse_endpoint(const cJSON *obj, struct endpoint *e, const char *where,
    char *err, size_t errlen)
{
	static const char *const names[] = {
	    "url", "secret", "events", "unix_socket", "description"};
	const char *bad;
	char **events;
	size_t i, n;
	unsigned bit;
	int rc = 0;

	if (!cJSON_IsObject(obj))
		return fail(err, errlen, "", where, "must be an object");
	if (!member_known(obj, names, nitems(names), &bad))
		return fail(err, errlen, where, bad, "unknown field");
	if (get_str(obj, "url", SANDBOX_URL_MAX, NULL, &e->url, where, err,
		errlen) == -1)
		return -1;
	if (strncmp(e->url, "http://", 7) != 0 &&
	    strncmp(e->url, "https://", 8) != 0)
		return fail(err, errlen, where, "url",
		    "must start with http:// or https://");
	if (cJSON_GetObjectItemCaseSensitive(obj, "unix_socket") != NULL &&
	    get_str(obj, "unix_socket", SANDBOX_URL_MAX, NULL, &e->unix_socket,
		where, err, errlen) == -1)
		return -1;
	if (get_str(obj, "secret", SANDBOX_SECRET_MAX, NULL, &e->secret, where,
		err, errlen) == -1)
		return -1;
	if (strncmp(e->secret, "whsec_", 6) != 0 || strlen(e->secret) < 7 ||
	    !printable_ascii(e->secret, strlen(e->secret)))
		return fail(err, errlen, where, "secret",
		    "must be whsec_... in printable ASCII");
	if (get_list(obj, "events", 64, &events, &n, where, err, errlen) == -1)
		rc = -1;
	e->events = n == 0 ? EV_ALL : 0;
	for (i = 0; i < n; i++) {
		if ((bit = event_bit(events[i])) == 0 && rc == 0)
			rc = fail(
			    err, errlen, where, "events", "unknown event type");
		e->events |= bit;
		free(events[i]);
	}
	free(events);
	return rc;
}

static int
parse_routes(const cJSON *item, unsigned *out)
{
	const cJSON *r;
	const char *s;

	*out = 0;
	if (!cJSON_IsArray(item))
		return -1;
	cJSON_ArrayForEach(r, item)
	{
		if (!cJSON_IsString(r))
			return -1;
		s = r->valuestring;
		if (strcmp(s, "create") == 0)
			*out |= ROUTE_CREATE;
		else if (strcmp(s, "read") == 0)
			*out |= ROUTE_READ;
		else if (strcmp(s, "other") == 0)
			*out |= ROUTE_OTHER;
		else if (strcmp(s, "all") == 0)
			*out |= ROUTE_ALL;
		else
			return -1;
	}
	return *out == 0 ? -1 : 0;
}

int
sbx_faults_apply(const cJSON *obj, struct faults *f, const char *where,
    char *err, size_t errlen)
{
	static const char *const names[] = {"reset", "latency_ms",
	    "error_500_pct", "error_429_pct", "drop_after_commit_pct",
	    "error_500_next", "error_429_next", "drop_after_commit_next",
	    "retry_after_s", "routes", "webhook_duplicate", "webhook_reorder",
	    "webhook_reorder_ms", "webhooks_paused"};
	struct faults nf;
	const cJSON *item;
	const char *bad;
	int reset;

	if (!cJSON_IsObject(obj)) {
		snprintf(err, errlen, "%s: must be an object", where);
		return -1;
	}
	if (!member_known(obj, names, nitems(names), &bad))
		return fail(err, errlen, where, bad, "unknown field");
	/* Work on a copy so that a bad member changes nothing at all. */
	nf = *f;
	if (get_bool(obj, "reset", 0, &reset, where, err, errlen) == -1)
		return -1;
	if (reset) {
		memset(&nf, 0, sizeof(nf));
		nf.routes = ROUTE_ALL;
		nf.retry_after_s = 1;
		nf.webhook_reorder_ms = DEFAULT_REORDER_MS;
	}
	if (get_int(obj, "latency_ms", 0, SANDBOX_LATENCY_MS_MAX, nf.latency_ms,
		&nf.latency_ms, where, err, errlen) == -1 ||
	    get_int(obj, "error_500_pct", 0, 100, nf.error_500_pct,
		&nf.error_500_pct, where, err, errlen) == -1 ||
	    get_int(obj, "error_429_pct", 0, 100, nf.error_429_pct,
		&nf.error_429_pct, where, err, errlen) == -1 ||
	    get_int(obj, "drop_after_commit_pct", 0, 100,
		nf.drop_after_commit_pct, &nf.drop_after_commit_pct, where, err,
		errlen) == -1 ||
	    get_int(obj, "error_500_next", 0, SANDBOX_FAULT_NEXT_MAX,
		nf.error_500_next, &nf.error_500_next, where, err,
		errlen) == -1 ||
	    get_int(obj, "error_429_next", 0, SANDBOX_FAULT_NEXT_MAX,
		nf.error_429_next, &nf.error_429_next, where, err,
		errlen) == -1 ||
	    get_int(obj, "drop_after_commit_next", 0, SANDBOX_FAULT_NEXT_MAX,
		nf.drop_after_commit_next, &nf.drop_after_commit_next, where,
		err, errlen) == -1 ||
	    get_int(obj, "retry_after_s", 0, 3600, nf.retry_after_s,
		&nf.retry_after_s, where, err, errlen) == -1 ||
	    get_int(obj, "webhook_reorder_ms", 0, SANDBOX_LATENCY_MS_MAX,
		nf.webhook_reorder_ms, &nf.webhook_reorder_ms, where, err,
		errlen) == -1 ||
	    get_bool(obj, "webhook_duplicate", nf.webhook_duplicate,
		&nf.webhook_duplicate, where, err, errlen) == -1 ||
	    get_bool(obj, "webhook_reorder", nf.webhook_reorder,
		&nf.webhook_reorder, where, err, errlen) == -1 ||
	    get_bool(obj, "webhooks_paused", nf.webhooks_paused,
		&nf.webhooks_paused, where, err, errlen) == -1)
		return -1;
	if ((item = cJSON_GetObjectItemCaseSensitive(obj, "routes")) != NULL &&
	    parse_routes(item, &nf.routes) == -1)
		return fail(err, errlen, where, "routes",
		    "must be an array of "
		    "\"create\", \"read\", \"other\" or \"all\"");
	*f = nf;
	return 0;
}

cJSON *
sbx_faults_json(const struct faults *f)
{
	cJSON *o, *r;

	if ((o = cJSON_CreateObject()) == NULL ||
	    (r = cJSON_AddArrayToObject(o, "routes")) == NULL)
		fatalx("out of memory");
	cJSON_AddNumberToObject(o, "latency_ms", (double)f->latency_ms);
	cJSON_AddNumberToObject(o, "error_500_pct", (double)f->error_500_pct);
	cJSON_AddNumberToObject(o, "error_429_pct", (double)f->error_429_pct);
	cJSON_AddNumberToObject(
	    o, "drop_after_commit_pct", (double)f->drop_after_commit_pct);
	cJSON_AddNumberToObject(o, "error_500_next", (double)f->error_500_next);
	cJSON_AddNumberToObject(o, "error_429_next", (double)f->error_429_next);
	cJSON_AddNumberToObject(
	    o, "drop_after_commit_next", (double)f->drop_after_commit_next);
	cJSON_AddNumberToObject(o, "retry_after_s", (double)f->retry_after_s);
	if (f->routes & ROUTE_CREATE)
		cJSON_AddItemToArray(r, cJSON_CreateString("create"));
	if (f->routes & ROUTE_READ)
		cJSON_AddItemToArray(r, cJSON_CreateString("read"));
	if (f->routes & ROUTE_OTHER)
		cJSON_AddItemToArray(r, cJSON_CreateString("other"));
	cJSON_AddBoolToObject(o, "webhook_duplicate", f->webhook_duplicate);
	cJSON_AddBoolToObject(o, "webhook_reorder", f->webhook_reorder);
	cJSON_AddNumberToObject(
	    o, "webhook_reorder_ms", (double)f->webhook_reorder_ms);
	cJSON_AddBoolToObject(o, "webhooks_paused", f->webhooks_paused);
	return o;
}

static int
parse_top(const cJSON *root, struct seed *seed, char *err, size_t errlen)
{
	static const char *const names[] = {"accounts", "webhooks",
	    "approval_expiry_s", "webhook_retry_delays_s", "approval_url_base",
	    "require_idempotency_key", "faults", "description"};
	const cJSON *arr, *item;
	const char *bad;
	char where[64];
	size_t i, j;

	if (!cJSON_IsObject(root))
		return fail(
		    err, errlen, "", "(top level)", "must be an object");
	if (!member_known(root, names, nitems(names), &bad))
		return fail(err, errlen, "", bad, "unknown field");
	arr = cJSON_GetObjectItemCaseSensitive(root, "accounts");
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1)
		return fail(
		    err, errlen, "", "accounts", "must be a non-empty array");
	if (cJSON_GetArraySize(arr) > SANDBOX_ACCOUNTS_MAX)
		return fail(err, errlen, "", "accounts", "too many accounts");
	seed->accounts =
	    calloc((size_t)cJSON_GetArraySize(arr), sizeof(struct account));
	if (seed->accounts == NULL)
		fatal("calloc");
	cJSON_ArrayForEach(item, arr)
	{
		i = seed->naccounts++;
		snprintf(where, sizeof(where), "accounts[%zu]", i);
		if (parse_account(
			item, &seed->accounts[i], where, err, errlen) == -1)
			return -1;
		for (j = 0; j < i; j++) {
			if (strcmp(seed->accounts[j].id,
				seed->accounts[i].id) == 0)
				return fail(err, errlen, where, "id",
				    "duplicate account id");
			if (strcmp(seed->accounts[j].key,
				seed->accounts[i].key) == 0)
				return fail(
				    err, errlen, where, "key", "duplicate key");
		}
	}
	if ((arr = cJSON_GetObjectItemCaseSensitive(root, "webhooks")) !=
	    NULL) {
		if (!cJSON_IsArray(arr))
			return fail(
			    err, errlen, "", "webhooks", "must be an array");
		if (cJSON_GetArraySize(arr) > SANDBOX_WEBHOOKS_MAX)
			return fail(
			    err, errlen, "", "webhooks", "too many endpoints");
		seed->endpoints = calloc((size_t)cJSON_GetArraySize(arr) + 1,
		    sizeof(struct endpoint));
		if (seed->endpoints == NULL)
			fatal("calloc");
		cJSON_ArrayForEach(item, arr)
		{
			i = seed->nendpoints++;
			snprintf(where, sizeof(where), "webhooks[%zu]", i);
			if (parse_endpoint(item, &seed->endpoints[i], where,
				err, errlen) == -1)
				return -1;
		}
	}
	seed->approval_expiry_ms = DEFAULT_EXPIRY_MS;
	if ((item = cJSON_GetObjectItemCaseSensitive(
		 root, "approval_expiry_s")) != NULL &&
	    (get_secs_ms(
		 item, SANDBOX_EXPIRY_S_MAX, &seed->approval_expiry_ms) == -1 ||
		seed->approval_expiry_ms < 1))
		return fail(err, errlen, "", "approval_expiry_s",
		    "must be a number of seconds above 0");
	if ((arr = cJSON_GetObjectItemCaseSensitive(
		 root, "webhook_retry_delays_s")) == NULL) {
		memcpy(seed->retry_delays_ms, default_delays_ms,
		    sizeof(default_delays_ms));
		seed->nretry_delays = nitems(default_delays_ms);
	} else {
		if (!cJSON_IsArray(arr) ||
		    cJSON_GetArraySize(arr) > SANDBOX_RETRIES_MAX)
			return fail(err, errlen, "", "webhook_retry_delays_s",
			    "must be an array of at most 16 numbers");
		cJSON_ArrayForEach(item, arr)
		{
			snprintf(where, sizeof(where),
			    "webhook_retry_delays_s[%zu]", seed->nretry_delays);
			if (get_secs_ms(item, SANDBOX_DELAY_S_MAX,
				&seed->retry_delays_ms
				     [seed->nretry_delays++]) == -1)
				return fail(err, errlen, "", where,
				    "must be a number of seconds");
		}
	}
	if (get_str(root, "approval_url_base", SANDBOX_URL_MAX,
		DEFAULT_APPROVAL_URL, &seed->approval_url_base, "", err,
		errlen) == -1 ||
	    get_bool(root, "require_idempotency_key", 0,
		&seed->require_idempotency_key, "", err, errlen) == -1)
		return -1;
	seed->faults.routes = ROUTE_ALL;
	seed->faults.retry_after_s = 1;
	seed->faults.webhook_reorder_ms = DEFAULT_REORDER_MS;
	if ((item = cJSON_GetObjectItemCaseSensitive(root, "faults")) != NULL &&
	    sbx_faults_apply(item, &seed->faults, "faults", err, errlen) ==
		-1)
		return -1;
	return 0;
}

int
sbx_seed_parse(
    const char *buf, size_t len, struct seed *seed, char *err, size_t errlen)
{
	cJSON *root;
	const char *why;
	char msg[256];
	int rc;

	memset(seed, 0, sizeof(*seed));
	if ((root = json_parse_strict(buf, len, JSON_DEPTH_MAX, &why)) ==
	    NULL) {
		snprintf(err, errlen, "seed: %s", why);
		return -1;
	}
	rc = parse_top(root, seed, msg, sizeof(msg));
	cJSON_Delete(root);
	if (rc == -1) {
		/* Field errors name the field; the prefix names the file. */
		snprintf(err, errlen, "seed: %s", msg);
		sbx_seed_free(seed);
	}
	return rc;
}

int
sbx_seed_load(const char *path, struct seed *seed, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t off = 0;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "seed: %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > SANDBOX_SEED_MAX) {
		snprintf(err, errlen,
		    "seed: %s: not a regular file of at "
		    "most %d bytes",
		    path, SANDBOX_SEED_MAX);
		close(fd);
		return -1;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		fatal("malloc");
	while (off < (size_t)st.st_size) {
		n = read(fd, buf + off, (size_t)st.st_size - off);
		if (n <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			break;
		}
		off += (size_t)n;
	}
	close(fd);
	rc = sbx_seed_parse(buf, off, seed, err, errlen);
	free(buf);
	return rc;
}

static void
free_list(char **l, size_t n)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

void
sbx_seed_free(struct seed *seed)
{
	struct account *a;
	size_t i;

	for (i = 0; i < seed->naccounts; i++) {
		a = &seed->accounts[i];
		free(a->id);
		free_secret(a->key);
		free(a->team_id);
		free_list(a->currencies, a->ncurrencies);
		free_list(a->merchants_allow, a->nallow);
		free_list(a->merchants_block, a->nblock);
	}
	free(seed->accounts);
	for (i = 0; i < seed->nendpoints; i++) {
		free(seed->endpoints[i].url);
		free(seed->endpoints[i].unix_socket);
		free_secret(seed->endpoints[i].secret);
	}
	free(seed->endpoints);
	free(seed->approval_url_base);
	memset(seed, 0, sizeof(*seed));
}
