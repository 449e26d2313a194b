/* Unit tests for common/util.c, common/json.c and common/log.c. */
#define _GNU_SOURCE	/* pipe2 */
#include <sys/wait.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "json.h"
#include "log.h"
#include "dinolimits.h"
#include "util.h"
#include "samejson.h"
#include "tap.h"

static void
test_text(void)
{
	CHECK(text_ok("AWS", 3), "ascii ok");
	CHECK(text_ok("caf\xc3\xa9", 5), "2-byte utf8 ok");
	CHECK(text_ok("\xe2\x82\xac", 3), "3-byte utf8 ok");
	CHECK(text_ok("\xf0\x9f\x98\x80", 4), "4-byte utf8 ok");
	CHECK(!text_ok("\xc3", 1), "truncated utf8 refused");
	CHECK(!text_ok("\xc0\xaf", 2), "overlong refused");
	CHECK(!text_ok("\xe0\x80\xaf", 3), "3-byte overlong refused");
	CHECK(!text_ok("\xed\xa0\x80", 3), "surrogate refused");
	CHECK(!text_ok("\xf4\x90\x80\x80", 4), "above U+10FFFF refused");
	CHECK(!text_ok("\xff", 1), "0xff refused");
	CHECK(!text_ok("a\nb", 3), "newline refused");
	CHECK(!text_ok("a\x7f", 2), "DEL refused");
	CHECK(!text_ok("\xc2\x85", 2), "C1 control refused");
	CHECK(!text_ok("a\0b", 3), "NUL refused");
	CHECK(printable_ascii("key-1_A.b", 9), "printable ascii");
	CHECK(!printable_ascii("a b", 3), "space is not printable here");
	CHECK(!printable_ascii("\xc3\xa9", 2), "non-ascii refused");
}

static void
test_parse_i64(void)
{
	int64_t v;

	CHECK(parse_i64("42", 0, 100, &v) == 0 && v == 42, "parse 42");
	CHECK(parse_i64("101", 0, 100, &v) == -1, "above max");
	CHECK(parse_i64("-1", 0, 100, &v) == -1, "below min");
	CHECK(parse_i64("4x", 0, 100, &v) == -1, "junk");
	CHECK(parse_i64("", 0, 100, &v) == -1, "empty");
	CHECK(parse_i64("99999999999999999999", 0, INT64_MAX, &v) == -1,
	    "overflow");
}

/* fmt_int() and fmt_uint() print what "%lld" and "%llu" print. */
static void
test_fmt_int(void)
{
	static const int64_t v[] = {0, 1, -1, 9, 10, -10, 99, 100, 12345,
	    2147483647LL, -2147483648LL, 999999999999999LL, 1000000000000000LL,
	    INT64_MAX, INT64_MIN + 1, INT64_MIN};
	static const uint64_t u[] = {0, 7, 10, 4294967295ULL, UINT64_MAX};
	char got[FMT_INT_SIZE + 4], want[32];
	size_t i, len;
	int ok = 1;

	for (i = 0; i < nitems(v); i++) {
		memset(got, 'x', sizeof(got));
		len = fmt_int(got, v[i]);
		snprintf(want, sizeof(want), "%lld", (long long)v[i]);
		if (strcmp(got, want) != 0 || len != strlen(want)) {
			printf("# fmt_int: got %s want %s\n", got, want);
			ok = 0;
		}
	}
	CHECK(ok, "fmt_int prints what %lld prints, INT64_MIN included");
	ok = 1;
	for (i = 0; i < nitems(u); i++) {
		len = fmt_uint(got, u[i]);
		snprintf(want, sizeof(want), "%llu", (unsigned long long)u[i]);
		if (strcmp(got, want) != 0 || len != strlen(want))
			ok = 0;
	}
	CHECK(ok, "fmt_uint prints what %llu prints, UINT64_MAX included");
	CHECK(fmt_int(got, INT64_MIN) == FMT_INT_SIZE - 1,
	    "FMT_INT_SIZE holds the longest");
}

