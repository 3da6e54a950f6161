/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * content.c: the content reader.  A content is rebuilt from its pack
 * objects: a full object is decoded, a delta chain (walked in the
 * catalog, at most RDI_MAX_CHAIN links) is patched up from its full
 * base, which is streamed into the first patch; deeper links go through
 * unlinked temp files.  Every link is capped at its declared size and
 * checked against its SHA-256, so a damaged or hostile pack is refused
 * before its bytes pass on.  Restore, verify, prune, shipping and the
 * warm replica all read contents through it.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"

int
rdi_tmpfile(int dfd, struct rd_err *err)
{
	char name[32];
	unsigned char rnd[8];
	int fd;

#ifdef O_TMPFILE
	fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1)
		return fd;
#endif
	if (rdi_random(rnd, sizeof(rnd), err) == -1)
		return -1;
	memcpy(name, ".rdtmp-", 7);
	rd_hex(rnd, sizeof(rnd), name + 7);
	fd = openat(dfd, name,
	    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot create a temp file");
	unlinkat(dfd, name, 0);
	return fd;
}

int
rdi_chain_load(sqlite3 *db, sqlite3_stmt **stmt, const unsigned char *sha,
    struct rdi_chain *ch, struct rd_err *err)
{
	sqlite3_stmt *own = NULL, *s;
	struct rdi_link *chain = ch->link;
	unsigned char cur[RD_HASH_LEN];
	char hex[2 * RD_HASH_LEN + 1];
	const unsigned char *name;
	int n = 0, r, ret = -1;

	if (stmt == NULL)
		stmt = &own;
	if (*stmt == NULL &&
	    rdi_db_prepare(db,
	        "SELECT c.kind, c.base, c.size, c.off, p.name"
	        " FROM contents c JOIN packs p ON p.id = c.pack WHERE c.sha = ?",
	        stmt, err) == -1)
		return -1;
	s = *stmt;
	memcpy(cur, sha, RD_HASH_LEN);
	for (;;) {
		if (n == RDI_MAX_CHAIN) {
			rd_hex(sha, RD_HASH_LEN, hex);
			rd_err_set(err, RD_ECORRUPT,
			    "content %s has a delta chain that is too long",
			    hex);
			goto out;
		}
		r = rdi_db_bind(db, s, err, "h", cur);
		if (r == 0)
			r = rdi_db_step(db, s, err);
		if (r == -1)
			goto out;
		if (r == 0) {
			rd_hex(cur, RD_HASH_LEN, hex);
			rd_err_set(err, RD_ECORRUPT,
			    "content %s is missing from the catalog", hex);
			goto out;
		}
		memcpy(chain[n].sha, cur, RD_HASH_LEN);
		chain[n].kind = sqlite3_column_int(s, 0);
		chain[n].size = sqlite3_column_int64(s, 2);
		chain[n].off = sqlite3_column_int64(s, 3);
		name = sqlite3_column_text(s, 4);
		snprintf(chain[n].pack, sizeof(chain[n].pack), "%s",
		    name != NULL ? (const char *)name : "");
		n++;
		if (chain[n - 1].kind == RDI_OBJ_FULL)
			break;
		if (sqlite3_column_bytes(s, 1) != RD_HASH_LEN) {
			rd_hex(cur, RD_HASH_LEN, hex);
			rd_err_set(err, RD_ECORRUPT,
			    "delta content %s has no base", hex);
			goto out;
		}
		memcpy(cur, sqlite3_column_blob(s, 1), RD_HASH_LEN);
	}
	ch->n = n;
	ret = 0;
out:
	sqlite3_reset(s);
	sqlite3_finalize(own);
	return ret;
}

/*
 * Hashes and counts what passes through on its way to "next", and stops
 * at the first byte over "limit": a delta or a compressed object that
 * rebuilds to more than its declared size (a bomb) is refused before it
 * is written out.
 */
struct hsink {
	struct rdi_sha256 h;
	int64_t count, limit;
	const struct rdi_link *l;
	rdi_sink_fn next;
	void *arg;
};

