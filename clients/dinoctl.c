/*
 * dinoctl: the operator's tool for dino-broker, over the broker's admin
 * socket (HTTP/1.1 and JSON over a UNIX socket; see dinoctl(8)).  It holds
 * no secret: the broker decides from the kernel's SO_PEERCRED whether the
 * caller is root or in admin_group.  The transport is agent.c's libcurl
 * client, the one the dino CLI uses.
 */
#define _GNU_SOURCE	/* timegm */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "client.h"
#include "dinolimits.h"
#include "util.h"

#define CTL_SOCKET_DEFAULT	"/run/dino-broker/admin.sock"
#define CTL_SOCKET_ENV		"DINOCTL_SOCKET"
#define CTL_TIMEOUT_S		60	/* reload, audit verify: may be slow */

/* Exit statuses, documented in dinoctl(8); they never change meaning. */
#define CTL_EXIT_OK		0
#define CTL_EXIT_NO		1	/* journal damaged, config refused,
					   spend not held */
#define CTL_EXIT_USAGE		64	/* EX_USAGE */
#define CTL_EXIT_INVALID	65	/* EX_DATAERR: 400 */
#define CTL_EXIT_NOT_FOUND	66	/* EX_NOINPUT: 404 */
#define CTL_EXIT_UNAVAILABLE	69	/* EX_UNAVAILABLE: 503, no socket */
#define CTL_EXIT_INTERNAL	70	/* EX_SOFTWARE: 500, a bad answer */
#define CTL_EXIT_REFUSED	77	/* EX_NOPERM: 403, not an admin */

struct ctl {
	const char	*socket;
	int		 json;
	const char	*principal;
	const char	*status;
	const char	*since;
	const char	*reason;
	long		 limit;
	int		 argc;
	char		**argv;
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: dinoctl [--socket PATH] [--json] COMMAND\n"
	    "commands:\n"
	    "  status                      broker, Dino, journal, principals\n"
	    "  pause | resume              stop or restart all spending\n"
	    "  revoke PRINCIPAL            refuse that principal's spends\n"
	    "  restore PRINCIPAL           undo a revoke\n"
	    "  spends [--principal P] [--status S] [--since T] [--limit N]\n"
	    "  approve ID                  send a held spend to Dino\n"
	    "  deny ID [--reason TEXT]     decline a held spend locally\n"
	    "  audit verify                check the journal's hash chain\n"
	    "  metrics                     Prometheus text\n"
	    "  reload                      re-read the configuration and keys\n"
	    "  log-level LEVEL             error|warning|notice|info|debug\n");
	exit(CTL_EXIT_USAGE);
}

static const char *
socket_path(const char *opt)
{
	const char *env;

	if (opt != NULL && opt[0] != '\0')
		return opt;
	if ((env = getenv(CTL_SOCKET_ENV)) != NULL && env[0] != '\0')
		return env;
	return CTL_SOCKET_DEFAULT;
}

/* One option with its value; 0, or -1 for an unknown one or a bad value. */
static int
set_opt(struct ctl *c, const char *name, const char *v)
{
	int64_t n;

	if (strcmp(name, "socket") == 0)
		c->socket = v;
	else if (strcmp(name, "principal") == 0)
		c->principal = v;
	else if (strcmp(name, "status") == 0)
		c->status = v;
	else if (strcmp(name, "since") == 0)
		c->since = v;
	else if (strcmp(name, "reason") == 0)
		c->reason = v;
	else if (strcmp(name, "limit") == 0 &&
	    parse_i64(v, 1, ADMIN_SPENDS_MAX, &n) == 0)
		c->limit = (long)n;
	else
		return -1;
	return 0;
}

static void
parse_args(int argc, char **argv, struct ctl *c)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "principal", required_argument, NULL, 'p' },
		{ "status", required_argument, NULL, 'S' },
		{ "since", required_argument, NULL, 't' },
		{ "reason", required_argument, NULL, 'r' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, i;

	memset(c, 0, sizeof(*c));
	while ((ch = getopt_long(argc, argv, "+", longopts, &i)) != -1) {
		if (ch == 'j')
			c->json = 1;
		else if (ch == '?' || ch == 'h' ||
		    set_opt(c, longopts[i].name, optarg) == -1)
			usage();
	}
	c->argc = argc - optind;
	c->argv = argv + optind;
	if (c->argc == 0)
		usage();
	c->socket = socket_path(c->socket);
}

/*
 * Options may also follow the command (dinoctl deny ID --reason X): they
 * are taken out, and the command's own arguments close up.
 */
