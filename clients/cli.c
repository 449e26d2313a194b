/*
 * The command line: `dino [global options] COMMAND [options] [ID]`.  Global
 * options are also accepted after the command.  Pure: cli_parse() fills a
 * struct cli or says what is wrong, and never prints or exits, so the unit
 * tests can call it.  It checks the syntax the CLI itself needs (numbers,
 * required options, an id that goes into a URL); the frontend checks the
 * content of a spend.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "dinolimits.h"
#include "spend.h"
#include "util.h"

enum {
	OPT_SOCKET = 256,
	OPT_JSON,
	OPT_AGENT,
	OPT_AMOUNT,
	OPT_CURRENCY,
	OPT_MERCHANT,
	OPT_REASON,
	OPT_KEY,
	OPT_WAIT,
	OPT_TIMEOUT,
	OPT_HELP,
	OPT_VERBOSE,
};

static const struct option global_opts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "agent", required_argument, NULL, OPT_AGENT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "amount-cents", required_argument, NULL, OPT_AMOUNT },
	{ "currency", required_argument, NULL, OPT_CURRENCY },
	{ "merchant", required_argument, NULL, OPT_MERCHANT },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "idempotency-key", required_argument, NULL, OPT_KEY },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ NULL, 0, NULL, 0 },
};

struct cmd_def {
	const char	*name;
	enum cli_cmd	 cmd;
	int		 takes_id;
	const char	*usage;
};

static const struct cmd_def cmds[] = {
	{ "spend", CMD_SPEND, 0,
	    "usage: dino [--socket PATH] [--json] spend --amount-cents N "
	    "--currency CODE\n"
	    "            --merchant NAME --reason TEXT [--idempotency-key K] "
	    "[--wait SECONDS]\n"
	    "Asks to spend N cents.  Without --idempotency-key, dino makes "
	    "a key and\nreuses it for its own retries.  --wait waits up to "
	    "SECONDS for a human's\ndecision when the spend needs approval.\n"
	    },
	{ "balance", CMD_BALANCE, 0,
	    "usage: dino [--socket PATH] [--json] balance\n"
	    "Prints the wallet balance and remaining budget.\n" },
	{ "get", CMD_GET, 1,
	    "usage: dino [--socket PATH] [--json] get ID\n"
	    "Prints one of this user's spends.\n" },
	{ "wait", CMD_WAIT, 1,
	    "usage: dino [--socket PATH] [--json] wait ID [--timeout SECONDS]\n"
	    "Waits until the spend is decided or SECONDS pass "
	    "(default 60).\n" },
	{ "tools", CMD_TOOLS, 0,
	    "usage: dino [--socket PATH] [--json] tools\n"
	    "Lists the agent API's tools and, with --json, their schemas.\n" },
	{ "mcp", CMD_MCP, 0,
	    "usage: dino [--socket PATH] [--agent LABEL] mcp\n"
	    "Serves the Model Context Protocol on stdin and stdout.\n" },
	{ "help", CMD_HELP, 0, NULL },
	{ "version", CMD_VERSION, 0, "usage: dino version\n" },
};

static const char usage_all[] =
    "usage: dino [--socket PATH] [--json] [--agent LABEL] COMMAND [ARGS]\n"
    "commands:\n"
    "  spend --amount-cents N --currency CODE --merchant NAME --reason TEXT\n"
    "        [--idempotency-key K] [--wait SECONDS]\n"
    "  balance\n"
    "  get ID\n"
    "  wait ID [--timeout SECONDS]\n"
    "  tools\n"
    "  mcp\n"
    "  version\n"
    "The socket is --socket, else $DINO_SOCKET, else " DINO_SOCKET_DEFAULT
    ".\n`dino COMMAND --help` describes one command; man dino(1) has the "
    "exit statuses.\n";

const char *
cli_usage(enum cli_cmd cmd)
{
	size_t i;

	for (i = 0; i < nitems(cmds); i++)
		if (cmds[i].cmd == cmd && cmds[i].usage != NULL)
			return cmds[i].usage;
	return usage_all;
}

static int
fail(char *err, size_t errlen, const char *what, const char *detail)
{
	snprintf(err, errlen, "%s%s%s", what, detail[0] != '\0' ? ": " : "",
	    detail);
	return -1;
}

static int
seconds(const char *s, long *out)
{
	int64_t v;

	if (parse_i64(s, 0, CLIENT_WAIT_MAX_S, &v) == -1)
		return -1;
	*out = (long)v;
	return 0;
}

/* Options that only some commands take. */
static int
cmd_allows(enum cli_cmd cmd, int opt)
{
	switch (opt) {
	case OPT_AMOUNT:
	case OPT_CURRENCY:
	case OPT_MERCHANT:
	case OPT_REASON:
	case OPT_KEY:
	case OPT_WAIT:
		return cmd == CMD_SPEND;
	case OPT_TIMEOUT:
		return cmd == CMD_WAIT;
	default:
		return 1;
	}
}

