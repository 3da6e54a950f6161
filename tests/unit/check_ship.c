/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_ship.c: unit tests of the receiving side of ship.c and chan.c,
 * fed streams written here frame by frame (with the public zero key, as
 * an attacker could): the preamble and its version, MACs, HELLO's
 * fields, the order of frames, the END counts, and the commit of objects
 * and rows.  Every refusal leaves the standby as it was, epoch included.
 */
#define _GNU_SOURCE
#include "config.h"

#include <sys/mman.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "rd_int.h"
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
	u64(&b, 0);
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
	static const char v1[] = "RDSHIP1\n\0................";

	ck_assert_int_eq(write(fd, v1, sizeof(v1) - 1), sizeof(v1) - 1);
	ck_assert_int_eq(receive(&err), -1);
	ck_assert_int_eq(err.code, RD_EUNAVAIL);
	ck_assert_str_eq(err.msg,
	    "stream format version 1 is not supported (this rdship reads "
	    "version 2): use the same redund release on both sides");
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

static Suite *
ship_suite(void)
{
	Suite *s = suite_create("ship");
	TCase *tc;

	tc = tcase_create("receive");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_good);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_mac);
	tcase_add_loop_test(tc, test_hello, 0, 4);
	tcase_add_test(tc, test_epoch_with_bundle);
	tcase_add_test(tc, test_no_root);
	tcase_add_test(tc, test_bogus_object);
	tcase_add_test(tc, test_object_after_snapshot);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(ship_suite());
}
