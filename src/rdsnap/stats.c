/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats.c: rdsnap stats: the store's sizes and savings.
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

/* "name:" and "value", the values aligned in one column. */
static void
stat_line(const char *name, const char *value)
{
	printf("%s:%*s %s\n", name, (int)(19 - strlen(name)), "", value);
}

/* "saved" as a size, and as a share of "base" when there is one. */
static const char *
saving(int64_t saved, int64_t base, char *buf, size_t len)
{
	char b[32];

	tool_human_bytes(saved, b, sizeof(b));
	if (base > 0)
		snprintf(buf, len, "%s (%.1f%%)", b,
		    100.0 * (double)saved / (double)base);
	else
		snprintf(buf, len, "%s", b);
	return buf;
}

/* "N (SIZE)" */
static const char *
count_size(int64_t n, int64_t bytes, char *buf, size_t len)
{
	char b[32];

	snprintf(buf, len, "%lld (%s)", (long long)n,
	    tool_human_bytes(bytes, b, sizeof(b)));
	return buf;
}

static void
stats_human(const struct rd_store_stats *s)
{
	char v[1024], b1[32], b2[32], t[32];
	size_t n;
	int d;

	n = (size_t)snprintf(v, sizeof(v), "%lld", (long long)s->snapshots);
	if (s->snapshots > 0)
		snprintf(v + n, sizeof(v) - n, " (%lld to %lld)",
		    (long long)s->oldest, (long long)s->newest);
	stat_line("snapshots", v);
	if (s->snapshots > 0) {
		snprintf(v, sizeof(v), "%s (snapshot %lld)",
		    tool_time(s->oldest_time, t, sizeof(t)),
		    (long long)s->oldest);
		stat_line("oldest", v);
		snprintf(v, sizeof(v), "%s (snapshot %lld)",
		    tool_time(s->newest_time, t, sizeof(t)),
		    (long long)s->newest);
		stat_line("newest", v);
	}
	snprintf(v, sizeof(v), "%lld catalog rows", (long long)s->entries);
	stat_line("entries", v);
	snprintf(v, sizeof(v), "%lld (%lld full, %lld delta)",
	    (long long)s->contents, (long long)s->full, (long long)s->delta);
	stat_line("contents", v);
	stat_line("logical bytes",
	    tool_human_bytes(s->logical_bytes, b1, sizeof(b1)));
	stat_line("unique bytes",
	    tool_human_bytes(s->unique_bytes, b1, sizeof(b1)));
	stat_line("dedup savings",
	    saving(s->logical_bytes - s->unique_bytes, s->logical_bytes, v,
	        sizeof(v)));
	snprintf(v, sizeof(v), "%s raw, %s stored",
	    tool_human_bytes(s->full_raw, b1, sizeof(b1)),
	    tool_human_bytes(s->full_stored, b2, sizeof(b2)));
	stat_line("full contents", v);
	stat_line("compression savings",
	    saving(s->full_raw - s->full_stored, s->full_raw, v, sizeof(v)));
	snprintf(v, sizeof(v), "%s raw, %s stored",
	    tool_human_bytes(s->delta_raw, b1, sizeof(b1)),
	    tool_human_bytes(s->delta_stored, b2, sizeof(b2)));
	stat_line("delta contents", v);
	stat_line("delta savings",
	    saving(s->delta_raw - s->delta_stored, s->delta_raw, v, sizeof(v)));
	snprintf(v, sizeof(v), "max depth %d, mean %.2f", s->depth_max,
	    s->depth_mean);
	stat_line("delta chains", v);
	n = 0;
	for (d = 0; d <= s->depth_max && n < sizeof(v); d++)
		n += (size_t)snprintf(v + n, sizeof(v) - n, "%s%d: %lld",
		    d > 0 ? ", " : "", d, (long long)s->depth_count[d]);
	stat_line("chain depths", s->contents > 0 ? v : "-");
	stat_line("signatures",
	    count_size(s->signatures, s->signature_bytes, v, sizeof(v)));
	stat_line("packs", count_size(s->packs, s->pack_bytes, v, sizeof(v)));
	stat_line("live objects",
	    tool_human_bytes(s->live_bytes, b1, sizeof(b1)));
	stat_line("unreferenced",
	    tool_human_bytes(s->unreferenced_bytes, b1, sizeof(b1)));
	stat_line("orphan packs",
	    count_size(s->orphan_packs, s->orphan_bytes, v, sizeof(v)));
	stat_line("catalog",
	    tool_human_bytes(s->catalog_bytes, b1, sizeof(b1)));
	stat_line("size on disk",
	    tool_human_bytes(s->disk_bytes, b1, sizeof(b1)));
}

