/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_snap.c: unit tests of snap.c, query.c, restore.c and verify.c on
 * small trees made by the tests: what a snapshot reads and stores (the
 * quick check, --checksum, deltas and their chain bound, identical
 * contents stored once), the catalog rows it writes, listing snapshots
 * and entries, restoring byte- and metadata-exact (whole, in part, older
 * versions, over symlinks), and verifying clean and damaged stores.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "snap/snap_int.h"
#include "unit.h"

#define MIB (1024 * 1024)
#define T0  1600000000

static struct rd_store *st;
static const char *store_name; /* of "st", in the temp dir */

static void
setup(void)
{
	unit_tmp_setup();
	store_name = "store";
	st = unit_new_store(1);
}

static void
teardown(void)
{
	rd_store_close(st);
	st = NULL;
	unit_tmp_teardown();
}

static const char *
catalog(void)
{
	return unit_path("%s/catalog.db", store_name);
}

/* Set the mtime of "rel" (below the temp dir) to T0 + "sec" s + "ns". */
static void
set_mtime(const char *rel, int sec, long ns)
{
	struct timespec ts[2];

	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = T0 + sec;
	ts[1].tv_nsec = ns;
	ck_assert_msg(utimensat(AT_FDCWD, unit_path("%s", rel), ts,
	                  AT_SYMLINK_NOFOLLOW) == 0,
	    "utimensat '%s': %s", rel, strerror(errno));
}

static void
put(const char *rel, const void *buf, size_t len, mode_t mode)
{
	unit_write(unit_path("%s", rel), buf, len);
	ck_assert_int_eq(chmod(unit_path("%s", rel), mode), 0);
}

#define B_LEN 102400

/*
 * The test tree, 8 entries:
 *	src/		0755
 *	src/a.txt	0640 "hello\n"
 *	src/dir/	0750
 *	src/dir/b.bin	0600 100 KiB of random bytes
 *	src/dir/sub/	0700
 *	src/dir/sub/c	0644 empty
 *	src/empty/	0755
 *	src/link	-> a.txt
 */
static void
make_tree(void)
{
	unsigned char *b = malloc(B_LEN);

	ck_assert_ptr_nonnull(b);
	unit_fill_random(b, B_LEN, 1);
	put("src/a.txt", "hello\n", 6, 0640);
	unit_mkdir(unit_path("src/dir"), 0750);
	put("src/dir/b.bin", b, B_LEN, 0600);
	unit_mkdir(unit_path("src/dir/sub"), 0700);
	put("src/dir/sub/c", "", 0, 0644);
	unit_mkdir(unit_path("src/empty"), 0755);
	ck_assert_int_eq(symlink("a.txt", unit_path("src/link")), 0);
	set_mtime("src/a.txt", 1, 111111111);
	set_mtime("src/dir/b.bin", 2, 222222222);
	set_mtime("src/dir/sub/c", 3, 333333333);
	set_mtime("src/link", 4, 444444444);
	set_mtime("src/dir/sub", 5, 555555555);
	set_mtime("src/dir", 6, 666666666);
	set_mtime("src/empty", 7, 777777777);
	set_mtime("src", 8, 888888888);
	free(b);
}

static int
snap_opts(const struct rd_snap_opts *o, struct rd_snapinfo *info,
    struct rd_err *err)
{
	return rd_snap_create(st, unit_path("src"), o, info, err);
}

/* Take a snapshot with two workers; "checksum" as --checksum. */
static void
snap(int checksum, struct rd_snapinfo *info)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;

	o.checksum = checksum;
	o.threads = 2;
	unit_ok(snap_opts(&o, info, &err), err);
}

/* Entries of a snapshot, as collected by rd_snap_entries(). */
struct ent {
	char path[256];
	int type;
	unsigned mode;
	int64_t size, mtime;
	unsigned char sha[RD_HASH_LEN];
	char target[256];
};

struct ents {
	struct ent e[32];
	int n;
	char list[1024]; /* paths, comma-separated */
};

static int
collect(void *arg, const struct rd_entry *e)
{
	struct ents *es = arg;
	struct ent *x;

	ck_assert_int_lt(es->n, 32);
	x = &es->e[es->n++];
	snprintf(x->path, sizeof(x->path), "%s", e->path);
	x->type = e->type;
	x->mode = e->mode;
	x->size = e->size;
	x->mtime = e->mtime_ns;
	memcpy(x->sha, e->sha, RD_HASH_LEN);
	snprintf(x->target, sizeof(x->target), "%s",
	    e->target != NULL ? e->target : "");
	if (es->list[0] != '\0')
		strcat(es->list, ",");
	strcat(es->list, e->path);
	return 0;
}

static void
entries(int64_t id, const char *path, struct ents *es)
{
	struct rd_err err = RD_ERR_INIT;

	memset(es, 0, sizeof(*es));
	unit_ok(rd_snap_entries(st, id, path, collect, es, &err), err);
}

static const struct ent *
find(const struct ents *es, const char *path)
{
	int i;

	for (i = 0; i < es->n; i++)
		if (strcmp(es->e[i].path, path) == 0)
			return &es->e[i];
	ck_abort_msg("no entry '%s'", path);
	return NULL;
}

static void
sha_hex(const void *buf, size_t len, char *hex)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char d[RD_HASH_LEN];

	unit_ok(rd_sha256_buf(buf, len, d, &err), err);
	rd_hex(d, sizeof(d), hex);
}

static long long
count(const char *q)
{
	return unit_sql_int(catalog(), q);
}

/* ------------------------------------------------------------------ */
/* create */

START_TEST(test_first)
{
	struct rd_snapinfo si;
	struct ents es;
	const struct ent *e;
	char hex[65], want[65];

	make_tree();
	snap(0, &si);
	ck_assert_int_eq(si.id, 1);
	ck_assert_int_eq(si.files, 8);
	ck_assert_int_eq(si.changed, 8);
	ck_assert_int_eq(si.removed, 0);
	ck_assert_int_eq(si.bytes, 6 + B_LEN);
	ck_assert_int_eq(si.bytes_read, 6 + B_LEN);
	ck_assert_int_eq(si.bytes_added, 6 + B_LEN);
	ck_assert_int_gt(si.stored, B_LEN);
	ck_assert_int_eq(si.skipped, 0);
	ck_assert_int_eq(si.inconsistent, 0);
	ck_assert_str_eq(si.label, "");

	entries(0, NULL, &es);
	ck_assert_str_eq(es.list,
	    ".,a.txt,dir,dir/b.bin,dir/sub,dir/sub/c,empty,link");
	e = find(&es, ".");
	ck_assert_int_eq(e->type, RD_TYPE_DIR);
	ck_assert_uint_eq(e->mode, 0755);
	ck_assert_int_eq(e->mtime, (T0 + 8) * 1000000000LL + 888888888);
	e = find(&es, "a.txt");
	ck_assert_int_eq(e->type, RD_TYPE_FILE);
	ck_assert_uint_eq(e->mode, 0640);
	ck_assert_int_eq(e->size, 6);
	ck_assert_int_eq(e->mtime, (T0 + 1) * 1000000000LL + 111111111);
	rd_hex(e->sha, RD_HASH_LEN, hex);
	sha_hex("hello\n", 6, want);
	ck_assert_str_eq(hex, want);
	e = find(&es, "dir");
	ck_assert_int_eq(e->type, RD_TYPE_DIR);
	ck_assert_uint_eq(e->mode, 0750);
	ck_assert_int_eq(e->size, 0);
	e = find(&es, "dir/sub/c");
	ck_assert_int_eq(e->size, 0);
	rd_hex(e->sha, RD_HASH_LEN, hex);
	ck_assert_str_eq(hex,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	e = find(&es, "link");
	ck_assert_int_eq(e->type, RD_TYPE_SYMLINK);
	ck_assert_str_eq(e->target, "a.txt");
	ck_assert_int_eq(e->size, 5);
	ck_assert_int_eq(e->mtime, (T0 + 4) * 1000000000LL + 444444444);

	/* the catalog: one row per entry, three contents */
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries"), 8);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries WHERE first = 1"
	                       " AND last IS NULL"),
	    8);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM contents"), 3);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM snapshots WHERE"
	                       " state = 'complete'"),
	    1);
	/* the catalog paths of directories end in '/', the root is '' */
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries WHERE path IN"
	                       " (CAST('' AS BLOB), CAST('dir/' AS BLOB),"
	                       " CAST('dir/sub/' AS BLOB),"
	                       " CAST('empty/' AS BLOB))"),
	    4);
	ck_assert_int_eq(unit_count_dir(unit_path("store/tmp")), 0);
}
END_TEST

START_TEST(test_unchanged)
{
	struct rd_snapinfo si;
	int packs;

	make_tree();
	snap(0, &si);
	packs = unit_count_dir(unit_path("store/packs"));
	ck_assert_int_ge(packs, 1);
	ck_assert_int_le(packs, 2);
	/* the quick check: nothing read, nothing stored */
	snap(0, &si);
	ck_assert_int_eq(si.id, 2);
	ck_assert_int_eq(si.files, 8);
	ck_assert_int_eq(si.bytes, 6 + B_LEN);
	ck_assert_int_eq(si.changed, 0);
	ck_assert_int_eq(si.removed, 0);
	ck_assert_int_eq(si.bytes_read, 0);
	ck_assert_int_eq(si.bytes_added, 0);
	ck_assert_int_eq(si.stored, 0);
	/* --checksum: everything read, still nothing stored */
	snap(1, &si);
	ck_assert_int_eq(si.id, 3);
	ck_assert_int_eq(si.bytes_read, 6 + B_LEN);
	ck_assert_int_eq(si.changed, 0);
	ck_assert_int_eq(si.bytes_added, 0);
	ck_assert_int_eq(si.stored, 0);
	ck_assert_int_eq(unit_count_dir(unit_path("store/packs")), packs);
	ck_assert_int_eq(unit_count_dir(unit_path("store/tmp")), 0);
	/* an unchanged entry is one row across three snapshots */
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries"), 8);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries WHERE"
	                       " path = CAST('a.txt' AS BLOB)"),
	    1);
	ck_assert_int_eq(count("SELECT first FROM entries WHERE"
	                       " path = CAST('a.txt' AS BLOB)"),
	    1);
	ck_assert_int_eq(count("SELECT last IS NULL FROM entries WHERE"
	                       " path = CAST('a.txt' AS BLOB)"),
	    1);
}
END_TEST

