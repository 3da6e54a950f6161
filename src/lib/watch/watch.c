/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * watch.c: rdwatch's loop.  Every interval it runs a round of probes,
 * feeds each result to its target's rise/fall damper, writes results and
 * transitions as text or JSON lines, queues the hooks of each transition,
 * rewrites the Prometheus metrics file (temp file, fsync, rename), and
 * with --record writes results and transitions to a store's catalog
 * (watchlog.c), never waiting for it longer than a fraction of the
 * interval.  Hooks run one at a time per target, in the order of the
 * transitions, without holding up the probes.  Signals are taken
 * synchronously with sigtimedwait(), so no handler and no global state
 * is needed.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe_int.h"

extern char **environ;

/* Longest wait for a signal while hooks run, in case SIGCHLD is lost. */
#define HOOK_POLL 1.0

/* Longest wait for a busy catalog after a round, and at the end. */
#define RECORD_WAIT      0.2
#define RECORD_WAIT_LAST 2.0

/* ------------------------------------------------------------------ */
/* Rise/fall */

void
rd_damper_init(struct rd_damper *d, int fall, int rise)
{
	memset(d, 0, sizeof(*d));
	d->fall = fall < 1 ? 1 : fall;
	d->rise = rise < 1 ? 1 : rise;
	d->state = RD_PROBE_UNKNOWN;
}

int
rd_damper_feed(struct rd_damper *d, int result, int *previous)
{
	int old = d->state;

	if (result == RD_PROBE_UP) {
		if (d->successes < INT_MAX)
			d->successes++;
		d->failures = 0;
		if (d->successes >= d->rise)
			d->state = RD_PROBE_UP;
	} else if (result == RD_PROBE_DOWN) {
		if (d->failures < INT_MAX)
			d->failures++;
		d->successes = 0;
		if (d->failures >= d->fall)
			d->state = RD_PROBE_DOWN;
	}
	if (d->state == old)
		return 0;
	d->transitions++;
	if (previous != NULL)
		*previous = old;
	return 1;
}

/* ------------------------------------------------------------------ */
/* The watch */

struct hook {
	struct hook *next;
	const char *name; /* "on-down" */
	const char *command;
	int state, previous;
	char reason[256];
};

struct target {
	struct rd_probe *probe;
	struct rd_damper d;
	struct rd_probe_result last;
	int have_last;
	pid_t hook_pid; /* running hook, or -1 */
	const char *hook_name;
	struct hook *head, *tail; /* queued hooks */
};

struct rd_watch {
	struct rd_watch_opts o;
	size_t n;
	struct target *t;
	struct rd_probe **probes;
	struct rd_probe_result *res;
	FILE *out;
	int own_out; /* "out" was opened by us */
	struct rd_json *json;
	char out_fail[300]; /* last output failure, to report it once */
	char metrics_fail[300];
	struct rd_watchlog *log; /* --record, or NULL */
	double record_wait;      /* seconds, per round */
	char record_fail[300];   /* last recording failure reported */
	int64_t record_drops;    /* records dropped since it last worked */
};

static void notice(struct rd_watch *, const char *, ...) RD_PRINTF(2, 3);

static void
notice(struct rd_watch *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rdi_vnotice(w->o.notice, w->o.notice_arg, fmt, ap);
	va_end(ap);
}

/*
 * Open "path" for appending, close on exec.  Returns the stream, or NULL
 * with "err" set.
 */
static FILE *
open_output(const char *path, struct rd_err *err)
{
	FILE *fp;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd == -1) {
		rd_err_sys(err, RD_EIO, "cannot open '%s'", path);
		return NULL;
	}
	fp = fdopen(fd, "a");
	if (fp == NULL) {
		rd_err_sys(err, RD_ENOMEM, "cannot open '%s'", path);
		close(fd);
	}
	return fp;
}

