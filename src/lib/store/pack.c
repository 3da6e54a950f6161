/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pack.c: pack files.  A pack is an 8-byte magic followed by objects,
 * each a 96-byte header and a payload:
 *
 *	0  4  "RDO1"		 56 32  base SHA-256 (delta) or zeros
 *	4  1  kind (0 full, 1 delta, 2 signature)
 *	5  1  codec		 88  4  CRC-32 of the payload
 *	6  2  zero		 92  4  CRC-32 of header bytes 0..91
 *	8  8  raw size
 *	16 8  payload length
 *	24 32 content SHA-256
 *
 * Integers are little-endian.  A writer owns its pack: it is written in
 * STORE/tmp, then fsynced, renamed into STORE/packs and the directory
 * fsynced, all before the catalog transaction that refers to it commits.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "rd_int.h"

#define READ_CHUNK (256 * 1024)
/*
 * A writer starts the write-back of every PACK_FLUSH bytes as it goes, so
 * that the fsync that ends the pack waits for little: with the 64 MiB of
 * a pack left to the fsync, two workers that end their packs together
 * both stood still while the disk caught up.
 */
#define PACK_FLUSH (8 * 1024 * 1024)

void
rdi_objhdr_encode(const struct rdi_objhdr *h, unsigned char *out)
{
	memset(out, 0, RDI_OBJ_HDR);
	memcpy(out, "RDO1", 4);
	out[4] = (unsigned char)h->kind;
	out[5] = (unsigned char)h->codec;
	rdi_put_le64(out + 8, (uint64_t)h->raw_size);
	rdi_put_le64(out + 16, (uint64_t)h->len);
	memcpy(out + 24, h->sha, RD_HASH_LEN);
	memcpy(out + 56, h->base, RD_HASH_LEN);
	rdi_put_le32(out + 88, h->crc);
	rdi_put_le32(out + 92, (uint32_t)crc32(0, out, 92));
}

int
rdi_objhdr_decode(const unsigned char *in, struct rdi_objhdr *h,
    struct rd_err *err)
{
	if (memcmp(in, "RDO1", 4) != 0)
		return rd_err_set(err, RD_ECORRUPT, "bad object magic");
	if (rdi_get_le32(in + 92) != (uint32_t)crc32(0, in, 92))
		return rd_err_set(err, RD_ECORRUPT,
		    "object header checksum mismatch");
	h->kind = in[4];
	h->codec = in[5];
	h->raw_size = (int64_t)rdi_get_le64(in + 8);
	h->len = (int64_t)rdi_get_le64(in + 16);
	memcpy(h->sha, in + 24, RD_HASH_LEN);
	memcpy(h->base, in + 56, RD_HASH_LEN);
	h->crc = rdi_get_le32(in + 88);
	if (h->kind > RDI_OBJ_SIG || h->codec > RD_CODEC_ZSTD ||
	    h->raw_size < 0 || h->len < 0)
		return rd_err_set(err, RD_ECORRUPT, "bad object header");
	return 0;
}

int
rdi_packw_open(struct rd_store *st, int64_t id, struct rdi_packw *pw,
    struct rd_err *err)
{
	unsigned char rnd[16];
	char tmp[64];

	memset(pw, 0, sizeof(*pw));
	pw->fd = -1;
	pw->id = id;
	if (rdi_random(rnd, sizeof(rnd), err) == -1)
		return -1;
	rd_hex(rnd, sizeof(rnd), pw->name);
	snprintf(tmp, sizeof(tmp), "tmp/%s.pack", pw->name);
	pw->fd = openat(st->dfd, tmp,
	    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (pw->fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot create '%s/%s'",
		    st->path, tmp);
	if (rdi_write_all(pw->fd, RDI_PACK_MAGIC, 8, tmp, err) == -1) {
		rdi_packw_abort(st, pw);
		return -1;
	}
	pw->off = 8;
	return 0;
}

/*
 * Start writing back what was written since the last call, when that is
 * PACK_FLUSH bytes or more, or anything with "all".
 */
static void
packw_flush(struct rdi_packw *pw, int all)
{
	if (pw->flushed == -1 || pw->off <= pw->flushed ||
	    (!all && pw->off - pw->flushed < PACK_FLUSH))
		return;
#ifdef HAVE_SYNC_FILE_RANGE
	if (sync_file_range(pw->fd, pw->flushed, pw->off - pw->flushed,
	        SYNC_FILE_RANGE_WRITE) == -1) {
		/* only an early start: the fsync writes what is left */
		pw->flushed = -1;
		return;
	}
	pw->flushed = pw->off;
#else
	pw->flushed = -1;
#endif
}

int
rdi_packw_begin(struct rdi_packw *pw, int kind, int codec,
    const unsigned char *sha, const unsigned char *base, struct rd_err *err)
{
	(void)err;
	memset(&pw->hdr, 0, sizeof(pw->hdr));
	pw->hdr.kind = kind;
	pw->hdr.codec = codec;
	memcpy(pw->hdr.sha, sha, RD_HASH_LEN);
	if (base != NULL)
		memcpy(pw->hdr.base, base, RD_HASH_LEN);
	pw->obj_start = pw->off;
	pw->off += RDI_OBJ_HDR;
	pw->crc = (uint32_t)crc32(0, NULL, 0);
	return 0;
}

int
rdi_packw_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct rdi_packw *pw = arg;

