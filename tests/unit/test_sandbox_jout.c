/*
 * The sandbox's stack-built JSON (jout.c) must print byte for byte what the
 * same object built with cJSON_Add*ToObject prints: integers at the edges of
 * "%1.15g", times, escapes, nesting, and text too long for the static buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sandbox/sandbox.h"
#include "tap.h"
#include "util.h"

static int
same(cJSON *root, cJSON *want, const char *name)
{
	const char *text;
	char *heap, *ref;
	size_t len;
	int ok;

	text = jout_print(root, &len, &heap);
	if ((ref = cJSON_PrintUnformatted(want)) == NULL)
		return 0;
	ok = strlen(ref) == len && memcmp(ref, text, len) == 0;
	if (!ok)
		printf("# %s\n#  got  %s\n#  want %s\n", name, text, ref);
	cJSON_free(ref);
	cJSON_free(heap);
	cJSON_Delete(want);
	return ok;
}

int
main(void)
{
	static const int64_t ints[] = {0, 1, -1, 9, 10, 99, 100, 2147483647LL,
	    2147483648LL, -2147483648LL, -2147483649LL, 1000000000LL,
	    100000000000000LL, 999999999999999LL, -999999999999999LL,
	    1000000000000000LL, -1000000000000000LL, 1234567890123456LL,
	    9007199254740993LL, INT64_MAX, INT64_MIN + 1};
	static const int64_t times[] = {1, 999, 1000, 1700000000000LL,
	    1700000000001LL, 1700000000010LL, 1700000000999LL, 1700000001000LL,
	    1700000000500LL, 4102444799999LL};
	struct jout j;
	cJSON *o, *want, *d, *wd;
	char name[32], when[32], *big;
	size_t i;

	for (i = 0; i < nitems(ints); i++) {
		jout_init(&j);
		o = jout_object(&j, NULL, NULL);
		jout_int(&j, o, "n", ints[i]);
		want = cJSON_CreateObject();
		cJSON_AddNumberToObject(want, "n", (double)ints[i]);
		snprintf(name, sizeof(name), "integer %lld", (long long)ints[i]);
		CHECK(same(o, want, name), name);
	}

	/* Out of order, so the per-second cache is left and met again. */
	for (i = 0; i < nitems(times); i++) {
		jout_init(&j);
		o = jout_object(&j, NULL, NULL);
		jout_time(&j, o, "t", times[i]);
		jout_time(&j, o, "z", 0);
		fmt_iso_ms(when, times[i]);
		want = cJSON_CreateObject();
		cJSON_AddStringToObject(want, "t", when);
		cJSON_AddNullToObject(want, "z");
		snprintf(name, sizeof(name), "time %lld", (long long)times[i]);
		CHECK(same(o, want, name), name);
	}

	jout_init(&j);
	o = jout_object(&j, NULL, NULL);
	jout_str(&j, o, "id", "evt_1");
	jout_str(&j, o, "q\"uote", "a\"b\\c/d\xc3\xa9 \x7f");
	d = jout_object(&j, o, "data");
	jout_cat(&j, jout_object(&j, d, "spend"), "url", "https://x/?id=", "r");
	jout_object(&j, o, "empty");
	jout_int(&j, o, "last", 42);
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
	jout_init(&j);
	o = jout_object(&j, NULL, NULL);
	jout_str(&j, o, "big", big);
	want = cJSON_CreateObject();
	cJSON_AddStringToObject(want, "big", big);
	CHECK(same(o, want, "a body past the static buffer"),
	    "a body past the static buffer");
	free(big);
	return TAP_DONE();
}
