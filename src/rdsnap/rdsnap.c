/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdsnap: delta snapshots of a directory into a store: init, create,
 * list, ls, diff, restore, verify and stats.  This file parses the
 * command line and prints; the work is done by librd.
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

#include "tool.h"

struct common {
	int json;
	double wait;
};

enum {
	OPT_BRACKET = 256,
	OPT_CHECKSUM,
	OPT_FORCE,
	OPT_JSON,
	OPT_LABEL,
	OPT_QUIET,
	OPT_CHAIN,
	OPT_CODEC,
	OPT_NO_KEY,
	OPT_NO_OWNER,
	OPT_READ_DATA,
	OPT_STANDBY,
	OPT_SYSLOG,
	OPT_THREADS,
	OPT_WAIT,
	OPT_EXCLUDE,
	OPT_EXCLUDE_FROM,
	OPT_HOOK_TIMEOUT,
	OPT_ONE_FILE_SYSTEM,
	OPT_POST,
	OPT_PRE,
	OPT_DRY_RUN,
	OPT_FORGET_STANDBY,
	OPT_KEEP_LAST,
	OPT_KEEP_HOURLY,
	OPT_KEEP_DAILY,
	OPT_KEEP_WEEKLY,
	OPT_KEEP_MONTHLY,
	OPT_KEEP_YEARLY,
	OPT_MAX_UNUSED,
	OPT_MAY_CHANGE,
	OPT_ORPHANS,
	OPT_FROM,
	OPT_SNAPSHOT
};

static const struct option longopts[] = {
	{ "bracket", required_argument, NULL, OPT_BRACKET },
	{ "chain", required_argument, NULL, OPT_CHAIN },
	{ "checksum", no_argument, NULL, OPT_CHECKSUM },
	{ "codec", required_argument, NULL, OPT_CODEC },
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },
	{ "exclude-from", required_argument, NULL, OPT_EXCLUDE_FROM },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "forget-standby", required_argument, NULL, OPT_FORGET_STANDBY },
	{ "from", required_argument, NULL, OPT_FROM },
	{ "help", no_argument, NULL, 'h' },
	{ "hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "keep-daily", required_argument, NULL, OPT_KEEP_DAILY },
	{ "keep-hourly", required_argument, NULL, OPT_KEEP_HOURLY },
	{ "keep-last", required_argument, NULL, OPT_KEEP_LAST },
	{ "keep-monthly", required_argument, NULL, OPT_KEEP_MONTHLY },
	{ "keep-weekly", required_argument, NULL, OPT_KEEP_WEEKLY },
	{ "keep-yearly", required_argument, NULL, OPT_KEEP_YEARLY },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "max-unused", required_argument, NULL, OPT_MAX_UNUSED },
	{ "may-change", required_argument, NULL, OPT_MAY_CHANGE },
	{ "no-key", no_argument, NULL, OPT_NO_KEY },
	{ "no-owner", no_argument, NULL, OPT_NO_OWNER },
	{ "orphans", no_argument, NULL, OPT_ORPHANS },
	{ "one-file-system", no_argument, NULL, OPT_ONE_FILE_SYSTEM },
	{ "post", required_argument, NULL, OPT_POST },
	{ "pre", required_argument, NULL, OPT_PRE },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "read-data", no_argument, NULL, OPT_READ_DATA },
	{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
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
	struct rd_prune_opts prune;
	int64_t version; /* --snapshot, 0: none given */
	int64_t from;    /* diff --from, 0: none given */
	char **excludes; /* create: patterns, owned */
	int nexcludes, cap_excludes;
	char **may_change; /* create: patterns, owned */
	int nmay_change, cap_may_change;
	const char *pre, *post; /* create: hook commands */
	const char *bracket;    /* create: the bracketing co-process */
	double hook_timeout;
	int no_key; /* init: a standby without a shipping key */
};

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
static void
parse(const char *cmd, const char *allowed, int argc, char **argv,
    struct opts *o, int *optind_out)
{
	struct rd_err err = RD_ERR_INIT;
	int ch;

