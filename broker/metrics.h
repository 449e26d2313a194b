/*
 * The broker's metrics, in the Prometheus text exposition format (version
 * 0.0.4), served by `dinoctl metrics` (GET /v1/metrics on the admin socket)
 * and, with metrics_listen, on a loopback or UNIX HTTP endpoint.
 *
 * Counters are plain integers touched only on the loop thread: a request
 * costs a short scan of a small table, never a lock or an allocation.
 * Label values come from fixed sets (tool names, outcomes the broker
 * itself chose, result names), never from an agent's bytes.
 */
#ifndef DINO_BROKER_METRICS_H
#define DINO_BROKER_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "dinolimits.h"

enum metrics_hist {
	HIST_DINO_CREATE,	/* one attempt of a create, seconds */
	HIST_DINO_GET_SPEND,
	HIST_DINO_GET_BALANCE,
	HIST_JOURNAL_COMMIT,	/* append to durable: write + fdatasync */
	HIST_N
};

/* The bucket upper bounds, in milliseconds (+Inf is implied). */
extern const int64_t metrics_bucket_ms[METRICS_BUCKETS];

struct metrics_hist_data {
	uint64_t	 bucket[METRICS_BUCKETS];	/* not cumulative */
	uint64_t	 count;
	int64_t		 sum_ms;
};

struct metrics_series {
	char		 a[METRICS_LABEL_MAX + 1];
	char		 b[METRICS_LABEL_MAX + 1];
	uint64_t	 n;
};

#define METRICS_SERIES_MAX	(METRICS_TOOLS_MAX * METRICS_OUTCOMES_MAX)

struct metrics {
	struct metrics_series	 requests[METRICS_SERIES_MAX];	/* tool, outcome */
	size_t			 nrequests;
	struct metrics_series	 webhooks[METRICS_OUTCOMES_MAX];	/* result */
	size_t			 nwebhooks;
	struct metrics_series	 admin[METRICS_SERIES_MAX];	/* command, status */
	size_t			 nadmin;
	struct metrics_hist_data hist[HIST_N];
	uint64_t		 dino_retries;
	uint64_t		 admin_refused;
	uint64_t		 reloads_ok, reloads_failed;
	uint64_t		 dropped;	/* series beyond the tables */
	/* The last Dino call attempt, for `dinoctl status`. */
	int64_t			 dino_last_ms;	/* wall clock, 0: none yet */
	long			 dino_last_status;	/* 0: no HTTP answer */
};

/* The gauges, read from the broker when rendering. */
struct metrics_gauges {
	int64_t		 uptime_s;
	int		 paused;
	uint64_t	 intents_open;
	uint64_t	 spends_held;
	uint64_t	 waiters;	/* requests the broker holds */
	uint64_t	 frontend_conns;
	uint64_t	 admin_conns;
	uint64_t	 journal_records, journal_syncs, journal_failures;
	uint64_t	 journal_seq;
};

/* The one instance, for the loop thread. */
extern struct metrics metrics;

void	metrics_request(struct metrics *m, const char *tool,
	    const char *outcome);
void	metrics_webhook(struct metrics *m, const char *result);
void	metrics_admin(struct metrics *m, const char *command, int status);
void	metrics_observe(struct metrics *m, enum metrics_hist h, int64_t ms);
/* One Dino call attempt: h is HIST_DINO_*, status 0 without an answer. */
void	metrics_dino_attempt(struct metrics *m, enum metrics_hist h,
	    int64_t ms, long status);

/*
 * Renders everything into a malloc'd NUL-terminated string (the caller
 * frees it), or NULL when it would exceed METRICS_TEXT_MAX.
 */
char	*metrics_render(const struct metrics *m, const struct metrics_gauges *g);

#endif
