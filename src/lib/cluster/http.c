/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * http.c: a small HTTP/1.1 client for the etcd gateway: one POST per
 * connection ("Connection: close"), plain TCP, every step (resolving
 * aside) bounded by one deadline, the answer bounded by RDI_HTTP_MAX.
 * The parser takes Content-Length, chunked coding or a body up to the
 * end of the connection, and refuses anything else it cannot vouch for:
 * it is a pure function of the bytes, so unit tests and fuzz targets
 * reach it without a network.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cluster_int.h"

int
rdi_endpoint_parse(const char *url, struct rdi_endpoint *ep, struct rd_err *err)
{
	const char *h, *colon;
	size_t hl, pl, i;
	char *end;
	long port;

	memset(ep, 0, sizeof(*ep));
	if (strlen(url) >= sizeof(ep->url))
		return rd_err_set(err, RD_EUSAGE, "etcd endpoint is too long");
	snprintf(ep->url, sizeof(ep->url), "%s", url);
	if (strncmp(url, "http://", 7) != 0)
		return rd_err_set(err, RD_EUSAGE,
		    "etcd endpoint '%s' is not http://HOST:PORT (TLS is not supported)",
		    url);
	h = url + 7;
	if (h[0] == '[') {
		colon = strchr(h, ']');
		if (colon == NULL || colon[1] != ':')
			goto bad;
		hl = (size_t)(colon - h - 1);
		h++;
		colon++;
	} else {
		colon = strrchr(h, ':');
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - h);
	}
	pl = strlen(colon + 1);
	if (pl > 0 && colon[pl] == '/')
		pl--; /* one trailing slash */
	if (hl == 0 || hl >= sizeof(ep->host) || pl == 0 || pl > 5)
		goto bad;
	for (i = 0; i < hl; i++)
		if (!(h[i] == '.' || h[i] == '-' || h[i] == ':' ||
		        (h[i] >= '0' && h[i] <= '9') ||
		        (h[i] >= 'a' && h[i] <= 'z') ||
		        (h[i] >= 'A' && h[i] <= 'Z')))
			goto bad;
	memcpy(ep->host, h, hl);
	memcpy(ep->port, colon + 1, pl);
	port = strtol(ep->port, &end, 10);
	if (*end != '\0' || ep->port[0] < '1' || ep->port[0] > '9' ||
	    port > 65535)
		goto bad;
	return 0;
bad:
	return rd_err_set(err, RD_EUSAGE,
	    "etcd endpoint '%s' is not http://HOST:PORT", url);
}

/* ------------------------------------------------------------------ */
/* Parsing */

/* The end of the head (after its blank line) in "buf", or 0. */
static size_t
head_end(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 3 < len; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return 0;
}

struct head {
	int status;
	int chunked;
	long long clen; /* -1 none */
};

