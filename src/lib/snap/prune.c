/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * prune.c: retention.  Keep rules pick the snapshots to keep; the others
 * go with the catalog rows that only they used, and the contents that no
 * remaining row names.  A kept content stored as a delta against a
 * content that goes is rebased: rebuilt, and stored again as a delta
 * against its nearest kept ancestor (when that pays) or whole.  Packs
 * whose unused share grows past a threshold are rewritten.
 *
 * Everything happens in one catalog transaction.  New packs are fsynced
 * and renamed into packs/ before it commits; the old pack files are
 * removed after, when no reader has the store open (else the next writer
 * removes them).  A crash before the commit leaves the store as it was
 * plus orphan packs; after it, the pruned store plus orphan packs.
 *
 * The work is bounded by what goes: rows are found by their snapshot
 * ranges through the entries_first index, contents through the rows
 * removed, packs through the objects removed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rd_int.h"

#define CHUNK     (256 * 1024)
#define SMALL_MAX (1024 * 1024) /* contents with no signature */

struct psnap {
	struct rd_snapinfo si;
	int keep;
	char why[96];
};

struct packref {
	int64_t id;
	char name[33];
	int64_t size;
};

struct pctx {
	struct rd_store *st;
	const struct rd_prune_opts *o;
	struct rd_prune_result *res;
	struct psnap *snaps; /* oldest first */
	size_t nsnaps, cap;
	struct rdi_packcache *pc;
	int tmpfd;
	struct rdi_packw pw;
	int pw_open;
	struct rdi_zenc *zenc;
	unsigned char *buf;
	struct rdi_buf sig, cbuf;
	struct packref *written; /* new packs, finished */
	size_t nwritten, capwritten;
	struct packref *dropped; /* old packs to unlink after commit */
	size_t ndropped, capdropped;
};

static int
collect(void *arg, const struct rd_snapinfo *si)
{
	struct pctx *c = arg;
	struct psnap *p;

	if (c->nsnaps == c->cap) {
		size_t n = c->cap != 0 ? c->cap * 2 : 64;

		p = realloc(c->snaps, n * sizeof(*p));
		if (p == NULL)
			return -2;
		c->snaps = p;
		c->cap = n;
	}
	p = &c->snaps[c->nsnaps++];
	memset(p, 0, sizeof(*p));
	p->si = *si;
	return 0;
}

static void
keep(struct psnap *p, const char *why)
{
	size_t n = strlen(p->why);

	p->keep = 1;
	if (strstr(p->why, why) != NULL)
		return;
	snprintf(p->why + n, sizeof(p->why) - n, "%s%s", n > 0 ? ", " : "",
	    why);
}

