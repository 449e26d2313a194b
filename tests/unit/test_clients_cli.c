/*
 * dino's command line (clients/cli.c): every command, global options before
 * and after the command, and the usage errors that must exit 64.
 */
#include <string.h>

#include "../../clients/client.h"
#include "dinolimits.h"
#include "tap.h"

#define ARGC(a)	((int)(sizeof(a) / sizeof((a)[0])) - 1)

static int
parse(char **argv, int argc, struct cli *c)
{
	char err[256];

	return cli_parse(argc, argv, c, err, sizeof(err));
}

static void
test_spend(void)
{
	char *a[] = { "dino", "--socket", "/tmp/s", "spend", "--amount-cents",
	    "1200", "--currency", "usd", "--merchant", "AWS", "--reason", "",
	    "--json", "--wait", "30", NULL };
	char *b[] = { "dino", "spend", "--amount-cents", "5", "--currency",
	    "usd", "--merchant", "m", "--reason", "r", "--idempotency-key",
	    "k-1", NULL };
	struct cli c;

	CHECK(parse(a, ARGC(a), &c) == 0, "spend parses");
	CHECK(c.cmd == CMD_SPEND && c.amount_cents == 1200 &&
	    strcmp(c.currency, "usd") == 0 && strcmp(c.merchant, "AWS") == 0 &&
	    strcmp(c.reason, "") == 0, "spend fields");
	CHECK(c.json == 1 && c.wait_s == 30 && strcmp(c.socket, "/tmp/s") == 0,
	    "global option before, --json after the command");
	CHECK(c.idempotency_key == NULL, "no key unless given");
	CHECK(parse(b, ARGC(b), &c) == 0 && strcmp(c.idempotency_key, "k-1") ==
	    0 && c.wait_s == -1, "--idempotency-key; --wait absent is -1");
}

static void
test_reads(void)
{
	char *g[] = { "dino", "get", "req_01hzz0000000000000000000ab", NULL };
	char *w[] = { "dino", "wait", "--timeout", "7",
	    "req_01hzz0000000000000000000ab", NULL };
	char *w2[] = { "dino", "wait", "req_01hzz0000000000000000000ab", NULL };
	char *bal[] = { "dino", "--json", "balance", NULL };
	char *t[] = { "dino", "tools", "--agent", "bot-1", NULL };
	char *m[] = { "dino", "mcp", NULL };
	struct cli c;

	CHECK(parse(g, ARGC(g), &c) == 0 && c.cmd == CMD_GET &&
	    strcmp(c.id, g[2]) == 0, "get ID");
	CHECK(parse(w, ARGC(w), &c) == 0 && c.cmd == CMD_WAIT &&
	    c.timeout_s == 7, "wait --timeout before the id");
	CHECK(parse(w2, ARGC(w2), &c) == 0 && c.timeout_s ==
	    CLIENT_WAIT_DEFAULT_S, "wait's default timeout");
	CHECK(parse(bal, ARGC(bal), &c) == 0 && c.cmd == CMD_BALANCE && c.json,
	    "balance");
	CHECK(parse(t, ARGC(t), &c) == 0 && c.cmd == CMD_TOOLS &&
	    strcmp(c.agent, "bot-1") == 0, "tools --agent");
	CHECK(parse(m, ARGC(m), &c) == 0 && c.cmd == CMD_MCP, "mcp");
}

static void
test_help(void)
{
	char *h1[] = { "dino", "--help", NULL };
	char *h2[] = { "dino", "help", NULL };
	char *h3[] = { "dino", "spend", "--help", NULL };
	char *h4[] = { "dino", "get", "-h", NULL };
	struct cli c;

	CHECK(parse(h1, ARGC(h1), &c) == 0 && c.cmd == CMD_HELP, "--help");
	CHECK(parse(h2, ARGC(h2), &c) == 0 && c.cmd == CMD_HELP, "help");
	CHECK(parse(h3, ARGC(h3), &c) == 0 && c.cmd == CMD_SPEND && c.help,
	    "spend --help needs no other option");
	CHECK(parse(h4, ARGC(h4), &c) == 0 && c.cmd == CMD_GET && c.help,
	    "get -h needs no id");
	CHECK(strstr(cli_usage(CMD_SPEND), "--amount-cents") != NULL &&
	    strstr(cli_usage(CMD_NONE), "commands:") != NULL, "usage texts");
}

static void
test_errors(void)
{
	char *e1[] = { "dino", NULL };
	char *e2[] = { "dino", "pay", NULL };
	char *e3[] = { "dino", "spend", "--amount-cents", "1e3", "--currency",
	    "usd", "--merchant", "m", "--reason", "", NULL };
	char *e4[] = { "dino", "spend", "--amount-cents", "1000000001",
	    "--currency", "usd", "--merchant", "m", "--reason", "", NULL };
	char *e5[] = { "dino", "spend", "--currency", "usd", "--merchant", "m",
	    "--reason", "", NULL };
	char *e6[] = { "dino", "--amount-cents", "5", "spend", NULL };
	char *e7[] = { "dino", "get", "req_01HZZ0000000000000000000AB", NULL };
	char *e8[] = { "dino", "get", "a", "b", NULL };
	char *e9[] = { "dino", "wait", "--timeout", "86401",
	    "req_01hzz0000000000000000000ab", NULL };
	char *e10[] = { "dino", "balance", "--timeout", "3", NULL };
	char *e11[] = { "dino", "balance", "--socket", NULL };
	char *e12[] = { "dino", "--agent", "", "balance", NULL };
	struct cli c;
	char err[256];

	CHECK(parse(e1, ARGC(e1), &c) == -1, "no command");
	CHECK(cli_parse(ARGC(e2), e2, &c, err, sizeof(err)) == -1 &&
	    strstr(err, "unknown command") != NULL, "unknown command, said so");
	CHECK(parse(e3, ARGC(e3), &c) == -1, "amount in exponent form");
	CHECK(parse(e4, ARGC(e4), &c) == -1, "amount above 10^9");
	CHECK(parse(e5, ARGC(e5), &c) == -1, "amount missing");
	CHECK(parse(e6, ARGC(e6), &c) == -1, "spend option before spend");
	CHECK(parse(e7, ARGC(e7), &c) == -1, "upper-case id");
	CHECK(parse(e8, ARGC(e8), &c) == -1, "two operands");
	CHECK(parse(e9, ARGC(e9), &c) == -1, "timeout above a day");
	CHECK(parse(e10, ARGC(e10), &c) == -1, "--timeout on balance");
	CHECK(parse(e11, ARGC(e11), &c) == -1, "--socket without a value");
	CHECK(parse(e12, ARGC(e12), &c) == -1, "empty --agent");
}

int
main(void)
{
	test_spend();
	test_reads();
	test_help();
	test_errors();
	return TAP_DONE();
}
