/*
 * The tool descriptors served at GET /tools: name, route, and JSON Schemas
 * for input and output.  This is the one source that the MCP adapter
 * serves and that docs/openapi.yaml is checked against, so every bound
 * comes from dinolimits.h rather than being written twice.  Built once at
 * start-up.
 */
#include <cJSON.h>

#include "frontend.h"
#include "dinolimits.h"

static cJSON *
schema_type(const char *type)
{
	cJSON *s;

	if ((s = cJSON_CreateObject()) != NULL)
		cJSON_AddStringToObject(s, "type", type);
	return s;
}

/* {"type": ["string", "null"]}: a field that is null until it is known. */
static cJSON *
schema_nullable_string(void)
{
	const char *types[] = { "string", "null" };
	cJSON *s;

	if ((s = cJSON_CreateObject()) != NULL)
		cJSON_AddItemToObject(s, "type",
		    cJSON_CreateStringArray(types, 2));
	return s;
}

static cJSON *
schema_int(double min, double max)
{
	cJSON *s;

	if ((s = schema_type("integer")) != NULL) {
		cJSON_AddNumberToObject(s, "minimum", min);
		cJSON_AddNumberToObject(s, "maximum", max);
	}
	return s;
}

static cJSON *
schema_str(double minlen, double maxlen, const char *pattern)
{
	cJSON *s;

	if ((s = schema_type("string")) != NULL) {
		if (minlen > 0)
			cJSON_AddNumberToObject(s, "minLength", minlen);
		cJSON_AddNumberToObject(s, "maxLength", maxlen);
		if (pattern != NULL)
			cJSON_AddStringToObject(s, "pattern", pattern);
	}
	return s;
}

static cJSON *
schema_object(cJSON **props, const char *const *required, int nrequired)
{
	cJSON *s;

	if ((s = schema_type("object")) == NULL)
		return NULL;
	*props = cJSON_AddObjectToObject(s, "properties");
	if (nrequired > 0)
		cJSON_AddItemToObject(s, "required",
		    cJSON_CreateStringArray(required, nrequired));
	cJSON_AddFalseToObject(s, "additionalProperties");
	return s;
}

#define ID_PATTERN	"^(req|hold)_[0-9a-hjkmnp-tv-z]{26}$"

static cJSON *
spend_schema(void)
{
	static const char *const req[] = { "id", "status", "amount_cents",
	    "currency", "merchant_name", "reason" };
	static const char *const statuses[] = { "approved", "declined",
	    "cancelled", "needs_approval", "submitting", "held" };
	static const char *const nullable[] = { "decision_reason",
	    "budget_period", "team_id", "agent_account_id", "decided_at",
	    "created_at", "updated_at" };
	cJSON *s, *p, *st;
	size_t i;

	if ((s = schema_object(&p, req, 6)) == NULL)
		return NULL;
	cJSON_AddItemToObject(p, "id", schema_str(SPEND_ID_LEN, SPEND_ID_LEN,
	    ID_PATTERN));
	if ((st = schema_type("string")) != NULL)
		cJSON_AddItemToObject(st, "enum",
		    cJSON_CreateStringArray(statuses, 6));
	cJSON_AddItemToObject(p, "status", st);
	for (i = 0; i < sizeof(nullable) / sizeof(nullable[0]); i++)
		cJSON_AddItemToObject(p, nullable[i], schema_nullable_string());
	cJSON_AddItemToObject(p, "remaining_budget_cents", schema_type("integer"));
	cJSON_AddItemToObject(p, "remaining_monthly_budget_cents",
	    schema_type("integer"));
	cJSON_AddItemToObject(p, "amount_cents",
	    schema_int(AMOUNT_CENTS_MIN, (double)AMOUNT_CENTS_MAX));
	cJSON_AddItemToObject(p, "currency", schema_str(3, 3, "^[a-z]{3}$"));
	cJSON_AddItemToObject(p, "merchant_name",
	    schema_str(1, MERCHANT_NAME_MAX, NULL));
	cJSON_AddItemToObject(p, "reason", schema_str(0, REASON_MAX, NULL));
	cJSON_AddItemToObject(p, "approval_url",
	    schema_str(1, APPROVAL_URL_MAX, NULL));
	cJSON_AddItemToObject(p, "idempotency_key",
	    schema_str(1, IDEMPOTENCY_KEY_MAX, NULL));
	cJSON_AddItemToObject(p, "replayed", schema_type("boolean"));
	cJSON_AddItemToObject(p, "timed_out", schema_type("boolean"));
	return s;
}

