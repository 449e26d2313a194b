/*
 * Unit tests for the journal (broker/journal.c, broker/jscan.c): append
 * and replay, group commit, the chain across segments, every kind of
 * tampering found by the verifier at the right seq, and recovery.
 */
#define _GNU_SOURCE	/* asprintf */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <sodium.h>

#include "../../broker/journal.h"
#include "tap.h"

#define MAXLINES	4096
#define nitems_local(a)	(sizeof(a) / sizeof((a)[0]))
#define ZERO63	"000000000000000000000000000000000000000000000000000000000000000"

/* Test paths are short and made here; truncation cannot happen. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static struct event_base *base;
static char top[] = "/tmp/dino-journal-test.XXXXXX";
static char pristine[256];

struct seen {
	uint64_t	 seqs[MAXLINES];
	size_t		 n;
	size_t		 recovery;
};

static int
collect(const struct journal_rec *r, void *arg)
{
	struct seen *s = arg;

	if (s->n < MAXLINES)
		s->seqs[s->n++] = r->seq;
	if (strcmp(r->type, JREC_RECOVERY) == 0)
		s->recovery++;
	return 0;
}

static struct journal *
jopen(const char *dir, int64_t seg, int recover, struct seen *s, char *err,
    size_t errlen)
{
	struct journal_options o;

	memset(&o, 0, sizeof(o));
	o.dir = dir;
	o.segment_bytes = seg;
	o.fsync = 1;
	if (s != NULL)
		memset(s, 0, sizeof(*s));
	return journal_open(base, &o, recover, collect, s, err, errlen);
}

static cJSON *
fields(int i)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "i", i);
	cJSON_AddStringToObject(o, "note", "a \"quoted\" value\n");
	return o;
}

static void
pump(void)
{
	int i;

	/* A writer thread answers through the loop: give it a moment. */
	for (i = 0; i < 5; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(2000);
	}
}

/* Appends n records in batches of batch, one loop turn per batch. */
static void
fill(struct journal *j, int n, int batch)
{
	int i;

	for (i = 0; i < n; i++) {
		journal_append(j, "test", fields(i), NULL, NULL);
		if ((i + 1) % batch == 0)
			pump();
	}
	pump();
}

static void
run(const char *cmd)
{
	if (system(cmd) != 0)
		printf("# command failed: %s\n", cmd);
}

static void
copy_dir(const char *from, const char *to)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", to, from,
	    to);
	run(cmd);
}

