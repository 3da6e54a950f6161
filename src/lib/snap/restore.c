/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * restore.c: restoring a snapshot's tree (rd_restore).  The calling
 * thread walks the snapshot's entries in path order and makes every
 * directory, link and empty file; a pool of writers fills the files
 * through the content reader (store/content.c), leaving holes where
 * whole blocks are zero.  Writing works relative to directory fds
 * opened with O_NOFOLLOW and creates files with O_EXCL|O_NOFOLLOW, so
 * a symlink in the target is never followed.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "snap_int.h"

struct rentry {
	char *path; /* catalog form: dirs end in '/' */
	size_t plen;
	int type;
	unsigned mode;
	int64_t uid, gid, size, mtime;
	unsigned char sha[RD_HASH_LEN];
	char *target;
	int64_t rdev, link;
	unsigned char *xattrs; /* encoding of xattr.c, valid; NULL: none */
	size_t xattrs_len;
};

/* A copy of the attributes of "from" in "to" (whose own are not freed). */
static int
xattrs_dup(struct rentry *to, const struct rentry *from, struct rd_err *err)
{
	to->xattrs = NULL;
	to->xattrs_len = from->xattrs_len;
	if (from->xattrs_len == 0)
		return 0;
	to->xattrs = malloc(from->xattrs_len);
	if (to->xattrs == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	memcpy(to->xattrs, from->xattrs, from->xattrs_len);
	return 0;
}

/* The first restored name of each hard-linked inode (open addressing). */
struct linkmap {
	struct linkslot {
		int64_t key; /* 0: empty */
		char *path;  /* catalog path, restored */
		unsigned char sha[RD_HASH_LEN];
	} * slots;
	size_t cap, n;
};

struct dirframe {
	int fd;
	char *prefix; /* catalog path of the directory, with '/' */
	size_t plen;
	int has_meta;
	struct rentry meta; /* path unused */
};

struct wpool;

/* What one thread needs to read contents: its own connection and packs. */
struct creader {
	sqlite3 *db;
	struct rdi_packcache *pc;
	sqlite3_stmt *chain_q; /* cached chain lookup */
	struct rdi_chain ch;
};

struct rctx {
	struct rd_store *st;
	const struct rd_restore_opts *opts;
	struct creader *rd; /* the calling thread's */
	int chown_ok;
	struct dirframe *stack;
	int depth, cap;
	struct rd_restore_result *res;
	double last_progress;
	struct wpool *pool; /* writers of file contents, or NULL */
	/* files whose setuid/setgid bits were dropped, by every thread */
	atomic_llong setid_dropped;
	/* what could not be restored, by every thread */
	atomic_llong omitted;
	int64_t owners_lost; /* entries whose owner was not kept */
	int64_t bad_rows;    /* entries whose catalog row is damaged */
	struct linkmap links;
};

/* Say, through the notice callback, what could not be restored. */
static void omit(struct rctx *c, const char *fmt, ...) RD_PRINTF(2, 3);

static void
omit(struct rctx *c, const char *fmt, ...)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	char small[1024], *msg = small;
	va_list ap;
	int n;

	atomic_fetch_add(&c->omitted, 1);
	if (c->opts->notice == NULL)
		return;
	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	/* a long path is named in full */
	if (n >= (int)sizeof(small) && (msg = malloc((size_t)n + 1)) != NULL) {
		va_start(ap, fmt);
		vsnprintf(msg, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	if (msg == NULL)
		msg = small;
	pthread_mutex_lock(&mu);
	c->opts->notice(c->opts->notice_arg, msg);
	pthread_mutex_unlock(&mu);
	if (msg != small)
		free(msg);
}

struct xafail {
	struct rctx *c;
	const char *path;
};

static void
xattr_failed(void *arg, const char *attr, int errnum)
{
	struct xafail *f = arg;

	omit(f->c, "'%s': extended attribute '%s'%s not restored: %s", f->path,
	    attr,
	    strcmp(attr, "security.capability") == 0 ? " (file capabilities)"
	        : rdi_xattr_is_acl(attr)             ? " (ACL)"
	                                             : "",
	    strerror(errnum));
}

/* Set the attributes of "e" on "fd" (or "name" in "dfd" if fd is -1). */
static void
apply_xattrs(struct rctx *c, int fd, int dfd, const char *name,
    const struct rentry *e, const char *what)
{
	struct xafail f = { c, what };

	if (e->xattrs_len > 0)
		(void)rdi_xattrs_apply(fd, dfd, name, e->xattrs, e->xattrs_len,
		    xattr_failed, &f);
}

/*
 * The owner, "mode" (-1: none, a symlink's), attributes and mtime of "e",
 * made as "name" in "dfd".  Returns 0 or -1.
 */
static int
finish_entry(struct rctx *c, int dfd, const char *name, const struct rentry *e,
    int mode, struct rd_err *err)
{
	struct xafail f = { c, e->path };
	struct rdi_entry_meta m = { c->chown_ok, e->uid, e->gid, mode,
		e->xattrs, e->xattrs_len, e->mtime, xattr_failed, &f };
	const char *step = "";

	if (rdi_entry_meta_at(dfd, name, &m, &step) == -1)
		return rd_err_sys(err, RD_EIO, "cannot %s '%s'", step, e->path);
	return 0;
}

/*
 * File contents are written by a pool of threads.  The calling thread
 * walks the tree in order, creates every directory, link and (empty)
 * file itself, so directory times are final when it leaves a directory,
 * and hands the open file to a writer: writing into an existing file
 * does not touch its directory.
 */
#define WQUEUE 64

struct wjob {
	struct wjob *next;
	int fd;  /* the new file, empty */
	int dfd; /* its directory, to remove it on failure */
	char name[NAME_MAX + 1];
	struct rentry e; /* "path" owned; "target" unused */
};

struct wpool {
	struct rctx *c;
	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_main;
	struct wjob *head, *tail;
	int queued, busy, stop, failed;
	struct rd_err err;
	int nthreads;
	pthread_t *threads;
	int *started;
};

/*
 * The mode to give a restored entry: a file whose owner cannot be kept
 * (not root, or --no-owner) loses its setuid and setgid bits, unless
 * it would have that owner and group anyway: they would otherwise grant
 * the rights of whoever restores it.
 */
static mode_t
restored_mode(struct rctx *c, const struct rentry *e)
{
	mode_t mode = (mode_t)e->mode;

	if (c->chown_ok || e->type != RD_TYPE_FILE ||
	    (mode & (S_ISUID | S_ISGID)) == 0 ||
	    (((mode & S_ISUID) == 0 || e->uid == (int64_t)geteuid()) &&
	        ((mode & S_ISGID) == 0 || e->gid == (int64_t)getegid())))
		return mode;
	atomic_fetch_add(&c->setid_dropped, 1);
	if (c->opts->notice != NULL) {
		static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
		char msg[512];

		snprintf(msg, sizeof(msg),
		    "'%s' restored without its setuid/setgid bits: its owner %lld:%lld is not kept",
		    e->path, (long long)e->uid, (long long)e->gid);
		/* writers call this too: one notice at a time */
		pthread_mutex_lock(&mu);
		c->opts->notice(c->opts->notice_arg, msg);
		pthread_mutex_unlock(&mu);
	}
	return mode & ~(mode_t)(S_ISUID | S_ISGID);
}

static int
apply_fd_meta(struct rctx *c, int fd, const struct rentry *e, const char *what,
    struct rd_err *err)
{
	struct timespec ts[2];

	if (c->chown_ok && fchown(fd, (uid_t)e->uid, (gid_t)e->gid) == -1)
		return rd_err_sys(err, RD_EIO, "cannot chown '%s'", what);
	if (fchmod(fd, restored_mode(c, e)) == -1)
		return rd_err_sys(err, RD_EIO, "cannot chmod '%s'", what);
	/* after chown, which clears security.capability, and chmod */
	apply_xattrs(c, fd, -1, NULL, e, what);
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = rdi_ns_to_timespec(e->mtime);
	if (futimens(fd, ts) == -1)
		return rd_err_sys(err, RD_EIO, "cannot set times of '%s'",
		    what);
	return 0;
}

static int
pop_dir(struct rctx *c, struct rd_err *err)
{
	struct dirframe *f = &c->stack[--c->depth];
	int ret = 0;

	if (f->has_meta &&
	    apply_fd_meta(c, f->fd, &f->meta, f->plen > 0 ? f->prefix : ".",
	        err) == -1)
		ret = -1;
	close(f->fd);
	free(f->prefix);
	free(f->meta.xattrs);
	f->meta.xattrs = NULL;
	return ret;
}

/* Push directory "fd" whose catalog path is the first "plen" bytes of
 * "path"; "meta" (may be NULL) is applied when it is left. */
static int
push_dir(struct rctx *c, int fd, const char *path, size_t plen,
    const struct rentry *meta, struct rd_err *err)
{
	struct dirframe *f;
	char *prefix;

	if (c->depth == c->cap) {
		int n = c->cap != 0 ? c->cap * 2 : 16;

		f = realloc(c->stack, (size_t)n * sizeof(*f));
		if (f == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		c->stack = f;
		c->cap = n;
	}
	prefix = strndup(path, plen);
	if (prefix == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	f = &c->stack[c->depth];
	f->has_meta = meta != NULL;
	f->meta.xattrs = NULL;
	if (meta != NULL) {
		f->meta = *meta;
		f->meta.path = NULL;
		f->meta.target = NULL;
		if (xattrs_dup(&f->meta, meta, err) == -1) {
			free(prefix);
			return -1;
		}
	}
	f->fd = fd;
	f->prefix = prefix;
	f->plen = plen;
	c->depth++;
	return 0;
}

/* Open (making it if needed) directory "name" in "dfd", never a symlink. */
static int
open_subdir(struct rctx *c, int dfd, const char *name, const char *what,
    struct rd_err *err)
{
	struct stat sb;
	int fd;

	if (mkdirat(dfd, name, 0700) == -1 && errno != EEXIST)
		return rd_err_sys(err, RD_EIO, "cannot create directory '%s'",
		    what);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && (errno == ELOOP || errno == ENOTDIR) &&
	    c->opts->force) {
		/* --force: something else is in the way; replace it */
		if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISDIR(sb.st_mode) && unlinkat(dfd, name, 0) == 0 &&
		    mkdirat(dfd, name, 0700) == 0)
			fd = openat(dfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open directory '%s'",
		    what);
	return fd;
}

/* Remove what is at "name" so that a file or link can take its place. */
static int
make_room(struct rctx *c, int dfd, const char *name, const char *what,
    struct rd_err *err)
{
	struct stat sb;

	if (!c->opts->force)
		return 0;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) == -1)
		return 0;
	if (S_ISDIR(sb.st_mode))
		return rd_err_set(err, RD_ECANTCREAT,
		    "cannot restore '%s': a directory is in the way", what);
	if (unlinkat(dfd, name, 0) == -1)
		return rd_err_sys(err, RD_EIO, "cannot remove '%s'", what);
	return 0;
}

/*
 * Write content "e->sha" into the new file "fd" with "e"'s metadata,
 * reading the store through "rd"; close "fd".  On failure the
 * file "name" in "dfd" is removed.
 */
static int
write_content(struct rctx *c, struct creader *rd, int fd, int dfd,
    const char *name, const struct rentry *e, struct rd_err *err)
{
	struct rdi_sparse ws;
	int ret = -1;

	rdi_sparse_init(&ws, fd, e->path);
	if (rdi_chain_load(rd->db, &rd->chain_q, e->sha, &rd->ch, err) == -1 ||
	    rdi_chain_read(rd->pc, &rd->ch, c->stack[0].fd, rdi_sparse_write,
	        &ws, err) == -1 ||
	    rdi_sparse_flush(&ws, err) == -1)
		goto out;
	if (ftruncate(fd, (off_t)e->size) == -1) {
		rd_err_sys(err, RD_EIO, "cannot write '%s'", e->path);
		goto out;
	}
	if (apply_fd_meta(c, fd, e, e->path, err) == -1)
		goto out;
	ret = 0;
out:
	if (rdi_close(fd, e->path, err) == -1)
		ret = -1;
	if (ret == -1)
		unlinkat(dfd, name, 0);
	return ret;
}

static void
creader_free(struct creader *rd)
{
	if (rd == NULL)
		return;
	sqlite3_finalize(rd->chain_q);
	rdi_packcache_free(rd->pc);
	if (rd->db != NULL)
		sqlite3_close(rd->db);
	free(rd);
}

static void
wjob_free(struct wjob *j)
{
	if (j == NULL)
		return;
	free(j->e.path);
	free(j->e.xattrs);
	free(j);
}

static void *
writer_main(void *arg)
{
	struct wpool *p = arg;
	struct rctx *c = p->c;
	struct creader *rd;
	struct rd_err err = RD_ERR_INIT;
	struct wjob *j;
	int ok = 1, failed;

	rd = calloc(1, sizeof(*rd));
	if (rd == NULL || rdi_db_open(c->st, 1, &rd->db, &err) == -1 ||
	    (rd->pc = rdi_packcache_new(c->st)) == NULL) {
		if (err.code == RD_OK)
			rd_err_set(&err, RD_ENOMEM, "out of memory");
		ok = 0;
	}
	for (;;) {
		pthread_mutex_lock(&p->mu);
		if (!ok && !p->failed) {
			p->failed = 1;
			p->err = err;
		}
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->cv_job, &p->mu);
		j = p->head;
		if (j == NULL) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		p->head = j->next;
		if (p->head == NULL)
			p->tail = NULL;
		p->queued--;
		p->busy++;
		failed = p->failed;
		pthread_mutex_unlock(&p->mu);
		if (!ok || failed) {
			/* a writer failed: drop the rest */
			close(j->fd);
			unlinkat(j->dfd, j->name, 0);
		} else if (write_content(c, rd, j->fd, j->dfd, j->name, &j->e,
		               &err) == -1) {
			ok = 0;
		}
		pthread_mutex_lock(&p->mu);
		if (!ok && !p->failed) {
			p->failed = 1;
			p->err = err;
		}
		if (ok)
			c->res->bytes += j->e.size;
		p->busy--;
		pthread_cond_broadcast(&p->cv_main);
		pthread_mutex_unlock(&p->mu);
		close(j->dfd);
		wjob_free(j);
	}
	creader_free(rd);
	return NULL;
}

