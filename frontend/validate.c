/*
 * Request intake: the pure functions that turn agent bytes into typed,
 * bounded values or a precise complaint.  Nothing here touches the event
 * loop, so the unit tests and the fuzz harnesses call them directly.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "frontend.h"
#include "json.h"
#include "dinolimits.h"
#include "log.h"
#include "spend.h"
#include "util.h"

/* The members create_spend accepts; every other name is refused. */
enum create_field {
	CF_AMOUNT,
	CF_CURRENCY,
	CF_MERCHANT,
	CF_REASON,
	CF_IDEMPOTENCY_KEY,
	CF_N
};

static const char *const create_fields[CF_N] = {
	[CF_AMOUNT] = "amount_cents",
	[CF_CURRENCY] = "currency",
	[CF_MERCHANT] = "merchant_name",
	[CF_REASON] = "reason",
	[CF_IDEMPOTENCY_KEY] = "idempotency_key",
};

static int
bad(char *msg, size_t msglen, const char *field, const char *what)
{
	snprintf(msg, msglen, "%s: %s", field, what);
	return -1;
}

/* The field a member name is, or -1. */
static int
field_of(const char *name)
{
	int i;

	for (i = 0; i < CF_N; i++)
		if (strcmp(name, create_fields[i]) == 0)
			return i;
	return -1;
}

/* Copies a checked text member (NULL if absent) into the message. */
static int
get_text(const cJSON *item, const char *field, size_t minlen, size_t maxlen,
    char *out, size_t outlen, char *msg, size_t msglen)
{
	const char *s, *why = NULL;

	s = json_get_text(item, minlen, maxlen, &why);
	if (s == NULL)
		return bad(msg, msglen, field, why);
	if (copy_text(out, outlen, s) == -1)
		return bad(msg, msglen, field, "too long");
	return 0;
}

static int
get_currency(const cJSON *item, char *out, size_t outlen, char *msg,
    size_t msglen)
{
	size_t i;

	if (item == NULL)
		return bad(msg, msglen, "currency", "missing");
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return bad(msg, msglen, "currency", "must be a string");
	if (strlen(item->valuestring) != CURRENCY_LEN || outlen <= CURRENCY_LEN)
		return bad(msg, msglen, "currency",
		    "must be 3 lowercase letters");
	for (i = 0; i < CURRENCY_LEN; i++)
		if (item->valuestring[i] < 'a' || item->valuestring[i] > 'z')
			return bad(msg, msglen, "currency",
			    "must be 3 lowercase letters");
	memcpy(out, item->valuestring, CURRENCY_LEN + 1);
	return 0;
}

/* Absent is fine (""); present must be 1-128 printable ASCII. */
static int
get_idempotency_key(const cJSON *item, char *out, size_t outlen, char *msg,
    size_t msglen)
{
	size_t len;

	out[0] = '\0';
	if (item == NULL)
		return 0;
	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return bad(msg, msglen, "idempotency_key", "must be a string");
	len = strlen(item->valuestring);
	if (len < 1 || len > IDEMPOTENCY_KEY_MAX || len >= outlen ||
	    !printable_ascii(item->valuestring, len))
		return bad(msg, msglen, "idempotency_key",
		    "must be 1-128 printable ASCII characters");
	memcpy(out, item->valuestring, len + 1);
	return 0;
}

/*
 * Refuses any member but the fields, and finds each field in the same
 * pass: json_parse_strict() refused a repeated name, so the member found
 * is the only one of its name, as cJSON_GetObjectItemCaseSensitive()
 * would find it.  An absent field stays NULL.
 */
static int
check_members(const cJSON *root, const cJSON *member[CF_N], char *msg,
    size_t msglen)
{
	const cJSON *it;
	char name[64];
	int f;

	memset(member, 0, CF_N * sizeof(member[0]));
	if (!cJSON_IsObject(root))
		return bad(msg, msglen, "body", "must be a JSON object");
	for (it = root->child; it != NULL; it = it->next) {
		if ((f = field_of(it->string)) == -1)
			return bad(msg, msglen,
			    log_safe(name, sizeof(name), it->string),
			    "unknown field");
		member[f] = it;
	}
	return 0;
}

/*
 * create_spend's body: exactly amount_cents, currency, merchant_name and
 * reason, plus an optional idempotency_key.  reason is required (the audit
 * trail should say why money moved) but may be empty, as Part A allows.
 * On failure msg says "<field>: <what is wrong>".  The filled message is
 * checked again by spend_check_request(), the broker's own rule.
 */
