/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_pack.c: unit tests of pack.c: the object header format and its
 * checks, the pack writer (objects, rollback, abort, finish into packs/),
 * reading objects back byte for byte, damaged packs (payload CRC, header
 * CRC, truncation, another object at the offset), and the pack cache.
 */
#include "config.h"

#include <sys/stat.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "rd_int.h"
#include "unit.h"

#define MIB (1024 * 1024)

static struct rd_store *st;

static void
setup(void)
{
	unit_tmp_setup();
	st = unit_new_store(0);
}

static void
teardown(void)
{
	rd_store_close(st);
	st = NULL;
	unit_tmp_teardown();
}

static void
sample_hdr(struct rdi_objhdr *h)
{
	int i;

	memset(h, 0, sizeof(*h));
	h->kind = RDI_OBJ_DELTA;
	h->codec = RD_CODEC_ZSTD;
	h->raw_size = 0x0123456789abLL;
	h->len = 77;
	for (i = 0; i < RD_HASH_LEN; i++) {
		h->sha[i] = (unsigned char)i;
		h->base[i] = (unsigned char)(0x80 + i);
	}
	h->crc = 0xdeadbeef;
}

START_TEST(test_hdr_layout)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_objhdr h, back;
	unsigned char raw[RDI_OBJ_HDR];
	static const unsigned char head[24] = { 'R', 'D', 'O', '1', 1, 2, 0, 0,
		0xab, 0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 77, 0, 0, 0, 0, 0, 0,
		0 };
	uint32_t crc;
	int i;

	sample_hdr(&h);
	memset(raw, 0x55, sizeof(raw));
	rdi_objhdr_encode(&h, raw);
	ck_assert_mem_eq(raw, head, sizeof(head));
	for (i = 0; i < RD_HASH_LEN; i++) {
		ck_assert_int_eq(raw[24 + i], i);
		ck_assert_int_eq(raw[56 + i], 0x80 + i);
	}
	ck_assert_mem_eq(raw + 88, "\xef\xbe\xad\xde", 4);
	crc = (uint32_t)crc32(0, raw, 92);
	ck_assert_int_eq(raw[92], crc & 0xff);
	ck_assert_int_eq(raw[93], (crc >> 8) & 0xff);
	ck_assert_int_eq(raw[94], (crc >> 16) & 0xff);
	ck_assert_int_eq(raw[95], crc >> 24);

	memset(&back, 0, sizeof(back));
	unit_ok(rdi_objhdr_decode(raw, &back, &err), err);
	ck_assert_int_eq(back.kind, RDI_OBJ_DELTA);
	ck_assert_int_eq(back.codec, RD_CODEC_ZSTD);
	ck_assert_int_eq(back.raw_size, 0x0123456789abLL);
	ck_assert_int_eq(back.len, 77);
	ck_assert_mem_eq(back.sha, h.sha, RD_HASH_LEN);
	ck_assert_mem_eq(back.base, h.base, RD_HASH_LEN);
	ck_assert_uint_eq(back.crc, 0xdeadbeef);
}
END_TEST

START_TEST(test_hdr_every_byte_checked)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_objhdr h, back;
	unsigned char raw[RDI_OBJ_HDR];
	int i;

	/* a flipped bit anywhere in the header is caught */
	sample_hdr(&h);
	rdi_objhdr_encode(&h, raw);
	for (i = 4; i < RDI_OBJ_HDR; i++) {
		raw[i] ^= 0x04;
		ck_assert_int_eq(rdi_objhdr_decode(raw, &back, &err), -1);
		ck_assert_int_eq(err.code, RD_ECORRUPT);
		ck_assert_str_eq(err.msg, "object header checksum mismatch");
		raw[i] ^= 0x04;
	}
	raw[0] = 'X';
	ck_assert_int_eq(rdi_objhdr_decode(raw, &back, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "bad object magic");
}
END_TEST

