/*
 * The broker's journal records about spends: the fields of intent,
 * outcome and status records, printed by cJSON from typed values (never a
 * key, a secret or a header), and their replay at start-up, which rebuilds
 * the intent table, each principal's rolling cap and rate window, and
 * finds the intents Dino has not answered yet.
 */
#ifndef DINO_BROKER_JREC_H
#define DINO_BROKER_JREC_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "intent.h"
#include "journal.h"

struct dino_result;
struct webhook;

/*
 * Appends the intent record of in: principal, caller, account, agent
 * label, keys, canonical request (journal_append()'s return and cb).
 */
int	jrec_append_intent(struct journal *j, const struct intent *in,
	    journal_cb cb, void *arg);
/* Appends the record of Dino's definitive answer to the create of in. */
void	jrec_append_outcome(struct journal *j, const struct intent *in,
	    const struct dino_result *res);
/* Appends the record of a later status change of in, from status from. */
void	jrec_append_status(struct journal *j, const struct intent *in,
	    const char *from);

struct replay {
	struct broker_config	*cfg;
	struct intent_table	*intents;
	size_t			 records;
	size_t			 intents_added;
	size_t			 outcomes;
	size_t			 orphans;	/* principal or account gone */
	struct webhook		*webhook;	/* seen event ids, or NULL */
	struct ops		*ops;		/* operator state, or NULL */
};

/* A journal_record_fn: applies one verified record to r (a replay). */
int	replay_record(const struct journal_rec *rec, void *r);

/*
 * Opens b->cfg's journal, replays it into b->intents (and the principals'
 * usage), and records start and config_load; fatal, naming the segment
 * and seq, when the journal is damaged and recover is 0.
 */
struct broker;
void	jrec_open(struct broker *b, const char *config_path, int recover);
/* Records stop, writes what is queued, and closes the journal. */
void	jrec_close(struct broker *b, size_t open_intents);

#endif