static int
pool_start(struct rctx *c, struct rd_err *err)
{
	struct wpool *p;
	int i, n = rd_ncpu();

	if (n < 2)
		return 0;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	p->c = c;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv_job, NULL);
	pthread_cond_init(&p->cv_main, NULL);
	p->threads = calloc((size_t)n, sizeof(*p->threads));
	p->started = calloc((size_t)n, sizeof(*p->started));
	c->pool = p;
	if (p->threads == NULL || p->started == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	p->nthreads = n;
	for (i = 0; i < n; i++) {
		if (pthread_create(&p->threads[i], NULL, writer_main, p) != 0)
			return rd_err_set(err, RD_ENOMEM,
			    "cannot start a thread");
		p->started[i] = 1;
	}
	return 0;
}

/*
 * Wait until every queued file is written, stop the writers, and report
 * the first failure.  Safe to call with no pool.  Returns 0 or -1.
 */
static int
pool_finish(struct rctx *c, struct rd_err *err)
{
	struct wpool *p = c->pool;
	struct wjob *j;
	int i, ret = 0;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv_job);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		if (p->started[i])
			pthread_join(p->threads[i], NULL);
	/* jobs no writer took (none started) */
	while ((j = p->head) != NULL) {
		p->head = j->next;
		close(j->fd);
		unlinkat(j->dfd, j->name, 0);
		close(j->dfd);
		wjob_free(j);
	}
	if (p->failed) {
		*err = p->err;
		ret = -1;
	}
	pthread_cond_destroy(&p->cv_main);
	pthread_cond_destroy(&p->cv_job);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p->started);
	free(p);
	c->pool = NULL;
	return ret;
}

