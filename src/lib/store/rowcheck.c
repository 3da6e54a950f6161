/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rowcheck.c: the invariants that make a snapshot restorable, checked on
 * the catalog rows that begin or end in a range of snapshots: what a
 * receiver is about to commit (the range of its bundle), or all of them.
 * In every snapshot of the range:
 *
 *	- every path is safe: relative, no empty, "." or ".." component;
 *	- the source directory itself ("") is there, as a directory;
 *	- a path has one row at most, and a name is not both a directory
 *	  ("x/") and something else ("x");
 *	- the parent of every path is there, as a directory;
 *	- a file's size is its content's size;
 *	- its type is known, a device number is only a device's, a hard-link
 *	  identity only a regular file's, its extended attributes are
 *	  well-formed and within the kernel's limits.
 *
 * Each query runs in the caller's transaction, so that uncommitted rows
 * are seen.  A violation gives RD_ECORRUPT naming the path.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_int.h"

/* Far past any snapshot id: the end of a row that is still current. */
#define OPEN_END "4611686018427387904"

struct rowcheck {
	sqlite3 *db;
	int64_t since, newest;
	const char *what; /* "bundle" or "catalog", for messages */
	sqlite3_stmt *parent, *gap;
};

/* "path" for a message: a directory without its '/', the root as ".". */
static void
shown(const unsigned char *p, size_t n, char *buf, size_t len)
{
	if (n > 0 && p[n - 1] == '/')
		n--;
	if (n == 0)
		snprintf(buf, len, ".");
	else
		snprintf(buf, len, "%.*s", (int)n, (const char *)p);
}

static int
bad_path(struct rowcheck *k, const unsigned char *p, size_t n, const char *why,
    struct rd_err *err)
{
	char path[512];

	shown(p, n, path, sizeof(path));
	return rd_err_set(err, RD_ECORRUPT, "%s has a bad row for '%s': %s",
	    k->what, path, why);
}

/* Run "sql" (binding since and newest); a row it returns is a violation. */
static int
none_of(struct rowcheck *k, const char *sql, const char *why,
    struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int r, ret = -1;

	if (rdi_db_query(k->db, &s, err, sql, "ii", k->since, k->newest) == -1)
		return -1;
	r = rdi_db_step(k->db, s, err);
	if (r == 1)
		bad_path(k, sqlite3_column_blob(s, 0),
		    (size_t)sqlite3_column_bytes(s, 0), why, err);
	else if (r == 0)
		ret = 0;
	sqlite3_finalize(s);
	return ret;
}

/*
 * Whether the directory "dir" (with its '/') is there in every snapshot
 * from "first" to "last": its rows, all directories, leave no snapshot
 * of the range uncovered.  Returns 1, 0 or -1.
 */
static int
covered(struct rowcheck *k, const unsigned char *dir, size_t dlen,
    int64_t first, int64_t last, struct rd_err *err)
{
	int64_t cur = first, rf, rl;
	int r;

	if (rdi_db_bind(k->db, k->parent, err, "bii", dir, dlen, last, first) ==
	    -1)
		return -1;
	while ((r = rdi_db_step(k->db, k->parent, err)) == 1) {
		if (sqlite3_column_int(k->parent, 0) != RD_TYPE_DIR)
			return 0;
		rf = sqlite3_column_int64(k->parent, 1);
		rl = sqlite3_column_int64(k->parent, 2);
		if (rf > cur) {
			/* a gap is harmless only if no snapshot falls in it */
			if (rdi_db_bind(k->db, k->gap, err, "ii", cur,
			        rf - 1) == -1)
				return -1;
			r = rdi_db_step(k->db, k->gap, err);
			if (r != 0)
				return r == 1 ? 0 : -1;
		}
		if (rl >= cur)
			cur = rl + 1;
		if (cur > last)
			break;
	}
	if (r == -1)
		return -1;
	if (cur <= last) {
		/* the tail: no snapshot may be left after the last row */
		if (rdi_db_bind(k->db, k->gap, err, "ii", cur, last) == -1)
			return -1;
		r = rdi_db_step(k->db, k->gap, err);
		if (r != 0)
			return r == 1 ? 0 : -1;
	}
	return 1;
}

/* Whether "type" is one an entry row may have. */
static int
known_type(int type)
{
	return type == RD_TYPE_FILE || type == RD_TYPE_DIR ||
	    type == RD_TYPE_SYMLINK || type == RD_TYPE_FIFO ||
	    type == RD_TYPE_CHR || type == RD_TYPE_BLK;
}

