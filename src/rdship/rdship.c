/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdship: hash-verified, resumable shipping of snapshots from a store to
 * a standby store, over a pipe or a two-way session (push/serve) through
 * ssh, and the warm replica kept on the standby.  This file parses the
 * command line, starts the other side of a push, and prints; the work is
 * done by librd.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "runmetrics.h"
#include "tool.h"

enum {
	OPT_ADOPT = 256,
	OPT_APPLY,
	OPT_BRACKET,
	OPT_CLUSTER,
	OPT_CYCLES,
	OPT_ETCD,
	OPT_EXCLUDE,
	OPT_FULL_EVERY,
	OPT_HOOK_TIMEOUT,
	OPT_INTERVAL,
	OPT_KEEP_DAILY,
	OPT_KEEP_HOURLY,
	OPT_KEEP_LAST,
	OPT_METRICS,
	OPT_ORIGIN,
	OPT_NO_NOTIFY,
	OPT_ONE_FILE_SYSTEM,
	OPT_PRUNE_EVERY,
	OPT_REMOTE,
	OPT_RSH,
	OPT_SINCE,
};

static const struct option longopts[] = {
	{ "adopt", no_argument, NULL, OPT_ADOPT },
	{ "apply", required_argument, NULL, OPT_APPLY },
	{ "bracket", required_argument, NULL, OPT_BRACKET },
	{ "cluster", required_argument, NULL, OPT_CLUSTER },
	{ "cycles", required_argument, NULL, OPT_CYCLES },
	{ "etcd", required_argument, NULL, OPT_ETCD },
	{ "exclude", required_argument, NULL, OPT_EXCLUDE },
	{ "full-every", required_argument, NULL, OPT_FULL_EVERY },
	{ "help", no_argument, NULL, 'h' },
	{ "hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "json", no_argument, NULL, 'j' },
	{ "keep-daily", required_argument, NULL, OPT_KEEP_DAILY },
	{ "keep-hourly", required_argument, NULL, OPT_KEEP_HOURLY },
	{ "keep-last", required_argument, NULL, OPT_KEEP_LAST },
	{ "key", required_argument, NULL, 'k' },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "origin", required_argument, NULL, OPT_ORIGIN },
	{ "no-notify", no_argument, NULL, OPT_NO_NOTIFY },
	{ "one-file-system", no_argument, NULL, OPT_ONE_FILE_SYSTEM },
	{ "prune-every", required_argument, NULL, OPT_PRUNE_EVERY },
	{ "quiet", no_argument, NULL, 'q' },
	{ "remote-rdship", required_argument, NULL, OPT_REMOTE },
	{ "rsh", required_argument, NULL, OPT_RSH },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "syslog", no_argument, NULL, TOOL_OPT_SYSLOG },
	{ "verbose", no_argument, NULL, 'v' },
	{ "version", no_argument, NULL, 'V' },
	{ "wait", required_argument, NULL, 'w' },
	{ NULL, 0, NULL, 0 },
};

struct opts {
	struct rd_ship_opts ship;
	unsigned char key[RD_KEY_LEN];
	const char *keyfile;
	const char *rsh;
	const char *remote;
	const char *metrics;
	const char *origin; /* rejoin */
	int json;
	double wait;
	double t0;
	/* follow */
	double interval;
	int64_t cycles;
	struct rd_prune_opts prune;
	int prune_every;
	const char **excludes;
	int nexcludes;
	int no_notify;
	int64_t full_every;
	int one_file_system;
	const char *bracket;
	double hook_timeout;
};

/*
 * Parse the options of subcommand "cmd" (those named in "allowed") into
 * "o"; returns its operands, their count in "*nargs".
 */
static char **
parse(const char *cmd, const char *allowed, int argc, char **argv,
    struct opts *o, int *nargs)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_ship_opts def = RD_SHIP_OPTS_INIT;
	struct rd_prune_opts pdef = RD_PRUNE_OPTS_INIT;
	int ch;

	memset(o, 0, sizeof(*o));
	o->ship = def;
	o->prune = pdef;
	o->interval = 60;
	o->prune_every = 60;
	o->full_every = 60;
	o->hook_timeout = 300;
	o->rsh = "ssh";
	o->remote = "rdship";
	o->t0 = rd_monotonic();
	tool_getopt_reset(argv);
	while ((ch = tool_getopt(argc, argv, "jk:w:", longopts)) != -1) {
		tool_opt_allowed(cmd, allowed, longopts, ch);
		switch (ch) {
		case OPT_ADOPT:
			o->ship.adopt = 1;
			break;
		case OPT_APPLY:
			o->ship.apply_dir = optarg;
			break;
		case OPT_CYCLES:
			o->cycles =
			    tool_parse_int(optarg, 1, INT64_MAX, "cycles");
			break;
		case OPT_EXCLUDE:
			if (rd_snap_exclude_check(optarg, &err) == -1)
				tool_die_err(&err);
			o->excludes = realloc(o->excludes,
			    sizeof(*o->excludes) * (size_t)(o->nexcludes + 1));
			if (o->excludes == NULL)
				tool_die(EX_OSERR, "out of memory");
			o->excludes[o->nexcludes++] = optarg;
			break;
		case OPT_BRACKET:
			o->bracket = optarg;
			break;
		case OPT_HOOK_TIMEOUT:
			o->hook_timeout =
			    tool_parse_positive_seconds(optarg, "hook timeout");
			break;
		case OPT_FULL_EVERY:
			o->full_every =
			    tool_parse_int(optarg, 1, 100000000, "full-every");
			break;
		case OPT_INTERVAL:
			o->interval = tool_parse_seconds(optarg, "interval");
			if (o->interval < 1)
				tool_die(EX_USAGE,
				    "invalid interval '%s': at least 1 second",
				    optarg);
			break;
		case OPT_KEEP_DAILY:
			o->prune.keep_daily = (int)tool_parse_int(optarg, 1,
			    100000, "keep-daily");
			break;
		case OPT_KEEP_HOURLY:
			o->prune.keep_hourly = (int)tool_parse_int(optarg, 1,
			    1000000, "keep-hourly");
			break;
		case OPT_KEEP_LAST:
			o->prune.keep_last = (int)tool_parse_int(optarg, 1,
			    100000000, "keep-last");
			break;
		case OPT_NO_NOTIFY:
			o->no_notify = 1;
			break;
		case OPT_ONE_FILE_SYSTEM:
			o->one_file_system = 1;
			break;
		case OPT_PRUNE_EVERY:
			o->prune_every = (int)tool_parse_int(optarg, 1,
			    100000000, "prune-every");
			break;
		case OPT_CLUSTER:
			o->ship.cluster = optarg;
			break;
		case OPT_ETCD:
			o->ship.etcd = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'k':
			o->keyfile = optarg;
			break;
		case OPT_METRICS:
			o->metrics = optarg;
			break;
		case OPT_ORIGIN:
			o->origin = optarg;
			break;
		case OPT_REMOTE:
			o->remote = optarg;
			break;
		case OPT_RSH:
			o->rsh = optarg;
			break;
		case OPT_SINCE:
			o->ship.since =
			    tool_parse_int(optarg, 0, INT64_MAX, "snapshot id");
			break;
		case 'w':
			o->wait = tool_parse_seconds(optarg, "wait");
			break;
		default:
			tool_usage(EX_USAGE);
		}
	}
	argv = tool_operands(argc - optind, argv + optind, nargs);
	if ((o->ship.etcd != NULL || o->ship.cluster != NULL) &&
	    rd_cluster_opts_check(o->ship.etcd, o->ship.cluster, &err) == -1)
		tool_die_err(&err);
	if (o->keyfile != NULL) {
		if (rd_key_load(o->keyfile, o->key, &err) == -1)
			tool_die_err(&err);
		o->ship.key = o->key;
	}
	return argv;
}

