/*
 * The typed boundary messages (see proto.h).  Each type has one encoder and
 * one decoder, and one check of meaning that both run: an encoder refuses
 * what its decoder would refuse, and a decoded struct is always
 * well-formed.  Layouts, in order (str = u16 length, bytes, NUL; opt = u8
 * flag 0 or 1, then i64, which is 0 when the flag is 0):
 *
 *   caller        u32 uid, u32 gid, u32 pid, str agent
 *   HELLO         u32 pid
 *   CONFIG        u32 max_conns_per_uid, u32 idle_timeout_s, u32 max_wait_s
 *   CREATE_SPEND  caller, i64 amount_cents, str currency, str merchant_name,
 *                 str reason, str idempotency_key
 *   GET_BALANCE   caller
 *   GET_SPEND     caller, str id
 *   WAIT_SPEND    caller, str id, u32 timeout_s
 *   SPEND, SPEND_UPDATE
 *                 u8 replayed, u8 timed_out, str id, str status,
 *                 str decision_reason, str budget_period, u8 has_remaining,
 *                 i64 remaining_budget_cents,
 *                 i64 remaining_monthly_budget_cents,
 *                 i64 amount_cents, str currency, str merchant_name,
 *                 str reason, str approval_url, str team_id,
 *                 str agent_account_id, str decided_at, str created_at,
 *                 str updated_at, str idempotency_key
 *   BALANCE       str currency, str budget_period, BAL_NFIELDS x opt
 *   ERROR         u32 http_status, str code, str message
 */
#include <string.h>

#include "ipc.h"
#include "dinolimits.h"
#include "proto.h"
#include "spend.h"
#include "util.h"

/* A layout failure names the field; ipc.c's reason is generic. */
#define BAD(f)	f " missing, truncated or malformed"

/*
 * Small helpers: sticky failure with a field name, typed getters that
 * name their field, and field checks that take their message.
 */

static int
proto_fail(struct ipc_msg *m, const char *why)
{
	if (!m->err) {
		m->err = 1;
		m->why = why;
	}
	m->left = 0;
	return -1;
}

/*
 * Each getter notes whether the message had failed before it ran, so only a
 * failure of its own is renamed after its field.
 */
static int
get_u8(struct ipc_msg *m, uint8_t *v, const char *why)
{
	int was = m->err;

	if (ipc_get_u8(m, v) == 0)
		return 0;
	if (!was)
		m->why = why;
	return -1;
}

static int
get_u32(struct ipc_msg *m, uint32_t *v, const char *why)
{
	int was = m->err;

	if (ipc_get_u32(m, v) == 0)
		return 0;
	if (!was)
		m->why = why;
	return -1;
}

static int
get_i64(struct ipc_msg *m, int64_t *v, const char *why)
{
	int was = m->err;

	if (ipc_get_i64(m, v) == 0)
		return 0;
	if (!was)
		m->why = why;
	return -1;
}

static int
get_str(struct ipc_msg *m, char *out, size_t maxlen, const char *why)
{
	int was = m->err;

	if (ipc_get_str(m, out, maxlen) == 0)
		return 0;
	if (!was)
		m->why = why;
	return -1;
}

/* A u8 that must be 0 or 1. */
static int
get_flag(struct ipc_msg *m, uint8_t *v, const char *why)
{
	if (get_u8(m, v, why) == -1)
		return -1;
	if (*v > 1) {
		*v = 0;
		return proto_fail(m, why);
	}
	return 0;
}

/* An optional integer: absent values are 0 on the wire, nothing else. */
static int
get_opt(struct ipc_msg *m, uint8_t *has, int64_t *v, const char *why)
{
	if (get_flag(m, has, why) == -1 || get_i64(m, v, why) == -1)
		return -1;
	if (!*has && *v != 0) {
		*v = 0;
		return proto_fail(m, why);
	}
	return 0;
}

static void
put_opt(struct ipc_buf *b, uint8_t has, int64_t v)
{
	ipc_put_u8(b, has);
	ipc_put_i64(b, has ? v : 0);
}

