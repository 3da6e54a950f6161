/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdpromote: bring a standby online during an incident, rehearse it with
 * a drill, resume, fall back or abort an unfinished promotion, show past
 * promotions and remove the trees they kept.  This file parses the
 * command line and prints; librd does the work.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "tool.h"

enum {
	OPT_ABORT = 256,
	OPT_ALLOW_PARTIAL,
	OPT_CHECK,
	OPT_CHECK_TIMEOUT,
	OPT_CLUSTER,
	OPT_DRILL,
	OPT_ETCD,
	OPT_ETCD_TIMEOUT,
	OPT_FAILED_AT,
	OPT_FENCE,
	OPT_FINAL_SNAPSHOT,
	OPT_FORCE,
	OPT_HEARTBEAT,
	OPT_HOOK_TIMEOUT,
	OPT_NO_FENCE,
	OPT_PRIMARY,
	OPT_PRIMARY_STOP,
	OPT_PROBE_TIMEOUT,
	OPT_RESUME,
	OPT_START,
	OPT_STOP,
	OPT_SWITCHOVER,
	OPT_VALIDATE,
	OPT_VERIFY,
};

static const struct option longopts[] = {
	{ "abort", no_argument, NULL, OPT_ABORT },
	{ "allow-partial", no_argument, NULL, OPT_ALLOW_PARTIAL },
	{ "check", required_argument, NULL, OPT_CHECK },
	{ "check-timeout", required_argument, NULL, OPT_CHECK_TIMEOUT },
	{ "cluster", required_argument, NULL, OPT_CLUSTER },
	{ "drill", no_argument, NULL, OPT_DRILL },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "etcd", required_argument, NULL, OPT_ETCD },
	{ "etcd-timeout", required_argument, NULL, OPT_ETCD_TIMEOUT },
	{ "failed-at", required_argument, NULL, OPT_FAILED_AT },
	{ "fence", required_argument, NULL, OPT_FENCE },
	{ "final-snapshot", required_argument, NULL, OPT_FINAL_SNAPSHOT },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
	{ "help", no_argument, NULL, 'h' },
	{ "hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT },
	{ "json", no_argument, NULL, 'j' },
	{ "no-fence", no_argument, NULL, OPT_NO_FENCE },
	{ "primary", required_argument, NULL, OPT_PRIMARY },
	{ "primary-stop", required_argument, NULL, OPT_PRIMARY_STOP },
	{ "probe-timeout", required_argument, NULL, OPT_PROBE_TIMEOUT },
	{ "quiet", no_argument, NULL, 'q' },
	{ "resume", no_argument, NULL, OPT_RESUME },
	{ "snapshot", required_argument, NULL, 's' },
	{ "start", required_argument, NULL, OPT_START },
	{ "stop", required_argument, NULL, OPT_STOP },
	{ "switchover", no_argument, NULL, OPT_SWITCHOVER },
	{ "syslog", no_argument, NULL, TOOL_OPT_SYSLOG },
	{ "validate", required_argument, NULL, OPT_VALIDATE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "verify", required_argument, NULL, OPT_VERIFY },
	{ "version", no_argument, NULL, 'V' },
	{ "wait", required_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 },
};

#define NREC 32

struct step_rec {
	char step[16];
	char outcome[16];
	double seconds;
	char detail[600];
};

struct ui {
	int json;
	int n, nchecks;
	const char *what; /* "promotion 3", for syslog */
	struct step_rec rec[NREC];
	struct step_rec check[NREC];
};

static void
record(struct step_rec *r, const char *step, const char *outcome,
    double seconds, const char *detail)
{
	snprintf(r->step, sizeof(r->step), "%s", step);
	snprintf(r->outcome, sizeof(r->outcome), "%s", outcome);
	r->seconds = seconds;
	snprintf(r->detail, sizeof(r->detail), "%s", detail);
}

