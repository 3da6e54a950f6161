/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * recvbatch.c: the objects a receiver takes in (docs/FORMAT.md), in
 * batches: each OBJECT frame is checked and written into a pack of the
 * receiver's own, and a batch is committed only after its pack is
 * durable, every payload has passed its CRC and every full content of
 * the batch has been rebuilt and checked against its SHA-256 (deltas are
 * checked where they are rebuilt); those batches are what a rerun does
 * not resend.  A push session's QUERY frames are answered here too.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ship/ship_int.h"

/* Keeps a signature's header and counts its bytes. */
struct sigsink {
	unsigned char head[12];
	int64_t count, limit;
};

static int
sig_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct sigsink *s = arg;
	size_t n = 0;

	if ((uint64_t)len > (uint64_t)(s->limit - s->count))
		return rd_err_set(err, RD_ECORRUPT,
		    "a signature decodes to more than its declared %lld bytes",
		    (long long)s->limit);
	if (s->count < (int64_t)sizeof(s->head)) {
		n = sizeof(s->head) - (size_t)s->count;
		if (n > len)
			n = len;
		memcpy(s->head + s->count, buf, n);
	}
	s->count += (int64_t)len;
	return 0;
}

/*
 * A received signature must be one of its content: a librsync signature
 * of the block length its frame gave, with one entry per block of the
 * content's size.  (Its sums are the origin's word: they can only make
 * a later delta larger or fail its own check, never wrong data.)
 */
static int
check_sig(struct rdi_packcache *pc, const char *pack, const struct rdi_robj *o,
    struct rd_err *err)
{
	struct sigsink s;
	struct rdi_sigview v;
	char hex[2 * RD_HASH_LEN + 1];
	int64_t blocks, entry;

	memset(&s, 0, sizeof(s));
	s.limit = o->size;
	if (rdi_packcache_read(pc, pack, o->off, o->sha, RDI_OBJ_SIG, sig_sink,
	        &s, err) == -1)
		return -1;
	rd_hex(o->sha, RD_HASH_LEN, hex);
	if (s.count != o->size ||
	    rdi_sig_view(s.head, sizeof(s.head), &v, err) == -1 ||
	    (int64_t)v.block_len != o->block)
		return rd_err_set(err, RD_ECORRUPT,
		    "the signature of content %s is not a signature of block length %lld",
		    hex, (long long)o->block);
	blocks = o->csize / o->block + (o->csize % o->block != 0);
	entry = (int64_t)(4 + v.strong_len);
	if ((s.count - 12) % entry != 0 || (s.count - 12) / entry != blocks)
		return rd_err_set(err, RD_ECORRUPT,
		    "the signature of content %s does not cover its %lld bytes",
		    hex, (long long)o->csize);
	return 0;
}

/*
 * Rebuild content "o" and check it against its SHA-256 and size: patched
 * against the cached bytes of its base when the cache has them, in place
 * when the delta allows (a delta that fails there is rebuilt from the
 * store before it is judged), else
 * rebuilt from the store; a large content's bytes are kept in the cache
 * for the next delta, and its base's, superseded, are dropped.
 */
static int
verify_content(struct rdi_recv *r, struct rdi_packcache *pc,
    struct rdi_bcache *bc, int tmpfd, const struct rdi_robj *o,
    struct rd_err *err)
{
	struct rdi_bcache_w w;
	struct rd_err e2 = RD_ERR_INIT;
	int basis = -1, k = 0, keep = o->size >= RDI_BCACHE_MIN;

	/* a file changed in place: only its changed blocks are written */
	if (keep && o->kind == RDI_OBJ_DELTA &&
	    rdi_bcache_patch(bc, r->st->db, pc, o->sha, o->base) == 1)
		return 0;
	if (keep)
		rdi_bcache_begin(bc, o->sha, rdi_null_sink, NULL, &w);
	if (o->kind == RDI_OBJ_DELTA)
		basis = rdi_bcache_get(bc, o->base);
	if (basis != -1) {
		k = rdi_content_patch(r->st, r->st->db, pc, o->sha, o->base,
		    basis, keep ? rdi_bcache_sink : rdi_null_sink,
		    keep ? (void *)&w : NULL, &e2);
		close(basis);
		if (k == -1 && e2.code != RD_ECORRUPT) {
			*err = e2;
			goto fail;
		}
		rdi_bcache_drop(bc, o->base);
		if (k != 1 && keep) {
			rdi_bcache_end(&w, 0);
			rdi_bcache_begin(bc, o->sha, rdi_null_sink, NULL, &w);
		}
	}
	if (k != 1 &&
	    rdi_content_read(r->st, r->st->db, pc, o->sha, tmpfd,
	        keep ? rdi_bcache_sink : rdi_null_sink,
	        keep ? (void *)&w : NULL, err) == -1)
		goto fail;
	if (keep)
		rdi_bcache_end(&w, 1);
	return 0;
fail:
	if (keep)
		rdi_bcache_end(&w, 0);
	return -1;
}

