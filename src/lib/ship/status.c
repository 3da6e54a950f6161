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

/* A "standby:UUID" meta row: a standby that confirmed a push. */
static void
standby_row(sqlite3_stmt *q, struct rd_ship_status *out)
{
	const unsigned char *t;

	if (out->nstandbys == RD_SHIP_LIST_MAX) {
		out->standbys_more++;
		return;
	}
	rdi_column_copy(q, 0, out->standby[out->nstandbys].uuid,
	    sizeof(out->standby[0].uuid), "");
	t = sqlite3_column_text(q, 1);
	if (t == NULL ||
	    sscanf((const char *)t, "%" SCNd64 " %lf",
	        &out->standby[out->nstandbys].snapshot,
	        &out->standby[out->nstandbys].pushed) != 2)
		return; /* not written by rdship */
	out->nstandbys++;
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
	if (each_row(st->db,
	        "SELECT dir, version, target, state, updated, m.value"
	        " FROM replicas LEFT JOIN meta m"
	        " ON m.key = 'replica_omitted:' || dir ORDER BY dir",
	        replica_row, out, err) == -1 ||
	    each_row(st->db,
	        "SELECT substr(key, 9), value FROM meta"
	        " WHERE key LIKE 'standby:%' ORDER BY key",
	        standby_row, out, err) == -1)
		goto out;
	ret = 0;
out:
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return ret;
}
