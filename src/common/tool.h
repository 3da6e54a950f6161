/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tool.h: helpers shared by the command-line tools: the program name,
 * diagnostics on stderr, the exit-status table, syslog, and die-on-error
 * allocation.  librd never uses these.
 */
#ifndef TOOL_H
#define TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "redund.h"

/* Record the program name (basename of "argv0", else "fallback"), make sure
 * fds 0-2 are open, and set the locale-independent defaults. */
void tool_init(const char *argv0, const char *fallback);
const char *tool_progname(void);

/* Send diagnostics to syslog too (for cron); "quiet" suppresses progress. */
void tool_set_syslog(int on);
int tool_syslog(void);
/* Send a notice to syslog (LOG_NOTICE) when --syslog is on. */
void tool_log(const char *fmt, ...) RD_PRINTF(1, 2);
void tool_set_quiet(int on);
int tool_quiet(void);
/* --verbose: tool_step() prints what the command does, step by step. */
void tool_set_verbose(int on);
int tool_verbose(void);
void tool_step(const char *fmt, ...) RD_PRINTF(1, 2);
/* A warning that --quiet silences (a skipped socket, a hook's notice). */
void tool_notice(const char *fmt, ...) RD_PRINTF(1, 2);

/* "prog: message" on stderr. */
void tool_warn(const char *fmt, ...) RD_PRINTF(1, 2);
RD_NORETURN void tool_die(int status, const char *fmt, ...) RD_PRINTF(2, 3);
RD_NORETURN void tool_die_err(const struct rd_err *err);
/*
 * Call "fn" (NULL: nothing) with the status when tool_die() is about to
 * exit, after the message: a run that writes a metrics file (--metrics)
 * writes it on failure too.  Called once.
 */
void tool_on_die(void (*fn)(void *arg, int status), void *arg);

/* The sysexits status for an rd_code. */
int tool_exit_code(enum rd_code code);

/* Flush stdout; a write error turns "status" into EX_IOERR.  Returns it. */
int tool_exit(int status);

/* Print "prog VERSION" and exit 0. */
RD_NORETURN void tool_version(void);
/*
 * For -V/--version: print the version and exit 0 if it was the only
 * argument ("argc" is main's, or 0 inside a subcommand), else exit with
 * EX_USAGE: --version never takes a value, so that a mistyped snapshot
 * option cannot look like a success.
 */
RD_NORETURN void tool_version_only(int argc);

/* Parse a decimal integer in [min, max] or die with EX_USAGE naming "what". */
int64_t tool_parse_int(const char *s, int64_t min, int64_t max,
    const char *what);
/* Parse seconds ("30", "2.5", "10m", "7d", "1h") or die with EX_USAGE. */
double tool_parse_seconds(const char *s, const char *what);
/* The same, above 0 (and at most 1e10 s), or die with EX_USAGE. */
double tool_parse_positive_seconds(const char *s, const char *what);

/*
 * "s" with each control character (below 0x20, and 0x7f) as '?', into
 * "buf" (truncated to "len" - 1 bytes): for names and strings that came
 * from outside (a stream, a catalog) on their way to a terminal.
 */
const char *tool_printable(const char *s, char *buf, size_t len);

/* "one" if "n" is 1, else "many": "1 entry", "2 entries". */
const char *tool_plural(int64_t n, const char *one, const char *many);
/*
 * "s" on one line for a terminal, reversibly: backslash as "\\",
 * newline, tab and carriage return as "\n", "\t", "\r", other control
 * characters and every byte that is not part of valid UTF-8 as "\xHH".
 */
void tool_put_escaped(FILE *fp, const char *s);

/* Human sizes: "1.5 MiB" into "buf" (at least 16 bytes). */
const char *tool_human_bytes(int64_t n, char *buf, size_t len);
/* Local time with its offset, "YYYY-MM-DD HH:MM:SS +HHMM", into "buf"
 * (at least 26 bytes). */
const char *tool_time(int64_t t, char *buf, size_t len);

/*
 * The time "t" (Unix seconds) as an RFC 3339 UTC string
 * ("2026-12-05T19:18:47Z", fractions of a second when "t" has them) in
 * the member "key" of "j"; null when "t" is 0 or less (unknown).
 */
