/*
 * The broker's seccomp allowlist, as data.  It is installed after every
 * file the broker needs is open and every key is in memory: the event
 * base, the IPC listener, curl_global_init, the Dino client, the config
 * and the credentials.  What is left is the event loop, the IPC peers and
 * outbound HTTPS through libcurl, whose threaded resolver runs getaddrinfo
 * on a thread.  No execve, no ptrace, no bind or listen, no file writes.
 *
 * Choices, each for a reason:
 * - clone is allowed only with the flags glibc's pthread_create passes
 *   (a thread, never a process); clone3 returns ENOSYS so that glibc
 *   falls back to clone, whose flags a filter can see.
 * - openat is allowed read-only (a masked compare keeps O_WRONLY, O_RDWR,
 *   O_CREAT, O_TRUNC, O_APPEND and O_TMPFILE out), because it cannot be
 *   avoided without weakening something else: getaddrinfo reads
 *   /etc/hosts on every lookup and re-reads resolv.conf and nsswitch.conf
 *   when they change (a soft-failed open would silently break name
 *   resolution after a resolv.conf update), and libcurl with OpenSSL
 *   reads the CA bundle for every new TLS connection.  The broker's user
 *   can read little, and it already holds its keys.  The NSS modules are
 *   loaded before the filter (main.c resolves the Dino host once), so
 *   mmap and mprotect stay non-executable: nothing new can be loaded.
 * - socket is pinned to AF_INET and AF_INET6 (Dino), AF_UNIX (the
 *   resolver's wake-up pair, nscd) and AF_NETLINK (getaddrinfo's
 *   interface check).  No bind, no listen.
 * - unlink is allowed for two pointers only, the IPC socket's path and the
 *   webhook socket's, so that a clean stop may remove them.
 * - accept4 is pinned to the listeners, the IPC socket, the webhook
 *   receiver's (issue 5), and the admin socket and metrics endpoint
 *   (issue 7, broker_sandbox_listener()), with only the NONBLOCK and
 *   CLOEXEC flags; unlink is allowed for the admin and metrics sockets'
 *   paths too when the broker created them.
 *
 * - The journal (issue 4) is the one place the broker writes files, and
 *   every rule for it is pinned to the journal directory's descriptor:
 *   openat with exactly the segment flags (create, append) or the head
 *   file's (create, truncate), renameat within the directory (the head
 *   file's atomic replacement), unlinkat without flags (retention).  The
 *   names are not visible to seccomp (pointers), but openat/renameat
 *   resolve relative to that descriptor and the writer only ever passes
 *   plain names, with O_NOFOLLOW.  fsync and fdatasync are allowed on any
 *   descriptor (they only flush), and so is ftruncate: the segment's
 *   descriptor changes at every rotation, and the broker holds no other
 *   writable file.  The journal's writer thread is started after the
 *   filter is loaded (the filter is not synchronised across threads), so
 *   it runs under the same filter, like the resolver's threads.
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
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <seccomp.h>

#include "confine.h"
#include "journal.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

/* Allowed with any arguments. */
static const int broker_syscalls[] = {
	/* Event loop, IPC peers and HTTPS sockets already open. */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
	SCMP_SYS(poll), SCMP_SYS(ppoll),
	SCMP_SYS(read), SCMP_SYS(readv), SCMP_SYS(write), SCMP_SYS(writev),
	SCMP_SYS(recvfrom), SCMP_SYS(sendto), SCMP_SYS(recvmsg),
	SCMP_SYS(sendmsg), SCMP_SYS(recvmmsg), SCMP_SYS(sendmmsg),
	SCMP_SYS(shutdown), SCMP_SYS(close),
	/* Outbound connections to Dino (sockets pinned below). */
	SCMP_SYS(connect), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockopt),
	/* Files: the resolver's reads (openat pinned below). */
	SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(lseek),
	/* `dinoctl audit verify`: the journal's reader lists its directory. */
	SCMP_SYS(dup), SCMP_SYS(getdents64),
	/* Memory; mlock for the key copies sodium_malloc makes per call. */
	SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
	SCMP_SYS(mlock), SCMP_SYS(munlock),
	/* Threads: the resolver thread (clone pinned below). */
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity),
	/* Time, randomness, identity for log lines, signals, exit. */
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(getrandom),
	SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getuid),
	SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(exit), SCMP_SYS(exit_group),
