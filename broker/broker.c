/*
 * The broker's side of the frontend boundary (see broker.h).
 *
 * The frontend is treated as possibly compromised: only its configured uid
 * may connect, it must say HELLO before anything else, every message is
 * decoded by the typed readers of proto.c and then re-validated here, and
 * a message of an unknown or unpermitted type, or one that fails any
 * check, ends that connection with a log line naming the reason.  The
 * broker itself keeps serving and accepts the next frontend.
 */
#define _GNU_SOURCE	/* accept4, struct ucred */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker.h"
#include "creds.h"
#include "dino.h"
#include "intent.h"
#include "ipc.h"
#include "jrec.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "ops.h"
#include "policy.h"
#include "poll.h"
#include "proto.h"
#include "spend.h"
#include "util.h"

enum conn_state {
	CONN_NEW = 1,		/* waiting for HELLO */
	CONN_READY = 2,		/* HELLO answered: tool requests */
};

struct request;
TAILQ_HEAD(request_list, request);

struct fe_conn {
	TAILQ_ENTRY(fe_conn)	 entry;
	struct broker		*b;
	struct ipc_peer		*peer;
	unsigned int		 id;
	uid_t			 uid;
	pid_t			 pid;
	enum conn_state		 state;
	int			 dead;
	struct request_list	 reqs;
};

struct request {
	TAILQ_ENTRY(request)	 conn_entry;
	TAILQ_ENTRY(request)	 intent_entry;	/* on intent->waiters */
	TAILQ_ENTRY(request)	 share_entry;	/* on *share_list */
	struct request_list	*share_list;	/* get_balance: a read_share's */
	struct fe_conn		*conn;
	uint32_t		 reqid;
	const char		*tool;
	uid_t			 uid;
	char			 principal[BROKER_NAME_MAX + 8];
	char			 spend_id[SPEND_ID_MAX + 1];
	int64_t			 start_ms;
	struct event		*deadline;	/* in deadline_mem, or NULL */
	struct intent		*intent;	/* create: the intent it awaits */
	int			 replayed;
	struct dino_call	*call;		/* get_spend, get_balance */
	char			 dino_request_id[48];
	char			 agent[AGENT_LABEL_MAX + 1];
	/*
	 * The deadline's event, allocated with the request: a malloc and
	 * a free less per request.  event_get_struct_event_size() bytes.
	 */
	_Alignas(max_align_t) unsigned char deadline_mem[];
};

static void	conn_close(struct fe_conn *c, const char *why);
static void	request_finish(struct request *r, const char *outcome,
		    uint32_t status);

/*
 * The listener.
 */

static int
listen_prepare_path(const char *path, struct sockaddr_un *sun, char *err,
    size_t errlen)
{
	const char *why;
	struct stat st;

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		snprintf(err, errlen, "ipc_socket %s: path too long", path);
		return -1;
	}
	strcpy(sun->sun_path, path);
	if ((why = unix_dir_unsafe(path)) != NULL) {
		snprintf(err, errlen, "ipc_socket: %s", why);
		return -1;
	}
	/* Only a stale socket may be replaced, never a regular file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "ipc_socket %s exists and is "
			    "not a socket", path);
			return -1;
		}
		if (unlink(path) == -1) {
			snprintf(err, errlen, "ipc_socket %s: unlink: %s",
			    path, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int
listen_set_owner(const struct broker_config *cfg, int as_root, char *err,
    size_t errlen)
{
	gid_t gid;

	if (!as_root)
		return chmod(cfg->ipc_socket, 0600);
	gid = cfg->has_frontend ? cfg->frontend_gid : cfg->user_gid;
	if (chown(cfg->ipc_socket, cfg->user_uid, gid) == -1 ||
	    chmod(cfg->ipc_socket, 0660) == -1)
		return -1;
	return 0;
}

int
broker_listen(const struct broker_config *cfg, int as_root, char *err,
    size_t errlen)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd;

	if (listen_prepare_path(cfg->ipc_socket, &sun, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* Nobody may connect between bind() and chmod(). */
	old = umask(0077);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "ipc_socket %s: bind: %s",
		    cfg->ipc_socket, strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	if (listen_set_owner(cfg, as_root, err, errlen) == -1 ||
	    listen(fd, BROKER_FRONTENDS_MAX) == -1) {
		snprintf(err, errlen, "ipc_socket %s: %s", cfg->ipc_socket,
		    strerror(errno));
		close(fd);
		(void)unlink(cfg->ipc_socket);
		return -1;
	}
	return fd;
}

/*
 * Answers.  Each request gets exactly one, then request_finish() logs the
 * line for it and frees it.
 */

/*
 * The buffer every answer is built in: ipc_peer_send() has sent or copied
 * it by the time it returns, and an 8 KiB malloc and free per answer was a
 * measurable share of the broker's time under load.
 */
static struct ipc_buf answer_buf;

