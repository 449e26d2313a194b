/*
 * Dino's response bodies (broker/dinojson.c): a spend, an event, a
 * balance and an error, each parsed from the same bytes.  A spend or a
 * balance the broker accepts is passed on to the frontend, so it must
 * encode as a MSG_SPEND or MSG_BALANCE; an error is always turned into
 * a MSG_ERROR that encodes.
 */
#include "fuzz.h"

#include "../../broker/dino.h"
#include "ipc.h"
#include "proto.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet("fuzz_dinojson");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ipc_buf b;
	static struct dino_event ev;
	struct msg_spend sp;
	struct msg_balance bal;
	struct msg_error err;
	const char *why;
	char *body;
	long status;

	if ((body = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(body, data, size);

	memset(&sp, 0, sizeof(sp));
	if (dino_parse_spend(body, size, &sp.spend, &why) == 0)
		FUZZ_ASSERT(msg_spend_enc(&b, MSG_SPEND, 1, &sp) == 0,
		    "a parsed spend does not encode");
	if (dino_parse_event(body, size, &ev, &why) == 0 && ev.has_spend) {
		sp.spend = ev.spend;
		FUZZ_ASSERT(msg_spend_enc(&b, MSG_SPEND_UPDATE, 0, &sp) == 0,
		    "an event's spend does not encode");
	}
	if (dino_parse_balance(body, size, &bal, &why) == 0)
		FUZZ_ASSERT(msg_balance_enc(&b, 1, &bal) == 0,
		    "a parsed balance does not encode");
	status = size > 0 ? 400 + data[0] % 200 : 500;
	if (dino_parse_error(body, size, status, &err) == 0)
		FUZZ_ASSERT(msg_error_enc(&b, 1, &err) == 0,
		    "a parsed error does not encode");
	free(body);
	return 0;
}
