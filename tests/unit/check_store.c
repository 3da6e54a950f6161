/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_store.c: unit tests of store.c and catalog.c: creating a store,
 * opening it (missing, not a store, unknown format, damaged meta), the
 * writer lock and its wait, the tidying a writer does (temp files,
 * orphan packs, pending snapshots), symlinks planted in the store, and
 * the catalog helpers (meta values, SQLite error mapping).
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "rd_int.h"
#include "unit.h"

static const char *
store(void)
{
	return unit_path("store");
}

static void
init_default(void)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_init_opts o = RD_INIT_OPTS_INIT;

	unit_ok(rd_store_init(store(), &o, &err), err);
}

static void
sql(const char *q)
{
	unit_sql(unit_path("store/catalog.db"), q);
}

static long long
sql_int(const char *q)
{
	return unit_sql_int(unit_path("store/catalog.db"), q);
}

/* The text in the first column of the first row "q" selects, in "buf". */
static const char *
sql_text(const char *q, char *buf, size_t len)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *s = NULL;
	const unsigned char *t;

	ck_assert_int_eq(sqlite3_open_v2(unit_path("store/catalog.db"), &h,
	                     SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(h, q, -1, &s, NULL) == SQLITE_OK,
	    "%s: %s", q, sqlite3_errmsg(h));
	ck_assert_msg(sqlite3_step(s) == SQLITE_ROW, "%s: no row", q);
	t = sqlite3_column_text(s, 0);
	snprintf(buf, len, "%s", t != NULL ? (const char *)t : "");
	sqlite3_finalize(s);
	sqlite3_close(h);
	return buf;
}

/* Assert that the message of "err" is the printf-formatted "fmt". */
static void assert_msg(const struct rd_err *err, const char *fmt, ...)
    RD_PRINTF(2, 3);

