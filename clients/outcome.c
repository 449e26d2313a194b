/*
 * What an answer of the agent API means, and the exit status a script sees
 * for it.  Pure functions: the CLI and the MCP tools share them, so a shell
 * agent and a model read every answer the same way.
 */
#include <string.h>

#include <cJSON.h>

#include "client.h"

static const char *
str_member(const cJSON *o, const char *name)
{
	const cJSON *it;

	it = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

/* The spend object's status; a pending spend past its wait timed out. */
enum outcome
outcome_of_spend(const cJSON *spend)
{
	const char *st;

	if ((st = str_member(spend, "status")) == NULL)
		return OUT_INTERNAL;
	if (strcmp(st, "approved") == 0)
		return OUT_APPROVED;
	if (strcmp(st, "declined") == 0 || strcmp(st, "cancelled") == 0)
		return OUT_DECLINED;
	if (strcmp(st, "submitting") == 0)
		return OUT_SUBMITTING;
	if (strcmp(st, "needs_approval") != 0 && strcmp(st, "held") != 0)
		return OUT_INTERNAL;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(spend, "timed_out")))
		return OUT_TIMED_OUT;
	return OUT_PENDING;
}

/* An error answer, by HTTP status and, where the status is shared, code. */
enum outcome
outcome_of_error(long status, const char *code)
{
	if (code == NULL)
		code = "";
	if (status == 0)
		return OUT_UNAVAILABLE;
	if (strcmp(code, "submitting") == 0)
		return OUT_SUBMITTING;
	if (strcmp(code, "paused") == 0 || status == 403)
		return OUT_REFUSED;
	switch (status) {
	case 402:
		return OUT_DECLINED;
	case 404:
		return OUT_NOT_FOUND;
	case 429:
		return OUT_RATE_LIMITED;
	case 500:
		return OUT_INTERNAL;
	}
	if (status >= 500)
		return OUT_UNAVAILABLE;
	if (status >= 400)
		return OUT_INVALID;
	return OUT_INTERNAL;
}

const char *
resp_error_code(const struct agent_resp *r)
{
	const cJSON *e;

	e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	return str_member(e, "code");
}

const char *
resp_error_message(const struct agent_resp *r)
{
	const cJSON *e;
	const char *m;

	e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	if ((m = str_member(e, "message")) != NULL)
		return m;
	return r->errbuf[0] != '\0' ? r->errbuf : "no details";
}

/*
 * A whole answer.  2xx with an object is a spend when it has a status,
 * else a read (balance, tools); anything else is an error.
 */
enum outcome
outcome_of(const struct agent_resp *r)
{
	if (r->status >= 200 && r->status <= 299) {
		if (!cJSON_IsObject(r->json))
			return OUT_INTERNAL;
		if (cJSON_GetObjectItemCaseSensitive(r->json, "status") != NULL)
			return outcome_of_spend(r->json);
		return OUT_OK;
	}
	return outcome_of_error(r->status, resp_error_code(r));
}

/*
 * Whether create_spend should be sent again with the same key: only while
 * the outcome is unknown or the refusal is temporary.  A pause is an
 * operator's decision, not an outage, so it is not retried.
 */
int
outcome_retryable(const struct agent_resp *r)
{
	const char *code;

	if (r->status == 0 || r->status == 202 || r->status == 429)
		return 1;
	code = resp_error_code(r);
	if (code != NULL && strcmp(code, "paused") == 0)
		return 0;
	if (code != NULL && strcmp(code, "submitting") == 0)
		return 1;
	return r->status == 502 || r->status == 503 || r->status == 504;
}

int
outcome_exit(enum outcome o)
{
	switch (o) {
	case OUT_OK:
	case OUT_APPROVED:
		return DINO_EXIT_OK;
	case OUT_DECLINED:
		return DINO_EXIT_DECLINED;
	case OUT_PENDING:
	case OUT_SUBMITTING:
	case OUT_TIMED_OUT:
		return DINO_EXIT_PENDING;
	case OUT_INVALID:
		return DINO_EXIT_INVALID;
	case OUT_NOT_FOUND:
		return DINO_EXIT_NOT_FOUND;
	case OUT_REFUSED:
		return DINO_EXIT_REFUSED;
	case OUT_RATE_LIMITED:
		return DINO_EXIT_RATE_LIMITED;
	case OUT_UNAVAILABLE:
		return DINO_EXIT_UNAVAILABLE;
	case OUT_INTERNAL:
		break;
	}
	return DINO_EXIT_INTERNAL;
}

const char *
outcome_name(enum outcome o)
{
	static const char *const names[] = {
		[OUT_OK] = "ok",
		[OUT_APPROVED] = "approved",
		[OUT_DECLINED] = "declined",
		[OUT_PENDING] = "pending",
		[OUT_SUBMITTING] = "submitting",
		[OUT_TIMED_OUT] = "timed_out",
		[OUT_INVALID] = "invalid_request",
		[OUT_NOT_FOUND] = "not_found",
		[OUT_REFUSED] = "refused",
		[OUT_RATE_LIMITED] = "rate_limited",
		[OUT_UNAVAILABLE] = "unavailable",
		[OUT_INTERNAL] = "internal_error",
	};

	if ((size_t)o >= sizeof(names) / sizeof(names[0]))
		return "internal_error";
	return names[o];
}
