/*
 * Operator control at start-up and shutdown (see control.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "admin.h"
#include "broker.h"
#include "control.h"
#include "log.h"
#include "sandbox.h"
#include "sdnotify.h"
#include "util.h"

static char	*creds_dir;
static int	 admin_fd = -1, metrics_fd = -1;
static int	 admin_made;	/* the broker created the admin socket */

int
control_activated(const char *name)
{
	int fd, fl;

	if ((fd = sd_listen_fd(name)) == -1)
		return -1;
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		fatal("fcntl on the activated socket %s", name);
	log_info("event=socket_activated name=%s fd=%d", name, fd);
	return fd;
}

void
control_remember_creds_dir(void)
{
	const char *d;

	if ((d = getenv("CREDENTIALS_DIRECTORY")) != NULL &&
	    (creds_dir = strdup(d)) == NULL)
		fatal("%s: strdup", __func__);
}

void
control_listen(struct broker *b, int as_root)
{
	char err[256];
	int activated;

	activated = (admin_fd = control_activated("admin")) != -1;
	if (!activated && (admin_fd = admin_bind(b->cfg, as_root, err,
	    sizeof(err))) == -1)
		fatalx("admin_socket: %s", err);
	if (admin_fd == -2)
		admin_fd = -1;
	admin_made = admin_fd != -1 && !activated;
	if (admin_fd != -1)
		broker_sandbox_listener(admin_fd, admin_made ?
		    b->cfg->admin_socket : NULL);
	if (b->cfg->metrics_listen[0] == '\0')
		return;
	if ((metrics_fd = admin_bind_metrics(b->cfg, err, sizeof(err))) == -1)
		fatalx("metrics_listen: %s", err);
	broker_sandbox_listener(metrics_fd,
	    strncmp(b->cfg->metrics_listen, "unix:", 5) == 0 ?
	    b->cfg->metrics_listen + 5 : NULL);
}

void
control_start(struct broker *b)
{
	b->creds_dir = creds_dir;
	b->started_ms = now_ms();
	b->started_mono = mono_ms();
	if (admin_fd != -1)
		b->admin = admin_new(b, admin_fd, 0);
	if (metrics_fd != -1)
		b->metrics_http = admin_new(b, metrics_fd, 1);
	/* The notify socket is created now: the filter forbids socket(). */
	(void)sdn_open();
	sdn_watchdog_start(b->base);
}

void
control_ready(struct broker *b)
{
	log_info("event=ready admin_socket=%s metrics_listen=%s",
	    admin_fd == -1 ? "-" : admin_made ? b->cfg->admin_socket :
	    "systemd", metrics_fd == -1 ? "-" : b->cfg->metrics_listen);
	sdn_notify("READY=1");
}

void
control_stopping(void)
{
	sdn_notify("STOPPING=1");
}

void
control_stop(struct broker *b)
{
	admin_free(b->admin);
	admin_free(b->metrics_http);
	b->admin = b->metrics_http = NULL;
	/* The directory may not be writable by the broker's user. */
	if (admin_made && unlink(b->cfg->admin_socket) == -1)
		log_debug("event=socket_left path=%s", b->cfg->admin_socket);
	if (metrics_fd != -1 && strncmp(b->cfg->metrics_listen, "unix:", 5) ==
	    0 && unlink(b->cfg->metrics_listen + 5) == -1)
		log_debug("event=socket_left path=%s", b->cfg->metrics_listen);
	free(creds_dir);
	creds_dir = NULL;
}
