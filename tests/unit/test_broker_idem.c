/* Unit tests for the idempotency key derivation and intents (intent.c). */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../../broker/config.h"
#include "../../broker/intent.h"
#include "tap.h"

#define T0	1800000000000LL

static int
derived_eq(const char *i1, const char *c1, const char *k1, const char *i2,
    const char *c2, const char *k2)
{
	char a[BROKER_IDEM_KEY_LEN + 1], b[BROKER_IDEM_KEY_LEN + 1];

	intent_derive_key(i1, c1, k1, a);
	intent_derive_key(i2, c2, k2, b);
	return strcmp(a, b) == 0;
}

static void
test_derive(void)
{
	char k[BROKER_IDEM_KEY_LEN + 1], caller[32];
	size_t i;
	int hex = 1;

	intent_derive_key("host-a", "uid:1000", "agent-key-1", k);
	CHECK(strlen(k) == BROKER_IDEM_KEY_LEN && strncmp(k, "dbk_", 4) == 0,
	    "dbk_ prefix and length");
	for (i = 4; i < strlen(k); i++)
		if (strchr("0123456789abcdef", k[i]) == NULL)
			hex = 0;
	CHECK(hex, "lowercase hex");
	CHECK(derived_eq("host-a", "uid:1000", "k", "host-a", "uid:1000", "k"),
	    "deterministic");
	CHECK(!derived_eq("host-a", "uid:1000", "k", "host-b", "uid:1000", "k"),
	    "differs by instance");
	CHECK(!derived_eq("host-a", "uid:1000", "k", "host-a", "uid:1001", "k"),
	    "differs by principal");
	CHECK(!derived_eq("host-a", "uid:1000", "k", "host-a", "uid:1000", "K"),
	    "differs by agent key");
	CHECK(!derived_eq("ab", "c", "k", "a", "bc", "k"),
	    "length prefix: (ab,c) vs (a,bc)");
	CHECK(!derived_eq("h", "uid:1", "0k", "h", "uid:10", "k"),
	    "length prefix: principal/key boundary");
	CHECK(!derived_eq("", "", "abc", "", "abc", ""),
	    "length prefix: empty fields");
	intent_caller_id(1000, caller, sizeof(caller));
	CHECK(strcmp(caller, "uid:1000") == 0, "caller id");
	intent_derive_key("host-a", caller, "k", k);
	CHECK(strstr(k, "host-a") == NULL && strstr(k, "uid") == NULL,
	    "derived key reveals no input");
}

static void
test_auto_key(void)
{
	char a[IDEMPOTENCY_KEY_MAX + 1], b[IDEMPOTENCY_KEY_MAX + 1];

	intent_auto_key(a, sizeof(a));
	intent_auto_key(b, sizeof(b));
	CHECK(strncmp(a, "auto-", 5) == 0 && strlen(a) == 5 + 32,
	    "auto key shape");
	CHECK(strcmp(a, b) != 0, "auto keys differ");
}

