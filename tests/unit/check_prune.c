/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_prune.c: unit tests of prune.c: the keep rules against snapshots
 * with known times (hours, days, ISO weeks across a year end, months,
 * years, the union of rules), what always stays (newest, standby,
 * replica, running promotion), the refusals, rebasing a delta whose base
 * goes, the pack threshold, and a dry run that changes nothing.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_int.h"
#include "unit.h"

#define BIG (1536 * 1024) /* over the size that gets signatures */

static const char *
cat(void)
{
	return unit_path("store/catalog.db");
}

static struct rd_store *
open_store(int mode)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;

	unit_ok(rd_store_open(unit_path("store"), mode, 0, &st, &err), err);
	return st;
}

/* A store with "n" snapshots of a tree whose big file grows each time. */
static void
make_history(int n)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_init_opts io = RD_INIT_OPTS_INIT;
	struct rd_snap_opts so = RD_SNAP_OPTS_INIT;
	struct rd_store *st;
	unsigned char *buf;
	char name[32];
	int i;

	buf = malloc(BIG + 64 * 1024 * (size_t)n);
	ck_assert_ptr_nonnull(buf);
	unit_fill_random(buf, BIG + 64 * 1024 * (size_t)n, 7);
	unit_ok(rd_store_init(unit_path("store"), &io, &err), err);
	unit_mkdir(unit_path("src"), 0755);
	for (i = 1; i <= n; i++) {
		unit_write(unit_path("src/big"), buf,
		    BIG + 64 * 1024 * (size_t)i);
		snprintf(name, sizeof(name), "version %d\n", i);
		unit_write_str(unit_path("src/small"), name);
		st = open_store(RD_OPEN_WRITE);
		unit_ok(rd_snap_create(st, unit_path("src"), &so, NULL, &err),
		    err);
		rd_store_close(st);
	}
	free(buf);
}

/* Set snapshot "id"'s start to the UTC time "when" (YYYY-MM-DD HH:MM). */
static void
set_time(int id, const char *when)
{
	char q[256];

	snprintf(q, sizeof(q),
	    "UPDATE snapshots SET started = strftime('%%s', '%s')"
	    " WHERE id = %d",
	    when, id);
	unit_sql(cat(), q);
}

struct fate {
	char kept[256];
	char why[512];
};

static void
on_snapshot(void *arg, const struct rd_snapinfo *si, int keep, const char *why)
{
	struct fate *f = arg;
	size_t n;

	if (!keep)
		return;
	n = strlen(f->kept);
	snprintf(f->kept + n, sizeof(f->kept) - n, "%s%lld", n > 0 ? " " : "",
	    (long long)si->id);
	n = strlen(f->why);
	snprintf(f->why + n, sizeof(f->why) - n, "%s%lld:%s", n > 0 ? "; " : "",
	    (long long)si->id, why);
}

/* Run a prune and return what stayed, as "1 4 7". */
static struct fate
prune(struct rd_prune_opts *o, struct rd_prune_result *res)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = open_store(RD_OPEN_WRITE);
	struct fate f;

	memset(&f, 0, sizeof(f));
	o->snapshot = on_snapshot;
	o->arg = &f;
	unit_ok(rd_snap_prune(st, o, res, &err), err);
	rd_store_close(st);
	return f;
}