static int
restore_file(struct rctx *c, int dfd, const char *name, const struct rentry *e,
    struct rd_err *err)
{
	struct wpool *p = c->pool;
	struct wjob *j;
	int fd;

	if (make_room(c, dfd, name, e->path, err) == -1)
		return -1;
	fd = openat(dfd, name,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return rd_err_sys(err, errno == EEXIST ? RD_ECANTCREAT : RD_EIO,
		    "cannot create '%s'", e->path);
	if (p == NULL) {
		if (write_content(c, c->rd, fd, dfd, name, e, err) == -1)
			return -1;
		c->res->bytes += e->size;
		return 0;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL || (j->e.path = strdup(e->path)) == NULL ||
	    (j->dfd = dup(dfd)) == -1) {
		if (j != NULL && j->e.path != NULL)
			rd_err_sys(err, RD_EIO, "dup");
		else
			rd_err_set(err, RD_ENOMEM, "out of memory");
		close(fd);
		unlinkat(dfd, name, 0);
		wjob_free(j);
		return -1;
	}
	j->fd = fd;
	snprintf(j->name, sizeof(j->name), "%s", name);
	{
		char *path = j->e.path;

		j->e = *e;
		j->e.path = path;
		j->e.target = NULL;
		if (xattrs_dup(&j->e, e, err) == -1) {
			close(fd);
			unlinkat(dfd, name, 0);
			close(j->dfd);
			wjob_free(j);
			return -1;
		}
	}
	pthread_mutex_lock(&p->mu);
	while (p->queued >= WQUEUE && !p->failed)
		pthread_cond_wait(&p->cv_main, &p->mu);
	if (p->failed) {
		*err = p->err;
		pthread_mutex_unlock(&p->mu);
		close(j->fd);
		unlinkat(dfd, name, 0);
		close(j->dfd);
		wjob_free(j);
		return -1;
	}
	if (p->tail != NULL)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	pthread_cond_signal(&p->cv_job);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static int
restore_link(struct rctx *c, int dfd, const char *name, const struct rentry *e,
    struct rd_err *err)
{
	if (make_room(c, dfd, name, e->path, err) == -1)
		return -1;
	if (symlinkat(e->target, dfd, name) == -1)
		return rd_err_sys(err, errno == EEXIST ? RD_ECANTCREAT : RD_EIO,
		    "cannot create symlink '%s'", e->path);
	return finish_entry(c, dfd, name, e, -1, err);
}

/*
 * A fifo or a device node.  One that cannot be made (a device, when not
 * root) is named and left out; the restore goes on.
 */
static int
restore_special(struct rctx *c, int dfd, const char *name,
    const struct rentry *e, struct rd_err *err)
{
	mode_t kind = e->type == RD_TYPE_FIFO ? S_IFIFO
	    : e->type == RD_TYPE_CHR          ? S_IFCHR
	                                      : S_IFBLK;

	if (make_room(c, dfd, name, e->path, err) == -1)
		return -1;
	if (mknodat(dfd, name, kind | 0600, (dev_t)e->rdev) == -1) {
		if (errno == EEXIST)
			return rd_err_sys(err, RD_ECANTCREAT,
			    "cannot create '%s'", e->path);
		omit(c, "'%s': %s %lld:%lld not restored: %s", e->path,
		    e->type == RD_TYPE_FIFO      ? "fifo"
		        : e->type == RD_TYPE_CHR ? "character device"
		                                 : "block device",
		    (long long)major((dev_t)e->rdev),
		    (long long)minor((dev_t)e->rdev), strerror(errno));
		return 0;
	}
	return finish_entry(c, dfd, name, e, (int)restored_mode(c, e), err);
}

/* The slot of "key" in the map: its own, or the empty one it would take. */
static struct linkslot *
link_slot(struct linkmap *m, int64_t key)
{
	size_t i =
	    (size_t)((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15) >> 20) &
	    (m->cap - 1);

	while (m->slots[i].key != 0 && m->slots[i].key != key)
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static int
link_grow(struct linkmap *m, struct rd_err *err)
{
	struct linkmap n;
	struct linkslot *t;
	size_t i;

	n.cap = m->cap != 0 ? m->cap * 2 : 256;
	n.n = m->n;
	n.slots = calloc(n.cap, sizeof(*n.slots));
	if (n.slots == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	for (i = 0; i < m->cap; i++) {
		if (m->slots[i].key == 0)
			continue;
		t = link_slot(&n, m->slots[i].key);
		*t = m->slots[i];
	}
	free(m->slots);
	*m = n;
	return 0;
}

static void
link_free(struct linkmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->slots[i].path);
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/*
 * Open the directory that holds "path" (a catalog path, restored) below
 * the target, one name at a time, never following a symlink; "*last"
 * points at its last name.  Returns the fd or -1.
 */
static int
open_parent(struct rctx *c, const char *path, const char **last,
    struct rd_err *err)
{
	const char *p = path, *slash;
	char name[NAME_MAX + 1];
	size_t n;
	int fd = dup(c->stack[0].fd), nfd;

	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "dup");
	while ((slash = strchr(p, '/')) != NULL) {
		n = (size_t)(slash - p);
		if (n == 0 || n > NAME_MAX) {
			close(fd);
			return rd_err_set(err, RD_ECORRUPT,
			    "unsafe path '%s' in catalog", path);
		}
		memcpy(name, p, n);
		name[n] = '\0';
		nfd = openat(fd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (nfd == -1)
			return rd_err_sys(err, RD_EIO, "cannot open '%s'",
			    path);
		fd = nfd;
		p = slash + 1;
	}
	*last = p;
	return fd;
}

/*
 * A file with more than one name: the first restored name of its inode
 * is written; each later one, with the same content, becomes a hard
 * link to it.  Returns 1 if "e" was linked, 0 if it is to be written
 * (and is now its inode's first name), -1.
 */
static int
restore_hardlink(struct rctx *c, int dfd, const char *name,
    const struct rentry *e, struct rd_err *err)
{
	struct linkslot *t;
	const char *last = NULL;
	int pfd, r;

	if (e->link == 0)
		return 0;
	if (c->links.n * 2 >= c->links.cap && link_grow(&c->links, err) == -1)
		return -1;
	t = link_slot(&c->links, e->link);
	if (t->key == 0) {
		t->path = strdup(e->path);
		if (t->path == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		t->key = e->link;
		memcpy(t->sha, e->sha, RD_HASH_LEN);
		c->links.n++;
		return 0;
	}
	if (memcmp(t->sha, e->sha, RD_HASH_LEN) != 0)
		return 0; /* changed between its names' reads: two files */
	if (make_room(c, dfd, name, e->path, err) == -1)
		return -1;
	pfd = open_parent(c, t->path, &last, err);
	if (pfd == -1)
		return -1;
	r = linkat(pfd, last, dfd, name, 0);
	close(pfd);
	if (r == -1) {
		omit(c,
		    "'%s': hard link to '%s' not restored (written as its own file): %s",
		    e->path, t->path, strerror(errno));
		return 0;
	}
	return 1;
}

/* Restore one entry, below the directories already on the stack. */
static int
restore_entry(struct rctx *c, struct rentry *e, struct rd_err *err)
{
	struct dirframe *top;
	char name[NAME_MAX + 1];
	const char *rest, *slash;
	size_t len = e->plen, nlen;
	int fd;

	if (e->plen == 0) {
		/* the root: its metadata goes to the target itself */
		free(c->stack[0].meta.xattrs);
		c->stack[0].has_meta = 1;
		c->stack[0].meta = *e;
		c->stack[0].meta.path = NULL;
		c->stack[0].meta.target = NULL;
		return xattrs_dup(&c->stack[0].meta, e, err);
	}
	/* leave directories that do not contain this path */
	while (c->depth > 1) {
		top = &c->stack[c->depth - 1];
		if (top->plen < len &&
		    memcmp(e->path, top->prefix, top->plen) == 0)
			break;
		if (pop_dir(c, err) == -1)
			return -1;
	}
	/* make any missing parents (restoring a part of the tree) */
	for (;;) {
		top = &c->stack[c->depth - 1];
		rest = e->path + top->plen;
		slash = strchr(rest, '/');
		if (slash == NULL || (size_t)(slash - e->path) + 1 == len)
			break;
		nlen = (size_t)(slash - rest);
		if (nlen > NAME_MAX)
			return rd_err_set(err, RD_ECORRUPT,
			    "unsafe path '%s' in catalog", e->path);
		memcpy(name, rest, nlen);
		name[nlen] = '\0';
		fd = open_subdir(c, top->fd, name, e->path, err);
		if (fd == -1)
			return -1;
		if (push_dir(c, fd, e->path, (size_t)(slash - e->path) + 1,
		        NULL, err) == -1) {
			close(fd);
			return -1;
		}
	}
	top = &c->stack[c->depth - 1];
	rest = e->path + top->plen;
	nlen = strlen(rest);
	if (e->type == RD_TYPE_DIR)
		nlen--;
	if (nlen == 0 || nlen > NAME_MAX)
		return rd_err_set(err, RD_ECORRUPT,
		    "unsafe path '%s' in catalog", e->path);
	memcpy(name, rest, nlen);
	name[nlen] = '\0';
	if (e->type == RD_TYPE_DIR) {
		fd = open_subdir(c, top->fd, name, e->path, err);
		if (fd == -1)
			return -1;
		if (push_dir(c, fd, e->path, len, e, err) == -1) {
			close(fd);
			return -1;
		}
		return 0;
	}
	if (e->type == RD_TYPE_SYMLINK)
		return restore_link(c, top->fd, name, e, err);
	if (e->type == RD_TYPE_FIFO || e->type == RD_TYPE_CHR ||
	    e->type == RD_TYPE_BLK)
		return restore_special(c, top->fd, name, e, err);
	if (e->type == RD_TYPE_FILE) {
		int r = restore_hardlink(c, top->fd, name, e, err);

		if (r != 0)
			return r == 1 ? 0 : -1;
		return restore_file(c, top->fd, name, e, err);
	}
	return rd_err_set(err, RD_ECORRUPT,
	    "unknown type of entry '%s' in catalog", e->path);
}

/* A catalog path (any length) that is safe to restore, or RD_ECORRUPT. */
static int
check_entry_path(const struct rentry *e, struct rd_err *err)
{
	char *buf;
	int ok;

	if (e->plen == 0)
		return 0;
	if (e->plen > RDI_PATH_MAX + 1 ||
	    memchr(e->path, '\0', e->plen) != NULL)
		return rd_err_set(err, RD_ECORRUPT,
		    "unsafe path '%.*s' in catalog", (int)strnlen(e->path, 512),
		    e->path);
	buf = strdup(e->path);
	if (buf == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	ok = e->type != RD_TYPE_DIR || buf[e->plen - 1] == '/';
	if (e->type == RD_TYPE_DIR)
		buf[e->plen - 1] = '\0';
	ok = ok && rdi_path_safe(buf);
	free(buf);
	return ok ? 0
	          : rd_err_set(err, RD_ECORRUPT, "unsafe path '%s' in catalog",
	                e->path);
}

static const char sql_tree[] =
    "SELECT path, type, mode, uid, gid, size, mtime, sha, target, rdev,"
    " link, xattrs FROM entries WHERE first <= ?1 AND (last IS NULL OR last >= ?1)"
    " AND (?2 IS NULL OR path = ?2 OR path = CAST(?2 || '/' AS BLOB)"
    " OR (path > CAST(?2 || '/' AS BLOB) AND path < CAST(?2 || '0' AS BLOB)))"
    " ORDER BY path";

/* A copy of column "col" of "s" as a string in "*out": its length, or -1. */
static int
column_str(sqlite3_stmt *s, int col, char **out, struct rd_err *err)
{
	int n = sqlite3_column_bytes(s, col);

	*out = malloc((size_t)n + 1);
	if (*out == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (n > 0)
		memcpy(*out, sqlite3_column_blob(s, col), (size_t)n);
	(*out)[n] = '\0';
	return n;
}

/* Read the row of "s" (sql_tree) into "e", checking its path. */
static int
rentry_read(sqlite3_stmt *s, struct rentry *e, struct rd_err *err)
{
	int n;

	free(e->path);
	free(e->target);
	free(e->xattrs);
	memset(e, 0, sizeof(*e));
	n = column_str(s, 0, &e->path, err);
	if (n == -1)
		return -1;
	e->plen = (size_t)n;
	e->type = sqlite3_column_int(s, 1);
	e->mode = (unsigned)sqlite3_column_int(s, 2) & 07777;
	e->uid = sqlite3_column_int64(s, 3);
	e->gid = sqlite3_column_int64(s, 4);
	e->size = sqlite3_column_int64(s, 5);
	e->mtime = sqlite3_column_int64(s, 6);
	if (e->type == RD_TYPE_FILE) {
		if (sqlite3_column_bytes(s, 7) != RD_HASH_LEN)
			return rd_err_set(err, RD_ECORRUPT,
			    "entry '%s' has no content", e->path);
		memcpy(e->sha, sqlite3_column_blob(s, 7), RD_HASH_LEN);
	}
	if (e->type == RD_TYPE_SYMLINK &&
	    column_str(s, 8, &e->target, err) == -1)
		return -1;
	e->rdev = sqlite3_column_int64(s, 9);
	e->link = e->type == RD_TYPE_FILE ? sqlite3_column_int64(s, 10) : 0;
	n = sqlite3_column_bytes(s, 11);
	if (n > 0) {
		if (!rdi_xattrs_valid(sqlite3_column_blob(s, 11), (size_t)n))
			return rd_err_set(err, RD_ECORRUPT,
			    "entry '%s' has bad extended attributes in catalog",
			    e->path);
		if (column_str(s, 11, (char **)&e->xattrs, err) == -1)
			return -1;
		e->xattrs_len = (size_t)n;
	}
	return check_entry_path(e, err);
}

/*
 * An ordinary user restores entries of other owners as its own: the
 * first OWNERS_NAMED are named, the rest counted (rd_restore_result).
 */
#define OWNERS_NAMED 20

static void
owner_lost(struct rctx *c, const struct rentry *e)
{
	if (c->owners_lost++ < OWNERS_NAMED)
		omit(c, "'%s': owner %lld:%lld not restored (not root)",
		    e->plen > 0 ? e->path : ".", (long long)e->uid,
		    (long long)e->gid);
	else
		atomic_fetch_add(&c->omitted, 1);
}

/*
 * Restore every entry of snapshot "id" matching "prefix" (NULL: all), or
 * with "g" the entries it selects below "prefix".
 */
static int
restore_tree(struct rctx *c, int64_t id, const char *prefix,
    struct snap_glob *g, int *found, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct rentry e;
	int r, ret = -1;

	memset(&e, 0, sizeof(e));
	if (rdi_db_prepare(c->st->db, sql_tree, &s, err) == -1)
		return -1;
	if (rdi_db_bind(c->st->db, s, err, "ib", (int64_t)id, prefix,
	        prefix != NULL ? strlen(prefix) : (size_t)0) == -1)
		goto out;
	while ((r = rdi_db_step(c->st->db, s, err)) == 1) {
		if (rentry_read(s, &e, err) == -1) {
			if (err->code != RD_ECORRUPT || e.path == NULL)
				goto out;
			/* name it, leave it out, and go on with the rest */
			omit(c, "not restored: %s", err->msg);
			rd_err_clear(err);
			c->bad_rows++;
			continue;
		}
		if (prefix != NULL && e.plen == 0)
			continue;
		if (g != NULL) {
			r = snap_glob_match(g, e.path, e.plen, err);
			if (r == -1)
				goto out;
			if (r == 0)
				continue;
		}
		if (!c->chown_ok && !c->opts->no_owner &&
		    (e.uid != (int64_t)geteuid() ||
		        e.gid != (int64_t)getegid()))
			owner_lost(c, &e);
		if (restore_entry(c, &e, err) == -1)
			goto out;
		(*found)++;
		c->res->files++;
		if (c->opts->progress != NULL &&
		    rd_monotonic() - c->last_progress >= 0.1) {
			c->last_progress = rd_monotonic();
			c->opts->progress(c->opts->progress_arg, c->res->files,
			    c->res->bytes);
		}
	}
	if (r == 0)
		ret = 0;
out:
	free(e.path);
	free(e.target);
	free(e.xattrs);
	sqlite3_finalize(s);
	return ret;
}

/* 1 if snapshot "id" has the entry "path" (a file, link or dir), else 0. */
static int
has_path(struct rd_store *st, int64_t id, const char *path, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r;

	if (rdi_db_prepare(st->db,
	        "SELECT 1 FROM entries WHERE first <= ?1"
	        " AND (last IS NULL OR last >= ?1) AND (path = ?2"
	        " OR path = CAST(?2 || '/' AS BLOB)) LIMIT 1",
	        &q, err) == -1)
		return -1;
	r = rdi_db_bind(st->db, q, err, "ib", (int64_t)id, path, strlen(path));
	if (r == 0)
		r = rdi_db_step(st->db, q, err);
	sqlite3_finalize(q);
	return r;
}

/* Normalize a path operand: no leading "./" or "/", no trailing "/". */
static char *
norm_operand(const char *p)
{
	size_t n;
	char *s;

	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	s = strdup(p);
	if (s == NULL)
		return NULL;
	n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	if (strcmp(s, ".") == 0)
		s[0] = '\0';
	return s;
}

/* The path operands, as given ("arg", for messages) and normalized. */
struct operands {
	const char *const *arg;
	char **path; /* "" is the whole tree */
	int n;
};

static void
operands_free(struct operands *ops)
{
	int i;

	if (ops->path == NULL)
		return;
	for (i = 0; i < ops->n; i++)
		free(ops->path[i]);
	free(ops->path);
	ops->path = NULL;
}

/* Normalize every operand once, refusing an unsafe one.  0 or -1. */
static int
operands_norm(struct operands *ops, const char *const *paths, int npaths,
    struct rd_err *err)
{
	int i;

	ops->arg = paths;
	ops->n = npaths;
	ops->path = calloc(npaths > 0 ? (size_t)npaths : 1, sizeof(char *));
	if (ops->path == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	for (i = 0; i < npaths; i++) {
		ops->path[i] = norm_operand(paths[i]);
		if (ops->path[i] == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		if (*ops->path[i] != '\0' && !rdi_path_safe(ops->path[i]))
			return rd_err_set(err, RD_EUSAGE, "invalid path '%s'",
			    paths[i]);
	}
	return 0;
}

/* 1 if the pattern "pattern" selects an entry of snapshot "id", else 0. */
static int
has_match(struct rd_store *st, int64_t id, const char *pattern,
    struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct snap_glob g;
	const void *p;
	int r, n;

	if (snap_glob_init(&g, pattern, err) == -1)
		return -1;
	r = rdi_db_prepare(st->db, sql_tree, &q, err);
	if (r == 0)
		r = rdi_db_bind(st->db, q, err, "ib", (int64_t)id, g.literal,
		    g.literal != NULL ? strlen(g.literal) : (size_t)0);
	while (r == 0 && (r = rdi_db_step(st->db, q, err)) == 1) {
		p = sqlite3_column_blob(q, 0);
		n = sqlite3_column_bytes(q, 0);
		if (n > 0 && memchr(p, '\0', (size_t)n) != NULL)
			r = 0; /* restore refuses it; no pattern names it */
		else
			r = snap_glob_match(&g, p, (size_t)n, err);
		if (r != 0)
			break;
	}
	sqlite3_finalize(q);
	snap_glob_release(&g);
	return r;
}

/* Every operand must be in snapshot "id" before anything is written. */
static int
operands_check(struct rd_store *st, int64_t id, const struct operands *ops,
    struct rd_err *err)
{
	int i, r, pat;

	for (i = 0; i < ops->n; i++) {
		if (*ops->path[i] == '\0')
			continue;
		pat = snap_glob_is_pattern(ops->path[i]);
		r = pat ? has_match(st, id, ops->path[i], err)
		        : has_path(st, id, ops->path[i], err);
		if (r == -1)
			return -1;
		if (r == 0)
			return rd_err_set(err, RD_ENOENT,
			    "snapshot %lld has no path %s'%s'", (long long)id,
			    pat ? "matching " : "", ops->arg[i]);
	}
	return 0;
}

/*
 * Make or open the target directory; "*made" says whether it was made.
 * One that existed must be empty unless "force".  Returns its fd or -1.
 */
static int
open_target(const char *target, int force, int *made, struct rd_err *err)
{
	int fd, r;

	*made = 0;
	if (mkdir(target, 0700) == 0)
		*made = 1;
	else if (errno != EEXIST)
		return rd_err_sys(err, RD_ECANTCREAT, "cannot create '%s'",
		    target);
	fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return rd_err_sys(err, RD_ECANTCREAT, "cannot open target '%s'",
		    target);
	if (*made || force)
		return fd;
	r = rdi_dir_has_entries(fd, target, err);
	if (r == 1)
		rd_err_set(err, RD_ECANTCREAT,
		    "restore target '%s' is not empty (use --force to write into it)",
		    target);
	if (r != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Get "c" ready to write into the target "tfd" (taken, even on failure):
 * the calling thread's reader, the target at the bottom of the stack,
 * and the writers.  Returns 0 or -1.
 */
static int
rctx_start(struct rctx *c, int tfd, struct rd_err *err)
{
	c->rd = calloc(1, sizeof(*c->rd));
	if (c->rd == NULL || (c->rd->pc = rdi_packcache_new(c->st)) == NULL) {
		close(tfd);
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	}
	c->rd->db = c->st->db;
	if (push_dir(c, tfd, "", 0, NULL, err) == -1) {
		close(tfd);
		return -1;
	}
	return pool_start(c, err);
}

/* Restore the operand "path": a path, "" for all, or a pattern. */
static int
restore_operand(struct rctx *c, int64_t id, const char *path, int *found,
    struct rd_err *err)
{
	struct snap_glob g;
	int r;

	if (!snap_glob_is_pattern(path))
		return restore_tree(c, id, *path != '\0' ? path : NULL, NULL,
		    found, err);
	if (snap_glob_init(&g, path, err) == -1)
		return -1;
	r = restore_tree(c, id, g.literal, &g, found, err);
	snap_glob_release(&g);
	return r;
}

/* Restore the whole tree, or each operand in turn.  Returns 0 or -1. */
static int
restore_operands(struct rctx *c, int64_t id, const struct operands *ops,
    struct rd_err *err)
{
	int found, i;

	if (ops->n == 0) {
		found = 0;
		return restore_tree(c, id, NULL, NULL, &found, err);
	}
	for (i = 0; i < ops->n; i++) {
		found = 0;
		if (restore_operand(c, id, ops->path[i], &found, err) == -1)
			return -1;
		if (found == 0)
			return rd_err_set(err, RD_ENOENT,
			    "snapshot %lld has no path '%s'", (long long)id,
			    ops->arg[i]);
		/* close the directories of this operand before the next */
		while (c->depth > 1)
			if (pop_dir(c, err) == -1)
				return -1;
	}
	return 0;
}

/* Wait for the writers, then leave every directory (setting its times). */
static int
rctx_finish(struct rctx *c, struct rd_err *err)
{
	if (pool_finish(c, err) == -1)
		return -1;
	while (c->depth > 0)
		if (pop_dir(c, err) == -1)
			return -1;
	return 0;
}

/* Release what "c" holds after a failure or a finish. */
static void
rctx_release(struct rctx *c)
{
	struct rd_err e2 = RD_ERR_INIT;

	if (c->pool != NULL)
		(void)pool_finish(c, &e2);
	while (c->depth > 0) {
		c->depth--;
		close(c->stack[c->depth].fd);
		free(c->stack[c->depth].prefix);
		free(c->stack[c->depth].meta.xattrs);
	}
	free(c->stack);
	link_free(&c->links);
	if (c->rd != NULL)
		c->rd->db = NULL; /* the store's own */
	creader_free(c->rd);
}

int
rd_restore(struct rd_store *st, int64_t id, const char *target,
    const char *const *paths, int npaths, const struct rd_restore_opts *opts,
    struct rd_restore_result *res, struct rd_err *err)
{
	struct rctx c;
	struct operands ops;
	struct rd_restore_result dummy;
	struct rd_snapinfo si;
	int tfd, made = 0, ret = -1, in_txn = 0;

	memset(&c, 0, sizeof(c));
	memset(&ops, 0, sizeof(ops));
	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	c.st = st;
	c.opts = opts;
	c.res = res;
	c.chown_ok = geteuid() == 0 && !opts->no_owner;
	if (operands_norm(&ops, paths, npaths, err) == -1)
		goto out;
	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		goto out;
	in_txn = 1;
	if (rd_snap_get(st, id, &si, err) == -1)
		goto out;
	res->id = si.id;
	if (operands_check(st, si.id, &ops, err) == -1)
		goto out;
	tfd = open_target(target, opts->force, &made, err);
	if (tfd == -1 || rctx_start(&c, tfd, err) == -1 ||
	    restore_operands(&c, si.id, &ops, err) == -1 ||
	    rctx_finish(&c, err) == -1)
		goto out;
	if (c.bad_rows > 0) {
		/* the rest is restored; the damage decides the status */
		rd_err_set(err, RD_ECORRUPT,
		    "%lld entr%s of snapshot %lld not restored: damaged catalog rows (named above)",
		    (long long)c.bad_rows, c.bad_rows == 1 ? "y" : "ies",
		    (long long)si.id);
		goto out;
	}
	res->setid_dropped = (int64_t)atomic_load(&c.setid_dropped);
	res->omitted = (int64_t)atomic_load(&c.omitted);
	res->owners_lost = c.owners_lost;
	ret = 0;
out:
	rctx_release(&c);
	operands_free(&ops);
	if (in_txn)
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (ret == -1 && made)
		rmdir(target);
	return ret;
}
