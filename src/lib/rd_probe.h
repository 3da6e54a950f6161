/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rd_probe.h: health probes for rdwatch (and rdpromote's --primary and
 * --check), part of the public librd interface beside redund.h: a tool
 * that probes includes it.
 *
 * A probe is parsed once from its text form ("tcp://db1:5432") and then
 * run any number of times.  Probes of one round run concurrently, each
 * bounded by the round's timeout.  rd_damper turns a stream of results
 * into a damped up/down state (rise/fall), and rd_watch runs rounds at an
 * interval with hooks on transitions and a Prometheus metrics file.
 * rd_watchlog records results and transitions in a store's catalog, and
 * rd_watch_report computes availability, outages, MTBF and MTTR from them.
 */
#ifndef RD_PROBE_H
#define RD_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "redund.h"

/*
 * States.  A probe result is RD_PROBE_UP, RD_PROBE_DOWN, or RD_PROBE_ERROR
 * when the probe could not be run at all (out of memory, fork failed): an
 * error says nothing about the target.  A damped state (rd_damper) is
 * RD_PROBE_UNKNOWN until its first decision, then RD_PROBE_UP or
 * RD_PROBE_DOWN.
 */
enum rd_probe_state {
	RD_PROBE_UNKNOWN = 0,
	RD_PROBE_UP,
	RD_PROBE_DOWN,
	RD_PROBE_ERROR
};

/* "unknown", "up", "down" or "error". */
const char *rd_probe_state_name(int state);

struct rd_probe_result {
	int state;         /* RD_PROBE_UP, RD_PROBE_DOWN or RD_PROBE_ERROR */
	double latency;    /* seconds from the start of the probe */
	enum rd_code code; /* RD_PROBE_ERROR only: the error class */
	char reason[256];  /* empty when up, else "connection refused" */
	/*
	 * Numbers a store probe read, for metrics; each is valid only when
	 * its RD_PROBE_HAVE_* bit is set in "have" (0 for other kinds).
	 */
	unsigned have;
	int64_t snapshot_id;   /* newest complete snapshot */
	double snapshot_age;   /* seconds since it finished */
	int64_t lag_snapshots; /* lag: snapshots behind the origin */
	double lag_seconds;    /* lag: seconds since the last ship received */
	double drill_age;      /* drill: seconds since the last drill ended */
	int drill_ok;          /* drill: 1 if that drill passed, else 0 */
	double rto, rpo;       /* the last promotion's, seconds */
	int64_t store_bytes;   /* packs and catalog, as rdsnap stats */
};
#define RD_PROBE_HAVE_SNAPSHOT 0x01u /* snapshot_id, snapshot_age */
#define RD_PROBE_HAVE_LAG      0x02u /* lag_snapshots */
#define RD_PROBE_HAVE_LAG_AGE  0x04u /* lag_seconds */
#define RD_PROBE_HAVE_DRILL    0x08u /* drill_age, drill_ok */
#define RD_PROBE_HAVE_RTO      0x10u /* rto */
#define RD_PROBE_HAVE_RPO      0x20u /* rpo */
#define RD_PROBE_HAVE_SIZE     0x40u /* store_bytes */

struct rd_probe;

/*
 * Parse the probe "spec":
 *	tcp://HOST:PORT
 *	http://HOST[:PORT][/PATH][?expect=CODE][&contains=TEXT]
 *	exec:COMMAND
 *	file:PATH[?max-age=SECONDS]
 *	snapshot:STORE[?max-age=SECONDS]
 *	lag:STORE[?max=N][&max-age=SECONDS]
 *	drill:STORE[?max-age=SECONDS]
 *	etcd:URL[,URL...]?cluster=NAME[&primary=UUID]
 * HOST is a name, an IPv4 address or an IPv6 address in brackets.
 * SECONDS may carry a unit: 30, 2.5, 10m, 1h, 7d, 2w.  A bad
 * spec gives RD_EUSAGE "invalid probe 'SPEC': WHY".  On success "*out" is
 * set; release it with rd_probe_free().  Returns 0 or -1.
 */
int rd_probe_parse(const char *spec, struct rd_probe **out, struct rd_err *err);

