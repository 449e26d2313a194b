/*
 * The four MCP tools of `dino mcp`.  Their inputSchema and outputSchema come
 * from GET /tools, the one source the frontend serves; the names and the
 * descriptions are the adapter's own, because they tell the model about
 * wait_for_decision, which the API calls wait_spend.
 *
 * Results are a text block for the model plus structuredContent.  A spend
 * that is approved or pending is a plain result; a declined or cancelled
 * one, and every refusal or error of the API, has isError set, so the model
 * reads it and can correct itself.  Arguments are checked here only where
 * they build a URL (a spend id, timeout_s); the frontend checks the rest
 * and its 400 comes back as an isError result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "client.h"
#include "json.h"
#include "dinolimits.h"
#include "spend.h"
#include "util.h"

struct tool {
	const char	*name;		/* for MCP */
	const char	*api;		/* in GET /tools */
	const char	*title;
	int		 read_only;
	const char	*description;
	cJSON		*(*call)(struct mcp *, const cJSON *args);
};

static cJSON	*call_create(struct mcp *, const cJSON *);
static cJSON	*call_balance(struct mcp *, const cJSON *);
static cJSON	*call_get(struct mcp *, const cJSON *);
static cJSON	*call_wait(struct mcp *, const cJSON *);

static const struct tool tools[] = {
	{ "create_spend", "create_spend", "Request a spend", 0,
	    "Ask to spend money from this agent's Dino account for one "
	    "purchase. Dino answers approved (go ahead), declined (final: "
	    "do not retry), or needs_approval: a human must decide, which is "
	    "not a failure. On needs_approval do NOT call create_spend "
	    "again; call wait_for_decision with the returned id. If the "
	    "outcome is not yet known, call create_spend again with the "
	    "same arguments and the same idempotency_key; one is made for "
	    "you when you give none and is shown in the result.",
	    call_create },
	{ "get_balance", "get_balance", "Balance and budget", 1,
	    "The wallet balance and the remaining budget of this agent's Dino "
	    "account, in cents.", call_balance },
	{ "get_spend", "get_spend", "Look up a spend", 1,
	    "The current state of one of this agent's spends, by its id "
	    "(req_...). To wait for a pending spend, use wait_for_decision "
	    "instead of calling this in a loop.", call_get },
	{ "wait_for_decision", "wait_spend", "Wait for a human's decision", 1,
	    "Wait until a spend that needs approval is approved, declined or "
	    "cancelled, for up to timeout_s seconds (default 50). If it is "
	    "still pending when the time is up, the result says so: call "
	    "wait_for_decision again; do not create the spend again.",
	    call_wait },
};

/* -- results ------------------------------------------------------------ */

static cJSON *
result(const char *text, const cJSON *structured, int is_error)
{
	cJSON *r, *content, *block;

	if ((r = cJSON_CreateObject()) == NULL)
		return NULL;
	content = cJSON_AddArrayToObject(r, "content");
	if ((block = cJSON_CreateObject()) != NULL) {
		cJSON_AddStringToObject(block, "type", "text");
		cJSON_AddStringToObject(block, "text", text);
		cJSON_AddItemToArray(content, block);
	}
	if (structured != NULL)
		cJSON_AddItemToObject(r, "structuredContent",
		    cJSON_Duplicate(structured, 1));
	cJSON_AddBoolToObject(r, "isError", is_error);
	return r;
}

/* The text: what happened and what to do, then the object as JSON. */
static cJSON *
result_with_json(const char *headline, const cJSON *v, int is_error)
{
	char *json, *text = NULL;
	size_t len = 0;
	cJSON *r;
	FILE *f;

	if ((f = open_memstream(&text, &len)) == NULL)
		return NULL;
	fputs(headline, f);
	if ((json = fmt_json(v)) != NULL) {
		fprintf(f, "\n\n%s", json);
		cJSON_free(json);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	r = result(text, v, is_error);
	free(text);
	return r;
}

static const char *
str_of(const cJSON *o, const char *name)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(it) ? it->valuestring : "";
}

