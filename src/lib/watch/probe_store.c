/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe_store.c: the probes that read a store's catalog.  snapshot: is
 * the age of the newest complete snapshot against the RPO budget, lag:
 * how far a standby is behind its origin and whether its replicas are
 * current, drill: the age of the last successful restore drill.  Each
 * opens the store for reading (no lock, so a long rdsnap create never
 * blocks it and it never blocks a writer), bounds SQLite's busy wait by
 * the probe's deadline, and closes the store again.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe_int.h"

#define MAX_AGE_WHY                                                            \
	"(expected seconds above 0, or a number with s, m, h, d or w)"

/*
 * Parse "rest" (STORE[?NAME=VALUE&...]) into "p": the store path and the
 * options max-age and, when "lag", max and rpo.  Returns 0, -1 with "why" set, or
 * -2 when out of memory.
 */
static int
store_parse(struct rd_probe *p, const char *rest, int lag, char *why,
    size_t whylen)
{
	struct rdi_probe_opt opts[4];
	char *q, *end;
	long long v;
	int i, n;

	p->store = strdup(rest);
	if (p->store == NULL)
		return -2;
	q = strchr(p->store, '?');
	if (q != NULL)
		*q++ = '\0';
	if (p->store[0] == '\0') {
		snprintf(why, whylen, "missing store");
		return -1;
	}
	if (q == NULL)
		return 0;
	n = rdi_probe_opts(q, opts, 4, why, whylen);
	if (n == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(opts[i].name, "max-age") == 0) {
			if (rdi_probe_seconds(opts[i].value, &p->max_age) ==
			    -1) {
				snprintf(why, whylen,
				    "invalid max-age '%s' " MAX_AGE_WHY,
				    opts[i].value);
				return -1;
			}
		} else if (lag && strcmp(opts[i].name, "max") == 0) {
			errno = 0;
			v = strtoll(opts[i].value, &end, 10);
			if (opts[i].value[0] < '0' || opts[i].value[0] > '9' ||
			    *end != '\0' || errno != 0 || v > 1000000000) {
				snprintf(why, whylen,
				    "invalid max '%s' (expected a number of snapshots, 0 or more)",
				    opts[i].value);
				return -1;
			}
			p->max_lag = v;
		} else if (lag && strcmp(opts[i].name, "rpo") == 0) {
			if (rdi_probe_seconds(opts[i].value, &p->max_rpo) ==
			    -1) {
				snprintf(why, whylen,
				    "invalid rpo '%s' " MAX_AGE_WHY,
				    opts[i].value);
				return -1;
			}
		} else {
			snprintf(why, whylen,
			    "unknown option '%s' (expected %s)", opts[i].name,
			    lag ? "max, max-age or rpo" : "max-age");
			return -1;
		}
	}
	return 0;
}

int
rdi_probe_snapshot_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen)
{
	return store_parse(p, rest, 0, why, whylen);
}

int
rdi_probe_lag_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen)
{
	return store_parse(p, rest, 1, why, whylen);
}

int
rdi_probe_drill_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen)
{
	return store_parse(p, rest, 0, why, whylen);
}

/*
 * A store that cannot be read says the target is down (its backups cannot
 * be shown to exist), except when we ran out of memory: that is an error
 * of the probe, not a fact about the store.
 */
static void
store_failed(struct rd_probe_result *res, const struct rd_err *err)
{
	if (err->code == RD_ENOMEM)
		rdi_probe_error(res, err->code, "%s", err->msg);
	else
		rdi_probe_down(res, "%s", err->msg);
}

/*
 * Open the store of "p" for reading, with SQLite's busy wait bounded by
 * "deadline".  Returns the store, or NULL with "res" saying why.
 */
static struct rd_store *
open_store(const struct rd_probe *p, double deadline,
    struct rd_probe_result *res)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	double left;

	if (rd_store_open(p->store, RD_OPEN_READ, 0, &st, &err) == -1) {
		store_failed(res, &err);
		return NULL;
	}
	left = deadline - rd_monotonic();
	sqlite3_busy_timeout(st->db, left > 0 ? (int)(left * 1000) + 1 : 1);
	return st;
}

