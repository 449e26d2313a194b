/*
 * JSON answers to agents, built with cJSON from typed values that the
 * broker's decoder already checked.  Each function returns a string for
 * cJSON_free(), or NULL when memory ran out.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "frontend.h"
#include "dinolimits.h"

static char *
print_and_free(cJSON *root)
{
	char *s;

	if (root == NULL)
		return NULL;
	s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return s;
}

/* A string member, or null when the broker sent "" (absent). */
static void
add_str_or_null(cJSON *o, const char *name, const char *v)
{
	if (v[0] == '\0')
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, v);
}

/*
 * cJSON prints large doubles in exponent form (10^15 as 1e+15), which some
 * clients read as a float; cents are integers, so they are printed as such.
 */
static void
add_cents(cJSON *o, const char *name, int64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%" PRId64, v);
	cJSON_AddRawToObject(o, name, num);
}

char *
fe_render_error(const char *code, const char *message)
{
	cJSON *root, *err;

	if ((root = cJSON_CreateObject()) == NULL)
		return NULL;
	if ((err = cJSON_AddObjectToObject(root, "error")) == NULL) {
		cJSON_Delete(root);
		return NULL;
	}
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", message);
	return print_and_free(root);
}

/* The Dino spend object (dino-api.md Part A). */
cJSON *
fe_spend_to_json(const struct spend_obj *s)
{
	cJSON *o;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "id", s->id);
	cJSON_AddStringToObject(o, "status", s->status);
	add_str_or_null(o, "decision_reason", s->decision_reason);
	add_str_or_null(o, "budget_period", s->budget_period);
	if (s->has_remaining) {
		add_cents(o, "remaining_budget_cents",
		    s->remaining_budget_cents);
		add_cents(o, "remaining_monthly_budget_cents",
		    s->remaining_monthly_budget_cents);
	}
	add_cents(o, "amount_cents", s->amount_cents);
	cJSON_AddStringToObject(o, "currency", s->currency);
	cJSON_AddStringToObject(o, "merchant_name", s->merchant_name);
	cJSON_AddStringToObject(o, "reason", s->reason);
	if (s->approval_url[0] != '\0')
		cJSON_AddStringToObject(o, "approval_url", s->approval_url);
	add_str_or_null(o, "team_id", s->team_id);
	add_str_or_null(o, "agent_account_id", s->agent_account_id);
	add_str_or_null(o, "decided_at", s->decided_at);
	add_str_or_null(o, "created_at", s->created_at);
	add_str_or_null(o, "updated_at", s->updated_at);
	if (s->idempotency_key[0] != '\0')
		cJSON_AddStringToObject(o, "idempotency_key",
		    s->idempotency_key);
	return o;
}

/*
 * "submitting" (sent to Dino, outcome not yet known) answers 202: the
 * spend is neither approved nor declined, and the agent may retry with the
 * same idempotency_key to learn the outcome.  Everything else is 200.
 */
char *
fe_render_spend(const struct msg_spend *sp, int *status)
{
	cJSON *o;

	*status = strcmp(sp->spend.status, "submitting") == 0 ? 202 : 200;
	if ((o = fe_spend_to_json(&sp->spend)) == NULL)
		return NULL;
	if (sp->replayed)
		cJSON_AddTrueToObject(o, "replayed");
	if (sp->timed_out)
		cJSON_AddTrueToObject(o, "timed_out");
	return print_and_free(o);
}

static const char *const balance_names[BAL_NFIELDS] = {
	[BAL_WALLET_AVAILABLE] = "wallet_available_cents",
	[BAL_BUDGET] = "budget_cents",
	[BAL_SPENT] = "spent_cents",
	[BAL_REMAINING_BUDGET] = "remaining_budget_cents",
	[BAL_REMAINING_MONTHLY] = "remaining_monthly_budget_cents",
};

/* Only the fields the broker had: Dino's balance is parsed leniently. */
char *
fe_render_balance(const struct msg_balance *b)
{
	cJSON *o;
	int i;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (b->currency[0] != '\0')
		cJSON_AddStringToObject(o, "currency", b->currency);
	if (b->budget_period[0] != '\0')
		cJSON_AddStringToObject(o, "budget_period", b->budget_period);
	for (i = 0; i < BAL_NFIELDS; i++)
		if (b->has[i])
			add_cents(o, balance_names[i], b->value[i]);
	return print_and_free(o);
}

char *
fe_render_health(int connected)
{
	cJSON *o;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "status", "ok");
	cJSON_AddStringToObject(o, "broker",
	    connected ? "connected" : "disconnected");
	return print_and_free(o);
}
