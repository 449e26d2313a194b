#include <errno.h>
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

void
log_vmsg(int pri, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	int n, m;

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
	/* Nowhere left to report a failed write of the log itself. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
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