static void
on_notice(void *arg, const char *msg)
{
	(void)arg;
	tool_warn("%s", msg);
}

static void
on_progress(void *arg, int64_t bytes, int64_t total)
{
	struct opts *o = arg;
	double dt = rd_monotonic() - o->t0, rate;
	char b[32], t[32];

	rate = dt > 0 ? (double)bytes / dt : 0;
	if (total > bytes && rate > 0)
		tool_progress("%s of %s, %.1f MiB/s, %.0f s left",
		    tool_human_bytes(bytes, b, sizeof(b)),
		    tool_human_bytes(total, t, sizeof(t)), rate / 1048576.0,
		    (double)(total - bytes) / rate);
	else
		tool_progress("%s, %.1f MiB/s",
		    tool_human_bytes(bytes, b, sizeof(b)), rate / 1048576.0);
}

static void
setup_callbacks(struct opts *o)
{
	o->ship.notice = on_notice;
	if (tool_progress_enabled()) {
		o->ship.progress = on_progress;
		o->ship.progress_arg = o;
	}
}

static struct rd_store *
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

static void
json_result(const char *what, const struct rd_ship_result *r)
{
	struct rd_json *j = rd_json_new(stdout);
	char schema[32];

	if (j == NULL)
		tool_die(EX_OSERR, "out of memory");
	rd_json_obj_begin(j, NULL);
	snprintf(schema, sizeof(schema), "rdship-%s/1", what);
	rd_json_str(j, "schema", schema);
	rd_json_str(j, "operation", what);
	rd_json_str(j, "origin", r->origin);
	rd_json_int(j, "epoch", r->epoch);
	rd_json_int(j, "from", r->from);
	rd_json_int(j, "newest", r->newest);
	rd_json_int(j, "snapshots", r->snapshots);
	rd_json_int(j, "objects", r->objects);
	rd_json_int(j, "object_bytes", r->object_bytes);
	rd_json_int(j, "skipped", r->skipped);
	rd_json_int(j, "skipped_bytes", r->skipped_bytes);
	rd_json_int(j, "wire_bytes", r->wire_bytes);
	if (r->replica_version >= 0) {
		rd_json_int(j, "replica_version", r->replica_version);
		rd_json_int(j, "replica_files", r->replica_files);
	} else {
		rd_json_null(j, "replica_version");
	}
	rd_json_num(j, "seconds", r->seconds);
	rd_json_obj_end(j);
	rd_json_line(j);
	rd_json_free(j);
}

static void
print_range(const struct rd_ship_result *r)
{
	if (r->snapshots == 0)
		printf("no snapshots (the receiver has up to %lld)",
		    (long long)r->newest);
	else if (r->from + 1 == r->newest)
		printf("snapshot %lld", (long long)r->newest);
	else
		printf("snapshots %lld-%lld", (long long)r->from + 1,
		    (long long)r->newest);
}

static void
print_objects(const struct rd_ship_result *r)
{
	char b1[32], b2[32], b3[32];

	printf("%lld object%s (%s), %s on the wire", (long long)r->objects,
	    r->objects == 1 ? "" : "s",
	    tool_human_bytes(r->object_bytes, b1, sizeof(b1)),
	    tool_human_bytes(r->wire_bytes, b2, sizeof(b2)));
	if (r->skipped > 0)
		printf("; %lld object%s (%s) already there",
		    (long long)r->skipped, r->skipped == 1 ? "" : "s",
		    tool_human_bytes(r->skipped_bytes, b3, sizeof(b3)));
	printf("; %.2f s\n", r->seconds);
}

static void
print_replica(const struct opts *o, const struct rd_ship_result *r)
{
	if (r->replica_version >= 0)
		printf(
		    "replica '%s' at snapshot %lld (%lld %s written or removed)\n",
		    o->ship.apply_dir, (long long)r->replica_version,
		    (long long)r->replica_files,
		    tool_plural(r->replica_files, "entry", "entries"));
}

