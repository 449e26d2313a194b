/* Unit tests for broker/config.c and broker/creds.c. */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "../../broker/config.h"
#include "../../broker/creds.h"
#include "conftext.h"
#include "tap.h"

static char dir[] = "/tmp/dino-cfg-test.XXXXXX";

/* The user every config names: nobody exists on any Debian system. */
#define HEAD \
	"instance_id host-a\n" \
	"user nobody\n"

static void
write_file(const char *name, const char *text, mode_t mode)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)) == -1) {
		perror(path);
		exit(1);
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		exit(1);
	fchmod(fd, mode);
	close(fd);
}

static void
test_round_trip(void)
{
	struct config_errors errs;
	struct broker_config *cfg;
	struct principal *pr;
	char text[2048];

	snprintf(text, sizeof(text), HEAD
	    "# a comment line\n"
	    "dino_url           http://127.0.0.1:8080   # the sandbox\n"
	    "dino_spend_path    spend-requests\n"
	    "allow_http_loopback yes\n"
	    "connect_timeout_ms 1000\n"
	    "total_timeout_ms   2000\n"
	    "ipc_socket         %s/ipc.sock\n"
	    "paused             no\n"
	    "log_level          debug\n"
	    "account default {\n"
	    "    key_file   %s/default.key\n"
	    "}\n"
	    "account other {\n"
	    "    credential other-key\n"
	    "}\n"
	    "principal uid 1000 {\n"
	    "    account             default\n"
	    "    max_amount_cents    50000\n"
	    "    daily_cap_cents     200000\n"
	    "    spends_per_minute   10\n"
	    "    currencies          usd eur\n"
	    "    merchants_allow     AWS OpenAI \"Google Cloud\"\n"
	    "    merchants_deny      Casino \"say \\\"hi\\\"\"\n"
	    "}\n"
	    "principal user root {\n"
	    "    account other\n"
	    "}\n"
	    "principal group root {\n"
	    "    account default\n"
	    "}\n", dir, dir);
	cfg = parse(text, &errs);
	CHECK(cfg != NULL, "valid config parses");
	if (cfg == NULL) {
		has_error(&errs, -1, "");
		return;
	}
	CHECK(strcmp(cfg->instance_id, "host-a") == 0, "instance_id");
	CHECK(strcmp(cfg->dino_url, "http://127.0.0.1:8080") == 0,
	    "dino_url without the comment");
	CHECK(strcmp(cfg->dino_spend_path, "spend-requests") == 0,
	    "dino_spend_path");
	CHECK(cfg->allow_http_loopback == 1, "allow_http_loopback");
	CHECK(cfg->connect_timeout_ms == 1000 && cfg->total_timeout_ms == 2000,
	    "timeouts");
	CHECK(cfg->paused == 0, "paused");
	CHECK(cfg->naccounts == 2 && cfg->nprincipals == 3, "block counts");
	CHECK(cfg->accounts[0].source == KEY_FILE &&
	    cfg->accounts[1].source == KEY_CREDENTIAL, "key sources");
	CHECK(cfg->accounts[0].key_line == 13, "key_file line recorded");
	pr = &cfg->principals[0];
	CHECK(pr->kind == PRINCIPAL_UID && pr->uid == 1000 &&
	    strcmp(pr->id, "uid:1000") == 0, "uid principal");
	CHECK(pr->account == &cfg->accounts[0], "account resolved");
	CHECK(pr->max_amount_cents == 50000 && pr->daily_cap_cents == 200000 &&
	    pr->spends_per_minute == 10, "limits");
	CHECK(pr->ncurrencies == 2 && strcmp(pr->currencies[1], "eur") == 0,
	    "currencies");
	CHECK(pr->nallow == 3 && strcmp(pr->merchants_allow[2],
	    "Google Cloud") == 0, "quoted merchant with a space");
	CHECK(pr->ndeny == 2 && strcmp(pr->merchants_deny[1],
	    "say \"hi\"") == 0, "escaped quotes");
	pr = &cfg->principals[1];
	CHECK(pr->kind == PRINCIPAL_USER && pr->uid == 0 &&
	    strcmp(pr->id, "user:root") == 0, "user principal resolved");
	CHECK(pr->max_amount_cents == BROKER_DEF_MAX_AMOUNT &&
	    pr->daily_cap_cents == BROKER_DEF_DAILY_CAP &&
	    pr->spends_per_minute == BROKER_DEF_SPM && pr->ncurrencies == 1 &&
	    strcmp(pr->currencies[0], "usd") == 0 && pr->allowed,
	    "documented defaults");
	pr = &cfg->principals[2];
	CHECK(pr->kind == PRINCIPAL_GROUP && pr->gid == 0,
	    "group principal resolved");
	config_free(cfg);
}