/*
 * The last status change pushed, kept while create_done_cb() answers the
 * same change: the waiters' answer is the pushed spend (checked once, when
 * it was pushed) under their own reqid, for an intent with no hold.
 */
static struct ipc_buf push_buf;
static struct {
	const struct intent	*in;	/* create_done_cb()'s, or NULL */
	int			 pushed; /* push_buf holds its Dino view */
} push_reuse;

static void
conn_send(struct fe_conn *c, const struct ipc_buf *buf)
{
	if (c->dead)
		return;
	if (ipc_peer_send(c->peer, buf) == -1)
		conn_close(c, "send queue full or peer closing");
}

static void
answer_error(struct request *r, uint32_t status, const char *code,
    const char *message)
{
	struct msg_error e;
	struct ipc_buf *buf = &answer_buf;

	memset(&e, 0, sizeof(e));
	e.http_status = status;
	COPY_TEXT(e.code, code);
	COPY_TEXT(e.message, message);
	if (msg_error_enc(buf, r->reqid, &e) == -1)
		fatalx("%s: cannot encode error %s", __func__, code);
	conn_send(r->conn, buf);
	request_finish(r, code, status);
}

static void
answer_msg_error(struct request *r, const struct msg_error *e)
{
	answer_error(r, e->http_status, e->code, e->message);
}

/* answer_buf holds the spend with this id and status: send it. */
static void
answer_spend_built(struct request *r, const char *id, const char *status)
{
	conn_send(r->conn, &answer_buf);
	COPY_TEXT(r->spend_id, id);
	request_finish(r, status, strcmp(status, "submitting") == 0 ?
	    202 : 200);
}

/*
 * The answer to a create whose change was just pushed: the pushed spend,
 * under the request's reqid.  0, or -1 when it does not apply.
 */
static int
answer_pushed(struct request *r, const struct intent *in, const char *asked,
    int replayed)
{
	if (!push_reuse.pushed || push_reuse.in != in || asked != NULL ||
	    in->hold_id[0] != '\0' || msg_spend_reenc(&answer_buf, &push_buf,
	    MSG_SPEND, r->reqid, replayed ? 1 : 0) == -1)
		return -1;
	answer_spend_built(r, in->spend.id, in->spend.status);
	return 0;
}

/*
 * The spend as the agent asked for it: by its hold_ id, or Dino's.  Built
 * in place, since a spend is 3 KiB to clear and copy again.
 */
static void
answer_view(struct request *r, const struct intent *in, const char *asked,
    int replayed)
{
	struct msg_spend sp;

	if (answer_pushed(r, in, asked, replayed) == 0)
		return;
	hold_view(in, asked, &sp.spend);
	sp.replayed = replayed ? 1 : 0;
	sp.timed_out = 0;
	if (msg_spend_enc(&answer_buf, MSG_SPEND, r->reqid, &sp) == -1) {
		answer_error(r, 502, "upstream_error", "Dino's answer could "
		    "not be relayed");
		return;
	}
	answer_spend_built(r, sp.spend.id, sp.spend.status);
}

static void
answer_balance(struct request *r, const struct msg_balance *bal)
{
	struct ipc_buf *buf = &answer_buf;

	if (msg_balance_enc(buf, r->reqid, bal) == -1) {
		answer_error(r, 502, "upstream_error", "Dino's balance could "
		    "not be relayed");
		return;
	}
	conn_send(r->conn, buf);
	request_finish(r, "ok", 200);
}

/*
 * Requests.
 */

static struct request *
request_new(struct fe_conn *c, uint32_t reqid, const char *tool, uid_t uid)
{
	struct request *r;

	if ((r = calloc(1, sizeof(*r) + event_get_struct_event_size())) ==
	    NULL)
		fatal("%s: calloc", __func__);
	r->conn = c;
	r->reqid = reqid;
	r->tool = tool;
	r->uid = uid;
	strcpy(r->principal, "-");
	r->start_ms = mono_ms();
	TAILQ_INSERT_TAIL(&c->reqs, r, conn_entry);
	c->b->inflight++;
	return r;
}

/* Detaches a request from everything that could still reach it. */
static void
request_free(struct request *r)
{
	if (r->deadline != NULL)
		event_del(r->deadline);
	if (r->intent != NULL)
		TAILQ_REMOVE(&r->intent->waiters, r, intent_entry);
	if (r->call != NULL)
		dino_cancel(r->call);
	if (r->share_list != NULL)
		TAILQ_REMOVE(r->share_list, r, share_entry);
	TAILQ_REMOVE(&r->conn->reqs, r, conn_entry);
	r->conn->b->inflight--;
	free(r);
}

static void
request_finish(struct request *r, const char *outcome, uint32_t status)
{
	char agent[AGENT_LABEL_MAX + 1];

	log_info("event=request conn=%u req=%u uid=%lu principal=%s agent=%s "
	    "tool=%s outcome=%s status=%u spend_id=%s dino_request_id=%s "
	    "duration_ms=%lld", r->conn->id, r->reqid, (unsigned long)r->uid,
	    r->principal, r->agent[0] != '\0' ?
	    log_safe(agent, sizeof(agent), r->agent) : "-", r->tool, outcome,
	    status,
	    r->spend_id[0] != '\0' ? r->spend_id : "-",
	    r->dino_request_id[0] != '\0' ? r->dino_request_id : "-",
	    (long long)(mono_ms() - r->start_ms));
	metrics_request(&metrics, r->tool, outcome);
	request_free(r);
}

