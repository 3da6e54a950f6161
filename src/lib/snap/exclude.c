/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * exclude.c: the exclude and may-change patterns of a snapshot: checking,
 * compiling and matching them against a name or a path.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "snap_int.h"

/*
 * Split the exclude pattern "pat": "*body" and "*len" get what is left
 * without its leading and trailing '/'; "*anchored" is set when it has a
 * '/' (it then matches the path from the source, else a name) and
 * "*dir_only" when it ends in one.  Returns 0, or -1 with RD_EUSAGE when
 * nothing is left.
 */
static int
split_pattern(const char *pat, const char **body, size_t *len, int *anchored,
    int *dir_only, struct rd_err *err)
{
	const char *p = pat;
	size_t n;

	*anchored = 0;
	while (*p == '/') {
		p++;
		*anchored = 1;
	}
	n = strlen(p);
	*dir_only = n > 0 && p[n - 1] == '/';
	while (n > 0 && p[n - 1] == '/')
		n--;
	if (n == 0)
		return rd_err_set(err, RD_EUSAGE,
		    "invalid exclude pattern '%s': it matches nothing", pat);
	if (memchr(p, '/', n) != NULL)
		*anchored = 1;
	*body = p;
	*len = n;
	return 0;
}

int
rd_snap_exclude_check(const char *pattern, struct rd_err *err)
{
	const char *body;
	size_t len;
	int anchored, dir_only;

	return split_pattern(pattern, &body, &len, &anchored, &dir_only, err);
}

/*
 * Split the "n" patterns "pats" into "*xp" and their text into "*buf"
 * (both to be freed, also after a failure), once; "*nx" gets their
 * number.
 */
int
snap_compile_patterns(const char *const *pats, int n, struct xpat **xp,
    char **buf, size_t *nx, struct rd_err *err)
{
	const char *body;
	size_t total = 0, len, off = 0;
	int i, anchored, dir_only;

	if (n <= 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (split_pattern(pats[i], &body, &len, &anchored, &dir_only,
		        err) == -1)
			return -1;
		total += len + 1;
	}
	*xp = calloc((size_t)n, sizeof(**xp));
	*buf = malloc(total);
	if (*xp == NULL || *buf == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		if (split_pattern(pats[i], &body, &len, &anchored, &dir_only,
		        err) == -1)
			return -1;
		memcpy(*buf + off, body, len);
		(*buf)[off + len] = '\0';
		(*xp)[i].pat = *buf + off;
		(*xp)[i].anchored = anchored;
		(*xp)[i].dir_only = dir_only;
		off += len + 1;
	}
	*nx = (size_t)n;
	return 0;
}

/* Split the run's exclude and may-change patterns, once. */
int
snap_compile_excludes(struct ctx *c, struct rd_err *err)
{
	const struct rd_snap_opts *o = c->opts;

	if (snap_compile_patterns(o->excludes, o->nexcludes, &c->xp, &c->xbuf,
	        &c->nx, err) == -1)
		return -1;
	return snap_compile_patterns(o->may_change, o->nmay_change, &c->mp,
	    &c->mbuf, &c->nm, err);
}

/*
 * 1 if the entry "name", at "path" relative to the source (without a
 * trailing '/'), matches one of the "nx" patterns "xp", else 0.
 */
int
snap_matches(const struct xpat *xp, size_t nx, const char *name,
    const char *path, int isdir)
{
	const struct xpat *x;
	size_t i;

	for (i = 0; i < nx; i++) {
		x = &xp[i];
		if (x->dir_only && !isdir)
			continue;
		if (x->anchored ? fnmatch(x->pat, path, FNM_PATHNAME) == 0
		                : fnmatch(x->pat, name, 0) == 0)
			return 1;
	}
	return 0;
}

/* Whether the entry "name" at "path" matches an exclude pattern. */
int
snap_excluded(const struct ctx *c, const char *name, const char *path,
    int isdir)
{
	return snap_matches(c->xp, c->nx, name, path, isdir);
}
