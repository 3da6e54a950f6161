/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * store.c: creating, opening, locking and tidying a store directory:
 *
 *	STORE/catalog.db	the catalog (SQLite, WAL)
 *	STORE/packs/		immutable pack files of objects
 *	STORE/tmp/		packs being written; leftovers are removed
 *	STORE/lock		flock(2) target: one writer at a time
 *
 * Readers never wait for a writer: the catalog is read in SQLite
 * transactions and packs never change once renamed into packs/.  A
 * reader does hold a shared OFD lock on byte 0 of STORE/lock (separate
 * from the writers' flock) for as long as the store is open; a writer
 * removes pack files (pruned ones, orphans) only when it can take that
 * byte exclusively, so a pack never vanishes under a running restore or
 * ship.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rd_int.h"

/* 1 if "path" is missing or an empty directory, 0 if not, -1 on error. */
static int
dir_empty_or_missing(const char *path, struct rd_err *err)
{
	DIR *d;
	struct dirent *de;
	int empty = 1;

	d = opendir(path);
	if (d == NULL) {
		if (errno == ENOENT)
			return 1;
		if (errno == ENOTDIR)
			return 0;
		return rd_err_sys(err, RD_EIO, "cannot open '%s'", path);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

int
rd_store_init(const char *path, const struct rd_init_opts *opts,
    struct rd_err *err)
{
	struct rd_store st;
	char sub[4096];
	int made_dir = 0, dfd = -1, fd = -1, r, ret = -1;
	int made_packs = 0, made_tmp = 0, made_lock = 0, made_db = 0;
	int made_key = 0;
	sqlite3 *db = NULL;

	memset(&st, 0, sizeof(st));
	if (opts->chain_max < 1 || opts->chain_max > 64)
		return rd_err_set(err, RD_EUSAGE,
		    "chain length %d is out of range (1 to 64)",
		    opts->chain_max);
	if (!rd_codec_available(opts->codec))
		return rd_err_set(err, RD_EUNAVAIL,
		    "codec '%s' is not available in this build",
		    rd_codec_name(opts->codec));
	if (strlen(path) > 3000)
		return rd_err_set(err, RD_EUSAGE, "store path is too long");
	r = dir_empty_or_missing(path, err);
	if (r == -1)
		return -1;
	if (r == 0)
		return rd_err_set(err, RD_ECANTCREAT,
		    "cannot create store '%s': exists and is not an empty directory",
		    path);
	if (mkdir(path, 0700) == 0)
		made_dir = 1;
	else if (errno != EEXIST)
		return rd_err_sys(err, RD_ECANTCREAT,
		    "cannot create store '%s'", path);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1) {
		rd_err_sys(err, RD_ECANTCREAT, "cannot open '%s'", path);
		goto out;
	}
	if (mkdirat(dfd, "packs", 0700) == -1) {
		rd_err_sys(err, RD_ECANTCREAT, "cannot create '%s/packs'",
		    path);
		goto out;
	}
	made_packs = 1;
	if (mkdirat(dfd, "tmp", 0700) == -1) {
		rd_err_sys(err, RD_ECANTCREAT, "cannot create '%s/tmp'", path);
		goto out;
	}
	made_tmp = 1;
	fd = openat(dfd, "lock", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		rd_err_sys(err, RD_ECANTCREAT, "cannot create '%s/lock'", path);
		goto out;
	}
	made_lock = 1;
	if (rdi_close(fd, "lock", err) == -1) {
		fd = -1;
		goto out;
	}
	fd = -1;
	snprintf(sub, sizeof(sub), "%s/catalog.db", path);
	if (sqlite3_open_v2(sub, &db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		rd_err_set(err, RD_ECANTCREAT, "cannot create '%s': %s", sub,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	made_db = 1;
	if (rdi_db_create(db, opts, err) == -1)
		goto out;
	if (sqlite3_close(db) != SQLITE_OK) {
		rdi_db_err(db, "cannot close catalog", err);
		goto out;
	}
	db = NULL;
	if (opts->key) {
		snprintf(sub, sizeof(sub), "%s/ship.key", path);
		if (rd_key_generate(sub, err) == -1)
			goto out;
		made_key = 1;
	}
	if (rdi_fsync_dirfd(dfd, path, err) == -1)
		goto out;
	ret = 0;
out:
	if (db != NULL)
		sqlite3_close(db);
	if (fd != -1)
		close(fd);
	if (ret == -1 && dfd != -1) {
		if (made_key)
			unlinkat(dfd, "ship.key", 0);
		if (made_db) {
			unlinkat(dfd, "catalog.db", 0);
			unlinkat(dfd, "catalog.db-wal", 0);
			unlinkat(dfd, "catalog.db-shm", 0);
		}
		if (made_lock)
			unlinkat(dfd, "lock", 0);
		if (made_tmp)
			unlinkat(dfd, "tmp", AT_REMOVEDIR);
		if (made_packs)
			unlinkat(dfd, "packs", AT_REMOVEDIR);
	}
	if (dfd != -1)
		close(dfd);
	if (ret == -1 && made_dir)
		rmdir(path);
	return ret;
}

/* F_OFD_SETLK(W) on byte 0 of the lock file: "type" F_RDLCK, F_WRLCK, F_UNLCK */
static int
reader_lock(int fd, short type, int wait)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 1;
	return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
}

/*
 * Readers: share byte 0 of STORE/lock.  A store whose lock file cannot be
 * opened (read-only copy, another owner) is read without it.
 */
static int
take_reader_lock(struct rd_store *st, struct rd_err *err)
{
	st->lockfd = openat(st->dfd, "lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (st->lockfd == -1)
		return 0;
	while (reader_lock(st->lockfd, F_RDLCK, 1) == -1) {
		if (errno != EINTR)
			return rd_err_sys(err, RD_EIO, "cannot lock '%s/lock'",
			    st->path);
	}
	return 0;
}

int
rdi_store_no_readers(struct rd_store *st)
{
	if (st->mode != RD_OPEN_WRITE || st->lockfd == -1)
		return 0;
	return reader_lock(st->lockfd, F_WRLCK, 0) == 0;
}

void
rdi_store_readers_release(struct rd_store *st)
{
	if (st->lockfd != -1)
		(void)reader_lock(st->lockfd, F_UNLCK, 0);
}

/* flock "st->lockfd" within "wait_seconds".  Returns 0 or -1. */
static int
lock_within(struct rd_store *st, double wait_seconds, struct rd_err *err)
{
	double deadline = rd_monotonic() + wait_seconds;
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	for (;;) {
		if (flock(st->lockfd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return rd_err_sys(err, RD_EIO, "cannot lock '%s/lock'",
			    st->path);
		if (rd_monotonic() >= deadline)
			return rd_err_set(err, RD_EBUSY,
			    "store '%s' is busy: another writer holds its lock",
			    st->path);
		nanosleep(&ts, NULL);
	}
}

static int
take_lock(struct rd_store *st, double wait_seconds, struct rd_err *err)
{
	st->lockfd = openat(st->dfd, "lock", O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (st->lockfd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s/lock'",
		    st->path);
	return lock_within(st, wait_seconds, err);
}

void
rdi_store_unlock(struct rd_store *st)
{
	if (st->mode == RD_OPEN_WRITE && st->lockfd != -1)
		(void)flock(st->lockfd, LOCK_UN);
}

int
rdi_store_relock(struct rd_store *st, double wait_seconds, struct rd_err *err)
{
	if (st->mode != RD_OPEN_WRITE || st->lockfd == -1)
		return 0;
	if (lock_within(st, wait_seconds, err) == -1)
		return -1;
	/* another writer may have changed it meanwhile */
	return rdi_db_load(st, err);
}

/*
 * Remove everything in STORE/tmp: packs of runs that did not finish, and
 * the scratch directory of a bracket hook (bracket.c) of one.
 */
static int
clean_tmp(struct rd_store *st, struct rd_err *err)
{
	char what[4200];
	int fd;
	DIR *d;
	struct dirent *de;

	fd = openat(st->dfd, "tmp",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s/tmp'",
		    st->path);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return rd_err_sys(err, RD_EIO, "cannot open '%s/tmp'",
		    st->path);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(what, sizeof(what), "%s/tmp/%s", st->path, de->d_name);
		if (rdi_rmtree(fd, de->d_name, what, err) == -1) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int
rdi_pack_files(struct rd_store *st,
    int (*fn)(void *arg, int pfd, const char *file, int known, int64_t size,
        struct rd_err *err),
    void *arg, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct dirent *de;
	struct stat sb;
	DIR *d = NULL;
	char name[33];
	int fd, r, ret = -1;

	fd = openat(st->dfd, "packs",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s/packs'",
		    st->path);
	d = rdi_opendir_fd(fd, "packs", err);
	if (d == NULL)
		goto out;
	if (rdi_db_prepare(st->db, "SELECT 1 FROM packs WHERE name = ?", &s,
	        err) == -1)
		goto out;
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0) {
				rd_err_sys(err, RD_EIO,
				    "cannot read directory '%s/packs'",
				    st->path);
				goto out;
			}
			break;
		}
		if (!rdi_pack_name_ok(de->d_name, ".pack"))
			continue;
		if (fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue; /* removed by a writer meanwhile */
			rd_err_sys(err, RD_EIO, "cannot stat '%s/packs/%s'",
			    st->path, de->d_name);
			goto out;
		}
		if (!S_ISREG(sb.st_mode))
			continue;
		memcpy(name, de->d_name, 32);
		name[32] = '\0';
		r = rdi_db_bind(st->db, s, err, "t", name);
		if (r == 0)
			r = rdi_db_step(st->db, s, err);
		if (r == -1)
			goto out;
		r = fn(arg, fd, de->d_name, r == 1, (int64_t)sb.st_size, err);
		if (r != 0) {
			ret = r;
			goto out;
		}
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	if (d != NULL)
		closedir(d);
	close(fd);
	return ret;
}

static int
remove_orphan(void *arg, int pfd, const char *file, int known, int64_t size,
    struct rd_err *err)
{
	(void)arg;
	(void)size;
	if (known)
		return 0;
	if (unlinkat(pfd, file, 0) == -1)
		return rd_err_sys(err, RD_EIO, "cannot remove orphan pack '%s'",
		    file);
	/* orphans are rare: make each removal durable on its own */
	return rdi_fsync_dirfd(pfd, "packs", err);
}

/*
 * Remove packs that no catalog row names: a run that crashed after
 * renaming a pack into packs/ but before its catalog commit, or packs
 * that a prune dropped while readers were open.  Only a writer (holding
 * the lock) may do this, and only while no reader has the store open.
 */
static int
clean_orphans(struct rd_store *st, struct rd_err *err)
{
	int r;

	if (!rdi_store_no_readers(st))
		return 0; /* a later writer removes them */
	r = rdi_pack_files(st, remove_orphan, NULL, err);
	rdi_store_readers_release(st);
	return r;
}

static int
tidy(struct rd_store *st, struct rd_err *err)
{
	if (clean_tmp(st, err) == -1)
		return -1;
	if (rdi_db_exec(st->db, "DELETE FROM snapshots WHERE state = 'pending'",
	        err) == -1)
		return -1;
	return clean_orphans(st, err);
}

int
rd_store_open(const char *path, int mode, double wait_seconds,
    struct rd_store **out, struct rd_err *err)
{
	struct rd_store *st;
	struct stat sb;

	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	st->dfd = st->lockfd = -1;
	st->mode = mode;
	st->path = strdup(path);
	if (st->path == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto fail;
	}
	st->dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dfd == -1) {
		rd_err_sys(err, RD_EIO, "cannot open store '%s'", path);
		goto fail;
	}
	if (fstatat(st->dfd, "catalog.db", &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISREG(sb.st_mode)) {
		rd_err_set(err, RD_ENOENT,
		    "'%s' is not a store (no catalog.db): create one with rdsnap init",
		    path);
		goto fail;
	}
	if (mode == RD_OPEN_WRITE && take_lock(st, wait_seconds, err) == -1)
		goto fail;
	if (mode == RD_OPEN_READ && take_reader_lock(st, err) == -1)
		goto fail;
	if (rdi_db_open(st, 0, &st->db, err) == -1)
		goto fail;
	if (rdi_db_load(st, err) == -1)
		goto fail;
	if (!rd_codec_available(st->info.codec)) {
		rd_err_set(err, RD_EUNAVAIL,
		    "store '%s' uses codec '%s', which this build lacks", path,
		    rd_codec_name(st->info.codec));
		goto fail;
	}
	if (mode == RD_OPEN_WRITE && tidy(st, err) == -1)
		goto fail;
	*out = st;
	return 0;
fail:
	rd_store_close(st);
	return -1;
}

void
rd_store_close(struct rd_store *st)
{
	if (st == NULL)
		return;
	if (st->db != NULL)
		sqlite3_close(st->db);
	if (st->lockfd != -1)
		close(st->lockfd);
	if (st->dfd != -1)
		close(st->dfd);
	free(st->path);
	free(st);
}

int
rd_store_info(struct rd_store *st, struct rd_store_info *info,
    struct rd_err *err)
{
	(void)err;
	*info = st->info;
	return 0;
}
