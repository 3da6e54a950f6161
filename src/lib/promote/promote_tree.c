/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * promote_tree.c: the trees of a promotion.  Checking a materialized
 * tree against its snapshot (rd_tree_verify), moving trees without ever
 * replacing one (renameat2 RENAME_NOREPLACE), naming the trees kept
 * aside, removing a tree without following symlinks, and the space a
 * restore needs.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "promote_int.h"

/* ------------------------------------------------------------------ */
/* Checking a tree against a snapshot */

static int64_t
ns_of(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* Count the entries below directory "fd" (not following symlinks). */
static int
count_tree(int fd, int64_t *n, int depth, struct rd_err *err)
{
	DIR *d;
	struct dirent *de;
	int sub, ret = 0;

	if (depth > 1024)
		return rd_err_set(err, RD_EIO, "tree is too deep");
	d = rdi_opendir_fd(fd, "tree", err);
	if (d == NULL)
		return -1;
	while (ret == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		(*n)++;
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		sub = openat(fd, de->d_name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub == -1)
			continue;
		ret = count_tree(sub, n, depth + 1, err);
		close(sub);
	}
	closedir(d);
	return ret;
}

/* One entry of the snapshot, as the catalog has it. */
struct want {
	char *path; /* any length */
	int type;
	unsigned mode;
	int64_t size, mtime, rdev, uid, gid;
	const void *sha, *link, *xa;
	int shalen, linklen, xalen;
};

static int
type_matches(int type, mode_t m)
{
	switch (type) {
	case RD_TYPE_DIR:
		return S_ISDIR(m);
	case RD_TYPE_FILE:
		return S_ISREG(m);
	case RD_TYPE_SYMLINK:
		return S_ISLNK(m);
	case RD_TYPE_FIFO:
		return S_ISFIFO(m);
	case RD_TYPE_CHR:
		return S_ISCHR(m);
	case RD_TYPE_BLK:
		return S_ISBLK(m);
	}
	return 0;
}

/*
 * Compare the extended attributes (ACLs and file capabilities among
 * them) of "name" in "pfd" with the row's.  1 if they differ, 0, -1.
 */
static int
xattrs_differ(int pfd, const char *name, const struct want *w, char *why,
    size_t whylen, struct rd_err *err)
{
	struct rdi_buf b = { NULL, 0, 0 };
	int bad;

	if (rdi_xattrs_read(pfd, name, 0, w->path, &b, err) == -1) {
		snprintf(why, whylen,
		    "'%s': extended attributes cannot be read", w->path);
		rd_err_clear(err);
		return 1;
	}
	bad = b.len != (size_t)w->xalen ||
	    (b.len > 0 && memcmp(b.data, w->xa, b.len) != 0);
	rdi_buf_release(&b);
	if (bad)
		snprintf(why, whylen,
		    "'%s': extended attributes (ACLs, capabilities) differ",
		    w->path);
	return bad;
}

/* Compare a file's content with its SHA-256.  1 if it differs, 0, -1. */
static int
content_differs(int pfd, const char *name, const struct want *w, char *why,
    size_t whylen, struct rd_err *err)
{
	unsigned char sha[RD_HASH_LEN];
	int fd, bad = 0;

	fd = openat(pfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || rd_sha256_fd(fd, sha, err) == -1) {
		snprintf(why, whylen, "'%s' cannot be read", w->path);
		rd_err_clear(err);
		bad = 1;
	} else if (w->shalen != RD_HASH_LEN ||
	    memcmp(sha, w->sha, RD_HASH_LEN) != 0) {
		snprintf(why, whylen,
		    "'%s': content does not match its SHA-256", w->path);
		bad = 1;
	}
	if (fd != -1)
		close(fd);
	return bad;
}

/* "ns" since the epoch as 2021-02-03T04:05:06.123456789Z into "buf". */
static const char *
ns_iso(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000 - (ns % 1000000000 < 0));
	long frac = (long)(ns - (int64_t)t * 1000000000);
	struct tm tm;
	char day[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%lld ns", (long long)ns);
	else
		snprintf(buf, len, "%s.%09ldZ", day, frac);
	return buf;
}

/*
 * The mtime (in ns) of an entry whose status is "sb" against the
 * snapshot's "w" (files, directories, symlinks, the rest alike): 1 with
 * "why" naming "shown" and both times if they differ, else 0.
 */
static int
mtime_differs(const struct stat *sb, const struct want *w, const char *shown,
    char *why, size_t whylen)
{
	char has[48], want[48];

	if (ns_of(&sb->st_mtim) == w->mtime)
		return 0;
	snprintf(why, whylen, "'%s': modification time %s, expected %s", shown,
	    ns_iso(ns_of(&sb->st_mtim), has, sizeof(has)),
	    ns_iso(w->mtime, want, sizeof(want)));
	return 1;
}

/*
 * Compare entry "w" with "name" in directory "pfd", whose status is
 * "sb".  Returns 1 if it differs ("why" says how), 0, or -1.
 */
static int
entry_differs(int pfd, const char *name, const struct stat *sb,
    const struct want *w, int quick, char *why, size_t whylen,
    struct rd_err *err)
{
	char link[4097];
	ssize_t len;

	if (!type_matches(w->type, sb->st_mode)) {
		snprintf(why, whylen, "'%s' has the wrong type", w->path);
		return 1;
	}
	if (w->type != RD_TYPE_SYMLINK && (sb->st_mode & 07777) != w->mode) {
		snprintf(why, whylen, "'%s': mode %o, expected %o", w->path,
		    (unsigned)(sb->st_mode & 07777), w->mode);
		return 1;
	}
	if (w->type == RD_TYPE_FILE && sb->st_size != w->size) {
		snprintf(why, whylen, "'%s': size %lld, expected %lld", w->path,
		    (long long)sb->st_size, (long long)w->size);
		return 1;
	}
	if (mtime_differs(sb, w, w->path, why, whylen))
		return 1;
	if (w->type == RD_TYPE_SYMLINK) {
		len = readlinkat(pfd, name, link, sizeof(link) - 1);
		if (len < 0 || (size_t)len != (size_t)w->linklen ||
		    memcmp(link, w->link, (size_t)len) != 0) {
			snprintf(why, whylen, "'%s': symlink target differs",
			    w->path);
			return 1;
		}
	}
	/* only root restores owners (rdpromote runs as root in service) */
	if (geteuid() == 0 &&
	    ((int64_t)sb->st_uid != w->uid || (int64_t)sb->st_gid != w->gid)) {
		snprintf(why, whylen,
		    "'%s': owner %lld:%lld, expected %lld:%lld", w->path,
		    (long long)sb->st_uid, (long long)sb->st_gid,
		    (long long)w->uid, (long long)w->gid);
		return 1;
	}
	if ((w->type == RD_TYPE_CHR || w->type == RD_TYPE_BLK) &&
	    (int64_t)sb->st_rdev != w->rdev) {
		snprintf(why, whylen, "'%s': device number differs", w->path);
		return 1;
	}
	if (xattrs_differ(pfd, name, w, why, whylen, err) != 0)
		return 1;
	if (w->type == RD_TYPE_FILE && !quick)
		return content_differs(pfd, name, w, why, whylen, err);
	return 0;
}

/* Read the current row of "q" into "w".  Returns 0 or -1. */
static int
want_row(sqlite3_stmt *q, struct want *w, struct rd_err *err)
{
	int n = sqlite3_column_bytes(q, 0);

	free(w->path);
	w->path = malloc((size_t)n + 1);
	if (w->path == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (n > 0)
		memcpy(w->path, sqlite3_column_blob(q, 0), (size_t)n);
	w->path[n] = '\0';
	w->type = sqlite3_column_int(q, 1);
	w->mode = (unsigned)sqlite3_column_int(q, 2) & 07777;
	w->size = sqlite3_column_int64(q, 3);
	w->mtime = sqlite3_column_int64(q, 4);
	w->sha = sqlite3_column_blob(q, 5);
	w->shalen = sqlite3_column_bytes(q, 5);
	w->link = sqlite3_column_blob(q, 6);
	w->linklen = sqlite3_column_bytes(q, 6);
	w->rdev = sqlite3_column_int64(q, 7);
	w->xa = sqlite3_column_blob(q, 8);
	w->xalen = sqlite3_column_bytes(q, 8);
	w->uid = sqlite3_column_int64(q, 9);
	w->gid = sqlite3_column_int64(q, 10);
	return 0;
}

/* Check one entry of the snapshot below "rootfd".  1 differs, 0, -1. */
static int
check_entry(int rootfd, const char *dir, const struct want *w, int quick,
    char *why, size_t whylen, struct rd_err *err)
{
	struct stat sb;
	char name[NAME_MAX + 1];
	int pfd, r;

	if (w->path[0] == '\0') {
		if (fstat(rootfd, &sb) == -1)
			return rd_err_sys(err, RD_EIO, "cannot stat '%s'", dir);
		if ((sb.st_mode & 07777) != w->mode) {
			snprintf(why, whylen, "'.': mode %o, expected %o",
			    (unsigned)(sb.st_mode & 07777), w->mode);
			return 1;
		}
		return mtime_differs(&sb, w, ".", why, whylen);
	}
	pfd = rdi_open_parent(rootfd, w->path, name, err);
	if (pfd == -1 || fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		snprintf(why, whylen, "'%s' is missing", w->path);
		rd_err_clear(err);
		if (pfd != -1)
			close(pfd);
		return 1;
	}
	r = entry_differs(pfd, name, &sb, w, quick, why, whylen, err);
	close(pfd);
	return r;
}

/*
 * The names of one file (a hard-link key of the snapshot) must be one
 * inode in the tree, and names of different keys different inodes:
 * walked in key order, so only the previous group is kept.  1 if the
 * tree differs ("why" says where), 0, or -1.
 */
static int
links_differ(struct rd_store *st, int64_t id, int rootfd, char *why,
    size_t whylen, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct stat sb;
	char name[NAME_MAX + 1], *path = NULL;
	int64_t key, prev_key = 0, names = 0;
	dev_t dev = 0;
	ino_t ino = 0;
	nlink_t nlink = 0;
	int pfd, r, bad = 0;

	if (rdi_db_query(st->db, &q, err,
	        "SELECT link, path FROM entries WHERE first <= ?1"
	        " AND (last IS NULL OR last >= ?1) AND link IS NOT NULL"
	        " AND link <> 0 ORDER BY link, path",
	        "i", id) == -1)
		return -1;
	while (!bad && (r = rdi_db_step(st->db, q, err)) == 1) {
		key = sqlite3_column_int64(q, 0);
		free(path);
		path = strndup(sqlite3_column_blob(q, 1),
		    (size_t)sqlite3_column_bytes(q, 1));
		if (path == NULL) {
			bad = rd_err_set(err, RD_ENOMEM, "out of memory");
			break;
		}
		pfd = rdi_open_parent(rootfd, path, name, err);
		if (pfd == -1 ||
		    fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
			rd_err_clear(err);
			snprintf(why, whylen, "'%s' is missing", path);
			bad = 1;
		} else if (key == prev_key &&
		    (sb.st_dev != dev || sb.st_ino != ino)) {
			snprintf(why, whylen,
			    "'%s' is not a hard link of the file it was "
			    "linked to",
			    path);
			bad = 1;
		} else if (key != prev_key && names > 0 && sb.st_dev == dev &&
		    sb.st_ino == ino) {
			snprintf(why, whylen,
			    "'%s' is a hard link of a file it was not linked "
			    "to",
			    path);
			bad = 1;
		}
		if (pfd != -1)
			close(pfd);
		if (bad)
			break;
		if (key != prev_key) {
			if (!bad && names > 0 && (int64_t)nlink != names) {
				snprintf(why, whylen,
				    "a file has %lld names in the tree, %lld "
				    "in the snapshot",
				    (long long)nlink, (long long)names);
				bad = 1;
			}
			names = 0;
		}
		prev_key = key;
		dev = sb.st_dev;
		ino = sb.st_ino;
		nlink = sb.st_nlink;
		names++;
	}
	if (!bad && r == 0 && names > 0 && (int64_t)nlink != names) {
		snprintf(why, whylen,
		    "a file has %lld names in the tree, %lld in the snapshot",
		    (long long)nlink, (long long)names);
		bad = 1;
	}
	free(path);
	sqlite3_finalize(q);
	return bad == -1 || (!bad && r == -1) ? -1 : bad;
}

int
rd_tree_verify(struct rd_store *st, int64_t id, const char *dir, int quick,
    int64_t *entries, char *why, size_t whylen, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct want *w;
	int rootfd, r = 0, bad = 0, ret = -1;
	int64_t count = 0, found = 0;

	*entries = 0;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd == -1) {
		free(w);
		return rd_err_sys(err, RD_EIO, "cannot open '%s'", dir);
	}
	if (rdi_db_prepare(st->db,
	        "SELECT path, type, mode, size, mtime, sha,"
	        " target, rdev, xattrs, uid, gid FROM entries WHERE first <= ?1"
	        " AND (last IS NULL OR last >= ?1) ORDER BY path",
	        &q, err) == -1)
		goto out;
	if (rdi_db_bind(st->db, q, err, "i", (int64_t)id) == -1)
		goto out;
	while (!bad && (r = rdi_db_step(st->db, q, err)) == 1) {
		if (want_row(q, w, err) == -1)
			goto out;
		count++;
		bad = check_entry(rootfd, dir, w, quick, why, whylen, err);
		if (bad == -1)
			goto out;
	}
	if (!bad && r == -1)
		goto out;
	if (!bad) {
		bad = links_differ(st, id, rootfd, why, whylen, err);
		if (bad == -1)
			goto out;
	}
	if (!bad) {
		if (count_tree(rootfd, &found, 0, err) == -1)
			goto out;
		if (found != count - 1) {
			snprintf(why, whylen,
			    "the tree has %lld entries, the snapshot %lld",
			    (long long)found + 1, (long long)count);
			bad = 1;
		}
	}
	*entries = count;
	ret = bad;
out:
	sqlite3_finalize(q);
	close(rootfd);
	free(w->path);
	free(w);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Moving, naming and removing trees */

int
rdi_pt_exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

int
rdi_pt_rename(const char *from, const char *to, struct rd_err *err)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return rd_err_set(err, RD_ECANTCREAT,
		    "'%s' exists: not replacing it with '%s'", to, from);
	if (errno == EINVAL || errno == ENOSYS)
		return rd_err_sys(err, RD_EUNAVAIL,
		    "cannot rename '%s' to '%s' without the risk of replacing a directory (renameat2 RENAME_NOREPLACE)",
		    from, to);
	return rd_err_sys(err, RD_EIO, "cannot rename '%s' to '%s'", from, to);
}

int
rdi_pt_keep_name(const char *target, const char *kind, double now, int attempt,
    char *out, size_t len, struct rd_err *err)
{
	char stamp[32], n[16] = "";
	time_t t = (time_t)now;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (attempt > 0)
		snprintf(n, sizeof(n), ".%d", attempt);
	if ((size_t)snprintf(out, len, "%s.%s-%s%s", target, kind, stamp, n) >=
	    len)
		return rd_err_set(err, RD_EUSAGE,
		    "target path is too long to keep '%s' aside", target);
	return 0;
}

int
rdi_pt_sync_parent(const char *path, struct rd_err *err)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	return rdi_fsync_dir(dirname(buf), err);
}

