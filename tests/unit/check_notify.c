/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_notify.c: unit tests of snap/notify.c, the change notification of
 * follow mode: the first look says "changed", a quiet one does not; the
 * exclude patterns leave directories unwatched; new directories (deep
 * ones too) are watched at once; a renamed directory and removed ones
 * keep the table right (its growth and deletions checked through the
 * count of watches); a queue overflow is counted, told once, and the
 * watches are set again; each look names the directories that changed,
 * those above them and the new ones to walk whole, or asks for a whole
 * walk.
 */
#include "config.h"

#include <sys/stat.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "unit.h"

struct told {
	int n;
	char last[512];
};

static void
on_notice(void *arg, const char *msg)
{
	struct told *t = arg;

	t->n++;
	snprintf(t->last, sizeof(t->last), "%s", msg);
}

static struct rdi_notify *
start(const char *const *excludes, int n, struct told *t)
{
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;
	struct rd_err err = RD_ERR_INIT;
	struct rdi_notify *nt = NULL;

	o.excludes = excludes;
	o.nexcludes = n;
	ck_assert_int_eq(rdi_notify_new(unit_path("src"), &o, on_notice, t, &nt,
	                     &err),
	    0);
	ck_assert_ptr_nonnull(nt);
	return nt;
}

static int
look(struct rdi_notify *nt)
{
	struct rd_err err = RD_ERR_INIT;
	int r = rdi_notify_changed(nt, &err);

	ck_assert_msg(r != -1, "%s", err.msg);
	return r;
}

static void
append(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	ck_assert_int_eq(close(fd), 0);
}

START_TEST(test_watch)
{
	const char *ex[] = { "x", "/a/skip" };
	struct told t = { 0, "" };
	struct rdi_notify *nt;

	unit_tmp_setup();
	unit_mkdir(unit_path("src"), 0755);
	unit_mkdir(unit_path("src/a"), 0755);
	unit_mkdir(unit_path("src/a/b"), 0755);
	unit_mkdir(unit_path("src/a/skip"), 0755);
	unit_mkdir(unit_path("src/x"), 0755);
	unit_mkdir(unit_path("src/a/b/x"), 0755);
	ck_assert_int_eq(symlink("..", unit_path("src/link")), 0);
	nt = start(ex, 2, &t);
	ck_assert_int_eq(rdi_notify_active(nt), 1);
	ck_assert_uint_eq(rdi_notify_watches(nt), 3); /* src, a, a/b */
	ck_assert_int_eq(look(nt), 1);                /* the first walks */
	ck_assert_int_eq(look(nt), 0);
	/* inside excluded directories: nothing is seen */
	append(unit_path("src/x/f"), "1");
	append(unit_path("src/a/b/x/f"), "1");
	append(unit_path("src/a/skip/f"), "1");
	ck_assert_int_eq(look(nt), 0);
	append(unit_path("src/a/b/f"), "1");
	ck_assert_int_eq(look(nt), 1);
	ck_assert_int_eq(look(nt), 0);
	/* a deep new directory: every level is watched */
	unit_mkdir(unit_path("src/n1"), 0755);
	unit_mkdir(unit_path("src/n1/n2"), 0755);
	unit_mkdir(unit_path("src/n1/n2/x"), 0755);
	unit_mkdir(unit_path("src/n1/n2/n3"), 0755);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_uint_eq(rdi_notify_watches(nt), 6);
	ck_assert_int_eq(look(nt), 0);
	append(unit_path("src/n1/n2/n3/f"), "1");
	ck_assert_int_eq(look(nt), 1);
	/* renamed: watched under the new name, the old paths forgotten */
	ck_assert_int_eq(rename(unit_path("src/n1"), unit_path("src/m1")), 0);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_uint_eq(rdi_notify_watches(nt), 6);
	unit_mkdir(unit_path("src/m1/n2/new"), 0755);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_uint_eq(rdi_notify_watches(nt), 7);
	/* removed */
	ck_assert_int_eq(rmdir(unit_path("src/m1/n2/new")), 0);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_uint_eq(rdi_notify_watches(nt), 6);
	ck_assert_int_eq(look(nt), 0);
	rdi_notify_dirty(nt);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_int_eq(look(nt), 0);
	ck_assert_int_eq(t.n, 0);
	ck_assert_int_eq(rdi_notify_overflows(nt), 0);
	rdi_notify_free(nt);
	unit_tmp_teardown();
}
END_TEST

