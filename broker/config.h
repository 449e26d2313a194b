/*
 * The broker's configuration: dino-broker.conf(5).  Loading parses the
 * file, resolves user and group names through the system databases, and
 * checks the references between blocks; it reports every error it finds,
 * each with its line, rather than stopping at the first, so that `-n`
 * shows an operator the whole list at once.  Keys are not read here: see
 * creds.h, which fills each account's key after the load succeeded.
 */
#ifndef DINO_BROKER_CONFIG_H
#define DINO_BROKER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "dinolimits.h"

struct creds_key;

/* One line-numbered error, "CONFIG:LINE: message" when printed. */
struct config_error {
	int	line;		/* 0: about the file as a whole */
	char	msg[256];
};

struct config_errors {
	const char		*file;
	struct config_error	 e[BROKER_CONFIG_ERRORS_MAX];
	size_t			 n;
	size_t			 dropped;	/* beyond BROKER_CONFIG_ERRORS_MAX */
};

void	config_error(struct config_errors *errs, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Prints each error as "FILE:LINE: message" to stderr. */
void	config_errors_print(const struct config_errors *errs);

enum key_source {
	KEY_FILE,		/* key_file PATH */
	KEY_CREDENTIAL,		/* credential NAME, in $CREDENTIALS_DIRECTORY */
};

struct account {
	char		 name[BROKER_NAME_MAX + 1];
	int		 line;
	enum key_source	 source;
	int		 key_line;	/* the key_file or credential line */
	char		 key_ref[BROKER_PATH_MAX + 1];	/* path or name */
	struct creds_key *key;		/* set by creds_load_all() */
};

enum principal_kind {
	PRINCIPAL_UID,		/* principal uid 1000 */
	PRINCIPAL_USER,		/* principal user alice */
	PRINCIPAL_GROUP,	/* principal group agents */
};

/*
 * Spending state a principal carries between requests: the charges inside
 * the rolling 24 h window, oldest first (see policy.h).  It lives here so
 * that the policy module needs no allocation of its own.
 */
struct policy_charge;
struct policy_usage {
	struct policy_charge	*head, *tail;
	int64_t			 held_cents;	/* unreleased, inside window */
	size_t			 count;
	/* The per-minute window: its oldest charge and its size. */
	struct policy_charge	*rate_head;
	size_t			 rate_count;
};

/* A webhook signing secret: webhook_secret_file or _credential. */
struct webhook_secret {
	enum key_source	 source;
	int		 line;
	char		 ref[BROKER_PATH_MAX + 1];	/* path or name */
	struct creds_key *key;		/* set by creds_load_all() */
};

struct principal {
	enum principal_kind	 kind;
	char			 name[BROKER_NAME_MAX + 1];	/* as written */
	char			 id[BROKER_NAME_MAX + 8];	/* "uid:1000" */
	int			 line;
	/* Resolved at load: the uid of a user principal, the gid and the
	   member uids of a group principal. */
	uid_t			 uid;
	gid_t			 gid;
	uid_t			*members;
	size_t			 nmembers;

	char			 account_name[BROKER_NAME_MAX + 1];
	int			 account_line;
	struct account		*account;

	int			 allowed;
	int64_t			 max_amount_cents;
	int64_t			 daily_cap_cents;
	int64_t			 spends_per_minute;
	int64_t			 hold_above_cents;	/* 0: never held */
	char			 currencies[BROKER_LIST_MAX][CURRENCY_LEN + 1];
	size_t			 ncurrencies;
	char			(*merchants_allow)[MERCHANT_NAME_MAX + 1];
	size_t			 nallow;	/* 0: any merchant */
	char			(*merchants_deny)[MERCHANT_NAME_MAX + 1];
	size_t			 ndeny;

	struct policy_usage	 usage;
};

struct broker_config {
	char		 instance_id[BROKER_INSTANCE_ID_MAX + 1];
	char		 dino_url[BROKER_URL_MAX + 1];
	char		 dino_spend_path[32];
	char		 ca_file[BROKER_PATH_MAX + 1];	/* "" system bundle */
	int		 allow_http_loopback;
	int64_t		 connect_timeout_ms;
	int64_t		 total_timeout_ms;
	char		 ipc_socket[BROKER_PATH_MAX + 1];
	char		 frontend_user[BROKER_NAME_MAX + 1];	/* "" unset */
	char		 user[BROKER_NAME_MAX + 1];
	int		 paused;
	int		 log_level;
	int		 line_frontend_user, line_user;
	/* Resolved at load (frontend_user always, user only as root). */
	int		 has_frontend;
	uid_t		 frontend_uid;
	gid_t		 frontend_gid;
	int		 has_user;
	uid_t		 user_uid;
	gid_t		 user_gid;

	struct account	 accounts[BROKER_ACCOUNTS_MAX];
	size_t		 naccounts;
	struct principal *principals;	/* BROKER_PRINCIPALS_MAX slots */
	size_t		 nprincipals;

	/* Webhooks, polling and waiters (issue 5). */
	char		 webhook_listen[BROKER_PATH_MAX + 1];	/* "" none */
	int		 line_webhook_listen;
	char		 webhook_path[BROKER_PATH_MAX + 1];
	struct webhook_secret webhook_secrets[WEBHOOK_SECRETS_MAX];
	size_t		 nwebhook_secrets;
	int64_t		 webhook_tolerance_s;
	int		 webhook_accept_legacy;
	int64_t		 poll_min_s;
	int64_t		 poll_max_s;
	int		 line_poll;
	int64_t		 agent_conns_per_uid;	/* sent in MSG_CONFIG */

	/* Operator control (issue 7): dinoctl's socket and metrics. */
	char		 admin_socket[BROKER_PATH_MAX + 1];	/* "" none */
	char		 admin_group[BROKER_NAME_MAX + 1];	/* "" none */
	int		 line_admin_group;
	gid_t		 admin_gid;
	uid_t		*admin_uids;	/* resolved members of admin_group */
	size_t		 nadmin_uids;
	char		 metrics_listen[BROKER_PATH_MAX + 1];	/* "" none */

	/* The journal (issue 4). */
	char		 journal_dir[BROKER_PATH_MAX + 1];
	int64_t		 journal_segment_bytes;
	int		 journal_retention_days;	/* 0: forever */
	int		 journal_fsync;		/* "no": benchmarks only */
};

/*
 * Parses path into a freshly allocated config.  Returns it, or NULL with
 * every problem in errs (which the caller owns; errs->file is set here).
 */
struct broker_config *config_load(const char *path, struct config_errors *errs);
/* The same, from a buffer (unit tests); name is used in messages. */
struct broker_config *config_parse(const char *name, const char *buf,
	    size_t len, struct config_errors *errs);
/* Frees the config; keys must already be released (creds_free_all). */
/* The principal whose id ("uid:1000", "group:agents") is id, or NULL. */
struct principal *config_principal_by_id(struct broker_config *cfg,
	    const char *id);
void	config_free(struct broker_config *cfg);

struct account *config_find_account(struct broker_config *cfg,
	    const char *name);

#endif
