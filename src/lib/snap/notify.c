/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * notify.c: change notification for follow mode.  An inotify watch on
 * every directory of the source that a snapshot reads (the exclude
 * patterns and --one-file-system apply as in the walk) tells whether
 * anything changed since the last look, so that a cycle without a
 * change need not walk, and which directories did, so that a cycle with
 * a change walks those and the directories above them only (the rest of
 * the tree stays as the newest snapshot has it).  New directories get
 * their watches as they
 * appear; a directory renamed inside the source, an unmounted one or a
 * lost source root make the watches be set again from scratch.  An
 * overflow of the kernel's event queue loses events: the next cycle
 * walks the whole source and the watches are set again.  When inotify is missing or a
 * watch cannot be added (fs.inotify.max_user_watches) the notifier
 * turns itself off for good and every cycle walks.  The table of
 * watches holds one entry (its path) per directory watched; the set of
 * changed directories one per directory changed or above a change, at
 * most DIRTY_MAX (more make the next walk a whole one).
 */
#include "config.h"

#include <sys/stat.h>
#ifdef HAVE_SYS_INOTIFY_H
#include <sys/inotify.h>
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "snap_int.h"

/* Reads of the event queue in one look; more is treated as an overflow. */
#define READS_MAX 1024
/* Directories in a set of changed ones; more make the walk a whole one. */
#define DIRTY_MAX 65536

/*
 * A set of directories (paths relative to the source, "" for the
 * source): those where an event arrived and those above them, and with
 * "full" those to walk whole (new ones, whose events before their watch
 * existed are lost).
 */
struct dslot {
	char *path; /* NULL: a free slot */
	size_t len;
	unsigned hash;
	int full;
};

struct rdi_dirty {
	struct dslot *tab; /* open addressing, "cap" a power of 2 */
	size_t cap, n;
};

struct watch {
	int wd;     /* 0: a free slot (the kernel's descriptors are >= 1) */
	char *path; /* relative to the source, "" for the source */
};

struct rdi_notify {
	char *source;
	struct xpat *xp; /* exclude patterns, "nx" of them */
	char *xbuf;
	size_t nx;
	int one_fs;
	dev_t root_dev;
	int root_wd; /* the source's watch, 0 none */
	int fd;      /* inotify, -1 when off */
	int off;     /* for good: every look says "changed" */
	int full;    /* the next walk is whole (lost events, first) */
	struct rdi_dirty pending; /* changed since the last look */
	struct rdi_dirty taken;   /* what the last look found */
	int taken_full;           /* the last look: walk the whole source */
	int rebuild;              /* set the watches again at the next look */
	struct watch *tab;        /* open addressing, "cap" a power of 2 */
	size_t cap, n;
	int64_t overflows;
	int told_overflow;
	rd_notice_fn notice;
	void *notice_arg;
};

static void tell(struct rdi_notify *n, const char *fmt, ...) RD_PRINTF(2, 3);

static void
tell(struct rdi_notify *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rdi_vnotice(n->notice, n->notice_arg, fmt, ap);
	va_end(ap);
}

static size_t
slot(const struct rdi_notify *n, int wd)
{
	return ((unsigned)wd * 2654435761u) & (n->cap - 1);
}

static struct watch *
tab_find(const struct rdi_notify *n, int wd)
{
	size_t i;

	if (n->cap == 0)
		return NULL;
	for (i = slot(n, wd); n->tab[i].wd != 0; i = (i + 1) & (n->cap - 1))
		if (n->tab[i].wd == wd)
			return &n->tab[i];
	return NULL;
}

static int
tab_grow(struct rdi_notify *n, struct rd_err *err)
{
	struct watch *old = n->tab;
	size_t oldcap = n->cap, i, j;

	n->cap = oldcap == 0 ? 256 : oldcap * 2;
	n->tab = calloc(n->cap, sizeof(*n->tab));
	if (n->tab == NULL) {
		n->tab = old;
		n->cap = oldcap;
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	}
	for (i = 0; i < oldcap; i++) {
		if (old[i].wd == 0)
			continue;
		for (j = slot(n, old[i].wd); n->tab[j].wd != 0;
		     j = (j + 1) & (n->cap - 1))
			;
		n->tab[j] = old[i];
	}
	free(old);
	return 0;
}