static int
request_has_reqid(const struct fe_conn *c, uint32_t reqid)
{
	const struct request *r;

	TAILQ_FOREACH(r, &c->reqs, conn_entry)
		if (r->reqid == reqid)
			return 1;
	return 0;
}

static void
request_deadline(struct request *r, int64_t ms, event_callback_fn fn)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	r->deadline = (struct event *)r->deadline_mem;
	if (evtimer_assign(r->deadline, r->conn->b->base, fn, r) == -1 ||
	    evtimer_add(r->deadline, &tv) == -1)
		fatalx("%s: evtimer", __func__);
}

/* Identifies the caller; answers 403 for an unknown one. */
static struct principal *
request_principal(struct request *r, const struct msg_caller *caller)
{
	struct principal *pr;

	pr = policy_principal_for(r->conn->b->cfg, caller->uid, caller->gid);
	if (pr == NULL) {
		answer_error(r, 403, "unknown_principal", "this uid is not a "
		    "principal of the broker");
		return NULL;
	}
	COPY_TEXT(r->principal, pr->id);
	return pr;
}

/*
 * create_spend.
 */

/* The agent deadline passed: the outcome is not known yet. */
static void
create_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = arg;

	answer_view(r, r->intent, NULL, r->replayed);
}

static void
intent_wait(struct request *r, struct intent *in)
{
	r->intent = in;
	TAILQ_INSERT_TAIL(&in->waiters, r, intent_entry);
	request_deadline(r, BROKER_AGENT_DEADLINE_MS, create_deadline_cb);
}

/* Answers one request from what the intent knows now. */
static void
intent_answer(struct request *r, struct intent *in)
{
	if (in->state == INTENT_REFUSED)
		answer_msg_error(r, in->refusal);
	else
		answer_view(r, in, NULL, r->replayed);
}

static void
intent_answer_all(struct intent *in, const struct dino_result *res)
{
	struct request *r;

	while ((r = TAILQ_FIRST(&in->waiters)) != NULL) {
		if (res != NULL)
			COPY_TEXT(r->dino_request_id, res->request_id);
		intent_answer(r, in);
	}
}

static void
create_retry_cb(const struct dino_result *res, void *arg)
{
	struct intent *in = arg;

	log_info("event=dino_retry key=%s http_status=%ld attempts=%d "
	    "dino_request_id=%s", in->derived, res->http_status,
	    res->attempts, res->request_id);
}

/* Dino's answer is journaled; the answers to agents need not wait for it. */
static void
journal_outcome(struct intent *in, const struct dino_result *res)
{
	struct broker *b = in->table->owner;

	if (b->journal != NULL)
		jrec_append_outcome(b->journal, in, res);
}

static void
create_done_cb(const struct dino_result *res, void *arg)
{
	struct intent *in = arg;

	in->call = NULL;
	in->call_done = 1;
	if (res->outcome == DINO_OK) {
		push_reuse.in = in;
		push_reuse.pushed = 0;
		intent_set_spend(in->table, in, &res->spend);
	} else if (res->outcome == DINO_REFUSED)
		intent_set_refused(in, &res->err);
	else {
		/*
		 * Not in the client's contract for a create: the outcome is
		 * unknown, so the spend stays "submitting", never declined.
		 */
		log_err("event=dino_create_failed key=%s dino_request_id=%s",
		    in->derived, res->request_id);
		return;
	}
	journal_outcome(in, res);
	log_info("event=dino_create key=%s outcome=%s http_status=%ld "
	    "attempts=%d spend_id=%s dino_request_id=%s", in->derived,
	    in->state == INTENT_REFUSED ? in->refusal->code : in->spend.status,
	    res->http_status, res->attempts,
	    in->spend.id[0] != '\0' ? in->spend.id : "-", res->request_id);
	intent_answer_all(in, res);
	push_reuse.in = NULL;
	push_reuse.pushed = 0;
}

/* Refuses every request waiting on an intent that was never sent. */
static void
intent_refuse_all(struct intent *in, const char *code, const char *message)
{
	struct request *r;

	while ((r = TAILQ_FIRST(&in->waiters)) != NULL)
		answer_error(r, 503, code, message);
}

/* The canonical request again, from the intent alone (resume, send). */
static void
intent_request(const struct intent *in, struct msg_create_spend *req)
{
	memset(req, 0, sizeof(*req));
	req->caller.uid = (uint32_t)in->owner_uid;
	COPY_TEXT(req->caller.agent, in->agent);
	req->amount_cents = in->amount_cents;
	COPY_TEXT(req->currency, in->currency);
	COPY_TEXT(req->merchant_name, in->merchant_name);
	COPY_TEXT(req->reason, in->reason);
}