START_TEST(test_changed)
{
	struct rd_snapinfo si;
	struct ents es;
	char hex[65], want[65];

	make_tree();
	snap(0, &si);
	/* rewritten in place: the directory does not change */
	put("src/a.txt", "hello world\n", 12, 0640);
	set_mtime("src/a.txt", 10, 0);
	snap(0, &si);
	ck_assert_int_eq(si.id, 2);
	ck_assert_int_eq(si.changed, 1);
	ck_assert_int_eq(si.removed, 0);
	ck_assert_int_eq(si.bytes_read, 12);
	ck_assert_int_eq(si.bytes_added, 12);
	ck_assert_int_eq(si.bytes, 12 + B_LEN);
	entries(2, "a.txt", &es);
	ck_assert_str_eq(es.list, "a.txt");
	rd_hex(es.e[0].sha, RD_HASH_LEN, hex);
	sha_hex("hello world\n", 12, want);
	ck_assert_str_eq(hex, want);
	ck_assert_int_eq(es.e[0].mtime, (T0 + 10) * 1000000000LL);
	/* snapshot 1 still has the old version */
	entries(1, "a.txt", &es);
	rd_hex(es.e[0].sha, RD_HASH_LEN, hex);
	sha_hex("hello\n", 6, want);
	ck_assert_str_eq(hex, want);
	/* two rows: 1..1 and 2.. */
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries WHERE"
	                       " path = CAST('a.txt' AS BLOB)"),
	    2);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries WHERE"
	                       " path = CAST('a.txt' AS BLOB) AND first = 1"
	                       " AND last = 1"),
	    1);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries WHERE"
	                       " path = CAST('a.txt' AS BLOB) AND first = 2"
	                       " AND last IS NULL"),
	    1);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries"), 9);
}
END_TEST

START_TEST(test_deleted)
{
	struct rd_snapinfo si;
	struct ents es;

	make_tree();
	snap(0, &si);
	ck_assert_int_eq(unlink(unit_path("src/dir/sub/c")), 0);
	snap(0, &si);
	ck_assert_int_eq(si.removed, 1);
	/* its directory's mtime changed */
	ck_assert_int_eq(si.changed, 1);
	ck_assert_int_eq(si.files, 7);
	ck_assert_int_eq(si.bytes_read, 0);
	entries(2, NULL, &es);
	ck_assert_str_eq(es.list, ".,a.txt,dir,dir/b.bin,dir/sub,empty,link");
	entries(1, NULL, &es);
	ck_assert_str_eq(es.list,
	    ".,a.txt,dir,dir/b.bin,dir/sub,dir/sub/c,empty,link");
	ck_assert_int_eq(count("SELECT last FROM entries WHERE"
	                       " path = CAST('dir/sub/c' AS BLOB)"),
	    1);
	/* a whole directory goes */
	ck_assert_int_eq(unlink(unit_path("src/dir/b.bin")), 0);
	ck_assert_int_eq(rmdir(unit_path("src/dir/sub")), 0);
	ck_assert_int_eq(rmdir(unit_path("src/dir")), 0);
	snap(0, &si);
	ck_assert_int_eq(si.removed, 3);
	ck_assert_int_eq(si.changed, 1); /* the root */
	ck_assert_int_eq(si.files, 4);
	entries(3, NULL, &es);
	ck_assert_str_eq(es.list, ".,a.txt,empty,link");
}
END_TEST

START_TEST(test_exclude_check)
{
	static const char *const good[] = { "a", "/a", "a/", "/a/b/", "*",
		"a//", "[!.]*" };
	static const char *const bad[] = { "", "/", "///" };
	struct rd_err err = RD_ERR_INIT;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		unit_ok(rd_snap_exclude_check(good[i], &err), err);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(rd_snap_exclude_check(bad[i], &err), -1);
		ck_assert_int_eq(err.code, RD_EUSAGE);
	}
	ck_assert_str_eq(err.msg,
	    "invalid exclude pattern '///': it matches nothing");
}
END_TEST

START_TEST(test_excludes)
{
	static const char *const pats[] = { "*.txt", "sub/", "/empty/",
		"dir/*.bin", "link/" };
	static const char *const deep[] = { "*/c", "/dir/*.bin" };
	static const char *const bad[] = { "ok", "//" };
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;
	struct rd_snapinfo si;
	struct ents es;

	make_tree();
	snap(0, &si);
	o.threads = 2;
	o.excludes = pats;
	o.nexcludes = 5;
	unit_ok(snap_opts(&o, &si, &err), err);
	/* "link/" is for directories: the symlink stays */
	entries(2, NULL, &es);
	ck_assert_str_eq(es.list, ".,dir,link");
	ck_assert_int_eq(si.files, 3);
	/* a.txt, dir/b.bin, dir/sub/, dir/sub/c, empty/ */
	ck_assert_int_eq(si.removed, 5);
	ck_assert_int_eq(si.changed, 0);
	ck_assert_int_eq(si.skipped, 0);
	/* '*' does not match a '/' in a path pattern */
	o.excludes = deep;
	o.nexcludes = 2;
	unit_ok(snap_opts(&o, &si, &err), err);
	entries(3, NULL, &es);
	ck_assert_str_eq(es.list, ".,a.txt,dir,dir/sub,dir/sub/c,empty,link");
	/* on one file system, nothing is left out */
	o.excludes = NULL;
	o.nexcludes = 0;
	o.one_file_system = 1;
	unit_ok(snap_opts(&o, &si, &err), err);
	ck_assert_int_eq(si.files, 8);
	/* a bad pattern fails the run before anything is written */
	o.excludes = bad;
	o.nexcludes = 2;
	ck_assert_int_eq(snap_opts(&o, &si, &err), -1);
	ck_assert_int_eq(err.code, RD_EUSAGE);
	ck_assert_str_eq(err.msg,
	    "invalid exclude pattern '//': it matches nothing");
	ck_assert_int_eq(count("SELECT COUNT(*) FROM snapshots"), 4);
}
END_TEST

START_TEST(test_quick_check)
{
	struct rd_snapinfo si;

	make_tree();
	snap(0, &si);
	/* a new mtime, same bytes: read, a new row, nothing stored */
	set_mtime("src/dir/b.bin", 20, 5);
	snap(0, &si);
	ck_assert_int_eq(si.changed, 1);
	ck_assert_int_eq(si.bytes_read, B_LEN);
	ck_assert_int_eq(si.bytes_added, 0);
	ck_assert_int_eq(si.stored, 0);
	/* only the ctime: read, no new row */
	ck_assert_int_eq(chmod(unit_path("src/dir/b.bin"), 0600), 0);
	snap(0, &si);
	ck_assert_int_eq(si.changed, 0);
	ck_assert_int_eq(si.bytes_read, B_LEN);
	ck_assert_int_eq(si.bytes_added, 0);
	/* and then it is quiet again */
	snap(0, &si);
	ck_assert_int_eq(si.bytes_read, 0);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries WHERE"
	                       " path = CAST('dir/b.bin' AS BLOB)"),
	    2);
	/* a new mode is a change, without reading */
	ck_assert_int_eq(chmod(unit_path("src/empty"), 0700), 0);
	snap(0, &si);
	ck_assert_int_eq(si.changed, 1);
	ck_assert_int_eq(si.bytes_read, 0);
}
END_TEST

START_TEST(test_symlink_changed)
{
	struct rd_snapinfo si;
	struct ents es;

	make_tree();
	snap(0, &si);
	ck_assert_int_eq(unlink(unit_path("src/link")), 0);
	ck_assert_int_eq(symlink("dir/b.bin", unit_path("src/link")), 0);
	set_mtime("src/link", 4, 444444444);
	set_mtime("src", 8, 888888888);
	snap(0, &si);
	ck_assert_int_eq(si.changed, 1);
	entries(2, "link", &es);
	ck_assert_str_eq(es.e[0].target, "dir/b.bin");
	ck_assert_int_eq(es.e[0].size, 9);
	entries(1, "link", &es);
	ck_assert_str_eq(es.e[0].target, "a.txt");
}
END_TEST

/* Rewrite 10 bytes at "at" of src/big.bin with "tag", and its mtime. */
static void
poke(unsigned char *buf, size_t at, int tag)
{
	memset(buf + at, tag, 10);
	unit_pwrite(unit_path("src/big.bin"), (off_t)at, buf + at, 10);
	set_mtime("src/big.bin", 100 + tag, 0);
}

/* Column "col" of the contents row of big.bin in snapshot "id". */
static long long
big_col(const char *col, int64_t id)
{
	char q[512];

	snprintf(q, sizeof(q),
	    "SELECT c.%s FROM contents c JOIN entries e ON e.sha = c.sha"
	    " WHERE e.path = CAST('big.bin' AS BLOB) AND e.first <= %lld"
	    " AND (e.last IS NULL OR e.last >= %lld)",
	    col, (long long)id, (long long)id);
	return count(q);
}

/* Restore snapshot "id" and compare src/big.bin of it with "want". */
static void
check_big(int64_t id, const unsigned char *want, size_t len)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_restore_opts ro = RD_RESTORE_OPTS_INIT;
	const char *const paths[] = { "big.bin" };
	unsigned char *got;
	size_t glen;

	ck_assert_int_eq(unit_rm_rf(unit_path("out")), 0);
	unit_ok(rd_restore(st, id, unit_path("out"), paths, 1, &ro, NULL, &err),
	    err);
	got = unit_read(unit_path("out/big.bin"), &glen);
	unit_assert_bytes(got, glen, want, len);
	free(got);
}

