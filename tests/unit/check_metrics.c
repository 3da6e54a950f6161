/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_metrics.c: unit tests of base/metrics.c: the exact text (HELP
 * and TYPE once per family, escaped labels, integers exact, fractions
 * with six decimals), refused non-finite values and split families, the
 * run samples, and the atomic write (no temp file left, a failed write
 * leaves the old file as it was).
 */
#include "config.h"

#include <sys/stat.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"

static const struct rd_metric g1 = { "t_gauge", "gauge", "A gauge." };
static const struct rd_metric c1 = { "t_total", "counter", "A counter." };

static char *
slurp(const char *path)
{
	static char buf[4096];
	FILE *fp = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

START_TEST(test_text)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_metrics *m = rd_metrics_new();
	const char *t;
	size_t len;

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(rd_metrics_add_label(m, &g1, "target",
	                     "a\"b\\c\nd\xff", 1.5, &err),
	    0);
	ck_assert_int_eq(rd_metrics_add_label(m, &g1, "target", "x",
	                     12345678901234.0, &err),
	    0);
	ck_assert_int_eq(rd_metrics_add(m, &c1, 3, &err), 0);
	t = rd_metrics_text(m, &len);
	ck_assert_str_eq(t,
	    "# HELP t_gauge A gauge.\n# TYPE t_gauge gauge\n"
	    "t_gauge{target=\"a\\\"b\\\\c\\nd\xef\xbf\xbd\"} 1.500000\n"
	    "t_gauge{target=\"x\"} 12345678901234\n"
	    "# HELP t_total A counter.\n# TYPE t_total counter\n"
	    "t_total 3\n");
	ck_assert_uint_eq(len, strlen(t));
	rd_metrics_free(m);
}
END_TEST

START_TEST(test_refused)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_metrics *m = rd_metrics_new();

	ck_assert_int_eq(rd_metrics_add(m, &g1, NAN, &err), -1);
	ck_assert_int_eq(err.code, RD_EINTERNAL);
	ck_assert_str_eq(err.msg, "metric 't_gauge' has no finite value");
	/* after a failure nothing is written */
	ck_assert_int_eq(rd_metrics_write(m, "never.prom", &err), -1);
	ck_assert_int_eq(access("never.prom", F_OK), -1);
	rd_metrics_free(m);

	m = rd_metrics_new();
	ck_assert_int_eq(rd_metrics_add(m, &g1, 1, &err), 0);
	ck_assert_int_eq(rd_metrics_add(m, &c1, 1, &err), 0);
	ck_assert_int_eq(rd_metrics_add(m, &g1, INFINITY, &err), -1);
	ck_assert_int_eq(rd_metrics_add(m, &g1, 2, &err), -1);
	ck_assert_str_eq(err.msg, "metric 't_gauge' written in two places");
	rd_metrics_free(m);
	rd_metrics_free(NULL);
}
END_TEST

START_TEST(test_run)
{
	static const struct rd_run_defs d = {
		{ "r_status", "gauge", "s" },
		{ "r_success", "gauge", "s" },
		{ "r_seconds", "gauge", "s" },
		{ "r_end", "gauge", "s" },
		{ "r_last", "gauge", "s" },
		{ "r_snap", "gauge", "s" },
		{ "r_files", "gauge", "s" },
		{ "r_bytes", "gauge", "s" },
	};
	struct rd_err err = RD_ERR_INIT;
	struct rd_metrics *m = rd_metrics_new();
	struct rd_run run = { 3, 0.25, 100, 0, 7, 5, -1 };
	const char *t;
	size_t len;

	ck_assert_int_eq(rd_metrics_run(m, &d, "s", &run, &err), 0);
	t = rd_metrics_text(m, &len);
	ck_assert_str_eq(t,
	    "# HELP r_status s\n# TYPE r_status gauge\nr_status{store=\"s\"} 3\n"
	    "# HELP r_success s\n# TYPE r_success gauge\nr_success{store=\"s\"} 1\n"
	    "# HELP r_seconds s\n# TYPE r_seconds gauge\nr_seconds{store=\"s\"} 0.250000\n"
	    "# HELP r_end s\n# TYPE r_end gauge\nr_end{store=\"s\"} 100\n"
	    "# HELP r_snap s\n# TYPE r_snap gauge\nr_snap{store=\"s\"} 7\n"
	    "# HELP r_files s\n# TYPE r_files gauge\nr_files{store=\"s\"} 5\n");
	rd_metrics_free(m);
}
END_TEST

START_TEST(test_write)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_metrics *m = rd_metrics_new();
	char dir[64], path[128], tmp[128];
	struct stat sb;

	snprintf(dir, sizeof(dir), "/tmp/check_metrics.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	ck_assert_int_eq(rd_metrics_add(m, &g1, 42, &err), 0);
	ck_assert_int_eq(rd_metrics_write(m, path, &err), 0);
	ck_assert_str_eq(slurp(path),
	    "# HELP t_gauge A gauge.\n# TYPE t_gauge gauge\nt_gauge 42\n");
	snprintf(tmp, sizeof(tmp), "%s/.m.prom.%ld.tmp", dir, (long)getpid());
	ck_assert_int_eq(stat(tmp, &sb), -1);
	/* a directory in the way: the rename fails, nothing is left */
	snprintf(path, sizeof(path), "%s/d.prom", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_int_eq(rd_metrics_write(m, path, &err), -1);
	ck_assert_int_eq(err.code, RD_EIO);
	snprintf(tmp, sizeof(tmp), "%s/.d.prom.%ld.tmp", dir, (long)getpid());
	ck_assert_int_eq(stat(tmp, &sb), -1);
	ck_assert_int_eq(rmdir(path), 0);
	/* names */
	ck_assert_int_eq(rd_metrics_check_path("x/", &err), -1);
	ck_assert_int_eq(err.code, RD_EUSAGE);
	ck_assert_str_eq(err.msg, "invalid metrics file 'x/': a directory");
	ck_assert_int_eq(rd_metrics_check_path("/nonexistent/m.prom", &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	ck_assert_int_eq(rd_metrics_check_path("m.prom", &err), 0);
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	rd_metrics_free(m);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_text);
	tcase_add_test(tc, test_refused);
	tcase_add_test(tc, test_run);
	tcase_add_test(tc, test_write);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
