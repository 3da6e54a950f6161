/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_ship.c: unit tests of the receiving side of rdship
 * (src/lib/ship/receive.c, recvbatch.c) and chan.c, fed streams written
 * here frame by frame (with the public zero key, as an attacker could):
 * the preamble and its version, MACs, HELLO's fields, the order of
 * frames, the END counts, and the commit of objects and rows.  Every refusal leaves the standby as it was, epoch included.
 * Also the cut of a store that rdship rejoin marked (rejoin.c).
 */
#define _GNU_SOURCE
#include "config.h"

#include <sys/mman.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "rd_int.h"
#include "ship/ship_int.h"
#include "unit.h"

#define ORIGIN "0f0e0d0c-0b0a-4908-8706-050403020100"

static struct rd_store *st;
static int fd;
static struct rdi_chan ch;

static void
setup(void)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_init_opts o = RD_INIT_OPTS_INIT;

	unit_tmp_setup();
	o.standby = 1;
	unit_ok(rd_store_init(unit_path("s"), &o, &err), err);
	unit_ok(rd_store_open(unit_path("s"), RD_OPEN_WRITE, 0, &st, &err),
	    err);
	fd = memfd_create("stream", MFD_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	unit_ok(rdi_chan_init(&ch, -1, fd, NULL, 1, &err), err);
}

static void
teardown(void)
{
	rdi_chan_release(&ch);
	close(fd);
	rd_store_close(st);
	unit_tmp_teardown();
}

static void
frame(int type, const struct rdi_buf *b)
{
	struct rd_err err = RD_ERR_INIT;

	unit_ok(rdi_chan_send(&ch, type, b->data, b->len, &err), err);
}

static void
u64(struct rdi_buf *b, uint64_t v)
{
	struct rd_err err = RD_ERR_INIT;

	unit_ok(rdi_put_u64(b, v, &err), err);
}

static void
hello(const char *origin, uint64_t epoch, uint64_t since, uint64_t newest)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf b = { NULL, 0, 0 };

	unit_ok(rdi_chan_send_preamble(&ch, &err), err);
	unit_ok(rdi_put_str(&b, origin, &err), err);
	u64(&b, epoch);
	u64(&b, 0); /* a bundle */
	u64(&b, since);
	u64(&b, newest);
	u64(&b, 3); /* raw and zlib */
	frame('H', &b);
	rdi_buf_release(&b);
}

static void
snap(uint64_t id)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf b = { NULL, 0, 0 };
	double t = 1e9;
	uint64_t bits;
	int i;

	u64(&b, id);
	memcpy(&bits, &t, 8);
	u64(&b, bits);
	u64(&b, bits);
	unit_ok(rdi_put_str(&b, "", &err), err);
	unit_ok(rdi_put_str(&b, "/src", &err), err);
	for (i = 0; i < 10; i++)
		u64(&b, 0);
	frame('S', &b);
	rdi_buf_release(&b);
}

/* The root directory's row, new in snapshot "id". */
static void
root_row(uint64_t id)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf b = { NULL, 0, 0 };
	int i;

	unit_ok(rdi_put_bytes(&b, "", 0, &err), err);
	u64(&b, id);
	u64(&b, 0);
	u64(&b, RD_TYPE_DIR);
	u64(&b, 0755);
	for (i = 0; i < 4; i++)
		u64(&b, 0); /* uid, gid, size, mtime */
	unit_ok(rdi_put_bytes(&b, "", 0, &err), err);
	unit_ok(rdi_put_bytes(&b, "", 0, &err), err);
	u64(&b, 0);                                   /* unstable */
	u64(&b, 0);                                   /* rdev */
	u64(&b, 0);                                   /* link */
	unit_ok(rdi_put_bytes(&b, "", 0, &err), err); /* xattrs */
	frame('E', &b);
	rdi_buf_release(&b);
}

static void
end(uint64_t objects, uint64_t snaps, uint64_t rows)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf b = { NULL, 0, 0 };

	u64(&b, objects);
	u64(&b, snaps);
	u64(&b, rows);
	u64(&b, 0);
	u64(&b, 0);
	frame('Z', &b);
	rdi_buf_release(&b);
	unit_ok(rdi_chan_flush(&ch, &err), err);
}

