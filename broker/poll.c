/*
 * Fallback polling (see poll.h).  One timer per polled spend: libevent
 * keeps them in a heap, and a pending spend is rare and long-lived enough
 * that a wheel would buy nothing.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <sodium.h>

#include "creds.h"
#include "dino.h"
#include "log.h"
#include "poll.h"
#include "spend.h"
#include "util.h"
#include "webhook.h"

struct poll_entry {
	LIST_ENTRY(poll_entry)	 bucket;
	struct poller		*p;
	char			 id[SPEND_ID_MAX + 1];
	struct event		*ev;
	struct dino_call	*call;
	int			 failures;	/* in a row: the backoff */
};
LIST_HEAD(poll_bucket, poll_entry);

struct poller {
	struct event_base		*base;
	const struct broker_config	*cfg;
	struct dino_client		*dino;
	struct intent_table		*intents;
	struct poll_bucket		 buckets[POLL_BUCKETS];
	size_t				 n;
	unsigned char			 hkey[crypto_shorthash_KEYBYTES];
};

static void	poll_fire(evutil_socket_t, short, void *);

static struct poll_bucket *
bucket(struct poller *p, const char *id)
{
	unsigned char h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, (const unsigned char *)id, strlen(id), p->hkey);
	memcpy(&v, h, sizeof(v));
	return &p->buckets[v % POLL_BUCKETS];
}

static struct poll_entry *
find(struct poller *p, const char *id)
{
	struct poll_entry *e;

	LIST_FOREACH(e, bucket(p, id), bucket)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

/* The next delay: drawn in [min, max], doubled per failure in a row. */
static int64_t
next_delay_ms(const struct poll_entry *e)
{
	const struct broker_config *cfg = e->p->cfg;
	int64_t lo = cfg->poll_min_s * 1000, hi = cfg->poll_max_s * 1000;
	int64_t ms;
	int i;

	ms = lo + (int64_t)randombytes_uniform((uint32_t)(hi - lo + 1));
	for (i = 0; i < e->failures && ms < POLL_BACKOFF_MAX_S * 1000; i++)
		ms *= 2;
	if (e->failures > 0 && ms > POLL_BACKOFF_MAX_S * 1000)
		ms = POLL_BACKOFF_MAX_S * 1000;
	return ms;
}

static void
schedule(struct poll_entry *e, int64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	if (evtimer_add(e->ev, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
}

static void
entry_free(struct poll_entry *e)
{
	if (e->call != NULL)
		dino_cancel(e->call);
	event_free(e->ev);
	LIST_REMOVE(e, bucket);
	e->p->n--;
	free(e);
}

void
poll_forget(struct poller *p, const char *id)
{
	struct poll_entry *e;

	if (p != NULL && (e = find(p, id)) != NULL) {
		log_debug("event=poll_stop id=%s", id);
		entry_free(e);
	}
}

/*
 * Dino's answer.  Applying it may make the spend terminal, and the status
 * hook then forgets this entry: so the entry is looked up again by id
 * afterwards, never touched through a pointer that may be gone.
 */
static void
poll_done(const struct dino_result *res, void *arg)
{
	struct poll_entry *e = arg;
	struct poller *p = e->p;
	struct intent *in;
	char id[SPEND_ID_MAX + 1];

	e->call = NULL;
	snprintf(id, sizeof(id), "%s", e->id);
	if (res->outcome != DINO_OK) {
		e->failures++;
		log_warnx("event=poll_failed id=%s http_status=%ld "
		    "failures=%d dino_request_id=%s", id, res->http_status,
		    e->failures, res->request_id);
		schedule(e, next_delay_ms(e));
		return;
	}
	e->failures = 0;
	if ((in = intent_by_id(p->intents, id)) != NULL &&
	    strcmp(res->spend.id, id) == 0)
		(void)webhook_apply_spend(p->intents, in, &res->spend, "poll");
	else
		log_warnx("event=poll_mismatch id=%s got=%s", id,
		    res->spend.id);
	if ((e = find(p, id)) == NULL)
		return;
	in = intent_by_id(p->intents, id);
	if (in == NULL || spend_status_terminal(in->spend.status))
		entry_free(e);
	else
		schedule(e, next_delay_ms(e));
}

static void
poll_fire(evutil_socket_t fd, short what, void *arg)
{
	struct poll_entry *e = arg;
	struct poller *p = e->p;
	struct dino_key key;
	struct intent *in;

	if ((in = intent_by_id(p->intents, e->id)) == NULL ||
	    spend_status_terminal(in->spend.status)) {
		entry_free(e);
		return;
	}
	/* The key the spend was made with: replay may have no principal. */
	creds_dino_key(in->account != NULL ? in->account :
	    in->principal->account, &key);
	log_debug("event=poll id=%s", e->id);
	if ((e->call = dino_get_spend(p->dino, &key, e->id, poll_done,
	    e)) == NULL) {
		e->failures++;
		schedule(e, next_delay_ms(e));
	}
}

void
poll_watch(struct poller *p, const struct intent *in, int soon)
{
	struct poll_entry *e;

	if (p == NULL || spend_check_id(in->spend.id) != NULL ||
	    spend_status_terminal(in->spend.status) ||
	    find(p, in->spend.id) != NULL)
		return;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		fatal("%s: calloc", __func__);
	e->p = p;
	snprintf(e->id, sizeof(e->id), "%s", in->spend.id);
	if ((e->ev = evtimer_new(p->base, poll_fire, e)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	LIST_INSERT_HEAD(bucket(p, e->id), e, bucket);
	p->n++;
	log_debug("event=poll_start id=%s", e->id);
	schedule(e, soon ? (int64_t)randombytes_uniform(
	    POLL_START_SPREAD_S * 1000) : next_delay_ms(e));
}

void
poll_resume_all(struct poller *p)
{
	struct intent *in;
	size_t n = 0;

	TAILQ_FOREACH(in, &p->intents->all, age)
		if (in->indexed_id && !spend_status_terminal(in->spend.status)) {
			poll_watch(p, in, 1);
			n++;
		}
	if (n > 0)
		log_info("event=poll_resume pending=%zu", n);
}

size_t
poll_count(const struct poller *p)
{
	return p->n;
}

struct poller *
poll_new(struct event_base *base, const struct broker_config *cfg,
    struct dino_client *dino, struct intent_table *intents)
{
	struct poller *p;
	size_t i;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		fatal("%s: calloc", __func__);
	p->base = base;
	p->cfg = cfg;
	p->dino = dino;
	p->intents = intents;
	for (i = 0; i < POLL_BUCKETS; i++)
		LIST_INIT(&p->buckets[i]);
	randombytes_buf(p->hkey, sizeof(p->hkey));
	return p;
}

void
poll_free(struct poller *p)
{
	struct poll_entry *e;
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < POLL_BUCKETS; i++)
		while ((e = LIST_FIRST(&p->buckets[i])) != NULL)
			entry_free(e);
	free(p);
}
