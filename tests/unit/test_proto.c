/*
 * Unit tests for common/proto.c.  Every message type runs through the same
 * table: a typical and a max-length struct round-trip; then their encodings
 * are cut, extended, retyped and rewritten field by field, and every such
 * copy must fail to decode.  The test knows each layout independently of
 * proto.c (the schema strings below), so a layout change shows up here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "dinolimits.h"
#include "proto.h"
#include "spend.h"
#include "util.h"
#include "tap.h"

#define REQID	7

/* Layouts: b = u8, w = u32, q = i64, s = string. */
#define CALLER	"wwws"

/*
 * The encoding taken apart into fields, so a test can change one and put
 * the message back together without the encoder's checks.
 */
struct field {
	char		 kind;
	int64_t		 v;
	size_t		 slen;
	unsigned char	 s[IPC_MSG_MAX];
};

struct fields {
	size_t		 n;
	struct field	 f[32];
};

static int
split(const unsigned char *buf, size_t n, const char *schema,
    struct fields *fs)
{
	size_t off = IPC_HDR_LEN, i;
	uint32_t u32;
	uint16_t u16;
	struct field *f;

	fs->n = strlen(schema);
	for (i = 0; i < fs->n; i++) {
		f = &fs->f[i];
		f->kind = schema[i];
		switch (f->kind) {
		case 'b':
			if (off + 1 > n)
				return -1;
			f->v = buf[off++];
			break;
		case 'w':
			if (off + 4 > n)
				return -1;
			memcpy(&u32, buf + off, 4);
			f->v = u32;
			off += 4;
			break;
		case 'q':
			if (off + 8 > n)
				return -1;
			memcpy(&f->v, buf + off, 8);
			off += 8;
			break;
		case 's':
			if (off + 2 > n)
				return -1;
			memcpy(&u16, buf + off, 2);
			off += 2;
			if (off + u16 + 1 > n || buf[off + u16] != '\0')
				return -1;
			f->slen = u16;
			memcpy(f->s, buf + off, u16);
			off += u16 + 1;
			break;
		}
	}
	return off == n ? 0 : -1;
}

/* Builds the raw message; nul is the byte written after each string. */
static size_t
join(const struct fields *fs, uint32_t type, uint32_t reqid,
    unsigned char *out, size_t outlen)
{
	static struct ipc_buf b;
	const struct field *f;
	uint16_t u16;
	uint32_t len;
	size_t i, k;

	ipc_begin(&b, type, reqid);
	for (i = 0; i < fs->n; i++) {
		f = &fs->f[i];
		if (f->kind == 'b')
			ipc_put_u8(&b, (uint8_t)f->v);
		else if (f->kind == 'w')
			ipc_put_u32(&b, (uint32_t)f->v);
		else if (f->kind == 'q')
			ipc_put_i64(&b, f->v);
		else {
			u16 = (uint16_t)f->slen;
			ipc_put_u8(&b, ((unsigned char *)&u16)[0]);
			ipc_put_u8(&b, ((unsigned char *)&u16)[1]);
			for (k = 0; k < f->slen; k++)
				ipc_put_u8(&b, f->s[k]);
			ipc_put_u8(&b, 0);
		}
	}
	if (b.err || b.len > outlen)
		return 0;
	len = (uint32_t)b.len;
	memcpy(b.data + 4, &len, 4);
	memcpy(out, b.data, b.len);
	return b.len;
}

static void
set_str(struct field *f, const char *s)
{
	f->slen = strlen(s);
	memcpy(f->s, s, f->slen);
}

/* Encoders and decoders behind one signature. */
typedef int (*enc_fn)(struct ipc_buf *, uint32_t, const void *);
typedef int (*dec_fn)(struct ipc_msg *, void *);
typedef void (*fill_fn)(void *, int);

#define WRAP(name, T)							\
static int								\
name##_e(struct ipc_buf *b, uint32_t reqid, const void *v)		\
{									\
	return msg_##name##_enc(b, reqid, (const T *)v);		\
}									\
static int								\
name##_d(struct ipc_msg *m, void *v)					\
{									\
	return msg_##name##_dec(m, (T *)v);				\
}

WRAP(hello, struct msg_hello)
WRAP(config, struct msg_config)
WRAP(create_spend, struct msg_create_spend)
WRAP(get_balance, struct msg_get_balance)
WRAP(get_spend, struct msg_get_spend)
WRAP(wait_spend, struct msg_wait_spend)
WRAP(balance, struct msg_balance)
WRAP(error, struct msg_error)

