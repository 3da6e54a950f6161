/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * chan.c: the framed, authenticated byte stream of rdship (see
 * docs/FORMAT.md).  A stream opens with a preamble:
 *
 *	"RDSHIP3\n"  flags (1 byte: bit 0 keyed)  nonce (16 bytes)
 *
 * then carries frames:
 *
 *	type (1)  length (8, little-endian)  payload  mac (32)
 *
 * where mac = HMAC-SHA256(key, direction | sequence | nonce | type |
 * length | payload), the sequence counting frames from 0 in each
 * direction.  An unkeyed stream uses a key of 32 zero bytes: it still
 * detects altered, reordered, dropped and truncated frames, but proves
 * nothing about who wrote it.  Payloads stream through without being held
 * in memory.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ship/ship_int.h"

#define PREAMBLE "RDSHIP3\n"
#define OBUF_SZ  (256 * 1024)
#define IBUF_SZ  (256 * 1024)

int
rdi_chan_init(struct rdi_chan *ch, int fd_in, int fd_out,
    const unsigned char *key, int initiator, struct rd_err *err)
{
	memset(ch, 0, sizeof(*ch));
	ch->fd_in = fd_in;
	ch->fd_out = fd_out;
	ch->initiator = initiator;
	if (key != NULL) {
		memcpy(ch->key, key, RD_HASH_LEN);
		ch->keyed = 1;
	}
	ch->obuf = malloc(OBUF_SZ);
	ch->ibuf = malloc(IBUF_SZ);
	if (ch->obuf == NULL || ch->ibuf == NULL) {
		rdi_chan_release(ch);
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	}
	return 0;
}

void
rdi_chan_release(struct rdi_chan *ch)
{
	rdi_hmac_release(&ch->in_mac);
	rdi_hmac_release(&ch->out_mac);
	free(ch->obuf);
	free(ch->ibuf);
	ch->obuf = ch->ibuf = NULL;
}

static int
raw_write(struct rdi_chan *ch, const void *buf, size_t len, struct rd_err *err)
{
	const unsigned char *p = buf;
	size_t n;

	ch->bytes_out += (int64_t)len;
	while (len > 0) {
		if (ch->olen == OBUF_SZ && rdi_chan_flush(ch, err) == -1)
			return -1;
		n = OBUF_SZ - ch->olen;
		if (n > len)
			n = len;
		memcpy(ch->obuf + ch->olen, p, n);
		ch->olen += n;
		p += n;
		len -= n;
	}
	return 0;
}

int
rdi_chan_flush(struct rdi_chan *ch, struct rd_err *err)
{
	if (ch->olen == 0)
		return 0;
	if (rdi_write_all(ch->fd_out, ch->obuf, ch->olen, "stream", err) ==
	    -1) {
		if (err->sys_errno == EPIPE)
			rd_err_set(err, RD_EIO,
			    "the other side closed the stream");
		return -1;
	}
	ch->olen = 0;
	return 0;
}

/* Read exactly "len" bytes; a short read is a truncated stream. */
static int
raw_read(struct rdi_chan *ch, void *buf, size_t len, struct rd_err *err)
{
	unsigned char *p = buf;
	size_t n;
	ssize_t r;

	while (len > 0) {
		if (ch->ipos == ch->ilen) {
			r = read(ch->fd_in, ch->ibuf, IBUF_SZ);
			if (r == -1) {
				if (errno == EINTR)
					continue;
				return rd_err_sys(err, RD_EIO,
				    "cannot read the stream");
			}
			if (r == 0)
				return rd_err_set(err, RD_ECORRUPT,
				    "stream is truncated after %lld bytes",
				    (long long)ch->bytes_in);
			ch->ipos = 0;
			ch->ilen = (size_t)r;
		}
		n = ch->ilen - ch->ipos;
		if (n > len)
			n = len;
		memcpy(p, ch->ibuf + ch->ipos, n);
		ch->ipos += n;
		ch->bytes_in += (int64_t)n;
		p += n;
		len -= n;
	}
	return 0;
}

int
rdi_chan_send_preamble(struct rdi_chan *ch, struct rd_err *err)
{
	unsigned char flags = (unsigned char)(ch->keyed ? 1 : 0);

	if (ch->initiator &&
	    rdi_random(ch->nonce, sizeof(ch->nonce), err) == -1)
		return -1;
	if (raw_write(ch, PREAMBLE, 8, err) == -1 ||
	    raw_write(ch, &flags, 1, err) == -1 ||
	    raw_write(ch, ch->nonce, sizeof(ch->nonce), err) == -1)
		return -1;
	return 0;
}