START_TEST(test_hdr_bad_fields)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_objhdr h, back;
	unsigned char raw[RDI_OBJ_HDR];

	/* well-formed checksums around values no writer makes */
	sample_hdr(&h);
	h.kind = 3;
	rdi_objhdr_encode(&h, raw);
	ck_assert_int_eq(rdi_objhdr_decode(raw, &back, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "bad object header");
	sample_hdr(&h);
	h.codec = 3;
	rdi_objhdr_encode(&h, raw);
	ck_assert_int_eq(rdi_objhdr_decode(raw, &back, &err), -1);
	ck_assert_str_eq(err.msg, "bad object header");
	sample_hdr(&h);
	h.raw_size = -1;
	rdi_objhdr_encode(&h, raw);
	ck_assert_int_eq(rdi_objhdr_decode(raw, &back, &err), -1);
	ck_assert_str_eq(err.msg, "bad object header");
	sample_hdr(&h);
	h.len = INT64_MIN;
	rdi_objhdr_encode(&h, raw);
	ck_assert_int_eq(rdi_objhdr_decode(raw, &back, &err), -1);
	ck_assert_str_eq(err.msg, "bad object header");
}
END_TEST

/* Sink that feeds a compressor writing into a pack. */
struct zs {
	struct rdi_zenc *z;
	struct rdi_packw *pw;
};

/*
 * Append one object of "len" bytes of "data" to "pw", compressed with
 * "codec" (raw: as is), fed in pieces of 4099 bytes.
 */
static void
put_obj(struct rdi_packw *pw, int kind, int codec, const unsigned char *sha,
    const unsigned char *base, const unsigned char *data, size_t len,
    int64_t *off, int64_t *plen)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_zenc *z = NULL;
	size_t o, n;

	unit_ok(rdi_packw_begin(pw, kind, codec, sha, base, &err), err);
	if (codec != RD_CODEC_RAW)
		unit_ok(rdi_zenc_new(codec, &z, &err), err);
	for (o = 0; o < len; o += n) {
		n = len - o < 4099 ? len - o : 4099;
		if (z != NULL)
			unit_ok(rdi_zenc_write(z, data + o, n, rdi_packw_sink,
			            pw, &err),
			    err);
		else
			unit_ok(rdi_packw_sink(pw, data + o, n, &err), err);
	}
	if (z != NULL)
		unit_ok(rdi_zenc_finish(z, rdi_packw_sink, pw, &err), err);
	rdi_zenc_free(z);
	unit_ok(rdi_packw_end(pw, (int64_t)len, off, plen, &err), err);
}

static void
sha_of(const void *buf, size_t len, unsigned char *sha)
{
	struct rd_err err = RD_ERR_INIT;

	unit_ok(rd_sha256_buf(buf, len, sha, &err), err);
}

/* Read object "off" of pack "name" into "out".  Returns 0 or -1. */
static int
get_obj(const char *name, int64_t off, const unsigned char *sha, int kind,
    struct rdi_buf *out, struct rdi_objhdr *h, struct rd_err *err)
{
	int fd, r;

	fd = rdi_pack_open(st, name, err);
	ck_assert_msg(fd != -1, "%s", err->msg);
	r = rdi_obj_read(fd, name, off, sha, kind,
	    out != NULL ? rdi_buf_sink : NULL, out, h, err);
	close(fd);
	return r;
}

/* A pack of three objects: zlib text, raw random, a raw signature. */
struct sample {
	char name[33];
	unsigned char *text, *rnd, sig[100];
	unsigned char sha_text[RD_HASH_LEN], sha_rnd[RD_HASH_LEN];
	unsigned char sha_base[RD_HASH_LEN];
	int64_t off[3], len[3], size;
};

