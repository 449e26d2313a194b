/*
 * Spend intents and idempotency.  An intent is one logical create_spend of
 * one caller: the derived Idempotency-Key, the canonical request (amount,
 * currency, merchant, reason), and what Dino said about it.  The table
 * finds an intent by its derived key (replay and conflict detection) and,
 * once Dino named it, by spend id (get_spend and ownership).
 *
 * The Dino Idempotency-Key is derived, never passed through:
 *   "dbk_" + hex(BLAKE2b-256(tag || lp(instance_id) || lp(caller) ||
 *   lp(agent_key)))
 * where lp(s) is s's length as a big-endian u32 followed by its bytes, so
 * that no two different triples encode alike.  caller is "uid:N", the
 * identity the kernel vouched for, even when a group principal admitted
 * it: two users of one group never share an intent or see each other's.
 */
#ifndef DINO_BROKER_INTENT_H
#define DINO_BROKER_INTENT_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "dinolimits.h"
#include "policy.h"
#include "proto.h"

enum intent_state {
	INTENT_SUBMITTING,	/* sent, or being sent: no definitive answer */
	INTENT_ANSWERED,	/* Dino answered with a spend object */
	INTENT_REFUSED,		/* Dino refused it definitively (4xx) */
	INTENT_HELD,		/* held for an operator: nothing sent (ops.h) */
};

struct request;
struct dino_call;
struct journal;

/*
 * What the intent knows of its spend (a struct spend_obj, compactly): the
 * numbers and short fixed fields inline, the text fields at their real
 * length in the intent's one text block.  A struct spend_obj is built from
 * it only to encode an answer, a push or a record (intent_spend_get), and
 * it is updated from one (intent_set_spend, intent_spend_put).  The spend's
 * idempotency_key is always the agent's key, so it is not stored twice.
 */
struct intent_spend {
	char			 id[SPEND_ID_MAX + 1];
	char			 status[STATUS_MAX + 1];
	uint8_t			 has_remaining;
	int64_t			 remaining_budget_cents;
	int64_t			 remaining_monthly_budget_cents;
	int64_t			 amount_cents;
	char			 currency[CURRENCY_LEN + 1];
	char			 decided_at[ISO_TIME_LEN + 1];
	char			 created_at[ISO_TIME_LEN + 1];
	char			 updated_at[ISO_TIME_LEN + 1];
	/* Into the intent's text block, or "" (never NULL). */
	const char		*decision_reason;
	const char		*budget_period;
	const char		*merchant_name;
	const char		*reason;
	const char		*approval_url;
	const char		*team_id;
	const char		*agent_account_id;
};

struct intent {
	LIST_ENTRY(intent)	 by_key;
	LIST_ENTRY(intent)	 by_id;
	TAILQ_ENTRY(intent)	 age;		/* oldest first */
	int			 indexed_id;
	struct intent_table	*table;

	char			 derived[BROKER_IDEM_KEY_LEN + 1];
	uid_t			 owner_uid;
	struct principal	*principal;
	struct account		*account;	/* the key it was sent with */
	uint64_t		 jseq;		/* its journal record, 0 unknown */
	/* "hold_" + ULID when it was held for an operator, else "". */
	char			 hold_id[HOLD_ID_LEN + 1];

	/*
	 * One allocation holding every text field below and in spend, each
	 * NUL-terminated, identical strings once (the spend's merchant and
	 * reason are usually the request's).  Only intent.c writes it.
	 */
	char			*text;
	const char		*agent_key;	/* the agent's, or auto- */
	const char		*agent;		/* X-Dino-Agent or "" */

	/* The canonical request. */
	int64_t			 amount_cents;
	char			 currency[CURRENCY_LEN + 1];
	const char		*merchant_name;
	const char		*reason;

	enum intent_state	 state;
	struct intent_spend	 spend;		/* status "submitting" until known */
	struct msg_error	*refusal;	/* INTENT_REFUSED, else NULL */
	int64_t			 created_ms;
	struct policy_charge	 charge;

