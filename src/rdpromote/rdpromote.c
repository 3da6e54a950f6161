/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdpromote: bring a standby online during an incident, rehearse it with
 * a drill, abort an unfinished promotion, and show past promotions.  This
 * file parses the command line and prints; librd does the work.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "tool.h"

static RD_NORETURN void
usage(int status)
{
	FILE *fp = status == EX_OK ? stdout : stderr;
	const char *p = tool_progname();

	fprintf(fp,
	    "usage: %s [--primary PROBE] [--fence CMD] [--start CMD] [--check PROBE]\n"
	    "              [--check-timeout SECONDS] [--hook-timeout SECONDS]\n"
	    "              [--probe-timeout SECONDS] [--version N] [--verify full|quick]\n"
	    "              [--force] [--dry-run] [--wait SECONDS] [--json] store target\n"
	    "       %s --drill [--start CMD] [--check PROBE] [--check-timeout SECONDS]\n"
	    "              [--hook-timeout SECONDS] [--probe-timeout SECONDS] [--version N]\n"
	    "              [--verify full|quick] [--dry-run] [--wait SECONDS] [--json]\n"
	    "              store scratch\n"
	    "       %s --abort [--wait SECONDS] [--json] store target\n"
	    "       %s history [--json] store\n"
	    "       %s --help | --version\n",
	    p, p, p, p, p);
	exit(status);
}

enum {
	OPT_ABORT = 256,
	OPT_CHECK,
	OPT_CHECK_TIMEOUT,
	OPT_DRILL,
	OPT_DRY_RUN,
	OPT_FENCE,
	OPT_FORCE,
	OPT_HOOK_TIMEOUT,
	OPT_JSON,
	OPT_PRIMARY,
	OPT_PROBE_TIMEOUT,
	OPT_START,
	OPT_VERIFY,
	OPT_VERSION_N,
	OPT_WAIT
};

static const struct option longopts[] = {
	{ "abort", no_argument, NULL, OPT_ABORT },
	{ "check", required_argument, NULL, OPT_CHECK },
	{ "check-timeout", required_argument, NULL, OPT_CHECK_TIMEOUT },
	{ "drill", no_argument, NULL, OPT_DRILL },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "fence", required_argument, NULL, OPT_FENCE },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "help", no_argument, NULL, 'h' },
	{ "hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "primary", required_argument, NULL, OPT_PRIMARY },
	{ "probe-timeout", required_argument, NULL, OPT_PROBE_TIMEOUT },
	{ "start", required_argument, NULL, OPT_START },
	{ "verify", required_argument, NULL, OPT_VERIFY },
	{ "version", optional_argument, NULL, OPT_VERSION_N },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ NULL, 0, NULL, 0 },
};

struct step_rec {
	char step[16];
	char outcome[16];
	double seconds;
	char detail[600];
};

struct ui {
	int json;
	int n;
	struct step_rec rec[16];
};

static void
on_step(void *arg, const char *step, const char *outcome, double seconds,
    const char *detail)
{
	struct ui *u = arg;
	struct step_rec *r;

	if (u->json) {
		if (u->n == 16)
			return;
		r = &u->rec[u->n++];
		snprintf(r->step, sizeof(r->step), "%s", step);
		snprintf(r->outcome, sizeof(r->outcome), "%s", outcome);
		r->seconds = seconds;
		snprintf(r->detail, sizeof(r->detail), "%s", detail);
		return;
	}
	if (strcmp(outcome, "plan") == 0)
		printf("  %-11s  %s\n", step, detail);
	else if (strcmp(outcome, "done") == 0)
		printf("  %-11s  %-6s            %s\n", step, outcome, detail);
	else
		printf("  %-11s  %-6s  %6.2f s  %s\n", step, outcome, seconds,
		    detail);
	fflush(stdout);
}