/* Send an OBJECT frame: header fields as given, "payload" as is. */
static void
object(int kind, int64_t raw, const void *payload, size_t len,
    const unsigned char *sha, const unsigned char *base, uint64_t extra)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf b = { NULL, 0, 0 };
	struct rdi_objhdr h;
	unsigned char hdr[RDI_OBJ_HDR];

	memset(&h, 0, sizeof(h));
	h.kind = kind;
	h.codec = RD_CODEC_RAW;
	h.raw_size = raw;
	h.len = (int64_t)len;
	memcpy(h.sha, sha, RD_HASH_LEN);
	if (base != NULL)
		memcpy(h.base, base, RD_HASH_LEN);
	h.crc = (uint32_t)crc32(0, payload, (uInt)len);
	rdi_objhdr_encode(&h, hdr);
	u64(&b, extra);
	unit_ok(rdi_buf_append(&b, hdr, sizeof(hdr), &err), err);
	unit_ok(rdi_buf_append(&b, payload, len, &err), err);
	frame('O', &b);
	rdi_buf_release(&b);
}

static void
sha256(const void *p, size_t n, unsigned char out[RD_HASH_LEN])
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_sha256 h;

	unit_ok(rdi_sha256_init(&h, &err), err);
	unit_ok(rdi_sha256_update(&h, p, n, &err), err);
	unit_ok(rdi_sha256_final(&h, out, &err), err);
	rdi_sha256_release(&h);
}

static void
be64(struct rdi_buf *b, uint64_t v)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char x[8];
	int i;

	for (i = 0; i < 8; i++)
		x[i] = (unsigned char)(v >> (56 - 8 * i));
	unit_ok(rdi_buf_append(b, x, 8, &err), err);
}

/*
 * A librsync delta of "ncopies" copies of base bytes 0 to "len", then
 * the literal "lit" ("litlen" bytes), into "b".
 */
static void
delta(struct rdi_buf *b, int ncopies, uint64_t len, const void *lit,
    size_t litlen)
{
	struct rd_err err = RD_ERR_INIT;
	static const unsigned char magic[] = { 0x72, 0x73, 0x02, 0x36 };
	unsigned char op;
	int i;

	unit_ok(rdi_buf_append(b, magic, 4, &err), err);
	for (i = 0; i < ncopies; i++) {
		op = 0x54; /* COPY, 8-byte offset and length */
		unit_ok(rdi_buf_append(b, &op, 1, &err), err);
		be64(b, 0);
		be64(b, len);
	}
	if (litlen > 0) {
		op = 0x44; /* LITERAL, 8-byte length */
		unit_ok(rdi_buf_append(b, &op, 1, &err), err);
		be64(b, litlen);
		unit_ok(rdi_buf_append(b, lit, litlen, &err), err);
	}
	op = 0;
	unit_ok(rdi_buf_append(b, &op, 1, &err), err);
}

/* Receive what was written; returns rd_ship_receive's value. */
static int
receive(struct rd_err *err)
{
	struct rd_ship_opts o = RD_SHIP_OPTS_INIT;
	struct rd_ship_result res;

	ck_assert_int_ne(lseek(fd, 0, SEEK_SET), -1);
	return rd_ship_receive(st, fd, -1, &o, &res, err);
}

static long long
catalog_int(const char *sql)
{
	return unit_sql_int(unit_path("s/catalog.db"), sql);
}

/* The standby as it was made: no snapshot, no content, epoch 1. */
static void
assert_untouched(void)
{
	ck_assert_int_eq(catalog_int("SELECT COUNT(*) FROM snapshots"), 0);
	ck_assert_int_eq(catalog_int("SELECT COUNT(*) FROM contents"), 0);
	ck_assert_int_eq(catalog_int("SELECT COUNT(*) FROM entries"), 0);
	ck_assert_int_eq(catalog_int("SELECT value FROM meta"
	                             " WHERE key = 'epoch'"),
	    1);
	ck_assert_int_eq(unit_count_dir(unit_path("s/packs")), 0);
}

