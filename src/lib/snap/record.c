/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * record.c: the catalog writes of a snapshot, all on the calling thread:
 * the pending snapshot row, entry rows, contents, signatures, packs and
 * problems, and the row that completes the snapshot.
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

/* End entry row "id" at the previous snapshot; "gone": the path is. */
int
snap_close_entry(struct ctx *c, int64_t id, int gone, struct rd_err *err)
{
	if (rdi_db_bind(c->st->db, c->close_entry, err, "ii",
	        (int64_t)(c->snap_id - 1), id) == -1 ||
	    rdi_db_step(c->st->db, c->close_entry, err) == -1)
		return -1;
	if (gone)
		c->info.removed++;
	return 0;
}

int
snap_insert_entry(struct ctx *c, const char *path, size_t plen, int type,
    const struct meta *m, const unsigned char *sha, const char *target,
    const struct rdi_buf *xa, int unstable, struct rd_err *err)
{
	sqlite3_stmt *s = c->ins_entry;

	if (rdi_db_bind(c->st->db, s, err, "biiiiiiihbiiiiib", path, plen,
	        (int64_t)c->snap_id, (int64_t)type, (int64_t)m->mode,
	        (int64_t)m->uid, (int64_t)m->gid, (int64_t)m->size,
	        (int64_t)m->mtime, sha, target,
	        target != NULL ? strlen(target) : (size_t)0, (int64_t)m->ino,
	        (int64_t)m->ctime, (int64_t)unstable, (int64_t)m->rdev,
	        (int64_t)m->link, xa != NULL && xa->len > 0 ? xa->data : NULL,
	        xa != NULL ? xa->len : (size_t)0) == -1 ||
	    rdi_db_step(c->st->db, s, err) == -1)
		return -1;
	c->info.changed++;
	return 0;
}

/* The pack row "id" (c->ins_pack: an insert or update of its size). */
static int
set_pack(struct ctx *c, int64_t id, const char *name, int64_t size,
    struct rd_err *err)
{
	if (rdi_db_bind(c->st->db, c->ins_pack, err, "iti", id, name, size) ==
	    -1)
		return -1;
	return rdi_db_step(c->st->db, c->ins_pack, err) == -1 ? -1 : 0;
}

