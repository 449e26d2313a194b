/*
 * Local policy: who a caller is (principal lookup from the uid and gid the
 * kernel reported) and the guardrails a create_spend must pass before
 * Dino sees anything.  Pure functions of the configuration, the request,
 * the principal's usage and the time, so that every boundary is testable.
 */
#ifndef DINO_BROKER_POLICY_H
#define DINO_BROKER_POLICY_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "proto.h"

/*
 * One spend counted against a principal: in the rolling 24 h cap until it
 * is released (declined, cancelled, refused) or leaves the window, and in
 * the per-minute rate either way.  The owner (an intent) embeds it; the
 * policy module only links it into the principal's usage list.
 */
struct policy_charge {
	struct policy_charge	*next, *prev;
	struct policy_usage	*usage;		/* NULL when not linked */
	int64_t			 at_ms;
	int64_t			 amount_cents;
	int			 released;
	int			 in_rate;	/* inside the per-minute window */
};

/*
 * The principal for a caller: a uid principal first, then a user
 * principal, then the first group principal (in file order) whose gid is
 * the caller's or whose resolved members include the caller's uid.  NULL
 * for an unknown caller.
 */
struct principal *policy_principal_for(struct broker_config *cfg, uid_t uid,
	    gid_t gid);

/*
 * Checks a create_spend against the global pause and the principal's
 * guardrails at time now_ms (wall clock, ms).  Returns 0 when allowed, or
 * -1 with err set: 503 "paused", 403 "policy_denied" (the message names
 * the rule), or 429 "rate_limited".
 */
int	policy_check_spend(const struct broker_config *cfg,
	    struct principal *pr, const struct msg_create_spend *req,
	    int64_t now_ms, struct msg_error *err);

/* Counts a spend that passed policy against pr from now_ms on. */
void	policy_charge_add(struct principal *pr, struct policy_charge *c,
	    int64_t amount_cents, int64_t now_ms);
/* The spend ended without money moving: it leaves the 24 h cap. */
void	policy_charge_release(struct policy_charge *c);
/* The owner goes away: forget the charge entirely. */
void	policy_charge_unlink(struct policy_charge *c);
/* Drops charges older than the 24 h window. */
void	policy_prune(struct principal *pr, int64_t now_ms);

/* Case-insensitive (ASCII) exact match of a merchant against a list. */
int	policy_merchant_listed(const char (*list)[MERCHANT_NAME_MAX + 1],
	    size_t n, const char *merchant);

#endif
