/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * list.c: rdsnap list, problems and ls: what the store holds, one
 * snapshot or one entry a line.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "rdsnap.h"

/* The state of a snapshot, for list: what it could not read as it was. */
static const char *
snap_state(const struct rd_snapinfo *si)
{
	if (si->partial > 0)
		return "partial";
	return si->inconsistent > 0 ? "changing" : "complete";
}

struct list_ctx {
	struct rd_json *j;
	int n;
};

static int
list_one(void *arg, const struct rd_snapinfo *si)
{
	struct list_ctx *lc = arg;
	char t[32], b1[32], b2[32], b3[32];

	if (lc->j != NULL) {
		rd_json_obj_begin(lc->j, NULL);
		rd_json_str(lc->j, "schema", "rdsnap-list/1");
		json_snapinfo(lc->j, si);
		rd_json_obj_end(lc->j);
		return 0;
	}
	if (lc->n++ == 0)
		printf("%6s  %-25s  %9s  %10s  %10s  %10s  %9s  %-8s  %s\n",
		    "ID", "TIME", "FILES", "BYTES", "ADDED", "STORED",
		    "DURATION", "STATE", "LABEL");
	printf("%6lld  %-25s  %9lld  %10s  %10s  %10s  %7.2f s  %-8s  %s\n",
	    (long long)si->id, tool_time(si->started, t, sizeof(t)),
	    (long long)si->files, tool_human_bytes(si->bytes, b1, sizeof(b1)),
	    tool_human_bytes(si->bytes_added, b2, sizeof(b2)),
	    tool_human_bytes(si->stored, b3, sizeof(b3)), si->seconds,
	    snap_state(si), si->label);
	return 0;
}

int
cmd_list(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct list_ctx lc = { NULL, 0 };
	char **args;
	int nargs, r;

	memset(&o, 0, sizeof(o));
	args = parse("list", " json ", argc, argv, &o, &nargs);
	st = open_store(args[0], RD_OPEN_READ, 0);
	if (o.c.json) {
		lc.j = json_or_die();
		rd_json_arr_begin(lc.j, NULL);
	}
	r = rd_snap_list(st, list_one, &lc, &err);
	rd_store_close(st);
	if (r == -1)
		tool_die_err(&err);
	if (lc.j != NULL) {
		rd_json_arr_end(lc.j);
		rd_json_line(lc.j);
		rd_json_free(lc.j);
	} else if (lc.n == 0) {
		printf("no snapshots\n");
	}
	return tool_exit(EX_OK);
}

static int
problem_one(void *arg, const struct rd_problem *p)
{
	struct rd_json *j = arg;

	if (j != NULL) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "schema", "rdsnap-problems/1");
		rd_json_path(j, "path", p->path);
		rd_json_str(j, "problem", p->problem);
		rd_json_str(j, "reason", p->reason);
		rd_json_obj_end(j);
		rd_json_line(j);
		return 0;
	}
	printf("%-10s  ", p->problem);
	print_path(stdout, p->path);
	printf(": %s\n", p->reason);
	return 0;
}

int
cmd_problems(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_json *j = NULL;
	char **args;
	int nargs, r;

	memset(&o, 0, sizeof(o));
	args = parse("problems", " json snapshot ", argc, argv, &o, &nargs);
	st = open_store(args[0], RD_OPEN_READ, 0);
	if (o.c.json)
		j = json_or_die();
	r = rd_snap_problems(st, o.version, problem_one, j, &err);
	rd_store_close(st);
	rd_json_free(j);
	if (r == -1)
		tool_die_err(&err);
	return tool_exit(EX_OK);
}

static int
ls_one(void *arg, const struct rd_entry *e)
{
	struct rd_json *j = arg;
	if (j != NULL) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "schema", "rdsnap-ls/1");
		rd_json_path(j, "path", e->path);
		json_entry(j, e);
		rd_json_obj_end(j);
		rd_json_line(j);
		return 0;
	}
	print_entry(e);
	return 0;
}

int
cmd_ls(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_json *j = NULL;
	char **args;
	int nargs, r;

	memset(&o, 0, sizeof(o));
	args = parse("ls", " json snapshot ", argc, argv, &o, &nargs);
	st = open_store(args[0], RD_OPEN_READ, 0);
	if (o.c.json)
		j = json_or_die();
	r = rd_snap_entries(st, o.version, nargs == 2 ? args[1] : NULL, ls_one,
	    j, &err);
	rd_store_close(st);
	rd_json_free(j);
	if (r == -1)
		tool_die_err(&err);
	return tool_exit(EX_OK);
}
