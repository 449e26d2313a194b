#define _GNU_SOURCE
/*
 * The sandbox's in-memory system of record: accounts and their keys, every
 * spend, the idempotency index and the decision order of dino-api.md Part A.
 * Nothing is ever deleted during a run, so the ledger can prove that no
 * logical spend was recorded twice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <sodium.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"

/*
 * A string-keyed open-addressing hash table.  Entries are never removed, so
 * there are no tombstones; SipHash with a per-run key keeps an attacker from
 * choosing colliding ids or idempotency keys.  A key is not copied: it is
 * part of its value (a spend's id, an account's id) and lives as long.
 */
struct smap_ent {
	const char *key;
	void *val;
	uint64_t hash; /* kept, so growing never hashes a key again */
};

struct smap {
	struct smap_ent *ents;
	size_t cap; /* a power of two */
	size_t n;
};

static unsigned char smap_key[crypto_shorthash_KEYBYTES];

static uint64_t
smap_hash(const char *key, size_t len)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, (const unsigned char *)key, len, smap_key);
	memcpy(&h, out, sizeof(h));
	return h;
}

/* With room for it. */
static void
smap_insert(struct smap *m, const struct smap_ent *e)
{
	size_t i = (size_t)e->hash & (m->cap - 1);

	while (m->ents[i].key != NULL)
		i = (i + 1) & (m->cap - 1);
	m->ents[i] = *e;
	m->n++;
}

static void
smap_put(struct smap *m, const char *key, void *val)
{
	struct smap_ent e, *old = m->ents;
	size_t i, oldcap = m->cap;

	if ((m->n + 1) * 2 > m->cap) {
		m->cap = oldcap == 0 ? 64 : oldcap * 2;
		if ((m->ents = calloc(m->cap, sizeof(*m->ents))) == NULL)
			fatal("calloc");
		m->n = 0;
		for (i = 0; i < oldcap; i++)
			if (old[i].key != NULL)
				smap_insert(m, &old[i]);
		free(old);
	}
	e.key = key;
	e.val = val;
	e.hash = smap_hash(key, strlen(key));
	smap_insert(m, &e);
}

static void *
smap_get(const struct smap *m, const char *key)
{
	uint64_t h;
	size_t i;

	if (m->cap == 0)
		return NULL;
	h = smap_hash(key, strlen(key));
	i = (size_t)h & (m->cap - 1);
	while (m->ents[i].key != NULL) {
		if (m->ents[i].hash == h && strcmp(m->ents[i].key, key) == 0)
			return m->ents[i].val;
		i = (i + 1) & (m->cap - 1);
	}
	return NULL;
}

static void
smap_free(struct smap *m)
{
	free(m->ents);
	memset(m, 0, sizeof(*m));
}

static struct {
	struct event_base *base;
	struct seed *seed;
	struct spendq spends;
	size_t nspends;
	struct smap by_id;    /* spend id -> spend */
	struct smap by_idem;  /* idem_index() -> spend */
	struct smap accounts; /* account id -> account */
	/*
	 * Spending keys are found by a keyed BLAKE2b digest: the probe
	 * sequence depends only on a secret-keyed hash, and the final check
	 * compares digests with sodium_memcmp, so neither the table walk nor
	 * the comparison leaks how much of a guessed key was right.
	 */
	struct account **keytab;
	size_t keycap;
	unsigned char digest_key[crypto_generichash_KEYBYTES];
} st;

static void
key_digest(const char *key, size_t len, unsigned char out[32])
{
	crypto_generichash(out, 32, (const unsigned char *)key, len,
	    st.digest_key, sizeof(st.digest_key));
}

static size_t
key_slot(const unsigned char d[32])
{
	uint64_t h;

	memcpy(&h, d, sizeof(h));
	return (size_t)h & (st.keycap - 1);
}

