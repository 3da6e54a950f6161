/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verify.c: checking a store.  The fast check proves that the catalog is
 * sound, that every pack it names is there and long enough, and that
 * every object header is where the catalog says; --read-data rebuilds
 * every content and checks its SHA-256.  Each problem is reported with
 * the snapshots and paths that it damages.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"

#define USES_MAX 10

struct vctx {
	struct rd_store *st;
	const struct rd_verify_opts *opts;
	struct rd_verify_result *res;
	sqlite3_stmt *uses;
	int64_t newest;
};

/* Describe which snapshots and paths need content "sha". */
static int
describe_uses(struct vctx *c, const unsigned char *sha, struct rdi_buf *out,
    struct rd_err *err)
{
	char line[512];
	int r, n = 0;
	int64_t first, last;

	out->len = 0;
	sqlite3_reset(c->uses);
	sqlite3_bind_blob(c->uses, 1, sha, RD_HASH_LEN, SQLITE_TRANSIENT);
	for (;;) {
		r = rdi_db_step(c->st->db, c->uses, err);
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		if (n == USES_MAX) {
			if (rdi_buf_append(out, "; ...", 5, err) == -1)
				return -1;
			break;
		}
		first = sqlite3_column_int64(c->uses, 1);
		last = sqlite3_column_type(c->uses, 2) == SQLITE_NULL
		    ? c->newest
		    : sqlite3_column_int64(c->uses, 2);
		if (first == last)
			snprintf(line, sizeof(line),
			    "%s'%.*s' in snapshot %lld", n > 0 ? "; " : "",
			    sqlite3_column_bytes(c->uses, 0),
			    (const char *)sqlite3_column_blob(c->uses, 0),
			    (long long)first);
		else
			snprintf(line, sizeof(line),
			    "%s'%.*s' in snapshots %lld-%lld",
			    n > 0 ? "; " : "", sqlite3_column_bytes(c->uses, 0),
			    (const char *)sqlite3_column_blob(c->uses, 0),
			    (long long)first, (long long)last);
		if (rdi_buf_append(out, line, strlen(line), err) == -1)
			return -1;
		n++;
	}
	if (n == 0 &&
	    rdi_buf_append(out, "no snapshot (base of deltas only)", 33, err) ==
	        -1)
		return -1;
	return rdi_buf_append(out, "", 1, err);
}

static int
report(struct vctx *c, const char *what, const unsigned char *sha,
    struct rd_err *err)
{
	struct rdi_buf uses = { NULL, 0, 0 };

	c->res->damaged++;
	if (c->opts->damage == NULL)
		return 0;
	if (sha != NULL && describe_uses(c, sha, &uses, err) == -1) {
		rdi_buf_release(&uses);
		return -1;
	}
	c->opts->damage(c->opts->damage_arg, what, sha,
	    sha != NULL ? (const char *)uses.data : NULL);
	rdi_buf_release(&uses);
	return 0;
}