int
fe_parse_create_spend(const char *body, size_t len,
    struct msg_create_spend *out, char *msg, size_t msglen)
{
	const cJSON *member[CF_N];
	const char *why = NULL;
	cJSON *root;
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (len > FRONTEND_BODY_MAX)
		return bad(msg, msglen, "body", "too large");
	if ((root = json_parse_strict(body, len, JSON_DEPTH_MAX, &why)) == NULL)
		return bad(msg, msglen, "body", why);
	if (check_members(root, member, msg, msglen) == -1)
		goto done;
	if (json_get_int(member[CF_AMOUNT], AMOUNT_CENTS_MIN, AMOUNT_CENTS_MAX,
	    &out->amount_cents, &why) == -1) {
		bad(msg, msglen, "amount_cents", strcmp(why, "missing") == 0 ?
		    why : "must be an integer from 1 to 1000000000");
		goto done;
	}
	if (get_currency(member[CF_CURRENCY], out->currency,
	    sizeof(out->currency), msg, msglen) == -1 ||
	    get_text(member[CF_MERCHANT], "merchant_name", 1,
	    MERCHANT_NAME_MAX, out->merchant_name, sizeof(out->merchant_name),
	    msg, msglen) == -1 ||
	    get_text(member[CF_REASON], "reason", 0, REASON_MAX, out->reason,
	    sizeof(out->reason), msg, msglen) == -1 ||
	    get_idempotency_key(member[CF_IDEMPOTENCY_KEY],
	    out->idempotency_key, sizeof(out->idempotency_key), msg,
	    msglen) == -1)
		goto done;
	r = 0;
done:
	cJSON_Delete(root);
	return r;
}

/* application/json, optionally with charset=utf-8; nothing else. */
int
fe_content_type_json(const char *value)
{
	static const char type[] = "application/json";
	const char *p;

	if (value == NULL || strncasecmp(value, type, sizeof(type) - 1) != 0)
		return 0;
	p = value + sizeof(type) - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 1;
	if (*p++ != ';')
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "charset=", 8) != 0)
		return 0;
	p += 8;
	if (strncasecmp(p, "utf-8", 5) == 0)
		p += 5;
	else if (strncasecmp(p, "\"utf-8\"", 7) == 0)
		p += 7;
	else
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0';
}

/* X-Dino-Agent: absent is "", present must be 1-64 printable ASCII. */
int
fe_agent_label(const char *value, char *out, size_t outlen)
{
	size_t len;

	out[0] = '\0';
	if (value == NULL)
		return 0;
	len = strlen(value);
	if (len < 1 || len > AGENT_LABEL_MAX || len >= outlen ||
	    !printable_ascii(value, len))
		return -1;
	memcpy(out, value, len + 1);
	return 0;
}

/*
 * Maps a method and path to a route.  Returns 0 with *route set (and id
 * filled for the routes that carry one), or the HTTP status to answer with
 * and *why saying what was wrong.  Only wait_spend takes a query string;
 * any other route refuses one, so a client never believes a parameter was
 * honoured when it was ignored.
 */
struct route_def {
	const char	*path;		/* exact, or prefix when prefix */
	int		 prefix;
	const char	*method;
	enum fe_route	 route;
	int		 query_ok;
};

static const struct route_def routes[] = {
	{ "/tools/create_spend", 0, "POST", ROUTE_CREATE_SPEND, 0 },
	{ "/tools/get_balance", 0, "GET", ROUTE_GET_BALANCE, 0 },
	{ "/tools/get_spend/", 1, "GET", ROUTE_GET_SPEND, 0 },
	{ "/tools/wait_spend/", 1, "GET", ROUTE_WAIT_SPEND, 1 },
	{ "/tools", 0, "GET", ROUTE_TOOLS, 0 },
	{ "/healthz", 0, "GET", ROUTE_HEALTHZ, 0 },
};

static const struct route_def *
route_find(const char *path)
{
	size_t i, n;

	for (i = 0; i < nitems(routes); i++) {
		n = strlen(routes[i].path);
		if (routes[i].prefix ? strncmp(path, routes[i].path, n) == 0 :
		    strcmp(path, routes[i].path) == 0)
			return &routes[i];
	}
	return NULL;
}

int
fe_route_match(const char *method, const char *path, const char *query,
    enum fe_route *route, char *id, size_t idlen, const char **why)
{
	const struct route_def *r;
	const char *rest;

	*route = ROUTE_NONE;
	if (idlen > 0)
		id[0] = '\0';
	if (path == NULL || (r = route_find(path)) == NULL) {
		*why = "no such route";
		return 404;
	}
	if (method == NULL || strcmp(method, r->method) != 0) {
		*why = r->route == ROUTE_CREATE_SPEND ? "use POST" : "use GET";
		return 405;
	}
	if (query != NULL && !r->query_ok) {
		*why = "this route takes no query string";
		return 400;
	}
	if (r->prefix) {
		rest = path + strlen(r->path);
		if (spend_check_ref(rest) != NULL || strlen(rest) >= idlen) {
			*why = "id: must be req_ or hold_ followed by 26 "
			    "lowercase ULID characters";
			return 400;
		}
		memcpy(id, rest, strlen(rest) + 1);
	}
	*route = r->route;
	return 0;
}
