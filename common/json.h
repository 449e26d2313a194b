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

#endif
