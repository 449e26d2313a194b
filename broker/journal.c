/*
 * The journal's writer: opening (verify, replay, recover), group commit,
 * rotation, retention, the head file, and the way back from a failed
 * write (see journal.h for the format and the guarantees).
 *
 * A record's fields are printed when it is appended; its line (seq, ts,
 * type, fields, prev, hash) only when its batch is written, so that a
 * failed batch can be dropped and its survivors renumbered without a gap:
 * seq and prev always describe what is on disk.  The in-memory position
 * (seq, hash, durable offset) moves only after a successful fdatasync.
 *
 * Once journal_start_writer() was called, a batch's write(2) and
 * fdatasync(2) run on a writer thread while the loop goes on serving;
 * everything appended meanwhile becomes the next batch, written as soon as
 * the thread reports back through an eventfd.  One batch is in flight at a
 * time, and every other file operation (rotation, repair, the head file)
 * happens on the loop while the thread is idle.
 */
#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>

#include <sys/eventfd.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <sodium.h>

#include "jscan.h"
#include "journal.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define SEG_OPEN_FLAGS	JOURNAL_SEG_OPEN_FLAGS
#define HEAD_OPEN_FLAGS	JOURNAL_HEAD_OPEN_FLAGS
/* The batch buffer is kept between batches unless it grew beyond this. */
#define JOURNAL_BATCH_KEEP	(1024 * 1024)
/* Room for a line's members other than fields: seq, ts, type, prev. */
#define JOURNAL_LINE_ROOM	512

struct jpending {
	TAILQ_ENTRY(jpending)	 entry;
	int64_t			 ts_ms;
	const char		*type;
	journal_cb		 cb;
	void			*arg;
	uint64_t		 seq;	/* set when written */
	size_t			 flen;
	char			 fields[];	/* printed, NUL-terminated */
};
TAILQ_HEAD(jpending_list, jpending);

/* The writer thread and its one job; mu guards everything below it. */
struct jwriter {
	pthread_t		 th;
	int			 running;
	int			 efd;		/* eventfd: "a job is done" */
	struct event		*ev;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 job;		/* handed over, not yet done */
	int			 quit;
	int			 fd;
	int			 sync;
	const char		*buf;
	size_t			 len;
	int			 err;		/* 0, or the errno it failed with */
};

struct journal {
	struct event_base	*base;
	struct journal_options	 o;
	char			 dir[BROKER_PATH_MAX + 1];
	int			 dirfd;
	int			 fd;		/* the open segment */
	char			 seg[JOURNAL_NAME_MAX];
	off_t			 seg_size;	/* durable bytes in it */
	int			 seg_dirty;	/* created, dir not synced */
	struct jscan_seg	*closed;	/* closed segments, oldest first */
	size_t			 nclosed;

	uint64_t		 seq;		/* last durable record */
	unsigned char		 hash[JOURNAL_HASH_LEN];
	int64_t			 last_ts_ms;
	uint64_t		 head_seq;	/* what head.json says */

	int			 broken;	/* writes fail: spends refused */
	struct jpending_list	 pending;
	size_t			 npending;
	struct event		*ev_flush;
	struct event		*ev_head;
	struct event		*ev_retry;
	struct journal_stats	 stats;

	struct jwriter		 w;
	int			 busy;		/* a batch is with the thread */
	struct jpending_list	 inflight;
	unsigned char		 inflight_hash[JOURNAL_HASH_LEN];
	char			*inflight_buf;	/* bbuf, while in flight */
	size_t			 inflight_len;

	struct json_kept	 pbuf;		/* journal_append()'s */
	char			*bbuf;		/* batch_build()'s, kept */
	size_t			 bbuf_cap;
};

static const unsigned char zero_hash[JOURNAL_HASH_LEN];

/*
 * Serialisation.
 */

static char *
record_print(cJSON *o)
{
	char *s;

	if ((s = cJSON_PrintUnformatted(o)) == NULL)
		fatalx("%s: cJSON_PrintUnformatted", __func__);
	return s;
}

/* Makes room for need more bytes in the batch buffer. */
static void
batch_room(struct journal *j, size_t len, size_t need)
{
	if (len + need <= j->bbuf_cap)
		return;
	j->bbuf_cap = (len + need) * 2;
	if ((j->bbuf = realloc(j->bbuf, j->bbuf_cap)) == NULL)
		fatal("%s: realloc", __func__);
}

/*
 * Appends the line for record p at seq after prev (prev_hex, the hex of
 * the hash before) to the batch buffer (*len bytes used), newline
 * included; its hash goes to hash and its hex to hex.  The canonical bytes
 * are the object printed without its hash member; the line is the same
 * object with the hash appended last, so it equals the canonical bytes
 * minus "}" plus ',"hash":"..."}'.  The object is printed by cJSON from a
 * tree on the stack, its fields added raw as they were printed when the
 * record was appended.
 */