static int
spend_e(struct ipc_buf *b, uint32_t reqid, const void *v)
{
	return msg_spend_enc(b, MSG_SPEND, reqid, v);
}

static int
update_e(struct ipc_buf *b, uint32_t reqid, const void *v)
{
	return msg_spend_enc(b, MSG_SPEND_UPDATE, reqid, v);
}

static int
spend_d(struct ipc_msg *m, void *v)
{
	return msg_spend_dec(m, v);
}

/* A string of n copies of c into dst. */
static void
fill_str(char *dst, char c, size_t n)
{
	memset(dst, c, n);
	dst[n] = '\0';
}

static void
fill_caller(struct msg_caller *c, int max)
{
	c->uid = max ? UINT32_MAX - 1 : 1000;
	c->gid = max ? UINT32_MAX - 1 : 100;
	c->pid = max ? UINT32_MAX : 4242;
	if (max)
		fill_str(c->agent, 'a', AGENT_LABEL_MAX);
	else
		strcpy(c->agent, "");
}

static void
fill_hello(void *v, int max)
{
	struct msg_hello *h = v;

	h->pid = max ? UINT32_MAX : 1;
}

static void
fill_config(void *v, int max)
{
	struct msg_config *c = v;

	c->max_conns_per_uid = max ? IPC_CONNS_MAX : 1;
	c->idle_timeout_s = max ? IPC_TIMEOUT_S_MAX : 1;
	c->max_wait_s = max ? IPC_TIMEOUT_S_MAX : 0;
}

static void
fill_create(void *v, int max)
{
	struct msg_create_spend *r = v;

	fill_caller(&r->caller, max);
	r->amount_cents = max ? AMOUNT_CENTS_MAX : 1250;
	strcpy(r->currency, "usd");
	if (max) {
		fill_str(r->merchant_name, 'm', MERCHANT_NAME_MAX);
		fill_str(r->reason, 'r', REASON_MAX);
		fill_str(r->idempotency_key, 'k', IDEMPOTENCY_KEY_MAX);
	} else {
		strcpy(r->merchant_name, "Caf\xc3\xa9 Acme");
		strcpy(r->reason, "");
		strcpy(r->idempotency_key, "order-42");
	}
}

static void
fill_get_balance(void *v, int max)
{
	fill_caller(&((struct msg_get_balance *)v)->caller, max);
}

static void
fill_get_spend(void *v, int max)
{
	struct msg_get_spend *g = v;

	fill_caller(&g->caller, max);
	strcpy(g->id, "req_01hzy3k9m2n4p6q8r0s1t2v3w4");
}

static void
fill_wait_spend(void *v, int max)
{
	struct msg_wait_spend *w = v;

	fill_caller(&w->caller, max);
	strcpy(w->id, "req_01hzy3k9m2n4p6q8r0s1t2v3w4");
	w->timeout_s = max ? IPC_TIMEOUT_S_MAX : 30;
}

static void
fill_spend_max(struct spend_obj *s)
{
	fill_str(s->decision_reason, 'd', DECISION_REASON_MAX);
	fill_str(s->budget_period, 'p', BUDGET_PERIOD_MAX);
	s->remaining_budget_cents = BALANCE_CENTS_MAX;
	s->remaining_monthly_budget_cents = -BALANCE_CENTS_MAX;
	s->amount_cents = AMOUNT_CENTS_MAX;
	fill_str(s->merchant_name, 'm', MERCHANT_NAME_MAX);
	fill_str(s->reason, 'r', REASON_MAX);
	fill_str(s->approval_url, 'u', APPROVAL_URL_MAX);
	memcpy(s->approval_url, "https://", 8);
	fill_str(s->team_id, 't', ACCOUNT_ID_MAX);
	fill_str(s->agent_account_id, 'g', ACCOUNT_ID_MAX);
	strcpy(s->decided_at, "2026-05-07T12:35:00.999Z");
	fill_str(s->idempotency_key, 'k', IDEMPOTENCY_KEY_MAX);
}

static void
fill_spend(void *v, int max)
{
	struct msg_spend *sp = v;
	struct spend_obj *s = &sp->spend;

	sp->replayed = 1;
	sp->timed_out = max;
	strcpy(s->id, "req_01hzy3k9m2n4p6q8r0s1t2v3w4");
	strcpy(s->status, "needs_approval");
	strcpy(s->decision_reason, "Above the approval threshold");
	strcpy(s->budget_period, "monthly");
	s->has_remaining = 1;
	s->remaining_budget_cents = 50000;
	s->remaining_monthly_budget_cents = 75000;
	s->amount_cents = 1250;
	strcpy(s->currency, "usd");
	strcpy(s->merchant_name, "Acme");
	strcpy(s->reason, "build server");
	strcpy(s->approval_url, "http://127.0.0.1:8080/approve/req_1");
	strcpy(s->team_id, "team_01");
	strcpy(s->agent_account_id, "acct_01");
	strcpy(s->created_at, "2026-05-07T12:34:56.000Z");
	strcpy(s->updated_at, "2026-05-07T12:34:56.000Z");
	if (max)
		fill_spend_max(s);
}