/* The segment files of dir, sorted, into names[]; returns the count. */
static int
segments(const char *dir, char names[][64], int max)
{
	struct dirent **ents;
	int i, n, k = 0;

	if ((n = scandir(dir, &ents, NULL, alphasort)) < 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (strncmp(ents[i]->d_name, "journal-", 8) == 0 &&
		    strstr(ents[i]->d_name, ".jsonl") != NULL &&
		    strstr(ents[i]->d_name, "corrupt") == NULL && k < max)
			snprintf(names[k++], 64, "%s", ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	return k;
}

struct lines {
	char	*l[MAXLINES];
	size_t	 n;
};

static void
read_lines(const char *path, struct lines *ls)
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0;

	ls->n = 0;
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (getline(&line, &cap, f) > 0 && ls->n < MAXLINES)
		ls->l[ls->n++] = strdup(line);
	free(line);
	fclose(f);
}

static void
write_lines(const char *path, struct lines *ls)
{
	FILE *f;
	size_t i;

	if ((f = fopen(path, "w")) == NULL)
		return;
	for (i = 0; i < ls->n; i++) {
		fputs(ls->l[i], f);
		free(ls->l[i]);
	}
	fclose(f);
}

static const struct journal_fault *
verify(const char *dir)
{
	static struct journal_fault f;
	struct journal_summary sum;

	if (journal_verify(dir, NULL, NULL, &sum, &f) == 0)
		f.kind = JFAULT_NONE;
	if (f.kind != JFAULT_NONE)
		printf("# %s: seq %" PRIu64 ": %s\n", f.segment, f.seq, f.why);
	return &f;
}

static int
fault_is(const struct journal_fault *f, uint64_t seq, const char *word)
{
	return f->kind != JFAULT_NONE && f->seq == seq &&
	    strstr(f->why, word) != NULL;
}

static int nok, nfail;
static uint64_t lastseq;

/*
 * Records larger than the buffer they are printed into at first (4 KiB),
 * between small ones in one batch: the buffer grows, and every line, the
 * chain and the contents survive a replay.
 */
static int
check_note(const struct journal_rec *r, void *arg)
{
	const cJSON *note = cJSON_GetObjectItemCaseSensitive(r->fields,
	    "note");
	size_t *bad = arg;

	if (strcmp(r->type, "big") == 0 && (!cJSON_IsString(note) ||
	    strspn(note->valuestring, "x") != strlen(note->valuestring)))
		(*bad)++;
	return 0;
}

static void
test_large_records(void)
{
	static const size_t sizes[] = { 10, 4090, 5000, 60000, 20, 9000 };
	struct journal_summary sum;
	struct journal_fault f;
	struct seen s;
	struct journal *j;
	char dir[256], err[512], *big;
	size_t i, bad = 0;
	cJSON *o;

	snprintf(dir, sizeof(dir), "%s/large", top);
	j = jopen(dir, JOURNAL_SEGMENT_DEF, 0, &s, err, sizeof(err));
	CHECK(j != NULL, "a journal for large records opens");
	if (j == NULL)
		return;
	for (i = 0; i < nitems_local(sizes); i++) {
		if ((big = malloc(sizes[i] + 1)) == NULL)
			return;
		memset(big, 'x', sizes[i]);
		big[sizes[i]] = '\0';
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "note", big);
		free(big);
		journal_append(j, "big", o, NULL, NULL);
		journal_append(j, "test", fields((int)i), NULL, NULL);
	}
	pump();
	journal_close(j);
	CHECK(journal_verify(dir, check_note, &bad, &sum, &f) == 0 &&
	    sum.records >= 2 * nitems_local(sizes) && bad == 0,
	    "records from 10 bytes to 60 KB in one batch verify and replay "
	    "intact");
}

static void
count_cb(int ok, uint64_t seq, void *arg)
{
	if (ok)
		nok++;
	else
		nfail++;
	lastseq = seq;
}

static void
test_round_trip_and_group_commit(void)
{
	struct journal_stats before, after;
	struct seen s;
	struct journal *j;
	char dir[256], err[512];
	size_t i;
	int k, consecutive = 1;

	snprintf(dir, sizeof(dir), "%s/rt", top);
	j = jopen(dir, JOURNAL_SEGMENT_DEF, 0, &s, err, sizeof(err));
	CHECK(j != NULL && s.n == 0, "a new journal opens empty");
	if (j == NULL)
		return;
	pump();
	journal_get_stats(j, &before);
	for (k = 0; k < 50; k++)
		journal_append(j, JREC_INTENT, fields(k), count_cb, NULL);
	CHECK(nok == 0, "no callback before the batch is written");
	pump();
	journal_get_stats(j, &after);
	CHECK(nok == 50 && nfail == 0, "50 appends: 50 callbacks, all ok");
	CHECK(after.syncs - before.syncs == 1 &&
	    after.writes - before.writes == 1,
	    "group commit: 50 appends, one write and one fdatasync");
	CHECK(lastseq == after.seq, "the last callback has the last seq");
	journal_close(j);
	j = jopen(dir, JOURNAL_SEGMENT_DEF, 0, &s, err, sizeof(err));
	CHECK(j != NULL && s.n == 50, "replay sees the 50 records");
	for (i = 1; i < s.n; i++)
		if (s.seqs[i] != s.seqs[i - 1] + 1)
			consecutive = 0;
	CHECK(consecutive, "replay: seqs without gaps, in order");
	journal_close(j);
	CHECK(verify(dir)->kind == JFAULT_NONE, "the verifier passes it");
}