static void
parse_tail(struct ctl *c)
{
	int i, n = 1;

	for (i = 1; i < c->argc; i++) {
		if (strncmp(c->argv[i], "--", 2) != 0) {
			c->argv[n++] = c->argv[i];
			continue;
		}
		if (strcmp(c->argv[i], "--json") == 0) {
			c->json = 1;
			continue;
		}
		if (i + 1 == c->argc ||
		    set_opt(c, c->argv[i] + 2, c->argv[i + 1]) == -1)
			usage();
		i++;
	}
	c->argc = n;
	c->socket = socket_path(c->socket);
}

/*
 * --since: a duration back from now (90s, 30m, 2h, 7d), a date or time in
 * UTC (2026-11-28, 2026-11-28T12:00:00Z), or milliseconds since the epoch.
 */
static int
since_ms(const char *s, int64_t *out)
{
	static const struct { char u; int64_t ms; } units[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 },
		{ 'd', 86400000 },
	};
	char num[32], *end;
	struct tm tm;
	size_t i, n = strlen(s);
	int64_t v;

	for (i = 0; i < nitems(units) && n > 1 && n < sizeof(num); i++)
		if (s[n - 1] == units[i].u) {
			memcpy(num, s, n - 1);
			num[n - 1] = '\0';
			if (parse_i64(num, 0, 100000000, &v) == -1)
				return -1;
			*out = now_ms() - v * units[i].ms;
			return 0;
		}
	if (parse_i64(s, 0, INT64_MAX / 2, out) == 0)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(s, "%Y-%m-%d", &tm);
	}
	if (end == NULL || (*end != '\0' && strcmp(end, "Z") != 0))
		return -1;
	*out = (int64_t)timegm(&tm) * 1000;
	return 0;
}

/*
 * Output.
 */

static const char *
str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int
flag(const cJSON *o, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static void
safe(const char *label, const char *s)
{
	fputs(label, stdout);
	fmt_safe(stdout, s != NULL ? s : "-");
	fputc('\n', stdout);
}

static void
print_principals(const cJSON *arr)
{
	const cJSON *p;
	char spent[64];

	printf("principals:\n");
	cJSON_ArrayForEach(p, arr) {
		fmt_cents(spent, sizeof(spent),
		    (int64_t)num(p, "spent_24h_cents"), NULL);
		fputs("  ", stdout);
		fmt_safe(stdout, str(p, "id") != NULL ? str(p, "id") : "-");
		printf("  account ");
		fmt_safe(stdout, str(p, "account") != NULL ? str(p, "account") :
		    "-");
		printf("  24h %s in %.0f spends", spent, num(p, "spends_24h"));
		if (num(p, "hold_above_cents") > 0)
			printf("  holds above %.0f cents",
			    num(p, "hold_above_cents"));
		printf("%s%s\n", flag(p, "revoked") ? "  REVOKED" : "",
		    flag(p, "allowed") ? "" : "  not allowed");
	}
}

static void
print_status(const cJSON *j)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "dino");
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "webhook");
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "spends");
	const cJSON *jr = cJSON_GetObjectItemCaseSensitive(j, "journal");
	long up = (long)num(j, "uptime_s");

	printf("dino-broker %s, instance ", str(j, "version"));
	fmt_safe(stdout, str(j, "instance_id") != NULL ?
	    str(j, "instance_id") : "-");
	printf(", up %ldd%02ldh%02ldm%02lds since %s\n", up / 86400,
	    up / 3600 % 24, up / 60 % 60, up % 60, str(j, "started_at"));
	printf("spending:   %s\n", !flag(j, "paused") ? "active" :
	    flag(j, "paused_by_operator") ? "PAUSED by an operator "
	    "(dinoctl resume)" : "PAUSED by the configuration (paused yes)");
	safe("dino:       ", str(d, "url"));
	printf("            reachable: %s", str(d, "reachable"));
	if (str(d, "last_call_at") != NULL)
		printf(" (HTTP %.0f at %s)", num(d, "last_http_status"),
		    str(d, "last_call_at"));
	printf("\n");
	safe("webhooks:   ", str(w, "listen"));
	safe("            last verified: ", str(w, "last_seen_at"));
	printf("spends:     %.0f open, %.0f held, %.0f known\n",
	    num(s, "open"), num(s, "held"), num(s, "known"));
	printf("journal:    seq %.0f, %.0f records since start, %.0f failures"
	    "%s\n", num(jr, "seq"), num(jr, "records_since_start"),
	    num(jr, "failures"), flag(jr, "broken") ? ", BROKEN" : "");
	safe("            ", str(jr, "dir"));
	printf("frontends:  %.0f connected\n", num(j, "frontend_connections"));
	print_principals(cJSON_GetObjectItemCaseSensitive(j, "principals"));
}

