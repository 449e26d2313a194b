/*
 * Strict JSON intake on top of cJSON.  cJSON accepts duplicate keys, decodes
 * "\u0000" into a string-ending NUL and stores every number as a double; the
 * helpers here close those gaps so each input path can fail closed.
 */
#ifndef DINO_JSON_H
#define DINO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

/*
 * Parses exactly len bytes (no NUL byte, no "\u0000" escape, nothing but
 * white space after the value), nested at most max_depth deep, with no
 * duplicate member name in any object.  On failure returns NULL and points
 * *why at a static, human-readable reason.
 */
cJSON	*json_parse_strict(const char *buf, size_t len, int max_depth,
	    const char **why);

/*
 * An integral number within [min, max]: 12, 1.2e3 and 100.0 are integers,
 * 1.5, 1e400 and NaN are not.  Returns 0, or -1 with *why set.
 */
int	json_get_int(const cJSON *item, int64_t min, int64_t max,
	    int64_t *out, const char **why);

/*
 * A string member whose bytes are valid UTF-8 without control characters,
 * minlen..maxlen bytes long.  Returns the string, or NULL with *why set.
 */
const char *json_get_text(const cJSON *item, size_t minlen, size_t maxlen,
	    const char **why);

/*
 * An object built on the caller's stack and printed by cJSON itself, so
 * that escaping and layout stay cJSON's: no allocation per member, and no
 * tree to free.  Names and string values are referenced, not copied, and
 * must outlive the print.  Integers up to 15 digits are printed here and
 * added raw: "%1.15g", which cJSON prints every number with, gives their
 * plain digits too, and the sprintf plus sscanf were a tenth of a create.
 * Larger ones stay cJSON numbers, printed (and rounded) as cJSON does.
 * Running out of nodes is a programming error (fatal).
 */
#define JSON_STACK_NODES	32

struct json_stack {
	cJSON		 node[JSON_STACK_NODES];
	char		 num[JSON_STACK_NODES][24];
	size_t		 n;
};

/* A new object: the root (parent NULL, name unused) or parent's member. */
cJSON	*json_stack_obj(struct json_stack *s, cJSON *parent, const char *name);
void	 json_stack_str(struct json_stack *s, cJSON *o, const char *name,
	    const char *v);
void	 json_stack_int(struct json_stack *s, cJSON *o, const char *name,
	    int64_t v);
/* text is printed JSON, copied as it is (cJSON's raw item). */
void	 json_stack_raw(struct json_stack *s, cJSON *o, const char *name,
	    const char *text);

/*
 * A print buffer that is kept and only grows, so that printing costs no
 * allocation of its own (cJSON's printer starts small and reallocates as
 * it goes).
 */
struct json_kept {
	char		*buf;
	size_t		 size;
};

/* Prints o unformatted into k->buf; returns the length (fatal if huge). */
size_t	json_print_kept(struct json_kept *k, const cJSON *o);
void	json_kept_free(struct json_kept *k);

#endif
