/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe_etcd.c: the cluster probe, etcd:URLS?cluster=NAME[&primary=UUID].
 * It reads the cluster's primary key in etcd (a linearizable read, so a
 * member without quorum cannot answer) and is up when etcd names a
 * primary whose claim is confirmed (epoch above 0), and, with
 * "primary", when that primary is the given store.  Down says what etcd
 * says, or why it could not be asked.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch/probe_int.h"

int
rdi_probe_etcd_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen)
{
	struct rdi_probe_opt opts[4];
	struct rdi_etcd ec;
	struct rd_err err = RD_ERR_INIT;
	char *q;
	int i, n;

	p->store = strdup(rest); /* the endpoints */
	if (p->store == NULL)
		return -2;
	q = strchr(p->store, '?');
	if (q == NULL) {
		snprintf(why, whylen, "missing ?cluster=NAME");
		return -1;
	}
	*q++ = '\0';
	if (rdi_etcd_init(&ec, p->store, 1, &err) == -1) {
		snprintf(why, whylen, "%s", err.msg);
		return -1;
	}
	n = rdi_probe_opts(q, opts, 4, why, whylen);
	if (n == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(opts[i].name, "cluster") == 0 &&
		    rdi_cluster_name_ok(opts[i].value)) {
			free(p->command);
			p->command = strdup(opts[i].value);
			if (p->command == NULL)
				return -2;
		} else if (strcmp(opts[i].name, "primary") == 0 &&
		    strlen(opts[i].value) == 36) {
			free(p->path);
			p->path = strdup(opts[i].value);
			if (p->path == NULL)
				return -2;
		} else {
			snprintf(why, whylen,
			    "invalid option '%s' (expected cluster=NAME and primary=UUID)",
			    opts[i].name);
			return -1;
		}
	}
	if (p->command == NULL) {
		snprintf(why, whylen, "missing ?cluster=NAME");
		return -1;
	}
	return 0;
}

void
rdi_probe_etcd_run(const struct rd_probe *p, double deadline, double timeout,
    struct rd_probe_result *res)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_etcd ec;
	struct rdi_leader l;
	struct rdi_kv kv;
	double left = deadline - rd_monotonic();
	int r;

	(void)timeout;
	if (left <= 0) {
		rdi_probe_timeout(res, timeout);
		return;
	}
	if (rdi_etcd_init(&ec, p->store, 1, &err) == -1) {
		rdi_probe_error(res, err.code, "%s", err.msg);
		return;
	}
	/* every endpoint may be tried: share what is left between them */
	ec.timeout = left / ec.n;
	r = rdi_leader_get(&ec, p->command, &l, &kv, &err);
	if (r == -1) {
		rdi_probe_down(res, "%s", err.msg);
		return;
	}
	if (r == 0) {
		rdi_probe_down(res, "etcd names no primary for cluster '%s'",
		    p->command);
		return;
	}
	if (l.epoch == 0) {
		rdi_probe_down(res,
		    "%s claimed cluster '%s' but its promotion has not confirmed an epoch",
		    l.uuid, p->command);
		return;
	}
	if (p->path != NULL && strcmp(p->path, l.uuid) != 0) {
		rdi_probe_down(res,
		    "etcd names %s (epoch %lld) as the primary of cluster '%s', not %s",
		    l.uuid, (long long)l.epoch, p->command, p->path);
		return;
	}
	res->state = RD_PROBE_UP;
}
