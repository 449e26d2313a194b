/*
 * Unit tests of the frontend's request intake (frontend/validate.c):
 * create_spend bodies, Content-Type, X-Dino-Agent and route matching.
 */
#include <stdio.h>
#include <string.h>

#include "../../frontend/frontend.h"
#include "dinolimits.h"
#include "spend.h"
#include "tap.h"

static char msg[256];

static int
parse(const char *body, struct msg_create_spend *out)
{
	msg[0] = '\0';
	return fe_parse_create_spend(body, strlen(body), out, msg, sizeof(msg));
}

/* The body must be refused, with a message that starts with prefix. */
static void
refused(const char *body, const char *prefix, const char *name)
{
	struct msg_create_spend m;
	int r = parse(body, &m);

	CHECK(r == -1 && strncmp(msg, prefix, strlen(prefix)) == 0, name);
	if (r != -1 || strncmp(msg, prefix, strlen(prefix)) != 0)
		printf("# got r=%d msg=\"%s\"\n", r, msg);
}

static void
test_good(void)
{
	struct msg_create_spend m;

	CHECK(parse("{\"amount_cents\":1200,\"currency\":\"usd\","
	    "\"merchant_name\":\"AWS\",\"reason\":\"GPU time\"}", &m) == 0,
	    "good body parses");
	CHECK(m.amount_cents == 1200 && strcmp(m.currency, "usd") == 0 &&
	    strcmp(m.merchant_name, "AWS") == 0 &&
	    strcmp(m.reason, "GPU time") == 0 && m.idempotency_key[0] == '\0',
	    "fields copied, no key");
	CHECK(spend_check_request(&m) == NULL, "parsed body passes spend_check");
	CHECK(parse("{\"idempotency_key\":\"k-1\",\"reason\":\"\","
	    "\"merchant_name\":\"Caf\xc3\xa9\",\"currency\":\"eur\","
	    "\"amount_cents\":1.2e3}", &m) == 0 && m.amount_cents == 1200 &&
	    strcmp(m.idempotency_key, "k-1") == 0,
	    "any order, UTF-8, empty reason, 1.2e3, key");
	CHECK(parse("{\"amount_cents\":1000000000,\"currency\":\"usd\","
	    "\"merchant_name\":\"a\",\"reason\":\"r\"}", &m) == 0,
	    "10^9 accepted");
	CHECK(parse("{\"amount_cents\":1,\"currency\":\"usd\","
	    "\"merchant_name\":\"a\",\"reason\":\"r\"}", &m) == 0,
	    "1 accepted");
	CHECK(parse(" \n{\"amount_cents\":100.0,\"currency\":\"usd\","
	    "\"merchant_name\":\"a\",\"reason\":\"r\"}\r\n", &m) == 0 &&
	    m.amount_cents == 100, "white space around, 100.0");
}

#define GOOD_TAIL "\"currency\":\"usd\",\"merchant_name\":\"m\",\"reason\":\"r\""

static void
test_amount(void)
{
	refused("{" GOOD_TAIL "}", "amount_cents: missing", "amount missing");
	refused("{\"amount_cents\":0," GOOD_TAIL "}", "amount_cents:", "zero");
	refused("{\"amount_cents\":-5," GOOD_TAIL "}", "amount_cents:",
	    "negative");
	refused("{\"amount_cents\":1000000001," GOOD_TAIL "}",
	    "amount_cents:", "above 10^9");
	refused("{\"amount_cents\":1.5," GOOD_TAIL "}", "amount_cents:",
	    "fraction");
	refused("{\"amount_cents\":1.255e2," GOOD_TAIL "}", "amount_cents:",
	    "non-integral exponent");
	refused("{\"amount_cents\":1e400," GOOD_TAIL "}", "amount_cents:",
	    "1e400");
	refused("{\"amount_cents\":\"100\"," GOOD_TAIL "}", "amount_cents:",
	    "string amount");
	refused("{\"amount_cents\":true," GOOD_TAIL "}", "amount_cents:",
	    "boolean amount");
	refused("{\"amount_cents\":null," GOOD_TAIL "}", "amount_cents:",
	    "null amount");
	refused("{\"amount_cents\":[1]," GOOD_TAIL "}", "amount_cents:",
	    "array amount");
	refused("{\"amount_cents\":99999999999999999999," GOOD_TAIL "}",
	    "amount_cents:", "huge amount");
}

