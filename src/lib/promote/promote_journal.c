/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * promote_journal.c: the promotion journal in the catalog.  Every
 * promotion and drill is a row of promotions, each of its steps a row of
 * promotion_steps; promotion_options keeps the options it was started
 * with, so that a resume needs none on the command line;
 * promotion_events says what happened besides the steps (a fall-back
 * to another snapshot, a roll-back); promotion_trees lists the trees it
 * kept aside, which only rdpromote remove-tree removes.  Every write is
 * its own durable transaction, or one transaction where several rows
 * must change together.
 */
#include "config.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promote_int.h"

/* ------------------------------------------------------------------ */
/* Options */

enum { T_STR, T_FLAG, T_I64, T_TIME, T_SECS, T_VERIFY };

/* clang-format off */
static const struct optdef {
	const char *name;
	int type;
	size_t off;
} optdefs[] = {
	{ "snapshot", T_I64, offsetof(struct rd_promote_opts, version) },
	{ "primary", T_STR, offsetof(struct rd_promote_opts, primary) },
	{ "force", T_FLAG, offsetof(struct rd_promote_opts, force) },
	{ "fence", T_STR, offsetof(struct rd_promote_opts, fence) },
	{ "no-fence", T_FLAG, offsetof(struct rd_promote_opts, no_fence) },
	{ "validate", T_STR, offsetof(struct rd_promote_opts, validate) },
	{ "start", T_STR, offsetof(struct rd_promote_opts, start) },
	{ "check", T_STR, offsetof(struct rd_promote_opts, check) },
	{ "stop", T_STR, offsetof(struct rd_promote_opts, stop) },
	{ "heartbeat", T_STR, offsetof(struct rd_promote_opts, heartbeat) },
	{ "failed-at", T_TIME, offsetof(struct rd_promote_opts, failed_at) },
	{ "allow-partial", T_FLAG, offsetof(struct rd_promote_opts, allow_partial) },
	{ "verify", T_VERIFY, offsetof(struct rd_promote_opts, quick_verify) },
	{ "check-timeout", T_SECS, offsetof(struct rd_promote_opts, check_timeout) },
	{ "hook-timeout", T_SECS, offsetof(struct rd_promote_opts, hook_timeout) },
	{ "probe-timeout", T_SECS, offsetof(struct rd_promote_opts, probe_timeout) },
	{ "etcd", T_STR, offsetof(struct rd_promote_opts, etcd) },
	{ "cluster", T_STR, offsetof(struct rd_promote_opts, cluster) },
	{ "etcd-timeout", T_SECS, offsetof(struct rd_promote_opts, etcd_timeout) },
	{ "switchover", T_FLAG, offsetof(struct rd_promote_opts, switchover) },
	{ "primary-stop", T_STR, offsetof(struct rd_promote_opts, primary_stop) },
	{ "final-snapshot", T_STR, offsetof(struct rd_promote_opts, final_snapshot) },
};
/* clang-format on */
#define NOPTS (sizeof(optdefs) / sizeof(optdefs[0]))

#define FIELD(o, d, type) ((type *)(void *)((char *)(o) + (d)->off))
#define CFIELD(o, d, type)                                                     \
	((const type *)(const void *)((const char *)(o) + (d)->off))

/*
 * The text of option "d" of "o" into "buf", or NULL when it is at its
 * unset value (a NULL string, a flag or snapshot 0, no failure time).
 */
static const char *
opt_text(const struct rd_promote_opts *o, const struct optdef *d, char *buf,
    size_t len)
{
	switch (d->type) {
	case T_STR:
		return *(const char *const *)(const void *)((const char *)o +
		    d->off);
	case T_FLAG:
		return *CFIELD(o, d, int) ? "1" : NULL;
	case T_VERIFY:
		return *CFIELD(o, d, int) ? "quick" : "full";
	case T_I64:
		if (*CFIELD(o, d, int64_t) == 0)
			return NULL;
		snprintf(buf, len, "%lld", (long long)*CFIELD(o, d, int64_t));
		return buf;
	default:
		if (d->type == T_TIME && *CFIELD(o, d, double) == 0)
			return NULL;
		snprintf(buf, len, "%.17g", *CFIELD(o, d, double));
		return buf;
	}
}

