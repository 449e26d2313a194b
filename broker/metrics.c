/*
 * Metrics: counting and the Prometheus text rendering (see metrics.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "util.h"

struct metrics metrics;

const int64_t metrics_bucket_ms[METRICS_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
};

static const char *const hist_name[HIST_N] = {
	"dino_broker_dino_call_duration_seconds",
	"dino_broker_dino_call_duration_seconds",
	"dino_broker_dino_call_duration_seconds",
	"dino_broker_journal_commit_duration_seconds",
};
static const char *const hist_label[HIST_N] = {
	"call=\"create_spend\"", "call=\"get_spend\"", "call=\"get_balance\"",
	"",
};

/* Finds or adds the series (a, b); NULL when the table is full. */
static struct metrics_series *
series(struct metrics_series *t, size_t *n, size_t max, const char *a,
    const char *b)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(t[i].a, a) == 0 && strcmp(t[i].b, b) == 0)
			return &t[i];
	if (*n == max || strlen(a) > METRICS_LABEL_MAX ||
	    strlen(b) > METRICS_LABEL_MAX)
		return NULL;
	snprintf(t[*n].a, sizeof(t[*n].a), "%s", a);
	snprintf(t[*n].b, sizeof(t[*n].b), "%s", b);
	return &t[(*n)++];
}

static void
bump(struct metrics *m, struct metrics_series *s)
{
	if (s == NULL)
		m->dropped++;
	else
		s->n++;
}

void
metrics_request(struct metrics *m, const char *tool, const char *outcome)
{
	bump(m, series(m->requests, &m->nrequests, nitems(m->requests), tool,
	    outcome));
}

void
metrics_webhook(struct metrics *m, const char *result)
{
	bump(m, series(m->webhooks, &m->nwebhooks, nitems(m->webhooks),
	    result, ""));
}

void
metrics_admin(struct metrics *m, const char *command, int status)
{
	char st[16];

	snprintf(st, sizeof(st), "%d", status);
	bump(m, series(m->admin, &m->nadmin, nitems(m->admin), command, st));
}

void
metrics_observe(struct metrics *m, enum metrics_hist h, int64_t ms)
{
	struct metrics_hist_data *d = &m->hist[h];
	size_t i;

	if (ms < 0)
		ms = 0;
	d->count++;
	d->sum_ms += ms;
	for (i = 0; i < METRICS_BUCKETS; i++)
		if (ms <= metrics_bucket_ms[i]) {
			d->bucket[i]++;
			break;
		}
}

void
metrics_dino_attempt(struct metrics *m, enum metrics_hist h, int64_t ms,
    long status)
{
	metrics_observe(m, h, ms);
	m->dino_last_ms = now_ms();
	m->dino_last_status = status;
}

/*
 * Rendering.
 */

struct out {
	char	*buf;
	size_t	 len;
	int	 full;
};

static void __attribute__((format(printf, 2, 3)))
emit(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, METRICS_TEXT_MAX - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= METRICS_TEXT_MAX - o->len)
		o->full = 1;
	else
		o->len += (size_t)n;
}

