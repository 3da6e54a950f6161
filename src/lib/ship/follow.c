/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * follow.c: "rdship follow", a loop of cycles: take a snapshot of the
 * source, then push it to every destination over a channel kept open
 * from cycle to cycle (the other side, "rdship serve", takes one push
 * session after the other on it).  A channel that breaks is closed and
 * opened again after a backoff; the push then resumes where the store
 * on the other side is.  A stop request (a flag set by a signal handler)
 * ends the loop between two cycles, so that the last cycle is complete
 * or was never started.  The metrics of the cycles go to a Prometheus
 * text file, replaced atomically after every cycle.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ship/ship_int.h"

/* The state of one destination. */
struct dest {
	int open; /* the channel is open */
	int fd_to, fd_from;
	double delay;     /* current backoff, 0 after a success */
	double next_try;  /* monotonic time of the next connection */
	int64_t have;     /* newest snapshot it confirmed, 0 unknown */
	double have_time; /* when that snapshot was started (unix time) */
	int64_t failures;
	int omitting; /* its replica lacks attributes, and we said so */
};

struct follow {
	struct rd_store *st;
	const char *source;
	const struct rd_follow_opts *o;
	struct rd_follow_stats *s;
	struct dest *d;
	int64_t prev_id;       /* the snapshot of the previous cycle */
	double prev_start;     /* when the source was last known to equal it */
	struct rdi_notify *nt; /* NULL: walk every cycle */
	int64_t since_whole;   /* cycles since the last whole walk */
	/* o->snap, each file read once: the next cycle is the retry */
	struct rd_snap_opts snap;
};

static void notice(const struct rd_follow_opts *o, const char *fmt, ...)
    RD_PRINTF(2, 3);

static void
notice(const struct rd_follow_opts *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rdi_vnotice(o->notice, o->notice_arg, fmt, ap);
	va_end(ap);
}

/* Errors that no retry mends: stop following and say why. */
static int
fatal(enum rd_code c)
{
	return c == RD_EPERM || c == RD_EUSAGE || c == RD_EINTERNAL ||
	    c == RD_ENOMEM;
}

/* When snapshot "id" was started: exact if this run took it. */
static double
started_at(struct follow *f, int64_t id)
{
	struct rd_err e = RD_ERR_INIT;
	struct rd_snapinfo si;

	if (id > 0 && id == f->prev_id)
		return f->prev_start;
	if (id <= 0 || rd_snap_get(f->st, id, &si, &e) == -1)
		return 0;
	return (double)si.started;
}

static const struct rd_metric m_cycles = { "rdship_follow_cycles_total",
	"counter", "cycles run" };
static const struct rd_metric m_failures = { "rdship_follow_failures_total",
	"counter", "snapshots and pushes that failed" };
static const struct rd_metric m_cycle_seconds = { "rdship_follow_cycle_seconds",
	"gauge", "duration of the last cycle (snapshot and pushes)" };
static const struct rd_metric m_rpo = { "rdship_follow_rpo_seconds", "gauge",
	"achieved RPO of the last cycle: the age of the data the slowest "
	"destination held when its push ended" };
static const struct rd_metric m_bytes = { "rdship_follow_bytes", "gauge",
	"bytes pushed in the last cycle, all destinations" };
static const struct rd_metric m_bytes_total = { "rdship_follow_bytes_total",
	"counter", "bytes pushed" };
static const struct rd_metric m_snapshot = { "rdship_follow_snapshot", "gauge",
	"id of the newest snapshot taken" };
static const struct rd_metric m_last = {
	"rdship_follow_last_cycle_timestamp_seconds", "gauge",
	"when the last cycle ended"
};
static const struct rd_metric m_skipped = {
	"rdship_follow_cycles_skipped_total", "counter",
	"cycles that found no change and took no snapshot"
};
static const struct rd_metric m_whole = { "rdship_follow_walks_whole_total",
	"counter",
	"cycles that walked the whole source (the others that took a "
	"snapshot walked only the directories that changed)" };
static const struct rd_metric m_active = { "rdship_follow_notify_active",
	"gauge",
	"1 while change notification is in use, 0 when every cycle walks" };
static const struct rd_metric m_watches = { "rdship_follow_notify_watches",
	"gauge", "directories watched for changes" };
