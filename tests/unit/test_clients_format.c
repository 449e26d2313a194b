/*
 * What answers mean and how they print (clients/outcome.c,
 * clients/format.c): exit statuses, retry decisions, human output.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../../clients/client.h"
#include "tap.h"

static enum outcome
of(long status, const char *body)
{
	struct agent_resp r;
	enum outcome o;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.json = body != NULL ? cJSON_Parse(body) : NULL;
	o = outcome_of(&r);
	cJSON_Delete(r.json);
	return o;
}

static int
retry(long status, const char *body)
{
	struct agent_resp r;
	int v;

	memset(&r, 0, sizeof(r));
	r.status = status;
	r.json = body != NULL ? cJSON_Parse(body) : NULL;
	v = outcome_retryable(&r);
	cJSON_Delete(r.json);
	return v;
}

#define ERR(c)	"{\"error\":{\"code\":\"" c "\",\"message\":\"m\"}}"

static void
test_outcomes(void)
{
	CHECK(outcome_exit(of(200, "{\"status\":\"approved\"}")) == 0, "0");
	CHECK(outcome_exit(of(200, "{\"status\":\"declined\"}")) == 1, "1");
	CHECK(outcome_exit(of(200, "{\"status\":\"cancelled\"}")) == 1,
	    "cancelled: 1");
	CHECK(outcome_exit(of(200, "{\"status\":\"needs_approval\"}")) == 2 &&
	    outcome_exit(of(200, "{\"status\":\"held\"}")) == 2 &&
	    outcome_exit(of(202, "{\"status\":\"submitting\"}")) == 2,
	    "pending ones: 2");
	CHECK(of(200, "{\"status\":\"held\",\"timed_out\":true}") ==
	    OUT_TIMED_OUT, "timed out");
	CHECK(of(200, "{\"status\":\"weird\"}") == OUT_INTERNAL,
	    "an unknown status is not success");
	CHECK(of(200, "{\"currency\":\"usd\"}") == OUT_OK, "a read");
	CHECK(of(200, NULL) == OUT_INTERNAL, "200 without JSON");
	CHECK(outcome_exit(of(400, ERR("invalid_request"))) == 65, "400: 65");
	CHECK(outcome_exit(of(409, ERR("idempotency_key_conflict"))) == 65,
	    "409: 65");
	CHECK(outcome_exit(of(404, ERR("not_found"))) == 66, "404: 66");
	CHECK(outcome_exit(of(402, ERR("insufficient_wallet_balance"))) == 1,
	    "402: 1");
	CHECK(outcome_exit(of(403, ERR("unknown_principal"))) == 77, "403: 77");
	CHECK(outcome_exit(of(503, ERR("paused"))) == 77, "paused: 77");
	CHECK(outcome_exit(of(503, ERR("broker_unavailable"))) == 69,
	    "503: 69");
	CHECK(outcome_exit(of(504, ERR("submitting"))) == 2,
	    "504 submitting: 2, never a decline");
	CHECK(outcome_exit(of(429, ERR("rate_limited"))) == 75, "429: 75");
	CHECK(outcome_exit(of(500, ERR("internal_error"))) == 70, "500: 70");
	CHECK(outcome_exit(of(0, NULL)) == 69, "no answer: 69");
}

static void
test_retries(void)
{
	CHECK(retry(0, NULL), "no answer: retry");
	CHECK(retry(202, "{\"status\":\"submitting\"}"), "202: retry");
	CHECK(retry(504, ERR("submitting")), "504 submitting: retry");
	CHECK(retry(503, ERR("busy")), "503 busy: retry");
	CHECK(!retry(503, ERR("paused")), "paused: no retry");
	CHECK(!retry(200, "{\"status\":\"declined\"}"), "declined: no retry");
	CHECK(!retry(403, ERR("policy_denied")), "403: no retry");
	CHECK(!retry(409, ERR("idempotency_key_conflict")), "409: no retry");
}

static void
test_format(void)
{
	char buf[64], *s;
	cJSON *j;

	fmt_cents(buf, sizeof(buf), 1234, "usd");
	CHECK(strcmp(buf, "12.34 usd") == 0, "cents");
	fmt_cents(buf, sizeof(buf), -5, "usd");
	CHECK(strcmp(buf, "-0.05 usd") == 0, "negative cents");
	fmt_cents(buf, sizeof(buf), 1000000000000000LL, NULL);
	CHECK(strcmp(buf, "10000000000000.00") == 0, "10^15 cents");
	j = cJSON_Parse("{\"id\":\"req_1\",\"status\":\"approved\","
	    "\"amount_cents\":1200,\"currency\":\"usd\",\"merchant_name\":"
	    "\"A\\u001b[2JB\",\"decided_at\":null}");
	s = fmt_to_string(fmt_spend, j);
	CHECK(s != NULL && strstr(s, "status:           approved\n") != NULL &&
	    strstr(s, "amount:           12.00 usd\n") != NULL,
	    "spend lines");
	CHECK(s != NULL && strstr(s, "A?[2JB") != NULL &&
	    strchr(s, '\x1b') == NULL, "control bytes are masked");
	CHECK(s != NULL && strstr(s, "decided:") == NULL, "null is left out");
	free(s);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"a\":1e15,\"b\":[2.5,-3],\"c\":{\"d\":100.0}}");
	s = fmt_json(j);
	CHECK(s != NULL && strcmp(s, "{\"a\":1000000000000000,\"b\":[2.5,-3],"
	    "\"c\":{\"d\":100}}") == 0, "integers print exactly");
	cJSON_free(s);
	cJSON_Delete(j);
}

int
main(void)
{
	test_outcomes();
	test_retries();
	test_format();
	return TAP_DONE();
}