static void
on_step(void *arg, const char *step, const char *outcome, double seconds,
    const char *detail)
{
	struct ui *u = arg;

	if (strcmp(outcome, "plan") != 0)
		tool_log("%s: %s %s: %s", u->what, step, outcome, detail);
	if (u->json) {
		if (u->n < NREC)
			record(&u->rec[u->n++], step, outcome, seconds, detail);
		return;
	}
	if (tool_quiet())
		return;
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
on_check(void *arg, const char *check, const char *outcome, double seconds,
    const char *detail)
{
	struct ui *u = arg;

	if (u->json) {
		if (u->nchecks < NREC)
			record(&u->check[u->nchecks++], check, outcome, seconds,
			    detail);
		return;
	}
	if (u->nchecks++ == 0)
		printf("checks (as the promotion would make them):\n");
	printf("  %-11s  %-7s  %s\n", check, outcome, detail);
	fflush(stdout);
}

static void
json_recs(struct rd_json *j, const char *key, const struct step_rec *r, int n,
    const char *name)
{
	int i;

	rd_json_arr_begin(j, key);
	for (i = 0; i < n; i++) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, name, r[i].step);
		rd_json_str(j, "outcome", r[i].outcome);
		if (strcmp(name, "step") == 0)
			rd_json_num(j, "seconds", r[i].seconds);
		rd_json_str(j, "detail", r[i].detail);
		rd_json_obj_end(j);
	}
	rd_json_arr_end(j);
}

static void
json_validated(struct rd_json *j, int v)
{
	if (v < 0)
		rd_json_null(j, "validated");
	else
		rd_json_bool(j, "validated", v);
}

/*
 * "switchover": null, or the final snapshot's label, when the primary's
 * service was stopped, and, once promoted, RPO 0 and how long writes
 * were unavailable.
 */
static void
json_switchover(struct rd_json *j, int rc, const struct rd_promote_opts *o,
    const struct rd_promote_result *r)
{
	if (!r->switchover) {
		rd_json_null(j, "switchover");
		return;
	}
	rd_json_obj_begin(j, "switchover");
	rd_json_str(j, "final_label", r->final_label);
	if (r->stop_at > 0)
		rd_json_num(j, "stopped", r->stop_at);
	else
		rd_json_null(j, "stopped");
	tool_json_time(j, "stopped_at", r->stop_at);
	if (rc == 0 && !o->dry_run) {
		rd_json_int(j, "final_snapshot", r->version);
		rd_json_int(j, "rpo_snapshots", 0);
		rd_json_num(j, "unavailable", r->unavailable);
	} else {
		rd_json_null(j, "final_snapshot");
		rd_json_null(j, "rpo_snapshots");
		rd_json_null(j, "unavailable");
	}
	rd_json_obj_end(j);
}

static void
print_json(const char *mode, int rc, const struct rd_promote_opts *o,
    const struct rd_promote_result *r, const struct ui *u, const char *store)
{
	struct rd_json *j = rd_json_new(stdout);

	if (j == NULL)
		tool_die(EX_OSERR, "out of memory");
	rd_json_obj_begin(j, NULL);
	rd_json_str(j, "schema", "rdpromote/1");
	rd_json_str(j, "operation", mode);
	rd_json_str(j, "outcome", rc == 0 ? "done" : "refused");
	rd_json_str(j, "store", store);
	rd_json_path(j, "target", r->target);
	rd_json_int(j, "id", r->id);
	rd_json_int(j, "version", r->version);
	rd_json_int(j, "fell_back_from", r->fell_back);
	if (r->snap_time > 0)
		rd_json_int(j, "snapshot_time", r->snap_time);
	else
		rd_json_null(j, "snapshot_time"); /* unknown */
	tool_json_time(j, "snapshot_at", (double)r->snap_time);
	rd_json_int(j, "partial", r->partial);
	rd_json_int(j, "inconsistent", r->inconsistent);
	rd_json_int(j, "epoch", r->epoch);
	rd_json_bool(j, "resumed", r->resumed);
	rd_json_bool(j, "used_replica", r->used_replica);
	rd_json_bool(j, "quick_verify", r->quick_verify);
	rd_json_bool(j, "no_fence", r->no_fence);
	json_validated(j, r->validated);
	rd_json_int(j, "entries_verified", r->files);
	if (rc == 0 && !o->dry_run && strcmp(mode, "abort") != 0) {
		rd_json_num(j, "rto", r->rto);
		rd_json_num(j, "rpo", r->rpo);
	} else {
		/* no promotion was made: unknown, not 0 */
		rd_json_null(j, "rto");
		rd_json_null(j, "rpo");
	}
	if (strcmp(mode, "abort") != 0 && r->snap_time > 0) {
		rd_json_num(j, "data_time", r->data_time);
		if (r->exact)
			rd_json_num(j, "failed_at", r->failed_at);
		else
			rd_json_null(j, "failed_at");
		rd_json_num(j, "given_up", r->given_up);
		rd_json_bool(j, "given_up_exact", r->exact);
	}
	json_switchover(j, rc, o, r);
	if (r->aside[0] != '\0')
		rd_json_path(j, "aside", r->aside);
	if (r->kept[0] != '\0')
		rd_json_path(j, "kept", r->kept);
	if (r->message[0] != '\0')
		rd_json_str(j, "message", r->message);
	rd_json_bool(j, "open", r->open);
	rd_json_bool(j, "switched", r->switched);
	rd_json_bool(j, "rolled_back", r->rolled_back);
	if (r->open)
		rd_json_int(j, "older", r->older);
	json_recs(j, "steps", u->rec, u->n, "step");
	if (o->dry_run)
		json_recs(j, "checks", u->check, u->nchecks, "check");
	rd_json_obj_end(j);
	rd_json_line(j);
	rd_json_free(j);
}

