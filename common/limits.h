/*
 * Every limit of the project, as a named constant, in one place.  Each role
 * may add its own section; a limit that two roles share lives here once.
 */
#ifndef DINO_LIMITS_H
#define DINO_LIMITS_H

/* Logging. */
#define LOG_LINE_MAX		2048	/* bytes in one log line */

/* The spend request model (dino-api.md Part A). */
#define AMOUNT_CENTS_MIN	1
#define AMOUNT_CENTS_MAX	1000000000LL	/* 10^9 */
#define CURRENCY_LEN		3	/* lowercase ISO-4217-like code */
#define MERCHANT_NAME_MAX	200	/* bytes, at least 1 */
#define REASON_MAX		1000	/* bytes, may be empty */
#define IDEMPOTENCY_KEY_MAX	128	/* printable ASCII, at least 1 */
#define SPEND_ID_PREFIX_MAX	8	/* "req_", "evt_", ... */
#define ULID_LEN		26	/* lowercase Crockford base32 */
#define SPEND_ID_LEN		(4 + ULID_LEN)	/* "req_" + ULID */
#define ISO_TIME_LEN		24	/* 2026-05-07T12:34:56.000Z */

/* Fields of the Dino spend object as carried across the boundary. */
#define SPEND_ID_MAX		40	/* "req_" + 26, with room to spare */
#define STATUS_MAX		16	/* "needs_approval", "submitting" */
#define DECISION_REASON_MAX	200
#define BUDGET_PERIOD_MAX	16
#define APPROVAL_URL_MAX	512
#define ACCOUNT_ID_MAX		64	/* team_id, agent_account_id */
#define AGENT_LABEL_MAX		64	/* X-Dino-Agent, printable ASCII */
#define ERROR_CODE_MAX		48
#define ERROR_MESSAGE_MAX	200

/* The frontend-broker boundary (common/ipc.h). */
#define IPC_HDR_LEN		16	/* type, len, reqid, version: u32 each */
#define IPC_MSG_MAX		8192	/* whole message, header included */
#define IPC_QUEUE_MAX		4096	/* messages queued to one peer */
#define IPC_INFLIGHT_MAX	4096	/* requests the broker holds at once */

/* JSON. */
#define JSON_DEPTH_MAX		16	/* nesting accepted from any peer */
#define JSON_WALK_MAX		64	/* hard ceiling of the strict walker */
#define JSON_MEMBERS_MAX	256	/* members of one object or array */

/* dino-sandbox. */
#define SANDBOX_BODY_MAX	(64 * 1024)	/* request body, bytes */

#endif