/*
 * Rebuild every object of the recorded batch, in the order they came
 * (bases before their deltas), in the open transaction: a content
 * against its SHA-256 and declared size, a signature against its
 * content's size.  A bogus delta under a real content's hash would
 * otherwise be taken as present ever after.
 */
static int
verify_batch(struct rdi_recv *r, struct rd_err *err)
{
	struct rd_store *st = r->st;
	struct rdi_packcache *pc = NULL;
	struct rdi_bcache bc;
	const struct rdi_robj *o;
	char why[sizeof(err->msg)];
	size_t i;
	int tmpfd = -1, ret = -1;

	pc = rdi_packcache_new(st);
	if (pc == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	rdi_bcache_open(st, &bc);
	tmpfd = openat(st->dfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tmpfd == -1) {
		rd_err_sys(err, RD_EIO, "cannot open '%s/tmp'", st->path);
		goto out;
	}
	for (i = 0; i < r->nobjs; i++) {
		o = &r->objs[i];
		if ((o->kind == RDI_OBJ_SIG ? check_sig(pc, r->pw.name, o, err)
		                            : verify_content(r, pc, &bc, tmpfd,
		                                  o, err)) == -1) {
			if (err->code != RD_ECORRUPT)
				goto out;
			memcpy(why, err->msg, sizeof(why));
			rd_err_set(err, RD_ECORRUPT,
			    "object fails verification: %s", why);
			goto out;
		}
	}
	ret = 0;
out:
	if (tmpfd != -1)
		close(tmpfd);
	rdi_bcache_close(&bc);
	rdi_packcache_free(pc);
	return ret;
}

/*
 * The depth of a delta whose base is "base", from the base's row (in the
 * store, or earlier in this batch): within RD_DEPTH_MAX.  Returns 0, or
 * -1 with RD_ECORRUPT if the base is not there or the chain too deep.
 */
static int
delta_depth(sqlite3 *db, sqlite3_stmt *dep, const struct rdi_robj *o,
    int *depth, struct rd_err *err)
{
	char hex[2 * RD_HASH_LEN + 1];
	int k;

	k = rdi_db_bind(db, dep, err, "h", o->base);
	if (k == 0)
		k = rdi_db_step(db, dep, err);
	if (k == -1)
		return -1;
	rd_hex(o->sha, RD_HASH_LEN, hex);
	if (k == 0)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: delta %s arrived before its base", hex);
	*depth = sqlite3_column_int(dep, 0) + 1;
	if (sqlite3_column_int64(dep, 0) < 0 ||
	    sqlite3_column_int64(dep, 0) >= RD_DEPTH_MAX)
		return rd_err_set(err, RD_ECORRUPT,
		    "delta %s would make a chain deeper than the limit of %d deltas",
		    hex, RD_DEPTH_MAX);
	return 0;
}

/* Record a content of the batch in the open transaction. */
static int
record_content(struct rdi_recv *r, sqlite3_stmt *ins, sqlite3_stmt *dep,
    struct rdi_robj *o, struct rd_err *err)
{
	int depth = 0;

	if (o->kind == RDI_OBJ_DELTA &&
	    delta_depth(r->st->db, dep, o, &depth, err) == -1)
		return -1;
	if (rdi_db_bind(r->st->db, ins, err, "hiiihiiii", o->sha,
	        (int64_t)o->size, (int64_t)o->kind, (int64_t)o->codec,
	        o->kind == RDI_OBJ_DELTA ? o->base : NULL, (int64_t)depth,
	        (int64_t)r->pw.id, (int64_t)o->off, (int64_t)o->len) == -1)
		return -1;
	return rdi_db_step(r->st->db, ins, err) == -1 ? -1 : 0;
}

/*
 * Record a signature of the batch: its content must be in the store or
 * the batch, and its size is what the signature must cover.
 */
static int
record_sig(struct rdi_recv *r, sqlite3_stmt *sig, sqlite3_stmt *size,
    struct rdi_robj *o, struct rd_err *err)
{
	char hex[2 * RD_HASH_LEN + 1];
	int k;

	k = rdi_db_bind(r->st->db, size, err, "h", o->sha);
	if (k == 0)
		k = rdi_db_step(r->st->db, size, err);
	if (k == -1)
		return -1;
	if (k == 0) {
		rd_hex(o->sha, RD_HASH_LEN, hex);
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: a signature of %s without its content",
		    hex);
	}
	o->csize = sqlite3_column_int64(size, 0);
	if (rdi_db_bind(r->st->db, sig, err, "hiiii", o->sha, (int64_t)o->block,
	        (int64_t)r->pw.id, (int64_t)o->off, (int64_t)o->len) == -1)
		return -1;
	return rdi_db_step(r->st->db, sig, err) == -1 ? -1 : 0;
}

