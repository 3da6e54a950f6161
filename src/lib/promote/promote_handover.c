/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * promote_handover.c: the handover step of a planned switchover
 * (rdpromote --switchover).  The primary is up and serving when it
 * begins: --primary-stop stops its writers, --final-snapshot takes and
 * ships the snapshot after the last write, labelled with a name only
 * this promotion knows (RDPROMOTE_FINAL_LABEL), and the standby promotes
 * that snapshot only if it holds it and it is the primary's newest: no
 * acknowledged write is left behind (RPO 0).  Anything less is refused
 * before the fence, so this standby is as it was.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promote/promote_int.h"

static int refuse(struct rdi_pctx *c, const char *fmt, ...) RD_PRINTF(2, 3);

/*
 * Refuse the switchover: "fmt" says why, then what the operator must
 * know, the primary's service being stopped (or, when --primary-stop
 * itself failed, perhaps stopped).  Returns 1.
 */
static int
refuse(struct rdi_pctx *c, const char *fmt, ...)
{
	char *m = c->res->message;
	size_t n = sizeof(c->res->message), len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, n, fmt, ap);
	va_end(ap);
	len = strlen(m);
	snprintf(m + len, n - len,
	    "; nothing was changed on this standby; the primary's service %s (by '%.512s'): start it again on the primary",
	    c->stop_failed ? "may be partly stopped" : "is STOPPED",
	    c->o.primary_stop);
	c->res->refused_code = RD_EUNAVAIL;
	return 1;
}

int
rdi_pc_handover_init(struct rdi_pctx *c, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int r;

	if (!c->o.switchover)
		return 0;
	c->res->switchover = 1;
	if (c->o.dry_run) /* no promotion yet: no id */
		snprintf(c->res->final_label, sizeof(c->res->final_label),
		    "switchover-%s-ID", c->st->info.uuid);
	else
		snprintf(c->res->final_label, sizeof(c->res->final_label),
		    "switchover-%s-%lld", c->st->info.uuid, (long long)c->id);
	if (!c->begun[RDI_S_HANDOVER] || c->o.dry_run)
		return 0;
	/* the stop command ran first thing in the step: its start */
	if (rdi_db_query(c->st->db, &q, err,
	        "SELECT started FROM promotion_steps"
	        " WHERE promotion = ? AND step = 'handover'",
	        "i", c->id) == -1)
		return -1;
	r = rdi_db_step(c->st->db, q, err);
	if (r == 1)
		c->res->stop_at = sqlite3_column_double(q, 0);
	sqlite3_finalize(q);
	if (r == -1)
		return -1;
	if (c->done[RDI_S_HANDOVER]) {
		/* the checks measured the snapshot's age: no data is lost */
		c->res->rpo = 0;
		c->res->given_up = 0;
		c->res->exact = 1;
		c->res->failed_at = c->res->stop_at;
	}
	return 0;
}

/* Run hook "cmd" (option "name"); a failure refuses.  Returns 0, 1, -1. */
static int
handover_hook(struct rdi_pctx *c, const char *name, const char *cmd,
    struct rd_err *err)
{
	char why[128];
	int r;

	r = rdi_pc_hook(c, cmd, NULL, why, sizeof(why), err);
	if (r != 1)
		return r;
	c->stop_failed = cmd == c->o.primary_stop;
	return refuse(c, "switchover refused: the %s command failed (%s)", name,
	    why);
}

/*
 * Is the newest snapshot here the primary's final one?  Fills "c->si".
 * Returns 0, 1 (refused), -1.
 */
static int
confirm_final(struct rdi_pctx *c, struct rd_err *err)
{
	char buf[64];
	int64_t origin_newest;

	if (rd_snap_get(c->st, 0, &c->si, err) == -1) {
		if (err->code != RD_ENOENT)
			return -1;
		rd_err_clear(err);
		memset(&c->si, 0, sizeof(c->si));
	}
	if (rdi_meta_get(c->st->db, "origin_newest", buf, sizeof(buf), err) ==
	    -1)
		return -1;
	origin_newest = strtoll(buf, NULL, 10);
	if (c->si.id == 0 || strcmp(c->si.label, c->res->final_label) != 0) {
		return refuse(c,
		    "switchover refused: the final snapshot did not reach this standby (its newest, snapshot %lld, is not labelled '%s': the --final-snapshot command must run 'rdsnap create --label \"$RDPROMOTE_FINAL_LABEL\"' and push it here)",
		    (long long)c->si.id, c->res->final_label);
	}
	if (origin_newest != c->si.id) {
		return refuse(c,
		    "switchover refused: the primary has snapshot %lld, not the final snapshot %lld this standby holds",
		    (long long)origin_newest, (long long)c->si.id);
	}
	return 0;
}

/* Promote snapshot "c->si" from now on; no data is given up.  0 or -1. */
static int
adopt_final(struct rdi_pctx *c, struct rd_err *err)
{
	struct rd_promote_result *res = c->res;

	c->have_si = 1;
	res->version = c->si.id;
	res->snap_time = c->si.finished;
	res->partial = c->si.partial;
	res->inconsistent = c->si.inconsistent;
	res->data_time = (double)c->si.finished;
	res->rpo = 0;
	res->given_up = 0;
	res->exact = 1;
	res->failed_at = res->stop_at;
	return rdi_pj_set_int(c->st->db, c->id, "version", c->si.id, 0, err);
}

int
rdi_pc_handover(struct rdi_pctx *c, struct rd_err *err)
{
	struct rd_err e2 = RD_ERR_INIT;
	int r;

	c->res->stop_at = rd_now();
	r = handover_hook(c, "--primary-stop", c->o.primary_stop, err);
	if (r != 0)
		return r;
	/* its push lands here: let that writer in while it runs */
	rdi_store_unlock(c->st);
	r = handover_hook(c, "--final-snapshot", c->o.final_snapshot, err);
	if (rdi_store_relock(c->st, c->o.hook_timeout, &e2) == -1) {
		*err = e2;
		return -1;
	}
	if (r != 0)
		return r;
	r = confirm_final(c, err);
	if (r != 0)
		return r;
	if ((c->si.partial > 0 || c->si.inconsistent > 0) &&
	    !c->o.allow_partial) {
		return refuse(c,
		    "switchover refused: the final snapshot %lld is PARTIAL (%lld paths kept an older version, %lld files changed while read): promote it only with --allow-partial",
		    (long long)c->si.id, (long long)c->si.partial,
		    (long long)c->si.inconsistent);
	}
	return adopt_final(c, err);
}

void
rdi_pc_handover_plan(struct rdi_pctx *c, char *b, size_t n)
{
	snprintf(b, n,
	    "switchover: run --primary-stop (%s), then --final-snapshot (%s) with RDPROMOTE_FINAL_LABEL=%s (ID: this promotion's); promote the snapshot it ships only if this standby holds it and it is the primary's newest",
	    c->o.primary_stop, c->o.final_snapshot, c->res->final_label);
}

void
rdi_pc_handover_did(struct rdi_pctx *c, char *b, size_t n)
{
	snprintf(b, n,
	    "the primary's service stopped; its final snapshot %lld (%s) is here and is its newest: RPO 0",
	    (long long)c->res->version, c->res->final_label);
}