static void
print_spends(const cJSON *j)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "spends");
	const cJSON *s;
	char amount[64];

	printf("%-31s %-14s %-16s %14s  %-24s %s\n", "ID", "STATUS",
	    "PRINCIPAL", "AMOUNT", "CREATED", "MERCHANT");
	cJSON_ArrayForEach(s, arr) {
		fmt_cents(amount, sizeof(amount), (int64_t)num(s,
		    "amount_cents"), str(s, "currency"));
		printf("%-31s %-14s %-16s %14s  %-24s ", str(s, "id") != NULL ?
		    str(s, "id") : "(not named yet)", str(s, "status"),
		    str(s, "principal"), amount, str(s, "created_at"));
		fmt_safe(stdout, str(s, "merchant_name") != NULL ?
		    str(s, "merchant_name") : "-");
		if (str(s, "decision_reason") != NULL) {
			fputs("  (", stdout);
			fmt_safe(stdout, str(s, "decision_reason"));
			fputc(')', stdout);
		}
		fputc('\n', stdout);
	}
	printf("%.0f spends\n", num(j, "count"));
}

static void
print_verify(const cJSON *j)
{
	if (flag(j, "intact")) {
		printf("journal intact: %.0f records, seq %.0f-%.0f, %.0f "
		    "segments, last hash %s\n", num(j, "records"),
		    num(j, "first_seq"), num(j, "last_seq"),
		    num(j, "segments"), str(j, "last_hash"));
		return;
	}
	printf("journal DAMAGED at seq %.0f in ", num(j, "seq"));
	fmt_safe(stdout, str(j, "segment") != NULL ? str(j, "segment") : "-");
	printf(" (offset %.0f): ", num(j, "offset"));
	fmt_safe(stdout, str(j, "why") != NULL ? str(j, "why") : "-");
	fputc('\n', stdout);
}

static void
print_json(const cJSON *j)
{
	char *s;

	if ((s = cJSON_PrintUnformatted(j)) == NULL)
		return;
	printf("%s\n", s);
	cJSON_free(s);
}

static int
exit_for(long status)
{
	if (status >= 200 && status < 300)
		return CTL_EXIT_OK;
	switch (status) {
	case 0:
	case 503:
		return CTL_EXIT_UNAVAILABLE;
	case 400:
	case 405:
		return CTL_EXIT_INVALID;
	case 403:
		return CTL_EXIT_REFUSED;
	case 404:
		return CTL_EXIT_NOT_FOUND;
	case 409:
	case 422:
		return CTL_EXIT_NO;
	default:
		return CTL_EXIT_INTERNAL;
	}
}

/* An error answer: code and message, and each config error on a line. */
static void
print_error(const struct ctl *c, const struct agent_resp *r)
{
	const cJSON *e, *errs, *it;

	if (r->status == 0) {
		fprintf(stderr, "dinoctl: cannot reach the admin socket: ");
		fmt_safe(stderr, r->errbuf);
		fputc('\n', stderr);
		return;
	}
	e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	fprintf(stderr, "dinoctl: %ld ", r->status);
	fmt_safe(stderr, str(e, "code") != NULL ? str(e, "code") : "error");
	fputs(": ", stderr);
	fmt_safe(stderr, str(e, "message") != NULL ? str(e, "message") :
	    "no message");
	fputc('\n', stderr);
	errs = cJSON_GetObjectItemCaseSensitive(e, "errors");
	cJSON_ArrayForEach(it, errs)
		if (cJSON_IsString(it)) {
			fputs("  ", stderr);
			fmt_safe(stderr, it->valuestring);
			fputc('\n', stderr);
		}
	if (c->json && r->json != NULL)
		print_json(r->json);
}

/*
 * Commands.
 */

