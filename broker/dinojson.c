/*
 * Parsers for Dino's response bodies.  These are the only place the broker
 * runs cJSON, and only ever on bytes Dino sent (never on an agent's).  They
 * are lenient where Dino may legitimately evolve (unknown members are
 * ignored, optional members may be missing or null) and strict about
 * everything that is kept: each kept string must fit its field in struct
 * spend_obj or struct msg_balance and be valid text, each integer must be
 * integral and in range, and the id and status must be ones the broker
 * knows how to handle.  A duplicate member name or a NUL byte is fatal,
 * since two readers of the same body could otherwise disagree.
 */
#include <stdio.h>
#include <string.h>

#include "dino.h"
#include "json.h"
#include "dinolimits.h"
#include "spend.h"
#include "util.h"

/* The statuses Dino itself sends; "submitting" and "held" are ours. */
static const char *const dino_statuses[] = {
	"approved", "declined", "cancelled", "needs_approval",
};

enum field_kind {
	F_TEXT,		/* valid UTF-8 without control characters */
	F_ASCII,	/* printable ASCII only: ids, URLs, timestamps */
};

/* An optional string member, copied into dst if present and not null. */
struct str_field {
	const char	*name;
	size_t		 off;
	size_t		 size;	/* of the destination, NUL included */
	size_t		 minlen;
	int		 required;
	enum field_kind	 kind;
};

#define SF(n, f, min, req, k)						\
	{ #n, offsetof(struct spend_obj, f),				\
	    sizeof(((struct spend_obj *)0)->f), (min), (req), (k) }

static const struct str_field spend_strings[] = {
	SF(id, id, 1, 1, F_ASCII),
	SF(status, status, 1, 1, F_ASCII),
	SF(currency, currency, 1, 1, F_ASCII),
	SF(merchant_name, merchant_name, 1, 1, F_TEXT),
	SF(decision_reason, decision_reason, 0, 0, F_TEXT),
	SF(budget_period, budget_period, 0, 0, F_TEXT),
	SF(reason, reason, 0, 0, F_TEXT),
	SF(approval_url, approval_url, 0, 0, F_ASCII),
	SF(team_id, team_id, 0, 0, F_ASCII),
	SF(agent_account_id, agent_account_id, 0, 0, F_ASCII),
	SF(decided_at, decided_at, 0, 0, F_ASCII),
	SF(created_at, created_at, 0, 0, F_ASCII),
	SF(updated_at, updated_at, 0, 0, F_ASCII),
};

/* The integers a spend object is read for, after spend_strings. */
enum {
	M_AMOUNT = nitems(spend_strings),
	M_REMAINING,
	M_REMAINING_MONTHLY,
	M_NMEMBERS
};

static const char *const spend_ints[M_NMEMBERS - M_AMOUNT] = {
	"amount_cents", "remaining_budget_cents",
	"remaining_monthly_budget_cents",
};

static const char *balance_int_names[BAL_NFIELDS] = {
	[BAL_WALLET_AVAILABLE] = "wallet_available_cents",
	[BAL_BUDGET] = "budget_cents",
	[BAL_SPENT] = "spent_cents",
	[BAL_REMAINING_BUDGET] = "remaining_budget_cents",
	[BAL_REMAINING_MONTHLY] = "remaining_monthly_budget_cents",
};

/*
 * Parses a body whose root must be an object.  The depth bound is the
 * project's; Dino's objects are two or three levels deep at most.
 */
static cJSON *
dino_parse_root(const char *body, size_t len, const char **why)
{
	cJSON *root;

	if (body == NULL) {
		*why = "no body";
		return NULL;
	}
	if ((root = json_parse_strict(body, len, JSON_DEPTH_MAX, why)) == NULL)
		return NULL;
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		*why = "body is not a JSON object";
		return NULL;
	}
	return root;
}

/* A member that is absent or JSON null counts as missing. */
static const cJSON *
member(const cJSON *obj, const char *name)
{
	const cJSON *it;

	if ((it = cJSON_GetObjectItemCaseSensitive(obj, name)) == NULL ||
	    cJSON_IsNull(it))
		return NULL;
	return it;
}

/*
 * it is the member's value, NULL when absent or null.  An ASCII field
 * that is printable ASCII (valid text by definition) takes one scan;
 * anything else goes the long way, which says what is wrong with it.
 */
static int
copy_value(const cJSON *it, const struct str_field *f, void *base,
    const char **why)
{
	const char *s;
	size_t len;

	if (it == NULL) {
		if (f->required) {
			*why = "a required member is missing";
			return -1;
		}
		return 0;
	}
	if (f->kind == F_ASCII && cJSON_IsString(it) &&
	    (s = it->valuestring) != NULL && (len = strlen(s)) >= f->minlen &&
	    len < f->size && printable_ascii(s, len)) {
		memcpy((char *)base + f->off, s, len + 1);
		return 0;
	}
	if ((s = json_get_text(it, f->minlen, f->size - 1, why)) == NULL)
		return -1;
	len = strlen(s);
	if (f->kind == F_ASCII && !printable_ascii(s, len)) {
		*why = "a member must be printable ASCII";
		return -1;
	}
	memcpy((char *)base + f->off, s, len + 1);
	return 0;
}