/*
 * Sends a durable intent to Dino with its derived key.  If the call cannot
 * even start, the intent is settled as refused, in the journal too, so
 * that no restart sends what the agent was told was not made.
 */
static void
create_send(struct broker *b, struct intent *in)
{
	struct msg_create_spend req;
	struct dino_result res;
	struct dino_key key;

	intent_request(in, &req);
	creds_dino_key(in->account, &key);
	in->call = dino_create_spend(b->dino, &key, in->derived, &req,
	    create_done_cb, create_retry_cb, in);
	if (in->call != NULL)
		return;
	memset(&res, 0, sizeof(res));
	res.outcome = DINO_REFUSED;
	res.err.http_status = 503;
	snprintf(res.err.code, sizeof(res.err.code), "dino_unavailable");
	snprintf(res.err.message, sizeof(res.err.message), "the spend could "
	    "not be sent to Dino and was not made");
	in->call_done = 1;
	intent_set_refused(in, &res.err);
	journal_outcome(in, &res);
	intent_answer_all(in, &res);
}

/*
 * The intent is on disk (or could not be written).  Only now may its
 * first byte go to Dino; a failed write refuses the spend, unsent.
 */
static void
create_durable_cb(int ok, uint64_t seq, void *arg)
{
	struct intent *in = arg;
	struct broker *b = in->table->owner;

	if (!ok) {
		intent_refuse_all(in, "journal_unavailable", "the spend could "
		    "not be recorded durably and was not sent; retry later");
		intent_remove(b->intents, in);
		return;
	}
	in->jseq = seq;
	metrics_observe(&metrics, HIST_JOURNAL_COMMIT, now_ms() -
	    in->created_ms);
	if (in->state == INTENT_HELD) {
		log_info("event=spend_held hold_id=%s key=%s principal=%s "
		    "amount_cents=%lld", in->hold_id, in->derived,
		    in->principal->id, (long long)in->amount_cents);
		intent_answer_all(in, NULL);
		return;
	}
	create_send(b, in);
}

void
broker_send_intent(struct broker *b, struct intent *in)
{
	create_send(b, in);
}

/*
 * A new intent: counted against the principal, recorded durably, then
 * sent.  Nothing reaches Dino unless the record succeeded; the request
 * waits on the intent meanwhile, like a replay of it would.
 */
static void
create_new(struct request *r, struct principal *pr,
    const struct msg_create_spend *req, const char *agent_key,
    const char *derived)
{
	struct broker *b = r->conn->b;
	struct msg_error err;
	struct intent *in;
	int64_t now = now_ms();
	char hold_id[HOLD_ID_LEN + 1];

	if (ops_check_create(&b->ops, b->cfg, pr, &err) == -1 ||
	    policy_check_spend(b->cfg, pr, req, now, &err) == -1) {
		answer_msg_error(r, &err);
		return;
	}
	if ((in = intent_add(b->intents, derived, agent_key, req->caller.uid,
	    pr, req, now)) == NULL) {
		answer_error(r, 503, "busy", "too many spends in progress");
		return;
	}
	policy_charge_add(pr, &in->charge, req->amount_cents, now);
	/* Held before it is journaled: the record carries the hold. */
	if (hold_wanted(pr, req->amount_cents)) {
		hold_make_id(hold_id, now);
		hold_begin(in, hold_id);
	}
	intent_wait(r, in);
	if (intent_record_durable(b->journal, in, create_durable_cb, in) ==
	    -1) {
		intent_refuse_all(in, "journal_unavailable", "the spend could "
		    "not be recorded and was not sent; retry later");
		intent_remove(b->intents, in);
	}
}

void
broker_resume(struct broker *b)
{
	struct intent *in;
	size_t n = 0;

	TAILQ_FOREACH(in, &b->intents->all, age)
		if (in->state == INTENT_SUBMITTING && in->call == NULL &&
		    !in->call_done) {
			log_info("event=intent_resumed key=%s seq=%llu",
			    in->derived, (unsigned long long)in->jseq);
			create_send(b, in);
			n++;
		}
	if (n > 0)
		log_info("event=intents_resumed count=%zu", n);
}