static void
test_defaults(void)
{
	struct config_errors errs;
	struct broker_config *cfg;

	cfg = parse(HEAD, &errs);
	CHECK(cfg != NULL, "minimal config parses");
	if (cfg == NULL)
		return;
	CHECK(strcmp(cfg->dino_url, "https://api.dino.id") == 0,
	    "default dino_url");
	CHECK(strcmp(cfg->dino_spend_path, "spend") == 0,
	    "default spend path");
	CHECK(cfg->connect_timeout_ms == BROKER_DEF_CONNECT_MS &&
	    cfg->total_timeout_ms == BROKER_DEF_TOTAL_MS, "default timeouts");
	CHECK(strcmp(cfg->ipc_socket, "/run/dino-broker/ipc.sock") == 0,
	    "default ipc_socket");
	CHECK(!cfg->allow_http_loopback && !cfg->paused, "default flags");
	config_free(cfg);
}

/* One bad config, one expected error at one line. */
static void
expect_error(const char *text, int line, const char *what, const char *name)
{
	struct config_errors errs;
	struct broker_config *cfg;

	cfg = parse(text, &errs);
	CHECK(cfg == NULL && has_error(&errs, line, what), name);
	config_free(cfg);
}

static void
test_errors(void)
{
	expect_error(HEAD "frobnicate yes\n", 3, "unknown key frobnicate",
	    "unknown key with its line");
	expect_error(HEAD "account a {\n  key_fle /x\n}\n", 4,
	    "unknown key key_fle", "unknown key inside a block");
	expect_error(HEAD "key_file /x\n", 3, "unknown key key_file",
	    "block key at top level is unknown");
	expect_error(HEAD "connect_timeout_ms\n", 3, "missing value",
	    "missing value");
	expect_error(HEAD "connect_timeout_ms 12x\n", 3, "not a whole number",
	    "bad number");
	expect_error(HEAD "connect_timeout_ms -5\n", 3, "not a whole number",
	    "negative number");
	expect_error(HEAD "connect_timeout_ms 1 2\n", 3, "too many values",
	    "too many values");
	expect_error(HEAD "paused maybe\n", 3, "yes or no", "bad boolean");
	expect_error(HEAD "ipc_socket \"/run/x.sock\n", 3,
	    "unterminated quote", "unterminated quote");
	expect_error(HEAD "account a {\n key_file /k\n}\n"
	    "principal uid 5 {\n  account nosuch\n}\n", 7,
	    "unknown account nosuch", "unknown account at its line");
	expect_error(HEAD "account a {\n key_file /k\n}\n"
	    "principal uid 5 {\n account a\n}\n"
	    "principal uid 5 {\n account a\n}\n", 9,
	    "duplicate principal uid:5", "duplicate principal");
	expect_error(HEAD "account a {\n key_file /k\n}\n"
	    "account a {\n key_file /k\n}\n", 6, "duplicate account",
	    "duplicate account");
	expect_error(HEAD "account a {\n key_file /k\n", 3,
	    "block not closed", "block not closed at end of file");
	expect_error(HEAD "account a {\n key_file /k\n"
	    "principal uid 5 {\n account a\n}\n", 3, "block not closed",
	    "block not closed before the next block");
	expect_error(HEAD "}\n", 3, "without a block", "stray brace");
	expect_error(HEAD "principal uid 5 {\n}\n", 3, "no account",
	    "principal without account");
	expect_error(HEAD "account a {\n}\n", 3, "no key_file or credential",
	    "account without key");
	expect_error(HEAD "account a {\n key_file /k\n credential c\n}\n", 5,
	    "exclusive", "key_file and credential exclusive");
	expect_error(HEAD "account a {\n credential ../etc/x\n}\n", 4,
	    "without '/'", "credential name with a slash");
	expect_error(HEAD "principal team x {\n}\n", 3, "expected: principal",
	    "bad principal kind");
	expect_error(HEAD "principal user no-such-user-dino {\n account a\n"
	    "}\n", 3, "no such user", "unknown user");
	expect_error(HEAD "principal group no-such-group-dino {\n account a\n"
	    "}\n", 3, "no such group", "unknown group");
	expect_error("user nobody\n", 0, "instance_id is required",
	    "instance_id required");
	expect_error(HEAD "dino_url http://example.com\n", 0,
	    "loopback", "plain http refused without opt-in");
	expect_error(HEAD "allow_http_loopback yes\n"
	    "dino_url http://10.0.0.1\n", 0, "loopback",
	    "plain http refused to a non-loopback host");
	expect_error(HEAD "dino_spend_path spends\n", 3, "spend-requests",
	    "bad spend path");
	expect_error(HEAD "log_level loud\n", 3, "log_level",
	    "bad log level");
	expect_error(HEAD "instance_id b\n", 3, "given twice",
	    "duplicate key");
	expect_error(HEAD "account a {\n key_file /k\n}\n"
	    "principal uid 5 {\n account a\n currencies USD\n}\n", 8,
	    "currencies", "bad currency");
	expect_error(HEAD "account a {\n key_file /k\n}\n"
	    "principal uid 5 {\n account a\n max_amount_cents 0\n}\n", 8,
	    "max_amount_cents", "amount below 1");
	expect_error(HEAD "account a {\n key_file /k\n}\n"
	    "principal uid 5 {\n account a\n spends_per_minute 600001\n}\n",
	    8, "spends_per_minute", "rate above ceiling");
	expect_error(HEAD "account a {\n key_file /k\n}\n"
	    "principal uid 5 {\n account a\n merchants_deny \"\"\n}\n", 8,
	    "merchants_deny", "empty merchant");
	expect_error(HEAD "frontend_user no-such-user-dino\n", 3,
	    "no such user", "unknown frontend_user");
	expect_error(HEAD "user root\n", 3, "given twice",
	    "user given twice");
	expect_error("instance_id h\nuser root\n", 2, "will not run as root",
	    "user root refused");
}

