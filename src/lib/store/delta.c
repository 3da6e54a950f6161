/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * delta.c: librsync signatures, deltas and patches as streaming jobs
 * that push their output into a sink.  A delta is computed from the
 * stored signature of the previous version, so the old bytes are never
 * read back at snapshot time.  The only file that turns librsync results
 * into rd_err.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librsync.h>

#include "rd_int.h"

#define RSOUT (64 * 1024)

enum job_kind { JOB_SIG, JOB_DELTA, JOB_PATCH };

struct rdi_rsjob {
	enum job_kind kind;
	rs_job_t *job;
	rs_signature_t *sig;   /* delta: the loaded signature */
	int basis_fd;          /* patch: the old version */
	int io_errno;          /* patch: errno of a failed pread */
	rdi_basis_fn basis_fn; /* patch: or a reader of it */
	void *basis_arg;
	int basis_failed; /* patch: basis_fn failed with basis_err */
	struct rd_err basis_err;
	int done;
	char out[RSOUT];
};

static pthread_once_t trace_once = PTHREAD_ONCE_INIT;

static void
trace_quiet(rs_loglevel level, const char *msg)
{
	(void)level;
	(void)msg;
}

/* librsync logs to stderr by default; our errors carry their own text. */
static void
trace_init(void)
{
	rs_trace_set_level(RS_LOG_ERR);
	rs_trace_to(trace_quiet);
}

size_t
rdi_sig_block_len(int64_t size)
{
	/*
	 * Small blocks find small changes but make signatures large.  8 KiB
	 * matches the page size of common databases; on a 256 MiB file of
	 * 8 KiB pages it halves the delta of librsync's default.
	 */
	if (size >= 8 * 1024 * 1024)
		return 8192;
	if (size >= 1024 * 1024)
		return 4096;
	return 2048;
}

static int
job_new(enum job_kind kind, struct rdi_rsjob **out, struct rd_err *err)
{
	struct rdi_rsjob *j = NULL;

	pthread_once(&trace_once, trace_init);
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	j->kind = kind;
	j->basis_fd = -1;
	*out = j;
	return 0;
}

static const char *
job_what(const struct rdi_rsjob *j)
{
	switch (j->kind) {
	case JOB_SIG:
		return "signature";
	case JOB_DELTA:
		return "delta";
	case JOB_PATCH:
		return "patch";
	}
	return "librsync job";
}

int
rdi_sig_new(size_t block_len, struct rdi_rsjob **out, struct rd_err *err)
{
	struct rdi_rsjob *j = NULL;

	if (job_new(JOB_SIG, &j, err) == -1)
		return -1;
	/* 12-byte BLAKE2 strong sums: collision odds far below disk errors */
	j->job = rs_sig_begin(block_len, 12, RS_RK_BLAKE2_SIG_MAGIC);
	if (j->job == NULL) {
		free(j);
		return rd_err_set(err, RD_ENOMEM, "cannot start signature");
	}
	*out = j;
	return 0;
}

