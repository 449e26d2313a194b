/*
 * Reading spending keys into secret memory (see creds.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "creds.h"
#include "dino.h"
#include "log.h"
#include "util.h"

/*
 * Checks what fstat() says about an opened key.  mode_mask holds the
 * permission bits that must be clear.  Returns NULL or a static reason.
 */
static const char *
check_key_stat(const struct stat *st, uid_t owner, mode_t mode_mask)
{
	if (!S_ISREG(st->st_mode))
		return "is not a regular file";
	if (st->st_uid != owner && st->st_uid != 0)
		return "is not owned by the broker's user or root";
	if ((st->st_mode & mode_mask) != 0)
		return mode_mask == 077 ? "is accessible by group or others "
		    "(chmod 600 it)" : "is accessible by others (chmod 600 it)";
	if (st->st_size > BROKER_KEY_MAX)
		return "is larger than a key can be";
	return NULL;
}

/*
 * Reads the key in fd into secret memory.  The buffer is one byte larger
 * than the file so that a file growing while we read is noticed.
 */
static const char *
read_key(int fd, size_t size, struct creds_key *k)
{
	ssize_t r;
	size_t len;

	if ((k->secret = sodium_malloc(size + 2)) == NULL)
		fatal("%s: sodium_malloc", __func__);
	if ((r = read_full(fd, k->secret, size + 1)) == -1)
		return "could not be read";
	if ((size_t)r != size)
		return "changed while it was read";
	len = size;
	if (len > 0 && k->secret[len - 1] == '\n')
		len--;
	k->secret[len] = '\0';
	k->len = len;
	if (len == 0)
		return "is empty";
	if (!printable_ascii(k->secret, len))
		return "holds white space or control characters";
	if (sodium_mprotect_readonly(k->secret) == -1)
		fatal("%s: sodium_mprotect_readonly", __func__);
	return NULL;
}

static void
key_free(struct creds_key *k)
{
	if (k == NULL)
		return;
	if (k->secret != NULL)
		sodium_free(k->secret);	/* wipes before it unmaps */
	free(k);
}

static int
load_one(struct account *a, const char *path, uid_t owner,
    struct config_errors *errs)
{
	struct creds_key *k;
	struct stat st;
	const char *why, *what;
	int fd;

	what = a->source == KEY_FILE ? "key file" : "credential";
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    O_NONBLOCK)) == -1) {
		config_error(errs, a->key_line, "account %s: %s %s: %s",
		    a->name, what, path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		fatal("%s: fstat", __func__);
	if ((why = check_key_stat(&st, owner,
	    a->source == KEY_FILE ? 077 : 007)) != NULL) {
		config_error(errs, a->key_line, "account %s: %s %s %s",
		    a->name, what, path, why);
		close(fd);
		return -1;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL)
		fatal("%s: calloc", __func__);
	why = read_key(fd, (size_t)st.st_size, k);
	close(fd);
	if (why != NULL) {
		config_error(errs, a->key_line, "account %s: %s %s %s",
		    a->name, what, path, why);
		key_free(k);
		return -1;
	}
	a->key = k;
	return 0;
}

/*
 * Webhook secrets are read like keys, into the same guarded memory; a
 * secret must look like one (whsec_ and printable ASCII), so that a key
 * file named by mistake is caught at start-up.
 */
static int
load_webhook_secret(struct webhook_secret *ws, const char *dir, uid_t owner,
    struct config_errors *errs)
{
	struct account a;
	char path[BROKER_PATH_MAX * 2 + 2];

	if (ws->source == KEY_FILE)
		snprintf(path, sizeof(path), "%s", ws->ref);
	else if (dir == NULL || dir[0] != '/' ||
	    strlen(dir) > BROKER_PATH_MAX) {
		config_error(errs, ws->line, "webhook_secret_credential %s: "
		    "$CREDENTIALS_DIRECTORY is not set (use LoadCredential= "
		    "in the unit)", ws->ref);
		return -1;
	} else
		snprintf(path, sizeof(path), "%s/%s", dir, ws->ref);
	/* load_one() reports against an account: lend it a stand-in. */
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "(webhook secret)");
	a.source = ws->source;
	a.key_line = ws->line;
	if (load_one(&a, path, owner, errs) == -1)
		return -1;
	ws->key = a.key;
	if (ws->key->len > WEBHOOK_SECRET_MAX ||
	    strncmp(ws->key->secret, "whsec_", 6) != 0) {
		config_error(errs, ws->line, "webhook secret %s: expected "
		    "whsec_ followed by at most %d bytes", path,
		    WEBHOOK_SECRET_MAX - 6);
		key_free(ws->key);
		ws->key = NULL;
		return -1;
	}
	return 0;
}

int
creds_load_all(struct broker_config *cfg, uid_t owner,
    struct config_errors *errs)
{
	char path[BROKER_PATH_MAX * 2 + 2];
	const char *dir;
	struct account *a;
	size_t i;
	int rc = 0;

	dir = getenv("CREDENTIALS_DIRECTORY");
	for (i = 0; i < cfg->naccounts; i++) {
		a = &cfg->accounts[i];
		if (a->source == KEY_FILE)
			snprintf(path, sizeof(path), "%s", a->key_ref);
		else if (dir == NULL || dir[0] != '/' ||
		    strlen(dir) > BROKER_PATH_MAX) {
			config_error(errs, a->key_line, "account %s: "
			    "credential %s: $CREDENTIALS_DIRECTORY is not set "
			    "(use LoadCredential= in the unit)", a->name,
			    a->key_ref);
			rc = -1;
			continue;
		} else
			snprintf(path, sizeof(path), "%s/%s", dir, a->key_ref);
		if (load_one(a, path, owner, errs) == -1)
			rc = -1;
	}
	for (i = 0; i < cfg->nwebhook_secrets; i++)
		if (load_webhook_secret(&cfg->webhook_secrets[i], dir, owner,
		    errs) == -1)
			rc = -1;
	if (rc == -1)
		creds_free_all(cfg);
	return rc;
}

void
creds_free_all(struct broker_config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->naccounts; i++) {
		key_free(cfg->accounts[i].key);
		cfg->accounts[i].key = NULL;
	}
	for (i = 0; i < cfg->nwebhook_secrets; i++) {
		key_free(cfg->webhook_secrets[i].key);
		cfg->webhook_secrets[i].key = NULL;
	}
}

void
creds_dino_key(const struct account *a, struct dino_key *out)
{
	out->secret = a->key->secret;
	out->len = a->key->len;
}
