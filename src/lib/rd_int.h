/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rd_int.h: declarations shared inside librd only (the rdi_ prefix).
 * Tools never include this file.
 */
#ifndef RD_INT_H
#define RD_INT_H

#include <sys/types.h>
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <stdint.h>

#include "rd_probe.h"
#include "redund.h"

/* ------------------------------------------------------------------ */
/* err.c */

/*
 * Format a notice (up to 1023 bytes) and give it to "fn" with "arg";
 * nothing when "fn" is NULL.  The options' notice callbacks use it.
 */
void rdi_vnotice(void (*fn)(void *arg, const char *msg), void *arg,
    const char *fmt, va_list ap) RD_PRINTF(3, 0);

/* ------------------------------------------------------------------ */
/* fsio.c: careful I/O */

/* Write all of "buf", looping on short writes and EINTR. */
int rdi_write_all(int fd, const void *buf, size_t len, const char *what,
    struct rd_err *err);
/* pwrite all of "buf" at "off". */
int rdi_pwrite_all(int fd, const void *buf, size_t len, off_t off,
    const char *what, struct rd_err *err);
/*
 * Read up to "len" bytes, looping until "len" or end of file.  Returns the
 * number read (short only at end of file), or -1.
 */
ssize_t rdi_read_full(int fd, void *buf, size_t len, const char *what,
    struct rd_err *err);
/* pread exactly "len" bytes at "off"; a short read is RD_ECORRUPT. */
int rdi_pread_exact(int fd, void *buf, size_t len, off_t off, const char *what,
    struct rd_err *err);
/* fsync a directory by fd or by path. */
int rdi_fsync_dirfd(int dfd, const char *what, struct rd_err *err);
int rdi_fsync_dir(const char *path, struct rd_err *err);
/* close() that reports failure. */
int rdi_close(int fd, const char *what, struct rd_err *err);

/*
 * 1 if "path" is a safe relative path for a store entry: not empty, not
 * absolute, no "." or ".." component, no empty component, no NUL, and not
 * longer than PATH_MAX.  Else 0.
 */
int rdi_path_safe(const char *path);

/*
 * Open the parent directory of catalog path "path" (a directory's path
 * ends in '/') below the directory "rootfd", one component at a time and
 * never through a symlink; copy the last component, without a trailing
 * '/', to "name" (NAME_MAX + 1 bytes).  Returns the fd, or -1.
 */
int rdi_open_parent(int rootfd, const char *path, char *name,
    struct rd_err *err);

/*
 * A directory stream on a duplicate of the directory fd "fd", from its
 * first entry ("what" names it in errors); close it with closedir(),
 * which leaves "fd" open.  Returns NULL with "err" set on failure.
 */
DIR *rdi_opendir_fd(int fd, const char *what, struct rd_err *err);

/* 1 if directory "fd" has entries besides . and .., 0 if not, -1. */
int rdi_dir_has_entries(int fd, const char *what, struct rd_err *err);

/* Little-endian integers in byte buffers. */
void rdi_put_le64(unsigned char *p, uint64_t v);
uint64_t rdi_get_le64(const unsigned char *p);
void rdi_put_le32(unsigned char *p, uint32_t v);
uint32_t rdi_get_le32(const unsigned char *p);

/* Nanoseconds since the epoch as a struct timespec. */
struct timespec rdi_ns_to_timespec(int64_t ns);

/* A sink receives produced bytes; returns 0 or -1 with "err" set. */
typedef int (*rdi_sink_fn)(void *arg, const void *buf, size_t len,
    struct rd_err *err);

/* A growable byte buffer. */
struct rdi_buf {
	unsigned char *data;
	size_t len, cap;
};
int rdi_buf_append(struct rdi_buf *b, const void *p, size_t n,
    struct rd_err *err);
void rdi_buf_release(struct rdi_buf *b);
/* rdi_sink_fn appending to a struct rdi_buf. */
int rdi_buf_sink(void *arg, const void *buf, size_t len, struct rd_err *err);
/*
 * Remove "name" in the directory "dfd", and everything below it, never
 * through a symlink; "what" names it in errors.  Returns 0 or -1.
 */
int rdi_rmtree(int dfd, const char *name, const char *what, struct rd_err *err);
/* rdi_sink_fn that drops the bytes (a content read only to be checked). */
int rdi_null_sink(void *arg, const void *buf, size_t len, struct rd_err *err);

/*
 * Extended attributes (xattr.c), ACLs and file capabilities among them,
 * in the canonical encoding of an entry's "xattrs" column: see xattr.c.
 * RDI_XATTRS_MAX bounds a whole encoding.
 */
#define RDI_XATTRS_MAX (1 << 20)
/* The longest catalog path (each name at most NAME_MAX bytes). */
#define RDI_PATH_MAX     (1 << 20)
#define RDI_XA_NO_XATTRS 0x1 /* leave out all but the ACLs */
#define RDI_XA_NO_ACLS   0x2 /* leave out system.posix_acl_* */
/* 1 if "name" is system.posix_acl_access or _default. */
int rdi_xattr_is_acl(const char *name);
/* 1 if "blob" is a valid, canonical encoding (empty is), else 0. */
int rdi_xattrs_valid(const unsigned char *blob, size_t len);
/*
 * The attribute at "*pos" of a valid encoding: 1 (and "*pos" moves past
 * it), 0 at the end, -1 if malformed.
 */
int rdi_xattr_next(const unsigned char *blob, size_t len, size_t *pos,
    const char **name, const unsigned char **val, size_t *vlen);
/*
 * Read the attributes of "name" in directory "dfd" (never following it)
 * into "out" (emptied first), leaving out what "flags" (RDI_XA_*) says;
 * "what" names the entry in errors.  Returns 0 or -1.
 */