static void
record_line(struct journal *j, const struct jpending *p, uint64_t seq,
    const char *prev_hex, unsigned char *hash, char *hex, size_t *len)
{
	struct json_stack st;
	char ts[32], *line;
	cJSON *o;
	size_t clen, room;

	fmt_iso_ms(ts, p->ts_ms);
	o = json_stack_init(&st);
	json_stack_int(&st, o, "seq", (int64_t)seq);
	json_stack_str(&st, o, "ts", ts);
	json_stack_str(&st, o, "type", p->type);
	json_stack_raw(&st, o, "fields", p->fields);
	json_stack_str(&st, o, "prev", prev_hex);
	batch_room(j, *len, p->flen + JOURNAL_LINE_ROOM);
	for (;;) {
		room = j->bbuf_cap - *len;
		if (room > INT_MAX)
			room = INT_MAX;
		if (cJSON_PrintPreallocated(o, j->bbuf + *len, (int)room, 0))
			break;
		if (room == INT_MAX)
			fatalx("%s: record too large", __func__);
		batch_room(j, *len, room * 2);
	}
	line = j->bbuf + *len;
	clen = strlen(line);
	if (clen < 2 || line[clen - 1] != '}')
		fatalx("%s: cJSON printed an unexpected layout", __func__);
	crypto_generichash(hash, JOURNAL_HASH_LEN, (unsigned char *)line,
	    clen, NULL, 0);
	jhex(hex, hash);
	/*
	 * The hash member appended to the canonical bytes, as cJSON would
	 * print it last, but without printing the object a second time.
	 */
	batch_room(j, *len, clen + JOURNAL_HASH_MEMBER_LEN + 1);
	line = j->bbuf + *len + clen - 1;
	memcpy(line, ",\"hash\":\"", sizeof(",\"hash\":\"") - 1);
	line += sizeof(",\"hash\":\"") - 1;
	memcpy(line, hex, JOURNAL_HEX_LEN);
	memcpy(line + JOURNAL_HEX_LEN, "\"}\n", 3);
	*len += clen - 1 + JOURNAL_HASH_MEMBER_LEN + 1;
}

/*
 * Files.
 */

