/*
 * JSON answers to agents, built with cJSON from typed values that the
 * broker's decoder already checked.  Each function returns a string for
 * cJSON_free(), or NULL when memory ran out.
 */
#include <stdint.h>
#include <string.h>

#include <cJSON.h>

#include "frontend.h"
#include "dinolimits.h"

/*
 * The text of a tree, which is freed.  Printed into a buffer on the stack
 * and copied once at its exact size: cJSON_PrintUnformatted() grows its
 * buffer by reallocation, which costs more than the copy.  An answer too
 * large for the stack buffer is printed the usual way.
 */
static char *
print_and_free(cJSON *root, int failed)
{
	char buf[FE_RENDER_STACK], *s = NULL;
	size_t len;

	if (root == NULL)
		return NULL;
	if (!failed) {
		if (cJSON_PrintPreallocated(root, buf, sizeof(buf), 0)) {
			len = strlen(buf) + 1;
			if ((s = cJSON_malloc(len)) != NULL)
				memcpy(s, buf, len);
		} else
			s = cJSON_PrintUnformatted(root);
	}
	cJSON_Delete(root);
	return s;
}

/*
 * Members are named by constant strings and, for strings, valued by
 * references to the caller's text, so neither is copied; every tree here
 * is printed and freed before its source goes.  A member that could not
 * be added sets *failed, and the answer is then not printed at all rather
 * than printed without it.
 */
static void
add(cJSON *o, const char *name, cJSON *v, int *failed)
{
	if (v == NULL || !cJSON_AddItemToObjectCS(o, name, v)) {
		cJSON_Delete(v);
		*failed = 1;
	}
}

static void
add_str(cJSON *o, const char *name, const char *v, int *failed)
{
	add(o, name, cJSON_CreateStringReference(v), failed);
}

/* A string member, or null when the broker sent "" (absent). */
static void
add_str_or_null(cJSON *o, const char *name, const char *v, int *failed)
{
	add(o, name, v[0] == '\0' ? cJSON_CreateNull() :
	    cJSON_CreateStringReference(v), failed);
}

/*
 * cJSON prints large doubles in exponent form (10^15 as 1e+15), which some
 * clients read as a float; cents are integers, so they are printed as such,
 * digit by digit: snprintf() cost more than the rest of a balance.
 */
static void
add_cents(cJSON *o, const char *name, int64_t v, int *failed)
{
	char num[24], *p = num + sizeof(num);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	*--p = '\0';
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	add(o, name, cJSON_CreateRaw(p), failed);
}

char *
fe_render_error(const char *code, const char *message)
{
	cJSON *root, *err;
	int failed = 0;

	if ((root = cJSON_CreateObject()) == NULL)
		return NULL;
	if ((err = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(root);
		return NULL;
	}
	add_str(err, "code", code, &failed);
	add_str(err, "message", message, &failed);
	add(root, "error", err, &failed);
	return print_and_free(root, failed);
}

/*
 * The Dino spend object (dino-api.md Part A).  "submitting" (sent to Dino,
 * outcome not yet known) answers 202: the spend is neither approved nor
 * declined, and the agent may retry with the same idempotency_key to learn
 * the outcome.  Everything else is 200.
 */
static char *
spend_render(const struct spend_obj *s, int replayed, int timed_out,
    int *status)
{
	cJSON *o;
	int failed = 0;

	*status = strcmp(s->status, "submitting") == 0 ? 202 : 200;
	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	add_str(o, "id", s->id, &failed);
	add_str(o, "status", s->status, &failed);
	add_str_or_null(o, "decision_reason", s->decision_reason, &failed);
	add_str_or_null(o, "budget_period", s->budget_period, &failed);
	if (s->has_remaining) {
		add_cents(o, "remaining_budget_cents",
		    s->remaining_budget_cents, &failed);
		add_cents(o, "remaining_monthly_budget_cents",
		    s->remaining_monthly_budget_cents, &failed);
	}
	add_cents(o, "amount_cents", s->amount_cents, &failed);
	add_str(o, "currency", s->currency, &failed);
	add_str(o, "merchant_name", s->merchant_name, &failed);
	add_str(o, "reason", s->reason, &failed);
	if (s->approval_url[0] != '\0')
		add_str(o, "approval_url", s->approval_url, &failed);
	add_str_or_null(o, "team_id", s->team_id, &failed);
	add_str_or_null(o, "agent_account_id", s->agent_account_id, &failed);
	add_str_or_null(o, "decided_at", s->decided_at, &failed);
	add_str_or_null(o, "created_at", s->created_at, &failed);
	add_str_or_null(o, "updated_at", s->updated_at, &failed);
	if (s->idempotency_key[0] != '\0')
		add_str(o, "idempotency_key", s->idempotency_key, &failed);
	if (replayed)
		add(o, "replayed", cJSON_CreateTrue(), &failed);
	if (timed_out)
		add(o, "timed_out", cJSON_CreateTrue(), &failed);
	return print_and_free(o, failed);
}

char *
fe_render_spend(const struct msg_spend *sp, int *status)
{
	return spend_render(&sp->spend, sp->replayed, sp->timed_out, status);
}

/* A wait_spend answer: never a replay, timed_out while still pending. */
char *
fe_render_wait(const struct spend_obj *s, int timed_out, int *status)
{
	return spend_render(s, 0, timed_out, status);
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
	int i, failed = 0;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (b->currency[0] != '\0')
		add_str(o, "currency", b->currency, &failed);
	if (b->budget_period[0] != '\0')
		add_str(o, "budget_period", b->budget_period, &failed);
	for (i = 0; i < BAL_NFIELDS; i++)
		if (b->has[i])
			add_cents(o, balance_names[i], b->value[i], &failed);
	return print_and_free(o, failed);
}

char *
fe_render_health(int connected)
{
	cJSON *o;
	int failed = 0;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	add_str(o, "status", "ok", &failed);
	add_str(o, "broker", connected ? "connected" : "disconnected",
	    &failed);
	return print_and_free(o, failed);
}
