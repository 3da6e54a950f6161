/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * metrics.c: Prometheus text files for the node exporter's textfile
 * collector.  A writer collects samples in memory (a few dozen lines),
 * groups them by metric family with their HELP and TYPE lines, escapes
 * label values, refuses values that are not finite (a textfile with NaN
 * cannot be alerted on), and replaces the file atomically: a temp file in
 * the same directory whose name does not end in .prom, fsync, rename,
 * fsync of the directory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"

/* Families one file may hold; more is a bug of the caller. */
#define FAMILIES_MAX 64

struct rd_metrics {
	struct rdi_buf text;
	const char *family[FAMILIES_MAX]; /* names, borrowed (static) */
	size_t nfamilies;
	int failed; /* an add failed: the text is incomplete */
};

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

struct rd_metrics *
rd_metrics_new(void)
{
	return calloc(1, sizeof(struct rd_metrics));
}

void
rd_metrics_free(struct rd_metrics *m)
{
	if (m == NULL)
		return;
	rdi_buf_release(&m->text);
	free(m);
}

static int
append_str(struct rd_metrics *m, const char *s, struct rd_err *err)
{
	return rdi_buf_append(&m->text, s, strlen(s), err);
}

/*
 * Start family "name" unless it is the one being written: its HELP and
 * TYPE lines.  A family that was started before and left is a caller's
 * bug (the format wants a family's samples together).
 */
static int
family(struct rd_metrics *m, const char *name, const char *type,
    const char *help, struct rd_err *err)
{
	size_t i;

	if (m->nfamilies > 0 && strcmp(m->family[m->nfamilies - 1], name) == 0)
		return 0;
	for (i = 0; i < m->nfamilies; i++)
		if (strcmp(m->family[i], name) == 0)
			return rd_err_set(err, RD_EINTERNAL,
			    "metric '%s' written in two places", name);
	if (m->nfamilies == FAMILIES_MAX)
		return rd_err_set(err, RD_EINTERNAL, "too many metrics");
	m->family[m->nfamilies++] = name;
	if (append_str(m, "# HELP ", err) == -1 ||
	    append_str(m, name, err) == -1 || append_str(m, " ", err) == -1 ||
	    append_str(m, help, err) == -1 ||
	    append_str(m, "\n# TYPE ", err) == -1 ||
	    append_str(m, name, err) == -1 || append_str(m, " ", err) == -1 ||
	    append_str(m, type, err) == -1 || append_str(m, "\n", err) == -1)
		return -1;
	return 0;
}

/* A value as Prometheus reads it: integers exactly, else 6 decimals. */
static void
format_value(double v, char *buf, size_t len)
{
	if (v > -9007199254740992.0 && v < 9007199254740992.0 &&
	    v == (double)(long long)v)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.6f", v);
}

static int
add(struct rd_metrics *m, const struct rd_metric *def, const char *lname,
    const char *lvalue, double v, struct rd_err *err)
{
	char num[64], *esc = NULL;
	int ret = -1;

	if (!isfinite(v))
		return rd_err_set(err, RD_EINTERNAL,
		    "metric '%s' has no finite value", def->name);
	if (family(m, def->name, def->type, def->help, err) == -1)
		return -1;
	format_value(v, num, sizeof(num));
	if (append_str(m, def->name, err) == -1)
		goto out;
	if (lname != NULL) {
		esc = rd_prom_escape(lvalue);
		if (esc == NULL) {
			rd_err_set(err, RD_ENOMEM, "out of memory");
			goto out;
		}
		if (append_str(m, "{", err) == -1 ||
		    append_str(m, lname, err) == -1 ||
		    append_str(m, "=\"", err) == -1 ||
		    append_str(m, esc, err) == -1 ||
		    append_str(m, "\"}", err) == -1)
			goto out;
	}
	if (append_str(m, " ", err) == -1 || append_str(m, num, err) == -1 ||
	    append_str(m, "\n", err) == -1)
		goto out;
	/* keep the text a C string, the NUL not counted */
	if (rdi_buf_append(&m->text, "", 1, err) == -1)
		goto out;
	m->text.len--;
	ret = 0;
out:
	free(esc);
	return ret;
}

int
rd_metrics_add(struct rd_metrics *m, const struct rd_metric *def, double v,
    struct rd_err *err)
{
	if (add(m, def, NULL, NULL, v, err) == -1) {
		m->failed = 1;
		return -1;
	}
	return 0;
}

int
rd_metrics_add_label(struct rd_metrics *m, const struct rd_metric *def,
    const char *lname, const char *lvalue, double v, struct rd_err *err)
{
	if (add(m, def, lname, lvalue, v, err) == -1) {
		m->failed = 1;
		return -1;
	}
	return 0;
}