/* What is wrong with the type, device, link and attributes of a row. */
static const char *
row_fields(sqlite3_stmt *s)
{
	int type = sqlite3_column_int(s, 1);
	int64_t rdev = sqlite3_column_int64(s, 2), link;

	link = sqlite3_column_int64(s, 3);
	if (!known_type(type))
		return "unknown type";
	if (rdev != 0 && type != RD_TYPE_CHR && type != RD_TYPE_BLK)
		return "a device number on an entry that is not a device";
	if (rdev < 0 || rdev > (int64_t)UINT32_MAX)
		return "bad device number";
	if (link != 0 && type != RD_TYPE_FILE)
		return "a hard link to an entry that is not a regular file";
	if (link < 0)
		return "bad hard-link identity";
	if (sqlite3_column_type(s, 4) != SQLITE_NULL &&
	    (sqlite3_column_bytes(s, 4) == 0 ||
	        !rdi_xattrs_valid(sqlite3_column_blob(s, 4),
	            (size_t)sqlite3_column_bytes(s, 4))))
		return "bad extended attributes";
	return NULL;
}

/*
 * Every row that begins or ends in the range has a safe path (of any
 * length: each name at most NAME_MAX bytes, the whole at most
 * RDI_PATH_MAX), a known type, and bounded, well-formed device number,
 * link identity and extended attributes.
 */
