/*
 * The agent side: evhttp on the agent socket, connection accounting, the
 * limits of every request, and the routes.
 *
 * Who is calling comes from SO_PEERCRED alone, read on the first request
 * of a connection and cached until evhttp closes it (closecb).  The
 * connection table is indexed by descriptor; closecb clears the slot
 * before evhttp closes the descriptor, so a slot never outlives its
 * connection.  Calls waiting for the broker are linked to their
 * connection, and closecb cuts those links, so a late answer never
 * touches a request evhttp has freed.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "frontend.h"
#include "dinolimits.h"
#include "log.h"
#include "proto.h"
#include "spend.h"
#include "util.h"

struct fe_conn {
	struct frontend			*fe;
	struct evhttp_connection	*evcon;
	int				 fd;
	struct ucred			 cred;
	struct fe_uidcount		*uc;
	struct fe_calls			 calls;
};

static const char *const route_names[] = {
	[ROUTE_NONE] = "-",
	[ROUTE_CREATE_SPEND] = "create_spend",
	[ROUTE_GET_BALANCE] = "get_balance",
	[ROUTE_GET_SPEND] = "get_spend",
	[ROUTE_WAIT_SPEND] = "wait_spend",
	[ROUTE_TOOLS] = "tools",
	[ROUTE_HEALTHZ] = "healthz",
};

uint32_t
fe_next_reqid(struct frontend *fe)
{
	/* 0 is never issued; after 2^32 requests every id may be in use. */
	if (fe->next_reqid == 0) {
		fe->next_reqid = 1;
		fe->reqid_wrapped = 1;
	}
	return fe->next_reqid++;
}

/*
 * Replies.  Every answer goes through fe_call_reply(), which logs the one
 * line per request: reqid, caller, route and status; never a body.
 */

void
frontend_call_attach(struct fe_call *c, struct fe_conn *conn)
{
	c->conn = conn;
	c->linked = 0;
	if (conn != NULL) {
		LIST_INSERT_HEAD(&conn->calls, c, conn_entry);
		c->linked = 1;
	}
}

void
frontend_call_detach(struct fe_call *c)
{
	if (c->linked)
		LIST_REMOVE(c, conn_entry);
	c->linked = 0;
	c->conn = NULL;
}


static char *
put_str(char *p, const char *s)
{
	size_t len = strlen(s);

	memcpy(p, s, len);
	return p + len;
}

static char *
put_num(char *p, int64_t v)
{
	return p + fmt_int(p, v);
}

/*
 * The one line per request, formatted here rather than by log_info()'s
 * printf: seven conversions cost more than the rest of the reply's own
 * work.  The fixed text (58 bytes), four uint32_t and a status (at most
 * 51 characters) and a route name fit in REQUEST_LINE_FIXED bytes; the
 * agent label is printed as log_safe() makes it, at most AGENT_LABEL_MAX
 * bytes.
 */
#define REQUEST_LINE_FIXED	160

static void
log_request(const struct fe_call *call, int status)
{
	char line[REQUEST_LINE_FIXED + AGENT_LABEL_MAX + 1], *p = line;

	if (log_getlevel() < LOG_INFO)
		return;
	p = put_num(put_str(p, "event=request req="), call->reqid);
	p = put_num(put_str(p, " uid="), call->caller.uid);
	p = put_num(put_str(p, " gid="), call->caller.gid);
	p = put_num(put_str(p, " pid="), call->caller.pid);
	p = put_str(put_str(p, " route="), route_names[call->route]);
	p = put_num(put_str(p, " status="), status);
	p = put_str(p, " agent=\"");
	log_safe(p, AGENT_LABEL_MAX + 1, call->caller.agent);
	p += strlen(p);
	memcpy(p, "\"", 2);
	log_info("%s", line);
}