static void
json_steps(struct rd_json *j, const struct ui *u)
{
	int i;

	rd_json_arr_begin(j, "steps");
	for (i = 0; i < u->n; i++) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "step", u->rec[i].step);
		rd_json_str(j, "outcome", u->rec[i].outcome);
		rd_json_num(j, "seconds", u->rec[i].seconds);
		rd_json_str(j, "detail", u->rec[i].detail);
		rd_json_obj_end(j);
	}
	rd_json_arr_end(j);
}

static void
print_result(const char *mode, int rc, const struct rd_promote_opts *o,
    const struct rd_promote_result *r, const struct ui *u, const char *store)
{
	struct rd_json *j;
	char t[32];

	if (u->json) {
		j = rd_json_new(stdout);
		if (j == NULL)
			tool_die(EX_OSERR, "out of memory");
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "operation", mode);
		rd_json_str(j, "outcome", rc == 0 ? "done" : "refused");
		rd_json_str(j, "store", store);
		rd_json_str(j, "target", r->target);
		rd_json_int(j, "id", r->id);
		rd_json_int(j, "version", r->version);
		rd_json_int(j, "snapshot_time", r->snap_time);
		rd_json_int(j, "epoch", r->epoch);
		rd_json_bool(j, "resumed", r->resumed);
		rd_json_bool(j, "used_replica", r->used_replica);
		rd_json_bool(j, "quick_verify", o->quick_verify);
		rd_json_int(j, "entries_verified", r->files);
		if (rc == 0 && !o->dry_run) {
			rd_json_num(j, "rto", r->rto);
			rd_json_num(j, "rpo", r->rpo);
		}
		if (r->aside[0] != '\0')
			rd_json_str(j, "aside", r->aside);
		if (r->message[0] != '\0')
			rd_json_str(j, "message", r->message);
		rd_json_bool(j, "open", r->open);
		json_steps(j, u);
		rd_json_obj_end(j);
		rd_json_line(j);
		rd_json_free(j);
		return;
	}
	if (rc != 0) {
		printf("REFUSED: %s\n", r->message);
		if (r->open)
			printf(
			    "the promotion stays open (the store is fenced): fix the cause and rerun the same command, or rdpromote --abort\n");
		return;
	}
	if (o->dry_run) {
		printf(
		    "nothing was changed (--dry-run); snapshot %lld is %.0f s old\n",
		    (long long)r->version, r->rpo);
		return;
	}
	tool_time(r->snap_time, t, sizeof(t));
	if (o->drill) {
		printf(
		    "DRILL PASSED: snapshot %lld (taken %s) restored, verified%s and removed\n",
		    (long long)r->version, t,
		    o->quick_verify ? " (metadata only)" : "");
		printf(
		    "  RTO %.1f s: a promotion would have taken this long to a %s\n",
		    r->rto,
		    o->check != NULL ? "healthy service" : "verified tree");
		printf(
		    "  RPO %.0f s: the changes after that snapshot would have been lost\n",
		    r->rpo);
		return;
	}
	printf("PROMOTED: '%s' holds snapshot %lld (taken %s)\n", r->target,
	    (long long)r->version, t);
	printf(
	    "  RPO %.0f s: changes on the old primary after that snapshot are not in it\n",
	    r->rpo);
	printf("  RTO %.1f s: from the start of the promotion to %s\n", r->rto,
	    o->check != NULL ? "a healthy service"
	                     : "the end (no --check given)");
	printf(
	    "  epoch %lld: bundles from the old primary are refused from now on\n",
	    (long long)r->epoch);
	if (r->aside[0] != '\0')
		printf("  the old target is kept as '%s'\n", r->aside);
	if (o->quick_verify)
		printf(
		    "  WARNING: --verify quick checked metadata only; contents were not hashed\n");
	printf(
	    "next: this store is now a primary: snapshot it (rdsnap create), and re-seed\n"
	    "      the old primary as the new standby (see RE-SEEDING in rdpromote(1))\n");
}