int
rdi_chan_recv_preamble(struct rdi_chan *ch, int *keyed, struct rd_err *err)
{
	unsigned char buf[8 + 1 + 16];

	if (raw_read(ch, buf, 8, err) == -1) {
		if (ch->bytes_in == 0)
			return rd_err_set(err, RD_ECORRUPT,
			    "stream is empty: not an rdship stream");
		return -1;
	}
	if (memcmp(buf, PREAMBLE, 8) != 0) {
		if (memcmp(buf, "RDSHIP", 6) == 0 && buf[6] >= '1' &&
		    buf[6] <= '9' && buf[7] == '\n')
			return rd_err_set(err, RD_EUNAVAIL,
			    "stream format version %c is not supported (this rdship reads version %c): use the same redund release on both sides",
			    buf[6], PREAMBLE[6]);
		return rd_err_set(err, RD_ECORRUPT, "not an rdship stream");
	}
	if (raw_read(ch, buf + 8, 17, err) == -1)
		return -1;
	if (buf[8] > 1)
		return rd_err_set(err, RD_ECORRUPT, "bad stream flags");
	*keyed = buf[8] & 1;
	if (ch->initiator) {
		if (memcmp(buf + 9, ch->nonce, 16) != 0)
			return rd_err_set(err, RD_ECORRUPT,
			    "the other side answered another session");
	} else {
		memcpy(ch->nonce, buf + 9, 16);
	}
	return 0;
}

static int
mac_start(struct rdi_chan *ch, struct rdi_hmac *m, int outgoing, uint64_t seq,
    int type, uint64_t len, struct rd_err *err)
{
	static const unsigned char zero[RD_HASH_LEN];
	unsigned char hdr[1 + 8 + 16 + 1 + 8];

	rdi_hmac_release(m);
	if (rdi_hmac_init(m, ch->keyed ? ch->key : zero, RD_HASH_LEN, err) ==
	    -1)
		return -1;
	/* direction: frames of the session's initiator are 'I' */
	hdr[0] = (unsigned char)((outgoing == ch->initiator) ? 'I' : 'R');
	rdi_put_le64(hdr + 1, seq);
	memcpy(hdr + 9, ch->nonce, 16);
	hdr[25] = (unsigned char)type;
	rdi_put_le64(hdr + 26, len);
	return rdi_hmac_update(m, hdr, sizeof(hdr), err);
}

int
rdi_chan_begin(struct rdi_chan *ch, int type, uint64_t len, struct rd_err *err)
{
	unsigned char hdr[9];

	hdr[0] = (unsigned char)type;
	rdi_put_le64(hdr + 1, len);
	if (mac_start(ch, &ch->out_mac, 1, ch->seq_out, type, len, err) == -1)
		return -1;
	ch->out_left = len;
	return raw_write(ch, hdr, sizeof(hdr), err);
}

int
rdi_chan_write(struct rdi_chan *ch, const void *buf, size_t len,
    struct rd_err *err)
{
	if (len > ch->out_left)
		return rd_err_set(err, RD_EINTERNAL,
		    "frame payload longer than announced");
	ch->out_left -= len;
	if (rdi_hmac_update(&ch->out_mac, buf, len, err) == -1)
		return -1;
	return raw_write(ch, buf, len, err);
}

int
rdi_chan_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	return rdi_chan_write(arg, buf, len, err);
}

int
rdi_chan_end(struct rdi_chan *ch, struct rd_err *err)
{
	unsigned char mac[RD_HASH_LEN];

	if (ch->out_left != 0)
		return rd_err_set(err, RD_EINTERNAL,
		    "frame payload shorter than announced");
	if (rdi_hmac_final(&ch->out_mac, mac, err) == -1)
		return -1;
	rdi_hmac_release(&ch->out_mac);
	ch->seq_out++;
	return raw_write(ch, mac, sizeof(mac), err);
}

int
rdi_chan_send(struct rdi_chan *ch, int type, const void *buf, size_t len,
    struct rd_err *err)
{
	if (rdi_chan_begin(ch, type, len, err) == -1 ||
	    rdi_chan_write(ch, buf, len, err) == -1 ||
	    rdi_chan_end(ch, err) == -1)
		return -1;
	return 0;
}

int
rdi_chan_next(struct rdi_chan *ch, int *type, uint64_t *len, struct rd_err *err)
{
	unsigned char hdr[9];

	if (raw_read(ch, hdr, sizeof(hdr), err) == -1)
		return -1;
	*type = hdr[0];
	*len = rdi_get_le64(hdr + 1);
	if (*len > ((uint64_t)1 << 46))
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: frame %llu has an impossible length",
		    (unsigned long long)ch->seq_in);
	ch->in_left = *len;
	return mac_start(ch, &ch->in_mac, 0, ch->seq_in, *type, *len, err);
}

int
rdi_chan_read(struct rdi_chan *ch, void *buf, size_t len, struct rd_err *err)
{
	if (len > ch->in_left)
		return rd_err_set(err, RD_ECORRUPT, "frame is too short");
	if (raw_read(ch, buf, len, err) == -1)
		return -1;
	ch->in_left -= len;
	return rdi_hmac_update(&ch->in_mac, buf, len, err);
}