START_TEST(test_good)
{
	struct rd_err err = RD_ERR_INIT;

	hello(ORIGIN, 5, 0, 1);
	snap(1);
	root_row(1);
	end(0, 1, 1);
	unit_ok(receive(&err), err);
	ck_assert_int_eq(catalog_int("SELECT COUNT(*) FROM snapshots"), 1);
	ck_assert_int_eq(catalog_int("SELECT value FROM meta"
	                             " WHERE key = 'epoch'"),
	    5);
}
END_TEST

START_TEST(test_version)
{
	struct rd_err err = RD_ERR_INIT;
	static const char v1[] = "RDSHIP2\n\0................";

	ck_assert_int_eq(write(fd, v1, sizeof(v1) - 1), sizeof(v1) - 1);
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_EUNAVAIL);
	ck_assert_str_eq(err.msg,
	    "stream format version 2 is not supported (this rdship reads "
	    "version 3): use the same redund release on both sides");
	assert_untouched();
}
END_TEST

START_TEST(test_mac)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char b;

	hello(ORIGIN, 1, 0, 1);
	snap(1);
	root_row(1);
	end(0, 1, 1);
	/* a byte of the HELLO payload (after the 25-byte preamble) */
	ck_assert_int_eq(pread(fd, &b, 1, 40), 1);
	b ^= 1;
	ck_assert_int_eq(pwrite(fd, &b, 1, 40), 1);
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "stream is damaged: frame 0 fails its check");
	assert_untouched();
}
END_TEST

/* _i: 0 an epoch of 2^62, 1 of 2^63 - 1, 2 not an id, 3 since > newest */
START_TEST(test_hello)
{
	struct rd_err err = RD_ERR_INIT;

	if (_i == 0)
		hello(ORIGIN, UINT64_C(1) << 62, 0, 1);
	else if (_i == 1)
		hello(ORIGIN, INT64_MAX, 0, 1);
	else if (_i == 2)
		hello("\x1b[2J", 1, 0, 1);
	else
		hello(ORIGIN, 1, 2, 1);
	snap(1);
	root_row(1);
	end(0, 1, 1);
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    _i == 2 ? "stream is damaged: its origin is not a store id"
	            : "stream is damaged: impossible epoch, snapshot range or "
	              "mode in its HELLO");
	assert_untouched();
}
END_TEST

/* The epoch commits with the snapshots or not at all. */
START_TEST(test_epoch_with_bundle)
{
	struct rd_err err = RD_ERR_INIT;

	hello(ORIGIN, 9, 0, 1);
	snap(1);
	root_row(1);
	end(0, 1, 2); /* a row is missing */
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "stream is damaged: frames are missing");
	assert_untouched();
}
END_TEST

/* A snapshot without its source directory cannot be restored. */
START_TEST(test_no_root)
{
	struct rd_err err = RD_ERR_INIT;

	hello(ORIGIN, 1, 0, 1);
	snap(1);
	end(0, 1, 0);
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "bundle has a bad row for '.': the source directory is missing "
	    "from a snapshot");
	assert_untouched();
}
END_TEST

/* A full object whose bytes are not its hash never commits. */
START_TEST(test_bogus_object)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf b = { NULL, 0, 0 };
	struct rdi_objhdr h;
	unsigned char hdr[RDI_OBJ_HDR];
	static const char body[] = "not what the hash says";

	memset(&h, 0, sizeof(h));
	h.kind = RDI_OBJ_FULL;
	h.codec = RD_CODEC_RAW;
	h.raw_size = sizeof(body) - 1;
	h.len = sizeof(body) - 1;
	memset(h.sha, 0xab, RD_HASH_LEN);
	h.crc = (uint32_t)crc32(0, (const unsigned char *)body, h.len);
	rdi_objhdr_encode(&h, hdr);
	hello(ORIGIN, 1, 0, 1);
	u64(&b, 0);
	unit_ok(rdi_buf_append(&b, hdr, sizeof(hdr), &err), err);
	unit_ok(rdi_buf_append(&b, body, sizeof(body) - 1, &err), err);
	frame('O', &b);
	rdi_buf_release(&b);
	snap(1);
	root_row(1);
	end(1, 1, 1);
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "object fails verification: content "
	    "abababababababababababababababababababababababababababababababab"
	    " is damaged: rebuilt bytes do not match its SHA-256");
	assert_untouched();
}
END_TEST