START_TEST(test_big_delta)
{
	struct rd_snapinfo si;
	unsigned char *v1, *v2;
	size_t len = 3 * MIB;

	v1 = malloc(len);
	v2 = malloc(len);
	ck_assert_ptr_nonnull(v1);
	ck_assert_ptr_nonnull(v2);
	unit_fill_random(v1, len, 3);
	put("src/big.bin", v1, len, 0644);
	snap(0, &si);
	ck_assert_int_eq(si.bytes_read, len);
	ck_assert_int_eq(big_col("kind", 1), RDI_OBJ_FULL);
	ck_assert_int_eq(big_col("depth", 1), 0);
	ck_assert_int_eq(big_col("len", 1), len); /* random: stored raw */
	ck_assert_int_eq(count("SELECT codec FROM contents"), RD_CODEC_RAW);

	memcpy(v2, v1, len);
	poke(v2, MIB + 5, 1);
	snap(0, &si);
	ck_assert_int_eq(si.changed, 1);
	ck_assert_int_eq(si.bytes_read, len);
	ck_assert_int_eq(si.bytes_added, len);
	ck_assert_int_lt(si.stored, 64 * 1024 + 4 * 1024);
	ck_assert_int_eq(big_col("kind", 2), RDI_OBJ_DELTA);
	ck_assert_int_eq(big_col("depth", 2), 1);
	ck_assert_int_lt(big_col("len", 2), 8192);
	/* a delta names its base, compressed with the store's codec */
	ck_assert_int_eq(count("SELECT COUNT(*) FROM contents c JOIN"
	                       " contents b ON b.sha = c.base WHERE c.kind = 1"
	                       " AND b.kind = 0 AND c.codec = 1"),
	    1);
	/* each version keeps its signature, in 4 KiB blocks */
	ck_assert_int_eq(count("SELECT COUNT(*) FROM signatures"), 2);
	ck_assert_int_eq(count("SELECT MIN(block) FROM signatures"), 4096);
	ck_assert_int_eq(count("SELECT MAX(block) FROM signatures"), 4096);
	check_big(1, v1, len);
	check_big(2, v2, len);
	free(v1);
	free(v2);
}
END_TEST

/*
 * A file with bytes inserted at its front lines up with no old block:
 * the aligned delta does not fit and the rolling delta still finds the
 * shifted blocks.  Then an append, which the aligned delta takes.
 */
START_TEST(test_big_shifted)
{
	struct rd_snapinfo si;
	unsigned char *v1, *v2;
	size_t len = 3 * MIB;

	v1 = malloc(len + 100);
	v2 = malloc(len + 100 + 20000);
	ck_assert_ptr_nonnull(v1);
	ck_assert_ptr_nonnull(v2);
	unit_fill_random(v1, len, 4);
	put("src/big.bin", v1, len, 0644);
	snap(0, &si);
	memcpy(v2, "0123456789", 10);
	memcpy(v2 + 10, v1, len);
	put("src/big.bin", v2, len + 10, 0644);
	snap(0, &si);
	ck_assert_int_eq(si.bytes_read, len + 10);
	ck_assert_int_eq(big_col("kind", 2), RDI_OBJ_DELTA);
	ck_assert_int_lt(big_col("len", 2), 8192);
	check_big(2, v2, len + 10);
	/* appended to: copies of every old whole block, one literal */
	unit_fill_random(v2 + len + 10, 20000, 5);
	put("src/big.bin", v2, len + 10 + 20000, 0644);
	snap(0, &si);
	ck_assert_int_eq(si.bytes_read, len + 10 + 20000);
	ck_assert_int_eq(big_col("kind", 3), RDI_OBJ_DELTA);
	ck_assert_int_lt(big_col("len", 3), 20000 + 4096 + 512);
	ck_assert_int_gt(big_col("len", 3), 20000);
	check_big(1, v1, len);
	check_big(2, v2, len + 10);
	check_big(3, v2, len + 10 + 20000);
	free(v1);
	free(v2);
}
END_TEST

START_TEST(test_chain_bound)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_init_opts o = RD_INIT_OPTS_INIT;
	struct rd_snapinfo si;
	unsigned char *v[8];
	size_t len[8];
	int i;
	/*
	 * Pokes in place go on as aligned deltas past the chain length (2);
	 * a shift (version 6) that deep is stored whole, one within the
	 * length (version 8) is a rolling delta.
	 */
	static const int want[8] = { 0, 1, 2, 3, 4, 0, 1, 2 };

	/* a store whose chains are at most 2 deltas long */
	rd_store_close(st);
	o.chain_max = 2;
	unit_ok(rd_store_init(unit_path("store2"), &o, &err), err);
	unit_ok(rd_store_open(unit_path("store2"), RD_OPEN_WRITE, 0, &st, &err),
	    err);
	store_name = "store2";
	for (i = 0; i < 8; i++) {
		len[i] =
		    i == 0 ? 2 * MIB + 77 : len[i - 1] + (i == 5 || i == 7);
		v[i] = malloc(len[i]);
		ck_assert_ptr_nonnull(v[i]);
		if (i == 0) {
			unit_fill_random(v[0], len[0], 9);
		} else if (i == 5 || i == 7) {
			v[i][0] = (unsigned char)i; /* one byte inserted */
			memcpy(v[i] + 1, v[i - 1], len[i - 1]);
		} else {
			memcpy(v[i], v[i - 1], len[i]);
			memset(v[i] + (size_t)i * 300000, i, 10);
		}
		put("src/big.bin", v[i], len[i], 0644);
		set_mtime("src/big.bin", 100 + i, 0);
		snap(0, &si);
		ck_assert_int_eq(si.id, i + 1);
	}
	for (i = 0; i < 8; i++) {
		ck_assert_msg(big_col("depth", i + 1) == want[i],
		    "depth of version %d: %lld", i + 1,
		    big_col("depth", i + 1));
		ck_assert_int_eq(big_col("kind", i + 1),
		    want[i] == 0 ? RDI_OBJ_FULL : RDI_OBJ_DELTA);
	}
	for (i = 0; i < 8; i++) {
		check_big(i + 1, v[i], len[i]);
		free(v[i]);
	}
}
END_TEST

START_TEST(test_aligned_not_paying)
{
	struct rd_snapinfo si;
	unsigned char *v;
	size_t len = 2 * MIB, i;

	/*
	 * Every other 4 KiB block new and random: the aligned delta's
	 * literals are just half the file, so it is made, but with its
	 * commands and its codec it comes out longer than half: the file is
	 * stored whole, not as that delta again.
	 */
	v = malloc(len);
	ck_assert_ptr_nonnull(v);
	unit_fill_random(v, len, 41);
	put("src/big.bin", v, len, 0644);
	set_mtime("src/big.bin", 100, 0);
	snap(0, &si);
	for (i = 0; i < len / 4096; i += 2)
		unit_fill_random(v + i * 4096, 4096, (uint64_t)i + 1000);
	put("src/big.bin", v, len, 0644);
	set_mtime("src/big.bin", 101, 0);
	snap(0, &si);
	ck_assert_int_eq(big_col("kind", si.id), RDI_OBJ_FULL);
	ck_assert_int_eq(big_col("depth", si.id), 0);
	check_big(si.id, v, len);
	free(v);
}
END_TEST

START_TEST(test_identical)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;
	struct rd_snapinfo si;
	unsigned char *big;
	size_t len = 2 * MIB;

	big = malloc(len);
	ck_assert_ptr_nonnull(big);
	unit_fill_random(big, len, 5);
	/* copies and a hard link, small and big, on four workers */
	put("src/s1", "same bytes\n", 11, 0644);
	put("src/s2", "same bytes\n", 11, 0600);
	ck_assert_int_eq(link(unit_path("src/s1"), unit_path("src/s3")), 0);
	put("src/b1", big, len, 0644);
	put("src/b2", big, len, 0644);
	o.threads = 4;
	unit_ok(snap_opts(&o, &si, &err), err);
	ck_assert_int_eq(si.files, 6);
	ck_assert_int_eq(si.bytes, 3 * 11 + 2 * len);
	ck_assert_int_eq(si.bytes_added, 11 + len);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM contents"), 2);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries WHERE"
	                       " sha IS NOT NULL"),
	    5);
	ck_assert_int_eq(count("SELECT COUNT(DISTINCT sha) FROM entries"), 2);
	/* a later copy costs nothing either */
	put("src/b3", big, len, 0644);
	unit_ok(snap_opts(&o, &si, &err), err);
	ck_assert_int_eq(si.changed, 2); /* b3 and the root */
	ck_assert_int_eq(si.bytes_added, 0);
	ck_assert_int_eq(si.stored, 0);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM contents"), 2);
	free(big);
}
END_TEST

static void
notice_cb(void *arg, const char *msg)
{
	char *buf = arg;

	if (buf[0] != '\0')
		strcat(buf, "|");
	strcat(buf, msg);
}

/* A fifo is kept (format 4), silently; a socket would be skipped. */
START_TEST(test_skipped_fifo)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;
	struct rd_snapinfo si;
	struct ents es;
	char notices[1024] = "";

	make_tree();
	ck_assert_int_eq(mkfifo(unit_path("src/fifo"), 0600), 0);
	o.notice = notice_cb;
	o.notice_arg = notices;
	o.label = "with a fifo";
	unit_ok(snap_opts(&o, &si, &err), err);
	ck_assert_int_eq(si.skipped, 0);
	ck_assert_int_eq(si.files, 9);
	ck_assert_str_eq(notices, "");
	ck_assert_str_eq(si.label, "with a fifo");
	entries(0, NULL, &es);
	ck_assert_str_eq(es.list,
	    ".,a.txt,dir,dir/b.bin,dir/sub,dir/sub/c,empty,fifo,link");
}
END_TEST