int
sbx_store_init(struct event_base *base, struct seed *seed)
{
	struct account *a;
	size_t i, j;

	memset(&st, 0, sizeof(st));
	st.base = base;
	st.seed = seed;
	TAILQ_INIT(&st.spends);
	randombytes_buf(smap_key, sizeof(smap_key));
	randombytes_buf(st.digest_key, sizeof(st.digest_key));
	for (st.keycap = 16; st.keycap < seed->naccounts * 4; st.keycap *= 2)
		;
	if ((st.keytab = calloc(st.keycap, sizeof(*st.keytab))) == NULL)
		fatal("calloc");
	for (i = 0; i < seed->naccounts; i++) {
		a = &seed->accounts[i];
		key_digest(a->key, strlen(a->key), a->key_digest);
		j = key_slot(a->key_digest);
		while (st.keytab[j] != NULL)
			j = (j + 1) & (st.keycap - 1);
		st.keytab[j] = a;
		smap_put(&st.accounts, a->id, a);
	}
	return 0;
}

static void
spend_free(struct spend *s)
{
	if (s->expiry != NULL)
		event_free(s->expiry);
	free(s);
}

void
sbx_store_free(void)
{
	struct spend *s;

	while ((s = TAILQ_FIRST(&st.spends)) != NULL) {
		TAILQ_REMOVE(&st.spends, s, entry);
		spend_free(s);
	}
	smap_free(&st.by_id);
	smap_free(&st.by_idem);
	smap_free(&st.accounts);
	free(st.keytab);
	sodium_memzero(st.digest_key, sizeof(st.digest_key));
}

struct account *
sbx_store_account_by_key(const char *key, size_t keylen)
{
	unsigned char d[32];
	struct account *a;
	size_t j;

	key_digest(key, keylen, d);
	for (j = key_slot(d); (a = st.keytab[j]) != NULL;
	     j = (j + 1) & (st.keycap - 1))
		if (sodium_memcmp(a->key_digest, d, sizeof(d)) == 0)
			return a;
	return NULL;
}

/* For /_sandbox/keys/{key}/revoke: the same lookup, from a C string. */
struct account *
sbx_store_account_by_key_any(const char *key)
{
	return sbx_store_account_by_key(key, strlen(key));
}

struct account *
sbx_store_account_by_id(const char *id)
{
	return smap_get(&st.accounts, id);
}

int
sbx_store_currency_ok(const struct account *a, const char *currency)
{
	size_t i;

	for (i = 0; i < a->ncurrencies; i++)
		if (strcmp(a->currencies[i], currency) == 0)
			return 1;
	return 0;
}

/*
 * The budget window that "now" falls in, in UTC.  A month takes gmtime, so
 * the month of the current second is kept.
 */
static int64_t
period_index(enum budget_period p)
{
	static time_t month_secs = -1;
	static int64_t month;
	int64_t ms = now_ms(), days = ms / 86400000;
	time_t secs;
	struct tm tm;

	switch (p) {
	case PERIOD_DAILY:
		return days;
	case PERIOD_WEEKLY:
		/* 1970-01-01 was a Thursday; weeks start on Monday. */
		return (days + 3) / 7;
	case PERIOD_MONTHLY:
		secs = (time_t)(ms / 1000);
		if (secs != month_secs) {
			gmtime_r(&secs, &tm);
			month = (int64_t)tm.tm_year * 12 + tm.tm_mon;
			month_secs = secs;
		}
		return month;
	default:
		return 0;
	}
}

int64_t
sbx_store_spent(struct account *a)
{
	int64_t idx = period_index(a->period);

	if (idx != a->period_index) {
		a->period_index = idx;
		a->spent_cents = 0;
	}
	return a->spent_cents;
}

int64_t
sbx_store_remaining(struct account *a)
{
	int64_t r = a->budget_cents - sbx_store_spent(a);

	return r < 0 ? 0 : r;
}

static int
merchant_in(char **list, size_t n, const char *m)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(list[i], m) == 0)
			return 1;
	return 0;
}

const char *
sbx_status_name(enum spend_status s)
{
	switch (s) {
	case ST_APPROVED:
		return "approved";
	case ST_DECLINED:
		return "declined";
	case ST_NEEDS_APPROVAL:
		return "needs_approval";
	default:
		return "cancelled";
	}
}