/* Checks the type, so a decoder never reads another type's layout. */
static int
dec_type(struct ipc_msg *m, uint32_t want, uint32_t also)
{
	if (m->err)
		return -1;
	if (m->hdr.type != want && m->hdr.type != also)
		return proto_fail(m, "message type does not match its decoder");
	return 0;
}

/* Layout, then meaning; a failed decode leaves a zeroed struct. */
static int
dec_end(struct ipc_msg *m, const char *why, void *s, size_t size)
{
	if (ipc_end(m) == 0 && why != NULL)
		proto_fail(m, why);
	if (m->err) {
		memset(s, 0, size);
		return -1;
	}
	return 0;
}

static int
enc_end(struct ipc_buf *b, const char *why)
{
	if (why != NULL) {
		b->err = 1;
		return -1;
	}
	return ipc_finish(b);
}

static int
ascii_field(const char *s, size_t max, int empty_ok)
{
	size_t len = strnlen(s, max + 1);

	if (len > max || (len == 0 && !empty_ok))
		return 0;
	return printable_ascii(s, len);
}

static int
text_field(const char *s, size_t max)
{
	size_t len = strnlen(s, max + 1);

	return len <= max && text_ok(s, len);
}

/*
 * "" or 2026-05-07T12:34:56.000Z exactly: each byte less its pattern byte
 * is below 10 where a digit goes ('0'..'9') and 0 elsewhere (the same
 * byte).  No early exit, so that the compiler checks 8 bytes at a time.
 */
static int
time_field(const char *s)
{
	static const char pat[ISO_TIME_LEN] = "0000-00-00T00:00:00.000Z";
	static const unsigned char span[ISO_TIME_LEN] = {
		10, 10, 10, 10, 1, 10, 10, 1, 10, 10, 1, 10, 10, 1, 10, 10, 1,
		10, 10, 1, 10, 10, 10, 1
	};
	unsigned bad = 0;
	size_t i;

	if (s[0] == '\0')
		return 1;
	if (strnlen(s, ISO_TIME_LEN + 1) != ISO_TIME_LEN)
		return 0;
	for (i = 0; i < ISO_TIME_LEN; i++)
		bad |= (unsigned char)(s[i] - pat[i]) >= span[i];
	return bad == 0;
}

static int
cents_field(int64_t v)
{
	return v >= -BALANCE_CENTS_MAX && v <= BALANCE_CENTS_MAX;
}

/*
 * The caller block, shared by every request.
 */

static void
enc_caller(struct ipc_buf *b, const struct msg_caller *c)
{
	ipc_put_u32(b, c->uid);
	ipc_put_u32(b, c->gid);
	ipc_put_u32(b, c->pid);
	ipc_put_str(b, c->agent, AGENT_LABEL_MAX);
}

static int
dec_caller(struct ipc_msg *m, struct msg_caller *c)
{
	get_u32(m, &c->uid, BAD("caller uid"));
	get_u32(m, &c->gid, BAD("caller gid"));
	get_u32(m, &c->pid, BAD("caller pid"));
	return get_str(m, c->agent, AGENT_LABEL_MAX, BAD("caller agent"));
}

/*
 * HELLO and CONFIG.
 */

static const char *
check_hello(const struct msg_hello *h)
{
	return h->pid == 0 ? "hello pid must not be 0" : NULL;
}

int
msg_hello_enc(struct ipc_buf *b, uint32_t reqid, const struct msg_hello *h)
{
	ipc_begin(b, MSG_HELLO, reqid);
	ipc_put_u32(b, h->pid);
	return enc_end(b, check_hello(h));
}

int
msg_hello_dec(struct ipc_msg *m, struct msg_hello *h)
{
	memset(h, 0, sizeof(*h));
	dec_type(m, MSG_HELLO, MSG_HELLO);
	get_u32(m, &h->pid, BAD("pid"));
	return dec_end(m, check_hello(h), h, sizeof(*h));
}

