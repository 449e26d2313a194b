/*
 * dino-broker.conf(5): a line-oriented file of "key value..." lines, "#"
 * comments, double-quoted values for text with spaces, and two kinds of
 * block, "account NAME { ... }" and "principal KIND NAME { ... }".
 *
 * The parser is a table of keywords, each with the block it belongs to,
 * its number of values and a setter.  It keeps going after an error, so
 * that one run of `dino-broker -n` lists every problem with its line.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "spend.h"
#include "util.h"

enum block {
	BLOCK_NONE = 1,
	BLOCK_ACCOUNT = 2,
	BLOCK_PRINCIPAL = 4,
};

struct parse {
	struct broker_config	*cfg;
	struct config_errors	*errs;
	int			 line;
	enum block		 block;
	int			 block_line;
	char			 block_desc[BROKER_NAME_MAX + 32];
	struct account		*acct;
	struct principal	*pr;
	uint64_t		 seen_global;	/* keyword bits, top level */
	uint64_t		 seen_block;	/* keyword bits, current block */
};

typedef int (*setter_fn)(struct parse *, char **, int);

struct keyword {
	const char	*name;
	int		 blocks;	/* where it may appear */
	int		 minargs;
	int		 maxargs;
	setter_fn	 set;
};

void
config_error(struct config_errors *errs, int line, const char *fmt, ...)
{
	va_list ap;

	if (errs->n >= nitems(errs->e)) {
		errs->dropped++;
		return;
	}
	errs->e[errs->n].line = line;
	va_start(ap, fmt);
	vsnprintf(errs->e[errs->n].msg, sizeof(errs->e[errs->n].msg), fmt, ap);
	va_end(ap);
	errs->n++;
}

void
config_errors_print(const struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++) {
		if (errs->e[i].line > 0)
			fprintf(stderr, "%s:%d: %s\n", errs->file,
			    errs->e[i].line, errs->e[i].msg);
		else
			fprintf(stderr, "%s: %s\n", errs->file,
			    errs->e[i].msg);
	}
	if (errs->dropped > 0)
		fprintf(stderr, "%s: %zu more errors not shown\n", errs->file,
		    errs->dropped);
}

/* Copies a value into a fixed field, refusing what does not fit. */
static int
set_str(struct parse *p, const char *key, char *dst, size_t size,
    const char *val)
{
	if (strlen(val) >= size) {
		config_error(p->errs, p->line, "%s: value longer than %zu "
		    "bytes", key, size - 1);
		return -1;
	}
	if (!text_ok(val, strlen(val))) {
		config_error(p->errs, p->line, "%s: value holds control "
		    "characters or invalid UTF-8", key);
		return -1;
	}
	strcpy(dst, val);
	return 0;
}

static int
set_num(struct parse *p, const char *key, const char *val, int64_t min,
    int64_t max, int64_t *out)
{
	if (parse_i64(val, min, max, out) == -1) {
		config_error(p->errs, p->line, "%s: not a whole number from "
		    "%lld to %lld", key, (long long)min, (long long)max);
		return -1;
	}
	return 0;
}

static int
set_bool(struct parse *p, const char *key, const char *val, int *out)
{
	if (strcmp(val, "yes") == 0)
		*out = 1;
	else if (strcmp(val, "no") == 0)
		*out = 0;
	else {
		config_error(p->errs, p->line, "%s: expected yes or no", key);
		return -1;
	}
	return 0;
}

static int
kw_instance_id(struct parse *p, char **v, int n)
{
	if (strlen(v[0]) > BROKER_INSTANCE_ID_MAX ||
	    !printable_ascii(v[0], strlen(v[0]))) {
		config_error(p->errs, p->line, "instance_id: 1 to %d "
		    "printable ASCII characters without spaces",
		    BROKER_INSTANCE_ID_MAX);
		return -1;
	}
	strcpy(p->cfg->instance_id, v[0]);
	return 0;
}

static int
kw_dino_url(struct parse *p, char **v, int n)
{
	if (strncmp(v[0], "https://", 8) != 0 &&
	    strncmp(v[0], "http://", 7) != 0) {
		config_error(p->errs, p->line, "dino_url: must start with "
		    "https:// (or http:// to a loopback sandbox)");
		return -1;
	}
	if (!printable_ascii(v[0], strlen(v[0]))) {
		config_error(p->errs, p->line, "dino_url: not a URL");
		return -1;
	}
	return set_str(p, "dino_url", p->cfg->dino_url,
	    sizeof(p->cfg->dino_url), v[0]);
}

static int
kw_dino_spend_path(struct parse *p, char **v, int n)
{
	if (strcmp(v[0], "spend") != 0 && strcmp(v[0], "spend-requests") != 0) {
		config_error(p->errs, p->line, "dino_spend_path: expected "
		    "spend or spend-requests");
		return -1;
	}
	strcpy(p->cfg->dino_spend_path, v[0]);
	return 0;
}

static int
kw_ca_file(struct parse *p, char **v, int n)
{
	return set_str(p, "ca_file", p->cfg->ca_file, sizeof(p->cfg->ca_file),
	    v[0]);
}

static int
kw_allow_http_loopback(struct parse *p, char **v, int n)
{
	return set_bool(p, "allow_http_loopback", v[0],
	    &p->cfg->allow_http_loopback);
}

static int
kw_connect_timeout(struct parse *p, char **v, int n)
{
	return set_num(p, "connect_timeout_ms", v[0], 1,
	    BROKER_TIMEOUT_MS_MAX, &p->cfg->connect_timeout_ms);
}

