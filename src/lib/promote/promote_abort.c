/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * promote_abort.c: the ways out of a promotion.  rd_promote_abort()
 * undoes the unfinished one: before the switch it gives the warm
 * replica back or removes the staging tree; after the switch it rolls
 * back (stops the service, keeps the promoted tree aside as
 * TARGET.rejected-TIMESTAMP and moves the old target back); either way
 * the store is a standby again at its old epoch.  rdi_pc_fall_back()
 * makes the unfinished promotion promote another snapshot.
 * rd_promote_tree_remove() removes a tree that a promotion kept, the
 * only way one is ever deleted.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promote_int.h"

/*
 * The epoch before promotion "c->id" raised it to an etcd claim's (its
 * "epoch" event) into "*before"; left as it is without such an event.
 */
static int
epoch_before(struct rdi_pctx *c, int64_t *before, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	long long v;
	int r;

	if (rdi_db_prepare(c->st->db,
	        "SELECT detail FROM promotion_events WHERE promotion = ?"
	        " AND event = 'epoch' ORDER BY id DESC LIMIT 1",
	        &q, err) == -1)
		return -1;
	r = rdi_db_bind(c->st->db, q, err, "i", (int64_t)c->id);
	if (r == 0)
		r = rdi_db_step(c->st->db, q, err);
	if (r == 1 && sqlite3_column_text(q, 0) != NULL &&
	    sscanf((const char *)sqlite3_column_text(q, 0), "raised from %lld",
	        &v) == 1 &&
	    v >= 1)
		*before = v;
	sqlite3_finalize(q);
	return r == -1 ? -1 : 0;
}

int
rdi_pc_lower_epoch(struct rdi_pctx *c, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	char val[32];
	int64_t epoch = 0, before;
	int r;

	c->res->epoch = c->st->info.epoch;
	if (!c->epoch_raised)
		return 0;
	if (rdi_db_prepare(c->st->db,
	        "SELECT epoch FROM promotions WHERE id = ?", &q, err) == -1)
		return -1;
	r = rdi_db_bind(c->st->db, q, err, "i", (int64_t)c->id);
	if (r == 0)
		r = rdi_db_step(c->st->db, q, err);
	if (r == 1)
		epoch = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	if (r == -1)
		return -1;
	before = epoch - 1;
	if (epoch_before(c, &before, err) == -1)
		return -1;
	/* only if no later promotion or bundle raised it further */
	if (epoch > 1 && epoch == c->st->info.epoch && before >= 1) {
		snprintf(val, sizeof(val), "%lld", (long long)before);
		if (rdi_meta_set(c->st->db, "epoch", val, err) == -1)
			return -1;
		c->st->info.epoch = before;
	}
	c->res->epoch = c->st->info.epoch;
	return 0;
}

/*
 * Move the target of before the promotion back into place, if it was
 * kept and the target is free.  "*back" says whether it was.
 */
static int
restore_aside(struct rdi_pctx *c, int *back, struct rd_err *err)
{
	char path[1100];
	int64_t snap = 0;
	int r;

	*back = 0;
	snprintf(path, sizeof(path), "%s", c->res->aside);
	if (path[0] == '\0') {
		/* moved aside by a run that died before it journaled it */
		r = rdi_pj_tree_planned(c->st->db, c->id, "pre-promote", path,
		    sizeof(path), &snap, err);
		if (r == -1)
			return -1;
		if (r == 0 || snap != 0)
			path[0] = '\0';
	}
	if (path[0] == '\0' || !rdi_pt_exists(path) || rdi_pt_exists(c->target))
		return 0;
	if (rdi_pt_rename(path, c->target, err) == -1 ||
	    rdi_pt_sync_parent(c->target, err) == -1 ||
	    rdi_pj_tree_set(c->st->db, c->id, path, path, "restored", err) ==
	        -1)
		return -1;
	*back = 1;
	return 0;
}