static int
hsink_write(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct hsink *hs = arg;
	char hex[2 * RD_HASH_LEN + 1];

	if ((int64_t)len > hs->limit - hs->count) {
		rd_hex(hs->l->sha, RD_HASH_LEN, hex);
		return rd_err_set(err, RD_ECORRUPT,
		    "content %s: pack '%s' offset %lld: rebuilds to more than its %lld bytes",
		    hex, hs->l->pack, (long long)hs->l->off,
		    (long long)hs->limit);
	}
	if (rdi_sha256_update(&hs->h, buf, len, err) == -1)
		return -1;
	hs->count += (int64_t)len;
	return hs->next != NULL ? hs->next(hs->arg, buf, len, err) : 0;
}

/* Feeds a delta into a patch job. */
struct psink {
	struct rdi_rsjob *job;
	rdi_sink_fn next;
	void *arg;
};

static int
psink_write(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct psink *ps = arg;

	return rdi_rsjob_write(ps->job, buf, len, ps->next, ps->arg, err);
}

struct fdsink {
	int fd;
};

static int
fdsink_write(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct fdsink *fs = arg;

	return rdi_write_all(fs->fd, buf, len, "temp file", err);
}

/* "err" as the failure of content "l", unless it is not about the data. */
static void
blame(const struct rdi_link *l, struct rd_err *err)
{
	char hex[2 * RD_HASH_LEN + 1], why[sizeof(err->msg)];

	if (err->code == RD_ENOMEM || err->code == RD_EIO ||
	    strncmp(err->msg, "content ", 8) == 0)
		return;
	/* a failing patch or decoder means damaged data: say whose */
	memcpy(why, err->msg, sizeof(why));
	rd_hex(l->sha, RD_HASH_LEN, hex);
	rd_err_set(err, RD_ECORRUPT, "content %s: %s", hex, why);
}

static int
not_its_bytes(const struct rdi_link *l, struct rd_err *err)
{
	char hex[2 * RD_HASH_LEN + 1];

	rd_hex(l->sha, RD_HASH_LEN, hex);
	return rd_err_set(err, RD_ECORRUPT,
	    "content %s is damaged: rebuilt bytes do not match its SHA-256",
	    hex);
}

/*
 * The full base of a chain's first delta, decompressed as the patch asks
 * for it.  The patch reads a base front to back when its copies are in
 * order (aligned deltas always are), so the base is never written out.
 * A read behind what was passed spills the whole base, checked against
 * its SHA-256, to a temp file once; from then on the patch reads that.
 */
#define BWIN (256 * 1024)

struct bstream {
	const struct rdi_link *l;
	struct rdi_objreader *r;
	int tmpfd;   /* directory of the spill file */
	int spill;   /* the spill file, or -1 */
	int64_t pos; /* offset of win[0] in the base */
	size_t len;  /* bytes in win */
	int eof;
	unsigned char win[BWIN];
};

static void
bstream_free(struct bstream *b)
{
	if (b == NULL)
		return;
	rdi_objreader_free(b->r);
	if (b->spill != -1)
		close(b->spill);
	free(b);
}

static int
bstream_open(struct rdi_packcache *pc, const struct rdi_link *l, int tmpfd,
    struct bstream **out, struct rd_err *err)
{
	struct bstream *b = malloc(sizeof(*b));

