/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * unit.h: helpers shared by the Check unit tests: a temp directory per
 * test (a checked fixture: made in setup, removed in teardown), file
 * helpers that fail the test on any error, deterministic test data, and
 * byte comparisons that name the first differing offset.
 *
 * Check forks each test, and a failing test exits before its teardown,
 * so its temp directory (TMPDIR/rdunit.XXXXXX) stays for inspection.
 * Run with CK_FORK=no to debug in one process.
 */
#ifndef UNIT_H
#define UNIT_H

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

/* The temp directory of the running test. */
static inline char *
unit_dir(void)
{
	static char dir[PATH_MAX];

	return dir;
}

static inline void
unit_tmp_setup(void)
{
	const char *base = getenv("TMPDIR");
	char *d = unit_dir();
	int n;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	n = snprintf(d, PATH_MAX, "%s/rdunit.XXXXXX", base);
	ck_assert_int_lt(n, PATH_MAX);
	ck_assert_msg(mkdtemp(d) != NULL, "mkdtemp: %s", strerror(errno));
}

static inline int
unit_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)f;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

/* rm -rf "path"; 0 or -1. */
static inline int
unit_rm_rf(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) == -1)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, unit_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void
unit_tmp_teardown(void)
{
	char *d = unit_dir();

	if (d[0] != '\0')
		ck_assert_msg(unit_rm_rf(d) == 0, "cannot remove '%s': %s", d,
		    strerror(errno));
	d[0] = '\0';
}

/*
 * "DIR/rel" for the printf-formatted "rel", in one of eight rotating
 * buffers: valid until eight more calls.
 */
static inline const char *unit_path(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static inline const char *
unit_path(const char *fmt, ...)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char rel[PATH_MAX];
	char *b = bufs[next++ % 8];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	ck_assert_int_lt(n, PATH_MAX);
	n = snprintf(b, PATH_MAX, "%s/%s", unit_dir(), rel);
	ck_assert_int_lt(n, PATH_MAX);
	return b;
}

static inline void
unit_mkdir(const char *path, mode_t mode)
{
	ck_assert_msg(mkdir(path, mode) == 0, "mkdir '%s': %s", path,
	    strerror(errno));
	/* the umask must not change what the test asked for */
	ck_assert_int_eq(chmod(path, mode), 0);
}

