/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * workers.c: the worker threads of a snapshot and their queue.
 *
 * Each worker reads a changed file once, hashing it and storing it full
 * (compressed only where that pays) or as a librsync delta against the
 * stored signature of the previous version, into a pack of its own; the
 * set of contents stored by this run keeps two workers from storing one
 * content twice.  The calling thread submits jobs and takes the finished
 * ones back to record them.
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

#define CHUNK     (256 * 1024)
#define SPLIT_MIN (8 * 1024 * 1024) /* zlib on two threads from here */
#define QUEUE_CAP 256
#define ATTEMPTS  3
/*
 * A file of PAR_MIN bytes or more has its new signature made on a helper
 * thread too (sigpar.c): else the last large file of a run keeps one CPU
 * busy alone.  Of an aligned delta's sums the helper makes PAR_SHARE
 * percent, as the worker also hashes; of a file being compressed or
 * given a rolling delta, all.
 */
#define PAR_MIN   (INT64_C(16) << 20)
#define PAR_SHARE 67

/* Find "key" or the empty slot where it goes. */
static unsigned char *
shaset_slot(const struct shaset *s, const unsigned char *key)
{
	static const unsigned char zero[SET_KEY];
	size_t i, mask = SET_RECENT - 1;
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
key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SET_KEY);
}

