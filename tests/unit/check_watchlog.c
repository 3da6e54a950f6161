/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_watchlog.c: unit tests of watchlog.c and probe_store.c: the
 * queue of probe records (written, kept while the catalog is busy,
 * bounded), one-shot samples and their transitions, the availability
 * report over recorded histories with known answers, the last drill, and
 * the snapshot, lag and drill probes run against real stores whose
 * catalogs the tests age and edit with SQL.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch/probe_int.h"
#include "unit.h"

static void
setup(void)
{
	unit_tmp_setup();
}

static void
teardown(void)
{
	unit_tmp_teardown();
}

/* A new store "name" in the temp dir; its path goes to "path". */
static const char *
new_store(const char *name, char path[PATH_MAX])
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_init_opts o = RD_INIT_OPTS_INIT;

	snprintf(path, PATH_MAX, "%s", unit_path("%s", name));
	unit_ok(rd_store_init(path, &o, &err), err);
	return path;
}

/* Take "n" snapshots of a small source into the store at "path". */
static void
take_snapshots(const char *path, int n)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts o = RD_SNAP_OPTS_INIT;
	struct rd_store *st = NULL;
	char text[32];
	int i;

	if (!unit_exists(unit_path("src")))
		unit_mkdir(unit_path("src"), 0755);
	unit_ok(rd_store_open(path, RD_OPEN_WRITE, 0, &st, &err), err);
	for (i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "version %d\n", i);
		unit_write_str(unit_path("src/file"), text);
		unit_ok(rd_snap_create(st, unit_path("src"), &o, NULL, &err),
		    err);
	}
	rd_store_close(st);
}

static const char *
catalog(const char *store)
{
	return unit_path("%s/catalog.db", strrchr(store, '/') + 1);
}

static struct rd_watchlog *
open_log(const char *path, size_t max)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_watchlog *wl = NULL;

	unit_ok(rd_watchlog_open(path, max, &wl, &err), err);
	ck_assert_ptr_nonnull(wl);
	return wl;
}

static struct rd_probe_result
result(int state, double latency, const char *reason)
{
	struct rd_probe_result r;

	memset(&r, 0, sizeof(r));
	r.state = state;
	r.latency = latency;
	snprintf(r.reason, sizeof(r.reason), "%s", reason);
	return r;
}

/* The rows of "sql" as "a|b|c\n" lines (NULL as "-"), in a static buffer. */
static const char *
rows(const char *db, const char *sql)
{
	static char out[4096];
	sqlite3 *h = NULL;
	sqlite3_stmt *s = NULL;
	const unsigned char *t;
	size_t used = 0;
	int i;

	out[0] = '\0';
	ck_assert_int_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	ck_assert_msg(sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK,
	    "%s: %s", sql, sqlite3_errmsg(h));
	while (sqlite3_step(s) == SQLITE_ROW) {
		for (i = 0; i < sqlite3_column_count(s); i++) {
			t = sqlite3_column_text(s, i);
			used += (size_t)snprintf(out + used, sizeof(out) - used,
			    "%s%s", i > 0 ? "|" : "",
			    t != NULL ? (const char *)t : "-");
		}
		used += (size_t)snprintf(out + used, sizeof(out) - used, "\n");
		ck_assert_uint_lt(used, sizeof(out));
	}
	sqlite3_finalize(s);
	sqlite3_close(h);
	return out;
}

/* ------------------------------------------------------------------ */
/* Recording */

