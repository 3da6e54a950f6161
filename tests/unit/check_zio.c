/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_zio.c: unit tests of zio.c: zlib and zstd round trips compared
 * byte for byte (input and compressed stream both fed in odd-sized
 * pieces), damaged streams (truncated, a flipped byte, trailing bytes),
 * sink errors, and the codec names.
 */
#include "config.h"

#include <string.h>

#include "rd_int.h"
#include "unit.h"

#define MIB (1024 * 1024)

static int
have(int codec)
{
	return rd_codec_available(codec);
}

/* Compress "len" bytes of "data", fed in pieces of "piece" bytes. */
static void
zcompress(int codec, const unsigned char *data, size_t len, size_t piece,
    struct rdi_buf *out)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_zenc *z = NULL;
	size_t off, n;

	ck_assert_int_eq(rdi_zenc_new(codec, &z, &err), 0);
	for (off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		ck_assert_int_eq(rdi_zenc_write(z, data + off, n, rdi_buf_sink,
		                     out, &err),
		    0);
	}
	ck_assert_int_eq(rdi_zenc_finish(z, rdi_buf_sink, out, &err), 0);
	ck_assert_int_eq(err.code, RD_OK);
	rdi_zenc_free(z);
}

/*
 * Decompress "len" bytes of "data", fed in pieces of "piece" bytes, then
 * finish.  Returns 0, or -1 with "err" set by the write or the finish.
 */
static int
zdecompress(int codec, const unsigned char *data, size_t len, size_t piece,
    struct rdi_buf *out, struct rd_err *err)
{
	struct rdi_zdec *z = NULL;
	size_t off, n;
	int ret = -1;

	ck_assert_int_eq(rdi_zdec_new(codec, &z, err), 0);
	for (off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		if (rdi_zdec_write(z, data + off, n, rdi_buf_sink, out, err) ==
		    -1)
			goto out;
	}
	if (rdi_zdec_finish(z, rdi_buf_sink, out, err) == -1)
		goto out;
	ret = 0;
out:
	rdi_zdec_free(z);
	return ret;
}

enum data_kind { D_EMPTY, D_ONE, D_TEXT, D_RANDOM };

/* clang-format off */
static const struct {
	int codec;
	enum data_kind kind;
	size_t len;
	size_t in_piece;	/* input to the compressor */
	size_t out_piece;	/* compressed stream to the decompressor */
} trips[] = {
	{ RD_CODEC_ZLIB, D_EMPTY,  0,		1,	  1 },
	{ RD_CODEC_ZLIB, D_ONE,	   1,		1,	  1 },
	{ RD_CODEC_ZLIB, D_TEXT,   100000,	1,	  1 },
	{ RD_CODEC_ZLIB, D_TEXT,   100000,	7,	  13 },
	{ RD_CODEC_ZLIB, D_TEXT,   10 * MIB,	65537,	  4099 },
	{ RD_CODEC_ZLIB, D_TEXT,   10 * MIB,	10 * MIB, 10 * MIB },
	{ RD_CODEC_ZLIB, D_RANDOM, MIB,		4093,	  MIB + 1 },
	{ RD_CODEC_ZLIB, D_RANDOM, 3 * MIB + 5,	3 * MIB,  65521 },
	{ RD_CODEC_ZSTD, D_EMPTY,  0,		1,	  1 },
	{ RD_CODEC_ZSTD, D_ONE,	   1,		1,	  1 },
	{ RD_CODEC_ZSTD, D_TEXT,   100000,	1,	  1 },
	{ RD_CODEC_ZSTD, D_TEXT,   100000,	7,	  13 },
	{ RD_CODEC_ZSTD, D_TEXT,   10 * MIB,	65537,	  4099 },
	{ RD_CODEC_ZSTD, D_TEXT,   10 * MIB,	10 * MIB, 10 * MIB },
	{ RD_CODEC_ZSTD, D_RANDOM, MIB,		4093,	  MIB + 1 },
	{ RD_CODEC_ZSTD, D_RANDOM, 3 * MIB + 5,	3 * MIB,  65521 },
};
/* clang-format on */

