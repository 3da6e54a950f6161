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

/*
 * "s" with each control character (below 0x20, and 0x7f) as '?', into
 * "buf" (truncated to "len" - 1 bytes): for names and strings that came
 * from outside (a stream, a catalog) on their way to a terminal.
 */
const char *tool_printable(const char *s, char *buf, size_t len);

/* Human sizes: "1.5 MiB" into "buf" (at least 16 bytes). */
const char *tool_human_bytes(int64_t n, char *buf, size_t len);
/* Local time "YYYY-MM-DD HH:MM:SS" into "buf" (at least 20 bytes). */
const char *tool_time(int64_t t, char *buf, size_t len);

/* Progress line on stderr when it is a terminal and not quiet. */
int tool_progress_enabled(void);
void tool_progress(const char *fmt, ...) RD_PRINTF(1, 2);
void tool_progress_done(void);

/*
 * A subcommand table: each row is a subcommand "name" run by "fn" with
 * argv starting at its name, and "usage", its usage text after "prog "
 * (continuation lines included).  A row whose name is NULL is a usage
 * line only (the tool's main form, or "--help | --version").
 */
struct tool_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
};

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
/* Print the usage of the table last given (stdout for EX_OK, else
 * stderr), one line "usage: prog ..." then "       prog ..." per row, and
 * exit with "status". */
RD_NORETURN void tool_usage(int status);

struct option;

/*
 * Die with EX_USAGE ("CMD does not take --NAME") unless the option whose
 * getopt value is "ch" is named in "allowed", a list of long names each
 * surrounded by spaces (" json quiet ").
 */
void tool_opt_allowed(const char *cmd, const char *allowed,
    const struct option *longopts, int ch);

/* Allocation that exits with EX_OSERR on failure. */
void *tool_xmalloc(size_t n);
char *tool_xstrdup(const char *s);

#endif /* TOOL_H */
