/*
 * For the tests of JSON built on the stack (json.h and its users): the
 * printed text must be, byte for byte, what cJSON prints for the same
 * object built on the heap.
 */
#ifndef DINO_SAMEJSON_H
#define DINO_SAMEJSON_H

#include <stdio.h>
#include <string.h>

#include <cJSON.h>

/* text (len bytes, or NULL) against want, which is freed here. */
static int
same_json(const char *text, size_t len, cJSON *want, const char *name)
{
	char *ref = cJSON_PrintUnformatted(want);
	int ok;

	ok = text != NULL && ref != NULL && strlen(ref) == len &&
	    memcmp(ref, text, len) == 0;
	if (!ok)
		printf("# %s\n#  got  %s\n#  want %s\n", name,
		    text != NULL ? text : "(null)", ref != NULL ? ref : "(null)");
	cJSON_free(ref);
	cJSON_Delete(want);
	return ok;
}

#endif
