/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdsnap: delta snapshots of a directory into a store: init, create,
 * list, ls, restore and verify.  This file parses the command line and
 * prints; the work is done by librd.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "tool.h"

struct common {
	int json;
	double wait;
};

static RD_NORETURN void
usage(int status)
{
	FILE *fp = status == EX_OK ? stdout : stderr;

	fprintf(fp,
	    "usage: %s init [--codec zlib|zstd] [--chain N] [--standby] [--json] store\n"
	    "       %s create [--checksum] [--label TEXT] [--threads N] [--wait SECONDS]\n"
	    "              [--json] [--quiet] [--syslog] store source\n"
	    "       %s list [--json] store\n"
	    "       %s ls [--json] store [version [path]]\n"
	    "       %s restore [--version N] [--force] [--no-owner] [--json] [--quiet]\n"
	    "              store target [path ...]\n"
	    "       %s verify [--read-data] [--json] [--quiet] [--syslog] store\n"
	    "       %s --help | --version\n",
	    tool_progname(), tool_progname(), tool_progname(), tool_progname(),
	    tool_progname(), tool_progname(), tool_progname());
	exit(status);
}

enum {
	OPT_CHECKSUM = 256,
	OPT_FORCE,
	OPT_JSON,
	OPT_LABEL,
	OPT_QUIET,
	OPT_CHAIN,
	OPT_CODEC,
	OPT_NO_OWNER,
	OPT_READ_DATA,
	OPT_STANDBY,
	OPT_SYSLOG,
	OPT_THREADS,
	OPT_WAIT
};

static const struct option longopts[] = {
	{ "chain", required_argument, NULL, OPT_CHAIN },
	{ "checksum", no_argument, NULL, OPT_CHECKSUM },
	{ "codec", required_argument, NULL, OPT_CODEC },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "help", no_argument, NULL, 'h' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "no-owner", no_argument, NULL, OPT_NO_OWNER },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "read-data", no_argument, NULL, OPT_READ_DATA },
	{ "standby", no_argument, NULL, OPT_STANDBY },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "version", no_argument, NULL, 'V' },
	{ "wait", required_argument, NULL, OPT_WAIT },
	{ NULL, 0, NULL, 0 },
};

/* Options accepted by each subcommand, checked after parsing. */
struct opts {
	struct common c;
	struct rd_init_opts init;
	struct rd_snap_opts snap;
	struct rd_restore_opts restore;
	struct rd_verify_opts verify;
	int64_t version;
	int seen_version;
};

/*
 * Parse the options of subcommand "cmd".  "allowed" lists the long
 * option names that "cmd" accepts.
 */
static void
parse(const char *cmd, const char *allowed, int argc, char **argv,
    struct opts *o, int *optind_out)
{
	struct rd_err err = RD_ERR_INIT;
	int ch, idx;
	struct option lo[sizeof(longopts) / sizeof(longopts[0])];

