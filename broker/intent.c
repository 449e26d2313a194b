/*
 * Spend intents: key derivation, the in-memory table, and forward-only
 * status updates (see intent.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "intent.h"
#include "jrec.h"
#include "journal.h"
#include "log.h"
#include "spend.h"
#include "util.h"

/* Domain separation: these hashes mean nothing in any other protocol. */
#define IDEM_TAG	"dino-broker idempotency v1"

/*
 * The intent's text fields, all kept in its one text block (intent.h).
 * max is the field's bound where it entered (validators, Dino parser);
 * packing enforces it again, so that a block never outgrows the old
 * fixed-size fields.
 */
enum intent_text {
	TXT_AGENT,
	TXT_AGENT_KEY,
	TXT_MERCHANT,
	TXT_REASON,
	TXT_SP_DECISION_REASON,
	TXT_SP_BUDGET_PERIOD,
	TXT_SP_MERCHANT,
	TXT_SP_REASON,
	TXT_SP_APPROVAL_URL,
	TXT_SP_TEAM_ID,
	TXT_SP_AGENT_ACCOUNT_ID,
	TXT_N
};

static const struct {
	size_t	off;		/* of the const char * in struct intent */
	size_t	max;
} text_field[TXT_N] = {
	[TXT_AGENT] = { offsetof(struct intent, agent), AGENT_LABEL_MAX },
	[TXT_AGENT_KEY] =
	    { offsetof(struct intent, agent_key), IDEMPOTENCY_KEY_MAX },
	[TXT_MERCHANT] =
	    { offsetof(struct intent, merchant_name), MERCHANT_NAME_MAX },
	[TXT_REASON] = { offsetof(struct intent, reason), REASON_MAX },
	[TXT_SP_DECISION_REASON] = { offsetof(struct intent,
	    spend.decision_reason), DECISION_REASON_MAX },
	[TXT_SP_BUDGET_PERIOD] = { offsetof(struct intent,
	    spend.budget_period), BUDGET_PERIOD_MAX },
	[TXT_SP_MERCHANT] = { offsetof(struct intent, spend.merchant_name),
	    MERCHANT_NAME_MAX },
	[TXT_SP_REASON] = { offsetof(struct intent, spend.reason),
	    REASON_MAX },
	[TXT_SP_APPROVAL_URL] = { offsetof(struct intent,
	    spend.approval_url), APPROVAL_URL_MAX },
	[TXT_SP_TEAM_ID] = { offsetof(struct intent, spend.team_id),
	    ACCOUNT_ID_MAX },
	[TXT_SP_AGENT_ACCOUNT_ID] = { offsetof(struct intent,
	    spend.agent_account_id), ACCOUNT_ID_MAX },
};

static const char **
text_slot(struct intent *in, int i)
{
	return (const char **)(void *)((char *)in + text_field[i].off);
}

/*
 * Replaces the intent's text block by one holding src[], each cut to its
 * field's bound.  An empty string is the constant "", and a string equal
 * to an earlier one shares its bytes.  src may point into the old block:
 * it is freed only after the copy.
 */
static void
text_pack(struct intent *in, const char *src[TXT_N])
{
	size_t len[TXT_N], off[TXT_N], total = 0;
	int first[TXT_N], i, j;
	char *block;

	for (i = 0; i < TXT_N; i++) {
		len[i] = strnlen(src[i], text_field[i].max);
		first[i] = i;
		for (j = 0; j < i && len[i] > 0; j++)
			if (first[j] == j && len[j] == len[i] &&
			    memcmp(src[j], src[i], len[i]) == 0) {
				first[i] = j;
				break;
			}
		if (len[i] > 0 && first[i] == i) {
			off[i] = total;
			total += len[i] + 1;
		}
	}
	if ((block = malloc(total > 0 ? total : 1)) == NULL)
		fatal("%s: malloc", __func__);
	for (i = 0; i < TXT_N; i++)
		if (len[i] > 0 && first[i] == i) {
			memcpy(block + off[i], src[i], len[i]);
			block[off[i] + len[i]] = '\0';
		}
	for (i = 0; i < TXT_N; i++)
		*text_slot(in, i) = len[i] == 0 ? "" : block + off[first[i]];
	free(in->text);
	in->text = block;
}