	optind = 1;
	argv[0] = (char *)tool_progname(); /* getopt's messages */
	while ((ch = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		if (ch == '?')
			tool_usage(EX_USAGE);
		if (ch == 'h')
			tool_usage(EX_OK);
		if (ch == 'V')
			tool_version_only(0);
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
			    tool_parse_seconds(optarg, "hook timeout");
			if (!(o->hook_timeout > 0))
				tool_die(EX_USAGE,
				    "invalid hook timeout '%s' (expected more than 0 seconds)",
				    optarg);
			break;
		case OPT_DRY_RUN:
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
		case OPT_MAX_UNUSED:
			o->prune.max_unused =
			    (int)tool_parse_int(optarg, 0, 100, "unused share");
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
		case OPT_NO_KEY:
			o->no_key = 1;
			break;
		case OPT_NO_OWNER:
			o->restore.no_owner = 1;
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
		case OPT_FROM:
			o->from =
			    tool_parse_int(optarg, 1, INT64_MAX, "snapshot id");
			break;
		case OPT_SNAPSHOT:
			o->version =
			    tool_parse_int(optarg, 1, INT64_MAX, "snapshot id");
			break;
		case OPT_WAIT:
			o->c.wait = tool_parse_seconds(optarg, "wait");
			break;
		default:
			tool_usage(EX_USAGE);
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

/* The end of an "ls" or "diff" line: the path, a link's target, newline. */
static void
print_entry_path(const struct rd_entry *e)
{
	print_path(stdout, e->path);
	if (e->target != NULL) {
		fputs(" -> ", stdout);
		print_path(stdout, e->target);
	}
	putchar('\n');
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
	char keyfile[4200];

	memset(&o, 0, sizeof(o));
	o.init = def;
	parse("init", " chain codec json no-key standby ", argc, argv, &o,
	    &ind);
	if (argc - ind != 1)
		tool_usage(EX_USAGE);
	if (o.no_key && !o.init.standby)
		tool_die(EX_USAGE,
		    "--no-key is for a standby store (--standby)");
	o.init.key = o.init.standby && !o.no_key;
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
		if (o.init.key) {
			snprintf(keyfile, sizeof(keyfile), "%s/ship.key",
			    argv[ind]);
			rd_json_str(j, "key", keyfile);
		} else
			rd_json_null(j, "key");
		rd_json_obj_end(j);
		rd_json_line(j);
		rd_json_free(j);
	} else {
		printf(
		    "initialized %sstore '%s' (id %s, codec %s, delta chains up to %d)\n",
		    info.standby ? "standby " : "", argv[ind], info.uuid,
		    rd_codec_name(info.codec), info.chain_max);
		if (o.init.key)
			printf(
			    "wrote its shipping key to '%s/ship.key': it accepts only streams\n"
			    "made with this key; copy the file to the primary over a safe channel\n"
			    "and give it to rdship push or send with --key FILE\n",
			    argv[ind]);
		else if (o.init.standby)
			printf(
			    "no shipping key: it accepts any well-formed stream of its origin;\n"
			    "use it only where the channel is trusted (see rdship(1), KEYS)\n");
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
	rd_json_int(j, "partial", si->partial);
	rd_json_int(j, "skipped", si->skipped);
	if (si->label[0] != '\0')
		rd_json_str(j, "label", si->label);
	else
		rd_json_null(j, "label");
}

/* The progress of a create, measured against the newest snapshot. */
struct create_progress {
	double t0;
	int64_t files, bytes; /* the newest snapshot's; 0 files: none */
};

/* ", ETA 42s", ", ETA 3m05s" or ", ETA 2h10m" into "buf". */
static void
eta_text(double seconds, char *buf, size_t len)
{
	long long n = (long long)(seconds + 0.5);

	if (n < 60)
		snprintf(buf, len, ", ETA %llds", n);
	else if (n < 3600)
		snprintf(buf, len, ", ETA %lldm%02llds", n / 60, n % 60);
	else
		snprintf(buf, len, ", ETA %lldh%02lldm", n / 3600, n / 60 % 60);
}

/*
 * Files and bytes done, the rate, and while the run is within the size
 * of the newest snapshot, that size and the time left at this rate.
 */
static void
on_create_progress(void *arg, int64_t files, int64_t bytes)
{
	struct create_progress *p = arg;
	char b[32], total[32], rate[32], eta[48] = "";
	double dt = rd_monotonic() - p->t0;
	double r = dt > 0 ? (double)bytes / dt : 0;

	tool_human_bytes(bytes, b, sizeof(b));
	tool_human_bytes((int64_t)r, rate, sizeof(rate));
	if (p->files == 0 || files > p->files || bytes > p->bytes) {
		tool_progress("%lld files, %s, %s/s", (long long)files, b,
		    rate);
		return;
	}
	if (p->bytes > 0 && r > 0)
		eta_text((double)(p->bytes - bytes) / r, eta, sizeof(eta));
	else if (p->bytes == 0 && files > 0 && dt > 0)
		eta_text((double)(p->files - files) * dt / (double)files, eta,
		    sizeof(eta));
	tool_progress("%lld of %lld files, %s of %s, %s/s%s", (long long)files,
	    (long long)p->files, b,
	    tool_human_bytes(p->bytes, total, sizeof(total)), rate, eta);
}

/* What the hooks of a create see. */
struct hook_ctx {
	char store[PATH_MAX];  /* absolute */
	char source[PATH_MAX]; /* absolute; the working directory */
	double timeout;
};

/*
 * Fill "h" with the absolute paths of "store" and of the directory
 * "source".  Returns 0, or -1 with "err" set as rd_snap_create() sets it
 * for a source that is missing or not a directory.
 */
static int
hook_paths(const char *store, const char *source, struct hook_ctx *h,
    struct rd_err *err)
{
	struct stat sb;

	if (realpath(store, h->store) == NULL)
		return rd_err_sys(err, RD_EIO, "cannot resolve store '%s'",
		    store);
	if (stat(source, &sb) == -1)
		return rd_err_sys(err, RD_EIO, "cannot open source '%s'",
		    source);
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		return rd_err_sys(err, RD_EIO, "cannot open source '%s'",
		    source);
	}
	if (realpath(source, h->source) == NULL)
		return rd_err_sys(err, RD_EIO, "cannot resolve source '%s'",
		    source);
	return 0;
}

/*
 * The environment of a hook: RDSNAP_STORE and RDSNAP_SOURCE, and
 * RDSNAP_STATUS and RDSNAP_SNAPSHOT set when not NULL, else removed.
 */
struct hook_env {
	char vars[4][PATH_MAX + 32];
	const char *env[5];
};

static void
hook_env(struct hook_env *e, const struct hook_ctx *h, const char *status,
    const char *snapshot)
{
	char(*vars)[PATH_MAX + 32] = e->vars;
	int r;

	snprintf(vars[0], sizeof(vars[0]), "RDSNAP_STORE=%s", h->store);
	snprintf(vars[1], sizeof(vars[1]), "RDSNAP_SOURCE=%s", h->source);
	/* the pre hook gets none, not those of an rdsnap that runs us */
	snprintf(vars[2], sizeof(vars[2]), "RDSNAP_STATUS%s%s",
	    status != NULL ? "=" : "", status != NULL ? status : "");
	snprintf(vars[3], sizeof(vars[3]), "RDSNAP_SNAPSHOT%s%s",
	    snapshot != NULL ? "=" : "", snapshot != NULL ? snapshot : "");
	for (r = 0; r < 4; r++)
		e->env[r] = vars[r];
	e->env[4] = NULL;
}

/*
 * Run the create hook "cmd" ("which" is "pre" or "post") in the source
 * directory with RDSNAP_STORE and RDSNAP_SOURCE in its environment, and
 * for the post hook RDSNAP_STATUS "status" and RDSNAP_SNAPSHOT "snapshot"
 * (both NULL for the pre hook).  A hook that fails is reported on
 * standard error.  Returns 0 if it exited 0, 1 if it failed (non-zero
 * exit, a signal, the timeout), -1 if it could not be run ("err" set).
 */
static int
run_hook(const char *which, const char *cmd, const struct hook_ctx *h,
    const char *status, const char *snapshot, struct rd_err *err)
{
	struct hook_env e;
	char why[64];
	int ws, r;

	hook_env(&e, h, status, snapshot);
	tool_progress_done();
	r = rd_hook_run(cmd, h->source, e.env, h->timeout, &ws, err);
	if (r == -1)
		return -1;
	if (r == 1 && h->timeout == (double)(long long)h->timeout)
		snprintf(why, sizeof(why), "timed out after %lld s",
		    (long long)h->timeout);
	else if (r == 1)
		snprintf(why, sizeof(why), "timed out after %g s", h->timeout);
	else if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0)
		return 0;
	else if (WIFEXITED(ws))
		snprintf(why, sizeof(why), "exited %d", WEXITSTATUS(ws));
	else if (WIFSIGNALED(ws))
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(ws));
	else
		snprintf(why, sizeof(why), "wait status %#x", (unsigned)ws);
	tool_warn("%s hook failed: %s", which, why);
	return 1;
}