static int
kw_total_timeout(struct parse *p, char **v, int n)
{
	return set_num(p, "total_timeout_ms", v[0], 1, BROKER_TIMEOUT_MS_MAX,
	    &p->cfg->total_timeout_ms);
}

static int
kw_ipc_socket(struct parse *p, char **v, int n)
{
	if (v[0][0] != '/') {
		config_error(p->errs, p->line, "ipc_socket: must be an "
		    "absolute path");
		return -1;
	}
	return set_str(p, "ipc_socket", p->cfg->ipc_socket,
	    sizeof(p->cfg->ipc_socket), v[0]);
}

static int
kw_frontend_user(struct parse *p, char **v, int n)
{
	p->cfg->line_frontend_user = p->line;
	return set_str(p, "frontend_user", p->cfg->frontend_user,
	    sizeof(p->cfg->frontend_user), v[0]);
}

static int
kw_user(struct parse *p, char **v, int n)
{
	p->cfg->line_user = p->line;
	return set_str(p, "user", p->cfg->user, sizeof(p->cfg->user), v[0]);
}

static int
kw_paused(struct parse *p, char **v, int n)
{
	return set_bool(p, "paused", v[0], &p->cfg->paused);
}

static int
kw_log_level(struct parse *p, char **v, int n)
{
	int level;

	if ((level = log_level_parse(v[0])) == -1) {
		config_error(p->errs, p->line, "log_level: expected error, "
		    "warning, notice, info or debug");
		return -1;
	}
	p->cfg->log_level = level;
	return 0;
}

static int
kw_journal_dir(struct parse *p, char **v, int n)
{
	if (v[0][0] != '/') {
		config_error(p->errs, p->line, "journal_dir: must be an "
		    "absolute path");
		return -1;
	}
	return set_str(p, "journal_dir", p->cfg->journal_dir,
	    sizeof(p->cfg->journal_dir), v[0]);
}

static int
kw_journal_segment(struct parse *p, char **v, int n)
{
	return set_num(p, "journal_segment_bytes", v[0], JOURNAL_SEGMENT_MIN,
	    JOURNAL_SEGMENT_MAX, &p->cfg->journal_segment_bytes);
}

static int
kw_journal_retention(struct parse *p, char **v, int n)
{
	int64_t d;

	if (set_num(p, "journal_retention_days", v[0], 0,
	    JOURNAL_RETENTION_MAX_D, &d) == -1)
		return -1;
	/* Replay rebuilds the rolling 24 h cap from what is kept. */
	if (d != 0 && d < JOURNAL_RETENTION_MIN_D) {
		config_error(p->errs, p->line, "journal_retention_days: 0 "
		    "(keep forever) or at least %d", JOURNAL_RETENTION_MIN_D);
		return -1;
	}
	p->cfg->journal_retention_days = (int)d;
	return 0;
}

static int
kw_journal_fsync(struct parse *p, char **v, int n)
{
	return set_bool(p, "journal_fsync", v[0], &p->cfg->journal_fsync);
}

static int
kw_key_file(struct parse *p, char **v, int n)
{
	if (p->acct->key_line != 0) {
		config_error(p->errs, p->line, "account %s: key_file and "
		    "credential are exclusive", p->acct->name);
		return -1;
	}
	if (v[0][0] != '/') {
		config_error(p->errs, p->line, "key_file: must be an "
		    "absolute path");
		return -1;
	}
	p->acct->source = KEY_FILE;
	p->acct->key_line = p->line;
	return set_str(p, "key_file", p->acct->key_ref,
	    sizeof(p->acct->key_ref), v[0]);
}

static int
kw_credential(struct parse *p, char **v, int n)
{
	if (p->acct->key_line != 0) {
		config_error(p->errs, p->line, "account %s: key_file and "
		    "credential are exclusive", p->acct->name);
		return -1;
	}
	/* A credential name is a file name: no path may sneak in. */
	if (strchr(v[0], '/') != NULL || strcmp(v[0], ".") == 0 ||
	    strcmp(v[0], "..") == 0 || !printable_ascii(v[0], strlen(v[0]))) {
		config_error(p->errs, p->line, "credential: a plain file "
		    "name without '/' is expected");
		return -1;
	}
	p->acct->source = KEY_CREDENTIAL;
	p->acct->key_line = p->line;
	return set_str(p, "credential", p->acct->key_ref,
	    sizeof(p->acct->key_ref), v[0]);
}

static int
kw_account_ref(struct parse *p, char **v, int n)
{
	p->pr->account_line = p->line;
	return set_str(p, "account", p->pr->account_name,
	    sizeof(p->pr->account_name), v[0]);
}

static int
kw_allowed(struct parse *p, char **v, int n)
{
	return set_bool(p, "allowed", v[0], &p->pr->allowed);
}

static int
kw_max_amount(struct parse *p, char **v, int n)
{
	return set_num(p, "max_amount_cents", v[0], AMOUNT_CENTS_MIN,
	    AMOUNT_CENTS_MAX, &p->pr->max_amount_cents);
}

static int
kw_daily_cap(struct parse *p, char **v, int n)
{
	return set_num(p, "daily_cap_cents", v[0], 1, BROKER_DAILY_CAP_MAX,
	    &p->pr->daily_cap_cents);
}

static int
kw_spm(struct parse *p, char **v, int n)
{
	return set_num(p, "spends_per_minute", v[0], 1, BROKER_SPM_MAX,
	    &p->pr->spends_per_minute);
}

