/*
 * Unit tests for the webhook receiver's logic (broker/webhook.c):
 * verification before parsing, secret rotation, the legacy opt-in,
 * dedupe on the signed event id, and forward-only transitions.  No
 * listener: webhook_handle() is driven directly with signed bodies.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../../broker/config.h"
#include "../../broker/creds.h"
#include "../../broker/intent.h"
#include "../../broker/webhook.h"
#include "conftext.h"
#include "tap.h"
#include "whsig.h"

#define SPEND_ID	"req_01jwx4k2p0000000000000000a"
#define OTHER_ID	"req_01jwx4k2p0000000000000000b"

static char old_secret[] = "whsec_old_secret_0000";
static char new_secret[] = "whsec_new_secret_1111";
static struct creds_key k_old = { old_secret, sizeof(old_secret) - 1 };
static struct creds_key k_new = { new_secret, sizeof(new_secret) - 1 };

static struct broker_config cfg;
static struct principal pr;
static int64_t now;

static void
setup_config(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.nwebhook_secrets = 2;
	cfg.webhook_secrets[0].key = &k_old;
	cfg.webhook_secrets[1].key = &k_new;
	cfg.webhook_tolerance_s = 300;
	strcpy(cfg.webhook_path, "/webhooks/dino");
	now = (int64_t)time(NULL);
}

static void
event_body(char *buf, size_t len, const char *evt, const char *type,
    const char *id, const char *status, const char *updated, int64_t amount)
{
	snprintf(buf, len, "{\"id\":\"%s\",\"type\":\"%s\",\"occurred_at\":"
	    "\"2026-05-07T12:34:56.000Z\",\"request_id\":\"req_trace_x\","
	    "\"data\":{\"spend\":{\"id\":\"%s\",\"team_id\":\"team_a\","
	    "\"agent_account_id\":\"agent_a\",\"status\":\"%s\","
	    "\"decision_reason\":\"by operator\",\"amount_cents\":%lld,"
	    "\"currency\":\"usd\",\"merchant_name\":\"AWS\",\"reason\":\"r\","
	    "\"decided_at\":null,\"created_at\":\"2026-05-07T12:30:00.000Z\","
	    "\"updated_at\":\"%s\"}}}", evt, type, id, status,
	    (long long)amount, updated);
}

/* Headers for body, signed with secret at time t. */
static void
sign(struct wh_headers *h, char *sig, size_t siglen, const char *secret,
    int64_t t, const char *body, const char *evt, const char *type)
{
	memset(h, 0, sizeof(*h));
	whsig_header(secret, strlen(secret), t, body, strlen(body), sig,
	    siglen);
	h->signature = sig;
	h->event_id = evt;
	h->event_type = type;
}

static struct intent *
add_pending(struct intent_table *t)
{
	struct msg_create_spend req;
	struct spend_obj *s;
	struct intent *in;

	memset(&req, 0, sizeof(req));
	req.amount_cents = 60000;
	strcpy(req.currency, "usd");
	strcpy(req.merchant_name, "AWS");
	strcpy(req.reason, "r");
	in = intent_add(t, "dbk_test", "k1", 1000, &pr, &req, 0);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		abort();
	strcpy(s->id, SPEND_ID);
	strcpy(s->status, "needs_approval");
	s->amount_cents = 60000;
	strcpy(s->currency, "usd");
	strcpy(s->merchant_name, "AWS");
	strcpy(s->agent_account_id, "agent_a");
	strcpy(s->approval_url, "https://app.dino.id/x");
	strcpy(s->updated_at, "2026-05-07T12:30:00.000Z");
	s->has_remaining = 1;
	s->remaining_budget_cents = 5;
	intent_set_spend(t, in, s);
	free(s);
	return in;
}

