/*
 * dino: the agent-side client of the Dino spend broker.  Shell agents run
 * `dino spend|balance|get|wait|tools`; MCP clients launch `dino mcp`.  It
 * holds no secret: every command is a request on the agent socket, and the
 * kernel tells the frontend who is asking.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "client.h"
#include "dinolimits.h"
#include "log.h"

static void
print_json(const cJSON *v)
{
	char *s;

	if ((s = fmt_json(v)) == NULL)
		return;
	printf("%s\n", s);
	cJSON_free(s);
}

/* --json: an error that never reached the API still prints one document. */
static void
print_json_error(const char *code, const char *message)
{
	cJSON *root, *e;

	if ((root = cJSON_CreateObject()) == NULL)
		return;
	if ((e = cJSON_AddObjectToObject(root, "error")) != NULL) {
		cJSON_AddStringToObject(e, "code", code);
		cJSON_AddStringToObject(e, "message", message);
	}
	print_json(root);
	cJSON_Delete(root);
}

static void
report_error(const struct cli *c, const struct agent_resp *r, enum outcome o)
{
	const char *code = resp_error_code(r);

	if (code == NULL)
		code = outcome_name(o);
	fputs("dino: ", stderr);
	if (r->status == 0)
		fputs("cannot reach the agent socket: ", stderr);
	fmt_safe(stderr, code);
	fputs(": ", stderr);
	fmt_safe(stderr, resp_error_message(r));
	fputc('\n', stderr);
	if (c->json && r->json == NULL)
		print_json_error(code, resp_error_message(r));
	else if (c->json)
		print_json(r->json);
}

/* Prints one answer as the mode asks and returns the exit status. */
static int
report(const struct cli *c, const struct agent_resp *r)
{
	enum outcome o = outcome_of(r);

	if (r->status < 200 || r->status > 299 || o == OUT_INTERNAL) {
		report_error(c, r, o);
		return outcome_exit(o);
	}
	if (c->json) {
		print_json(r->json);
		return outcome_exit(o);
	}
	if (c->cmd == CMD_BALANCE)
		fmt_balance(stdout, r->json);
	else if (c->cmd == CMD_TOOLS)
		fmt_tools(stdout, r->json);
	else {
		fmt_spend(stdout, r->json);
		fmt_hint(stdout, r->json, o);
	}
	return outcome_exit(o);
}

static int
cmd_get(struct agent *a, const struct cli *c, const char *path)
{
	struct agent_resp r;
	int rc;

	agent_request(a, "GET", path, NULL, CLIENT_REQUEST_TIMEOUT_S, &r);
	rc = report(c, &r);
	agent_resp_free(&r);
	return rc;
}

/*
 * Waits up to total seconds, in calls of at most FRONTEND_WAIT_MAX_S, and
 * leaves the last answer in r.  Returns when the spend is decided, the
 * time is up, or an answer is not a pending spend.
 */
static void
wait_loop(struct agent *a, const char *id, long total, struct agent_resp *r)
{
	long chunk;

	for (;;) {
		chunk = total < FRONTEND_WAIT_MAX_S ? total :
		    FRONTEND_WAIT_MAX_S;
		agent_wait_spend(a, id, chunk, r);
		total -= chunk;
		if (total <= 0 || outcome_of(r) != OUT_TIMED_OUT)
			return;
		agent_resp_free(r);
	}
}

static int
cmd_wait(struct agent *a, const struct cli *c)
{
	struct agent_resp r;
	int rc;

	wait_loop(a, c->id, c->timeout_s, &r);
	rc = report(c, &r);
	agent_resp_free(&r);
	return rc;
}

