/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * catalog.c: the SQLite catalog of a store: its schema, its identity
 * (meta), and the helpers through which every other file runs SQL, so
 * that SQLite result codes become rd_err in this one place.
 *
 * The catalog grows with changes, not with files x snapshots: an entry
 * row is valid for the snapshots first..last (last NULL: up to the newest
 * snapshot), so a file that does not change is one row however many
 * snapshots see it.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_int.h"

/*
 * The catalog as the first landed format (1) made it.  It never changes:
 * a new store is made by running it and then every migration, so that a
 * new store and a migrated one are the same.
 */
static const char schema_v1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE packs("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE,"
    " size INTEGER NOT NULL);"
    "CREATE TABLE contents("
    " sha BLOB PRIMARY KEY,"  /* SHA-256 of the full bytes */
    " size INTEGER NOT NULL," /* raw size */
    " kind INTEGER NOT NULL," /* 0 full, 1 delta */
    " codec INTEGER NOT NULL,"
    " base BLOB REFERENCES contents(sha),"
    " depth INTEGER NOT NULL," /* 0 for full */
    " pack INTEGER NOT NULL REFERENCES packs(id),"
    " off INTEGER NOT NULL,"
    " len INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX contents_pack ON contents(pack);"
    "CREATE INDEX contents_size ON contents(size);"
    "CREATE INDEX contents_base ON contents(base) WHERE base IS NOT NULL;"
    "CREATE TABLE signatures("
    " sha BLOB PRIMARY KEY REFERENCES contents(sha),"
    " block INTEGER NOT NULL,"
    " pack INTEGER NOT NULL REFERENCES packs(id),"
    " off INTEGER NOT NULL,"
    " len INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX signatures_pack ON signatures(pack);"
    "CREATE TABLE snapshots("
    " id INTEGER PRIMARY KEY,"
    " state TEXT NOT NULL CHECK (state IN ('pending', 'complete')),"
    " started REAL NOT NULL,"
    " finished REAL,"
    " label TEXT,"
    " source TEXT,"
    " files INTEGER NOT NULL DEFAULT 0,"
    " bytes INTEGER NOT NULL DEFAULT 0,"
    " bytes_read INTEGER NOT NULL DEFAULT 0,"
    " bytes_added INTEGER NOT NULL DEFAULT 0,"
    " stored INTEGER NOT NULL DEFAULT 0,"
    " changed INTEGER NOT NULL DEFAULT 0,"
    " removed INTEGER NOT NULL DEFAULT 0,"
    " inconsistent INTEGER NOT NULL DEFAULT 0,"
    " skipped INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE entries("
    " id INTEGER PRIMARY KEY,"
    " path BLOB NOT NULL,"     /* dirs end in '/', root is '' */
    " first INTEGER NOT NULL," /* first snapshot id */
    " last INTEGER,"           /* last snapshot id, NULL: newest */
    " type INTEGER NOT NULL,"  /* 'f', 'd', 'l' (4: 'p', 'c', 'b') */
    " mode INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " gid INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " mtime INTEGER NOT NULL,"               /* nanoseconds */
    " sha BLOB,"                             /* files */
    " target BLOB,"                          /* symlinks */
    " ino INTEGER NOT NULL DEFAULT 0,"       /* quick check only */
    " ctime INTEGER NOT NULL DEFAULT 0,"     /* quick check only */
    " unstable INTEGER NOT NULL DEFAULT 0);" /* changed while read */
    "CREATE INDEX entries_cur ON entries(path) WHERE last IS NULL;"
    "CREATE INDEX entries_path ON entries(path, first);"
    "CREATE INDEX entries_sha ON entries(sha) WHERE sha IS NOT NULL;"
    "CREATE INDEX entries_last ON entries(last) WHERE last IS NOT NULL;"
    "CREATE INDEX entries_first ON entries(first);"
    "CREATE TABLE replicas("
    " dir TEXT PRIMARY KEY,"     /* absolute path */
    " version INTEGER NOT NULL," /* snapshot the dir holds */
    " target INTEGER,"           /* while applying: moving to */
    " state TEXT NOT NULL CHECK (state IN ('clean', 'applying')),"
    " updated REAL NOT NULL) WITHOUT ROWID;"
    /* promotions and drills (rdpromote), step by step */
    "CREATE TABLE promotions("
    " id INTEGER PRIMARY KEY,"
    " kind TEXT NOT NULL CHECK (kind IN ('promote', 'drill')),"
    " version INTEGER NOT NULL," /* snapshot promoted or proved */
    " target TEXT NOT NULL,"
    " staging TEXT,"
    " replica TEXT," /* warm replica moved into place */
    " aside TEXT,"   /* where the old target went */
    " started REAL NOT NULL,"
    " finished REAL,"
    " state TEXT NOT NULL CHECK (state IN"
    "  ('running', 'done', 'failed', 'aborted')),"
    " step TEXT,"     /* the step reached */
    " epoch INTEGER," /* after fencing */
    " rto REAL,"      /* start to healthy, seconds */
    " rpo REAL,"      /* age of the snapshot, seconds */
    " message TEXT);"
    "CREATE INDEX promotions_kind ON promotions(kind, state, finished);"
    "CREATE TABLE promotion_steps("
    " promotion INTEGER NOT NULL REFERENCES promotions(id),"
    " step TEXT NOT NULL,"
    " started REAL NOT NULL,"
    " finished REAL,"
    " outcome TEXT," /* ok, failed, skipped */
    " detail TEXT,"
    " PRIMARY KEY (promotion, step)) WITHOUT ROWID;"
    /* rdwatch --record: probe results and state transitions */
    "CREATE TABLE watch_results("
    " id INTEGER PRIMARY KEY,"
    " target TEXT NOT NULL,"
    " time REAL NOT NULL,"
    " state TEXT NOT NULL," /* up, down, error */
    " latency REAL,"
    " reason TEXT);"
    "CREATE INDEX watch_results_target ON watch_results(target, time);"
    "CREATE TABLE watch_transitions("
    " id INTEGER PRIMARY KEY,"
    " target TEXT NOT NULL,"
    " time REAL NOT NULL,"
    " previous TEXT NOT NULL," /* unknown, up, down */
    " state TEXT NOT NULL,"
    " reason TEXT);"
    "CREATE INDEX watch_transitions_target ON watch_transitions(target, time);";

/*
 * Forward migrations: migrations[i] turns format i + 1 into format
 * i + 2, and RD_FORMAT is the last format they reach.  A store of an
 * older format is migrated when it is opened, in one transaction, so an
 * interrupted migration leaves the old format.  A landed migration never
 * changes: a later change of the catalog adds one.
 */
static const char *const migrations[] = {
	/*
	 * 1 -> 2: partial snapshots.  "partial" counts the paths that a
	 * snapshot could not read and kept at their previous version;
	 * snapshot_problems names them, and the files that kept changing
	 * while they were read, with the reason.
	 */
	"ALTER TABLE snapshots ADD COLUMN partial INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE snapshot_problems("
	" snapshot INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,"
	" path BLOB NOT NULL,"
	" problem TEXT NOT NULL CHECK (problem IN ('unreadable', 'changing')),"
	" reason TEXT NOT NULL,"
	" PRIMARY KEY (snapshot, path)) WITHOUT ROWID;",
	/*
	 * 2 -> 3: promotions that cannot silently go wrong.  A promotion
	 * keeps the options it was started with (promotion_options), so
	 * that "rdpromote --resume" continues it without retyping them;
	 * whether --validate ran and passed ("validated": NULL not run, 0
	 * failed, 1 passed); when the primary failed, the time of the
	 * newest data in the promoted snapshot and the seconds of changes
	 * given up; what happened besides its steps (promotion_events: a
	 * fall-back to another snapshot, a roll-back); and every tree it
	 * kept aside (promotion_trees), which only "rdpromote remove-tree"
	 * removes.  The old targets kept by earlier promotions become kept
	 * trees.
	 */
	"ALTER TABLE promotions ADD COLUMN validated INTEGER;"
	"ALTER TABLE promotions ADD COLUMN failed_at REAL;"
	"ALTER TABLE promotions ADD COLUMN data_time REAL;"
	"ALTER TABLE promotions ADD COLUMN given_up REAL;"
	"CREATE TABLE promotion_options("
	" promotion INTEGER NOT NULL REFERENCES promotions(id),"
	" name TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" PRIMARY KEY (promotion, name)) WITHOUT ROWID;"
	"CREATE TABLE promotion_events("
	" id INTEGER PRIMARY KEY,"
	" promotion INTEGER NOT NULL REFERENCES promotions(id),"
	" time REAL NOT NULL,"
	" event TEXT NOT NULL,"
	" detail TEXT NOT NULL);"
	"CREATE INDEX promotion_events_promotion ON"
	" promotion_events(promotion, id);"
	"CREATE TABLE promotion_trees("
	" id INTEGER PRIMARY KEY,"
	" path TEXT NOT NULL,"
	" promotion INTEGER NOT NULL REFERENCES promotions(id),"
	" kind TEXT NOT NULL CHECK (kind IN ('pre-promote', 'rejected',"
	"  'drill')),"
	" snapshot INTEGER," /* the snapshot it holds; NULL: not one */
	" created REAL NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('planned', 'kept',"
	"  'removed', 'restored')),"
	" removed REAL);"
	"CREATE INDEX promotion_trees_path ON promotion_trees(path);"
	"CREATE INDEX promotion_trees_promotion ON"
	" promotion_trees(promotion, id);"
	"INSERT INTO promotion_trees(path, promotion, kind, snapshot,"
	" created, state) SELECT aside, id, 'pre-promote', NULL, started,"
	" 'kept' FROM promotions WHERE aside IS NOT NULL AND aside <> ''"
	" ORDER BY id;",
	/*
	 * 3 -> 4: everything a server holds.  Entry types 'p' (fifo), 'c'
	 * and 'b' (character and block devices) join 'f', 'd' and 'l';
	 * "rdev" is a device's number (0 for every other type); "link"
	 * names the inode of a file with more than one name (0: one
	 * name), so that the files of one snapshot with the same "link"
	 * are one inode; "xattrs" holds every extended attribute, ACLs
	 * and file capabilities included, in the encoding of xattr.c
	 * (NULL: none).
	 */
	"ALTER TABLE entries ADD COLUMN rdev INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE entries ADD COLUMN link INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE entries ADD COLUMN xattrs BLOB;"
	"CREATE INDEX entries_link ON entries(link, first) WHERE link <> 0;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) + 1 == RD_FORMAT,
    "RD_FORMAT is the format the last migration reaches");