static int
kw_currencies(struct parse *p, char **v, int n)
{
	const char *why;
	int i;

	for (i = 0; i < n; i++) {
		if ((why = spend_check_currency(v[i])) != NULL) {
			config_error(p->errs, p->line, "currencies: %s", why);
			return -1;
		}
		strcpy(p->pr->currencies[i], v[i]);
	}
	p->pr->ncurrencies = (size_t)n;
	return 0;
}

static int
set_merchants(struct parse *p, const char *key, char **v, int n,
    char (**list)[MERCHANT_NAME_MAX + 1], size_t *count)
{
	const char *why;
	int i;

	if ((*list = calloc((size_t)n, sizeof(**list))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < n; i++) {
		if ((why = spend_check_merchant(v[i])) != NULL) {
			config_error(p->errs, p->line, "%s: %s", key, why);
			return -1;
		}
		strcpy((*list)[i], v[i]);
	}
	*count = (size_t)n;
	return 0;
}

static int
kw_merchants_allow(struct parse *p, char **v, int n)
{
	return set_merchants(p, "merchants_allow", v, n,
	    &p->pr->merchants_allow, &p->pr->nallow);
}

static int
kw_merchants_deny(struct parse *p, char **v, int n)
{
	return set_merchants(p, "merchants_deny", v, n,
	    &p->pr->merchants_deny, &p->pr->ndeny);
}

/*
 * The webhook listener: a UNIX socket, or a loopback address, since a
 * TLS-terminating reverse proxy sits in front of it (docs/nginx-webhook.conf)
 * and nothing else should reach it.
 */
static int
webhook_listen_ok(const char *v)
{
	struct in6_addr a6;
	struct in_addr a4;
	char host[64];
	const char *colon;
	int64_t port;
	size_t n;

	if (strncmp(v, "unix:", 5) == 0)
		return v[5] == '/';
	if (v[0] == '[') {
		if ((colon = strstr(v, "]:")) == NULL)
			return 0;
		n = (size_t)(colon - v - 1);
		colon++;
	} else {
		if ((colon = strrchr(v, ':')) == NULL)
			return 0;
		n = (size_t)(colon - v);
	}
	if (n == 0 || n >= sizeof(host) ||
	    parse_i64(colon + 1, 1, 65535, &port) == -1)
		return 0;
	memcpy(host, v[0] == '[' ? v + 1 : v, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return inet_pton(AF_INET6, host, &a6) == 1 &&
	    IN6_IS_ADDR_LOOPBACK(&a6);
}

static int
kw_webhook_listen(struct parse *p, char **v, int n)
{
	if (!webhook_listen_ok(v[0])) {
		config_error(p->errs, p->line, "webhook_listen: expected "
		    "unix:/absolute/path or a loopback address with a port "
		    "(127.0.0.1:8556, [::1]:8556)");
		return -1;
	}
	p->cfg->line_webhook_listen = p->line;
	return set_str(p, "webhook_listen", p->cfg->webhook_listen,
	    sizeof(p->cfg->webhook_listen), v[0]);
}

static int
kw_webhook_path(struct parse *p, char **v, int n)
{
	if (v[0][0] != '/' || strchr(v[0], '?') != NULL ||
	    strchr(v[0], '#') != NULL || !printable_ascii(v[0], strlen(v[0]))) {
		config_error(p->errs, p->line, "webhook_path: an absolute "
		    "path without query or fragment");
		return -1;
	}
	return set_str(p, "webhook_path", p->cfg->webhook_path,
	    sizeof(p->cfg->webhook_path), v[0]);
}

static int
add_webhook_secret(struct parse *p, enum key_source src, const char *what,
    const char *ref)
{
	struct webhook_secret *ws;

	if (p->cfg->nwebhook_secrets == WEBHOOK_SECRETS_MAX) {
		config_error(p->errs, p->line, "%s: at most %d webhook "
		    "secrets", what, WEBHOOK_SECRETS_MAX);
		return -1;
	}
	ws = &p->cfg->webhook_secrets[p->cfg->nwebhook_secrets];
	memset(ws, 0, sizeof(*ws));
	ws->source = src;
	ws->line = p->line;
	if (set_str(p, what, ws->ref, sizeof(ws->ref), ref) == -1)
		return -1;
	p->cfg->nwebhook_secrets++;
	return 0;
}

static int
kw_webhook_secret_file(struct parse *p, char **v, int n)
{
	if (v[0][0] != '/') {
		config_error(p->errs, p->line, "webhook_secret_file: must be "
		    "an absolute path");
		return -1;
	}
	return add_webhook_secret(p, KEY_FILE, "webhook_secret_file", v[0]);
}

static int
kw_webhook_secret_cred(struct parse *p, char **v, int n)
{
	if (strchr(v[0], '/') != NULL || strcmp(v[0], ".") == 0 ||
	    strcmp(v[0], "..") == 0 || !printable_ascii(v[0], strlen(v[0]))) {
		config_error(p->errs, p->line, "webhook_secret_credential: a "
		    "plain file name without '/' is expected");
		return -1;
	}
	return add_webhook_secret(p, KEY_CREDENTIAL,
	    "webhook_secret_credential", v[0]);
}

static int
kw_webhook_tolerance(struct parse *p, char **v, int n)
{
	return set_num(p, "webhook_tolerance_s", v[0], 1,
	    WEBHOOK_TOLERANCE_S_MAX, &p->cfg->webhook_tolerance_s);
}

static int
kw_webhook_accept_legacy(struct parse *p, char **v, int n)
{
	return set_bool(p, "webhook_accept_legacy", v[0],
	    &p->cfg->webhook_accept_legacy);
}

static int
kw_poll_min(struct parse *p, char **v, int n)
{
	p->cfg->line_poll = p->line;
	return set_num(p, "poll_min_s", v[0], 1, POLL_S_MAX,
	    &p->cfg->poll_min_s);
}

static int
kw_poll_max(struct parse *p, char **v, int n)
{
	p->cfg->line_poll = p->line;
	return set_num(p, "poll_max_s", v[0], 1, POLL_S_MAX,
	    &p->cfg->poll_max_s);
}

static int
kw_admin_socket(struct parse *p, char **v, int n)
{
	if (v[0][0] != '/') {
		config_error(p->errs, p->line, "admin_socket: must be an "
		    "absolute path");
		return -1;
	}
	return set_str(p, "admin_socket", p->cfg->admin_socket,
	    sizeof(p->cfg->admin_socket), v[0]);
}

static int
kw_admin_group(struct parse *p, char **v, int n)
{
	p->cfg->line_admin_group = p->line;
	return set_str(p, "admin_group", p->cfg->admin_group,
	    sizeof(p->cfg->admin_group), v[0]);
}

/* Metrics carry no secret, but only the local host should read them. */
static int
kw_metrics_listen(struct parse *p, char **v, int n)
{
	if (!webhook_listen_ok(v[0])) {
		config_error(p->errs, p->line, "metrics_listen: expected "
		    "unix:/absolute/path or a loopback address with a port "
		    "(127.0.0.1:9556, [::1]:9556)");
		return -1;
	}
	return set_str(p, "metrics_listen", p->cfg->metrics_listen,
	    sizeof(p->cfg->metrics_listen), v[0]);
}

static int
kw_hold_above(struct parse *p, char **v, int n)
{
	return set_num(p, "hold_above_cents", v[0], 0, AMOUNT_CENTS_MAX,
	    &p->pr->hold_above_cents);
}

static int
kw_agent_conns(struct parse *p, char **v, int n)
{
	return set_num(p, "agent_conns_per_uid", v[0], 1, IPC_CONNS_MAX,
	    &p->cfg->agent_conns_per_uid);
}

#define TOP	BLOCK_NONE
#define ACCT	BLOCK_ACCOUNT
#define PRIN	BLOCK_PRINCIPAL
static const struct keyword keywords[] = {
	{ "instance_id",	 TOP,  1, 1, kw_instance_id },
	{ "dino_url",		 TOP,  1, 1, kw_dino_url },
	{ "dino_spend_path",	 TOP,  1, 1, kw_dino_spend_path },
	{ "ca_file",		 TOP,  1, 1, kw_ca_file },
	{ "allow_http_loopback", TOP,  1, 1, kw_allow_http_loopback },
	{ "connect_timeout_ms",	 TOP,  1, 1, kw_connect_timeout },
	{ "total_timeout_ms",	 TOP,  1, 1, kw_total_timeout },
	{ "ipc_socket",		 TOP,  1, 1, kw_ipc_socket },
	{ "frontend_user",	 TOP,  1, 1, kw_frontend_user },
	{ "user",		 TOP,  1, 1, kw_user },
	{ "paused",		 TOP,  1, 1, kw_paused },
	{ "log_level",		 TOP,  1, 1, kw_log_level },
	{ "webhook_listen",	 TOP,  1, 1, kw_webhook_listen },
	{ "webhook_path",	 TOP,  1, 1, kw_webhook_path },
	{ "webhook_secret_file", TOP,  1, 1, kw_webhook_secret_file },
	{ "webhook_secret_credential", TOP, 1, 1, kw_webhook_secret_cred },
	{ "webhook_tolerance_s", TOP,  1, 1, kw_webhook_tolerance },
	{ "webhook_accept_legacy", TOP, 1, 1, kw_webhook_accept_legacy },
	{ "poll_min_s",		 TOP,  1, 1, kw_poll_min },
	{ "poll_max_s",		 TOP,  1, 1, kw_poll_max },
	{ "agent_conns_per_uid", TOP,  1, 1, kw_agent_conns },
	{ "admin_socket",	 TOP,  1, 1, kw_admin_socket },
	{ "admin_group",	 TOP,  1, 1, kw_admin_group },
	{ "metrics_listen",	 TOP,  1, 1, kw_metrics_listen },
	{ "journal_dir",	 TOP,  1, 1, kw_journal_dir },
	{ "journal_segment_bytes", TOP, 1, 1, kw_journal_segment },
	{ "journal_retention_days", TOP, 1, 1, kw_journal_retention },
	{ "journal_fsync",	 TOP,  1, 1, kw_journal_fsync },
	{ "key_file",		 ACCT, 1, 1, kw_key_file },
	{ "credential",		 ACCT, 1, 1, kw_credential },
	{ "account",		 PRIN, 1, 1, kw_account_ref },
	{ "allowed",		 PRIN, 1, 1, kw_allowed },
	{ "max_amount_cents",	 PRIN, 1, 1, kw_max_amount },
	{ "daily_cap_cents",	 PRIN, 1, 1, kw_daily_cap },
	{ "spends_per_minute",	 PRIN, 1, 1, kw_spm },
	{ "currencies",		 PRIN, 1, BROKER_LIST_MAX, kw_currencies },
	{ "merchants_allow",	 PRIN, 1, BROKER_LIST_MAX, kw_merchants_allow },
	{ "merchants_deny",	 PRIN, 1, BROKER_LIST_MAX, kw_merchants_deny },
	{ "hold_above_cents",	 PRIN, 1, 1, kw_hold_above },
};
#undef TOP
#undef ACCT
#undef PRIN

/*
 * Splits one line in place into tokens.  quoted[i] tells a quoted "{"
 * from a real brace.  Returns the count, or -1 after reporting an error.
 */
static int
tokenize(struct parse *p, char *s, char **tok, int *quoted, int max)
{
	int n = 0;
	char *w;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			return n;
		if (n == max) {
			config_error(p->errs, p->line, "too many values on "
			    "one line (at most %d)", max);
			return -1;
		}
		quoted[n] = 0;
		if (*s == '{' || *s == '}') {
			tok[n++] = s;
			if (s[1] != '\0' && s[1] != ' ' && s[1] != '\t' &&
			    s[1] != '#') {
				config_error(p->errs, p->line, "'%c' must "
				    "stand alone", *s);
				return -1;
			}
			if (s[1] == '#') {
				s[1] = '\0';
				return n;
			}
			if (s[1] == '\0')
				return n;
			s[1] = '\0';
			s += 2;
			continue;
		}
		if (*s == '"') {
			quoted[n] = 1;
			tok[n++] = w = ++s;
			for (; *s != '"'; s++) {
				if (*s == '\0') {
					config_error(p->errs, p->line,
					    "unterminated quote");
					return -1;
				}
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				*w++ = *s;
			}
			*w = '\0';
			s++;
			if (*s != '\0' && *s != ' ' && *s != '\t' &&
			    *s != '#') {
				config_error(p->errs, p->line, "a closing "
				    "quote must end its value");
				return -1;
			}
			if (*s == '#')
				return n;
			if (*s != '\0')
				s++;
			continue;
		}
		tok[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '#' &&
		    *s != '"' && *s != '{' && *s != '}')
			s++;
		if (*s == '"') {
			config_error(p->errs, p->line, "a quote may only "
			    "begin a value");
			return -1;
		}
		if (*s == '{' || *s == '}') {
			config_error(p->errs, p->line, "'%c' must stand "
			    "alone", *s);
			return -1;
		}
		if (*s == '\0')
			return n;
		if (*s == '#') {
			*s = '\0';
			return n;
		}
		*s++ = '\0';
	}
}

static int
is_brace(char **tok, int *quoted, int i, const char *b)
{
	return !quoted[i] && strcmp(tok[i], b) == 0;
}

static void
open_account(struct parse *p, char **tok, int *quoted, int n)
{
	struct broker_config *cfg = p->cfg;
	struct account *a;

	if (n != 3 || !is_brace(tok, quoted, 2, "{")) {
		config_error(p->errs, p->line, "expected: account NAME {");
		return;
	}
	if (cfg->naccounts == BROKER_ACCOUNTS_MAX) {
		config_error(p->errs, p->line, "too many accounts (at most "
		    "%d)", BROKER_ACCOUNTS_MAX);
		return;
	}
	a = &cfg->accounts[cfg->naccounts];
	memset(a, 0, sizeof(*a));
	a->line = p->line;
	if (set_str(p, "account", a->name, sizeof(a->name), tok[1]) == -1)
		return;
	if (config_find_account(cfg, a->name) != NULL) {
		config_error(p->errs, p->line, "duplicate account %s",
		    a->name);
		return;
	}
	cfg->naccounts++;
	p->acct = a;
	p->block = BLOCK_ACCOUNT;
	p->block_line = p->line;
	p->seen_block = 0;
	snprintf(p->block_desc, sizeof(p->block_desc), "account %s", a->name);
}

static void
principal_defaults(struct principal *pr)
{
	pr->allowed = 1;
	pr->max_amount_cents = BROKER_DEF_MAX_AMOUNT;
	pr->daily_cap_cents = BROKER_DEF_DAILY_CAP;
	pr->spends_per_minute = BROKER_DEF_SPM;
	strcpy(pr->currencies[0], "usd");
	pr->ncurrencies = 1;
}

static int
principal_kind(const char *s, enum principal_kind *kind)
{
	if (strcmp(s, "uid") == 0)
		*kind = PRINCIPAL_UID;
	else if (strcmp(s, "user") == 0)
		*kind = PRINCIPAL_USER;
	else if (strcmp(s, "group") == 0)
		*kind = PRINCIPAL_GROUP;
	else
		return -1;
	return 0;
}

static void
open_principal(struct parse *p, char **tok, int *quoted, int n)
{
	static const char *kinds[] = { "uid", "user", "group" };
	struct broker_config *cfg = p->cfg;
	struct principal *pr;
	enum principal_kind kind;
	int64_t uid;

	if (n != 4 || !is_brace(tok, quoted, 3, "{") ||
	    principal_kind(tok[1], &kind) == -1) {
		config_error(p->errs, p->line, "expected: principal "
		    "uid|user|group NAME {");
		return;
	}
	if (cfg->nprincipals == BROKER_PRINCIPALS_MAX) {
		config_error(p->errs, p->line, "too many principals (at "
		    "most %d)", BROKER_PRINCIPALS_MAX);
		return;
	}
	pr = &cfg->principals[cfg->nprincipals];
	memset(pr, 0, sizeof(*pr));
	pr->kind = kind;
	pr->line = p->line;
	principal_defaults(pr);
	if (set_str(p, "principal", pr->name, sizeof(pr->name), tok[2]) == -1)
		return;
	if (kind == PRINCIPAL_UID) {
		if (parse_i64(tok[2], 0, (int64_t)UINT32_MAX - 1, &uid) == -1) {
			config_error(p->errs, p->line, "principal uid: not a "
			    "uid: %s", tok[2]);
			return;
		}
		pr->uid = (uid_t)uid;
		snprintf(pr->name, sizeof(pr->name), "%lld", (long long)uid);
	}
	snprintf(pr->id, sizeof(pr->id), "%s:%s", kinds[kind], pr->name);
	cfg->nprincipals++;
	p->pr = pr;
	p->block = BLOCK_PRINCIPAL;
	p->block_line = p->line;
	p->seen_block = 0;
	snprintf(p->block_desc, sizeof(p->block_desc), "principal %s",
	    pr->id);
}

/* Webhook secrets may be listed several times: rotation overlaps them. */
static int
repeatable(const struct keyword *kw)
{
	return kw->set == kw_webhook_secret_file ||
	    kw->set == kw_webhook_secret_cred;
}

static void
apply_keyword(struct parse *p, char **tok, int n)
{
	const struct keyword *kw = NULL;
	uint64_t *seen, bit;
	size_t i;

	for (i = 0; i < nitems(keywords); i++)
		if (strcmp(keywords[i].name, tok[0]) == 0 &&
		    (keywords[i].blocks & (int)p->block)) {
			kw = &keywords[i];
			break;
		}
	if (kw == NULL) {
		if (p->block == BLOCK_NONE)
			config_error(p->errs, p->line, "unknown key %s",
			    tok[0]);
		else
			config_error(p->errs, p->line, "unknown key %s in "
			    "%s", tok[0], p->block_desc);
		return;
	}
	seen = p->block == BLOCK_NONE ? &p->seen_global : &p->seen_block;
	bit = 1ULL << i;
	if ((*seen & bit) && !repeatable(kw)) {
		config_error(p->errs, p->line, "%s given twice", kw->name);
		return;
	}
	*seen |= bit;
	if (n - 1 < kw->minargs) {
		config_error(p->errs, p->line, "%s: missing value", kw->name);
		return;
	}
	if (n - 1 > kw->maxargs) {
		config_error(p->errs, p->line, "%s: too many values (at most "
		    "%d)", kw->name, kw->maxargs);
		return;
	}
	kw->set(p, tok + 1, n - 1);
}

static void
parse_line(struct parse *p, char *line)
{
	char *tok[BROKER_CONFIG_TOKENS_MAX];
	int quoted[BROKER_CONFIG_TOKENS_MAX];
	int n;

	if ((n = tokenize(p, line, tok, quoted, (int)nitems(tok))) <= 0)
		return;
	if (is_brace(tok, quoted, 0, "}")) {
		if (p->block == BLOCK_NONE)
			config_error(p->errs, p->line, "'}' without a block");
		else if (n != 1)
			config_error(p->errs, p->line, "'}' must stand alone");
		p->block = BLOCK_NONE;
		return;
	}
	if (is_brace(tok, quoted, n - 1, "{")) {
		if (p->block != BLOCK_NONE) {
			config_error(p->errs, p->block_line, "%s: block not "
			    "closed before line %d", p->block_desc, p->line);
			p->block = BLOCK_NONE;
		}
		if (strcmp(tok[0], "account") == 0)
			open_account(p, tok, quoted, n);
		else if (strcmp(tok[0], "principal") == 0)
			open_principal(p, tok, quoted, n);
		else
			config_error(p->errs, p->line, "unknown block %s",
			    tok[0]);
		return;
	}
	if (is_brace(tok, quoted, 0, "{")) {
		config_error(p->errs, p->line, "'{' must end a block header");
		return;
	}
	apply_keyword(p, tok, n);
}

static void
config_defaults(struct broker_config *cfg)
{
	strcpy(cfg->dino_url, "https://api.dino.id");
	strcpy(cfg->dino_spend_path, "spend");
	cfg->connect_timeout_ms = BROKER_DEF_CONNECT_MS;
	cfg->total_timeout_ms = BROKER_DEF_TOTAL_MS;
	strcpy(cfg->ipc_socket, "/run/dino-broker/ipc.sock");
	strcpy(cfg->user, "dino-broker");
	cfg->log_level = LOG_INFO;
	strcpy(cfg->webhook_path, "/webhooks/dino");
	cfg->webhook_tolerance_s = WEBHOOK_TOLERANCE_S_DEF;
	cfg->poll_min_s = POLL_MIN_S_DEF;
	cfg->poll_max_s = POLL_MAX_S_DEF;
	cfg->agent_conns_per_uid = BROKER_FE_CONNS_PER_UID;
	strcpy(cfg->journal_dir, "/var/lib/dino-broker/journal");
	cfg->journal_segment_bytes = JOURNAL_SEGMENT_DEF;
	cfg->journal_fsync = 1;
}

struct account *
config_find_account(struct broker_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->naccounts; i++)
		if (strcmp(cfg->accounts[i].name, name) == 0)
			return &cfg->accounts[i];
	return NULL;
}

