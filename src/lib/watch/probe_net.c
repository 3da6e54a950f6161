/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe_net.c: the tcp and http probes.  Both connect with a non-blocking
 * socket to each address of the host in turn and poll(2) against one
 * deadline, so the whole probe (connect, request, response) is bounded by
 * the timeout.  http speaks just enough HTTP/1.1 for a health check: one
 * GET with "Connection: close", the status line, and, when the body must
 * contain a text, Content-Length, chunked or read-to-close bodies.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probe_int.h"

#define HTTP_HEAD_MAX (64 * 1024)   /* status line and headers */
#define HTTP_BODY_MAX (1024 * 1024) /* body searched for "contains" */

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* ------------------------------------------------------------------ */
/* Parsing */

static int
host_char_ok(int c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_';
}

/*
 * Parse "HOST[:PORT]" at the start of "s", up to the first '/', '?' or
 * the end, into p->host, p->port and p->hostport.  "defport" is used when
 * the port is left out, which is an error if it is NULL.  "*end" is set
 * past the authority.  Returns 0, -1 with "why" set, or -2 when out of
 * memory.
 */
static int
parse_authority(struct rd_probe *p, const char *s, const char *defport,
    const char **end, char *why, size_t whylen)
{
	struct in6_addr a6;
	const char *h, *hend, *port, *pend, *c;
	char addr[INET6_ADDRSTRLEN + 1];
	size_t hlen, plen, n;
	long v;
	int colons = 0, v6 = 0;

	for (pend = s; *pend != '\0' && *pend != '/' && *pend != '?'; pend++) {
		if (*pend == '@') {
			snprintf(why, whylen,
			    "user information is not supported");
			return -1;
		}
		if (*pend == ':')
			colons++;
	}
	if (*s == '[') {
		h = s + 1;
		hend = memchr(h, ']', (size_t)(pend - h));
		if (hend == NULL) {
			snprintf(why, whylen, "unterminated '['");
			return -1;
		}
		c = hend + 1;
		v6 = 1;
	} else {
		if (colons > 1) {
			snprintf(why, whylen,
			    "an IPv6 address needs brackets, as in [::1]:80");
			return -1;
		}
		h = s;
		for (hend = h; hend < pend && *hend != ':'; hend++)
			continue;
		c = hend;
	}
	hlen = (size_t)(hend - h);
	if (hlen == 0) {
		snprintf(why, whylen, "missing host");
		return -1;
	}
	if (v6) {
		/* the address before any "%zone" must be IPv6 */
		n = strcspn(h, "%]");
		if (n >= sizeof(addr))
			n = sizeof(addr) - 1;
		memcpy(addr, h, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET6, addr, &a6) != 1) {
			snprintf(why, whylen, "invalid IPv6 address '%.*s'",
			    (int)hlen, h);
			return -1;
		}
	} else {
		for (n = 0; n < hlen; n++) {
			if (!host_char_ok((unsigned char)h[n])) {
				snprintf(why, whylen, "invalid host '%.*s'",
				    (int)hlen, h);
				return -1;
			}
		}
	}
	if (c < pend && *c != ':') {
		snprintf(why, whylen, "unexpected '%.*s' after the host",
		    (int)(pend - c), c);
		return -1;
	}
	if (c < pend) {
		port = c + 1;
		plen = (size_t)(pend - port);
		if (plen == 0) {
			snprintf(why, whylen, "missing port");
			return -1;
		}
		v = 0;
		for (n = 0; n < plen; n++) {
			if (!isdigit((unsigned char)port[n]) || v > 65535) {
				v = -1;
				break;
			}
			v = v * 10 + (port[n] - '0');
		}
		if (v < 1 || v > 65535) {
			snprintf(why, whylen,
			    "invalid port '%.*s' (expected 1 to 65535)",
			    (int)plen, port);
			return -1;
		}
		p->port = malloc(8);
		if (p->port != NULL)
			snprintf(p->port, 8, "%ld", v);
	} else if (defport == NULL) {
		snprintf(why, whylen, "missing port");
		return -1;
	} else {
		p->port = strdup(defport);
	}
	p->host = strndup(h, hlen);
	if (p->host == NULL || p->port == NULL)
		return -2;
	/* Host header: the port only when not the default */
	n = hlen + strlen(p->port) + 4;
	p->hostport = malloc(n);
	if (p->hostport == NULL)
		return -2;
	if (defport != NULL && strcmp(p->port, defport) == 0)
		snprintf(p->hostport, n, "%s%s%s", v6 ? "[" : "", p->host,
		    v6 ? "]" : "");
	else
		snprintf(p->hostport, n, "%s%s%s:%s", v6 ? "[" : "", p->host,
		    v6 ? "]" : "", p->port);
	*end = pend;
	return 0;
}

