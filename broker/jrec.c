/*
 * Journal records about spends, and their replay (see jrec.h).
 *
 * Replay trusts nothing it cannot re-check: every record has already
 * passed the chain, but its fields are still validated as if they came
 * from a peer (lengths, the request validator, Dino's spend parser), so
 * that a journal written by a different version can never smuggle a
 * malformed intent into the table.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "dino.h"
#include "jrec.h"
#include "webhook.h"
#include "json.h"
#include "log.h"
#include "proto.h"
#include "ops.h"
#include "policy.h"
#include "spend.h"
#include "util.h"

/*
 * Records are built as trees on the stack (json.h) and printed by cJSON
 * when they are appended: a create's two records were some 130 cJSON
 * allocations, a fifth of the broker's instructions went to malloc and
 * free, and every integer went through sprintf and sscanf.
 */

static void
put_opt(struct json_stack *st, cJSON *o, const char *name, const char *v)
{
	if (v[0] != '\0')
		json_stack_str(st, o, name, v);
}

/* The spend of in, in Dino's own shape (dino_parse_spend reads it back). */
static void
put_spend(struct json_stack *st, cJSON *parent, const struct intent *in)
{
	const struct intent_spend *s = &in->spend;
	cJSON *o = json_stack_obj(st, parent, "spend");

	json_stack_str(st, o, "id", s->id);
	json_stack_str(st, o, "status", s->status);
	put_opt(st, o, "decision_reason", s->decision_reason);
	put_opt(st, o, "budget_period", s->budget_period);
	if (s->has_remaining) {
		json_stack_int(st, o, "remaining_budget_cents",
		    s->remaining_budget_cents);
		json_stack_int(st, o, "remaining_monthly_budget_cents",
		    s->remaining_monthly_budget_cents);
	}
	json_stack_int(st, o, "amount_cents", s->amount_cents);
	json_stack_str(st, o, "currency", s->currency);
	json_stack_str(st, o, "merchant_name", s->merchant_name);
	json_stack_str(st, o, "reason", s->reason);
	put_opt(st, o, "approval_url", s->approval_url);
	put_opt(st, o, "team_id", s->team_id);
	put_opt(st, o, "agent_account_id", s->agent_account_id);
	put_opt(st, o, "decided_at", s->decided_at);
	put_opt(st, o, "created_at", s->created_at);
	put_opt(st, o, "updated_at", s->updated_at);
}

int
jrec_append_intent(struct journal *j, const struct intent *in, journal_cb cb,
    void *arg)
{
	struct json_stack st;
	char caller[32];
	cJSON *o;

	o = json_stack_init(&st);
	intent_caller_id(in->owner_uid, caller, sizeof(caller));
	json_stack_str(&st, o, "key", in->derived);
	json_stack_str(&st, o, "principal", in->principal->id);
	json_stack_str(&st, o, "caller", caller);
	json_stack_str(&st, o, "account", in->account->name);
	json_stack_str(&st, o, "agent", in->agent);
	json_stack_str(&st, o, "agent_key", in->agent_key);
	json_stack_int(&st, o, "amount_cents", in->amount_cents);
	json_stack_str(&st, o, "currency", in->currency);
	json_stack_str(&st, o, "merchant_name", in->merchant_name);
	json_stack_str(&st, o, "reason", in->reason);
	json_stack_int(&st, o, "created_ms", in->created_ms);
	/* Held for an operator (ops.h): replay keeps it held, unsent. */
	put_opt(&st, o, "hold_id", in->hold_id);
	return journal_append_copy(j, JREC_INTENT, o, cb, arg);
}

void
jrec_append_outcome(struct journal *j, const struct intent *in,
    const struct dino_result *res)
{
	struct json_stack st;
	cJSON *o, *e;

	o = json_stack_init(&st);
	json_stack_str(&st, o, "key", in->derived);
	json_stack_int(&st, o, "http_status", res->http_status);
	json_stack_int(&st, o, "attempts", res->attempts);
	json_stack_str(&st, o, "dino_request_id", res->request_id);
	if (in->state == INTENT_REFUSED) {
		json_stack_str(&st, o, "result", "refused");
		e = json_stack_obj(&st, o, "error");
		json_stack_int(&st, e, "http_status",
		    in->refusal->http_status);
		json_stack_str(&st, e, "code", in->refusal->code);
		json_stack_str(&st, e, "message", in->refusal->message);
	} else {
		json_stack_str(&st, o, "result", "spend");
		put_spend(&st, o, in);
	}
	(void)journal_append_copy(j, JREC_OUTCOME, o, NULL, NULL);
}