static void
free_excludes(struct opts *o)
{
	while (o->nexcludes > 0)
		free(o->excludes[--o->nexcludes]);
	free(o->excludes);
	o->excludes = NULL;
	o->snap.excludes = NULL;
	o->snap.nexcludes = 0;
	while (o->nmay_change > 0)
		free(o->may_change[--o->nmay_change]);
	free(o->may_change);
	o->may_change = NULL;
	o->snap.may_change = NULL;
	o->snap.nmay_change = 0;
}

/*
 * The pre hook runs under the store's lock, before anything is read; the
 * bracket co-process after it, around the copy (rd_snap_create()); the
 * post hook after the lock is released, whether the snapshot was taken
 * or not, unless the pre hook failed.
 */
static int
cmd_create(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT, herr = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_snapinfo si, newest;
	struct rd_json *j;
	struct create_progress pg;
	struct hook_ctx h;
	struct hook_env benv;
	char b1[32], b2[32], b3[32], b4[32], id[32] = "";
	int ind, r, hr = 0;
	struct rd_snap_opts def = RD_SNAP_OPTS_INIT;

	memset(&o, 0, sizeof(o));
	memset(&pg, 0, sizeof(pg));
	o.snap = def;
	o.hook_timeout = 300;
	parse("create",
	    " bracket checksum exclude exclude-from hook-timeout json label may-change one-file-system post pre quiet syslog threads wait ",
	    argc, argv, &o, &ind);
	if (argc - ind != 2)
		tool_usage(EX_USAGE);
	o.snap.notice = on_notice;
	o.snap.excludes = (const char *const *)o.excludes;
	o.snap.nexcludes = o.nexcludes;
	o.snap.may_change = (const char *const *)o.may_change;
	o.snap.nmay_change = o.nmay_change;
	if (o.nmay_change > 0 && o.bracket == NULL)
		tool_die(EX_USAGE,
		    "--may-change needs --bracket: only what brackets the copy can repair a file that changed while read");
	st = open_store(argv[ind], RD_OPEN_WRITE, o.c.wait);
	if (tool_progress_enabled()) {
		/* no newest snapshot (or no reading it): no estimate */
		if (rd_snap_get(st, 0, &newest, &err) == 0) {
			pg.files = newest.files;
			pg.bytes = newest.bytes;
		}
		rd_err_clear(&err);
		o.snap.progress = on_create_progress;
		o.snap.progress_arg = &pg;
	}
	if (o.pre != NULL || o.post != NULL || o.bracket != NULL) {
		h.timeout = o.hook_timeout;
		if (hook_paths(argv[ind], argv[ind + 1], &h, &err) == -1) {
			rd_store_close(st);
			tool_die_err(&err);
		}
	}
	if (o.bracket != NULL) {
		/* it sees what the pre hook sees, and RDSNAP_BRACKET_DIR */
		hook_env(&benv, &h, NULL, NULL);
		o.snap.bracket = o.bracket;
		o.snap.bracket_cwd = h.source;
		o.snap.bracket_env = benv.env;
		o.snap.bracket_timeout = o.hook_timeout;
	}
	if (o.pre != NULL) {
		hr = run_hook("pre", o.pre, &h, NULL, NULL, &err);
		if (hr != 0) {
			/* nothing was done: no snapshot, no post hook */
			rd_store_close(st);
			free_excludes(&o);
			if (hr == -1)
				tool_die_err(&err);
			return tool_exit(1);
		}
	}
	pg.t0 = rd_monotonic(); /* the rate leaves out the wait and the hook */
	r = rd_snap_create(st, argv[ind + 1], &o.snap, &si, &err);
	/* the lock goes first: a post hook may run a writer (prune) */
	rd_store_close(st);
	free_excludes(&o);
	if (r == -1 && o.post == NULL)
		tool_die_err(&err);
	if (r == -1)
		tool_warn("%s", err.msg[0] != '\0' ? err.msg : "unknown error");
	if (o.post != NULL) {
		if (r == 0)
			snprintf(id, sizeof(id), "%lld", (long long)si.id);
		hr = run_hook("post", o.post, &h, r == 0 ? "ok" : "failed", id,
		    &herr);
		if (hr == -1)
			tool_warn("%s", herr.msg);
	}
	if (r == -1)
		return tool_exit(tool_exit_code(err.code));
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
	}
	if (si.partial > 0)
		tool_warn(
		    "snapshot %lld is partial: %lld path%s could not be read (rdsnap problems lists them)",
		    (long long)si.id, (long long)si.partial,
		    si.partial == 1 ? "" : "s");
	if (si.inconsistent > 0)
		tool_warn(
		    "snapshot %lld is inconsistent: %lld file%s kept changing while read (rdsnap problems lists them)",
		    (long long)si.id, (long long)si.inconsistent,
		    si.inconsistent == 1 ? "" : "s");
	if (hr == -1)
		return tool_exit(tool_exit_code(herr.code));
	if (hr == 1)
		return tool_exit(1);
	/* done, with omissions: a cron script can tell it from damage */
	return tool_exit(si.partial > 0 || si.inconsistent > 0 ? 3 : EX_OK);
}

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
		json_snapinfo(lc->j, si);
		rd_json_obj_end(lc->j);
		return 0;
	}
	if (lc->n++ == 0)
		printf("%6s  %-19s  %9s  %10s  %10s  %10s  %9s  %-8s  %s\n",
		    "ID", "TIME", "FILES", "BYTES", "ADDED", "STORED",
		    "DURATION", "STATE", "LABEL");
	printf("%6lld  %-19s  %9lld  %10s  %10s  %10s  %7.2f s  %-8s  %s\n",
	    (long long)si->id, tool_time(si->started, t, sizeof(t)),
	    (long long)si->files, tool_human_bytes(si->bytes, b1, sizeof(b1)),
	    tool_human_bytes(si->bytes_added, b2, sizeof(b2)),
	    tool_human_bytes(si->stored, b3, sizeof(b3)), si->seconds,
	    snap_state(si), si->label);
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
		tool_usage(EX_USAGE);
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
problem_one(void *arg, const struct rd_problem *p)
{
	struct rd_json *j = arg;

	if (j != NULL) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "path", p->path);
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

