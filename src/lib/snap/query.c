/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * query.c: reading the catalog: the list of snapshots, one snapshot, the
 * entries of a snapshot in path order, and the paths it could not read.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_int.h"
#include "snap_int.h"

static const char snap_cols[] =
    "SELECT id, started, finished, files, bytes, bytes_read, bytes_added,"
    " stored, changed, removed, inconsistent, skipped, label, partial"
    " FROM snapshots WHERE state = 'complete'";

static void
row_to_info(sqlite3_stmt *s, struct rd_snapinfo *si)
{
	const unsigned char *label;
	double started, finished;

	memset(si, 0, sizeof(*si));
	si->id = sqlite3_column_int64(s, 0);
	started = sqlite3_column_double(s, 1);
	finished = sqlite3_column_double(s, 2);
	si->started = (int64_t)started;
	si->finished = (int64_t)finished;
	si->seconds = finished - started;
	si->files = sqlite3_column_int64(s, 3);
	si->bytes = sqlite3_column_int64(s, 4);
	si->bytes_read = sqlite3_column_int64(s, 5);
	si->bytes_added = sqlite3_column_int64(s, 6);
	si->stored = sqlite3_column_int64(s, 7);
	si->changed = sqlite3_column_int64(s, 8);
	si->removed = sqlite3_column_int64(s, 9);
	si->inconsistent = sqlite3_column_int64(s, 10);
	si->skipped = sqlite3_column_int64(s, 11);
	si->partial = sqlite3_column_int64(s, 13);
	label = sqlite3_column_text(s, 12);
	if (label != NULL)
		snprintf(si->label, sizeof(si->label), "%s",
		    (const char *)label);
}