/* The same through the writer thread, while the loop keeps appending. */
static void
test_writer_thread(void)
{
	struct journal_stats before, after;
	struct journal *j;
	struct seen s;
	char dir[256], err[512];
	int k, round;

	snprintf(dir, sizeof(dir), "%s/thread", top);
	j = jopen(dir, JOURNAL_SEGMENT_MIN, 0, &s, err, sizeof(err));
	if (j == NULL || journal_start_writer(j) == -1) {
		CHECK(0, "writer thread starts");
		return;
	}
	pump();
	nok = nfail = 0;
	journal_get_stats(j, &before);
	for (k = 0; k < 40; k++)
		journal_append(j, JREC_INTENT, fields(k), count_cb, NULL);
	for (round = 0; round < 200 && nok < 40; round++)
		pump();
	journal_get_stats(j, &after);
	CHECK(nok == 40 && after.syncs - before.syncs == 1,
	    "writer thread: 40 appends, one fdatasync, 40 callbacks");
	for (round = 0; round < 30; round++) {
		for (k = 0; k < 7; k++)
			journal_append(j, "test", fields(k), count_cb, NULL);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	journal_close(j);
	CHECK(nok == 40 + 30 * 7 && nfail == 0, "every record acknowledged "
	    "by the close");
	j = jopen(dir, JOURNAL_SEGMENT_MIN, 0, &s, err, sizeof(err));
	CHECK(j != NULL && s.n == 40 + 30 * 7 + 0, "replay sees them all, "
	    "across rotations");
	journal_close(j);
	CHECK(verify(dir)->kind == JFAULT_NONE, "and the chain verifies");
}

/* The prev of each segment's first record is the last hash before. */
static int
chain_continues(const char *dir, char names[][64], int n)
{
	char path[512], last[80] = "";
	struct lines ls;
	cJSON *r;
	int i, ok = 1;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		read_lines(path, &ls);
		if (ls.n == 0)
			continue;
		r = cJSON_Parse(ls.l[0]);
		if (i > 0 && strcmp(cJSON_GetObjectItem(r, "prev")->valuestring,
		    last) != 0)
			ok = 0;
		cJSON_Delete(r);
		r = cJSON_Parse(ls.l[ls.n - 1]);
		snprintf(last, sizeof(last), "%s",
		    cJSON_GetObjectItem(r, "hash")->valuestring);
		cJSON_Delete(r);
		write_lines(path, &ls);
	}
	return ok;
}

static void
test_segments(void)
{
	struct journal *j;
	struct seen s;
	char names[64][64];
	char err[512];
	int n;

	snprintf(pristine, sizeof(pristine), "%s/pristine", top);
	j = jopen(pristine, JOURNAL_SEGMENT_MIN, 0, &s, err, sizeof(err));
	if (j == NULL) {
		CHECK(0, "open for segments");
		return;
	}
	fill(j, 100, 5);
	journal_close(j);
	n = segments(pristine, names, 64);
	CHECK(n >= 3, "4 KiB segments: the journal rotated");
	CHECK(chain_continues(pristine, names, n),
	    "each segment's first prev is the last hash before it");
	CHECK(verify(pristine)->kind == JFAULT_NONE,
	    "the chain verifies across segments");
	j = jopen(pristine, JOURNAL_SEGMENT_MIN, 0, &s, err, sizeof(err));
	CHECK(j != NULL && s.n == 100, "replay reads every segment");
	journal_close(j);
}

/*
 * Tampering.  Each case edits a copy of the pristine journal (records 1..N
 * in 4 KiB segments; record k is line k - first of its segment).
 */

/* The segment holding seq and the line index of seq in it. */
static int
locate(const char *dir, uint64_t seq, char *path, size_t len)
{
	char names[64][64];
	int i, n = segments(dir, names, 64), idx = -1;
	uint64_t first;

	for (i = 0; i < n; i++) {
		first = strtoull(names[i] + 8, NULL, 10);
		if (first <= seq) {
			snprintf(path, len, "%s/%s", dir, names[i]);
			idx = (int)(seq - first);
		}
	}
	return idx;
}

static void
tamper_flip(const char *dir, uint64_t seq)
{
	char path[512], *p;
	struct lines ls;
	int k = locate(dir, seq, path, sizeof(path));

	read_lines(path, &ls);
	/* A digit of the "i" field: still valid JSON, other contents. */
	if ((p = strstr(ls.l[k], "\"i\":")) != NULL)
		p[4] = p[4] == '9' ? '8' : p[4] + 1;
	write_lines(path, &ls);
}

