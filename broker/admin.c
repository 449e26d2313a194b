/*
 * The admin socket and the metrics endpoint (see admin.h).
 *
 * The operator's commands change the broker's state only through the
 * journal: an action is appended as an "operator" record and takes effect
 * in the record's callback, once it is durable, so that what the journal
 * says and what the broker did never disagree.  libevent keeps a request
 * whose client went away until it is answered (evhttp detaches it from
 * the connection), so answering from that callback is safe.
 */
#define _GNU_SOURCE	/* struct ucred */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "admin.h"
#include "broker.h"
#include "json.h"
#include "jrec.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "ops.h"
#include "sdnotify.h"
#include "spend.h"
#include "util.h"
#include "webhook.h"

struct admin_conn {
	TAILQ_ENTRY(admin_conn)	 entry;
	struct admin		*a;
	struct evhttp_connection *evcon;
	uid_t			 uid;
	pid_t			 pid;
	unsigned int		 id;
};
TAILQ_HEAD(admin_conn_list, admin_conn);

struct admin {
	struct broker		*b;
	struct evhttp		*http;
	struct evconnlistener	*lev;
	int			 metrics_only;
	struct admin_conn_list	 conns;
	size_t			 nconns;
	unsigned int		 next_conn;
	unsigned long		 next_req;
};

/* One request being served. */
struct areq {
	struct admin		*a;
	struct evhttp_request	*req;
	const char		*cmd;
	uid_t			 uid;
	unsigned int		 conn;
	unsigned long		 id;		/* for the log */
	int64_t			 start;
	cJSON			*body;		/* POST body, or NULL */
	const char		*query;
};

/* An operator action waiting for its journal record to be durable. */
struct admin_action {
	struct areq		 r;
	char			 action[16];
	char			 principal[BROKER_NAME_MAX + 8];
	char			 key[BROKER_IDEM_KEY_LEN + 1];
	char			 reason[ADMIN_REASON_MAX + 1];
};

/*
 * Authorization: pure.
 */

int
admin_authorize(const struct broker_config *cfg, uid_t self, uid_t uid,
    gid_t gid)
{
	size_t i;

	if (uid == 0 || uid == self)
		return 1;
	if (cfg->admin_group[0] == '\0')
		return 0;
	if (gid == cfg->admin_gid)
		return 1;
	for (i = 0; i < cfg->nadmin_uids; i++)
		if (cfg->admin_uids[i] == uid)
			return 1;
	return 0;
}

int
admin_cap_ok(const uid_t *uids, size_t n, uid_t uid, size_t per_uid,
    size_t total)
{
	size_t i, mine = 0;

	if (n >= total)
		return 0;
	for (i = 0; i < n; i++)
		if (uids[i] == uid)
			mine++;
	return mine < per_uid;
}

/*
 * Answers.  Every request ends in exactly one, which logs its line.
 */

static void
finish(struct areq *r, int status)
{
	log_msg(status < 400 ? LOG_INFO : LOG_WARNING, "event=admin req=%lu "
	    "conn=%u uid=%lu command=%s status=%d duration_ms=%lld", r->id,
	    r->conn, (unsigned long)r->uid, r->cmd, status,
	    (long long)(mono_ms() - r->start));
	metrics_admin(&metrics, r->cmd, status);
	cJSON_Delete(r->body);
	r->body = NULL;
}