START_TEST(test_bad_source)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;
	struct rd_store *r = NULL;
	char want[512];

	ck_assert_int_eq(rd_snap_create(st, unit_path("nope"), &o, NULL, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	snprintf(want, sizeof(want),
	    "cannot open source '%s': No such file or directory",
	    unit_path("nope"));
	ck_assert_str_eq(err.msg, want);
	unit_write_str(unit_path("file"), "x");
	ck_assert_int_eq(rd_snap_create(st, unit_path("file"), &o, NULL, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	snprintf(want, sizeof(want), "cannot open source '%s': Not a directory",
	    unit_path("file"));
	ck_assert_str_eq(err.msg, want);
	/* nothing became visible, no pending row is left */
	ck_assert_int_eq(count("SELECT COUNT(*) FROM snapshots"), 0);
	/* a reader cannot snapshot */
	unit_ok(rd_store_open(unit_path("store"), RD_OPEN_READ, 0, &r, &err),
	    err);
	ck_assert_int_eq(rd_snap_create(r, unit_path("src"), &o, NULL, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_EINTERNAL);
	ck_assert_str_eq(err.msg, "store is not open for writing");
	rd_store_close(r);
}
END_TEST

/* ------------------------------------------------------------------ */
/* query */

static int
list_cb(void *arg, const struct rd_snapinfo *si)
{
	char *buf = arg;
	char one[200];

	snprintf(one, sizeof(one), "%s%lld:%lld:%s", buf[0] != '\0' ? "," : "",
	    (long long)si->id, (long long)si->changed, si->label);
	strcat(buf, one);
	return 0;
}

static int
stop_cb(void *arg, const struct rd_snapinfo *si)
{
	int *calls = arg;

	(void)si;
	return ++*calls == 2 ? 42 : 0;
}

START_TEST(test_list_get)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;
	struct rd_snapinfo si;
	char buf[256] = "", want[512];
	int calls = 0;

	ck_assert_int_eq(rd_snap_get(st, 0, &si, &err), -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	snprintf(want, sizeof(want), "store '%s' has no snapshots",
	    unit_path("store"));
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(rd_snap_list(st, list_cb, buf, &err), 0);
	ck_assert_str_eq(buf, "");

	make_tree();
	o.label = "one";
	unit_ok(snap_opts(&o, NULL, &err), err);
	o.label = NULL;
	unit_ok(snap_opts(&o, NULL, &err), err);
	o.label = "three";
	unit_ok(snap_opts(&o, NULL, &err), err);
	ck_assert_int_eq(rd_snap_list(st, list_cb, buf, &err), 0);
	ck_assert_str_eq(buf, "1:8:one,2:0:,3:0:three");
	ck_assert_int_eq(rd_snap_list(st, stop_cb, &calls, &err), 42);
	ck_assert_int_eq(calls, 2);

	unit_ok(rd_snap_get(st, 0, &si, &err), err);
	ck_assert_int_eq(si.id, 3);
	ck_assert_str_eq(si.label, "three");
	ck_assert_int_eq(si.files, 8);
	ck_assert_int_ge(si.finished, si.started);
	ck_assert_double_ge(si.seconds, 0);
	unit_ok(rd_snap_get(st, 1, &si, &err), err);
	ck_assert_int_eq(si.id, 1);
	ck_assert_int_eq(si.changed, 8);
	ck_assert_int_eq(si.bytes, 6 + B_LEN);
	ck_assert_int_eq(rd_snap_get(st, 9, &si, &err), -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	snprintf(want, sizeof(want), "no snapshot 9 in '%s'",
	    unit_path("store"));
	ck_assert_str_eq(err.msg, want);
	/* a pending snapshot is not there */
	unit_sql(catalog(),
	    "INSERT INTO snapshots(id, state, started)"
	    " VALUES (4, 'pending', 0)");
	unit_ok(rd_snap_get(st, 0, &si, &err), err);
	ck_assert_int_eq(si.id, 3);
	ck_assert_int_eq(rd_snap_get(st, 4, &si, &err), -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
}
END_TEST

static int
stop_entries(void *arg, const struct rd_entry *e)
{
	int *calls = arg;

	(void)e;
	return ++*calls == 3 ? -5 : 0;
}

START_TEST(test_entries_path)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snapinfo si;
	struct ents es;
	int calls = 0;

	/* names that sort right around "dir/" */
	make_tree();
	put("src/dir.txt", "x", 1, 0644);
	put("src/dir0", "y", 1, 0644);
	unit_mkdir(unit_path("src/dir2"), 0755);
	put("src/dir2/z", "z", 1, 0644);
	unit_mkdir(unit_path("src/di"), 0755);
	snap(0, &si);
	entries(0, NULL, &es);
	ck_assert_str_eq(es.list,
	    ".,a.txt,di,dir.txt,dir,dir/b.bin,dir/sub,dir/sub/c,dir0,dir2,"
	    "dir2/z,empty,link");
	entries(0, "dir", &es);
	ck_assert_str_eq(es.list, "dir,dir/b.bin,dir/sub,dir/sub/c");
	entries(1, "./dir/", &es);
	ck_assert_str_eq(es.list, "dir,dir/b.bin,dir/sub,dir/sub/c");
	entries(1, "dir/sub", &es);
	ck_assert_str_eq(es.list, "dir/sub,dir/sub/c");
	entries(1, "dir/b.bin", &es);
	ck_assert_str_eq(es.list, "dir/b.bin");
	entries(1, "di", &es);
	ck_assert_str_eq(es.list, "di");
	entries(1, ".", &es);
	ck_assert_int_eq(es.n, 13);
	memset(&es, 0, sizeof(es));
	ck_assert_int_eq(rd_snap_entries(st, 1, "dir/nope", collect, &es, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	ck_assert_str_eq(err.msg, "snapshot 1 has no path 'dir/nope'");
	ck_assert_int_eq(rd_snap_entries(st, 2, NULL, collect, &es, &err), -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	ck_assert_int_eq(rd_snap_entries(st, 0, NULL, stop_entries, &calls,
	                     &err),
	    -5);
	ck_assert_int_eq(calls, 3);
}
END_TEST

/* ------------------------------------------------------------------ */
/* restore */

/* Compare "src/rel" with "out/rel": type, mode, mtime, bytes, target. */
static void
same_entry(const char *rel, const char *out)
{
	struct stat a, b;
	const char *pa = unit_path("src/%s", rel);
	const char *pb = unit_path("%s/%s", out, rel);
	unsigned char *da, *db;
	size_t la, lb;
	char ta[256], tb[256];
	ssize_t n;

	ck_assert_msg(lstat(pa, &a) == 0, "lstat '%s'", pa);
	ck_assert_msg(lstat(pb, &b) == 0, "lstat '%s': %s", pb,
	    strerror(errno));
	ck_assert_msg((a.st_mode & S_IFMT) == (b.st_mode & S_IFMT),
	    "type of '%s'", rel);
	if (!S_ISLNK(a.st_mode))
		ck_assert_msg((a.st_mode & 07777) == (b.st_mode & 07777),
		    "mode of '%s': %o != %o", rel, a.st_mode & 07777,
		    b.st_mode & 07777);
	ck_assert_msg(a.st_mtim.tv_sec == b.st_mtim.tv_sec &&
	        a.st_mtim.tv_nsec == b.st_mtim.tv_nsec,
	    "mtime of '%s': %lld.%09ld != %lld.%09ld", rel,
	    (long long)a.st_mtim.tv_sec, a.st_mtim.tv_nsec,
	    (long long)b.st_mtim.tv_sec, b.st_mtim.tv_nsec);
	if (S_ISREG(a.st_mode)) {
		da = unit_read(pa, &la);
		db = unit_read(pb, &lb);
		unit_assert_bytes(db, lb, da, la);
		free(da);
		free(db);
	}
	if (S_ISLNK(a.st_mode)) {
		n = readlink(pa, ta, sizeof(ta) - 1);
		ck_assert_int_gt(n, 0);
		ta[n] = '\0';
		n = readlink(pb, tb, sizeof(tb) - 1);
		ck_assert_int_gt(n, 0);
		tb[n] = '\0';
		ck_assert_str_eq(tb, ta);
	}
}

static const char *const tree[] = { ".", "a.txt", "dir", "dir/b.bin", "dir/sub",
	"dir/sub/c", "empty", "link" };

static void
same_tree(const char *out)
{
	size_t i;

	for (i = 0; i < sizeof(tree) / sizeof(tree[0]); i++)
		same_entry(tree[i], out);
}

/* Assert that "rel" (below the temp dir) holds exactly "text". */
static void
same_file_text(const char *rel, const char *text)
{
	unsigned char *b;
	size_t len;

	b = unit_read(unit_path("%s", rel), &len);
	unit_assert_bytes(b, len, text, strlen(text));
	free(b);
}

static int
restore(int64_t id, const char *target, const char *const *paths, int n,
    int force, struct rd_restore_result *res, struct rd_err *err)
{
	struct rd_restore_opts ro = RD_RESTORE_OPTS_INIT;

	ro.force = force;
	return rd_restore(st, id, unit_path("%s", target), paths, n, &ro, res,
	    err);
}

START_TEST(test_restore_exact)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_restore_result res;

	make_tree();
	snap(0, NULL);
	unit_ok(restore(0, "out", NULL, 0, 0, &res, &err), err);
	ck_assert_int_eq(res.id, 1);
	ck_assert_int_eq(res.files, 8);
	ck_assert_int_eq(res.bytes, 6 + B_LEN);
	same_tree("out");
	ck_assert_int_eq(unit_count_dir(unit_path("out")), 4);
	/* into an existing empty directory */
	unit_mkdir(unit_path("out2"), 0700);
	unit_ok(restore(1, "out2", NULL, 0, 0, &res, &err), err);
	same_tree("out2");
}
END_TEST

START_TEST(test_restore_names)
{
	struct rd_err err = RD_ERR_INIT;
	static const char *const names[] = { "with space", "new\nline",
		"\xc3\xbctf-8 \xe2\x9c\x93", "-dash", "back\\slash" };
	char rel[64];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(rel, sizeof(rel), "src/%s", names[i]);
		put(rel, names[i], strlen(names[i]), 0644);
	}
	snap(0, NULL);
	unit_ok(restore(0, "out", NULL, 0, 0, NULL, &err), err);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		same_entry(names[i], "out");
}
END_TEST

START_TEST(test_restore_sparse)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char *z;
	size_t len = MIB + 4096 * 3 + 17;

	/* zero blocks become holes; the bytes must not change */
	z = calloc(1, len);
	ck_assert_ptr_nonnull(z);
	put("src/zeros", z, len, 0644);
	memcpy(z + 70000, "data", 4);
	put("src/mid", z, 200000, 0644);
	z[0] = 1;
	put("src/head", z, 12288, 0644);
	snap(0, NULL);
	unit_ok(restore(0, "out", NULL, 0, 0, NULL, &err), err);
	same_entry("zeros", "out");
	same_entry("mid", "out");
	same_entry("head", "out");
	free(z);
}
END_TEST

START_TEST(test_restore_not_empty)
{
	struct rd_err err = RD_ERR_INIT;
	char want[512];
	unsigned char *back;
	size_t len;

	make_tree();
	snap(0, NULL);
	unit_mkdir(unit_path("out"), 0755);
	unit_write_str(unit_path("out/mine"), "keep me");
	ck_assert_int_eq(restore(0, "out", NULL, 0, 0, NULL, &err), -1);
	ck_assert_int_eq(err.code, RD_ECANTCREAT);
	snprintf(want, sizeof(want),
	    "restore target '%s' is not empty (use --force to write into it)",
	    unit_path("out"));
	ck_assert_str_eq(err.msg, want);
	ck_assert_int_eq(unit_count_dir(unit_path("out")), 1);
	/* with force, next to what is there */
	unit_ok(restore(0, "out", NULL, 0, 1, NULL, &err), err);
	same_tree("out");
	back = unit_read(unit_path("out/mine"), &len);
	ck_assert_str_eq((char *)back, "keep me");
	free(back);
	/* and again over itself */
	unit_ok(restore(0, "out", NULL, 0, 1, NULL, &err), err);
	same_tree("out");
}
END_TEST

START_TEST(test_restore_symlinks_in_target)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char *back;
	size_t len;

	/* symlinks planted where the tree goes are never written through */
	make_tree();
	snap(0, NULL);
	unit_mkdir(unit_path("victim"), 0755);
	unit_write_str(unit_path("victim/a.txt"), "victim");
	unit_mkdir(unit_path("out"), 0755);
	ck_assert_int_eq(symlink(unit_path("victim/a.txt"),
	                     unit_path("out/a.txt")),
	    0);
	ck_assert_int_eq(symlink(unit_path("victim"), unit_path("out/dir")), 0);
	unit_ok(restore(0, "out", NULL, 0, 1, NULL, &err), err);
	same_tree("out");
	back = unit_read(unit_path("victim/a.txt"), &len);
	ck_assert_str_eq((char *)back, "victim");
	free(back);
	ck_assert_int_eq(unit_count_dir(unit_path("victim")), 1);
}
END_TEST

START_TEST(test_restore_missing_version)
{
	struct rd_err err = RD_ERR_INIT;
	char want[512];

	make_tree();
	snap(0, NULL);
	ck_assert_int_eq(restore(9, "out", NULL, 0, 0, NULL, &err), -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	snprintf(want, sizeof(want), "no snapshot 9 in '%s'",
	    unit_path("store"));
	ck_assert_str_eq(err.msg, want);
	ck_assert(!unit_exists(unit_path("out")));
}
END_TEST

START_TEST(test_restore_paths)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_restore_result res;
	const char *const sub[] = { "dir/sub/" };
	const char *const two[] = { "./a.txt", "link" };
	const char *const unsafe[] = { "../x" };
	const char *const dir[] = { "dir" };

	make_tree();
	put("src/dir.txt", "not in dir", 10, 0644);
	snap(0, NULL);
	unit_ok(restore(0, "o1", sub, 1, 0, &res, &err), err);
	ck_assert_int_eq(res.files, 2);
	ck_assert_int_eq(unit_count_dir(unit_path("o1")), 1);
	ck_assert_int_eq(unit_count_dir(unit_path("o1/dir")), 1);
	same_entry("dir/sub", "o1");
	same_entry("dir/sub/c", "o1");

	unit_ok(restore(0, "o2", two, 2, 0, &res, &err), err);
	ck_assert_int_eq(res.files, 2);
	ck_assert_int_eq(res.bytes, 6);
	ck_assert_int_eq(unit_count_dir(unit_path("o2")), 2);
	same_entry("a.txt", "o2");
	same_entry("link", "o2");

	unit_ok(restore(0, "o3", dir, 1, 0, &res, &err), err);
	ck_assert_int_eq(res.files, 4);
	ck_assert_int_eq(unit_count_dir(unit_path("o3")), 1);
	same_entry("dir", "o3");
	same_entry("dir/b.bin", "o3");
	same_entry("dir/sub/c", "o3");

	ck_assert_int_eq(restore(0, "o5", unsafe, 1, 0, NULL, &err), -1);
	ck_assert_int_eq(err.code, RD_EUSAGE);
	ck_assert_str_eq(err.msg, "invalid path '../x'");
	ck_assert(!unit_exists(unit_path("o5")));
}
END_TEST

START_TEST(test_restore_missing_path)
{
	struct rd_err err = RD_ERR_INIT;
	const char *const bad[] = { "a.txt", "nope" };

	/* a path the snapshot lacks: an error, and nothing written */
	make_tree();
	snap(0, NULL);
	ck_assert_int_eq(restore(0, "out", bad, 2, 0, NULL, &err), -1);
	ck_assert_int_eq(err.code, RD_ENOENT);
	ck_assert_str_eq(err.msg, "snapshot 1 has no path 'nope'");
	ck_assert(!unit_exists(unit_path("out")));
}
END_TEST

START_TEST(test_restore_old_version)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char *back;
	size_t len;

	make_tree();
	snap(0, NULL);
	put("src/a.txt", "version two\n", 12, 0644);
	ck_assert_int_eq(unlink(unit_path("src/link")), 0);
	snap(0, NULL);
	unit_ok(restore(1, "out", NULL, 0, 0, NULL, &err), err);
	back = unit_read(unit_path("out/a.txt"), &len);
	ck_assert_str_eq((char *)back, "hello\n");
	free(back);
	ck_assert(unit_exists(unit_path("out/link")));
	unit_ok(restore(2, "out2", NULL, 0, 0, NULL, &err), err);
	back = unit_read(unit_path("out2/a.txt"), &len);
	ck_assert_str_eq((char *)back, "version two\n");
	free(back);
	ck_assert(!unit_exists(unit_path("out2/link")));
}
END_TEST

/* ------------------------------------------------------------------ */
/* verify */

struct damage {
	int n;
	char what[4][512];
	char uses[4][512];
	char sha[4][65];
};

static void
damage_cb(void *arg, const char *what, const unsigned char *sha,
    const struct rd_use *u, int n, int more)
{
	struct damage *d = arg;
	char *b;
	size_t len = sizeof(d->uses[0]), k;
	int i;

	ck_assert_int_lt(d->n, 4);
	snprintf(d->what[d->n], sizeof(d->what[0]), "%s", what);
	/* the uses as the text output says them */
	b = d->uses[d->n];
	snprintf(b, len, "%s",
	    sha == NULL  ? "(null)"
	        : n == 0 ? "no snapshot (base of deltas only)"
	                 : "");
	for (i = 0; i < n; i++) {
		k = strlen(b);
		if (u[i].first == u[i].last)
			snprintf(b + k, len - k, "%s'%s' in snapshot %lld",
			    i > 0 ? "; " : "", u[i].path,
			    (long long)u[i].first);
		else
			snprintf(b + k, len - k,
			    "%s'%s' in snapshots %lld-%lld", i > 0 ? "; " : "",
			    u[i].path, (long long)u[i].first,
			    (long long)u[i].last);
	}
	if (more) {
		k = strlen(b);
		snprintf(b + k, len - k, "; ...");
	}
	if (sha != NULL)
		rd_hex(sha, RD_HASH_LEN, d->sha[d->n]);
	else
		strcpy(d->sha[d->n], "(null)");
	d->n++;
}

static int
verify(int read_data, struct damage *d, struct rd_verify_result *res,
    struct rd_err *err)
{
	struct rd_verify_opts vo = RD_VERIFY_OPTS_INIT;

	memset(d, 0, sizeof(*d));
	vo.read_data = read_data;
	vo.damage = damage_cb;
	vo.damage_arg = d;
	return rd_verify(st, &vo, res, err);
}

/* Pack name and offset of the content "hex" (from the catalog). */
static void
locate(const char *hex, char *pack, long long *off, long long *len)
{
	char q[512];
	sqlite3 *h = NULL;
	sqlite3_stmt *s = NULL;

	snprintf(q, sizeof(q),
	    "SELECT p.name, c.off, c.len FROM contents c JOIN packs p ON"
	    " p.id = c.pack WHERE c.sha = x'%s'",
	    hex);
	ck_assert_int_eq(sqlite3_open_v2(catalog(), &h, SQLITE_OPEN_READONLY,
	                     NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, q, -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	snprintf(pack, 33, "%s", (const char *)sqlite3_column_text(s, 0));
	*off = sqlite3_column_int64(s, 1);
	*len = sqlite3_column_int64(s, 2);
	sqlite3_finalize(s);
	sqlite3_close(h);
}

START_TEST(test_verify_clean)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;
	unsigned char *big;
	size_t len = 2 * MIB;

	big = malloc(len);
	ck_assert_ptr_nonnull(big);
	unit_fill_random(big, len, 6);
	make_tree();
	put("src/big.bin", big, len, 0644);
	snap(0, NULL);
	poke(big, 1000, 1);
	snap(0, NULL);
	ck_assert_int_eq(verify(0, &d, &res, &err), 0);
	ck_assert_int_eq(d.n, 0);
	ck_assert_int_eq(res.snapshots, 2);
	ck_assert_int_eq(res.contents, 5);
	ck_assert_int_eq(res.packs, count("SELECT COUNT(*) FROM packs"));
	ck_assert_int_eq(res.damaged, 0);
	ck_assert_int_eq(res.orphan_packs, 0);
	ck_assert_int_eq(res.bytes_checked, 0);
	ck_assert_int_eq(verify(1, &d, &res, &err), 0);
	ck_assert_int_eq(d.n, 0);
	ck_assert_int_eq(res.bytes_checked,
	    count("SELECT SUM(size) FROM contents"));
	ck_assert_int_eq(res.bytes_checked, 6 + B_LEN + 0 + 2 * len);
	/* an orphan pack is counted, and is not damage */
	unit_write_str(unit_path("store/packs/%032d.pack", 0), "RDPACK1\n");
	ck_assert_int_eq(verify(0, &d, &res, &err), 0);
	ck_assert_int_eq(res.orphan_packs, 1);
	free(big);
}
END_TEST

START_TEST(test_verify_flipped_payload)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;
	char hex[65], pack[33], want[512];
	long long off, len;

	make_tree();
	snap(0, NULL);
	snap(0, NULL);
	snap(0, NULL);
	sha_hex("hello\n", 6, hex);
	locate(hex, pack, &off, &len);
	ck_assert_int_eq(len, 6);
	unit_flip(unit_path("store/packs/%s.pack", pack),
	    (off_t)off + RDI_OBJ_HDR + 2);
	/* the fast check reads headers only */
	ck_assert_int_eq(verify(0, &d, &res, &err), 0);
	/* reading the data finds it, and says who needs it */
	ck_assert_int_eq(verify(1, &d, &res, &err), 1);
	ck_assert_int_eq(res.damaged, 1);
	ck_assert_int_eq(d.n, 1);
	snprintf(want, sizeof(want),
	    "content %s: pack '%s' offset %lld: payload checksum mismatch", hex,
	    pack, off);
	ck_assert_str_eq(d.what[0], want);
	ck_assert_str_eq(d.sha[0], hex);
	ck_assert_str_eq(d.uses[0], "'a.txt' in snapshots 1-3");
	ck_assert_int_eq(res.bytes_checked, B_LEN);
}
END_TEST

START_TEST(test_restore_damaged)
{
	struct rd_err err = RD_ERR_INIT;
	char hex[65], pack[33], want[512];
	long long off, len;

	make_tree();
	snap(0, NULL);
	sha_hex("hello\n", 6, hex);
	locate(hex, pack, &off, &len);
	unit_flip(unit_path("store/packs/%s.pack", pack),
	    (off_t)off + RDI_OBJ_HDR + 2);
	/* restoring it fails, names the content, leaves no partial file */
	ck_assert_int_eq(restore(0, "out", NULL, 0, 0, NULL, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	snprintf(want, sizeof(want),
	    "content %s: pack '%s' offset %lld: payload checksum mismatch", hex,
	    pack, off);
	ck_assert_str_eq(err.msg, want);
	ck_assert(!unit_exists(unit_path("out/a.txt")));
}
END_TEST

START_TEST(test_verify_one_snapshot)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;
	char hex[65], pack[33], want[512];
	long long off, len;

	make_tree();
	snap(0, NULL);
	sha_hex("hello\n", 6, hex);
	locate(hex, pack, &off, &len);
	/* the header this time: the fast check sees it */
	unit_flip(unit_path("store/packs/%s.pack", pack), (off_t)off + 30);
	ck_assert_int_eq(verify(0, &d, &res, &err), 1);
	ck_assert_int_eq(d.n, 1);
	snprintf(want, sizeof(want),
	    "content %s: pack '%s' offset %lld: object header checksum mismatch",
	    hex, pack, off);
	ck_assert_str_eq(d.what[0], want);
	ck_assert_str_eq(d.uses[0], "'a.txt' in snapshot 1");
	ck_assert_int_eq(verify(1, &d, &res, &err), 1);
	ck_assert_int_eq(d.n, 1);
	ck_assert_str_eq(d.uses[0], "'a.txt' in snapshot 1");
}
END_TEST

START_TEST(test_verify_delta_base)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;
	unsigned char *big;
	size_t len = 2 * MIB;
	char h1[65], h2[65], pack[33], want[512];
	long long off, clen;
	int i;

	big = malloc(len);
	ck_assert_ptr_nonnull(big);
	unit_fill_random(big, len, 7);
	put("src/big.bin", big, len, 0644);
	sha_hex(big, len, h1);
	snap(0, NULL);
	poke(big, 5000, 1);
	sha_hex(big, len, h2);
	snap(0, NULL);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM contents WHERE kind = 1"),
	    1);
	/* damage the base: both versions are lost */
	locate(h1, pack, &off, &clen);
	unit_flip(unit_path("store/packs/%s.pack", pack),
	    (off_t)(off + RDI_OBJ_HDR + clen / 2));
	ck_assert_int_eq(verify(1, &d, &res, &err), 1);
	ck_assert_int_eq(d.n, 2);
	ck_assert_int_eq(res.damaged, 2);
	ck_assert_int_eq(res.bytes_checked, 0);
	ck_assert_str_eq(d.sha[0], strcmp(d.sha[0], h1) == 0 ? h1 : h2);
	if (strcmp(d.sha[0], h1) == 0) {
		ck_assert_str_eq(d.uses[0], "'big.bin' in snapshot 1");
		ck_assert_str_eq(d.sha[1], h2);
		ck_assert_str_eq(d.uses[1], "'big.bin' in snapshot 2");
		i = 1;
	} else {
		ck_assert_str_eq(d.uses[0], "'big.bin' in snapshot 2");
		ck_assert_str_eq(d.sha[1], h1);
		ck_assert_str_eq(d.uses[1], "'big.bin' in snapshot 1");
		i = 0;
	}
	/* the delta's line names its base, whose payload fails its CRC */
	snprintf(want, sizeof(want),
	    "content %s: its delta base is damaged: content %s: pack '%s'"
	    " offset %lld: payload checksum mismatch",
	    h2, h1, pack, off);
	ck_assert_str_eq(d.what[i], want);
	free(big);
}
END_TEST

/*
 * A large file in a zlib store is compressed on two threads: its stored
 * payload is one zlib stream that a checking inflate (Adler-32 and all)
 * reads back exactly, and it restores and verifies.
 */
START_TEST(test_big_split)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;
	struct rdi_buf out = { NULL, 0, 0 };
	struct rdi_zdec *z = NULL;
	unsigned char *v1, *payload;
	size_t len = 12 * MIB + 4321, plen;
	char h1[65], pack[33];
	long long off, clen;
	int fd;

	v1 = malloc(len);
	ck_assert_ptr_nonnull(v1);
	unit_fill_text(v1, len, 13);
	sha_hex(v1, len, h1);
	put("src/big.bin", v1, len, 0644);
	snap(0, NULL);
	ck_assert_int_eq(big_col("codec", 1), RD_CODEC_ZLIB);
	ck_assert_int_lt(big_col("len", 1), (long long)len / 2);
	locate(h1, pack, &off, &clen);
	plen = (size_t)clen;
	payload = malloc(plen);
	ck_assert_ptr_nonnull(payload);
	fd = open(unit_path("store/packs/%s.pack", pack), O_RDONLY);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(pread(fd, payload, plen, (off_t)off + RDI_OBJ_HDR),
	    (ssize_t)plen);
	close(fd);
	/* the split stream's end: an empty final block, then the Adler-32 */
	ck_assert_int_eq(payload[plen - 6], 0x03);
	ck_assert_int_eq(payload[plen - 5], 0x00);
	ck_assert_int_eq(rdi_zdec_new(RD_CODEC_ZLIB, &z, &err), 0);
	unit_ok(rdi_zdec_write(z, payload, plen, rdi_buf_sink, &out, &err),
	    err);
	unit_ok(rdi_zdec_finish(z, rdi_buf_sink, &out, &err), err);
	unit_assert_bytes(out.data, out.len, v1, len);
	rdi_zdec_free(z);
	check_big(1, v1, len);
	ck_assert_int_eq(verify(1, &d, &res, &err), 0);
	ck_assert_int_eq(res.damaged, 0);
	free(payload);
	free(v1);
	rdi_buf_release(&out);
}
END_TEST

/*
 * The base of a delta is streamed into the patch.  Halves swapped: the
 * second copy reads behind the first, so the base goes to a temp file
 * once, and both versions still restore and verify.
 */
START_TEST(test_delta_base_spill)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;
	unsigned char *v1, *v2;
	size_t len = 4 * MIB, half = 2 * MIB;

	v1 = malloc(len);
	v2 = malloc(len);
	ck_assert_ptr_nonnull(v1);
	ck_assert_ptr_nonnull(v2);
	unit_fill_text(v1, len, 11);
	put("src/big.bin", v1, len, 0644);
	snap(0, NULL);
	memcpy(v2, v1 + half, half);
	memcpy(v2 + half, v1, half);
	put("src/big.bin", v2, len, 0644);
	snap(0, NULL);
	ck_assert_int_eq(big_col("kind", 2), RDI_OBJ_DELTA);
	ck_assert_int_eq(big_col("depth", 2), 1);
	ck_assert_int_lt(big_col("len", 2), 8192);
	check_big(2, v2, len);
	check_big(1, v1, len);
	ck_assert_int_eq(verify(1, &d, &res, &err), 0);
	ck_assert_int_eq(res.damaged, 0);
	ck_assert_int_eq(res.bytes_checked, 2 * len);
	free(v1);
	free(v2);
}
END_TEST