static const char *
check_config(const struct msg_config *c)
{
	if (c->max_conns_per_uid < 1 || c->max_conns_per_uid > IPC_CONNS_MAX)
		return "max_conns_per_uid must be from 1 to 65536";
	if (c->idle_timeout_s < 1 || c->idle_timeout_s > IPC_TIMEOUT_S_MAX)
		return "idle_timeout_s must be from 1 to 86400";
	if (c->max_wait_s > IPC_TIMEOUT_S_MAX)
		return "max_wait_s must be from 0 to 86400";
	return NULL;
}

int
msg_config_enc(struct ipc_buf *b, uint32_t reqid, const struct msg_config *c)
{
	ipc_begin(b, MSG_CONFIG, reqid);
	ipc_put_u32(b, c->max_conns_per_uid);
	ipc_put_u32(b, c->idle_timeout_s);
	ipc_put_u32(b, c->max_wait_s);
	return enc_end(b, check_config(c));
}

int
msg_config_dec(struct ipc_msg *m, struct msg_config *c)
{
	memset(c, 0, sizeof(*c));
	dec_type(m, MSG_CONFIG, MSG_CONFIG);
	get_u32(m, &c->max_conns_per_uid, BAD("max_conns_per_uid"));
	get_u32(m, &c->idle_timeout_s, BAD("idle_timeout_s"));
	get_u32(m, &c->max_wait_s, BAD("max_wait_s"));
	return dec_end(m, check_config(c), c, sizeof(*c));
}

/*
 * The requests.
 */

int
msg_create_spend_enc(struct ipc_buf *b, uint32_t reqid,
    const struct msg_create_spend *r)
{
	ipc_begin(b, MSG_CREATE_SPEND, reqid);
	enc_caller(b, &r->caller);
	ipc_put_i64(b, r->amount_cents);
	ipc_put_str(b, r->currency, CURRENCY_LEN);
	ipc_put_str(b, r->merchant_name, MERCHANT_NAME_MAX);
	ipc_put_str(b, r->reason, REASON_MAX);
	ipc_put_str(b, r->idempotency_key, IDEMPOTENCY_KEY_MAX);
	return enc_end(b, spend_check_request(r));
}

int
msg_create_spend_dec(struct ipc_msg *m, struct msg_create_spend *r)
{
	memset(r, 0, sizeof(*r));
	dec_type(m, MSG_CREATE_SPEND, MSG_CREATE_SPEND);
	dec_caller(m, &r->caller);
	get_i64(m, &r->amount_cents, BAD("amount_cents"));
	get_str(m, r->currency, CURRENCY_LEN, BAD("currency"));
	get_str(m, r->merchant_name, MERCHANT_NAME_MAX, BAD("merchant_name"));
	get_str(m, r->reason, REASON_MAX, BAD("reason"));
	get_str(m, r->idempotency_key, IDEMPOTENCY_KEY_MAX,
	    BAD("idempotency_key"));
	return dec_end(m, spend_check_request(r), r, sizeof(*r));
}

int
msg_get_balance_enc(struct ipc_buf *b, uint32_t reqid,
    const struct msg_get_balance *g)
{
	ipc_begin(b, MSG_GET_BALANCE, reqid);
	enc_caller(b, &g->caller);
	return enc_end(b, spend_check_caller(&g->caller));
}

int
msg_get_balance_dec(struct ipc_msg *m, struct msg_get_balance *g)
{
	memset(g, 0, sizeof(*g));
	dec_type(m, MSG_GET_BALANCE, MSG_GET_BALANCE);
	dec_caller(m, &g->caller);
	return dec_end(m, spend_check_caller(&g->caller), g, sizeof(*g));
}

static const char *
check_get_spend(const struct msg_get_spend *g)
{
	const char *why;

	if ((why = spend_check_caller(&g->caller)) != NULL)
		return why;
	return spend_check_ref(g->id);
}