static void
fill_balance(void *v, int max)
{
	struct msg_balance *bal = v;
	size_t i;

	strcpy(bal->currency, "usd");
	if (max)
		fill_str(bal->budget_period, 'p', BUDGET_PERIOD_MAX);
	else
		strcpy(bal->budget_period, "monthly");
	for (i = 0; i < BAL_NFIELDS; i++) {
		/* The typical one leaves BAL_SPENT absent. */
		bal->has[i] = max || i != BAL_SPENT;
		if (bal->has[i])
			bal->value[i] = max ? (i % 2 ? -BALANCE_CENTS_MAX :
			    BALANCE_CENTS_MAX) : (int64_t)(i + 1) * 1000;
	}
}

static void
fill_error(void *v, int max)
{
	struct msg_error *e = v;

	e->http_status = max ? 599 : 400;
	if (max) {
		fill_str(e->code, 'e', ERROR_CODE_MAX);
		fill_str(e->message, 'x', ERROR_MESSAGE_MAX);
	} else {
		strcpy(e->code, "invalid_request");
		strcpy(e->message, "amount_cents must be an integer");
	}
}

/* One field set to a value (string if s != NULL) and whether it decodes. */
struct mut {
	int		 idx;
	int64_t		 v;
	const char	*s;
	int		 ok;
	const char	*name;
};

#define CALLER_MUTS							\
	{ 0, UINT32_MAX, NULL, 0, "uid -1" },				\
	{ 1, UINT32_MAX, NULL, 0, "gid -1" },				\
	{ 0, 0, NULL, 1, "uid 0" },					\
	{ 2, 0, NULL, 1, "pid 0" },					\
	{ 3, 0, "a b", 0, "agent with space" },				\
	{ 3, 0, "a\x01", 0, "agent with control" },			\
	{ 3, 0, "\xc3\xa9", 0, "agent non-ascii" }

static const struct mut hello_muts[] = {
	{ 0, 0, NULL, 0, "pid 0" }, { 0, 1, NULL, 1, "pid 1" },
	{ -1, 0, NULL, 0, NULL },
};

static const struct mut config_muts[] = {
	{ 0, 0, NULL, 0, "max_conns 0" },
	{ 0, 65537, NULL, 0, "max_conns 65537" },
	{ 0, 65536, NULL, 1, "max_conns 65536" },
	{ 1, 0, NULL, 0, "idle 0" }, { 1, 86401, NULL, 0, "idle 86401" },
	{ 1, UINT32_MAX, NULL, 0, "idle ~0" }, { 2, 0, NULL, 1, "max_wait 0" },
	{ 2, 86400, NULL, 1, "max_wait 86400" },
	{ 2, 86401, NULL, 0, "max_wait 86401" },
	{ -1, 0, NULL, 0, NULL },
};

static const struct mut create_muts[] = {
	CALLER_MUTS,
	{ 4, 0, NULL, 0, "amount 0" }, { 4, -1, NULL, 0, "amount -1" },
	{ 4, 1, NULL, 1, "amount 1" },
	{ 4, 1000000000, NULL, 1, "amount 10^9" },
	{ 4, 1000000001, NULL, 0, "amount 10^9+1" },
	{ 4, INT64_MIN, NULL, 0, "amount INT64_MIN" },
	{ 4, INT64_MAX, NULL, 0, "amount INT64_MAX" },
	{ 5, 0, "USD", 0, "currency upper" }, { 5, 0, "us", 0, "currency 2" },
	{ 5, 0, "", 0, "currency empty" }, { 5, 0, "eur", 1, "currency eur" },
	{ 6, 0, "", 0, "merchant empty" }, { 6, 0, "a\nb", 0, "merchant LF" },
	{ 6, 0, "\xc0\xaf", 0, "merchant overlong" },
	{ 7, 0, "\x7f", 0, "reason DEL" }, { 7, 0, "\xff", 0, "reason 0xff" },
	{ 7, 0, "", 1, "reason empty" },
	{ 8, 0, "a b", 0, "key space" }, { 8, 0, "", 1, "key empty" },
	{ -1, 0, NULL, 0, NULL },
};

