/*
 * Every limit of the project, as a named constant, in one place.  Each role
 * may add its own section; a limit that two roles share lives here once.
 */
#ifndef DINO_DINOLIMITS_H
#define DINO_DINOLIMITS_H

/* Logging. */
#define LOG_LINE_MAX		2048	/* bytes in one log line */
#define LOG_BUF_MAX		16384	/* lines buffered for one loop turn */

/* The spend request model (dino-api.md Part A). */
#define AMOUNT_CENTS_MIN	1
#define AMOUNT_CENTS_MAX	1000000000LL	/* 10^9 */
#define CURRENCY_LEN		3	/* lowercase ISO-4217-like code */
#define MERCHANT_NAME_MAX	200	/* bytes, at least 1 */
#define REASON_MAX		1000	/* bytes, may be empty */
#define IDEMPOTENCY_KEY_MAX	128	/* printable ASCII, at least 1 */
#define SPEND_ID_PREFIX_MAX	8	/* "req_", "evt_", ... */
#define ULID_LEN		26	/* lowercase Crockford base32 */
#define RANDOM_POOL_BYTES	512	/* random bytes drawn at a time */
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
#define IPC_READ_BURST		64	/* packets read per peer wakeup */
#define IPC_RECV_BATCH		16	/* packets per recvmmsg() */
#define IPC_SEND_BATCH		16	/* packets per sendmmsg() */
#define IPC_SEND_BATCH_BYTES	32768	/* bytes in a batching peer's outbox */
#define IPC_CONNS_MAX		65536	/* MSG_CONFIG max_conns_per_uid */
#define IPC_TIMEOUT_S_MAX	86400	/* ceiling of any timeout carried, s */
#define BALANCE_CENTS_MAX	1000000000000000LL /* |balance field|, 10^15 */

/* systemd socket activation. */
#define SD_LISTEN_FDS_MAX	16	/* descriptors accepted from systemd */
#define SD_FDNAME_MAX		255	/* FileDescriptorName= length */

/* JSON. */
#define JSON_DEPTH_MAX		16	/* nesting accepted from any peer */
#define JSON_WALK_MAX		64	/* hard ceiling of the strict walker */
#define JSON_MEMBERS_MAX	256	/* members of one object or array */

/* dino-frontend. */
#define FRONTEND_BODY_MAX	(16 * 1024)	/* request body, bytes */
#define FRONTEND_HEADERS_BYTES_MAX	(8 * 1024)	/* request line + headers */
#define FRONTEND_HEADERS_COUNT_MAX	32	/* header fields in one request */
#define FRONTEND_URI_MAX	256	/* request target, bytes */
#define FRONTEND_CONNS_MAX	12000	/* agent connections at once */
#define FRONTEND_CONNS_PER_UID	64	/* default until MSG_CONFIG says */
#define FRONTEND_FD_RESERVE	32	/* descriptors kept free of agents */
#define FRONTEND_BACKLOG	1024	/* listen(2) backlog */
#define FRONTEND_IDLE_TIMEOUT_S	30	/* read/write idle, default */
#define FRONTEND_IDLE_TIMEOUT_S_MAX	3600	/* ceiling of MSG_CONFIG's */
#define FRONTEND_BROKER_TIMEOUT_S	35	/* broker answer, one request */
#define FRONTEND_WAIT_MAX_S	300	/* wait_spend ceiling */
#define FRONTEND_INFLIGHT_MAX	4096	/* requests awaiting the broker */
#define FRONTEND_ACCEPT_PAUSE_MS	100	/* accept paused on EMFILE */
#define FRONTEND_EXIT_GRACE_MS	200	/* flush replies, then exit */

