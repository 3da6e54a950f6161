/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * runmetrics.c: rdsnap create --metrics FILE: a Prometheus textfile
 * written when the run ends, whether it made a snapshot or failed, so
 * that an alert can fire on a failed or missing backup.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "rdsnap.h"

/* clang-format off */
static const struct rd_run_defs create_defs = {
	{ "rdsnap_create_exit_status", "gauge",
	  "Exit status of the last rdsnap create run (0 done, 3 done with omissions)." },
	{ "rdsnap_create_success", "gauge",
	  "1 if the last rdsnap create run made a snapshot (exit status 0 or 3), else 0." },
	{ "rdsnap_create_duration_seconds", "gauge",
	  "How long the last rdsnap create run took, hooks included." },
	{ "rdsnap_create_end_timestamp_seconds", "gauge",
	  "Unix time the last rdsnap create run ended." },
	{ "rdsnap_create_last_success_timestamp_seconds", "gauge",
	  "Unix time the newest complete snapshot of the store finished." },
	{ "rdsnap_create_snapshot_id", "gauge",
	  "Id of the snapshot the last rdsnap create run made." },
	{ "rdsnap_create_files", "gauge",
	  "Entries of every type in the snapshot made." },
	{ "rdsnap_create_bytes", "gauge",
	  "Sum of the regular file sizes in the snapshot made." },
};
/* clang-format on */

void
create_metrics_start(struct create_metrics *cm, const char *path,
    const char *store)
{
	struct rd_err err = RD_ERR_INIT;

	memset(cm, 0, sizeof(*cm));
	cm->path = path;
	cm->store = store;
	cm->t0 = rd_monotonic();
	if (path == NULL)
		return;
	if (rd_metrics_check_path(path, &err) == -1)
		tool_die_err(&err);
	tool_on_die(create_metrics_die, cm);
}

/* When the newest complete snapshot of the store finished, or 0. */
static double
last_success(const char *store)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;
	struct rd_snapinfo si;
	double t = 0;

	if (rd_store_open(store, RD_OPEN_READ, 0, &st, &err) == -1)
		return 0;
	if (rd_snap_get(st, 0, &si, &err) == 0)
		t = (double)si.finished;
	rd_store_close(st);
	return t;
}

int
create_metrics_end(struct create_metrics *cm, int status)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_metrics *m;
	struct rd_run run;

	if (cm->path == NULL)
		return status;
	tool_on_die(NULL, NULL);
	memset(&run, 0, sizeof(run));
	run.status = status;
	run.seconds = rd_monotonic() - cm->t0;
	run.end = rd_now();
	run.files = run.bytes = -1;
	if (cm->si != NULL) {
		run.snapshot = cm->si->id;
		run.files = cm->si->files;
		run.bytes = cm->si->bytes;
		run.last_success = (double)cm->si->finished;
	} else {
		run.last_success = last_success(cm->store);
	}
	m = rd_metrics_new();
	if (m == NULL)
		tool_die(EX_OSERR, "out of memory");
	if (rd_metrics_run(m, &create_defs, cm->store, &run, &err) == -1 ||
	    rd_metrics_write(m, cm->path, &err) == -1)
		tool_warn("%s", err.msg);
	rd_metrics_free(m);
	return status;
}

void
create_metrics_die(void *arg, int status)
{
	create_metrics_end(arg, status);
}
