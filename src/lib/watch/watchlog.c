/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * watchlog.c: rdwatch's history in a store's catalog.  Results and
 * transitions are queued in memory (bounded) and written in one
 * transaction per round, so a catalog that is busy (rdsnap create holds
 * its write transaction for the whole scan) only delays them.  The store
 * is open for reading, without its lock.  rd_watch_report() turns the
 * history into availability, outages, MTBF and MTTR per target.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_int.h"

/* One unwritten row of watch_results or watch_transitions. */
struct rec {
	char *target;
	char *reason; /* NULL: none */
	double time;
	double latency; /* results */
	int state;
	int previous; /* transitions */
};

/* A queue of records that drops its oldest when full. */
struct ring {
	struct rec *v;
	size_t cap, head, n;
};

struct rd_watchlog {
	struct rd_store *st;
	size_t max;
	struct ring results, transitions;
};

static const char *
state_text(int state)
{
	return rd_probe_state_name(state);
}

static int
state_parse(const unsigned char *s)
{
	if (s == NULL)
		return RD_PROBE_UNKNOWN;
	if (strcmp((const char *)s, "up") == 0)
		return RD_PROBE_UP;
	if (strcmp((const char *)s, "down") == 0)
		return RD_PROBE_DOWN;
	if (strcmp((const char *)s, "error") == 0)
		return RD_PROBE_ERROR;
	return RD_PROBE_UNKNOWN;
}

/* ------------------------------------------------------------------ */
/* The queue */

static void
rec_release(struct rec *r)
{
	free(r->target);
	free(r->reason);
	memset(r, 0, sizeof(*r));
}

static struct rec *
ring_at(struct ring *q, size_t i)
{
	return &q->v[(q->head + i) % q->cap];
}

static void
ring_clear(struct ring *q)
{
	size_t i;

	for (i = 0; i < q->n; i++)
		rec_release(ring_at(q, i));
	q->head = q->n = 0;
}

static void
ring_release(struct ring *q)
{
	ring_clear(q);
	free(q->v);
	memset(q, 0, sizeof(*q));
}

/*
 * Append "r" (its strings now owned by the queue) to "q", which holds at
 * most "max" records.  Returns 0, 1 if the oldest record was dropped, or
 * -1 with "err" set ("r" is then released).
 */
static int
ring_push(struct ring *q, size_t max, struct rec *r, struct rd_err *err)
{
	struct rec *v;
	size_t cap, i;
	int dropped = 0;

	if (q->n == max) {
		rec_release(ring_at(q, 0));
		q->head = (q->head + 1) % q->cap;
		q->n--;
		dropped = 1;
	}
	if (q->n == q->cap) {
		cap = q->cap == 0 ? 64 : q->cap * 2;
		if (cap > max)
			cap = max;
		v = calloc(cap, sizeof(*v));
		if (v == NULL) {
			rec_release(r);
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		}
		for (i = 0; i < q->n; i++)
			v[i] = *ring_at(q, i);
		free(q->v);
		q->v = v;
		q->cap = cap;
		q->head = 0;
	}
	*ring_at(q, q->n) = *r;
	q->n++;
	return dropped;
}

/* Fill "r" with copies of "target" and "reason" (NULL or "": none). */
static int
rec_init(struct rec *r, const char *target, const char *reason,
    struct rd_err *err)
{
	memset(r, 0, sizeof(*r));
	r->target = strdup(target);
	if (r->target != NULL && reason != NULL && reason[0] != '\0' &&
	    (r->reason = strdup(reason)) == NULL) {
		free(r->target);
		r->target = NULL;
	}
	if (r->target == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	return 0;
}

int
rd_watchlog_open(const char *path, size_t max, struct rd_watchlog **out,
    struct rd_err *err)
{
	struct rd_watchlog *wl;

