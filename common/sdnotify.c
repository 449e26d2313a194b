#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <stddef.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "dinolimits.h"
#include "log.h"
#include "sdnotify.h"
#include "util.h"

#define SD_LISTEN_FDS_START	3

static int listen_nfds = -1;
static char listen_names[SD_LISTEN_FDS_MAX][SD_FDNAME_MAX + 1];

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_len;

/* Reads and clears the LISTEN_* variables once. */
static void
listen_init(void)
{
	const char *s, *names;
	int64_t pid, n;
	int i;

	if (listen_nfds != -1)
		return;
	listen_nfds = 0;
	if ((s = getenv("LISTEN_PID")) == NULL ||
	    parse_i64(s, 1, INT32_MAX, &pid) == -1 || pid != getpid())
		goto out;
	if ((s = getenv("LISTEN_FDS")) == NULL ||
	    parse_i64(s, 1, SD_LISTEN_FDS_MAX, &n) == -1)
		goto out;
	listen_nfds = (int)n;
	names = getenv("LISTEN_FDNAMES");
	for (i = 0; i < listen_nfds; i++) {
		size_t len = 0;

		if (names != NULL && *names != '\0') {
			len = strcspn(names, ":");
			if (len > SD_FDNAME_MAX)
				len = SD_FDNAME_MAX;
			memcpy(listen_names[i], names, len);
			names += strcspn(names, ":");
			if (*names == ':')
				names++;
		}
		listen_names[i][len] = '\0';
		(void)fcntl(SD_LISTEN_FDS_START + i, F_SETFD, FD_CLOEXEC);
	}
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

int
sd_listen_fd(const char *name)
{
	int i;

	listen_init();
	if (listen_nfds == 1 && listen_names[0][0] == '\0')
		return SD_LISTEN_FDS_START;
	for (i = 0; i < listen_nfds; i++)
		if (strcmp(listen_names[i], name) == 0)
			return SD_LISTEN_FDS_START + i;
	return -1;
}

int
sdn_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	if (path == NULL || *path == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(notify_addr.sun_path)) {
		log_warnx("event=sd_notify error=\"unusable NOTIFY_SOCKET\"");
		return -1;
	}
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0';	/* abstract namespace */
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd == -1) {
		log_warnx("event=sd_notify error=\"socket: %s\"",
		    strerror(errno));
		return -1;
	}
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

void
sdn_notify(const char *state)
{
	if (notify_fd == -1)
		return;
	if (sendto(notify_fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&notify_addr, notify_len) == -1)
		log_warnx("event=sd_notify state=%s error=\"%s\"", state,
		    strerror(errno));
}

uint64_t
sdn_watchdog_usec(void)
{
	const char *s;
	int64_t usec, pid;

	if ((s = getenv("WATCHDOG_PID")) != NULL &&
	    (parse_i64(s, 1, INT32_MAX, &pid) == -1 || pid != getpid()))
		return 0;
	if ((s = getenv("WATCHDOG_USEC")) == NULL ||
	    parse_i64(s, 1, INT64_MAX, &usec) == -1)
		return 0;
	return (uint64_t)usec;
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	sdn_notify("WATCHDOG=1");
}

void
sdn_watchdog_start(struct event_base *base)
{
	static struct event *ev;
	struct timeval tv;
	uint64_t usec;

	if ((usec = sdn_watchdog_usec()) == 0)
		return;
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	if ((ev = event_new(base, -1, EV_PERSIST, on_watchdog, NULL)) == NULL ||
	    event_add(ev, &tv) == -1)
		fatalx("cannot start the watchdog timer");
}
