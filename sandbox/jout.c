/*
 * JSON output without the heap: the sandbox's spend answers and webhook
 * bodies are built with json.h's stack nodes (struct json_stack), which
 * cJSON prints and escapes.  Here only what the sandbox alone needs on
 * top: the one joined member, its times, and the print into a static
 * buffer.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "sandbox.h"
#include "util.h"

cJSON *
jout_init(struct jout *j)
{
	j->cat[0] = '\0';
	return json_stack_init(&j->js);
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
	json_stack_str(&j->js, obj, name, j->cat);
}

/*
 * An ISO 8601 time in UTC with milliseconds (fmt_iso_ms(), which formats
 * the date and time of day once a second); null for 0 (not yet).
 */
void
jout_time(struct jout *j, cJSON *obj, const char *name, int64_t ms)
{
	if (ms == 0)
		json_stack_null(&j->js, obj, name);
	else
		fmt_iso_ms(json_stack_strbuf(&j->js, obj, name), ms);
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
	const char *s;

	if ((s = json_print_buf(root, text, sizeof(text), len, heap)) == NULL)
		fatalx("out of memory");
	return s;
}
