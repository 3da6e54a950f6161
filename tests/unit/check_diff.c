/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_diff.c: unit tests of diff.c: each kind of change between two
 * snapshots with the attributes that differ, the reverse change, a range
 * that skips snapshots and one whose ids have a gap, a change undone in
 * between, path order over many changes, the totals, stopping early, and
 * missing snapshots.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "unit.h"

#define T0 1600000000

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

/* Set the mtime of "rel" (below the temp dir) to T0 + "sec" seconds. */
static void
set_mtime(const char *rel, int sec)
{
	struct timespec ts[2];

	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = T0 + sec;
	ts[1].tv_nsec = 0;
	ck_assert_msg(utimensat(AT_FDCWD, unit_path("%s", rel), ts,
	                  AT_SYMLINK_NOFOLLOW) == 0,
	    "utimensat '%s': %s", rel, strerror(errno));
}

static void
put(const char *rel, const char *text, mode_t mode)
{
	unit_write_str(unit_path("%s", rel), text);
	ck_assert_int_eq(chmod(unit_path("%s", rel), mode), 0);
	set_mtime(rel, 0);
}

/* Take a snapshot of src; the root keeps one mtime throughout. */
static int64_t
snap(void)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;
	struct rd_snapinfo si;

	set_mtime("src", 0);
	o.threads = 2;
	unit_ok(rd_snap_create(st, unit_path("src"), &o, &si, &err), err);
	return si.id;
}

/* The changes reported, one "KIND PATH BITS OLDTYPE NEWTYPE" per line. */
struct changes {
	char text[16384];
	int n;
	int stop_at; /* return 7 from this call (1-based), 0: never */
	char last[256];
	int ordered; /* each path sorted after the one before */
};

static int
collect(void *arg, const struct rd_change *c)
{
	struct changes *cs = arg;
	const struct rd_entry *e = c->new != NULL ? c->new : c->old;
	size_t len = strlen(cs->text);
	int n;

	ck_assert(c->old != NULL || c->new != NULL);
	ck_assert(c->kind == RD_CHANGE_ADDED || c->old != NULL);
	ck_assert(c->kind == RD_CHANGE_REMOVED || c->new != NULL);
	if (c->old != NULL && c->new != NULL)
		ck_assert_str_eq(c->old->path, c->new->path);
	n = snprintf(cs->text + len, sizeof(cs->text) - len,
	    "%c %s %02x %c %c\n", c->kind, e->path, c->differs,
	    c->old != NULL ? c->old->type : '-',
	    c->new != NULL ? c->new->type : '-');
	ck_assert_int_lt(n, (int)(sizeof(cs->text) - len));
	if (cs->n > 0 && strcmp(cs->last, e->path) > 0)
		cs->ordered = 0;
	snprintf(cs->last, sizeof(cs->last), "%s", e->path);
	cs->n++;
	return cs->n == cs->stop_at ? 7 : 0;
}

static void
diff(int64_t from, int64_t to, struct changes *cs, struct rd_diff_result *res)
{
	struct rd_err err = RD_ERR_INIT;

	memset(cs, 0, sizeof(*cs));
	cs->ordered = 1;
	unit_ok(rd_snap_diff(st, from, to, collect, cs, res, &err), err);
}

/*
 * Snapshot 1, then snapshot 2 with one change of each kind:
 *	gone	removed			edit	new content
 *	chmod	mode only		touch	mtime only
 *	link	retargeted		fd	file, then directory
 *	f2l	file, then symlink	new	added
 */
static void
make_changes(void)
{
	put("src/keep", "keep\n", 0644);
	put("src/gone", "gone\n", 0644);
	put("src/edit", "v1\n", 0644);
	put("src/chmod", "chmod\n", 0644);
	put("src/touch", "touch\n", 0644);
	put("src/fd", "file\n", 0644);
	put("src/f2l", "f2l\n", 0644);
	ck_assert_int_eq(symlink("keep", unit_path("src/link")), 0);
	set_mtime("src/link", 0);
	ck_assert_int_eq(snap(), 1);

	ck_assert_int_eq(unlink(unit_path("src/gone")), 0);
	put("src/edit", "v2 longer\n", 0644);
	ck_assert_int_eq(chmod(unit_path("src/chmod"), 0600), 0);
	set_mtime("src/touch", 60);
	ck_assert_int_eq(unlink(unit_path("src/link")), 0);
	ck_assert_int_eq(symlink("edit", unit_path("src/link")), 0);
	set_mtime("src/link", 0);
	ck_assert_int_eq(unlink(unit_path("src/fd")), 0);
	unit_mkdir(unit_path("src/fd"), 0755);
	put("src/fd/in", "in\n", 0644);
	set_mtime("src/fd", 0);
	ck_assert_int_eq(unlink(unit_path("src/f2l")), 0);
	ck_assert_int_eq(symlink("keep", unit_path("src/f2l")), 0);
	set_mtime("src/f2l", 0);
	put("src/new", "new\n", 0644);
	ck_assert_int_eq(snap(), 2);
}