/* The headline for a spend; key names the idempotency_key to reuse. */
static int
spend_headline(char *buf, size_t len, const cJSON *s, enum outcome o)
{
	const char *id = str_of(s, "id"), *st = str_of(s, "status");
	const char *url = str_of(s, "approval_url");
	const char *key = str_of(s, "idempotency_key");

	switch (o) {
	case OUT_APPROVED:
		snprintf(buf, len, "Approved: spend %s is approved; the "
		    "purchase may go ahead.", id);
		return 0;
	case OUT_PENDING:
		snprintf(buf, len, "Pending (%s): a human must approve or "
		    "decline spend %s. This is not a failure and not a "
		    "decline. Do not call create_spend again for this "
		    "purchase; call wait_for_decision with id %s to wait for "
		    "the decision.%s%s",
		    st, id, id, url[0] != '\0' ? " Approval page: " : "", url);
		return 0;
	case OUT_TIMED_OUT:
		snprintf(buf, len, "Still pending (%s): no decision on spend "
		    "%s yet. Call wait_for_decision again with id %s to keep "
		    "waiting; do not create the spend again.", st, id, id);
		return 0;
	case OUT_SUBMITTING:
		snprintf(buf, len, "Outcome not yet known: the spend was sent "
		    "but Dino has not answered yet. This is not a decline. "
		    "Call create_spend again with the same arguments and "
		    "idempotency_key \"%s\" to learn the outcome.", key);
		return 0;
	case OUT_DECLINED:
		snprintf(buf, len, "Not approved: spend %s was %s (%s). This "
		    "is final; do not retry the same spend.", id, st,
		    str_of(s, "decision_reason")[0] != '\0' ?
		    str_of(s, "decision_reason") : "no reason given");
		return 1;
	default:
		snprintf(buf, len, "Unexpected answer: spend %s has status "
		    "\"%s\".", id, st);
		return 1;
	}
}

/* An answer that is not a spend or balance: a refusal or an outage. */
static cJSON *
error_result(const struct agent_resp *r, const char *key)
{
	enum outcome o = outcome_of(r);
	const char *code = resp_error_code(r), *msg = resp_error_message(r);
	const char *advice;
	char text[1024];

	if (code == NULL)
		code = outcome_name(o);
	switch (o) {
	case OUT_REFUSED:
		advice = "Refused by local policy; do not retry. Tell the "
		    "user.";
		break;
	case OUT_INVALID:
		advice = "The request is invalid; fix the arguments and call "
		    "again.";
		break;
	case OUT_NOT_FOUND:
		advice = "No such spend for this agent.";
		break;
	case OUT_DECLINED:
		advice = "Not approved; this is final.";
		break;
	case OUT_RATE_LIMITED:
		advice = "Too many requests; wait a minute and try again.";
		break;
	case OUT_SUBMITTING:
		advice = "The outcome is not yet known; this is not a decline. "
		    "Call create_spend again with the same arguments and "
		    "idempotency_key.";
		break;
	default:
		advice = r->status == 0 ? "The Dino broker is unreachable; try "
		    "again later." : "The Dino broker could not answer; try "
		    "again later.";
		break;
	}
	snprintf(text, sizeof(text), "%s (%s: %s)%s%s%s", advice, code, msg,
	    key != NULL ? " idempotency_key: \"" : "", key != NULL ? key : "",
	    key != NULL ? "\"" : "");
	return result(text, NULL, 1);
}

static cJSON *
spend_result(const struct agent_resp *r, const char *key)
{
	enum outcome o = outcome_of(r);
	char headline[1024];
	int is_error;

	if (r->status < 200 || r->status > 299 || o == OUT_INTERNAL ||
	    o == OUT_OK)
		return error_result(r, o == OUT_SUBMITTING ||
		    o == OUT_UNAVAILABLE ? key : NULL);
	is_error = spend_headline(headline, sizeof(headline), r->json, o);
	return result_with_json(headline, r->json, is_error);
}

static cJSON *
invalid_args(const char *text)
{
	return result(text, NULL, 1);
}

/* -- the tools ---------------------------------------------------------- */

/* Names outside allowed make an isError result the model can fix. */
static cJSON *
check_names(const cJSON *args, const char *const *allowed, size_t n)
{
	const cJSON *it;
	char text[256];
	size_t i;

	cJSON_ArrayForEach(it, args) {
		for (i = 0; i < n; i++)
			if (strcmp(it->string, allowed[i]) == 0)
				break;
		if (i == n) {
			snprintf(text, sizeof(text), "Invalid arguments: "
			    "unknown argument \"%.64s\".", it->string);
			return invalid_args(text);
		}
	}
	return NULL;
}

