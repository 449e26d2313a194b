#ifndef DINO_UTIL_H
#define DINO_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * Listen addresses: "127.0.0.1:PORT", "[::1]:PORT" or "unix:PATH".  Port 0
 * asks the kernel for a free port; listen_describe() then tells which.
 */
int	listen_on(const char *spec, int backlog, int unix_mode, char *err,
	    size_t errlen);
int	listen_describe(int fd, char *buf, size_t len);
/*
 * Why a UNIX socket at path would be unsafe (its directory is writable by
 * others, so the socket could be replaced), or NULL when it is not.
 */
const char *unix_dir_unsafe(const char *path);

/* Reads until len bytes or end of file, retrying EINTR; -1 on error. */
ssize_t	read_full(int fd, char *buf, size_t len);

/*
 * snprintf(dst, size, "%s", src) without the printf machinery, which cost
 * a create dozens of formatted copies of strings: src is copied, cut to
 * size - 1 bytes when longer (a cut may split a UTF-8 sequence, as
 * snprintf's does), and dst is always NUL-terminated; size must be at
 * least 1.  Returns 0, or -1 when src was cut.  Inline: it is called a
 * few dozen times per create, mostly with a constant size.
 */
static inline int
copy_text(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size);
	int cut = n == size;

	if (cut)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return cut ? -1 : 0;
}

/* copy_text() into an array. */
#define COPY_TEXT(dst, src)	copy_text((dst), sizeof(dst), (src))

/* A whole-string decimal parse into [min, max]; -1 on any junk. */
int	parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Wall-clock milliseconds since the epoch, and monotonic milliseconds. */
int64_t	now_ms(void);
int64_t	mono_ms(void);

/*
 * An integer in decimal, as snprintf "%lld" (or "%llu") prints it: a '-'
 * when negative, the digits, a NUL; into buf of FMT_INT_SIZE bytes or
 * more.  Returns the length without the NUL.  Printed by hand because
 * the printf machinery cost more than the rest of the small answers and
 * lines that print integers per create; pure, so async-signal-safe too.
 */
#define FMT_INT_SIZE	21	/* "-9223372036854775808" and its NUL */
size_t	fmt_int(char *buf, int64_t v);
size_t	fmt_uint(char *buf, uint64_t u);

/* "2026-05-07T12:34:56.000Z" from milliseconds since the epoch. */
void	fmt_iso_ms(char buf[32], int64_t ms);

/*
 * randombytes_buf() for small draws, served from a pool that libsodium
 * refills (one system call per RANDOM_POOL_BYTES, not per id).
 */
void	random_buf(void *out, size_t n);

/* The lowercase Crockford base32 alphabet of ULIDs. */
#define ULID_ALPHABET	"0123456789abcdefghjkmnpqrstvwxyz"

/* prefix + 26 lowercase ULID characters (48-bit time, 80 random bits). */
void	make_ulid_id(char *buf, size_t len, const char *prefix);
/* The same with the time given, in milliseconds since the epoch. */
void	make_ulid_id_at(char *buf, size_t len, const char *prefix,
	    int64_t ms);

/* Valid UTF-8 (no overlongs, no surrogates) and no control characters. */
int	text_ok(const char *s, size_t len);
/* Printable ASCII (0x21-0x7e) only. */
int	printable_ascii(const char *s, size_t len);

/*
 * The value of an HTTP Date header for now ("Sun, 06 Nov 1994 08:49:37
 * GMT"), formatted once a second (per thread) rather than by evhttp with
 * gmtime and snprintf for every answer; NULL when it cannot be formatted
 * (evhttp then adds its own).  Valid until the thread's next call.
 */
const char *http_date(void);

/*
 * Writes what evhttp_send_reply() just queued on evcon now, rather than
 * when the bufferevent is next writable: it would turn EPOLLOUT on, wait
 * a turn of the loop, write, and turn it off again, while the socket
 * almost always has room.  With the loop's change list (loop_new()) the
 * request's turn then ends with one epoll_ctl instead of four.  What does
 * not fit (a slow reader) stays queued for the bufferevent, and an error
 * is left for its own write to meet and report.  When all of it left,
 * the write callback, deferred to the end of this turn, lets evhttp
 * finish the request (keep-alive, the next pipelined request, or close)
 * exactly as if the bufferevent had written it.
 */
struct evhttp_connection;
void	http_write_now(struct evhttp_connection *evcon);

/* The daemons' event loop: epoll with its change list. */
struct event_base;
struct event_base *loop_new(void);
/*
 * Buffers the calling thread's log lines (log_buffer()) and writes them
 * once per turn of base's loop, after the turn's IPC flushes; and back to
 * one write per line (before the loop goes away).
 */
struct event;
struct event	*loop_log_buffer(struct event_base *base);
void		 loop_log_unbuffer(struct event *ev);

#endif