static const struct rd_metric m_overflows = {
	"rdship_follow_notify_overflows_total", "counter",
	"overflows of the change notification queue (each followed by a walk)"
};
static const struct rd_metric m_omissions = {
	"rdship_follow_replica_omissions_total", "counter",
	"attributes the destinations' replica updates could not set"
};
static const struct rd_metric m_lag = { "rdship_follow_lag_seconds", "gauge",
	"per destination: age of the newest snapshot it confirmed" };

static int
metrics_text(struct follow *f, struct rd_metrics *m, struct rd_err *err)
{
	const struct rd_follow_stats *s = f->s;
	double now = rd_now();
	const struct {
		const struct rd_metric *def;
		double v;
	} v[] = {
		{ &m_cycles, (double)s->cycles },
		{ &m_failures, (double)s->failures },
		{ &m_cycle_seconds, s->cycle_seconds },
		{ &m_rpo, s->rpo_seconds },
		{ &m_bytes, (double)s->bytes },
		{ &m_bytes_total, (double)s->bytes_total },
		{ &m_snapshot, (double)s->snapshot },
		{ &m_last, now },
		{ &m_skipped, (double)s->skipped },
		{ &m_whole, (double)s->whole_walks },
		{ &m_omissions, (double)s->omissions },
		{ &m_active, (double)s->notify },
		{ &m_watches, (double)s->watches },
		{ &m_overflows, (double)s->overflows },
	};
	size_t i;
	int d;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (rd_metrics_add(m, v[i].def, v[i].v, err) == -1)
			return -1;
	for (d = 0; d < f->o->ndests; d++)
		if (f->d[d].have_time > 0 &&
		    rd_metrics_add_label(m, &m_lag, "dest", f->o->dests[d],
		        now - f->d[d].have_time, err) == -1)
			return -1;
	return 0;
}

