/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * zio.c: the codecs of stored objects (zlib always, zstd when built with
 * it), as streaming compressors and decompressors that push their output
 * into a sink.  The only file that turns zlib and zstd errors into rd_err.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif

#include "rd_int.h"

#define ZOUT       65536
#define ZLIB_LEVEL 1
#define ZSTD_LEVEL 3

struct rdi_zenc {
	int codec;
	z_stream zs;
	int zs_live;
#ifdef HAVE_ZSTD
	ZSTD_CCtx *zc;
#endif
	unsigned char out[ZOUT];
};

struct rdi_zdec {
	int codec;
	int ended;
	int skip_check;
	z_stream zs;
	int zs_live;
#ifdef HAVE_ZSTD
	ZSTD_DCtx *zd;
	size_t zhint;
#endif
	unsigned char out[ZOUT];
};

const char *
rd_codec_name(int codec)
{
	switch (codec) {
	case RD_CODEC_RAW:
		return "raw";
	case RD_CODEC_ZLIB:
		return "zlib";
	case RD_CODEC_ZSTD:
		return "zstd";
	}
	return "unknown";
}

int
rd_codec_available(int codec)
{
	switch (codec) {
	case RD_CODEC_RAW:
	case RD_CODEC_ZLIB:
		return 1;
#ifdef HAVE_ZSTD
	case RD_CODEC_ZSTD:
		return 1;
#endif
	}
	return 0;
}

int
rd_codec_parse(const char *name, struct rd_err *err)
{
	int c;

	if (strcmp(name, "zlib") == 0)
		c = RD_CODEC_ZLIB;
	else if (strcmp(name, "zstd") == 0)
		c = RD_CODEC_ZSTD;
	else
		return rd_err_set(err, RD_EUSAGE,
		    "unknown codec '%s' (expected zlib or zstd)", name);
	if (!rd_codec_available(c))
		return rd_err_set(err, RD_EUNAVAIL,
		    "codec '%s' is not available in this build", name);
	return c;
}

int
rdi_zenc_new(int codec, struct rdi_zenc **out, struct rd_err *err)
{
	struct rdi_zenc *z;

	if (codec != RD_CODEC_ZLIB &&
	    !(codec == RD_CODEC_ZSTD && rd_codec_available(codec)))
		return rd_err_set(err, RD_EUNAVAIL,
		    "codec '%s' is not available in this build",
		    rd_codec_name(codec));
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	z->codec = codec;
	if (codec == RD_CODEC_ZLIB) {
		if (deflateInit(&z->zs, ZLIB_LEVEL) != Z_OK) {
			free(z);
			return rd_err_set(err, RD_ENOMEM,
			    "cannot start zlib compressor");
		}
		z->zs_live = 1;
	}
#ifdef HAVE_ZSTD
	else {
		z->zc = ZSTD_createCCtx();
		if (z->zc == NULL ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(z->zc,
		        ZSTD_c_compressionLevel, ZSTD_LEVEL))) {
			ZSTD_freeCCtx(z->zc);
			free(z);
			return rd_err_set(err, RD_ENOMEM,
			    "cannot start zstd compressor");
		}
	}
#endif
	*out = z;
	return 0;
}

static int
deflate_run(struct rdi_zenc *z, const void *buf, size_t len, int flush,
    rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	int rc;
	size_t have;

	z->zs.next_in = (Bytef *)(uintptr_t)buf;
	z->zs.avail_in = (uInt)len;
	do {
		z->zs.next_out = z->out;
		z->zs.avail_out = ZOUT;
		rc = deflate(&z->zs, flush);
		if (rc == Z_STREAM_ERROR)
			return rd_err_set(err, RD_EINTERNAL,
			    "zlib compression failed");
		have = ZOUT - z->zs.avail_out;
		if (have > 0 && sink(arg, z->out, have, err) == -1)
			return -1;
	} while (z->zs.avail_out == 0 ||
	    (flush == Z_FINISH && rc != Z_STREAM_END));
	return 0;
}

