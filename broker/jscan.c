/*
 * The journal's reader (see jscan.h and journal.h).  Every record is
 * checked on its own (its hash over its own bytes, its members and their
 * order), then against its neighbours (seq without gaps, prev equal to the
 * hash before), then against its segment's name, and finally the head file
 * against the chain.  The first fault stops the scan; its message says
 * which seq and what kind of edit explains it.
 */
#define _GNU_SOURCE	/* timegm */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "jscan.h"
#include "log.h"
#include "util.h"

#define SEG_PREFIX	"journal-"
#define SEG_SUFFIX	".jsonl"
#define SEG_DIGITS	20
#define HASH_SUFFIX	",\"hash\":\""
#define HASH_TAIL_LEN	(sizeof(HASH_SUFFIX) - 1 + JOURNAL_HEX_LEN + 2)

/* One line taken apart; root owns the strings. */
struct jline {
	cJSON		*root;
	uint64_t	 seq;
	int64_t		 ts_ms;
	const char	*type;
	const cJSON	*fields;
	unsigned char	 prev[JOURNAL_HASH_LEN];
	unsigned char	 hash[JOURNAL_HASH_LEN];
};

void
jseg_name(char *buf, size_t len, uint64_t first_seq)
{
	snprintf(buf, len, SEG_PREFIX "%0*" PRIu64 SEG_SUFFIX, SEG_DIGITS,
	    first_seq);
}

void
jhex(char out[JOURNAL_HEX_LEN + 1], const unsigned char *h)
{
	sodium_bin2hex(out, JOURNAL_HEX_LEN + 1, h, JOURNAL_HASH_LEN);
}