static int
handle_create_spend(struct fe_conn *c, struct ipc_msg *m)
{
	struct msg_create_spend req;
	char agent_key[IDEMPOTENCY_KEY_MAX + 1], caller[32];
	char derived[BROKER_IDEM_KEY_LEN + 1];
	struct principal *pr;
	struct intent *in;
	struct request *r;

	if (msg_create_spend_dec(m, &req) == -1 || ipc_end(m) == -1 ||
	    spend_check_request(&req) != NULL)
		return -1;
	r = request_new(c, m->hdr.reqid, "create_spend", req.caller.uid);
	COPY_TEXT(r->agent, req.caller.agent);
	if ((pr = request_principal(r, &req.caller)) == NULL)
		return 0;
	if (req.idempotency_key[0] != '\0')
		COPY_TEXT(agent_key, req.idempotency_key);
	else
		intent_auto_key(agent_key, sizeof(agent_key));
	intent_caller_id(req.caller.uid, caller, sizeof(caller));
	intent_derive_key(c->b->cfg->instance_id, caller, agent_key, derived);
	switch (intent_match(c->b->intents, derived, &req, &in)) {
	case INTENT_MATCH_CONFLICT:
		answer_error(r, 409, "idempotency_key_conflict", "this "
		    "idempotency_key was used for a different request");
		break;
	case INTENT_MATCH_REPLAY:
		r->replayed = 1;
		/* A hold is news only once its record is durable. */
		if (in->state == INTENT_SUBMITTING ||
		    (in->state == INTENT_HELD && in->jseq == 0 &&
		    c->b->journal != NULL))
			intent_wait(r, in);
		else
			intent_answer(r, in);
		break;
	case INTENT_MATCH_NONE:
		create_new(r, pr, &req, agent_key, derived);
		break;
	}
	return 0;
}

/*
 * get_spend and get_balance.
 */

static void
read_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct request *r = arg;

	answer_error(r, 504, "upstream_timeout", "Dino did not answer in "
	    "time; retry later");
}

/* A read failed: Dino's refusal as is, anything else as a 502. */
static void
answer_read_failure(struct request *r, const struct dino_result *res)
{
	if (res->outcome == DINO_REFUSED)
		answer_msg_error(r, &res->err);
	else
		answer_error(r, 502, "upstream_error", "Dino could not be "
		    "reached; retry later");
}

static void
get_spend_cb(const struct dino_result *res, void *arg)
{
	struct request *r = arg;
	struct intent *in;

	r->call = NULL;
	COPY_TEXT(r->dino_request_id, res->request_id);
	if (res->outcome != DINO_OK) {
		answer_read_failure(r, res);
		return;
	}
	/* Look it up again: the table may have changed meanwhile. */
	if ((in = intent_owned(r->conn->b->intents, r->spend_id,
	    r->uid)) == NULL) {
		answer_error(r, 404, "not_found", "no such spend");
		return;
	}
	if (strcmp(res->spend.id, in->spend.id) != 0)
		log_warnx("event=dino_wrong_spend req=%u asked=%s got=%s",
		    r->reqid, in->spend.id, res->spend.id);
	else
		intent_set_spend(r->conn->b->intents, in, &res->spend);
	answer_view(r, in, r->spend_id, 0);
}

static int
handle_get_spend(struct fe_conn *c, struct ipc_msg *m)
{
	struct msg_get_spend g;
	struct dino_key key;
	struct request *r;
	struct intent *in;

	if (msg_get_spend_dec(m, &g) == -1 || ipc_end(m) == -1 ||
	    spend_check_caller(&g.caller) != NULL ||
	    spend_check_ref(g.id) != NULL)
		return -1;
	r = request_new(c, m->hdr.reqid, "get_spend", g.caller.uid);
	COPY_TEXT(r->agent, g.caller.agent);
	if (request_principal(r, &g.caller) == NULL)
		return 0;
	/* Ownership is settled locally, before Dino hears of the id. */
	if ((in = intent_owned(c->b->intents, g.id, g.caller.uid)) == NULL) {
		answer_error(r, 404, "not_found", "no such spend");
		return 0;
	}
	COPY_TEXT(r->spend_id, g.id);
	/* Held, or not named by Dino yet: only the broker knows it. */
	if (spend_check_id(in->spend.id) != NULL) {
		answer_view(r, in, g.id, 0);
		return 0;
	}
	creds_dino_key(in->account, &key);
	request_deadline(r, BROKER_READ_DEADLINE_MS, read_deadline_cb);
	if ((r->call = dino_get_spend(c->b->dino, &key, in->spend.id,
	    get_spend_cb, r)) == NULL)
		answer_view(r, in, g.id, 0);
	return 0;
}

/*
 * get_balance: shared reads.  An agent's get_balance is answered by a
 * GET /v1/balance that left the broker after the agent's request arrived,
 * never by one already in flight, so the answer is as fresh as a call of
 * its own.  The requests for one account that arrive while a read is in
 * flight are queued for the next read, started when that one completes:
 * under load one read answers everyone who arrived during the last, and
 * Dino sees one read per round trip per account, not one per agent call.
 */
struct read_share {
	LIST_ENTRY(read_share)	 entry;
	struct broker		*b;
	char			 account[BROKER_NAME_MAX + 1];
	struct dino_call	*call;		/* in flight, or NULL */
	struct request_list	 riding;	/* answered by call */
	struct request_list	 queued;	/* arrived since: the next read */
};

static void	share_start(struct read_share *);