static const struct mut get_balance_muts[] = {
	CALLER_MUTS, { -1, 0, NULL, 0, NULL },
};

#define ID_MUTS(i)							\
	{ i, 0, "", 0, "id empty" },					\
	{ i, 0, "req_x", 0, "id short" },				\
	{ i, 0, "evt_01hzy3k9m2n4p6q8r0s1t2v3w4", 0, "id evt" },	\
	{ i, 0, "req_01hzy3k9m2n4p6q8r0s1t2v3wu", 0, "id letter u" },	\
	{ i, 0, "req_01hzy3k9m2n4p6q8r0s1t2v3w4x", 0, "id 31 chars" },	\
	{ i, 0, "req_../../../etc/passwd/aaaaaaa", 0, "id path" }

static const struct mut get_spend_muts[] = {
	CALLER_MUTS, ID_MUTS(4), { -1, 0, NULL, 0, NULL },
};

static const struct mut wait_spend_muts[] = {
	CALLER_MUTS, ID_MUTS(4),
	{ 5, 0, NULL, 1, "timeout 0" }, { 5, 86400, NULL, 1, "timeout 86400" },
	{ 5, 86401, NULL, 0, "timeout 86401" },
	{ 5, UINT32_MAX, NULL, 0, "timeout ~0" },
	{ -1, 0, NULL, 0, NULL },
};

static const struct mut spend_muts[] = {
	{ 0, 2, NULL, 0, "replayed 2" }, { 1, 255, NULL, 0, "timed_out 255" },
	ID_MUTS(2),
	{ 3, 0, "pending", 0, "status pending" },
	{ 3, 0, "", 0, "status empty" }, { 3, 0, "held", 1, "status held" },
	{ 3, 0, "APPROVED", 0, "status upper" },
	{ 4, 0, "a\nb", 0, "decision_reason LF" },
	{ 4, 0, "", 1, "decision_reason empty" },
	{ 5, 0, "a b", 0, "budget_period space" },
	{ 6, 0, NULL, 0, "has_remaining 0 with values" },
	{ 6, 2, NULL, 0, "has_remaining 2" },
	{ 7, 1000000000000001LL, NULL, 0, "remaining 10^15+1" },
	{ 8, -1000000000000001LL, NULL, 0, "monthly -10^15-1" },
	{ 7, -5, NULL, 1, "remaining negative" },
	{ 9, 0, NULL, 0, "amount 0" }, { 9, 1000000001, NULL, 0, "amount big" },
	{ 10, 0, "XYZ", 0, "currency upper" },
	{ 11, 0, "", 0, "merchant empty" },
	{ 12, 0, "\x1b[2J", 0, "reason escape" },
	{ 13, 0, "javascript:alert(1)", 0, "approval_url javascript" },
	{ 13, 0, "ftp://x", 0, "approval_url ftp" },
	{ 13, 0, "https://a b", 0, "approval_url space" },
	{ 13, 0, "", 1, "approval_url empty" },
	{ 14, 0, "a b", 0, "team_id space" },
	{ 15, 0, "\t", 0, "agent_account_id tab" },
	{ 16, 0, "2026-05-07 12:34:56.000Z", 0, "decided_at space" },
	{ 16, 0, "yesterday", 0, "decided_at word" },
	{ 16, 0, "", 1, "decided_at empty" },
	{ 17, 0, "2026-05-07T12:34:56Z", 0, "created_at no ms" },
	{ 18, 0, "2026-05-07T12:34:56.000z", 0, "updated_at lower z" },
	{ 18, 0, "2026-05-07T12:34:56.000+", 0, "updated_at offset" },
	{ 19, 0, "a b", 0, "idempotency_key space" },
	{ -1, 0, NULL, 0, NULL },
};

static const struct mut balance_muts[] = {
	{ 0, 0, "USD", 0, "currency upper" }, { 0, 0, "", 1, "currency empty" },
	{ 1, 0, "\x01", 0, "budget_period control" },
	{ 2, 2, NULL, 0, "flag 2" }, { 4, 3, NULL, 0, "flag 3" },
	{ 11, 1000000000000001LL, NULL, 0, "value 10^15+1" },
	{ 3, INT64_MIN, NULL, 0, "value INT64_MIN" },
	{ 2, 0, NULL, 0, "absent with a value" },
	{ -1, 0, NULL, 0, NULL },
};

