/*
 * Logging: one line per event on stderr, in key=value form, prefixed with a
 * syslog priority ("<3>" .. "<7>") that journald understands.
 */
#ifndef DINO_LOG_H
#define DINO_LOG_H

#include <stdarg.h>
#include <syslog.h>

void	log_init(const char *prog, int level);
void	log_setlevel(int level);
int	log_getlevel(void);
int	log_level_parse(const char *name);

void	log_msg(int pri, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_vmsg(int pri, const char *fmt, va_list ap)
	    __attribute__((format(printf, 2, 0)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Buffering, for a daemon's event loop: from now on the calling thread's
 * lines below LOG_WARNING are kept in memory and written together by
 * log_flush(), in order.  wake(arg) runs when a line lands in an empty
 * buffer, so the owner can arrange a log_flush() at the end of the loop
 * turn.  Warnings and worse, lines of other threads, a full buffer and
 * exit() write out what is buffered first.  wake NULL: back to one write
 * per line.
 */
void	log_buffer(void (*wake)(void *), void *arg);
void	log_flush(void);

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warnx(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * Copies an untrusted string into buf for a log line: quotes are dropped and
 * control bytes, backslashes and non-ASCII bytes become '?', so no caller
 * can forge a second log line or a field.  Truncates to len - 1 bytes.
 */
const char *log_safe(char *buf, size_t len, const char *s);

#endif