static int
set_opt(struct cli *c, int opt, const char *arg, char *err, size_t errlen)
{
	if (arg != NULL && strlen(arg) > CLIENT_ARG_MAX)
		return fail(err, errlen, "argument too long", "");
	switch (opt) {
	case OPT_SOCKET:
		c->socket = arg;
		break;
	case OPT_JSON:
		c->json = 1;
		break;
	case OPT_AGENT:
		if (spend_check_agent_label(arg) != NULL || arg[0] == '\0')
			return fail(err, errlen, "--agent",
			    "1-64 printable ASCII characters");
		c->agent = arg;
		break;
	case OPT_HELP:
		c->help = 1;
		break;
	case OPT_VERBOSE:
		c->verbose = 1;
		break;
	case OPT_AMOUNT:
		if (parse_i64(arg, AMOUNT_CENTS_MIN, AMOUNT_CENTS_MAX,
		    &c->amount_cents) == -1)
			return fail(err, errlen, "--amount-cents",
			    "a whole number from 1 to 1000000000");
		break;
	case OPT_CURRENCY:
		c->currency = arg;
		break;
	case OPT_MERCHANT:
		c->merchant = arg;
		break;
	case OPT_REASON:
		c->reason = arg;
		break;
	case OPT_KEY:
		if (arg[0] == '\0' || spend_check_idempotency_key(arg) != NULL)
			return fail(err, errlen, "--idempotency-key",
			    "1-128 printable ASCII characters");
		c->idempotency_key = arg;
		break;
	case OPT_WAIT:
		if (seconds(arg, &c->wait_s) == -1)
			return fail(err, errlen, "--wait",
			    "whole seconds from 0 to 86400");
		break;
	case OPT_TIMEOUT:
		if (seconds(arg, &c->timeout_s) == -1)
			return fail(err, errlen, "--timeout",
			    "whole seconds from 0 to 86400");
		break;
	}
	return 0;
}

/*
 * One getopt_long pass over argv from *optind_io.  With stop_at_command,
 * stops at the first operand (the command); else operands are collected
 * after the options by getopt's permutation.
 */
static int
parse_opts(int argc, char **argv, struct cli *c, int stop_at_command,
    char *err, size_t errlen)
{
	char bad[64];
	int opt;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, stop_at_command ? "+h" : "h",
	    global_opts, NULL)) != -1) {
		if (opt == 'h')
			opt = OPT_HELP;
		if (opt == '?' || opt == ':') {
			snprintf(bad, sizeof(bad), "%.60s", optind > 0 &&
			    optind <= argc ? argv[optind - 1] : "?");
			return fail(err, errlen, "unknown option or missing "
			    "value", bad);
		}
		if (!cmd_allows(stop_at_command ? CMD_NONE : c->cmd, opt))
			return fail(err, errlen, "option not valid here",
			    argv[optind - 1]);
		if (set_opt(c, opt, optarg, err, errlen) == -1)
			return -1;
	}
	return 0;
}

static const struct cmd_def *
cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(cmds); i++)
		if (strcmp(name, cmds[i].name) == 0)
			return &cmds[i];
	return NULL;
}

static int
check_spend(const struct cli *c, char *err, size_t errlen)
{
	if (c->amount_cents == 0)
		return fail(err, errlen, "spend", "--amount-cents is required");
	if (c->currency == NULL)
		return fail(err, errlen, "spend", "--currency is required");
	if (c->merchant == NULL)
		return fail(err, errlen, "spend", "--merchant is required");
	if (c->reason == NULL)
		return fail(err, errlen, "spend",
		    "--reason is required (it may be empty)");
	return 0;
}

static int
check_operands(struct cli *c, const struct cmd_def *d, int argc, char **argv,
    char *err, size_t errlen)
{
	int n = argc - optind;

	if (c->help)
		return 0;
	if (d->takes_id) {
		if (n != 1)
			return fail(err, errlen, d->name,
			    "expects one spend id");
		c->id = argv[optind];
		if (spend_check_ref(c->id) != NULL)
			return fail(err, errlen, "not a spend id",
			    "expected req_ or hold_ and 26 lowercase "
			    "characters");
		return 0;
	}
	if (n != 0)
		return fail(err, errlen, d->name, "takes no operands");
	return c->cmd == CMD_SPEND ? check_spend(c, err, errlen) : 0;
}

/*
 * Returns 0 with c filled, or -1 with err saying what is wrong (a usage
 * error).  `dino`, `dino help` and `dino --help` set CMD_HELP.
 */
int
cli_parse(int argc, char **argv, struct cli *c, char *err, size_t errlen)
{
	const struct cmd_def *d;

	memset(c, 0, sizeof(*c));
	c->wait_s = -1;
	c->timeout_s = CLIENT_WAIT_DEFAULT_S;
	err[0] = '\0';
	optind = 0;	/* glibc: a full reset, so tests may parse again */
	if (parse_opts(argc, argv, c, 1, err, errlen) == -1)
		return -1;
	if (optind >= argc) {
		c->cmd = c->help ? CMD_HELP : CMD_NONE;
		if (c->cmd == CMD_NONE)
			return fail(err, errlen, "no command given", "");
		return 0;
	}
	if ((d = cmd_find(argv[optind])) == NULL)
		return fail(err, errlen, "unknown command", argv[optind]);
	c->cmd = d->cmd;
	if (c->cmd == CMD_HELP)
		return 0;
	/*
	 * The command's own options: argv now starts at the command, which
	 * getopt skips as it would a program name after a full reset.
	 */
	argc -= optind;
	argv += optind;
	optind = 0;
	if (parse_opts(argc, argv, c, 0, err, errlen) == -1)
		return -1;
	return check_operands(c, d, argc, argv, err, errlen);
}