int rdi_xattrs_read(int dfd, const char *name, int flags, const char *what,
    struct rdi_buf *out, struct rd_err *err);
/*
 * Set every attribute of the encoding on the open file "fd", or (fd -1)
 * on "name" in "dfd" (never following it); each that cannot be set is
 * passed to "failed" with its errno.  Returns the number that failed.
 */
/*
 * Remove from the open file "fd" every attribute the encoding lacks (as
 * far as the caller may: best effort, what stays is seen by a verify).
 */
void rdi_xattrs_prune(int fd, const unsigned char *blob, size_t len);
int rdi_xattrs_apply(int fd, int dfd, const char *name,
    const unsigned char *blob, size_t len,
    void (*failed)(void *arg, const char *attr, int errnum), void *arg);

/*
 * The metadata of an entry made by name (a symlink, fifo or device node,
 * never followed), in the order that keeps each: owner (when "chown"),
 * mode (when "mode" is not -1; chown clears setuid), the attributes
 * (after chown, which clears security.capability; one refused goes to
 * "failed"), then the mtime, the atime left as it is.
 */
struct rdi_entry_meta {
	int chown;
	int64_t uid, gid;
	int mode;
	const unsigned char *xa;
	size_t xalen;
	int64_t mtime; /* ns */
	void (*failed)(void *arg, const char *attr, int errnum);
	void *arg;
};
/*
 * Set "m" on "name" in "dfd".  Returns 0, or -1 with errno set and
 * "*step" naming what failed ("chown", "chmod", "set times of").
 */
int rdi_entry_meta_at(int dfd, const char *name, const struct rdi_entry_meta *m,
    const char **step);

/*
 * A sink that writes a file from offset 0, leaving holes where whole
 * blocks of RDI_SPARSE_BLOCK bytes are zero, whatever the boundaries of
 * the pieces it is given ("cp --sparse=always" does the same): a block a
 * piece leaves unfinished is kept until the next completes it.  Call
 * rdi_sparse_flush() after the last piece, then ftruncate() the file to
 * its size (a trailing hole).
 */
#define RDI_SPARSE_BLOCK 4096
struct rdi_sparse {
	int fd;
	off_t off; /* where "part" begins */
	const char *path;
	unsigned char part[RDI_SPARSE_BLOCK];
	size_t plen;
};
void rdi_sparse_init(struct rdi_sparse *ws, int fd, const char *path);
int rdi_sparse_write(void *arg, const void *buf, size_t len,
    struct rd_err *err);
int rdi_sparse_flush(struct rdi_sparse *ws, struct rd_err *err);

/*
 * A reader of a file from offset 0 that asks the file system where its
 * holes are (SEEK_DATA/SEEK_HOLE) and gives zeros for them without
 * reading: the bytes are the file's logical bytes all the same.  A file
 * system without the calls is read as usual.
 */
struct rdi_hreader {
	int fd;
	off_t pos;          /* the next byte to give (and read()'s offset) */
	off_t data_end;     /* known data from pos up to here */
	off_t hole_end;     /* or a known hole up to here */
	int at_end;         /* no data known past pos: read() to see */
	int seek;           /* a probe moved the offset: back to pos */
	int plain;          /* no SEEK_DATA here: read() as usual */
	int64_t hole_bytes; /* zeros given for holes */
};
void rdi_hreader_init(struct rdi_hreader *h, int fd);
/*
 * Fill "buf" with up to "len" bytes ("what" names the file in errors):
 * fewer only at the end of the file.  Returns how many, or -1.
 */
ssize_t rdi_hread(struct rdi_hreader *h, void *buf, size_t len,
    const char *what, struct rd_err *err);

/* Random bytes from the CSPRNG. */
int rdi_random(void *buf, size_t len, struct rd_err *err);
/* A random RFC 4122 version 4 UUID, as 36 characters plus NUL. */
int rdi_uuid(char out[37], struct rd_err *err);

/* ------------------------------------------------------------------ */
/* hash.c: SHA-256 (OpenSSL EVP) */

struct rdi_sha256 {
	void *ctx; /* EVP_MD_CTX */
};
/* The value of hex digit "c" (either case), or -1. */
int rdi_hexval(int c);
int rdi_sha256_init(struct rdi_sha256 *h, struct rd_err *err);
int rdi_sha256_update(struct rdi_sha256 *h, const void *buf, size_t len,
    struct rd_err *err);
int rdi_sha256_final(struct rdi_sha256 *h, unsigned char out[RD_HASH_LEN],
    struct rd_err *err);
void rdi_sha256_release(struct rdi_sha256 *h);

/* HMAC-SHA256 (EVP_MAC). */
struct rdi_hmac {
	void *ctx; /* EVP_MAC_CTX */
};
int rdi_hmac_init(struct rdi_hmac *m, const unsigned char *key, size_t keylen,
    struct rd_err *err);
int rdi_hmac_update(struct rdi_hmac *m, const void *buf, size_t len,
    struct rd_err *err);
int rdi_hmac_final(struct rdi_hmac *m, unsigned char out[RD_HASH_LEN],
    struct rd_err *err);
void rdi_hmac_release(struct rdi_hmac *m);
/* Constant-time comparison: 1 if equal. */
int rdi_mac_equal(const unsigned char *a, const unsigned char *b, size_t len);

/* ------------------------------------------------------------------ */
/* zio.c: compression codecs, streaming through sinks */

struct rdi_zenc;
struct rdi_zdec;

/* New compressor for "codec" (zlib or zstd). */
int rdi_zenc_new(int codec, struct rdi_zenc **out, struct rd_err *err);
/* Compress "len" bytes, passing output to "sink". */
int rdi_zenc_write(struct rdi_zenc *z, const void *buf, size_t len,
    rdi_sink_fn sink, void *arg, struct rd_err *err);
