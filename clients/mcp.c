/*
 * `dino mcp`: a Model Context Protocol server on stdio.  One JSON-RPC 2.0
 * message per line on stdin, one answer per line on stdout, nothing else
 * on stdout (logs go to stderr); EOF on stdin ends the server.
 *
 * Both protocol eras are served, request by request, as a dual-era server
 * does: a request whose params._meta names a protocol version is answered
 * with 2026-07-28 semantics (resultType on every result, -32022 for a
 * version we do not speak); `initialize` and requests without that _meta
 * follow the 2025-06-18 / 2025-11-25 handshake.  Lines longer than
 * MCP_LINE_MAX are answered with a parse error and skipped, so no input
 * can make the server grow without bound.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "client.h"
#include "json.h"
#include "dinolimits.h"
#include "log.h"
#include "util.h"

#define MCP_MODERN		"2026-07-28"
#define MCP_META_VERSION	"io.modelcontextprotocol/protocolVersion"
#define MCP_ID_MAX		9007199254740992LL	/* 2^53: exact */
#define MCP_READ_CHUNK		65536

/* Newest first: initialize falls back to the first legacy one. */
static const char *const versions_all[] = { MCP_MODERN, "2025-11-25",
	"2025-06-18" };
static const char *const versions_legacy[] = { "2025-11-25", "2025-06-18" };

static const char instructions[] =
    "Tools to spend money from this agent's Dino account. create_spend "
    "answers approved, declined, or needs_approval. needs_approval means a "
    "human decides: it is not a failure; call wait_for_decision with the "
    "spend id, and never create the same spend again. A declined spend is "
    "final. If create_spend says the outcome is not yet known, call it "
    "again with the same idempotency_key.";

/* One request, as read: its id (NULL for a notification) and era. */
struct rpc {
	const cJSON	*id;
	const char	*method;
	const cJSON	*params;
	int		 modern;
};

/* A JSON-RPC error to answer with. */
struct rpc_err {
	int		 code;
	const char	*message;
	cJSON		*data;
};

static int
in_list(const char *v, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v, list[i]) == 0)
			return 1;
	return 0;
}

/*
 * The id echoed as it came: a string as it is, a number as the integer it
 * is.  Integers are written out with %lld rather than by cJSON's double
 * printer, which would turn 10000000000000000 into 1e+16.
 */
static cJSON *
id_copy(const cJSON *id)
{
	const char *why;
	char num[32];
	int64_t v;

	if (id == NULL)
		return cJSON_CreateNull();
	if (cJSON_IsString(id))
		return cJSON_CreateString(id->valuestring);
	if (json_get_int(id, -MCP_ID_MAX, MCP_ID_MAX, &v, &why) == -1)
		return cJSON_CreateNull();
	snprintf(num, sizeof(num), "%lld", (long long)v);
	return cJSON_CreateRaw(num);
}

static int
id_valid(const cJSON *id)
{
	const char *why;
	int64_t v;

	if (cJSON_IsString(id))
		return 1;
	return json_get_int(id, -MCP_ID_MAX, MCP_ID_MAX, &v, &why) == 0;
}

static char *
print_free(cJSON *root)
{
	char *s = NULL;

	if (root != NULL)
		s = fmt_json(root);
	cJSON_Delete(root);
	return s;
}