/*
 * The idempotency_key is the model's, or one made for this call: the
 * adapter's retries reuse it, and the result shows it for the model's.
 */
static cJSON *
call_create(struct mcp *m, const cJSON *args)
{
	char key[IDEMPOTENCY_KEY_MAX + 1];
	struct agent_resp r;
	const cJSON *k;
	cJSON *body, *res;

	if ((body = cJSON_Duplicate(args, 1)) == NULL)
		return NULL;
	k = cJSON_GetObjectItemCaseSensitive(body, "idempotency_key");
	if (k == NULL) {
		if (agent_make_key(key, sizeof(key)) == -1) {
			cJSON_Delete(body);
			return NULL;
		}
		cJSON_AddStringToObject(body, "idempotency_key", key);
	} else
		snprintf(key, sizeof(key), "%s", cJSON_IsString(k) ?
		    k->valuestring : "");
	agent_create_spend(m->agent, body, &r);
	cJSON_Delete(body);
	res = spend_result(&r, key);
	agent_resp_free(&r);
	return res;
}

static cJSON *
call_balance(struct mcp *m, const cJSON *args)
{
	struct agent_resp r;
	cJSON *res;

	if ((res = check_names(args, NULL, 0)) != NULL)
		return res;
	agent_request(m->agent, "GET", "/tools/get_balance", NULL,
	    CLIENT_REQUEST_TIMEOUT_S, &r);
	if (r.status == 200 && outcome_of(&r) == OUT_OK)
		res = result_with_json("Balance of this agent's Dino account, "
		    "in cents:", r.json, 0);
	else
		res = error_result(&r, NULL);
	agent_resp_free(&r);
	return res;
}

/* The id argument, checked before it becomes part of a URL. */
static const char *
get_id(const cJSON *args, cJSON **bad)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(args, "id");

	*bad = NULL;
	if (!cJSON_IsString(id) || spend_check_ref(id->valuestring) != NULL) {
		*bad = invalid_args("Invalid arguments: id must be a spend id: "
		    "req_ or hold_ followed by 26 lowercase letters and "
		    "digits.");
		return NULL;
	}
	return id->valuestring;
}

static cJSON *
call_get(struct mcp *m, const cJSON *args)
{
	static const char *const names[] = { "id" };
	struct agent_resp r;
	const char *id;
	char path[128];
	cJSON *res;

	if ((res = check_names(args, names, nitems(names))) != NULL)
		return res;
	if ((id = get_id(args, &res)) == NULL)
		return res;
	snprintf(path, sizeof(path), "/tools/get_spend/%s", id);
	agent_request(m->agent, "GET", path, NULL, CLIENT_REQUEST_TIMEOUT_S,
	    &r);
	res = spend_result(&r, NULL);
	agent_resp_free(&r);
	return res;
}

static cJSON *
call_wait(struct mcp *m, const cJSON *args)
{
	static const char *const names[] = { "id", "timeout_s" };
	const cJSON *t;
	struct agent_resp r;
	const char *id, *why;
	int64_t timeout = MCP_WAIT_DEFAULT_S;
	cJSON *res;

	if ((res = check_names(args, names, nitems(names))) != NULL)
		return res;
	if ((id = get_id(args, &res)) == NULL)
		return res;
	t = cJSON_GetObjectItemCaseSensitive(args, "timeout_s");
	if (t != NULL && json_get_int(t, 0, FRONTEND_WAIT_MAX_S, &timeout,
	    &why) == -1)
		return invalid_args("Invalid arguments: timeout_s must be a "
		    "whole number of seconds from 0 to 300.");
	agent_wait_spend(m->agent, id, (long)timeout, &r);
	res = spend_result(&r, NULL);
	agent_resp_free(&r);
	return res;
}

/* -- tools/list and tools/call ------------------------------------------ */

static const cJSON *
api_tool(const cJSON *doc, const char *name)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(doc, "tools"))
		if (strcmp(str_of(t, "name"), name) == 0)
			return t;
	return NULL;
}