static void
head(struct out *o, const char *name, const char *type, const char *help)
{
	emit(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
scalar(struct out *o, const char *name, const char *type, const char *help,
    uint64_t v)
{
	head(o, name, type, help);
	emit(o, "%s %llu\n", name, (unsigned long long)v);
}

static void
family2(struct out *o, const char *name, const char *help, const char *la,
    const char *lb, const struct metrics_series *t, size_t n)
{
	size_t i;

	head(o, name, "counter", help);
	for (i = 0; i < n; i++) {
		if (lb != NULL)
			emit(o, "%s{%s=\"%s\",%s=\"%s\"} %llu\n", name, la,
			    t[i].a, lb, t[i].b, (unsigned long long)t[i].n);
		else
			emit(o, "%s{%s=\"%s\"} %llu\n", name, la, t[i].a,
			    (unsigned long long)t[i].n);
	}
}

static void
hist_one(struct out *o, const struct metrics_hist_data *d, const char *name,
    const char *label)
{
	const char *sep = label[0] != '\0' ? "," : "";
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < METRICS_BUCKETS; i++) {
		cum += d->bucket[i];
		emit(o, "%s_bucket{%s%sle=\"%lld.%03lld\"} %llu\n", name, label,
		    sep, (long long)(metrics_bucket_ms[i] / 1000),
		    (long long)(metrics_bucket_ms[i] % 1000),
		    (unsigned long long)cum);
	}
	emit(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, label, sep,
	    (unsigned long long)d->count);
	emit(o, "%s_sum%s%s%s %lld.%03lld\n", name, label[0] != '\0' ? "{" :
	    "", label, label[0] != '\0' ? "}" : "",
	    (long long)(d->sum_ms / 1000), (long long)(d->sum_ms % 1000));
	emit(o, "%s_count%s%s%s %llu\n", name, label[0] != '\0' ? "{" : "",
	    label, label[0] != '\0' ? "}" : "", (unsigned long long)d->count);
}

static void
histograms(struct out *o, const struct metrics *m)
{
	size_t i;

	head(o, hist_name[HIST_DINO_CREATE], "histogram", "Latency of one "
	    "call attempt to Dino, by call.");
	for (i = HIST_DINO_CREATE; i <= HIST_DINO_GET_BALANCE; i++)
		hist_one(o, &m->hist[i], hist_name[i], hist_label[i]);
	head(o, hist_name[HIST_JOURNAL_COMMIT], "histogram", "Time from a "
	    "journal append to its fdatasync, for spend intents.");
	hist_one(o, &m->hist[HIST_JOURNAL_COMMIT],
	    hist_name[HIST_JOURNAL_COMMIT], hist_label[HIST_JOURNAL_COMMIT]);
}

static void
gauges(struct out *o, const struct metrics_gauges *g)
{
	scalar(o, "dino_broker_uptime_seconds", "gauge", "Seconds since "
	    "the broker started.", (uint64_t)g->uptime_s);
	scalar(o, "dino_broker_paused", "gauge", "1 while spending is "
	    "paused.", (uint64_t)g->paused);
	scalar(o, "dino_broker_intents_open", "gauge", "Spends not decided "
	    "yet (submitting, held or pending approval).", g->intents_open);
	scalar(o, "dino_broker_spends_held", "gauge", "Spends held for a "
	    "local operator.", g->spends_held);
	scalar(o, "dino_broker_waiters", "gauge", "Agent requests the "
	    "broker holds awaiting an answer.", g->waiters);
	scalar(o, "dino_broker_frontend_connections", "gauge", "Frontend "
	    "connections on the IPC socket.", g->frontend_conns);
	scalar(o, "dino_broker_admin_connections", "gauge", "Connections "
	    "on the admin socket.", g->admin_conns);
	scalar(o, "dino_broker_journal_records_total", "counter", "Journal "
	    "records appended since start.", g->journal_records);
	scalar(o, "dino_broker_journal_syncs_total", "counter", "Journal "
	    "fdatasync calls since start.", g->journal_syncs);
	scalar(o, "dino_broker_journal_failures_total", "counter", "Journal "
	    "batches that failed to write or sync.", g->journal_failures);
	scalar(o, "dino_broker_journal_seq", "gauge", "Last durable "
	    "journal sequence number.", g->journal_seq);
}

char *
metrics_render(const struct metrics *m, const struct metrics_gauges *g)
{
	struct out o;

	memset(&o, 0, sizeof(o));
	if ((o.buf = malloc(METRICS_TEXT_MAX)) == NULL)
		return NULL;
	o.buf[0] = '\0';
	family2(&o, "dino_broker_requests_total", "Agent requests by tool "
	    "and outcome.", "tool", "outcome", m->requests, m->nrequests);
	family2(&o, "dino_broker_webhooks_total", "Webhook deliveries by "
	    "verification result.", "result", NULL, m->webhooks,
	    m->nwebhooks);
	family2(&o, "dino_broker_admin_requests_total", "Admin socket "
	    "requests by command and HTTP status.", "command", "status",
	    m->admin, m->nadmin);
	scalar(&o, "dino_broker_admin_refused_total", "counter", "Admin "
	    "connections refused (not root, not in admin_group, or over the "
	    "per-uid cap).", m->admin_refused);
	scalar(&o, "dino_broker_dino_retries_total", "counter", "Dino call "
	    "attempts that were retried.", m->dino_retries);
	scalar(&o, "dino_broker_reloads_total", "counter", "Successful "
	    "configuration reloads.", m->reloads_ok);
	scalar(&o, "dino_broker_reload_failures_total", "counter",
	    "Configuration reloads refused (the old configuration kept "
	    "running).", m->reloads_failed);
	scalar(&o, "dino_broker_metrics_dropped_total", "counter", "Counts "
	    "dropped because a label table was full.", m->dropped);
	histograms(&o, m);
	gauges(&o, g);
	if (o.full) {
		free(o.buf);
		return NULL;
	}
	return o.buf;
}