/* ------------------------------------------------------------------ */

static int
cmd_send(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_ship_result r;
	struct rd_store *st;
	struct opts o;
	char **args;
	int nargs;

	args = parse("send", " json key since ", argc, argv, &o, &nargs);
	if (isatty(STDOUT_FILENO))
		tool_die(EX_USAGE,
		    "refusing to write a bundle to a terminal: redirect or pipe it");
	setup_callbacks(&o);
	st = open_store(args[0], RD_OPEN_READ, 0);
	if (rd_ship_send(st, STDOUT_FILENO, &o.ship, &r, &err) == -1) {
		rd_store_close(st);
		tool_die_err(&err);
	}
	rd_store_close(st);
	tool_progress_done();
	if (fsync(STDOUT_FILENO) == -1 && errno != EINVAL && errno != EROFS)
		tool_die(EX_IOERR, "cannot fsync the bundle: %s",
		    strerror(errno));
	if (o.json) {
		/* stdout carries the bundle: the summary goes to stderr */
		fflush(stdout);
		if (dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
			tool_die(EX_OSERR, "dup2: %s", strerror(errno));
		json_result("send", &r);
	} else if (!tool_quiet()) {
		fprintf(stderr, "%s: sent ", tool_progname());
		fflush(stderr);
		if (dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
			tool_die(EX_OSERR, "dup2: %s", strerror(errno));
		print_range(&r);
		printf(": ");
		print_objects(&r);
	}
	return tool_exit(EX_OK);
}

static int
receive_common(const char *cmd, int argc, char **argv, int serve)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_ship_result r;
	struct rd_store *st;
	struct opts o;
	char p[64], pd[1024];
	char **args;
	int nargs;

	args = parse(cmd,
	    serve ? " adopt apply cluster etcd key wait "
	          : " adopt apply cluster etcd json key wait ",
	    argc, argv, &o, &nargs);
	setup_callbacks(&o);
	if (serve) {
		int64_t n;

		o.ship.progress = NULL;
		tool_step("serving sessions on standard input");
		if (rd_ship_serve(args[0], o.wait, STDIN_FILENO, STDOUT_FILENO,
		        &o.ship, &r, &n, &err) == 0)
			return tool_exit(EX_OK);
		/* the sender prints what it was told; say it once */
		if (r.reported) {
			tool_log("%s", err.msg);
			return tool_exit(tool_exit_code(err.code));
		}
		tool_die_err(&err);
	}
	st = open_store(args[0], RD_OPEN_WRITE, o.wait);
	tool_step("receiving on standard input");
	if (rd_ship_receive(st, STDIN_FILENO, -1, &o.ship, &r, &err) == -1) {
		rd_store_close(st);
		tool_die_err(&err);
	}
	rd_store_close(st);
	tool_progress_done();
	if (o.json) {
		json_result("receive", &r);
	} else if (!tool_quiet()) {
		if (r.snapshots == 0) {
			printf("store '%s' is up to date at snapshot %lld\n",
			    args[0], (long long)r.newest);
		} else {
			printf("received ");
			print_range(&r);
			printf(" from %s: ",
			    tool_printable(r.origin, p, sizeof(p)));
			print_objects(&r);
		}
		print_replica(&o, &r);
	}
	if (r.replica_omitted > 0) {
		/* each was noticed; say once that the replica lacks them */
		tool_warn("replica '%s': %lld %s could not be set (see above)",
		    tool_printable(o.ship.apply_dir, pd, sizeof(pd)),
		    (long long)r.replica_omitted,
		    tool_plural(r.replica_omitted, "attribute", "attributes"));
		return tool_exit(3);
	}
	return tool_exit(EX_OK);
}

static int
cmd_receive(int argc, char **argv)
{
	return receive_common("receive", argc, argv, 0);
}

static int
cmd_serve(int argc, char **argv)
{
	return receive_common("serve", argc, argv, 1);
}

/* Append "s" to "b" quoted for a POSIX shell. */
static void
shquote(char *b, size_t len, const char *s)
{
	size_t n = strlen(b);

	if (n + 3 >= len)
		tool_die(EX_USAGE, "command line too long");
	b[n++] = '\'';
	for (; *s != '\0'; s++) {
		if (n + 6 >= len)
			tool_die(EX_USAGE, "command line too long");
		if (*s == '\'') {
			memcpy(b + n, "'\\''", 4);
			n += 4;
		} else {
			b[n++] = *s;
		}
	}
	b[n++] = '\'';
	b[n++] = ' ';
	b[n] = '\0';
}

/*
 * Start the receiving side: "rdship serve PATH" locally, or through
 * "RSH HOST 'REMOTE serve PATH'" for "host:path".  Returns its pid.
 */
static pid_t
start_serve(const struct opts *o, const char *dest, int newpg, int *to,
    int *from)
{
	int in[2], out[2];
	const char *colon = strchr(dest, ':'), *slash = strchr(dest, '/');
	char host[256], cmd[8192];
	pid_t pid;

	cmd[0] = '\0';
	shquote(cmd, sizeof(cmd), o->remote);
	strcat(cmd, "serve ");
	if (o->ship.apply_dir != NULL) {
		strcat(cmd, "--apply ");
		shquote(cmd, sizeof(cmd), o->ship.apply_dir);
	}
	if (o->ship.adopt)
		strcat(cmd, "--adopt ");
	if (o->ship.etcd != NULL) {
		strcat(cmd, "--etcd ");
		shquote(cmd, sizeof(cmd), o->ship.etcd);
		strcat(cmd, "--cluster ");
		shquote(cmd, sizeof(cmd), o->ship.cluster);
	}
	if (colon != NULL && (slash == NULL || colon < slash)) {
		if ((size_t)(colon - dest) >= sizeof(host) || colon == dest)
			tool_die(EX_USAGE, "invalid destination '%s'", dest);
		memcpy(host, dest, (size_t)(colon - dest));
		host[colon - dest] = '\0';
		shquote(cmd, sizeof(cmd), colon[1] != '\0' ? colon + 1 : ".");
	} else {
		host[0] = '\0';
		shquote(cmd, sizeof(cmd), dest);
		if (strcmp(o->remote, "rdship") == 0) {
			/* a local push runs this very program on both sides */
			char self[4096];
			ssize_t n =
			    readlink("/proc/self/exe", self, sizeof(self) - 1);

			if (n > 0) {
				char rest[8192];

				self[n] = '\0';
				snprintf(rest, sizeof(rest), "%s",
				    cmd + strlen("'rdship' "));
				cmd[0] = '\0';
				shquote(cmd, sizeof(cmd), self);
				if (strlen(cmd) + strlen(rest) >= sizeof(cmd))
					tool_die(EX_USAGE,
					    "command line too long");
				strcat(cmd, rest);
			}
		}
	}
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		tool_die(EX_OSERR, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid == -1)
		tool_die(EX_OSERR, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (dup2(in[0], STDIN_FILENO) == -1 ||
		    dup2(out[1], STDOUT_FILENO) == -1)
			_exit(EX_OSERR);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		signal(SIGPIPE, SIG_DFL);
		/* follow: a ^C stops us after the cycle, not the channel */
		if (newpg)
			(void)setpgid(0, 0);
		if (host[0] != '\0') {
			char script[4096];

			snprintf(script, sizeof(script), "%s \"$1\" \"$2\"",
			    o->rsh);
			execl("/bin/sh", "sh", "-c", script, "sh", host, cmd,
			    (char *)NULL);
		} else {
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		}
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to = in[1];
	*from = out[0];
	return pid;
}

/*
 * Record on "st" how the push to "dest" ended ("msg" NULL: it succeeded),
 * for "rdship status"; a failure to record is a warning, not the push's.
 */
static void
note_push(struct rd_store *st, const char *dest, const struct rd_ship_result *r,
    const char *msg)
{
	struct rd_err err = RD_ERR_INIT;

	if (rd_ship_note_push(st, dest, r->standby, msg, &err) == -1)
		tool_warn("%s: could not record the push's outcome: %s", dest,
		    err.msg);
}

/*
 * Why the push "rc" to "dest" failed, from "err" and the receiving
 * side's wait "status", into "msg".  Returns the exit status it maps to.
 */
static int
push_failure(const struct opts *o, const char *dest,
    const struct rd_ship_result *r, const struct rd_err *err, int status,
    char *msg, size_t msglen)
{
	if (r->received == 0) {
		/* the other side said why on our stderr, if it ran */
		if (WIFEXITED(status) && WEXITSTATUS(status) >= EX__BASE &&
		    WEXITSTATUS(status) <= EX__MAX) {
			snprintf(msg, msglen,
			    "the receiving side exited with status %d",
			    WEXITSTATUS(status));
			return WEXITSTATUS(status);
		}
		snprintf(msg, msglen,
		    "the receiving side did not start (%s exited with status %d)",
		    strchr(dest, ':') != NULL ? o->rsh : "rdship serve",
		    WIFEXITED(status) ? WEXITSTATUS(status)
		                      : 128 + WTERMSIG(status));
		return EX_UNAVAILABLE;
	}
	snprintf(msg, msglen, "%s",
	    err->msg[0] != '\0' ? err->msg : "unknown error");
	return tool_exit_code(err->code);
}

/*
 * Push "store" to "dest", the result in "r", and record the outcome on
 * the store.  Returns 0, or the exit status of the failure with "msg"
 * saying why.
 */
static int
push_one(struct opts *o, const char *store, const char *dest,
    struct rd_ship_result *r, char *msg, size_t msglen)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st;
	int to, from, status, rc;
	pid_t pid;

	st = open_store(store, RD_OPEN_READ, 0);
	if (rd_snap_get(st, 0, NULL, &err) == -1)
		tool_die_err(&err);
	tool_step("starting the receiving side for '%s'", dest);
	pid = start_serve(o, dest, 0, &to, &from);
	rc = rd_ship_push(st, from, to, &o->ship, r, &err);
	close(to);
	close(from);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			tool_die(EX_OSERR, "waitpid: %s", strerror(errno));
	if (rc == -1) {
		rc = push_failure(o, dest, r, &err, status, msg, msglen);
		note_push(st, dest, r, msg);
		rd_store_close(st);
		return rc;
	}
	note_push(st, dest, r, NULL);
	rd_store_close(st);
	tool_progress_done();
	if (o->json) {
		json_result("push", r);
	} else if (!tool_quiet()) {
		if (r->snapshots == 0) {
			printf("'%s' is up to date at snapshot %lld\n", dest,
			    (long long)r->newest);
		} else {
			printf("pushed ");
			print_range(r);
			printf(" to %s: ", dest);
			print_objects(r);
		}
		print_replica(o, r);
	}
	fflush(stdout);
	if (r->replica_omitted > 0) {
		char pm[300];

		snprintf(msg, msglen,
		    "'%s': the replica update could not set everything: %s",
		    dest, tool_printable(r->replica_omission, pm, sizeof(pm)));
		return 3;
	}
	return 0;
}

/*
 * push STORE DEST...: each destination in turn, each its own session
 * (resumable on its own); one that fails does not stop the others.  The
 * metrics count what all of them received.
 */
static int
cmd_push(int argc, char **argv)
{
	struct opts o;
	struct push_metrics pm;
	struct rd_ship_result r, sum;
	char msg[512];
	char **args;
	int nargs, i, rc, failed = 0, omitted = 0;

	args = parse("push",
	    " adopt apply cluster etcd json key metrics remote-rdship rsh ",
	    argc, argv, &o, &nargs);
	push_metrics_start(&pm, o.metrics, args[0]);
	setup_callbacks(&o);
	memset(&sum, 0, sizeof(sum));
	for (i = 1; i < nargs; i++) {
		memset(&r, 0, sizeof(r));
		rc = push_one(&o, args[0], args[i], &r, msg, sizeof(msg));
		if (rc == 0 || rc == 3) {
			/* 3: pushed, but the replica lacks what msg says */
			sum.newest = r.newest;
			sum.objects += r.objects;
			sum.wire_bytes += r.wire_bytes;
			if (rc == 3) {
				tool_warn("%s", msg);
				omitted++;
			}
			continue;
		}
		if (nargs == 2 && rc == EX_USAGE) {
			/* the other side's usage, not ours: no usage line */
			tool_warn("%s", msg);
			return push_metrics_end(&pm, tool_exit(EX_USAGE));
		}
		if (nargs == 2)
			tool_die(rc, "%s", msg);
		failed++;
		tool_warn("%s: failed (exit status %d): %s", args[i], rc, msg);
	}
	if (failed > 0) {
		tool_warn(
		    "%d of %d destinations failed: rerun the push to complete them",
		    failed, nargs - 1);
		return push_metrics_end(&pm, tool_exit(3));
	}
	pm.r = &sum;
	return push_metrics_end(&pm, tool_exit(omitted > 0 ? 3 : EX_OK));
}

/* ------------------------------------------------------------------ */
/* follow */

/* A push in flight when a stop is asked gets this long to end. */
#define STOP_GRACE 30

static volatile sig_atomic_t follow_stop;
static volatile pid_t *follow_pid; /* each channel's process group */
static int follow_n;

static void
on_stop(int sig)
{
	(void)sig;
	if (!follow_stop) {
		follow_stop = 1;
		alarm(STOP_GRACE);
	}
}

/* The grace is over: end the channels, so that a hung push fails. */
static void
on_grace_over(int sig)
{
	int i;

	(void)sig;
	for (i = 0; i < follow_n; i++)
		if (follow_pid[i] > 0)
			kill(-follow_pid[i], SIGKILL);
}

struct follow_ctx {
	struct opts *o;
	char **dests;
	int *to, *from;
};

static int
follow_connect(void *arg, int i, int *fd_to, int *fd_from, struct rd_err *err)
{
	struct follow_ctx *c = arg;

	(void)err;
	follow_pid[i] = start_serve(c->o, c->dests[i], 1, fd_to, fd_from);
	return 0;
}

static void
follow_disconnect(void *arg, int i, int failed)
{
	struct follow_ctx *c = arg;
	pid_t pid = follow_pid[i];
	int status;

	(void)c;
	if (pid <= 0)
		return;
	if (failed)
		kill(-pid, SIGTERM);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	follow_pid[i] = 0;
}

static void
follow_cycle(void *arg, const struct rd_follow_stats *s)
{
	struct follow_ctx *c = arg;
	struct rd_json *j;

	if (!c->o->json)
		return;
	j = rd_json_new(stdout);
	if (j == NULL)
		tool_die(EX_OSERR, "out of memory");
	rd_json_obj_begin(j, NULL);
	rd_json_str(j, "schema", "rdship-follow/1");
	rd_json_int(j, "cycle", s->cycles);
	rd_json_int(j, "snapshot", s->snapshot);
	rd_json_str(j, "walk",
	    s->walked == RD_WALK_NONE        ? "none"
	        : s->walked == RD_WALK_WHOLE ? "whole"
	                                     : "changed");
	rd_json_int(j, "destinations", s->ok_dests);
	rd_json_int(j, "bytes", s->bytes);
	rd_json_num(j, "seconds", s->cycle_seconds);
	rd_json_num(j, "rpo_seconds", s->rpo_seconds);
	rd_json_int(j, "failures", s->failures);
	rd_json_obj_end(j);
	rd_json_line(j);
	rd_json_free(j);
	fflush(stdout);
}

static void
follow_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_stop;
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		tool_die(EX_OSERR, "sigaction: %s", strerror(errno));
	sa.sa_handler = on_grace_over;
	if (sigaction(SIGALRM, &sa, NULL) == -1)
		tool_die(EX_OSERR, "sigaction: %s", strerror(errno));
}

