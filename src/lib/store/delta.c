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
	j->job =
	    rs_sig_begin(block_len, RDI_SIG_STRONG, RS_RK_BLAKE2_SIG_MAGIC);
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

/* A literal command for the "len" bytes at "p". */
static int
put_literal(const unsigned char *p, uint64_t len, rdi_sink_fn sink, void *arg,
    struct rd_err *err)
{
	unsigned char b[9];
	int w = width(len);
	size_t n;

	if (len == 0)
		return 0;
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
	return sink(arg, p, (size_t)len, err);
}

/* Fill "buf" up to "len" bytes; fewer only at the end of the file. */
static ssize_t
fill(struct rdi_hreader *hr, unsigned char *buf, size_t len, const char *what,
    struct rd_err *err)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = rdi_hread(hr, buf + got, len - got, what, err);
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
rdi_delta_aligned(const struct rdi_sigview *old, struct rdi_hreader *hr,
    const char *what, unsigned char *buf, size_t buflen, unsigned share,
    int64_t max_literal, struct rdi_buf *sig, unsigned char sha[RD_HASH_LEN],
    int64_t *size, rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	struct rdi_sha256 h = { NULL };
	struct rdi_sigpar *sp = NULL;
	struct rdi_sigview nv;
	unsigned char magic[4];
	size_t bl = old->block_len, entry = 4 + old->strong_len;
	uint64_t pos = 0, copy_at = 0, copy_len = 0, lit, nb, b;
	int64_t literal = 0, i = 0;
	ssize_t n;
	int eof = 0, ret = -1;

	if (old->strong_len != RDI_SIG_STRONG || bl == 0 || buflen < bl ||
	    buflen % bl != 0)
		return rd_err_set(err, RD_EINTERNAL,
		    "signature does not fit an aligned delta");
	sig->len = 0;
	if (rdi_sigpar_new(bl, &sp, err) == -1 ||
	    rdi_sha256_init(&h, err) == -1)
		goto out;
	put_be(magic, RS_DELTA_MAGIC, 4);
	if (sink(arg, magic, 4, err) == -1)
		goto out;
	while (!eof) {
		n = fill(hr, buf, buflen, what, err);
		if (n == -1)
			goto out;
		eof = (size_t)n < buflen;
		if (rdi_sigpar_start(sp, buf, (size_t)n, eof, share, err) ==
		        -1 ||
		    rdi_sha256_update(&h, buf, (size_t)n, err) == -1 ||
		    rdi_sigpar_end(sp, buf, (size_t)n, sig, err) == -1)
			goto out;
		nb = ((uint64_t)n + bl - 1) / bl;
		if (rdi_sig_view(sig->data, sig->len, &nv, err) == -1)
			goto out;
		if (nv.nblocks != i + (int64_t)nb) {
			rd_err_set(err, RD_EINTERNAL,
			    "signature lags the data");
			goto out;
		}
		/* runs of blocks: copies carry over, literals end with "buf" */
		lit = 0;
		for (b = 0; b < nb; b++, i++) {
			size_t blen = b + 1 < nb ? bl : (size_t)n - b * bl;

			if (i < old->nblocks &&
			    memcmp(old->sums + (size_t)i * entry,
			        nv.sums + (size_t)i * entry, entry) == 0) {
				if (put_literal(buf + (b * bl - lit), lit, sink,
				        arg, err) == -1)
					goto out;
				lit = 0;
				if (copy_len == 0)
					copy_at = pos + b * bl;
				copy_len += blen;
				continue;
			}
			if (copy_len > 0 &&
			    put_copy(copy_at, copy_len, sink, arg, err) == -1)
				goto out;
			copy_len = 0;
			lit += blen;
			literal += (int64_t)blen;
		}
		if (put_literal(buf + (size_t)n - lit, lit, sink, arg, err) ==
		    -1)
			goto out;
		if (literal > max_literal) {
			/* does not pay: the caller takes another way */
			ret = 0;
			goto out;
		}
		pos += (uint64_t)n;
	}
	magic[0] = OP_END;
	if ((copy_len > 0 &&
	        put_copy(copy_at, copy_len, sink, arg, err) == -1) ||
	    sink(arg, magic, 1, err) == -1 ||
	    rdi_sha256_final(&h, sha, err) == -1)
		goto out;
	*size = (int64_t)pos;
	ret = 1;
out:
	rdi_sigpar_free(sp);
	rdi_sha256_release(&h);
	return ret;
}