/* Run the job over "buf" (or to its end when "eof"), sinking output. */
static int
job_run(struct rdi_rsjob *j, const void *buf, size_t len, int eof,
    rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	rs_buffers_t b;
	rs_result r;
	size_t produced;
	int stalls = 0;

	if (j->done) {
		if (len > 0)
			return rd_err_set(err, RD_ECORRUPT,
			    "%s input has trailing bytes", job_what(j));
		return 0;
	}
	memset(&b, 0, sizeof(b));
	b.next_in = (char *)(uintptr_t)buf;
	b.avail_in = len;
	b.eof_in = eof;
	for (;;) {
		size_t in_before = b.avail_in;

		b.next_out = j->out;
		b.avail_out = RSOUT;
		r = rs_job_iter(j->job, &b);
		produced = RSOUT - b.avail_out;
		if (produced > 0 && sink(arg, j->out, produced, err) == -1)
			return -1;
		if (r == RS_DONE) {
			j->done = 1;
			if (b.avail_in > 0)
				return rd_err_set(err, RD_ECORRUPT,
				    "%s input has trailing bytes", job_what(j));
			return 0;
		}
		if (r != RS_BLOCKED) {
			if (j->kind == JOB_PATCH && j->basis_failed) {
				*err = j->basis_err;
				return -1;
			}
			if (j->kind == JOB_PATCH && j->io_errno != 0) {
				errno = j->io_errno;
				return rd_err_sys(err, RD_EIO,
				    "cannot read patch basis");
			}
			if (r == RS_MEM_ERROR)
				return rd_err_set(err, RD_ENOMEM,
				    "out of memory");
			return rd_err_set(err, RD_ECORRUPT, "%s failed: %s",
			    job_what(j), rs_strerror(r));
		}
		if (!eof && b.avail_in == 0 && produced < RSOUT)
			return 0;
		if (produced == 0 && b.avail_in == in_before) {
			/* blocked without progress: input ended early */
			if (++stalls > 2)
				return rd_err_set(err,
				    eof ? RD_ECORRUPT : RD_EINTERNAL,
				    "%s input is %s", job_what(j),
				    eof ? "truncated" : "stalled");
		} else {
			stalls = 0;
		}
	}
}

int
rdi_delta_new(const void *sig, size_t siglen, struct rdi_rsjob **out,
    struct rd_err *err)
{
	struct rdi_rsjob *j = NULL, *load = NULL;
	rs_result r;

	if (job_new(JOB_DELTA, &j, err) == -1)
		return -1;
	if (job_new(JOB_SIG, &load, err) == -1)
		goto fail;
	load->job = rs_loadsig_begin(&j->sig);
	if (load->job == NULL) {
		rd_err_set(err, RD_ENOMEM, "cannot load signature");
		goto fail;
	}
	if (job_run(load, sig, siglen, 1, rdi_buf_sink, NULL, err) == -1) {
		rd_err_set(err, RD_ECORRUPT, "stored signature is damaged");
		goto fail;
	}
	rdi_rsjob_free(load);
	load = NULL;
	r = rs_build_hash_table(j->sig);
	if (r != RS_DONE) {
		rd_err_set(err, RD_ECORRUPT, "stored signature is damaged: %s",
		    rs_strerror(r));
		goto fail;
	}
	j->job = rs_delta_begin(j->sig);
	if (j->job == NULL) {
		rd_err_set(err, RD_ENOMEM, "cannot start delta");
		goto fail;
	}
	*out = j;
	return 0;
fail:
	rdi_rsjob_free(load);
	rdi_rsjob_free(j);
	return -1;
}

static rs_result
patch_copy(void *opaque, rs_long_t pos, size_t *len, void **buf)
{
	struct rdi_rsjob *j = opaque;
	ssize_t n;

	if (j->basis_fn != NULL) {
		if (j->basis_fn(j->basis_arg, (int64_t)pos, len, buf,
		        &j->basis_err) == -1) {
			j->basis_failed = 1;
			return RS_IO_ERROR;
		}
		return *len == 0 ? RS_INPUT_ENDED : RS_DONE;
	}
	for (;;) {
		n = pread(j->basis_fd, *buf, *len, (off_t)pos);
		if (n >= 0)
			break;
		if (errno != EINTR) {
			j->io_errno = errno;
			return RS_IO_ERROR;
		}
	}
	if (n == 0)
		return RS_INPUT_ENDED;
	*len = (size_t)n;
	return RS_DONE;
}

int
rdi_patch_new(int basis_fd, struct rdi_rsjob **out, struct rd_err *err)
{
	struct rdi_rsjob *j = NULL;

	if (job_new(JOB_PATCH, &j, err) == -1)
		return -1;
	j->basis_fd = basis_fd;
	j->job = rs_patch_begin(patch_copy, j);
	if (j->job == NULL) {
		free(j);
		return rd_err_set(err, RD_ENOMEM, "cannot start patch");
	}
	*out = j;
	return 0;
}