static struct psnap *
find_snap(struct pctx *c, int64_t id)
{
	size_t lo = 0, hi = c->nsnaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->snaps[mid].si.id == id)
			return &c->snaps[mid];
		if (c->snaps[mid].si.id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The calendar period of "t" for rule "rule": hour, day, week, month, year. */
static void
bucket(int64_t t, int rule, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	size_t n = 0;

	if (localtime_r(&tt, &tm) != NULL) {
		switch (rule) {
		case 0:
			n = strftime(out, len, "%Y-%m-%d %H", &tm);
			break;
		case 1:
			n = strftime(out, len, "%Y-%m-%d", &tm);
			break;
		case 2:
			n = strftime(out, len, "%G-W%V", &tm);
			break;
		case 3:
			n = strftime(out, len, "%Y-%m", &tm);
			break;
		default:
			n = strftime(out, len, "%Y", &tm);
			break;
		}
	}
	if (n == 0)
		snprintf(out, len, "%lld", (long long)t);
}

/*
 * Apply the keep rules, newest first, as restic's forget and borg's prune
 * do: "last" keeps the newest N; each calendar rule keeps the newest
 * snapshot of each of the N most recent periods that have one.
 */
static void
apply_rules(struct pctx *c)
{
	static const char *const names[] = { "hourly", "daily", "weekly",
		"monthly", "yearly" };
	const int counts[] = { c->o->keep_hourly, c->o->keep_daily,
		c->o->keep_weekly, c->o->keep_monthly, c->o->keep_yearly };
	char cur[32], last[32];
	size_t r, i;
	int n;

	for (i = c->nsnaps, n = 0; i > 0 && n < c->o->keep_last; i--, n++)
		keep(&c->snaps[i - 1], "last");
	for (r = 0; r < 5; r++) {
		last[0] = '\0';
		for (i = c->nsnaps, n = 0; i > 0 && n < counts[r]; i--) {
			bucket(c->snaps[i - 1].si.started, (int)r, cur,
			    sizeof(cur));
			if (strcmp(cur, last) == 0)
				continue;
			memcpy(last, cur, sizeof(last));
			keep(&c->snaps[i - 1], names[r]);
			n++;
		}
	}
	if (c->nsnaps > 0)
		keep(&c->snaps[c->nsnaps - 1], "newest");
}

/* Keep what others depend on: standbys' confirmed, replicas, promotions. */
static int
protect(struct pctx *c, struct rd_err *err)
{
	static const char sql[] =
	    "SELECT 'standby', CAST(value AS INTEGER) FROM meta"
	    " WHERE key LIKE 'standby:%'"
	    " UNION ALL SELECT 'replica', version FROM replicas"
	    " UNION ALL SELECT 'replica', target FROM replicas"
	    " WHERE target IS NOT NULL"
	    " UNION ALL SELECT 'promotion', version FROM promotions"
	    " WHERE state = 'running'";
	sqlite3_stmt *s = NULL;
	struct psnap *p;
	int r;

	if (rdi_db_prepare(c->st->db, sql, &s, err) == -1)
		return -1;
	while ((r = rdi_db_step(c->st->db, s, err)) == 1) {
		p = find_snap(c, sqlite3_column_int64(s, 1));
		if (p != NULL)
			keep(p, (const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	return r;
}

/* Prepare "sql", with up to two int64 parameters, ?1 = "a" and ?2 = "b". */
static int
prepare_ids(struct rd_store *st, const char *sql, int64_t a, int64_t b,
    sqlite3_stmt **s, struct rd_err *err)
{
	int n;

	if (rdi_db_prepare(st->db, sql, s, err) == -1)
		return -1;
	n = sqlite3_bind_parameter_count(*s);
	if (n >= 1 &&
	    rdi_db_bind(st->db, *s, err, n >= 2 ? "ii" : "i", a, b) == -1) {
		sqlite3_finalize(*s);
		*s = NULL;
		return -1;
	}
	return 0;
}

static int
exec_ids(struct rd_store *st, const char *sql, int64_t a, int64_t b,
    int64_t *changes, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (prepare_ids(st, sql, a, b, &s, err) == -1)
		return -1;
	r = rdi_db_step(st->db, s, err);
	sqlite3_finalize(s);
	if (r == -1)
		return -1;
	if (changes != NULL)
		*changes += sqlite3_changes(st->db);
	return 0;
}

/* One int64 from a query with up to two int64 parameters. */
static int
query_i64(struct rd_store *st, const char *sql, int64_t a, int64_t b,
    int64_t *out, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (prepare_ids(st, sql, a, b, &s, err) == -1)
		return -1;
	r = rdi_db_step(st->db, s, err);
	if (r == 1)
		*out = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (r == 0)
		return rd_err_set(err, RD_EINTERNAL, "query returned no row");
	return r == 1 ? 0 : -1;
}

/*
 * Remove the snapshots that are not kept and the rows only they used.
 * A row is used only by removed snapshots when its range first..last
 * lies between two kept snapshots.  Contents of the removed rows become
 * candidates in the temp table pr_cand.
 */
static int
drop_rows(struct pctx *c, struct rd_err *err)
{
	static const char cand[] =
	    "INSERT OR IGNORE INTO pr_cand SELECT sha FROM entries"
	    " WHERE first > ?1 AND first < ?2 AND last < ?2"
	    " AND sha IS NOT NULL";
	static const char del[] =
	    "DELETE FROM entries"
	    " WHERE first > ?1 AND first < ?2 AND last < ?2";
	static const char gone[] = "DELETE FROM snapshots WHERE id >= ?1"
	                           " AND id < ?2";
	int64_t a = 0;
	size_t i, j;

	for (i = 0; i < c->nsnaps; i = j) {
		if (c->snaps[i].keep) {
			a = c->snaps[i].si.id;
			j = i + 1;
			continue;
		}
		for (j = i; j < c->nsnaps && !c->snaps[j].keep; j++)
			;
		/* the newest is always kept, so j < nsnaps */
		if (exec_ids(c->st, cand, a, c->snaps[j].si.id, NULL, err) ==
		        -1 ||
		    exec_ids(c->st, del, a, c->snaps[j].si.id,
		        &c->res->rows_removed, err) == -1 ||
		    exec_ids(c->st, gone, c->snaps[i].si.id, c->snaps[j].si.id,
		        NULL, err) == -1)
			return -1;
	}
	return 0;
}

/* Sum of object bytes (headers included) of the dead contents. */
static const char sql_dead_bytes[] =
    "SELECT COALESCE((SELECT SUM(len + 96) FROM contents"
    " WHERE sha IN (SELECT sha FROM pr_dead)), 0)"
    " + COALESCE((SELECT SUM(len + 96) FROM signatures"
    " WHERE sha IN (SELECT sha FROM pr_dead)), 0)";

static int
find_dead(struct pctx *c, struct rd_err *err)
{
	if (rdi_db_exec(c->st->db,
	        "INSERT INTO pr_dead SELECT k.sha FROM pr_cand k"
	        " WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.sha = k.sha)"
	        " AND EXISTS (SELECT 1 FROM contents t WHERE t.sha = k.sha);"
	        "INSERT INTO pr_rebase SELECT sha, depth FROM contents"
	        " WHERE base IN (SELECT sha FROM pr_dead)"
	        " AND sha NOT IN (SELECT sha FROM pr_dead);"
	        "INSERT OR IGNORE INTO pr_touched"
	        " SELECT pack FROM contents WHERE sha IN"
	        " (SELECT sha FROM pr_dead UNION ALL SELECT sha FROM pr_rebase)"
	        " UNION ALL SELECT pack FROM signatures"
	        " WHERE sha IN (SELECT sha FROM pr_dead);",
	        err) == -1)
		return -1;
	if (query_i64(c->st, "SELECT COUNT(*) FROM pr_dead", 0, 0,
	        &c->res->contents_removed, err) == -1 ||
	    query_i64(c->st, "SELECT COUNT(*) FROM pr_rebase", 0, 0,
	        &c->res->contents_rebased, err) == -1 ||
	    query_i64(c->st, sql_dead_bytes, 0, 0, &c->res->object_bytes,
	        err) == -1)
		return -1;
	return 0;
}

static int
remember(struct packref **arr, size_t *n, size_t *cap, int64_t id,
    const char *name, int64_t size, struct rd_err *err)
{
	struct packref *p;

	if (*n == *cap) {
		size_t k = *cap != 0 ? *cap * 2 : 16;

		p = realloc(*arr, k * sizeof(*p));
		if (p == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		*arr = p;
		*cap = k;
	}
	p = &(*arr)[(*n)++];
	p->id = id;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->size = size;
	return 0;
}

/* Finish the open pack and give its row the final size. */
static int
seal_pack(struct pctx *c, struct rd_err *err)
{
	int64_t size;

	if (!c->pw_open)
		return 0;
	c->pw_open = 0;
	if (rdi_packw_finish(c->st, &c->pw, &size, err) == -1) {
		rdi_packw_abort(c->st, &c->pw);
		return -1;
	}
	if (remember(&c->written, &c->nwritten, &c->capwritten, c->pw.id,
	        c->pw.name, size, err) == -1 ||
	    exec_ids(c->st, "UPDATE packs SET size = ?2 WHERE id = ?1",
	        c->pw.id, size, NULL, err) == -1)
		return -1;
	c->res->packs_written++;
	c->res->bytes_written += size;
	return 0;
}

/* A pack with room for the next object, with its row (size 0 for now). */
static int
open_pack(struct pctx *c, struct rd_err *err)
{
	int64_t id;

	if (c->pw_open && c->pw.off < RDI_PACK_MAX)
		return 0;
	if (seal_pack(c, err) == -1 ||
	    rdi_next_pack_id(c->st, &id, err) == -1 ||
	    rdi_packw_open(c->st, id, &c->pw, err) == -1)
		return -1;
	c->pw_open = 1;
	return rdi_db_run(c->st->db, err,
	    "INSERT INTO packs(id, name, size) VALUES (?, ?, 0)", "it",
	    (int64_t)id, c->pw.name);
}

/*
 * Store the content in "fd" ("size" bytes) as a new object: a delta
 * against the signature in c->sig when "base" is set, else whole with
 * the store's codec (raw when that saves less than 1/16).  A delta
 * larger than half the content is redone whole.  Fills kind, codec,
 * off and len.
 */
static int
store_content(struct pctx *c, int fd, int64_t size, const unsigned char *sha,
    const unsigned char *base, int *kind, int *codec, int64_t *off,
    int64_t *len, struct rd_err *err)
{
	struct rdi_rsjob *dj = NULL;
	struct rdi_zsink zs;
	off_t start;
	ssize_t n;
	int pass, ret = -1;

	if (open_pack(c, err) == -1)
		return -1;
	zs.z = c->zenc;
	zs.pw = &c->pw;
	start = c->pw.off;
	for (pass = base != NULL ? 0 : 1; pass < 3; pass++) {
		/* 0: delta, 1: compressed, 2: raw */
		if (rdi_packw_rollback(&c->pw, start, err) == -1 ||
		    lseek(fd, 0, SEEK_SET) == -1 ||
		    rdi_zenc_reset(c->zenc, err) == -1)
			goto out;
		*kind = pass == 0 ? RDI_OBJ_DELTA : RDI_OBJ_FULL;
		*codec = pass == 2 ? RD_CODEC_RAW : c->st->info.codec;
		if (pass == 0 &&
		    rdi_delta_new(c->sig.data, c->sig.len, &dj, err) == -1)
			goto out;
		if (rdi_packw_begin(&c->pw, *kind, *codec, sha,
		        pass == 0 ? base : NULL, err) == -1)
			goto out;
		while ((n = rdi_read_full(fd, c->buf, CHUNK, "rebuilt content",
		            err)) > 0) {
			int w;

			if (pass == 0)
				w = rdi_rsjob_write(dj, c->buf, (size_t)n,
				    rdi_zsink_write, &zs, err);
			else if (pass == 1)
				w = rdi_zsink_write(&zs, c->buf, (size_t)n,
				    err);
			else
				w = rdi_packw_sink(&c->pw, c->buf, (size_t)n,
				    err);
			if (w == -1)
				goto out;
		}
		if (n == -1)
			goto out;
		if (pass == 0 &&
		    (rdi_rsjob_finish(dj, rdi_zsink_write, &zs, err) == -1 ||
		        rdi_zenc_finish(c->zenc, rdi_packw_sink, &c->pw, err) ==
		            -1))
			goto out;
		if (pass == 1 &&
		    rdi_zenc_finish(c->zenc, rdi_packw_sink, &c->pw, err) == -1)
			goto out;
		rdi_rsjob_free(dj);
		dj = NULL;
		n = c->pw.off - start - RDI_OBJ_HDR;
		if (pass == 0 && n <= size / 2)
			break;
		if (pass == 1 && (size < 64 || n < size - size / 16))
			break;
	}
	if (rdi_packw_end(&c->pw, size, off, len, err) == -1)
		goto out;
	ret = 0;
out:
	rdi_rsjob_free(dj);
	return ret;
}

static int
fd_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	return rdi_write_all(*(int *)arg, buf, len, "temp file", err);
}

/*
 * The nearest ancestor of "sha" that stays, with its signature loaded
 * into c->sig and its depth in "*depth".  Returns 1 if there is one that
 * can be a delta base, 0 if the content must be stored whole, -1.
 */
static int
live_base(struct pctx *c, const unsigned char *sha, unsigned char *base,
    int64_t *depth, struct rd_err *err)
{
	sqlite3_stmt *up = NULL, *sig = NULL;
	int r, fd, ret = -1;

	if (rdi_db_prepare(c->st->db,
	        "SELECT base, base IN (SELECT sha FROM pr_dead)"
	        " FROM contents WHERE sha = ?",
	        &up, err) == -1 ||
	    rdi_db_prepare(c->st->db,
	        "SELECT s.off, p.name, COALESCE((SELECT depth FROM pr_new n"
	        " WHERE n.sha = s.sha), c.depth) FROM signatures s"
	        " JOIN packs p ON p.id = s.pack JOIN contents c ON c.sha = s.sha"
	        " WHERE s.sha = ?",
	        &sig, err) == -1)
		goto out;
	memcpy(base, sha, RD_HASH_LEN);
	for (;;) {
		if (rdi_db_bind(c->st->db, up, err, "h", base) == -1)
			goto out;
		r = rdi_db_step(c->st->db, up, err);
		if (r == -1)
			goto out;
		if (r == 0 || sqlite3_column_type(up, 0) == SQLITE_NULL ||
		    sqlite3_column_bytes(up, 0) != RD_HASH_LEN) {
			ret = 0; /* the root of the chain goes */
			goto out;
		}
		memcpy(base, sqlite3_column_blob(up, 0), RD_HASH_LEN);
		if (sqlite3_column_int(up, 1) == 0)
			break;
	}
	if (rdi_db_bind(c->st->db, sig, err, "h", base) == -1)
		goto out;
	r = rdi_db_step(c->st->db, sig, err);
	if (r == -1)
		goto out;
	if (r == 1)
		*depth = sqlite3_column_int64(sig, 2);
	if (r == 0 || *depth + 1 > c->st->info.chain_max) {
		ret = 0;
		goto out;
	}
	fd = rdi_packcache_fd(c->pc, (const char *)sqlite3_column_text(sig, 1),
	    err);
	c->sig.len = 0;
	if (fd == -1 ||
	    rdi_obj_read(fd, (const char *)sqlite3_column_text(sig, 1),
	        sqlite3_column_int64(sig, 0), base, RDI_OBJ_SIG, rdi_buf_sink,
	        &c->sig, NULL, err) == -1)
		goto out;
	ret = 1;
out:
	sqlite3_finalize(sig);
	sqlite3_finalize(up);
	return ret;
}

/*
 * Store one kept content again, no longer needing any content that goes.
 * The new object is recorded in pr_new: the catalog keeps pointing at the
 * old chain, which later rebuilds still read, until rebase() is done.
 */
static int
rebase_one(struct pctx *c, const unsigned char *sha, int64_t size,
    sqlite3_stmt *upd, struct rd_err *err)
{
	unsigned char base[RD_HASH_LEN];
	int64_t depth = -1, off, len;
	int fd, kind, codec, has_base, ret = -1;

	has_base = size > SMALL_MAX ? live_base(c, sha, base, &depth, err) : 0;
	if (has_base == -1)
		return -1;
	fd = rdi_tmpfile(c->tmpfd, err);
	if (fd == -1)
		return -1;
	if (rdi_content_read(c->st, c->st->db, c->pc, sha, c->tmpfd, fd_sink,
	        &fd, err) == -1 ||
	    store_content(c, fd, size, sha, has_base ? base : NULL, &kind,
	        &codec, &off, &len, err) == -1)
		goto out;
	if (rdi_db_bind(c->st->db, upd, err, "iihiiiih", (int64_t)kind,
	        (int64_t)codec, kind == RDI_OBJ_DELTA ? base : NULL,
	        kind == RDI_OBJ_DELTA ? depth + 1 : 0, (int64_t)c->pw.id, off,
	        len, sha) == -1 ||
	    rdi_db_step(c->st->db, upd, err) == -1)
		goto out;
	ret = 0;
out:
	close(fd);
	return ret;
}

/*
 * Rebase every kept content whose delta chain runs through a content
 * that goes, ancestors first, then correct the depths below them.
 */
static int
rebase(struct pctx *c, struct rd_err *err)
{
	sqlite3_stmt *s = NULL, *upd = NULL;
	unsigned char sha[RD_HASH_LEN];
	int64_t est;
	int r, ret = -1;

	if (c->o->dry_run) {
		/*
		 * Nothing is written.  A rebased content will take about what
		 * it and the removed part of its chain take now: a delta at
		 * most the deltas it replaces, a whole content about the
		 * removed whole one it was built on.
		 */
		if (query_i64(c->st,
		        "WITH RECURSIVE ch(base, len) AS ("
		        " SELECT base, len + 96 FROM contents"
		        " WHERE sha IN (SELECT sha FROM pr_rebase)"
		        " UNION ALL SELECT p.base, p.len + 96 FROM contents p"
		        " JOIN ch ON p.sha = ch.base"
		        " WHERE p.sha IN (SELECT sha FROM pr_dead))"
		        " SELECT COALESCE(SUM(len), 0) FROM ch",
		        0, 0, &est, err) == -1)
			return -1;
		c->res->bytes_written += est;
		/* let the rows go in the rollback */
		return rdi_db_exec(c->st->db,
		    "UPDATE contents SET base = NULL"
		    " WHERE sha IN (SELECT sha FROM pr_rebase)",
		    err);
	}
	if (rdi_db_prepare(c->st->db,
	        "SELECT r.sha, c.size FROM pr_rebase r"
	        " JOIN contents c ON c.sha = r.sha ORDER BY r.depth",
	        &s, err) == -1 ||
	    rdi_db_prepare(c->st->db,
	        "INSERT INTO pr_new(kind, codec, base, depth, pack, off, len,"
	        " sha) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	        &upd, err) == -1)
		goto out;
	while ((r = rdi_db_step(c->st->db, s, err)) == 1) {
		if (sqlite3_column_bytes(s, 0) != RD_HASH_LEN) {
			rd_err_set(err, RD_ECORRUPT, "bad content hash");
			goto out;
		}
		memcpy(sha, sqlite3_column_blob(s, 0), RD_HASH_LEN);
		if (rebase_one(c, sha, sqlite3_column_int64(s, 1), upd, err) ==
		    -1)
			goto out;
	}
	if (r == -1)
		goto out;
	ret = rdi_db_exec(c->st->db,
	    "UPDATE contents SET (kind, codec, base, depth, pack, off, len) ="
	    " (SELECT kind, codec, base, depth, pack, off, len FROM pr_new n"
	    " WHERE n.sha = contents.sha)"
	    " WHERE sha IN (SELECT sha FROM pr_new);"
	    "WITH RECURSIVE d(sha, depth) AS ("
	    " SELECT sha, depth FROM contents"
	    " WHERE sha IN (SELECT sha FROM pr_rebase)"
	    " UNION ALL SELECT c.sha, d.depth + 1 FROM contents c"
	    " JOIN d ON c.base = d.sha"
	    " WHERE c.sha NOT IN (SELECT sha FROM pr_rebase))"
	    " UPDATE contents SET depth = (SELECT MAX(depth) FROM d"
	    " WHERE d.sha = contents.sha)"
	    " WHERE sha IN (SELECT sha FROM d)"
	    " AND sha NOT IN (SELECT sha FROM pr_rebase)",
	    err);
out:
	sqlite3_finalize(upd);
	sqlite3_finalize(s);
	return ret;
}

struct objref {
	unsigned char sha[RD_HASH_LEN];
	int64_t off;
	int sig;
};

/* Copy the objects that stay in pack "p" into new packs. */
static int
rewrite_pack(struct pctx *c, const struct packref *p, struct rd_err *err)
{
	static const char *const upd_sql[2] = {
		"UPDATE contents SET pack = ?, off = ? WHERE sha = ?",
		"UPDATE signatures SET pack = ?, off = ? WHERE sha = ?",
	};
	sqlite3_stmt *s = NULL, *upd[2] = { NULL, NULL };
	struct objref *objs = NULL, *o;
	size_t n = 0, cap = 0, i;
	int64_t off;
	int r, fd, ret = -1;

	if (rdi_db_prepare(c->st->db,
	        "SELECT sha, off, 0 FROM contents WHERE pack = ?1"
	        " UNION ALL SELECT sha, off, 1 FROM signatures WHERE pack = ?1"
	        " ORDER BY 2",
	        &s, err) == -1 ||
	    rdi_db_prepare(c->st->db, upd_sql[0], &upd[0], err) == -1 ||
	    rdi_db_prepare(c->st->db, upd_sql[1], &upd[1], err) == -1)
		goto out;
	if (rdi_db_bind(c->st->db, s, err, "i", (int64_t)p->id) == -1)
		goto out;
	while ((r = rdi_db_step(c->st->db, s, err)) == 1) {
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 256;
			o = realloc(objs, cap * sizeof(*o));
			if (o == NULL) {
				rd_err_set(err, RD_ENOMEM, "out of memory");
				goto out;
			}
			objs = o;
		}
		o = &objs[n++];
		if (sqlite3_column_bytes(s, 0) != RD_HASH_LEN) {
			rd_err_set(err, RD_ECORRUPT, "bad content hash");
			goto out;
		}
		memcpy(o->sha, sqlite3_column_blob(s, 0), RD_HASH_LEN);
		o->off = sqlite3_column_int64(s, 1);
		o->sig = sqlite3_column_int(s, 2);
	}
	if (r == -1)
		goto out;
	for (i = 0; i < n; i++) {
		o = &objs[i];
		if (open_pack(c, err) == -1)
			goto out;
		fd = rdi_packcache_fd(c->pc, p->name, err);
		if (fd == -1 ||
		    rdi_obj_copy(fd, p->name, o->off, o->sha, &c->pw, &off,
		        err) == -1)
			goto out;
		if (rdi_db_bind(c->st->db, upd[o->sig], err, "iih",
		        (int64_t)c->pw.id, off, o->sha) == -1 ||
		    rdi_db_step(c->st->db, upd[o->sig], err) == -1)
			goto out;
	}
	ret = 0;
out:
	free(objs);
	sqlite3_finalize(upd[1]);
	sqlite3_finalize(upd[0]);
	sqlite3_finalize(s);
	return ret;
}

/*
 * Look at every pack that lost objects: drop it when nothing in it stays,
 * rewrite it when more than max_unused percent of it is unused.
 */
static int
repack(struct pctx *c, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct packref *touched = NULL, p;
	size_t n = 0, cap = 0, i;
	int64_t live;
	int r, ret = -1;

	if (rdi_db_prepare(c->st->db,
	        "SELECT p.id, p.name, p.size FROM packs p"
	        " JOIN pr_touched t ON t.pack = p.id ORDER BY p.id",
	        &s, err) == -1)
		return -1;
	while ((r = rdi_db_step(c->st->db, s, err)) == 1)
		if (remember(&touched, &n, &cap, sqlite3_column_int64(s, 0),
		        (const char *)sqlite3_column_text(s, 1),
		        sqlite3_column_int64(s, 2), err) == -1)
			goto out;
	if (r == -1)
		goto out;
	for (i = 0; i < n; i++) {
		p = touched[i];
		if (query_i64(c->st,
		        "SELECT COALESCE((SELECT SUM(len + 96) FROM contents"
		        " WHERE pack = ?1"
		        " AND sha NOT IN (SELECT sha FROM pr_rebase)), 0)"
		        " + COALESCE((SELECT SUM(len + 96) FROM signatures"
		        " WHERE pack = ?1), 0)",
		        p.id, 0, &live, err) == -1)
			goto out;
		if (live < 0 || live > p.size || p.size > RDI_MAX_SIZE) {
			rd_err_set(err, RD_ECORRUPT,
			    "pack '%s': the catalog puts more in it than it holds (run rdsnap verify)",
			    p.name);
			goto out;
		}
		if (live > 0 &&
		    (p.size - 8 - live) * 100 <= p.size * c->o->max_unused)
			continue;
		if (live > 0) {
			c->res->packs_rewritten++;
			if (c->o->dry_run)
				c->res->bytes_written += live;
			else if (rewrite_pack(c, &p, err) == -1)
				goto out;
		}
		c->res->packs_removed++;
		c->res->bytes_removed += p.size;
		if (!c->o->dry_run &&
		    (remember(&c->dropped, &c->ndropped, &c->capdropped, p.id,
		         p.name, p.size, err) == -1 ||
		        exec_ids(c->st, "DELETE FROM packs WHERE id = ?1", p.id,
		            0, NULL, err) == -1))
			goto out;
	}
	ret = 0;
out:
	free(touched);
	sqlite3_finalize(s);
	return ret;
}

/* Remove the dropped pack files, unless a reader may still use them. */
static void
unlink_dropped(struct pctx *c)
{
	struct rd_err err = RD_ERR_INIT;
	char path[64];
	size_t i;

	if (c->ndropped == 0)
		return;
	if (!rdi_store_no_readers(c->st)) {
		c->res->packs_deferred = (int64_t)c->ndropped;
		return;
	}
	for (i = 0; i < c->ndropped; i++) {
		snprintf(path, sizeof(path), "packs/%s.pack",
		    c->dropped[i].name);
		if (unlinkat(c->st->dfd, path, 0) == -1 && errno != ENOENT)
			c->res->packs_deferred++;
	}
	(void)rdi_pack_dir_sync(c->st, &err);
	rdi_store_readers_release(c->st);
}

/* After a failure: remove the packs this run wrote (nothing names them). */
static void
discard_written(struct pctx *c)
{
	char path[64];
	size_t i;

	if (c->pw_open)
		rdi_packw_abort(c->st, &c->pw);
	c->pw_open = 0;
	for (i = 0; i < c->nwritten; i++) {
		snprintf(path, sizeof(path), "packs/%s.pack",
		    c->written[i].name);
		unlinkat(c->st->dfd, path, 0);
	}
}

static const char sql_temp[] =
    "CREATE TEMP TABLE pr_cand(sha BLOB PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TEMP TABLE pr_dead(sha BLOB PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TEMP TABLE pr_rebase(sha BLOB PRIMARY KEY, depth INTEGER)"
    " WITHOUT ROWID;"
    "CREATE TEMP TABLE pr_touched(pack INTEGER PRIMARY KEY);"
    "CREATE TEMP TABLE pr_new(sha BLOB PRIMARY KEY, kind INTEGER,"
    " codec INTEGER, base BLOB, depth INTEGER, pack INTEGER, off INTEGER,"
    " len INTEGER) WITHOUT ROWID;";

static int
prune_txn(struct pctx *c, struct rd_err *err)
{
	if (rdi_db_exec(c->st->db, sql_temp, err) == -1 ||
	    drop_rows(c, err) == -1 ||
	    (c->o->orphans &&
	        rdi_db_exec(c->st->db,
	            "INSERT OR IGNORE INTO pr_cand SELECT sha FROM contents c"
	            " WHERE NOT EXISTS (SELECT 1 FROM entries e"
	            " WHERE e.sha = c.sha)",
	            err) == -1) ||
	    find_dead(c, err) == -1 || rebase(c, err) == -1 ||
	    rdi_db_exec(c->st->db,
	        "DELETE FROM signatures WHERE sha IN (SELECT sha FROM pr_dead);"
	        "DELETE FROM contents WHERE sha IN (SELECT sha FROM pr_dead);",
	        err) == -1 ||
	    repack(c, err) == -1 || seal_pack(c, err) == -1)
		return -1;
	return 0;
}

static int
forget_standby(struct pctx *c, struct rd_err *err)
{
	char key[64];

	snprintf(key, sizeof(key), "standby:%s", c->o->forget_standby);
	if (rdi_db_run(c->st->db, err, "DELETE FROM meta WHERE key = ?", "t",
	        key) == -1)
		return -1;
	if (sqlite3_changes(c->st->db) == 0)
		return rd_err_set(err, RD_ENOENT,
		    "no standby '%s' is recorded in '%s'", c->o->forget_standby,
		    c->st->path);
	return 0;
}

static int
has_rules(const struct rd_prune_opts *o)
{
	return o->keep_last > 0 || o->keep_hourly > 0 || o->keep_daily > 0 ||
	    o->keep_weekly > 0 || o->keep_monthly > 0 || o->keep_yearly > 0;
}

static void
pctx_release(struct pctx *c)
{
	free(c->snaps);
	free(c->written);
	free(c->dropped);
	free(c->buf);
	rdi_buf_release(&c->sig);
	rdi_buf_release(&c->cbuf);
	rdi_zenc_free(c->zenc);
	rdi_packcache_free(c->pc);
	if (c->tmpfd != -1)
		close(c->tmpfd);
}

int
rd_snap_prune(struct rd_store *st, const struct rd_prune_opts *opts,
    struct rd_prune_result *res, struct rd_err *err)
{
	struct pctx c;
	double t0 = rd_monotonic();
	size_t i;
	int r, in_txn = 0, ret = -1;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.st = st;
	c.o = opts;
	c.res = res;
	c.tmpfd = -1;
	if (st->mode != RD_OPEN_WRITE)
		return rd_err_set(err, RD_EINTERNAL, "prune needs a writer");
	if (opts->max_unused < 0 || opts->max_unused > 100)
		return rd_err_set(err, RD_EUSAGE,
		    "unused share %d%% is out of range (0 to 100)",
		    opts->max_unused);
	if (!has_rules(opts) && opts->forget_standby == NULL && !opts->orphans)
		return rd_err_set(err, RD_EUSAGE,
		    "prune needs at least one --keep rule");
	if (rdi_db_exec(st->db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	in_txn = 1;
	if (opts->forget_standby != NULL && forget_standby(&c, err) == -1)
		goto out;
	r = rd_snap_list(st, collect, &c, err);
	if (r == -2) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	if (r != 0)
		goto out;
	if (!has_rules(opts)) {
		/* only --forget-standby or --orphans: no snapshot goes */
		for (i = 0; i < c.nsnaps; i++)
			keep(&c.snaps[i], "no rule");
	}
	apply_rules(&c);
	if (protect(&c, err) == -1)
		goto out;
	for (i = 0; i < c.nsnaps; i++) {
		if (c.snaps[i].keep)
			res->kept++;
		else
			res->removed++;
	}
	if (res->removed > 0 || opts->orphans) {
		c.pc = rdi_packcache_new(st);
		c.buf = malloc(CHUNK);
		c.tmpfd = openat(st->dfd, "tmp",
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (c.pc == NULL || c.buf == NULL) {
			rd_err_set(err, RD_ENOMEM, "out of memory");
			goto out;
		}
		if (c.tmpfd == -1) {
			rd_err_sys(err, RD_EIO, "cannot open '%s/tmp'",
			    st->path);
			goto out;
		}
		if (rdi_zenc_new(st->info.codec, &c.zenc, err) == -1 ||
		    prune_txn(&c, err) == -1)
			goto out;
	}
	res->bytes_freed = res->bytes_removed - res->bytes_written;
	if (!opts->dry_run) {
		if (rdi_db_exec(st->db, "COMMIT", err) == -1)
			goto out;
		in_txn = 0;
		unlink_dropped(&c);
	}
	for (i = 0; opts->snapshot != NULL && i < c.nsnaps; i++)
		opts->snapshot(opts->arg, &c.snaps[i].si, c.snaps[i].keep,
		    c.snaps[i].why);
	ret = 0;
out:
	if (in_txn) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		if (ret == -1)
			discard_written(&c);
	}
	sqlite3_exec(st->db,
	    "DROP TABLE IF EXISTS temp.pr_cand;"
	    "DROP TABLE IF EXISTS temp.pr_dead;"
	    "DROP TABLE IF EXISTS temp.pr_rebase;"
	    "DROP TABLE IF EXISTS temp.pr_touched;"
	    "DROP TABLE IF EXISTS temp.pr_new;",
	    NULL, NULL, NULL);
	res->seconds = rd_monotonic() - t0;
	pctx_release(&c);
	return ret;
}