static void
test_several_errors(void)
{
	struct config_errors errs;
	struct broker_config *cfg;

	cfg = parse(HEAD "bogus 1\npaused perhaps\nconnect_timeout_ms x\n",
	    &errs);
	CHECK(cfg == NULL && errs.n == 3, "every error reported, not the first");
	CHECK(has_error(&errs, 3, "bogus") && has_error(&errs, 4, "paused") &&
	    has_error(&errs, 5, "connect_timeout_ms"), "each at its line");
}

/* Loads the keys of a one-account config naming key_file path. */
static int
load_key(const char *file, struct config_errors *errs,
    struct broker_config **out)
{
	char text[512];
	struct broker_config *cfg;

	snprintf(text, sizeof(text), HEAD "account a {\n"
	    "  key_file %s/%s\n}\n", dir, file);
	if ((cfg = parse(text, errs)) == NULL)
		return -2;
	*out = cfg;
	return creds_load_all(cfg, geteuid(), errs);
}

static void
expect_key_error(const char *file, const char *what, const char *name)
{
	struct config_errors errs;
	struct broker_config *cfg = NULL;
	int r;

	r = load_key(file, &errs, &cfg);
	CHECK(r == -1 && has_error(&errs, 4, what), name);
	if (cfg != NULL) {
		CHECK(cfg->accounts[0].key == NULL, "no key kept after error");
		config_free(cfg);
	}
}