static const char *
event_type(enum spend_status s)
{
	switch (s) {
	case ST_APPROVED:
		return "spend_request.approved";
	case ST_DECLINED:
		return "spend_request.declined";
	default:
		return "spend_request.cancelled";
	}
}

static void
expiry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct spend *s = arg;
	char trace[SPEND_ID_MAX + 8];

	make_ulid_id(trace, sizeof(trace), "req_trace_");
	if (sbx_store_transition(
		s, ST_CANCELLED, "Approval request expired", trace) == 0)
		log_info(
		    "event=spend_expired id=%s account=%s", s->id, s->acct->id);
}

/*
 * The decision order of Part A after the key, the body and idempotency have
 * been checked: paused, merchant rules, max transaction, period budget,
 * wallet (an error, never stored), approval threshold, approved.
 */
static int
decide(struct account *a, struct spend *s)
{
	int64_t spent = sbx_store_spent(a);

	s->status = ST_DECLINED;
	s->remaining_cents = sbx_store_remaining(a);
	if (a->paused)
		s->decision_reason = "Agent account is paused";
	else if (merchant_in(a->merchants_block, a->nblock, s->merchant_name))
		s->decision_reason = "Merchant is blocked for this account";
	else if (a->nallow > 0 &&
	    !merchant_in(a->merchants_allow, a->nallow, s->merchant_name))
		s->decision_reason = "Merchant is not on the allow list";
	else if (a->max_transaction_cents >= 0 &&
	    s->amount_cents > a->max_transaction_cents)
		s->decision_reason =
		    "Amount exceeds the maximum transaction size";
	else if (spent + s->amount_cents > a->budget_cents)
		s->decision_reason = "Amount would exceed the budget for this "
				     "period";
	else if (s->amount_cents > a->wallet_cents)
		return -1;
	else if (a->approval_threshold_cents >= 0 &&
	    s->amount_cents > a->approval_threshold_cents) {
		s->status = ST_NEEDS_APPROVAL;
		s->decision_reason = "Amount requires approval";
	} else {
		a->spent_cents += s->amount_cents;
		a->wallet_cents -= s->amount_cents;
		s->status = ST_APPROVED;
		s->decision_reason = "Spend request approved";
		s->remaining_cents = sbx_store_remaining(a);
	}
	return 0;
}

static int
same_request(const struct spend *s, const struct create_req *cr)
{
	return s->amount_cents == cr->amount_cents &&
	    strcmp(s->currency, cr->currency) == 0 &&
	    strcmp(s->merchant_name, cr->merchant_name) == 0 &&
	    strcmp(s->reason, cr->reason) == 0;
}

/*
 * The idempotency index's key, "<account id>\x1f<key>", into buf of
 * IDEM_INDEX_MAX bytes; its length.  0x1f cannot occur in an account id or
 * a printable key.
 */
#define IDEM_INDEX_MAX (ACCOUNT_ID_MAX + 1 + IDEMPOTENCY_KEY_MAX + 1)

static size_t
idem_index(char *buf, const struct account *a, const char *key)
{
	size_t alen = strlen(a->id), klen = strlen(key);

	if (alen > ACCOUNT_ID_MAX || klen > IDEMPOTENCY_KEY_MAX)
		fatalx("idem_index: id or key too long");
	memcpy(buf, a->id, alen);
	buf[alen] = '\x1f';
	memcpy(buf + alen + 1, key, klen + 1);
	return alen + 1 + klen;
}

enum create_result
sbx_store_create(
    struct account *a, const struct create_req *cr, struct spend **out)
{
	char ix[IDEM_INDEX_MAX], *p;
	size_t ixlen = 0, mlen, rlen;
	struct spend *s;
	struct timeval tv;