	if (rdi_pwrite_all(pw->fd, buf, len, pw->off, "pack", err) == -1)
		return -1;
	pw->off += (off_t)len;
	pw->crc = (uint32_t)crc32_z(pw->crc, buf, len);
	packw_flush(pw, 0);
	return 0;
}

int
rdi_packw_end(struct rdi_packw *pw, int64_t raw_size, int64_t *off,
    int64_t *len, struct rd_err *err)
{
	unsigned char hdr[RDI_OBJ_HDR];

	pw->hdr.raw_size = raw_size;
	pw->hdr.len = pw->off - pw->obj_start - RDI_OBJ_HDR;
	pw->hdr.crc = pw->crc;
	rdi_objhdr_encode(&pw->hdr, hdr);
	if (rdi_pwrite_all(pw->fd, hdr, sizeof(hdr), pw->obj_start, "pack",
	        err) == -1)
		return -1;
	*off = pw->obj_start;
	*len = pw->hdr.len;
	return 0;
}

int
rdi_zsink_write(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct rdi_zsink *zs = arg;

	return rdi_zenc_write(zs->z, buf, len, rdi_packw_sink, zs->pw, err);
}

int
rdi_packw_rollback(struct rdi_packw *pw, off_t off, struct rd_err *err)
{
	if (ftruncate(pw->fd, off) == -1)
		return rd_err_sys(err, RD_EIO, "cannot truncate pack");
	pw->off = off;
	if (pw->flushed > off)
		pw->flushed = off;
	return 0;
}

int
rdi_packw_seal(struct rd_store *st, struct rdi_packw *pw, int64_t *size,
    struct rd_err *err)
{
	char from[64];

	snprintf(from, sizeof(from), "tmp/%s.pack", pw->name);
	if (ftruncate(pw->fd, pw->off) == -1)
		return rd_err_sys(err, RD_EIO, "cannot truncate '%s/%s'",
		    st->path, from);
	/* the object headers written last are before "flushed": all of it */
	pw->flushed = pw->flushed == -1 ? -1 : 0;
	packw_flush(pw, 1);
	if (rdi_close(pw->fd, from, err) == -1) {
		pw->fd = -1;
		return -1;
	}
	pw->fd = -1;
	*size = pw->off;
	return 0;
}

int
rdi_pack_publish(struct rd_store *st, const char *name, struct rd_err *err)
{
	char from[64], to[64];
	int fd;

	snprintf(from, sizeof(from), "tmp/%s.pack", name);
	snprintf(to, sizeof(to), "packs/%s.pack", name);
	fd = openat(st->dfd, from, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s/%s'", st->path,
		    from);
	if (fsync(fd) == -1) {
		rd_err_sys(err, RD_EIO, "cannot fsync '%s/%s'", st->path, from);
		close(fd);
		return -1;
	}
	if (rdi_close(fd, from, err) == -1)
		return -1;
	if (renameat(st->dfd, from, st->dfd, to) == -1)
		return rd_err_sys(err, RD_EIO, "cannot rename '%s' to '%s'",
		    from, to);
	return 0;
}

void
rdi_pack_unseal(struct rd_store *st, const char *name)
{
	char tmp[64];

	snprintf(tmp, sizeof(tmp), "tmp/%s.pack", name);
	unlinkat(st->dfd, tmp, 0);
}

int
rdi_packw_finish(struct rd_store *st, struct rdi_packw *pw, int64_t *size,
    struct rd_err *err)
{
	if (rdi_packw_seal(st, pw, size, err) == -1 ||
	    rdi_pack_publish(st, pw->name, err) == -1)
		return -1;
	return rdi_pack_dir_sync(st, err);
}

