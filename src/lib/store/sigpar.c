/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sigpar.c: a signature made on two threads.  The sums of a block do not
 * depend on the blocks before it, so a buffer's blocks can be split: a
 * helper thread sums the first ones with one librsync job while the
 * caller hashes or compresses the buffer and then sums the rest with a
 * second job.  Librsync's 12-byte header, then the sums of the two jobs
 * for each buffer in turn (without their own headers), are byte for byte
 * the signature one job makes; check_delta holds it to that.
 *
 * The helper is worth a thread only for a large file, which a run of
 * rdsnap may otherwise read on one CPU after the others have finished.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <librsync.h>

#include "rd_int.h"

#define SIG_HEADER 12

/* A job's sums, without its header. */
struct part {
	struct rdi_rsjob *job;
	struct rdi_buf out;
	size_t hdr;      /* header bytes still to come */
	int64_t blocks;  /* blocks given */
	int64_t entries; /* bytes of sums it gave */
};

enum { IDLE, WORK, DONE, QUIT };

struct rdi_sigpar {
	size_t block_len;
	struct part a, b; /* a: the helper's, first; b: the caller's */
	int header;       /* the header is out */
	int busy;         /* between start and end (the caller's own) */
	pthread_t thread;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;
	/* the helper's work: "len" bytes at "buf", to the end with "eof" */
	const unsigned char *buf;
	size_t len;
	int eof;
	int ok;
	struct rd_err err;
};

static void
put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static int
part_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct part *p = arg;
	size_t drop = len < p->hdr ? len : p->hdr;

	p->hdr -= drop;
	p->entries += (int64_t)(len - drop);
	return rdi_buf_append(&p->out, (const unsigned char *)buf + drop,
	    len - drop, err);
}

/*
 * Sum "len" bytes with part "p" (whole blocks, or the last bytes with
 * "eof"), checking that the job gave every block's sums at once: else
 * the two parts could not be put in order.
 */
static int
part_run(struct part *p, size_t block_len, const unsigned char *buf, size_t len,
    int eof, struct rd_err *err)
{
	if (rdi_rsjob_write(p->job, buf, len, part_sink, p, err) == -1 ||
	    (eof && rdi_rsjob_finish(p->job, part_sink, p, err) == -1))
		return -1;
	p->blocks += (int64_t)((len + block_len - 1) / block_len);
	if (p->entries != p->blocks * (4 + RDI_SIG_STRONG))
		return rd_err_set(err, RD_EINTERNAL, "signature lags the data");
	return 0;
}

static void *
helper(void *arg)
{
	struct rdi_sigpar *sp = arg;
	struct rd_err e = RD_ERR_INIT;
	int ok;

	pthread_mutex_lock(&sp->mu);
	for (;;) {
		while (sp->state != WORK && sp->state != QUIT)
			pthread_cond_wait(&sp->cv, &sp->mu);
		if (sp->state == QUIT)
			break;
		pthread_mutex_unlock(&sp->mu);
		rd_err_clear(&e);
		ok = part_run(&sp->a, sp->block_len, sp->buf, sp->len, sp->eof,
		         &e) == 0;
		pthread_mutex_lock(&sp->mu);
		sp->ok = ok;
		sp->err = e;
		sp->state = DONE;
		pthread_cond_broadcast(&sp->cv);
	}
	pthread_mutex_unlock(&sp->mu);
	return NULL;
}