static int
fsync_dir(struct journal *j)
{
	if (!j->o.fsync)
		return 0;
	return fsync(j->dirfd);
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t r;

	while (len > 0) {
		if ((r = write(fd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += r;
		len -= (size_t)r;
	}
	return 0;
}

/* head.json: written to a temporary name, synced, renamed, dir synced. */
static int
head_write(struct journal *j)
{
	char hex[JOURNAL_HEX_LEN + 1], *s;
	cJSON *o;
	int fd, r;

	if (j->head_seq == j->seq && j->seq != 0)
		return 0;
	jhex(hex, j->hash);
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(o, "seq", (double)j->seq) == NULL ||
	    cJSON_AddStringToObject(o, "hash", hex) == NULL ||
	    cJSON_AddStringToObject(o, "segment", j->seg) == NULL)
		fatalx("%s: cJSON", __func__);
	s = record_print(o);
	cJSON_Delete(o);
	if ((fd = openat(j->dirfd, JHEAD_TMP, HEAD_OPEN_FLAGS, 0600)) == -1) {
		free(s);
		return -1;
	}
	r = write_all(fd, s, strlen(s));
	free(s);
	if (r == 0 && j->o.fsync)
		r = fdatasync(fd);
	close(fd);
	if (r == 0)
		r = renameat(j->dirfd, JHEAD_TMP, j->dirfd, JHEAD_NAME);
	if (r == 0)
		r = fsync_dir(j);
	if (r == 0)
		j->head_seq = j->seq;
	return r;
}

static int
segment_open(struct journal *j, uint64_t first_seq)
{
	int fd;

	jseg_name(j->seg, sizeof(j->seg), first_seq);
	if ((fd = openat(j->dirfd, j->seg, SEG_OPEN_FLAGS, 0600)) == -1)
		return -1;
	j->fd = fd;
	j->seg_dirty = 1;
	return 0;
}

static void
closed_add(struct journal *j, uint64_t first, uint64_t last, int64_t ts)
{
	if ((j->closed = reallocarray(j->closed, j->nclosed + 1,
	    sizeof(*j->closed))) == NULL)
		fatal("%s: reallocarray", __func__);
	j->closed[j->nclosed].first_seq = first;
	j->closed[j->nclosed].last_seq = last;
	j->closed[j->nclosed].last_ts_ms = ts;
	j->nclosed++;
}

static int	retention_run(struct journal *j);

/*
 * Starts a new segment at the next seq.  The old one is already synced
 * (every batch is); the new file's name is made durable with the
 * directory, and the head follows so that it names the new segment.
 */
static int
rotate(struct journal *j)
{
	char old[JOURNAL_NAME_MAX];
	uint64_t first;
	int oldfd = j->fd;

	snprintf(old, sizeof(old), "%s", j->seg);
	if (segment_open(j, j->seq + 1) == -1) {
		snprintf(j->seg, sizeof(j->seg), "%s", old);
		return -1;
	}
	first = strtoull(old + strlen("journal-"), NULL, 10);
	closed_add(j, first, j->seq, j->last_ts_ms);
	close(oldfd);
	j->seg_size = 0;
	log_info("event=journal_rotated closed=%s segment=%s", old, j->seg);
	if (fsync_dir(j) == 0)
		j->seg_dirty = 0;
	j->head_seq = 0;
	if (head_write(j) == -1)
		log_warnx("event=journal_head_failed errno=\"%s\"",
		    strerror(errno));
	(void)retention_run(j);
	return 0;
}

/*
 * Retention: a closed segment goes once its last record is older than
 * retention_days and no open intent needs it for replay.
 */
static int
retention_run(struct journal *j)
{
	char name[JOURNAL_NAME_MAX];
	int64_t cutoff;
	uint64_t pin;
	size_t n = 0;
	cJSON *o;

	if (j->o.retention_days <= 0 || j->nclosed == 0)
		return 0;
	cutoff = now_ms() - (int64_t)j->o.retention_days * 86400000LL;
	pin = j->o.pin != NULL ? j->o.pin(j->o.pin_arg) : 0;
	while (n < j->nclosed && j->closed[n].last_ts_ms < cutoff &&
	    (pin == 0 || j->closed[n].last_seq < pin)) {
		jseg_name(name, sizeof(name), j->closed[n].first_seq);
		if (unlinkat(j->dirfd, name, 0) == -1 && errno != ENOENT) {
			log_warnx("event=journal_retention_failed segment=%s "
			    "errno=\"%s\"", name, strerror(errno));
			break;
		}
		log_info("event=journal_segment_removed segment=%s "
		    "last_seq=%" PRIu64, name, j->closed[n].last_seq);
		n++;
	}
	if (n == 0)
		return 0;
	/* The chain now starts later: say where, and why, in the chain. */
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(o, "segments", (double)n) == NULL ||
	    cJSON_AddNumberToObject(o, "through_seq",
	    (double)j->closed[n - 1].last_seq) == NULL ||
	    cJSON_AddNumberToObject(o, "retention_days",
	    j->o.retention_days) == NULL)
		fatalx("%s: cJSON", __func__);
	(void)journal_append(j, JREC_RETENTION, o, NULL, NULL);
	memmove(j->closed, j->closed + n, (j->nclosed - n) *
	    sizeof(*j->closed));
	j->nclosed -= n;
	return (int)n;
}

/*
 * Group commit.
 */

static void
pending_free(struct jpending *p)
{
	free(p);
}

/*
 * The way back after a failure: cut the segment to its last durable byte
 * (a partial write leaves a torn record) and make that durable.  Until
 * this works, every batch fails.
 */
static int
repair(struct journal *j)
{
	if (!j->broken)
		return 0;
	if (j->fd == -1 && segment_open(j, j->seq + 1) == -1)
		return -1;
	if (ftruncate(j->fd, j->seg_size) == -1 ||
	    (j->o.fsync && fdatasync(j->fd) == -1))
		return -1;
	if (j->seg_dirty && fsync_dir(j) == -1)
		return -1;
	j->seg_dirty = 0;
	j->broken = 0;
	log_info("event=journal_resumed seq=%" PRIu64, j->seq);
	return 0;
}

/*
 * Serialises the batch after the durable position into the batch buffer,
 * kept for the next batch: one batch at a time is built or in flight.
 */
static char *
batch_build(struct journal *j, struct jpending_list *batch, size_t *len,
    unsigned char *hash)
{
	char hex[2][JOURNAL_HEX_LEN + 1];
	struct jpending *p;
	uint64_t seq = j->seq;
	int cur = 0;

	if (j->bbuf_cap > JOURNAL_BATCH_KEEP) {
		free(j->bbuf);
		j->bbuf = NULL;
		j->bbuf_cap = 0;
	}
	*len = 0;
	memcpy(hash, j->hash, JOURNAL_HASH_LEN);
	jhex(hex[cur], hash);
	/* A record's hash is the next one's prev: its hex is reused. */
	TAILQ_FOREACH(p, batch, entry) {
		p->seq = ++seq;
		record_line(j, p, p->seq, hex[cur], hash, hex[!cur], len);
		cur = !cur;
	}
	batch_room(j, *len, 1);
	return j->bbuf;
}

/* Writes and syncs the batch; on failure the segment is cut back. */
static int
batch_write(struct journal *j, const char *buf, size_t len)
{
	int saved;

	j->stats.writes++;
	if (write_all(j->fd, buf, len) == -1 ||
	    (j->o.fsync && fdatasync(j->fd) == -1) ||
	    (j->seg_dirty && fsync_dir(j) == -1)) {
		saved = errno;
		/* Best effort now; repair() insists before the next batch. */
		if (ftruncate(j->fd, j->seg_size) == -1)
			log_debug("event=journal_truncate_failed");
		errno = saved;
		return -1;
	}
	if (j->o.fsync)
		j->stats.syncs++;
	j->seg_dirty = 0;
	j->seg_size += (off_t)len;
	return 0;
}

static void
head_schedule(struct journal *j)
{
	struct timeval tv = { 0, JOURNAL_HEAD_INTERVAL_MS * 1000 };

	if (!evtimer_pending(j->ev_head, NULL))
		evtimer_add(j->ev_head, &tv);
}

static void
retry_schedule(struct journal *j)
{
	struct timeval tv = { JOURNAL_RETRY_MS / 1000,
	    (JOURNAL_RETRY_MS % 1000) * 1000 };

	if (!evtimer_pending(j->ev_retry, NULL))
		evtimer_add(j->ev_retry, &tv);
}

/*
 * A failed batch: records that wait for an answer (intents) fail, so that
 * their spends are refused and never sent; the rest stay queued for the
 * next attempt.
 */
static void
batch_failed(struct journal *j, struct jpending_list *batch, int err)
{
	struct jpending *p, *next;
	struct jpending_list failed;

	if (!j->broken)
		log_err("event=journal_write_failed segment=%s seq=%" PRIu64
		    " errno=\"%s\" note=\"new spends are refused until the "
		    "journal can be written\"", j->seg, j->seq, strerror(err));
	j->broken = 1;
	j->stats.failures++;
	TAILQ_INIT(&failed);
	for (p = TAILQ_FIRST(batch); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->cb != NULL) {
			TAILQ_REMOVE(batch, p, entry);
			TAILQ_INSERT_TAIL(&failed, p, entry);
		}
	}
	/* The survivors go back in front of anything queued meanwhile. */
	TAILQ_CONCAT(batch, &j->pending, entry);
	TAILQ_CONCAT(&j->pending, batch, entry);
	j->npending = 0;
	TAILQ_FOREACH(p, &j->pending, entry)
		j->npending++;
	retry_schedule(j);
	while ((p = TAILQ_FIRST(&failed)) != NULL) {
		TAILQ_REMOVE(&failed, p, entry);
		p->cb(0, 0, p->arg);
		pending_free(p);
	}
}