/*
 * Whether SQLite's message "msg" is about the catalog's own bytes rather
 * than our SQL: a schema that is not ours (a table or column missing, a
 * malformed or newer file format), or sums over sizes no file has.
 */
static int
catalog_damage(const char *msg)
{
	static const char *const damage[] = { "no such table", "no such column",
		"malformed", "unsupported file format", "integer overflow",
		"datatype mismatch" };
	size_t i;

	for (i = 0; i < sizeof(damage) / sizeof(damage[0]); i++)
		if (strstr(msg, damage[i]) != NULL)
			return 1;
	return 0;
}

int
rdi_db_err(sqlite3 *db, const char *what, struct rd_err *err)
{
	int rc = sqlite3_extended_errcode(db);
	enum rd_code code;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = RD_EBUSY;
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		code = RD_ECORRUPT;
		break;
	case SQLITE_NOMEM:
		code = RD_ENOMEM;
		break;
	case SQLITE_CANTOPEN:
		code = RD_ENOENT;
		break;
	case SQLITE_PERM:
	case SQLITE_READONLY:
	case SQLITE_AUTH:
		code = RD_EPERM;
		break;
	case SQLITE_IOERR:
	case SQLITE_FULL:
		code = RD_EIO;
		break;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
		/*
		 * Our statements keep the catalog's constraints; one that
		 * fails means rows that no redund wrote (tampering, a
		 * damaged stream): damage, not a bug.
		 */
		code = RD_ECORRUPT;
		break;
	default:
		code = catalog_damage(sqlite3_errmsg(db)) ? RD_ECORRUPT
		                                          : RD_EINTERNAL;
		break;
	}
	return rd_err_set(err, code, "%s: %s", what, sqlite3_errmsg(db));
}