/* How to go on from an open promotion. */
static void
print_ways_out(const struct rd_promote_result *r, const char *store)
{
	printf("the promotion stays open (the store is fenced); ways out:\n");
	printf(
	    "  rdpromote --resume %s\n      fix the cause, then continue it\n",
	    store);
	if (r->older > 0)
		printf(
		    "  rdpromote --resume --snapshot %lld %s\n      fall back to snapshot %lld, the one before %lld\n",
		    (long long)r->older, store, (long long)r->older,
		    (long long)r->version);
	printf("  rdpromote --abort %s\n      %s\n", store,
	    r->switched
	        ? "roll back: stop the service, keep this tree aside, put the old target back"
	        : "undo it: the target was not touched");
}

static void
print_loss(const struct rd_promote_result *r, const char *snapword)
{
	char t1[32], t2[32];

	if (!r->exact) {
		printf(
		    "  RPO %.0f s: changes on the old primary after that snapshot are not in it\n"
		    "      (an upper bound; --failed-at TIME gives the data actually given up)\n",
		    r->rpo);
		return;
	}
	printf(
	    "  RPO %.0f s: the age of that snapshot when the promotion began\n",
	    r->rpo);
	tool_time((int64_t)r->data_time, t1, sizeof(t1));
	tool_time((int64_t)r->failed_at, t2, sizeof(t2));
	printf(
	    "  data given up: %.1f s of changes, from %s (the newest data %s) to the failure at %s\n",
	    r->given_up, t1, snapword, t2);
}

static void
print_promoted(const struct rd_promote_result *r)
{
	char t[32];

	tool_time(r->snap_time, t, sizeof(t));
	printf("PROMOTED: '%s' holds snapshot %lld (taken %s)\n", r->target,
	    (long long)r->version, t);
	if (r->fell_back != 0)
		printf("  fell back from snapshot %lld\n",
		    (long long)r->fell_back);
	if (r->switchover)
		printf(
		    "  SWITCHOVER: RPO 0: snapshot %lld is the primary's final one (%s),\n"
		    "      taken after its service stopped; no snapshot of the primary is missing\n"
		    "  writes unavailable for %.1f s: from --primary-stop to %s\n",
		    (long long)r->version, r->final_label, r->unavailable,
		    r->has_check ? "a healthy service"
		                 : "the end of the promotion");
	else
		print_loss(r,
		    r->heartbeat ? "of the heartbeat file" : "of the snapshot");
	printf("  RTO %.1f s: from the start of the promotion to %s\n", r->rto,
	    r->has_check ? "a healthy service" : "the end (no --check given)");
	printf(
	    "  epoch %lld: bundles from the old primary are refused from now on\n",
	    (long long)r->epoch);
	if (r->no_fence)
		printf(
		    "  NOT FENCED (--no-fence): the old primary was not cut off; make sure it cannot write\n");
	if (r->validated != 1)
		printf(
		    "  NOT VALIDATED: no --validate; the bytes were checked, not the application's data\n");
	if (r->partial > 0 || r->inconsistent > 0)
		printf(
		    "  WARNING: snapshot %lld is PARTIAL (%lld %s an older version, %lld %s while read)\n",
		    (long long)r->version, (long long)r->partial,
		    tool_plural(r->partial, "path kept", "paths kept"),
		    (long long)r->inconsistent,
		    tool_plural(r->inconsistent, "file changed",
		        "files changed"));
	if (r->aside[0] != '\0')
		printf("  the old target is kept as '%s'\n", r->aside);
	if (r->quick_verify)
		printf(
		    "  WARNING: --verify quick checked metadata only; contents were not hashed\n");
	printf(
	    "next: this store is now a primary: snapshot it (rdsnap create), and make the\n"
	    "      old primary its standby with rdship rejoin (see REJOINING in rdpromote(1))\n");
}

