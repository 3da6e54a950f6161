/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * find.c: rdsnap find: which snapshots hold the paths that match a
 * pattern, one version of a path a line.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "rdsnap.h"

static int
find_one(void *arg, const struct rd_version *v)
{
	struct rd_json *j = arg;
	const struct rd_entry *e = &v->e;
	if (j != NULL) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "schema", "rdsnap-find/1");
		rd_json_path(j, "path", e->path);
		rd_json_int(j, "first", v->first);
		rd_json_int(j, "last", v->last);
		json_entry(j, e);
		rd_json_obj_end(j);
		rd_json_line(j);
		return 0;
	}
	if (v->first == v->last)
		printf("%lld ", (long long)v->first);
	else
		printf("%lld-%lld ", (long long)v->first, (long long)v->last);
	print_entry(e);
	return 0;
}

int
cmd_find(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_json *j = NULL;
	int64_t matched = 0;
	char **args;
	int nargs, r;

	memset(&o, 0, sizeof(o));
	args = parse("find", " json ", argc, argv, &o, &nargs);
	st = open_store(args[0], RD_OPEN_READ, 0);
	if (o.c.json)
		j = json_or_die();
	r = rd_snap_find(st, args[1], find_one, j, &matched, &err);
	rd_store_close(st);
	rd_json_free(j);
	if (r == -1)
		tool_die_err(&err);
	if (matched == 0) {
		tool_warn("no snapshot of '%s' has a path matching '%s'",
		    args[0], args[1]);
		return tool_exit(1);
	}
	return tool_exit(EX_OK);
}
