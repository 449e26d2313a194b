/*
 * dino, the agent-side client: the shell CLI and `dino mcp`, an MCP server
 * on stdio.  It holds no secret; everything it does is a request on the
 * agent socket (HTTP over a UNIX socket, served by dino-frontend).
 *
 * Files: dino.c (main and the subcommands), cli.c (argument parsing, pure),
 * agent.c (the agent API over libcurl, retries, idempotency keys),
 * outcome.c (what an answer means and which exit status it gets, pure),
 * format.c (human-readable output, pure), mcp.c (the MCP server: framing
 * and JSON-RPC dispatch), mcptools.c (the four MCP tools).
 */
#ifndef DINO_CLIENT_H
#define DINO_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>

#define DINO_VERSION		"0.1.0"

/* The installed agent socket; --socket and $DINO_SOCKET override it. */
#define DINO_SOCKET_DEFAULT	"/run/dino/agent.sock"
#define DINO_SOCKET_ENV		"DINO_SOCKET"

/*
 * Exit statuses of dino, documented in docs/dino.1 and the README.  Scripts
 * branch on them, so they never change meaning.  The 64-78 ones are the
 * <sysexits.h> values for the same situations.
 */
#define DINO_EXIT_OK		0	/* approved, or a read succeeded */
#define DINO_EXIT_DECLINED	1	/* declined, cancelled, 402 */
#define DINO_EXIT_PENDING	2	/* needs_approval, held, submitting,
					   or a wait that timed out */
#define DINO_EXIT_USAGE		64	/* EX_USAGE: a bad command */
#define DINO_EXIT_INVALID	65	/* EX_DATAERR: 400, 409, 413, 415 */
#define DINO_EXIT_NOT_FOUND	66	/* EX_NOINPUT: 404 */
#define DINO_EXIT_UNAVAILABLE	69	/* EX_UNAVAILABLE: 502-504 */
#define DINO_EXIT_INTERNAL	70	/* EX_SOFTWARE: 500, a bad answer */
#define DINO_EXIT_RATE_LIMITED	75	/* EX_TEMPFAIL: 429 */
#define DINO_EXIT_REFUSED	77	/* EX_NOPERM: unknown_principal,
					   policy_denied, paused */

/* What one answer of the agent API means to the agent. */
enum outcome {
	OUT_OK,			/* a read: balance, tools */
	OUT_APPROVED,
	OUT_DECLINED,		/* declined, cancelled, 402 */
	OUT_PENDING,		/* needs_approval or held */
	OUT_SUBMITTING,		/* outcome unknown: retry, same key */
	OUT_TIMED_OUT,		/* wait_spend ended, still pending */
	OUT_INVALID,
	OUT_NOT_FOUND,
	OUT_REFUSED,
	OUT_RATE_LIMITED,
	OUT_UNAVAILABLE,
	OUT_INTERNAL,
};

/*
 * One answer of the agent API.  status is the HTTP status, or 0 when no
 * answer arrived (errbuf then says why).  json is the parsed body, or NULL
 * when there was none or it was not JSON.
 */
struct agent_resp {
	long	 status;
	char	*body;
	size_t	 len;
	cJSON	*json;
	char	 errbuf[256];
};

/*
 * How requests reach the agent API.  agent.c fills call with the libcurl
 * transport; the unit tests put a scripted one in its place.
 */
struct agent {
	const char	*socket;
	const char	*label;		/* X-Dino-Agent, or NULL */
	void		*curl;
	int		(*call)(struct agent *, const char *method,
			    const char *path, const char *body, long timeout_s,
			    struct agent_resp *);
	int		 no_sleep;	/* tests: retry at once */
};

/* agent.c */
int	agent_init(struct agent *, const char *socket, const char *label);
void	agent_free(struct agent *);
int	agent_request(struct agent *, const char *method, const char *path,
	    const char *body, long timeout_s, struct agent_resp *);
void	agent_resp_free(struct agent_resp *);
int	agent_make_key(char *buf, size_t len);
int	agent_create_spend(struct agent *, const cJSON *body,
	    struct agent_resp *);
int	agent_wait_spend(struct agent *, const char *id, long timeout_s,
	    struct agent_resp *);
const char *agent_socket_path(const char *opt);

/* outcome.c */
enum outcome outcome_of(const struct agent_resp *);
enum outcome outcome_of_spend(const cJSON *spend);
enum outcome outcome_of_error(long status, const char *code);
int	outcome_exit(enum outcome);
int	outcome_retryable(const struct agent_resp *);
const char *outcome_name(enum outcome);
const char *resp_error_code(const struct agent_resp *);
const char *resp_error_message(const struct agent_resp *);

/* format.c */
void	fmt_cents(char *buf, size_t len, int64_t cents,
	    const char *currency);
void	fmt_spend(FILE *, const cJSON *spend);
void	fmt_balance(FILE *, const cJSON *balance);
void	fmt_tools(FILE *, const cJSON *tools);
void	fmt_hint(FILE *, const cJSON *spend, enum outcome);
void	fmt_safe(FILE *, const char *s);
char	*fmt_to_string(void (*)(FILE *, const cJSON *), const cJSON *);
char	*fmt_json(const cJSON *);

/* cli.c */
enum cli_cmd {
	CMD_NONE,
	CMD_SPEND,
	CMD_BALANCE,
	CMD_GET,
	CMD_WAIT,
	CMD_TOOLS,
	CMD_MCP,
	CMD_HELP,
	CMD_VERSION,
};

struct cli {
	enum cli_cmd	 cmd;
	int		 json;
	int		 help;		/* --help of one subcommand */
	int		 verbose;
	const char	*socket;
	const char	*agent;		/* --agent LABEL */
	int64_t		 amount_cents;
	const char	*currency;
	const char	*merchant;
	const char	*reason;
	const char	*idempotency_key;
	long		 wait_s;	/* --wait; -1 when absent */
	long		 timeout_s;	/* dino wait --timeout */
	const char	*id;
};

int	cli_parse(int argc, char **argv, struct cli *, char *err,
	    size_t errlen);
const char *cli_usage(enum cli_cmd);

/* mcp.c */
#define MCP_ERR_PARSE		(-32700)
#define MCP_ERR_INVALID_REQUEST	(-32600)
#define MCP_ERR_METHOD		(-32601)
#define MCP_ERR_PARAMS		(-32602)
#define MCP_ERR_INTERNAL	(-32603)
#define MCP_ERR_VERSION		(-32022)	/* revision not served */

struct mcp {
	struct agent	*agent;
	cJSON		*tools;		/* tools/list, cached */
	int		 initialized;	/* notifications/initialized */
	char		 version[16];	/* initialize's revision */
};

int	mcp_serve(struct agent *, int in_fd, FILE *out);
char	*mcp_handle_line(struct mcp *, const char *line, size_t len);

/* mcptools.c */
cJSON	*mcp_tools_list(struct mcp *, const char **why);
cJSON	*mcp_tools_call(struct mcp *, const cJSON *params, int *code,
	    const char **why);

#endif
