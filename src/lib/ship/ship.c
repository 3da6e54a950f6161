/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ship.c: moving snapshots from one store to another (rdship).
 *
 * A bundle (docs/FORMAT.md) carries, after a HELLO that names the
 * sending store, its epoch and the snapshot range: the objects the
 * receiver lacks, bases before the deltas that need them, exactly as
 * stored; then the snapshot rows; then the catalog rows that begin in the
 * range and the closings of rows that end in it; then END.  A push
 * session adds two frames: the receiver's HAVE (its newest snapshot and
 * its verdict on lineage and epoch) and QUERY/MISSING rounds in which the
 * sender learns which objects to skip.
 *
 * The receiver writes objects into a pack of its own and commits them in
 * batches, each only after its pack is durable, every payload has passed
 * its CRC and every full content of the batch has been rebuilt and
 * checked against its SHA-256 (deltas are checked where they are
 * rebuilt); those batches are what a rerun does not resend.  The snapshot rows become visible in
 * one transaction at END, after every frame has passed its MAC.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"

enum {
	F_HELLO = 'H',
	F_HAVE = 'A',
	F_QUERY = 'Q',
	F_MISSING = 'M',
	F_OBJECT = 'O',
	F_SNAP = 'S',
	F_ENTRIES = 'E',
	F_CLOSES = 'C',
	F_PROBLEMS = 'P',
	F_END = 'Z',
	F_RESULT = 'R'
};

#define MODE_BUNDLE 0
#define MODE_PUSH   1
#define QUERY_BATCH 1024
#define ROWS_FRAME  (256 * 1024)
#define BATCH_BYTES (32 * 1024 * 1024)
#define SMALL_FRAME (1024 * 1024)
#define CHUNK       (256 * 1024)

/* ------------------------------------------------------------------ */
/* Keys */

int
rd_key_generate(const char *path, struct rd_err *err)
{
	unsigned char key[RD_KEY_LEN];
	char hex[2 * RD_KEY_LEN + 2];
	int fd, ret = -1;

	if (rdi_random(key, sizeof(key), err) == -1)
		return -1;
	rd_hex(key, sizeof(key), hex);
	hex[2 * RD_KEY_LEN] = '\n';
	hex[2 * RD_KEY_LEN + 1] = '\0';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		if (errno == EEXIST)
			return rd_err_set(err, RD_ECANTCREAT,
			    "key file '%s' exists; not overwriting it", path);
		return rd_err_sys(err, RD_ECANTCREAT, "cannot create '%s'",
		    path);
	}
	if (rdi_write_all(fd, hex, strlen(hex), path, err) == -1)
		goto out;
	if (fsync(fd) == -1) {
		rd_err_sys(err, RD_EIO, "cannot fsync '%s'", path);
		goto out;
	}
	ret = 0;
out:
	if (rdi_close(fd, path, err) == -1)
		ret = -1;
	if (ret == -1)
		unlink(path);
	memset(key, 0, sizeof(key));
	memset(hex, 0, sizeof(hex));
	return ret;
}

static int
key_load_at(int dfd, const char *name, const char *shown,
    unsigned char key[RD_KEY_LEN], struct rd_err *err)
{
	struct stat sb;
	char buf[2 * RD_KEY_LEN + 8];
	ssize_t n;
	int fd, ret = -1;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ELOOP)
		return rd_err_set(err, RD_EPERM,
		    "key file '%s' is a symlink: refusing it", shown);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open key file '%s'",
		    shown);
	if (fstat(fd, &sb) == -1) {
		rd_err_sys(err, RD_EIO, "cannot stat key file '%s'", shown);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rd_err_set(err, RD_EPERM, "key file '%s' is not a regular file",
		    shown);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		rd_err_set(err, RD_EPERM,
		    "key file '%s' is accessible to others (mode %03o): chmod 600 it",
		    shown, (unsigned)(sb.st_mode & 0777));
		goto out;
	}
	n = rdi_read_full(fd, buf, sizeof(buf) - 1, shown, err);
	if (n == -1)
		goto out;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (rd_unhex(buf, key, RD_KEY_LEN) == -1) {
		rd_err_set(err, RD_EPERM,
		    "key file '%s' does not hold a key (64 hex digits; make one with rdship keygen)",
		    shown);
		goto out;
	}
	ret = 0;
out:
	memset(buf, 0, sizeof(buf));
	close(fd);
	return ret;
}

int
rd_key_load(const char *path, unsigned char key[RD_KEY_LEN], struct rd_err *err)
{
	return key_load_at(AT_FDCWD, path, path, key, err);
}

int
rd_store_key(struct rd_store *st, unsigned char key[RD_KEY_LEN],
    struct rd_err *err)
{
	struct stat sb;
	char shown[PATH_MAX];