void
fe_call_reply(struct fe_call *call, int status, const char *body)
{
	struct evhttp_request *req = call->req;
	struct evhttp_connection *evcon;
	struct evkeyvalq *h;
	struct evbuffer *out;
	const char *date;

	if (req == NULL)
		return;
	/* Unlinked first: nothing may reach req once it is answered. */
	frontend_call_detach(call);
	call->req = NULL;
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	if ((date = http_date()) != NULL)
		evhttp_add_header(h, "Date", date);
	if (call->close)
		evhttp_add_header(h, "Connection", "close");
	out = evhttp_request_get_output_buffer(req);
	if (evbuffer_add(out, body, strlen(body)) == -1 ||
	    evbuffer_add(out, "\n", 1) == -1) {
		evbuffer_drain(out, evbuffer_get_length(out));
		status = 500;
	}
	evcon = evhttp_request_get_connection(req);
	evhttp_send_reply(req, status, NULL, NULL);
	if (evcon != NULL)
		http_write_now(evcon);
	log_request(call, status);
}

void
fe_call_error(struct fe_call *call, int status, const char *code,
    const char *message)
{
	static const char oom[] =
	    "{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}";
	char *body;

	if ((body = fe_render_error(code, message)) == NULL) {
		fe_call_reply(call, 500, oom);
		return;
	}
	fe_call_reply(call, status, body);
	cJSON_free(body);
}

/*
 * Connections and their uids.
 */

static struct fe_uidcount *
uid_get(struct frontend *fe, uid_t uid, int create)
{
	struct fe_uids *head = &fe->uids[uid & (FE_UID_BUCKETS - 1)];
	struct fe_uidcount *uc;

	LIST_FOREACH(uc, head, entry)
		if (uc->uid == uid)
			return uc;
	if (!create || (uc = calloc(1, sizeof(*uc))) == NULL)
		return NULL;
	uc->uid = uid;
	LIST_INSERT_HEAD(head, uc, entry);
	return uc;
}

static void
uid_put(struct fe_uidcount *uc)
{
	if (--uc->n == 0) {
		LIST_REMOVE(uc, entry);
		free(uc);
	}
}

/* Forgets a connection: its slot, its uid count, and its calls' links. */
static void
conn_forget(struct fe_conn *conn)
{
	struct frontend *fe = conn->fe;
	struct fe_call *c;

	while ((c = LIST_FIRST(&conn->calls)) != NULL) {
		/* evhttp frees the request with the connection. */
		c->req = NULL;
		frontend_call_detach(c);
		/* A held wait_spend has nothing left to answer: free it. */
		if (c->held)
			fe_wait_gone(c);
	}
	if (fe->conns[conn->fd] == conn)
		fe->conns[conn->fd] = NULL;
	uid_put(conn->uc);
	fe->nconns--;
	free(conn);
}

static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct fe_conn *conn = arg;

	log_debug("event=conn_close uid=%u fd=%d", (unsigned)conn->cred.uid,
	    conn->fd);
	conn_forget(conn);
}

static int
conn_fd(struct evhttp_request *req, struct evhttp_connection **evcon)
{
	struct bufferevent *bev;

	if ((*evcon = evhttp_request_get_connection(req)) == NULL ||
	    (bev = evhttp_connection_get_bufferevent(*evcon)) == NULL)
		return -1;
	return bufferevent_getfd(bev);
}

static unsigned
per_uid_max(const struct frontend *fe)
{
	return fe->configured ? fe->config.max_conns_per_uid :
	    FRONTEND_CONNS_PER_UID;
}

/*
 * Registers a connection on its first request: the caller as the kernel
 * reports it, counted against the total and the per-uid caps.  Returns
 * NULL with the status to answer when a cap is reached.
 */
