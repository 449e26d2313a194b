/*
 * Spends held for a local operator: the hold's id and its small state
 * machine (see ops.h).  held -> submitting (approve; the dispatcher sends
 * it), held -> declined (deny); nothing else leaves or enters "held".
 */
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "spend.h"
#include "util.h"

#define DENY_PREFIX	"denied by a local operator: "

int
hold_wanted(const struct principal *pr, int64_t amount_cents)
{
	return pr->hold_above_cents > 0 && amount_cents > pr->hold_above_cents;
}

void
hold_make_id(char out[HOLD_ID_LEN + 1], int64_t now_ms)
{
	make_ulid_id_at(out, HOLD_ID_LEN + 1, HOLD_ID_PREFIX, now_ms);
}

void
hold_begin(struct intent *in, const char *id)
{
	struct spend_obj s;

	snprintf(in->hold_id, sizeof(in->hold_id), "%s", id);
	in->state = INTENT_HELD;
	intent_spend_get(in, &s);
	snprintf(s.status, sizeof(s.status), "held");
	snprintf(s.decision_reason, sizeof(s.decision_reason),
	    "held for a local operator's approval");
	intent_spend_put(in, &s);
}

static void
hold_deny(struct intent_table *t, struct intent *in, const char *reason,
    int64_t now_ms)
{
	struct spend_obj s;
	char now[32];

	intent_spend_get(in, &s);
	snprintf(s.status, sizeof(s.status), "declined");
	snprintf(s.decision_reason, sizeof(s.decision_reason), "%s%s",
	    DENY_PREFIX, reason != NULL && reason[0] != '\0' ? reason :
	    "no reason given");
	fmt_iso_ms(now, now_ms);
	memcpy(s.decided_at, now, ISO_TIME_LEN);
	memcpy(s.updated_at, now, ISO_TIME_LEN);
	/* Back to a pending state first: intent_set_spend moves forward. */
	in->state = INTENT_SUBMITTING;
	intent_set_spend(t, in, &s);
}

int
hold_decide(struct intent_table *t, struct intent *in, enum hold_action a,
    const char *reason, int64_t now_ms, const char **why)
{
	struct spend_obj s;

	if (in->state != INTENT_HELD) {
		*why = in->hold_id[0] == '\0' ? "this spend was never held" :
		    "this spend was already decided";
		return -1;
	}
	if (a == HOLD_APPROVE) {
		in->state = INTENT_SUBMITTING;
		intent_spend_get(in, &s);
		snprintf(s.status, sizeof(s.status), "submitting");
		s.decision_reason[0] = '\0';
		intent_spend_put(in, &s);
		return 0;
	}
	hold_deny(t, in, reason, now_ms);
	return 0;
}

void
hold_view(const struct intent *in, const char *asked, struct spend_obj *out)
{
	intent_spend_get(in, out);
	if (in->hold_id[0] == '\0')
		return;
	if (out->id[0] == '\0' || (asked != NULL &&
	    strcmp(asked, in->hold_id) == 0))
		snprintf(out->id, sizeof(out->id), "%s", in->hold_id);
}