/* Record the batch's pack and objects in the open transaction. */
static int
record_batch(struct rdi_recv *r, int64_t size, struct rd_err *err)
{
	sqlite3 *db = r->st->db;
	sqlite3_stmt *ins = NULL, *sig = NULL, *pk = NULL, *dep = NULL,
	             *csz = NULL;
	struct rdi_robj *o;
	size_t i;
	int ret = -1;

	if (rdi_db_prepare(db,
	        "INSERT INTO packs(id, name, size) VALUES (?, ?, ?)", &pk,
	        err) == -1 ||
	    rdi_db_prepare(db,
	        "INSERT OR IGNORE INTO contents(sha, size,"
	        " kind, codec, base, depth, pack, off, len)"
	        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &ins, err) == -1 ||
	    rdi_db_prepare(db,
	        "INSERT OR IGNORE INTO signatures(sha,"
	        " block, pack, off, len) VALUES (?, ?, ?, ?, ?)",
	        &sig, err) == -1 ||
	    rdi_db_prepare(db, "SELECT depth FROM contents WHERE sha = ?", &dep,
	        err) == -1 ||
	    rdi_db_prepare(db, "SELECT size FROM contents WHERE sha = ?", &csz,
	        err) == -1)
		goto out;
	if (rdi_db_bind(db, pk, err, "iti", (int64_t)r->pw.id, r->pw.name,
	        (int64_t)size) == -1 ||
	    rdi_db_step(db, pk, err) == -1)
		goto out;
	for (i = 0; i < r->nobjs; i++) {
		o = &r->objs[i];
		if ((o->kind == RDI_OBJ_SIG
		            ? record_sig(r, sig, csz, o, err)
		            : record_content(r, ins, dep, o, err)) == -1)
			goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(ins);
	sqlite3_finalize(sig);
	sqlite3_finalize(pk);
	sqlite3_finalize(dep);
	sqlite3_finalize(csz);
	return ret;
}

/*
 * Make the open batch durable and visible: finish its pack, record its
 * objects, rebuild every one of them against its hash and size, and
 * commit.  On failure the batch is rolled back and its pack removed:
 * the store is as it was before the batch.
 */
int
rdi_recv_commit(struct rdi_recv *r, struct rd_err *err)
{
	struct rd_store *st = r->st;
	int64_t size;
	int in_txn = 0, renamed = 0, ret = -1;
	char path[64];

	if (!r->pw_open)
		return 0;
	if (r->nobjs == 0) {
		rdi_packw_abort(st, &r->pw);
		r->pw_open = 0;
		return 0;
	}
	if (rdi_packw_finish(st, &r->pw, &size, err) == -1)
		goto out;
	r->pw_open = 0;
	renamed = 1;
	if (rdi_db_exec(st->db, "BEGIN IMMEDIATE", err) == -1)
		goto out;
	in_txn = 1;
	if (record_batch(r, size, err) == -1 || verify_batch(r, err) == -1 ||
	    rdi_db_exec(st->db, "COMMIT", err) == -1)
		goto out;
	in_txn = 0;
	ret = 0;
out:
	if (in_txn)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	if (ret == -1 && renamed) {
		snprintf(path, sizeof(path), "packs/%s.pack", r->pw.name);
		unlinkat(st->dfd, path, 0);
	}
	if (ret == -1 && r->pw_open) {
		rdi_packw_abort(st, &r->pw);
		r->pw_open = 0;
	}
	r->nobjs = 0;
	return ret;
}

/*
 * 1 if the store already has the object of "h", 0 if not, -1 on error.
 * (A stream sends each object once, so the open batch needs no look.)
 */
static int
have_object(struct rdi_recv *r, const struct rdi_objhdr *h, struct rd_err *err)
{
	sqlite3_stmt **q =
	    h->kind == RDI_OBJ_SIG ? &r->has_sig : &r->has_content;
	int k;

	if (*q == NULL &&
	    rdi_db_prepare(r->st->db,
	        h->kind == RDI_OBJ_SIG
	            ? "SELECT 1 FROM signatures WHERE sha = ?"
	            : "SELECT 1 FROM contents WHERE sha = ?",
	        q, err) == -1)
		return -1;
	k = rdi_db_bind(r->st->db, *q, err, "h", h->sha);
	if (k == 0)
		k = rdi_db_step(r->st->db, *q, err);
	sqlite3_reset(*q);
	return k;
}

/*
 * Whether an object header "h" (with the frame's "extra") cannot be one
 * a store writes: a size past the format's bound, a raw payload that is
 * not its size (a delta's is the patch), a delta on nothing or on itself, a signature without a
 * block length or a content with one.
 */
static int
object_bad(const struct rdi_objhdr *h, uint64_t extra)
{
	static const unsigned char zero[RD_HASH_LEN];

	if (h->raw_size > RDI_MAX_SIZE ||
	    (h->kind != RDI_OBJ_DELTA && h->codec == RD_CODEC_RAW &&
	        h->raw_size != h->len))
		return 1;
	if (h->kind == RDI_OBJ_DELTA &&
	    (memcmp(h->base, zero, RD_HASH_LEN) == 0 ||
	        memcmp(h->base, h->sha, RD_HASH_LEN) == 0))
		return 1;
	if (h->kind == RDI_OBJ_SIG)
		return extra == 0 || extra > UINT32_MAX;
	return extra != 0;
}

/*
 * Read and check the head of an OBJECT frame of "len" bytes: its extra
 * word (a signature's block length) into "*extra", its object header
 * into "h".
 */
static int
recv_objhead(struct rdi_recv *r, uint64_t len, uint64_t *extra,
    struct rdi_objhdr *h, struct rd_err *err)
{
	unsigned char x[8], hdr[RDI_OBJ_HDR];

	if (len < 8 + RDI_OBJ_HDR)
		return rd_err_set(err, RD_ECORRUPT, "malformed object frame");
	if (rdi_chan_read(&r->ch, x, 8, err) == -1 ||
	    rdi_chan_read(&r->ch, hdr, sizeof(hdr), err) == -1)
		return -1;
	if (rdi_objhdr_decode(hdr, h, err) == -1)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: bad object header");
	if ((uint64_t)h->len != len - 8 - RDI_OBJ_HDR)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: object length mismatch");
	*extra = rdi_get_le64(x);
	if (object_bad(h, *extra))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: impossible object header");
	if (!(r->codecs & (1u << h->codec)) || !rd_codec_available(h->codec))
		return rd_err_set(err, RD_EUNAVAIL,
		    "object uses codec '%s', which this build lacks",
		    rd_codec_name(h->codec));
	return 0;
}

/*
 * Read past the payload of an object not kept: the MAC still proves the
 * stream intact.
 */
static int
drain_object(struct rdi_recv *r, const struct rdi_objhdr *h, struct rd_err *err)
{
	uint64_t left;
	size_t want;

	if (h->kind != RDI_OBJ_SIG)
		r->nobjects++;
	for (left = (uint64_t)h->len; left > 0; left -= want) {
		want = left > CHUNK ? CHUNK : (size_t)left;
		if (rdi_chan_read(&r->ch, r->chunk, want, err) == -1)
			return -1;
	}
	return rdi_chan_finish(&r->ch, err);
}

/* Commit the open batch if it is full, and open a batch if none is. */
static int
batch_room(struct rdi_recv *r, struct rd_err *err)
{
	int64_t id;

	if (r->pw_open && r->pw.off >= BATCH_BYTES &&
	    rdi_recv_commit(r, err) == -1)
		return -1;
	if (!r->pw_open) {
		if (rdi_next_pack_id(r->st, &id, err) == -1 ||
		    rdi_packw_open(r->st, id, &r->pw, err) == -1)
			return -1;
		r->pw_open = 1;
	}
	return 0;
}

/*
 * Copy the payload of the object "h" into the batch pack and check its
 * CRC and the frame's MAC; "*off" and "*plen" get where it was written.
 */
static int
write_object(struct rdi_recv *r, const struct rdi_objhdr *h, int64_t *off,
    int64_t *plen, struct rd_err *err)
{
	uint64_t left;
	size_t want;
	uint32_t crc;

	if (rdi_packw_begin(&r->pw, h->kind, h->codec, h->sha,
	        h->kind == RDI_OBJ_DELTA ? h->base : NULL, err) == -1)
		return -1;
	for (left = (uint64_t)h->len; left > 0; left -= want) {
		want = left > CHUNK ? CHUNK : (size_t)left;
		if (rdi_chan_read(&r->ch, r->chunk, want, err) == -1 ||
		    rdi_packw_sink(&r->pw, r->chunk, want, err) == -1)
			return -1;
		rdi_ship_progress(r->opts, &r->ch, 0, &r->last);
	}
	crc = r->pw.crc;
	if (rdi_chan_finish(&r->ch, err) == -1)
		return -1;
	if (crc != h->crc)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: object payload checksum mismatch");
	return rdi_packw_end(&r->pw, h->raw_size, off, plen, err);
}

/* List the object just written in the batch, to record and verify. */
static int
batch_add(struct rdi_recv *r, const struct rdi_objhdr *h, uint64_t extra,
    int64_t off, int64_t plen, struct rd_err *err)
{
	struct rdi_robj *o;

	if (r->nobjs == r->cap_objs) {
		size_t n = r->cap_objs != 0 ? r->cap_objs * 2 : 256;

		o = realloc(r->objs, n * sizeof(*o));
		if (o == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		r->objs = o;
		r->cap_objs = n;
	}
	o = &r->objs[r->nobjs++];
	memcpy(o->sha, h->sha, RD_HASH_LEN);
	memcpy(o->base, h->base, RD_HASH_LEN);
	o->kind = h->kind;
	o->codec = h->codec;
	o->size = h->raw_size;
	o->off = off;
	o->len = plen;
	o->block = (int64_t)extra; /* at most UINT32_MAX, by object_bad() */
	if (h->kind != RDI_OBJ_SIG) {
		r->nobjects++;
		r->res->objects++;
		r->res->object_bytes += plen;
	}
	return 0;
}

/*
 * Receive an OBJECT frame of "len" bytes: check its head, then drain it
 * if the store has the object (or only checks), else write it into the
 * batch pack and list it in the batch.
 */
int
rdi_recv_object(struct rdi_recv *r, uint64_t len, struct rd_err *err)
{
	struct rdi_objhdr h;
	uint64_t extra = 0;
	int64_t off, plen;
	int have;

	if (recv_objhead(r, len, &extra, &h, err) == -1)
		return -1;
	if (!r->skip) {
		have = have_object(r, &h, err);
		if (have == -1)
			return -1;
		if (have == 1 && h.kind != RDI_OBJ_SIG) {
			r->res->skipped++;
			r->res->skipped_bytes += h.len;
		}
		r->skip_obj = have;
	}
	if (r->skip || r->skip_obj)
		return drain_object(r, &h, err);
	if (batch_room(r, err) == -1 ||
	    write_object(r, &h, &off, &plen, err) == -1)
		return -1;
	return batch_add(r, &h, extra, off, plen, err);
}

/* Answer a QUERY: a bit set for every object this store lacks. */
int
rdi_recv_query(struct rdi_recv *r, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	unsigned char *bits = NULL;
	size_t n, i;
	int k, ret = -1;

	if (r->buf.len % RD_HASH_LEN != 0)
		return rd_err_set(err, RD_ECORRUPT, "malformed query frame");
	n = r->buf.len / RD_HASH_LEN;
	bits = calloc((n + 7) / 8 + 1, 1);
	if (bits == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (rdi_db_prepare(r->st->db, "SELECT 1 FROM contents WHERE sha = ?",
	        &q, err) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		k = rdi_db_bind(r->st->db, q, err, "h",
		    (const uint8_t *)r->buf.data + i * RD_HASH_LEN);
		if (k == 0)
			k = rdi_db_step(r->st->db, q, err);
		if (k == -1)
			goto out;
		if (k == 0)
			bits[i / 8] |= (unsigned char)(1u << (i % 8));
		else {
			r->res->skipped++;
		}
	}
	if (rdi_chan_send(&r->ch, F_MISSING, bits, (n + 7) / 8, err) == -1 ||
	    rdi_chan_flush(&r->ch, err) == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(q);
	free(bits);
	return ret;
}
