/*
 * Unit tests for local holds and operator state (hold.c, ops.c): the hold
 * id, the held -> submitting / declined state machine, what an agent is
 * shown, pause and revoke, and the replay of operator records.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../../broker/config.h"
#include "../../broker/intent.h"
#include "../../broker/ops.h"
#include "spend.h"
#include "tap.h"

#define T0	1800000000000LL

static struct principal pr;
static struct account acct;
static int pushes;
static char last_status[STATUS_MAX + 1];

static void
on_status(struct intent *in, void *arg)
{
	pushes++;
	snprintf(last_status, sizeof(last_status), "%s", in->spend.status);
}

static struct intent *
new_intent(struct intent_table *t, const char *key, int64_t amount)
{
	struct msg_create_spend r;
	struct intent *in;

	memset(&r, 0, sizeof(r));
	r.caller.uid = 1000;
	r.amount_cents = amount;
	strcpy(r.currency, "usd");
	strcpy(r.merchant_name, "AWS");
	strcpy(r.reason, "r");
	in = intent_add(t, key, "agent-key", 1000, &pr, &r, T0);
	policy_charge_add(&pr, &in->charge, amount, T0);
	return in;
}

static void
test_id(void)
{
	char a[HOLD_ID_LEN + 1], b[HOLD_ID_LEN + 1];

	hold_make_id(a, T0);
	hold_make_id(b, T0);
	CHECK(strlen(a) == HOLD_ID_LEN && strncmp(a, "hold_", 5) == 0,
	    "hold_ + 26");
	CHECK(spend_check_ref(a) == NULL, "accepted as a spend reference");
	CHECK(spend_check_id(a) != NULL, "never taken for Dino's id");
	CHECK(strcmp(a, b) != 0, "random part differs");
	CHECK(strncmp(a, b, 15) == 0, "time part sorts alike");
	CHECK(spend_check_ref("hold_0000000000000000000000000") != NULL,
	    "25 characters refused");
	CHECK(spend_check_ref("hold_0000000000000000000000000u") != NULL,
	    "non-Crockford character refused");
	CHECK(spend_check_ref("req_00000000000000000000000000") == NULL,
	    "req_ ids still accepted");
}

static void
test_wanted(void)
{
	pr.hold_above_cents = 0;
	CHECK(!hold_wanted(&pr, 1000000), "0: never held");
	pr.hold_above_cents = 5000;
	CHECK(!hold_wanted(&pr, 5000), "at the threshold: not held");
	CHECK(hold_wanted(&pr, 5001), "above: held");
}

static void
test_approve(void)
{
	struct intent_table *t = intent_table_new();
	struct intent *in = new_intent(t, "dbk_a", 9000);
	struct spend_obj v;
	char id[HOLD_ID_LEN + 1];
	const char *why;

	hold_make_id(id, T0);
	hold_begin(in, id);
	CHECK(in->state == INTENT_HELD && strcmp(in->spend.status, "held") ==
	    0, "held");
	hold_view(in, NULL, &v);
	CHECK(strcmp(v.id, id) == 0, "agent sees the hold id");
	CHECK(intent_by_id(t, id) == in, "found by hold id");
	CHECK(intent_owned(t, id, 1001) == NULL, "not by another uid");
	CHECK(hold_decide(t, in, HOLD_APPROVE, NULL, T0, &why) == 0 &&
	    in->state == INTENT_SUBMITTING, "approve: submitting");
	CHECK(hold_decide(t, in, HOLD_APPROVE, NULL, T0, &why) == -1,
	    "approve twice refused");
	/* Dino names it. */
	intent_spend_get(in, &v);
	strcpy(v.id, "req_01jq3v8c5x2n4m6p7r9s0t1w2y");
	strcpy(v.status, "approved");
	intent_set_spend(t, in, &v);
	hold_view(in, NULL, &v);
	CHECK(strcmp(v.id, "req_01jq3v8c5x2n4m6p7r9s0t1w2y") == 0,
	    "after Dino named it: Dino's id by default");
	hold_view(in, id, &v);
	CHECK(strcmp(v.id, id) == 0 && strcmp(v.status, "approved") == 0,
	    "asked by hold id: hold id, Dino's status");
	CHECK(intent_by_id(t, id) == in && intent_by_id(t,
	    "req_01jq3v8c5x2n4m6p7r9s0t1w2y") == in, "found by both ids");
	intent_table_free(t);
}