START_TEST(test_round_trip)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c = { NULL, 0, 0 }, d = { NULL, 0, 0 };
	size_t len = trips[_i].len;
	unsigned char *data;

	if (!have(trips[_i].codec))
		return;
	data = malloc(len + 1);
	ck_assert_ptr_nonnull(data);
	if (trips[_i].kind == D_ONE)
		data[0] = 'x';
	else if (trips[_i].kind == D_TEXT)
		unit_fill_text(data, len, (uint64_t)_i);
	else if (trips[_i].kind == D_RANDOM)
		unit_fill_random(data, len, (uint64_t)_i);
	zcompress(trips[_i].codec, data, len, trips[_i].in_piece, &c);
	ck_assert_uint_gt(c.len, 0);
	if (trips[_i].kind == D_TEXT)
		ck_assert_uint_lt(c.len, len / 3);
	if (trips[_i].kind == D_RANDOM)
		ck_assert_uint_ge(c.len, len);
	unit_ok(zdecompress(trips[_i].codec, c.data, c.len, trips[_i].out_piece,
	            &d, &err),
	    err);
	ck_assert_str_eq(err.msg, "");
	if (len > 0)
		unit_assert_bytes(d.data, d.len, data, len);
	else
		ck_assert_uint_eq(d.len, 0);
	rdi_buf_release(&c);
	rdi_buf_release(&d);
	free(data);
}
END_TEST

START_TEST(test_reset)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c1 = { NULL, 0, 0 }, c2 = { NULL, 0, 0 };
	struct rdi_buf d = { NULL, 0, 0 };
	struct rdi_zenc *z = NULL;
	int codec = _i == 0 ? RD_CODEC_ZLIB : RD_CODEC_ZSTD;

	if (!have(codec))
		return;
	/* one compressor, two independent streams */
	ck_assert_int_eq(rdi_zenc_new(codec, &z, &err), 0);
	ck_assert_int_eq(rdi_zenc_write(z, "first stream", 12, rdi_buf_sink,
	                     &c1, &err),
	    0);
	ck_assert_int_eq(rdi_zenc_finish(z, rdi_buf_sink, &c1, &err), 0);
	ck_assert_int_eq(rdi_zenc_reset(z, &err), 0);
	ck_assert_int_eq(rdi_zenc_write(z, "second", 6, rdi_buf_sink, &c2,
	                     &err),
	    0);
	ck_assert_int_eq(rdi_zenc_finish(z, rdi_buf_sink, &c2, &err), 0);
	rdi_zenc_free(z);
	unit_ok(zdecompress(codec, c2.data, c2.len, 3, &d, &err), err);
	unit_assert_bytes(d.data, d.len, "second", (size_t)6);
	d.len = 0;
	unit_ok(zdecompress(codec, c1.data, c1.len, 5, &d, &err), err);
	unit_assert_bytes(d.data, d.len, "first stream", (size_t)12);
	rdi_buf_release(&c1);
	rdi_buf_release(&c2);
	rdi_buf_release(&d);
}
END_TEST

START_TEST(test_raw_passthrough)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf d = { NULL, 0, 0 };

	ck_assert_int_eq(zdecompress(RD_CODEC_RAW,
	                     (const unsigned char *)"plain bytes", 11, 4, &d,
	                     &err),
	    0);
	unit_assert_bytes(d.data, d.len, "plain bytes", (size_t)11);
	rdi_buf_release(&d);
	ck_assert_int_eq(zdecompress(RD_CODEC_RAW, NULL, 0, 4, &d, &err), 0);
	ck_assert_uint_eq(d.len, 0);
}
END_TEST

/* A compressed stream of 100000 bytes of text. */
static void
sample(int codec, struct rdi_buf *c, unsigned char **data)
{
	*data = malloc(100000);
	ck_assert_ptr_nonnull(*data);
	unit_fill_text(*data, 100000, 7);
	zcompress(codec, *data, 100000, 100000, c);
}

