/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * create.c: rdsnap create and prune: the subcommands that add a snapshot
 * (with its hooks and excludes) and that remove old ones.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "rdsnap.h"

/* The progress of a create, measured against the newest snapshot. */
struct create_progress {
	double t0;
	int64_t files, bytes; /* the newest snapshot's; 0 files: none */
};

/* ", ETA 42s", ", ETA 3m05s" or ", ETA 2h10m" into "buf". */
static void
eta_text(double seconds, char *buf, size_t len)
{
	long long n = (long long)(seconds + 0.5);

	if (n < 60)
		snprintf(buf, len, ", ETA %llds", n);
	else if (n < 3600)
		snprintf(buf, len, ", ETA %lldm%02llds", n / 60, n % 60);
	else
		snprintf(buf, len, ", ETA %lldh%02lldm", n / 3600, n / 60 % 60);
}

/*
 * Files and bytes done, the rate, and while the run is within the size
 * of the newest snapshot, that size and the time left at this rate.
 */
static void
on_create_progress(void *arg, int64_t files, int64_t bytes)
{
	struct create_progress *p = arg;
	char b[32], total[32], rate[32], eta[48] = "";
	double dt = rd_monotonic() - p->t0;
	double r = dt > 0 ? (double)bytes / dt : 0;

	tool_human_bytes(bytes, b, sizeof(b));
	tool_human_bytes((int64_t)r, rate, sizeof(rate));
	if (p->files == 0 || files > p->files || bytes > p->bytes) {
		tool_progress("%lld files, %s, %s/s", (long long)files, b,
		    rate);
		return;
	}
	if (p->bytes > 0 && r > 0)
		eta_text((double)(p->bytes - bytes) / r, eta, sizeof(eta));
	else if (p->bytes == 0 && files > 0 && dt > 0)
		eta_text((double)(p->files - files) * dt / (double)files, eta,
		    sizeof(eta));
	tool_progress("%lld of %lld files, %s of %s, %s/s%s", (long long)files,
	    (long long)p->files, b,
	    tool_human_bytes(p->bytes, total, sizeof(total)), rate, eta);
}

/* What the hooks of a create see. */
struct hook_ctx {
	char store[PATH_MAX];  /* absolute */
	char source[PATH_MAX]; /* absolute; the working directory */
	double timeout;
};

/*
 * Fill "h" with the absolute paths of "store" and of the directory
 * "source".  Returns 0, or -1 with "err" set as rd_snap_create() sets it
 * for a source that is missing or not a directory.
 */
static int
hook_paths(const char *store, const char *source, struct hook_ctx *h,
    struct rd_err *err)
{
	struct stat sb;

	if (realpath(store, h->store) == NULL)
		return rd_err_sys(err, RD_EIO, "cannot resolve store '%s'",
		    store);
	if (stat(source, &sb) == -1)
		return rd_err_sys(err, RD_EIO, "cannot open source '%s'",
		    source);
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		return rd_err_sys(err, RD_EIO, "cannot open source '%s'",
		    source);
	}
	if (realpath(source, h->source) == NULL)
		return rd_err_sys(err, RD_EIO, "cannot resolve source '%s'",
		    source);
	return 0;
}

/*
 * The environment of a hook: RDSNAP_STORE and RDSNAP_SOURCE, and
 * RDSNAP_STATUS and RDSNAP_SNAPSHOT set when not NULL, else removed.
 */
struct hook_env {
	char vars[4][PATH_MAX + 32];
	const char *env[5];
};

static void
hook_env(struct hook_env *e, const struct hook_ctx *h, const char *status,
    const char *snapshot)
{
	char(*vars)[PATH_MAX + 32] = e->vars;
	int r;

	snprintf(vars[0], sizeof(vars[0]), "RDSNAP_STORE=%s", h->store);
	snprintf(vars[1], sizeof(vars[1]), "RDSNAP_SOURCE=%s", h->source);
	/* the pre hook gets none, not those of an rdsnap that runs us */
	snprintf(vars[2], sizeof(vars[2]), "RDSNAP_STATUS%s%s",
	    status != NULL ? "=" : "", status != NULL ? status : "");
	snprintf(vars[3], sizeof(vars[3]), "RDSNAP_SNAPSHOT%s%s",
	    snapshot != NULL ? "=" : "", snapshot != NULL ? snapshot : "");
	for (r = 0; r < 4; r++)
		e->env[r] = vars[r];
	e->env[4] = NULL;
}