/* Abort a drill: stop what it started, remove its trees. */
static int
abort_drill(struct rdi_pctx *c, struct rd_err *err)
{
	int r;

	r = rdi_pc_stop(c, "the drill was aborted", err);
	if (r != 0)
		return r;
	if (rdi_rmtree(AT_FDCWD, c->staging, c->staging, err) == -1 ||
	    (c->begun[RDI_S_SWITCH] &&
	        rdi_rmtree(AT_FDCWD, c->target, c->target, err) == -1))
		return -1;
	snprintf(c->res->message, sizeof(c->res->message),
	    "drill %lld aborted; its scratch tree is gone", (long long)c->id);
	return rdi_pj_finish(c->st->db, c->id, "aborted", c->res->message, err);
}

/*
 * An aborted switchover leaves the old primary as its handover left it:
 * say so at the end of "c->res->message".
 */
static void
switchover_note(struct rdi_pctx *c)
{
	char *m = c->res->message;
	size_t n = sizeof(c->res->message);

	if (c->o.switchover && c->done[RDI_S_HANDOVER])
		snprintf(m + strlen(m), n - strlen(m),
		    "; this was a switchover: the primary's service is STOPPED (--primary-stop): start it again on the primary");
}

/* Abort a promotion that has not switched. */
static int
abort_before_switch(struct rdi_pctx *c, struct rd_err *err)
{
	int back;

	if (rdi_pc_release_staging(c, err) == -1 ||
	    restore_aside(c, &back, err) == -1 ||
	    rdi_pc_lower_epoch(c, err) == -1)
		return -1;
	snprintf(c->res->message, sizeof(c->res->message),
	    "aborted before the switch; '%s' was not touched%s", c->target,
	    c->epoch_raised
	        ? "; the epoch is back (the fence command is not undone)"
	        : "");
	switchover_note(c);
	return rdi_pj_finish(c->st->db, c->id, "aborted", c->res->message, err);
}

/* Roll back a promotion that has switched. */
static int
roll_back(struct rdi_pctx *c, struct rd_err *err)
{
	char *m = c->res->message, kept[1100];
	size_t n = sizeof(c->res->message);
	int r, back;

	r = rdi_pc_stop(c, "roll-back", err);
	if (r != 0)
		return r;
	if (rdi_pc_keep(c, c->target, "rejected", c->res->version, kept,
	        sizeof(kept), err) == -1 ||
	    restore_aside(c, &back, err) == -1)
		return -1;
	snprintf(c->res->kept, sizeof(c->res->kept), "%s", kept);
	c->st->info.standby = 1;
	if (rdi_meta_set(c->st->db, "role", "standby", err) == -1 ||
	    rdi_pc_lower_epoch(c, err) == -1)
		return -1;
	c->res->rolled_back = 1;
	snprintf(m, n, "rolled back: '%s' %s", c->target,
	    back ? "holds what it held before the promotion again"
	         : "does not exist, as before the promotion");
	if (kept[0] != '\0')
		snprintf(m + strlen(m), n - strlen(m),
		    "; the tree of snapshot %lld is kept as '%s'",
		    (long long)c->res->version, kept);
	snprintf(m + strlen(m), n - strlen(m),
	    "; the store is a standby again (epoch %lld); the fence command is not undone",
	    (long long)c->st->info.epoch);
	switchover_note(c);
	if (rdi_pj_event(c->st->db, c->id, "roll-back", m, err) == -1)
		return -1;
	return rdi_pj_finish(c->st->db, c->id, "aborted", m, err);
}

int
rd_promote_abort(struct rd_store *st, const char *target,
    struct rd_promote_result *res, struct rd_err *err)
{
	struct rd_promote_opts o = RD_PROMOTE_OPTS_INIT;
	struct rdi_pctx c;
	char want[1024];
	int r;

	rdi_pc_init(&c, st, &o, res);
	want[0] = '\0';
	if (target != NULL &&
	    rdi_pt_absolute(target, want, sizeof(want), err) == -1)
		return -1;
	r = rdi_pj_open(st->db, &c.row, err);
	if (r == -1)
		return -1;
	if (r == 0 || (want[0] != '\0' && strcmp(want, c.row.target) != 0)) {
		if (want[0] != '\0')
			snprintf(res->message, sizeof(res->message),
			    "no unfinished promotion into '%s'", want);
		else
			snprintf(res->message, sizeof(res->message),
			    "no unfinished promotion or drill in store '%s'",
			    st->path);
		return 1;
	}
	r = rdi_pc_adopt(&c, err);
	res->drill = c.o.drill;
	if (r == 0) {
		if (c.o.drill)
			r = abort_drill(&c, err);
		else if (rdi_pc_switched(&c))
			r = roll_back(&c, err);
		else
			r = abort_before_switch(&c, err);
	}
	res->epoch = st->info.epoch;
	rdi_pj_opts_release(&c.jo);
	return r;
}

