/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * diff.c: what changed between two snapshots.
 *
 * An entry row belongs to the snapshots first..last (last NULL: up to the
 * newest).  For snapshots lo < hi, a row is in lo and not in hi when it
 * ends in [lo, hi) having begun by lo, and in hi and not in lo when it
 * begins in (lo, hi] and lasts until hi.  Those two sets are read through
 * the entries_last and entries_first indexes, each sorted by path by
 * SQLite (in temp files when large), and merged here one row of each at a
 * time: rows that exist in both snapshots are never read, and memory does
 * not grow with the size of the diff.  Snapshot ids may have gaps; no id
 * between lo and hi needs to exist.
 */
#include "config.h"

#include <string.h>

#include "rd_int.h"

/* Differences that make a change more than metadata. */
#define CONTENT_BITS                                                           \
	(RD_DIFF_TYPE | RD_DIFF_CONTENT | RD_DIFF_TARGET | RD_DIFF_RDEV)

static const char sql_ended[] =
    "SELECT path, type, mode, uid, gid, size, mtime, sha, target, rdev,"
    " link, xattrs FROM entries INDEXED BY entries_last"
    " WHERE last >= ?1 AND last < ?2 AND first <= ?1"
    " ORDER BY path";

static const char sql_begun[] =
    "SELECT path, type, mode, uid, gid, size, mtime, sha, target, rdev,"
    " link, xattrs FROM entries INDEXED BY entries_first"
    " WHERE first > ?1 AND first <= ?2 AND (last IS NULL OR last >= ?2)"
    " ORDER BY path";

/* One side of the merge: a sorted statement and its current row. */
struct side {
	sqlite3_stmt *s;
	int valid;           /* "e" holds a row */
	size_t keylen;       /* the catalog path, as sorted */
	struct rdi_buf path; /* that path, NUL-terminated */
	struct rdi_buf target;
	struct rdi_buf xa;
	struct rd_entry e;
};

/*
 * Step "sd" to its next row and decode it into "sd->e", with the path as
 * "ls" shows it (no trailing '/', "." for the root).  Returns 1 (a row),
 * 0 (done) or -1.
 */
static int
side_next(sqlite3 *db, struct side *sd, struct rd_err *err)
{
	sqlite3_stmt *s = sd->s;
	const void *p, *t;
	size_t n, tn;
	int r;

	sd->valid = 0;
	r = rdi_db_step(db, s, err);
	if (r != 1)
		return r;
	memset(&sd->e, 0, sizeof(sd->e));
	p = sqlite3_column_blob(s, 0);
	n = (size_t)sqlite3_column_bytes(s, 0);
	if (p == NULL && n > 0)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	sd->path.len = 0;
	if (rdi_buf_append(&sd->path, p, n, err) == -1 ||
	    rdi_buf_append(&sd->path, "", 1, err) == -1)
		return -1;
	sd->keylen = n;
	sd->e.type = sqlite3_column_int(s, 1);
	sd->e.mode = (unsigned)sqlite3_column_int(s, 2);
	sd->e.uid = sqlite3_column_int64(s, 3);
	sd->e.gid = sqlite3_column_int64(s, 4);
	sd->e.size = sqlite3_column_int64(s, 5);
	sd->e.mtime_ns = sqlite3_column_int64(s, 6);
	t = sqlite3_column_blob(s, 7);
	if (t != NULL && sqlite3_column_bytes(s, 7) == RD_HASH_LEN)
		memcpy(sd->e.sha, t, RD_HASH_LEN);
	if (sd->e.type == RD_TYPE_SYMLINK) {
		t = sqlite3_column_blob(s, 8);
		tn = (size_t)sqlite3_column_bytes(s, 8);
		if (t == NULL && tn > 0)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		sd->target.len = 0;
		if (rdi_buf_append(&sd->target, t, tn, err) == -1 ||
		    rdi_buf_append(&sd->target, "", 1, err) == -1)
			return -1;
		sd->e.target = (const char *)sd->target.data;
	}
	sd->e.rdev = sqlite3_column_int64(s, 9);
	sd->e.link = sqlite3_column_int64(s, 10);
	sd->xa.len = 0;
	tn = (size_t)sqlite3_column_bytes(s, 11);
	if (tn > 0 &&
	    rdi_buf_append(&sd->xa, sqlite3_column_blob(s, 11), tn, err) == -1)
		return -1;
	sd->e.xattrs = sd->xa.data;
	sd->e.xattrs_len = tn;
	sd->e.path = (const char *)sd->path.data;
	if (n == 0)
		sd->e.path = ".";
	else if (sd->path.data[n - 1] == '/')
		sd->path.data[n - 1] = '\0';
	sd->valid = 1;
	return 1;
}

/* Catalog path order: bytes as unsigned, a prefix first (SQLite's BLOB). */
static int
key_cmp(const struct side *a, const struct side *b)
{
	size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
	int c = n > 0 ? memcmp(a->path.data, b->path.data, n) : 0;

	if (c != 0)
		return c;
	if (a->keylen == b->keylen)
		return 0;
	return a->keylen < b->keylen ? -1 : 1;
}

