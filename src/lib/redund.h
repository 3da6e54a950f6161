/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * redund.h: the public interface of librd, the library shared by rdsnap,
 * rdship, rdwatch and rdpromote, grouped by the library's layers (base,
 * store, snap, ship, watch, promote).  Tools include this header and, for
 * health probes, rd_probe.h; nothing else from src/lib.  Every function
 * that can fail takes a "struct rd_err" as its last argument, returns 0
 * (or a pointer) on success and -1 (or NULL) on failure with the error
 * filled in.  librd never prints and never exits.
 */
#ifndef REDUND_H
#define REDUND_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define RD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define RD_NORETURN     __attribute__((noreturn))
#else
#define RD_PRINTF(f, a)
#define RD_NORETURN
#endif

/* ================================================================== */
/* Layer base (src/lib/base): errors, hashes, durations, JSON, hooks, clocks */
/* ================================================================== */

/* Errors */

/*
 * Error classes.  Each maps to one exit status (see tool_exit_code() in
 * src/common/tool.c and the EXIT STATUS section of every man page).
 */
enum rd_code {
	RD_OK = 0,
	RD_EUSAGE,     /* bad arguments: 64 */
	RD_ECORRUPT,   /* data fails verification, unknown format: 65 */
	RD_ENOENT,     /* input missing: 66 */
	RD_EUNAVAIL,   /* feature or service unavailable: 69 */
	RD_EINTERNAL,  /* bug, library failure: 70 */
	RD_ENOMEM,     /* out of memory, fork failed: 71 */
	RD_ECANTCREAT, /* cannot create output (exists, not empty): 73 */
	RD_EIO,        /* read, write, fsync, rename failed: 74 */
	RD_EBUSY,      /* store locked by another writer: 75 */
	RD_EPERM       /* permission denied, bad key, refused lineage: 77 */
};

struct rd_err {
	enum rd_code code;
	int sys_errno;
	char msg[256];
};
#define RD_ERR_INIT                                                            \
	{                                                                      \
		RD_OK, 0, ""                                                   \
	}

/*
 * Set "err" to "code" and a printf-formatted message.  Returns -1 so that
 * callers can write "return rd_err_set(...)".
 */
int rd_err_set(struct rd_err *err, enum rd_code code, const char *fmt, ...)
    RD_PRINTF(3, 4);

/*
 * Like rd_err_set(), but appends ": strerror(errno)" and refines RD_EIO
 * from errno: ENOENT and ENOTDIR give RD_ENOENT, EACCES and EPERM give
 * RD_EPERM, ENOMEM gives RD_ENOMEM.  Returns -1.
 */
int rd_err_sys(struct rd_err *err, enum rd_code code, const char *fmt, ...)
    RD_PRINTF(3, 4);

/* Reset "err" to RD_OK with an empty message. */
void rd_err_clear(struct rd_err *err);

/* The short name of "code", such as "corrupt" or "busy", for JSON output. */
const char *rd_code_name(enum rd_code code);

/* ------------------------------------------------------------------ */
/* Hashes */

#define RD_HASH_LEN 32

/* Write the lower-case hex form of "len" bytes of "in" to "out" (2*len+1). */
void rd_hex(const unsigned char *in, size_t len, char *out);

/*
 * Parse "len" bytes from the hex string "hex" into "out".  Returns 0, or -1
 * if "hex" is not exactly 2*len hex digits.
 */
int rd_unhex(const char *hex, unsigned char *out, size_t len);

/* SHA-256 of everything read from "fd" until end of file.  Returns 0 or -1. */
int rd_sha256_fd(int fd, unsigned char out[RD_HASH_LEN], struct rd_err *err);

/* SHA-256 of a buffer.  Returns 0 or -1. */
int rd_sha256_buf(const void *buf, size_t len, unsigned char out[RD_HASH_LEN],
    struct rd_err *err);

/* ------------------------------------------------------------------ */
/* Durations */

/*
 * Parse a duration: a decimal number of seconds ("30", "2.5"), or a number
 * with one unit of s, m, h, d or w ("10m", "7d").  Stores the seconds in
 * "*out" and returns 0, or -1 if "s" is not of that form.  The sign and
 * range are the caller's to check.
 */
int rd_parse_duration(const char *s, double *out);

/* ------------------------------------------------------------------ */
/* JSON output helpers (for --json) */

struct rd_json;

/*
 * A small streaming JSON writer on a stdio stream.  Strings are escaped;
 * bytes that are not valid UTF-8 are written as \u00XX of the byte.
 */
struct rd_json *rd_json_new(void *stdio_file);
void rd_json_free(struct rd_json *j);
void rd_json_obj_begin(struct rd_json *j, const char *key);
void rd_json_obj_end(struct rd_json *j);
void rd_json_arr_begin(struct rd_json *j, const char *key);
void rd_json_arr_end(struct rd_json *j);
void rd_json_str(struct rd_json *j, const char *key, const char *val);
void rd_json_int(struct rd_json *j, const char *key, int64_t val);
void rd_json_num(struct rd_json *j, const char *key, double val);
void rd_json_bool(struct rd_json *j, const char *key, int val);
void rd_json_null(struct rd_json *j, const char *key);
/*
 * A name from outside (a path, a link target): "key" as rd_json_str()
 * writes it, and when "val" is not valid UTF-8, "key_base64" with its
 * bytes in base64 (RFC 4648), so that every name can be recovered.
 */
void rd_json_path(struct rd_json *j, const char *key, const char *val);
/*
 * The length of the valid UTF-8 sequence at "s" (at most "avail" bytes;
 * SIZE_MAX for a NUL-terminated string), or 0 if it is not one: no
 * overlong forms, surrogates or code points above U+10FFFF.
 */
size_t rd_utf8_len(const unsigned char *s, size_t avail);
/* End the current top-level value with a newline (one object per line). */
void rd_json_line(struct rd_json *j);

/* ------------------------------------------------------------------ */
/* Hooks: shell commands that the tools run around their work */

/*
 * Run "command" with /bin/sh -c, in a process group of its own, with
 * standard input from /dev/null and standard output and error on our
 * standard error, the default signal mask and dispositions, in the
 * directory "cwd" (NULL: ours), and with our environment changed by
 * "env": NULL, or strings up to a NULL, where "NAME=value" sets NAME and
 * "NAME" removes it.  Wait for it to exit, or for "timeout" seconds, after
 * which its whole process group is killed with SIGKILL.  Returns 0 when
 * it ended by itself ("*status" is its wait status: exit code or signal),
 * 1 when it ran out of time and was killed, or -1 when it could not be
 * started: RD_ENOMEM when out of processes or memory, else RD_EUNAVAIL
 * (no /bin/sh, or "cwd" cannot be entered).
 */
int rd_hook_run(const char *command, const char *cwd, const char *const *env,
    double timeout, int *status, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* Clocks and CPUs */

/* Wall-clock time in seconds (CLOCK_REALTIME), and monotonic seconds. */
double rd_now(void);
double rd_monotonic(void);

/* Number of online CPUs, at least 1. */
int rd_ncpu(void);

/* ------------------------------------------------------------------ */
/* Prometheus metrics files (the node exporter's textfile collector) */

/* A metric family: name, "gauge" or "counter", one line of help. */
struct rd_metric {
	const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]*, static */
	const char *type;
	const char *help;
};

struct rd_metrics;

/* An empty metrics text; NULL when out of memory.  Free it with
 * rd_metrics_free() (which accepts NULL). */
struct rd_metrics *rd_metrics_new(void);
void rd_metrics_free(struct rd_metrics *m);

