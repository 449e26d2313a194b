/*
 * The spend request model: one set of validators that the frontend runs on
 * intake and the broker runs again on every message.  Each message names
 * the field and the rule, because the frontend hands it to the agent.
 */
#include <string.h>

#include "dinolimits.h"
#include "spend.h"
#include "util.h"

/* The messages below spell the limits out; keep them in step. */
_Static_assert(AMOUNT_CENTS_MIN == 1 && AMOUNT_CENTS_MAX == 1000000000LL,
    "update the amount_cents message");
_Static_assert(CURRENCY_LEN == 3, "update the currency message");
_Static_assert(MERCHANT_NAME_MAX == 200, "update the merchant_name message");
_Static_assert(REASON_MAX == 1000, "update the reason message");
_Static_assert(IDEMPOTENCY_KEY_MAX == 128,
    "update the idempotency_key message");
_Static_assert(AGENT_LABEL_MAX == 64, "update the agent message");
_Static_assert(SPEND_ID_LEN == 30 && ULID_LEN == 26, "update the id message");
_Static_assert(SPEND_ID_LEN <= SPEND_ID_MAX, "ids must fit the wire field");

#define SPEND_ID_PREFIX	"req_"

static const char *const statuses[] = {
	"approved", "declined", "cancelled",	/* terminal */
	"needs_approval", "submitting", "held",
};
#define NTERMINAL	3

const char *
spend_check_amount(int64_t amount_cents)
{
	if (amount_cents < AMOUNT_CENTS_MIN || amount_cents > AMOUNT_CENTS_MAX)
		return "amount_cents must be an integer from 1 to 1000000000";
	return NULL;
}

const char *
spend_check_currency(const char *currency)
{
	size_t i;

	if (strnlen(currency, CURRENCY_LEN + 1) != CURRENCY_LEN)
		return "currency must be 3 lowercase letters";
	for (i = 0; i < CURRENCY_LEN; i++)
		if (currency[i] < 'a' || currency[i] > 'z')
			return "currency must be 3 lowercase letters";
	return NULL;
}

const char *
spend_check_merchant(const char *merchant_name)
{
	size_t len;

	len = strnlen(merchant_name, MERCHANT_NAME_MAX + 1);
	if (len < 1 || len > MERCHANT_NAME_MAX || !text_ok(merchant_name, len))
		return "merchant_name must be 1-200 bytes of UTF-8 text "
		    "without control characters";
	return NULL;
}

const char *
spend_check_reason(const char *reason)
{
	size_t len;

	len = strnlen(reason, REASON_MAX + 1);
	if (len > REASON_MAX || !text_ok(reason, len))
		return "reason must be at most 1000 bytes of UTF-8 text "
		    "without control characters";
	return NULL;
}

/* "" means the agent gave no key. */
const char *
spend_check_idempotency_key(const char *key)
{
	size_t len;

	len = strnlen(key, IDEMPOTENCY_KEY_MAX + 1);
	if (len > IDEMPOTENCY_KEY_MAX || !printable_ascii(key, len))
		return "idempotency_key must be 1-128 printable ASCII "
		    "characters";
	return NULL;
}

/* The X-Dino-Agent label: for the audit trail only, "" when absent. */
const char *
spend_check_agent_label(const char *label)
{
	size_t len;

	len = strnlen(label, AGENT_LABEL_MAX + 1);
	if (len > AGENT_LABEL_MAX || !printable_ascii(label, len))
		return "agent label must be at most 64 printable ASCII "
		    "characters";
	return NULL;
}

/*
 * Whether n characters are all of ULID_ALPHABET: Crockford's lowercase
 * base32, the digits and the letters but i, l, o and u.  Tested against the
 * alphabet byte by byte (test_spend); a strchr() per character was a
 * visible share of every message the broker encodes.
 */
static int
ulid_chars(const char *s, size_t n)
{
	const uint32_t letters = ((UINT32_C(1) << 26) - 1) &
	    ~(UINT32_C(1) << ('i' - 'a') | UINT32_C(1) << ('l' - 'a') |
	    UINT32_C(1) << ('o' - 'a') | UINT32_C(1) << ('u' - 'a'));
	unsigned c;
	size_t i;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c - '0' < 10 ||
		    (c - 'a' < 26 && (letters >> (c - 'a') & 1)))
			continue;
		return 0;
	}
	return 1;
}

const char *
spend_check_id(const char *id)
{
	size_t plen = sizeof(SPEND_ID_PREFIX) - 1;

	if (strnlen(id, SPEND_ID_LEN + 1) != SPEND_ID_LEN ||
	    memcmp(id, SPEND_ID_PREFIX, plen) != 0 ||
	    !ulid_chars(id + plen, SPEND_ID_LEN - plen))
		return "id must be req_ followed by 26 lowercase ULID "
		    "characters";
	return NULL;
}

/*
 * A spend reference an agent may use: Dino's id, or the broker's local id
 * of a spend held for an operator ("hold_" + 26 ULID characters), which
 * stays valid after Dino named the spend.  Dino's own ids are still
 * checked with spend_check_id(), so that Dino can never name a spend in
 * the broker's local namespace.
 */
const char *
spend_check_ref(const char *id)
{
	size_t plen = sizeof(HOLD_ID_PREFIX) - 1;

	if (strncmp(id, HOLD_ID_PREFIX, plen) != 0)
		return spend_check_id(id) == NULL ? NULL : "id must be req_ "
		    "or hold_ followed by 26 lowercase ULID characters";
	if (strnlen(id, HOLD_ID_LEN + 1) != HOLD_ID_LEN ||
	    !ulid_chars(id + plen, HOLD_ID_LEN - plen))
		return "id must be req_ or hold_ followed by 26 lowercase "
		    "ULID characters";
	return NULL;
}

const char *
spend_check_status(const char *status)
{
	size_t i;

	for (i = 0; i < nitems(statuses); i++)
		if (strcmp(status, statuses[i]) == 0)
			return NULL;
	return "status must be one of approved, declined, cancelled, "
	    "needs_approval, submitting, held";
}

int
spend_status_terminal(const char *status)
{
	size_t i;

	for (i = 0; i < NTERMINAL; i++)
		if (strcmp(status, statuses[i]) == 0)
			return 1;
	return 0;
}

const char *
spend_check_caller(const struct msg_caller *caller)
{
	/* (uid_t)-1 means "no id" to the kernel: never a real caller. */
	if (caller->uid == UINT32_MAX)
		return "uid must not be 4294967295";
	if (caller->gid == UINT32_MAX)
		return "gid must not be 4294967295";
	return spend_check_agent_label(caller->agent);
}

const char *
spend_check_request(const struct msg_create_spend *req)
{
	const char *why;

	if ((why = spend_check_caller(&req->caller)) != NULL ||
	    (why = spend_check_amount(req->amount_cents)) != NULL ||
	    (why = spend_check_currency(req->currency)) != NULL ||
	    (why = spend_check_merchant(req->merchant_name)) != NULL ||
	    (why = spend_check_reason(req->reason)) != NULL ||
	    (why = spend_check_idempotency_key(req->idempotency_key)) != NULL)
		return why;
	return NULL;
}
