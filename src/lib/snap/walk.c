/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * walk.c: the walk of the source, merged with the newest snapshot.
 *
 * The walk goes depth-first, each directory's names sorted with
 * directories as "name/", which is exactly the byte order of catalog
 * paths.  A cursor reads the newest snapshot's entries in path order on
 * a second connection, so an unchanged file costs one lstat and no
 * catalog write; a changed regular file becomes a job for the workers.
 * In follow mode the walk may read only the directories that change
 * notification named ("sel"): below any other directory the cursor's
 * entries stay as they are, unread on disk.
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

int
snap_cursor_next(struct ctx *c, struct rd_err *err)
{
	sqlite3_stmt *s = c->cur;
	struct prev *p = &c->cur_prev;
	const void *blob;
	int r, n;

	snap_prev_release(p);
	r = rdi_db_step(c->rdb, s, err);
	if (r == -1)
		return -1;
	c->cur_valid = r;
	if (r == 0)
		return 0;
	c->cur_path.len = 0;
	blob = sqlite3_column_blob(s, 1);
	n = sqlite3_column_bytes(s, 1);
	if (rdi_buf_append(&c->cur_path, blob, (size_t)n, err) == -1 ||
	    rdi_buf_append(&c->cur_path, "", 1, err) == -1)
		return -1;
	c->cur_path.len--;
	p->id = sqlite3_column_int64(s, 0);
	p->type = sqlite3_column_int(s, 2);
	p->mode = (unsigned)sqlite3_column_int(s, 3);
	p->uid = sqlite3_column_int64(s, 4);
	p->gid = sqlite3_column_int64(s, 5);
	p->size = sqlite3_column_int64(s, 6);
	c->cur_files++;
	if (p->type == RD_TYPE_FILE && p->size > 0)
		c->cur_bytes += p->size;
	p->mtime = sqlite3_column_int64(s, 7);
	p->has_sha = sqlite3_column_bytes(s, 8) == RD_HASH_LEN;
	if (p->has_sha)
		memcpy(p->sha, sqlite3_column_blob(s, 8), RD_HASH_LEN);
	if (sqlite3_column_type(s, 9) != SQLITE_NULL) {
		n = sqlite3_column_bytes(s, 9);
		p->target = malloc((size_t)n + 1);
		if (p->target == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		if (n > 0)
			memcpy(p->target, sqlite3_column_blob(s, 9), (size_t)n);
		p->target[n] = '\0';
	}
	p->ino = sqlite3_column_int64(s, 10);
	p->ctime = sqlite3_column_int64(s, 11);
	p->unstable = sqlite3_column_int(s, 12);
	p->rdev = sqlite3_column_int64(s, 13);
	p->link = sqlite3_column_int64(s, 14);
	n = sqlite3_column_bytes(s, 15);
	p->xa.len = 0;
	if (n > 0 &&
	    rdi_buf_append(&p->xa, sqlite3_column_blob(s, 15), (size_t)n,
	        err) == -1)
		return -1;
	return 1;
}

/*
 * Move the cursor past every entry below the directory "key" (which ends
 * in '/') without reading them: they stay in the new snapshot as they
 * were, and count through the newest snapshot's totals (see
 * snap_walk_source()).  The row the cursor holds is read again if it
 * lies past them, so it is not counted as read.
 */
int
snap_cursor_skip(struct ctx *c, const char *key, size_t klen,
    struct rd_err *err)
{
	char stack[256], *next = stack;
	int ret;

	if (!c->cur_valid)
		return 0;
	c->cur_files--;
	if (c->cur_prev.type == RD_TYPE_FILE && c->cur_prev.size > 0)
		c->cur_bytes -= c->cur_prev.size;
	/* past "a/b/..." is "a/b0": '/' + 1 */
	if (klen > sizeof(stack) && (next = malloc(klen)) == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	memcpy(next, key, klen);
	next[klen - 1] = '/' + 1;
	sqlite3_reset(c->cur);
	ret = rdi_db_bind(c->rdb, c->cur, err, "b", next, klen);
	if (next != stack)
		free(next);
	if (ret == -1)
		return -1;
	return snap_cursor_next(c, err) == -1 ? -1 : 0;
}

static int
pathcmp(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int r = memcmp(a, b, n);

	if (r != 0)
		return r;
	return alen < blen ? -1 : alen > blen;
}

/*
 * Close every newest-snapshot entry that sorts before "key" (it is gone),
 * then, if the cursor is at "key", move it into "*out" and return 1.
 */
int
snap_cursor_seek(struct ctx *c, const char *key, size_t klen, struct prev *out,
    struct rd_err *err)
{
	int cmp;

	while (c->cur_valid) {
		cmp = pathcmp(c->cur_path.data != NULL
		        ? (const char *)c->cur_path.data
		        : "",
		    c->cur_path.len, key, klen);
		if (cmp > 0)
			return 0;
		if (cmp == 0) {
			*out = c->cur_prev;
			c->cur_prev.target = NULL;
			memset(&c->cur_prev.xa, 0, sizeof(c->cur_prev.xa));
			return snap_cursor_next(c, err) == -1 ? -1 : 1;
		}
		if (snap_close_entry(c, c->cur_prev.id, 1, err) == -1 ||
		    snap_cursor_next(c, err) == -1)
			return -1;
	}
	return 0;
}

/* Look up the stored signature of "sha" for a delta. */
static int
find_sig(struct ctx *c, struct job *j, struct rd_err *err)
{
	sqlite3_stmt *s = c->get_sig;
	const unsigned char *name;
	int r;

	r = rdi_db_bind(c->st->db, s, err, "h", j->prev.sha);
	if (r == 0)
		r = rdi_db_step(c->st->db, s, err);
	if (r != 1)
		return r;
	name = sqlite3_column_text(s, 0);
	if (name == NULL || strlen((const char *)name) != 32)
		return 0;
	memcpy(j->oldsig_pack, name, 33);
	j->oldsig_off = sqlite3_column_int64(s, 1);
	j->prev_depth = sqlite3_column_int(s, 2);
	j->use_sig = 1;
	return 1;
}

/*
 * The attributes of "key" could not be read (in "err"): unless it is
 * out of memory, it keeps its previous version and the snapshot is
 * partial, as for any entry that cannot be read.
 */
static int
xattr_problem(struct ctx *c, const char *key, size_t klen, struct prev *p,
    int has_prev, struct rd_err *err)
{
	char why[256];

	if (err->code == RD_ENOMEM)
		return -1;
	snprintf(why, sizeof(why), "%s", err->msg);
	rd_err_clear(err);
	if (has_prev)
		snap_count_kept(c, p);
	snap_prev_release(p);
	return snap_problem(c, key, klen, has_prev ? KEPT : MISSING, why, err);
}

static int
do_file(struct ctx *c, int dfd, const char *name, const char *key, size_t klen,
    const struct stat *sb, struct prev *p, int has_prev, struct rd_err *err)
{
	struct job *j;
	struct meta m;

	meta_from_stat(&m, sb);
	if (has_prev && p->type == RD_TYPE_FILE && !c->opts->checksum &&
	    !p->unstable && p->size == m.size && p->mtime == m.mtime &&
	    p->ino == m.ino && p->ctime == m.ctime) {
		c->info.files++;
		c->info.bytes += m.size;
		snap_prev_release(p);
		snap_progress(c);
		return 0;
	}
	/*
	 * Its other names may be in directories this walk does not read,
	 * and would keep the old version in the same link group.
	 */
	if (c->sel != NULL && sb->st_nlink > 1) {
		snap_prev_release(p);
		c->need_full = 1;
		return rd_err_set(err, RD_EINTERNAL,
		    "'%.*s' has %lu links: the whole source must be walked",
		    (int)klen, key, (unsigned long)sb->st_nlink);
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	j->path = strndup(key, klen);
	if (j->path == NULL) {
		free(j);
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	}
	/* a changed ctime: the attributes are read again with the bytes */
	if (rdi_xattrs_read(dfd, name, c->xa_flags, j->path, &j->xa, err) ==
	    -1) {
		snap_job_free(j);
		return xattr_problem(c, key, klen, p, has_prev, err);
	}
	if (c->nm > 0) {
		const char *slash = strrchr(j->path, '/');

		j->may_change = snap_matches(c->mp, c->nm,
		    slash != NULL ? slash + 1 : j->path, j->path, 0);
	}
	if (has_prev) {
		j->has_prev = 1;
		j->prev = *p;
		p->target = NULL;
		memset(&p->xa, 0, sizeof(p->xa));
		if (p->type == RD_TYPE_FILE && p->has_sha &&
		    m.size > SMALL_MAX && find_sig(c, j, err) == -1) {
			snap_job_free(j);
			return -1;
		}
	}
	if (m.size > SMALL_MAX && (!has_prev || p->type != RD_TYPE_FILE)) {
		j->maybe_dup = rdi_db_bind(c->st->db, c->size_seen, err, "i",
		    (int64_t)m.size);
		if (j->maybe_dup == 0)
			j->maybe_dup =
			    rdi_db_step(c->st->db, c->size_seen, err);
		if (j->maybe_dup == -1) {
			snap_job_free(j);
			return -1;
		}
	}
	return snap_submit(c, j, err);
}

/* The type of a non-regular entry, or 0 for one that is not kept. */
static int
entry_type(const struct stat *sb)
{
	if (S_ISDIR(sb->st_mode))
		return RD_TYPE_DIR;
	if (S_ISLNK(sb->st_mode))
		return RD_TYPE_SYMLINK;
	if (S_ISFIFO(sb->st_mode))
		return RD_TYPE_FIFO;
	if (S_ISCHR(sb->st_mode))
		return RD_TYPE_CHR;
	if (S_ISBLK(sb->st_mode))
		return RD_TYPE_BLK;
	return 0; /* a socket: nothing to restore */
}

/* "*was_dir": the newest snapshot has "key" as a directory. */
static int
do_entry(struct ctx *c, int dfd, const char *name, const char *key, size_t klen,
    const struct stat *sb, int *was_dir, struct rd_err *err)
{
	struct prev p;
	struct meta m;
	struct rdi_buf xa = { NULL, 0, 0 };
	char target[4097];
	ssize_t n;
	int has_prev, type, ret = -1;

	memset(&p, 0, sizeof(p));
	has_prev = snap_cursor_seek(c, key, klen, &p, err);
	if (has_prev == -1)
		return -1;
	*was_dir = has_prev && p.type == RD_TYPE_DIR;
	if (S_ISREG(sb->st_mode))
		return do_file(c, dfd, name, key, klen, sb, &p, has_prev, err);
	meta_from_stat(&m, sb);
	m.ino = m.ctime = 0;
	m.size = 0;
	target[0] = '\0';
	type = entry_type(sb);
	if (type == 0) {
		/* sockets are skipped by rule, silently (rdsnap(1)) */
		c->info.skipped++;
		goto gone;
	}
	if (type == RD_TYPE_SYMLINK) {
		n = readlinkat(dfd, name, target, sizeof(target) - 1);
		if (n == -1 && errno == ENOENT)
			goto gone;
		if (n == -1 || n == sizeof(target) - 1) {
			if (has_prev)
				snap_count_kept(c, &p);
			snap_prev_release(&p);
			return snap_problem(c, key, klen,
			    has_prev ? KEPT : MISSING,
			    n == -1 ? strerror(errno) : "link target too long",
			    err);
		}
		target[n] = '\0';
		m.size = n;
	}
	if (rdi_xattrs_read(dfd, name, c->xa_flags, key, &xa, err) == -1) {
		rdi_buf_release(&xa);
		return xattr_problem(c, key, klen, &p, has_prev, err);
	}
	c->info.files++;
	if (has_prev && p.type == type && snap_meta_equal(&p, &m) &&
	    snap_xattrs_equal(&p, &xa) &&
	    (type != RD_TYPE_SYMLINK ||
	        (p.target != NULL && strcmp(p.target, target) == 0))) {
		ret = 0;
		goto out;
	}
	if (has_prev && snap_close_entry(c, p.id, 0, err) == -1)
		goto out;
	ret = snap_insert_entry(c, key, klen, type, &m, NULL,
	    type == RD_TYPE_SYMLINK ? target : NULL, &xa, 0, err);
out:
	rdi_buf_release(&xa);
	snap_prev_release(&p);
	return ret;
gone:
	if (has_prev && snap_close_entry(c, p.id, 1, err) == -1) {
		snap_prev_release(&p);
		return -1;
	}
	snap_prev_release(&p);
	return 0;
}

static int
dent_cmp(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;
	size_t xl = strlen(x->name), yl = strlen(y->name);
	size_t n = xl < yl ? xl : yl;
	int r = memcmp(x->name, y->name, n);
	int xc, yc;

	if (r != 0)
		return r;
	/* compare as "name/" for directories */
	xc = xl > n ? (unsigned char)x->name[n] : x->isdir ? '/' : -1;
	yc = yl > n ? (unsigned char)y->name[n] : y->isdir ? '/' : -1;
	return xc - yc;
}

/* Free the "n" names "v" of snap_read_names(). */
void
snap_dents_free(struct dent *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Read and sort the names of directory "dfd". */
int
snap_read_names(int dfd, const char *what, struct dent **out, size_t *nout,
    struct rd_err *err)
{
	DIR *d;
	struct dirent *de;
	struct dent *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct stat sb;
	int isdir;

	d = rdi_opendir_fd(dfd, what, err);
	if (d == NULL)
		return -1;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				rd_err_sys(err, RD_EIO,
				    "cannot read directory '%s'", what);
				goto fail;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_UNKNOWN) {
			if (fstatat(dfd, de->d_name, &sb,
			        AT_SYMLINK_NOFOLLOW) == -1)
				continue;
			isdir = S_ISDIR(sb.st_mode);
		} else {
			isdir = de->d_type == DT_DIR;
		}
		if (n == cap) {
			cap = cap != 0 ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rd_err_set(err, RD_ENOMEM, "out of memory");
				goto fail;
			}
			v = nv;
		}
		v[n].name = strdup(de->d_name);
		if (v[n].name == NULL) {
			rd_err_set(err, RD_ENOMEM, "out of memory");
			goto fail;
		}
		v[n].isdir = isdir;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), dent_cmp);
	*out = v;
	*nout = n;
	return 0;
fail:
	closedir(d);
	snap_dents_free(v, n);
	return -1;
}

