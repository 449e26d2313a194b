/*
 * dino-frontend: the only process that parses agent bytes.  It takes HTTP
 * requests on the agent socket, validates them, and forwards typed messages
 * to dino-broker over one SEQPACKET channel; it holds no secret and makes
 * no policy decision.
 *
 * Files: main.c (arguments, start-up, confinement order), http.c (the
 * agent side: connections, limits, routes), broker.c (the broker side:
 * requests in flight, frontend_dispatch_broker), validate.c (request
 * intake, pure functions), render.c (JSON answers, pure functions),
 * tools.c (tool descriptors), wait.c (wait_spend: waiters held until
 * the broker pushes a decision), sandbox.c (the seccomp table).
 */
#ifndef DINO_FRONTEND_H
#define DINO_FRONTEND_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "proto.h"

struct event;
struct event_base;
struct evhttp;
struct evhttp_request;
struct evconnlistener;
struct ipc_peer;

enum fe_route {
	ROUTE_NONE,
	ROUTE_CREATE_SPEND,
	ROUTE_GET_BALANCE,
	ROUTE_GET_SPEND,
	ROUTE_WAIT_SPEND,	/* wait.c */
	ROUTE_TOOLS,
	ROUTE_HEALTHZ,
};

struct fe_conn;
struct fe_wait;

/*
 * One agent request.  Answered at once, a call lives on the stack; sent to
 * the broker, it is copied to the heap and kept in the table of requests in
 * flight until the broker answers or its deadline passes.  req and conn
 * become NULL when the agent's connection closes first, and the late
 * answer is then dropped without touching either.
 */
struct fe_call {
	struct frontend		*fe;
	struct evhttp_request	*req;
	struct fe_conn		*conn;
	uint32_t		 reqid;
	enum fe_route		 route;
	struct msg_caller	 caller;
	int			 close;		/* answer with Connection: close */
	int			 linked;	/* on conn->calls */
	int64_t			 deadline_ms;	/* broker.c: mono_ms() */
	/* wait_spend (wait.c): the id asked for, the timeout, and whether
	   the call is held by a waiter rather than in flight. */
	char			 wait_id[SPEND_ID_MAX + 1];
	uint32_t		 wait_s;
	int			 held;
	LIST_ENTRY(fe_call)	 bucket;	/* broker.c: by reqid */
	TAILQ_ENTRY(fe_call)	 by_deadline;	/* broker.c: in sending order */
	LIST_ENTRY(fe_call)	 conn_entry;	/* http.c: by connection */
};
LIST_HEAD(fe_calls, fe_call);
TAILQ_HEAD(fe_call_fifo, fe_call);

#define FE_INFLIGHT_BUCKETS	1024	/* power of two */
#define FE_UID_BUCKETS		256	/* power of two */
#define FE_RENDER_STACK		4096	/* render.c: answers printed on the stack */

/* Connections held by one uid. */
struct fe_uidcount {
	uid_t			 uid;
	unsigned		 n;
	LIST_ENTRY(fe_uidcount)	 entry;
};
LIST_HEAD(fe_uids, fe_uidcount);

struct frontend {
	struct event_base	*base;
	struct evhttp		*http;
	struct evconnlistener	*listener;
	struct event		*accept_timer;
	struct event		*exit_timer;
	int			 listen_fd;

	/* The broker channel and what it told us. */
	struct ipc_peer		*broker;
	int			 configured;
	int			 broker_lost;
	struct msg_config	 config;

	/* Requests in flight, by reqid and by deadline, and their timer. */
	struct fe_calls		 inflight[FE_INFLIGHT_BUCKETS];
	struct fe_call_fifo	 by_deadline;
	struct event		*call_timer;
	unsigned		 ninflight;
	uint32_t		 next_reqid;
	int			 reqid_wrapped;

	/* Agent connections: by descriptor, and a count per uid. */
	struct fe_conn		**conns;
	size_t			 conns_size;
	unsigned		 nconns;
	unsigned		 conns_max;
	struct fe_uids		 uids[FE_UID_BUCKETS];

	const char		*tools_json;
	int			 exit_status;

	struct fe_wait		*wait;		/* wait.c; NULL until used */
};

/* http.c */
int	frontend_http_init(struct frontend *, int listen_fd, long nofile);
void	frontend_http_config(struct frontend *);
void	fe_call_reply(struct fe_call *, int status, const char *body);
void	fe_call_error(struct fe_call *, int status, const char *code,
	    const char *message);
uint32_t fe_next_reqid(struct frontend *);
void	frontend_call_attach(struct fe_call *, struct fe_conn *);
void	frontend_call_detach(struct fe_call *);

/* broker.c */
void	frontend_broker_init(struct frontend *, int fd);
int	frontend_broker_hello(struct frontend *);
void	frontend_broker_call(struct fe_call *, const struct ipc_buf *);
void	frontend_broker_lost(struct frontend *, const char *why);

/* validate.c: pure, so the unit tests can reach them. */
int	fe_parse_create_spend(const char *body, size_t len,
	    struct msg_create_spend *out, char *msg, size_t msglen);
int	fe_content_type_json(const char *value);
int	fe_agent_label(const char *value, char *out, size_t outlen);
int	fe_route_match(const char *method, const char *path,
	    const char *query, enum fe_route *route, char *id, size_t idlen,
	    const char **why);

/* render.c */
/* Writes the decimal digits of u just before end; returns the first. */
char	*fe_render_error(const char *code, const char *message);
char	*fe_render_spend(const struct msg_spend *, int *status);
char	*fe_render_wait(const struct spend_obj *, int timed_out, int *status);
char	*fe_render_balance(const struct msg_balance *);
char	*fe_render_health(int connected);

/* wait.c */
int	fe_wait_timeout_parse(const char *query, unsigned max, uint32_t *out,
	    const char **why);
void	fe_wait_start(struct fe_call *, const char *id, const char *query);
int	fe_wait_answer(struct fe_call *, const struct msg_spend *);
void	fe_wait_update(struct frontend *, const struct msg_spend *);
void	fe_wait_gone(struct fe_call *);
void	fe_wait_lost(struct frontend *);
unsigned fe_wait_count(const struct frontend *);

/* tools.c */
cJSON	*fe_tools_build(void);

/* sandbox.c */
void	frontend_sandbox(int listen_fd, int debug_trap);
int	frontend_self_test_known(const char *what);
int	frontend_self_test_seccomp(const char *what);

#endif