	if (cr->idem_key != NULL) {
		ixlen = idem_index(ix, a, cr->idem_key);
		if ((s = smap_get(&st.by_idem, ix)) != NULL) {
			*out = s;
			return same_request(s, cr) ? CREATE_REPLAY
						   : CREATE_CONFLICT;
		}
	}
	if (st.nspends >= SANDBOX_SPENDS_MAX)
		return CREATE_FULL;
	/* One allocation: the spend, then its strings. */
	mlen = strlen(cr->merchant_name) + 1;
	rlen = strlen(cr->reason) + 1;
	if ((s = calloc(1, sizeof(*s) + mlen + rlen +
		 (ixlen > 0 ? ixlen + 1 : 0))) == NULL)
		fatal("calloc");
	p = (char *)(s + 1);
	s->merchant_name = memcpy(p, cr->merchant_name, mlen);
	s->reason = memcpy(p + mlen, cr->reason, rlen);
	if (ixlen > 0) {
		s->idem_ix = memcpy(p + mlen + rlen, ix, ixlen + 1);
		s->idem_key = s->idem_ix + strlen(a->id) + 1;
	}
	s->acct = a;
	s->amount_cents = cr->amount_cents;
	/* parse_create() let through CURRENCY_LEN letters only. */
	memcpy(s->currency, cr->currency, sizeof(s->currency));
	s->period = a->period;
	if (decide(a, s) == -1) {
		/* Errors are not stored against the key. */
		spend_free(s);
		return CREATE_NO_FUNDS;
	}
	make_ulid_id(s->id, sizeof(s->id), "req_");
	s->created_ms = s->updated_ms = now_ms();
	if (s->status != ST_NEEDS_APPROVAL)
		s->decided_ms = s->created_ms;
	else {
		if ((s->expiry = evtimer_new(st.base, expiry_cb, s)) == NULL)
			fatalx("evtimer_new");
		tv.tv_sec = st.seed->approval_expiry_ms / 1000;
		tv.tv_usec = (st.seed->approval_expiry_ms % 1000) * 1000;
		evtimer_add(s->expiry, &tv);
	}
	TAILQ_INSERT_TAIL(&st.spends, s, entry);
	st.nspends++;
	smap_put(&st.by_id, s->id, s);
	if (s->idem_ix != NULL)
		smap_put(&st.by_idem, s->idem_ix, s);
	sbx_webhook_emit(s, "spend_request.created", cr->request_id);
	if (s->status != ST_NEEDS_APPROVAL)
		sbx_webhook_emit(s, event_type(s->status), cr->request_id);
	*out = s;
	return CREATE_NEW;
}

struct spend *
sbx_store_spend_by_id(const char *id)
{
	return smap_get(&st.by_id, id);
}

int
sbx_store_transition(struct spend *s, enum spend_status to, const char *why,
    const char *request_id)
{
	struct account *a = s->acct;

	if (s->status != ST_NEEDS_APPROVAL)
		return -1;
	if (to == ST_APPROVED) {
		/* An operator approval is charged like an automatic one. */
		if (sbx_store_spent(a) + s->amount_cents > a->budget_cents)
			return -2;
		if (s->amount_cents > a->wallet_cents)
			return -3;
		a->spent_cents += s->amount_cents;
		a->wallet_cents -= s->amount_cents;
	}
	s->status = to;
	s->decision_reason = why;
	s->remaining_cents = sbx_store_remaining(a);
	s->decided_ms = s->updated_ms = now_ms();
	if (s->expiry != NULL) {
		event_free(s->expiry);
		s->expiry = NULL;
	}
	sbx_webhook_emit(s, event_type(to), request_id);
	return 0;
}

static void
add_time(cJSON *o, const char *name, int64_t ms)
{
	char buf[32];

	if (ms == 0) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	fmt_iso_ms(buf, ms);
	cJSON_AddStringToObject(o, name, buf);
}

/*
 * A spend's members, into the jout object o: as Dino's answer, or in the
 * shape of a webhook event's data.spend.
 */
void
sbx_store_spend_out(
    struct jout *j, cJSON *o, const struct spend *s, int webhook_shape)
{
	struct json_stack *js = &j->js;