START_TEST(test_object_after_snapshot)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf b = { NULL, 0, 0 };
	unsigned char zero[8 + RDI_OBJ_HDR];

	memset(zero, 0, sizeof(zero));
	hello(ORIGIN, 1, 0, 1);
	snap(1);
	unit_ok(rdi_buf_append(&b, zero, sizeof(zero), &err), err);
	frame('O', &b);
	rdi_buf_release(&b);
	root_row(1);
	end(1, 1, 1);
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "stream is damaged: an object after the snapshot records");
	assert_untouched();
}
END_TEST

/*
 * Headers that no store writes: _i 0 a raw full object that is not its
 * size, 1 a delta on nothing, 2 a delta on itself, 3 a signature without
 * a block length, 4 a content with one, 5 a size past 2^62.
 */
START_TEST(test_impossible_header)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char sha[RD_HASH_LEN], zero[RD_HASH_LEN];
	static const char body[] = "0123456789";

	sha256(body, 10, sha);
	memset(zero, 0, sizeof(zero));
	hello(ORIGIN, 1, 0, 1);
	if (_i == 0)
		object(RDI_OBJ_FULL, 11, body, 10, sha, NULL, 0);
	else if (_i == 1)
		object(RDI_OBJ_DELTA, 10, body, 10, sha, zero, 0);
	else if (_i == 2)
		object(RDI_OBJ_DELTA, 10, body, 10, sha, sha, 0);
	else if (_i == 3)
		object(RDI_OBJ_SIG, 10, body, 10, sha, NULL, 0);
	else if (_i == 4)
		object(RDI_OBJ_FULL, 10, body, 10, sha, NULL, 4096);
	else
		object(RDI_OBJ_DELTA, (INT64_C(1) << 62) + 1, body, 10, zero,
		    sha, 0);
	snap(1);
	root_row(1);
	end(1, 1, 1);
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "stream is damaged: impossible object header");
	assert_untouched();
}
END_TEST

START_TEST(test_rows_before_snapshot)
{
	struct rd_err err = RD_ERR_INIT;

	hello(ORIGIN, 1, 0, 1);
	root_row(1);
	snap(1);
	end(0, 1, 1);
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "stream is damaged: a frame of type 'S' out of order");
	assert_untouched();
}
END_TEST

/*
 * A delta bomb: 1000 copies of a 100-byte base, declared as 100 bytes,
 * stops at the first byte over; the base's batch goes with it.
 */
START_TEST(test_delta_bomb)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf d = { NULL, 0, 0 };
	unsigned char base[100], bsha[RD_HASH_LEN], bomb[RD_HASH_LEN];
	char hex[2 * RD_HASH_LEN + 1], want[256];
	const char *tail = ": rebuilds to more than its 100 bytes";

	memset(base, 'b', sizeof(base));
	sha256(base, sizeof(base), bsha);
	memset(bomb, 0x42, sizeof(bomb));
	delta(&d, 1000, sizeof(base), NULL, 0);
	hello(ORIGIN, 1, 0, 1);
	object(RDI_OBJ_FULL, 100, base, sizeof(base), bsha, NULL, 0);
	object(RDI_OBJ_DELTA, 100, d.data, d.len, bomb, bsha, 0);
	rdi_buf_release(&d);
	snap(1);
	root_row(1);
	end(2, 1, 1);
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	rd_hex(bomb, RD_HASH_LEN, hex);
	snprintf(want, sizeof(want),
	    "object fails verification: content %s: pack '", hex);
	ck_assert_int_eq(strncmp(err.msg, want, strlen(want)), 0);
	ck_assert_str_eq(err.msg + strlen(err.msg) - strlen(tail), tail);
	assert_untouched();
}
END_TEST