	/* "restore --version N" names a snapshot; elsewhere it is -V */
	memcpy(lo, longopts, sizeof(lo));
	for (idx = 0; lo[idx].name != NULL; idx++)
		if (lo[idx].val == 'V')
			lo[idx].has_arg = strcmp(cmd, "restore") == 0
			    ? required_argument
			    : no_argument;
	optind = 1;
	argv[0] = (char *)tool_progname(); /* getopt's messages */
	while ((ch = getopt_long(argc, argv, "+hV", lo, &idx)) != -1) {
		if (ch == '?')
			usage(EX_USAGE);
		if (ch == 'h')
			usage(EX_OK);
		if (ch == 'V' && optarg == NULL)
			tool_version();
		tool_opt_allowed(cmd, allowed, lo, ch);
		switch (ch) {
		case OPT_CHAIN:
			o->init.chain_max =
			    (int)tool_parse_int(optarg, 1, 64, "chain length");
			break;
		case OPT_CHECKSUM:
			o->snap.checksum = 1;
			break;
		case OPT_CODEC:
			o->init.codec = rd_codec_parse(optarg, &err);
			if (o->init.codec == -1)
				tool_die_err(&err);
			break;
		case OPT_FORCE:
			o->restore.force = 1;
			break;
		case OPT_JSON:
			o->c.json = 1;
			break;
		case OPT_LABEL:
			if (strlen(optarg) > 127)
				tool_die(EX_USAGE,
				    "label is longer than 127 bytes");
			o->snap.label = optarg;
			break;
		case OPT_NO_OWNER:
			o->restore.no_owner = 1;
			break;
		case OPT_QUIET:
			tool_set_quiet(1);
			break;
		case OPT_READ_DATA:
			o->verify.read_data = 1;
			break;
		case OPT_STANDBY:
			o->init.standby = 1;
			break;
		case OPT_SYSLOG:
			tool_set_syslog(1);
			break;
		case OPT_THREADS:
			o->snap.threads =
			    (int)tool_parse_int(optarg, 1, 256, "thread count");
			break;
		case 'V':
			o->version =
			    tool_parse_int(optarg, 1, INT64_MAX, "version");
			o->seen_version = 1;
			break;
		case OPT_WAIT:
			o->c.wait = tool_parse_seconds(optarg, "wait");
			break;
		default:
			usage(EX_USAGE);
		}
	}
	*optind_out = optind;
}

static struct rd_store *
open_store(const char *path, int mode, double wait)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;

	if (rd_store_open(path, mode, wait, &st, &err) == -1)
		tool_die_err(&err);
	return st;
}

static struct rd_json *
json_or_die(void)
{
	struct rd_json *j = rd_json_new(stdout);

	if (j == NULL)
		tool_die(EX_OSERR, "out of memory");
	return j;
}

static void
print_hash(FILE *fp, const unsigned char *sha)
{
	char hex[2 * RD_HASH_LEN + 1];

	rd_hex(sha, RD_HASH_LEN, hex);
	fputs(hex, fp);
}

/* A path on one line: backslash and newline escaped as in C. */
static void
print_path(FILE *fp, const char *p)
{
	for (; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", fp);
		else if (*p == '\n')
			fputs("\\n", fp);
		else
			putc(*p, fp);
	}
}

static void
iso_time(int64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000);
	long frac = (long)(ns % 1000000000);
	struct tm tm;
	char base[32];

	if (frac < 0) {
		frac += 1000000000;
		t--;
	}
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(base, sizeof(base), "%lld", (long long)t);
	snprintf(buf, len, "%s.%09ldZ", base, frac);
}

/* ------------------------------------------------------------------ */

static int
cmd_init(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_store_info info;
	struct rd_json *j;
	int ind;
	struct rd_init_opts def = RD_INIT_OPTS_INIT;

	memset(&o, 0, sizeof(o));
	o.init = def;
	parse("init", " chain codec json standby ", argc, argv, &o, &ind);
	if (argc - ind != 1)
		usage(EX_USAGE);
	if (rd_store_init(argv[ind], &o.init, &err) == -1)
		tool_die_err(&err);
	st = open_store(argv[ind], RD_OPEN_READ, 0);
	if (rd_store_info(st, &info, &err) == -1)
		tool_die_err(&err);
	if (o.c.json) {
		j = json_or_die();
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "store", argv[ind]);
		rd_json_str(j, "uuid", info.uuid);
		rd_json_str(j, "role", info.standby ? "standby" : "primary");
		rd_json_str(j, "codec", rd_codec_name(info.codec));
		rd_json_int(j, "chain_max", info.chain_max);
		rd_json_int(j, "format", info.format);
		rd_json_obj_end(j);
		rd_json_line(j);
		rd_json_free(j);
	} else {
		printf(
		    "initialized %sstore '%s' (id %s, codec %s, delta chains up to %d)\n",
		    info.standby ? "standby " : "", argv[ind], info.uuid,
		    rd_codec_name(info.codec), info.chain_max);
	}
	rd_store_close(st);
	return tool_exit(EX_OK);
}

static void
on_notice(void *arg, const char *msg)
{
	(void)arg;
	tool_warn("%s", msg);
}