static void
batch_done(struct journal *j, struct jpending_list *batch,
    const unsigned char *hash)
{
	struct jpending *p;

	j->seq = TAILQ_LAST(batch, jpending_list)->seq;
	memcpy(j->hash, hash, JOURNAL_HASH_LEN);
	j->last_ts_ms = TAILQ_LAST(batch, jpending_list)->ts_ms;
	j->stats.seq = j->seq;
	head_schedule(j);
	while ((p = TAILQ_FIRST(batch)) != NULL) {
		TAILQ_REMOVE(batch, p, entry);
		if (p->cb != NULL)
			p->cb(1, p->seq, p->arg);
		pending_free(p);
	}
}

/* Takes the queue as a batch and serialises it; NULL if it failed. */
static char *
batch_take(struct journal *j, struct jpending_list *batch, size_t *len,
    unsigned char *hash)
{
	TAILQ_INIT(batch);
	TAILQ_CONCAT(batch, &j->pending, entry);
	j->npending = 0;
	if (repair(j) == -1 || (j->seg_size >= j->o.segment_bytes &&
	    rotate(j) == -1)) {
		batch_failed(j, batch, errno);
		return NULL;
	}
	return batch_build(j, batch, len, hash);
}

static void	writer_submit(struct journal *j, char *buf, size_t len);
static void	writer_wait(struct journal *j);

int
journal_flush(struct journal *j)
{
	struct jpending_list batch;
	unsigned char hash[JOURNAL_HASH_LEN];
	char *buf;
	size_t len;
	int r;

	writer_wait(j);
	if (TAILQ_EMPTY(&j->pending))
		return 0;
	if ((buf = batch_take(j, &batch, &len, hash)) == NULL)
		return -1;
	r = batch_write(j, buf, len);
	if (r == -1) {
		batch_failed(j, &batch, errno);
		return -1;
	}
	batch_done(j, &batch, hash);
	return 0;
}