START_TEST(test_rules)
{
	struct rd_prune_opts o = RD_PRUNE_OPTS_INIT;
	struct rd_prune_result res;
	struct fate f;

	setenv("TZ", "UTC", 1);
	make_history(9);
	set_time(1, "2024-06-30 10:00");
	set_time(2, "2025-12-28 10:00"); /* ISO week 2025-W52 */
	set_time(3, "2025-12-29 09:00"); /* ISO week 2026-W01 */
	set_time(4, "2025-12-31 10:00"); /* 2026-W01, still December */
	set_time(5, "2026-01-01 08:00"); /* 2026-W01 */
	set_time(6, "2026-01-01 08:30");
	set_time(7, "2026-01-01 09:15");
	set_time(8, "2026-01-02 10:00");
	set_time(9, "2026-01-02 10:45");
	o.dry_run = 1;

	o.keep_hourly = 3; /* 9 (10h), 7 (09h on the 1st), 6 (08h) */
	f = prune(&o, &res);
	ck_assert_str_eq(f.kept, "6 7 9");
	ck_assert_int_eq(res.removed, 6);

	o.keep_hourly = 0;
	o.keep_daily = 2; /* the 2nd: 9; the 1st: 7 */
	f = prune(&o, &res);
	ck_assert_str_eq(f.kept, "7 9");

	o.keep_daily = 0;
	o.keep_weekly = 3; /* 2026-W01: 9; 2025-W52: 2; 2024-W26: 1 */
	f = prune(&o, &res);
	ck_assert_str_eq(f.kept, "1 2 9");

	o.keep_weekly = 0;
	o.keep_monthly = 2; /* 2026-01: 9; 2025-12: 4 */
	f = prune(&o, &res);
	ck_assert_str_eq(f.kept, "4 9");

	o.keep_monthly = 0;
	o.keep_yearly = 5; /* 2026: 9; 2025: 4; 2024: 1 */
	f = prune(&o, &res);
	ck_assert_str_eq(f.kept, "1 4 9");

	/* the union of the rules, each naming itself */
	o.keep_yearly = 0;
	o.keep_last = 2;
	o.keep_monthly = 2;
	f = prune(&o, &res);
	ck_assert_str_eq(f.kept, "4 8 9");
	ck_assert_str_eq(f.why, "4:monthly; 8:last; 9:last, monthly, newest");
	ck_assert_int_eq(res.kept, 3);

	/* the dry runs changed nothing */
	ck_assert_int_eq(unit_sql_int(cat(), "SELECT COUNT(*) FROM snapshots"),
	    9);
}
END_TEST

START_TEST(test_always_kept)
{
	struct rd_prune_opts o = RD_PRUNE_OPTS_INIT;
	struct rd_prune_result res;
	struct fate f;

	make_history(6);
	unit_sql(cat(), "INSERT INTO meta VALUES ('standby:x', '2 100')");
	unit_sql(cat(),
	    "INSERT INTO replicas VALUES ('/r', 3, NULL, 'clean', 0)");
	unit_sql(cat(),
	    "INSERT INTO promotions(kind, version, target, started, state)"
	    " VALUES ('drill', 4, '/t', 0, 'running')");
	o.keep_last = 1;
	o.dry_run = 1;
	f = prune(&o, &res);
	ck_assert_str_eq(f.kept, "2 3 4 6");
	ck_assert_str_eq(f.why,
	    "2:standby; 3:replica; 4:promotion; 6:last, newest");
	/* a finished promotion no longer holds its snapshot */
	unit_sql(cat(), "UPDATE promotions SET state = 'done'");
	o.dry_run = 0;
	f = prune(&o, &res);
	ck_assert_str_eq(f.kept, "2 3 6");
	ck_assert_int_eq(unit_sql_int(cat(), "SELECT COUNT(*) FROM snapshots"),
	    3);
	/* forgetting the standby alone removes nothing */
	memset(&o, 0, sizeof(o));
	o.max_unused = 20;
	o.forget_standby = "x";
	f = prune(&o, &res);
	ck_assert_str_eq(f.kept, "2 3 6");
	ck_assert_int_eq(res.removed, 0);
	ck_assert_int_eq(
	    unit_sql_int(cat(),
	        "SELECT COUNT(*) FROM meta WHERE key = 'standby:x'"),
	    0);
}
END_TEST