START_TEST(test_kinds)
{
	struct changes cs;
	struct rd_diff_result res;

	make_changes();
	diff(1, 2, &cs, &res);
	ck_assert_str_eq(cs.text,
	    "m chmod 08 f f\n"
	    "M edit 02 f f\n"
	    "M f2l 09 f l\n"
	    "- fd 00 f -\n"
	    "+ fd 00 - d\n"
	    "+ fd/in 00 - f\n"
	    "- gone 00 f -\n"
	    "M link 04 l l\n"
	    "+ new 00 - f\n"
	    "m touch 40 f f\n");
	ck_assert_int_eq(res.from, 1);
	ck_assert_int_eq(res.to, 2);
	ck_assert_int_eq(res.added, 3);
	ck_assert_int_eq(res.added_bytes, 3 + 4);
	ck_assert_int_eq(res.removed, 2);
	ck_assert_int_eq(res.removed_bytes, 5 + 5);
	ck_assert_int_eq(res.changed, 3);
	/* edit grew by 7; f2l, a 4-byte file, is now a link */
	ck_assert_int_eq(res.changed_bytes, 7 - 4);
	ck_assert_int_eq(res.metadata, 2);
}
END_TEST

/* The entries handed to the callback are the two versions of the path. */
static int
check_versions(void *arg, const struct rd_change *c)
{
	int *seen = arg;

	if (strcmp((c->new != NULL ? c->new : c->old)->path, "link") == 0) {
		ck_assert_str_eq(c->old->target, "keep");
		ck_assert_str_eq(c->new->target, "edit");
		ck_assert_int_eq(c->new->size, 4);
		(*seen)++;
	} else if (c->kind == RD_CHANGE_META && c->differs == RD_DIFF_MODE) {
		ck_assert_uint_eq(c->old->mode, 0644);
		ck_assert_uint_eq(c->new->mode, 0600);
		ck_assert_int_eq(memcmp(c->old->sha, c->new->sha, RD_HASH_LEN),
		    0);
		(*seen)++;
	} else if (c->kind == RD_CHANGE_META) {
		ck_assert_int_eq(c->new->mtime_ns - c->old->mtime_ns,
		    60000000000LL);
		(*seen)++;
	} else if (c->kind == RD_CHANGE_ADDED && c->new->type == RD_TYPE_DIR) {
		ck_assert_str_eq(c->new->path, "fd");
		ck_assert_uint_eq(c->new->mode, 0755);
		ck_assert_int_eq(c->new->size, 0);
		(*seen)++;
	}
	return 0;
}

START_TEST(test_versions)
{
	struct rd_err err = RD_ERR_INIT;
	int seen = 0;

	make_changes();
	unit_ok(rd_snap_diff(st, 1, 0, check_versions, &seen, NULL, &err), err);
	ck_assert_int_eq(seen, 4);
}
END_TEST

START_TEST(test_reverse)
{
	struct changes cs;
	struct rd_diff_result res;

	make_changes();
	diff(2, 1, &cs, &res);
	ck_assert_str_eq(cs.text,
	    "m chmod 08 f f\n"
	    "M edit 02 f f\n"
	    "M f2l 09 l f\n"
	    "+ fd 00 - f\n"
	    "- fd 00 d -\n"
	    "- fd/in 00 f -\n"
	    "+ gone 00 - f\n"
	    "M link 04 l l\n"
	    "- new 00 f -\n"
	    "m touch 40 f f\n");
	ck_assert_int_eq(res.from, 2);
	ck_assert_int_eq(res.to, 1);
	ck_assert_int_eq(res.added, 2);
	ck_assert_int_eq(res.added_bytes, 10);
	ck_assert_int_eq(res.removed, 3);
	ck_assert_int_eq(res.removed_bytes, 7);
	ck_assert_int_eq(res.changed_bytes, 4 - 7);
}
END_TEST

START_TEST(test_same)
{
	struct changes cs;
	struct rd_diff_result res;

	make_changes();
	diff(2, 2, &cs, &res);
	ck_assert_int_eq(cs.n, 0);
	ck_assert_int_eq(res.from, 2);
	ck_assert_int_eq(res.to, 2);
	/* 0 is the newest, for either side */
	diff(0, 2, &cs, &res);
	ck_assert_int_eq(cs.n, 0);
	ck_assert_int_eq(res.from, 2);
}
END_TEST

/*
 * Across snapshots: what changed and changed back is no change, what
 * lived only in between does not show, and ids may have gaps.
 */
