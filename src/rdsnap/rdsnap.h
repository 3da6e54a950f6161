/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rdsnap.h: what the files of rdsnap share: the parsed options, the
 * store and output helpers, and one function per subcommand.
 */
#ifndef RDSNAP_H
#define RDSNAP_H

#include <stdint.h>
#include <stdio.h>

#include "tool.h"

struct common {
	int json;
	double wait;
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
	int no_key;          /* init: a standby without a shipping key */
	const char *metrics; /* create: --metrics FILE */
	int have_seed;       /* verify: --seed given */
};

/*
 * Parse the options of "cmd" into "o" (argv[0] is the subcommand); die
 * with EX_USAGE on an option whose long name is not in "allowed", the
 * option names that "cmd" accepts.  Returns its operands (checked against
 * its usage; a read-only one's store perhaps from REDUND_STORE), their
 * count in "*nargs".
 */
char **parse(const char *cmd, const char *allowed, int argc, char **argv,
    struct opts *o, int *nargs);
/* Open the store at "path" or die with its error. */
struct rd_store *open_store(const char *path, int mode, double wait);
/* A JSON writer on stdout, or die with EX_OSERR. */
struct rd_json *json_or_die(void);
/* Output helpers: a hash in hex; a path with backslash and newline
 * escaped; an "ls"/"find" line from the type on; an "ls"/"diff" line's
 * path, link target and newline; a
 * UTC time "YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ" from nanoseconds. */
void print_hash(FILE *fp, const unsigned char *sha);
void print_path(FILE *fp, const char *p);
void print_entry(const struct rd_entry *e);
void print_entry_path(const struct rd_entry *e);
void iso_time(int64_t ns, char *buf, size_t len);
/* Callbacks for the library: a notice as a warning; progress on a
 * terminal ("arg" points to the start time, rd_monotonic()). */
void on_notice(void *arg, const char *msg);
void on_progress(void *arg, int64_t files, int64_t bytes);
/* The fields of an entry from "type" on (mode, owner, size, times, hash,
 * target), into the open JSON object of "j". */
void json_entry(struct rd_json *j, const struct rd_entry *e);
/* The fields of a snapshot, into the open JSON object of "j". */
void json_snapinfo(struct rd_json *j, const struct rd_snapinfo *si);

/*
 * rdsnap create --metrics (runmetrics.c): "start" checks the file's
 * directory (or dies) and arranges for tool_die() to write the file;
 * "end" writes it with the exit status "status" and the snapshot "si"
 * (set it when made; NULL: none) and returns "status".  "path" NULL: no
 * metrics, both do nothing.
 */
struct create_metrics {
	const char *path, *store;
	double t0;
	const struct rd_snapinfo *si;
};
void create_metrics_start(struct create_metrics *cm, const char *path,
    const char *store);
int create_metrics_end(struct create_metrics *cm, int status);
void create_metrics_die(void *arg, int status);

/* The subcommands: argv[0] is the subcommand's name; return the status. */
int cmd_init(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_problems(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_find(int argc, char **argv);

#endif /* RDSNAP_H */
