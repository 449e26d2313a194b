/*
 * The JSON-RPC dispatch of `dino mcp` (clients/mcp.c, clients/mcptools.c),
 * line by line, with a scripted agent API in place of the socket.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../../clients/client.h"
#include "dinolimits.h"
#include "tap.h"

#define SPEND_ID	"req_01hzz0000000000000000000ab"

static const char tools_doc[] =
    "{\"tools\":["
    "{\"name\":\"create_spend\",\"inputSchema\":{\"type\":\"object\"},"
    "\"outputSchema\":{\"type\":\"object\",\"title\":\"spend\"}},"
    "{\"name\":\"get_balance\",\"inputSchema\":{\"type\":\"object\"},"
    "\"outputSchema\":{\"type\":\"object\"}},"
    "{\"name\":\"get_spend\",\"inputSchema\":{\"type\":\"object\"},"
    "\"outputSchema\":{\"type\":\"object\"}},"
    "{\"name\":\"wait_spend\",\"inputSchema\":{\"type\":\"object\","
    "\"title\":\"wait\"},\"outputSchema\":{\"type\":\"object\"}}],"
    "\"errorSchema\":{}}";

/* What the scripted API answers next, and what it was asked. */
static long next_status = 200;
static const char *next_body = "{}";
static char last_path[256];
static char last_body[1024];
static int ncalls;

static int
scripted(struct agent *a, const char *method, const char *path,
    const char *body, long timeout_s, struct agent_resp *r)
{
	ncalls++;
	snprintf(last_path, sizeof(last_path), "%s %s", method, path);
	snprintf(last_body, sizeof(last_body), "%s", body ? body : "");
	if (strcmp(path, "/tools") == 0) {
		r->status = 200;
		r->body = strdup(tools_doc);
	} else {
		r->status = next_status;
		r->body = strdup(next_body);
	}
	r->len = strlen(r->body);
	return 0;
}

static cJSON *
ask(struct mcp *m, const char *line)
{
	cJSON *j;
	char *out;

	if ((out = mcp_handle_line(m, line, strlen(line))) == NULL)
		return NULL;
	j = cJSON_Parse(out);
	cJSON_free(out);
	return j;
}

static int
error_code(const cJSON *j)
{
	const cJSON *e = cJSON_GetObjectItem(j, "error");

	return (int)cJSON_GetNumberValue(cJSON_GetObjectItem(e, "code"));
}

static const cJSON *
result(const cJSON *j)
{
	return cJSON_GetObjectItem(j, "result");
}

static int
is_error(const cJSON *j)
{
	return cJSON_IsTrue(cJSON_GetObjectItem(result(j), "isError"));
}

static void
test_envelope(struct mcp *m)
{
	const char *big;
	cJSON *j;
	char *s;

	CHECK(ask(m, "{\"jsonrpc\":\"2.0\",\"method\":\"x/y\"}") == NULL,
	    "a notification gets no answer");
	j = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"ping\"}");
	CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "id")) &&
	    cJSON_GetObjectItem(j, "id")->valueint == 0 &&
	    cJSON_IsObject(result(j)), "id 0 echoed");
	cJSON_Delete(j);
	big = "{\"jsonrpc\":\"2.0\",\"id\":1000000000000000,"
	    "\"method\":\"ping\"}";
	s = mcp_handle_line(m, big, strlen(big));
	CHECK(s != NULL && strstr(s, "\"id\":1000000000000000") != NULL,
	    "a large integer id is echoed in full, not as 1e+15");
	cJSON_free(s);
	j = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":\"nope\"}");
	CHECK(error_code(j) == MCP_ERR_METHOD, "unknown method: -32601");
	cJSON_Delete(j);
	j = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"");
	CHECK(error_code(j) == MCP_ERR_PARSE &&
	    cJSON_IsNull(cJSON_GetObjectItem(j, "id")), "parse error, id null");
	cJSON_Delete(j);
	j = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}");
	CHECK(error_code(j) == MCP_ERR_INVALID_REQUEST, "boolean id: -32600");
	cJSON_Delete(j);
	j = ask(m, "{\"id\":1,\"method\":\"ping\"}");
	CHECK(error_code(j) == MCP_ERR_INVALID_REQUEST, "no jsonrpc: -32600");
	cJSON_Delete(j);
	CHECK(ask(m, "{\"jsonrpc\":\"2.0\",\"id\":4,\"result\":{}}") == NULL,
	    "a response from the client gets no answer");
}