static struct fe_conn *
conn_new(struct fe_call *call, struct evhttp_connection *evcon, int fd,
    int *status, const char **why)
{
	struct frontend *fe = call->fe;
	struct fe_conn *conn;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    len != sizeof(cred)) {
		log_warnx("event=peercred_failed fd=%d errno=%d", fd, errno);
		return NULL;
	}
	call->caller.uid = cred.uid;
	call->caller.gid = cred.gid;
	call->caller.pid = (uint32_t)cred.pid;
	if (fe->nconns >= fe->conns_max) {
		*why = "too many connections";
		return NULL;
	}
	if ((conn = calloc(1, sizeof(*conn))) == NULL ||
	    (conn->uc = uid_get(fe, cred.uid, 1)) == NULL) {
		free(conn);
		*why = "out of memory";
		return NULL;
	}
	if (conn->uc->n >= per_uid_max(fe)) {
		free(conn);
		*status = 429;
		*why = "too many connections from this uid";
		return NULL;
	}
	conn->uc->n++;
	conn->fe = fe;
	conn->evcon = evcon;
	conn->fd = fd;
	conn->cred = cred;
	LIST_INIT(&conn->calls);
	fe->conns[fd] = conn;
	fe->nconns++;
	evhttp_connection_set_closecb(evcon, conn_closed, conn);
	return conn;
}

/*
 * The connection of a request, from the table or registered now.  Fills
 * call->caller from the kernel's answer; on refusal returns NULL with the
 * status to answer and call->close set.
 */
static struct fe_conn *
conn_get(struct fe_call *call, int *status, const char **why)
{
	struct frontend *fe = call->fe;
	struct evhttp_connection *evcon;
	struct fe_conn *conn;
	int fd;

	call->close = 1;
	*status = 503;
	*why = "connection not usable";
	if ((fd = conn_fd(call->req, &evcon)) < 0 ||
	    (size_t)fd >= fe->conns_size)
		return NULL;
	if ((conn = fe->conns[fd]) != NULL && conn->evcon != evcon) {
		/*
		 * Never expected: closecb clears the slot before evhttp
		 * closes the descriptor, and the descriptor was reused, so
		 * the old connection no longer exists.  Forget it rather
		 * than let it lend its uid to a stranger.
		 */
		log_warnx("event=stale_conn fd=%d", fd);
		conn_forget(conn);
		conn = NULL;
	}
	if (conn == NULL &&
	    (conn = conn_new(call, evcon, fd, status, why)) == NULL)
		return NULL;
	call->close = 0;
	call->caller.uid = conn->cred.uid;
	call->caller.gid = conn->cred.gid;
	call->caller.pid = (uint32_t)conn->cred.pid;
	return conn;
}

/*
 * Limits on one request, beyond what evhttp enforces itself (header bytes,
 * body bytes, timeouts): the number of header fields, the length of the
 * request target, single copies of the headers that frame or label a
 * request, and the X-Dino-Agent label.
 *
 * The headers that must appear once are found in the same pass that
 * checks it, and their values kept in hv, so no route looks one up again.
 */
enum once_header {
	HDR_CONTENT_LENGTH,
	HDR_CONTENT_TYPE,
	HDR_TRANSFER_ENCODING,
	HDR_AGENT,
	HDR_HOST,
	HDR_ONCE_N
};

struct req_headers {
	const char	*value[HDR_ONCE_N];	/* NULL when absent */
};

static int
header_once(const char *key)
{
	static const char *const once[HDR_ONCE_N] = {
		[HDR_CONTENT_LENGTH] = "Content-Length",
		[HDR_CONTENT_TYPE] = "Content-Type",
		[HDR_TRANSFER_ENCODING] = "Transfer-Encoding",
		[HDR_AGENT] = "X-Dino-Agent",
		[HDR_HOST] = "Host",
	};
	int i;

	for (i = 0; i < HDR_ONCE_N; i++)
		if (strcasecmp(key, once[i]) == 0)
			return i;
	return -1;
}

