/*
 * Process confinement shared by both daemons (see confine.h): the service
 * user, resource limits, no_new_privs and a seccomp allowlist built from a
 * role's table.  Every step is fatal on failure: a daemon that cannot
 * confine itself must not serve.
 */
#define _GNU_SOURCE
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <seccomp.h>

#include "confine.h"
#include "log.h"
#include "util.h"

/* getpwnam_r needs a buffer; passwd entries are small. */
#define CONFINE_PWBUF	4096

int
confine_lookup_user(const char *name, struct confine_user *u, char *err,
    size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[CONFINE_PWBUF];
	int r;

	if (name == NULL || *name == '\0' || strlen(name) >= sizeof(u->name)) {
		snprintf(err, errlen, "bad user name");
		return -1;
	}
	if ((r = getpwnam_r(name, &pw, buf, sizeof(buf), &res)) != 0 ||
	    res == NULL) {
		snprintf(err, errlen, "unknown user %s%s%s", name,
		    r != 0 ? ": " : "", r != 0 ? strerror(r) : "");
		return -1;
	}
	if (pw.pw_uid == 0 || pw.pw_gid == 0) {
		snprintf(err, errlen, "user %s has uid or gid 0", name);
		return -1;
	}
	memset(u, 0, sizeof(*u));
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	snprintf(u->name, sizeof(u->name), "%s", name);
	return 0;
}

/*
 * After the drop, every id must be the target's and none may go back to
 * root: a setuid(0) that succeeds means the drop did not take.
 */
static void
confine_verify_drop(const struct confine_user *u)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1)
		fatal("%s: getresuid", __func__);
	if (ruid != u->uid || euid != u->uid || suid != u->uid ||
	    rgid != u->gid || egid != u->gid || sgid != u->gid)
		fatalx("%s: ids did not change to %s", __func__, u->name);
	if (setuid(0) != -1 || seteuid(0) != -1)
		fatalx("%s: root could be regained", __func__);
	if (setgid(0) != -1 || setegid(0) != -1)
		fatalx("%s: group root could be regained", __func__);
}

void
confine_drop_to(const struct confine_user *u)
{
	gid_t gid = u->gid;

	if (u->uid == 0 || u->gid == 0)
		fatalx("%s: refusing to drop to root", __func__);
	if (setgroups(1, &gid) == -1)
		fatal("%s: setgroups", __func__);
	if (setresgid(u->gid, u->gid, u->gid) == -1)
		fatal("%s: setresgid", __func__);
	if (setresuid(u->uid, u->uid, u->uid) == -1)
		fatal("%s: setresuid", __func__);
	confine_verify_drop(u);
}

void
confine_no_dump(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("%s: PR_SET_DUMPABLE", __func__);
}

static void
confine_rlimit_zero(int resource, const char *name)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(resource, &rl) == -1)
		fatal("%s: setrlimit %s", __func__, name);
}

void
confine_no_fork_no_files(void)
{
	confine_rlimit_zero(RLIMIT_NPROC, "RLIMIT_NPROC");
	confine_rlimit_zero(RLIMIT_FSIZE, "RLIMIT_FSIZE");
}

/*
 * The debug reporter: async-signal-safe, so the number is formatted by hand
 * and written with write(2), then the process ends as the filter would have
 * ended it.  Only installed in CONFINE_TRAP_DEBUG mode.
 */
static void
sigsys_report(int sig, siginfo_t *si, void *ctx)
{
	char buf[128];
	char num[FMT_INT_SIZE];
	size_t len;
	const char *p;

	len = 0;
	for (p = program_invocation_short_name; *p != '\0' && len < 64; p++)
		buf[len++] = *p;
	for (p = ": seccomp blocked syscall "; *p != '\0'; p++)
		buf[len++] = *p;
	fmt_uint(num, (unsigned)si->si_syscall);
	for (p = num; *p != '\0' && len < sizeof(buf) - 1; p++)
		buf[len++] = *p;
	buf[len++] = '\n';
	if (write(STDERR_FILENO, buf, len) < 0)
		_exit(159);
	_exit(159);
}

static void
trap_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys_report;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("%s: sigaction", __func__);
}

confine_ctx
confine_begin(enum confine_mode mode, const int *allow, size_t n)
{
	scmp_filter_ctx ctx;
	uint32_t def;
	size_t i;
	int r;

	if (mode == CONFINE_TRAP_DEBUG)
		trap_install();
	def = mode == CONFINE_TRAP_DEBUG ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS;
	if ((ctx = seccomp_init(def)) == NULL)
		fatalx("%s: seccomp_init failed", __func__);
	/* A syscall of a foreign architecture is killed, whatever the mode. */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0)
		fatalx("%s: SCMP_FLTATR_ACT_BADARCH: %s", __func__,
		    strerror(-r));
	for (i = 0; i < n; i++)
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allow[i],
		    0)) < 0)
			fatalx("%s: syscall %d: %s", __func__, allow[i],
			    strerror(-r));
	return ctx;
}

void
confine_load(confine_ctx ctx)
{
	int r;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("%s: PR_SET_NO_NEW_PRIVS", __func__);
	if ((r = seccomp_load(ctx)) < 0)
		fatalx("%s: seccomp_load: %s", __func__, strerror(-r));
	seccomp_release(ctx);
}
