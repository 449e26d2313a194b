/*
 * Process confinement shared by both daemons: dropping to a service user,
 * resource limits, no_new_privs, and a seccomp allowlist built from a table.
 *
 * A role describes its filter as data: a flat list of allowed syscall
 * numbers, plus argument-pinned rules it adds itself through the
 * seccomp context before confine_seccomp() loads the filter.
 */
#ifndef DINO_CONFINE_H
#define DINO_CONFINE_H

#include <sys/types.h>

struct confine_user {
	uid_t	uid;
	gid_t	gid;
	char	name[64];
};

/* Looks up a user by name; -1 with a message in err if unknown. */
int	confine_lookup_user(const char *name, struct confine_user *u,
	    char *err, size_t errlen);

/*
 * setgroups(1, {gid}), setresgid, setresuid, then verifies that neither
 * the real, effective nor saved ids can return to root.  Fatal on failure.
 */
void	confine_drop_to(const struct confine_user *u);

/* PR_SET_DUMPABLE 0: no core dump, no ptrace attach by the same uid. */
void	confine_no_dump(void);

/* RLIMIT_NPROC 0 and RLIMIT_FSIZE 0 (the frontend). */
void	confine_no_fork_no_files(void);

/*
 * How a filter fails: production kills the process; a debug run traps
 * SIGSYS and logs the syscall number before dying, to find a missing entry.
 */
enum confine_mode {
	CONFINE_KILL,
	CONFINE_TRAP_DEBUG,
};

typedef void *confine_ctx;

/*
 * Builds a filter whose default action is mode's, allowing every syscall
 * in allow[n]; the caller may then add argument-pinned rules with
 * seccomp_rule_add() on the returned context and call confine_load().
 * Fatal on any libseccomp error.
 */
confine_ctx confine_begin(enum confine_mode mode, const int *allow, size_t n);
/* Sets no_new_privs and loads the filter; fatal on failure. */
void	confine_load(confine_ctx ctx);

#endif