/* The RD_DIFF_* bits in which two versions of one path differ. */
static unsigned
differs(const struct rd_entry *o, const struct rd_entry *n)
{
	unsigned d = 0;

	if (o->type != n->type)
		d |= RD_DIFF_TYPE;
	else if (o->type == RD_TYPE_FILE &&
	    (o->size != n->size || memcmp(o->sha, n->sha, RD_HASH_LEN) != 0))
		d |= RD_DIFF_CONTENT;
	else if (o->type == RD_TYPE_SYMLINK && o->target != NULL &&
	    n->target != NULL && strcmp(o->target, n->target) != 0)
		d |= RD_DIFF_TARGET;
	if (o->mode != n->mode)
		d |= RD_DIFF_MODE;
	if (o->uid != n->uid)
		d |= RD_DIFF_UID;
	if (o->gid != n->gid)
		d |= RD_DIFF_GID;
	if (o->mtime_ns != n->mtime_ns)
		d |= RD_DIFF_MTIME;
	if (o->xattrs_len != n->xattrs_len ||
	    (o->xattrs_len > 0 &&
	        memcmp(o->xattrs, n->xattrs, o->xattrs_len) != 0))
		d |= RD_DIFF_XATTRS;
	if ((o->link != 0) != (n->link != 0) ||
	    (o->link != 0 && o->link != n->link))
		d |= RD_DIFF_LINK;
	if (o->type == n->type && o->rdev != n->rdev)
		d |= RD_DIFF_RDEV;
	return d;
}

static int64_t
file_bytes(const struct rd_entry *e)
{
	return e != NULL && e->type == RD_TYPE_FILE ? e->size : 0;
}

/* Count change "c" in "res" and pass it to "fn". */
static int
report(const struct rd_change *c, struct rd_diff_result *res,
    int (*fn)(void *arg, const struct rd_change *c), void *arg)
{
	switch (c->kind) {
	case RD_CHANGE_ADDED:
		res->added++;
		res->added_bytes += file_bytes(c->new);
		break;
	case RD_CHANGE_REMOVED:
		res->removed++;
		res->removed_bytes += file_bytes(c->old);
		break;
	case RD_CHANGE_CONTENT:
		res->changed++;
		res->changed_bytes += file_bytes(c->new) - file_bytes(c->old);
		break;
	default:
		res->metadata++;
		break;
	}
	return fn(arg, c);
}

/*
 * Merge the rows of "o" (only in the old snapshot) and "n" (only in the
 * new one), both in path order.  Returns 0, the callback's non-zero
 * value, or -1.
 */
static int
merge(sqlite3 *db, struct side *o, struct side *n, struct rd_diff_result *res,
    int (*fn)(void *arg, const struct rd_change *c), void *arg,
    struct rd_err *err)
{
	struct rd_change c;
	int cmp, r;

	if (side_next(db, o, err) == -1 || side_next(db, n, err) == -1)
		return -1;
	while (o->valid || n->valid) {
		if (!n->valid)
			cmp = -1;
		else if (!o->valid)
			cmp = 1;
		else
			cmp = key_cmp(o, n);
		memset(&c, 0, sizeof(c));
		if (cmp < 0) {
			c.kind = RD_CHANGE_REMOVED;
			c.old = &o->e;
		} else if (cmp > 0) {
			c.kind = RD_CHANGE_ADDED;
			c.new = &n->e;
		} else {
			c.differs = differs(&o->e, &n->e);
			c.kind = (c.differs & CONTENT_BITS) != 0
			    ? RD_CHANGE_CONTENT
			    : RD_CHANGE_META;
			c.old = &o->e;
			c.new = &n->e;
		}
		/* a path that changed and changed back is no change */
		if (cmp != 0 || c.differs != 0) {
			r = report(&c, res, fn, arg);
			if (r != 0)
				return r;
		}
		if (cmp <= 0 && side_next(db, o, err) == -1)
			return -1;
		if (cmp >= 0 && side_next(db, n, err) == -1)
			return -1;
	}
	return 0;
}

int
rd_snap_diff(struct rd_store *st, int64_t from, int64_t to,
    int (*fn)(void *arg, const struct rd_change *c), void *arg,
    struct rd_diff_result *res, struct rd_err *err)
{
	struct rd_diff_result dummy;
	struct rd_snapinfo a, b;
	struct side ended, begun, *o, *n;
	int64_t lo, hi;
	int r, ret = -1;

	memset(&ended, 0, sizeof(ended));
	memset(&begun, 0, sizeof(begun));
	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		return -1;
	if (rd_snap_get(st, from, &a, err) == -1 ||
	    rd_snap_get(st, to, &b, err) == -1)
		goto out;
	res->from = a.id;
	res->to = b.id;
	if (a.id == b.id) {
		ret = 0;
		goto out;
	}
	lo = a.id < b.id ? a.id : b.id;
	hi = a.id < b.id ? b.id : a.id;
	if (rdi_db_prepare(st->db, sql_ended, &ended.s, err) == -1 ||
	    rdi_db_prepare(st->db, sql_begun, &begun.s, err) == -1)
		goto out;
	if (rdi_db_bind(st->db, ended.s, err, "ii", lo, hi) == -1 ||
	    rdi_db_bind(st->db, begun.s, err, "ii", lo, hi) == -1)
		goto out;
	/* going back in time, what ended is what comes back */
	o = a.id < b.id ? &ended : &begun;
	n = a.id < b.id ? &begun : &ended;
	r = merge(st->db, o, n, res, fn, arg, err);
	if (r == -1)
		goto out;
	ret = r;
out:
	sqlite3_finalize(ended.s);
	sqlite3_finalize(begun.s);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	rdi_buf_release(&ended.path);
	rdi_buf_release(&ended.target);
	rdi_buf_release(&ended.xa);
	rdi_buf_release(&begun.path);
	rdi_buf_release(&begun.target);
	rdi_buf_release(&begun.xa);
	return ret;
}
