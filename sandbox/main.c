/*
 * dino-sandbox: a faithful local emulator of the Dino API, the default
 * backend for `make run`, the demo and every test.  See dino-sandbox(1).
 *
 *   dino-sandbox --listen 127.0.0.1:PORT|unix:PATH [--seed FILE]
 *       [--admin-token TOKEN] [--timeout SECS] [--check]
 *   dino-sandbox COMMAND ARGS --url URL [--admin-token TOKEN]
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sodium.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"

#define INSTALLED_SEED "/usr/local/share/dino-broker/seed.json"

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: dino-sandbox --listen 127.0.0.1:PORT|unix:PATH "
	    "[--seed FILE]\n"
	    "                    [--admin-token TOKEN] [--timeout SECS] "
	    "[--check]\n"
	    "       dino-sandbox approve|decline|cancel SPEND_ID --url URL\n"
	    "       dino-sandbox pause|unpause ACCOUNT_ID --url URL\n"
	    "       dino-sandbox topup ACCOUNT_ID AMOUNT_CENTS --url URL\n"
	    "       dino-sandbox revoke KEY|- --url URL\n"
	    "       dino-sandbox ledger --url URL\n"
	    "       dino-sandbox faults JSON|- --url URL\n"
	    "Without --seed: $DINO_SANDBOX_SEED, then <bindir>/../sandbox/"
	    "seed.json,\n<bindir>/../../sandbox/seed.json, then " INSTALLED_SEED
	    ".\n"
	    "See dino-sandbox(1).\n");
}

/* The default seed, found relative to the binary (see usage()). */
static int
default_seed(char *out, size_t len)
{
	static const char *const rel[] = {
	    "/../sandbox/seed.json", "/../../sandbox/seed.json"};
	char exe[SANDBOX_PATH_MAX], *slash;
	const char *env;
	ssize_t n;
	size_t i;

	if ((env = getenv("DINO_SANDBOX_SEED")) != NULL && *env != '\0') {
		snprintf(out, len, "%s", env);
		return 0;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		if ((slash = strrchr(exe, '/')) != NULL)
			*slash = '\0';
		for (i = 0; i < nitems(rel); i++) {
			if (snprintf(out, len, "%s%s", exe, rel[i]) >= (int)len)
				continue;
			if (access(out, R_OK) == 0)
				return 0;
		}
	}
	snprintf(out, len, "%s", INSTALLED_SEED);
	return access(out, R_OK) == 0 ? 0 : -1;
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	log_info("event=stopping signal=%d", (int)sig);
	event_base_loopexit(base, NULL);
}