/* Flush the end of the stream to "sink"; the compressor can then be reset. */
int rdi_zenc_finish(struct rdi_zenc *z, rdi_sink_fn sink, void *arg,
    struct rd_err *err);
/* Make a finished compressor ready for a new stream. */
int rdi_zenc_reset(struct rdi_zenc *z, struct rd_err *err);
/*
 * Start a new stream that zlib compresses in 1 MiB blocks on two threads
 * (this one and a helper the compressor keeps): one zlib stream still,
 * a little larger.  Returns 1, or 0 for another codec, which is left as
 * it was; the next rdi_zenc_reset() goes back to one thread.
 */
int rdi_zenc_split(struct rdi_zenc *z, struct rd_err *err);
void rdi_zenc_free(struct rdi_zenc *z);

/* New decompressor for "codec" (raw passes bytes through). */
int rdi_zdec_new(int codec, struct rdi_zdec **out, struct rd_err *err);
int rdi_zdec_write(struct rdi_zdec *z, const void *buf, size_t len,
    rdi_sink_fn sink, void *arg, struct rd_err *err);
/*
 * Pull-style decoding: decode from "*in" ("*inlen" bytes; both advanced
 * past what was used) into "out", at most "cap" bytes, setting
 * "*produced" (0 when more input is needed).  Call it again with no new
 * input while it fills "out"; after the last input, rdi_zdec_finish().
 */
int rdi_zdec_pull(struct rdi_zdec *z, const unsigned char **in, size_t *inlen,
    unsigned char *out, size_t cap, size_t *produced, struct rd_err *err);
/* End of input: a stream that did not end is RD_ECORRUPT. */
int rdi_zdec_finish(struct rdi_zdec *z, rdi_sink_fn sink, void *arg,
    struct rd_err *err);
/* Make a decompressor ready for a new stream (after success or failure). */
int rdi_zdec_reset(struct rdi_zdec *z, struct rd_err *err);
/*
 * Skip the codec's own check of the decompressed bytes (zlib's Adler-32),
 * for callers that check them another way: pack reads check a CRC-32 of
 * the stored payload, and contents are checked against their SHA-256.
 * Holds across resets.
 */
int rdi_zdec_skip_check(struct rdi_zdec *z, struct rd_err *err);
void rdi_zdec_free(struct rdi_zdec *z);

/* ------------------------------------------------------------------ */
/* delta.c: librsync signatures, deltas and patches, streaming */

/* Block length for the signature of a file of "size" bytes. */
size_t rdi_sig_block_len(int64_t size);

struct rdi_rsjob;

/* Signature generation: input is the file, output the signature. */
int rdi_sig_new(size_t block_len, struct rdi_rsjob **out, struct rd_err *err);
/* Delta: loads the signature in "sig" (copied), input the new file. */
int rdi_delta_new(const void *sig, size_t siglen, struct rdi_rsjob **out,
    struct rd_err *err);
/* Patch: reads the basis with pread on "basis_fd"; input the delta. */
int rdi_patch_new(int basis_fd, struct rdi_rsjob **out, struct rd_err *err);
/*
 * A patch whose basis comes from "fn": "*len" bytes at most at "pos",
 * into "*buf" or at a pointer it stores there; "*len" 0 past the end.
 * An error it returns (-1) ends the patch with that error as it is.
 */
typedef int (*rdi_basis_fn)(void *arg, int64_t pos, size_t *len, void **buf,
    struct rd_err *err);
int rdi_patch_new_reader(rdi_basis_fn fn, void *arg, struct rdi_rsjob **out,
    struct rd_err *err);
/* A signature made by rdi_sig_new(), parsed in place. */
struct rdi_sigview {
	size_t block_len, strong_len;
	int64_t nblocks;
	const unsigned char *sums; /* per block: 4-byte weak, strong_len */
};
int rdi_sig_view(const void *sig, size_t len, struct rdi_sigview *v,
    struct rd_err *err);
/*
 * A sink that reads a librsync delta and, with "apply", writes its
 * literals into "fd" (holding the base, "base" bytes) at the offsets
 * they take in the output; "refused" when a command copies from
 * anywhere but where it writes or past the base's end, or the output
 * would pass "size".  rdi_inplace_fits() says whether the delta was
 * whole and fitted.
 */
struct rdi_inplace {
	int fd, apply;
	int64_t size, base, pos, lit_left, written;
	int started, ended, refused;
	size_t have, need;
	unsigned char cmd[17];
};
void rdi_inplace_init(struct rdi_inplace *ip, int fd, int64_t size,
    int64_t base);
int rdi_inplace_sink(void *arg, const void *buf, size_t len,
    struct rd_err *err);
int rdi_inplace_fits(const struct rdi_inplace *ip);

#define RDI_SIG_STRONG 12 /* bytes of BLAKE2 per block in a signature */
/*
 * sigpar.c: a signature made on two threads, byte for byte the one
 * rdi_sig_new's job makes.  For each buffer: rdi_sigpar_start() gives the
 * first "share" percent of its blocks to a helper thread; the caller may
 * then read "buf" (not change it) for work of its own, and
 * rdi_sigpar_end() sums the rest and appends the buffer's sums to "sig"
 * (the header first).  A buffer is whole blocks but for the last ("eof").
 */
struct rdi_sigpar;
int rdi_sigpar_new(size_t block_len, struct rdi_sigpar **out,
    struct rd_err *err);
int rdi_sigpar_start(struct rdi_sigpar *sp, const void *buf, size_t len,
    int eof, unsigned share, struct rd_err *err);
int rdi_sigpar_end(struct rdi_sigpar *sp, const void *buf, size_t len,
    struct rdi_buf *sig, struct rd_err *err);
void rdi_sigpar_free(struct rdi_sigpar *sp);