/* Release a probe.  Accepts NULL. */
void rd_probe_free(struct rd_probe *p);

/* The spec as given to rd_probe_parse(), and the kind name ("tcp"). */
const char *rd_probe_spec(const struct rd_probe *p);
const char *rd_probe_kind(const struct rd_probe *p);

/*
 * Run the "n" probes of "probes" concurrently and fill "res[i]" for each.
 * No probe takes longer than "timeout" seconds; a probe that has not
 * answered by then is down with "timeout after T s".  A probe still stuck
 * from an earlier round (in a blocking name lookup) is not started again
 * and is down with "previous probe still running".  Per-probe failures
 * are results, not errors.  Returns 0, or -1 with "err" set if the round
 * could not be set up (out of memory); "res" is then unspecified.
 */
int rd_probe_round(struct rd_probe *const *probes, size_t n, double timeout,
    struct rd_probe_result *res, struct rd_err *err);

/*
 * Write the one-line human form of a result to "stdio_file", without a
 * newline:
 *	TARGET STATE LATENCY ms[ REASON]
 * for example "tcp://127.0.0.1:9 down 0.2 ms connection refused".  Control
 * characters in the target and reason are written as '?'.
 */
void rd_probe_print(void *stdio_file, const struct rd_probe *p,
    const struct rd_probe_result *res);

/*
 * Write a result as one JSON object (without the newline):
 * {"type":"result","time":"2026-11-27T10:00:05.123Z","target":"...",
 *  "kind":"tcp","state":"down","latency":0.000213,
 *  "reason":"connection refused"}; "reason" is null when up.  "when" is
 * the wall-clock time of the round (rd_now()).
 */
void rd_probe_print_json(struct rd_json *j, const struct rd_probe *p,
    const struct rd_probe_result *res, double when);

/*
 * Format "when" (seconds since the epoch) as UTC ISO 8601 into "buf" (at
 * least 32 bytes): "2026-11-27T10:00:05Z", or with "millis"
 * "2026-11-27T10:00:05.123Z".  Returns "buf".
 */
const char *rd_time_iso(double when, int millis, char *buf, size_t len);

/*
 * Format a duration of "seconds" for people into "buf" (at least 32
 * bytes): under a minute "45 s" (or "2.5 s"), else the two largest units
 * of d, h, min and s, truncated, leaving out a second unit of 0:
 * "2 h 3 min", "1 h", "7 d", "1 min 30 s".  Returns "buf".
 */