/* A free name to keep the tree now at the target, for a fall-back. */
static int
keep_name(struct rdi_pctx *c, char *out, size_t len, struct rd_err *err)
{
	int attempt;

	for (attempt = 0; attempt < 100; attempt++) {
		if (rdi_pt_keep_name(c->target, "pre-promote", rd_now(),
		        attempt, out, len, err) == -1)
			return -1;
		if (!rdi_pt_exists(out))
			return 0;
	}
	return rd_err_set(err, RD_ECANTCREAT,
	    "no free name to keep a tree of '%s' aside", c->target);
}

int
rdi_pc_fall_back(struct rdi_pctx *c, struct rd_err *err)
{
	char why[1100], keep[1100];
	int64_t from = c->row.version;
	int r, s, switched;

	/* the new snapshot passes what the preflight checked */
	r = rdi_pc_checks(c, RDI_CK_PARTIAL, RDI_CK_N, err);
	switched = rdi_pc_switched(c);
	if (r == 0)
		r = rdi_pc_stop(c, "fall-back", err);
	if (r == 1) {
		c->res->open = !c->o.drill;
		c->res->switched = switched;
		c->res->older = from;
		c->res->version = from;
		return 1;
	}
	if (r == -1 || rdi_pc_release_staging(c, err) == -1 ||
	    (switched && keep_name(c, keep, sizeof(keep), err) == -1) ||
	    rdi_pj_last_failure(c->st->db, c->id, why, sizeof(why), err) == -1)
		return -1;
	if (rdi_pj_fall_back(c->st->db, c->id, from, c->fall_to,
	        why[0] != '\0' ? why : "asked for by the operator",
	        switched ? keep : NULL, err) == -1)
		return -1;
	for (s = RDI_S_MATERIALIZE; s < RD_PROMOTE_NSTEPS; s++)
		c->done[s] = c->begun[s] = 0;
	c->replica[0] = '\0';
	c->res->used_replica = 0;
	c->res->validated = -1;
	c->res->fell_back = from;
	c->res->version = c->fall_to;
	return 0;
}

int
rd_promote_tree_remove(struct rd_store *st, const char *path, char *why,
    size_t whylen, struct rd_err *err)
{
	struct rdi_pjrow row;
	char abs[1100], kind[16], state[16];
	int64_t pid;
	int r;

	if (rdi_pt_absolute(path, abs, sizeof(abs), err) == -1)
		return -1;
	r = rdi_pj_tree_find(st->db, abs, &pid, kind, sizeof(kind), state,
	    sizeof(state), err);
	if (r == -1)
		return -1;
	if (r == 0 || strcmp(state, "removed") == 0 ||
	    strcmp(state, "restored") == 0) {
		snprintf(why, whylen,
		    r == 0
		        ? "'%s' is not a tree that rdpromote kept (rdpromote history lists them)"
		        : strcmp(state, "removed") == 0
		        ? "'%s' was removed already"
		        : "'%s' was moved back into place by a roll-back: it is not a kept tree any more",
		    abs);
		return 1;
	}
	r = rdi_pj_open(st->db, &row, err);
	if (r == -1)
		return -1;
	if (r == 1 && row.id == pid && strcmp(kind, "pre-promote") == 0) {
		snprintf(why, whylen,
		    "%s %lld is unfinished and may need '%s' back: finish it (rdpromote --resume) or abort it first",
		    row.drill ? "drill" : "promotion", (long long)pid, abs);
		return 1;
	}
	if (rdi_rmtree(AT_FDCWD, abs, abs, err) == -1)
		return -1;
	return rdi_pj_tree_set(st->db, pid, abs, abs, "removed", err);
}
