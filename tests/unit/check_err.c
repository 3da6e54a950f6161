/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_err.c: unit tests of err.c: rd_err_set() and rd_err_sys()
 * messages, the refinement of RD_EIO from errno, rd_err_clear() and
 * rd_code_name().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "redund.h"
#include "unit.h"

START_TEST(test_init)
{
	struct rd_err err = RD_ERR_INIT;

	ck_assert_int_eq(err.code, RD_OK);
	ck_assert_int_eq(err.sys_errno, 0);
	ck_assert_str_eq(err.msg, "");
}
END_TEST

START_TEST(test_set)
{
	struct rd_err err = RD_ERR_INIT;

	errno = ENOENT;
	ck_assert_int_eq(rd_err_set(&err, RD_ECORRUPT, "pack '%s' offset %d",
	                     "ab", 96),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_int_eq(err.sys_errno, 0);
	ck_assert_str_eq(err.msg, "pack 'ab' offset 96");
	/* errno plays no part in rd_err_set() */
	ck_assert_int_eq(rd_err_set(&err, RD_EIO, "cannot write"), -1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_str_eq(err.msg, "cannot write");
}
END_TEST

START_TEST(test_set_truncates)
{
	struct rd_err err = RD_ERR_INIT;
	char longname[400];

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	rd_err_set(&err, RD_EUSAGE, "bad '%s'", longname);
	ck_assert_uint_eq(strlen(err.msg), sizeof(err.msg) - 1);
	ck_assert_int_eq(strncmp(err.msg, "bad 'xxx", 8), 0);
	/* a full message gets no room for the errno text, and no overflow */
	errno = ENOENT;
	rd_err_sys(&err, RD_EIO, "bad '%s'", longname);
	ck_assert_uint_eq(strlen(err.msg), sizeof(err.msg) - 1);
	ck_assert_int_eq(err.code, RD_ENOENT);
}
END_TEST

START_TEST(test_null_err)
{
	errno = EBADF;
	ck_assert_int_eq(rd_err_set(NULL, RD_EIO, "x"), -1);
	ck_assert_int_eq(rd_err_sys(NULL, RD_EIO, "x"), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(test_sys_message)
{
	struct rd_err err = RD_ERR_INIT;

	errno = EBADF;
	ck_assert_int_eq(rd_err_sys(&err, RD_EIO, "cannot read '%s'", "f"), -1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_int_eq(err.sys_errno, EBADF);
	ck_assert_str_eq(err.msg, "cannot read 'f': Bad file descriptor");
	/* errno survives for the caller */
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(test_sys_real_open)
{
	struct rd_err err = RD_ERR_INIT;
	int fd;

	fd = open("/nonexistent/rdunit", O_RDONLY);
	ck_assert_int_eq(fd, -1);
	rd_err_sys(&err, RD_EIO, "cannot open '%s'", "/nonexistent/rdunit");
	ck_assert_int_eq(err.code, RD_ENOENT);
	ck_assert_int_eq(err.sys_errno, ENOENT);
	ck_assert_str_eq(err.msg,
	    "cannot open '/nonexistent/rdunit': No such file or directory");
}
END_TEST

/* clang-format off */
static const struct {
	int in_errno;
	enum rd_code code;
	const char *text;
} refine[] = {
	{ ENOENT,	RD_ENOENT,	"No such file or directory" },
	{ ENOTDIR,	RD_ENOENT,	"Not a directory" },
	{ EACCES,	RD_EPERM,	"Permission denied" },
	{ EPERM,	RD_EPERM,	"Operation not permitted" },
	{ ENOMEM,	RD_ENOMEM,	"Cannot allocate memory" },
	{ EBADF,	RD_EIO,		"Bad file descriptor" },
	{ ENOSPC,	RD_EIO,		"No space left on device" },
	{ EEXIST,	RD_EIO,		"File exists" },
};
/* clang-format on */

START_TEST(test_sys_refine)
{
	struct rd_err err = RD_ERR_INIT;
	char want[256];

	errno = refine[_i].in_errno;
	rd_err_sys(&err, RD_EIO, "cannot open '%s'", "a b");
	snprintf(want, sizeof(want), "cannot open 'a b': %s", refine[_i].text);
	ck_assert_int_eq(err.code, refine[_i].code);
	ck_assert_int_eq(err.sys_errno, refine[_i].in_errno);
	ck_assert_str_eq(err.msg, want);
}
END_TEST

START_TEST(test_sys_no_refine)
{
	struct rd_err err = RD_ERR_INIT;

	/* only RD_EIO is refined: a chosen class stays */
	errno = ENOENT;
	rd_err_sys(&err, RD_ECANTCREAT, "cannot create store '%s'", "s");
	ck_assert_int_eq(err.code, RD_ECANTCREAT);
	ck_assert_str_eq(err.msg,
	    "cannot create store 's': No such file or directory");
	errno = EACCES;
	rd_err_sys(&err, RD_EBUSY, "cannot lock");
	ck_assert_int_eq(err.code, RD_EBUSY);
	ck_assert_str_eq(err.msg, "cannot lock: Permission denied");
}
END_TEST

START_TEST(test_clear)
{
	struct rd_err err = RD_ERR_INIT;

	errno = EIO;
	rd_err_sys(&err, RD_EIO, "oops");
	ck_assert_int_eq(err.sys_errno, EIO);
	rd_err_clear(&err);
	ck_assert_int_eq(err.code, RD_OK);
	ck_assert_int_eq(err.sys_errno, 0);
	ck_assert_str_eq(err.msg, "");
}
END_TEST

/* clang-format off */
static const struct {
	enum rd_code code;
	const char *name;
} names[] = {
	{ RD_OK,	 "ok" },
	{ RD_EUSAGE,	 "usage" },
	{ RD_ECORRUPT,	 "corrupt" },
	{ RD_ENOENT,	 "not-found" },
	{ RD_EUNAVAIL,	 "unavailable" },
	{ RD_EINTERNAL,	 "internal" },
	{ RD_ENOMEM,	 "no-memory" },
	{ RD_ECANTCREAT, "cannot-create" },
	{ RD_EIO,	 "io" },
	{ RD_EBUSY,	 "busy" },
	{ RD_EPERM,	 "not-permitted" },
};
/* clang-format on */

START_TEST(test_code_name)
{
	ck_assert_str_eq(rd_code_name(names[_i].code), names[_i].name);
}
END_TEST

START_TEST(test_code_name_unknown)
{
	ck_assert_str_eq(rd_code_name((enum rd_code)99), "unknown");
	ck_assert_str_eq(rd_code_name((enum rd_code)255), "unknown");
}
END_TEST

static Suite *
err_suite(void)
{
	Suite *s = suite_create("err");
	TCase *tc;

	tc = tcase_create("set");
	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_set);
	tcase_add_test(tc, test_set_truncates);
	tcase_add_test(tc, test_null_err);
	tcase_add_test(tc, test_clear);
	suite_add_tcase(s, tc);

	tc = tcase_create("sys");
	tcase_add_test(tc, test_sys_message);
	tcase_add_test(tc, test_sys_real_open);
	tcase_add_loop_test(tc, test_sys_refine, 0,
	    (int)(sizeof(refine) / sizeof(refine[0])));
	tcase_add_test(tc, test_sys_no_refine);
	suite_add_tcase(s, tc);

	tc = tcase_create("code_name");
	tcase_add_loop_test(tc, test_code_name, 0,
	    (int)(sizeof(names) / sizeof(names[0])));
	tcase_add_test(tc, test_code_name_unknown);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(err_suite());
}
