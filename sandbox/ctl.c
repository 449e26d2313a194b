#define _GNU_SOURCE
/*
 * The operator subcommands: the /_sandbox/ routes for a person at a
 * terminal.  Each builds one request with libcurl, prints the JSON answer on
 * stdout and exits 0 on 2xx, 1 on an HTTP or transport error, 2 on a usage
 * error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "json.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

struct cmd {
	const char *name;
	int nargs;
	const char *usage;
};

static const struct cmd cmds[] = {
    {"approve", 1, "approve SPEND_ID"},
    {"decline", 1, "decline SPEND_ID"},
    {"cancel", 1, "cancel SPEND_ID"},
    {"pause", 1, "pause ACCOUNT_ID"},
    {"unpause", 1, "unpause ACCOUNT_ID"},
    {"topup", 2, "topup ACCOUNT_ID AMOUNT_CENTS"},
    {"revoke", 1, "revoke KEY|-"},
    {"ledger", 0, "ledger"},
    {"faults", 1, "faults JSON|-"},
};

struct buf {
	char *data;
	size_t len;
};

int
sbx_ctl_is_command(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(cmds); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return 1;
	return 0;
}

static int
usage(const char *msg)
{
	size_t i;

	if (msg != NULL)
		fprintf(stderr, "dino-sandbox: %s\n", msg);
	fprintf(stderr,
	    "usage: dino-sandbox COMMAND ARGS --url URL "
	    "[--admin-token TOKEN]\ncommands:\n");
	for (i = 0; i < nitems(cmds); i++)
		fprintf(stderr, "  %s\n", cmds[i].usage);
	fprintf(stderr,
	    "URL is http://HOST:PORT or unix:PATH; the token may "
	    "also come from DINO_SANDBOX_ADMIN_TOKEN.\n");
	return 2;
}

static size_t
collect(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > SANDBOX_CTL_REPLY_MAX)
		return 0;
	if ((p = realloc(b->data, b->len + n + 1)) == NULL)
		return 0;
	b->data = p;
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/* Reads a secret or a JSON document from stdin ("-"), without a newline. */
static char *
read_stdin(void)
{
	struct buf b = {NULL, 0};
	char chunk[4096];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (collect(chunk, 1, n, &b) != n) {
			free(b.data);
			return NULL;
		}
	if (b.data == NULL)
		return strdup("");
	while (b.len > 0 &&
	    (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	return b.data;
}

static int
perform(const char *base, const char *path, const char *body, const char *token)
{
	struct curl_slist *h = NULL;
	struct buf out = {NULL, 0};
	char *url = NULL, *auth = NULL;
	CURLcode cc;
	CURL *c;
	long code = 0;
	int rc = 1;

	if ((c = curl_easy_init()) == NULL)
		fatalx("curl_easy_init");
	if (strncmp(base, "unix:", 5) == 0) {
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, base + 5);
		base = "http://localhost";
	}
	if (asprintf(&url, "%s%s", base, path) == -1)
		fatal("asprintf");
	h = curl_slist_append(h, "Content-Type: application/json");
	if (token != NULL) {
		if (asprintf(&auth, "Authorization: Bearer %s", token) == -1)
			fatal("asprintf");
		h = curl_slist_append(h, auth);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "dino-sandbox-ctl");
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if ((cc = curl_easy_perform(c)) != CURLE_OK)
		fprintf(stderr, "dino-sandbox: %s: %s\n", base,
		    curl_easy_strerror(cc));
	else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (out.data != NULL)
			printf("%s\n", out.data);
		if (code >= 200 && code < 300)
			rc = 0;
		else
			fprintf(stderr, "dino-sandbox: HTTP %ld\n", code);
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (auth != NULL) {
		sodium_memzero(auth, strlen(auth));
		free(auth);
	}
	free(url);
	free(out.data);
	return rc;
}

static char *
amount_json(int64_t amount)
{
	cJSON *o;
	char *text, *copy;

	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(o, "amount_cents", (double)amount) ==
		NULL ||
	    (text = cJSON_PrintUnformatted(o)) == NULL)
		fatalx("out of memory");
	cJSON_Delete(o);
	if ((copy = strdup(text)) == NULL)
		fatal("strdup");
	cJSON_free(text);
	return copy;
}