/* The loop's flush: hands the batch to the thread when there is one. */
static void
journal_kick(struct journal *j)
{
	if (!j->w.running) {
		(void)journal_flush(j);
		return;
	}
	if (j->busy || TAILQ_EMPTY(&j->pending))
		return;
	if ((j->inflight_buf = batch_take(j, &j->inflight, &j->inflight_len,
	    j->inflight_hash)) == NULL)
		return;
	writer_submit(j, j->inflight_buf, j->inflight_len);
}

/*
 * The writer thread.
 */

static void *
writer_main(void *arg)
{
	struct jwriter *w = arg;
	uint64_t one = 1;
	int err;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->job && !w->quit)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit)
			break;
		pthread_mutex_unlock(&w->mu);
		err = 0;
		if (write_all(w->fd, w->buf, w->len) == -1 ||
		    (w->sync && fdatasync(w->fd) == -1))
			err = errno;
		/*
		 * Wake-ups after the unlock: a woken thread never finds the
		 * mutex still held and sleeps on it again (two futex calls
		 * more per batch).
		 */
		pthread_mutex_lock(&w->mu);
		w->err = err;
		w->job = 0;
		pthread_mutex_unlock(&w->mu);
		pthread_cond_broadcast(&w->cv);
		if (write(w->efd, &one, sizeof(one)) != sizeof(one))
			log_debug("event=journal_wakeup_failed");
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* The batch in flight came back: settle it, then send the next one. */
static void
writer_collect(struct journal *j)
{
	int err, saved;

	pthread_mutex_lock(&j->w.mu);
	err = j->w.err;
	pthread_mutex_unlock(&j->w.mu);
	j->busy = 0;
	j->inflight_buf = NULL;
	j->stats.writes++;
	if (err == 0 && j->seg_dirty && fsync_dir(j) == -1)
		err = errno;
	if (err != 0) {
		saved = err;
		if (ftruncate(j->fd, j->seg_size) == -1)
			log_debug("event=journal_truncate_failed");
		batch_failed(j, &j->inflight, saved);
		return;
	}
	if (j->o.fsync)
		j->stats.syncs++;
	j->seg_dirty = 0;
	j->seg_size += (off_t)j->inflight_len;
	batch_done(j, &j->inflight, j->inflight_hash);
}

static void
writer_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct journal *j = arg;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != sizeof(n) || !j->busy)
		return;
	writer_collect(j);
	journal_kick(j);
}

static void
writer_submit(struct journal *j, char *buf, size_t len)
{
	pthread_mutex_lock(&j->w.mu);
	j->w.fd = j->fd;
	j->w.sync = j->o.fsync;
	j->w.buf = buf;
	j->w.len = len;
	j->w.err = 0;
	j->w.job = 1;
	j->busy = 1;
	pthread_mutex_unlock(&j->w.mu);
	pthread_cond_broadcast(&j->w.cv);
}

/* Blocks until the batch in flight is settled (stop, journal_flush). */
static void
writer_wait(struct journal *j)
{
	uint64_t n;

	if (!j->busy)
		return;
	pthread_mutex_lock(&j->w.mu);
	while (j->w.job)
		pthread_cond_wait(&j->w.cv, &j->w.mu);
	pthread_mutex_unlock(&j->w.mu);
	if (read(j->w.efd, &n, sizeof(n)) != sizeof(n))
		log_debug("event=journal_wakeup_empty");
	writer_collect(j);
}

int
journal_start_writer(struct journal *j)
{
	sigset_t all, old;
	int r;

	if (j->w.running)
		return 0;
	if ((j->w.ev = event_new(j->base, j->w.efd, EV_READ | EV_PERSIST,
	    writer_done_cb, j)) == NULL || event_add(j->w.ev, NULL) == -1)
		return -1;
	/* Signals stay with the loop's thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&j->w.th, NULL, writer_main, &j->w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		errno = r;
		return -1;
	}
	j->w.running = 1;
	return 0;
}

static void
writer_stop(struct journal *j)
{
	if (!j->w.running)
		return;
	writer_wait(j);
	pthread_mutex_lock(&j->w.mu);
	j->w.quit = 1;
	pthread_cond_broadcast(&j->w.cv);
	pthread_mutex_unlock(&j->w.mu);
	pthread_join(j->w.th, NULL);
	j->w.running = 0;
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	journal_kick(arg);
}

static void
head_cb(evutil_socket_t fd, short what, void *arg)
{
	struct journal *j = arg;

	/* The thread may be extending the segment; the head can wait. */
	if (j->busy) {
		head_schedule(j);
		return;
	}
	if (!j->broken && head_write(j) == -1)
		log_warnx("event=journal_head_failed errno=\"%s\"",
		    strerror(errno));
}

