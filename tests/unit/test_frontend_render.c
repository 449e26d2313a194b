/*
 * Unit tests of the frontend's JSON answers (frontend/render.c) and tool
 * descriptors (frontend/tools.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../../frontend/frontend.h"
#include "dinolimits.h"
#include "tap.h"

static cJSON *
parsed(char *s)
{
	cJSON *j = s != NULL ? cJSON_Parse(s) : NULL;

	cJSON_free(s);
	return j;
}

static const cJSON *
get(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

static void
fill_spend(struct msg_spend *sp, const char *status)
{
	memset(sp, 0, sizeof(*sp));
	snprintf(sp->spend.id, sizeof(sp->spend.id), "%s",
	    "req_01hzz0000000000000000000ab");
	snprintf(sp->spend.status, sizeof(sp->spend.status), "%s", status);
	sp->spend.amount_cents = 1200;
	memcpy(sp->spend.currency, "usd", 4);
	memcpy(sp->spend.merchant_name, "AWS \"quoted\"", 13);
	memcpy(sp->spend.created_at, "2026-05-07T12:34:56.000Z", 25);
}

static void
test_error(void)
{
	cJSON *j = parsed(fe_render_error("invalid_request",
	    "merchant_name: \"x\"\n"));
	const cJSON *e = get(j, "error");

	CHECK(e != NULL && cJSON_IsString(get(e, "code")) &&
	    strcmp(get(e, "code")->valuestring, "invalid_request") == 0,
	    "error code");
	CHECK(e != NULL && strcmp(get(e, "message")->valuestring,
	    "merchant_name: \"x\"\n") == 0, "error message escaped and intact");
	CHECK(cJSON_GetArraySize(j) == 1 && cJSON_GetArraySize(e) == 2,
	    "error has exactly error.code and error.message");
	cJSON_Delete(j);
}

static void
test_spend_pending(void)
{
	struct msg_spend sp;
	cJSON *j;
	int status = 0;

	fill_spend(&sp, "needs_approval");
	memcpy(sp.spend.approval_url, "https://dino.example/a/1", 25);
	j = parsed(fe_render_spend(&sp, &status));
	CHECK(j != NULL && status == 200, "needs_approval is 200");
	CHECK(cJSON_IsNull(get(j, "decided_at")), "decided_at null while pending");
	CHECK(cJSON_IsNull(get(j, "decision_reason")), "empty string is null");
	CHECK(cJSON_IsString(get(j, "approval_url")), "approval_url when set");
	CHECK(get(j, "remaining_budget_cents") == NULL &&
	    get(j, "remaining_monthly_budget_cents") == NULL,
	    "no remaining_* without has_remaining");
	CHECK(get(j, "idempotency_key") == NULL, "no key when none given");
	CHECK(get(j, "replayed") == NULL && get(j, "timed_out") == NULL,
	    "no flags when unset");
	CHECK(strcmp(get(j, "merchant_name")->valuestring, "AWS \"quoted\"") == 0,
	    "quotes survive");
	CHECK(cJSON_IsNumber(get(j, "amount_cents")) &&
	    get(j, "amount_cents")->valuedouble == 1200, "amount number");
	cJSON_Delete(j);
}

static void
test_spend_other(void)
{
	struct msg_spend sp;
	char *s;
	cJSON *j;
	int status = 0;

	fill_spend(&sp, "approved");
	sp.spend.has_remaining = 1;
	sp.spend.remaining_budget_cents = 1000000000000000LL;
	sp.spend.remaining_monthly_budget_cents = -5;
	memcpy(sp.spend.decided_at, "2026-05-07T12:34:57.000Z", 25);
	sp.replayed = 1;
	s = fe_render_spend(&sp, &status);
	CHECK(s != NULL && strstr(s, "\"remaining_budget_cents\":"
	    "1000000000000000") != NULL, "10^15 printed as an integer");
	j = parsed(s);
	CHECK(status == 200 && get(j, "approval_url") == NULL,
	    "approved: 200, no approval_url");
	CHECK(cJSON_IsString(get(j, "decided_at")), "decided_at when set");
	CHECK(cJSON_IsNumber(get(j, "remaining_monthly_budget_cents")),
	    "remaining when has_remaining");
	CHECK(cJSON_IsTrue(get(j, "replayed")), "replayed flag");
	cJSON_Delete(j);

	fill_spend(&sp, "submitting");
	memcpy(sp.spend.idempotency_key, "k-1", 4);
	j = parsed(fe_render_spend(&sp, &status));
	CHECK(status == 202, "submitting is 202");
	CHECK(get(j, "idempotency_key") != NULL &&
	    strcmp(get(j, "idempotency_key")->valuestring, "k-1") == 0,
	    "submitting carries the key");
	cJSON_Delete(j);
}

static void
test_balance(void)
{
	struct msg_balance b;
	cJSON *j;

	memset(&b, 0, sizeof(b));
	memcpy(b.currency, "usd", 4);
	b.has[BAL_WALLET_AVAILABLE] = 1;
	b.value[BAL_WALLET_AVAILABLE] = 500000;
	b.has[BAL_REMAINING_MONTHLY] = 1;
	b.value[BAL_REMAINING_MONTHLY] = 0;
	j = parsed(fe_render_balance(&b));
	CHECK(j != NULL && cJSON_GetArraySize(j) == 3, "only present fields");
	CHECK(get(j, "wallet_available_cents")->valuedouble == 500000 &&
	    get(j, "remaining_monthly_budget_cents")->valuedouble == 0,
	    "values and names");
	CHECK(get(j, "budget_period") == NULL && get(j, "spent_cents") == NULL,
	    "absent fields absent");
	cJSON_Delete(j);
	j = parsed(fe_render_health(0));
	CHECK(j != NULL && strcmp(get(j, "broker")->valuestring,
	    "disconnected") == 0 && strcmp(get(j, "status")->valuestring,
	    "ok") == 0, "health disconnected");
	cJSON_Delete(j);
}

/* Cents are printed digit by digit: the edges of int64_t. */
static void
test_cents_edges(void)
{
	static const struct {
		int64_t		 v;
		const char	*text;
	} cases[] = {
		{ 0, "\"budget_cents\":0}" },
		{ 7, "\"budget_cents\":7}" },
		{ -1, "\"budget_cents\":-1}" },
		{ 1000000000000000LL, "\"budget_cents\":1000000000000000}" },
		{ INT64_MAX, "\"budget_cents\":9223372036854775807}" },
		{ INT64_MIN, "\"budget_cents\":-9223372036854775808}" },
	};
	struct msg_balance b;
	char *s, name[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&b, 0, sizeof(b));
		b.has[BAL_BUDGET] = 1;
		b.value[BAL_BUDGET] = cases[i].v;
		s = fe_render_balance(&b);
		snprintf(name, sizeof(name), "cents %s", cases[i].text);
		CHECK(s != NULL && strstr(s, cases[i].text) != NULL, name);
		cJSON_free(s);
	}
}