int
msg_get_spend_enc(struct ipc_buf *b, uint32_t reqid,
    const struct msg_get_spend *g)
{
	ipc_begin(b, MSG_GET_SPEND, reqid);
	enc_caller(b, &g->caller);
	ipc_put_str(b, g->id, SPEND_ID_MAX);
	return enc_end(b, check_get_spend(g));
}

int
msg_get_spend_dec(struct ipc_msg *m, struct msg_get_spend *g)
{
	memset(g, 0, sizeof(*g));
	dec_type(m, MSG_GET_SPEND, MSG_GET_SPEND);
	dec_caller(m, &g->caller);
	get_str(m, g->id, SPEND_ID_MAX, BAD("id"));
	return dec_end(m, check_get_spend(g), g, sizeof(*g));
}

static const char *
check_wait_spend(const struct msg_wait_spend *w)
{
	const char *why;

	if ((why = spend_check_caller(&w->caller)) != NULL ||
	    (why = spend_check_ref(w->id)) != NULL)
		return why;
	if (w->timeout_s > IPC_TIMEOUT_S_MAX)
		return "timeout_s must be from 0 to 86400";
	return NULL;
}

int
msg_wait_spend_enc(struct ipc_buf *b, uint32_t reqid,
    const struct msg_wait_spend *w)
{
	ipc_begin(b, MSG_WAIT_SPEND, reqid);
	enc_caller(b, &w->caller);
	ipc_put_str(b, w->id, SPEND_ID_MAX);
	ipc_put_u32(b, w->timeout_s);
	return enc_end(b, check_wait_spend(w));
}

int
msg_wait_spend_dec(struct ipc_msg *m, struct msg_wait_spend *w)
{
	memset(w, 0, sizeof(*w));
	dec_type(m, MSG_WAIT_SPEND, MSG_WAIT_SPEND);
	dec_caller(m, &w->caller);
	get_str(m, w->id, SPEND_ID_MAX, BAD("id"));
	get_u32(m, &w->timeout_s, BAD("timeout_s"));
	return dec_end(m, check_wait_spend(w), w, sizeof(*w));
}

/*
 * The spend object.
 */

static const char *
check_spend_obj(const struct spend_obj *s)
{
	const char *why;

	if ((why = spend_check_status(s->status)) != NULL)
		return why;
	/*
	 * A spend Dino has not named yet (submitting, held) may have no id;
	 * one held for an operator is reported under its local hold_ id to
	 * an agent that asks by that id (broker/ops.c).
	 */
	if (!(s->id[0] == '\0' && (strcmp(s->status, "submitting") == 0 ||
	    strcmp(s->status, "held") == 0)) &&
	    (why = spend_check_ref(s->id)) != NULL)
		return why;
	if (!text_field(s->decision_reason, DECISION_REASON_MAX))
		return "decision_reason must be at most 200 bytes of UTF-8 "
		    "text without control characters";
	if (!ascii_field(s->budget_period, BUDGET_PERIOD_MAX, 1))
		return "budget_period must be at most 16 printable ASCII "
		    "characters";
	if (s->has_remaining > 1 ||
	    (!s->has_remaining && (s->remaining_budget_cents != 0 ||
	    s->remaining_monthly_budget_cents != 0)) ||
	    !cents_field(s->remaining_budget_cents) ||
	    !cents_field(s->remaining_monthly_budget_cents))
		return "remaining budgets must be absent, or present and "
		    "within 10^15 cents";
	if ((why = spend_check_amount(s->amount_cents)) != NULL ||
	    (why = spend_check_currency(s->currency)) != NULL ||
	    (why = spend_check_merchant(s->merchant_name)) != NULL ||
	    (why = spend_check_reason(s->reason)) != NULL)
		return why;
	return NULL;
}