/* Adds uid to set[*n] once; -1 when the set already holds max. */
static int
uid_add(uid_t *set, size_t *n, size_t max, uid_t uid)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (set[i] == uid)
			return 0;
	if (*n == max)
		return -1;
	set[(*n)++] = uid;
	return 0;
}

/*
 * The members of a group: its listed users and every user whose primary
 * group it is, each once, in a new array of at most max uids.  Returns -1
 * when the group has more (the array then holds the first max).
 */
static int
group_members(const struct group *gr, size_t max, uid_t **set, size_t *n)
{
	struct passwd *pw;
	char **names;
	gid_t gid = gr->gr_gid;
	size_t i, nnames = 0;
	int full = 0;

	if ((*set = calloc(max, sizeof(uid_t))) == NULL)
		fatal("%s: calloc", __func__);
	*n = 0;
	/* getpwnam() may reuse the group's static storage: copy first. */
	while (gr->gr_mem != NULL && gr->gr_mem[nnames] != NULL)
		nnames++;
	if (nnames > max) {
		nnames = max;
		full = 1;
	}
	if ((names = calloc(nnames + 1, sizeof(*names))) == NULL)
		fatal("%s: calloc", __func__);
	for (i = 0; i < nnames; i++)
		if ((names[i] = strdup(gr->gr_mem[i])) == NULL)
			fatal("%s: strdup", __func__);
	for (i = 0; i < nnames; i++) {
		if ((pw = getpwnam(names[i])) != NULL &&
		    uid_add(*set, n, max, pw->pw_uid) == -1)
			full = 1;
		free(names[i]);
	}
	free(names);
	setpwent();
	while ((pw = getpwent()) != NULL)
		if (pw->pw_gid == gid && uid_add(*set, n, max, pw->pw_uid) == -1)
			full = 1;
	endpwent();
	return full ? -1 : 0;
}

