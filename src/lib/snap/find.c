/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * find.c: one file of a snapshot to a file descriptor (rdsnap cat), and
 * the versions of the paths that match a pattern across every snapshot
 * (rdsnap find).  Both read the catalog in one read transaction; cat
 * streams the content through the content reader, which checks its
 * SHA-256, and find walks the catalog rows in path order, so memory
 * stays bounded whatever the file or the store.
 */
#include "config.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "snap_int.h"

struct fdsink {
	int fd;
	int64_t bytes;
};

static int
fd_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct fdsink *fs = arg;

	if (rdi_write_all(fs->fd, buf, len, "standard output", err) == -1)
		return -1;
	fs->bytes += (int64_t)len;
	return 0;
}

/* "path" without "./" in front and "/" at the end; "" for the root. */
static char *
norm_path(const char *path)
{
	size_t n;
	char *p;

	while (path[0] == '.' && path[1] == '/')
		path += 2;
	p = strdup(path);
	if (p == NULL)
		return NULL;
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		p[--n] = '\0';
	if (strcmp(p, ".") == 0)
		p[0] = '\0';
	return p;
}

/*
 * Find the entry "p" of snapshot "id": its type, and for a file its
 * content in "sha" and size in "*size"; a symlink's target in "target".
 * Returns 1, 0 when there is none, or -1.
 */
static int
cat_entry(struct rd_store *st, int64_t id, const char *p, int *type,
    unsigned char *sha, int64_t *size, char *target, size_t tlen,
    struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int r, n;

	if (rdi_db_prepare(st->db,
	        "SELECT type, sha, size, target FROM entries"
	        " WHERE first <= ?1 AND (last IS NULL OR last >= ?1)"
	        " AND (path = ?2 OR path = CAST(?2 || '/' AS BLOB)) LIMIT 1",
	        &s, err) == -1)
		return -1;
	r = rdi_db_bind(st->db, s, err, "ib", (int64_t)id, p, strlen(p));
	if (r == 0)
		r = rdi_db_step(st->db, s, err);
	if (r == 1) {
		*type = sqlite3_column_int(s, 0);
		*size = sqlite3_column_int64(s, 2);
		if (*type == RD_TYPE_FILE &&
		    sqlite3_column_bytes(s, 1) != RD_HASH_LEN) {
			r = rd_err_set(err, RD_ECORRUPT,
			    "entry '%s' has no content", p);
		} else if (*type == RD_TYPE_FILE) {
			memcpy(sha, sqlite3_column_blob(s, 1), RD_HASH_LEN);
		} else if (*type == RD_TYPE_SYMLINK) {
			n = sqlite3_column_bytes(s, 3);
			if ((size_t)n >= tlen)
				n = (int)tlen - 1;
			if (n > 0)
				memcpy(target, sqlite3_column_blob(s, 3),
				    (size_t)n);
			target[n > 0 ? n : 0] = '\0';
		}
	}
	sqlite3_finalize(s);
	return r;
}