/* dino-broker. */
#define BROKER_CONFIG_MAX	(256 * 1024)	/* config file, bytes */
#define BROKER_CONFIG_LINE_MAX	4096	/* one config line, bytes */
#define BROKER_CONFIG_TOKENS_MAX 72	/* tokens on one config line */
#define BROKER_CONFIG_ERRORS_MAX 64	/* errors reported by one load */
#define BROKER_ACCOUNTS_MAX	64	/* account blocks */
#define BROKER_PRINCIPALS_MAX	256	/* principal blocks */
#define BROKER_NAME_MAX		64	/* account, user and group names */
#define BROKER_INSTANCE_ID_MAX	64	/* instance_id, printable ASCII */
#define BROKER_URL_MAX		256	/* dino_url */
#define BROKER_PATH_MAX		256	/* key_file, ipc_socket, ca_file */
#define BROKER_LIST_MAX		64	/* currencies or merchants in one list */
#define BROKER_GROUP_UIDS_MAX	1024	/* resolved members of one group */
#define BROKER_KEY_MAX		4096	/* one spending key file, bytes */
#define BROKER_TIMEOUT_MS_MAX	600000	/* connect and total timeouts */
#define BROKER_DAILY_CAP_MAX	100000000000LL	/* 10^11 cents */
#define BROKER_SPM_MAX		600000	/* spends_per_minute ceiling (10000/s) */
#define BROKER_CAP_WINDOW_MS	(24LL * 60 * 60 * 1000)	/* rolling cap */
#define BROKER_RATE_WINDOW_MS	(60LL * 1000)	/* spends_per_minute */
#define BROKER_DEF_MAX_AMOUNT	10000	/* max_amount_cents default */
#define BROKER_DEF_DAILY_CAP	50000	/* daily_cap_cents default */
#define BROKER_DEF_SPM		10	/* spends_per_minute default */
#define BROKER_DEF_CONNECT_MS	10000	/* connect_timeout_ms default */
#define BROKER_DEF_TOTAL_MS	30000	/* total_timeout_ms default */
#define BROKER_RETRY_BASE_MS	250	/* first Dino retry backoff */
#define BROKER_RETRY_MAX_MS	30000	/* Dino retry backoff ceiling */
#define BROKER_READ_RETRIES	3	/* attempts for get_spend/get_balance */
#define BROKER_AGENT_DEADLINE_MS 5000	/* create: answer "submitting" after */
#define BROKER_READ_DEADLINE_MS	25000	/* get_*: 504 (frontend waits 35 s) */
#define BROKER_FRONTENDS_MAX	4	/* frontend connections at once */
#define BROKER_INTENTS_MAX	100000	/* intents kept in memory */
#define BROKER_INTENT_BUCKETS	4096	/* hash buckets of the intent table */
#define BROKER_IDEM_HASH_LEN	32	/* BLAKE2b output, bytes */
#define BROKER_IDEM_KEY_LEN	(4 + 2 * BROKER_IDEM_HASH_LEN)	/* "dbk_"+hex */
#define BROKER_AUTO_KEY_BYTES	16	/* random bytes of an "auto-" key */
#define BROKER_FE_CONNS_PER_UID	32	/* sent to the frontend: per-uid conns */
#define BROKER_FE_IDLE_S	30	/* sent to the frontend: idle timeout */
#define BROKER_FE_MAX_WAIT_S	300	/* sent to the frontend: wait_spend */

/* broker: the durable, hash-chained journal (broker/journal.c). */
#define JOURNAL_HASH_LEN	32	/* BLAKE2b-256, bytes */
#define JOURNAL_HEX_LEN		(2 * JOURNAL_HASH_LEN)
/* ,"hash":"<hex>"} closing a journal line, before its newline. */
#define JOURNAL_HASH_MEMBER_LEN	(sizeof(",\"hash\":\"") - 1 + JOURNAL_HEX_LEN + 2)
#define JOURNAL_LINE_MAX	(64 * 1024)	/* one record, newline included */
#define JOURNAL_NAME_MAX	64	/* a segment's file name, NUL included */
#define JOURNAL_SEGMENT_DEF	(64LL * 1024 * 1024)	/* rotate after, bytes */
#define JOURNAL_SEGMENT_MIN	4096LL	/* journal_segment_bytes floor */
#define JOURNAL_SEGMENT_MAX	(1024LL * 1024 * 1024)	/* and ceiling */
#define JOURNAL_SEGMENTS_MAX	100000	/* segments in one directory */
#define JOURNAL_RETENTION_MIN_D	2	/* days: replay needs the last 24 h */
#define JOURNAL_RETENTION_MAX_D	36500	/* days; 0 means keep forever */
#define JOURNAL_GROUP_WINDOW_US	0	/* group commit: appends of one loop
					   turn plus this share one fdatasync */
#define JOURNAL_HEAD_INTERVAL_MS 500	/* head file rewritten at most this
					   often (and at rotation and stop) */
#define JOURNAL_RETRY_MS	1000	/* retry a failed journal this often */
#define JOURNAL_PENDING_MAX	65536	/* records waiting for their write */

