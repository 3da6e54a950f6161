/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snap.c: taking a snapshot, the run from start to end.
 *
 * rd_snap_create opens the source and a pending snapshot in one
 * transaction, starts the workers (workers.c), walks the source merged
 * with the newest snapshot (walk.c), adds the bracket's files
 * (scratch.c), seals the packs and commits the catalog (record.c) after
 * every pack it refers to is durable; only then is the snapshot visible.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "snap_int.h"

void
snap_notice(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rdi_vnotice(c->opts->notice, c->opts->notice_arg, fmt, ap);
	va_end(ap);
}

static void
ctx_init(struct ctx *c, struct rd_store *st, const struct rd_snap_opts *opts)
{
	memset(c, 0, sizeof(*c));
	c->st = st;
	c->opts = opts;
	c->xa_flags = (opts->no_xattrs ? RDI_XA_NO_XATTRS : 0) |
	    (opts->no_acls ? RDI_XA_NO_ACLS : 0);
	c->rootfd = -1;
	c->xfd = -1;
	c->chain_max = st->info.chain_max;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv_job, NULL);
	pthread_cond_init(&c->cv_main, NULL);
}

/* Whether this run may take a snapshot into the store at all. */
static int
check_store(const struct rd_store *st, struct rd_err *err)
{
	if (st->mode != RD_OPEN_WRITE)
		return rd_err_set(err, RD_EINTERNAL,
		    "store is not open for writing");
	if (st->info.standby)
		return rd_err_set(err, RD_EPERM,
		    "store '%s' is a standby: it takes snapshots only from rdship (promote it first)",
		    st->path);
	return 0;
}

/* Open the source directory "source" as c->rootfd; "sb" gets its stat. */
static int
open_source_root(struct ctx *c, const char *source, struct stat *sb,
    struct rd_err *err)
{
	c->rootfd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd == -1) {
		if (errno == ENOENT)
			return rd_err_set(err, RD_ENOENT,
			    "cannot open source '%s': No such file or directory",
			    source);
		return rd_err_sys(err, RD_EIO, "cannot open source '%s'",
		    source);
	}
	if (fstat(c->rootfd, sb) == -1)
		return rd_err_sys(err, RD_EIO, "cannot stat source '%s'",
		    source);
	c->root_dev = sb->st_dev;
	return 0;
}

/*
 * Make the pending snapshot row ("*pending" set once it is there), open
 * the transaction ("*in_txn") and the statements, and read the first
 * entry of the newest snapshot.
 */
static int
begin(struct ctx *c, const char *source, int *pending, int *in_txn,
    struct rd_err *err)
{
	struct rd_store *st = c->st;

	if (snap_new_pending(c, source, err) == -1)
		return -1;
	*pending = 1;
	c->info.id = c->snap_id;
	c->info.started = (int64_t)rd_now();
	if (rdi_db_exec(st->db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	*in_txn = 1;
	if (snap_prepare_all(c, err) == -1 ||
	    rdi_next_pack_id(st, &c->next_pack, err) == -1 ||
	    snap_cursor_next(c, err) == -1)
		return -1;
	c->first_pack = c->next_pack;
	return 0;
}

/*
 * The walk is done: wait for the workers, add the bracket's files, seal
 * the packs and complete the snapshot row.  The caller commits.
 */
static int
finish(struct ctx *c, struct worker *w, int nw, double t0, struct rd_err *err)
{
	if (snap_wait_all(c, err) == -1)
		return -1;
	if (c->bk != NULL &&
	    (snap_bracket_files(c, err) == -1 ||
	        rdi_bracket_cleanup(c->bk, err) == -1))
		return -1;
	snap_workers_stop(c, w, nw);
	if (snap_seal_packs(c, w, nw, err) == -1)
		return -1;
	c->info.seconds = rd_monotonic() - t0;
	return snap_complete(c, c->info.seconds, err);
}

/*
 * Free what the run "c" holds; a failed run ("in_txn", "pending") rolls
 * its transaction back and removes its pending snapshot row.
 */
static void
ctx_release(struct ctx *c, int in_txn, int pending)
{
	size_t i;

	/* after the workers: they may be reading its files */
	rdi_bracket_free(c->bk);
	snap_prev_release(&c->cur_prev);
	snap_finalize_all(c);
	if (in_txn)
		sqlite3_exec(c->st->db, "ROLLBACK", NULL, NULL, NULL);
	if (pending) {
		char sql[96];

		snprintf(sql, sizeof(sql),
		    "DELETE FROM snapshots WHERE id = %lld AND state = 'pending'",
		    (long long)c->snap_id);
		sqlite3_exec(c->st->db, sql, NULL, NULL, NULL);
	}
	/* a failed run's sealed packs: nothing will name them */
	for (i = 0; in_txn && i < c->npacks; i++)
		if (!c->packs[i].published)
			rdi_pack_unseal(c->st, c->packs[i].name);
	rdi_buf_release(&c->cur_path);
	free(c->set.slots);
	free(c->set.sorted);
	free(c->packs);
	free(c->known_packs);
	free(c->xp);
	free(c->xbuf);
	free(c->mp);
	free(c->mbuf);
	if (c->rootfd != -1)
		close(c->rootfd);
	pthread_cond_destroy(&c->cv_main);
	pthread_cond_destroy(&c->cv_job);
	pthread_mutex_destroy(&c->mu);
}

int
rdi_snap_create_in(struct rd_store *st, const char *source,
    const struct rd_snap_opts *opts, const struct rdi_dirty *sel,
    int *need_full, struct rd_snapinfo *info, struct rd_err *err)
{
	struct ctx c;
	struct worker *w = NULL;
	struct rdi_buf path = { NULL, 0, 0 };
	struct stat sb;
	int nw = 0, in_txn = 0, pending = 0, ret = -1;
	double t0 = rd_monotonic();

	ctx_init(&c, st, opts);
	c.sel = sel;
	if (need_full != NULL)
		*need_full = 0;
	if (check_store(st, err) == -1 ||
	    snap_compile_excludes(&c, err) == -1 ||
	    open_source_root(&c, source, &sb, err) == -1 ||
	    begin(&c, source, &pending, &in_txn, err) == -1 ||
	    snap_workers_start(&c, &w, &nw, err) == -1)
		goto out;
	if (opts->bracket != NULL &&
	    rdi_bracket_start(st, opts->bracket, opts->bracket_cwd,
	        opts->bracket_env, opts->bracket_timeout, &c.bk, err) == -1)
		goto out;
	if (snap_walk_source(&c, c.rootfd, &sb, &path, err) == -1 ||
	    finish(&c, w, nw, t0, err) == -1)
		goto out;
	/* every pack is durable: now the snapshot may become visible */
	if (rdi_db_exec(st->db, "COMMIT", err) == -1)
		goto out;
	in_txn = 0;
	pending = 0;
	if (opts->label != NULL)
		snprintf(c.info.label, sizeof(c.info.label), "%s", opts->label);
	if (info != NULL)
		*info = c.info;
	ret = 0;
out:
	if (ret == -1 && c.need_full && need_full != NULL)
		*need_full = 1;
	snap_workers_free(&c, w, nw);
	ctx_release(&c, in_txn, pending);
	rdi_buf_release(&path);
	return ret;
}

int
rd_snap_create(struct rd_store *st, const char *source,
    const struct rd_snap_opts *opts, struct rd_snapinfo *info,
    struct rd_err *err)
{
	return rdi_snap_create_in(st, source, opts, NULL, NULL, info, err);
}