static const struct mut error_muts[] = {
	{ 0, 399, NULL, 0, "status 399" }, { 0, 600, NULL, 0, "status 600" },
	{ 0, 200, NULL, 0, "status 200" }, { 0, 0, NULL, 0, "status 0" },
	{ 0, 404, NULL, 1, "status 404" },
	{ 1, 0, "", 0, "code empty" }, { 1, 0, "Bad", 0, "code upper" },
	{ 1, 0, "a-b", 0, "code dash" }, { 1, 0, "rate_limited", 1, "code ok" },
	{ 2, 0, "line\nbreak", 0, "message LF" },
	{ 2, 0, "", 1, "message empty" },
	{ -1, 0, NULL, 0, NULL },
};

struct tcase {
	const char		*name;
	uint32_t		 type;
	uint32_t		 also;	/* a second type the decoder takes */
	uint32_t		 reqid;
	const char		*schema;
	size_t			 size;
	enc_fn			 enc;
	dec_fn			 dec;
	fill_fn			 fill;
	const struct mut	*muts;
};

static const struct tcase cases[] = {
	{ "hello", MSG_HELLO, MSG_HELLO, REQID, "w", sizeof(struct msg_hello),
	    hello_e, hello_d, fill_hello, hello_muts },
	{ "config", MSG_CONFIG, MSG_CONFIG, REQID, "www",
	    sizeof(struct msg_config), config_e, config_d, fill_config,
	    config_muts },
	{ "create_spend", MSG_CREATE_SPEND, MSG_CREATE_SPEND, REQID,
	    CALLER "qssss", sizeof(struct msg_create_spend), create_spend_e,
	    create_spend_d, fill_create, create_muts },
	{ "get_balance", MSG_GET_BALANCE, MSG_GET_BALANCE, REQID, CALLER,
	    sizeof(struct msg_get_balance), get_balance_e, get_balance_d,
	    fill_get_balance, get_balance_muts },
	{ "get_spend", MSG_GET_SPEND, MSG_GET_SPEND, REQID, CALLER "s",
	    sizeof(struct msg_get_spend), get_spend_e, get_spend_d,
	    fill_get_spend, get_spend_muts },
	{ "wait_spend", MSG_WAIT_SPEND, MSG_WAIT_SPEND, REQID, CALLER "sw",
	    sizeof(struct msg_wait_spend), wait_spend_e, wait_spend_d,
	    fill_wait_spend, wait_spend_muts },
	{ "spend", MSG_SPEND, MSG_SPEND, REQID, "bbssssbqqqssssssssss",
	    sizeof(struct msg_spend), spend_e, spend_d, fill_spend,
	    spend_muts },
	{ "spend_update", MSG_SPEND_UPDATE, MSG_SPEND, 0,
	    "bbssssbqqqssssssssss", sizeof(struct msg_spend), update_e,
	    spend_d, fill_spend, spend_muts },
	{ "balance", MSG_BALANCE, MSG_BALANCE, REQID, "ssbqbqbqbqbq",
	    sizeof(struct msg_balance), balance_e, balance_d, fill_balance,
	    balance_muts },
	{ "error", MSG_ERROR, MSG_ERROR, REQID, "wss",
	    sizeof(struct msg_error), error_e, error_d, fill_error,
	    error_muts },
};

/* Fresh storage for each case: structs are large, keep them off the stack. */
static union {
	struct msg_hello	h;
	struct msg_config	c;
	struct msg_create_spend	r;
	struct msg_get_balance	gb;
	struct msg_get_spend	gs;
	struct msg_wait_spend	ws;
	struct msg_spend	sp;
	struct msg_balance	bal;
	struct msg_error	e;
} in_u, out_u;

static struct ipc_buf enc_buf;
static unsigned char pkt[IPC_MSG_MAX + 16];
static struct fields fs, fs2;

/* Opens and decodes n bytes of pkt; 0 when the decoder accepts them. */
static int
decode(const struct tcase *tc, const unsigned char *buf, size_t n,
    const char **why)
{
	struct ipc_msg m;
	int r;

	ipc_open(&m, buf, n);
	r = tc->dec(&m, &out_u);
	if (why != NULL)
		*why = m.why;
	if (r == 0 && (m.err || m.why != NULL))
		return -2;	/* inconsistent */
	if (r == -1 && (!m.err || m.why == NULL))
		return -2;
	return r;
}

static void
check(const struct tcase *tc, const char *variant, const char *what, int ok)
{
	char name[200];

	snprintf(name, sizeof(name), "%s %s: %s", tc->name, variant, what);
	CHECK(ok, name);
}