#ifdef HAVE_ZSTD
static int
zstd_run(struct rdi_zenc *z, const void *buf, size_t len,
    ZSTD_EndDirective mode, rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	ZSTD_inBuffer in = { buf, len, 0 };
	ZSTD_outBuffer o;
	size_t rem;

	for (;;) {
		o.dst = z->out;
		o.size = ZOUT;
		o.pos = 0;
		rem = ZSTD_compressStream2(z->zc, &o, &in, mode);
		if (ZSTD_isError(rem))
			return rd_err_set(err, RD_EINTERNAL,
			    "zstd compression failed: %s",
			    ZSTD_getErrorName(rem));
		if (o.pos > 0 && sink(arg, z->out, o.pos, err) == -1)
			return -1;
		if (mode == ZSTD_e_continue ? in.pos == in.size : rem == 0)
			break;
	}
	return 0;
}
#endif

int
rdi_zenc_write(struct rdi_zenc *z, const void *buf, size_t len,
    rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	const unsigned char *p = buf;
	size_t n;

	if (z->codec == RD_CODEC_ZLIB) {
		/* avail_in is a uInt: feed very large buffers in pieces */
		while (len > 0) {
			n = len > (1u << 30) ? (1u << 30) : len;
			if (deflate_run(z, p, n, Z_NO_FLUSH, sink, arg, err) ==
			    -1)
				return -1;
			p += n;
			len -= n;
		}
		return 0;
	}
#ifdef HAVE_ZSTD
	return zstd_run(z, buf, len, ZSTD_e_continue, sink, arg, err);
#else
	return rd_err_set(err, RD_EINTERNAL, "bad codec");
#endif
}

int
rdi_zenc_finish(struct rdi_zenc *z, rdi_sink_fn sink, void *arg,
    struct rd_err *err)
{
	if (z->codec == RD_CODEC_ZLIB)
		return deflate_run(z, NULL, 0, Z_FINISH, sink, arg, err);
#ifdef HAVE_ZSTD
	return zstd_run(z, NULL, 0, ZSTD_e_end, sink, arg, err);
#else
	return rd_err_set(err, RD_EINTERNAL, "bad codec");
#endif
}

int
rdi_zenc_reset(struct rdi_zenc *z, struct rd_err *err)
{
	if (z->codec == RD_CODEC_ZLIB) {
		if (deflateReset(&z->zs) != Z_OK)
			return rd_err_set(err, RD_EINTERNAL,
			    "cannot reset zlib compressor");
		return 0;
	}
#ifdef HAVE_ZSTD
	if (ZSTD_isError(ZSTD_CCtx_reset(z->zc, ZSTD_reset_session_only)))
		return rd_err_set(err, RD_EINTERNAL,
		    "cannot reset zstd compressor");
#endif
	return 0;
}

void
rdi_zenc_free(struct rdi_zenc *z)
{
	if (z == NULL)
		return;
	if (z->zs_live)
		deflateEnd(&z->zs);
#ifdef HAVE_ZSTD
	ZSTD_freeCCtx(z->zc);
#endif
	free(z);
}