static void
assert_msg(const struct rd_err *err, const char *fmt, ...)
{
	char want[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	ck_assert_str_eq(err->msg, want);
}

START_TEST(test_init_layout)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	struct rd_store_info info;
	struct stat sb;

	init_default();
	ck_assert_int_eq(lstat(store(), &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 07777, 0700);
	ck_assert_int_eq(lstat(unit_path("store/catalog.db"), &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_int_eq(lstat(unit_path("store/packs"), &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_int_eq(unit_count_dir(unit_path("store/packs")), 0);
	ck_assert_int_eq(lstat(unit_path("store/tmp"), &sb), 0);
	ck_assert(S_ISDIR(sb.st_mode));
	ck_assert_int_eq(lstat(unit_path("store/lock"), &sb), 0);
	ck_assert(S_ISREG(sb.st_mode));
	ck_assert_int_eq(sb.st_size, 0);
	ck_assert_int_eq(sql_int("PRAGMA user_version"), RD_FORMAT);

	unit_ok(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err), err);
	unit_ok(rd_store_info(st, &info, &err), err);
	ck_assert_uint_eq(strlen(info.uuid), 36);
	ck_assert_int_eq(info.uuid[14], '4');
	ck_assert_str_eq(info.origin, "");
	ck_assert_int_eq(info.standby, 0);
	ck_assert_int_eq(info.codec, RD_CODEC_ZLIB);
	ck_assert_int_eq(info.chain_max, 8);
	ck_assert_int_eq(info.epoch, 1);
	ck_assert_int_eq(info.format, RD_FORMAT);
	rd_store_close(st);
	rd_store_close(NULL);
}
END_TEST

START_TEST(test_init_opts)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_init_opts o = { RD_CODEC_ZSTD, 3, 1, 1 };
	unsigned char key[RD_KEY_LEN];
	struct stat sb;
	struct rd_store *st = NULL;
	struct rd_store_info a, b;

	if (!rd_codec_available(RD_CODEC_ZSTD))
		o.codec = RD_CODEC_ZLIB;
	/* an existing empty directory is fine */
	unit_mkdir(store(), 0755);
	unit_ok(rd_store_init(store(), &o, &err), err);
	unit_ok(rd_store_open(store(), RD_OPEN_WRITE, 0, &st, &err), err);
	unit_ok(rd_store_info(st, &a, &err), err);
	rd_store_close(st);
	ck_assert_int_eq(a.codec, o.codec);
	ck_assert_int_eq(a.chain_max, 3);
	ck_assert_int_eq(a.standby, 1);
	/* a key that only the owner may read, which the store demands */
	ck_assert_int_eq(stat(unit_path("store/ship.key"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	unit_ok(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err), err);
	ck_assert_int_eq(rd_store_key(st, key, &err), 1);
	rd_store_close(st);
	/* each store has an identity of its own */
	o.key = 0;
	unit_ok(rd_store_init(unit_path("other"), &o, &err), err);
	ck_assert_int_eq(stat(unit_path("other/ship.key"), &sb), -1);
	unit_ok(rd_store_open(unit_path("other"), RD_OPEN_READ, 0, &st, &err),
	    err);
	unit_ok(rd_store_info(st, &b, &err), err);
	rd_store_close(st);
	ck_assert_str_ne(a.uuid, b.uuid);
}
END_TEST

START_TEST(test_init_not_empty)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_init_opts o = RD_INIT_OPTS_INIT;
	size_t len;
	unsigned char *back;

	unit_mkdir(store(), 0755);
	unit_write_str(unit_path("store/keep"), "precious");
	ck_assert_int_eq(rd_store_init(store(), &o, &err), -1);
	ck_assert_int_eq(err.code, RD_ECANTCREAT);
	assert_msg(&err,
	    "cannot create store '%s': exists and is not an empty directory",
	    store());
	/* untouched */
	ck_assert_int_eq(unit_count_dir(store()), 1);
	back = unit_read(unit_path("store/keep"), &len);
	ck_assert_str_eq((char *)back, "precious");
	free(back);
	/* a file is not a directory at all */
	unit_write_str(unit_path("file"), "x");
	ck_assert_int_eq(rd_store_init(unit_path("file"), &o, &err), -1);
	ck_assert_int_eq(err.code, RD_ECANTCREAT);
	assert_msg(&err,
	    "cannot create store '%s': exists and is not an empty directory",
	    unit_path("file"));
	/* and a store is not empty either */
	unit_ok(rd_store_init(unit_path("s2"), &o, &err), err);
	ck_assert_int_eq(rd_store_init(unit_path("s2"), &o, &err), -1);
	ck_assert_int_eq(err.code, RD_ECANTCREAT);
}
END_TEST

START_TEST(test_init_bad_opts)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_init_opts o = RD_INIT_OPTS_INIT;

	o.chain_max = 0;
	ck_assert_int_eq(rd_store_init(store(), &o, &err), -1);
	ck_assert_int_eq(err.code, RD_EUSAGE);
	ck_assert_str_eq(err.msg, "chain length 0 is out of range (1 to 64)");
	o.chain_max = 65;
	ck_assert_int_eq(rd_store_init(store(), &o, &err), -1);
	ck_assert_str_eq(err.msg, "chain length 65 is out of range (1 to 64)");
	o.chain_max = 64;
	o.codec = 7;
	ck_assert_int_eq(rd_store_init(store(), &o, &err), -1);
	ck_assert_int_eq(err.code, RD_EUNAVAIL);
	ck_assert_str_eq(err.msg,
	    "codec 'unknown' is not available in this build");
	/* nothing was made */
	ck_assert(!unit_exists(store()));
}
END_TEST

START_TEST(test_init_missing_parent)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_init_opts o = RD_INIT_OPTS_INIT;
	const char *p = unit_path("no/such/store");

	ck_assert_int_eq(rd_store_init(p, &o, &err), -1);
	ck_assert_int_eq(err.code, RD_ECANTCREAT);
	assert_msg(&err, "cannot create store '%s': No such file or directory",
	    p);
	ck_assert(!unit_exists(unit_path("no")));
}
END_TEST

START_TEST(test_open_missing)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;

	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	assert_msg(&err, "cannot open store '%s': No such file or directory",
	    store());
	ck_assert_ptr_null(st);
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_WRITE, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	/* a directory without a catalog */
	unit_mkdir(store(), 0700);
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_WRITE, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	assert_msg(&err,
	    "'%s' is not a store (no catalog.db): create one with rdsnap init",
	    store());
	/* nothing was made by trying */
	ck_assert_int_eq(unit_count_dir(store()), 0);
	/* a file is not a store */
	unit_write_str(unit_path("file"), "x");
	ck_assert_int_eq(rd_store_open(unit_path("file"), RD_OPEN_READ, 0, &st,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	assert_msg(&err, "cannot open store '%s': Not a directory",
	    unit_path("file"));
}
END_TEST

START_TEST(test_open_format)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;

	init_default();
	ck_assert_int_eq(sql_int("PRAGMA user_version"), 4);
	sql("PRAGMA user_version=99");
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	assert_msg(&err,
	    "store '%s' has catalog format 99, newer than this redund reads "
	    "(1 to 4): use a newer redund",
	    store());
	ck_assert_ptr_null(st);
	rd_err_clear(&err);
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_WRITE, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	/* the writer changed nothing */
	ck_assert_int_eq(sql_int("PRAGMA user_version"), 99);
	sql("PRAGMA user_version=0");
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	assert_msg(&err,
	    "store '%s' has catalog format 0: not a redund catalog", store());
}
END_TEST

/*
 * A format-1 catalog (the first landed format: no partial column, no
 * problems table) is migrated when a reader opens it, and then looks
 * exactly like a new store's.  A failed migration changes nothing.
 */
START_TEST(test_open_migrate)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	char fresh[16384], now[16384];

	init_default();
	sql_text("SELECT group_concat(sql, ';') FROM"
	         " (SELECT sql FROM sqlite_schema ORDER BY name)",
	    fresh, sizeof(fresh));
	sql("DROP TABLE snapshot_problems;"
	    "ALTER TABLE snapshots DROP COLUMN partial;"
	    "DROP TABLE promotion_options;"
	    "DROP TABLE promotion_events;"
	    "DROP TABLE promotion_trees;"
	    "ALTER TABLE promotions DROP COLUMN validated;"
	    "ALTER TABLE promotions DROP COLUMN failed_at;"
	    "ALTER TABLE promotions DROP COLUMN data_time;"
	    "ALTER TABLE promotions DROP COLUMN given_up;"
	    "DROP INDEX entries_link;"
	    "ALTER TABLE entries DROP COLUMN rdev;"
	    "ALTER TABLE entries DROP COLUMN link;"
	    "ALTER TABLE entries DROP COLUMN xattrs;"
	    "INSERT INTO snapshots(id, state, started) VALUES (1, 'complete', 1);"
	    "PRAGMA user_version=1");
	/*
	 * a table in the migration's way is not one redund made at format
	 * 1: refused before the migration runs, and nothing changes
	 */
	sql("CREATE TABLE snapshot_problems(x)");
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	assert_msg(&err,
	    "store '%s' has a catalog schema that redund did not make: "
	    "table 'snapshot_problems' is not one of redund's",
	    store());
	ck_assert_int_eq(sql_int("PRAGMA user_version"), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM pragma_table_info("
	                         "'snapshots') WHERE name = 'partial'"),
	    0);
	sql("DROP TABLE snapshot_problems");
	rd_err_clear(&err);
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err), 0);
	rd_store_close(st);
	ck_assert_int_eq(sql_int("PRAGMA user_version"), 4);
	ck_assert_int_eq(sql_int("SELECT partial FROM snapshots WHERE id = 1"),
	    0);
	ck_assert_str_eq(
	    sql_text("SELECT group_concat(sql, ';') FROM"
	             " (SELECT sql FROM sqlite_schema ORDER BY name)",
	        now, sizeof(now)),
	    fresh);
}
END_TEST