static int
history_one(void *arg, const struct rd_promotion *p)
{
	struct rd_json *j = arg;
	char t[32];
	int i;

	if (j != NULL) {
		rd_json_obj_begin(j, NULL);
		rd_json_int(j, "id", p->id);
		rd_json_str(j, "kind", p->drill ? "drill" : "promote");
		rd_json_int(j, "version", p->version);
		rd_json_str(j, "target", p->target);
		rd_json_num(j, "started", p->started);
		rd_json_num(j, "finished", p->finished);
		rd_json_str(j, "state", p->state);
		rd_json_int(j, "epoch", p->epoch);
		if (p->has_rto) {
			rd_json_num(j, "rto", p->rto);
			rd_json_num(j, "rpo", p->rpo);
		}
		rd_json_str(j, "message", p->message);
		rd_json_arr_begin(j, "steps");
		for (i = 0; i < p->nsteps; i++) {
			rd_json_obj_begin(j, NULL);
			rd_json_str(j, "step", p->steps[i].name);
			rd_json_str(j, "outcome", p->steps[i].outcome);
			rd_json_num(j, "seconds",
			    p->steps[i].finished > 0
			        ? p->steps[i].finished - p->steps[i].started
			        : 0);
			rd_json_str(j, "detail", p->steps[i].detail);
			rd_json_obj_end(j);
		}
		rd_json_arr_end(j);
		rd_json_obj_end(j);
		rd_json_line(j);
		return 0;
	}
	printf("%lld  %-7s  snapshot %lld  %s  %s  %s", (long long)p->id,
	    p->drill ? "drill" : "promote", (long long)p->version,
	    tool_time((int64_t)p->started, t, sizeof(t)), p->state, p->target);
	if (p->has_rto)
		printf("  RTO %.1f s  RPO %.0f s", p->rto, p->rpo);
	putchar('\n');
	for (i = 0; i < p->nsteps; i++)
		printf("    %-11s  %-7s  %6.2f s  %s\n", p->steps[i].name,
		    p->steps[i].outcome,
		    p->steps[i].finished > 0
		        ? p->steps[i].finished - p->steps[i].started
		        : 0,
		    p->steps[i].detail);
	if (strcmp(p->state, "done") != 0 && p->message[0] != '\0')
		printf("    %s\n", p->message);
	return 0;
}

