#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <sodium.h>

#include "log.h"
#include "dinolimits.h"
#include "util.h"

/*
 * A socket in a directory that others may write to can be replaced under
 * the daemon (or a look-alike planted before it starts): refuse it.
 */
const char *
unix_dir_unsafe(const char *path)
{
	static char why[PATH_MAX + 256];
	char dir[PATH_MAX];
	const char *slash;
	struct stat st;
	size_t len;

	if ((slash = strrchr(path, '/')) == NULL) {
		dir[0] = '.';
		len = 1;
	} else
		len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= sizeof(dir))
		return "socket path too long";
	if (slash != NULL)
		memcpy(dir, path, len);
	dir[len] = '\0';
	if (stat(dir, &st) == -1) {
		snprintf(why, sizeof(why), "%s: %s", dir, strerror(errno));
		return why;
	}
	if ((st.st_mode & S_IWOTH) != 0) {
		snprintf(why, sizeof(why), "socket directory %s is "
		    "world-writable: another user could replace the socket "
		    "(use a directory only the service can write)", dir);
		return why;
	}
	return NULL;
}

static int
listen_unix(const char *path, int backlog, int mode, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	const char *why;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((why = unix_dir_unsafe(path)) != NULL) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	/* Only a stale socket may be replaced, never a regular file. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket",
			    path);
			return -1;
		}
		(void)unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    (mode >= 0 && chmod(path, (mode_t)mode) == -1) ||
	    listen(fd, backlog) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
listen_inet(const char *spec, int backlog, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	char host[64];
	const char *colon;
	int64_t port;
	int fd, one = 1;
	size_t hlen;

	memset(&ss, 0, sizeof(ss));
	if ((colon = strrchr(spec, ':')) == NULL ||
	    parse_i64(colon + 1, 0, 65535, &port) == -1) {
		snprintf(err, errlen, "bad listen address (want HOST:PORT "
		    "or unix:PATH): %s", spec);
		return -1;
	}
	hlen = (size_t)(colon - spec);
	if (hlen >= sizeof(host))
		hlen = sizeof(host) - 1;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		host[hlen - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			goto bad;
		sslen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		sslen = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    listen(fd, backlog) == -1) {
		snprintf(err, errlen, "%s: %s", spec, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
bad:
	snprintf(err, errlen, "bad listen address (want an IP literal): %s",
	    spec);
	return -1;
}

int
listen_on(const char *spec, int backlog, int unix_mode, char *err,
    size_t errlen)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return listen_unix(spec + 5, backlog, unix_mode, err, errlen);
	return listen_inet(spec, backlog, err, errlen);
}

int
listen_describe(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == -1)
		return -1;
	if (ss.ss_family == AF_UNIX) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&ss;

		snprintf(buf, len, "unix:%s", sun->sun_path);
	} else if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	}
	return 0;
}

ssize_t
read_full(int fd, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t r;

	while (off < len) {
		if ((r = read(fd, buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		off += (size_t)r;
	}
	return (ssize_t)off;
}

int
parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0' || *s == ' ' || *s == '+')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t
fmt_uint(char *buf, uint64_t u)
{
	char tmp[FMT_INT_SIZE], *p = tmp + sizeof(tmp);
	size_t len;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	len = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(buf, p, len);
	buf[len] = '\0';
	return len;
}

size_t
fmt_int(char *buf, int64_t v)
{
	if (v >= 0)
		return fmt_uint(buf, (uint64_t)v);
	buf[0] = '-';
	return 1 + fmt_uint(buf + 1, -(uint64_t)v);
}

/*
 * The date and time to the second are printed once per second (per
 * thread) and the milliseconds by hand: a create stamps two or three
 * times, and gmtime_r, strftime and snprintf were 2,000 instructions each.
 */
void
fmt_iso_ms(char buf[32], int64_t ms)
{
	static __thread char last[32];
	static __thread int64_t last_secs = -1;
	time_t secs = (time_t)(ms / 1000);
	int frac = (int)(ms % 1000);
	struct tm tm;

	if (ms < 0 || secs != last_secs) {
		gmtime_r(&secs, &tm);
		if (strftime(last, sizeof(last), "%Y-%m-%dT%H:%M:%S", &tm) !=
		    19)
			fatalx("fmt_iso_ms: time out of range");
		last_secs = ms < 0 ? -1 : secs;
	}
	memcpy(buf, last, 19);
	if (frac < 0) {
		snprintf(buf + 19, 32 - 19, ".%03dZ", frac);
		return;
	}
	buf[19] = '.';
	buf[20] = (char)('0' + frac / 100);
	buf[21] = (char)('0' + frac / 10 % 10);
	buf[22] = (char)('0' + frac % 10);
	buf[23] = 'Z';
	buf[24] = '\0';
}

/*
 * Random bytes for ids and keys come from a pool that libsodium refills
 * RANDOM_POOL_BYTES at a time: one getrandom per id was a system call per
 * request.  Bytes are wiped from the pool as they are handed out, and a
 * child after fork() starts from an empty pool, never from its parent's.
 */
static unsigned char	 rnd_pool[RANDOM_POOL_BYTES];
static size_t		 rnd_left;
static pthread_mutex_t	 rnd_mtx = PTHREAD_MUTEX_INITIALIZER;

static void
random_forget(void)
{
	sodium_memzero(rnd_pool, sizeof(rnd_pool));
	rnd_left = 0;
}

void
random_buf(void *out, size_t n)
{
	static int registered;
	unsigned char *p;

	if (n > sizeof(rnd_pool)) {
		randombytes_buf(out, n);
		return;
	}
	pthread_mutex_lock(&rnd_mtx);
	if (!registered) {
		if (pthread_atfork(NULL, NULL, random_forget) != 0)
			fatalx("%s: pthread_atfork", __func__);
		registered = 1;
	}
	if (rnd_left < n) {
		randombytes_buf(rnd_pool, sizeof(rnd_pool));
		rnd_left = sizeof(rnd_pool);
	}
	p = rnd_pool + sizeof(rnd_pool) - rnd_left;
	memcpy(out, p, n);
	sodium_memzero(p, n);
	rnd_left -= n;
	pthread_mutex_unlock(&rnd_mtx);
}

void
make_ulid_id(char *buf, size_t len, const char *prefix)
{
	make_ulid_id_at(buf, len, prefix, now_ms());
}

void
make_ulid_id_at(char *buf, size_t len, const char *prefix, int64_t ms)
{
	static const char alphabet[] = ULID_ALPHABET;
	unsigned char rnd[10];
	char ulid[27];
	uint64_t t = (uint64_t)ms & 0xffffffffffffULL;
	int i, bit;

	/* 10 characters of time (48 bits used), 16 of randomness. */
	for (i = 9; i >= 0; i--) {
		ulid[i] = alphabet[t & 31];
		t >>= 5;
	}
	random_buf(rnd, sizeof(rnd));
	for (i = 0; i < 16; i++) {
		bit = i * 5;
		unsigned v = ((unsigned)rnd[bit / 8] << 8 |
		    (bit / 8 + 1 < 10 ? rnd[bit / 8 + 1] : 0)) >>
		    (11 - bit % 8);
		ulid[10 + i] = alphabet[v & 31];
	}
	ulid[26] = '\0';
	sodium_memzero(rnd, sizeof(rnd));
	snprintf(buf, len, "%s%s", prefix, ulid);
}

int
text_ok(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned c = s[i];
		uint32_t cp;
		size_t n, k;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return 0;
		if (len - i <= n)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp <= 0x9f))
			return 0;
		i += n + 1;
	}
	return 1;
}

