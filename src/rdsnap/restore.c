/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * restore.c: rdsnap restore and verify: reading snapshots back, into a
 * target directory or to check every content.
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

int
cmd_restore(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_restore_result res;
	struct rd_json *j;
	char b[32];
	double t0 = rd_monotonic();
	char **args;
	int nargs;
	struct rd_restore_opts def = RD_RESTORE_OPTS_INIT;

	memset(&o, 0, sizeof(o));
	o.restore = def;
	args = parse("restore", " force json no-owner snapshot ", argc, argv,
	    &o, &nargs);
	if (tool_progress_enabled()) {
		o.restore.progress = on_progress;
		o.restore.progress_arg = &t0;
	}
	o.restore.notice = on_notice;
	st = open_store(args[0], RD_OPEN_READ, 0);
	tool_step("restoring into '%s'", args[1]);
	if (rd_restore(st, o.version, args[1], (const char *const *)args + 2,
	        nargs - 2, &o.restore, &res, &err) == -1) {
		rd_store_close(st);
		tool_die_err(&err);
	}
	rd_store_close(st);
	tool_progress_done();
	if (o.c.json) {
		j = json_or_die();
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "schema", "rdsnap-restore/1");
		rd_json_int(j, "id", res.id);
		rd_json_path(j, "target", args[1]);
		rd_json_int(j, "files", res.files);
		rd_json_int(j, "bytes", res.bytes);
		rd_json_int(j, "setid_dropped", res.setid_dropped);
		rd_json_int(j, "omitted", res.omitted);
		rd_json_int(j, "owners_lost", res.owners_lost);
		rd_json_num(j, "seconds", rd_monotonic() - t0);
		rd_json_obj_end(j);
		rd_json_line(j);
		rd_json_free(j);
	} else if (!tool_quiet()) {
		printf(
		    "restored snapshot %lld into '%s': %lld entr%s, %s in %.2f s\n",
		    (long long)res.id, args[1], (long long)res.files,
		    res.files == 1 ? "y" : "ies",
		    tool_human_bytes(res.bytes, b, sizeof(b)),
		    rd_monotonic() - t0);
	}
	if (res.omitted > 0) {
		/* each was named as it happened */
		tool_warn("%lld thing%s not restored (see above%s)",
		    (long long)res.omitted, res.omitted == 1 ? "" : "s",
		    res.owners_lost > 20
		        ? "; owners of the entries after the first 20 not named"
		        : "");
		if (res.setid_dropped == 0)
			return tool_exit(3);
	}
	if (res.setid_dropped > 0) {
		/* the tree is not as it was: say so in the status */
		tool_warn(
		    "%lld file%s restored without setuid/setgid bits (restore as root to keep owners and bits)",
		    (long long)res.setid_dropped,
		    res.setid_dropped == 1 ? "" : "s");
		return tool_exit(3);
	}
	return tool_exit(EX_OK);
}

/* "  used by 'a' in snapshots 1-3; 'b' in snapshot 2" */
static void
print_uses(const struct rd_use *u, int n, int more)
{
	int i;

	fputs("  used by ", stdout);
	if (n == 0)
		fputs("no snapshot (base of deltas only)", stdout);
	for (i = 0; i < n; i++) {
		fputs(i > 0 ? "; '" : "'", stdout);
		print_path(stdout, u[i].path);
		if (u[i].first == u[i].last)
			printf("' in snapshot %lld", (long long)u[i].first);
		else
			printf("' in snapshots %lld-%lld",
			    (long long)u[i].first, (long long)u[i].last);
	}
	if (more)
		fputs("; ...", stdout);
	putchar('\n');
}

static void
on_damage(void *arg, const char *what, const unsigned char *sha,
    const struct rd_use *u, int n, int more)
{
	struct rd_json *j = arg;
	char hex[2 * RD_HASH_LEN + 1];
	int i;

	if (j != NULL) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "damage", what);
		if (sha != NULL) {
			rd_hex(sha, RD_HASH_LEN, hex);
			rd_json_str(j, "sha256", hex);
			rd_json_arr_begin(j, "used_by");
			for (i = 0; i < n; i++) {
				rd_json_obj_begin(j, NULL);
				rd_json_path(j, "path", u[i].path);
				rd_json_int(j, "first", u[i].first);
				rd_json_int(j, "last", u[i].last);
				rd_json_obj_end(j);
			}
			rd_json_arr_end(j);
			rd_json_bool(j, "used_by_more", more);
		}
		rd_json_obj_end(j);
		return;
	}
	tool_progress_done();
	fputs("DAMAGED ", stdout);
	print_path(stdout, what);
	putchar('\n');
	if (sha != NULL)
		print_uses(u, n, more);
	if (tool_syslog())
		tool_log("damaged: %s", what);
}

