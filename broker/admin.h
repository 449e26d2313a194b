/*
 * The admin socket (dinoctl(8), dino-broker(8) OPERATOR CONTROL): HTTP/1.1
 * with JSON bodies over a UNIX socket, served by libevent's evhttp like
 * the webhook receiver, so that `curl --unix-socket` works as well as
 * dinoctl.
 *
 * Who may talk to it: root, the broker's own uid (it could read the keys
 * anyway), and the members of admin_group resolved at configuration load
 * (or a peer whose group at connect time is admin_group).  The decision
 * uses SO_PEERCRED only and is made again for every request; a refused
 * peer gets 403 and a log line, and at most ADMIN_CONNS_PER_UID
 * connections of one uid are served at once.
 *
 * Routes (bodies at most ADMIN_BODY_MAX bytes, strict JSON):
 *   GET  /v1/status                 POST /v1/pause      POST /v1/resume
 *   POST /v1/revoke  {"principal"}  POST /v1/restore {"principal"}
 *   GET  /v1/spends?principal=&status=&since=MS&limit=N
 *   POST /v1/approve {"id"}         POST /v1/deny {"id","reason"?}
 *   POST /v1/audit/verify           GET  /v1/metrics    POST /v1/reload
 *   POST /v1/log-level {"level"}
 * Errors are {"error":{"code","message"}}; a refused reload adds "errors",
 * one "FILE:LINE: message" string per problem.
 *
 * The same server, limited to GET /metrics and without the uid check,
 * serves metrics_listen.
 */
#ifndef DINO_BROKER_ADMIN_H
#define DINO_BROKER_ADMIN_H

#include <sys/types.h>

#include "config.h"

#define DINO_BROKER_VERSION	"0.1.0"

struct broker;
struct admin;

/*
 * A new admin socket at cfg->admin_socket (mode 0660 with admin_group,
 * else 0600; as root, owned by root and admin_group).  -1 with err set on
 * failure; -2 when none is configured.
 */
int	admin_bind(const struct broker_config *cfg, int as_root, char *err,
	    size_t errlen);
/* The metrics_listen descriptor, or -1 with err set. */
int	admin_bind_metrics(const struct broker_config *cfg, char *err,
	    size_t errlen);

/* Serves fd; metrics_only: the metrics endpoint. */
struct admin *admin_new(struct broker *b, int fd, int metrics_only);
void	admin_free(struct admin *a);
size_t	admin_conns(const struct admin *a);

/*
 * Whether a peer may use the admin socket: root, the broker's own uid
 * (self), a resolved member of admin_group, or a peer whose gid is
 * admin_group's.  Pure, for the unit tests.
 */
int	admin_authorize(const struct broker_config *cfg, uid_t self, uid_t uid,
	    gid_t gid);

/*
 * The per-uid cap: given the uids of the connections already served,
 * whether one more from uid fits.  Pure, for the unit tests.
 */
int	admin_cap_ok(const uid_t *uids, size_t n, uid_t uid, size_t per_uid,
	    size_t total);

#endif
