/*
 * Unit tests of common/confine.c: user lookup, and a filter built from a
 * table really kills a forked child on a syscall outside it.
 */
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "confine.h"
#include "util.h"
#include "tap.h"

/* Runs fn in a child and returns its wait status. */
static int
in_child(void (*fn)(void))
{
	pid_t pid;
	int st = -1;

	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		fn();
		_exit(0);
	}
	if (waitpid(pid, &st, 0) == -1)
		return -1;
	return st;
}

/* Enough to free libseccomp's memory and exit, also under ASan. */
static const int minimal[] = { SCMP_SYS(exit_group), SCMP_SYS(exit),
    SCMP_SYS(write), SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap),
    SCMP_SYS(madvise), SCMP_SYS(mprotect), SCMP_SYS(futex),
    SCMP_SYS(sigaltstack) };

static void
child_forbidden(void)
{
	confine_load(confine_begin(CONFINE_KILL, minimal, nitems(minimal)));
	/* getppid is not in the table: the kernel kills us here. */
	syscall(SYS_getppid);
	_exit(0);
}

static void
child_allowed(void)
{
	confine_load(confine_begin(CONFINE_KILL, minimal, nitems(minimal)));
	_exit(7);
}

static void
child_limits(void)
{
	struct rlimit rl;

	confine_no_fork_no_files();
	if (getrlimit(RLIMIT_NPROC, &rl) == -1 || rl.rlim_cur != 0)
		_exit(1);
	if (getrlimit(RLIMIT_FSIZE, &rl) == -1 || rl.rlim_cur != 0)
		_exit(2);
	_exit(0);
}

int
main(void)
{
	struct confine_user u;
	char err[128];
	int st;

	CHECK(confine_lookup_user("nobody", &u, err, sizeof(err)) == 0 &&
	    u.uid != 0 && strcmp(u.name, "nobody") == 0, "nobody found");
	CHECK(confine_lookup_user("no-such-user-dino", &u, err,
	    sizeof(err)) == -1 && err[0] != '\0', "unknown user refused");
	CHECK(confine_lookup_user("root", &u, err, sizeof(err)) == -1,
	    "root refused as a target");
	CHECK(confine_lookup_user("", &u, err, sizeof(err)) == -1,
	    "empty name refused");
	st = in_child(child_forbidden);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "syscall outside the table kills with SIGSYS");
	st = in_child(child_allowed);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7,
	    "syscalls in the table pass");
	st = in_child(child_limits);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "RLIMIT_NPROC and RLIMIT_FSIZE are 0");
	return TAP_DONE();
}