static int
fault(struct jscan *s, enum journal_fault_kind kind, size_t seg,
    uint64_t seq, off_t off, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int
fault(struct jscan *s, enum journal_fault_kind kind, size_t seg,
    uint64_t seq, off_t off, const char *fmt, ...)
{
	va_list ap;

	s->fault.kind = kind;
	if (seg < s->nsegs)
		jseg_name(s->fault.segment, sizeof(s->fault.segment),
		    s->segs[seg].first_seq);
	else
		snprintf(s->fault.segment, sizeof(s->fault.segment), "%s",
		    JHEAD_NAME);
	s->fault.seq = seq;
	s->fault.offset = off;
	va_start(ap, fmt);
	vsnprintf(s->fault.why, sizeof(s->fault.why), fmt, ap);
	va_end(ap);
	return -1;
}

/* A head fault is noted, once, and the scan goes on. */
static void
head_fault(struct jscan *s, size_t seg, uint64_t seq, off_t off,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
head_fault(struct jscan *s, size_t seg, uint64_t seq, off_t off,
    const char *fmt, ...)
{
	struct journal_fault *f = &s->head_fault;
	va_list ap;

	if (f->kind != JFAULT_NONE)
		return;
	f->kind = JFAULT_HEAD;
	if (seg < s->nsegs)
		jseg_name(f->segment, sizeof(f->segment),
		    s->segs[seg].first_seq);
	else
		snprintf(f->segment, sizeof(f->segment), "%s", JHEAD_NAME);
	f->seq = seq;
	f->offset = off;
	va_start(ap, fmt);
	vsnprintf(f->why, sizeof(f->why), fmt, ap);
	va_end(ap);
}

/* Lowercase hex of exactly JOURNAL_HASH_LEN bytes, nothing else. */
static int
hex_hash(const cJSON *v, unsigned char *out)
{
	char back[JOURNAL_HEX_LEN + 1];
	size_t n;

	if (!cJSON_IsString(v) || strlen(v->valuestring) != JOURNAL_HEX_LEN ||
	    sodium_hex2bin(out, JOURNAL_HASH_LEN, v->valuestring,
	    JOURNAL_HEX_LEN, NULL, &n, NULL) != 0 || n != JOURNAL_HASH_LEN)
		return -1;
	jhex(back, out);
	return strcmp(back, v->valuestring) == 0 ? 0 : -1;
}

/* "2026-11-28T12:00:00.000Z" to milliseconds; -1 if malformed. */
static int64_t
parse_iso_ms(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, ms, n = 0;

	if (strlen(s) != ISO_TIME_LEN ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi,
	    &sec, &ms, &n) != 7 || n != ISO_TIME_LEN)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* The members, in the one order the format allows. */
static const char *
line_members(struct jline *l)
{
	static const char *const names[] = { "seq", "ts", "type", "fields",
	    "prev", "hash" };
	const cJSON *m[nitems(names)], *c;
	size_t i = 0;

	for (c = l->root->child; c != NULL; c = c->next, i++)
		if (i >= nitems(names) || c->string == NULL ||
		    strcmp(c->string, names[i]) != 0)
			return "members missing, added or out of order";
		else
			m[i] = c;
	if (i != nitems(names))
		return "members missing, added or out of order";
	if (!cJSON_IsNumber(m[0]) || m[0]->valuedouble < 1 ||
	    m[0]->valuedouble > 9007199254740992.0 ||
	    m[0]->valuedouble != (double)(uint64_t)m[0]->valuedouble)
		return "seq is not a positive whole number";
	l->seq = (uint64_t)m[0]->valuedouble;
	if (!cJSON_IsString(m[1]) ||
	    (l->ts_ms = parse_iso_ms(m[1]->valuestring)) == -1)
		return "ts is not an ISO-8601 UTC time with milliseconds";
	if (!cJSON_IsString(m[2]) || m[2]->valuestring[0] == '\0')
		return "type is not a string";
	l->type = m[2]->valuestring;
	if (!cJSON_IsObject(m[3]))
		return "fields is not an object";
	l->fields = m[3];
	if (hex_hash(m[4], l->prev) == -1 || hex_hash(m[5], l->hash) == -1)
		return "prev or hash is not 64 lowercase hex digits";
	return NULL;
}

/*
 * Parses one line (without its newline) and checks its own hash.  Returns
 * NULL, or why the line is bad; l->root must be freed either way.
 */
static const char *
line_parse(const char *p, size_t len, struct jline *l)
{
	crypto_generichash_state st;
	unsigned char h[JOURNAL_HASH_LEN];
	const char *why;

	memset(l, 0, sizeof(*l));
	if (len < HASH_TAIL_LEN + 2 || memcmp(p + len - HASH_TAIL_LEN,
	    HASH_SUFFIX, sizeof(HASH_SUFFIX) - 1) != 0 ||
	    memcmp(p + len - 2, "\"}", 2) != 0)
		return "not a record: no hash member at its end";
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)p,
	    len - HASH_TAIL_LEN);
	crypto_generichash_update(&st, (const unsigned char *)"}", 1);
	crypto_generichash_final(&st, h, sizeof(h));
	if (memchr(p, '\0', len) != NULL ||
	    (l->root = cJSON_ParseWithLength(p, len)) == NULL ||
	    !cJSON_IsObject(l->root))
		return "not valid JSON (record altered)";
	if ((why = line_members(l)) != NULL)
		return why;
	if (sodium_memcmp(h, l->hash, sizeof(h)) != 0)
		return "hash does not match the record's contents (record "
		    "altered)";
	return NULL;
}

/* The seq a line claims, read without trusting the rest; 0 if none. */
static uint64_t
peek_seq(const char *p, size_t len)
{
	uint64_t v = 0;
	size_t i = 7;

	if (len < 8 || memcmp(p, "{\"seq\":", 7) != 0)
		return 0;
	for (; i < len && p[i] >= '0' && p[i] <= '9' && i < 27; i++)
		v = v * 10 + (uint64_t)(p[i] - '0');
	return v;
}