/* The second half, split only to keep each function short. */
static const char *
check_spend_obj_tail(const struct spend_obj *s)
{
	if (!ascii_field(s->approval_url, APPROVAL_URL_MAX, 1) ||
	    (s->approval_url[0] != '\0' &&
	    strncmp(s->approval_url, "https://", 8) != 0 &&
	    strncmp(s->approval_url, "http://", 7) != 0))
		return "approval_url must be empty or an http(s) URL of at "
		    "most 512 printable ASCII characters";
	if (!ascii_field(s->team_id, ACCOUNT_ID_MAX, 1))
		return "team_id must be at most 64 printable ASCII characters";
	if (!ascii_field(s->agent_account_id, ACCOUNT_ID_MAX, 1))
		return "agent_account_id must be at most 64 printable ASCII "
		    "characters";
	if (!time_field(s->decided_at))
		return "decided_at must be empty or YYYY-MM-DDTHH:MM:SS.mmmZ";
	if (!time_field(s->created_at))
		return "created_at must be empty or YYYY-MM-DDTHH:MM:SS.mmmZ";
	if (!time_field(s->updated_at))
		return "updated_at must be empty or YYYY-MM-DDTHH:MM:SS.mmmZ";
	return spend_check_idempotency_key(s->idempotency_key);
}

/* What a spend message carries besides the spend itself. */
static const char *
check_spend_head(uint32_t type, uint32_t reqid, uint8_t replayed,
    uint8_t timed_out)
{
	if (type != MSG_SPEND && type != MSG_SPEND_UPDATE)
		return "spend type must be MSG_SPEND or MSG_SPEND_UPDATE";
	if (type == MSG_SPEND_UPDATE && reqid != 0)
		return "a spend update must carry reqid 0";
	if (replayed > 1 || timed_out > 1)
		return "replayed and timed_out must be 0 or 1";
	return NULL;
}

static const char *
check_spend(uint32_t type, uint32_t reqid, const struct msg_spend *sp)
{
	const char *why;

	if ((why = check_spend_head(type, reqid, sp->replayed,
	    sp->timed_out)) != NULL ||
	    (why = check_spend_obj(&sp->spend)) != NULL)
		return why;
	return check_spend_obj_tail(&sp->spend);
}

int
msg_spend_enc(struct ipc_buf *b, uint32_t type, uint32_t reqid,
    const struct msg_spend *sp)
{
	const struct spend_obj *s = &sp->spend;

	ipc_begin(b, type, reqid);
	ipc_put_u8(b, sp->replayed);
	ipc_put_u8(b, sp->timed_out);
	ipc_put_str(b, s->id, SPEND_ID_MAX);
	ipc_put_str(b, s->status, STATUS_MAX);
	ipc_put_str(b, s->decision_reason, DECISION_REASON_MAX);
	ipc_put_str(b, s->budget_period, BUDGET_PERIOD_MAX);
	ipc_put_u8(b, s->has_remaining);
	ipc_put_i64(b, s->remaining_budget_cents);
	ipc_put_i64(b, s->remaining_monthly_budget_cents);
	ipc_put_i64(b, s->amount_cents);
	ipc_put_str(b, s->currency, CURRENCY_LEN);
	ipc_put_str(b, s->merchant_name, MERCHANT_NAME_MAX);
	ipc_put_str(b, s->reason, REASON_MAX);
	ipc_put_str(b, s->approval_url, APPROVAL_URL_MAX);
	ipc_put_str(b, s->team_id, ACCOUNT_ID_MAX);
	ipc_put_str(b, s->agent_account_id, ACCOUNT_ID_MAX);
	ipc_put_str(b, s->decided_at, ISO_TIME_LEN);
	ipc_put_str(b, s->created_at, ISO_TIME_LEN);
	ipc_put_str(b, s->updated_at, ISO_TIME_LEN);
	ipc_put_str(b, s->idempotency_key, IDEMPOTENCY_KEY_MAX);
	return enc_end(b, check_spend(type, reqid, sp));
}

/*
 * The spend in from, built by msg_spend_enc(), as type, reqid and
 * replayed: the bytes msg_spend_enc() would build from the same spend.
 * The spend was checked when from was built; only the head is new.
 */