/*
 * In-place patches.  A delta whose every copy takes the bytes already at
 * the place it writes them (an aligned delta always does) turns its old
 * version into the new one by writing only its literals there.
 */

/* Length of the command whose opcode is "op", parameters included. */
static size_t
cmd_len(unsigned op)
{
	if (op >= OP_LITERAL_N1 && op < OP_COPY_N1_N1)
		return 1 + ((size_t)1 << (op - OP_LITERAL_N1));
	if (op >= OP_COPY_N1_N1 && op < OP_COPY_N1_N1 + 16)
		return 1 + ((size_t)1 << ((op - OP_COPY_N1_N1) / 4)) +
		    ((size_t)1 << ((op - OP_COPY_N1_N1) % 4));
	return 1;
}

static uint64_t
get_be(const unsigned char *p, size_t w)
{
	uint64_t v = 0;

	while (w-- > 0)
		v = v << 8 | *p++;
	return v;
}

void
rdi_inplace_init(struct rdi_inplace *ip, int fd, int64_t size, int64_t base)
{
	memset(ip, 0, sizeof(*ip));
	ip->fd = fd;
	ip->size = size;
	ip->base = base;
	ip->need = 4;
}

/* The command (or magic) gathered in ip->cmd. */
static int
inplace_cmd(struct rdi_inplace *ip, struct rd_err *err)
{
	unsigned op = ip->cmd[0];
	uint64_t off, len;
	size_t wo;

	ip->have = 0;
	ip->need = 1;
	if (!ip->started) {
		ip->started = 1;
		if (get_be(ip->cmd, 4) != RS_DELTA_MAGIC)
			ip->refused = 1;
		return 0;
	}
	if (op == OP_END) {
		ip->ended = 1;
		return 0;
	}
	if (op < OP_LITERAL_N1) {
		len = op;
		off = (uint64_t)ip->pos;
	} else if (op < OP_COPY_N1_N1) {
		len = get_be(ip->cmd + 1, cmd_len(op) - 1);
		off = (uint64_t)ip->pos;
	} else if (op < OP_COPY_N1_N1 + 16) {
		wo = (size_t)1 << ((op - OP_COPY_N1_N1) / 4);
		off = get_be(ip->cmd + 1, wo);
		len = get_be(ip->cmd + 1 + wo, cmd_len(op) - 1 - wo);
	} else {
		ip->refused = 1; /* not a command librsync writes */
		return 0;
	}
	/*
	 * A copy from elsewhere or past the base's end (its bytes would be
	 * the file's holes, not the base's), or output past the declared
	 * size: not in place.
	 */
	if (off != (uint64_t)ip->pos || len > (uint64_t)(ip->size - ip->pos) ||
	    (op >= OP_COPY_N1_N1 && len > (uint64_t)(ip->base - ip->pos))) {
		ip->refused = 1;
		if (ip->apply)
			return rd_err_set(err, RD_EINTERNAL,
			    "delta changed between its passes");
		return 0;
	}
	if (op < OP_COPY_N1_N1)
		ip->lit_left = (int64_t)len;
	else
		ip->pos += (int64_t)len;
	return 0;
}

static int
all_zero(const unsigned char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

int
rdi_inplace_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct rdi_inplace *ip = arg;
	const unsigned char *p = buf;
	size_t n;

	while (len > 0 && !ip->refused) {
		if (ip->ended) {
			ip->refused = 1; /* trailing bytes */
			break;
		}
		if (ip->lit_left > 0) {
			n = (uint64_t)ip->lit_left < len ? (size_t)ip->lit_left
			                                 : len;
			/* zeros past the base's end: the final cut makes holes */
			if (ip->apply &&
			    !(ip->pos >= ip->base && all_zero(p, n)) &&
			    rdi_pwrite_all(ip->fd, p, n, (off_t)ip->pos, "file",
			        err) == -1)
				return -1;
			ip->pos += (int64_t)n;
			ip->lit_left -= (int64_t)n;
			ip->written += (int64_t)n;
			p += n;
			len -= n;
			continue;
		}
		ip->cmd[ip->have++] = *p++;
		len--;
		if (ip->have == 1 && ip->started)
			ip->need = cmd_len(ip->cmd[0]);
		if (ip->have == ip->need && inplace_cmd(ip, err) == -1)
			return -1;
	}
	return 0;
}

int
rdi_inplace_fits(const struct rdi_inplace *ip)
{
	return !ip->refused && ip->ended && ip->lit_left == 0 &&
	    ip->pos == ip->size;
}