	if (b == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	b->l = l;
	b->r = NULL;
	b->tmpfd = tmpfd;
	b->spill = -1;
	b->pos = 0;
	b->len = 0;
	b->eof = 0;
	if (rdi_objreader_open(pc, l->pack, l->off, l->sha, RDI_OBJ_FULL, &b->r,
	        err) == -1) {
		blame(l, err);
		bstream_free(b);
		return -1;
	}
	*out = b;
	return 0;
}

/* The whole base from its start, hashed, into "fd" when not -1. */
static int
bstream_whole(struct bstream *b, int fd, struct rd_err *err)
{
	struct rdi_sha256 h;
	unsigned char got[RD_HASH_LEN];
	int64_t count = 0;
	size_t n;
	int ret = -1;

	b->pos = 0;
	b->len = 0;
	b->eof = 0;
	if (rdi_sha256_init(&h, err) == -1)
		return -1;
	if (rdi_objreader_rewind(b->r, err) == -1)
		goto out;
	for (;;) {
		if (rdi_objreader_read(b->r, b->win, BWIN, &n, err) == -1) {
			blame(b->l, err);
			goto out;
		}
		if (n == 0)
			break;
		count += (int64_t)n;
		if (rdi_sha256_update(&h, b->win, n, err) == -1 ||
		    (fd != -1 &&
		        rdi_write_all(fd, b->win, n, "temp file", err) == -1))
			goto out;
	}
	if (rdi_sha256_final(&h, got, err) == -1)
		goto out;
	if (memcmp(got, b->l->sha, RD_HASH_LEN) != 0 || count != b->l->size) {
		not_its_bytes(b->l, err);
		goto out;
	}
	ret = 0;
out:
	rdi_sha256_release(&h);
	return ret;
}

static int
bstream_copy(void *arg, int64_t pos, size_t *len, void **buf,
    struct rd_err *err)
{
	struct bstream *b = arg;
	size_t n;
	ssize_t got;

	if (b->spill == -1 && pos < b->pos) {
		b->spill = rdi_tmpfile(b->tmpfd, err);
		if (b->spill == -1 || bstream_whole(b, b->spill, err) == -1)
			return -1;
	}
	if (b->spill != -1) {
		do
			got = pread(b->spill, *buf, *len, (off_t)pos);
		while (got == -1 && errno == EINTR);
		if (got == -1)
			return rd_err_sys(err, RD_EIO, "cannot read temp file");
		*len = (size_t)got;
		return 0;
	}
	while (pos >= b->pos + (int64_t)b->len) {
		if (b->eof) {
			*len = 0;
			return 0;
		}
		b->pos += (int64_t)b->len;
		b->len = 0;
		if (rdi_objreader_read(b->r, b->win, BWIN, &n, err) == -1) {
			blame(b->l, err);
			return -1;
		}
		b->eof = n == 0;
		b->len = n;
	}
	n = (size_t)(pos - b->pos);
	*buf = b->win + n;
	if (*len > b->len - n)
		*len = b->len - n;
	return 0;
}

static int
hsink_init(struct hsink *hs, const struct rdi_link *l, rdi_sink_fn next,
    void *arg, struct rd_err *err)
{
	hs->count = 0;
	hs->limit = l->size;
	hs->l = l;
	hs->next = next;
	hs->arg = arg;
	return rdi_sha256_init(&hs->h, err);
}

/* 0 if what passed through "hs" was its content, whole; -1. */
static int
hsink_check(struct hsink *hs, struct rd_err *err)
{
	unsigned char got[RD_HASH_LEN];

	if (rdi_sha256_final(&hs->h, got, err) == -1)
		return -1;
	if (memcmp(got, hs->l->sha, RD_HASH_LEN) != 0 ||
	    hs->count != hs->l->size)
		return not_its_bytes(hs->l, err);
	return 0;
}

/*
 * Rebuild one link into "sink" given its basis (for deltas): the file
 * "basis", or "bs" when not NULL.
 */
static int
build_link(struct rdi_packcache *pc, const struct rdi_link *l, int basis,
    struct bstream *bs, rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	struct hsink hs;
	struct psink ps;
	int ret = -1;

	memset(&ps, 0, sizeof(ps));
	if (hsink_init(&hs, l, sink, arg, err) == -1)
		return -1;
	if (l->kind == RDI_OBJ_FULL) {
		if (rdi_packcache_read(pc, l->pack, l->off, l->sha,
		        RDI_OBJ_FULL, hsink_write, &hs, err) == -1)
			goto out;
	} else {
		if ((bs != NULL ? rdi_patch_new_reader(bstream_copy, bs,
		                      &ps.job, err)
		                : rdi_patch_new(basis, &ps.job, err)) == -1)
			goto out;
		ps.next = hsink_write;
		ps.arg = &hs;
		if (rdi_packcache_read(pc, l->pack, l->off, l->sha,
		        RDI_OBJ_DELTA, psink_write, &ps, err) == -1 ||
		    rdi_rsjob_finish(ps.job, hsink_write, &hs, err) == -1)
			goto out;
	}
	if (hsink_check(&hs, err) == -1)
		goto out;
	ret = 0;
out:
	if (ret == -1)
		blame(l, err);
	rdi_rsjob_free(ps.job);
	rdi_sha256_release(&hs.h);
	return ret;
}

/*
 * One pass of delta "l" through an in-place reader over "fd": with
 * "apply" it writes.  Returns 1 if the delta fits in place (its copies
 * all stay where they are, its output "l->size" bytes), 0 if not, -1.
 */
static int
inplace_pass(struct rdi_packcache *pc, const struct rdi_link *l, int fd,
    int apply, struct rd_err *err)
{
	struct rdi_inplace ip;
	struct stat sb;

	if (fstat(fd, &sb) == -1)
		return rd_err_sys(err, RD_EIO, "cannot stat a file to patch");
	rdi_inplace_init(&ip, fd, l->size, (int64_t)sb.st_size);
	ip.apply = apply;
	if (rdi_packcache_read(pc, l->pack, l->off, l->sha, RDI_OBJ_DELTA,
	        rdi_inplace_sink, &ip, err) == -1) {
		blame(l, err);
		return -1;
	}
	if (apply && !rdi_inplace_fits(&ip))
		return rd_err_set(err, RD_EINTERNAL,
		    "a delta read differently the second time");
	return rdi_inplace_fits(&ip);
}

/* Patch "fd", holding the base of delta "l", in place if "l" fits. */
static int
inplace_link(struct rdi_packcache *pc, const struct rdi_link *l, int fd,
    struct rd_err *err)
{
	int r = inplace_pass(pc, l, fd, 0, err);