	if (fstatat(st->dfd, "ship.key", &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		return rd_err_sys(err, RD_EIO, "cannot stat '%s/ship.key'",
		    st->path);
	}
	snprintf(shown, sizeof(shown), "%s/ship.key", st->path);
	if (key_load_at(st->dfd, "ship.key", shown, key, err) == -1)
		return -1;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Helpers */

static int
put_f64(struct rdi_buf *b, double v, struct rd_err *err)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return rdi_put_u64(b, u, err);
}

static int
get_f64(struct rdi_msg *m, double *v)
{
	uint64_t u;
	int r = rdi_get_u64(m, &u);

	memcpy(v, &u, sizeof(*v));
	return r;
}

static void
msg_init(struct rdi_msg *m, const struct rdi_buf *b)
{
	m->p = b->data;
	m->len = b->len;
	m->pos = 0;
	m->bad = 0;
}

static int
msg_done(struct rdi_msg *m, const char *what, struct rd_err *err)
{
	if (m->bad || m->pos != m->len)
		return rd_err_set(err, RD_ECORRUPT, "malformed %s frame", what);
	return 0;
}

/* Whether "s" is a store id: a UUID as 36 lowercase characters. */
static int
uuid_ok(const char *s)
{
	int i;

	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		               (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return s[36] == '\0';
}

/*
 * Control characters of a text meant for people (a label, a reason) as
 * '?': the tools print these as they are, and they came from a stream.
 */
static void
tame(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static uint64_t
codec_mask(const struct rd_store *st)
{
	return 1u << RD_CODEC_RAW | 1u << RD_CODEC_ZLIB | 1u << st->info.codec;
}

static uint64_t
available_mask(void)
{
	uint64_t m = 0;
	int c;

	for (c = 0; c <= RD_CODEC_ZSTD; c++)
		if (rd_codec_available(c))
			m |= 1u << c;
	return m;
}

static void
progress(const struct rd_ship_opts *o, struct rdi_chan *ch, int64_t total,
    double *last)
{
	double now;

	if (o->progress == NULL)
		return;
	now = rd_monotonic();
	if (now - *last < 0.1)
		return;
	*last = now;
	o->progress(o->progress_arg,
	    ch->bytes_out > ch->bytes_in ? ch->bytes_out : ch->bytes_in, total);
}

/* ------------------------------------------------------------------ */
/* Sending */

struct sender {
	struct rd_store *st;
	const struct rd_ship_opts *opts;
	struct rd_ship_result *res;
	struct rdi_chan ch;
	struct rdi_packcache *pc;
	struct rdi_buf buf;
	int64_t since, newest;
	int64_t total; /* estimated bytes, for progress */
	double last;
	char peer[40]; /* push: the receiving store's uuid */
};

static int
send_hello(struct sender *s, int mode, struct rd_err *err)
{
	s->buf.len = 0;
	if (rdi_put_str(&s->buf, s->st->info.uuid, err) == -1 ||
	    rdi_put_u64(&s->buf, (uint64_t)s->st->info.epoch, err) == -1 ||
	    rdi_put_u64(&s->buf, (uint64_t)mode, err) == -1 ||
	    rdi_put_u64(&s->buf, (uint64_t)s->since, err) == -1 ||
	    rdi_put_u64(&s->buf, (uint64_t)s->newest, err) == -1 ||
	    rdi_put_u64(&s->buf, codec_mask(s->st), err) == -1)
		return -1;
	return rdi_chan_send(&s->ch, F_HELLO, s->buf.data, s->buf.len, err);
}

/* Stream one object (content or signature) as stored. */
static int
send_object(struct sender *s, const char *pack, int64_t off, int64_t len,
    int64_t extra, struct rd_err *err)
{
	unsigned char hdr[RDI_OBJ_HDR], x[8], *chunk = NULL;
	struct rdi_objhdr h;
	int64_t left, pos;
	size_t want;
	int fd, i, ret = -1;

	fd = rdi_packcache_fd(s->pc, pack, err);
	if (fd == -1)
		return -1;
	if (off < 0 || off > RDI_MAX_SIZE)
		return rd_err_set(err, RD_ECORRUPT,
		    "pack '%s' offset %lld: impossible offset", pack,
		    (long long)off);
	if (rdi_pread_exact(fd, hdr, sizeof(hdr), (off_t)off, pack, err) == -1)
		return -1;
	/* what goes out is what the header announces, checked */
	if (rdi_objhdr_decode(hdr, &h, err) == -1 || h.len != len)
		return rd_err_set(err, RD_ECORRUPT,
		    "pack '%s' offset %lld: object header disagrees with the catalog (run rdsnap verify)",
		    pack, (long long)off);
	for (i = 0; i < 8; i++)
		x[i] = (unsigned char)((uint64_t)extra >> (8 * i));
	chunk = malloc(CHUNK);
	if (chunk == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (rdi_chan_begin(&s->ch, F_OBJECT, 8 + RDI_OBJ_HDR + (uint64_t)len,
	        err) == -1 ||
	    rdi_chan_write(&s->ch, x, 8, err) == -1 ||
	    rdi_chan_write(&s->ch, hdr, sizeof(hdr), err) == -1)
		goto out;
	left = len;
	pos = off + RDI_OBJ_HDR;
	while (left > 0) {
		want = left > CHUNK ? CHUNK : (size_t)left;
		if (rdi_pread_exact(fd, chunk, want, (off_t)pos, pack, err) ==
		        -1 ||
		    rdi_chan_write(&s->ch, chunk, want, err) == -1)
			goto out;
		left -= (int64_t)want;
		pos += (int64_t)want;
		progress(s->opts, &s->ch, s->total, &s->last);
	}
	if (rdi_chan_end(&s->ch, err) == -1)
		goto out;
	ret = 0;
out:
	free(chunk);
	return ret;
}

static const char sql_candidates[] =
    "SELECT c.sha, p.name, c.off, c.len, s.block, sp.name, s.off, s.len"
    " FROM contents c JOIN packs p ON p.id = c.pack"
    " LEFT JOIN signatures s ON s.sha = c.sha"
    " LEFT JOIN packs sp ON sp.id = s.pack"
    " WHERE c.sha IN (SELECT sha FROM entries WHERE first > ?1"
    " AND first <= ?2 AND sha IS NOT NULL)"
    " ORDER BY c.depth, c.pack, c.off";

struct cand {
	unsigned char sha[RD_HASH_LEN];
	char pack[33];
	int64_t off, len;
	int has_sig;
	int64_t block;
	char sig_pack[33];
	int64_t sig_off, sig_len;
};

static void
cand_from_row(sqlite3_stmt *q, struct cand *c)
{
	memset(c, 0, sizeof(*c));
	if (sqlite3_column_bytes(q, 0) == RD_HASH_LEN)
		memcpy(c->sha, sqlite3_column_blob(q, 0), RD_HASH_LEN);
	rdi_column_copy(q, 1, c->pack, sizeof(c->pack), "");
	c->off = sqlite3_column_int64(q, 2);
	c->len = sqlite3_column_int64(q, 3);
	if (sqlite3_column_type(q, 4) != SQLITE_NULL) {
		c->has_sig = 1;
		c->block = sqlite3_column_int64(q, 4);
		rdi_column_copy(q, 5, c->sig_pack, sizeof(c->sig_pack), "");
		c->sig_off = sqlite3_column_int64(q, 6);
		c->sig_len = sqlite3_column_int64(q, 7);
	}
}

static int
send_cand(struct sender *s, const struct cand *c, struct rd_err *err)
{
	if (send_object(s, c->pack, c->off, c->len, 0, err) == -1)
		return -1;
	s->res->objects++;
	s->res->object_bytes += c->len;
	if (c->has_sig &&
	    send_object(s, c->sig_pack, c->sig_off, c->sig_len, c->block,
	        err) == -1)
		return -1;
	return 0;
}

/*
 * Send the objects of the range.  In a push session, ask the receiver
 * about each batch first and skip what it has.
 */
static int
send_objects(struct sender *s, int push, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct cand *batch = NULL;
	struct rdi_buf reply = { NULL, 0, 0 };
	int n, i, r, type, ret = -1, done = 0;

	if (rdi_db_prepare(s->st->db, sql_candidates, &q, err) == -1)
		return -1;
	sqlite3_bind_int64(q, 1, s->since);
	sqlite3_bind_int64(q, 2, s->newest);
	batch = calloc(QUERY_BATCH, sizeof(*batch));
	if (batch == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	while (!done) {
		for (n = 0; n < QUERY_BATCH; n++) {
			r = rdi_db_step(s->st->db, q, err);
			if (r == -1)
				goto out;
			if (r == 0) {
				done = 1;
				break;
			}
			cand_from_row(q, &batch[n]);
		}
		if (n == 0)
			break;
		if (!push) {
			for (i = 0; i < n; i++)
				if (send_cand(s, &batch[i], err) == -1)
					goto out;
			continue;
		}
		s->buf.len = 0;
		for (i = 0; i < n; i++)
			if (rdi_buf_append(&s->buf, batch[i].sha, RD_HASH_LEN,
			        err) == -1)
				goto out;
		if (rdi_chan_send(&s->ch, F_QUERY, s->buf.data, s->buf.len,
		        err) == -1 ||
		    rdi_chan_flush(&s->ch, err) == -1)
			goto out;
		if (rdi_chan_recv(&s->ch, &type, &reply, SMALL_FRAME, err) ==
		    -1)
			goto out;
		if (type != F_MISSING || reply.len != (size_t)(n + 7) / 8) {
			rd_err_set(err, RD_ECORRUPT,
			    "unexpected answer from the receiver");
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (reply.data[i / 8] & (1u << (i % 8))) {
				if (send_cand(s, &batch[i], err) == -1)
					goto out;
			} else {
				s->res->skipped++;
				s->res->skipped_bytes += batch[i].len;
			}
		}
	}
	ret = 0;
out:
	rdi_buf_release(&reply);
	free(batch);
	sqlite3_finalize(q);
	return ret;
}

static int
send_snapshots(struct sender *s, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	const unsigned char *t;
	int r, i, ret = -1;

	if (rdi_db_prepare(s->st->db,
	        "SELECT id, started, finished, label,"
	        " source, files, bytes, bytes_read, bytes_added, stored, changed,"
	        " removed, inconsistent, skipped, partial FROM snapshots"
	        " WHERE state = 'complete' AND id > ? AND id <= ? ORDER BY id",
	        &q, err) == -1)
		return -1;
	sqlite3_bind_int64(q, 1, s->since);
	sqlite3_bind_int64(q, 2, s->newest);
	for (;;) {
		r = rdi_db_step(s->st->db, q, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		s->buf.len = 0;
		if (rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 0),
		        err) == -1 ||
		    put_f64(&s->buf, sqlite3_column_double(q, 1), err) == -1 ||
		    put_f64(&s->buf, sqlite3_column_double(q, 2), err) == -1)
			goto out;
		for (i = 3; i <= 4; i++) {
			t = sqlite3_column_text(q, i);
			if (rdi_put_str(&s->buf, (const char *)t, err) == -1)
				goto out;
		}
		for (i = 5; i <= 14; i++)
			if (rdi_put_u64(&s->buf,
			        (uint64_t)sqlite3_column_int64(q, i),
			        err) == -1)
				goto out;
		if (rdi_chan_send(&s->ch, F_SNAP, s->buf.data, s->buf.len,
		        err) == -1)
			goto out;
		s->res->snapshots++;
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

static int
flush_rows(struct sender *s, int type, struct rd_err *err)
{
	if (s->buf.len == 0)
		return 0;
	if (rdi_chan_send(&s->ch, type, s->buf.data, s->buf.len, err) == -1)
		return -1;
	s->buf.len = 0;
	return 0;
}

static int
send_rows(struct sender *s, int64_t *nrows, int64_t *ncloses,
    struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r, ret = -1;

	/* rows that begin in the range */
	if (rdi_db_prepare(s->st->db,
	        "SELECT path, first, last, type, mode,"
	        " uid, gid, size, mtime, sha, target, unstable FROM entries"
	        " WHERE first > ?1 AND first <= ?2 ORDER BY first, path",
	        &q, err) == -1)
		return -1;
	sqlite3_bind_int64(q, 1, s->since);
	sqlite3_bind_int64(q, 2, s->newest);
	s->buf.len = 0;
	for (;;) {
		r = rdi_db_step(s->st->db, q, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		if (rdi_put_bytes(&s->buf, sqlite3_column_blob(q, 0),
		        (size_t)sqlite3_column_bytes(q, 0), err) == -1 ||
		    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 1),
		        err) == -1 ||
		    rdi_put_u64(&s->buf,
		        sqlite3_column_type(q, 2) == SQLITE_NULL
		            ? 0
		            : (uint64_t)sqlite3_column_int64(q, 2),
		        err) == -1 ||
		    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 3),
		        err) == -1 ||
		    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 4),
		        err) == -1 ||
		    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 5),
		        err) == -1 ||
		    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 6),
		        err) == -1 ||
		    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 7),
		        err) == -1 ||
		    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 8),
		        err) == -1 ||
		    rdi_put_bytes(&s->buf, sqlite3_column_blob(q, 9),
		        (size_t)sqlite3_column_bytes(q, 9), err) == -1 ||
		    rdi_put_bytes(&s->buf, sqlite3_column_blob(q, 10),
		        (size_t)sqlite3_column_bytes(q, 10), err) == -1 ||
		    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 11),
		        err) == -1)
			goto out;
		(*nrows)++;
		if (s->buf.len >= ROWS_FRAME &&
		    flush_rows(s, F_ENTRIES, err) == -1)
			goto out;
	}
	if (flush_rows(s, F_ENTRIES, err) == -1)
		goto out;
	sqlite3_finalize(q);
	q = NULL;
	/* rows the receiver has open that end in the range */
	if (rdi_db_prepare(s->st->db,
	        "SELECT path, first, last FROM entries"
	        " WHERE last >= ?1 AND last < ?2 AND first <= ?1 ORDER BY path",
	        &q, err) == -1)
		return -1;
	sqlite3_bind_int64(q, 1, s->since);
	sqlite3_bind_int64(q, 2, s->newest);
	for (;;) {
		r = rdi_db_step(s->st->db, q, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		if (rdi_put_bytes(&s->buf, sqlite3_column_blob(q, 0),
		        (size_t)sqlite3_column_bytes(q, 0), err) == -1 ||
		    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 1),
		        err) == -1 ||
		    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 2),
		        err) == -1)
			goto out;
		(*ncloses)++;
		if (s->buf.len >= ROWS_FRAME &&
		    flush_rows(s, F_CLOSES, err) == -1)
			goto out;
	}
	if (flush_rows(s, F_CLOSES, err) == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

/* The paths the snapshots of the range could not read as they were. */
static int
send_problems(struct sender *s, int64_t *nproblems, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r, ret = -1;

	if (rdi_db_prepare(s->st->db,
	        "SELECT snapshot, path, problem, reason FROM snapshot_problems"
	        " WHERE snapshot > ?1 AND snapshot <= ?2 ORDER BY snapshot, path",
	        &q, err) == -1)
		return -1;
	sqlite3_bind_int64(q, 1, s->since);
	sqlite3_bind_int64(q, 2, s->newest);
	s->buf.len = 0;
	while ((r = rdi_db_step(s->st->db, q, err)) == 1) {
		if (rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 0),
		        err) == -1 ||
		    rdi_put_bytes(&s->buf, sqlite3_column_blob(q, 1),
		        (size_t)sqlite3_column_bytes(q, 1), err) == -1 ||
		    rdi_put_str(&s->buf,
		        (const char *)sqlite3_column_text(q, 2), err) == -1 ||
		    rdi_put_str(&s->buf,
		        (const char *)sqlite3_column_text(q, 3), err) == -1)
			goto out;
		(*nproblems)++;
		if (s->buf.len >= ROWS_FRAME &&
		    flush_rows(s, F_PROBLEMS, err) == -1)
			goto out;
	}
	if (r == -1 || flush_rows(s, F_PROBLEMS, err) == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

static int
estimate(struct sender *s, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r;

	if (rdi_db_prepare(s->st->db,
	        "SELECT COALESCE(SUM(len), 0) FROM"
	        " contents WHERE sha IN (SELECT sha FROM entries WHERE first > ?1"
	        " AND first <= ?2 AND sha IS NOT NULL)",
	        &q, err) == -1)
		return -1;
	sqlite3_bind_int64(q, 1, s->since);
	sqlite3_bind_int64(q, 2, s->newest);
	r = rdi_db_step(s->st->db, q, err);
	if (r == 1)
		s->total = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return r == -1 ? -1 : 0;
}

/*
 * Receive the receiver's answer frame of type "want" into "b" and start
 * decoding it into "m": its verdict comes first (a code and a message);
 * a refusal becomes our error with the receiver's code.  Returns 0 or -1.
 */
static int
recv_verdict(struct sender *s, int want, struct rdi_buf *b, struct rdi_msg *m,
    struct rd_err *err)
{
	uint64_t code;
	char msg[256];
	int type;

	if (rdi_chan_recv(&s->ch, &type, b, SMALL_FRAME, err) == -1)
		return -1;
	if (type != want)
		return rd_err_set(err, RD_ECORRUPT,
		    "unexpected answer from the receiver");
	msg_init(m, b);
	rdi_get_u64(m, &code);
	rdi_get_str(m, msg, sizeof(msg));
	if (m->bad)
		return rd_err_set(err, RD_ECORRUPT,
		    "malformed answer from the receiver");
	if (code != RD_OK)
		return rd_err_set(err,
		    code <= RD_EPERM ? (enum rd_code)code : RD_EINTERNAL,
		    "receiver: %s", msg);
	return 0;
}

static int
recv_result(struct sender *s, struct rd_err *err)
{
	struct rdi_buf b = { NULL, 0, 0 };
	struct rdi_msg m;
	int64_t newest, rv, rf;
	int ret = -1;

	if (recv_verdict(s, F_RESULT, &b, &m, err) == -1)
		goto out;
	rdi_get_i64(&m, &newest);
	rdi_get_i64(&m, &rv);
	rdi_get_i64(&m, &rf);
	if (msg_done(&m, "result", err) == -1)
		goto out;
	s->res->newest = newest;
	s->res->replica_version = rv;
	s->res->replica_files = rf;
	ret = 0;
out:
	rdi_buf_release(&b);
	return ret;
}

/* Read the receiver's HAVE: its verdict and its newest snapshot. */
static int
recv_have(struct sender *s, struct rd_err *err)
{
	struct rdi_buf b = { NULL, 0, 0 };
	struct rdi_msg m;
	uint64_t avail;
	int64_t newest, epoch;
	char uuid[40];
	int keyed, ret = -1;

	if (rdi_chan_recv_preamble(&s->ch, &keyed, err) == -1)
		goto out;
	if (keyed != s->ch.keyed) {
		rd_err_set(err, RD_EPERM,
		    keyed
		        ? "the receiving store requires a key: give --key"
		        : "the receiving store has no key: put this key in its ship.key");
		goto out;
	}
	if (recv_verdict(s, F_HAVE, &b, &m, err) == -1)
		goto out;
	rdi_get_str(&m, uuid, sizeof(uuid));
	rdi_get_i64(&m, &newest);
	rdi_get_i64(&m, &epoch);
	rdi_get_u64(&m, &avail);
	if (msg_done(&m, "have", err) == -1)
		goto out;
	if (!uuid_ok(uuid) || newest < 0 || newest >= RDI_MAX_SIZE) {
		rd_err_set(err, RD_ECORRUPT,
		    "malformed answer from the receiver: its store id or newest snapshot is impossible");
		goto out;
	}
	if ((codec_mask(s->st) & ~avail) != 0) {
		rd_err_set(err, RD_EUNAVAIL,
		    "the receiver cannot read codec '%s' of this store",
		    rd_codec_name(s->st->info.codec));
		goto out;
	}
	if (newest > s->newest) {
		rd_err_set(err, RD_EPERM,
		    "the receiver has snapshot %lld, newer than this store's newest (%lld): is this the store it follows?",
		    (long long)newest, (long long)s->newest);
		goto out;
	}
	s->since = newest;
	s->res->from = newest;
	snprintf(s->peer, sizeof(s->peer), "%s", uuid);
	ret = 0;
out:
	rdi_buf_release(&b);
	return ret;
}

/*
 * Rows are sent as changes since the receiver's newest snapshot, so that
 * snapshot must still be here: prune keeps the one each standby confirmed,
 * but a bundle's --since or a standby that was never pushed to may name
 * one that is gone.
 */
static int
check_since(struct sender *s, struct rd_err *err)
{
	struct rd_err e2 = RD_ERR_INIT;

	if (s->since == 0 || s->since == s->newest)
		return 0;
	if (rd_snap_get(s->st, s->since, NULL, &e2) == 0)
		return 0;
	if (e2.code != RD_ENOENT) {
		*err = e2;
		return -1;
	}
	return rd_err_set(err, RD_ENOENT,
	    "snapshot %lld, the receiver's newest, is no longer in '%s' (pruned): re-seed the receiver from a new store",
	    (long long)s->since, s->st->path);
}

/*
 * Remember on this store that the standby "peer" holds snapshot "id", so
 * that prune keeps it as the base of the next push.
 */
static int
record_standby(struct rd_store *st, const char *peer, int64_t id,
    struct rd_err *err)
{
	char key[64], val[64];

	snprintf(key, sizeof(key), "standby:%s", peer);
	snprintf(val, sizeof(val), "%lld %.0f", (long long)id, rd_now());
	return rdi_meta_set(st->db, key, val, err);
}

static int
do_send(struct rd_store *st, int fd_in, int fd_out, int push,
    const struct rd_ship_opts *opts, struct rd_ship_result *res,
    struct rd_err *err)
{
	struct sender s;
	struct rd_snapinfo si;
	struct rd_err e2 = RD_ERR_INIT;
	int64_t nrows = 0, ncloses = 0, nproblems = 0;
	double t0 = rd_monotonic();
	int ret = -1, in_txn = 0;

	memset(&s, 0, sizeof(s));
	memset(res, 0, sizeof(*res));
	res->replica_version = -1;
	s.st = st;
	s.opts = opts;
	s.res = res;
	s.since = push ? 0 : opts->since;
	if (rdi_chan_init(&s.ch, fd_in, fd_out, opts->key, 1, err) == -1)
		return -1;
	s.pc = rdi_packcache_new(st);
	if (s.pc == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	/* one read transaction: a consistent view while shipping */
	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		goto out;
	in_txn = 1;
	if (rd_snap_get(st, 0, &si, err) == -1)
		goto out;
	s.newest = si.id;
	if (!push && s.since > s.newest) {
		rd_err_set(err, RD_ENOENT, "no snapshot %lld in '%s'",
		    (long long)s.since, st->path);
		goto out;
	}
	snprintf(res->origin, sizeof(res->origin), "%s", st->info.uuid);
	res->epoch = st->info.epoch;
	res->from = s.since;
	res->newest = s.newest;
	if (rdi_chan_send_preamble(&s.ch, err) == -1 ||
	    send_hello(&s, push ? MODE_PUSH : MODE_BUNDLE, err) == -1)
		goto out;
	if (push) {
		if (rdi_chan_flush(&s.ch, err) == -1 ||
		    recv_have(&s, err) == -1)
			goto out;
	}
	if (check_since(&s, err) == -1)
		goto out;
	if (s.since < s.newest) {
		if (estimate(&s, err) == -1 ||
		    send_objects(&s, push, err) == -1 ||
		    send_snapshots(&s, err) == -1 ||
		    send_rows(&s, &nrows, &ncloses, err) == -1 ||
		    send_problems(&s, &nproblems, err) == -1)
			goto out;
	}
	s.buf.len = 0;
	if (rdi_put_u64(&s.buf, (uint64_t)res->objects, err) == -1 ||
	    rdi_put_u64(&s.buf, (uint64_t)res->snapshots, err) == -1 ||
	    rdi_put_u64(&s.buf, (uint64_t)nrows, err) == -1 ||
	    rdi_put_u64(&s.buf, (uint64_t)ncloses, err) == -1 ||
	    rdi_put_u64(&s.buf, (uint64_t)nproblems, err) == -1 ||
	    rdi_chan_send(&s.ch, F_END, s.buf.data, s.buf.len, err) == -1 ||
	    rdi_chan_flush(&s.ch, err) == -1)
		goto out;
	if (push && recv_result(&s, err) == -1)
		goto out;
	res->seconds = rd_monotonic() - t0;
	ret = 0;
out:
	res->wire_bytes = s.ch.bytes_out;
	res->received = s.ch.bytes_in;
	if (in_txn)
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (ret == 0 && push &&
	    record_standby(st, s.peer, s.newest, &e2) == -1 &&
	    opts->notice != NULL) {
		char msg[sizeof(e2.msg) + 64];

		snprintf(msg, sizeof(msg),
		    "could not record the standby's snapshot: %s", e2.msg);
		opts->notice(opts->notice_arg, msg);
	}
	rdi_packcache_free(s.pc);
	rdi_buf_release(&s.buf);
	rdi_chan_release(&s.ch);
	return ret;
}

int
rd_ship_send(struct rd_store *st, int fd, const struct rd_ship_opts *opts,
    struct rd_ship_result *res, struct rd_err *err)
{
	return do_send(st, -1, fd, 0, opts, res, err);
}

int
rd_ship_push(struct rd_store *st, int fd_in, int fd_out,
    const struct rd_ship_opts *opts, struct rd_ship_result *res,
    struct rd_err *err)
{
	return do_send(st, fd_in, fd_out, 1, opts, res, err);
}

/* ------------------------------------------------------------------ */
/* Receiving */

struct robj {
	unsigned char sha[RD_HASH_LEN];
	unsigned char base[RD_HASH_LEN];
	int kind, codec;
	int64_t size, off, len, block;
	int64_t csize; /* a signature: its content's size */
};

struct receiver {
	struct rd_store *st;
	const struct rd_ship_opts *opts;
	struct rd_ship_result *res;
	struct rdi_chan ch;
	int push;
	struct rdi_buf buf;
	/* the open object batch */
	struct rdi_packw pw;
	int pw_open;
	struct robj *objs;
	size_t nobjs, cap_objs;
	unsigned char *chunk;
	/* HELLO */
	char origin[40];
	int64_t epoch, since, newest;
	uint64_t codecs;
	int skip;     /* nothing new: drain and check only */
	int skip_obj; /* this object is here already */
	sqlite3_stmt *has_content, *has_sig;
	int rows_txn;
	int64_t last_snap;
	int64_t nrows, ncloses, nsnaps, nobjects, nproblems;
	int rank; /* of the last frame, by frame_rank() */
	double last;
};

static int
null_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	(void)arg;
	(void)buf;
	(void)len;
	(void)err;
	return 0;
}

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
check_sig(struct rdi_packcache *pc, const char *pack, const struct robj *o,
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
 * against the cached bytes of its base when the cache has them (a delta
 * that fails there is rebuilt from the store before it is judged), else
 * rebuilt from the store; a large content's bytes are kept in the cache
 * for the next delta, and its base's, superseded, are dropped.
 */
static int
verify_content(struct receiver *r, struct rdi_packcache *pc,
    struct rdi_bcache *bc, int tmpfd, const struct robj *o, struct rd_err *err)
{
	struct rdi_bcache_w w;
	struct rd_err e2 = RD_ERR_INIT;
	int basis = -1, k = 0, keep = o->size >= RDI_BCACHE_MIN;

	if (keep)
		rdi_bcache_begin(bc, o->sha, null_sink, NULL, &w);
	if (o->kind == RDI_OBJ_DELTA)
		basis = rdi_bcache_get(bc, o->base);
	if (basis != -1) {
		k = rdi_content_patch(r->st, r->st->db, pc, o->sha, o->base,
		    basis, keep ? rdi_bcache_sink : null_sink,
		    keep ? (void *)&w : NULL, &e2);
		close(basis);
		if (k == -1 && e2.code != RD_ECORRUPT) {
			*err = e2;
			goto fail;
		}
		rdi_bcache_drop(bc, o->base);
		if (k != 1 && keep) {
			rdi_bcache_end(&w, 0);
			rdi_bcache_begin(bc, o->sha, null_sink, NULL, &w);
		}
	}
	if (k != 1 &&
	    rdi_content_read(r->st, r->st->db, pc, o->sha, tmpfd,
	        keep ? rdi_bcache_sink : null_sink, keep ? (void *)&w : NULL,
	        err) == -1)
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
verify_batch(struct receiver *r, struct rd_err *err)
{
	struct rd_store *st = r->st;
	struct rdi_packcache *pc = NULL;
	struct rdi_bcache bc;
	const struct robj *o;
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
delta_depth(sqlite3 *db, sqlite3_stmt *dep, const struct robj *o, int *depth,
    struct rd_err *err)
{
	char hex[2 * RD_HASH_LEN + 1];
	int k;

	sqlite3_reset(dep);
	sqlite3_bind_blob(dep, 1, o->base, RD_HASH_LEN, SQLITE_STATIC);
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
record_content(struct receiver *r, sqlite3_stmt *ins, sqlite3_stmt *dep,
    struct robj *o, struct rd_err *err)
{
	int depth = 0;

	if (o->kind == RDI_OBJ_DELTA &&
	    delta_depth(r->st->db, dep, o, &depth, err) == -1)
		return -1;
	sqlite3_reset(ins);
	sqlite3_bind_blob(ins, 1, o->sha, RD_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 2, o->size);
	sqlite3_bind_int(ins, 3, o->kind);
	sqlite3_bind_int(ins, 4, o->codec);
	if (o->kind == RDI_OBJ_DELTA)
		sqlite3_bind_blob(ins, 5, o->base, RD_HASH_LEN, SQLITE_STATIC);
	else
		sqlite3_bind_null(ins, 5);
	sqlite3_bind_int(ins, 6, depth);
	sqlite3_bind_int64(ins, 7, r->pw.id);
	sqlite3_bind_int64(ins, 8, o->off);
	sqlite3_bind_int64(ins, 9, o->len);
	return rdi_db_step(r->st->db, ins, err) == -1 ? -1 : 0;
}

/*
 * Record a signature of the batch: its content must be in the store or
 * the batch, and its size is what the signature must cover.
 */
static int
record_sig(struct receiver *r, sqlite3_stmt *sig, sqlite3_stmt *size,
    struct robj *o, struct rd_err *err)
{
	char hex[2 * RD_HASH_LEN + 1];
	int k;

	sqlite3_reset(size);
	sqlite3_bind_blob(size, 1, o->sha, RD_HASH_LEN, SQLITE_STATIC);
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
	sqlite3_reset(sig);
	sqlite3_bind_blob(sig, 1, o->sha, RD_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(sig, 2, o->block);
	sqlite3_bind_int64(sig, 3, r->pw.id);
	sqlite3_bind_int64(sig, 4, o->off);
	sqlite3_bind_int64(sig, 5, o->len);
	return rdi_db_step(r->st->db, sig, err) == -1 ? -1 : 0;
}

/* Record the batch's pack and objects in the open transaction. */
static int
record_batch(struct receiver *r, int64_t size, struct rd_err *err)
{
	sqlite3 *db = r->st->db;
	sqlite3_stmt *ins = NULL, *sig = NULL, *pk = NULL, *dep = NULL,
	             *csz = NULL;
	struct robj *o;
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
	sqlite3_bind_int64(pk, 1, r->pw.id);
	sqlite3_bind_text(pk, 2, r->pw.name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(pk, 3, size);
	if (rdi_db_step(db, pk, err) == -1)
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
static int
commit_batch(struct receiver *r, struct rd_err *err)
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
have_object(struct receiver *r, const struct rdi_objhdr *h, struct rd_err *err)
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
	sqlite3_reset(*q);
	sqlite3_bind_blob(*q, 1, h->sha, RD_HASH_LEN, SQLITE_TRANSIENT);
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

/* Receive an OBJECT frame of "len" bytes into the batch pack. */
static int
recv_object(struct receiver *r, uint64_t len, struct rd_err *err)
{
	unsigned char x[8], hdr[RDI_OBJ_HDR];
	struct rdi_objhdr h;
	struct robj *o;
	int64_t id, off, plen;
	uint64_t left;
	uint32_t crc;
	size_t want;
	int i;

	if (len < 8 + RDI_OBJ_HDR)
		return rd_err_set(err, RD_ECORRUPT, "malformed object frame");
	if (rdi_chan_read(&r->ch, x, 8, err) == -1 ||
	    rdi_chan_read(&r->ch, hdr, sizeof(hdr), err) == -1)
		return -1;
	if (rdi_objhdr_decode(hdr, &h, err) == -1)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: bad object header");
	if ((uint64_t)h.len != len - 8 - RDI_OBJ_HDR)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: object length mismatch");
	if (object_bad(&h, rdi_get_le64(x)))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: impossible object header");
	if (!(r->codecs & (1u << h.codec)) || !rd_codec_available(h.codec))
		return rd_err_set(err, RD_EUNAVAIL,
		    "object uses codec '%s', which this build lacks",
		    rd_codec_name(h.codec));
	if (!r->skip) {
		int have = have_object(r, &h, err);

		if (have == -1)
			return -1;
		if (have == 1 && h.kind != RDI_OBJ_SIG) {
			r->res->skipped++;
			r->res->skipped_bytes += h.len;
		}
		r->skip_obj = have;
	}
	if (r->skip || r->skip_obj) {
		/* drain: the MAC still proves the stream intact */
		if (h.kind != RDI_OBJ_SIG)
			r->nobjects++;
		for (left = (uint64_t)h.len; left > 0; left -= want) {
			want = left > CHUNK ? CHUNK : (size_t)left;
			if (rdi_chan_read(&r->ch, r->chunk, want, err) == -1)
				return -1;
		}
		return rdi_chan_finish(&r->ch, err);
	}
	if (r->pw_open && r->pw.off >= BATCH_BYTES &&
	    commit_batch(r, err) == -1)
		return -1;
	if (!r->pw_open) {
		if (rdi_next_pack_id(r->st, &id, err) == -1 ||
		    rdi_packw_open(r->st, id, &r->pw, err) == -1)
			return -1;
		r->pw_open = 1;
	}
	if (rdi_packw_begin(&r->pw, h.kind, h.codec, h.sha,
	        h.kind == RDI_OBJ_DELTA ? h.base : NULL, err) == -1)
		return -1;
	crc = 0;
	for (left = (uint64_t)h.len; left > 0; left -= want) {
		want = left > CHUNK ? CHUNK : (size_t)left;
		if (rdi_chan_read(&r->ch, r->chunk, want, err) == -1 ||
		    rdi_packw_sink(&r->pw, r->chunk, want, err) == -1)
			return -1;
		progress(r->opts, &r->ch, 0, &r->last);
	}
	crc = r->pw.crc;
	if (rdi_chan_finish(&r->ch, err) == -1)
		return -1;
	if (crc != h.crc)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: object payload checksum mismatch");
	if (rdi_packw_end(&r->pw, h.raw_size, &off, &plen, err) == -1)
		return -1;
	if (r->nobjs == r->cap_objs) {
		size_t n = r->cap_objs != 0 ? r->cap_objs * 2 : 256;

		o = realloc(r->objs, n * sizeof(*o));
		if (o == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		r->objs = o;
		r->cap_objs = n;
	}
	o = &r->objs[r->nobjs++];
	memcpy(o->sha, h.sha, RD_HASH_LEN);
	memcpy(o->base, h.base, RD_HASH_LEN);
	o->kind = h.kind;
	o->codec = h.codec;
	o->size = h.raw_size;
	o->off = off;
	o->len = plen;
	o->block = 0;
	for (i = 7; i >= 0; i--)
		o->block = o->block << 8 | x[i];
	if (h.kind != RDI_OBJ_SIG) {
		r->nobjects++;
		r->res->objects++;
		r->res->object_bytes += plen;
	}
	return 0;
}

/* Answer a QUERY: a bit set for every object this store lacks. */
static int
answer_query(struct receiver *r, struct rd_err *err)
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
		sqlite3_reset(q);
		sqlite3_bind_blob(q, 1, r->buf.data + i * RD_HASH_LEN,
		    RD_HASH_LEN, SQLITE_STATIC);
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

static int
begin_rows(struct receiver *r, struct rd_err *err)
{
	if (r->rows_txn || r->skip)
		return 0;
	if (commit_batch(r, err) == -1)
		return -1;
	if (rdi_db_exec(r->st->db, "BEGIN IMMEDIATE", err) == -1)
		return -1;
	r->rows_txn = 1;
	return 0;
}

/* Open the rows transaction and prepare "sql", unless only checking. */
static int
rows_stmt(struct receiver *r, const char *sql, sqlite3_stmt **q,
    struct rd_err *err)
{
	if (r->skip)
		return 0;
	if (begin_rows(r, err) == -1)
		return -1;
	return rdi_db_prepare(r->st->db, sql, q, err);
}

static int
recv_snap(struct receiver *r, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct rdi_msg m;
	int64_t id, v[10];
	double started, finished;
	char label[256], source[4096];
	int i, ret = -1;

	msg_init(&m, &r->buf);
	rdi_get_i64(&m, &id);
	get_f64(&m, &started);
	get_f64(&m, &finished);
	rdi_get_str(&m, label, sizeof(label));
	tame(label);
	rdi_get_str(&m, source, sizeof(source));
	for (i = 0; i < 10; i++)
		rdi_get_i64(&m, &v[i]);
	if (msg_done(&m, "snapshot", err) == -1)
		return -1;
	for (i = 0; i < 10; i++)
		if (v[i] < 0)
			return rd_err_set(err, RD_ECORRUPT,
			    "stream is damaged: snapshot %lld has a negative count",
			    (long long)id);
	/* a clock stepped back may end a snapshot before it started */
	if (!isfinite(started) || !isfinite(finished) || started < 0 ||
	    finished < 0 || started > 1e12 || finished > 1e12)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: snapshot %lld has impossible times",
		    (long long)id);
	if (id <= r->last_snap || id <= r->since || id > r->newest)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: snapshot %lld out of order",
		    (long long)id);
	r->last_snap = id;
	r->nsnaps++;
	if (r->skip)
		return 0;
	if (begin_rows(r, err) == -1)
		return -1;
	if (rdi_db_prepare(r->st->db,
	        "INSERT INTO snapshots(id, state,"
	        " started, finished, label, source, files, bytes, bytes_read,"
	        " bytes_added, stored, changed, removed, inconsistent, skipped,"
	        " partial)"
	        " VALUES (?, 'complete', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &q, err) == -1)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_double(q, 2, started);
	sqlite3_bind_double(q, 3, finished);
	if (label[0] != '\0')
		sqlite3_bind_text(q, 4, label, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, source, -1, SQLITE_STATIC);
	for (i = 0; i < 10; i++)
		sqlite3_bind_int64(q, 6 + i, v[i]);
	if (rdi_db_step(r->st->db, q, err) == -1)
		goto out;
	r->res->snapshots++;
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

/* A catalog path from a stream: safe, and '/'-terminated for dirs. */
static int
check_path(const unsigned char *p, size_t n, int type, struct rd_err *err)
{
	char buf[PATH_MAX];

	if (n == 0)
		return type == RD_TYPE_DIR
		    ? 0
		    : rd_err_set(err, RD_ECORRUPT, "bundle has an empty path");
	if (n >= sizeof(buf) || memchr(p, '\0', n) != NULL)
		return rd_err_set(err, RD_ECORRUPT,
		    "bundle has an unsafe path");
	memcpy(buf, p, n);
	buf[n] = '\0';
	if (type == RD_TYPE_DIR) {
		if (buf[n - 1] != '/')
			return rd_err_set(err, RD_ECORRUPT,
			    "bundle has an unsafe path '%s'", buf);
		buf[n - 1] = '\0';
	}
	if (!rdi_path_safe(buf))
		return rd_err_set(err, RD_ECORRUPT,
		    "bundle has an unsafe path '%s'", buf);
	return 0;
}

static int
recv_entries(struct receiver *r, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct rdi_msg m;
	const unsigned char *path, *sha, *target;
	size_t plen, shalen, tlen;
	int64_t first, last, type, mode, uid, gid, size, mtime, unstable;
	int ret = -1;

	if (rows_stmt(r,
	        "INSERT INTO entries(path, first, last,"
	        " type, mode, uid, gid, size, mtime, sha, target, unstable)"
	        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	        &q, err) == -1)
		return -1;
	msg_init(&m, &r->buf);
	while (m.pos < m.len) {
		rdi_get_bytes(&m, &path, &plen);
		rdi_get_i64(&m, &first);
		rdi_get_i64(&m, &last);
		rdi_get_i64(&m, &type);
		rdi_get_i64(&m, &mode);
		rdi_get_i64(&m, &uid);
		rdi_get_i64(&m, &gid);
		rdi_get_i64(&m, &size);
		rdi_get_i64(&m, &mtime);
		rdi_get_bytes(&m, &sha, &shalen);
		rdi_get_bytes(&m, &target, &tlen);
		rdi_get_i64(&m, &unstable);
		if (m.bad) {
			rd_err_set(err, RD_ECORRUPT, "malformed entries frame");
			goto out;
		}
		if (first <= r->since || first > r->newest ||
		    (last != 0 && (last < first || last >= r->newest)) ||
		    (type != RD_TYPE_FILE && type != RD_TYPE_DIR &&
		        type != RD_TYPE_SYMLINK) ||
		    (type == RD_TYPE_FILE) != (shalen == RD_HASH_LEN) ||
		    (shalen != 0 && shalen != RD_HASH_LEN) ||
		    (type == RD_TYPE_SYMLINK &&
		        (tlen == 0 || tlen > 4096 ||
		            memchr(target, '\0', tlen) != NULL ||
		            size != (int64_t)tlen)) ||
		    (type == RD_TYPE_DIR && size != 0) || size < 0 ||
		    size > RDI_MAX_SIZE || uid < 0 || uid > UINT32_MAX ||
		    gid < 0 || gid > UINT32_MAX) {
			rd_err_set(err, RD_ECORRUPT,
			    "stream is damaged: bad entry row");
			goto out;
		}
		if (check_path(path, plen, (int)type, err) == -1)
			goto out;
		r->nrows++;
		if (r->skip)
			continue;
		sqlite3_reset(q);
		sqlite3_bind_blob(q, 1, path, (int)plen, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, first);
		if (last != 0)
			sqlite3_bind_int64(q, 3, last);
		else
			sqlite3_bind_null(q, 3);
		sqlite3_bind_int64(q, 4, type);
		sqlite3_bind_int64(q, 5, mode & 07777);
		sqlite3_bind_int64(q, 6, uid);
		sqlite3_bind_int64(q, 7, gid);
		sqlite3_bind_int64(q, 8, size);
		sqlite3_bind_int64(q, 9, mtime);
		if (shalen == RD_HASH_LEN)
			sqlite3_bind_blob(q, 10, sha, RD_HASH_LEN,
			    SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 10);
		if (type == RD_TYPE_SYMLINK)
			sqlite3_bind_blob(q, 11, target, (int)tlen,
			    SQLITE_STATIC);
		else
			sqlite3_bind_null(q, 11);
		sqlite3_bind_int64(q, 12, unstable != 0);
		if (rdi_db_step(r->st->db, q, err) == -1)
			goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

static int
recv_closes(struct receiver *r, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct rdi_msg m;
	const unsigned char *path;
	size_t plen;
	int64_t first, last;
	int ret = -1;

	if (rows_stmt(r,
	        "UPDATE entries SET last = ?"
	        " WHERE path = ? AND first = ? AND last IS NULL",
	        &q, err) == -1)
		return -1;
	msg_init(&m, &r->buf);
	while (m.pos < m.len) {
		rdi_get_bytes(&m, &path, &plen);
		rdi_get_i64(&m, &first);
		rdi_get_i64(&m, &last);
		if (m.bad || first > r->since || last < r->since ||
		    last >= r->newest) {
			rd_err_set(err, RD_ECORRUPT,
			    "stream is damaged: bad closing row");
			goto out;
		}
		r->ncloses++;
		if (r->skip)
			continue;
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, last);
		sqlite3_bind_blob(q, 2, path, (int)plen, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, first);
		if (rdi_db_step(r->st->db, q, err) == -1)
			goto out;
		if (sqlite3_changes(r->st->db) != 1) {
			rd_err_set(err, RD_ECORRUPT,
			    "bundle does not fit this store's history (is it a bundle of its origin?)");
			goto out;
		}
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

static int
recv_problems(struct receiver *r, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct rdi_msg m;
	const unsigned char *path;
	size_t plen;
	int64_t snap;
	char problem[16], reason[256];
	int ret = -1;

	if (rows_stmt(r,
	        "INSERT INTO snapshot_problems(snapshot, path, problem,"
	        " reason) VALUES (?, ?, ?, ?)",
	        &q, err) == -1)
		return -1;
	msg_init(&m, &r->buf);
	while (m.pos < m.len) {
		rdi_get_i64(&m, &snap);
		rdi_get_bytes(&m, &path, &plen);
		rdi_get_str(&m, problem, sizeof(problem));
		rdi_get_str(&m, reason, sizeof(reason));
		tame(reason);
		if (m.bad || snap <= r->since || snap > r->last_snap ||
		    plen > 4096 || memchr(path, '\0', plen) != NULL ||
		    (strcmp(problem, "unreadable") != 0 &&
		        strcmp(problem, "changing") != 0)) {
			rd_err_set(err, RD_ECORRUPT,
			    "stream is damaged: bad problem row");
			goto out;
		}
		r->nproblems++;
		if (r->skip)
			continue;
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, snap);
		sqlite3_bind_blob(q, 2, path, (int)plen, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, problem, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 4, reason, -1, SQLITE_STATIC);
		if (rdi_db_step(r->st->db, q, err) == -1) {
			if (err->code == RD_EINTERNAL)
				rd_err_set(err, RD_ECORRUPT,
				    "stream is damaged: a problem row twice");
			goto out;
		}
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

static int
set_meta_int(struct rd_store *st, const char *key, int64_t v,
    struct rd_err *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return rdi_meta_set(st->db, key, buf, err);
}

static int
finish_rows(struct receiver *r, const struct rdi_buf *endbuf,
    struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	struct rdi_msg m;
	int64_t nobj, nsnap, nrows, ncl, nprob;
	struct rdi_bcache bc;
	struct rd_err ignored = RD_ERR_INIT;
	char buf[32];
	int k, ret = -1;

	msg_init(&m, endbuf);
	rdi_get_i64(&m, &nobj);
	rdi_get_i64(&m, &nsnap);
	rdi_get_i64(&m, &nrows);
	rdi_get_i64(&m, &ncl);
	rdi_get_i64(&m, &nprob);
	if (msg_done(&m, "end", err) == -1)
		return -1;
	if (nsnap != r->nsnaps || nrows != r->nrows || ncl != r->ncloses ||
	    nprob != r->nproblems ||
	    (r->push ? nobj < r->nobjects : nobj != r->nobjects))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: frames are missing");
	if (r->skip)
		return 0;
	if (r->last_snap != r->newest)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: snapshots are missing");
	if (begin_rows(r, err) == -1)
		return -1;
	/* every file of the new snapshots has its content here */
	if (rdi_db_prepare(r->st->db,
	        "SELECT COUNT(*), MIN(e.path) FROM entries e"
	        " LEFT JOIN contents c ON c.sha = e.sha WHERE e.first > ?"
	        " AND e.sha IS NOT NULL AND c.sha IS NULL",
	        &q, err) == -1)
		return -1;
	sqlite3_bind_int64(q, 1, r->since);
	k = rdi_db_step(r->st->db, q, err);
	if (k == -1)
		goto out;
	if (sqlite3_column_int64(q, 0) != 0) {
		rd_err_set(err, RD_ECORRUPT,
		    "bundle lacks %lld contents its snapshots need, the first for '%.*s' (was it made with --since for another store?)",
		    (long long)sqlite3_column_int64(q, 0),
		    sqlite3_column_bytes(q, 1) > 200
		        ? 200
		        : sqlite3_column_bytes(q, 1),
		    (const char *)sqlite3_column_blob(q, 1));
		goto out;
	}
	/* what is committed can be restored */
	if (rdi_rows_check(r->st->db, r->since, r->newest, "bundle", err) == -1)
		goto out;
	if (r->st->info.origin[0] == '\0' || r->opts->adopt) {
		if (rdi_meta_set(r->st->db, "origin", r->origin, err) == -1)
			goto out;
	}
	if (r->epoch > r->st->info.epoch &&
	    set_meta_int(r->st, "epoch", r->epoch, err) == -1)
		goto out;
	snprintf(buf, sizeof(buf), "%.6f", rd_now());
	if (rdi_meta_set(r->st->db, "last_ship", buf, err) == -1 ||
	    set_meta_int(r->st, "origin_newest", r->newest, err) == -1)
		goto out;
	if (rdi_db_exec(r->st->db, "COMMIT", err) == -1)
		goto out;
	r->rows_txn = 0;
	/* the cache keeps what is current; it is advice, so failing is not */
	rdi_bcache_open(r->st, &bc);
	(void)rdi_bcache_evict(&bc, r->st->db, &ignored);
	rdi_bcache_close(&bc);
	ret = 0;
out:
	sqlite3_finalize(q);
	return ret;
}

/* Judge a HELLO: lineage, epoch, codecs, and where the bundle starts. */
static int
judge_hello(struct receiver *r, int mode, struct rd_err *err)
{
	struct rd_store *st = r->st;
	struct rd_snapinfo si;
	int64_t own = 0;
	uint64_t missing;

	if ((mode == MODE_PUSH) != r->push)
		return rd_err_set(err, RD_ECORRUPT,
		    r->push ? "the sender wrote a bundle, not a push session"
		            : "this is a push session: use rdship serve");
	if (st->info.origin[0] != '\0' &&
	    strcmp(st->info.origin, r->origin) != 0 && !r->opts->adopt)
		return rd_err_set(err, RD_EPERM,
		    "bundle comes from store %s, but '%s' follows %s (use --adopt to follow the new one)",
		    r->origin, st->path, st->info.origin);
	if (r->epoch < st->info.epoch)
		return rd_err_set(err, RD_EPERM,
		    "bundle has epoch %lld, older than this store's epoch %lld: its sender was superseded by a promotion",
		    (long long)r->epoch, (long long)st->info.epoch);
	if (!st->info.standby)
		return rd_err_set(err, RD_EPERM,
		    "store '%s' is not a standby (make one with rdsnap init --standby)",
		    st->path);
	missing = r->codecs & ~available_mask();
	if (missing != 0)
		return rd_err_set(err, RD_EUNAVAIL,
		    "bundle uses codec '%s', which this build lacks",
		    (missing & (1u << RD_CODEC_ZSTD)) ? "zstd" : "unknown");
	if (rd_snap_get(st, 0, &si, err) == 0)
		own = si.id;
	else if (err->code == RD_ENOENT)
		rd_err_clear(err);
	else
		return -1;
	r->res->from = own;
	if (r->push)
		r->since = own;
	if (r->newest <= own) {
		r->skip = 1; /* nothing new */
		return 0;
	}
	if (r->since != own)
		return rd_err_set(err, r->since > own ? RD_ENOENT : RD_ECORRUPT,
		    "bundle holds snapshots %lld-%lld but this store has up to %lld: send with --since %lld",
		    (long long)r->since + 1, (long long)r->newest,
		    (long long)own, (long long)own);
	return 0;
}

static int
send_have(struct receiver *r, const struct rd_err *verdict, struct rd_err *err)
{
	r->buf.len = 0;
	if (rdi_put_u64(&r->buf, verdict != NULL ? verdict->code : RD_OK,
	        err) == -1 ||
	    rdi_put_str(&r->buf, verdict != NULL ? verdict->msg : "", err) ==
	        -1 ||
	    rdi_put_str(&r->buf, r->st->info.uuid, err) == -1 ||
	    rdi_put_u64(&r->buf, (uint64_t)r->res->from, err) == -1 ||
	    rdi_put_u64(&r->buf, (uint64_t)r->st->info.epoch, err) == -1 ||
	    rdi_put_u64(&r->buf, available_mask(), err) == -1)
		return -1;
	if (rdi_chan_send(&r->ch, F_HAVE, r->buf.data, r->buf.len, err) == -1)
		return -1;
	return rdi_chan_flush(&r->ch, err);
}

static int
send_result(struct receiver *r, const struct rd_err *verdict,
    struct rd_err *err)
{
	r->buf.len = 0;
	if (rdi_put_u64(&r->buf, verdict != NULL ? verdict->code : RD_OK,
	        err) == -1 ||
	    rdi_put_str(&r->buf, verdict != NULL ? verdict->msg : "", err) ==
	        -1 ||
	    rdi_put_u64(&r->buf, (uint64_t)r->res->newest, err) == -1 ||
	    rdi_put_u64(&r->buf, (uint64_t)r->res->replica_version, err) ==
	        -1 ||
	    rdi_put_u64(&r->buf, (uint64_t)r->res->replica_files, err) == -1)
		return -1;
	if (rdi_chan_send(&r->ch, F_RESULT, r->buf.data, r->buf.len, err) == -1)
		return -1;
	return rdi_chan_flush(&r->ch, err);
}

static int
recv_hello(struct receiver *r, int *mode, struct rd_err *err)
{
	struct rdi_msg m;
	uint64_t md;
	int type;

	if (rdi_chan_recv(&r->ch, &type, &r->buf, SMALL_FRAME, err) == -1)
		return -1;
	if (type != F_HELLO)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: it does not start with HELLO");
	msg_init(&m, &r->buf);
	rdi_get_str(&m, r->origin, sizeof(r->origin));
	rdi_get_i64(&m, &r->epoch);
	rdi_get_u64(&m, &md);
	rdi_get_i64(&m, &r->since);
	rdi_get_i64(&m, &r->newest);
	rdi_get_u64(&m, &r->codecs);
	if (msg_done(&m, "hello", err) == -1)
		return -1;
	if (!uuid_ok(r->origin))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: its origin is not a store id");
	if (r->epoch < 1 || r->epoch >= RDI_MAX_SIZE || r->since < 0 ||
	    r->newest < r->since || r->newest >= RDI_MAX_SIZE || md > 1)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: impossible epoch, snapshot range or mode in its HELLO");
	*mode = (int)md;
	snprintf(r->res->origin, sizeof(r->res->origin), "%.36s", r->origin);
	r->res->epoch = r->epoch;
	return 0;
}

/*
 * The place of a frame type in a stream: objects (and a session's
 * queries), then SNAP, ENTRIES, CLOSES, PROBLEMS and END, in that order;
 * -1 for a type a receiver does not read.
 */
static int
frame_rank(int type)
{
	static const char order[] = { F_SNAP, F_ENTRIES, F_CLOSES, F_PROBLEMS,
		F_END };
	int i;

	if (type == F_OBJECT || type == F_QUERY)
		return 0;
	for (i = 0; i < (int)sizeof(order); i++)
		if (type == order[i])
			return i + 1;
	return -1;
}

/* Refuse a frame that comes after frames that must follow it. */
static int
frame_in_order(struct receiver *r, int type, struct rd_err *err)
{
	int rank = frame_rank(type);

	if (rank == -1 || rank >= r->rank) {
		if (rank > r->rank)
			r->rank = rank;
		return 0;
	}
	if (type == F_OBJECT)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: an object after the snapshot records");
	return rd_err_set(err, RD_ECORRUPT,
	    "stream is damaged: a frame of type '%c' out of order", type);
}

static int
frame_loop(struct receiver *r, struct rd_err *err)
{
	uint64_t len;
	int type;

	for (;;) {
		if (rdi_chan_next(&r->ch, &type, &len, err) == -1 ||
		    frame_in_order(r, type, err) == -1)
			return -1;
		if (type == F_OBJECT) {
			if (recv_object(r, len, err) == -1)
				return -1;
			continue;
		}
		if (len > SMALL_FRAME + ROWS_FRAME)
			return rd_err_set(err, RD_ECORRUPT,
			    "stream is damaged: frame too long");
		if (r->buf.cap < len) {
			unsigned char *d = realloc(r->buf.data, len);

			if (d == NULL)
				return rd_err_set(err, RD_ENOMEM,
				    "out of memory");
			r->buf.data = d;
			r->buf.cap = len;
		}
		r->buf.len = len;
		if ((len > 0 &&
		        rdi_chan_read(&r->ch, r->buf.data, len, err) == -1) ||
		    rdi_chan_finish(&r->ch, err) == -1)
			return -1;
		switch (type) {
		case F_QUERY:
			if (!r->push)
				return rd_err_set(err, RD_ECORRUPT,
				    "stream is damaged: query in a bundle");
			if (answer_query(r, err) == -1)
				return -1;
			break;
		case F_SNAP:
			if (recv_snap(r, err) == -1)
				return -1;
			break;
		case F_ENTRIES:
			if (recv_entries(r, err) == -1)
				return -1;
			break;
		case F_CLOSES:
			if (recv_closes(r, err) == -1)
				return -1;
			break;
		case F_PROBLEMS:
			if (recv_problems(r, err) == -1)
				return -1;
			break;
		case F_END:
			if (!r->skip && commit_batch(r, err) == -1)
				return -1;
			return finish_rows(r, &r->buf, err);
		default:
			return rd_err_set(err, RD_ECORRUPT,
			    "stream is damaged: unknown frame type %d", type);
		}
	}
}

int
rd_ship_receive(struct rd_store *st, int fd_in, int fd_out,
    const struct rd_ship_opts *opts, struct rd_ship_result *res,
    struct rd_err *err)
{
	struct receiver r;
	struct rd_snapinfo si;
	unsigned char skey[RD_KEY_LEN];
	const unsigned char *key = opts->key;
	double t0 = rd_monotonic();
	int keyed, mode = -1, k, ret = -1, handshake = 0;
	struct rd_err verdict = RD_ERR_INIT;

	memset(&r, 0, sizeof(r));
	memset(res, 0, sizeof(*res));
	res->replica_version = -1;
	r.st = st;
	r.opts = opts;
	r.res = res;
	r.push = fd_out != -1;
	if (st->mode != RD_OPEN_WRITE)
		return rd_err_set(err, RD_EINTERNAL,
		    "store is not open for writing");
	if (key == NULL) {
		k = rd_store_key(st, skey, err);
		if (k == -1)
			return -1;
		if (k == 1)
			key = skey;
	}
	if (rdi_chan_init(&r.ch, fd_in, fd_out, key, 0, err) == -1)
		return -1;
	r.chunk = malloc(CHUNK);
	if (r.chunk == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	if (rdi_chan_recv_preamble(&r.ch, &keyed, err) == -1)
		goto out;
	if (r.push && rdi_chan_send_preamble(&r.ch, err) == -1)
		goto out;
	handshake = 1;
	if (key != NULL && !keyed) {
		rd_err_set(err, RD_EPERM,
		    "stream is not authenticated, and '%s' requires a key",
		    st->path);
		goto out;
	}
	if (key == NULL && keyed) {
		rd_err_set(err, RD_EPERM,
		    "stream is authenticated with a key: give --key (or put it in '%s/ship.key')",
		    st->path);
		goto out;
	}
	if (recv_hello(&r, &mode, err) == -1)
		goto out;
	if (judge_hello(&r, mode, err) == -1)
		goto out;
	if (r.push) {
		if (send_have(&r, NULL, err) == -1)
			goto out;
		handshake = 0;
	}
	if (frame_loop(&r, err) == -1)
		goto out;
	if (rd_snap_get(st, 0, &si, err) == 0)
		res->newest = si.id;
	else if (err->code == RD_ENOENT)
		rd_err_clear(err);
	else
		goto out;
	if (rdi_db_load(st, err) == -1)
		goto out;
	if (opts->apply_dir != NULL && res->newest > 0) {
		if (rdi_replica_apply(st, opts->apply_dir, res->newest,
		        opts->notice, opts->notice_arg, &res->replica_files,
		        err) == -1)
			goto out;
		res->replica_version = res->newest;
	}
	if (r.push && send_result(&r, NULL, err) == -1)
		goto out;
	res->wire_bytes = r.ch.bytes_in;
	res->seconds = rd_monotonic() - t0;
	ret = 0;
out:
	if (ret == -1 && r.push) {
		/* tell the sender why, if the stream still works */
		struct rd_err e2 = RD_ERR_INIT;

		verdict = *err;
		if (handshake)
			res->reported = send_have(&r, &verdict, &e2) == 0;
		else if (err->code != RD_ECORRUPT || r.ch.in_left == 0)
			res->reported = send_result(&r, &verdict, &e2) == 0;
	}
	sqlite3_finalize(r.has_content);
	sqlite3_finalize(r.has_sig);
	if (r.rows_txn)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	if (r.pw_open)
		rdi_packw_abort(st, &r.pw);
	free(r.objs);
	free(r.chunk);
	rdi_buf_release(&r.buf);
	rdi_chan_release(&r.ch);
	memset(skey, 0, sizeof(skey));
	return ret;
}

/* ------------------------------------------------------------------ */
/* Status */

int
rd_ship_status(struct rd_store *st, struct rd_ship_status *out,
    struct rd_err *err)
{
	struct rd_snapinfo si;
	sqlite3_stmt *q = NULL;
	char buf[64];
	const unsigned char *t;
	int r, ret = -1;

	memset(out, 0, sizeof(*out));
	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		return -1;
	if (rdi_db_load(st, err) == -1)
		goto out;
	out->store = st->info;
	if (rd_snap_get(st, 0, &si, err) == 0) {
		out->newest = si.id;
		out->newest_time = si.finished;
	} else if (err->code == RD_ENOENT) {
		rd_err_clear(err);
	} else {
		goto out;
	}
	if (rdi_meta_get(st->db, "origin_newest", buf, sizeof(buf), err) == -1)
		goto out;
	out->origin_newest = strtoll(buf, NULL, 10);
	if (rdi_meta_get(st->db, "last_ship", buf, sizeof(buf), err) == -1)
		goto out;
	out->last_ship = strtod(buf, NULL);
	if (rdi_db_prepare(st->db,
	        "SELECT dir, version, target, state,"
	        " updated FROM replicas ORDER BY dir",
	        &q, err) == -1)
		goto out;
	for (;;) {
		struct rd_replica_info one, *ri = &one;

		r = rdi_db_step(st->db, q, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		if (out->nreplicas < RD_SHIP_LIST_MAX)
			ri = &out->replica[out->nreplicas];
		rdi_column_copy(q, 0, ri->dir, sizeof(ri->dir), "");
		ri->version = sqlite3_column_int64(q, 1);
		ri->target = sqlite3_column_int64(q, 2);
		t = sqlite3_column_text(q, 3);
		ri->clean = t != NULL && strcmp((const char *)t, "clean") == 0;
		ri->updated = sqlite3_column_double(q, 4);
		if (!ri->clean || ri->version != out->newest)
			out->replicas_stale++;
		if (ri == &one)
			out->replicas_more++;
		else
			out->nreplicas++;
	}
	sqlite3_finalize(q);
	q = NULL;
	if (rdi_db_prepare(st->db,
	        "SELECT substr(key, 9), value FROM meta"
	        " WHERE key LIKE 'standby:%' ORDER BY key",
	        &q, err) == -1)
		goto out;
	for (;;) {
		r = rdi_db_step(st->db, q, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		if (out->nstandbys == RD_SHIP_LIST_MAX) {
			out->standbys_more++;
			continue;
		}
		rdi_column_copy(q, 0, out->standby[out->nstandbys].uuid,
		    sizeof(out->standby[0].uuid), "");
		t = sqlite3_column_text(q, 1);
		if (t == NULL ||
		    sscanf((const char *)t, "%" SCNd64 " %lf",
		        &out->standby[out->nstandbys].snapshot,
		        &out->standby[out->nstandbys].pushed) != 2)
			continue; /* not written by rdship */
		out->nstandbys++;
	}
	ret = 0;
out:
	sqlite3_finalize(q);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return ret;
}