/*
 * Run the create hook "cmd" ("which" is "pre" or "post") in the source
 * directory with RDSNAP_STORE and RDSNAP_SOURCE in its environment, and
 * for the post hook RDSNAP_STATUS "status" and RDSNAP_SNAPSHOT "snapshot"
 * (both NULL for the pre hook).  A hook that fails is reported on
 * standard error.  Returns 0 if it exited 0, 1 if it failed (non-zero
 * exit, a signal, the timeout), -1 if it could not be run ("err" set).
 */
static int
run_hook(const char *which, const char *cmd, const struct hook_ctx *h,
    const char *status, const char *snapshot, struct rd_err *err)
{
	struct hook_env e;
	char why[64];
	int ws, r;

	hook_env(&e, h, status, snapshot);
	tool_progress_done();
	r = rd_hook_run(cmd, h->source, e.env, h->timeout, &ws, err);
	if (r == -1)
		return -1;
	if (r == 1 && h->timeout == (double)(long long)h->timeout)
		snprintf(why, sizeof(why), "timed out after %lld s",
		    (long long)h->timeout);
	else if (r == 1)
		snprintf(why, sizeof(why), "timed out after %g s", h->timeout);
	else if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
		return 0;
	else if (WIFEXITED(ws))
		snprintf(why, sizeof(why), "exited %d", WEXITSTATUS(ws));
	else if (WIFSIGNALED(ws))
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(ws));
	else
		snprintf(why, sizeof(why), "wait status %#x", (unsigned)ws);
	tool_warn("%s hook failed: %s", which, why);
	return 1;
}

static void
free_excludes(struct opts *o)
{
	while (o->nexcludes > 0)
		free(o->excludes[--o->nexcludes]);
	free(o->excludes);
	o->excludes = NULL;
	o->snap.excludes = NULL;
	o->snap.nexcludes = 0;
	while (o->nmay_change > 0)
		free(o->may_change[--o->nmay_change]);
	free(o->may_change);
	o->may_change = NULL;
	o->snap.may_change = NULL;
	o->snap.nmay_change = 0;
}

/* The outcome of a create on stdout (JSON or text) and its omissions as
 * warnings. */
static void
print_created(const struct rd_snapinfo *si, int json)
{
	struct rd_json *j;
	char b1[32], b2[32], b3[32], b4[32];

	if (json) {
		j = json_or_die();
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "schema", "rdsnap-create/1");
		json_snapinfo(j, si);
		rd_json_obj_end(j);
		rd_json_line(j);
		rd_json_free(j);
	} else if (!tool_quiet()) {
		printf(
		    "snapshot %lld: %lld entr%s, %s; %lld new or changed, %lld removed\n",
		    (long long)si->id, (long long)si->files,
		    si->files == 1 ? "y" : "ies",
		    tool_human_bytes(si->bytes, b1, sizeof(b1)),
		    (long long)si->changed, (long long)si->removed);
		printf("read %s, added %s, stored %s in %.2f s\n",
		    tool_human_bytes(si->bytes_read, b2, sizeof(b2)),
		    tool_human_bytes(si->bytes_added, b3, sizeof(b3)),
		    tool_human_bytes(si->stored, b4, sizeof(b4)), si->seconds);
	}
	if (si->partial > 0)
		tool_warn(
		    "snapshot %lld is partial: %lld path%s could not be read (rdsnap problems lists them)",
		    (long long)si->id, (long long)si->partial,
		    si->partial == 1 ? "" : "s");
	if (si->inconsistent > 0)
		tool_warn(
		    "snapshot %lld is inconsistent: %lld file%s kept changing while read (rdsnap problems lists them)",
		    (long long)si->id, (long long)si->inconsistent,
		    si->inconsistent == 1 ? "" : "s");
}

/*
 * The pre hook runs under the store's lock, before anything is read; the
 * bracket co-process after it, around the copy (rd_snap_create()); the
 * post hook after the lock is released, whether the snapshot was taken
 * or not, unless the pre hook failed.
 */