START_TEST(test_refusals)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_prune_opts o = RD_PRUNE_OPTS_INIT;
	struct rd_prune_result res;
	struct rd_store *st;

	make_history(2);
	st = open_store(RD_OPEN_WRITE);
	ck_assert_int_eq(rd_snap_prune(st, &o, &res, &err), -1);
	ck_assert_int_eq(err.code, RD_EUSAGE);
	ck_assert_str_eq(err.msg, "prune needs at least one --keep rule");
	o.keep_last = 1;
	o.max_unused = 101;
	ck_assert_int_eq(rd_snap_prune(st, &o, &res, &err), -1);
	ck_assert_int_eq(err.code, RD_EUSAGE);
	o.max_unused = 20;
	o.forget_standby = "nobody";
	ck_assert_int_eq(rd_snap_prune(st, &o, &res, &err), -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	rd_store_close(st);
	/* a reader may not prune */
	o.forget_standby = NULL;
	st = open_store(RD_OPEN_READ);
	ck_assert_int_eq(rd_snap_prune(st, &o, &res, &err), -1);
	ck_assert_int_eq(err.code, RD_EINTERNAL);
	rd_store_close(st);
	ck_assert_int_eq(unit_sql_int(cat(), "SELECT COUNT(*) FROM snapshots"),
	    2);
}
END_TEST

/* Rebuild every content of the store and check it. */
static void
verify_clean(void)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_opts vo = RD_VERIFY_OPTS_INIT;
	struct rd_verify_result vr;
	struct rd_store *st = open_store(RD_OPEN_READ);

	vo.read_data = 1;
	ck_assert_int_eq(rd_verify(st, &vo, &vr, &err), 0);
	ck_assert_int_eq(vr.damaged, 0);
	ck_assert_int_eq(vr.orphan_packs, 0);
	rd_store_close(st);
}

START_TEST(test_rebase)
{
	struct rd_prune_opts o = RD_PRUNE_OPTS_INIT;
	struct rd_prune_result res;
	struct fate f;

	make_history(5);
	/* big: 1 full, 2..5 deltas on the one before */
	ck_assert_int_eq(unit_sql_int(cat(),
	                     "SELECT COUNT(*) FROM contents WHERE kind = 1"),
	    4);
	/* keep 1 and 3 (standby) and 5: 3 loses its base 2, 5 its base 4 */
	unit_sql(cat(), "INSERT INTO meta VALUES ('standby:a', '1 0')");
	unit_sql(cat(), "INSERT INTO meta VALUES ('standby:b', '3 0')");
	o.keep_last = 1;
	o.max_unused = 0;
	f = prune(&o, &res);
	ck_assert_str_eq(f.kept, "1 3 5");
	ck_assert_int_eq(res.contents_rebased, 2);
	ck_assert_int_gt(res.bytes_freed, 0);
	/* each is now a delta on the kept version before it */
	ck_assert_int_eq(unit_sql_int(cat(),
	                     "SELECT COUNT(*) FROM contents c JOIN contents b"
	                     " ON b.sha = c.base WHERE c.kind = 1"
	                     " AND c.depth = b.depth + 1"),
	    2);
	ck_assert_int_eq(unit_sql_int(cat(), "SELECT MAX(depth) FROM contents"),
	    2);
	ck_assert_int_eq(unit_sql_int(cat(),
	                     "SELECT COUNT(*) FROM contents c WHERE NOT EXISTS"
	                     " (SELECT 1 FROM entries e WHERE e.sha = c.sha)"),
	    0);
	verify_clean();

	/* the root goes: its delta child becomes whole */
	unit_sql(cat(), "DELETE FROM meta WHERE key = 'standby:a'");
	f = prune(&o, &res);
	ck_assert_str_eq(f.kept, "3 5");
	ck_assert_int_eq(res.contents_rebased, 1);
	ck_assert_int_eq(unit_sql_int(cat(),
	                     "SELECT COUNT(*) FROM contents WHERE kind = 1"),
	    1);
	verify_clean();
}
END_TEST

/* Bytes in packs that no content or signature uses. */
static long long
unused_bytes(void)
{
	return unit_sql_int(cat(),
	    "SELECT (SELECT SUM(size - 8) FROM packs)"
	    " - (SELECT COALESCE(SUM(len + 96), 0) FROM contents)"
	    " - (SELECT COALESCE(SUM(len + 96), 0) FROM signatures)");
}

