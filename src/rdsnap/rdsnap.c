/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdsnap: delta snapshots of a directory into a store.  This file holds
 * the command line: the subcommand table, option parsing, the output
 * helpers the subcommands share, and init.  The other subcommands are in
 * create.c, list.c, diff.c, stats.c and restore.c; the work is done by
 * librd.
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

enum {
	OPT_BRACKET = 256,
	OPT_CHECKSUM,
	OPT_FORCE,
	OPT_LABEL,
	OPT_CHAIN,
	OPT_CODEC,
	OPT_NO_ACLS,
	OPT_NO_KEY,
	OPT_NO_OWNER,
	OPT_NO_XATTRS,
	OPT_READ_DATA,
	OPT_SEED,
	OPT_SUBSET,
	OPT_STANDBY,
	OPT_THREADS,
	OPT_EXCLUDE,
	OPT_EXCLUDE_FROM,
	OPT_HOOK_TIMEOUT,
	OPT_ONE_FILE_SYSTEM,
	OPT_POST,
	OPT_PRE,
	OPT_FORGET_STANDBY,
	OPT_KEEP_LAST,
	OPT_KEEP_HOURLY,
	OPT_KEEP_DAILY,
	OPT_KEEP_WEEKLY,
	OPT_KEEP_MONTHLY,
	OPT_KEEP_YEARLY,
	OPT_MAX_UNUSED,
	OPT_MAY_CHANGE,
	OPT_METRICS,
	OPT_ORPHANS,
	OPT_FROM,
};

static const struct option longopts[] = {
	{ "bracket", required_argument, NULL, OPT_BRACKET },
	{ "chain", required_argument, NULL, OPT_CHAIN },
	{ "checksum", no_argument, NULL, OPT_CHECKSUM },
	{ "codec", required_argument, NULL, OPT_CODEC },
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },
	{ "exclude-from", required_argument, NULL, OPT_EXCLUDE_FROM },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "forget-standby", required_argument, NULL, OPT_FORGET_STANDBY },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "help", no_argument, NULL, 'h' },
	{ "hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT },
	{ "json", no_argument, NULL, 'j' },
	{ "keep-daily", required_argument, NULL, OPT_KEEP_DAILY },
	{ "keep-hourly", required_argument, NULL, OPT_KEEP_HOURLY },
	{ "keep-last", required_argument, NULL, OPT_KEEP_LAST },
	{ "keep-monthly", required_argument, NULL, OPT_KEEP_MONTHLY },
	{ "keep-weekly", required_argument, NULL, OPT_KEEP_WEEKLY },
	{ "keep-yearly", required_argument, NULL, OPT_KEEP_YEARLY },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "max-unused", required_argument, NULL, OPT_MAX_UNUSED },
	{ "may-change", required_argument, NULL, OPT_MAY_CHANGE },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "no-acls", no_argument, NULL, OPT_NO_ACLS },
	{ "no-key", no_argument, NULL, OPT_NO_KEY },
	{ "no-owner", no_argument, NULL, OPT_NO_OWNER },
	{ "no-xattrs", no_argument, NULL, OPT_NO_XATTRS },
	{ "orphans", no_argument, NULL, OPT_ORPHANS },
	{ "one-file-system", no_argument, NULL, OPT_ONE_FILE_SYSTEM },
	{ "post", required_argument, NULL, OPT_POST },
	{ "pre", required_argument, NULL, OPT_PRE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "read-data", no_argument, NULL, OPT_READ_DATA },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "snapshot", required_argument, NULL, 's' },
	{ "standby", no_argument, NULL, OPT_STANDBY },
	{ "subset", required_argument, NULL, OPT_SUBSET },
	{ "syslog", no_argument, NULL, TOOL_OPT_SYSLOG },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "wait", required_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 },
};

