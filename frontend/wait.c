/*
 * wait_spend: the frontend holds the agents' waiting requests; the broker
 * pushes status changes (MSG_SPEND_UPDATE) and the frontend answers every
 * waiter of that spend at once.
 *
 * A waiter exists only after the broker answered its MSG_WAIT_SPEND with
 * the spend it asked for: the broker checked ownership then, so a push can
 * only ever wake requests the broker admitted.  The channel is ordered, so
 * a change cannot fall between that answer and the wait.
 *
 * Waiters are grouped per spend id in a hash table (a watch), which also
 * keeps the answer for a timeout rendered once, so 10,000 agents waiting
 * on one spend cost one copy of it; a decision is rendered once too, and
 * answered in batches (wake_run).  Deadlines need no timer each: the
 * waiters with the same timeout_s join one FIFO in arrival order, so each
 * FIFO is sorted by deadline, and one timer is armed at the earliest head
 * among the FRONTEND_WAIT_MAX_S + 1 of them.
 */
#include <sys/queue.h>
#include <sys/time.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "frontend.h"
#include "ipc.h"
#include "dinolimits.h"
#include "log.h"
#include "proto.h"
#include "spend.h"
#include "util.h"

_Static_assert((FRONTEND_WATCH_BUCKETS & (FRONTEND_WATCH_BUCKETS - 1)) == 0,
    "FRONTEND_WATCH_BUCKETS must be a power of two");

struct fe_waiter;

struct fe_watch {
	LIST_ENTRY(fe_watch)	 bucket;
	char			 id[SPEND_ID_MAX + 1];
	char			*timeout_body;	/* pending spend, timed_out */
	int			 timeout_status;
	LIST_HEAD(, fe_waiter)	 waiters;
};

/* A decision being delivered: one body shared by every waiter it wakes. */
struct fe_wake {
	char			*body;
	int			 status;
	unsigned		 refs;
};

struct fe_waiter {
	struct fe_call		 call;		/* the held agent request */
	struct fe_watch		*w;		/* NULL once woken */
	struct fe_wake		*wake;		/* set: on the wake queue */
	LIST_ENTRY(fe_waiter)	 by_watch;
	TAILQ_ENTRY(fe_waiter)	 by_deadline;
	int64_t			 deadline_ms;	/* monotonic */
	uint32_t		 timeout_s;
};
TAILQ_HEAD(fe_waitq, fe_waiter);

struct fe_wait {
	LIST_HEAD(, fe_watch)	 buckets[FRONTEND_WATCH_BUCKETS];
	struct fe_waitq		 queues[FRONTEND_WAIT_MAX_S + 1];
	struct fe_waitq		 wakeq;		/* woken, not yet answered */
	struct event		*wake_ev;
	struct event		*timer;
	int64_t			 armed_ms;	/* 0: not armed */
	unsigned		 nwaiters;
	unsigned		 nwatches;
};

static void	wait_timer(evutil_socket_t, short, void *);
static void	wake_cb(evutil_socket_t, short, void *);

/*
 * The table.
 */

static struct fe_wait *
wait_table(struct frontend *fe)
{
	struct fe_wait *t;
	size_t i;

	if (fe->wait != NULL)
		return fe->wait;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	for (i = 0; i < FRONTEND_WATCH_BUCKETS; i++)
		LIST_INIT(&t->buckets[i]);
	for (i = 0; i <= FRONTEND_WAIT_MAX_S; i++)
		TAILQ_INIT(&t->queues[i]);
	TAILQ_INIT(&t->wakeq);
	if ((t->timer = evtimer_new(fe->base, wait_timer, fe)) == NULL ||
	    (t->wake_ev = evtimer_new(fe->base, wake_cb, fe)) == NULL) {
		if (t->timer != NULL)
			event_free(t->timer);
		free(t);
		return NULL;
	}
	fe->wait = t;
	return t;
}

/* FNV-1a: ids reach the table only once the broker has named them. */
static unsigned
id_hash(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h & (FRONTEND_WATCH_BUCKETS - 1);
}