void
jrec_append_status(struct journal *j, const struct intent *in,
    const char *from)
{
	struct json_stack st;
	cJSON *o;

	o = json_stack_init(&st);
	json_stack_str(&st, o, "key", in->derived);
	json_stack_str(&st, o, "id", in->spend.id);
	json_stack_str(&st, o, "from", from);
	json_stack_str(&st, o, "to", in->spend.status);
	put_spend(&st, o, in);
	(void)journal_append_copy(j, JREC_STATUS, o, NULL, NULL);
}

/*
 * Replay.
 */

/* A string member that fits in size bytes, or NULL. */
static const char *
get_str(const cJSON *o, const char *name, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
		return NULL;
	return v->valuestring;
}

static int
get_int(const cJSON *o, const char *name, int64_t min, int64_t max,
    int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(v) || v->valuedouble < (double)min ||
	    v->valuedouble > (double)max ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

/* The canonical request of an intent record, checked like a new one. */
static int
intent_request(const cJSON *f, struct msg_create_spend *req, uid_t *uid)
{
	const char *caller, *agent, *cur, *merchant, *reason;
	unsigned long u;
	char end;

	memset(req, 0, sizeof(*req));
	if ((caller = get_str(f, "caller", 32)) == NULL ||
	    sscanf(caller, "uid:%lu%c", &u, &end) != 1 ||
	    (agent = get_str(f, "agent", sizeof(req->caller.agent))) == NULL ||
	    (cur = get_str(f, "currency", sizeof(req->currency))) == NULL ||
	    (merchant = get_str(f, "merchant_name",
	    sizeof(req->merchant_name))) == NULL ||
	    (reason = get_str(f, "reason", sizeof(req->reason))) == NULL ||
	    get_int(f, "amount_cents", AMOUNT_CENTS_MIN, AMOUNT_CENTS_MAX,
	    &req->amount_cents) == -1)
		return -1;
	*uid = (uid_t)u;
	req->caller.uid = (uint32_t)u;
	snprintf(req->caller.agent, sizeof(req->caller.agent), "%s", agent);
	snprintf(req->currency, sizeof(req->currency), "%s", cur);
	snprintf(req->merchant_name, sizeof(req->merchant_name), "%s",
	    merchant);
	snprintf(req->reason, sizeof(req->reason), "%s", reason);
	return spend_check_request(req) == NULL ? 0 : -1;
}

static int
replay_intent(struct replay *rp, const struct journal_rec *rec)
{
	const cJSON *f = rec->fields;
	const char *key, *akey, *pid, *aname, *hold;
	struct msg_create_spend req;
	struct principal *pr;
	struct account *acct;
	struct intent *in;
	int64_t created;
	uid_t uid;

	if ((key = get_str(f, "key", BROKER_IDEM_KEY_LEN + 1)) == NULL ||
	    (akey = get_str(f, "agent_key", IDEMPOTENCY_KEY_MAX + 1)) == NULL ||
	    (pid = get_str(f, "principal", BROKER_NAME_MAX + 8)) == NULL ||
	    (aname = get_str(f, "account", BROKER_NAME_MAX + 1)) == NULL ||
	    get_int(f, "created_ms", 0, INT64_MAX / 2, &created) == -1 ||
	    intent_request(f, &req, &uid) == -1) {
		log_err("event=replay_bad_record seq=%llu type=intent",
		    (unsigned long long)rec->seq);
		return -1;
	}
	if ((pr = config_principal_by_id(rp->cfg, pid)) == NULL ||
	    (acct = config_find_account(rp->cfg, aname)) == NULL) {
		/* Its key is gone: it cannot be finished, only reported. */
		log_err("event=replay_orphan seq=%llu key=%s principal=%s "
		    "account=%s", (unsigned long long)rec->seq, key, pid,
		    aname);
		rp->orphans++;
		return 0;
	}
	if (intent_by_key(rp->intents, key) != NULL)
		return 0;
	if ((in = intent_add(rp->intents, key, akey, uid, pr, &req,
	    created)) == NULL) {
		log_err("event=replay_table_full seq=%llu",
		    (unsigned long long)rec->seq);
		return -1;
	}
	in->account = acct;
	in->jseq = rec->seq;
	policy_charge_add(pr, &in->charge, req.amount_cents, created);
	if ((hold = get_str(f, "hold_id", HOLD_ID_LEN + 1)) != NULL) {
		if (spend_check_ref(hold) != NULL || strncmp(hold,
		    HOLD_ID_PREFIX, strlen(HOLD_ID_PREFIX)) != 0) {
			log_err("event=replay_bad_record seq=%llu type=intent "
			    "field=hold_id", (unsigned long long)rec->seq);
			return -1;
		}
		hold_begin(in, hold);
	}
	rp->intents_added++;
	return 0;
}

static int
replay_spend(struct replay *rp, struct intent *in, const cJSON *spend)
{
	struct spend_obj s;
	const char *why;
	char *body;
	int r;

	if ((body = cJSON_PrintUnformatted(spend)) == NULL)
		return -1;
	memset(&s, 0, sizeof(s));
	r = dino_parse_spend(body, strlen(body), &s, &why);
	free(body);
	if (r == -1)
		return -1;
	intent_set_spend(rp->intents, in, &s);
	return 0;
}

static int
replay_refusal(struct intent *in, const cJSON *e)
{
	static struct ipc_buf scratch;
	struct msg_error err;
	const char *code, *msg;
	int64_t st;

	memset(&err, 0, sizeof(err));
	if (get_int(e, "http_status", 400, 599, &st) == -1 ||
	    (code = get_str(e, "code", sizeof(err.code))) == NULL ||
	    (msg = get_str(e, "message", sizeof(err.message))) == NULL)
		return -1;
	err.http_status = (uint32_t)st;
	snprintf(err.code, sizeof(err.code), "%s", code);
	snprintf(err.message, sizeof(err.message), "%s", msg);
	/*
	 * A refusal is replayed only if it could be relayed: one the boundary
	 * refuses (a journal older than the parser's checks) would otherwise
	 * end the broker at every start.
	 */
	if (msg_error_enc(&scratch, 0, &err) == -1)
		return -1;
	intent_set_refused(in, &err);
	return 0;
}

/* An outcome or a status change: the intent moves forward only. */
static int
replay_answer(struct replay *rp, const struct journal_rec *rec)
{
	const cJSON *f = rec->fields, *spend, *err;
	const char *key;
	struct intent *in;
	int r = -1;

	if ((key = get_str(f, "key", BROKER_IDEM_KEY_LEN + 1)) == NULL)
		return -1;
	/* Its intent was an orphan, or evicted as finished long ago. */
	if ((in = intent_by_key(rp->intents, key)) == NULL)
		return 0;
	spend = cJSON_GetObjectItemCaseSensitive(f, "spend");
	err = cJSON_GetObjectItemCaseSensitive(f, "error");
	if (cJSON_IsObject(spend))
		r = replay_spend(rp, in, spend);
	else if (cJSON_IsObject(err))
		r = replay_refusal(in, err);
	if (r == -1)
		log_err("event=replay_bad_record seq=%llu type=%s",
		    (unsigned long long)rec->seq, rec->type);
	else
		rp->outcomes++;
	return r;
}

int
replay_record(const struct journal_rec *rec, void *arg)
{
	struct replay *rp = arg;

	rp->records++;
	if (strcmp(rec->type, JREC_INTENT) == 0)
		return replay_intent(rp, rec);
	if (strcmp(rec->type, JREC_OUTCOME) == 0 ||
	    strcmp(rec->type, JREC_STATUS) == 0)
		return replay_answer(rp, rec);
	/* A webhook event seen before a restart is still a duplicate. */
	if (strcmp(rec->type, JREC_WEBHOOK) == 0 && rp->webhook != NULL)
		webhook_replay(rp->webhook, rec->fields);
	/* Pause, revocations and decisions on held spends (ops.h). */
	if (strcmp(rec->type, JREC_OPERATOR) == 0 && rp->ops != NULL &&
	    ops_replay(rp->ops, rp->intents, rec->fields) == -1) {
		log_err("event=replay_bad_record seq=%llu type=operator",
		    (unsigned long long)rec->seq);
		return -1;
	}
	/* start, stop, config_load, operator, webhook, recovery: audit only. */
	return 0;
}

/*
 * The broker's journal, opened and closed.
 */

/* Retention keeps every segment from the oldest open intent on. */
static uint64_t
oldest_open(void *arg)
{
	struct intent_table *t = arg;
	struct intent *in;
	uint64_t min = 0;

	TAILQ_FOREACH(in, &t->all, age)
		if ((in->state == INTENT_SUBMITTING ||
		    in->state == INTENT_HELD) && in->jseq != 0 &&
		    (min == 0 || in->jseq < min))
			min = in->jseq;
	return min;
}

static void
append_config(struct journal *j, const struct broker_config *cfg,
    const char *path)
{
	struct json_stack st;
	cJSON *o;

	o = json_stack_init(&st);
	json_stack_str(&st, o, "path", path);
	json_stack_str(&st, o, "instance_id", cfg->instance_id);
	json_stack_str(&st, o, "dino_url", cfg->dino_url);
	json_stack_int(&st, o, "accounts", (int64_t)cfg->naccounts);
	json_stack_int(&st, o, "principals", (int64_t)cfg->nprincipals);
	json_stack_str(&st, o, "paused", cfg->paused ? "yes" : "no");
	json_stack_str(&st, o, "journal_fsync",
	    cfg->journal_fsync ? "yes" : "no");
	json_stack_int(&st, o, "journal_segment_bytes",
	    cfg->journal_segment_bytes);
	json_stack_int(&st, o, "journal_retention_days",
	    cfg->journal_retention_days);
	(void)journal_append_copy(j, JREC_CONFIG, o, NULL, NULL);
}

/* start and stop: the pid and one count. */
static void
append_lifecycle(struct journal *j, const char *type, const char *name,
    size_t n)
{
	struct json_stack st;
	cJSON *o;

	o = json_stack_init(&st);
	json_stack_int(&st, o, "pid", (int64_t)getpid());
	json_stack_int(&st, o, name, (int64_t)n);
	(void)journal_append_copy(j, type, o, NULL, NULL);
}

void
jrec_open(struct broker *b, const char *config_path, int recover)
{
	struct journal_options jo;
	struct replay rp;
	char err[512];

	memset(&jo, 0, sizeof(jo));
	jo.dir = b->cfg->journal_dir;
	jo.segment_bytes = b->cfg->journal_segment_bytes;
	jo.retention_days = b->cfg->journal_retention_days;
	jo.fsync = b->cfg->journal_fsync;
	jo.pin = oldest_open;
	jo.pin_arg = b->intents;
	if (!jo.fsync)
		log_warnx("event=journal_fsync_disabled reason=\"journal_fsync "
		    "no is for benchmarks only: after a crash an intent may be "
		    "lost; NEVER run a production broker like this\"");
	memset(&rp, 0, sizeof(rp));
	rp.cfg = b->cfg;
	rp.intents = b->intents;
	rp.webhook = b->webhook;
	rp.ops = &b->ops;
	if ((b->journal = journal_open(b->base, &jo, recover, replay_record,
	    &rp, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	b->intents->journal = b->journal;
	log_info("event=journal_replayed dir=%s records=%zu intents=%zu "
	    "answers=%zu orphans=%zu", jo.dir, rp.records, rp.intents_added,
	    rp.outcomes, rp.orphans);
	append_lifecycle(b->journal, JREC_START, "replayed_records",
	    rp.records);
	append_config(b->journal, b->cfg, config_path);
}

void
jrec_close(struct broker *b, size_t open_intents)
{
	if (b->journal == NULL)
		return;
	append_lifecycle(b->journal, JREC_STOP, "open_intents", open_intents);
	b->intents->journal = NULL;
	journal_close(b->journal);
	b->journal = NULL;
}