/*
 * Damage in a part of the base that a delta does not copy leaves that
 * version whole: its own SHA-256 proves it.  The base itself is lost.
 */
START_TEST(test_delta_base_part)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_restore_opts ro = RD_RESTORE_OPTS_INIT;
	const char *const paths[] = { "big.bin" };
	unsigned char *v1;
	size_t len = 4 * MIB, half = 2 * MIB;
	char h1[65], want[512], pack[33];
	long long off, clen;

	v1 = malloc(len);
	ck_assert_ptr_nonnull(v1);
	unit_fill_text(v1, len, 12);
	sha_hex(v1, len, h1);
	put("src/big.bin", v1, len, 0644);
	snap(0, NULL);
	/* a prefix: copies of the first half only */
	put("src/big.bin", v1, half, 0644);
	snap(0, NULL);
	ck_assert_int_eq(big_col("kind", 2), RDI_OBJ_DELTA);
	ck_assert_int_eq(big_col("depth", 2), 1);
	/* the end of the base's compressed payload */
	locate(h1, pack, &off, &clen);
	ck_assert_int_lt(clen, (long long)len / 2);
	unit_flip(unit_path("store/packs/%s.pack", pack),
	    (off_t)(off + RDI_OBJ_HDR + clen - 10));
	check_big(2, v1, half);
	ck_assert_int_eq(unit_rm_rf(unit_path("out")), 0);
	ck_assert_int_eq(rd_restore(st, 1, unit_path("out"), paths, 1, &ro,
	                     NULL, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	/* the damaged stream inflates past the declared size: stopped there */
	snprintf(want, sizeof(want),
	    "content %s: pack '%s' offset %lld: rebuilds to more than its %lld bytes",
	    h1, pack, off, (long long)len);
	ck_assert_str_eq(err.msg, want);
	ck_assert(!unit_exists(unit_path("out/big.bin")));
	free(v1);
}
END_TEST

START_TEST(test_verify_missing_pack)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;
	char hex[65], pack[33], want[512];
	long long off, len, n;

	make_tree();
	snap(0, NULL);
	sha_hex("hello\n", 6, hex);
	locate(hex, pack, &off, &len);
	ck_assert_int_eq(unlink(unit_path("store/packs/%s.pack", pack)), 0);
	snprintf(want, sizeof(want),
	    "SELECT COUNT(*) FROM contents c JOIN packs p ON p.id = c.pack"
	    " WHERE p.name = '%s'",
	    pack);
	n = count(want);
	ck_assert_int_ge(n, 1);
	ck_assert_int_eq(verify(0, &d, &res, &err), 1);
	ck_assert_int_eq(res.damaged, 1 + n);
	snprintf(want, sizeof(want), "pack %s is missing", pack);
	ck_assert_str_eq(d.what[0], want);
	ck_assert_str_eq(d.sha[0], "(null)");
	ck_assert_str_eq(d.uses[0], "(null)");
	snprintf(want, sizeof(want), "content %s: pack '%s' is missing",
	    d.sha[1], pack);
	ck_assert_str_eq(d.what[1], want);
}
END_TEST