/*
 * A group principal admits the group's listed members and every user
 * whose primary group it is; the caller's own gid is matched at request
 * time as well (policy.c).
 */
static void
resolve_group(struct parse *p, struct principal *pr)
{
	struct group *gr;

	if ((gr = getgrnam(pr->name)) == NULL) {
		config_error(p->errs, pr->line, "principal group %s: no such "
		    "group", pr->name);
		return;
	}
	pr->gid = gr->gr_gid;
	if (group_members(gr, BROKER_GROUP_UIDS_MAX, &pr->members,
	    &pr->nmembers) == -1)
		config_error(p->errs, pr->line, "principal group %s: more "
		    "than %d members", pr->name, BROKER_GROUP_UIDS_MAX);
}

static void
resolve_principal(struct parse *p, struct principal *pr)
{
	struct passwd *pw;

	if (pr->kind == PRINCIPAL_USER) {
		if ((pw = getpwnam(pr->name)) == NULL)
			config_error(p->errs, pr->line, "principal user %s: "
			    "no such user", pr->name);
		else
			pr->uid = pw->pw_uid;
	} else if (pr->kind == PRINCIPAL_GROUP)
		resolve_group(p, pr);
}

static int
principal_same(const struct principal *a, const struct principal *b)
{
	if (a->kind != b->kind)
		return 0;
	if (a->kind == PRINCIPAL_UID)
		return a->uid == b->uid;
	return strcmp(a->name, b->name) == 0;
}

