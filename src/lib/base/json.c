/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * json.c: a minimal streaming JSON writer for the tools' --json output.
 * It keeps only a nesting stack of "first member" flags, so output of any
 * size streams without being held in memory.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redund.h"

#define JSON_DEPTH 32

struct rd_json {
	FILE *fp;
	int depth;
	int first[JSON_DEPTH];
};

struct rd_json *
rd_json_new(void *stdio_file)
{
	struct rd_json *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->fp = stdio_file;
	j->first[0] = 1;
	return j;
}

void
rd_json_free(struct rd_json *j)
{
	free(j);
}

size_t
rd_utf8_len(const unsigned char *s, size_t avail)
{
	size_t n, i;
	unsigned c;

	if (avail == 0)
		return 0;
	c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (avail < n)
		return 0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* no overlong forms, no surrogates, nothing above U+10FFFF */
	if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) ||
	    (c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
		return 0;
	return n;
}

static void
put_string(FILE *fp, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n;

	putc('"', fp);
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			putc('\\', fp);
			putc(*s, fp);
			s++;
		} else if (*s == '\n') {
			fputs("\\n", fp);
			s++;
		} else if (*s == '\t') {
			fputs("\\t", fp);
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			fprintf(fp, "\\u%04x", *s);
			s++;
		} else if ((n = rd_utf8_len(s, SIZE_MAX)) == 0) {
			/* not UTF-8: keep the byte visible and reversible */
			fprintf(fp, "\\u%04x", *s);
			s++;
		} else {
			fwrite(s, 1, n, fp);
			s += n;
		}
	}
	putc('"', fp);
}

static void
member(struct rd_json *j, const char *key)
{
	if (!j->first[j->depth])
		putc(',', j->fp);
	j->first[j->depth] = 0;
	if (key != NULL && j->depth > 0) {
		put_string(j->fp, key);
		putc(':', j->fp);
	}
}

static void
push(struct rd_json *j, const char *key, int c)
{
	member(j, key);
	putc(c, j->fp);
	if (j->depth < JSON_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = 1;
}

void
rd_json_obj_begin(struct rd_json *j, const char *key)
{
	push(j, key, '{');
}

void
rd_json_obj_end(struct rd_json *j)
{
	putc('}', j->fp);
	if (j->depth > 0)
		j->depth--;
}

void
rd_json_arr_begin(struct rd_json *j, const char *key)
{
	push(j, key, '[');
}

void
rd_json_arr_end(struct rd_json *j)
{
	putc(']', j->fp);
	if (j->depth > 0)
		j->depth--;
}

void
rd_json_str(struct rd_json *j, const char *key, const char *val)
{
	member(j, key);
	if (val == NULL)
		fputs("null", j->fp);
	else
		put_string(j->fp, val);
}

void
rd_json_int(struct rd_json *j, const char *key, int64_t val)
{
	member(j, key);
	fprintf(j->fp, "%lld", (long long)val);
}

void
rd_json_num(struct rd_json *j, const char *key, double val)
{
	member(j, key);
	if (isfinite(val))
		fprintf(j->fp, "%.15g", val);
	else
		fputs("null", j->fp);
}

void
rd_json_bool(struct rd_json *j, const char *key, int val)
{
	member(j, key);
	fputs(val ? "true" : "false", j->fp);
}

void
rd_json_null(struct rd_json *j, const char *key)
{
	member(j, key);
	fputs("null", j->fp);
}

/* 1 if "s" is valid UTF-8 throughout. */
static int
utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p != '\0') {
		if ((n = rd_utf8_len(p, SIZE_MAX)) == 0)
			return 0;
		p += n;
	}
	return 1;
}

static void
put_base64(FILE *fp, const unsigned char *s, size_t len)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;
	unsigned v;

	putc('"', fp);
	for (i = 0; i + 2 < len; i += 3) {
		v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
		putc(tab[v >> 18], fp);
		putc(tab[v >> 12 & 63], fp);
		putc(tab[v >> 6 & 63], fp);
		putc(tab[v & 63], fp);
	}
	if (len - i == 1) {
		v = (unsigned)s[i] << 16;
		fprintf(fp, "%c%c==", tab[v >> 18], tab[v >> 12 & 63]);
	} else if (len - i == 2) {
		v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;
		fprintf(fp, "%c%c%c=", tab[v >> 18], tab[v >> 12 & 63],
		    tab[v >> 6 & 63]);
	}
	putc('"', fp);
}

void
rd_json_path(struct rd_json *j, const char *key, const char *val)
{
	char k[64];

	rd_json_str(j, key, val);
	if (val == NULL || key == NULL || utf8_valid(val))
		return;
	snprintf(k, sizeof(k), "%s_base64", key);
	member(j, k);
	put_base64(j->fp, (const unsigned char *)val, strlen(val));
}

void
rd_json_line(struct rd_json *j)
{
	putc('\n', j->fp);
	j->depth = 0;
	j->first[0] = 1;
}