/*
 * An aligned delta: the cheap path for a file changed in place or
 * appended to, in one pass over it from "hr" (at its start; "what" names
 * it in errors).  Each block of the old signature's length is summed as
 * it is read; a run of blocks whose sums equal "old"'s at the same index
 * becomes a copy, any other block a literal of the bytes just read.  No
 * rolling search, and the delta, the SHA-256 ("sha") and the new
 * signature ("sig", reset first) are all of the same bytes read once, so
 * a file written to meanwhile still gives a delta of what was read.
 * "buf" of "buflen" bytes (a multiple of the block length) is the read
 * buffer.  "share" percent of the sums are made on a helper thread while
 * this one hashes (rdi_sigpar_start; 0: none).  The delta goes to "sink";
 * "*size" gets the bytes read.  Returns 1; 0 as soon as the literals pass
 * "max_literal" bytes (the delta does not pay: what was sunk is to be
 * dropped); -1.
 */
int rdi_delta_aligned(const struct rdi_sigview *old, struct rdi_hreader *hr,
    const char *what, unsigned char *buf, size_t buflen, unsigned share,
    int64_t max_literal, struct rdi_buf *sig, unsigned char sha[RD_HASH_LEN],
    int64_t *size, rdi_sink_fn sink, void *arg, struct rd_err *err);

int rdi_rsjob_write(struct rdi_rsjob *j, const void *buf, size_t len,
    rdi_sink_fn sink, void *arg, struct rd_err *err);
int rdi_rsjob_finish(struct rdi_rsjob *j, rdi_sink_fn sink, void *arg,
    struct rd_err *err);
void rdi_rsjob_free(struct rdi_rsjob *j);

/* ------------------------------------------------------------------ */
/* store.c and catalog.c: the open store and its SQLite catalog */

#include <sqlite3.h>

#define RD_FORMAT 4 /* catalog schema version (user_version) */

struct rd_store {
	char *path;
	int dfd; /* the store directory */
	int lockfd;
	int mode; /* RD_OPEN_READ or RD_OPEN_WRITE */
	sqlite3 *db;
	struct rd_store_info info;
	int schema_ok; /* its schema was found to be one redund made */
};

/*
 * Writers only: 1 if no reader has the store open, and then keep readers
 * out (they wait) until rdi_store_readers_release(); else 0.  Pack files
 * that a reader could still use are removed only in between.
 */
int rdi_store_no_readers(struct rd_store *st);
void rdi_store_readers_release(struct rd_store *st);

/*
 * Call "fn" for each pack file in STORE/packs (32 hex digits and ".pack",
 * a regular file) with the directory fd, its file name, whether the
 * catalog names it, and its size.  A non-zero return from "fn" stops the
 * walk and is returned.  Returns 0, that value, or -1.
 */
int rdi_pack_files(struct rd_store *st,
    int (*fn)(void *arg, int pfd, const char *file, int known, int64_t size,
        struct rd_err *err),
    void *arg, struct rd_err *err);

/* Open "STORE/catalog.db" (which must exist) on a new connection. */
int rdi_db_open(struct rd_store *st, int readonly, sqlite3 **out,
    struct rd_err *err);
/* Create the schema in an empty catalog and fill meta.  */
int rdi_db_create(sqlite3 *db, const struct rd_init_opts *opts,
    struct rd_err *err);
/* Check the schema version and load "st->info". */
int rdi_db_load(struct rd_store *st, struct rd_err *err);

/*
 * Let another writer in: drop the writer's lock of "st" (open with
 * RD_OPEN_WRITE) until rdi_store_relock() takes it again, within
 * "wait_seconds", and reloads what the catalog says of the store
 * (RD_EBUSY if another writer keeps it).  Returns 0 or -1.
 */
void rdi_store_unlock(struct rd_store *st);
int rdi_store_relock(struct rd_store *st, double wait_seconds,
    struct rd_err *err);
/* Map the connection's last error to "err" with "what" as context. */
int rdi_db_err(sqlite3 *db, const char *what, struct rd_err *err);
int rdi_db_exec(sqlite3 *db, const char *sql, struct rd_err *err);
int rdi_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out,
    struct rd_err *err);
/* Step: 1 for a row, 0 when done, -1 on error. */
int rdi_db_step(sqlite3 *db, sqlite3_stmt *s, struct rd_err *err);
/*
 * Prepare "sql" into "*out" and bind one argument per letter of "types":
 * 'i' an int64_t, 'd' a double, 't' a string (NULL binds null, the text
 * is copied), 'h' a hash of RD_HASH_LEN bytes (NULL binds null), 'b' a
 * blob as a pointer and a size_t (a NULL pointer binds null), 'n' null
 * (takes no argument).  Blobs are copied.  Returns 0, or -1 with "*out" NULL.
 */
int rdi_db_query(sqlite3 *db, sqlite3_stmt **out, struct rd_err *err,
    const char *sql, const char *types, ...);
/* Reset the prepared "q" and bind new arguments as rdi_db_query does. */
int rdi_db_bind(sqlite3 *db, sqlite3_stmt *q, struct rd_err *err,
    const char *types, ...);
/* rdi_db_query, stepped to its end and finalized.  Returns 0 or -1. */
int rdi_db_run(sqlite3 *db, struct rd_err *err, const char *sql,
    const char *types, ...);
/*
 * Check the catalog rows that begin or end after snapshot "since", up to
 * "newest", against the invariants that make a snapshot restorable (see
 * rowcheck.c), in the caller's transaction.  "what" names the rows' source
 * in messages ("bundle").  Returns 0, or -1 with RD_ECORRUPT naming the
 * path.
 */
int rdi_rows_check(sqlite3 *db, int64_t since, int64_t newest, const char *what,
    struct rd_err *err);
/* Copy text column "col" of "s" into "buf", or "dflt" when it is NULL. */
void rdi_column_copy(sqlite3_stmt *s, int col, char *buf, size_t len,
    const char *dflt);
