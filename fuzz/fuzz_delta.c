/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_delta.c: libFuzzer target for the in-place delta reader
 * (rdi_inplace_sink), which reads deltas from packs and streams.  An
 * input is a delta, against a fixed 64 KiB old version.  librsync's own
 * patch is the oracle: when it turns the input into some output and the
 * in-place reader says the delta fits that output's size, writing it in
 * place over the old version (fed in pieces whose size the input's
 * last byte sets) must give exactly those bytes; and no delta may make
 * the reader write more bytes than the size it was given.  The seed corpus
 * (fuzz/corpus/delta) holds aligned deltas and refused ones, made by
 * fuzz/mkcorpus.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"

#define OLD_LEN (64 * 1024)
#define OUT_MAX (1024 * 1024)

static unsigned char old[OLD_LEN];

struct capped {
	unsigned char *buf;
	size_t len;
};

static int
capped_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct capped *c = arg;

	if (len > OUT_MAX - c->len)
		return rd_err_set(err, RD_ECORRUPT, "output too long");
	memcpy(c->buf + c->len, buf, len);
	c->len += len;
	return 0;
}

static int
fresh_old(void)
{
	int fd = memfd_create("old", MFD_CLOEXEC);

	if (fd == -1 || pwrite(fd, old, OLD_LEN, 0) != OLD_LEN)
		abort();
	return fd;
}

/* librsync's patch of "data" over the old version: 0, or -1 if refused. */
static int
oracle(const uint8_t *data, size_t size, struct capped *out)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_rsjob *j = NULL;
	int fd = fresh_old(), r;

	r = rdi_patch_new(fd, &j, &err);
	if (r == 0)
		r = rdi_rsjob_write(j, data, size, capped_sink, out, &err);
	if (r == 0)
		r = rdi_rsjob_finish(j, capped_sink, out, &err);
	rdi_rsjob_free(j);
	close(fd);
	return r;
}

/* The in-place reader over "data", writing when "apply"; its verdict. */
static int
inplace(const uint8_t *data, size_t size, int fd, int64_t len, int apply,
    size_t piece)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_inplace ip;
	size_t i, n;

	rdi_inplace_init(&ip, fd, len, OLD_LEN);
	ip.apply = apply;
	for (i = 0; i < size; i += n) {
		n = size - i < piece ? size - i : piece;
		if (rdi_inplace_sink(&ip, data + i, n, &err) == -1)
			abort(); /* only a write can fail, and it did not */
	}
	if (ip.written > len)
		abort();
	return rdi_inplace_fits(&ip);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char *want, *mine;
	struct capped out;
	size_t piece = size > 0 ? (size_t)data[size - 1] % 37 + 1 : 1;
	uint32_t x = 12345;
	int64_t len;
	size_t i;
	int fd, patched;

	if (want == NULL) {
		for (i = 0; i < OLD_LEN; i++) {
			x = x * 1103515245 + 12345;
			old[i] = (unsigned char)(x >> 16);
		}
		want = malloc(OUT_MAX);
		mine = malloc(OUT_MAX);
		if (want == NULL || mine == NULL)
			abort();
	}
	out.buf = want;
	out.len = 0;
	patched = oracle(data, size, &out) == 0;
	/* refused by librsync: a size to check the reader against anyway */
	len = patched ? (int64_t)out.len : OLD_LEN / 2;
	if (!inplace(data, size, -1, len, 0, piece))
		return 0;
	fd = fresh_old();
	if (inplace(data, size, fd, len, 1, piece) != 1 ||
	    ftruncate(fd, (off_t)len) == -1)
		abort();
	/* it fits: written over the old version, the bytes are librsync's */
	if (patched &&
	    (pread(fd, mine, (size_t)len, 0) != len ||
	        memcmp(mine, want, (size_t)len) != 0))
		abort();
	close(fd);
	return 0;
}