static int
copy_string(const cJSON *obj, const struct str_field *f, void *base,
    const char **why)
{
	return copy_value(member(obj, f->name), f, base, why);
}

/* An optional integer: 0 when absent, 1 when read, -1 on a bad value. */
static int
get_opt_int(const cJSON *it, int64_t min, int64_t max, int64_t *out,
    const char **why)
{
	if (it == NULL)
		return 0;
	return json_get_int(it, min, max, out, why) == -1 ? -1 : 1;
}

static int
spend_check_fields(const struct spend_obj *s, const char **why)
{
	size_t i;

	if (spend_check_id(s->id) != NULL) {
		*why = "id is not a spend id";
		return -1;
	}
	for (i = 0; i < nitems(dino_statuses); i++)
		if (strcmp(s->status, dino_statuses[i]) == 0)
			break;
	if (i == nitems(dino_statuses)) {
		*why = "status is not one Dino defines";
		return -1;
	}
	if (spend_check_currency(s->currency) != NULL) {
		*why = "currency is not a currency code";
		return -1;
	}
	return 0;
}

/*
 * The two remaining-budget members are twins (the second is the legacy
 * name); either one is enough, and the other then takes its value.
 */
static int
spend_remaining(const cJSON *const *m, struct spend_obj *out,
    const char **why)
{
	int a, b;

	a = get_opt_int(m[M_REMAINING], -DINO_CENTS_ABS_MAX,
	    DINO_CENTS_ABS_MAX, &out->remaining_budget_cents, why);
	b = get_opt_int(m[M_REMAINING_MONTHLY], -DINO_CENTS_ABS_MAX,
	    DINO_CENTS_ABS_MAX, &out->remaining_monthly_budget_cents, why);
	if (a == -1 || b == -1)
		return -1;
	if (a == 1 && b == 0)
		out->remaining_monthly_budget_cents = out->remaining_budget_cents;
	else if (a == 0 && b == 1)
		out->remaining_budget_cents = out->remaining_monthly_budget_cents;
	out->has_remaining = a == 1 || b == 1;
	return 0;
}

/* 2026-05-07T12:34:56.000Z exactly, the only form MSG_SPEND carries. */
static int
iso_time_ok(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	if (strlen(s) != ISO_TIME_LEN)
		return 0;
	for (i = 0; i < ISO_TIME_LEN; i++)
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return 0;
	return 1;
}

/*
 * Optional members the IPC boundary holds to a stricter form than Dino's
 * JSON (proto.c check_spend_obj, check_balance): one that could not cross
 * it is dropped rather than kept, or Dino's definitive answer would reach
 * the agent as a 502 and every later read of the spend fail alike.
 */
static void
drop_unrelayable(char *budget_period, struct spend_obj *s)
{
	char *times[3];
	size_t i;

	if (!printable_ascii(budget_period, strlen(budget_period)))
		budget_period[0] = '\0';
	if (s == NULL)
		return;
	if (strncmp(s->approval_url, "https://", 8) != 0 &&
	    strncmp(s->approval_url, "http://", 7) != 0)
		s->approval_url[0] = '\0';
	times[0] = s->decided_at;
	times[1] = s->created_at;
	times[2] = s->updated_at;
	for (i = 0; i < nitems(times); i++)
		if (times[i][0] != '\0' && !iso_time_ok(times[i]))
			times[i][0] = '\0';
}

/*
 * The spend's members, in one pass over the object (a look-up per name
 * walked it once per name, to the end for every absent one); names are
 * unique, json_parse_strict saw to that.  Nulls count as absent.
 */
static void
spend_members(const cJSON *obj, const cJSON **m)
{
	const cJSON *it;
	const char *name;
	size_t i;

	memset(m, 0, M_NMEMBERS * sizeof(*m));
	for (it = obj->child; it != NULL; it = it->next) {
		if (it->string == NULL || cJSON_IsNull(it))
			continue;
		for (i = 0; i < M_NMEMBERS; i++) {
			name = i < M_AMOUNT ? spend_strings[i].name :
			    spend_ints[i - M_AMOUNT];
			if (it->string[0] == name[0] &&
			    strcmp(it->string, name) == 0) {
				m[i] = it;
				break;
			}
		}
	}
}

/* A spend object, from the root of a body or from a webhook's data. */
static int
parse_spend_obj(const cJSON *obj, struct spend_obj *out, const char **why)
{
	const cJSON *m[M_NMEMBERS];
	size_t i;

	if (!cJSON_IsObject(obj)) {
		*why = "the spend is not a JSON object";
		return -1;
	}
	spend_members(obj, m);
	for (i = 0; i < nitems(spend_strings); i++)
		if (copy_value(m[i], &spend_strings[i], out, why) == -1)
			return -1;
	if (json_get_int(m[M_AMOUNT], AMOUNT_CENTS_MIN, AMOUNT_CENTS_MAX,
	    &out->amount_cents, why) == -1)
		return -1;
	if (spend_remaining(m, out, why) == -1 ||
	    spend_check_fields(out, why) == -1)
		return -1;
	drop_unrelayable(out->budget_period, out);
	return 0;
}

