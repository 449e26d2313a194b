/*
 * The typed messages that cross the frontend-broker boundary.  No JSON
 * crosses it: the frontend turns an agent's request into one of these
 * structs, and the broker re-validates every field on receipt.
 *
 * Requests (frontend to broker) have even types, answers and pushes (broker
 * to frontend) odd ones.  Each type has exactly one layout, encoded and
 * decoded by the pair of functions named after it; a decoder fails on a
 * missing, oversized or trailing byte, and on a field outside its range.
 */
#ifndef DINO_PROTO_H
#define DINO_PROTO_H

#include <stdint.h>

#include "ipc.h"
#include "dinolimits.h"

enum msg_type {
	MSG_HELLO		= 2,	/* frontend: I am up, protocol version */
	MSG_CONFIG		= 3,	/* broker: the limits the frontend needs */
	MSG_CREATE_SPEND	= 4,	/* frontend: create_spend */
	MSG_SPEND		= 5,	/* broker: a spend object */
	MSG_GET_BALANCE		= 6,	/* frontend: get_balance */
	MSG_BALANCE		= 7,	/* broker: a balance */
	MSG_GET_SPEND		= 8,	/* frontend: get_spend */
	MSG_ERROR		= 9,	/* broker: an error for one request */
	MSG_WAIT_SPEND		= 10,	/* frontend: wait_spend (later issue) */
	MSG_SPEND_UPDATE	= 11,	/* broker: a pushed status change */
};

/* Who is calling: from SO_PEERCRED, never from anything the agent said. */
struct msg_caller {
	uint32_t	uid;
	uint32_t	gid;
	uint32_t	pid;
	char		agent[AGENT_LABEL_MAX + 1];	/* X-Dino-Agent or "" */
};

struct msg_hello {
	uint32_t	pid;		/* the frontend's own pid, for logs */
};

struct msg_config {
	uint32_t	max_conns_per_uid;
	uint32_t	idle_timeout_s;
	uint32_t	max_wait_s;	/* wait_spend ceiling */
};

struct msg_create_spend {
	struct msg_caller caller;
	int64_t		amount_cents;
	char		currency[CURRENCY_LEN + 1];
	char		merchant_name[MERCHANT_NAME_MAX + 1];
	char		reason[REASON_MAX + 1];
	char		idempotency_key[IDEMPOTENCY_KEY_MAX + 1]; /* "" none */
};

struct msg_get_balance {
	struct msg_caller caller;
};

struct msg_get_spend {
	struct msg_caller caller;
	char		id[SPEND_ID_MAX + 1];
};

struct msg_wait_spend {
	struct msg_caller caller;
	char		id[SPEND_ID_MAX + 1];
	uint32_t	timeout_s;
};

/*
 * A spend object (dino-api.md Part A).  Optional integers carry a has_
 * flag; optional strings are "" when absent (decided_at is null while a
 * spend is pending, approval_url is set only while it needs approval).
 * status is one of approved, declined, cancelled, needs_approval, or the
 * broker's own "submitting" (sent, outcome not yet known) and "held"
 * (held locally for an operator).
 */
struct spend_obj {
	char		id[SPEND_ID_MAX + 1];
	char		status[STATUS_MAX + 1];
	char		decision_reason[DECISION_REASON_MAX + 1];
	char		budget_period[BUDGET_PERIOD_MAX + 1];
	uint8_t		has_remaining;
	int64_t		remaining_budget_cents;
	int64_t		remaining_monthly_budget_cents;
	int64_t		amount_cents;
	char		currency[CURRENCY_LEN + 1];
	char		merchant_name[MERCHANT_NAME_MAX + 1];
	char		reason[REASON_MAX + 1];
	char		approval_url[APPROVAL_URL_MAX + 1];
	char		team_id[ACCOUNT_ID_MAX + 1];
	char		agent_account_id[ACCOUNT_ID_MAX + 1];
	char		decided_at[ISO_TIME_LEN + 1];
	char		created_at[ISO_TIME_LEN + 1];
	char		updated_at[ISO_TIME_LEN + 1];
	char		idempotency_key[IDEMPOTENCY_KEY_MAX + 1]; /* agent's */
};

