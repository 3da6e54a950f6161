/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * send.c: the sending end of rdship: writing a bundle, or running a push
 * session against a receiver (docs/FORMAT.md).
 *
 * A bundle carries, after a HELLO that names the sending store, its
 * epoch and the snapshot range: the objects the receiver lacks, bases
 * before the deltas that need them, exactly as stored; then the snapshot
 * rows; then the catalog rows that begin in the range and the closings
 * of rows that end in it; then END.  A push session adds two frames: the
 * receiver's HAVE (its newest snapshot and its verdict on lineage and
 * epoch) and QUERY/MISSING rounds in which the sender learns which
 * objects to skip.  Everything is read in one read transaction.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ship/ship_int.h"

static uint64_t
codec_mask(const struct rd_store *st)
{
	return 1u << RD_CODEC_RAW | 1u << RD_CODEC_ZLIB | 1u << st->info.codec;
}

struct sender {
	struct rd_store *st;
	const struct rd_ship_opts *opts;
	struct rd_ship_result *res;
	struct rdi_chan ch;
	struct rdi_packcache *pc;
	struct rdi_buf buf;
	int64_t since, newest;
	int64_t fork;  /* push: HELLO's fork point (see fork_point()) */
	int64_t total; /* estimated bytes, for progress */
	int64_t nrows, ncloses, nproblems; /* rows sent, for END */
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
	    rdi_put_u64(&s->buf,
	        (uint64_t)(mode == MODE_PUSH ? s->fork : s->since),
	        err) == -1 ||
	    rdi_put_u64(&s->buf, (uint64_t)s->newest, err) == -1 ||
	    rdi_put_u64(&s->buf, codec_mask(s->st), err) == -1)
		return -1;
	return rdi_chan_send(&s->ch, F_HELLO, s->buf.data, s->buf.len, err);
}

/*
 * A push's fork point, for HELLO: a promoted store (a primary with an
 * origin) took its snapshots up to the origin's newest at its last ship
 * from that origin, and made the later ones itself; 0 for any other
 * store.  A standby of the origin that is further along has snapshots
 * this store never had.
 */
static int
fork_point(struct sender *s, struct rd_err *err)
{
	char buf[32];

	s->fork = 0;
	if (s->st->info.standby || s->st->info.origin[0] == '\0')
		return 0;
	if (rdi_meta_get(s->st->db, "origin_newest", buf, sizeof(buf), err) ==
	    -1)
		return -1;
	s->fork = strtoll(buf, NULL, 10);
	if (s->fork < 0)
		s->fork = 0;
	if (s->fork > s->newest)
		s->fork = s->newest;
	return 0;
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
		rdi_ship_progress(s->opts, &s->ch, s->total, &s->last);
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

	if (rdi_range_stmt(s->st->db, sql_candidates, s->since, s->newest, &q,
	        err) == -1)
		return -1;
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
flush_rows(struct sender *s, int type, struct rd_err *err)
{
	if (s->buf.len == 0)
		return 0;
	if (rdi_chan_send(&s->ch, type, s->buf.data, s->buf.len, err) == -1)
		return -1;
	s->buf.len = 0;
	return 0;
}

/* A snapshot row: one SNAP frame. */
static int
put_snap(struct sender *s, sqlite3_stmt *q, struct rd_err *err)
{
	const unsigned char *t;
	int i;

	if (rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 0), err) ==
	        -1 ||
	    rdi_put_f64(&s->buf, sqlite3_column_double(q, 1), err) == -1 ||
	    rdi_put_f64(&s->buf, sqlite3_column_double(q, 2), err) == -1)
		return -1;
	for (i = 3; i <= 4; i++) {
		t = sqlite3_column_text(q, i);
		if (rdi_put_str(&s->buf, (const char *)t, err) == -1)
			return -1;
	}
	for (i = 5; i <= 14; i++)
		if (rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, i),
		        err) == -1)
			return -1;
	s->res->snapshots++;
	return 0;
}