START_TEST(test_verify_truncated_pack)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;
	char hex[65], pack[33], want[512];
	long long off, len, size;

	make_tree();
	snap(0, NULL);
	sha_hex("hello\n", 6, hex);
	locate(hex, pack, &off, &len);
	snprintf(want, sizeof(want), "SELECT size FROM packs WHERE name = '%s'",
	    pack);
	size = count(want);
	ck_assert_int_eq(truncate(unit_path("store/packs/%s.pack", pack),
	                     (off_t)size - 1),
	    0);
	ck_assert_int_eq(verify(0, &d, &res, &err), 1);
	ck_assert_int_ge(d.n, 1);
	snprintf(want, sizeof(want),
	    "pack %s is truncated (%lld of %lld bytes)", pack, size - 1, size);
	ck_assert_str_eq(d.what[0], want);
}
END_TEST

START_TEST(test_verify_catalog)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;
	char hex[65], want[512];

	make_tree();
	snap(0, NULL);
	sha_hex("hello\n", 6, hex);
	snprintf(want, sizeof(want), "DELETE FROM contents WHERE sha = x'%s'",
	    hex);
	unit_sql(catalog(), want);
	ck_assert_int_eq(verify(0, &d, &res, &err), 1);
	ck_assert_int_eq(d.n, 1);
	snprintf(want, sizeof(want), "content %s is missing from the catalog",
	    hex);
	ck_assert_str_eq(d.what[0], want);
	ck_assert_str_eq(d.sha[0], hex);
	ck_assert_str_eq(d.uses[0], "'a.txt' in snapshot 1");
}
END_TEST

