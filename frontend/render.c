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
#include "util.h"

/*
 * An answer is a tree of cJSON nodes that all live in one struct on the
 * caller's stack: cJSON links and prints them like any tree, but nothing
 * is allocated for them.  Making and freeing some twenty nodes per answer
 * cost more than printing them.  Such a tree never reaches cJSON_Delete().
 * Members are named by constant strings and, for strings, valued by
 * references to the caller's text, so neither is copied; a tree is
 * printed before its source goes.
 */
#define RENDER_NODES	24	/* nodes of the largest answer, a spend */
#define RENDER_NUMS	5	/* cents members of the largest, a balance */

struct tree {
	cJSON	 root;
	cJSON	 node[RENDER_NODES];
	char	 num[RENDER_NUMS][24];
	int	 nnode;
	int	 nnum;
	int	 failed;	/* a member did not fit: print nothing */
};

static void
tree_init(struct tree *t)
{
	memset(&t->root, 0, sizeof(t->root));
	t->root.type = cJSON_Object;
	t->nnode = t->nnum = t->failed = 0;
}

/* A new member of o, or NULL (and the answer failed) past RENDER_NODES. */
static cJSON *
add(struct tree *t, cJSON *o, const char *name, int type)
{
	cJSON *v;

	if (t->nnode >= RENDER_NODES) {
		t->failed = 1;
		return NULL;
	}
	v = &t->node[t->nnode++];
	memset(v, 0, sizeof(*v));
	v->type = type;
	if (!cJSON_AddItemToObjectCS(o, name, v)) {
		t->failed = 1;
		return NULL;
	}
	return v;
}

static void
add_str(struct tree *t, cJSON *o, const char *name, const char *v)
{
	cJSON *n;

	if ((n = add(t, o, name, cJSON_String | cJSON_IsReference)) != NULL)
		n->valuestring = (char *)v;
}

/* A string member, or null when the broker sent "" (absent). */
static void
add_str_or_null(struct tree *t, cJSON *o, const char *name, const char *v)
{
	if (v[0] == '\0')
		add(t, o, name, cJSON_NULL);
	else
		add_str(t, o, name, v);
}

/*
 * cJSON prints large doubles in exponent form (10^15 as 1e+15), which some
 * clients read as a float; cents are integers, so they are printed as such.
 */
static void
add_cents(struct tree *t, cJSON *o, const char *name, int64_t v)
{
	char *num;
	cJSON *n;

	if (t->nnum >= RENDER_NUMS) {
		t->failed = 1;
		return;
	}
	num = t->num[t->nnum++];
	fmt_int(num, v);
	if ((n = add(t, o, name, cJSON_Raw | cJSON_IsReference)) != NULL)
		n->valuestring = num;
}

/*
 * The text of a tree, for cJSON_free(), or NULL.  Printed into a buffer on
 * the stack and copied once at its exact size: cJSON_PrintUnformatted()
 * grows its buffer by reallocation, which costs more than the copy.  An
 * answer too large for the stack buffer is printed the usual way.
 */
static char *
tree_print(struct tree *t)
{
	char buf[FE_RENDER_STACK], *s = NULL;
	size_t len;

	if (t->failed)
		return NULL;
	if (cJSON_PrintPreallocated(&t->root, buf, sizeof(buf), 0)) {
		len = strlen(buf) + 1;
		if ((s = cJSON_malloc(len)) != NULL)
			memcpy(s, buf, len);
	} else
		s = cJSON_PrintUnformatted(&t->root);
	return s;
}

char *
fe_render_error(const char *code, const char *message)
{
	struct tree t;
	cJSON *err;

	tree_init(&t);
	if ((err = add(&t, &t.root, "error", cJSON_Object)) != NULL) {
		add_str(&t, err, "code", code);
		add_str(&t, err, "message", message);
	}
	return tree_print(&t);
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
	struct tree t;
	cJSON *o = &t.root;

	*status = strcmp(s->status, "submitting") == 0 ? 202 : 200;
	tree_init(&t);
	add_str(&t, o, "id", s->id);
	add_str(&t, o, "status", s->status);
	add_str_or_null(&t, o, "decision_reason", s->decision_reason);
	add_str_or_null(&t, o, "budget_period", s->budget_period);
	if (s->has_remaining) {
		add_cents(&t, o, "remaining_budget_cents",
		    s->remaining_budget_cents);
		add_cents(&t, o, "remaining_monthly_budget_cents",
		    s->remaining_monthly_budget_cents);
	}
	add_cents(&t, o, "amount_cents", s->amount_cents);
	add_str(&t, o, "currency", s->currency);
	add_str(&t, o, "merchant_name", s->merchant_name);
	add_str(&t, o, "reason", s->reason);
	if (s->approval_url[0] != '\0')
		add_str(&t, o, "approval_url", s->approval_url);
	add_str_or_null(&t, o, "team_id", s->team_id);
	add_str_or_null(&t, o, "agent_account_id", s->agent_account_id);
	add_str_or_null(&t, o, "decided_at", s->decided_at);
	add_str_or_null(&t, o, "created_at", s->created_at);
	add_str_or_null(&t, o, "updated_at", s->updated_at);
	if (s->idempotency_key[0] != '\0')
		add_str(&t, o, "idempotency_key", s->idempotency_key);
	if (replayed)
		add(&t, o, "replayed", cJSON_True);
	if (timed_out)
		add(&t, o, "timed_out", cJSON_True);
	return tree_print(&t);
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
	struct tree t;
	int i;

	tree_init(&t);
	if (b->currency[0] != '\0')
		add_str(&t, &t.root, "currency", b->currency);
	if (b->budget_period[0] != '\0')
		add_str(&t, &t.root, "budget_period", b->budget_period);
	for (i = 0; i < BAL_NFIELDS; i++)
		if (b->has[i])
			add_cents(&t, &t.root, balance_names[i], b->value[i]);
	return tree_print(&t);
}

char *
fe_render_health(int connected)
{
	struct tree t;

	tree_init(&t);
	add_str(&t, &t.root, "status", "ok");
	add_str(&t, &t.root, "broker", connected ? "connected" :
	    "disconnected");
	return tree_print(&t);
}
