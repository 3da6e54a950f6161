/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_delta.c: unit tests of delta.c: librsync signature -> delta ->
 * patch round trips compared byte for byte, on files with inserted,
 * deleted, moved and appended data, identical and empty files, every
 * stream fed in odd-sized pieces; damaged deltas and signatures; and the
 * signature block lengths.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <librsync.h>

#include "rd_int.h"
#include "unit.h"

#define KIB 1024
#define MIB (1024 * 1024)

/* Signature of "len" bytes of "old", fed in pieces of "piece". */
static void
make_sig(const unsigned char *old, size_t len, size_t block, size_t piece,
    struct rdi_buf *sig)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_rsjob *j = NULL;
	size_t off, n;

	unit_ok(rdi_sig_new(block, &j, &err), err);
	for (off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		unit_ok(rdi_rsjob_write(j, old + off, n, rdi_buf_sink, sig,
		            &err),
		    err);
	}
	unit_ok(rdi_rsjob_finish(j, rdi_buf_sink, sig, &err), err);
	rdi_rsjob_free(j);
	ck_assert_uint_gt(sig->len, 0);
}

/* Delta of "len" bytes of "nw" against "sig".  Returns 0 or -1. */
static int
make_delta(const struct rdi_buf *sig, const unsigned char *nw, size_t len,
    size_t piece, struct rdi_buf *delta, struct rd_err *err)
{
	struct rdi_rsjob *j = NULL;
	size_t off, n;
	int ret = -1;

	if (rdi_delta_new(sig->data, sig->len, &j, err) == -1)
		return -1;
	for (off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		if (rdi_rsjob_write(j, nw + off, n, rdi_buf_sink, delta, err) ==
		    -1)
			goto out;
	}
	if (rdi_rsjob_finish(j, rdi_buf_sink, delta, err) == -1)
		goto out;
	ret = 0;
out:
	rdi_rsjob_free(j);
	return ret;
}

/* Patch "basis_fd" with "len" bytes of "delta".  Returns 0 or -1. */
static int
apply_patch(int basis_fd, const unsigned char *delta, size_t len, size_t piece,
    struct rdi_buf *out, struct rd_err *err)
{
	struct rdi_rsjob *j = NULL;
	size_t off, n;
	int ret = -1;

	if (rdi_patch_new(basis_fd, &j, err) == -1)
		return -1;
	for (off = 0; off < len; off += n) {
		n = len - off < piece ? len - off : piece;
		if (rdi_rsjob_write(j, delta + off, n, rdi_buf_sink, out,
		        err) == -1)
			goto out;
	}
	if (rdi_rsjob_finish(j, rdi_buf_sink, out, err) == -1)
		goto out;
	ret = 0;
out:
	rdi_rsjob_free(j);
	return ret;
}