static int
safe_paths(struct rowcheck *k, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *p;
	const char *why;
	char *path = NULL;
	size_t n;
	int r, ret = -1;

	if (rdi_db_prepare(k->db,
	        "SELECT path, type, rdev, link, xattrs FROM entries"
	        " WHERE (first > ?1 AND first <= ?2)"
	        " OR (last >= ?1 AND last < ?2) ORDER BY path",
	        &s, err) == -1)
		return -1;
	if (rdi_db_bind(k->db, s, err, "ii", k->since, k->newest) == -1)
		goto out;
	while ((r = rdi_db_step(k->db, s, err)) == 1) {
		p = sqlite3_column_blob(s, 0);
		n = (size_t)sqlite3_column_bytes(s, 0);
		why = row_fields(s);
		if (why != NULL) {
			bad_path(k, p, n, why, err);
			goto out;
		}
		if (n == 0 && sqlite3_column_int(s, 1) == RD_TYPE_DIR)
			continue; /* the root */
		if (n > 0 && sqlite3_column_int(s, 1) == RD_TYPE_DIR &&
		    p[n - 1] == '/')
			n--;
		if (n == 0 || n > RDI_PATH_MAX || memchr(p, '\0', n) != NULL) {
			bad_path(k, p, n, "unsafe path", err);
			goto out;
		}
		free(path);
		path = malloc(n + 1);
		if (path == NULL) {
			rd_err_set(err, RD_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(path, p, n);
		path[n] = '\0';
		if (!rdi_path_safe(path)) {
			bad_path(k, p, n, "unsafe path", err);
			goto out;
		}
	}
	if (r == -1)
		goto out;
	ret = 0;
out:
	free(path);
	sqlite3_finalize(s);
	return ret;
}

/* Every row of the range has its parent directory for its whole life. */
static int
parents(struct rowcheck *k, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *p;
	size_t n, d;
	int64_t first, last;
	int r, ret = -1;

	if (rdi_db_prepare(k->db,
	        "SELECT path, first, COALESCE(last, " OPEN_END ") FROM entries"
	        " WHERE first > ?1 AND first <= ?2 AND path <> x''",
	        &s, err) == -1 ||
	    rdi_db_prepare(k->db,
	        "SELECT type, first, COALESCE(last, " OPEN_END ") FROM entries"
	        " WHERE path = ?1 AND first <= ?2"
	        " AND COALESCE(last, " OPEN_END ") >= ?3 ORDER BY first",
	        &k->parent, err) == -1 ||
	    rdi_db_prepare(k->db,
	        "SELECT 1 FROM snapshots WHERE state = 'complete'"
	        " AND id BETWEEN ?1 AND ?2 LIMIT 1",
	        &k->gap, err) == -1)
		goto out;
	if (rdi_db_bind(k->db, s, err, "ii", k->since, k->newest) == -1)
		goto out;
	while ((r = rdi_db_step(k->db, s, err)) == 1) {
		p = sqlite3_column_blob(s, 0);
		n = (size_t)sqlite3_column_bytes(s, 0);
		first = sqlite3_column_int64(s, 1);
		last = sqlite3_column_int64(s, 2);
		if (last > k->newest)
			last = k->newest;
		/* the parent: up to and with the '/' before the last name */
		d = p[n - 1] == '/' ? n - 1 : n;
		while (d > 0 && p[d - 1] != '/')
			d--;
		r = covered(k, p, d, first, last, err);
		if (r == -1)
			goto out;
		if (r == 0) {
			bad_path(k, p, n, "its parent is not a directory", err);
			goto out;
		}
	}
	if (r == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(s);
	sqlite3_finalize(k->parent);
	sqlite3_finalize(k->gap);
	k->parent = k->gap = NULL;
	return ret;
}

/*
 * A directory that ends in the range, and is not there in the snapshot
 * after: nothing below it may still be there.
 */
static int
orphans(struct rowcheck *k, struct rd_err *err)
{
	static const char sql[] =
	    "SELECT c.path FROM entries d"
	    " JOIN snapshots n ON n.id = (SELECT MIN(id) FROM snapshots"
	    "  WHERE state = 'complete' AND id > d.last AND id <= ?2)"
	    " JOIN entries c ON c.path > d.path"
	    "  AND c.path < CAST(substr(d.path, 1, length(d.path) - 1)"
	    "   || '0' AS BLOB)"
	    "  AND c.first <= n.id AND COALESCE(c.last, " OPEN_END ") >= n.id"
	    " WHERE d.type = 100 AND d.last >= ?1 AND d.last < ?2"
	    " AND d.path <> x''"
	    " AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.path = d.path"
	    "  AND e.type = 100 AND e.first <= n.id"
	    "  AND COALESCE(e.last, " OPEN_END ") >= n.id)"
	    " LIMIT 1";

	return none_of(k, sql, "its directory is gone", err);
}

int
rdi_rows_check(sqlite3 *db, int64_t since, int64_t newest, const char *what,
    struct rd_err *err)
{
	struct rowcheck k = { db, since, newest, what, NULL, NULL };

	if (safe_paths(&k, err) == -1)
		return -1;

	/* one row per path, and no name both a directory and not */
	if (none_of(&k,
	        "SELECT a.path FROM entries a JOIN entries b"
	        " ON (b.path = a.path AND b.id <> a.id)"
	        " OR b.path = CAST(a.path || '/' AS BLOB)"
	        " WHERE a.first > ?1 AND a.first <= ?2"
	        " AND b.first <= COALESCE(a.last, " OPEN_END ")"
	        " AND a.first <= COALESCE(b.last, " OPEN_END ") LIMIT 1",
	        "it is there twice in one snapshot", err) == -1 ||
	    none_of(&k,
	        "SELECT a.path FROM entries a JOIN entries b"
	        " ON b.path = CAST(substr(a.path, 1, length(a.path) - 1)"
	        " AS BLOB)"
	        " WHERE a.type = 100 AND a.path <> x''"
	        " AND a.first > ?1 AND a.first <= ?2"
	        " AND b.first <= COALESCE(a.last, " OPEN_END ")"
	        " AND a.first <= COALESCE(b.last, " OPEN_END ") LIMIT 1",
	        "it is there twice in one snapshot", err) == -1)
		return -1;
	/* the root, in every snapshot of the range */
	if (none_of(&k,
	        "SELECT x'' FROM snapshots s WHERE s.state = 'complete'"
	        " AND s.id > ?1 AND s.id <= ?2 AND NOT EXISTS (SELECT 1"
	        " FROM entries e WHERE e.path = x'' AND e.type = 100"
	        " AND e.first <= s.id"
	        " AND COALESCE(e.last, " OPEN_END ") >= s.id)",
	        "the source directory is missing from a snapshot", err) == -1)
		return -1;
	/* a file is as large as its content */
	if (none_of(&k,
	        "SELECT e.path FROM entries e JOIN contents c ON c.sha = e.sha"
	        " WHERE e.first > ?1 AND e.first <= ?2 AND e.size <> c.size"
	        " LIMIT 1",
	        "its size is not its content's", err) == -1)
		return -1;
	return parents(&k, err) == -1 || orphans(&k, err) == -1 ? -1 : 0;
}
