#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "util.h"
#include "whsig.h"

static void
whsig_finish(crypto_auth_hmacsha256_state *st, char out[WHSIG_HEX_LEN + 1])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_final(st, mac);
	sodium_bin2hex(out, WHSIG_HEX_LEN + 1, mac, sizeof(mac));
	sodium_memzero(mac, sizeof(mac));
	sodium_memzero(st, sizeof(*st));
}

void
whsig_v1_hex(const char *secret, size_t secretlen, int64_t t, const void *body,
    size_t bodylen, char out[WHSIG_HEX_LEN + 1])
{
	crypto_auth_hmacsha256_state st;
	char prefix[32];
	int n;

	/* The signed string is "<t>.<body>", fed in two pieces. */
	n = snprintf(prefix, sizeof(prefix), "%" PRId64 ".", t);
	crypto_auth_hmacsha256_init(
	    &st, (const unsigned char *)secret, secretlen);
	crypto_auth_hmacsha256_update(
	    &st, (const unsigned char *)prefix, (unsigned long long)n);
	crypto_auth_hmacsha256_update(&st, body, bodylen);
	whsig_finish(&st, out);
}

void
whsig_legacy_hex(const char *secret, size_t secretlen, const void *body,
    size_t bodylen, char out[WHSIG_HEX_LEN + 1])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(
	    &st, (const unsigned char *)secret, secretlen);
	crypto_auth_hmacsha256_update(&st, body, bodylen);
	whsig_finish(&st, out);
}

int
whsig_header(const char *secret, size_t secretlen, int64_t t, const void *body,
    size_t bodylen, char *out, size_t outlen)
{
	char hex[WHSIG_HEX_LEN + 1];
	int n;

	whsig_v1_hex(secret, secretlen, t, body, bodylen, hex);
	n = snprintf(out, outlen, "t=%" PRId64 ",v1=%s", t, hex);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return 0;
}

/* A 64-digit hex MAC into 32 bytes; upper or lower case. */
static int
mac_from_hex(const char *hex, size_t len,
    unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	size_t got;

	if (len != WHSIG_HEX_LEN)
		return -1;
	if (sodium_hex2bin(mac, crypto_auth_hmacsha256_BYTES, hex, len, NULL,
		&got, NULL) != 0 ||
	    got != crypto_auth_hmacsha256_BYTES)
		return -1;
	return 0;
}

int
whsig_verify(const char *secret, size_t secretlen, const char *header,
    const void *body, size_t bodylen, int64_t now, int64_t tolerance,
    const char **why)
{
	unsigned char want[crypto_auth_hmacsha256_BYTES];
	unsigned char got[WHSIG_V1_MAX][crypto_auth_hmacsha256_BYTES];
	char copy[WHSIG_VERIFY_MAX], hex[WHSIG_HEX_LEN + 1], *part, *save;
	size_t len, nv1 = 0, i;
	int64_t t = -1;
	int match = 0;

	if ((len = strlen(header)) >= sizeof(copy)) {
		*why = "signature header too long";
		return -1;
	}
	memcpy(copy, header, len + 1);
	for (part = strtok_r(copy, ",", &save); part != NULL;
	     part = strtok_r(NULL, ",", &save)) {
		while (*part == ' ')
			part++;
		if (strncmp(part, "t=", 2) == 0) {
			if (t != -1 ||
			    parse_i64(part + 2, 0, INT64_MAX / 2, &t) == -1) {
				*why = "bad or repeated t=";
				return -1;
			}
		} else if (strncmp(part, "v1=", 3) == 0 && nv1 < WHSIG_V1_MAX) {
			if (mac_from_hex(
				part + 3, strlen(part + 3), got[nv1]) == 0)
				nv1++;
		}
	}
	if (t == -1 || nv1 == 0) {
		*why = "missing t= or v1=";
		return -1;
	}
	if (t > now + tolerance || t < now - tolerance) {
		*why = "timestamp outside tolerance";
		return -1;
	}
	whsig_v1_hex(secret, secretlen, t, body, bodylen, hex);
	if (mac_from_hex(hex, WHSIG_HEX_LEN, want) == -1) {
		*why = "internal hex error";
		return -1;
	}
	/* Every entry is compared, so timing does not tell which matched. */
	for (i = 0; i < nv1; i++)
		match |= sodium_memcmp(got[i], want, sizeof(want)) == 0;
	sodium_memzero(want, sizeof(want));
	if (!match) {
		*why = "no v1 signature matches";
		return -1;
	}
	return 0;
}

int
whsig_verify_legacy(const char *secret, size_t secretlen, const char *hex,
    const void *body, size_t bodylen)
{
	unsigned char want[crypto_auth_hmacsha256_BYTES];
	unsigned char got[crypto_auth_hmacsha256_BYTES];
	char mine[WHSIG_HEX_LEN + 1];
	int rc;

	if (mac_from_hex(hex, strlen(hex), got) == -1)
		return -1;
	whsig_legacy_hex(secret, secretlen, body, bodylen, mine);
	if (mac_from_hex(mine, WHSIG_HEX_LEN, want) == -1)
		return -1;
	rc = sodium_memcmp(got, want, sizeof(want)) == 0 ? 0 : -1;
	sodium_memzero(want, sizeof(want));
	return rc;
}
