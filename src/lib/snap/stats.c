/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats.c: the size and makeup of a store, for "rdsnap stats".
 *
 * Everything comes from aggregate queries (COUNT, SUM, MAX and AVG over
 * snapshots, contents, signatures and packs, and one GROUP BY over the
 * chain depths) in one read transaction, plus one pass over the names in
 * STORE/packs: the cost does not grow with the number of entries beyond
 * SQLite counting their rows.  A pack that a writer renames into packs/
 * after the transaction began counts as an orphan until it commits.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"

#define PACK_MAGIC_LEN ((int64_t)sizeof(RDI_PACK_MAGIC) - 1)

/*
 * Run "sql", which returns one row, into "vals": "n" integers (NULL
 * counts as 0).  Returns 0 or -1.
 */
static int
query_ints(sqlite3 *db, const char *sql, int64_t *vals, int n,
    struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int i, r, ret = -1;

	if (rdi_db_prepare(db, sql, &s, err) == -1)
		return -1;
	r = rdi_db_step(db, s, err);
	if (r == -1)
		goto out;
	if (r == 0) {
		rd_err_set(err, RD_EINTERNAL, "catalog: no row from '%s'", sql);
		goto out;
	}
	for (i = 0; i < n; i++)
		vals[i] = sqlite3_column_int64(s, i);
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

static int
snapshot_stats(sqlite3 *db, struct rd_store_stats *out, struct rd_err *err)
{
	int64_t v[6];

	if (query_ints(db,
	        "SELECT COUNT(*), MIN(id), MAX(id), SUM(bytes),"
	        " (SELECT CAST(started AS INTEGER) FROM snapshots"
	        "  WHERE state = 'complete' ORDER BY id LIMIT 1),"
	        " (SELECT CAST(started AS INTEGER) FROM snapshots"
	        "  WHERE state = 'complete' ORDER BY id DESC LIMIT 1)"
	        " FROM snapshots WHERE state = 'complete'",
	        v, 6, err) == -1)
		return -1;
	out->snapshots = v[0];
	out->oldest = v[1];
	out->newest = v[2];
	out->logical_bytes = v[3];
	out->oldest_time = v[4];
	out->newest_time = v[5];
	if (query_ints(db, "SELECT COUNT(*) FROM entries", v, 1, err) == -1)
		return -1;
	out->entries = v[0];
	return 0;
}

static int
content_stats(sqlite3 *db, struct rd_store_stats *out, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int64_t v[10], depth, sum;
	int r, ret = -1;

	if (query_ints(db,
	        "SELECT COUNT(*), SUM(kind = 0), SUM(kind = 1), SUM(size),"
	        " SUM(CASE WHEN kind = 0 THEN size END),"
	        " SUM(CASE WHEN kind = 0 THEN len END),"
	        " SUM(CASE WHEN kind = 1 THEN size END),"
	        " SUM(CASE WHEN kind = 1 THEN len END),"
	        " MAX(depth), SUM(len) FROM contents",
	        v, 10, err) == -1)
		return -1;
	out->contents = v[0];
	out->full = v[1];
	out->delta = v[2];
	out->unique_bytes = v[3];
	out->full_raw = v[4];
	out->full_stored = v[5];
	out->delta_raw = v[6];
	out->delta_stored = v[7];
	out->live_bytes = v[9] + RDI_OBJ_HDR * v[0];
	if (v[8] < 0 || v[8] > RD_DEPTH_MAX)
		return rd_err_set(err, RD_ECORRUPT,
		    "catalog: delta chain depth %lld is out of range",
		    (long long)v[8]);
	out->depth_max = (int)v[8];
	if (query_ints(db, "SELECT COUNT(*), SUM(len) FROM signatures", v, 2,
	        err) == -1)
		return -1;
	out->signatures = v[0];
	out->signature_bytes = v[1];
	out->live_bytes += v[1] + RDI_OBJ_HDR * v[0];

	/* at most RD_DEPTH_MAX + 1 groups */
	if (rdi_db_prepare(db,
	        "SELECT depth, COUNT(*) FROM contents GROUP BY depth", &s,
	        err) == -1)
		return -1;
	sum = 0;
	for (;;) {
		r = rdi_db_step(db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		depth = sqlite3_column_int64(s, 0);
		if (depth < 0 || depth > RD_DEPTH_MAX) {
			rd_err_set(err, RD_ECORRUPT,
			    "catalog: delta chain depth %lld is out of range",
			    (long long)depth);
			goto out;
		}
		out->depth_count[depth] = sqlite3_column_int64(s, 1);
		sum += depth * out->depth_count[depth];
	}
	out->depth_mean =
	    out->contents > 0 ? (double)sum / (double)out->contents : 0.0;
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

/*
 * Size of "name" in the store directory, 0 if it does not exist.
 * Returns 0 or -1.
 */
static int
file_size(struct rd_store *st, const char *name, int64_t *size,
    struct rd_err *err)
{
	struct stat sb;

	*size = 0;
	if (fstatat(st->dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		return rd_err_sys(err, RD_EIO, "cannot stat '%s/%s'", st->path,
		    name);
	}
	if (S_ISREG(sb.st_mode))
		*size = (int64_t)sb.st_size;
	return 0;
}

static int
count_pack(void *arg, int pfd, const char *file, int known, int64_t size,
    struct rd_err *err)
{
	struct rd_store_stats *out = arg;

	(void)pfd;
	(void)file;
	(void)err;
	out->packs++;
	out->pack_bytes += size;
	if (!known) {
		out->orphan_packs++;
		out->orphan_bytes += size;
	}
	return 0;
}

int
rd_store_stats(struct rd_store *st, struct rd_store_stats *out,
    struct rd_err *err)
{
	struct rd_store_stats rs;
	int64_t v[2], wal;
	int ret = -1;

	memset(&rs, 0, sizeof(rs));
	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		return -1;
	if (snapshot_stats(st->db, &rs, err) == -1 ||
	    content_stats(st->db, &rs, err) == -1 ||
	    query_ints(st->db, "SELECT COUNT(*), SUM(size) FROM packs", v, 2,
	        err) == -1)
		goto out;
	rs.catalog_packs = v[0];
	rs.unreferenced_bytes = v[1] - PACK_MAGIC_LEN * v[0] - rs.live_bytes;
	if (rdi_pack_files(st, count_pack, &rs, err) == -1 ||
	    file_size(st, "catalog.db", &rs.catalog_bytes, err) == -1 ||
	    file_size(st, "catalog.db-wal", &wal, err) == -1)
		goto out;
	rs.catalog_bytes += wal;
	rs.disk_bytes = rs.pack_bytes + rs.catalog_bytes;
	*out = rs;
	ret = 0;
out:
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return ret;
}
