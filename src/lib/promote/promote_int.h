/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * promote_int.h: what the files of rdpromote's library share: the
 * promotion journal in the catalog (promote_journal.c) and the trees a
 * promotion makes, moves and keeps (promote_tree.c).  promote.c runs the
 * steps with them.
 */
#ifndef PROMOTE_INT_H
#define PROMOTE_INT_H

#include "rd_int.h"
#include "cluster/cluster_int.h"

/* The steps, in order; rd_promote_step_name() gives their names. */
enum {
	RDI_S_PREFLIGHT,
	RDI_S_HANDOVER, /* a switchover only: the primary's last snapshot */
	RDI_S_FENCE,
	RDI_S_MATERIALIZE,
	RDI_S_VERIFY,
	RDI_S_VALIDATE,
	RDI_S_SWITCH,
	RDI_S_START,
	RDI_S_CHECK,
	RDI_S_RECORD
};

/* The longest command or probe a journal keeps (bytes). */
#define RDI_PJ_VALUE_MAX 8192

/* ------------------------------------------------------------------ */
/* promote_journal.c: the tables promotions, promotion_steps,
 * promotion_options, promotion_events and promotion_trees */

/* A row of promotions, as much as the steps need. */
struct rdi_pjrow {
	int64_t id;
	int drill;
	int64_t version;
	char target[1024];
	char staging[1100];
	char aside[1100];   /* the original target, kept aside, or "" */
	char replica[1100]; /* the warm replica moved into place, or "" */
	double started;
	int epoch_raised; /* the fence step raised the epoch */
	int validated;    /* -1 not run, 0 failed, 1 passed */
	int has_options;  /* promotion_options has rows for it */
	char state[16];
};

/*
 * Options read back from a journal: "o" points into strings that
 * "own" holds until rdi_pj_opts_release().
 */
struct rdi_pjopts {
	struct rd_promote_opts o;
	char *own[12];
	int nown;
};

/*
 * Journal a new promotion (row->drill, version, target, staging,
 * started) and its options "o", in one transaction; "*id" gets its id.
 * Returns 0 or -1.
 */
int rdi_pj_create(sqlite3 *db, const struct rdi_pjrow *row,
    const struct rd_promote_opts *o, int64_t *id, struct rd_err *err);

/*
 * The unfinished (running) promotion or drill, the newest if there were
 * several.  Returns 1 with "row" filled, 0 if there is none, -1.
 */
int rdi_pj_open(sqlite3 *db, struct rdi_pjrow *row, struct rd_err *err);

/* Write the options of promotion "id" (replacing any).  Returns 0 or -1. */
int rdi_pj_opts_save(sqlite3 *db, int64_t id, const struct rd_promote_opts *o,
    struct rd_err *err);

/*
 * Read the options of promotion "id" over RD_PROMOTE_OPTS_INIT into
 * "out" (release it even on failure).  An unknown option or an invalid
 * value is RD_ECORRUPT.  Returns 0 or -1.
 */
int rdi_pj_opts_load(sqlite3 *db, int64_t id, struct rdi_pjopts *out,
    struct rd_err *err);
void rdi_pj_opts_release(struct rdi_pjopts *p);

/*
 * Compare the journaled options of "a" and "b" (not the callbacks, the
 * dry run or resume flags).  Returns 0 if equal, else 1 with the name of
 * the first that differs in "name".
 */
int rdi_pj_opts_diff(const struct rd_promote_opts *a,
    const struct rd_promote_opts *b, char *name, size_t len);

/*
 * The steps of promotion "id" that completed ("done", outcome ok) and
 * that began at all ("begun"), indexed by step.  Returns 0 or -1.
 */
int rdi_pj_steps(sqlite3 *db, int64_t id, int done[RD_PROMOTE_NSTEPS],
    int begun[RD_PROMOTE_NSTEPS], struct rd_err *err);