static int
cmd_problems(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_json *j = NULL;
	int ind, r;

	memset(&o, 0, sizeof(o));
	parse("problems", " json snapshot ", argc, argv, &o, &ind);
	if (argc - ind != 1)
		tool_usage(EX_USAGE);
	st = open_store(argv[ind], RD_OPEN_READ, 0);
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
	print_entry_path(e);
	return 0;
}

static int
cmd_ls(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_json *j = NULL;
	int ind, r;

	memset(&o, 0, sizeof(o));
	parse("ls", " json snapshot ", argc, argv, &o, &ind);
	if (argc - ind < 1 || argc - ind > 2)
		tool_usage(EX_USAGE);
	st = open_store(argv[ind], RD_OPEN_READ, 0);
	if (o.c.json)
		j = json_or_die();
	r = rd_snap_entries(st, o.version,
	    argc - ind == 2 ? argv[ind + 1] : NULL, ls_one, j, &err);
	rd_store_close(st);
	rd_json_free(j);
	if (r == -1)
		tool_die_err(&err);
	return tool_exit(EX_OK);
}

/* ------------------------------------------------------------------ */
/* diff and stats */

/* Names of the RD_DIFF_* bits, bit 0 first, for --json. */
static const char *const diff_names[] = { "type", "content", "target", "mode",
	"uid", "gid", "mtime" };

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
	char t[48], hex[2 * RD_HASH_LEN + 1], type[2] = { 0, 0 };

	if (e == NULL) {
		rd_json_null(j, key);
		return;
	}
	type[0] = (char)e->type;
	iso_time(e->mtime_ns, t, sizeof(t));
	rd_json_obj_begin(j, key);
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
	}
}

