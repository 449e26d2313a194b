#define _GNU_SOURCE
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "dinolimits.h"
#include "log.h"
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

/* What "%1.15g" prints as plain digits (see json.h). */
#define JSON_RAW_INT_MAX	999999999999999LL
/* The size of the first kept print buffer; it doubles while too small. */
#define JSON_KEPT_START		4096

/* A node's text holds fmt_int()'s digits and fmt_iso_ms()'s time. */
_Static_assert(JSON_STACK_TEXT >= FMT_INT_SIZE && JSON_STACK_TEXT >= 32,
    "JSON_STACK_TEXT too small");

static cJSON *
stack_node(struct json_stack *s, cJSON *parent, const char *name, int type)
{
	cJSON *n;

	if (s->n >= JSON_STACK_NODES)
		fatalx("%s: out of nodes", __func__);
	n = &s->node[s->n++];
	memset(n, 0, sizeof(*n));
	/* Referenced: nothing here is ever freed by cJSON. */
	n->type = type | cJSON_IsReference | cJSON_StringIsConst;
	if (parent == NULL)
		return n;
	n->string = (char *)name;
	/* cJSON's own linking: the first child's prev is the last child. */
	if (parent->child == NULL) {
		parent->child = n;
		n->prev = n;
	} else {
		n->prev = parent->child->prev;
		parent->child->prev->next = n;
		parent->child->prev = n;
	}
	return n;
}

cJSON *
json_stack_init(struct json_stack *s)
{
	s->n = 0;
	return stack_node(s, NULL, NULL, cJSON_Object);
}

cJSON *
json_stack_obj(struct json_stack *s, cJSON *o, const char *name)
{
	return stack_node(s, o, name, cJSON_Object);
}

void
json_stack_str(struct json_stack *s, cJSON *o, const char *name,
    const char *v)
{
	stack_node(s, o, name, cJSON_String)->valuestring = (char *)v;
}

void
json_stack_null(struct json_stack *s, cJSON *o, const char *name)
{
	stack_node(s, o, name, cJSON_NULL);
}

void
json_stack_bool(struct json_stack *s, cJSON *o, const char *name, int v)
{
	stack_node(s, o, name, v ? cJSON_True : cJSON_False);
}

void
json_stack_raw(struct json_stack *s, cJSON *o, const char *name,
    const char *text)
{
	stack_node(s, o, name, cJSON_Raw)->valuestring = (char *)text;
}

char *
json_stack_strbuf(struct json_stack *s, cJSON *o, const char *name)
{
	cJSON *n = stack_node(s, o, name, cJSON_String);

	n->valuestring = s->text[n - s->node];
	n->valuestring[0] = '\0';
	return n->valuestring;
}

void
json_stack_digits(struct json_stack *s, cJSON *o, const char *name,
    int64_t v)
{
	cJSON *n = stack_node(s, o, name, cJSON_Raw);

	n->valuestring = s->text[n - s->node];
	fmt_int(n->valuestring, v);
}

void
json_stack_int(struct json_stack *s, cJSON *o, const char *name, int64_t v)
{
	cJSON *n;

	if (v > JSON_RAW_INT_MAX || v < -JSON_RAW_INT_MAX) {
		n = stack_node(s, o, name, cJSON_Number);
		n->valuedouble = (double)v;
		n->valueint = v > 0 ? INT_MAX : INT_MIN;
		return;
	}
	json_stack_digits(s, o, name, v);
}

size_t
json_print_kept(struct json_kept *k, const cJSON *o)
{
	size_t size;

	while (k->buf == NULL || !cJSON_PrintPreallocated((cJSON *)o, k->buf,
	    (int)k->size, 0)) {
		size = k->size == 0 ? JSON_KEPT_START : k->size * 2;
		if (size > INT_MAX)
			fatalx("%s: too large to print", __func__);
		free(k->buf);
		if ((k->buf = malloc(size)) == NULL)
			fatal("%s: malloc", __func__);
		k->size = size;
	}
	return strlen(k->buf);
}

void
json_kept_free(struct json_kept *k)
{
	free(k->buf);
	k->buf = NULL;
	k->size = 0;
}

const char *
json_print_buf(const cJSON *o, char *buf, size_t size, size_t *len,
    char **heap)
{
	const char *text = buf;

	*heap = NULL;
	if (size > INT_MAX ||
	    !cJSON_PrintPreallocated((cJSON *)o, buf, (int)size, 0)) {
		if ((*heap = cJSON_PrintUnformatted(o)) == NULL)
			return NULL;
		text = *heap;
	}
	*len = strlen(text);
	return text;
}