static void
on_progress(void *arg, int64_t files, int64_t bytes)
{
	char b[32];
	double *t0 = arg, dt = rd_monotonic() - *t0;

	tool_progress("%lld files, %s, %.1f MiB/s", (long long)files,
	    tool_human_bytes(bytes, b, sizeof(b)),
	    dt > 0 ? (double)bytes / dt / 1048576.0 : 0.0);
}

static void
json_snapinfo(struct rd_json *j, const struct rd_snapinfo *si)
{
	rd_json_int(j, "id", si->id);
	rd_json_int(j, "started", si->started);
	rd_json_int(j, "finished", si->finished);
	rd_json_num(j, "seconds", si->seconds);
	rd_json_int(j, "files", si->files);
	rd_json_int(j, "bytes", si->bytes);
	rd_json_int(j, "bytes_read", si->bytes_read);
	rd_json_int(j, "bytes_added", si->bytes_added);
	rd_json_int(j, "stored", si->stored);
	rd_json_int(j, "changed", si->changed);
	rd_json_int(j, "removed", si->removed);
	rd_json_int(j, "inconsistent", si->inconsistent);
	rd_json_int(j, "skipped", si->skipped);
	if (si->label[0] != '\0')
		rd_json_str(j, "label", si->label);
	else
		rd_json_null(j, "label");
}

static int
cmd_create(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_snapinfo si;
	struct rd_json *j;
	char b1[32], b2[32], b3[32], b4[32];
	double t0 = rd_monotonic();
	int ind;
	struct rd_snap_opts def = RD_SNAP_OPTS_INIT;

	memset(&o, 0, sizeof(o));
	o.snap = def;
	parse("create", " checksum json label quiet syslog threads wait ", argc,
	    argv, &o, &ind);
	if (argc - ind != 2)
		usage(EX_USAGE);
	o.snap.notice = on_notice;
	if (tool_progress_enabled()) {
		o.snap.progress = on_progress;
		o.snap.progress_arg = &t0;
	}
	st = open_store(argv[ind], RD_OPEN_WRITE, o.c.wait);
	if (rd_snap_create(st, argv[ind + 1], &o.snap, &si, &err) == -1) {
		rd_store_close(st);
		tool_die_err(&err);
	}
	rd_store_close(st);
	tool_progress_done();
	tool_log(
	    "snapshot %lld of '%s': %lld entries, %lld changed, %lld removed, %lld bytes stored in %.2f s",
	    (long long)si.id, argv[ind + 1], (long long)si.files,
	    (long long)si.changed, (long long)si.removed, (long long)si.stored,
	    si.seconds);
	if (o.c.json) {
		j = json_or_die();
		rd_json_obj_begin(j, NULL);
		json_snapinfo(j, &si);
		rd_json_obj_end(j);
		rd_json_line(j);
		rd_json_free(j);
	} else if (!tool_quiet()) {
		printf(
		    "snapshot %lld: %lld entr%s, %s; %lld new or changed, %lld removed\n",
		    (long long)si.id, (long long)si.files,
		    si.files == 1 ? "y" : "ies",
		    tool_human_bytes(si.bytes, b1, sizeof(b1)),
		    (long long)si.changed, (long long)si.removed);
		printf("read %s, added %s, stored %s in %.2f s\n",
		    tool_human_bytes(si.bytes_read, b2, sizeof(b2)),
		    tool_human_bytes(si.bytes_added, b3, sizeof(b3)),
		    tool_human_bytes(si.stored, b4, sizeof(b4)), si.seconds);
		if (si.inconsistent > 0)
			printf(
			    "%lld files changed while they were read (see above)\n",
			    (long long)si.inconsistent);
	}
	return tool_exit(EX_OK);
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
		json_snapinfo(lc->j, si);
		rd_json_obj_end(lc->j);
		return 0;
	}
	if (lc->n++ == 0)
		printf("%6s  %-19s  %9s  %10s  %10s  %10s  %9s  %s\n", "ID",
		    "TIME", "FILES", "BYTES", "ADDED", "STORED", "DURATION",
		    "LABEL");
	printf("%6lld  %-19s  %9lld  %10s  %10s  %10s  %7.2f s  %s\n",
	    (long long)si->id, tool_time(si->started, t, sizeof(t)),
	    (long long)si->files, tool_human_bytes(si->bytes, b1, sizeof(b1)),
	    tool_human_bytes(si->bytes_added, b2, sizeof(b2)),
	    tool_human_bytes(si->stored, b3, sizeof(b3)), si->seconds,
	    si->label);
	return 0;
}