/* Record watch "wd" for "path" (taken over, also on failure). */
static int
tab_put(struct rdi_notify *n, int wd, char *path, struct rd_err *err)
{
	struct watch *w = tab_find(n, wd);
	size_t i;

	if (w != NULL) { /* the same directory again, maybe renamed */
		free(w->path);
		w->path = path;
		return 0;
	}
	if ((n->n + 1) * 2 > n->cap && tab_grow(n, err) == -1) {
		free(path);
		return -1;
	}
	for (i = slot(n, wd); n->tab[i].wd != 0; i = (i + 1) & (n->cap - 1))
		;
	n->tab[i].wd = wd;
	n->tab[i].path = path;
	n->n++;
	return 0;
}

/* Forget watch "wd": the slots after it move back (no tombstones). */
static void
tab_del(struct rdi_notify *n, int wd)
{
	struct watch *w = tab_find(n, wd);
	size_t i, j, home, mask = n->cap - 1;

	if (w == NULL)
		return;
	free(w->path);
	i = (size_t)(w - n->tab);
	n->tab[i].wd = 0;
	n->tab[i].path = NULL;
	n->n--;
	for (j = (i + 1) & mask; n->tab[j].wd != 0; j = (j + 1) & mask) {
		home = slot(n, n->tab[j].wd);
		/* "j" may move to "i" unless its home lies in (i, j] */
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		n->tab[i] = n->tab[j];
		n->tab[j].wd = 0;
		n->tab[j].path = NULL;
		i = j;
	}
}

static void
tab_clear(struct rdi_notify *n)
{
	size_t i;

	for (i = 0; i < n->cap; i++)
		free(n->tab[i].path);
	free(n->tab);
	n->tab = NULL;
	n->cap = 0;
	n->n = 0;
}