int
rdi_probe_tcp_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen)
{
	const char *end;
	int rc;

	rc = parse_authority(p, rest, NULL, &end, why, whylen);
	if (rc != 0)
		return rc;
	if (*end != '\0') {
		snprintf(why, whylen, "unexpected '%s' after the port", end);
		return -1;
	}
	return 0;
}

/*
 * Handle one "name=value" item of an http spec's query: "expect" and
 * "contains" are ours; anything else is appended to "kept" as it was
 * written.  Returns 0, -1 with "why" set, or -2 when out of memory.
 */
static int
http_option(struct rd_probe *p, const char *item, char *kept, char *why,
    size_t whylen)
{
	struct rdi_probe_opt opt;
	char *copy, *e;
	int n, ret = -1;
	long v;

	if (strncmp(item, "expect=", 7) != 0 &&
	    strncmp(item, "contains=", 9) != 0) {
		if (*kept != '\0')
			strcat(kept, "&");
		strcat(kept, item);
		return 0;
	}
	copy = strdup(item);
	if (copy == NULL)
		return -2;
	n = rdi_probe_opts(copy, &opt, 1, why, whylen);
	if (n == -1)
		goto out;
	if (opt.name[0] == 'e') {
		errno = 0;
		v = strtol(opt.value, &e, 10);
		if (p->expect != 0) {
			snprintf(why, whylen, "duplicate option 'expect'");
			goto out;
		}
		if (!isdigit((unsigned char)opt.value[0]) || *e != '\0' ||
		    errno != 0 || v < 100 || v > 599) {
			snprintf(why, whylen,
			    "invalid expect '%s' (expected 100 to 599)",
			    opt.value);
			goto out;
		}
		p->expect = (int)v;
	} else {
		if (p->contains != NULL) {
			snprintf(why, whylen, "duplicate option 'contains'");
			goto out;
		}
		if (opt.value[0] == '\0') {
			snprintf(why, whylen, "empty contains");
			goto out;
		}
		p->contains = strdup(opt.value);
		if (p->contains == NULL) {
			ret = -2;
			goto out;
		}
	}
	ret = 0;
out:
	free(copy);
	return ret;
}

int
rdi_probe_http_parse(struct rd_probe *p, const char *rest, char *why,
    size_t whylen)
{
	const char *end, *s;
	char *query = NULL, *item, *next, *kept = NULL;
	size_t len, plen;
	int rc, ret = -1;

	rc = parse_authority(p, rest, "80", &end, why, whylen);
	if (rc != 0)
		return rc;
	for (s = end; *s != '\0'; s++) {
		if (*s == ' ' || *s == '#') {
			snprintf(why, whylen,
			    "'%c' in the URL (write it as %%%02X)", *s, *s);
			return -1;
		}
	}
	plen = strcspn(end, "?");
	len = strlen(end) + 2;
	kept = calloc(1, len);
	p->path = malloc(len);
	if (kept == NULL || p->path == NULL) {
		ret = -2;
		goto out;
	}
	if (end[plen] == '?') {
		query = strdup(end + plen + 1);
		if (query == NULL) {
			ret = -2;
			goto out;
		}
		for (item = query; item != NULL; item = next) {
			next = strchr(item, '&');
			if (next != NULL)
				*next++ = '\0';
			rc = http_option(p, item, kept, why, whylen);
			if (rc != 0) {
				ret = rc;
				goto out;
			}
		}
	}
	/* "/" for an empty path, then what is left of the query */
	snprintf(p->path, len, "%s%.*s%s%s", *end == '/' ? "" : "/", (int)plen,
	    end, *kept != '\0' ? "?" : "", kept);
	ret = 0;
out:
	free(query);
	free(kept);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Connecting */

/*
 * Wait until "fd" is ready for "events" or "deadline" passes.  Returns 1
 * when ready, 0 on timeout, -1 with errno set.
 */
static int
wait_fd(int fd, short events, double deadline)
{
	struct pollfd pfd;
	double left;
	int rc, ms;

	for (;;) {
		left = deadline - rd_monotonic();
		if (left <= 0)
			return 0;
		ms = (int)(left * 1000) + 1;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		rc = poll(&pfd, 1, ms);
		if (rc > 0)
			return 1;
		if (rc == -1 && errno != EINTR)
			return -1;
	}
}

/*
 * Connect the non-blocking "fd" to "a" by "deadline".  Returns 0 when
 * connected, -1 on timeout, or the errno value of the failure.
 */
static int
try_connect(int fd, const struct addrinfo *a, double deadline)
{
	socklen_t len;
	int soerr, rc;

	if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return errno;
	rc = wait_fd(fd, POLLOUT, deadline);
	if (rc == 0)
		return -1;
	if (rc == -1)
		return errno;
	len = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		return errno;
	return soerr;
}

/* Resource shortages are our problem, not the target's. */
static int
local_shortage(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM;
}

static int
new_socket(const struct addrinfo *a)
{
	int fd;

#ifdef SOCK_CLOEXEC
	fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    a->ai_protocol);
#else
	int fl;

	fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
	if (fd == -1)
		return -1;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		close(fd);
		return -1;
	}