static int
cmd_list(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct list_ctx lc = { NULL, 0 };
	int ind, r;

	memset(&o, 0, sizeof(o));
	parse("list", " json ", argc, argv, &o, &ind);
	if (argc - ind != 1)
		usage(EX_USAGE);
	st = open_store(argv[ind], RD_OPEN_READ, 0);
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
ls_one(void *arg, const struct rd_entry *e)
{
	struct rd_json *j = arg;
	char t[48], hex[2 * RD_HASH_LEN + 1], type[2] = { (char)e->type, 0 };

	iso_time(e->mtime_ns, t, sizeof(t));
	if (j != NULL) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "path", e->path);
		rd_json_str(j, "type", type);
		rd_json_int(j, "mode", e->mode);
		rd_json_int(j, "uid", e->uid);
		rd_json_int(j, "gid", e->gid);
		rd_json_int(j, "size", e->size);
		rd_json_int(j, "mtime_ns", e->mtime_ns);
		rd_json_str(j, "mtime", t);
		if (e->type == RD_TYPE_FILE) {
			rd_hex(e->sha, RD_HASH_LEN, hex);
			rd_json_str(j, "sha256", hex);
		}
		if (e->target != NULL)
			rd_json_str(j, "target", e->target);
		rd_json_obj_end(j);
		rd_json_line(j);
		return 0;
	}
	printf("%c %o %lld %s ", e->type, e->mode, (long long)e->size, t);
	if (e->type == RD_TYPE_FILE)
		print_hash(stdout, e->sha);
	else
		putchar('-');
	putchar(' ');
	print_path(stdout, e->path);
	if (e->target != NULL) {
		fputs(" -> ", stdout);
		print_path(stdout, e->target);
	}
	putchar('\n');
	return 0;
}

static int
cmd_ls(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_json *j = NULL;
	int64_t id = 0;
	int ind, r;

	memset(&o, 0, sizeof(o));
	parse("ls", " json ", argc, argv, &o, &ind);
	if (argc - ind < 1 || argc - ind > 3)
		usage(EX_USAGE);
	if (argc - ind >= 2)
		id = tool_parse_int(argv[ind + 1], 1, INT64_MAX, "version");
	st = open_store(argv[ind], RD_OPEN_READ, 0);
	if (o.c.json)
		j = json_or_die();
	r = rd_snap_entries(st, id, argc - ind == 3 ? argv[ind + 2] : NULL,
	    ls_one, j, &err);
	rd_store_close(st);
	rd_json_free(j);
	if (r == -1)
		tool_die_err(&err);
	return tool_exit(EX_OK);
}

static int
cmd_restore(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_restore_result res;
	struct rd_json *j;
	char b[32];
	double t0 = rd_monotonic();
	int ind;
	struct rd_restore_opts def = RD_RESTORE_OPTS_INIT;

	memset(&o, 0, sizeof(o));
	o.restore = def;
	parse("restore", " force json no-owner quiet version ", argc, argv, &o,
	    &ind);
	if (argc - ind < 2)
		usage(EX_USAGE);
	if (tool_progress_enabled()) {
		o.restore.progress = on_progress;
		o.restore.progress_arg = &t0;
	}
	st = open_store(argv[ind], RD_OPEN_READ, 0);
	if (rd_restore(st, o.version, argv[ind + 1],
	        (const char *const *)argv + ind + 2, argc - ind - 2, &o.restore,
	        &res, &err) == -1) {
		rd_store_close(st);
		tool_die_err(&err);
	}
	rd_store_close(st);
	tool_progress_done();
	if (o.c.json) {
		j = json_or_die();
		rd_json_obj_begin(j, NULL);
		rd_json_int(j, "id", res.id);
		rd_json_str(j, "target", argv[ind + 1]);
		rd_json_int(j, "files", res.files);
		rd_json_int(j, "bytes", res.bytes);
		rd_json_num(j, "seconds", rd_monotonic() - t0);
		rd_json_obj_end(j);
		rd_json_line(j);
		rd_json_free(j);
	} else if (!tool_quiet()) {
		printf(
		    "restored snapshot %lld into '%s': %lld entr%s, %s in %.2f s\n",
		    (long long)res.id, argv[ind + 1], (long long)res.files,
		    res.files == 1 ? "y" : "ies",
		    tool_human_bytes(res.bytes, b, sizeof(b)),
		    rd_monotonic() - t0);
	}
	return tool_exit(EX_OK);
}

