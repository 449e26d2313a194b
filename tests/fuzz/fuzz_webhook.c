/*
 * The webhook receiver after the transport (broker/webhook.c,
 * common/whsig.c): headers and body as the reverse proxy forwards them.
 *
 * Input: byte 0 picks the mode.  Bit 0 clear: the rest is the body, and
 * the harness signs it with a configured secret (and takes the event id
 * and type headers from the body when it can), so the fuzzer reaches the
 * parser and the forward-only update behind the signature.  Bit 0 set:
 * the rest is "Dino-Signature\nlegacy\nevent id\nevent type\nbody", all
 * the fuzzer's, which exercises verification itself.  Bit 1 turns
 * webhook_accept_legacy on.  One pending intent, whose spend id the seed
 * events use, is there to be updated on every run.
 */
#include <cJSON.h>

#include "fuzz.h"

#include "../../broker/config.h"
#include "../../broker/creds.h"
#include "../../broker/intent.h"
#include "../../broker/webhook.h"
#include "whsig.h"

#define SPEND_ID	"req_01jwx4k2p0000000000000000a"
#define NOW		1778157296	/* 2026-05-07T12:34:56Z */

static char secret_a[] = "whsec_fuzz_secret_a";
static char secret_b[] = "whsec_fuzz_secret_b";
static struct creds_key key_a = { secret_a, sizeof(secret_a) - 1 };
static struct creds_key key_b = { secret_b, sizeof(secret_b) - 1 };
static struct broker_config cfg;
static struct principal pr;
static struct intent_table *intents;
static struct webhook *wh;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet("fuzz_webhook");
	cfg.nwebhook_secrets = 2;
	cfg.webhook_secrets[0].key = &key_a;
	cfg.webhook_secrets[1].key = &key_b;
	cfg.webhook_tolerance_s = 300;
	strcpy(cfg.webhook_path, "/webhooks/dino");
	intents = intent_table_new();
	wh = webhook_new(NULL, &cfg, intents, -1);
	return 0;
}

static struct intent *
add_pending(void)
{
	struct msg_create_spend req;
	struct spend_obj s;
	struct intent *in;

	memset(&req, 0, sizeof(req));
	req.amount_cents = 60000;
	strcpy(req.currency, "usd");
	strcpy(req.merchant_name, "AWS");
	strcpy(req.reason, "r");
	if ((in = intent_add(intents, "dbk_fuzz", "k1", 1000, &pr, &req,
	    0)) == NULL)
		abort();
	memset(&s, 0, sizeof(s));
	strcpy(s.id, SPEND_ID);
	strcpy(s.status, "needs_approval");
	s.amount_cents = 60000;
	strcpy(s.currency, "usd");
	strcpy(s.merchant_name, "AWS");
	strcpy(s.agent_account_id, "agent_a");
	strcpy(s.approval_url, "https://app.dino.id/x");
	strcpy(s.updated_at, "2026-05-07T12:30:00.000Z");
	intent_set_spend(intents, in, &s);
	return in;
}

/* The body's own id and type, as Dino would put in the headers. */
static void
body_headers(const char *body, size_t len, char *id, char *type)
{
	const cJSON *v;
	cJSON *root;

	strcpy(id, "evt_fuzz");
	strcpy(type, "spend_request.approved");
	if ((root = cJSON_ParseWithLength(body, len)) == NULL)
		return;
	v = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (cJSON_IsString(v) && strlen(v->valuestring) <= 64)
		strcpy(id, v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(root, "type");
	if (cJSON_IsString(v) && strlen(v->valuestring) <= 64)
		strcpy(type, v->valuestring);
	cJSON_Delete(root);
}

static char *
next_line(char **p, char *end)
{
	char *s = *p, *nl;

	if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
		return NULL;
	*nl = '\0';
	*p = nl + 1;
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char sig[WHSIG_HEADER_MAX], id[65], type[65], *buf, *p, *end;
	const char *outcome, *why;
	struct wh_headers h;
	struct intent *in;
	size_t len;

	if (size < 1 || size > WEBHOOK_BODY_MAX + 4096)
		return 0;
	cfg.webhook_accept_legacy = (data[0] & 2) != 0;
	buf = fuzz_strndup(data + 1, size - 1);
	end = buf + size - 1;
	memset(&h, 0, sizeof(h));
	p = buf;
	if ((data[0] & 1) == 0) {
		len = size - 1;
		body_headers(p, len, id, type);
		whsig_header(secret_b, strlen(secret_b), NOW, p, len, sig,
		    sizeof(sig));
		h.signature = sig;
		h.event_id = id;
		h.event_type = type;
	} else {
		h.signature = next_line(&p, end);
		h.legacy = next_line(&p, end);
		h.event_id = next_line(&p, end);
		h.event_type = next_line(&p, end);
		if (h.signature != NULL && h.signature[0] == '\0')
			h.signature = NULL;
		len = (size_t)(end - p);
		if (h.signature != NULL)
			(void)whsig_verify(secret_a, strlen(secret_a),
			    h.signature, p, len, NOW, 300, &why);
	}
	in = add_pending();
	(void)webhook_handle(wh, &h, p, len, NOW, &outcome);
	intent_remove(intents, in);
	free(buf);
	return 0;
}