/* 64 honest deltas in a chain are taken; one more is refused. */
START_TEST(test_chain_limit)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf d = { NULL, 0, 0 };
	unsigned char c[200], sha[RD_HASH_LEN], prev[RD_HASH_LEN];
	char hex[2 * RD_HASH_LEN + 1], want[256];
	int i, n = _i == 0 ? 64 : 65;

	memset(c, 'x', sizeof(c));
	sha256(c, 100, sha);
	hello(ORIGIN, 1, 0, 1);
	object(RDI_OBJ_FULL, 100, c, 100, sha, NULL, 0);
	for (i = 1; i <= n; i++) {
		memcpy(prev, sha, RD_HASH_LEN);
		c[100 + i - 1] = 'y';
		sha256(c, (size_t)(100 + i), sha);
		d.len = 0;
		delta(&d, 1, (uint64_t)(100 + i - 1), "y", 1);
		object(RDI_OBJ_DELTA, 100 + i, d.data, d.len, sha, prev, 0);
	}
	rdi_buf_release(&d);
	snap(1);
	root_row(1);
	end((uint64_t)n + 1, 1, 1);
	if (_i == 0) {
		unit_ok(receive(&err), err);
		ck_assert_int_eq(catalog_int("SELECT MAX(depth) FROM contents"),
		    64);
		return;
	}
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	rd_hex(sha, RD_HASH_LEN, hex);
	snprintf(want, sizeof(want),
	    "delta %s would make a chain deeper than the limit of 64 deltas",
	    hex);
	ck_assert_str_eq(err.msg, want);
	assert_untouched();
}
END_TEST

/* A signature must be one of its content. */
START_TEST(test_signature_size)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char body[10000], sha[RD_HASH_LEN], sig[12 + 2 * 12];
	char hex[2 * RD_HASH_LEN + 1], want[256];

	memset(body, 's', sizeof(body));
	sha256(body, sizeof(body), sha);
	memset(sig, 0, sizeof(sig));
	/* blake2 sums, 4096-byte blocks, 8-byte sums: 2 entries, not 3 */
	sig[0] = 0x72, sig[1] = 0x73, sig[2] = 0x01, sig[3] = 0x47;
	sig[6] = 0x10;
	sig[11] = 8;
	hello(ORIGIN, 1, 0, 1);
	object(RDI_OBJ_FULL, sizeof(body), body, sizeof(body), sha, NULL, 0);
	object(RDI_OBJ_SIG, sizeof(sig), sig, sizeof(sig), sha, NULL,
	    _i == 0 ? 4096 : 2048);
	snap(1);
	root_row(1);
	end(1, 1, 1);
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	rd_hex(sha, RD_HASH_LEN, hex);
	if (_i == 0)
		snprintf(want, sizeof(want),
		    "object fails verification: the signature of content %s does not cover its 10000 bytes",
		    hex);
	else
		snprintf(want, sizeof(want),
		    "object fails verification: the signature of content %s is not a signature of block length 2048",
		    hex);
	ck_assert_str_eq(err.msg, want);
	assert_untouched();
}
END_TEST

/*
 * What a push's outcome records, and what status makes of it: failures
 * in a row with the first line of the reason, a reset on success, rows
 * that rdship did not write ignored or started over.
 */