int
rdi_pj_opts_save(sqlite3 *db, int64_t id, const struct rd_promote_opts *o,
    struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	char buf[64];
	const char *v;
	size_t i;
	int ret = -1;

	if (rdi_db_run(db, err,
	        "DELETE FROM promotion_options WHERE promotion = ?", "i",
	        id) == -1)
		return -1;
	if (rdi_db_prepare(db,
	        "INSERT INTO promotion_options(promotion,"
	        " name, value) VALUES (?, ?, ?)",
	        &q, err) == -1)
		goto out;
	for (i = 0; i < NOPTS; i++) {
		v = opt_text(o, &optdefs[i], buf, sizeof(buf));
		/* the etcd timeout means something only with --etcd */
		if (v == NULL ||
		    (o->etcd == NULL &&
		        optdefs[i].off ==
		            offsetof(struct rd_promote_opts, etcd_timeout)))
			continue;
		if (strlen(v) > RDI_PJ_VALUE_MAX) {
			rd_err_set(err, RD_EUSAGE,
			    "--%s is longer than %d bytes", optdefs[i].name,
			    RDI_PJ_VALUE_MAX);
			goto out;
		}
		if (rdi_db_bind(db, q, err, "itt", (int64_t)id, optdefs[i].name,
		        v) == -1 ||
		    rdi_db_step(db, q, err) == -1)
			goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

/* Parse "v" as the value of option "d" into "p".  Returns 0 or -1. */
static int
opt_parse(struct rdi_pjopts *p, const struct optdef *d, const char *v,
    struct rd_err *err)
{
	struct rd_promote_opts *o = &p->o;
	char *end;
	double x;
	long long n;

	switch (d->type) {
	case T_STR:
		if (p->nown == (int)(sizeof(p->own) / sizeof(p->own[0])))
			return -1;
		p->own[p->nown] = strdup(v);
		if (p->own[p->nown] == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		*FIELD(o, d, const char *) = p->own[p->nown++];
		return 0;
	case T_FLAG:
		if (strcmp(v, "1") != 0)
			return -1;
		*FIELD(o, d, int) = 1;
		return 0;
	case T_VERIFY:
		if (strcmp(v, "quick") != 0 && strcmp(v, "full") != 0)
			return -1;
		*FIELD(o, d, int) = strcmp(v, "quick") == 0;
		return 0;
	case T_I64:
		n = strtoll(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 1)
			return -1;
		*FIELD(o, d, int64_t) = n;
		return 0;
	default:
		x = strtod(v, &end);
		if (*v == '\0' || *end != '\0' || !isfinite(x) || x <= 0)
			return -1;
		*FIELD(o, d, double) = x;
		return 0;
	}
}

int
rdi_pj_opts_load(sqlite3 *db, int64_t id, struct rdi_pjopts *out,
    struct rd_err *err)
{
	struct rd_promote_opts def = RD_PROMOTE_OPTS_INIT;
	sqlite3_stmt *q = NULL;
	const char *name, *v;
	size_t i;
	int r, ret = -1;

	memset(out, 0, sizeof(*out));
	out->o = def;
	if (rdi_db_query(db, &q, err,
	        "SELECT name, value FROM promotion_options"
	        " WHERE promotion = ? ORDER BY name",
	        "i", id) == -1)
		return -1;
	while ((r = rdi_db_step(db, q, err)) == 1) {
		name = (const char *)sqlite3_column_text(q, 0);
		v = (const char *)sqlite3_column_text(q, 1);
		for (i = 0; name != NULL && i < NOPTS; i++)
			if (strcmp(name, optdefs[i].name) == 0)
				break;
		if (name == NULL || v == NULL || i == NOPTS ||
		    strlen(v) > RDI_PJ_VALUE_MAX) {
			rd_err_set(err, RD_ECORRUPT,
			    "promotion %lld has an unknown option in its journal",
			    (long long)id);
			goto out;
		}
		if (opt_parse(out, &optdefs[i], v, err) == -1) {
			if (err->code == RD_OK)
				rd_err_set(err, RD_ECORRUPT,
				    "promotion %lld has an invalid --%s in its journal",
				    (long long)id, optdefs[i].name);
			goto out;
		}
	}
	if (r == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

void
rdi_pj_opts_release(struct rdi_pjopts *p)
{
	int i;

	for (i = 0; i < p->nown; i++)
		free(p->own[i]);
	p->nown = 0;
}

int
rdi_pj_opts_diff(const struct rd_promote_opts *a,
    const struct rd_promote_opts *b, char *name, size_t len)
{
	char ba[64], bb[64];
	const char *va, *vb;
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		va = opt_text(a, &optdefs[i], ba, sizeof(ba));
		vb = opt_text(b, &optdefs[i], bb, sizeof(bb));
		if ((va == NULL) != (vb == NULL) ||
		    (va != NULL && strcmp(va, vb) != 0)) {
			snprintf(name, len, "%s", optdefs[i].name);
			return 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Promotions and steps */

int
rdi_pj_create(sqlite3 *db, const struct rdi_pjrow *row,
    const struct rd_promote_opts *o, int64_t *id, struct rd_err *err)
{
	int ret = -1;

	if (rdi_db_exec(db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (rdi_db_run(db, err,
	        "INSERT INTO promotions(kind, version, target,"
	        " staging, started, state) VALUES (?, ?, ?, ?, ?, 'running')",
	        "tittd", row->drill ? "drill" : "promote",
	        (int64_t)row->version, row->target, row->staging,
	        row->started) == -1)
		goto out;
	*id = sqlite3_last_insert_rowid(db);
	if (rdi_pj_opts_save(db, *id, o, err) == -1 ||
	    rdi_db_exec(db, "COMMIT", err) == -1)
		goto out;
	ret = 0;
out:
	if (ret == -1)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return ret;
}

int
rdi_pj_open(sqlite3 *db, struct rdi_pjrow *row, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	const unsigned char *t;
	int r;

	memset(row, 0, sizeof(*row));
	if (rdi_db_prepare(db,
	        "SELECT id, kind, target, version, started,"
	        " aside, replica, epoch, staging, validated, state,"
	        " EXISTS (SELECT 1 FROM promotion_options o"
	        "  WHERE o.promotion = p.id)"
	        " FROM promotions p WHERE state = 'running'"
	        " ORDER BY id DESC LIMIT 1",
	        &q, err) == -1)
		return -1;
	r = rdi_db_step(db, q, err);
	if (r == 1) {
		row->id = sqlite3_column_int64(q, 0);
		t = sqlite3_column_text(q, 1);
		row->drill = t != NULL && strcmp((const char *)t, "drill") == 0;
		rdi_column_copy(q, 2, row->target, sizeof(row->target), "");
		row->version = sqlite3_column_int64(q, 3);
		row->started = sqlite3_column_double(q, 4);
		rdi_column_copy(q, 5, row->aside, sizeof(row->aside), "");
		rdi_column_copy(q, 6, row->replica, sizeof(row->replica), "");
		row->epoch_raised = sqlite3_column_type(q, 7) != SQLITE_NULL;
		rdi_column_copy(q, 8, row->staging, sizeof(row->staging), "");
		row->validated = sqlite3_column_type(q, 9) == SQLITE_NULL
		    ? -1
		    : sqlite3_column_int(q, 9) != 0;
		rdi_column_copy(q, 10, row->state, sizeof(row->state), "");
		row->has_options = sqlite3_column_int(q, 11);
	}
	sqlite3_finalize(q);
	return r;
}

int
rdi_pj_steps(sqlite3 *db, int64_t id, int done[RD_PROMOTE_NSTEPS],
    int begun[RD_PROMOTE_NSTEPS], struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	const unsigned char *t, *oc;
	int k, r;

	memset(done, 0, RD_PROMOTE_NSTEPS * sizeof(done[0]));
	memset(begun, 0, RD_PROMOTE_NSTEPS * sizeof(begun[0]));
	if (rdi_db_query(db, &q, err,
	        "SELECT step, outcome FROM promotion_steps"
	        " WHERE promotion = ?",
	        "i", id) == -1)
		return -1;
	while ((r = rdi_db_step(db, q, err)) == 1) {
		t = sqlite3_column_text(q, 0);
		oc = sqlite3_column_text(q, 1);
		for (k = 0; t != NULL && k < RD_PROMOTE_NSTEPS; k++) {
			if (strcmp((const char *)t, rd_promote_step_name(k)) !=
			    0)
				continue;
			begun[k] = 1;
			done[k] =
			    oc != NULL && strcmp((const char *)oc, "ok") == 0;
		}
	}
	sqlite3_finalize(q);
	return r == -1 ? -1 : 0;
}

int
rdi_pj_step_begin(sqlite3 *db, int64_t id, int step, struct rd_err *err)
{
	const char *name = rd_promote_step_name(step);

	if (rdi_db_run(db, err,
	        "INSERT INTO promotion_steps(promotion, step,"
	        " started) VALUES (?1, ?2, ?3) ON CONFLICT(promotion, step) DO"
	        " UPDATE SET started = ?3, finished = NULL, outcome = NULL,"
	        " detail = NULL",
	        "itd", id, name, rd_now()) == -1)
		return -1;
	return rdi_db_run(db, err,
	    "UPDATE promotions SET step = ?2 WHERE id = ?1", "it", id, name);
}

int
rdi_pj_step_end(sqlite3 *db, int64_t id, int step, const char *outcome,
    const char *detail, struct rd_err *err)
{
	return rdi_db_run(db, err,
	    "UPDATE promotion_steps SET finished = ?, outcome = ?,"
	    " detail = ? WHERE promotion = ? AND step = ?",
	    "dttit", rd_now(), outcome, detail != NULL ? detail : "", id,
	    rd_promote_step_name(step));
}

/* 1 if "col" is a column of promotions that the steps may set. */
static int
settable(const char *col)
{
	static const char *const cols[] = { "step", "staging", "replica",
		"aside", "epoch", "rto", "rpo", "validated", "failed_at",
		"data_time", "given_up", "version" };
	size_t i;

	for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		if (strcmp(col, cols[i]) == 0)
			return 1;
	return 0;
}

/* The UPDATE that sets column "col" (?1) of promotion ?2, in "sql". */
static int
col_sql(const char *col, char sql[96], struct rd_err *err)
{
	if (!settable(col))
		return rd_err_set(err, RD_EINTERNAL,
		    "promotions has no settable column '%s'", col);
	snprintf(sql, 96, "UPDATE promotions SET %s = ?1 WHERE id = ?2", col);
	return 0;
}

int
rdi_pj_set_text(sqlite3 *db, int64_t id, const char *col, const char *text,
    struct rd_err *err)
{
	char sql[96];

	if (col_sql(col, sql, err) == -1)
		return -1;
	return rdi_db_run(db, err, sql, "ti", text, id);
}

int
rdi_pj_set_real(sqlite3 *db, int64_t id, const char *col, double v, int isnull,
    struct rd_err *err)
{
	char sql[96];

	if (col_sql(col, sql, err) == -1)
		return -1;
	return isnull ? rdi_db_run(db, err, sql, "ni", id)
	              : rdi_db_run(db, err, sql, "di", v, id);
}

int
rdi_pj_set_int(sqlite3 *db, int64_t id, const char *col, int64_t v, int isnull,
    struct rd_err *err)
{
	char sql[96];

	if (col_sql(col, sql, err) == -1)
		return -1;
	return isnull ? rdi_db_run(db, err, sql, "ni", id)
	              : rdi_db_run(db, err, sql, "ii", v, id);
}

int
rdi_pj_finish(sqlite3 *db, int64_t id, const char *state, const char *message,
    struct rd_err *err)
{
	return rdi_db_run(db, err,
	    "UPDATE promotions SET state = ?2, message = ?3,"
	    " finished = ?4 WHERE id = ?1",
	    "ittd", id, state, message, rd_now());
}

int
rdi_pj_event(sqlite3 *db, int64_t id, const char *event, const char *detail,
    struct rd_err *err)
{
	return rdi_db_run(db, err,
	    "INSERT INTO promotion_events(promotion, time,"
	    " event, detail) VALUES (?1, ?4, ?2, ?3)",
	    "ittd", id, event, detail, rd_now());
}

int
rdi_pj_fall_back(sqlite3 *db, int64_t id, int64_t from, int64_t to,
    const char *why, const char *keep, struct rd_err *err)
{
	char detail[1200];
	int i;

	snprintf(detail, sizeof(detail), "from snapshot %lld to %lld: %.1100s",
	    (long long)from, (long long)to, why);
	if (rdi_db_exec(db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (rdi_pj_set_int(db, id, "version", to, 0, err) == -1 ||
	    rdi_pj_set_int(db, id, "validated", 0, 1, err) == -1 ||
	    rdi_pj_set_text(db, id, "replica", NULL, err) == -1 ||
	    rdi_pj_event(db, id, "fall-back", detail, err) == -1)
		goto fail;
	if (keep != NULL &&
	    rdi_pj_tree_add(db, id, keep, "pre-promote", from, "planned",
	        err) == -1)
		goto fail;
	for (i = RDI_S_MATERIALIZE; i < RD_PROMOTE_NSTEPS; i++)
		if (rdi_db_run(db, err,
		        "DELETE FROM promotion_steps WHERE promotion = ?1"
		        " AND step = ?2",
		        "it", id, rd_promote_step_name(i)) == -1)
			goto fail;
	if (rdi_db_exec(db, "COMMIT", err) == -1)
		goto fail;
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int
rdi_pj_last_failure(sqlite3 *db, int64_t id, char *buf, size_t len,
    struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r;

	buf[0] = '\0';
	if (rdi_db_query(db, &q, err,
	        "SELECT step || ': ' || detail FROM promotion_steps"
	        " WHERE promotion = ? AND outcome = 'failed'"
	        " ORDER BY finished DESC LIMIT 1",
	        "i", id) == -1)
		return -1;
	r = rdi_db_step(db, q, err);
	if (r == 1)
		rdi_column_copy(q, 0, buf, len, "");
	sqlite3_finalize(q);
	return r == -1 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* Kept trees */

int
rdi_pj_tree_add(sqlite3 *db, int64_t id, const char *path, const char *kind,
    int64_t snapshot, const char *state, struct rd_err *err)
{
	/* a snapshot of 0 is none: NULL */
	return rdi_db_run(db, err,
	    "INSERT INTO promotion_trees(path, promotion,"
	    " kind, snapshot, created, state)"
	    " VALUES (?, ?, ?, NULLIF(?, 0), ?, ?)",
	    "titidt", path, id, kind, snapshot < 0 ? (int64_t)0 : snapshot,
	    rd_now(), state);
}

int
rdi_pj_tree_set(sqlite3 *db, int64_t id, const char *oldpath, const char *path,
    const char *state, struct rd_err *err)
{
	return rdi_db_run(db, err,
	    "UPDATE promotion_trees SET path = ?1, state = ?2,"
	    " removed = CASE WHEN ?2 = 'removed' THEN ?3 END"
	    " WHERE promotion = ?4 AND path = ?5 AND state <> 'removed'",
	    "ttdit", path, state, rd_now(), id, oldpath);
}

int
rdi_pj_tree_planned(sqlite3 *db, int64_t id, const char *kind, char *path,
    size_t len, int64_t *snapshot, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r;

	if (rdi_db_query(db, &q, err,
	        "SELECT path, snapshot FROM promotion_trees"
	        " WHERE promotion = ? AND kind = ? AND state = 'planned'"
	        " ORDER BY id DESC LIMIT 1",
	        "it", id, kind) == -1)
		return -1;
	r = rdi_db_step(db, q, err);
	if (r == 1) {
		rdi_column_copy(q, 0, path, len, "");
		*snapshot = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	return r;
}

int
rdi_pj_tree_find(sqlite3 *db, const char *path, int64_t *promotion, char *kind,
    size_t kindlen, char *state, size_t statelen, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r;

	if (rdi_db_query(db, &q, err,
	        "SELECT promotion, kind, state FROM promotion_trees"
	        " WHERE path = ? ORDER BY id DESC LIMIT 1",
	        "t", path) == -1)
		return -1;
	r = rdi_db_step(db, q, err);
	if (r == 1) {
		*promotion = sqlite3_column_int64(q, 0);
		rdi_column_copy(q, 1, kind, kindlen, "");
		rdi_column_copy(q, 2, state, statelen, "");
	}
	sqlite3_finalize(q);
	return r;
}

/* ------------------------------------------------------------------ */
/* History */

/* Fill "p" from a row of the history query. */
static void
history_row(sqlite3_stmt *q, struct rd_promotion *p)
{
	const unsigned char *t;

	memset(p, 0, sizeof(*p));
	p->id = sqlite3_column_int64(q, 0);
	t = sqlite3_column_text(q, 1);
	p->drill = t != NULL && strcmp((const char *)t, "drill") == 0;
	p->version = sqlite3_column_int64(q, 2);
	rdi_column_copy(q, 3, p->target, sizeof(p->target), "");
	p->started = sqlite3_column_double(q, 4);
	p->finished = sqlite3_column_double(q, 5);
	rdi_column_copy(q, 6, p->state, sizeof(p->state), "");
	p->epoch = sqlite3_column_int64(q, 8);
	p->has_rto = sqlite3_column_type(q, 9) != SQLITE_NULL;
	p->rto = sqlite3_column_double(q, 9);
	p->rpo = sqlite3_column_double(q, 10);
	rdi_column_copy(q, 11, p->message, sizeof(p->message), "");
	rdi_column_copy(q, 12, p->aside, sizeof(p->aside), "");
	p->validated = sqlite3_column_type(q, 13) == SQLITE_NULL
	    ? -1
	    : sqlite3_column_int(q, 13) != 0;
	p->failed_at = sqlite3_column_double(q, 14);
	p->given_up = sqlite3_column_type(q, 15) == SQLITE_NULL
	    ? -1
	    : sqlite3_column_double(q, 15);
}

/* The steps of "p", in the order of the steps.  Returns 0 or -1. */
static int
history_steps(sqlite3 *db, sqlite3_stmt *sq, struct rd_promotion *p,
    struct rd_err *err)
{
	struct rd_promotion_step *ps;
	int k, r;

	for (k = 0; k < RD_PROMOTE_NSTEPS; k++) {
		r = rdi_db_bind(db, sq, err, "it", (int64_t)p->id,
		    rd_promote_step_name(k));
		if (r == 0)
			r = rdi_db_step(db, sq, err);
		if (r == -1)
			return -1;
		if (r == 0)
			continue;
		ps = &p->steps[p->nsteps++];
		snprintf(ps->name, sizeof(ps->name), "%s",
		    rd_promote_step_name(k));
		ps->started = sqlite3_column_double(sq, 0);
		ps->finished = sqlite3_column_double(sq, 1);
		rdi_column_copy(sq, 2, ps->outcome, sizeof(ps->outcome),
		    "running");
		rdi_column_copy(sq, 3, ps->detail, sizeof(ps->detail), "");
	}
	return 0;
}

int
rd_promote_history(struct rd_store *st,
    int (*fn)(void *arg, const struct rd_promotion *p), void *arg,
    struct rd_err *err)
{
	sqlite3_stmt *q = NULL, *sq = NULL;
	struct rd_promotion *p;
	int r, ret = -1;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (rdi_db_prepare(st->db,
	        "SELECT id, kind, version, target, started,"
	        " finished, state, step, epoch, rto, rpo, message, aside,"
	        " validated, failed_at, given_up"
	        " FROM promotions ORDER BY id",
	        &q, err) == -1 ||
	    rdi_db_prepare(st->db,
	        "SELECT started, finished, outcome, detail"
	        " FROM promotion_steps WHERE promotion = ? AND step = ?",
	        &sq, err) == -1)
		goto out;
	while ((r = rdi_db_step(st->db, q, err)) == 1) {
		history_row(q, p);
		if (history_steps(st->db, sq, p, err) == -1)
			goto out;
		r = fn(arg, p);
		if (r != 0) {
			ret = r;
			goto out;
		}
	}
	if (r == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(q);
	sqlite3_finalize(sq);
	free(p);
	return ret;
}

/* Call "fn" for the rows of "sql" (bound to "id" unless 0) as "kind". */
static int
items_of(struct rd_store *st, const char *sql, int64_t id, int kind,
    int (*fn)(void *arg, const struct rd_promote_item *it), void *arg,
    struct rd_err *err)
{
	struct rd_promote_item it;
	sqlite3_stmt *q = NULL;
	int r, ret = -1;

	if (rdi_db_prepare(st->db, sql, &q, err) == -1)
		return -1;
	if (id != 0 && rdi_db_bind(st->db, q, err, "i", (int64_t)id) == -1) {
		sqlite3_finalize(q);
		return -1;
	}
	while ((r = rdi_db_step(st->db, q, err)) == 1) {
		memset(&it, 0, sizeof(it));
		it.kind = kind;
		it.promotion = sqlite3_column_int64(q, 0);
		it.name = (const char *)sqlite3_column_text(q, 1);
		it.value = (const char *)sqlite3_column_text(q, 2);
		it.time = sqlite3_column_double(q, 3);
		it.snapshot = sqlite3_column_int64(q, 4);
		it.state = (const char *)sqlite3_column_text(q, 5);
		if (it.name == NULL)
			it.name = "";
		if (it.value == NULL)
			it.value = "";
		if (it.state == NULL)
			it.state = "";
		it.exists = kind == RD_PITEM_TREE && rdi_pt_exists(it.name);
		r = fn(arg, &it);
		if (r != 0) {
			ret = r;
			goto out;
		}
	}
	if (r == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

int
rd_promote_items(struct rd_store *st, int64_t id,
    int (*fn)(void *arg, const struct rd_promote_item *it), void *arg,
    struct rd_err *err)
{
	int r;

	if (id == 0)
		return items_of(st,
		    "SELECT promotion, path, kind, created, snapshot, state"
		    " FROM promotion_trees WHERE state <> 'removed' ORDER BY id",
		    0, RD_PITEM_TREE, fn, arg, err);
	r = items_of(st,
	    "SELECT promotion, name, value, 0, 0, NULL"
	    " FROM promotion_options WHERE promotion = ?1 ORDER BY name",
	    id, RD_PITEM_OPTION, fn, arg, err);
	if (r == 0)
		r = items_of(st,
		    "SELECT promotion, event, detail, time, 0, NULL"
		    " FROM promotion_events WHERE promotion = ?1 ORDER BY id",
		    id, RD_PITEM_EVENT, fn, arg, err);
	if (r == 0)
		r = items_of(st,
		    "SELECT promotion, path, kind, created, snapshot, state"
		    " FROM promotion_trees WHERE promotion = ?1 ORDER BY id",
		    id, RD_PITEM_TREE, fn, arg, err);
	return r;
}