static void
hash_lp(crypto_generichash_state *st, const char *s)
{
	size_t len = strlen(s);
	unsigned char n[4];

	n[0] = (unsigned char)(len >> 24);
	n[1] = (unsigned char)(len >> 16);
	n[2] = (unsigned char)(len >> 8);
	n[3] = (unsigned char)len;
	crypto_generichash_update(st, n, sizeof(n));
	crypto_generichash_update(st, (const unsigned char *)s, len);
}

void
intent_derive_key(const char *instance_id, const char *caller,
    const char *agent_key, char *out)
{
	crypto_generichash_state st;
	unsigned char h[BROKER_IDEM_HASH_LEN];

	if (crypto_generichash_init(&st, NULL, 0, sizeof(h)) != 0)
		fatalx("%s: crypto_generichash_init", __func__);
	hash_lp(&st, IDEM_TAG);
	hash_lp(&st, instance_id);
	hash_lp(&st, caller);
	hash_lp(&st, agent_key);
	crypto_generichash_final(&st, h, sizeof(h));
	memcpy(out, "dbk_", 4);
	sodium_bin2hex(out + 4, BROKER_IDEM_KEY_LEN + 1 - 4, h, sizeof(h));
}

void
intent_caller_id(uid_t uid, char *out, size_t len)
{
	char num[4 + FMT_INT_SIZE];

	/* "uid:%lu", printed here: it is printed twice per create. */
	memcpy(num, "uid:", 4);
	fmt_uint(num + 4, (unsigned long)uid);
	copy_text(out, len, num);
}

void
intent_auto_key(char *out, size_t len)
{
	unsigned char r[BROKER_AUTO_KEY_BYTES];
	char hex[5 + 2 * BROKER_AUTO_KEY_BYTES + 1];

	random_buf(r, sizeof(r));
	memcpy(hex, "auto-", 5);
	sodium_bin2hex(hex + 5, sizeof(hex) - 5, r, sizeof(r));
	sodium_memzero(r, sizeof(r));
	copy_text(out, len, hex);
}

static size_t
bucket(const struct intent_table *t, const char *s)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v = 0;
	size_t i;

	crypto_shorthash(h, (const unsigned char *)s, strlen(s), t->hkey);
	for (i = 0; i < sizeof(h); i++)
		v = (v << 8) | h[i];
	return (size_t)(v % BROKER_INTENT_BUCKETS);
}

struct intent_table *
intent_table_new(void)
{
	struct intent_table *t;
	size_t i;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < BROKER_INTENT_BUCKETS; i++) {
		LIST_INIT(&t->keys[i]);
		LIST_INIT(&t->ids[i]);
	}
	TAILQ_INIT(&t->all);
	t->max = BROKER_INTENTS_MAX;
	randombytes_buf(t->hkey, sizeof(t->hkey));
	return t;
}

void
intent_table_free(struct intent_table *t)
{
	struct intent *in;

	if (t == NULL)
		return;
	while ((in = TAILQ_FIRST(&t->all)) != NULL)
		intent_remove(t, in);
	free(t);
}

static struct intent *
find_key(struct intent_table *t, const char *derived)
{
	struct intent *in;

	LIST_FOREACH(in, &t->keys[bucket(t, derived)], by_key)
		if (strcmp(in->derived, derived) == 0)
			return in;
	return NULL;
}

enum intent_match
intent_match(struct intent_table *t, const char *derived,
    const struct msg_create_spend *req, struct intent **out)
{
	struct intent *in;

	*out = NULL;
	if ((in = find_key(t, derived)) == NULL)
		return INTENT_MATCH_NONE;
	*out = in;
	if (in->amount_cents != req->amount_cents ||
	    strcmp(in->currency, req->currency) != 0 ||
	    strcmp(in->merchant_name, req->merchant_name) != 0 ||
	    strcmp(in->reason, req->reason) != 0)
		return INTENT_MATCH_CONFLICT;
	return INTENT_MATCH_REPLAY;
}

static int
intent_finished(const struct intent *in)
{
	if (in->call != NULL || !TAILQ_EMPTY(&in->waiters))
		return 0;
	return in->state == INTENT_REFUSED || (in->state == INTENT_ANSWERED &&
	    spend_status_terminal(in->spend.status));
}

/* Makes room by forgetting the oldest finished intent. */
static int
evict_one(struct intent_table *t)
{
	struct intent *in;

	TAILQ_FOREACH(in, &t->all, age)
		if (intent_finished(in)) {
			intent_remove(t, in);
			return 0;
		}
	return -1;
}