void tool_json_time(struct rd_json *j, const char *key, double t);

/* Progress line on stderr when it is a terminal and not quiet. */
int tool_progress_enabled(void);
void tool_progress(const char *fmt, ...) RD_PRINTF(1, 2);
void tool_progress_done(void);

/*
 * A subcommand table: each row is a subcommand "name" run by "fn" with
 * argv starting at its name, and "usage", its usage text after "prog "
 * (continuation lines included), whose last words are its operands
 * ("store [path]", "store target [path ...]", "probe ...").  A row whose
 * name is NULL is a usage line only (the tool's main form, or "--help |
 * --version").  "flags" holds TOOL_READER for a subcommand that only
 * reads its store: REDUND_STORE may name that store.
 */
struct tool_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	int flags;
};

#define TOOL_READER 1
/* The getopt value of --syslog in every tool's long options. */
#define TOOL_OPT_SYSLOG 1
/* The environment variable that names the store of a read-only command. */
#define TOOL_STORE_ENV "REDUND_STORE"

/*
 * Run the subcommand named by argv[1] of "cmds" ("n" rows) and return its
 * status.  No argument: usage on stderr, EX_USAGE; -h/--help: usage on
 * stdout, EX_OK; -V/--version: tool_version_only(); an unknown name:
 * "unknown command 'NAME'", then usage, EX_USAGE.
 */
int tool_dispatch(const struct tool_cmd *cmds, size_t n, int argc, char **argv);
/*
 * For a tool whose main form takes no subcommand: if argv[1] names a
 * subcommand of "cmds", run it and store its status in "*status"; return 1
 * if it ran, else 0.  Either way "cmds" becomes the table tool_usage()
 * prints.
 */
int tool_subcommand(const struct tool_cmd *cmds, size_t n, int argc,
    char **argv, int *status);
/*
 * With EX_OK: print the usage of the subcommand running (its row of the
 * table last given), or of every row outside a subcommand, on stdout,
 * one line "usage: prog ..." then "       prog ..." per row.  Otherwise
 * print one short line on stderr ("usage: prog create [options] store
 * source").  Exit with "status".
 */
RD_NORETURN void tool_usage(int status);
/* A usage error: "prog: REASON", the short usage line, exit EX_USAGE. */
RD_NORETURN void tool_usage_error(const char *fmt, ...) RD_PRINTF(1, 2);
/*
 * Check the "argc" operands "argv" (what getopt left) against the
 * operands of the running subcommand's usage; die with a usage error
 * naming the first missing one or the first one too many.  A subcommand
 * flagged TOOL_READER given no operand at all takes its store from
 * REDUND_STORE; any other subcommand given none while REDUND_STORE is
 * set is told that it needs the store on the command line.  Returns the
 * operands (argv, or a static vector holding the store) and their count
 * in "*n".
 */
char **tool_operands(int argc, char **argv, int *n);
struct option;

/*
 * getopt_long over "argc"/"argv" (a subcommand's, argv[0] its name, or
 * main's) in GNU order: options anywhere, "--" ends them.  "shortopts"
 * lists the tool's short options; "longopts" must map --help to 'h',
 * --version to 'V', --quiet to 'q', --verbose to 'v' and --syslog to
 * TOOL_OPT_SYSLOG, which this handles: -h prints the usage of the
 * subcommand and exits 0, -V is --version (alone), -q, -v and --syslog
 * set quiet, verbose and syslog; an unknown option or a missing value is
 * a usage error.  Returns any other option's value (optarg set), or -1
 * at the first operand-only rest.  tool_getopt_reset() starts a parse.
 */
int tool_getopt(int argc, char **argv, const char *shortopts,
    const struct option *longopts);
void tool_getopt_reset(char **argv);

/*
 * Die with EX_USAGE ("CMD does not take --NAME") unless the option whose
 * getopt value is "ch" is named in "allowed", a list of long names each
 * surrounded by spaces (" json wait "); help, version, quiet, verbose
 * and syslog go with every subcommand.
 */
void tool_opt_allowed(const char *cmd, const char *allowed,
    const struct option *longopts, int ch);

/* Allocation that exits with EX_OSERR on failure. */
void *tool_xmalloc(size_t n);
char *tool_xstrdup(const char *s);

#endif /* TOOL_H */