#endif
	return fd;
}

/*
 * Connect to the probe's host and port by "deadline", trying every
 * address in turn.  Returns 0 with "*fdp" set, or -1 with "res" filled.
 */
static int
connect_to(const struct rd_probe *p, double deadline, double timeout, int *fdp,
    struct rd_probe_result *res)
{
	struct addrinfo hints, *ai = NULL, *a;
	int fd = -1, rc, last = 0, ret = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(p->host, p->port, &hints, &ai);
	if (rc != 0) {
		if (rc == EAI_MEMORY)
			rdi_probe_error(res, RD_ENOMEM, "out of memory");
		else if (rc == EAI_SYSTEM)
			rdi_probe_down_errno(res, "cannot resolve host", errno);
		else
			rdi_probe_down(res, "cannot resolve '%s': %s", p->host,
			    gai_strerror(rc));
		return -1;
	}
	for (a = ai; a != NULL; a = a->ai_next) {
		if (rd_monotonic() >= deadline) {
			last = -1;
			break;
		}
		fd = new_socket(a);
		if (fd == -1) {
			if (local_shortage(errno)) {
				rdi_probe_error(res, RD_ENOMEM,
				    "cannot create a socket: %s",
				    strerror(errno));
				goto out;
			}
			last = errno;
			continue;
		}
		rc = try_connect(fd, a, deadline);
		if (rc == 0) {
			*fdp = fd;
			fd = -1;
			ret = 0;
			goto out;
		}
		close(fd);
		fd = -1;
		last = rc;
		if (rc == -1)
			break;
	}
	if (last == -1)
		rdi_probe_timeout(res, timeout);
	else if (last == 0)
		rdi_probe_down(res, "no address for '%s'", p->host);
	else
		rdi_probe_down_errno(res, NULL, last);
out:
	if (fd != -1)
		close(fd);
	freeaddrinfo(ai);
	return ret;
}

void
rdi_probe_tcp_run(const struct rd_probe *p, double deadline, double timeout,
    struct rd_probe_result *res)
{
	int fd;

	if (connect_to(p, deadline, timeout, &fd, res) == 0) {
		close(fd);
		res->state = RD_PROBE_UP;
	}
}

/* ------------------------------------------------------------------ */
/* HTTP */

enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER, CH_DONE, CH_BAD };

struct http {
	int fd;
	double deadline, timeout;
	struct rdi_buf raw; /* bytes as received */
	size_t head;        /* length of the response head in "raw" */
	int status;
	int chunked;
	long long clen;      /* Content-Length, or -1 */
	struct rdi_buf body; /* decoded body */
	int ch;              /* chunked decoder state */
	size_t linelen;
	unsigned long long left;
	char line[32];
};

