/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdwatch: health probes.  Without --interval it runs every probe once,
 * concurrently, prints a line per probe and exits 0 if all are up, 1 if
 * any is down.  With --interval it loops: rise/fall damping per target,
 * hooks on transitions, JSON lines and a Prometheus metrics file.  The
 * work is in librd (probe.c, watch.c); this file parses the command line.
 */
#include "config.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "redund.h"
#include "tool.h"

enum { OPT_ON_CHANGE = 256, OPT_ON_DOWN, OPT_ON_UP };

static const struct option longopts[] = {
	{ "count", required_argument, NULL, 'c' },
	{ "fall", required_argument, NULL, 'f' },
	{ "help", no_argument, NULL, 'h' },
	{ "interval", required_argument, NULL, 'i' },
	{ "json", no_argument, NULL, 'j' },
	{ "metrics", required_argument, NULL, 'm' },
	{ "on-change", required_argument, NULL, OPT_ON_CHANGE },
	{ "on-down", required_argument, NULL, OPT_ON_DOWN },
	{ "on-up", required_argument, NULL, OPT_ON_UP },
	{ "output", required_argument, NULL, 'o' },
	{ "rise", required_argument, NULL, 'r' },
	{ "timeout", required_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static RD_NORETURN void
usage(int status)
{
	fprintf(status == EX_OK ? stdout : stderr,
	    "usage: %s [-hjV] [-t seconds] probe ...\n"
	    "       %s -i seconds [-jv] [-c count] [-f count] [-m file] [-o file]\n"
	    "               [-r count] [-t seconds] [--on-change command]\n"
	    "               [--on-down command] [--on-up command] probe ...\n",
	    tool_progname(), tool_progname());
	exit(status);
}

/* The long name of option "ch", for messages. */
static const char *
long_name(int ch)
{
	const struct option *o;

	for (o = longopts; o->name != NULL; o++)
		if (o->val == ch)
			return o->name;
	return "?";
}

/* 1 if option "ch" only makes sense with --interval. */
static int
is_loop_only(int ch)
{
	return ch == OPT_ON_CHANGE || ch == OPT_ON_DOWN || ch == OPT_ON_UP ||
	    (ch < 256 && strchr("cfmorv", ch) != NULL);
}

/* Seconds above 0 for "what", or die with EX_USAGE. */
static double
parse_period(const char *s, const char *what)
{
	double v = tool_parse_seconds(s, what);

	if (!isfinite(v) || v <= 0 || v > 1e6)
		tool_die(EX_USAGE,
		    "invalid %s '%s' (expected more than 0 and at most 1000000 seconds)",
		    what, s);
	return v;
}

static void
free_probes(struct rd_probe **probes, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		rd_probe_free(probes[i]);
	free(probes);
}

static void
warn_notice(void *arg, const char *msg)
{
	(void)arg;
	tool_warn("%s", msg);
}

/*
 * One round, a line per probe.  Returns 0 if all are up, 1 if any is
 * down, or the exit status of the first probe that could not be run.
 */
static int
oneshot(struct rd_probe **probes, size_t n, double timeout, int json)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_probe_result *res;
	struct rd_json *j = NULL;
	double when = rd_now();
	size_t i;
	int status = EX_OK, failed = 0;

	res = tool_xmalloc(n * sizeof(*res));
	if (json && (j = rd_json_new(stdout)) == NULL)
		tool_die(EX_OSERR, "out of memory");
	if (rd_probe_round(probes, n, timeout, res, &err) == -1)
		tool_die_err(&err);
	for (i = 0; i < n; i++) {
		if (json) {
			rd_probe_print_json(j, probes[i], &res[i], when);
			rd_json_line(j);
		} else {
			rd_probe_print(stdout, probes[i], &res[i]);
			putchar('\n');
		}
		if (res[i].state == RD_PROBE_DOWN && status == EX_OK)
			status = 1;
		if (res[i].state == RD_PROBE_ERROR) {
			tool_warn("%s: %s", rd_probe_spec(probes[i]),
			    res[i].reason);
			if (!failed)
				failed = tool_exit_code(res[i].code);
		}
	}
	rd_json_free(j);
	free(res);
	return failed ? failed : status;
}

int
main(int argc, char *argv[])
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_watch_opts opts = RD_WATCH_OPTS_INIT;
	struct rd_watch *w = NULL;
	struct rd_probe **probes;
	size_t n, i, k;
	int ch, interval = 0, loop_only = 0, status;

	tool_init(argv[0], "rdwatch");
	/* an inherited SIG_IGN would make the kernel reap our children */
	signal(SIGCHLD, SIG_DFL);
	while ((ch = getopt_long(argc, argv, "c:f:hi:jm:o:r:t:vV", longopts,
	            NULL)) != -1) {
		switch (ch) {
		case 'c':
			opts.count =
			    tool_parse_int(optarg, 1, INT64_MAX, "round count");
			break;
		case 'f':
			opts.fall = (int)tool_parse_int(optarg, 1, 1000000,
			    "fall count");
			break;
		case 'i':
			opts.interval = parse_period(optarg, "interval");
			interval = 1;
			break;
		case 'j':
			opts.json = 1;
			break;
		case 'm':
			opts.metrics = optarg;
			break;
		case 'o':
			opts.output = optarg;
			break;
		case 'r':
			opts.rise = (int)tool_parse_int(optarg, 1, 1000000,
			    "rise count");
			break;
		case 't':
			opts.timeout = parse_period(optarg, "timeout");
			break;
		case 'v':
			opts.verbose = 1;
			break;
		case OPT_ON_CHANGE:
			opts.on_change = optarg;
			break;
		case OPT_ON_DOWN:
			opts.on_down = optarg;
			break;
		case OPT_ON_UP:
			opts.on_up = optarg;
			break;
		case 'V':
			tool_version();
		case 'h':
			usage(EX_OK);
		default:
			usage(EX_USAGE);
		}
		if (loop_only == 0 && is_loop_only(ch))
			loop_only = ch;
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage(EX_USAGE);
	if (!interval && loop_only != 0)
		tool_die(EX_USAGE, "--%s needs --interval",
		    long_name(loop_only));

	/* every spec is checked before anything runs */
	n = (size_t)argc;
	probes = tool_xmalloc(n * sizeof(*probes));
	for (i = 0; i < n; i++) {
		for (k = 0; k < i; k++)
			if (strcmp(argv[k], argv[i]) == 0)
				rd_err_set(&err, RD_EUSAGE,
				    "duplicate probe '%s'", argv[i]);
		if (err.code != RD_OK ||
		    rd_probe_parse(argv[i], &probes[i], &err) == -1) {
			free_probes(probes, i);
			tool_die_err(&err);
		}
	}

	if (!interval) {
		status = oneshot(probes, n, opts.timeout, opts.json);
	} else {
		opts.notice = warn_notice;
		status = EX_OK;
		if (rd_watch_new(probes, n, &opts, &w, &err) == -1 ||
		    rd_watch_run(w, &err) == -1)
			status = tool_exit_code(err.code);
		rd_watch_free(w);
	}
	free_probes(probes, n);
	if (err.code != RD_OK)
		tool_die_err(&err);
	return tool_exit(status);
}
