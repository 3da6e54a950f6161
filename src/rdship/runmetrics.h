/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * runmetrics.h: rdship push --metrics FILE (runmetrics.c).  "start"
 * checks the file's directory (or dies) and arranges for tool_die() to
 * write the file; "end" writes it with the exit status "status" and the
 * result "r" (set it once the push succeeded; NULL: it failed) and
 * returns "status".  "path" NULL: no metrics, both do nothing.
 */
#ifndef RDSHIP_RUNMETRICS_H
#define RDSHIP_RUNMETRICS_H

#include "redund.h"

struct push_metrics {
	const char *path, *store;
	double t0;
	const struct rd_ship_result *r;
};

void push_metrics_start(struct push_metrics *pm, const char *path,
    const char *store);
int push_metrics_end(struct push_metrics *pm, int status);

#endif /* RDSHIP_RUNMETRICS_H */
