/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_json.c: unit tests of json.c, the streaming JSON writer of the
 * tools' --json output: nesting and commas, escapes, bytes that are not
 * UTF-8, numbers, and one object per line.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "redund.h"
#include "unit.h"

static FILE *fp;
static char *out;
static size_t outlen;
static struct rd_json *j;

static void
setup(void)
{
	fp = open_memstream(&out, &outlen);
	ck_assert_ptr_nonnull(fp);
	j = rd_json_new(fp);
	ck_assert_ptr_nonnull(j);
}

static void
teardown(void)
{
	rd_json_free(j);
	fclose(fp);
	free(out);
}

/* What was written so far. */
static const char *
text(void)
{
	ck_assert_int_eq(fflush(fp), 0);
	return out;
}

START_TEST(test_object)
{
	rd_json_obj_begin(j, NULL);
	rd_json_str(j, "name", "abc");
	rd_json_int(j, "n", -42);
	rd_json_int(j, "big", INT64_MAX);
	rd_json_bool(j, "yes", 1);
	rd_json_bool(j, "no", 0);
	rd_json_null(j, "none");
	rd_json_str(j, "nullstr", NULL);
	rd_json_obj_end(j);
	rd_json_line(j);
	ck_assert_str_eq(text(),
	    "{\"name\":\"abc\",\"n\":-42,\"big\":9223372036854775807,"
	    "\"yes\":true,\"no\":false,\"none\":null,\"nullstr\":null}\n");
}
END_TEST

START_TEST(test_nesting)
{
	rd_json_obj_begin(j, NULL);
	rd_json_int(j, "id", 1);
	rd_json_arr_begin(j, "list");
	rd_json_int(j, NULL, 1);
	rd_json_str(j, NULL, "two");
	rd_json_obj_begin(j, NULL);
	rd_json_arr_begin(j, "empty");
	rd_json_arr_end(j);
	rd_json_obj_end(j);
	rd_json_arr_end(j);
	rd_json_obj_begin(j, "o");
	rd_json_obj_end(j);
	rd_json_obj_end(j);
	rd_json_line(j);
	/* lines are independent values */
	rd_json_obj_begin(j, NULL);
	rd_json_int(j, "id", 2);
	rd_json_obj_end(j);
	rd_json_line(j);
	ck_assert_str_eq(text(),
	    "{\"id\":1,\"list\":[1,\"two\",{\"empty\":[]}],\"o\":{}}\n"
	    "{\"id\":2}\n");
}
END_TEST

START_TEST(test_escapes)
{
	rd_json_obj_begin(j, NULL);
	rd_json_str(j, "q", "say \"hi\" \\ bye");
	rd_json_str(j, "ws", "a\nb\tc\rd");
	rd_json_str(j, "ctl", "\x01\x1f\x7f");
	rd_json_str(j, "key \"quoted\"", "v");
	rd_json_obj_end(j);
	rd_json_line(j);
	ck_assert_str_eq(text(),
	    "{\"q\":\"say \\\"hi\\\" \\\\ bye\","
	    "\"ws\":\"a\\nb\\tc\\u000dd\","
	    "\"ctl\":\"\\u0001\\u001f\\u007f\","
	    "\"key \\\"quoted\\\"\":\"v\"}\n");
}
END_TEST

START_TEST(test_utf8)
{
	rd_json_arr_begin(j, NULL);
	/* valid: 2, 3 and 4 bytes */
	rd_json_str(j, NULL, "\xc3\xbc \xe2\x9c\x93 \xf0\x9f\x98\x80");
	/* invalid: a lone continuation, a truncated sequence, 0xff, 0xc0 */
	rd_json_str(j, NULL, "a\x80z");
	rd_json_str(j, NULL, "\xe2\x9c");
	rd_json_str(j, NULL, "\xff\xc0\xaf");
	rd_json_arr_end(j);
	rd_json_line(j);
	ck_assert_str_eq(text(),
	    "[\"\xc3\xbc \xe2\x9c\x93 \xf0\x9f\x98\x80\","
	    "\"a\\u0080z\","
	    "\"\\u00e2\\u009c\","
	    "\"\\u00ff\\u00c0\\u00af\"]\n");
}
END_TEST