/* A step begins (its row is made or restarted) or ends with "outcome". */
int rdi_pj_step_begin(sqlite3 *db, int64_t id, int step, struct rd_err *err);
int rdi_pj_step_end(sqlite3 *db, int64_t id, int step, const char *outcome,
    const char *detail, struct rd_err *err);

/*
 * Set a column of promotion "id": "col" is one of step, staging,
 * replica, aside, epoch, rto, rpo, validated, failed_at, data_time,
 * given_up, version.  A NULL "text" with "isnull" stores NULL.  Returns
 * 0 or -1.
 */
int rdi_pj_set_text(sqlite3 *db, int64_t id, const char *col, const char *text,
    struct rd_err *err);
int rdi_pj_set_real(sqlite3 *db, int64_t id, const char *col, double v,
    int isnull, struct rd_err *err);
int rdi_pj_set_int(sqlite3 *db, int64_t id, const char *col, int64_t v,
    int isnull, struct rd_err *err);

/* End promotion "id" in "state" (done, failed, aborted).  Returns 0, -1. */
int rdi_pj_finish(sqlite3 *db, int64_t id, const char *state,
    const char *message, struct rd_err *err);

/* Add an event ("fall-back", "roll-back", "stop", ...).  Returns 0, -1. */
int rdi_pj_event(sqlite3 *db, int64_t id, const char *event, const char *detail,
    struct rd_err *err);

/*
 * Fall back: promotion "id" now promotes snapshot "to" instead of
 * "from"; the steps from materialize on are forgotten, what validate
 * said too, and an event says why ("why").  With "keep", the tree of
 * "from" at the target is planned to be kept there (a pre-promote
 * tree).  One transaction.  Returns 0 or -1.
 */
int rdi_pj_fall_back(sqlite3 *db, int64_t id, int64_t from, int64_t to,
    const char *why, const char *keep, struct rd_err *err);

/* The detail of the last failed step of "id" into "buf" ("" if none). */
int rdi_pj_last_failure(sqlite3 *db, int64_t id, char *buf, size_t len,
    struct rd_err *err);

/*
 * A kept tree of promotion "id": record "path" as "kind" (pre-promote,
 * rejected, drill) holding "snapshot" (0: none) in "state" (planned,
 * kept, removed, restored: moved back to the target).  rdi_pj_tree_set() moves a tree of "id" from one path
 * or state to another.  rdi_pj_tree_planned() finds the planned tree of
 * "id" of "kind", if any (1, "path" and "*snapshot" set), 0, -1.
 */
int rdi_pj_tree_add(sqlite3 *db, int64_t id, const char *path, const char *kind,
    int64_t snapshot, const char *state, struct rd_err *err);
int rdi_pj_tree_set(sqlite3 *db, int64_t id, const char *oldpath,
    const char *path, const char *state, struct rd_err *err);
int rdi_pj_tree_planned(sqlite3 *db, int64_t id, const char *kind, char *path,
    size_t len, int64_t *snapshot, struct rd_err *err);

/*
 * The newest kept tree at "path": its promotion, kind and state.
 * Returns 1 if the journal lists it, 0 if not, -1.
 */
int rdi_pj_tree_find(sqlite3 *db, const char *path, int64_t *promotion,
    char *kind, size_t kindlen, char *state, size_t statelen,
    struct rd_err *err);

/* ------------------------------------------------------------------ */
/* promote_tree.c: the trees */

/* 1 if "path" exists (not following a last symlink), else 0. */
int rdi_pt_exists(const char *path);

/*
 * Rename "from" to "to", which must not exist: never replaces anything
 * (renameat2 RENAME_NOREPLACE).  An existing "to" is RD_ECANTCREAT; a
 * file system that cannot promise it is RD_EUNAVAIL.  Returns 0 or -1.
 */
int rdi_pt_rename(const char *from, const char *to, struct rd_err *err);

/*
 * The name under which to keep a tree of "target": "TARGET.KIND-STAMP"
 * (UTC time "now"), with ".N" added for "attempt" N > 0.  Returns 0, or
 * -1 if it is too long.
 */