/* One URL path segment, percent-encoded. */
static char *
seg(const char *s)
{
	char *e, *copy;

	if ((e = curl_easy_escape(NULL, s, 0)) == NULL)
		fatalx("curl_easy_escape");
	if ((copy = strdup(e)) == NULL)
		fatal("strdup");
	curl_free(e);
	return copy;
}

int
sbx_ctl_main(int argc, char *argv[])
{
	const char *url = getenv("DINO_SANDBOX_URL");
	const char *token = getenv("DINO_SANDBOX_ADMIN_TOKEN");
	const char *args[3], *name;
	const struct cmd *cmd = NULL;
	char *path = NULL, *body = NULL, *e = NULL, *in = NULL;
	int64_t amount;
	int i, nargs = 0, rc;
	size_t k;

	name = argv[0];
	for (k = 0; k < nitems(cmds); k++)
		if (strcmp(cmds[k].name, name) == 0)
			cmd = &cmds[k];
	if (cmd == NULL)
		return usage("unknown command");
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--url") == 0 && i + 1 < argc)
			url = argv[++i];
		else if (strcmp(argv[i], "--admin-token") == 0 && i + 1 < argc)
			token = argv[++i];
		else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return usage(NULL);
		else if (argv[i][0] == '-' && argv[i][1] == '-')
			return usage("unknown option or missing value");
		else if (nargs < 3)
			args[nargs++] = argv[i];
		else
			return usage("too many arguments");
	}
	if (nargs != cmd->nargs) {
		fprintf(stderr,
		    "dino-sandbox: usage: dino-sandbox %s "
		    "--url URL\n",
		    cmd->usage);
		return 2;
	}
	if (url == NULL)
		return usage("--url is required");
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0 && strncmp(url, "unix:", 5) != 0)
		return usage("URL must be http://HOST:PORT or unix:PATH");
	if (strcmp(name, "ledger") == 0)
		path = strdup("/_sandbox/ledger");
	else if (strcmp(name, "faults") == 0) {
		if (strcmp(args[0], "-") == 0 && (in = read_stdin()) == NULL)
			return usage("cannot read stdin");
		body = strdup(in != NULL ? in : args[0]);
		path = strdup("/_sandbox/faults");
	} else if (strcmp(name, "revoke") == 0) {
		if (strcmp(args[0], "-") == 0 && (in = read_stdin()) == NULL)
			return usage("cannot read stdin");
		e = seg(in != NULL ? in : args[0]);
		if (asprintf(&path, "/_sandbox/keys/%s/revoke", e) == -1)
			fatal("asprintf");
		body = strdup("{}");
	} else {
		e = seg(args[0]);
		if (asprintf(&path, "/_sandbox/%s/%s/%s",
			(strcmp(name, "approve") == 0 ||
			    strcmp(name, "decline") == 0 ||
			    strcmp(name, "cancel") == 0)
			    ? "spends"
			    : "accounts",
			e, name) == -1)
			fatal("asprintf");
		if (strcmp(name, "topup") == 0) {
			if (parse_i64(args[1], AMOUNT_CENTS_MIN,
				AMOUNT_CENTS_MAX, &amount) == -1) {
				free(e);
				free(path);
				return usage("AMOUNT_CENTS must be an integer "
					     "from 1 to 1000000000");
			}
			body = amount_json(amount);
		} else
			body = strdup("{}");
	}
	if (path == NULL || (strcmp(name, "ledger") != 0 && body == NULL))
		fatal("strdup");
	rc = perform(url, path, body, token);
	free(path);
	free(body);
	if (e != NULL) {
		sodium_memzero(e, strlen(e));
		free(e);
	}
	if (in != NULL) {
		sodium_memzero(in, strlen(in));
		free(in);
	}
	return rc;
}