int
rd_watch_new(struct rd_probe *const *probes, size_t n,
    const struct rd_watch_opts *opts, struct rd_watch **out, struct rd_err *err)
{
	struct rd_watch *w = NULL;
	size_t i, j;
	int ret = -1;

	if (n == 0 || !(opts->interval > 0) || !(opts->timeout > 0) ||
	    opts->fall < 1 || opts->rise < 1 || opts->count < 0) {
		rd_err_set(err, RD_EUSAGE, "invalid watch options");
		goto out;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++) {
			if (strcmp(rd_probe_spec(probes[i]),
			        rd_probe_spec(probes[j])) == 0) {
				rd_err_set(err, RD_EUSAGE,
				    "duplicate probe '%s'",
				    rd_probe_spec(probes[i]));
				goto out;
			}
		}
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	w->o = *opts;
	w->n = n;
	w->out = stdout;
	w->t = calloc(n, sizeof(*w->t));
	w->probes = calloc(n, sizeof(*w->probes));
	w->res = calloc(n, sizeof(*w->res));
	if (w->t == NULL || w->probes == NULL || w->res == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		w->probes[i] = probes[i];
		w->t[i].probe = probes[i];
		w->t[i].hook_pid = -1;
		rd_damper_init(&w->t[i].d, opts->fall, opts->rise);
	}
	if (opts->metrics != NULL &&
	    rd_metrics_check_path(opts->metrics, err) == -1)
		goto out;
	if (opts->output != NULL) {
		w->out = open_output(opts->output, err);
		if (w->out == NULL)
			goto out;
		w->own_out = 1;
	}
	if (opts->json && (w->json = rd_json_new(w->out)) == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	if (opts->record != NULL &&
	    rd_watchlog_open(opts->record, 0, &w->log, err) == -1)
		goto out;
	w->record_wait =
	    opts->interval / 4 < RECORD_WAIT ? opts->interval / 4 : RECORD_WAIT;
	*out = w;
	w = NULL;
	ret = 0;
out:
	rd_watch_free(w);
	return ret;
}

static void
drop_queue(struct target *t)
{
	struct hook *h;

	while ((h = t->head) != NULL) {
		t->head = h->next;
		free(h);
	}
	t->tail = NULL;
}

void
rd_watch_free(struct rd_watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; w->t != NULL && i < w->n; i++) {
		drop_queue(&w->t[i]);
	}
	rd_json_free(w->json);
	rd_watchlog_close(w->log);
	if (w->own_out && w->out != NULL)
		fclose(w->out);
	free(w->t);
	free(w->probes);
	free(w->res);
	free(w);
}

/* ------------------------------------------------------------------ */
/* Output */

/* Flush the output; report a failure once, until it works again. */
static void
flush_output(struct rd_watch *w)
{
	char msg[sizeof(w->out_fail)];

	if (fflush(w->out) == 0 && !ferror(w->out)) {
		w->out_fail[0] = '\0';
		return;
	}
	snprintf(msg, sizeof(msg), "cannot write %s%s%s: %s",
	    w->o.output != NULL ? "'" : "",
	    w->o.output != NULL ? w->o.output : "standard output",
	    w->o.output != NULL ? "'" : "", strerror(errno));
	clearerr(w->out);
	if (strcmp(msg, w->out_fail) != 0)
		notice(w, "%s", msg);
	snprintf(w->out_fail, sizeof(w->out_fail), "%s", msg);
}

/* SIGHUP: reopen the output file (after logrotate moved it). */
static void
reopen_output(struct rd_watch *w)
{
	struct rd_err err = RD_ERR_INIT;
	FILE *fp;

	if (w->o.output == NULL)
		return;
	fp = open_output(w->o.output, &err);
	if (fp == NULL) {
		notice(w, "%s", err.msg);
		return;
	}
	flush_output(w);
	if (fclose(w->out) == EOF)
		notice(w, "cannot close '%s': %s", w->o.output,
		    strerror(errno));
	w->out = fp;
	if (w->json != NULL) {
		rd_json_free(w->json);
		w->json = rd_json_new(fp);
		if (w->json == NULL) {
			/* keep going with text rather than stop watching */
			notice(w, "out of memory");
			w->o.json = 0;
		}
	}
}

static void
put_clean(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++)
		putc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, fp);
}

static void
print_result(struct rd_watch *w, const struct target *t, double when)
{
	char tbuf[40];

	if (w->o.json) {
		rd_probe_print_json(w->json, t->probe, &t->last, when);
		rd_json_line(w->json);
	} else if (w->o.verbose) {
		fprintf(w->out, "%s ",
		    rd_time_iso(when, 0, tbuf, sizeof(tbuf)));
		rd_probe_print(w->out, t->probe, &t->last);
		putc('\n', w->out);
	}
}