START_TEST(test_range)
{
	struct rd_err err = RD_ERR_INIT;
	struct changes cs;
	struct rd_diff_result res;
	char sql[256];

	put("src/a", "a1\n", 0644);
	put("src/b", "b\n", 0644);
	ck_assert_int_eq(snap(), 1);
	put("src/a", "a2\n", 0644);
	put("src/tmp", "tmp\n", 0644);
	ck_assert_int_eq(snap(), 2);
	put("src/a", "a1\n", 0644);
	ck_assert_int_eq(unlink(unit_path("src/tmp")), 0);
	put("src/c", "c\n", 0644);
	ck_assert_int_eq(snap(), 3);
	diff(1, 3, &cs, &res);
	ck_assert_str_eq(cs.text, "+ c 00 - f\n");
	diff(3, 1, &cs, &res);
	ck_assert_str_eq(cs.text, "- c 00 f -\n");
	diff(2, 0, &cs, &res);
	ck_assert_str_eq(cs.text,
	    "M a 02 f f\n"
	    "+ c 00 - f\n"
	    "- tmp 00 f -\n");
	ck_assert_int_eq(res.to, 3);

	/* snapshot 3 becomes 7: ids 1, 2 and 7, nothing in between */
	rd_store_close(st);
	st = NULL;
	snprintf(sql, sizeof(sql),
	    "UPDATE snapshots SET id = 7 WHERE id = 3;"
	    "UPDATE entries SET first = 7 WHERE first = 3;");
	unit_sql(unit_path("store/catalog.db"), sql);
	unit_ok(rd_store_open(unit_path("store"), RD_OPEN_READ, 0, &st, &err),
	    err);
	diff(2, 7, &cs, &res);
	ck_assert_str_eq(cs.text,
	    "M a 02 f f\n"
	    "+ c 00 - f\n"
	    "- tmp 00 f -\n");
	diff(7, 1, &cs, &res);
	ck_assert_str_eq(cs.text, "- c 00 f -\n");
	ck_assert_int_eq(rd_snap_diff(st, 1, 3, collect, &cs, NULL, &err), -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
}
END_TEST

/* Many changes come in path order, and each once. */
START_TEST(test_many)
{
	struct changes cs;
	struct rd_diff_result res;
	char rel[64];
	int i;

	for (i = 0; i < 600; i++) {
		snprintf(rel, sizeof(rel), "src/f%d", i);
		put(rel, "one\n", 0644);
	}
	ck_assert_int_eq(snap(), 1);
	for (i = 0; i < 600; i += 2) {
		snprintf(rel, sizeof(rel), "src/f%d", i);
		put(rel, "two!\n", 0644);
	}
	for (i = 1; i < 600; i += 6) {
		snprintf(rel, sizeof(rel), "src/f%d", i);
		ck_assert_int_eq(unlink(unit_path("%s", rel)), 0);
	}
	set_mtime("src", 0);
	ck_assert_int_eq(snap(), 2);
	memset(&cs, 0, sizeof(cs));
	diff(1, 2, &cs, &res);
	ck_assert(cs.ordered);
	ck_assert_int_eq(cs.n, 300 + 100);
	ck_assert_int_eq(res.changed, 300);
	ck_assert_int_eq(res.changed_bytes, 300);
	ck_assert_int_eq(res.removed, 100);
	ck_assert_int_eq(res.removed_bytes, 400);
	ck_assert_int_eq(res.added + res.metadata, 0);
}
END_TEST

START_TEST(test_stop)
{
	struct rd_err err = RD_ERR_INIT;
	struct changes cs;
	struct rd_diff_result res;

	make_changes();
	memset(&cs, 0, sizeof(cs));
	cs.stop_at = 3;
	ck_assert_int_eq(rd_snap_diff(st, 1, 2, collect, &cs, &res, &err), 7);
	ck_assert_int_eq(cs.n, 3);
	ck_assert_str_eq(cs.text,
	    "m chmod 08 f f\n"
	    "M edit 02 f f\n"
	    "M f2l 09 f l\n");
	ck_assert_int_eq(res.changed + res.metadata, 3);
}
END_TEST

START_TEST(test_missing)
{
	struct rd_err err = RD_ERR_INIT;
	struct changes cs;
	char want[512];

	memset(&cs, 0, sizeof(cs));
	ck_assert_int_eq(rd_snap_diff(st, 0, 0, collect, &cs, NULL, &err), -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	snprintf(want, sizeof(want), "store '%s' has no snapshots",
	    unit_path("store"));
	ck_assert_str_eq(err.msg, want);
	put("src/a", "a\n", 0644);
	ck_assert_int_eq(snap(), 1);
	rd_err_clear(&err);
	ck_assert_int_eq(rd_snap_diff(st, 1, 9, collect, &cs, NULL, &err), -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	snprintf(want, sizeof(want), "no snapshot 9 in '%s'",
	    unit_path("store"));
	ck_assert_str_eq(err.msg, want);
	rd_err_clear(&err);
	ck_assert_int_eq(rd_snap_diff(st, 8, 1, collect, &cs, NULL, &err), -1);
	snprintf(want, sizeof(want), "no snapshot 8 in '%s'",
	    unit_path("store"));
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(cs.n, 0);
	/* the read transaction was ended: the store still takes snapshots */
	put("src/b", "b\n", 0644);
	ck_assert_int_eq(snap(), 2);
}
END_TEST

static Suite *
diff_suite(void)
{
	Suite *s = suite_create("diff");
	TCase *tc;

	tc = tcase_create("changes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_kinds);
	tcase_add_test(tc, test_versions);
	tcase_add_test(tc, test_reverse);
	tcase_add_test(tc, test_same);
	suite_add_tcase(s, tc);

	tc = tcase_create("ranges");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_range);
	tcase_add_test(tc, test_many);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_stop);
	tcase_add_test(tc, test_missing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(diff_suite());
}
