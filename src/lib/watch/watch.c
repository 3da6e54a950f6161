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
/* Prometheus text format */

/*
 * Length of the valid UTF-8 sequence at "s" (no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0.
 */
static size_t
utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

char *
rd_prom_escape(const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	char *out, *w;
	size_t n;

	out = malloc(strlen(in) * 3 + 1);
	if (out == NULL)
		return NULL;
	w = out;
	while (*s != '\0') {
		if (*s == '\\' || *s == '"') {
			*w++ = '\\';
			*w++ = (char)*s++;
		} else if (*s == '\n') {
			*w++ = '\\';
			*w++ = 'n';
			s++;
		} else if ((n = utf8_len(s)) == 0) {
			memcpy(w, "\xef\xbf\xbd", 3);
			w += 3;
			s++;
		} else {
			memcpy(w, s, n);
			w += n;
			s += n;
		}
	}
	*w = '\0';
	return out;
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
	char *label; /* target escaped for metrics */
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
	int mdir;           /* metrics directory, or -1 */
	char *mdirname;
	char *mbase; /* metrics file name in "mdir" */
	char *mtmp;  /* temp file name in "mdir" */
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
	char msg[512];
	va_list ap;

	if (w->o.notice == NULL)
		return;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	w->o.notice(w->o.notice_arg, msg);
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

/* Split the metrics path and open its directory. */
static int
open_metrics(struct rd_watch *w, const char *path, struct rd_err *err)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (slash != NULL && slash[1] == '\0')
		return rd_err_set(err, RD_EUSAGE,
		    "invalid metrics file '%s': a directory", path);
	if (slash == NULL)
		w->mdirname = strdup(".");
	else if (slash == path)
		w->mdirname = strdup("/");
	else
		w->mdirname = strndup(path, (size_t)(slash - path));
	w->mbase = strdup(slash != NULL ? slash + 1 : path);
	len = strlen(w->mbase) + 32;
	w->mtmp = malloc(len);
	if (w->mdirname == NULL || w->mbase == NULL || w->mtmp == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	/* not *.prom, so that a textfile collector never reads it */
	snprintf(w->mtmp, len, ".%s.%ld.tmp", w->mbase, (long)getpid());
	w->mdir = open(w->mdirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (w->mdir == -1)
		return rd_err_sys(err, RD_EIO,
		    "cannot open directory '%s' for the metrics file",
		    w->mdirname);
	return 0;
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
	w->mdir = -1;
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
		w->t[i].label = rd_prom_escape(rd_probe_spec(probes[i]));
		if (w->t[i].label == NULL) {
			rd_err_set(err, RD_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (opts->metrics != NULL && open_metrics(w, opts->metrics, err) == -1)
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
		free(w->t[i].label);
		drop_queue(&w->t[i]);
	}
	rd_json_free(w->json);
	rd_watchlog_close(w->log);
	if (w->own_out && w->out != NULL)
		fclose(w->out);
	if (w->mdir != -1)
		close(w->mdir);
	free(w->mdirname);
	free(w->mbase);
	free(w->mtmp);
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

static int buf_printf(struct rdi_buf *, struct rd_err *, const char *, ...)
    RD_PRINTF(3, 4);

static int
buf_printf(struct rdi_buf *b, struct rd_err *err, const char *fmt, ...)
{
	char small[512], *big = NULL;
	va_list ap;
	int n, ret;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return rd_err_set(err, RD_EINTERNAL, "cannot format metrics");
	if ((size_t)n < sizeof(small))
		return rdi_buf_append(b, small, (size_t)n, err);
	big = malloc((size_t)n + 1);
	if (big == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	ret = rdi_buf_append(b, big, (size_t)n, err);
	free(big);
	return ret;
}

enum { M_UP, M_LATENCY, M_FAILURES, M_TRANSITIONS };

/* clang-format off */
static const struct {
	const char *name, *type, *help;
} metrics[] = {
	{ "rdwatch_up", "gauge",
	  "Damped state of the target: 1 up, 0 down, NaN before the first decision." },
	{ "rdwatch_latency_seconds", "gauge",
	  "Duration of the last probe of the target." },
	{ "rdwatch_consecutive_failures", "gauge",
	  "Failed probes of the target in a row." },
	{ "rdwatch_transitions_total", "counter",
	  "State changes of the target since rdwatch started." },
};
/* clang-format on */

static int
metrics_text(struct rd_watch *w, struct rdi_buf *b, struct rd_err *err)
{
	const struct target *t;
	char val[64];
	size_t m, i;

	for (m = 0; m < sizeof(metrics) / sizeof(metrics[0]); m++) {
		if (buf_printf(b, err, "# HELP %s %s\n# TYPE %s %s\n",
		        metrics[m].name, metrics[m].help, metrics[m].name,
		        metrics[m].type) == -1)
			return -1;
		for (i = 0; i < w->n; i++) {
			t = &w->t[i];
			switch (m) {
			case M_UP:
				if (t->d.state == RD_PROBE_UP)
					snprintf(val, sizeof(val), "1");
				else if (t->d.state == RD_PROBE_DOWN)
					snprintf(val, sizeof(val), "0");
				else
					snprintf(val, sizeof(val), "NaN");
				break;
			case M_LATENCY:
				if (t->have_last &&
				    t->last.state != RD_PROBE_ERROR)
					snprintf(val, sizeof(val), "%.6f",
					    t->last.latency);
				else
					snprintf(val, sizeof(val), "NaN");
				break;
			case M_FAILURES:
				snprintf(val, sizeof(val), "%d", t->d.failures);
				break;
			default:
				snprintf(val, sizeof(val), "%lld",
				    (long long)t->d.transitions);
				break;
			}
			if (buf_printf(b, err, "%s{target=\"%s\"} %s\n",
			        metrics[m].name, t->label, val) == -1)
				return -1;
		}
	}
	return 0;
}

/* Replace the metrics file: temp file, write, fsync, rename, dir fsync. */
static int
write_metrics(struct rd_watch *w, struct rd_err *err)
{
	struct rdi_buf b = { NULL, 0, 0 };
	int fd = -1, created = 0, ret = -1, tries;

	if (metrics_text(w, &b, err) == -1)
		goto out;
	for (tries = 0; tries < 2; tries++) {
		fd = openat(w->mdir, w->mtmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd != -1 || errno != EEXIST)
			break;
		/* left by a crashed run with our pid */
		unlinkat(w->mdir, w->mtmp, 0);
	}
	if (fd == -1) {
		rd_err_sys(err, RD_EIO, "cannot create '%s/%s'", w->mdirname,
		    w->mtmp);
		goto out;
	}
	created = 1;
	if (rdi_write_all(fd, b.data, b.len, w->mtmp, err) == -1)
		goto out;
	if (fsync(fd) == -1) {
		rd_err_sys(err, RD_EIO, "cannot fsync '%s/%s'", w->mdirname,
		    w->mtmp);
		goto out;
	}
	ret = rdi_close(fd, w->mtmp, err);
	fd = -1;
	if (ret == -1)
		goto out;
	ret = -1;
	if (renameat(w->mdir, w->mtmp, w->mdir, w->mbase) == -1) {
		rd_err_sys(err, RD_EIO, "cannot rename '%s/%s' to '%s'",
		    w->mdirname, w->mtmp, w->mbase);
		goto out;
	}
	created = 0;
	if (rdi_fsync_dirfd(w->mdir, w->mdirname, err) == -1)
		goto out;
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	if (created)
		unlinkat(w->mdir, w->mtmp, 0);
	rdi_buf_release(&b);
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
	if (w->mdir == -1)
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
