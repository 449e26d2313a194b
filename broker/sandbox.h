/*
 * The broker's confinement after start-up (see sandbox.c for the table and
 * the reasons behind each pinned rule).
 */
#ifndef DINO_BROKER_SANDBOX_H
#define DINO_BROKER_SANDBOX_H

/*
 * Loads the broker's seccomp filter: KILL_PROCESS by default, or a SIGSYS
 * trap that names the syscall when debug_trap is set.  listen_fd is the
 * IPC listener and webhook_fd the webhook listener or -1 (the only sockets
 * accept4 may use); ipc_path and webhook_path (or NULL) are the pointers
 * unlink may be called with at a clean stop.  Fatal on failure.
 */
void	broker_sandbox(int listen_fd, int webhook_fd, const char *ipc_path,
	    const char *webhook_path, int debug_trap);
/*
 * Before broker_sandbox(): the journal directory's descriptor, the only
 * place the filter lets the broker create, rename, truncate or remove
 * files (see journal_rules() in sandbox.c).
 */
void	broker_sandbox_journal(int dirfd);

/*
 * --self-test-seccomp=NAME: a test of the filter, not a feature.  Right
 * after confinement the broker makes one forbidden call (execve or
 * ptrace); the filter must kill it.  If the call returns, the broker exits
 * instead of serving, so the flag can never weaken anything.
 */
void	broker_self_test_seccomp(const char *what);
/*
 * Before broker_sandbox(): one more listener accept4 may use (the admin
 * socket, the metrics endpoint), and the path a clean stop may unlink
 * (or NULL).  At most SANDBOX_LISTENERS_MAX of them.
 */
#define SANDBOX_LISTENERS_MAX	4
void	broker_sandbox_listener(int fd, const char *unlink_path);

#endif
