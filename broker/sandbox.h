/*
 * The broker's confinement after start-up (see sandbox.c for the table and
 * the reasons behind each pinned rule).
 */
#ifndef DINO_BROKER_SANDBOX_H
#define DINO_BROKER_SANDBOX_H

/*
 * Loads the broker's seccomp filter: KILL_PROCESS by default, or a SIGSYS
 * trap that names the syscall when debug_trap is set.  listen_fd is the
 * IPC listener (the only socket accept4 may use); ipc_path is the pointer
 * unlink may be called with at a clean stop.  Fatal on failure.
 */
void	broker_sandbox(int listen_fd, const char *ipc_path, int debug_trap);

#endif