static int
check_headers(struct fe_call *call, struct req_headers *hv)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(call->req);
	struct evkeyval *kv, *kv2;
	int n = 0, which;

	memset(hv, 0, sizeof(*hv));
	TAILQ_FOREACH(kv, h, next) {
		if (++n > FRONTEND_HEADERS_COUNT_MAX) {
			call->close = 1;
			fe_call_error(call, 431, "headers_too_large",
			    "too many header fields");
			return -1;
		}
		if ((which = header_once(kv->key)) == -1)
			continue;
		hv->value[which] = kv->value;
		for (kv2 = TAILQ_NEXT(kv, next); kv2 != NULL;
		    kv2 = TAILQ_NEXT(kv2, next))
			if (strcasecmp(kv->key, kv2->key) == 0) {
				call->close = 1;
				fe_call_error(call, 400, "invalid_request",
				    "a header that must appear once is "
				    "repeated");
				return -1;
			}
	}
	return 0;
}

static int
check_request(struct fe_call *call, struct req_headers *hv)
{
	const char *uri;

	if (check_headers(call, hv) == -1)
		return -1;
	/* Two framings at once is the shape of request smuggling. */
	if (hv->value[HDR_TRANSFER_ENCODING] != NULL &&
	    hv->value[HDR_CONTENT_LENGTH] != NULL) {
		call->close = 1;
		fe_call_error(call, 400, "invalid_request",
		    "Transfer-Encoding and Content-Length together");
		return -1;
	}
	/*
	 * Chunked framing is where parsers disagree (a tab after the colon,
	 * obs-fold, ...).  A chunked request is answered and its connection
	 * closed, so nothing after its body is ever read as a request.
	 */
	if (hv->value[HDR_TRANSFER_ENCODING] != NULL)
		call->close = 1;
	uri = evhttp_request_get_uri(call->req);
	if (uri == NULL || strlen(uri) > FRONTEND_URI_MAX) {
		call->close = 1;
		fe_call_error(call, 414, "uri_too_long",
		    "the request target is too long");
		return -1;
	}
	if (fe_agent_label(hv->value[HDR_AGENT], call->caller.agent,
	    sizeof(call->caller.agent)) == -1) {
		fe_call_error(call, 400, "invalid_request",
		    "X-Dino-Agent: must be 1-64 printable ASCII characters");
		return -1;
	}
	return 0;
}

static const char *
method_name(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	default:
		return "OTHER";
	}
}

/*
 * Routes.
 */

static int
body_get(struct fe_call *call, const struct req_headers *hv,
    const char **body, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(call->req);

	if (!fe_content_type_json(hv->value[HDR_CONTENT_TYPE])) {
		fe_call_error(call, 415, "unsupported_media_type",
		    "Content-Type must be application/json");
		return -1;
	}
	*len = evbuffer_get_length(in);
	if (*len > FRONTEND_BODY_MAX) {
		call->close = 1;
		fe_call_error(call, 413, "payload_too_large",
		    "the body is larger than 16384 bytes");
		return -1;
	}
	if (*len == 0) {
		fe_call_error(call, 400, "invalid_request", "body: empty body");
		return -1;
	}
	if ((*body = (const char *)evbuffer_pullup(in, (ev_ssize_t)*len)) ==
	    NULL) {
		fe_call_error(call, 500, "internal_error", "out of memory");
		return -1;
	}
	return 0;
}

static void
route_create_spend(struct fe_call *call, const struct req_headers *hv)
{
	/*
	 * Several KiB: a large allocation per request cost more than the
	 * parse, so one area serves every request; nothing keeps a pointer
	 * into it once the request is encoded.
	 */
	static struct msg_create_spend parsed;
	struct msg_create_spend *m = &parsed;
	struct ipc_buf b;
	const char *body, *why;
	char msg[ERROR_MESSAGE_MAX];
	size_t len;

	if (body_get(call, hv, &body, &len) == -1)
		return;
	if (fe_parse_create_spend(body, len, m, msg, sizeof(msg)) == -1) {
		fe_call_error(call, 400, "invalid_request", msg);
	} else {
		m->caller = call->caller;
		/* The broker's own rule, checked before anything is sent. */
		if ((why = spend_check_request(m)) != NULL ||
		    msg_create_spend_enc(&b, call->reqid, m) == -1)
			fe_call_error(call, 400, "invalid_request",
			    why != NULL ? why : "request does not encode");
		else
			frontend_broker_call(call, &b);
	}
}

