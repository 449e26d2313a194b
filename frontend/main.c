/*
 * dino-frontend: start-up in the order that lets confinement be tight.
 * Everything that needs the file system or new sockets happens first (the
 * agent socket, the broker channel, the event base); then the process drops
 * to its user, gives up forking and file writes, sets no_new_privs and
 * loads its seccomp filter; only then does it say HELLO and serve.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "confine.h"
#include "frontend.h"
#include "dinolimits.h"
#include "log.h"
#include "sdnotify.h"
#include "util.h"

struct options {
	const char	*listen;
	const char	*broker;
	const char	*user;
	const char	*self_test;
	int		 socket_mode;
	int		 debug_trap;
	int		 no_seccomp;
	int		 verbose;
};

#ifdef DINO_SANITIZE
/*
 * LeakSanitizer checks at exit by stopping the world with clone and
 * ptrace, which the filter (rightly) kills.  Sanitizer runs therefore skip
 * the leak check by default; a leak run sets ASAN_OPTIONS=detect_leaks=1
 * together with --no-seccomp.
 */
const char *__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "detect_leaks=0";
}
#endif

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: dino-frontend --listen unix:PATH --broker PATH "
	    "[--user NAME]\n"
	    "\t[--socket-mode MODE] [--debug-seccomp-trap] [--no-seccomp] "
	    "[--self-test-seccomp=SYSCALL] [-v]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "broker", required_argument, NULL, 'b' },
		{ "user", required_argument, NULL, 'u' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "debug-seccomp-trap", no_argument, NULL, 'T' },
		{ "no-seccomp", no_argument, NULL, 'N' },
		{ "self-test-seccomp", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long mode;
	int ch;

	memset(o, 0, sizeof(*o));
	o->socket_mode = 0660;
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			o->listen = optarg;
			break;
		case 'b':
			o->broker = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'm':
			errno = 0;
			mode = strtol(optarg, &end, 8);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    mode < 0 || mode > 0777)
				usage();
			o->socket_mode = (int)mode;
			break;
		case 'T':
			o->debug_trap = 1;
			break;
		case 'N':
			o->no_seccomp = 1;
			break;
		case 'S':
			if (!frontend_self_test_known(optarg))
				usage();
			o->self_test = optarg;
			break;
		case 'v':
			o->verbose = 1;
			break;
		default:
			usage();
		}
	}
	/* Without --listen, the agent socket must come from systemd. */
	if (optind != argc || o->broker == NULL ||
	    (o->listen != NULL && strncmp(o->listen, "unix:", 5) != 0))
		usage();
}

/* The broker's IPC socket: SEQPACKET, so every message is one packet. */
static int
broker_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		fatalx("broker socket path too long");
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal("connect to broker %s", path);
	return fd;
}

/* 10,000 idle agents need descriptors: the soft limit goes to the hard. */
static long
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > (1 << 20))
		rl.rlim_max = 1 << 20;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warnx("event=nofile_not_raised errno=%d", errno);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	return rl.rlim_cur > (1 << 20) ? (1 << 20) : (long)rl.rlim_cur;
}

static void
signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	/*
	 * Writes to a closed agent socket fail with EPIPE instead.  With
	 * RLIMIT_FSIZE 0, a log line to a regular file fails with EFBIG
	 * instead of killing the process.
	 */
	if (sigaction(SIGPIPE, &sa, NULL) == -1 ||
	    sigaction(SIGXFSZ, &sa, NULL) == -1)
		fatal("sigaction");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct frontend *fe = arg;

	log_info("event=shutdown signal=%d", (int)sig);
	sdn_notify("STOPPING=1");
	event_base_loopexit(fe->base, NULL);
}

static void
check_stderr(void)
{
	struct stat st;

	if (fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode))
		log_warnx("event=stderr_is_file note=\"RLIMIT_FSIZE 0 will "
		    "drop log lines; log to a pipe or journald\"");
}

/*
 * Drops to the service user (when root), forbids forking and file
 * writes, and loads the seccomp filter.  Refuses to serve as root.
 */