static struct read_share *
share_get(struct broker *b, const char *account)
{
	struct read_share *s;

	LIST_FOREACH(s, &b->shares, entry)
		if (strcmp(s->account, account) == 0)
			return s;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("%s: calloc", __func__);
	s->b = b;
	COPY_TEXT(s->account, account);
	TAILQ_INIT(&s->riding);
	TAILQ_INIT(&s->queued);
	LIST_INSERT_HEAD(&b->shares, s, entry);
	return s;
}

static void
share_free(struct read_share *s)
{
	if (s->call != NULL)
		dino_cancel(s->call);
	LIST_REMOVE(s, entry);
	free(s);
}

/* Answers every rider with res, or with a 503 when res is NULL. */
static void
share_answer(struct read_share *s, const struct dino_result *res)
{
	struct request *r;

	while ((r = TAILQ_FIRST(&s->riding)) != NULL) {
		TAILQ_REMOVE(&s->riding, r, share_entry);
		r->share_list = NULL;
		if (res == NULL) {
			answer_error(r, 503, "dino_unavailable", "Dino could "
			    "not be asked; retry later");
			continue;
		}
		COPY_TEXT(r->dino_request_id, res->request_id);
		if (res->outcome != DINO_OK)
			answer_read_failure(r, res);
		else
			answer_balance(r, &res->balance);
	}
}

static void
share_done(const struct dino_result *res, void *arg)
{
	struct read_share *s = arg;

	s->call = NULL;
	share_answer(s, res);
	if (TAILQ_EMPTY(&s->queued))
		share_free(s);
	else
		share_start(s);
}

/* The queued requests ride a new read (or are answered 503 at once). */
static void
share_start(struct read_share *s)
{
	struct account *a;
	struct dino_key key;
	struct request *r;

	while ((r = TAILQ_FIRST(&s->queued)) != NULL) {
		TAILQ_REMOVE(&s->queued, r, share_entry);
		TAILQ_INSERT_TAIL(&s->riding, r, share_entry);
		r->share_list = &s->riding;
	}
	/* By name: a reload may have replaced (or removed) the account. */
	if ((a = config_find_account(s->b->cfg, s->account)) != NULL) {
		creds_dino_key(a, &key);
		s->call = dino_get_balance(s->b->dino, &key, share_done, s);
	}
	if (s->call == NULL) {
		share_answer(s, NULL);
		share_free(s);
	}
}

static int
handle_get_balance(struct fe_conn *c, struct ipc_msg *m)
{
	struct msg_get_balance g;
	struct principal *pr;
	struct read_share *s;
	struct request *r;

	if (msg_get_balance_dec(m, &g) == -1 || ipc_end(m) == -1 ||
	    spend_check_caller(&g.caller) != NULL)
		return -1;
	r = request_new(c, m->hdr.reqid, "get_balance", g.caller.uid);
	COPY_TEXT(r->agent, g.caller.agent);
	if ((pr = request_principal(r, &g.caller)) == NULL)
		return 0;
	request_deadline(r, BROKER_READ_DEADLINE_MS, read_deadline_cb);
	s = share_get(c->b, pr->account->name);
	TAILQ_INSERT_TAIL(&s->queued, r, share_entry);
	r->share_list = &s->queued;
	if (s->call == NULL)
		share_start(s);
	return 0;
}

/*
 * wait_spend: ownership is settled here, and the answer is the spend as
 * it stands.  The frontend holds the agent's request if it is pending and
 * wakes it on the MSG_SPEND_UPDATE pushed when the status changes; the
 * channel is ordered, so no change can slip between this answer and the
 * frontend starting to wait.  A frontend only ever holds waiters this
 * answer admitted, so a push wakes no one whose ownership was not
 * checked here.
 */
static int
handle_wait_spend(struct fe_conn *c, struct ipc_msg *m)
{
	struct msg_wait_spend w;
	struct request *r;
	struct intent *in;

	if (msg_wait_spend_dec(m, &w) == -1 || ipc_end(m) == -1 ||
	    spend_check_caller(&w.caller) != NULL ||
	    spend_check_ref(w.id) != NULL || w.timeout_s > BROKER_FE_MAX_WAIT_S)
		return -1;
	r = request_new(c, m->hdr.reqid, "wait_spend", w.caller.uid);
	COPY_TEXT(r->agent, w.caller.agent);
	if (request_principal(r, &w.caller) == NULL)
		return 0;
	if ((in = intent_owned(c->b->intents, w.id, w.caller.uid)) == NULL) {
		answer_error(r, 404, "not_found", "no such spend");
		return 0;
	}
	/* A pending spend someone waits on is polled, webhook or not. */
	if (!spend_status_terminal(in->spend.status))
		poll_watch(c->b->poller, in, 0);
	answer_view(r, in, w.id, 0);
	return 0;
}

/*
 * Status changes.  The push carries the whole spend, once, whatever the
 * number of agents waiting on it.
 */
