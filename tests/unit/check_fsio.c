/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_fsio.c: unit tests of fsio.c: full reads and writes and their
 * errors, safe store paths, growable buffers, UUIDs and clocks.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "unit.h"

START_TEST(test_write_read_all)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char data[200000], back[200010];
	const char *f = unit_path("f");
	int fd;

	unit_fill_random(data, sizeof(data), 1);
	fd = open(f, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(rdi_write_all(fd, data, sizeof(data), "f", &err), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	/* asks for more than there is: short only at end of file */
	ck_assert_int_eq(rdi_read_full(fd, back, sizeof(back), "f", &err),
	    (ssize_t)sizeof(data));
	unit_assert_bytes(back, sizeof(data), data, sizeof(data));
	ck_assert_int_eq(rdi_read_full(fd, back, sizeof(back), "f", &err), 0);
	ck_assert_int_eq(err.code, RD_OK);
	close(fd);
}
END_TEST

/*
 * The hole reader gives a sparse file's bytes (a hole, data, a hole to
 * the end) in any piece size, the holes as zeros it did not read.
 */
START_TEST(test_hread)
{
	static const size_t pieces[] = { 511, 4095, 100000, 4 << 20 };
	struct rd_err err = RD_ERR_INIT;
	struct rdi_hreader h;
	unsigned char data[8192], *want, *back;
	const size_t size = 3 << 20;
	const char *f = unit_path("f");
	size_t k, got;
	ssize_t n;
	int fd;

	unit_fill_random(data, sizeof(data), 5);
	fd = open(f, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(rdi_pwrite_all(fd, data, sizeof(data), 1 << 20, "f",
	                     &err),
	    0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	want = calloc(1, size);
	back = malloc(size + 1);
	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(back);
	memcpy(want + (1 << 20), data, sizeof(data));
	for (k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		rdi_hreader_init(&h, fd);
		memset(back, 0xaa, size + 1);
		for (got = 0; got <= size; got += (size_t)n) {
			n = rdi_hread(&h, back + got,
			    pieces[k] < size + 1 - got ? pieces[k]
			                               : size + 1 - got,
			    "f", &err);
			ck_assert_int_ge(n, 0);
			if (n == 0)
				break;
		}
		ck_assert_uint_eq(got, size);
		unit_assert_bytes(back, got, want, size);
		ck_assert_int_eq(h.hole_bytes, (int64_t)(size - sizeof(data)));
	}
	ck_assert_int_eq(err.code, RD_OK);
	/* an error names the file */
	rdi_hreader_init(&h, -1);
	ck_assert_int_eq(rdi_hread(&h, back, 10, "gone", &err), -1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_str_eq(err.msg, "cannot seek 'gone': Bad file descriptor");
	free(want);
	free(back);
	close(fd);
}
END_TEST

START_TEST(test_pwrite_pread)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char back[8];
	const char *f = unit_path("f");
	int fd;

	fd = open(f, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(rdi_pwrite_all(fd, "0123456789", 10, 0, "f", &err), 0);
	ck_assert_int_eq(rdi_pwrite_all(fd, "ab", 2, 4, "f", &err), 0);
	ck_assert_int_eq(rdi_pread_exact(fd, back, 6, 2, "f", &err), 0);
	ck_assert_int_eq(memcmp(back, "23ab67", 6), 0);
	/* a short read is damage, with the offset where the data ended */
	ck_assert_int_eq(rdi_pread_exact(fd, back, 8, 4, "f", &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "'f' is truncated at offset 10");
	ck_assert_int_eq(rdi_pread_exact(fd, back, 1, 50, "f", &err), -1);
	ck_assert_str_eq(err.msg, "'f' is truncated at offset 50");
	close(fd);
}
END_TEST

START_TEST(test_bad_fd)
{
	struct rd_err err = RD_ERR_INIT;
	char c;

	ck_assert_int_eq(rdi_write_all(-1, "x", 1, "out", &err), -1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_str_eq(err.msg, "cannot write 'out': Bad file descriptor");
	ck_assert_int_eq(rdi_pwrite_all(-1, "x", 1, 0, "out", &err), -1);
	ck_assert_str_eq(err.msg, "cannot write 'out': Bad file descriptor");
	ck_assert_int_eq(rdi_read_full(-1, &c, 1, "in", &err), -1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_str_eq(err.msg, "cannot read 'in': Bad file descriptor");
	ck_assert_int_eq(rdi_pread_exact(-1, &c, 1, 0, "in", &err), -1);
	ck_assert_str_eq(err.msg, "cannot read 'in': Bad file descriptor");
	ck_assert_int_eq(rdi_close(-1, "c", &err), -1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_str_eq(err.msg, "cannot close 'c': Bad file descriptor");
	/* zero bytes never touch the fd */
	ck_assert_int_eq(rdi_write_all(-1, "x", 0, "out", &err), 0);
}
END_TEST

START_TEST(test_write_pipe_closed)
{
	struct rd_err err = RD_ERR_INIT;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(rdi_write_all(p[1], "x", 1, "pipe", &err), -1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_int_eq(err.sys_errno, EPIPE);
	ck_assert_str_eq(err.msg, "cannot write 'pipe': Broken pipe");
	close(p[1]);
}
END_TEST

START_TEST(test_fsync_dir)
{
	struct rd_err err = RD_ERR_INIT;
	const char *missing = unit_path("missing");
	char want[PATH_MAX + 64];

	ck_assert_int_eq(rdi_fsync_dir(unit_dir(), &err), 0);
	ck_assert_int_eq(rdi_fsync_dir(missing, &err), -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	snprintf(want, sizeof(want),
	    "cannot open '%s': No such file or directory", missing);
	ck_assert_str_eq(err.msg, want);
}
END_TEST

/* clang-format off */
static const struct {
	const char *path;
	int safe;
} paths[] = {
	{ "a",		1 },
	{ "a/b/c",	1 },
	{ ".a",		1 },
	{ "a/.b",	1 },
	{ "...",	1 },
	{ "a b/c\nd",	1 },
	{ "",		0 },
	{ "/a",		0 },
	{ "/",		0 },
	{ "a/",		0 },
	{ "a//b",	0 },
	{ ".",		0 },
	{ "..",		0 },
	{ "./a",	0 },
	{ "a/.",	0 },
	{ "a/..",	0 },
	{ "a/../b",	0 },
	{ "../a",	0 },
};
/* clang-format on */

START_TEST(test_path_safe)
{
	ck_assert_msg(rdi_path_safe(paths[_i].path) == paths[_i].safe,
	    "rdi_path_safe(\"%s\") != %d", paths[_i].path, paths[_i].safe);
}
END_TEST

START_TEST(test_path_safe_long)
{
	static char p[PATH_MAX + 2];
	size_t i;

	/* a component of NAME_MAX bytes is fine, one more is not */
	memset(p, 'n', NAME_MAX);
	p[NAME_MAX] = '\0';
	ck_assert_int_eq(rdi_path_safe(p), 1);
	p[NAME_MAX] = 'n';
	p[NAME_MAX + 1] = '\0';
	ck_assert_int_eq(rdi_path_safe(p), 0);
	/* PATH_MAX is no limit: "a/a/.../a" of PATH_MAX bytes is fine */
	memset(p, 'a', PATH_MAX);
	for (i = 1; i < PATH_MAX; i += 2)
		p[i] = '/';
	p[PATH_MAX - 1] = 'b';
	p[PATH_MAX] = '\0';
	ck_assert_int_eq(rdi_path_safe(p), 1);
}
END_TEST

START_TEST(test_buf)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf b = { NULL, 0, 0 };
	unsigned char want[10000];
	int i;

	ck_assert_int_eq(rdi_buf_append(&b, NULL, 0, &err), 0);
	ck_assert_ptr_null(b.data);
	for (i = 0; i < 10000; i++) {
		unsigned char c = (unsigned char)(i * 7);

		want[i] = c;
		ck_assert_int_eq(rdi_buf_sink(&b, &c, 1, &err), 0);
	}
	ck_assert_uint_eq(b.len, 10000);
	ck_assert_uint_ge(b.cap, 10000);
	unit_assert_bytes(b.data, b.len, want, sizeof(want));
	rdi_buf_release(&b);
	ck_assert_ptr_null(b.data);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
	/* released twice is harmless */
	rdi_buf_release(&b);
}
END_TEST

START_TEST(test_uuid)
{
	struct rd_err err = RD_ERR_INIT;
	char a[37], b[37];
	int i;

	ck_assert_int_eq(rdi_uuid(a, &err), 0);
	ck_assert_int_eq(rdi_uuid(b, &err), 0);
	ck_assert_uint_eq(strlen(a), 36);
	ck_assert_str_ne(a, b);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ck_assert_int_eq(a[i], '-');
		else
			ck_assert_ptr_nonnull(strchr("0123456789abcdef", a[i]));
	}
	ck_assert_int_eq(a[14], '4');
	ck_assert_ptr_nonnull(strchr("89ab", a[19]));
}
END_TEST

START_TEST(test_random)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char a[32], b[32];

	ck_assert_int_eq(rdi_random(a, sizeof(a), &err), 0);
	ck_assert_int_eq(rdi_random(b, sizeof(b), &err), 0);
	ck_assert_int_ne(memcmp(a, b, sizeof(a)), 0);
}
END_TEST

START_TEST(test_clocks)
{
	double m0, m1;

	m0 = rd_monotonic();
	m1 = rd_monotonic();
	ck_assert_double_ge(m1, m0);
	/* after 2020-09-13 */
	ck_assert_double_gt(rd_now(), 1.6e9);
	ck_assert_int_ge(rd_ncpu(), 1);
	ck_assert_int_le(rd_ncpu(), 64);
}
END_TEST

static Suite *
fsio_suite(void)
{
	Suite *s = suite_create("fsio");
	TCase *tc;

	tc = tcase_create("io");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_add_test(tc, test_write_read_all);
	tcase_add_test(tc, test_pwrite_pread);
	tcase_add_test(tc, test_hread);
	tcase_add_test(tc, test_bad_fd);
	tcase_add_test(tc, test_write_pipe_closed);
	tcase_add_test(tc, test_fsync_dir);
	suite_add_tcase(s, tc);

	tc = tcase_create("path_safe");
	tcase_add_loop_test(tc, test_path_safe, 0,
	    (int)(sizeof(paths) / sizeof(paths[0])));
	tcase_add_test(tc, test_path_safe_long);
	suite_add_tcase(s, tc);

	tc = tcase_create("buf");
	tcase_add_test(tc, test_buf);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_add_test(tc, test_uuid);
	tcase_add_test(tc, test_random);
	tcase_add_test(tc, test_clocks);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(fsio_suite());
}