/* --subset needs --read-data, --seed needs --subset; pick a seed. */
static void
subset_setup(struct opts *o)
{
	uint64_t seed;

	if (o->verify.subset > 0 && !o->verify.read_data)
		tool_die(EX_USAGE, "--subset needs --read-data");
	if (o->have_seed && o->verify.subset == 0)
		tool_die(EX_USAGE, "--seed needs --subset");
	if (o->verify.subset == 0 || o->have_seed)
		return;
	if (getentropy(&seed, sizeof(seed)) == -1)
		tool_die(EX_OSERR, "cannot get a random seed: %s",
		    strerror(errno));
	o->verify.seed = seed & (uint64_t)INT64_MAX; /* --seed takes it */
}

/* With --subset: which packs, and how to pick the same ones again. */
static void
print_subset(const struct opts *o, const struct rd_verify_result *res)
{
	if (o->verify.subset == 0 || o->c.json)
		return;
	printf(
	    "subset: the contents of %lld of %lld pack%s (%d%%), seed %llu; --seed %llu picks the same packs\n",
	    (long long)res->packs_read, (long long)res->packs,
	    res->packs == 1 ? "" : "s", o->verify.subset,
	    (unsigned long long)o->verify.seed,
	    (unsigned long long)o->verify.seed);
}

int
cmd_verify(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_verify_result res;
	struct rd_json *j = NULL;
	char b[32];
	double t0 = rd_monotonic();
	char **args;
	int nargs, r;
	struct rd_verify_opts def = RD_VERIFY_OPTS_INIT;

	memset(&o, 0, sizeof(o));
	o.verify = def;
	args = parse("verify", " json quiet read-data seed subset syslog ",
	    argc, argv, &o, &nargs);
	subset_setup(&o);
	o.verify.damage = on_damage;
	if (o.c.json) {
		j = json_or_die();
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "schema", "rdsnap-verify/1");
		rd_json_arr_begin(j, "damage");
		o.verify.damage_arg = j;
	}
	if (tool_progress_enabled()) {
		o.verify.progress = on_progress;
		o.verify.progress_arg = &t0;
	}
	st = open_store(args[0], RD_OPEN_READ, 0);
	tool_step("verifying %s",
	    o.verify.read_data ? "every content, byte for byte"
	                       : "the catalog and the pack headers");
	r = rd_verify(st, &o.verify, &res, &err);
	rd_store_close(st);
	if (r == -1)
		tool_die_err(&err);
	tool_progress_done();
	if (j != NULL) {
		rd_json_arr_end(j);
		rd_json_bool(j, "ok", r == 0);
		rd_json_bool(j, "read_data", o.verify.read_data);
		rd_json_int(j, "snapshots", res.snapshots);
		rd_json_int(j, "contents", res.contents);
		rd_json_int(j, "packs", res.packs);
		rd_json_int(j, "bytes_checked", res.bytes_checked);
		rd_json_int(j, "damaged", res.damaged);
		rd_json_int(j, "orphan_packs", res.orphan_packs);
		if (o.verify.subset > 0) {
			rd_json_int(j, "subset", o.verify.subset);
			rd_json_int(j, "seed", (int64_t)o.verify.seed);
			rd_json_int(j, "packs_read", res.packs_read);
			rd_json_int(j, "contents_read", res.contents_read);
		} else {
			rd_json_null(j, "subset");
			rd_json_null(j, "seed");
		}
		rd_json_num(j, "seconds", rd_monotonic() - t0);
		rd_json_obj_end(j);
		rd_json_line(j);
		rd_json_free(j);
	} else if (r == 0) {
		printf("ok: %lld %s, %lld %s in %lld %s%s%s%s\n",
		    (long long)res.snapshots,
		    tool_plural(res.snapshots, "snapshot", "snapshots"),
		    (long long)res.contents,
		    tool_plural(res.contents, "content", "contents"),
		    (long long)res.packs,
		    tool_plural(res.packs, "pack", "packs"),
		    o.verify.read_data
		        ? ", "
		        : " (headers only; --read-data checks every byte)",
		    o.verify.read_data
		        ? tool_human_bytes(res.bytes_checked, b, sizeof(b))
		        : "",
		    o.verify.read_data ? " rebuilt and hashed" : "");
	} else {
		printf("verify found %lld problem%s\n", (long long)res.damaged,
		    res.damaged == 1 ? "" : "s");
	}
	print_subset(&o, &res);
	if (res.orphan_packs > 0 && !o.c.json)
		printf(
		    "%lld unreferenced pack%s (left by an interrupted run, dropped by a prune while readers had the store open, or being committed now; the next writer without readers removes them)\n",
		    (long long)res.orphan_packs,
		    res.orphan_packs == 1 ? "" : "s");
	if (r == 1 && tool_syslog())
		tool_log("verify found %lld problem%s", (long long)res.damaged,
		    res.damaged == 1 ? "" : "s");
	return tool_exit(r == 0 ? EX_OK : 1);
}