static void
check_principals(struct parse *p)
{
	struct broker_config *cfg = p->cfg;
	struct principal *pr;
	size_t i, j;

	for (i = 0; i < cfg->nprincipals; i++) {
		pr = &cfg->principals[i];
		for (j = 0; j < i; j++)
			if (principal_same(pr, &cfg->principals[j]))
				config_error(p->errs, pr->line, "duplicate "
				    "principal %s (first at line %d)", pr->id,
				    cfg->principals[j].line);
		if (pr->account_name[0] == '\0')
			config_error(p->errs, pr->line, "principal %s: no "
			    "account", pr->id);
		else if ((pr->account = config_find_account(cfg,
		    pr->account_name)) == NULL)
			config_error(p->errs, pr->account_line, "unknown "
			    "account %s", pr->account_name);
		resolve_principal(p, pr);
	}
}

static int
url_is_loopback(const char *url)
{
	static const char *hosts[] = { "127.", "[::1]", "localhost" };
	const char *h = url + 7;	/* after "http://" */
	size_t i, len;

	for (i = 0; i < nitems(hosts); i++) {
		len = strlen(hosts[i]);
		if (strncmp(h, hosts[i], len) == 0 &&
		    (hosts[i][len - 1] == '.' || h[len] == '\0' ||
		    h[len] == ':' || h[len] == '/'))
			return 1;
	}
	return 0;
}