static void
set_len(unsigned char *buf, size_t n)
{
	uint32_t len = (uint32_t)n;

	memcpy(buf + 4, &len, 4);
}

static void
test_roundtrip(const struct tcase *tc, const char *v, size_t *np)
{
	static unsigned char again[IPC_MSG_MAX];
	size_t n;

	check(tc, v, "encodes", tc->enc(&enc_buf, tc->reqid, &in_u) == 0);
	n = *np = enc_buf.len;
	memcpy(pkt, enc_buf.data, n);
	check(tc, v, "decodes", decode(tc, pkt, n, NULL) == 0);
	check(tc, v, "decoded struct equals the original",
	    memcmp(&in_u, &out_u, tc->size) == 0);
	check(tc, v, "re-encoding gives the same bytes",
	    tc->enc(&enc_buf, tc->reqid, &out_u) == 0 && enc_buf.len == n &&
	    memcmp(enc_buf.data, pkt, n) == 0);
	check(tc, v, "layout matches the schema",
	    split(pkt, n, tc->schema, &fs) == 0);
	check(tc, v, "schema rebuilds the same bytes",
	    join(&fs, tc->type, tc->reqid, again, sizeof(again)) == n &&
	    memcmp(again, pkt, n) == 0);
}

static void
test_cuts(const struct tcase *tc, const char *v, size_t n)
{
	static unsigned char cut[IPC_MSG_MAX + 16];
	size_t l;
	int ok_fixed = 1, ok_raw = 1, ok_trail = 1;

	/* Every prefix, with the header len left and with it fixed. */
	for (l = 0; l < n; l++) {
		memcpy(cut, pkt, l);
		if (decode(tc, cut, l, NULL) != -1)
			ok_raw = 0;
		if (l >= IPC_HDR_LEN) {
			set_len(cut, l);
			if (decode(tc, cut, l, NULL) != -1)
				ok_fixed = 0;
		}
	}
	check(tc, v, "every truncated copy fails", ok_raw);
	check(tc, v, "every truncated copy with fixed len fails", ok_fixed);

	for (l = 0; l < 256; l += 85) {
		const char *why = NULL;

		memcpy(cut, pkt, n);
		cut[n] = (unsigned char)l;
		set_len(cut, n + 1);
		if (decode(tc, cut, n + 1, &why) != -1 || why == NULL ||
		    strcmp(why, "trailing bytes") != 0)
			ok_trail = 0;
	}
	check(tc, v, "one trailing byte fails", ok_trail);
	memcpy(cut, pkt, n);
	memset(cut + n, 0, 8);
	set_len(cut, n + 8);
	check(tc, v, "eight trailing zero bytes fail",
	    decode(tc, cut, n + 8, NULL) == -1);
}

static void
test_header(const struct tcase *tc, const char *v, size_t n)
{
	static unsigned char h[IPC_MSG_MAX + 16];
	uint32_t t, bad = 0, ver;
	int ok = 1;

	for (t = 0; t <= 16; t++) {
		if (t == tc->type || t == tc->also)
			continue;
		memcpy(h, pkt, n);
		memcpy(h, &t, 4);
		if (decode(tc, h, n, NULL) != -1)
			ok = 0;
	}
	t = UINT32_MAX;
	memcpy(h, &t, 4);
	if (decode(tc, h, n, NULL) != -1)
		ok = 0;
	check(tc, v, "every other type fails", ok);

	for (ver = 0; ver < 4; ver++) {
		if (ver == IPC_VERSION)
			continue;
		memcpy(h, pkt, n);
		memcpy(h + 12, &ver, 4);
		if (decode(tc, h, n, NULL) != -1)
			bad++;
	}
	check(tc, v, "wrong version fails", bad == 0);
	memcpy(h, pkt, n);
	set_len(h, IPC_MSG_MAX + 1);
	check(tc, v, "len above IPC_MSG_MAX fails",
	    decode(tc, h, n, NULL) == -1);
	check(tc, v, "msg_type_name knows it",
	    strcmp(msg_type_name(tc->type), "unknown") != 0);
}

/* Rebuilds pkt with field i changed and reports whether it decodes. */
static int
try_fields(const struct tcase *tc, const struct fields *f)
{
	static unsigned char buf[IPC_MSG_MAX + 16];
	size_t n;

	if ((n = join(f, tc->type, tc->reqid, buf, sizeof(buf))) == 0)
		return -1;
	return decode(tc, buf, n, NULL);
}

