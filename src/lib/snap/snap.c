/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snap.c: taking a snapshot.
 *
 * The calling thread walks the source depth-first, each directory's names
 * sorted with directories as "name/", which is exactly the byte order of
 * catalog paths.  It merges that walk with the entries of the newest
 * snapshot, read in path order on a second connection, so an unchanged
 * file costs one lstat and no catalog write.  Changed regular files go to
 * a pool of workers; each worker reads a file once, hashing it and
 * storing it full (compressed only where that pays) or as a librsync
 * delta against the stored signature of the previous version, into a
 * pack of its own.  Results come back to the calling thread, the only
 * one that writes the catalog, in one transaction that commits after
 * every pack it refers to is durable.
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

#define SMALL_MAX (1024 * 1024) /* read whole, store full */
#define CHUNK     (256 * 1024)
#define SPLIT_MIN (8 * 1024 * 1024) /* zlib on two threads from here */
#define QUEUE_CAP 256
#define ATTEMPTS  3

/* The newest snapshot's view of one path (a cursor row, or a job's). */
struct prev {
	int64_t id;
	int type;
	unsigned mode;
	int64_t uid, gid, size, mtime, ino, ctime;
	int unstable;
	int has_sha;
	unsigned char sha[RD_HASH_LEN];
	char *target;
};

struct meta {
	unsigned mode;
	int64_t uid, gid, size, mtime, ino, ctime;
};

enum job_status { JOB_OK, JOB_SKIP, JOB_FAIL };

struct job {
	struct job *next;
	char *path; /* catalog path of a file */
	int extra;  /* from the bracket's scratch directory, not the source */
	int may_change; /* read once, stored as read: see rd_snap_opts */
	int has_prev;
	struct prev prev;
	/* signature of the previous content, when a delta may be made */
	int use_sig;
	int maybe_dup; /* a stored content has this size */
	char oldsig_pack[33];
	int64_t oldsig_off;
	int prev_depth;
	/* results */
	enum job_status status;
	struct rd_err err;
	struct meta m; /* as read */
	unsigned char sha[RD_HASH_LEN];
	int64_t bytes_read;
	int unstable;
	int stored; /* a new content object was written */
	int kind, codec, depth;
	unsigned char base[RD_HASH_LEN];
	int64_t pack_id;
	char pack_name[33];
	int64_t off, len;
	int sig_stored;
	int64_t sig_block, sig_off, sig_len;
};

/* A set of SHA-256 values stored by this run (open addressing). */
/*
 * Keys are the first 16 bytes of a SHA-256: two contents of one run that
 * share them are as likely as a SHA-256 collision of 128 bits, and half
 * the key keeps a first snapshot of millions of files small.
 */
#define SET_KEY 16

struct shaset {
	unsigned char *slots; /* cap * SET_KEY, all-zero = empty */
	size_t cap, n;
};

struct packrec {
	int64_t id;
	char name[33];
	int64_t size;
};

/* An exclude pattern, split by split_pattern(). */
struct xpat {
	const char *pat; /* without leading and trailing '/' */
	int anchored;    /* matched against the path, else the name */
	int dir_only;
};

struct ctx {
	struct rd_store *st;
	const struct rd_snap_opts *opts;
	int rootfd;
	int64_t snap_id;
	int chain_max;
	int split; /* zlib: compress a large file on two threads */

	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_main;
	struct job *q_head, *q_tail;
	int q_len;
	struct job *r_head, *r_tail;
	int inflight;
	int stop;
	int64_t next_pack;
	struct packrec *packs; /* finished packs, under mu */
	size_t npacks, cap_packs;
	sqlite3 *ldb; /* dedup look-ups, under mu */
	sqlite3_stmt *lookup;
	struct shaset set;

	/* calling thread only */
	sqlite3 *rdb;
	sqlite3_stmt *cur;
	int cur_valid;
	struct rdi_buf cur_path;
	struct prev cur_prev;
	sqlite3_stmt *ins_entry, *close_entry, *touch_entry, *ins_content,
	    *ins_sig, *ins_pack, *get_sig, *size_seen, *ins_problem;
	/* packs of this run in the catalog: [id - first_pack], 0 or 1 */
	unsigned char *known_packs;
	size_t cap_known;
	int64_t first_pack;
	struct rd_snapinfo info;
	double started;
	double last_progress;
	struct xpat *xp; /* exclude patterns, "nx" of them */
	size_t nx;
	char *xbuf;      /* their text */
	struct xpat *mp; /* may-change patterns, "nm" of them */
	size_t nm;
	char *mbuf;
	dev_t root_dev;
	/* the bracketing co-process (rdsnap create --bracket), or NULL */
	struct rdi_bracket *bk;
	int xfd;             /* its scratch directory, once it is done */
	sqlite3_stmt *xfind; /* what the new snapshot holds at a path */
	int64_t nextra;      /* files it added */
};

struct worker {
	pthread_t thread;
	struct ctx *c;
	int started;
	struct rdi_packw pw;
	int pw_open;
	struct rdi_zenc *zenc;
	struct rdi_packcache *pc;
	unsigned char *buf;    /* SMALL_MAX + 1 */
	struct rdi_buf cbuf;   /* compressed small file */
	struct rdi_buf sigbuf; /* signature being made */
	struct rdi_buf oldsig; /* signature of the previous version */
};

static int64_t
ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static void
meta_from_stat(struct meta *m, const struct stat *sb)
{
	m->mode = sb->st_mode & 07777;
	m->uid = sb->st_uid;
	m->gid = sb->st_gid;
	m->size = sb->st_size;
	m->mtime = ns(&sb->st_mtim);
	m->ino = (int64_t)sb->st_ino;
	m->ctime = ns(&sb->st_ctim);
}

static void notice(struct ctx *c, const char *fmt, ...) RD_PRINTF(2, 3);

static void
notice(struct ctx *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (c->opts->notice == NULL)
		return;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	c->opts->notice(c->opts->notice_arg, msg);
}

/* ------------------------------------------------------------------ */
/* The set of contents stored by this run */

/* Find "key" or the empty slot where it goes. */
static unsigned char *
shaset_slot(const struct shaset *s, const unsigned char *key)
{
	static const unsigned char zero[SET_KEY];
	size_t i, mask = s->cap - 1;
	unsigned char *slot;

	memcpy(&i, key, sizeof(i));
	for (i &= mask;; i = (i + 1) & mask) {
		slot = s->slots + i * SET_KEY;
		if (memcmp(slot, zero, SET_KEY) == 0 ||
		    memcmp(slot, key, SET_KEY) == 0)
			return slot;
	}
}

