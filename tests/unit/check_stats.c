/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_stats.c: unit tests of stats.c: an empty store, then a store with
 * duplicate contents, a compressed file and a chain of two deltas, where
 * every figure is known in advance or checked against the catalog and
 * the files; unreferenced object bytes and orphan packs; and a catalog
 * whose chain depth is out of range.
 */
#include "config.h"

#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "unit.h"

#define MIB    (1024 * 1024)
#define BIG    (3 * MIB)
#define TEXT   (512 * 1024)
#define ORPHAN "0123456789abcdef0123456789abcdef.pack"

static struct rd_store *st;

static void
setup(void)
{
	unit_tmp_setup();
	st = unit_new_store(1);
}

static void
teardown(void)
{
	rd_store_close(st);
	st = NULL;
	unit_tmp_teardown();
}

static long long
sql(const char *q)
{
	return unit_sql_int(unit_path("store/catalog.db"), q);
}

static long long
file_size(const char *rel)
{
	struct stat sb;

	if (stat(unit_path("%s", rel), &sb) == -1)
		return 0;
	return (long long)sb.st_size;
}

static void
snap(void)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;

	o.threads = 1; /* one pack per snapshot, no racing duplicates */
	unit_ok(rd_snap_create(st, unit_path("src"), &o, NULL, &err), err);
}

static void
stats(struct rd_store_stats *s)
{
	struct rd_err err = RD_ERR_INIT;

	memset(s, 0xa5, sizeof(*s));
	unit_ok(rd_store_stats(st, s, &err), err);
}

START_TEST(test_empty)
{
	struct rd_store_stats s;
	int d;

	stats(&s);
	ck_assert_int_eq(s.snapshots, 0);
	ck_assert_int_eq(s.oldest, 0);
	ck_assert_int_eq(s.newest, 0);
	ck_assert_int_eq(s.entries, 0);
	ck_assert_int_eq(s.logical_bytes, 0);
	ck_assert_int_eq(s.contents, 0);
	ck_assert_int_eq(s.unique_bytes, 0);
	ck_assert_int_eq(s.depth_max, 0);
	ck_assert_double_eq(s.depth_mean, 0);
	for (d = 0; d <= RD_DEPTH_MAX; d++)
		ck_assert_int_eq(s.depth_count[d], 0);
	ck_assert_int_eq(s.signatures, 0);
	ck_assert_int_eq(s.packs, 0);
	ck_assert_int_eq(s.catalog_packs, 0);
	ck_assert_int_eq(s.live_bytes, 0);
	ck_assert_int_eq(s.unreferenced_bytes, 0);
	ck_assert_int_eq(s.orphan_packs, 0);
	ck_assert_int_gt(s.catalog_bytes, 0);
	ck_assert_int_eq(s.catalog_bytes,
	    file_size("store/catalog.db") + file_size("store/catalog.db-wal"));
	ck_assert_int_eq(s.disk_bytes, s.catalog_bytes);
}
END_TEST

/*
 * Three snapshots: big.bin (random, stored raw) changed twice, a chain of
 * two deltas; text (compressible, stored compressed); a and b, the same
 * 5 bytes stored once.
 */
static void
make_store(void)
{
	unsigned char *big, *text;

	big = malloc(BIG);
	text = malloc(TEXT);
	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(text);
	unit_fill_random(big, BIG, 7);
	unit_fill_text(text, TEXT, 7);
	unit_write(unit_path("src/big.bin"), big, BIG);
	unit_write(unit_path("src/text"), text, TEXT);
	unit_write_str(unit_path("src/a"), "same\n");
	unit_write_str(unit_path("src/b"), "same\n");
	snap();
	unit_pwrite(unit_path("src/big.bin"), MIB, "XXXXXXXX", 8);
	snap();
	unit_pwrite(unit_path("src/big.bin"), 2 * MIB, "YYYYYYYY", 8);
	snap();
	free(big);
	free(text);
}