/* What the bracket co-process of a cycle sees, as with rdsnap create. */
struct bracket_env {
	char store[PATH_MAX], source[PATH_MAX];
	char vars[4][PATH_MAX + 32];
	const char *env[5];
};

static void
follow_bracket(struct opts *o, const char *store, const char *source,
    struct rd_snap_opts *snap, struct bracket_env *b)
{
	int i;

	if (realpath(store, b->store) == NULL)
		tool_die(EX_NOINPUT, "cannot resolve store '%s': %s", store,
		    strerror(errno));
	if (realpath(source, b->source) == NULL)
		tool_die(EX_NOINPUT, "cannot resolve source '%s': %s", source,
		    strerror(errno));
	snprintf(b->vars[0], sizeof(b->vars[0]), "RDSNAP_STORE=%s", b->store);
	snprintf(b->vars[1], sizeof(b->vars[1]), "RDSNAP_SOURCE=%s", b->source);
	/* none from an rdsnap that runs us */
	snprintf(b->vars[2], sizeof(b->vars[2]), "RDSNAP_STATUS");
	snprintf(b->vars[3], sizeof(b->vars[3]), "RDSNAP_SNAPSHOT");
	for (i = 0; i < 4; i++)
		b->env[i] = b->vars[i];
	b->env[4] = NULL;
	snap->bracket = o->bracket;
	snap->bracket_cwd = b->source;
	snap->bracket_env = b->env;
	snap->bracket_timeout = o->hook_timeout;
}