static int
push_spend(struct broker *b, const struct msg_spend *sp)
{
	struct fe_conn *c;

	push_reuse.pushed = 0;
	if (msg_spend_enc(&push_buf, MSG_SPEND_UPDATE, 0, sp) == -1) {
		log_warnx("event=push_failed id=%s reason=\"does not encode\"",
		    sp->spend.id);
		return -1;
	}
	TAILQ_FOREACH(c, &b->conns, entry)
		if (c->state == CONN_READY && !c->dead)
			conn_send(c, &push_buf);
	return 0;
}

void
broker_spend_changed(struct intent *in, void *arg)
{
	struct broker *b = arg;
	struct msg_spend sp;

	sp.replayed = sp.timed_out = 0;
	/* Agents who wait on a held spend know it by its hold_ id only. */
	if (in->hold_id[0] != '\0') {
		hold_view(in, in->hold_id, &sp.spend);
		push_spend(b, &sp);
	}
	if (spend_check_id(in->spend.id) != NULL)
		return;
	intent_spend_get(in, &sp.spend);
	if (push_spend(b, &sp) == 0 && in == push_reuse.in)
		push_reuse.pushed = 1;
	if (spend_status_terminal(in->spend.status))
		poll_forget(b->poller, in->spend.id);
	else if (strcmp(in->spend.status, "needs_approval") == 0)
		poll_watch(b->poller, in, 0);
}

static int
handle_hello(struct fe_conn *c, struct ipc_msg *m)
{
	struct msg_hello h;
	struct msg_config cf;
	struct ipc_buf *buf = &answer_buf;

	if (msg_hello_dec(m, &h) == -1 || ipc_end(m) == -1)
		return -1;
	memset(&cf, 0, sizeof(cf));
	cf.max_conns_per_uid = (uint32_t)c->b->cfg->agent_conns_per_uid;
	cf.idle_timeout_s = BROKER_FE_IDLE_S;
	cf.max_wait_s = BROKER_FE_MAX_WAIT_S;
	if (msg_config_enc(buf, m->hdr.reqid, &cf) == -1)
		fatalx("%s: cannot encode MSG_CONFIG", __func__);
	conn_send(c, buf);
	c->state = CONN_READY;
	log_info("event=frontend_hello conn=%u frontend_pid=%lu", c->id,
	    (unsigned long)h.pid);
	return 0;
}

/*
 * The dispatcher.
 */

static const struct fe_dispatch {
	uint32_t	 type;
	int		 states;	/* where it is permitted */
	int		 tool;		/* counts against IPC_INFLIGHT_MAX */
	int		(*handler)(struct fe_conn *, struct ipc_msg *);
} fe_dispatch[] = {
	{ MSG_HELLO,		CONN_NEW,   0, handle_hello },
	{ MSG_CREATE_SPEND,	CONN_READY, 1, handle_create_spend },
	{ MSG_GET_BALANCE,	CONN_READY, 1, handle_get_balance },
	{ MSG_GET_SPEND,	CONN_READY, 1, handle_get_spend },
	{ MSG_WAIT_SPEND,	CONN_READY, 1, handle_wait_spend },
};

/* A tool request needs a fresh, non-zero reqid and a free slot. */
static const char *
check_tool_request(struct fe_conn *c, uint32_t reqid)
{
	if (reqid == 0)
		return "tool request with reqid 0";
	if (request_has_reqid(c, reqid))
		return "reqid already in flight";
	return NULL;
}

static void
refuse_busy(struct fe_conn *c, uint32_t reqid)
{
	struct request *r;

	r = request_new(c, reqid, "-", (uid_t)-1);
	answer_error(r, 503, "busy", "too many requests in flight");
}

void
broker_dispatch_frontend(struct ipc_peer *peer, struct ipc_msg *m, void *arg)
{
	struct fe_conn *c = arg;
	const struct fe_dispatch *d = NULL;
	const char *why;
	char reason[96];
	size_t i;

	if (c->dead)
		return;
	for (i = 0; i < nitems(fe_dispatch); i++)
		if (fe_dispatch[i].type == m->hdr.type)
			d = &fe_dispatch[i];
	if (d == NULL) {
		snprintf(reason, sizeof(reason), "unknown message type %u",
		    m->hdr.type);
		conn_close(c, reason);
		return;
	}
	if ((d->states & (int)c->state) == 0) {
		snprintf(reason, sizeof(reason), "unpermitted %s in state %s",
		    msg_type_name(m->hdr.type),
		    c->state == CONN_NEW ? "new" : "ready");
		conn_close(c, reason);
		return;
	}
	if (d->tool && (why = check_tool_request(c, m->hdr.reqid)) != NULL) {
		conn_close(c, why);
		return;
	}
	if (d->tool && c->b->inflight >= IPC_INFLIGHT_MAX) {
		refuse_busy(c, m->hdr.reqid);
		return;
	}
	if (d->handler(c, m) == -1) {
		snprintf(reason, sizeof(reason), "malformed %s: %s",
		    msg_type_name(m->hdr.type), m->why != NULL ? m->why :
		    "a field failed re-validation");
		conn_close(c, reason);
	}
}

/*
 * Connections.
 */