int
rdi_patch_new_reader(rdi_basis_fn fn, void *arg, struct rdi_rsjob **out,
    struct rd_err *err)
{
	if (rdi_patch_new(-1, out, err) == -1)
		return -1;
	(*out)->basis_fn = fn;
	(*out)->basis_arg = arg;
	return 0;
}

int
rdi_rsjob_write(struct rdi_rsjob *j, const void *buf, size_t len,
    rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	if (len == 0)
		return 0;
	return job_run(j, buf, len, 0, sink, arg, err);
}

int
rdi_rsjob_finish(struct rdi_rsjob *j, rdi_sink_fn sink, void *arg,
    struct rd_err *err)
{
	if (j->done)
		return 0;
	if (job_run(j, NULL, 0, 1, sink, arg, err) == -1)
		return -1;
	if (!j->done)
		return rd_err_set(err, RD_ECORRUPT, "%s input is truncated",
		    job_what(j));
	return 0;
}

void
rdi_rsjob_free(struct rdi_rsjob *j)
{
	if (j == NULL)
		return;
	if (j->job != NULL)
		rs_job_free(j->job);
	if (j->sig != NULL)
		rs_free_sumset(j->sig);
	free(j);
}

/* ------------------------------------------------------------------ */
/* Aligned deltas: from two signatures of the same block length */

#define SIG_HEADER 12
#define LIT_CHUNK  (256 * 1024)

static uint32_t
get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int
rdi_sig_view(const void *sig, size_t len, struct rdi_sigview *v,
    struct rd_err *err)
{
	const unsigned char *p = sig;
	size_t entry;

	if (len < SIG_HEADER || get_be32(p) != RS_RK_BLAKE2_SIG_MAGIC)
		return rd_err_set(err, RD_ECORRUPT,
		    "stored signature is damaged: bad header");
	v->block_len = get_be32(p + 4);
	v->strong_len = get_be32(p + 8);
	entry = 4 + v->strong_len;
	if (v->block_len == 0 || v->strong_len == 0 || v->strong_len > 32 ||
	    (len - SIG_HEADER) % entry != 0)
		return rd_err_set(err, RD_ECORRUPT,
		    "stored signature is damaged: bad length");
	v->nblocks = (int64_t)((len - SIG_HEADER) / entry);
	v->sums = p + SIG_HEADER;
	return 0;
}

/* 1 if block "i" has the same sums in both signatures. */
static int
same_block(const struct rdi_sigview *a, const struct rdi_sigview *b, int64_t i)
{
	size_t entry = 4 + a->strong_len;

	return i < a->nblocks && i < b->nblocks &&
	    memcmp(a->sums + (size_t)i * entry, b->sums + (size_t)i * entry,
	        entry) == 0;
}

static int
comparable(const struct rdi_sigview *old, const struct rdi_sigview *nw)
{
	return old->block_len == nw->block_len &&
	    old->strong_len == nw->strong_len;
}

int64_t
rdi_sig_aligned_copy(const struct rdi_sigview *old,
    const struct rdi_sigview *nw)
{
	int64_t i, n = 0;

	if (!comparable(old, nw))
		return 0;
	for (i = 0; i < nw->nblocks; i++)
		if (same_block(old, nw, i))
			n++;
	return n * (int64_t)nw->block_len;
}

/* Append a big-endian integer of "w" bytes. */
static void
put_be(unsigned char *p, uint64_t v, int w)
{
	int i;

	for (i = w - 1; i >= 0; i--) {
		p[i] = (unsigned char)v;
		v >>= 8;
	}
}

/* Width index of "v": 0 (1 byte), 1 (2), 2 (4) or 3 (8). */
static int
width(uint64_t v)
{
	if (v <= 0xff)
		return 0;
	if (v <= 0xffff)
		return 1;
	if (v <= 0xffffffff)
		return 2;
	return 3;
}