struct intent *
intent_add(struct intent_table *t, const char *derived, const char *agent_key,
    uid_t owner, struct principal *pr, const struct msg_create_spend *req,
    int64_t now_ms)
{
	struct intent *in;
	const char *src[TXT_N];
	char now[32];
	int i;

	if (t->n >= t->max && evict_one(t) == -1)
		return NULL;
	if ((in = calloc(1, sizeof(*in))) == NULL)
		fatal("%s: calloc", __func__);
	COPY_TEXT(in->derived, derived);
	in->table = t;
	in->owner_uid = owner;
	in->principal = pr;
	in->account = pr->account;
	in->amount_cents = req->amount_cents;
	COPY_TEXT(in->currency, req->currency);
	for (i = 0; i < TXT_N; i++)
		src[i] = "";
	src[TXT_AGENT] = req->caller.agent;
	src[TXT_AGENT_KEY] = agent_key;
	src[TXT_MERCHANT] = src[TXT_SP_MERCHANT] = req->merchant_name;
	src[TXT_REASON] = src[TXT_SP_REASON] = req->reason;
	text_pack(in, src);
	in->state = INTENT_SUBMITTING;
	in->created_ms = now_ms;

	/* The spend, "submitting" until Dino names it. */
	strcpy(in->spend.status, "submitting");
	in->spend.amount_cents = in->amount_cents;
	strcpy(in->spend.currency, in->currency);
	fmt_iso_ms(now, now_ms);
	/* fmt_iso_ms() writes exactly ISO_TIME_LEN characters. */
	memcpy(in->spend.created_at, now, ISO_TIME_LEN);
	memcpy(in->spend.updated_at, now, ISO_TIME_LEN);

	TAILQ_INIT(&in->waiters);
	LIST_INSERT_HEAD(&t->keys[bucket(t, derived)], in, by_key);
	TAILQ_INSERT_TAIL(&t->all, in, age);
	t->n++;
	return in;
}

void
intent_remove(struct intent_table *t, struct intent *in)
{
	policy_charge_unlink(&in->charge);
	LIST_REMOVE(in, by_key);
	if (in->indexed_id)
		LIST_REMOVE(in, by_id);
	TAILQ_REMOVE(&t->all, in, age);
	t->n--;
	free(in->refusal);
	free(in->text);
	free(in);
}

int
intent_record_durable(struct journal *j, struct intent *in,
    void (*done)(int, uint64_t, void *), void *arg)
{
	if (j == NULL) {
		done(1, 0, arg);
		return 0;
	}
	return jrec_append_intent(j, in, done, arg);
}

struct intent *
intent_by_key(struct intent_table *t, const char *derived)
{
	return find_key(t, derived);
}

/* How far along a status is: a spend never moves backwards. */
static int
status_rank(const char *status)
{
	if (strcmp(status, "submitting") == 0 || strcmp(status, "held") == 0)
		return 0;
	if (spend_status_terminal(status))
		return 2;
	return 1;
}

static void
index_id(struct intent_table *t, struct intent *in)
{
	struct intent *other;

	if (in->indexed_id || spend_check_id(in->spend.id) != NULL)
		return;
	if ((other = intent_by_id(t, in->spend.id)) != NULL) {
		/* Dino named two intents alike: keep the first, say so. */
		log_err("event=duplicate_spend_id id=%s", in->spend.id);
		return;
	}
	LIST_INSERT_HEAD(&t->ids[bucket(t, in->spend.id)], in, by_id);
	in->indexed_id = 1;
}

void
intent_set_spend(struct intent_table *t, struct intent *in,
    const struct spend_obj *s)
{
	char from[STATUS_MAX + 1];
	int changed, was_answered;

	if (in->state == INTENT_ANSWERED &&
	    status_rank(s->status) < status_rank(in->spend.status))
		return;
	if (in->state == INTENT_ANSWERED &&
	    spend_status_terminal(in->spend.status) &&
	    strcmp(s->status, in->spend.status) != 0) {
		log_warnx("event=status_regression id=%s from=%s to=%s",
		    in->spend.id, in->spend.status, s->status);
		return;
	}
	if (in->indexed_id && strcmp(s->id, in->spend.id) != 0) {
		log_warnx("event=spend_id_changed id=%s", in->spend.id);
		return;
	}
	changed = in->state != INTENT_ANSWERED ||
	    strcmp(in->spend.status, s->status) != 0;
	was_answered = in->state == INTENT_ANSWERED;
	COPY_TEXT(from, in->spend.status);
	intent_spend_put(in, s);
	in->state = INTENT_ANSWERED;
	index_id(t, in);
	if (strcmp(s->status, "declined") == 0 ||
	    strcmp(s->status, "cancelled") == 0)
		policy_charge_release(&in->charge);
	/* A change after the create's answer (the outcome record's job). */
	if (changed && was_answered && t->journal != NULL)
		jrec_append_status(t->journal, in, from);
	if (changed && t->on_status != NULL)
		t->on_status(in, t->on_status_arg);
}