/* A seq other than the next one: name the edit that explains it. */
static int
seq_fault(struct jscan *s, size_t seg, off_t off, uint64_t seq,
    const char *rest, size_t restlen)
{
	uint64_t want = s->last_seq + 1, next;

	next = peek_seq(rest, restlen);
	if (seq > want && next == want)
		return fault(s, JFAULT_RECORD, seg, want, off, "seq %" PRIu64
		    " comes before seq %" PRIu64 " (records reordered)", seq,
		    want);
	if (seq > want)
		return fault(s, JFAULT_RECORD, seg, want, off, "seq %" PRIu64
		    " is missing, seq %" PRIu64 " follows seq %" PRIu64
		    " (record removed)", want, seq, s->last_seq);
	if (seq == s->last_seq)
		return fault(s, JFAULT_RECORD, seg, seq, off, "seq %" PRIu64
		    " appears twice (record inserted)", seq);
	return fault(s, JFAULT_RECORD, seg, want, off, "seq %" PRIu64
	    " found where seq %" PRIu64 " belongs (record inserted or "
	    "reordered)", seq, want);
}

/* The chain: seq, prev, the segment's first seq, the head's hash. */
static int
line_chain(struct jscan *s, size_t seg, off_t off, const struct jline *l,
    const char *rest, size_t restlen)
{
	static const unsigned char zero[JOURNAL_HASH_LEN];
	char name[JOURNAL_NAME_MAX];

	if (s->sum.records == 0 && l->seq == 1 &&
	    memcmp(l->prev, zero, sizeof(zero)) != 0)
		return fault(s, JFAULT_RECORD, seg, 1, off, "the first "
		    "record's prev is not zero (chain altered)");
	if (s->sum.records > 0 && l->seq != s->last_seq + 1)
		return seq_fault(s, seg, off, l->seq, rest, restlen);
	if (s->sum.records > 0 && sodium_memcmp(l->prev, s->last_hash,
	    JOURNAL_HASH_LEN) != 0)
		return fault(s, JFAULT_RECORD, seg, l->seq, off, "prev does "
		    "not match the hash of seq %" PRIu64 " (record replaced "
		    "or inserted)", s->last_seq);
	if (off == 0 && l->seq != s->segs[seg].first_seq) {
		jseg_name(name, sizeof(name), s->segs[seg].first_seq);
		return fault(s, JFAULT_RECORD, seg, l->seq, off, "%s starts "
		    "with seq %" PRIu64 " (segment renamed or edited)", name,
		    l->seq);
	}
	if (s->have_head && l->seq == s->head_seq &&
	    sodium_memcmp(l->hash, s->head_hash, JOURNAL_HASH_LEN) != 0)
		head_fault(s, seg, l->seq, off, "%s names another hash for "
		    "seq %" PRIu64 " (head file altered)", JHEAD_NAME, l->seq);
	return 0;
}

static int
scan_line(struct jscan *s, size_t seg, off_t off, const char *p,
    size_t len, const char *rest, size_t restlen)
{
	struct journal_rec rec;
	struct jline l;
	const char *why;
	int r = 0;

	if ((why = line_parse(p, len, &l)) != NULL)
		r = fault(s, JFAULT_RECORD, seg, s->last_seq + 1, off, "%s",
		    why);
	else if ((r = line_chain(s, seg, off, &l, rest, restlen)) == 0) {
		rec.seq = l.seq;
		rec.ts_ms = l.ts_ms;
		rec.type = l.type;
		rec.fields = l.fields;
		rec.segment = NULL;
		if (s->fn != NULL && s->fn(&rec, s->arg) == -1)
			r = fault(s, JFAULT_RECORD, seg, l.seq, off, "replay "
			    "refused the record");
	}
	if (r == 0) {
		if (s->sum.records++ == 0)
			s->sum.first_seq = l.seq;
		s->last_seq = s->sum.last_seq = l.seq;
		memcpy(s->last_hash, l.hash, sizeof(s->last_hash));
		s->segs[seg].last_seq = l.seq;
		s->segs[seg].last_ts_ms = l.ts_ms;
	}
	cJSON_Delete(l.root);
	return r;
}