/* Queued records (outcomes) must not wait for the next spend. */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct journal *j = arg;

	if (!j->broken)
		return;
	if (j->busy)
		return;
	if (TAILQ_EMPTY(&j->pending)) {
		if (repair(j) == -1)
			retry_schedule(j);
		return;
	}
	journal_kick(j);
}

int
journal_append_copy(struct journal *j, const char *type,
    const cJSON *fields, journal_cb cb, void *arg)
{
	static const struct timeval window = { 0, JOURNAL_GROUP_WINDOW_US };
	struct jpending *p;
	const char *text = "{}";
	size_t len = 2;

	if (j->npending >= JOURNAL_PENDING_MAX) {
		log_err("event=journal_dropped type=%s reason=\"too many "
		    "records waiting\"", type);
		return -1;
	}
	if (fields != NULL) {
		len = json_print_kept(&j->pbuf, fields);
		text = j->pbuf.buf;
	}
	if ((p = malloc(sizeof(*p) + len + 1)) == NULL)
		fatal("%s: malloc", __func__);
	memset(p, 0, sizeof(*p));
	memcpy(p->fields, text, len + 1);
	p->flen = len;
	p->ts_ms = now_ms();
	p->type = type;
	p->cb = cb;
	p->arg = arg;
	TAILQ_INSERT_TAIL(&j->pending, p, entry);
	j->npending++;
	j->stats.records++;
	if (!evtimer_pending(j->ev_flush, NULL))
		evtimer_add(j->ev_flush, &window);
	return 0;
}

int
journal_append(struct journal *j, const char *type, cJSON *fields,
    journal_cb cb, void *arg)
{
	int r;

	r = journal_append_copy(j, type, fields, cb, arg);
	cJSON_Delete(fields);
	return r;
}

int
journal_broken(const struct journal *j)
{
	return j->broken;
}

int
journal_dirfd(const struct journal *j)
{
	return j->dirfd;
}

void
journal_get_stats(const struct journal *j, struct journal_stats *st)
{
	*st = j->stats;
	st->seq = j->seq;
}

/*
 * Opening.
 */