/* Get and set meta values. */
int rdi_meta_get(sqlite3 *db, const char *key, char *buf, size_t len,
    struct rd_err *err);
int rdi_meta_set(sqlite3 *db, const char *key, const char *val,
    struct rd_err *err);

/* Directory entries keep a trailing '/' in the catalog so that path order
 * is depth-first order; the root is the empty path. */

/* ------------------------------------------------------------------ */
/* pack.c: pack files of objects */

#define RDI_OBJ_HDR    96
#define RDI_PACK_MAX   (64 * 1024 * 1024)
#define RDI_PACK_MAGIC "RDPACK1\n"

enum rdi_obj_kind { RDI_OBJ_FULL = 0, RDI_OBJ_DELTA = 1, RDI_OBJ_SIG = 2 };

struct rdi_objhdr {
	int kind;
	int codec;
	int64_t raw_size; /* content size; for a signature its length */
	int64_t len;      /* payload bytes after the header */
	unsigned char sha[RD_HASH_LEN];
	unsigned char base[RD_HASH_LEN]; /* delta: base content; sig: 0 */
	uint32_t crc;                    /* CRC-32 of the payload */
};

void rdi_objhdr_encode(const struct rdi_objhdr *h, unsigned char *out);
/* Decode and check magic and header CRC; RD_ECORRUPT when bad. */
int rdi_objhdr_decode(const unsigned char *in, struct rdi_objhdr *h,
    struct rd_err *err);

/* A pack being written in STORE/tmp, one per writer thread. */
struct rdi_packw {
	int fd;
	int64_t id;            /* packs.id it will have */
	char name[33];         /* random hex */
	off_t off;             /* end of data written */
	off_t flushed;         /* written back from here on, or -1 */
	off_t obj_start;       /* start of the open object */
	struct rdi_objhdr hdr; /* the open object */
	uint32_t crc;
};

/* The id for a new pack: one more than the largest in the catalog. */
int rdi_next_pack_id(struct rd_store *st, int64_t *id, struct rd_err *err);

/* Create tmp/NAME.pack for pack id "id". */
int rdi_packw_open(struct rd_store *st, int64_t id, struct rdi_packw *pw,
    struct rd_err *err);
/* Begin an object (header space reserved), append payload, end it. */
int rdi_packw_begin(struct rdi_packw *pw, int kind, int codec,
    const unsigned char *sha, const unsigned char *base, struct rd_err *err);
int rdi_packw_sink(void *pw, const void *buf, size_t len, struct rd_err *err);
/* End the open object with its raw size; "*off" and "*len" locate it. */
int rdi_packw_end(struct rdi_packw *pw, int64_t raw_size, int64_t *off,
    int64_t *len, struct rd_err *err);
/* A sink that compresses with "z" into the open object of "pw". */
struct rdi_zsink {
	struct rdi_zenc *z;
	struct rdi_packw *pw;
};
int rdi_zsink_write(void *zsink, const void *buf, size_t len,
    struct rd_err *err);
/* Drop the open object (or everything after "off"). */
int rdi_packw_rollback(struct rdi_packw *pw, off_t off, struct rd_err *err);
/* fsync, rename into packs/, fsync packs/; "*size" is the final size. */
int rdi_packw_finish(struct rd_store *st, struct rdi_packw *pw, int64_t *size,
    struct rd_err *err);
/*
 * rdi_packw_finish in two steps, for a writer of many packs: seal (end
 * the file, start writing it back, close it; it stays in tmp/), and
 * later, with the others, publish (fsync it and rename it into packs/),
 * then fsync packs/ once.  Nothing waits for the disk until the end.
 */
int rdi_packw_seal(struct rd_store *st, struct rdi_packw *pw, int64_t *size,
    struct rd_err *err);
int rdi_pack_publish(struct rd_store *st, const char *name, struct rd_err *err);
int rdi_pack_dir_sync(struct rd_store *st, struct rd_err *err);
/* Remove tmp/NAME.pack, a sealed pack that is not to be published. */
void rdi_pack_unseal(struct rd_store *st, const char *name);
/* Close and remove an unfinished pack. */
void rdi_packw_abort(struct rd_store *st, struct rdi_packw *pw);

/*
 * Copy the object at "off" of the pack open on "fd" as stored (no
 * decoding) into "pw", checking its header, "sha", and payload CRC;
 * "*new_off" locates the copy.  Returns 0 or -1 (RD_ECORRUPT if damaged).
 */
int rdi_obj_copy(int fd, const char *packname, int64_t off,
    const unsigned char *sha, struct rdi_packw *pw, int64_t *new_off,
    struct rd_err *err);

/*
 * 1 if "name" is a pack's name, 32 lower-case hex digits, followed by
 * exactly "suffix" ("" for the catalog's name, ".pack" for its file).
 */
int rdi_pack_name_ok(const char *name, const char *suffix);

/* Open packs/NAME.pack read-only. */
int rdi_pack_open(struct rd_store *st, const char *name, struct rd_err *err);

/*
 * Read the object at "off" of the pack open on "fd", check its header
 * against "kind" and "sha", and stream its decoded payload (decompressed,
 * not patched) into "sink".  Checks the payload CRC.
 */
int rdi_obj_read(int fd, const char *packname, int64_t off,
    const unsigned char *sha, int kind, rdi_sink_fn sink, void *arg,
    struct rdi_objhdr *hdr, struct rd_err *err);

/* A cache of open pack fds by name, for readers. */
struct rdi_packcache;
struct rdi_packcache *rdi_packcache_new(struct rd_store *st);
int rdi_packcache_fd(struct rdi_packcache *pc, const char *name,
    struct rd_err *err);
void rdi_packcache_free(struct rdi_packcache *pc);
/*
 * rdi_obj_read() of an object of pack "name" through the cache, which
 * also keeps one decompressor per codec for reuse.
 */