static char *
body_of(const char *k1, const char *v1, const char *k2, const char *v2)
{
	cJSON *o;
	char *s;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (k1 != NULL)
		cJSON_AddStringToObject(o, k1, v1);
	if (k2 != NULL && v2 != NULL)
		cJSON_AddStringToObject(o, k2, v2);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static int
spends_path(const struct ctl *c, char *path, size_t len, CURL *cu)
{
	char *esc;
	int64_t since;
	size_t off;

	off = (size_t)snprintf(path, len, "/v1/spends?limit=%ld",
	    c->limit > 0 ? c->limit : (long)ADMIN_SPENDS_MAX);
	if (c->since != NULL) {
		if (since_ms(c->since, &since) == -1) {
			fprintf(stderr, "dinoctl: --since: expected 30m, 2h, "
			    "7d, 2026-11-28 or 2026-11-28T12:00:00Z\n");
			return -1;
		}
		off += (size_t)snprintf(path + off, len - off, "&since=%lld",
		    (long long)since);
	}
	if (c->principal != NULL && (esc = curl_easy_escape(cu, c->principal,
	    0)) != NULL) {
		off += (size_t)snprintf(path + off, len - off, "&principal=%s",
		    esc);
		curl_free(esc);
	}
	if (c->status != NULL && (esc = curl_easy_escape(cu, c->status,
	    0)) != NULL) {
		off += (size_t)snprintf(path + off, len - off, "&status=%s",
		    esc);
		curl_free(esc);
	}
	return off < len ? 0 : -1;
}

struct cmd {
	const char	*name;
	int		 nargs;
	const char	*method;
	const char	*path;
	const char	*key;		/* body member for argv[1] */
};

static const struct cmd cmds[] = {
	{ "status",	0, "GET",  "/v1/status",	NULL },
	{ "pause",	0, "POST", "/v1/pause",		NULL },
	{ "resume",	0, "POST", "/v1/resume",	NULL },
	{ "revoke",	1, "POST", "/v1/revoke",	"principal" },
	{ "restore",	1, "POST", "/v1/restore",	"principal" },
	{ "spends",	0, "GET",  NULL,		NULL },
	{ "approve",	1, "POST", "/v1/approve",	"id" },
	{ "deny",	1, "POST", "/v1/deny",		"id" },
	{ "audit",	1, "POST", "/v1/audit/verify",	NULL },
	{ "metrics",	0, "GET",  "/v1/metrics",	NULL },
	{ "reload",	0, "POST", "/v1/reload",	NULL },
	{ "log-level",	1, "POST", "/v1/log-level",	"level" },
};

static void
print_ok(const struct ctl *c, const struct cmd *cmd, const struct agent_resp *r)
{
	const char *res = str(r->json, "result");

	if (strcmp(cmd->name, "status") == 0)
		print_status(r->json);
	else if (strcmp(cmd->name, "spends") == 0)
		print_spends(r->json);
	else if (strcmp(cmd->name, "audit") == 0)
		print_verify(r->json);
	else if (res != NULL && strcmp(res, "unchanged") == 0)
		printf("%s: nothing to change\n", cmd->name);
	else
		printf("%s: done\n", cmd->name);
}

static int
run(struct ctl *c, const struct cmd *cmd, struct agent *a)
{
	struct agent_resp r;
	char path[1024], *body = NULL;
	int rc;

	if (cmd->path == NULL && spends_path(c, path, sizeof(path),
	    a->curl) == -1)
		return CTL_EXIT_USAGE;
	if (cmd->path != NULL)
		snprintf(path, sizeof(path), "%s", cmd->path);
	/* Every POST carries a JSON object, "{}" when it has no member. */
	if (strcmp(cmd->method, "POST") == 0 && (body = body_of(cmd->key,
	    cmd->key != NULL ? c->argv[1] : NULL,
	    strcmp(cmd->name, "deny") == 0 ? "reason" : NULL, c->reason)) ==
	    NULL)
		return CTL_EXIT_INTERNAL;
	(void)agent_request(a, cmd->method, path, body, CTL_TIMEOUT_S, &r);
	cJSON_free(body);
	rc = exit_for(r.status);
	if (strcmp(cmd->name, "audit") == 0 && r.status == 409 &&
	    r.json != NULL)
		c->json ? print_json(r.json) : print_verify(r.json);
	else if (rc != CTL_EXIT_OK)
		print_error(c, &r);
	else if (strcmp(cmd->name, "metrics") == 0)
		fputs(r.body != NULL ? r.body : "", stdout);
	else if (r.json == NULL)
		rc = CTL_EXIT_INTERNAL;
	else if (c->json)
		print_json(r.json);
	else
		print_ok(c, cmd, &r);
	agent_resp_free(&r);
	return rc;
}

int
main(int argc, char **argv)
{
	const struct cmd *cmd = NULL;
	struct agent a;
	struct ctl c;
	size_t i;
	int rc;

	parse_args(argc, argv, &c);
	for (i = 0; i < nitems(cmds); i++)
		if (strcmp(cmds[i].name, c.argv[0]) == 0)
			cmd = &cmds[i];
	if (cmd == NULL)
		usage();
	parse_tail(&c);
	if (c.argc != cmd->nargs + 1)
		usage();
	if (strcmp(cmd->name, "audit") == 0 && strcmp(c.argv[1], "verify") != 0)
		usage();
	if (agent_init(&a, c.socket, NULL) == -1) {
		fprintf(stderr, "dinoctl: cannot initialise libcurl\n");
		return CTL_EXIT_INTERNAL;
	}
	rc = run(&c, cmd, &a);
	agent_free(&a);
	return rc;
}