static void
print_transition(struct rd_watch *w, const struct target *t, int previous,
    const char *reason, double when)
{
	char tbuf[40];

	if (w->o.json) {
		rd_json_obj_begin(w->json, NULL);
		rd_json_str(w->json, "schema", "rdwatch/1");
		rd_json_str(w->json, "type", "transition");
		rd_json_str(w->json, "time",
		    rd_time_iso(when, 1, tbuf, sizeof(tbuf)));
		rd_json_str(w->json, "target", rd_probe_spec(t->probe));
		rd_json_str(w->json, "previous", rd_probe_state_name(previous));
		rd_json_str(w->json, "state", rd_probe_state_name(t->d.state));
		if (reason[0] != '\0')
			rd_json_str(w->json, "reason", reason);
		else
			rd_json_null(w->json, "reason");
		rd_json_int(w->json, "transitions", t->d.transitions);
		rd_json_obj_end(w->json);
		rd_json_line(w->json);
		return;
	}
	fprintf(w->out, "%s ", rd_time_iso(when, 0, tbuf, sizeof(tbuf)));
	put_clean(w->out, rd_probe_spec(t->probe));
	fprintf(w->out, " %s -> %s", rd_probe_state_name(previous),
	    rd_probe_state_name(t->d.state));
	if (reason[0] != '\0') {
		putc(' ', w->out);
		put_clean(w->out, reason);
	}
	putc('\n', w->out);
}

/* ------------------------------------------------------------------ */
/* Hooks */

static const char *const env_names[] = { "RDWATCH_TARGET=", "RDWATCH_STATE=",
	"RDWATCH_PREVIOUS=", "RDWATCH_REASON=" };
#define NENV (sizeof(env_names) / sizeof(env_names[0]))

static void
env_free(char **env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; i < NENV; i++)
		free(env[i]);
	free(env);
}

/*
 * Our environment with the hook's four variables first (replacing any
 * inherited ones).  Returns a vector for env_free(), or NULL.
 */
static char **
hook_env(const struct target *t, const struct hook *h)
{
	const char *val[NENV];
	char **env;
	size_t n = 0, i, j, len;

	val[0] = rd_probe_spec(t->probe);
	val[1] = rd_probe_state_name(h->state);
	val[2] = rd_probe_state_name(h->previous);
	val[3] = h->reason;
	while (environ[n] != NULL)
		n++;
	env = calloc(n + NENV + 1, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (i = 0; i < NENV; i++) {
		len = strlen(env_names[i]) + strlen(val[i]) + 1;
		env[i] = malloc(len);
		if (env[i] == NULL) {
			env_free(env);
			return NULL;
		}
		snprintf(env[i], len, "%s%s", env_names[i], val[i]);
	}
	for (j = 0, n = NENV; environ[j] != NULL; j++) {
		for (i = 0; i < NENV; i++)
			if (strncmp(environ[j], env_names[i],
			        strlen(env_names[i])) == 0)
				break;
		if (i == NENV)
			env[n++] = environ[j];
	}
	return env;
}

/* Start the next queued hook of "t" unless one is running. */
static void
start_hook(struct rd_watch *w, struct target *t)
{
	struct rd_err err = RD_ERR_INIT;
	struct hook *h;
	char **env;
	pid_t pid;

	while (t->hook_pid == -1 && (h = t->head) != NULL) {
		t->head = h->next;
		if (t->head == NULL)
			t->tail = NULL;
		env = hook_env(t, h);
		if (env == NULL)
			notice(w,
			    "cannot run --%s hook for '%s': out of memory",
			    h->name, rd_probe_spec(t->probe));
		else if (rdi_spawn_sh(h->command, env, 0, 1, &pid, &err) == -1)
			notice(w, "cannot run --%s hook for '%s': %s", h->name,
			    rd_probe_spec(t->probe), err.msg);
		else {
			t->hook_pid = pid;
			t->hook_name = h->name;
		}
		env_free(env);
		free(h);
	}
}

static void
queue_hook(struct rd_watch *w, struct target *t, const char *name,
    const char *command, int previous, const char *reason)
{
	struct hook *h;

	if (command == NULL)
		return;
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		notice(w, "cannot run --%s hook for '%s': out of memory", name,
		    rd_probe_spec(t->probe));
		return;
	}
	h->name = name;
	h->command = command;
	h->state = t->d.state;
	h->previous = previous;
	snprintf(h->reason, sizeof(h->reason), "%s", reason);
	if (t->tail != NULL)
		t->tail->next = h;
	else
		t->head = h;
	t->tail = h;
}