static int
serve(const char *listen, struct seed *seed, const char *admin_token,
    int timeout_s)
{
	struct event_base *base;
	struct evhttp *http;
	struct event *sigint, *sigterm;
	char err[256], where[256];
	int fd;

	base = loop_new();
	if ((http = evhttp_new(base)) == NULL)
		fatalx("libevent setup failed");
	if ((fd = listen_on(listen, 256, 0600, err, sizeof(err))) == -1) {
		fprintf(stderr, "dino-sandbox: %s\n", err);
		evhttp_free(http);
		event_base_free(base);
		return 1;
	}
	if (evhttp_accept_socket_with_handle(http, fd) == NULL)
		fatalx("evhttp_accept_socket_with_handle");
	evhttp_set_timeout(http, timeout_s);
	/*
	 * Bodies up to the hard cap are read so the handler can answer
	 * 413 with Dino's JSON envelope; beyond it evhttp answers itself.
	 */
	evhttp_set_max_body_size(http, SANDBOX_BODY_HARD_MAX);
	evhttp_set_max_headers_size(http, SANDBOX_HEADERS_MAX);
	if (sbx_store_init(base, seed) == -1 ||
	    sbx_webhook_init(base, seed) == -1 ||
	    sbx_api_init(base, http, seed, admin_token) == -1)
		fatalx("sandbox setup failed");
	sigint = evsignal_new(base, SIGINT, stop_cb, base);
	sigterm = evsignal_new(base, SIGTERM, stop_cb, base);
	if (sigint == NULL || sigterm == NULL || evsignal_add(sigint, NULL) ||
	    evsignal_add(sigterm, NULL))
		fatalx("signal setup failed");
	if (listen_describe(fd, where, sizeof(where)) == -1)
		fatal("getsockname");
	log_info("event=listening address=%s accounts=%zu webhooks=%zu", where,
	    seed->naccounts, seed->nendpoints);
	printf("listening %s\n", where);
	fflush(stdout);
	event_base_dispatch(base);

	/* Connections first: a held reply frees itself on their close. */
	evhttp_free(http);
	sbx_webhook_free();
	sbx_store_free();
	sbx_api_free();
	event_free(sigint);
	event_free(sigterm);
	event_base_free(base);
	if (strncmp(where, "unix:", 5) == 0)
		(void)unlink(where + 5);
	log_info("event=stopped");
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"seed", required_argument, NULL, 's'},
	    {"admin-token", required_argument, NULL, 'a'},
	    {"timeout", required_argument, NULL, 't'},
	    {"check", no_argument, NULL, 'n'},
	    {"log-level", required_argument, NULL, 'L'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *listen = NULL, *seedpath = NULL, *admin;
	char path[SANDBOX_PATH_MAX], err[512];
	struct seed seed;
	int64_t timeout_s = SANDBOX_TIMEOUT_S;
	int ch, check = 0, level, rc;

	log_init("dino-sandbox", LOG_INFO);
	if (sodium_init() == -1)
		fatalx("sodium_init failed");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && sbx_ctl_is_command(argv[1])) {
		rc = sbx_ctl_main(argc - 1, argv + 1);
		curl_global_cleanup();
		return rc;
	}
	admin = getenv("DINO_SANDBOX_ADMIN_TOKEN");
	while (
	    (ch = getopt_long(argc, argv, "l:s:a:t:nL:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			listen = optarg;
			break;
		case 's':
			seedpath = optarg;
			break;
		case 'a':
			admin = optarg;
			break;
		case 't':
			if (parse_i64(optarg, 1, 3600, &timeout_s) == -1) {
				fprintf(stderr,
				    "dino-sandbox: --timeout: "
				    "want 1 to 3600 seconds\n");
				return 2;
			}
			break;
		case 'n':
			check = 1;
			break;
		case 'L':
			if ((level = log_level_parse(optarg)) == -1) {
				fprintf(stderr,
				    "dino-sandbox: --log-level: "
				    "want error, warning, notice, info or "
				    "debug\n");
				return 2;
			}
			log_setlevel(level);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "dino-sandbox: unknown command: %s\n",
		    argv[optind]);
		usage(stderr);
		return 2;
	}
	if (listen == NULL && !check) {
		fprintf(stderr, "dino-sandbox: --listen is required\n");
		usage(stderr);
		return 2;
	}
	if (admin != NULL && *admin == '\0')
		admin = NULL;
	if (seedpath == NULL) {
		if (default_seed(path, sizeof(path)) == -1) {
			fprintf(stderr,
			    "dino-sandbox: no seed file found "
			    "(tried $DINO_SANDBOX_SEED, <bindir>/../sandbox/"
			    "seed.json and " INSTALLED_SEED ")\n");
			return 1;
		}
		seedpath = path;
	}
	if (sbx_seed_load(seedpath, &seed, err, sizeof(err)) == -1) {
		fprintf(stderr, "dino-sandbox: %s\n", err);
		return 1;
	}
	if (check) {
		printf("configuration OK\n");
		sbx_seed_free(&seed);
		return 0;
	}
	rc = serve(listen, &seed, admin, (int)timeout_s);
	sbx_seed_free(&seed);
	curl_global_cleanup();
	return rc;
}
