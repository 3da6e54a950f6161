/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * diff.c: rdsnap diff: the changes between two snapshots.
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

/* Names of the RD_DIFF_* bits, bit 0 first, for --json. */
static const char *const diff_names[] = { "type", "content", "target", "mode",
	"uid", "gid", "mtime", "xattrs", "link", "rdev" };

static const char *
change_name(int kind)
{
	switch (kind) {
	case RD_CHANGE_ADDED:
		return "added";
	case RD_CHANGE_REMOVED:
		return "removed";
	case RD_CHANGE_CONTENT:
		return "changed";
	default:
		return "metadata";
	}
}

/* One version of a path as the JSON member "key", or null if absent. */
static void
json_version(struct rd_json *j, const char *key, const struct rd_entry *e)
{
	if (e == NULL) {
		rd_json_null(j, key);
		return;
	}
	rd_json_obj_begin(j, key);
	json_entry(j, e);
	rd_json_obj_end(j);
}

/* The attributes of a metadata-only change: "mode=644->600,uid=0->1000". */
static void
print_meta(const struct rd_entry *o, const struct rd_entry *n, unsigned d)
{
	char t1[48], t2[48];
	const char *sep = "";

	if (d & RD_DIFF_MODE) {
		printf("mode=%o->%o", o->mode, n->mode);
		sep = ",";
	}
	if (d & RD_DIFF_UID) {
		printf("%suid=%lld->%lld", sep, (long long)o->uid,
		    (long long)n->uid);
		sep = ",";
	}
	if (d & RD_DIFF_GID) {
		printf("%sgid=%lld->%lld", sep, (long long)o->gid,
		    (long long)n->gid);
		sep = ",";
	}
	if (d & RD_DIFF_MTIME) {
		iso_time(o->mtime_ns, t1, sizeof(t1));
		iso_time(n->mtime_ns, t2, sizeof(t2));
		printf("%smtime=%s->%s", sep, t1, t2);
		sep = ",";
	}
	if (d & RD_DIFF_XATTRS) {
		printf("%sxattrs", sep); /* extended attributes, ACLs, caps */
		sep = ",";
	}
	if (d & RD_DIFF_LINK)
		printf("%shardlink=%s->%s", sep, o->link != 0 ? "yes" : "no",
		    n->link != 0 ? "yes" : "no");
}

static int
diff_one(void *arg, const struct rd_change *c)
{
	struct rd_json *j = arg;
	const struct rd_entry *e = c->new != NULL ? c->new : c->old;
	size_t i;

	if (j != NULL) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "schema", "rdsnap-diff/1");
		rd_json_str(j, "change", change_name(c->kind));
		rd_json_path(j, "path", e->path);
		rd_json_arr_begin(j, "differs");
		for (i = 0; i < sizeof(diff_names) / sizeof(diff_names[0]); i++)
			if (c->differs & (1u << i))
				rd_json_str(j, NULL, diff_names[i]);
		rd_json_arr_end(j);
		json_version(j, "old", c->old);
		json_version(j, "new", c->new);
		rd_json_obj_end(j);
		rd_json_line(j);
		return 0;
	}
	printf("%c ", c->kind);
	switch (c->kind) {
	case RD_CHANGE_ADDED:
	case RD_CHANGE_REMOVED:
		printf("%c %lld ", e->type, (long long)e->size);
		break;
	case RD_CHANGE_CONTENT:
		if (c->old->type != c->new->type)
			printf("%c>", c->old->type);
		else if (c->differs & RD_DIFF_RDEV)
			printf("rdev=%lld->%lld ", (long long)c->old->rdev,
			    (long long)c->new->rdev);
		printf("%c %lld -> %lld ", c->new->type,
		    (long long)c->old->size, (long long)c->new->size);
		break;
	default:
		printf("%c ", e->type);
		print_meta(c->old, c->new, c->differs);
		putchar(' ');
		break;
	}
	print_entry_path(e);
	return 0;
}

struct base {
	int64_t want; /* the snapshot compared */
	int64_t best; /* the newest complete one before it */
};

static int
base_one(void *arg, const struct rd_snapinfo *si)
{
	struct base *b = arg;

	if (si->id < b->want && si->id > b->best)
		b->best = si->id;
	return 0;
}

/*
 * Without --from, diff compares with the snapshot before "id" (0: the
 * newest), or dies (66) if there is none.
 */
static int64_t
diff_base(struct rd_store *st, int64_t id)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snapinfo si;
	struct base b = { 0, 0 };

	if (rd_snap_get(st, id, &si, &err) == -1) {
		rd_store_close(st);
		tool_die_err(&err);
	}
	b.want = si.id;
	if (rd_snap_list(st, base_one, &b, &err) == -1) {
		rd_store_close(st);
		tool_die_err(&err);
	}
	if (b.best == 0) {
		rd_store_close(st);
		tool_die(EX_NOINPUT,
		    "snapshot %lld is the oldest: there is none before it to compare with (give --from N)",
		    (long long)si.id);
	}
	return b.best;
}

int
cmd_diff(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_diff_result res;
	struct rd_json *j = NULL;
	char b1[32], b2[32], b3[32];
	int64_t from;
	char **args;
	int nargs, r;

	memset(&o, 0, sizeof(o));
	args = parse("diff", " from json snapshot ", argc, argv, &o, &nargs);
	st = open_store(args[0], RD_OPEN_READ, 0);
	from = o.from != 0 ? o.from : diff_base(st, o.version);
	if (o.c.json)
		j = json_or_die();
	r = rd_snap_diff(st, from, o.version, diff_one, j, &res, &err);
	rd_store_close(st);
	if (r == -1) {
		rd_json_free(j);
		tool_die_err(&err);
	}
	if (j != NULL) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "schema", "rdsnap-diff/1");
		rd_json_int(j, "from", res.from);
		rd_json_int(j, "to", res.to);
		rd_json_int(j, "added", res.added);
		rd_json_int(j, "added_bytes", res.added_bytes);
		rd_json_int(j, "removed", res.removed);
		rd_json_int(j, "removed_bytes", res.removed_bytes);
		rd_json_int(j, "changed", res.changed);
		rd_json_int(j, "changed_bytes", res.changed_bytes);
		rd_json_int(j, "metadata", res.metadata);
		rd_json_obj_end(j);
		rd_json_line(j);
		rd_json_free(j);
	} else {
		printf(
		    "added %lld (%s), removed %lld (%s), changed %lld (%s%s), metadata-only %lld\n",
		    (long long)res.added,
		    tool_human_bytes(res.added_bytes, b1, sizeof(b1)),
		    (long long)res.removed,
		    tool_human_bytes(res.removed_bytes, b2, sizeof(b2)),
		    (long long)res.changed, res.changed_bytes >= 0 ? "+" : "",
		    tool_human_bytes(res.changed_bytes, b3, sizeof(b3)),
		    (long long)res.metadata);
	}
	return tool_exit(EX_OK);
}