static int
register_pack(struct ctx *c, int64_t id, const char *name, struct rd_err *err)
{
	/* this run's pack ids are allocated in order from first_pack */
	size_t i = (size_t)(id - c->first_pack), n;
	unsigned char *k;

	if (id < c->first_pack)
		return rd_err_set(err, RD_EINTERNAL,
		    "pack %lld is not of this run", (long long)id);
	if (i < c->cap_known && c->known_packs[i])
		return 0;
	if (i >= c->cap_known) {
		n = c->cap_known != 0 ? c->cap_known : 64;
		while (n <= i)
			n *= 2;
		k = realloc(c->known_packs, n);
		if (k == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		memset(k + c->cap_known, 0, n - c->cap_known);
		c->known_packs = k;
		c->cap_known = n;
	}
	c->known_packs[i] = 1;
	return set_pack(c, id, name, 0, err);
}

int
snap_meta_equal(const struct prev *p, const struct meta *m)
{
	return p->mode == m->mode && p->uid == m->uid && p->gid == m->gid &&
	    p->size == m->size && p->mtime == m->mtime && p->rdev == m->rdev &&
	    p->link == m->link;
}

int
snap_xattrs_equal(const struct prev *p, const struct rdi_buf *xa)
{
	return p->xa.len == xa->len &&
	    (xa->len == 0 || memcmp(p->xa.data, xa->data, xa->len) == 0);
}

/* An entry of the newest snapshot stays in the new one as it was. */
void
snap_count_kept(struct ctx *c, const struct prev *p)
{
	c->info.files++;
	if (p->type == RD_TYPE_FILE && p->size > 0)
		c->info.bytes += p->size;
}

static int
record_problem(struct ctx *c, const char *key, size_t klen, const char *kind,
    const char *reason, struct rd_err *err)
{
	sqlite3_stmt *s = c->ins_problem;

	if (rdi_db_bind(c->st->db, s, err, "ibtt", (int64_t)c->snap_id, key,
	        klen, kind, reason) == -1)
		return -1;
	return rdi_db_step(c->st->db, s, err) == -1 ? -1 : 0;
}

/*
 * The path "key" exists but could not be read: whatever the newest
 * snapshot held of it stays current ("what" says what that is), and the
 * snapshot is partial.  The caller has moved the cursor past it.
 */
int
snap_problem(struct ctx *c, const char *key, size_t klen, const char *what,
    const char *reason, struct rd_err *err)
{
	snap_notice(c, "'%.*s' could not be read (%s): %s", (int)klen, key,
	    reason, what);
	c->info.partial++;
	return record_problem(c, key, klen, "unreadable", reason, err);
}

/*
 * Move the cursor past every entry below the directory "key" (which ends
 * in '/') without closing them: they stay in the new snapshot as they
 * were.  "*what" says whether there were any.
 */
int
snap_keep_below(struct ctx *c, const char *key, size_t klen, const char **what,
    struct rd_err *err)
{
	*what = "its contents are " MISSING;
	while (c->cur_valid && c->cur_path.len > klen &&
	    memcmp(c->cur_path.data, key, klen) == 0) {
		*what = "kept the previous version of its contents";
		snap_count_kept(c, &c->cur_prev);
		if (snap_cursor_next(c, err) == -1)
			return -1;
	}
	return 0;
}

/*
 * The walk could not read "key" (a directory when "isdir", its key then
 * ending in '/'): keep its previous version and all below it, and say so.
 */
int
snap_unreadable(struct ctx *c, const char *key, size_t klen, int isdir,
    const char *reason, struct rd_err *err)
{
	struct prev p;
	const char *below;
	int had;

	memset(&p, 0, sizeof(p));
	had = snap_cursor_seek(c, key, klen, &p, err);
	if (had == -1)
		return -1;
	if (had)
		snap_count_kept(c, &p);
	snap_prev_release(&p);
	if (isdir && snap_keep_below(c, key, klen, &below, err) == -1)
		return -1;
	return snap_problem(c, key, klen, had ? KEPT : MISSING, reason, err);
}

/* Record a worker's result in the catalog. */
int
snap_finish_job(struct ctx *c, struct job *j, struct rd_err *err)
{
	sqlite3_stmt *s;

	if (j->status == JOB_FAIL) {
		*err = j->err;
		return -1;
	}
	if (j->extra && j->status == JOB_SKIP)
		return rd_err_set(err, RD_ECORRUPT,
		    "bracket file '%s' could not be read: %s", j->path,
		    j->err.sys_errno != 0 ? strerror(j->err.sys_errno)
		                          : "it changed type");
	if (j->extra && j->unstable)
		return rd_err_set(err, RD_ECORRUPT,
		    "bracket file '%s' kept changing while it was read",
		    j->path);
	c->info.bytes_read += j->bytes_read;
	if (j->status == JOB_SKIP && j->err.sys_errno == ENOENT) {
		/* removed since the walk saw it */
		if (j->has_prev)
			return snap_close_entry(c, j->prev.id, 1, err);
		return 0;
	}
	if (j->status == JOB_SKIP && j->has_prev)
		snap_count_kept(c, &j->prev);
	if (j->status == JOB_SKIP)
		return snap_problem(c, j->path, strlen(j->path),
		    j->has_prev ? KEPT : MISSING,
		    j->err.sys_errno != 0 ? strerror(j->err.sys_errno)
		                          : "changed type while it was read",
		    err);
	if (j->unstable) {
		snap_notice(c,
		    "'%s' kept changing while it was read; stored as last read",
		    j->path);
		c->info.inconsistent++;
		if (record_problem(c, j->path, strlen(j->path), "changing",
		        "kept changing while it was read", err) == -1)
			return -1;
	}
	c->info.files++;
	c->info.bytes += j->m.size;
	if (j->stored) {
		if (register_pack(c, j->pack_id, j->pack_name, err) == -1)
			return -1;
		s = c->ins_content;
		if (rdi_db_bind(c->st->db, s, err, "hiiihiiii", j->sha,
		        (int64_t)j->m.size, (int64_t)j->kind, (int64_t)j->codec,
		        j->kind == RDI_OBJ_DELTA ? j->base : NULL,
		        (int64_t)j->depth, (int64_t)j->pack_id, (int64_t)j->off,
		        (int64_t)j->len) == -1 ||
		    rdi_db_step(c->st->db, s, err) == -1)
			return -1;
		c->info.bytes_added += j->m.size;
		c->info.stored += j->len + RDI_OBJ_HDR;
	}
	if (j->sig_stored) {
		s = c->ins_sig;
		if (rdi_db_bind(c->st->db, s, err, "hiiii", j->sha,
		        (int64_t)j->sig_block, (int64_t)j->pack_id,
		        (int64_t)j->sig_off, (int64_t)j->sig_len) == -1 ||
		    rdi_db_step(c->st->db, s, err) == -1)
			return -1;
		c->info.stored += j->sig_len + RDI_OBJ_HDR;
	}
	if (j->has_prev && j->prev.type == RD_TYPE_FILE && j->prev.has_sha &&
	    memcmp(j->prev.sha, j->sha, RD_HASH_LEN) == 0 &&
	    snap_meta_equal(&j->prev, &j->m) &&
	    snap_xattrs_equal(&j->prev, &j->xa)) {
		/* same version: only refresh the quick-check fields */
		s = c->touch_entry;
		if (rdi_db_bind(c->st->db, s, err, "iiii", (int64_t)j->m.ino,
		        (int64_t)j->m.ctime, (int64_t)j->unstable,
		        (int64_t)j->prev.id) == -1)
			return -1;
		return rdi_db_step(c->st->db, s, err) == -1 ? -1 : 0;
	}
	if (j->has_prev && snap_close_entry(c, j->prev.id, 0, err) == -1)
		return -1;
	return snap_insert_entry(c, j->path, strlen(j->path), RD_TYPE_FILE,
	    &j->m, j->sha, NULL, &j->xa, j->unstable, err);
}

static const char sql_cursor[] =
    "SELECT id, path, type, mode, uid, gid, size, mtime, sha, target, ino,"
    " ctime, unstable, rdev, link, xattrs FROM entries WHERE last IS NULL"
    " AND path >= ? ORDER BY path";

int
snap_prepare_all(struct ctx *c, struct rd_err *err)
{
	sqlite3 *db = c->st->db;

	if (rdi_db_prepare(db,
	        "INSERT INTO entries(path, first, type, mode,"
	        " uid, gid, size, mtime, sha, target, ino, ctime, unstable,"
	        " rdev, link, xattrs)"
	        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &c->ins_entry, err) == -1 ||
	    rdi_db_prepare(db, "UPDATE entries SET last = ? WHERE id = ?",
	        &c->close_entry, err) == -1 ||
	    rdi_db_prepare(db,
	        "UPDATE entries SET ino = ?, ctime = ?,"
	        " unstable = ? WHERE id = ?",
	        &c->touch_entry, err) == -1 ||
	    rdi_db_prepare(db,
	        "INSERT OR IGNORE INTO contents(sha, size,"
	        " kind, codec, base, depth, pack, off, len)"
	        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &c->ins_content, err) == -1 ||
	    rdi_db_prepare(db,
	        "INSERT OR IGNORE INTO signatures(sha, block,"
	        " pack, off, len) VALUES (?, ?, ?, ?, ?)",
	        &c->ins_sig, err) == -1 ||
	    rdi_db_prepare(db,
	        "INSERT INTO packs(id, name, size)"
	        " VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
	        " size = excluded.size",
	        &c->ins_pack, err) == -1 ||
	    rdi_db_prepare(db,
	        "SELECT p.name, s.off, c.depth FROM signatures s"
	        " JOIN packs p ON p.id = s.pack JOIN contents c ON"
	        " c.sha = s.sha WHERE s.sha = ?",
	        &c->get_sig, err) == -1 ||
	    rdi_db_prepare(db, "SELECT 1 FROM contents WHERE size = ? LIMIT 1",
	        &c->size_seen, err) == -1 ||
	    rdi_db_prepare(db,
	        "INSERT OR REPLACE INTO snapshot_problems(snapshot, path,"
	        " problem, reason) VALUES (?, ?, ?, ?)",
	        &c->ins_problem, err) == -1)
		return -1;
	/* from the first path on: the empty one, the source's */
	if (rdi_db_open(c->st, 1, &c->rdb, err) == -1 ||
	    rdi_db_prepare(c->rdb, sql_cursor, &c->cur, err) == -1 ||
	    rdi_db_bind(c->rdb, c->cur, err, "b", "", (size_t)0) == -1)
		return -1;
	if (rdi_db_open(c->st, 1, &c->ldb, err) == -1 ||
	    rdi_db_prepare(c->ldb, "SELECT 1 FROM contents WHERE sha = ?",
	        &c->lookup, err) == -1)
		return -1;
	return 0;
}

void
snap_finalize_all(struct ctx *c)
{
	sqlite3_finalize(c->ins_entry);
	sqlite3_finalize(c->close_entry);
	sqlite3_finalize(c->touch_entry);
	sqlite3_finalize(c->ins_content);
	sqlite3_finalize(c->ins_sig);
	sqlite3_finalize(c->ins_pack);
	sqlite3_finalize(c->get_sig);
	sqlite3_finalize(c->size_seen);
	sqlite3_finalize(c->cur);
	sqlite3_finalize(c->lookup);
	sqlite3_finalize(c->xfind);
	sqlite3_finalize(c->ins_problem);
	if (c->rdb != NULL)
		sqlite3_close(c->rdb);
	if (c->ldb != NULL)
		sqlite3_close(c->ldb);
}

int
snap_new_pending(struct ctx *c, const char *source, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int ret = -1;

	if (rdi_db_prepare(c->st->db,
	        "INSERT INTO snapshots(state, started,"
	        " label, source) VALUES ('pending', ?, ?, ?)",
	        &s, err) == -1)
		return -1;
	c->started = rd_now();
	if (rdi_db_bind(c->st->db, s, err, "dtt", c->started, c->opts->label,
	        source) == -1 ||
	    rdi_db_step(c->st->db, s, err) == -1)
		goto out;
	c->snap_id = sqlite3_last_insert_rowid(c->st->db);
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

int
snap_complete(struct ctx *c, double seconds, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int ret = -1;

	if (rdi_db_prepare(c->st->db,
	        "UPDATE snapshots SET state = 'complete',"
	        " finished = ?, files = ?, bytes = ?, bytes_read = ?,"
	        " bytes_added = ?, stored = ?, changed = ?, removed = ?,"
	        " inconsistent = ?, skipped = ?, partial = ? WHERE id = ?",
	        &s, err) == -1)
		return -1;
	c->info.finished = (int64_t)rd_now();
	if (rdi_db_bind(c->st->db, s, err, "diiiiiiiiiii", c->started + seconds,
	        (int64_t)c->info.files, (int64_t)c->info.bytes,
	        (int64_t)c->info.bytes_read, (int64_t)c->info.bytes_added,
	        (int64_t)c->info.stored, (int64_t)c->info.changed,
	        (int64_t)c->info.removed, (int64_t)c->info.inconsistent,
	        (int64_t)c->info.skipped, (int64_t)c->info.partial,
	        (int64_t)c->snap_id) == -1 ||
	    rdi_db_step(c->st->db, s, err) == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

/*
 * Seal every worker's open pack, make every sealed pack durable in packs/
 * (the first wait for the disk of the run) and record all pack sizes.
 */
int
snap_seal_packs(struct ctx *c, struct worker *w, int nw, struct rd_err *err)
{
	struct packrec *pr;
	int64_t size;
	size_t i;
	int k;

	for (k = 0; k < nw; k++) {
		if (!w[k].pw_open)
			continue;
		if (w[k].pw.off == 8) {
			/* nothing stored in it */
			rdi_packw_abort(c->st, &w[k].pw);
			w[k].pw_open = 0;
			continue;
		}
		if (rdi_packw_seal(c->st, &w[k].pw, &size, err) == -1)
			return -1;
		w[k].pw_open = 0;
		if (snap_record_pack(c, &w[k].pw, size, err) == -1)
			return -1;
	}
	for (i = 0; i < c->npacks; i++) {
		if (rdi_pack_publish(c->st, c->packs[i].name, err) == -1)
			return -1;
		c->packs[i].published = 1;
	}
	if (c->npacks > 0 && rdi_pack_dir_sync(c->st, err) == -1)
		return -1;
	for (i = 0; i < c->npacks; i++) {
		pr = &c->packs[i];
		if (register_pack(c, pr->id, pr->name, err) == -1)
			return -1;
		if (set_pack(c, pr->id, pr->name, pr->size, err) == -1)
			return -1;
	}
	return 0;
}