#ifdef DINO_SANITIZE
	/*
	 * The sanitizer runtime, to print its report: it reads
	 * /proc/self/maps, symbolizes, and may use an alternate stack.  Only
	 * in -DDINO_SANITIZE builds; leak checking needs --no-seccomp, since
	 * LeakSanitizer stops the world with clone and ptrace.
	 */
	SCMP_SYS(open), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
	SCMP_SYS(sigaltstack), SCMP_SYS(tgkill),
	SCMP_SYS(prctl), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64),
	SCMP_SYS(mincore), SCMP_SYS(pipe2), SCMP_SYS(wait4),
	SCMP_SYS(getppid), SCMP_SYS(kill),
#endif
};

/* What glibc's pthread_create passes to clone: a thread, not a process. */
#define THREAD_CLONE_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | \
	CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS | \
	CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

/*
 * Flags that would turn an open into a write or a create.  O_TMPFILE is
 * its own bit plus O_DIRECTORY: only its own bit is masked, so that a
 * directory may still be opened read-only (`dinoctl audit verify` reads
 * the journal directory), while an O_TMPFILE open still fails the rule.
 */
#define OPEN_WRITE_FLAGS ((scmp_datum_t)(O_WRONLY | O_RDWR | O_CREAT | \
	O_TRUNC | O_APPEND | (O_TMPFILE & ~O_DIRECTORY)))

static void
rule(scmp_filter_ctx ctx, uint32_t action, int nr, unsigned n,
    const struct scmp_arg_cmp *a)
{
	int r;

	if ((r = seccomp_rule_add_array(ctx, action, nr, n, a)) < 0)
		fatalx("%s: syscall %d: %s", __func__, nr, strerror(-r));
}

static void
accept_rule(scmp_filter_ctx ctx, int fd)
{
	struct scmp_arg_cmp a[2];

	a[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fd);
	a[1] = SCMP_A3(SCMP_CMP_MASKED_EQ, ~(scmp_datum_t)(SOCK_NONBLOCK |
	    SOCK_CLOEXEC), 0);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(accept4), 2, a);
}

static void
socket_rules(scmp_filter_ctx ctx, int listen_fd, int webhook_fd)
{
	static const int domains[] = { AF_INET, AF_INET6, AF_UNIX };
	struct scmp_arg_cmp a[2];
	size_t i;

	for (i = 0; i < nitems(domains); i++) {
		a[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)domains[i]);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, a);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1, a);
	}
	a[0] = SCMP_A0(SCMP_CMP_EQ, AF_NETLINK);
	a[1] = SCMP_A2(SCMP_CMP_EQ, NETLINK_ROUTE);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 2, a);
	/* Accepting: frontends on the IPC listener, Dino on the webhook's. */
	accept_rule(ctx, listen_fd);
	if (webhook_fd != -1)
		accept_rule(ctx, webhook_fd);
}

static void
misc_rules(scmp_filter_ctx ctx, const char *ipc_path, const char *wh_path)
{
	static const int fcntl_cmds[] = { F_GETFL, F_SETFL, F_GETFD, F_SETFD };
	static const unsigned long ioctls[] = { FIONREAD, FIONBIO };
	struct scmp_arg_cmp a[1];
	size_t i;

	for (i = 0; i < nitems(fcntl_cmds); i++) {
		a[0] = SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_cmds[i]);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1, a);
	}
	for (i = 0; i < nitems(ioctls); i++) {
		a[0] = SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctls[i]);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1, a);
	}
	a[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1, a);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1, a);
	a[0] = SCMP_A2(SCMP_CMP_MASKED_EQ, OPEN_WRITE_FLAGS, 0);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1, a);
	a[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)THREAD_CLONE_FLAGS);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, a);
	rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, NULL);
