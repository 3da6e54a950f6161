/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * jsonr.c: a validating JSON reader for answers from the network (the
 * etcd gateway).  The whole document is checked once against the strict
 * grammar (bounded nesting, valid UTF-8, known escapes, numbers as RFC
 * 8259 writes them); lookups then walk the checked text without copying
 * it, and strings are decoded only into caller buffers of a given size.
 * Nothing here allocates, so a hostile answer costs at most its bounded
 * length in time and no memory.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"

struct jp {
	const char *s;
	size_t len, i;
	struct rd_err *err;
};

static int
jp_fail(struct jp *p, const char *what)
{
	return rd_err_set(p->err, RD_ECORRUPT, "bad JSON at byte %zu: %s", p->i,
	    what);
}

static void
skip_ws(struct jp *p)
{
	while (p->i < p->len &&
	    (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
	        p->s[p->i] == '\r'))
		p->i++;
}

static int
hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	int k;

	for (k = 0; k < 4; k++) {
		char c = s[k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/*
 * The escape after the backslash at "p->i": its code point into "*cp"
 * (a surrogate pair is joined).  Advances past it.  Returns 0 or -1.
 */
static int
escape(struct jp *p, unsigned *cp)
{
	unsigned lo;
	const char *map = "\"\"\\\\//b\bf\fn\nr\rt\t";
	const char *m;

	if (p->i + 1 >= p->len)
		return jp_fail(p, "escape at the end");
	p->i++;
	if (p->s[p->i] != 'u') {
		for (m = map; *m != '\0'; m += 2)
			if (m[0] == p->s[p->i]) {
				*cp = (unsigned char)m[1];
				p->i++;
				return 0;
			}
		return jp_fail(p, "unknown escape");
	}
	if (p->len - p->i < 5 || hex4(p->s + p->i + 1, cp) == -1)
		return jp_fail(p, "bad \\u escape");
	p->i += 5;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		return jp_fail(p, "lone low surrogate");
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 0;
	if (p->len - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' ||
	    hex4(p->s + p->i + 2, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
		return jp_fail(p, "lone high surrogate");
	p->i += 6;
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 0;
}

/* Check the string at "p->i" (at its quote); advance past it. */
static int
check_string(struct jp *p)
{
	unsigned cp;
	size_t n;

	p->i++;
	for (;;) {
		if (p->i >= p->len)
			return jp_fail(p, "unterminated string");
		if (p->s[p->i] == '"') {
			p->i++;
			return 0;
		}
		if ((unsigned char)p->s[p->i] < 0x20)
			return jp_fail(p, "control character in a string");
		if (p->s[p->i] == '\\') {
			if (escape(p, &cp) == -1)
				return -1;
			continue;
		}
		n = rd_utf8_len((const unsigned char *)p->s + p->i,
		    p->len - p->i);
		if (n == 0)
			return jp_fail(p, "invalid UTF-8");
		p->i += n;
	}
}

static int
digits(struct jp *p)
{
	size_t start = p->i;

	while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9')
		p->i++;
	return p->i > start ? 0 : jp_fail(p, "digit expected");
}

static int
check_number(struct jp *p)
{
	if (p->s[p->i] == '-')
		p->i++;
	if (p->i < p->len && p->s[p->i] == '0')
		p->i++;
	else if (digits(p) == -1)
		return -1;
	if (p->i < p->len && p->s[p->i] == '.') {
		p->i++;
		if (digits(p) == -1)
			return -1;
	}
	if (p->i < p->len && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->len && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (digits(p) == -1)
			return -1;
	}
	return 0;
}

static int
check_word(struct jp *p, const char *w)
{
	size_t n = strlen(w);

	if (p->len - p->i < n || memcmp(p->s + p->i, w, n) != 0)
		return jp_fail(p, "unexpected character");
	p->i += n;
	return 0;
}

static int check_value(struct jp *p, int depth);

/* An array or object at "p->i" (its opening bracket). */
static int
check_compound(struct jp *p, int depth)
{
	char close = p->s[p->i] == '{' ? '}' : ']';

	if (depth >= RDI_JSON_DEPTH)
		return jp_fail(p, "nested too deeply");
	p->i++;
	skip_ws(p);
	if (p->i < p->len && p->s[p->i] == close) {
		p->i++;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			if (p->i >= p->len || p->s[p->i] != '"')
				return jp_fail(p, "member name expected");
			if (check_string(p) == -1)
				return -1;
			skip_ws(p);
			if (p->i >= p->len || p->s[p->i] != ':')
				return jp_fail(p, "':' expected");
			p->i++;
		}
		if (check_value(p, depth + 1) == -1)
			return -1;
		if (p->i >= p->len)
			return jp_fail(p, "unterminated array or object");
		if (p->s[p->i] == close) {
			p->i++;
			return 0;
		}
		if (p->s[p->i] != ',')
			return jp_fail(p, "',' expected");
		p->i++;
		skip_ws(p);
	}
}

/* A value with the white space around it. */
static int
check_value(struct jp *p, int depth)
{
	int r;

	skip_ws(p);
	if (p->i >= p->len)
		return jp_fail(p, "value expected");
	switch (p->s[p->i]) {
	case '{':
	case '[':
		r = check_compound(p, depth);
		break;
	case '"':
		r = check_string(p);
		break;
	case 't':
		r = check_word(p, "true");
		break;
	case 'f':
		r = check_word(p, "false");
		break;
	case 'n':
		r = check_word(p, "null");
		break;
	default:
		if (p->s[p->i] != '-' &&
		    !(p->s[p->i] >= '0' && p->s[p->i] <= '9'))
			return jp_fail(p, "unexpected character");
		r = check_number(p);
	}
	if (r == -1)
		return -1;
	skip_ws(p);
	return 0;
}

static int
type_of(char c)
{
	switch (c) {
	case '{':
		return RDI_JV_OBJ;
	case '[':
		return RDI_JV_ARR;
	case '"':
		return RDI_JV_STR;
	case 't':
	case 'f':
		return RDI_JV_BOOL;
	case 'n':
		return RDI_JV_NULL;
	default:
		return RDI_JV_NUM;
	}
}

int
rdi_json_parse(const char *buf, size_t len, struct rdi_jv *root,
    struct rd_err *err)
{
	struct jp p = { buf, len, 0, err };
	size_t start;

	skip_ws(&p);
	start = p.i;
	if (check_value(&p, 0) == -1)
		return -1;
	if (p.i != len)
		return jp_fail(&p, "text after the value");
	root->type = type_of(buf[start]);
	root->p = buf + start;
	root->n = len - start;
	while (root->n > 0 &&
	    (root->p[root->n - 1] == ' ' || root->p[root->n - 1] == '\n' ||
	        root->p[root->n - 1] == '\r' || root->p[root->n - 1] == '\t'))
		root->n--;
	return 0;
}

/*
 * In a checked document, the end of the value that starts at "s[i]"
 * (no white space before it); "end" bounds every step.
 */
static size_t
skip_value(const char *s, size_t i, size_t end)
{
	int depth = 0, instr = 0;

	do {
		if (i >= end)
			return end;
		if (instr) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				instr = 0;
		} else if (s[i] == '"') {
			instr = 1;
		} else if (s[i] == '{' || s[i] == '[') {
			depth++;
		} else if (s[i] == '}' || s[i] == ']') {
			depth--;
		} else if (depth == 0 &&
		    (s[i] == ',' || s[i] == ' ' || s[i] == '\n' ||
		        s[i] == '\r' || s[i] == '\t')) {
			return i;
		}
		i++;
	} while (depth > 0 || instr);
	/* a scalar other than a string runs to a delimiter */
	if (s[i - 1] != '"' && s[i - 1] != '}' && s[i - 1] != ']')
		while (i < end && s[i] != ',' && s[i] != '}' && s[i] != ']' &&
		    s[i] != ' ' && s[i] != '\n' && s[i] != '\r' && s[i] != '\t')
			i++;
	return i;
}

static size_t
ws(const char *s, size_t i, size_t end)
{
	while (i < end &&
	    (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
		i++;
	return i;
}

static void
make_jv(const char *s, size_t i, size_t end, struct rdi_jv *out)
{
	out->type = type_of(s[i]);
	out->p = s + i;
	out->n = skip_value(s, i, end) - i;
}

/*
 * A walk over the members of an object or the elements of an array
 * (checked already): "i" is where the next one starts.
 */
struct jv_iter {
	const char *s;
	size_t end, i;
	int obj;
};

static void
iter_init(struct jv_iter *it, const struct rdi_jv *v)
{
	it->s = v->p;
	it->end = v->n;
	it->i = 1;
	it->obj = v->type == RDI_JV_OBJ;
}

/*
 * The next member or element: its value in "val" and, in an object, its
 * decoded name in "key" ("cap" bytes) with the name's length, or -1 if
 * it does not fit, in "*klen".  Returns 1, or 0 at the end.
 */
static int
iter_next(struct jv_iter *it, char *key, size_t cap, long *klen,
    struct rdi_jv *val)
{
	const char *s = it->s;
	size_t end = it->end, i = ws(s, it->i, end);
	struct rdi_jv kv;

	if (i >= end || s[i] == ']' || s[i] == '}')
		return 0;
	if (it->obj) {
		if (s[i] != '"')
			return 0;
		make_jv(s, i, end, &kv);
		*klen = rdi_jv_str(&kv, key, cap);
		i = ws(s, i + kv.n, end);
		if (i >= end || s[i] != ':')
			return 0;
		i = ws(s, i + 1, end);
		if (i >= end)
			return 0;
	}
	make_jv(s, i, end, val);
	i = ws(s, i + val->n, end);
	/* a comma goes on to the next one; anything else ends the walk */
	it->i = i < end && s[i] == ',' ? i + 1 : end;
	return 1;
}

/* Member "name" ("nlen" bytes) of the object "v".  Returns 1 or 0. */
static int
member(const struct rdi_jv *v, const char *name, size_t nlen,
    struct rdi_jv *out)
{
	struct jv_iter it;
	struct rdi_jv val;
	char key[256];
	long kl = -1;

	if (v->type != RDI_JV_OBJ)
		return 0;
	iter_init(&it, v);
	while (iter_next(&it, key, sizeof(key), &kl, &val) == 1) {
		if (kl >= 0 && (size_t)kl == nlen &&
		    memcmp(key, name, nlen) == 0) {
			*out = val;
			return 1;
		}
	}
	return 0;
}

/* Element "idx" of the array "v".  Returns 1 or 0. */
static int
element(const struct rdi_jv *v, unsigned long idx, struct rdi_jv *out)
{
	struct jv_iter it;
	struct rdi_jv val;
	unsigned long n;

	if (v->type != RDI_JV_ARR)
		return 0;
	iter_init(&it, v);
	for (n = 0; iter_next(&it, NULL, 0, NULL, &val) == 1; n++) {
		if (n == idx) {
			*out = val;
			return 1;
		}
	}
	return 0;
}

int
rdi_json_find(const struct rdi_jv *v, const char *path, struct rdi_jv *out)
{
	struct rdi_jv cur = *v, next;
	const char *q = path;
	size_t n;
	char *end;
	unsigned long idx;

	while (*q != '\0') {
		if (*q == '[') {
			if (q[1] < '0' || q[1] > '9')
				return 0;
			errno = 0;
			idx = strtoul(q + 1, &end, 10);
			if (errno != 0 || *end != ']' ||
			    element(&cur, idx, &next) == 0)
				return 0;
			q = end + 1;
		} else {
			if (*q == '.')
				q++;
			n = strcspn(q, ".[");
			if (n == 0 || member(&cur, q, n, &next) == 0)
				return 0;
			q += n;
		}
		cur = next;
	}
	*out = cur;
	return 1;
}

static void
put_utf8(unsigned cp, char *b, size_t *n)
{
	if (cp < 0x80) {
		b[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		b[(*n)++] = (char)(0xc0 | (cp >> 6));
		b[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		b[(*n)++] = (char)(0xe0 | (cp >> 12));
		b[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		b[(*n)++] = (char)(0xf0 | (cp >> 18));
		b[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

long
rdi_jv_str(const struct rdi_jv *v, char *out, size_t cap)
{
	struct rd_err ignored = RD_ERR_INIT;
	struct jp p = { v->p, v->n, 1, &ignored };
	size_t n = 0;
	char u[4];
	size_t un;
	unsigned cp;

	if (v->type != RDI_JV_STR || cap == 0 || v->n < 2)
		return -1;
	p.len = v->n - 1; /* up to the closing quote */
	while (p.i < p.len) {
		if (p.s[p.i] == '\\') {
			if (escape(&p, &cp) == -1 || cp == 0)
				return -1;
			un = 0;
			put_utf8(cp, u, &un);
		} else {
			u[0] = p.s[p.i++];
			un = 1;
			if (u[0] == '\0')
				return -1;
		}
		if (cap - 1 - n < un)
			return -1;
		memcpy(out + n, u, un);
		n += un;
	}
	out[n] = '\0';
	return (long)n;
}

int
rdi_jv_i64(const struct rdi_jv *v, int64_t *out)
{
	char b[32];
	const char *s;
	size_t n, i;
	int neg = 0;
	uint64_t x = 0, lim;

	if (v->type == RDI_JV_STR) {
		if (rdi_jv_str(v, b, sizeof(b)) < 0)
			return -1;
		s = b;
		n = strlen(b);
	} else if (v->type == RDI_JV_NUM) {
		s = v->p;
		n = v->n;
	} else {
		return -1;
	}
	i = 0;
	if (n > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i >= n || n - i > 19 || (s[i] == '0' && n - i > 1))
		return -1;
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (x > (lim - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (neg)
		*out = x == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)x;
	else
		*out = (int64_t)x;
	return 0;
}

int
rdi_jv_bool(const struct rdi_jv *v, int *out)
{
	if (v->type != RDI_JV_BOOL)
		return -1;
	*out = v->p[0] == 't';
	return 0;
}

/* ------------------------------------------------------------------ */
/* Base64 */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
rdi_b64_encode(const void *in, size_t len, char *out, size_t cap)
{
	const unsigned char *s = in;
	size_t i, o = 0;
	unsigned v;

	if (len > (SIZE_MAX - 3) / 4 || cap < 4 * ((len + 2) / 3) + 1)
		return -1;
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	if (i < len) {
		v = (unsigned)s[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)s[i + 1] << 8;
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return 0;
}

static int
b64_val(char c)
{
	const char *q;

	if (c == '\0')
		return -1;
	q = strchr(b64, c);
	return q == NULL ? -1 : (int)(q - b64);
}

long
rdi_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
	size_t i, o = 0, pad = 0;
	int d[4], k;
	unsigned v;

	if (len % 4 != 0)
		return -1;
	if (len > 0 && in[len - 1] == '=')
		pad = len > 1 && in[len - 2] == '=' ? 2 : 1;
	if (len / 4 * 3 - pad > cap)
		return -1;
	for (i = 0; i < len; i += 4) {
		for (k = 0; k < 4; k++) {
			if (i + 4 == len && k >= 4 - (int)pad) {
				d[k] = 0;
				if (in[i + k] != '=')
					return -1;
				continue;
			}
			d[k] = b64_val(in[i + k]);
			if (d[k] < 0)
				return -1;
		}
		v = (unsigned)d[0] << 18 | (unsigned)d[1] << 12 |
		    (unsigned)d[2] << 6 | (unsigned)d[3];
		/* canonical: the bits the padding drops are zero */
		if ((pad == 1 && i + 4 == len && (v & 0xff) != 0) ||
		    (pad == 2 && i + 4 == len && (v & 0xffff) != 0))
			return -1;
		out[o++] = (unsigned char)(v >> 16);
		if (i + 4 < len || pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (i + 4 < len || pad < 1)
			out[o++] = (unsigned char)v;
	}
	return (long)o;
}