START_TEST(test_push_record)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_ship_status *ss = calloc(1, sizeof(*ss));
	char dest[RD_SHIP_DEST_MAX + 2];

	ck_assert_ptr_nonnull(ss);
	unit_ok(rd_ship_note_push(st, "h:/a", NULL, "first\nsecond", &err),
	    err);
	unit_ok(rd_ship_note_push(st, "h:/a", "", "again\tnow", &err), err);
	unit_ok(rd_ship_status(st, ss, &err), err);
	ck_assert_int_eq(ss->nstandbys, 1);
	ck_assert_str_eq(ss->standby[0].dest, "h:/a");
	ck_assert_str_eq(ss->standby[0].uuid, "");
	ck_assert_int_eq(ss->standby[0].snapshot, -1);
	ck_assert_int_eq(ss->standby[0].failures, 2);
	ck_assert_str_eq(ss->standby[0].reason, "again now");
	ck_assert(ss->standby[0].failed > 0);
	/* it answers: the count goes back to 0, the last reason stays */
	unit_ok(rd_ship_note_push(st, "h:/a", ORIGIN, NULL, &err), err);
	unit_ok(rdi_meta_set(st->db, "standby:" ORIGIN, "3 1700000000", &err),
	    err);
	/* rows that rdship did not write */
	unit_ok(rdi_meta_set(st->db, "dest:x", "not-a-uuid 1 1 r", &err), err);
	unit_ok(rdi_meta_set(st->db, "dest:y", "- -1 1 r", &err), err);
	unit_ok(rd_ship_status(st, ss, &err), err);
	ck_assert_int_eq(ss->nstandbys, 1);
	ck_assert_str_eq(ss->standby[0].uuid, ORIGIN);
	ck_assert_str_eq(ss->standby[0].dest, "h:/a");
	ck_assert_int_eq(ss->standby[0].snapshot, 3);
	ck_assert_int_eq(ss->standby[0].failures, 0);
	ck_assert_str_eq(ss->standby[0].reason, "again now");
	/* a damaged row starts over */
	unit_ok(rd_ship_note_push(st, "x", NULL, "down", &err), err);
	unit_ok(rd_ship_status(st, ss, &err), err);
	ck_assert_int_eq(ss->nstandbys, 2);
	ck_assert_str_eq(ss->standby[1].dest, "x");
	ck_assert_int_eq(ss->standby[1].failures, 1);
	ck_assert_str_eq(ss->standby[1].reason, "down");
	memset(dest, 'd', sizeof(dest) - 1);
	dest[sizeof(dest) - 1] = '\0';
	ck_assert_int_eq(rd_ship_note_push(st, dest, NULL, "r", &err), -1);
	ck_assert_int_eq(err.code, RD_EUSAGE);
	ck_assert_str_eq(err.msg, "destination name longer than 1023 bytes");
	free(ss);
}
END_TEST

/* The text rows "sql" selects on the store's catalog, joined by ' '. */
static void
assert_rows(const char *sql, const char *want)
{
	struct rd_err err = RD_ERR_INIT;
	sqlite3_stmt *q = NULL;
	char got[512] = "";
	const unsigned char *t;
	int r;

	unit_ok(rdi_db_prepare(st->db, sql, &q, &err), err);
	while ((r = rdi_db_step(st->db, q, &err)) == 1) {
		t = sqlite3_column_text(q, 0);
		if (got[0] != '\0')
			strcat(got, " ");
		strncat(got, t != NULL ? (const char *)t : "NULL",
		    sizeof(got) - strlen(got) - 2);
	}
	ck_assert_int_eq(r, 0);
	sqlite3_finalize(q);
	ck_assert_str_eq(got, want);
}

/*
 * A store with snapshots 1 to 3, rows that begin, end and stay across
 * them, problems and replicas of 1 and 2, and the mark of rdship rejoin.
 */
static void
rejoining_store(void)
{
	struct rd_err err = RD_ERR_INIT;

	unit_ok(
	    rdi_db_exec(st->db,
	        "INSERT INTO snapshots(id, state, started, finished)"
	        " VALUES (1, 'complete', 1, 2), (2, 'complete', 3, 4),"
	        " (3, 'complete', 5, 6);"
	        "INSERT INTO entries(path, first, last, type, mode, uid,"
	        " gid, size, mtime) VALUES"
	        " ('', 1, NULL, 100, 493, 0, 0, 0, 0),"
	        " ('x/', 1, 1, 100, 493, 0, 0, 0, 0),"
	        " ('y/', 2, NULL, 100, 493, 0, 0, 0, 0),"
	        " ('z/', 1, 2, 100, 493, 0, 0, 0, 0),"
	        " ('w/', 3, NULL, 100, 493, 0, 0, 0, 0);"
	        "INSERT INTO snapshot_problems VALUES"
	        " (1, 'q', 'unreadable', 'r'), (2, 'p', 'changing', 'r');"
	        "INSERT INTO replicas(dir, version, target, state, updated)"
	        " VALUES ('/r1', 1, NULL, 'clean', 0),"
	        " ('/r2', 2, NULL, 'clean', 0),"
	        " ('/r3', 1, 3, 'applying', 0);"
	        "INSERT INTO meta(key, value) VALUES ('rejoin', 'forked-4')",
	        &err),
	    err);
}

