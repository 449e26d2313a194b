/* Unit tests for broker/policy.c and the ownership rule of intent.c. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../../broker/config.h"
#include "../../broker/intent.h"
#include "../../broker/policy.h"
#include "tap.h"

#define MIN	(60LL * 1000)
#define DAY	(24LL * 60 * MIN)
#define T0	1800000000000LL		/* a wall-clock time in ms */

static const char conf[] =
    "instance_id host-a\n"
    "user nobody\n"
    "account a {\n key_file /k\n}\n"
    "principal uid 1000 {\n"
    "  account a\n"
    "  max_amount_cents 5000\n"
    "  daily_cap_cents 10000\n"
    "  spends_per_minute 3\n"
    "  currencies usd eur\n"
    "  merchants_allow AWS \"Google Cloud\" casino\n"
    "  merchants_deny Casino\n"
    "}\n"
    "principal uid 1001 {\n  account a\n  allowed no\n}\n"
    "principal user root {\n  account a\n}\n"
    "principal uid 0 {\n  account a\n}\n"
    "principal group root {\n  account a\n}\n"
    "principal uid 1002 {\n  account a\n}\n";

static struct broker_config *cfg;

static void
req_init(struct msg_create_spend *r, int64_t amount, const char *cur,
    const char *merchant)
{
	memset(r, 0, sizeof(*r));
	r->caller.uid = 1000;
	r->amount_cents = amount;
	snprintf(r->currency, sizeof(r->currency), "%s", cur);
	snprintf(r->merchant_name, sizeof(r->merchant_name), "%s", merchant);
}

static int
check(struct principal *pr, int64_t amount, const char *cur,
    const char *merchant, int64_t now, struct msg_error *err)
{
	struct msg_create_spend r;

	req_init(&r, amount, cur, merchant);
	return policy_check_spend(cfg, pr, &r, now, err);
}

static int
denied(int rc, const struct msg_error *e, uint32_t status, const char *code,
    const char *words)
{
	return rc == -1 && e->http_status == status &&
	    strcmp(e->code, code) == 0 && strstr(e->message, words) != NULL;
}

static void
test_lookup(void)
{
	struct principal *pr;

	pr = policy_principal_for(cfg, 1000, 1000);
	CHECK(pr != NULL && strcmp(pr->id, "uid:1000") == 0, "uid principal");
	CHECK(policy_principal_for(cfg, 4242, 4242) == NULL,
	    "unknown uid refused");
	pr = policy_principal_for(cfg, 0, 0);
	CHECK(pr != NULL && strcmp(pr->id, "uid:0") == 0,
	    "uid principal before user principal");
	pr = policy_principal_for(cfg, 4242, 0);
	CHECK(pr != NULL && strcmp(pr->id, "group:root") == 0,
	    "group principal by the caller's gid");
	pr = policy_principal_for(cfg, 1002, 0);
	CHECK(pr != NULL && strcmp(pr->id, "uid:1002") == 0,
	    "uid principal before group principal");
}

static void
test_rules(void)
{
	struct principal *pr = policy_principal_for(cfg, 1000, 1000);
	struct msg_error e;

	CHECK(check(pr, 5000, "usd", "AWS", T0, &e) == 0,
	    "amount at max allowed");
	CHECK(denied(check(pr, 5001, "usd", "AWS", T0, &e), &e, 403,
	    "policy_denied", "max_amount_cents"), "amount above max denied");
	CHECK(check(pr, 1, "eur", "AWS", T0, &e) == 0, "second currency ok");
	CHECK(denied(check(pr, 1, "gbp", "AWS", T0, &e), &e, 403,
	    "policy_denied", "currency gbp"), "currency not allowed");
	CHECK(check(pr, 1, "usd", "aws", T0, &e) == 0,
	    "allow list is case-insensitive");
	CHECK(check(pr, 1, "usd", "GOOGLE CLOUD", T0, &e) == 0,
	    "allow list with spaces, case-insensitive");
	CHECK(denied(check(pr, 1, "usd", "AWS EC2", T0, &e), &e, 403,
	    "policy_denied", "allow list"), "allow list is an exact match");
	CHECK(denied(check(pr, 1, "usd", "Azure", T0, &e), &e, 403,
	    "policy_denied", "allow list"), "merchant not on allow list");
	CHECK(denied(check(pr, 1, "usd", "CASINO", T0, &e), &e, 403,
	    "policy_denied", "deny list"),
	    "deny list wins over allow list, case-insensitive");
	pr = policy_principal_for(cfg, 1001, 1001);
	CHECK(denied(check(pr, 1, "usd", "AWS", T0, &e), &e, 403,
	    "policy_denied", "may not spend"), "allowed no");
	pr = policy_principal_for(cfg, 1002, 1002);
	CHECK(check(pr, 1, "usd", "Anything", T0, &e) == 0,
	    "no allow list: any merchant");
	cfg->paused = 1;
	CHECK(denied(check(pr, 1, "usd", "AWS", T0, &e), &e, 503, "paused",
	    "paused"), "global pause");
	cfg->paused = 0;
}