/*
 * A catalog whose schema redund did not make is refused when the store
 * is opened, before any statement meets the object: a trigger that would
 * rewrite rows, a CHECK that calls a function, a changed index, a
 * missing table.  The message names the object.
 */
START_TEST(test_open_foreign_schema)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	static const struct {
		const char *sql, *msg;
	} cases[] = {
		{ "CREATE TRIGGER t AFTER INSERT ON entries BEGIN"
		  " DELETE FROM snapshots; END",
		    "trigger 't' is not one of redund's" },
		{ "CREATE VIEW v AS SELECT 1",
		    "view 'v' is not one of redund's" },
		{ "DROP INDEX entries_link;"
		  "CREATE INDEX entries_link ON entries(link)",
		    "index 'entries_link' differs" },
		{ "DROP TABLE promotion_options",
		    "table 'promotion_options' is missing" },
		{ "PRAGMA writable_schema=ON;"
		  "UPDATE sqlite_master SET sql = replace(sql, 'kind IN',"
		  " 'kinunix') WHERE name = 'promotion_trees';"
		  "PRAGMA writable_schema=OFF",
		    "table 'promotion_trees' differs" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		init_default();
		sql(cases[i].sql);
		rd_err_clear(&err);
		ck_assert_int_eq(rd_store_open(store(), RD_OPEN_READ, 0, &st,
		                     &err),
		    -1);
		ck_assert_int_eq(err.code, RD_ECORRUPT);
		assert_msg(&err,
		    "store '%s' has a catalog schema that redund did not make: %s",
		    store(), cases[i].msg);
		ck_assert_int_eq(unit_rm_rf(unit_path("store")), 0);
	}
}
END_TEST