static void
test_eras(struct mcp *m)
{
	cJSON *j;

	j = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
	    "\"params\":{\"protocolVersion\":\"2025-06-18\"}}");
	CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(result(j),
	    "protocolVersion")), "2025-06-18") == 0 &&
	    strcmp(m->version, "2025-06-18") == 0, "initialize 2025-06-18");
	cJSON_Delete(j);
	j = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
	    "\"params\":{\"protocolVersion\":\"1999-01-01\"}}");
	CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(result(j),
	    "protocolVersion")), "2025-11-25") == 0, "unknown: newest legacy");
	cJSON_Delete(j);
	j = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\","
	    "\"params\":{\"_meta\":{"
	    "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}");
	CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(result(j),
	    "resultType")), "complete") == 0, "modern: resultType");
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(result(j), "tools")) == 4,
	    "four tools");
	cJSON_Delete(j);
	j = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\","
	    "\"params\":{\"_meta\":{"
	    "\"io.modelcontextprotocol/protocolVersion\":7}}}");
	CHECK(error_code(j) == MCP_ERR_VERSION, "a non-string version: -32022");
	cJSON_Delete(j);
	j = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\"}");
	CHECK(cJSON_GetObjectItem(result(j), "resultType") == NULL,
	    "legacy: no resultType");
	cJSON_Delete(j);
}

static void
test_tools_list(struct mcp *m)
{
	const cJSON *t;
	cJSON *j;

	j = ask(m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	t = cJSON_GetArrayItem(cJSON_GetObjectItem(result(j), "tools"), 3);
	CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(t, "name")),
	    "wait_for_decision") == 0, "wait_spend is wait_for_decision");
	CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(
	    cJSON_GetObjectItem(t, "inputSchema"), "title")), "wait") == 0,
	    "its inputSchema is the API's");
	cJSON_Delete(j);
}

static cJSON *
call(struct mcp *m, const char *name, const char *args)
{
	char line[2048];

	snprintf(line, sizeof(line), "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
	    "\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s}}",
	    name, args);
	return ask(m, line);
}

static void
test_calls(struct mcp *m)
{
	cJSON *j;

	next_status = 200;
	next_body = "{\"id\":\"" SPEND_ID "\",\"status\":\"needs_approval\","
	    "\"amount_cents\":60000}";
	j = call(m, "create_spend", "{\"amount_cents\":60000}");
	CHECK(!is_error(j) && cJSON_GetObjectItem(result(j),
	    "structuredContent") != NULL, "needs_approval: not an error");
	CHECK(strstr(last_body, "\"idempotency_key\":\"dino-") != NULL,
	    "a key was added to the request");
	CHECK(strstr(last_body, "\"amount_cents\":60000") != NULL,
	    "the arguments were passed on");
	cJSON_Delete(j);
	next_body = "{\"id\":\"" SPEND_ID "\",\"status\":\"declined\"}";
	j = call(m, "get_spend", "{\"id\":\"" SPEND_ID "\"}");
	CHECK(is_error(j) && strcmp(last_path, "GET /tools/get_spend/"
	    SPEND_ID) == 0, "declined: isError; the path");
	cJSON_Delete(j);
	j = call(m, "wait_for_decision", "{\"id\":\"" SPEND_ID "\"}");
	CHECK(strstr(last_path, "?timeout_s=50") != NULL,
	    "wait_for_decision's default timeout");
	cJSON_Delete(j);
	next_status = 403;
	next_body = "{\"error\":{\"code\":\"policy_denied\","
	    "\"message\":\"no\"}}";
	j = call(m, "get_balance", "{}");
	CHECK(is_error(j) && cJSON_GetObjectItem(result(j),
	    "structuredContent") == NULL, "403: isError, no structuredContent");
	cJSON_Delete(j);
	ncalls = 0;
	j = call(m, "get_spend", "{\"id\":\"req_/../x\"}");
	CHECK(is_error(j) && ncalls == 0, "a bad id is refused before a call");
	cJSON_Delete(j);
	j = call(m, "pay", "{}");
	CHECK(error_code(j) == MCP_ERR_PARAMS, "unknown tool: -32602");
	cJSON_Delete(j);
	j = call(m, "get_balance", "\"x\"");
	CHECK(error_code(j) == MCP_ERR_PARAMS, "string arguments: -32602");
	cJSON_Delete(j);
}

int
main(void)
{
	struct agent a;
	struct mcp m;

	memset(&a, 0, sizeof(a));
	a.call = scripted;
	a.no_sleep = 1;
	a.socket = "/scripted";
	memset(&m, 0, sizeof(m));
	m.agent = &a;
	test_envelope(&m);
	test_eras(&m);
	test_tools_list(&m);
	test_calls(&m);
	cJSON_Delete(m.tools);
	return TAP_DONE();
}
