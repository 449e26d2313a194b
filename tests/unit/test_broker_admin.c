/*
 * Unit tests for the admin socket's pure parts: who is admitted
 * (admin_authorize), the per-uid connection cap (admin_cap_ok), and the
 * Prometheus rendering of the metrics (metrics.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../broker/admin.h"
#include "../../broker/config.h"
#include "../../broker/metrics.h"
#include "tap.h"

static void
test_authorize(void)
{
	struct broker_config cfg;
	uid_t members[2] = { 1001, 1002 };

	memset(&cfg, 0, sizeof(cfg));
	CHECK(admin_authorize(&cfg, 500, 0, 0), "root is admitted");
	CHECK(admin_authorize(&cfg, 500, 500, 500), "the broker's own uid");
	CHECK(!admin_authorize(&cfg, 500, 1001, 1001),
	    "no admin_group: anyone else refused");
	snprintf(cfg.admin_group, sizeof(cfg.admin_group), "dino-admin");
	cfg.admin_gid = 990;
	cfg.admin_uids = members;
	cfg.nadmin_uids = 2;
	CHECK(admin_authorize(&cfg, 500, 1001, 1001), "listed member");
	CHECK(admin_authorize(&cfg, 500, 1002, 50), "other listed member");
	CHECK(!admin_authorize(&cfg, 500, 1003, 1003), "non-member refused");
	CHECK(admin_authorize(&cfg, 500, 1003, 990),
	    "peer whose gid is admin_group's");
	CHECK(!admin_authorize(&cfg, 500, 65534, 65534), "nobody refused");
	cfg.admin_group[0] = '\0';
	CHECK(!admin_authorize(&cfg, 500, 1003, 990),
	    "without admin_group the gid means nothing");
}

static void
test_cap(void)
{
	uid_t uids[8] = { 1, 1, 1, 2, 2, 3, 3, 3 };

	CHECK(admin_cap_ok(uids, 0, 1, 3, 8), "empty table admits");
	CHECK(admin_cap_ok(uids, 3, 2, 3, 8), "another uid admitted");
	CHECK(!admin_cap_ok(uids, 3, 1, 3, 8), "per-uid cap reached");
	CHECK(admin_cap_ok(uids, 5, 2, 3, 8), "under the cap");
	CHECK(!admin_cap_ok(uids, 8, 4, 3, 8), "total cap reached");
	CHECK(admin_cap_ok(uids, 7, 4, 3, 8), "one slot left");
}

/* The value of the sample line starting with prefix, or -1. */
static double
sample(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);

	while ((p = strstr(p, prefix)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

/* Every line is a comment, or "name[{labels}] value". */
static int
well_formed(const char *text)
{
	const char *line = text, *nl, *sp;

	for (; *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			return 0;
		if (line[0] == '#')
			continue;
		sp = memchr(line, ' ', (size_t)(nl - line));
		if (sp == NULL || sp == line || sp + 1 == nl)
			return 0;
	}
	return 1;
}

static void
test_render(void)
{
	struct metrics m;
	struct metrics_gauges g;
	char *text;
	int i;

	memset(&m, 0, sizeof(m));
	memset(&g, 0, sizeof(g));
	metrics_request(&m, "create_spend", "approved");
	metrics_request(&m, "create_spend", "approved");
	metrics_request(&m, "create_spend", "held");
	metrics_request(&m, "get_spend", "not_found");
	metrics_webhook(&m, "verified");
	metrics_webhook(&m, "bad_signature");
	metrics_admin(&m, "pause", 200);
	metrics_observe(&m, HIST_DINO_CREATE, 3);
	metrics_observe(&m, HIST_DINO_CREATE, 40);
	metrics_observe(&m, HIST_DINO_CREATE, 99999);
	g.uptime_s = 42;
	g.waiters = 7;
	g.paused = 1;
	if ((text = metrics_render(&m, &g)) == NULL) {
		CHECK(0, "render");
		return;
	}
	CHECK(well_formed(text), "every line well formed");
	CHECK(sample(text, "dino_broker_requests_total{tool=\"create_spend\","
	    "outcome=\"approved\"}") == 2, "requests by tool and outcome");
	CHECK(sample(text, "dino_broker_requests_total{tool=\"create_spend\","
	    "outcome=\"held\"}") == 1, "held counted apart");
	CHECK(sample(text, "dino_broker_webhooks_total{result=\"verified\"}") ==
	    1, "webhooks by result");
	CHECK(sample(text, "dino_broker_admin_requests_total{command=\"pause\","
	    "status=\"200\"}") == 1, "admin requests");
	CHECK(sample(text, "dino_broker_dino_call_duration_seconds_bucket{call="
	    "\"create_spend\",le=\"0.005\"}") == 1, "first bucket");
	CHECK(sample(text, "dino_broker_dino_call_duration_seconds_bucket{call="
	    "\"create_spend\",le=\"0.050\"}") == 2, "buckets are cumulative");
	CHECK(sample(text, "dino_broker_dino_call_duration_seconds_bucket{call="
	    "\"create_spend\",le=\"+Inf\"}") == 3, "+Inf holds every one");
	CHECK(sample(text, "dino_broker_dino_call_duration_seconds_count{call="
	    "\"create_spend\"}") == 3, "count");
	CHECK(sample(text, "dino_broker_dino_call_duration_seconds_sum{call="
	    "\"create_spend\"}") > 100.0, "sum in seconds");
	CHECK(sample(text, "dino_broker_journal_commit_duration_seconds_count")
	    == 0, "unlabelled histogram");
	CHECK(sample(text, "dino_broker_waiters") == 7, "waiters gauge");
	CHECK(sample(text, "dino_broker_paused") == 1, "paused gauge");
	CHECK(strstr(text, "# TYPE dino_broker_requests_total counter\n") !=
	    NULL, "TYPE line");
	free(text);
	/* Label tables are bounded: extra series are dropped and counted. */
	for (i = 0; i < 2 * METRICS_SERIES_MAX; i++) {
		char out[16];

		snprintf(out, sizeof(out), "o%d", i);
		metrics_request(&m, "t", out);
	}
	CHECK(m.nrequests == METRICS_SERIES_MAX && m.dropped > 0,
	    "bounded series, drops counted");
	CHECK((text = metrics_render(&m, &g)) != NULL, "full tables render");
	free(text);
}

int
main(void)
{
	test_authorize();
	test_cap();
	test_render();
	return TAP_DONE();
}