/* A catalog row that begins in the range. */
static int
put_entry(struct sender *s, sqlite3_stmt *q, struct rd_err *err)
{
	int i;

	if (rdi_put_bytes(&s->buf, sqlite3_column_blob(q, 0),
	        (size_t)sqlite3_column_bytes(q, 0), err) == -1 ||
	    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 1), err) ==
	        -1 ||
	    rdi_put_u64(&s->buf,
	        sqlite3_column_type(q, 2) == SQLITE_NULL
	            ? 0
	            : (uint64_t)sqlite3_column_int64(q, 2),
	        err) == -1)
		return -1;
	for (i = 3; i <= 8; i++)
		if (rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, i),
		        err) == -1)
			return -1;
	for (i = 9; i <= 10; i++)
		if (rdi_put_bytes(&s->buf, sqlite3_column_blob(q, i),
		        (size_t)sqlite3_column_bytes(q, i), err) == -1)
			return -1;
	if (rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 11), err) ==
	        -1 ||
	    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 12), err) ==
	        -1 ||
	    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 13), err) ==
	        -1 ||
	    rdi_put_bytes(&s->buf, sqlite3_column_blob(q, 14),
	        (size_t)sqlite3_column_bytes(q, 14), err) == -1)
		return -1;
	s->nrows++;
	return 0;
}

/* A catalog row the receiver has open that ends in the range. */
static int
put_close(struct sender *s, sqlite3_stmt *q, struct rd_err *err)
{
	if (rdi_put_bytes(&s->buf, sqlite3_column_blob(q, 0),
	        (size_t)sqlite3_column_bytes(q, 0), err) == -1 ||
	    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 1), err) ==
	        -1 ||
	    rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 2), err) ==
	        -1)
		return -1;
	s->ncloses++;
	return 0;
}

/* A path a snapshot of the range could not read as it was. */
static int
put_problem(struct sender *s, sqlite3_stmt *q, struct rd_err *err)
{
	if (rdi_put_u64(&s->buf, (uint64_t)sqlite3_column_int64(q, 0), err) ==
	        -1 ||
	    rdi_put_bytes(&s->buf, sqlite3_column_blob(q, 1),
	        (size_t)sqlite3_column_bytes(q, 1), err) == -1 ||
	    rdi_put_str(&s->buf, (const char *)sqlite3_column_text(q, 2),
	        err) == -1 ||
	    rdi_put_str(&s->buf, (const char *)sqlite3_column_text(q, 3),
	        err) == -1)
		return -1;
	s->nproblems++;
	return 0;
}

/*
 * The rows a stream carries after its objects, in the order they are
 * sent: the query (over ?1 = since, ?2 = newest), the frame type, the
 * size at which a frame is sent (0: a frame a row) and the encoder.
 */
static const struct rowset {
	const char *sql;
	int type;
	size_t frame;
	int (*put)(struct sender *, sqlite3_stmt *, struct rd_err *);
} rowsets[] = {
	{ "SELECT id, started, finished, label,"
	  " source, files, bytes, bytes_read, bytes_added, stored, changed,"
	  " removed, inconsistent, skipped, partial FROM snapshots"
	  " WHERE state = 'complete' AND id > ?1 AND id <= ?2 ORDER BY id",
	    F_SNAP, 0, put_snap },
	{ "SELECT path, first, last, type, mode,"
	  " uid, gid, size, mtime, sha, target, unstable, rdev, link, xattrs"
	  " FROM entries"
	  " WHERE first > ?1 AND first <= ?2 ORDER BY first, path",
	    F_ENTRIES, ROWS_FRAME, put_entry },
	{ "SELECT path, first, last FROM entries"
	  " WHERE last >= ?1 AND last < ?2 AND first <= ?1 ORDER BY path",
	    F_CLOSES, ROWS_FRAME, put_close },
	{ "SELECT snapshot, path, problem, reason FROM snapshot_problems"
	  " WHERE snapshot > ?1 AND snapshot <= ?2 ORDER BY snapshot, path",
	    F_PROBLEMS, ROWS_FRAME, put_problem },
};