/* ------------------------------------------------------------------ */
/* more runs */

START_TEST(test_delta_not_paying)
{
	struct rd_snapinfo si;
	unsigned char *v;
	size_t len = 2 * MIB;

	/* rewritten through and through: a delta would not be smaller */
	v = malloc(len);
	ck_assert_ptr_nonnull(v);
	unit_fill_random(v, len, 1);
	put("src/big.bin", v, len, 0644);
	snap(0, &si);
	unit_fill_random(v, len, 2);
	put("src/big.bin", v, len, 0644);
	set_mtime("src/big.bin", 50, 0);
	snap(0, &si);
	ck_assert_int_eq(si.changed, 1);
	ck_assert_int_eq(big_col("kind", 2), RDI_OBJ_FULL);
	ck_assert_int_eq(big_col("depth", 2), 0);
	ck_assert_int_eq(big_col("len", 2), len);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM contents WHERE"
	                       " base IS NOT NULL"),
	    0);
	check_big(2, v, len);
	free(v);
}
END_TEST

START_TEST(test_type_change)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snapinfo si;
	struct ents es;

	/* x/ a directory, then a file "x", then a directory again */
	unit_mkdir(unit_path("src/x"), 0755);
	put("src/x/f", "in x", 4, 0644);
	put("src/y", "y", 1, 0644);
	snap(0, &si);
	ck_assert_int_eq(unlink(unit_path("src/x/f")), 0);
	ck_assert_int_eq(rmdir(unit_path("src/x")), 0);
	put("src/x", "now a file", 10, 0644);
	snap(0, &si);
	ck_assert_int_eq(si.removed, 2);
	ck_assert_int_eq(si.files, 3);
	entries(2, NULL, &es);
	ck_assert_str_eq(es.list, ".,x,y");
	ck_assert_int_eq(es.e[1].type, RD_TYPE_FILE);
	entries(1, NULL, &es);
	ck_assert_str_eq(es.list, ".,x,x/f,y");
	ck_assert_int_eq(es.e[1].type, RD_TYPE_DIR);
	ck_assert_int_eq(unlink(unit_path("src/x")), 0);
	ck_assert_int_eq(symlink("y", unit_path("src/x")), 0);
	snap(0, &si);
	ck_assert_int_eq(si.removed, 0);
	entries(3, "x", &es);
	ck_assert_int_eq(es.e[0].type, RD_TYPE_SYMLINK);
	unit_ok(restore(1, "o1", NULL, 0, 0, NULL, &err), err);
	ck_assert(unit_exists(unit_path("o1/x/f")));
	unit_ok(restore(2, "o2", NULL, 0, 0, NULL, &err), err);
	ck_assert_int_eq(unit_count_dir(unit_path("o2")), 2);
	same_file_text("o2/x", "now a file");
}
END_TEST

START_TEST(test_empty_source)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snapinfo si;
	struct rd_restore_result res;
	struct ents es;

	snap(0, &si);
	ck_assert_int_eq(si.files, 1);
	ck_assert_int_eq(si.changed, 1);
	ck_assert_int_eq(si.bytes, 0);
	ck_assert_int_eq(si.stored, 0);
	ck_assert_int_eq(unit_count_dir(unit_path("store/packs")), 0);
	entries(1, NULL, &es);
	ck_assert_str_eq(es.list, ".");
	unit_ok(restore(1, "out", NULL, 0, 0, &res, &err), err);
	ck_assert_int_eq(res.files, 1);
	ck_assert_int_eq(unit_count_dir(unit_path("out")), 0);
}
END_TEST

START_TEST(test_failed_run)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;
	struct rd_snapinfo si;
	char want[512];

	/* packs cannot be made: the run fails and leaves nothing visible */
	make_tree();
	ck_assert_int_eq(rename(unit_path("store/tmp"), unit_path("tmp.save")),
	    0);
	unit_write_str(unit_path("store/tmp"), "not a directory");
	o.threads = 2;
	ck_assert_int_eq(snap_opts(&o, &si, &err), -1);
	snprintf(want, sizeof(want), "cannot create '%s/tmp/",
	    unit_path("store"));
	ck_assert_msg(strncmp(err.msg, want, strlen(want)) == 0, "%s", err.msg);
	ck_assert_uint_gt(strlen(err.msg), strlen(want) + 23);
	ck_assert_str_eq(err.msg + strlen(err.msg) - 23,
	    ".pack': Not a directory");
	ck_assert_int_eq(err.code, RD_ENOENT);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM snapshots"), 0);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries"), 0);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM contents"), 0);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM packs"), 0);
	ck_assert_int_eq(unit_count_dir(unit_path("store/packs")), 0);
	/* and the next run succeeds, as snapshot 1 */
	ck_assert_int_eq(unlink(unit_path("store/tmp")), 0);
	ck_assert_int_eq(rename(unit_path("tmp.save"), unit_path("store/tmp")),
	    0);
	unit_ok(snap_opts(&o, &si, &err), err);
	ck_assert_int_eq(si.id, 1);
	ck_assert_int_eq(si.changed, 8);
}
END_TEST

START_TEST(test_zstd_store)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_init_opts o = RD_INIT_OPTS_INIT;
	struct rd_snapinfo si;
	struct rd_verify_result res;
	struct damage d;
	unsigned char *text;
	size_t len = 3 * MIB;

	if (!rd_codec_available(RD_CODEC_ZSTD))
		return;
	rd_store_close(st);
	o.codec = RD_CODEC_ZSTD;
	unit_ok(rd_store_init(unit_path("zstore"), &o, &err), err);
	unit_ok(rd_store_open(unit_path("zstore"), RD_OPEN_WRITE, 0, &st, &err),
	    err);
	store_name = "zstore";
	/* compressible, small and big, full and delta */
	text = malloc(len);
	ck_assert_ptr_nonnull(text);
	unit_fill_text(text, len, 4);
	make_tree();
	put("src/small.txt", text, 5000, 0644);
	put("src/big.bin", text, len, 0644);
	snap(0, &si);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM contents WHERE codec = 2"),
	    2);
	poke(text, MIB, 'z');
	snap(0, &si);
	ck_assert_int_eq(big_col("kind", 2), RDI_OBJ_DELTA);
	ck_assert_int_eq(big_col("codec", 2), RD_CODEC_ZSTD);
	unit_ok(restore(1, "out", NULL, 0, 0, NULL, &err), err);
	same_tree("out");
	same_entry("small.txt", "out");
	check_big(2, text, len);
	ck_assert_int_eq(verify(1, &d, &res, &err), 0);
	free(text);
}
END_TEST

START_TEST(test_restore_dot)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_restore_result res;
	const char *const dot[] = { "." };
	const char *const dotslash[] = { "./" };
	struct ents es;

	/* "." is the whole tree, as it is for rd_snap_entries() */
	make_tree();
	snap(0, NULL);
	entries(1, ".", &es);
	ck_assert_int_eq(es.n, 8);
	unit_ok(restore(0, "o1", dotslash, 1, 0, &res, &err), err);
	ck_assert_int_eq(res.files, 8);
	same_tree("o1");
	unit_ok(restore(0, "o2", dot, 1, 0, &res, &err), err);
	ck_assert_int_eq(res.files, 8);
	same_entry("a.txt", "o2");
	same_entry("dir/sub/c", "o2");
}
END_TEST

START_TEST(test_reader_handle)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *w = st;
	struct rd_verify_result res;
	struct damage d;
	struct ents es;

	/* a reader lists, restores and verifies while the writer is open */
	make_tree();
	snap(0, NULL);
	unit_ok(rd_store_open(unit_path("store"), RD_OPEN_READ, 0, &st, &err),
	    err);
	entries(0, NULL, &es);
	ck_assert_int_eq(es.n, 8);
	unit_ok(restore(0, "out", NULL, 0, 0, NULL, &err), err);
	same_tree("out");
	ck_assert_int_eq(verify(1, &d, &res, &err), 0);
	ck_assert_int_eq(res.contents, 3);
	rd_store_close(st);
	st = w;
}
END_TEST