/*
 * Add one sample of "def" with value "v", without labels or with the
 * label "lname"="lvalue" (escaped here).  The first sample of a family
 * writes its HELP and TYPE lines; the samples of a family must be added
 * one after the other.  A value that is not finite (NaN, infinite) is
 * refused with RD_EINTERNAL: leave a sample out when its value is
 * unknown.  Returns 0 or -1; after a failure rd_metrics_write() refuses.
 */
int rd_metrics_add(struct rd_metrics *m, const struct rd_metric *def, double v,
    struct rd_err *err);
int rd_metrics_add_label(struct rd_metrics *m, const struct rd_metric *def,
    const char *lname, const char *lvalue, double v, struct rd_err *err);

/* The text so far (borrowed, NUL-terminated) and its length. */
const char *rd_metrics_text(const struct rd_metrics *m, size_t *len);

/* The families of a tool's run (rdsnap create, rdship push). */
struct rd_run_defs {
	struct rd_metric status, success, duration, end, last_success;
	struct rd_metric snapshot, files, bytes;
};

/* What a run did, for its metrics file. */
struct rd_run {
	int status;          /* its exit status */
	double seconds;      /* how long it ran */
	double end;          /* unix time it ended */
	double last_success; /* unix time of the last success, 0: unknown */
	int64_t snapshot;    /* the snapshot it made or shipped, 0: none */
	int64_t files;       /* what it counted, -1: unknown */
	int64_t bytes;       /* -1: unknown */
};

/*
 * Add the samples of "run" to "m", each with the label store="store":
 * its status, success (1 for status 0 or 3, done with omissions), how
 * long it ran, when it ended and when the last one succeeded, and the
 * snapshot, file and byte counts that are known.  Returns 0 or -1.
 */
int rd_metrics_run(struct rd_metrics *m, const struct rd_run_defs *d,
    const char *store, const struct rd_run *run, struct rd_err *err);

/*
 * Check that the metrics file "path" can be written: a file name whose
 * directory exists (RD_EUSAGE for a name ending in '/', RD_EIO, refined
 * from errno, for a directory that cannot be opened).  Returns 0 or -1.
 */
int rd_metrics_check_path(const char *path, struct rd_err *err);

/*
 * Replace the file "path" with the text atomically: write ".NAME.PID.tmp"
 * in the same directory (never read by the collector, which reads
 * *.prom), fsync it, rename it over "path", fsync the directory.  On
 * failure "path" is as it was.  Returns 0 or -1.
 */
int rd_metrics_write(const struct rd_metrics *m, const char *path,
    struct rd_err *err);

/*
 * Escape "in" as a Prometheus text-format label value (without the
 * quotes): backslash, double quote and newline become \\, \" and \n, and
 * bytes that are not valid UTF-8 become U+FFFD.  Returns a string to
 * free(), or NULL when out of memory.
 */
char *rd_prom_escape(const char *in);

/* ================================================================== */
/* Layer store (src/lib/store): codecs, stores and their shipping keys */
/* ================================================================== */

/* ------------------------------------------------------------------ */
/* Stores */

/* Codecs for stored objects; the number is recorded with every object. */
enum rd_codec { RD_CODEC_RAW = 0, RD_CODEC_ZLIB = 1, RD_CODEC_ZSTD = 2 };

/* Name of a codec ("raw", "zlib", "zstd"), or "unknown". */
const char *rd_codec_name(int codec);

/*
 * Parse a codec name.  Returns the codec, or -1 with RD_EUSAGE for an
 * unknown name and RD_EUNAVAIL for a codec this build lacks.
 */
int rd_codec_parse(const char *name, struct rd_err *err);

/* 1 if this build can read and write objects of "codec", else 0. */
int rd_codec_available(int codec);

/* The codec of a new store by default: zstd when built with it, else zlib. */
int rd_codec_default(void);

struct rd_init_opts {
	int codec;     /* enum rd_codec for new objects */
	int chain_max; /* longest delta chain (1..64) */
	int standby;   /* store follows an origin (rdship) */
	int key;       /* write a new STORE/ship.key: a standby demands it */
};
#define RD_INIT_OPTS_INIT                                                      \
	{                                                                      \
		RD_CODEC_ZLIB, 8, 0, 0                                         \
	}

/*
 * Create a new store at "path": the directory (which must not exist or be
 * empty), catalog.db, packs/, tmp/ and lock, and with "opts->key" a new
 * random STORE/ship.key (mode 0600), which a receiving store then
 * demands of every stream.  Returns 0 or -1; on failure nothing that this
 * call created is left behind.
 */
int rd_store_init(const char *path, const struct rd_init_opts *opts,
    struct rd_err *err);

struct rd_store;

/* Open modes. */
#define RD_OPEN_READ  0 /* no lock: readers never wait for a writer */
#define RD_OPEN_WRITE 1 /* exclusive lock: one writer at a time */

/*
 * Open the store at "path".  "mode" is RD_OPEN_READ or RD_OPEN_WRITE.  If
 * the lock is held, wait up to "wait_seconds" (0: fail at once) and then
 * fail with RD_EBUSY "store is busy".  A missing store gives RD_ENOENT; a
 * catalog of an unknown format version gives RD_ECORRUPT.  A writer also
 * removes leftovers of crashed runs (temp files, orphan packs, pending
 * snapshots).  On success "*out" is set; release it with rd_store_close().
 */
int rd_store_open(const char *path, int mode, double wait_seconds,
    struct rd_store **out, struct rd_err *err);

/* Close a store and release its lock.  Accepts NULL. */
void rd_store_close(struct rd_store *st);

struct rd_store_info {
	char uuid[37];
	char origin[37]; /* empty unless a standby that has an origin */
	int standby;
	int codec;
	int chain_max;
	int64_t epoch;
	int format; /* catalog schema version */
};

/* Fill "info" with the store's identity and settings.  Returns 0 or -1. */
int rd_store_info(struct rd_store *st, struct rd_store_info *info,
    struct rd_err *err);

/* ------------------------------------------------------------------ */
/* The shipping key (STORE/ship.key) */

#define RD_KEY_LEN 32

/*
 * Write a new random key to "path" (created with mode 0600, never
 * overwritten): 64 hex digits and a newline.  Returns 0 or -1.
 */
int rd_key_generate(const char *path, struct rd_err *err);

/*
 * Read the key in "path".  A key file that others can read or write is
 * refused with RD_EPERM.  Returns 0 or -1.
 */
int rd_key_load(const char *path, unsigned char key[RD_KEY_LEN],
    struct rd_err *err);

/*
 * The key a receiving store demands: STORE/ship.key if it exists.
 * Returns 1 (key loaded), 0 (none), or -1.
 */
int rd_store_key(struct rd_store *st, unsigned char key[RD_KEY_LEN],
    struct rd_err *err);

/* ================================================================== */
/* Layer snap (src/lib/snap): snapshots, diff, stats, restore, verify, prune */
/* ================================================================== */

/* ------------------------------------------------------------------ */
/* Snapshots */

/* Entry types, as stored in the catalog and printed by "ls". */
enum rd_type {
	RD_TYPE_FILE = 'f',
	RD_TYPE_DIR = 'd',
	RD_TYPE_SYMLINK = 'l',
	RD_TYPE_FIFO = 'p',
	RD_TYPE_CHR = 'c', /* character device */
	RD_TYPE_BLK = 'b'  /* block device */
};

/*
 * Notices: things a run did not do but that do not make it fail (a socket
 * skipped, a file that kept changing).  "fn" may be NULL.
 */
typedef void (*rd_notice_fn)(void *arg, const char *msg);

