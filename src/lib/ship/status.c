/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * status.c: a standby's shipping status (rdship status): its newest
 * snapshot and its origin's, the last shipment, its warm replicas and,
 * on an origin, the standbys that confirmed a push.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_int.h"
#include "ship/ship_int.h"

/*
 * Column "col" of "q", the meta value "VERSION COUNT FIRST" that the
 * replica update kept of what it could not set, into "ri".
 */
static void
omissions_of(sqlite3_stmt *q, int col, struct rd_replica_info *ri)
{
	const char *t = (const char *)sqlite3_column_text(q, col);
	int n = 0;

	ri->omitted_at = ri->omitted = 0;
	ri->omission[0] = '\0';
	if (t == NULL ||
	    sscanf(t, "%" SCNd64 " %" SCNd64 " %n", &ri->omitted_at,
	        &ri->omitted, &n) != 2 ||
	    n == 0 || ri->omitted_at < 1 || ri->omitted < 1) {
		ri->omitted_at = ri->omitted = 0;
		return; /* none, or not written by rdship */
	}
	snprintf(ri->omission, sizeof(ri->omission), "%s", t + n);
}

/* A row of replicas: one more warm replica of this store. */
static void
replica_row(sqlite3_stmt *q, struct rd_ship_status *out)
{
	struct rd_replica_info one, *ri = &one;
	const unsigned char *t;

	if (out->nreplicas < RD_SHIP_LIST_MAX)
		ri = &out->replica[out->nreplicas];
	rdi_column_copy(q, 0, ri->dir, sizeof(ri->dir), "");
	ri->version = sqlite3_column_int64(q, 1);
	ri->target = sqlite3_column_int64(q, 2);
	t = sqlite3_column_text(q, 3);
	ri->clean = t != NULL && strcmp((const char *)t, "clean") == 0;
	ri->updated = sqlite3_column_double(q, 4);
	omissions_of(q, 5, ri);
	if (!ri->clean || ri->version != out->newest)
		out->replicas_stale++;
	if (ri == &one)
		out->replicas_more++;
	else
		out->nreplicas++;
}

/*
 * Parse a "dest:DEST" row's value "v": "UUID FAILURES LAST_FAILED REASON"
 * ("-" for no UUID).  Returns the offset of REASON, or -1 when the row is
 * not one rdship wrote.
 */
static int
parse_dest(const char *v, char *uuid, int64_t *failures, double *failed)
{
	int off = 0;

	if (sscanf(v, "%39s %" SCNd64 " %lf %n", uuid, failures, failed,
	        &off) != 3 ||
	    off == 0 || *failures < 0 || *failures == INT64_MAX ||
	    !(*failed >= 0 && *failed < 1e11) ||
	    (strcmp(uuid, "-") != 0 && !rdi_uuid_ok(uuid)))
		return -1;
	return off;
}

/* A "standby:UUID" meta row: a standby that confirmed a push. */
static void
standby_row(sqlite3_stmt *q, struct rd_ship_status *out)
{
	const unsigned char *t;
	int i = out->nstandbys;

	if (i == RD_SHIP_LIST_MAX) {
		out->standbys_more++;
		return;
	}
	memset(&out->standby[i], 0, sizeof(out->standby[i]));
	rdi_column_copy(q, 0, out->standby[i].uuid,
	    sizeof(out->standby[0].uuid), "");
	t = sqlite3_column_text(q, 1);
	if (t == NULL ||
	    sscanf((const char *)t, "%" SCNd64 " %lf",
	        &out->standby[i].snapshot, &out->standby[i].pushed) != 2)
		return; /* not written by rdship */
	out->nstandbys++;
}

/*
 * A "dest:DEST" meta row, "UUID FAILURES LAST_FAILED REASON" ("-" for
 * no UUID): put it on the standby of that id, or on a row of its own
 * when none confirmed a push there.
 */
static void
dest_row(sqlite3_stmt *q, struct rd_ship_status *out)
{
	const unsigned char *t = sqlite3_column_text(q, 1);
	char uuid[40];
	int64_t failures;
	double failed;
	int i, j, off;

	if (t == NULL ||
	    (off = parse_dest((const char *)t, uuid, &failures, &failed)) < 0)
		return; /* not written by rdship */
	/* the standby of that id, "j" if another destination has it */
	for (i = 0, j = -1; i < out->nstandbys; i++) {
		if (strcmp(out->standby[i].uuid, uuid) != 0)
			continue;
		if (out->standby[i].dest[0] == '\0')
			break;
		j = i;
	}
	if (i == out->nstandbys) {
		/* a standby forgotten by prune, its destination healthy */
		if (j == -1 && strcmp(uuid, "-") != 0 && failures == 0)
			return;
		if (i == RD_SHIP_LIST_MAX) {
			out->standbys_more++;
			return;
		}
		memset(&out->standby[i], 0, sizeof(out->standby[i]));
		out->standby[i].snapshot = -1;
		if (j >= 0) /* a second name for one standby */
			out->standby[i] = out->standby[j];
		out->nstandbys++;
	}
	rdi_column_copy(q, 0, out->standby[i].dest,
	    sizeof(out->standby[i].dest), "");
	out->standby[i].failures = failures;
	out->standby[i].failed = failed;
	snprintf(out->standby[i].reason, sizeof(out->standby[i].reason), "%s",
	    (const char *)t + off);
}