static char *
answer_error(const cJSON *id, int code, const char *message, cJSON *data)
{
	cJSON *root, *e;

	if ((root = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(data);
		return NULL;
	}
	cJSON_AddStringToObject(root, "jsonrpc", "2.0");
	cJSON_AddItemToObject(root, "id", id_copy(id));
	if ((e = cJSON_AddObjectToObject(root, "error")) != NULL) {
		cJSON_AddNumberToObject(e, "code", code);
		cJSON_AddStringToObject(e, "message", message);
		if (data != NULL)
			cJSON_AddItemToObject(e, "data", data);
	} else
		cJSON_Delete(data);
	return print_free(root);
}

static char *
answer_result(const cJSON *id, cJSON *result)
{
	cJSON *root;

	if ((root = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(result);
		return NULL;
	}
	cJSON_AddStringToObject(root, "jsonrpc", "2.0");
	cJSON_AddItemToObject(root, "id", id_copy(id));
	cJSON_AddItemToObject(root, "result", result);
	return print_free(root);
}

/* {supported: [...], requested: "..."}, for both eras' version errors. */
static cJSON *
version_data(const char *requested)
{
	cJSON *d;

	if ((d = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddItemToObject(d, "supported", cJSON_CreateStringArray(
	    versions_all, (int)nitems(versions_all)));
	if (requested != NULL)
		cJSON_AddStringToObject(d, "requested", requested);
	else
		cJSON_AddNullToObject(d, "requested");
	return d;
}

static cJSON *
server_info(void)
{
	cJSON *s;

	if ((s = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddStringToObject(s, "name", "dino");
	cJSON_AddStringToObject(s, "title", "Dino spend broker");
	cJSON_AddStringToObject(s, "version", DINO_VERSION);
	return s;
}

static cJSON *
capabilities(void)
{
	cJSON *c, *t;

	if ((c = cJSON_CreateObject()) == NULL)
		return NULL;
	if ((t = cJSON_AddObjectToObject(c, "tools")) != NULL)
		cJSON_AddFalseToObject(t, "listChanged");
	return c;
}

static cJSON *
h_initialize(struct mcp *m, const struct rpc *q, struct rpc_err *err)
{
	const cJSON *pv;
	const char *v;
	cJSON *r;

	pv = cJSON_GetObjectItemCaseSensitive(q->params, "protocolVersion");
	if (!cJSON_IsString(pv)) {
		err->code = MCP_ERR_PARAMS;
		err->message = "initialize: protocolVersion must be a string";
		err->data = version_data(NULL);
		return NULL;
	}
	v = in_list(pv->valuestring, versions_legacy,
	    nitems(versions_legacy)) ? pv->valuestring : versions_legacy[0];
	snprintf(m->version, sizeof(m->version), "%s", v);
	if ((r = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddStringToObject(r, "protocolVersion", v);
	cJSON_AddItemToObject(r, "capabilities", capabilities());
	cJSON_AddItemToObject(r, "serverInfo", server_info());
	cJSON_AddStringToObject(r, "instructions", instructions);
	return r;
}

static cJSON *
h_discover(struct mcp *m, const struct rpc *q, struct rpc_err *err)
{
	cJSON *r;

	if ((r = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddItemToObject(r, "supportedVersions", cJSON_CreateStringArray(
	    versions_all, (int)nitems(versions_all)));
	cJSON_AddItemToObject(r, "capabilities", capabilities());
	cJSON_AddItemToObject(r, "serverInfo", server_info());
	cJSON_AddStringToObject(r, "instructions", instructions);
	cJSON_AddNumberToObject(r, "ttlMs", MCP_TOOLS_TTL_MS);
	cJSON_AddStringToObject(r, "cacheScope", "public");
	return r;
}

/* ping exists in the legacy era only; 2026-07-28 removed it. */
static cJSON *
h_ping(struct mcp *m, const struct rpc *q, struct rpc_err *err)
{
	if (q->modern) {
		err->code = MCP_ERR_METHOD;
		err->message = "Method not found: ping (removed in 2026-07-28)";
		return NULL;
	}
	return cJSON_CreateObject();
}

static cJSON *
h_tools_list(struct mcp *m, const struct rpc *q, struct rpc_err *err)
{
	cJSON *r;

	if ((r = mcp_tools_list(m, &err->message)) == NULL) {
		err->code = MCP_ERR_INTERNAL;
		return NULL;
	}
	if (q->modern) {
		cJSON_AddNumberToObject(r, "ttlMs", MCP_TOOLS_TTL_MS);
		cJSON_AddStringToObject(r, "cacheScope", "public");
	}
	return r;
}

static cJSON *
h_tools_call(struct mcp *m, const struct rpc *q, struct rpc_err *err)
{
	return mcp_tools_call(m, q->params, &err->code, &err->message);
}

static const struct {
	const char	*method;
	cJSON		*(*fn)(struct mcp *, const struct rpc *,
			    struct rpc_err *);
} methods[] = {
	{ "initialize", h_initialize },
	{ "server/discover", h_discover },
	{ "ping", h_ping },
	{ "tools/list", h_tools_list },
	{ "tools/call", h_tools_call },
};

/*
 * The era of one request.  Returns 0, or -1 when params._meta names a
 * version this server does not speak (the caller answers -32022).
 */
static int
request_era(struct rpc *q, const char **requested)
{
	const cJSON *meta, *v;

	*requested = NULL;
	meta = cJSON_GetObjectItemCaseSensitive(q->params, "_meta");
	v = cJSON_GetObjectItemCaseSensitive(meta, MCP_META_VERSION);
	if (v == NULL || strcmp(q->method, "initialize") == 0)
		return 0;
	if (!cJSON_IsString(v) || strcmp(v->valuestring, MCP_MODERN) != 0) {
		*requested = cJSON_IsString(v) ? v->valuestring : "";
		return -1;
	}
	q->modern = 1;
	return 0;
}

static char *
dispatch(struct mcp *m, struct rpc *q)
{
	struct rpc_err err = { MCP_ERR_INTERNAL, "Internal error", NULL };
	const char *requested;
	cJSON *result = NULL;
	size_t i;

	if (request_era(q, &requested) == -1)
		return answer_error(q->id, MCP_ERR_VERSION,
		    "Unsupported protocol version", version_data(requested));
	for (i = 0; i < nitems(methods); i++)
		if (strcmp(q->method, methods[i].method) == 0)
			break;
	if (i == nitems(methods))
		return answer_error(q->id, MCP_ERR_METHOD, "Method not found",
		    NULL);
	if ((result = methods[i].fn(m, q, &err)) == NULL)
		return answer_error(q->id, err.code, err.message, err.data);
	if (q->modern || strcmp(q->method, "server/discover") == 0)
		cJSON_AddStringToObject(result, "resultType", "complete");
	return answer_result(q->id, result);
}

/* Notifications get no answer; initialized is remembered, others logged. */
static void
notification(struct mcp *m, const struct rpc *q)
{
	char safe[64];

	if (strcmp(q->method, "notifications/initialized") == 0)
		m->initialized = 1;
	else
		log_debug("event=mcp_notification method=%s",
		    log_safe(safe, sizeof(safe), q->method));
}

/*
 * Checks the JSON-RPC envelope.  Returns NULL when it is a request or a
 * notification (q filled), else the error message for -32600.
 */
static const char *
envelope(const cJSON *root, struct rpc *q)
{
	const cJSON *v, *method;

	memset(q, 0, sizeof(*q));
	if (!cJSON_IsObject(root))
		return cJSON_IsArray(root) ? "Invalid Request: batches are not "
		    "supported" : "Invalid Request: not an object";
	/* A usable id is echoed even when the rest of the request is bad. */
	q->id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (q->id != NULL && !id_valid(q->id)) {
		q->id = NULL;
		return "Invalid Request: id must be a string or an integer";
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "jsonrpc");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0") != 0)
		return "Invalid Request: jsonrpc must be \"2.0\"";
	method = cJSON_GetObjectItemCaseSensitive(root, "method");
	if (!cJSON_IsString(method))
		return "Invalid Request: method must be a string";
	q->method = method->valuestring;
	q->params = cJSON_GetObjectItemCaseSensitive(root, "params");
	if (q->params != NULL && !cJSON_IsObject(q->params))
		return "Invalid Request: params must be an object";
	return NULL;
}

/* A message with result or error and no method answers a request we sent. */
static int
is_response(const cJSON *root)
{
	return cJSON_IsObject(root) &&
	    cJSON_GetObjectItemCaseSensitive(root, "method") == NULL &&
	    (cJSON_GetObjectItemCaseSensitive(root, "result") != NULL ||
	    cJSON_GetObjectItemCaseSensitive(root, "error") != NULL);
}

/*
 * One line in, at most one line out (a string to free, without the
 * newline), or NULL when nothing is to be answered.
 */
char *
mcp_handle_line(struct mcp *m, const char *line, size_t len)
{
	const char *why;
	struct rpc q;
	cJSON *root;
	char *out = NULL;

	if ((root = json_parse_strict(line, len, JSON_DEPTH_MAX, &why)) ==
	    NULL) {
		log_info("event=mcp_parse_error why=\"%s\" bytes=%zu", why,
		    len);
		return answer_error(NULL, MCP_ERR_PARSE, "Parse error", NULL);
	}
	if (is_response(root)) {
		log_debug("event=mcp_unexpected_response");
	} else if ((why = envelope(root, &q)) != NULL) {
		out = answer_error(q.id, MCP_ERR_INVALID_REQUEST, why, NULL);
	} else if (q.id == NULL) {
		notification(m, &q);
	} else
		out = dispatch(m, &q);
	cJSON_Delete(root);
	return out;
}

static int
emit(FILE *out, char *s)
{
	int rc = 0;

	if (s == NULL)
		return 0;
	if (fputs(s, out) == EOF || fputc('\n', out) == EOF ||
	    fflush(out) == EOF)
		rc = -1;
	cJSON_free(s);
	return rc;
}

/* Blank lines are tolerated; a trailing CR is dropped. */
static int
line(struct mcp *m, FILE *out, char *p, size_t len)
{
	size_t i;

	if (len > 0 && p[len - 1] == '\r')
		len--;
	for (i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t')
			break;
	if (i == len)
		return 0;
	return emit(out, mcp_handle_line(m, p, len));
}

static int
too_long(FILE *out)
{
	char msg[64];

	log_info("event=mcp_line_too_long max=%d", MCP_LINE_MAX);
	snprintf(msg, sizeof(msg), "Parse error: line longer than %d bytes",
	    MCP_LINE_MAX);
	return emit(out, answer_error(NULL, MCP_ERR_PARSE, msg, NULL));
}

/*
 * Splits the bytes read so far into lines.  *discard is set while the
 * current line has outgrown the buffer: its bytes are dropped up to the
 * newline, which is then answered with a parse error.
 */
static int
split_lines(struct mcp *m, FILE *out, char *buf, size_t *len, size_t from,
    int *discard)
{
	size_t i, start = 0;

	for (i = from; i < *len; i++) {
		if (buf[i] != '\n')
			continue;
		if (*discard) {
			*discard = 0;
			if (too_long(out) == -1)
				return -1;
		} else if (line(m, out, buf + start, i - start) == -1)
			return -1;
		start = i + 1;
	}
	memmove(buf, buf + start, *len - start);
	*len -= start;
	if (*len == MCP_LINE_MAX + 1) {
		*discard = 1;
		*len = 0;
	}
	return 0;
}

/* Reads until EOF; returns the exit status. */
int
mcp_serve(struct agent *a, int in_fd, FILE *out)
{
	struct mcp m;
	size_t len = 0, cap = MCP_LINE_MAX + 1;
	ssize_t n;
	int discard = 0, rc = DINO_EXIT_OK;
	char *buf;

	memset(&m, 0, sizeof(m));
	m.agent = a;
	if ((buf = malloc(cap)) == NULL)
		return DINO_EXIT_INTERNAL;
	log_debug("event=mcp_start socket=%s", a->socket);
	for (;;) {
		n = read(in_fd, buf + len, cap - len < MCP_READ_CHUNK ?
		    cap - len : MCP_READ_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (split_lines(&m, out, buf, &len, len - (size_t)n,
		    &discard) == -1) {
			log_info("event=mcp_stdout_closed");
			rc = DINO_EXIT_INTERNAL;
			break;
		}
	}
	if (n == -1)
		log_warnx("event=mcp_read_error errno=%d", errno);
	else if (len > 0 || discard)
		log_info("event=mcp_eof_mid_message bytes=%zu", len);
	cJSON_Delete(m.tools);
	free(buf);
	return rc;
}