static void
check_users(struct parse *p)
{
	struct broker_config *cfg = p->cfg;
	struct passwd *pw;

	if (cfg->frontend_user[0] != '\0') {
		if ((pw = getpwnam(cfg->frontend_user)) == NULL)
			config_error(p->errs, cfg->line_frontend_user,
			    "frontend_user %s: no such user",
			    cfg->frontend_user);
		else {
			cfg->has_frontend = 1;
			cfg->frontend_uid = pw->pw_uid;
			cfg->frontend_gid = pw->pw_gid;
		}
	}
	/* The user to drop to matters only to a broker started as root. */
	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(cfg->user)) == NULL)
		config_error(p->errs, cfg->line_user, "user %s: no such user",
		    cfg->user);
	else if (pw->pw_uid == 0)
		config_error(p->errs, cfg->line_user, "user %s: the broker "
		    "will not run as root; name an unprivileged user",
		    cfg->user);
	else {
		cfg->has_user = 1;
		cfg->user_uid = pw->pw_uid;
		cfg->user_gid = pw->pw_gid;
	}
}

/*
 * The admin group's members, resolved now: once confined, the broker
 * decides from this list and the kernel's SO_PEERCRED alone, and a reload
 * resolves it again.  Members are the group's listed users and every user
 * whose primary group it is.
 */
