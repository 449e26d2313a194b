/*
 * A minimal TAP producer for the unit tests: each CHECK prints "ok" or
 * "not ok" with the expression and line, so tests/run-tests.sh can count.
 */
#ifndef DINO_TAP_H
#define DINO_TAP_H

#include <stdio.h>

static int tap_failed;

#define CHECK(cond, name)                                                   \
	do {                                                                \
		if (cond)                                                   \
			printf("ok - %s\n", (name));                        \
		else {                                                      \
			printf("not ok - %s (%s:%d: %s)\n", (name),         \
			    __FILE__, __LINE__, #cond);                     \
			tap_failed++;                                       \
		}                                                           \
		fflush(stdout);                                             \
	} while (0)

#define TAP_DONE() (tap_failed != 0)

#endif