/* Write "old" to a file in the temp dir and open it as a patch basis. */
static int
basis(const unsigned char *old, size_t len)
{
	int fd;

	unit_write(unit_path("old"), old, len);
	fd = open(unit_path("old"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	return fd;
}

/*
 * Round trip: signature of "old", delta of "nw", patch of "old"; the
 * result must equal "nw".  Returns the delta's length.
 */
static size_t
round_trip(const unsigned char *old, size_t oldlen, const unsigned char *nw,
    size_t newlen, size_t piece, size_t dpiece)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf sig = { NULL, 0, 0 }, delta = { NULL, 0, 0 };
	struct rdi_buf out = { NULL, 0, 0 };
	size_t dlen;
	int fd;

	make_sig(old, oldlen, rdi_sig_block_len((int64_t)oldlen), piece, &sig);
	unit_ok(make_delta(&sig, nw, newlen, piece, &delta, &err), err);
	fd = basis(old, oldlen);
	unit_ok(apply_patch(fd, delta.data, delta.len, dpiece, &out, &err),
	    err);
	close(fd);
	if (newlen > 0)
		unit_assert_bytes(out.data, out.len, nw, newlen);
	else
		ck_assert_uint_eq(out.len, 0);
	dlen = delta.len;
	rdi_buf_release(&sig);
	rdi_buf_release(&delta);
	rdi_buf_release(&out);
	return dlen;
}

/* 3 MiB + 1234 bytes of random data: every block is unique. */
static unsigned char *
old_data(size_t *len)
{
	unsigned char *p;

	*len = 3 * MIB + 1234;
	p = malloc(*len + 1);
	ck_assert_ptr_nonnull(p);
	unit_fill_random(p, *len, 99);
	return p;
}

START_TEST(test_identical)
{
	unsigned char *old;
	size_t len, dlen;

	old = old_data(&len);
	dlen = round_trip(old, len, old, len, 65521, 7);
	/* one copy command and the header */
	ck_assert_uint_lt(dlen, 64);
	free(old);
}
END_TEST

START_TEST(test_inserted)
{
	unsigned char *old, *nw, ins[1000];
	size_t len, dlen, at = MIB + 17;

	old = old_data(&len);
	nw = malloc(len + sizeof(ins));
	ck_assert_ptr_nonnull(nw);
	unit_fill_random(ins, sizeof(ins), 5);
	memcpy(nw, old, at);
	memcpy(nw + at, ins, sizeof(ins));
	memcpy(nw + at + sizeof(ins), old + at, len - at);
	dlen = round_trip(old, len, nw, len + sizeof(ins), 4093, 7);
	/* the new bytes, at most a block around them, and copies */
	ck_assert_uint_ge(dlen, sizeof(ins));
	ck_assert_uint_lt(dlen, sizeof(ins) + 4096 + 200);
	free(old);
	free(nw);
}
END_TEST

START_TEST(test_deleted)
{
	unsigned char *old, *nw;
	size_t len, dlen, at = 2 * MIB + 3, cut = 5000;

	old = old_data(&len);
	nw = malloc(len);
	ck_assert_ptr_nonnull(nw);
	memcpy(nw, old, at);
	memcpy(nw + at, old + at + cut, len - at - cut);
	dlen = round_trip(old, len, nw, len - cut, 65537, 13);
	ck_assert_uint_lt(dlen, 2 * 4096 + 200);
	free(old);
	free(nw);
}
END_TEST

START_TEST(test_moved)
{
	unsigned char *old, *nw;
	size_t len, dlen, a = 512 * KIB, b = 2 * MIB, n = 256 * KIB;

	/* swap two 256 KiB regions */
	old = old_data(&len);
	nw = malloc(len);
	ck_assert_ptr_nonnull(nw);
	memcpy(nw, old, len);
	memcpy(nw + a, old + b, n);
	memcpy(nw + b, old + a, n);
	dlen = round_trip(old, len, nw, len, 100003, 5);
	/* copies only */
	ck_assert_uint_lt(dlen, 200);
	/* now an unaligned move: 100000 bytes from the start to the end */
	memcpy(nw, old + 100000, len - 100000);
	memcpy(nw + len - 100000, old, 100000);
	dlen = round_trip(old, len, nw, len, 100003, 5);
	ck_assert_uint_lt(dlen, 2 * 4096 + 200);
	free(old);
	free(nw);
}
END_TEST

START_TEST(test_appended_changed)
{
	unsigned char *old, *nw;
	size_t len, dlen;

	old = old_data(&len);
	nw = malloc(len + 10);
	ck_assert_ptr_nonnull(nw);
	memcpy(nw, old, len);
	memcpy(nw + len, "0123456789", 10);
	/* and a few bytes rewritten in place */
	nw[12345] ^= 1;
	nw[2 * MIB + 100] ^= 0x80;
	dlen = round_trip(old, len, nw, len + 10, 8191, 3);
	ck_assert_uint_lt(dlen, 3 * 4096 + 200);
	free(old);
	free(nw);
}
END_TEST

START_TEST(test_small_text_bytewise)
{
	unsigned char old[20000], nw[20100];

	/* small files, every stream fed one byte at a time */
	unit_fill_text(old, sizeof(old), 3);
	memcpy(nw, old, 7000);
	memcpy(nw + 7000,
	    "a line that was not there before, and then some more "
	    "words to make it one hundred bytes long.......\n",
	    100);
	memcpy(nw + 7100, old + 7000, sizeof(old) - 7000);
	round_trip(old, sizeof(old), nw, sizeof(nw), 1, 1);
}
END_TEST

START_TEST(test_empty)
{
	unsigned char nw[100 * KIB];
	size_t dlen;

	unit_fill_random(nw, sizeof(nw), 11);
	/* from nothing: all literal */
	dlen = round_trip(NULL, 0, nw, sizeof(nw), 777, 7);
	ck_assert_uint_ge(dlen, sizeof(nw));
	/* to nothing */
	dlen = round_trip(nw, sizeof(nw), NULL, 0, 777, 7);
	ck_assert_uint_lt(dlen, 16);
	/* nothing to nothing */
	dlen = round_trip(NULL, 0, NULL, 0, 1, 1);
	ck_assert_uint_lt(dlen, 16);
}
END_TEST

/* The delta of the "inserted" case, its basis open in "*fd". */
static void
sample_delta(struct rdi_buf *delta, int *fd)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf sig = { NULL, 0, 0 };
	unsigned char *old, *nw;
	size_t len;

	old = old_data(&len);
	nw = malloc(len);
	ck_assert_ptr_nonnull(nw);
	memcpy(nw, old, len);
	memset(nw + MIB, 'x', 3000);
	make_sig(old, len, 4096, len, &sig);
	unit_ok(make_delta(&sig, nw, len, len, delta, &err), err);
	*fd = basis(old, len);
	rdi_buf_release(&sig);
	free(old);
	free(nw);
}

