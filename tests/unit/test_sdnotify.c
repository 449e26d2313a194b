/* Unit tests for common/sdnotify.c: socket activation and sd_notify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"
#include "tap.h"

static void
test_listen_fds(void)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_FDNAMES", "agent:ipc", 1);
	CHECK(sd_listen_fd("ipc") == 4, "named fd ipc is 4");
	CHECK(sd_listen_fd("agent") == 3, "named fd agent is 3");
	CHECK(sd_listen_fd("admin") == -1, "unknown name is -1");
	CHECK(getenv("LISTEN_FDS") == NULL, "LISTEN_FDS cleared");
}

static void
test_notify(void)
{
	struct sockaddr_un sun;
	char path[64], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/tmp/dino-sdn.%ld", (long)getpid());
	unlink(path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK(fd != -1 && bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	    "notify receiver bound");
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK(sdn_open() == 0, "sdn_open");
	CHECK(getenv("NOTIFY_SOCKET") == NULL, "NOTIFY_SOCKET cleared");
	sdn_notify("READY=1");
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(strcmp(buf, "READY=1") == 0, "READY=1 received");
	close(fd);
	unlink(path);

	setenv("WATCHDOG_USEC", "30000000", 1);
	unsetenv("WATCHDOG_PID");
	CHECK(sdn_watchdog_usec() == 30000000, "watchdog interval");
	setenv("WATCHDOG_PID", "1", 1);
	CHECK(sdn_watchdog_usec() == 0, "watchdog for another pid ignored");
	setenv("WATCHDOG_USEC", "junk", 1);
	unsetenv("WATCHDOG_PID");
	CHECK(sdn_watchdog_usec() == 0, "junk interval ignored");
}

int
main(void)
{
	test_listen_fds();
	test_notify();
	return TAP_DONE();
}