static void
confine(const struct options *o, const struct confine_user *u, int lfd)
{
	if (geteuid() == 0)
		confine_drop_to(u);
	if (geteuid() == 0 || getuid() == 0)
		fatalx("refusing to run as root");
	confine_no_dump();
	confine_no_fork_no_files();
	if (o->no_seccomp) {
		log_err("event=WARNING_NO_SECCOMP note=\"--no-seccomp: the "
		    "frontend runs WITHOUT its syscall filter; only for "
		    "valgrind runs, never in production\"");
		return;
	}
	frontend_sandbox(lfd, o->debug_trap);
}

static void
user_setup(const struct options *o, struct confine_user *u)
{
	char err[256];

	memset(u, 0, sizeof(*u));
	if (geteuid() != 0) {
		if (o->user != NULL)
			log_warnx("event=user_ignored note=\"not root, "
			    "--user ignored\"");
		return;
	}
	if (o->user == NULL)
		fatalx("started as root: --user NAME is required");
	if (confine_lookup_user(o->user, u, err, sizeof(err)) == -1)
		fatalx("%s", err);
}

/*
 * The agent socket: the one systemd passed as "agent" (socket activation),
 * else the --listen path, created here.
 */
static int
agent_socket(const struct options *o)
{
	char err[256];
	int fd, fl;

	if ((fd = sd_listen_fd("agent")) != -1) {
		if ((fl = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
			fatal("fcntl on the activated socket");
		log_info("event=socket_activated name=agent fd=%d", fd);
		return fd;
	}
	if (o->listen == NULL)
		fatalx("no --listen given and no socket passed by systemd");
	if ((fd = listen_on(o->listen, FRONTEND_BACKLOG, o->socket_mode, err,
	    sizeof(err))) == -1)
		fatalx("%s", err);
	return fd;
}

/*
 * Everything that needs the file system or a new socket: the event base,
 * the agent socket, the broker channel, the HTTP server and the tool
 * descriptors, and the signal events.
 */
static void
setup(struct frontend *fe, const struct options *o)
{
	static struct event *sigterm, *sigint;
	cJSON *tools;
	long nofile;
	int lfd;

	nofile = raise_nofile();
	fe->base = loop_new();
	lfd = agent_socket(o);
	frontend_broker_init(fe, broker_connect(o->broker));
	if (frontend_http_init(fe, lfd, nofile) == -1)
		fatalx("cannot set up the HTTP server");
	if ((tools = fe_tools_build()) == NULL ||
	    (fe->tools_json = cJSON_PrintUnformatted(tools)) == NULL)
		fatalx("cannot build the tool descriptors");
	cJSON_Delete(tools);
	if ((sigterm = evsignal_new(fe->base, SIGTERM, on_signal, fe)) == NULL ||
	    (sigint = evsignal_new(fe->base, SIGINT, on_signal, fe)) == NULL ||
	    evsignal_add(sigterm, NULL) == -1 || evsignal_add(sigint, NULL) == -1)
		fatalx("cannot set up signals");
	/* libevent's Date header reaches the time zone: load it now. */
	tzset();
	/* The notify socket is created now: the filter forbids socket(). */
	(void)sdn_open();
	sdn_watchdog_start(fe->base);
}

int
main(int argc, char **argv)
{
	static struct frontend fe;
	struct options o;
	struct confine_user u;
	struct event *logev;
	uid_t uid;

	log_init("dino-frontend", LOG_INFO);
	parse_args(argc, argv, &o);
	if (o.verbose)
		log_setlevel(LOG_DEBUG);
	user_setup(&o, &u);
	signals();
	check_stderr();
	setup(&fe, &o);
	uid = geteuid() == 0 ? u.uid : getuid();

	confine(&o, &u, fe.listen_fd);
	if (o.self_test != NULL) {
		frontend_self_test_seccomp(o.self_test);
		fatalx("the seccomp filter did not stop %s", o.self_test);
	}

	if (frontend_broker_hello(&fe) == -1)
		fatalx("cannot send HELLO to the broker");
	log_info("event=ready listen=%s broker=%s uid=%u conns_max=%u",
	    o.listen != NULL ? o.listen : "systemd", o.broker, (unsigned)uid,
	    fe.conns_max);
	/* From here on the log lines of a loop turn go out in one write. */
	logev = loop_log_buffer(fe.base);
	if (event_base_dispatch(fe.base) == -1)
		fatalx("event_base_dispatch failed");
	loop_log_unbuffer(logev);
	log_info("event=exit status=%d", fe.exit_status);
	return fe.exit_status;
}