static int
open_dir(struct journal *j, char *err, size_t errlen)
{
	if (mkdir(j->dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "journal_dir %s: mkdir: %s", j->dir,
		    strerror(errno));
		return -1;
	}
	if ((j->dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		snprintf(err, errlen, "journal_dir %s: %s", j->dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Recovery.
 */

/* Opens name for writing, cuts it at off, and makes that durable. */
static int
truncate_at(struct journal *j, const char *name, off_t off)
{
	int fd, r;

	if ((fd = openat(j->dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1)
		return -1;
	r = ftruncate(fd, off);
	if (r == 0)
		r = fsync(fd);
	close(fd);
	return r;
}

/* A copy of a whole segment, name.corrupt-TIME, for the auditor. */
static int
save_copy(struct journal *j, const char *name, char *to, size_t tolen)
{
	char *buf;
	size_t len;
	int fd, r;

	snprintf(to, tolen, "%s.corrupt-%lld", name,
	    (long long)(now_ms() / 1000));
	if (jscan_read_file(j->dirfd, name, &buf, &len,
	    JOURNAL_SEGMENT_MAX * 2) == -1)
		return -1;
	if ((fd = openat(j->dirfd, to, O_WRONLY | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0600)) == -1) {
		free(buf);
		return -1;
	}
	r = write_all(fd, buf, len);
	if (r == 0)
		r = fsync(fd);
	close(fd);
	free(buf);
	return r;
}

static void
moved_add(cJSON *moved, const char *name)
{
	cJSON *v;

	if ((v = cJSON_CreateString(name)) == NULL ||
	    !cJSON_AddItemToArray(moved, v))
		fatalx("%s: cJSON", __func__);
}

/*
 * --recover for a broken chain: every segment after the bad one is moved
 * aside, the bad one is copied aside whole and cut before its first bad
 * record (removed when nothing is left of it).
 */
static int
recover_chain(struct journal *j, struct jscan *s, cJSON *moved)
{
	char name[JOURNAL_NAME_MAX], to[JOURNAL_NAME_MAX + 32];
	size_t i, bad = s->nsegs;

	for (i = 0; i < s->nsegs; i++) {
		jseg_name(name, sizeof(name), s->segs[i].first_seq);
		if (strcmp(name, s->fault.segment) == 0)
			bad = i;
	}
	if (bad == s->nsegs)
		return -1;
	for (i = s->nsegs; i > bad + 1; i--) {
		jseg_name(name, sizeof(name), s->segs[i - 1].first_seq);
		snprintf(to, sizeof(to), "%s.corrupt-%lld", name,
		    (long long)(now_ms() / 1000));
		if (renameat(j->dirfd, name, j->dirfd, to) == -1)
			return -1;
		moved_add(moved, to);
	}
	jseg_name(name, sizeof(name), s->segs[bad].first_seq);
	if (save_copy(j, name, to, sizeof(to)) == -1)
		return -1;
	moved_add(moved, to);
	s->nsegs = bad + 1;
	if (s->fault.offset > 0)
		return truncate_at(j, name, s->fault.offset);
	s->nsegs = bad;
	return unlinkat(j->dirfd, name, 0);
}

static cJSON *
recovery_fields(const char *reason, const struct journal_fault *f)
{
	cJSON *o;

	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "reason", reason) == NULL ||
	    cJSON_AddStringToObject(o, "segment", f->segment) == NULL ||
	    cJSON_AddNumberToObject(o, "seq", (double)f->seq) == NULL ||
	    cJSON_AddStringToObject(o, "why", f->why) == NULL)
		fatalx("%s: cJSON", __func__);
	return o;
}

/* A torn last record was never synced, so nobody acted on it: drop it. */
static int
trim_torn(struct journal *j, struct jscan *s, cJSON **rec)
{
	char name[JOURNAL_NAME_MAX];

	jseg_name(name, sizeof(name), s->segs[s->nsegs - 1].first_seq);
	if (truncate_at(j, name, s->fault.offset) == -1)
		return -1;
	log_warnx("event=journal_torn_tail segment=%s seq=%" PRIu64
	    " offset=%lld note=\"an unsynced record was cut off\"", name,
	    s->fault.seq, (long long)s->fault.offset);
	*rec = recovery_fields("torn_tail", &s->fault);
	return 0;
}

/*
 * A damaged journal at start: refused, unless it is only a torn last
 * record, or --recover was given.  *rec is the recovery record to append.
 */
static int
open_fault(struct journal *j, struct jscan *s, int recover, cJSON **rec,
    char *err, size_t errlen)
{
	const struct journal_fault *f = jscan_first_fault(s);
	cJSON *moved;

	if (s->fault.kind == JFAULT_IO || (!recover &&
	    (s->fault.kind != JFAULT_TORN ||
	    s->head_fault.kind != JFAULT_NONE))) {
		snprintf(err, errlen, "journal %s is damaged: %s: seq %" PRIu64
		    ": %s%s", j->dir, f->segment, f->seq, f->why,
		    f->kind == JFAULT_IO ? "" : "; refusing to start (with "
		    "--recover the records before it are kept and the rest "
		    "moved aside)");
		return -1;
	}
	if (!recover)
		return trim_torn(j, s, rec);
	*rec = recovery_fields("recover", f);
	if ((moved = cJSON_AddArrayToObject(*rec, "moved_aside")) == NULL)
		fatalx("%s: cJSON", __func__);
	if (s->fault.kind != JFAULT_NONE && recover_chain(j, s, moved) == -1) {
		snprintf(err, errlen, "journal %s: recovery failed: %s",
		    j->dir, strerror(errno));
		return -1;
	}
	log_warnx("event=journal_recovered segment=%s seq=%" PRIu64
	    " why=\"%s\" kept_through=%" PRIu64, f->segment, f->seq, f->why,
	    s->last_seq);
	return 0;
}

/* Takes over the scanned position and opens the last segment. */
static int
open_position(struct journal *j, struct jscan *s)
{
	struct stat st;
	size_t i;
	int fd;

	j->seq = s->last_seq;
	memcpy(j->hash, s->sum.records > 0 ? s->last_hash : zero_hash,
	    JOURNAL_HASH_LEN);
	for (i = 0; i + 1 < s->nsegs; i++)
		closed_add(j, s->segs[i].first_seq, s->segs[i].last_seq,
		    s->segs[i].last_ts_ms);
	if (s->nsegs == 0)
		return segment_open(j, j->seq + 1);
	jseg_name(j->seg, sizeof(j->seg), s->segs[s->nsegs - 1].first_seq);
	j->last_ts_ms = s->segs[s->nsegs - 1].last_ts_ms;
	if ((fd = openat(j->dirfd, j->seg, SEG_OPEN_FLAGS, 0600)) == -1 ||
	    fstat(fd, &st) == -1)
		return -1;
	j->fd = fd;
	j->seg_size = st.st_size;
	return 0;
}

static void
events_new(struct journal *j)
{
	if ((j->ev_flush = evtimer_new(j->base, flush_cb, j)) == NULL ||
	    (j->ev_head = evtimer_new(j->base, head_cb, j)) == NULL ||
	    (j->ev_retry = evtimer_new(j->base, retry_cb, j)) == NULL)
		fatalx("%s: evtimer_new", __func__);
}

static void
journal_free(struct journal *j)
{
	struct jpending *p;

	writer_stop(j);
	while ((p = TAILQ_FIRST(&j->pending)) != NULL) {
		TAILQ_REMOVE(&j->pending, p, entry);
		pending_free(p);
	}
	if (j->w.ev != NULL)
		event_free(j->w.ev);
	close(j->w.efd);
	pthread_mutex_destroy(&j->w.mu);
	pthread_cond_destroy(&j->w.cv);
	if (j->ev_flush != NULL)
		event_free(j->ev_flush);
	if (j->ev_head != NULL)
		event_free(j->ev_head);
	if (j->ev_retry != NULL)
		event_free(j->ev_retry);
	if (j->fd != -1)
		close(j->fd);
	if (j->dirfd != -1)
		close(j->dirfd);
	free(j->closed);
	json_kept_free(&j->pbuf);
	free(j->bbuf);
	free(j);
}

struct journal *
journal_open(struct event_base *base, const struct journal_options *o,
    int recover, journal_record_fn fn, void *arg, char *err, size_t errlen)
{
	struct journal *j;
	struct jscan s;
	cJSON *rec = NULL;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		fatal("%s: calloc", __func__);
	j->base = base;
	j->o = *o;
	j->fd = j->dirfd = -1;
	TAILQ_INIT(&j->pending);
	TAILQ_INIT(&j->inflight);
	pthread_mutex_init(&j->w.mu, NULL);
	pthread_cond_init(&j->w.cv, NULL);
	if ((j->w.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("%s: eventfd", __func__);
	snprintf(j->dir, sizeof(j->dir), "%s", o->dir);
	memset(&s, 0, sizeof(s));
	s.fn = fn;
	s.arg = arg;
	if (open_dir(j, err, errlen) == -1 || (jscan_run(j->dirfd, &s) == -1 &&
	    open_fault(j, &s, recover, &rec, err, errlen) == -1) ||
	    (open_position(j, &s) == -1 && snprintf(err, errlen, "journal "
	    "%s: cannot open %s: %s", j->dir, j->seg, strerror(errno)))) {
		jscan_free(&s);
		cJSON_Delete(rec);
		journal_free(j);
		return NULL;
	}
	jscan_free(&s);
	events_new(j);
	if (head_write(j) == -1) {
		log_err("event=journal_head_failed errno=\"%s\" note=\"new "
		    "spends are refused until the journal can be written\"",
		    strerror(errno));
		j->broken = 1;
		retry_schedule(j);
	}
	if (rec != NULL)
		(void)journal_append(j, JREC_RECOVERY, rec, NULL, NULL);
	(void)retention_run(j);
	return j;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	writer_stop(j);
	if (journal_flush(j) == -1 || head_write(j) == -1)
		log_err("event=journal_close_failed errno=\"%s\"",
		    strerror(errno));
	log_msg(LOG_NOTICE, "event=journal_closed seq=%" PRIu64 " records=%" PRIu64
	    " writes=%" PRIu64 " syncs=%" PRIu64 " failures=%" PRIu64, j->seq,
	    j->stats.records, j->stats.writes, j->stats.syncs,
	    j->stats.failures);
	journal_free(j);
}

/*
 * The offline verifier.
 */

int
journal_verify(const char *dir, journal_record_fn fn, void *arg,
    struct journal_summary *sum, struct journal_fault *f)
{
	struct jscan s;
	int dirfd, r;

	memset(&s, 0, sizeof(s));
	memset(f, 0, sizeof(*f));
	s.fn = fn;
	s.arg = arg;
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		f->kind = JFAULT_IO;
		snprintf(f->segment, sizeof(f->segment), "-");
		snprintf(f->why, sizeof(f->why), "cannot open %s: %s", dir,
		    strerror(errno));
		memset(sum, 0, sizeof(*sum));
		return -1;
	}
	r = jscan_run(dirfd, &s);
	close(dirfd);
	*sum = s.sum;
	if (r == -1)
		*f = *jscan_first_fault(&s);
	jscan_free(&s);
	return r;
}

int
journal_verify_main(const char *dir)
{
	struct journal_summary sum;
	struct journal_fault f;

	if (journal_verify(dir, NULL, NULL, &sum, &f) == -1) {
		printf("journal %s: BAD: %s: seq %" PRIu64 ": %s (%" PRIu64
		    " records verified before it)\n", dir, f.segment, f.seq,
		    f.why, sum.records);
		return 1;
	}
	if (sum.records == 0) {
		printf("journal %s: OK: empty\n", dir);
		return 0;
	}
	printf("journal %s: OK: %" PRIu64 " records, seq %" PRIu64 "..%"
	    PRIu64 " in %zu segments, head at seq %" PRIu64 ", last hash "
	    "%s\n", dir, sum.records, sum.first_seq, sum.last_seq,
	    sum.segments, sum.head_seq, sum.last_hash);
	return 0;
}
