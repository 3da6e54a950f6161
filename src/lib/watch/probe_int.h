/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe_int.h: what the probe kinds share inside librd: the parsed probe,
 * the table entry of a kind, and helpers to fill results and run shell
 * commands.  Adding a probe kind means a parse and a run function and one
 * entry in the table of probe.c.
 */
#ifndef PROBE_INT_H
#define PROBE_INT_H

#include <sys/types.h>
#include <stdatomic.h>

#include "rd_int.h"
#include "cluster/cluster_int.h"

struct rd_probe;

struct rdi_probe_kind {
	const char *prefix; /* "tcp://", matched at the start of a spec */
	const char *name;   /* "tcp" */
	/*
	 * Parse "rest" (the spec after the prefix) into "p".  On failure
	 * write the reason, such as "missing port", to "why" and return -1.
	 */
	int (*parse)(struct rd_probe *p, const char *rest, char *why,
	    size_t whylen);
	/*
	 * Probe once; give up at "deadline" (rd_monotonic() seconds), which
	 * is "timeout" seconds after the start.  Fills "res" except
	 * "latency".  Runs in its own thread, concurrently with other probes.
	 */
	void (*run)(const struct rd_probe *p, double deadline, double timeout,
	    struct rd_probe_result *res);
};

struct rd_probe {
	const struct rdi_probe_kind *kind;
	char *spec;      /* as given */
	atomic_int refs; /* the owner and every round still using it */
	atomic_int busy; /* a run is in progress */
	char *host;      /* tcp, http: name or address, no brackets */
	char *port;      /* tcp, http: decimal */
	char *hostport;  /* http: the Host header value */
	char *path;      /* http: request target; file: the path */
	char *command;   /* exec: the shell command */
	char *contains;  /* http: required body substring, or NULL */
	int expect;      /* http: required status, or 0 for any 2xx */
	double max_age;  /* file, snapshot, lag, drill: seconds, or 0 */
	char *store;     /* snapshot, lag, drill: the store's path */
	int64_t max_lag; /* lag: snapshots the standby may be behind */
	double max_rpo;  /* lag: age of its newest snapshot's data, or 0 */
};

/* One "name=value" option of a spec's query, split in place. */
struct rdi_probe_opt {
	char *name;
	char *value;
};

/*
 * Split "query" (modified) at '&' into at most "max" options, and
 * percent-decode the values.  Returns the number of options, or -1 with
 * "why" set.
 */
int rdi_probe_opts(char *query, struct rdi_probe_opt *opts, int max, char *why,
    size_t whylen);

/*
 * Parse a duration with an optional unit (s, m, h, d, w) into "*out".
 * Returns 0, or -1 if "s" is not a finite number of seconds above 0.
 */
int rdi_probe_seconds(const char *s, double *out);

/* Result helpers: the reason is printf-formatted. */
void rdi_probe_down(struct rd_probe_result *res, const char *fmt, ...)
    RD_PRINTF(2, 3);
void rdi_probe_error(struct rd_probe_result *res, enum rd_code code,
    const char *fmt, ...) RD_PRINTF(3, 4);
/* Down with "timeout after T s". */
void rdi_probe_timeout(struct rd_probe_result *res, double timeout);
/* Down with strerror("errnum"), its first letter in lower case. */
void rdi_probe_down_errno(struct rd_probe_result *res, const char *prefix,
    int errnum);

/* Kinds (probe_net.c, probe_exec.c). */
int rdi_probe_tcp_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen);
void rdi_probe_tcp_run(const struct rd_probe *p, double deadline,
    double timeout, struct rd_probe_result *res);
int rdi_probe_http_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen);
void rdi_probe_http_run(const struct rd_probe *p, double deadline,
    double timeout, struct rd_probe_result *res);
void rdi_probe_exec_run(const struct rd_probe *p, double deadline,
    double timeout, struct rd_probe_result *res);

/* Kinds that read a store's catalog (probe_store.c). */
int rdi_probe_snapshot_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen);
void rdi_probe_snapshot_run(const struct rd_probe *p, double deadline,
    double timeout, struct rd_probe_result *res);
int rdi_probe_lag_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen);
void rdi_probe_lag_run(const struct rd_probe *p, double deadline,
    double timeout, struct rd_probe_result *res);
int rdi_probe_drill_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen);
void rdi_probe_drill_run(const struct rd_probe *p, double deadline,
    double timeout, struct rd_probe_result *res);

/* probe_etcd.c: etcd:URLS?cluster=NAME[&primary=UUID] (endpoints in
 * "store", the cluster in "command", the expected primary in "path") */
int rdi_probe_etcd_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen);
void rdi_probe_etcd_run(const struct rd_probe *p, double deadline,
    double timeout, struct rd_probe_result *res);

#endif /* PROBE_INT_H */