	wl = calloc(1, sizeof(*wl));
	if (wl == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	wl->max = max > 0 ? max : RD_WATCHLOG_MAX;
	/* an open store has the watch tables: its schema was checked */
	if (rd_store_open(path, RD_OPEN_READ, 0, &wl->st, err) == -1) {
		rd_watchlog_close(wl);
		return -1;
	}
	*out = wl;
	return 0;
}

void
rd_watchlog_close(struct rd_watchlog *wl)
{
	if (wl == NULL)
		return;
	ring_release(&wl->results);
	ring_release(&wl->transitions);
	rd_store_close(wl->st);
	free(wl);
}

int
rd_watchlog_result(struct rd_watchlog *wl, const char *target, double when,
    const struct rd_probe_result *res, struct rd_err *err)
{
	struct rec r;

	if (rec_init(&r, target, res->state != RD_PROBE_UP ? res->reason : NULL,
	        err) == -1)
		return -1;
	r.time = when;
	r.state = res->state;
	r.latency = res->latency;
	return ring_push(&wl->results, wl->max, &r, err);
}

int
rd_watchlog_transition(struct rd_watchlog *wl, const char *target, double when,
    int previous, int state, const char *reason, struct rd_err *err)
{
	struct rec r;

	if (rec_init(&r, target, reason, err) == -1)
		return -1;
	r.time = when;
	r.previous = previous;
	r.state = state;
	return ring_push(&wl->transitions, wl->max, &r, err);
}

int
rd_watchlog_last_state(struct rd_watchlog *wl, const char *target, int *state,
    struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct rec *r;
	size_t i;
	int rc;

	for (i = wl->transitions.n; i > 0; i--) {
		r = ring_at(&wl->transitions, i - 1);
		if (strcmp(r->target, target) == 0) {
			*state = r->state;
			return 0;
		}
	}
	if (rdi_db_query(wl->st->db, &s, err,
	        "SELECT state FROM watch_transitions WHERE target = ?"
	        " ORDER BY time DESC, id DESC LIMIT 1",
	        "t", target) == -1)
		return -1;
	rc = rdi_db_step(wl->st->db, s, err);
	if (rc != -1)
		*state = rc == 1 ? state_parse(sqlite3_column_text(s, 0))
		                 : RD_PROBE_UNKNOWN;
	sqlite3_finalize(s);
	return rc == -1 ? -1 : 0;
}

int
rd_watchlog_sample(struct rd_watchlog *wl, const char *target, double when,
    const struct rd_probe_result *res, struct rd_err *err)
{
	int last, r, t;

	if (res->state == RD_PROBE_UP || res->state == RD_PROBE_DOWN) {
		if (rd_watchlog_last_state(wl, target, &last, err) == -1)
			return -1;
	} else {
		last = res->state;
	}
	r = rd_watchlog_result(wl, target, when, res, err);
	if (r == -1 || last == res->state)
		return r;
	t = rd_watchlog_transition(wl, target, when, last, res->state,
	    res->state == RD_PROBE_DOWN ? res->reason : NULL, err);
	return t == -1 ? -1 : r | t;
}

void
rd_watchlog_pending(const struct rd_watchlog *wl, size_t *results,
    size_t *transitions)
{
	*results = wl->results.n;
	*transitions = wl->transitions.n;
}

/* Insert every queued record; the caller holds the transaction. */
static int
insert_all(struct rd_watchlog *wl, struct rd_err *err)
{
	sqlite3 *db = wl->st->db;
	sqlite3_stmt *t = NULL, *s = NULL;
	const struct rec *r;
	size_t i;
	int ret = -1;

	if (rdi_db_prepare(db,
	        "INSERT INTO watch_transitions(target, time, previous, state,"
	        " reason) VALUES (?, ?, ?, ?, ?)",
	        &t, err) == -1 ||
	    rdi_db_prepare(db,
	        "INSERT INTO watch_results(target, time, state, latency,"
	        " reason) VALUES (?, ?, ?, ?, ?)",
	        &s, err) == -1)
		goto out;
	for (i = 0; i < wl->transitions.n; i++) {
		r = ring_at(&wl->transitions, i);
		if (rdi_db_bind(db, t, err, "tdttt", r->target, r->time,
		        state_text(r->previous), state_text(r->state),
		        r->reason) == -1 ||
		    rdi_db_step(db, t, err) == -1)
			goto out;
	}
	for (i = 0; i < wl->results.n; i++) {
		r = ring_at(&wl->results, i);
		/* an error measured no latency */
		if ((r->state != RD_PROBE_ERROR
		            ? rdi_db_bind(db, s, err, "tdtdt", r->target,
		                  r->time, state_text(r->state), r->latency,
		                  r->reason)
		            : rdi_db_bind(db, s, err, "tdtnt", r->target,
		                  r->time, state_text(r->state), r->reason)) ==
		        -1 ||
		    rdi_db_step(db, s, err) == -1)
			goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(t);
	sqlite3_finalize(s);
	return ret;
}

int
rd_watchlog_flush(struct rd_watchlog *wl, double wait, struct rd_err *err)
{
	sqlite3 *db = wl->st->db;
	char msg[sizeof(err->msg)];
	int in_txn = 0, ret = -1;

	if (wl->results.n == 0 && wl->transitions.n == 0)
		return 0;
	if (!(wait > 0))
		wait = 0;
	sqlite3_busy_timeout(db, wait < 1e6 ? (int)(wait * 1000) : 1000000000);
	if (rdi_db_exec(db, "BEGIN IMMEDIATE", err) == -1)
		goto out;
	in_txn = 1;
	if (insert_all(wl, err) == -1 || rdi_db_exec(db, "COMMIT", err) == -1)
		goto out;
	in_txn = 0;
	ring_clear(&wl->results);
	ring_clear(&wl->transitions);
	ret = 0;
out:
	if (in_txn)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	if (ret == -1) {
		snprintf(msg, sizeof(msg), "%s", err->msg);
		rd_err_set(err, err->code, "cannot record in store '%s': %s",
		    wl->st->path, msg);
	}
	return ret;
}

/* ------------------------------------------------------------------ */
/* Reports */

/* The window of one target and the running sums over it. */
struct tally {
	struct rd_watch_stats s;
	int state;  /* the state from "t0" on */
	double t0;  /* start of the current segment */
	double run; /* length of the current down period so far */
};

/* Account the segment from "t->t0" to "t" in the current state. */
static void
tally_until(struct tally *t, double when)
{
	double len = when - t->t0;

	if (len < 0)
		len = 0;
	if (t->state == RD_PROBE_UP) {
		t->s.up += len;
	} else if (t->state == RD_PROBE_DOWN) {
		t->s.down += len;
		t->run += len;
		if (t->run > t->s.longest)
			t->s.longest = t->run;
	}
	t->t0 = when;
}

/* Enter "state" at "t->t0": a down period starts from any other state. */
static void
tally_enter(struct tally *t, int state)
{
	if (state == RD_PROBE_DOWN && t->state != RD_PROBE_DOWN) {
		t->s.outages++;
		t->run = 0;
	}
	t->state = state;
}

/*
 * Run "sql" with "target" as parameter 1 and the doubles "a" and "b" as 2
 * and 3, and return the text of the first column of its first row as a
 * state (unknown without a row) in "*state".  Returns 0 or -1.
 */
static int
query_state(sqlite3 *db, const char *sql, const char *target, double a,
    double b, int *state, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (rdi_db_prepare(db, sql, &s, err) == -1)
		return -1;
	if (rdi_db_bind(db, s, err,
	        sqlite3_bind_parameter_count(s) >= 3 ? "tdd" : "td", target, a,
	        b) == -1) {
		sqlite3_finalize(s);
		return -1;
	}
	r = rdi_db_step(db, s, err);
	if (r != -1)
		*state = r == 1 ? state_parse(sqlite3_column_text(s, 0))
		                : RD_PROBE_UNKNOWN;
	sqlite3_finalize(s);
	return r == -1 ? -1 : 0;
}

/* Fill "t->s" for "target" over "from" to "to". */
static int
tally_target(sqlite3 *db, const char *target, double from, double to,
    struct tally *t, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int r, state, ret = -1;

	memset(t, 0, sizeof(*t));
	t->s.target = target;
	t->s.from = from;
	t->s.to = to;
	t->t0 = from;
	t->state = RD_PROBE_UNKNOWN;
	if (query_state(db,
	        "SELECT state FROM watch_transitions WHERE target = ?"
	        " AND time <= ? ORDER BY time DESC, id DESC LIMIT 1",
	        target, from, 0, &state, err) == -1)
		return -1;
	tally_enter(t, state);
	if (rdi_db_query(db, &s, err,
	        "SELECT time, state FROM watch_transitions WHERE target = ?"
	        " AND time > ? AND time <= ? ORDER BY time, id",
	        "tdd", target, from, to) == -1)
		return -1;
	while ((r = rdi_db_step(db, s, err)) == 1) {
		tally_until(t, sqlite3_column_double(s, 0));
		tally_enter(t, state_parse(sqlite3_column_text(s, 1)));
	}
	if (r == -1)
		goto out;
	tally_until(t, to);
	sqlite3_finalize(s);
	if (rdi_db_query(db, &s, err,
	        "SELECT count(*) FROM watch_results WHERE target = ?"
	        " AND time >= ? AND time <= ?",
	        "tdd", target, from, to) == -1)
		return -1;
	if (rdi_db_step(db, s, err) != 1)
		goto out;
	t->s.results = sqlite3_column_int64(s, 0);
	if (query_state(db,
	        "SELECT state FROM watch_transitions WHERE target = ?"
	        " AND time <= ? AND state IN ('up', 'down')"
	        " ORDER BY time DESC, id DESC LIMIT 1",
	        target, to, 0, &t->s.last, err) == -1)
		goto out;
	t->s.known = t->s.up + t->s.down;
	t->s.availability = t->s.known > 0 ? 100 * t->s.up / t->s.known : -1;
	t->s.mtbf = t->s.outages > 0 ? t->s.up / (double)t->s.outages : -1;
	t->s.mttr = t->s.outages > 0 ? t->s.down / (double)t->s.outages : -1;
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

int
rd_watch_report(struct rd_store *st, double since, double now,
    int (*fn)(void *arg, const struct rd_watch_stats *s), void *arg,
    struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct tally t;
	const unsigned char *target;
	double from;
	int r, in_txn = 0, ret = -1;

	/* one read transaction: a consistent view while rdwatch writes */
	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		return -1;
	in_txn = 1;
	if (rdi_db_query(st->db, &s, err,
	        "SELECT target, min(time), max(time) FROM"
	        " (SELECT target, time FROM watch_results WHERE time <= ?1"
	        " UNION ALL"
	        " SELECT target, time FROM watch_transitions WHERE time <= ?1)"
	        " GROUP BY target HAVING max(time) >= ?2 ORDER BY target",
	        "dd", now, since > 0 ? since : -1e300) == -1)
		goto out;
	while ((r = rdi_db_step(st->db, s, err)) == 1) {
		target = sqlite3_column_text(s, 0);
		if (target == NULL)
			continue;
		from = since > 0 ? since : sqlite3_column_double(s, 1);
		if (tally_target(st->db, (const char *)target, from,
		        sqlite3_column_double(s, 2), &t, err) == -1)
			goto out;
		r = fn(arg, &t.s);
		if (r != 0) {
			ret = r;
			goto out;
		}
	}
	if (r == -1)
		goto out;
	ret = 0;
out:
	sqlite3_finalize(s);
	if (in_txn)
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return ret;
}