static int
cmd_follow(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts snap = RD_SNAP_OPTS_INIT;
	struct rd_follow_opts fo;
	struct rd_follow_stats s;
	struct follow_ctx c;
	struct bracket_env benv;
	struct rd_store *st;
	struct opts o;
	char b[32];
	char **args;
	int nargs, rc;

	args = parse("follow",
	    " adopt apply bracket cycles exclude full-every hook-timeout interval json keep-daily keep-hourly keep-last key metrics no-notify one-file-system prune-every remote-rdship rsh ",
	    argc, argv, &o, &nargs);
	setup_callbacks(&o);
	o.ship.progress = NULL;
	snap.notice = on_notice;
	snap.excludes = o.excludes;
	snap.nexcludes = o.nexcludes;
	snap.one_file_system = o.one_file_system;
	if (o.bracket != NULL)
		follow_bracket(&o, args[0], args[1], &snap, &benv);
	memset(&fo, 0, sizeof(fo));
	memset(&c, 0, sizeof(c));
	c.o = &o;
	c.dests = args + 2;
	follow_n = nargs - 2;
	follow_pid = tool_xmalloc(sizeof(pid_t) * (size_t)follow_n);
	memset((void *)follow_pid, 0, sizeof(pid_t) * (size_t)follow_n);
	fo.interval = o.interval;
	fo.snap = &snap;
	fo.ship = &o.ship;
	fo.ndests = follow_n;
	fo.dests = (const char *const *)c.dests;
	fo.connect = follow_connect;
	fo.disconnect = follow_disconnect;
	fo.cycle = follow_cycle;
	fo.arg = &c;
	fo.notice = on_notice;
	fo.metrics = o.metrics;
	fo.max_cycles = o.cycles;
	fo.no_notify = o.no_notify;
	fo.full_every = o.full_every;
	if (o.prune.keep_last > 0 || o.prune.keep_hourly > 0 ||
	    o.prune.keep_daily > 0) {
		fo.prune = &o.prune;
		fo.prune_every = o.prune_every;
	}
	fo.stop = &follow_stop;
	follow_signals();
	st = open_store(args[0], RD_OPEN_WRITE, 0);
	rc = rd_follow(st, args[1], &fo, &s, &err);
	rd_store_close(st);
	/* no grace timer may fire on the table once it is gone */
	alarm(0);
	follow_n = 0;
	free((void *)follow_pid);
	free(o.excludes);
	if (rc == -1)
		tool_die_err(&err);
	if (!tool_quiet() && !o.json)
		printf(
		    "stopped after %lld cycle%s: snapshot %lld, %lld failure%s, %s pushed\n",
		    (long long)s.cycles, s.cycles == 1 ? "" : "s",
		    (long long)s.snapshot, (long long)s.failures,
		    s.failures == 1 ? "" : "s",
		    tool_human_bytes(s.bytes_total, b, sizeof(b)));
	return tool_exit(EX_OK);
}