START_TEST(test_path_base64)
{
	rd_json_obj_begin(j, NULL);
	rd_json_path(j, "path", "ok\xc3\xbf");
	rd_json_path(j, "a", "bad\xff\xfe");
	rd_json_path(j, "b", "\xff");
	rd_json_path(j, "c", "x\xff");
	rd_json_obj_end(j);
	rd_json_line(j);
	ck_assert_str_eq(text(),
	    "{\"path\":\"ok\xc3\xbf\",\"a\":\"bad\\u00ff\\u00fe\","
	    "\"a_base64\":\"YmFk//4=\",\"b\":\"\\u00ff\",\"b_base64\":\"/w==\","
	    "\"c\":\"x\\u00ff\",\"c_base64\":\"eP8=\"}\n");
}
END_TEST

START_TEST(test_utf8_strict)
{
	/*
	 * Lead bytes that are in range but start no valid sequence: an
	 * overlong '/' (e0 80 af), a UTF-16 surrogate (ed a0 80), a code
	 * point above U+10FFFF (f4 90 80 80) and an overlong 4-byte form
	 * (f0 80 80 80).  Each byte is escaped, as for any other invalid
	 * byte, so that the output stays valid UTF-8.
	 */
	rd_json_arr_begin(j, NULL);
	rd_json_str(j, NULL, "\xe0\x80\xaf");
	rd_json_str(j, NULL, "\xed\xa0\x80");
	rd_json_str(j, NULL, "\xf4\x90\x80\x80");
	rd_json_str(j, NULL, "\xf0\x80\x80\x80");
	/* the edges that are valid */
	rd_json_str(j, NULL, "\xe0\xa0\x80\xed\x9f\xbf\xf4\x8f\xbf\xbf");
	rd_json_arr_end(j);
	rd_json_line(j);
	ck_assert_str_eq(text(),
	    "[\"\\u00e0\\u0080\\u00af\","
	    "\"\\u00ed\\u00a0\\u0080\","
	    "\"\\u00f4\\u0090\\u0080\\u0080\","
	    "\"\\u00f0\\u0080\\u0080\\u0080\","
	    "\"\xe0\xa0\x80\xed\x9f\xbf\xf4\x8f\xbf\xbf\"]\n");
}
END_TEST

START_TEST(test_numbers)
{
	rd_json_arr_begin(j, NULL);
	rd_json_num(j, NULL, 0.5);
	rd_json_num(j, NULL, 3);
	rd_json_num(j, NULL, -2.25);
	rd_json_num(j, NULL, NAN);
	rd_json_num(j, NULL, INFINITY);
	rd_json_arr_end(j);
	rd_json_line(j);
	ck_assert_str_eq(text(), "[0.5,3,-2.25,null,null]\n");
}
END_TEST

START_TEST(test_utf8_len)
{
	const unsigned char euro[] = { 0xe2, 0x82, 0xac };
	const unsigned char overlong[] = { 0xe0, 0x80, 0x80 };
	const unsigned char surrogate[] = { 0xed, 0xa0, 0x80 };
	const unsigned char too_high[] = { 0xf4, 0x90, 0x80, 0x80 };
	const unsigned char top[] = { 0xf4, 0x8f, 0xbf, 0xbf };

	ck_assert_uint_eq(rd_utf8_len((const unsigned char *)"a", 1), 1);
	ck_assert_uint_eq(rd_utf8_len(euro, 3), 3);
	/* a sequence cut by the end of the buffer is not one */
	ck_assert_uint_eq(rd_utf8_len(euro, 2), 0);
	ck_assert_uint_eq(rd_utf8_len(euro, 0), 0);
	ck_assert_uint_eq(rd_utf8_len(overlong, 3), 0);
	ck_assert_uint_eq(rd_utf8_len(surrogate, 3), 0);
	ck_assert_uint_eq(rd_utf8_len(too_high, 4), 0);
	ck_assert_uint_eq(rd_utf8_len(top, 4), 4);
	/* NUL-terminated: the NUL ends a sequence */
	ck_assert_uint_eq(rd_utf8_len((const unsigned char *)"\xe2\x82",
	                      SIZE_MAX),
	    0);
	ck_assert_uint_eq(rd_utf8_len((const unsigned char *)"\xff", SIZE_MAX),
	    0);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc;

	tc = tcase_create("writer");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_object);
	tcase_add_test(tc, test_nesting);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_utf8_strict);
	tcase_add_test(tc, test_utf8_len);
	tcase_add_test(tc, test_path_base64);
	tcase_add_test(tc, test_numbers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(json_suite());
}
