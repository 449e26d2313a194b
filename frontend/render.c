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
#include "json.h"

/*
 * An answer is a tree of cJSON nodes on the caller's stack (json.h's
 * struct json_stack): cJSON links and prints them like any tree, but
 * nothing is allocated for them.  Making and freeing some twenty nodes
 * per answer cost more than printing them.  Names are constant strings
 * and string values reference the caller's text; a tree is printed
 * before its source goes.  Cents are printed as plain digits always
 * (json_stack_digits()): cJSON prints large doubles in exponent form
 * (10^15 as 1e+15), which some clients read as a float.
 */

/* A string member, or null when the broker sent "" (absent). */
static void
add_str_or_null(struct json_stack *t, cJSON *o, const char *name,
    const char *v)
{
	if (v[0] == '\0')
		json_stack_null(t, o, name);
	else
		json_stack_str(t, o, name, v);
}

/*
 * The text of a tree, for cJSON_free(), or NULL.  Printed into a buffer on
 * the stack and copied once at its exact size: cJSON_PrintUnformatted()
 * grows its buffer by reallocation, which costs more than the copy.  An
 * answer too large for the stack buffer is printed the usual way.
 */
static char *
tree_print(const cJSON *root)
{
	char buf[FE_RENDER_STACK], *heap, *s;
	const char *text;
	size_t len;

	if ((text = json_print_buf(root, buf, sizeof(buf), &len, &heap)) ==
	    NULL || heap != NULL)
		return heap;
	if ((s = cJSON_malloc(len + 1)) != NULL)
		memcpy(s, text, len + 1);
	return s;
}

char *
fe_render_error(const char *code, const char *message)
{
	struct json_stack t;
	cJSON *o, *err;

	o = json_stack_init(&t);
	err = json_stack_obj(&t, o, "error");
	json_stack_str(&t, err, "code", code);
	json_stack_str(&t, err, "message", message);
	return tree_print(o);
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
	struct json_stack t;
	cJSON *o;

	*status = strcmp(s->status, "submitting") == 0 ? 202 : 200;
	o = json_stack_init(&t);
	json_stack_str(&t, o, "id", s->id);
	json_stack_str(&t, o, "status", s->status);
	add_str_or_null(&t, o, "decision_reason", s->decision_reason);
	add_str_or_null(&t, o, "budget_period", s->budget_period);
	if (s->has_remaining) {
		json_stack_digits(&t, o, "remaining_budget_cents",
		    s->remaining_budget_cents);
		json_stack_digits(&t, o, "remaining_monthly_budget_cents",
		    s->remaining_monthly_budget_cents);
	}
	json_stack_digits(&t, o, "amount_cents", s->amount_cents);
	json_stack_str(&t, o, "currency", s->currency);
	json_stack_str(&t, o, "merchant_name", s->merchant_name);
	json_stack_str(&t, o, "reason", s->reason);
	if (s->approval_url[0] != '\0')
		json_stack_str(&t, o, "approval_url", s->approval_url);
	add_str_or_null(&t, o, "team_id", s->team_id);
	add_str_or_null(&t, o, "agent_account_id", s->agent_account_id);
	add_str_or_null(&t, o, "decided_at", s->decided_at);
	add_str_or_null(&t, o, "created_at", s->created_at);
	add_str_or_null(&t, o, "updated_at", s->updated_at);
	if (s->idempotency_key[0] != '\0')
		json_stack_str(&t, o, "idempotency_key", s->idempotency_key);
	if (replayed)
		json_stack_bool(&t, o, "replayed", 1);
	if (timed_out)
		json_stack_bool(&t, o, "timed_out", 1);
	return tree_print(o);
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
	struct json_stack t;
	cJSON *o;
	int i;

	o = json_stack_init(&t);
	if (b->currency[0] != '\0')
		json_stack_str(&t, o, "currency", b->currency);
	if (b->budget_period[0] != '\0')
		json_stack_str(&t, o, "budget_period", b->budget_period);
	for (i = 0; i < BAL_NFIELDS; i++)
		if (b->has[i])
			json_stack_digits(&t, o, balance_names[i], b->value[i]);
	return tree_print(o);
}

char *
fe_render_health(int connected)
{
	struct json_stack t;
	cJSON *o;

	o = json_stack_init(&t);
	json_stack_str(&t, o, "status", "ok");
	json_stack_str(&t, o, "broker", connected ? "connected" :
	    "disconnected");
	return tree_print(o);
}