static void
route_get_balance(struct fe_call *call)
{
	struct msg_get_balance m;
	struct ipc_buf b;

	memset(&m, 0, sizeof(m));
	m.caller = call->caller;
	if (msg_get_balance_enc(&b, call->reqid, &m) == -1)
		fe_call_error(call, 400, "invalid_request",
		    "request does not encode");
	else
		frontend_broker_call(call, &b);
}

static void
route_get_spend(struct fe_call *call, const char *id)
{
	struct msg_get_spend m;
	struct ipc_buf b;

	memset(&m, 0, sizeof(m));
	m.caller = call->caller;
	snprintf(m.id, sizeof(m.id), "%s", id);
	if (msg_get_spend_enc(&b, call->reqid, &m) == -1)
		fe_call_error(call, 400, "invalid_request",
		    "id: must be req_ or hold_ followed by 26 lowercase ULID "
		    "characters");
	else
		frontend_broker_call(call, &b);
}

static void
route_local(struct fe_call *call)
{
	char *body;

	if (call->route == ROUTE_TOOLS) {
		fe_call_reply(call, 200, call->fe->tools_json);
		return;
	}
	/* Connected means able to serve tools: the broker's limits arrived. */
	if ((body = fe_render_health(call->fe->broker != NULL &&
	    !call->fe->broker_lost && call->fe->configured)) == NULL) {
		fe_call_error(call, 500, "internal_error", "out of memory");
		return;
	}
	fe_call_reply(call, 200, body);
	cJSON_free(body);
}

static void
route_dispatch(struct fe_call *call, const struct req_headers *hv,
    const char *id)
{
	struct frontend *fe = call->fe;

	if (call->route == ROUTE_TOOLS || call->route == ROUTE_HEALTHZ) {
		route_local(call);
		return;
	}
	if (fe->broker == NULL || fe->broker_lost || !fe->configured) {
		fe_call_error(call, 503, "broker_unavailable",
		    "the broker is not connected");
		return;
	}
	if (call->route == ROUTE_WAIT_SPEND)
		fe_wait_start(call, id, evhttp_uri_get_query(
		    evhttp_request_get_evhttp_uri(call->req)));
	else if (call->route == ROUTE_CREATE_SPEND)
		route_create_spend(call, hv);
	else if (call->route == ROUTE_GET_BALANCE)
		route_get_balance(call);
	else
		route_get_spend(call, id);
}

static const char *
status_code(int status)
{
	switch (status) {
	case 404:
		return "not_found";
	case 405:
		return "method_not_allowed";
	default:
		return "invalid_request";
	}
}

/*
 * Finds the route of a request, or answers it with the reason there is
 * none.  Returns 0 with call->route and id set, else -1.
 */
static int
route_request(struct fe_call *call, char *id, size_t idlen)
{
	struct evhttp_request *req = call->req;
	const struct evhttp_uri *uri;
	const char *why, *path = NULL, *query = NULL;
	int status;

	if ((uri = evhttp_request_get_evhttp_uri(req)) != NULL) {
		path = evhttp_uri_get_path(uri);
		query = evhttp_uri_get_query(uri);
		/* A fragment is refused like a query: nothing ignored. */
		if (query == NULL && evhttp_uri_get_fragment(uri) != NULL)
			query = "";
	}
	status = fe_route_match(method_name(req), path, query, &call->route,
	    id, idlen, &why);
	if (status == 0 && evhttp_request_get_command(req) == EVHTTP_REQ_GET &&
	    evbuffer_get_length(evhttp_request_get_input_buffer(req)) > 0) {
		status = 400;
		why = "this route takes no body";
	}
	if (status == 0)
		return 0;
	if (status == 405)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", strcmp(why, "use POST") == 0 ? "POST" : "GET");
	fe_call_error(call, status, status_code(status), why);
	return -1;
}

