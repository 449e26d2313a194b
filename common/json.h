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
 * A JSON object whose nodes live in a struct json_stack on the caller's
 * stack, printed by cJSON itself, so that escaping and layout stay
 * cJSON's.  Built per answer or record by the journal (records), the
 * sandbox (spend answers, webhook bodies) and the frontend (answers):
 * with cJSON_Add*ToObject each member cost up to three allocations (node,
 * name, value), every integer a sprintf and an sscanf, and freeing the
 * tree as much again.
 *
 * The contract:
 * - Names and string values are referenced, not copied: they must
 *   outlive the print.  Nothing is allocated, and such a tree is never
 *   passed to cJSON_Delete().
 * - json_stack_init() starts over and returns the root object; every
 *   other call adds a member to the object o, in call order.
 * - json_stack_int() prints an integer byte for byte as cJSON does
 *   ("%1.15g"): plain digits below 10^15 in magnitude, printed here with
 *   fmt_int() and added raw; larger ones are cJSON numbers (a double),
 *   which cJSON prints rounded to 15 or 17 digits, 1e+15 style.  For
 *   output that must match what cJSON_AddNumberToObject() printed.
 * - json_stack_digits() prints an integer as its plain digits always,
 *   never in exponent form (the frontend's cents: some clients read
 *   1e+15 as a float).
 * - json_stack_strbuf() adds a string member whose value is the node's
 *   own JSON_STACK_TEXT bytes, for the caller to fill (a time).
 * - More than JSON_STACK_NODES nodes, the root included, is a
 *   programming error and fatal: every user's shapes are fixed (the
 *   largest, a journal outcome record with its spend, has 23 nodes), and
 *   each user's largest is built by its unit tests.
 */
#define JSON_STACK_NODES	32
#define JSON_STACK_TEXT		32	/* an integer's digits, or a time */

struct json_stack {
	cJSON		 node[JSON_STACK_NODES];
	char		 text[JSON_STACK_NODES][JSON_STACK_TEXT];
	size_t		 n;
};

cJSON	*json_stack_init(struct json_stack *s);
cJSON	*json_stack_obj(struct json_stack *s, cJSON *o, const char *name);
void	 json_stack_str(struct json_stack *s, cJSON *o, const char *name,
	    const char *v);
void	 json_stack_null(struct json_stack *s, cJSON *o, const char *name);
void	 json_stack_bool(struct json_stack *s, cJSON *o, const char *name,
	    int v);
void	 json_stack_int(struct json_stack *s, cJSON *o, const char *name,
	    int64_t v);
void	 json_stack_digits(struct json_stack *s, cJSON *o, const char *name,
	    int64_t v);
/* text is printed JSON, copied as it is (cJSON's raw item). */
void	 json_stack_raw(struct json_stack *s, cJSON *o, const char *name,
	    const char *text);
char	*json_stack_strbuf(struct json_stack *s, cJSON *o, const char *name);

/*
 * Printing without cJSON_PrintUnformatted(), whose buffer starts small
 * and is grown by realloc as it prints, then returned on the heap.  Both
 * print what it prints, byte for byte.
 *
 * json_print_kept(): into a buffer that is kept between calls and only
 * grows (doubling from 4 KiB), for a caller that prints often and copies
 * the text out (the journal); no allocation once it is large enough.
 * Returns the length; fatal past INT_MAX bytes.
 */
struct json_kept {
	char		*buf;
	size_t		 size;
};

size_t	json_print_kept(struct json_kept *k, const cJSON *o);
void	json_kept_free(struct json_kept *k);

/*
 * json_print_buf(): into the caller's buf of size bytes when the text fits
 * there (*heap set to NULL), else by cJSON_PrintUnformatted() into *heap,
 * for cJSON_free().  Returns the text, with its length in *len, or NULL
 * when memory ran out.  For callers whose answers almost always fit a
 * fixed buffer (the sandbox's static one, the frontend's on the stack)
 * and where a rare large one (the sandbox's ledger) should not leave a
 * large buffer behind.
 */
const char *json_print_buf(const cJSON *o, char *buf, size_t size,
	    size_t *len, char **heap);

#endif