static void
reply_raw(struct areq *r, int status, const char *ctype, const char *text)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
	struct evbuffer *buf;

	if ((buf = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new", __func__);
	evhttp_add_header(out, "Content-Type", ctype);
	evhttp_add_header(out, "Cache-Control", "no-store");
	evbuffer_add(buf, text, strlen(text));
	evhttp_send_reply(r->req, status, NULL, buf);
	evbuffer_free(buf);
	finish(r, status);
}

/* Sends o (consumed) as the JSON body. */
static void
reply_json(struct areq *r, int status, cJSON *o)
{
	char *s;

	if ((s = cJSON_PrintUnformatted(o)) == NULL)
		fatalx("%s: cJSON_Print", __func__);
	cJSON_Delete(o);
	reply_raw(r, status, "application/json", s);
	cJSON_free(s);
}

static cJSON *
error_obj(const char *code, const char *message, cJSON **inner)
{
	cJSON *o, *e;

	if ((o = cJSON_CreateObject()) == NULL ||
	    (e = cJSON_AddObjectToObject(o, "error")) == NULL ||
	    cJSON_AddStringToObject(e, "code", code) == NULL ||
	    cJSON_AddStringToObject(e, "message", message) == NULL)
		fatalx("%s: cJSON", __func__);
	if (inner != NULL)
		*inner = e;
	return o;
}

static void
reply_error(struct areq *r, int status, const char *code, const char *msg)
{
	reply_json(r, status, error_obj(code, msg, NULL));
}

static cJSON *
new_obj(void)
{
	cJSON *o;

	if ((o = cJSON_CreateObject()) == NULL)
		fatalx("%s: cJSON", __func__);
	return o;
}

static void
put_str(cJSON *o, const char *name, const char *v)
{
	if ((v != NULL ? cJSON_AddStringToObject(o, name, v) :
	    cJSON_AddNullToObject(o, name)) == NULL)
		fatalx("%s: cJSON %s", __func__, name);
}

static void
put_num(cJSON *o, const char *name, double v)
{
	if (cJSON_AddNumberToObject(o, name, v) == NULL)
		fatalx("%s: cJSON %s", __func__, name);
}

static void
put_bool(cJSON *o, const char *name, int v)
{
	if (cJSON_AddBoolToObject(o, name, v) == NULL)
		fatalx("%s: cJSON %s", __func__, name);
}

static void
reply_ok(struct areq *r, const char *what)
{
	cJSON *o = new_obj();

	put_bool(o, "ok", 1);
	put_str(o, "result", what);
	reply_json(r, 200, o);
}

/* A string member of the body, 1..max bytes of text, or NULL. */
static const char *
body_text(struct areq *r, const char *name, size_t max, const char **why)
{
	const cJSON *v;

	if (r->body == NULL ||
	    (v = cJSON_GetObjectItemCaseSensitive(r->body, name)) == NULL) {
		*why = "a required member is missing";
		return NULL;
	}
	return json_get_text(v, 1, max, why);
}

/*
 * Gauges and status.
 */

static void
gauges(struct broker *b, struct metrics_gauges *g)
{
	struct journal_stats js;
	struct intent *in;

	memset(g, 0, sizeof(*g));
	g->uptime_s = (mono_ms() - b->started_mono) / 1000;
	g->paused = b->ops.paused || b->cfg->paused;
	TAILQ_FOREACH(in, &b->intents->all, age) {
		if (in->state == INTENT_HELD)
			g->spends_held++;
		if (in->state == INTENT_HELD ||
		    in->state == INTENT_SUBMITTING ||
		    (in->state == INTENT_ANSWERED &&
		    !spend_status_terminal(in->spend.status)))
			g->intents_open++;
	}
	g->waiters = b->inflight;
	g->frontend_conns = b->nconns;
	g->admin_conns = b->admin != NULL ? admin_conns(b->admin) : 0;
	if (b->journal != NULL) {
		journal_get_stats(b->journal, &js);
		g->journal_records = js.records;
		g->journal_syncs = js.syncs;
		g->journal_failures = js.failures;
		g->journal_seq = js.seq;
	}
}

static cJSON *
status_principals(struct broker *b)
{
	struct broker_config *cfg = b->cfg;
	struct principal *pr;
	cJSON *arr, *o;
	size_t i;

	if ((arr = cJSON_CreateArray()) == NULL)
		fatalx("%s: cJSON", __func__);
	for (i = 0; i < cfg->nprincipals; i++) {
		pr = &cfg->principals[i];
		o = new_obj();
		put_str(o, "id", pr->id);
		put_str(o, "account", pr->account_name);
		put_bool(o, "allowed", pr->allowed);
		put_bool(o, "revoked", ops_is_revoked(&b->ops, pr->id));
		put_num(o, "spent_24h_cents", (double)pr->usage.held_cents);
		put_num(o, "spends_24h", (double)pr->usage.count);
		put_num(o, "daily_cap_cents", (double)pr->daily_cap_cents);
		put_num(o, "hold_above_cents", (double)pr->hold_above_cents);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static cJSON *
status_dino(struct broker *b)
{
	cJSON *o = new_obj();
	char when[32];

	put_str(o, "url", b->cfg->dino_url);
	if (metrics.dino_last_ms == 0) {
		put_str(o, "reachable", "unknown");
		return o;
	}
	put_str(o, "reachable", metrics.dino_last_status > 0 ? "yes" : "no");
	put_num(o, "last_http_status", (double)metrics.dino_last_status);
	fmt_iso_ms(when, metrics.dino_last_ms);
	put_str(o, "last_call_at", when);
	return o;
}

static cJSON *
status_journal(struct broker *b, const struct metrics_gauges *g)
{
	cJSON *o = new_obj();

	put_str(o, "dir", b->cfg->journal_dir);
	put_num(o, "seq", (double)g->journal_seq);
	put_num(o, "records_since_start", (double)g->journal_records);
	put_num(o, "failures", (double)g->journal_failures);
	put_bool(o, "broken", b->journal != NULL && journal_broken(b->journal));
	return o;
}

static void
h_status(struct areq *r)
{
	struct broker *b = r->a->b;
	struct metrics_gauges g;
	int64_t seen;
	cJSON *o = new_obj(), *s;
	char when[32];

	gauges(b, &g);
	put_str(o, "version", DINO_BROKER_VERSION);
	put_str(o, "instance_id", b->cfg->instance_id);
	fmt_iso_ms(when, b->started_ms);
	put_str(o, "started_at", when);
	put_num(o, "uptime_s", (double)g.uptime_s);
	put_bool(o, "paused", g.paused);
	put_bool(o, "paused_by_operator", b->ops.paused);
	put_bool(o, "paused_by_config", b->cfg->paused);
	cJSON_AddItemToObject(o, "dino", status_dino(b));
	seen = webhook_last_seen_ms(b->webhook);
	s = new_obj();
	put_str(s, "listen", b->cfg->webhook_listen[0] != '\0' ?
	    b->cfg->webhook_listen : NULL);
	if (seen > 0)
		fmt_iso_ms(when, seen);
	put_str(s, "last_seen_at", seen > 0 ? when : NULL);
	cJSON_AddItemToObject(o, "webhook", s);
	s = new_obj();
	put_num(s, "open", (double)g.intents_open);
	put_num(s, "held", (double)g.spends_held);
	put_num(s, "known", (double)b->intents->n);
	cJSON_AddItemToObject(o, "spends", s);
	cJSON_AddItemToObject(o, "journal", status_journal(b, &g));
	put_num(o, "frontend_connections", (double)g.frontend_conns);
	put_str(o, "config", b->config_path);
	cJSON_AddItemToObject(o, "principals", status_principals(b));
	reply_json(r, 200, o);
}

static void
h_metrics(struct areq *r)
{
	struct metrics_gauges g;
	char *text;

	gauges(r->a->b, &g);
	if ((text = metrics_render(&metrics, &g)) == NULL) {
		reply_error(r, 500, "internal_error", "metrics do not fit");
		return;
	}
	reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", text);
	free(text);
}

/*
 * Spends.
 */

static cJSON *
spend_json(const struct intent *in)
{
	struct spend_obj v;
	char caller[32];
	cJSON *o = new_obj();

	hold_view(in, NULL, &v);
	intent_caller_id(in->owner_uid, caller, sizeof(caller));
	put_str(o, "id", v.id[0] != '\0' ? v.id : NULL);
	put_str(o, "hold_id", in->hold_id[0] != '\0' ? in->hold_id : NULL);
	put_str(o, "status", v.status);
	put_str(o, "principal", in->principal->id);
	put_str(o, "caller", caller);
	put_str(o, "agent", in->agent);
	put_num(o, "amount_cents", (double)in->amount_cents);
	put_str(o, "currency", in->currency);
	put_str(o, "merchant_name", in->merchant_name);
	put_str(o, "reason", in->reason);
	put_str(o, "created_at", v.created_at);
	put_str(o, "decided_at", v.decided_at[0] != '\0' ? v.decided_at : NULL);
	put_str(o, "decision_reason", v.decision_reason[0] != '\0' ?
	    v.decision_reason : NULL);
	return o;
}

struct spend_filter {
	char		 principal[BROKER_NAME_MAX + 8];
	char		 status[STATUS_MAX + 1];
	int64_t		 since_ms;
	int64_t		 limit;
};

static int
filter_parse(struct areq *r, struct spend_filter *f, const char **why)
{
	struct evkeyvalq q;
	const char *v;
	int rc = -1;

	memset(f, 0, sizeof(*f));
	f->limit = ADMIN_SPENDS_MAX;
	TAILQ_INIT(&q);
	if (r->query != NULL && evhttp_parse_query_str(r->query, &q) == -1) {
		*why = "the query string does not parse";
		return -1;
	}
	if ((v = evhttp_find_header(&q, "principal")) != NULL &&
	    snprintf(f->principal, sizeof(f->principal), "%s", v) >=
	    (int)sizeof(f->principal))
		*why = "principal is too long";
	else if ((v = evhttp_find_header(&q, "status")) != NULL &&
	    spend_check_status(v) != NULL)
		*why = "status must be one of approved, declined, cancelled, "
		    "needs_approval, submitting, held";
	else if ((v = evhttp_find_header(&q, "since")) != NULL &&
	    parse_i64(v, 0, INT64_MAX / 2, &f->since_ms) == -1)
		*why = "since must be milliseconds since the epoch";
	else if ((v = evhttp_find_header(&q, "limit")) != NULL &&
	    parse_i64(v, 1, ADMIN_SPENDS_MAX, &f->limit) == -1)
		*why = "limit must be from 1 to 1000";
	else
		rc = 0;
	if (rc == 0 && (v = evhttp_find_header(&q, "status")) != NULL)
		snprintf(f->status, sizeof(f->status), "%s", v);
	evhttp_clear_headers(&q);
	return rc;
}

static int
filter_match(const struct spend_filter *f, const struct intent *in)
{
	if (f->principal[0] != '\0' && strcmp(in->principal->id,
	    f->principal) != 0 && strcmp(in->principal->name,
	    f->principal) != 0)
		return 0;
	if (f->status[0] != '\0' && strcmp(in->spend.status, f->status) != 0)
		return 0;
	return in->created_ms >= f->since_ms;
}

/* Newest first, at most f.limit of them. */
static void
h_spends(struct areq *r)
{
	struct spend_filter f;
	struct intent *in;
	const char *why;
	cJSON *o, *arr;
	int64_t n = 0;

	if (filter_parse(r, &f, &why) == -1) {
		reply_error(r, 400, "invalid_request", why);
		return;
	}
	o = new_obj();
	if ((arr = cJSON_AddArrayToObject(o, "spends")) == NULL)
		fatalx("%s: cJSON", __func__);
	TAILQ_FOREACH_REVERSE(in, &r->a->b->intents->all, intent_list, age) {
		if (!filter_match(&f, in))
			continue;
		cJSON_AddItemToArray(arr, spend_json(in));
		if (++n == f.limit)
			break;
	}
	put_num(o, "count", (double)n);
	reply_json(r, 200, o);
}

/*
 * Journaled actions.
 */

static void action_durable(int ok, uint64_t seq, void *arg);

/* Journals act's record; the callback applies it.  Frees act on error. */
static void
action_start(struct admin_action *act, struct intent *in)
{
	struct broker *b = act->r.a->b;
	cJSON *f;

	f = ops_record(act->action, act->r.uid, act->principal[0] != '\0' ?
	    act->principal : NULL, in, act->reason[0] != '\0' ? act->reason :
	    NULL);
	if (b->journal == NULL) {
		cJSON_Delete(f);
		action_durable(1, 0, act);
		return;
	}
	if (journal_append(b->journal, JREC_OPERATOR, f, action_durable,
	    act) == -1) {
		reply_error(&act->r, 503, "journal_unavailable", "the action "
		    "could not be journaled and was not taken");
		free(act);
	}
}

static struct admin_action *
action_new(struct areq *r, const char *action)
{
	struct admin_action *act;

	if ((act = calloc(1, sizeof(*act))) == NULL)
		fatal("%s: calloc", __func__);
	act->r = *r;
	r->body = NULL;		/* now act's */
	snprintf(act->action, sizeof(act->action), "%s", action);
	return act;
}

static void
apply_decision(struct admin_action *act)
{
	struct broker *b = act->r.a->b;
	struct intent *in;
	const char *why;
	int approve = strcmp(act->action, "approve") == 0;

	if ((in = intent_by_key(b->intents, act->key)) == NULL) {
		reply_error(&act->r, 404, "not_found", "the spend is gone");
		return;
	}
	if (hold_decide(b->intents, in, approve ? HOLD_APPROVE : HOLD_DENY,
	    act->reason, now_ms(), &why) == -1) {
		reply_error(&act->r, 409, "not_held", why);
		return;
	}
	log_info("event=hold_decided req=%lu hold_id=%s key=%s decision=%s "
	    "uid=%lu", act->r.id, in->hold_id, in->derived, act->action,
	    (unsigned long)act->r.uid);
	if (approve)
		broker_send_intent(b, in);
	reply_ok(&act->r, act->action);
}

static void
apply_action(struct admin_action *act)
{
	struct broker *b = act->r.a->b;
	const char *a = act->action;
	int changed = 0;

	if (strcmp(a, "approve") == 0 || strcmp(a, "deny") == 0) {
		apply_decision(act);
		return;
	}
	if (strcmp(a, "pause") == 0 || strcmp(a, "resume") == 0)
		changed = ops_set_paused(&b->ops, strcmp(a, "pause") == 0);
	else if (strcmp(a, "revoke") == 0)
		changed = ops_revoke(&b->ops, act->principal);
	else if (strcmp(a, "restore") == 0)
		changed = ops_restore(&b->ops, act->principal);
	log_warnx("event=operator req=%lu action=%s principal=%s uid=%lu "
	    "changed=%s", act->r.id, a, act->principal[0] != '\0' ?
	    act->principal : "-",
	    (unsigned long)act->r.uid, changed ? "yes" : "no");
	reply_ok(&act->r, changed ? a : "unchanged");
}

static void
action_durable(int ok, uint64_t seq, void *arg)
{
	struct admin_action *act = arg;

	if (!ok)
		reply_error(&act->r, 503, "journal_unavailable", "the action "
		    "could not be journaled and was not taken");
	else
		apply_action(act);
	free(act);
}

static void
h_pause(struct areq *r)
{
	action_start(action_new(r, strcmp(r->cmd, "pause") == 0 ? "pause" :
	    "resume"), NULL);
}

static void
h_revoke(struct areq *r)
{
	struct admin_action *act;
	struct principal *pr;
	const char *name, *why;

	if ((name = body_text(r, "principal", BROKER_NAME_MAX + 7,
	    &why)) == NULL) {
		reply_error(r, 400, "invalid_request", why);
		return;
	}
	if ((pr = ops_find_principal(r->a->b->cfg, name)) == NULL) {
		reply_error(r, 404, "unknown_principal", "no principal by that "
		    "id or name in the configuration");
		return;
	}
	act = action_new(r, r->cmd);
	snprintf(act->principal, sizeof(act->principal), "%s", pr->id);
	action_start(act, NULL);
}

static void
h_decide(struct areq *r)
{
	struct admin_action *act;
	struct intent *in;
	const char *id, *reason = NULL, *why;

	if ((id = body_text(r, "id", HOLD_ID_LEN, &why)) == NULL ||
	    spend_check_ref(id) != NULL) {
		reply_error(r, 400, "invalid_request", "id must be a hold_ id");
		return;
	}
	if (cJSON_GetObjectItemCaseSensitive(r->body, "reason") != NULL &&
	    (reason = body_text(r, "reason", ADMIN_REASON_MAX - 32,
	    &why)) == NULL) {
		reply_error(r, 400, "invalid_request", why);
		return;
	}
	if ((in = intent_by_id(r->a->b->intents, id)) == NULL) {
		reply_error(r, 404, "not_found", "no such held spend");
		return;
	}
	if (in->state != INTENT_HELD) {
		reply_error(r, 409, "not_held", "this spend is not held (any "
		    "more)");
		return;
	}
	/* The pause stops all spending, an operator's approvals included. */
	if (strcmp(r->cmd, "approve") == 0 && (r->a->b->ops.paused ||
	    r->a->b->cfg->paused)) {
		reply_error(r, 409, "paused", "spending is paused: resume it "
		    "before approving, or deny");
		return;
	}
	act = action_new(r, r->cmd);
	snprintf(act->key, sizeof(act->key), "%s", in->derived);
	if (reason != NULL)
		snprintf(act->reason, sizeof(act->reason), "%s", reason);
	action_start(act, in);
}

/*
 * Audit, reload, log level.
 */

static void
h_verify(struct areq *r)
{
	struct journal_summary sum;
	struct journal_fault fault;
	cJSON *o = new_obj();

	if (journal_verify(r->a->b->cfg->journal_dir, NULL, NULL, &sum,
	    &fault) == 0) {
		put_bool(o, "intact", 1);
		put_num(o, "records", (double)sum.records);
		put_num(o, "first_seq", (double)sum.first_seq);
		put_num(o, "last_seq", (double)sum.last_seq);
		put_num(o, "segments", (double)sum.segments);
		put_str(o, "last_hash", sum.last_hash);
		reply_json(r, 200, o);
		return;
	}
	put_bool(o, "intact", 0);
	put_str(o, "segment", fault.segment);
	put_num(o, "seq", (double)fault.seq);
	put_num(o, "offset", (double)fault.offset);
	put_str(o, "why", fault.why);
	log_err("event=audit_verify_failed segment=%s seq=%llu why=\"%s\"",
	    fault.segment, (unsigned long long)fault.seq, fault.why);
	reply_json(r, 409, o);
}

static void
h_reload(struct areq *r)
{
	struct config_errors errs;
	cJSON *o, *e, *arr;
	char line[BROKER_PATH_MAX + 320];
	size_t i;

	if (broker_reload_config(r->a->b, &errs) == 0) {
		reply_ok(r, "reloaded");
		return;
	}
	o = error_obj("config_invalid", "the configuration was not "
	    "reloaded; the running one is unchanged", &e);
	if ((arr = cJSON_AddArrayToObject(e, "errors")) == NULL)
		fatalx("%s: cJSON", __func__);
	for (i = 0; i < errs.n; i++) {
		snprintf(line, sizeof(line), "%s:%d: %s", errs.file != NULL ?
		    errs.file : "-", errs.e[i].line, errs.e[i].msg);
		cJSON_AddItemToArray(arr, cJSON_CreateString(line));
	}
	reply_json(r, 422, o);
}

static void
h_log_level(struct areq *r)
{
	const char *name, *why;
	int level;

	if ((name = body_text(r, "level", 16, &why)) == NULL ||
	    (level = log_level_parse(name)) == -1) {
		reply_error(r, 400, "invalid_request", "level must be error, "
		    "warning, notice, info or debug");
		return;
	}
	log_setlevel(level);
	log_warnx("event=log_level req=%lu level=%s uid=%lu", r->id, name,
	    (unsigned long)r->uid);
	reply_ok(r, name);
}

/*
 * Routing.
 */

static const struct route {
	enum evhttp_cmd_type	 method;
	const char		*path;
	const char		*cmd;
	int			 body;		/* takes a JSON body */
	void			(*fn)(struct areq *);
} routes[] = {
	{ EVHTTP_REQ_GET,  "/v1/status", "status", 0, h_status },
	{ EVHTTP_REQ_POST, "/v1/pause", "pause", 0, h_pause },
	{ EVHTTP_REQ_POST, "/v1/resume", "resume", 0, h_pause },
	{ EVHTTP_REQ_POST, "/v1/revoke", "revoke", 1, h_revoke },
	{ EVHTTP_REQ_POST, "/v1/restore", "restore", 1, h_revoke },
	{ EVHTTP_REQ_GET,  "/v1/spends", "spends", 0, h_spends },
	{ EVHTTP_REQ_POST, "/v1/approve", "approve", 1, h_decide },
	{ EVHTTP_REQ_POST, "/v1/deny", "deny", 1, h_decide },
	{ EVHTTP_REQ_POST, "/v1/audit/verify", "audit_verify", 0, h_verify },
	{ EVHTTP_REQ_GET,  "/v1/metrics", "metrics", 0, h_metrics },
	{ EVHTTP_REQ_POST, "/v1/reload", "reload", 0, h_reload },
	{ EVHTTP_REQ_POST, "/v1/log-level", "log_level", 1, h_log_level },
};

static const struct route *
route_find(enum evhttp_cmd_type m, const char *path, int *wrong_method)
{
	size_t i;

	*wrong_method = 0;
	for (i = 0; i < nitems(routes); i++)
		if (strcmp(routes[i].path, path) == 0) {
			if (routes[i].method == m)
				return &routes[i];
			*wrong_method = 1;
		}
	return NULL;
}

/* The JSON body: strict, bounded, an object. */
static int
body_parse(struct areq *r, const char **why)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	const char *p;

	if (len == 0)
		return 0;
	if (len > ADMIN_BODY_MAX) {
		*why = "body too large";
		return -1;
	}
	if ((p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	if ((r->body = json_parse_strict(p, len, 4, why)) == NULL)
		return -1;
	if (!cJSON_IsObject(r->body)) {
		*why = "the body must be a JSON object";
		return -1;
	}
	return 0;
}

static void
dispatch(struct areq *r, const char *path)
{
	const struct route *rt;
	const char *why;
	int wrong;

	if ((rt = route_find(evhttp_request_get_command(r->req), path,
	    &wrong)) == NULL) {
		reply_error(r, wrong ? 405 : 404, wrong ? "method_not_allowed" :
		    "not_found", wrong ? "wrong method for this route" :
		    "no such route; see dinoctl(8)");
		return;
	}
	r->cmd = rt->cmd;
	if (body_parse(r, &why) == -1) {
		reply_error(r, 400, "invalid_request", why);
		return;
	}
	if (rt->body && r->body == NULL) {
		reply_error(r, 400, "invalid_request", "this command needs a "
		    "JSON body");
		return;
	}
	rt->fn(r);
}

/*
 * Connections: the peer check and the per-uid cap.
 */

static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct admin_conn *c = arg;
	struct admin *a = c->a;

	TAILQ_REMOVE(&a->conns, c, entry);
	a->nconns--;
	free(c);
}

static int
peer_of(struct evhttp_request *req, struct ucred *uc)
{
	struct evhttp_connection *evcon;
	struct bufferevent *bev;
	socklen_t len = sizeof(*uc);
	evutil_socket_t fd;

	if ((evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (fd = bufferevent_getfd(bev)) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, uc, &len) == -1 ||
	    len != sizeof(*uc))
		return -1;
	return 0;
}

static struct admin_conn *
conn_find(struct admin *a, struct evhttp_connection *evcon)
{
	struct admin_conn *c;

	TAILQ_FOREACH(c, &a->conns, entry)
		if (c->evcon == evcon)
			return c;
	return NULL;
}

static int
conn_cap(struct admin *a, uid_t uid)
{
	uid_t uids[ADMIN_CONNS_MAX];
	struct admin_conn *c;
	size_t n = 0;

	TAILQ_FOREACH(c, &a->conns, entry)
		if (n < nitems(uids))
			uids[n++] = c->uid;
	return admin_cap_ok(uids, n, uid, ADMIN_CONNS_PER_UID,
	    ADMIN_CONNS_MAX);
}

static void
refuse(struct areq *r, const struct ucred *uc, int status, const char *why)
{
	metrics.admin_refused++;
	log_warnx("event=admin_refused req=%lu uid=%lu pid=%lu reason=\"%s\"",
	    r->id, uc != NULL ? (unsigned long)uc->uid : 0UL,
	    uc != NULL ? (unsigned long)uc->pid : 0UL, why);
	evhttp_add_header(evhttp_request_get_output_headers(r->req),
	    "Connection", "close");
	r->cmd = "refused";
	reply_error(r, status, status == 403 ? "forbidden" : "busy", why);
}

/*
 * Checks the peer of every request: a connection is admitted once (and
 * counted against its uid), but its uid is looked at each time.
 */
static struct admin_conn *
conn_admit(struct areq *r)
{
	struct evhttp_connection *evcon;
	struct admin *a = r->a;
	struct admin_conn *c;
	struct ucred uc;

	if (peer_of(r->req, &uc) == -1) {
		refuse(r, NULL, 403, "no peer credentials");
		return NULL;
	}
	r->uid = uc.uid;
	if (!admin_authorize(a->b->cfg, geteuid(), uc.uid, uc.gid)) {
		refuse(r, &uc, 403, "not root, not the broker's user and not "
		    "in admin_group");
		return NULL;
	}
	evcon = evhttp_request_get_connection(r->req);
	if ((c = conn_find(a, evcon)) != NULL)
		return c;
	if (!conn_cap(a, uc.uid)) {
		refuse(r, &uc, 503, "too many admin connections");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("%s: calloc", __func__);
	c->a = a;
	c->evcon = evcon;
	c->uid = uc.uid;
	c->pid = uc.pid;
	c->id = ++a->next_conn;
	TAILQ_INSERT_TAIL(&a->conns, c, entry);
	a->nconns++;
	evhttp_connection_set_closecb(evcon, conn_closed, c);
	log_info("event=admin_connected conn=%u uid=%lu pid=%lu", c->id,
	    (unsigned long)c->uid, (unsigned long)c->pid);
	return c;
}

static void
admin_request(struct evhttp_request *req, void *arg)
{
	struct admin *a = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	struct admin_conn *c;
	struct areq r;

	memset(&r, 0, sizeof(r));
	r.a = a;
	r.req = req;
	r.cmd = "-";
	r.id = ++a->next_req;
	r.uid = (uid_t)-1;
	r.start = mono_ms();
	r.query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	if (a->metrics_only) {
		r.cmd = "metrics";
		if (path == NULL || strcmp(path, "/metrics") != 0 ||
		    evhttp_request_get_command(req) != EVHTTP_REQ_GET)
			reply_error(&r, 404, "not_found", "only GET /metrics");
		else
			h_metrics(&r);
		return;
	}
	if ((c = conn_admit(&r)) == NULL)
		return;
	r.conn = c->id;
	if (path == NULL) {
		reply_error(&r, 400, "invalid_request", "no path");
		return;
	}
	dispatch(&r, path);
}

/*
 * Listeners.
 */

static int
admin_set_owner(const struct broker_config *cfg, int as_root)
{
	const char *path = cfg->admin_socket;

	if (!as_root)
		return chmod(path, cfg->admin_group[0] != '\0' ? 0660 : 0600);
	/* Root's socket: the broker's user needs no access to the file. */
	if (chown(path, 0, cfg->admin_group[0] != '\0' ? cfg->admin_gid : 0) ==
	    -1 || chmod(path, cfg->admin_group[0] != '\0' ? 0660 : 0600) == -1)
		return -1;
	return 0;
}

int
admin_bind(const struct broker_config *cfg, int as_root, char *err,
    size_t errlen)
{
	char spec[BROKER_PATH_MAX + 8];
	mode_t old;
	int fd;

	if (cfg->admin_socket[0] == '\0')
		return -2;
	snprintf(spec, sizeof(spec), "unix:%s", cfg->admin_socket);
	/* Nobody may connect between bind() and chmod(). */
	old = umask(0077);
	fd = listen_on(spec, ADMIN_BACKLOG, -1, err, errlen);
	umask(old);
	if (fd == -1)
		return -1;
	if (admin_set_owner(cfg, as_root) == -1) {
		snprintf(err, errlen, "admin_socket %s: %s", cfg->admin_socket,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
admin_bind_metrics(const struct broker_config *cfg, char *err, size_t errlen)
{
	return listen_on(cfg->metrics_listen, METRICS_LISTEN_BACKLOG, 0660,
	    err, errlen);
}

struct admin *
admin_new(struct broker *b, int fd, int metrics_only)
{
	struct timeval tv = { ADMIN_TIMEOUT_S, 0 };
	struct admin *a;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		fatal("%s: calloc", __func__);
	a->b = b;
	a->metrics_only = metrics_only;
	TAILQ_INIT(&a->conns);
	if ((a->http = evhttp_new(b->base)) == NULL)
		fatalx("%s: evhttp_new", __func__);
	evhttp_set_max_body_size(a->http, ADMIN_BODY_MAX);
	evhttp_set_max_headers_size(a->http, ADMIN_HEADERS_MAX);
	evhttp_set_timeout_tv(a->http, &tv);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_gencb(a->http, admin_request, a);
	if ((a->lev = evconnlistener_new(b->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd)) == NULL ||
	    evhttp_bind_listener(a->http, a->lev) == NULL)
		fatalx("%s: cannot serve the admin listener", __func__);
	return a;
}

size_t
admin_conns(const struct admin *a)
{
	return a != NULL ? a->nconns : 0;
}

void
admin_free(struct admin *a)
{
	struct admin_conn *c;

	if (a == NULL)
		return;
	/* evhttp_free() runs the close callbacks, which free the conns. */
	evhttp_free(a->http);
	while ((c = TAILQ_FIRST(&a->conns)) != NULL) {
		TAILQ_REMOVE(&a->conns, c, entry);
		free(c);
	}
	free(a);
}
