/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * glob.c: path patterns for ls and restore.  A path operand with '*',
 * '?' or '[' is an fnmatch(3) pattern matched against whole paths with
 * FNM_PATHNAME ('*' and '?' never match a '/'; a backslash quotes the
 * next character).  An entry is selected when the pattern matches its
 * path, and so is everything below a selected directory, as with a plain
 * path.  Entries come in path order, so remembering the last selected
 * directory is enough: memory stays bounded whatever the tree.
 */
#include "config.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "rd_int.h"
#include "snap_int.h"

int
snap_glob_is_pattern(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

int
snap_glob_init(struct snap_glob *g, const char *pattern, struct rd_err *err)
{
	const char *p, *cut = NULL;

	memset(g, 0, sizeof(*g));
	g->pattern = pattern;
	/* the directories before the first component with a pattern */
	for (p = pattern; *p != '\0'; p++) {
		if (*p == '*' || *p == '?' || *p == '[' || *p == '\\')
			break;
		if (*p == '/')
			cut = p;
	}
	if (cut != NULL && *p != '\\') {
		g->literal = strndup(pattern, (size_t)(cut - pattern));
		if (g->literal == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
	}
	return 0;
}

void
snap_glob_release(struct snap_glob *g)
{
	free(g->literal);
	rdi_buf_release(&g->dir);
	memset(g, 0, sizeof(*g));
}

int
snap_glob_match(struct snap_glob *g, const char *path, size_t len,
    struct rd_err *err)
{
	char *name;
	int isdir = len > 0 && path[len - 1] == '/', r;

	if (len == 0)
		return 0; /* the root: only a plain "." or "" names it */
	if (g->dir.len > 0 && len > g->dir.len &&
	    memcmp(path, g->dir.data, g->dir.len) == 0)
		return 1; /* below the last selected directory */
	name = strndup(path, isdir ? len - 1 : len);
	if (name == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	r = fnmatch(g->pattern, name, FNM_PATHNAME) == 0;
	free(name);
	if (r && isdir) {
		g->dir.len = 0;
		if (rdi_buf_append(&g->dir, path, len, err) == -1)
			return -1;
	}
	return r;
}
