/*
 * JSON output without the heap.  A spend answer built with
 * cJSON_Add*ToObject cost three allocations a member (node, name, value),
 * every integer went through cJSON's double (sprintf "%1.15g", then sscanf
 * to check it) and the printed text was grown by realloc.  Here the nodes
 * live in a struct jout on the caller's stack and point at names and values
 * that outlive the print; integers and times are formatted into their own
 * node; cJSON still prints, and escapes, the whole object, into a static
 * buffer.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"

/*
 * "%1.15g" prints an integer below 10^15 in full, so its plain digits are
 * what cJSON would have printed; a larger one goes through cJSON's double.
 */
#define JOUT_EXACT 1000000000000000LL

static cJSON *
jout_add(struct jout *j, cJSON *obj, const char *name)
{
	cJSON *n, *first;

	if (j->used == nitems(j->n))
		fatalx("jout: more than %zu nodes", nitems(j->n));
	n = &j->n[j->used++].node;
	memset(n, 0, sizeof(*n));
	if (obj == NULL)
		return n;
	/* Names are never owned; cJSON keeps the last member in first->prev. */
	n->string = (char *)name;
	n->type = cJSON_StringIsConst;
	if ((first = obj->child) == NULL) {
		obj->child = n;
		n->prev = n;
	} else {
		first->prev->next = n;
		n->prev = first->prev;
		first->prev = n;
	}
	return n;
}

void
jout_init(struct jout *j)
{
	j->used = 0;
	j->cat[0] = '\0';
}

cJSON *
jout_object(struct jout *j, cJSON *parent, const char *name)
{
	cJSON *n = jout_add(j, parent, name);

	n->type |= cJSON_Object;
	return n;
}

/* val is referenced, not copied: it must outlive the print. */
void
jout_str(struct jout *j, cJSON *obj, const char *name, const char *val)
{
	cJSON *n = jout_add(j, obj, name);

	n->type |= cJSON_String | cJSON_IsReference;
	n->valuestring = (char *)val;
}

void
jout_int(struct jout *j, cJSON *obj, const char *name, int64_t v)
{
	cJSON *n = jout_add(j, obj, name);
	char *text = j->n[j->used - 1].text;

	if (v > -JOUT_EXACT && v < JOUT_EXACT) {
		/* Printed verbatim, and no valuestring is ever freed here. */
		n->type |= cJSON_Raw | cJSON_IsReference;
		fmt_int(text, v);
		n->valuestring = text;
		return;
	}
	n->type |= cJSON_Number;
	n->valuedouble = (double)v;
	n->valueint = v > 0 ? INT32_MAX : INT32_MIN;
}

/*
 * fmt_iso_ms(), with the date and time of day formatted once a second:
 * a spend's three times, and every answer of the same second, share it.
 */
static void
iso_ms(char buf[32], int64_t ms)
{
	static int64_t last_s = -1;
	static char head[32];
	int frac;

	if (ms < 0) {
		fmt_iso_ms(buf, ms);
		return;
	}
	if (ms / 1000 != last_s) {
		fmt_iso_ms(head, ms);
		last_s = ms / 1000;
	}
	frac = (int)(ms % 1000);
	memcpy(buf, head, 20); /* "YYYY-MM-DDTHH:MM:SS." */
	buf[20] = (char)('0' + frac / 100);
	buf[21] = (char)('0' + frac / 10 % 10);
	buf[22] = (char)('0' + frac % 10);
	buf[23] = 'Z';
	buf[24] = '\0';
}

/* a followed by b (a URL base and an id): once per struct jout. */
void
jout_cat(struct jout *j, cJSON *obj, const char *name, const char *a,
    const char *b)
{
	if (j->cat[0] != '\0')
		fatalx("jout: a second joined value");
	if (snprintf(j->cat, sizeof(j->cat), "%s%s", a, b) >= (int)sizeof(j->cat))
		fatalx("jout: joined value too long");
	jout_str(j, obj, name, j->cat);
}

/* An ISO 8601 time in UTC with milliseconds; null for 0 (not yet). */
void
jout_time(struct jout *j, cJSON *obj, const char *name, int64_t ms)
{
	cJSON *n = jout_add(j, obj, name);

	if (ms == 0) {
		n->type |= cJSON_NULL;
		return;
	}
	iso_ms(j->n[j->used - 1].text, ms);
	n->type |= cJSON_String | cJSON_IsReference;
	n->valuestring = j->n[j->used - 1].text;
}

/*
 * Every answer and webhook body of the sandbox fits in this many bytes but
 * the ledger; what does not fit is printed to the heap instead.
 */
#define JOUT_TEXT_MAX 8192

const char *
jout_print(cJSON *root, size_t *len, char **heap)
{
	static char text[JOUT_TEXT_MAX];

	*heap = NULL;
	if (cJSON_PrintPreallocated(root, text, sizeof(text), 0)) {
		*len = strlen(text);
		return text;
	}
	if ((*heap = cJSON_PrintUnformatted(root)) == NULL)
		fatalx("out of memory");
	*len = strlen(*heap);
	return *heap;
}