/* A share of the packs: "N" or "N%", 1 to 100. */
static int
parse_subset(const char *s)
{
	char buf[8];
	size_t n = strlen(s);

	if (n > 0 && n < sizeof(buf) && s[n - 1] == '%') {
		memcpy(buf, s, n - 1);
		buf[n - 1] = '\0';
		s = buf;
	}
	return (int)tool_parse_int(s, 1, 100, "subset percentage");
}

static int
keep_count(const char *s)
{
	return (int)tool_parse_int(s, 1, 1000000, "keep count");
}

/* Append a copy of "pattern" to the list "*list" of "*n" ("*cap" room). */
static void
push_pattern(char ***list, int *n, int *cap, const char *pattern)
{
	char **v;

	if (*n == *cap) {
		*cap = *cap != 0 ? *cap * 2 : 8;
		v = realloc(*list, (size_t)*cap * sizeof(*v));
		if (v == NULL)
			tool_die(EX_OSERR, "out of memory");
		*list = v;
	}
	(*list)[(*n)++] = tool_xstrdup(pattern);
}

/*
 * Add the exclude pattern "pattern" (copied) to "o", or die with EX_USAGE
 * if it matches nothing; "file" and "line" say where it was read, if it
 * was.
 */
static void
add_exclude(struct opts *o, const char *pattern, const char *file, int line)
{
	struct rd_err err = RD_ERR_INIT;

	if (rd_snap_exclude_check(pattern, &err) == -1) {
		if (file != NULL)
			tool_die(EX_USAGE, "%s (in '%s', line %d)", err.msg,
			    file, line);
		tool_die_err(&err);
	}
	push_pattern(&o->excludes, &o->nexcludes, &o->cap_excludes, pattern);
}

/*
 * Add the patterns of the file "file", one a line; empty lines, lines of
 * blanks and lines that begin with '#' are not patterns.  A file that
 * cannot be read is fatal (EX_NOINPUT).
 */
static void
read_excludes(struct opts *o, const char *file)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, saved;

	fp = fopen(file, "re");
	if (fp == NULL)
		tool_die(EX_NOINPUT, "cannot read exclude file '%s': %s", file,
		    strerror(errno));
	while ((n = getline(&line, &cap, fp)) != -1) {
		lineno++;
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		if (line[0] == '#' || line[strspn(line, " \t")] == '\0')
			continue;
		add_exclude(o, line, file, lineno);
	}
	saved = errno;
	free(line);
	if (ferror(fp)) {
		fclose(fp);
		tool_die(EX_NOINPUT, "cannot read exclude file '%s': %s", file,
		    strerror(saved));
	}
	if (fclose(fp) == EOF)
		tool_die(EX_NOINPUT, "cannot read exclude file '%s': %s", file,
		    strerror(errno));
}

/*
 * Parse the options of subcommand "cmd".  "allowed" lists the long
 * option names that "cmd" accepts.
 */
char **
parse(const char *cmd, const char *allowed, int argc, char **argv,
    struct opts *o, int *nargs)
{
	struct rd_err err = RD_ERR_INIT;
	int ch;

