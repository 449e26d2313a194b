/*
 * Operator control (dinoctl, dino-broker(8) OPERATOR CONTROL): the global
 * pause, revoked principals and spends held locally for an operator.
 *
 * Every operator action is an "operator" journal record written before it
 * takes effect, and replay applies those records again, so that a pause,
 * a revocation or a decision on a held spend survives a restart:
 *   {"action":"pause"|"resume"|"revoke"|"restore"|"approve"|"deny"|
 *    "log_level", "uid":N, "principal":ID?, "key":DERIVED?, "hold_id":ID?,
 *    "reason":TEXT?, "level":NAME?}
 *
 * A held spend: a principal with hold_above_cents N gets status "held" for
 * a spend of more than N cents.  The intent is journaled like any other
 * (with its hold_id) but nothing goes to Dino.  `dinoctl approve` sends the
 * create with the intent's original derived key; `dinoctl deny` ends it as
 * "declined" with decision_reason "denied by a local operator: REASON",
 * and Dino never hears of it.  The agent gets the local id
 * "hold_" + 26 ULID characters, which get_spend and wait_spend accept for
 * as long as the broker knows the spend; answers to a request made with
 * that id carry that id, whatever Dino later names the spend.
 */
#ifndef DINO_BROKER_OPS_H
#define DINO_BROKER_OPS_H

#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "intent.h"
#include "dinolimits.h"

struct ops {
	int		 paused;	/* dinoctl pause, until resume */
	char		 revoked[ADMIN_REVOKED_MAX][BROKER_NAME_MAX + 8];
	size_t		 nrevoked;
};

/* Pause state.  Each returns 1 when the state changed, else 0. */
int	ops_set_paused(struct ops *o, int paused);
int	ops_revoke(struct ops *o, const char *principal_id);
int	ops_restore(struct ops *o, const char *principal_id);
int	ops_is_revoked(const struct ops *o, const char *principal_id);

/*
 * Whether a create of pr may go on, as an agent error: 503 "paused" while
 * paused (by dinoctl or by the configuration), 403 "revoked" for a
 * revoked principal.  Returns 0 when allowed, -1 with err filled.
 */
int	ops_check_create(const struct ops *o, const struct broker_config *cfg,
	    const struct principal *pr, struct msg_error *err);

/* The principal named by id ("uid:1000") or by its name, or NULL. */
struct principal *ops_find_principal(struct broker_config *cfg,
	    const char *name);

/* The fields of an operator record (the journal takes ownership). */
cJSON	*ops_record(const char *action, uid_t uid, const char *principal,
	    const struct intent *in, const char *reason);
/*
 * Replays one operator record into o and the intent table (the table's
 * journal and status hook are not set during replay).  0, or -1 for a
 * malformed record.
 */
int	ops_replay(struct ops *o, struct intent_table *t, const cJSON *fields);

/*
 * Holds (hold.c): pure functions of an intent, unit-tested.
 */

/* 1 when pr holds a spend of amount_cents for an operator. */
int	hold_wanted(const struct principal *pr, int64_t amount_cents);
/* "hold_" + ULID (48-bit ms time, 80 random bits) into out. */
void	hold_make_id(char out[HOLD_ID_LEN + 1], int64_t now_ms);
/* Marks a new intent held under id: status "held", nothing to send. */
void	hold_begin(struct intent *in, const char *id);

enum hold_action {
	HOLD_APPROVE,
	HOLD_DENY,
};

/*
 * Decides a held intent.  Approve makes it "submitting" (the caller sends
 * it); deny makes it "declined" with the operator's reason, releases its
 * charge and runs the table's status hook.  Returns 0, or -1 with *why
 * when the intent is not held (already decided, or never held).
 */
int	hold_decide(struct intent_table *t, struct intent *in,
	    enum hold_action a, const char *reason, int64_t now_ms,
	    const char **why);

/*
 * The spend as an agent asking by asked (may be NULL) should see it: the
 * hold_ id instead of Dino's when asked by it, or while Dino has named
 * nothing yet.
 */
void	hold_view(const struct intent *in, const char *asked,
	    struct spend_obj *out);

#endif