	if (r != 1)
		return r;
	if (inplace_pass(pc, l, fd, 1, err) == -1)
		return -1;
	if (ftruncate(fd, (off_t)l->size) == -1)
		return rd_err_sys(err, RD_EIO,
		    "cannot truncate a patched file");
	return 1;
}

/*
 * The bytes of "fd", which should be content "l", into "sink" (may be
 * NULL), checked against its SHA-256 and size.
 */
static int
emit_checked(int fd, const struct rdi_link *l, rdi_sink_fn sink, void *arg,
    struct rd_err *err)
{
	struct hsink hs;
	unsigned char *buf;
	int64_t off = 0;
	ssize_t n;
	int ret = -1;

	buf = malloc(BWIN);
	if (buf == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (hsink_init(&hs, l, sink, arg, err) == -1) {
		free(buf);
		return -1;
	}
	for (;;) {
		do
			n = pread(fd, buf, BWIN, (off_t)off);
		while (n == -1 && errno == EINTR);
		if (n == -1) {
			rd_err_sys(err, RD_EIO, "cannot read temp file");
			goto out;
		}
		if (n == 0)
			break;
		if (hsink_write(&hs, buf, (size_t)n, err) == -1)
			goto out;
		off += n;
	}
	if (hsink_check(&hs, err) == -1)
		goto out;
	ret = 0;
out:
	rdi_sha256_release(&hs.h);
	free(buf);
	return ret;
}

int
rdi_chain_read(struct rdi_packcache *pc, const struct rdi_chain *ch, int tmpfd,
    rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	struct bstream *bs = NULL;
	struct rd_err berr = RD_ERR_INIT;
	struct fdsink fs;
	int i, r, basis = -1, out = -1, ret = -1;

	if (ch->n > 1 &&
	    bstream_open(pc, &ch->link[ch->n - 1], tmpfd, &bs, err) == -1)
		return -1;
	/*
	 * Patch up from the streamed base, through temp files.  A delta
	 * whose copies all stay in place (a file changed in place, version
	 * after version) is written into the temp file that holds its base,
	 * only its literals: its result is checked with the next delta's,
	 * or as it goes to the sink.
	 */
	for (i = ch->n - 2; i >= 0; i--) {
		if (basis != -1) {
			r = inplace_link(pc, &ch->link[i], basis, err);
			if (r == -1)
				goto done;
			if (r == 1) {
				if (i == 0 &&
				    emit_checked(basis, &ch->link[0], sink, arg,
				        err) == -1)
					goto done;
				continue;
			}
		}
		if (i > 0) {
			out = rdi_tmpfile(tmpfd, err);
			if (out == -1)
				goto done;
			fs.fd = out;
		}
		if (build_link(pc, &ch->link[i], basis, bs,
		        i > 0 ? fdsink_write : sink, i > 0 ? (void *)&fs : arg,
		        err) == -1) {
			/*
			 * Bytes that do not match may come from a damaged
			 * base that decoded without complaint: check it, and
			 * name it if so.
			 */
			if (bs != NULL && bs->spill == -1 &&
			    err->code == RD_ECORRUPT &&
			    bstream_whole(bs, -1, &berr) == -1 &&
			    berr.code == RD_ECORRUPT)
				*err = berr;
			goto done;
		}
		bstream_free(bs);
		bs = NULL;
		if (basis != -1)
			close(basis);
		basis = out;
		out = -1;
	}
	if (ch->n == 1 &&
	    build_link(pc, &ch->link[0], -1, NULL, sink, arg, err) == -1)
		goto done;
	ret = 0;
done:
	bstream_free(bs);
	if (out != -1)
		close(out);
	if (basis != -1)
		close(basis);
	return ret;
}

int
rdi_content_read(struct rd_store *st, sqlite3 *db, struct rdi_packcache *pc,
    const unsigned char *sha, int tmpfd, rdi_sink_fn sink, void *arg,
    struct rd_err *err)
{
	struct rdi_chain *ch;
	int ret;

