/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snap_int.h: what the files of a snapshot (snap.c, walk.c, workers.c,
 * record.c, exclude.c, scratch.c) share inside librd: the run's context,
 * a job for the workers, and the functions each file offers the others.
 */
#ifndef SNAP_INT_H
#define SNAP_INT_H

#include <sys/stat.h>
#include <pthread.h>
#include <stdint.h>

#include "rd_int.h"

#define SMALL_MAX (1024 * 1024) /* read whole, store full */

#define KEPT    "kept its previous version"
#define MISSING "not in this snapshot"

/* The newest snapshot's view of one path (a cursor row, or a job's). */
struct prev {
	int64_t id;
	int type;
	unsigned mode;
	int64_t uid, gid, size, mtime, ino, ctime, rdev, link;
	int unstable;
	int has_sha;
	unsigned char sha[RD_HASH_LEN];
	char *target;
	struct rdi_buf xa; /* extended attributes (xattr.c) */
};

struct meta {
	unsigned mode;
	int64_t uid, gid, size, mtime, ino, ctime, rdev, link;
};

enum job_status { JOB_OK, JOB_SKIP, JOB_FAIL };

struct job {
	struct job *next;
	char *path; /* catalog path of a file */
	int extra;  /* from the bracket's scratch directory, not the source */
	int may_change;    /* read once, stored as read: see rd_snap_opts */
	struct rdi_buf xa; /* its extended attributes, read by the walk */
	int has_prev;
	struct prev prev;
	/* signature of the previous content, when a delta may be made */
	int use_sig;
	int maybe_dup; /* a stored content has this size */
	char oldsig_pack[33];
	int64_t oldsig_off;
	int prev_depth;
	/* results */
	enum job_status status;
	struct rd_err err;
	struct meta m; /* as read */
	unsigned char sha[RD_HASH_LEN];
	int64_t bytes_read;
	int unstable;
	int stored; /* a new content object was written */
	int kind, codec, depth;
	unsigned char base[RD_HASH_LEN];
	int64_t pack_id;
	char pack_name[33];
	int64_t off, len;
	int sig_stored;
	int64_t sig_block, sig_off, sig_len;
};

/*
 * A set of SHA-256 values stored by this run: a hash table of at most
 * SET_RECENT slots in front of a sorted array that it is merged into
 * when three quarters full, so that a run of a million contents holds
 * 16 MiB of keys (and never twice that while a table grows).
 */
/*
 * Keys are the first 16 bytes of a SHA-256: two contents of one run that
 * share them are as likely as a SHA-256 collision of 128 bits, and half
 * the key keeps a first snapshot of millions of files small.
 */
#define SET_KEY    16
#define SET_RECENT 65536

struct shaset {
	unsigned char *slots;  /* SET_RECENT * SET_KEY, all-zero = empty */
	size_t n;              /* keys in "slots" */
	unsigned char *sorted; /* "nsorted" keys in memcmp order */
	size_t nsorted, cap_sorted;
};

/* workers.c: whether "sha" is in "s"; add it (when it is not) */
int snap_shaset_has(const struct shaset *s, const unsigned char *sha);
int snap_shaset_add(struct shaset *s, const unsigned char *sha,
    struct rd_err *err);

struct packrec {
	int64_t id;
	char name[33];
	int64_t size;
	int published; /* in packs/, else sealed in tmp/ */
};

/* An exclude pattern, split by split_pattern(). */
struct xpat {
	const char *pat; /* without leading and trailing '/' */
	int anchored;    /* matched against the path, else the name */
	int dir_only;
};