static int
in_set(struct rdi_notify *nt, const char *path)
{
	const struct rdi_dirty *d = rdi_notify_walk_set(nt);

	ck_assert_ptr_nonnull(d);
	return rdi_dirty_get(d, path, strlen(path));
}

/* The directories a look names to walk. */
START_TEST(test_changed_set)
{
	struct told t = { 0, "" };
	struct rdi_notify *nt;

	unit_tmp_setup();
	unit_mkdir(unit_path("src"), 0755);
	unit_mkdir(unit_path("src/a"), 0755);
	unit_mkdir(unit_path("src/a/b"), 0755);
	unit_mkdir(unit_path("src/a/bc"), 0755);
	unit_mkdir(unit_path("src/c"), 0755);
	nt = start(NULL, 0, &t);
	/* the first look walks whole */
	ck_assert_int_eq(look(nt), 1);
	ck_assert_ptr_null(rdi_notify_walk_set(nt));
	ck_assert_int_eq(look(nt), 0);
	ck_assert_int_eq(in_set(nt, ""), -1);
	/* a file in a/b: a/b, a and the source; not a/bc nor c */
	append(unit_path("src/a/b/f"), "1");
	ck_assert_int_eq(look(nt), 1);
	ck_assert_int_eq(in_set(nt, "a/b"), 0);
	ck_assert_int_eq(in_set(nt, "a"), 0);
	ck_assert_int_eq(in_set(nt, ""), 0);
	ck_assert_int_eq(in_set(nt, "a/bc"), -1);
	ck_assert_int_eq(in_set(nt, "c"), -1);
	ck_assert_int_eq(in_set(nt, "a/b/f"), -1);
	/* the next look has only what came after */
	ck_assert_int_eq(look(nt), 0);
	ck_assert_int_eq(in_set(nt, "a/b"), -1);
	/* a new directory is walked whole, with what was made in it */
	unit_mkdir(unit_path("src/c/new"), 0755);
	unit_mkdir(unit_path("src/c/new/deep"), 0755);
	append(unit_path("src/c/new/deep/g"), "1");
	ck_assert_int_eq(look(nt), 1);
	ck_assert_int_eq(in_set(nt, "c/new"), 1);
	ck_assert_int_eq(in_set(nt, "c"), 0);
	ck_assert_int_eq(in_set(nt, ""), 0);
	ck_assert_int_eq(in_set(nt, "a"), -1);
	/* a directory's own attributes: its parent's entry for it */
	ck_assert_int_eq(chmod(unit_path("src/a/bc"), 0700), 0);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_int_eq(in_set(nt, "a"), 0);
	ck_assert_int_eq(in_set(nt, "a/b"), -1);
	/* a removed file */
	ck_assert_int_eq(unlink(unit_path("src/c/new/deep/g")), 0);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_int_eq(in_set(nt, "c/new/deep"), 0);
	ck_assert_int_eq(in_set(nt, "c/new"), 0);
	/* a renamed directory, a failed walk: the whole source */
	ck_assert_int_eq(rename(unit_path("src/a/b"), unit_path("src/a/b2")),
	    0);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_ptr_null(rdi_notify_walk_set(nt));
	ck_assert_int_eq(look(nt), 0);
	ck_assert_int_eq(in_set(nt, "a"), -1);
	append(unit_path("src/a/b2/f"), "2");
	rdi_notify_dirty(nt);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_ptr_null(rdi_notify_walk_set(nt));
	ck_assert_int_eq(t.n, 0);
	rdi_notify_free(nt);
	unit_tmp_teardown();
}
END_TEST