static const size_t cuts[] = { 1, 4, 10, 100, 0 /* half */, ~(size_t)0 };

START_TEST(test_truncated)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c = { NULL, 0, 0 }, d = { NULL, 0, 0 };
	unsigned char *data;
	size_t k, keep;
	int codec;

	for (k = 0; k < 2; k++) {
		codec = k == 0 ? RD_CODEC_ZLIB : RD_CODEC_ZSTD;
		if (!have(codec))
			continue;
		c.len = 0;
		sample(codec, &c, &data);
		if (cuts[_i] == ~(size_t)0)
			keep = 0;
		else if (cuts[_i] == 0)
			keep = c.len / 2;
		else
			keep = c.len - cuts[_i];
		d.len = 0;
		rd_err_clear(&err);
		ck_assert_int_eq(zdecompress(codec, c.data, keep, 4099, &d,
		                     &err),
		    -1);
		ck_assert_int_eq(err.code, RD_ECORRUPT);
		ck_assert_str_eq(err.msg, "compressed data is truncated");
		/* what came out is a prefix of the original */
		ck_assert_uint_le(d.len, 100000);
		if (d.len > 0)
			unit_assert_bytes(d.data, d.len, data, d.len);
		free(data);
	}
	rdi_buf_release(&c);
	rdi_buf_release(&d);
}
END_TEST

