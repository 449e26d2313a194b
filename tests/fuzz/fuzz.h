/*
 * Shared bits of the libFuzzer harnesses (tests/fuzz/fuzz_*.c).  Each
 * harness feeds one input path its bytes exactly as a peer would send
 * them, and turns a broken promise of that path's contract (an accepted
 * input the next stage refuses, an encoder that disagrees with its
 * decoder) into an abort, so the fuzzer reports it like a crash.
 */
#ifndef DINO_FUZZ_H
#define DINO_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

/* Logs below LOG_CRIT would only slow the fuzzer down. */
static inline void
fuzz_quiet(const char *prog)
{
	log_init(prog, LOG_CRIT);
}

/* A NUL-terminated, heap-allocated copy, so ASan sees every overread. */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#define FUZZ_ASSERT(c, what) do {					\
	if (!(c)) {							\
		fprintf(stderr, "fuzz: contract broken: %s\n", what);	\
		abort();						\
	}								\
} while (0)

#endif