START_TEST(test_open_not_a_database)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	char junk[8192];

	init_default();
	unit_fill_random(junk, sizeof(junk), 1);
	unit_write(unit_path("store/catalog.db"), junk, sizeof(junk));
	ck_assert_int_eq(unlink(unit_path("store/catalog.db-wal")) == 0 ||
	        errno == ENOENT,
	    1);
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "catalog: file is not a database");
}
END_TEST

START_TEST(test_open_bad_meta)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;

	init_default();
	sql("UPDATE meta SET value = 'lz4' WHERE key = 'codec'");
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	assert_msg(&err, "store '%s' has unknown codec 'lz4'", store());
	sql("DELETE FROM meta WHERE key = 'uuid'");
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	assert_msg(&err, "store '%s' has no identity", store());
}
END_TEST

START_TEST(test_open_chain_clamped)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	struct rd_store_info info;

	init_default();
	sql("UPDATE meta SET value = '1000' WHERE key = 'chain_max'");
	sql("UPDATE meta SET value = '42' WHERE key = 'epoch'");
	sql("UPDATE meta SET value = 'standby' WHERE key = 'role'");
	unit_ok(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err), err);
	unit_ok(rd_store_info(st, &info, &err), err);
	ck_assert_int_eq(info.chain_max, 8);
	ck_assert_int_eq(info.epoch, 42);
	ck_assert_int_eq(info.standby, 1);
	rd_store_close(st);
}
END_TEST