static int
cmd_keygen(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	char **args;
	int nargs;

	args = parse("keygen", " ", argc, argv, &o, &nargs);
	if (rd_key_generate(args[0], &err) == -1)
		tool_die_err(&err);
	printf(
	    "wrote a new key to '%s' (mode 0600): copy it to the other host over a safe channel\n",
	    args[0]);
	return tool_exit(EX_OK);
}

static int
cmd_rejoin(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_rejoin_result r;
	struct rd_store *st;
	struct opts o;
	char p[64];
	char **args;
	int nargs;

	args = parse("rejoin", " cluster etcd origin wait ", argc, argv, &o,
	    &nargs);
	if ((o.origin == NULL) == (o.ship.etcd == NULL))
		tool_usage_error(
		    "rejoin needs the new primary: --origin UUID or --etcd URLS --cluster NAME");
	if (o.origin != NULL && !rd_store_id_ok(o.origin))
		tool_usage_error("invalid store id '%s' for --origin",
		    o.origin);
	st = open_store(args[0], RD_OPEN_WRITE, o.wait);
	tool_step("rejoining");
	if (rd_ship_rejoin(st, &o.ship, o.origin, &r, &err) == -1) {
		rd_store_close(st);
		tool_die_err(&err);
	}
	rd_store_close(st);
	if (tool_quiet())
		return tool_exit(EX_OK);
	printf("store '%s' is now a standby of %s", args[0],
	    tool_printable(r.origin, p, sizeof(p)));
	if (r.epoch > 0)
		printf(" (epoch %lld)", (long long)r.epoch);
	if (r.newest > 1)
		printf("; its snapshots 1-%lld are kept aside in '%s/%s'\n",
		    (long long)r.newest, args[0], r.aside);
	else if (r.newest == 1)
		printf("; its snapshot 1 is kept aside in '%s/%s'\n", args[0],
		    r.aside);
	else
		printf("; it has no snapshots to keep aside\n");
	printf(
	    "the next push from %s keeps here the snapshots up to the fork point and sends only what this store lacks\n",
	    p);
	return tool_exit(EX_OK);
}

/* How far standby "i" is behind: newest snapshot id minus its own. */
static int64_t
lag_of(const struct rd_ship_status *s, int i)
{
	return s->standby[i].snapshot >= 0 && s->newest > s->standby[i].snapshot
	    ? s->newest - s->standby[i].snapshot
	    : 0;
}

/*
 * rdship status --json: standby "i", an object of "standbys" (it
 * confirmed a push) or of "unconfirmed" (a destination that never did).
 */