int
msg_spend_reenc(struct ipc_buf *b, const struct ipc_buf *from, uint32_t type,
    uint32_t reqid, uint8_t replayed)
{
	struct ipc_msg m;
	uint8_t was_replayed, timed_out;

	b->err = 1;
	if (from->err || ipc_open(&m, from->data, from->len) == -1 ||
	    dec_type(&m, MSG_SPEND, MSG_SPEND_UPDATE) == -1 ||
	    ipc_get_u8(&m, &was_replayed) == -1 ||
	    ipc_get_u8(&m, &timed_out) == -1 ||
	    check_spend_head(type, reqid, replayed, timed_out) != NULL ||
	    ipc_copy(b, from, type, reqid) == -1)
		return -1;
	/* The first byte of the layout. */
	b->data[IPC_HDR_LEN] = replayed;
	return 0;
}

static void
dec_spend_obj(struct ipc_msg *m, struct spend_obj *s)
{
	get_str(m, s->id, SPEND_ID_MAX, BAD("id"));
	get_str(m, s->status, STATUS_MAX, BAD("status"));
	get_str(m, s->decision_reason, DECISION_REASON_MAX,
	    BAD("decision_reason"));
	get_str(m, s->budget_period, BUDGET_PERIOD_MAX, BAD("budget_period"));
	get_flag(m, &s->has_remaining, BAD("has_remaining"));
	get_i64(m, &s->remaining_budget_cents, BAD("remaining_budget_cents"));
	get_i64(m, &s->remaining_monthly_budget_cents,
	    BAD("remaining_monthly_budget_cents"));
	get_i64(m, &s->amount_cents, BAD("amount_cents"));
	get_str(m, s->currency, CURRENCY_LEN, BAD("currency"));
	get_str(m, s->merchant_name, MERCHANT_NAME_MAX, BAD("merchant_name"));
	get_str(m, s->reason, REASON_MAX, BAD("reason"));
	get_str(m, s->approval_url, APPROVAL_URL_MAX, BAD("approval_url"));
	get_str(m, s->team_id, ACCOUNT_ID_MAX, BAD("team_id"));
	get_str(m, s->agent_account_id, ACCOUNT_ID_MAX,
	    BAD("agent_account_id"));
	get_str(m, s->decided_at, ISO_TIME_LEN, BAD("decided_at"));
	get_str(m, s->created_at, ISO_TIME_LEN, BAD("created_at"));
	get_str(m, s->updated_at, ISO_TIME_LEN, BAD("updated_at"));
	get_str(m, s->idempotency_key, IDEMPOTENCY_KEY_MAX,
	    BAD("idempotency_key"));
}

int
msg_spend_dec(struct ipc_msg *m, struct msg_spend *sp)
{
	memset(sp, 0, sizeof(*sp));
	dec_type(m, MSG_SPEND, MSG_SPEND_UPDATE);
	get_flag(m, &sp->replayed, BAD("replayed"));
	get_flag(m, &sp->timed_out, BAD("timed_out"));
	dec_spend_obj(m, &sp->spend);
	return dec_end(m, check_spend(m->hdr.type, m->hdr.reqid, sp), sp,
	    sizeof(*sp));
}

/*
 * BALANCE and ERROR.
 */

static const char *
check_balance(const struct msg_balance *bal)
{
	size_t i;

	if (bal->currency[0] != '\0' &&
	    spend_check_currency(bal->currency) != NULL)
		return "currency must be empty or 3 lowercase letters";
	if (!ascii_field(bal->budget_period, BUDGET_PERIOD_MAX, 1))
		return "budget_period must be at most 16 printable ASCII "
		    "characters";
	for (i = 0; i < BAL_NFIELDS; i++) {
		if (bal->has[i] > 1 || (!bal->has[i] && bal->value[i] != 0) ||
		    !cents_field(bal->value[i]))
			return "balance fields must be absent, or present and "
			    "within 10^15 cents";
	}
	return NULL;
}