START_TEST(test_lock_busy)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *w1 = NULL, *w2 = NULL, *r = NULL;
	double t0, dt;

	init_default();
	unit_ok(rd_store_open(store(), RD_OPEN_WRITE, 0, &w1, &err), err);
	/* a second writer fails at once */
	t0 = rd_monotonic();
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_WRITE, 0, &w2, &err),
	    -1);
	ck_assert_double_lt(rd_monotonic() - t0, 2);
	ck_assert_int_eq(err.code, RD_EBUSY);
	assert_msg(&err, "store '%s' is busy: another writer holds its lock",
	    store());
	ck_assert_ptr_null(w2);
	/* or after waiting */
	rd_err_clear(&err);
	t0 = rd_monotonic();
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_WRITE, 0.2, &w2, &err),
	    -1);
	dt = rd_monotonic() - t0;
	ck_assert_double_ge(dt, 0.2);
	ck_assert_double_lt(dt, 5);
	ck_assert_int_eq(err.code, RD_EBUSY);
	assert_msg(&err, "store '%s' is busy: another writer holds its lock",
	    store());
	/* readers are never blocked */
	unit_ok(rd_store_open(store(), RD_OPEN_READ, 0, &r, &err), err);
	rd_store_close(r);
	/* the lock goes with the handle */
	rd_store_close(w1);
	unit_ok(rd_store_open(store(), RD_OPEN_WRITE, 0, &w2, &err), err);
	rd_store_close(w2);
}
END_TEST

struct closer {
	struct rd_store *st;
	double after;
};

static void *
close_later(void *arg)
{
	struct closer *c = arg;
	struct timespec ts;

	ts.tv_sec = 0;
	ts.tv_nsec = (long)(c->after * 1e9);
	nanosleep(&ts, NULL);
	rd_store_close(c->st);
	return NULL;
}

START_TEST(test_lock_wait)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *w2 = NULL;
	struct closer c = { NULL, 0.3 };
	pthread_t t;
	double t0, dt;

	/* the first writer lets go while the second waits */
	init_default();
	unit_ok(rd_store_open(store(), RD_OPEN_WRITE, 0, &c.st, &err), err);
	ck_assert_int_eq(pthread_create(&t, NULL, close_later, &c), 0);
	t0 = rd_monotonic();
	unit_ok(rd_store_open(store(), RD_OPEN_WRITE, 10, &w2, &err), err);
	dt = rd_monotonic() - t0;
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_double_ge(dt, 0.25);
	ck_assert_double_lt(dt, 5);
	rd_store_close(w2);
}
END_TEST

START_TEST(test_lock_missing)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;

	init_default();
	ck_assert_int_eq(unlink(unit_path("store/lock")), 0);
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_WRITE, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	assert_msg(&err, "cannot open '%s/lock': No such file or directory",
	    store());
	/* a symlink planted as the lock is not followed */
	ck_assert_int_eq(symlink(unit_path("elsewhere"),
	                     unit_path("store/lock")),
	    0);
	unit_write_str(unit_path("elsewhere"), "");
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_WRITE, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_EIO);
	assert_msg(&err,
	    "cannot open '%s/lock': Too many levels of symbolic links",
	    store());
}
END_TEST

#define ORPHAN "0123456789abcdef0123456789abcdef"
#define KEPT   "fedcba9876543210fedcba9876543210"

START_TEST(test_tidy)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;

	init_default();
	unit_write_str(unit_path("store/packs/" ORPHAN ".pack"), "RDPACK1\n");
	unit_write_str(unit_path("store/packs/" KEPT ".pack"), "RDPACK1\n");
	unit_write_str(unit_path("store/packs/README"), "not a pack");
	unit_write_str(unit_path("store/packs/" ORPHAN ".packx"), "nor this");
	unit_write_str(unit_path("store/tmp/" ORPHAN ".pack"), "RDPACK1\n");
	unit_write_str(unit_path("store/tmp/leftover"), "x");
	sql("INSERT INTO packs(id, name, size) VALUES (1, '" KEPT "', 8);"
	    "INSERT INTO snapshots(id, state, started) VALUES (1, 'complete',"
	    " 1), (2, 'pending', 2)");
	/* a reader tidies nothing */
	unit_ok(rd_store_open(store(), RD_OPEN_READ, 0, &st, &err), err);
	rd_store_close(st);
	ck_assert_int_eq(unit_count_dir(unit_path("store/packs")), 4);
	ck_assert_int_eq(unit_count_dir(unit_path("store/tmp")), 2);
	ck_assert_int_eq(sql_int("SELECT COUNT(*) FROM snapshots"), 2);
	/* a writer does */
	unit_ok(rd_store_open(store(), RD_OPEN_WRITE, 0, &st, &err), err);
	rd_store_close(st);
	ck_assert(!unit_exists(unit_path("store/packs/" ORPHAN ".pack")));
	ck_assert(unit_exists(unit_path("store/packs/" KEPT ".pack")));
	ck_assert(unit_exists(unit_path("store/packs/README")));
	ck_assert(unit_exists(unit_path("store/packs/" ORPHAN ".packx")));
	ck_assert_int_eq(unit_count_dir(unit_path("store/tmp")), 0);
	ck_assert_int_eq(sql_int("SELECT COUNT(*) FROM snapshots"), 1);
	ck_assert_int_eq(sql_int("SELECT id FROM snapshots"), 1);
}
END_TEST