struct rd_snap_opts {
	int checksum;      /* read every file, ignore the quick check */
	int threads;       /* workers; 0 means one per CPU */
	const char *label; /* optional, stored with the snapshot */
	rd_notice_fn notice;
	void *notice_arg;
	/* progress: called from the calling thread, about every 100 ms */
	void (*progress)(void *arg, int64_t files, int64_t bytes);
	void *progress_arg;
	/*
	 * Exclude patterns, "nexcludes" of them, borrowed for the call;
	 * see rd_snap_exclude_check() for what they match.  An excluded
	 * directory is not read.  The source itself is never excluded.
	 */
	const char *const *excludes;
	int nexcludes;
	/* do not descend into directories on another file system */
	int one_file_system;
	/*
	 * A co-process that brackets the copy, or NULL: "bracket" runs
	 * through /bin/sh -c in "bracket_cwd" (NULL: ours) with our
	 * environment changed by "bracket_env" (as for rd_hook_run(); may be
	 * NULL) and RDSNAP_BRACKET_DIR, an empty scratch directory.  It is
	 * started before the source is read and must print the line "ready"
	 * within "bracket_timeout" seconds; after the copy it reads "done"
	 * and must exit 0 within "bracket_timeout" seconds.  Then every
	 * regular file in its scratch directory joins the snapshot at the
	 * same path relative to the source.  A failure of the co-process is
	 * RD_EUNAVAIL, a file it must not add RD_ECORRUPT; either way nothing
	 * is committed.
	 */
	const char *bracket;
	const char *bracket_cwd;
	const char *const *bracket_env;
	double bracket_timeout;
	/*
	 * Patterns, "nmay_change" of them, as for "excludes": files that
	 * match may change while they are read, because what brackets the
	 * copy repairs them (a database in backup mode replays its WAL over
	 * torn pages).  Such a file is read once and stored as read; it is
	 * not retried, not reported and does not make the snapshot
	 * inconsistent.
	 */
	const char *const *may_change;
	int nmay_change;
	/*
	 * Every extended attribute an entry has (user.*, security.*,
	 * trusted.*, system.*: what the caller may read) is kept, POSIX
	 * ACLs (system.posix_acl_access and _default) and file
	 * capabilities (security.capability) among them, unless
	 * "no_xattrs" (all but the ACLs) or "no_acls" (the ACLs) leaves
	 * them out.  An entry whose ctime did not change keeps the
	 * attributes its previous version recorded.
	 */
	int no_xattrs;
	int no_acls;
	/*
	 * A file that changed while it was read is read again, up to three
	 * times in all; with "read_once" it is read once and, if it changed,
	 * stored as read and counted as inconsistent (follow mode: its next
	 * cycle reads it again).
	 */
	int read_once;
};
#define RD_SNAP_OPTS_INIT                                                      \
	{                                                                      \
		0, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL,    \
		    NULL, 300, NULL, 0, 0, 0, 0                                \
	}

/*
 * Check an exclude pattern for "rd_snap_opts".  A pattern is an
 * fnmatch(3) glob.  Without a '/' it matches the name of an entry at any
 * depth; with a '/' it matches the path relative to the source, with
 * FNM_PATHNAME, so that '*' does not match a '/' (a leading '/' only
 * anchors it there); with a trailing '/' it matches directories only.
 * A pattern that is empty without its leading and trailing '/' would
 * match nothing and gives RD_EUSAGE.  Returns 0 or -1.
 */
int rd_snap_exclude_check(const char *pattern, struct rd_err *err);

struct rd_snapinfo {
	int64_t id;
	int64_t started; /* unix time, seconds */
	int64_t finished;
	double seconds;       /* duration of the run */
	int64_t files;        /* entries of every type */
	int64_t bytes;        /* sum of regular file sizes */
	int64_t bytes_read;   /* bytes read from the source */
	int64_t bytes_added;  /* raw size of contents new to the store */
	int64_t stored;       /* bytes written to packs */
	int64_t changed;      /* entries new or changed since the parent */
	int64_t removed;      /* entries gone since the parent */
	int64_t inconsistent; /* files that kept changing while read */
	int64_t skipped;      /* sockets, fifos, devices, unreadable */
	int64_t partial;      /* unreadable paths that kept their old version */
	char label[128];
};

/*
 * Take a snapshot of the directory "source" into the store (opened with
 * RD_OPEN_WRITE).  Unchanged files (same size, mtime, ctime and inode as
 * in the newest snapshot) are not read unless "opts->checksum".  On
 * success the snapshot is complete and "info" (may be NULL) describes it.
 * On failure nothing becomes visible in the catalog.  Returns 0 or -1.
 */
int rd_snap_create(struct rd_store *st, const char *source,
    const struct rd_snap_opts *opts, struct rd_snapinfo *info,
    struct rd_err *err);

/*
 * Call "fn" for every complete snapshot, oldest first.  A non-zero return
 * from "fn" stops the walk and is returned.  Returns 0, the callback's
 * value, or -1.
 */
int rd_snap_list(struct rd_store *st,
    int (*fn)(void *arg, const struct rd_snapinfo *si), void *arg,
    struct rd_err *err);

/*
 * Resolve "id" to a complete snapshot: 0 means the newest.  Fills "info"
 * (may be NULL).  A missing snapshot gives RD_ENOENT ("no snapshot 7",
 * "store has no snapshots").  Returns 0 or -1.
 */
int rd_snap_get(struct rd_store *st, int64_t id, struct rd_snapinfo *info,
    struct rd_err *err);

/* A path that a snapshot could not read as it was. */
struct rd_problem {
	const char *path;    /* as rd_entry's, NUL-terminated */
	size_t path_len;     /* its bytes (a name may hold any but NUL) */
	const char *problem; /* "unreadable" or "changing" */
	const char *reason;  /* the error, e.g. "Permission denied" */
};

/*
 * Call "fn" for each problem of snapshot "id" (0: newest), in path order:
 * "unreadable" paths kept their previous version (or are missing when
 * there was none); "changing" files are stored as last read.  Strings are
 * borrowed for the duration of the call.  A non-zero return from "fn"
 * stops the walk and is returned.  Returns 0, the callback's value, or -1.
 */
int rd_snap_problems(struct rd_store *st, int64_t id,
    int (*fn)(void *arg, const struct rd_problem *p), void *arg,
    struct rd_err *err);

struct rd_entry {
	const char *path; /* relative, '/'-separated, no trailing '/' */
	int type;         /* enum rd_type */
	unsigned mode;    /* permission bits (07777) */
	int64_t uid, gid;
	int64_t size;     /* bytes (files), target length (symlinks) */
	int64_t mtime_ns; /* nanoseconds since the epoch */
	unsigned char sha[RD_HASH_LEN]; /* content of a file */
	const char *target;             /* symlink target, else NULL */
	int64_t rdev;                   /* a device's number, else 0 */
	int64_t
	    link; /* files of one snapshot with one non-zero link: one inode */
	const unsigned char *xattrs; /* extended attributes (see xattr.c) */
	size_t xattrs_len;           /* 0: none */
};

/*
 * Call "fn" for each entry of snapshot "id" (0: newest), in path order.
 * With "path" non-NULL, only that entry and, for a directory, everything
 * below it; a path that the snapshot lacks gives RD_ENOENT.  Strings in
 * the entry are borrowed for the duration of the call.  A non-zero return
 * from "fn" stops the walk and is returned.  Returns 0, that value, or -1.
 */
int rd_snap_entries(struct rd_store *st, int64_t id, const char *path,
    int (*fn)(void *arg, const struct rd_entry *e), void *arg,
    struct rd_err *err);