	(void)st;
	ch = malloc(sizeof(*ch));
	if (ch == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	ret = rdi_chain_load(db, NULL, sha, ch, err);
	if (ret == 0)
		ret = rdi_chain_read(pc, ch, tmpfd, sink, arg, err);
	free(ch);
	return ret;
}

int
rdi_content_patch(struct rd_store *st, sqlite3 *db, struct rdi_packcache *pc,
    const unsigned char *sha, const unsigned char *base, int basis,
    rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	struct rdi_chain ch;

	(void)st;
	if (rdi_chain_load(db, NULL, sha, &ch, err) == -1)
		return -1;
	if (ch.link[0].kind != RDI_OBJ_DELTA || ch.n < 2 ||
	    memcmp(ch.link[1].sha, base, RD_HASH_LEN) != 0)
		return 0;
	if (build_link(pc, &ch.link[0], basis, NULL, sink, arg, err) == -1)
		return -1;
	return 1;
}

int
rdi_content_patch_inplace(sqlite3 *db, struct rdi_packcache *pc,
    const unsigned char *sha, const unsigned char *base, int fd,
    struct rd_err *err)
{
	struct rdi_chain ch;
	int r;

	if (rdi_chain_load(db, NULL, sha, &ch, err) == -1)
		return -1;
	if (ch.link[0].kind != RDI_OBJ_DELTA || ch.n < 2 ||
	    memcmp(ch.link[1].sha, base, RD_HASH_LEN) != 0)
		return 0;
	/* the first pass only looks: nothing is written unless all fits */
	r = inplace_link(pc, &ch.link[0], fd, err);
	if (r != 1)
		return r;
	return emit_checked(fd, &ch.link[0], NULL, NULL, err) == -1 ? -1 : 1;
}
