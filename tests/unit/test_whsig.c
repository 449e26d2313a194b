/*
 * Known-answer tests for the webhook signature scheme (dino-api.md Part A),
 * so the signer and every verifier agree with the public specs.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "tap.h"
#include "whsig.h"

int
main(void)
{
	static const char secret[] = "whsec_test_secret";
	static const char body[] = "{\"id\":\"evt_test_webhook\","
				   "\"object\":\"event\"}";
	static const char v1[] = "d95c6b7477fbd7e9f90b1b0ef5f9c7ac"
				 "25abca5382460e0d988c2b2a5b71b990";
	static const char gh_key[] = "It's a Secret to Everybody";
	static const char gh_body[] = "Hello, World!";
	static const char gh_hex[] = "757107ea0eb2509fc211221cce984b8a"
				     "37570b6d7586c22c46f4379c8b043e17";
	char hex[WHSIG_HEX_LEN + 1], hdr[WHSIG_HEADER_MAX], small[16];

	if (sodium_init() == -1)
		return 1;
	whsig_v1_hex(
	    secret, strlen(secret), 1700000000, body, strlen(body), hex);
	CHECK(strcmp(hex, v1) == 0, "v1 matches the Stripe-style vector");

	whsig_legacy_hex(gh_key, strlen(gh_key), gh_body, strlen(gh_body), hex);
	CHECK(strcmp(hex, gh_hex) == 0, "legacy matches the body-only vector");

	CHECK(whsig_header(secret, strlen(secret), 1700000000, body,
		  strlen(body), hdr, sizeof(hdr)) == 0,
	    "header fits");
	CHECK(strcmp(hdr,
		  "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac"
		  "25abca5382460e0d988c2b2a5b71b990") == 0,
	    "header value");
	CHECK(whsig_header(secret, strlen(secret), 1700000000, body,
		  strlen(body), small, sizeof(small)) == -1,
	    "short buffer refused");

	/* The timestamp is part of the signed string. */
	whsig_v1_hex(
	    secret, strlen(secret), 1700000001, body, strlen(body), hex);
	CHECK(strcmp(hex, v1) != 0, "another t gives another v1");
	/* The whsec_ prefix is part of the key, not stripped. */
	whsig_v1_hex("test_secret", 11, 1700000000, body, strlen(body), hex);
	CHECK(strcmp(hex, v1) != 0, "the prefix is part of the key");
	/* A zero-length body still signs "<t>.". */
	whsig_v1_hex(secret, strlen(secret), 0, "", 0, hex);
	CHECK(strlen(hex) == WHSIG_HEX_LEN, "empty body signs");

	/* Verification, as a receiver does it. */
	{
		const char *why = NULL;
		char two[256];

		CHECK(whsig_verify(secret, strlen(secret),
			  "t=1700000000,v1=d95c6b7477fbd7e9f90b1b0ef5f9c7ac"
			  "25abca5382460e0d988c2b2a5b71b990",
			  body, strlen(body), 1700000000, 300, &why) == 0,
		    "verify the Stripe-style vector");
		CHECK(whsig_verify(secret, strlen(secret),
			  "t=1700000000,v1=D95C6B7477FBD7E9F90B1B0EF5F9C7AC"
			  "25ABCA5382460E0D988C2B2A5B71B990",
			  body, strlen(body), 1700000000, 300, &why) == 0,
		    "uppercase hex accepted");
		CHECK(whsig_verify(secret, strlen(secret), hdr, body,
			  strlen(body) - 1, 1700000000, 300, &why) == -1,
		    "a changed body fails");
		CHECK(whsig_verify("whsec_other", 11, hdr, body, strlen(body),
			  1700000000, 300, &why) == -1,
		    "another secret fails");
		CHECK(whsig_verify(secret, strlen(secret), hdr, body,
			  strlen(body), 1700000301, 300, &why) == -1,
		    "too old fails");
		CHECK(whsig_verify(secret, strlen(secret), hdr, body,
			  strlen(body), 1699999699, 300, &why) == -1,
		    "too far in the future fails");
		CHECK(whsig_verify(secret, strlen(secret), hdr, body,
			  strlen(body), 1700000300, 300, &why) == 0,
		    "at the tolerance edge passes");
		snprintf(two, sizeof(two),
		    "t=1700000000, v1=%064d, v0=abc, v1=%s", 0, v1);
		CHECK(whsig_verify(secret, strlen(secret), two, body,
			  strlen(body), 1700000000, 300, &why) == 0,
		    "any of several v1 entries matches");
		CHECK(whsig_verify(secret, strlen(secret), "v1=abc", body,
			  strlen(body), 1700000000, 300, &why) == -1,
		    "missing t fails");
		CHECK(whsig_verify(secret, strlen(secret), "t=1700000000", body,
			  strlen(body), 1700000000, 300, &why) == -1,
		    "missing v1 fails");
		CHECK(whsig_verify(secret, strlen(secret), "t=-5,v1=00", body,
			  strlen(body), 1700000000, 300, &why) == -1,
		    "bad t fails");
		CHECK(whsig_verify_legacy(gh_key, strlen(gh_key), gh_hex,
			  gh_body, strlen(gh_body)) == 0,
		    "legacy verify");
		CHECK(whsig_verify_legacy(gh_key, strlen(gh_key), gh_hex,
			  "Hello, World?", 13) == -1,
		    "legacy verify fails on another body");
		CHECK(whsig_verify_legacy(gh_key, strlen(gh_key), "abc",
			  gh_body, strlen(gh_body)) == -1,
		    "legacy verify fails on short hex");
	}
	return TAP_DONE();
}