int
jscan_read_file(int dirfd, const char *name, char **buf, size_t *len, off_t max)
{
	struct stat st;
	ssize_t r;
	size_t off = 0;
	int fd;

	*buf = NULL;
	if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) ==
	    -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > max) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL)
		fatal("%s: malloc", __func__);
	while (off < (size_t)st.st_size) {
		if ((r = read(fd, *buf + off, (size_t)st.st_size - off)) <= 0) {
			if (r == -1 && errno == EINTR)
				continue;
			break;
		}
		off += (size_t)r;
	}
	close(fd);
	*len = off;
	return 0;
}

/*
 * Returns 0 when the segment is intact, 1 when it is the last one and ends
 * in an unterminated record (a torn write: the fault is set but the head
 * is still checked), -1 on a fault.
 */
static int
scan_segment(int dirfd, struct jscan *s, size_t seg)
{
	char name[JOURNAL_NAME_MAX], *buf, *nl;
	size_t len, off = 0, n;
	int r = 0;

	jseg_name(name, sizeof(name), s->segs[seg].first_seq);
	if (jscan_read_file(dirfd, name, &buf, &len, JOURNAL_SEGMENT_MAX * 2) == -1)
		return fault(s, JFAULT_IO, seg, s->last_seq + 1, 0, "cannot "
		    "read: %s", strerror(errno));
	if (len == 0 && seg + 1 < s->nsegs)
		r = fault(s, JFAULT_RECORD, seg, s->last_seq + 1, 0, "an "
		    "empty segment before the last (records removed)");
	while (r == 0 && off < len) {
		if ((nl = memchr(buf + off, '\n', len - off)) == NULL) {
			fault(s, seg + 1 == s->nsegs ? JFAULT_TORN :
			    JFAULT_RECORD, seg, s->last_seq + 1, (off_t)off,
			    "the segment ends inside a record (torn write or "
			    "truncated)");
			r = seg + 1 == s->nsegs ? 1 : -1;
			break;
		}
		n = (size_t)(nl - (buf + off));
		if (n + 1 > JOURNAL_LINE_MAX)
			r = fault(s, JFAULT_RECORD, seg, s->last_seq + 1,
			    (off_t)off, "a line longer than %d bytes",
			    JOURNAL_LINE_MAX);
		else
			r = scan_line(s, seg, (off_t)off, buf + off, n, nl + 1,
			    len - (off + n + 1));
		if (r == 0) {
			off += n + 1;
			s->good_off = (off_t)off;
			s->good_seg = seg;
		}
	}
	free(buf);
	return r;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct jscan_seg *x = a, *y = b;

	return x->first_seq < y->first_seq ? -1 :
	    x->first_seq > y->first_seq;
}

/* "journal-" + 20 digits + ".jsonl", and nothing else, is a segment. */
static int
seg_parse(const char *name, uint64_t *seq)
{
	char back[JOURNAL_NAME_MAX];
	int64_t v;
	char digits[SEG_DIGITS + 1];

	if (strlen(name) != strlen(SEG_PREFIX) + SEG_DIGITS +
	    strlen(SEG_SUFFIX) || strncmp(name, SEG_PREFIX,
	    strlen(SEG_PREFIX)) != 0)
		return -1;
	memcpy(digits, name + strlen(SEG_PREFIX), SEG_DIGITS);
	digits[SEG_DIGITS] = '\0';
	if (parse_i64(digits, 1, INT64_MAX, &v) == -1)
		return -1;
	jseg_name(back, sizeof(back), (uint64_t)v);
	if (strcmp(back, name) != 0)
		return -1;
	*seq = (uint64_t)v;
	return 0;
}