int
rdi_sigpar_new(size_t block_len, struct rdi_sigpar **out, struct rd_err *err)
{
	struct rdi_sigpar *sp;

	sp = calloc(1, sizeof(*sp));
	if (sp == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	sp->block_len = block_len;
	sp->a.hdr = SIG_HEADER;
	sp->b.hdr = SIG_HEADER;
	pthread_mutex_init(&sp->mu, NULL);
	pthread_cond_init(&sp->cv, NULL);
	/* the helper's job and thread come with its first work */
	if (rdi_sig_new(block_len, &sp->b.job, err) == -1) {
		rdi_sigpar_free(sp);
		return -1;
	}
	*out = sp;
	return 0;
}

int
rdi_sigpar_start(struct rdi_sigpar *sp, const void *buf, size_t len, int eof,
    unsigned share, struct rd_err *err)
{
	size_t nb = len / sp->block_len;

	if (sp->busy || (!eof && len % sp->block_len != 0))
		return rd_err_set(err, RD_EINTERNAL,
		    "signature input out of turn or not in whole blocks");
	sp->busy = 1;
	sp->eof = eof;
	/* the helper's blocks are the first, the caller's end the file */
	sp->len = share >= 100 ? len : nb * share / 100 * sp->block_len;
	if (sp->len == 0) {
		/* nothing for the helper */
		pthread_mutex_lock(&sp->mu);
		sp->state = DONE;
		sp->ok = 1;
		pthread_mutex_unlock(&sp->mu);
		return 0;
	}
	if (!sp->started) {
		if (sp->a.job == NULL &&
		    rdi_sig_new(sp->block_len, &sp->a.job, err) == -1) {
			sp->busy = 0;
			return -1;
		}
		if (pthread_create(&sp->thread, NULL, helper, sp) != 0) {
			sp->busy = 0;
			return rd_err_set(err, RD_ENOMEM,
			    "cannot start a thread");
		}
		sp->started = 1;
	}
	pthread_mutex_lock(&sp->mu);
	sp->buf = buf;
	sp->state = WORK;
	pthread_cond_broadcast(&sp->cv);
	pthread_mutex_unlock(&sp->mu);
	return 0;
}

int
rdi_sigpar_end(struct rdi_sigpar *sp, const void *buf, size_t len,
    struct rdi_buf *sig, struct rd_err *err)
{
	unsigned char h[SIG_HEADER];
	size_t off = sp->len;
	int ok = 0;

	if (!sp->busy)
		return rd_err_set(err, RD_EINTERNAL, "signature out of turn");
	sp->busy = 0;
	/* the caller's part, while the helper may still be on its own */
	if (off < len)
		ok = part_run(&sp->b, sp->block_len,
		    (const unsigned char *)buf + off, len - off, sp->eof, err);
	pthread_mutex_lock(&sp->mu);
	while (sp->state != DONE)
		pthread_cond_wait(&sp->cv, &sp->mu);
	sp->state = IDLE;
	pthread_mutex_unlock(&sp->mu);
	if (ok == -1)
		return -1;
	if (!sp->ok) {
		*err = sp->err;
		return -1;
	}
	if (!sp->header) {
		/* librsync's: magic, block length, strong sum length */
		put_be32(h, RS_RK_BLAKE2_SIG_MAGIC);
		put_be32(h + 4, (uint32_t)sp->block_len);
		put_be32(h + 8, RDI_SIG_STRONG);
		if (rdi_buf_append(sig, h, sizeof(h), err) == -1)
			return -1;
		sp->header = 1;
	}
	if (rdi_buf_append(sig, sp->a.out.data, sp->a.out.len, err) == -1 ||
	    rdi_buf_append(sig, sp->b.out.data, sp->b.out.len, err) == -1)
		return -1;
	sp->a.out.len = 0;
	sp->b.out.len = 0;
	return 0;
}

void
rdi_sigpar_free(struct rdi_sigpar *sp)
{
	if (sp == NULL)
		return;
	if (sp->started) {
		pthread_mutex_lock(&sp->mu);
		while (sp->state == WORK)
			pthread_cond_wait(&sp->cv, &sp->mu);
		sp->state = QUIT;
		pthread_cond_broadcast(&sp->cv);
		pthread_mutex_unlock(&sp->mu);
		pthread_join(sp->thread, NULL);
	}
	rdi_rsjob_free(sp->a.job);
	rdi_rsjob_free(sp->b.job);
	rdi_buf_release(&sp->a.out);
	rdi_buf_release(&sp->b.out);
	pthread_cond_destroy(&sp->cv);
	pthread_mutex_destroy(&sp->mu);
	free(sp);
}