	/* Runtime links owned by the dispatcher. */
	struct dino_call	*call;		/* create in flight, or NULL */
	int			 call_done;	/* its callback has run */
	TAILQ_HEAD(, request)	 waiters;	/* answers owed to the frontend */
};

TAILQ_HEAD(intent_list, intent);
LIST_HEAD(intent_bucket, intent);

struct intent_table {
	struct intent_bucket	 keys[BROKER_INTENT_BUCKETS];
	struct intent_bucket	 ids[BROKER_INTENT_BUCKETS];
	struct intent_list	 all;
	size_t			 n;
	size_t			 max;		/* BROKER_INTENTS_MAX; tests lower it */
	unsigned char		 hkey[16];	/* SipHash key, random per run */
	void			*owner;		/* the broker, for callbacks */
	/* Runs after intent_set_spend() changed a spend's status (issue 5:
	   waiters and polling); may be NULL. */
	void			(*on_status)(struct intent *, void *);
	void			*on_status_arg;
	/* Status changes are journaled here; NULL during replay. */
	struct journal		*journal;
};

/* The derived key described above, into out[BROKER_IDEM_KEY_LEN + 1]. */
void	intent_derive_key(const char *instance_id, const char *caller,
	    const char *agent_key, char *out);
/* "uid:N" for a caller. */
void	intent_caller_id(uid_t uid, char *out, size_t len);
/* A fresh agent key for a caller that gave none: "auto-" + 32 hex. */
void	intent_auto_key(char *out, size_t len);

struct intent_table *intent_table_new(void);
void	intent_table_free(struct intent_table *t);

enum intent_match {
	INTENT_MATCH_NONE,	/* no intent under this key: a new spend */
	INTENT_MATCH_REPLAY,	/* the same request again */
	INTENT_MATCH_CONFLICT,	/* a different request under the same key */
};

/* Looks up derived and compares the canonical request. */
enum intent_match intent_match(struct intent_table *t, const char *derived,
	    const struct msg_create_spend *req, struct intent **out);

/*
 * Adds a new intent (status "submitting"), evicting the oldest finished
 * intent if the table is full.  NULL when it is full of unfinished ones.
 */
struct intent *intent_add(struct intent_table *t, const char *derived,
	    const char *agent_key, uid_t owner, struct principal *pr,
	    const struct msg_create_spend *req, int64_t now_ms);
void	intent_remove(struct intent_table *t, struct intent *in);

/*
 * The durability point: "record the intent durably before the first byte
 * goes to Dino".  Appends the intent record to the journal; done(ok, seq,
 * arg) runs after the batch holding it was written and fdatasynced (ok 1,
 * and only then may the create be sent) or failed (ok 0: the spend must be
 * refused, never sent).  Many intents share one fdatasync (group commit).
 * Returns -1 (done never runs) when the journal cannot take the record.
 * Without a journal (unit tests of the dispatcher only) done runs at once.
 */
int	intent_record_durable(struct journal *j, struct intent *in,
	    void (*done)(int ok, uint64_t seq, void *arg), void *arg);
/* The intent under a derived key, or NULL. */
struct intent *intent_by_key(struct intent_table *t, const char *derived);

/* Records Dino's spend object, moving the status forward only. */
void	intent_set_spend(struct intent_table *t, struct intent *in,
	    const struct spend_obj *s);
/* The spend as a whole struct spend_obj, for encoding. */
void	intent_spend_get(const struct intent *in, struct spend_obj *out);
/*
 * Stores s as the intent's spend as is, with no status rule (hold.c's
 * local states); intent_set_spend is the way for anything Dino said.
 */
void	intent_spend_put(struct intent *in, const struct spend_obj *s);
/* Records a definitive refusal; the spend leaves the 24 h cap. */
void	intent_set_refused(struct intent *in, const struct msg_error *err);

/* By Dino's id, or by the local hold_ id of a spend that was held. */
struct intent *intent_by_id(struct intent_table *t, const char *id);
/* The intent named id if owner may see it, else NULL (unknown alike). */
struct intent *intent_owned(struct intent_table *t, const char *id,
	    uid_t owner);

#endif