int
msg_balance_enc(struct ipc_buf *b, uint32_t reqid,
    const struct msg_balance *bal)
{
	size_t i;

	ipc_begin(b, MSG_BALANCE, reqid);
	ipc_put_str(b, bal->currency, CURRENCY_LEN);
	ipc_put_str(b, bal->budget_period, BUDGET_PERIOD_MAX);
	for (i = 0; i < BAL_NFIELDS; i++)
		put_opt(b, bal->has[i], bal->value[i]);
	return enc_end(b, check_balance(bal));
}

static const char *const balance_why[BAL_NFIELDS] = {
	[BAL_WALLET_AVAILABLE] = BAD("wallet_available_cents"),
	[BAL_BUDGET] = BAD("budget_cents"),
	[BAL_SPENT] = BAD("spent_cents"),
	[BAL_REMAINING_BUDGET] = BAD("remaining_budget_cents"),
	[BAL_REMAINING_MONTHLY] = BAD("remaining_monthly_budget_cents"),
};

int
msg_balance_dec(struct ipc_msg *m, struct msg_balance *bal)
{
	size_t i;

	memset(bal, 0, sizeof(*bal));
	dec_type(m, MSG_BALANCE, MSG_BALANCE);
	get_str(m, bal->currency, CURRENCY_LEN, BAD("currency"));
	get_str(m, bal->budget_period, BUDGET_PERIOD_MAX, BAD("budget_period"));
	for (i = 0; i < BAL_NFIELDS; i++)
		get_opt(m, &bal->has[i], &bal->value[i], balance_why[i]);
	return dec_end(m, check_balance(bal), bal, sizeof(*bal));
}

static const char *
check_error(const struct msg_error *e)
{
	size_t i, len;

	if (e->http_status < 400 || e->http_status > 599)
		return "http_status must be from 400 to 599";
	len = strnlen(e->code, ERROR_CODE_MAX + 1);
	if (len < 1 || len > ERROR_CODE_MAX)
		return "error code must be 1-48 of a-z, 0-9 and _";
	for (i = 0; i < len; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789_",
		    e->code[i]) == NULL)
			return "error code must be 1-48 of a-z, 0-9 and _";
	if (!text_field(e->message, ERROR_MESSAGE_MAX))
		return "error message must be at most 200 bytes of UTF-8 "
		    "text without control characters";
	return NULL;
}

int
msg_error_enc(struct ipc_buf *b, uint32_t reqid, const struct msg_error *e)
{
	ipc_begin(b, MSG_ERROR, reqid);
	ipc_put_u32(b, e->http_status);
	ipc_put_str(b, e->code, ERROR_CODE_MAX);
	ipc_put_str(b, e->message, ERROR_MESSAGE_MAX);
	return enc_end(b, check_error(e));
}

int
msg_error_dec(struct ipc_msg *m, struct msg_error *e)
{
	memset(e, 0, sizeof(*e));
	dec_type(m, MSG_ERROR, MSG_ERROR);
	get_u32(m, &e->http_status, BAD("http_status"));
	get_str(m, e->code, ERROR_CODE_MAX, BAD("code"));
	get_str(m, e->message, ERROR_MESSAGE_MAX, BAD("message"));
	return dec_end(m, check_error(e), e, sizeof(*e));
}

const char *
msg_type_name(uint32_t type)
{
	switch (type) {
	case MSG_HELLO:
		return "hello";
	case MSG_CONFIG:
		return "config";
	case MSG_CREATE_SPEND:
		return "create_spend";
	case MSG_SPEND:
		return "spend";
	case MSG_GET_BALANCE:
		return "get_balance";
	case MSG_BALANCE:
		return "balance";
	case MSG_GET_SPEND:
		return "get_spend";
	case MSG_ERROR:
		return "error";
	case MSG_WAIT_SPEND:
		return "wait_spend";
	case MSG_SPEND_UPDATE:
		return "spend_update";
	}
	return "unknown";
}