static void
test_verify(void)
{
	static const char body[] = "{\"id\":\"evt_1\"}";
	struct wh_headers h;
	char sig[WHSIG_HEADER_MAX], two[2 * WHSIG_HEADER_MAX], hex[65];
	const char *why;

	sign(&h, sig, sizeof(sig), new_secret, now, body, "evt_1", "t");
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 0,
	    "a current secret verifies");
	sign(&h, sig, sizeof(sig), old_secret, now, body, "evt_1", "t");
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 0,
	    "the previous secret verifies too (rotation)");
	sign(&h, sig, sizeof(sig), "whsec_wrong", now, body, "evt_1", "t");
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 401,
	    "a wrong secret is 401");
	sign(&h, sig, sizeof(sig), new_secret, now, body, "evt_1", "t");
	CHECK(webhook_verify(&cfg, &h, "{\"id\":\"evt_2\"}", strlen(body),
	    now, &why) == 401, "a changed body is 401");
	sign(&h, sig, sizeof(sig), new_secret, now - 301, body, "evt_1", "t");
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 401,
	    "a stale timestamp is 401");
	sign(&h, sig, sizeof(sig), new_secret, now + 301, body, "evt_1", "t");
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 401,
	    "a future timestamp is 401");
	sign(&h, sig, sizeof(sig), new_secret, now - 299, body, "evt_1", "t");
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 0,
	    "inside the tolerance verifies");

	/* Several v1 entries: any match is enough. */
	whsig_v1_hex(new_secret, strlen(new_secret), now, body, strlen(body),
	    hex);
	snprintf(two, sizeof(two), "t=%lld,v1=%064d,v1=%s", (long long)now, 0,
	    hex);
	h.signature = two;
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 0,
	    "a matching second v1 entry verifies");
	snprintf(two, sizeof(two), "t=%lld,v1=%064d", (long long)now, 0);
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 401,
	    "a forged v1 is 401");
	h.signature = "garbage";
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 401,
	    "a malformed signature is 401");

	/* Headers. */
	sign(&h, sig, sizeof(sig), new_secret, now, body, NULL, "t");
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 400,
	    "no Dino-Event-Id is 400");
	sign(&h, sig, sizeof(sig), new_secret, now, body, "evt 1", "t");
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 400,
	    "a malformed Dino-Event-Id is 400");
	sign(&h, sig, sizeof(sig), new_secret, now, body, "evt_1", "t");
	CHECK(webhook_verify(&cfg, &h, body, WEBHOOK_BODY_MAX + 1, now,
	    &why) == 400, "a body over the cap is 400");

	/* The legacy header: only alone, and only when opted in. */
	whsig_legacy_hex(new_secret, strlen(new_secret), body, strlen(body),
	    hex);
	memset(&h, 0, sizeof(h));
	h.event_id = "evt_1";
	h.event_type = "t";
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 401,
	    "no signature at all is 401");
	h.legacy = hex;
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 401,
	    "legacy alone is 401 by default");
	cfg.webhook_accept_legacy = 1;
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 0,
	    "legacy alone verifies when opted in");
	h.signature = "t=1,v1=00";
	CHECK(webhook_verify(&cfg, &h, body, strlen(body), now, &why) == 401,
	    "a failing Dino-Signature never falls back to legacy");
	cfg.webhook_accept_legacy = 0;
}

static int
deliver(struct webhook *wh, const char *evt, const char *type,
    const char *id, const char *status, const char *updated, int64_t amount,
    const char **outcome)
{
	char body[2048], sig[WHSIG_HEADER_MAX];
	struct wh_headers h;

	event_body(body, sizeof(body), evt, type, id, status, updated, amount);
	sign(&h, sig, sizeof(sig), new_secret, now, body, evt, type);
	return webhook_handle(wh, &h, body, strlen(body), now, outcome);
}