START_TEST(test_tidy_symlinked_tmp)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;

	/* tmp/ replaced by a symlink: nothing behind it is removed */
	init_default();
	unit_mkdir(unit_path("victim"), 0700);
	unit_write_str(unit_path("victim/data"), "precious");
	ck_assert_int_eq(rmdir(unit_path("store/tmp")), 0);
	ck_assert_int_eq(symlink(unit_path("victim"), unit_path("store/tmp")),
	    0);
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_WRITE, 0, &st, &err),
	    -1);
	/* O_NOFOLLOW|O_DIRECTORY: ENOTDIR, which rd_err_sys() calls missing */
	ck_assert_int_eq(err.code, RD_ENOENT);
	assert_msg(&err, "cannot open '%s/tmp': Not a directory", store());
	ck_assert(unit_exists(unit_path("victim/data")));
}
END_TEST

START_TEST(test_tidy_symlinked_packs)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;

	init_default();
	unit_mkdir(unit_path("victim"), 0700);
	unit_write_str(unit_path("victim/" ORPHAN ".pack"), "precious");
	ck_assert_int_eq(rmdir(unit_path("store/packs")), 0);
	ck_assert_int_eq(symlink(unit_path("victim"), unit_path("store/packs")),
	    0);
	ck_assert_int_eq(rd_store_open(store(), RD_OPEN_WRITE, 0, &st, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	assert_msg(&err, "cannot open '%s/packs': Not a directory", store());
	ck_assert(unit_exists(unit_path("victim/" ORPHAN ".pack")));
}
END_TEST

START_TEST(test_meta)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	char buf[16], small[4];

	init_default();
	unit_ok(rd_store_open(store(), RD_OPEN_WRITE, 0, &st, &err), err);
	unit_ok(rdi_meta_set(st->db, "k", "value", &err), err);
	ck_assert_int_eq(rdi_meta_get(st->db, "k", buf, sizeof(buf), &err), 1);
	ck_assert_str_eq(buf, "value");
	unit_ok(rdi_meta_set(st->db, "k", "v2", &err), err);
	ck_assert_int_eq(rdi_meta_get(st->db, "k", buf, sizeof(buf), &err), 1);
	ck_assert_str_eq(buf, "v2");
	strcpy(buf, "junk");
	ck_assert_int_eq(rdi_meta_get(st->db, "none", buf, sizeof(buf), &err),
	    0);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(rdi_meta_get(st->db, "uuid", small, sizeof(small),
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "catalog value 'uuid' is too long");
	ck_assert_int_eq(rdi_meta_get(st->db, "codec", buf, sizeof(buf), &err),
	    1);
	ck_assert_str_eq(buf, "zlib");
	ck_assert_int_eq(rdi_meta_get(st->db, "role", buf, sizeof(buf), &err),
	    1);
	ck_assert_str_eq(buf, "primary");
	rd_store_close(st);
}
END_TEST

START_TEST(test_db_errors)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	sqlite3_stmt *s = NULL;
	sqlite3 *other = NULL;

	init_default();
	unit_ok(rd_store_open(store(), RD_OPEN_WRITE, 0, &st, &err), err);
	ck_assert_int_eq(rdi_db_prepare(st->db, "SELEC 1", &s, &err), -1);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(err.code, RD_EINTERNAL);
	ck_assert_str_eq(err.msg, "catalog: near \"SELEC\": syntax error");
	ck_assert_int_eq(rdi_db_exec(st->db,
	                     "INSERT INTO snapshots(state, started) VALUES"
	                     " ('bogus', 0)",
	                     &err),
	    -1);
	/* a broken constraint means rows no redund wrote: damage */
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "catalog: CHECK constraint failed: state IN ('pending', "
	    "'complete')");
	/* a locked database is "busy" */
	ck_assert_int_eq(sqlite3_open(unit_path("store/catalog.db"), &other),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	                     NULL),
	    SQLITE_OK);
	sqlite3_busy_timeout(st->db, 0);
	ck_assert_int_eq(rdi_db_exec(st->db, "BEGIN IMMEDIATE", &err), -1);
	ck_assert_int_eq(err.code, RD_EBUSY);
	ck_assert_str_eq(err.msg, "catalog: database is locked");
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);
	/* foreign keys are enforced */
	ck_assert_int_eq(rdi_db_exec(st->db,
	                     "INSERT INTO contents(sha, size, kind, codec,"
	                     " depth, pack, off, len) VALUES (x'00', 0, 0, 0,"
	                     " 0, 99, 0, 0)",
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "catalog: FOREIGN KEY constraint failed");
	rd_store_close(st);
}
END_TEST