static void
check_admin(struct parse *p)
{
	struct broker_config *cfg = p->cfg;
	struct group *gr;

	if (cfg->admin_group[0] == '\0')
		return;
	if ((gr = getgrnam(cfg->admin_group)) == NULL) {
		config_error(p->errs, cfg->line_admin_group, "admin_group %s: "
		    "no such group", cfg->admin_group);
		return;
	}
	cfg->admin_gid = gr->gr_gid;
	if (group_members(gr, ADMIN_UIDS_MAX, &cfg->admin_uids,
	    &cfg->nadmin_uids) == -1)
		config_error(p->errs, cfg->line_admin_group, "admin_group %s: "
		    "more than %d members", cfg->admin_group, ADMIN_UIDS_MAX);
}

/* A listener without a secret could verify nothing, and the reverse. */
static void
check_webhooks(struct parse *p)
{
	struct broker_config *cfg = p->cfg;

	if (cfg->webhook_listen[0] != '\0' && cfg->nwebhook_secrets == 0)
		config_error(p->errs, cfg->line_webhook_listen,
		    "webhook_listen: no webhook_secret_file or "
		    "webhook_secret_credential");
	if (cfg->webhook_listen[0] == '\0' && cfg->nwebhook_secrets > 0)
		config_error(p->errs, cfg->webhook_secrets[0].line,
		    "webhook secrets given without webhook_listen");
	if (cfg->poll_min_s > cfg->poll_max_s)
		config_error(p->errs, cfg->line_poll, "poll_min_s is larger "
		    "than poll_max_s");
}

static void
check_config(struct parse *p)
{
	struct broker_config *cfg = p->cfg;
	size_t i;

	if (cfg->instance_id[0] == '\0')
		config_error(p->errs, 0, "instance_id is required");
	if (strncmp(cfg->dino_url, "http://", 7) == 0 &&
	    (!cfg->allow_http_loopback || !url_is_loopback(cfg->dino_url)))
		config_error(p->errs, 0, "dino_url: plain http:// only to a "
		    "loopback address with allow_http_loopback yes");
	for (i = 0; i < cfg->naccounts; i++)
		if (cfg->accounts[i].key_line == 0)
			config_error(p->errs, cfg->accounts[i].line, "account "
			    "%s: no key_file or credential",
			    cfg->accounts[i].name);
	check_principals(p);
	check_users(p);
	check_webhooks(p);
	check_admin(p);
}

struct broker_config *
config_parse(const char *name, const char *buf, size_t len,
    struct config_errors *errs)
{
	struct broker_config *cfg;
	struct parse p;
	char line[BROKER_CONFIG_LINE_MAX + 1];
	size_t off = 0, n;
	const char *nl;

	memset(errs, 0, sizeof(*errs));
	errs->file = name;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL ||
	    (cfg->principals = calloc(BROKER_PRINCIPALS_MAX,
	    sizeof(*cfg->principals))) == NULL)
		fatal("%s: calloc", __func__);
	config_defaults(cfg);
	memset(&p, 0, sizeof(p));
	p.cfg = cfg;
	p.errs = errs;
	p.block = BLOCK_NONE;
	if (memchr(buf, '\0', len) != NULL) {
		config_error(errs, 0, "file holds a NUL byte");
		off = len;
	}
	while (off < len) {
		p.line++;
		nl = memchr(buf + off, '\n', len - off);
		n = nl != NULL ? (size_t)(nl - (buf + off)) : len - off;
		if (n > BROKER_CONFIG_LINE_MAX)
			config_error(errs, p.line, "line longer than %d bytes",
			    BROKER_CONFIG_LINE_MAX);
		else {
			memcpy(line, buf + off, n);
			line[n] = '\0';
			if (n > 0 && line[n - 1] == '\r')
				line[n - 1] = '\0';
			parse_line(&p, line);
		}
		off += n + 1;
	}
	if (p.block != BLOCK_NONE)
		config_error(errs, p.block_line, "%s: block not closed",
		    p.block_desc);
	check_config(&p);
	if (errs->n > 0 || errs->dropped > 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct broker_config *
config_load(const char *path, struct config_errors *errs)
{
	struct broker_config *cfg;
	struct stat st;
	char *buf;
	ssize_t r;
	int fd;

	memset(errs, 0, sizeof(*errs));
	errs->file = path;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		config_error(errs, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > BROKER_CONFIG_MAX) {
		config_error(errs, 0, "not a regular file of at most %d bytes",
		    BROKER_CONFIG_MAX);
		close(fd);
		return NULL;
	}
	/* Whoever may write the config may grant themselves a principal. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		config_error(errs, 0, "is writable by %s (chmod go-w it): "
		    "whoever can write it can grant themselves spending",
		    (st.st_mode & S_IWOTH) ? "others" : "its group");
		close(fd);
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		fatal("%s: malloc", __func__);
	r = read_full(fd, buf, (size_t)st.st_size + 1);
	close(fd);
	if (r < 0 || r != st.st_size) {
		config_error(errs, 0, "read failed or file changed while "
		    "reading");
		free(buf);
		return NULL;
	}
	cfg = config_parse(path, buf, (size_t)r, errs);
	free(buf);
	return cfg;
}

struct principal *
config_principal_by_id(struct broker_config *cfg, const char *id)
{
	size_t i;

	for (i = 0; i < cfg->nprincipals; i++)
		if (strcmp(cfg->principals[i].id, id) == 0)
			return &cfg->principals[i];
	return NULL;
}

void
config_free(struct broker_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nprincipals; i++) {
		free(cfg->principals[i].members);
		free(cfg->principals[i].merchants_allow);
		free(cfg->principals[i].merchants_deny);
	}
	free(cfg->principals);
	free(cfg->admin_uids);
	free(cfg);
}
