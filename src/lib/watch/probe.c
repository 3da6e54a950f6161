/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe.c: probe specs and rounds.  A spec is matched against the table
 * of kinds by its prefix and parsed by the kind; a round runs every probe
 * in a detached thread and waits for all of them until the timeout, so
 * one slow target never holds up the others.  A worker that is still
 * stuck when the round ends (a name lookup cannot be interrupted) keeps
 * its own references and cleans up after itself.  The file probe lives
 * here too; tcp and http are in probe_net.c, exec in probe_exec.c, and
 * snapshot, lag and drill (a store's catalog) in probe_store.c.
 */
#include "config.h"

#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probe_int.h"

/*
 * Extra time a round waits beyond the timeout for workers to report
 * their own (more precise) reason before it declares them timed out.
 */
#define ROUND_GRACE 0.25

static int exec_parse(struct rd_probe *, const char *, char *, size_t);
static int file_parse(struct rd_probe *, const char *, char *, size_t);
static void file_run(const struct rd_probe *, double, double,
    struct rd_probe_result *);

/* clang-format off */
static const struct rdi_probe_kind kinds[] = {
	{ "tcp://",	"tcp",	rdi_probe_tcp_parse,	rdi_probe_tcp_run },
	{ "http://",	"http",	rdi_probe_http_parse,	rdi_probe_http_run },
	{ "exec:",	"exec",	exec_parse,		rdi_probe_exec_run },
	{ "file:",	"file",	file_parse,		file_run },
	{ "snapshot:",	"snapshot", rdi_probe_snapshot_parse, rdi_probe_snapshot_run },
	{ "lag:",	"lag",	rdi_probe_lag_parse,	rdi_probe_lag_run },
	{ "drill:",	"drill", rdi_probe_drill_parse,	rdi_probe_drill_run },
	{ "etcd:",	"etcd",	rdi_probe_etcd_parse,	rdi_probe_etcd_run },
};
/* clang-format on */
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

const char *
rd_probe_state_name(int state)
{
	switch (state) {
	case RD_PROBE_UP:
		return "up";
	case RD_PROBE_DOWN:
		return "down";
	case RD_PROBE_ERROR:
		return "error";
	default:
		return "unknown";
	}
}

/* ------------------------------------------------------------------ */
/* Parsing */

/* Percent-decode "s" in place.  Returns 0, or -1 on a bad escape or %00. */
static int
percent_decode(char *s)
{
	char *w = s;
	int hi, lo;

	while (*s != '\0') {
		if (*s != '%') {
			*w++ = *s++;
			continue;
		}
		hi = rdi_hexval((unsigned char)s[1]);
		lo = hi != -1 ? rdi_hexval((unsigned char)s[2]) : -1;
		if (lo == -1 || (hi == 0 && lo == 0))
			return -1;
		*w++ = (char)(hi * 16 + lo);
		s += 3;
	}
	*w = '\0';
	return 0;
}

int
rdi_probe_opts(char *query, struct rdi_probe_opt *opts, int max, char *why,
    size_t whylen)
{
	char *item, *next, *eq;
	int n = 0, i;

	for (item = query; item != NULL; item = next) {
		next = strchr(item, '&');
		if (next != NULL)
			*next++ = '\0';
		eq = strchr(item, '=');
		if (eq == NULL || eq == item) {
			snprintf(why, whylen,
			    "invalid option '%s' (expected NAME=VALUE)", item);
			return -1;
		}
		*eq = '\0';
		for (i = 0; i < n; i++) {
			if (strcmp(opts[i].name, item) == 0) {
				snprintf(why, whylen, "duplicate option '%s'",
				    item);
				return -1;
			}
		}
		if (n == max) {
			snprintf(why, whylen, "too many options");
			return -1;
		}
		if (percent_decode(eq + 1) == -1) {
			snprintf(why, whylen,
			    "invalid percent escape in option '%s'", item);
			return -1;
		}
		opts[n].name = item;
		opts[n].value = eq + 1;
		n++;
	}
	return n;
}

int
rdi_probe_seconds(const char *s, double *out)
{
	double v;

	if (!isdigit((unsigned char)*s) && *s != '.')
		return -1;
	if (rd_parse_duration(s, &v) == -1)
		return -1;
	if (!(v > 0 && v < 1e12))
		return -1;
	*out = v;
	return 0;
}

static int
exec_parse(struct rd_probe *p, const char *rest, char *why, size_t whylen)
{
	const char *s;

	for (s = rest; *s == ' ' || *s == '\t'; s++)
		continue;
	if (*s == '\0') {
		snprintf(why, whylen, "missing command");
		return -1;
	}
	p->command = strdup(rest);
	return p->command != NULL ? 0 : -2;
}

static int
file_parse(struct rd_probe *p, const char *rest, char *why, size_t whylen)
{
	struct rdi_probe_opt opts[4];
	char *q;
	int i, n;

	p->path = strdup(rest);
	if (p->path == NULL)
		return -2;
	q = strchr(p->path, '?');
	if (q != NULL)
		*q++ = '\0';
	if (p->path[0] == '\0') {
		snprintf(why, whylen, "missing path");
		return -1;
	}
	if (q == NULL)
		return 0;
	n = rdi_probe_opts(q, opts, 4, why, whylen);
	if (n == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(opts[i].name, "max-age") != 0) {
			snprintf(why, whylen,
			    "unknown option '%s' (expected max-age)",
			    opts[i].name);
			return -1;
		}
		if (rdi_probe_seconds(opts[i].value, &p->max_age) == -1) {
			snprintf(why, whylen,
			    "invalid max-age '%s' (expected seconds above 0, or a number with s, m, h, d or w)",
			    opts[i].value);
			return -1;
		}
	}
	return 0;
}

