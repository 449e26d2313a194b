/*
 * The spend request model and its validation: the one definition of what an
 * agent may ask, used by the frontend on intake and again by the broker on
 * every message it receives (it trusts nothing the frontend says).
 */
#ifndef DINO_SPEND_H
#define DINO_SPEND_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/*
 * Each returns NULL when the field is valid, else a static message naming
 * the problem ("amount_cents must be an integer from 1 to 1000000000").
 */
const char *spend_check_amount(int64_t amount_cents);
const char *spend_check_currency(const char *currency);   /* [a-z]{3} */
const char *spend_check_merchant(const char *merchant_name);
const char *spend_check_reason(const char *reason);
const char *spend_check_idempotency_key(const char *key); /* "" allowed */
const char *spend_check_agent_label(const char *label);   /* "" allowed */
const char *spend_check_id(const char *id);	/* req_ + 26 ULID chars */
const char *spend_check_ref(const char *id);	/* the above, or hold_ + 26 */
const char *spend_check_status(const char *status);
int	spend_status_terminal(const char *status);

/* Whole-message checks: every field above, in one call. */
const char *spend_check_request(const struct msg_create_spend *req);
const char *spend_check_caller(const struct msg_caller *caller);

#endif