int
rdi_db_exec(sqlite3 *db, const char *sql, struct rd_err *err)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return rdi_db_err(db, "catalog", err);
	return 0;
}

int
rdi_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out,
    struct rd_err *err)
{
	if (sqlite3_prepare_v2(db, sql, -1, out, NULL) != SQLITE_OK) {
		*out = NULL;
		return rdi_db_err(db, "catalog", err);
	}
	return 0;
}

int
rdi_db_step(sqlite3 *db, sqlite3_stmt *s, struct rd_err *err)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return rdi_db_err(db, "catalog", err);
}

/* Bind the arguments "ap" by the letters of "types" (see rdi_db_query). */
static int
db_vbind(sqlite3 *db, sqlite3_stmt *q, const char *types, va_list ap,
    struct rd_err *err)
{
	const char *t;
	const uint8_t *h;
	size_t n;
	int i, rc = SQLITE_OK;

	for (i = 1; types[i - 1] != '\0' && rc == SQLITE_OK; i++) {
		switch (types[i - 1]) {
		case 'i':
			rc = sqlite3_bind_int64(q, i, va_arg(ap, int64_t));
			break;
		case 'd':
			rc = sqlite3_bind_double(q, i, va_arg(ap, double));
			break;
		case 't':
			t = va_arg(ap, const char *);
			rc = t != NULL
			    ? sqlite3_bind_text(q, i, t, -1, SQLITE_TRANSIENT)
			    : sqlite3_bind_null(q, i);
			break;
		case 'n':
			rc = sqlite3_bind_null(q, i);
			break;
		case 'h':
			h = va_arg(ap, const uint8_t *);
			rc = h != NULL ? sqlite3_bind_blob(q, i, h, RD_HASH_LEN,
			                     SQLITE_TRANSIENT)
			               : sqlite3_bind_null(q, i);
			break;
		case 'b':
			h = va_arg(ap, const void *);
			n = va_arg(ap, size_t);
			rc = h == NULL    ? sqlite3_bind_null(q, i)
			    : n > INT_MAX ? SQLITE_TOOBIG
			                  : sqlite3_bind_blob(q, i, h, (int)n,
			                        SQLITE_TRANSIENT);
			break;
		default:
			return rd_err_set(err, RD_EINTERNAL,
			    "catalog: bad bind type '%c'", types[i - 1]);
		}
	}
	return rc == SQLITE_OK ? 0 : rdi_db_err(db, "catalog", err);
}