START_TEST(test_record)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_probe_result r;
	struct rd_watchlog *wl;
	char store[PATH_MAX];
	size_t nres, ntr;

	new_store("s", store);
	wl = open_log(store, 0);
	r = result(RD_PROBE_UP, 0.25, "");
	ck_assert_int_eq(rd_watchlog_result(wl, "tcp://db1:1", 1000, &r, &err),
	    0);
	r = result(RD_PROBE_DOWN, 0.5, "connection refused");
	ck_assert_int_eq(rd_watchlog_result(wl, "tcp://db1:1", 1005, &r, &err),
	    0);
	r = result(RD_PROBE_ERROR, 0.125, "cannot create a thread");
	ck_assert_int_eq(rd_watchlog_result(wl, "exec:x", 1005, &r, &err), 0);
	ck_assert_int_eq(rd_watchlog_transition(wl, "tcp://db1:1", 1000,
	                     RD_PROBE_UNKNOWN, RD_PROBE_UP, NULL, &err),
	    0);
	ck_assert_int_eq(rd_watchlog_transition(wl, "tcp://db1:1", 1005,
	                     RD_PROBE_UP, RD_PROBE_DOWN, "connection refused",
	                     &err),
	    0);
	rd_watchlog_pending(wl, &nres, &ntr);
	ck_assert_uint_eq(nres, 3);
	ck_assert_uint_eq(ntr, 2);
	/* nothing is written before the flush */
	ck_assert_int_eq(unit_sql_int(catalog(store),
	                     "SELECT count(*) FROM watch_results"),
	    0);
	unit_ok(rd_watchlog_flush(wl, 1, &err), err);
	rd_watchlog_pending(wl, &nres, &ntr);
	ck_assert_uint_eq(nres + ntr, 0);
	ck_assert_str_eq(rows(catalog(store),
	                     "SELECT target, time, state, latency, reason"
	                     " FROM watch_results ORDER BY id"),
	    "tcp://db1:1|1000.0|up|0.25|-\n"
	    "tcp://db1:1|1005.0|down|0.5|connection refused\n"
	    "exec:x|1005.0|error|-|cannot create a thread\n");
	ck_assert_str_eq(rows(catalog(store),
	                     "SELECT target, time, previous, state, reason"
	                     " FROM watch_transitions ORDER BY id"),
	    "tcp://db1:1|1000.0|unknown|up|-\n"
	    "tcp://db1:1|1005.0|up|down|connection refused\n");
	/* an empty queue writes nothing and succeeds */
	unit_ok(rd_watchlog_flush(wl, 0, &err), err);
	rd_watchlog_close(wl);
	rd_watchlog_close(NULL);
}
END_TEST

START_TEST(test_record_busy)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_probe_result r = result(RD_PROBE_UP, 0.001, "");
	struct rd_watchlog *wl;
	char store[PATH_MAX];
	char want[PATH_MAX + 256];
	sqlite3 *h = NULL;
	size_t nres, ntr;
	double start;

	new_store("s", store);
	wl = open_log(store, 0);
	/* another writer, as rdsnap create holds it for its whole scan */
	ck_assert_int_eq(sqlite3_open_v2(catalog(store), &h,
	                     SQLITE_OPEN_READWRITE, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(rd_watchlog_result(wl, "t", 1, &r, &err), 0);
	ck_assert_int_eq(rd_watchlog_transition(wl, "t", 1, RD_PROBE_UNKNOWN,
	                     RD_PROBE_UP, "", &err),
	    0);
	start = rd_monotonic();
	ck_assert_int_eq(rd_watchlog_flush(wl, 0.1, &err), -1);
	/* the wait is bounded */
	ck_assert(rd_monotonic() - start < 2);
	ck_assert_int_eq(err.code, RD_EBUSY);
	snprintf(want, sizeof(want),
	    "cannot record in store '%s': catalog: database is locked", store);
	ck_assert_str_eq(err.msg, want);
	rd_watchlog_pending(wl, &nres, &ntr);
	ck_assert_uint_eq(nres, 1);
	ck_assert_uint_eq(ntr, 1);

	/* kept, and written with the next round's once the writer is done */
	ck_assert_int_eq(rd_watchlog_result(wl, "t", 2, &r, &err), 0);
	ck_assert_int_eq(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);
	rd_err_clear(&err);
	unit_ok(rd_watchlog_flush(wl, 0.1, &err), err);
	ck_assert_str_eq(rows(catalog(store),
	                     "SELECT target, time, state FROM watch_results"
	                     " ORDER BY id"),
	    "t|1.0|up\nt|2.0|up\n");
	ck_assert_str_eq(rows(catalog(store),
	                     "SELECT time, previous, state, reason"
	                     " FROM watch_transitions"),
	    "1.0|unknown|up|-\n");
	rd_watchlog_close(wl);
}
END_TEST

START_TEST(test_record_bounded)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_probe_result r = result(RD_PROBE_DOWN, 0.001, "exit 1");
	struct rd_watchlog *wl;
	char store[PATH_MAX];
	size_t nres, ntr;
	int i;

	new_store("s", store);
	wl = open_log(store, 3);
	for (i = 1; i <= 5; i++)
		ck_assert_int_eq(rd_watchlog_result(wl, "t", i, &r, &err),
		    i > 3);
	for (i = 1; i <= 4; i++)
		ck_assert_int_eq(rd_watchlog_transition(wl, "t", i, RD_PROBE_UP,
		                     RD_PROBE_DOWN, "x", &err),
		    i > 3);
	rd_watchlog_pending(wl, &nres, &ntr);
	ck_assert_uint_eq(nres, 3);
	ck_assert_uint_eq(ntr, 3);
	unit_ok(rd_watchlog_flush(wl, 1, &err), err);
	/* the newest are kept, in order */
	ck_assert_str_eq(rows(catalog(store),
	                     "SELECT time FROM watch_results ORDER BY id"),
	    "3.0\n4.0\n5.0\n");
	ck_assert_str_eq(rows(catalog(store),
	                     "SELECT time FROM watch_transitions ORDER BY id"),
	    "2.0\n3.0\n4.0\n");
	rd_watchlog_close(wl);
}
END_TEST