static void
standby_json(struct rd_json *j, const struct rd_ship_status *s, int i)
{
	rd_json_obj_begin(j, NULL);
	if (s->standby[i].snapshot >= 0) {
		rd_json_str(j, "uuid", s->standby[i].uuid);
		rd_json_int(j, "snapshot", s->standby[i].snapshot);
		rd_json_num(j, "pushed", s->standby[i].pushed);
		tool_json_time(j, "pushed_at", s->standby[i].pushed);
		rd_json_int(j, "lag", lag_of(s, i));
	}
	if (s->standby[i].dest[0] != '\0')
		rd_json_path(j, "destination", s->standby[i].dest);
	else
		rd_json_null(j, "destination");
	rd_json_int(j, "failures", s->standby[i].failures);
	if (s->standby[i].failed > 0) {
		rd_json_num(j, "last_failure", s->standby[i].failed);
		rd_json_str(j, "last_failure_reason", s->standby[i].reason);
	} else {
		rd_json_null(j, "last_failure");
		rd_json_null(j, "last_failure_reason");
	}
	tool_json_time(j, "last_failure_at", s->standby[i].failed);
	rd_json_obj_end(j);
}

/* rdship status --json: the document for store "store". */
static void
status_json(const char *store, const struct rd_ship_status *s,
    const struct rd_snapinfo *si)
{
	struct rd_json *j;
	int i;

	j = rd_json_new(stdout);
	if (j == NULL)
		tool_die(EX_OSERR, "out of memory");
	rd_json_obj_begin(j, NULL);
	rd_json_str(j, "schema", "rdship-status/1");
	rd_json_str(j, "store", store);
	rd_json_str(j, "uuid", s->store.uuid);
	rd_json_str(j, "role", s->store.standby ? "standby" : "primary");
	if (s->store.origin[0] != '\0')
		rd_json_str(j, "origin", s->store.origin);
	else
		rd_json_null(j, "origin");
	rd_json_int(j, "epoch", s->store.epoch);
	if (s->rejoin[0] == '\0')
		rd_json_null(j, "rejoining");
	else if (strcmp(s->rejoin, "-") == 0)
		rd_json_str(j, "rejoining", "");
	else
		rd_json_str(j, "rejoining", s->rejoin);
	rd_json_int(j, "newest", s->newest);
	if (s->newest > 0)
		rd_json_int(j, "newest_time", s->newest_time);
	else
		rd_json_null(j, "newest_time"); /* no snapshot */
	tool_json_time(j, "newest_at",
	    s->newest > 0 ? (double)s->newest_time : 0);
	rd_json_int(j, "newest_partial", si->partial);
	rd_json_int(j, "newest_inconsistent", si->inconsistent);
	rd_json_int(j, "origin_newest", s->origin_newest);
	rd_json_int(j, "lag",
	    s->origin_newest > s->newest ? s->origin_newest - s->newest : 0);
	if (s->last_ship > 0)
		rd_json_num(j, "last_ship", s->last_ship);
	else
		rd_json_null(j, "last_ship");
	tool_json_time(j, "last_ship_at", s->last_ship);
	rd_json_arr_begin(j, "replicas");
	for (i = 0; i < s->nreplicas; i++) {
		rd_json_obj_begin(j, NULL);
		rd_json_path(j, "dir", s->replica[i].dir);
		rd_json_int(j, "version", s->replica[i].version);
		rd_json_str(j, "state",
		    s->replica[i].clean ? "clean" : "applying");
		if (s->replica[i].omitted > 0) {
			rd_json_obj_begin(j, "omitted");
			rd_json_int(j, "snapshot", s->replica[i].omitted_at);
			rd_json_int(j, "count", s->replica[i].omitted);
			rd_json_str(j, "first", s->replica[i].omission);
			rd_json_obj_end(j);
		} else {
			rd_json_null(j, "omitted");
		}
		rd_json_obj_end(j);
	}
	rd_json_arr_end(j);
	rd_json_int(j, "replicas_more", s->replicas_more);
	rd_json_arr_begin(j, "standbys");
	for (i = 0; i < s->nstandbys; i++)
		if (s->standby[i].snapshot >= 0)
			standby_json(j, s, i);
	rd_json_arr_end(j);
	rd_json_arr_begin(j, "unconfirmed");
	for (i = 0; i < s->nstandbys; i++)
		if (s->standby[i].snapshot < 0)
			standby_json(j, s, i);
	rd_json_arr_end(j);
	rd_json_int(j, "standbys_more", s->standbys_more);
	rd_json_obj_end(j);
	rd_json_line(j);
	rd_json_free(j);
}

/*
 * rdship status: standby "i" on one line: what it confirmed and where
 * "rdship push" reached it, then its failures in a row, if any.
 */
static void
standby_line(const struct rd_ship_status *s, int i)
{
	char t[40], p[1024];

	if (s->standby[i].snapshot >= 0) {
		printf("standby    %s has snapshot %lld (pushed %s), lag %lld",
		    tool_printable(s->standby[i].uuid, p, sizeof(p)),
		    (long long)s->standby[i].snapshot,
		    tool_time((int64_t)s->standby[i].pushed, t, sizeof(t)),
		    (long long)lag_of(s, i));
		if (s->standby[i].dest[0] != '\0')
			printf(" via %s",
			    tool_printable(s->standby[i].dest, p, sizeof(p)));
	} else {
		printf("standby    %s has no confirmed snapshot",
		    tool_printable(s->standby[i].dest, p, sizeof(p)));
	}
	if (s->standby[i].failures > 0) {
		printf(", %lld %s in a row, the last at %s: ",
		    (long long)s->standby[i].failures,
		    tool_plural(s->standby[i].failures, "failure", "failures"),
		    tool_time((int64_t)s->standby[i].failed, t, sizeof(t)));
		printf("%s",
		    tool_printable(s->standby[i].reason, p, sizeof(p)));
	}
	printf("\n");
}

