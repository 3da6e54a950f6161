/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * drill.c: the drill records, read back.  A drill (rdpromote --drill) is
 * a row of the promotions journal that promote/ writes in the catalog
 * (format 3).  rd_drill_last() finds the last drill that passed; the
 * drill probe (watch/) reads it, and promote/ may: it needs only the
 * catalog, so it sits in the store layer, below both.
 */
#include "config.h"

#include <string.h>

#include "rd_int.h"

int
rd_drill_last(struct rd_store *st, struct rd_drill_info *out,
    struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (rdi_db_prepare(st->db,
	        "SELECT id, version, finished, rto, rpo FROM promotions"
	        " WHERE kind = 'drill' AND state = 'done'"
	        " AND validated = 1 AND finished IS NOT NULL"
	        " ORDER BY finished DESC, id DESC LIMIT 1",
	        &s, err) == -1)
		return -1;
	r = rdi_db_step(st->db, s, err);
	if (r == 1) {
		out->id = sqlite3_column_int64(s, 0);
		out->version = sqlite3_column_int64(s, 1);
		out->finished = sqlite3_column_double(s, 2);
		out->rto = sqlite3_column_type(s, 3) != SQLITE_NULL
		    ? sqlite3_column_double(s, 3)
		    : -1;
		out->rpo = sqlite3_column_type(s, 4) != SQLITE_NULL
		    ? sqlite3_column_double(s, 4)
		    : -1;
	}
	sqlite3_finalize(s);
	return r;
}

int
rd_promotion_last(struct rd_store *st, int drill, int done_only,
    struct rd_promotion_last *out, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *state;
	int r;

	if (rdi_db_prepare(st->db,
	        "SELECT id, finished, state, validated, rto, rpo"
	        " FROM promotions WHERE kind = ?1"
	        " AND state IN ('done', 'failed', 'aborted')"
	        " AND (?2 = 0 OR state = 'done')"
	        " AND finished IS NOT NULL"
	        " ORDER BY finished DESC, id DESC LIMIT 1",
	        &s, err) == -1)
		return -1;
	if (rdi_db_bind(st->db, s, err, "ti", drill ? "drill" : "promote",
	        (int64_t)(done_only != 0)) == -1) {
		sqlite3_finalize(s);
		return -1;
	}
	r = rdi_db_step(st->db, s, err);
	if (r == 1) {
		out->id = sqlite3_column_int64(s, 0);
		out->finished = sqlite3_column_double(s, 1);
		state = sqlite3_column_text(s, 2);
		out->ok = state != NULL &&
		    strcmp((const char *)state, "done") == 0 &&
		    (!drill || sqlite3_column_int(s, 3) == 1);
		out->rto = sqlite3_column_type(s, 4) != SQLITE_NULL
		    ? sqlite3_column_double(s, 4)
		    : -1;
		out->rpo = sqlite3_column_type(s, 5) != SQLITE_NULL
		    ? sqlite3_column_double(s, 5)
		    : -1;
	}
	sqlite3_finalize(s);
	return r;
}
