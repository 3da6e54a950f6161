/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdwatch: health probes.  Without --interval it runs every probe once,
 * concurrently, prints a line per probe and exits 0 if all are up, 1 if
 * any is down.  With --interval it loops: rise/fall damping per target,
 * hooks on transitions, JSON lines and a Prometheus metrics file.  With
 * --record both modes keep a history in a store's catalog, which
 * "rdwatch report" turns into availability, outages, MTBF and MTTR.  The
 * work is in librd (probe*.c, watch.c, watchlog.c); this file parses the
 * command line and prints.
 */
#include "config.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "rd_probe.h"
#include "redund.h"
#include "tool.h"

enum {
	OPT_ON_CHANGE = 256,
	OPT_ON_DOWN,
	OPT_ON_UP,
	OPT_RECORD,
	OPT_NOW,
	OPT_SINCE
};

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
	{ "quiet", no_argument, NULL, 'q' },
	{ "record", required_argument, NULL, OPT_RECORD },
	{ "rise", required_argument, NULL, 'r' },
	{ "syslog", no_argument, NULL, TOOL_OPT_SYSLOG },
	{ "timeout", required_argument, NULL, 't' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

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
	    (ch < 256 && strchr("cfor", ch) != NULL);
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

/* --syslog: a line per transition of the loop. */
static void
log_transition(void *arg, const char *target, const char *previous,
    const char *state, const char *reason)
{
	(void)arg;
	tool_log("%s %s -> %s%s%s", target, previous, state,
	    reason[0] != '\0' ? ": " : "", reason);
}

static void
warn_notice(void *arg, const char *msg)
{
	(void)arg;
	tool_warn("%s", msg);
}

/*
 * Record the results of a one-shot round in "wl", waiting at most
 * "wait" seconds for a busy catalog.  Failures are warnings: the
 * results stand whether or not they could be recorded.
 */
static void
record_oneshot(struct rd_watchlog *wl, const char *store,
    struct rd_probe **probes, const struct rd_probe_result *res, size_t n,
    double when, double wait)
{
	struct rd_err err = RD_ERR_INIT;
	size_t i, nres, ntr;

	for (i = 0; i < n; i++) {
		if (rd_watchlog_sample(wl, rd_probe_spec(probes[i]), when,
		        &res[i], &err) == -1) {
			tool_warn("cannot record in store '%s': %s", store,
			    err.msg);
			return;
		}
	}
	if (rd_watchlog_flush(wl, wait, &err) == -1) {
		rd_watchlog_pending(wl, &nres, &ntr);
		tool_warn("%s; %zu result%s and %zu transition%s not recorded",
		    err.msg, nres, nres == 1 ? "" : "s", ntr,
		    ntr == 1 ? "" : "s");
	}
}

/*
 * One round, a line per probe; with "wl", recorded there.  Returns 0 if
 * all are up, 1 if any is down, or the exit status of the first probe
 * that could not be run.
 */
/*
 * Write the metrics of a one-shot round to "path".  Returns 0, or the
 * exit status of the failure, which is reported.
 */
static int
oneshot_metrics(const char *path, struct rd_probe **probes,
    const struct rd_probe_result *res, size_t n)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_metrics *m = rd_metrics_new();

	if (m == NULL)
		tool_die(EX_OSERR, "out of memory");
	if (rd_probe_metrics(m, probes, res, NULL, n, &err) == -1 ||
	    rd_metrics_write(m, path, &err) == -1) {
		rd_metrics_free(m);
		tool_warn("%s", err.msg);
		return tool_exit_code(err.code);
	}
	rd_metrics_free(m);
	return 0;
}

static int
oneshot(struct rd_probe **probes, size_t n, double timeout, int json,
    struct rd_watchlog *wl, const char *store, const char *metrics)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_probe_result *res;
	struct rd_json *j = NULL;
	double when = rd_now();
	size_t i;
	int status = EX_OK, failed = 0, r;

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
		if (res[i].state == RD_PROBE_DOWN) {
			tool_log("%s down: %s", rd_probe_spec(probes[i]),
			    res[i].reason);
			if (status == EX_OK)
				status = 1;
		}
		if (res[i].state == RD_PROBE_ERROR) {
			tool_warn("%s: %s", rd_probe_spec(probes[i]),
			    res[i].reason);
			if (!failed)
				failed = tool_exit_code(res[i].code);
		}
	}
	if (wl != NULL) {
		fflush(stdout);
		record_oneshot(wl, store, probes, res, n, when, timeout);
	}
	if (metrics != NULL && (r = oneshot_metrics(metrics, probes, res, n)))
		failed = r;
	rd_json_free(j);
	free(res);
	return failed ? failed : status;
}

