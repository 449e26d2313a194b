/*
 * The Dino webhook signature scheme (dino-api.md Part A), in one place so the
 * sandbox that signs and the broker that verifies can never disagree.
 *
 *   x-dino-signature-sha256: hex(HMAC-SHA256(secret, body))
 *   Dino-Signature:          t=<unix seconds>,v1=hex(HMAC-SHA256(secret,
 *                            "<t>.<body>"))
 *
 * The HMAC key is the whole secret string as bytes, "whsec_" included
 * (Stripe's convention).  Hex is lowercase, 64 characters.
 */
#ifndef DINO_WHSIG_H
#define DINO_WHSIG_H

#include <stddef.h>
#include <stdint.h>

#define WHSIG_HEX_LEN 64      /* lowercase hex of 32 bytes */
#define WHSIG_HEADER_MAX 96   /* "t=" + 20 digits + ",v1=" + 64 */
#define WHSIG_VERIFY_MAX 1024 /* a Dino-Signature value to verify, bytes */
#define WHSIG_V1_MAX 8	      /* v1 entries tried per header */

/* The v1 signature over "<t>.<body>"; out holds 64 hex digits and a NUL. */
void whsig_v1_hex(const char *secret, size_t secretlen, int64_t t,
    const void *body, size_t bodylen, char out[WHSIG_HEX_LEN + 1]);

/* The legacy signature over the body alone. */
void whsig_legacy_hex(const char *secret, size_t secretlen, const void *body,
    size_t bodylen, char out[WHSIG_HEX_LEN + 1]);

/*
 * The Dino-Signature header value "t=<t>,v1=<hex>".  Returns 0, or -1 when
 * the buffer is too small.
 */
int whsig_header(const char *secret, size_t secretlen, int64_t t,
    const void *body, size_t bodylen, char *out, size_t outlen);

/*
 * Verifies a Dino-Signature header value over body, for a receiver: the
 * value holds "t=<unix seconds>" and one or more "v1=<hex>" entries
 * (several appear while a secret rotates; any match is accepted; other
 * entries are ignored).  Fails when t is more than tolerance seconds from
 * now in either direction.  MACs are compared in constant time.  Returns 0,
 * or -1 with *why pointing at a static reason.
 */
int whsig_verify(const char *secret, size_t secretlen, const char *header,
    const void *body, size_t bodylen, int64_t now, int64_t tolerance,
    const char **why);

/*
 * Verifies the legacy body-only x-dino-signature-sha256 value, in constant
 * time.  It carries no timestamp, so it cannot stop a replay: accept it
 * alone only where that is an explicit choice.  Returns 0 or -1.
 */
int whsig_verify_legacy(const char *secret, size_t secretlen, const char *hex,
    const void *body, size_t bodylen);

#endif