int
dino_parse_spend(const char *body, size_t len, struct spend_obj *out,
    const char **why)
{
	cJSON *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((root = dino_parse_root(body, len, why)) == NULL)
		return -1;
	rc = parse_spend_obj(root, out, why);
	cJSON_Delete(root);
	if (rc == -1)
		memset(out, 0, sizeof(*out));
	return rc;
}

/*
 * A webhook event: {"id","type","occurred_at","request_id","data":{"spend":
 * {...}}}.  The spend is read only for spend_request.* events; any other
 * type is returned with has_spend 0, for the caller to acknowledge.
 */
int
dino_parse_event(const char *body, size_t len, struct dino_event *out,
    const char **why)
{
	static const struct str_field id = { "id",
	    offsetof(struct dino_event, id), sizeof(out->id), 1, 1, F_ASCII };
	static const struct str_field type = { "type",
	    offsetof(struct dino_event, type), sizeof(out->type), 1, 1,
	    F_ASCII };
	const cJSON *data;
	cJSON *root;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if ((root = dino_parse_root(body, len, why)) == NULL)
		return -1;
	if (copy_string(root, &id, out, why) == -1 ||
	    copy_string(root, &type, out, why) == -1)
		goto done;
	if (strncmp(out->type, "spend_request.", 14) == 0) {
		if ((data = member(root, "data")) == NULL ||
		    !cJSON_IsObject(data)) {
			*why = "data is missing or not an object";
			goto done;
		}
		if (parse_spend_obj(member(data, "spend"), &out->spend,
		    why) == -1)
			goto done;
		out->has_spend = 1;
	}
	rc = 0;
done:
	cJSON_Delete(root);
	if (rc == -1)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
dino_parse_balance(const char *body, size_t len, struct msg_balance *out,
    const char **why)
{
	static const struct str_field cur = { "currency",
	    offsetof(struct msg_balance, currency), CURRENCY_LEN + 1,
	    1, 0, F_ASCII };
	static const struct str_field period = { "budget_period",
	    offsetof(struct msg_balance, budget_period), BUDGET_PERIOD_MAX + 1,
	    0, 0, F_TEXT };
	cJSON *root;
	int i, r, rc = -1;

	memset(out, 0, sizeof(*out));
	if ((root = dino_parse_root(body, len, why)) == NULL)
		return -1;
	if (copy_string(root, &cur, out, why) == -1 ||
	    copy_string(root, &period, out, why) == -1)
		goto done;
	if (out->currency[0] != '\0' &&
	    spend_check_currency(out->currency) != NULL) {
		*why = "currency is not a currency code";
		goto done;
	}
	drop_unrelayable(out->budget_period, NULL);
	for (i = 0; i < BAL_NFIELDS; i++) {
		r = get_opt_int(member(root, balance_int_names[i]),
		    -DINO_CENTS_ABS_MAX, DINO_CENTS_ABS_MAX, &out->value[i], why);
		if (r == -1)
			goto done;
		out->has[i] = r == 1;
	}
	rc = 0;
done:
	cJSON_Delete(root);
	if (rc == -1)
		memset(out, 0, sizeof(*out));
	return rc;
}

/*
 * Error codes are short snake_case words; anything else is not kept.  The
 * rule is MSG_ERROR's (proto.c check_error): a code this lets through is
 * relayed to the frontend, and one the encoder refused would be fatal.
 */
static int
error_code_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return i > 0;
}

static void
error_generic(long http_status, struct msg_error *out)
{
	memset(out, 0, sizeof(*out));
	out->http_status = http_status >= 400 && http_status <= 599 ?
	    (uint32_t)http_status : 502;
	snprintf(out->code, sizeof(out->code), "upstream_error");
	snprintf(out->message, sizeof(out->message),
	    "Dino answered HTTP %ld", http_status);
}

/*
 * Fills out from the envelope {"error":{"code","message","details"}}.  A
 * body that is not such an envelope, or a code or message that would not
 * fit or is not clean text, yields a generic error naming the status, so
 * the caller always has something safe to report; the return value says
 * whether Dino's own words were kept.
 */
int
dino_parse_error(const char *body, size_t len, long http_status,
    struct msg_error *out)
{
	const cJSON *env;
	const char *code, *msg, *why;
	cJSON *root;
	int rc = -1;

	error_generic(http_status, out);
	if ((root = dino_parse_root(body, len, &why)) == NULL)
		return -1;
	if ((env = member(root, "error")) == NULL || !cJSON_IsObject(env))
		goto done;
	if ((code = json_get_text(member(env, "code"), 1, ERROR_CODE_MAX,
	    &why)) == NULL || !error_code_ok(code))
		goto done;
	msg = json_get_text(member(env, "message"), 1, ERROR_MESSAGE_MAX,
	    &why);
	snprintf(out->code, sizeof(out->code), "%s", code);
	if (msg != NULL)
		snprintf(out->message, sizeof(out->message), "%s", msg);
	rc = 0;
done:
	cJSON_Delete(root);
	return rc;
}