/* "tcp://, http://, exec:, ... or drill:" from the table. */
static void
kind_list(char *buf, size_t len)
{
	const char *sep;
	size_t i, used = 0;
	int n;

	buf[0] = '\0';
	for (i = 0; i < NKINDS; i++) {
		if (i == 0)
			sep = "";
		else if (i + 1 == NKINDS)
			sep = " or ";
		else
			sep = ", ";
		n = snprintf(buf + used, len - used, "%s%s", sep,
		    kinds[i].prefix);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

int
rd_probe_parse(const char *spec, struct rd_probe **out, struct rd_err *err)
{
	const struct rdi_probe_kind *k = NULL;
	struct rd_probe *p = NULL;
	const unsigned char *s;
	char why[200], list[128];
	size_t i;
	int ret = -1, rc;

	why[0] = '\0';
	for (s = (const unsigned char *)spec; *s != '\0'; s++) {
		if (*s < 0x20 || *s == 0x7f) {
			snprintf(why, sizeof(why), "control character");
			break;
		}
	}
	for (i = 0; i < NKINDS && why[0] == '\0'; i++) {
		if (strncmp(spec, kinds[i].prefix, strlen(kinds[i].prefix)) ==
		    0) {
			k = &kinds[i];
			break;
		}
	}
	if (why[0] == '\0' && k == NULL) {
		kind_list(list, sizeof(list));
		if (*spec == '\0')
			snprintf(why, sizeof(why), "empty");
		else if (strncmp(spec, "https://", 8) == 0)
			snprintf(why, sizeof(why),
			    "https is not supported (use exec:curl -fsS %s)",
			    spec);
		else
			snprintf(why, sizeof(why), "unknown kind (expected %s)",
			    list);
	}
	if (why[0] != '\0') {
		rd_err_set(err, RD_EUSAGE, "invalid probe '%s': %s", spec, why);
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->spec = strdup(spec)) == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	atomic_init(&p->refs, 1);
	atomic_init(&p->busy, 0);
	p->kind = k;
	rc = k->parse(p, spec + strlen(k->prefix), why, sizeof(why));
	if (rc == -2) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	if (rc == -1) {
		rd_err_set(err, RD_EUSAGE, "invalid probe '%s': %s", spec, why);
		goto out;
	}
	*out = p;
	p = NULL;
	ret = 0;
out:
	rd_probe_free(p);
	return ret;
}

static void
probe_ref(struct rd_probe *p)
{
	atomic_fetch_add(&p->refs, 1);
}

void
rd_probe_free(struct rd_probe *p)
{
	if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	free(p->spec);
	free(p->host);
	free(p->port);
	free(p->hostport);
	free(p->path);
	free(p->command);
	free(p->contains);
	free(p->store);
	free(p);
}

const char *
rd_probe_spec(const struct rd_probe *p)
{
	return p->spec;
}

const char *
rd_probe_kind(const struct rd_probe *p)
{
	return p->kind->name;
}

/* ------------------------------------------------------------------ */
/* Results */

static void vreason(struct rd_probe_result *, const char *, va_list)
    RD_PRINTF(2, 0);

static void
vreason(struct rd_probe_result *res, const char *fmt, va_list ap)
{
	if (vsnprintf(res->reason, sizeof(res->reason), fmt, ap) < 0)
		res->reason[0] = '\0';
}

void
rdi_probe_down(struct rd_probe_result *res, const char *fmt, ...)
{
	va_list ap;

	res->state = RD_PROBE_DOWN;
	res->code = RD_OK;
	va_start(ap, fmt);
	vreason(res, fmt, ap);
	va_end(ap);
}

void
rdi_probe_error(struct rd_probe_result *res, enum rd_code code, const char *fmt,
    ...)
{
	va_list ap;

	res->state = RD_PROBE_ERROR;
	res->code = code;
	va_start(ap, fmt);
	vreason(res, fmt, ap);
	va_end(ap);
}

void
rdi_probe_timeout(struct rd_probe_result *res, double timeout)
{
	long long tenths = (long long)(timeout * 10 + 0.5);
	double diff = timeout * 10 - (double)tenths;

	/* "2.0 s" and "0.5 s", but "0.25 s" rather than a rounded lie */
	if (diff > -1e-6 && diff < 1e-6)
		rdi_probe_down(res, "timeout after %.1f s", timeout);
	else
		rdi_probe_down(res, "timeout after %g s", timeout);
}

void
rdi_probe_down_errno(struct rd_probe_result *res, const char *prefix,
    int errnum)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%s", strerror(errnum));
	if (isupper((unsigned char)msg[0]) && islower((unsigned char)msg[1]))
		msg[0] = (char)tolower((unsigned char)msg[0]);
	if (prefix != NULL)
		rdi_probe_down(res, "%s: %s", prefix, msg);
	else
		rdi_probe_down(res, "%s", msg);
}

/* ------------------------------------------------------------------ */
/* The file probe */

static void
file_run(const struct rd_probe *p, double deadline, double timeout,
    struct rd_probe_result *res)
{
	struct stat st;
	double age;

	(void)deadline;
	(void)timeout;
	if (stat(p->path, &st) == -1) {
		if (errno == ENOENT || errno == ENOTDIR)
			rdi_probe_down(res, "no such file");
		else
			rdi_probe_down_errno(res, NULL, errno);
		return;
	}
	res->state = RD_PROBE_UP;
	if (p->max_age <= 0)
		return;
	age = rd_now() -
	    ((double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec / 1e9);
	if (age <= p->max_age)
		return;
	/* whole seconds unless that would read "age 30 s > 30 s" */
	if ((double)(long long)age > p->max_age)
		rdi_probe_down(res, "age %lld s > %g s", (long long)age,
		    p->max_age);
	else
		rdi_probe_down(res, "age %.1f s > %g s", age, p->max_age);
}

/* ------------------------------------------------------------------ */
/* Rounds */

struct round;

struct slot {
	struct round *round;
	struct rd_probe *probe; /* a reference of its own */
	double timeout;
	int done;
	struct rd_probe_result res;
};

struct round {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;       /* the caller and every running worker */
	size_t pending; /* workers that have not reported */
	size_t n;
	struct slot *slots;
};

static void
round_free(struct round *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		rd_probe_free(r->slots[i].probe);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->slots);
	free(r);
}

/* Run one probe in the calling thread; fills all of "res". */
static void
run_one(const struct rd_probe *p, double timeout, struct rd_probe_result *res)
{
	double start = rd_monotonic();

	memset(res, 0, sizeof(*res));
	res->state = RD_PROBE_UP;
	p->kind->run(p, start + timeout, timeout, res);
	res->latency = rd_monotonic() - start;
	if (res->state == RD_PROBE_UP)
		res->reason[0] = '\0';
}

static void *
worker(void *arg)
{
	struct slot *s = arg;
	struct round *r = s->round;
	struct rd_probe_result res;
	int last;

	run_one(s->probe, s->timeout, &res);
	atomic_store(&s->probe->busy, 0);
	pthread_mutex_lock(&r->mu);
	s->res = res;
	s->done = 1;
	r->pending--;
	pthread_cond_signal(&r->cv);
	last = --r->refs == 0;
	pthread_mutex_unlock(&r->mu);
	if (last)
		round_free(r);
	return NULL;
}

static struct round *
round_new(size_t n)
{
	struct round *r;
	pthread_condattr_t ca;
	int ok;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->slots = calloc(n != 0 ? n : 1, sizeof(*r->slots));
	if (r->slots == NULL) {
		free(r);
		return NULL;
	}
	if (pthread_condattr_init(&ca) != 0) {
		free(r->slots);
		free(r);
		return NULL;
	}
	ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&r->cv, &ca) == 0;
	pthread_condattr_destroy(&ca);
	if (!ok || pthread_mutex_init(&r->mu, NULL) != 0) {
		if (ok)
			pthread_cond_destroy(&r->cv);
		free(r->slots);
		free(r);
		return NULL;
	}
	r->refs = 1;
	return r;
}

