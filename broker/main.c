/*
 * dino-broker: the only holder of Dino spending keys.
 *
 * Start-up order matters, and each step says why it sits where it is:
 * no core dumps before any secret exists; config and keys read while the
 * files are reachable; the IPC socket bound and owned while still root;
 * then the drop to the broker's user; then the seccomp filter, once
 * nothing more needs opening.
 */
#define _GNU_SOURCE
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <sodium.h>

#include "broker.h"
#include "confine.h"
#include "config.h"
#include "control.h"
#include "creds.h"
#include "dino.h"
#include "intent.h"
#include "jrec.h"
#include "journal.h"
#include "log.h"
#include "poll.h"
#include "sandbox.h"
#include "util.h"
#include "webhook.h"

struct options {
	const char	*config;
	int		 check_only;
	int		 no_seccomp;
	int		 debug_trap;
	int		 verbose;
	int		 recover;
	const char	*verify_journal;
	const char	*self_test;
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: dino-broker -f CONFIG [-n] [-v] [--recover] "
	    "[--debug-seccomp-trap] [--no-seccomp]\n"
	    "                   [--self-test-seccomp=execve|ptrace]\n"
	    "       dino-broker --verify-journal DIR\n");
	exit(2);
}

static void
parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "no-seccomp", no_argument, NULL, 'S' },
		{ "debug-seccomp-trap", no_argument, NULL, 'T' },
		{ "recover", no_argument, NULL, 'R' },
		{ "verify-journal", required_argument, NULL, 'J' },
		{ "self-test-seccomp", required_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "f:nv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			o->config = optarg;
			break;
		case 'n':
			o->check_only = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'S':
			o->no_seccomp = 1;
			break;
		case 'T':
			o->debug_trap = 1;
			break;
		case 'R':
			o->recover = 1;
			break;
		case 'J':
			o->verify_journal = optarg;
			break;
		case 'X':
			if (strcmp(optarg, "execve") != 0 &&
			    strcmp(optarg, "ptrace") != 0)
				usage();
			o->self_test = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc || (o->config == NULL) == (o->verify_journal ==
	    NULL))
		usage();
}

static void
dino_opts(const struct broker_config *cfg, struct dino_options *o)
{
	memset(o, 0, sizeof(*o));
	o->base_url = cfg->dino_url;
	o->spend_path = cfg->dino_spend_path;
	o->allow_http_loopback = cfg->allow_http_loopback;
	o->ca_file = cfg->ca_file[0] != '\0' ? cfg->ca_file : NULL;
	o->connect_timeout_ms = (long)cfg->connect_timeout_ms;
	o->total_timeout_ms = (long)cfg->total_timeout_ms;
	o->retry_base_ms = BROKER_RETRY_BASE_MS;
	o->retry_max_ms = BROKER_RETRY_MAX_MS;
	o->read_retries = BROKER_READ_RETRIES;
}

/* The uid the broker serves as: its own, or the one it drops to. */
static uid_t
serving_uid(const struct broker_config *cfg, int as_root)
{
	return as_root ? cfg->user_uid : geteuid();
}

/*
 * Config and keys, with every error printed as CONFIG:LINE: message.
 * Returns the loaded config or exits 1.
 */
static struct broker_config *
load_all(const struct options *o, int as_root)
{
	struct config_errors errs;
	struct broker_config *cfg;
	struct dino_options opt;
	char err[256];

	if ((cfg = config_load(o->config, &errs)) == NULL) {
		config_errors_print(&errs);
		exit(1);
	}
	dino_opts(cfg, &opt);
	if (dino_options_check(&opt, err, sizeof(err)) == -1)
		config_error(&errs, 0, "%s", err);
	if (creds_load_all(cfg, serving_uid(cfg, as_root), &errs) == -1 ||
	    errs.n > 0) {
		creds_free_all(cfg);
		config_errors_print(&errs);
		config_free(cfg);
		exit(1);
	}
	/* Nothing but a reload needs it, and no child should inherit it. */
	control_remember_creds_dir();
	unsetenv("CREDENTIALS_DIRECTORY");
	return cfg;
}

/*
 * Which uid may connect to the IPC socket.  Without a separate frontend
 * user (the non-root `make run`), only the broker's own uid: the split is
 * then between processes of one user, and the log says so.
 */
static uid_t
frontend_uid(const struct broker_config *cfg, uid_t self)
{
	if (!cfg->has_frontend || cfg->frontend_uid == self) {
		log_warnx("event=start_warning reason=\"frontend_user is unset "
		    "or the broker's own user: the privilege split is "
		    "in-process only\"");
		return self;
	}
	if (cfg->frontend_uid == 0)
		fatalx("frontend_user %s is root; refusing",
		    cfg->frontend_user);
	return cfg->frontend_uid;
}

