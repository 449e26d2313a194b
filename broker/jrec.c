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

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "dino.h"
#include "jrec.h"
#include "webhook.h"
#include "log.h"
#include "proto.h"
#include "ops.h"
#include "policy.h"
#include "spend.h"
#include "util.h"

static void
add_str(cJSON *o, const char *name, const char *v)
{
	if (cJSON_AddStringToObject(o, name, v) == NULL)
		fatalx("%s: cJSON %s", __func__, name);
}

/*
 * cJSON prints a number beyond an int with "%1.15g", reads it back with
 * sscanf and may print it again: a tenth of a create went there, for
 * budgets and amounts in cents.  Below 10^15 "%1.15g" of an integer is
 * its plain digits, so those are handed to cJSON ready printed (a raw
 * item), byte for byte what it would have printed; the rest, and every
 * int, take cJSON's own path.
 */
#define RAW_INT_MAX	999999999999999LL

static void
add_int(cJSON *o, const char *name, int64_t v)
{
	char num[24];

	if ((v > INT_MAX || v < INT_MIN) &&
	    v <= RAW_INT_MAX && v >= -RAW_INT_MAX) {
		snprintf(num, sizeof(num), "%" PRId64, v);
		if (cJSON_AddRawToObject(o, name, num) == NULL)
			fatalx("%s: cJSON %s", __func__, name);
		return;
	}
	if (cJSON_AddNumberToObject(o, name, (double)v) == NULL)
		fatalx("%s: cJSON %s", __func__, name);
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
add_opt(cJSON *o, const char *name, const char *v)
{
	if (v[0] != '\0')
		add_str(o, name, v);
}

cJSON *
jrec_spend(const struct spend_obj *s)
{
	cJSON *o = new_obj();

	add_str(o, "id", s->id);
	add_str(o, "status", s->status);
	add_opt(o, "decision_reason", s->decision_reason);
	add_opt(o, "budget_period", s->budget_period);
	if (s->has_remaining) {
		add_int(o, "remaining_budget_cents", s->remaining_budget_cents);
		add_int(o, "remaining_monthly_budget_cents",
		    s->remaining_monthly_budget_cents);
	}
	add_int(o, "amount_cents", s->amount_cents);
	add_str(o, "currency", s->currency);
	add_str(o, "merchant_name", s->merchant_name);
	add_str(o, "reason", s->reason);
	add_opt(o, "approval_url", s->approval_url);
	add_opt(o, "team_id", s->team_id);
	add_opt(o, "agent_account_id", s->agent_account_id);
	add_opt(o, "decided_at", s->decided_at);
	add_opt(o, "created_at", s->created_at);
	add_opt(o, "updated_at", s->updated_at);
	return o;
}

cJSON *
jrec_intent(const struct intent *in)
{
	char caller[32];
	cJSON *o = new_obj();

	intent_caller_id(in->owner_uid, caller, sizeof(caller));
	add_str(o, "key", in->derived);
	add_str(o, "principal", in->principal->id);
	add_str(o, "caller", caller);
	add_str(o, "account", in->account->name);
	add_str(o, "agent", in->agent);
	add_str(o, "agent_key", in->agent_key);
	add_int(o, "amount_cents", in->amount_cents);
	add_str(o, "currency", in->currency);
	add_str(o, "merchant_name", in->merchant_name);
	add_str(o, "reason", in->reason);
	add_int(o, "created_ms", in->created_ms);
	/* Held for an operator (ops.h): replay keeps it held, unsent. */
	add_opt(o, "hold_id", in->hold_id);
	return o;
}

cJSON *
jrec_outcome(const struct intent *in, const struct dino_result *res)
{
	struct spend_obj s;
	cJSON *o = new_obj(), *e;

	add_str(o, "key", in->derived);
	add_int(o, "http_status", res->http_status);
	add_int(o, "attempts", res->attempts);
	add_str(o, "dino_request_id", res->request_id);
	if (in->state == INTENT_REFUSED) {
		add_str(o, "result", "refused");
		e = new_obj();
		add_int(e, "http_status", in->refusal->http_status);
		add_str(e, "code", in->refusal->code);
		add_str(e, "message", in->refusal->message);
		if (!cJSON_AddItemToObject(o, "error", e))
			fatalx("%s: cJSON", __func__);
	} else {
		add_str(o, "result", "spend");
		intent_spend_get(in, &s);
		if (!cJSON_AddItemToObject(o, "spend", jrec_spend(&s)))
			fatalx("%s: cJSON", __func__);
	}
	return o;
}

cJSON *
jrec_status(const struct intent *in, const char *from)
{
	struct spend_obj s;
	cJSON *o = new_obj();

	add_str(o, "key", in->derived);
	add_str(o, "id", in->spend.id);
	add_str(o, "from", from);
	add_str(o, "to", in->spend.status);
	intent_spend_get(in, &s);
	if (!cJSON_AddItemToObject(o, "spend", jrec_spend(&s)))
		fatalx("%s: cJSON", __func__);
	return o;
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

static cJSON *
config_fields(const struct broker_config *cfg, const char *path)
{
	cJSON *o = new_obj();

	add_str(o, "path", path);
	add_str(o, "instance_id", cfg->instance_id);
	add_str(o, "dino_url", cfg->dino_url);
	add_int(o, "accounts", (int64_t)cfg->naccounts);
	add_int(o, "principals", (int64_t)cfg->nprincipals);
	add_str(o, "paused", cfg->paused ? "yes" : "no");
	add_str(o, "journal_fsync", cfg->journal_fsync ? "yes" : "no");
	add_int(o, "journal_segment_bytes", cfg->journal_segment_bytes);
	add_int(o, "journal_retention_days", cfg->journal_retention_days);
	return o;
}

void
jrec_open(struct broker *b, const char *config_path, int recover)
{
	struct journal_options jo;
	struct replay rp;
	cJSON *o;
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
	o = new_obj();
	add_int(o, "pid", (int64_t)getpid());
	add_int(o, "replayed_records", (int64_t)rp.records);
	(void)journal_append(b->journal, JREC_START, o, NULL, NULL);
	(void)journal_append(b->journal, JREC_CONFIG,
	    config_fields(b->cfg, config_path), NULL, NULL);
}

void
jrec_close(struct broker *b, size_t open_intents)
{
	cJSON *o;

	if (b->journal == NULL)
		return;
	o = new_obj();
	add_int(o, "pid", (int64_t)getpid());
	add_int(o, "open_intents", (int64_t)open_intents);
	(void)journal_append(b->journal, JREC_STOP, o, NULL, NULL);
	b->intents->journal = NULL;
	journal_close(b->journal);
	b->journal = NULL;
}