#define AMT "\"amount_cents\":5,"

static void
test_strings(void)
{
	char big[2048], name[300];

	refused("{" AMT "\"merchant_name\":\"m\",\"reason\":\"r\"}",
	    "currency: missing", "currency missing");
	refused("{" AMT "\"currency\":\"USD\",\"merchant_name\":\"m\","
	    "\"reason\":\"r\"}", "currency: must be 3 lowercase", "USD");
	refused("{" AMT "\"currency\":\"usdx\",\"merchant_name\":\"m\","
	    "\"reason\":\"r\"}", "currency:", "4 letters");
	refused("{" AMT "\"currency\":\"us\",\"merchant_name\":\"m\","
	    "\"reason\":\"r\"}", "currency:", "2 letters");
	refused("{" AMT "\"currency\":\"u1d\",\"merchant_name\":\"m\","
	    "\"reason\":\"r\"}", "currency:", "digit in currency");
	refused("{" AMT "\"currency\":5,\"merchant_name\":\"m\","
	    "\"reason\":\"r\"}", "currency: must be a string", "number currency");
	refused("{" AMT "\"currency\":\"usd\",\"reason\":\"r\"}",
	    "merchant_name: missing", "merchant missing");
	refused("{" AMT "\"currency\":\"usd\",\"merchant_name\":\"\","
	    "\"reason\":\"r\"}", "merchant_name:", "merchant empty");
	memset(name, 'm', 201);
	name[201] = '\0';
	snprintf(big, sizeof(big), "{" AMT "\"currency\":\"usd\","
	    "\"merchant_name\":\"%s\",\"reason\":\"r\"}", name);
	refused(big, "merchant_name: too long", "merchant 201 bytes");
	refused("{" AMT "\"currency\":\"usd\",\"merchant_name\":\"a\\u0001\","
	    "\"reason\":\"r\"}", "merchant_name:", "control char escaped");
	refused("{" AMT "\"currency\":\"usd\",\"merchant_name\":\"a\tb\","
	    "\"reason\":\"r\"}", "merchant_name:", "raw tab in string");
	refused("{" AMT "\"currency\":\"usd\",\"merchant_name\":\"\xff\","
	    "\"reason\":\"r\"}", "merchant_name:", "invalid UTF-8");
	refused("{" AMT "\"currency\":\"usd\",\"merchant_name\":\"\xc0\xaf\","
	    "\"reason\":\"r\"}", "merchant_name:", "overlong UTF-8");
	refused("{" AMT "\"currency\":\"usd\",\"merchant_name\":\"\\ud800\","
	    "\"reason\":\"r\"}", "body:", "lone surrogate");
	refused("{" AMT "\"currency\":\"usd\",\"merchant_name\":\"m\"}",
	    "reason: missing", "reason missing (required)");
	refused("{" AMT "\"currency\":\"usd\",\"merchant_name\":\"m\","
	    "\"reason\":7}", "reason: must be a string", "reason number");
	memset(big, 0, sizeof(big));
	{
		char r[1002];

		memset(r, 'r', 1001);
		r[1001] = '\0';
		snprintf(big, sizeof(big), "{" AMT "\"currency\":\"usd\","
		    "\"merchant_name\":\"m\",\"reason\":\"%s\"}", r);
	}
	refused(big, "reason: too long", "reason 1001 bytes");
}