static struct dino_client *
dino_start(struct event_base *base, const struct broker_config *cfg)
{
	struct dino_options opt;

	dino_opts(cfg, &opt);
	return dino_client_new(base, &opt);
}

/*
 * Resolves the Dino host once before the filter goes on, so that glibc
 * loads its NSS modules (dlopen needs executable mappings the filter
 * refuses) and reads nsswitch.conf now.  The answer itself is not kept.
 */
static void
warm_resolver(const char *url)
{
	struct addrinfo hints, *res = NULL;
	char host[BROKER_URL_MAX + 1];
	const char *p;
	size_t n;

	if ((p = strstr(url, "://")) == NULL)
		return;
	p += 3;
	n = strcspn(p, ":/");
	if (*p == '[' || n == 0 || n >= sizeof(host))
		return;
	memcpy(host, p, n);
	host[n] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, "443", &hints, &res) == 0)
		freeaddrinfo(res);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct broker *b = arg;

	if (sig == SIGHUP) {
		broker_reload(b);
		return;
	}
	log_info("event=stopping signal=%d", (int)sig);
	control_stopping();
	event_base_loopbreak(b->base);
}

static void
signals_start(struct broker *b, struct event **ev)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < nitems(sigs); i++)
		if ((ev[i] = evsignal_new(b->base, sigs[i], signal_cb, b)) ==
		    NULL || event_add(ev[i], NULL) == -1)
			fatalx("evsignal_new");
}

/* Binds the IPC socket and the webhook listener, then drops root. */
static void
listen_and_drop(struct broker *b, int as_root, int *webhook_fd)
{
	struct confine_user u;
	char err[256];

	/* systemd's sockets first (control.h), else the configured ones. */
	b->ipc_activated = (b->listen_fd = control_activated("ipc")) != -1;
	if (!b->ipc_activated && (b->listen_fd = broker_listen(b->cfg,
	    as_root, err, sizeof(err))) == -1)
		fatalx("%s", err);
	if ((*webhook_fd = control_activated("webhook")) == -1 &&
	    b->cfg->webhook_listen[0] != '\0' &&
	    (*webhook_fd = webhook_bind(b->cfg, err, sizeof(err))) == -1)
		fatalx("webhook_listen: %s", err);
	control_listen(b, as_root);
	if (!as_root)
		return;
	if (confine_lookup_user(b->cfg->user, &u, err, sizeof(err)) == -1)
		fatalx("user: %s", err);
	confine_drop_to(&u);
	log_info("event=dropped_privileges user=%s uid=%lu", u.name,
	    (unsigned long)u.uid);
}

/* The webhook socket's path, for a clean stop to remove; else NULL. */
static const char *
webhook_path(const struct broker_config *cfg)
{
	if (strncmp(cfg->webhook_listen, "unix:", 5) != 0)
		return NULL;
	return cfg->webhook_listen + 5;
}

static void
confine(struct broker *b, const struct options *o, int webhook_fd)
{
	if (o->no_seccomp) {
		log_warnx("event=seccomp_disabled reason=\"--no-seccomp: for "
		    "valgrind only; NEVER run a production broker like "
		    "this\"");
		return;
	}
	broker_sandbox(b->listen_fd, webhook_fd, b->cfg->ipc_socket,
	    webhook_path(b->cfg), o->debug_trap);
}

static void
shutdown_all(struct broker *b, struct event **sigev, size_t nsig)
{
	size_t i;

	log_info("event=stopped open_intents=%zu", b->intents->n);
	broker_stop(b);
	/* Before the client: a last batch may still start Dino calls. */
	jrec_close(b, b->intents->n);
	/* After the journal: an operator action may still be answered. */
	control_stop(b);
	webhook_free(b->webhook);
	poll_free(b->poller);
	/* The client goes first: no callback may reach a freed intent. */
	dino_client_free(b->dino);
	intent_table_free(b->intents);
	creds_free_all(b->cfg);
	for (i = 0; i < nsig; i++)
		event_free(sigev[i]);
	close(b->listen_fd);
	/* The directory may not be writable by the broker's user. */
	if (!b->ipc_activated && unlink(b->cfg->ipc_socket) == -1)
		log_debug("event=socket_left path=%s", b->cfg->ipc_socket);
	if (webhook_path(b->cfg) != NULL && unlink(webhook_path(b->cfg)) == -1)
		log_debug("event=socket_left path=%s", webhook_path(b->cfg));
	config_free(b->cfg);
	event_base_free(b->base);
	curl_global_cleanup();
}

