/*
 * The MCP JSON-RPC handler of `dino mcp` (clients/mcp.c, mcptools.c): one
 * line from the MCP client, answered through a scripted agent API instead
 * of the frontend's socket.
 *
 * Input: the line, then optionally a 0xff byte and the body the scripted
 * API answers a tool call with (its status from the body's first byte), so
 * the tools' handling of the frontend's answers is fuzzed as well.  The
 * tools document is fixed, so the cached tools/list stays the same.
 */
#include "fuzz.h"

#include "../../clients/client.h"

static const char tools_doc[] =
    "{\"tools\":[{\"name\":\"create_spend\",\"inputSchema\":"
    "{\"type\":\"object\",\"properties\":{\"amount_cents\":"
    "{\"type\":\"integer\"}}},\"outputSchema\":{\"type\":\"object\"}},"
    "{\"name\":\"get_balance\",\"inputSchema\":{\"type\":\"object\"},"
    "\"outputSchema\":{\"type\":\"object\"}},"
    "{\"name\":\"get_spend\",\"inputSchema\":{\"type\":\"object\"},"
    "\"outputSchema\":{\"type\":\"object\"}},"
    "{\"name\":\"wait_spend\",\"inputSchema\":{\"type\":\"object\","
    "\"title\":\"wait\"},\"outputSchema\":{\"type\":\"object\"}}],"
    "\"errorSchema\":{}}";

static const uint8_t *answer;
static size_t answer_len;
static struct agent agent;
static struct mcp mcp;

static int
scripted(struct agent *a, const char *method, const char *path,
    const char *body, long timeout_s, struct agent_resp *r)
{
	static const long statuses[] = { 200, 201, 202, 400, 404, 409, 429,
	    500, 502, 503 };

	if (strcmp(path, "/tools") == 0 || answer == NULL) {
		r->status = 200;
		r->body = strdup(answer == NULL && strcmp(path, "/tools") != 0 ?
		    "{}" : tools_doc);
		r->len = strlen(r->body);
		return 0;
	}
	r->status = answer_len > 0 ?
	    statuses[answer[0] % (sizeof(statuses) / sizeof(statuses[0]))] :
	    200;
	r->body = fuzz_strndup(answer, answer_len);
	r->len = answer_len;
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet("fuzz_mcp");
	agent.call = scripted;
	agent.no_sleep = 1;
	agent.socket = "/scripted";
	mcp.agent = &agent;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep;
	char *line, *out;
	size_t n = size;

	answer = NULL;
	answer_len = 0;
	if ((sep = memchr(data, 0xff, size)) != NULL) {
		n = (size_t)(sep - data);
		answer = sep + 1;
		answer_len = size - n - 1;
	}
	/* mcp_handle_line() gets exactly the line's bytes, as mcp_serve(). */
	if ((line = malloc(n ? n : 1)) == NULL)
		abort();
	memcpy(line, data, n);
	if ((out = mcp_handle_line(&mcp, line, n)) != NULL)
		free(out);
	free(line);
	/* A fresh session now and then, so initialize is reached again. */
	if (size > 0 && data[0] == 'I') {
		memset(mcp.version, 0, sizeof(mcp.version));
		mcp.initialized = 0;
	}
	return 0;
}