/*
 * The first push to a rejoining store drops the snapshots after the
 * fork point: their rows and problems go, the rows they closed are
 * current again, a replica that held one is forgotten, the mark goes;
 * once only.
 */
START_TEST(test_rejoin_cut)
{
	struct rd_err err = RD_ERR_INIT;
	char aside[40];
	int64_t cut = -1;

	rejoining_store();
	ck_assert_int_eq(rdi_rejoin_cut(st, 1, &cut, aside, sizeof(aside),
	                     &err),
	    1);
	ck_assert_int_eq(cut, 1);
	ck_assert_str_eq(aside, "forked-4");
	assert_rows("SELECT id FROM snapshots ORDER BY id", "1");
	assert_rows(
	    "SELECT path || ':' || first || '-' || COALESCE(last, 'now')"
	    " FROM entries ORDER BY path",
	    ":1-now x/:1-now z/:1-now");
	assert_rows("SELECT snapshot || path FROM snapshot_problems", "1q");
	assert_rows("SELECT dir FROM replicas", "/r1");
	assert_rows("SELECT COUNT(*) FROM meta WHERE key = 'rejoin'", "0");
	cut = -1;
	ck_assert_int_eq(rdi_rejoin_cut(st, 0, &cut, aside, sizeof(aside),
	                     &err),
	    0);
	ck_assert_int_eq(cut, -1);
	assert_rows("SELECT id FROM snapshots ORDER BY id", "1");
}
END_TEST

/* A fork point past the store's newest snapshot drops nothing. */
START_TEST(test_rejoin_cut_behind)
{
	struct rd_err err = RD_ERR_INIT;
	char aside[40];
	int64_t cut = -1;

	rejoining_store();
	ck_assert_int_eq(rdi_rejoin_cut(st, 7, &cut, aside, sizeof(aside),
	                     &err),
	    1);
	ck_assert_int_eq(cut, 3);
	assert_rows("SELECT id FROM snapshots ORDER BY id", "1 2 3");
	assert_rows(
	    "SELECT path || ':' || first || '-' || COALESCE(last, 'now')"
	    " FROM entries ORDER BY path",
	    ":1-now w/:3-now x/:1-1 y/:2-now z/:1-2");
	assert_rows("SELECT dir FROM replicas ORDER BY dir", "/r1 /r2 /r3");
	assert_rows("SELECT COUNT(*) FROM meta WHERE key = 'rejoin'", "0");
}
END_TEST

static Suite *
ship_suite(void)
{
	Suite *s = suite_create("ship");
	TCase *tc;

	tc = tcase_create("receive");
	/* the bomb and the chain limit build large streams: slow under ASan */
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_good);
	tcase_add_test(tc, test_push_record);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_mac);
	tcase_add_loop_test(tc, test_hello, 0, 4);
	tcase_add_test(tc, test_epoch_with_bundle);
	tcase_add_test(tc, test_no_root);
	tcase_add_test(tc, test_bogus_object);
	tcase_add_test(tc, test_object_after_snapshot);
	tcase_add_loop_test(tc, test_impossible_header, 0, 6);
	tcase_add_test(tc, test_rows_before_snapshot);
	tcase_add_test(tc, test_delta_bomb);
	tcase_add_loop_test(tc, test_chain_limit, 0, 2);
	tcase_add_loop_test(tc, test_signature_size, 0, 2);
	suite_add_tcase(s, tc);
	tc = tcase_create("rejoin");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_rejoin_cut);
	tcase_add_test(tc, test_rejoin_cut_behind);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(ship_suite());
}