/*
 * Write the file "path" of snapshot "id" (0: newest) to the file
 * descriptor "fd", streamed through the content reader (bounded memory,
 * its SHA-256 checked at the end: a damaged content fails with
 * RD_ECORRUPT after some bytes may have been written).  A path the
 * snapshot lacks gives RD_ENOENT; a directory or a symbolic link gives
 * RD_EUSAGE with a message that says so.  "bytes" (may be NULL) gets the
 * bytes written.  Returns 0 or -1.
 */
int rd_snap_cat(struct rd_store *st, int64_t id, const char *path, int fd,
    int64_t *bytes, struct rd_err *err);

/* One version of a path: the snapshots "first" to "last" hold "e". */
struct rd_version {
	int64_t first, last; /* complete snapshot ids (pruned ones between) */
	struct rd_entry e;
};

/*
 * Call "fn" for every version of every path that "pattern" matches, in
 * path order, oldest version first: a pattern without '/' is matched
 * against the last component of each path (at any depth), one with '/'
 * against the whole path; both with fnmatch(3) and FNM_PATHNAME.  A
 * version still in the newest snapshot has "last" = that snapshot.
 * "*matched" gets the number of versions.  Strings are borrowed for the
 * call.  A non-zero return from "fn" stops the walk and is returned.
 * Returns 0, that value, or -1.
 */