static void
conn_free(struct fe_conn *c)
{
	struct request *r;

	while ((r = TAILQ_FIRST(&c->reqs)) != NULL)
		request_free(r);
	ipc_peer_free(c->peer);
	TAILQ_REMOVE(&c->b->conns, c, entry);
	c->b->nconns--;
	free(c);
}

static void
conn_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	conn_free(arg);
}

/*
 * Ends a connection: its pending answers are dropped (a create keeps
 * going in the background and settles its intent).  The memory goes on
 * the next loop turn, since a caller up the stack may still hold it.
 */
static void
conn_close(struct fe_conn *c, const char *why)
{
	static const struct timeval now = { 0, 0 };
	struct request *r;
	size_t pending = 0;

	if (c->dead)
		return;
	c->dead = 1;
	TAILQ_FOREACH(r, &c->reqs, conn_entry)
		pending++;
	log_warnx("event=frontend_closed conn=%u frontend_pid=%lu "
	    "pending=%zu reason=\"%s\"", c->id, (unsigned long)c->pid,
	    pending, why);
	if (event_base_once(c->b->base, -1, EV_TIMEOUT, conn_reap_cb, c,
	    &now) == -1)
		fatalx("%s: event_base_once", __func__);
}

static void
conn_on_close(struct ipc_peer *peer, const char *why, void *arg)
{
	conn_close(arg, why != NULL ? why : "peer hung up");
}

static int
peer_cred(int fd, struct ucred *uc)
{
	socklen_t len = sizeof(*uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, uc, &len) == -1 ||
	    len != sizeof(*uc))
		return -1;
	return 0;
}

static void
conn_new(struct broker *b, int fd, const struct ucred *uc)
{
	struct fe_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		fatal("%s: calloc", __func__);
	c->b = b;
	c->id = ++b->next_conn;
	c->uid = uc->uid;
	c->pid = uc->pid;
	c->state = CONN_NEW;
	TAILQ_INIT(&c->reqs);
	if ((c->peer = ipc_peer_new(b->base, fd, broker_dispatch_frontend,
	    conn_on_close, c)) == NULL) {
		log_err("event=frontend_refused reason=\"ipc_peer_new "
		    "failed\"");
		close(fd);
		free(c);
		return;
	}
	/* The answers of one loop turn go out in one sendmmsg. */
	if (ipc_peer_batch(c->peer) == -1)
		fatal("%s: ipc_peer_batch", __func__);
	TAILQ_INSERT_TAIL(&b->conns, c, entry);
	b->nconns++;
	log_info("event=frontend_connected conn=%u frontend_pid=%lu uid=%lu",
	    c->id, (unsigned long)c->pid, (unsigned long)c->uid);
}

/*
 * Besides the frontend's uid, root is accepted: it could read the keys
 * from disk anyway, and a frontend started as root connects before it
 * drops to its own user (SO_PEERCRED reports the ids of connect time).
 */
static void
accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct broker *b = arg;
	struct ucred uc;
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warnx("event=accept_failed errno=\"%s\"",
			    strerror(errno));
		return;
	}
	if (peer_cred(fd, &uc) == -1) {
		log_warnx("event=frontend_refused reason=\"no peer "
		    "credentials\"");
		close(fd);
	} else if (uc.uid != b->peer_uid && uc.uid != 0) {
		log_warnx("event=frontend_refused uid=%lu pid=%lu "
		    "reason=\"not the frontend's uid\"", (unsigned long)uc.uid,
		    (unsigned long)uc.pid);
		close(fd);
	} else if (b->nconns >= BROKER_FRONTENDS_MAX) {
		log_warnx("event=frontend_refused uid=%lu pid=%lu "
		    "reason=\"too many frontend connections\"",
		    (unsigned long)uc.uid, (unsigned long)uc.pid);
		close(fd);
	} else
		conn_new(b, fd, &uc);
}

void
broker_start(struct broker *b)
{
	TAILQ_INIT(&b->conns);
	LIST_INIT(&b->shares);
	b->intents->owner = b;
	b->intents->on_status = broker_spend_changed;
	b->intents->on_status_arg = b;
	if ((b->ev_accept = event_new(b->base, b->listen_fd,
	    EV_READ | EV_PERSIST, accept_cb, b)) == NULL ||
	    event_add(b->ev_accept, NULL) == -1)
		fatalx("%s: event_new", __func__);
	b->ev_logflush = loop_log_buffer(b->base);
}

void
broker_stop(struct broker *b)
{
	struct fe_conn *c;

	/* From here on one write per line: the loop is about to go. */
	loop_log_unbuffer(b->ev_logflush);
	b->ev_logflush = NULL;
	if (b->ev_accept != NULL) {
		event_free(b->ev_accept);
		b->ev_accept = NULL;
	}
	while ((c = TAILQ_FIRST(&b->conns)) != NULL) {
		c->dead = 1;
		conn_free(c);
	}
	while (!LIST_EMPTY(&b->shares))
		share_free(LIST_FIRST(&b->shares));
}