static void
print_drill(const struct rd_promote_result *r)
{
	char t[32];

	tool_time(r->snap_time, t, sizeof(t));
	printf(
	    "DRILL PASSED: snapshot %lld (taken %s) restored, verified%s%s and removed\n",
	    (long long)r->version, t, r->quick_verify ? " (metadata only)" : "",
	    r->validated == 1 ? ", validated" : "");
	printf("  RTO %.1f s: a promotion would have taken this long to a %s\n",
	    r->rto, r->has_check ? "healthy service" : "verified tree");
	printf(
	    "  RPO %.0f s: the changes after that snapshot would have been lost\n",
	    r->rpo);
	if (r->validated != 1)
		printf(
		    "  NOT VALIDATED: no --validate, so rdwatch's drill: probe does not count this drill\n");
}

static void
print_human(int rc, const struct rd_promote_opts *o,
    const struct rd_promote_result *r, const char *store)
{
	if (rc != 0) {
		printf("REFUSED: %s\n", r->message);
		if (r->open)
			print_ways_out(r, store);
		else if (r->kept[0] != '\0')
			printf(
			    "remove it with: rdpromote remove-tree %s '%s'\n",
			    store, r->kept);
		return;
	}
	if (o->dry_run) {
		printf(
		    "nothing was changed (--dry-run); snapshot %lld is %.0f s old\n",
		    (long long)r->version, r->rpo);
		return;
	}
	if (r->drill)
		print_drill(r);
	else
		print_promoted(r);
}

/* ------------------------------------------------------------------ */
/* history and remove-tree */

struct hist {
	struct rd_store *st;
	struct rd_json *j;
	int section; /* items: the JSON array open, 0 none */
	int seen;    /* JSON: the sections written, a bit each */
	int kept;    /* kept trees listed */
};

static const char *const item_keys[] = { "options", "events", "trees" };

