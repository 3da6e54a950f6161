/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ship_int.h: what the files of the shipping layer share: the frame
 * types and bounds of a stream (docs/FORMAT.md), the receiver's state
 * (receive.c runs the session, recvbatch.c takes in its objects), and
 * the helpers of chan.c and session.c that both ends use.
 */
#ifndef SHIP_INT_H
#define SHIP_INT_H

#include "rd_int.h"
#include "cluster/cluster_int.h"

/* The frame types of a stream (docs/FORMAT.md). */
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

/*
 * HELLO's modes; the objects a QUERY asks about; the size at which a
 * frame of rows is sent; the bytes of a receiver's batch pack; the
 * longest frame that is not an object or rows; the unit of copying.
 */
#define MODE_BUNDLE 0
#define MODE_PUSH   1
#define QUERY_BATCH 1024
#define ROWS_FRAME  (256 * 1024)
#define BATCH_BYTES (32 * 1024 * 1024)
#define SMALL_FRAME (1024 * 1024)
/* The longest frame of rows: one row may hold a long path and xattrs. */
#define ROWS_FRAME_MAX                                                         \
	(SMALL_FRAME + ROWS_FRAME + RDI_PATH_MAX + RDI_XATTRS_MAX)
#define CHUNK (256 * 1024)

/* ------------------------------------------------------------------ */
/* The receiver (receive.c, recvbatch.c) */

/* An object of the open batch, as written to the batch's pack. */
struct rdi_robj {
	unsigned char sha[RD_HASH_LEN];
	unsigned char base[RD_HASH_LEN];
	int kind, codec;
	int64_t size, off, len, block;
	int64_t csize; /* a signature: its content's size */
};

/* A receiving session: its stream, its open batch, what HELLO said. */
struct rdi_recv {
	struct rd_store *st;
	const struct rd_ship_opts *opts;
	struct rd_ship_result *res;
	struct rdi_chan ch;
	int push;
	struct rdi_buf buf;
	/* the open object batch */
	struct rdi_packw pw;
	int pw_open;
	struct rdi_robj *objs;
	size_t nobjs, cap_objs;
	unsigned char *chunk;
	/* HELLO */
	int follow; /* etcd confirmed the sender as the new origin */
	char origin[40];
	int64_t epoch, since, newest;
	int64_t fork; /* a push: the sender's fork point, 0 if none */
	uint64_t codecs;
	int skip;     /* nothing new: drain and check only */
	int skip_obj; /* this object is here already */
	sqlite3_stmt *has_content, *has_sig;
	int rows_txn;
	int64_t last_snap;
	int64_t nrows, ncloses, nsnaps, nobjects, nproblems;
	int rank; /* of the last frame, by receive.c's frame_rank() */
	double last;
};

/* recvbatch.c: receive an OBJECT frame of "len" bytes into the batch. */
int rdi_recv_object(struct rdi_recv *r, uint64_t len, struct rd_err *err);

/* recvbatch.c: answer the QUERY frame in r->buf with a MISSING frame. */
int rdi_recv_query(struct rdi_recv *r, struct rd_err *err);

/*
 * recvbatch.c: make the open batch durable and visible, or leave the
 * store as it was before it.  Returns 0 or -1.
 */
int rdi_recv_commit(struct rdi_recv *r, struct rd_err *err);

/*
 * rejoin.c: if "st" is rejoining (rd_ship_rejoin), drop its snapshots
 * after "fork" (the sender's fork point; its newest if that is older),
 * which the store kept aside holds, and end the rejoin; "*cut" is then
 * the newest snapshot left and "aside" the name of the store aside.
 * Returns 1 if it did, 0 if the store is not rejoining, or -1.
 */
int rdi_rejoin_cut(struct rd_store *st, int64_t fork, int64_t *cut, char *aside,
    size_t asidelen, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* chan.c: frames and messages */

/*
 * Read the payload of the frame rdi_chan_next() announced ("len" bytes)
 * into "payload", growing it, and check the frame's MAC.
 */
int rdi_chan_payload(struct rdi_chan *ch, uint64_t len, struct rdi_buf *payload,
    struct rd_err *err);

/* Start decoding the message in "b". */
void rdi_msg_init(struct rdi_msg *m, const struct rdi_buf *b);

/* RD_ECORRUPT "malformed <what> frame" unless "m" was read whole. */
int rdi_msg_done(struct rdi_msg *m, const char *what, struct rd_err *err);

int rdi_put_f64(struct rdi_buf *b, double v, struct rd_err *err);
int rdi_get_f64(struct rdi_msg *m, double *v);

/* ------------------------------------------------------------------ */
/* session.c */

/* Whether "s" is a store id: a UUID as 36 lowercase characters. */
int rdi_uuid_ok(const char *s);

/* Report progress through o->progress, at most ten times a second. */
void rdi_ship_progress(const struct rd_ship_opts *o, struct rdi_chan *ch,
    int64_t total, double *last);

/*
 * Prepare "sql", a query over a range of snapshots, with ?1 bound to
 * "lo" and ?2 to "hi".  Returns 0 or -1.
 */
int rdi_range_stmt(sqlite3 *db, const char *sql, int64_t lo, int64_t hi,
    sqlite3_stmt **q, struct rd_err *err);

#endif
