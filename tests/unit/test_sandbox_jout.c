/*
 * The sandbox's stack-built JSON (jout.c, on json.h's stack nodes) must
 * print byte for byte what the same object built with cJSON_Add*ToObject
 * prints: times, escapes, nesting, the joined member, and text too long
 * for the static buffer.  The stack nodes themselves (integers at the
 * edges of "%1.15g" included) are tested in test_common; the largest shapes the sandbox builds (a spend
 * answer awaiting approval, a webhook body) are built here from a real
 * store, so they are known to fit JSON_STACK_NODES.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "../../sandbox/sandbox.h"
#include "samejson.h"
#include "tap.h"
#include "util.h"

static int
same(cJSON *root, cJSON *want, const char *name)
{
	const char *text;
	char *heap;
	size_t len;
	int ok;

	text = jout_print(root, &len, &heap);
	ok = same_json(text, len, want, name);
	cJSON_free(heap);
	return ok;
}

/* Members of obj, nested ones counted too. */
static size_t
members(const cJSON *obj)
{
	const cJSON *c;
	size_t n = 0;

	cJSON_ArrayForEach(c, obj)
		n += 1 + (cJSON_IsObject(c) ? members(c) : 0);
	return n;
}

/*
 * A printed body is what cJSON prints for it again, and has want members
 * (nodes but the root).
 */
static int
printed_ok(cJSON *root, size_t want, const char *name)
{
	const char *text;
	char *heap, *again = NULL;
	size_t len;
	cJSON *back;
	int ok;

	text = jout_print(root, &len, &heap);
	ok = (back = cJSON_Parse(text)) != NULL &&
	    (again = cJSON_PrintUnformatted(back)) != NULL &&
	    strcmp(again, text) == 0 && members(back) == want;
	if (!ok)
		printf("# %s: %s\n", name, text);
	cJSON_free(again);
	cJSON_Delete(back);
	cJSON_free(heap);
	return ok;
}

/*
 * The largest shapes, from a real store: a spend that awaits approval, as
 * answered (17 nodes with the root) and in a webhook body (19).
 */
static void
test_largest(void)
{
	static const char seed_json[] = "{\"accounts\":[{\"id\":\"agent_a\","
	    "\"key\":\"din_test_a_000000000000000000000\","
	    "\"team_id\":\"team_a\",\"wallet_cents\":100000000,"
	    "\"budget_cents\":100000000,\"approval_threshold_cents\":1,"
	    "\"currencies\":[\"usd\"]}],\"webhooks\":[]}";
	static char merchant[MERCHANT_NAME_MAX + 1], reason[REASON_MAX + 1],
	    key[IDEMPOTENCY_KEY_MAX + 1];
	struct event_base *base;
	struct create_req cr;
	struct seed seed;
	struct spend *sp = NULL;
	struct jout j;
	char err[256];
	cJSON *o;

	memset(merchant, '"', MERCHANT_NAME_MAX);
	memset(reason, '\\', REASON_MAX);
	memset(key, 'k', IDEMPOTENCY_KEY_MAX);
	memset(&seed, 0, sizeof(seed));
	if ((base = event_base_new()) == NULL ||
	    sbx_seed_parse(seed_json, strlen(seed_json), &seed, err,
	    sizeof(err)) == -1 || sbx_store_init(base, &seed) == -1 ||
	    sbx_webhook_init(base, &seed) == -1) {
		CHECK(0, "a store for the largest shapes");
		return;
	}
	memset(&cr, 0, sizeof(cr));
	cr.amount_cents = 999999;
	cr.currency = "usd";
	cr.merchant_name = merchant;
	cr.reason = reason;
	cr.idem_key = key;
	cr.request_id = "req_trace_1";
	CHECK(sbx_store_create(sbx_store_account_by_id("agent_a"), &cr, &sp) ==
	    CREATE_NEW && sp->status == ST_NEEDS_APPROVAL,
	    "a spend that awaits approval");
	if (sp == NULL)
		return;
	o = jout_init(&j);
	sbx_store_spend_out(&j, o, sp, 0);
	CHECK(j.js.n == 17 && printed_ok(o, 16, "spend answer"),
	    "the largest spend answer: 17 nodes, printed as cJSON would");
	o = sbx_webhook_body(&j, "evt_1", "spend_request.created", sp,
	    "req_trace_1");
	CHECK(j.js.n == 19 && printed_ok(o, 18, "webhook body"),
	    "the largest webhook body: 19 nodes, printed as cJSON would");
	sbx_webhook_free();
	sbx_store_free();
	sbx_seed_free(&seed);
	event_base_free(base);
}

int
main(void)
{
	static const int64_t times[] = {1, 999, 1000, 1700000000000LL,
	    1700000000001LL, 1700000000010LL, 1700000000999LL, 1700000001000LL,
	    1700000000500LL, 4102444799999LL};
	struct jout j;
	cJSON *o, *want, *d, *wd;
	char name[32], when[32], *big;
	size_t i;

	/* Out of order, so the per-second cache is left and met again. */
	for (i = 0; i < nitems(times); i++) {
		o = jout_init(&j);
		jout_time(&j, o, "t", times[i]);
		jout_time(&j, o, "z", 0);
		fmt_iso_ms(when, times[i]);
		want = cJSON_CreateObject();
		cJSON_AddStringToObject(want, "t", when);
		cJSON_AddNullToObject(want, "z");
		snprintf(name, sizeof(name), "time %lld", (long long)times[i]);
		CHECK(same(o, want, name), name);
	}

	o = jout_init(&j);
	json_stack_str(&j.js, o, "id", "evt_1");
	json_stack_str(&j.js, o, "q\"uote", "a\"b\\c/d\xc3\xa9 \x7f");
	d = json_stack_obj(&j.js, o, "data");
	jout_cat(&j, json_stack_obj(&j.js, d, "spend"), "url", "https://x/?id=",
	    "r");
	json_stack_obj(&j.js, o, "empty");
	json_stack_int(&j.js, o, "last", 42);
	want = cJSON_CreateObject();
	cJSON_AddStringToObject(want, "id", "evt_1");
	cJSON_AddStringToObject(want, "q\"uote", "a\"b\\c/d\xc3\xa9 \x7f");
	wd = cJSON_AddObjectToObject(want, "data");
	cJSON_AddStringToObject(
	    cJSON_AddObjectToObject(wd, "spend"), "url", "https://x/?id=r");
	cJSON_AddObjectToObject(want, "empty");
	cJSON_AddNumberToObject(want, "last", 42);
	CHECK(same(o, want, "escapes and nesting"), "escapes and nesting");

	/* Longer than the static buffer: printed to the heap instead. */
	if ((big = malloc(20000)) == NULL)
		return 1;
	memset(big, '"', 19999);
	big[19999] = '\0';
	o = jout_init(&j);
	json_stack_str(&j.js, o, "big", big);
	want = cJSON_CreateObject();
	cJSON_AddStringToObject(want, "big", big);
	CHECK(same(o, want, "a body past the static buffer"),
	    "a body past the static buffer");
	free(big);
	test_largest();
	return TAP_DONE();
}