int rdi_packcache_read(struct rdi_packcache *pc, const char *name, int64_t off,
    const unsigned char *sha, int kind, rdi_sink_fn sink, void *arg,
    struct rd_err *err);

/*
 * A pull-style reader of one stored object's decompressed bytes, for a
 * delta's base that the patch reads front to back.  It holds its own
 * descriptor and decompressor, so the cache stays free for other reads.
 */
struct rdi_objreader;
int rdi_objreader_open(struct rdi_packcache *pc, const char *name, int64_t off,
    const unsigned char *sha, int kind, struct rdi_objreader **out,
    struct rd_err *err);
/*
 * Up to "cap" next bytes into "buf"; "*got" 0 means the end, reached
 * only once the payload's CRC-32 and the stream's end are checked.
 */
int rdi_objreader_read(struct rdi_objreader *r, unsigned char *buf, size_t cap,
    size_t *got, struct rd_err *err);
/* Back to the first byte. */
int rdi_objreader_rewind(struct rdi_objreader *r, struct rd_err *err);
void rdi_objreader_free(struct rdi_objreader *r);

/* ------------------------------------------------------------------ */
/* content.c: the content reader (rebuilding contents from packs) */

/* The objects that rebuild a content: link 0 is it, the last is whole. */
#define RDI_MAX_CHAIN 66
/* The largest size, offset or count a catalog row or a stream may hold. */
#define RDI_MAX_SIZE (INT64_C(1) << 62)
struct rdi_link {
	unsigned char sha[RD_HASH_LEN];
	int kind;
	int64_t size, off;
	char pack[33];
};
struct rdi_chain {
	int n;
	struct rdi_link link[RDI_MAX_CHAIN];
};

/*
 * Look up the chain of content "sha".  "stmt" (may be NULL) caches the
 * prepared query between calls; the caller finalizes it.
 */
int rdi_chain_load(sqlite3 *db, sqlite3_stmt **stmt, const unsigned char *sha,
    struct rdi_chain *ch, struct rd_err *err);
/* Rebuild a loaded chain into "sink", as rdi_content_read(); no catalog. */
int rdi_chain_read(struct rdi_packcache *pc, const struct rdi_chain *ch,
    int tmpfd, rdi_sink_fn sink, void *arg, struct rd_err *err);

/*
 * Rebuild content "sha" of the store, streaming its bytes into "sink"
 * (which sees exactly "size" bytes on success).  Delta chains are
 * materialized in unlinked temp files in the directory "tmpfd".  The
 * SHA-256 of the output is checked; a mismatch is RD_ECORRUPT.
 */
int rdi_content_read(struct rd_store *st, sqlite3 *db, struct rdi_packcache *pc,
    const unsigned char *sha, int tmpfd, rdi_sink_fn sink, void *arg,
    struct rd_err *err);

/*
 * If content "sha" is stored as a delta against "base", rebuild it by
 * patching the open file "basis" (which should hold "base") into "sink",
 * checking the SHA-256.  Returns 1 if done, 0 if "sha" is not a delta
 * against "base", -1 on error (a basis that is not "base" fails the
 * check with RD_ECORRUPT; the sink may have seen bytes).
 */
int rdi_content_patch(struct rd_store *st, sqlite3 *db,
    struct rdi_packcache *pc, const unsigned char *sha,
    const unsigned char *base, int basis, rdi_sink_fn sink, void *arg,
    struct rd_err *err);

/*
 * Patch the open file "fd" (read-write), which should hold content
 * "base", in place into content "sha" when the store holds "sha" as a
 * delta against "base" whose every copy stays where it is (an aligned
 * delta's do): only its literals are written, "fd" is cut to the new
 * size and hashed whole.
 * Returns 1 when "fd" holds "sha"; 0 when there is no such delta
 * (nothing is written); -1 with RD_ECORRUPT when "fd" was not "base"
 * (or the delta is damaged), else another error: either way its bytes
 * are now neither version.
 */
int rdi_content_patch_inplace(sqlite3 *db, struct rdi_packcache *pc,
    const unsigned char *sha, const unsigned char *base, int fd,
    struct rd_err *err);