	tool_getopt_reset(argv);
	while ((ch = tool_getopt(argc, argv, "jns:w:", longopts)) != -1) {
		tool_opt_allowed(cmd, allowed, longopts, ch);
		switch (ch) {
		case OPT_BRACKET:
			o->bracket = optarg;
			break;
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
		case OPT_EXCLUDE:
			add_exclude(o, optarg, NULL, 0);
			break;
		case OPT_EXCLUDE_FROM:
			read_excludes(o, optarg);
			break;
		case OPT_FORCE:
			o->restore.force = 1;
			break;
		case OPT_HOOK_TIMEOUT:
			o->hook_timeout =
			    tool_parse_positive_seconds(optarg, "hook timeout");
			break;
		case 'n':
			o->prune.dry_run = 1;
			break;
		case OPT_FORGET_STANDBY:
			o->prune.forget_standby = optarg;
			break;
		case OPT_KEEP_LAST:
			o->prune.keep_last = keep_count(optarg);
			break;
		case OPT_KEEP_HOURLY:
			o->prune.keep_hourly = keep_count(optarg);
			break;
		case OPT_KEEP_DAILY:
			o->prune.keep_daily = keep_count(optarg);
			break;
		case OPT_KEEP_WEEKLY:
			o->prune.keep_weekly = keep_count(optarg);
			break;
		case OPT_KEEP_MONTHLY:
			o->prune.keep_monthly = keep_count(optarg);
			break;
		case OPT_KEEP_YEARLY:
			o->prune.keep_yearly = keep_count(optarg);
			break;
		case OPT_ORPHANS:
			o->prune.orphans = 1;
			break;
		case OPT_MAY_CHANGE:
			if (rd_snap_exclude_check(optarg, &err) == -1)
				tool_die_err(&err);
			push_pattern(&o->may_change, &o->nmay_change,
			    &o->cap_may_change, optarg);
			break;
		case OPT_METRICS:
			o->metrics = optarg;
			break;
		case OPT_MAX_UNUSED:
			o->prune.max_unused =
			    (int)tool_parse_int(optarg, 0, 100, "unused share");
			break;
		case 'j':
			o->c.json = 1;
			break;
		case OPT_LABEL:
			if (strlen(optarg) > 127)
				tool_die(EX_USAGE,
				    "label is longer than 127 bytes");
			o->snap.label = optarg;
			break;
		case OPT_NO_KEY:
			o->no_key = 1;
			break;
		case OPT_NO_OWNER:
			o->restore.no_owner = 1;
			break;
		case OPT_NO_XATTRS:
			o->snap.no_xattrs = 1;
			break;
		case OPT_NO_ACLS:
			o->snap.no_acls = 1;
			break;
		case OPT_ONE_FILE_SYSTEM:
			o->snap.one_file_system = 1;
			break;
		case OPT_POST:
			o->post = optarg;
			break;
		case OPT_PRE:
			o->pre = optarg;
			break;
		case OPT_READ_DATA:
			o->verify.read_data = 1;
			break;
		case OPT_SEED:
			o->verify.seed = (uint64_t)tool_parse_int(optarg, 0,
			    INT64_MAX, "seed");
			o->have_seed = 1;
			break;
		case OPT_SUBSET:
			o->verify.subset = parse_subset(optarg);
			break;
		case OPT_STANDBY:
			o->init.standby = 1;
			break;
		case OPT_THREADS:
			o->snap.threads =
			    (int)tool_parse_int(optarg, 1, 256, "thread count");
			break;
		case OPT_FROM:
			o->from =
			    tool_parse_int(optarg, 1, INT64_MAX, "snapshot id");
			break;
		case 's':
			o->version =
			    tool_parse_int(optarg, 1, INT64_MAX, "snapshot id");
			break;
		case 'w':
			o->c.wait = tool_parse_seconds(optarg, "wait");
			break;
		default:
			tool_usage(EX_USAGE);
		}
	}
	return tool_operands(argc - optind, argv + optind, nargs);
}

struct rd_store *
open_store(const char *path, int mode, double wait)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = NULL;

	tool_step("opening store '%s' to %s", path,
	    mode == RD_OPEN_WRITE ? "write" : "read");
	if (rd_store_open(path, mode, wait, &st, &err) == -1)
		tool_die_err(&err);
	return st;
}

struct rd_json *
json_or_die(void)
{
	struct rd_json *j = rd_json_new(stdout);

	if (j == NULL)
		tool_die(EX_OSERR, "out of memory");
	return j;
}

void
print_hash(FILE *fp, const unsigned char *sha)
{
	char hex[2 * RD_HASH_LEN + 1];

	rd_hex(sha, RD_HASH_LEN, hex);
	fputs(hex, fp);
}

/* A path on one line, escaped as tool_put_escaped() does. */
void
print_path(FILE *fp, const char *p)
{
	tool_put_escaped(fp, p);
}

/* An "ls" or "find" line after its first words: type, mode, size, mtime,
 * SHA-256 (or "-"), the path. */
