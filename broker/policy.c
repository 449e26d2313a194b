/*
 * Principal lookup and the guardrails of a create_spend (see policy.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "policy.h"
#include "util.h"

static int
group_admits(const struct principal *pr, uid_t uid, gid_t gid)
{
	size_t i;

	if (pr->gid == gid)
		return 1;
	for (i = 0; i < pr->nmembers; i++)
		if (pr->members[i] == uid)
			return 1;
	return 0;
}

struct principal *
policy_principal_for(struct broker_config *cfg, uid_t uid, gid_t gid)
{
	struct principal *pr;
	size_t i;
	int pass;

	/* Most specific first: uid, then user name, then group. */
	for (pass = PRINCIPAL_UID; pass <= PRINCIPAL_GROUP; pass++) {
		for (i = 0; i < cfg->nprincipals; i++) {
			pr = &cfg->principals[i];
			if ((int)pr->kind != pass)
				continue;
			if (pr->kind == PRINCIPAL_GROUP ?
			    group_admits(pr, uid, gid) : pr->uid == uid)
				return pr;
		}
	}
	return NULL;
}

int
policy_merchant_listed(const char (*list)[MERCHANT_NAME_MAX + 1], size_t n,
    const char *merchant)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(list[i], merchant) == 0)
			return 1;
	return 0;
}

static int
currency_allowed(const struct principal *pr, const char *currency)
{
	size_t i;

	for (i = 0; i < pr->ncurrencies; i++)
		if (strcmp(pr->currencies[i], currency) == 0)
			return 1;
	return 0;
}

static int
refuse(struct msg_error *err, uint32_t status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
refuse(struct msg_error *err, uint32_t status, const char *code,
    const char *fmt, ...)
{
	va_list ap;

	memset(err, 0, sizeof(*err));
	err->http_status = status;
	snprintf(err->code, sizeof(err->code), "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * Spends counted in the last minute, released ones included.  The window
 * only moves forward, so each charge leaves it once: a check costs what
 * expired since the last one, not the size of the window.
 */
static int64_t
recent_count(struct principal *pr, int64_t now_ms)
{
	struct policy_usage *u = &pr->usage;
	struct policy_charge *c;

	while ((c = u->rate_head) != NULL &&
	    c->at_ms <= now_ms - BROKER_RATE_WINDOW_MS) {
		c->in_rate = 0;
		u->rate_count--;
		u->rate_head = c->next;
	}
	return (int64_t)u->rate_count;
}

int
policy_check_spend(const struct broker_config *cfg, struct principal *pr,
    const struct msg_create_spend *req, int64_t now_ms, struct msg_error *err)
{
	if (cfg->paused)
		return refuse(err, 503, "paused", "spending is paused by the "
		    "operator");
	if (!pr->allowed)
		return refuse(err, 403, "policy_denied", "this principal may "
		    "not spend");
	if (!currency_allowed(pr, req->currency))
		return refuse(err, 403, "policy_denied", "currency %s is not "
		    "allowed for this principal", req->currency);
	if (req->amount_cents > pr->max_amount_cents)
		return refuse(err, 403, "policy_denied", "amount_cents is "
		    "above this principal's max_amount_cents (%lld)",
		    (long long)pr->max_amount_cents);
	if (policy_merchant_listed(pr->merchants_deny, pr->ndeny,
	    req->merchant_name))
		return refuse(err, 403, "policy_denied", "merchant is on "
		    "this principal's deny list");
	if (pr->nallow > 0 && !policy_merchant_listed(pr->merchants_allow,
	    pr->nallow, req->merchant_name))
		return refuse(err, 403, "policy_denied", "merchant is not on "
		    "this principal's allow list");
	policy_prune(pr, now_ms);
	if (req->amount_cents > pr->daily_cap_cents - pr->usage.held_cents)
		return refuse(err, 403, "policy_denied", "the spend would "
		    "exceed this principal's rolling 24 h cap "
		    "(daily_cap_cents %lld)", (long long)pr->daily_cap_cents);
	if (recent_count(pr, now_ms) >= pr->spends_per_minute)
		return refuse(err, 429, "rate_limited", "more than %lld "
		    "spends in one minute; retry later",
		    (long long)pr->spends_per_minute);
	return 0;
}

void
policy_charge_add(struct principal *pr, struct policy_charge *c,
    int64_t amount_cents, int64_t now_ms)
{
	struct policy_usage *u = &pr->usage;

	memset(c, 0, sizeof(*c));
	c->usage = u;
	c->at_ms = now_ms;
	c->amount_cents = amount_cents;
	c->prev = u->tail;
	if (u->tail != NULL)
		u->tail->next = c;
	else
		u->head = c;
	u->tail = c;
	u->held_cents += amount_cents;
	u->count++;
	c->in_rate = 1;
	if (u->rate_head == NULL)
		u->rate_head = c;
	u->rate_count++;
}

void
policy_charge_release(struct policy_charge *c)
{
	if (c->usage == NULL || c->released)
		return;
	c->released = 1;
	c->usage->held_cents -= c->amount_cents;
}

void
policy_charge_unlink(struct policy_charge *c)
{
	struct policy_usage *u = c->usage;

	if (u == NULL)
		return;
	policy_charge_release(c);
	if (c->in_rate) {
		if (u->rate_head == c)
			u->rate_head = c->next;
		u->rate_count--;
		c->in_rate = 0;
	}
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		u->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		u->tail = c->prev;
	u->count--;
	c->next = c->prev = NULL;
	c->usage = NULL;
}

void
policy_prune(struct principal *pr, int64_t now_ms)
{
	struct policy_charge *c;

	while ((c = pr->usage.head) != NULL &&
	    c->at_ms <= now_ms - BROKER_CAP_WINDOW_MS)
		policy_charge_unlink(c);
}