/* copy_text() leaves what snprintf(dst, size, "%s", src) leaves. */
static void
test_copy_text(void)
{
	static const char *const src[] = {"", "a", "abc", "abcd", "abcde",
	    "caf\xc3\xa9"};
	char got[8], want[8];
	size_t i, size;
	int ok = 1, rc, cut;

	for (i = 0; i < nitems(src); i++)
		for (size = 1; size <= 6; size++) {
			memset(got, 'x', sizeof(got));
			memset(want, 'x', sizeof(want));
			rc = copy_text(got, size, src[i]);
			cut = snprintf(want, size, "%s", src[i]) >= (int)size;
			if (memcmp(got, want, sizeof(got)) != 0 ||
			    rc != (cut ? -1 : 0))
				ok = 0;
		}
	CHECK(ok, "copy_text cuts and terminates as snprintf %s does");
	CHECK(COPY_TEXT(got, "1234567") == 0 && strcmp(got, "1234567") == 0,
	    "COPY_TEXT: a text that just fits");
	CHECK(COPY_TEXT(got, "12345678") == -1 && strcmp(got, "1234567") == 0,
	    "COPY_TEXT: one byte too long is cut");
}

static void
test_ids(void)
{
	char id[64], t[32];
	size_t i;
	int ok = 1;

	make_ulid_id(id, sizeof(id), "req_");
	CHECK(strlen(id) == SPEND_ID_LEN, "id length");
	for (i = 4; i < strlen(id); i++)
		if (strchr("0123456789abcdefghjkmnpqrstvwxyz", id[i]) == NULL)
			ok = 0;
	CHECK(ok && strncmp(id, "req_", 4) == 0, "id alphabet and prefix");
	fmt_iso_ms(t, 1778157296000LL + 7);
	CHECK(strcmp(t, "2026-05-07T12:34:56.007Z") == 0, "iso time");
	CHECK(strlen(t) == ISO_TIME_LEN, "iso time length");
	/* The second is kept: the same, the next and an earlier one. */
	fmt_iso_ms(t, 1778157296000LL + 999);
	CHECK(strcmp(t, "2026-05-07T12:34:56.999Z") == 0, "iso time, ms");
	fmt_iso_ms(t, 1778157296000LL + 1000);
	CHECK(strcmp(t, "2026-05-07T12:34:57.000Z") == 0, "iso time, next s");
	fmt_iso_ms(t, 1778157296000LL - 60000 + 120);
	CHECK(strcmp(t, "2026-05-07T12:33:56.120Z") == 0,
	    "iso time, a minute back");
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Ids drawn from the batched pool: distinct, also across a fork. */
static void
test_ids_unique(void)
{
	enum { N = 20 * RANDOM_POOL_BYTES / 10 + 3, W = SPEND_ID_LEN + 1 };
	static char ids[N][W];
	char mine[W], theirs[W];
	int i, fd[2], status, ok = 1;
	pid_t pid;

	for (i = 0; i < N; i++)
		make_ulid_id(ids[i], W, "req_");
	qsort(ids, N, W, cmp_str);
	for (i = 1; i < N; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0)
			ok = 0;
	CHECK(ok, "ids across many pool refills are distinct");

	/* The parent's pool is part used: the child must not reuse it. */
	CHECK(pipe(fd) == 0, "pipe");
	if ((pid = fork()) == 0) {
		make_ulid_id(theirs, sizeof(theirs), "req_");
		_exit(write(fd[1], theirs, sizeof(theirs)) ==
		    (ssize_t)sizeof(theirs) ? 0 : 1);
	}
	make_ulid_id(mine, sizeof(mine), "req_");
	memset(theirs, 0, sizeof(theirs));
	CHECK(pid > 0 && read(fd[0], theirs, sizeof(theirs)) ==
	    (ssize_t)sizeof(theirs), "child's id read");
	waitpid(pid, &status, 0);
	/* The random part: the 16 characters after the time. */
	CHECK(strcmp(mine + 14, theirs + 14) != 0,
	    "a forked child draws other random bytes than its parent");
	close(fd[0]);
	close(fd[1]);
}

/*
 * Log buffering: stderr goes to a pipe, read back after each step.
 */

static int log_wakes;

static void
count_wake(void *arg)
{
	log_wakes++;
}

static size_t
drain(int fd, char *buf, size_t len)
{
	ssize_t n;
	size_t got = 0;

	while (got < len - 1 &&
	    (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return got;
}

static void *
thread_line(void *arg)
{
	log_info("line=thread");
	return NULL;
}

static void
test_log_buffer(void)
{
	static char out[4 * LOG_BUF_MAX];
	const char *p, *q;
	pthread_t th;
	int fd[2], saved, i, ok = 1, status;
	pid_t pid;

	CHECK(pipe2(fd, O_NONBLOCK) == 0, "pipe");
	saved = dup(STDERR_FILENO);
	dup2(fd[1], STDERR_FILENO);
	log_init("test", LOG_DEBUG);

	log_buffer(count_wake, NULL);
	log_info("line=1");
	log_debug("line=2");
	CHECK(drain(fd[0], out, sizeof(out)) == 0, "lines are held");
	CHECK(log_wakes == 1, "one wake for the first line only");
	log_warnx("line=3");
	drain(fd[0], out, sizeof(out));
	p = strstr(out, "line=1");
	q = strstr(out, "line=2");
	CHECK(p != NULL && q != NULL && p < q &&
	    strstr(out, "line=3") > q, "a warning writes out what was held "
	    "first, in order");

	log_info("line=4");
	CHECK(pthread_create(&th, NULL, thread_line, NULL) == 0 &&
	    pthread_join(th, NULL) == 0, "thread");
	drain(fd[0], out, sizeof(out));
	p = strstr(out, "line=4");
	CHECK(p != NULL && strstr(out, "line=thread") > p,
	    "another thread's line comes after the held ones");

	/*
	 * More than the buffer holds (but less than the pipe): nothing
	 * lost, nothing reordered.
	 */
	for (i = 0; i < 2 * LOG_BUF_MAX / 64; i++)
		log_info("seq=%06d padding=%040d", i, 0);
	log_flush();
	drain(fd[0], out, sizeof(out));
	for (p = out, i = 0; i < 2 * LOG_BUF_MAX / 64; i++) {
		char want[32];

		snprintf(want, sizeof(want), "seq=%06d ", i);
		if ((q = strstr(p, want)) == NULL) {
			ok = 0;
			break;
		}
		p = q;
	}
	CHECK(ok, "a full buffer is written out, every line in order");

	/* exit() without a flush still writes the held lines. */
	if ((pid = fork()) == 0) {
		log_info("line=before-exit");
		exit(0);
	}
	waitpid(pid, &status, 0);
	drain(fd[0], out, sizeof(out));
	CHECK(strstr(out, "line=before-exit") != NULL, "exit() flushes");

	log_buffer(NULL, NULL);
	log_info("line=direct");
	drain(fd[0], out, sizeof(out));
	CHECK(strstr(out, "line=direct") != NULL, "unbuffered again");

	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd[0]);
	close(fd[1]);
}

static cJSON *
parse(const char *s, const char **why)
{
	return json_parse_strict(s, strlen(s), JSON_DEPTH_MAX, why);
}

static void
test_json(void)
{
	const char *why = NULL;
	cJSON *j;
	int64_t v;
	char deep[200];
	int i;

	j = parse("{\"a\":1,\"b\":\"x\"}", &why);
	CHECK(j != NULL, "plain object parses");
	cJSON_Delete(j);
	CHECK(parse("{\"a\":1,\"a\":2}", &why) == NULL &&
	    strcmp(why, "duplicate member name") == 0, "duplicate key");
	CHECK(parse("{\"o\":{\"a\":1,\"a\":2}}", &why) == NULL,
	    "nested duplicate key");
	CHECK(parse("{\"a\":\"x\\u0000y\"}", &why) == NULL, "\\u0000");
	CHECK(json_parse_strict("{\"a\":1}\0", 8, 4, &why) == NULL,
	    "raw NUL byte");
	CHECK(parse("{\"a\":1} x", &why) == NULL, "trailing bytes");
	CHECK(parse("{\"a\":1", &why) == NULL, "truncated");
	CHECK(parse("", &why) == NULL, "empty");
	for (i = 0; i < 40; i++)
		deep[i] = '[';
	for (i = 40; i < 80; i++)
		deep[i] = ']';
	deep[80] = '\0';
	CHECK(parse(deep, &why) == NULL && strcmp(why, "nested too deep") == 0,
	    "deep nesting");

	j = parse("[12, 1.2e3, 100.0, 1.5, 1e400, -3, \"7\", 1e9, 1000000001]",
	    &why);
	CHECK(j != NULL, "numbers parse");
	CHECK(json_get_int(cJSON_GetArrayItem(j, 0), 1, AMOUNT_CENTS_MAX, &v,
	    &why) == 0 && v == 12, "12 is an integer");
	CHECK(json_get_int(cJSON_GetArrayItem(j, 1), 1, AMOUNT_CENTS_MAX, &v,
	    &why) == 0 && v == 1200, "1.2e3 is an integer");
	CHECK(json_get_int(cJSON_GetArrayItem(j, 2), 1, AMOUNT_CENTS_MAX, &v,
	    &why) == 0 && v == 100, "100.0 is an integer");
	CHECK(json_get_int(cJSON_GetArrayItem(j, 3), 1, AMOUNT_CENTS_MAX, &v,
	    &why) == -1, "1.5 is not");
	CHECK(json_get_int(cJSON_GetArrayItem(j, 4), 1, AMOUNT_CENTS_MAX, &v,
	    &why) == -1, "1e400 is not");
	CHECK(json_get_int(cJSON_GetArrayItem(j, 5), 1, AMOUNT_CENTS_MAX, &v,
	    &why) == -1, "-3 below range");
	CHECK(json_get_int(cJSON_GetArrayItem(j, 6), 1, AMOUNT_CENTS_MAX, &v,
	    &why) == -1, "string is not a number");
	CHECK(json_get_int(cJSON_GetArrayItem(j, 7), 1, AMOUNT_CENTS_MAX, &v,
	    &why) == 0 && v == 1000000000, "1e9 is the maximum");
	CHECK(json_get_int(cJSON_GetArrayItem(j, 8), 1, AMOUNT_CENTS_MAX, &v,
	    &why) == -1, "10^9 + 1 out of range");
	cJSON_Delete(j);

	j = parse("{\"s\":\"caf\xc3\xa9\",\"bad\":\"\xff\",\"c\":\"a\\nb\","
		  "\"n\":5,\"e\":\"\"}", &why);
	CHECK(j != NULL, "strings parse");
	CHECK(json_get_text(cJSON_GetObjectItem(j, "s"), 1, 10, &why) != NULL,
	    "utf8 text ok");
	CHECK(json_get_text(cJSON_GetObjectItem(j, "bad"), 1, 10, &why) ==
	    NULL, "invalid utf8 refused");
	CHECK(json_get_text(cJSON_GetObjectItem(j, "c"), 1, 10, &why) == NULL,
	    "control char refused");
	CHECK(json_get_text(cJSON_GetObjectItem(j, "n"), 1, 10, &why) == NULL,
	    "number is not text");
	CHECK(json_get_text(cJSON_GetObjectItem(j, "e"), 1, 10, &why) == NULL,
	    "empty refused when minlen 1");
	CHECK(json_get_text(cJSON_GetObjectItem(j, "s"), 1, 3, &why) == NULL,
	    "too long refused");
	cJSON_Delete(j);
}

/* Prints a stack tree into 64 bytes (or the heap), as same_json(). */
static int
same_text(const cJSON *root, cJSON *want, const char *name)
{
	char buf[64], *heap;
	const char *text;
	size_t len = 0;
	int ok;

	text = json_print_buf(root, buf, sizeof(buf), &len, &heap);
	ok = same_json(text, len, want, name);
	cJSON_free(heap);
	return ok;
}

/*
 * json.h's stack trees print what the same tree built on the heap prints:
 * json_stack_int() as cJSON's numbers at the edges of "%1.15g",
 * json_stack_digits() plain digits always, and every other member kind.
 */
static void
test_json_stack(void)
{
	static const int64_t ints[] = {0, 1, -1, 9, 10, 99, 100, 2147483647LL,
	    2147483648LL, -2147483648LL, -2147483649LL, 1000000000LL,
	    100000000000000LL, 999999999999999LL, -999999999999999LL,
	    1000000000000000LL, -1000000000000000LL, 1234567890123456LL,
	    9007199254740993LL, INT64_MAX, INT64_MIN + 1, INT64_MIN};
	struct json_stack st;
	struct json_kept k = { NULL, 0 };
	cJSON *o, *want, *w;
	char name[48], digits[FMT_INT_SIZE], *big, *heap;
	const char *text;
	size_t i, len;
	pid_t pid;
	int status, ok = 1;

	for (i = 0; i < nitems(ints); i++) {
		o = json_stack_init(&st);
		json_stack_int(&st, o, "n", ints[i]);
		want = cJSON_CreateObject();
		cJSON_AddNumberToObject(want, "n", (double)ints[i]);
		snprintf(name, sizeof(name), "json_stack_int %lld",
		    (long long)ints[i]);
		CHECK(same_text(o, want, name), name);
	}
	for (i = 0; i < nitems(ints); i++) {
		o = json_stack_init(&st);
		json_stack_digits(&st, o, "n", ints[i]);
		fmt_int(digits, ints[i]);
		want = cJSON_CreateObject();
		cJSON_AddRawToObject(want, "n", digits);
		if (!same_text(o, want, "json_stack_digits"))
			ok = 0;
	}
	CHECK(ok, "json_stack_digits: plain digits, never exponent form");

	o = json_stack_init(&st);
	json_stack_str(&st, o, "s", "a\"b\\c/d\xc3\xa9 \x01");
	json_stack_null(&st, o, "z");
	json_stack_bool(&st, o, "t", 1);
	json_stack_bool(&st, o, "f", 0);
	json_stack_raw(&st, json_stack_obj(&st, o, "o"), "r", "[1,{}]");
	json_stack_obj(&st, o, "empty");
	strcpy(json_stack_strbuf(&st, o, "b"), "2026-05-07T12:34:56.000Z");
	want = cJSON_CreateObject();
	cJSON_AddStringToObject(want, "s", "a\"b\\c/d\xc3\xa9 \x01");
	cJSON_AddNullToObject(want, "z");
	cJSON_AddTrueToObject(want, "t");
	cJSON_AddFalseToObject(want, "f");
	w = cJSON_AddObjectToObject(want, "o");
	cJSON_AddRawToObject(w, "r", "[1,{}]");
	cJSON_AddObjectToObject(want, "empty");
	cJSON_AddStringToObject(want, "b", "2026-05-07T12:34:56.000Z");
	CHECK(same_text(o, want, "members"),
	    "every member kind, escapes and nesting, past a 64-byte buffer");

	/* JSON_STACK_NODES, the root included, and not one more. */
	o = json_stack_init(&st);
	for (i = 1; i < JSON_STACK_NODES; i++)
		json_stack_int(&st, o, "n", (int64_t)i);
	text = json_print_kept(&k, o) > 0 ? k.buf : NULL;
	CHECK(text != NULL && st.n == JSON_STACK_NODES,
	    "JSON_STACK_NODES nodes fit");
	if ((pid = fork()) == 0) {
		int fd = open("/dev/null", O_WRONLY);

		if (fd != -1)
			dup2(fd, STDERR_FILENO);
		json_stack_int(&st, o, "n", 0);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
	    WIFEXITED(status) && WEXITSTATUS(status) != 0,
	    "one node more is fatal");

	/* The kept buffer grows, and prints what cJSON prints. */
	if ((big = malloc(10000)) == NULL)
		return;
	memset(big, 'x', 9999);
	big[9999] = '\0';
	o = json_stack_init(&st);
	json_stack_str(&st, o, "big", big);
	len = json_print_kept(&k, o);
	want = cJSON_CreateObject();
	cJSON_AddStringToObject(want, "big", big);
	text = cJSON_PrintUnformatted(want);
	CHECK(text != NULL && len == strlen(text) && strcmp(k.buf, text) == 0 &&
	    k.size >= len + 1, "json_print_kept grows to a large text");
	cJSON_free((void *)text);
	cJSON_Delete(want);
	text = json_print_buf(o, name, sizeof(name), &len, &heap);
	CHECK(text != NULL && text == heap && len == 10009,
	    "json_print_buf: past the buffer, on the heap");
	cJSON_free(heap);
	o = json_stack_init(&st);
	text = json_print_buf(o, name, sizeof(name), &len, &heap);
	CHECK(text == name && heap == NULL && len == 2 &&
	    strcmp(text, "{}") == 0, "json_print_buf: in the buffer");
	free(big);
	json_kept_free(&k);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 1;
	test_text();
	test_parse_i64();
	test_fmt_int();
	test_copy_text();
	test_ids();
	test_ids_unique();
	test_log_buffer();
	test_json();
	test_json_stack();
	return TAP_DONE();
}