static struct fe_watch *
watch_find(struct fe_wait *t, const char *id)
{
	struct fe_watch *w;

	LIST_FOREACH(w, &t->buckets[id_hash(id)], bucket)
		if (strcmp(w->id, id) == 0)
			return w;
	return NULL;
}

/* The answer a waiter gets at its timeout: the spend, timed_out true. */
static int
watch_render(struct fe_watch *w, const struct msg_spend *sp)
{
	char *body;

	if ((body = fe_render_wait(&sp->spend, 1, &w->timeout_status)) ==
	    NULL)
		return -1;
	if (w->timeout_body != NULL)
		cJSON_free(w->timeout_body);
	w->timeout_body = body;
	return 0;
}

static struct fe_watch *
watch_get(struct fe_wait *t, const struct msg_spend *sp)
{
	struct fe_watch *w;

	if ((w = watch_find(t, sp->spend.id)) != NULL)
		return watch_render(w, sp) == -1 ? NULL : w;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	snprintf(w->id, sizeof(w->id), "%s", sp->spend.id);
	LIST_INIT(&w->waiters);
	if (watch_render(w, sp) == -1) {
		free(w);
		return NULL;
	}
	LIST_INSERT_HEAD(&t->buckets[id_hash(w->id)], w, bucket);
	t->nwatches++;
	return w;
}

static void
watch_free(struct fe_wait *t, struct fe_watch *w)
{
	LIST_REMOVE(w, bucket);
	if (w->timeout_body != NULL)
		cJSON_free(w->timeout_body);
	free(w);
	t->nwatches--;
}

static void
wake_put(struct fe_wake *wk)
{
	if (--wk->refs > 0)
		return;
	cJSON_free(wk->body);
	free(wk);
}

/*
 * Unlinks a waiter (answered or gone) and frees it, and its watch if it
 * was the last there, or its share of a decision if it was woken.
 */
static void
waiter_free(struct fe_wait *t, struct fe_waiter *wt)
{
	struct fe_watch *w = wt->w;

	frontend_call_detach(&wt->call);
	if (wt->wake != NULL) {
		TAILQ_REMOVE(&t->wakeq, wt, by_deadline);
		wake_put(wt->wake);
	} else {
		LIST_REMOVE(wt, by_watch);
		TAILQ_REMOVE(&t->queues[wt->timeout_s], wt, by_deadline);
	}
	t->nwaiters--;
	free(wt);
	if (w != NULL && LIST_EMPTY(&w->waiters))
		watch_free(t, w);
}

/*
 * The one timer.
 */

