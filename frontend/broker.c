/*
 * The broker side of the frontend: one SEQPACKET channel, a bounded table
 * of requests in flight keyed by reqid, and frontend_dispatch_broker().
 *
 * The broker is trusted more than any agent, but a message that breaks
 * the protocol (an unknown or unexpected type, an answer that does not fit
 * the request, a malformed layout) means something is badly wrong on the
 * other side: the frontend logs it, answers what it holds with 503 and
 * exits non-zero, and systemd starts a fresh pair of hands.  It cannot
 * reconnect itself, since its filter forbids socket(2) and connect(2).
 */
#include <sys/time.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "frontend.h"
#include "ipc.h"
#include "dinolimits.h"
#include "log.h"
#include "sdnotify.h"
#include "proto.h"
#include "util.h"

_Static_assert(FRONTEND_INFLIGHT_MAX <= IPC_INFLIGHT_MAX,
    "the broker would refuse requests the frontend holds");
_Static_assert((FE_INFLIGHT_BUCKETS & (FE_INFLIGHT_BUCKETS - 1)) == 0,
    "FE_INFLIGHT_BUCKETS must be a power of two");

static void	broker_closed(struct ipc_peer *, const char *, void *);
static void	frontend_dispatch_broker(struct ipc_peer *, struct ipc_msg *,
		    void *);

static struct fe_calls *
bucket(struct frontend *fe, uint32_t reqid)
{
	return &fe->inflight[reqid & (FE_INFLIGHT_BUCKETS - 1)];
}

static struct fe_call *
call_find(struct frontend *fe, uint32_t reqid)
{
	struct fe_call *c;

	LIST_FOREACH(c, bucket(fe, reqid), bucket)
		if (c->reqid == reqid)
			return c;
	return NULL;
}

/* Ends a call in flight; its answer, if any, has been sent already. */
static void
call_finish(struct fe_call *c)
{
	struct frontend *fe = c->fe;

	frontend_call_detach(c);
	TAILQ_REMOVE(&fe->by_deadline, c, by_deadline);
	LIST_REMOVE(c, bucket);
	fe->ninflight--;
	free(c);
}

/*
 * Every call waits the same FRONTEND_BROKER_TIMEOUT_S, so the calls in
 * sending order are in deadline order too, and one timer, armed for the
 * oldest, serves them all: a timer made, added and freed per call cost
 * two allocations and two heap operations.  An answered call leaves the
 * timer as it is; when it fires for a call already gone, it is armed
 * again for the new oldest.
 */