static void
stats_json(const char *store, const struct rd_store_stats *s)
{
	struct rd_json *j = json_or_die();
	int d;

	rd_json_obj_begin(j, NULL);
	rd_json_str(j, "schema", "rdsnap-stats/1");
	rd_json_str(j, "store", store);
	rd_json_int(j, "snapshots", s->snapshots);
	if (s->snapshots > 0) {
		rd_json_int(j, "oldest", s->oldest);
		rd_json_int(j, "oldest_time", s->oldest_time);
		tool_json_time(j, "oldest_at", (double)s->oldest_time);
		rd_json_int(j, "newest", s->newest);
		rd_json_int(j, "newest_time", s->newest_time);
		tool_json_time(j, "newest_at", (double)s->newest_time);
	} else {
		rd_json_null(j, "oldest");
		rd_json_null(j, "oldest_time");
		rd_json_null(j, "oldest_at");
		rd_json_null(j, "newest");
		rd_json_null(j, "newest_time");
		rd_json_null(j, "newest_at");
	}
	rd_json_int(j, "entries", s->entries);
	rd_json_int(j, "logical_bytes", s->logical_bytes);
	rd_json_int(j, "contents", s->contents);
	rd_json_int(j, "contents_full", s->full);
	rd_json_int(j, "contents_delta", s->delta);
	rd_json_int(j, "unique_bytes", s->unique_bytes);
	rd_json_int(j, "dedup_saved_bytes", s->logical_bytes - s->unique_bytes);
	rd_json_int(j, "full_raw_bytes", s->full_raw);
	rd_json_int(j, "full_stored_bytes", s->full_stored);
	rd_json_int(j, "delta_raw_bytes", s->delta_raw);
	rd_json_int(j, "delta_stored_bytes", s->delta_stored);
	rd_json_int(j, "depth_max", s->depth_max);
	rd_json_num(j, "depth_mean", s->depth_mean);
	rd_json_arr_begin(j, "depth_counts");
	for (d = 0; s->contents > 0 && d <= s->depth_max; d++)
		rd_json_int(j, NULL, s->depth_count[d]);
	rd_json_arr_end(j);
	rd_json_int(j, "signatures", s->signatures);
	rd_json_int(j, "signature_bytes", s->signature_bytes);
	rd_json_int(j, "packs", s->packs);
	rd_json_int(j, "pack_bytes", s->pack_bytes);
	rd_json_int(j, "catalog_packs", s->catalog_packs);
	rd_json_int(j, "live_bytes", s->live_bytes);
	rd_json_int(j, "unreferenced_bytes", s->unreferenced_bytes);
	rd_json_int(j, "orphan_packs", s->orphan_packs);
	rd_json_int(j, "orphan_bytes", s->orphan_bytes);
	rd_json_int(j, "catalog_bytes", s->catalog_bytes);
	rd_json_int(j, "disk_bytes", s->disk_bytes);
	rd_json_obj_end(j);
	rd_json_line(j);
	rd_json_free(j);
}

int
cmd_stats(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_store_stats s;
	char **args;
	int nargs, r;

	memset(&o, 0, sizeof(o));
	args = parse("stats", " json ", argc, argv, &o, &nargs);
	st = open_store(args[0], RD_OPEN_READ, 0);
	r = rd_store_stats(st, &s, &err);
	rd_store_close(st);
	if (r == -1)
		tool_die_err(&err);
	if (o.c.json)
		stats_json(args[0], &s);
	else
		stats_human(&s);
	return tool_exit(EX_OK);
}