int
rdi_pt_absolute(const char *path, char *out, size_t len, struct rd_err *err)
{
	char a[PATH_MAX], b[PATH_MAX], dir[PATH_MAX];
	const char *base;
	size_t n;

	snprintf(a, sizeof(a), "%s", path);
	n = strlen(a);
	while (n > 1 && a[n - 1] == '/')
		a[--n] = '\0';
	snprintf(b, sizeof(b), "%s", a);
	base = basename(b);
	if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
	    strcmp(base, "/") == 0)
		return rd_err_set(err, RD_EUSAGE, "invalid target '%s'", path);
	if (realpath(dirname(a), dir) == NULL)
		return rd_err_sys(err, RD_EIO,
		    "cannot resolve the directory of target '%s'", path);
	if (strlen(dir) + strlen(base) + 2 > 1000 ||
	    (size_t)snprintf(out, len, "%.1000s/%.255s",
	        strcmp(dir, "/") == 0 ? "" : dir, base) >= len)
		return rd_err_set(err, RD_EUSAGE,
		    "target path is too long (1000 bytes at most)");
	return 0;
}

int
rdi_pt_need(struct rd_store *st, int64_t id, int64_t bsize, double *bytes,
    int64_t *files, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r;

	*bytes = 0;
	*files = 0;
	if (bsize < 512)
		bsize = 512;
	/* total() is a float: a tampered size cannot overflow it */
	if (rdi_db_prepare(st->db,
	        "SELECT count(*), total(CASE WHEN type = 102"
	        " THEN (max(size, 0) + ?2 - 1) / ?2 * ?2 ELSE ?2 END)"
	        " FROM entries WHERE first <= ?1"
	        " AND (last IS NULL OR last >= ?1)",
	        &q, err) == -1)
		return -1;
	r = rdi_db_bind(st->db, q, err, "ii", (int64_t)id, (int64_t)bsize);
	if (r == 0)
		r = rdi_db_step(st->db, q, err);
	if (r == 1) {
		*files = sqlite3_column_int64(q, 0);
		*bytes = sqlite3_column_double(q, 1);
	}
	sqlite3_finalize(q);
	return r == -1 ? -1 : 0;
}
