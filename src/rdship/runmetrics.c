/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * runmetrics.c: rdship push --metrics FILE: a Prometheus textfile
 * written when the push ends, whether it succeeded or failed, so that an
 * alert can fire on a standby that stopped being fed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "runmetrics.h"
#include "tool.h"

/* clang-format off */
static const struct rd_run_defs push_defs = {
	{ "rdship_push_exit_status", "gauge",
	  "Exit status of the last rdship push run." },
	{ "rdship_push_success", "gauge",
	  "1 if the last rdship push run succeeded, else 0." },
	{ "rdship_push_duration_seconds", "gauge",
	  "How long the last rdship push run took." },
	{ "rdship_push_end_timestamp_seconds", "gauge",
	  "Unix time the last rdship push run ended." },
	{ "rdship_push_last_success_timestamp_seconds", "gauge",
	  "Unix time of the last push that a standby of the store confirmed." },
	{ "rdship_push_snapshot_id", "gauge",
	  "Newest snapshot the standby holds after the last rdship push run." },
	{ "rdship_push_objects", "gauge",
	  "Objects (file contents) the last rdship push run shipped." },
	{ "rdship_push_bytes", "gauge",
	  "Bytes the last rdship push run wrote to the stream." },
};
/* clang-format on */

static void
push_metrics_die(void *arg, int status)
{
	push_metrics_end(arg, status);
}

void
push_metrics_start(struct push_metrics *pm, const char *path, const char *store)
{
	struct rd_err err = RD_ERR_INIT;

	memset(pm, 0, sizeof(*pm));
	pm->path = path;
	pm->store = store;
	pm->t0 = rd_monotonic();
	if (path == NULL)
		return;
	if (rd_metrics_check_path(path, &err) == -1)
		tool_die_err(&err);
	tool_on_die(push_metrics_die, pm);
}

/* The latest push a standby of the store confirmed, unix time, or 0. */
static double
last_success(const char *store)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	struct rd_ship_status *s;
	double t = 0;
	int i;

	s = tool_xmalloc(sizeof(*s));
	if (rd_store_open(store, RD_OPEN_READ, 0, &st, &err) == 0 &&
	    rd_ship_status(st, s, &err) == 0)
		for (i = 0; i < s->nstandbys; i++)
			if (s->standby[i].pushed > t)
				t = s->standby[i].pushed;
	rd_store_close(st);
	free(s);
	return t;
}

int
push_metrics_end(struct push_metrics *pm, int status)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_metrics *m;
	struct rd_run run;

	if (pm->path == NULL)
		return status;
	tool_on_die(NULL, NULL);
	memset(&run, 0, sizeof(run));
	run.status = status;
	run.seconds = rd_monotonic() - pm->t0;
	run.end = rd_now();
	run.files = run.bytes = -1;
	if (pm->r != NULL) {
		run.snapshot = pm->r->newest;
		run.files = pm->r->objects;
		run.bytes = pm->r->wire_bytes;
	}
	run.last_success = last_success(pm->store);
	m = rd_metrics_new();
	if (m == NULL)
		tool_die(EX_OSERR, "out of memory");
	if (rd_metrics_run(m, &push_defs, pm->store, &run, &err) == -1 ||
	    rd_metrics_write(m, pm->path, &err) == -1)
		tool_warn("%s", err.msg);
	rd_metrics_free(m);
	return status;
}