static void
calls_arm(struct frontend *fe, int64_t now)
{
	struct fe_call *c;
	struct timeval tv;
	int64_t ms;

	if ((c = TAILQ_FIRST(&fe->by_deadline)) == NULL)
		return;
	ms = c->deadline_ms > now ? c->deadline_ms - now : 0;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (evtimer_add(fe->call_timer, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
}

static void
calls_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct frontend *fe = arg;
	struct fe_call *c;
	int64_t now = mono_ms();

	while ((c = TAILQ_FIRST(&fe->by_deadline)) != NULL &&
	    c->deadline_ms <= now) {
		log_warnx("event=broker_timeout req=%u", c->reqid);
		fe_call_error(c, 504, "broker_timeout",
		    "the broker did not answer in time");
		call_finish(c);
	}
	calls_arm(fe, now);
}

void
frontend_broker_init(struct frontend *fe, int fd)
{
	size_t i;

	for (i = 0; i < FE_INFLIGHT_BUCKETS; i++)
		LIST_INIT(&fe->inflight[i]);
	TAILQ_INIT(&fe->by_deadline);
	if ((fe->call_timer = evtimer_new(fe->base, calls_timeout, fe)) ==
	    NULL)
		fatalx("%s: evtimer_new failed", __func__);
	fe->broker = ipc_peer_new(fe->base, fd, frontend_dispatch_broker,
	    broker_closed, fe);
	/* The requests of one loop turn leave in one sendmmsg. */
	if (fe->broker == NULL || ipc_peer_batch(fe->broker) == -1)
		fatalx("%s: ipc_peer_new failed", __func__);
}

int
frontend_broker_hello(struct frontend *fe)
{
	struct ipc_buf b;
	struct msg_hello h;

	h.pid = (uint32_t)getpid();
	if (msg_hello_enc(&b, 0, &h) == -1 ||
	    ipc_peer_send(fe->broker, &b) == -1)
		return -1;
	return 0;
}

/*
 * Sends b (already encoded with call->reqid) and keeps a heap copy of the
 * call until the broker answers or its deadline passes.  Answers the agent
 * at once when the broker cannot take the request.
 */
void
frontend_broker_call(struct fe_call *call, const struct ipc_buf *b)
{
	struct frontend *fe = call->fe;
	struct fe_call *c;
	int64_t now;

	if (fe->broker == NULL || fe->broker_lost || !fe->configured) {
		fe_call_error(call, 503, "broker_unavailable",
		    "the broker is not connected");
		return;
	}
	if (fe->ninflight >= FRONTEND_INFLIGHT_MAX ||
	    (c = malloc(sizeof(*c))) == NULL) {
		fe_call_error(call, 503, "busy", "too many requests in flight");
		return;
	}
	*c = *call;
	c->conn = NULL;
	c->linked = 0;
	if (ipc_peer_send(fe->broker, b) == -1) {
		free(c);
		fe_call_error(call, 503, "broker_unavailable",
		    "the broker cannot take the request");
		return;
	}
	now = mono_ms();
	c->deadline_ms = now + FRONTEND_BROKER_TIMEOUT_S * 1000;
	TAILQ_INSERT_TAIL(&fe->by_deadline, c, by_deadline);
	if (!evtimer_pending(fe->call_timer, NULL))
		calls_arm(fe, now);
	LIST_INSERT_HEAD(bucket(fe, c->reqid), c, bucket);
	fe->ninflight++;
	frontend_call_attach(c, call->conn);
}

static void
exit_later(evutil_socket_t fd, short what, void *arg)
{
	struct frontend *fe = arg;

	event_base_loopexit(fe->base, NULL);
}

/*
 * Answers every call in flight with 503 and leaves the loop a moment later,
 * so that evhttp can flush the answers first.
 */
void
frontend_broker_lost(struct frontend *fe, const char *why)
{
	struct timeval tv = { 0, FRONTEND_EXIT_GRACE_MS * 1000 };
	struct fe_call *c;
	size_t i;

	if (fe->broker_lost)
		return;
	log_err("event=broker_lost why=\"%s\" inflight=%u", why,
	    fe->ninflight);
	fe->broker_lost = 1;
	fe->exit_status = 1;
	if (fe->broker != NULL)
		ipc_peer_free(fe->broker);
	fe->broker = NULL;
	for (i = 0; i < FE_INFLIGHT_BUCKETS; i++)
		while ((c = LIST_FIRST(&fe->inflight[i])) != NULL) {
			fe_call_error(c, 503, "broker_unavailable",
			    "the broker connection was lost");
			call_finish(c);
		}
	fe_wait_lost(fe);
	if ((fe->exit_timer = evtimer_new(fe->base, exit_later, fe)) == NULL ||
	    evtimer_add(fe->exit_timer, &tv) == -1)
		event_base_loopexit(fe->base, NULL);
}

static void
broker_closed(struct ipc_peer *p, const char *why, void *arg)
{
	frontend_broker_lost(arg, why != NULL ? why : "closed");
}

static void
broker_config(struct frontend *fe, struct ipc_msg *m)
{
	struct msg_config cfg;

	if (msg_config_dec(m, &cfg) == -1) {
		frontend_broker_lost(fe, m->why);
		return;
	}
	if (cfg.max_wait_s > FRONTEND_WAIT_MAX_S)
		cfg.max_wait_s = FRONTEND_WAIT_MAX_S;
	if (cfg.idle_timeout_s > FRONTEND_IDLE_TIMEOUT_S_MAX)
		cfg.idle_timeout_s = FRONTEND_IDLE_TIMEOUT_S_MAX;
	fe->config = cfg;
	fe->configured = 1;
	frontend_http_config(fe);
	log_info("event=config max_conns_per_uid=%u idle_timeout_s=%u "
	    "max_wait_s=%u", cfg.max_conns_per_uid, cfg.idle_timeout_s,
	    cfg.max_wait_s);
	/* Ready means ready to serve tools: the broker has configured us. */
	sdn_notify("READY=1");
}

/* An answer must belong to a request of the kind it answers. */
static int
answer_fits(uint32_t type, enum fe_route route)
{
	switch (type) {
	case MSG_ERROR:
		return 1;
	case MSG_BALANCE:
		return route == ROUTE_GET_BALANCE;
	case MSG_SPEND:
		return route == ROUTE_CREATE_SPEND || route == ROUTE_GET_SPEND ||
		    route == ROUTE_WAIT_SPEND;
	default:
		return 0;
	}
}

/* reqids are issued in order from 1; a higher or zero one was never sent. */
static int
reqid_issued(struct frontend *fe, uint32_t reqid)
{
	if (reqid == 0)
		return 0;
	return fe->reqid_wrapped || reqid < fe->next_reqid;
}

union broker_answer {
	struct msg_spend	spend;
	struct msg_balance	balance;
	struct msg_error	error;
};

/*
 * Where every answer and push is decoded.  A spend is several KiB: on the
 * heap it cost a large allocation per message, and with thousands of
 * agent connections coming and going that search of the free lists cost
 * more than rendering the answer.  Messages are handled one at a time and
 * nothing keeps a pointer into this past its handler.
 */
static union broker_answer decoded;

static int
answer_decode(struct ipc_msg *m, union broker_answer *a)
{
	switch (m->hdr.type) {
	case MSG_SPEND:
		return msg_spend_dec(m, &a->spend);
	case MSG_BALANCE:
		return msg_balance_dec(m, &a->balance);
	default:
		return msg_error_dec(m, &a->error);
	}
}

static void
answer_reply(struct fe_call *c, uint32_t type, const union broker_answer *a)
{
	char *body;
	int status = 200;

	if (type == MSG_ERROR) {
		fe_call_error(c, (int)a->error.http_status, a->error.code,
		    a->error.message);
		return;
	}
	if (type == MSG_SPEND)
		body = fe_render_spend(&a->spend, &status);
	else
		body = fe_render_balance(&a->balance);
	if (body == NULL) {
		fe_call_error(c, 500, "internal_error", "out of memory");
		return;
	}
	fe_call_reply(c, status, body);
	cJSON_free(body);
}

static void
broker_answer(struct frontend *fe, struct ipc_msg *m)
{
	union broker_answer *a = &decoded;
	struct fe_call *c;
	uint32_t reqid = m->hdr.reqid;

	if (!reqid_issued(fe, reqid)) {
		frontend_broker_lost(fe, "answer to a request never sent");
		return;
	}
	if (answer_decode(m, a) == -1) {
		frontend_broker_lost(fe, m->why);
	} else if ((c = call_find(fe, reqid)) == NULL) {
		/* Timed out earlier; the agent had its 504. */
		log_info("event=late_answer req=%u type=%s", reqid,
		    msg_type_name(m->hdr.type));
	} else if (!answer_fits(m->hdr.type, c->route)) {
		frontend_broker_lost(fe, "answer type does not fit the request");
	} else if (c->route == ROUTE_WAIT_SPEND && m->hdr.type == MSG_SPEND) {
		/* Answered now, or held by wait.c until the decision. */
		if (fe_wait_answer(c, &a->spend) == -1)
			frontend_broker_lost(fe, "wait_spend answer names "
			    "another spend");
		else
			call_finish(c);
	} else {
		answer_reply(c, m->hdr.type, a);
		call_finish(c);
	}
}

/*
 * A pushed status change (reqid 0): the decoder checks it, and wait.c
 * wakes the waiters of that spend, if any.
 */
static void
broker_update(struct frontend *fe, struct ipc_msg *m)
{
	struct msg_spend *sp = &decoded.spend;

	if (m->hdr.reqid != 0 || msg_spend_dec(m, sp) == -1)
		frontend_broker_lost(fe, m->hdr.reqid != 0 ?
		    "a push with a reqid" : m->why);
	else {
		log_debug("event=spend_update id=%s status=%s", sp->spend.id,
		    sp->spend.status);
		fe_wait_update(fe, sp);
	}
}

/*
 * Until MSG_CONFIG arrives only MSG_CONFIG is permitted; afterwards,
 * answers to requests in flight, pushes, and a new MSG_CONFIG (a reload).
 * Everything else ends the channel.
 */
static void
frontend_dispatch_broker(struct ipc_peer *p, struct ipc_msg *m, void *arg)
{
	struct frontend *fe = arg;

	if (fe->broker_lost)
		return;
	if (!fe->configured && m->hdr.type != MSG_CONFIG) {
		frontend_broker_lost(fe, "message before MSG_CONFIG");
		return;
	}
	switch (m->hdr.type) {
	case MSG_CONFIG:
		broker_config(fe, m);
		break;
	case MSG_SPEND:
	case MSG_BALANCE:
	case MSG_ERROR:
		broker_answer(fe, m);
		break;
	case MSG_SPEND_UPDATE:
		broker_update(fe, m);
		break;
	default:
		frontend_broker_lost(fe, "unexpected message type");
		break;
	}
}