/* Collect finished hooks and start queued ones. */
static void
reap_hooks(struct rd_watch *w)
{
	struct target *t;
	char what[64];
	size_t i;
	pid_t r;
	int status;

	for (i = 0; i < w->n; i++) {
		t = &w->t[i];
		if (t->hook_pid != -1) {
			r = rdi_waitpid(t->hook_pid, &status, WNOHANG);
			if (r == 0)
				continue;
			if (r == t->hook_pid &&
			    !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
				rdi_wait_status(status, what, sizeof(what));
				notice(w, "--%s hook for '%s' failed: %s",
				    t->hook_name, rd_probe_spec(t->probe),
				    what);
			}
			t->hook_pid = -1;
		}
		start_hook(w, t);
	}
}

static int
hooks_busy(const struct rd_watch *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (w->t[i].hook_pid != -1 || w->t[i].head != NULL)
			return 1;
	return 0;
}

static void
drop_hooks(struct rd_watch *w)
{
	struct hook *h;
	size_t i, n = 0;

	for (i = 0; i < w->n; i++)
		for (h = w->t[i].head; h != NULL; h = h->next)
			n++;
	if (n == 0)
		return;
	notice(w, "%zu queued hook%s not run", n, n == 1 ? "" : "s");
	for (i = 0; i < w->n; i++)
		drop_queue(&w->t[i]);
}

/* ------------------------------------------------------------------ */
/* Metrics */

/* clang-format off */
static const struct rd_metric m_up = { "rdwatch_up", "gauge",
    "State of the target: 1 up, 0 down; the damped state once decided, else the last probe's result." };
static const struct rd_metric m_latency = { "rdwatch_latency_seconds", "gauge",
    "Duration of the last probe of the target." };
static const struct rd_metric m_failures = { "rdwatch_consecutive_failures", "gauge",
    "Failed probes of the target in a row." };
static const struct rd_metric m_transitions = { "rdwatch_transitions_total", "counter",
    "State changes of the target since rdwatch started." };
static const struct rd_metric m_snap_age = { "rdwatch_snapshot_age_seconds", "gauge",
    "Seconds since the newest complete snapshot of the store finished." };
static const struct rd_metric m_snap_id = { "rdwatch_snapshot_id", "gauge",
    "Id of the newest complete snapshot of the store." };
static const struct rd_metric m_lag = { "rdwatch_standby_lag_snapshots", "gauge",
    "Snapshots the standby store is behind its origin, as of the last ship." };
static const struct rd_metric m_lag_age = { "rdwatch_standby_lag_seconds", "gauge",
    "Seconds since the standby store last received a ship." };
static const struct rd_metric m_drill_age = { "rdwatch_drill_age_seconds", "gauge",
    "Seconds since the last drill of the store ended." };
static const struct rd_metric m_drill_ok = { "rdwatch_drill_success", "gauge",
    "1 if the last drill of the store passed, else 0." };
static const struct rd_metric m_rto = { "rdwatch_promotion_rto_seconds", "gauge",
    "Recovery time of the last successful promotion of the store: start to healthy." };
static const struct rd_metric m_rpo = { "rdwatch_promotion_rpo_seconds", "gauge",
    "Recovery point of the last successful promotion of the store: age of the snapshot promoted." };
static const struct rd_metric m_size = { "rdwatch_store_bytes", "gauge",
    "Size of the store on disk, packs and catalog, as rdsnap stats reports it." };
/* clang-format on */

