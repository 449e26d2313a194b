/*
 * waitload: the load tool of bench-wait.sh.  It holds N agents blocked in
 * wait_spend (one connection each, one spend each), then decides spends
 * by sending signed webhooks straight to the broker's receiver, and times
 * each waiter's answer from the moment its webhook was sent.
 *
 *   waitload AGENT_SOCK WEBHOOK_SOCK SECRET IDS_FILE AMOUNT SINGLES [fanout]
 *
 * Phase 1 opens one wait_spend per id (timeout_s=300) and waits until all
 * are held (a 503 "busy" is retried).  Phase 2 decides SINGLES spends one
 * at a time: a webhook, then that waiter's answer.  Phase 3 decides all
 * the others at once.  With "fanout", every line of IDS_FILE names the same
 * spend, and one webhook wakes them all.  Prints "ready", then the
 * figures, as key=value.
 * Standard C, libsodium for the HMAC; single-threaded, epoll.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#define IDLEN		30
#define MAXW		20000
#define RBUF		4096

struct waiter {
	int	 kind;		/* 0: a waiter; 1: a webhook connection */
	char	 id[IDLEN + 1];
	int	 fd;
	int	 state;		/* 0 idle, 1 sent, 2 answered */
	double	 sent_at;	/* webhook sent, seconds */
	double	 lat;		/* answer - sent_at */
	size_t	 rlen;
	char	 rbuf[RBUF];
	int	 ok;
};

static struct waiter *ws;
static int nw, ep;
static const char *agent_sock, *hook_sock, *secret;
static long amount;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
unix_connect(const char *path, int nonblock)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	if (nonblock)
		fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Opens the wait of w; 0, or -1 to retry later. */
static int
wait_open(struct waiter *w)
{
	struct epoll_event ev;
	char req[256];
	int n;

	if ((w->fd = unix_connect(agent_sock, 0)) == -1)
		return -1;
	n = snprintf(req, sizeof(req), "GET /tools/wait_spend/%s?timeout_s=300 "
	    "HTTP/1.1\r\nHost: localhost\r\n\r\n", w->id);
	if (write(w->fd, req, (size_t)n) != n) {
		close(w->fd);
		return -1;
	}
	fcntl(w->fd, F_SETFL, O_NONBLOCK);
	w->rlen = 0;
	ev.events = EPOLLIN;
	ev.data.ptr = w;
	epoll_ctl(ep, EPOLL_CTL_ADD, w->fd, &ev);
	return 0;
}

/*
 * Reads what is there; 1 when a whole answer arrived.  One read per
 * readiness: epoll is level-triggered, so a rest is reported again, and
 * a read that would only say EAGAIN is a syscall the tool need not spend
 * on the cores it shares with the daemons it measures.
 */
static int
wait_read(struct waiter *w)
{
	ssize_t r;
	char *hdr_end, *cl;
	size_t need;

	if ((r = read(w->fd, w->rbuf + w->rlen,
	    sizeof(w->rbuf) - 1 - w->rlen)) > 0)
		w->rlen += (size_t)r;
	w->rbuf[w->rlen] = '\0';
	if ((hdr_end = strstr(w->rbuf, "\r\n\r\n")) == NULL)
		return r == 0 ? -1 : 0;
	if ((cl = strcasestr(w->rbuf, "Content-Length:")) == NULL)
		return -1;
	need = (size_t)(hdr_end + 4 - w->rbuf) + strtoul(cl + 15, NULL, 10);
	return w->rlen >= need ? 1 : (r == 0 ? -1 : 0);
}

/* close(2) also leaves the epoll set: the fd is never duplicated. */
static void
wait_close(struct waiter *w)
{
	close(w->fd);
	w->fd = -1;
}

/* Phase 1: every waiter held.  A held one answers nothing for 300 s. */
static int
open_all(void)
{
	struct epoll_event evs[256];
	int i, n, k, opened = 0, retries = 0;
	double quiet;

	for (i = 0; i < nw; i++) {
		while (wait_open(&ws[i]) == -1) {
			retries++;
			usleep(1000);
		}
		opened++;
		/* An early answer (503 busy): reopen it. */
		if (i % 500 == 499 || i == nw - 1) {
			quiet = now() + 0.3;
			while (now() < quiet) {
				n = epoll_wait(ep, evs, 256, 50);
				for (k = 0; k < n; k++) {
					struct waiter *w = evs[k].data.ptr;

					if (wait_read(w) == 0)
						continue;
					retries++;
					wait_close(w);
					while (wait_open(w) == -1)
						usleep(1000);
				}
			}
		}
	}
	printf("opened=%d retries=%d\n", opened, retries);
	return 0;
}