struct msg_spend {
	uint8_t		replayed;	/* an existing spend, not a new one */
	uint8_t		timed_out;	/* wait_spend ended by its timeout */
	struct spend_obj spend;
};

/* Balance fields, each optional (clients parse Dino leniently). */
enum balance_field {
	BAL_WALLET_AVAILABLE,
	BAL_BUDGET,
	BAL_SPENT,
	BAL_REMAINING_BUDGET,
	BAL_REMAINING_MONTHLY,
	BAL_NFIELDS
};

struct msg_balance {
	char		currency[CURRENCY_LEN + 1];
	char		budget_period[BUDGET_PERIOD_MAX + 1];
	uint8_t		has[BAL_NFIELDS];
	int64_t		value[BAL_NFIELDS];
};

struct msg_error {
	uint32_t	http_status;	/* 400..599 */
	char		code[ERROR_CODE_MAX + 1];
	char		message[ERROR_MESSAGE_MAX + 1];
};

/*
 * Encoders build a whole message into b (ipc_finish included) and return 0,
 * or -1 if a field is out of range.  Decoders take an opened message of the
 * right type and return 0, or -1 with m->why saying which field failed;
 * they check ranges (amount, status names, text validity) as well as
 * layout, so a decoded struct is always well-formed.
 */
int	msg_hello_enc(struct ipc_buf *b, uint32_t reqid, const struct msg_hello *);
int	msg_hello_dec(struct ipc_msg *m, struct msg_hello *);
int	msg_config_enc(struct ipc_buf *b, uint32_t reqid, const struct msg_config *);
int	msg_config_dec(struct ipc_msg *m, struct msg_config *);
int	msg_create_spend_enc(struct ipc_buf *b, uint32_t reqid,
	    const struct msg_create_spend *);
int	msg_create_spend_dec(struct ipc_msg *m, struct msg_create_spend *);
int	msg_get_balance_enc(struct ipc_buf *b, uint32_t reqid,
	    const struct msg_get_balance *);
int	msg_get_balance_dec(struct ipc_msg *m, struct msg_get_balance *);
int	msg_get_spend_enc(struct ipc_buf *b, uint32_t reqid,
	    const struct msg_get_spend *);
int	msg_get_spend_dec(struct ipc_msg *m, struct msg_get_spend *);
int	msg_wait_spend_enc(struct ipc_buf *b, uint32_t reqid,
	    const struct msg_wait_spend *);
int	msg_wait_spend_dec(struct ipc_msg *m, struct msg_wait_spend *);
/* MSG_SPEND for answers; MSG_SPEND_UPDATE (reqid 0) for pushes. */
int	msg_spend_enc(struct ipc_buf *b, uint32_t type, uint32_t reqid,
	    const struct msg_spend *);
int	msg_spend_dec(struct ipc_msg *m, struct msg_spend *);
/*
 * A spend msg_spend_enc() built in from, again as type and reqid with
 * replayed set, without checking the spend a second time (one status
 * change is pushed and answered); -1 if from is not such a message.
 */
int	msg_spend_reenc(struct ipc_buf *b, const struct ipc_buf *from,
	    uint32_t type, uint32_t reqid, uint8_t replayed);
int	msg_balance_enc(struct ipc_buf *b, uint32_t reqid, const struct msg_balance *);
int	msg_balance_dec(struct ipc_msg *m, struct msg_balance *);
int	msg_error_enc(struct ipc_buf *b, uint32_t reqid, const struct msg_error *);
int	msg_error_dec(struct ipc_msg *m, struct msg_error *);

const char *msg_type_name(uint32_t type);

#endif