static cJSON *
create_input_schema(void)
{
	static const char *const req[] = { "amount_cents", "currency",
	    "merchant_name", "reason" };
	cJSON *s, *p;

	if ((s = schema_object(&p, req, 4)) == NULL)
		return NULL;
	cJSON_AddItemToObject(p, "amount_cents",
	    schema_int(AMOUNT_CENTS_MIN, (double)AMOUNT_CENTS_MAX));
	cJSON_AddItemToObject(p, "currency", schema_str(3, 3, "^[a-z]{3}$"));
	cJSON_AddItemToObject(p, "merchant_name",
	    schema_str(1, MERCHANT_NAME_MAX, NULL));
	cJSON_AddItemToObject(p, "reason", schema_str(0, REASON_MAX, NULL));
	cJSON_AddItemToObject(p, "idempotency_key",
	    schema_str(1, IDEMPOTENCY_KEY_MAX, "^[!-~]+$"));
	return s;
}

static cJSON *
id_input_schema(int with_timeout)
{
	static const char *const req[] = { "id" };
	cJSON *s, *p;

	if ((s = schema_object(&p, req, 1)) == NULL)
		return NULL;
	cJSON_AddItemToObject(p, "id", schema_str(SPEND_ID_LEN, SPEND_ID_LEN,
	    ID_PATTERN));
	if (with_timeout)
		cJSON_AddItemToObject(p, "timeout_s",
		    schema_int(0, FRONTEND_WAIT_MAX_S));
	return s;
}

static cJSON *
empty_input_schema(void)
{
	cJSON *props;

	return schema_object(&props, NULL, 0);
}

static cJSON *
balance_schema(void)
{
	static const char *const ints[] = { "wallet_available_cents",
	    "budget_cents", "spent_cents", "remaining_budget_cents",
	    "remaining_monthly_budget_cents" };
	cJSON *s, *p;
	size_t i;

	if ((s = schema_object(&p, NULL, 0)) == NULL)
		return NULL;
	cJSON_AddItemToObject(p, "currency", schema_str(3, 3, "^[a-z]{3}$"));
	cJSON_AddItemToObject(p, "budget_period",
	    schema_str(0, BUDGET_PERIOD_MAX, NULL));
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		cJSON_AddItemToObject(p, ints[i], schema_type("integer"));
	return s;
}

static cJSON *
error_schema(void)
{
	static const char *const req[] = { "error" };
	static const char *const ereq[] = { "code", "message" };
	cJSON *s, *p, *e, *ep;

	if ((s = schema_object(&p, req, 1)) == NULL)
		return NULL;
	if ((e = schema_object(&ep, ereq, 2)) != NULL) {
		cJSON_AddItemToObject(ep, "code",
		    schema_str(1, ERROR_CODE_MAX, NULL));
		cJSON_AddItemToObject(ep, "message",
		    schema_str(0, ERROR_MESSAGE_MAX, NULL));
	}
	cJSON_AddItemToObject(p, "error", e);
	return s;
}

static void
add_tool(cJSON *arr, const char *name, const char *method, const char *path,
    const char *description, cJSON *input, cJSON *output)
{
	cJSON *t;

	if ((t = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(input);
		cJSON_Delete(output);
		return;
	}
	cJSON_AddStringToObject(t, "name", name);
	cJSON_AddStringToObject(t, "description", description);
	cJSON_AddStringToObject(t, "method", method);
	cJSON_AddStringToObject(t, "path", path);
	cJSON_AddItemToObject(t, "inputSchema", input);
	cJSON_AddItemToObject(t, "outputSchema", output);
	cJSON_AddItemToArray(arr, t);
}

/*
 * Returns the whole document, or NULL when memory ran out; the caller
 * prints it once and serves the text.
 */
cJSON *
fe_tools_build(void)
{
	cJSON *root, *arr;

	if ((root = cJSON_CreateObject()) == NULL)
		return NULL;
	arr = cJSON_AddArrayToObject(root, "tools");
	add_tool(arr, "create_spend", "POST", "/tools/create_spend",
	    "Ask to spend money from this agent's Dino account. The answer is "
	    "approved, declined, needs_approval (a human decides; use "
	    "wait_spend), held (a local operator decides) or submitting "
	    "(outcome not yet known; retry with the same idempotency_key). "
	    "reason is required and may be empty.",
	    create_input_schema(), spend_schema());
	add_tool(arr, "get_balance", "GET", "/tools/get_balance",
	    "The balance and remaining budget of this agent's Dino account.",
	    empty_input_schema(), balance_schema());
	add_tool(arr, "get_spend", "GET", "/tools/get_spend/{id}",
	    "One of this agent's spends, by id.", id_input_schema(0),
	    spend_schema());
	add_tool(arr, "wait_spend", "GET", "/tools/wait_spend/{id}?timeout_s=N",
	    "Wait until a spend is decided or timeout_s seconds pass; returns "
	    "the spend, with timed_out true if it is still pending.",
	    id_input_schema(1), spend_schema());
	cJSON_AddItemToObject(root, "errorSchema", error_schema());
	if (cJSON_GetArraySize(arr) != 4) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}
