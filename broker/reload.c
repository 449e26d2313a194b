/*
 * Configuration reload: SIGHUP and `dinoctl reload`.
 *
 * The new configuration and its keys are read into a fresh config; only
 * when every part of it is valid is it swapped in, in place, so that every
 * module holding the config pointer (webhook receiver, poller, dispatcher)
 * sees the new one at once.  What carries over: each principal's spending
 * history (its charges move to the principal of the same id), the
 * operator's pause and revocations (they live outside the config), and
 * every intent, re-pointed at its principal and account by name.  A
 * reload that would strand an open spend (its principal or account gone)
 * is refused, as is a change to a setting only a restart can apply.
 *
 * Confined, the broker reads the files with read-only opens the seccomp
 * filter allows, as its own user: key files must be readable by that user
 * (they already must be owned by it or root), and under systemd the
 * credentials directory is remembered from start-up.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "broker.h"
#include "config.h"
#include "creds.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "sdnotify.h"
#include "spend.h"
#include "util.h"

#define SAME_STR(f)	{ #f, offsetof(struct broker_config, f), 0 }
#define SAME_I64(f)	{ #f, offsetof(struct broker_config, f), 1 }
#define SAME_INT(f)	{ #f, offsetof(struct broker_config, f), 2 }

/* Settings a running broker cannot take over: they need a restart. */
static const struct fixed {
	const char	*name;
	size_t		 off;
	int		 kind;	/* 0 string, 1 int64_t, 2 int */
} fixed[] = {
	SAME_STR(instance_id), SAME_STR(dino_url), SAME_STR(dino_spend_path),
	SAME_STR(ca_file), SAME_INT(allow_http_loopback),
	SAME_I64(connect_timeout_ms), SAME_I64(total_timeout_ms),
	SAME_STR(ipc_socket), SAME_STR(frontend_user), SAME_STR(user),
	SAME_STR(webhook_listen), SAME_STR(webhook_path),
	SAME_STR(admin_socket), SAME_STR(metrics_listen),
	SAME_I64(agent_conns_per_uid), SAME_STR(journal_dir),
	SAME_I64(journal_segment_bytes), SAME_INT(journal_retention_days),
	SAME_INT(journal_fsync),
};

static int
fixed_same(const struct broker_config *a, const struct broker_config *b,
    const struct fixed *f)
{
	const char *pa = (const char *)a + f->off;
	const char *pb = (const char *)b + f->off;

	if (f->kind == 0)
		return strcmp(pa, pb) == 0;
	if (f->kind == 1)
		return *(const int64_t *)(const void *)pa ==
		    *(const int64_t *)(const void *)pb;
	return *(const int *)(const void *)pa == *(const int *)(const void *)pb;
}

static void
check_fixed(const struct broker_config *cur, const struct broker_config *nw,
    struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < nitems(fixed); i++)
		if (!fixed_same(cur, nw, &fixed[i]))
			config_error(errs, 0, "%s cannot change on reload; "
			    "restart the broker to apply it", fixed[i].name);
}

static int
intent_open(const struct intent *in)
{
	return in->state == INTENT_SUBMITTING || in->state == INTENT_HELD ||
	    in->call != NULL || (in->state == INTENT_ANSWERED &&
	    !spend_status_terminal(in->spend.status));
}

/* Every open spend must find its principal and account again. */
static void
check_intents(struct broker *b, struct broker_config *nw,
    struct config_errors *errs)
{
	struct intent *in;

	TAILQ_FOREACH(in, &b->intents->all, age) {
		if (!intent_open(in))
			continue;
		if (config_principal_by_id(nw, in->principal->id) == NULL)
			config_error(errs, 0, "principal %s has open spends "
			    "and cannot be removed now", in->principal->id);
		else if (config_find_account(nw, in->account->name) == NULL)
			config_error(errs, 0, "account %s has open spends and "
			    "cannot be removed now", in->account->name);
		if (errs->n >= 4)
			return;
	}
}

/* Reads the keys as the broker's user, from the remembered directory. */
static void
load_keys(struct broker *b, struct broker_config *nw,
    struct config_errors *errs)
{
	if (b->creds_dir != NULL &&
	    setenv("CREDENTIALS_DIRECTORY", b->creds_dir, 1) == -1)
		fatal("%s: setenv", __func__);
	(void)creds_load_all(nw, geteuid(), errs);
	unsetenv("CREDENTIALS_DIRECTORY");
}

/* Moves a principal's charges (and their back links) to np. */
static void
usage_move(struct principal *op, struct principal *np)
{
	struct policy_charge *c;

	np->usage = op->usage;
	for (c = np->usage.head; c != NULL; c = c->next)
		c->usage = &np->usage;
	memset(&op->usage, 0, sizeof(op->usage));
}

/*
 * Before the swap: charges move to the new principals, finished intents
 * of vanished principals are forgotten, and amap[old index] names each
 * account's index in the new config.
 */