/*
 * The numbers every store probe reports for metrics: the store's size
 * and the last promotion's RTO and RPO.  A number that cannot be read is
 * left out of the metrics; the probe's state does not depend on it.
 */
static void
store_numbers(struct rd_store *st, struct rd_probe_result *res)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store_stats ss;
	struct rd_promotion_last pl;

	if (rd_store_stats(st, &ss, &err) == 0) {
		res->store_bytes = ss.disk_bytes;
		res->have |= RD_PROBE_HAVE_SIZE;
	}
	if (rd_promotion_last(st, 0, 1, &pl, &err) == 1) {
		if (pl.rto >= 0) {
			res->rto = pl.rto;
			res->have |= RD_PROBE_HAVE_RTO;
		}
		if (pl.rpo >= 0) {
			res->rpo = pl.rpo;
			res->have |= RD_PROBE_HAVE_RPO;
		}
	}
}

/*
 * Write "age" and the limit "max" for a "... old > MAX" reason: in whole
 * units ("2 h 3 min"), unless both would read the same, then in seconds
 * ("3600.4 s" and "3600 s").
 */
static void
age_text(double age, double max, char *a, size_t alen, char *m, size_t mlen)
{
	rd_duration_human(age > 0 ? (double)(long long)age : 0, a, alen);
	rd_duration_human(max, m, mlen);
	if (strcmp(a, m) == 0) {
		snprintf(a, alen, "%.1f s", age);
		snprintf(m, mlen, "%g s", max);
	}
}

/* Append "; " (unless first) and a printf-formatted text to "res->reason". */
static void add_reason(struct rd_probe_result *, const char *, ...)
    RD_PRINTF(2, 3);

void
rdi_probe_snapshot_run(const struct rd_probe *p, double deadline,
    double timeout, struct rd_probe_result *res)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snapinfo si;
	struct rd_store *st;
	char a[64], m[64];
	double age;

	(void)timeout;
	st = open_store(p, deadline, res);
	if (st == NULL)
		return;
	store_numbers(st, res);
	if (rd_snap_get(st, 0, &si, &err) == -1) {
		if (err.code == RD_ENOENT)
			rdi_probe_down(res, "store has no snapshots");
		else
			store_failed(res, &err);
		goto out;
	}
	age = rd_now() - (double)si.finished;
	res->snapshot_id = si.id;
	res->snapshot_age = age > 0 ? age : 0;
	res->have |= RD_PROBE_HAVE_SNAPSHOT;
	if (p->max_age > 0 && age > p->max_age) {
		age_text(age, p->max_age, a, sizeof(a), m, sizeof(m));
		rdi_probe_down(res, "newest snapshot %lld is %s old > %s",
		    (long long)si.id, a, m);
	}
	if (si.partial > 0)
		add_reason(res,
		    "newest snapshot %lld is partial: %lld path%s could not be read",
		    (long long)si.id, (long long)si.partial,
		    si.partial == 1 ? "" : "s");
	if (si.inconsistent > 0)
		add_reason(res,
		    "newest snapshot %lld is inconsistent: %lld file%s kept changing while read",
		    (long long)si.id, (long long)si.inconsistent,
		    si.inconsistent == 1 ? "" : "s");
out:
	rd_store_close(st);
}

static void
add_reason(struct rd_probe_result *res, const char *fmt, ...)
{
	size_t used = strlen(res->reason);
	va_list ap;

	if (res->state == RD_PROBE_DOWN && used + 2 < sizeof(res->reason)) {
		memcpy(res->reason + used, "; ", 3);
		used += 2;
	} else if (res->state == RD_PROBE_DOWN) {
		return;
	} else {
		used = 0;
	}
	res->state = RD_PROBE_DOWN;
	va_start(ap, fmt);
	vsnprintf(res->reason + used, sizeof(res->reason) - used, fmt, ap);
	va_end(ap);
}