static void
sample_pack(struct sample *s)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_packw pw;

	s->text = malloc(3 * MIB);
	s->rnd = malloc(MIB);
	ck_assert_ptr_nonnull(s->text);
	ck_assert_ptr_nonnull(s->rnd);
	unit_fill_text(s->text, 3 * MIB, 1);
	unit_fill_random(s->rnd, MIB, 2);
	unit_fill_random(s->sig, sizeof(s->sig), 3);
	sha_of(s->text, 3 * MIB, s->sha_text);
	sha_of(s->rnd, MIB, s->sha_rnd);
	memset(s->sha_base, 0xbb, RD_HASH_LEN);
	unit_ok(rdi_packw_open(st, 7, &pw, &err), err);
	ck_assert_int_eq(pw.id, 7);
	memcpy(s->name, pw.name, sizeof(s->name));
	put_obj(&pw, RDI_OBJ_FULL, RD_CODEC_ZLIB, s->sha_text, NULL, s->text,
	    3 * MIB, &s->off[0], &s->len[0]);
	put_obj(&pw, RDI_OBJ_DELTA, RD_CODEC_RAW, s->sha_rnd, s->sha_base,
	    s->rnd, MIB, &s->off[1], &s->len[1]);
	put_obj(&pw, RDI_OBJ_SIG, RD_CODEC_RAW, s->sha_rnd, NULL, s->sig,
	    sizeof(s->sig), &s->off[2], &s->len[2]);
	unit_ok(rdi_packw_finish(st, &pw, &s->size, &err), err);
	ck_assert_int_eq(pw.fd, -1);
}

static void
sample_free(struct sample *s)
{
	free(s->text);
	free(s->rnd);
}

START_TEST(test_write_read)
{
	struct rd_err err = RD_ERR_INIT;
	struct sample s;
	struct rdi_buf out = { NULL, 0, 0 };
	struct rdi_objhdr h;
	struct stat sb;
	unsigned char *file;
	size_t flen;

	sample_pack(&s);
	ck_assert_uint_eq(strlen(s.name), 32);
	ck_assert_uint_eq(strspn(s.name, "0123456789abcdef"), 32);
	/* renamed from tmp/ into packs/ */
	ck_assert_int_eq(unit_count_dir(unit_path("store/tmp")), 0);
	ck_assert_int_eq(stat(unit_path("store/packs/%s.pack", s.name), &sb),
	    0);
	ck_assert_int_eq(sb.st_size, s.size);
	ck_assert_int_eq(s.off[0], 8);
	ck_assert_int_eq(s.off[1], 8 + RDI_OBJ_HDR + s.len[0]);
	ck_assert_int_eq(s.off[2], s.off[1] + RDI_OBJ_HDR + s.len[1]);
	ck_assert_int_eq(s.len[1], MIB);
	ck_assert_int_eq(s.len[2], sizeof(s.sig));
	ck_assert_int_lt(s.len[0], MIB);
	ck_assert_int_eq(s.size, s.off[2] + RDI_OBJ_HDR + s.len[2]);
	file = unit_read(unit_path("store/packs/%s.pack", s.name), &flen);
	ck_assert_mem_eq(file, RDI_PACK_MAGIC, 8);
	ck_assert_mem_eq(file + s.off[1] + RDI_OBJ_HDR, s.rnd, 64);

	/* each object back, byte for byte, with its header */
	unit_ok(get_obj(s.name, s.off[0], s.sha_text, RDI_OBJ_FULL, &out, &h,
	            &err),
	    err);
	unit_assert_bytes(out.data, out.len, s.text, (size_t)3 * MIB);
	ck_assert_int_eq(h.kind, RDI_OBJ_FULL);
	ck_assert_int_eq(h.codec, RD_CODEC_ZLIB);
	ck_assert_int_eq(h.raw_size, 3 * MIB);
	ck_assert_int_eq(h.len, s.len[0]);
	ck_assert_uint_eq(h.crc,
	    (uint32_t)crc32(0, file + 8 + RDI_OBJ_HDR, (uInt)s.len[0]));
	out.len = 0;
	unit_ok(get_obj(s.name, s.off[1], s.sha_rnd, RDI_OBJ_DELTA, &out, &h,
	            &err),
	    err);
	unit_assert_bytes(out.data, out.len, s.rnd, (size_t)MIB);
	ck_assert_int_eq(h.kind, RDI_OBJ_DELTA);
	ck_assert_int_eq(h.codec, RD_CODEC_RAW);
	ck_assert_mem_eq(h.base, s.sha_base, RD_HASH_LEN);
	out.len = 0;
	unit_ok(get_obj(s.name, s.off[2], s.sha_rnd, RDI_OBJ_SIG, &out, &h,
	            &err),
	    err);
	unit_assert_bytes(out.data, out.len, s.sig, sizeof(s.sig));
	ck_assert_int_eq(h.kind, RDI_OBJ_SIG);
	ck_assert_int_eq(h.raw_size, sizeof(s.sig));
	/* without a sink: the header only */
	memset(&h, 0, sizeof(h));
	unit_ok(get_obj(s.name, s.off[0], s.sha_text, RDI_OBJ_FULL, NULL, &h,
	            &err),
	    err);
	ck_assert_int_eq(h.len, s.len[0]);
	free(file);
	rdi_buf_release(&out);
	sample_free(&s);
}
END_TEST