START_TEST(test_figures)
{
	struct rd_store_stats s;
	long long live;

	make_store();
	stats(&s);
	ck_assert_int_eq(s.snapshots, 3);
	ck_assert_int_eq(s.oldest, 1);
	ck_assert_int_eq(s.newest, 3);
	ck_assert_int_eq(s.oldest_time,
	    sql("SELECT CAST(started AS INTEGER) FROM snapshots WHERE id = 1"));
	ck_assert_int_eq(s.newest_time,
	    sql("SELECT CAST(started AS INTEGER) FROM snapshots WHERE id = 3"));
	/* root, a, b, text, and three versions of big.bin */
	ck_assert_int_eq(s.entries, 7);
	ck_assert_int_eq(s.logical_bytes, 3 * (BIG + TEXT + 10));
	ck_assert_int_eq(s.contents, 5);
	ck_assert_int_eq(s.full, 3);
	ck_assert_int_eq(s.delta, 2);
	ck_assert_int_eq(s.unique_bytes, 3 * BIG + TEXT + 5);
	ck_assert_int_eq(s.full_raw, BIG + TEXT + 5);
	ck_assert_int_eq(s.full_stored,
	    sql("SELECT SUM(len) FROM contents WHERE kind = 0"));
	ck_assert_int_lt(s.full_stored, BIG + TEXT / 2);
	ck_assert_int_eq(s.delta_raw, 2 * BIG);
	ck_assert_int_eq(s.delta_stored,
	    sql("SELECT SUM(len) FROM contents WHERE kind = 1"));
	ck_assert_int_lt(s.delta_stored, 64 * 1024);
	ck_assert_int_eq(s.depth_max, 2);
	ck_assert_int_eq(s.depth_count[0], 3);
	ck_assert_int_eq(s.depth_count[1], 1);
	ck_assert_int_eq(s.depth_count[2], 1);
	ck_assert_int_eq(s.depth_count[3], 0);
	ck_assert_double_eq_tol(s.depth_mean, 0.6, 1e-12);
	/* big.bin's three versions keep their signatures */
	ck_assert_int_eq(s.signatures, 3);
	ck_assert_int_eq(s.signature_bytes,
	    sql("SELECT SUM(len) FROM signatures"));
	live = sql("SELECT SUM(len) + 96 * COUNT(*) FROM contents") +
	    sql("SELECT SUM(len) + 96 * COUNT(*) FROM signatures");
	ck_assert_int_eq(s.live_bytes, live);
	/* one writer thread: every pack byte is its magic or in use */
	ck_assert_int_eq(s.catalog_packs, 3);
	ck_assert_int_eq(s.unreferenced_bytes, 0);
	ck_assert_int_eq(s.packs, 3);
	ck_assert_int_eq(s.pack_bytes, sql("SELECT SUM(size) FROM packs"));
	ck_assert_int_eq(s.pack_bytes, 3 * 8 + live);
	ck_assert_int_eq(s.orphan_packs, 0);
	ck_assert_int_eq(s.orphan_bytes, 0);
	ck_assert_int_eq(s.catalog_bytes,
	    file_size("store/catalog.db") + file_size("store/catalog.db-wal"));
	ck_assert_int_eq(s.disk_bytes, s.pack_bytes + s.catalog_bytes);
}
END_TEST

START_TEST(test_unused)
{
	struct rd_store_stats s;
	long long sig;
	static const char pad[100] = "not a pack";

	make_store();
	sig = sql("SELECT 96 + len FROM signatures ORDER BY sha LIMIT 1");
	unit_sql(unit_path("store/catalog.db"),
	    "DELETE FROM signatures WHERE sha ="
	    " (SELECT sha FROM signatures ORDER BY sha LIMIT 1)");
	unit_write(unit_path("store/packs/" ORPHAN), pad, sizeof(pad));
	/* neither a pack name nor a regular file: not counted */
	unit_write(unit_path("store/packs/notes.txt"), pad, 10);
	unit_mkdir(
	    unit_path("store/packs/fedcba9876543210fedcba9876543210.pack"),
	    0700);
	stats(&s);
	ck_assert_int_eq(s.signatures, 2);
	ck_assert_int_eq(s.unreferenced_bytes, sig);
	ck_assert_int_eq(s.catalog_packs, 3);
	ck_assert_int_eq(s.packs, 4);
	ck_assert_int_eq(s.orphan_packs, 1);
	ck_assert_int_eq(s.orphan_bytes, sizeof(pad));
	ck_assert_int_eq(s.pack_bytes,
	    sql("SELECT SUM(size) FROM packs") + (long long)sizeof(pad));
	ck_assert_int_eq(s.disk_bytes, s.pack_bytes + s.catalog_bytes);
}
END_TEST

START_TEST(test_bad_depth)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store_stats s, before;

	make_store();
	unit_sql(unit_path("store/catalog.db"),
	    "UPDATE contents SET depth = 65 WHERE depth = 2");
	memset(&s, 0x5a, sizeof(s));
	before = s;
	ck_assert_int_eq(rd_store_stats(st, &s, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "catalog: delta chain depth 65 is out of range");
	/* "out" is set only on success */
	ck_assert_int_eq(memcmp(&s, &before, sizeof(s)), 0);
	/* the read transaction ended: the store still takes snapshots */
	unit_sql(unit_path("store/catalog.db"),
	    "UPDATE contents SET depth = 2 WHERE depth = 65");
	unit_write_str(unit_path("src/c"), "c\n");
	snap();
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc;

	tc = tcase_create("stats");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_figures);
	tcase_add_test(tc, test_unused);
	tcase_add_test(tc, test_bad_depth);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(stats_suite());
}
