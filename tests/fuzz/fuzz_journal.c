/*
 * The journal's record parser (broker/jscan.c) and start-up replay
 * (broker/jrec.c): a segment file read back at start-up.
 *
 * Input: byte 0 picks the mode.  Bit 0 clear: the rest is the segment's
 * bytes as they are on disk, which exercises framing, the member checks
 * and the hash check.  Bit 0 set: each line of the rest is a record
 * without its chain, "{\"seq\":..,\"ts\":..,\"type\":..,\"fields\":{..}",
 * and the harness appends the prev and hash members the journal would
 * have written, so records reach replay_record() and the intent table.
 * The segment is written to a private directory, as jscan_run() reads a
 * directory; the replay runs against a small fixed configuration.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <unistd.h>

#include <sodium.h>

#include "fuzz.h"

#include "../../broker/config.h"
#include "../../broker/intent.h"
#include "../../broker/jrec.h"
#include "../../broker/jscan.h"

#define SEGMENT	"journal-00000000000000000001.jsonl"

static char dir[64];
static int dirfd_ = -1;
static struct broker_config cfg;

static void
cleanup(void)
{
	if (dirfd_ != -1)
		unlinkat(dirfd_, SEGMENT, 0);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	fuzz_quiet("fuzz_journal");
	if (sodium_init() == -1)
		abort();
	snprintf(dir, sizeof(dir), "%s/fuzz_journal.XXXXXX",
	    tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL ||
	    (dirfd_ = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		abort();
	atexit(cleanup);
	if ((cfg.principals = calloc(1, sizeof(*cfg.principals))) == NULL)
		abort();
	cfg.nprincipals = 1;
	strcpy(cfg.principals[0].id, "uid:1000");
	cfg.naccounts = 1;
	strcpy(cfg.accounts[0].name, "main");
	strcpy(cfg.instance_id, "fuzz");
	return 0;
}

/* Appends the chain members to each line, as journal.c writes them. */
static char *
chain(const uint8_t *data, size_t size, size_t *outlen)
{
	static const char hsuf[] = ",\"hash\":\"";
	unsigned char prev[JOURNAL_HASH_LEN] = { 0 }, h[JOURNAL_HASH_LEN];
	char hex[JOURNAL_HEX_LEN + 1], *out, *p;
	crypto_generichash_state st;
	const uint8_t *l, *nl, *end = data + size;
	size_t n, cap, lines = 1;

	for (l = data; l < end; l++)
		lines += *l == '\n';
	cap = size + lines * (2 * JOURNAL_HEX_LEN + 32);
	if ((out = malloc(cap)) == NULL)
		abort();
	p = out;
	for (l = data; l < end; l = nl + 1) {
		if ((nl = memchr(l, '\n', (size_t)(end - l))) == NULL)
			nl = end;
		n = (size_t)(nl - l);
		memcpy(p, l, n);
		jhex(hex, prev);
		n += (size_t)sprintf(p + n, ",\"prev\":\"%s\"", hex);
		crypto_generichash_init(&st, NULL, 0, sizeof(h));
		crypto_generichash_update(&st, (unsigned char *)p, n);
		crypto_generichash_update(&st, (const unsigned char *)"}", 1);
		crypto_generichash_final(&st, h, sizeof(h));
		jhex(hex, h);
		n += (size_t)sprintf(p + n, "%s%s\"}\n", hsuf, hex);
		memcpy(prev, h, sizeof(prev));
		p += n;
	}
	*outlen = (size_t)(p - out);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay rp;
	struct jscan s;
	char *seg;
	size_t len;
	int fd;

	if (size < 1 || size > JOURNAL_LINE_MAX * 2)
		return 0;
	if (data[0] & 1)
		seg = chain(data + 1, size - 1, &len);
	else {
		seg = fuzz_strndup(data + 1, size - 1);
		len = size - 1;
	}
	if ((fd = openat(dirfd_, SEGMENT, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600)) == -1 || write(fd, seg, len) != (ssize_t)len)
		abort();
	close(fd);
	free(seg);

	memset(&rp, 0, sizeof(rp));
	rp.cfg = &cfg;
	rp.intents = intent_table_new();
	memset(&s, 0, sizeof(s));
	s.fn = replay_record;
	s.arg = &rp;
	(void)jscan_run(dirfd_, &s);
	(void)jscan_first_fault(&s);
	jscan_free(&s);
	intent_table_free(rp.intents);
	return 0;
}