void
print_entry(const struct rd_entry *e)
{
	char t[48];

	iso_time(e->mtime_ns, t, sizeof(t));
	printf("%c %o %lld %s ", e->type, e->mode, (long long)e->size, t);
	if (e->type == RD_TYPE_FILE)
		print_hash(stdout, e->sha);
	else
		putchar('-');
	putchar(' ');
	print_entry_path(e);
}

/* The end of an "ls" or "diff" line: the path, a link's target, newline. */
void
print_entry_path(const struct rd_entry *e)
{
	print_path(stdout, e->path);
	if (e->target != NULL) {
		fputs(" -> ", stdout);
		print_path(stdout, e->target);
	}
	putchar('\n');
}

void
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

int
cmd_init(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_store_info info;
	struct rd_json *j;
	char **args;
	int nargs;
	struct rd_init_opts def = RD_INIT_OPTS_INIT;
	char keyfile[4200];

	memset(&o, 0, sizeof(o));
	o.init = def;
	o.init.codec = rd_codec_default();
	args = parse("init", " chain codec json no-key standby ", argc, argv,
	    &o, &nargs);
	if (o.no_key && !o.init.standby)
		tool_die(EX_USAGE,
		    "--no-key is for a standby store (--standby)");
	o.init.key = o.init.standby && !o.no_key;
	if (rd_store_init(args[0], &o.init, &err) == -1)
		tool_die_err(&err);
	st = open_store(args[0], RD_OPEN_READ, 0);
	if (rd_store_info(st, &info, &err) == -1)
		tool_die_err(&err);
	if (o.c.json) {
		j = json_or_die();
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "schema", "rdsnap-init/1");
		rd_json_str(j, "store", args[0]);
		rd_json_str(j, "uuid", info.uuid);
		rd_json_str(j, "role", info.standby ? "standby" : "primary");
		rd_json_str(j, "codec", rd_codec_name(info.codec));
		rd_json_int(j, "chain_max", info.chain_max);
		rd_json_int(j, "format", info.format);
		if (o.init.key) {
			snprintf(keyfile, sizeof(keyfile), "%s/ship.key",
			    args[0]);
			rd_json_str(j, "key", keyfile);
		} else
			rd_json_null(j, "key");
		rd_json_obj_end(j);
		rd_json_line(j);
		rd_json_free(j);
	} else {
		printf(
		    "initialized %sstore '%s' (id %s, codec %s, delta chains up to %d)\n",
		    info.standby ? "standby " : "", args[0], info.uuid,
		    rd_codec_name(info.codec), info.chain_max);
		if (o.init.key)
			printf(
			    "wrote its shipping key to '%s/ship.key': it accepts only streams\n"
			    "made with this key; copy the file to the primary over a safe channel\n"
			    "and give it to rdship push or send with --key FILE\n",
			    args[0]);
		else if (o.init.standby)
			printf(
			    "no shipping key: it accepts any well-formed stream of its origin;\n"
			    "use it only where the channel is trusted (see rdship(1), KEYS)\n");
	}
	rd_store_close(st);
	return tool_exit(EX_OK);
}

void
on_notice(void *arg, const char *msg)
{
	(void)arg;
	/*
	 * A socket or fifo left out is by design and --quiet silences it
	 * (a cron run stays silent); a path kept at its previous version or
	 * a file that changed while read is an omission, always reported.
	 */
	if (strncmp(msg, "skipped '", 9) == 0)
		tool_notice("%s", msg);
	else
		tool_warn("%s", msg);
}

void
on_progress(void *arg, int64_t files, int64_t bytes)
{
	char b[32];
	double *t0 = arg, dt = rd_monotonic() - *t0;

	tool_progress("%lld files, %s, %.1f MiB/s", (long long)files,
	    tool_human_bytes(bytes, b, sizeof(b)),
	    dt > 0 ? (double)bytes / dt / 1048576.0 : 0.0);
}