START_TEST(test_threshold)
{
	struct rd_prune_opts o = RD_PRUNE_OPTS_INIT;
	struct rd_prune_result res;
	long long packs, after;

	make_history(6);
	packs = unit_sql_int(cat(), "SELECT COUNT(*) FROM packs");
	ck_assert_int_eq(unused_bytes(), 0);
	/* 100: only packs with nothing in use go; the rest keep dead bytes */
	unit_sql(cat(), "INSERT INTO meta VALUES ('standby:a', '2 0')");
	o.keep_last = 1;
	o.max_unused = 100;
	(void)prune(&o, &res);
	ck_assert_int_eq(res.removed, 4);
	ck_assert_int_eq(res.packs_rewritten, 0);
	ck_assert_int_gt(res.packs_removed, 0);
	after = unit_sql_int(cat(), "SELECT COUNT(*) FROM packs");
	ck_assert_int_eq(after, packs - res.packs_removed + res.packs_written);
	ck_assert_int_eq(unit_count_dir(unit_path("store/packs")), after);
	ck_assert_int_gt(unused_bytes(), 0);
	verify_clean();
	/* 0: every pack that loses anything is rewritten or removed */
	ck_assert_int_eq(unit_rm_rf(unit_path("store")), 0);
	ck_assert_int_eq(unit_rm_rf(unit_path("src")), 0);
	make_history(6);
	unit_sql(cat(), "INSERT INTO meta VALUES ('standby:a', '2 0')");
	o.max_unused = 0;
	(void)prune(&o, &res);
	ck_assert_int_eq(res.removed, 4);
	ck_assert_int_gt(res.packs_rewritten, 0);
	ck_assert_int_eq(unused_bytes(), 0);
	ck_assert_int_eq(unit_count_dir(unit_path("store/packs")),
	    unit_sql_int(cat(), "SELECT COUNT(*) FROM packs"));
	verify_clean();
}
END_TEST

START_TEST(test_dry_run)
{
	struct rd_prune_opts o = RD_PRUNE_OPTS_INIT;
	struct rd_prune_result res, real;
	long long packs, contents;

	make_history(4);
	packs = unit_sql_int(cat(), "SELECT COUNT(*) FROM packs");
	contents = unit_sql_int(cat(), "SELECT COUNT(*) FROM contents");
	o.keep_last = 1;
	o.dry_run = 1;
	(void)prune(&o, &res);
	ck_assert_int_eq(res.removed, 3);
	ck_assert_int_gt(res.object_bytes, 0);
	ck_assert_int_eq(unit_sql_int(cat(), "SELECT COUNT(*) FROM packs"),
	    packs);
	ck_assert_int_eq(unit_sql_int(cat(), "SELECT COUNT(*) FROM contents"),
	    contents);
	ck_assert_int_eq(unit_count_dir(unit_path("store/packs")), packs);
	o.dry_run = 0;
	(void)prune(&o, &real);
	/* the dry run foretold what went */
	ck_assert_int_eq(real.removed, res.removed);
	ck_assert_int_eq(real.contents_removed, res.contents_removed);
	ck_assert_int_eq(real.contents_rebased, res.contents_rebased);
	ck_assert_int_eq(real.object_bytes, res.object_bytes);
	ck_assert_int_eq(real.packs_removed, res.packs_removed);
	/* the space freed, less what the rebased content takes again */
	ck_assert_int_gt(real.bytes_freed, 0);
	ck_assert_msg(res.bytes_freed <=
	            real.bytes_freed + real.bytes_freed / 4 &&
	        res.bytes_freed >= real.bytes_freed - real.bytes_freed / 4,
	    "dry run foretold %lld bytes freed, the prune freed %lld",
	    (long long)res.bytes_freed, (long long)real.bytes_freed);
	verify_clean();
}
END_TEST

static Suite *
prune_suite(void)
{
	Suite *s = suite_create("prune");
	TCase *tc;

	tc = tcase_create("rules");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rules);
	tcase_add_test(tc, test_always_kept);
	tcase_add_test(tc, test_refusals);
	suite_add_tcase(s, tc);

	tc = tcase_create("space");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rebase);
	tcase_add_test(tc, test_threshold);
	tcase_add_test(tc, test_dry_run);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(prune_suite());
}
