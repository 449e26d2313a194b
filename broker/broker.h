/*
 * The broker's runtime: the IPC listener for the frontend, the dispatcher
 * of its requests, and the glue between policy, intents and the Dino
 * client.  main.c owns start-up, privileges and confinement; everything
 * here runs on the libevent loop.
 */
#ifndef DINO_BROKER_BROKER_H
#define DINO_BROKER_BROKER_H

#include <sys/queue.h>
#include <sys/types.h>

#include "config.h"
#include "intent.h"
#include "ops.h"

struct event;
struct event_base;
struct dino_client;
struct fe_conn;

TAILQ_HEAD(fe_conn_list, fe_conn);
LIST_HEAD(read_share_list, read_share);

struct broker {
	struct event_base	*base;
	struct broker_config	*cfg;
	struct dino_client	*dino;
	struct intent_table	*intents;
	struct journal		*journal;	/* NULL in dispatcher unit tests */
	struct webhook		*webhook;	/* NULL without webhook_listen */
	struct poller		*poller;
	int			 listen_fd;
	struct event		*ev_accept;
	struct event		*ev_logflush;	/* log lines of one loop turn */
	uid_t			 peer_uid;	/* the only uid accepted */
	struct fe_conn_list	 conns;
	size_t			 nconns;
	size_t			 inflight;	/* at most IPC_INFLIGHT_MAX */
	unsigned int		 next_conn;
	struct read_share_list	 shares;	/* balance reads (broker.c) */

	/* Operator control (issue 7): admin.c, ops.c, reload.c. */
	struct admin		*admin;		/* NULL without admin_socket */
	struct admin		*metrics_http;	/* or NULL: metrics_listen */
	struct ops		 ops;
	const char		*config_path;
	char			*creds_dir;	/* at start, for reloads */
	int64_t			 started_ms;	/* wall clock */
	int64_t			 started_mono;
	int			 ipc_activated;	/* systemd's IPC socket */
};

/*
 * Creates the SOCK_SEQPACKET listener at cfg->ipc_socket: a stale socket
 * is replaced, any other file is an error.  As root the socket belongs to
 * the broker's user and the frontend user's group, mode 0660; otherwise
 * it is 0600.  Returns the fd, or -1 with a message in err.
 */
int	broker_listen(const struct broker_config *cfg, int as_root, char *err,
	    size_t errlen);

/* Starts accepting frontends on b->listen_fd and serving their requests. */
void	broker_start(struct broker *b);
/*
 * Sends every intent the journal's replay left open (no definitive answer
 * from Dino) again with its original derived key.
 */
void	broker_resume(struct broker *b);
/* Closes every frontend and forgets every request (callbacks never run). */
void	broker_stop(struct broker *b);

/*
 * The one entry point for a frontend's message: a table of permitted
 * types per connection state; anything else ends that connection.
 */
struct ipc_peer;
struct ipc_msg;
void	broker_dispatch_frontend(struct ipc_peer *peer, struct ipc_msg *m,
	    void *arg);

/*
 * A spend's status changed (intent_set_spend): pushes MSG_SPEND_UPDATE
 * (reqid 0) to every ready frontend, which wakes the wait_spend requests it
 * holds for that id, and starts or stops polling the spend.
 */
void	broker_spend_changed(struct intent *in, void *arg);

/*
 * SIGHUP and `dinoctl reload` (reload.c): reads the configuration and keys
 * again into a new config and swaps it in only when all of it is valid;
 * else the old one keeps running and errs lists every problem.  Returns
 * 0 or -1.
 */
struct config_errors;
int	broker_reload_config(struct broker *b, struct config_errors *errs);
void	broker_reload(struct broker *b);

/*
 * Sends an intent an operator approved (ops.h) with its derived key; the
 * spend then goes on like any other.
 */
void	broker_send_intent(struct broker *b, struct intent *in);

#endif