/*
 * glibc hands the top of the heap back with brk() as soon as 128 KiB of it
 * is free, and mmaps then munmaps every block above a moving threshold.
 * Under load the broker crossed both lines on every burst of answers: with
 * the journal's writer thread each shrink is a TLB shootdown on every CPU
 * and each regrowth a run of page faults, a sixth of its time under perf.
 * Fixed, higher thresholds cost nothing at idle (RSS counts only the pages
 * touched) and bound what a burst keeps.
 */
static void
tune_malloc(void)
{
	if (mallopt(M_TRIM_THRESHOLD, BROKER_MALLOC_TRIM) != 1 ||
	    mallopt(M_MMAP_THRESHOLD, BROKER_MALLOC_MMAP) != 1)
		log_warnx("event=mallopt_failed");
}

int
main(int argc, char **argv)
{
	struct options o;
	struct broker b;
	struct event *sigev[3];
	int as_root, webhook_fd;

	parse_args(argc, argv, &o);
	log_init("dino-broker", o.verbose ? LOG_DEBUG : LOG_INFO);
	/* Offline, for auditors: no config, no keys, nothing written. */
	if (o.verify_journal != NULL) {
		if (sodium_init() < 0)
			fatalx("sodium_init failed");
		return journal_verify_main(o.verify_journal);
	}
	/* Before any secret exists in this process. */
	confine_no_dump();
	tune_malloc();
	if (sodium_init() < 0)
		fatalx("sodium_init failed");
	as_root = geteuid() == 0;
	memset(&b, 0, sizeof(b));
	b.cfg = load_all(&o, as_root);
	if (o.check_only) {
		creds_free_all(b.cfg);
		config_free(b.cfg);
		printf("configuration OK\n");
		return 0;
	}
	if (!o.verbose)
		log_setlevel(b.cfg->log_level);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	b.base = loop_new();
	b.intents = intent_table_new();
	listen_and_drop(&b, as_root, &webhook_fd);
	b.peer_uid = frontend_uid(b.cfg, geteuid());
	/* Before the replay, which rebuilds its set of seen event ids. */
	if (webhook_fd != -1)
		b.webhook = webhook_new(b.base, b.cfg, b.intents, webhook_fd);
	/* As the broker's user, so that it owns what it writes. */
	jrec_open(&b, o.config, o.recover);
	webhook_set_journal(b.webhook, b.journal);
	broker_sandbox_journal(journal_dirfd(b.journal));
	b.dino = dino_start(b.base, b.cfg);
	b.poller = poll_new(b.base, b.cfg, b.dino, b.intents);
	warm_resolver(b.cfg->dino_url);
	/* gmtime_r() reads /etc/localtime once: let it happen now. */
	tzset();
	signals_start(&b, sigev);
	broker_start(&b);
	b.config_path = o.config;
	control_start(&b);
	/* The journal's replay (issue 4) has filled the table by now. */
	poll_resume_all(b.poller);
	confine(&b, &o, webhook_fd);
	if (o.self_test != NULL) {
		broker_self_test_seccomp(o.self_test);
		fatalx("the seccomp filter did not stop %s", o.self_test);
	}
	/* After the filter: the writer thread must inherit it. */
	if (journal_start_writer(b.journal) == -1)
		log_warnx("event=journal_writer_failed errno=\"%s\" "
		    "note=\"batches are synced on the loop\"", strerror(errno));
	broker_resume(&b);
	log_info("event=started instance_id=%s ipc_socket=%s frontend_uid=%lu "
	    "accounts=%zu principals=%zu paused=%s webhook_listen=%s "
	    "webhook_secrets=%zu poll_s=%lld-%lld", b.cfg->instance_id,
	    b.cfg->ipc_socket, (unsigned long)b.peer_uid, b.cfg->naccounts,
	    b.cfg->nprincipals, b.cfg->paused ? "yes" : "no",
	    b.cfg->webhook_listen[0] != '\0' ? b.cfg->webhook_listen : "-",
	    b.cfg->nwebhook_secrets, (long long)b.cfg->poll_min_s,
	    (long long)b.cfg->poll_max_s);
	control_ready(&b);
	if (event_base_dispatch(b.base) == -1)
		fatalx("event_base_dispatch failed");
	shutdown_all(&b, sigev, nitems(sigev));
	return 0;
}