/*
 * Webhooks and waiters (issue 5): the broker's webhook receiver, its
 * fallback polling, and the frontend's table of wait_spend requests.
 */
#define WEBHOOK_BODY_MAX	(64 * 1024)	/* signed body, bytes */
#define WEBHOOK_HEADERS_MAX	(8 * 1024)	/* request line + headers */
#define WEBHOOK_TIMEOUT_S	10	/* read/write per connection */
#define WEBHOOK_BACKLOG		128	/* listen(2) backlog */
#define WEBHOOK_SECRETS_MAX	8	/* secrets at once, for rotation */
#define WEBHOOK_SECRET_MAX	256	/* one whsec_ secret, bytes */
#define WEBHOOK_EVENT_ID_MAX	64	/* Dino-Event-Id, printable ASCII */
#define WEBHOOK_EVENT_TYPE_MAX	64	/* Dino-Event-Type */
#define WEBHOOK_TOLERANCE_S_DEF	300	/* |now - t| accepted, seconds */
#define WEBHOOK_TOLERANCE_S_MAX	3600	/* ceiling of webhook_tolerance_s */
#define WEBHOOK_SEEN_MAX	65536	/* event ids remembered for dedupe */
#define WEBHOOK_SEEN_BUCKETS	16384	/* hash buckets of that set */
#define POLL_MIN_S_DEF		30	/* poll_min_s default */
#define POLL_MAX_S_DEF		60	/* poll_max_s default */
#define POLL_S_MAX		86400	/* ceiling of poll_min_s, poll_max_s */
#define POLL_BACKOFF_MAX_S	900	/* after 429 or 5xx, at most */
#define POLL_START_SPREAD_S	5	/* start-up polls spread over this */
#define POLL_BUCKETS		4096	/* hash buckets of polled spends */
#define FRONTEND_WAITERS_MAX	16384	/* wait_spend requests held at once */
#define FRONTEND_WAIT_DEFAULT_S	30	/* wait_spend without timeout_s */
#define FRONTEND_WATCH_BUCKETS	16384	/* hash buckets, power of two */
#define FRONTEND_WAKE_BATCH	256	/* answers per loop turn on a decision */

/* dino-sandbox. */
#define SANDBOX_BODY_MAX	(64 * 1024)	/* request body, bytes */
#define SANDBOX_BODY_HARD_MAX	(1024 * 1024)	/* evhttp answers beyond */
#define SANDBOX_HEADERS_MAX	(16 * 1024)	/* request headers, bytes */
#define SANDBOX_TIMEOUT_S	5	/* default read/write timeout */
#define SANDBOX_SEED_MAX	(1024 * 1024)	/* seed file, bytes */
#define SANDBOX_ACCOUNTS_MAX	1024	/* accounts in one seed */
#define SANDBOX_WEBHOOKS_MAX	16	/* webhook endpoints */
#define SANDBOX_LIST_MAX	64	/* currencies, merchants, events */
#define SANDBOX_RETRIES_MAX	16	/* webhook_retry_delays_s entries */
#define SANDBOX_DELAY_S_MAX	86400	/* one retry delay, seconds */
#define SANDBOX_EXPIRY_S_MAX	(30 * 86400)	/* approval_expiry_s */
#define SANDBOX_SPENDS_MAX	(1 << 20)	/* spends kept in one run */
#define SANDBOX_WALLET_MAX	100000000000000LL /* 10^14, printed whole */
#define SANDBOX_KEY_MAX		128	/* spending key, bytes */
#define SANDBOX_SECRET_MAX	256	/* webhook secret, bytes */
#define SANDBOX_URL_MAX		1024	/* webhook URL or socket path */
#define SANDBOX_REQUEST_ID_MAX	128	/* X-Request-Id accepted */
#define SANDBOX_LATENCY_MS_MAX	60000	/* fault: added latency */
#define SANDBOX_FAULT_NEXT_MAX	1000000	/* fault: "the next N" counters */
#define SANDBOX_WEBHOOK_TIMEOUT_MS	10000	/* one delivery attempt */
#define SANDBOX_DELIVERIES_MAX	65536	/* webhook deliveries queued */
#define SANDBOX_PATH_MAX	4096	/* a file system path, NUL included */
#define SANDBOX_CTL_REPLY_MAX	(64 * 1024 * 1024) /* subcommand answer */