int
cmd_create(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT, herr = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_snapinfo si, newest;
	struct create_progress pg;
	struct hook_ctx h;
	struct hook_env benv;
	struct create_metrics cm;
	char id[32] = "";
	char **args;
	int nargs, r, hr = 0;
	struct rd_snap_opts def = RD_SNAP_OPTS_INIT;

	memset(&o, 0, sizeof(o));
	memset(&pg, 0, sizeof(pg));
	o.snap = def;
	o.hook_timeout = 300;
	args = parse("create",
	    " bracket checksum exclude exclude-from hook-timeout json label may-change metrics no-acls no-xattrs one-file-system post pre quiet syslog threads wait ",
	    argc, argv, &o, &nargs);
	create_metrics_start(&cm, o.metrics, args[0]);
	o.snap.notice = on_notice;
	o.snap.excludes = (const char *const *)o.excludes;
	o.snap.nexcludes = o.nexcludes;
	o.snap.may_change = (const char *const *)o.may_change;
	o.snap.nmay_change = o.nmay_change;
	if (o.nmay_change > 0 && o.bracket == NULL)
		tool_die(EX_USAGE,
		    "--may-change needs --bracket: only what brackets the copy can repair a file that changed while read");
	st = open_store(args[0], RD_OPEN_WRITE, o.c.wait);
	if (tool_progress_enabled()) {
		/* no newest snapshot (or no reading it): no estimate */
		if (rd_snap_get(st, 0, &newest, &err) == 0) {
			pg.files = newest.files;
			pg.bytes = newest.bytes;
		}
		rd_err_clear(&err);
		o.snap.progress = on_create_progress;
		o.snap.progress_arg = &pg;
	}
	if (o.pre != NULL || o.post != NULL || o.bracket != NULL) {
		h.timeout = o.hook_timeout;
		if (hook_paths(args[0], args[1], &h, &err) == -1) {
			rd_store_close(st);
			tool_die_err(&err);
		}
	}
	if (o.bracket != NULL) {
		/* it sees what the pre hook sees, and RDSNAP_BRACKET_DIR */
		hook_env(&benv, &h, NULL, NULL);
		o.snap.bracket = o.bracket;
		o.snap.bracket_cwd = h.source;
		o.snap.bracket_env = benv.env;
		o.snap.bracket_timeout = o.hook_timeout;
	}
	if (o.pre != NULL) {
		tool_step("running the pre hook");
		hr = run_hook("pre", o.pre, &h, NULL, NULL, &err);
		if (hr != 0) {
			/* nothing was done: no snapshot, no post hook */
			rd_store_close(st);
			free_excludes(&o);
			if (hr == -1)
				tool_die_err(&err);
			return create_metrics_end(&cm, tool_exit(1));
		}
	}
	pg.t0 = rd_monotonic(); /* the rate leaves out the wait and the hook */
	tool_step("snapshotting '%s'", args[1]);
	r = rd_snap_create(st, args[1], &o.snap, &si, &err);
	/* the lock goes first: a post hook may run a writer (prune) */
	rd_store_close(st);
	free_excludes(&o);
	if (r == -1 && o.post == NULL)
		tool_die_err(&err);
	if (r == -1)
		tool_warn("%s", err.msg[0] != '\0' ? err.msg : "unknown error");
	if (o.post != NULL) {
		if (r == 0)
			snprintf(id, sizeof(id), "%lld", (long long)si.id);
		tool_step("running the post hook");
		hr = run_hook("post", o.post, &h, r == 0 ? "ok" : "failed", id,
		    &herr);
		if (hr == -1)
			tool_warn("%s", herr.msg);
	}
	if (r == -1)
		return create_metrics_end(&cm,
		    tool_exit(tool_exit_code(err.code)));
	cm.si = &si;
	tool_progress_done();
	tool_log(
	    "snapshot %lld of '%s': %lld %s, %lld changed, %lld removed, %lld bytes stored in %.2f s",
	    (long long)si.id, args[1], (long long)si.files,
	    tool_plural(si.files, "entry", "entries"), (long long)si.changed,
	    (long long)si.removed, (long long)si.stored, si.seconds);
	print_created(&si, o.c.json);
	if (hr == -1)
		return create_metrics_end(&cm,
		    tool_exit(tool_exit_code(herr.code)));
	if (hr == 1)
		return create_metrics_end(&cm, tool_exit(1));
	/* done, with omissions: a cron script can tell it from damage */
	return create_metrics_end(&cm,
	    tool_exit(si.partial > 0 || si.inconsistent > 0 ? 3 : EX_OK));
}

struct prune_ctx {
	struct rd_json *j;
	int dry_run;
};

static void
on_prune_snapshot(void *arg, const struct rd_snapinfo *si, int keep,
    const char *why)
{
	struct prune_ctx *pc = arg;
	char t[32];

	if (pc->j != NULL) {
		rd_json_obj_begin(pc->j, NULL);
		rd_json_int(pc->j, "id", si->id);
		rd_json_int(pc->j, "started", si->started);
		tool_json_time(pc->j, "started_at", (double)si->started);
		rd_json_bool(pc->j, "keep", keep);
		if (keep)
			rd_json_str(pc->j, "why", why);
		rd_json_obj_end(pc->j);
		return;
	}
	if (tool_quiet() || (keep && !pc->dry_run))
		return;
	printf("%-6s %6lld  %s", keep ? "keep" : "remove", (long long)si->id,
	    tool_time(si->started, t, sizeof(t)));
	if (keep)
		printf("  (%s)", why);
	else if (si->label[0] != '\0')
		printf("  %s", si->label);
	putchar('\n');
}

