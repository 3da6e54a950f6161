/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_hash.c: unit tests of hash.c: SHA-256 known answers (FIPS 180-2
 * examples) of buffers, files and streams, its errors, and hex encoding.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "unit.h"

#define SHA_ABC                                                                \
	"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_EMPTY                                                              \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_448                                                                \
	"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_MILLION_A                                                          \
	"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static void
hex_of_buf(const void *buf, size_t len, char *hex)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char d[RD_HASH_LEN];

	ck_assert_int_eq(rd_sha256_buf(buf, len, d, &err), 0);
	rd_hex(d, sizeof(d), hex);
}

static void
hex_of_file(const char *path, char *hex)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char d[RD_HASH_LEN];
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(rd_sha256_fd(fd, d, &err), 0);
	ck_assert_int_eq(err.code, RD_OK);
	close(fd);
	rd_hex(d, sizeof(d), hex);
}

START_TEST(test_buf_known)
{
	char hex[2 * RD_HASH_LEN + 1];
	char *a;

	hex_of_buf("abc", 3, hex);
	ck_assert_str_eq(hex, SHA_ABC);
	hex_of_buf("", 0, hex);
	ck_assert_str_eq(hex, SHA_EMPTY);
	hex_of_buf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, hex);
	ck_assert_str_eq(hex, SHA_448);
	a = malloc(1000000);
	ck_assert_ptr_nonnull(a);
	memset(a, 'a', 1000000);
	hex_of_buf(a, 1000000, hex);
	ck_assert_str_eq(hex, SHA_MILLION_A);
	free(a);
}
END_TEST

START_TEST(test_stream_pieces)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_sha256 h;
	unsigned char d[RD_HASH_LEN];
	char hex[2 * RD_HASH_LEN + 1], a[997];
	size_t left = 1000000, n;

	/* one million 'a' in pieces of 997 bytes, and empty updates */
	memset(a, 'a', sizeof(a));
	ck_assert_int_eq(rdi_sha256_init(&h, &err), 0);
	while (left > 0) {
		n = left < sizeof(a) ? left : sizeof(a);
		ck_assert_int_eq(rdi_sha256_update(&h, a, n, &err), 0);
		ck_assert_int_eq(rdi_sha256_update(&h, NULL, 0, &err), 0);
		left -= n;
	}
	ck_assert_int_eq(rdi_sha256_final(&h, d, &err), 0);
	rdi_sha256_release(&h);
	ck_assert_ptr_null(h.ctx);
	rd_hex(d, sizeof(d), hex);
	ck_assert_str_eq(hex, SHA_MILLION_A);
}
END_TEST

START_TEST(test_fd_known)
{
	char hex[2 * RD_HASH_LEN + 1];

	unit_write_str(unit_path("abc"), "abc");
	hex_of_file(unit_path("abc"), hex);
	ck_assert_str_eq(hex, SHA_ABC);
	unit_write(unit_path("empty"), "", 0);
	hex_of_file(unit_path("empty"), hex);
	ck_assert_str_eq(hex, SHA_EMPTY);
	hex_of_file("/dev/null", hex);
	ck_assert_str_eq(hex, SHA_EMPTY);
}
END_TEST

/* Sizes around the 256 KiB read buffer of rd_sha256_fd(). */
static const size_t fd_sizes[] = { 1024 * 1024, 1024 * 1024 + 12345, 256 * 1024,
	256 * 1024 - 1, 256 * 1024 + 1, 1 };

START_TEST(test_fd_vs_buf)
{
	char hb[2 * RD_HASH_LEN + 1], hf[2 * RD_HASH_LEN + 1];
	size_t len = fd_sizes[_i];
	unsigned char *buf = malloc(len);

	ck_assert_ptr_nonnull(buf);
	unit_fill_random(buf, len, 42 + (uint64_t)_i);
	unit_write(unit_path("data"), buf, len);
	hex_of_buf(buf, len, hb);
	hex_of_file(unit_path("data"), hf);
	ck_assert_str_eq(hf, hb);
	/* and not the hash of one byte less */
	hex_of_buf(buf, len - 1, hf);
	ck_assert_str_ne(hf, hb);
	free(buf);
}
END_TEST