START_TEST(test_sample)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_probe_result r;
	struct rd_watchlog *wl;
	char store[PATH_MAX];
	const char seq[] = "uuddedu";
	int i, state = -1;

	new_store("s", store);
	wl = open_log(store, 0);
	unit_ok(rd_watchlog_last_state(wl, "t", &state, &err), err);
	ck_assert_int_eq(state, RD_PROBE_UNKNOWN);
	for (i = 0; seq[i] != '\0'; i++) {
		if (seq[i] == 'u')
			r = result(RD_PROBE_UP, 0.01, "");
		else if (seq[i] == 'd')
			r = result(RD_PROBE_DOWN, 0.01, "HTTP 503");
		else
			r = result(RD_PROBE_ERROR, 0.01, "out of memory");
		ck_assert_int_eq(rd_watchlog_sample(wl, "t", 100 + i, &r, &err),
		    0);
		/* one-shot runs are separate processes: flush each */
		if (i % 2 == 0)
			unit_ok(rd_watchlog_flush(wl, 1, &err), err);
	}
	unit_ok(rd_watchlog_flush(wl, 1, &err), err);
	unit_ok(rd_watchlog_last_state(wl, "t", &state, &err), err);
	ck_assert_int_eq(state, RD_PROBE_UP);
	ck_assert_str_eq(rows(catalog(store),
	                     "SELECT time, previous, state, reason"
	                     " FROM watch_transitions ORDER BY id"),
	    "100.0|unknown|up|-\n"
	    "102.0|up|down|HTTP 503\n"
	    "106.0|down|up|-\n");
	ck_assert_int_eq(unit_sql_int(catalog(store),
	                     "SELECT count(*) FROM watch_results"),
	    7);
	/* a new handle finds the state in the catalog */
	rd_watchlog_close(wl);
	wl = open_log(store, 0);
	unit_ok(rd_watchlog_last_state(wl, "t", &state, &err), err);
	ck_assert_int_eq(state, RD_PROBE_UP);
	unit_ok(rd_watchlog_last_state(wl, "other", &state, &err), err);
	ck_assert_int_eq(state, RD_PROBE_UNKNOWN);
	rd_watchlog_close(wl);
}
END_TEST

