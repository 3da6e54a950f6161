/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * promote.c: bringing a standby online (rdpromote), and drills.
 *
 * A promotion runs the steps of the table "steps" in order, each
 * journaled in the catalog (promote_journal.c) before and after it runs:
 *
 *	preflight	the snapshot is complete (or --allow-partial), there
 *			is room for it, the primary probe says down
 *	fence		the fence command succeeds (or --no-fence); the
 *			store's epoch rises
 *	materialize	the warm replica (if clean, at the snapshot and on
 *			the target's file system) or a restore, into a
 *			staging directory next to the target
 *	verify		every entry against the catalog (content hashes, or
 *			metadata only with quick verification)
 *	validate	the application's own check of the copy (--validate)
 *	switch		staging becomes the target; an old target is kept
 *			aside as TARGET.pre-promote-TIMESTAMP; nothing is
 *			ever replaced or deleted
 *	start		the start command
 *	check		the check probe, until up or the check timeout
 *	record		RTO, RPO and the data given up
 *
 * The checks that need no journal (the unfinished promotion, the
 * snapshot, the role, the target) run before the promotion is journaled;
 * promote_check.c has them all, and the dry run runs every one.  A rerun
 * continues after the last step that completed, with the options of the
 * journal (--resume) or the same ones; promote_abort.c undoes a
 * promotion, falls back to another snapshot and removes kept trees.  A
 * drill runs the same steps into a scratch target without fencing,
 * raising the epoch or touching the store's role, and removes it when it
 * passed; a failed drill keeps its tree.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "promote_int.h"

void
rdi_pc_say(struct rdi_pctx *c, int step, const char *outcome, double secs,
    const char *fmt, ...)
{
	char detail[2048];
	va_list ap;

	detail[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		if (vsnprintf(detail, sizeof(detail), fmt, ap) < 0)
			detail[0] = '\0';
		va_end(ap);
	}
	if (step >= 0 && step < RD_PROMOTE_NSTEPS)
		c->res->step_seconds[step] = secs;
	if (c->o.step != NULL)
		c->o.step(c->o.step_arg, rd_promote_step_name(step), outcome,
		    secs, detail);
}

#define say rdi_pc_say

/* ------------------------------------------------------------------ */
/* Hooks and probes */

int
rdi_pc_hook(struct rdi_pctx *c, const char *cmd, const char *copy, char *why,
    size_t whylen, struct rd_err *err)
{
	char vars[6][PATH_MAX + 32];
	const char *env[7];
	int i, n = 4, status, r;

	snprintf(vars[0], sizeof(vars[0]), "RDPROMOTE_STORE=%s", c->store_abs);
	snprintf(vars[1], sizeof(vars[1]), "RDPROMOTE_TARGET=%s", c->target);
	snprintf(vars[2], sizeof(vars[2]), "RDPROMOTE_SNAPSHOT=%lld",
	    (long long)c->res->version);
	snprintf(vars[3], sizeof(vars[3]), "RDPROMOTE_EPOCH=%lld",
	    (long long)c->st->info.epoch);
	if (copy != NULL)
		snprintf(vars[n++], sizeof(vars[4]), "RDPROMOTE_COPY=%s", copy);
	if (c->res->final_label[0] != '\0')
		snprintf(vars[n++], sizeof(vars[5]), "RDPROMOTE_FINAL_LABEL=%s",
		    c->res->final_label);
	for (i = 0; i < n; i++)
		env[i] = vars[i];
	env[n] = NULL;
	r = rd_hook_run(cmd, NULL, env, c->o.hook_timeout, &status, err);
	if (r == -1)
		return -1;
	if (r == 1) {
		snprintf(why, whylen, "timed out after %g s",
		    c->o.hook_timeout);
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	rdi_wait_status(status, why, whylen);
	return 1;
}

int
rdi_pc_stop(struct rdi_pctx *c, const char *when, struct rd_err *err)
{
	char why[128], detail[256];
	int r;

	if (!c->begun[RDI_S_START] || c->o.stop == NULL)
		return 0;
	r = rdi_pc_hook(c, c->o.stop, NULL, why, sizeof(why), err);
	if (r == -1)
		return -1;
	if (r == 0)
		snprintf(detail, sizeof(detail), "stop command succeeded (%s)",
		    when);
	else
		snprintf(detail, sizeof(detail), "stop command failed: %s (%s)",
		    why, when);
	if (rdi_pj_event(c->st->db, c->id, "stop", detail, err) == -1)
		return -1;
	if (r == 1) {
		snprintf(c->res->message, sizeof(c->res->message),
		    "the stop command failed (%s): what --start started may still run on '%s'",
		    why, c->target);
		return 1;
	}
	c->begun[RDI_S_START] = 0;
	return 0;
}

/* The check probe's exec: commands get what the hooks get. */
static int
export_env(struct rdi_pctx *c, struct rd_err *err)
{
	char v[32], e[32];

	snprintf(v, sizeof(v), "%lld", (long long)c->res->version);
	snprintf(e, sizeof(e), "%lld", (long long)c->st->info.epoch);
	if (setenv("RDPROMOTE_STORE", c->store_abs, 1) == -1 ||
	    setenv("RDPROMOTE_TARGET", c->target, 1) == -1 ||
	    setenv("RDPROMOTE_SNAPSHOT", v, 1) == -1 ||
	    setenv("RDPROMOTE_EPOCH", e, 1) == -1)
		return rd_err_sys(err, RD_ENOMEM, "setenv");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Trees */

int
rdi_pc_switched(const struct rdi_pctx *c)
{
	if (!rdi_pt_exists(c->target))
		return 0;
	return c->done[RDI_S_SWITCH] ||
	    (c->begun[RDI_S_SWITCH] && !rdi_pt_exists(c->staging));
}

int
rdi_pc_find_replica(struct rdi_pctx *c, char *out, size_t len,
    struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct stat a, b;
	char parent[PATH_MAX];
	const unsigned char *dir;
	int r;

	out[0] = '\0';
	if (c->o.drill)
		return 0;
	snprintf(parent, sizeof(parent), "%s", c->target);
	if (stat(dirname(parent), &a) == -1)
		return rd_err_sys(err, RD_EIO,
		    "cannot stat the target's directory");
	if (rdi_db_query(c->st->db, &q, err,
	        "SELECT dir FROM replicas WHERE version = ?"
	        " AND state = 'clean'",
	        "i", (int64_t)c->res->version) == -1)
		return -1;
	while ((r = rdi_db_step(c->st->db, q, err)) == 1) {
		dir = sqlite3_column_text(q, 0);
		if (dir == NULL || strlen((const char *)dir) >= 1000 ||
		    stat((const char *)dir, &b) == -1 || b.st_dev != a.st_dev)
			continue;
		snprintf(out, len, "%.1000s", (const char *)dir);
		break;
	}
	sqlite3_finalize(q);
	return r == -1 ? -1 : 0;
}

/*
 * The warm replica c->replica holds the snapshot of the unfinished
 * promotion again: it was moved back.
 */
static int
replica_back(struct rdi_pctx *c, struct rd_err *err)
{
	return rdi_db_run(c->st->db, err,
	    "INSERT OR REPLACE INTO replicas(dir, version,"
	    " target, state, updated) VALUES (?, ?, NULL, 'clean', ?)",
	    "tid", c->replica, (int64_t)c->row.version, rd_now());
}

int
rdi_pc_release_staging(struct rdi_pctx *c, struct rd_err *err)
{
	if (!rdi_pt_exists(c->staging))
		return 0;
	if (c->replica[0] != '\0' && !rdi_pt_exists(c->replica)) {
		if (rdi_pt_rename(c->staging, c->replica, err) == -1)
			return -1;
		if (replica_back(c, err) == -1)
			return -1;
		c->replica[0] = '\0';
		return rdi_pj_set_text(c->st->db, c->id, "replica", NULL, err);
	}
	return rdi_rmtree(AT_FDCWD, c->staging, c->staging, err);
}

/*
 * Plan the first free name TARGET.KIND-STAMP[.N] from "attempt" on for
 * a kept tree: a new journal row, or the planned row "out" renamed.
 * Returns the attempt used, or -1.
 */
static int
plan_name(struct rdi_pctx *c, const char *kind, int64_t snapshot, double now,
    char *out, size_t len, int attempt, struct rd_err *err)
{
	char name[1100];

	for (; attempt < 100; attempt++) {
		if (rdi_pt_keep_name(c->target, kind, now, attempt, name,
		        sizeof(name), err) == -1)
			return -1;
		if (!rdi_pt_exists(name))
			break;
	}
	if (attempt == 100)
		return rd_err_set(err, RD_ECANTCREAT,
		    "no free name to keep a tree of '%s' aside", c->target);
	if (out[0] == '\0') {
		if (rdi_pj_tree_add(c->st->db, c->id, name, kind, snapshot,
		        "planned", err) == -1)
			return -1;
	} else if (rdi_pj_tree_set(c->st->db, c->id, out, name, "planned",
	               err) == -1) {
		return -1;
	}
	snprintf(out, len, "%s", name);
	return attempt;
}

int
rdi_pc_keep(struct rdi_pctx *c, const char *from, const char *kind,
    int64_t snapshot, char *out, size_t len, struct rd_err *err)
{
	int64_t snap = snapshot;
	double now = rd_now();
	int r, attempt = 0;

	r = rdi_pj_tree_planned(c->st->db, c->id, kind, out, len, &snap, err);
	if (r == -1)
		return -1;
	if (r == 0)
		out[0] = '\0';
	if (!rdi_pt_exists(from)) {
		/* moved by an earlier run that died before it said so */
		if (out[0] == '\0' || !rdi_pt_exists(out)) {
			out[0] = '\0';
			return 0;
		}
		goto kept;
	}
	for (;;) {
		if (out[0] == '\0' || rdi_pt_exists(out)) {
			attempt = plan_name(c, kind, snap, now, out, len,
			    attempt, err);
			if (attempt == -1)
				return -1;
		}
		if (rdi_pt_rename(from, out, err) == 0)
			break;
		if (err->code != RD_ECANTCREAT || ++attempt >= 100)
			return -1;
		rd_err_clear(err);
	}
kept:
	if (rdi_pj_tree_set(c->st->db, c->id, out, out, "kept", err) == -1)
		return -1;
	if (strcmp(kind, "pre-promote") == 0 && snap == 0 &&
	    c->res->aside[0] == '\0') {
		snprintf(c->res->aside, sizeof(c->res->aside), "%s", out);
		if (rdi_pj_set_text(c->st->db, c->id, "aside", out, err) == -1)
			return -1;
	}
	return rdi_pt_sync_parent(out, err);
}

/* ------------------------------------------------------------------ */
/* The cluster's claim in etcd */

int
rdi_pc_claim(struct rdi_pctx *c, int dry_run, struct rd_err *err)
{
	struct rdi_etcd ec;
	struct rdi_claim cl;
	int r;

	if (rdi_etcd_init(&ec, c->o.etcd, c->o.etcd_timeout, err) == -1)
		return -1;
	r = rdi_cluster_claim(&ec, c->o.cluster, c->st->info.uuid,
	    c->st->info.origin, c->st->info.epoch, dry_run, &cl, err);
	if (r == -1) {
		/* unreachable, no quorum, or an answer that is not etcd's */
		snprintf(c->res->message, sizeof(c->res->message),
		    "cannot claim cluster '%s' in etcd: %s: refusing to promote, nothing was changed",
		    c->o.cluster, err->msg);
		c->res->refused_code =
		    err->code == RD_EUSAGE ? RD_EUSAGE : RD_EUNAVAIL;
		rd_err_clear(err);
		return 1;
	}
	snprintf(c->res->message, sizeof(c->res->message), "%s", cl.message);
	if (r == 1) {
		c->res->refused_code = RD_EPERM;
		return 1;
	}
	c->claim_epoch = cl.epoch;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Steps */

static int
do_preflight(struct rdi_pctx *c, struct rd_err *err)
{
	return rdi_pc_checks(c, RDI_CK_PARTIAL, RDI_CK_N, err);
}

/*
 * The epoch jumps to the etcd claim's: journal where it came from, so
 * that an abort lowers it back there (promote_abort.c).
 */
static int
epoch_event(struct rdi_pctx *c, int64_t next, struct rd_err *err)
{
	char d[128];

	snprintf(d, sizeof(d), "raised from %lld to %lld (etcd fencing token)",
	    (long long)c->st->info.epoch, (long long)next);
	return rdi_pj_event(c->st->db, c->id, "epoch", d, err);
}

static int
do_fence(struct rdi_pctx *c, struct rd_err *err)
{
	char why[128], val[32];
	int64_t next;
	int r;

	if (c->o.drill)
		return 0;
	if (c->epoch_raised) {
		/* an earlier run fenced and raised it, then died */
		c->res->epoch = c->st->info.epoch;
		return 0;
	}
	/*
	 * The claim again: a resumed run learns its epoch, and a claim
	 * taken over since the preflight stops the promotion here.
	 */
	if (c->o.etcd != NULL && rdi_pc_claim(c, 0, err) != 0)
		return 1;
	c->res->message[0] = '\0';
	next = c->st->info.epoch + 1;
	if (c->claim_epoch > next)
		next = c->claim_epoch;
	if (c->o.fence != NULL) {
		r = rdi_pc_hook(c, c->o.fence, NULL, why, sizeof(why), err);
		if (r == -1)
			return -1;
		if (r == 1) {
			snprintf(c->res->message, sizeof(c->res->message),
			    "fence command failed (%s): stopping before anything changed",
			    why);
			return 1;
		}
	}
	/* from here on the old primary's bundles are refused */
	snprintf(val, sizeof(val), "%lld", (long long)next);
	if (rdi_db_exec(c->st->db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (rdi_meta_set(c->st->db, "epoch", val, err) == -1 ||
	    rdi_pj_set_int(c->st->db, c->id, "epoch", next, 0, err) == -1 ||
	    (next != c->st->info.epoch + 1 &&
	        epoch_event(c, next, err) == -1) ||
	    rdi_db_exec(c->st->db, "COMMIT", err) == -1) {
		sqlite3_exec(c->st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	c->st->info.epoch = next;
	c->epoch_raised = 1;
	c->res->epoch = c->st->info.epoch;
	return 0;
}

static int
syncfs_dir(const char *path, struct rd_err *err)
{
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s'", path);
	if (syncfs(fd) == -1)
		ret = rd_err_sys(err, RD_EIO, "cannot sync '%s'", path);
	close(fd);
	return ret;
}

/* Move the warm replica into place.  1 if it was, 0 if not, -1. */
static int
take_replica(struct rdi_pctx *c, struct rd_err *err)
{
	if (rdi_pj_set_text(c->st->db, c->id, "replica", c->replica, err) == -1)
		return -1;
	if (rename(c->replica, c->staging) == -1) {
		c->replica[0] = '\0';
		return rdi_pj_set_text(c->st->db, c->id, "replica", NULL, err);
	}
	c->res->used_replica = 1;
	/* the replica dir is gone; forget it */
	if (rdi_db_run(c->st->db, err, "DELETE FROM replicas WHERE dir = ?",
	        "t", c->replica) == -1 ||
	    rdi_pt_sync_parent(c->staging, err) == -1)
		return -1;
	return 1;
}

static int
do_materialize(struct rdi_pctx *c, struct rd_err *err)
{
	struct rd_restore_opts ro = RD_RESTORE_OPTS_INIT;
	struct rd_restore_result rr;
	struct rd_err e2 = RD_ERR_INIT;
	int r;

	/* a staging dir of an interrupted attempt is redone */
	if (rdi_pt_exists(c->staging)) {
		if (c->replica[0] != '\0' && !rdi_pt_exists(c->replica)) {
			c->res->used_replica = 1;
			return 0; /* it is the replica, moved: keep it */
		}
		if (rdi_rmtree(AT_FDCWD, c->staging, c->staging, err) == -1)
			return -1;
	}
	if (rdi_pc_find_replica(c, c->replica, sizeof(c->replica), err) == -1)
		return -1;
	if (c->replica[0] != '\0') {
		r = take_replica(c, err);
		if (r != 0)
			return r == 1 ? 0 : -1;
	}
	if (rd_restore(c->st, c->res->version, c->staging, NULL, 0, &ro, &rr,
	        err) == 0)
		return syncfs_dir(c->staging, err);
	(void)rdi_rmtree(AT_FDCWD, c->staging, c->staging, &e2);
	if (err->code != RD_ECORRUPT)
		return -1;
	snprintf(c->res->message, sizeof(c->res->message),
	    "snapshot %lld cannot be restored: %s", (long long)c->res->version,
	    err->msg);
	rd_err_clear(err);
	return 1;
}

/*
 * The tree did not verify: discard it (a drill keeps it), and forget
 * that it was made, so that a rerun restores from the store.
 */
static int
discard_tree(struct rdi_pctx *c, const char *why, struct rd_err *err)
{
	char detail[700];
	int replica = c->res->used_replica;

	snprintf(c->res->message, sizeof(c->res->message),
	    "the materialized tree does not match snapshot %lld: %s",
	    (long long)c->res->version, why);
	if (c->o.drill)
		return 1;
	if (rdi_rmtree(AT_FDCWD, c->staging, c->staging, err) == -1)
		return -1;
	c->replica[0] = '\0';
	snprintf(detail, sizeof(detail), "discarded: it failed verify (%.600s)",
	    why);
	if (rdi_pj_set_text(c->st->db, c->id, "replica", NULL, err) == -1 ||
	    rdi_pj_step_end(c->st->db, c->id, RDI_S_MATERIALIZE, "discarded",
	        detail, err) == -1)
		return -1;
	c->done[RDI_S_MATERIALIZE] = 0;
	snprintf(c->res->message + strlen(c->res->message),
	    sizeof(c->res->message) - strlen(c->res->message),
	    "; %s was discarded: resume to restore snapshot %lld from the store",
	    replica ? "the warm replica" : "the tree",
	    (long long)c->res->version);
	return 1;
}

static int
do_verify(struct rdi_pctx *c, struct rd_err *err)
{
	char why[512];
	int r;

	why[0] = '\0';
	r = rd_tree_verify(c->st, c->res->version, c->staging,
	    c->o.quick_verify, &c->res->files, why, sizeof(why), err);
	if (r == 1)
		return discard_tree(c, why, err);
	return r;
}

static int
do_validate(struct rdi_pctx *c, struct rd_err *err)
{
	char why[128];
	int r;

	if (c->o.validate == NULL)
		return 0;
	r = rdi_pc_hook(c, c->o.validate, c->staging, why, sizeof(why), err);
	if (r == -1)
		return -1;
	c->res->validated = r == 0;
	if (rdi_pj_set_int(c->st->db, c->id, "validated", r == 0, 0, err) == -1)
		return -1;
	if (r == 0)
		return 0;
	if (!c->o.drill &&
	    rdi_pc_keep(c, c->staging, "rejected", c->res->version,
	        c->res->kept, sizeof(c->res->kept), err) == -1)
		return -1;
	snprintf(c->res->message, sizeof(c->res->message),
	    "the application check (--validate) rejected snapshot %lld (%s); '%s' was not touched%s%s%s",
	    (long long)c->res->version, why, c->target,
	    c->res->kept[0] != '\0' ? "; the copy is kept as '" : "",
	    c->res->kept, c->res->kept[0] != '\0' ? "' for inspection" : "");
	return 1;
}

/* The target was moved aside before: finish what the switch began. */
static int
settle_switch(struct rdi_pctx *c, struct rd_err *err)
{
	char path[1100];
	int64_t snap = 0;
	int r;

	r = rdi_pj_tree_planned(c->st->db, c->id, "pre-promote", path,
	    sizeof(path), &snap, err);
	if (r != 1 || !rdi_pt_exists(path))
		return r == -1 ? -1 : 0;
	if (rdi_pj_tree_set(c->st->db, c->id, path, path, "kept", err) == -1)
		return -1;
	if (snap == 0 && c->res->aside[0] == '\0') {
		snprintf(c->res->aside, sizeof(c->res->aside), "%s", path);
		return rdi_pj_set_text(c->st->db, c->id, "aside", path, err);
	}
	return 0;
}

static int
do_switch(struct rdi_pctx *c, struct rd_err *err)
{
	char aside[1100];

	if (settle_switch(c, err) == -1)
		return -1;
	if (!rdi_pt_exists(c->staging)) {
		/* an earlier run got this far: the target is in place */
		if (!rdi_pt_exists(c->target))
			return rd_err_set(err, RD_EIO,
			    "neither the staging directory '%s' nor the target exists",
			    c->staging);
	} else {
		if (rdi_pt_exists(c->target) &&
		    rdi_pc_keep(c, c->target, "pre-promote", 0, aside,
		        sizeof(aside), err) == -1)
			return -1;
		if (rdi_pt_rename(c->staging, c->target, err) == -1 ||
		    rdi_pt_sync_parent(c->target, err) == -1)
			return -1;
	}
	if (c->o.drill)
		return 0;
	c->st->info.standby = 0;
	return rdi_meta_set(c->st->db, "role", "primary", err);
}

static int
do_start(struct rdi_pctx *c, struct rd_err *err)
{
	char why[128];
	int r;

	if (c->o.start == NULL)
		return 0;
	r = rdi_pc_hook(c, c->o.start, NULL, why, sizeof(why), err);
	if (r == -1)
		return -1;
	if (r == 1) {
		snprintf(c->res->message, sizeof(c->res->message),
		    "start command failed (%s); '%s' holds snapshot %lld", why,
		    c->target, (long long)c->res->version);
		return 1;
	}
	return 0;
}

static int
do_check(struct rdi_pctx *c, struct rd_err *err)
{
	char why[256];
	double deadline = rd_monotonic() + c->o.check_timeout;
	struct timespec ts = { 0, 250 * 1000 * 1000 };
	int r;

	if (c->o.check == NULL)
		return 0;
	/*
	 * An exec: check runs as a child of this process: give it what the
	 * hooks get (the only change librd makes to the environment).
	 */
	if (export_env(c, err) == -1)
		return -1;
	for (;;) {
		r = rdi_pc_probe(c, c->o.check, why, sizeof(why), err);
		if (r == -1)
			return -1;
		if (r == 1)
			return 0;
		if (rd_monotonic() >= deadline) {
			snprintf(c->res->message, sizeof(c->res->message),
			    "the service did not become healthy within %g s (%s: %s); '%s' holds snapshot %lld",
			    c->o.check_timeout, c->o.check, why, c->target,
			    (long long)c->res->version);
			return 1;
		}
		nanosleep(&ts, NULL);
	}
}

static int
do_record(struct rdi_pctx *c, struct rd_err *err)
{
	struct rd_promote_result *res = c->res;
	sqlite3 *db = c->st->db;
	int r;

	res->rto = rd_now() - c->t0;
	if (res->switchover && res->stop_at > 0)
		res->unavailable =
		    (c->up_at > 0 ? c->up_at : rd_now()) - res->stop_at;
	if (rdi_pj_set_real(db, c->id, "rto", res->rto, 0, err) == -1 ||
	    rdi_pj_set_real(db, c->id, "rpo", res->rpo, 0, err) == -1 ||
	    rdi_pj_set_real(db, c->id, "failed_at", res->failed_at,
	        res->failed_at == 0, err) == -1 ||
	    rdi_pj_set_real(db, c->id, "data_time", res->data_time, 0, err) ==
	        -1 ||
	    rdi_pj_set_real(db, c->id, "given_up", res->given_up, 0, err) == -1)
		return -1;
	if (!c->o.drill)
		return 0;
	r = rdi_pc_stop(c, "the drill passed", err);
	if (r != 0)
		return r;
	/* a passed drill leaves nothing but its record */
	return rdi_rmtree(AT_FDCWD, c->target, c->target, err);
}

/* ------------------------------------------------------------------ */
/* What each step plans and did */

static void
plan_preflight(struct rdi_pctx *c, char *b, size_t n)
{
	const char *p = c->o.primary;

	if (c->o.drill)
		snprintf(b, n,
		    "check snapshot %lld (drill: the primary is not checked)",
		    (long long)c->res->version);
	else if (c->o.switchover)
		snprintf(b, n,
		    "check snapshot %lld; the primary is up until the handover stops it (switchover)",
		    (long long)c->res->version);
	else if (p != NULL)
		snprintf(b, n, "check that the primary %s is down%s", p,
		    c->o.force ? "; go on if it is up (--force)" : "");
	else
		snprintf(b, n,
		    "the primary is NOT checked (--force, no --primary)");
	if (c->have_si && (c->si.partial > 0 || c->si.inconsistent > 0))
		snprintf(b + strlen(b), n - strlen(b),
		    "; snapshot %lld is PARTIAL (%lld paths kept an older version, %lld files changed while read)%s",
		    (long long)c->si.id, (long long)c->si.partial,
		    (long long)c->si.inconsistent,
		    c->o.allow_partial ? ": promoted anyway (--allow-partial)"
		                       : ": refused without --allow-partial");
}

static void
plan_fence(struct rdi_pctx *c, char *b, size_t n)
{
	if (c->o.drill)
		snprintf(b, n, "drill: no fence, epoch unchanged");
	else
		snprintf(b, n, "%s; raise the epoch to %lld%s",
		    c->o.fence != NULL
		        ? "run the fence command"
		        : "NO fence command (--no-fence): the old primary is not cut off",
		    (long long)c->st->info.epoch + 1,
		    c->o.etcd != NULL
		        ? " or to the etcd claim's fencing token if higher"
		        : "");
}

static void
plan_materialize(struct rdi_pctx *c, char *b, size_t n)
{
	struct rd_err e = RD_ERR_INIT;
	char replica[1100];

	b[0] = '\0';
	if (c->fall_to != 0 && c->begun[RDI_S_START] && c->o.stop != NULL)
		snprintf(b, n,
		    "fall back from snapshot %lld: run the stop command; ",
		    (long long)c->row.version);
	else if (c->fall_to != 0)
		snprintf(b, n, "fall back from snapshot %lld: ",
		    (long long)c->row.version);
	if (rdi_pc_find_replica(c, replica, sizeof(replica), &e) == 0 &&
	    replica[0] != '\0')
		snprintf(b + strlen(b), n - strlen(b),
		    "move the warm replica %s into place", replica);
	else
		snprintf(b + strlen(b), n - strlen(b),
		    "restore snapshot %lld into %s", (long long)c->res->version,
		    c->staging);
}

static void
plan_verify(struct rdi_pctx *c, char *b, size_t n)
{
	snprintf(b, n, "%s",
	    c->o.quick_verify
	        ? "check every entry's metadata (quick: contents NOT hashed)"
	        : "check every entry and hash every file");
}

static void
plan_validate(struct rdi_pctx *c, char *b, size_t n)
{
	snprintf(b, n, "%s",
	    c->o.validate != NULL
	        ? "run the --validate command on the copy"
	        : "no --validate command: the application's data is NOT checked");
}

static void
plan_switch(struct rdi_pctx *c, char *b, size_t n)
{
	if (rdi_pt_exists(c->target))
		snprintf(b, n,
		    "%s takes the place of %s; the old one is kept as %s.pre-promote-TIMESTAMP",
		    c->staging, c->target, c->target);
	else
		snprintf(b, n, "rename %s to %s", c->staging, c->target);
}

static void
plan_start(struct rdi_pctx *c, char *b, size_t n)
{
	snprintf(b, n, "%s",
	    c->o.start != NULL ? "run the start command"
	                       : "no --start command");
}

static void
plan_check(struct rdi_pctx *c, char *b, size_t n)
{
	if (c->o.check != NULL)
		snprintf(b, n, "poll %s until up, at most %g s", c->o.check,
		    c->o.check_timeout);
	else
		snprintf(b, n, "no --check probe");
}

static void
plan_record(struct rdi_pctx *c, char *b, size_t n)
{
	snprintf(b, n, "record RTO and RPO%s",
	    !c->o.drill ? ""
	        : c->o.stop != NULL
	        ? "; run the stop command and remove the scratch tree"
	        : "; remove the scratch tree");
}

static void
did_preflight(struct rdi_pctx *c, char *b, size_t n)
{
	snprintf(b, n, "%s", c->preflight);
}

static void
did_fence(struct rdi_pctx *c, char *b, size_t n)
{
	if (c->o.drill)
		snprintf(b, n, "drill: nothing fenced");
	else
		snprintf(b, n, "%sepoch is now %lld",
		    c->o.fence != NULL
		        ? "fence command succeeded; "
		        : "NO fence command (--no-fence): the old primary was not cut off; ",
		    (long long)c->st->info.epoch);
}

static void
did_materialize(struct rdi_pctx *c, char *b, size_t n)
{
	if (c->res->used_replica)
		snprintf(b, n, "warm replica %s, moved into place", c->replica);
	else
		snprintf(b, n, "restored snapshot %lld into %s",
		    (long long)c->res->version, c->staging);
}

static void
did_verify(struct rdi_pctx *c, char *b, size_t n)
{
	snprintf(b, n,
	    c->o.quick_verify
	        ? "%lld entries, metadata only (quick: contents NOT hashed)"
	        : "%lld entries, every file hashed",
	    (long long)c->res->files);
}

static void
did_validate(struct rdi_pctx *c, char *b, size_t n)
{
	snprintf(b, n, "%s",
	    c->o.validate != NULL
	        ? "the --validate command passed"
	        : "no --validate command: the application's data was NOT checked");
}

static void
did_switch(struct rdi_pctx *c, char *b, size_t n)
{
	if (c->res->aside[0] != '\0')
		snprintf(b, n, "%s in place; the old one kept as %s", c->target,
		    c->res->aside);
	else
		snprintf(b, n, "%s in place", c->target);
}

static void
did_start(struct rdi_pctx *c, char *b, size_t n)
{
	snprintf(b, n, "%s",
	    c->o.start != NULL ? "start command succeeded"
	                       : "no --start command");
}

static void
did_check(struct rdi_pctx *c, char *b, size_t n)
{
	if (c->o.check != NULL)
		snprintf(b, n, "%s is up", c->o.check);
	else
		snprintf(b, n, "no --check probe");
}

static int
do_handover(struct rdi_pctx *c, struct rd_err *err)
{
	return rdi_pc_handover(c, err);
}

static void
did_record(struct rdi_pctx *c, char *b, size_t n)
{
	snprintf(b, n, "RTO %.1f s, RPO %.0f s", c->res->rto, c->res->rpo);
}

/*
 * The steps, in the order of RDI_S_*: the name the journal and the
 * caller see, what runs it, what the dry run says it would do, what the
 * journal says it did, and whether a refusal there leaves the promotion
 * open to resume, fall back or undo (--abort): after the fence
 * something changed; up to it, the promotion is over.
 */
/* clang-format off */
static const struct step {
	const char *name;
	int (*run)(struct rdi_pctx *, struct rd_err *);
	void (*plan)(struct rdi_pctx *, char *, size_t);
	void (*did)(struct rdi_pctx *, char *, size_t);
	int undo;
} steps[RD_PROMOTE_NSTEPS] = {
	{ "preflight",   do_preflight,   plan_preflight,   did_preflight,   0 },
	{ "handover",    do_handover,    rdi_pc_handover_plan, rdi_pc_handover_did, 0 },
	{ "fence",       do_fence,       plan_fence,       did_fence,       0 },
	{ "materialize", do_materialize, plan_materialize, did_materialize, 1 },
	{ "verify",      do_verify,      plan_verify,      did_verify,      1 },
	{ "validate",    do_validate,    plan_validate,    did_validate,    1 },
	{ "switch",      do_switch,      plan_switch,      did_switch,      1 },
	{ "start",       do_start,       plan_start,       did_start,       1 },
	{ "check",       do_check,       plan_check,       did_check,       1 },
	{ "record",      do_record,      plan_record,      did_record,      1 },
};
/* clang-format on */

const char *
rd_promote_step_name(int step)
{
	return step >= 0 && step < RD_PROMOTE_NSTEPS ? steps[step].name : "?";
}

/* ------------------------------------------------------------------ */
/* The driver */

/*
 * A failed drill keeps its tree at the scratch path, after stopping what
 * --start started; the message says where.
 */
static void
drill_keep(struct rdi_pctx *c)
{
	struct rd_err e = RD_ERR_INIT;
	char *m = c->res->message;
	size_t n = sizeof(c->res->message);

	if (rdi_pc_stop(c, "the drill failed", &e) != 0)
		snprintf(m + strlen(m), n - strlen(m), "; %s",
		    e.msg[0] != '\0' ? e.msg : "the stop command failed");
	rd_err_clear(&e);
	if (rdi_pt_exists(c->staging) && !rdi_pt_exists(c->target) &&
	    rdi_pt_rename(c->staging, c->target, &e) == -1)
		snprintf(m + strlen(m), n - strlen(m), "; %s", e.msg);
	rd_err_clear(&e);
	if (!rdi_pt_exists(c->target))
		return;
	snprintf(c->res->kept, sizeof(c->res->kept), "%s", c->target);
	(void)rdi_pj_tree_add(c->st->db, c->id, c->target, "drill",
	    c->res->version, "kept", &e);
	snprintf(m + strlen(m), n - strlen(m),
	    "; the drill's tree is kept at '%s' for inspection", c->target);
}

/* Step "s" refused or stopped safely: journal it, keep what must stay. */
static int
stopped(struct rdi_pctx *c, int s, double t, struct rd_err *err)
{
	struct rd_err e = RD_ERR_INIT;
	int64_t older;

	if (c->o.drill)
		drill_keep(c);
	if (rdi_pj_step_end(c->st->db, c->id, s, "failed", c->res->message,
	        err) == -1)
		return -1;
	/*
	 * Before the fence nothing changed: the promotion is over.  After
	 * it, it stays open: resume, fall back or abort.  A drill is over.
	 */
	if ((!steps[s].undo || c->o.drill) &&
	    rdi_pj_finish(c->st->db, c->id, "failed", c->res->message, err) ==
	        -1)
		return -1;
	c->res->open = steps[s].undo && !c->o.drill;
	older = rdi_pc_older(c->st, c->res->version, &e);
	c->res->older = older > 0 ? older : 0;
	c->res->switched = rdi_pc_switched(c);
	say(c, s, "failed", t, "%s", c->res->message);
	return 1;
}

static int
run_step(struct rdi_pctx *c, int s, struct rd_err *err)
{
	struct rd_err e = RD_ERR_INIT;
	char detail[2048];
	double t;
	int r;

	if (rdi_pj_step_begin(c->st->db, c->id, s, err) == -1)
		return -1;
	c->begun[s] = 1;
	t = rd_monotonic();
	r = steps[s].run(c, err);
	t = rd_monotonic() - t;
	if (r == -1) {
		/* left "running": a resume continues from here */
		(void)rdi_pj_step_end(c->st->db, c->id, s, "failed", err->msg,
		    &e);
		say(c, s, "failed", t, "%s", err->msg);
		return -1;
	}
	if (r == 1)
		return stopped(c, s, t, err);
	steps[s].did(c, detail, sizeof(detail));
	if (rdi_pj_step_end(c->st->db, c->id, s, "ok", detail, err) == -1)
		return -1;
	c->done[s] = 1;
	if (s == RDI_S_CHECK)
		c->up_at = rd_now();
	say(c, s, "ok", t, "%s", detail);
	return 0;
}

static int
run_steps(struct rdi_pctx *c, struct rd_err *err)
{
	char detail[128];
	int s, r;

	for (s = 0; s < RD_PROMOTE_NSTEPS; s++) {
		if (s == RDI_S_HANDOVER && !c->o.switchover)
			continue; /* not a switchover: no such step */
		if (c->done[s]) {
			say(c, s, "done", 0, "done by an earlier run");
			continue;
		}
		r = run_step(c, s, err);
		if (r != 0)
			return r;
	}
	did_record(c, detail, sizeof(detail));
	if (rdi_pj_finish(c->st->db, c->id, "done", detail, err) == -1)
		return -1;
	c->res->epoch = c->st->info.epoch;
	c->res->switched = !c->o.drill;
	return 0;
}

/* The dry run: the plan, then every check.  Returns what the run would. */
static int
dry_run(struct rdi_pctx *c, struct rd_err *err)
{
	char line[4096];
	int s;

	if (rdi_pc_handover_init(c, err) == -1)
		return -1;
	if (rd_snap_get(c->st, c->fall_to != 0 ? c->fall_to : c->res->version,
	        &c->si, err) == 0) {
		c->have_si = 1;
		c->res->version = c->si.id;
	}
	rd_err_clear(err);
	for (s = 0; s < RD_PROMOTE_NSTEPS; s++) {
		if (s == RDI_S_HANDOVER && !c->o.switchover)
			continue;
		if (c->done[s] &&
		    !(c->fall_to != 0 && s >= RDI_S_MATERIALIZE)) {
			say(c, s, "done", 0, "done by an earlier run");
			continue;
		}
		steps[s].plan(c, line, sizeof(line));
		say(c, s, "plan", 0, "%s", line);
	}
	c->have_si = 0;
	return rdi_pc_checks(c, 0, RDI_CK_N, err);
}

/* Journal a new promotion. */
static int
journal_new(struct rdi_pctx *c, struct rd_err *err)
{
	struct rdi_pjrow row;

	memset(&row, 0, sizeof(row));
	row.drill = c->o.drill;
	row.version = c->res->version;
	snprintf(row.target, sizeof(row.target), "%s", c->target);
	snprintf(row.staging, sizeof(row.staging), "%s", c->staging);
	row.started = c->t0;
	if (rdi_pj_create(c->st->db, &row, &c->o, &c->id, err) == -1)
		return -1;
	c->res->id = c->id;
	return 0;
}

/* The real run: the checks before the journal, then the steps. */
static int
run(struct rdi_pctx *c, struct rd_err *err)
{
	int r;

	r = rdi_pc_checks(c, 0, RDI_CK_PARTIAL, err);
	if (r != 0)
		return r;
	if (!c->resumed) {
		if (journal_new(c, err) == -1 ||
		    rdi_pc_handover_init(c, err) == -1)
			return -1;
	} else {
		if (rdi_pc_handover_init(c, err) == -1)
			return -1;
		if (c->cli->allow_partial &&
		    rdi_pj_opts_save(c->st->db, c->id, &c->o, err) == -1)
			return -1;
		if (c->fall_to != 0) {
			r = rdi_pc_fall_back(c, err);
			if (r != 0)
				return r;
		}
	}
	/* a tree that is gone must be made again */
	if (c->done[RDI_S_MATERIALIZE] && !c->done[RDI_S_SWITCH] &&
	    !rdi_pt_exists(c->staging) && !rdi_pc_switched(c))
		c->done[RDI_S_MATERIALIZE] = c->done[RDI_S_VERIFY] =
		    c->done[RDI_S_VALIDATE] = 0;
	return run_steps(c, err);
}

/* ------------------------------------------------------------------ */
/* Setting up */

/* Where the promotion goes: "target" and its staging directory. */
static int
set_paths(struct rdi_pctx *c, const char *target, struct rd_err *err)
{
	char b[PATH_MAX], d[1024];

	snprintf(c->target_arg, sizeof(c->target_arg), "%s", target);
	if (rdi_pt_absolute(target, c->target, sizeof(c->target), err) == -1)
		return -1;
	snprintf(b, sizeof(b), "%s", c->target);
	snprintf(d, sizeof(d), "%.1000s", c->target);
	if ((size_t)snprintf(c->staging, sizeof(c->staging),
	        "%.1000s/.%.80s.rdpromote", dirname(d),
	        basename(b)) >= sizeof(c->staging))
		return rd_err_set(err, RD_EUSAGE, "target path is too long");
	snprintf(c->res->target, sizeof(c->res->target), "%s", c->target);
	return 0;
}

/* Continue "c->row": its state from the journal. */
static int
load_row(struct rdi_pctx *c, struct rd_err *err)
{
	c->resumed = 1;
	c->id = c->row.id;
	c->res->id = c->id;
	c->res->resumed = 1;
	c->res->version = c->row.version;
	c->res->validated = c->row.validated;
	c->t0 = c->row.started;
	c->epoch_raised = c->row.epoch_raised;
	snprintf(c->replica, sizeof(c->replica), "%s", c->row.replica);
	snprintf(c->res->aside, sizeof(c->res->aside), "%s", c->row.aside);
	if (c->row.staging[0] != '\0')
		snprintf(c->staging, sizeof(c->staging), "%s", c->row.staging);
	return rdi_pj_steps(c->st->db, c->id, c->done, c->begun, err);
}

/* Take the options of the journal, with the caller's callbacks. */
static int
journal_options(struct rdi_pctx *c, struct rd_err *err)
{
	if (rdi_pj_opts_load(c->st->db, c->row.id, &c->jo, err) == -1)
		return -1;
	c->o = c->jo.o;
	c->o.drill = c->row.drill;
	c->o.dry_run = c->cli->dry_run;
	c->o.resume = c->cli->resume;
	c->o.allow_partial |= c->cli->allow_partial;
	c->o.step = c->cli->step;
	c->o.checked = c->cli->checked;
	c->o.step_arg = c->cli->step_arg;
	return 0;
}

int
rdi_pc_adopt(struct rdi_pctx *c, struct rd_err *err)
{
	if (c->row.has_options && journal_options(c, err) == -1)
		return -1;
	c->o.drill = c->row.drill;
	if (set_paths(c, c->row.target, err) == -1)
		return -1;
	return load_row(c, err);
}

/* rdpromote --resume: the unfinished promotion, with its options. */
static int
open_resume(struct rdi_pctx *c, struct rd_err *err)
{
	if (!c->has_open) {
		snprintf(c->res->message, sizeof(c->res->message),
		    "no unfinished promotion or drill in store '%s': nothing to resume",
		    c->st->path);
		return 1;
	}
	if (!c->row.has_options) {
		snprintf(c->res->message, sizeof(c->res->message),
		    "%s %lld was started by an earlier redund, which journaled no options: rerun its command with the same options to continue it",
		    c->row.drill ? "drill" : "promotion", (long long)c->row.id);
		return 1;
	}
	if (rdi_pc_adopt(c, err) == -1)
		return -1;
	if (c->cli->version != 0 && c->cli->version != c->row.version)
		c->fall_to = c->cli->version;
	return 0;
}

/*
 * A command with a target while a promotion is unfinished: the same
 * command continues it, anything else is refused by the journal check.
 */
static int
open_rerun(struct rdi_pctx *c, struct rd_err *err)
{
	const char *kind = c->row.drill ? "drill" : "promote";
	char name[32];
	int same =
	    strcmp(c->row.target, c->target) == 0 && c->row.drill == c->o.drill;

	if (same && c->row.has_options) {
		if (rdi_pj_opts_load(c->st->db, c->row.id, &c->jo, err) == -1)
			return -1;
		if (rdi_pj_opts_diff(&c->jo.o, &c->o, name, sizeof(name))) {
			snprintf(c->res->message, sizeof(c->res->message),
			    "%s %lld into '%s' is unfinished with another --%s: continue it as journaled with rdpromote --resume %s, or undo it with rdpromote --abort %s",
			    kind, (long long)c->row.id, c->row.target, name,
			    c->st->path, c->st->path);
			c->blocked = 1;
			return 0;
		}
	}
	if (!same) {
		snprintf(c->res->message, sizeof(c->res->message),
		    "%s %lld into '%s' is unfinished: continue it with rdpromote --resume %s, or undo it with rdpromote --abort %s",
		    kind, (long long)c->row.id, c->row.target, c->st->path,
		    c->st->path);
		c->blocked = 1;
		return 0;
	}
	if (load_row(c, err) == -1)
		return -1;
	/* a promotion of an earlier redund adopts these options */
	if (!c->row.has_options && !c->o.dry_run &&
	    rdi_pj_opts_save(c->st->db, c->id, &c->o, err) == -1)
		return -1;
	return 0;
}

void
rdi_pc_init(struct rdi_pctx *c, struct rd_store *st,
    const struct rd_promote_opts *o, struct rd_promote_result *res)
{
	char b[PATH_MAX];

	memset(c, 0, sizeof(*c));
	memset(res, 0, sizeof(*res));
	c->st = st;
	c->cli = o;
	c->o = *o;
	c->res = res;
	c->t0 = rd_now();
	res->validated = -1;
	res->version = o->version;
	res->drill = o->drill;
	res->epoch = st->info.epoch;
	if (realpath(st->path, b) == NULL || strlen(b) >= sizeof(c->store_abs))
		snprintf(c->store_abs, sizeof(c->store_abs), "%.1000s",
		    st->path);
	else
		snprintf(c->store_abs, sizeof(c->store_abs), "%s", b);
}

int
rd_promote(struct rd_store *st, const char *target,
    const struct rd_promote_opts *o, struct rd_promote_result *res,
    struct rd_err *err)
{
	struct rdi_pctx c;
	int r;

	rdi_pc_init(&c, st, o, res);
	if (rd_promote_opts_check(o, err) == -1)
		return -1;
	r = rdi_pj_open(st->db, &c.row, err);
	if (r == -1)
		return -1;
	c.has_open = r == 1;
	if (o->resume) {
		r = open_resume(&c, err);
	} else {
		r = set_paths(&c, target, err);
		if (r == 0 && c.has_open)
			r = open_rerun(&c, err);
	}
	if (r == 0) {
		res->drill = c.o.drill;
		res->no_fence = c.o.no_fence && !c.o.drill;
		res->failed_at = c.o.failed_at;
		res->quick_verify = c.o.quick_verify;
		res->has_check = c.o.check != NULL;
		r = o->dry_run ? dry_run(&c, err) : run(&c, err);
	}
	rdi_pj_opts_release(&c.jo);
	return r;
}
