/*
 * The journal's reader, shared by the verifier and by start-up replay
 * (journal.c): lists the segments, checks every record and the chain
 * between them, and the head file against the chain.  Internal to the
 * journal; see journal.h for the format.
 */
#ifndef DINO_BROKER_JSCAN_H
#define DINO_BROKER_JSCAN_H

#include "journal.h"

#define JHEAD_NAME	"head.json"
#define JHEAD_TMP	"head.json.tmp"

struct jscan_seg {
	uint64_t	 first_seq;	/* from the name */
	uint64_t	 last_seq;	/* 0 while empty */
	int64_t		 last_ts_ms;
};

struct jscan {
	journal_record_fn	 fn;
	void			*arg;

	struct jscan_seg	*segs;
	size_t			 nsegs;
	uint64_t		 last_seq;	/* of the last good record */
	unsigned char		 last_hash[JOURNAL_HASH_LEN];
	off_t			 good_off;	/* its end, in the segment of */
	size_t			 good_seg;	/* ... this index */
	int			 have_head;
	uint64_t		 head_seq;
	unsigned char		 head_hash[JOURNAL_HASH_LEN];
	struct journal_summary	 sum;
	struct journal_fault	 fault;		/* the chain's first fault */
	struct journal_fault	 head_fault;	/* head.json disagrees */
};

/*
 * 0 for an intact journal; -1 with s->fault (the chain: kind other than
 * JFAULT_NONE), s->head_fault (head.json), or both set.  A wrong head does
 * not stop the scan, so the whole chain is still checked and replayed.
 */
int	jscan_run(int dirfd, struct jscan *s);
/* The fault to report: the one with the lower seq. */
const struct journal_fault *jscan_first_fault(const struct jscan *s);
void	jscan_free(struct jscan *s);

/* A whole regular file of at most max bytes, into a malloc'd *buf. */
int	jscan_read_file(int dirfd, const char *name, char **buf, size_t *len,
	    off_t max);

void	jseg_name(char *buf, size_t len, uint64_t first_seq);
void	jhex(char out[JOURNAL_HEX_LEN + 1], const unsigned char *h);

#endif