static void
test_key_and_shape(void)
{
	char big[400], key[130];

	refused("{" AMT GOOD_TAIL ",\"idempotency_key\":\"\"}",
	    "idempotency_key:", "empty key");
	refused("{" AMT GOOD_TAIL ",\"idempotency_key\":\"a b\"}",
	    "idempotency_key:", "space in key");
	refused("{" AMT GOOD_TAIL ",\"idempotency_key\":\"\xc3\xa9\"}",
	    "idempotency_key:", "non-ASCII key");
	refused("{" AMT GOOD_TAIL ",\"idempotency_key\":5}",
	    "idempotency_key: must be a string", "number key");
	memset(key, 'k', 129);
	key[129] = '\0';
	snprintf(big, sizeof(big), "{" AMT GOOD_TAIL
	    ",\"idempotency_key\":\"%s\"}", key);
	refused(big, "idempotency_key:", "129-byte key");
	refused("{" AMT GOOD_TAIL ",\"extra\":1}", "extra: unknown field",
	    "unknown field");
	refused("{" AMT GOOD_TAIL ",\"Amount_cents\":1}", "Amount_cents: unknown",
	    "case-different field");
	refused("{" AMT AMT GOOD_TAIL "}", "body: duplicate", "duplicate key");
	refused("[1,2]", "body: must be a JSON object", "array body");
	refused("\"x\"", "body: must be a JSON object", "string body");
	refused("{" AMT GOOD_TAIL "} x", "body: trailing", "trailing bytes");
	refused("{" AMT GOOD_TAIL "}{}", "body: trailing", "two objects");
	refused("{" AMT GOOD_TAIL, "body: invalid JSON", "truncated");
	refused("{" AMT GOOD_TAIL ",}", "body: invalid JSON", "trailing comma");
	refused("{\"amount_cents\":5,\"currency\":\"u\\u0000d\","
	    "\"merchant_name\":\"m\",\"reason\":\"r\"}", "body:", "\\u0000");
	{
		char deep[128];
		int i, n = 0;

		n += snprintf(deep + n, sizeof(deep) - n, "{\"x\":");
		for (i = 0; i < 20; i++)
			deep[n++] = '[';
		deep[n++] = '1';
		for (i = 0; i < 20; i++)
			deep[n++] = ']';
		snprintf(deep + n, sizeof(deep) - n, "}");
		refused(deep, "body: nested", "deep nesting");
	}
	refused("", "body: empty", "empty body");
	{
		struct msg_create_spend m;
		const char nul[] = "{\"amount_cents\":5\0}";

		CHECK(fe_parse_create_spend(nul, sizeof(nul) - 1, &m, msg,
		    sizeof(msg)) == -1 && strncmp(msg, "body:", 5) == 0,
		    "NUL byte in body");
	}
}

static void
test_headers(void)
{
	char out[AGENT_LABEL_MAX + 1], long_label[80];

	CHECK(fe_content_type_json("application/json"), "ct plain");
	CHECK(fe_content_type_json("Application/JSON"), "ct case");
	CHECK(fe_content_type_json("application/json; charset=utf-8"),
	    "ct charset");
	CHECK(fe_content_type_json("application/json;charset=UTF-8"),
	    "ct charset no space");
	CHECK(!fe_content_type_json(NULL), "ct missing");
	CHECK(!fe_content_type_json("text/plain"), "ct text");
	CHECK(!fe_content_type_json("application/jsonx"), "ct jsonx");
	CHECK(!fe_content_type_json("application/json; charset=latin1"),
	    "ct latin1");
	CHECK(!fe_content_type_json("application/json; boundary=x"),
	    "ct other parameter");
	CHECK(fe_agent_label(NULL, out, sizeof(out)) == 0 && out[0] == '\0',
	    "no label");
	CHECK(fe_agent_label("claude-1", out, sizeof(out)) == 0 &&
	    strcmp(out, "claude-1") == 0, "label copied");
	CHECK(fe_agent_label("", out, sizeof(out)) == -1, "empty label");
	CHECK(fe_agent_label("a b", out, sizeof(out)) == -1, "label space");
	CHECK(fe_agent_label("a\x01", out, sizeof(out)) == -1, "label ctl");
	memset(long_label, 'a', 65);
	long_label[65] = '\0';
	CHECK(fe_agent_label(long_label, out, sizeof(out)) == -1,
	    "label 65 bytes");
	long_label[64] = '\0';
	CHECK(fe_agent_label(long_label, out, sizeof(out)) == 0,
	    "label 64 bytes");
}