#ifndef DINO_SANITIZE
	/*
	 * A reload resolves users and groups again (admin_group, group
	 * principals); nss-systemd then follows the userdb directories'
	 * symlinks.  A soft denial makes it skip them, as if absent: the
	 * broker reads /etc/passwd and /etc/group all the same.
	 */
	rule(ctx, SCMP_ACT_ERRNO(ENOENT), SCMP_SYS(readlinkat), 0, NULL);
#endif
	a[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)(uintptr_t)ipc_path);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlink), 1, a);
	if (wh_path != NULL) {
		a[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)(uintptr_t)wh_path);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlink), 1, a);
	}
}

static int sandbox_journal_fd = -1;
static int sandbox_lfd[SANDBOX_LISTENERS_MAX];
static const char *sandbox_lpath[SANDBOX_LISTENERS_MAX];
static size_t sandbox_nl;

void
broker_sandbox_listener(int fd, const char *unlink_path)
{
	if (sandbox_nl == SANDBOX_LISTENERS_MAX)
		fatalx("%s: too many listeners", __func__);
	sandbox_lfd[sandbox_nl] = fd;
	sandbox_lpath[sandbox_nl++] = unlink_path;
}

/* The admin socket and metrics endpoint (issue 7): accept, unlink. */
static void
listener_rules(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp a[1];
	size_t i;

	for (i = 0; i < sandbox_nl; i++) {
		accept_rule(ctx, sandbox_lfd[i]);
		if (sandbox_lpath[i] == NULL)
			continue;
		a[0] = SCMP_A0(SCMP_CMP_EQ,
		    (scmp_datum_t)(uintptr_t)sandbox_lpath[i]);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlink), 1, a);
	}
}

void
broker_sandbox_journal(int dirfd)
{
	sandbox_journal_fd = dirfd;
}

static void
journal_rules(scmp_filter_ctx ctx, int dirfd)
{
	static const int flags[] = { JOURNAL_SEG_OPEN_FLAGS,
	    JOURNAL_HEAD_OPEN_FLAGS };
	struct scmp_arg_cmp a[3];
	size_t i;

	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fsync), 0, NULL);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fdatasync), 0, NULL);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ftruncate), 0, NULL);
	a[0] = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)dirfd);
	for (i = 0; i < nitems(flags); i++) {
		a[1] = SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)flags[i]);
		rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 2, a);
	}
	a[1] = SCMP_A2(SCMP_CMP_EQ, (scmp_datum_t)dirfd);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(renameat), 2, a);
	a[2] = SCMP_A4(SCMP_CMP_EQ, 0);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(renameat2), 3, a);
	a[1] = SCMP_A2(SCMP_CMP_EQ, 0);
	rule(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlinkat), 2, a);
}

void
broker_sandbox(int listen_fd, int webhook_fd, const char *ipc_path,
    const char *webhook_path, int debug_trap)
{
	confine_ctx ctx;

	if (debug_trap)
		log_warnx("event=seccomp_debug mode=trap (not for production)");
	ctx = confine_begin(debug_trap ? CONFINE_TRAP_DEBUG : CONFINE_KILL,
	    broker_syscalls, nitems(broker_syscalls));
	socket_rules(ctx, listen_fd, webhook_fd);
	misc_rules(ctx, ipc_path, webhook_path);
	listener_rules(ctx);
	if (sandbox_journal_fd != -1)
		journal_rules(ctx, sandbox_journal_fd);
	confine_load(ctx);
	log_info("event=confined seccomp=%s", debug_trap ? "trap" : "kill");
}

void
broker_self_test_seccomp(const char *what)
{
	long r = -1;

	if (strcmp(what, "execve") == 0)
		r = syscall(SYS_execve, "/bin/true", NULL, NULL);
	else if (strcmp(what, "ptrace") == 0)
		r = syscall(SYS_ptrace, 0, 0, NULL, NULL);
	log_err("event=self_test_failed syscall=%s result=%ld", what, r);
}