static int
diff_one(void *arg, const struct rd_change *c)
{
	struct rd_json *j = arg;
	const struct rd_entry *e = c->new != NULL ? c->new : c->old;
	size_t i;

	if (j != NULL) {
		rd_json_obj_begin(j, NULL);
		rd_json_str(j, "change", change_name(c->kind));
		rd_json_str(j, "path", e->path);
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

static int
cmd_diff(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_diff_result res;
	struct rd_json *j = NULL;
	char b1[32], b2[32], b3[32];
	int64_t from;
	int ind, r;

	memset(&o, 0, sizeof(o));
	parse("diff", " from json snapshot ", argc, argv, &o, &ind);
	if (argc - ind != 1)
		tool_usage(EX_USAGE);
	st = open_store(argv[ind], RD_OPEN_READ, 0);
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
	rd_json_str(j, "store", store);
	rd_json_int(j, "snapshots", s->snapshots);
	if (s->snapshots > 0) {
		rd_json_int(j, "oldest", s->oldest);
		rd_json_int(j, "oldest_time", s->oldest_time);
		rd_json_int(j, "newest", s->newest);
		rd_json_int(j, "newest_time", s->newest_time);
	} else {
		rd_json_null(j, "oldest");
		rd_json_null(j, "oldest_time");
		rd_json_null(j, "newest");
		rd_json_null(j, "newest_time");
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

static int
cmd_stats(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_store_stats s;
	int ind, r;

	memset(&o, 0, sizeof(o));
	parse("stats", " json ", argc, argv, &o, &ind);
	if (argc - ind != 1)
		tool_usage(EX_USAGE);
	st = open_store(argv[ind], RD_OPEN_READ, 0);
	r = rd_store_stats(st, &s, &err);
	rd_store_close(st);
	if (r == -1)
		tool_die_err(&err);
	if (o.c.json)
		stats_json(argv[ind], &s);
	else
		stats_human(&s);
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
	parse("restore", " force json no-owner quiet snapshot ", argc, argv, &o,
	    &ind);
	if (argc - ind < 2)
		tool_usage(EX_USAGE);
	if (tool_progress_enabled()) {
		o.restore.progress = on_progress;
		o.restore.progress_arg = &t0;
	}
	o.restore.notice = on_notice;
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
		rd_json_int(j, "setid_dropped", res.setid_dropped);
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
		tool_usage(EX_USAGE);
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
		    "%lld unreferenced pack%s (left by an interrupted run, dropped by a prune while readers had the store open, or being committed now; the next writer without readers removes them)\n",
		    (long long)res.orphan_packs,
		    res.orphan_packs == 1 ? "" : "s");
	if (r == 1 && tool_syslog())
		tool_log("verify found %lld problem%s", (long long)res.damaged,
		    res.damaged == 1 ? "" : "s");
	return tool_exit(r == 0 ? EX_OK : 1);
}

struct prune_ctx {
	struct rd_json *j;
	int dry_run;
};

static void
on_prune_snapshot(void *arg, const struct rd_snapinfo *si, int keep,
    const char *why)
{
	struct prune_ctx *pc = arg;
	char t[32];

	if (pc->j != NULL) {
		rd_json_obj_begin(pc->j, NULL);
		rd_json_int(pc->j, "id", si->id);
		rd_json_int(pc->j, "started", si->started);
		rd_json_bool(pc->j, "keep", keep);
		if (keep)
			rd_json_str(pc->j, "why", why);
		rd_json_obj_end(pc->j);
		return;
	}
	if (tool_quiet() || (keep && !pc->dry_run))
		return;
	printf("%-6s %6lld  %s", keep ? "keep" : "remove", (long long)si->id,
	    tool_time(si->started, t, sizeof(t)));
	if (keep)
		printf("  (%s)", why);
	else if (si->label[0] != '\0')
		printf("  %s", si->label);
	putchar('\n');
}

static int
cmd_prune(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	struct rd_prune_result res;
	struct prune_ctx pc = { NULL, 0 };
	char b1[32], b2[32];
	int ind;
	struct rd_prune_opts def = RD_PRUNE_OPTS_INIT;

	memset(&o, 0, sizeof(o));
	o.prune = def;
	parse("prune",
	    " dry-run forget-standby json keep-daily keep-hourly keep-last"
	    " keep-monthly keep-weekly keep-yearly max-unused orphans quiet"
	    " syslog wait ",
	    argc, argv, &o, &ind);
	if (argc - ind != 1)
		tool_usage(EX_USAGE);
	pc.dry_run = o.prune.dry_run;
	o.prune.snapshot = on_prune_snapshot;
	o.prune.arg = &pc;
	if (o.c.json) {
		pc.j = json_or_die();
		rd_json_obj_begin(pc.j, NULL);
		rd_json_arr_begin(pc.j, "snapshots");
	}
	st = open_store(argv[ind], RD_OPEN_WRITE, o.c.wait);
	if (rd_snap_prune(st, &o.prune, &res, &err) == -1) {
		rd_store_close(st);
		rd_json_free(pc.j);
		tool_die_err(&err);
	}
	rd_store_close(st);
	if (!o.prune.dry_run)
		tool_log(
		    "pruned '%s': removed %lld snapshots, kept %lld, freed %lld bytes in %.2f s",
		    argv[ind], (long long)res.removed, (long long)res.kept,
		    (long long)res.bytes_freed, res.seconds);
	if (pc.j != NULL) {
		rd_json_arr_end(pc.j);
		rd_json_bool(pc.j, "dry_run", o.prune.dry_run);
		rd_json_int(pc.j, "kept", res.kept);
		rd_json_int(pc.j, "removed", res.removed);
		rd_json_int(pc.j, "rows_removed", res.rows_removed);
		rd_json_int(pc.j, "contents_removed", res.contents_removed);
		rd_json_int(pc.j, "contents_rebased", res.contents_rebased);
		rd_json_int(pc.j, "object_bytes", res.object_bytes);
		rd_json_int(pc.j, "packs_removed", res.packs_removed);
		rd_json_int(pc.j, "packs_rewritten", res.packs_rewritten);
		rd_json_int(pc.j, "packs_written", res.packs_written);
		rd_json_int(pc.j, "bytes_removed", res.bytes_removed);
		rd_json_int(pc.j, "bytes_written", res.bytes_written);
		rd_json_int(pc.j, "bytes_freed", res.bytes_freed);
		rd_json_int(pc.j, "packs_deferred", res.packs_deferred);
		rd_json_num(pc.j, "seconds", res.seconds);
		rd_json_obj_end(pc.j);
		rd_json_line(pc.j);
		rd_json_free(pc.j);
	} else if (!tool_quiet()) {
		printf(
		    "%s %lld snapshot%s, kept %lld; %s %s (%lld contents, %lld packs removed, %lld rewritten, %lld contents rebased) in %.2f s\n",
		    o.prune.dry_run ? "would remove" : "removed",
		    (long long)res.removed, res.removed == 1 ? "" : "s",
		    (long long)res.kept,
		    o.prune.dry_run ? "would free about" : "freed",
		    tool_human_bytes(res.bytes_freed, b1, sizeof(b1)),
		    (long long)res.contents_removed,
		    (long long)res.packs_removed,
		    (long long)res.packs_rewritten,
		    (long long)res.contents_rebased, res.seconds);
		if (res.packs_deferred > 0)
			printf(
			    "%lld old pack%s (%s) stay until no reader has the store open; the next writer removes them\n",
			    (long long)res.packs_deferred,
			    res.packs_deferred == 1 ? "" : "s",
			    tool_human_bytes(res.bytes_removed, b2,
			        sizeof(b2)));
	}
	return tool_exit(EX_OK);
}

static const struct tool_cmd cmds[] = {
	{ "init", cmd_init,
	    "init [--codec zlib|zstd] [--chain N] [--standby [--no-key]] [--json]\n"
	    "              store" },
	{ "create", cmd_create,
	    "create [--checksum] [--exclude PATTERN] [--exclude-from FILE]\n"
	    "              [--one-file-system] [--label TEXT] [--threads N] [--wait SECONDS]\n"
	    "              [--pre COMMAND] [--post COMMAND] [--bracket COMMAND]\n"
	    "              [--may-change PATTERN]\n"
	    "              [--hook-timeout SECONDS] [--json] [--quiet] [--syslog]\n"
	    "              store source" },
	{ "list", cmd_list, "list [--json] store" },
	{ "problems", cmd_problems, "problems [--snapshot N] [--json] store" },
	{ "ls", cmd_ls, "ls [--snapshot N] [--json] store [path]" },
	{ "diff", cmd_diff, "diff [--from N] [--snapshot N] [--json] store" },
	{ "restore", cmd_restore,
	    "restore [--snapshot N] [--force] [--no-owner] [--json] [--quiet]\n"
	    "              store target [path ...]" },
	{ "verify", cmd_verify,
	    "verify [--read-data] [--json] [--quiet] [--syslog] store" },
	{ "prune", cmd_prune,
	    "prune [--keep-last N] [--keep-hourly N] [--keep-daily N]\n"
	    "              [--keep-weekly N] [--keep-monthly N] [--keep-yearly N]\n"
	    "              [--max-unused PERCENT] [--forget-standby UUID] [--orphans]\n"
	    "              [--dry-run] [--wait SECONDS] [--json] [--quiet] [--syslog] store" },
	{ "stats", cmd_stats, "stats [--json] store" },
	{ NULL, NULL, "--help | --version" },
};

int
main(int argc, char *argv[])
{
	tool_init(argv[0], "rdsnap");
	return tool_dispatch(cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
