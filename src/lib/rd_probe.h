/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rd_probe.h: health probes for rdwatch (and rdpromote's --primary and
 * --check), part of the public librd interface through redund.h.
 *
 * A probe is parsed once from its text form ("tcp://db1:5432") and then
 * run any number of times.  Probes of one round run concurrently, each
 * bounded by the round's timeout.  rd_damper turns a stream of results
 * into a damped up/down state (rise/fall), and rd_watch runs rounds at an
 * interval with hooks on transitions and a Prometheus metrics file.
 */
#ifndef RD_PROBE_H
#define RD_PROBE_H

#include <stddef.h>
#include <stdint.h>

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
};

struct rd_probe;

/*
 * Parse the probe "spec":
 *	tcp://HOST:PORT
 *	http://HOST[:PORT][/PATH][?expect=CODE][&contains=TEXT]
 *	exec:COMMAND
 *	file:PATH[?max-age=SECONDS]
 * HOST is a name, an IPv4 address or an IPv6 address in brackets.  A bad
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
 * Escape "in" as a Prometheus text-format label value (without the
 * quotes): backslash, double quote and newline become \\, \" and \n, and
 * bytes that are not valid UTF-8 become U+FFFD.  Returns a string to
 * free(), or NULL when out of memory.
 */
char *rd_prom_escape(const char *in);

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
};
#define RD_WATCH_OPTS_INIT                                                     \
	{                                                                      \
		5, 5, 3, 2, 0, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL  \
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
 * output or metrics, or to run a hook, are notices.  Returns 0, or -1
 * with "err" set if the loop itself could not go on.
 */
int rd_watch_run(struct rd_watch *w, struct rd_err *err);

/* Release a watch; closes the output file.  Accepts NULL. */
void rd_watch_free(struct rd_watch *w);

#endif /* RD_PROBE_H */