START_TEST(test_db_run_query)
{
	struct rd_err err = RD_ERR_INIT;
	const char raw[3] = { 'a', '\0', 'b' };
	uint8_t h[RD_HASH_LEN];
	sqlite3_stmt *s = NULL;
	sqlite3 *db = NULL;

	ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
	unit_ok(rdi_db_exec(db, "CREATE TABLE t(i INTEGER, d REAL, a, b)",
	            &err),
	    err);
	/* each letter binds its own type; NULL text and 'n' bind null */
	unit_ok(rdi_db_run(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)",
	            "idtn", (int64_t)1 << 40, 2.5, "x\ty"),
	    err);
	unit_ok(rdi_db_run(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)",
	            "idtt", (int64_t)-7, -0.5, (const char *)NULL, "z"),
	    err);
	/* a statement that returns rows is stepped to its end */
	unit_ok(rdi_db_run(db, &err, "SELECT * FROM t", ""), err);
	unit_ok(rdi_db_query(db, &s, &err,
	            "SELECT count(*) FROM t WHERE i = ? AND d = ? AND a = ?"
	            " AND b IS NULL",
	            "idt", (int64_t)1 << 40, 2.5, "x\ty"),
	    err);
	ck_assert_int_eq(rdi_db_step(db, s, &err), 1);
	ck_assert_int_eq(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
	unit_ok(rdi_db_query(db, &s, &err,
	            "SELECT count(*) FROM t WHERE a IS NULL AND b = ?", "t",
	            "z"),
	    err);
	ck_assert_int_eq(rdi_db_step(db, s, &err), 1);
	ck_assert_int_eq(sqlite3_column_int(s, 0), 1);
	sqlite3_finalize(s);
	/* hashes and blobs are copied; a reset statement binds anew */
	memset(h, 0xab, sizeof(h));
	unit_ok(rdi_db_run(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)",
	            "inhb", (int64_t)9, h, raw, sizeof(raw)),
	    err);
	memset(h, 0, sizeof(h));
	unit_ok(rdi_db_query(db, &s, &err,
	            "SELECT length(a), hex(substr(a, 1, 2)), hex(b) FROM t"
	            " WHERE i = ?",
	            "i", (int64_t)9),
	    err);
	ck_assert_int_eq(rdi_db_step(db, s, &err), 1);
	ck_assert_int_eq(sqlite3_column_int(s, 0), RD_HASH_LEN);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 1), "ABAB");
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 2), "610062");
	ck_assert_int_eq(rdi_db_step(db, s, &err), 0);
	unit_ok(rdi_db_bind(db, s, &err, "i", (int64_t)1 << 40), err);
	ck_assert_int_eq(rdi_db_step(db, s, &err), 1);
	ck_assert_int_eq(sqlite3_column_int(s, 0), 3); /* "x\ty" */
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 2), "");
	sqlite3_finalize(s);
	/* a NULL blob binds null */
	unit_ok(rdi_db_run(db, &err, "INSERT INTO t VALUES (?, ?, ?, ?)",
	            "inbb", (int64_t)10, (const void *)NULL, (size_t)5, raw,
	            (size_t)1),
	    err);
	unit_ok(rdi_db_query(db, &s, &err,
	            "SELECT a IS NULL, hex(b) FROM t WHERE i = 10", ""),
	    err);
	ck_assert_int_eq(rdi_db_step(db, s, &err), 1);
	ck_assert_int_eq(sqlite3_column_int(s, 0), 1);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 1), "61");
	sqlite3_finalize(s);
	unit_ok(rdi_db_run(db, &err, "DELETE FROM t WHERE i >= 9 AND i <= 10",
	            ""),
	    err);
	/* an unknown letter is a bug in the caller: nothing runs */
	ck_assert_int_eq(rdi_db_query(db, &s, &err, "SELECT ?", "x", 1), -1);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(err.code, RD_EINTERNAL);
	ck_assert_str_eq(err.msg, "catalog: bad bind type 'x'");
	/* more letters than parameters: SQLite's range error */
	ck_assert_int_eq(rdi_db_run(db, &err, "DELETE FROM t WHERE i = ?", "ii",
	                     (int64_t)1, (int64_t)2),
	    -1);
	ck_assert_int_eq(err.code, RD_EINTERNAL);
	ck_assert_str_eq(err.msg, "catalog: column index out of range");
	/* and nothing was deleted */
	unit_ok(rdi_db_query(db, &s, &err, "SELECT count(*) FROM t", ""), err);
	ck_assert_int_eq(rdi_db_step(db, s, &err), 1);
	ck_assert_int_eq(sqlite3_column_int(s, 0), 2);
	sqlite3_finalize(s);
	sqlite3_close(db);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("init");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_add_test(tc, test_init_layout);
	tcase_add_test(tc, test_init_opts);
	tcase_add_test(tc, test_init_not_empty);
	tcase_add_test(tc, test_init_bad_opts);
	tcase_add_test(tc, test_init_missing_parent);
	suite_add_tcase(s, tc);

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_add_test(tc, test_open_missing);
	tcase_add_test(tc, test_open_format);
	tcase_add_test(tc, test_open_migrate);
	tcase_add_test(tc, test_open_foreign_schema);
	tcase_add_test(tc, test_open_not_a_database);
	tcase_add_test(tc, test_open_bad_meta);
	tcase_add_test(tc, test_open_chain_clamped);
	tcase_add_test(tc, test_db_run_query);
	suite_add_tcase(s, tc);

	tc = tcase_create("lock");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_lock_busy);
	tcase_add_test(tc, test_lock_wait);
	tcase_add_test(tc, test_lock_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("tidy");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_add_test(tc, test_tidy);
	tcase_add_test(tc, test_tidy_symlinked_tmp);
	tcase_add_test(tc, test_tidy_symlinked_packs);
	suite_add_tcase(s, tc);

	tc = tcase_create("catalog");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_add_test(tc, test_meta);
	tcase_add_test(tc, test_db_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(store_suite());
}
