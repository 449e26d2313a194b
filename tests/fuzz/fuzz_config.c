/*
 * The broker's configuration parser (broker/config.c), from a buffer
 * exactly as config_load() hands the file's bytes over.  Every input ends
 * in a config or in a list of errors, never in a crash or a leak.
 */
#include "fuzz.h"

#include "../../broker/config.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet("fuzz_config");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config_errors errs;
	struct broker_config *cfg;
	char *buf;

	if (size > BROKER_CONFIG_MAX)
		return 0;
	if ((buf = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	cfg = config_parse("fuzz.conf", buf, size, &errs);
	FUZZ_ASSERT((cfg != NULL) == (errs.n == 0),
	    "a config with errors, or no config and no error");
	config_free(cfg);
	free(buf);
	return 0;
}
