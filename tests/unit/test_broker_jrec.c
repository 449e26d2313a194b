/*
 * Unit tests for the spend records (broker/jrec.c): the exact bytes of an
 * intent, an outcome (a spend and a refusal) and a status record as they
 * reach the journal, strings that need escaping and integers on both
 * sides of what "%1.15g" prints as plain digits included.  The journal on
 * disk is the system of record: its bytes never change by accident.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <sodium.h>

#include "../../broker/config.h"
#include "../../broker/dino.h"
#include "../../broker/intent.h"
#include "../../broker/journal.h"
#include "../../broker/jrec.h"
#include "tap.h"

#define T0	1800000000000LL

static char dir[] = "/tmp/dino-jrec-test.XXXXXX";

static void
durable_cb(int ok, uint64_t seq, void *arg)
{
	*(int *)arg = ok;
}

static const char *intent_fields =
    "{\"key\":\"dbk_pin\",\"principal\":\"uid:1000\",\"caller\":\"uid:1000\","
    "\"account\":\"main \\\"acct\\\"\",\"agent\":\"bot\\\\1\\ttab\","
    "\"agent_key\":\"k\\u0001\\u001f\",\"amount_cents\":123456789012,"
    "\"currency\":\"usd\",\"merchant_name\":\"Caf\xc3\xa9 \\\"A\\\"\","
    "\"reason\":\"line\\nbreak /slash\",\"created_ms\":1800000000000}";

static const char *outcome_fields =
    "{\"key\":\"dbk_pin\",\"http_status\":201,\"attempts\":2,"
    "\"dino_request_id\":\"req_1\",\"result\":\"spend\",\"spend\":{"
    "\"id\":\"sp_1\",\"status\":\"needs_approval\",\"decision_reason\":\"ok \\\"y\\\"\","
    "\"budget_period\":\"monthly\",\"remaining_budget_cents\":-5,"
    "\"remaining_monthly_budget_cents\":12345678901234568,"
    "\"amount_cents\":123456789012,\"currency\":\"usd\","
    "\"merchant_name\":\"Caf\xc3\xa9 \\\"A\\\"\","
    "\"reason\":\"line\\nbreak /slash\",\"approval_url\":\"https://x/a?b=1\","
    "\"team_id\":\"team_1\",\"agent_account_id\":\"acct_1\","
    "\"decided_at\":\"2027-01-15T08:00:00.000Z\","
    "\"created_at\":\"2027-01-15T08:00:00.000Z\","
    "\"updated_at\":\"2027-01-15T08:00:01.000Z\"}}";

static const char *refused_fields =
    "{\"key\":\"dbk_ref\",\"http_status\":422,\"attempts\":1,"
    "\"dino_request_id\":\"req_2\",\"result\":\"refused\",\"error\":{"
    "\"http_status\":422,\"code\":\"over_budget\","
    "\"message\":\"no \\\"room\\\" left\"}}";

static const char *status_fields =
    "{\"key\":\"dbk_pin\",\"id\":\"sp_1\",\"from\":\"needs_approval\","
    "\"to\":\"approved\",\"spend\":{\"id\":\"sp_1\","
    "\"status\":\"approved\","
    "\"decision_reason\":\"ok \\\"y\\\"\",\"budget_period\":\"monthly\","
    "\"remaining_budget_cents\":-5,"
    "\"remaining_monthly_budget_cents\":12345678901234568,"
    "\"amount_cents\":123456789012,\"currency\":\"usd\","
    "\"merchant_name\":\"Caf\xc3\xa9 \\\"A\\\"\","
    "\"reason\":\"line\\nbreak /slash\",\"approval_url\":\"https://x/a?b=1\","
    "\"team_id\":\"team_1\",\"agent_account_id\":\"acct_1\","
    "\"decided_at\":\"2027-01-15T08:00:00.000Z\","
    "\"created_at\":\"2027-01-15T08:00:00.000Z\","
    "\"updated_at\":\"2027-01-15T09:00:00.000Z\"}}";

/* The fields member of line n (from 1) of the first segment, and its type. */
static int
line_fields(int n, const char *type, char *out, size_t outlen)
{
	char path[256], line[8192], head[64];
	const char *f, *p;
	FILE *fp;
	int i;

	snprintf(path, sizeof(path), "%s/journal-00000000000000000001.jsonl",
	    dir);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if (fgets(line, sizeof(line), fp) == NULL) {
			fclose(fp);
			return -1;
		}
	fclose(fp);
	snprintf(head, sizeof(head), "{\"seq\":%d,\"ts\":\"", n);
	if (strncmp(line, head, strlen(head)) != 0)
		return -1;
	/* "2026-11-28T12:00:00.000Z" */
	p = line + strlen(head) + 24;
	snprintf(head, sizeof(head), "\",\"type\":\"%s\",\"fields\":", type);
	if (strncmp(p, head, strlen(head)) != 0)
		return -1;
	f = p + strlen(head);
	if ((p = strstr(f, ",\"prev\":\"")) == NULL ||
	    (size_t)(p - f) >= outlen)
		return -1;
	memcpy(out, f, (size_t)(p - f));
	out[p - f] = '\0';
	return 0;
}