/*
 * The answer is printed from a tree on the stack: its bytes must be those
 * of the same tree built on the heap, with every member present and long
 * enough that the text outgrows the stack buffer and takes the heap path.
 * Every member present is also the largest answer the frontend builds (20
 * nodes with the root): it must fit JSON_STACK_NODES (json.h), or the
 * frontend would end.
 */
#define SET(f, v)	snprintf((f), sizeof(f), "%s", (v))

static void
test_spend_bytes(void)
{
	struct msg_spend sp;
	struct spend_obj *s = &sp.spend;
	cJSON *o;
	char *got, *want;
	int status, big;

	for (big = 0; big < 2; big++) {
		fill_spend(&sp, "approved");
		SET(s->decision_reason, "ok \\ \"fine\"");
		SET(s->budget_period, "monthly");
		s->has_remaining = 1;
		s->remaining_budget_cents = -42;
		s->remaining_monthly_budget_cents = 7;
		memset(s->reason, big ? '\001' : '"', REASON_MAX);
		SET(s->approval_url, "https://dino.example/a/1");
		SET(s->team_id, "team_1");
		SET(s->agent_account_id, "acct_\xc3\xa9");
		SET(s->decided_at, "2026-05-07T12:34:57.000Z");
		SET(s->updated_at, "2026-05-07T12:34:58.000Z");
		SET(s->idempotency_key, "k-1");
		sp.replayed = sp.timed_out = 1;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", s->id);
		cJSON_AddStringToObject(o, "status", s->status);
		cJSON_AddStringToObject(o, "decision_reason",
		    s->decision_reason);
		cJSON_AddStringToObject(o, "budget_period", s->budget_period);
		cJSON_AddRawToObject(o, "remaining_budget_cents", "-42");
		cJSON_AddRawToObject(o, "remaining_monthly_budget_cents", "7");
		cJSON_AddRawToObject(o, "amount_cents", "1200");
		cJSON_AddStringToObject(o, "currency", s->currency);
		cJSON_AddStringToObject(o, "merchant_name", s->merchant_name);
		cJSON_AddStringToObject(o, "reason", s->reason);
		cJSON_AddStringToObject(o, "approval_url", s->approval_url);
		cJSON_AddStringToObject(o, "team_id", s->team_id);
		cJSON_AddStringToObject(o, "agent_account_id",
		    s->agent_account_id);
		cJSON_AddStringToObject(o, "decided_at", s->decided_at);
		cJSON_AddStringToObject(o, "created_at", s->created_at);
		cJSON_AddStringToObject(o, "updated_at", s->updated_at);
		cJSON_AddStringToObject(o, "idempotency_key",
		    s->idempotency_key);
		cJSON_AddTrueToObject(o, "replayed");
		cJSON_AddTrueToObject(o, "timed_out");
		want = cJSON_PrintUnformatted(o);
		got = fe_render_spend(&sp, &status);
		CHECK(got != NULL && want != NULL && strcmp(got, want) == 0 &&
		    (strlen(got) > FE_RENDER_STACK) == big,
		    big ? "spend past the stack buffer: bytes of a heap tree" :
		    "spend: bytes of a heap tree");
		cJSON_free(got);
		cJSON_free(want);
		cJSON_Delete(o);
	}
}