/* The walk could not stat the entry "path" names (a directory: "isdir"). */
static int
keep_entry(struct ctx *c, struct rdi_buf *path, int isdir, const char *reason,
    struct rd_err *err)
{
	char why[256];

	snprintf(why, sizeof(why), "%s", reason);
	if (isdir && rdi_buf_append(path, "/", 1, err) == -1)
		return -1;
	return snap_unreadable(c, (const char *)path->data, path->len, isdir,
	    why, err);
}

/*
 * Whether to walk the directory "key" ("klen" bytes, ending in '/'), met
 * in a walk of its parent that reads only what changed: 1 whole, 0 only
 * the changed directories below it, -1 not at all (what the newest
 * snapshot has below it stays).  A directory new to the snapshot is
 * walked whole.
 */
static int
sel_walk(const struct ctx *c, const char *key, size_t klen, int was_dir)
{
	return was_dir ? rdi_dirty_get(c->sel, key, klen - 1) : 1;
}

/* Walk "dfd" ("path"): every directory below it when "whole". */
static int
walk(struct ctx *c, int dfd, struct rdi_buf *path, int whole,
    struct rd_err *err)
{
	struct dent *v = NULL;
	size_t n = 0, i, base = path->len, nlen;
	struct stat sb;
	char reason[256];
	const char *what;
	int cfd, was_dir, sub, ret = -1;

