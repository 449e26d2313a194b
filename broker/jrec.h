/*
 * The broker's journal records about spends: the fields of intent,
 * outcome and status records, built with cJSON from typed values (never a
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

/* A spend object in Dino's own shape (dino_parse_spend reads it back). */
cJSON	*jrec_spend(const struct spend_obj *s);
/* principal, caller, account, agent label, keys, canonical request. */
cJSON	*jrec_intent(const struct intent *in);
/* Dino's definitive answer to the create of in. */
cJSON	*jrec_outcome(const struct intent *in, const struct dino_result *res);
/* A later status change of in, from status from. */
cJSON	*jrec_status(const struct intent *in, const char *from);

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