struct ctx {
	struct rd_store *st;
	const struct rd_snap_opts *opts;
	/* follow mode: walk only the changed directories (NULL: all) */
	const struct rdi_dirty *sel;
	int need_full; /* the walk met what only a whole walk records */
	int rootfd;
	int64_t snap_id;
	int chain_max;
	int split; /* zlib: compress a large file on two threads */

	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_main;
	struct job *q_head, *q_tail;
	int q_len;
	struct job *r_head, *r_tail;
	int inflight;
	int stop;
	int64_t next_pack;
	struct packrec *packs; /* finished packs, under mu */
	size_t npacks, cap_packs;
	sqlite3 *ldb; /* dedup look-ups, under mu */
	sqlite3_stmt *lookup;
	struct shaset set;

	/* calling thread only */
	sqlite3 *rdb;
	sqlite3_stmt *cur; /* its "path >= ?" moves it past a subtree */
	int cur_valid;
	struct rdi_buf cur_path;
	struct prev cur_prev;
	/* rows the cursor read: files, and bytes of regular files */
	int64_t cur_files, cur_bytes;
	sqlite3_stmt *ins_entry, *close_entry, *touch_entry, *ins_content,
	    *ins_sig, *ins_pack, *get_sig, *size_seen, *ins_problem;
	/* packs of this run in the catalog: [id - first_pack], 0 or 1 */
	unsigned char *known_packs;
	size_t cap_known;
	int64_t first_pack;
	struct rd_snapinfo info;
	double started;
	double last_progress;
	struct xpat *xp; /* exclude patterns, "nx" of them */
	size_t nx;
	char *xbuf;      /* their text */
	struct xpat *mp; /* may-change patterns, "nm" of them */
	size_t nm;
	char *mbuf;
	dev_t root_dev;
	int xa_flags; /* RDI_XA_* from the options */
	/* the bracketing co-process (rdsnap create --bracket), or NULL */
	struct rdi_bracket *bk;
	int xfd;             /* its scratch directory, once it is done */
	sqlite3_stmt *xfind; /* what the new snapshot holds at a path */
	int64_t nextra;      /* files it added */
};

struct worker {
	pthread_t thread;
	struct ctx *c;
	int started;
	struct rdi_packw pw;
	int pw_open;
	struct rdi_zenc *zenc;
	struct rdi_packcache *pc;
	unsigned char *buf;    /* SMALL_MAX + 1 */
	struct rdi_buf cbuf;   /* compressed small file */
	struct rdi_buf sigbuf; /* signature being made */
	struct rdi_buf oldsig; /* signature of the previous version */
};

static inline int64_t
ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/*
 * The hard-link identity of a file with more than one name: its inode
 * number, mixed with its device's, never 0.
 */
static inline int64_t
link_key(const struct stat *sb)
{
	uint64_t k;

	if (!S_ISREG(sb->st_mode) || sb->st_nlink < 2)
		return 0;
	k = (uint64_t)sb->st_ino ^
	    ((uint64_t)sb->st_dev * UINT64_C(0x9E3779B97F4A7C15));
	k &= UINT64_C(0x7fffffffffffffff);
	return k != 0 ? (int64_t)k : 1;
}

static inline void
meta_from_stat(struct meta *m, const struct stat *sb)
{
	m->mode = sb->st_mode & 07777;
	m->uid = sb->st_uid;
	m->gid = sb->st_gid;
	m->size = sb->st_size;
	m->mtime = ns(&sb->st_mtim);
	m->ino = (int64_t)sb->st_ino;
	m->ctime = ns(&sb->st_ctim);
	m->rdev = S_ISCHR(sb->st_mode) || S_ISBLK(sb->st_mode)
	    ? (int64_t)sb->st_rdev
	    : 0;
	m->link = link_key(sb);
}

struct dent {
	char *name;
	int isdir;
};

/* snap.c: taking a snapshot */
void snap_notice(struct ctx *c, const char *fmt, ...) RD_PRINTF(2, 3);

/* workers.c: the workers and their queue */
int snap_record_pack(struct ctx *c, const struct rdi_packw *pw, int64_t size,
    struct rd_err *err);