static void
test_handle(void)
{
	struct intent_table *t = intent_table_new();
	struct webhook *wh = webhook_new(NULL, &cfg, t, -1);
	struct intent *in = add_pending(t);
	struct wh_headers h;
	char sig[WHSIG_HEADER_MAX];
	const char *o;
	static const char bad[] = "{\"id\":\"evt_x\",";

	CHECK(deliver(wh, "evt_a1", "spend_request.created", SPEND_ID,
	    "needs_approval", "2026-05-07T12:30:00.000Z", 60000, &o) == 200 &&
	    strcmp(o, "no_change") == 0, "created for a known pending spend");
	CHECK(deliver(wh, "evt_a2", "spend_request.approved", SPEND_ID,
	    "approved", "2026-05-07T12:34:56.000Z", 60000, &o) == 200 &&
	    strcmp(o, "applied") == 0, "approval applied");
	CHECK(strcmp(in->spend.status, "approved") == 0, "status approved");
	CHECK(strcmp(in->spend.approval_url, "") == 0 &&
	    !in->spend.has_remaining,
	    "a decision drops the pre-decision budget and approval_url");
	CHECK(strcmp(in->spend.agent_account_id, "agent_a") == 0,
	    "fields the webhook carries are taken");
	CHECK(deliver(wh, "evt_a2", "spend_request.approved", SPEND_ID,
	    "approved", "2026-05-07T12:34:56.000Z", 60000, &o) == 200 &&
	    strcmp(o, "duplicate") == 0, "a replayed event is a duplicate");
	CHECK(deliver(wh, "evt_a3", "spend_request.declined", SPEND_ID,
	    "declined", "2026-05-07T12:40:00.000Z", 60000, &o) == 200 &&
	    strcmp(o, "regression_refused") == 0 &&
	    strcmp(in->spend.status, "approved") == 0,
	    "a terminal status never changes");
	CHECK(deliver(wh, "evt_a4", "spend_request.created", SPEND_ID,
	    "needs_approval", "2026-05-07T12:30:00.000Z", 60000, &o) == 200 &&
	    strcmp(o, "stale") == 0 && strcmp(in->spend.status, "approved") == 0,
	    "a late created event does not regress");
	CHECK(deliver(wh, "evt_a5", "spend_request.approved", OTHER_ID,
	    "approved", "2026-05-07T12:34:56.000Z", 60000, &o) == 200 &&
	    strcmp(o, "unknown_spend") == 0,
	    "an unknown spend is acknowledged, not applied");
	CHECK(deliver(wh, "evt_a6", "purchase_intent.created", SPEND_ID,
	    "approved", "2026-05-07T12:34:56.000Z", 60000, &o) == 200 &&
	    strcmp(o, "ignored_type") == 0, "an unknown type is acknowledged");
	CHECK(deliver(wh, "evt_a7", "spend_request.approved", SPEND_ID,
	    "declined", "2026-05-07T12:34:56.000Z", 60000, &o) == 200 &&
	    strcmp(o, "inconsistent_status") == 0,
	    "an event whose status contradicts its type is not applied");

	/* Malformed JSON after a valid signature; headers vs body. */
	sign(&h, sig, sizeof(sig), new_secret, now, bad, "evt_x", "t");
	CHECK(webhook_handle(wh, &h, bad, strlen(bad), now, &o) == 400,
	    "malformed JSON after a valid signature is 400");
	{
		char body[2048];

		event_body(body, sizeof(body), "evt_b1",
		    "spend_request.approved", SPEND_ID, "approved",
		    "2026-05-07T12:34:56.000Z", 60000);
		sign(&h, sig, sizeof(sig), new_secret, now, body, "evt_other",
		    "spend_request.approved");
		CHECK(webhook_handle(wh, &h, body, strlen(body), now, &o) ==
		    400, "a Dino-Event-Id unlike the signed id is 400");
		sign(&h, sig, sizeof(sig), "whsec_forged", now, body, "evt_b1",
		    "spend_request.approved");
		CHECK(webhook_handle(wh, &h, body, strlen(body), now, &o) ==
		    401, "a forged delivery is 401");
		CHECK(!webhook_seen(wh, "evt_b1"),
		    "a refused delivery is not remembered");
	}
	webhook_free(wh);
	intent_table_free(t);
}