	if (rdi_buf_append(path, "", 1, err) == -1)
		return -1;
	path->len--;
	if (snap_read_names(dfd, base > 0 ? (const char *)path->data : ".", &v,
	        &n, err) == -1) {
		if (base == 0 || err->code == RD_ENOMEM)
			return -1;
		/* keep what the newest snapshot has below it */
		snprintf(reason, sizeof(reason), "%s",
		    err->sys_errno != 0 ? strerror(err->sys_errno) : err->msg);
		rd_err_clear(err);
		return snap_keep_below(c, (const char *)path->data, base, &what,
		           err) == -1 ||
		        snap_problem(c, (const char *)path->data, base, what,
		            reason, err) == -1
		    ? -1
		    : 0;
	}
	for (i = 0; i < n; i++) {
		path->len = base;
		nlen = strlen(v[i].name);
		/* with its NUL, for the patterns; what follows overwrites it */
		if (rdi_buf_append(path, v[i].name, nlen + 1, err) == -1)
			goto out;
		path->len--;
		/* excluded: not even a stat, and the cursor calls it gone */
		if (c->nx > 0 &&
		    snap_excluded(c, v[i].name, (const char *)path->data,
		        v[i].isdir))
			continue;
		if (fstatat(dfd, v[i].name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue; /* gone since readdir */
			if (keep_entry(c, path, v[i].isdir, strerror(errno),
			        err) == -1)
				goto out;
			continue;
		}
		if (S_ISDIR(sb.st_mode) != v[i].isdir) {
			if (keep_entry(c, path, v[i].isdir,
			        "changed type during the scan", err) == -1)
				goto out;
			continue;
		}
		if (v[i].isdir && rdi_buf_append(path, "/", 1, err) == -1)
			goto out;
		if (do_entry(c, dfd, v[i].name, (const char *)path->data,
		        path->len, &sb, &was_dir, err) == -1)
			goto out;
		if (!v[i].isdir)
			continue;
		/* a mount point is recorded, but not what is mounted there */
		if (c->opts->one_file_system && sb.st_dev != c->root_dev)
			continue;
		sub = whole
		    ? 1
		    : sel_walk(c, (const char *)path->data, path->len, was_dir);
		if (sub == -1) {
			if (snap_cursor_skip(c, (const char *)path->data,
			        path->len, err) == -1)
				goto out;
			continue;
		}
		cfd = openat(dfd, v[i].name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd == -1 && errno == ENOENT)
			continue; /* gone since the stat: the cursor says so */
		if (cfd == -1) {
			/* the directory's own row is made; keep what is below */
			snprintf(reason, sizeof(reason), "%s", strerror(errno));
			if (snap_keep_below(c, (const char *)path->data,
			        path->len, &what, err) == -1 ||
			    snap_problem(c, (const char *)path->data, path->len,
			        what, reason, err) == -1)
				goto out;
			continue;
		}
		if (walk(c, cfd, path, sub, err) == -1) {
			close(cfd);
			goto out;
		}
		close(cfd);
	}
	ret = 0;
out:
	path->len = base;
	snap_dents_free(v, n);
	return ret;
}

/*
 * Walk the source "rootfd" ("sb" its stat): its root, everything below
 * it, then close the newest snapshot's entries that the walk did not
 * meet, as they are gone from the source.  "path" is the walk's buffer.
 */
int
snap_walk_source(struct ctx *c, int rootfd, const struct stat *sb,
    struct rdi_buf *path, struct rd_err *err)
{
	struct prev p;
	struct meta m;
	struct rdi_buf xa = { NULL, 0, 0 };
	struct rd_snapinfo newest;
	int has_prev, ret = -1;

