/*
 * The broker's webhook receiver (issue 5): an evhttp listener on a
 * loopback address or a UNIX socket, behind the site's TLS-terminating
 * reverse proxy (docs/nginx-webhook.conf).
 *
 * Every delivery is verified before anything in it is parsed: the body is
 * at most WEBHOOK_BODY_MAX bytes, Dino-Signature is checked over the raw
 * bytes with each configured secret (common/whsig.h: constant-time compare,
 * timestamp tolerance, several v1= entries), and the body-only legacy
 * header alone is enough only when webhook_accept_legacy says so.  Then
 * cJSON reads Dino's signed bytes (dino_parse_event), the event is deduped
 * on its signed id (which must equal Dino-Event-Id), and a spend status is
 * moved forward only: a terminal status never changes, and an older
 * updated_at never overwrites a newer one.  A valid event the broker cannot
 * use (an unknown spend, another account's, an unknown type) is
 * acknowledged with 200 and logged, so Dino does not retry it forever.
 */
#ifndef DINO_BROKER_WEBHOOK_H
#define DINO_BROKER_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "intent.h"
#include "proto.h"

struct event_base;
struct webhook;

/* The request headers the receiver reads; NULL when absent. */
struct wh_headers {
	const char	*signature;	/* Dino-Signature */
	const char	*legacy;	/* x-dino-signature-sha256 */
	const char	*event_id;	/* Dino-Event-Id */
	const char	*event_type;	/* Dino-Event-Type */
	const char	*attempt;	/* Dino-Delivery-Attempt, logged */
};

/*
 * Binds cfg->webhook_listen (call before dropping privileges; a UNIX
 * socket is made mode 0666, since the signature is the gate, not the
 * socket: a loopback port is open to every local user alike).  Returns
 * the fd, or -1 with a message in err.
 */
int	webhook_bind(const struct broker_config *cfg, char *err, size_t errlen);
/* When the last verified webhook arrived (wall clock ms), or 0. */
int64_t	webhook_last_seen_ms(const struct webhook *wh);

/* The receiver's state; fd may be -1 (no listener: unit tests). */
struct webhook *webhook_new(struct event_base *base,
	    const struct broker_config *cfg, struct intent_table *intents,
	    int fd);
void	webhook_free(struct webhook *wh);

/*
 * Verifies a delivery (no parsing): 0 when a configured secret signed it,
 * else the HTTP status to answer (400 malformed, 401 unauthenticated) with
 * *why saying why, for the log line.
 */
int	webhook_verify(const struct broker_config *cfg,
	    const struct wh_headers *h, const void *body, size_t len,
	    int64_t now, const char **why);

/*
 * The whole handling of one delivery after the transport: verification,
 * parsing, dedupe, and the forward-only update.  Returns the HTTP status
 * to answer; *outcome names what happened, for the log line.
 */
int	webhook_handle(struct webhook *wh, const struct wh_headers *h,
	    const char *body, size_t len, int64_t now, const char **outcome);

/* Dedupe: 1 if the signed event id was seen; webhook_seen_add() records
   one (journal replay calls it too, so a replay after restart is still a
   duplicate). */
int	webhook_seen(struct webhook *wh, const char *event_id);
void	webhook_seen_add(struct webhook *wh, const char *event_id);

/*
 * The journal: each first-seen verified event is recorded (JREC_WEBHOOK:
 * event id, type, spend id, outcome), and replay feeds those records back
 * through webhook_replay() to rebuild the seen set.
 */
struct cJSON;
struct journal;
void	webhook_set_journal(struct webhook *wh, struct journal *j);
void	webhook_replay(struct webhook *wh, const struct cJSON *fields);

enum wh_transition {
	WH_APPLY,	/* newer: take it */
	WH_SAME,	/* nothing new */
	WH_STALE,	/* older than what is known: ignore */
	WH_REGRESS,	/* would change a terminal status: refuse, log */
};

/* Whether a spend object from Dino may replace the known one (pure). */
enum wh_transition webhook_transition(const struct spend_obj *cur,
	    const struct spend_obj *next);

/*
 * Applies a spend object Dino sent (webhook or poll) to its intent, after
 * checking that it describes the same spend (amount, currency, merchant,
 * and account when both name one): returns the transition taken, or -1
 * for a mismatch (nothing applied).  Empty fields of next keep the known
 * values, since a webhook carries fewer fields than a read.
 */
int	webhook_apply_spend(struct intent_table *t, struct intent *in,
	    const struct spend_obj *next, const char *source);

#endif
