/*
 * Human-readable output: one "name: value" line per field, then a hint
 * saying what to do next.  Pure functions on parsed answers.  Every string
 * that came over the socket is printed through fmt_safe(), so a merchant
 * name cannot move the cursor or forge a line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "client.h"
#include "json.h"

/* Control bytes (and DEL) become '?'; UTF-8 passes as it is. */
void
fmt_safe(FILE *f, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

/* "12.34 usd" from 1234 cents; negative amounts keep their sign. */
void
fmt_cents(char *buf, size_t len, int64_t cents, const char *currency)
{
	uint64_t abs;

	abs = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
	snprintf(buf, len, "%s%" PRIu64 ".%02" PRIu64 "%s%s",
	    cents < 0 ? "-" : "", abs / 100, abs % 100,
	    currency != NULL ? " " : "", currency != NULL ? currency : "");
}

static const char *
str_of(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static void
line_str(FILE *f, const char *label, const cJSON *o, const char *name)
{
	const char *v;

	if ((v = str_of(o, name)) == NULL)
		return;
	fprintf(f, "%-17s ", label);
	fmt_safe(f, v);
	fputc('\n', f);
}

static void
line_cents(FILE *f, const char *label, const cJSON *o, const char *name,
    const char *currency)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	const char *why;
	char buf[64];
	int64_t v;

	if (it == NULL || json_get_int(it, INT64_MIN / 2, INT64_MAX / 2, &v,
	    &why) == -1)
		return;
	fmt_cents(buf, sizeof(buf), v, currency);
	fprintf(f, "%-17s ", label);
	fmt_safe(f, buf);
	fputc('\n', f);
}

void
fmt_spend(FILE *f, const cJSON *s)
{
	const char *cur = str_of(s, "currency");

	line_str(f, "status:", s, "status");
	line_str(f, "id:", s, "id");
	line_cents(f, "amount:", s, "amount_cents", cur);
	line_str(f, "merchant:", s, "merchant_name");
	line_str(f, "reason:", s, "reason");
	line_str(f, "decision reason:", s, "decision_reason");
	line_str(f, "approval url:", s, "approval_url");
	line_cents(f, "budget left:", s, "remaining_budget_cents", cur);
	line_cents(f, "monthly left:", s, "remaining_monthly_budget_cents",
	    cur);
	line_str(f, "budget period:", s, "budget_period");
	line_str(f, "created:", s, "created_at");
	line_str(f, "decided:", s, "decided_at");
	line_str(f, "idempotency key:", s, "idempotency_key");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "replayed")))
		fprintf(f, "%-17s yes (an earlier request with this key)\n",
		    "replayed:");
}

void
fmt_balance(FILE *f, const cJSON *b)
{
	const char *cur = str_of(b, "currency");

	line_str(f, "currency:", b, "currency");
	line_cents(f, "wallet available:", b, "wallet_available_cents", cur);
	line_str(f, "budget period:", b, "budget_period");
	line_cents(f, "budget:", b, "budget_cents", cur);
	line_cents(f, "spent:", b, "spent_cents", cur);
	line_cents(f, "budget left:", b, "remaining_budget_cents", cur);
	line_cents(f, "monthly left:", b, "remaining_monthly_budget_cents",
	    cur);
}

void
fmt_tools(FILE *f, const cJSON *doc)
{
	const cJSON *t;
	const char *name, *desc;

	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "tools")) {
		if ((name = str_of(t, "name")) == NULL)
			continue;
		fmt_safe(f, name);
		fputc('\n', f);
		if ((desc = str_of(t, "description")) != NULL) {
			fputs("    ", f);
			fmt_safe(f, desc);
			fputc('\n', f);
		}
	}
}

/* What to do next, for the outcomes that need a next step. */
void
fmt_hint(FILE *f, const cJSON *s, enum outcome o)
{
	const char *id = str_of(s, "id"), *key = str_of(s, "idempotency_key");

	switch (o) {
	case OUT_PENDING:
	case OUT_TIMED_OUT:
		fputs(o == OUT_TIMED_OUT ? "Still pending: no decision yet. " :
		    "Pending: a human decides; this is not a decline. ", f);
		if (id != NULL) {
			fputs("Run: dino wait ", f);
			fmt_safe(f, id);
		}
		fputc('\n', f);
		break;
	case OUT_SUBMITTING:
		fputs("Outcome not yet known (not declined). Retry the same "
		    "spend", f);
		if (key != NULL) {
			fputs(" with --idempotency-key ", f);
			fmt_safe(f, key);
		}
		fputc('\n', f);
		break;
	default:
		break;
	}
}

/* Runs a formatter into a string, for the MCP text blocks and the tests. */
char *
fmt_to_string(void (*fn)(FILE *, const cJSON *), const cJSON *v)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return NULL;
	fn(f, v);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * cJSON prints a number from its double, so 10^15 cents would come out as
 * 1e+15, which strict readers take for a float.  Integral numbers become
 * raw decimal integers in a copy of the tree before it is printed.
 */
static void
ints_exact(cJSON *node)
{
	cJSON *it, *next, *raw;
	char num[32];
	double d;

	for (it = node != NULL ? node->child : NULL; it != NULL; it = next) {
		next = it->next;
		if (!cJSON_IsNumber(it)) {
			ints_exact(it);
			continue;
		}
		d = it->valuedouble;
		if (!(d > -9.2e18 && d < 9.2e18) || (double)(long long)d != d)
			continue;
		snprintf(num, sizeof(num), "%lld", (long long)d);
		if ((raw = cJSON_CreateRaw(num)) == NULL)
			continue;
		/* In an object the new item takes the member's name. */
		if (!(cJSON_IsObject(node) ?
		    cJSON_ReplaceItemInObjectCaseSensitive(node, it->string,
		    raw) : cJSON_ReplaceItemViaPointer(node, it, raw)))
			cJSON_Delete(raw);
	}
}

/* The unformatted text of v, integers exact; free with cJSON_free(). */
char *
fmt_json(const cJSON *v)
{
	cJSON *copy;
	char *s;

	if ((copy = cJSON_Duplicate(v, 1)) == NULL)
		return NULL;
	if (cJSON_IsNumber(copy)) {
		cJSON_Delete(copy);
		return cJSON_PrintUnformatted(v);
	}
	ints_exact(copy);
	s = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	return s;
}
