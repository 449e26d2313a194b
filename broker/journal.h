/*
 * The broker's journal: append-only, hash-chained JSON lines, the system
 * of record for what agents asked and what Dino answered (dino-broker(8),
 * JOURNAL FORMAT).
 *
 * Each record is one line, a JSON object whose members come in this order:
 *   {"seq":N,"ts":"2026-11-28T12:00:00.000Z","type":"intent",
 *    "fields":{...},"prev":"<64 hex>","hash":"<64 hex>"}
 * seq counts from 1 without gaps; prev is the hash of the record before
 * (64 zeros before the first); hash is the lowercase hex BLAKE2b-256
 * (unkeyed, 32-byte digest) of the line's own bytes up to, not including,
 * ',"hash":"', followed by the single byte '}'.  The hash covers the exact
 * bytes written, so an auditor never has to re-serialise JSON:
 *   python3 -c 'import hashlib,json,sys
 *   for l in open(sys.argv[1],"rb"):
 *       l=l.rstrip(b"\n"); i=l.rindex(b",\"hash\":\"")
 *       assert hashlib.blake2b(l[:i]+b"}",digest_size=32).hexdigest()
 *           ==json.loads(l)["hash"]' journal-00000000000000000001.jsonl
 *
 * Records go to segments "journal-<first seq, 20 digits>.jsonl" that
 * rotate by size; the chain runs on across segments.  "head.json", rewritten
 * atomically (rename) and fsynced, names the last durable seq and hash, so
 * that a cut-off tail is detected too.
 *
 * Durability: journal_append() queues a record; all records queued within
 * one loop turn are written with one write(2) and one fdatasync(2) (group
 * commit), and only then does each record's callback run.  A write or sync
 * error cuts the segment back to its last durable byte and fails the
 * records that asked to know; the journal retries on the next append and
 * on a timer, and resumes by itself once writing works.
 */
#ifndef DINO_BROKER_JOURNAL_H
#define DINO_BROKER_JOURNAL_H

#include <sys/types.h>

#include <fcntl.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "dinolimits.h"

struct event_base;
struct journal;

/*
 * The only opens for writing the journal makes once running, always
 * relative to its directory's descriptor: the seccomp filter pins both.
 */
#define JOURNAL_SEG_OPEN_FLAGS	(O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | \
	O_NOFOLLOW)
#define JOURNAL_HEAD_OPEN_FLAGS	(O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | \
	O_NOFOLLOW)

/* Record types.  Other modules add fields, never types of their own. */
#define JREC_START	"start"
#define JREC_STOP	"stop"
#define JREC_CONFIG	"config_load"
#define JREC_INTENT	"intent"
#define JREC_OUTCOME	"outcome"	/* Dino's answer to a create */
#define JREC_STATUS	"status"	/* a later status change */
#define JREC_OPERATOR	"operator"	/* reserved: dinoctl actions */
#define JREC_WEBHOOK	"webhook"	/* reserved: by Dino-Event-Id */
#define JREC_RECOVERY	"recovery"
#define JREC_RETENTION	"retention"	/* closed segments removed */

struct journal_options {
	const char	*dir;
	int64_t		 segment_bytes;	/* rotate once a segment is this big */
	int		 retention_days;	/* closed segments; 0: forever */
	int		 fsync;		/* 0: benchmark only, never durable */
	/* The oldest seq still needed (open intents), or 0: no pin. */
	uint64_t	(*pin)(void *arg);
	void		*pin_arg;
};

/* One verified record, as handed to a scan callback. */
struct journal_rec {
	uint64_t	 seq;
	int64_t		 ts_ms;
	const char	*type;
	const cJSON	*fields;
	const char	*segment;
};

typedef int (*journal_record_fn)(const struct journal_rec *, void *arg);

enum journal_fault_kind {
	JFAULT_NONE,
	JFAULT_TORN,	/* the last segment ends inside a record */
	JFAULT_RECORD,	/* a record is altered, missing, moved or added */
	JFAULT_HEAD,	/* head.json disagrees with an intact chain */
	JFAULT_IO,	/* the directory or a file could not be read */
};

struct journal_fault {
	enum journal_fault_kind kind;
	char		 segment[JOURNAL_NAME_MAX];
	uint64_t	 seq;		/* the first bad sequence number */
	off_t		 offset;	/* of the bad line in segment */
	char		 why[256];
};

struct journal_summary {
	uint64_t	 records;
	uint64_t	 first_seq, last_seq;
	char		 last_hash[JOURNAL_HEX_LEN + 1];
	size_t		 segments;
	uint64_t	 head_seq;
};

/*
 * Checks the whole chain in dir, calling fn (may be NULL) for every
 * record that verified, in order, until the first fault.  Returns 0 for an
 * intact journal, -1 with fault filled in.
 */
int	journal_verify(const char *dir, journal_record_fn fn, void *arg,
	    struct journal_summary *sum, struct journal_fault *fault);

/*
 * `dino-broker --verify-journal DIR`: prints a one-line summary or the
 * first fault to stdout; returns the exit status (0 only when intact).
 */
int	journal_verify_main(const char *dir);

/*
 * Opens (creating if needed) the journal: verifies and replays it through
 * fn, then gets ready to append.  A fault other than a torn last record
 * fails with a message naming the segment and seq, unless recover is set:
 * then the intact prefix is kept, the rest moved aside as *.corrupt-TIME,
 * and a recovery record says so.  NULL with err set on failure.
 */
struct journal *journal_open(struct event_base *base,
	    const struct journal_options *o, int recover, journal_record_fn fn,
	    void *arg, char *err, size_t errlen);

/*
 * Queues a record; fields (an object, may be NULL) now belong to the
 * journal.  cb (may be NULL) runs once, after the record's fdatasync
 * (ok 1, with its seq) or after it failed (ok 0); never before this
 * returns.  Returns -1 (cb never runs) when too many records wait.
 */
typedef void (*journal_cb)(int ok, uint64_t seq, void *arg);
int	journal_append(struct journal *j, const char *type, cJSON *fields,
	    journal_cb cb, void *arg);
/*
 * The same, but fields stay the caller's: they are printed now and never
 * freed here (a tree on the stack, json.h).
 */
int	journal_append_copy(struct journal *j, const char *type,
	    const cJSON *fields, journal_cb cb, void *arg);

/*
 * From now on batches are written and synced by a writer thread while the
 * loop goes on.  Call it after the seccomp filter is loaded: the filter is
 * not synchronised across threads, so the thread must inherit it.
 * Returns 0, or -1 (batches are then written on the loop, as before).
 */
int	journal_start_writer(struct journal *j);
/* Writes what is queued now (stop, tests); 0, or -1 if it failed. */
int	journal_flush(struct journal *j);
/* 1 while writes fail (new spends are refused). */
int	journal_broken(const struct journal *j);
/* Flushes, rewrites the head file and closes. */
void	journal_close(struct journal *j);

/* The descriptor of the journal directory, for the seccomp filter. */
int	journal_dirfd(const struct journal *j);

struct journal_stats {
	uint64_t	 records;	/* appended since open */
	uint64_t	 writes;	/* write(2) batches */
	uint64_t	 syncs;		/* fdatasync(2) of segments */
	uint64_t	 failures;	/* failed batches */
	uint64_t	 seq;		/* last durable seq */
};
void	journal_get_stats(const struct journal *j, struct journal_stats *st);

#endif
