/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * session.c: what both ends of a shipping session use: the check of a
 * peer's store id, the progress report, and the catalog queries over a
 * range of snapshots (which replica.c runs too).
 */
#include "config.h"

#include "ship/ship_int.h"

int
rdi_uuid_ok(const char *s)
{
	int i;

	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		               (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return s[36] == '\0';
}

void
rdi_ship_progress(const struct rd_ship_opts *o, struct rdi_chan *ch,
    int64_t total, double *last)
{
	double now;

	if (o->progress == NULL)
		return;
	now = rd_monotonic();
	if (now - *last < 0.1)
		return;
	*last = now;
	o->progress(o->progress_arg,
	    ch->bytes_out > ch->bytes_in ? ch->bytes_out : ch->bytes_in, total);
}

int
rdi_range_stmt(sqlite3 *db, const char *sql, int64_t lo, int64_t hi,
    sqlite3_stmt **q, struct rd_err *err)
{
	return rdi_db_query(db, q, err, sql, "ii", lo, hi);
}