static void
timer_arm(struct fe_wait *t, int64_t at_ms, int64_t now)
{
	struct timeval tv;
	int64_t ms = at_ms > now ? at_ms - now : 0;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	if (evtimer_add(t->timer, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
	t->armed_ms = at_ms;
}

static void
timer_rearm(struct fe_wait *t, int64_t now)
{
	struct fe_waiter *wt;
	int64_t next = 0;
	size_t i;

	for (i = 0; i <= FRONTEND_WAIT_MAX_S; i++)
		if ((wt = TAILQ_FIRST(&t->queues[i])) != NULL &&
		    (next == 0 || wt->deadline_ms < next))
			next = wt->deadline_ms;
	if (next == 0) {
		evtimer_del(t->timer);
		t->armed_ms = 0;
	} else
		timer_arm(t, next, now);
}

static void
wait_timer(evutil_socket_t fd, short what, void *arg)
{
	struct frontend *fe = arg;
	struct fe_wait *t = fe->wait;
	struct fe_waiter *wt;
	int64_t now = mono_ms();
	size_t i;

	t->armed_ms = 0;
	for (i = 0; i <= FRONTEND_WAIT_MAX_S; i++)
		while ((wt = TAILQ_FIRST(&t->queues[i])) != NULL &&
		    wt->deadline_ms <= now) {
			fe_call_reply(&wt->call, wt->w->timeout_status,
			    wt->w->timeout_body);
			waiter_free(t, wt);
		}
	timer_rearm(t, now);
}

/*
 * Requests.
 */

/*
 * The query of wait_spend: absent, or exactly "timeout_s=N" with N of one
 * to three digits and at most max.  Returns 0, or -1 with *why set.
 */
int
fe_wait_timeout_parse(const char *query, unsigned max, uint32_t *out,
    const char **why)
{
	const char *p;
	uint32_t v = 0;
	size_t n;

	*why = "timeout_s: must be a whole number of seconds from 0 to "
	    "the maximum (300)";
	if (query == NULL) {
		*out = FRONTEND_WAIT_DEFAULT_S < max ? FRONTEND_WAIT_DEFAULT_S :
		    max;
		return 0;
	}
	if (strncmp(query, "timeout_s=", 10) != 0) {
		*why = "the only query parameter is timeout_s";
		return -1;
	}
	p = query + 10;
	if ((n = strlen(p)) == 0 || n > 3)
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint32_t)(*p - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static unsigned
wait_max(const struct frontend *fe)
{
	unsigned max = fe->configured ? fe->config.max_wait_s :
	    FRONTEND_WAIT_MAX_S;

	return max > FRONTEND_WAIT_MAX_S ? FRONTEND_WAIT_MAX_S : max;
}

void
fe_wait_start(struct fe_call *call, const char *id, const char *query)
{
	struct fe_wait *t = call->fe->wait;
	struct msg_wait_spend m;
	struct ipc_buf b;
	const char *why;

	if (fe_wait_timeout_parse(query, wait_max(call->fe), &call->wait_s,
	    &why) == -1) {
		fe_call_error(call, 400, "invalid_request", why);
		return;
	}
	if (t != NULL && t->nwaiters >= FRONTEND_WAITERS_MAX) {
		fe_call_error(call, 503, "busy", "too many agents are waiting");
		return;
	}
	memset(&m, 0, sizeof(m));
	m.caller = call->caller;
	snprintf(m.id, sizeof(m.id), "%s", id);
	m.timeout_s = call->wait_s;
	snprintf(call->wait_id, sizeof(call->wait_id), "%s", id);
	if (msg_wait_spend_enc(&b, call->reqid, &m) == -1)
		fe_call_error(call, 400, "invalid_request",
		    "id: must be req_ or hold_ followed by 26 lowercase ULID "
		    "characters");
	else
		frontend_broker_call(call, &b);
}

/* Answers at once: a decided spend, or a pending one at timeout 0. */
static void
reply_now(struct fe_call *c, const struct msg_spend *sp)
{
	char *body;
	int status;

	if ((body = fe_render_wait(&sp->spend,
	    !spend_status_terminal(sp->spend.status), &status)) == NULL) {
		fe_call_error(c, 500, "internal_error", "out of memory");
		return;
	}
	fe_call_reply(c, status, body);
	cJSON_free(body);
}

/*
 * Holds the agent's request: the waiter takes over the request and its
 * link to the connection from c, which the caller then frees.
 */
static int
hold(struct fe_call *c, const struct msg_spend *sp)
{
	struct fe_wait *t;
	struct fe_watch *w;
	struct fe_waiter *wt;
	struct fe_conn *conn = c->conn;
	int64_t now = mono_ms();

	if ((t = wait_table(c->fe)) == NULL ||
	    t->nwaiters >= FRONTEND_WAITERS_MAX ||
	    (wt = calloc(1, sizeof(*wt))) == NULL)
		return -1;
	if ((w = watch_get(t, sp)) == NULL) {
		free(wt);
		return -1;
	}
	wt->call = *c;
	wt->call.held = 1;
	frontend_call_detach(c);
	c->req = NULL;
	frontend_call_attach(&wt->call, conn);
	wt->w = w;
	wt->timeout_s = c->wait_s;
	wt->deadline_ms = now + (int64_t)c->wait_s * 1000;
	LIST_INSERT_HEAD(&w->waiters, wt, by_watch);
	TAILQ_INSERT_TAIL(&t->queues[wt->timeout_s], wt, by_deadline);
	t->nwaiters++;
	if (t->armed_ms == 0 || wt->deadline_ms < t->armed_ms)
		timer_arm(t, wt->deadline_ms, now);
	return 0;
}

int
fe_wait_answer(struct fe_call *c, const struct msg_spend *sp)
{
	if (strcmp(sp->spend.id, c->wait_id) != 0)
		return -1;
	if (c->req == NULL)
		return 0;
	if (spend_status_terminal(sp->spend.status) || c->wait_s == 0 ||
	    c->conn == NULL)
		reply_now(c, sp);
	else if (hold(c, sp) == -1)
		fe_call_error(c, 503, "busy", "too many agents are waiting");
	return 0;
}

/*
 * Answers woken waiters, FRONTEND_WAKE_BATCH at a time: between batches
 * the loop turns, so the answers already made are written (and their
 * buffers freed) while the rest wait their turn, instead of thousands of
 * replies piling up in memory before the first byte leaves.
 */
static void
wake_run(struct fe_wait *t)
{
	static const struct timeval next_turn = { 0, 0 };
	struct fe_waiter *wt;
	int i;

	for (i = 0; i < FRONTEND_WAKE_BATCH &&
	    (wt = TAILQ_FIRST(&t->wakeq)) != NULL; i++) {
		fe_call_reply(&wt->call, wt->wake->status, wt->wake->body);
		waiter_free(t, wt);
	}
	if (!TAILQ_EMPTY(&t->wakeq) &&
	    evtimer_add(t->wake_ev, &next_turn) == -1)
		fatalx("%s: evtimer_add", __func__);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct frontend *fe = arg;

	wake_run(fe->wait);
}

/*
 * A pushed status change: a decision moves every waiter of the spend to
 * the wake queue with one rendered body; anything else refreshes the
 * timeout answer.
 */
void
fe_wait_update(struct frontend *fe, const struct msg_spend *sp)
{
	struct fe_wait *t = fe->wait;
	struct fe_waiter *wt;
	struct fe_watch *w;
	struct fe_wake *wk;
	unsigned n = 0;

	if (t == NULL || (w = watch_find(t, sp->spend.id)) == NULL)
		return;
	if (!spend_status_terminal(sp->spend.status)) {
		(void)watch_render(w, sp);
		return;
	}
	if ((wk = calloc(1, sizeof(*wk))) == NULL ||
	    (wk->body = fe_render_spend(sp, &wk->status)) == NULL) {
		free(wk);
		log_warnx("event=wait_render_failed id=%s", w->id);
		return;
	}
	while ((wt = LIST_FIRST(&w->waiters)) != NULL) {
		LIST_REMOVE(wt, by_watch);
		TAILQ_REMOVE(&t->queues[wt->timeout_s], wt, by_deadline);
		wt->w = NULL;
		wt->wake = wk;
		wk->refs++;
		TAILQ_INSERT_TAIL(&t->wakeq, wt, by_deadline);
		n++;
	}
	watch_free(t, w);
	log_info("event=wait_woken id=%s status=%s waiters=%u", sp->spend.id,
	    sp->spend.status, n);
	wake_run(t);
}

/* The agent's connection closed while its request was held. */
void
fe_wait_gone(struct fe_call *c)
{
	struct fe_waiter *wt;

	wt = (struct fe_waiter *)(void *)((char *)c -
	    offsetof(struct fe_waiter, call));
	waiter_free(c->fe->wait, wt);
}

/* The broker is gone: every waiter gets a 503 now. */
void
fe_wait_lost(struct frontend *fe)
{
	struct fe_wait *t = fe->wait;
	struct fe_waiter *wt;
	size_t i;

	if (t == NULL)
		return;
	/* The decisions already known are still delivered. */
	while ((wt = TAILQ_FIRST(&t->wakeq)) != NULL) {
		fe_call_reply(&wt->call, wt->wake->status, wt->wake->body);
		waiter_free(t, wt);
	}
	evtimer_del(t->wake_ev);
	for (i = 0; i <= FRONTEND_WAIT_MAX_S; i++)
		while ((wt = TAILQ_FIRST(&t->queues[i])) != NULL) {
			fe_call_error(&wt->call, 503, "broker_unavailable",
			    "the broker connection was lost");
			waiter_free(t, wt);
		}
	evtimer_del(t->timer);
	t->armed_ms = 0;
}

unsigned
fe_wait_count(const struct frontend *fe)
{
	return fe->wait != NULL ? fe->wait->nwaiters : 0;
}