static void
test_deny(void)
{
	struct intent_table *t = intent_table_new();
	struct intent *in = new_intent(t, "dbk_d", 7000);
	char id[HOLD_ID_LEN + 1];
	const char *why;
	int64_t before = pr.usage.held_cents;

	t->on_status = on_status;
	pushes = 0;
	hold_make_id(id, T0);
	hold_begin(in, id);
	CHECK(hold_decide(t, in, HOLD_DENY, "too big", T0 + 5, &why) == 0,
	    "deny");
	CHECK(in->state == INTENT_ANSWERED &&
	    strcmp(in->spend.status, "declined") == 0, "declined");
	CHECK(strcmp(in->spend.decision_reason,
	    "denied by a local operator: too big") == 0, "reason recorded");
	CHECK(in->spend.decided_at[0] != '\0', "decided_at set");
	CHECK(pushes == 1 && strcmp(last_status, "declined") == 0,
	    "status hook ran once (waiters wake)");
	CHECK(pr.usage.held_cents == before - 7000, "charge released");
	CHECK(hold_decide(t, in, HOLD_DENY, NULL, T0, &why) == -1,
	    "deny twice refused");
	in = new_intent(t, "dbk_n", 10);
	CHECK(hold_decide(t, in, HOLD_APPROVE, NULL, T0, &why) == -1 &&
	    strstr(why, "never held") != NULL, "an unheld spend is refused");
	intent_table_free(t);
}

static void
test_ops(void)
{
	struct ops o;
	struct broker_config cfg;
	struct msg_error e;

	memset(&o, 0, sizeof(o));
	memset(&cfg, 0, sizeof(cfg));
	CHECK(ops_check_create(&o, &cfg, &pr, &e) == 0, "allowed");
	CHECK(ops_set_paused(&o, 1) == 1 && ops_set_paused(&o, 1) == 0,
	    "pause changes once");
	CHECK(ops_check_create(&o, &cfg, &pr, &e) == -1 &&
	    e.http_status == 503 && strcmp(e.code, "paused") == 0,
	    "503 paused");
	ops_set_paused(&o, 0);
	cfg.paused = 1;
	CHECK(ops_check_create(&o, &cfg, &pr, &e) == -1,
	    "paused by the configuration");
	cfg.paused = 0;
	CHECK(ops_revoke(&o, "uid:1000") == 1 && ops_revoke(&o, "uid:1000") ==
	    0, "revoke once");
	CHECK(ops_check_create(&o, &cfg, &pr, &e) == -1 &&
	    e.http_status == 403 && strcmp(e.code, "revoked") == 0,
	    "403 revoked");
	CHECK(ops_is_revoked(&o, "uid:1000") && !ops_is_revoked(&o, "uid:1"),
	    "only that principal");
	CHECK(ops_restore(&o, "uid:1000") == 1 && o.nrevoked == 0, "restore");
}

static void
test_replay(void)
{
	struct intent_table *t = intent_table_new();
	struct intent *a = new_intent(t, "dbk_ra", 9000);
	struct intent *d = new_intent(t, "dbk_rd", 9000);
	char ida[HOLD_ID_LEN + 1], idd[HOLD_ID_LEN + 1];
	struct ops o;
	cJSON *f;

	memset(&o, 0, sizeof(o));
	hold_make_id(ida, T0);
	hold_make_id(idd, T0);
	hold_begin(a, ida);
	hold_begin(d, idd);
	f = ops_record("pause", 0, NULL, NULL, NULL);
	CHECK(ops_replay(&o, t, f) == 0 && o.paused, "pause replayed");
	cJSON_Delete(f);
	f = ops_record("revoke", 0, "uid:7", NULL, NULL);
	CHECK(ops_replay(&o, t, f) == 0 && ops_is_revoked(&o, "uid:7"),
	    "revoke replayed");
	cJSON_Delete(f);
	f = ops_record("approve", 0, NULL, a, NULL);
	CHECK(ops_replay(&o, t, f) == 0 && a->state == INTENT_SUBMITTING,
	    "approve replayed: will be sent");
	cJSON_Delete(f);
	f = ops_record("deny", 0, NULL, d, "no");
	CHECK(ops_replay(&o, t, f) == 0 &&
	    strcmp(d->spend.status, "declined") == 0, "deny replayed");
	cJSON_Delete(f);
	f = cJSON_CreateObject();
	CHECK(ops_replay(&o, t, f) == -1, "record without action refused");
	cJSON_Delete(f);
	intent_table_free(t);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	strcpy(pr.id, "uid:1000");
	strcpy(acct.name, "default");
	pr.account = &acct;
	test_id();
	test_wanted();
	test_approve();
	test_deny();
	test_ops();
	test_replay();
	return TAP_DONE();
}
