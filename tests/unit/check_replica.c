/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_replica.c: unit tests of replica.c, the warm replica and its
 * journal: a first apply and an update write exactly the snapshot and
 * journal "clean"; an update marked "applying" (interrupted) is resumed
 * and finished; a replica newer than the snapshot, a directory the store
 * has no record of, and a catalog row with an unsafe path are refused
 * before anything is written.
 */
#include "config.h"

#include <string.h>

#include "rd_int.h"
#include "unit.h"

static struct rd_store *st;
static int notices;

static void
setup(void)
{
	unit_tmp_setup();
	st = unit_new_store(1);
	notices = 0;
}

static void
teardown(void)
{
	rd_store_close(st);
	unit_tmp_teardown();
}

static void
on_notice(void *arg, const char *msg)
{
	(void)arg;
	ck_assert_str_eq(msg, "resuming an interrupted replica update");
	notices++;
}

static void
snap(void)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;

	unit_ok(rd_snap_create(st, unit_path("src"), &o, NULL, &err), err);
}

static int
apply(int64_t version, int64_t *changed, struct rd_err *err)
{
	struct rdi_apply_res res;
	int r;

	r = rdi_replica_apply(st, unit_path("rep"), version, on_notice, NULL,
	    &res, err);
	*changed = res.changed;
	ck_assert_int_eq(res.omitted, 0);
	return r;
}

/* The replica's journal row: "VERSION clean" or "VERSION applying". */
static char *
journal(void)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%lld %s",
	    unit_sql_int(unit_path("store/catalog.db"),
	        "SELECT version FROM replicas"),
	    unit_sql_int(unit_path("store/catalog.db"),
	        "SELECT state = 'clean' FROM replicas") == 1
	        ? "clean"
	        : "applying");
	return buf;
}

START_TEST(test_apply_and_update)
{
	struct rd_err err = RD_ERR_INIT;
	int64_t changed;
	size_t n;
	char *p;

	unit_write_str(unit_path("src/a"), "one\n");
	unit_mkdir(unit_path("src/d"), 0755);
	unit_write_str(unit_path("src/d/b"), "two\n");
	snap();
	unit_ok(apply(1, &changed, &err), err);
	ck_assert_int_eq(changed, 3);
	p = (char *)unit_read(unit_path("rep/d/b"), &n);
	unit_assert_bytes(p, n, "two\n", 4);
	free(p);
	ck_assert_str_eq(journal(), "1 clean");
	/* an update: one file changed, one removed */
	unit_write_str(unit_path("src/a"), "three\n");
	ck_assert_int_eq(unlink(unit_path("src/d/b")), 0);
	snap();
	unit_ok(apply(2, &changed, &err), err);
	ck_assert_int_eq(changed, 2);
	ck_assert(!unit_exists(unit_path("rep/d/b")));
	p = (char *)unit_read(unit_path("rep/a"), &n);
	unit_assert_bytes(p, n, "three\n", 6);
	free(p);
	ck_assert_int_eq(notices, 0);
	ck_assert_str_eq(journal(), "2 clean");
}
END_TEST

/* An update the journal says was interrupted is finished, by content. */
START_TEST(test_resume)
{
	struct rd_err err = RD_ERR_INIT;
	int64_t changed;
	size_t n;
	char *p;

	unit_write_str(unit_path("src/a"), "one\n");
	snap();
	unit_ok(apply(1, &changed, &err), err);
	unit_write_str(unit_path("src/a"), "two\n");
	unit_write_str(unit_path("src/b"), "new\n");
	snap();
	/* as if a run died after writing "a" but before "b" and the journal */
	unit_write_str(unit_path("rep/a"), "two\n");
	unit_sql(unit_path("store/catalog.db"),
	    "UPDATE replicas SET state = 'applying', target = 2");
	unit_ok(apply(2, &changed, &err), err);
	ck_assert_int_eq(notices, 1);
	p = (char *)unit_read(unit_path("rep/b"), &n);
	unit_assert_bytes(p, n, "new\n", 4);
	free(p);
	ck_assert_str_eq(journal(), "2 clean");
}
END_TEST

START_TEST(test_refusals)
{
	struct rd_err err = RD_ERR_INIT;
	int64_t changed;
	char want[512];

	unit_write_str(unit_path("src/a"), "one\n");
	snap();
	unit_write_str(unit_path("src/a"), "two\n");
	snap();
	/* a directory with files the store never wrote */
	unit_mkdir(unit_path("rep"), 0755);
	unit_write_str(unit_path("rep/mine"), "x\n");
	ck_assert_int_eq(apply(1, &changed, &err), -1);
	ck_assert_int_eq(err.code, RD_ECANTCREAT);
	ck_assert_int_eq(unlink(unit_path("rep/mine")), 0);
	/* a replica at 2 is not brought back to 1 */
	unit_ok(apply(2, &changed, &err), err);
	ck_assert_int_eq(apply(1, &changed, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	snprintf(want, sizeof(want),
	    "replica '%s' holds snapshot 2, newer than 1", unit_path("rep"));
	ck_assert_str_eq(err.msg, want);
}
END_TEST

/* A tampered row cannot lead out of the replica; nothing is written. */
START_TEST(test_unsafe_row)
{
	struct rd_err err = RD_ERR_INIT;
	int64_t changed;

	unit_mkdir(unit_path("victim"), 0755);
	unit_write_str(unit_path("src/a"), "one\n");
	snap();
	unit_write_str(unit_path("src/a"), "two\n");
	snap();
	unit_ok(apply(1, &changed, &err), err);
	unit_sql(unit_path("store/catalog.db"),
	    "UPDATE entries SET path = CAST('../victim/a' AS BLOB)"
	    " WHERE first = 2");
	ck_assert_int_eq(apply(2, &changed, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "catalog has a bad row for '../victim/a': unsafe path");
	ck_assert_int_eq(unit_count_dir(unit_path("victim")), 0);
	ck_assert_str_eq(journal(), "1 clean");
}
END_TEST

static Suite *
replica_suite(void)
{
	Suite *s = suite_create("replica");
	TCase *tc;

	tc = tcase_create("apply");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_apply_and_update);
	tcase_add_test(tc, test_resume);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_unsafe_row);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(replica_suite());
}
