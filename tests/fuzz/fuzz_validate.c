/*
 * Agent request intake (frontend/validate.c, wait.c's query parser): the
 * create_spend body, Content-Type, X-Dino-Agent, route matching and the
 * wait_spend query.  A body the frontend accepts must encode into a
 * MSG_CREATE_SPEND the broker's decoder accepts, or the broker would close
 * the frontend's channel over an agent's request.
 *
 * Input: the whole input is the body; it is also split at NUL bytes into
 * the header values and the method, path and query tried on the routes.
 */
#include "fuzz.h"

#include "../../frontend/frontend.h"
#include "ipc.h"
#include "proto.h"
#include "spend.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet("fuzz_validate");
	return 0;
}

static void
roundtrip(const struct msg_create_spend *in)
{
	static struct ipc_buf b;
	struct msg_create_spend back;
	struct ipc_msg m;

	FUZZ_ASSERT(spend_check_request(in) == NULL,
	    "accepted body fails spend_check_request");
	FUZZ_ASSERT(msg_create_spend_enc(&b, 7, in) == 0,
	    "accepted body does not encode");
	FUZZ_ASSERT(ipc_open(&m, b.data, b.len) == 0 &&
	    msg_create_spend_dec(&m, &back) == 0,
	    "encoded request does not decode");
	FUZZ_ASSERT(back.amount_cents == in->amount_cents &&
	    strcmp(back.merchant_name, in->merchant_name) == 0 &&
	    strcmp(back.reason, in->reason) == 0 &&
	    strcmp(back.idempotency_key, in->idempotency_key) == 0,
	    "request changed across the boundary");
}

static void
headers(const uint8_t *data, size_t size)
{
	char *s, *parts[4] = { NULL }, *p, label[AGENT_LABEL_MAX + 1];
	char id[SPEND_ID_MAX + 1];
	enum fe_route route;
	const char *why;
	uint32_t t;
	size_t i;

	s = fuzz_strndup(data, size);
	for (i = 0, p = s; i < 4; i++) {
		parts[i] = p;
		p += strlen(p);
		if (p < s + size)
			p++;
	}
	(void)fe_content_type_json(parts[0]);
	if (fe_agent_label(parts[0], label, sizeof(label)) == 0)
		FUZZ_ASSERT(spend_check_agent_label(label) == NULL,
		    "accepted X-Dino-Agent fails the broker's check");
	if (fe_route_match(parts[0], parts[1], parts[2][0] ? parts[2] : NULL,
	    &route, id, sizeof(id), &why) == 0 && id[0] != '\0')
		FUZZ_ASSERT(spend_check_ref(id) == NULL,
		    "routed id fails the broker's check");
	if (fe_wait_timeout_parse(parts[3], FRONTEND_WAIT_MAX_S, &t,
	    &why) == 0)
		FUZZ_ASSERT(t <= FRONTEND_WAIT_MAX_S, "timeout above max");
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_create_spend req;
	char msg[256], *body;

	/* The body as evhttp hands it over: exactly size bytes, no NUL. */
	if ((body = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(body, data, size);
	if (fe_parse_create_spend(body, size, &req, msg, sizeof(msg)) == 0)
		roundtrip(&req);
	free(body);
	headers(data, size);
	return 0;
}