/* librsync's delta commands (prototab): literal and copy opcodes. */
#define OP_END        0x00
#define OP_LITERAL_N1 0x41
#define OP_COPY_N1_N1 0x45

static int
put_copy(uint64_t off, uint64_t len, rdi_sink_fn sink, void *arg,
    struct rd_err *err)
{
	unsigned char b[17];
	int wo = width(off), wl = width(len);

	b[0] = (unsigned char)(OP_COPY_N1_N1 + 4 * wo + wl);
	put_be(b + 1, off, 1 << wo);
	put_be(b + 1 + (1 << wo), len, 1 << wl);
	return sink(arg, b, (size_t)(1 + (1 << wo) + (1 << wl)), err);
}

/*
 * Read "len" bytes of "fd" at "off" into the hash "h", and unless "sink"
 * is NULL also to the sink.
 */
static int
read_range(int fd, uint64_t off, uint64_t len, unsigned char *buf,
    struct rdi_sha256 *h, rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	size_t n;

	while (len > 0) {
		n = len > LIT_CHUNK ? LIT_CHUNK : (size_t)len;
		if (rdi_pread_exact(fd, buf, n, (off_t)off, "file", err) ==
		        -1 ||
		    rdi_sha256_update(h, buf, n, err) == -1 ||
		    (sink != NULL && sink(arg, buf, n, err) == -1))
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

/* A literal command for "len" bytes read from "fd" at "off". */
static int
put_literal(int fd, uint64_t off, uint64_t len, unsigned char *buf,
    struct rdi_sha256 *h, rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	unsigned char b[9];
	int w = width(len);
	size_t n;

	if (len <= 64) {
		b[0] = (unsigned char)len;
		n = 1;
	} else {
		b[0] = (unsigned char)(OP_LITERAL_N1 + w);
		put_be(b + 1, len, 1 << w);
		n = (size_t)(1 + (1 << w));
	}
	if (sink(arg, b, n, err) == -1)
		return -1;
	return read_range(fd, off, len, buf, h, sink, arg, err);
}

int
rdi_delta_aligned(const struct rdi_sigview *old, const struct rdi_sigview *nw,
    int fd, int64_t size, unsigned char sha[RD_HASH_LEN], rdi_sink_fn sink,
    void *arg, struct rd_err *err)
{
	struct rdi_sha256 h = { NULL };
	unsigned char magic[4], *buf;
	uint64_t bl = nw->block_len, start, end;
	int64_t i = 0, j;
	int match, r, ret = -1;

	if (!comparable(old, nw) ||
	    nw->nblocks != (size + (int64_t)bl - 1) / (int64_t)bl)
		return rd_err_set(err, RD_EINTERNAL,
		    "signatures do not fit an aligned delta");
	buf = malloc(LIT_CHUNK);
	if (buf == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (rdi_sha256_init(&h, err) == -1)
		goto out;
	put_be(magic, RS_DELTA_MAGIC, 4);
	if (sink(arg, magic, 4, err) == -1)
		goto out;
	while (i < nw->nblocks) {
		match = same_block(old, nw, i);
		for (j = i + 1;
		     j < nw->nblocks && same_block(old, nw, j) == match; j++)
			;
		start = (uint64_t)i * bl;
		end = (uint64_t)j * bl;
		if (end > (uint64_t)size)
			end = (uint64_t)size;
		if (match)
			r = put_copy(start, end - start, sink, arg, err) ==
			            -1 ||
			        read_range(fd, start, end - start, buf, &h,
			            NULL, NULL, err) == -1
			    ? -1
			    : 0;
		else
			r = put_literal(fd, start, end - start, buf, &h, sink,
			    arg, err);
		if (r == -1)
			goto out;
		i = j;
	}
	magic[0] = OP_END;
	if (sink(arg, magic, 1, err) == -1 ||
	    rdi_sha256_final(&h, sha, err) == -1)
		goto out;
	ret = 0;
out:
	rdi_sha256_release(&h);
	free(buf);
	return ret;
}
