/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tool.c: what every redund tool does the same way: its name in
 * messages, the mapping of librd errors to sysexits(3) statuses, a
 * progress line on terminals, and option value parsing.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

static const char *progname = "redund";
static int use_syslog;
static int quiet;
static int progress_shown;
static const struct tool_cmd *usage_cmds;
static size_t usage_ncmds;

void
tool_init(const char *argv0, const char *fallback)
{
	const char *p;
	int fd;

	progname = fallback;
	if (argv0 != NULL && *argv0 != '\0') {
		p = strrchr(argv0, '/');
		progname = p != NULL ? p + 1 : argv0;
		if (*progname == '\0')
			progname = fallback;
	}
	/* Make sure 0-2 are open so that no file we open becomes stdout. */
	for (;;) {
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd == -1)
			exit(EX_OSERR);
		if (fd > 2) {
			close(fd);
			break;
		}
		if (fcntl(fd, F_SETFD, 0) == -1)
			exit(EX_OSERR);
	}
}

const char *
tool_progname(void)
{
	return progname;
}

void
tool_set_syslog(int on)
{
	use_syslog = on;
	if (on)
		openlog(progname, LOG_PID, LOG_DAEMON);
}

int
tool_syslog(void)
{
	return use_syslog;
}

void
tool_log(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!use_syslog)
		return;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	syslog(LOG_NOTICE, "%s", msg);
}

void
tool_set_quiet(int on)
{
	quiet = on;
}

int
tool_quiet(void)
{
	return quiet;
}

/* Control characters as '?', in place. */
static void
make_printable(char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

const char *
tool_printable(const char *s, char *buf, size_t len)
{
	if (len == 0)
		return "";
	snprintf(buf, len, "%s", s);
	make_printable(buf);
	return buf;
}

static void vwarn(const char *fmt, va_list ap) RD_PRINTF(1, 0);

static void
vwarn(const char *fmt, va_list ap)
{
	char small[1024], *msg = small;
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0)
		small[0] = '\0';
	/* a long path is named in full */
	if (n >= (int)sizeof(small) && (msg = malloc((size_t)n + 1)) != NULL)
		vsnprintf(msg, (size_t)n + 1, fmt, aq);
	va_end(aq);
	if (msg == NULL)
		msg = small;
	/*
	 * Names and strings in messages come from outside (file names, a
	 * stream, a catalog): never let one drive the terminal.
	 */
	make_printable(msg);
	tool_progress_done();
	fprintf(stderr, "%s: %s\n", progname, msg);
	if (use_syslog)
		syslog(LOG_ERR, "%s", msg);
	if (msg != small)
		free(msg);
}

void
tool_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
tool_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	fflush(stdout);
	exit(status);
}

void
tool_die_err(const struct rd_err *err)
{
	tool_die(tool_exit_code(err->code), "%s",
	    err->msg[0] != '\0' ? err->msg : "unknown error");
}

int
tool_exit_code(enum rd_code code)
{
	/* clang-format off */
	switch (code) {
	case RD_OK:		return EX_OK;
	case RD_EUSAGE:		return EX_USAGE;
	case RD_ECORRUPT:	return EX_DATAERR;
	case RD_ENOENT:		return EX_NOINPUT;
	case RD_EUNAVAIL:	return EX_UNAVAILABLE;
	case RD_EINTERNAL:	return EX_SOFTWARE;
	case RD_ENOMEM:		return EX_OSERR;
	case RD_ECANTCREAT:	return EX_CANTCREAT;
	case RD_EIO:		return EX_IOERR;
	case RD_EBUSY:		return EX_TEMPFAIL;
	case RD_EPERM:		return EX_NOPERM;
	}
	/* clang-format on */
	return EX_SOFTWARE;
}

int
tool_exit(int status)
{
	tool_progress_done();
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write standard output: %s\n",
		    progname, strerror(errno));
		return EX_IOERR;
	}
	return status;
}

void
tool_version(void)
{
	printf("%s (redund) %s\n", progname, PACKAGE_VERSION);
	exit(tool_exit(EX_OK));
}

void
tool_version_only(int argc)
{
	if (argc != 2)
		tool_die(EX_USAGE,
		    "--version takes no value and goes with nothing else (a snapshot is chosen with --snapshot N)");
	tool_version();
}

void
tool_usage(int status)
{
	FILE *fp = status == EX_OK ? stdout : stderr;
	size_t i;

	for (i = 0; i < usage_ncmds; i++)
		fprintf(fp, "%s%s %s\n", i == 0 ? "usage: " : "       ",
		    progname, usage_cmds[i].usage);
	exit(status);
}

int
tool_subcommand(const struct tool_cmd *cmds, size_t n, int argc, char **argv,
    int *status)
{
	size_t i;

	usage_cmds = cmds;
	usage_ncmds = n;
	if (argc < 2)
		return 0;
	for (i = 0; i < n; i++)
		if (cmds[i].name != NULL &&
		    strcmp(argv[1], cmds[i].name) == 0) {
			*status = cmds[i].fn(argc - 1, argv + 1);
			return 1;
		}
	return 0;
}

int
tool_dispatch(const struct tool_cmd *cmds, size_t n, int argc, char **argv)
{
	int status;

	if (tool_subcommand(cmds, n, argc, argv, &status))
		return status;
	if (argc < 2)
		tool_usage(EX_USAGE);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		tool_usage(EX_OK);
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)
		tool_version_only(argc);
	tool_warn("unknown command '%s'", argv[1]);
	tool_usage(EX_USAGE);
}

int64_t
tool_parse_int(const char *s, int64_t min, int64_t max, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		tool_die(EX_USAGE, "invalid %s '%s' (expected %lld to %lld)",
		    what, s, (long long)min, (long long)max);
	return v;
}

double
tool_parse_seconds(const char *s, const char *what)
{
	double v;

	if (rd_parse_duration(s, &v) == -1 || v < 0)
		tool_die(EX_USAGE,
		    "invalid %s '%s' (expected seconds, or a number with s, m, h, d or w)",
		    what, s);
	return v;
}

const char *
tool_human_bytes(int64_t n, char *buf, size_t len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while ((v >= 1024 || v <= -1024) && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lld B", (long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

const char *
tool_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)t);
	return buf;
}

int
tool_progress_enabled(void)
{
	return !quiet && isatty(STDERR_FILENO);
}

void
tool_progress(const char *fmt, ...)
{
	va_list ap;

	if (!tool_progress_enabled())
		return;
	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
	progress_shown = 1;
}

void
tool_progress_done(void)
{
	if (progress_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		progress_shown = 0;
	}
}

void
tool_opt_allowed(const char *cmd, const char *allowed,
    const struct option *longopts, int ch)
{
	const char *name = NULL;
	char key[64];
	int i;

	for (i = 0; longopts[i].name != NULL; i++)
		if (longopts[i].val == ch)
			name = longopts[i].name;
	if (name == NULL)
		tool_die(EX_USAGE, "%s does not take -%c", cmd, ch);
	snprintf(key, sizeof(key), " %s ", name);
	if (strstr(allowed, key) == NULL)
		tool_die(EX_USAGE, "%s does not take --%s", cmd, name);
}

void *
tool_xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL)
		tool_die(EX_OSERR, "out of memory");
	return p;
}

char *
tool_xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		tool_die(EX_OSERR, "out of memory");
	return p;
}