/* ------------------------------------------------------------------ */
/* rdwatch report */

static const struct option report_longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "json", no_argument, NULL, 'j' },
	{ "now", required_argument, NULL, OPT_NOW },
	{ "quiet", no_argument, NULL, 'q' },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "syslog", no_argument, NULL, TOOL_OPT_SYSLOG },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Whole seconds (at least 0) for JSON, rounded to the nearest. */
static int64_t
whole(double seconds)
{
	return (int64_t)(seconds + 0.5);
}

/*
 * A percentage truncated to "scale" (1000: three decimals), so that it
 * never reads 100 while there was downtime.  The small bias absorbs
 * binary fractions such as 99.8999999 for 99.9.
 */
static double
truncated(double pct, double scale)
{
	return (double)(long long)(pct * scale + 1e-6) / scale;
}

/* "s" with control characters as '?', as rd_probe_print() writes targets. */
static void
put_clean(const char *s)
{
	for (; *s != '\0'; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/*
 * One line per target:
 * TARGET availability 99.305% over 1 d, 2 outages, down 10 min,
 * longest 8 min, MTBF 11 h 55 min, MTTR 5 min, last up
 */
static int
report_text(const struct rd_watch_stats *s)
{
	char a[32], b[32], c[32], d[32], e[32];

	put_clean(s->target);
	if (s->known > 0)
		printf(" availability %.3f%%",
		    truncated(s->availability, 1000));
	else
		printf(" availability -");
	printf(" over %s, %lld outage%s",
	    rd_duration_human(s->known, a, sizeof(a)), (long long)s->outages,
	    s->outages == 1 ? "" : "s");
	if (s->outages > 0)
		printf(", down %s, longest %s, MTBF %s, MTTR %s",
		    rd_duration_human(s->down, b, sizeof(b)),
		    rd_duration_human(s->longest, c, sizeof(c)),
		    rd_duration_human(s->mtbf, d, sizeof(d)),
		    rd_duration_human(s->mttr, e, sizeof(e)));
	printf(", last %s\n", rd_probe_state_name(s->last));
	return 0;
}

/* One JSON object per target, in the "targets" array; durations in
 * whole seconds. */
static int
report_json(struct rd_json *j, const struct rd_watch_stats *s)
{
	char tbuf[40];

	rd_json_obj_begin(j, NULL);
	rd_json_str(j, "target", s->target);
	rd_json_str(j, "from", rd_time_iso(s->from, 0, tbuf, sizeof(tbuf)));
	rd_json_str(j, "to", rd_time_iso(s->to, 0, tbuf, sizeof(tbuf)));
	rd_json_int(j, "known", whole(s->known));
	rd_json_int(j, "up", whole(s->up));
	rd_json_int(j, "down", whole(s->down));
	if (s->known > 0)
		rd_json_num(j, "availability",
		    truncated(s->availability, 10000));
	else
		rd_json_null(j, "availability");
	rd_json_int(j, "outages", s->outages);
	rd_json_int(j, "longest", whole(s->longest));
	if (s->outages > 0) {
		rd_json_int(j, "mtbf", whole(s->mtbf));
		rd_json_int(j, "mttr", whole(s->mttr));
	} else {
		rd_json_null(j, "mtbf");
		rd_json_null(j, "mttr");
	}
	rd_json_str(j, "last", rd_probe_state_name(s->last));
	rd_json_int(j, "results", s->results);
	rd_json_obj_end(j);
	return 0;
}

struct report {
	struct rd_json *json; /* NULL: text */
	int64_t targets;
};

static int
report_one(void *arg, const struct rd_watch_stats *s)
{
	struct report *rep = arg;

	rep->targets++;
	return rep->json != NULL ? report_json(rep->json, s) : report_text(s);
}

/* "rdwatch report": availability per target from a store's records. */
static int
report_main(int argc, char *argv[])
{
	struct rd_err err = RD_ERR_INIT;
	struct report rep = { NULL, 0 };
	struct rd_store *st = NULL;
	const char *since_arg = NULL;
	double now = rd_now(), since = 0, span = 0;
	char **args;
	int ch, json = 0, r, nargs;

	tool_getopt_reset(argv);
	while ((ch = tool_getopt(argc, argv, "j", report_longopts)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case OPT_NOW:
			now = (double)tool_parse_int(optarg, 1,
			    INT64_C(1) << 40, "time");
			break;
		case OPT_SINCE:
			span = tool_parse_positive_seconds(optarg, "duration");
			since_arg = optarg;
			break;
		default:
			tool_usage(EX_USAGE);
		}
	}
	args = tool_operands(argc - optind, argv + optind, &nargs);
	if (span > 0)
		since = now - span;
	if (rd_store_open(args[0], RD_OPEN_READ, 0, &st, &err) == -1)
		tool_die_err(&err);
	if (json && (rep.json = rd_json_new(stdout)) == NULL)
		tool_die(EX_OSERR, "out of memory");
	if (rep.json != NULL) {
		/* one document, valid with no target too */
		rd_json_obj_begin(rep.json, NULL);
		rd_json_str(rep.json, "schema", "rdwatch-report/1");
		rd_json_arr_begin(rep.json, "targets");
	}
	r = rd_watch_report(st, since, now, report_one, &rep, &err);
	if (r == 0 && rep.json != NULL) {
		rd_json_arr_end(rep.json);
		rd_json_obj_end(rep.json);
		rd_json_line(rep.json);
	}
	rd_json_free(rep.json);
	rd_store_close(st);
	if (r == -1)
		tool_die_err(&err);
	if (rep.targets == 0)
		tool_notice("no probe records in store '%s'%s%s", args[0],
		    since_arg != NULL ? " in the last " : "",
		    since_arg != NULL ? since_arg : "");
	return tool_exit(EX_OK);
}

static const struct tool_cmd cmds[] = {
	{ NULL, NULL,
	    "[-hjqvV] [-m file] [-t seconds] [--record store] [--syslog] probe ...",
	    0 },
	{ NULL, NULL,
	    "-i seconds [-jqv] [-c count] [-f count] [-m file] [-o file]\n"
	    "               [-r count] [-t seconds] [--on-change command]\n"
	    "               [--on-down command] [--on-up command]\n"
	    "               [--record store] [--syslog] probe ...",
	    0 },
	{ "report", report_main,
	    "report [-jqv] [--now time] [--since duration] [--syslog] store",
	    TOOL_READER },
};

int
main(int argc, char *argv[])
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_watch_opts opts = RD_WATCH_OPTS_INIT;
	struct rd_watch *w = NULL;
	struct rd_watchlog *wl = NULL;
	struct rd_probe **probes;
	size_t n, i, k;
	char **args;
	int ch, interval = 0, loop_only = 0, status, nargs;

	tool_init(argv[0], "rdwatch");
	/* an inherited SIG_IGN would make the kernel reap our children */
	signal(SIGCHLD, SIG_DFL);
	if (tool_subcommand(cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv,
	        &status))
		return status;
	tool_getopt_reset(argv);
	while ((ch = tool_getopt(argc, argv, "c:f:i:jm:o:r:t:", longopts)) !=
	    -1) {
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
		case OPT_ON_CHANGE:
			opts.on_change = optarg;
			break;
		case OPT_ON_DOWN:
			opts.on_down = optarg;
			break;
		case OPT_ON_UP:
			opts.on_up = optarg;
			break;
		case OPT_RECORD:
			opts.record = optarg;
			break;
		default:
			tool_usage(EX_USAGE);
		}
		if (loop_only == 0 && is_loop_only(ch))
			loop_only = ch;
	}
	args = tool_operands(argc - optind, argv + optind, &nargs);
	opts.verbose = tool_verbose();
	if (tool_syslog())
		opts.transition = log_transition;
	if (!interval && loop_only != 0)
		tool_die(EX_USAGE, "--%s needs --interval",
		    long_name(loop_only));

	/* every spec is checked before anything runs */
	n = (size_t)nargs;
	probes = tool_xmalloc(n * sizeof(*probes));
	for (i = 0; i < n; i++) {
		for (k = 0; k < i; k++)
			if (strcmp(args[k], args[i]) == 0)
				rd_err_set(&err, RD_EUSAGE,
				    "duplicate probe '%s'", args[i]);
		if (err.code != RD_OK ||
		    rd_probe_parse(args[i], &probes[i], &err) == -1) {
			free_probes(probes, i);
			tool_die_err(&err);
		}
	}

	if (!interval) {
		/* a bad store fails before anything runs */
		if ((opts.metrics != NULL &&
		        rd_metrics_check_path(opts.metrics, &err) == -1) ||
		    (opts.record != NULL &&
		        rd_watchlog_open(opts.record, 0, &wl, &err) == -1)) {
			free_probes(probes, n);
			tool_die_err(&err);
		}
		status = oneshot(probes, n, opts.timeout, opts.json, wl,
		    opts.record, opts.metrics);
		rd_watchlog_close(wl);
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