START_TEST(test_record_errors)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_watchlog *wl = NULL;
	char store[PATH_MAX];
	char want[PATH_MAX + 256];

	new_store("s", store);
	ck_assert_int_eq(rd_watchlog_open(unit_path("missing"), 0, &wl, &err),
	    -1);
	ck_assert_ptr_null(wl);
	ck_assert_int_eq(err.code, RD_ENOENT);
	snprintf(want, sizeof(want),
	    "cannot open store '%s': No such file or directory",
	    unit_path("missing"));
	ck_assert_str_eq(err.msg, want);

	/* a catalog without the tables: not one redund made, refused */
	unit_sql(catalog(store), "DROP TABLE watch_results");
	rd_err_clear(&err);
	ck_assert_int_eq(rd_watchlog_open(store, 0, &wl, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	snprintf(want, sizeof(want),
	    "store '%s' has a catalog schema that redund did not make: table 'watch_results' is missing",
	    store);
	ck_assert_str_eq(err.msg, want);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Reports */

#define MAX_STATS 8

struct collected {
	int n, stop_at;
	struct rd_watch_stats s[MAX_STATS];
	char target[MAX_STATS][64];
};

static int
collect(void *arg, const struct rd_watch_stats *s)
{
	struct collected *c = arg;

	ck_assert_int_lt(c->n, MAX_STATS);
	c->s[c->n] = *s;
	snprintf(c->target[c->n], sizeof(c->target[0]), "%s", s->target);
	c->s[c->n].target = c->target[c->n];
	c->n++;
	return c->n == c->stop_at ? 7 : 0;
}

static struct collected *
report(struct rd_store *st, double since, double now)
{
	static struct collected c;
	struct rd_err err = RD_ERR_INIT;

	memset(&c, 0, sizeof(c));
	unit_ok(rd_watch_report(st, since, now, collect, &c, &err), err);
	return &c;
}

#define assert_num(a, b)                                                       \
	ck_assert_msg((a) == (b), "%s is %.9g, not %.9g", #a, (double)(a),     \
	    (double)(b))

/*
 * "a": up at 1000, down 4000-4600 and 10000-10300, records to 12000.
 * "b": up 2000-3000, rdwatch stopped until 5000, down until 6000, up.
 * "c": only records before 1500.
 */
static const char history[] =
    "INSERT INTO watch_transitions(target, time, previous, state, reason)"
    " VALUES"
    " ('a', 1000, 'unknown', 'up', NULL),"
    " ('a', 4000, 'up', 'down', 'connection refused'),"
    " ('a', 4600, 'down', 'up', NULL),"
    " ('a', 10000, 'up', 'down', 'HTTP 503'),"
    " ('a', 10300, 'down', 'up', NULL),"
    " ('b', 2000, 'unknown', 'up', NULL),"
    " ('b', 3000, 'up', 'unknown', 'rdwatch stopped'),"
    " ('b', 5000, 'unknown', 'down', 'exit 1'),"
    " ('b', 6000, 'down', 'up', NULL),"
    " ('c', 1200, 'unknown', 'down', 'timeout after 5.0 s');"
    "INSERT INTO watch_results(target, time, state, latency, reason) VALUES"
    " ('a', 995, 'up', 0.001, NULL),"
    " ('a', 1000, 'up', 0.001, NULL),"
    " ('a', 7000, 'up', 0.001, NULL),"
    " ('a', 12000, 'up', 0.001, NULL),"
    " ('b', 1995, 'up', 0.001, NULL),"
    " ('b', 6500, 'up', 0.001, NULL),"
    " ('c', 1200, 'down', 5.0, 'timeout after 5.0 s'),"
    " ('c', 1500, 'down', 5.0, 'timeout after 5.0 s');";

START_TEST(test_report)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	char store[PATH_MAX];
	struct collected *c;
	const struct rd_watch_stats *a, *b;

	new_store("s", store);
	unit_sql(catalog(store), history);
	unit_ok(rd_store_open(store, RD_OPEN_READ, 0, &st, &err), err);

	/* everything: each target from its first record to its last */
	c = report(st, 0, 20000);
	ck_assert_int_eq(c->n, 3);
	a = &c->s[0];
	ck_assert_str_eq(a->target, "a");
	assert_num(a->from, 995);
	assert_num(a->to, 12000);
	/* 995-1000 is unknown: before the first decision */
	assert_num(a->up, 3000 + 5400 + 1700);
	assert_num(a->down, 600 + 300);
	assert_num(a->known, 11000);
	assert_num(a->availability, 100.0 * 10100 / 11000);
	ck_assert_int_eq(a->outages, 2);
	assert_num(a->longest, 600);
	assert_num(a->mtbf, 5050);
	assert_num(a->mttr, 450);
	ck_assert_int_eq(a->last, RD_PROBE_UP);
	ck_assert_int_eq(a->results, 4);

	b = &c->s[1];
	ck_assert_str_eq(b->target, "b");
	assert_num(b->from, 1995);
	assert_num(b->to, 6500);
	/* the time rdwatch was stopped is not known time */
	assert_num(b->up, 1000 + 500);
	assert_num(b->down, 1000);
	assert_num(b->known, 2500);
	assert_num(b->availability, 60);
	ck_assert_int_eq(b->outages, 1);
	assert_num(b->mtbf, 1500);
	assert_num(b->mttr, 1000);
	ck_assert_int_eq(b->last, RD_PROBE_UP);

	ck_assert_str_eq(c->s[2].target, "c");
	assert_num(c->s[2].down, 300);
	ck_assert_int_eq(c->s[2].outages, 1);
	assert_num(c->s[2].availability, 0);
	assert_num(c->s[2].mtbf, 0);
	ck_assert_int_eq(c->s[2].last, RD_PROBE_DOWN);

	/* from 7000: up at the start (the 4600 transition) */
	c = report(st, 7000, 20000);
	/* "b" and "c" have no record since */
	ck_assert_int_eq(c->n, 1);
	a = &c->s[0];
	assert_num(a->from, 7000);
	assert_num(a->to, 12000);
	assert_num(a->up, 3000 + 1700);
	assert_num(a->down, 300);
	ck_assert_int_eq(a->outages, 1);
	assert_num(a->longest, 300);
	assert_num(a->mttr, 300);
	assert_num(a->mtbf, 4700);
	ck_assert_int_eq(a->results, 2);

	/* from inside an outage: it counts with its part in the window */
	c = report(st, 4300, 20000);
	a = &c->s[0];
	assert_num(a->down, 300 + 300);
	ck_assert_int_eq(a->outages, 2);
	assert_num(a->longest, 300);

	/* "now" in the past: later records are ignored */
	c = report(st, 0, 6000);
	ck_assert_int_eq(c->n, 3);
	a = &c->s[0];
	assert_num(a->to, 4600);
	assert_num(a->up, 3000);
	assert_num(a->down, 600);
	ck_assert_int_eq(a->outages, 1);
	ck_assert_int_eq(a->last, RD_PROBE_UP);
	ck_assert_int_eq(a->results, 2);
	b = &c->s[1];
	assert_num(b->to, 6000);
	assert_num(b->up, 1000);
	assert_num(b->down, 1000);
	ck_assert_int_eq(b->last, RD_PROBE_UP);

	/* an outage that begins at the end of the window counts */
	c = report(st, 0, 5500);
	b = &c->s[1];
	assert_num(b->to, 5000);
	assert_num(b->up, 1000);
	assert_num(b->down, 0);
	ck_assert_int_eq(b->outages, 1);
	assert_num(b->mttr, 0);
	ck_assert_int_eq(b->last, RD_PROBE_DOWN);

	/* nothing decided yet: no known time */
	c = report(st, 0, 1000);
	ck_assert_int_eq(c->n, 1);
	a = &c->s[0];
	assert_num(a->from, 995);
	assert_num(a->to, 1000);
	assert_num(a->known, 0);
	assert_num(a->availability, -1);
	ck_assert_int_eq(a->outages, 0);
	assert_num(a->longest, 0);
	assert_num(a->mtbf, -1);
	assert_num(a->mttr, -1);
	ck_assert_int_eq(a->last, RD_PROBE_UP);

	/* the callback stops the walk */
	{
		struct collected stop;

		memset(&stop, 0, sizeof(stop));
		stop.stop_at = 2;
		ck_assert_int_eq(rd_watch_report(st, 0, 20000, collect, &stop,
		                     &err),
		    7);
		ck_assert_int_eq(stop.n, 2);
	}
	rd_store_close(st);
}
END_TEST

START_TEST(test_report_empty)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	char store[PATH_MAX];
	char want[PATH_MAX + 256];

	new_store("s", store);
	unit_ok(rd_store_open(store, RD_OPEN_READ, 0, &st, &err), err);
	ck_assert_int_eq(report(st, 0, 1e10)->n, 0);
	rd_store_close(st);
	unit_sql(catalog(store), "DROP TABLE watch_transitions");
	ck_assert_int_eq(rd_store_open(store, RD_OPEN_READ, 0, &st, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	snprintf(want, sizeof(want),
	    "store '%s' has a catalog schema that redund did not make: table 'watch_transitions' is missing",
	    store);
	ck_assert_str_eq(err.msg, want);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Drills */

START_TEST(test_drill_last)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_drill_info d;
	struct rd_store *st = NULL;
	char store[PATH_MAX];

	new_store("s", store);
	unit_ok(rd_store_open(store, RD_OPEN_READ, 0, &st, &err), err);
	memset(&d, 0x5a, sizeof(d));
	ck_assert_int_eq(rd_drill_last(st, &d, &err), 0);
	ck_assert_int_eq(d.id, 0x5a5a5a5a5a5a5a5aLL);

	unit_sql(catalog(store),
	    "INSERT INTO promotions(id, kind, version, target, started,"
	    " finished, state, rto, rpo, validated) VALUES"
	    " (1, 'drill', 3, '/scratch/1', 100, 150, 'done', 12.5, 3600, 1),"
	    " (2, 'drill', 4, '/scratch/2', 200, 250, 'failed', NULL, NULL, 0),"
	    " (3, 'promote', 5, '/srv/app', 300, 350, 'done', 9, 60, 1),"
	    " (4, 'drill', 5, '/scratch/3', 400, NULL, 'running', NULL,"
	    " NULL, NULL),"
	    /* passed, but without --validate, or with one that failed */
	    " (7, 'drill', 5, '/scratch/6', 160, 170, 'done', 1, 1, NULL),"
	    " (8, 'drill', 5, '/scratch/7', 180, 190, 'done', 1, 1, 0)");
	ck_assert_int_eq(rd_drill_last(st, &d, &err), 1);
	ck_assert_int_eq(d.id, 1);
	ck_assert_int_eq(d.version, 3);
	assert_num(d.finished, 150);
	assert_num(d.rto, 12.5);
	assert_num(d.rpo, 3600);

	/* the latest finished wins, whatever the order of the rows */
	unit_sql(catalog(store),
	    "INSERT INTO promotions(id, kind, version, target, started,"
	    " finished, state, validated) VALUES"
	    " (5, 'drill', 6, '/scratch/4', 500, 900, 'done', 1),"
	    " (6, 'drill', 2, '/scratch/5', 50, 90, 'done', 1)");
	ck_assert_int_eq(rd_drill_last(st, &d, &err), 1);
	ck_assert_int_eq(d.id, 5);
	ck_assert_int_eq(d.version, 6);
	assert_num(d.rto, -1);
	assert_num(d.rpo, -1);
	rd_store_close(st);

	/* a catalog without the journal is not one redund made */
	unit_sql(catalog(store),
	    "DROP TABLE promotion_steps;"
	    "DROP TABLE promotion_options;"
	    "DROP TABLE promotion_events;"
	    "DROP TABLE promotion_trees;"
	    "DROP TABLE promotions");
	ck_assert_int_eq(rd_store_open(store, RD_OPEN_READ, 0, &st, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Store probes */

static struct rd_probe_result
run1(const char *spec)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_probe_result res;
	struct rd_probe *p = NULL;

	if (rd_probe_parse(spec, &p, &err) != 0)
		ck_abort_msg("'%s': %s", spec, err.msg);
	memset(&res, 0xa5, sizeof(res));
	ck_assert_int_eq(rd_probe_round(&p, 1, 5, &res, &err), 0);
	rd_probe_free(p);
	return res;
}

/* Run "spec" (printf-formatted) and check its state and reason. */
static void expect_probe(int state, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
expect_probe(int state, const char *reason, const char *fmt, ...)
{
	struct rd_probe_result r;
	char spec[PATH_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(spec, sizeof(spec), fmt, ap);
	va_end(ap);
	r = run1(spec);
	ck_assert_msg(r.state == state, "%s: state %s, reason '%s'", spec,
	    rd_probe_state_name(r.state), r.reason);
	ck_assert_str_eq(r.reason, reason);
}

START_TEST(test_probe_snapshot)
{
	char store[PATH_MAX];
	char want[PATH_MAX + 256];

	new_store("s", store);
	expect_probe(RD_PROBE_DOWN, "store has no snapshots",
	    "snapshot:%s?max-age=1h", store);
	take_snapshots(store, 2);
	expect_probe(RD_PROBE_UP, "", "snapshot:%s?max-age=1h", store);
	expect_probe(RD_PROBE_UP, "", "snapshot:%s", store);
	unit_sql(catalog(store),
	    "UPDATE snapshots SET finished = finished - 7200");
	expect_probe(RD_PROBE_DOWN, "newest snapshot 2 is 2 h old > 1 h",
	    "snapshot:%s?max-age=1h", store);
	expect_probe(RD_PROBE_DOWN, "newest snapshot 2 is 2 h old > 1 h 30 min",
	    "snapshot:%s?max-age=5400", store);
	expect_probe(RD_PROBE_UP, "", "snapshot:%s?max-age=3h", store);
	unit_sql(catalog(store),
	    "UPDATE snapshots SET finished = finished - 180 WHERE id = 2");
	expect_probe(RD_PROBE_DOWN, "newest snapshot 2 is 2 h 3 min old > 2 h",
	    "snapshot:%s?max-age=2h", store);
	/* the same in whole units: seconds tell them apart */
	unit_sql(catalog(store),
	    "UPDATE snapshots SET finished = finished + 150 WHERE id = 2");
	{
		struct rd_probe_result r;
		char spec[PATH_MAX + 64], tail[64];
		double age = 0;

		snprintf(spec, sizeof(spec), "snapshot:%s?max-age=2h", store);
		r = run1(spec);
		ck_assert_int_eq(r.state, RD_PROBE_DOWN);
		/* 7230 s and the part of a second lost with "finished" */
		ck_assert_msg(sscanf(r.reason,
		                  "newest snapshot 2 is %lf%63[^\n]", &age,
		                  tail) == 2 &&
		        age >= 7230 && age < 7240 &&
		        strcmp(tail, " s old > 7200 s") == 0,
		    "reason '%s'", r.reason);
	}

	snprintf(want, sizeof(want),
	    "cannot open store '%s': No such file or directory",
	    unit_path("missing"));
	expect_probe(RD_PROBE_DOWN, want, "snapshot:%s?max-age=1h",
	    unit_path("missing"));
	snprintf(want, sizeof(want),
	    "'%s' is not a store (no catalog.db): create one with rdsnap init",
	    unit_path("src"));
	expect_probe(RD_PROBE_DOWN, want, "snapshot:%s", unit_path("src"));
}
END_TEST

START_TEST(test_probe_lag)
{
	char store[PATH_MAX];

	new_store("s", store);
	take_snapshots(store, 4);
	expect_probe(RD_PROBE_DOWN, "not a standby store", "lag:%s", store);
	/* a standby as rdship leaves it: its origin's newest and the time */
	unit_sql(catalog(store),
	    "UPDATE meta SET value = 'standby' WHERE key = 'role'");
	expect_probe(RD_PROBE_DOWN, "no ship received", "lag:%s", store);
	unit_sql(catalog(store),
	    "INSERT INTO meta(key, value) VALUES ('origin_newest', '4'),"
	    " ('last_ship', strftime('%s', 'now') - 7210)");
	expect_probe(RD_PROBE_UP, "", "lag:%s", store);
	expect_probe(RD_PROBE_UP, "", "lag:%s?max-age=3h", store);
	expect_probe(RD_PROBE_DOWN, "last ship 2 h ago > 30 s",
	    "lag:%s?max-age=30", store);

	unit_sql(catalog(store),
	    "UPDATE meta SET value = '6' WHERE key = 'origin_newest'");
	expect_probe(RD_PROBE_DOWN, "2 snapshots behind the origin", "lag:%s",
	    store);
	expect_probe(RD_PROBE_DOWN, "2 snapshots behind the origin",
	    "lag:%s?max=1", store);
	expect_probe(RD_PROBE_UP, "", "lag:%s?max=2", store);
	unit_sql(catalog(store),
	    "UPDATE meta SET value = '5' WHERE key = 'origin_newest'");
	expect_probe(RD_PROBE_DOWN, "1 snapshot behind the origin", "lag:%s",
	    store);

	/* replicas: current, behind, interrupted; every reason is given */
	unit_sql(catalog(store),
	    "INSERT INTO replicas(dir, version, target, state, updated) VALUES"
	    " ('/r/a', 4, NULL, 'clean', 0)");
	expect_probe(RD_PROBE_UP, "", "lag:%s?max=1", store);
	unit_sql(catalog(store),
	    "INSERT INTO replicas(dir, version, target, state, updated) VALUES"
	    " ('/r/b', 3, NULL, 'clean', 0), ('/r/c', 3, 4, 'applying', 0)");
	expect_probe(RD_PROBE_DOWN,
	    "replica /r/b at snapshot 3, store at 4; "
	    "replica /r/c update interrupted",
	    "lag:%s?max=1", store);
	expect_probe(RD_PROBE_DOWN,
	    "1 snapshot behind the origin; "
	    "replica /r/b at snapshot 3, store at 4; "
	    "replica /r/c update interrupted; last ship 2 h ago > 30 s",
	    "lag:%s?max-age=30", store);
}
END_TEST

START_TEST(test_probe_drill)
{
	char store[PATH_MAX];

	new_store("s", store);
	expect_probe(RD_PROBE_DOWN, "no validated drill recorded",
	    "drill:%s?max-age=7d", store);
	/* a drill that passed without --validate does not count */
	unit_sql(catalog(store),
	    "INSERT INTO promotions(kind, version, target, started, finished,"
	    " state) VALUES ('drill', 1, '/w', 0,"
	    " strftime('%s', 'now') - 60, 'done')");
	expect_probe(RD_PROBE_DOWN, "no validated drill recorded",
	    "drill:%s?max-age=7d", store);
	unit_sql(catalog(store),
	    "INSERT INTO promotions(kind, version, target, started, finished,"
	    " state, validated) VALUES ('drill', 1, '/x', 0,"
	    " strftime('%s', 'now') - 8 * 86400 - 7200, 'done', 1),"
	    " ('drill', 1, '/y', 0, strftime('%s', 'now') - 3600, 'failed', 0)");
	expect_probe(RD_PROBE_DOWN, "last drill 8 d 2 h ago > 7 d",
	    "drill:%s?max-age=7d", store);
	expect_probe(RD_PROBE_UP, "", "drill:%s?max-age=9d", store);
	expect_probe(RD_PROBE_UP, "", "drill:%s", store);
	unit_sql(catalog(store),
	    "INSERT INTO promotions(kind, version, target, started, finished,"
	    " state, validated) VALUES ('drill', 2, '/z', 0,"
	    " strftime('%s', 'now') - 86400, 'done', 1)");
	expect_probe(RD_PROBE_UP, "", "drill:%s?max-age=7d", store);
}
END_TEST

static Suite *
watchlog_suite(void)
{
	Suite *s = suite_create("watchlog");
	TCase *tc;

	tc = tcase_create("record");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_record);
	tcase_add_test(tc, test_record_busy);
	tcase_add_test(tc, test_record_bounded);
	tcase_add_test(tc, test_sample);
	tcase_add_test(tc, test_record_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("report");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_report);
	tcase_add_test(tc, test_report_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("drill");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_drill_last);
	suite_add_tcase(s, tc);

	tc = tcase_create("probes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_probe_snapshot);
	tcase_add_test(tc, test_probe_lag);
	tcase_add_test(tc, test_probe_drill);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(watchlog_suite());
}