const char *rd_duration_human(double seconds, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* Rise/fall damping */

/*
 * The per-target state machine.  It starts RD_PROBE_UNKNOWN.  "rise" up
 * results in a row make it RD_PROBE_UP and "fall" down results in a row
 * make it RD_PROBE_DOWN, from any other state; the first decision needs
 * the same runs.  An RD_PROBE_ERROR result changes nothing.
 */
struct rd_damper {
	int fall, rise;
	int state;           /* RD_PROBE_UNKNOWN, RD_PROBE_UP or _DOWN */
	int successes;       /* up results in a row */
	int failures;        /* down results in a row */
	int64_t transitions; /* state changes, the first decision included */
};

/* Start a damper in RD_PROBE_UNKNOWN; "fall" and "rise" are at least 1. */
void rd_damper_init(struct rd_damper *d, int fall, int rise);

/*
 * Feed one result state.  Returns 1 if the damped state changed (the old
 * one is stored in "*previous" when not NULL), else 0.
 */
int rd_damper_feed(struct rd_damper *d, int result, int *previous);

/* ------------------------------------------------------------------ */
/* Metrics */

/*
 * Add the metrics of "n" targets to "m" (see rdwatch(1), METRICS): for
 * target i its last result "res[i]" (state RD_PROBE_UNKNOWN: none yet)
 * and, in a loop, its damper "d[i]" ("d" NULL: a one-shot round, whose
 * state is the result).  A number a target does not have (no result yet,
 * a probe error, a store probe that could not read it) is left out, never
 * written as NaN.  Returns 0 or -1.
 */
int rd_probe_metrics(struct rd_metrics *m, struct rd_probe *const *probes,
    const struct rd_probe_result *res, const struct rd_damper *d, size_t n,
    struct rd_err *err);

/* ------------------------------------------------------------------ */
/* The watch loop */

struct rd_watch_opts {
	double interval;   /* seconds from one round's start to the next */
	double timeout;    /* per probe, as for rd_probe_round() */
	int fall, rise;    /* see rd_damper */
	int64_t count;     /* rounds to run; 0: until SIGTERM or SIGINT */
	const char *on_up; /* shell commands run on transitions, or NULL */
	const char *on_down;
	const char *on_change;
	const char *metrics; /* Prometheus text file rewritten each round */
	const char *output;  /* append lines here instead of stdout */
	int json;            /* JSON lines instead of text */
	int verbose;         /* text: every result too, not only transitions */
	rd_notice_fn notice; /* warnings that do not stop the loop */
	void *notice_arg;
	const char *record; /* store to record results and transitions in */
	/* each transition (state names as rd_probe_state_name), or NULL */
	void (*transition)(void *arg, const char *target, const char *previous,
	    const char *state, const char *reason);
	void *transition_arg;
};
#define RD_WATCH_OPTS_INIT                                                     \
	{                                                                      \
		5, 5, 3, 2, 0, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, \
		    NULL, NULL, NULL                                           \
	}

struct rd_watch;

/*
 * Set up a watch over the "n" probes of "probes" (borrowed: they must
 * outlive the watch; their specs must differ).  The output file is opened
 * (appending) and the metrics directory checked here, so that a wrong path
 * fails before anything runs.  On success "*out" is set; release it with
 * rd_watch_free().  Returns 0 or -1.
 */
int rd_watch_new(struct rd_probe *const *probes, size_t n,
    const struct rd_watch_opts *opts, struct rd_watch **out,
    struct rd_err *err);

/*
 * Run rounds every "interval" seconds until "count" rounds are done or
 * SIGTERM or SIGINT arrives.  Each round feeds every target's damper,
 * writes the results and transitions, queues the hooks of each transition
 * and rewrites the metrics file.  Hooks run through /bin/sh -c with
 * RDWATCH_TARGET, RDWATCH_STATE, RDWATCH_PREVIOUS and RDWATCH_REASON in
 * their environment, one at a time per target, in order.
 *
 * While it runs, SIGINT, SIGTERM, SIGHUP and SIGCHLD are blocked in the
 * calling thread and taken with sigtimedwait(); the caller's mask is
 * restored on return.  SIGHUP reopens the output file.  At the end it
 * waits for running hooks; after "count" rounds it also runs the queued
 * ones, after a signal it drops them (with a notice).  Failures to write
 * output or metrics, or to run a hook, are notices.
 *
 * With "record", every result and transition is queued for the store's
 * catalog and written after each round, waiting at most 0.2 s (or a
 * quarter of the interval) for the catalog; what cannot be written yet
 * is kept (see rd_watchlog) and written in a later round.  At the end
 * each target that is up or down gets a transition to unknown ("rdwatch
 * stopped"), and the queue gets up to 2 s to drain.  Recording failures
 * are notices.  Returns 0, or -1 with "err" set if the loop itself could
 * not go on.
 */
int rd_watch_run(struct rd_watch *w, struct rd_err *err);

/* Release a watch; closes the output file.  Accepts NULL. */
void rd_watch_free(struct rd_watch *w);

/* ------------------------------------------------------------------ */
/* Recording and reports (--record, rdwatch report) */

/* Unwritten records a watchlog keeps, per table, by default. */
#define RD_WATCHLOG_MAX 10000

struct rd_watchlog;

/*
 * Open the store at "path" to record probe results (table watch_results)
 * and transitions (watch_transitions) in its catalog.  The store is
 * opened with RD_OPEN_READ: recording never takes the store's lock, so a
 * long rdsnap create neither blocks it nor is blocked by it; SQLite's own
 * locking orders the writes.  At most "max" unwritten results and as many
 * transitions are kept (0: RD_WATCHLOG_MAX).  A catalog without the watch
 * tables gives RD_ECORRUPT.  On success "*out" is set; release it with
 * rd_watchlog_close().  Returns 0 or -1.
 */
int rd_watchlog_open(const char *path, size_t max, struct rd_watchlog **out,
    struct rd_err *err);

/* Close the store; unwritten records are lost.  Accepts NULL. */
void rd_watchlog_close(struct rd_watchlog *wl);

/*
 * Queue the result "res" of probe "target" at "when" (unix time) for
 * writing.  "target" and the reason are copied.  When the queue is full
 * the oldest queued result is dropped to make room.  Returns 0, 1 if a
 * result was dropped, or -1 with "err" set (out of memory).
 */
int rd_watchlog_result(struct rd_watchlog *wl, const char *target, double when,
    const struct rd_probe_result *res, struct rd_err *err);

/*
 * Queue a transition of "target" at "when" from "previous" to "state"
 * (RD_PROBE_UNKNOWN, _UP or _DOWN), with "reason" (NULL or empty: none).
 * Returns 0, 1 if the oldest queued transition was dropped, or -1.
 */
int rd_watchlog_transition(struct rd_watchlog *wl, const char *target,
    double when, int previous, int state, const char *reason,
    struct rd_err *err);

/*
 * The last state recorded for "target": that of its latest transition,
 * queued or written, or RD_PROBE_UNKNOWN if it has none.  Returns 0 with
 * "*state" set, or -1.
 */
int rd_watchlog_last_state(struct rd_watchlog *wl, const char *target,
    int *state, struct rd_err *err);

/*
 * Record a one-shot result: queue it, and when it is up or down and
 * differs from the target's last recorded state, a transition to it.
 * Returns 0, 1 if something was dropped, or -1.
 */
int rd_watchlog_sample(struct rd_watchlog *wl, const char *target, double when,
    const struct rd_probe_result *res, struct rd_err *err);

/*
 * Write every queued record in one transaction, waiting at most "wait"
 * seconds for a busy catalog.  On success the queue is empty.  On
 * failure nothing is written and everything stays queued; a busy catalog
 * gives RD_EBUSY.  Returns 0 or -1.
 */
int rd_watchlog_flush(struct rd_watchlog *wl, double wait, struct rd_err *err);

/* Queued results and transitions, not yet written. */
void rd_watchlog_pending(const struct rd_watchlog *wl, size_t *results,
    size_t *transitions);

/*
 * Availability of one target over a window, from its recorded
 * transitions (the damped state) and results.
 */
struct rd_watch_stats {
	const char *target;  /* borrowed for the duration of the callback */
	double from, to;     /* the window: unix times */
	double known;        /* seconds in the window in state up or down */
	double up, down;     /* seconds up, seconds down */
	double availability; /* 100 * up / known, or -1 if known is 0 */
	int64_t outages;     /* down periods in the window */
	double longest;      /* longest down period, seconds (0: none) */
	double mtbf;         /* up / outages, or -1 without outages */
	double mttr;         /* down / outages, or -1 without outages */
	int last;            /* last state decided by "to": up, down, unknown */
	int64_t results;     /* probe results in the window */
};

/*
 * Compute the stats of every target with a record (result or transition)
 * between "since" and "now" (unix times; "since" <= 0: no lower bound),
 * in target order, and call "fn" for each.  For a target the window runs
 * from "since" (without a bound: its first record) to its last record
 * at or before "now"; records after "now" are ignored.  The state at the
 * start is that of its last transition at or before it (unknown without
 * one); then each transition in the window sets the state until the
 * next.  Time in state unknown (before the first decision, after rdwatch
 * stopped) is not known time.  An outage is a maximal down period; one
 * under way at either edge counts with its part inside the window.  A
 * non-zero return from "fn" stops the walk and is returned.  A catalog
 * without the watch tables gives RD_ECORRUPT.  Returns 0, the callback's
 * value, or -1.
 */
int rd_watch_report(struct rd_store *st, double since, double now,
    int (*fn)(void *arg, const struct rd_watch_stats *s), void *arg,
    struct rd_err *err);

#endif /* RD_PROBE_H */
