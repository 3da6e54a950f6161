/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * recvcache.c: a standby's cache of the current versions of its large
 * contents, as plain files in STORE/cache named by their SHA-256 in hex.
 *
 * A standby checks every delta it receives by rebuilding it.  Rebuilt
 * from the store, a delta's base is decompressed from its pack, and a
 * base that is itself a delta is rebuilt through its whole chain: on a
 * 256 MiB database that is most of a push's time, and it grows with
 * the chain.  The receiver keeps instead the bytes of each large
 * content it has just checked, and patches the next delta against that
 * file.  The cache is advice, never trusted: a delta patched against it
 * is checked against its own SHA-256 like any other, a file that fails
 * is dropped and the delta rebuilt from the store, a cache that cannot
 * be written is simply not written, and only files of contents that are
 * current in the newest snapshot are kept.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"

void
rdi_bcache_open(struct rd_store *st, struct rdi_bcache *bc)
{
	bc->dfd = -1;
	if (mkdirat(st->dfd, "cache", 0700) == -1 && errno != EEXIST)
		return;
	bc->dfd = openat(st->dfd, "cache",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

void
rdi_bcache_close(struct rdi_bcache *bc)
{
	if (bc->dfd != -1)
		close(bc->dfd);
	bc->dfd = -1;
}

int
rdi_bcache_get(struct rdi_bcache *bc, const unsigned char *sha)
{
	char name[2 * RD_HASH_LEN + 1];
	struct stat sb;
	int fd;

	if (bc->dfd == -1)
		return -1;
	rd_hex(sha, RD_HASH_LEN, name);
	fd = openat(bc->dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		unlinkat(bc->dfd, name, 0);
		return -1;
	}
	return fd;
}

void
rdi_bcache_drop(struct rdi_bcache *bc, const unsigned char *sha)
{
	char name[2 * RD_HASH_LEN + 1];

	if (bc->dfd == -1)
		return;
	rd_hex(sha, RD_HASH_LEN, name);
	unlinkat(bc->dfd, name, 0);
}

void
rdi_bcache_begin(struct rdi_bcache *bc, const unsigned char *sha,
    rdi_sink_fn next, void *arg, struct rdi_bcache_w *w)
{
	char name[2 * RD_HASH_LEN + 8];

	w->bc = bc;
	w->next = next;
	w->arg = arg;
	memcpy(w->sha, sha, RD_HASH_LEN);
	w->fd = -1;
	if (bc->dfd == -1)
		return;
	rd_hex(sha, RD_HASH_LEN, name);
	strcat(name, ".part");
	w->fd = openat(bc->dfd, name,
	    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
}

/* Stop writing the file: a cache that cannot be written is not kept. */
static void
give_up(struct rdi_bcache_w *w)
{
	char name[2 * RD_HASH_LEN + 8];

	close(w->fd);
	w->fd = -1;
	rd_hex(w->sha, RD_HASH_LEN, name);
	strcat(name, ".part");
	unlinkat(w->bc->dfd, name, 0);
}

int
rdi_bcache_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct rdi_bcache_w *w = arg;
	struct rd_err ignored = RD_ERR_INIT;

	if (w->fd != -1 &&
	    rdi_write_all(w->fd, buf, len, "cache", &ignored) == -1)
		give_up(w);
	return w->next != NULL ? w->next(w->arg, buf, len, err) : 0;
}

void
rdi_bcache_end(struct rdi_bcache_w *w, int keep)
{
	char part[2 * RD_HASH_LEN + 8], name[2 * RD_HASH_LEN + 1];

	if (w->fd == -1)
		return;
	if (close(w->fd) == -1)
		keep = 0;
	w->fd = -1;
	rd_hex(w->sha, RD_HASH_LEN, name);
	snprintf(part, sizeof(part), "%s.part", name);
	if (!keep || renameat(w->bc->dfd, part, w->bc->dfd, name) == -1)
		unlinkat(w->bc->dfd, part, 0);
}

/* 1 if "name" is 64 lower-case hex digits, into "sha". */
static int
cache_name(const char *name, unsigned char sha[RD_HASH_LEN])
{
	/* rd_unhex() checks the length and takes upper case too */
	return strspn(name, "0123456789abcdef") == 2 * RD_HASH_LEN &&
	    rd_unhex(name, sha, RD_HASH_LEN) == 0;
}

int
rdi_bcache_evict(struct rdi_bcache *bc, sqlite3 *db, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	unsigned char sha[RD_HASH_LEN];
	struct dirent *de;
	DIR *d = NULL;
	int k, ret = -1;

	if (bc->dfd == -1)
		return 0;
	if (rdi_db_prepare(db,
	        "SELECT 1 FROM entries WHERE sha = ? AND last IS NULL LIMIT 1",
	        &q, err) == -1)
		return -1;
	d = rdi_opendir_fd(bc->dfd, "cache", err);
	if (d == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		k = 0;
		if (cache_name(de->d_name, sha)) {
			k = rdi_db_bind(db, q, err, "h", sha);
			if (k == 0)
				k = rdi_db_step(db, q, err);
			if (k == -1)
				goto out;
		}
		if (k == 0)
			unlinkat(bc->dfd, de->d_name, 0);
	}
	ret = 0;
out:
	if (d != NULL)
		closedir(d);
	sqlite3_finalize(q);
	return ret;
}

int
rdi_bcache_patch(struct rdi_bcache *bc, sqlite3 *db, struct rdi_packcache *pc,
    const unsigned char *sha, const unsigned char *base)
{
	char from[2 * RD_HASH_LEN + 1], to[2 * RD_HASH_LEN + 1];
	struct rd_err ignored = RD_ERR_INIT;
	struct stat sb;
	int fd, r;

	if (bc->dfd == -1)
		return 0;
	rd_hex(base, RD_HASH_LEN, from);
	fd = openat(bc->dfd, from, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		close(fd);
		unlinkat(bc->dfd, from, 0);
		return 0;
	}
	r = rdi_content_patch_inplace(db, pc, sha, base, fd, &ignored);
	close(fd);
	if (r == 1) {
		rd_hex(sha, RD_HASH_LEN, to);
		if (renameat(bc->dfd, from, bc->dfd, to) == 0)
			return 1;
	}
	/* failed midway, its bytes are neither version: not kept */
	if (r != 0)
		unlinkat(bc->dfd, from, 0);
	return 0;
}
