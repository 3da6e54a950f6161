/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rejoin.c: an old primary (or a standby that is ahead) becomes a
 * standby of the store promoted in its place (rdship rejoin).
 *
 * Two steps.  rd_ship_rejoin() keeps the store's whole history aside as
 * a store of its own, STORE/forked-EPOCH (its packs hard-linked, its
 * catalog copied), and makes STORE a standby of the new primary with a
 * "rejoin" mark.  The first push from the new primary says where the
 * lineages forked (HELLO's fork point: the newest snapshot it took from
 * this lineage); rdi_rejoin_cut() then drops the snapshots after it from
 * STORE, whose objects stay, so that the push sends only what STORE
 * lacks.  The snapshots after the fork point stay restorable in the
 * store kept aside.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ship/ship_int.h"

int
rd_store_id_ok(const char *s)
{
	return rdi_uuid_ok(s);
}

/*
 * Who to follow, from etcd: the primary it names must have taken over
 * from this store, or from the origin this store follows, at a higher
 * epoch.  Fills "uuid" and "*epoch".  Returns 0 or -1 (RD_EPERM for a
 * primary that is not a successor of this store).
 */
static int
successor_from_etcd(struct rd_store *st, const struct rd_ship_opts *o,
    char uuid[37], int64_t *epoch, struct rd_err *err)
{
	struct rdi_etcd ec;
	struct rdi_leader l;
	struct rdi_kv kv;
	int k;

	if (rdi_etcd_init(&ec, o->etcd, o->etcd_timeout, err) == -1)
		return -1;
	k = rdi_leader_get(&ec, o->cluster, &l, &kv, err);
	if (k == -1)
		return -1;
	if (k == 0)
		return rd_err_set(err, RD_EPERM,
		    "etcd names no primary for cluster '%s': nothing to rejoin",
		    o->cluster);
	if (strcmp(l.uuid, st->info.uuid) == 0)
		return rd_err_set(err, RD_EPERM,
		    "etcd names this store, %s, as the primary of cluster '%s': it has nothing to rejoin",
		    l.uuid, o->cluster);
	if (l.epoch == 0)
		return rd_err_set(err, RD_EPERM,
		    "etcd names %s as the primary of cluster '%s', but its promotion is not finished (epoch 0): rejoin once it is",
		    l.uuid, o->cluster);
	if (l.epoch <= st->info.epoch ||
	    (strcmp(l.prev, st->info.uuid) != 0 &&
	        (st->info.origin[0] == '\0' ||
	            strcmp(l.prev, st->info.origin) != 0)))
		return rd_err_set(err, RD_EPERM,
		    "etcd names %s (epoch %lld, after %s) as the primary of cluster '%s': not promoted in place of this store (epoch %lld) or of its origin",
		    l.uuid, (long long)l.epoch,
		    l.prev[0] != '\0' ? l.prev : "none", o->cluster,
		    (long long)st->info.epoch);
	memcpy(uuid, l.uuid, 37);
	*epoch = l.epoch;
	return 0;
}

/* rdi_pack_files() callback: hard-link a pack into the directory *arg. */
static int
link_pack(void *arg, int pfd, const char *file, int known, int64_t size,
    struct rd_err *err)
{
	int to = *(int *)arg;

	(void)size;
	if (!known)
		return 0; /* an orphan: the copy's catalog does not name it */
	if (linkat(pfd, file, to, file, 0) == -1)
		return rd_err_sys(err, RD_EIO,
		    "cannot link pack '%s' into the store kept aside", file);
	return 0;
}

/*
 * The copy of the catalog in "dir" (a new store directory): its own
 * identity, a primary, no replicas (those are STORE's) and no standbys
 * (they follow STORE).
 */