START_TEST(test_fd_from_pipe)
{
	char hex[2 * RD_HASH_LEN + 1];
	struct rd_err err = RD_ERR_INIT;
	unsigned char d[RD_HASH_LEN];
	int p[2];

	/* reads loop until end of file, however the bytes arrive */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "a", 1), 1);
	ck_assert_int_eq(write(p[1], "bc", 2), 2);
	close(p[1]);
	ck_assert_int_eq(rd_sha256_fd(p[0], d, &err), 0);
	close(p[0]);
	rd_hex(d, sizeof(d), hex);
	ck_assert_str_eq(hex, SHA_ABC);
}
END_TEST

START_TEST(test_fd_errors)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char d[RD_HASH_LEN];
	int fd;

	ck_assert_int_eq(rd_sha256_fd(-1, d, &err), -1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_int_eq(err.sys_errno, EBADF);
	ck_assert_str_eq(err.msg, "read: Bad file descriptor");

	fd = open(unit_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(rd_sha256_fd(fd, d, &err), -1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_str_eq(err.msg, "read: Is a directory");
	close(fd);

	fd = open(unit_path("w"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(rd_sha256_fd(fd, d, &err), -1);
	ck_assert_str_eq(err.msg, "read: Bad file descriptor");
	close(fd);
}
END_TEST

START_TEST(test_hex)
{
	static const unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab,
		0xff };
	char out[2 * sizeof(in) + 1];

	memset(out, '#', sizeof(out));
	rd_hex(in, sizeof(in), out);
	ck_assert_str_eq(out, "00017f80abff");
	rd_hex(in, 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_unhex_round_trip)
{
	unsigned char bytes[256], back[256];
	char hex[513];
	int i;

	for (i = 0; i < 256; i++)
		bytes[i] = (unsigned char)i;
	rd_hex(bytes, sizeof(bytes), hex);
	ck_assert_int_eq(rd_unhex(hex, back, sizeof(back)), 0);
	ck_assert_mem_eq(back, bytes, sizeof(bytes));
	/* upper case is accepted too */
	ck_assert_int_eq(rd_unhex("BA78", back, 2), 0);
	ck_assert_int_eq(back[0], 0xba);
	ck_assert_int_eq(back[1], 0x78);
	ck_assert_int_eq(rd_unhex("", back, 0), 0);
	ck_assert_int_eq(rd_unhex(SHA_ABC, back, RD_HASH_LEN), 0);
	rd_hex(back, RD_HASH_LEN, hex);
	ck_assert_str_eq(hex, SHA_ABC);
}
END_TEST

/* clang-format off */
static const struct {
	const char *hex;
	size_t len;
} bad_hex[] = {
	{ "abc",	2 },	/* too short */
	{ "abcdef",	2 },	/* too long */
	{ "a",		1 },	/* odd */
	{ "0g",		1 },	/* not a digit */
	{ "g0",		1 },
	{ " 0",		1 },
	{ "0x",		1 },
	{ "-1",		1 },
	{ "",		1 },
	{ "00",		0 },
};
/* clang-format on */

START_TEST(test_unhex_bad)
{
	unsigned char out[4];

	ck_assert_msg(rd_unhex(bad_hex[_i].hex, out, bad_hex[_i].len) == -1,
	    "rd_unhex(\"%s\", %zu) accepted", bad_hex[_i].hex, bad_hex[_i].len);
}
END_TEST

static Suite *
hash_suite(void)
{
	Suite *s = suite_create("hash");
	TCase *tc;

	tc = tcase_create("sha256_buf");
	tcase_add_test(tc, test_buf_known);
	tcase_add_test(tc, test_stream_pieces);
	suite_add_tcase(s, tc);

	tc = tcase_create("sha256_fd");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_add_test(tc, test_fd_known);
	tcase_add_loop_test(tc, test_fd_vs_buf, 0,
	    (int)(sizeof(fd_sizes) / sizeof(fd_sizes[0])));
	tcase_add_test(tc, test_fd_from_pipe);
	tcase_add_test(tc, test_fd_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("hex");
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_unhex_round_trip);
	tcase_add_loop_test(tc, test_unhex_bad, 0,
	    (int)(sizeof(bad_hex) / sizeof(bad_hex[0])));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(hash_suite());
}