void
intent_spend_get(const struct intent *in, struct spend_obj *out)
{
	const struct intent_spend *c = &in->spend;

	memset(out, 0, sizeof(*out));
	COPY_TEXT(out->id, c->id);
	COPY_TEXT(out->status, c->status);
	COPY_TEXT(out->decision_reason, c->decision_reason);
	COPY_TEXT(out->budget_period, c->budget_period);
	out->has_remaining = c->has_remaining;
	out->remaining_budget_cents = c->remaining_budget_cents;
	out->remaining_monthly_budget_cents =
	    c->remaining_monthly_budget_cents;
	out->amount_cents = c->amount_cents;
	COPY_TEXT(out->currency, c->currency);
	COPY_TEXT(out->merchant_name, c->merchant_name);
	COPY_TEXT(out->reason, c->reason);
	COPY_TEXT(out->approval_url, c->approval_url);
	COPY_TEXT(out->team_id, c->team_id);
	COPY_TEXT(out->agent_account_id, c->agent_account_id);
	COPY_TEXT(out->decided_at, c->decided_at);
	COPY_TEXT(out->created_at, c->created_at);
	COPY_TEXT(out->updated_at, c->updated_at);
	/* The agent's own key, so that it can retry with it. */
	COPY_TEXT(out->idempotency_key, in->agent_key);
}

void
intent_spend_put(struct intent *in, const struct spend_obj *s)
{
	struct intent_spend *c = &in->spend;
	const char *src[TXT_N];

	COPY_TEXT(c->id, s->id);
	COPY_TEXT(c->status, s->status);
	c->has_remaining = s->has_remaining;
	c->remaining_budget_cents = s->remaining_budget_cents;
	c->remaining_monthly_budget_cents = s->remaining_monthly_budget_cents;
	c->amount_cents = s->amount_cents;
	COPY_TEXT(c->currency, s->currency);
	COPY_TEXT(c->decided_at, s->decided_at);
	COPY_TEXT(c->created_at, s->created_at);
	COPY_TEXT(c->updated_at, s->updated_at);
	src[TXT_AGENT] = in->agent;
	src[TXT_AGENT_KEY] = in->agent_key;
	src[TXT_MERCHANT] = in->merchant_name;
	src[TXT_REASON] = in->reason;
	src[TXT_SP_DECISION_REASON] = s->decision_reason;
	src[TXT_SP_BUDGET_PERIOD] = s->budget_period;
	src[TXT_SP_MERCHANT] = s->merchant_name;
	src[TXT_SP_REASON] = s->reason;
	src[TXT_SP_APPROVAL_URL] = s->approval_url;
	src[TXT_SP_TEAM_ID] = s->team_id;
	src[TXT_SP_AGENT_ACCOUNT_ID] = s->agent_account_id;
	text_pack(in, src);
}

void
intent_set_refused(struct intent *in, const struct msg_error *err)
{
	in->state = INTENT_REFUSED;
	/* Refusals are rare: no room for one in every intent. */
	if (in->refusal == NULL &&
	    (in->refusal = malloc(sizeof(*in->refusal))) == NULL)
		fatal("%s: malloc", __func__);
	*in->refusal = *err;
	policy_charge_release(&in->charge);
}

struct intent *
intent_by_id(struct intent_table *t, const char *id)
{
	struct intent *in;

	/* Holds are rare and operator-paced: a scan is cheap enough. */
	if (strncmp(id, HOLD_ID_PREFIX, strlen(HOLD_ID_PREFIX)) == 0) {
		TAILQ_FOREACH(in, &t->all, age)
			if (strcmp(in->hold_id, id) == 0)
				return in;
		return NULL;
	}

	LIST_FOREACH(in, &t->ids[bucket(t, id)], by_id)
		if (strcmp(in->spend.id, id) == 0)
			return in;
	return NULL;
}

struct intent *
intent_owned(struct intent_table *t, const char *id, uid_t owner)
{
	struct intent *in;

	if ((in = intent_by_id(t, id)) == NULL || in->owner_uid != owner)
		return NULL;
	return in;
}