int rdi_pt_keep_name(const char *target, const char *kind, double now,
    int attempt, char *out, size_t len, struct rd_err *err);

/*
 * The space a restore of snapshot "id" needs on a file system of block
 * size "bsize": the blocks of its files and directories ("*bytes") and
 * its entries ("*files").  Returns 0 or -1.
 */
int rdi_pt_need(struct rd_store *st, int64_t id, int64_t bsize, double *bytes,
    int64_t *files, struct rd_err *err);

/* The absolute form of "path", whose parent must exist, into "out". */
int rdi_pt_absolute(const char *path, char *out, size_t len,
    struct rd_err *err);

/* fsync the directory that holds "path".  Returns 0 or -1. */
int rdi_pt_sync_parent(const char *path, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* promote.c, promote_check.c, promote_abort.c: a promotion under way */

/* The checks of the preflight, in order (the dry run runs them all). */
enum {
	RDI_CK_JOURNAL,
	RDI_CK_SNAPSHOT,
	RDI_CK_ROLE,
	RDI_CK_TARGET,
	RDI_CK_PARTIAL, /* from here on inside the journaled preflight step */
	RDI_CK_SPACE,
	RDI_CK_PRIMARY,
	RDI_CK_ETCD, /* last: the claim in etcd, just before the fence */
	RDI_CK_N
};

struct rdi_pctx {
	struct rd_store *st;
	struct rd_promote_opts o; /* in effect: the journal's on resume */
	const struct rd_promote_opts *cli; /* as given */
	struct rdi_pjopts jo;              /* the journal's, owned */
	struct rd_promote_result *res;
	struct rd_snapinfo si; /* the snapshot, once the check found it */
	int have_si;
	struct rdi_pjrow row; /* the unfinished promotion, if "has_open" */
	int has_open;
	int blocked;     /* another unfinished promotion: refused */
	int resumed;     /* continuing "row" */
	int64_t fall_to; /* fall back to this snapshot (resume --snapshot) */
	int64_t id;      /* promotions.id */
	double t0;       /* start of the promotion (first run) */
	char target_arg[1024]; /* as given, for messages */
	char target[1024];     /* absolute, at most 1000 bytes */
	char staging[1100];
	char replica[1100]; /* the warm replica moved or to move, or "" */
	char store_abs[1024];
	char preflight[1024]; /* what the preflight checks found */
	int epoch_raised;
	int64_t claim_epoch; /* the epoch the etcd claim gave, or 0 */
	int done[RD_PROMOTE_NSTEPS];
	int begun[RD_PROMOTE_NSTEPS];
	double up_at;    /* when the check step ended: the service is up */
	int stop_failed; /* the switchover's --primary-stop failed */
};

/* Start "c" for a promotion of "st" with "o", results in "res". */
void rdi_pc_init(struct rdi_pctx *c, struct rd_store *st,
    const struct rd_promote_opts *o, struct rd_promote_result *res);

/* Continue the unfinished promotion "c->row": its options (if the
 * journal has them), paths and state.  Returns 0 or -1. */
int rdi_pc_adopt(struct rdi_pctx *c, struct rd_err *err);

/* Report a step ("outcome" ok, failed, done, plan) to the caller. */
void rdi_pc_say(struct rdi_pctx *c, int step, const char *outcome, double secs,
    const char *fmt, ...) RD_PRINTF(5, 6);

/*
 * Run the checks "from" up to "to" (RDI_CK_*).  In a dry run each is
 * reported, all run, and the first failure is returned; else the first
 * failure stops them.  "c->preflight" gets the details of those from
 * RDI_CK_PARTIAL on.  Returns 0, 1 (refused: res->message), -1.
 */
/*
 * Claim the cluster in etcd for this store (with "dry_run", only read):
 * "c->claim_epoch" gets the epoch to take.  Returns 0 with what etcd
 * says in res->message, or 1 refused (res->message, res->refused_code
 * RD_EPERM or RD_EUNAVAIL).
 */
int rdi_pc_claim(struct rdi_pctx *c, int dry_run, struct rd_err *err);

int rdi_pc_checks(struct rdi_pctx *c, int from, int to, struct rd_err *err);

/*
 * Run "cmd" as a hook (rd_hook_run: RDPROMOTE_* in its environment,
 * RDPROMOTE_COPY too when "copy" is not NULL, killed after the hook
 * timeout).  Returns 0 if it exited 0, 1 if not ("why" says how), -1 if
 * it could not be run.
 */
int rdi_pc_hook(struct rdi_pctx *c, const char *cmd, const char *copy,
    char *why, size_t whylen, struct rd_err *err);

/*
 * Run the --stop command if the start step began ("when" says why, for
 * the journal).  Returns 0 (stopped, or nothing to stop), 1 (it failed:
 * res->message says so), -1.
 */
int rdi_pc_stop(struct rdi_pctx *c, const char *when, struct rd_err *err);

/*
 * Move "from" aside as a kept tree of "kind" (pre-promote, rejected,
 * drill) holding "snapshot" (0: not a snapshot): a tree that the
 * journal planned for it is used, else a free name
 * TARGET.KIND-TIMESTAMP is chosen; never replaces anything.  The first
 * pre-promote tree without a snapshot is the promotion's "aside".  "out"
 * gets the path.  Returns 0 or -1.
 */
int rdi_pc_keep(struct rdi_pctx *c, const char *from, const char *kind,
    int64_t snapshot, char *out, size_t len, struct rd_err *err);

/* Find a clean warm replica of the snapshot c->res->version on the
 * target's file system: its path into "out" ("" if none; drills use
 * none).  Returns 0 or -1. */
int rdi_pc_find_replica(struct rdi_pctx *c, char *out, size_t len,
    struct rd_err *err);

/* Give the staging tree back to the warm replica it came from, or
 * remove it.  Returns 0 or -1. */
int rdi_pc_release_staging(struct rdi_pctx *c, struct rd_err *err);

/* 1 if the target holds the promoted tree: the switch happened. */
int rdi_pc_switched(const struct rdi_pctx *c);

/*
 * Fall back from the snapshot of the unfinished promotion to
 * c->fall_to: stop the service if it was started, give back or remove
 * the staging tree, and journal the change (the tree at the target, if
 * switched, is planned to be kept aside).  Returns 0, 1, -1.
 */
int rdi_pc_fall_back(struct rdi_pctx *c, struct rd_err *err);

/* Probe "spec" once: 1 up, 0 down ("why" says why), -1 error. */
int rdi_pc_probe(struct rdi_pctx *c, const char *spec, char *why, size_t whylen,
    struct rd_err *err);

/* The newest complete snapshot older than "id", or 0.  -1 on error. */
int64_t rdi_pc_older(struct rd_store *st, int64_t id, struct rd_err *err);

/* Lower the epoch that promotion c->id raised, if it still holds. */
int rdi_pc_lower_epoch(struct rdi_pctx *c, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* promote_handover.c: the switchover's handover step */

/*
 * The handover (--switchover): stop the primary's writers, run the final
 * snapshot command with the store unlocked so that its push lands, and
 * confirm that this standby now holds the primary's newest snapshot,
 * labelled "c->res->final_label"; that snapshot is the one promoted.
 * Returns 0, 1 (refused: res->message, nothing changed here), -1.
 */
int rdi_pc_handover(struct rdi_pctx *c, struct rd_err *err);

/* What the handover plans (dry run) and did, into "b" ("n" bytes). */
void rdi_pc_handover_plan(struct rdi_pctx *c, char *b, size_t n);
void rdi_pc_handover_did(struct rdi_pctx *c, char *b, size_t n);

/*
 * Set "c->res"'s switchover members: the final snapshot's label, and
 * when the handover began (the journal's, on a resume after it).
 * Returns 0 or -1.
 */
int rdi_pc_handover_init(struct rdi_pctx *c, struct rd_err *err);

#endif /* PROMOTE_INT_H */