static unsigned
dhash(const char *p, size_t len)
{
	unsigned h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

static struct dslot *
dirty_find(const struct rdi_dirty *d, const char *path, size_t len, unsigned h)
{
	size_t i;

	if (d->cap == 0)
		return NULL;
	for (i = h & (d->cap - 1); d->tab[i].path != NULL;
	     i = (i + 1) & (d->cap - 1))
		if (d->tab[i].hash == h && d->tab[i].len == len &&
		    memcmp(d->tab[i].path, path, len) == 0)
			return &d->tab[i];
	return NULL;
}

static void
dirty_clear(struct rdi_dirty *d)
{
	size_t i;

	for (i = 0; i < d->cap; i++)
		free(d->tab[i].path);
	free(d->tab);
	memset(d, 0, sizeof(*d));
}

static int
dirty_grow(struct rdi_dirty *d, struct rd_err *err)
{
	struct dslot *t;
	size_t cap = d->cap == 0 ? 64 : d->cap * 2, i, j;

	t = calloc(cap, sizeof(*t));
	if (t == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	for (i = 0; i < d->cap; i++) {
		if (d->tab[i].path == NULL)
			continue;
		for (j = d->tab[i].hash & (cap - 1); t[j].path != NULL;
		     j = (j + 1) & (cap - 1))
			;
		t[j] = d->tab[i];
	}
	free(d->tab);
	d->tab = t;
	d->cap = cap;
	return 0;
}

/*
 * Add "path" ("len" bytes) to "d" (with "full": to walk whole); 1 when
 * it was there already, 0 when added, or -1.
 */
static int
dirty_add(struct rdi_dirty *d, const char *path, size_t len, int full,
    struct rd_err *err)
{
	unsigned h = dhash(path, len);
	struct dslot *s = dirty_find(d, path, len, h);
	size_t i;
	char *p;

	if (s != NULL) {
		s->full |= full;
		return 1;
	}
	if ((d->n + 1) * 2 > d->cap && dirty_grow(d, err) == -1)
		return -1;
	p = malloc(len + 1);
	if (p == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	memcpy(p, path, len);
	p[len] = '\0';
	for (i = h & (d->cap - 1); d->tab[i].path != NULL;
	     i = (i + 1) & (d->cap - 1))
		;
	d->tab[i].path = p;
	d->tab[i].len = len;
	d->tab[i].hash = h;
	d->tab[i].full = full;
	d->n++;
	return 0;
}

/* The next walk is a whole one: the set of changed directories goes. */
static void
all_changed(struct rdi_notify *n)
{
	n->full = 1;
	dirty_clear(&n->pending);
}

/*
 * Directory "path" changed ("full": walk all below it): it and every
 * directory above it go into the pending set.
 */
static int
mark(struct rdi_notify *n, const char *path, int full, struct rd_err *err)
{
	size_t len = strlen(path);
	int r;

	if (n->full)
		return 0;
	for (;;) {
		if (n->pending.n >= DIRTY_MAX) {
			all_changed(n);
			return 0;
		}
		r = dirty_add(&n->pending, path, len, full, err);
		/* what is above a member is in the set already */
		if (r != 0 || len == 0)
			return r == -1 ? -1 : 0;
		full = 0;
		while (len > 0 && path[len - 1] != '/')
			len--;
		if (len > 0)
			len--; /* "a/b" -> "a", "a" -> "" */
	}
}

int
rdi_dirty_get(const struct rdi_dirty *d, const char *path, size_t len)
{
	const struct dslot *s = dirty_find(d, path, len, dhash(path, len));

	return s == NULL ? -1 : s->full;
}

/* Stop watching for good: every look from now on says "changed". */
static void
go_off(struct rdi_notify *n, const char *why)
{
	if (n->fd != -1)
		close(n->fd);
	n->fd = -1;
	tab_clear(n);
	n->off = 1;
	all_changed(n);
	tell(n,
	    "change notification is off (%s): walking the source every cycle",
	    why);
}

/* "a/b" from "a" and "b", or "b" when "dir" is "". */
static char *
join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	char *p = malloc(dl + nl + 2);

	if (p == NULL)
		return NULL;
	memcpy(p, dir, dl);
	if (dl > 0)
		p[dl++] = '/';
	memcpy(p + dl, name, nl + 1);
	return p;
}

#ifdef HAVE_SYS_INOTIFY_H

#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0
#endif

#define MASK                                                                   \
	(IN_MASK_CREATE | IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE |      \
	    IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |      \
	    IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

static int add_tree(struct rdi_notify *n, const char *rel, struct rd_err *err);

/*
 * Errors that leave a directory unwatched as it should be: gone, not a
 * directory (any more), or one we may not read (nor may the walk).
 */
static int
benign(int e)
{
	return e == ENOENT || e == ENOTDIR || e == EACCES || e == ELOOP;
}

/* A directory that cannot be watched whole: notification goes off. */
static void
cannot(struct rdi_notify *n, const char *what, const char *rel, int e)
{
	char why[PATH_MAX + 128];

	snprintf(why, sizeof(why), "cannot %s '%s%s%s': %s%s", what, n->source,
	    rel[0] != '\0' ? "/" : "", rel, strerror(e),
	    e == ENOSPC ? ", raise fs.inotify.max_user_watches" : "");
	go_off(n, why);
}

/* Watch the directories below "rel", open as "dfd" (taken over). */
static int
add_below(struct rdi_notify *n, const char *rel, int dfd, struct rd_err *err)
{
	struct dirent *de;
	struct stat sb;
	char *child;
	DIR *d;
	int isdir, ret = -1;

	d = fdopendir(dfd);
	if (d == NULL) {
		cannot(n, "list", rel, errno);
		close(dfd);
		return 0;
	}
	for (;;) {
		errno = 0;
		if (n->off || (de = readdir(d)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		isdir = de->d_type == DT_DIR;
		if (de->d_type == DT_UNKNOWN)
			isdir = fstatat(dirfd(d), de->d_name, &sb,
			            AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISDIR(sb.st_mode);
		if (!isdir)
			continue;
		child = join(rel, de->d_name);
		if (child == NULL) {
			rd_err_set(err, RD_ENOMEM, "out of memory");
			goto out;
		}
		if (n->nx > 0 &&
		    snap_matches(n->xp, n->nx, de->d_name, child, 1)) {
			free(child);
			continue;
		}
		if (add_tree(n, child, err) == -1) {
			free(child);
			goto out;
		}
		free(child);
	}
	/* a listing cut short leaves directories unwatched */
	if (!n->off && errno != 0 && !benign(errno))
		cannot(n, "list", rel, errno);
	ret = 0;
out:
	closedir(d);
	return ret;
}

/*
 * Watch directory "rel" and every directory below it that the walk
 * reads.  A directory that is gone or that we may not read is left out
 * (the walk copes with it, and the event that changes that reaches its
 * parent's watch).  Returns 0 (also when the notifier went off) or -1.
 */
static int
add_tree(struct rdi_notify *n, const char *rel, struct rd_err *err)
{
	char *full, *path;
	struct stat sb;
	int wd, dfd, e;

	if (n->off)
		return 0;
	full = rel[0] == '\0' ? strdup(n->source) : join(n->source, rel);
	path = strdup(rel);
	if (full == NULL || path == NULL) {
		free(full);
		free(path);
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	}
	wd = inotify_add_watch(n->fd, full, MASK);
	if (wd == -1) {
		e = errno;
		free(full);
		free(path);
		/* already watched (IN_MASK_CREATE): so is what is below */
		if (e != EEXIST && !benign(e))
			cannot(n, "watch", rel, e);
		return 0;
	}
	if (tab_put(n, wd, path, err) == -1) {
		free(full);
		return -1;
	}
	dfd = open(full,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC | (rel[0] ? O_NOFOLLOW : 0));
	e = errno;
	free(full);
	if (dfd == -1 || fstat(dfd, &sb) == -1) {
		e = dfd == -1 ? e : errno;
		if (dfd != -1)
			close(dfd);
		if (!benign(e))
			cannot(n, "open", rel, e);
		return 0;
	}
	if (rel[0] == '\0') {
		n->root_wd = wd;
		n->root_dev = sb.st_dev;
	} else if (n->one_fs && sb.st_dev != n->root_dev) {
		/* a mount point: watched, what is mounted there is not */
		close(dfd);
		return 0;
	}
	return add_below(n, rel, dfd, err);
}

/* Set every watch again, on a new descriptor. */
static int
rebuild(struct rdi_notify *n, struct rd_err *err)
{
	char why[128];

	if (n->fd != -1)
		close(n->fd);
	tab_clear(n);
	n->root_wd = 0;
	all_changed(n);
	n->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (n->fd == -1) {
		snprintf(why, sizeof(why), "inotify: %s", strerror(errno));
		go_off(n, why);
		return 0;
	}
	if (add_tree(n, "", err) == -1)
		return -1;
	/* no source to watch (yet): the walk says why; try again */
	if (!n->off && n->root_wd == 0)
		n->rebuild = 1;
	return 0;
}

/*
 * A directory "name" appeared in the directory "w" watches (or may be
 * read now): watch it and what is below it, and walk it whole ("full",
 * or when it was not watched yet), as its events before its watch
 * existed are lost.
 */
static int
new_dir(struct rdi_notify *n, const struct watch *w, const char *name, int full,
    struct rd_err *err)
{
	size_t before = n->n;
	char *child;
	int ret = 0;

	child = join(w->path, name);
	if (child == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (n->nx == 0 || !snap_matches(n->xp, n->nx, name, child, 1)) {
		ret = add_tree(n, child, err);
		if (ret == 0 && (full || n->n > before))
			ret = mark(n, child, 1, err);
	}
	free(child);
	return ret;
}

static int
one_event(struct rdi_notify *n, const struct inotify_event *ev,
    struct rd_err *err)
{
	const struct watch *w;

	if (ev->mask & IN_Q_OVERFLOW) {
		n->overflows++;
		n->rebuild = 1;
		all_changed(n);
		return 0;
	}
	if (ev->mask & IN_IGNORED) {
		if (ev->wd == n->root_wd) {
			n->rebuild = 1; /* the source went away */
			n->root_wd = 0;
			all_changed(n);
		}
		/* a directory gone: its parent's watch told of it */
		tab_del(n, ev->wd);
		return 0;
	}
	/* paths below a renamed directory are stale; so is a mount */
	if ((ev->mask & (IN_MOVE_SELF | IN_UNMOUNT)) ||
	    ((ev->mask & IN_ISDIR) && (ev->mask & IN_MOVED_FROM))) {
		n->rebuild = 1;
		all_changed(n);
		return 0;
	}
	if (n->rebuild)
		return 0; /* every watch is set again at the look */
	w = tab_find(n, ev->wd);
	if (w == NULL) {
		/* a watch we no longer know: do not guess where */
		all_changed(n);
		return 0;
	}
	/*
	 * What changed is in "w"'s directory (the entry "name") or is
	 * that directory itself, whose entry its parent's listing holds:
	 * marking it marks the directories above it as well.
	 */
	if (mark(n, w->path, 0, err) == -1)
		return -1;
	if ((ev->mask & IN_ISDIR) && ev->len > 0 &&
	    (ev->mask & (IN_CREATE | IN_MOVED_TO | IN_ATTRIB)))
		return new_dir(n, w, ev->name,
		    (ev->mask & (IN_CREATE | IN_MOVED_TO)) != 0, err);
	return 0;
}

/* Read every queued event. */
static int
read_events(struct rdi_notify *n, struct rd_err *err)
{
	char buf[65536]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t r, off;
	int reads = 0;
	char why[128];

	while (!n->off && n->fd != -1) {
		if (reads++ == READS_MAX) {
			/* the writer outruns us: as good as an overflow */
			n->overflows++;
			n->rebuild = 1;
			all_changed(n);
			return 0;
		}
		r = read(n->fd, buf, sizeof(buf));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN)
			return 0;
		if (r <= 0) {
			snprintf(why, sizeof(why), "reading inotify: %s",
			    r == 0 ? "end of file" : strerror(errno));
			go_off(n, why);
			return 0;
		}
		for (off = 0; off + (ssize_t)sizeof(*ev) <= r;
		     off += (ssize_t)sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(buf + off);
			if (one_event(n, ev, err) == -1)
				return -1;
		}
	}
	return 0;
}

static int
start(struct rdi_notify *n, struct rd_err *err)
{
	return rebuild(n, err);
}

#else /* no inotify */

static int
start(struct rdi_notify *n, struct rd_err *err)
{
	(void)err;
	go_off(n, "no inotify on this system");
	return 0;
}

static int
read_events(struct rdi_notify *n, struct rd_err *err)
{
	(void)n;
	(void)err;
	return 0;
}

static int
rebuild(struct rdi_notify *n, struct rd_err *err)
{
	(void)n;
	(void)err;
	return 0;
}

#endif

int
rdi_notify_new(const char *source, const struct rd_snap_opts *o,
    rd_notice_fn notice, void *notice_arg, struct rdi_notify **out,
    struct rd_err *err)
{
	struct rdi_notify *n;

	*out = NULL;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	n->fd = -1;
	n->full = 1; /* the first look walks whole */
	n->one_fs = o->one_file_system;
	n->notice = notice;
	n->notice_arg = notice_arg;
	n->source = strdup(source);
	if (n->source == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto fail;
	}
	if (snap_compile_patterns(o->excludes, o->nexcludes, &n->xp, &n->xbuf,
	        &n->nx, err) == -1)
		goto fail;
	if (start(n, err) == -1)
		goto fail;
	*out = n;
	return 0;
fail:
	rdi_notify_free(n);
	return -1;
}

int
rdi_notify_changed(struct rdi_notify *n, struct rd_err *err)
{
	int64_t seen = n->overflows;

	if (n->off) {
		n->taken_full = 1;
		return 1;
	}
	if (read_events(n, err) == -1)
		return -1;
	if (n->overflows > seen && !n->told_overflow) {
		n->told_overflow = 1;
		tell(n,
		    "change notification lost events (queue overflow, see fs.inotify.max_queued_events): walking the whole source and watching it again");
	}
	if (!n->off && n->rebuild) {
		n->rebuild = 0;
		if (rebuild(n, err) == -1)
			return -1;
	}
	/* what changed until now is the next walk's; events go on */
	dirty_clear(&n->taken);
	n->taken = n->pending;
	memset(&n->pending, 0, sizeof(n->pending));
	n->taken_full = n->full || n->off;
	n->full = 0;
	if (n->taken_full)
		dirty_clear(&n->taken); /* went off during the look */
	return n->taken_full || n->taken.n > 0;
}

const struct rdi_dirty *
rdi_notify_walk_set(const struct rdi_notify *n)
{
	return n->taken_full ? NULL : &n->taken;
}

void
rdi_notify_dirty(struct rdi_notify *n)
{
	all_changed(n);
}

int
rdi_notify_active(const struct rdi_notify *n)
{
	return !n->off;
}

int64_t
rdi_notify_overflows(const struct rdi_notify *n)
{
	return n->overflows;
}

size_t
rdi_notify_watches(const struct rdi_notify *n)
{
	return n->n;
}

void
rdi_notify_free(struct rdi_notify *n)
{
	if (n == NULL)
		return;
	if (n->fd != -1)
		close(n->fd);
	tab_clear(n);
	dirty_clear(&n->pending);
	dirty_clear(&n->taken);
	free(n->xp);
	free(n->xbuf);
	free(n->source);
	free(n);
}