static void
test_mismatch_and_order(void)
{
	struct intent_table *t = intent_table_new();
	struct webhook *wh = webhook_new(NULL, &cfg, t, -1);
	struct intent *in = add_pending(t);
	const char *o;

	CHECK(deliver(wh, "evt_c1", "spend_request.approved", SPEND_ID,
	    "approved", "2026-05-07T12:34:56.000Z", 99, &o) == 200 &&
	    strcmp(o, "mismatch") == 0 &&
	    strcmp(in->spend.status, "needs_approval") == 0,
	    "another amount under the same id is not applied");
	CHECK(deliver(wh, "evt_c2", "spend_request.created", SPEND_ID,
	    "needs_approval", "2026-05-07T12:00:00.000Z", 60000, &o) == 200 &&
	    strcmp(o, "stale") == 0, "an older pending update is stale");
	CHECK(deliver(wh, "evt_c3", "spend_request.cancelled", SPEND_ID,
	    "cancelled", "2026-05-07T13:00:00.000Z", 60000, &o) == 200 &&
	    strcmp(o, "applied") == 0 &&
	    strcmp(in->spend.status, "cancelled") == 0, "cancelled applied");
	webhook_free(wh);
	intent_table_free(t);
}

static void
test_transition(void)
{
	struct spend_obj a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	strcpy(a.status, "submitting");
	strcpy(b.status, "needs_approval");
	CHECK(webhook_transition(&a, &b) == WH_APPLY, "submitting -> pending");
	strcpy(a.status, "needs_approval");
	strcpy(b.status, "declined");
	CHECK(webhook_transition(&a, &b) == WH_APPLY, "pending -> declined");
	CHECK(webhook_transition(&b, &a) == WH_STALE, "declined -> pending");
	strcpy(a.status, "approved");
	CHECK(webhook_transition(&a, &b) == WH_REGRESS,
	    "approved -> declined refused");
	CHECK(webhook_transition(&a, &a) == WH_SAME, "approved -> approved");
}

static void
test_seen(void)
{
	struct intent_table *t = intent_table_new();
	struct webhook *wh = webhook_new(NULL, &cfg, t, -1);
	char id[32];
	int i, all = 1;

	for (i = 0; i <= WEBHOOK_SEEN_MAX; i++) {
		snprintf(id, sizeof(id), "evt_%d", i);
		webhook_seen_add(wh, id);
	}
	CHECK(!webhook_seen(wh, "evt_0"), "the oldest id is forgotten when full");
	for (i = 1; i <= WEBHOOK_SEEN_MAX; i += 997) {
		snprintf(id, sizeof(id), "evt_%d", i);
		all &= webhook_seen(wh, id);
	}
	CHECK(all, "the newest ids are remembered");
	CHECK(!webhook_seen(wh, "evt_never"), "an unseen id is not seen");
	/* evt_1 is now the oldest: a repeat must not take a slot. */
	snprintf(id, sizeof(id), "evt_%d", WEBHOOK_SEEN_MAX);
	for (i = 0; i < 3; i++)
		webhook_seen_add(wh, id);
	CHECK(webhook_seen(wh, "evt_1") && webhook_seen(wh, id),
	    "an id seen again takes no second slot");
	webhook_free(wh);
	intent_table_free(t);
}

/* The webhook and polling settings of dino-broker.conf(5). */
#define HEAD "instance_id host-a\nuser nobody\n"