int
rdi_pack_dir_sync(struct rd_store *st, struct rd_err *err)
{
	int pfd, ret;

	pfd = openat(st->dfd, "packs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s/packs'",
		    st->path);
	ret = rdi_fsync_dirfd(pfd, "packs", err);
	close(pfd);
	return ret;
}

void
rdi_packw_abort(struct rd_store *st, struct rdi_packw *pw)
{
	char tmp[64];

	if (pw->fd == -1)
		return;
	close(pw->fd);
	pw->fd = -1;
	snprintf(tmp, sizeof(tmp), "tmp/%s.pack", pw->name);
	unlinkat(st->dfd, tmp, 0);
}

int
rdi_pack_name_ok(const char *name, const char *suffix)
{
	return strspn(name, "0123456789abcdef") == 32 &&
	    strcmp(name + 32, suffix) == 0;
}

int
rdi_pack_open(struct rd_store *st, const char *name, struct rd_err *err)
{
	char path[64];
	int fd;

	if (!rdi_pack_name_ok(name, ""))
		return rd_err_set(err, RD_ECORRUPT, "bad pack name '%s'", name);
	snprintf(path, sizeof(path), "packs/%s.pack", name);
	fd = openat(st->dfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return rd_err_set(err, RD_ECORRUPT,
			    "pack '%s' is missing", name);
		return rd_err_sys(err, RD_EIO, "cannot open pack '%s'", name);
	}
	return fd;
}

int
rdi_next_pack_id(struct rd_store *st, int64_t *id, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r;

	if (rdi_db_prepare(st->db, "SELECT COALESCE(MAX(id), 0) + 1 FROM packs",
	        &q, err) == -1)
		return -1;
	r = rdi_db_step(st->db, q, err);
	if (r == 1)
		*id = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return r == 1 ? 0 : -1;
}

/*
 * Read and check the header of the object at "off" against "sha" and
 * "kind" (signature or not; -1: any).
 */
static int
obj_header(int fd, const char *packname, int64_t off, const unsigned char *sha,
    int kind, struct rdi_objhdr *h, struct rd_err *err)
{
	unsigned char raw[RDI_OBJ_HDR];

	if (off < 0 || off > RDI_MAX_SIZE)
		return rd_err_set(err, RD_ECORRUPT,
		    "pack '%s' offset %lld: impossible offset", packname,
		    (long long)off);
	if (rdi_pread_exact(fd, raw, sizeof(raw), (off_t)off, packname, err) ==
	    -1)
		return -1;
	if (rdi_objhdr_decode(raw, h, err) == -1) {
		char why[sizeof(err->msg)];

		memcpy(why, err->msg, sizeof(why));
		return rd_err_set(err, RD_ECORRUPT, "pack '%s' offset %lld: %s",
		    packname, (long long)off, why);
	}
	if ((kind != -1 && (kind == RDI_OBJ_SIG) != (h->kind == RDI_OBJ_SIG)) ||
	    memcmp(h->sha, sha, RD_HASH_LEN) != 0)
		return rd_err_set(err, RD_ECORRUPT,
		    "pack '%s' offset %lld holds another object", packname,
		    (long long)off);
	return 0;
}

/*
 * Up to "want" payload bytes at "pos" into "buf": how many were read, or
 * -1 (a pack that ends first is RD_ECORRUPT).
 */
static ssize_t
payload_read(int fd, const char *packname, int64_t pos, unsigned char *buf,
    size_t want, struct rd_err *err)
{
	ssize_t n;

	do
		n = pread(fd, buf, want, (off_t)pos);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return rd_err_sys(err, RD_EIO, "cannot read pack '%s'",
		    packname);
	if (n == 0)
		return rd_err_set(err, RD_ECORRUPT,
		    "pack '%s' is truncated at offset %lld", packname,
		    (long long)pos);
	return n;
}

static int
payload_mismatch(const char *packname, int64_t off, struct rd_err *err)
{
	return rd_err_set(err, RD_ECORRUPT,
	    "pack '%s' offset %lld: payload checksum mismatch", packname,
	    (long long)off);
}

/*
 * A decompressor for pack objects, without the codec's own check: the
 * payload's CRC-32 is checked as it is read.
 */