static void
test_keys(void)
{
	struct config_errors errs;
	struct broker_config *cfg = NULL;
	size_t i;

	write_file("good.key", "din_test_abc123\n", 0600);
	CHECK(load_key("good.key", &errs, &cfg) == 0, "good key loads");
	if (cfg != NULL && cfg->accounts[0].key != NULL) {
		CHECK(strcmp(cfg->accounts[0].key->secret,
		    "din_test_abc123") == 0 &&
		    cfg->accounts[0].key->len == 15,
		    "one trailing newline stripped");
		creds_free_all(cfg);
		CHECK(cfg->accounts[0].key == NULL, "keys freed");
	}
	config_free(cfg);
	write_file("world.key", "din_test_abc\n", 0644);
	expect_key_error("world.key", "group or others",
	    "world-readable key file refused");
	write_file("group.key", "din_test_abc\n", 0640);
	expect_key_error("group.key", "group or others",
	    "group-readable key file refused");
	expect_key_error("missing.key", "No such file",
	    "missing key file refused");
	write_file("empty.key", "", 0600);
	expect_key_error("empty.key", "is empty", "empty key refused");
	write_file("nl.key", "\n", 0600);
	expect_key_error("nl.key", "is empty", "newline-only key refused");
	write_file("space.key", "din_test abc\n", 0600);
	expect_key_error("space.key", "white space",
	    "key with a space refused");
	write_file("two.key", "din_test_abc\n\n", 0600);
	expect_key_error("two.key", "white space",
	    "only one newline is stripped");
	write_file("ctl.key", "din_\x01test\n", 0600);
	expect_key_error("ctl.key", "control", "control character refused");
	if (geteuid() == 0) {
		char path[256];

		write_file("owned.key", "din_test_abc\n", 0600);
		snprintf(path, sizeof(path), "%s/owned.key", dir);
		CHECK(chown(path, 65534, 65534) == 0, "chown for test");
		expect_key_error("owned.key", "not owned",
		    "key owned by another user refused");
	}
	/* No message ever carries a key's bytes. */
	write_file("world2.key", "CANARY_SECRET_42\n", 0644);
	cfg = NULL;
	load_key("world2.key", &errs, &cfg);
	for (i = 0; i < errs.n; i++)
		CHECK(strstr(errs.e[i].msg, "CANARY") == NULL,
		    "error message holds no key bytes");
	config_free(cfg);
}

static void
test_credentials(void)
{
	struct config_errors errs;
	struct broker_config *cfg;
	char text[256];

	snprintf(text, sizeof(text), HEAD "account a {\n"
	    "  credential dino-key\n}\n");
	write_file("dino-key", "din_cred_1\n", 0400);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	cfg = parse(text, &errs);
	CHECK(cfg != NULL && creds_load_all(cfg, geteuid(), &errs) == 0 &&
	    strcmp(cfg->accounts[0].key->secret, "din_cred_1") == 0,
	    "credential read from $CREDENTIALS_DIRECTORY");
	if (cfg != NULL)
		creds_free_all(cfg);
	config_free(cfg);
	unsetenv("CREDENTIALS_DIRECTORY");
	cfg = parse(text, &errs);
	CHECK(cfg != NULL && creds_load_all(cfg, geteuid(), &errs) == -1 &&
	    has_error(&errs, 4, "CREDENTIALS_DIRECTORY"),
	    "credential without $CREDENTIALS_DIRECTORY refused");
	config_free(cfg);
}

static void
test_load_file(void)
{
	struct config_errors errs;
	struct broker_config *cfg;
	char path[256];

	write_file("f.conf", HEAD "bogus\n", 0600);
	snprintf(path, sizeof(path), "%s/f.conf", dir);
	cfg = config_load(path, &errs);
	CHECK(cfg == NULL && has_error(&errs, 3, "unknown key bogus") &&
	    strcmp(errs.file, path) == 0, "config_load reports file and line");
	snprintf(path, sizeof(path), "%s/none.conf", dir);
	cfg = config_load(path, &errs);
	CHECK(cfg == NULL && has_error(&errs, 0, "cannot open"),
	    "missing config file");
}

static void
cleanup(void)
{
	struct dirent *de;
	char path[512];
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int
main(void)
{
	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		return 1;
	test_round_trip();
	test_defaults();
	test_errors();
	test_several_errors();
	test_keys();
	test_credentials();
	test_load_file();
	cleanup();
	return TAP_DONE();
}