/* The metric "def" of each target that has it; "value" says if it has. */
static int
per_target(struct rd_metrics *m, const struct rd_metric *def,
    struct rd_probe *const *probes, const struct rd_probe_result *res,
    const struct rd_damper *d, size_t n,
    int (*value)(const struct rd_probe_result *r, const struct rd_damper *d,
        double *v),
    struct rd_err *err)
{
	size_t i;
	double v;

	for (i = 0; i < n; i++)
		if (value(&res[i], d != NULL ? &d[i] : NULL, &v) &&
		    rd_metrics_add_label(m, def, "target",
		        rd_probe_spec(probes[i]), v, err) == -1)
			return -1;
	return 0;
}

static int
v_up(const struct rd_probe_result *r, const struct rd_damper *d, double *v)
{
	int state = d != NULL ? d->state : RD_PROBE_UNKNOWN;

	if (state == RD_PROBE_UNKNOWN)
		state = r->state;
	if (state != RD_PROBE_UP && state != RD_PROBE_DOWN)
		return 0;
	*v = state == RD_PROBE_UP;
	return 1;
}

static int
v_latency(const struct rd_probe_result *r, const struct rd_damper *d, double *v)
{
	(void)d;
	*v = r->latency;
	return r->state == RD_PROBE_UP || r->state == RD_PROBE_DOWN;
}

static int
v_failures(const struct rd_probe_result *r, const struct rd_damper *d,
    double *v)
{
	if (d != NULL)
		*v = d->failures;
	else
		*v = r->state == RD_PROBE_DOWN;
	return d != NULL || r->state == RD_PROBE_UP ||
	    r->state == RD_PROBE_DOWN;
}

static int
v_transitions(const struct rd_probe_result *r, const struct rd_damper *d,
    double *v)
{
	(void)r;
	if (d != NULL)
		*v = (double)d->transitions;
	return d != NULL;
}

#define HAVE_VALUE(fn, bit, expr)                                              \
	static int fn(const struct rd_probe_result *r,                         \
	    const struct rd_damper *d, double *v)                              \
	{                                                                      \
		(void)d;                                                       \
		*v = (double)(expr);                                           \
		return (r->have & (bit)) != 0;                                 \
	}
HAVE_VALUE(v_snap_age, RD_PROBE_HAVE_SNAPSHOT, r->snapshot_age)
HAVE_VALUE(v_snap_id, RD_PROBE_HAVE_SNAPSHOT, r->snapshot_id)
HAVE_VALUE(v_lag, RD_PROBE_HAVE_LAG, r->lag_snapshots)
HAVE_VALUE(v_lag_age, RD_PROBE_HAVE_LAG_AGE, r->lag_seconds)
HAVE_VALUE(v_drill_age, RD_PROBE_HAVE_DRILL, r->drill_age)
HAVE_VALUE(v_drill_ok, RD_PROBE_HAVE_DRILL, r->drill_ok)
HAVE_VALUE(v_rto, RD_PROBE_HAVE_RTO, r->rto)
HAVE_VALUE(v_rpo, RD_PROBE_HAVE_RPO, r->rpo)
HAVE_VALUE(v_size, RD_PROBE_HAVE_SIZE, r->store_bytes)

int
rd_probe_metrics(struct rd_metrics *m, struct rd_probe *const *probes,
    const struct rd_probe_result *res, const struct rd_damper *d, size_t n,
    struct rd_err *err)
{
	static const struct {
		const struct rd_metric *def;
		int (*value)(const struct rd_probe_result *,
		    const struct rd_damper *, double *);
	} table[] = {
		{ &m_up, v_up },
		{ &m_latency, v_latency },
		{ &m_failures, v_failures },
		{ &m_transitions, v_transitions },
		{ &m_snap_age, v_snap_age },
		{ &m_snap_id, v_snap_id },
		{ &m_lag, v_lag },
		{ &m_lag_age, v_lag_age },
		{ &m_drill_age, v_drill_age },
		{ &m_drill_ok, v_drill_ok },
		{ &m_rto, v_rto },
		{ &m_rpo, v_rpo },
		{ &m_size, v_size },
	};
	size_t k;

	for (k = 0; k < sizeof(table) / sizeof(table[0]); k++)
		if (per_target(m, table[k].def, probes, res, d, n,
		        table[k].value, err) == -1)
			return -1;
	return 0;
}