/* A value in single quotes for a shell. */
static void
print_quoted(const char *s)
{
	putchar('\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

static const char *
tree_what(const struct rd_promote_item *it, char *buf, size_t len)
{
	if (strcmp(it->value, "pre-promote") == 0 && it->snapshot == 0)
		snprintf(buf, len, "the target before the promotion");
	else if (strcmp(it->value, "pre-promote") == 0)
		snprintf(buf, len, "snapshot %lld, replaced by a fall-back",
		    (long long)it->snapshot);
	else if (strcmp(it->value, "rejected") == 0)
		snprintf(buf, len, "snapshot %lld, rejected",
		    (long long)it->snapshot);
	else
		snprintf(buf, len, "snapshot %lld, a failed drill's tree",
		    (long long)it->snapshot);
	return buf;
}

/* Close the JSON section that is open, if any. */
static void
section_end(struct hist *h)
{
	if (h->section == 1)
		rd_json_obj_end(h->j);
	else if (h->section != 0)
		rd_json_arr_end(h->j);
	h->section = 0;
}

/* Open the JSON section of "kind" (RD_PITEM_*). */
static void
section_begin(struct hist *h, int kind)
{
	h->section = kind + 1;
	h->seen |= 1 << kind;
	if (kind == RD_PITEM_OPTION)
		rd_json_obj_begin(h->j, item_keys[kind]);
	else
		rd_json_arr_begin(h->j, item_keys[kind]);
}

static void
item_json(struct hist *h, const struct rd_promote_item *it)
{
	if (h->section != it->kind + 1) {
		section_end(h);
		section_begin(h, it->kind);
	}
	if (it->kind == RD_PITEM_OPTION) {
		rd_json_str(h->j, it->name, it->value);
		return;
	}
	rd_json_obj_begin(h->j, NULL);
	rd_json_num(h->j, "time", it->time);
	if (it->kind == RD_PITEM_EVENT) {
		rd_json_str(h->j, "event", it->name);
		rd_json_str(h->j, "detail", it->value);
	} else {
		rd_json_path(h->j, "path", it->name);
		rd_json_str(h->j, "kind", it->value);
		rd_json_int(h->j, "snapshot", it->snapshot);
		rd_json_str(h->j, "state", it->state);
		rd_json_bool(h->j, "exists", it->exists);
	}
	rd_json_obj_end(h->j);
}

static int
item_one(void *arg, const struct rd_promote_item *it)
{
	struct hist *h = arg;
	char what[128];

	if (h->j != NULL) {
		item_json(h, it);
		return 0;
	}
	if (it->kind == RD_PITEM_OPTION) {
		printf(h->section == 0 ? "    options: --%s" : " --%s",
		    it->name);
		h->section = 1;
		if (strcmp(it->name, "force") != 0 &&
		    strcmp(it->name, "no-fence") != 0 &&
		    strcmp(it->name, "allow-partial") != 0) {
			putchar(' ');
			print_quoted(it->value);
		}
		return 0;
	}
	if (h->section == 1)
		putchar('\n');
	h->section = 2;
	if (it->kind == RD_PITEM_EVENT) {
		printf("    %s: %s\n", it->name, it->value);
		return 0;
	}
	printf("    %s tree %s (%s)%s\n",
	    strcmp(it->state, "restored") == 0      ? "restored"
	        : strcmp(it->state, "removed") == 0 ? "removed"
	                                            : "kept",
	    it->name, tree_what(it, what, sizeof(what)),
	    strcmp(it->state, "removed") != 0 &&
	            strcmp(it->state, "restored") != 0 && !it->exists
	        ? " [missing]"
	        : "");
	if (strcmp(it->state, "kept") == 0 && it->exists)
		h->kept++;
	return 0;
}

static void
history_json(struct hist *h, const struct rd_promotion *p)
{
	struct rd_json *j = h->j;

	rd_json_int(j, "id", p->id);
	rd_json_str(j, "kind", p->drill ? "drill" : "promote");
	rd_json_int(j, "version", p->version);
	rd_json_path(j, "target", p->target);
	rd_json_num(j, "started", p->started);
	rd_json_num(j, "finished", p->finished);
	tool_json_time(j, "started_at", p->started);
	tool_json_time(j, "finished_at", p->finished);
	rd_json_str(j, "state", p->state);
	rd_json_int(j, "epoch", p->epoch);
	if (p->has_rto) {
		rd_json_num(j, "rto", p->rto);
		rd_json_num(j, "rpo", p->rpo);
	} else {
		rd_json_null(j, "rto");
		rd_json_null(j, "rpo");
	}
	json_validated(j, p->validated);
	if (p->given_up >= 0)
		rd_json_num(j, "given_up", p->given_up);
	rd_json_str(j, "message", p->message);
}

static void
history_steps_json(struct rd_json *j, const struct rd_promotion *p)
{
	int i;

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
}

static void
history_text(const struct rd_promotion *p)
{
	char t[32];
	int i;

	printf("%lld  %-7s  snapshot %lld  %s  %s  %s", (long long)p->id,
	    p->drill ? "drill" : "promote", (long long)p->version,
	    tool_time((int64_t)p->started, t, sizeof(t)), p->state, p->target);
	if (p->has_rto)
		printf("  RTO %.1f s  RPO %.0f s", p->rto, p->rpo);
	if (p->given_up >= 0 && p->failed_at > 0)
		printf("  given up %.1f s", p->given_up);
	putchar('\n');
	for (i = 0; i < p->nsteps; i++)
		printf("    %-11s  %-9s  %6.2f s  %s\n", p->steps[i].name,
		    p->steps[i].outcome,
		    p->steps[i].finished > 0
		        ? p->steps[i].finished - p->steps[i].started
		        : 0,
		    p->steps[i].detail);
	if (strcmp(p->state, "done") != 0 && p->message[0] != '\0')
		printf("    %s\n", p->message);
}

static int
history_one(void *arg, const struct rd_promotion *p)
{
	struct rd_err err = RD_ERR_INIT;
	struct hist *h = arg;
	int k;

	h->section = 0;
	h->seen = 0;
	if (h->j != NULL) {
		rd_json_obj_begin(h->j, NULL);
		rd_json_str(h->j, "schema", "rdpromote-history/1");
		history_json(h, p);
		history_steps_json(h->j, p);
	} else {
		history_text(p);
	}
	if (rd_promote_items(h->st, p->id, item_one, h, &err) == -1)
		tool_die_err(&err);
	if (h->j != NULL) {
		section_end(h);
		for (k = RD_PITEM_OPTION; k <= RD_PITEM_TREE; k++) {
			if (h->seen & (1 << k))
				continue;
			section_begin(h, k);
			section_end(h);
		}
		rd_json_obj_end(h->j);
		rd_json_line(h->j);
	} else if (h->section == 1) {
		putchar('\n');
	}
	return 0;
}

/*
 * Parse the options of a subcommand that takes only those in "allowed";
 * returns its operands, their count in "*nargs".
 */
static char **
sub_opts(int argc, char **argv, const char *cmd, const char *allowed, int *json,
    double *wait, int *nargs)
{
	int ch;

	tool_getopt_reset(argv);
	while ((ch = tool_getopt(argc, argv, "jw:", longopts)) != -1) {
		tool_opt_allowed(cmd, allowed, longopts, ch);
		if (ch == 'j')
			*json = 1;
		else if (ch == 'w')
			*wait = tool_parse_seconds(optarg, "wait");
	}
	return tool_operands(argc - optind, argv + optind, nargs);
}

static int
cmd_history(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct hist h;
	double wait = 0;
	char **args;
	int json = 0, r, nargs;

	memset(&h, 0, sizeof(h));
	args = sub_opts(argc, argv, "history", " json ", &json, &wait, &nargs);
	if (rd_store_open(args[0], RD_OPEN_READ, 0, &h.st, &err) == -1)
		tool_die_err(&err);
	if (json && (h.j = rd_json_new(stdout)) == NULL)
		tool_die(EX_OSERR, "out of memory");
	r = rd_promote_history(h.st, history_one, &h, &err);
	rd_store_close(h.st);
	rd_json_free(h.j);
	if (r == -1)
		tool_die_err(&err);
	if (!json && h.kept > 0)
		printf(
		    "remove a kept tree with: rdpromote remove-tree %s PATH\n",
		    args[0]);
	return tool_exit(EX_OK);
}

static int
cmd_remove_tree(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	char why[2048];
	double wait = 0;
	char **args;
	int json = 0, r, nargs;

	args =
	    sub_opts(argc, argv, "remove-tree", " wait ", &json, &wait, &nargs);
	if (rd_store_open(args[0], RD_OPEN_WRITE, wait, &st, &err) == -1)
		tool_die_err(&err);
	r = rd_promote_tree_remove(st, args[1], why, sizeof(why), &err);
	rd_store_close(st);
	if (r == -1)
		tool_die_err(&err);
	if (r == 1) {
		printf("NOT REMOVED: %s\n", why);
		tool_log("not removed: %s", why);
		return tool_exit(1);
	}
	printf("removed '%s'\n", args[1]);
	tool_log("removed kept tree '%s'", args[1]);
	return tool_exit(EX_OK);
}

/* ------------------------------------------------------------------ */
/* Promote, drill, resume, abort */

struct cli {
	struct rd_promote_opts o;
	int abort_it, json;
	double wait;
	int nset; /* options that decide what a promotion does */
};

/* Options that only a promotion or drill takes (not --abort). */
static void
parse_opt(struct cli *c, int ch, const char *arg)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_promote_opts *o = &c->o;

	c->nset++;
	switch (ch) {
	case OPT_ALLOW_PARTIAL:
		o->allow_partial = 1;
		break;
	case OPT_CHECK:
		o->check = arg;
		break;
	case OPT_CHECK_TIMEOUT:
		o->check_timeout = tool_parse_seconds(arg, "check timeout");
		break;
	case OPT_CLUSTER:
		o->cluster = arg;
		break;
	case OPT_DRILL:
		o->drill = 1;
		break;
	case 'n':
		o->dry_run = 1;
		break;
	case OPT_ETCD:
		o->etcd = arg;
		break;
	case OPT_ETCD_TIMEOUT:
		o->etcd_timeout = tool_parse_seconds(arg, "etcd timeout");
		break;
	case OPT_FAILED_AT:
		if (rd_time_parse(arg, &o->failed_at, &err) == -1)
			tool_die_err(&err);
		break;
	case OPT_FENCE:
		o->fence = arg;
		break;
	case OPT_FINAL_SNAPSHOT:
		o->final_snapshot = arg;
		break;
	case OPT_FORCE:
		o->force = 1;
		break;
	case OPT_HEARTBEAT:
		o->heartbeat = arg;
		break;
	case OPT_HOOK_TIMEOUT:
		o->hook_timeout = tool_parse_seconds(arg, "hook timeout");
		break;
	case OPT_NO_FENCE:
		o->no_fence = 1;
		break;
	case OPT_PRIMARY:
		o->primary = arg;
		break;
	case OPT_PRIMARY_STOP:
		o->primary_stop = arg;
		break;
	case OPT_PROBE_TIMEOUT:
		o->probe_timeout = tool_parse_seconds(arg, "probe timeout");
		break;
	case OPT_RESUME:
		o->resume = 1;
		break;
	case 's':
		o->version = tool_parse_int(arg, 1, INT64_MAX, "snapshot id");
		break;
	case OPT_START:
		o->start = arg;
		break;
	case OPT_STOP:
		o->stop = arg;
		break;
	case OPT_SWITCHOVER:
		o->switchover = 1;
		break;
	case OPT_VALIDATE:
		o->validate = arg;
		break;
	case OPT_VERIFY:
		if (strcmp(arg, "full") != 0 && strcmp(arg, "quick") != 0)
			tool_die(EX_USAGE,
			    "invalid --verify '%s' (expected full or quick)",
			    arg);
		o->quick_verify = strcmp(arg, "quick") == 0;
		break;
	default:
		tool_usage(EX_USAGE);
	}
}

static void
parse(struct cli *c, int argc, char **argv)
{
	int ch;

	tool_getopt_reset(argv);
	while ((ch = tool_getopt(argc, argv, "jns:w:", longopts)) != -1) {
		switch (ch) {
		case OPT_ABORT:
			c->abort_it = 1;
			break;
		case 'j':
			c->json = 1;
			break;
		case 'w':
			c->wait = tool_parse_seconds(optarg, "wait");
			break;
		default:
			parse_opt(c, ch, optarg);
		}
	}
}

static const char *
mode_of(const struct cli *c)
{
	if (c->abort_it)
		return "abort";
	if (c->o.resume)
		return "resume";
	return c->o.drill ? "drill" : "promote";
}

/*
 * The operands of a mode: "min" to "max" of "argc", named "names" (a
 * store, then a target or scratch directory); the store always on the
 * command line.
 */
static void
check_operands(char **argv, int argc, int min, int max, const char *second)
{
	const char *env = getenv(TOOL_STORE_ENV);

	if (argc == 0 && env != NULL && *env != '\0')
		tool_usage_error(
		    "rdpromote needs its store on the command line (%s is only for read-only commands)",
		    TOOL_STORE_ENV);
	if (argc < min)
		tool_usage_error("missing %s", argc == 0 ? "store" : second);
	if (argc > max)
		tool_usage_error("unexpected operand '%s'", argv[max]);
}

/* The operands each mode takes, and what goes together. */
static void
check_cli(const struct cli *c, char **argv, int nargs)
{
	struct rd_err err = RD_ERR_INIT;

	if (c->abort_it) {
		if (c->nset > 0)
			tool_die(EX_USAGE,
			    "--abort takes only the store and the target (and --json, --wait, --syslog)");
		check_operands(argv, nargs, 1, 2, "target");
		return;
	}
	check_operands(argv, nargs, c->o.resume ? 1 : 2, c->o.resume ? 1 : 2,
	    c->o.drill ? "scratch" : "target");
	if (rd_promote_opts_check(&c->o, &err) == -1)
		tool_die_err(&err);
}

static void
header(const struct cli *c, char **args)
{
	if (c->json || c->abort_it || tool_quiet())
		return;
	if (c->o.resume)
		printf("%s the unfinished promotion or drill in '%s':\n",
		    c->o.dry_run ? "PLAN to resume" : "Resuming", args[0]);
	else if (c->o.dry_run)
		printf(
		    "PLAN for %s of '%s' into '%s' (nothing will be changed):\n",
		    c->o.drill ? "a drill" : "a promotion", args[0], args[1]);
	else
		printf("%s of '%s' into '%s':\n",
		    c->o.drill            ? "Drill"
		        : c->o.switchover ? "Switchover"
		                          : "Promotion",
		    args[0], args[1]);
	fflush(stdout);
}

/* The outcome for syslog, one line. */
static void
log_outcome(int rc, const struct rd_promote_result *r, const char *what)
{
	if (rc != 0)
		tool_log("%s REFUSED: %s", what, r->message);
	else if (r->drill)
		tool_log("%s: DRILL PASSED: snapshot %lld, RTO %.1f s", what,
		    (long long)r->version, r->rto);
	else
		tool_log(
		    "%s: PROMOTED: '%s' holds snapshot %lld, RPO %.0f s, epoch %lld%s%s",
		    what, r->target, (long long)r->version, r->rpo,
		    (long long)r->epoch, r->no_fence ? ", NOT FENCED" : "",
		    r->validated == 1 ? "" : ", NOT VALIDATED");
}

static int
finish_abort(int rc, const struct cli *c, const struct rd_promote_result *r,
    const struct ui *u, const char *store)
{
	tool_log("%s: %s: %s", u->what, rc == 0 ? "ABORTED" : "NOT ABORTED",
	    r->message);
	if (c->json)
		print_json("abort", rc, &c->o, r, u, store);
	else
		printf("%s: %s\n", rc == 0 ? "ABORTED" : "NOT ABORTED",
		    r->message);
	return tool_exit(rc == 0 ? EX_OK : 1);
}

static const struct tool_cmd cmds[] = {
	{ NULL, NULL,
	    "[-jnqv] (--primary PROBE | --force) (--fence CMD | --no-fence)\n"
	    "              [--validate CMD] [--start CMD --stop CMD] [--check PROBE]\n"
	    "              [-s N] [--allow-partial] [--failed-at TIME]\n"
	    "              [--heartbeat PATH] [--check-timeout SECONDS]\n"
	    "              [--hook-timeout SECONDS] [--probe-timeout SECONDS]\n"
	    "              [--verify full|quick] [--etcd URLS --cluster NAME]\n"
	    "              [--etcd-timeout SECONDS] [-w SECONDS] [--syslog]\n"
	    "              store target",
	    0 },
	{ NULL, NULL,
	    "--switchover [-jnqv] --primary-stop CMD --final-snapshot CMD\n"
	    "              (--fence CMD | --no-fence) [--validate CMD]\n"
	    "              [--start CMD --stop CMD] [--check PROBE] [--allow-partial]\n"
	    "              [--check-timeout SECONDS] [--hook-timeout SECONDS]\n"
	    "              [--probe-timeout SECONDS] [--verify full|quick]\n"
	    "              [--etcd URLS --cluster NAME] [--etcd-timeout SECONDS]\n"
	    "              [-w SECONDS] [--syslog] store target",
	    0 },
	{ NULL, NULL,
	    "--drill [-jnqv] [--validate CMD] [--start CMD --stop CMD]\n"
	    "              [--check PROBE] [-s N] [--allow-partial]\n"
	    "              [--heartbeat PATH] [--check-timeout SECONDS]\n"
	    "              [--hook-timeout SECONDS] [--probe-timeout SECONDS]\n"
	    "              [--verify full|quick] [-w SECONDS] [--syslog] store scratch",
	    0 },
	{ NULL, NULL,
	    "--resume [-jnqv] [-s N] [--allow-partial] [-w SECONDS] [--syslog]\n"
	    "              store",
	    0 },
	{ NULL, NULL, "--abort [-jqv] [-w SECONDS] [--syslog] store [target]",
	    0 },
	{ "history", cmd_history, "history [-jqv] [--syslog] store",
	    TOOL_READER },
	{ "remove-tree", cmd_remove_tree,
	    "remove-tree [-qv] [-w SECONDS] [--syslog] store path", 0 },
	{ NULL, NULL, "--help | --version", 0 },
};

int
main(int argc, char *argv[])
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_promote_opts def = RD_PROMOTE_OPTS_INIT;
	struct rd_promote_result r;
	struct rd_store *st = NULL;
	struct cli c;
	struct ui u;
	int rc;

	tool_init(argv[0], "rdpromote");
	if (tool_subcommand(cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv,
	        &rc))
		return rc;
	memset(&c, 0, sizeof(c));
	memset(&u, 0, sizeof(u));
	c.o = def;
	parse(&c, argc, argv);
	check_cli(&c, argv + optind, argc - optind);
	u.json = c.json;
	u.what = mode_of(&c);
	c.o.step = on_step;
	c.o.checked = on_check;
	c.o.step_arg = &u;
	if (rd_store_open(argv[optind],
	        c.o.dry_run ? RD_OPEN_READ : RD_OPEN_WRITE, c.wait, &st,
	        &err) == -1)
		tool_die_err(&err);
	header(&c, argv + optind);
	if (c.abort_it)
		rc = rd_promote_abort(st, argv[optind + 1], &r, &err);
	else
		rc = rd_promote(st, c.o.resume ? NULL : argv[optind + 1], &c.o,
		    &r, &err);
	rd_store_close(st);
	if (rc == -1) {
		if (!c.json && !c.abort_it && r.id != 0)
			printf(
			    "STOPPED by an error; continue with rdpromote --resume %s, or undo with rdpromote --abort %s\n",
			    argv[optind], argv[optind]);
		tool_die_err(&err);
	}
	if (c.abort_it)
		return finish_abort(rc, &c, &r, &u, argv[optind]);
	if (!c.o.dry_run)
		log_outcome(rc, &r, u.what);
	if (c.json)
		print_json(r.drill ? "drill" : "promote", rc, &c.o, &r, &u,
		    argv[optind]);
	else
		print_human(rc, &c.o, &r, argv[optind]);
	/* a claim refused by etcd (77) or etcd unreachable (69) */
	return tool_exit(rc == 0      ? EX_OK
	        : r.refused_code != 0 ? tool_exit_code(r.refused_code)
	                              : 1);
}
