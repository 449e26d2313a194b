/*
 * Floors for the side-by-side benchmark (bench-compare.sh), measured on
 * the machine the benchmark runs on:
 *
 *   floor rss   the resident set of a process that only links Debian's
 *               libcurl and calls curl_global_init(), as dino-broker must:
 *               no broker can be smaller than this.
 *   floor rtt N the mean round trip of one small message between two
 *               processes over a SOCK_SEQPACKET pair, N round trips: each
 *               process hop a request makes costs one of these.
 *
 * Not part of the product: built by the benchmark script, not by make.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

static long
status_kib(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *f;

	if ((f = fopen("/proc/self/status", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
rtt(long n)
{
	char b[64];
	double t0;
	long i;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		return 1;
	memset(b, 'x', sizeof(b));
	if ((pid = fork()) == -1)
		return 1;
	if (pid == 0) {
		close(sv[0]);
		while (read(sv[1], b, sizeof(b)) > 0)
			if (write(sv[1], b, 32) != 32)
				break;
		_exit(0);
	}
	close(sv[1]);
	t0 = now();
	for (i = 0; i < n; i++)
		if (write(sv[0], b, 32) != 32 || read(sv[0], b, sizeof(b)) <= 0)
			return 1;
	printf("rtt_us=%.2f\n", (now() - t0) / (double)n * 1e6);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return 0;
}

int
main(int argc, char *argv[])
{
	if (argc >= 2 && strcmp(argv[1], "rss") == 0) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return 1;
		printf("rss_kib=%ld anon_kib=%ld\n", status_kib("VmRSS"),
		    status_kib("RssAnon"));
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "rtt") == 0)
		return rtt(strtol(argv[2], NULL, 10));
	fprintf(stderr, "usage: floor rss | floor rtt N\n");
	return 2;
}