START_TEST(test_rollback)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_packw pw;
	struct rdi_buf out = { NULL, 0, 0 };
	unsigned char sha[RD_HASH_LEN], junk[5000];
	int64_t off, len, size;
	off_t start;

	unit_fill_random(junk, sizeof(junk), 4);
	sha_of("kept", 4, sha);
	unit_ok(rdi_packw_open(st, 1, &pw, &err), err);
	/* an object that is dropped half-way */
	start = pw.off;
	unit_ok(rdi_packw_begin(&pw, RDI_OBJ_FULL, RD_CODEC_RAW, sha, NULL,
	            &err),
	    err);
	unit_ok(rdi_packw_sink(&pw, junk, sizeof(junk), &err), err);
	unit_ok(rdi_packw_rollback(&pw, start, &err), err);
	ck_assert_int_eq(pw.off, 8);
	put_obj(&pw, RDI_OBJ_FULL, RD_CODEC_RAW, sha, NULL,
	    (const unsigned char *)"kept", 4, &off, &len);
	ck_assert_int_eq(off, 8);
	ck_assert_int_eq(len, 4);
	unit_ok(rdi_packw_finish(st, &pw, &size, &err), err);
	ck_assert_int_eq(size, 8 + RDI_OBJ_HDR + 4);
	unit_ok(get_obj(pw.name, 8, sha, RDI_OBJ_FULL, &out, NULL, &err), err);
	unit_assert_bytes(out.data, out.len, "kept", (size_t)4);
	rdi_buf_release(&out);
}
END_TEST

START_TEST(test_abort)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_packw pw;
	unsigned char sha[RD_HASH_LEN];
	int64_t off, len;

	sha_of("x", 1, sha);
	unit_ok(rdi_packw_open(st, 1, &pw, &err), err);
	ck_assert(unit_exists(unit_path("store/tmp/%s.pack", pw.name)));
	put_obj(&pw, RDI_OBJ_FULL, RD_CODEC_RAW, sha, NULL,
	    (const unsigned char *)"x", 1, &off, &len);
	rdi_packw_abort(st, &pw);
	ck_assert_int_eq(pw.fd, -1);
	ck_assert_int_eq(unit_count_dir(unit_path("store/tmp")), 0);
	ck_assert_int_eq(unit_count_dir(unit_path("store/packs")), 0);
	/* twice is harmless */
	rdi_packw_abort(st, &pw);
}
END_TEST