static int
webhook_send(int fd, struct waiter *w, int seq)
{
	char body[1024], req[2048], hex[crypto_auth_hmacsha256_BYTES * 2 + 1];
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	char evt[40], tbuf[24];
	long t = (long)time(NULL);
	int blen, n;

	snprintf(evt, sizeof(evt), "evt_bench%017d", seq);
	blen = snprintf(body, sizeof(body), "{\"id\":\"%s\",\"type\":"
	    "\"spend_request.approved\",\"occurred_at\":"
	    "\"2099-01-01T00:00:00.000Z\",\"request_id\":\"bench\",\"data\":"
	    "{\"spend\":{\"id\":\"%s\",\"status\":\"approved\","
	    "\"decision_reason\":\"bench\",\"amount_cents\":%ld,\"currency\":"
	    "\"usd\",\"merchant_name\":\"AWS\",\"decided_at\":"
	    "\"2099-01-01T00:00:00.000Z\",\"updated_at\":"
	    "\"2099-01-01T00:00:00.000Z\"}}}", evt, w->id, amount);
	snprintf(tbuf, sizeof(tbuf), "%ld.", t);
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret,
	    strlen(secret));
	crypto_auth_hmacsha256_update(&st, (unsigned char *)tbuf, strlen(tbuf));
	crypto_auth_hmacsha256_update(&st, (unsigned char *)body,
	    (unsigned long long)blen);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	n = snprintf(req, sizeof(req), "POST /webhooks/dino HTTP/1.1\r\n"
	    "Host: localhost\r\nContent-Type: application/json\r\n"
	    "Dino-Event-Id: %s\r\nDino-Event-Type: spend_request.approved\r\n"
	    "Dino-Delivery-Attempt: 1\r\nDino-Signature: t=%ld,v1=%s\r\n"
	    "Content-Length: %d\r\n\r\n%s", evt, t, hex, blen, body);
	w->sent_at = now();
	w->state = 1;
	return write(fd, req, (size_t)n) == n ? 0 : -1;
}