/* Many directories: the table grows, and deletions keep it right. */
START_TEST(test_many)
{
	struct told t = { 0, "" };
	struct rdi_notify *nt;
	int i;

	unit_tmp_setup();
	unit_mkdir(unit_path("src"), 0755);
	for (i = 0; i < 300; i++)
		unit_mkdir(unit_path("src/d%d", i), 0755);
	nt = start(NULL, 0, &t);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_uint_eq(rdi_notify_watches(nt), 301);
	/* 300 more as events, then every other one removed */
	for (i = 300; i < 600; i++)
		unit_mkdir(unit_path("src/d%d", i), 0755);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_uint_eq(rdi_notify_watches(nt), 601);
	for (i = 0; i < 600; i += 2)
		ck_assert_int_eq(rmdir(unit_path("src/d%d", i)), 0);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_uint_eq(rdi_notify_watches(nt), 301);
	/* each one left is still found: a directory made in it is watched */
	for (i = 1; i < 600; i += 2)
		unit_mkdir(unit_path("src/d%d/e", i), 0755);
	ck_assert_int_eq(look(nt), 1);
	ck_assert_uint_eq(rdi_notify_watches(nt), 601);
	ck_assert_int_eq(look(nt), 0);
	rdi_notify_free(nt);
	unit_tmp_teardown();
}
END_TEST

/* More events than the kernel queues: counted, told once, watched again. */
START_TEST(test_overflow)
{
	struct told t = { 0, "" };
	struct rdi_notify *nt;
	FILE *fp;
	long q = 16384;
	int round, i, fd[2];

	fp = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	if (fp != NULL) {
		ck_assert_int_eq(fscanf(fp, "%ld", &q), 1);
		fclose(fp);
	}
	unit_tmp_setup();
	unit_mkdir(unit_path("src"), 0755);
	unit_mkdir(unit_path("src/a"), 0755);
	nt = start(NULL, 0, &t);
	ck_assert_int_eq(look(nt), 1);
	for (round = 1; round <= 2; round++) {
		/* two files in turn, so that no two events merge */
		fd[0] = open(unit_path("src/f"), O_WRONLY | O_CREAT, 0644);
		fd[1] = open(unit_path("src/a/g"), O_WRONLY | O_CREAT, 0644);
		ck_assert_int_ne(fd[0], -1);
		ck_assert_int_ne(fd[1], -1);
		for (i = 0; i < q + 20; i++)
			ck_assert_int_eq(write(fd[i % 2], "x", 1), 1);
		ck_assert_int_eq(close(fd[0]), 0);
		ck_assert_int_eq(close(fd[1]), 0);
		ck_assert_int_eq(look(nt), 1);
		ck_assert_int_eq(rdi_notify_overflows(nt), round);
		ck_assert_int_eq(t.n, 1);
		ck_assert_str_eq(t.last,
		    "change notification lost events (queue overflow, see fs.inotify.max_queued_events): walking the whole source and watching it again");
		ck_assert_int_eq(rdi_notify_active(nt), 1);
		ck_assert_uint_eq(rdi_notify_watches(nt), 2);
		ck_assert_int_eq(look(nt), 0);
	}
	/* watching again */
	append(unit_path("src/a/g"), "x");
	ck_assert_int_eq(look(nt), 1);
	rdi_notify_free(nt);
	unit_tmp_teardown();
}
END_TEST

static Suite *
notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("core");

	/* the overflow makes tens of thousands of events: slow under ASan */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_watch);
	tcase_add_test(tc, test_changed_set);
	tcase_add_test(tc, test_many);
	tcase_add_test(tc, test_overflow);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(notify_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