static cJSON *
annotations(const struct tool *t)
{
	cJSON *a;

	if ((a = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddStringToObject(a, "title", t->title);
	cJSON_AddBoolToObject(a, "readOnlyHint", t->read_only);
	cJSON_AddFalseToObject(a, "destructiveHint");
	cJSON_AddBoolToObject(a, "idempotentHint", t->read_only);
	cJSON_AddTrueToObject(a, "openWorldHint");
	return a;
}

/* One MCP tool from the API's descriptor; NULL if the API lacks it. */
static cJSON *
adapt(const struct tool *t, const cJSON *doc)
{
	const cJSON *api, *in, *out;
	cJSON *o;

	if ((api = api_tool(doc, t->api)) == NULL)
		return NULL;
	in = cJSON_GetObjectItemCaseSensitive(api, "inputSchema");
	out = cJSON_GetObjectItemCaseSensitive(api, "outputSchema");
	if (!cJSON_IsObject(in) || !cJSON_IsObject(out))
		return NULL;
	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "name", t->name);
	cJSON_AddStringToObject(o, "title", t->title);
	cJSON_AddStringToObject(o, "description", t->description);
	cJSON_AddItemToObject(o, "inputSchema", cJSON_Duplicate(in, 1));
	cJSON_AddItemToObject(o, "outputSchema", cJSON_Duplicate(out, 1));
	cJSON_AddItemToObject(o, "annotations", annotations(t));
	return o;
}

/* Fetches GET /tools once and keeps the adapted list for the session. */
static int
tools_fetch(struct mcp *m, const char **why)
{
	struct agent_resp r;
	cJSON *list, *o;
	size_t i;

	agent_request(m->agent, "GET", "/tools", NULL, CLIENT_REQUEST_TIMEOUT_S,
	    &r);
	if (r.status != 200 || r.json == NULL) {
		*why = r.status == 0 ? "the agent socket is unreachable" :
		    "GET /tools failed";
		agent_resp_free(&r);
		return -1;
	}
	if ((list = cJSON_CreateArray()) == NULL) {
		agent_resp_free(&r);
		return -1;
	}
	for (i = 0; i < nitems(tools); i++)
		if ((o = adapt(&tools[i], r.json)) != NULL)
			cJSON_AddItemToArray(list, o);
	agent_resp_free(&r);
	if (cJSON_GetArraySize(list) != (int)nitems(tools)) {
		*why = "GET /tools lacks a tool or its schemas";
		cJSON_Delete(list);
		return -1;
	}
	m->tools = list;
	return 0;
}

cJSON *
mcp_tools_list(struct mcp *m, const char **why)
{
	cJSON *r;

	if (m->tools == NULL && tools_fetch(m, why) == -1)
		return NULL;
	if ((r = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddItemToObject(r, "tools", cJSON_Duplicate(m->tools, 1));
	return r;
}

/*
 * tools/call.  A malformed call (no name, arguments not an object) or an
 * unknown tool is a JSON-RPC error (-32602); everything after that is a
 * result, isError included.
 */
cJSON *
mcp_tools_call(struct mcp *m, const cJSON *params, int *code,
    const char **why)
{
	const cJSON *name, *args;
	cJSON *empty = NULL, *res;
	size_t i;

	*code = MCP_ERR_PARAMS;
	name = cJSON_GetObjectItemCaseSensitive(params, "name");
	if (!cJSON_IsString(name)) {
		*why = "Invalid params: name must be a string";
		return NULL;
	}
	for (i = 0; i < nitems(tools); i++)
		if (strcmp(name->valuestring, tools[i].name) == 0)
			break;
	if (i == nitems(tools)) {
		*why = "Unknown tool";
		return NULL;
	}
	args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	if (args == NULL || cJSON_IsNull(args))
		args = empty = cJSON_CreateObject();
	if (!cJSON_IsObject(args)) {
		*why = "Invalid params: arguments must be an object";
		return NULL;
	}
	res = tools[i].call(m, args);
	cJSON_Delete(empty);
	if (res == NULL) {
		*code = MCP_ERR_INTERNAL;
		*why = "Internal error";
	}
	return res;
}