static int
cmd_status(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_ship_status s;
	struct rd_snapinfo si;
	struct rd_store *st;
	struct opts o;
	char t[40], p[1024], t2[1024];
	int64_t lag;
	char **args;
	int nargs, i;
	double now = rd_now();

	args = parse("status", " json ", argc, argv, &o, &nargs);
	st = open_store(args[0], RD_OPEN_READ, 0);
	memset(&si, 0, sizeof(si));
	if (rd_ship_status(st, &s, &err) == -1 ||
	    (s.newest > 0 && rd_snap_get(st, s.newest, &si, &err) == -1)) {
		rd_store_close(st);
		tool_die_err(&err);
	}
	rd_store_close(st);
	if (o.json) {
		status_json(args[0], &s, &si);
		return tool_exit(EX_OK);
	}
	/* the catalog's strings came from streams: print them tamed */
	printf("store      %s (%s, id %s, epoch %lld)\n", args[0],
	    s.store.standby ? "standby" : "primary",
	    tool_printable(s.store.uuid, p, sizeof(p)),
	    (long long)s.store.epoch);
	if (s.store.standby)
		printf("origin     %s\n",
		    s.store.origin[0] != '\0'
		        ? tool_printable(s.store.origin, p, sizeof(p))
		        : "none yet (adopted from the first bundle)");
	if (s.rejoin[0] != '\0' && strcmp(s.rejoin, "-") == 0)
		printf(
		    "rejoin     waiting for the first push from the origin\n");
	else if (s.rejoin[0] != '\0')
		printf("rejoin     waiting for the first push from the origin; "
		       "this store's history is kept aside in '%s/%s'\n",
		    tool_printable(args[0], p, sizeof(p)),
		    tool_printable(s.rejoin, t2, sizeof(t2)));
	if (s.newest > 0)
		printf("newest     snapshot %lld (%s)%s\n", (long long)s.newest,
		    tool_time(s.newest_time, t, sizeof(t)),
		    si.partial > 0 ? ", partial: some paths could not be read"
		        : si.inconsistent > 0
		        ? ", inconsistent: some files kept changing while read"
		        : "");
	else
		printf("newest     no snapshots\n");
	if (s.store.standby) {
		lag =
		    s.origin_newest > s.newest ? s.origin_newest - s.newest : 0;
		printf(
		    "lag        %lld %s behind the origin's newest known (%lld)\n",
		    (long long)lag, tool_plural(lag, "snapshot", "snapshots"),
		    (long long)s.origin_newest);
		if (s.last_ship > 0)
			printf("last ship  %s (%.0f s ago)\n",
			    tool_time((int64_t)s.last_ship, t, sizeof(t)),
			    now - s.last_ship);
		else
			printf("last ship  never\n");
	}
	for (i = 0; i < s.nreplicas; i++)
		printf("replica    %s at snapshot %lld (%s)\n",
		    tool_printable(s.replica[i].dir, p, sizeof(p)),
		    (long long)s.replica[i].version,
		    s.replica[i].clean
		        ? "clean"
		        : "interrupted update: the next receive with --apply finishes it");
	for (i = 0; i < s.nreplicas; i++)
		if (s.replica[i].omitted > 0)
			printf(
			    "replica    %s: the update to snapshot %lld could not set %lld %s: %s\n",
			    tool_printable(s.replica[i].dir, p, sizeof(p)),
			    (long long)s.replica[i].omitted_at,
			    (long long)s.replica[i].omitted,
			    tool_plural(s.replica[i].omitted, "attribute",
			        "attributes"),
			    tool_printable(s.replica[i].omission, t2,
			        sizeof(t2)));
	for (i = 0; i < s.nstandbys; i++)
		standby_line(&s, i);
	if (s.replicas_more > 0)
		printf("replica    and %lld more, not listed\n",
		    (long long)s.replicas_more);
	if (s.standbys_more > 0)
		printf("standby    and %lld more, not listed\n",
		    (long long)s.standbys_more);
	return tool_exit(EX_OK);
}

static const struct tool_cmd cmds[] = {
	{ "push", cmd_push,
	    "push [-jqv] [-k FILE] [--rsh CMD] [--remote-rdship PATH]\n"
	    "              [--apply DIR] [--adopt] [--etcd URLS --cluster NAME]\n"
	    "              [--metrics FILE] [--syslog] store [host:]path ...",
	    0 },
	{ "send", cmd_send,
	    "send [-jqv] [-k FILE] [--since N] [--syslog] store", TOOL_READER },
	{ "receive", cmd_receive,
	    "receive [-jqv] [-k FILE] [-w SECONDS] [--apply DIR] [--adopt]\n"
	    "              [--etcd URLS --cluster NAME] [--syslog] store",
	    0 },
	{ "serve", cmd_serve,
	    "serve [-qv] [-k FILE] [-w SECONDS] [--apply DIR] [--adopt]\n"
	    "              [--etcd URLS --cluster NAME] [--syslog] store",
	    0 },
	{ "follow", cmd_follow,
	    "follow [-jqv] [-k FILE] [--interval SECONDS] [--apply DIR]\n"
	    "              [--metrics FILE] [--rsh CMD] [--remote-rdship PATH]\n"
	    "              [--exclude PATTERN] [--one-file-system] [--bracket CMD]\n"
	    "              [--hook-timeout SECONDS] [--full-every CYCLES] [--no-notify]\n"
	    "              [--keep-last N] [--keep-hourly N] [--keep-daily N]\n"
	    "              [--prune-every CYCLES] [--cycles N] [--adopt] [--syslog]\n"
	    "              store source [host:]path ...",
	    0 },
	{ "rejoin", cmd_rejoin,
	    "rejoin [-qv] [-w SECONDS] [--origin UUID | --etcd URLS --cluster NAME]\n"
	    "              [--syslog] store",
	    0 },
	{ "keygen", cmd_keygen, "keygen [-qv] [--syslog] file", 0 },
	{ "status", cmd_status, "status [-jqv] [--syslog] store", TOOL_READER },
	{ NULL, NULL, "--help | --version", 0 },
};

int
main(int argc, char *argv[])
{
	tool_init(argv[0], "rdship");
	/* a closed pipe is an error to report, not a signal to die of */
	signal(SIGPIPE, SIG_IGN);
	return tool_dispatch(cmds, sizeof(cmds) / sizeof(cmds[0]), argc, argv);
}