/* Replace the metrics file (atomically, by the shared writer). */
static int
write_metrics(struct follow *f, struct rd_err *err)
{
	struct rd_metrics *m = rd_metrics_new();
	int ret = -1;

	if (m == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (metrics_text(f, m, err) == 0 &&
	    rd_metrics_write(m, f->o->metrics, err) == 0)
		ret = 0;
	rd_metrics_free(m);
	return ret;
}

static void
drop(struct follow *f, int i, int failed)
{
	struct dest *d = &f->d[i];

	if (!d->open)
		return;
	/* the other side sees the channel end between two sessions */
	close(d->fd_to);
	close(d->fd_from);
	f->o->disconnect(f->o->arg, i, failed);
	d->open = 0;
}

static void
dest_failed(struct follow *f, int i, const struct rd_err *e)
{
	struct dest *d = &f->d[i];
	double max = f->o->backoff_max > 0 ? f->o->backoff_max : 60;

	drop(f, i, 1);
	d->failures++;
	f->s->failures++;
	d->delay = d->delay > 0 ? d->delay * 2 : 1;
	if (d->delay > max)
		d->delay = max;
	d->next_try = rd_monotonic() + d->delay;
	notice(f->o, "%s: %s (trying again in %.0f s)", f->o->dests[i], e->msg,
	    d->delay);
}

/*
 * What destination "d" ("i") could not set on its replica: said once
 * until an update sets everything again, and counted.
 */
static void
replica_omissions(struct follow *f, struct dest *d, int i,
    const struct rd_ship_result *r)
{
	if (r->replica_omitted > 0) {
		f->s->omissions += r->replica_omitted;
		if (!d->omitting)
			notice(f->o,
			    "%s: the replica update could not set everything: %s",
			    f->o->dests[i], r->replica_omission);
		d->omitting = 1;
	} else if (r->newest > r->from) {
		d->omitting = 0; /* an update that set everything */
	}
}

/*
 * Push to destination "i", opening its channel if it is closed and its
 * backoff is over (while stopping, a destination in backoff waits for
 * the next start).  A fatal refusal is returned as -1; other failures
 * close the channel and start a backoff.
 */
static int
push_one(struct follow *f, int i, int stopping, struct rd_err *err)
{
	struct dest *d = &f->d[i];
	struct rd_ship_result r;
	struct rd_err e = RD_ERR_INIT;
	double t;

	if (!d->open) {
		if (d->delay > 0 && (stopping || rd_monotonic() < d->next_try))
			return 0;
		if (f->o->connect(f->o->arg, i, &d->fd_to, &d->fd_from, &e) ==
		    -1) {
			dest_failed(f, i, &e);
			return 0;
		}
		d->open = 1;
	}
	if (rd_ship_push(f->st, d->fd_from, d->fd_to, f->o->ship, &r, &e) ==
	    -1) {
		if (fatal(e.code)) {
			drop(f, i, 1);
			*err = e;
			return -1;
		}
		dest_failed(f, i, &e);
		return 0;
	}
	if (d->delay > 0)
		notice(f->o, "%s: shipping again, at snapshot %lld",
		    f->o->dests[i], (long long)r.newest);
	d->delay = 0;
	t = rd_now();
	/* the oldest data it held: just before this push ended */
	if (d->have_time > 0 || r.from > 0) {
		double before = d->have == r.from && d->have_time > 0
		    ? d->have_time
		    : started_at(f, r.from);

		if (before > 0 && t - before > f->s->rpo_seconds)
			f->s->rpo_seconds = t - before;
	}
	/* a cycle without change makes its snapshot current again */
	if (r.newest != d->have || r.newest == f->prev_id) {
		d->have = r.newest;
		d->have_time = started_at(f, r.newest);
	}
	f->s->bytes += r.wire_bytes;
	f->s->ok_dests++;
	replica_omissions(f, d, i, &r);
	return 0;
}

static void
maybe_prune(struct follow *f)
{
	const struct rd_follow_opts *o = f->o;
	struct rd_prune_result pr;
	struct rd_err e = RD_ERR_INIT;

	if (o->prune == NULL || o->prune_every <= 0 ||
	    f->s->cycles % o->prune_every != 0)
		return;
	if (rd_snap_prune(f->st, o->prune, &pr, &e) == -1)
		notice(o, "prune failed: %s", e.msg);
}

/*
 * What this cycle walks: RD_WALK_NONE when notification says that nothing
 * changed since the last snapshot and no whole walk is due, RD_WALK_CHANGED
 * for the directories it names, RD_WALK_WHOLE; or -1.
 */
static int
must_walk(struct follow *f, struct rd_err *err)
{
	int64_t every = f->o->full_every > 0 ? f->o->full_every : 60;
	int r;

	if (f->nt == NULL)
		return RD_WALK_WHOLE;
	r = rdi_notify_changed(f->nt, err);
	f->s->overflows = rdi_notify_overflows(f->nt);
	f->s->notify = rdi_notify_active(f->nt);
	f->s->watches = (int64_t)rdi_notify_watches(f->nt);
	if (r == -1)
		return -1;
	if (f->prev_id <= 0 || f->since_whole + 1 >= every ||
	    rdi_notify_walk_set(f->nt) == NULL)
		return RD_WALK_WHOLE;
	return r ? RD_WALK_CHANGED : RD_WALK_NONE;
}

/* The snapshot of a cycle that walks ("walk"), or 0 when it failed. */
static int
take_snapshot(struct follow *f, double start, enum rd_follow_walk *walk,
    struct rd_err *err)
{
	const struct rd_follow_opts *o = f->o;
	struct rd_snapinfo si;
	struct rd_err e = RD_ERR_INIT;
	int r, again = 0;

	r = rdi_snap_create_in(f->st, f->source, &f->snap,
	    *walk == RD_WALK_CHANGED ? rdi_notify_walk_set(f->nt) : NULL,
	    &again, &si, &e);
	if (r == -1 && again) {
		/* a changed file with other names: they are read too */
		rd_err_clear(&e);
		*walk = RD_WALK_WHOLE;
		r = rdi_snap_create_in(f->st, f->source, &f->snap, NULL, NULL,
		    &si, &e);
	}
	if (r == -1) {
		if (fatal(e.code)) {
			*err = e;
			return -1;
		}
		f->s->failures++;
		notice(o, "snapshot failed: %s", e.msg);
		if (f->nt != NULL)
			rdi_notify_dirty(f->nt);
		return 0;
	}
	if (*walk == RD_WALK_WHOLE) {
		f->since_whole = 0;
		f->s->whole_walks++;
	}
	if (si.partial > 0)
		notice(o,
		    "snapshot %lld is partial: %lld paths kept their previous version",
		    (long long)si.id, (long long)si.partial);
	/*
	 * What it could not read: read it again next cycle.  A file that
	 * changed while it was read needs no whole walk: the writes after
	 * the set was taken put its directory in the next one, and the walk
	 * reads a file stored inconsistent whatever the quick check says.
	 */
	if (si.partial > 0 && f->nt != NULL)
		rdi_notify_dirty(f->nt);
	f->s->snapshot = si.id;
	f->prev_id = si.id;
	f->prev_start = start;
	return 0;
}

/*
 * One cycle: a snapshot (unless notification says nothing changed),
 * then a push to every destination.
 */
static int
cycle(struct follow *f, struct rd_err *err)
{
	const struct rd_follow_opts *o = f->o;
	struct rd_follow_stats *s = f->s;
	struct rd_err e = RD_ERR_INIT;
	double t0 = rd_monotonic(), start = rd_now();
	enum rd_follow_walk walk;
	int i, r;

	s->bytes = 0;
	s->rpo_seconds = 0;
	s->ok_dests = 0;
	r = must_walk(f, err);
	if (r == -1)
		return -1;
	walk = (enum rd_follow_walk)r;
	f->since_whole++;
	if (walk != RD_WALK_NONE) {
		if (take_snapshot(f, start, &walk, err) == -1)
			return -1;
	} else {
		/* no event since the snapshot: it is the source as of now */
		s->skipped++;
		f->prev_start = start;
	}
	s->walked = walk;
	for (i = 0; i < o->ndests; i++)
		if (push_one(f, i, o->stop != NULL && *o->stop, err) == -1)
			return -1;
	s->cycles++;
	s->bytes_total += s->bytes;
	s->cycle_seconds = rd_monotonic() - t0;
	maybe_prune(f);
	if (o->metrics != NULL && write_metrics(f, &e) == -1) {
		notice(o, "%s", e.msg);
		rd_err_clear(&e);
	}
	if (o->cycle != NULL)
		o->cycle(o->arg, s);
	return 0;
}

/* Sleep until monotonic time "until", waking early for a stop. */
static void
wait_until(const struct rd_follow_opts *o, double until)
{
	struct timespec ts;
	double left;

	while ((o->stop == NULL || !*o->stop) &&
	    (left = until - rd_monotonic()) > 0) {
		if (left > 0.1)
			left = 0.1;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)(left * 1e9);
		nanosleep(&ts, NULL);
	}
}