static cJSON *
spend_body(const struct cli *c, const char *key)
{
	cJSON *b;

	if ((b = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddNumberToObject(b, "amount_cents", (double)c->amount_cents);
	cJSON_AddStringToObject(b, "currency", c->currency);
	cJSON_AddStringToObject(b, "merchant_name", c->merchant);
	cJSON_AddStringToObject(b, "reason", c->reason);
	if (cJSON_AddStringToObject(b, "idempotency_key", key) == NULL) {
		cJSON_Delete(b);
		return NULL;
	}
	return b;
}

/*
 * --wait: replaces the pending spend in r with the decision.  If waiting
 * fails (an error rather than a spend), the pending spend is kept and
 * reported, since it is still the truth about the spend.
 */
static void
spend_wait(struct agent *a, const struct cli *c, const char *id,
    struct agent_resp *r)
{
	struct agent_resp w;
	char sid[SPEND_ID_MAX + 1];

	snprintf(sid, sizeof(sid), "%s", id);
	if (!c->json)
		fprintf(stderr, "dino: %s needs approval; waiting up to %ld s "
		    "for the decision\n", sid, c->wait_s);
	wait_loop(a, sid, c->wait_s, &w);
	if (w.status >= 200 && w.status <= 299 &&
	    cJSON_GetObjectItemCaseSensitive(w.json, "status") != NULL) {
		agent_resp_free(r);
		*r = w;
		return;
	}
	fputs("dino: waiting failed: ", stderr);
	fmt_safe(stderr, resp_error_message(&w));
	fputc('\n', stderr);
	agent_resp_free(&w);
}

static int
cmd_spend(struct agent *a, const struct cli *c)
{
	struct agent_resp r;
	char key[IDEMPOTENCY_KEY_MAX + 1];
	const cJSON *id;
	enum outcome o;
	cJSON *body;
	int rc;

	if (c->idempotency_key != NULL)
		snprintf(key, sizeof(key), "%s", c->idempotency_key);
	else if (agent_make_key(key, sizeof(key)) == -1)
		return DINO_EXIT_INTERNAL;
	if ((body = spend_body(c, key)) == NULL)
		return DINO_EXIT_INTERNAL;
	agent_create_spend(a, body, &r);
	cJSON_Delete(body);
	id = cJSON_GetObjectItemCaseSensitive(r.json, "id");
	if (c->wait_s > 0 && outcome_of(&r) == OUT_PENDING &&
	    cJSON_IsString(id))
		spend_wait(a, c, id->valuestring, &r);
	rc = report(c, &r);
	/* Whenever the outcome may be unknown, say which key learns it. */
	o = outcome_of(&r);
	if (!c->json && (o == OUT_SUBMITTING || o == OUT_UNAVAILABLE))
		fprintf(stderr, "dino: the outcome may be unknown; retry with "
		    "--idempotency-key %s\n", key);
	agent_resp_free(&r);
	return rc;
}

static int
run(struct agent *a, const struct cli *c)
{
	char path[128];

	switch (c->cmd) {
	case CMD_SPEND:
		return cmd_spend(a, c);
	case CMD_BALANCE:
		return cmd_get(a, c, "/tools/get_balance");
	case CMD_GET:
		snprintf(path, sizeof(path), "/tools/get_spend/%s", c->id);
		return cmd_get(a, c, path);
	case CMD_WAIT:
		return cmd_wait(a, c);
	case CMD_TOOLS:
		return cmd_get(a, c, "/tools");
	case CMD_MCP:
		return mcp_serve(a, STDIN_FILENO, stdout);
	default:
		return DINO_EXIT_USAGE;
	}
}

int
main(int argc, char *argv[])
{
	struct agent a;
	struct cli c;
	char err[256];
	int rc;

	if (cli_parse(argc, argv, &c, err, sizeof(err)) == -1) {
		fprintf(stderr, "dino: %s\n%s", err, cli_usage(c.cmd));
		return DINO_EXIT_USAGE;
	}
	if (c.help || c.cmd == CMD_HELP) {
		fputs(cli_usage(c.cmd), stdout);
		return DINO_EXIT_OK;
	}
	if (c.cmd == CMD_VERSION) {
		printf("dino %s\n", DINO_VERSION);
		return DINO_EXIT_OK;
	}
	/* A closed pipe is a write error to report, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	log_init("dino", c.verbose ? LOG_DEBUG : LOG_INFO);
	if (agent_init(&a, agent_socket_path(c.socket), c.agent) == -1) {
		fprintf(stderr, "dino: cannot initialise libcurl or "
		    "libsodium\n");
		return DINO_EXIT_INTERNAL;
	}
	rc = run(&a, &c);
	agent_free(&a);
	if (fflush(stdout) == EOF && rc == DINO_EXIT_OK)
		rc = DINO_EXIT_INTERNAL;
	return rc;
}