int
rd_snap_cat(struct rd_store *st, int64_t id, const char *path, int fd,
    int64_t *bytes, struct rd_err *err)
{
	struct rd_snapinfo si;
	struct rdi_packcache *pc = NULL;
	struct fdsink fs = { fd, 0 };
	unsigned char sha[RD_HASH_LEN];
	char *p = NULL, target[256];
	int64_t size = 0;
	int type = 0, tmpfd = -1, r, ret = -1;

	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		return -1;
	if (rd_snap_get(st, id, &si, err) == -1)
		goto out;
	p = norm_path(path);
	if (p == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	r = *p == '\0' ? 1
	               : cat_entry(st, si.id, p, &type, sha, &size, target,
	                     sizeof(target), err);
	if (*p == '\0')
		type = RD_TYPE_DIR;
	if (r == -1)
		goto out;
	if (r == 0) {
		rd_err_set(err, RD_ENOENT, "snapshot %lld has no path '%s'",
		    (long long)si.id, path);
		goto out;
	}
	if (type == RD_TYPE_DIR) {
		rd_err_set(err, RD_EUSAGE,
		    "'%s' is a directory in snapshot %lld: cat prints one file (list it with ls, copy it with restore)",
		    path, (long long)si.id);
		goto out;
	}
	if (type == RD_TYPE_SYMLINK) {
		rd_err_set(err, RD_EUSAGE,
		    "'%s' is a symbolic link to '%s' in snapshot %lld: cat prints one file",
		    path, target, (long long)si.id);
		goto out;
	}
	tmpfd = openat(st->dfd, "tmp",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tmpfd == -1) {
		rd_err_sys(err, RD_EIO, "cannot open '%s/tmp'", st->path);
		goto out;
	}
	pc = rdi_packcache_new(st);
	if (pc == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	if (rdi_content_read(st, st->db, pc, sha, tmpfd, fd_sink, &fs, err) ==
	    -1)
		goto out;
	if (fs.bytes != size) {
		rd_err_set(err, RD_ECORRUPT,
		    "'%s' has %lld bytes in the store, %lld in the catalog",
		    path, (long long)fs.bytes, (long long)size);
		goto out;
	}
	ret = 0;
out:
	if (bytes != NULL)
		*bytes = fs.bytes;
	rdi_packcache_free(pc);
	if (tmpfd != -1)
		close(tmpfd);
	free(p);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return ret;
}

/* 1 if "pattern" selects the catalog path "path" ("n" bytes), else 0. */
static int
find_match(const char *pattern, int anydepth, const char *path, size_t n,
    struct rdi_buf *name, struct rd_err *err)
{
	const char *base;

	if (n > 0 && path[n - 1] == '/')
		n--;
	name->len = 0;
	if (rdi_buf_append(name, path, n, err) == -1 ||
	    rdi_buf_append(name, "", 1, err) == -1)
		return -1;
	base = (const char *)name->data;
	if (anydepth && strrchr(base, '/') != NULL)
		base = strrchr(base, '/') + 1;
	return fnmatch(pattern, base, FNM_PATHNAME) == 0;
}

/* Fill "v" from a row of the find query; strings point into "name"/"t". */
static int
find_row(sqlite3_stmt *s, int64_t newest, struct rd_version *v,
    struct rdi_buf *name, struct rdi_buf *t, struct rd_err *err)
{
	memset(v, 0, sizeof(*v));
	v->first = sqlite3_column_int64(s, 1);
	v->last = sqlite3_column_type(s, 2) == SQLITE_NULL
	    ? newest
	    : sqlite3_column_int64(s, 2);
	if (v->last > newest)
		v->last = newest;
	v->e.path = (const char *)name->data;
	v->e.type = sqlite3_column_int(s, 3);
	v->e.mode = (unsigned)sqlite3_column_int(s, 4);
	v->e.uid = sqlite3_column_int64(s, 5);
	v->e.gid = sqlite3_column_int64(s, 6);
	v->e.size = sqlite3_column_int64(s, 7);
	v->e.mtime_ns = sqlite3_column_int64(s, 8);
	if (sqlite3_column_bytes(s, 9) == RD_HASH_LEN)
		memcpy(v->e.sha, sqlite3_column_blob(s, 9), RD_HASH_LEN);
	if (v->e.type == RD_TYPE_SYMLINK) {
		t->len = 0;
		if (rdi_buf_append(t, sqlite3_column_blob(s, 10),
		        (size_t)sqlite3_column_bytes(s, 10), err) == -1 ||
		    rdi_buf_append(t, "", 1, err) == -1)
			return -1;
		v->e.target = (const char *)t->data;
	}
	return 0;
}

int
rd_snap_find(struct rd_store *st, const char *pattern,
    int (*fn)(void *arg, const struct rd_version *v), void *arg,
    int64_t *matched, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct rd_snapinfo si;
	struct rd_version v;
	struct rdi_buf name = { NULL, 0, 0 }, t = { NULL, 0, 0 };
	const void *blob;
	size_t n;
	int r, ret = -1, anydepth = strchr(pattern, '/') == NULL;

	*matched = 0;
	if (*pattern == '\0')
		return rd_err_set(err, RD_EUSAGE, "empty pattern");
	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		return -1;
	if (rd_snap_get(st, 0, &si, err) == -1) {
		if (err->code != RD_ENOENT)
			goto out;
		rd_err_clear(err); /* no snapshots: nothing matches */
		ret = 0;
		goto out;
	}
	if (rdi_db_query(st->db, &s, err,
	        "SELECT path, first, last, type, mode, uid, gid, size, mtime,"
	        " sha, target FROM entries WHERE first <= ?1"
	        " AND path <> CAST('' AS BLOB) ORDER BY path, first",
	        "i", (int64_t)si.id) == -1)
		goto out;
	while ((r = rdi_db_step(st->db, s, err)) == 1) {
		blob = sqlite3_column_blob(s, 0);
		n = (size_t)sqlite3_column_bytes(s, 0);
		if (n == 0 || memchr(blob, '\0', n) != NULL)
			continue;
		r = find_match(pattern, anydepth, blob, n, &name, err);
		if (r == -1)
			goto out;
		if (r == 0)
			continue;
		if (find_row(s, si.id, &v, &name, &t, err) == -1)
			goto out;
		if (v.first > v.last)
			continue;
		(*matched)++;
		r = fn(arg, &v);
		if (r != 0) {
			ret = r;
			goto out;
		}
	}
	if (r == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(s);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	rdi_buf_release(&name);
	rdi_buf_release(&t);
	return ret;
}
