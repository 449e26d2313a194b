/*
 * Unit tests for frontend/wait.c's strict reading of wait_spend's query:
 * absent (the default), or exactly timeout_s=N with 1-3 digits, 0..max.
 */
#include <stdio.h>
#include <string.h>

#include "../../frontend/frontend.h"
#include "dinolimits.h"
#include "tap.h"

static int
ok(const char *q, unsigned max, uint32_t want)
{
	const char *why;
	uint32_t v = 12345;

	return fe_wait_timeout_parse(q, max, &v, &why) == 0 && v == want;
}

static int
bad(const char *q, unsigned max)
{
	const char *why = NULL;
	uint32_t v;

	return fe_wait_timeout_parse(q, max, &v, &why) == -1 && why != NULL;
}

int
main(void)
{
	CHECK(ok(NULL, 300, FRONTEND_WAIT_DEFAULT_S), "absent: the default");
	CHECK(ok(NULL, 10, 10), "the default never exceeds the maximum");
	CHECK(ok("timeout_s=0", 300, 0), "0");
	CHECK(ok("timeout_s=1", 300, 1), "1");
	CHECK(ok("timeout_s=300", 300, 300), "300");
	CHECK(ok("timeout_s=030", 300, 30), "leading zero, 3 digits");
	CHECK(bad("timeout_s=301", 300), "301");
	CHECK(bad("timeout_s=61", 60), "above the broker's maximum");
	CHECK(bad("timeout_s=", 300), "empty");
	CHECK(bad("timeout_s=-1", 300), "negative");
	CHECK(bad("timeout_s=+1", 300), "plus sign");
	CHECK(bad("timeout_s=1.5", 300), "fraction");
	CHECK(bad("timeout_s=1e2", 300), "exponent");
	CHECK(bad("timeout_s=0005", 300), "four digits");
	CHECK(bad("timeout_s= 5", 300), "space");
	CHECK(bad("timeout_s=5&timeout_s=6", 300), "repeated");
	CHECK(bad("timeout_s=5&x=1", 300), "another parameter");
	CHECK(bad("x=1", 300), "an unknown parameter");
	CHECK(bad("", 300), "an empty query");
	CHECK(bad("TIMEOUT_S=5", 300), "case matters");
	CHECK(bad("timeout_s=99999999999", 300), "overflow");
	return TAP_DONE();
}