/* Run "sql" and give each of its rows to "row".  Returns 0 or -1. */
static int
each_row(sqlite3 *db, const char *sql,
    void (*row)(sqlite3_stmt *, struct rd_ship_status *),
    struct rd_ship_status *out, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r;

	if (rdi_db_prepare(db, sql, &q, err) == -1)
		return -1;
	while ((r = rdi_db_step(db, q, err)) == 1)
		row(q, out);
	sqlite3_finalize(q);
	return r == -1 ? -1 : 0;
}

int
rd_ship_status(struct rd_store *st, struct rd_ship_status *out,
    struct rd_err *err)
{
	struct rd_snapinfo si;
	char buf[64];
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		return -1;
	if (rdi_db_load(st, err) == -1)
		goto out;
	out->store = st->info;
	if (rd_snap_get(st, 0, &si, err) == 0) {
		out->newest = si.id;
		out->newest_time = si.finished;
	} else if (err->code == RD_ENOENT) {
		rd_err_clear(err);
	} else {
		goto out;
	}
	if (rdi_meta_get(st->db, "origin_newest", buf, sizeof(buf), err) == -1)
		goto out;
	out->origin_newest = strtoll(buf, NULL, 10);
	if (rdi_meta_get(st->db, "last_ship", buf, sizeof(buf), err) == -1)
		goto out;
	out->last_ship = strtod(buf, NULL);
	if (rdi_meta_get(st->db, "rejoin", out->rejoin, sizeof(out->rejoin),
	        err) == -1)
		goto out;
	if (each_row(st->db,
	        "SELECT dir, version, target, state, updated, m.value"
	        " FROM replicas LEFT JOIN meta m"
	        " ON m.key = 'replica_omitted:' || dir ORDER BY dir",
	        replica_row, out, err) == -1 ||
	    each_row(st->db,
	        "SELECT substr(key, 9), value FROM meta"
	        " WHERE key LIKE 'standby:%' ORDER BY key",
	        standby_row, out, err) == -1 ||
	    each_row(st->db,
	        "SELECT substr(key, 6), value FROM meta"
	        " WHERE key LIKE 'dest:%' ORDER BY key",
	        dest_row, out, err) == -1)
		goto out;
	ret = 0;
out:
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return ret;
}

/* Copy the first line of "in" into "out" ("len" bytes), tabs as spaces. */
static void
one_line(char *out, size_t len, const char *in)
{
	size_t n = 0;

	for (; *in != '\0' && *in != '\n' && *in != '\r' && n + 1 < len; in++)
		out[n++] = *in == '\t' ? ' ' : *in;
	out[n] = '\0';
}

int
rd_ship_note_push(struct rd_store *st, const char *dest, const char *uuid,
    const char *reason, struct rd_err *err)
{
	char key[RD_SHIP_DEST_MAX + 8], old[512], val[512], id[40], why[256];
	int64_t failures = 0;
	double failed = 0;
	int off, r;

	if (strlen(dest) > RD_SHIP_DEST_MAX)
		return rd_err_set(err, RD_EUSAGE,
		    "destination name longer than %d bytes", RD_SHIP_DEST_MAX);
	snprintf(key, sizeof(key), "dest:%s", dest);
	r = rdi_meta_get(st->db, key, old, sizeof(old), err);
	if (r == -1 && err->code != RD_ECORRUPT)
		return -1;
	rd_err_clear(err);
	why[0] = '\0';
	/* a damaged row starts over */
	if (r == 1 && (off = parse_dest(old, id, &failures, &failed)) >= 0) {
		one_line(why, sizeof(why), old + off);
	} else {
		snprintf(id, sizeof(id), "-");
		failures = 0;
		failed = 0;
	}
	if (uuid != NULL && rdi_uuid_ok(uuid))
		snprintf(id, sizeof(id), "%s", uuid);
	if (reason == NULL) {
		failures = 0;
	} else {
		failures++;
		failed = rd_now();
		one_line(why, sizeof(why), reason);
	}
	if ((size_t)snprintf(val, sizeof(val), "%s %" PRId64 " %.0f %s", id,
	        failures, failed, why) >= sizeof(val))
		return rd_err_set(err, RD_EINTERNAL, "push record too long");
	return rdi_meta_set(st->db, key, val, err);
}
