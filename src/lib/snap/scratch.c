/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * scratch.c: the files that the bracketing co-process (rdsnap create
 * --bracket) writes to its scratch directory, added to the snapshot once
 * the copy is done.
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

#define BRACKET_FILES_MAX 10000
#define BRACKET_DEPTH_MAX 32

/*
 * The type of what the new snapshot holds at "key" ("klen" bytes), or 0
 * for nothing; "*closed" (may be NULL) is set when this run has closed
 * the newest snapshot's row there.  Returns the type, 0, or -1.
 */
static int
held_at(struct ctx *c, const char *key, size_t klen, int *closed,
    struct rd_err *err)
{
	sqlite3_stmt *s = c->xfind;
	int r, type = 0;

	if (rdi_db_bind(c->st->db, s, err, "bi", key, klen,
	        (int64_t)(c->snap_id - 1)) == -1)
		return -1;
	while ((r = rdi_db_step(c->st->db, s, err)) == 1) {
		if (sqlite3_column_type(s, 1) == SQLITE_NULL)
			type = sqlite3_column_int(s, 0);
		else if (closed != NULL)
			*closed = 1;
	}
	sqlite3_reset(s);
	return r == -1 ? -1 : type;
}

/*
 * Add the scratch file at "path" (its catalog path, NUL-terminated) to
 * the snapshot: its directory must be one of the snapshot's, and the
 * walk must not have taken the same path from the source.
 */
static int
bracket_add(struct ctx *c, struct rdi_buf *path, struct rd_err *err)
{
	const char *key = (const char *)path->data;
	size_t klen = path->len, plen = klen;
	int closed = 0, t;
	struct job *j;

	if (++c->nextra > BRACKET_FILES_MAX)
		return rd_err_set(err, RD_ECORRUPT,
		    "the bracket hook wrote more than %d files",
		    BRACKET_FILES_MAX);
	if (!rdi_path_safe(key) || strchr(key, '\n') != NULL)
		return rd_err_set(err, RD_ECORRUPT,
		    "bracket file '%s' has an unsafe name", key);
	while (plen > 0 && key[plen - 1] != '/')
		plen--;
	t = plen > 0 ? held_at(c, key, plen, NULL, err) : RD_TYPE_DIR;
	if (t == -1)
		return -1;
	if (t != RD_TYPE_DIR)
		return rd_err_set(err, RD_ECORRUPT,
		    "bracket file '%s': '%.*s' is not a directory of the snapshot",
		    key, (int)plen - 1, key);
	t = held_at(c, key, klen, &closed, err);
	if (t == 0) {
		if (rdi_buf_append(path, "/", 1, err) == -1)
			return -1;
		key = (const char *)path->data; /* it may have moved */
		t = held_at(c, key, klen + 1, NULL, err);
		path->len = klen;
		path->data[klen] = '\0';
	}
	if (t == -1)
		return -1;
	if (t != 0)
		return rd_err_set(err, RD_ECORRUPT,
		    "bracket file '%s' is also in the source (exclude it there)",
		    key);
	if (closed)
		c->info.removed--; /* replaced, not removed */
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	j->extra = 1;
	j->path = strndup(key, klen);
	if (j->path == NULL) {
		free(j);
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	}
	return snap_submit(c, j, err);
}

static const char *
kind_of(mode_t mode)
{
	return S_ISLNK(mode) ? "a symlink"
	    : S_ISFIFO(mode) ? "a fifo"
	    : S_ISSOCK(mode) ? "a socket"
	    : S_ISCHR(mode)  ? "a device"
	    : S_ISBLK(mode)  ? "a device"
	                     : "not a regular file";
}

/*
 * Add the regular files below the scratch directory "dfd", whose path
 * relative to the scratch directory is in "path" (empty, or ending in
 * '/'), "depth" levels down; anything but regular files and directories
 * fails the run.
 */
static int
bracket_scan(struct ctx *c, int dfd, struct rdi_buf *path, int depth,
    struct rd_err *err)
{
	struct dent *v = NULL;
	size_t n = 0, i, base = path->len;
	struct stat sb;
	int cfd, r, ret = -1;

	if (snap_read_names(dfd, "the bracket's scratch directory", &v, &n,
	        err) == -1)
		return -1;
	if ((int64_t)n > BRACKET_FILES_MAX - c->nextra) {
		rd_err_set(err, RD_ECORRUPT,
		    "the bracket hook wrote more than %d files",
		    BRACKET_FILES_MAX);
		goto out;
	}
	for (i = 0; i < n; i++) {
		path->len = base;
		if (rdi_buf_append(path, v[i].name, strlen(v[i].name) + 1,
		        err) == -1)
			goto out;
		path->len--;
		if (fstatat(dfd, v[i].name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
			rd_err_sys(err, RD_EIO, "cannot stat bracket file '%s'",
			    (const char *)path->data);
			goto out;
		}
		if (S_ISREG(sb.st_mode)) {
			if (bracket_add(c, path, err) == -1)
				goto out;
			continue;
		}
		if (!S_ISDIR(sb.st_mode)) {
			rd_err_set(err, RD_ECORRUPT,
			    "bracket file '%s' is %s, not a regular file",
			    (const char *)path->data, kind_of(sb.st_mode));
			goto out;
		}
		if (depth + 1 >= BRACKET_DEPTH_MAX) {
			rd_err_set(err, RD_ECORRUPT,
			    "bracket directory '%s' is nested deeper than %d",
			    (const char *)path->data, BRACKET_DEPTH_MAX);
			goto out;
		}
		if (rdi_buf_append(path, "/", 1, err) == -1)
			goto out;
		cfd = openat(dfd, v[i].name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd == -1) {
			rd_err_sys(err, RD_EIO,
			    "cannot open bracket directory '%.*s'",
			    (int)path->len, (const char *)path->data);
			goto out;
		}
		r = bracket_scan(c, cfd, path, depth + 1, err);
		close(cfd);
		if (r == -1)
			goto out;
	}
	ret = 0;
out:
	path->len = base;
	snap_dents_free(v, n);
	return ret;
}

/*
 * The copy is done: tell the co-process, wait for it, and store what it
 * wrote into its scratch directory.
 */
int
snap_bracket_files(struct ctx *c, struct rd_err *err)
{
	struct rdi_buf path = { NULL, 0, 0 };
	int ret = -1;

	if (rdi_bracket_finish(c->bk, err) == -1)
		return -1;
	c->xfd = rdi_bracket_dirfd(c->bk);
	if (rdi_db_prepare(c->st->db,
	        "SELECT type, last FROM entries WHERE path = ?"
	        " AND (last IS NULL OR last = ?)",
	        &c->xfind, err) == -1)
		return -1;
	/* the root's path is empty, and the buffer has a NUL after it */
	if (rdi_buf_append(&path, "", 1, err) == -1)
		goto out;
	path.len = 0;
	if (bracket_scan(c, c->xfd, &path, 0, err) == -1 ||
	    snap_wait_all(c, err) == -1)
		goto out;
	ret = 0;
out:
	rdi_buf_release(&path);
	return ret;
}
