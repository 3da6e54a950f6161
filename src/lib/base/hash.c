/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hash.c: SHA-256 and HMAC-SHA256 through OpenSSL's EVP interface, a
 * constant-time comparison, and hex encoding.  The only file that turns
 * libcrypto errors into rd_err.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "rd_int.h"

#define HASH_BUFSZ (256 * 1024)

int
rdi_sha256_init(struct rdi_sha256 *h, struct rd_err *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	h->ctx = NULL;
	if (ctx == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return rd_err_set(err, RD_EINTERNAL, "cannot start SHA-256");
	}
	h->ctx = ctx;
	return 0;
}

int
rdi_sha256_update(struct rdi_sha256 *h, const void *buf, size_t len,
    struct rd_err *err)
{
	if (len > 0 && EVP_DigestUpdate(h->ctx, buf, len) != 1)
		return rd_err_set(err, RD_EINTERNAL, "SHA-256 update failed");
	return 0;
}

int
rdi_sha256_final(struct rdi_sha256 *h, unsigned char out[RD_HASH_LEN],
    struct rd_err *err)
{
	unsigned int n = 0;

	if (EVP_DigestFinal_ex(h->ctx, out, &n) != 1 || n != RD_HASH_LEN)
		return rd_err_set(err, RD_EINTERNAL, "SHA-256 final failed");
	return 0;
}

void
rdi_sha256_release(struct rdi_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

int
rd_sha256_buf(const void *buf, size_t len, unsigned char out[RD_HASH_LEN],
    struct rd_err *err)
{
	struct rdi_sha256 h;
	int ret = -1;

	if (rdi_sha256_init(&h, err) == -1)
		return -1;
	if (rdi_sha256_update(&h, buf, len, err) == -1 ||
	    rdi_sha256_final(&h, out, err) == -1)
		goto out;
	ret = 0;
out:
	rdi_sha256_release(&h);
	return ret;
}

int
rd_sha256_fd(int fd, unsigned char out[RD_HASH_LEN], struct rd_err *err)
{
	struct rdi_sha256 h;
	unsigned char *buf = NULL;
	ssize_t n;
	int ret = -1;

	if (rdi_sha256_init(&h, err) == -1)
		return -1;
	buf = malloc(HASH_BUFSZ);
	if (buf == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	for (;;) {
		n = rdi_read_full(fd, buf, HASH_BUFSZ, "read", err);
		if (n == -1) {
			/* "cannot read 'read': ..." reads badly: say it plainly */
			rd_err_sys(err, RD_EIO, "read");
			goto out;
		}
		if (n == 0)
			break;
		if (rdi_sha256_update(&h, buf, (size_t)n, err) == -1)
			goto out;
	}
	if (rdi_sha256_final(&h, out, err) == -1)
		goto out;
	ret = 0;
out:
	free(buf);
	rdi_sha256_release(&h);
	return ret;
}

void
rd_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int
rdi_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
rd_unhex(const char *hex, unsigned char *out, size_t len)
{
	size_t i;
	int hi, lo;

	if (strlen(hex) != 2 * len)
		return -1;
	for (i = 0; i < len; i++) {
		hi = rdi_hexval((unsigned char)hex[2 * i]);
		lo = rdi_hexval((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int
rdi_hmac_init(struct rdi_hmac *m, const unsigned char *key, size_t keylen,
    struct rd_err *err)
{
	EVP_MAC *mac;
	OSSL_PARAM params[2];
	char digest[] = "SHA256";

	m->ctx = NULL;
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL)
		return rd_err_set(err, RD_EINTERNAL, "HMAC is not available");
	m->ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (m->ctx == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	params[0] = OSSL_PARAM_construct_utf8_string("digest", digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(m->ctx, key, keylen, params) != 1) {
		EVP_MAC_CTX_free(m->ctx);
		m->ctx = NULL;
		return rd_err_set(err, RD_EINTERNAL, "cannot start HMAC");
	}
	return 0;
}

int
rdi_hmac_update(struct rdi_hmac *m, const void *buf, size_t len,
    struct rd_err *err)
{
	if (len > 0 && EVP_MAC_update(m->ctx, buf, len) != 1)
		return rd_err_set(err, RD_EINTERNAL, "HMAC update failed");
	return 0;
}

int
rdi_hmac_final(struct rdi_hmac *m, unsigned char out[RD_HASH_LEN],
    struct rd_err *err)
{
	size_t n = 0;

	if (EVP_MAC_final(m->ctx, out, &n, RD_HASH_LEN) != 1 ||
	    n != RD_HASH_LEN)
		return rd_err_set(err, RD_EINTERNAL, "HMAC final failed");
	return 0;
}

void
rdi_hmac_release(struct rdi_hmac *m)
{
	EVP_MAC_CTX_free(m->ctx);
	m->ctx = NULL;
}

int
rdi_mac_equal(const unsigned char *a, const unsigned char *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