static int
cmd_history(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	struct rd_json *j = NULL;
	int ch, json = 0, r;

	optind = 1;
	argv[0] = (char *)tool_progname();
	while ((ch = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		if (ch == 'h')
			usage(EX_OK);
		if (ch == 'V')
			tool_version();
		if (ch == '?')
			usage(EX_USAGE);
		tool_opt_allowed("history", " json ", longopts, ch);
		json = 1;
	}
	if (argc - optind != 1)
		usage(EX_USAGE);
	if (rd_store_open(argv[optind], RD_OPEN_READ, 0, &st, &err) == -1)
		tool_die_err(&err);
	if (json) {
		j = rd_json_new(stdout);
		if (j == NULL)
			tool_die(EX_OSERR, "out of memory");
	}
	r = rd_promote_history(st, history_one, j, &err);
	rd_store_close(st);
	rd_json_free(j);
	if (r == -1)
		tool_die_err(&err);
	return tool_exit(EX_OK);
}

int
main(int argc, char *argv[])
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_promote_opts o = RD_PROMOTE_OPTS_INIT;
	struct rd_promote_result r;
	struct rd_store *st = NULL;
	struct ui u;
	const char *mode = "promote";
	double wait = 0;
	int ch, abort_it = 0, rc;

	tool_init(argv[0], "rdpromote");
	if (argc >= 2 && strcmp(argv[1], "history") == 0)
		return cmd_history(argc - 1, argv + 1);
	memset(&u, 0, sizeof(u));
	while ((ch = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_ABORT:
			abort_it = 1;
			break;
		case OPT_CHECK:
			o.check = optarg;
			break;
		case OPT_CHECK_TIMEOUT:
			o.check_timeout =
			    tool_parse_seconds(optarg, "check timeout");
			break;
		case OPT_DRILL:
			o.drill = 1;
			break;
		case OPT_DRY_RUN:
			o.dry_run = 1;
			break;
		case OPT_FENCE:
			o.fence = optarg;
			break;
		case OPT_FORCE:
			o.force = 1;
			break;
		case 'h':
			usage(EX_OK);
		case OPT_HOOK_TIMEOUT:
			o.hook_timeout =
			    tool_parse_seconds(optarg, "hook timeout");
			break;
		case OPT_JSON:
			u.json = 1;
			break;
		case OPT_PRIMARY:
			o.primary = optarg;
			break;
		case OPT_PROBE_TIMEOUT:
			o.probe_timeout =
			    tool_parse_seconds(optarg, "probe timeout");
			break;
		case OPT_START:
			o.start = optarg;
			break;
		case OPT_VERIFY:
			if (strcmp(optarg, "full") == 0)
				o.quick_verify = 0;
			else if (strcmp(optarg, "quick") == 0)
				o.quick_verify = 1;
			else
				tool_die(EX_USAGE,
				    "invalid --verify '%s' (expected full or quick)",
				    optarg);
			break;
		case 'V':
			tool_version();
		case OPT_VERSION_N:
			/* "--version N" names a snapshot; alone it is -V */
			if (optarg == NULL && optind < argc &&
			    argv[optind][0] != '\0' &&
			    strspn(argv[optind], "0123456789") ==
			        strlen(argv[optind]))
				optarg = argv[optind++];
			if (optarg == NULL)
				tool_version();
			o.version =
			    tool_parse_int(optarg, 1, INT64_MAX, "version");
			break;
		case OPT_WAIT:
			wait = tool_parse_seconds(optarg, "wait");
			break;
		default:
			usage(EX_USAGE);
		}
	}
	if (argc - optind != 2)
		usage(EX_USAGE);
	if (o.drill && abort_it)
		tool_die(EX_USAGE, "--drill and --abort do not go together");
	if (o.drill) {
		mode = "drill";
		if (o.primary != NULL || o.fence != NULL || o.force)
			tool_die(EX_USAGE,
			    "a drill does not check the primary, fence or force: drop --primary, --fence and --force");
	}
	if (abort_it) {
		struct rd_promote_opts def = RD_PROMOTE_OPTS_INIT;

		mode = "abort";
		if (o.primary != NULL || o.fence != NULL || o.start != NULL ||
		    o.check != NULL || o.force || o.dry_run || o.version != 0 ||
		    o.quick_verify || o.check_timeout != def.check_timeout ||
		    o.hook_timeout != def.hook_timeout ||
		    o.probe_timeout != def.probe_timeout)
			tool_die(EX_USAGE,
			    "--abort takes only the store and the target (and --json, --wait)");
	}
	o.step = on_step;
	o.step_arg = &u;
	if (rd_store_open(argv[optind],
	        o.dry_run ? RD_OPEN_READ : RD_OPEN_WRITE, wait, &st,
	        &err) == -1)
		tool_die_err(&err);
	if (!u.json && !abort_it) {
		if (o.dry_run)
			printf(
			    "PLAN for %s of '%s' into '%s' (nothing will be changed):\n",
			    o.drill ? "a drill" : "a promotion", argv[optind],
			    argv[optind + 1]);
		else
			printf("%s of '%s' into '%s':\n",
			    o.drill ? "Drill" : "Promotion", argv[optind],
			    argv[optind + 1]);
		fflush(stdout);
	}
	if (abort_it)
		rc = rd_promote_abort(st, argv[optind + 1], &r, &err);
	else
		rc = rd_promote(st, argv[optind + 1], &o, &r, &err);
	rd_store_close(st);
	if (rc == -1) {
		if (!u.json && !abort_it && r.id != 0)
			printf(
			    "STOPPED by an error; rerun the same command to continue from the last completed step, or rdpromote --abort\n");
		tool_die_err(&err);
	}
	if (abort_it && !u.json) {
		printf("%s: %s\n", rc == 0 ? "ABORTED" : "NOT ABORTED",
		    r.message);
		return tool_exit(rc == 0 ? EX_OK : 1);
	}
	print_result(mode, rc, &o, &r, &u, argv[optind]);
	return tool_exit(rc == 0 ? EX_OK : 1);
}