static void
tamper_remove(const char *dir, uint64_t seq)
{
	char path[512];
	struct lines ls;
	int k = locate(dir, seq, path, sizeof(path));

	read_lines(path, &ls);
	free(ls.l[k]);
	memmove(&ls.l[k], &ls.l[k + 1], (ls.n - (size_t)k - 1) *
	    sizeof(ls.l[0]));
	ls.n--;
	write_lines(path, &ls);
}

static void
tamper_swap(const char *dir, uint64_t seq)
{
	char path[512], *t;
	struct lines ls;
	int k = locate(dir, seq, path, sizeof(path));

	read_lines(path, &ls);
	t = ls.l[k];
	ls.l[k] = ls.l[k + 1];
	ls.l[k + 1] = t;
	write_lines(path, &ls);
}

/*
 * A well-forged record: seq, prev and its own hash all right, inserted
 * before the real record with that seq.  Only the chain after it shows.
 */
static void
tamper_insert(const char *dir, uint64_t seq)
{
	char path[512], hex[65], *canon, *line;
	unsigned char h[32];
	struct lines ls;
	cJSON *prev, *o;
	int k = locate(dir, seq, path, sizeof(path));

	read_lines(path, &ls);
	prev = cJSON_Parse(ls.l[k]);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "seq", (double)seq);
	cJSON_AddStringToObject(o, "ts", "2026-01-01T00:00:00.000Z");
	cJSON_AddStringToObject(o, "type", "intent");
	cJSON_AddItemToObject(o, "fields", fields(999));
	cJSON_AddStringToObject(o, "prev",
	    cJSON_GetObjectItem(prev, "prev")->valuestring);
	canon = cJSON_PrintUnformatted(o);
	crypto_generichash(h, 32, (unsigned char *)canon, strlen(canon),
	    NULL, 0);
	sodium_bin2hex(hex, sizeof(hex), h, 32);
	cJSON_AddStringToObject(o, "hash", hex);
	line = cJSON_PrintUnformatted(o);
	memmove(&ls.l[k + 1], &ls.l[k], (ls.n - (size_t)k) * sizeof(ls.l[0]));
	if (asprintf(&ls.l[k], "%s\n", line) == -1)
		ls.l[k] = NULL;
	ls.n++;
	write_lines(path, &ls);
	free(canon);
	free(line);
	cJSON_Delete(o);
	cJSON_Delete(prev);
}

/* Cuts the last n records off the last segment. */
static void
tamper_truncate(const char *dir, size_t n)
{
	char names[64][64], path[512];
	struct lines ls;
	int nseg = segments(dir, names, 64);

	snprintf(path, sizeof(path), "%s/%s", dir, names[nseg - 1]);
	read_lines(path, &ls);
	while (n-- > 0 && ls.n > 0)
		free(ls.l[--ls.n]);
	write_lines(path, &ls);
}

static void
tamper_head(const char *dir, const char *what)
{
	char path[512], cmd[1024];

	snprintf(path, sizeof(path), "%s/head.json", dir);
	snprintf(cmd, sizeof(cmd), "sed -i '%s' '%s'", what, path);
	run(cmd);
}

