/*
 * The frontend's seccomp allowlist, as data.  After start-up the frontend
 * only accepts on its listening socket, reads and writes sockets it
 * already holds, allocates memory and keeps time.  It gets no open(at),
 * socket, connect, bind, execve, clone, ptrace or any file-system call:
 * a compromised frontend can talk only to the agents already connected
 * and to the broker, which re-validates everything it says.
 *
 * The set was found with strace -f on the integration tests and checked
 * under --debug-seccomp-trap.
 */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "confine.h"
#include "frontend.h"
#include "log.h"
#include "util.h"

/* Allowed with any arguments. */
static const int frontend_syscalls[] = {
	/* Event loop and sockets already open. */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(writev),
	SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(shutdown),
	SCMP_SYS(recvmmsg), SCMP_SYS(sendmmsg), SCMP_SYS(close),
	/* Memory. */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	/*
	 * Time (the vDSO's fallback), the pid in log lines, return from the
	 * SIGTERM handler libevent installs, exit.
	 */
	SCMP_SYS(clock_gettime), SCMP_SYS(getpid), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
#ifdef DINO_SANITIZE
	/*
	 * The sanitizer runtime, to print its report: it reads
	 * /proc/self/maps, symbolizes, and may use an alternate stack.  Only
	 * in -DDINO_SANITIZE builds; leak checking needs --no-seccomp, since
	 * LeakSanitizer stops the world with clone and ptrace.
	 */
	SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(readlink),
	SCMP_SYS(readlinkat), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
	SCMP_SYS(sigaltstack), SCMP_SYS(rt_sigaction), SCMP_SYS(gettid),
	SCMP_SYS(tgkill), SCMP_SYS(sched_yield), SCMP_SYS(prctl),
	SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(mincore),
	SCMP_SYS(futex), SCMP_SYS(lseek), SCMP_SYS(pipe2), SCMP_SYS(wait4),
	SCMP_SYS(getppid), SCMP_SYS(kill),
#endif
};

static void
rule(scmp_filter_ctx ctx, int nr, unsigned n, const struct scmp_arg_cmp *a)
{
	int r;

	if ((r = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, a)) < 0)
		fatalx("%s: syscall %d: %s", __func__, nr, strerror(-r));
}

/*
 * Argument-pinned rules: accept4 only on the agent socket with the flags
 * evconnlistener uses; getsockopt only for SO_PEERCRED (and SO_ERROR,
 * which libevent reads after a socket error); fcntl only to read and set
 * descriptor and status flags; ioctl only FIONREAD (evbuffer_read asks how
 * much is waiting); mmap and mprotect never executable.
 */
static void
pinned_rules(scmp_filter_ctx ctx, int listen_fd)
{
	static const int fcntl_cmds[] = { F_GETFL, F_SETFL, F_GETFD, F_SETFD };
	struct scmp_arg_cmp a[2];
	size_t i;

	a[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)listen_fd);
	a[1] = SCMP_A3(SCMP_CMP_MASKED_EQ, ~(scmp_datum_t)(SOCK_NONBLOCK |
	    SOCK_CLOEXEC), 0);
	rule(ctx, SCMP_SYS(accept4), 2, a);
	a[0] = SCMP_A1(SCMP_CMP_EQ, SOL_SOCKET);
	a[1] = SCMP_A2(SCMP_CMP_EQ, SO_PEERCRED);
	rule(ctx, SCMP_SYS(getsockopt), 2, a);
	a[1] = SCMP_A2(SCMP_CMP_EQ, SO_ERROR);
	rule(ctx, SCMP_SYS(getsockopt), 2, a);
	for (i = 0; i < nitems(fcntl_cmds); i++) {
		a[0] = SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i]);
		rule(ctx, SCMP_SYS(fcntl), 1, a);
	}
	a[0] = SCMP_A1(SCMP_CMP_EQ, FIONREAD);
	rule(ctx, SCMP_SYS(ioctl), 1, a);
	a[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	rule(ctx, SCMP_SYS(mmap), 1, a);
	rule(ctx, SCMP_SYS(mprotect), 1, a);
}

void
frontend_sandbox(int listen_fd, int debug_trap)
{
	confine_ctx ctx;

	if (debug_trap)
		log_warnx("event=seccomp_debug mode=trap (not for production)");
	ctx = confine_begin(debug_trap ? CONFINE_TRAP_DEBUG : CONFINE_KILL,
	    frontend_syscalls, nitems(frontend_syscalls));
	pinned_rules(ctx, listen_fd);
	confine_load(ctx);
	log_info("event=confined seccomp=%s", debug_trap ? "trap" : "kill");
}

/*
 * --self-test-seccomp=NAME: a test of the filter, not a feature.  Right
 * after confinement it makes one forbidden call; the filter must kill the
 * process (SIGSYS).  It cannot weaken anything: the call is one the filter
 * refuses, and if it ever returns, the frontend reports the failure and
 * exits instead of serving.
 */
static const char *const self_tests[] = { "open", "socket", "connect",
    "execve", "ptrace", "mprotect-exec" };

int
frontend_self_test_known(const char *what)
{
	size_t i;

	for (i = 0; i < nitems(self_tests); i++)
		if (strcmp(what, self_tests[i]) == 0)
			return 1;
	return 0;
}

int
frontend_self_test_seccomp(const char *what)
{
	long r;

	if (strcmp(what, "open") == 0)
		r = syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY);
	else if (strcmp(what, "socket") == 0)
		r = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	else if (strcmp(what, "connect") == 0)
		r = syscall(SYS_connect, -1, NULL, 0);
	else if (strcmp(what, "execve") == 0)
		r = syscall(SYS_execve, "/bin/true", NULL, NULL);
	else if (strcmp(what, "ptrace") == 0)
		r = syscall(SYS_ptrace, 0, 0, NULL, NULL);
	else if (strcmp(what, "mprotect-exec") == 0)
		r = syscall(SYS_mprotect, NULL, 0, PROT_READ | PROT_EXEC);
	else
		return -1;
	log_err("event=self_test_failed syscall=%s result=%ld", what, r);
	return 0;
}