static void
test_config(void)
{
	struct config_errors errs;
	struct broker_config *c;
	char dir[] = "/tmp/dino-wh-test.XXXXXX", path[64], text[512];
	int fd;

	c = parse(HEAD, &errs);
	CHECK(c != NULL && c->webhook_listen[0] == '\0' &&
	    strcmp(c->webhook_path, "/webhooks/dino") == 0 &&
	    c->webhook_tolerance_s == 300 && !c->webhook_accept_legacy &&
	    c->poll_min_s == 30 && c->poll_max_s == 60 &&
	    c->agent_conns_per_uid == 32, "defaults");
	config_free(c);
	c = parse(HEAD "webhook_listen unix:/run/x.sock\n"
	    "webhook_secret_file /a\nwebhook_secret_credential b\n"
	    "webhook_secret_file /c\nwebhook_tolerance_s 60\n"
	    "webhook_accept_legacy yes\nwebhook_path /hooks\n"
	    "poll_min_s 1\npoll_max_s 2\nagent_conns_per_uid 20000\n", &errs);
	CHECK(c != NULL && c->nwebhook_secrets == 3 &&
	    c->webhook_secrets[1].source == KEY_CREDENTIAL &&
	    c->webhook_tolerance_s == 60 && c->webhook_accept_legacy &&
	    c->poll_max_s == 2 && c->agent_conns_per_uid == 20000,
	    "every setting, secrets repeated for rotation");
	config_free(c);
	c = parse(HEAD "webhook_listen 127.0.0.1:8556\n"
	    "webhook_secret_file /a\n", &errs);
	CHECK(c != NULL, "a loopback port");
	config_free(c);
	c = parse(HEAD "webhook_listen [::1]:8556\nwebhook_secret_file /a\n",
	    &errs);
	CHECK(c != NULL, "the IPv6 loopback");
	config_free(c);
	CHECK(parse(HEAD "webhook_listen 0.0.0.0:8556\n"
	    "webhook_secret_file /a\n", &errs) == NULL &&
	    has_error(&errs, 3, "loopback"), "a non-loopback address refused");
	CHECK(parse(HEAD "webhook_listen 10.0.0.1:80\n"
	    "webhook_secret_file /a\n", &errs) == NULL &&
	    has_error(&errs, 3, "loopback"), "a private address refused");
	CHECK(parse(HEAD "webhook_listen unix:relative\n"
	    "webhook_secret_file /a\n", &errs) == NULL &&
	    has_error(&errs, 3, "webhook_listen"), "a relative socket refused");
	CHECK(parse(HEAD "webhook_listen 127.0.0.1:8556\n", &errs) == NULL &&
	    has_error(&errs, 3, "no webhook_secret"), "a listener needs a secret");
	CHECK(parse(HEAD "webhook_secret_file /a\n", &errs) == NULL &&
	    has_error(&errs, 3, "without webhook_listen"),
	    "secrets need a listener");
	CHECK(parse(HEAD "poll_min_s 10\npoll_max_s 5\n", &errs) == NULL,
	    "poll_min_s above poll_max_s refused");
	CHECK(parse(HEAD "webhook_tolerance_s 0\n", &errs) == NULL &&
	    has_error(&errs, 3, "webhook_tolerance_s"), "tolerance 0 refused");
	CHECK(parse(HEAD "webhook_path hooks\n", &errs) == NULL,
	    "a relative webhook_path refused");
	CHECK(parse(HEAD "webhook_listen unix:/a\nwebhook_listen unix:/b\n"
	    "webhook_secret_file /a\n", &errs) == NULL &&
	    has_error(&errs, 4, "twice"), "webhook_listen only once");

	/* Loading: a secret must be whsec_ and private. */
	if (mkdtemp(dir) == NULL)
		return;
	snprintf(path, sizeof(path), "%s/s", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, "whsec_abc\n", 10) != 10)
		return;
	close(fd);
	snprintf(text, sizeof(text), HEAD "webhook_listen unix:/x\n"
	    "webhook_secret_file %s\n", path);
	c = parse(text, &errs);
	CHECK(c != NULL && creds_load_all(c, geteuid(), &errs) == 0 &&
	    c->webhook_secrets[0].key != NULL &&
	    strcmp(c->webhook_secrets[0].key->secret, "whsec_abc") == 0,
	    "a secret file is loaded, newline dropped");
	if (c != NULL) {
		creds_free_all(c);
		config_free(c);
	}
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd == -1 || write(fd, "din_test_x\n", 11) != 11)
		return;
	close(fd);
	c = parse(text, &errs);
	CHECK(c != NULL && creds_load_all(c, geteuid(), &errs) == -1 &&
	    has_error(&errs, 4, "whsec_"), "a non-whsec_ secret refused");
	config_free(c);
	chmod(path, 0644);
	c = parse(text, &errs);
	CHECK(c != NULL && creds_load_all(c, geteuid(), &errs) == -1,
	    "a readable secret file refused");
	config_free(c);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	memset(&pr, 0, sizeof(pr));
	setup_config();
	test_verify();
	test_handle();
	test_mismatch_and_order();
	test_transition();
	test_seen();
	test_config();
	return TAP_DONE();
}