static void
req_init(struct msg_create_spend *r, int64_t amount, const char *merchant,
    const char *reason)
{
	memset(r, 0, sizeof(*r));
	r->caller.uid = 1000;
	r->amount_cents = amount;
	strcpy(r->currency, "usd");
	snprintf(r->merchant_name, sizeof(r->merchant_name), "%s", merchant);
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

/* Intents belong to a principal; the tests need one, with no account. */
static struct principal test_pr;

static void
test_match(void)
{
	struct intent_table *t = intent_table_new();
	struct msg_create_spend r, r2;
	struct intent *in, *found;
	struct spend_obj v;
	char k[BROKER_IDEM_KEY_LEN + 1];

	intent_derive_key("host-a", "uid:1000", "key-1", k);
	req_init(&r, 100, "AWS", "compute");
	CHECK(intent_match(t, k, &r, &found) == INTENT_MATCH_NONE &&
	    found == NULL, "unknown key: new");
	in = intent_add(t, k, "key-1", 1000, &test_pr, &r, T0);
	CHECK(in != NULL, "added");
	intent_spend_get(in, &v);
	CHECK(strcmp(v.status, "submitting") == 0 &&
	    strcmp(v.idempotency_key, "key-1") == 0 &&
	    strcmp(v.merchant_name, "AWS") == 0 &&
	    strcmp(v.reason, "compute") == 0 && v.amount_cents == 100 &&
	    strcmp(v.currency, "usd") == 0 && v.created_at[0] != '\0',
	    "new intent is submitting");
	CHECK(intent_match(t, k, &r, &found) == INTENT_MATCH_REPLAY &&
	    found == in, "same request: replay");
	r2 = r;
	r2.amount_cents = 101;
	CHECK(intent_match(t, k, &r2, &found) == INTENT_MATCH_CONFLICT,
	    "different amount: conflict");
	r2 = r;
	strcpy(r2.currency, "eur");
	CHECK(intent_match(t, k, &r2, &found) == INTENT_MATCH_CONFLICT,
	    "different currency: conflict");
	req_init(&r2, 100, "aws", "compute");
	CHECK(intent_match(t, k, &r2, &found) == INTENT_MATCH_CONFLICT,
	    "merchant compared exactly: conflict");
	req_init(&r2, 100, "AWS", "compute!");
	CHECK(intent_match(t, k, &r2, &found) == INTENT_MATCH_CONFLICT,
	    "different reason: conflict");
	r2 = r;
	strcpy(r2.caller.agent, "other-label");
	CHECK(intent_match(t, k, &r2, &found) == INTENT_MATCH_REPLAY,
	    "agent label is not part of the request");
	intent_table_free(t);
}

static void
test_status_forward(void)
{
	struct intent_table *t = intent_table_new();
	struct msg_create_spend r;
	struct spend_obj s, v;
	struct intent *in;

	req_init(&r, 100, "AWS", "");
	in = intent_add(t, "dbk_1", "key-1", 1000, &test_pr, &r, T0);
	intent_spend_get(in, &s);
	strcpy(s.id, "req_01arz3ndektsv4rrffq69g5fav");
	strcpy(s.status, "needs_approval");
	strcpy(s.idempotency_key, "");
	intent_set_spend(t, in, &s);
	intent_spend_get(in, &v);
	CHECK(in->state == INTENT_ANSWERED &&
	    strcmp(v.status, "needs_approval") == 0 &&
	    strcmp(v.idempotency_key, "key-1") == 0,
	    "answered, agent key kept");
	CHECK(intent_by_id(t, s.id) == in, "indexed by id");
	strcpy(s.status, "approved");
	intent_set_spend(t, in, &s);
	CHECK(strcmp(in->spend.status, "approved") == 0, "moves forward");
	strcpy(s.status, "needs_approval");
	intent_set_spend(t, in, &s);
	CHECK(strcmp(in->spend.status, "approved") == 0,
	    "never moves backwards");
	strcpy(s.status, "declined");
	intent_set_spend(t, in, &s);
	CHECK(strcmp(in->spend.status, "approved") == 0,
	    "a terminal status never changes");
	intent_table_free(t);
}

/* The compact text block: every field back at full length, exactly. */
static void
test_text(void)
{
	struct intent_table *t = intent_table_new();
	struct msg_create_spend r;
	struct spend_obj s, v;
	struct intent *in;

	req_init(&r, 100, "AWS", "");
	memset(r.reason, 'r', REASON_MAX);
	memset(r.caller.agent, 'a', AGENT_LABEL_MAX);
	in = intent_add(t, "dbk_t", "key-1", 1000, &test_pr, &r, T0);
	CHECK(strlen(in->reason) == REASON_MAX &&
	    strlen(in->agent) == AGENT_LABEL_MAX &&
	    in->spend.reason == in->reason &&
	    in->spend.merchant_name == in->merchant_name,
	    "full-length fields; the spend shares the request's text");
	intent_spend_get(in, &s);
	strcpy(s.id, "req_01arz3ndektsv4rrffq69g5fav");
	strcpy(s.status, "needs_approval");
	strcpy(s.merchant_name, "AWS EMEA");
	memset(s.approval_url, 'u', APPROVAL_URL_MAX);
	memset(s.decision_reason, 'd', DECISION_REASON_MAX);
	strcpy(s.team_id, "team_1");
	strcpy(s.agent_account_id, "agent_1");
	strcpy(s.budget_period, "monthly");
	s.has_remaining = 1;
	s.remaining_budget_cents = 5;
	s.remaining_monthly_budget_cents = -7;
	intent_set_spend(t, in, &s);
	intent_spend_get(in, &v);
	CHECK(memcmp(&s, &v, sizeof(s)) == 0, "spend_obj round trip");
	CHECK(strcmp(in->merchant_name, "AWS") == 0 &&
	    strcmp(in->spend.merchant_name, "AWS EMEA") == 0 &&
	    strlen(in->reason) == REASON_MAX && strlen(in->agent_key) == 5,
	    "request kept apart from what Dino said");
	intent_table_free(t);
}

static void
test_eviction(void)
{
	struct intent_table *t = intent_table_new();
	struct msg_create_spend r;
	struct msg_error e;
	struct intent *a, *b, *c;

	t->max = 2;
	req_init(&r, 100, "AWS", "");
	a = intent_add(t, "dbk_a", "a", 1000, &test_pr, &r, T0);
	b = intent_add(t, "dbk_b", "b", 1000, &test_pr, &r, T0);
	CHECK(intent_add(t, "dbk_c", "c", 1000, &test_pr, &r, T0) == NULL,
	    "full of unfinished intents: refused");
	memset(&e, 0, sizeof(e));
	e.http_status = 400;
	strcpy(e.code, "invalid_request");
	intent_set_refused(a, &e);
	c = intent_add(t, "dbk_c", "c", 1000, &test_pr, &r, T0);
	CHECK(c != NULL && t->n == 2, "finished intent evicted for room");
	CHECK(intent_match(t, "dbk_a", &r, &a) == INTENT_MATCH_NONE &&
	    intent_match(t, "dbk_b", &r, &a) == INTENT_MATCH_REPLAY,
	    "the finished one went, the pending one stayed");
	(void)b;
	intent_table_free(t);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_derive();
	test_auto_key();
	test_match();
	test_status_forward();
	test_text();
	test_eviction();
	return TAP_DONE();
}