void snap_prev_release(struct prev *p);
void snap_job_free(struct job *j);
void snap_progress(struct ctx *c);
int snap_submit(struct ctx *c, struct job *j, struct rd_err *err);
int snap_wait_all(struct ctx *c, struct rd_err *err);
int snap_workers_start(struct ctx *c, struct worker **wp, int *nwp,
    struct rd_err *err);
void snap_workers_stop(struct ctx *c, struct worker *w, int nw);
void snap_workers_free(struct ctx *c, struct worker *w, int nw);

/* record.c: catalog writes (calling thread) */
int snap_close_entry(struct ctx *c, int64_t id, int gone, struct rd_err *err);
int snap_insert_entry(struct ctx *c, const char *path, size_t plen, int type,
    const struct meta *m, const unsigned char *sha, const char *target,
    const struct rdi_buf *xa, int unstable, struct rd_err *err);
int snap_meta_equal(const struct prev *p, const struct meta *m);
int snap_xattrs_equal(const struct prev *p, const struct rdi_buf *xa);
void snap_count_kept(struct ctx *c, const struct prev *p);
int snap_problem(struct ctx *c, const char *key, size_t klen, const char *what,
    const char *reason, struct rd_err *err);
int snap_keep_below(struct ctx *c, const char *key, size_t klen,
    const char **what, struct rd_err *err);
int snap_unreadable(struct ctx *c, const char *key, size_t klen, int isdir,
    const char *reason, struct rd_err *err);
int snap_finish_job(struct ctx *c, struct job *j, struct rd_err *err);
int snap_prepare_all(struct ctx *c, struct rd_err *err);
void snap_finalize_all(struct ctx *c);
int snap_new_pending(struct ctx *c, const char *source, struct rd_err *err);
int snap_complete(struct ctx *c, double seconds, struct rd_err *err);
int snap_seal_packs(struct ctx *c, struct worker *w, int nw,
    struct rd_err *err);

/* walk.c: the walk and the cursor */
int snap_cursor_next(struct ctx *c, struct rd_err *err);
int snap_cursor_skip(struct ctx *c, const char *key, size_t klen,
    struct rd_err *err);
int snap_cursor_seek(struct ctx *c, const char *key, size_t klen,
    struct prev *out, struct rd_err *err);
void snap_dents_free(struct dent *v, size_t n);
int snap_read_names(int dfd, const char *what, struct dent **out, size_t *nout,
    struct rd_err *err);
int snap_walk_source(struct ctx *c, int rootfd, const struct stat *sb,
    struct rdi_buf *path, struct rd_err *err);

/* exclude.c: patterns */
int snap_compile_excludes(struct ctx *c, struct rd_err *err);
int snap_compile_patterns(const char *const *pats, int n, struct xpat **xp,
    char **buf, size_t *nx, struct rd_err *err);
int snap_matches(const struct xpat *xp, size_t nx, const char *name,
    const char *path, int isdir);
int snap_excluded(const struct ctx *c, const char *name, const char *path,
    int isdir);

/*
 * glob.c: ls and restore patterns.  "is_pattern": 1 if "s" has '*', '?'
 * or '['.  "init" keeps "pattern" (borrowed) and sets "literal" to the
 * directories before its first component with a pattern character (NULL
 * if none), to narrow a query.  "match" takes catalog paths (a
 * directory's ends in '/') in path order: 1 if the entry is selected
 * (the pattern matches it with FNM_PATHNAME, or it is below a selected
 * directory), 0 if not, -1.
 */
struct snap_glob {
	const char *pattern;
	char *literal;
	struct rdi_buf dir; /* the last selected directory, with '/' */
};
int snap_glob_is_pattern(const char *s);
int snap_glob_init(struct snap_glob *g, const char *pattern,
    struct rd_err *err);
int snap_glob_match(struct snap_glob *g, const char *path, size_t len,
    struct rd_err *err);
void snap_glob_release(struct snap_glob *g);

/* scratch.c: the bracket's files */
int snap_bracket_files(struct ctx *c, struct rd_err *err);

#endif /* SNAP_INT_H */
