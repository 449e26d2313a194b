#define _GNU_SOURCE
#include <math.h>
#include <string.h>

#include "json.h"
#include "dinolimits.h"
#include "util.h"

/*
 * Recursion is bounded by max_depth (at most JSON_WALK_MAX), and an object
 * may hold at most JSON_MEMBERS_MAX members, which keeps the quadratic
 * duplicate scan small.
 */
static int
json_check_tree(const cJSON *node, int depth, int max_depth, const char **why)
{
	const cJSON *a, *b;
	int n = 0;

	if (depth > max_depth) {
		*why = "nested too deep";
		return -1;
	}
	for (a = node->child; a != NULL; a = a->next) {
		if (++n > JSON_MEMBERS_MAX) {
			*why = "too many members";
			return -1;
		}
		if (cJSON_IsObject(node))
			for (b = a->next; b != NULL; b = b->next)
				if (strcmp(a->string, b->string) == 0) {
					*why = "duplicate member name";
					return -1;
				}
		if ((cJSON_IsObject(a) || cJSON_IsArray(a)) &&
		    json_check_tree(a, depth + 1, max_depth, why) == -1)
			return -1;
	}
	return 0;
}

cJSON *
json_parse_strict(const char *buf, size_t len, int max_depth,
    const char **why)
{
	const char *end = NULL;
	cJSON *root;

	if (len == 0) {
		*why = "empty body";
		return NULL;
	}
	if (memchr(buf, '\0', len) != NULL) {
		*why = "NUL byte in JSON";
		return NULL;
	}
	/*
	 * cJSON would decode \u0000 into a NUL that silently cuts the string;
	 * every string we accept forbids control characters anyway, so the
	 * escape is refused outright.
	 */
	if (memmem(buf, len, "\\u0000", 6) != NULL) {
		*why = "\\u0000 in JSON";
		return NULL;
	}
	root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (root == NULL) {
		*why = "invalid JSON";
		return NULL;
	}
	while (end != NULL && end < buf + len &&
	    (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
		end++;
	if (end != buf + len) {
		*why = "trailing bytes after JSON value";
		cJSON_Delete(root);
		return NULL;
	}
	if (max_depth > JSON_WALK_MAX)
		max_depth = JSON_WALK_MAX;
	if (json_check_tree(root, 1, max_depth, why) == -1) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int
json_get_int(const cJSON *item, int64_t min, int64_t max, int64_t *out,
    const char **why)
{
	double d;

	if (item == NULL) {
		*why = "missing";
		return -1;
	}
	if (!cJSON_IsNumber(item)) {
		*why = "must be an integer";
		return -1;
	}
	d = item->valuedouble;
	if (!isfinite(d) || d != floor(d)) {
		*why = "must be an integer";
		return -1;
	}
	/* Doubles beyond 2^53 are not exact: they can never be in range. */
	if (d < (double)min || d > (double)max) {
		*why = "out of range";
		return -1;
	}
	*out = (int64_t)d;
	return 0;
}

const char *
json_get_text(const cJSON *item, size_t minlen, size_t maxlen,
    const char **why)
{
	size_t len;

	if (item == NULL) {
		*why = "missing";
		return NULL;
	}
	if (!cJSON_IsString(item) || item->valuestring == NULL) {
		*why = "must be a string";
		return NULL;
	}
	len = strlen(item->valuestring);
	if (len < minlen) {
		*why = minlen == 1 ? "must not be empty" : "too short";
		return NULL;
	}
	if (len > maxlen) {
		*why = "too long";
		return NULL;
	}
	if (!text_ok(item->valuestring, len)) {
		*why = "must be valid UTF-8 without control characters";
		return NULL;
	}
	return item->valuestring;
}