static void
test_strings(const struct tcase *tc, const char *v, int max)
{
	size_t i;
	int ok_nul = 1, ok_inner = 1, ok_over = 1, ok_long = 1, nstr = 0;
	static unsigned char buf[IPC_MSG_MAX + 16];
	size_t n, off;

	for (i = 0; i < fs.n; i++) {
		if (fs.f[i].kind != 's')
			continue;
		nstr++;
		/* Missing NUL: the terminator becomes a character. */
		fs2 = fs;
		fs2.n = i + 1;
		off = join(&fs2, tc->type, tc->reqid, buf, sizeof(buf)) - 1;
		n = join(&fs, tc->type, tc->reqid, buf, sizeof(buf));
		buf[off] = 'x';
		if (decode(tc, buf, n, NULL) != -1)
			ok_nul = 0;
		/* A NUL inside. */
		if (fs.f[i].slen > 0) {
			fs2 = fs;
			fs2.f[i].s[fs2.f[i].slen / 2] = '\0';
			if (try_fields(tc, &fs2) != -1)
				ok_inner = 0;
		}
		/* One byte over whatever is there; at max, past the limit. */
		fs2 = fs;
		fs2.f[i].s[fs2.f[i].slen++] = 'a';
		if (max && try_fields(tc, &fs2) != -1)
			ok_over = 0;
		/* Far over: 2000 bytes. */
		fs2 = fs;
		memset(fs2.f[i].s, 'a', 2000);
		fs2.f[i].slen = 2000;
		if (try_fields(tc, &fs2) != -1)
			ok_long = 0;
	}
	if (nstr == 0)
		return;
	check(tc, v, "every string without its NUL fails", ok_nul);
	check(tc, v, "every string with an inner NUL fails", ok_inner);
	if (max)
		check(tc, v, "every string one byte over its max fails",
		    ok_over);
	check(tc, v, "every string of 2000 bytes fails", ok_long);
}

static void
test_muts(const struct tcase *tc)
{
	const struct mut *mu;
	char what[160];
	int r;

	for (mu = tc->muts; mu->idx >= 0; mu++) {
		fs2 = fs;
		if (mu->s != NULL)
			set_str(&fs2.f[mu->idx], mu->s);
		else
			fs2.f[mu->idx].v = mu->v;
		r = try_fields(tc, &fs2);
		snprintf(what, sizeof(what), "%s %s", mu->name,
		    mu->ok ? "accepted" : "refused");
		check(tc, "field", what, r == (mu->ok ? 0 : -1));
	}
}

static void
test_case(const struct tcase *tc)
{
	static const char *variants[] = { "typical", "max" };
	size_t n;
	int max;

	for (max = 0; max < 2; max++) {
		memset(&in_u, 0, sizeof(in_u));
		tc->fill(&in_u, max);
		test_roundtrip(tc, variants[max], &n);
		test_cuts(tc, variants[max], n);
		test_header(tc, variants[max], n);
		test_strings(tc, variants[max], max);
		if (!max)
			test_muts(tc);
	}
}

static void
test_encoder_refuses(void)
{
	struct msg_create_spend r;
	struct msg_spend sp;
	struct msg_error e;
	struct msg_balance bal;

	memset(&r, 0, sizeof(r));
	fill_create(&r, 0);
	r.amount_cents = 0;
	CHECK(msg_create_spend_enc(&enc_buf, 1, &r) == -1 && enc_buf.err,
	    "encoder refuses amount 0");
	fill_create(&r, 0);
	strcpy(r.currency, "US");
	CHECK(msg_create_spend_enc(&enc_buf, 1, &r) == -1,
	    "encoder refuses bad currency");
	memset(&sp, 0, sizeof(sp));
	fill_spend(&sp, 0);
	CHECK(msg_spend_enc(&enc_buf, MSG_ERROR, 1, &sp) == -1,
	    "spend encoder refuses a foreign type");
	CHECK(msg_spend_enc(&enc_buf, MSG_SPEND_UPDATE, 1, &sp) == -1,
	    "spend update with a reqid refused");
	sp.spend.has_remaining = 0;
	CHECK(msg_spend_enc(&enc_buf, MSG_SPEND, 1, &sp) == -1,
	    "absent remaining with values refused");
	memset(&e, 0, sizeof(e));
	fill_error(&e, 0);
	e.http_status = 302;
	CHECK(msg_error_enc(&enc_buf, 1, &e) == -1, "error 302 refused");
	memset(&bal, 0, sizeof(bal));
	fill_balance(&bal, 0);
	bal.value[BAL_SPENT] = 5;
	CHECK(msg_balance_enc(&enc_buf, 1, &bal) == -1,
	    "absent balance value refused");
	CHECK(strcmp(msg_type_name(12345), "unknown") == 0,
	    "msg_type_name of an unknown type");
}