static int
shaset_add(struct shaset *s, const unsigned char *sha, struct rd_err *err)
{
	static const unsigned char zero[SET_KEY];
	size_t i, ncap;
	unsigned char *slot;
	struct shaset bigger;

	/* at most three quarters full */
	if ((s->n + 1) * 4 > s->cap * 3) {
		ncap = s->cap != 0 ? s->cap * 2 : 1024;
		bigger.slots = calloc(ncap, SET_KEY);
		if (bigger.slots == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		bigger.cap = ncap;
		bigger.n = s->n;
		for (i = 0; i < s->cap; i++) {
			slot = s->slots + i * SET_KEY;
			if (memcmp(slot, zero, SET_KEY) != 0)
				memcpy(shaset_slot(&bigger, slot), slot,
				    SET_KEY);
		}
		free(s->slots);
		*s = bigger;
	}
	slot = shaset_slot(s, sha);
	if (memcmp(slot, zero, SET_KEY) == 0) {
		memcpy(slot, sha, SET_KEY);
		s->n++;
	}
	return 0;
}

static int
shaset_has(const struct shaset *s, const unsigned char *sha)
{
	static const unsigned char zero[SET_KEY];

	return s->cap != 0 && memcmp(shaset_slot(s, sha), zero, SET_KEY) != 0;
}

/*
 * Is "sha" already in the store or claimed by this run?  With "claim",
 * claim it when it is not, so that the caller stores it.  Returns 1 if
 * present, 0 if not (and claimed), -1 on error.
 */
static int
dedup(struct ctx *c, const unsigned char *sha, int claim, struct rd_err *err)
{
	int r;

	pthread_mutex_lock(&c->mu);
	if (shaset_has(&c->set, sha)) {
		r = 1;
		goto out;
	}
	sqlite3_reset(c->lookup);
	sqlite3_bind_blob(c->lookup, 1, sha, RD_HASH_LEN, SQLITE_STATIC);
	r = rdi_db_step(c->ldb, c->lookup, err);
	sqlite3_reset(c->lookup);
	if (r == 0 && claim && shaset_add(&c->set, sha, err) == -1)
		r = -1;
out:
	pthread_mutex_unlock(&c->mu);
	return r;
}

/* ------------------------------------------------------------------ */
/* Workers */

/* Remember a finished pack so that its row gets its final size. */
static int
record_pack(struct ctx *c, const struct rdi_packw *pw, int64_t size,
    struct rd_err *err)
{
	struct packrec *pr;
	int ret = 0;

	pthread_mutex_lock(&c->mu);
	if (c->npacks == c->cap_packs) {
		size_t n = c->cap_packs != 0 ? c->cap_packs * 2 : 16;

		pr = realloc(c->packs, n * sizeof(*pr));
		if (pr == NULL) {
			ret = rd_err_set(err, RD_ENOMEM, "out of memory");
			goto out;
		}
		c->packs = pr;
		c->cap_packs = n;
	}
	pr = &c->packs[c->npacks++];
	pr->id = pw->id;
	memcpy(pr->name, pw->name, sizeof(pr->name));
	pr->size = size;
out:
	pthread_mutex_unlock(&c->mu);
	return ret;
}

/* Make sure the worker has an open pack with room; rotate a full one. */
static int
worker_pack(struct worker *w, struct rd_err *err)
{
	struct ctx *c = w->c;
	int64_t size, id;

	if (w->pw_open && w->pw.off < RDI_PACK_MAX)
		return 0;
	if (w->pw_open) {
		if (rdi_packw_finish(c->st, &w->pw, &size, err) == -1)
			return -1;
		w->pw_open = 0;
		if (record_pack(c, &w->pw, size, err) == -1)
			return -1;
	}
	pthread_mutex_lock(&c->mu);
	id = c->next_pack++;
	pthread_mutex_unlock(&c->mu);
	if (rdi_packw_open(c->st, id, &w->pw, err) == -1)
		return -1;
	w->pw_open = 1;
	return 0;
}

/*
 * Open the file of job "j" for reading, never through a symlink: from the
 * source, or from the bracket's scratch directory, one component at a
 * time.
 */
static int
open_source(struct ctx *c, const struct job *j, struct rd_err *err)
{
	char name[NAME_MAX + 1];
	const char *path = j->path;
	int fd, pfd;

	if (j->extra) {
		pfd = rdi_open_parent(c->xfd, path, name, err);
		if (pfd == -1)
			return -1;
		fd = openat(pfd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		close(pfd);
		if (fd == -1)
			return rd_err_sys(err, RD_EIO, "cannot open '%s'",
			    path);
		return fd;
	}
	fd = openat(c->rootfd, path,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
	        O_NOATIME);
	if (fd == -1 && errno == EPERM)
		fd = openat(c->rootfd, path,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s'", path);
	return fd;
}

static int
same_version(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && ns(&a->st_mtim) == ns(&b->st_mtim) &&
	    ns(&a->st_ctim) == ns(&b->st_ctim);
}

/* Store the bytes in w->buf as a full object; the codec only if it pays. */
static int
store_small(struct worker *w, struct job *j, size_t len, struct rd_err *err)
{
	struct ctx *c = w->c;
	const void *data = w->buf;
	size_t dlen = len;
	int codec = RD_CODEC_RAW;

	w->cbuf.len = 0;
	if (len >= 64) {
		if (rdi_zenc_reset(w->zenc, err) == -1 ||
		    rdi_zenc_write(w->zenc, w->buf, len, rdi_buf_sink, &w->cbuf,
		        err) == -1 ||
		    rdi_zenc_finish(w->zenc, rdi_buf_sink, &w->cbuf, err) == -1)
			return -1;
		if (w->cbuf.len < len - len / 16) {
			codec = c->st->info.codec;
			data = w->cbuf.data;
			dlen = w->cbuf.len;
		}
	}
	if (worker_pack(w, err) == -1 ||
	    rdi_packw_begin(&w->pw, RDI_OBJ_FULL, codec, j->sha, NULL, err) ==
	        -1 ||
	    rdi_packw_sink(&w->pw, data, dlen, err) == -1 ||
	    rdi_packw_end(&w->pw, (int64_t)len, &j->off, &j->len, err) == -1)
		return -1;
	j->stored = 1;
	j->kind = RDI_OBJ_FULL;
	j->codec = codec;
	j->depth = 0;
	j->pack_id = w->pw.id;
	memcpy(j->pack_name, w->pw.name, sizeof(j->pack_name));
	return 0;
}

/*
 * One pass over a large file: hash it, make its new signature, and store
 * it as a delta against "w->oldsig" (when "delta") or full.  When
 * "sums_of" is the stat of this same version, w->sigbuf is already made
 * and is kept if the bytes stored hash to j->sha; the hash is always of
 * the bytes this pass stores.  Leaves the object open in the pack for the
 * caller to end or roll back.  Returns 0, 1 when the bytes are not those
 * the kept signature was made of (the caller starts over), or -1.
 */
static int
stream_big(struct worker *w, struct job *j, int fd, int delta,
    const struct stat *sums_of, struct stat *before, struct stat *after,
    struct rd_err *err)
{
	struct ctx *c = w->c;
	struct rdi_sha256 h = { NULL };
	struct rdi_rsjob *sig = NULL, *dj = NULL;
	struct rdi_zsink zs = { w->zenc, &w->pw };
	unsigned char sha[RD_HASH_LEN];
	int64_t total = 0;
	ssize_t n;
	int first = 1, compress = 1, sums, ret = -1;

	if (fstat(fd, before) == -1) {
		rd_err_sys(err, RD_EIO, "cannot stat '%s'", j->path);
		return -1;
	}
	if (lseek(fd, 0, SEEK_SET) == -1) {
		rd_err_sys(err, RD_EIO, "cannot seek '%s'", j->path);
		return -1;
	}
	sums = sums_of == NULL || !same_version(sums_of, before);
	if (rdi_sha256_init(&h, err) == -1)
		goto out;
	if (sums) {
		w->sigbuf.len = 0;
		j->sig_block = (int64_t)rdi_sig_block_len(before->st_size);
		if (rdi_sig_new((size_t)j->sig_block, &sig, err) == -1)
			goto out;
	}
	if (rdi_zenc_reset(w->zenc, err) == -1)
		goto out;
	if (delta &&
	    rdi_delta_new(w->oldsig.data, w->oldsig.len, &dj, err) == -1)
		goto out;
	if (rdi_packw_begin(&w->pw, delta ? RDI_OBJ_DELTA : RDI_OBJ_FULL,
	        delta ? c->st->info.codec : RD_CODEC_RAW, j->sha,
	        delta ? j->prev.sha : NULL, err) == -1)
		goto out;
	for (;;) {
		n = rdi_read_full(fd, w->buf, CHUNK, j->path, err);
		if (n == -1)
			goto out;
		if (n == 0)
			break;
		total += n;
		if (rdi_sha256_update(&h, w->buf, (size_t)n, err) == -1 ||
		    (sums &&
		        rdi_rsjob_write(sig, w->buf, (size_t)n, rdi_buf_sink,
		            &w->sigbuf, err) == -1))
			goto out;
		if (delta) {
			if (rdi_rsjob_write(dj, w->buf, (size_t)n,
			        rdi_zsink_write, &zs, err) == -1)
				goto out;
			continue;
		}
		if (first) {
			/* does this file compress?  judge by its first chunk */
			w->cbuf.len = 0;
			if (rdi_zenc_write(w->zenc, w->buf, (size_t)n,
			        rdi_buf_sink, &w->cbuf, err) == -1)
				goto out;
			compress = (size_t)n < 4096 ||
			    w->cbuf.len < (size_t)n - (size_t)n / 16 ||
			    w->cbuf.len == 0;
			if (compress && c->split &&
			    before->st_size >= SPLIT_MIN) {
				/* what was judged is compressed again, split */
				w->pw.hdr.codec = c->st->info.codec;
				if (rdi_zenc_split(w->zenc, err) == -1 ||
				    rdi_zenc_write(w->zenc, w->buf, (size_t)n,
				        rdi_packw_sink, &w->pw, err) == -1)
					goto out;
			} else if (compress) {
				w->pw.hdr.codec = c->st->info.codec;
				if (rdi_packw_sink(&w->pw, w->cbuf.data,
				        w->cbuf.len, err) == -1)
					goto out;
			} else if (rdi_packw_sink(&w->pw, w->buf, (size_t)n,
			               err) == -1)
				goto out;
			first = 0;
			continue;
		}
		if (compress) {
			if (rdi_zenc_write(w->zenc, w->buf, (size_t)n,
			        rdi_packw_sink, &w->pw, err) == -1)
				goto out;
		} else if (rdi_packw_sink(&w->pw, w->buf, (size_t)n, err) ==
		    -1) {
			goto out;
		}
	}
	if (delta) {
		if (rdi_rsjob_finish(dj, rdi_zsink_write, &zs, err) == -1 ||
		    rdi_zenc_finish(w->zenc, rdi_packw_sink, &w->pw, err) == -1)
			goto out;
	} else if (first) {
		w->pw.hdr.codec = RD_CODEC_RAW; /* empty now */
	} else if (compress &&
	    rdi_zenc_finish(w->zenc, rdi_packw_sink, &w->pw, err) == -1) {
		goto out;
	}
	if (rdi_sha256_final(&h, sha, err) == -1 ||
	    (sums &&
	        rdi_rsjob_finish(sig, rdi_buf_sink, &w->sigbuf, err) == -1))
		goto out;
	if (!sums && memcmp(sha, j->sha, RD_HASH_LEN) != 0) {
		ret = 1; /* rewritten within one timestamp tick */
		goto out;
	}
	memcpy(j->sha, sha, RD_HASH_LEN);
	memcpy(w->pw.hdr.sha, j->sha, RD_HASH_LEN);
	if (fstat(fd, after) == -1) {
		rd_err_sys(err, RD_EIO, "cannot stat '%s'", j->path);
		goto out;
	}
	if (sums)
		j->bytes_read +=
		    total; /* else counted by the pass that hashed */
	after->st_size = total;
	ret = 0;
out:
	rdi_rsjob_free(dj);
	rdi_rsjob_free(sig);
	rdi_sha256_release(&h);
	return ret;
}

static int
load_oldsig(struct worker *w, struct job *j, struct rd_err *err)
{
	int fd;

	w->oldsig.len = 0;
	fd = rdi_packcache_fd(w->pc, j->oldsig_pack, err);
	if (fd == -1)
		return -1;
	return rdi_obj_read(fd, j->oldsig_pack, j->oldsig_off, j->prev.sha,
	    RDI_OBJ_SIG, rdi_buf_sink, &w->oldsig, NULL, err);
}

/*
 * Hash a whole file without storing it; with "sig" also make its new
 * signature into w->sigbuf.
 */
static int
hash_only(struct worker *w, struct job *j, int fd, struct rdi_rsjob *sig,
    struct rd_err *err)
{
	struct rdi_sha256 h = { NULL };
	ssize_t n;
	int ret = -1;

	if (lseek(fd, 0, SEEK_SET) == -1)
		return rd_err_sys(err, RD_EIO, "cannot seek '%s'", j->path);
	if (rdi_sha256_init(&h, err) == -1)
		return -1;
	for (;;) {
		n = rdi_read_full(fd, w->buf, CHUNK, j->path, err);
		if (n == -1)
			goto out;
		if (n == 0)
			break;
		j->bytes_read += n;
		if (rdi_sha256_update(&h, w->buf, (size_t)n, err) == -1 ||
		    (sig != NULL &&
		        rdi_rsjob_write(sig, w->buf, (size_t)n, rdi_buf_sink,
		            &w->sigbuf, err) == -1))
			goto out;
	}
	if (rdi_sha256_final(&h, j->sha, err) == -1 ||
	    (sig != NULL &&
	        rdi_rsjob_finish(sig, rdi_buf_sink, &w->sigbuf, err) == -1))
		goto out;
	ret = 0;
out:
	rdi_sha256_release(&h);
	return ret;
}

/*
 * The cheap delta, for a file changed in place or appended to: one pass
 * makes its SHA-256 and new signature; when at least half of it is in
 * blocks whose sums equal the old signature's at the same index, the
 * delta is written from the two signatures (rdi_delta_aligned), reading
 * only the other blocks again.  No rolling search, and each block's
 * strong sum is made once.  Returns 1 with the object open in the pack,
 * 0 when the file does not fit, -1.  "*sums" says (in and out) whether
 * j->sha and w->sigbuf hold this file's sums as of the stat "sums_of".
 */
static int
store_aligned(struct worker *w, struct job *j, int fd, struct stat *before,
    struct stat *after, int *sums, struct stat *sums_of, struct rd_err *err)
{
	struct ctx *c = w->c;
	struct rdi_rsjob *sig = NULL;
	struct rdi_sigview ov, nv;
	struct rdi_zsink zs = { w->zenc, &w->pw };
	struct stat again;
	unsigned char sha[RD_HASH_LEN];
	off_t start = w->pw.off;
	int64_t size;
	int ret = -1;

	if (fstat(fd, before) == -1)
		return rd_err_sys(err, RD_EIO, "cannot stat '%s'", j->path);
	if (*sums && same_version(sums_of, before)) {
		*after = *before; /* hashed already, by the copy check */
	} else {
		*sums = 0;
		j->sig_block = (int64_t)rdi_sig_block_len(before->st_size);
		w->sigbuf.len = 0;
		if (rdi_sig_new((size_t)j->sig_block, &sig, err) == -1)
			return -1;
		if (hash_only(w, j, fd, sig, err) == -1)
			goto out;
		if (fstat(fd, after) == -1) {
			rd_err_sys(err, RD_EIO, "cannot stat '%s'", j->path);
			goto out;
		}
	}
	ret = 0;
	if (!same_version(before, after))
		goto out;
	*sums = 1;
	*sums_of = *before;
	size = before->st_size;
	if (rdi_sig_view(w->oldsig.data, w->oldsig.len, &ov, err) == -1 ||
	    rdi_sig_view(w->sigbuf.data, w->sigbuf.len, &nv, err) == -1) {
		/* an unreadable old signature: the rolling delta says more */
		rd_err_clear(err);
		goto out;
	}
	if (size - rdi_sig_aligned_copy(&ov, &nv) > size / 2)
		goto out;
	ret = -1;
	if (rdi_zenc_reset(w->zenc, err) == -1 ||
	    rdi_packw_begin(&w->pw, RDI_OBJ_DELTA, c->st->info.codec, j->sha,
	        j->prev.sha, err) == -1 ||
	    rdi_delta_aligned(&ov, &nv, fd, size, sha, rdi_zsink_write, &zs,
	        err) == -1 ||
	    rdi_zenc_finish(w->zenc, rdi_packw_sink, &w->pw, err) == -1)
		goto out;
	if (fstat(fd, &again) == -1) {
		rd_err_sys(err, RD_EIO, "cannot stat '%s'", j->path);
		goto out;
	}
	if (!same_version(before, &again) ||
	    memcmp(sha, j->sha, RD_HASH_LEN) != 0) {
		/*
		 * changed between the passes, perhaps within one timestamp
		 * tick: start over
		 */
		*sums = 0;
		ret = rdi_packw_rollback(&w->pw, start, err) == -1 ? -1 : 0;
		goto out;
	}
	ret = 1;
out:
	rdi_rsjob_free(sig);
	return ret;
}

static int
process_big(struct worker *w, struct job *j, int fd, struct rd_err *err)
{
	struct ctx *c = w->c;
	struct stat before, after, sums_of;
	struct rdi_rsjob *sig = NULL;
	off_t start;
	int delta, aligned, sums = 0, attempt, r;
	int64_t off, len;

	delta = j->use_sig && j->prev_depth + 1 <= c->chain_max;
	if (delta && load_oldsig(w, j, err) == -1) {
		/* an unreadable signature only costs a full copy */
		delta = 0;
		rd_err_clear(err);
	}
	aligned = delta;
	if (j->maybe_dup) {
		/* a new path may be a copy or a rename: look before storing */
		if (fstat(fd, &before) == -1)
			return rd_err_sys(err, RD_EIO, "cannot stat '%s'",
			    j->path);
		j->sig_block = (int64_t)rdi_sig_block_len(before.st_size);
		w->sigbuf.len = 0;
		if (rdi_sig_new((size_t)j->sig_block, &sig, err) == -1)
			return -1;
		r = hash_only(w, j, fd, sig, err);
		rdi_rsjob_free(sig);
		if (r == -1)
			return -1;
		if (fstat(fd, &after) == -1)
			return rd_err_sys(err, RD_EIO, "cannot stat '%s'",
			    j->path);
		if (same_version(&before, &after)) {
			sums = 1;
			sums_of = before;
			r = dedup(c, j->sha, 0, err);
			if (r == -1)
				return -1;
			if (r == 1) {
				meta_from_stat(&j->m, &after);
				return 0;
			}
		}
	}
	for (attempt = 1;; attempt++) {
		if (worker_pack(w, err) == -1)
			return -1;
		start = w->pw.off;
		r = 0;
		if (aligned) {
			aligned = 0; /* once: a retry takes the rolling delta */
			r = store_aligned(w, j, fd, &before, &after, &sums,
			    &sums_of, err);
			if (r == -1)
				return -1;
		}
		if (r == 0) {
			r = stream_big(w, j, fd, delta, sums ? &sums_of : NULL,
			    &before, &after, err);
			if (r == -1)
				return -1;
			if (r == 1) {
				/* the kept sums are stale: one pass makes all */
				sums = 0;
				if (rdi_packw_rollback(&w->pw, start, err) ==
				    -1)
					return -1;
				attempt--;
				continue;
			}
		}
		if (!same_version(&before, &after) && attempt < ATTEMPTS &&
		    !j->may_change) {
			if (rdi_packw_rollback(&w->pw, start, err) == -1)
				return -1;
			continue;
		}
		j->unstable = !same_version(&before, &after) && !j->may_change;
		if (delta &&
		    w->pw.off - start - RDI_OBJ_HDR > after.st_size / 2) {
			/* the delta does not pay: store the file whole */
			if (rdi_packw_rollback(&w->pw, start, err) == -1)
				return -1;
			delta = 0;
			attempt--;
			continue;
		}
		break;
	}
	meta_from_stat(&j->m, &after);
	r = dedup(c, j->sha, 1, err);
	if (r == -1)
		return -1;
	if (r == 1)
		return rdi_packw_rollback(&w->pw, start, err);
	if (rdi_packw_end(&w->pw, after.st_size, &off, &len, err) == -1)
		return -1;
	j->stored = 1;
	j->off = off;
	j->len = len;
	j->kind = w->pw.hdr.kind;
	j->codec = w->pw.hdr.codec;
	j->depth = delta ? j->prev_depth + 1 : 0;
	if (delta)
		memcpy(j->base, j->prev.sha, RD_HASH_LEN);
	j->pack_id = w->pw.id;
	memcpy(j->pack_name, w->pw.name, sizeof(j->pack_name));
	if (rdi_packw_begin(&w->pw, RDI_OBJ_SIG, RD_CODEC_RAW, j->sha, NULL,
	        err) == -1 ||
	    rdi_packw_sink(&w->pw, w->sigbuf.data, w->sigbuf.len, err) == -1 ||
	    rdi_packw_end(&w->pw, (int64_t)w->sigbuf.len, &j->sig_off,
	        &j->sig_len, err) == -1)
		return -1;
	j->sig_stored = 1;
	return 0;
}

static int
process_file(struct worker *w, struct job *j, struct rd_err *err)
{
	struct ctx *c = w->c;
	struct stat before, after;
	ssize_t n = 0;
	int fd, attempt, r, ret = -1;

	fd = open_source(c, j, err);
	if (fd == -1) {
		j->status = JOB_SKIP;
		return 0;
	}
	for (attempt = 1; attempt <= ATTEMPTS; attempt++) {
		if (fstat(fd, &before) == -1) {
			rd_err_sys(err, RD_EIO, "cannot stat '%s'", j->path);
			goto out;
		}
		if (!S_ISREG(before.st_mode)) {
			rd_err_set(err, RD_EIO,
			    "'%s' is no longer a regular file", j->path);
			j->status = JOB_SKIP;
			ret = 0;
			goto out;
		}
		if (before.st_size > SMALL_MAX)
			break;
		if (lseek(fd, 0, SEEK_SET) == -1) {
			rd_err_sys(err, RD_EIO, "cannot seek '%s'", j->path);
			goto out;
		}
		n = rdi_read_full(fd, w->buf, SMALL_MAX + 1, j->path, err);
		if (n == -1)
			goto out;
		j->bytes_read += n;
		if (fstat(fd, &after) == -1) {
			rd_err_sys(err, RD_EIO, "cannot stat '%s'", j->path);
			goto out;
		}
		if (n > SMALL_MAX)
			break; /* it grew: take the streaming path */
		after.st_size = n;
		if ((same_version(&before, &after) && n == before.st_size) ||
		    j->may_change)
			break;
	}
	if (before.st_size > SMALL_MAX || n > SMALL_MAX) {
		if (process_big(w, j, fd, err) == -1)
			goto out;
		ret = 0;
		goto out;
	}
	j->unstable = attempt > ATTEMPTS && !j->may_change;
	meta_from_stat(&j->m, &after);
	if (rd_sha256_buf(w->buf, (size_t)n, j->sha, err) == -1)
		goto out;
	r = dedup(c, j->sha, 1, err);
	if (r == -1)
		goto out;
	if (r == 0 && store_small(w, j, (size_t)n, err) == -1)
		goto out;
	ret = 0;
out:
	close(fd);
	return ret;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct ctx *c = w->c;
	struct job *j;

	for (;;) {
		pthread_mutex_lock(&c->mu);
		while (c->q_head == NULL && !c->stop)
			pthread_cond_wait(&c->cv_job, &c->mu);
		if (c->q_head == NULL) {
			pthread_mutex_unlock(&c->mu);
			break;
		}
		j = c->q_head;
		c->q_head = j->next;
		if (c->q_head == NULL)
			c->q_tail = NULL;
		c->q_len--;
		pthread_cond_signal(&c->cv_main);
		pthread_mutex_unlock(&c->mu);

		j->next = NULL;
		j->status = JOB_OK;
		if (process_file(w, j, &j->err) == -1)
			j->status = JOB_FAIL;

		pthread_mutex_lock(&c->mu);
		if (c->r_tail != NULL)
			c->r_tail->next = j;
		else
			c->r_head = j;
		c->r_tail = j;
		pthread_cond_signal(&c->cv_main);
		pthread_mutex_unlock(&c->mu);
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Catalog writes (calling thread) */

static int cursor_next(struct ctx *c, struct rd_err *err);
static int matches(const struct xpat *xp, size_t nx, const char *name,
    const char *path, int isdir);
static int cursor_seek(struct ctx *c, const char *key, size_t klen,
    struct prev *out, struct rd_err *err);

static void
prev_release(struct prev *p)
{
	free(p->target);
	p->target = NULL;
}

static void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->path);
	prev_release(&j->prev);
	free(j);
}

/* End entry row "id" at the previous snapshot; "gone": the path is. */
static int
close_entry(struct ctx *c, int64_t id, int gone, struct rd_err *err)
{
	sqlite3_reset(c->close_entry);
	sqlite3_bind_int64(c->close_entry, 1, c->snap_id - 1);
	sqlite3_bind_int64(c->close_entry, 2, id);
	if (rdi_db_step(c->st->db, c->close_entry, err) == -1)
		return -1;
	if (gone)
		c->info.removed++;
	return 0;
}

static int
insert_entry(struct ctx *c, const char *path, size_t plen, int type,
    const struct meta *m, const unsigned char *sha, const char *target,
    int unstable, struct rd_err *err)
{
	sqlite3_stmt *s = c->ins_entry;

	sqlite3_reset(s);
	sqlite3_bind_blob(s, 1, path, (int)plen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, c->snap_id);
	sqlite3_bind_int(s, 3, type);
	sqlite3_bind_int(s, 4, (int)m->mode);
	sqlite3_bind_int64(s, 5, m->uid);
	sqlite3_bind_int64(s, 6, m->gid);
	sqlite3_bind_int64(s, 7, m->size);
	sqlite3_bind_int64(s, 8, m->mtime);
	if (sha != NULL)
		sqlite3_bind_blob(s, 9, sha, RD_HASH_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 9);
	if (target != NULL)
		sqlite3_bind_blob(s, 10, target, (int)strlen(target),
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 10);
	sqlite3_bind_int64(s, 11, m->ino);
	sqlite3_bind_int64(s, 12, m->ctime);
	sqlite3_bind_int(s, 13, unstable);
	if (rdi_db_step(c->st->db, s, err) == -1)
		return -1;
	c->info.changed++;
	return 0;
}

static int
register_pack(struct ctx *c, int64_t id, const char *name, struct rd_err *err)
{
	/* this run's pack ids are allocated in order from first_pack */
	size_t i = (size_t)(id - c->first_pack), n;
	unsigned char *k;

	if (id < c->first_pack)
		return rd_err_set(err, RD_EINTERNAL,
		    "pack %lld is not of this run", (long long)id);
	if (i < c->cap_known && c->known_packs[i])
		return 0;
	if (i >= c->cap_known) {
		n = c->cap_known != 0 ? c->cap_known : 64;
		while (n <= i)
			n *= 2;
		k = realloc(c->known_packs, n);
		if (k == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		memset(k + c->cap_known, 0, n - c->cap_known);
		c->known_packs = k;
		c->cap_known = n;
	}
	c->known_packs[i] = 1;
	sqlite3_reset(c->ins_pack);
	sqlite3_bind_int64(c->ins_pack, 1, id);
	sqlite3_bind_text(c->ins_pack, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(c->ins_pack, 3, 0);
	return rdi_db_step(c->st->db, c->ins_pack, err) == -1 ? -1 : 0;
}

static int
meta_equal(const struct prev *p, const struct meta *m)
{
	return p->mode == m->mode && p->uid == m->uid && p->gid == m->gid &&
	    p->size == m->size && p->mtime == m->mtime;
}

/* An entry of the newest snapshot stays in the new one as it was. */
static void
count_kept(struct ctx *c, const struct prev *p)
{
	c->info.files++;
	if (p->type == RD_TYPE_FILE && p->size > 0)
		c->info.bytes += p->size;
}

static int
record_problem(struct ctx *c, const char *key, size_t klen, const char *kind,
    const char *reason, struct rd_err *err)
{
	sqlite3_stmt *s = c->ins_problem;

	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, c->snap_id);
	sqlite3_bind_blob(s, 2, key, (int)klen, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, reason, -1, SQLITE_TRANSIENT);
	return rdi_db_step(c->st->db, s, err) == -1 ? -1 : 0;
}

/*
 * The path "key" exists but could not be read: whatever the newest
 * snapshot held of it stays current ("what" says what that is), and the
 * snapshot is partial.  The caller has moved the cursor past it.
 */
static int
problem(struct ctx *c, const char *key, size_t klen, const char *what,
    const char *reason, struct rd_err *err)
{
	notice(c, "'%.*s' could not be read (%s): %s", (int)klen, key, reason,
	    what);
	c->info.partial++;
	return record_problem(c, key, klen, "unreadable", reason, err);
}

#define KEPT    "kept its previous version"
#define MISSING "not in this snapshot"

/*
 * Move the cursor past every entry below the directory "key" (which ends
 * in '/') without closing them: they stay in the new snapshot as they
 * were.  "*what" says whether there were any.
 */
static int
keep_below(struct ctx *c, const char *key, size_t klen, const char **what,
    struct rd_err *err)
{
	*what = "its contents are " MISSING;
	while (c->cur_valid && c->cur_path.len > klen &&
	    memcmp(c->cur_path.data, key, klen) == 0) {
		*what = "kept the previous version of its contents";
		count_kept(c, &c->cur_prev);
		if (cursor_next(c, err) == -1)
			return -1;
	}
	return 0;
}

/*
 * The walk could not read "key" (a directory when "isdir", its key then
 * ending in '/'): keep its previous version and all below it, and say so.
 */
static int
unreadable(struct ctx *c, const char *key, size_t klen, int isdir,
    const char *reason, struct rd_err *err)
{
	struct prev p;
	const char *below;
	int had;

	memset(&p, 0, sizeof(p));
	had = cursor_seek(c, key, klen, &p, err);
	if (had == -1)
		return -1;
	if (had)
		count_kept(c, &p);
	prev_release(&p);
	if (isdir && keep_below(c, key, klen, &below, err) == -1)
		return -1;
	return problem(c, key, klen, had ? KEPT : MISSING, reason, err);
}

/* Record a worker's result in the catalog. */
static int
finish_job(struct ctx *c, struct job *j, struct rd_err *err)
{
	sqlite3_stmt *s;

	if (j->status == JOB_FAIL) {
		*err = j->err;
		return -1;
	}
	if (j->extra && j->status == JOB_SKIP)
		return rd_err_set(err, RD_ECORRUPT,
		    "bracket file '%s' could not be read: %s", j->path,
		    j->err.sys_errno != 0 ? strerror(j->err.sys_errno)
		                          : "it changed type");
	if (j->extra && j->unstable)
		return rd_err_set(err, RD_ECORRUPT,
		    "bracket file '%s' kept changing while it was read",
		    j->path);
	c->info.bytes_read += j->bytes_read;
	if (j->status == JOB_SKIP && j->err.sys_errno == ENOENT) {
		/* removed since the walk saw it */
		if (j->has_prev)
			return close_entry(c, j->prev.id, 1, err);
		return 0;
	}
	if (j->status == JOB_SKIP && j->has_prev)
		count_kept(c, &j->prev);
	if (j->status == JOB_SKIP)
		return problem(c, j->path, strlen(j->path),
		    j->has_prev ? KEPT : MISSING,
		    j->err.sys_errno != 0 ? strerror(j->err.sys_errno)
		                          : "changed type while it was read",
		    err);
	if (j->unstable) {
		notice(c,
		    "'%s' kept changing while it was read; stored as last read",
		    j->path);
		c->info.inconsistent++;
		if (record_problem(c, j->path, strlen(j->path), "changing",
		        "kept changing while it was read", err) == -1)
			return -1;
	}
	c->info.files++;
	c->info.bytes += j->m.size;
	if (j->stored) {
		if (register_pack(c, j->pack_id, j->pack_name, err) == -1)
			return -1;
		s = c->ins_content;
		sqlite3_reset(s);
		sqlite3_bind_blob(s, 1, j->sha, RD_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, j->m.size);
		sqlite3_bind_int(s, 3, j->kind);
		sqlite3_bind_int(s, 4, j->codec);
		if (j->kind == RDI_OBJ_DELTA)
			sqlite3_bind_blob(s, 5, j->base, RD_HASH_LEN,
			    SQLITE_STATIC);
		else
			sqlite3_bind_null(s, 5);
		sqlite3_bind_int(s, 6, j->depth);
		sqlite3_bind_int64(s, 7, j->pack_id);
		sqlite3_bind_int64(s, 8, j->off);
		sqlite3_bind_int64(s, 9, j->len);
		if (rdi_db_step(c->st->db, s, err) == -1)
			return -1;
		c->info.bytes_added += j->m.size;
		c->info.stored += j->len + RDI_OBJ_HDR;
	}
	if (j->sig_stored) {
		s = c->ins_sig;
		sqlite3_reset(s);
		sqlite3_bind_blob(s, 1, j->sha, RD_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, j->sig_block);
		sqlite3_bind_int64(s, 3, j->pack_id);
		sqlite3_bind_int64(s, 4, j->sig_off);
		sqlite3_bind_int64(s, 5, j->sig_len);
		if (rdi_db_step(c->st->db, s, err) == -1)
			return -1;
		c->info.stored += j->sig_len + RDI_OBJ_HDR;
	}
	if (j->has_prev && j->prev.type == RD_TYPE_FILE && j->prev.has_sha &&
	    memcmp(j->prev.sha, j->sha, RD_HASH_LEN) == 0 &&
	    meta_equal(&j->prev, &j->m)) {
		/* same version: only refresh the quick-check fields */
		s = c->touch_entry;
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, j->m.ino);
		sqlite3_bind_int64(s, 2, j->m.ctime);
		sqlite3_bind_int(s, 3, j->unstable);
		sqlite3_bind_int64(s, 4, j->prev.id);
		return rdi_db_step(c->st->db, s, err) == -1 ? -1 : 0;
	}
	if (j->has_prev && close_entry(c, j->prev.id, 0, err) == -1)
		return -1;
	return insert_entry(c, j->path, strlen(j->path), RD_TYPE_FILE, &j->m,
	    j->sha, NULL, j->unstable, err);
}

/* Take finished jobs and record them.  Called with c->mu unlocked. */
static int
drain(struct ctx *c, struct rd_err *err)
{
	struct job *list, *j;
	int ret = 0;

	pthread_mutex_lock(&c->mu);
	list = c->r_head;
	c->r_head = c->r_tail = NULL;
	pthread_mutex_unlock(&c->mu);
	while ((j = list) != NULL) {
		list = j->next;
		if (ret == 0 && finish_job(c, j, err) == -1)
			ret = -1;
		pthread_mutex_lock(&c->mu);
		c->inflight--;
		pthread_mutex_unlock(&c->mu);
		job_free(j);
	}
	return ret;
}

static void
progress(struct ctx *c)
{
	double now;

	if (c->opts->progress == NULL)
		return;
	now = rd_monotonic();
	if (now - c->last_progress < 0.1)
		return;
	c->last_progress = now;
	c->opts->progress(c->opts->progress_arg, c->info.files, c->info.bytes);
}

static int
submit(struct ctx *c, struct job *j, struct rd_err *err)
{
	pthread_mutex_lock(&c->mu);
	while (c->q_len >= QUEUE_CAP) {
		if (c->r_head != NULL) {
			pthread_mutex_unlock(&c->mu);
			if (drain(c, err) == -1) {
				job_free(j);
				return -1;
			}
			pthread_mutex_lock(&c->mu);
			continue;
		}
		pthread_cond_wait(&c->cv_main, &c->mu);
	}
	if (c->q_tail != NULL)
		c->q_tail->next = j;
	else
		c->q_head = j;
	c->q_tail = j;
	c->q_len++;
	c->inflight++;
	pthread_cond_signal(&c->cv_job);
	pthread_mutex_unlock(&c->mu);
	progress(c);
	/* drain() takes what is there under the lock; an empty list is fine */
	return drain(c, err);
}

static int
wait_all(struct ctx *c, struct rd_err *err)
{
	int ret = 0;

	pthread_mutex_lock(&c->mu);
	while (c->inflight > 0) {
		if (c->r_head != NULL) {
			pthread_mutex_unlock(&c->mu);
			if (drain(c, err) == -1)
				ret = -1;
			pthread_mutex_lock(&c->mu);
			continue;
		}
		pthread_cond_wait(&c->cv_main, &c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return ret;
}

/* ------------------------------------------------------------------ */
/* The walk, merged with the newest snapshot's entries */

static int
cursor_next(struct ctx *c, struct rd_err *err)
{
	sqlite3_stmt *s = c->cur;
	struct prev *p = &c->cur_prev;
	const void *blob;
	int r, n;

	prev_release(p);
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
	return 1;
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
static int
cursor_seek(struct ctx *c, const char *key, size_t klen, struct prev *out,
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
			return cursor_next(c, err) == -1 ? -1 : 1;
		}
		if (close_entry(c, c->cur_prev.id, 1, err) == -1 ||
		    cursor_next(c, err) == -1)
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

	sqlite3_reset(s);
	sqlite3_bind_blob(s, 1, j->prev.sha, RD_HASH_LEN, SQLITE_STATIC);
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

static int
do_file(struct ctx *c, const char *key, size_t klen, const struct stat *sb,
    struct prev *p, int has_prev, struct rd_err *err)
{
	struct job *j;
	struct meta m;

	meta_from_stat(&m, sb);
	if (has_prev && p->type == RD_TYPE_FILE && !c->opts->checksum &&
	    !p->unstable && p->size == m.size && p->mtime == m.mtime &&
	    p->ino == m.ino && p->ctime == m.ctime) {
		c->info.files++;
		c->info.bytes += m.size;
		prev_release(p);
		progress(c);
		return 0;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	j->path = strndup(key, klen);
	if (j->path == NULL) {
		free(j);
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	}
	if (c->nm > 0) {
		const char *slash = strrchr(j->path, '/');

		j->may_change = matches(c->mp, c->nm,
		    slash != NULL ? slash + 1 : j->path, j->path, 0);
	}
	if (has_prev) {
		j->has_prev = 1;
		j->prev = *p;
		p->target = NULL;
		if (p->type == RD_TYPE_FILE && p->has_sha &&
		    m.size > SMALL_MAX && find_sig(c, j, err) == -1) {
			job_free(j);
			return -1;
		}
	}
	if (m.size > SMALL_MAX && (!has_prev || p->type != RD_TYPE_FILE)) {
		sqlite3_reset(c->size_seen);
		sqlite3_bind_int64(c->size_seen, 1, m.size);
		j->maybe_dup = rdi_db_step(c->st->db, c->size_seen, err);
		if (j->maybe_dup == -1) {
			job_free(j);
			return -1;
		}
	}
	return submit(c, j, err);
}

static int
do_entry(struct ctx *c, int dfd, const char *name, const char *key, size_t klen,
    const struct stat *sb, struct rd_err *err)
{
	struct prev p;
	struct meta m;
	char target[4097];
	ssize_t n;
	int has_prev, type;

	memset(&p, 0, sizeof(p));
	has_prev = cursor_seek(c, key, klen, &p, err);
	if (has_prev == -1)
		return -1;
	if (S_ISREG(sb->st_mode))
		return do_file(c, key, klen, sb, &p, has_prev, err);
	meta_from_stat(&m, sb);
	m.ino = m.ctime = 0;
	if (S_ISDIR(sb->st_mode)) {
		type = RD_TYPE_DIR;
		m.size = 0;
		target[0] = '\0';
	} else if (S_ISLNK(sb->st_mode)) {
		type = RD_TYPE_SYMLINK;
		n = readlinkat(dfd, name, target, sizeof(target) - 1);
		if (n == -1 && errno == ENOENT)
			goto gone;
		if (n == -1 || n == sizeof(target) - 1) {
			if (has_prev)
				count_kept(c, &p);
			prev_release(&p);
			return problem(c, key, klen, has_prev ? KEPT : MISSING,
			    n == -1 ? strerror(errno) : "link target too long",
			    err);
		}
		target[n] = '\0';
		m.size = n;
	} else {
		notice(c, "skipped '%.*s': %s", (int)klen, key,
		    S_ISSOCK(sb->st_mode)       ? "socket"
		        : S_ISFIFO(sb->st_mode) ? "fifo"
		                                : "device");
		c->info.skipped++;
		goto gone;
	}
	c->info.files++;
	if (has_prev && p.type == type && meta_equal(&p, &m) &&
	    (type != RD_TYPE_SYMLINK ||
	        (p.target != NULL && strcmp(p.target, target) == 0))) {
		prev_release(&p);
		return 0;
	}
	if (has_prev && close_entry(c, p.id, 0, err) == -1) {
		prev_release(&p);
		return -1;
	}
	prev_release(&p);
	return insert_entry(c, key, klen, type, &m, NULL,
	    type == RD_TYPE_SYMLINK ? target : NULL, 0, err);
gone:
	if (has_prev && close_entry(c, p.id, 1, err) == -1) {
		prev_release(&p);
		return -1;
	}
	prev_release(&p);
	return 0;
}

/*
 * Split the exclude pattern "pat": "*body" and "*len" get what is left
 * without its leading and trailing '/'; "*anchored" is set when it has a
 * '/' (it then matches the path from the source, else a name) and
 * "*dir_only" when it ends in one.  Returns 0, or -1 with RD_EUSAGE when
 * nothing is left.
 */
static int
split_pattern(const char *pat, const char **body, size_t *len, int *anchored,
    int *dir_only, struct rd_err *err)
{
	const char *p = pat;
	size_t n;

	*anchored = 0;
	while (*p == '/') {
		p++;
		*anchored = 1;
	}
	n = strlen(p);
	*dir_only = n > 0 && p[n - 1] == '/';
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n == 0)
		return rd_err_set(err, RD_EUSAGE,
		    "invalid exclude pattern '%s': it matches nothing", pat);
	if (memchr(p, '/', n) != NULL)
		*anchored = 1;
	*body = p;
	*len = n;
	return 0;
}

int
rd_snap_exclude_check(const char *pattern, struct rd_err *err)
{
	const char *body;
	size_t len;
	int anchored, dir_only;

	return split_pattern(pattern, &body, &len, &anchored, &dir_only, err);
}

/*
 * Split the "n" patterns "pats" into "*xp" and their text into "*buf"
 * (both to be freed), once; "*nx" gets their number.
 */
static int
compile_patterns(const char *const *pats, int n, struct xpat **xp, char **buf,
    size_t *nx, struct rd_err *err)
{
	const char *body;
	size_t total = 0, len, off = 0;
	int i, anchored, dir_only;

	if (n <= 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (split_pattern(pats[i], &body, &len, &anchored, &dir_only,
		        err) == -1)
			return -1;
		total += len + 1;
	}
	*xp = calloc((size_t)n, sizeof(**xp));
	*buf = malloc(total);
	if (*xp == NULL || *buf == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (split_pattern(pats[i], &body, &len, &anchored, &dir_only,
		        err) == -1)
			return -1;
		memcpy(*buf + off, body, len);
		(*buf)[off + len] = '\0';
		(*xp)[i].pat = *buf + off;
		(*xp)[i].anchored = anchored;
		(*xp)[i].dir_only = dir_only;
		off += len + 1;
	}
	*nx = (size_t)n;
	return 0;
}

/* Split the run's exclude and may-change patterns, once. */
static int
compile_excludes(struct ctx *c, struct rd_err *err)
{
	const struct rd_snap_opts *o = c->opts;

	if (compile_patterns(o->excludes, o->nexcludes, &c->xp, &c->xbuf,
	        &c->nx, err) == -1)
		return -1;
	return compile_patterns(o->may_change, o->nmay_change, &c->mp, &c->mbuf,
	    &c->nm, err);
}

/*
 * 1 if the entry "name", at "path" relative to the source (without a
 * trailing '/'), matches one of the "nx" patterns "xp", else 0.
 */
static int
matches(const struct xpat *xp, size_t nx, const char *name, const char *path,
    int isdir)
{
	const struct xpat *x;
	size_t i;

	for (i = 0; i < nx; i++) {
		x = &xp[i];
		if (x->dir_only && !isdir)
			continue;
		if (x->anchored ? fnmatch(x->pat, path, FNM_PATHNAME) == 0
		                : fnmatch(x->pat, name, 0) == 0)
			return 1;
	}
	return 0;
}

/* Whether the entry "name" at "path" matches an exclude pattern. */
static int
excluded(const struct ctx *c, const char *name, const char *path, int isdir)
{
	return matches(c->xp, c->nx, name, path, isdir);
}

struct dent {
	char *name;
	int isdir;
};

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

/* Read and sort the names of directory "dfd". */
static int
read_names(int dfd, const char *what, struct dent **out, size_t *nout,
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
	while (n > 0)
		free(v[--n].name);
	free(v);
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
	return unreadable(c, (const char *)path->data, path->len, isdir, why,
	    err);
}

static int
walk(struct ctx *c, int dfd, struct rdi_buf *path, struct rd_err *err)
{
	struct dent *v = NULL;
	size_t n = 0, i, base = path->len, nlen;
	struct stat sb;
	char reason[256];
	const char *what;
	int cfd, ret = -1;

	if (rdi_buf_append(path, "", 1, err) == -1)
		return -1;
	path->len--;
	if (read_names(dfd, base > 0 ? (const char *)path->data : ".", &v, &n,
	        err) == -1) {
		if (base == 0 || err->code == RD_ENOMEM)
			return -1;
		/* keep what the newest snapshot has below it */
		snprintf(reason, sizeof(reason), "%s",
		    err->sys_errno != 0 ? strerror(err->sys_errno) : err->msg);
		rd_err_clear(err);
		return keep_below(c, (const char *)path->data, base, &what,
		           err) == -1 ||
		        problem(c, (const char *)path->data, base, what, reason,
		            err) == -1
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
		    excluded(c, v[i].name, (const char *)path->data,
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
		        path->len, &sb, err) == -1)
			goto out;
		if (!v[i].isdir)
			continue;
		/* a mount point is recorded, but not what is mounted there */
		if (c->opts->one_file_system && sb.st_dev != c->root_dev)
			continue;
		cfd = openat(dfd, v[i].name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd == -1 && errno == ENOENT)
			continue; /* gone since the stat: the cursor says so */
		if (cfd == -1) {
			/* the directory's own row is made; keep what is below */
			snprintf(reason, sizeof(reason), "%s", strerror(errno));
			if (keep_below(c, (const char *)path->data, path->len,
			        &what, err) == -1 ||
			    problem(c, (const char *)path->data, path->len,
			        what, reason, err) == -1)
				goto out;
			continue;
		}
		if (walk(c, cfd, path, err) == -1) {
			close(cfd);
			goto out;
		}
		close(cfd);
	}
	ret = 0;
out:
	path->len = base;
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return ret;
}

/* ------------------------------------------------------------------ */

static const char sql_cursor[] =
    "SELECT id, path, type, mode, uid, gid, size, mtime, sha, target, ino,"
    " ctime, unstable FROM entries WHERE last IS NULL ORDER BY path";

static int
prepare_all(struct ctx *c, struct rd_err *err)
{
	sqlite3 *db = c->st->db;

	if (rdi_db_prepare(db,
	        "INSERT INTO entries(path, first, type, mode,"
	        " uid, gid, size, mtime, sha, target, ino, ctime, unstable)"
	        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &c->ins_entry, err) == -1 ||
	    rdi_db_prepare(db, "UPDATE entries SET last = ? WHERE id = ?",
	        &c->close_entry, err) == -1 ||
	    rdi_db_prepare(db,
	        "UPDATE entries SET ino = ?, ctime = ?,"
	        " unstable = ? WHERE id = ?",
	        &c->touch_entry, err) == -1 ||
	    rdi_db_prepare(db,
	        "INSERT OR IGNORE INTO contents(sha, size,"
	        " kind, codec, base, depth, pack, off, len)"
	        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &c->ins_content, err) == -1 ||
	    rdi_db_prepare(db,
	        "INSERT OR IGNORE INTO signatures(sha, block,"
	        " pack, off, len) VALUES (?, ?, ?, ?, ?)",
	        &c->ins_sig, err) == -1 ||
	    rdi_db_prepare(db,
	        "INSERT INTO packs(id, name, size)"
	        " VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
	        " size = excluded.size",
	        &c->ins_pack, err) == -1 ||
	    rdi_db_prepare(db,
	        "SELECT p.name, s.off, c.depth FROM signatures s"
	        " JOIN packs p ON p.id = s.pack JOIN contents c ON"
	        " c.sha = s.sha WHERE s.sha = ?",
	        &c->get_sig, err) == -1 ||
	    rdi_db_prepare(db, "SELECT 1 FROM contents WHERE size = ? LIMIT 1",
	        &c->size_seen, err) == -1 ||
	    rdi_db_prepare(db,
	        "INSERT OR REPLACE INTO snapshot_problems(snapshot, path,"
	        " problem, reason) VALUES (?, ?, ?, ?)",
	        &c->ins_problem, err) == -1)
		return -1;
	if (rdi_db_open(c->st, 1, &c->rdb, err) == -1 ||
	    rdi_db_prepare(c->rdb, sql_cursor, &c->cur, err) == -1)
		return -1;
	if (rdi_db_open(c->st, 1, &c->ldb, err) == -1 ||
	    rdi_db_prepare(c->ldb, "SELECT 1 FROM contents WHERE sha = ?",
	        &c->lookup, err) == -1)
		return -1;
	return 0;
}

static void
finalize_all(struct ctx *c)
{
	sqlite3_finalize(c->ins_entry);
	sqlite3_finalize(c->close_entry);
	sqlite3_finalize(c->touch_entry);
	sqlite3_finalize(c->ins_content);
	sqlite3_finalize(c->ins_sig);
	sqlite3_finalize(c->ins_pack);
	sqlite3_finalize(c->get_sig);
	sqlite3_finalize(c->size_seen);
	sqlite3_finalize(c->cur);
	sqlite3_finalize(c->lookup);
	sqlite3_finalize(c->xfind);
	sqlite3_finalize(c->ins_problem);
	if (c->rdb != NULL)
		sqlite3_close(c->rdb);
	if (c->ldb != NULL)
		sqlite3_close(c->ldb);
}

static int
new_pending(struct ctx *c, const char *source, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int ret = -1;

	if (rdi_db_prepare(c->st->db,
	        "INSERT INTO snapshots(state, started,"
	        " label, source) VALUES ('pending', ?, ?, ?)",
	        &s, err) == -1)
		return -1;
	c->started = rd_now();
	sqlite3_bind_double(s, 1, c->started);
	if (c->opts->label != NULL)
		sqlite3_bind_text(s, 2, c->opts->label, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, source, -1, SQLITE_STATIC);
	if (rdi_db_step(c->st->db, s, err) == -1)
		goto out;
	c->snap_id = sqlite3_last_insert_rowid(c->st->db);
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

static int
complete(struct ctx *c, double seconds, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int ret = -1;

	if (rdi_db_prepare(c->st->db,
	        "UPDATE snapshots SET state = 'complete',"
	        " finished = ?, files = ?, bytes = ?, bytes_read = ?,"
	        " bytes_added = ?, stored = ?, changed = ?, removed = ?,"
	        " inconsistent = ?, skipped = ?, partial = ? WHERE id = ?",
	        &s, err) == -1)
		return -1;
	c->info.finished = (int64_t)rd_now();
	sqlite3_bind_double(s, 1, c->started + seconds);
	sqlite3_bind_int64(s, 2, c->info.files);
	sqlite3_bind_int64(s, 3, c->info.bytes);
	sqlite3_bind_int64(s, 4, c->info.bytes_read);
	sqlite3_bind_int64(s, 5, c->info.bytes_added);
	sqlite3_bind_int64(s, 6, c->info.stored);
	sqlite3_bind_int64(s, 7, c->info.changed);
	sqlite3_bind_int64(s, 8, c->info.removed);
	sqlite3_bind_int64(s, 9, c->info.inconsistent);
	sqlite3_bind_int64(s, 10, c->info.skipped);
	sqlite3_bind_int64(s, 11, c->info.partial);
	sqlite3_bind_int64(s, 12, c->snap_id);
	if (rdi_db_step(c->st->db, s, err) == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

/* Finish every worker's pack and record all pack sizes. */
static int
seal_packs(struct ctx *c, struct worker *w, int nw, struct rd_err *err)
{
	struct packrec *pr;
	int64_t size;
	size_t i;
	int k;

	for (k = 0; k < nw; k++) {
		if (!w[k].pw_open)
			continue;
		if (w[k].pw.off == 8) {
			/* nothing stored in it */
			rdi_packw_abort(c->st, &w[k].pw);
			w[k].pw_open = 0;
			continue;
		}
		if (rdi_packw_finish(c->st, &w[k].pw, &size, err) == -1)
			return -1;
		w[k].pw_open = 0;
		if (record_pack(c, &w[k].pw, size, err) == -1)
			return -1;
	}
	for (i = 0; i < c->npacks; i++) {
		pr = &c->packs[i];
		if (register_pack(c, pr->id, pr->name, err) == -1)
			return -1;
		sqlite3_reset(c->ins_pack);
		sqlite3_bind_int64(c->ins_pack, 1, pr->id);
		sqlite3_bind_text(c->ins_pack, 2, pr->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(c->ins_pack, 3, pr->size);
		if (rdi_db_step(c->st->db, c->ins_pack, err) == -1)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Files that the bracketing co-process adds (rdsnap create --bracket) */

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

	sqlite3_reset(s);
	sqlite3_bind_blob(s, 1, key, (int)klen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, c->snap_id - 1);
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
	return submit(c, j, err);
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

	if (read_names(dfd, "the bracket's scratch directory", &v, &n, err) ==
	    -1)
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
	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	return ret;
}

/*
 * The copy is done: tell the co-process, wait for it, and store what it
 * wrote into its scratch directory.
 */
static int
bracket_files(struct ctx *c, struct rd_err *err)
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
	    wait_all(c, err) == -1)
		goto out;
	ret = 0;
out:
	rdi_buf_release(&path);
	return ret;
}

int
rd_snap_create(struct rd_store *st, const char *source,
    const struct rd_snap_opts *opts, struct rd_snapinfo *info,
    struct rd_err *err)
{
	struct ctx c;
	struct worker *w = NULL;
	struct rdi_buf path = { NULL, 0, 0 };
	struct stat sb;
	struct prev p;
	int nw, k, in_txn = 0, pending = 0, ret = -1, has_prev;
	double t0 = rd_monotonic();

	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	c.st = st;
	c.opts = opts;
	c.rootfd = -1;
	c.xfd = -1;
	c.chain_max = st->info.chain_max;
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv_job, NULL);
	pthread_cond_init(&c.cv_main, NULL);
	if (st->mode != RD_OPEN_WRITE) {
		rd_err_set(err, RD_EINTERNAL, "store is not open for writing");
		goto out;
	}
	if (st->info.standby) {
		rd_err_set(err, RD_EPERM,
		    "store '%s' is a standby: it takes snapshots only from rdship (promote it first)",
		    st->path);
		goto out;
	}
	if (compile_excludes(&c, err) == -1)
		goto out;
	c.rootfd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.rootfd == -1) {
		if (errno == ENOENT)
			rd_err_set(err, RD_ENOENT,
			    "cannot open source '%s': No such file or directory",
			    source);
		else
			rd_err_sys(err, RD_EIO, "cannot open source '%s'",
			    source);
		goto out;
	}
	if (fstat(c.rootfd, &sb) == -1) {
		rd_err_sys(err, RD_EIO, "cannot stat source '%s'", source);
		goto out;
	}
	c.root_dev = sb.st_dev;
	if (new_pending(&c, source, err) == -1)
		goto out;
	pending = 1;
	c.info.id = c.snap_id;
	c.info.started = (int64_t)rd_now();
	if (rdi_db_exec(st->db, "BEGIN IMMEDIATE", err) == -1)
		goto out;
	in_txn = 1;
	if (prepare_all(&c, err) == -1 ||
	    rdi_next_pack_id(st, &c.next_pack, err) == -1 ||
	    cursor_next(&c, err) == -1)
		goto out;
	c.first_pack = c.next_pack;

	nw = opts->threads > 0 ? opts->threads : rd_ncpu();
	/*
	 * zlib is the slow codec: with more than one thread, a large file
	 * is compressed on two, so that the last big file does not run
	 * alone on one core while the others are idle.
	 */
	c.split = nw > 1 && st->info.codec == RD_CODEC_ZLIB;
	w = calloc((size_t)nw, sizeof(*w));
	if (w == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	for (k = 0; k < nw; k++) {
		w[k].c = &c;
		w[k].buf = malloc(SMALL_MAX + 1);
		w[k].pc = rdi_packcache_new(st);
		if (w[k].buf == NULL || w[k].pc == NULL) {
			rd_err_set(err, RD_ENOMEM, "out of memory");
			goto out;
		}
		if (rdi_zenc_new(st->info.codec, &w[k].zenc, err) == -1)
			goto out;
	}
	for (k = 0; k < nw; k++) {
		if (pthread_create(&w[k].thread, NULL, worker_main, &w[k]) !=
		    0) {
			rd_err_set(err, RD_ENOMEM, "cannot start a thread");
			goto out;
		}
		w[k].started = 1;
	}

	if (opts->bracket != NULL &&
	    rdi_bracket_start(st, opts->bracket, opts->bracket_cwd,
	        opts->bracket_env, opts->bracket_timeout, &c.bk, err) == -1)
		goto out;
	/* the root, then everything below it */
	has_prev = cursor_seek(&c, "", 0, &p, err);
	if (has_prev == -1)
		goto out;
	{
		struct meta m;

		meta_from_stat(&m, &sb);
		m.size = m.ino = m.ctime = 0;
		c.info.files++;
		if (!has_prev || p.type != RD_TYPE_DIR || !meta_equal(&p, &m)) {
			if ((has_prev && close_entry(&c, p.id, 0, err) == -1) ||
			    insert_entry(&c, "", 0, RD_TYPE_DIR, &m, NULL, NULL,
			        0, err) == -1)
				goto out;
		}
		prev_release(&p);
	}
	if (walk(&c, c.rootfd, &path, err) == -1)
		goto out;
	/* whatever the cursor still holds is gone from the source */
	while (c.cur_valid) {
		if (close_entry(&c, c.cur_prev.id, 1, err) == -1 ||
		    cursor_next(&c, err) == -1)
			goto out;
	}
	if (wait_all(&c, err) == -1)
		goto out;
	if (c.bk != NULL &&
	    (bracket_files(&c, err) == -1 ||
	        rdi_bracket_cleanup(c.bk, err) == -1))
		goto out;
	pthread_mutex_lock(&c.mu);
	c.stop = 1;
	pthread_cond_broadcast(&c.cv_job);
	pthread_mutex_unlock(&c.mu);
	for (k = 0; k < nw; k++) {
		if (w[k].started)
			pthread_join(w[k].thread, NULL);
		w[k].started = 0;
	}
	if (seal_packs(&c, w, nw, err) == -1)
		goto out;
	c.info.seconds = rd_monotonic() - t0;
	if (complete(&c, c.info.seconds, err) == -1)
		goto out;
	/* every pack is durable: now the snapshot may become visible */
	if (rdi_db_exec(st->db, "COMMIT", err) == -1)
		goto out;
	in_txn = 0;
	pending = 0;
	if (opts->label != NULL)
		snprintf(c.info.label, sizeof(c.info.label), "%s", opts->label);
	if (info != NULL)
		*info = c.info;
	ret = 0;
out:
	if (w != NULL) {
		pthread_mutex_lock(&c.mu);
		c.stop = 1;
		/* drop queued jobs: the run is failing */
		while (c.q_head != NULL) {
			struct job *j = c.q_head;

			c.q_head = j->next;
			job_free(j);
		}
		c.q_tail = NULL;
		pthread_cond_broadcast(&c.cv_job);
		pthread_mutex_unlock(&c.mu);
		for (k = 0; k < nw; k++)
			if (w[k].started)
				pthread_join(w[k].thread, NULL);
		while (c.r_head != NULL) {
			struct job *j = c.r_head;

			c.r_head = j->next;
			job_free(j);
		}
		for (k = 0; k < nw; k++) {
			if (w[k].pw_open)
				rdi_packw_abort(st, &w[k].pw);
			rdi_zenc_free(w[k].zenc);
			rdi_packcache_free(w[k].pc);
			free(w[k].buf);
			rdi_buf_release(&w[k].cbuf);
			rdi_buf_release(&w[k].sigbuf);
			rdi_buf_release(&w[k].oldsig);
		}
		free(w);
	}
	/* after the workers: they may be reading its files */
	rdi_bracket_free(c.bk);
	prev_release(&p);
	prev_release(&c.cur_prev);
	finalize_all(&c);
	if (in_txn)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	if (pending) {
		char sql[96];

		snprintf(sql, sizeof(sql),
		    "DELETE FROM snapshots WHERE id = %lld AND state = 'pending'",
		    (long long)c.snap_id);
		sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	}
	rdi_buf_release(&path);
	rdi_buf_release(&c.cur_path);
	free(c.set.slots);
	free(c.packs);
	free(c.known_packs);
	free(c.xp);
	free(c.xbuf);
	free(c.mp);
	free(c.mbuf);
	if (c.rootfd != -1)
		close(c.rootfd);
	pthread_cond_destroy(&c.cv_main);
	pthread_cond_destroy(&c.cv_job);
	pthread_mutex_destroy(&c.mu);
	return ret;
}