/* Drains webhook answers on fd without blocking (they are short). */
static void
hook_drain(int fd)
{
	char buf[65536];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static void
on_answer(struct waiter *w, double t)
{
	w->lat = t - w->sent_at;
	w->ok = strstr(w->rbuf, "\"approved\"") != NULL;
	w->state = 2;
	wait_close(w);
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(const char *name, double *v, int n)
{
	if (n == 0)
		return;
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	printf("%s_n=%d %s_p50_ms=%.3f %s_p90_ms=%.3f %s_p99_ms=%.3f "
	    "%s_max_ms=%.3f\n", name, n, name, v[n / 2] * 1e3, name,
	    v[(int)(n * 0.9)] * 1e3, name, v[(int)(n * 0.99)] * 1e3, name,
	    v[n - 1] * 1e3);
}

/* Phase 2: one decision at a time. */
static int
singles(int count, double *lat)
{
	struct epoll_event evs[16];
	int i, n, k, hfd, bad = 0;

	if ((hfd = unix_connect(hook_sock, 0)) == -1)
		return -1;
	for (i = 0; i < count; i++) {
		struct waiter *w = &ws[i];

		if (webhook_send(hfd, w, i) == -1)
			return -1;
		while (w->state != 2) {
			n = epoll_wait(ep, evs, 16, 5000);
			if (n == 0)
				return -1;
			for (k = 0; k < n; k++) {
				struct waiter *x = evs[k].data.ptr;

				if (wait_read(x) != 0)
					on_answer(x, now());
			}
		}
		bad += !w->ok;
		lat[i] = w->lat;
		hook_drain(hfd);
	}
	close(hfd);
	printf("singles_not_approved=%d\n", bad);
	return 0;
}

/*
 * Phase 3: all the others decided together.  Deliveries go out over
 * HOOK_CONNS connections at once, each sending its next webhook as soon as
 * the broker answered the last (as Dino's deliveries would), while the
 * waiters' answers are read from the same loop.
 */
#define HOOK_CONNS	32

struct hookconn {
	int	 kind;		/* 1 */
	int	 fd;
	size_t	 rlen;
	char	 rbuf[RBUF];
};

static int next_hook;

static void
hook_next(struct hookconn *h)
{
	if (next_hook < nw) {
		(void)webhook_send(h->fd, &ws[next_hook], next_hook);
		next_hook++;
	}
}

/* Counts whole "HTTP/1.1 200" answers in what arrived; sends as many. */
static void
hook_read(struct hookconn *h)
{
	char *p;
	ssize_t r;

	/* One recv per readiness, as wait_read(). */
	if ((r = recv(h->fd, h->rbuf + h->rlen, sizeof(h->rbuf) - 1 -
	    h->rlen, MSG_DONTWAIT)) > 0)
		h->rlen += (size_t)r;
	h->rbuf[h->rlen] = '\0';
	while ((p = strstr(h->rbuf, "\r\n\r\n")) != NULL) {
		size_t used = (size_t)(p + 4 - h->rbuf);

		memmove(h->rbuf, h->rbuf + used, h->rlen - used + 1);
		h->rlen -= used;
		hook_next(h);
	}
}

static int
together(int from, double *lat, double *span)
{
	static struct hookconn hc[HOOK_CONNS];
	struct epoll_event evs[512], ev;
	int i, n, k, left = nw - from, bad = 0;
	double t0, tend = 0;

	next_hook = from;
	t0 = now();
	for (i = 0; i < HOOK_CONNS; i++) {
		hc[i].kind = 1;
		if ((hc[i].fd = unix_connect(hook_sock, 0)) == -1)
			return -1;
		ev.events = EPOLLIN;
		ev.data.ptr = &hc[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, hc[i].fd, &ev);
		hook_next(&hc[i]);
	}
	while (left > 0) {
		if ((n = epoll_wait(ep, evs, 512, 5000)) == 0)
			break;
		for (k = 0; k < n; k++) {
			struct waiter *x = evs[k].data.ptr;

			if (x->kind == 1) {
				hook_read(evs[k].data.ptr);
				continue;
			}
			if (wait_read(x) == 0)
				continue;
			on_answer(x, now());
			tend = now();
			lat[nw - from - left] = x->lat;
			bad += !x->ok;
			left--;
		}
	}
	*span = tend - t0;
	printf("together_unanswered=%d together_not_approved=%d\n", left, bad);
	return nw - from - left;
}

/*
 * Fan-out: every waiter waits on the same spend; one webhook decides it
 * and each answer is timed from that webhook's sending.
 */
static int
fanout(double *lat, double *span)
{
	struct epoll_event evs[512];
	int i, n, k, hfd, left = nw, bad = 0;
	double t0, tend = 0;

	if ((hfd = unix_connect(hook_sock, 0)) == -1 ||
	    webhook_send(hfd, &ws[0], 0) == -1)
		return -1;
	t0 = ws[0].sent_at;
	while (left > 0) {
		if ((n = epoll_wait(ep, evs, 512, 5000)) == 0)
			break;
		for (k = 0; k < n; k++) {
			struct waiter *x = evs[k].data.ptr;

			if (wait_read(x) == 0)
				continue;
			x->sent_at = t0;
			on_answer(x, now());
			tend = now();
			lat[nw - left] = x->lat;
			bad += !x->ok;
			left--;
		}
	}
	close(hfd);
	*span = tend - t0;
	for (i = 0; i < nw; i++)
		if (ws[i].state != 2)
			bad++;
	printf("fanout_unanswered=%d fanout_bad=%d\n", left, bad);
	return nw - left;
}

static int
load_ids(const char *path)
{
	FILE *f;
	char line[128];

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (nw < MAXW && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strlen(line) != IDLEN)
			continue;
		memcpy(ws[nw].id, line, IDLEN + 1);
		ws[nw].fd = -1;
		nw++;
	}
	fclose(f);
	return 0;
}

int
main(int argc, char **argv)
{
	struct rlimit rl = { MAXW + 64, MAXW + 64 };
	double *lat, span = 0;
	int nsingle, got;
	char go[16];

	if ((argc != 7 && argc != 8) || sodium_init() < 0) {
		fprintf(stderr, "usage: waitload AGENT_SOCK WEBHOOK_SOCK SECRET "
		    "IDS AMOUNT SINGLES\n");
		return 2;
	}
	agent_sock = argv[1];
	hook_sock = argv[2];
	secret = argv[3];
	amount = strtol(argv[5], NULL, 10);
	nsingle = atoi(argv[6]);
	setrlimit(RLIMIT_NOFILE, &rl);
	if ((ws = calloc(MAXW, sizeof(*ws))) == NULL ||
	    (lat = calloc(MAXW, sizeof(*lat))) == NULL ||
	    load_ids(argv[4]) == -1 || (ep = epoll_create1(0)) == -1)
		return 1;
	if (nsingle > nw)
		nsingle = nw;
	open_all();
	/* The harness samples RSS now, then says go. */
	printf("ready waiters=%d\n", nw);
	fflush(stdout);
	if (fgets(go, sizeof(go), stdin) == NULL)
		return 1;
	if (argc == 8 && strcmp(argv[7], "fanout") == 0) {
		got = fanout(lat, &span);
		report("fanout", lat, got);
		printf("fanout_span_ms=%.3f\n", span * 1e3);
		fflush(stdout);
		return 0;
	}
	if (singles(nsingle, lat) == -1) {
		printf("singles_failed=1\n");
		return 1;
	}
	report("single", lat, nsingle);
	got = together(nsingle, lat, &span);
	report("together", lat, got);
	printf("together_span_ms=%.3f\n", span * 1e3);
	fflush(stdout);
	return 0;
}