static int
list_segments(int dirfd, struct jscan *s)
{
	struct dirent *de;
	DIR *d;
	uint64_t seq;
	int fd;

	if ((fd = dup(dirfd)) == -1 || (d = fdopendir(fd)) == NULL)
		return fault(s, JFAULT_IO, SIZE_MAX, 0, 0, "cannot list the "
		    "journal directory: %s", strerror(errno));
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (seg_parse(de->d_name, &seq) == -1)
			continue;
		if (s->nsegs == JOURNAL_SEGMENTS_MAX) {
			closedir(d);
			return fault(s, JFAULT_IO, SIZE_MAX, 0, 0, "more "
			    "than %d segments", JOURNAL_SEGMENTS_MAX);
		}
		if ((s->segs = reallocarray(s->segs, s->nsegs + 1,
		    sizeof(*s->segs))) == NULL)
			fatal("%s: reallocarray", __func__);
		memset(&s->segs[s->nsegs], 0, sizeof(s->segs[0]));
		s->segs[s->nsegs++].first_seq = seq;
	}
	closedir(d);
	if (s->nsegs > 1)
		qsort(s->segs, s->nsegs, sizeof(*s->segs), seg_cmp);
	s->sum.segments = s->nsegs;
	return 0;
}

static int
head_read(int dirfd, struct jscan *s)
{
	cJSON *root, *seq, *hash;
	char *buf;
	size_t len;
	int r = 0;

	if (jscan_read_file(dirfd, JHEAD_NAME, &buf, &len, 4096) == -1) {
		if (errno == ENOENT)
			return 0;
		head_fault(s, SIZE_MAX, 0, 0, "cannot read %s: %s",
		    JHEAD_NAME, strerror(errno));
		return 0;
	}
	root = cJSON_ParseWithLength(buf, len);
	seq = cJSON_GetObjectItemCaseSensitive(root, "seq");
	hash = cJSON_GetObjectItemCaseSensitive(root, "hash");
	if (!cJSON_IsNumber(seq) || seq->valuedouble < 0 ||
	    seq->valuedouble != (double)(uint64_t)seq->valuedouble ||
	    hex_hash(hash, s->head_hash) == -1)
		head_fault(s, SIZE_MAX, 1, 0, "%s is not a valid head file "
		    "(head file altered)", JHEAD_NAME);
	else {
		s->have_head = 1;
		s->head_seq = (uint64_t)seq->valuedouble;
		s->sum.head_seq = s->head_seq;
	}
	cJSON_Delete(root);
	free(buf);
	return r;
}

/* After the chain: the head must not point past its end. */
static void
head_check(struct jscan *s)
{
	size_t last = s->nsegs > 0 ? s->nsegs - 1 : SIZE_MAX;

	if (!s->have_head && s->sum.records > 0)
		head_fault(s, last, s->sum.first_seq, 0, "%s is missing",
		    JHEAD_NAME);
	if (s->have_head && s->head_seq > s->last_seq)
		head_fault(s, last, s->last_seq + 1, s->good_off, "the "
		    "journal ends at seq %" PRIu64 " but %s says %" PRIu64
		    " (truncated tail)", s->last_seq, JHEAD_NAME,
		    s->head_seq);
}

int
jscan_run(int dirfd, struct jscan *s)
{
	size_t i;
	int r = 0;

	memset(&s->fault, 0, sizeof(s->fault));
	memset(&s->head_fault, 0, sizeof(s->head_fault));
	if (head_read(dirfd, s) == -1 || list_segments(dirfd, s) == -1)
		return -1;
	for (i = 0; i < s->nsegs && r == 0; i++)
		r = scan_segment(dirfd, s, i);
	if (s->sum.records > 0)
		jhex(s->sum.last_hash, s->last_hash);
	/* A cut chain cannot be held against the head. */
	if (r >= 0)
		head_check(s);
	if (r != 0 || s->head_fault.kind != JFAULT_NONE)
		return -1;
	return 0;
}

const struct journal_fault *
jscan_first_fault(const struct jscan *s)
{
	if (s->fault.kind == JFAULT_NONE)
		return &s->head_fault;
	if (s->head_fault.kind == JFAULT_NONE ||
	    s->fault.seq <= s->head_fault.seq)
		return &s->fault;
	return &s->head_fault;
}

void
jscan_free(struct jscan *s)
{
	free(s->segs);
	s->segs = NULL;
	s->nsegs = 0;
}
