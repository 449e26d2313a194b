/*
 * For unit tests of dino-broker.conf(5): a configuration parsed from a
 * string, and a check that an error was reported at a line.
 */
#ifndef CONFTEXT_H
#define CONFTEXT_H

#include <stdio.h>
#include <string.h>

#include "../../broker/config.h"

static struct broker_config *
parse(const char *text, struct config_errors *errs)
{
	return config_parse("test.conf", text, strlen(text), errs);
}

/* True when errs holds an error at line whose message contains what. */
static int
has_error(const struct config_errors *errs, int line, const char *what)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		if (errs->e[i].line == line &&
		    strstr(errs->e[i].msg, what) != NULL)
			return 1;
	for (i = 0; i < errs->n; i++)
		printf("# error at %d: %s\n", errs->e[i].line, errs->e[i].msg);
	return 0;
}

#endif