/* Write "len" bytes to "path", creating or truncating it in place. */
static inline void
unit_write(const char *path, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd != -1, "open '%s': %s", path, strerror(errno));
	while (len > 0) {
		n = write(fd, p, len);
		ck_assert_msg(n > 0, "write '%s': %s", path, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	ck_assert_int_eq(close(fd), 0);
}

static inline void
unit_write_str(const char *path, const char *s)
{
	unit_write(path, s, strlen(s));
}

/* The whole of "path" in a malloc'd buffer (NUL-terminated). */
static inline unsigned char *
unit_read(const char *path, size_t *lenp)
{
	struct stat sb;
	unsigned char *buf;
	size_t got = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd != -1, "open '%s': %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	while (got < (size_t)sb.st_size) {
		n = read(fd, buf + got, (size_t)sb.st_size - got);
		ck_assert_msg(n > 0, "read '%s': %s", path, strerror(errno));
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	*lenp = got;
	return buf;
}

/* Overwrite "len" bytes at "off" of an existing file. */
static inline void
unit_pwrite(const char *path, off_t off, const void *buf, size_t len)
{
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	ck_assert_msg(fd != -1, "open '%s': %s", path, strerror(errno));
	ck_assert_int_eq(pwrite(fd, buf, len, off), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* XOR the byte at "off" of "path" with 0xff. */
static inline void
unit_flip(const char *path, off_t off)
{
	unsigned char c;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_msg(fd != -1, "open '%s': %s", path, strerror(errno));
	ck_assert_int_eq(pread(fd, &c, 1, off), 1);
	c ^= 0xff;
	ck_assert_int_eq(pwrite(fd, &c, 1, off), 1);
	ck_assert_int_eq(close(fd), 0);
}

static inline int
unit_exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* Number of names in directory "path", not counting "." and "..". */
static inline int
unit_count_dir(const char *path)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(path);
	ck_assert_msg(d != NULL, "opendir '%s': %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Deterministic pseudo-random bytes (xorshift64*), by "seed". */
static inline void
unit_fill_random(void *buf, size_t len, uint64_t seed)
{
	unsigned char *p = buf;
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		if (i % 8 == 0) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
		}
		p[i] = (unsigned char)((x * 0x2545f4914f6cdd1dULL) >>
		    (8 * (i % 8)));
	}
}

/* Compressible text: numbered lines of a few words. */
static inline void
unit_fill_text(void *buf, size_t len, uint64_t seed)
{
	static const char *const words[] = { "alpha", "bravo", "charlie",
		"delta", "echo", "foxtrot", "golf", "hotel" };
	unsigned char *p = buf;
	char line[128];
	size_t i = 0, n, k;
	uint64_t x = seed;

	while (i < len) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		n = (size_t)snprintf(line, sizeof(line), "%llu %s %s\n",
		    (unsigned long long)(i / 17), words[(x >> 33) % 8],
		    words[(x >> 45) % 8]);
		for (k = 0; k < n && i < len; k++)
			p[i++] = (unsigned char)line[k];
	}
}

/* Run "sql" on the SQLite database "db" with a connection of its own. */
static inline void
unit_sql(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	char *msg = NULL;

	ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(h, 10000);
	ck_assert_msg(sqlite3_exec(h, sql, NULL, NULL, &msg) == SQLITE_OK,
	    "%s: %s", sql, msg != NULL ? msg : "?");
	sqlite3_close(h);
}

/* The integer in the first column of the first row "sql" selects. */
static inline long long
unit_sql_int(const char *db, const char *sql)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *s = NULL;
	long long v;

	ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(h, 10000);
	ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(h));
	ck_assert_msg(sqlite3_step(s) == SQLITE_ROW, "%s: no row", sql);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(h);
	return v;
}

/* Offset of the first differing byte of two equal-length buffers, or -1. */
static inline long long
unit_diff(const void *a, const void *b, size_t len)
{
	const unsigned char *x = a, *y = b;
	size_t i;

	if (len == 0 || memcmp(a, b, len) == 0)
		return -1;
	for (i = 0; x[i] == y[i]; i++)
		continue;
	return (long long)i;
}

/* Assert that two byte strings are equal, naming the first difference. */
#define unit_assert_bytes(a, alen, b, blen)                                    \
	do {                                                                   \
		long long unit_off_;                                           \
		ck_assert_uint_eq((alen), (blen));                             \
		unit_off_ = unit_diff((a), (b), (alen));                       \
		ck_assert_msg(unit_off_ == -1, "bytes differ at offset %lld",  \
		    unit_off_);                                                \
	} while (0)

/* Assert that "call" returns 0; on failure, show "err"'s message. */
#define unit_ok(call, err)                                                     \
	ck_assert_msg((call) == 0, "%s failed: %s", #call, (err).msg)

#ifdef REDUND_H
/*
 * A new store, made with the default options at DIR/store and opened for
 * writing; with "src", an empty DIR/src beside it.
 */
static inline struct rd_store *
unit_new_store(int src)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_init_opts o = RD_INIT_OPTS_INIT;
	struct rd_store *st = NULL;

	unit_ok(rd_store_init(unit_path("store"), &o, &err), err);
	unit_ok(rd_store_open(unit_path("store"), RD_OPEN_WRITE, 0, &st, &err),
	    err);
	if (src)
		unit_mkdir(unit_path("src"), 0755);
	return st;
}
#endif

/* Run one suite; the exit status for automake (0 or 1). */
static inline int
unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* UNIT_H */