int
printable_ascii(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

/*
 * epoll's change list: libevent then hands the kernel only the net change
 * of each descriptor's events once per loop turn, where a request read,
 * answered and written otherwise cost four epoll_ctl calls.  libevent warns
 * against it for descriptors dup()ed into the loop; none are.
 */
struct event_base *
loop_new(void)
{
	struct event_config *cfg;
	struct event_base *base;

	if ((cfg = event_config_new()) == NULL ||
	    event_config_set_flag(cfg,
	    EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) == -1 ||
	    (base = event_base_new_with_config(cfg)) == NULL)
		fatalx("event_base_new failed");
	event_config_free(cfg);
	return base;
}

/*
 * The log lines of one loop turn go out in one write: the flush event is
 * made active by the turn's first line.  It then goes once more to the
 * back of the turn's queue, behind the IPC flushes (ipc_peer_batch()) that
 * the same callbacks made active after logging: messages leave first, the
 * log lines after them.  One per process.
 */
static int	loop_log_requeued;

static void
loop_log_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	if (!loop_log_requeued) {
		loop_log_requeued = 1;
		event_active(arg, EV_TIMEOUT, 0);
		return;
	}
	loop_log_requeued = 0;
	log_flush();
}

static void
loop_log_wake(void *arg)
{
	event_active(arg, EV_TIMEOUT, 0);
}

struct event *
loop_log_buffer(struct event_base *base)
{
	struct event *ev;

	if ((ev = event_new(base, -1, 0, loop_log_flush_cb,
	    event_self_cbarg())) == NULL)
		fatalx("%s: event_new", __func__);
	log_buffer(loop_log_wake, ev);
	return ev;
}

void
loop_log_unbuffer(struct event *ev)
{
	if (ev == NULL)
		return;
	log_buffer(NULL, NULL);
	event_free(ev);
	loop_log_requeued = 0;
}

const char *
http_date(void)
{
	static __thread char date[64];
	static __thread time_t last = -1;
	time_t now = time(NULL);
	struct tm tm;

	if (now != last) {
		if (gmtime_r(&now, &tm) == NULL ||
		    evutil_date_rfc1123(date, sizeof(date), &tm) <= 0)
			return NULL;
		last = now;
	}
	return date;
}

void
http_write_now(struct evhttp_connection *evcon)
{
	struct bufferevent *bev;
	struct evbuffer *out;
	evutil_socket_t fd;
	int n;

	if ((bev = evhttp_connection_get_bufferevent(evcon)) == NULL ||
	    (fd = bufferevent_getfd(bev)) < 0)
		return;
	out = bufferevent_get_output(bev);
	/* The bufferevent keeps the front of its buffer frozen. */
	evbuffer_unfreeze(out, 1);
	n = evbuffer_write(out, fd);
	evbuffer_freeze(out, 1);
	if (n > 0 && evbuffer_get_length(out) == 0)
		bufferevent_trigger(bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
}