static void
test_why_names_field(void)
{
	struct msg_create_spend r;
	const char *why;

	memset(&r, 0, sizeof(r));
	fill_create(&r, 0);
	msg_create_spend_enc(&enc_buf, REQID, &r);
	split(enc_buf.data, enc_buf.len, CALLER "qssss", &fs);
	set_str(&fs.f[6], "");
	decode(&cases[2], pkt, join(&fs, MSG_CREATE_SPEND, REQID, pkt,
	    sizeof(pkt)), &why);
	CHECK(why != NULL && strstr(why, "merchant_name") != NULL,
	    "why names merchant_name on a bad value");
	decode(&cases[2], enc_buf.data, enc_buf.len - 3, &why);
	CHECK(why != NULL, "why set on a short packet");
	memcpy(pkt, enc_buf.data, enc_buf.len - 3);
	set_len(pkt, enc_buf.len - 3);
	decode(&cases[2], pkt, enc_buf.len - 3, &why);
	CHECK(why != NULL && strstr(why, "idempotency_key") != NULL,
	    "why names the truncated field");
}

/* Every byte value in every position of a time, against its pattern. */
static void
test_time_bytes(void)
{
	static const char good[] = "2026-05-07T12:34:56.000Z";
	static struct msg_spend sp;
	static struct ipc_buf b;
	int c, ok = 1, want;
	size_t pos;

	for (pos = 0; pos < ISO_TIME_LEN; pos++)
		for (c = 1; c < 256; c++) {
			memset(&sp, 0, sizeof(sp));
			fill_spend(&sp, 0);
			strcpy(sp.spend.updated_at, good);
			sp.spend.updated_at[pos] = (char)c;
			want = good[pos] >= '0' && good[pos] <= '9' ?
			    c >= '0' && c <= '9' : c == good[pos];
			if ((msg_spend_enc(&b, MSG_SPEND, 1, &sp) == 0) != want)
				ok = 0;
		}
	CHECK(ok, "spend: each byte in each position of a time is valid iff "
	    "it fits YYYY-MM-DDTHH:MM:SS.mmmZ");
}

/* A pushed spend, re-sent as an answer: the bytes msg_spend_enc() makes. */
static void
test_spend_reenc(void)
{
	static struct msg_spend sp;
	static struct ipc_buf push, want, got;
	struct msg_error e;
	int max;

	for (max = 0; max <= 1; max++) {
		memset(&sp, 0, sizeof(sp));
		fill_spend(&sp, max);
		sp.replayed = 0;
		CHECK(msg_spend_enc(&push, MSG_SPEND_UPDATE, 0, &sp) == 0,
		    "reenc: the push encodes");
		sp.replayed = 1;
		CHECK(msg_spend_enc(&want, MSG_SPEND, 77, &sp) == 0,
		    "reenc: the answer encodes");
		CHECK(msg_spend_reenc(&got, &push, MSG_SPEND, 77, 1) == 0 &&
		    got.len == want.len &&
		    memcmp(got.data, want.data, want.len) == 0,
		    "reenc: the same bytes as msg_spend_enc");
	}
	CHECK(msg_spend_reenc(&got, &push, MSG_SPEND_UPDATE, 5, 0) == -1 &&
	    got.err, "reenc: refuses an update with a reqid");
	CHECK(msg_spend_reenc(&got, &push, MSG_SPEND, 5, 2) == -1,
	    "reenc: refuses replayed 2");
	CHECK(msg_spend_reenc(&got, &push, MSG_ERROR, 5, 0) == -1,
	    "reenc: refuses another type");
	memset(&e, 0, sizeof(e));
	e.http_status = 404;
	strcpy(e.code, "not_found");
	CHECK(msg_error_enc(&push, 5, &e) == 0 &&
	    msg_spend_reenc(&got, &push, MSG_SPEND, 5, 0) == -1,
	    "reenc: refuses a message that is not a spend");
	push.err = 1;
	CHECK(msg_spend_reenc(&got, &push, MSG_SPEND, 5, 0) == -1,
	    "reenc: refuses a failed buffer");
}

int
main(void)
{
	size_t i;

	for (i = 0; i < nitems(cases); i++)
		test_case(&cases[i]);
	test_encoder_refuses();
	test_why_names_field();
	test_time_bytes();
	test_spend_reenc();
	return TAP_DONE();
}