static int
obj_decoder(int codec, struct rdi_zdec **out, struct rd_err *err)
{
	if (rdi_zdec_new(codec, out, err) == -1)
		return -1;
	if (rdi_zdec_skip_check(*out, err) == -1) {
		rdi_zdec_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

/* Stream the stored payload of object "h" at "off" into "sink"; check its CRC. */
static int
obj_payload(int fd, const char *packname, int64_t off,
    const struct rdi_objhdr *h, rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	unsigned char *buf;
	int64_t left, pos;
	uint32_t crc;
	ssize_t n;
	size_t want;
	int ret = -1;

	buf = malloc(READ_CHUNK);
	if (buf == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	crc = (uint32_t)crc32(0, NULL, 0);
	left = h->len;
	pos = off + RDI_OBJ_HDR;
	while (left > 0) {
		want = left > READ_CHUNK ? READ_CHUNK : (size_t)left;
		n = payload_read(fd, packname, pos, buf, want, err);
		if (n == -1)
			goto out;
		crc = (uint32_t)crc32_z(crc, buf, (size_t)n);
		if (sink(arg, buf, (size_t)n, err) == -1)
			goto out;
		left -= n;
		pos += n;
	}
	if (crc != h->crc) {
		payload_mismatch(packname, off, err);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

struct decsink {
	struct rdi_zdec *z;
	rdi_sink_fn sink;
	void *arg;
};

static int
decsink_write(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct decsink *d = arg;

	return rdi_zdec_write(d->z, buf, len, d->sink, d->arg, err);
}

int
rdi_obj_read(int fd, const char *packname, int64_t off,
    const unsigned char *sha, int kind, rdi_sink_fn sink, void *arg,
    struct rdi_objhdr *hdr, struct rd_err *err)
{
	struct rdi_objhdr h;
	struct decsink d = { NULL, sink, arg };
	int ret = -1;

	if (obj_header(fd, packname, off, sha, kind, &h, err) == -1)
		return -1;
	if (hdr != NULL)
		*hdr = h;
	if (sink == NULL)
		return 0;
	if (obj_decoder(h.codec, &d.z, err) == -1)
		return -1;
	if (obj_payload(fd, packname, off, &h, decsink_write, &d, err) == -1 ||
	    rdi_zdec_finish(d.z, sink, arg, err) == -1)
		goto out;
	ret = 0;
out:
	rdi_zdec_free(d.z);
	return ret;
}

int
rdi_obj_copy(int fd, const char *packname, int64_t off,
    const unsigned char *sha, struct rdi_packw *pw, int64_t *new_off,
    struct rd_err *err)
{
	struct rdi_objhdr h;
	int64_t len;

	if (obj_header(fd, packname, off, sha, -1, &h, err) == -1)
		return -1;
	if (rdi_packw_begin(pw, h.kind, h.codec, h.sha,
	        h.kind == RDI_OBJ_DELTA ? h.base : NULL, err) == -1 ||
	    obj_payload(fd, packname, off, &h, rdi_packw_sink, pw, err) == -1)
		return -1;
	return rdi_packw_end(pw, h.raw_size, new_off, &len, err);
}

struct pc_slot {
	char name[33];
	int fd;
};

#define PC_SLOTS 16

struct rdi_packcache {
	struct rd_store *st;
	struct pc_slot slot[PC_SLOTS];
	unsigned next;
	struct rdi_zdec *dec[RD_CODEC_ZSTD + 1];
};

struct rdi_packcache *
rdi_packcache_new(struct rd_store *st)
{
	struct rdi_packcache *pc = calloc(1, sizeof(*pc));
	int i;

	if (pc == NULL)
		return NULL;
	pc->st = st;
	for (i = 0; i < PC_SLOTS; i++)
		pc->slot[i].fd = -1;
	return pc;
}

int
rdi_packcache_fd(struct rdi_packcache *pc, const char *name, struct rd_err *err)
{
	struct pc_slot *s;
	int i, fd;

	for (i = 0; i < PC_SLOTS; i++)
		if (pc->slot[i].fd != -1 && strcmp(pc->slot[i].name, name) == 0)
			return pc->slot[i].fd;
	fd = rdi_pack_open(pc->st, name, err);
	if (fd == -1)
		return -1;
	s = &pc->slot[pc->next++ % PC_SLOTS];
	if (s->fd != -1)
		close(s->fd);
	s->fd = fd;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return fd;
}

void
rdi_packcache_free(struct rdi_packcache *pc)
{
	int i;

	if (pc == NULL)
		return;
	for (i = 0; i < PC_SLOTS; i++)
		if (pc->slot[i].fd != -1)
			close(pc->slot[i].fd);
	for (i = 0; i <= RD_CODEC_ZSTD; i++)
		rdi_zdec_free(pc->dec[i]);
	free(pc);
}

int
rdi_packcache_read(struct rdi_packcache *pc, const char *name, int64_t off,
    const unsigned char *sha, int kind, rdi_sink_fn sink, void *arg,
    struct rd_err *err)
{
	struct rdi_objhdr h;
	struct decsink d = { NULL, sink, arg };
	int fd;

	fd = rdi_packcache_fd(pc, name, err);
	if (fd == -1 || obj_header(fd, name, off, sha, kind, &h, err) == -1)
		return -1;
	if (pc->dec[h.codec] == NULL) {
		if (obj_decoder(h.codec, &pc->dec[h.codec], err) == -1)
			return -1;
	} else if (rdi_zdec_reset(pc->dec[h.codec], err) == -1) {
		return -1;
	}
	d.z = pc->dec[h.codec];
	if (obj_payload(fd, name, off, &h, decsink_write, &d, err) == -1)
		return -1;
	return rdi_zdec_finish(d.z, sink, arg, err);
}

/* ------------------------------------------------------------------ */
/* Pull reader */

struct rdi_objreader {
	int fd;
	char name[33];
	int64_t off;
	struct rdi_objhdr h;
	struct rdi_zdec *z;
	int64_t left; /* payload bytes not yet read */
	uint32_t crc;
	const unsigned char *in;
	size_t inlen;
	int done;
	unsigned char buf[READ_CHUNK];
};

int
rdi_objreader_open(struct rdi_packcache *pc, const char *name, int64_t off,
    const unsigned char *sha, int kind, struct rdi_objreader **out,
    struct rd_err *err)
{
	struct rdi_objreader *r;
	int fd;

	fd = rdi_packcache_fd(pc, name, err);
	if (fd == -1)
		return -1;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	/* the cache may close its descriptor while this one reads */
	r->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (r->fd == -1) {
		free(r);
		return rd_err_sys(err, RD_EIO, "cannot open pack '%s'", name);
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->off = off;
	if (obj_header(r->fd, name, off, sha, kind, &r->h, err) == -1 ||
	    obj_decoder(r->h.codec, &r->z, err) == -1 ||
	    rdi_objreader_rewind(r, err) == -1) {
		rdi_objreader_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int
rdi_objreader_rewind(struct rdi_objreader *r, struct rd_err *err)
{
	r->left = r->h.len;
	r->crc = (uint32_t)crc32(0, NULL, 0);
	r->in = r->buf;
	r->inlen = 0;
	r->done = 0;
	return rdi_zdec_reset(r->z, err);
}

/* The next piece of payload into r->buf; the CRC-32 checked at its end. */
static int
objreader_fill(struct rdi_objreader *r, struct rd_err *err)
{
	int64_t pos = r->off + RDI_OBJ_HDR + (r->h.len - r->left);
	size_t want = r->left > READ_CHUNK ? READ_CHUNK : (size_t)r->left;
	ssize_t n;

	n = payload_read(r->fd, r->name, pos, r->buf, want, err);
	if (n == -1)
		return -1;
	r->crc = (uint32_t)crc32_z(r->crc, r->buf, (size_t)n);
	r->left -= n;
	r->in = r->buf;
	r->inlen = (size_t)n;
	if (r->left == 0 && r->crc != r->h.crc)
		return payload_mismatch(r->name, r->off, err);
	return 0;
}

int
rdi_objreader_read(struct rdi_objreader *r, unsigned char *buf, size_t cap,
    size_t *got, struct rd_err *err)
{
	size_t before;

	*got = 0;
	while (!r->done && cap > 0) {
		if (r->inlen == 0 && r->left > 0 &&
		    objreader_fill(r, err) == -1)
			return -1;
		before = r->inlen;
		if (rdi_zdec_pull(r->z, &r->in, &r->inlen, buf, cap, got,
		        err) == -1)
			return -1;
		if (*got > 0)
			return 0;
		if (r->inlen == 0 && r->left == 0) {
			/* all input decoded and nothing more came out */
			if (rdi_zdec_finish(r->z, NULL, NULL, err) == -1)
				return -1;
			r->done = 1;
		} else if (r->inlen == before && before > 0) {
			return rd_err_set(err, RD_ECORRUPT,
			    "compressed data is damaged (no progress)");
		}
	}
	return 0;
}

void
rdi_objreader_free(struct rdi_objreader *r)
{
	if (r == NULL)
		return;
	if (r->fd != -1)
		close(r->fd);
	rdi_zdec_free(r->z);
	free(r);
}