/* Replace the metrics file with the state of every target. */
static int
write_metrics(struct rd_watch *w, struct rd_err *err)
{
	struct rd_metrics *m = NULL;
	struct rd_damper *d = NULL;
	size_t i;
	int ret = -1;

	m = rd_metrics_new();
	d = calloc(w->n, sizeof(*d));
	if (m == NULL || d == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < w->n; i++)
		d[i] = w->t[i].d;
	if (rd_probe_metrics(m, w->probes, w->res, d, w->n, err) == -1 ||
	    rd_metrics_write(m, w->o.metrics, err) == -1)
		goto out;
	ret = 0;
out:
	free(d);
	rd_metrics_free(m);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Recording */

/* Count what a queue call dropped, and say so once per bad spell. */
static void
record_queued(struct rd_watch *w, int rc, const struct rd_err *err)
{
	if (rc == -1) {
		notice(w, "cannot record in store '%s': %s", w->o.record,
		    err->msg);
		return;
	}
	if (rc == 0)
		return;
	if (w->record_drops == 0)
		notice(w,
		    "cannot record in store '%s' for now: dropping the oldest unwritten records",
		    w->o.record);
	w->record_drops++;
}

static void
record_result(struct rd_watch *w, const struct target *t, double when)
{
	struct rd_err err = RD_ERR_INIT;

	if (w->log != NULL)
		record_queued(w,
		    rd_watchlog_result(w->log, rd_probe_spec(t->probe), when,
		        &t->last, &err),
		    &err);
}

static void
record_transition(struct rd_watch *w, const struct target *t, int previous,
    int state, const char *reason, double when)
{
	struct rd_err err = RD_ERR_INIT;

	if (w->log != NULL)
		record_queued(w,
		    rd_watchlog_transition(w->log, rd_probe_spec(t->probe),
		        when, previous, state, reason, &err),
		    &err);
}

/*
 * Write the queued records, waiting at most "wait" seconds for a busy
 * catalog.  Busy is not a failure: the records wait for the next round.
 * Other failures are reported once, until recording works again.
 */
static void
record_flush(struct rd_watch *w, double wait)
{
	struct rd_err err = RD_ERR_INIT;

	if (w->log == NULL)
		return;
	if (rd_watchlog_flush(w->log, wait, &err) == 0) {
		if (w->record_drops > 0)
			notice(w,
			    "recording in store '%s' again; %lld unwritten records were dropped",
			    w->o.record, (long long)w->record_drops);
		else if (w->record_fail[0] != '\0')
			notice(w, "recording in store '%s' again", w->o.record);
		w->record_fail[0] = '\0';
		w->record_drops = 0;
		return;
	}
	if (err.code == RD_EBUSY)
		return;
	if (strcmp(err.msg, w->record_fail) != 0)
		notice(w, "%s", err.msg);
	snprintf(w->record_fail, sizeof(w->record_fail), "%s", err.msg);
}

/*
 * The end of the watch: a transition to unknown for every decided target
 * (so that a report does not count the time rdwatch was not running), and
 * a last chance for the queue to drain.
 */
static void
record_stop(struct rd_watch *w)
{
	struct rd_err err = RD_ERR_INIT;
	double when = rd_now();
	size_t i, nres, ntr;

	if (w->log == NULL)
		return;
	for (i = 0; i < w->n; i++)
		if (w->t[i].d.state != RD_PROBE_UNKNOWN)
			record_transition(w, &w->t[i], w->t[i].d.state,
			    RD_PROBE_UNKNOWN, "rdwatch stopped", when);
	if (rd_watchlog_flush(w->log, RECORD_WAIT_LAST, &err) == 0)
		return;
	rd_watchlog_pending(w->log, &nres, &ntr);
	notice(w, "%s; %zu result%s and %zu transition%s not recorded", err.msg,
	    nres, nres == 1 ? "" : "s", ntr, ntr == 1 ? "" : "s");
}

/* ------------------------------------------------------------------ */
/* The loop */

static void
transition(struct rd_watch *w, struct target *t, int previous, double when)
{
	const char *reason = t->d.state == RD_PROBE_DOWN ? t->last.reason : "";

	print_transition(w, t, previous, reason, when);
	if (w->o.transition != NULL)
		w->o.transition(w->o.transition_arg, rd_probe_spec(t->probe),
		    rd_probe_state_name(previous),
		    rd_probe_state_name(t->d.state), reason);
	record_transition(w, t, previous, t->d.state, reason, when);
	if (t->d.state == RD_PROBE_UP)
		queue_hook(w, t, "on-up", w->o.on_up, previous, reason);
	else
		queue_hook(w, t, "on-down", w->o.on_down, previous, reason);
	queue_hook(w, t, "on-change", w->o.on_change, previous, reason);
	start_hook(w, t);
}

static int
run_round(struct rd_watch *w, struct rd_err *err)
{
	struct rd_err merr = RD_ERR_INIT;
	struct target *t;
	double when = rd_now();
	size_t i;
	int previous;

	if (rd_probe_round(w->probes, w->n, w->o.timeout, w->res, err) == -1)
		return -1;
	for (i = 0; i < w->n; i++) {
		t = &w->t[i];
		t->last = w->res[i];
		t->have_last = 1;
		if (t->last.state == RD_PROBE_ERROR)
			notice(w, "%s: %s", rd_probe_spec(t->probe),
			    t->last.reason);
		print_result(w, t, when);
		record_result(w, t, when);
		if (rd_damper_feed(&t->d, t->last.state, &previous))
			transition(w, t, previous, when);
	}
	flush_output(w);
	record_flush(w, w->record_wait);
	if (w->o.metrics == NULL)
		return 0;
	if (write_metrics(w, &merr) == -1) {
		if (strcmp(merr.msg, w->metrics_fail) != 0)
			notice(w, "%s", merr.msg);
		snprintf(w->metrics_fail, sizeof(w->metrics_fail), "%s",
		    merr.msg);
	} else if (w->metrics_fail[0] != '\0') {
		notice(w, "metrics written again to '%s'", w->o.metrics);
		w->metrics_fail[0] = '\0';
	}
	return 0;
}

/*
 * Wait for a signal of "set" until "until" (rd_monotonic() seconds) at
 * the latest, then handle it and any others pending, and reap hooks.
 * SIGTERM and SIGINT set "*stop".  Returns 0 or -1.
 */
static int
take_signals(struct rd_watch *w, const sigset_t *set, double until, int *stop,
    struct rd_err *err)
{
	struct timespec ts;
	double left;
	int sig, first = 1;

	for (;;) {
		left = first ? until - rd_monotonic() : 0;
		if (left < 0)
			left = 0;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		sig = sigtimedwait(set, NULL, &ts);
		if (sig == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return rd_err_sys(err, RD_EINTERNAL,
				    "cannot wait for signals");
			break;
		}
		first = 0;
		if (sig == SIGTERM || sig == SIGINT)
			*stop = 1;
		else if (sig == SIGHUP)
			reopen_output(w);
	}
	reap_hooks(w);
	return 0;
}

int
rd_watch_run(struct rd_watch *w, struct rd_err *err)
{
	sigset_t set, old;
	int64_t rounds = 0;
	double next, now;
	int stop = 0, ret = -1, rc;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	rc = pthread_sigmask(SIG_BLOCK, &set, &old);
	if (rc != 0) {
		errno = rc;
		return rd_err_sys(err, RD_EINTERNAL, "cannot block signals");
	}
	next = rd_monotonic();
	for (;;) {
		if (run_round(w, err) == -1)
			goto out;
		rounds++;
		if (w->o.count > 0 && rounds >= w->o.count)
			break;
		/* a fixed rate; rounds that overran are not made up */
		next += w->o.interval;
		now = rd_monotonic();
		if (next < now)
			next = now;
		do {
			if (take_signals(w, &set, next, &stop, err) == -1)
				goto out;
		} while (!stop && rd_monotonic() < next);
		if (stop)
			break;
	}
	/* the transitions are all reported; let their hooks finish */
	for (;;) {
		if (stop)
			drop_hooks(w);
		reap_hooks(w);
		if (!hooks_busy(w))
			break;
		if (take_signals(w, &set, rd_monotonic() + HOOK_POLL, &stop,
		        err) == -1)
			goto out;
	}
	flush_output(w);
	record_stop(w);
	ret = 0;
out:
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}