static void
test_tampering(void)
{
	char dir[256], cmd[512];

	snprintf(dir, sizeof(dir), "%s/t", top);
	copy_dir(pristine, dir);
	tamper_flip(dir, 37);
	CHECK(fault_is(verify(dir), 37, "altered"), "flipped byte: seq 37, "
	    "record altered");
	copy_dir(pristine, dir);
	tamper_remove(dir, 40);
	CHECK(fault_is(verify(dir), 40, "removed"), "removed record: seq 40");
	copy_dir(pristine, dir);
	tamper_swap(dir, 41);
	CHECK(fault_is(verify(dir), 41, "reordered"), "two records swapped: "
	    "seq 41, reordered");
	copy_dir(pristine, dir);
	tamper_insert(dir, 44);
	CHECK(fault_is(verify(dir), 44, "inserted"), "forged record inserted "
	    "at seq 44");
	copy_dir(pristine, dir);
	tamper_truncate(dir, 3);
	CHECK(fault_is(verify(dir), 98, "truncated tail"), "last 3 records "
	    "cut: seq 98, truncated tail against the head file");
	copy_dir(pristine, dir);
	/* A hash no record has (a changed first digit could be the same). */
	tamper_head(dir, "s/\"hash\":\"[0-9a-f]*/\"hash\":\"" ZERO63 "1/");
	CHECK(verify(dir)->kind == JFAULT_HEAD &&
	    strstr(verify(dir)->why, "head file altered") != NULL,
	    "edited head hash: head file altered");
	copy_dir(pristine, dir);
	tamper_head(dir, "s/\"seq\":100/\"seq\":105/");
	CHECK(fault_is(verify(dir), 101, "truncated tail"), "head seq raised: "
	    "the journal looks cut at 101");
	copy_dir(pristine, dir);
	snprintf(cmd, sizeof(cmd), "rm '%s'/journal-00000000000000000001.jsonl",
	    dir);
	run(cmd);
	/* Retention removes whole segments from the front: that is allowed. */
	CHECK(verify(dir)->kind == JFAULT_NONE, "leading segment removed: "
	    "accepted, as retention does it (the head still checks the end)");
}

static void
test_recovery(void)
{
	char dir[256], err[512], names[64][64], cmd[600];
	struct journal *j;
	struct seen s;
	int before, after;

	snprintf(dir, sizeof(dir), "%s/r", top);
	copy_dir(pristine, dir);
	before = segments(dir, names, 64);
	tamper_flip(dir, 60);
	err[0] = '\0';
	j = jopen(dir, JOURNAL_SEGMENT_MIN, 0, &s, err, sizeof(err));
	printf("# %s\n", err);
	CHECK(j == NULL && strstr(err, "seq 60") != NULL &&
	    strstr(err, "journal-") != NULL, "a corrupt journal is refused, "
	    "naming the segment and seq 60");
	j = jopen(dir, JOURNAL_SEGMENT_MIN, 1, &s, err, sizeof(err));
	CHECK(j != NULL && s.n == 59, "--recover keeps the 59 records before");
	if (j == NULL)
		return;
	fill(j, 5, 5);
	journal_close(j);
	CHECK(verify(dir)->kind == JFAULT_NONE, "the recovered journal "
	    "verifies, with new records after the recovery");
	j = jopen(dir, JOURNAL_SEGMENT_MIN, 0, &s, err, sizeof(err));
	CHECK(j != NULL && s.recovery == 1 && s.n == 59 + 1 + 5,
	    "a recovery record is in the chain");
	journal_close(j);
	after = segments(dir, names, 64);
	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -q corrupt", dir);
	CHECK(system(cmd) == 0 && after <= before + 1,
	    "the bad tail was moved aside");

	/* A torn last record (never synced) is cut off on its own. */
	copy_dir(pristine, dir);
	segments(dir, names, 64);
	snprintf(cmd, sizeof(cmd), "printf '{\"seq\":101,\"ts\":' >> '%s/%s'",
	    dir, names[segments(dir, names, 64) - 1]);
	run(cmd);
	CHECK(verify(dir)->kind == JFAULT_TORN, "the verifier reports a torn "
	    "last record");
	j = jopen(dir, JOURNAL_SEGMENT_MIN, 0, &s, err, sizeof(err));
	CHECK(j != NULL && s.n == 100, "start-up trims a torn tail by itself");
	if (j != NULL)
		journal_close(j);
	CHECK(verify(dir)->kind == JFAULT_NONE, "and the journal verifies");
}

int
main(void)
{
	char cmd[300];

	if (sodium_init() < 0 || mkdtemp(top) == NULL)
		return 1;
	base = event_base_new();
	test_round_trip_and_group_commit();
	test_writer_thread();
	test_segments();
	test_tampering();
	test_recovery();
	test_large_records();
	event_base_free(base);
	if (getenv("DINO_KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
		run(cmd);
	}
	return TAP_DONE();
}