int
rd_follow(struct rd_store *st, const char *source,
    const struct rd_follow_opts *o, struct rd_follow_stats *s,
    struct rd_err *err)
{
	struct follow f;
	double next;
	int i, ret = -1;

	memset(&f, 0, sizeof(f));
	memset(s, 0, sizeof(*s));
	f.st = st;
	f.source = source;
	f.o = o;
	f.s = s;
	f.snap = *o->snap;
	f.snap.read_once = 1;
	if (o->interval <= 0 || o->ndests < 1 || o->connect == NULL ||
	    o->disconnect == NULL)
		return rd_err_set(err, RD_EINTERNAL, "bad follow options");
	f.d = calloc((size_t)o->ndests, sizeof(*f.d));
	if (f.d == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	/* watching starts before the first walk: no change slips between */
	if (!o->no_notify &&
	    rdi_notify_new(source, o->snap, o->notice, o->notice_arg, &f.nt,
	        err) == -1) {
		free(f.d);
		return -1;
	}
	if (f.nt != NULL) {
		s->notify = rdi_notify_active(f.nt);
		s->watches = (int64_t)rdi_notify_watches(f.nt);
	}
	next = rd_monotonic();
	while (o->stop == NULL || !*o->stop) {
		next += o->interval;
		if (cycle(&f, err) == -1)
			goto out;
		if (o->max_cycles > 0 && s->cycles >= o->max_cycles)
			break;
		/* a cycle that overran starts the next one at once */
		if (next < rd_monotonic())
			next = rd_monotonic();
		wait_until(o, next);
	}
	ret = 0;
out:
	for (i = 0; i < o->ndests; i++)
		drop(&f, i, ret == -1);
	rdi_notify_free(f.nt);
	free(f.d);
	return ret;
}