void
json_entry(struct rd_json *j, const struct rd_entry *e)
{
	char t[48], hex[2 * RD_HASH_LEN + 1], type[2] = { (char)e->type, 0 };

	iso_time(e->mtime_ns, t, sizeof(t));
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
		rd_json_path(j, "target", e->target);
}

void
json_snapinfo(struct rd_json *j, const struct rd_snapinfo *si)
{
	rd_json_int(j, "id", si->id);
	rd_json_int(j, "started", si->started);
	rd_json_int(j, "finished", si->finished);
	tool_json_time(j, "started_at", (double)si->started);
	tool_json_time(j, "finished_at", (double)si->finished);
	rd_json_num(j, "seconds", si->seconds);
	rd_json_int(j, "files", si->files);
	rd_json_int(j, "bytes", si->bytes);
	rd_json_int(j, "bytes_read", si->bytes_read);
	rd_json_int(j, "bytes_added", si->bytes_added);
	rd_json_int(j, "stored", si->stored);
	rd_json_int(j, "changed", si->changed);
	rd_json_int(j, "removed", si->removed);
	rd_json_int(j, "inconsistent", si->inconsistent);
	rd_json_int(j, "partial", si->partial);
	rd_json_int(j, "skipped", si->skipped);
	if (si->label[0] != '\0')
		rd_json_str(j, "label", si->label);
	else
		rd_json_null(j, "label");
}

static const struct tool_cmd cmds[] = {
	{ "init", cmd_init,
	    "init [-jqv] [--codec zlib|zstd] [--chain N] [--standby [--no-key]]\n"
	    "              [--syslog] store",
	    0 },
	{ "create", cmd_create,
	    "create [-jqv] [-w SECONDS] [--checksum] [--exclude PATTERN]\n"
	    "              [--exclude-from FILE] [--one-file-system] [--no-xattrs]\n"
	    "              [--no-acls] [--label TEXT]\n"
	    "              [--threads N] [--pre COMMAND] [--post COMMAND]\n"
	    "              [--bracket COMMAND] [--may-change PATTERN]\n"
	    "              [--hook-timeout SECONDS] [--metrics FILE] [--syslog]\n"
	    "              store source",
	    0 },
	{ "list", cmd_list, "list [-jqv] [--syslog] store", TOOL_READER },
	{ "problems", cmd_problems, "problems [-jqv] [-s N] [--syslog] store",
	    TOOL_READER },
	{ "ls", cmd_ls, "ls [-jqv] [-s N] [--syslog] store [path | pattern]",
	    TOOL_READER },
	{ "cat", cmd_cat, "cat [-qv] [-s N] [--syslog] store path",
	    TOOL_READER },
	{ "find", cmd_find, "find [-jqv] [--syslog] store pattern",
	    TOOL_READER },
	{ "diff", cmd_diff, "diff [-jqv] [--from N] [-s N] [--syslog] store",
	    TOOL_READER },
	{ "restore", cmd_restore,
	    "restore [-jqv] [-s N] [--force] [--no-owner] [--syslog]\n"
	    "              store target [path | pattern ...]",
	    0 },
	{ "verify", cmd_verify,
	    "verify [-jqv] [--read-data [--subset PERCENT [--seed N]]]\n"
	    "              [--syslog] store",
	    TOOL_READER },
	{ "prune", cmd_prune,
	    "prune [-jnqv] [-w SECONDS] [--keep-last N] [--keep-hourly N]\n"
	    "              [--keep-daily N] [--keep-weekly N] [--keep-monthly N]\n"
	    "              [--keep-yearly N] [--max-unused PERCENT]\n"
	    "              [--forget-standby UUID] [--orphans] [--syslog] store",
	    0 },
	{ "stats", cmd_stats, "stats [-jqv] [--syslog] store", TOOL_READER },
	{ NULL, NULL, "--help | --version", 0 },
};

int
main(int argc, char *argv[])
{
	tool_init(argv[0], "rdsnap");
	return tool_dispatch(cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