int
cmd_prune(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_prune_result res;
	struct prune_ctx pc = { NULL, 0 };
	char b1[32], b2[32];
	char **args;
	int nargs;
	struct rd_prune_opts def = RD_PRUNE_OPTS_INIT;

	memset(&o, 0, sizeof(o));
	o.prune = def;
	args = parse("prune",
	    " dry-run forget-standby json keep-daily keep-hourly keep-last"
	    " keep-monthly keep-weekly keep-yearly max-unused orphans quiet"
	    " syslog wait ",
	    argc, argv, &o, &nargs);
	pc.dry_run = o.prune.dry_run;
	o.prune.snapshot = on_prune_snapshot;
	o.prune.arg = &pc;
	if (o.c.json) {
		pc.j = json_or_die();
		rd_json_obj_begin(pc.j, NULL);
		rd_json_str(pc.j, "schema", "rdsnap-prune/1");
		rd_json_arr_begin(pc.j, "snapshots");
	}
	st = open_store(args[0], RD_OPEN_WRITE, o.c.wait);
	tool_step("%s", o.prune.dry_run ? "planning the prune" : "pruning");
	if (rd_snap_prune(st, &o.prune, &res, &err) == -1) {
		rd_store_close(st);
		rd_json_free(pc.j);
		tool_die_err(&err);
	}
	rd_store_close(st);
	if (!o.prune.dry_run)
		tool_log(
		    "pruned '%s': removed %lld %s, kept %lld, freed %lld bytes in %.2f s",
		    args[0], (long long)res.removed,
		    tool_plural(res.removed, "snapshot", "snapshots"),
		    (long long)res.kept, (long long)res.bytes_freed,
		    res.seconds);
	if (pc.j != NULL) {
		rd_json_arr_end(pc.j);
		rd_json_bool(pc.j, "dry_run", o.prune.dry_run);
		rd_json_int(pc.j, "kept", res.kept);
		rd_json_int(pc.j, "removed", res.removed);
		rd_json_int(pc.j, "rows_removed", res.rows_removed);
		rd_json_int(pc.j, "contents_removed", res.contents_removed);
		rd_json_int(pc.j, "contents_rebased", res.contents_rebased);
		rd_json_int(pc.j, "object_bytes", res.object_bytes);
		rd_json_int(pc.j, "packs_removed", res.packs_removed);
		rd_json_int(pc.j, "packs_rewritten", res.packs_rewritten);
		rd_json_int(pc.j, "packs_written", res.packs_written);
		rd_json_int(pc.j, "bytes_removed", res.bytes_removed);
		rd_json_int(pc.j, "bytes_written", res.bytes_written);
		rd_json_int(pc.j, "bytes_freed", res.bytes_freed);
		rd_json_int(pc.j, "packs_deferred", res.packs_deferred);
		rd_json_num(pc.j, "seconds", res.seconds);
		rd_json_obj_end(pc.j);
		rd_json_line(pc.j);
		rd_json_free(pc.j);
	} else if (!tool_quiet()) {
		printf(
		    "%s %lld snapshot%s, kept %lld; %s %s (%lld contents, %lld packs removed, %lld rewritten, %lld contents rebased) in %.2f s\n",
		    o.prune.dry_run ? "would remove" : "removed",
		    (long long)res.removed, res.removed == 1 ? "" : "s",
		    (long long)res.kept,
		    o.prune.dry_run ? "would free about" : "freed",
		    tool_human_bytes(res.bytes_freed, b1, sizeof(b1)),
		    (long long)res.contents_removed,
		    (long long)res.packs_removed,
		    (long long)res.packs_rewritten,
		    (long long)res.contents_rebased, res.seconds);
		if (res.packs_deferred > 0)
			printf(
			    "%lld old pack%s (%s) stay until no reader has the store open; the next writer removes them\n",
			    (long long)res.packs_deferred,
			    res.packs_deferred == 1 ? "" : "s",
			    tool_human_bytes(res.bytes_removed, b2,
			        sizeof(b2)));
	}
	return tool_exit(EX_OK);
}