static const cJSON *
tool(const cJSON *tools, const char *name)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, tools)
		if (strcmp(get(t, "name")->valuestring, name) == 0)
			return t;
	return NULL;
}

static void
test_tools(void)
{
	static const char *const names[] = { "create_spend", "get_balance",
	    "get_spend", "wait_spend" };
	cJSON *root = fe_tools_build();
	const cJSON *tools = get(root, "tools"), *t, *in, *req, *p;
	size_t i;

	CHECK(cJSON_GetArraySize(tools) == 4, "four tools");
	for (i = 0; i < 4; i++) {
		t = tool(tools, names[i]);
		CHECK(t != NULL && cJSON_IsObject(get(t, "inputSchema")) &&
		    cJSON_IsObject(get(t, "outputSchema")) &&
		    cJSON_IsString(get(t, "path")) &&
		    cJSON_IsString(get(t, "description")), names[i]);
	}
	in = get(tool(tools, "create_spend"), "inputSchema");
	req = get(in, "required");
	CHECK(cJSON_GetArraySize(req) == 4, "create_spend: 4 required fields");
	CHECK(cJSON_IsFalse(get(in, "additionalProperties")),
	    "create_spend: no additional properties");
	p = get(get(in, "properties"), "merchant_name");
	CHECK(get(p, "maxLength")->valuedouble == MERCHANT_NAME_MAX,
	    "merchant_name maxLength from dinolimits.h");
	p = get(get(in, "properties"), "amount_cents");
	CHECK(get(p, "maximum")->valuedouble == (double)AMOUNT_CENTS_MAX &&
	    strcmp(get(p, "type")->valuestring, "integer") == 0,
	    "amount_cents integer up to 10^9");
	p = get(get(get(tool(tools, "wait_spend"), "inputSchema"),
	    "properties"), "timeout_s");
	CHECK(p != NULL && get(p, "maximum")->valuedouble == FRONTEND_WAIT_MAX_S,
	    "wait_spend timeout_s up to 300");
	CHECK(cJSON_IsObject(get(root, "errorSchema")), "error schema");
	cJSON_Delete(root);
}

int
main(void)
{
	test_error();
	test_spend_pending();
	test_spend_other();
	test_balance();
	test_cents_edges();
	test_spend_bytes();
	test_tools();
	return TAP_DONE();
}