static void
test_routes(void)
{
	static const char id[] = "req_01hzz0000000000000000000ab";
	char path[128], got[SPEND_ID_MAX + 1];
	enum fe_route r;
	const char *why;

	CHECK(fe_route_match("POST", "/tools/create_spend", NULL, &r, got,
	    sizeof(got), &why) == 0 && r == ROUTE_CREATE_SPEND, "create");
	CHECK(fe_route_match("GET", "/tools/create_spend", NULL, &r, got,
	    sizeof(got), &why) == 405, "create with GET is 405");
	CHECK(fe_route_match("GET", "/tools/get_balance", NULL, &r, got,
	    sizeof(got), &why) == 0 && r == ROUTE_GET_BALANCE, "balance");
	CHECK(fe_route_match("POST", "/tools/get_balance", NULL, &r, got,
	    sizeof(got), &why) == 405, "balance with POST is 405");
	CHECK(fe_route_match("GET", "/tools/get_balance", "x=1", &r, got,
	    sizeof(got), &why) == 400, "query refused");
	snprintf(path, sizeof(path), "/tools/get_spend/%s", id);
	CHECK(fe_route_match("GET", path, NULL, &r, got, sizeof(got),
	    &why) == 0 && r == ROUTE_GET_SPEND && strcmp(got, id) == 0,
	    "get_spend id");
	CHECK(fe_route_match("GET", "/tools/get_spend/req_01HZZ0000000000000000000AB",
	    NULL, &r, got, sizeof(got), &why) == 400, "uppercase id");
	CHECK(fe_route_match("GET", "/tools/get_spend/", NULL, &r, got,
	    sizeof(got), &why) == 400, "empty id");
	CHECK(fe_route_match("GET", "/tools/get_spend/../healthz", NULL, &r,
	    got, sizeof(got), &why) == 400, "dot-dot id");
	CHECK(fe_route_match("GET", "/tools/get_spend/req_01hzz0000000000000000000ab/x",
	    NULL, &r, got, sizeof(got), &why) == 400, "id with suffix");
	CHECK(fe_route_match("GET", "/tools", NULL, &r, got, sizeof(got),
	    &why) == 0 && r == ROUTE_TOOLS, "tools");
	CHECK(fe_route_match("GET", "/tools/", NULL, &r, got, sizeof(got),
	    &why) == 404, "tools/ is 404");
	CHECK(fe_route_match("GET", "/healthz", NULL, &r, got, sizeof(got),
	    &why) == 0 && r == ROUTE_HEALTHZ, "healthz");
	CHECK(fe_route_match("OTHER", "/healthz", NULL, &r, got, sizeof(got),
	    &why) == 405, "other method 405");
	CHECK(fe_route_match("GET", "/nope", NULL, &r, got, sizeof(got),
	    &why) == 404, "unknown 404");
	CHECK(fe_route_match("GET", NULL, NULL, &r, got, sizeof(got),
	    &why) == 404, "no path 404");
	snprintf(path, sizeof(path), "/tools/wait_spend/%s", id);
	CHECK(fe_route_match("GET", path, "timeout_s=5", &r, got, sizeof(got),
	    &why) == 0 && r == ROUTE_WAIT_SPEND, "wait_spend takes a query");
}

int
main(void)
{
	test_good();
	test_amount();
	test_strings();
	test_key_and_shape();
	test_headers();
	test_routes();
	return TAP_DONE();
}