int
rd_snap_list(struct rd_store *st,
    int (*fn)(void *arg, const struct rd_snapinfo *si), void *arg,
    struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct rd_snapinfo si;
	char sql[512];
	int r, ret = -1;

	snprintf(sql, sizeof(sql), "%s ORDER BY id", snap_cols);
	if (rdi_db_prepare(st->db, sql, &s, err) == -1)
		return -1;
	for (;;) {
		r = rdi_db_step(st->db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		row_to_info(s, &si);
		r = fn(arg, &si);
		if (r != 0) {
			ret = r;
			goto out;
		}
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

int
rd_snap_get(struct rd_store *st, int64_t id, struct rd_snapinfo *info,
    struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct rd_snapinfo si;
	char sql[512];
	int r, ret = -1;

	if (id > 0)
		snprintf(sql, sizeof(sql), "%s AND id = ?", snap_cols);
	else
		snprintf(sql, sizeof(sql), "%s ORDER BY id DESC LIMIT 1",
		    snap_cols);
	if (rdi_db_prepare(st->db, sql, &s, err) == -1)
		return -1;
	r = id > 0 ? rdi_db_bind(st->db, s, err, "i", (int64_t)id) : 0;
	if (r == 0)
		r = rdi_db_step(st->db, s, err);
	if (r == -1)
		goto out;
	if (r == 0) {
		if (id > 0)
			rd_err_set(err, RD_ENOENT, "no snapshot %lld in '%s'",
			    (long long)id, st->path);
		else
			rd_err_set(err, RD_ENOENT,
			    "store '%s' has no snapshots", st->path);
		goto out;
	}
	row_to_info(s, &si);
	if (info != NULL)
		*info = si;
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

/*
 * The operand "path" of rd_snap_entries: a pattern sets "*glob" and
 * compiles into "g", "*p" then its literal prefix (or NULL); a plain path
 * is "*p" without "./" in front or "/" at the end ("" for the root).
 */
static int
entries_operand(const char *path, struct snap_glob *g, int *glob, char **p,
    struct rd_err *err)
{
	size_t n;

	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (snap_glob_is_pattern(path)) {
		*glob = 1;
		if (snap_glob_init(g, path, err) == -1)
			return -1;
		if (g->literal != NULL && (*p = strdup(g->literal)) == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		return 0;
	}
	*p = strdup(path);
	if (*p == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	n = strlen(*p);
	while (n > 0 && (*p)[n - 1] == '/')
		(*p)[--n] = '\0';
	if (strcmp(*p, ".") == 0)
		(*p)[0] = '\0';
	return 0;
}

int
rd_snap_entries(struct rd_store *st, int64_t id, const char *path,
    int (*fn)(void *arg, const struct rd_entry *e), void *arg,
    struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct rd_snapinfo si;
	struct rd_entry e;
	struct rdi_buf pbuf = { NULL, 0, 0 }, tbuf = { NULL, 0, 0 };
	struct snap_glob g;
	char *p = NULL;
	size_t n;
	int r, ret = -1, found = 0, glob = 0;

	memset(&g, 0, sizeof(g));
	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		return -1;
	if (rd_snap_get(st, id, &si, err) == -1)
		goto out;
	if (path != NULL && entries_operand(path, &g, &glob, &p, err) == -1)
		goto out;
	if (rdi_db_prepare(st->db,
	        "SELECT path, type, mode, uid, gid, size,"
	        " mtime, sha, target FROM entries"
	        " WHERE first <= ?1 AND (last IS NULL OR last >= ?1)"
	        " AND (?2 IS NULL OR path = ?2 OR path = CAST(?2 || '/' AS BLOB)"
	        " OR (path > CAST(?2 || '/' AS BLOB)"
	        " AND path < CAST(?2 || '0' AS BLOB)))"
	        " ORDER BY path",
	        &s, err) == -1)
		goto out;
	if ((p != NULL && *p != '\0'
	            ? rdi_db_bind(st->db, s, err, "ib", (int64_t)si.id, p,
	                  strlen(p))
	            : rdi_db_bind(st->db, s, err, "i", (int64_t)si.id)) == -1)
		goto out;
	for (;;) {
		r = rdi_db_step(st->db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		memset(&e, 0, sizeof(e));
		pbuf.len = 0;
		n = (size_t)sqlite3_column_bytes(s, 0);
		if (glob && n > 0 &&
		    memchr(sqlite3_column_blob(s, 0), '\0', n) != NULL)
			continue; /* no pattern names it (rowcheck refuses it) */
		if (glob &&
		    (r = snap_glob_match(&g,
		         (const char *)sqlite3_column_blob(s, 0), n, err)) !=
		        1) {
			if (r == -1)
				goto out;
			continue;
		}
		if (rdi_buf_append(&pbuf, sqlite3_column_blob(s, 0), n, err) ==
		        -1 ||
		    rdi_buf_append(&pbuf, "", 1, err) == -1)
			goto out;
		e.type = sqlite3_column_int(s, 1);
		if (e.type == RD_TYPE_DIR && n > 0)
			pbuf.data[n - 1] = '\0';
		e.path = n > 0 ? (const char *)pbuf.data : ".";
		e.mode = (unsigned)sqlite3_column_int(s, 2);
		e.uid = sqlite3_column_int64(s, 3);
		e.gid = sqlite3_column_int64(s, 4);
		e.size = sqlite3_column_int64(s, 5);
		e.mtime_ns = sqlite3_column_int64(s, 6);
		if (sqlite3_column_bytes(s, 7) == RD_HASH_LEN)
			memcpy(e.sha, sqlite3_column_blob(s, 7), RD_HASH_LEN);
		if (e.type == RD_TYPE_SYMLINK) {
			tbuf.len = 0;
			if (rdi_buf_append(&tbuf, sqlite3_column_blob(s, 8),
			        (size_t)sqlite3_column_bytes(s, 8),
			        err) == -1 ||
			    rdi_buf_append(&tbuf, "", 1, err) == -1)
				goto out;
			e.target = (const char *)tbuf.data;
		}
		found = 1;
		r = fn(arg, &e);
		if (r != 0) {
			ret = r;
			goto out;
		}
	}
	if (!found && glob) {
		rd_err_set(err, RD_ENOENT,
		    "snapshot %lld has no path matching '%s'", (long long)si.id,
		    path);
		goto out;
	}
	if (!found && p != NULL && *p != '\0') {
		rd_err_set(err, RD_ENOENT, "snapshot %lld has no path '%s'",
		    (long long)si.id, path);
		goto out;
	}
	ret = 0;
out:
	snap_glob_release(&g);
	sqlite3_finalize(s);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	rdi_buf_release(&pbuf);
	rdi_buf_release(&tbuf);
	free(p);
	return ret;
}

int
rd_snap_problems(struct rd_store *st, int64_t id,
    int (*fn)(void *arg, const struct rd_problem *p), void *arg,
    struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct rd_snapinfo si;
	struct rd_problem p;
	struct rdi_buf path = { NULL, 0, 0 };
	const char *kind, *reason;
	int n, r, ret = -1;

	if (rd_snap_get(st, id, &si, err) == -1)
		return -1;
	if (rdi_db_prepare(st->db,
	        "SELECT path, problem, reason FROM snapshot_problems"
	        " WHERE snapshot = ? ORDER BY path",
	        &s, err) == -1)
		return -1;
	if (rdi_db_bind(st->db, s, err, "i", (int64_t)si.id) == -1)
		goto out;
	for (;;) {
		r = rdi_db_step(st->db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		n = sqlite3_column_bytes(s, 0);
		if (n > 0 &&
		    ((const char *)sqlite3_column_blob(s, 0))[n - 1] == '/')
			n--; /* a directory's, as in rd_entry */
		path.len = 0;
		if ((n > 0 &&
		        rdi_buf_append(&path, sqlite3_column_blob(s, 0),
		            (size_t)n, err) == -1) ||
		    rdi_buf_append(&path, "", 1, err) == -1)
			goto out;
		kind = (const char *)sqlite3_column_text(s, 1);
		reason = (const char *)sqlite3_column_text(s, 2);
		p.path = (const char *)path.data;
		p.path_len = (size_t)n;
		p.problem = kind != NULL ? kind : "unreadable";
		p.reason = reason != NULL ? reason : "";
		r = fn(arg, &p);
		if (r != 0) {
			ret = r;
			goto out;
		}
	}
	ret = 0;
out:
	free(path.data);
	sqlite3_finalize(s);
	return ret;
}
