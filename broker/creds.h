/*
 * Spending keys: read once, after sodium_init(), into sodium_malloc'd
 * memory that is made read-only, and wiped and freed at exit.  A key never
 * reaches argv, the environment, a log line or an error message: errors
 * name the file, never its contents.
 */
#ifndef DINO_BROKER_CREDS_H
#define DINO_BROKER_CREDS_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

struct dino_key;

struct creds_key {
	char	*secret;	/* NUL-terminated, sodium_malloc'd, read-only */
	size_t	 len;
};

/*
 * Reads every account's key.  A key file must be a regular file owned by
 * owner or by root, with no group or world permission bits, of at most
 * BROKER_KEY_MAX bytes; a credential (from $CREDENTIALS_DIRECTORY, which
 * systemd makes private to the service) must have no world bits.  One
 * trailing newline is dropped; an empty key or one holding white space or
 * control characters is refused.  Returns 0, or -1 with each problem in
 * errs at the line of the account's key_file or credential.
 */
int	creds_load_all(struct broker_config *cfg, uid_t owner,
	    struct config_errors *errs);

/* Wipes and frees every loaded key. */
void	creds_free_all(struct broker_config *cfg);

/* The key of an account in the form the Dino client borrows. */
void	creds_dino_key(const struct account *a, struct dino_key *out);

#endif