static void
test_daily_cap(void)
{
	struct principal *pr = policy_principal_for(cfg, 1000, 1000);
	struct policy_charge c[4];
	struct msg_error e;

	policy_charge_add(pr, &c[0], 5000, T0);
	policy_charge_add(pr, &c[1], 4000, T0 + 2 * MIN);
	CHECK(check(pr, 1000, "usd", "AWS", T0 + 3 * MIN, &e) == 0,
	    "cap reached exactly is allowed");
	CHECK(denied(check(pr, 1001, "usd", "AWS", T0 + 3 * MIN, &e), &e,
	    403, "policy_denied", "24 h cap"), "one cent above cap denied");
	policy_charge_release(&c[1]);
	CHECK(check(pr, 5000, "usd", "AWS", T0 + 3 * MIN, &e) == 0,
	    "declined spend released from the cap");
	policy_charge_release(&c[1]);
	CHECK(pr->usage.held_cents == 5000, "release is idempotent");
	CHECK(denied(check(pr, 5001 - 1 + 1, "usd", "AWS", T0 + 3 * MIN, &e),
	    &e, 403, "policy_denied", "max_amount"), "max still applies");
	policy_charge_add(pr, &c[2], 5000, T0 + 4 * MIN);
	CHECK(denied(check(pr, 1, "usd", "AWS", T0 + DAY - 1, &e), &e, 403,
	    "policy_denied", "24 h cap"), "charge counts until 24 h");
	CHECK(check(pr, 5000, "usd", "AWS", T0 + DAY, &e) == 0,
	    "charge leaves the window at 24 h");
	CHECK(pr->usage.held_cents == 5000 && pr->usage.count == 2,
	    "pruned the oldest charge only");
	policy_charge_unlink(&c[1]);
	policy_charge_unlink(&c[2]);
	CHECK(pr->usage.held_cents == 0 && pr->usage.count == 0 &&
	    pr->usage.head == NULL && pr->usage.tail == NULL, "unlink all");
}

static void
test_rate(void)
{
	struct principal *pr = policy_principal_for(cfg, 1000, 1000);
	struct policy_charge c[4];
	struct msg_error e;
	size_t i;

	for (i = 0; i < 3; i++)
		policy_charge_add(pr, &c[i], 1, T0 + (int64_t)i * 1000);
	policy_charge_release(&c[0]);
	CHECK(denied(check(pr, 1, "usd", "AWS", T0 + 2000, &e), &e, 429,
	    "rate_limited", "in one minute"),
	    "fourth spend in a minute limited (released ones count)");
	CHECK(denied(check(pr, 1, "usd", "AWS", T0 + MIN - 1, &e), &e, 429,
	    "rate_limited", "minute"), "still limited 1 ms before 60 s");
	CHECK(check(pr, 1, "usd", "AWS", T0 + MIN, &e) == 0,
	    "the oldest leaves the minute at 60 s");
	for (i = 0; i < 3; i++)
		policy_charge_unlink(&c[i]);
}

static void
test_ownership(void)
{
	struct intent_table *t = intent_table_new();
	struct principal *pr = policy_principal_for(cfg, 1000, 1000);
	struct msg_create_spend r;
	struct spend_obj s;
	struct intent *in;
	const char *id = "req_01arz3ndektsv4rrffq69g5fav";

	req_init(&r, 100, "usd", "AWS");
	in = intent_add(t, "dbk_x", "k", 1000, pr, &r, T0);
	CHECK(intent_owned(t, id, 1000) == NULL, "no id yet: not found");
	intent_spend_get(in, &s);
	snprintf(s.id, sizeof(s.id), "%s", id);
	snprintf(s.status, sizeof(s.status), "approved");
	intent_set_spend(t, in, &s);
	CHECK(intent_owned(t, id, 1000) == in, "owner sees its spend");
	CHECK(intent_owned(t, id, 1001) == NULL,
	    "another uid does not (404 like unknown)");
	CHECK(intent_owned(t, "req_01arz3ndektsv4rrffq69g5faw", 1000) == NULL,
	    "unknown id not found");
	intent_table_free(t);
}

int
main(void)
{
	struct config_errors errs;

	if (sodium_init() < 0)
		return 1;
	if ((cfg = config_parse("policy.conf", conf, strlen(conf),
	    &errs)) == NULL) {
		config_errors_print(&errs);
		return 1;
	}
	test_lookup();
	test_rules();
	test_daily_cap();
	test_rate();
	test_ownership();
	config_free(cfg);
	return TAP_DONE();
}
