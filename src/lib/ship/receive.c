/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * receive.c: the receiving end of rdship: reading a bundle or serving a
 * push session into a standby store (docs/FORMAT.md).
 *
 * The HELLO is judged (lineage, epoch, codecs, where the stream starts),
 * the frames are read in their order, the objects go to recvbatch.c, and
 * the snapshot and catalog rows become visible in one transaction at
 * END, after every frame has passed its MAC and the rows have been
 * checked.  In a push session the sender hears the verdict (HAVE) and
 * the result (RESULT), or why it was refused.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ship/ship_int.h"

/*
 * Control characters of a text meant for people (a label, a reason) as
 * '?': the tools print these as they are, and they came from a stream.
 */
static void
tame(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static uint64_t
available_mask(void)
{
	uint64_t m = 0;
	int c;

	for (c = 0; c <= RD_CODEC_ZSTD; c++)
		if (rd_codec_available(c))
			m |= 1u << c;
	return m;
}

static int
begin_rows(struct rdi_recv *r, struct rd_err *err)
{
	if (r->rows_txn || r->skip)
		return 0;
	if (rdi_recv_commit(r, err) == -1)
		return -1;
	if (rdi_db_exec(r->st->db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	r->rows_txn = 1;
	return 0;
}

/* Open the rows transaction and prepare "sql", unless only checking. */
static int
rows_stmt(struct rdi_recv *r, const char *sql, sqlite3_stmt **q,
    struct rd_err *err)
{
	if (r->skip)
		return 0;
	if (begin_rows(r, err) == -1)
		return -1;
	return rdi_db_prepare(r->st->db, sql, q, err);
}

static int
recv_snap(struct rdi_recv *r, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct rdi_msg m;
	int64_t id, v[10];
	double started, finished;
	char label[256], source[4096];
	int i, ret = -1;

	rdi_msg_init(&m, &r->buf);
	rdi_get_i64(&m, &id);
	rdi_get_f64(&m, &started);
	rdi_get_f64(&m, &finished);
	rdi_get_str(&m, label, sizeof(label));
	tame(label);
	rdi_get_str(&m, source, sizeof(source));
	for (i = 0; i < 10; i++)
		rdi_get_i64(&m, &v[i]);
	if (rdi_msg_done(&m, "snapshot", err) == -1)
		return -1;
	for (i = 0; i < 10; i++)
		if (v[i] < 0)
			return rd_err_set(err, RD_ECORRUPT,
			    "stream is damaged: snapshot %lld has a negative count",
			    (long long)id);
	/* a clock stepped back may end a snapshot before it started */
	if (!isfinite(started) || !isfinite(finished) || started < 0 ||
	    finished < 0 || started > 1e12 || finished > 1e12)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: snapshot %lld has impossible times",
		    (long long)id);
	if (id <= r->last_snap || id <= r->since || id > r->newest)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: snapshot %lld out of order",
		    (long long)id);
	r->last_snap = id;
	r->nsnaps++;
	if (r->skip)
		return 0;
	if (begin_rows(r, err) == -1)
		return -1;
	if (rdi_db_prepare(r->st->db,
	        "INSERT INTO snapshots(id, state,"
	        " started, finished, label, source, files, bytes, bytes_read,"
	        " bytes_added, stored, changed, removed, inconsistent, skipped,"
	        " partial)"
	        " VALUES (?, 'complete', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &q, err) == -1)
		return -1;
	if (rdi_db_bind(r->st->db, q, err, "iddttiiiiiiiiii", id, started,
	        finished, label[0] != '\0' ? label : NULL, source, v[0], v[1],
	        v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]) == -1 ||
	    rdi_db_step(r->st->db, q, err) == -1)
		goto out;
	r->res->snapshots++;
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

/* A catalog path from a stream: safe, and '/'-terminated for dirs. */
static int
check_path(const unsigned char *p, size_t n, int type, struct rd_err *err)
{
	char *buf;
	int ok;

	if (n == 0)
		return type == RD_TYPE_DIR
		    ? 0
		    : rd_err_set(err, RD_ECORRUPT, "bundle has an empty path");
	if (n > RDI_PATH_MAX + 1 || memchr(p, '\0', n) != NULL)
		return rd_err_set(err, RD_ECORRUPT,
		    "bundle has an unsafe path");
	buf = malloc(n + 1);
	if (buf == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	memcpy(buf, p, n);
	buf[n] = '\0';
	ok = type != RD_TYPE_DIR || buf[n - 1] == '/';
	if (type == RD_TYPE_DIR)
		buf[n - 1] = '\0';
	ok = ok && rdi_path_safe(buf);
	if (!ok)
		rd_err_set(err, RD_ECORRUPT, "bundle has an unsafe path '%.*s'",
		    (int)(n < 512 ? n : 512), (const char *)p);
	free(buf);
	return ok ? 0 : -1;
}

/* Whether an entry row from a stream cannot be one of this range. */
static int
entry_bad(const struct rdi_recv *r, int64_t first, int64_t last, int64_t type,
    int64_t size, int64_t uid, int64_t gid, size_t shalen,
    const unsigned char *target, size_t tlen)
{
	return first <= r->since || first > r->newest ||
	    (last != 0 && (last < first || last >= r->newest)) ||
	    (type != RD_TYPE_FILE && type != RD_TYPE_DIR &&
	        type != RD_TYPE_SYMLINK && type != RD_TYPE_FIFO &&
	        type != RD_TYPE_CHR && type != RD_TYPE_BLK) ||
	    (type != RD_TYPE_FILE && type != RD_TYPE_SYMLINK && size != 0) ||
	    (type == RD_TYPE_FILE) != (shalen == RD_HASH_LEN) ||
	    (shalen != 0 && shalen != RD_HASH_LEN) ||
	    (type == RD_TYPE_SYMLINK &&
	        (tlen == 0 || tlen > 4096 ||
	            memchr(target, '\0', tlen) != NULL ||
	            size != (int64_t)tlen)) ||
	    (type == RD_TYPE_DIR && size != 0) || size < 0 ||
	    size > RDI_MAX_SIZE || uid < 0 || uid > UINT32_MAX || gid < 0 ||
	    gid > UINT32_MAX;
}

/*
 * The fields of format 4 of an entry row from a stream: a device number
 * only on a device, a hard-link identity only on a regular file, and
 * extended attributes within the kernel's limits, in canonical order.
 */
static int
entry_extra_bad(int64_t type, int64_t rdev, int64_t link,
    const unsigned char *xa, size_t xalen, struct rd_err *err)
{
	if (rdev < 0 || rdev > (int64_t)UINT32_MAX ||
	    (rdev != 0 && type != RD_TYPE_CHR && type != RD_TYPE_BLK))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: a device number on an entry that is not a device");
	if (link < 0 || (link != 0 && type != RD_TYPE_FILE))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: a hard link to an entry that is not a regular file");
	if (xalen > RDI_XATTRS_MAX || !rdi_xattrs_valid(xa, xalen))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: bad extended attributes (over the kernel's limits or malformed)");
	return 0;
}

/* One row of an ENTRIES frame: a catalog row that begins in the range. */
static int
entry_row(struct rdi_recv *r, struct rdi_msg *m, sqlite3_stmt *q,
    struct rd_err *err)
{
	const unsigned char *path, *sha, *target, *xa;
	size_t plen, shalen, tlen, xalen;
	int64_t first, last, type, mode, uid, gid, size, mtime, unstable;
	int64_t rdev, link;

	rdi_get_bytes(m, &path, &plen);
	rdi_get_i64(m, &first);
	rdi_get_i64(m, &last);
	rdi_get_i64(m, &type);
	rdi_get_i64(m, &mode);
	rdi_get_i64(m, &uid);
	rdi_get_i64(m, &gid);
	rdi_get_i64(m, &size);
	rdi_get_i64(m, &mtime);
	rdi_get_bytes(m, &sha, &shalen);
	rdi_get_bytes(m, &target, &tlen);
	rdi_get_i64(m, &unstable);
	rdi_get_i64(m, &rdev);
	rdi_get_i64(m, &link);
	rdi_get_bytes(m, &xa, &xalen);
	if (m->bad)
		return rd_err_set(err, RD_ECORRUPT, "malformed entries frame");
	if (entry_bad(r, first, last, type, size, uid, gid, shalen, target,
	        tlen))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: bad entry row");
	if (check_path(path, plen, (int)type, err) == -1)
		return -1;
	if (entry_extra_bad(type, rdev, link, xa, xalen, err) == -1)
		return -1;
	r->nrows++;
	if (r->skip)
		return 0;
	/* an open row (last 0) is NULL; a symlink's target, or none */
	if ((last != 0 ? rdi_db_bind(r->st->db, q, err, "biiiiiiiihbiiib", path,
	                     plen, first, last, type, mode & 07777, uid, gid,
	                     size, mtime, shalen == RD_HASH_LEN ? sha : NULL,
	                     type == RD_TYPE_SYMLINK ? target : NULL, tlen,
	                     (int64_t)(unstable != 0), rdev, link,
	                     xalen > 0 ? xa : NULL, xalen)
	               : rdi_db_bind(r->st->db, q, err, "biniiiiiihbiiib", path,
	                     plen, first, type, mode & 07777, uid, gid, size,
	                     mtime, shalen == RD_HASH_LEN ? sha : NULL,
	                     type == RD_TYPE_SYMLINK ? target : NULL, tlen,
	                     (int64_t)(unstable != 0), rdev, link,
	                     xalen > 0 ? xa : NULL, xalen)) == -1)
		return -1;
	return rdi_db_step(r->st->db, q, err) == -1 ? -1 : 0;
}

/* One row of a CLOSES frame: a row the store has open ends in the range. */
static int
close_row(struct rdi_recv *r, struct rdi_msg *m, sqlite3_stmt *q,
    struct rd_err *err)
{
	const unsigned char *path;
	size_t plen;
	int64_t first, last;

	rdi_get_bytes(m, &path, &plen);
	rdi_get_i64(m, &first);
	rdi_get_i64(m, &last);
	if (m->bad || first > r->since || last < r->since || last >= r->newest)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: bad closing row");
	r->ncloses++;
	if (r->skip)
		return 0;
	if (rdi_db_bind(r->st->db, q, err, "ibi", last, path, plen, first) ==
	        -1 ||
	    rdi_db_step(r->st->db, q, err) == -1)
		return -1;
	if (sqlite3_changes(r->st->db) != 1)
		return rd_err_set(err, RD_ECORRUPT,
		    "bundle does not fit this store's history (is it a bundle of its origin?)");
	return 0;
}

/* One row of a PROBLEMS frame: a path a snapshot could not read. */
static int
problem_row(struct rdi_recv *r, struct rdi_msg *m, sqlite3_stmt *q,
    struct rd_err *err)
{
	const unsigned char *path;
	size_t plen;
	int64_t snap;
	char problem[16], reason[256];

	rdi_get_i64(m, &snap);
	rdi_get_bytes(m, &path, &plen);
	rdi_get_str(m, problem, sizeof(problem));
	rdi_get_str(m, reason, sizeof(reason));
	tame(reason);
	if (m->bad || snap <= r->since || snap > r->last_snap || plen > 4096 ||
	    memchr(path, '\0', plen) != NULL ||
	    (strcmp(problem, "unreadable") != 0 &&
	        strcmp(problem, "changing") != 0))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: bad problem row");
	r->nproblems++;
	if (r->skip)
		return 0;
	if (rdi_db_bind(r->st->db, q, err, "ibtt", snap, path, plen, problem,
	        reason) == -1)
		return -1;
	if (rdi_db_step(r->st->db, q, err) == -1) {
		if (err->code == RD_EINTERNAL)
			rd_err_set(err, RD_ECORRUPT,
			    "stream is damaged: a problem row twice");
		return -1;
	}
	return 0;
}

/* The frames of catalog rows: the statement each row runs, and the row. */
static const struct rowframe {
	int type;
	const char *sql;
	int (*row)(struct rdi_recv *, struct rdi_msg *, sqlite3_stmt *,
	    struct rd_err *);
} rowframes[] = {
	{ F_ENTRIES,
	    "INSERT INTO entries(path, first, last,"
	    " type, mode, uid, gid, size, mtime, sha, target, unstable,"
	    " rdev, link, xattrs)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    entry_row },
	{ F_CLOSES,
	    "UPDATE entries SET last = ?"
	    " WHERE path = ? AND first = ? AND last IS NULL",
	    close_row },
	{ F_PROBLEMS,
	    "INSERT INTO snapshot_problems(snapshot, path, problem,"
	    " reason) VALUES (?, ?, ?, ?)",
	    problem_row },
};

/*
 * Check every row of the frame in r->buf of type "type" (one of
 * rowframes[]) and, unless only checking, write it in the rows
 * transaction.
 */
static int
recv_rows(struct rdi_recv *r, int type, struct rd_err *err)
{
	const struct rowframe *rf = rowframes;
	sqlite3_stmt *q = NULL;
	struct rdi_msg m;
	int ret = -1;

	while (rf->type != type)
		rf++;
	if (rows_stmt(r, rf->sql, &q, err) == -1)
		return -1;
	rdi_msg_init(&m, &r->buf);
	while (m.pos < m.len)
		if (rf->row(r, &m, q, err) == -1)
			goto out;
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

static int
set_meta_int(struct rd_store *st, const char *key, int64_t v,
    struct rd_err *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return rdi_meta_set(st->db, key, buf, err);
}

/*
 * A push that finds this store as current as its origin: the origin
 * vouches for it now, so the last ship is now (rdwatch lag: max-age),
 * though no snapshot came.  A bundle proves nothing about now.
 */
static int
note_current(struct rdi_recv *r, struct rd_err *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%.6f", rd_now());
	if (rdi_db_exec(r->st->db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (rdi_meta_set(r->st->db, "last_ship", buf, err) == -1 ||
	    set_meta_int(r->st, "origin_newest", r->newest, err) == -1 ||
	    rdi_db_exec(r->st->db, "COMMIT", err) == -1) {
		sqlite3_exec(r->st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

static int
finish_rows(struct rdi_recv *r, const struct rdi_buf *endbuf,
    struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct rdi_msg m;
	int64_t nobj, nsnap, nrows, ncl, nprob;
	struct rdi_bcache bc;
	struct rd_err ignored = RD_ERR_INIT;
	char buf[32];
	int k, ret = -1;

	rdi_msg_init(&m, endbuf);
	rdi_get_i64(&m, &nobj);
	rdi_get_i64(&m, &nsnap);
	rdi_get_i64(&m, &nrows);
	rdi_get_i64(&m, &ncl);
	rdi_get_i64(&m, &nprob);
	if (rdi_msg_done(&m, "end", err) == -1)
		return -1;
	if (nsnap != r->nsnaps || nrows != r->nrows || ncl != r->ncloses ||
	    nprob != r->nproblems ||
	    (r->push ? nobj < r->nobjects : nobj != r->nobjects))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: frames are missing");
	if (r->skip)
		return r->push && r->newest == r->since ? note_current(r, err)
		                                        : 0;
	if (r->last_snap != r->newest)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: snapshots are missing");
	if (begin_rows(r, err) == -1)
		return -1;
	/* every file of the new snapshots has its content here */
	if (rdi_db_prepare(r->st->db,
	        "SELECT COUNT(*), MIN(e.path) FROM entries e"
	        " LEFT JOIN contents c ON c.sha = e.sha WHERE e.first > ?"
	        " AND e.sha IS NOT NULL AND c.sha IS NULL",
	        &q, err) == -1)
		return -1;
	k = rdi_db_bind(r->st->db, q, err, "i", r->since);
	if (k == 0)
		k = rdi_db_step(r->st->db, q, err);
	if (k == -1)
		goto out;
	if (sqlite3_column_int64(q, 0) != 0) {
		rd_err_set(err, RD_ECORRUPT,
		    "bundle lacks %lld contents its snapshots need, the first for '%.*s' (was it made with --since for another store?)",
		    (long long)sqlite3_column_int64(q, 0),
		    sqlite3_column_bytes(q, 1) > 200
		        ? 200
		        : sqlite3_column_bytes(q, 1),
		    (const char *)sqlite3_column_blob(q, 1));
		goto out;
	}
	/* what is committed can be restored */
	if (rdi_rows_check(r->st->db, r->since, r->newest, "bundle", err) == -1)
		goto out;
	if (r->st->info.origin[0] == '\0' || r->opts->adopt || r->follow) {
		if (rdi_meta_set(r->st->db, "origin", r->origin, err) == -1)
			goto out;
	}
	if (r->epoch > r->st->info.epoch &&
	    set_meta_int(r->st, "epoch", r->epoch, err) == -1)
		goto out;
	snprintf(buf, sizeof(buf), "%.6f", rd_now());
	if (rdi_meta_set(r->st->db, "last_ship", buf, err) == -1 ||
	    set_meta_int(r->st, "origin_newest", r->newest, err) == -1)
		goto out;
	if (rdi_db_exec(r->st->db, "COMMIT", err) == -1)
		goto out;
	r->rows_txn = 0;
	/* the cache keeps what is current; it is advice, so failing is not */
	rdi_bcache_open(r->st, &bc);
	(void)rdi_bcache_evict(&bc, r->st->db, &ignored);
	rdi_bcache_close(&bc);
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

/*
 * A bundle from another store than the origin: with --etcd, follow it if
 * etcd names it the cluster's primary at the bundle's epoch, taking over
 * from this store's origin, and its epoch is higher; refuse it otherwise.
 */
static int
follow_promoted(struct rdi_recv *r, struct rd_err *err)
{
	struct rd_store *st = r->st;
	struct rdi_etcd ec;
	char why[300];
	int k;

	if (r->opts->etcd == NULL)
		return rd_err_set(err, RD_EPERM,
		    "bundle comes from store %s, but '%s' follows %s (use --adopt to follow the new one)",
		    r->origin, st->path, st->info.origin);
	if (r->epoch <= st->info.epoch)
		return rd_err_set(err, RD_EPERM,
		    "bundle comes from store %s at epoch %lld, not higher than this store's epoch %lld: it is not a promoted store of its origin",
		    r->origin, (long long)r->epoch, (long long)st->info.epoch);
	if (rdi_etcd_init(&ec, r->opts->etcd, r->opts->etcd_timeout, err) == -1)
		return -1;
	k = rdi_cluster_confirm(&ec, r->opts->cluster, st->info.origin,
	    r->origin, r->epoch, why, sizeof(why), err);
	if (k == -1)
		return -1;
	if (k == 0)
		return rd_err_set(err, RD_EPERM, "%s", why);
	r->follow = 1;
	return 0;
}

/* Say that the store follows the promoted store from now on. */
static void
follow_notice(struct rdi_recv *r)
{
	char msg[300];

	if (!r->follow || r->opts->notice == NULL)
		return;
	snprintf(msg, sizeof(msg),
	    "following %s, the promoted primary of cluster '%s' (epoch %lld), instead of %s",
	    r->origin, r->opts->cluster, (long long)r->epoch,
	    r->st->info.origin);
	r->opts->notice(r->opts->notice_arg, msg);
}

/* The store's newest complete snapshot into "*own", 0 if none. */
static int
own_newest(struct rd_store *st, int64_t *own, struct rd_err *err)
{
	struct rd_snapinfo si;

	*own = 0;
	if (rd_snap_get(st, 0, &si, err) == 0)
		*own = si.id;
	else if (err->code == RD_ENOENT)
		rd_err_clear(err);
	else
		return -1;
	return 0;
}

/*
 * A primary refuses every stream; one from a store at a higher epoch is
 * likely the store promoted in its place: say how to follow it.
 */
static int
not_standby(struct rdi_recv *r, struct rd_err *err)
{
	struct rd_store *st = r->st;

	if (r->epoch > st->info.epoch)
		return rd_err_set(err, RD_EPERM,
		    "store '%s' is a primary (epoch %lld) and %s sends at epoch %lld: if it was promoted in its place, run 'rdship rejoin' on '%s' to follow it, keeping aside what came after the fork",
		    st->path, (long long)st->info.epoch, r->origin,
		    (long long)r->epoch, st->path);
	return rd_err_set(err, RD_EPERM,
	    "store '%s' is not a standby (make one with rdsnap init --standby)",
	    st->path);
}

/*
 * A store marked by rdship rejoin takes its first snapshots of the new
 * primary from a push, whose HELLO names the fork point: drop what came
 * after it here (the store aside keeps it).
 */
static int
finish_rejoin(struct rdi_recv *r, struct rd_err *err)
{
	struct rd_store *st = r->st;
	char aside[40], msg[512];
	int64_t own, cut = 0;
	int k;

	if (rdi_meta_get(st->db, "rejoin", aside, sizeof(aside), err) == -1)
		return -1;
	if (aside[0] == '\0')
		return 0;
	if (!r->push)
		return rd_err_set(err, RD_EPERM,
		    "store '%s' is rejoining %s: its first snapshots must come from rdship push, which says where the histories forked, not from a bundle",
		    st->path, st->info.origin);
	if (own_newest(st, &own, err) == -1)
		return -1;
	k = rdi_rejoin_cut(st, r->fork, &cut, aside, sizeof(aside), err);
	if (k <= 0)
		return k;
	if (r->opts->notice == NULL || strcmp(aside, "-") == 0)
		return 0;
	if (own > cut + 1)
		snprintf(msg, sizeof(msg),
		    "rejoined %s at the fork point, snapshot %lld: this store's snapshots %lld-%lld are kept aside in '%s/%s'",
		    r->origin, (long long)cut, (long long)cut + 1,
		    (long long)own, st->path, aside);
	else if (own == cut + 1)
		snprintf(msg, sizeof(msg),
		    "rejoined %s at the fork point, snapshot %lld: this store's snapshot %lld is kept aside in '%s/%s'",
		    r->origin, (long long)cut, (long long)own, st->path, aside);
	else
		snprintf(msg, sizeof(msg),
		    "rejoined %s at snapshot %lld (its fork point is %lld): this store's history is kept aside in '%s/%s'",
		    r->origin, (long long)cut, (long long)r->fork, st->path,
		    aside);
	r->opts->notice(r->opts->notice_arg, msg);
	return 0;
}

/*
 * A standby that starts to follow another store (--adopt, or the
 * promoted store etcd confirms) must not be further along than the
 * sender's fork point: its later snapshots are not the sender's.
 */
static int
fork_check(struct rdi_recv *r, int64_t own, struct rd_err *err)
{
	if (!r->push || r->fork == 0 || own <= r->fork)
		return 0;
	return rd_err_set(err, RD_EPERM,
	    "store '%s' has snapshots past snapshot %lld, the fork point of %s (its later ones are its own): to keep them aside and follow it, run 'rdship rejoin' on '%s'",
	    r->st->path, (long long)r->fork, r->origin, r->st->path);
}

/* Judge a HELLO: lineage, epoch, codecs, and where the bundle starts. */
static int
judge_hello(struct rdi_recv *r, int mode, struct rd_err *err)
{
	struct rd_store *st = r->st;
	int64_t own = 0;
	uint64_t missing;
	int switching;

	if ((mode == MODE_PUSH) != r->push)
		return rd_err_set(err, RD_ECORRUPT,
		    r->push ? "the sender wrote a bundle, not a push session"
		            : "this is a push session: use rdship serve");
	switching = st->info.origin[0] != '\0' &&
	    strcmp(st->info.origin, r->origin) != 0;
	if (switching && !r->opts->adopt && follow_promoted(r, err) == -1)
		return -1;
	if (r->epoch < st->info.epoch)
		return rd_err_set(err, RD_EPERM,
		    "bundle has epoch %lld, older than this store's epoch %lld: its sender was superseded by a promotion",
		    (long long)r->epoch, (long long)st->info.epoch);
	if (!st->info.standby)
		return not_standby(r, err);
	missing = r->codecs & ~available_mask();
	if (missing != 0)
		return rd_err_set(err, RD_EUNAVAIL,
		    "bundle uses codec '%s', which this build lacks",
		    (missing & (1u << RD_CODEC_ZSTD)) ? "zstd" : "unknown");
	if (finish_rejoin(r, err) == -1 || own_newest(st, &own, err) == -1)
		return -1;
	if (switching && fork_check(r, own, err) == -1)
		return -1;
	follow_notice(r);
	r->res->from = own;
	if (r->push)
		r->since = own;
	if (r->newest <= own) {
		r->skip = 1; /* nothing new */
		return 0;
	}
	if (r->since != own)
		return rd_err_set(err, r->since > own ? RD_ENOENT : RD_ECORRUPT,
		    "bundle holds snapshots %lld-%lld but this store has up to %lld: send with --since %lld",
		    (long long)r->since + 1, (long long)r->newest,
		    (long long)own, (long long)own);
	return 0;
}

static int
send_have(struct rdi_recv *r, const struct rd_err *verdict, struct rd_err *err)
{
	r->buf.len = 0;
	if (rdi_put_u64(&r->buf, verdict != NULL ? verdict->code : RD_OK,
	        err) == -1 ||
	    rdi_put_str(&r->buf, verdict != NULL ? verdict->msg : "", err) ==
	        -1 ||
	    rdi_put_str(&r->buf, r->st->info.uuid, err) == -1 ||
	    rdi_put_u64(&r->buf, (uint64_t)r->res->from, err) == -1 ||
	    rdi_put_u64(&r->buf, (uint64_t)r->st->info.epoch, err) == -1 ||
	    rdi_put_u64(&r->buf, available_mask(), err) == -1)
		return -1;
	if (rdi_chan_send(&r->ch, F_HAVE, r->buf.data, r->buf.len, err) == -1)
		return -1;
	return rdi_chan_flush(&r->ch, err);
}

static int
send_result(struct rdi_recv *r, const struct rd_err *verdict,
    struct rd_err *err)
{
	/* a success's message: what the replica update left out, if any */
	r->buf.len = 0;
	if (rdi_put_u64(&r->buf, verdict != NULL ? verdict->code : RD_OK,
	        err) == -1 ||
	    rdi_put_str(&r->buf,
	        verdict != NULL ? verdict->msg : r->res->replica_omission,
	        err) == -1 ||
	    rdi_put_u64(&r->buf, (uint64_t)r->res->newest, err) == -1 ||
	    rdi_put_u64(&r->buf, (uint64_t)r->res->replica_version, err) ==
	        -1 ||
	    rdi_put_u64(&r->buf, (uint64_t)r->res->replica_files, err) == -1)
		return -1;
	if (rdi_chan_send(&r->ch, F_RESULT, r->buf.data, r->buf.len, err) == -1)
		return -1;
	return rdi_chan_flush(&r->ch, err);
}

static int
recv_hello(struct rdi_recv *r, int *mode, struct rd_err *err)
{
	struct rdi_msg m;
	uint64_t md;
	int type;

	if (rdi_chan_recv(&r->ch, &type, &r->buf, SMALL_FRAME, err) == -1)
		return -1;
	if (type != F_HELLO)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: it does not start with HELLO");
	rdi_msg_init(&m, &r->buf);
	rdi_get_str(&m, r->origin, sizeof(r->origin));
	rdi_get_i64(&m, &r->epoch);
	rdi_get_u64(&m, &md);
	rdi_get_i64(&m, &r->since);
	rdi_get_i64(&m, &r->newest);
	rdi_get_u64(&m, &r->codecs);
	if (rdi_msg_done(&m, "hello", err) == -1)
		return -1;
	if (!rdi_uuid_ok(r->origin))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: its origin is not a store id");
	if (r->epoch < 1 || r->epoch >= RDI_MAX_SIZE || r->since < 0 ||
	    r->newest < r->since || r->newest >= RDI_MAX_SIZE || md > 1)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: impossible epoch, snapshot range or mode in its HELLO");
	*mode = (int)md;
	r->fork = md == MODE_PUSH ? r->since : 0;
	snprintf(r->res->origin, sizeof(r->res->origin), "%.36s", r->origin);
	r->res->epoch = r->epoch;
	return 0;
}

/*
 * The place of a frame type in a stream: objects (and a session's
 * queries), then SNAP, ENTRIES, CLOSES, PROBLEMS and END, in that order;
 * -1 for a type a receiver does not read.
 */
static int
frame_rank(int type)
{
	static const char order[] = { F_SNAP, F_ENTRIES, F_CLOSES, F_PROBLEMS,
		F_END };
	int i;

	if (type == F_OBJECT || type == F_QUERY)
		return 0;
	for (i = 0; i < (int)sizeof(order); i++)
		if (type == order[i])
			return i + 1;
	return -1;
}

/* Refuse a frame that comes after frames that must follow it. */
static int
frame_in_order(struct rdi_recv *r, int type, struct rd_err *err)
{
	int rank = frame_rank(type);

	if (rank == -1 || rank >= r->rank) {
		if (rank > r->rank)
			r->rank = rank;
		return 0;
	}
	if (type == F_OBJECT)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: an object after the snapshot records");
	return rd_err_set(err, RD_ECORRUPT,
	    "stream is damaged: a frame of type '%c' out of order", type);
}

static int
frame_loop(struct rdi_recv *r, struct rd_err *err)
{
	uint64_t len;
	int type;

	for (;;) {
		if (rdi_chan_next(&r->ch, &type, &len, err) == -1 ||
		    frame_in_order(r, type, err) == -1)
			return -1;
		if (type == F_OBJECT) {
			if (rdi_recv_object(r, len, err) == -1)
				return -1;
			continue;
		}
		if (len > ROWS_FRAME_MAX)
			return rd_err_set(err, RD_ECORRUPT,
			    "stream is damaged: frame too long");
		if (rdi_chan_payload(&r->ch, len, &r->buf, err) == -1)
			return -1;
		switch (type) {
		case F_QUERY:
			if (!r->push)
				return rd_err_set(err, RD_ECORRUPT,
				    "stream is damaged: query in a bundle");
			if (rdi_recv_query(r, err) == -1)
				return -1;
			break;
		case F_SNAP:
			if (recv_snap(r, err) == -1)
				return -1;
			break;
		case F_ENTRIES:
		case F_CLOSES:
		case F_PROBLEMS:
			if (recv_rows(r, type, err) == -1)
				return -1;
			break;
		case F_END:
			if (!r->skip && rdi_recv_commit(r, err) == -1)
				return -1;
			return finish_rows(r, &r->buf, err);
		default:
			return rd_err_set(err, RD_ECORRUPT,
			    "stream is damaged: unknown frame type %d", type);
		}
	}
}

/*
 * Open the stream: the preambles, then whether it is keyed as this end
 * is ("key" is NULL for an unkeyed one).  "*handshake" is set once the
 * sender waits for a HAVE.
 */
static int
recv_start(struct rdi_recv *r, const unsigned char *key, int *handshake,
    struct rd_err *err)
{
	int keyed;

	r->chunk = malloc(CHUNK);
	if (r->chunk == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (rdi_chan_recv_preamble(&r->ch, &keyed, err) == -1)
		return -1;
	if (r->push && rdi_chan_send_preamble(&r->ch, err) == -1)
		return -1;
	*handshake = 1;
	if (key != NULL && !keyed)
		return rd_err_set(err, RD_EPERM,
		    "stream is not authenticated, and '%s' requires a key",
		    r->st->path);
	if (key == NULL && keyed)
		return rd_err_set(err, RD_EPERM,
		    "stream is authenticated with a key: give --key (or put it in '%s/ship.key')",
		    r->st->path);
	return 0;
}

/*
 * Judge the HELLO, answer it with a HAVE in a push session ("*handshake"
 * is then cleared: the sender waits for a RESULT next), and read the
 * frames up to END.
 */
static int
recv_frames(struct rdi_recv *r, int *handshake, struct rd_err *err)
{
	int mode = -1;

	if (recv_hello(r, &mode, err) == -1 || judge_hello(r, mode, err) == -1)
		return -1;
	if (r->push) {
		if (send_have(r, NULL, err) == -1)
			return -1;
		*handshake = 0;
	}
	return frame_loop(r, err);
}

/*
 * After END: the store's newest snapshot, the catalog reloaded, the
 * replica brought to it if asked, and a push session's RESULT.
 */
static int
recv_end(struct rdi_recv *r, struct rd_err *err)
{
	struct rd_store *st = r->st;
	const struct rd_ship_opts *opts = r->opts;
	struct rd_ship_result *res = r->res;
	struct rdi_apply_res ar;
	struct rd_snapinfo si;

	if (rd_snap_get(st, 0, &si, err) == 0)
		res->newest = si.id;
	else if (err->code == RD_ENOENT)
		rd_err_clear(err);
	else
		return -1;
	if (rdi_db_load(st, err) == -1)
		return -1;
	if (opts->apply_dir != NULL && res->newest > 0) {
		if (rdi_replica_apply(st, opts->apply_dir, res->newest,
		        opts->notice, opts->notice_arg, &ar, err) == -1)
			return -1;
		res->replica_version = res->newest;
		res->replica_files = ar.changed;
		res->replica_omitted = ar.omitted;
		if (ar.omitted > 1)
			snprintf(res->replica_omission,
			    sizeof(res->replica_omission), "%s (and %lld more)",
			    ar.first, (long long)ar.omitted - 1);
		else
			snprintf(res->replica_omission,
			    sizeof(res->replica_omission), "%s", ar.first);
	}
	/*
	 * Fold the write-ahead log into the catalog now, while the sender
	 * waits for the result, rather than when the store closes after it
	 * (a first push of a large store leaves hundreds of MB there); the
	 * next session then starts at once.  A reader in the way only
	 * leaves the rest for the close.
	 */
	(void)sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL);
	if (r->push && send_result(r, NULL, err) == -1)
		return -1;
	return 0;
}

/* A push session failed: tell the sender why, if the stream still works. */
static void
report_failure(struct rdi_recv *r, int handshake, const struct rd_err *err)
{
	struct rd_err verdict = *err, e2 = RD_ERR_INIT;

	if (handshake)
		r->res->reported = send_have(r, &verdict, &e2) == 0;
	else if (err->code != RD_ECORRUPT || r->ch.in_left == 0)
		r->res->reported = send_result(r, &verdict, &e2) == 0;
}

static void
recv_release(struct rdi_recv *r)
{
	sqlite3_finalize(r->has_content);
	sqlite3_finalize(r->has_sig);
	if (r->rows_txn)
		sqlite3_exec(r->st->db, "ROLLBACK", NULL, NULL, NULL);
	if (r->pw_open)
		rdi_packw_abort(r->st, &r->pw);
	free(r->objs);
	free(r->chunk);
	rdi_buf_release(&r->buf);
	rdi_chan_release(&r->ch);
}

/*
 * Receive one stream; "first", when not -1, is its first byte, read
 * already by the caller.
 */
static int
receive_one(struct rd_store *st, int fd_in, int fd_out, int first,
    const struct rd_ship_opts *opts, struct rd_ship_result *res,
    struct rd_err *err)
{
	struct rdi_recv r;
	unsigned char skey[RD_KEY_LEN];
	const unsigned char *key = opts->key;
	double t0 = rd_monotonic();
	int k, ret = -1, handshake = 0;

	memset(&r, 0, sizeof(r));
	memset(res, 0, sizeof(*res));
	res->replica_version = -1;
	r.st = st;
	r.opts = opts;
	r.res = res;
	r.push = fd_out != -1;
	if (st->mode != RD_OPEN_WRITE)
		return rd_err_set(err, RD_EINTERNAL,
		    "store is not open for writing");
	if (key == NULL) {
		k = rd_store_key(st, skey, err);
		if (k == -1)
			return -1;
		if (k == 1)
			key = skey;
	}
	if (rdi_chan_init(&r.ch, fd_in, fd_out, key, 0, err) == -1)
		return -1;
	if (first != -1) {
		r.ch.ibuf[0] = (unsigned char)first;
		r.ch.ilen = 1;
	}
	if (recv_start(&r, key, &handshake, err) == -1 ||
	    recv_frames(&r, &handshake, err) == -1 || recv_end(&r, err) == -1)
		goto out;
	res->wire_bytes = r.ch.bytes_in;
	res->seconds = rd_monotonic() - t0;
	ret = 0;
out:
	if (ret == -1 && r.push)
		report_failure(&r, handshake, err);
	recv_release(&r);
	memset(skey, 0, sizeof(skey));
	return ret;
}

int
rd_ship_receive(struct rd_store *st, int fd_in, int fd_out,
    const struct rd_ship_opts *opts, struct rd_ship_result *res,
    struct rd_err *err)
{
	return receive_one(st, fd_in, fd_out, -1, opts, res, err);
}

/*
 * Wait for the first byte of the next session on "fd": 1 with "*b" set,
 * 0 at the end of the channel, or -1.
 */
static int
next_session(int fd, int *b, struct rd_err *err)
{
	unsigned char c;
	ssize_t n;

	for (;;) {
		n = read(fd, &c, 1);
		if (n == 1) {
			*b = c;
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return rd_err_sys(err, RD_EIO,
			    "cannot read the stream");
	}
}

int
rd_ship_serve(const char *path, double wait, int fd_in, int fd_out,
    const struct rd_ship_opts *opts, struct rd_ship_result *res,
    int64_t *sessions, struct rd_err *err)
{
	struct rd_store *st = NULL;
	int first = -1, rc;

	*sessions = 0;
	memset(res, 0, sizeof(*res));
	res->replica_version = -1;
	for (;;) {
		if (rd_store_open(path, RD_OPEN_WRITE, wait, &st, err) == -1)
			return -1;
		rc = receive_one(st, fd_in, fd_out, first, opts, res, err);
		rd_store_close(st);
		if (rc == -1)
			return -1;
		++*sessions;
		/* the lock is free between sessions: a promotion may take it */
		rc = next_session(fd_in, &first, err);
		if (rc <= 0)
			return rc;
	}
}