static void
carry_over(struct broker *b, struct broker_config *nw, int *amap)
{
	struct broker_config *cur = b->cfg;
	struct intent *in, *next;
	struct account *a;
	struct principal *np;
	size_t i;

	for (i = 0; i < cur->naccounts; i++)
		amap[i] = (a = config_find_account(nw,
		    cur->accounts[i].name)) != NULL ? (int)(a - nw->accounts) :
		    -1;
	for (in = TAILQ_FIRST(&b->intents->all); in != NULL; in = next) {
		next = TAILQ_NEXT(in, age);
		if (config_principal_by_id(nw, in->principal->id) == NULL ||
		    amap[in->account - cur->accounts] == -1)
			intent_remove(b->intents, in);
	}
	for (i = 0; i < cur->nprincipals; i++)
		if ((np = config_principal_by_id(nw, cur->principals[i].id)) != NULL)
			usage_move(&cur->principals[i], np);
}

/* The swap itself, in place: b->cfg keeps its address. */
static struct broker_config *
swap_in(struct broker *b, struct broker_config *nw, const int *amap)
{
	struct broker_config *cur = b->cfg, *old;
	struct principal *pr;
	struct intent *in;
	size_t ai, i;

	if ((old = malloc(sizeof(*old))) == NULL)
		fatal("%s: malloc", __func__);
	*old = *cur;
	*cur = *nw;
	/* The accounts are inline: each principal's link moves with them. */
	for (i = 0; i < cur->nprincipals; i++) {
		pr = &cur->principals[i];
		if (pr->account != NULL)
			pr->account = &cur->accounts[pr->account -
			    nw->accounts];
	}
	free(nw);
	TAILQ_FOREACH(in, &b->intents->all, age) {
		/* Still points into old's principals until we re-point it. */
		in->principal = config_principal_by_id(cur, in->principal->id);
		ai = (size_t)(in->account - cur->accounts);
		in->account = &cur->accounts[amap[ai]];
	}
	return old;
}

static void
journal_reload(struct broker *b)
{
	cJSON *o;

	if (b->journal == NULL)
		return;
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "path", b->config_path) == NULL ||
	    cJSON_AddStringToObject(o, "trigger", "reload") == NULL ||
	    cJSON_AddStringToObject(o, "instance_id",
	    b->cfg->instance_id) == NULL ||
	    cJSON_AddNumberToObject(o, "accounts",
	    (double)b->cfg->naccounts) == NULL ||
	    cJSON_AddNumberToObject(o, "principals",
	    (double)b->cfg->nprincipals) == NULL ||
	    cJSON_AddStringToObject(o, "paused", b->cfg->paused ? "yes" :
	    "no") == NULL)
		fatalx("%s: cJSON", __func__);
	(void)journal_append(b->journal, JREC_CONFIG, o, NULL, NULL);
}

static void
log_errors(const struct config_errors *errs)
{
	size_t i;
	char safe[320];

	for (i = 0; i < errs->n; i++)
		log_err("event=reload_error file=%s line=%d error=\"%s\"",
		    errs->file != NULL ? errs->file : "-", errs->e[i].line,
		    log_safe(safe, sizeof(safe), errs->e[i].msg));
}

static int
reload_fail(struct broker_config *nw, struct config_errors *errs)
{
	if (nw != NULL) {
		creds_free_all(nw);
		config_free(nw);
	}
	log_errors(errs);
	log_err("event=reload_failed errors=%zu note=\"the running "
	    "configuration is unchanged\"", errs->n);
	metrics.reloads_failed++;
	sdn_notify("READY=1");
	return -1;
}

int
broker_reload_config(struct broker *b, struct config_errors *errs)
{
	struct broker_config *nw, *old;
	int amap[BROKER_ACCOUNTS_MAX];

	sdn_notify("RELOADING=1");
	log_info("event=reload_start config=%s", b->config_path);
	if ((nw = config_load(b->config_path, errs)) == NULL)
		return reload_fail(NULL, errs);
	check_fixed(b->cfg, nw, errs);
	check_intents(b, nw, errs);
	if (errs->n == 0)
		load_keys(b, nw, errs);
	if (errs->n > 0 || errs->dropped > 0)
		return reload_fail(nw, errs);
	carry_over(b, nw, amap);
	old = swap_in(b, nw, amap);
	creds_free_all(old);
	config_free(old);
	log_setlevel(b->cfg->log_level);
	journal_reload(b);
	metrics.reloads_ok++;
	log_info("event=reloaded accounts=%zu principals=%zu paused=%s "
	    "log_level=%d", b->cfg->naccounts, b->cfg->nprincipals,
	    b->cfg->paused ? "yes" : "no", b->cfg->log_level);
	sdn_notify("READY=1");
	return 0;
}

void
broker_reload(struct broker *b)
{
	struct config_errors errs;

	(void)broker_reload_config(b, &errs);
}