int
rdi_zdec_new(int codec, struct rdi_zdec **out, struct rd_err *err)
{
	struct rdi_zdec *z;

	if (!rd_codec_available(codec))
		return rd_err_set(err,
		    codec == RD_CODEC_ZSTD ? RD_EUNAVAIL : RD_ECORRUPT,
		    "codec '%s' is not available in this build",
		    rd_codec_name(codec));
	z = calloc(1, sizeof(*z));
	if (z == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	z->codec = codec;
	if (codec == RD_CODEC_ZLIB) {
		if (inflateInit(&z->zs) != Z_OK) {
			free(z);
			return rd_err_set(err, RD_ENOMEM,
			    "cannot start zlib decompressor");
		}
		z->zs_live = 1;
	}
#ifdef HAVE_ZSTD
	else if (codec == RD_CODEC_ZSTD) {
		z->zhint = 1;
		z->zd = ZSTD_createDCtx();
		if (z->zd == NULL) {
			free(z);
			return rd_err_set(err, RD_ENOMEM,
			    "cannot start zstd decompressor");
		}
	}
#endif
	*out = z;
	return 0;
}

/* One inflate() over the buffers set in z->zs; "*rc" is its result. */
static int
inflate_step(struct rdi_zdec *z, int *rc, struct rd_err *err)
{
	*rc = inflate(&z->zs, Z_NO_FLUSH);
	if (*rc == Z_STREAM_END)
		z->ended = 1;
	else if (*rc == Z_MEM_ERROR)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	else if (*rc != Z_OK && *rc != Z_BUF_ERROR)
		return rd_err_set(err, RD_ECORRUPT,
		    "compressed data is damaged (zlib: %s)",
		    z->zs.msg != NULL ? z->zs.msg : "error");
	return 0;
}

static int
inflate_run(struct rdi_zdec *z, const void *buf, size_t len, rdi_sink_fn sink,
    void *arg, struct rd_err *err)
{
	int rc;
	size_t have;

	z->zs.next_in = (Bytef *)(uintptr_t)buf;
	z->zs.avail_in = (uInt)len;
	while (z->zs.avail_in > 0) {
		if (z->ended)
			return rd_err_set(err, RD_ECORRUPT,
			    "compressed data has trailing bytes");
		z->zs.next_out = z->out;
		z->zs.avail_out = ZOUT;
		if (inflate_step(z, &rc, err) == -1)
			return -1;
		have = ZOUT - z->zs.avail_out;
		if (have > 0 && sink(arg, z->out, have, err) == -1)
			return -1;
		if (rc == Z_BUF_ERROR && have == 0)
			break;
	}
	return 0;
}

int
rdi_zdec_write(struct rdi_zdec *z, const void *buf, size_t len,
    rdi_sink_fn sink, void *arg, struct rd_err *err)
{
	const unsigned char *p = buf;
	size_t n;

	if (z->codec == RD_CODEC_RAW)
		return len > 0 ? sink(arg, buf, len, err) : 0;
	if (z->codec == RD_CODEC_ZLIB) {
		while (len > 0) {
			n = len > (1u << 30) ? (1u << 30) : len;
			if (inflate_run(z, p, n, sink, arg, err) == -1)
				return -1;
			p += n;
			len -= n;
		}
		return 0;
	}
#ifdef HAVE_ZSTD
	{
		ZSTD_inBuffer in = { buf, len, 0 };
		ZSTD_outBuffer o;
		size_t rc;

		while (in.pos < in.size) {
			o.dst = z->out;
			o.size = ZOUT;
			o.pos = 0;
			rc = ZSTD_decompressStream(z->zd, &o, &in);
			if (ZSTD_isError(rc))
				return rd_err_set(err, RD_ECORRUPT,
				    "compressed data is damaged (zstd: %s)",
				    ZSTD_getErrorName(rc));
			z->zhint = rc;
			if (o.pos > 0 && sink(arg, z->out, o.pos, err) == -1)
				return -1;
		}
		/* drain what the decoder still holds for this input */
		for (;;) {
			o.dst = z->out;
			o.size = ZOUT;
			o.pos = 0;
			rc = ZSTD_decompressStream(z->zd, &o, &in);
			if (ZSTD_isError(rc))
				return rd_err_set(err, RD_ECORRUPT,
				    "compressed data is damaged (zstd: %s)",
				    ZSTD_getErrorName(rc));
			/* no output: nothing held back; keep the last hint */
			if (o.pos == 0)
				break;
			z->zhint = rc;
			if (sink(arg, z->out, o.pos, err) == -1)
				return -1;
		}
		return 0;
	}
#else
	return rd_err_set(err, RD_EINTERNAL, "bad codec");
#endif
}

int
rdi_zdec_pull(struct rdi_zdec *z, const unsigned char **in, size_t *inlen,
    unsigned char *out, size_t cap, size_t *produced, struct rd_err *err)
{
	size_t n;
	int rc;

	*produced = 0;
	if (z->codec == RD_CODEC_RAW) {
		n = *inlen < cap ? *inlen : cap;
		if (n > 0)
			memcpy(out, *in, n);
		*in += n;
		*inlen -= n;
		*produced = n;
		return 0;
	}
	if (z->codec == RD_CODEC_ZLIB) {
		if (z->ended)
			return *inlen > 0
			    ? rd_err_set(err, RD_ECORRUPT,
			          "compressed data has trailing bytes")
			    : 0;
		z->zs.next_in = (Bytef *)(uintptr_t)*in;
		z->zs.avail_in = *inlen > UINT_MAX ? UINT_MAX : (uInt)*inlen;
		z->zs.next_out = out;
		z->zs.avail_out = cap > UINT_MAX ? UINT_MAX : (uInt)cap;
		n = z->zs.avail_in;
		if (inflate_step(z, &rc, err) == -1)
			return -1;
		*in += n - z->zs.avail_in;
		*inlen -= n - z->zs.avail_in;
		*produced = (size_t)(z->zs.next_out - out);
		return 0;
	}
#ifdef HAVE_ZSTD
	{
		ZSTD_inBuffer ib = { *in, *inlen, 0 };
		ZSTD_outBuffer ob = { out, cap, 0 };
		size_t zr;

		zr = ZSTD_decompressStream(z->zd, &ob, &ib);
		if (ZSTD_isError(zr))
			return rd_err_set(err, RD_ECORRUPT,
			    "compressed data is damaged (zstd: %s)",
			    ZSTD_getErrorName(zr));
		/* a call that moved nothing keeps the last hint */
		if (ib.pos > 0 || ob.pos > 0)
			z->zhint = zr;
		*in += ib.pos;
		*inlen -= ib.pos;
		*produced = ob.pos;
		return 0;
	}
#else
	return rd_err_set(err, RD_EINTERNAL, "bad codec");
#endif
}

int
rdi_zdec_finish(struct rdi_zdec *z, rdi_sink_fn sink, void *arg,
    struct rd_err *err)
{
	(void)sink;
	(void)arg;
	if (z->codec == RD_CODEC_RAW)
		return 0;
	if (z->codec == RD_CODEC_ZLIB) {
		if (!z->ended)
			return rd_err_set(err, RD_ECORRUPT,
			    "compressed data is truncated");
		return 0;
	}
#ifdef HAVE_ZSTD
	if (z->zhint != 0)
		return rd_err_set(err, RD_ECORRUPT,
		    "compressed data is truncated");
#endif
	return 0;
}

int
rdi_zdec_reset(struct rdi_zdec *z, struct rd_err *err)
{
	z->ended = 0;
	if (z->codec == RD_CODEC_ZLIB &&
	    (inflateReset(&z->zs) != Z_OK ||
	        (z->skip_check && inflateValidate(&z->zs, 0) != Z_OK)))
		return rd_err_set(err, RD_EINTERNAL,
		    "cannot reset zlib decompressor");
#ifdef HAVE_ZSTD
	if (z->codec == RD_CODEC_ZSTD) {
		z->zhint = 1;
		if (ZSTD_isError(ZSTD_DCtx_reset(z->zd,
		        ZSTD_reset_session_only)))
			return rd_err_set(err, RD_EINTERNAL,
			    "cannot reset zstd decompressor");
	}
#endif
	return 0;
}

int
rdi_zdec_skip_check(struct rdi_zdec *z, struct rd_err *err)
{
	z->skip_check = 1;
	if (z->codec == RD_CODEC_ZLIB && inflateValidate(&z->zs, 0) != Z_OK)
		return rd_err_set(err, RD_EINTERNAL,
		    "cannot set up zlib decompressor");
	return 0;
}

void
rdi_zdec_free(struct rdi_zdec *z)
{
	if (z == NULL)
		return;
	if (z->zs_live)
		inflateEnd(&z->zs);
#ifdef HAVE_ZSTD
	ZSTD_freeDCtx(z->zd);
#endif
	free(z);
}