	json_stack_str(js, o, "id", s->id);
	if (webhook_shape) {
		json_stack_str(js, o, "team_id", s->acct->team_id);
		json_stack_str(js, o, "agent_account_id", s->acct->id);
	}
	json_stack_str(js, o, "status", sbx_status_name(s->status));
	json_stack_str(js, o, "decision_reason", s->decision_reason);
	if (!webhook_shape) {
		json_stack_str(
		    js, o, "budget_period", sbx_period_name(s->period));
		json_stack_int(js, o, "remaining_budget_cents",
		    s->remaining_cents);
		json_stack_int(js, o, "remaining_monthly_budget_cents",
		    s->remaining_cents);
	}
	json_stack_int(js, o, "amount_cents", s->amount_cents);
	json_stack_str(js, o, "currency", s->currency);
	json_stack_str(js, o, "merchant_name", s->merchant_name);
	if (!webhook_shape) {
		if (s->status == ST_NEEDS_APPROVAL)
			jout_cat(j, o, "approval_url",
			    st.seed->approval_url_base, s->id);
		json_stack_str(js, o, "team_id", s->acct->team_id);
		json_stack_str(js, o, "agent_account_id", s->acct->id);
	}
	json_stack_str(js, o, "reason", s->reason);
	jout_time(j, o, "decided_at", s->decided_ms);
	jout_time(j, o, "created_at", s->created_ms);
	jout_time(j, o, "updated_at", s->updated_ms);
}

cJSON *
sbx_store_ledger_json(void)
{
	struct idem_count {
		const struct spend *first;
		int64_t n;
	} *c;
	struct smap counts;
	struct spend *s;
	cJSON *o, *arr, *carr, *e;
	size_t i;

	memset(&counts, 0, sizeof(counts));
	if ((o = cJSON_CreateObject()) == NULL ||
	    (arr = cJSON_AddArrayToObject(o, "spends")) == NULL ||
	    (carr = cJSON_AddArrayToObject(o, "idempotency_counts")) == NULL)
		fatalx("out of memory");
	TAILQ_FOREACH(s, &st.spends, entry)
	{
		if ((e = cJSON_CreateObject()) == NULL)
			fatalx("out of memory");
		cJSON_AddStringToObject(e, "id", s->id);
		cJSON_AddStringToObject(e, "account_id", s->acct->id);
		if (s->idem_key != NULL)
			cJSON_AddStringToObject(
			    e, "idempotency_key", s->idem_key);
		else
			cJSON_AddNullToObject(e, "idempotency_key");
		cJSON_AddStringToObject(
		    e, "status", sbx_status_name(s->status));
		cJSON_AddNumberToObject(
		    e, "amount_cents", (double)s->amount_cents);
		cJSON_AddStringToObject(e, "currency", s->currency);
		cJSON_AddStringToObject(e, "merchant_name", s->merchant_name);
		add_time(e, "created_at", s->created_ms);
		cJSON_AddItemToArray(arr, e);
		if (s->idem_key == NULL)
			continue;
		/*
		 * Counted from the spends themselves, not from the index,
		 * so a bug that stored a key twice would show here.
		 */
		if ((c = smap_get(&counts, s->idem_ix)) != NULL) {
			c->n++;
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL)
			fatal("calloc");
		c->first = s;
		c->n = 1;
		smap_put(&counts, s->idem_ix, c);
	}
	for (i = 0; i < counts.cap; i++) {
		if ((c = counts.ents[i].val) == NULL)
			continue;
		if ((e = cJSON_CreateObject()) == NULL)
			fatalx("out of memory");
		cJSON_AddStringToObject(e, "account_id", c->first->acct->id);
		cJSON_AddStringToObject(
		    e, "idempotency_key", c->first->idem_key);
		cJSON_AddNumberToObject(e, "count", (double)c->n);
		cJSON_AddItemToArray(carr, e);
		free(c);
	}
	smap_free(&counts);
	cJSON_AddNumberToObject(o, "total", (double)st.nspends);
	return o;
}
