/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * replica.c: the warm replica of a standby: a plain directory brought
 * from the snapshot it holds to a newer one by applying only the
 * difference, patching a changed file from the replica's own old copy
 * when the store holds the new version as a delta against it.
 *
 * The apply is journaled in the catalog (table replicas): the row says
 * "applying V -> T" before the first change and "clean at T" after the
 * last, once the file system has been synced.  A file changed in place
 * (its delta's copies all stay where they are) is patched in place: only
 * its changed blocks are written, then it is checked whole against its
 * SHA-256 and synced.  Every other file is written to a temp name,
 * checked, synced and renamed, so its path holds either its old or its
 * new version.  An interrupted apply is redone from the journal, checking
 * by content what it already did; a file caught halfway through its
 * patch is patched again (its literals overwrite, its copies stay).
 * Paths are opened one component at a time with O_NOFOLLOW: a symlink in
 * the replica is never followed.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ship/ship_int.h"

struct actx {
	struct rd_store *st;
	int dfd; /* the replica root */
	int64_t from, to;
	int resume;
	int chown_ok;
	struct rdi_packcache *pc;
	rd_notice_fn notice;
	void *notice_arg;
	int64_t changed;
	int64_t omitted;              /* attributes that could not be set */
	char first[RDI_OMISSION_LEN]; /* the first of them, said in full */
	sqlite3_stmt *first_name;     /* write_hardlink()'s query */
	char **touched;               /* parent dirs whose mtime we disturbed */
	size_t ntouched, cap_touched;
};

static int
touch_parent(struct actx *c, const char *path, struct rd_err *err)
{
	size_t len = strlen(path), i;
	char *p, **t;

	if (len > 0 && path[len - 1] == '/')
		len--;
	while (len > 0 && path[len - 1] != '/')
		len--;
	/* "len" now covers the parent's catalog path, with its '/' */
	for (i = c->ntouched; i > 0 && i + 8 > c->ntouched; i--)
		if (strlen(c->touched[i - 1]) == len &&
		    memcmp(c->touched[i - 1], path, len) == 0)
			return 0;
	if (c->ntouched == c->cap_touched) {
		size_t n = c->cap_touched != 0 ? c->cap_touched * 2 : 64;

		t = realloc(c->touched, n * sizeof(*t));
		if (t == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		c->touched = t;
		c->cap_touched = n;
	}
	p = strndup(path, len);
	if (p == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	c->touched[c->ntouched++] = p;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Removing what the new snapshot no longer has */

static int
remove_old(struct actx *c, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	char name[NAME_MAX + 1], *path = NULL;
	int r, n, type, pfd, ret = -1;

	if (rdi_range_stmt(c->st->db,
	        "SELECT o.path, o.type FROM entries o"
	        " WHERE o.first <= ?1 AND o.last >= ?1 AND o.last < ?2"
	        " AND NOT EXISTS (SELECT 1 FROM entries n WHERE n.path = o.path"
	        " AND n.first <= ?2 AND (n.last IS NULL OR n.last >= ?2)"
	        " AND n.type = o.type) ORDER BY o.path DESC",
	        c->from, c->to, &q, err) == -1)
		return -1;
	for (;;) {
		r = rdi_db_step(c->st->db, q, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		n = sqlite3_column_bytes(q, 0);
		if (n == 0)
			continue;
		free(path);
		path = malloc((size_t)n + 1);
		if (path == NULL) {
			rd_err_set(err, RD_ENOMEM, "out of memory");
			goto out;
		}
		memcpy(path, sqlite3_column_blob(q, 0), (size_t)n);
		path[n] = '\0';
		type = sqlite3_column_int(q, 1);
		pfd = rdi_open_parent(c->dfd, path, name, err);
		if (pfd == -1) {
			if (err->code == RD_ENOENT) {
				rd_err_clear(err);
				continue; /* its parent is gone already */
			}
			goto out;
		}
		if (unlinkat(pfd, name,
		        type == RD_TYPE_DIR ? AT_REMOVEDIR : 0) == -1 &&
		    errno != ENOENT) {
			rd_err_sys(err, RD_EIO,
			    "cannot remove '%s' from replica", path);
			close(pfd);
			goto out;
		}
		close(pfd);
		c->changed++;
		if (touch_parent(c, path, err) == -1)
			goto out;
	}
	ret = 0;
out:
	free(path);
	sqlite3_finalize(q);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Writing what is new or changed */

struct nrow {
	char *path; /* catalog path, any length */
	int type;
	unsigned mode;
	int64_t uid, gid, size, mtime;
	unsigned char sha[RD_HASH_LEN];
	char target[4097];
	int has_old;
	int old_type;
	int64_t old_size, old_mtime;
	unsigned old_mode;
	unsigned char old_sha[RD_HASH_LEN];
	int64_t rdev, link;
	unsigned char *xa; /* extended attributes (xattr.c), valid */
	size_t xalen;
};

static void
nrow_release(struct nrow *n)
{
	free(n->path);
	free(n->xa);
	n->path = NULL;
	n->xa = NULL;
	n->xalen = 0;
}

/* Attributes that could not be set: each is named, the apply goes on. */
struct xafail {
	struct actx *c;
	const char *path;
};

static void
xattr_failed(void *arg, const char *attr, int errnum)
{
	struct xafail *f = arg;
	char msg[1024];

	snprintf(msg, sizeof(msg),
	    "replica: '%s': extended attribute '%s'%s not set: %s", f->path,
	    attr,
	    strcmp(attr, "security.capability") == 0 ? " (file capabilities)"
	                                             : "",
	    strerror(errnum));
	if (f->c->omitted++ == 0 &&
	    snprintf(f->c->first, sizeof(f->c->first), "%s", msg) >=
	        (int)sizeof(f->c->first))
		memcpy(f->c->first + sizeof(f->c->first) - 4, "...", 4);
	if (f->c->notice != NULL)
		f->c->notice(f->c->notice_arg, msg);
}

/* Set the attributes of "n" on "fd" (or "name" in "dfd" if fd is -1). */
static void
set_xattrs(struct actx *c, int fd, int dfd, const char *name,
    const struct nrow *n)
{
	struct xafail f = { c, n->path };

	if (fd != -1)
		rdi_xattrs_prune(fd, n->xa, n->xalen);
	(void)rdi_xattrs_apply(fd, dfd, name, n->xa, n->xalen, xattr_failed,
	    &f);
}

/* 1 if "name" in "dfd" has exactly the attributes of "n", 0, -1. */
static int
same_xattrs(int dfd, const char *name, const struct nrow *n, struct rd_err *err)
{
	struct rdi_buf b = { NULL, 0, 0 };
	int r;

	if (rdi_xattrs_read(dfd, name, 0, n->path, &b, err) == -1)
		return -1;
	r = b.len == n->xalen &&
	    (b.len == 0 || memcmp(b.data, n->xa, b.len) == 0);
	rdi_buf_release(&b);
	return r;
}

/* 1 if the open file "fd" holds content "sha". */
static int
holds(int fd, const unsigned char *sha, struct rd_err *err)
{
	unsigned char got[RD_HASH_LEN];

	if (lseek(fd, 0, SEEK_SET) == -1)
		return rd_err_sys(err, RD_EIO, "cannot seek");
	if (rd_sha256_fd(fd, got, err) == -1)
		return -1;
	return memcmp(got, sha, RD_HASH_LEN) == 0;
}

static int
set_meta_fd(struct actx *c, int fd, const struct nrow *n, struct rd_err *err)
{
	struct timespec ts[2];

	if (c->chown_ok && fchown(fd, (uid_t)n->uid, (gid_t)n->gid) == -1)
		return rd_err_sys(err, RD_EIO, "cannot chown '%s'", n->path);
	if (fchmod(fd, (mode_t)n->mode) == -1)
		return rd_err_sys(err, RD_EIO, "cannot chmod '%s'", n->path);
	/* after chown, which clears security.capability */
	set_xattrs(c, fd, -1, NULL, n);
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = rdi_ns_to_timespec(n->mtime);
	if (futimens(fd, ts) == -1)
		return rd_err_sys(err, RD_EIO, "cannot set times of '%s'",
		    n->path);
	return 0;
}

static int
tmp_name(char *buf, size_t len, struct rd_err *err)
{
	unsigned char rnd[8];
	char hex[17];

	if (rdi_random(rnd, sizeof(rnd), err) == -1)
		return -1;
	rd_hex(rnd, sizeof(rnd), hex);
	snprintf(buf, len, ".rdship-%s", hex);
	return 0;
}

/*
 * Is the replica's file at "name" already the new version?  By content
 * when resuming or when metadata cannot tell old from new.
 */
static int
already_new(struct actx *c, int pfd, const char *name, const struct nrow *n,
    struct rd_err *err)
{
	struct stat sb;
	int fd, r;

	if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(sb.st_mode) || sb.st_size != n->size ||
	    (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec !=
	        n->mtime ||
	    (sb.st_mode & 07777) != n->mode)
		return 0;
	r = same_xattrs(pfd, name, n, err);
	if (r != 1)
		return r;
	if (!c->resume &&
	    !(n->has_old && n->old_type == RD_TYPE_FILE &&
	        n->old_size == n->size && n->old_mtime == n->mtime &&
	        n->old_mode == n->mode))
		return 1;
	fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	r = holds(fd, n->sha, err);
	close(fd);
	return r;
}

/*
 * A file whose new version is stored as a delta against the old one the
 * replica holds, with every copy where it stays (a file changed in place,
 * such as a database): its changed blocks are written into the replica's
 * copy, which is then checked whole against the SHA-256 and synced.  The
 * path holds neither version meanwhile; the journal covers that: a redo
 * writes the same blocks again.  Returns 1 when done, 0 when the temp
 * file path is to write it (nothing was, or the copy was not the old
 * version and is now rewritten whole), -1.
 */
static int
patch_in_place(struct actx *c, int pfd, const char *name, const struct nrow *n,
    struct rd_err *err)
{
	struct stat sb;
	int fd, r;

	fd = openat(pfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	/* another name of the same file must not change with it */
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1) {
		close(fd);
		return 0;
	}
	r = rdi_content_patch_inplace(c->st->db, c->pc, n->sha, n->old_sha, fd,
	    err);
	if (r == -1 && err->code == RD_ECORRUPT) {
		rd_err_clear(err);
		r = 0;
	}
	if (r == 1 && set_meta_fd(c, fd, n, err) == -1)
		r = -1;
	if (r == 1 && fsync(fd) == -1)
		r = rd_err_sys(err, RD_EIO, "cannot fsync '%s'", n->path);
	if (r == -1) {
		close(fd);
		return -1;
	}
	if (rdi_close(fd, n->path, err) == -1)
		return -1;
	if (r == 1)
		c->changed++;
	return r;
}

static int
write_file(struct actx *c, int pfd, const char *name, const struct nrow *n,
    struct rd_err *err)
{
	char tmp[32];
	struct rdi_sparse fs;
	int fd = -1, basis = -1, tmpfd = -1, patched = 0, ret = -1, r;

	r = already_new(c, pfd, name, n, err);
	if (r == -1)
		return -1;
	if (r == 1)
		return 0;
	if (n->has_old && n->old_type == RD_TYPE_FILE) {
		r = patch_in_place(c, pfd, name, n, err);
		if (r != 0)
			return r == 1 ? 0 : -1;
	}
	if (tmp_name(tmp, sizeof(tmp), err) == -1)
		return -1;
	fd = openat(pfd, tmp,
	    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO,
		    "cannot create a temp file for '%s'", n->path);
	rdi_sparse_init(&fs, fd, n->path);
	tmpfd = openat(c->st->dfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tmpfd == -1) {
		rd_err_sys(err, RD_EIO, "cannot open '%s/tmp'", c->st->path);
		goto out;
	}
	/* patch from the replica's own old copy when the store allows */
	if (n->has_old && n->old_type == RD_TYPE_FILE) {
		basis = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (basis != -1) {
			r = rdi_content_patch(c->st, c->st->db, c->pc, n->sha,
			    n->old_sha, basis, rdi_sparse_write, &fs, err);
			if (r == -1) {
				/* the old copy was not what we thought */
				rd_err_clear(err);
				rdi_sparse_init(&fs, fd, n->path);
				if (ftruncate(fd, 0) == -1 ||
				    lseek(fd, 0, SEEK_SET) == -1) {
					rd_err_sys(err, RD_EIO,
					    "cannot rewind temp file");
					goto out;
				}
			}
			patched = r == 1;
		}
	}
	if (!patched &&
	    rdi_content_read(c->st, c->st->db, c->pc, n->sha, tmpfd,
	        rdi_sparse_write, &fs, err) == -1)
		goto out;
	if (rdi_sparse_flush(&fs, err) == -1)
		goto out;
	if (ftruncate(fd, (off_t)n->size) == -1) {
		rd_err_sys(err, RD_EIO, "cannot write '%s'", n->path);
		goto out;
	}
	if (set_meta_fd(c, fd, n, err) == -1)
		goto out;
	if (fsync(fd) == -1) {
		rd_err_sys(err, RD_EIO, "cannot fsync '%s'", n->path);
		goto out;
	}
	if (rdi_close(fd, n->path, err) == -1) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (renameat(pfd, tmp, pfd, name) == -1) {
		rd_err_sys(err, RD_EIO, "cannot rename into '%s'", n->path);
		goto out;
	}
	tmp[0] = '\0';
	c->changed++;
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	if (basis != -1)
		close(basis);
	if (tmpfd != -1)
		close(tmpfd);
	if (ret == -1 && tmp[0] != '\0')
		unlinkat(pfd, tmp, 0);
	return ret;
}

/*
 * The end of making "tmp" (a symlink or special file) for row "n": its
 * owner, "mode" (-1: none), extended attributes and mtime, then renamed
 * over "name".  Returns 0, or -1 with errno set.
 */
static int
finish_tmp(struct actx *c, int pfd, const char *tmp, const char *name,
    const struct nrow *n, int mode)
{
	struct xafail f = { c, n->path };
	struct rdi_entry_meta m = { c->chown_ok, n->uid, n->gid, mode, n->xa,
		n->xalen, n->mtime, xattr_failed, &f };
	const char *step;

	if (rdi_entry_meta_at(pfd, tmp, &m, &step) == -1 ||
	    renameat(pfd, tmp, pfd, name) == -1)
		return -1;
	c->changed++;
	return 0;
}

static int
write_link(struct actx *c, int pfd, const char *name, const struct nrow *n,
    struct rd_err *err)
{
	char tmp[32], cur[4097];
	ssize_t len;

	len = readlinkat(pfd, name, cur, sizeof(cur) - 1);
	if (len >= 0) {
		cur[len] = '\0';
		if (strcmp(cur, n->target) == 0 && !n->has_old &&
		    same_xattrs(pfd, name, n, err) == 1)
			return 0;
	}
	if (tmp_name(tmp, sizeof(tmp), err) == -1)
		return -1;
	if (symlinkat(n->target, pfd, tmp) == -1)
		return rd_err_sys(err, RD_EIO, "cannot create symlink '%s'",
		    n->path);
	if (finish_tmp(c, pfd, tmp, name, n, -1) == 0)
		return 0;
	rd_err_sys(err, RD_EIO, "cannot write symlink '%s'", n->path);
	unlinkat(pfd, tmp, 0);
	return -1;
}

/* A fifo or device node, made under a temp name and renamed into place. */
static int
write_special(struct actx *c, int pfd, const char *name, const struct nrow *n,
    struct rd_err *err)
{
	char tmp[32];
	mode_t kind = n->type == RD_TYPE_FIFO ? S_IFIFO
	    : n->type == RD_TYPE_CHR          ? S_IFCHR
	                                      : S_IFBLK;

	if (tmp_name(tmp, sizeof(tmp), err) == -1)
		return -1;
	if (mknodat(pfd, tmp, kind | 0600, (dev_t)n->rdev) == -1)
		return rd_err_sys(err, RD_EIO, "cannot make '%s' in replica",
		    n->path);
	if (finish_tmp(c, pfd, tmp, name, n, (int)n->mode) == 0)
		return 0;
	rd_err_sys(err, RD_EIO, "cannot write '%s' in replica", n->path);
	unlinkat(pfd, tmp, 0);
	return -1;
}

/*
 * A file with more than one name: if a name before it in the new
 * snapshot has its inode (same link identity and content), make it a
 * hard link to that one.  Returns 1 if linked, 0 if it is to be written
 * as a file, -1.
 */
static int
write_hardlink(struct actx *c, int pfd, const char *name, const struct nrow *n,
    struct rd_err *err)
{
	char first[NAME_MAX + 1], tmp[32];
	struct stat a, b;
	int r, ffd = -1, ret = -1;

	if (n->link == 0)
		return 0;
	if (c->first_name == NULL &&
	    rdi_db_prepare(c->st->db,
	        "SELECT path FROM entries WHERE link = ?1 AND type = ?2"
	        " AND sha = ?3 AND path < ?4 AND first <= ?5"
	        " AND (last IS NULL OR last >= ?5) ORDER BY path LIMIT 1",
	        &c->first_name, err) == -1)
		return -1;
	r = rdi_db_bind(c->st->db, c->first_name, err, "iihbi",
	    (int64_t)n->link, (int64_t)RD_TYPE_FILE, n->sha, n->path,
	    strlen(n->path), (int64_t)c->to);
	if (r == 0)
		r = rdi_db_step(c->st->db, c->first_name, err);
	if (r != 1)
		return r;
	{
		char *fp = strndup(sqlite3_column_blob(c->first_name, 0),
		    (size_t)sqlite3_column_bytes(c->first_name, 0));

		if (fp == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		ffd = rdi_open_parent(c->dfd, fp, first, err);
		free(fp);
	}
	if (ffd == -1)
		return -1;
	if (fstatat(ffd, first, &a, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(a.st_mode)) {
		ret = 0; /* not there as a file: write this name itself */
		goto out;
	}
	if (fstatat(pfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
		ret = 1; /* linked already */
		goto out;
	}
	if (tmp_name(tmp, sizeof(tmp), err) == -1)
		goto out;
	if (linkat(ffd, first, pfd, tmp, 0) == -1) {
		ret = 0;
		goto out;
	}
	if (renameat(pfd, tmp, pfd, name) == -1) {
		rd_err_sys(err, RD_EIO, "cannot link '%s' in replica", n->path);
		unlinkat(pfd, tmp, 0);
		goto out;
	}
	c->changed++;
	ret = 1;
out:
	close(ffd);
	return ret;
}

static int
make_dir(struct actx *c, int pfd, const char *name, const struct nrow *n,
    struct rd_err *err)
{
	struct stat sb;

	if (mkdirat(pfd, name, 0700) == 0) {
		c->changed++;
		return 0;
	}
	if (errno != EEXIST)
		return rd_err_sys(err, RD_EIO, "cannot create directory '%s'",
		    n->path);
	if (fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return rd_err_sys(err, RD_EIO, "cannot stat '%s'", n->path);
	if (S_ISDIR(sb.st_mode))
		return 0;
	/* a file or link of an older snapshot is in the way */
	if (unlinkat(pfd, name, 0) == -1 || mkdirat(pfd, name, 0700) == -1)
		return rd_err_sys(err, RD_EIO, "cannot replace '%s'", n->path);
	c->changed++;
	return 0;
}

static int
row_of(sqlite3_stmt *q, struct nrow *n, struct rd_err *err)
{
	int len;

	nrow_release(n);
	memset(n, 0, sizeof(*n));
	len = sqlite3_column_bytes(q, 0);
	n->path = malloc((size_t)len + 1);
	if (n->path == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (len > 0)
		memcpy(n->path, sqlite3_column_blob(q, 0), (size_t)len);
	n->path[len] = '\0';
	n->type = sqlite3_column_int(q, 1);
	n->mode = (unsigned)sqlite3_column_int(q, 2) & 07777;
	n->uid = sqlite3_column_int64(q, 3);
	n->gid = sqlite3_column_int64(q, 4);
	n->size = sqlite3_column_int64(q, 5);
	n->mtime = sqlite3_column_int64(q, 6);
	if (sqlite3_column_bytes(q, 7) == RD_HASH_LEN)
		memcpy(n->sha, sqlite3_column_blob(q, 7), RD_HASH_LEN);
	len = sqlite3_column_bytes(q, 8);
	if (len > 0 && len < (int)sizeof(n->target))
		memcpy(n->target, sqlite3_column_blob(q, 8), (size_t)len);
	n->has_old = sqlite3_column_type(q, 9) != SQLITE_NULL;
	if (n->has_old) {
		n->old_type = sqlite3_column_int(q, 9);
		n->old_size = sqlite3_column_int64(q, 10);
		n->old_mtime = sqlite3_column_int64(q, 11);
		n->old_mode = (unsigned)sqlite3_column_int(q, 12) & 07777;
		if (sqlite3_column_bytes(q, 13) == RD_HASH_LEN)
			memcpy(n->old_sha, sqlite3_column_blob(q, 13),
			    RD_HASH_LEN);
	}
	n->rdev = sqlite3_column_int64(q, 14);
	n->link = n->type == RD_TYPE_FILE ? sqlite3_column_int64(q, 15) : 0;
	len = sqlite3_column_bytes(q, 16);
	if (len > 0) {
		/* the row checks passed it; a second look costs little */
		if (!rdi_xattrs_valid(sqlite3_column_blob(q, 16), (size_t)len))
			return rd_err_set(err, RD_ECORRUPT,
			    "entry '%s' has bad extended attributes in catalog",
			    n->path);
		n->xa = malloc((size_t)len);
		if (n->xa == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		memcpy(n->xa, sqlite3_column_blob(q, 16), (size_t)len);
		n->xalen = (size_t)len;
	}
	return 0;
}

static int
write_new(struct actx *c, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct nrow *n;
	char name[NAME_MAX + 1];
	int r, pfd, ret = -1;

	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (rdi_range_stmt(c->st->db,
	        "SELECT n.path, n.type, n.mode, n.uid,"
	        " n.gid, n.size, n.mtime, n.sha, n.target, o.type, o.size,"
	        " o.mtime, o.mode, o.sha, n.rdev, n.link, n.xattrs"
	        " FROM entries n LEFT JOIN entries o"
	        " ON o.path = n.path AND o.first <= ?1"
	        " AND (o.last IS NULL OR o.last >= ?1)"
	        " WHERE n.first > ?1 AND n.first <= ?2"
	        " AND (n.last IS NULL OR n.last >= ?2) ORDER BY n.path",
	        c->from, c->to, &q, err) == -1)
		goto out;
	for (;;) {
		r = rdi_db_step(c->st->db, q, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		if (row_of(q, n, err) == -1)
			goto out;
		if (n->path[0] == '\0')
			continue; /* the root: metadata at the end */
		pfd = rdi_open_parent(c->dfd, n->path, name, err);
		if (pfd == -1)
			goto out;
		if (n->type == RD_TYPE_DIR)
			r = make_dir(c, pfd, name, n, err);
		else if (n->type == RD_TYPE_SYMLINK)
			r = write_link(c, pfd, name, n, err);
		else if (n->type == RD_TYPE_FIFO || n->type == RD_TYPE_CHR ||
		    n->type == RD_TYPE_BLK)
			r = write_special(c, pfd, name, n, err);
		else if ((r = write_hardlink(c, pfd, name, n, err)) == 0)
			r = write_file(c, pfd, name, n, err);
		else if (r == 1)
			r = 0;
		close(pfd);
		if (r == -1 || touch_parent(c, n->path, err) == -1)
			goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	if (n != NULL)
		nrow_release(n);
	free(n);
	return ret;
}

/* Record every directory that is new in "to": its metadata is set last. */
static int
touch_new_dirs(struct actx *c, struct rd_err *err)
{
	sqlite3_stmt *d = NULL;
	char *p = NULL;
	int r, len, ret = -1;

	if (rdi_db_query(c->st->db, &d, err,
	        "SELECT path FROM entries WHERE"
	        " type = ?3 AND first > ?1 AND first <= ?2"
	        " AND (last IS NULL OR last >= ?2)",
	        "iii", (int64_t)c->from, (int64_t)c->to,
	        (int64_t)RD_TYPE_DIR) == -1)
		return -1;
	for (;;) {
		r = rdi_db_step(c->st->db, d, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		len = sqlite3_column_bytes(d, 0);
		free(p);
		p = malloc((size_t)len + 2);
		if (p == NULL) {
			rd_err_set(err, RD_ENOMEM, "out of memory");
			goto out;
		}
		if (len > 0)
			memcpy(p, sqlite3_column_blob(d, 0), (size_t)len);
		/* the parent of "dir/x" is "dir/" */
		p[len] = 'x';
		p[len + 1] = '\0';
		if (touch_parent(c, p, err) == -1)
			goto out;
	}
	ret = 0;
out:
	free(p);
	sqlite3_finalize(d);
	return ret;
}

/* Set the snapshot's metadata on the directories we changed. */
static int
fix_dirs(struct actx *c, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct nrow *n;
	char name[NAME_MAX + 1];
	size_t i;
	int r, fd, pfd, ret = -1;

	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (rdi_db_prepare(c->st->db,
	        "SELECT mode, uid, gid, mtime, xattrs FROM"
	        " entries WHERE path = ?1 AND type = ?3 AND first <= ?2"
	        " AND (last IS NULL OR last >= ?2)",
	        &q, err) == -1)
		goto out;
	for (i = 0; i < c->ntouched; i++) {
		const char *p = c->touched[i];

		r = rdi_db_bind(c->st->db, q, err, "bii", p, strlen(p),
		    (int64_t)c->to, (int64_t)RD_TYPE_DIR);
		if (r == 0)
			r = rdi_db_step(c->st->db, q, err);
		if (r == -1)
			goto out;
		if (r == 0)
			continue; /* removed since */
		nrow_release(n);
		n->path = strdup(p[0] != '\0' ? p : ".");
		if (n->path == NULL) {
			rd_err_set(err, RD_ENOMEM, "out of memory");
			goto out;
		}
		n->mode = (unsigned)sqlite3_column_int(q, 0) & 07777;
		n->uid = sqlite3_column_int64(q, 1);
		n->gid = sqlite3_column_int64(q, 2);
		n->mtime = sqlite3_column_int64(q, 3);
		if (sqlite3_column_bytes(q, 4) > 0) {
			if (!rdi_xattrs_valid(sqlite3_column_blob(q, 4),
			        (size_t)sqlite3_column_bytes(q, 4))) {
				rd_err_set(err, RD_ECORRUPT,
				    "entry '%s' has bad extended attributes in catalog",
				    n->path);
				goto out;
			}
			n->xalen = (size_t)sqlite3_column_bytes(q, 4);
			n->xa = malloc(n->xalen);
			if (n->xa == NULL) {
				rd_err_set(err, RD_ENOMEM, "out of memory");
				goto out;
			}
			memcpy(n->xa, sqlite3_column_blob(q, 4), n->xalen);
		}
		if (p[0] == '\0') {
			fd = dup(c->dfd);
		} else {
			pfd = rdi_open_parent(c->dfd, p, name, err);
			if (pfd == -1)
				goto out;
			fd = openat(pfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			close(pfd);
		}
		if (fd == -1) {
			rd_err_sys(err, RD_EIO, "cannot open '%s' in replica",
			    n->path);
			goto out;
		}
		r = set_meta_fd(c, fd, n, err);
		close(fd);
		if (r == -1)
			goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	if (n != NULL)
		nrow_release(n);
	free(n);
	return ret;
}

/* Directories sort before their contents; order the list deepest first. */
static int
deeper_first(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;

	return strcmp(y, x);
}

/*
 * Remove the temp files an interrupted apply left (".rdship-*"), in the
 * whole replica, never following a symlink.
 */
static int
remove_temps(int dfd, int depth, struct rd_err *err)
{
	DIR *d;
	struct dirent *de;
	int sub, ret = 0;

	if (depth > 256)
		return 0;
	d = rdi_opendir_fd(dfd, "replica", err);
	if (d == NULL)
		return -1;
	while (ret == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (strncmp(de->d_name, ".rdship-", 8) == 0) {
			if (unlinkat(dfd, de->d_name, 0) == -1 &&
			    errno != ENOENT)
				ret = rd_err_sys(err, RD_EIO,
				    "cannot remove temp file '%s'", de->d_name);
			continue;
		}
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		sub = openat(dfd, de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub == -1)
			continue;
		ret = remove_temps(sub, depth + 1, err);
		close(sub);
	}
	closedir(d);
	return ret;
}

static int
journal(struct rd_store *st, const char *dir, int64_t version, int64_t target,
    const char *state, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int ret = -1;

	if (rdi_db_prepare(st->db,
	        "INSERT INTO replicas(dir, version, target,"
	        " state, updated) VALUES (?, ?, ?, ?, ?) ON CONFLICT(dir) DO UPDATE"
	        " SET version = excluded.version, target = excluded.target,"
	        " state = excluded.state, updated = excluded.updated",
	        &q, err) == -1)
		return -1;
	if ((target > 0
	            ? rdi_db_bind(st->db, q, err, "tiitd", dir,
	                  (int64_t)version, (int64_t)target, state, rd_now())
	            : rdi_db_bind(st->db, q, err, "tintd", dir,
	                  (int64_t)version, state, rd_now())) == -1 ||
	    rdi_db_step(st->db, q, err) == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

/*
 * What this store's journal says of the replica "abs" (shown as "dir"):
 * the snapshot it holds (c->from) and whether an update was interrupted
 * (c->resume).  A replica it does not know must be empty.
 */
static int
replica_state(struct actx *c, const char *abs, const char *dir,
    struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	const unsigned char *state;
	int r, known = 0;

	if (rdi_db_prepare(c->st->db,
	        "SELECT version, state FROM replicas"
	        " WHERE dir = ?",
	        &q, err) == -1)
		return -1;
	r = rdi_db_bind(c->st->db, q, err, "t", abs);
	if (r == 0)
		r = rdi_db_step(c->st->db, q, err);
	if (r == 1) {
		known = 1;
		c->from = sqlite3_column_int64(q, 0);
		state = sqlite3_column_text(q, 1);
		c->resume = state != NULL &&
		    strcmp((const char *)state, "applying") == 0;
	}
	sqlite3_finalize(q);
	if (r == -1 || known)
		return r == -1 ? -1 : 0;
	r = rdi_dir_has_entries(c->dfd, dir, err);
	if (r == 1)
		return rd_err_set(err, RD_ECANTCREAT,
		    "replica '%s' is not empty and this store has no record of it",
		    dir);
	return r == -1 ? -1 : 0;
}

/*
 * Bring the tree from c->from to c->to: remove what is gone, write what
 * is new or changed, then set the metadata of every directory touched
 * (the root's and every new one's too), deepest first.
 */
static int
apply_changes(struct actx *c, struct rd_err *err)
{
	if (remove_old(c, err) == -1 || write_new(c, err) == -1)
		return -1;
	if (touch_parent(c, "x", err) == -1 || touch_new_dirs(c, err) == -1)
		return -1;
	if (c->ntouched > 1)
		qsort(c->touched, c->ntouched, sizeof(*c->touched),
		    deeper_first);
	return fix_dirs(c, err);
}

/*
 * Keep what the update to "version" of replica "abs" could not set, for
 * rdship status: "VERSION COUNT FIRST".  An update that sets everything
 * leaves an earlier record: the entries it names may still lack what it
 * says, unless they changed since.  A replica made anew has none.
 */
static int
record_omissions(struct actx *c, const char *abs, int64_t version,
    struct rd_err *err)
{
	char key[PATH_MAX + 32], val[RDI_OMISSION_LEN + 64];
	sqlite3_stmt *q = NULL;
	int r;

	snprintf(key, sizeof(key), "replica_omitted:%s", abs);
	if (c->omitted > 0) {
		snprintf(val, sizeof(val), "%lld %lld %s", (long long)version,
		    (long long)c->omitted, c->first);
		return rdi_meta_set(c->st->db, key, val, err);
	}
	if (c->from > 0)
		return 0;
	if (rdi_db_prepare(c->st->db, "DELETE FROM meta WHERE key = ?", &q,
	        err) == -1)
		return -1;
	r = rdi_db_bind(c->st->db, q, err, "t", key);
	if (r == 0)
		r = rdi_db_step(c->st->db, q, err);
	sqlite3_finalize(q);
	return r == -1 ? -1 : 0;
}

int
rdi_replica_apply(struct rd_store *st, const char *dir, int64_t version,
    rd_notice_fn notice, void *notice_arg, struct rdi_apply_res *res,
    struct rd_err *err)
{
	struct actx c;
	char abs[PATH_MAX];
	size_t i;
	int ret = -1;

	memset(&c, 0, sizeof(c));
	c.st = st;
	c.dfd = -1;
	c.to = version;
	c.notice = notice;
	c.notice_arg = notice_arg;
	c.chown_ok = geteuid() == 0;
	memset(res, 0, sizeof(*res));
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return rd_err_sys(err, RD_ECANTCREAT,
		    "cannot create replica '%s'", dir);
	if (realpath(dir, abs) == NULL)
		return rd_err_sys(err, RD_EIO, "cannot resolve replica '%s'",
		    dir);
	c.dfd = open(abs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.dfd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open replica '%s'", dir);
	if (replica_state(&c, abs, dir, err) == -1)
		goto out;
	if (c.from == version && !c.resume) {
		ret = 0;
		goto out;
	}
	if (c.from > version) {
		rd_err_set(err, RD_ECORRUPT,
		    "replica '%s' holds snapshot %lld, newer than %lld", dir,
		    (long long)c.from, (long long)version);
		goto out;
	}
	if (c.resume) {
		if (notice != NULL)
			notice(notice_arg,
			    "resuming an interrupted replica update");
		if (remove_temps(c.dfd, 0, err) == -1)
			goto out;
	}
	/* nothing is written unless every row to apply is sound */
	if (rdi_rows_check(st->db, c.from, version, "catalog", err) == -1)
		goto out;
	if (journal(st, abs, c.from, version, "applying", err) == -1)
		goto out;
	c.pc = rdi_packcache_new(st);
	if (c.pc == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	if (apply_changes(&c, err) == -1)
		goto out;
	if (syncfs(c.dfd) == -1) {
		rd_err_sys(err, RD_EIO, "cannot sync replica '%s'", dir);
		goto out;
	}
	if (journal(st, abs, version, 0, "clean", err) == -1 ||
	    record_omissions(&c, abs, version, err) == -1)
		goto out;
	res->changed = c.changed;
	res->omitted = c.omitted;
	memcpy(res->first, c.first, sizeof(res->first));
	ret = 0;
out:
	rdi_packcache_free(c.pc);
	for (i = 0; i < c.ntouched; i++)
		free(c.touched[i]);
	free(c.touched);
	sqlite3_finalize(c.first_name);
	if (c.dfd != -1)
		close(c.dfd);
	return ret;
}
