/*
 * Fallback polling (issue 5): webhooks first, reads second.  Every spend
 * that waits for a human (needs_approval) is re-read with GET
 * /v1/{spend_path}/{id} every poll_min_s..poll_max_s seconds, the interval
 * drawn afresh each time so that many pending spends do not poll in step,
 * until Dino says it is terminal.  After a 429, a 5xx or a transport
 * failure (the Dino client has retried already) the interval doubles, up
 * to POLL_BACKOFF_MAX_S.
 *
 * A create whose outcome is unknown needs no polling: the Dino client
 * retries it with the same Idempotency-Key until Dino answers, and the
 * answer names the spend.  At start-up every pending spend the journal
 * replayed is polled once soon (spread over POLL_START_SPREAD_S), then on
 * the usual schedule.
 */
#ifndef DINO_BROKER_POLL_H
#define DINO_BROKER_POLL_H

#include "config.h"
#include "intent.h"

struct event_base;
struct dino_client;
struct poller;

struct poller *poll_new(struct event_base *base,
	    const struct broker_config *cfg, struct dino_client *dino,
	    struct intent_table *intents);
/* Cancels every poll; call before the Dino client and intents go. */
void	poll_free(struct poller *p);

/*
 * Starts polling the spend of in (which must have an id) unless it is
 * polled already; soon: the first read within POLL_START_SPREAD_S.
 */
void	poll_watch(struct poller *p, const struct intent *in, int soon);
/* Stops polling id (terminal, or forgotten). */
void	poll_forget(struct poller *p, const char *id);
/* Polls every pending spend of the table (start-up, after replay). */
void	poll_resume_all(struct poller *p);
/* Spends polled now. */
size_t	poll_count(const struct poller *p);

#endif