int
rdi_db_query(sqlite3 *db, sqlite3_stmt **out, struct rd_err *err,
    const char *sql, const char *types, ...)
{
	va_list ap;
	int r;

	if (rdi_db_prepare(db, sql, out, err) == -1)
		return -1;
	va_start(ap, types);
	r = db_vbind(db, *out, types, ap, err);
	va_end(ap);
	if (r == -1) {
		sqlite3_finalize(*out);
		*out = NULL;
	}
	return r;
}

int
rdi_db_bind(sqlite3 *db, sqlite3_stmt *q, struct rd_err *err, const char *types,
    ...)
{
	va_list ap;
	int r;

	sqlite3_reset(q); /* its result is the last step's, already seen */
	if (sqlite3_clear_bindings(q) != SQLITE_OK)
		return rdi_db_err(db, "catalog", err);
	va_start(ap, types);
	r = db_vbind(db, q, types, ap, err);
	va_end(ap);
	return r;
}

int
rdi_db_run(sqlite3 *db, struct rd_err *err, const char *sql, const char *types,
    ...)
{
	sqlite3_stmt *q = NULL;
	va_list ap;
	int r;

	if (rdi_db_prepare(db, sql, &q, err) == -1)
		return -1;
	va_start(ap, types);
	r = db_vbind(db, q, types, ap, err);
	va_end(ap);
	while (r == 0 && (r = rdi_db_step(db, q, err)) == 1)
		r = 0; /* rows are not asked for: step to the end */
	sqlite3_finalize(q);
	return r == -1 ? -1 : 0;
}

int
rdi_db_open(struct rd_store *st, int readonly, sqlite3 **out,
    struct rd_err *err)
{
	char path[4096];
	sqlite3 *db = NULL;
	int flags;

