#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "dinolimits.h"

static const char *log_prog = "dino";
static int log_level = LOG_INFO;
/*
 * getpid() is a system call in glibc, once per request line otherwise.
 * None of the daemons forks; one that did would call log_init() again.
 */
static pid_t log_pid;

/*
 * Lines buffered for one turn of the owner's event loop (log_buffer()):
 * one write per turn instead of one per line.  The mutex orders the lines
 * of every thread: a line from another thread, or one that must not wait
 * (a warning or worse), first writes out what is buffered.
 */
static pthread_mutex_t	 log_mtx = PTHREAD_MUTEX_INITIALIZER;
static char		 log_buf[LOG_BUF_MAX];
static size_t		 log_buflen;
static int		 log_buffering;
static pthread_t	 log_owner;
static void		(*log_wake)(void *);
static void		*log_wake_arg;

void
log_init(const char *prog, int level)
{
	log_prog = prog;
	log_level = level;
	log_pid = getpid();
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

int
log_level_parse(const char *name)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "error", LOG_ERR }, { "warning", LOG_WARNING },
		{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(name, levels[i].name) == 0)
			return levels[i].level;
	return -1;
}

static const char *
level_name(int pri)
{
	switch (pri) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

/* Nowhere left to report a failed write of the log itself. */
static void
log_write(const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(STDERR_FILENO, p, n)) <= 0) {
			if (w == -1 && errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

/* With log_mtx held. */
static void
log_flush_locked(void)
{
	size_t n = log_buflen;

	log_buflen = 0;
	log_write(log_buf, n);
}

/* Appends one whole line, or writes it through; with log_mtx held. */
static void
log_put_locked(int pri, const char *line, size_t n)
{
	int wake;

	if (!log_buffering || pri <= LOG_WARNING ||
	    !pthread_equal(pthread_self(), log_owner)) {
		log_flush_locked();
		log_write(line, n);
		return;
	}
	if (n > sizeof(log_buf) - log_buflen)
		log_flush_locked();
	wake = log_buflen == 0;
	memcpy(log_buf + log_buflen, line, n);
	log_buflen += n;
	if (wake && log_wake != NULL)
		log_wake(log_wake_arg);
}

void
log_flush(void)
{
	int saved = errno;

	pthread_mutex_lock(&log_mtx);
	log_flush_locked();
	pthread_mutex_unlock(&log_mtx);
	errno = saved;
}

void
log_buffer(void (*wake)(void *), void *arg)
{
	static int registered;

	pthread_mutex_lock(&log_mtx);
	log_flush_locked();
	log_buffering = wake != NULL;
	log_owner = pthread_self();
	log_wake = wake;
	log_wake_arg = arg;
	pthread_mutex_unlock(&log_mtx);
	/* exit() from anywhere, fatal() included, still writes every line. */
	if (wake != NULL && !registered && atexit(log_flush) == 0)
		registered = 1;
}

void
log_vmsg(int pri, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int n, m, saved = errno;

	if (pri > log_level)
		return;
	n = snprintf(line, sizeof(line), "<%d>%s[%ld]: level=%s ", pri,
	    log_prog, (long)(log_pid != 0 ? log_pid : getpid()),
	    level_name(pri));
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (m < 0)
		return;
	n = (size_t)(n + m) >= sizeof(line) - 1 ? (int)sizeof(line) - 2
						  : n + m;
	/* One event, one line: a caller's stray newline never splits it. */
	for (m = 0; m < n; m++)
		if (line[m] == '\n' || line[m] == '\r')
			line[m] = ' ';
	line[n++] = '\n';
	pthread_mutex_lock(&log_mtx);
	log_put_locked(pri, line, (size_t)n);
	pthread_mutex_unlock(&log_mtx);
	errno = saved;
}

void
log_msg(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(pri, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_CRIT, "fatal=\"%s\" errno=\"%s\"", buf, strerror(saved));
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_CRIT, "fatal=\"%s\"", buf);
	exit(1);
}

const char *
log_safe(char *buf, size_t len, const char *s)
{
	size_t i;

	if (len == 0)
		return "";
	if (s == NULL)
		s = "";
	for (i = 0; i + 1 < len && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[i] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
		    ? '?' : (char)c;
	}
	buf[i] = '\0';
	return buf;
}