/* Case-insensitive: does "hay" (of "len" bytes) contain "needle"? */
static int
ci_contains(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= len; i++)
		if (strncasecmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

/* Offset just past the blank line ending the head in "b", or 0. */
static size_t
head_end(const unsigned char *b, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (b[i] != '\n')
			continue;
		if (b[i + 1] == '\n')
			return i + 2;
		if (b[i + 1] == '\r' && i + 2 < len && b[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Parse the status line and the headers we need.  Returns 0 or -1. */
static int
parse_head(struct http *h)
{
	const char *s = (const char *)h->raw.data, *end = s + h->head;
	const char *line, *nl, *colon, *v;
	size_t vlen;

	if (h->head < 12 || strncmp(s, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)s[7]) || s[8] != ' ' ||
	    !isdigit((unsigned char)s[9]) || !isdigit((unsigned char)s[10]) ||
	    !isdigit((unsigned char)s[11]) ||
	    (h->head > 12 && s[12] != ' ' && s[12] != '\r' && s[12] != '\n'))
		return -1;
	h->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	h->chunked = 0;
	h->clen = -1;
	line = (const char *)memchr(s, '\n', h->head) + 1;
	for (; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			break;
		colon = memchr(line, ':', (size_t)(nl - line));
		if (colon == NULL)
			continue;
		for (v = colon + 1; v < nl && (*v == ' ' || *v == '\t'); v++)
			continue;
		vlen = (size_t)(nl - v);
		if ((size_t)(colon - line) == 17 &&
		    strncasecmp(line, "transfer-encoding", 17) == 0 &&
		    ci_contains(v, vlen, "chunked"))
			h->chunked = 1;
		else if ((size_t)(colon - line) == 14 &&
		    strncasecmp(line, "content-length", 14) == 0 &&
		    isdigit((unsigned char)*v))
			h->clen = strtoll(v, NULL, 10);
	}
	return 0;
}

/* Feed "len" bytes of body to the decoder.  Returns 0 or -1 (no memory). */
static int
body_feed(struct http *h, const unsigned char *b, size_t len,
    struct rd_err *err)
{
	size_t n;
	char *end;

	if (!h->chunked) {
		n = HTTP_BODY_MAX - h->body.len;
		return rdi_buf_append(&h->body, b, len < n ? len : n, err);
	}
	while (len > 0 && h->ch != CH_DONE && h->ch != CH_BAD) {
		if (h->ch == CH_DATA) {
			n = len < h->left ? len : (size_t)h->left;
			if (h->body.len + n > HTTP_BODY_MAX)
				n = HTTP_BODY_MAX - h->body.len;
			if (rdi_buf_append(&h->body, b, n, err) == -1)
				return -1;
			if (n == 0) {
				h->ch = CH_DONE; /* searched enough */
				break;
			}
			b += n;
			len -= n;
			h->left -= n;
			if (h->left == 0)
				h->ch = CH_DATA_END;
			continue;
		}
		/* line-oriented states, byte by byte */
		if (*b == '\r') {
			/* ignored */
		} else if (*b != '\n') {
			if (h->ch == CH_DATA_END)
				h->ch = CH_BAD;
			else if (h->linelen + 1 < sizeof(h->line))
				h->line[h->linelen] = (char)*b;
			h->linelen++;
		} else if (h->ch == CH_DATA_END) {
			h->ch = CH_SIZE;
			h->linelen = 0;
		} else if (h->ch == CH_TRAILER) {
			if (h->linelen == 0)
				h->ch = CH_DONE;
			h->linelen = 0;
		} else {
			if (h->linelen >= sizeof(h->line))
				h->linelen = sizeof(h->line) - 1;
			h->line[h->linelen] = '\0';
			errno = 0;
			h->left = strtoull(h->line, &end, 16);
			if (end == h->line || errno != 0 ||
			    (*end != '\0' && *end != ';' && *end != ' ' &&
			        *end != '\t'))
				h->ch = CH_BAD;
			else
				h->ch = h->left == 0 ? CH_TRAILER : CH_DATA;
			h->linelen = 0;
		}
		b++;
		len--;
	}
	return 0;
}

/* 1 if the whole body (as far as we search it) has arrived. */
static int
body_done(const struct http *h)
{
	if (h->body.len >= HTTP_BODY_MAX)
		return 1;
	if (h->chunked)
		return h->ch == CH_DONE || h->ch == CH_BAD;
	return h->clen >= 0 && (long long)h->body.len >= h->clen;
}

static int
body_has(const struct http *h, const char *needle)
{
	size_t n = strlen(needle);

	return h->body.len >= n &&
	    memmem(h->body.data, h->body.len, needle, n) != NULL;
}

/* Send all of "buf".  Returns 0, or -1 with "res" filled. */
static int
send_all(struct http *h, const char *buf, size_t len,
    struct rd_probe_result *res)
{
	ssize_t n;
	int rc;

	while (len > 0) {
		n = send(h->fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			rdi_probe_down_errno(res, NULL, errno);
			return -1;
		}
		rc = wait_fd(h->fd, POLLOUT, h->deadline);
		if (rc == 0) {
			rdi_probe_timeout(res, h->timeout);
			return -1;
		}
		if (rc == -1) {
			rdi_probe_down_errno(res, NULL, errno);
			return -1;
		}
	}
	return 0;
}

/*
 * Receive what is available into h->raw.  Returns the number of bytes
 * (0 at end of stream), or -1 with "res" filled.
 */
static ssize_t
receive(struct http *h, struct rd_probe_result *res)
{
	unsigned char buf[16384];
	struct rd_err err = RD_ERR_INIT;
	ssize_t n;
	int rc;

	for (;;) {
		n = recv(h->fd, buf, sizeof(buf), 0);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			rdi_probe_down_errno(res, NULL, errno);
			return -1;
		}
		rc = wait_fd(h->fd, POLLIN, h->deadline);
		if (rc == 0) {
			rdi_probe_timeout(res, h->timeout);
			return -1;
		}
		if (rc == -1) {
			rdi_probe_down_errno(res, NULL, errno);
			return -1;
		}
	}
	if (n > 0 && rdi_buf_append(&h->raw, buf, (size_t)n, &err) == -1) {
		rdi_probe_error(res, err.code, "%s", err.msg);
		return -1;
	}
	return n;
}

/* Read up to the end of a final (not 1xx) response head.  0 or -1. */
static int
read_head(struct http *h, struct rd_probe_result *res)
{
	ssize_t n;

	for (;;) {
		h->head = head_end(h->raw.data, h->raw.len);
		if (h->head != 0) {
			if (parse_head(h) == -1) {
				rdi_probe_down(res, "invalid HTTP response");
				return -1;
			}
			if (h->status >= 200 || h->status == 101)
				return 0;
			/* an interim response: drop it, read the next */
			memmove(h->raw.data, h->raw.data + h->head,
			    h->raw.len - h->head);
			h->raw.len -= h->head;
			continue;
		}
		if (h->raw.len > HTTP_HEAD_MAX) {
			rdi_probe_down(res, "response head too large");
			return -1;
		}
		n = receive(h, res);
		if (n == -1)
			return -1;
		if (n == 0) {
			if (h->raw.len == 0)
				rdi_probe_down(res,
				    "connection closed without a response");
			else if (head_end(h->raw.data, h->raw.len) == 0 &&
			    (h->raw.len < 5 ||
			        memcmp(h->raw.data, "HTTP/", 5) != 0))
				rdi_probe_down(res, "invalid HTTP response");
			else
				rdi_probe_down(res, "incomplete response");
			return -1;
		}
	}
}

/* Read the body until it contains "needle", ends, or is too long. */
static int
read_body(struct http *h, const char *needle, struct rd_probe_result *res)
{
	struct rd_err err = RD_ERR_INIT;
	size_t have;
	ssize_t n;

	have = h->head;
	for (;;) {
		if (body_feed(h, h->raw.data + have, h->raw.len - have, &err) ==
		    -1) {
			rdi_probe_error(res, err.code, "%s", err.msg);
			return -1;
		}
		/* the raw bytes are decoded: keep the buffer small */
		h->raw.len = have = 0;
		if (body_has(h, needle))
			return 0;
		if (body_done(h))
			break;
		n = receive(h, res);
		if (n == -1)
			return -1;
		if (n == 0)
			break;
	}
	if (h->chunked && h->ch == CH_BAD)
		rdi_probe_down(res, "invalid chunked encoding");
	else
		rdi_probe_down(res, "body does not contain '%s'", needle);
	return -1;
}

void
rdi_probe_http_run(const struct rd_probe *p, double deadline, double timeout,
    struct rd_probe_result *res)
{
	struct http h;
	char *req = NULL;
	size_t len;
	int n;

	memset(&h, 0, sizeof(h));
	h.fd = -1;
	h.deadline = deadline;
	h.timeout = timeout;
	h.ch = CH_SIZE;
	len = strlen(p->path) + strlen(p->hostport) + 128;
	req = malloc(len);
	if (req == NULL) {
		rdi_probe_error(res, RD_ENOMEM, "out of memory");
		goto out;
	}
	n = snprintf(req, len,
	    "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: rdwatch/%s\r\n"
	    "Accept: */*\r\nConnection: close\r\n\r\n",
	    p->path, p->hostport, PACKAGE_VERSION);
	if (n < 0 || (size_t)n >= len) {
		rdi_probe_error(res, RD_EINTERNAL, "request too long");
		goto out;
	}
	if (connect_to(p, deadline, timeout, &h.fd, res) == -1)
		goto out;
	if (send_all(&h, req, (size_t)n, res) == -1)
		goto out;
	if (read_head(&h, res) == -1)
		goto out;
	if (p->expect != 0 && h.status != p->expect) {
		rdi_probe_down(res, "HTTP %d (expected %d)", h.status,
		    p->expect);
		goto out;
	}
	if (p->expect == 0 && (h.status < 200 || h.status > 299)) {
		rdi_probe_down(res, "HTTP %d", h.status);
		goto out;
	}
	if (p->contains != NULL && read_body(&h, p->contains, res) == -1)
		goto out;
	res->state = RD_PROBE_UP;
out:
	if (h.fd != -1)
		close(h.fd);
	rdi_buf_release(&h.raw);
	rdi_buf_release(&h.body);
	free(req);
}
