/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * promote.c: bringing a standby online (rdpromote), and drills.
 *
 * A promotion runs these steps in order, each journaled in the catalog
 * (promotions, promotion_steps) before and after it runs:
 *
 *	preflight	the snapshot exists; the primary probe says down
 *	fence		the fence command succeeds; the store's epoch rises
 *	materialize	the warm replica (if clean, at the version and on the
 *			target's file system) or a restore, into a staging
 *			directory next to the target
 *	verify		every entry against the catalog (content hashes, or
 *			metadata only with quick verification)
 *	switch		staging becomes the target; an old target is kept
 *			aside as TARGET.pre-promote-TIMESTAMP
 *	start		the start command
 *	check		the check probe, until up or the check timeout
 *	record		RTO and RPO
 *
 * A rerun after a crash continues after the last step that completed.
 * A drill runs the same steps into a scratch target without fencing,
 * raising the epoch or touching the store's role, then removes it.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>
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

#include "probe_int.h"

static const char *const steps[] = { "preflight", "fence", "materialize",
	"verify", "switch", "start", "check", "record" };
#define NSTEPS ((int)(sizeof(steps) / sizeof(steps[0])))
enum {
	S_PREFLIGHT,
	S_FENCE,
	S_MATERIALIZE,
	S_VERIFY,
	S_SWITCH,
	S_START,
	S_CHECK,
	S_RECORD
};

struct pctx {
	struct rd_store *st;
	const struct rd_promote_opts *o;
	struct rd_promote_result *res;
	int64_t id; /* promotions.id */
	int resumed;
	double t0;         /* start of the promotion (first run) */
	char target[1024]; /* absolute, at most 1000 bytes */
	char staging[1100];
	char aside[1100];
	char replica[1100];   /* used for materialize, or "" */
	char preflight[512];  /* what the preflight found */
	int epoch_raised;     /* the journal says this promotion raised it */
	char store_abs[1024]; /* for hooks */
	double snap_finished;
	int done[NSTEPS];
};

const char *
rd_promote_step_name(int step)
{
	return step >= 0 && step < NSTEPS ? steps[step] : "?";
}

static void say(struct pctx *c, int step, const char *outcome, double secs,
    const char *fmt, ...) RD_PRINTF(5, 6);

static void
say(struct pctx *c, int step, const char *outcome, double secs, const char *fmt,
    ...)
{
	char detail[512];
	va_list ap;

	detail[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		if (vsnprintf(detail, sizeof(detail), fmt, ap) < 0)
			detail[0] = '\0';
		va_end(ap);
	}
	if (step >= 0 && step < NSTEPS)
		c->res->step_seconds[step] = secs;
	if (c->o->step != NULL)
		c->o->step(c->o->step_arg, steps[step], outcome, secs, detail);
}

/* ------------------------------------------------------------------ */
/* The journal */

static int
exec_sql(struct rd_store *st, const char *sql, int64_t id, const char *a,
    const char *b, double d, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int ret = -1;

	if (rdi_db_prepare(st->db, sql, &q, err) == -1)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	if (a != NULL)
		sqlite3_bind_text(q, 2, a, -1, SQLITE_TRANSIENT);
	if (b != NULL)
		sqlite3_bind_text(q, 3, b, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(q, 4, d);
	if (rdi_db_step(st->db, q, err) == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

static int
step_begin(struct pctx *c, int step, struct rd_err *err)
{
	if (exec_sql(c->st,
	        "INSERT INTO promotion_steps(promotion, step,"
	        " started) VALUES (?1, ?2, ?4) ON CONFLICT(promotion, step) DO"
	        " UPDATE SET started = ?4, finished = NULL, outcome = NULL,"
	        " detail = NULL",
	        c->id, steps[step], NULL, rd_now(), err) == -1)
		return -1;
	return exec_sql(c->st, "UPDATE promotions SET step = ?2 WHERE id = ?1",
	    c->id, steps[step], NULL, 0, err);
}

static int
finish(struct pctx *c, const char *state, const char *message,
    struct rd_err *err)
{
	return exec_sql(c->st,
	    "UPDATE promotions SET state = ?2,"
	    " message = ?3, finished = ?4 WHERE id = ?1",
	    c->id, state, message, rd_now(), err);
}

/* Record the end of a step and its outcome ("ok", "failed"). */
static int
end_step(struct pctx *c, int step, const char *outcome, const char *detail,
    struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int ret = -1;

	if (rdi_db_prepare(c->st->db,
	        "UPDATE promotion_steps SET"
	        " finished = ?, outcome = ?, detail = ? WHERE promotion = ?"
	        " AND step = ?",
	        &q, err) == -1)
		return -1;
	sqlite3_bind_double(q, 1, rd_now());
	sqlite3_bind_text(q, 2, outcome, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, detail != NULL ? detail : "", -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_int64(q, 4, c->id);
	sqlite3_bind_text(q, 5, steps[step], -1, SQLITE_STATIC);
	if (rdi_db_step(c->st->db, q, err) == -1)
		goto out;
	if (strcmp(outcome, "ok") == 0)
		c->done[step] = 1;
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

static int
set_field(struct pctx *c, const char *col, const char *val, struct rd_err *err)
{
	char sql[128];

	snprintf(sql, sizeof(sql),
	    "UPDATE promotions SET %s = ?2 WHERE id = ?1", col);
	return exec_sql(c->st, sql, c->id, val, NULL, 0, err);
}

/* ------------------------------------------------------------------ */
/* Hooks and probes */

/*
 * Run "cmd" with rd_hook_run(): RDPROMOTE_* in its environment, its
 * output on our standard error, killed with its process group after the
 * hook timeout.  Returns 0 if it exited 0, 1 if not ("why" says how),
 * -1 if it could not be run.
 */
static int
run_hook(struct pctx *c, const char *cmd, char *why, size_t whylen,
    struct rd_err *err)
{
	char vars[4][PATH_MAX + 32];
	const char *env[5];
	int i, status, r;

	snprintf(vars[0], sizeof(vars[0]), "RDPROMOTE_STORE=%s", c->store_abs);
	snprintf(vars[1], sizeof(vars[1]), "RDPROMOTE_TARGET=%s", c->target);
	snprintf(vars[2], sizeof(vars[2]), "RDPROMOTE_VERSION=%lld",
	    (long long)c->res->version);
	snprintf(vars[3], sizeof(vars[3]), "RDPROMOTE_EPOCH=%lld",
	    (long long)c->st->info.epoch);
	for (i = 0; i < 4; i++)
		env[i] = vars[i];
	env[4] = NULL;
	r = rd_hook_run(cmd, NULL, env, c->o->hook_timeout, &status, err);
	if (r == -1)
		return -1;
	if (r == 1) {
		snprintf(why, whylen, "timed out after %.0f s",
		    c->o->hook_timeout);
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	rdi_wait_status(status, why, whylen);
	return 1;
}

static int
export_env(struct pctx *c, struct rd_err *err)
{
	char v[32], e[32];

	snprintf(v, sizeof(v), "%lld", (long long)c->res->version);
	snprintf(e, sizeof(e), "%lld", (long long)c->st->info.epoch);
	if (setenv("RDPROMOTE_STORE", c->store_abs, 1) == -1 ||
	    setenv("RDPROMOTE_TARGET", c->target, 1) == -1 ||
	    setenv("RDPROMOTE_VERSION", v, 1) == -1 ||
	    setenv("RDPROMOTE_EPOCH", e, 1) == -1)
		return rd_err_sys(err, RD_ENOMEM, "setenv");
	return 0;
}

/* Probe once: 1 up, 0 down ("why" says why), -1 error. */
static int
probe_once(struct pctx *c, const char *spec, char *why, size_t whylen,
    struct rd_err *err)
{
	struct rd_probe *p = NULL;
	struct rd_probe_result r;
	int ret = -1;

	if (rd_probe_parse(spec, &p, err) == -1)
		return -1;
	if (rd_probe_round(&p, 1, c->o->probe_timeout, &r, err) == -1)
		goto out;
	snprintf(why, whylen, "%s", r.reason);
	if (r.state == RD_PROBE_ERROR) {
		rd_err_set(err, r.code != RD_OK ? r.code : RD_EINTERNAL,
		    "probe %s could not run: %s", spec, r.reason);
		goto out;
	}
	ret = r.state == RD_PROBE_UP;
out:
	rd_probe_free(p);
	return ret;
}

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

int
rd_tree_verify(struct rd_store *st, int64_t id, const char *dir, int quick,
    int64_t *entries, char *why, size_t whylen, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct stat sb;
	char path[PATH_MAX], name[NAME_MAX + 1], link[4097];
	unsigned char sha[RD_HASH_LEN];
	int rootfd, pfd = -1, fd, r, n, type, bad = 0, ret = -1;
	int64_t count = 0, found = 0, size, mtime;
	unsigned mode;
	ssize_t len;

	*entries = 0;
	rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s'", dir);
	if (rdi_db_prepare(st->db,
	        "SELECT path, type, mode, size, mtime, sha,"
	        " target FROM entries WHERE first <= ?1"
	        " AND (last IS NULL OR last >= ?1) ORDER BY path",
	        &q, err) == -1)
		goto out;
	sqlite3_bind_int64(q, 1, id);
	while (!bad) {
		r = rdi_db_step(st->db, q, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		n = sqlite3_column_bytes(q, 0);
		if (n >= (int)sizeof(path)) {
			rd_err_set(err, RD_ECORRUPT,
			    "path too long in catalog");
			goto out;
		}
		if (n > 0)
			memcpy(path, sqlite3_column_blob(q, 0), (size_t)n);
		path[n] = '\0';
		type = sqlite3_column_int(q, 1);
		mode = (unsigned)sqlite3_column_int(q, 2) & 07777;
		size = sqlite3_column_int64(q, 3);
		mtime = sqlite3_column_int64(q, 4);
		count++;
		if (n == 0) {
			if (fstat(rootfd, &sb) == -1) {
				rd_err_sys(err, RD_EIO, "cannot stat '%s'",
				    dir);
				goto out;
			}
			if ((sb.st_mode & 07777) != mode) {
				snprintf(why, whylen,
				    "'.': mode %o, expected %o",
				    (unsigned)(sb.st_mode & 07777), mode);
				bad = 1;
			}
			continue;
		}
		pfd = rdi_open_parent(rootfd, path, name, err);
		if (pfd == -1 ||
		    fstatat(pfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
			snprintf(why, whylen, "'%s' is missing", path);
			rd_err_clear(err);
			bad = 1;
			break;
		}
		if ((type == RD_TYPE_DIR && !S_ISDIR(sb.st_mode)) ||
		    (type == RD_TYPE_FILE && !S_ISREG(sb.st_mode)) ||
		    (type == RD_TYPE_SYMLINK && !S_ISLNK(sb.st_mode))) {
			snprintf(why, whylen, "'%s' has the wrong type", path);
			bad = 1;
		} else if (type != RD_TYPE_SYMLINK &&
		    (sb.st_mode & 07777) != mode) {
			snprintf(why, whylen, "'%s': mode %o, expected %o",
			    path, (unsigned)(sb.st_mode & 07777), mode);
			bad = 1;
		} else if (type == RD_TYPE_FILE && sb.st_size != size) {
			snprintf(why, whylen, "'%s': size %lld, expected %lld",
			    path, (long long)sb.st_size, (long long)size);
			bad = 1;
		} else if (type != RD_TYPE_DIR && ns_of(&sb.st_mtim) != mtime) {
			snprintf(why, whylen, "'%s': modification time differs",
			    path);
			bad = 1;
		} else if (type == RD_TYPE_SYMLINK) {
			len = readlinkat(pfd, name, link, sizeof(link) - 1);
			if (len < 0 ||
			    (size_t)len != (size_t)sqlite3_column_bytes(q, 6) ||
			    memcmp(link, sqlite3_column_blob(q, 6),
			        (size_t)len) != 0) {
				snprintf(why, whylen,
				    "'%s': symlink target differs", path);
				bad = 1;
			}
		} else if (type == RD_TYPE_FILE && !quick) {
			fd = openat(pfd, name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd == -1 || rd_sha256_fd(fd, sha, err) == -1) {
				snprintf(why, whylen, "'%s' cannot be read",
				    path);
				rd_err_clear(err);
				bad = 1;
			} else if (sqlite3_column_bytes(q, 5) != RD_HASH_LEN ||
			    memcmp(sha, sqlite3_column_blob(q, 5),
			        RD_HASH_LEN) != 0) {
				snprintf(why, whylen,
				    "'%s': content does not match its SHA-256",
				    path);
				bad = 1;
			}
			if (fd != -1)
				close(fd);
		}
		close(pfd);
		pfd = -1;
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
	if (pfd != -1)
		close(pfd);
	sqlite3_finalize(q);
	close(rootfd);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Helpers for paths */

/* rm -rf of "path", never following symlinks. */
static int
remove_tree_at(int dfd, const char *name, int depth, struct rd_err *err)
{
	struct stat sb;
	DIR *d;
	struct dirent *de;
	int fd, ret = 0;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT
		    ? 0
		    : rd_err_sys(err, RD_EIO, "cannot stat '%s'", name);
	if (!S_ISDIR(sb.st_mode)) {
		if (unlinkat(dfd, name, 0) == -1 && errno != ENOENT)
			return rd_err_sys(err, RD_EIO, "cannot remove '%s'",
			    name);
		return 0;
	}
	if (depth > 1024)
		return rd_err_set(err, RD_EIO, "tree is too deep");
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s'", name);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return rd_err_sys(err, RD_EIO, "cannot open '%s'", name);
	}
	while (ret == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		ret = remove_tree_at(fd, de->d_name, depth + 1, err);
	}
	closedir(d);
	if (ret == 0 && unlinkat(dfd, name, AT_REMOVEDIR) == -1 &&
	    errno != ENOENT)
		ret = rd_err_sys(err, RD_EIO, "cannot remove '%s'", name);
	return ret;
}

static int
remove_tree(const char *path, struct rd_err *err)
{
	return remove_tree_at(AT_FDCWD, path, 0, err);
}

static int
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

static int
fsync_parent(const char *path, struct rd_err *err)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	return rdi_fsync_dir(dirname(buf), err);
}

/* The absolute form of "target", whose parent must exist. */
static int
absolute_target(const char *target, char out[1024], struct rd_err *err)
{
	char a[PATH_MAX], b[PATH_MAX], dir[PATH_MAX];
	const char *base;
	size_t n;

	snprintf(a, sizeof(a), "%s", target);
	n = strlen(a);
	while (n > 1 && a[n - 1] == '/')
		a[--n] = '\0';
	snprintf(b, sizeof(b), "%s", a);
	base = basename(b);
	if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
	    strcmp(base, "/") == 0)
		return rd_err_set(err, RD_EUSAGE, "invalid target '%s'",
		    target);
	if (realpath(dirname(a), dir) == NULL)
		return rd_err_sys(err, RD_EIO,
		    "cannot resolve the directory of target '%s'", target);
	if (strlen(dir) + strlen(base) + 2 > 1000)
		return rd_err_set(err, RD_EUSAGE,
		    "target path is too long (1000 bytes at most)");
	if ((size_t)snprintf(out, 1024, "%.1000s/%.255s",
	        strcmp(dir, "/") == 0 ? "" : dir, base) >= 1000)
		return rd_err_set(err, RD_EUSAGE,
		    "target path is too long (1000 bytes at most)");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Steps */

static int
do_preflight(struct pctx *c, struct rd_err *err)
{
	char why[256];
	int r;

	if (c->o->drill || c->o->primary == NULL) {
		snprintf(c->preflight, sizeof(c->preflight), "%s",
		    c->o->drill
		        ? "drill: the primary is not checked"
		        : "no --primary probe given: the primary was not checked");
		return 0;
	}
	r = probe_once(c, c->o->primary, why, sizeof(why), err);
	if (r == -1)
		return -1;
	if (r == 1 && !c->o->force) {
		snprintf(c->res->message, sizeof(c->res->message),
		    "the primary %s is up: refusing to promote (use --force if you are sure it is not serving)",
		    c->o->primary);
		return 1;
	}
	snprintf(c->preflight, sizeof(c->preflight),
	    r == 1 ? "primary %.200s is up, promoting anyway (--force)"
	           : "primary %.200s is down (%.250s)",
	    c->o->primary, why);
	return 0;
}

static int
do_fence(struct pctx *c, struct rd_err *err)
{
	char why[128], val[32];
	int r;

	if (c->o->drill)
		return 0;
	if (c->epoch_raised) {
		/* an earlier run fenced and raised it, then died */
		c->res->epoch = c->st->info.epoch;
		return 0;
	}
	if (c->o->fence != NULL) {
		r = run_hook(c, c->o->fence, why, sizeof(why), err);
		if (r == -1)
			return -1;
		if (r == 1) {
			snprintf(c->res->message, sizeof(c->res->message),
			    "fence command failed (%s): stopping before anything changed",
			    why);
			return 1;
		}
	}
	/* from here on the old primary's bundles are refused */
	snprintf(val, sizeof(val), "%lld", (long long)c->st->info.epoch + 1);
	if (rdi_db_exec(c->st->db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	if (rdi_meta_set(c->st->db, "epoch", val, err) == -1 ||
	    exec_sql(c->st, "UPDATE promotions SET epoch = ?2 WHERE id = ?1",
	        c->id, val, NULL, 0, err) == -1 ||
	    rdi_db_exec(c->st->db, "COMMIT", err) == -1) {
		sqlite3_exec(c->st->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	c->st->info.epoch++;
	c->res->epoch = c->st->info.epoch;
	return 0;
}

/* A clean replica at the version on the target's file system, or "". */
static int
find_replica(struct pctx *c, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct stat a, b;
	char parent[PATH_MAX];
	const unsigned char *dir;
	int r, ret = -1;

	c->replica[0] = '\0';
	if (c->o->drill)
		return 0;
	snprintf(parent, sizeof(parent), "%s", c->target);
	if (stat(dirname(parent), &a) == -1)
		return rd_err_sys(err, RD_EIO,
		    "cannot stat the target's directory");
	if (rdi_db_prepare(c->st->db,
	        "SELECT dir FROM replicas WHERE"
	        " version = ? AND state = 'clean'",
	        &q, err) == -1)
		return -1;
	sqlite3_bind_int64(q, 1, c->res->version);
	for (;;) {
		r = rdi_db_step(c->st->db, q, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		dir = sqlite3_column_text(q, 0);
		if (dir == NULL || strlen((const char *)dir) >= 1000 ||
		    stat((const char *)dir, &b) == -1 || b.st_dev != a.st_dev)
			continue;
		snprintf(c->replica, sizeof(c->replica), "%.1000s",
		    (const char *)dir);
		break;
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

static int
syncfs_dir(const char *path, struct rd_err *err)
{
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s'", path);
	if (syncfs(fd) == -1)
		ret = rd_err_sys(err, RD_EIO, "cannot sync '%s'", path);
	close(fd);
	return ret;
}

static int
do_materialize(struct pctx *c, struct rd_err *err)
{
	struct rd_restore_opts ro = RD_RESTORE_OPTS_INIT;
	struct rd_restore_result rr;
	sqlite3_stmt *q = NULL;
	int r;

	/* a staging dir of an interrupted attempt is redone */
	if (exists(c->staging)) {
		if (c->replica[0] != '\0' && !exists(c->replica)) {
			/* it is the replica, moved: keep it */
			return 0;
		}
		if (remove_tree(c->staging, err) == -1)
			return -1;
	}
	if (find_replica(c, err) == -1)
		return -1;
	if (c->replica[0] != '\0') {
		if (set_field(c, "replica", c->replica, err) == -1)
			return -1;
		if (rename(c->replica, c->staging) == 0) {
			c->res->used_replica = 1;
			/* the replica dir is gone; forget it */
			if (rdi_db_prepare(c->st->db,
			        "DELETE FROM replicas"
			        " WHERE dir = ?",
			        &q, err) == -1)
				return -1;
			sqlite3_bind_text(q, 1, c->replica, -1, SQLITE_STATIC);
			r = rdi_db_step(c->st->db, q, err);
			sqlite3_finalize(q);
			if (r == -1)
				return -1;
			return fsync_parent(c->staging, err);
		}
		c->replica[0] = '\0';
	}
	if (rd_restore(c->st, c->res->version, c->staging, NULL, 0, &ro, &rr,
	        err) == -1) {
		struct rd_err e2 = RD_ERR_INIT;

		(void)remove_tree(c->staging, &e2);
		if (err->code == RD_ECORRUPT) {
			snprintf(c->res->message, sizeof(c->res->message),
			    "snapshot %lld cannot be restored: %s",
			    (long long)c->res->version, err->msg);
			return 1;
		}
		return -1;
	}
	if (syncfs_dir(c->staging, err) == -1)
		return -1;
	return 0;
}

static int
do_verify(struct pctx *c, struct rd_err *err)
{
	char why[512];
	int r;

	why[0] = '\0';
	r = rd_tree_verify(c->st, c->res->version, c->staging,
	    c->o->quick_verify, &c->res->files, why, sizeof(why), err);
	if (r == -1)
		return -1;
	if (r == 1) {
		snprintf(c->res->message, sizeof(c->res->message),
		    "the materialized tree does not match snapshot %lld: %s",
		    (long long)c->res->version, why);
		return 1;
	}
	return 0;
}

static int
do_switch(struct pctx *c, struct rd_err *err)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if (!exists(c->staging)) {
		/* an earlier run got this far: the target is in place */
		if (exists(c->target))
			return 0;
		return rd_err_set(err, RD_EIO,
		    "neither the staging directory nor the target exists");
	}
	if (exists(c->target)) {
		if (c->aside[0] == '\0') {
			gmtime_r(&now, &tm);
			strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
			snprintf(c->aside, sizeof(c->aside),
			    "%.1000s.pre-promote-%.20s", c->target, stamp);
			if (set_field(c, "aside", c->aside, err) == -1)
				return -1;
		}
		if (exists(c->aside))
			return rd_err_set(err, RD_ECANTCREAT,
			    "'%s' exists: not moving the target there",
			    c->aside);
		if (rename(c->target, c->aside) == -1)
			return rd_err_sys(err, RD_EIO, "cannot move '%s' aside",
			    c->target);
		snprintf(c->res->aside, sizeof(c->res->aside), "%s", c->aside);
	}
	if (rename(c->staging, c->target) == -1)
		return rd_err_sys(err, RD_EIO, "cannot rename '%s' to '%s'",
		    c->staging, c->target);
	if (fsync_parent(c->target, err) == -1)
		return -1;
	if (!c->o->drill &&
	    rdi_meta_set(c->st->db, "role", "primary", err) == -1)
		return -1;
	return 0;
}

static int
do_start(struct pctx *c, struct rd_err *err)
{
	char why[128];
	int r;

	if (c->o->start == NULL)
		return 0;
	r = run_hook(c, c->o->start, why, sizeof(why), err);
	if (r == -1)
		return -1;
	if (r == 1) {
		snprintf(c->res->message, sizeof(c->res->message),
		    "start command failed (%s); '%s' holds snapshot %lld", why,
		    c->target, (long long)c->res->version);
		return 1;
	}
	return 0;
}

static int
do_check(struct pctx *c, struct rd_err *err)
{
	char why[256];
	double deadline = rd_monotonic() + c->o->check_timeout;
	struct timespec ts = { 0, 250 * 1000 * 1000 };
	int r;

	if (c->o->check == NULL)
		return 0;
	/*
	 * An exec: check runs as a child of this process: give it what the
	 * hooks get (the only change librd makes to the environment).
	 */
	if (export_env(c, err) == -1)
		return -1;
	for (;;) {
		r = probe_once(c, c->o->check, why, sizeof(why), err);
		if (r == -1)
			return -1;
		if (r == 1)
			return 0;
		if (rd_monotonic() >= deadline) {
			snprintf(c->res->message, sizeof(c->res->message),
			    "the service did not become healthy within %.0f s (%s: %s)",
			    c->o->check_timeout, c->o->check, why);
			return 1;
		}
		nanosleep(&ts, NULL);
	}
}

/* ------------------------------------------------------------------ */
/* The driver */

static int (*const step_fn[])(struct pctx *, struct rd_err *) = { do_preflight,
	do_fence, do_materialize, do_verify, do_switch, do_start, do_check,
	NULL };

/* Describe what a step did, for the journal and the caller. */
static void
step_detail(struct pctx *c, int s, char *buf, size_t len)
{
	buf[0] = '\0';
	switch (s) {
	case S_PREFLIGHT:
		snprintf(buf, len, "%s", c->preflight);
		break;
	case S_FENCE:
		if (c->o->drill)
			snprintf(buf, len, "drill: nothing fenced");
		else
			snprintf(buf, len, "%sepoch is now %lld",
			    c->o->fence != NULL ? "fence command succeeded; "
			                        : "no --fence command; ",
			    (long long)c->st->info.epoch);
		break;
	case S_MATERIALIZE:
		if (c->res->used_replica)
			snprintf(buf, len, "warm replica %s, moved into place",
			    c->replica);
		else
			snprintf(buf, len, "restored snapshot %lld into %s",
			    (long long)c->res->version, c->staging);
		break;
	case S_VERIFY:
		snprintf(buf, len,
		    c->o->quick_verify
		        ? "%lld entries, metadata only (quick: contents NOT hashed)"
		        : "%lld entries, every file hashed",
		    (long long)c->res->files);
		break;
	case S_SWITCH:
		if (c->aside[0] != '\0')
			snprintf(buf, len,
			    "%s in place; the old one kept as %s", c->target,
			    c->aside);
		else
			snprintf(buf, len, "%s in place", c->target);
		break;
	case S_START:
		snprintf(buf, len, "%s",
		    c->o->start != NULL ? "start command succeeded"
		                        : "no --start command");
		break;
	case S_CHECK:
		snprintf(buf, len,
		    c->o->check != NULL ? "%s is up" : "no --check probe",
		    c->o->check);
		break;
	default:
		break;
	}
}

static int
load_running(struct pctx *c, int *found, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	const unsigned char *t;
	int r, ret = -1;

	*found = 0;
	if (rdi_db_prepare(c->st->db,
	        "SELECT id, kind, target, version,"
	        " started, aside, replica, epoch FROM promotions"
	        " WHERE state = 'running' ORDER BY id DESC LIMIT 1",
	        &q, err) == -1)
		return -1;
	r = rdi_db_step(c->st->db, q, err);
	if (r == -1)
		goto out;
	if (r == 1) {
		t = sqlite3_column_text(q, 2);
		if (t == NULL || strcmp((const char *)t, c->target) != 0 ||
		    strcmp((const char *)sqlite3_column_text(q, 1),
		        c->o->drill ? "drill" : "promote") != 0) {
			snprintf(c->res->message, sizeof(c->res->message),
			    "%s %lld into '%s' is unfinished: rerun that command to finish it, or rdpromote --abort it",
			    (const char *)sqlite3_column_text(q, 1),
			    (long long)sqlite3_column_int64(q, 0),
			    t != NULL ? (const char *)t : "?");
			ret = 0;
			*found = -1;
			goto out;
		}
		c->id = sqlite3_column_int64(q, 0);
		c->res->version = sqlite3_column_int64(q, 3);
		c->t0 = sqlite3_column_double(q, 4);
		t = sqlite3_column_text(q, 5);
		snprintf(c->aside, sizeof(c->aside), "%.1090s",
		    t != NULL ? (const char *)t : "");
		t = sqlite3_column_text(q, 6);
		snprintf(c->replica, sizeof(c->replica), "%.1000s",
		    t != NULL ? (const char *)t : "");
		c->epoch_raised = sqlite3_column_type(q, 7) != SQLITE_NULL;
		*found = 1;
	}
	sqlite3_finalize(q);
	q = NULL;
	if (*found == 1) {
		if (rdi_db_prepare(c->st->db,
		        "SELECT step FROM promotion_steps"
		        " WHERE promotion = ? AND outcome = 'ok'",
		        &q, err) == -1)
			return -1;
		sqlite3_bind_int64(q, 1, c->id);
		for (;;) {
			int k;

			r = rdi_db_step(c->st->db, q, err);
			if (r == -1)
				goto out;
			if (r == 0)
				break;
			t = sqlite3_column_text(q, 0);
			for (k = 0; k < NSTEPS; k++)
				if (t != NULL &&
				    strcmp((const char *)t, steps[k]) == 0)
					c->done[k] = 1;
		}
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

static int
new_promotion(struct pctx *c, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int ret = -1;

	if (rdi_db_prepare(c->st->db,
	        "INSERT INTO promotions(kind, version,"
	        " target, staging, started, state) VALUES (?, ?, ?, ?, ?,"
	        " 'running')",
	        &q, err) == -1)
		return -1;
	sqlite3_bind_text(q, 1, c->o->drill ? "drill" : "promote", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, c->res->version);
	sqlite3_bind_text(q, 3, c->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, c->staging, -1, SQLITE_STATIC);
	sqlite3_bind_double(q, 5, c->t0);
	if (rdi_db_step(c->st->db, q, err) == -1)
		goto out;
	c->id = sqlite3_last_insert_rowid(c->st->db);
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

/* Probe specs are checked before anything is journaled. */
static int
check_specs(const struct rd_promote_opts *o, struct rd_err *err)
{
	struct rd_probe *p = NULL;
	const char *spec[2] = { o->primary, o->check };
	int i;

	for (i = 0; i < 2; i++) {
		if (spec[i] == NULL)
			continue;
		if (rd_probe_parse(spec[i], &p, err) == -1)
			return -1;
		rd_probe_free(p);
		p = NULL;
	}
	return 0;
}

static int
setup(struct pctx *c, struct rd_store *st, const char *target,
    const struct rd_promote_opts *o, struct rd_promote_result *res,
    struct rd_err *err)
{
	char b[PATH_MAX], d[1024];

	memset(c, 0, sizeof(*c));
	memset(res, 0, sizeof(*res));
	c->st = st;
	c->o = o;
	c->res = res;
	c->t0 = rd_now();
	if (absolute_target(target, c->target, err) == -1)
		return -1;
	snprintf(b, sizeof(b), "%s", c->target);
	snprintf(d, sizeof(d), "%.1000s", c->target);
	if ((size_t)snprintf(c->staging, sizeof(c->staging),
	        "%.1000s/.%.80s.rdpromote", dirname(d),
	        basename(b)) >= sizeof(c->staging))
		return rd_err_set(err, RD_EUSAGE, "target path is too long");
	snprintf(res->target, sizeof(res->target), "%s", c->target);
	if (realpath(st->path, b) == NULL || strlen(b) >= sizeof(c->store_abs))
		snprintf(c->store_abs, sizeof(c->store_abs), "%.1000s",
		    st->path);
	else
		snprintf(c->store_abs, sizeof(c->store_abs), "%s", b);
	return 0;
}

static void
plan(struct pctx *c, struct rd_err *err)
{
	char line[4096];

	say(c, S_PREFLIGHT, "plan", 0, "%s",
	    c->o->drill
	        ? "check snapshot exists (drill: the primary is not checked)"
	        : c->o->primary != NULL
	        ? "check the primary is down"
	        : "no --primary probe: the primary would not be checked");
	if (c->o->drill)
		say(c, S_FENCE, "plan", 0, "drill: no fence, epoch unchanged");
	else
		say(c, S_FENCE, "plan", 0, "%s; raise the epoch to %lld",
		    c->o->fence != NULL ? "run the fence command"
		                        : "no --fence command",
		    (long long)c->st->info.epoch + 1);
	if (find_replica(c, err) == 0 && c->replica[0] != '\0')
		say(c, S_MATERIALIZE, "plan", 0,
		    "move the warm replica %s into place", c->replica);
	else
		say(c, S_MATERIALIZE, "plan", 0,
		    "restore snapshot %lld into %s", (long long)c->res->version,
		    c->staging);
	rd_err_clear(err);
	say(c, S_VERIFY, "plan", 0, "%s",
	    c->o->quick_verify
	        ? "check every entry's metadata (quick: contents NOT hashed)"
	        : "check every entry and hash every file");
	if (exists(c->target))
		snprintf(line, sizeof(line),
		    "%s takes the place of %s; the old one is kept as %s.pre-promote-TIMESTAMP",
		    c->staging, c->target, c->target);
	else
		snprintf(line, sizeof(line), "rename %s to %s", c->staging,
		    c->target);
	say(c, S_SWITCH, "plan", 0, "%s", line);
	say(c, S_START, "plan", 0, "%s",
	    c->o->start != NULL ? "run the start command"
	                        : "no --start command");
	say(c, S_CHECK, "plan", 0,
	    c->o->check != NULL ? "poll %s until up, at most %.0f s"
	                        : "no --check probe%s",
	    c->o->check != NULL ? c->o->check : "", c->o->check_timeout);
	say(c, S_RECORD, "plan", 0, "record RTO and RPO%s",
	    c->o->drill ? "; remove the scratch tree" : "");
}

int
rd_promote(struct rd_store *st, const char *target,
    const struct rd_promote_opts *o, struct rd_promote_result *res,
    struct rd_err *err)
{
	struct pctx c;
	struct rd_snapinfo si;
	char detail[PATH_MAX + 256];
	double t;
	int s, r, found;

	if (setup(&c, st, target, o, res, err) == -1)
		return -1;
	if (check_specs(o, err) == -1)
		return -1;
	if (o->dry_run) {
		if (rd_snap_get(st, o->version, &si, err) == -1)
			return -1;
		res->version = si.id;
		res->rpo = c.t0 - (double)si.finished;
		plan(&c, err);
		return 0;
	}
	if (load_running(&c, &found, err) == -1)
		return -1;
	if (found == -1)
		return 1;
	if (found == 1) {
		c.resumed = 1;
		res->resumed = 1;
		if (o->version != 0 && o->version != res->version)
			return rd_err_set(err, RD_EUSAGE,
			    "the unfinished promotion is of snapshot %lld, not %lld: rerun it or --abort it",
			    (long long)res->version, (long long)o->version);
	} else {
		if (rd_snap_get(st, o->version, &si, err) == -1)
			return -1;
		res->version = si.id;
		if (!o->drill && !st->info.standby) {
			snprintf(res->message, sizeof(res->message),
			    "store '%s' is not a standby: it is a primary (promoted already, or never a standby); nothing to promote",
			    st->path);
			return 1;
		}
		if (o->drill && exists(c.target))
			return rd_err_set(err, RD_ECANTCREAT,
			    "drill target '%s' exists: give a new scratch path",
			    target);
		if (new_promotion(&c, err) == -1)
			return -1;
	}
	if (rd_snap_get(st, res->version, &si, err) == -1)
		return -1;
	c.snap_finished = (double)si.finished;
	res->id = c.id;
	res->epoch = st->info.epoch;
	res->rpo = c.t0 - c.snap_finished;
	if (c.aside[0] != '\0')
		snprintf(res->aside, sizeof(res->aside), "%s", c.aside);
	res->snap_time = si.finished;
	for (s = 0; s < S_RECORD; s++) {
		if (c.done[s]) {
			say(&c, s, "done", 0, "done by an earlier run");
			continue;
		}
		if (step_begin(&c, s, err) == -1)
			return -1;
		t = rd_monotonic();
		r = step_fn[s](&c, err);
		t = rd_monotonic() - t;
		if (r == -1) {
			/* left "running": a rerun continues from here */
			(void)end_step(&c, s, "failed", err->msg, err);
			say(&c, s, "failed", t, "%s", err->msg);
			return -1;
		}
		if (r == 1) {
			struct rd_err e2 = RD_ERR_INIT;

			if (s == S_VERIFY || o->drill)
				(void)remove_tree(c.staging, &e2);
			if (o->drill && s > S_SWITCH)
				(void)remove_tree(c.target, &e2);
			if (end_step(&c, s, "failed", res->message, err) == -1)
				return -1;
			/*
			 * Before the fence nothing changed: the promotion is
			 * over.  After it, it stays open: fix the cause and
			 * rerun, or --abort (which lowers the epoch again).
			 */
			if ((s <= S_FENCE || o->drill) &&
			    finish(&c, "failed", res->message, err) == -1)
				return -1;
			res->open = s > S_FENCE && !o->drill;
			say(&c, s, "failed", t, "%s", res->message);
			return 1;
		}
		step_detail(&c, s, detail, sizeof(detail));
		if (end_step(&c, s, "ok", detail, err) == -1)
			return -1;
		say(&c, s, "ok", t, "%s", detail);
		if (s == S_SWITCH && c.aside[0] != '\0')
			snprintf(res->aside, sizeof(res->aside), "%s", c.aside);
	}
	/* record: RTO from the start to healthy, RPO the snapshot's age */
	res->rto = rd_now() - c.t0;
	snprintf(detail, sizeof(detail), "%.3f", res->rto);
	if (step_begin(&c, S_RECORD, err) == -1)
		return -1;
	if (exec_sql(st, "UPDATE promotions SET rto = ?4 WHERE id = ?1", c.id,
	        NULL, NULL, res->rto, err) == -1 ||
	    exec_sql(st, "UPDATE promotions SET rpo = ?4 WHERE id = ?1", c.id,
	        NULL, NULL, res->rpo, err) == -1)
		return -1;
	if (o->drill) {
		/* a drill leaves nothing but its record */
		if (remove_tree(c.target, err) == -1)
			return -1;
	}
	snprintf(detail, sizeof(detail), "RTO %.1f s, RPO %.0f s", res->rto,
	    res->rpo);
	if (end_step(&c, S_RECORD, "ok", detail, err) == -1 ||
	    finish(&c, "done", detail, err) == -1)
		return -1;
	say(&c, S_RECORD, "ok", 0, "%s", detail);
	res->epoch = st->info.epoch;
	return 0;
}

int
rd_promote_abort(struct rd_store *st, const char *target,
    struct rd_promote_result *res, struct rd_err *err)
{
	struct rd_promote_opts o = RD_PROMOTE_OPTS_INIT;
	struct pctx c;
	sqlite3_stmt *q = NULL;
	char val[32];
	int found, drill = 0, r;
	int64_t epoch = 0;

	if (setup(&c, st, target, &o, res, err) == -1)
		return -1;
	for (drill = 0; drill < 2; drill++) {
		o.drill = drill;
		memset(c.done, 0, sizeof(c.done));
		if (load_running(&c, &found, err) == -1)
			return -1;
		if (found == 1)
			break;
	}
	if (found != 1) {
		snprintf(res->message, sizeof(res->message),
		    "no unfinished promotion into '%s'", c.target);
		return 1;
	}
	res->id = c.id;
	if (drill) {
		/* a drill leaves no trace: its scratch tree goes, switched or not */
		if (remove_tree(c.staging, err) == -1 ||
		    (c.done[S_SWITCH] && remove_tree(c.target, err) == -1))
			return -1;
		snprintf(res->message, sizeof(res->message),
		    "drill %lld aborted; its scratch tree is gone",
		    (long long)c.id);
		if (finish(&c, "aborted", res->message, err) == -1)
			return -1;
		res->epoch = st->info.epoch;
		return 0;
	}
	if (c.done[S_SWITCH]) {
		snprintf(res->message, sizeof(res->message),
		    "promotion %lld has switched '%s' already: it cannot be aborted (the old target is %s)",
		    (long long)c.id, c.target,
		    c.aside[0] != '\0' ? c.aside : "gone");
		return 1;
	}
	if (exists(c.staging)) {
		if (c.replica[0] != '\0' && !exists(c.replica)) {
			/* give the warm replica back */
			if (rename(c.staging, c.replica) == -1)
				return rd_err_sys(err, RD_EIO,
				    "cannot move '%s' back to '%s'", c.staging,
				    c.replica);
			if (rdi_db_prepare(st->db,
			        "INSERT OR REPLACE INTO"
			        " replicas(dir, version, target, state, updated)"
			        " VALUES (?, ?, NULL, 'clean', ?)",
			        &q, err) == -1)
				return -1;
			sqlite3_bind_text(q, 1, c.replica, -1, SQLITE_STATIC);
			sqlite3_bind_int64(q, 2, res->version);
			sqlite3_bind_double(q, 3, rd_now());
			r = rdi_db_step(st->db, q, err);
			sqlite3_finalize(q);
			if (r == -1)
				return -1;
		} else if (remove_tree(c.staging, err) == -1) {
			return -1;
		}
	}
	if (c.epoch_raised) {
		/* the epoch goes back: the store follows its origin again */
		if (rdi_db_prepare(st->db,
		        "SELECT epoch FROM promotions"
		        " WHERE id = ?",
		        &q, err) == -1)
			return -1;
		sqlite3_bind_int64(q, 1, c.id);
		r = rdi_db_step(st->db, q, err);
		if (r == 1)
			epoch = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
		if (r == -1)
			return -1;
		if (epoch > 1 && epoch == st->info.epoch) {
			st->info.epoch = epoch - 1;
			snprintf(val, sizeof(val), "%lld",
			    (long long)st->info.epoch);
			if (rdi_meta_set(st->db, "epoch", val, err) == -1)
				return -1;
		}
	}
	snprintf(res->message, sizeof(res->message),
	    "aborted before the switch; '%s' was not touched%s", c.target,
	    c.epoch_raised
	        ? "; the epoch is back (the fence command is not undone)"
	        : "");
	if (finish(&c, "aborted", res->message, err) == -1)
		return -1;
	res->epoch = st->info.epoch;
	return 0;
}

int
rd_promote_history(struct rd_store *st,
    int (*fn)(void *arg, const struct rd_promotion *p), void *arg,
    struct rd_err *err)
{
	sqlite3_stmt *q = NULL, *sq = NULL;
	struct rd_promotion *p;
	const unsigned char *t;
	int r, ret = -1;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (rdi_db_prepare(st->db,
	        "SELECT id, kind, version, target, started,"
	        " finished, state, step, epoch, rto, rpo, message, aside"
	        " FROM promotions ORDER BY id",
	        &q, err) == -1 ||
	    rdi_db_prepare(st->db,
	        "SELECT step, started, finished, outcome,"
	        " detail FROM promotion_steps WHERE promotion = ?"
	        " ORDER BY started",
	        &sq, err) == -1)
		goto out;
	for (;;) {
		r = rdi_db_step(st->db, q, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		memset(p, 0, sizeof(*p));
		p->id = sqlite3_column_int64(q, 0);
		t = sqlite3_column_text(q, 1);
		p->drill = t != NULL && strcmp((const char *)t, "drill") == 0;
		p->version = sqlite3_column_int64(q, 2);
		rdi_column_copy(q, 3, p->target, sizeof(p->target), "");
		p->started = sqlite3_column_double(q, 4);
		p->finished = sqlite3_column_double(q, 5);
		rdi_column_copy(q, 6, p->state, sizeof(p->state), "");
		p->epoch = sqlite3_column_int64(q, 8);
		p->has_rto = sqlite3_column_type(q, 9) != SQLITE_NULL;
		p->rto = sqlite3_column_double(q, 9);
		p->rpo = sqlite3_column_double(q, 10);
		rdi_column_copy(q, 11, p->message, sizeof(p->message), "");
		rdi_column_copy(q, 12, p->aside, sizeof(p->aside), "");
		sqlite3_reset(sq);
		sqlite3_bind_int64(sq, 1, p->id);
		while (p->nsteps < 8) {
			struct rd_promotion_step *ps = &p->steps[p->nsteps];

			r = rdi_db_step(st->db, sq, err);
			if (r == -1)
				goto out;
			if (r == 0)
				break;
			rdi_column_copy(sq, 0, ps->name, sizeof(ps->name), "");
			ps->started = sqlite3_column_double(sq, 1);
			ps->finished = sqlite3_column_double(sq, 2);
			rdi_column_copy(sq, 3, ps->outcome, sizeof(ps->outcome),
			    "running");
			rdi_column_copy(sq, 4, ps->detail, sizeof(ps->detail),
			    "");
			p->nsteps++;
		}
		r = fn(arg, p);
		if (r != 0) {
			ret = r;
			goto out;
		}
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	sqlite3_finalize(sq);
	free(p);
	return ret;
}
