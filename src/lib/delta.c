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
	rs_signature_t *sig; /* delta: the loaded signature */
	int basis_fd;        /* patch: the old version */
	int io_errno;        /* patch: errno of a failed pread */
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