START_TEST(test_payload_crc)
{
	struct rd_err err = RD_ERR_INIT;
	struct sample s;
	struct rdi_buf out = { NULL, 0, 0 };
	char want[256];

	sample_pack(&s);
	/* a raw payload: only the CRC can tell */
	unit_flip(unit_path("store/packs/%s.pack", s.name),
	    s.off[1] + RDI_OBJ_HDR + 1000);
	ck_assert_int_eq(get_obj(s.name, s.off[1], s.sha_rnd, RDI_OBJ_DELTA,
	                     &out, NULL, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	snprintf(want, sizeof(want),
	    "pack '%s' offset %lld: payload checksum mismatch", s.name,
	    (long long)s.off[1]);
	ck_assert_str_eq(err.msg, want);
	/* a zlib payload */
	unit_flip(unit_path("store/packs/%s.pack", s.name),
	    s.off[0] + RDI_OBJ_HDR + s.len[0] / 2);
	out.len = 0;
	rd_err_clear(&err);
	ck_assert_int_eq(get_obj(s.name, s.off[0], s.sha_text, RDI_OBJ_FULL,
	                     &out, NULL, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	rdi_buf_release(&out);
	sample_free(&s);
}
END_TEST

START_TEST(test_header_crc)
{
	struct rd_err err = RD_ERR_INIT;
	struct sample s;
	struct rdi_buf out = { NULL, 0, 0 };
	char want[256];

	sample_pack(&s);
	/* the raw size */
	unit_flip(unit_path("store/packs/%s.pack", s.name), s.off[2] + 9);
	ck_assert_int_eq(get_obj(s.name, s.off[2], s.sha_rnd, RDI_OBJ_SIG, &out,
	                     NULL, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	snprintf(want, sizeof(want),
	    "pack '%s' offset %lld: object header checksum mismatch", s.name,
	    (long long)s.off[2]);
	ck_assert_str_eq(err.msg, want);
	ck_assert_uint_eq(out.len, 0);
	/* an offset that is not an object */
	ck_assert_int_eq(get_obj(s.name, s.off[1] + 1, s.sha_rnd, RDI_OBJ_DELTA,
	                     &out, NULL, &err),
	    -1);
	snprintf(want, sizeof(want), "pack '%s' offset %lld: bad object magic",
	    s.name, (long long)s.off[1] + 1);
	ck_assert_str_eq(err.msg, want);
	rdi_buf_release(&out);
	sample_free(&s);
}
END_TEST

START_TEST(test_another_object)
{
	struct rd_err err = RD_ERR_INIT;
	struct sample s;
	struct rdi_buf out = { NULL, 0, 0 };
	char want[256];

	sample_pack(&s);
	snprintf(want, sizeof(want),
	    "pack '%s' offset %lld holds another object", s.name,
	    (long long)s.off[0]);
	/* wrong SHA-256 */
	ck_assert_int_eq(get_obj(s.name, s.off[0], s.sha_rnd, RDI_OBJ_FULL,
	                     &out, NULL, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, want);
	/* a signature asked of a content object */
	ck_assert_int_eq(get_obj(s.name, s.off[0], s.sha_text, RDI_OBJ_SIG,
	                     &out, NULL, &err),
	    -1);
	ck_assert_str_eq(err.msg, want);
	/* and a content asked of a signature object */
	snprintf(want, sizeof(want),
	    "pack '%s' offset %lld holds another object", s.name,
	    (long long)s.off[2]);
	ck_assert_int_eq(get_obj(s.name, s.off[2], s.sha_rnd, RDI_OBJ_FULL,
	                     &out, NULL, &err),
	    -1);
	ck_assert_str_eq(err.msg, want);
	ck_assert_uint_eq(out.len, 0);
	rdi_buf_release(&out);
	sample_free(&s);
}
END_TEST

START_TEST(test_truncated)
{
	struct rd_err err = RD_ERR_INIT;
	struct sample s;
	struct rdi_buf out = { NULL, 0, 0 };
	const char *path;
	char want[256];

	sample_pack(&s);
	path = unit_path("store/packs/%s.pack", s.name);
	/* in the middle of the second payload */
	ck_assert_int_eq(truncate(path, s.off[1] + RDI_OBJ_HDR + 5000), 0);
	ck_assert_int_eq(get_obj(s.name, s.off[1], s.sha_rnd, RDI_OBJ_DELTA,
	                     &out, NULL, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	snprintf(want, sizeof(want), "pack '%s' is truncated at offset %lld",
	    s.name, (long long)s.off[1] + RDI_OBJ_HDR + 5000);
	ck_assert_str_eq(err.msg, want);
	/* the third header is gone */
	ck_assert_int_eq(get_obj(s.name, s.off[2], s.sha_rnd, RDI_OBJ_SIG, &out,
	                     NULL, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	snprintf(want, sizeof(want), "'%s' is truncated at offset %lld", s.name,
	    (long long)s.off[2]);
	ck_assert_str_eq(err.msg, want);
	rdi_buf_release(&out);
	sample_free(&s);
}
END_TEST

START_TEST(test_pack_open)
{
	struct rd_err err = RD_ERR_INIT;
	static const char zeros[] = "00000000000000000000000000000000";

	ck_assert_int_eq(rdi_pack_open(st, "xyz", &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "bad pack name 'xyz'");
	ck_assert_int_eq(rdi_pack_open(st, "../../../../../etc/passwd", &err),
	    -1);
	ck_assert_str_eq(err.msg, "bad pack name '../../../../../etc/passwd'");
	ck_assert_int_eq(rdi_pack_open(st, "0000000000000000000000000000000A",
	                     &err),
	    -1);
	ck_assert_str_eq(err.msg,
	    "bad pack name '0000000000000000000000000000000A'");
	ck_assert_int_eq(rdi_pack_open(st, zeros, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "pack '00000000000000000000000000000000' is missing");
	/* a symlink in packs/ is not followed */
	ck_assert_int_eq(symlink(unit_path("elsewhere"),
	                     unit_path("store/packs/%s.pack", zeros)),
	    0);
	unit_write_str(unit_path("elsewhere"), RDI_PACK_MAGIC);
	ck_assert_int_eq(rdi_pack_open(st, zeros, &err), -1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_str_eq(err.msg,
	    "cannot open pack '00000000000000000000000000000000': Too many "
	    "levels of symbolic links");
}
END_TEST

START_TEST(test_packcache)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_packcache *pc;
	struct rdi_packw pw;
	char names[20][33];
	int64_t size;
	int fds[20], i, fd;

	/* more packs than the cache has slots */
	for (i = 0; i < 20; i++) {
		unit_ok(rdi_packw_open(st, i + 1, &pw, &err), err);
		unit_ok(rdi_packw_finish(st, &pw, &size, &err), err);
		ck_assert_int_eq(size, 8);
		memcpy(names[i], pw.name, sizeof(names[i]));
	}
	pc = rdi_packcache_new(st);
	ck_assert_ptr_nonnull(pc);
	for (i = 0; i < 20; i++) {
		fds[i] = rdi_packcache_fd(pc, names[i], &err);
		ck_assert_msg(fds[i] != -1, "%s", err.msg);
	}
	/* the newest are still cached: same fd */
	ck_assert_int_eq(rdi_packcache_fd(pc, names[19], &err), fds[19]);
	ck_assert_int_eq(rdi_packcache_fd(pc, names[4], &err), fds[4]);
	/* the oldest was evicted, and is opened again */
	fd = rdi_packcache_fd(pc, names[0], &err);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(pread(fd, names[0], 8, 0), 8);
	ck_assert_mem_eq(names[0], RDI_PACK_MAGIC, 8);
	ck_assert_int_eq(rdi_packcache_fd(pc, "nope", &err), -1);
	ck_assert_str_eq(err.msg, "bad pack name 'nope'");
	rdi_packcache_free(pc);
	rdi_packcache_free(NULL);
}
END_TEST

static Suite *
pack_suite(void)
{
	Suite *s = suite_create("pack");
	TCase *tc;

	tc = tcase_create("header");
	tcase_add_test(tc, test_hdr_layout);
	tcase_add_test(tc, test_hdr_every_byte_checked);
	tcase_add_test(tc, test_hdr_bad_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("writer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_write_read);
	tcase_add_test(tc, test_rollback);
	tcase_add_test(tc, test_abort);
	tcase_add_test(tc, test_packcache);
	suite_add_tcase(s, tc);

	tc = tcase_create("damaged");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_payload_crc);
	tcase_add_test(tc, test_header_crc);
	tcase_add_test(tc, test_another_object);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_pack_open);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(pack_suite());
}