void
rdi_probe_lag_run(const struct rd_probe *p, double deadline, double timeout,
    struct rd_probe_result *res)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_ship_status s;
	struct rd_snapinfo si;
	struct rd_store *st;
	const struct rd_replica_info *ri;
	char a[64], m[64];
	long long behind;
	double since;
	int i;

	(void)timeout;
	st = open_store(p, deadline, res);
	if (st == NULL)
		return;
	store_numbers(st, res);
	if (rd_ship_status(st, &s, &err) == -1) {
		store_failed(res, &err);
		goto out;
	}
	if (!s.store.standby) {
		rdi_probe_down(res, "not a standby store");
		goto out;
	}
	if (s.last_ship <= 0) {
		rdi_probe_down(res, "no ship received");
		goto out;
	}
	behind = (long long)(s.origin_newest - s.newest);
	res->lag_snapshots = behind > 0 ? behind : 0;
	res->have |= RD_PROBE_HAVE_LAG;
	since = rd_now() - s.last_ship;
	res->lag_seconds = since > 0 ? since : 0;
	res->have |= RD_PROBE_HAVE_LAG_AGE;
	if (behind > p->max_lag)
		add_reason(res, "%lld snapshot%s behind the origin", behind,
		    behind == 1 ? "" : "s");
	for (i = 0; i < s.nreplicas; i++) {
		ri = &s.replica[i];
		if (!ri->clean)
			add_reason(res, "replica %s update interrupted",
			    ri->dir);
		else if (ri->version != s.newest)
			add_reason(res,
			    "replica %s at snapshot %lld, store at %lld",
			    ri->dir, (long long)ri->version,
			    (long long)s.newest);
	}
	for (i = 0; i < s.nreplicas; i++)
		if (!s.replica[i].clean || s.replica[i].version != s.newest)
			s.replicas_stale--;
	if (s.replicas_stale > 0)
		add_reason(res, "%lld more replica%s not at snapshot %lld",
		    (long long)s.replicas_stale,
		    s.replicas_stale == 1 ? "" : "s", (long long)s.newest);
	if (p->max_age > 0 && since > p->max_age) {
		age_text(since, p->max_age, a, sizeof(a), m, sizeof(m));
		add_reason(res, "last ship %s ago > %s", a, m);
	}
	/* the data the standby holds is as old as its newest snapshot */
	if (p->max_rpo > 0 && s.newest > 0 &&
	    rd_snap_get(st, s.newest, &si, &err) == 0 &&
	    rd_now() - (double)si.started > p->max_rpo) {
		age_text(rd_now() - (double)si.started, p->max_rpo, a,
		    sizeof(a), m, sizeof(m));
		add_reason(res, "newest snapshot %lld taken %s ago > rpo %s",
		    (long long)s.newest, a, m);
	}
	if (err.code != RD_OK)
		add_reason(res, "%s", err.msg);
out:
	rd_store_close(st);
}

void
rdi_probe_drill_run(const struct rd_probe *p, double deadline, double timeout,
    struct rd_probe_result *res)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_drill_info d;
	struct rd_promotion_last pl;
	struct rd_store *st;
	char a[64], m[64];
	double age;
	int r;

	(void)timeout;
	st = open_store(p, deadline, res);
	if (st == NULL)
		return;
	store_numbers(st, res);
	if (rd_promotion_last(st, 1, 0, &pl, &err) == 1) {
		res->drill_age = rd_now() - pl.finished;
		if (res->drill_age < 0)
			res->drill_age = 0;
		res->drill_ok = pl.ok;
		res->have |= RD_PROBE_HAVE_DRILL;
	}
	r = rd_drill_last(st, &d, &err);
	if (r == -1) {
		store_failed(res, &err);
		goto out;
	}
	if (r == 0) {
		rdi_probe_down(res, "no validated drill recorded");
		goto out;
	}
	age = rd_now() - d.finished;
	if (p->max_age > 0 && age > p->max_age) {
		age_text(age, p->max_age, a, sizeof(a), m, sizeof(m));
		rdi_probe_down(res, "last drill %s ago > %s", a, m);
	}
out:
	rd_store_close(st);
}