int rd_snap_find(struct rd_store *st, const char *pattern,
    int (*fn)(void *arg, const struct rd_version *v), void *arg,
    int64_t *matched, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* Differences between snapshots */

/* What happened to a path, as printed by "rdsnap diff". */
enum rd_change_kind {
	RD_CHANGE_ADDED = '+',
	RD_CHANGE_REMOVED = '-',
	RD_CHANGE_CONTENT = 'M', /* type, file content or link target */
	RD_CHANGE_META = 'm'     /* mode, owner, group or mtime only */
};

/* Attributes that differ between the two versions of a path. */
#define RD_DIFF_TYPE    0x01u /* file <-> symlink */
#define RD_DIFF_CONTENT 0x02u /* a file's bytes (SHA-256 or size) */
#define RD_DIFF_TARGET  0x04u /* a symlink's target */
#define RD_DIFF_MODE    0x08u
#define RD_DIFF_UID     0x10u
#define RD_DIFF_GID     0x20u
#define RD_DIFF_MTIME   0x40u
#define RD_DIFF_XATTRS  0x80u  /* extended attributes, ACLs, capabilities */
#define RD_DIFF_LINK    0x100u /* hard-link identity */
#define RD_DIFF_RDEV    0x200u /* a device's number */

struct rd_change {
	int kind;                   /* enum rd_change_kind */
	unsigned differs;           /* RD_DIFF_* bits; 0 if one side only */
	const struct rd_entry *old; /* in snapshot "from"; NULL if added */
	const struct rd_entry *new; /* in snapshot "to"; NULL if removed */
};

struct rd_diff_result {
	int64_t from, to; /* the snapshots compared, 0 resolved */
	int64_t added, removed, changed, metadata; /* paths, any type */
	int64_t added_bytes;   /* sizes of the regular files added */
	int64_t removed_bytes; /* sizes of the regular files removed */
	int64_t changed_bytes; /* RD_CHANGE_CONTENT: new minus old file sizes */
};

/*
 * Compare snapshot "from" with snapshot "to" (either 0: the newest; "from"
 * may be the newer one, which gives the reverse change).  Calls "fn" once
 * per path that differs, in path order, with the version of the path in
 * each snapshot.  A directory and a file or symlink of the same name are
 * different paths, so a file that became a directory is one removal and
 * one addition.  Only the catalog rows that begin or end between the two
 * snapshots are read, sorted by SQLite, so memory stays bounded however
 * large the snapshots are.  Entries are borrowed for the duration of the
 * call.  "res" (may be NULL) gets the totals of what was reported.  A
 * missing snapshot gives RD_ENOENT.  A non-zero return from "fn" stops the
 * walk and is returned.  Returns 0, that value, or -1.
 */
int rd_snap_diff(struct rd_store *st, int64_t from, int64_t to,
    int (*fn)(void *arg, const struct rd_change *c), void *arg,
    struct rd_diff_result *res, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* Store statistics */

#define RD_DEPTH_MAX 64 /* the longest delta chain a store may have */

struct rd_store_stats {
	/* snapshots and catalog rows */
	int64_t snapshots;      /* complete snapshots */
	int64_t oldest, newest; /* their lowest and highest ids, 0 if none */
	int64_t oldest_time;    /* when "oldest" started, unix time */
	int64_t newest_time;    /* when "newest" started */
	int64_t entries;        /* catalog rows: one per version of a path */
	int64_t logical_bytes;  /* file sizes summed over every snapshot */

	/* contents: raw sizes, and payload bytes as stored in packs */
	int64_t contents;     /* distinct contents */
	int64_t full, delta;  /* ... stored full, stored as deltas */
	int64_t unique_bytes; /* raw size of all contents */
	int64_t full_raw, full_stored;
	int64_t delta_raw, delta_stored;
	int64_t signatures; /* librsync signatures kept */
	int64_t signature_bytes;

	/* delta chains: contents per depth (0 for full ones) */
	int depth_max;
	double depth_mean;
	int64_t depth_count[RD_DEPTH_MAX + 1];

	/* space */
	int64_t catalog_packs;      /* packs the catalog names */
	int64_t live_bytes;         /* objects in use, headers included */
	int64_t unreferenced_bytes; /* in the catalog's packs, unused */
	int64_t packs;              /* pack files in STORE/packs */
	int64_t pack_bytes;         /* their size */
	int64_t orphan_packs;       /* pack files the catalog does not name */
	int64_t orphan_bytes;       /* their size */
	int64_t catalog_bytes;      /* catalog.db and catalog.db-wal */
	int64_t disk_bytes;         /* pack_bytes + catalog_bytes */
};

/*
 * Fill "out" with the size and makeup of the store: a handful of
 * aggregate queries in one read transaction and one pass over the names
 * in STORE/packs, never a walk over the entries.  Payload bytes exclude
 * the object headers; "unreferenced_bytes" is what the catalog's packs
 * hold beyond their magic and the objects in use (objects whose content
 * was stored twice by racing workers, or pruned).  Returns 0 or -1.
 */
int rd_store_stats(struct rd_store *st, struct rd_store_stats *out,
    struct rd_err *err);

/* ------------------------------------------------------------------ */
/* Restore */

struct rd_restore_opts {
	int force;    /* allow a non-empty target directory */
	int no_owner; /* do not chown even when root */
	rd_notice_fn notice;
	void *notice_arg;
	void (*progress)(void *arg, int64_t files, int64_t bytes);
	void *progress_arg;
};
#define RD_RESTORE_OPTS_INIT                                                   \
	{                                                                      \
		0, 0, NULL, NULL, NULL, NULL                                   \
	}

struct rd_restore_result {
	int64_t id;
	int64_t files;
	int64_t bytes;
	/*
	 * Files restored without their setuid/setgid bits, because their
	 * owner could not be kept (not root, or "no_owner"); each is named
	 * through "notice".
	 */
	int64_t setid_dropped;
	/*
	 * Things that could not be restored, each named through "notice"
	 * (an ordinary user's restore: owners, device nodes, file
	 * capabilities, trusted.* and security.* attributes; an entry
	 * whose catalog row is unsafe); the restore goes on without them.
	 * "owners_lost" counts the entries whose owner was not kept (the
	 * first 20 are named).
	 */
	int64_t omitted;
	int64_t owners_lost;
};

/*
 * Restore snapshot "id" (0: newest) into the directory "target", which is
 * created if missing and must be empty unless "opts->force".  With
 * "npaths" > 0, only those paths (and what is below them).  Every file is
 * checked against its SHA-256 as it is written; symlinks are never
 * followed while writing.  Returns 0 or -1.
 */
int rd_restore(struct rd_store *st, int64_t id, const char *target,
    const char *const *paths, int npaths, const struct rd_restore_opts *opts,
    struct rd_restore_result *res, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* Verify */

/* A path that holds a content in snapshots "first" to "last". */
struct rd_use {
	const char *path;
	int64_t first, last;
};

struct rd_verify_opts {
	int read_data; /* reconstruct every content and check its SHA-256 */
	/*
	 * With "read_data": rebuild only the contents stored in a share of
	 * the packs, "subset" percent (1..100; 0 or 100: all), chosen by
	 * "seed": a pack is in the share when the SHA-256 of the seed and
	 * its name falls in it, so a seed picks the same packs every run.
	 * Catalog, packs and headers are always all checked.
	 */
	int subset;
	uint64_t seed;
	/*
	 * Called once per problem found, with a one-line description; for a
	 * damaged content "sha" is set and "uses" holds the "nuses" paths
	 * and snapshot ranges that need it (none: only deltas build on it),
	 * "more" set when there are more than were listed; else "sha" is
	 * NULL and "nuses" 0.
	 */
	void (*damage)(void *arg, const char *what, const unsigned char *sha,
	    const struct rd_use *uses, int nuses, int more);
	void *damage_arg;
	void (*progress)(void *arg, int64_t files, int64_t bytes);
	void *progress_arg;
};
#define RD_VERIFY_OPTS_INIT                                                    \
	{                                                                      \
		0, 0, 0, NULL, NULL, NULL, NULL                                \
	}

struct rd_verify_result {
	int64_t snapshots;
	int64_t contents;
	int64_t packs;
	int64_t bytes_checked;
	int64_t damaged;       /* problems reported through "damage" */
	int64_t orphan_packs;  /* unreferenced packs (reclaimable) */
	int64_t packs_read;    /* packs whose contents were rebuilt */
	int64_t contents_read; /* contents rebuilt and hashed */
};

/*
 * 1 if the pack "name" is in the "subset" percent share of "seed" (see
 * rd_verify_opts), else 0.
 */
int rd_verify_selects(const char *name, int subset, uint64_t seed);

/*
 * Check the store: catalog integrity, every referenced pack present and
 * long enough, object headers readable; with "read_data" also every
 * content rebuilt and hashed.  Returns 0 if clean, 1 if damage was found
 * (reported through "opts->damage"), -1 if the check itself failed.
 */
int rd_verify(struct rd_store *st, const struct rd_verify_opts *opts,
    struct rd_verify_result *res, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* Retention */

struct rd_prune_opts {
	/* keep rules; the union of what they keep stays (0: rule unused) */
	int keep_last;
	int keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly;
	int dry_run;    /* decide and count, change nothing */
	int max_unused; /* rewrite a pack when more than this % is unused */
	const char *forget_standby; /* uuid: stop protecting its snapshot */
	int orphans; /* also remove contents no snapshot uses (whole store) */
	/*
	 * Called after the decision for every snapshot, oldest first:
	 * "keep" 1 with "why" naming the rules ("last, daily", "standby",
	 * "newest"), or 0 for a snapshot that goes.
	 */
	void (*snapshot)(void *arg, const struct rd_snapinfo *si, int keep,
	    const char *why);
	void *arg;
};
#define RD_PRUNE_OPTS_INIT                                                     \
	{                                                                      \
		0, 0, 0, 0, 0, 0, 0, 20, NULL, 0, NULL, NULL                   \
	}

struct rd_prune_result {
	int64_t kept, removed;    /* snapshots */
	int64_t rows_removed;     /* catalog entry rows */
	int64_t contents_removed; /* contents no snapshot needs any more */
	int64_t contents_rebased; /* kept contents stored again */
	int64_t object_bytes;     /* stored bytes of the removed contents */
	int64_t packs_removed;    /* packs dropped or rewritten */
	int64_t packs_rewritten;
	int64_t packs_written;
	int64_t bytes_removed;  /* sizes of the packs removed */
	int64_t bytes_written;  /* sizes of the new packs (dry run: estimate) */
	int64_t bytes_freed;    /* removed - written */
	int64_t packs_deferred; /* left for the next writer: readers open */
	double seconds;
};

/*
 * Remove the snapshots that no keep rule keeps.  The newest snapshot, the
 * newest snapshot each standby confirmed (recorded by rd_ship_push), the
 * versions of warm replicas and of running promotions always stay.  Kept
 * contents that depended on removed ones are rebased; packs that lose
 * more than "max_unused" percent are rewritten, empty ones removed.  One
 * catalog transaction: an interrupted prune changes nothing.  The store
 * must be open with RD_OPEN_WRITE.  Returns 0 or -1.
 */
int rd_snap_prune(struct rd_store *st, const struct rd_prune_opts *opts,
    struct rd_prune_result *res, struct rd_err *err);

/* ================================================================== */
/* Layer ship (src/lib/ship): sending, receiving, replicas */
/* ================================================================== */

/* ------------------------------------------------------------------ */
/* Shipping (rdship) */

struct rd_ship_opts {
	const unsigned char *key; /* RD_KEY_LEN bytes, or NULL */
	int64_t since;            /* send: receiver has up to this id */
	int adopt;                /* receive: follow a new origin */
	const char *apply_dir;    /* receive: replica to bring up */
	rd_notice_fn notice;
	void *notice_arg;
	/* progress: bytes on the wire so far */
	void (*progress)(void *arg, int64_t bytes, int64_t total);
	void *progress_arg;
	/*
	 * receive: follow a promoted store of the same cluster when etcd
	 * confirms it (its primary key names the sender, at the bundle's
	 * epoch, as taking over from the origin this store follows)
	 */
	const char *etcd;    /* endpoints, comma-separated, or NULL */
	const char *cluster; /* the cluster's name, with "etcd" */
	double etcd_timeout; /* seconds per request and endpoint */
};
#define RD_SHIP_OPTS_INIT                                                      \
	{                                                                      \
		NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 3        \
	}

/*
 * Check --etcd "etcd" and --cluster "cluster" (either may be NULL): both
 * or neither, valid endpoints and a valid name.  Returns 0, or -1 with
 * RD_EUSAGE.
 */
int rd_cluster_opts_check(const char *etcd, const char *cluster,
    struct rd_err *err);

struct rd_ship_result {
	int64_t from;         /* receiver's newest snapshot before */
	int64_t newest;       /* newest snapshot after */
	int64_t snapshots;    /* snapshots shipped */
	int64_t objects;      /* objects shipped */
	int64_t object_bytes; /* their stored bytes */
	int64_t skipped;      /* objects the receiver already had */
	int64_t skipped_bytes;
	int64_t
	    wire_bytes; /* bytes written to (send) or read from the stream */
	int64_t
	    received; /* bytes read from the other side, set on failure too */
	int reported; /* serve: the failure was told to the sender */
	int64_t replica_version; /* -1: no replica */
	int64_t replica_files;   /* files the apply wrote or removed */
	/*
	 * What the apply could not set (an xattr, ACL or capability the
	 * replica's file system or user refuses): how many (a push knows
	 * only 0 or 1 and more), and the first, named; the push exits 3.
	 */
	int64_t replica_omitted;
	char replica_omission[256];
	double seconds;
	char origin[37];
	int64_t epoch;
	char standby[40]; /* push: the receiver's store id, "" if unknown */
};

/*
 * Write a bundle of the snapshots after "opts->since" to "fd" (one-way,
 * self-contained).  Returns 0 or -1.
 */
int rd_ship_send(struct rd_store *st, int fd, const struct rd_ship_opts *opts,
    struct rd_ship_result *res, struct rd_err *err);

/*
 * Sending side of a session with "rdship serve" (read its answers from
 * "fd_in", write to "fd_out"): sends only the snapshots and objects the
 * other side lacks.  Refusals of the other side come back with their
 * code.  Returns 0 or -1.
 */
int rd_ship_push(struct rd_store *st, int fd_in, int fd_out,
    const struct rd_ship_opts *opts, struct rd_ship_result *res,
    struct rd_err *err);

/*
 * Receive a bundle from "fd_in" into a standby store opened for writing;
 * with "fd_out" != -1 serve a push session, answering on "fd_out".  The
 * stream is checked frame by frame; a bundle that fails any check leaves
 * the store's snapshots as they were (objects already verified and
 * committed stay, so that a rerun resumes).  With "opts->apply_dir", the
 * replica is then brought to the newest snapshot.  Returns 0 or -1.
 */
int rd_ship_receive(struct rd_store *st, int fd_in, int fd_out,
    const struct rd_ship_opts *opts, struct rd_ship_result *res,
    struct rd_err *err);

/*
 * Serve push sessions on one channel ("rdship serve"), one after the
 * other until the channel ends between two sessions: each session opens
 * the store at "path" for writing (waiting up to "wait" seconds for its
 * lock) and closes it when it ends, so the lock is free between sessions.
 * "*sessions" counts the sessions that succeeded; "res" describes the
 * last one.  Returns 0 at the end of the channel after a session, or -1
 * as rd_ship_receive() (the first session's failure to open the store
 * too, with "res->reported" 0).
 */
int rd_ship_serve(const char *path, double wait, int fd_in, int fd_out,
    const struct rd_ship_opts *opts, struct rd_ship_result *res,
    int64_t *sessions, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* Follow mode (rdship follow) */

struct rd_follow_stats {
	int64_t cycles;       /* cycles run */
	int64_t failures;     /* snapshots and pushes that failed */
	int64_t snapshot;     /* newest snapshot taken, 0 none yet */
	double cycle_seconds; /* the last cycle's duration */
	/*
	 * The last cycle's achieved RPO: over the destinations it reached,
	 * the largest age, when its push ended, of the newest snapshot that
	 * destination held before (the start of that snapshot's walk).
	 */
	double rpo_seconds;
	int64_t bytes; /* pushed in the last cycle, all destinations */
	int64_t bytes_total;
	int ok_dests; /* destinations the last cycle reached */
	/*
	 * Change notification: cycles that found no change and walked
	 * nothing, cycles that walked the whole source (the others walked
	 * only the directories that changed), what the last cycle walked,
	 * overflows of the event queue, and whether notification is in use
	 * (0 with "no_notify", without inotify or once a watch could not be
	 * added).
	 */
	int64_t skipped;
	int64_t whole_walks;
	enum rd_follow_walk {
		RD_WALK_NONE,    /* no change: no snapshot */
		RD_WALK_CHANGED, /* the changed directories */
		RD_WALK_WHOLE    /* the whole source */
	} walked;
	int64_t overflows;
	int notify;
	int64_t watches; /* directories watched */
	/* attributes the destinations' replicas could not set (--apply) */
	int64_t omissions;
};

struct rd_follow_opts {
	double interval; /* seconds from one cycle's start to the next */
	const struct rd_snap_opts *snap;
	const struct rd_ship_opts *ship; /* key, notices */
	int ndests;
	const char *const *dests; /* names, for notices and metrics */
	/*
	 * Open the channel to destination "i": a session of "rdship serve"
	 * reads what we write to "*fd_to" and answers on "*fd_from".  When
	 * the channel is done with, rd_follow() closes both descriptors and
	 * calls "disconnect" to reap what "connect" started; "failed" says
	 * that it broke and may hang, so it must be ended at once.
	 */
	int (*connect)(void *arg, int i, int *fd_to, int *fd_from,
	    struct rd_err *err);
	void (*disconnect)(void *arg, int i, int failed);
	/* called after every cycle; may be NULL */
	void (*cycle)(void *arg, const struct rd_follow_stats *s);
	void *arg;
	rd_notice_fn notice;
	void *notice_arg;
	const char *metrics; /* Prometheus text file, or NULL */
	double backoff_max;  /* longest wait before reconnecting; 0: 60 s */
	int64_t max_cycles;  /* 0: until stopped */
	/*
	 * Change notification (inotify) on the directories of the source:
	 * a cycle in which nothing changed takes no snapshot, pushes (to
	 * confirm) and counts as skipped; the newest snapshot is then
	 * current as of that cycle's start.  Every "full_every" cycles (0:
	 * 60) a cycle walks anyway, for writes notification cannot see
	 * (through mmap, on network file systems).  "no_notify": walk every
	 * cycle.
	 */
	int no_notify;
	int64_t full_every;
	/* prune with these rules every "prune_every" cycles (NULL: never) */
	const struct rd_prune_opts *prune;
	int prune_every;
	/* set (by a signal handler) to end the loop after the cycle */
	volatile sig_atomic_t *stop;
};

/*
 * Follow "source": every "interval" seconds take a snapshot of it into
 * "st" (open with RD_OPEN_WRITE) and push it to each destination over a
 * channel kept open across cycles.  A destination whose push fails has
 * its channel closed and opened again after a backoff (1 s, doubling up
 * to "backoff_max"); the push then resumes.  A failed snapshot is
 * counted and the loop goes on.  When "*stop" is set the loop ends after
 * the cycle in progress (a destination in backoff is not retried).
 * Refusals that no retry mends (RD_EPERM: bad key, older epoch, another
 * lineage; RD_EUSAGE) end the loop with -1.  "s" describes the run.
 * Returns 0 or -1.
 */
int rd_follow(struct rd_store *st, const char *source,
    const struct rd_follow_opts *o, struct rd_follow_stats *s,
    struct rd_err *err);

struct rd_replica_info {
	char dir[1024];
	int64_t version;
	int64_t target; /* while applying */
	int clean;      /* 1: dir is exactly "version" */
	double updated;
	/*
	 * The last update that could not set everything (an xattr, ACL or
	 * capability refused): its snapshot (0: none), how many, the first.
	 */
	int64_t omitted_at, omitted;
	char omission[256];
};

#define RD_SHIP_LIST_MAX 32

struct rd_ship_status {
	struct rd_store_info store;
	int64_t newest; /* newest complete snapshot, 0 if none */
	int64_t newest_time;
	int64_t origin_newest; /* origin's newest at the last ship */
	double last_ship;      /* time of the last received bundle, 0 never */
	/*
	 * Rejoining (rd_ship_rejoin) and waiting for its first push: "-" if
	 * it kept nothing aside, else the name of the store aside in STORE;
	 * "" when not rejoining.
	 */
	char rejoin[32];
	/*
	 * The first RD_SHIP_LIST_MAX replicas and standbys, by name; the
	 * "_more" counts say how many others there are, and "replicas_stale"
	 * counts every replica, listed or not, that is interrupted or behind
	 * the newest snapshot.
	 */
	int nreplicas;
	struct rd_replica_info replica[RD_SHIP_LIST_MAX];
	int64_t replicas_more, replicas_stale;
	/* standbys this store pushed to: what each confirmed (prune keeps it) */
	int nstandbys;
	struct {
		char uuid[40];    /* "" for a destination never confirmed */
		int64_t snapshot; /* confirmed snapshot, -1 if none */
		double pushed;    /* unix time of the confirmation, 0 none */
		char dest[1024];  /* as "rdship push" named it, "" unknown */
		int64_t failures; /* consecutive failed pushes to "dest" */
		double failed;    /* unix time of the last failure, 0 none */
		char reason[256]; /* one line: why the last one failed */
	} standby[RD_SHIP_LIST_MAX];
	int64_t standbys_more;
};

/*
 * Describe a store's shipping state: the standbys are those that
 * confirmed a push (by id, in id order), each with the destination
 * "rdship push" last reached it at, then the destinations that never
 * confirmed one.  Returns 0 or -1.
 */
int rd_ship_status(struct rd_store *st, struct rd_ship_status *out,
    struct rd_err *err);

#define RD_SHIP_DEST_MAX 1023 /* longest destination name recorded */

/*
 * Record on the origin "st" how a push to destination "dest" (as the
 * operator named it) ended: "reason" NULL for a success, when "uuid" is
 * the standby that answered and the count of consecutive failures goes
 * back to 0; otherwise the count grows and "reason" (its first line, cut
 * to fit) is kept with the time, and "uuid" (may be "" or NULL) names
 * the standby if it answered.  A destination longer than
 * RD_SHIP_DEST_MAX is refused with RD_EUSAGE.  Returns 0 or -1.
 */
int rd_ship_note_push(struct rd_store *st, const char *dest, const char *uuid,
    const char *reason, struct rd_err *err);

/* 1 if "s" is a store id (a UUID as 36 lower-case characters), else 0. */
int rd_store_id_ok(const char *s);

/* What rd_ship_rejoin() did. */
struct rd_rejoin_result {
	char origin[37]; /* the store followed from now on */
	int64_t epoch;   /* its epoch, as etcd names it; 0 without etcd */
	int64_t newest;  /* this store's newest snapshot, now kept aside */
	char aside[32];  /* "forked-EPOCH": STORE/aside holds the history */
};

/*
 * Make "st" (open for writing: an old primary, or a standby whose
 * history went past the promoted store's) a standby of the store
 * promoted in its place: "origin" (a store id), or with "opts->etcd"
 * and "opts->cluster" the primary that etcd names, which must have taken
 * over from this store or from its origin at a higher epoch.  The whole
 * history is first kept aside as a store of its own, STORE/forked-EPOCH
 * (packs hard-linked, catalog copied, a new id); then STORE becomes a
 * standby of the new primary, marked as rejoining.  The first push from
 * that primary drops the snapshots after the fork point it names from
 * STORE (they stay in the store aside) and sends only what STORE lacks.
 * Returns 0, or -1 with the store as it was: RD_EPERM for a primary
 * etcd does not name as a successor, a store rejoining already or
 * following that store already; RD_EUNAVAIL for etcd unreachable;
 * RD_ECANTCREAT if STORE/forked-EPOCH exists.
 */
int rd_ship_rejoin(struct rd_store *st, const struct rd_ship_opts *opts,
    const char *origin, struct rd_rejoin_result *res, struct rd_err *err);

/* ================================================================== */
/* Layer watch (src/lib/watch): drills; probes are in rd_probe.h */
/* ================================================================== */

/* ------------------------------------------------------------------ */
/* Drills */

/* A successful drill (rdpromote --drill) as recorded in the catalog. */
struct rd_drill_info {
	int64_t id;      /* its row in the promotions journal */
	int64_t version; /* the snapshot it restored */
	double finished; /* unix time, seconds */
	double rto;      /* seconds, or -1 if not recorded */
	double rpo;      /* seconds, or -1 if not recorded */
};

/*
 * Find the drill of the store that finished successfully last (the
 * latest "finished"; on a tie the latest recorded).  Only a drill whose
 * --validate command ran and passed counts: drills without one, and
 * drills that failed, were aborted or are still running do not.  A catalog without a
 * promotions journal has no drills.  Fills "out" only when one is found.
 * Returns 1 (found), 0 (none), or -1.
 */
int rd_drill_last(struct rd_store *st, struct rd_drill_info *out,
    struct rd_err *err);

/* The last promotion or drill that ended, whatever its outcome. */
struct rd_promotion_last {
	int64_t id;      /* its row in the promotions journal */
	double finished; /* unix time, seconds */
	int ok;     /* done (and, for a drill, its --validate command passed) */
	double rto; /* seconds, or -1 if not recorded */
	double rpo; /* seconds, or -1 if not recorded */
};

/*
 * Find the promotion ("drill" 0) or drill ("drill" 1) that ended last
 * (done, failed or aborted, or with "done_only" done; the latest
 * "finished", on a tie the latest recorded).  Fills "out" only when one
 * is found.  Returns 1 (found), 0 (none, or a catalog without a
 * promotions journal), or -1.
 */
int rd_promotion_last(struct rd_store *st, int drill, int done_only,
    struct rd_promotion_last *out, struct rd_err *err);

/* ================================================================== */
/* Layer promote (src/lib/promote): promotion, its journal and tree checks */
/* ================================================================== */

/* ------------------------------------------------------------------ */
/* Promotion (rdpromote) */

/* The steps of a promotion, in order: preflight, fence, materialize,
 * verify, validate, switch, start, check, record. */
#define RD_PROMOTE_NSTEPS 10

/*
 * Step callback: "outcome" is "ok", "failed", "done" (by an earlier run)
 * or "plan" (dry run).  The check callback gets the name of a check of
 * the dry run ("journal", "snapshot", "role", "target", "partial",
 * "space", "primary") with "ok", "failed" or "skipped".
 */
typedef void (*rd_step_fn)(void *arg, const char *step, const char *outcome,
    double seconds, const char *detail);

struct rd_promote_opts {
	int64_t version;       /* --snapshot: 0 the newest */
	const char *primary;   /* probe that must be down, or NULL */
	const char *fence;     /* command that must succeed, or NULL */
	int no_fence;          /* promote without a fence command, explicitly */
	const char *validate;  /* application check of the copy, or NULL */
	const char *start;     /* command that starts the service, or NULL */
	const char *check;     /* probe polled until up, or NULL */
	const char *stop;      /* command that stops what "start" started */
	const char *heartbeat; /* file in the snapshot: mtime = newest data */
	double failed_at;      /* when the primary failed (unix time), 0 */
	double check_timeout;  /* seconds */
	double hook_timeout;   /* seconds, per command */
	double probe_timeout;  /* seconds, per probe */
	int force;             /* skip the primary-down check */
	int allow_partial;     /* a partial or inconsistent snapshot is fine */
	int drill;             /* rehearsal into a scratch target */
	int dry_run;           /* report the plan and the checks only */
	int quick_verify;      /* metadata only */
	int resume;            /* continue the unfinished one */
	rd_step_fn step;
	rd_step_fn checked; /* dry run: each check, or NULL */
	void *step_arg;
	const char *etcd;    /* etcd endpoints (comma-separated), or NULL */
	const char *cluster; /* the cluster's name in etcd, with "etcd" */
	double etcd_timeout; /* seconds, per etcd request and endpoint */
	/*
	 * A planned switchover: the handover step runs "primary_stop" (stop
	 * the primary's writers), then "final_snapshot" (take and ship the
	 * last snapshot, labelled $RDPROMOTE_FINAL_LABEL) with the store
	 * unlocked for its push, and promotes that snapshot only.
	 */
	int switchover;
	const char *primary_stop;
	const char *final_snapshot;
};
#define RD_PROMOTE_OPTS_INIT                                                   \
	{                                                                      \
		0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, 0, 60, 300, 5, \
		    0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, 3, 0,      \
		    NULL, NULL                                                 \
	}

/*
 * Check that "opts" make a promotion (or drill) that may run: a real
 * promotion names --fence or --no-fence (not both) and --primary or
 * --force; a drill takes neither; --start needs --stop; a resume takes
 * only the snapshot and --allow-partial; timeouts are above 0; probes
 * parse; --etcd and --cluster come together (not with a drill) and
 * parse.  Returns 0, or -1 with RD_EUSAGE and the reason.
 */
int rd_promote_opts_check(const struct rd_promote_opts *opts,
    struct rd_err *err);

struct rd_promote_result {
	int64_t id;           /* journal row */
	int64_t version;      /* snapshot promoted */
	int64_t fell_back;    /* the snapshot it fell back from, or 0 */
	int64_t older;        /* when open: the snapshot before, or 0 */
	int64_t snap_time;    /* when it was taken (unix time) */
	int64_t partial;      /* the snapshot's partial and inconsistent */
	int64_t inconsistent; /* counts (see rd_snapinfo) */
	int64_t epoch;        /* the store's epoch after */
	int64_t files;        /* entries verified */
	int drill;            /* it is a drill */
	int resumed;          /* an earlier run was continued */
	int open;             /* stopped after fencing: resume or abort */
	int used_replica;
	int no_fence;     /* promoted without a fence command */
	int validated;    /* -1 no --validate, 0 it failed, 1 it passed */
	int switched;     /* the target holds the promoted tree */
	int rolled_back;  /* abort: the switch was undone */
	int exact;        /* "given_up" is from --failed-at, not a bound */
	int heartbeat;    /* "data_time" is the --heartbeat file's */
	int quick_verify; /* --verify quick was in effect */
	int has_check;    /* a --check probe was in effect */
	int refused_code; /* a refusal's rd_code (RD_EPERM: another
	                     standby holds the cluster; RD_EUNAVAIL: etcd
	                     unreachable), 0 for the others */
	double rto;       /* start to healthy, seconds */
	double rpo;       /* age of the snapshot at the start, seconds */
	double data_time; /* newest data of the snapshot (unix time) */
	double failed_at; /* when the primary failed, 0 unknown */
	double given_up;  /* seconds of changes given up (or at most) */
	double step_seconds[RD_PROMOTE_NSTEPS];
	char target[1024];
	char aside[1100];   /* where the old target went, or "" */
	char kept[1100];    /* a copy kept for inspection, or "" */
	char message[4096]; /* why it was refused or failed */
	/*
	 * A switchover: the label the final snapshot had to carry, when
	 * --primary-stop began (unix time), and the writes' unavailability:
	 * from then until the service was up (the check step's end).
	 */
	int switchover;
	char final_label[128];
	double stop_at;
	double unavailable;
};

/*
 * Promote snapshot "opts->version" of the store (opened for writing;
 * for a dry run, reading is enough) to the directory "target", or
 * rehearse it (opts->drill).  With "opts->resume" continue the
 * unfinished promotion or drill ("target" NULL) with the options in its
 * journal; "opts->version" then falls back to that snapshot.  A rerun of
 * the same command with the same options continues it too.  Returns 0
 * when done, 1 when refused or stopped safely ("res->message" says why;
 * the target is untouched unless the switch happened), -1 on error (the
 * journal keeps the promotion unfinished: resume it).
 */
int rd_promote(struct rd_store *st, const char *target,
    const struct rd_promote_opts *opts, struct rd_promote_result *res,
    struct rd_err *err);

/*
 * Undo the unfinished promotion or drill ("target" NULL: whichever is
 * unfinished; else it must be into "target").  Before the switch its
 * staging tree goes (a warm replica goes back) and the epoch goes back.
 * After the switch it rolls back: the stop command of the promotion
 * runs, the promoted tree is kept aside, the old target comes back, the
 * store becomes a standby again and the epoch goes back.  A drill's
 * trees go.  Returns 0, 1 if there is nothing to abort or the stop
 * command failed, -1.
 */
int rd_promote_abort(struct rd_store *st, const char *target,
    struct rd_promote_result *res, struct rd_err *err);

/*
 * Remove the kept tree "path" (a TARGET.pre-promote-*, TARGET.rejected-*
 * or failed drill tree that the journal lists as kept), and record that
 * it is gone.  A tree that an unfinished promotion may still need is
 * refused.  Returns 0, 1 (refused: "why" says why), or -1.
 */
int rd_promote_tree_remove(struct rd_store *st, const char *path, char *why,
    size_t whylen, struct rd_err *err);

struct rd_promotion_step {
	char name[16];
	double started, finished;
	char outcome[16];
	char detail[512];
};

struct rd_promotion {
	int64_t id;
	int drill;
	int64_t version;
	char target[1024];
	double started, finished;
	char state[16]; /* running, done, failed, aborted */
	int64_t epoch;
	int has_rto;
	double rto, rpo;
	int validated;    /* -1 not run, 0 failed, 1 passed */
	double failed_at; /* 0 unknown */
	double given_up;  /* -1 not recorded */
	char message[4096];
	char aside[1100];
	int nsteps;
	struct rd_promotion_step steps[RD_PROMOTE_NSTEPS];
};

/* Call "fn" for every promotion and drill, oldest first.  Returns 0,
 * the callback's non-zero value, or -1. */
int rd_promote_history(struct rd_store *st,
    int (*fn)(void *arg, const struct rd_promotion *p), void *arg,
    struct rd_err *err);

/* What the journal holds besides the steps of a promotion. */
enum rd_promote_item_kind {
	RD_PITEM_OPTION, /* "name" = "value", as given */
	RD_PITEM_EVENT,  /* "name" (fall-back, roll-back, ...): "value" */
	RD_PITEM_TREE    /* "name" is the path, "value" the kind */
};

struct rd_promote_item {
	int kind;
	int64_t promotion;
	const char *name;
	const char *value;
	double time;       /* events, trees: when */
	int64_t snapshot;  /* trees: the snapshot it holds, 0 none */
	const char *state; /* trees: planned, kept or removed */
	int exists;        /* trees: the path exists now */
};

/*
 * Call "fn" for the options, then the events, then the kept trees of
 * promotion "id" (0: every promotion's kept trees only), in order.
 * Strings are borrowed for the call.  Returns 0, the callback's non-zero
 * value, or -1.
 */
int rd_promote_items(struct rd_store *st, int64_t id,
    int (*fn)(void *arg, const struct rd_promote_item *it), void *arg,
    struct rd_err *err);

/* Name of step "n" (0 preflight .. RD_PROMOTE_NSTEPS - 1 record). */
const char *rd_promote_step_name(int n);

/*
 * Parse a point in time: "@SECONDS" (Unix time, with a fraction),
 * "YYYY-MM-DDTHH:MM:SS[.frac]" followed by "Z" or "+HH:MM"/"-HH:MM",
 * or without a zone in local time (a blank may replace the "T").
 * Returns 0 with "*out" set, or -1 with RD_EUSAGE.
 */
int rd_time_parse(const char *s, double *out, struct rd_err *err);

/*
 * Check the tree "dir" against snapshot "id": every entry's type, mode,
 * size, modification time and symlink target, and with "quick" 0 every
 * file's SHA-256; no entry more or less.  Returns 0 if it matches, 1 if
 * not ("why" says where), -1 on error.
 */
int rd_tree_verify(struct rd_store *st, int64_t id, const char *dir, int quick,
    int64_t *entries, char *why, size_t whylen, struct rd_err *err);

#endif /* REDUND_H */