START_TEST(test_truncated_delta)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf delta = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	int fd;

	sample_delta(&delta, &fd);
	/* without its end command */
	ck_assert_int_eq(apply_patch(fd, delta.data, delta.len - 1, 7, &out,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "patch failed: unexpected end of input");
	/* cut in the middle of the literal data */
	out.len = 0;
	rd_err_clear(&err);
	ck_assert_int_eq(apply_patch(fd, delta.data, delta.len / 2, 4093, &out,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "patch failed: unexpected end of input");
	/* nothing at all */
	out.len = 0;
	rd_err_clear(&err);
	ck_assert_int_eq(apply_patch(fd, NULL, 0, 1, &out, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "patch failed: unexpected end of input");
	close(fd);
	rdi_buf_release(&delta);
	rdi_buf_release(&out);
}
END_TEST

START_TEST(test_damaged_delta)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf delta = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	int fd;

	sample_delta(&delta, &fd);
	/* the magic number */
	delta.data[0] ^= 0xff;
	ck_assert_int_eq(apply_patch(fd, delta.data, delta.len, 4093, &out,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "patch failed: bad magic number at start of stream");
	ck_assert_uint_eq(out.len, 0);
	delta.data[0] ^= 0xff;
	/* trailing bytes after the end command */
	ck_assert_int_eq(rdi_buf_append(&delta, "xyz", 3, &err), 0);
	out.len = 0;
	ck_assert_int_eq(apply_patch(fd, delta.data, delta.len, 4093, &out,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "patch input has trailing bytes");
	close(fd);
	rdi_buf_release(&delta);
	rdi_buf_release(&out);
}
END_TEST

START_TEST(test_bad_basis)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf delta = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	int fd;

	sample_delta(&delta, &fd);
	close(fd);
	/* unreadable basis: an I/O error, not damage */
	ck_assert_int_eq(apply_patch(-1, delta.data, delta.len, 4093, &out,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_EIO);
	ck_assert_int_eq(err.sys_errno, EBADF);
	ck_assert_str_eq(err.msg,
	    "cannot read patch basis: Bad file descriptor");
	/* a basis shorter than the delta copies from */
	ck_assert_int_eq(truncate(unit_path("old"), MIB), 0);
	fd = open(unit_path("old"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	out.len = 0;
	rd_err_clear(&err);
	ck_assert_int_eq(apply_patch(fd, delta.data, delta.len, 4093, &out,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "patch failed: unexpected end of input");
	close(fd);
	rdi_buf_release(&delta);
	rdi_buf_release(&out);
}
END_TEST

START_TEST(test_damaged_signature)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf sig = { NULL, 0, 0 }, delta = { NULL, 0, 0 };
	struct rdi_rsjob *j = NULL;
	unsigned char old[50000];
	size_t full;

	unit_fill_random(old, sizeof(old), 8);
	make_sig(old, sizeof(old), 2048, 999, &sig);
	full = sig.len;
	/* not a signature */
	ck_assert_int_eq(rdi_delta_new("not a signature", 15, &j, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "stored signature is damaged");
	ck_assert_ptr_null(j);
	/* a damaged magic number */
	sig.data[1] ^= 0x40;
	rd_err_clear(&err);
	ck_assert_int_eq(rdi_delta_new(sig.data, sig.len, &j, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "stored signature is damaged");
	sig.data[1] ^= 0x40;
	/* cut in the middle of a block's sums */
	rd_err_clear(&err);
	ck_assert_int_eq(rdi_delta_new(sig.data, full - 5, &j, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "stored signature is damaged");
	/* empty */
	rd_err_clear(&err);
	ck_assert_int_eq(rdi_delta_new(sig.data, 0, &j, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, "stored signature is damaged");
	/* trailing bytes */
	ck_assert_int_eq(rdi_buf_append(&sig, "junk", 4, &err), 0);
	rd_err_clear(&err);
	ck_assert_int_eq(rdi_delta_new(sig.data, sig.len, &j, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	/* and the signature itself still works */
	rd_err_clear(&err);
	sig.len = full;
	unit_ok(make_delta(&sig, old, sizeof(old), 1000, &delta, &err), err);
	ck_assert_uint_lt(delta.len, 64);
	rdi_buf_release(&sig);
	rdi_buf_release(&delta);
	rdi_rsjob_free(NULL);
}
END_TEST

/* clang-format off */
static const struct {
	int64_t size;
	size_t block;
} blocks[] = {
	{ 0,			2048 },
	{ 1,			2048 },
	{ MIB - 1,		2048 },
	{ MIB,			4096 },
	{ 8 * MIB - 1,		4096 },
	{ 8 * MIB,		8192 },
	{ 256LL * MIB,		8192 },
	{ 8LL * 1024 * MIB,	8192 },
};
/* clang-format on */

START_TEST(test_block_len)
{
	ck_assert_uint_eq(rdi_sig_block_len(blocks[_i].size), blocks[_i].block);
}
END_TEST

START_TEST(test_sig_size)
{
	struct rdi_buf sig = { NULL, 0, 0 };
	unsigned char *old;
	size_t len;

	/* 12-byte header, then 4-byte weak and 12-byte strong sums a block */
	old = old_data(&len);
	make_sig(old, len, 4096, 65536, &sig);
	ck_assert_uint_eq(sig.len, 12 + (len + 4095) / 4096 * 16);
	rdi_buf_release(&sig);
	free(old);
}
END_TEST

static uint64_t
get_be(const unsigned char *p, size_t w)
{
	uint64_t v = 0;

	while (w-- > 0)
		v = v << 8 | *p++;
	return v;
}

/*
 * Bytes a delta of the commands an aligned delta writes copies from its
 * basis; the delta must be whole (magic, commands, end, nothing after).
 */
static int64_t
delta_copied(const unsigned char *d, size_t len)
{
	size_t i = 4, w, wl;
	int64_t copied = 0;
	unsigned op;

	ck_assert_uint_ge(len, 5);
	ck_assert_uint_eq(get_be(d, 4), RS_DELTA_MAGIC);
	for (;;) {
		ck_assert_uint_lt(i, len);
		op = d[i++];
		if (op == 0)
			break;
		if (op <= 0x40) {
			i += op;
		} else if (op <= 0x44) {
			w = (size_t)1 << (op - 0x41);
			ck_assert_uint_le(i + w, len);
			i += w + get_be(d + i, w);
		} else {
			ck_assert_uint_le(op, 0x54);
			w = (size_t)1 << ((op - 0x45) / 4);
			wl = (size_t)1 << ((op - 0x45) % 4);
			ck_assert_uint_le(i + w + wl, len);
			copied += (int64_t)get_be(d + i + w, wl);
			i += w + wl;
		}
	}
	ck_assert_uint_eq(i, len);
	return copied;
}

/*
 * Aligned delta of "nw" against "old" (both with "block"-byte blocks),
 * with "share" percent of the sums made on a helper thread, patched back
 * onto "old": the result must equal "nw", and the signature made on the
 * way must equal librsync's of "nw".  Returns the delta in "delta";
 * "*copied" gets the bytes of "nw" the delta copies.
 */
static void
aligned_share(const unsigned char *old, size_t oldlen, const unsigned char *nw,
    size_t newlen, size_t block, unsigned share, struct rdi_buf *delta,
    int64_t *copied)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf os = { NULL, 0, 0 }, ns = { NULL, 0, 0 };
	struct rdi_buf sig = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	struct rdi_sigview ov;
	struct rdi_hreader hr;
	unsigned char sha[RD_HASH_LEN], want[RD_HASH_LEN], *buf;
	int64_t size = -1;
	int fd, bfd;

	make_sig(old, oldlen, block, 65536, &os);
	make_sig(nw, newlen, block, 65536, &ns);
	unit_ok(rdi_sig_view(os.data, os.len, &ov, &err), err);
	unit_write(unit_path("new"), nw, newlen);
	fd = open(unit_path("new"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	rdi_hreader_init(&hr, fd);
	/* a small buffer: runs cross the buffer's edges */
	buf = malloc(block * 3);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(rdi_delta_aligned(&ov, &hr, "new", buf, block * 3,
	                     share, INT64_MAX, &sig, sha, &size, rdi_buf_sink,
	                     delta, &err),
	    1);
	close(fd);
	free(buf);
	ck_assert_int_eq(size, (int64_t)newlen);
	unit_assert_bytes(sig.data, sig.len, ns.data, ns.len);
	/* the hash is of every byte of the new version, copied or not */
	unit_ok(rd_sha256_buf(nw, newlen, want, &err), err);
	unit_assert_bytes(sha, RD_HASH_LEN, want, RD_HASH_LEN);
	bfd = basis(old, oldlen);
	unit_ok(apply_patch(bfd, delta->data, delta->len, 777, &out, &err),
	    err);
	close(bfd);
	if (newlen > 0)
		unit_assert_bytes(out.data, out.len, nw, newlen);
	else
		ck_assert_uint_eq(out.len, 0);
	*copied = delta_copied(delta->data, delta->len);
	rdi_buf_release(&os);
	rdi_buf_release(&ns);
	rdi_buf_release(&sig);
	rdi_buf_release(&out);
}

/*
 * aligned_share() with the sums made on this thread only, on both, and on
 * the helper only: the same delta each time.  Returns its length.
 */
static size_t
aligned_trip(const unsigned char *old, size_t oldlen, const unsigned char *nw,
    size_t newlen, size_t block, int64_t *copied)
{
	static const unsigned shares[] = { 0, 50, 67, 100 };
	struct rdi_buf first = { NULL, 0, 0 }, delta = { NULL, 0, 0 };
	int64_t c;
	size_t i, dlen;

	aligned_share(old, oldlen, nw, newlen, block, 0, &first, copied);
	for (i = 1; i < sizeof(shares) / sizeof(shares[0]); i++) {
		delta.len = 0;
		aligned_share(old, oldlen, nw, newlen, block, shares[i], &delta,
		    &c);
		unit_assert_bytes(delta.data, delta.len, first.data, first.len);
		ck_assert_int_eq(c, *copied);
	}
	dlen = first.len;
	rdi_buf_release(&first);
	rdi_buf_release(&delta);
	return dlen;
}

START_TEST(test_aligned)
{
	unsigned char *old, *nw;
	size_t len, newlen, dlen;
	int64_t copied;
	int i;

	old = old_data(&len);
	/* pages rewritten in place, and 100 KiB appended */
	newlen = len + 100 * 1024;
	nw = malloc(newlen);
	ck_assert_ptr_nonnull(nw);
	memcpy(nw, old, len);
	unit_fill_random(nw + len, newlen - len, 5);
	for (i = 0; i < 10; i++)
		unit_fill_random(nw + (size_t)i * 73 * 4096 + 4096, 4096,
		    (uint64_t)i + 1);
	dlen = aligned_trip(old, len, nw, newlen, 4096, &copied);
	/* 10 pages changed, the old partial last block and the tail new */
	ck_assert_int_eq(copied, (int64_t)(len / 4096 - 10) * 4096);
	ck_assert_uint_lt(dlen, 10 * 4096 + 110 * 1024);
	ck_assert_uint_gt(dlen, 10 * 4096 + 100 * 1024);

	/* identical: all copies */
	dlen = aligned_trip(old, len, old, len, 4096, &copied);
	ck_assert_int_eq(copied, (int64_t)len);
	ck_assert_uint_lt(dlen, 64);

	/* shorter: the cut block is literal */
	dlen = aligned_trip(old, len, old, len - 5000, 4096, &copied);
	ck_assert_int_eq(copied, (int64_t)((len - 5000) / 4096) * 4096);
	ck_assert_uint_lt(dlen, 4096 + 64);

	/* shifted by one byte: nothing lines up, all literal */
	dlen = aligned_trip(old, len, old + 1, len - 1, 4096, &copied);
	ck_assert_int_eq(copied, 0);
	ck_assert_uint_gt(dlen, len - 1);

	/* empty new version */
	dlen = aligned_trip(old, len, old, 0, 4096, &copied);
	ck_assert_int_eq(copied, 0);
	ck_assert_uint_eq(dlen, 5);
	free(nw);
	free(old);
}
END_TEST

START_TEST(test_aligned_refused)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf a = { NULL, 0, 0 }, sig = { NULL, 0, 0 };
	struct rdi_buf delta = { NULL, 0, 0 };
	struct rdi_sigview av;
	struct rdi_hreader hr;
	unsigned char *old, *nw, junk[40], sha[RD_HASH_LEN];
	int64_t size = -1;
	size_t len;
	int fd;

	old = old_data(&len);
	make_sig(old, len, 4096, 65536, &a);
	unit_ok(rdi_sig_view(a.data, a.len, &av, &err), err);
	/* a read buffer that is not a whole number of blocks */
	ck_assert_int_eq(rdi_delta_aligned(&av, &hr, "x", junk, sizeof(junk), 0,
	                     INT64_MAX, &sig, sha, &size, rdi_buf_sink, &delta,
	                     &err),
	    -1);
	ck_assert_int_eq(err.code, RD_EINTERNAL);
	/* all new bytes: stops once the literals pass the bound */
	nw = malloc(len);
	ck_assert_ptr_nonnull(nw);
	unit_fill_random(nw, len, 100);
	unit_write(unit_path("new"), nw, len);
	fd = open(unit_path("new"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	rdi_hreader_init(&hr, fd);
	free(nw);
	nw = malloc(8192);
	ck_assert_ptr_nonnull(nw);
	ck_assert_int_eq(rdi_delta_aligned(&av, &hr, "new", nw, 8192, 67,
	                     (int64_t)len / 2, &sig, sha, &size, rdi_buf_sink,
	                     &delta, &err),
	    0);
	ck_assert_int_eq(size, -1);
	ck_assert_uint_lt(delta.len, len / 2 + 8192 + 64);
	close(fd);
	free(nw);
	/* a damaged signature is refused */
	ck_assert_int_eq(rdi_sig_view(a.data, 11, &av, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_int_eq(rdi_sig_view(a.data, a.len - 1, &av, &err), -1);
	memset(junk, 0, sizeof(junk));
	ck_assert_int_eq(rdi_sig_view(junk, sizeof(junk), &av, &err), -1);
	ck_assert_str_eq(err.msg, "stored signature is damaged: bad header");
	rdi_buf_release(&a);
	rdi_buf_release(&sig);
	rdi_buf_release(&delta);
	free(old);
}
END_TEST

/*
 * Run "delta" through an in-place sink over a file holding "old", in
 * pieces of "piece" bytes; with "apply" it writes.  Returns whether it
 * fits; the file is left in "*out" (cut to "newlen" when it fits).
 */
static int
inplace_run(const unsigned char *old, size_t oldlen, const unsigned char *d,
    size_t dlen, size_t newlen, int apply, size_t piece, struct rdi_buf *out)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_inplace ip;
	size_t i, n;
	int fd, fits;

	unit_write(unit_path("rep"), old, oldlen);
	fd = open(unit_path("rep"), O_RDWR | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	rdi_inplace_init(&ip, fd, (int64_t)newlen, (int64_t)oldlen);
	ip.apply = apply;
	for (i = 0; i < dlen; i += n) {
		n = dlen - i < piece ? dlen - i : piece;
		unit_ok(rdi_inplace_sink(&ip, d + i, n, &err), err);
	}
	fits = rdi_inplace_fits(&ip);
	if (fits && apply)
		ck_assert_int_eq(ftruncate(fd, (off_t)newlen), 0);
	close(fd);
	free(out->data); /* after "old", which may be it, was written */
	out->data = unit_read(unit_path("rep"), &out->len);
	out->cap = out->len + 1;
	return fits;
}

START_TEST(test_inplace)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf os = { NULL, 0, 0 }, sig = { NULL, 0, 0 };
	struct rdi_buf delta = { NULL, 0, 0 }, out = { NULL, 0, 0 };
	struct rdi_sigview ov;
	struct rdi_hreader hr;
	struct rdi_inplace ip;
	unsigned char *old, *nw, sha[RD_HASH_LEN], *buf, forged[64];
	size_t len, newlen;
	int64_t size;
	int fd, i;

	old = old_data(&len);
	newlen = len + 20000;
	nw = malloc(newlen);
	ck_assert_ptr_nonnull(nw);
	memcpy(nw, old, len);
	unit_fill_random(nw + len, newlen - len, 6);
	for (i = 0; i < 7; i++)
		unit_fill_random(nw + (size_t)i * 97 * 4096, 4096,
		    (uint64_t)i + 20);
	make_sig(old, len, 4096, 65536, &os);
	unit_ok(rdi_sig_view(os.data, os.len, &ov, &err), err);
	unit_write(unit_path("new"), nw, newlen);
	fd = open(unit_path("new"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	rdi_hreader_init(&hr, fd);
	buf = malloc(65536);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(rdi_delta_aligned(&ov, &hr, "new", buf, 65536, 50,
	                     INT64_MAX, &sig, sha, &size, rdi_buf_sink, &delta,
	                     &err),
	    1);
	close(fd);
	/* an aligned delta fits; applied in place, in odd pieces */
	ck_assert(inplace_run(old, len, delta.data, delta.len, newlen, 0, 7,
	    &out));
	unit_assert_bytes(out.data, out.len, old, len); /* looking only */
	ck_assert(inplace_run(old, len, delta.data, delta.len, newlen, 1, 7,
	    &out));
	unit_assert_bytes(out.data, out.len, nw, newlen);
	/* applied again over what it wrote (a redo): the same bytes */
	ck_assert(inplace_run(out.data, out.len, delta.data, delta.len, newlen,
	    1, 65536, &out));
	unit_assert_bytes(out.data, out.len, nw, newlen);
	/* a declared size it does not reach, or passes */
	ck_assert(!inplace_run(old, len, delta.data, delta.len, newlen + 1, 0,
	    65536, &out));
	ck_assert(!inplace_run(old, len, delta.data, delta.len, newlen - 1, 0,
	    65536, &out));
	/* cut short: no end command */
	ck_assert(!inplace_run(old, len, delta.data, delta.len - 1, newlen, 0,
	    65536, &out));
	/* trailing bytes after the end */
	unit_ok(rdi_buf_append(&delta, "x", 1, &err), err);
	ck_assert(!inplace_run(old, len, delta.data, delta.len, newlen, 0,
	    65536, &out));
	/* a rolling delta of a shifted file copies from elsewhere */
	delta.len = 0;
	unit_ok(make_delta(&os, old + 100, len - 100, 65536, &delta, &err),
	    err);
	ck_assert(!inplace_run(old, len, delta.data, delta.len, len - 100, 0,
	    65536, &out));
	/* forged: a copy from another offset, a bad magic, a bad opcode */
	memcpy(forged, "\x72\x73\x02\x36\x45\x01\x08\x00", 8);
	ck_assert(!inplace_run(old, len, forged, 8, 8, 0, 64, &out));
	forged[5] = 0;
	ck_assert(inplace_run(old, len, forged, 8, 8, 1, 64, &out));
	unit_assert_bytes(out.data, out.len, old, 8);
	forged[0] = 0x73;
	ck_assert(!inplace_run(old, len, forged, 8, 8, 0, 64, &out));
	memcpy(forged, "\x72\x73\x02\x36\x60\x00", 6);
	ck_assert(!inplace_run(old, len, forged, 6, 0, 0, 64, &out));
	/* a literal that says it is longer than the declared size */
	memcpy(forged,
	    "\x72\x73\x02\x36\x44\x7f\xff\xff\xff\xff\xff"
	    "\xff\xff\x00",
	    14);
	ck_assert(!inplace_run(old, len, forged, 14, len, 0, 64, &out));
	unit_assert_bytes(out.data, out.len, old, len);
	/* writing, a command that does not fit is an error: nothing written */
	rdi_inplace_init(&ip, -1, (int64_t)len, (int64_t)len);
	ip.apply = 1;
	ck_assert_int_eq(rdi_inplace_sink(&ip, forged, 14, &err), -1);
	ck_assert_int_eq(err.code, RD_EINTERNAL);
	ck_assert_int_eq(ip.written, 0);
	/* a copy past the base's end: its bytes would be holes (a bomb) */
	memcpy(forged,
	    "\x72\x73\x02\x36\x4f\x00\x00\x00\x00\x7f\xff"
	    "\xff\xff\x00",
	    14);
	ck_assert(!inplace_run(old, len, forged, 14, 0x7fffffff, 0, 64, &out));
	memcpy(forged, "\x72\x73\x02\x36\x4a\x00\x00\xff\xff\x00", 10);
	ck_assert(!inplace_run(old, 4096, forged, 10, 65535, 0, 64, &out));
	ck_assert(inplace_run(old, 65535, forged, 10, 65535, 0, 64, &out));
	free(buf);
	free(nw);
	free(old);
	rdi_buf_release(&os);
	rdi_buf_release(&sig);
	rdi_buf_release(&delta);
	rdi_buf_release(&out);
}
END_TEST

/*
 * A signature made on two threads is librsync's, whatever the share and
 * however the data ends: empty, within the first block, on a block's
 * edge, on a buffer's edge, and with a last buffer of no bytes.
 */
START_TEST(test_sigpar)
{
	static const unsigned shares[] = { 0, 1, 33, 67, 100 };
	static const size_t lens[] = { 0, 100, 2048, 2049, 6144, 65536,
		65536 + 2047, 300000 };
	struct rd_err err = RD_ERR_INIT;
	struct rdi_buf want = { NULL, 0, 0 }, sig = { NULL, 0, 0 };
	struct rdi_sigpar *sp = NULL;
	unsigned char *data;
	size_t i, k, off, n, len, buflen = 16384;
	int eof;

	data = malloc(300000);
	ck_assert_ptr_nonnull(data);
	unit_fill_random(data, 300000, 41);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		len = lens[i];
		want.len = 0;
		make_sig(data, len, 2048, 4096, &want);
		for (k = 0; k < sizeof(shares) / sizeof(shares[0]); k++) {
			sig.len = 0;
			unit_ok(rdi_sigpar_new(2048, &sp, &err), err);
			off = 0;
			do {
				n = len - off < buflen ? len - off : buflen;
				eof = n < buflen;
				unit_ok(rdi_sigpar_start(sp, data + off, n, eof,
				            shares[k], &err),
				    err);
				unit_ok(rdi_sigpar_end(sp, data + off, n, &sig,
				            &err),
				    err);
				off += n;
			} while (!eof);
			rdi_sigpar_free(sp);
			unit_assert_bytes(sig.data, sig.len, want.data,
			    want.len);
		}
	}
	/* out of turn, and not whole blocks before the end */
	unit_ok(rdi_sigpar_new(2048, &sp, &err), err);
	ck_assert_int_eq(rdi_sigpar_end(sp, data, 2048, &sig, &err), -1);
	ck_assert_int_eq(err.code, RD_EINTERNAL);
	ck_assert_int_eq(rdi_sigpar_start(sp, data, 3000, 0, 50, &err), -1);
	ck_assert_int_eq(err.code, RD_EINTERNAL);
	/* started and never ended: freeing waits for the helper */
	unit_ok(rdi_sigpar_start(sp, data, 8192, 0, 100, &err), err);
	rdi_sigpar_free(sp);
	rdi_buf_release(&want);
	rdi_buf_release(&sig);
	free(data);
}
END_TEST

static Suite *
delta_suite(void)
{
	Suite *s = suite_create("delta");
	TCase *tc;

	tc = tcase_create("round_trip");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_identical);
	tcase_add_test(tc, test_inserted);
	tcase_add_test(tc, test_deleted);
	tcase_add_test(tc, test_moved);
	tcase_add_test(tc, test_appended_changed);
	tcase_add_test(tc, test_small_text_bytewise);
	tcase_add_test(tc, test_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("damaged");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_truncated_delta);
	tcase_add_test(tc, test_damaged_delta);
	tcase_add_test(tc, test_bad_basis);
	tcase_add_test(tc, test_damaged_signature);
	suite_add_tcase(s, tc);

	tc = tcase_create("signature");
	tcase_add_loop_test(tc, test_block_len, 0,
	    (int)(sizeof(blocks) / sizeof(blocks[0])));
	tcase_add_test(tc, test_sig_size);
	tcase_add_test(tc, test_sigpar);
	suite_add_tcase(s, tc);

	tc = tcase_create("aligned");
	tcase_add_checked_fixture(tc, unit_tmp_setup, unit_tmp_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_aligned);
	tcase_add_test(tc, test_aligned_refused);
	tcase_add_test(tc, test_inplace);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(delta_suite());
}