static int
fix_copy(const char *dir, struct rd_err *err)
{
	struct rd_store *cp = NULL;
	char uuid[37];
	int ret = -1;

	if (rd_store_open(dir, RD_OPEN_WRITE, 0, &cp, err) == -1)
		return -1;
	if (rdi_uuid(uuid, err) == -1 ||
	    rdi_db_exec(cp->db, "BEGIN IMMEDIATE", err) == -1)
		goto out;
	if (rdi_meta_set(cp->db, "uuid", uuid, err) == -1 ||
	    rdi_meta_set(cp->db, "role", "primary", err) == -1 ||
	    rdi_db_exec(cp->db, "DELETE FROM replicas", err) == -1 ||
	    rdi_db_exec(cp->db, "DELETE FROM meta WHERE key LIKE 'standby:%'",
	        err) == -1 ||
	    rdi_db_exec(cp->db, "COMMIT", err) == -1) {
		sqlite3_exec(cp->db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	ret = 0;
out:
	rd_store_close(cp);
	return ret;
}

/*
 * Fill the new store directory "tmp" (in STORE): packs/ with STORE's
 * packs hard-linked, tmp/, lock, and a copy of the catalog.
 */
static int
fill_copy(struct rd_store *st, int dfd, const char *tmp, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	char path[4096];
	int pfd = -1, fd, ret = -1;

	if (mkdirat(dfd, "packs", 0700) == -1 ||
	    mkdirat(dfd, "tmp", 0700) == -1)
		return rd_err_sys(err, RD_ECANTCREAT, "cannot create '%s/%s'",
		    st->path, tmp);
	fd = openat(dfd, "lock", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || rdi_close(fd, "lock", err) == -1)
		return fd == -1
		    ? rd_err_sys(err, RD_ECANTCREAT,
		          "cannot create '%s/%s/lock'", st->path, tmp)
		    : -1;
	pfd = openat(dfd, "packs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd == -1) {
		rd_err_sys(err, RD_EIO, "cannot open '%s/%s/packs'", st->path,
		    tmp);
		goto out;
	}
	if (rdi_pack_files(st, link_pack, &pfd, err) != 0 ||
	    rdi_fsync_dirfd(pfd, "packs", err) == -1)
		goto out;
	if (snprintf(path, sizeof(path), "%s/%s/catalog.db", st->path, tmp) >=
	    (int)sizeof(path)) {
		rd_err_set(err, RD_ECANTCREAT, "store path too long");
		goto out;
	}
	if (rdi_db_query(st->db, &q, err, "VACUUM INTO ?", "t", path) == -1)
		goto out;
	if (rdi_db_step(st->db, q, err) == -1)
		goto out;
	path[strlen(path) - strlen("/catalog.db")] = '\0';
	if (fix_copy(path, err) == -1 || rdi_fsync_dirfd(dfd, tmp, err) == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(q);
	if (pfd != -1)
		close(pfd);
	return ret;
}

/*
 * Keep the whole store aside as STORE/"name", a store of its own: built
 * under a temporary name, renamed when complete.
 */
static int
keep_aside(struct rd_store *st, const char *name, struct rd_err *err)
{
	char tmp[96];
	struct stat sb;
	int dfd = -1, made = 0, ret = -1;

	snprintf(tmp, sizeof(tmp), ".%s.tmp", name);
	if (fstatat(st->dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return rd_err_set(err, RD_ECANTCREAT,
		    "cannot keep the snapshots aside: '%s/%s' exists", st->path,
		    name);
	/* a rejoin killed while it copied */
	if (fstatat(st->dfd, tmp, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    rdi_rmtree(st->dfd, tmp, tmp, err) == -1)
		return -1;
	if (mkdirat(st->dfd, tmp, 0700) == -1)
		return rd_err_sys(err, RD_ECANTCREAT, "cannot create '%s/%s'",
		    st->path, tmp);
	made = 1;
	dfd = openat(st->dfd, tmp,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1) {
		rd_err_sys(err, RD_EIO, "cannot open '%s/%s'", st->path, tmp);
		goto out;
	}
	if (fill_copy(st, dfd, tmp, err) == -1)
		goto out;
	if (renameat(st->dfd, tmp, st->dfd, name) == -1) {
		rd_err_sys(err, RD_EIO, "cannot rename '%s/%s'", st->path, tmp);
		goto out;
	}
	made = 0;
	if (rdi_fsync_dirfd(st->dfd, st->path, err) == -1)
		goto out;
	ret = 0;
out:
	if (dfd != -1)
		close(dfd);
	if (made) {
		struct rd_err e2 = RD_ERR_INIT;

		(void)rdi_rmtree(st->dfd, tmp, tmp, &e2);
	}
	return ret;
}

/* STORE becomes a standby of "uuid", rejoining: one transaction. */
static int
mark_rejoin(struct rd_store *st, const char *uuid, const char *aside,
    struct rd_err *err)
{
	if (rdi_db_exec(st->db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (rdi_meta_set(st->db, "role", "standby", err) == -1 ||
	    rdi_meta_set(st->db, "origin", uuid, err) == -1 ||
	    rdi_meta_set(st->db, "rejoin", aside, err) == -1 ||
	    /* it is no one's primary any more */
	    rdi_db_exec(st->db, "DELETE FROM meta WHERE key LIKE 'standby:%'",
	        err) == -1 ||
	    rdi_db_exec(st->db, "COMMIT", err) == -1) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return rdi_db_load(st, err);
}

int
rd_ship_rejoin(struct rd_store *st, const struct rd_ship_opts *opts,
    const char *origin, struct rd_rejoin_result *res, struct rd_err *err)
{
	struct rd_snapinfo si;
	char uuid[37], mark[40];
	int k;

	memset(res, 0, sizeof(*res));
	if (st->mode != RD_OPEN_WRITE)
		return rd_err_set(err, RD_EINTERNAL,
		    "store is not open for writing");
	if (rdi_meta_get(st->db, "rejoin", mark, sizeof(mark), err) == -1)
		return -1;
	if (mark[0] != '\0')
		return rd_err_set(err, RD_EPERM,
		    "store '%s' is rejoining %s already: push from it to finish",
		    st->path, st->info.origin);
	if (opts->etcd != NULL) {
		if (successor_from_etcd(st, opts, uuid, &res->epoch, err) == -1)
			return -1;
	} else {
		if (origin == NULL || !rdi_uuid_ok(origin))
			return rd_err_set(err, RD_EUSAGE,
			    "rejoin needs the new primary's store id, or etcd to name it");
		snprintf(uuid, sizeof(uuid), "%s", origin);
	}
	if (strcmp(uuid, st->info.uuid) == 0)
		return rd_err_set(err, RD_EPERM,
		    "%s is this store itself: nothing to rejoin", uuid);
	if (st->info.standby && strcmp(uuid, st->info.origin) == 0)
		return rd_err_set(err, RD_EPERM,
		    "store '%s' is a standby of %s already: nothing to rejoin",
		    st->path, uuid);
	snprintf(res->origin, sizeof(res->origin), "%s", uuid);
	k = rd_snap_get(st, 0, &si, err);
	if (k == -1 && err->code != RD_ENOENT)
		return -1;
	rd_err_clear(err);
	res->newest = k == 0 ? si.id : 0;
	if (res->newest > 0) {
		snprintf(res->aside, sizeof(res->aside), "forked-%lld",
		    (long long)st->info.epoch);
		if (keep_aside(st, res->aside, err) == -1)
			return -1;
	}
	if (mark_rejoin(st, uuid, res->newest > 0 ? res->aside : "-", err) ==
	    -1) {
		struct rd_err e2 = RD_ERR_INIT;

		/* refused: the store stays as it was */
		if (res->newest > 0)
			(void)rdi_rmtree(st->dfd, res->aside, res->aside, &e2);
		return -1;
	}
	return 0;
}

int
rdi_rejoin_cut(struct rd_store *st, int64_t fork, int64_t *cut, char *aside,
    size_t asidelen, struct rd_err *err)
{
	struct rd_snapinfo si;
	int64_t own = 0;
	int k;

	if (rdi_meta_get(st->db, "rejoin", aside, asidelen, err) == -1)
		return -1;
	if (aside[0] == '\0')
		return 0;
	k = rd_snap_get(st, 0, &si, err);
	if (k == -1 && err->code != RD_ENOENT)
		return -1;
	rd_err_clear(err);
	if (k == 0)
		own = si.id;
	*cut = fork < own ? fork : own;
	if (rdi_db_exec(st->db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	/* the snapshots after the fork point live on in the store aside */
	if (rdi_db_run(st->db, err,
	        "DELETE FROM snapshot_problems WHERE snapshot > ?", "i",
	        *cut) == -1 ||
	    rdi_db_run(st->db, err, "DELETE FROM entries WHERE first > ?", "i",
	        *cut) == -1 ||
	    rdi_db_run(st->db, err,
	        "UPDATE entries SET last = NULL WHERE last >= ?", "i",
	        *cut) == -1 ||
	    rdi_db_run(st->db, err, "DELETE FROM snapshots WHERE id > ?", "i",
	        *cut) == -1 ||
	    rdi_db_run(st->db, err,
	        "DELETE FROM replicas WHERE version > ? OR target > ?", "ii",
	        *cut, *cut) == -1 ||
	    rdi_db_exec(st->db, "DELETE FROM meta WHERE key = 'rejoin'", err) ==
	        -1 ||
	    rdi_db_exec(st->db, "COMMIT", err) == -1) {
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 1;
}