/* Parse the head "buf" ("len" bytes, ending in its blank line). */
static int
parse_head(const char *buf, size_t len, struct head *h, struct rd_err *err)
{
	const char *line = buf, *eol, *v;
	char *end;
	size_t n;

	h->status = 0;
	h->chunked = 0;
	h->clen = -1;
	eol = memchr(line, '\r', len);
	if (eol == NULL || eol - line < 12 ||
	    (memcmp(line, "HTTP/1.1 ", 9) != 0 &&
	        memcmp(line, "HTTP/1.0 ", 9) != 0) ||
	    line[9] < '1' || line[9] > '5' || line[10] < '0' ||
	    line[10] > '9' || line[11] < '0' || line[11] > '9' ||
	    (eol - line > 12 && line[12] != ' '))
		return rd_err_set(err, RD_ECORRUPT,
		    "answer is not an HTTP/1.x status line");
	h->status =
	    (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	for (;;) {
		line = eol + 2;
		if ((size_t)(line - buf) >= len)
			break;
		eol = memchr(line, '\r', len - (size_t)(line - buf));
		if (eol == NULL || eol[1] != '\n')
			return rd_err_set(err, RD_ECORRUPT,
			    "answer has a bad header line");
		n = (size_t)(eol - line);
		if (n == 0)
			break;
		if (memchr(line, '\n', n) != NULL || memchr(line, '\0', n))
			return rd_err_set(err, RD_ECORRUPT,
			    "answer has a bad header line");
		if (n > 15 && strncasecmp(line, "content-length:", 15) == 0) {
			v = line + 15;
			while (*v == ' ' || *v == '\t')
				v++;
			if (*v < '0' || *v > '9' || h->clen != -1)
				return rd_err_set(err, RD_ECORRUPT,
				    "answer has a bad Content-Length");
			errno = 0;
			h->clen = strtoll(v, &end, 10);
			while (*end == ' ' || *end == '\t')
				end++;
			if (errno != 0 || end != eol || h->clen > RDI_HTTP_MAX)
				return rd_err_set(err, RD_ECORRUPT,
				    "answer has a bad Content-Length");
		} else if (n > 18 &&
		    strncasecmp(line, "transfer-encoding:", 18) == 0) {
			v = line + 18;
			while (*v == ' ' || *v == '\t')
				v++;
			if ((size_t)(eol - v) != 7 ||
			    strncasecmp(v, "chunked", 7) != 0)
				return rd_err_set(err, RD_ECORRUPT,
				    "answer has an unsupported Transfer-Encoding");
			h->chunked = 1;
		}
	}
	if (h->chunked && h->clen != -1)
		return rd_err_set(err, RD_ECORRUPT,
		    "answer has both Content-Length and chunked coding");
	return 0;
}

/*
 * Decode the chunked body "b" ("len" bytes) into "out" (at least "len"
 * bytes).  Returns 1 complete (with "*outlen"), 0 not yet, -1 bad.
 */
static int
dechunk(const char *b, size_t len, char *out, size_t *outlen)
{
	size_t i = 0, o = 0, size, k;
	int digits;

	for (;;) {
		size = 0;
		digits = 0;
		for (k = i; k < len; k++) {
			char c = b[k];
			int d;

			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				break;
			if (++digits > 6)
				return -1;
			size = size * 16 + (size_t)d;
		}
		if (k + 1 >= len)
			return 0;
		if (digits == 0 || b[k] != '\r' || b[k + 1] != '\n')
			return -1;
		i = k + 2;
		if (size == 0) {
			/* no trailers: the final blank line */
			if (len - i < 2)
				return 0;
			if (b[i] != '\r' || b[i + 1] != '\n' || i + 2 != len)
				return -1;
			*outlen = o;
			return 1;
		}
		if (len - i < size + 2)
			return 0;
		if (b[i + size] != '\r' || b[i + size + 1] != '\n')
			return -1;
		memcpy(out + o, b + i, size);
		o += size;
		i += size + 2;
	}
}

int
rdi_http_complete(const char *buf, size_t len, int eof, struct rd_err *err)
{
	struct rdi_http_resp r;
	struct head h;
	size_t he = head_end(buf, len);
	int ret;

	if (he == 0) {
		if (len > RDI_HTTP_HEAD_MAX)
			return rd_err_set(err, RD_ECORRUPT,
			    "answer's head is longer than %d bytes",
			    RDI_HTTP_HEAD_MAX);
		if (eof)
			return rd_err_set(err, RD_ECORRUPT,
			    "connection closed in the answer's head");
		return 0;
	}
	if (parse_head(buf, he, &h, err) == -1)
		return -1;
	if (h.clen >= 0) {
		if (len - he > (size_t)h.clen)
			return rd_err_set(err, RD_ECORRUPT,
			    "answer is longer than its Content-Length");
		if (len - he == (size_t)h.clen)
			return 1;
		if (eof)
			return rd_err_set(err, RD_ECORRUPT,
			    "connection closed before the answer's end");
		return 0;
	}
	if (!h.chunked)
		return eof ? 1 : 0;
	ret = rdi_http_parse(buf, len, &r, err);
	if (ret == 0) {
		rdi_http_resp_release(&r);
		return 1;
	}
	if (err->code == RD_EUNAVAIL) {
		rd_err_clear(err);
		if (eof)
			return rd_err_set(err, RD_ECORRUPT,
			    "connection closed before the answer's end");
		return 0;
	}
	return -1;
}

int
rdi_http_parse(const char *buf, size_t len, struct rdi_http_resp *resp,
    struct rd_err *err)
{
	struct head h;
	size_t he = head_end(buf, len), blen;
	char *body;
	int r;

	memset(resp, 0, sizeof(*resp));
	if (he == 0 || len > RDI_HTTP_MAX)
		return rd_err_set(err, RD_ECORRUPT,
		    "answer is not a complete HTTP response");
	if (parse_head(buf, he, &h, err) == -1)
		return -1;
	blen = len - he;
	if (h.clen >= 0 && (size_t)h.clen != blen)
		return rd_err_set(err, RD_ECORRUPT,
		    "answer's body does not match its Content-Length");
	body = malloc(blen + 1);
	if (body == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (h.chunked) {
		r = dechunk(buf + he, blen, body, &blen);
		if (r != 1) {
			free(body);
			/* RD_EUNAVAIL tells rdi_http_complete "not yet" */
			return rd_err_set(err,
			    r == 0 ? RD_EUNAVAIL : RD_ECORRUPT,
			    "answer has a bad chunked body");
		}
	} else {
		memcpy(body, buf + he, blen);
	}
	body[blen] = '\0';
	resp->status = h.status;
	resp->body = body;
	resp->len = blen;
	return 0;
}

void
rdi_http_resp_release(struct rdi_http_resp *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

/* ------------------------------------------------------------------ */
/* The connection */

/* Wait for "events" on "fd" until "deadline".  1 ready, 0 timeout, -1. */
static int
wait_fd(int fd, short events, double deadline)
{
	struct pollfd pfd;
	double left;
	int rc;

	for (;;) {
		left = deadline - rd_monotonic();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (rc > 0)
			return 1;
		if (rc == -1 && errno != EINTR)
			return -1;
	}
}

/* Connect to an address of "ep" by "deadline".  Returns the fd or -1. */
static int
dial(const struct rdi_endpoint *ep, double deadline, struct rd_err *err)
{
	struct addrinfo hints, *ai = NULL, *a;
	int fd = -1, rc, soerr = 0;
	socklen_t sl;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(ep->host, ep->port, &hints, &ai);
	if (rc != 0)
		return rd_err_set(err, RD_EUNAVAIL, "%s: cannot resolve: %s",
		    ep->url, gai_strerror(rc));
	for (a = ai; a != NULL; a = a->ai_next) {
		fd = socket(a->ai_family,
		    a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    a->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		soerr = errno;
		if (errno == EINPROGRESS) {
			rc = wait_fd(fd, POLLOUT, deadline);
			sl = sizeof(soerr);
			if (rc == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ==
			        0 &&
			    soerr == 0)
				break;
			if (rc == 0)
				soerr = ETIMEDOUT;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd == -1) {
		errno = soerr;
		return rd_err_sys(err, RD_EUNAVAIL, "%s: cannot connect",
		    ep->url);
	}
	return fd;
}

static int
send_all(int fd, const char *s, size_t n, double deadline,
    const struct rdi_endpoint *ep, struct rd_err *err)
{
	ssize_t w;

	while (n > 0) {
		if (wait_fd(fd, POLLOUT, deadline) != 1)
			return rd_err_set(err, RD_EUNAVAIL,
			    "%s: timed out sending the request", ep->url);
		w = send(fd, s, n, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return rd_err_sys(err, RD_EUNAVAIL,
			    "%s: cannot send the request", ep->url);
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Put the endpoint's URL before the message of "err".  Returns -1. */
static int
prefix(struct rd_err *err, const struct rdi_endpoint *ep)
{
	char msg[sizeof(err->msg)];

	snprintf(msg, sizeof(msg), "%s", err->msg);
	return rd_err_set(err, err->code, "%s: %s", ep->url, msg);
}

/* Read the answer into "buf" (RDI_HTTP_MAX + 1) until it is complete. */
static int
read_answer(int fd, char *buf, size_t *len, double deadline,
    const struct rdi_endpoint *ep, struct rd_err *err)
{
	ssize_t r;
	int eof = 0, c, w;

	*len = 0;
	for (;;) {
		c = rdi_http_complete(buf, *len, eof, err);
		if (c == -1)
			return prefix(err, ep);
		if (c == 1)
			return 0;
		if (*len >= RDI_HTTP_MAX)
			return rd_err_set(err, RD_ECORRUPT,
			    "%s: answer is longer than %d bytes", ep->url,
			    RDI_HTTP_MAX);
		w = wait_fd(fd, POLLIN, deadline);
		if (w != 1)
			return rd_err_set(err, RD_EUNAVAIL,
			    "%s: no answer in time", ep->url);
		r = recv(fd, buf + *len, RDI_HTTP_MAX - *len, 0);
		if (r == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return rd_err_sys(err, RD_EUNAVAIL,
			    "%s: cannot read the answer", ep->url);
		}
		if (r == 0)
			eof = 1;
		*len += (size_t)r;
	}
}

int
rdi_http_post(const struct rdi_endpoint *ep, const char *path, const char *body,
    double timeout, struct rdi_http_resp *resp, struct rd_err *err)
{
	double deadline = rd_monotonic() + timeout;
	char head[600], *buf = NULL;
	size_t len, blen = strlen(body);
	int fd, n, ret = -1;

	memset(resp, 0, sizeof(*resp));
	n = snprintf(head, sizeof(head),
	    "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
	    path, ep->host, ep->port, blen);
	if (n < 0 || (size_t)n >= sizeof(head))
		return rd_err_set(err, RD_EINTERNAL, "request head too long");
	fd = dial(ep, deadline, err);
	if (fd == -1)
		return -1;
	buf = malloc(RDI_HTTP_MAX + 1);
	if (buf == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	if (send_all(fd, head, (size_t)n, deadline, ep, err) == -1 ||
	    send_all(fd, body, blen, deadline, ep, err) == -1 ||
	    read_answer(fd, buf, &len, deadline, ep, err) == -1)
		goto out;
	if (rdi_http_parse(buf, len, resp, err) == -1) {
		prefix(err, ep);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}