/* evhttp's callback for every complete request. */
static void
http_request(struct evhttp_request *req, void *arg)
{
	struct frontend *fe = arg;
	struct fe_call call;
	struct req_headers hv;
	const char *why;
	char id[SPEND_ID_MAX + 1];
	int status;

	memset(&call, 0, sizeof(call));
	call.fe = fe;
	call.req = req;
	call.reqid = fe_next_reqid(fe);
	if ((call.conn = conn_get(&call, &status, &why)) == NULL) {
		fe_call_error(&call, status, status == 429 ? "rate_limited" :
		    "service_unavailable", why);
		return;
	}
	if (check_request(&call, &hv) == -1 ||
	    route_request(&call, id, sizeof(id)) == -1)
		return;
	route_dispatch(&call, &hv, id);
}

/*
 * The listener.  evhttp gets a listener we made, so that accept errors
 * reach us: on EMFILE or ENFILE accepting pauses for a moment instead of
 * spinning on a connection it cannot take.  The connection cap leaves
 * FRONTEND_FD_RESERVE descriptors free, so agents alone never exhaust the
 * table.
 */
/*
 * evhttp_bind_listener() makes evhttp the listener's user data, so the
 * error callback finds the frontend here.
 */
static struct frontend *accept_fe;

static void
accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct frontend *fe = arg;

	evconnlistener_enable(fe->listener);
}

static void
accept_error(struct evconnlistener *lev, void *arg)
{
	struct frontend *fe = accept_fe;
	struct timeval tv = { 0, FRONTEND_ACCEPT_PAUSE_MS * 1000 };
	int err = errno;

	log_warnx("event=accept_paused errno=%d nconns=%u", err, fe->nconns);
	evconnlistener_disable(lev);
	if (evtimer_add(fe->accept_timer, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
}

void
frontend_http_config(struct frontend *fe)
{
	struct timeval tv = { FRONTEND_IDLE_TIMEOUT_S, 0 };

	if (fe->configured)
		tv.tv_sec = fe->config.idle_timeout_s;
	evhttp_set_timeout_tv(fe->http, &tv);
}

static void
http_limits(struct frontend *fe, long nofile)
{
	long room = nofile - FRONTEND_FD_RESERVE;

	fe->conns_max = FRONTEND_CONNS_MAX;
	if (room < (long)fe->conns_max)
		fe->conns_max = room > 1 ? (unsigned)room : 1;
	fe->conns_size = (size_t)nofile;
	if ((fe->conns = calloc(fe->conns_size, sizeof(*fe->conns))) == NULL)
		fatalx("%s: out of memory", __func__);
	evhttp_set_max_body_size(fe->http, FRONTEND_BODY_MAX);
	evhttp_set_max_headers_size(fe->http, FRONTEND_HEADERS_BYTES_MAX);
	/* Other methods reach us only to be answered 405 in JSON. */
	evhttp_set_allowed_methods(fe->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	frontend_http_config(fe);
}

int
frontend_http_init(struct frontend *fe, int listen_fd, long nofile)
{
	size_t i;

	for (i = 0; i < FE_UID_BUCKETS; i++)
		LIST_INIT(&fe->uids[i]);
	if (fe->next_reqid == 0)
		fe->next_reqid = 1;
	fe->listen_fd = listen_fd;
	if ((fe->http = evhttp_new(fe->base)) == NULL)
		return -1;
	http_limits(fe, nofile);
	evhttp_set_gencb(fe->http, http_request, fe);
	/*
	 * Backlog 0: the socket already listens with FRONTEND_BACKLOG, and
	 * -1 would make libevent listen() again with 128, which 256 agents
	 * connecting at once overflowed (a UNIX connect then fails).
	 */
	fe->listener = evconnlistener_new(fe->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd);
	if (fe->listener == NULL)
		return -1;
	accept_fe = fe;
	evconnlistener_set_error_cb(fe->listener, accept_error);
	if ((fe->accept_timer = evtimer_new(fe->base, accept_resume, fe)) ==
	    NULL || evhttp_bind_listener(fe->http, fe->listener) == NULL)
		return -1;
	return 0;
}