static void
spend_init(struct spend_obj *s)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->id, "sp_1");
	strcpy(s->status, "needs_approval");
	strcpy(s->decision_reason, "ok \"y\"");
	strcpy(s->budget_period, "monthly");
	s->has_remaining = 1;
	s->remaining_budget_cents = -5;
	s->remaining_monthly_budget_cents = 12345678901234567LL;
	s->amount_cents = 123456789012LL;
	strcpy(s->currency, "usd");
	strcpy(s->merchant_name, "Caf\xc3\xa9 \"A\"");
	strcpy(s->reason, "line\nbreak /slash");
	strcpy(s->approval_url, "https://x/a?b=1");
	strcpy(s->team_id, "team_1");
	strcpy(s->agent_account_id, "acct_1");
	strcpy(s->decided_at, "2027-01-15T08:00:00.000Z");
	strcpy(s->created_at, "2027-01-15T08:00:00.000Z");
	strcpy(s->updated_at, "2027-01-15T08:00:01.000Z");
}

static void
test_record_bytes(void)
{
	struct event_base *base = event_base_new();
	struct intent_table *t = intent_table_new();
	struct journal_options o;
	struct msg_create_spend req;
	struct journal_summary sum;
	struct journal_fault fault;
	struct principal pr;
	struct account acct;
	struct dino_result res;
	struct intent *in, *ref;
	struct spend_obj s;
	char err[512], got[8192];
	int ok = -1;

	memset(&pr, 0, sizeof(pr));
	memset(&acct, 0, sizeof(acct));
	strcpy(pr.id, "uid:1000");
	strcpy(acct.name, "main \"acct\"");
	pr.account = &acct;
	memset(&req, 0, sizeof(req));
	req.caller.uid = 1000;
	strcpy(req.caller.agent, "bot\\1\ttab");
	req.amount_cents = 123456789012LL;
	strcpy(req.currency, "usd");
	strcpy(req.merchant_name, "Caf\xc3\xa9 \"A\"");
	strcpy(req.reason, "line\nbreak /slash");

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.segment_bytes = 1 << 20;
	o.fsync = 1;
	if (base == NULL || (t->journal = journal_open(base, &o, 0, NULL, NULL,
	    err, sizeof(err))) == NULL) {
		printf("# %s\n", err);
		CHECK(0, "journal opens");
		return;
	}
	in = intent_add(t, "dbk_pin", "k\x01\x1f", 1000, &pr, &req, T0);
	CHECK(intent_record_durable(t->journal, in, durable_cb, &ok) == 0,
	    "intent queued");

	memset(&res, 0, sizeof(res));
	res.outcome = DINO_OK;
	res.http_status = 201;
	res.attempts = 2;
	strcpy(res.request_id, "req_1");
	spend_init(&res.spend);
	intent_set_spend(t, in, &res.spend);
	jrec_append_outcome(t->journal, in, &res);

	ref = intent_add(t, "dbk_ref", "k2", 1000, &pr, &req, T0);
	memset(&res, 0, sizeof(res));
	res.outcome = DINO_REFUSED;
	res.http_status = 422;
	res.attempts = 1;
	strcpy(res.request_id, "req_2");
	res.err.http_status = 422;
	strcpy(res.err.code, "over_budget");
	strcpy(res.err.message, "no \"room\" left");
	intent_set_refused(ref, &res.err);
	jrec_append_outcome(t->journal, ref, &res);

	spend_init(&s);
	strcpy(s.status, "approved");
	strcpy(s.updated_at, "2027-01-15T09:00:00.000Z");
	intent_set_spend(t, in, &s);

	CHECK(journal_flush(t->journal) == 0 && ok == 1, "records written");
	CHECK(line_fields(1, JREC_INTENT, got, sizeof(got)) == 0 &&
	    strcmp(got, intent_fields) == 0, "intent record bytes");
	if (strcmp(got, intent_fields) != 0)
		printf("# got %s\n", got);
	CHECK(line_fields(2, JREC_OUTCOME, got, sizeof(got)) == 0 &&
	    strcmp(got, outcome_fields) == 0, "outcome record bytes (spend)");
	if (strcmp(got, outcome_fields) != 0)
		printf("# got %s\n", got);
	CHECK(line_fields(3, JREC_OUTCOME, got, sizeof(got)) == 0 &&
	    strcmp(got, refused_fields) == 0,
	    "outcome record bytes (refusal)");
	if (strcmp(got, refused_fields) != 0)
		printf("# got %s\n", got);
	CHECK(line_fields(4, JREC_STATUS, got, sizeof(got)) == 0 &&
	    strcmp(got, status_fields) == 0, "status record bytes");
	if (strcmp(got, status_fields) != 0)
		printf("# got %s\n", got);
	journal_close(t->journal);
	t->journal = NULL;
	CHECK(journal_verify(dir, NULL, NULL, &sum, &fault) == 0 &&
	    sum.records == 4, "the chain verifies");
	intent_table_free(t);
	event_base_free(base);
}

int
main(void)
{
	char cmd[512];

	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	test_record_bytes();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# cleanup failed\n");
	return TAP_DONE();
}
