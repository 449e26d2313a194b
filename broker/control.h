/*
 * Start-up and shutdown glue for operator control (main.c calls these):
 * socket activation of the IPC, webhook and admin sockets, the admin and
 * metrics listeners, and systemd's notify protocol (READY, STOPPING,
 * RELOADING, WATCHDOG), mirroring the frontend.
 */
#ifndef DINO_BROKER_CONTROL_H
#define DINO_BROKER_CONTROL_H

struct broker;

/*
 * The descriptor systemd passed under name ("ipc", "webhook"), made
 * non-blocking, or -1 when the broker was started by hand.
 */
int	control_activated(const char *name);
/* Before unsetenv(): remembers $CREDENTIALS_DIRECTORY for reloads. */
void	control_remember_creds_dir(void);
/*
 * While still root: the admin socket (activated or created) and the
 * metrics listener, registered with the seccomp filter.  Fatal on error.
 */
void	control_listen(struct broker *b, int as_root);
/* Serves them, opens the notify socket and starts the watchdog. */
void	control_start(struct broker *b);
/* READY=1: the journal is replayed and every listener is up. */
void	control_ready(struct broker *b);
/* STOPPING=1. */
void	control_stopping(void);
/* Closes the listeners and removes the admin socket the broker made. */
void	control_stop(struct broker *b);

#endif
