/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_cluster.c: unit tests of the cluster layer's readers of hostile
 * input: the JSON reader (jsonr.c), base64, the HTTP response parser
 * (http.c), endpoint URLs, the etcd primary key's value (etcd.c), and a
 * client against a fake server that answers with hostile bytes.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster_int.h"
#include "unit.h"

static int
parse(const char *s, struct rdi_jv *root, struct rd_err *err)
{
	return rdi_json_parse(s, strlen(s), root, err);
}

START_TEST(test_json_etcd_answer)
{
	static const char doc[] =
	    "{\"header\":{\"cluster_id\":\"1\",\"revision\":\"2\"},"
	    "\"succeeded\":true,\"responses\":[{\"response_range\":{"
	    "\"kvs\":[{\"key\":\"eA==\",\"mod_revision\":\"9\","
	    "\"value\":\"eHg=\"}],\"count\":\"1\"}}]}";
	struct rd_err err = RD_ERR_INIT;
	struct rdi_jv root, v;
	int64_t n;
	int b;
	char s[16];

	ck_assert_int_eq(parse(doc, &root, &err), 0);
	ck_assert_int_eq(root.type, RDI_JV_OBJ);
	ck_assert_int_eq(rdi_json_find(&root, "header.revision", &v), 1);
	ck_assert_int_eq(rdi_jv_i64(&v, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(rdi_json_find(&root, "succeeded", &v), 1);
	ck_assert_int_eq(rdi_jv_bool(&v, &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(rdi_json_find(&root,
	                     "responses[0].response_range.kvs[0].value", &v),
	    1);
	ck_assert_int_eq(rdi_jv_str(&v, s, sizeof(s)), 4);
	ck_assert_str_eq(s, "eHg=");
	ck_assert_int_eq(rdi_json_find(&root, "responses[1]", &v), 0);
	ck_assert_int_eq(rdi_json_find(&root, "header.nothing", &v), 0);
	ck_assert_int_eq(rdi_json_find(&root, "responses[x]", &v), 0);
	ck_assert_int_eq(rdi_json_find(&root, "succeeded.x", &v), 0);
}
END_TEST

/* One walk for members and elements: spaces, the last one, empties. */
START_TEST(test_json_walk)
{
	static const char doc[] = "{ \"a\" : [ 1 , \"x,]\" , {} ] ,"
	                          " \"b\" : { } , \"c\" : [ ] , \"d\":7 }";
	struct rd_err err = RD_ERR_INIT;
	struct rdi_jv root, v;
	int64_t n;
	char s[16];

	ck_assert_int_eq(parse(doc, &root, &err), 0);
	ck_assert_int_eq(rdi_json_find(&root, "a[1]", &v), 1);
	ck_assert_int_eq(rdi_jv_str(&v, s, sizeof(s)), 3);
	ck_assert_str_eq(s, "x,]");
	ck_assert_int_eq(rdi_json_find(&root, "a[2]", &v), 1);
	ck_assert_int_eq(v.type, RDI_JV_OBJ);
	ck_assert_int_eq(rdi_json_find(&root, "a[3]", &v), 0);
	ck_assert_int_eq(rdi_json_find(&root, "b.x", &v), 0);
	ck_assert_int_eq(rdi_json_find(&root, "c[0]", &v), 0);
	ck_assert_int_eq(rdi_json_find(&root, "d", &v), 1);
	ck_assert_int_eq(rdi_jv_i64(&v, &n), 0);
	ck_assert_int_eq(n, 7);
	ck_assert_int_eq(rdi_json_find(&root, "e", &v), 0);
}
END_TEST

/* Documents the reader refuses, each with the first problem. */
static const struct {
	const char *doc;
	const char *msg;
} bad_json[] = {
	{ "", "bad JSON at byte 0: value expected" },
	{ "{", "bad JSON at byte 1: member name expected" },
	{ "{\"a\":1,}", "bad JSON at byte 7: member name expected" },
	{ "[1,]", "bad JSON at byte 3: unexpected character" },
	{ "[1 2]", "bad JSON at byte 3: ',' expected" },
	{ "{\"a\" 1}", "bad JSON at byte 5: ':' expected" },
	{ "01", "bad JSON at byte 1: text after the value" },
	{ "-", "bad JSON at byte 1: digit expected" },
	{ "1.", "bad JSON at byte 2: digit expected" },
	{ "1e", "bad JSON at byte 2: digit expected" },
	{ "tru", "bad JSON at byte 0: unexpected character" },
	{ "\"abc", "bad JSON at byte 4: unterminated string" },
	{ "\"a\tb\"", "bad JSON at byte 2: control character in a string" },
	{ "\"\\x\"", "bad JSON at byte 2: unknown escape" },
	{ "\"\\u12\"", "bad JSON at byte 2: bad \\u escape" },
	{ "\"\\ud800\"", "bad JSON at byte 7: lone high surrogate" },
	{ "\"\\udc00\"", "bad JSON at byte 7: lone low surrogate" },
	{ "\"\xc0\xaf\"", "bad JSON at byte 1: invalid UTF-8" },
	{ "\"\xed\xa0\x80\"", "bad JSON at byte 1: invalid UTF-8" },
	{ "\"\xe2\x82\"", "bad JSON at byte 1: invalid UTF-8" },
	{ "{} {}", "bad JSON at byte 3: text after the value" },
	{ "[1]]", "bad JSON at byte 3: text after the value" },
	{ "nul", "bad JSON at byte 0: unexpected character" },
};

START_TEST(test_json_bad)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_jv root;

	ck_assert_int_eq(parse(bad_json[_i].doc, &root, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, bad_json[_i].msg);
}
END_TEST

START_TEST(test_json_depth)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_jv root;
	char doc[2 * RDI_JSON_DEPTH + 3];
	int i;

	for (i = 0; i < RDI_JSON_DEPTH; i++) {
		doc[i] = '[';
		doc[RDI_JSON_DEPTH + i] = ']';
	}
	ck_assert_int_eq(rdi_json_parse(doc, 2 * RDI_JSON_DEPTH, &root, &err),
	    0);
	memmove(doc + 1, doc, 2 * RDI_JSON_DEPTH);
	doc[0] = '[';
	doc[2 * RDI_JSON_DEPTH + 1] = ']';
	ck_assert_int_eq(rdi_json_parse(doc, 2 * RDI_JSON_DEPTH + 2, &root,
	                     &err),
	    -1);
	ck_assert_str_eq(err.msg, "bad JSON at byte 32: nested too deeply");
}
END_TEST

START_TEST(test_json_nul_byte)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_jv root;

	/* a NUL inside the buffer is a control character, not an end */
	ck_assert_int_eq(rdi_json_parse("\"a\0b\"", 5, &root, &err), -1);
	ck_assert_str_eq(err.msg,
	    "bad JSON at byte 2: control character in a string");
	ck_assert_int_eq(rdi_json_parse("{}\0", 3, &root, &err), -1);
}
END_TEST

START_TEST(test_json_strings)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_jv root;
	char s[8];

	ck_assert_int_eq(parse("\"\\u00e9\\ud83d\\ude00\\n\"", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_str(&root, s, sizeof(s)), 7);
	ck_assert_str_eq(s, "\xc3\xa9\xf0\x9f\x98\x80\n");
	/* one byte short of room: refused, not cut */
	ck_assert_int_eq(rdi_jv_str(&root, s, 7), -1);
	/* a NUL escape is refused */
	ck_assert_int_eq(parse("\"a\\u0000\"", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_str(&root, s, sizeof(s)), -1);
	/* not a string */
	ck_assert_int_eq(parse("12", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_str(&root, s, sizeof(s)), -1);
}
END_TEST

START_TEST(test_json_i64)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_jv root;
	int64_t n;
	int b;

	ck_assert_int_eq(parse("\"9223372036854775807\"", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_i64(&root, &n), 0);
	ck_assert(n == INT64_MAX);
	ck_assert_int_eq(parse("-9223372036854775808", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_i64(&root, &n), 0);
	ck_assert(n == INT64_MIN);
	ck_assert_int_eq(parse("\"9223372036854775808\"", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_i64(&root, &n), -1);
	ck_assert_int_eq(parse("\"99999999999999999999\"", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_i64(&root, &n), -1);
	ck_assert_int_eq(parse("1.5", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_i64(&root, &n), -1);
	ck_assert_int_eq(parse("\"012\"", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_i64(&root, &n), -1);
	ck_assert_int_eq(parse("\" 12\"", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_i64(&root, &n), -1);
	ck_assert_int_eq(parse("\"\"", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_i64(&root, &n), -1);
	ck_assert_int_eq(parse("true", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_i64(&root, &n), -1);
	ck_assert_int_eq(rdi_jv_bool(&root, &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(parse("\"true\"", &root, &err), 0);
	ck_assert_int_eq(rdi_jv_bool(&root, &b), -1);
}
END_TEST

START_TEST(test_b64)
{
	unsigned char out[8];
	char enc[16];

	ck_assert_int_eq(rdi_b64_encode("xx", 2, enc, sizeof(enc)), 0);
	ck_assert_str_eq(enc, "eHg=");
	ck_assert_int_eq(rdi_b64_encode("abc", 3, enc, sizeof(enc)), 0);
	ck_assert_str_eq(enc, "YWJj");
	ck_assert_int_eq(rdi_b64_encode("a", 1, enc, sizeof(enc)), 0);
	ck_assert_str_eq(enc, "YQ==");
	ck_assert_int_eq(rdi_b64_encode("abc", 3, enc, 4), -1);
	ck_assert_int_eq(rdi_b64_decode("eHg=", 4, out, sizeof(out)), 2);
	ck_assert_int_eq(memcmp(out, "xx", 2), 0);
	ck_assert_int_eq(rdi_b64_decode("YQ==", 4, out, sizeof(out)), 1);
	ck_assert_int_eq(rdi_b64_decode("", 0, out, sizeof(out)), 0);
	/* not canonical, bad characters, bad length, too long */
	ck_assert_int_eq(rdi_b64_decode("YR==", 4, out, sizeof(out)), -1);
	ck_assert_int_eq(rdi_b64_decode("eHh=", 4, out, sizeof(out)), -1);
	ck_assert_int_eq(rdi_b64_decode("e*g=", 4, out, sizeof(out)), -1);
	ck_assert_int_eq(rdi_b64_decode("eH=g", 4, out, sizeof(out)), -1);
	ck_assert_int_eq(rdi_b64_decode("=Hg=", 4, out, sizeof(out)), -1);
	ck_assert_int_eq(rdi_b64_decode("eHg", 3, out, sizeof(out)), -1);
	ck_assert_int_eq(rdi_b64_decode("YWJjYWJjYWJj", 12, out, 8), -1);
	ck_assert_int_eq(rdi_b64_decode("eA\0=", 4, out, sizeof(out)), -1);
}
END_TEST

START_TEST(test_http_parse)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: x\r\n"
	                         "Content-Length: 2\r\n\r\n{}";
	static const char chunked[] = "HTTP/1.1 503 Service Unavailable\r\n"
	                              "Transfer-Encoding: chunked\r\n\r\n"
	                              "3\r\n{\"a\r\n4\r\n\":1}\r\n0\r\n\r\n";
	struct rd_err err = RD_ERR_INIT;
	struct rdi_http_resp r;

	ck_assert_int_eq(rdi_http_parse(ok, strlen(ok), &r, &err), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{}");
	rdi_http_resp_release(&r);
	ck_assert_int_eq(rdi_http_parse(chunked, strlen(chunked), &r, &err), 0);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(r.body, "{\"a\":1}");
	rdi_http_resp_release(&r);
	ck_assert_int_eq(rdi_http_complete(ok, strlen(ok) - 1, 0, &err), 0);
	ck_assert_int_eq(rdi_http_complete(ok, strlen(ok), 0, &err), 1);
	ck_assert_int_eq(rdi_http_complete(chunked, strlen(chunked) - 2, 0,
	                     &err),
	    0);
	ck_assert_int_eq(rdi_http_complete(chunked, strlen(chunked), 0, &err),
	    1);
}
END_TEST

static const struct {
	const char *resp;
	const char *msg;
} bad_http[] = {
	{ "HTTP/2 200 OK\r\n\r\n", "answer is not an HTTP/1.x status line" },
	{ "HTTP/1.1 20 OK\r\n\r\n", "answer is not an HTTP/1.x status line" },
	{ "HTTP/1.1 999 OK\r\n\r\n", "answer is not an HTTP/1.x status line" },
	{ "SSH-2.0-OpenSSH\r\n\r\n", "answer is not an HTTP/1.x status line" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	    "answer has a bad Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
	    "answer has a bad Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n",
	    "answer has a bad Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
	    "answer has a bad Content-Length" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nx",
	    "answer has a bad Content-Length" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
	    "answer has an unsupported Transfer-Encoding" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	  "Content-Length: 1\r\n\r\n",
	    "answer has both Content-Length and chunked coding" },
	{ "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
	    "answer has a bad header line" },
	{ "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcd",
	    "answer's body does not match its Content-Length" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "fffffff\r\n",
	    "answer has a bad chunked body" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "2\r\nabc\r\n0\r\n\r\n",
	    "answer has a bad chunked body" },
	{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "0\r\nX-Trailer: 1\r\n\r\n",
	    "answer has a bad chunked body" },
	{ "HTTP/1.1 200 OK\r\n", "answer is not a complete HTTP response" },
};

START_TEST(test_http_bad)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_http_resp r;

	ck_assert_int_eq(rdi_http_parse(bad_http[_i].resp,
	                     strlen(bad_http[_i].resp), &r, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg, bad_http[_i].msg);
	ck_assert_ptr_null(r.body);
}
END_TEST

START_TEST(test_http_complete_bounds)
{
	struct rd_err err = RD_ERR_INIT;
	static char head[RDI_HTTP_HEAD_MAX + 10];
	static const char short_body[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab";

	memset(head, 'a', sizeof(head));
	ck_assert_int_eq(rdi_http_complete(head, sizeof(head), 0, &err), -1);
	ck_assert_str_eq(err.msg, "answer's head is longer than 8192 bytes");
	ck_assert_int_eq(rdi_http_complete("HTTP/1.1 200 OK\r\n", 17, 1, &err),
	    -1);
	ck_assert_str_eq(err.msg, "connection closed in the answer's head");
	ck_assert_int_eq(rdi_http_complete(short_body, strlen(short_body), 1,
	                     &err),
	    -1);
	ck_assert_str_eq(err.msg, "connection closed before the answer's end");
}
END_TEST

START_TEST(test_endpoints)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_endpoint ep;
	struct rdi_etcd ec;
	static const char *const bad[] = { "https://h:1", "http://h",
		"http://:1", "http://h:0", "http://h:65536", "http://h:1/v3",
		"http://u@h:1", "http://h :1", "h:1", "http://h:1x" };
	size_t i;

	ck_assert_int_eq(rdi_endpoint_parse("http://127.0.0.1:2379", &ep, &err),
	    0);
	ck_assert_str_eq(ep.host, "127.0.0.1");
	ck_assert_str_eq(ep.port, "2379");
	ck_assert_int_eq(rdi_endpoint_parse("http://[::1]:2379/", &ep, &err),
	    0);
	ck_assert_str_eq(ep.host, "::1");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(rdi_endpoint_parse(bad[i], &ep, &err) == -1,
		    "%s accepted", bad[i]);
		ck_assert_int_eq(err.code, RD_EUSAGE);
	}
	ck_assert_int_eq(rdi_etcd_init(&ec, "http://a:1,http://b:2", 3, &err),
	    0);
	ck_assert_int_eq(ec.n, 2);
	ck_assert_int_eq(rdi_etcd_init(&ec, "http://a:1,", 3, &err), -1);
	ck_assert_str_eq(err.msg,
	    "--etcd wants http://HOST:PORT[,http://HOST:PORT...]");
	ck_assert_int_eq(rdi_etcd_init(&ec, "http://a:1", 0, &err), -1);
	ck_assert_int_eq(rdi_cluster_name_ok("app-1.x_y"), 1);
	ck_assert_int_eq(rdi_cluster_name_ok("a/b"), 0);
	ck_assert_int_eq(rdi_cluster_name_ok(".."), 0);
	ck_assert_int_eq(rdi_cluster_name_ok(""), 0);
}
END_TEST

START_TEST(test_leader_value)
{
	struct rdi_leader l;
	static const char *const bad[] = { "",
		"6d8a2a4e-1b7f-4c2e-9a51-3f0e8d2c1b7a 3",
		"6d8a2a4e-1b7f-4c2e-9a51-3f0e8d2c1b7a -3 -",
		"6d8a2a4e-1b7f-4c2e-9a51-3f0e8d2c1b7A 3 -",
		"6d8a2a4e-1b7f-4c2e-9a51-3f0e8d2c1b7a 3 x",
		"6d8a2a4e-1b7f-4c2e-9a51-3f0e8d2c1b7a 3 - ",
		"6d8a2a4e-1b7f-4c2e-9a51-3f0e8d2c1b7a 99999999999999999999 -" };
	const char *ok = "6d8a2a4e-1b7f-4c2e-9a51-3f0e8d2c1b7a 42 "
	                 "0d8a2a4e-1b7f-4c2e-9a51-3f0e8d2c1b7b";
	size_t i;

	ck_assert_int_eq(rdi_leader_parse(ok, strlen(ok), &l), 0);
	ck_assert_str_eq(l.uuid, "6d8a2a4e-1b7f-4c2e-9a51-3f0e8d2c1b7a");
	ck_assert_int_eq(l.epoch, 42);
	ck_assert_str_eq(l.prev, "0d8a2a4e-1b7f-4c2e-9a51-3f0e8d2c1b7b");
	ck_assert_int_eq(rdi_leader_parse(ok, strlen(ok) + 0, &l), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(rdi_leader_parse(bad[i], strlen(bad[i]), &l) ==
		        -1,
		    "'%s' accepted", bad[i]);
	/* a NUL inside the value */
	ck_assert_int_eq(
	    rdi_leader_parse("6d8a2a4e-1b7f-4c2e-9a51-3f0e8d2c1b7a 1 -\0x", 42,
	        &l),
	    -1);
}
END_TEST

/*
 * A fake etcd on 127.0.0.1: a child that answers each connection with
 * "answer" (or says nothing for "silent"), for "n" connections.
 */
static pid_t
fake_server(const char *answer, int n, int *port)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int s, c, one = 1;
	pid_t pid;
	char buf[4096];

	s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(s, 4), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		while (n-- > 0) {
			c = accept(s, NULL, NULL);
			if (c == -1)
				_exit(1);
			(void)!read(c, buf, sizeof(buf));
			if (answer != NULL)
				(void)!write(c, answer, strlen(answer));
			else
				pause();
			close(c);
		}
		_exit(0);
	}
	close(s);
	return pid;
}

static void
stop_server(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

START_TEST(test_client_hostile)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_etcd ec;
	struct rdi_kv kv;
	char urls[128];
	int port;
	pid_t pid;

	/* a value that is not base64 */
	pid = fake_server("HTTP/1.1 200 OK\r\nContent-Length: 91\r\n\r\n"
	                  "{\"header\":{\"revision\":\"5\"},\"kvs\":[{"
	                  "\"mod_revision\":\"3\",\"create_revision\":\"2\","
	                  "\"value\":\"!!\"}]}",
	    1, &port);
	snprintf(urls, sizeof(urls), "http://127.0.0.1:%d", port);
	ck_assert_int_eq(rdi_etcd_init(&ec, urls, 5, &err), 0);
	ck_assert_int_eq(rdi_etcd_get(&ec, "/k", &kv, &err), -1);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "etcd's answer has a value that is not base64 of at most 255 bytes");
	stop_server(pid);

	/* an HTTP error on each endpoint: unavailable, with the reason */
	pid = fake_server("HTTP/1.1 503 No\r\nContent-Length: 33\r\n\r\n"
	                  "{\"error\":\"etcdserver: no leader\"}",
	    1, &port);
	snprintf(urls, sizeof(urls), "http://127.0.0.1:%d", port);
	ck_assert_int_eq(rdi_etcd_init(&ec, urls, 5, &err), 0);
	ck_assert_int_eq(rdi_etcd_get(&ec, "/k", &kv, &err), -1);
	ck_assert_int_eq(err.code, RD_EUNAVAIL);
	stop_server(pid);
}
END_TEST

START_TEST(test_client_timeout)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_etcd ec;
	struct rdi_kv kv;
	char urls[128], want[256];
	int port;
	pid_t pid;

	/* a member that accepts and never answers: bounded by the timeout */
	pid = fake_server(NULL, 1, &port);
	snprintf(urls, sizeof(urls), "http://127.0.0.1:%d", port);
	ck_assert_int_eq(rdi_etcd_init(&ec, urls, 0.2, &err), 0);
	ck_assert_int_eq(rdi_etcd_get(&ec, "/k", &kv, &err), -1);
	ck_assert_int_eq(err.code, RD_EUNAVAIL);
	snprintf(want, sizeof(want),
	    "etcd is unavailable or has no quorum (1 endpoint tried; last: http://127.0.0.1:%d: no answer in time)",
	    port);
	ck_assert_str_eq(err.msg, want);
	stop_server(pid);
}
END_TEST

static Suite *
cluster_suite(void)
{
	Suite *s = suite_create("cluster");
	TCase *tc;

	tc = tcase_create("json");
	tcase_add_test(tc, test_json_etcd_answer);
	tcase_add_test(tc, test_json_walk);
	tcase_add_loop_test(tc, test_json_bad, 0,
	    (int)(sizeof(bad_json) / sizeof(bad_json[0])));
	tcase_add_test(tc, test_json_depth);
	tcase_add_test(tc, test_json_nul_byte);
	tcase_add_test(tc, test_json_strings);
	tcase_add_test(tc, test_json_i64);
	tcase_add_test(tc, test_b64);
	suite_add_tcase(s, tc);

	tc = tcase_create("http");
	tcase_add_test(tc, test_http_parse);
	tcase_add_loop_test(tc, test_http_bad, 0,
	    (int)(sizeof(bad_http) / sizeof(bad_http[0])));
	tcase_add_test(tc, test_http_complete_bounds);
	tcase_add_test(tc, test_endpoints);
	suite_add_tcase(s, tc);

	tc = tcase_create("etcd");
	tcase_add_test(tc, test_leader_value);
	tcase_add_test(tc, test_client_hostile);
	tcase_add_test(tc, test_client_timeout);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(cluster_suite());
}