/* Start the worker of slot "s"; on failure the slot gets an error. */
static void
round_start(struct round *r, struct slot *s, pthread_attr_t *attr)
{
	pthread_t tid;
	int rc;

	if (atomic_exchange(&s->probe->busy, 1) != 0) {
		rdi_probe_down(&s->res, "previous probe still running");
		s->res.latency = 0;
		s->done = 1;
		return;
	}
	r->refs++;
	r->pending++;
	rc = pthread_create(&tid, attr, worker, s);
	if (rc != 0) {
		r->refs--;
		r->pending--;
		atomic_store(&s->probe->busy, 0);
		rdi_probe_error(&s->res, RD_ENOMEM,
		    "cannot create a thread: %s", strerror(rc));
		s->done = 1;
	}
}

int
rd_probe_round(struct rd_probe *const *probes, size_t n, double timeout,
    struct rd_probe_result *res, struct rd_err *err)
{
	struct round *r;
	pthread_attr_t attr;
	struct timespec ts;
	double start, limit;
	size_t i;
	int last, rc;

	r = round_new(n);
	if (r == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (pthread_attr_init(&attr) != 0) {
		round_free(r);
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	start = rd_monotonic();
	limit = start + timeout + ROUND_GRACE;
	ts.tv_sec = (time_t)limit;
	ts.tv_nsec = (long)((limit - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L)
		ts.tv_nsec = 999999999L;

	pthread_mutex_lock(&r->mu);
	r->n = n;
	for (i = 0; i < n; i++) {
		r->slots[i].round = r;
		r->slots[i].probe = probes[i];
		r->slots[i].timeout = timeout;
		probe_ref(probes[i]);
		round_start(r, &r->slots[i], &attr);
	}
	pthread_attr_destroy(&attr);
	while (r->pending > 0) {
		rc = pthread_cond_timedwait(&r->cv, &r->mu, &ts);
		if (rc == ETIMEDOUT)
			break;
	}
	for (i = 0; i < n; i++) {
		if (r->slots[i].done) {
			res[i] = r->slots[i].res;
			continue;
		}
		/* abandoned: the worker finishes on its own */
		memset(&res[i], 0, sizeof(res[i]));
		rdi_probe_timeout(&res[i], timeout);
		res[i].latency = rd_monotonic() - start;
	}
	last = --r->refs == 0;
	pthread_mutex_unlock(&r->mu);
	if (last)
		round_free(r);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Output */

static void
put_clean(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++)
		putc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, fp);
}

void
rd_probe_print(void *stdio_file, const struct rd_probe *p,
    const struct rd_probe_result *res)
{
	FILE *fp = stdio_file;

	put_clean(fp, p->spec);
	fprintf(fp, " %s %.1f ms", rd_probe_state_name(res->state),
	    res->latency * 1000);
	if (res->state != RD_PROBE_UP && res->reason[0] != '\0') {
		putc(' ', fp);
		put_clean(fp, res->reason);
	}
}

const char *
rd_time_iso(double when, int millis, char *buf, size_t len)
{
	long long ms = (long long)(when * 1000 + (millis ? 0.5 : 0));
	time_t t;
	struct tm tm;
	size_t n;

	if (ms < 0)
		ms = 0;
	t = (time_t)(ms / 1000);
	if (gmtime_r(&t, &tm) == NULL ||
	    (n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0) {
		snprintf(buf, len, "%lld", (long long)t);
		return buf;
	}
	if (millis)
		snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
	else
		snprintf(buf + n, len - n, "Z");
	return buf;
}

const char *
rd_duration_human(double seconds, char *buf, size_t len)
{
	/* clang-format off */
	static const struct {
		const char *name;
		long long size;
	} units[] = {
		{ "d", 86400 }, { "h", 3600 }, { "min", 60 }, { "s", 1 },
	};
	/* clang-format on */
	long long whole, hi, lo;
	size_t i;

	if (!(seconds > 0))
		seconds = 0;
	if (seconds < 60) {
		if (seconds == (double)(long long)seconds)
			snprintf(buf, len, "%lld s", (long long)seconds);
		else
			snprintf(buf, len, "%.3g s", seconds);
		return buf;
	}
	whole = seconds < 9e15 ? (long long)seconds : 9000000000000000LL;
	for (i = 0; units[i].size > whole; i++)
		continue;
	hi = whole / units[i].size;
	lo = i + 1 < sizeof(units) / sizeof(units[0])
	    ? whole % units[i].size / units[i + 1].size
	    : 0;
	if (lo > 0)
		snprintf(buf, len, "%lld %s %lld %s", hi, units[i].name, lo,
		    units[i + 1].name);
	else
		snprintf(buf, len, "%lld %s", hi, units[i].name);
	return buf;
}

void
rd_probe_print_json(struct rd_json *j, const struct rd_probe *p,
    const struct rd_probe_result *res, double when)
{
	char tbuf[40];

	rd_json_obj_begin(j, NULL);
	rd_json_str(j, "schema", "rdwatch/1");
	rd_json_str(j, "type", "result");
	rd_json_str(j, "time", rd_time_iso(when, 1, tbuf, sizeof(tbuf)));
	rd_json_str(j, "target", p->spec);
	rd_json_str(j, "kind", p->kind->name);
	rd_json_str(j, "state", rd_probe_state_name(res->state));
	rd_json_num(j, "latency", res->latency);
	if (res->state == RD_PROBE_UP)
		rd_json_null(j, "reason");
	else
		rd_json_str(j, "reason", res->reason);
	if (res->state == RD_PROBE_ERROR)
		rd_json_str(j, "error", rd_code_name(res->code));
	rd_json_obj_end(j);
}