static void
on_damage(void *arg, const char *what, const unsigned char *sha,
    const char *uses)
{
	struct rd_json *j = arg;
	char hex[2 * RD_HASH_LEN + 1];

	if (j != NULL) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "damage", what);
		if (sha != NULL) {
			rd_hex(sha, RD_HASH_LEN, hex);
			rd_json_str(j, "sha256", hex);
		}
		if (uses != NULL)
			rd_json_str(j, "used_by", uses);
		rd_json_obj_end(j);
		return;
	}
	tool_progress_done();
	fputs("DAMAGED ", stdout);
	print_path(stdout, what);
	putchar('\n');
	if (uses != NULL) {
		fputs("  used by ", stdout);
		print_path(stdout, uses);
		putchar('\n');
	}
	if (tool_syslog())
		tool_log("damaged: %s", what);
}

static int
cmd_verify(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_verify_result res;
	struct rd_json *j = NULL;
	char b[32];
	double t0 = rd_monotonic();
	int ind, r;
	struct rd_verify_opts def = RD_VERIFY_OPTS_INIT;

	memset(&o, 0, sizeof(o));
	o.verify = def;
	parse("verify", " json quiet read-data syslog ", argc, argv, &o, &ind);
	if (argc - ind != 1)
		usage(EX_USAGE);
	o.verify.damage = on_damage;
	if (o.c.json) {
		j = json_or_die();
		rd_json_obj_begin(j, NULL);
		rd_json_arr_begin(j, "damage");
		o.verify.damage_arg = j;
	}
	if (tool_progress_enabled()) {
		o.verify.progress = on_progress;
		o.verify.progress_arg = &t0;
	}
	st = open_store(argv[ind], RD_OPEN_READ, 0);
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
		rd_json_num(j, "seconds", rd_monotonic() - t0);
		rd_json_obj_end(j);
		rd_json_line(j);
		rd_json_free(j);
	} else if (r == 0) {
		printf(
		    "ok: %lld snapshots, %lld contents in %lld packs%s%s%s\n",
		    (long long)res.snapshots, (long long)res.contents,
		    (long long)res.packs,
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
	if (res.orphan_packs > 0 && !o.c.json)
		printf(
		    "%lld unreferenced pack%s (left by an interrupted run, or being committed by one now; the next writer removes leftovers)\n",
		    (long long)res.orphan_packs,
		    res.orphan_packs == 1 ? "" : "s");
	if (r == 1 && tool_syslog())
		tool_log("verify found %lld problem%s", (long long)res.damaged,
		    res.damaged == 1 ? "" : "s");
	return tool_exit(r == 0 ? EX_OK : 1);
}

int
main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "create", cmd_create },
		{ "init", cmd_init },
		{ "list", cmd_list },
		{ "ls", cmd_ls },
		{ "restore", cmd_restore },
		{ "verify", cmd_verify },
	};
	size_t i;

	tool_init(argv[0], "rdsnap");
	if (argc < 2)
		usage(EX_USAGE);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		usage(EX_OK);
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0)
		tool_version();
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	tool_warn("unknown command '%s'", argv[1]);
	usage(EX_USAGE);
}