/* Send the rows of one row set in frames. */
static int
send_rowset(struct sender *s, const struct rowset *rs, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r, ret = -1;

	if (rdi_range_stmt(s->st->db, rs->sql, s->since, s->newest, &q, err) ==
	    -1)
		return -1;
	s->buf.len = 0;
	while ((r = rdi_db_step(s->st->db, q, err)) == 1) {
		if (rs->put(s, q, err) == -1)
			goto out;
		if (s->buf.len >= rs->frame &&
		    flush_rows(s, rs->type, err) == -1)
			goto out;
	}
	if (r == -1 || flush_rows(s, rs->type, err) == -1)
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

	if (rdi_range_stmt(s->st->db,
	        "SELECT COALESCE(SUM(len), 0) FROM"
	        " contents WHERE sha IN (SELECT sha FROM entries WHERE first > ?1"
	        " AND first <= ?2 AND sha IS NOT NULL)",
	        s->since, s->newest, &q, err) == -1)
		return -1;
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
    char *okmsg, struct rd_err *err)
{
	uint64_t code;
	char msg[256];
	int type;

	if (rdi_chan_recv(&s->ch, &type, b, SMALL_FRAME, err) == -1)
		return -1;
	if (type != want)
		return rd_err_set(err, RD_ECORRUPT,
		    "unexpected answer from the receiver");
	rdi_msg_init(m, b);
	rdi_get_u64(m, &code);
	rdi_get_str(m, msg, sizeof(msg));
	if (m->bad)
		return rd_err_set(err, RD_ECORRUPT,
		    "malformed answer from the receiver");
	if (code != RD_OK)
		return rd_err_set(err,
		    code <= RD_EPERM ? (enum rd_code)code : RD_EINTERNAL,
		    "receiver: %s", msg);
	if (okmsg != NULL)
		memcpy(okmsg, msg, sizeof(msg));
	return 0;
}

static int
recv_result(struct sender *s, struct rd_err *err)
{
	struct rdi_buf b = { NULL, 0, 0 };
	struct rdi_msg m;
	int64_t newest, rv, rf;
	int ret = -1;

	if (recv_verdict(s, F_RESULT, &b, &m, s->res->replica_omission, err) ==
	    -1)
		goto out;
	rdi_get_i64(&m, &newest);
	rdi_get_i64(&m, &rv);
	rdi_get_i64(&m, &rf);
	if (rdi_msg_done(&m, "result", err) == -1)
		goto out;
	s->res->newest = newest;
	s->res->replica_version = rv;
	s->res->replica_files = rf;
	/* a message with success names what the replica update left out */
	s->res->replica_omitted = s->res->replica_omission[0] != '\0';
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
	if (recv_verdict(s, F_HAVE, &b, &m, NULL, err) == -1)
		goto out;
	rdi_get_str(&m, uuid, sizeof(uuid));
	rdi_get_i64(&m, &newest);
	rdi_get_i64(&m, &epoch);
	rdi_get_u64(&m, &avail);
	if (rdi_msg_done(&m, "have", err) == -1)
		goto out;
	if (!rdi_uuid_ok(uuid) || newest < 0 || newest >= RDI_MAX_SIZE) {
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
	snprintf(s->res->standby, sizeof(s->res->standby), "%s", uuid);
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
	double t0 = rd_monotonic();
	size_t i;
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
	if (push && fork_point(&s, err) == -1)
		goto out;
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
		    send_objects(&s, push, err) == -1)
			goto out;
		for (i = 0; i < sizeof(rowsets) / sizeof(rowsets[0]); i++)
			if (send_rowset(&s, &rowsets[i], err) == -1)
				goto out;
	}
	s.buf.len = 0;
	if (rdi_put_u64(&s.buf, (uint64_t)res->objects, err) == -1 ||
	    rdi_put_u64(&s.buf, (uint64_t)res->snapshots, err) == -1 ||
	    rdi_put_u64(&s.buf, (uint64_t)s.nrows, err) == -1 ||
	    rdi_put_u64(&s.buf, (uint64_t)s.ncloses, err) == -1 ||
	    rdi_put_u64(&s.buf, (uint64_t)s.nproblems, err) == -1 ||
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