static int
check_catalog(struct vctx *c, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *msg;
	char what[512];
	int r, ret = -1;

	if (rdi_db_prepare(c->st->db, "PRAGMA quick_check", &s, err) == -1)
		return -1;
	for (;;) {
		r = rdi_db_step(c->st->db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		msg = sqlite3_column_text(s, 0);
		if (msg != NULL && strcmp((const char *)msg, "ok") != 0) {
			snprintf(what, sizeof(what), "catalog: %s", msg);
			if (report(c, what, NULL, err) == -1)
				goto out;
		}
	}
	sqlite3_finalize(s);
	s = NULL;
	/* every content an entry names must exist */
	if (rdi_db_prepare(c->st->db,
	        "SELECT DISTINCT e.sha FROM entries e"
	        " LEFT JOIN contents c ON c.sha = e.sha"
	        " WHERE e.sha IS NOT NULL AND c.sha IS NULL",
	        &s, err) == -1)
		return -1;
	for (;;) {
		char hex[2 * RD_HASH_LEN + 1];
		unsigned char sha[RD_HASH_LEN];

		r = rdi_db_step(c->st->db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		if (sqlite3_column_bytes(s, 0) != RD_HASH_LEN) {
			if (report(c,
			        "catalog: an entry has a malformed content hash",
			        NULL, err) == -1)
				goto out;
			continue;
		}
		memcpy(sha, sqlite3_column_blob(s, 0), RD_HASH_LEN);
		rd_hex(sha, RD_HASH_LEN, hex);
		snprintf(what, sizeof(what),
		    "content %s is missing from the catalog", hex);
		if (report(c, what, sha, err) == -1)
			goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

/* Packs: present and at least as long as the catalog says. */
static int
check_packs(struct vctx *c, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct stat sb;
	char path[64], what[256];
	const char *name;
	int r, ret = -1;

	if (rdi_db_prepare(c->st->db, "SELECT name, size FROM packs", &s,
	        err) == -1)
		return -1;
	for (;;) {
		r = rdi_db_step(c->st->db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		c->res->packs++;
		name = (const char *)sqlite3_column_text(s, 0);
		snprintf(path, sizeof(path), "packs/%s.pack",
		    name != NULL ? name : "");
		if (fstatat(c->st->dfd, path, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(sb.st_mode)) {
			snprintf(what, sizeof(what), "pack %s is missing",
			    name != NULL ? name : "?");
			if (report(c, what, NULL, err) == -1)
				goto out;
			continue;
		}
		if (sb.st_size < sqlite3_column_int64(s, 1)) {
			snprintf(what, sizeof(what),
			    "pack %s is truncated (%lld of %lld bytes)", name,
			    (long long)sb.st_size,
			    (long long)sqlite3_column_int64(s, 1));
			if (report(c, what, NULL, err) == -1)
				goto out;
		}
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

/* Count packs in packs/ that no catalog row names. */
static int
count_orphans(struct vctx *c, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	DIR *d;
	struct dirent *de;
	char name[33];
	int fd, r, ret = -1;

	fd = openat(c->st->dfd, "packs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s/packs'",
		    c->st->path);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return rd_err_sys(err, RD_EIO, "cannot open '%s/packs'",
		    c->st->path);
	}
	if (rdi_db_prepare(c->st->db, "SELECT 1 FROM packs WHERE name = ?", &s,
	        err) == -1)
		goto out;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != 37 ||
		    strcmp(de->d_name + 32, ".pack") != 0)
			continue;
		memcpy(name, de->d_name, 32);
		name[32] = '\0';
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		r = rdi_db_step(c->st->db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			c->res->orphan_packs++;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	closedir(d);
	return ret;
}

static int
null_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	(void)arg;
	(void)buf;
	(void)len;
	(void)err;
	return 0;
}

/* Every content: its object header, or with read_data its bytes. */
static int
check_contents(struct vctx *c, int tmpfd, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct rdi_packcache *pc;
	struct rdi_objhdr h;
	struct rd_err e2 = RD_ERR_INIT;
	unsigned char sha[RD_HASH_LEN];
	char hex[2 * RD_HASH_LEN + 1], what[600];
	const char *name;
	int fd, r, bad, ret = -1;
	double last = 0;

	pc = rdi_packcache_new(c->st);
	if (pc == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (rdi_db_prepare(c->st->db,
	        "SELECT c.sha, c.kind, c.size, c.off,"
	        " c.len, p.name FROM contents c JOIN packs p ON p.id = c.pack"
	        " ORDER BY c.pack, c.off",
	        &s, err) == -1)
		goto out;
	for (;;) {
		r = rdi_db_step(c->st->db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		c->res->contents++;
		if (sqlite3_column_bytes(s, 0) != RD_HASH_LEN)
			continue;
		memcpy(sha, sqlite3_column_blob(s, 0), RD_HASH_LEN);
		rd_hex(sha, RD_HASH_LEN, hex);
		name = (const char *)sqlite3_column_text(s, 5);
		bad = 0;
		rd_err_clear(&e2);
		if (c->opts->read_data) {
			if (rdi_content_read(c->st, c->st->db, pc, sha, tmpfd,
			        null_sink, NULL, &e2) == -1)
				bad = 1;
			else
				c->res->bytes_checked +=
				    sqlite3_column_int64(s, 2);
		} else {
			fd =
			    rdi_packcache_fd(pc, name != NULL ? name : "", &e2);
			if (fd == -1 ||
			    rdi_obj_read(fd, name, sqlite3_column_int64(s, 3),
			        sha, sqlite3_column_int(s, 1), NULL, NULL, &h,
			        &e2) == -1)
				bad = 1;
			else if (h.len != sqlite3_column_int64(s, 4) ||
			    h.raw_size != sqlite3_column_int64(s, 2)) {
				bad = 1;
				rd_err_set(&e2, RD_ECORRUPT,
				    "object header disagrees with the catalog");
			}
		}
		if (bad) {
			if (e2.code != RD_ECORRUPT && e2.code != RD_EIO &&
			    e2.code != RD_ENOENT) {
				*err = e2;
				goto out;
			}
			if (strncmp(e2.msg, "content ", 8) == 0 &&
			    strncmp(e2.msg + 8, hex, 2 * RD_HASH_LEN) == 0)
				snprintf(what, sizeof(what), "%s", e2.msg);
			else if (strncmp(e2.msg, "content ", 8) == 0)
				/* a base of its delta chain is damaged */
				snprintf(what, sizeof(what),
				    "content %s: its delta base is damaged: %s",
				    hex, e2.msg);
			else
				snprintf(what, sizeof(what), "content %s: %s",
				    hex, e2.msg);
			if (report(c, what, sha, err) == -1)
				goto out;
		}
		if (c->opts->progress != NULL && rd_monotonic() - last >= 0.1) {
			last = rd_monotonic();
			c->opts->progress(c->opts->progress_arg,
			    c->res->contents, c->res->bytes_checked);
		}
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	rdi_packcache_free(pc);
	return ret;
}

int
rd_verify(struct rd_store *st, const struct rd_verify_opts *opts,
    struct rd_verify_result *res, struct rd_err *err)
{
	struct vctx c;
	struct rd_verify_result dummy;
	sqlite3_stmt *s = NULL;
	int tmpfd = -1, ret = -1, r;

	memset(&c, 0, sizeof(c));
	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	c.st = st;
	c.opts = opts;
	c.res = res;
	tmpfd = openat(st->dfd, "tmp",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tmpfd == -1) {
		rd_err_sys(err, RD_EIO, "cannot open '%s/tmp'", st->path);
		goto out;
	}
	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		goto out;
	if (rdi_db_prepare(st->db,
	        "SELECT COUNT(*), COALESCE(MAX(id), 0)"
	        " FROM snapshots WHERE state = 'complete'",
	        &s, err) == -1)
		goto out;
	r = rdi_db_step(st->db, s, err);
	if (r != 1)
		goto out;
	res->snapshots = sqlite3_column_int64(s, 0);
	c.newest = sqlite3_column_int64(s, 1);
	sqlite3_finalize(s);
	s = NULL;
	if (rdi_db_prepare(st->db,
	        "SELECT path, first, last FROM entries"
	        " WHERE sha = ? ORDER BY first, path",
	        &c.uses, err) == -1)
		goto out;
	if (check_catalog(&c, err) == -1 || check_packs(&c, err) == -1 ||
	    count_orphans(&c, err) == -1 ||
	    check_contents(&c, tmpfd, err) == -1)
		goto out;
	ret = res->damaged > 0 ? 1 : 0;
out:
	sqlite3_finalize(s);
	sqlite3_finalize(c.uses);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (tmpfd != -1)
		close(tmpfd);
	return ret;
}