/* An unlinked temp file in directory "dfd" (O_TMPFILE or mkstemp). */
int rdi_tmpfile(int dfd, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* recvcache.c: a standby's cache of its large current contents */

/* Contents from this size on are cached when a receiver checks them. */
#define RDI_BCACHE_MIN (8 * 1024 * 1024)

struct rdi_bcache {
	int dfd; /* STORE/cache, or -1: no cache */
};
/* Open (making it if need be) STORE/cache; without it "bc" is off. */
void rdi_bcache_open(struct rd_store *st, struct rdi_bcache *bc);
void rdi_bcache_close(struct rdi_bcache *bc);
/*
 * An fd on the cached bytes of content "sha", or -1.  The bytes are not
 * checked: a patch against them is checked by its result.
 */
int rdi_bcache_get(struct rdi_bcache *bc, const unsigned char *sha);
/* Remove the cached bytes of "sha", if any. */
void rdi_bcache_drop(struct rdi_bcache *bc, const unsigned char *sha);
/*
 * Turn the cached bytes of "base" into those of "sha" in place, checked
 * against its SHA-256 (rdi_content_patch_inplace()), when the store
 * holds "sha" as such a delta against "base".  Returns 1 when the cache
 * now holds "sha" (and no longer "base"), else 0: nothing was done, or
 * the cached file failed and is gone.  Never an error: the cache is
 * advice.
 */
int rdi_bcache_patch(struct rdi_bcache *bc, sqlite3 *db,
    struct rdi_packcache *pc, const unsigned char *sha,
    const unsigned char *base);
/*
 * A sink that copies what passes to "next" into the cache file of "sha"
 * being written; a failing write only ends the copy.
 */
struct rdi_bcache_w {
	struct rdi_bcache *bc;
	unsigned char sha[RD_HASH_LEN];
	int fd;
	rdi_sink_fn next;
	void *arg;
};
void rdi_bcache_begin(struct rdi_bcache *bc, const unsigned char *sha,
    rdi_sink_fn next, void *arg, struct rdi_bcache_w *w);
int rdi_bcache_sink(void *w, const void *buf, size_t len, struct rd_err *err);
/* Keep the file (its bytes were checked) or not. */
void rdi_bcache_end(struct rdi_bcache_w *w, int keep);
/* Remove every file that is not a content current in "db". */
int rdi_bcache_evict(struct rdi_bcache *bc, sqlite3 *db, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* chan.c: framed, authenticated streams (rdship) */

struct rdi_chan {
	int fd_in, fd_out;
	int initiator; /* opened the session (sender) */
	int keyed;
	unsigned char key[RD_HASH_LEN];
	unsigned char nonce[16];
	uint64_t seq_in, seq_out;
	uint64_t in_left, out_left;
	struct rdi_hmac in_mac, out_mac;
	unsigned char *obuf, *ibuf;
	size_t olen, ipos, ilen;
	int64_t bytes_in, bytes_out;
};

int rdi_chan_init(struct rdi_chan *ch, int fd_in, int fd_out,
    const unsigned char *key, int initiator, struct rd_err *err);
void rdi_chan_release(struct rdi_chan *ch);
int rdi_chan_send_preamble(struct rdi_chan *ch, struct rd_err *err);
int rdi_chan_recv_preamble(struct rdi_chan *ch, int *keyed, struct rd_err *err);
/* Send a frame: begin with its length, write the payload, end. */
int rdi_chan_begin(struct rdi_chan *ch, int type, uint64_t len,
    struct rd_err *err);
int rdi_chan_write(struct rdi_chan *ch, const void *buf, size_t len,
    struct rd_err *err);
int rdi_chan_sink(void *ch, const void *buf, size_t len, struct rd_err *err);
int rdi_chan_end(struct rdi_chan *ch, struct rd_err *err);
int rdi_chan_send(struct rdi_chan *ch, int type, const void *buf, size_t len,
    struct rd_err *err);
int rdi_chan_flush(struct rdi_chan *ch, struct rd_err *err);
/* Receive a frame: its header, its payload in pieces, then its MAC. */
int rdi_chan_next(struct rdi_chan *ch, int *type, uint64_t *len,
    struct rd_err *err);
int rdi_chan_read(struct rdi_chan *ch, void *buf, size_t len,
    struct rd_err *err);
int rdi_chan_finish(struct rdi_chan *ch, struct rd_err *err);
/* A whole frame of at most "max" bytes into "payload". */
int rdi_chan_recv(struct rdi_chan *ch, int *type, struct rdi_buf *payload,
    size_t max, struct rd_err *err);

/* Little-endian message fields. */
struct rdi_msg {
	const unsigned char *p;
	size_t len, pos;
	int bad;
};
int rdi_put_u64(struct rdi_buf *b, uint64_t v, struct rd_err *err);
int rdi_put_bytes(struct rdi_buf *b, const void *p, size_t n,
    struct rd_err *err);
int rdi_put_str(struct rdi_buf *b, const char *s, struct rd_err *err);
int rdi_get_u64(struct rdi_msg *m, uint64_t *v);
int rdi_get_i64(struct rdi_msg *m, int64_t *v);
int rdi_get_bytes(struct rdi_msg *m, const unsigned char **p, size_t *n);
int rdi_get_str(struct rdi_msg *m, char *out, size_t outlen);

/* ------------------------------------------------------------------ */
/* replica.c */

/* What an update of a replica did, and what it could not do. */
#define RDI_OMISSION_LEN 200
struct rdi_apply_res {
	int64_t changed; /* entries written or removed */
	int64_t omitted; /* attributes (xattrs, ACLs, capabilities) not set */
	char first[RDI_OMISSION_LEN]; /* the first of them, as noticed */
};

/*
 * Bring the replica directory "dir" to snapshot "version" of the store
 * (open for writing), journaled in the catalog; "res" says what it did.
 * An attribute the replica's file system or user refuses is noticed,
 * counted and recorded (meta "replica_omitted:DIR", for rdship status);
 * the update goes on.  Returns 0 or -1.
 */
int rdi_replica_apply(struct rd_store *st, const char *dir, int64_t version,
    rd_notice_fn notice, void *notice_arg, struct rdi_apply_res *res,
    struct rd_err *err);

/* ------------------------------------------------------------------ */
/* notify.c: change notification for follow mode */

struct rdi_notify;
struct rdi_dirty;

/*
 * Watch every directory of "source" that a snapshot with "o" reads (its
 * exclude patterns and one_file_system apply; new directories are
 * watched as they appear).  Where inotify is missing, or a watch cannot
 * be added (fs.inotify.max_user_watches), the notifier is off for good:
 * it says so once through "notice" and every look answers "changed".
 * Memory grows with the directories watched (one path each).  Returns 0
 * with "*out" set (free it with rdi_notify_free()), or -1 (RD_ENOMEM).
 */
int rdi_notify_new(const char *source, const struct rd_snap_opts *o,
    rd_notice_fn notice, void *notice_arg, struct rdi_notify **out,
    struct rd_err *err);

/*
 * Look at the events queued since the last look: 1 when the source may
 * have changed (an event arrived, the queue overflowed, this is the
 * first look, the notifier is off or rdi_notify_dirty() was called),
 * else 0, or -1 (RD_ENOMEM).  An overflow is told once through "notice"
 * and the watches are set again before the look returns.
 */
int rdi_notify_changed(struct rdi_notify *n, struct rd_err *err);
/*
 * What the last look found to walk: NULL for the whole source (the
 * first look, lost events, a renamed directory, notification off), else
 * the set of directories that changed and those above them, valid until
 * the next look; rdi_dirty_get() asks it about one directory.
 */
const struct rdi_dirty *rdi_notify_walk_set(const struct rdi_notify *n);
/*
 * Directory "path" ("len" bytes, relative to the source, "" for the
 * source, no '/' at the end) in the set "d": -1 not in it (nothing in or
 * below it changed), 0 in it (read its entries), 1 to walk whole.
 */
int rdi_dirty_get(const struct rdi_dirty *d, const char *path, size_t len);
/* Make the next look answer "changed", the whole source (a failed walk). */
void rdi_notify_dirty(struct rdi_notify *n);
/*
 * rd_snap_create() that walks, when "sel" is not NULL, only the
 * directories of "sel" (rdi_notify_walk_set()) and whatever is new, and
 * keeps the rest of the newest snapshot as it is.  A changed regular
 * file with more than one link (whose other names may lie in
 * directories not walked) fails such a walk with "*need_full" set
 * (nothing is committed): take it again with "sel" NULL.
 */
int rdi_snap_create_in(struct rd_store *st, const char *source,
    const struct rd_snap_opts *opts, const struct rdi_dirty *sel,
    int *need_full, struct rd_snapinfo *info, struct rd_err *err);
/* 1 while notification is in use, 0 once it went off. */
int rdi_notify_active(const struct rdi_notify *n);
/* Overflows of the event queue so far. */
int64_t rdi_notify_overflows(const struct rdi_notify *n);
/* Directories watched now. */
size_t rdi_notify_watches(const struct rdi_notify *n);
/* NULL is a no-op. */
void rdi_notify_free(struct rdi_notify *n);

/* ------------------------------------------------------------------ */
/* bracket.c: the co-process that brackets a snapshot */

struct rdi_bracket;

/*
 * Start "command" (/bin/sh -c, in "cwd", in a process group of its own)
 * with an empty scratch directory, STORE/tmp/bracket, named by
 * RDSNAP_BRACKET_DIR in its environment (our environment changed by "env"
 * as rd_hook_run() changes it), its standard input a socket of ours and
 * its standard output a pipe to us, and wait up to "timeout" seconds for
 * its first line, which must be "ready".  Returns 0 with "*out" set (free
 * it with rdi_bracket_free()), or -1 with the co-process gone and
 * RD_EUNAVAIL when it failed ("bracket hook failed: ...").
 */
int rdi_bracket_start(struct rd_store *st, const char *command, const char *cwd,
    const char *const *env, double timeout, struct rdi_bracket **out,
    struct rd_err *err);

/* The scratch directory, open (borrowed). */
int rdi_bracket_dirfd(const struct rdi_bracket *b);

/*
 * Tell it that the copy is done (the line "done" on its standard input,
 * then end of file) and wait up to the timeout for it to exit 0.
 * Returns 0, or -1 with RD_EUNAVAIL when it ended before "done", exited
 * otherwise or ran out of time (then its process group is killed).
 */
int rdi_bracket_finish(struct rdi_bracket *b, struct rd_err *err);

/* Remove the scratch directory now.  Returns 0 or -1. */
int rdi_bracket_cleanup(struct rdi_bracket *b, struct rd_err *err);

/*
 * End it: one that still runs gets an end of file on its standard input
 * instead of "done" (the copy failed), and is killed with its process
 * group if it is still running after the timeout; then the scratch
 * directory is removed.  NULL is a no-op.
 */
void rdi_bracket_free(struct rdi_bracket *b);

/* ------------------------------------------------------------------ */
/* Child processes (base/proc.c) */

/*
 * Start "/bin/sh -c command" with standard input from /dev/null and
 * standard output to /dev/null ("out_to_err" 0) or to our standard error
 * ("out_to_err" 1), the default signal mask and dispositions, in a new
 * process group if "own_group", with "envp" (NULL: our environment).
 * Returns 0 with "*pid" set, or -1 with "err" set (RD_ENOMEM when the
 * system is out of processes or memory).
 */
int rdi_spawn_sh(const char *command, char *const *envp, int own_group,
    int out_to_err, pid_t *pid, struct rd_err *err);

/*
 * Start "command" as a co-process: /bin/sh -c in a process group of its
 * own, in the directory "cwd" (NULL: ours), with our environment changed
 * by "env" as rd_hook_run() changes it, standard input from "in_fd",
 * standard output to "out_fd" and standard error ours.  The caller keeps
 * its descriptors (which should be close-on-exec) and closes them.
 * Returns 0 with "*pid" set, or -1 with "err" set as rdi_spawn_sh() sets
 * it.
 */
int rdi_coproc_spawn(const char *command, const char *cwd,
    const char *const *env, int in_fd, int out_fd, pid_t *pid,
    struct rd_err *err);

/*
 * A descriptor that becomes readable when the child "pid" exits (Linux
 * 5.3 and later), or -1: then the caller looks every few milliseconds.
 */
int rdi_child_fd(pid_t pid);

/*
 * Wait at most "left" seconds for the child whose exit descriptor is
 * "*fd" (from rdi_child_fd()) to exit; with "*fd" -1, sleep "*delay"
 * seconds (at most "left") and double "*delay" up to 10 ms, so that the
 * caller's next waitpid(WNOHANG) comes soon after a quick child exits.
 * A descriptor that poll(2) refuses is closed and "*fd" set to -1.
 */
void rdi_child_nap(int *fd, double left, double *delay);

/* waitpid() that retries on EINTR. */
pid_t rdi_waitpid(pid_t pid, int *status, int flags);

/* Describe a wait status: "exit 3", "killed by signal 9". */
void rdi_wait_status(int status, char *buf, size_t len);

#endif /* RD_INT_H */