	if ((size_t)snprintf(path, sizeof(path), "%s/catalog.db", st->path) >=
	    sizeof(path))
		return rd_err_set(err, RD_EUSAGE, "store path is too long");
	flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
	    SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		if (db == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		rd_err_set(err, RD_ENOENT, "cannot open catalog '%s': %s", path,
		    sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_extended_result_codes(db, 1);
	if (rdi_db_exec(db,
	        "PRAGMA foreign_keys=ON;"
	        "PRAGMA synchronous=FULL;"
	        "PRAGMA cache_size=-16000;"
	        "PRAGMA temp_store=FILE;",
	        err) == -1) {
		sqlite3_close(db);
		return -1;
	}
	*out = db;
	return 0;
}

/*
 * Run the migrations from format "from" up to RD_FORMAT and record the
 * new format, inside the caller's transaction.  Returns 0 or -1.
 */
static int
migrate_steps(sqlite3 *db, int from, struct rd_err *err)
{
	char buf[40];
	int v;

	for (v = from; v < RD_FORMAT; v++)
		if (rdi_db_exec(db, migrations[v - 1], err) == -1)
			return -1;
	snprintf(buf, sizeof(buf), "PRAGMA user_version=%d;", RD_FORMAT);
	return rdi_db_exec(db, buf, err);
}

/* The catalog's format (PRAGMA user_version) in "*version".  Returns 0 or -1. */
static int
db_version(sqlite3 *db, int *version, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (rdi_db_prepare(db, "PRAGMA user_version", &s, err) == -1)
		return -1;
	r = rdi_db_step(db, s, err);
	if (r == 1)
		*version = sqlite3_column_int(s, 0);
	else if (r == 0)
		*version = 0;
	sqlite3_finalize(s);
	return r == -1 ? -1 : 0;
}

/*
 * Bring the catalog of "st", of format "from" (older than RD_FORMAT), to
 * RD_FORMAT in one write transaction.  Another process may have done it
 * meanwhile; the format is read again under the write lock.  Readers do
 * this too: the catalog is opened read-write by every tool.  Returns 0
 * or -1 ("err" says which upgrade failed; the catalog is unchanged).
 */
static int
migrate(struct rd_store *st, int from, struct rd_err *err)
{
	struct rd_err e = RD_ERR_INIT;
	int now;

	if (rdi_db_exec(st->db, "BEGIN IMMEDIATE;", &e) == -1)
		goto fail;
	if (db_version(st->db, &now, &e) == -1)
		goto fail;
	if (now < RD_FORMAT && migrate_steps(st->db, now, &e) == -1)
		goto fail;
	if (rdi_db_exec(st->db, "COMMIT;", &e) == -1)
		goto fail;
	return 0;
fail:
	sqlite3_exec(st->db, "ROLLBACK;", NULL, NULL, NULL);
	return rd_err_set(err, e.code == RD_EINTERNAL ? RD_EIO : e.code,
	    "cannot upgrade the catalog of store '%s' from format %d to %d: %s",
	    st->path, from, RD_FORMAT, e.msg);
}

int
rdi_db_create(sqlite3 *db, const struct rd_init_opts *opts, struct rd_err *err)
{
	char uuid[37], buf[32];

	if (rdi_uuid(uuid, err) == -1)
		return -1;
	if (rdi_db_exec(db, "PRAGMA journal_mode=WAL;", err) == -1 ||
	    rdi_db_exec(db, "BEGIN;", err) == -1)
		return -1;
	if (rdi_db_exec(db, schema_v1, err) == -1 ||
	    migrate_steps(db, 1, err) == -1)
		goto fail;
	if (rdi_meta_set(db, "uuid", uuid, err) == -1 ||
	    rdi_meta_set(db, "codec", rd_codec_name(opts->codec), err) == -1 ||
	    rdi_meta_set(db, "role", opts->standby ? "standby" : "primary",
	        err) == -1 ||
	    rdi_meta_set(db, "epoch", "1", err) == -1)
		goto fail;
	snprintf(buf, sizeof(buf), "%d", opts->chain_max);
	if (rdi_meta_set(db, "chain_max", buf, err) == -1)
		goto fail;
	if (rdi_db_exec(db, "COMMIT;", err) == -1)
		goto fail;
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK;", NULL, NULL, NULL);
	return -1;
}

void
rdi_column_copy(sqlite3_stmt *s, int col, char *buf, size_t len,
    const char *dflt)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	snprintf(buf, len, "%s", t != NULL ? (const char *)t : dflt);
}

int
rdi_meta_get(sqlite3 *db, const char *key, char *buf, size_t len,
    struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *v;
	int r, ret = -1;

	if (rdi_db_query(db, &s, err, "SELECT value FROM meta WHERE key = ?",
	        "t", key) == -1)
		return -1;
	r = rdi_db_step(db, s, err);
	if (r == -1)
		goto out;
	if (r == 0) {
		if (len > 0)
			buf[0] = '\0';
		ret = 0;
		goto out;
	}
	v = sqlite3_column_text(s, 0);
	if ((size_t)snprintf(buf, len, "%s",
	        v != NULL ? (const char *)v : "") >= len) {
		rd_err_set(err, RD_ECORRUPT, "catalog value '%s' is too long",
		    key);
		goto out;
	}
	ret = 1;
out:
	sqlite3_finalize(s);
	return ret;
}

int
rdi_meta_set(sqlite3 *db, const char *key, const char *val, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int ret = -1;

	if (rdi_db_prepare(db,
	        "INSERT INTO meta(key, value) VALUES (?, ?)"
	        " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	        &s, err) == -1)
		return -1;
	if (rdi_db_bind(db, s, err, "tt", key, val) == -1 ||
	    rdi_db_step(db, s, err) == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

/* A table first, then its indexes and triggers: a missing table is named. */
static const char sql_schema[] =
    "SELECT type, name, tbl_name, sql FROM sqlite_master"
    " ORDER BY tbl_name, type <> 'table', type, name";

/* Whether column "i" of "a" and of "b" hold the same bytes (or NULL). */
static int
same_col(sqlite3_stmt *a, sqlite3_stmt *b, int i)
{
	const unsigned char *x = sqlite3_column_text(a, i);
	const unsigned char *y = sqlite3_column_text(b, i);
	int n = sqlite3_column_bytes(a, i);

	if (x == NULL || y == NULL)
		return x == y;
	return n == sqlite3_column_bytes(b, i) && memcmp(x, y, (size_t)n) == 0;
}

/* Column "i" of "a" against that of "b", as SQLite orders text. */
static int
col_cmp(sqlite3_stmt *a, sqlite3_stmt *b, int i)
{
	const unsigned char *x = sqlite3_column_text(a, i);
	const unsigned char *y = sqlite3_column_text(b, i);

	return strcmp(x != NULL ? (const char *)x : "",
	    y != NULL ? (const char *)y : "");
}

/* 0 for a row of sql_schema that is a table, else 1. */
static int
not_table(sqlite3_stmt *q)
{
	const unsigned char *t = sqlite3_column_text(q, 0);

	return t == NULL || strcmp((const char *)t, "table") != 0;
}

/* The order of the rows "a" and "b" of sql_schema. */
static int
key_cmp(sqlite3_stmt *a, sqlite3_stmt *b)
{
	int r = col_cmp(a, b, 2);

	if (r == 0)
		r = not_table(a) - not_table(b);
	if (r == 0)
		r = col_cmp(a, b, 0);
	return r != 0 ? r : col_cmp(a, b, 1);
}

/*
 * Compare the schema of "st"'s catalog, of format "version", with the one
 * that schema_v1 and the migrations up to that format make, object by
 * object: a catalog is read as hostile, and a table, index, trigger or
 * view that redund did not make (a trigger that rewrites rows, a CHECK
 * that calls a function) is refused before any statement meets it.
 */
static int
schema_check(struct rd_store *st, int version, struct rd_err *err)
{
	sqlite3 *mem = NULL;
	sqlite3_stmt *want = NULL, *got = NULL, *q;
	int v, k = 0, rw = 0, rg = 0, ret = -1;
	const char *what;

	if (sqlite3_open(":memory:", &mem) != SQLITE_OK) {
		rd_err_set(err, RD_ENOMEM, "cannot open a catalog in memory");
		goto out;
	}
	if (rdi_db_exec(mem, schema_v1, err) == -1)
		goto out;
	for (v = 1; v < version; v++)
		if (rdi_db_exec(mem, migrations[v - 1], err) == -1)
			goto out;
	if (rdi_db_prepare(mem, sql_schema, &want, err) == -1 ||
	    rdi_db_prepare(st->db, sql_schema, &got, err) == -1)
		goto out;
	for (;;) {
		rw = rdi_db_step(mem, want, err);
		rg = rw == -1 ? -1 : rdi_db_step(st->db, got, err);
		if (rw == -1 || rg == -1)
			goto out;
		if (rw == 0 && rg == 0)
			break;
		/* both lists are sorted by type and name */
		k = rw == 0 ? -1 : rg == 0 ? 1 : key_cmp(got, want);
		if (k != 0 || !same_col(want, got, 0) ||
		    !same_col(want, got, 1) || !same_col(want, got, 2) ||
		    !same_col(want, got, 3))
			break;
	}
	if (rw != 0 || rg != 0) {
		q = k < 0 ? got : want;
		what = (const char *)sqlite3_column_text(q, 1);
		rd_err_set(err, RD_ECORRUPT,
		    "store '%s' has a catalog schema that redund did not make:"
		    " %s '%.100s' %s",
		    st->path, (const char *)sqlite3_column_text(q, 0),
		    what != NULL ? what : "",
		    k < 0       ? "is not one of redund's"
		        : k > 0 ? "is missing"
		                : "differs");
		goto out;
	}
	st->schema_ok = 1;
	ret = 0;
out:
	sqlite3_finalize(got);
	sqlite3_finalize(want);
	sqlite3_close(mem);
	return ret;
}

int
rdi_db_load(struct rd_store *st, struct rd_err *err)
{
	char buf[64], *end;
	int version, r, ret = -1;

	if (db_version(st->db, &version, err) == -1)
		return -1;
	if (version > RD_FORMAT)
		return rd_err_set(err, RD_ENOENT,
		    "store '%s' has catalog format %d, newer than this redund reads (1 to %d): use a newer redund",
		    st->path, version, RD_FORMAT);
	if (version < 1)
		return rd_err_set(err, RD_ECORRUPT,
		    "store '%s' has catalog format %d: not a redund catalog",
		    st->path, version);
	if (!st->schema_ok && schema_check(st, version, err) == -1)
		return -1;
	if (version < RD_FORMAT && migrate(st, version, err) == -1)
		return -1;
	memset(&st->info, 0, sizeof(st->info));
	st->info.format = RD_FORMAT;
	if ((r = rdi_meta_get(st->db, "uuid", st->info.uuid,
	         sizeof(st->info.uuid), err)) == -1)
		goto out;
	if (r == 0) {
		rd_err_set(err, RD_ECORRUPT, "store '%s' has no identity",
		    st->path);
		goto out;
	}
	if (rdi_meta_get(st->db, "origin", st->info.origin,
	        sizeof(st->info.origin), err) == -1 ||
	    rdi_meta_get(st->db, "role", buf, sizeof(buf), err) == -1)
		goto out;
	st->info.standby = strcmp(buf, "standby") == 0;
	if (rdi_meta_get(st->db, "codec", buf, sizeof(buf), err) == -1)
		goto out;
	if (strcmp(buf, "zlib") == 0)
		st->info.codec = RD_CODEC_ZLIB;
	else if (strcmp(buf, "zstd") == 0)
		st->info.codec = RD_CODEC_ZSTD;
	else {
		rd_err_set(err, RD_ECORRUPT,
		    "store '%s' has unknown codec '%s'", st->path, buf);
		goto out;
	}
	if (rdi_meta_get(st->db, "chain_max", buf, sizeof(buf), err) == -1)
		goto out;
	st->info.chain_max = atoi(buf);
	if (st->info.chain_max < 1 || st->info.chain_max > 64)
		st->info.chain_max = 8;
	if (rdi_meta_get(st->db, "epoch", buf, sizeof(buf), err) == -1)
		goto out;
	/* a bundle never raises it to 2^62, nor a promotion near it */
	errno = 0;
	st->info.epoch = strtoll(buf, &end, 10);
	if (errno != 0 || end == buf || *end != '\0' || st->info.epoch < 0 ||
	    st->info.epoch >= RDI_MAX_SIZE) {
		rd_err_set(err, RD_ECORRUPT,
		    "store '%s' has an impossible epoch '%s'", st->path, buf);
		goto out;
	}
	ret = 0;
out:
	return ret;
}
