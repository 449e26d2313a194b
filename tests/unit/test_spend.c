/* Unit tests for common/spend.c: every validator at its boundaries. */
#include <stdio.h>
#include <string.h>

#include "dinolimits.h"
#include "spend.h"
#include "util.h"
#include "tap.h"

struct scase {
	const char	*in;
	int		 ok;
	const char	*name;
};

/* A string of n copies of c, in a static buffer (one at a time). */
static const char *
rep(char c, size_t n)
{
	static char buf[4096];

	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void
run_cases(const char *(*check)(const char *), const struct scase *c,
    size_t n, const char *field)
{
	char name[160];
	const char *why;
	size_t i;

	for (i = 0; i < n; i++) {
		why = check(c[i].in);
		snprintf(name, sizeof(name), "%s: %s", field, c[i].name);
		if (c[i].ok)
			CHECK(why == NULL, name);
		else
			CHECK(why != NULL && strstr(why, field) != NULL, name);
	}
}

static void
test_amount(void)
{
	static const struct {
		int64_t	v;
		int	ok;
	} c[] = {
		{ INT64_MIN, 0 }, { -1000000000, 0 }, { -1, 0 }, { 0, 0 },
		{ 1, 1 }, { 2, 1 }, { 999999999, 1 }, { 1000000000, 1 },
		{ 1000000001, 0 }, { INT32_MAX, 0 }, { INT64_MAX, 0 },
	};
	char name[64];
	size_t i;

	for (i = 0; i < nitems(c); i++) {
		snprintf(name, sizeof(name), "amount_cents %lld",
		    (long long)c[i].v);
		CHECK((spend_check_amount(c[i].v) == NULL) == c[i].ok, name);
	}
	CHECK(strcmp(spend_check_amount(0),
	    "amount_cents must be an integer from 1 to 1000000000") == 0,
	    "amount message names field and rule");
}

static void
test_currency(void)
{
	static const struct scase c[] = {
		{ "usd", 1, "usd" }, { "eur", 1, "eur" }, { "aaa", 1, "aaa" },
		{ "zzz", 1, "zzz" }, { "", 0, "empty" },
		{ "us", 0, "2 letters" },
		{ "usdd", 0, "4 letters" }, { "USD", 0, "uppercase" },
		{ "Usd", 0, "mixed case" }, { "us1", 0, "digit" },
		{ "u d", 0, "space" }, { "us`", 0, "backtick below a" },
		{ "us{", 0, "brace above z" }, { "\xc3\xa9u", 0, "non-ascii" },
	};

	run_cases(spend_check_currency, c, nitems(c), "currency");
}

static void
test_merchant(void)
{
	char max[MERCHANT_NAME_MAX + 2];
	struct scase c[] = {
		{ "A", 1, "one byte" }, { "Acme Corp", 1, "plain" },
		{ "Caf\xc3\xa9 \xe2\x82\xac", 1, "utf8" },
		{ "", 0, "empty" }, { "a\tb", 0, "tab" },
		{ "a\nb", 0, "newline" },
		{ "a\x7f", 0, "DEL" }, { "\xc3", 0, "truncated utf8" },
		{ "\xc0\xaf", 0, "overlong" },
		{ "\xed\xa0\x80", 0, "surrogate" },
		{ "\xc2\x85", 0, "C1 control" }, { NULL, 1, "200 bytes" },
		{ NULL, 0, "201 bytes" },
		{ NULL, 1, "200 bytes of 2-byte chars" },
		{ NULL, 0, "199 bytes then a split 2-byte char" },
	};
	size_t i;

	c[11].in = strcpy(max, rep('m', MERCHANT_NAME_MAX));
	run_cases(spend_check_merchant, c, 12, "merchant_name");
	c[12].in = rep('m', MERCHANT_NAME_MAX + 1);
	run_cases(spend_check_merchant, c + 12, 1, "merchant_name");
	for (i = 0; i < MERCHANT_NAME_MAX; i += 2)
		memcpy(max + i, "\xc3\xa9", 2);
	max[MERCHANT_NAME_MAX] = '\0';
	c[13].in = max;
	run_cases(spend_check_merchant, c + 13, 1, "merchant_name");
	memset(max, 'm', MERCHANT_NAME_MAX - 1);
	memcpy(max + MERCHANT_NAME_MAX - 1, "\xc3\xa9", 3);
	c[14].in = max;
	run_cases(spend_check_merchant, c + 14, 1, "merchant_name");
}

static void
test_reason(void)
{
	char buf[REASON_MAX + 2];
	struct scase c[] = {
		{ "", 1, "empty" }, { "for the build", 1, "plain" },
		{ "\xf0\x9f\x98\x80", 1, "emoji" }, { "a\rb", 0, "CR" },
		{ "\x1b[31m", 0, "escape" }, { "\xff", 0, "0xff" },
		{ NULL, 1, "1000 bytes" }, { NULL, 0, "1001 bytes" },
	};

	run_cases(spend_check_reason, c, 6, "reason");
	c[6].in = strcpy(buf, rep('r', REASON_MAX));
	run_cases(spend_check_reason, c + 6, 1, "reason");
	c[7].in = rep('r', REASON_MAX + 1);
	run_cases(spend_check_reason, c + 7, 1, "reason");
}

static void
test_idempotency_key(void)
{
	char buf[IDEMPOTENCY_KEY_MAX + 2];
	struct scase c[] = {
		{ "", 1, "empty means none" }, { "k", 1, "one char" },
		{ "order-42_A.b~!", 1, "punctuation" }, { "a b", 0, "space" },
		{ "a\tb", 0, "tab" }, { "\xc3\xa9", 0, "non-ascii" },
		{ "a\x7f", 0, "DEL" }, { NULL, 1, "128 chars" },
		{ NULL, 0, "129 chars" },
	};

	run_cases(spend_check_idempotency_key, c, 7, "idempotency_key");
	c[7].in = strcpy(buf, rep('k', IDEMPOTENCY_KEY_MAX));
	run_cases(spend_check_idempotency_key, c + 7, 1, "idempotency_key");
	c[8].in = rep('k', IDEMPOTENCY_KEY_MAX + 1);
	run_cases(spend_check_idempotency_key, c + 8, 1, "idempotency_key");
}

static void
test_agent_label(void)
{
	char buf[AGENT_LABEL_MAX + 2];
	struct scase c[] = {
		{ "", 1, "empty" }, { "claude-code/1.0", 1, "label" },
		{ "my agent", 0, "space" }, { "a\nX-Evil: 1", 0, "newline" },
		{ "\xc3\xa9", 0, "non-ascii" }, { NULL, 1, "64 chars" },
		{ NULL, 0, "65 chars" },
	};

	run_cases(spend_check_agent_label, c, 5, "agent");
	c[5].in = strcpy(buf, rep('a', AGENT_LABEL_MAX));
	run_cases(spend_check_agent_label, c + 5, 1, "agent");
	c[6].in = rep('a', AGENT_LABEL_MAX + 1);
	run_cases(spend_check_agent_label, c + 6, 1, "agent");
}

static void
test_id(void)
{
	static const struct scase c[] = {
		{ "req_01hzy3k9m2n4p6q8r0s1t2v3w4", 1, "valid" },
		{ "req_0123456789abcdefghjkmnpqrs", 1, "alphabet start" },
		{ "req_tvwxyz00000000000000000000", 1, "alphabet end" },
		{ "req_01hzy3k9m2n4p6q8r0s1t2v3w", 0, "25 chars" },
		{ "req_01hzy3k9m2n4p6q8r0s1t2v3w4x", 0, "27 chars" },
		{ "evt_01hzy3k9m2n4p6q8r0s1t2v3w4", 0, "evt prefix" },
		{ "REQ_01hzy3k9m2n4p6q8r0s1t2v3w4", 0, "upper prefix" },
		{ "req-01hzy3k9m2n4p6q8r0s1t2v3w4", 0, "dash" },
		{ "req_01HZY3K9M2N4P6Q8R0S1T2V3W4", 0, "uppercase ULID" },
		{ "req_01hzy3k9m2n4p6q8r0s1t2v3wi", 0, "letter i" },
		{ "req_01hzy3k9m2n4p6q8r0s1t2v3wl", 0, "letter l" },
		{ "req_01hzy3k9m2n4p6q8r0s1t2v3wo", 0, "letter o" },
		{ "req_01hzy3k9m2n4p6q8r0s1t2v3wu", 0, "letter u" },
		{ "req_01hzy3k9m2n4p6q8r0s1t2v3w/", 0, "slash" },
		{ "req_../../../../../etc/passwd", 0, "path" },
		{ "", 0, "empty" }, { "req_", 0, "prefix only" },
	};

	run_cases(spend_check_id, c, nitems(c), "id");
}

/* Every byte value in every ULID position, against ULID_ALPHABET itself. */
static void
test_id_alphabet(void)
{
	char id[SPEND_ID_LEN + 1], hold[HOLD_ID_LEN + 1];
	int c, ok = 1, want;
	size_t pos;

	for (c = 1; c < 256; c++) {
		want = strchr(ULID_ALPHABET, c) != NULL;
		for (pos = 0; pos < ULID_LEN; pos++) {
			snprintf(id, sizeof(id), "req_%026d", 0);
			snprintf(hold, sizeof(hold), "hold_%026d", 0);
			id[4 + pos] = (char)c;
			hold[5 + pos] = (char)c;
			if ((spend_check_id(id) == NULL) != want ||
			    (spend_check_ref(id) == NULL) != want ||
			    (spend_check_ref(hold) == NULL) != want)
				ok = 0;
		}
	}
	CHECK(ok, "id: each byte in each position is valid iff in "
	    "ULID_ALPHABET");
}

static void
test_made_ids(void)
{
	char id[64];
	int i, ok = 1;

	for (i = 0; i < 200; i++) {
		make_ulid_id(id, sizeof(id), "req_");
		if (spend_check_id(id) != NULL)
			ok = 0;
	}
	CHECK(ok, "id: 200 ids from make_ulid_id all valid");
}

static void
test_status(void)
{
	static const struct {
		const char	*s;
		int		 ok;
		int		 terminal;
	} c[] = {
		{ "approved", 1, 1 }, { "declined", 1, 1 },
		{ "cancelled", 1, 1 }, { "needs_approval", 1, 0 },
		{ "submitting", 1, 0 }, { "held", 1, 0 },
		{ "", 0, 0 }, { "Approved", 0, 0 }, { "approved ", 0, 0 },
		{ "canceled", 0, 0 }, { "pending", 0, 0 }, { "approve", 0, 0 },
	};
	char name[96];
	size_t i;

	for (i = 0; i < nitems(c); i++) {
		snprintf(name, sizeof(name), "status \"%s\"", c[i].s);
		CHECK((spend_check_status(c[i].s) == NULL) == c[i].ok, name);
		snprintf(name, sizeof(name), "status \"%s\" terminal=%d",
		    c[i].s, c[i].terminal);
		CHECK(spend_status_terminal(c[i].s) == c[i].terminal, name);
	}
	CHECK(strstr(spend_check_status("x"), "status") != NULL,
	    "status message names the field");
}

static void
valid_req(struct msg_create_spend *r)
{
	memset(r, 0, sizeof(*r));
	r->caller.uid = 1000;
	r->caller.gid = 1000;
	r->caller.pid = 4242;
	strcpy(r->caller.agent, "agent-1");
	r->amount_cents = 1250;
	strcpy(r->currency, "usd");
	strcpy(r->merchant_name, "Acme");
	strcpy(r->reason, "");
	strcpy(r->idempotency_key, "");
}

static void
test_request(void)
{
	struct msg_create_spend r;

	valid_req(&r);
	CHECK(spend_check_request(&r) == NULL, "request: valid");
	CHECK(spend_check_caller(&r.caller) == NULL, "caller: valid");
	r.caller.uid = 0;
	CHECK(spend_check_caller(&r.caller) == NULL, "caller: root uid valid");
	r.caller.uid = UINT32_MAX;
	CHECK(spend_check_request(&r) != NULL, "request: uid -1 refused");
	valid_req(&r);
	r.caller.gid = UINT32_MAX;
	CHECK(spend_check_caller(&r.caller) != NULL, "caller: gid -1 refused");
	valid_req(&r);
	strcpy(r.caller.agent, "a b");
	CHECK(spend_check_request(&r) != NULL, "request: bad agent");
	valid_req(&r);
	r.amount_cents = 0;
	CHECK(spend_check_request(&r) != NULL &&
	    strstr(spend_check_request(&r), "amount_cents") != NULL,
	    "request: bad amount named");
	valid_req(&r);
	strcpy(r.currency, "US");
	CHECK(spend_check_request(&r) != NULL, "request: bad currency");
	valid_req(&r);
	r.merchant_name[0] = '\0';
	CHECK(spend_check_request(&r) != NULL, "request: bad merchant");
	valid_req(&r);
	strcpy(r.reason, "\x01");
	CHECK(spend_check_request(&r) != NULL, "request: bad reason");
	valid_req(&r);
	strcpy(r.idempotency_key, "a key");
	CHECK(spend_check_request(&r) != NULL, "request: bad key");
}

int
main(void)
{
	test_amount();
	test_currency();
	test_merchant();
	test_reason();
	test_idempotency_key();
	test_agent_label();
	test_id();
	test_id_alphabet();
	test_made_ids();
	test_status();
	test_request();
	return TAP_DONE();
}