int
rdi_chan_finish(struct rdi_chan *ch, struct rd_err *err)
{
	unsigned char want[RD_HASH_LEN], got[RD_HASH_LEN];

	if (ch->in_left != 0)
		return rd_err_set(err, RD_EINTERNAL, "frame not fully read");
	if (raw_read(ch, got, sizeof(got), err) == -1 ||
	    rdi_hmac_final(&ch->in_mac, want, err) == -1)
		return -1;
	rdi_hmac_release(&ch->in_mac);
	if (!rdi_mac_equal(want, got, RD_HASH_LEN)) {
		if (ch->seq_in == 0 && ch->keyed)
			return rd_err_set(err, RD_EPERM,
			    "stream is not authenticated with this key");
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: frame %llu fails its check",
		    (unsigned long long)ch->seq_in);
	}
	ch->seq_in++;
	return 0;
}

int
rdi_chan_recv(struct rdi_chan *ch, int *type, struct rdi_buf *payload,
    size_t max, struct rd_err *err)
{
	uint64_t len;

	if (rdi_chan_next(ch, type, &len, err) == -1)
		return -1;
	if (len > max)
		return rd_err_set(err, RD_ECORRUPT,
		    "stream is damaged: frame %llu is too long (%llu bytes)",
		    (unsigned long long)ch->seq_in, (unsigned long long)len);
	return rdi_chan_payload(ch, len, payload, err);
}

int
rdi_chan_payload(struct rdi_chan *ch, uint64_t len, struct rdi_buf *payload,
    struct rd_err *err)
{
	payload->len = 0;
	if (len > 0) {
		if (payload->cap < len) {
			unsigned char *d = realloc(payload->data, len);

			if (d == NULL)
				return rd_err_set(err, RD_ENOMEM,
				    "out of memory");
			payload->data = d;
			payload->cap = len;
		}
		if (rdi_chan_read(ch, payload->data, len, err) == -1)
			return -1;
		payload->len = len;
	}
	return rdi_chan_finish(ch, err);
}

/* ------------------------------------------------------------------ */
/* Message encoding */

int
rdi_put_u64(struct rdi_buf *b, uint64_t v, struct rd_err *err)
{
	unsigned char p[8];

	rdi_put_le64(p, v);
	return rdi_buf_append(b, p, 8, err);
}

int
rdi_put_bytes(struct rdi_buf *b, const void *p, size_t n, struct rd_err *err)
{
	if (rdi_put_u64(b, n, err) == -1)
		return -1;
	return rdi_buf_append(b, p, n, err);
}

int
rdi_put_str(struct rdi_buf *b, const char *s, struct rd_err *err)
{
	return rdi_put_bytes(b, s != NULL ? s : "", s != NULL ? strlen(s) : 0,
	    err);
}

int
rdi_get_u64(struct rdi_msg *m, uint64_t *v)
{
	if (m->bad || m->len - m->pos < 8) {
		m->bad = 1;
		*v = 0;
		return -1;
	}
	*v = rdi_get_le64(m->p + m->pos);
	m->pos += 8;
	return 0;
}

int
rdi_get_i64(struct rdi_msg *m, int64_t *v)
{
	uint64_t u;
	int r = rdi_get_u64(m, &u);

	*v = (int64_t)u;
	return r;
}

int
rdi_get_bytes(struct rdi_msg *m, const unsigned char **p, size_t *n)
{
	uint64_t len;

	if (rdi_get_u64(m, &len) == -1 || len > m->len - m->pos) {
		m->bad = 1;
		*p = NULL;
		*n = 0;
		return -1;
	}
	*p = m->p + m->pos;
	*n = (size_t)len;
	m->pos += (size_t)len;
	return 0;
}

int
rdi_get_str(struct rdi_msg *m, char *out, size_t outlen)
{
	const unsigned char *p;
	size_t n;

	if (rdi_get_bytes(m, &p, &n) == -1 || n >= outlen ||
	    memchr(p, '\0', n) != NULL) {
		m->bad = 1;
		if (outlen > 0)
			out[0] = '\0';
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
rdi_put_f64(struct rdi_buf *b, double v, struct rd_err *err)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return rdi_put_u64(b, u, err);
}

int
rdi_get_f64(struct rdi_msg *m, double *v)
{
	uint64_t u;
	int r = rdi_get_u64(m, &u);

	memcpy(v, &u, sizeof(*v));
	return r;
}

void
rdi_msg_init(struct rdi_msg *m, const struct rdi_buf *b)
{
	m->p = b->data;
	m->len = b->len;
	m->pos = 0;
	m->bad = 0;
}

int
rdi_msg_done(struct rdi_msg *m, const char *what, struct rd_err *err)
{
	if (m->bad || m->pos != m->len)
		return rd_err_set(err, RD_ECORRUPT, "malformed %s frame", what);
	return 0;
}