START_TEST(test_many_files)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snapinfo si;
	struct rd_restore_result res;
	char rel[64], text[64];
	int i;

	/*
	 * More files than the work queue holds, and more contents than fit
	 * the first size of the set of contents a run has stored.
	 */
	unit_mkdir(unit_path("src/d"), 0755);
	for (i = 0; i < 700; i++) {
		snprintf(rel, sizeof(rel), "src/d/f%04d", i);
		snprintf(text, sizeof(text), "file %d\n", i % 600);
		put(rel, text, strlen(text), 0644);
	}
	snap(0, &si);
	ck_assert_int_eq(si.files, 702);
	ck_assert_int_eq(si.changed, 702);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM contents"), 600);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM entries"), 702);
	snap(0, &si);
	ck_assert_int_eq(si.changed, 0);
	ck_assert_int_eq(si.bytes_read, 0);
	unit_ok(restore(0, "out", NULL, 0, 0, &res, &err), err);
	ck_assert_int_eq(res.files, 702);
	ck_assert_int_eq(unit_count_dir(unit_path("out/d")), 700);
	same_entry("d/f0000", "out");
	same_entry("d/f0699", "out");
}
END_TEST

/*
 * The set of contents a run stored: past the hash table in front, its
 * keys go to the sorted array (four merges here), and every key added
 * is found there, none other.
 */
START_TEST(test_content_set)
{
	struct rd_err err = RD_ERR_INIT;
	struct shaset set;
	unsigned char key[RD_HASH_LEN];
	unsigned int i, n = 4 * SET_RECENT;

	memset(&set, 0, sizeof(set));
	for (i = 0; i < n; i++) {
		unit_ok(rd_sha256_buf(&i, sizeof(i), key, &err), err);
		ck_assert(!snap_shaset_has(&set, key));
		unit_ok(snap_shaset_add(&set, key, &err), err);
		ck_assert(snap_shaset_has(&set, key));
	}
	ck_assert_uint_ge(set.nsorted, 3 * SET_RECENT);
	ck_assert_uint_eq(set.nsorted + set.n, n);
	for (i = 0; i < n + 1000; i++) {
		unit_ok(rd_sha256_buf(&i, sizeof(i), key, &err), err);
		ck_assert_int_eq(snap_shaset_has(&set, key), i < n);
	}
	for (i = 1; i < set.nsorted; i++)
		ck_assert_int_lt(memcmp(set.sorted + (i - 1) * SET_KEY,
		                     set.sorted + i * SET_KEY, SET_KEY),
		    0);
	free(set.slots);
	free(set.sorted);
}
END_TEST

START_TEST(test_pack_rotation)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;
	struct rd_snapinfo si;
	struct rd_verify_result res;
	struct damage d;
	unsigned char *big;
	size_t len = 22 * MIB;
	struct stat sb;
	char rel[32], q[256];
	int i;

	/* a pack past RDI_PACK_MAX takes no new object: the next pack does */
	big = malloc(len);
	ck_assert_ptr_nonnull(big);
	for (i = 0; i < 3; i++) {
		unit_fill_random(big, len, 20 + (uint64_t)i);
		snprintf(rel, sizeof(rel), "src/f%d", i);
		put(rel, big, len, 0644);
	}
	put("src/z", "the last one\n", 13, 0644);
	o.threads = 1;
	unit_ok(snap_opts(&o, &si, &err), err);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM packs"), 2);
	ck_assert_int_eq(count("SELECT COUNT(DISTINCT pack) FROM contents"), 2);
	ck_assert_int_eq(count("SELECT COUNT(*) FROM contents c JOIN packs p"
	                       " ON p.id = c.pack WHERE c.size = 13 AND"
	                       " p.id = (SELECT MAX(id) FROM packs)"),
	    1);
	ck_assert_int_ge(count("SELECT MIN(size) FROM packs WHERE id ="
	                       " (SELECT MIN(id) FROM packs)"),
	    RDI_PACK_MAX);
	/* each pack's recorded size is its size on disk */
	for (i = 1; i <= 2; i++) {
		sqlite3 *h = NULL;
		sqlite3_stmt *stmt = NULL;

		snprintf(q, sizeof(q),
		    "SELECT name, size FROM packs WHERE id = %d", i);
		ck_assert_int_eq(sqlite3_open_v2(catalog(), &h,
		                     SQLITE_OPEN_READONLY, NULL),
		    SQLITE_OK);
		ck_assert_int_eq(sqlite3_prepare_v2(h, q, -1, &stmt, NULL),
		    SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
		ck_assert_int_eq(stat(unit_path("store/packs/%s.pack",
		                          sqlite3_column_text(stmt, 0)),
		                     &sb),
		    0);
		ck_assert_int_eq(sb.st_size, sqlite3_column_int64(stmt, 1));
		sqlite3_finalize(stmt);
		sqlite3_close(h);
	}
	ck_assert_int_eq(verify(0, &d, &res, &err), 0);
	ck_assert_int_eq(res.packs, 2);
	unit_ok(restore(0, "out", NULL, 0, 0, NULL, &err), err);
	same_entry("f0", "out");
	same_entry("f2", "out");
	same_entry("z", "out");
	free(big);
}
END_TEST

START_TEST(test_verify_empty)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;

	ck_assert_int_eq(verify(1, &d, &res, &err), 0);
	ck_assert_int_eq(res.snapshots, 0);
	ck_assert_int_eq(res.contents, 0);
	ck_assert_int_eq(res.packs, 0);
	ck_assert_int_eq(d.n, 0);
}
END_TEST

START_TEST(test_verify_header_disagrees)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;
	char hex[65], want[512];

	make_tree();
	snap(0, NULL);
	sha_hex("hello\n", 6, hex);
	snprintf(want, sizeof(want),
	    "UPDATE contents SET len = len + 1 WHERE sha = x'%s'", hex);
	unit_sql(catalog(), want);
	ck_assert_int_eq(verify(0, &d, &res, &err), 1);
	ck_assert_int_eq(d.n, 1);
	snprintf(want, sizeof(want),
	    "content %s: object header disagrees with the catalog", hex);
	ck_assert_str_eq(d.what[0], want);
}
END_TEST

START_TEST(test_verify_many_uses)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_verify_result res;
	struct damage d;
	char hex[65], pack[33], rel[32], want[512];
	long long off, len;
	int i;

	/* twelve paths need one content: ten are named */
	for (i = 0; i < 12; i++) {
		snprintf(rel, sizeof(rel), "src/d%02d", i);
		put(rel, "shared\n", 7, 0644);
	}
	snap(0, NULL);
	sha_hex("shared\n", 7, hex);
	locate(hex, pack, &off, &len);
	unit_flip(unit_path("store/packs/%s.pack", pack),
	    (off_t)off + RDI_OBJ_HDR);
	ck_assert_int_eq(verify(1, &d, &res, &err), 1);
	want[0] = '\0';
	for (i = 0; i < 10; i++) {
		snprintf(rel, sizeof(rel), "%s'd%02d' in snapshot 1",
		    i > 0 ? "; " : "", i);
		strcat(want, rel);
	}
	strcat(want, "; ...");
	ck_assert_str_eq(d.uses[0], want);
}
END_TEST

static Suite *
snap_suite(void)
{
	Suite *s = suite_create("snap");
	TCase *tc;

	tc = tcase_create("create");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_first);
	tcase_add_test(tc, test_unchanged);
	tcase_add_test(tc, test_changed);
	tcase_add_test(tc, test_deleted);
	tcase_add_test(tc, test_exclude_check);
	tcase_add_test(tc, test_excludes);
	tcase_add_test(tc, test_quick_check);
	tcase_add_test(tc, test_symlink_changed);
	tcase_add_test(tc, test_big_delta);
	tcase_add_test(tc, test_big_shifted);
	tcase_add_test(tc, test_chain_bound);
	tcase_add_test(tc, test_aligned_not_paying);
	tcase_add_test(tc, test_identical);
	tcase_add_test(tc, test_skipped_fifo);
	tcase_add_test(tc, test_bad_source);
	suite_add_tcase(s, tc);

	tc = tcase_create("query");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_list_get);
	tcase_add_test(tc, test_entries_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("restore");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_restore_exact);
	tcase_add_test(tc, test_restore_names);
	tcase_add_test(tc, test_restore_sparse);
	tcase_add_test(tc, test_restore_not_empty);
	tcase_add_test(tc, test_restore_symlinks_in_target);
	tcase_add_test(tc, test_restore_missing_version);
	tcase_add_test(tc, test_restore_paths);
	tcase_add_test(tc, test_restore_old_version);
	tcase_add_test(tc, test_restore_dot);
	tcase_add_test(tc, test_restore_missing_path);
	tcase_add_test(tc, test_reader_handle);
	suite_add_tcase(s, tc);

	tc = tcase_create("verify");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_verify_clean);
	tcase_add_test(tc, test_verify_flipped_payload);
	tcase_add_test(tc, test_restore_damaged);
	tcase_add_test(tc, test_verify_one_snapshot);
	tcase_add_test(tc, test_verify_delta_base);
	tcase_add_test(tc, test_big_split);
	tcase_add_test(tc, test_delta_base_spill);
	tcase_add_test(tc, test_delta_base_part);
	tcase_add_test(tc, test_verify_missing_pack);
	tcase_add_test(tc, test_verify_truncated_pack);
	tcase_add_test(tc, test_verify_catalog);
	tcase_add_test(tc, test_verify_empty);
	tcase_add_test(tc, test_verify_header_disagrees);
	tcase_add_test(tc, test_verify_many_uses);
	suite_add_tcase(s, tc);

	tc = tcase_create("runs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_delta_not_paying);
	tcase_add_test(tc, test_type_change);
	tcase_add_test(tc, test_empty_source);
	tcase_add_test(tc, test_failed_run);
	tcase_add_test(tc, test_zstd_store);
	tcase_add_test(tc, test_many_files);
	tcase_add_test(tc, test_content_set);
	tcase_add_test(tc, test_pack_rotation);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(snap_suite());
}
