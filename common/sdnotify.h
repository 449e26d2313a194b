/*
 * The two pieces of systemd's protocol a daemon needs, without linking
 * libsystemd: socket activation ($LISTEN_FDS, $LISTEN_PID, $LISTEN_FDNAMES)
 * and readiness notification ($NOTIFY_SOCKET: READY=1, STOPPING=1,
 * WATCHDOG=1).
 *
 * sdn_open() runs before confinement: it creates the datagram socket once,
 * so that later notifications need only sendto(), never socket().
 */
#ifndef DINO_SDNOTIFY_H
#define DINO_SDNOTIFY_H

#include <stdint.h>

/*
 * The descriptor systemd passed under name, or -1 if none (not activated,
 * LISTEN_PID is another process, or no such name).  A single unnamed
 * descriptor matches any name.  Sets FD_CLOEXEC on every passed descriptor;
 * the LISTEN_* variables are removed from the environment on first use.
 */
int	sd_listen_fd(const char *name);

/* Opens the notify socket if $NOTIFY_SOCKET is set; 0 or -1. */
int	sdn_open(void);
/* Sends one state string ("READY=1"); a no-op without a notify socket. */
void	sdn_notify(const char *state);
/*
 * The watchdog interval in microseconds from $WATCHDOG_USEC (and
 * $WATCHDOG_PID), or 0 when the unit has no WatchdogSec=.
 */
uint64_t sdn_watchdog_usec(void);
/*
 * With WatchdogSec=, systemd expects a ping at least every interval: a
 * persistent timer on base sends WATCHDOG=1 at half of it.  A no-op
 * without $WATCHDOG_USEC.
 */
struct event_base;
void	sdn_watchdog_start(struct event_base *base);

#endif
