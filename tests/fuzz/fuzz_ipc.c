/*
 * The IPC decoder (common/ipc.c, common/proto.c): a packet from a hostile
 * peer.  The raw bytes go through ipc_open() as received; then, so the
 * fuzzer reaches every payload decoder rather than stalling on the header,
 * a copy gets its len and version set right and its type chosen from the
 * first byte.  A message a decoder accepts must encode back to the very
 * same bytes: a decoded struct is well-formed, and each layout has one
 * encoding.
 */
#include "fuzz.h"

#include "ipc.h"
#include "proto.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet("fuzz_ipc");
	return 0;
}

static const uint32_t types[] = {
	MSG_HELLO, MSG_CONFIG, MSG_CREATE_SPEND, MSG_SPEND, MSG_GET_BALANCE,
	MSG_BALANCE, MSG_GET_SPEND, MSG_ERROR, MSG_WAIT_SPEND,
	MSG_SPEND_UPDATE,
};

/* Decodes m by its type; on success re-encodes into b. */
static int
decode(struct ipc_msg *m, struct ipc_buf *b)
{
	union {
		struct msg_hello	h;
		struct msg_config	c;
		struct msg_create_spend	cs;
		struct msg_get_balance	gb;
		struct msg_get_spend	gs;
		struct msg_wait_spend	ws;
		struct msg_spend	sp;
		struct msg_balance	bal;
		struct msg_error	e;
	} u;
	uint32_t r = m->hdr.reqid;

	switch (m->hdr.type) {
	case MSG_HELLO:
		return msg_hello_dec(m, &u.h) == 0 ?
		    msg_hello_enc(b, r, &u.h) : 1;
	case MSG_CONFIG:
		return msg_config_dec(m, &u.c) == 0 ?
		    msg_config_enc(b, r, &u.c) : 1;
	case MSG_CREATE_SPEND:
		return msg_create_spend_dec(m, &u.cs) == 0 ?
		    msg_create_spend_enc(b, r, &u.cs) : 1;
	case MSG_GET_BALANCE:
		return msg_get_balance_dec(m, &u.gb) == 0 ?
		    msg_get_balance_enc(b, r, &u.gb) : 1;
	case MSG_GET_SPEND:
		return msg_get_spend_dec(m, &u.gs) == 0 ?
		    msg_get_spend_enc(b, r, &u.gs) : 1;
	case MSG_WAIT_SPEND:
		return msg_wait_spend_dec(m, &u.ws) == 0 ?
		    msg_wait_spend_enc(b, r, &u.ws) : 1;
	case MSG_SPEND:
	case MSG_SPEND_UPDATE:
		return msg_spend_dec(m, &u.sp) == 0 ?
		    msg_spend_enc(b, m->hdr.type, r, &u.sp) : 1;
	case MSG_BALANCE:
		return msg_balance_dec(m, &u.bal) == 0 ?
		    msg_balance_enc(b, r, &u.bal) : 1;
	case MSG_ERROR:
		return msg_error_dec(m, &u.e) == 0 ?
		    msg_error_enc(b, r, &u.e) : 1;
	}
	return 1;
}

static void
one(const unsigned char *pkt, size_t n)
{
	static struct ipc_buf b;
	struct ipc_msg m;
	int r;

	if (ipc_open(&m, pkt, n) == -1)
		return;
	FUZZ_ASSERT(m.hdr.len == n && n >= sizeof(struct ipc_hdr) &&
	    n <= IPC_MSG_MAX, "ipc_open accepted a bad header");
	(void)msg_type_name(m.hdr.type);
	if ((r = decode(&m, &b)) == 1)
		return;
	FUZZ_ASSERT(r == 0, "a decoded message does not encode");
	FUZZ_ASSERT(b.len == n && memcmp(b.data, pkt, n) == 0,
	    "a decoded message encodes to other bytes");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_hdr h;
	unsigned char *pkt;
	size_t n;

	/* As received: a packet of exactly size bytes. */
	if ((pkt = malloc(size ? size : 1)) == NULL)
		abort();
	memcpy(pkt, data, size);
	one(pkt, size);
	free(pkt);

	/* With a header that passes, of a type the first byte picks. */
	if (size < 1)
		return 0;
	n = sizeof(h) + size - 1;
	if (n > IPC_MSG_MAX)
		return 0;
	if ((pkt = malloc(n)) == NULL)
		abort();
	h.type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
	h.len = (uint32_t)n;
	h.reqid = data[0];
	h.version = IPC_VERSION;
	memcpy(pkt, &h, sizeof(h));
	memcpy(pkt + sizeof(h), data + 1, size - 1);
	one(pkt, n);
	free(pkt);
	return 0;
}