/* Move the keys of the hash table into the sorted array. */
static int
shaset_merge(struct shaset *s, struct rd_err *err)
{
	static const unsigned char zero[SET_KEY];
	size_t i, n = 0, need = s->nsorted + s->n, cap, a, b, k;
	unsigned char *p, *t = s->slots;

	if (need > s->cap_sorted) {
		cap = s->cap_sorted + s->cap_sorted / 2;
		if (cap < need)
			cap = need;
		p = realloc(s->sorted, cap * SET_KEY);
		if (p == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		s->sorted = p;
		s->cap_sorted = cap;
	}
	/* the table's keys to its front, in order */
	for (i = 0; i < SET_RECENT; i++)
		if (memcmp(t + i * SET_KEY, zero, SET_KEY) != 0) {
			if (i != n)
				memcpy(t + n * SET_KEY, t + i * SET_KEY,
				    SET_KEY);
			n++;
		}
	qsort(t, n, SET_KEY, key_cmp);
	/* merged from the back, in place */
	a = s->nsorted;
	b = n;
	k = a + b;
	while (b > 0) {
		if (a > 0 &&
		    memcmp(s->sorted + (a - 1) * SET_KEY, t + (b - 1) * SET_KEY,
		        SET_KEY) > 0) {
			a--;
			memcpy(s->sorted + --k * SET_KEY,
			    s->sorted + a * SET_KEY, SET_KEY);
		} else {
			b--;
			memcpy(s->sorted + --k * SET_KEY, t + b * SET_KEY,
			    SET_KEY);
		}
	}
	s->nsorted = need;
	s->n = 0;
	memset(t, 0, (size_t)SET_RECENT * SET_KEY);
	return 0;
}

int
snap_shaset_has(const struct shaset *s, const unsigned char *sha)
{
	static const unsigned char zero[SET_KEY];

	if (s->slots != NULL && memcmp(shaset_slot(s, sha), zero, SET_KEY) != 0)
		return 1;
	return s->nsorted > 0 &&
	    bsearch(sha, s->sorted, s->nsorted, SET_KEY, key_cmp) != NULL;
}

/* Add "sha", which snap_shaset_has() did not find. */
int
snap_shaset_add(struct shaset *s, const unsigned char *sha, struct rd_err *err)
{
	unsigned char *slot;

	if (s->slots == NULL) {
		s->slots = calloc(SET_RECENT, SET_KEY);
		if (s->slots == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
	}
	/* at most three quarters full */
	if ((s->n + 1) * 4 > (size_t)SET_RECENT * 3 &&
	    shaset_merge(s, err) == -1)
		return -1;
	slot = shaset_slot(s, sha);
	memcpy(slot, sha, SET_KEY);
	s->n++;
	return 0;
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
	if (snap_shaset_has(&c->set, sha)) {
		r = 1;
		goto out;
	}
	r = rdi_db_bind(c->ldb, c->lookup, err, "h", sha);
	if (r == 0)
		r = rdi_db_step(c->ldb, c->lookup, err);
	sqlite3_reset(c->lookup);
	if (r == 0 && claim && snap_shaset_add(&c->set, sha, err) == -1)
		r = -1;
out:
	pthread_mutex_unlock(&c->mu);
	return r;
}

/*
 * Remember a sealed pack (rdi_packw_seal) so that snap_seal_packs()
 * publishes it and its row gets its final size.
 */
int
snap_record_pack(struct ctx *c, const struct rdi_packw *pw, int64_t size,
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
	pr->published = 0;
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
		/* the disk writes it while this worker goes on */
		if (rdi_packw_seal(c->st, &w->pw, &size, err) == -1)
			return -1;
		w->pw_open = 0;
		if (snap_record_pack(c, &w->pw, size, err) == -1)
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
	if (fd == -1 && errno == ENAMETOOLONG) {
		/* PATH_MAX is no limit: one directory at a time */
		pfd = rdi_open_parent(c->rootfd, path, name, err);
		if (pfd == -1)
			return -1;
		fd = openat(pfd, name,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		close(pfd);
	}
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
 * Store the first chunk of a full object ("n" bytes in w->buf) of the
 * file "before" describes, judging by it whether the file compresses:
 * "*compress" says so.
 */
static int
store_first_chunk(struct worker *w, const struct stat *before, size_t n,
    int *compress, struct rd_err *err)
{
	struct ctx *c = w->c;

	/* does this file compress?  judge by its first chunk */
	w->cbuf.len = 0;
	if (rdi_zenc_write(w->zenc, w->buf, n, rdi_buf_sink, &w->cbuf, err) ==
	    -1)
		return -1;
	*compress = n < 4096 || w->cbuf.len < n - n / 16 || w->cbuf.len == 0;
	if (*compress && c->split && before->st_size >= SPLIT_MIN) {
		/* what was judged is compressed again, split */
		w->pw.hdr.codec = c->st->info.codec;
		if (rdi_zenc_split(w->zenc, err) == -1 ||
		    rdi_zenc_write(w->zenc, w->buf, n, rdi_packw_sink, &w->pw,
		        err) == -1)
			return -1;
		return 0;
	}
	if (*compress) {
		w->pw.hdr.codec = c->st->info.codec;
		return rdi_packw_sink(&w->pw, w->cbuf.data, w->cbuf.len, err);
	}
	return rdi_packw_sink(&w->pw, w->buf, n, err);
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
	struct rdi_sigpar *sig = NULL;
	struct rdi_rsjob *dj = NULL;
	struct rdi_zsink zs = { w->zenc, &w->pw };
	struct rdi_hreader hr;
	unsigned char sha[RD_HASH_LEN];
	int64_t total = 0;
	ssize_t n;
	int first = 1, compress = 1, sums, eof = 0, r, ret = -1;
	unsigned share;

	if (fstat(fd, before) == -1) {
		rd_err_sys(err, RD_EIO, "cannot stat '%s'", j->path);
		return -1;
	}
	rdi_hreader_init(&hr, fd);
	sums = sums_of == NULL || !same_version(sums_of, before);
	if (rdi_sha256_init(&h, err) == -1)
		goto out;
	/* the sums on a helper: this thread compresses or makes the delta */
	share = before->st_size >= PAR_MIN ? 100 : 0;
	if (sums) {
		w->sigbuf.len = 0;
		j->sig_block = (int64_t)rdi_sig_block_len(before->st_size);
		if (rdi_sigpar_new((size_t)j->sig_block, &sig, err) == -1)
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
	while (!eof) {
		/* a short read is the end: what is stored is what is summed */
		n = rdi_hread(&hr, w->buf, CHUNK, j->path, err);
		if (n == -1)
			goto out;
		eof = n < CHUNK;
		if (sums &&
		    rdi_sigpar_start(sig, w->buf, (size_t)n, eof, share, err) ==
		        -1)
			goto out;
		total += n;
		r = rdi_sha256_update(&h, w->buf, (size_t)n, err);
		if (r == 0 && n > 0) {
			if (delta)
				r = rdi_rsjob_write(dj, w->buf, (size_t)n,
				    rdi_zsink_write, &zs, err);
			else if (first)
				r = store_first_chunk(w, before, (size_t)n,
				    &compress, err);
			else if (compress)
				r = rdi_zenc_write(w->zenc, w->buf, (size_t)n,
				    rdi_packw_sink, &w->pw, err);
			else
				r = rdi_packw_sink(&w->pw, w->buf, (size_t)n,
				    err);
			first = 0;
		}
		if (r == -1 ||
		    (sums &&
		        rdi_sigpar_end(sig, w->buf, (size_t)n, &w->sigbuf,
		            err) == -1))
			goto out;
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
	if (rdi_sha256_final(&h, sha, err) == -1)
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
	rdi_sigpar_free(sig);
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
 * Hash a whole file without storing it, and make its new signature into
 * w->sigbuf with "sig" (on a helper thread too for a large file).
 */
static int
hash_only(struct worker *w, struct job *j, int fd, int64_t size,
    struct rdi_sigpar *sig, struct rd_err *err)
{
	struct rdi_sha256 h = { NULL };
	struct rdi_hreader hr;
	unsigned share = size >= PAR_MIN ? PAR_SHARE : 0;
	ssize_t n;
	int eof = 0, r, ret = -1;

	rdi_hreader_init(&hr, fd);
	if (rdi_sha256_init(&h, err) == -1)
		return -1;
	while (!eof) {
		n = rdi_hread(&hr, w->buf, CHUNK, j->path, err);
		if (n == -1)
			goto out;
		eof = n < CHUNK;
		j->bytes_read += n;
		if (rdi_sigpar_start(sig, w->buf, (size_t)n, eof, share, err) ==
		    -1)
			goto out;
		r = rdi_sha256_update(&h, w->buf, (size_t)n, err);
		if (rdi_sigpar_end(sig, w->buf, (size_t)n, &w->sigbuf, err) ==
		        -1 ||
		    r == -1)
			goto out;
	}
	if (rdi_sha256_final(&h, j->sha, err) == -1)
		goto out;
	ret = 0;
out:
	rdi_sha256_release(&h);
	return ret;
}

/*
 * The cheap delta, for a file changed in place or appended to: one pass
 * makes its SHA-256, its new signature and a delta that copies each run
 * of blocks whose sums equal the old signature's at the same index
 * (rdi_delta_aligned).  Returns 1 with the object open in the pack, 0
 * when the file does not fit (nothing left in the pack), -1.
 */
static int
store_aligned(struct worker *w, struct job *j, int fd, struct stat *before,
    struct stat *after, struct rd_err *err)
{
	struct ctx *c = w->c;
	struct rdi_sigview ov;
	struct rdi_zsink zs = { w->zenc, &w->pw };
	struct rdi_hreader hr;
	off_t start = w->pw.off;
	int64_t total = 0;
	int r;

	if (fstat(fd, before) == -1)
		return rd_err_sys(err, RD_EIO, "cannot stat '%s'", j->path);
	if (rdi_sig_view(w->oldsig.data, w->oldsig.len, &ov, err) == -1) {
		/* an unreadable old signature: the rolling delta says more */
		rd_err_clear(err);
		return 0;
	}
	if (ov.block_len != rdi_sig_block_len(before->st_size) ||
	    ov.strong_len != RDI_SIG_STRONG)
		return 0;
	rdi_hreader_init(&hr, fd);
	j->sig_block = (int64_t)ov.block_len;
	if (rdi_zenc_reset(w->zenc, err) == -1 ||
	    rdi_packw_begin(&w->pw, RDI_OBJ_DELTA, c->st->info.codec, j->sha,
	        j->prev.sha, err) == -1)
		return -1;
	r = rdi_delta_aligned(&ov, &hr, j->path, w->buf, CHUNK,
	    before->st_size >= PAR_MIN ? PAR_SHARE : 0, before->st_size / 2,
	    &w->sigbuf, j->sha, &total, rdi_zsink_write, &zs, err);
	if (r == -1)
		return -1;
	if (r == 0) {
		w->sigbuf.len = 0;
		return rdi_packw_rollback(&w->pw, start, err) == -1 ? -1 : 0;
	}
	if (rdi_zenc_finish(w->zenc, rdi_packw_sink, &w->pw, err) == -1)
		return -1;
	memcpy(w->pw.hdr.sha, j->sha, RD_HASH_LEN);
	j->bytes_read += total;
	if (fstat(fd, after) == -1)
		return rd_err_sys(err, RD_EIO, "cannot stat '%s'", j->path);
	after->st_size = total;
	return 1;
}

/*
 * Store the signature in w->sigbuf after the content of job "j", with
 * the store's codec where that pays: the sums of a file's zero blocks
 * (its holes) are all alike, so a sparse file's signature shrinks to
 * little more than the sums of its data.
 */
static int
store_sig(struct worker *w, struct job *j, struct rd_err *err)
{
	const void *data = w->sigbuf.data;
	size_t dlen = w->sigbuf.len;
	int codec = RD_CODEC_RAW;

	w->cbuf.len = 0;
	if (rdi_zenc_reset(w->zenc, err) == -1 ||
	    rdi_zenc_write(w->zenc, w->sigbuf.data, w->sigbuf.len, rdi_buf_sink,
	        &w->cbuf, err) == -1 ||
	    rdi_zenc_finish(w->zenc, rdi_buf_sink, &w->cbuf, err) == -1)
		return -1;
	if (w->cbuf.len < w->sigbuf.len - w->sigbuf.len / 16) {
		codec = w->c->st->info.codec;
		data = w->cbuf.data;
		dlen = w->cbuf.len;
	}
	if (rdi_packw_begin(&w->pw, RDI_OBJ_SIG, codec, j->sha, NULL, err) ==
	        -1 ||
	    rdi_packw_sink(&w->pw, data, dlen, err) == -1)
		return -1;
	return rdi_packw_end(&w->pw, (int64_t)w->sigbuf.len, &j->sig_off,
	    &j->sig_len, err);
}

/* Reads of a file that changes while it is read, at most. */
static int
attempts(const struct ctx *c)
{
	return c->opts->read_once ? 1 : ATTEMPTS;
}

static int
process_big(struct worker *w, struct job *j, int fd, struct rd_err *err)
{
	struct ctx *c = w->c;
	struct stat before, after, sums_of;
	struct rdi_sigpar *sig = NULL;
	off_t start;
	int delta, aligned, only_aligned, sums = 0, attempt, r;
	int64_t off, len;

	/*
	 * Past the store's chain length only an aligned delta goes on, up
	 * to RD_DEPTH_MAX: a rebuild writes it into its base in place, only
	 * its changed blocks (rdi_chain_read), so that a file changed in
	 * place is stored whole every RD_DEPTH_MAX versions, not every
	 * chain_max.
	 */
	only_aligned = j->prev_depth + 1 > c->chain_max;
	delta = j->use_sig && j->prev_depth + 1 <= RD_DEPTH_MAX;
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
		if (rdi_sigpar_new((size_t)j->sig_block, &sig, err) == -1)
			return -1;
		r = hash_only(w, j, fd, before.st_size, sig, err);
		rdi_sigpar_free(sig);
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
			r = store_aligned(w, j, fd, &before, &after, err);
			if (r == -1)
				return -1;
			aligned = r; /* else the rolling delta, from now on */
			if (r == 0 && only_aligned)
				delta = 0; /* or, that deep, whole */
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
		if (!same_version(&before, &after) && attempt < attempts(c) &&
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
			delta = aligned = 0;
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
	if (store_sig(w, j, err) == -1)
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
	for (attempt = 1; attempt <= attempts(c); attempt++) {
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
	j->unstable = attempt > attempts(c) && !j->may_change;
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

void
snap_prev_release(struct prev *p)
{
	free(p->target);
	p->target = NULL;
	rdi_buf_release(&p->xa);
}

void
snap_job_free(struct job *j)
{
	if (j == NULL)
		return;
	free(j->path);
	rdi_buf_release(&j->xa);
	snap_prev_release(&j->prev);
	free(j);
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
		if (ret == 0 && snap_finish_job(c, j, err) == -1)
			ret = -1;
		pthread_mutex_lock(&c->mu);
		c->inflight--;
		pthread_mutex_unlock(&c->mu);
		snap_job_free(j);
	}
	return ret;
}

void
snap_progress(struct ctx *c)
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

int
snap_submit(struct ctx *c, struct job *j, struct rd_err *err)
{
	pthread_mutex_lock(&c->mu);
	while (c->q_len >= QUEUE_CAP) {
		if (c->r_head != NULL) {
			pthread_mutex_unlock(&c->mu);
			if (drain(c, err) == -1) {
				snap_job_free(j);
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
	snap_progress(c);
	/* drain() takes what is there under the lock; an empty list is fine */
	return drain(c, err);
}

int
snap_wait_all(struct ctx *c, struct rd_err *err)
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

/*
 * Start the workers: "*wp" and "*nwp" get them (to be given to
 * snap_workers_free() even on failure), one a CPU unless the options
 * say how many.
 */
int
snap_workers_start(struct ctx *c, struct worker **wp, int *nwp,
    struct rd_err *err)
{
	struct rd_store *st = c->st;
	struct worker *w;
	int nw, k;

	nw = c->opts->threads > 0 ? c->opts->threads : rd_ncpu();
	/*
	 * zlib is the slow codec: with more than one thread, a large file
	 * is compressed on two, so that the last big file does not run
	 * alone on one core while the others are idle.
	 */
	c->split = nw > 1 && st->info.codec == RD_CODEC_ZLIB;
	w = calloc((size_t)nw, sizeof(*w));
	if (w == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	*wp = w;
	*nwp = nw;
	for (k = 0; k < nw; k++) {
		w[k].c = c;
		w[k].buf = malloc(SMALL_MAX + 1);
		w[k].pc = rdi_packcache_new(st);
		if (w[k].buf == NULL || w[k].pc == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		if (rdi_zenc_new(st->info.codec, &w[k].zenc, err) == -1)
			return -1;
	}
	for (k = 0; k < nw; k++) {
		if (pthread_create(&w[k].thread, NULL, worker_main, &w[k]) != 0)
			return rd_err_set(err, RD_ENOMEM,
			    "cannot start a thread");
		w[k].started = 1;
	}
	return 0;
}

/* Tell the workers to stop once the queue is empty, and wait for them. */
void
snap_workers_stop(struct ctx *c, struct worker *w, int nw)
{
	int k;

	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_broadcast(&c->cv_job);
	pthread_mutex_unlock(&c->mu);
	for (k = 0; k < nw; k++) {
		if (w[k].started)
			pthread_join(w[k].thread, NULL);
		w[k].started = 0;
	}
}

/*
 * Stop the workers "w" (NULL: none were made) at once, dropping the jobs
 * still queued or finished (the run is failing), and free them.
 */
void
snap_workers_free(struct ctx *c, struct worker *w, int nw)
{
	struct job *j;
	int k;

	if (w == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	/* drop queued jobs: the run is failing */
	while ((j = c->q_head) != NULL) {
		c->q_head = j->next;
		snap_job_free(j);
	}
	c->q_tail = NULL;
	pthread_cond_broadcast(&c->cv_job);
	pthread_mutex_unlock(&c->mu);
	for (k = 0; k < nw; k++)
		if (w[k].started)
			pthread_join(w[k].thread, NULL);
	while ((j = c->r_head) != NULL) {
		c->r_head = j->next;
		snap_job_free(j);
	}
	for (k = 0; k < nw; k++) {
		if (w[k].pw_open)
			rdi_packw_abort(c->st, &w[k].pw);
		rdi_zenc_free(w[k].zenc);
		rdi_packcache_free(w[k].pc);
		free(w[k].buf);
		rdi_buf_release(&w[k].cbuf);
		rdi_buf_release(&w[k].sigbuf);
		rdi_buf_release(&w[k].oldsig);
	}
	free(w);
}