const char *
rd_metrics_text(const struct rd_metrics *m, size_t *len)
{
	*len = m->text.len;
	return m->text.len > 0 ? (const char *)m->text.data : "";
}

/*
 * Split "path" into its directory (allocated, "." when it has none) and
 * its last component.  Returns 0 or -1.
 */
static int
split_path(const char *path, char **dir, const char **base, struct rd_err *err)
{
	const char *slash = strrchr(path, '/');

	if (path[0] == '\0' || (slash != NULL && slash[1] == '\0'))
		return rd_err_set(err, RD_EUSAGE,
		    "invalid metrics file '%s': a directory", path);
	if (slash == NULL)
		*dir = strdup(".");
	else if (slash == path)
		*dir = strdup("/");
	else
		*dir = strndup(path, (size_t)(slash - path));
	if (*dir == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	*base = slash != NULL ? slash + 1 : path;
	return 0;
}

int
rd_metrics_check_path(const char *path, struct rd_err *err)
{
	const char *base;
	char *dir = NULL;
	int fd, ret = -1;

	if (split_path(path, &dir, &base, err) == -1)
		return -1;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		rd_err_sys(err, RD_EIO,
		    "cannot open directory '%s' for the metrics file", dir);
		goto out;
	}
	close(fd);
	ret = 0;
out:
	free(dir);
	return ret;
}

/* Create the temp file "tmp" in "dfd", replacing one a crash left. */
static int
create_tmp(int dfd, const char *dir, const char *tmp, struct rd_err *err)
{
	int fd = -1, tries;

	for (tries = 0; tries < 2; tries++) {
		fd = openat(dfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd != -1 || errno != EEXIST)
			break;
		/* left by a crashed run with our pid */
		unlinkat(dfd, tmp, 0);
	}
	if (fd == -1)
		rd_err_sys(err, RD_EIO, "cannot create '%s/%s'", dir, tmp);
	return fd;
}

int
rd_metrics_write(const struct rd_metrics *m, const char *path,
    struct rd_err *err)
{
	const char *base;
	char *dir = NULL, tmp[NAME_MAX + 1];
	int dfd = -1, fd = -1, created = 0, ret = -1;

	if (m->failed)
		return rd_err_set(err, RD_EINTERNAL,
		    "metrics for '%s' are incomplete", path);
	if (split_path(path, &dir, &base, err) == -1)
		return -1;
	/* not *.prom, so that a textfile collector never reads it */
	if ((size_t)snprintf(tmp, sizeof(tmp), ".%.200s.%ld.tmp", base,
	        (long)getpid()) >= sizeof(tmp)) {
		rd_err_set(err, RD_EUSAGE, "invalid metrics file '%s'", path);
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1) {
		rd_err_sys(err, RD_EIO,
		    "cannot open directory '%s' for the metrics file", dir);
		goto out;
	}
	fd = create_tmp(dfd, dir, tmp, err);
	if (fd == -1)
		goto out;
	created = 1;
	if (rdi_write_all(fd, m->text.data, m->text.len, tmp, err) == -1)
		goto out;
	if (fsync(fd) == -1) {
		rd_err_sys(err, RD_EIO, "cannot fsync '%s/%s'", dir, tmp);
		goto out;
	}
	ret = rdi_close(fd, tmp, err);
	fd = -1;
	if (ret == -1)
		goto out;
	ret = -1;
	if (renameat(dfd, tmp, dfd, base) == -1) {
		rd_err_sys(err, RD_EIO, "cannot rename '%s/%s' to '%s'", dir,
		    tmp, path);
		goto out;
	}
	created = 0;
	if (rdi_fsync_dirfd(dfd, dir, err) == -1)
		goto out;
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	if (created)
		unlinkat(dfd, tmp, 0);
	if (dfd != -1)
		close(dfd);
	free(dir);
	return ret;
}

int
rd_metrics_run(struct rd_metrics *m, const struct rd_run_defs *d,
    const char *store, const struct rd_run *run, struct rd_err *err)
{
	const struct {
		const struct rd_metric *def;
		int have;
		double v;
	} s[] = {
		{ &d->status, 1, run->status },
		{ &d->success, 1, run->status == 0 || run->status == 3 },
		{ &d->duration, 1, run->seconds > 0 ? run->seconds : 0 },
		{ &d->end, 1, run->end },
		{ &d->last_success, run->last_success > 0, run->last_success },
		{ &d->snapshot, run->snapshot > 0, (double)run->snapshot },
		{ &d->files, run->files >= 0, (double)run->files },
		{ &d->bytes, run->bytes >= 0, (double)run->bytes },
	};
	size_t i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		if (s[i].have &&
		    rd_metrics_add_label(m, s[i].def, "store", store, s[i].v,
		        err) == -1)
			return -1;
	return 0;
}