	memset(&p, 0, sizeof(p));
	memset(&newest, 0, sizeof(newest));
	/* this run's row is still pending: the newest is the one before */
	if (c->sel != NULL && rd_snap_get(c->st, 0, &newest, err) == -1) {
		if (err->code != RD_ENOENT)
			return -1;
		rd_err_clear(err);
	}
	has_prev = snap_cursor_seek(c, "", 0, &p, err);
	if (has_prev == -1)
		goto out;
	meta_from_stat(&m, sb);
	m.size = m.ino = m.ctime = 0;
	c->info.files++;
	if (rdi_xattrs_read(rootfd, ".", c->xa_flags, ".", &xa, err) == -1)
		goto out;
	if (!has_prev || p.type != RD_TYPE_DIR || !snap_meta_equal(&p, &m) ||
	    !snap_xattrs_equal(&p, &xa)) {
		if ((has_prev && snap_close_entry(c, p.id, 0, err) == -1) ||
		    snap_insert_entry(c, "", 0, RD_TYPE_DIR, &m, NULL, NULL,
		        &xa, 0, err) == -1)
			goto out;
	}
	snap_prev_release(&p);
	if (walk(c, rootfd, path,
	        c->sel == NULL || !has_prev ||
	            rdi_dirty_get(c->sel, "", 0) == 1,
	        err) == -1)
		goto out;
	/* whatever the cursor still holds is gone from the source */
	while (c->cur_valid) {
		if (snap_close_entry(c, c->cur_prev.id, 1, err) == -1 ||
		    snap_cursor_next(c, err) == -1)
			goto out;
	}
	/*
	 * What the cursor skipped stays, unread: the newest snapshot's
	 * totals less what the cursor read (counted by the walk as kept,
	 * changed or gone) are its files and bytes.
	 */
	if (c->sel != NULL) {
		c->info.files += newest.files - c->cur_files;
		c->info.bytes += newest.bytes - c->cur_bytes;
	}
	ret = 0;
out:
	rdi_buf_release(&xa);
	snap_prev_release(&p);
	return ret;
}
