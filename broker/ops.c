/*
 * Operator state: the pause switch, revoked principals, and the journal
 * records of every operator action with their replay (see ops.h).
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "ops.h"
#include "spend.h"
#include "util.h"

int
ops_set_paused(struct ops *o, int paused)
{
	paused = paused != 0;
	if (o->paused == paused)
		return 0;
	o->paused = paused;
	return 1;
}

int
ops_is_revoked(const struct ops *o, const char *principal_id)
{
	size_t i;

	for (i = 0; i < o->nrevoked; i++)
		if (strcmp(o->revoked[i], principal_id) == 0)
			return 1;
	return 0;
}

int
ops_revoke(struct ops *o, const char *principal_id)
{
	if (ops_is_revoked(o, principal_id) ||
	    o->nrevoked == nitems(o->revoked) ||
	    strlen(principal_id) >= sizeof(o->revoked[0]))
		return 0;
	snprintf(o->revoked[o->nrevoked++], sizeof(o->revoked[0]), "%s",
	    principal_id);
	return 1;
}

int
ops_restore(struct ops *o, const char *principal_id)
{
	size_t i;

	for (i = 0; i < o->nrevoked; i++)
		if (strcmp(o->revoked[i], principal_id) == 0) {
			memmove(o->revoked[i], o->revoked[i + 1],
			    (o->nrevoked - i - 1) * sizeof(o->revoked[0]));
			o->nrevoked--;
			return 1;
		}
	return 0;
}

int
ops_check_create(const struct ops *o, const struct broker_config *cfg,
    const struct principal *pr, struct msg_error *err)
{
	memset(err, 0, sizeof(*err));
	if (o->paused || cfg->paused) {
		err->http_status = 503;
		snprintf(err->code, sizeof(err->code), "paused");
		snprintf(err->message, sizeof(err->message), "spending is "
		    "paused by the operator; retry later");
		return -1;
	}
	if (ops_is_revoked(o, pr->id)) {
		err->http_status = 403;
		snprintf(err->code, sizeof(err->code), "revoked");
		snprintf(err->message, sizeof(err->message), "this principal's "
		    "spending was revoked by the operator");
		return -1;
	}
	return 0;
}

struct principal *
ops_find_principal(struct broker_config *cfg, const char *name)
{
	struct principal *pr;
	size_t i;

	if ((pr = config_principal_by_id(cfg, name)) != NULL)
		return pr;
	for (i = 0; i < cfg->nprincipals; i++)
		if (strcmp(cfg->principals[i].name, name) == 0)
			return &cfg->principals[i];
	return NULL;
}

static void
add_str(cJSON *o, const char *name, const char *v)
{
	if (v != NULL && cJSON_AddStringToObject(o, name, v) == NULL)
		fatalx("%s: cJSON %s", __func__, name);
}

cJSON *
ops_record(const char *action, uid_t uid, const char *principal,
    const struct intent *in, const char *reason)
{
	cJSON *o;

	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(o, "uid", (double)uid) == NULL ||
	    cJSON_AddNumberToObject(o, "at_ms", (double)now_ms()) == NULL)
		fatalx("%s: cJSON", __func__);
	add_str(o, "action", action);
	add_str(o, "principal", principal);
	if (in != NULL) {
		add_str(o, "key", in->derived);
		add_str(o, "hold_id", in->hold_id);
	}
	add_str(o, "reason", reason);
	return o;
}

static const char *
field(const cJSON *f, const char *name, size_t max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(f, name);

	if (!cJSON_IsString(v) || strlen(v->valuestring) > max)
		return NULL;
	return v->valuestring;
}

/* approve or deny, replayed: the intent record came first. */
static int
replay_decision(struct intent_table *t, const cJSON *f, enum hold_action a)
{
	const char *key, *reason, *why;
	struct intent *in;
	const cJSON *ts;
	int64_t at;

	if ((key = field(f, "key", BROKER_IDEM_KEY_LEN)) == NULL)
		return -1;
	reason = field(f, "reason", ADMIN_REASON_MAX);
	ts = cJSON_GetObjectItemCaseSensitive(f, "at_ms");
	at = cJSON_IsNumber(ts) ? (int64_t)ts->valuedouble : now_ms();
	/* Gone (evicted or an orphan): there is nothing left to decide. */
	if ((in = intent_by_key(t, key)) == NULL)
		return 0;
	if (hold_decide(t, in, a, reason, at, &why) == -1)
		log_warnx("event=replay_decision_ignored key=%s reason=\"%s\"",
		    key, why);
	return 0;
}

int
ops_replay(struct ops *o, struct intent_table *t, const cJSON *f)
{
	const char *action, *pr;

	if ((action = field(f, "action", 16)) == NULL)
		return -1;
	pr = field(f, "principal", BROKER_NAME_MAX + 7);
	if (strcmp(action, "pause") == 0)
		(void)ops_set_paused(o, 1);
	else if (strcmp(action, "resume") == 0)
		(void)ops_set_paused(o, 0);
	else if (strcmp(action, "revoke") == 0 && pr != NULL)
		(void)ops_revoke(o, pr);
	else if (strcmp(action, "restore") == 0 && pr != NULL)
		(void)ops_restore(o, pr);
	else if (strcmp(action, "approve") == 0)
		return replay_decision(t, f, HOLD_APPROVE);
	else if (strcmp(action, "deny") == 0)
		return replay_decision(t, f, HOLD_DENY);
	/* reload, log_level and verify are for the audit trail only. */
	return 0;
}