START_TEST(test_zlib_flipped)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c = { NULL, 0, 0 }, d = { NULL, 0, 0 };
	unsigned char *data;

	sample(RD_CODEC_ZLIB, &c, &data);
	/* the Adler-32 at the end */
	c.data[c.len - 1] ^= 0x01;
	ck_assert_int_eq(zdecompress(RD_CODEC_ZLIB, c.data, c.len, 4099, &d,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "compressed data is damaged (zlib: incorrect data check)");
	c.data[c.len - 1] ^= 0x01;
	/* the header */
	c.data[0] ^= 0xff;
	d.len = 0;
	ck_assert_int_eq(zdecompress(RD_CODEC_ZLIB, c.data, c.len, 4099, &d,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "compressed data is damaged (zlib: incorrect header check)");
	c.data[0] ^= 0xff;
	/* the middle: caught by the decoder or by the check at the end */
	c.data[c.len / 2] ^= 0x10;
	d.len = 0;
	rd_err_clear(&err);
	ck_assert_int_eq(zdecompress(RD_CODEC_ZLIB, c.data, c.len, 4099, &d,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_int_eq(strncmp(err.msg, "compressed data is ", 19), 0);
	free(data);
	rdi_buf_release(&c);
	rdi_buf_release(&d);
}
END_TEST

/*
 * rdi_zdec_skip_check: zlib's Adler-32 is not compared (pack reads check
 * a CRC-32 of the payload instead), across resets; a cut stream and a bad
 * header are still errors.
 */
START_TEST(test_zlib_skip_check)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c = { NULL, 0, 0 }, d = { NULL, 0, 0 };
	struct rdi_zdec *z = NULL;
	unsigned char *data;
	int round;

	sample(RD_CODEC_ZLIB, &c, &data);
	c.data[c.len - 1] ^= 0x01;
	ck_assert_int_eq(rdi_zdec_new(RD_CODEC_ZLIB, &z, &err), 0);
	ck_assert_int_eq(rdi_zdec_skip_check(z, &err), 0);
	for (round = 0; round < 2; round++) {
		d.len = 0;
		ck_assert_int_eq(rdi_zdec_write(z, c.data, c.len, rdi_buf_sink,
		                     &d, &err),
		    0);
		ck_assert_int_eq(rdi_zdec_finish(z, rdi_buf_sink, &d, &err), 0);
		unit_assert_bytes(d.data, d.len, data, 100000);
		ck_assert_int_eq(rdi_zdec_reset(z, &err), 0);
	}
	/* cut before the end of the deflate data */
	ck_assert_int_eq(rdi_zdec_write(z, c.data, c.len - 10, rdi_buf_sink, &d,
	                     &err),
	    0);
	ck_assert_int_eq(rdi_zdec_finish(z, rdi_buf_sink, &d, &err), -1);
	ck_assert_str_eq(err.msg, "compressed data is truncated");
	ck_assert_int_eq(rdi_zdec_reset(z, &err), 0);
	c.data[0] ^= 0xff;
	ck_assert_int_eq(rdi_zdec_write(z, c.data, c.len, rdi_buf_sink, &d,
	                     &err),
	    -1);
	ck_assert_str_eq(err.msg,
	    "compressed data is damaged (zlib: incorrect header check)");
	rdi_zdec_free(z);
	/* raw and zstd accept the call and decode as before */
	ck_assert_int_eq(rdi_zdec_new(RD_CODEC_RAW, &z, &err), 0);
	ck_assert_int_eq(rdi_zdec_skip_check(z, &err), 0);
	rdi_zdec_free(z);
	free(data);
	rdi_buf_release(&c);
	rdi_buf_release(&d);
}
END_TEST

#define PULL_LEN 30000

/*
 * rdi_zdec_pull: output in pieces as small as one byte, from input in
 * pieces; a cut stream is caught by rdi_zdec_finish().
 */
START_TEST(test_pull)
{
	static const size_t caps[] = { 1, 7, 4096, 1 << 20 };
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c = { NULL, 0, 0 };
	struct rdi_zdec *z = NULL;
	const unsigned char *in;
	unsigned char *data, *out, *got;
	size_t k, i, inlen, n, total, feed, fed;
	int codec;

	got = malloc(PULL_LEN);
	out = malloc(1 << 20);
	ck_assert_ptr_nonnull(got);
	ck_assert_ptr_nonnull(out);
	for (k = 0; k < 3; k++) {
		codec = k == 0 ? RD_CODEC_RAW
		    : k == 1   ? RD_CODEC_ZLIB
		               : RD_CODEC_ZSTD;
		if (!have(codec))
			continue;
		data = malloc(PULL_LEN);
		ck_assert_ptr_nonnull(data);
		unit_fill_text(data, PULL_LEN, 7);
		c.len = 0;
		if (codec == RD_CODEC_RAW)
			ck_assert_int_eq(rdi_buf_append(&c, data, PULL_LEN,
			                     &err),
			    0);
		else
			zcompress(codec, data, PULL_LEN, PULL_LEN, &c);
		for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
			rd_err_clear(&err);
			ck_assert_int_eq(rdi_zdec_new(codec, &z, &err), 0);
			total = 0;
			/* input in pieces of 1000 bytes */
			for (fed = 0; fed < c.len; fed += feed) {
				feed = c.len - fed < 1000 ? c.len - fed : 1000;
				in = c.data + fed;
				inlen = feed;
				/* no ck_assert per byte: each one is a write */
				do {
					if (rdi_zdec_pull(z, &in, &inlen, out,
					        caps[i], &n, &err) == -1 ||
					    n > caps[i] || total + n > PULL_LEN)
						break;
					memcpy(got + total, out, n);
					total += n;
				} while (inlen > 0 || n == caps[i]);
				ck_assert_msg(err.code == RD_OK,
				    "codec %d cap %zu: %s", codec, caps[i],
				    err.msg);
				ck_assert_uint_le(n, caps[i]);
				ck_assert_uint_le(total, PULL_LEN);
				ck_assert_uint_eq(inlen, 0);
			}
			ck_assert_int_eq(rdi_zdec_finish(z, NULL, NULL, &err),
			    0);
			unit_assert_bytes(got, total, data, PULL_LEN);
			rdi_zdec_free(z);
		}
		if (codec != RD_CODEC_RAW) {
			/* cut: all of it pulled, then finish says so */
			ck_assert_int_eq(rdi_zdec_new(codec, &z, &err), 0);
			in = c.data;
			inlen = c.len - 4;
			do
				ck_assert_int_eq(rdi_zdec_pull(z, &in, &inlen,
				                     out, 1 << 20, &n, &err),
				    0);
			while (inlen > 0 || n > 0);
			ck_assert_int_eq(rdi_zdec_finish(z, NULL, NULL, &err),
			    -1);
			ck_assert_str_eq(err.msg,
			    "compressed data is truncated");
			rdi_zdec_free(z);
		}
		free(data);
	}
	free(got);
	free(out);
	rdi_buf_release(&c);
}
END_TEST

/*
 * rdi_zenc_split: zlib in blocks on two threads is one zlib stream that a
 * checking inflate (Adler-32 and all) reads back, for lengths around the
 * 1 MiB block; hardly larger than the one-thread stream; the compressor
 * goes back to one thread on reset, and splits again.
 */
START_TEST(test_zlib_split)
{
	static const size_t lens[] = { 0, 1, 1 << 20, (1 << 20) + 1,
		(5 << 20) + 12345 };
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c = { NULL, 0, 0 }, d = { NULL, 0, 0 },
	               one = { NULL, 0, 0 };
	struct rdi_zenc *z = NULL;
	unsigned char *data;
	size_t k, off, n, len, piece;
	int round;

	data = malloc(lens[4]);
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(rdi_zenc_new(RD_CODEC_ZLIB, &z, &err), 0);
	for (round = 0; round < 2; round++) {
		/* text, then random (blocks stored, not shrunk) */
		if (round == 0)
			unit_fill_text(data, lens[4], 21);
		else
			unit_fill_random(data, lens[4], 22);
		for (k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			len = lens[k];
			piece = k % 2 == 0 ? 65536 : 777777;
			c.len = 0;
			ck_assert_int_eq(rdi_zenc_split(z, &err), 1);
			for (off = 0; off < len; off += n) {
				n = len - off < piece ? len - off : piece;
				ck_assert_int_eq(rdi_zenc_write(z, data + off,
				                     n, rdi_buf_sink, &c, &err),
				    0);
			}
			ck_assert_int_eq(rdi_zenc_finish(z, rdi_buf_sink, &c,
			                     &err),
			    0);
			d.len = 0;
			ck_assert_int_eq(zdecompress(RD_CODEC_ZLIB, c.data,
			                     c.len, 4099, &d, &err),
			    0);
			unit_assert_bytes(d.data, d.len, data, len);
			/* one thread, after a reset */
			one.len = 0;
			ck_assert_int_eq(rdi_zenc_reset(z, &err), 0);
			ck_assert_int_eq(rdi_zenc_write(z, data, len,
			                     rdi_buf_sink, &one, &err),
			    0);
			ck_assert_int_eq(rdi_zenc_finish(z, rdi_buf_sink, &one,
			                     &err),
			    0);
			ck_assert_uint_le(c.len, one.len + one.len / 100 + 64);
			d.len = 0;
			ck_assert_int_eq(zdecompress(RD_CODEC_ZLIB, one.data,
			                     one.len, 65536, &d, &err),
			    0);
			unit_assert_bytes(d.data, d.len, data, len);
			ck_assert_int_eq(rdi_zenc_reset(z, &err), 0);
		}
	}
	/* a stream left unfinished; reset, then free */
	ck_assert_int_eq(rdi_zenc_split(z, &err), 1);
	ck_assert_int_eq(rdi_zenc_write(z, data, 3 << 20, rdi_buf_sink, &c,
	                     &err),
	    0);
	ck_assert_int_eq(rdi_zenc_reset(z, &err), 0);
	rdi_zenc_free(z);
	/* freed with a block still at the helper */
	ck_assert_int_eq(rdi_zenc_new(RD_CODEC_ZLIB, &z, &err), 0);
	ck_assert_int_eq(rdi_zenc_split(z, &err), 1);
	c.len = 0;
	ck_assert_int_eq(rdi_zenc_write(z, data, (1 << 20) + 5, rdi_buf_sink,
	                     &c, &err),
	    0);
	rdi_zenc_free(z);
	if (have(RD_CODEC_ZSTD)) {
		ck_assert_int_eq(rdi_zenc_new(RD_CODEC_ZSTD, &z, &err), 0);
		ck_assert_int_eq(rdi_zenc_split(z, &err), 0);
		rdi_zenc_free(z);
	}
	free(data);
	rdi_buf_release(&c);
	rdi_buf_release(&d);
	rdi_buf_release(&one);
}
END_TEST

/*
 * Runs of zeros (a sparse file's holes) between data: on one thread and
 * split, the zeros take deflate's limit (1 byte in about 1030) and the
 * stream round-trips byte for byte.
 */
START_TEST(test_zlib_zero_runs)
{
	const size_t len = 40 * MIB;
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c = { NULL, 0, 0 }, d = { NULL, 0, 0 };
	struct rdi_zenc *z = NULL;
	unsigned char *data;
	size_t off, n;
	int split;

	data = calloc(1, len);
	ck_assert_ptr_nonnull(data);
	/* 64 KiB of data at 1 MiB, 100 bytes at 20 MiB + 7, and the end */
	unit_fill_random(data + MIB, 65536, 31);
	unit_fill_random(data + 20 * MIB + 7, 100, 32);
	unit_fill_random(data + len - 3, 3, 33);
	ck_assert_int_eq(rdi_zenc_new(RD_CODEC_ZLIB, &z, &err), 0);
	for (split = 0; split < 2; split++) {
		c.len = 0;
		ck_assert_int_eq(rdi_zenc_reset(z, &err), 0);
		if (split)
			ck_assert_int_eq(rdi_zenc_split(z, &err), 1);
		for (off = 0; off < len; off += n) {
			n = len - off < 262144 ? len - off : 262144;
			ck_assert_int_eq(rdi_zenc_write(z, data + off, n,
			                     rdi_buf_sink, &c, &err),
			    0);
		}
		ck_assert_int_eq(rdi_zenc_finish(z, rdi_buf_sink, &c, &err), 0);
		/*
		 * 40 MiB of zeros in 41 KB, the 64 KiB stored; split, the
		 * three 1 MiB blocks with data in them compress their zeros
		 * less
		 */
		ck_assert_uint_lt(c.len, 65536 + len / 1000 + 16384);
		d.len = 0;
		ck_assert_int_eq(zdecompress(RD_CODEC_ZLIB, c.data, c.len,
		                     65536, &d, &err),
		    0);
		unit_assert_bytes(d.data, d.len, data, len);
	}
	rdi_zenc_free(z);
	free(data);
	rdi_buf_release(&c);
	rdi_buf_release(&d);
}
END_TEST

START_TEST(test_zstd_flipped)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c = { NULL, 0, 0 }, d = { NULL, 0, 0 };
	unsigned char *data;

	if (!have(RD_CODEC_ZSTD))
		return;
	sample(RD_CODEC_ZSTD, &c, &data);
	/* the frame magic */
	c.data[0] ^= 0xff;
	ck_assert_int_eq(zdecompress(RD_CODEC_ZSTD, c.data, c.len, 4099, &d,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "compressed data is damaged (zstd: Unknown frame descriptor)");
	ck_assert_uint_eq(d.len, 0);
	free(data);
	rdi_buf_release(&c);
	rdi_buf_release(&d);
}
END_TEST

START_TEST(test_trailing)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c = { NULL, 0, 0 }, d = { NULL, 0, 0 };
	struct rdi_zdec *z = NULL;
	unsigned char *data;
	size_t whole;

	/* garbage in the same write as the end of the stream */
	sample(RD_CODEC_ZLIB, &c, &data);
	whole = c.len;
	ck_assert_int_eq(rdi_buf_append(&c, "garbage", 7, &err), 0);
	ck_assert_int_eq(zdecompress(RD_CODEC_ZLIB, c.data, c.len, c.len, &d,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "compressed data has trailing bytes");
	/* and in a write of its own, after the stream ended */
	d.len = 0;
	ck_assert_int_eq(rdi_zdec_new(RD_CODEC_ZLIB, &z, &err), 0);
	ck_assert_int_eq(rdi_zdec_write(z, c.data, whole, rdi_buf_sink, &d,
	                     &err),
	    0);
	unit_assert_bytes(d.data, d.len, data, (size_t)100000);
	ck_assert_int_eq(rdi_zdec_write(z, "x", 1, rdi_buf_sink, &d, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "compressed data has trailing bytes");
	rdi_zdec_free(z);
	free(data);
	rdi_buf_release(&c);
	rdi_buf_release(&d);
}
END_TEST

START_TEST(test_zstd_trailing)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c = { NULL, 0, 0 }, d = { NULL, 0, 0 };
	unsigned char *data;

	if (!have(RD_CODEC_ZSTD))
		return;
	sample(RD_CODEC_ZSTD, &c, &data);
	ck_assert_int_eq(rdi_buf_append(&c, "garbage!", 8, &err), 0);
	ck_assert_int_eq(zdecompress(RD_CODEC_ZSTD, c.data, c.len, c.len, &d,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "compressed data is damaged (zstd: Unknown frame descriptor)");
	free(data);
	rdi_buf_release(&c);
	rdi_buf_release(&d);
}
END_TEST

static int
failing_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	int *calls = arg;

	(void)buf;
	(void)len;
	(*calls)++;
	return rd_err_set(err, RD_EIO, "cannot write 'sink': disk full");
}

START_TEST(test_sink_error)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf c = { NULL, 0, 0 };
	struct rdi_zenc *ze = NULL;
	struct rdi_zdec *zd = NULL;
	unsigned char *data;
	int calls = 0;
	int codec = _i == 0 ? RD_CODEC_ZLIB : RD_CODEC_ZSTD;

	if (!have(codec))
		return;
	sample(codec, &c, &data);
	/* the compressor passes a sink's error up unchanged */
	ck_assert_int_eq(rdi_zenc_new(codec, &ze, &err), 0);
	ck_assert_int_eq(rdi_zenc_write(ze, data, 100000, failing_sink, &calls,
	                     &err) == -1 ||
	        rdi_zenc_finish(ze, failing_sink, &calls, &err) == -1,
	    1);
	ck_assert_int_eq(calls, 1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_str_eq(err.msg, "cannot write 'sink': disk full");
	rdi_zenc_free(ze);
	/* so does the decompressor */
	calls = 0;
	rd_err_clear(&err);
	ck_assert_int_eq(rdi_zdec_new(codec, &zd, &err), 0);
	ck_assert_int_eq(rdi_zdec_write(zd, c.data, c.len, failing_sink, &calls,
	                     &err),
	    -1);
	ck_assert_int_eq(calls, 1);
	ck_assert_str_eq(err.msg, "cannot write 'sink': disk full");
	rdi_zdec_free(zd);
	free(data);
	rdi_buf_release(&c);
}
END_TEST

START_TEST(test_new_bad_codec)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_zenc *ze = NULL;
	struct rdi_zdec *zd = NULL;

	/* raw is stored as is: there is no raw compressor */
	ck_assert_int_eq(rdi_zenc_new(RD_CODEC_RAW, &ze, &err), -1);
	ck_assert_int_eq(err.code, RD_EUNAVAIL);
	ck_assert_str_eq(err.msg, "codec 'raw' is not available in this build");
	ck_assert_ptr_null(ze);
	ck_assert_int_eq(rdi_zenc_new(9, &ze, &err), -1);
	ck_assert_str_eq(err.msg,
	    "codec 'unknown' is not available in this build");
	/* an unknown codec number read from a pack is damage */
	ck_assert_int_eq(rdi_zdec_new(9, &zd, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "codec 'unknown' is not available in this build");
	ck_assert_ptr_null(zd);
	rdi_zenc_free(NULL);
	rdi_zdec_free(NULL);
}
END_TEST

START_TEST(test_codec_parse)
{
	struct rd_err err = RD_ERR_INIT;

	ck_assert_int_eq(rd_codec_parse("zlib", &err), RD_CODEC_ZLIB);
	if (have(RD_CODEC_ZSTD)) {
		ck_assert_int_eq(rd_codec_parse("zstd", &err), RD_CODEC_ZSTD);
	} else {
		ck_assert_int_eq(rd_codec_parse("zstd", &err), -1);
		ck_assert_int_eq(err.code, RD_EUNAVAIL);
		ck_assert_str_eq(err.msg,
		    "codec 'zstd' is not available in this build");
	}
	ck_assert_int_eq(err.code, have(RD_CODEC_ZSTD) ? RD_OK : RD_EUNAVAIL);
	ck_assert_int_eq(rd_codec_parse("lz4", &err), -1);
	ck_assert_int_eq(err.code, RD_EUSAGE);
	ck_assert_str_eq(err.msg,
	    "unknown codec 'lz4' (expected zlib or zstd)");
	ck_assert_int_eq(rd_codec_parse("raw", &err), -1);
	ck_assert_str_eq(err.msg,
	    "unknown codec 'raw' (expected zlib or zstd)");
	ck_assert_int_eq(rd_codec_parse("ZLIB", &err), -1);
	ck_assert_str_eq(err.msg,
	    "unknown codec 'ZLIB' (expected zlib or zstd)");
	ck_assert_int_eq(rd_codec_parse("", &err), -1);
	ck_assert_str_eq(err.msg, "unknown codec '' (expected zlib or zstd)");
}
END_TEST

START_TEST(test_codec_names)
{
	ck_assert_str_eq(rd_codec_name(RD_CODEC_RAW), "raw");
	ck_assert_str_eq(rd_codec_name(RD_CODEC_ZLIB), "zlib");
	ck_assert_str_eq(rd_codec_name(RD_CODEC_ZSTD), "zstd");
	ck_assert_str_eq(rd_codec_name(3), "unknown");
	ck_assert_str_eq(rd_codec_name(-1), "unknown");
	ck_assert_int_eq(rd_codec_available(RD_CODEC_RAW), 1);
	ck_assert_int_eq(rd_codec_available(RD_CODEC_ZLIB), 1);
	ck_assert_int_eq(rd_codec_available(3), 0);
#ifdef HAVE_ZSTD
	ck_assert_int_eq(rd_codec_available(RD_CODEC_ZSTD), 1);
#else
	ck_assert_int_eq(rd_codec_available(RD_CODEC_ZSTD), 0);
#endif
}
END_TEST

static Suite *
zio_suite(void)
{
	Suite *s = suite_create("zio");
	TCase *tc;

	tc = tcase_create("round_trip");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_round_trip, 0,
	    (int)(sizeof(trips) / sizeof(trips[0])));
	tcase_add_loop_test(tc, test_reset, 0, 2);
	tcase_add_test(tc, test_raw_passthrough);
	suite_add_tcase(s, tc);

	tc = tcase_create("damaged");
	tcase_add_loop_test(tc, test_truncated, 0,
	    (int)(sizeof(cuts) / sizeof(cuts[0])));
	tcase_add_test(tc, test_zlib_flipped);
	tcase_add_test(tc, test_zlib_skip_check);
	tcase_add_test(tc, test_zstd_flipped);
	tcase_add_test(tc, test_trailing);
	tcase_add_test(tc, test_zstd_trailing);
	suite_add_tcase(s, tc);

	/* byte-sized pulls and megabytes on two threads: slow under ASan */
	tc = tcase_create("pull");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pull);
	suite_add_tcase(s, tc);

	tc = tcase_create("split");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_zlib_split);
	tcase_add_test(tc, test_zlib_zero_runs);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_sink_error, 0, 2);
	tcase_add_test(tc, test_new_bad_codec);
	suite_add_tcase(s, tc);

	tc = tcase_create("codec");
	tcase_add_test(tc, test_codec_parse);
	tcase_add_test(tc, test_codec_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(zio_suite());
}