/* broker: Dino client (broker/dino.c). */
#define DINO_RESPONSE_MAX	(64 * 1024)	/* body bytes, chunked too */
#define DINO_KEY_MAX		512	/* spending key bytes */
#define DINO_IDEM_KEY_MAX	255	/* Idempotency-Key header value */
#define DINO_URL_MAX		1024	/* a whole request URL */
#define DINO_TIMEOUT_MAX_MS	600000L	/* connect and total timeouts */
#define DINO_RETRY_MAX_MS	3600000L	/* backoff ceiling option */
#define DINO_RETRY_AFTER_MAX_MS	300000L	/* longest Retry-After obeyed */
#define DINO_READ_RETRIES_MAX	10	/* attempts of one GET */
#define DINO_HOST_CONNS_MAX	16	/* connections to Dino at once */
#define DINO_AUTH_POOL_MAX	256	/* wiped guarded header buffers kept */
#define DINO_CENTS_ABS_MAX	1000000000000000LL	/* 10^15, budgets */
#define DINO_EASY_POOL_MAX	64	/* idle curl easy handles kept */
#define DINO_CALL_POOL_MAX	64	/* finished calls kept for reuse */

/* broker: the allocator under load (broker/main.c). */
#define BROKER_MALLOC_TRIM	(16 * 1024 * 1024)	/* heap top kept */
#define BROKER_MALLOC_MMAP	(1024 * 1024)	/* mmap'd allocations from */

/* broker: admin socket, local holds and metrics (broker/admin.c, ops.c). */
#define ADMIN_CONNS_MAX		64	/* admin connections at once */
#define ADMIN_CONNS_PER_UID	8	/* per operator uid (smtpd: 32) */
#define ADMIN_BODY_MAX		(4 * 1024)	/* request body, bytes */
#define ADMIN_HEADERS_MAX	(8 * 1024)	/* request line + headers */
#define ADMIN_TIMEOUT_S		30	/* read/write per connection */
#define ADMIN_BACKLOG		16	/* listen(2) backlog */
#define ADMIN_UIDS_MAX		1024	/* resolved members of admin_group */
#define ADMIN_SPENDS_MAX	1000	/* spends in one listing */
#define ADMIN_REASON_MAX	DECISION_REASON_MAX	/* deny --reason */
#define ADMIN_REVOKED_MAX	BROKER_PRINCIPALS_MAX	/* revoked at once */
#define HOLD_ID_PREFIX		"hold_"	/* a held spend's local id */
#define HOLD_ID_LEN		(5 + ULID_LEN)	/* "hold_" + ULID */
#define METRICS_LISTEN_BACKLOG	16	/* metrics_listen listen(2) backlog */
#define METRICS_TOOLS_MAX	8	/* distinct tool labels counted */
#define METRICS_OUTCOMES_MAX	32	/* distinct outcomes per tool */
#define METRICS_LABEL_MAX	48	/* one label value, bytes */
#define METRICS_BUCKETS		12	/* latency histogram buckets, +Inf apart */
#define METRICS_TEXT_MAX	(64 * 1024)	/* rendered exposition, bytes */

/* clients: dino and dino mcp (clients/). */
#define CLIENT_RESPONSE_MAX	(1024 * 1024)	/* one agent API answer, bytes */
#define CLIENT_CONNECT_TIMEOUT_S 5	/* connecting to the agent socket */
#define CLIENT_REQUEST_TIMEOUT_S 60	/* one answer (frontend waits 35 s) */
#define CLIENT_WAIT_SLACK_S	30	/* wait_spend: timeout_s plus this */
#define CLIENT_WAIT_DEFAULT_S	60	/* dino wait without --timeout */
#define CLIENT_WAIT_MAX_S	86400	/* --wait and --timeout ceiling */
#define CLIENT_RETRIES		5	/* attempts of one create_spend */
#define CLIENT_RETRY_BASE_MS	250	/* first backoff, doubled each time */
#define CLIENT_RETRY_MAX_MS	4000	/* backoff ceiling */
#define CLIENT_IDEM_KEY_BYTES	16	/* random bytes of a made-up key */
#define CLIENT_ARG_MAX		4096	/* one command-line value, bytes */
#define MCP_LINE_MAX		(1024 * 1024)	/* one JSON-RPC line, bytes */
#define MCP_WAIT_DEFAULT_S	50	/* wait_for_decision without timeout_s:
					   under the usual 60 s client timeout */
#define MCP_TOOLS_TTL_MS	3600000	/* tools/list cache hint (2026-07-28) */

#endif
