/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_probe.c: unit tests of probe.c, probe_net.c, probe_exec.c and
 * watch.c: spec parsing (good specs field by field, bad specs with their
 * exact message), durations, the rise/fall damper fed scripted
 * sequences, Prometheus label escaping, and probes run against local
 * files, commands and sockets.  The store probes (probe_store.c) are
 * parsed here and run in check_watchlog.c, which has stores to run them
 * against.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "watch/probe_int.h"

static char tmpdir[64];

static void
setup_tmp(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_probe.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_int_eq(chdir(tmpdir), 0);
}

static void
teardown_tmp(void)
{
	char cmd[128];

	ck_assert_int_eq(chdir("/"), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* ------------------------------------------------------------------ */
/* Parsing */

static struct rd_probe *
parse_ok(const char *spec)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_probe *p = NULL;

	if (rd_probe_parse(spec, &p, &err) != 0)
		ck_abort_msg("'%s': %s", spec, err.msg);
	ck_assert_ptr_nonnull(p);
	ck_assert_str_eq(rd_probe_spec(p), spec);
	return p;
}

START_TEST(test_parse_tcp)
{
	struct rd_probe *p;

	p = parse_ok("tcp://db1:5432");
	ck_assert_str_eq(rd_probe_kind(p), "tcp");
	ck_assert_str_eq(p->host, "db1");
	ck_assert_str_eq(p->port, "5432");
	rd_probe_free(p);

	p = parse_ok("tcp://127.0.0.1:9");
	ck_assert_str_eq(p->host, "127.0.0.1");
	ck_assert_str_eq(p->port, "9");
	rd_probe_free(p);

	p = parse_ok("tcp://[::1]:65535");
	ck_assert_str_eq(p->host, "::1");
	ck_assert_str_eq(p->port, "65535");
	rd_probe_free(p);

	p = parse_ok("tcp://[fe80::1%eth0]:22");
	ck_assert_str_eq(p->host, "fe80::1%eth0");
	rd_probe_free(p);

	p = parse_ok("tcp://db-1.example_net.com:007");
	ck_assert_str_eq(p->host, "db-1.example_net.com");
	ck_assert_str_eq(p->port, "7");
	rd_probe_free(p);
}
END_TEST

START_TEST(test_parse_http)
{
	struct rd_probe *p;

	p = parse_ok("http://db1:8080/health");
	ck_assert_str_eq(rd_probe_kind(p), "http");
	ck_assert_str_eq(p->host, "db1");
	ck_assert_str_eq(p->port, "8080");
	ck_assert_str_eq(p->hostport, "db1:8080");
	ck_assert_str_eq(p->path, "/health");
	ck_assert_int_eq(p->expect, 0);
	ck_assert_ptr_null(p->contains);
	rd_probe_free(p);

	p = parse_ok("http://db1");
	ck_assert_str_eq(p->port, "80");
	ck_assert_str_eq(p->hostport, "db1");
	ck_assert_str_eq(p->path, "/");
	rd_probe_free(p);

	p = parse_ok("http://[::1]:80?expect=503");
	ck_assert_str_eq(p->host, "::1");
	ck_assert_str_eq(p->hostport, "[::1]");
	ck_assert_str_eq(p->path, "/");
	ck_assert_int_eq(p->expect, 503);
	rd_probe_free(p);

	p = parse_ok("http://[::1]:81/");
	ck_assert_str_eq(p->hostport, "[::1]:81");
	rd_probe_free(p);

	/* our options are taken out, the server's stay, in order */
	p = parse_ok("http://h/s?a=1&contains=status%3A%20ok&b=%41&expect=204");
	ck_assert_str_eq(p->path, "/s?a=1&b=%41");
	ck_assert_str_eq(p->contains, "status: ok");
	ck_assert_int_eq(p->expect, 204);
	rd_probe_free(p);

	p = parse_ok("http://h/s?contains=a+b");
	ck_assert_str_eq(p->path, "/s");
	ck_assert_str_eq(p->contains, "a+b");
	rd_probe_free(p);
}
END_TEST

START_TEST(test_parse_exec_file)
{
	struct rd_probe *p;

	p = parse_ok("exec:pg_isready -h db1");
	ck_assert_str_eq(rd_probe_kind(p), "exec");
	ck_assert_str_eq(p->command, "pg_isready -h db1");
	rd_probe_free(p);

	p = parse_ok("file:/var/lib/app/heartbeat?max-age=30");
	ck_assert_str_eq(rd_probe_kind(p), "file");
	ck_assert_str_eq(p->path, "/var/lib/app/heartbeat");
	ck_assert(p->max_age == 30);
	rd_probe_free(p);

	p = parse_ok("file:heartbeat?max-age=10m");
	ck_assert_str_eq(p->path, "heartbeat");
	ck_assert(p->max_age == 600);
	rd_probe_free(p);

	p = parse_ok("file:/x?max-age=7d");
	ck_assert(p->max_age == 7 * 86400);
	rd_probe_free(p);

	p = parse_ok("file:/x");
	ck_assert(p->max_age == 0);
	rd_probe_free(p);
}
END_TEST

START_TEST(test_parse_store)
{
	struct rd_probe *p;

	p = parse_ok("snapshot:/backup/app?max-age=3600");
	ck_assert_str_eq(rd_probe_kind(p), "snapshot");
	ck_assert_str_eq(p->store, "/backup/app");
	ck_assert(p->max_age == 3600);
	rd_probe_free(p);

	p = parse_ok("snapshot:store");
	ck_assert_str_eq(p->store, "store");
	ck_assert(p->max_age == 0);
	rd_probe_free(p);

	p = parse_ok("lag:/srv/standby/app?max=2");
	ck_assert_str_eq(rd_probe_kind(p), "lag");
	ck_assert_str_eq(p->store, "/srv/standby/app");
	ck_assert_int_eq(p->max_lag, 2);
	ck_assert(p->max_age == 0);
	rd_probe_free(p);

	p = parse_ok("lag:s?max-age=1h&max=0");
	ck_assert_int_eq(p->max_lag, 0);
	ck_assert(p->max_age == 3600);
	rd_probe_free(p);

	p = parse_ok("lag:s");
	ck_assert_int_eq(p->max_lag, 0);
	rd_probe_free(p);

	p = parse_ok("drill:/srv/standby/app?max-age=7d");
	ck_assert_str_eq(rd_probe_kind(p), "drill");
	ck_assert_str_eq(p->store, "/srv/standby/app");
	ck_assert(p->max_age == 7 * 86400);
	rd_probe_free(p);
}
END_TEST

/* clang-format off */
static const struct {
	const char *spec, *msg;
} bad_specs[] = {
	{ "", "invalid probe '': empty" },
	{ "db1:5432", "invalid probe 'db1:5432': unknown kind (expected tcp://, http://, exec:, file:, snapshot:, lag:, drill: or etcd:)" },
	{ "TCP://db1:1", "invalid probe 'TCP://db1:1': unknown kind (expected tcp://, http://, exec:, file:, snapshot:, lag:, drill: or etcd:)" },
	{ "https://db1/health", "invalid probe 'https://db1/health': https is not supported (use exec:curl -fsS https://db1/health)" },
	{ "tcp://db1", "invalid probe 'tcp://db1': missing port" },
	{ "tcp://db1:", "invalid probe 'tcp://db1:': missing port" },
	{ "tcp://:80", "invalid probe 'tcp://:80': missing host" },
	{ "tcp://", "invalid probe 'tcp://': missing host" },
	{ "tcp://db1:0", "invalid probe 'tcp://db1:0': invalid port '0' (expected 1 to 65535)" },
	{ "tcp://db1:65536", "invalid probe 'tcp://db1:65536': invalid port '65536' (expected 1 to 65535)" },
	{ "tcp://db1:99999999999", "invalid probe 'tcp://db1:99999999999': invalid port '99999999999' (expected 1 to 65535)" },
	{ "tcp://db1:http", "invalid probe 'tcp://db1:http': invalid port 'http' (expected 1 to 65535)" },
	{ "tcp://db1:1/x", "invalid probe 'tcp://db1:1/x': unexpected '/x' after the port" },
	{ "tcp://db1:1?a=b", "invalid probe 'tcp://db1:1?a=b': unexpected '?a=b' after the port" },
	{ "tcp://::1:80", "invalid probe 'tcp://::1:80': an IPv6 address needs brackets, as in [::1]:80" },
	{ "tcp://[::1:80", "invalid probe 'tcp://[::1:80': unterminated '['" },
	{ "tcp://[]:80", "invalid probe 'tcp://[]:80': missing host" },
	{ "tcp://[db1]:80", "invalid probe 'tcp://[db1]:80': invalid IPv6 address 'db1'" },
	{ "tcp://[::1]x:80", "invalid probe 'tcp://[::1]x:80': unexpected 'x:80' after the host" },
	{ "tcp://d b:1", "invalid probe 'tcp://d b:1': invalid host 'd b'" },
	{ "tcp://user@db1:1", "invalid probe 'tcp://user@db1:1': user information is not supported" },
	{ "tcp://db1:1\n", "invalid probe 'tcp://db1:1\n': control character" },
	{ "http://", "invalid probe 'http://': missing host" },
	{ "http://h:x/", "invalid probe 'http://h:x/': invalid port 'x' (expected 1 to 65535)" },
	{ "http://h/a b", "invalid probe 'http://h/a b': ' ' in the URL (write it as %20)" },
	{ "http://h/#top", "invalid probe 'http://h/#top': '#' in the URL (write it as %23)" },
	{ "http://h/?expect=99", "invalid probe 'http://h/?expect=99': invalid expect '99' (expected 100 to 599)" },
	{ "http://h/?expect=600", "invalid probe 'http://h/?expect=600': invalid expect '600' (expected 100 to 599)" },
	{ "http://h/?expect=2xx", "invalid probe 'http://h/?expect=2xx': invalid expect '2xx' (expected 100 to 599)" },
	{ "http://h/?expect=", "invalid probe 'http://h/?expect=': invalid expect '' (expected 100 to 599)" },
	{ "http://h/?expect=200&expect=201", "invalid probe 'http://h/?expect=200&expect=201': duplicate option 'expect'" },
	{ "http://h/?contains=", "invalid probe 'http://h/?contains=': empty contains" },
	{ "http://h/?contains=a&contains=b", "invalid probe 'http://h/?contains=a&contains=b': duplicate option 'contains'" },
	{ "http://h/?contains=%zz", "invalid probe 'http://h/?contains=%zz': invalid percent escape in option 'contains'" },
	{ "http://h/?contains=%00", "invalid probe 'http://h/?contains=%00': invalid percent escape in option 'contains'" },
	{ "exec:", "invalid probe 'exec:': missing command" },
	{ "exec:  ", "invalid probe 'exec:  ': missing command" },
	{ "file:", "invalid probe 'file:': missing path" },
	{ "file:?max-age=3", "invalid probe 'file:?max-age=3': missing path" },
	{ "file:/x?max-age=abc", "invalid probe 'file:/x?max-age=abc': invalid max-age 'abc' (expected seconds above 0, or a number with s, m, h, d or w)" },
	{ "file:/x?max-age=0", "invalid probe 'file:/x?max-age=0': invalid max-age '0' (expected seconds above 0, or a number with s, m, h, d or w)" },
	{ "file:/x?max-age=-5", "invalid probe 'file:/x?max-age=-5': invalid max-age '-5' (expected seconds above 0, or a number with s, m, h, d or w)" },
	{ "file:/x?max-age=5y", "invalid probe 'file:/x?max-age=5y': invalid max-age '5y' (expected seconds above 0, or a number with s, m, h, d or w)" },
	{ "file:/x?maxage=5", "invalid probe 'file:/x?maxage=5': unknown option 'maxage' (expected max-age)" },
	{ "file:/x?max-age", "invalid probe 'file:/x?max-age': invalid option 'max-age' (expected NAME=VALUE)" },
	{ "file:/x?=5", "invalid probe 'file:/x?=5': invalid option '=5' (expected NAME=VALUE)" },
	{ "file:/x?max-age=1&max-age=2", "invalid probe 'file:/x?max-age=1&max-age=2': duplicate option 'max-age'" },
	{ "snapshot:", "invalid probe 'snapshot:': missing store" },
	{ "snapshot:?max-age=1h", "invalid probe 'snapshot:?max-age=1h': missing store" },
	{ "snapshot:s?max-age=0", "invalid probe 'snapshot:s?max-age=0': invalid max-age '0' (expected seconds above 0, or a number with s, m, h, d or w)" },
	{ "snapshot:s?max=1", "invalid probe 'snapshot:s?max=1': unknown option 'max' (expected max-age)" },
	{ "snapshot:s?rpo=1h", "invalid probe 'snapshot:s?rpo=1h': unknown option 'rpo' (expected max-age)" },
	{ "lag:", "invalid probe 'lag:': missing store" },
	{ "lag:s?max=-1", "invalid probe 'lag:s?max=-1': invalid max '-1' (expected a number of snapshots, 0 or more)" },
	{ "lag:s?max=two", "invalid probe 'lag:s?max=two': invalid max 'two' (expected a number of snapshots, 0 or more)" },
	{ "lag:s?max=", "invalid probe 'lag:s?max=': invalid max '' (expected a number of snapshots, 0 or more)" },
	{ "lag:s?max=2x", "invalid probe 'lag:s?max=2x': invalid max '2x' (expected a number of snapshots, 0 or more)" },
	{ "lag:s?max=99999999999", "invalid probe 'lag:s?max=99999999999': invalid max '99999999999' (expected a number of snapshots, 0 or more)" },
	{ "lag:s?max=1&max=2", "invalid probe 'lag:s?max=1&max=2': duplicate option 'max'" },
	{ "lag:s?max-age=soon", "invalid probe 'lag:s?max-age=soon': invalid max-age 'soon' (expected seconds above 0, or a number with s, m, h, d or w)" },
	{ "lag:s?behind=1", "invalid probe 'lag:s?behind=1': unknown option 'behind' (expected max, max-age or rpo)" },
	{ "drill:", "invalid probe 'drill:': missing store" },
	{ "drill:s?max-age=1y", "invalid probe 'drill:s?max-age=1y': invalid max-age '1y' (expected seconds above 0, or a number with s, m, h, d or w)" },
	{ "drill:s?max=1", "invalid probe 'drill:s?max=1': unknown option 'max' (expected max-age)" },
	{ "SNAPSHOT:s", "invalid probe 'SNAPSHOT:s': unknown kind (expected tcp://, http://, exec:, file:, snapshot:, lag:, drill: or etcd:)" },
};
/* clang-format on */

START_TEST(test_parse_bad)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_probe *p = NULL;
	const char *spec = bad_specs[_i].spec;

	ck_assert_int_eq(rd_probe_parse(spec, &p, &err), -1);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(err.code, RD_EUSAGE);
	ck_assert_str_eq(err.msg, bad_specs[_i].msg);
}
END_TEST

START_TEST(test_seconds)
{
	double v = -1;

	ck_assert_int_eq(rdi_probe_seconds("30", &v), 0);
	ck_assert(v == 30);
	ck_assert_int_eq(rdi_probe_seconds("2.5", &v), 0);
	ck_assert(v == 2.5);
	ck_assert_int_eq(rdi_probe_seconds("10m", &v), 0);
	ck_assert(v == 600);
	ck_assert_int_eq(rdi_probe_seconds("1h", &v), 0);
	ck_assert(v == 3600);
	ck_assert_int_eq(rdi_probe_seconds("7d", &v), 0);
	ck_assert(v == 604800);
	ck_assert_int_eq(rdi_probe_seconds("2w", &v), 0);
	ck_assert(v == 1209600);
	ck_assert_int_eq(rdi_probe_seconds("45s", &v), 0);
	ck_assert(v == 45);
	ck_assert_int_eq(rdi_probe_seconds("", &v), -1);
	ck_assert_int_eq(rdi_probe_seconds("0", &v), -1);
	ck_assert_int_eq(rdi_probe_seconds("-1", &v), -1);
	ck_assert_int_eq(rdi_probe_seconds(" 1", &v), -1);
	ck_assert_int_eq(rdi_probe_seconds("1ms", &v), -1);
	ck_assert_int_eq(rdi_probe_seconds("inf", &v), -1);
	ck_assert_int_eq(rdi_probe_seconds("nan", &v), -1);
	ck_assert_int_eq(rdi_probe_seconds("1e300", &v), -1);
	ck_assert(v == 45);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The damper */

/*
 * Feed "seq" ('u' up, 'd' down, 'e' error) and return the transitions as
 * "ROUND:PREVIOUS>STATE " items, rounds counted from 1.
 */
static const char *
script(int fall, int rise, const char *seq, struct rd_damper *d)
{
	static char out[512];
	size_t used = 0;
	int i, prev, r;

	rd_damper_init(d, fall, rise);
	out[0] = '\0';
	for (i = 0; seq[i] != '\0'; i++) {
		if (seq[i] == 'u')
			r = RD_PROBE_UP;
		else if (seq[i] == 'd')
			r = RD_PROBE_DOWN;
		else
			r = RD_PROBE_ERROR;
		prev = -1;
		if (rd_damper_feed(d, r, &prev))
			used += (size_t)snprintf(out + used, sizeof(out) - used,
			    "%d:%s>%s ", i + 1, rd_probe_state_name(prev),
			    rd_probe_state_name(d->state));
		else
			ck_assert_int_eq(prev, -1);
	}
	return out;
}

START_TEST(test_damper)
{
	struct rd_damper d;

	/* the defaults: fall 3, rise 2 */
	ck_assert_str_eq(script(3, 2, "uudududddduuu", &d),
	    "2:unknown>up 9:up>down 12:down>up ");
	ck_assert_int_eq(d.transitions, 3);
	ck_assert_int_eq(d.successes, 3);
	ck_assert_int_eq(d.failures, 0);

	/* no flapping: single failures never reach fall */
	ck_assert_str_eq(script(3, 2, "uududduddudd", &d), "2:unknown>up ");
	ck_assert_int_eq(d.state, RD_PROBE_UP);
	ck_assert_int_eq(d.failures, 2);

	/* the first decision needs a full run too */
	ck_assert_str_eq(script(3, 2, "ddd", &d), "3:unknown>down ");
	ck_assert_str_eq(script(3, 2, "dud", &d), "");
	ck_assert_int_eq(d.state, RD_PROBE_UNKNOWN);
	ck_assert_str_eq(script(3, 2, "u", &d), "");

	/* errors neither count nor break a run */
	ck_assert_str_eq(script(3, 2, "ueudedeed", &d),
	    "3:unknown>up 9:up>down ");
	ck_assert_int_eq(d.failures, 3);
	ck_assert_str_eq(script(1, 1, "eeee", &d), "");
	ck_assert_int_eq(d.state, RD_PROBE_UNKNOWN);

	/* fall 1, rise 1: every change of result is a transition */
	ck_assert_str_eq(script(1, 1, "udduu", &d),
	    "1:unknown>up 2:up>down 4:down>up ");

	/* bounds are clamped to 1 */
	ck_assert_str_eq(script(0, -3, "du", &d), "1:unknown>down 2:down>up ");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Prometheus escaping */

static void
escapes_to(const char *in, const char *want)
{
	char *got = rd_prom_escape(in);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(test_prom_escape)
{
	escapes_to("", "");
	escapes_to("tcp://db1:5432", "tcp://db1:5432");
	escapes_to("exec:test -f \"/x\"", "exec:test -f \\\"/x\\\"");
	escapes_to("a\\b", "a\\\\b");
	escapes_to("a\nb", "a\\nb");
	escapes_to("tab\there", "tab\there");
	escapes_to("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* invalid UTF-8 becomes U+FFFD, one per bad byte */
	escapes_to("a\xff", "a\xef\xbf\xbd");
	escapes_to("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
	escapes_to("\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	escapes_to("\xf4\x90\x80\x80",
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	escapes_to("\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Running probes */

static struct rd_probe_result
run1(const char *spec, double timeout)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_probe_result res;
	struct rd_probe *p = parse_ok(spec);

	memset(&res, 0xa5, sizeof(res));
	ck_assert_int_eq(rd_probe_round(&p, 1, timeout, &res, &err), 0);
	rd_probe_free(p);
	return res;
}

START_TEST(test_run_file)
{
	struct rd_probe_result r;
	struct timespec ts[2];
	FILE *fp;

	r = run1("file:missing", 1);
	ck_assert_int_eq(r.state, RD_PROBE_DOWN);
	ck_assert_str_eq(r.reason, "no such file");
	r = run1("file:missing/below", 1);
	ck_assert_str_eq(r.reason, "no such file");

	fp = fopen("beat", "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fclose(fp), 0);
	r = run1("file:beat?max-age=30", 1);
	ck_assert_int_eq(r.state, RD_PROBE_UP);
	ck_assert_str_eq(r.reason, "");
	ck_assert(r.latency >= 0 && r.latency < 1);

	/* 45 s old against 30 s */
	ck_assert_int_eq(clock_gettime(CLOCK_REALTIME, &ts[0]), 0);
	ts[0].tv_sec -= 45;
	ts[1] = ts[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, "beat", ts, 0), 0);
	r = run1("file:beat?max-age=30", 1);
	ck_assert_int_eq(r.state, RD_PROBE_DOWN);
	ck_assert_str_eq(r.reason, "age 45 s > 30 s");
	r = run1("file:beat?max-age=1m", 1);
	ck_assert_int_eq(r.state, RD_PROBE_UP);
	r = run1("file:beat", 1);
	ck_assert_int_eq(r.state, RD_PROBE_UP);
}
END_TEST

START_TEST(test_run_exec)
{
	struct rd_probe_result r;

	r = run1("exec:true", 5);
	ck_assert_int_eq(r.state, RD_PROBE_UP);
	ck_assert_str_eq(r.reason, "");
	r = run1("exec:exit 3", 5);
	ck_assert_int_eq(r.state, RD_PROBE_DOWN);
	ck_assert_str_eq(r.reason, "exit 3");
	r = run1("exec:kill -9 $$", 5);
	ck_assert_str_eq(r.reason, "killed by signal 9");
	r = run1("exec:no-such-command-here 2>/dev/null", 5);
	ck_assert_str_eq(r.reason, "exit 127");
	/* the standard output is not ours */
	r = run1("exec:echo noise", 5);
	ck_assert_int_eq(r.state, RD_PROBE_UP);

	/* the whole process group goes on timeout */
	r = run1("exec:sleep 30 & echo $! >pid; wait", 1);
	ck_assert_int_eq(r.state, RD_PROBE_DOWN);
	ck_assert_str_eq(r.reason, "timeout after 1.0 s");
	ck_assert(r.latency >= 1 && r.latency < 3);
	ck_assert_int_eq(access("pid", F_OK), 0);
	/* gone, or a zombie where init does not reap orphans */
	r = run1("exec:st=$(ps -o stat= -p $(cat pid)) || exit 1; "
	         "case $st in Z*) exit 1;; esac",
	    5);
	ck_assert_str_eq(r.reason, "exit 1");

	r = run1("exec:sleep 30", 0.25);
	ck_assert_str_eq(r.reason, "timeout after 0.25 s");
}
END_TEST

START_TEST(test_hook_run)
{
	static const char *const env[] = { "RD_HOOK_SET=new", "RD_HOOK_GONE",
		NULL };
	static const char show[] =
	    "printf '%s %s %s %s' \"${PWD##*/}\" \"$RD_HOOK_SET\""
	    " \"${RD_HOOK_GONE-unset}\" \"$RD_HOOK_KEPT\" >../out; exit 3";
	static const char alive[] =
	    "st=$(ps -o stat= -p $(cat pid)) || exit 1; "
	    "case $st in Z*) exit 1;; esac";
	struct rd_err err = RD_ERR_INIT;
	char buf[64];
	double t0;
	ssize_t n;
	int fd, r, status;

	ck_assert_int_eq(setenv("RD_HOOK_SET", "old", 1), 0);
	ck_assert_int_eq(setenv("RD_HOOK_GONE", "here", 1), 0);
	ck_assert_int_eq(setenv("RD_HOOK_KEPT", "kept", 1), 0);
	ck_assert_int_eq(mkdir("cwd", 0755), 0);
	/* in "cwd", with the environment changed, its exit status back */
	r = rd_hook_run(show, "cwd", env, 5, &status, &err);
	ck_assert_int_eq(r, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	fd = open("out", O_RDONLY);
	ck_assert_int_ne(fd, -1);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	ck_assert_str_eq(buf, "cwd new unset kept");

	r = rd_hook_run("kill -9 $$", NULL, NULL, 5, &status, &err);
	ck_assert_int_eq(r, 0);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == 9);

	/* out of time: the whole process group goes */
	t0 = rd_monotonic();
	r = rd_hook_run("sleep 30 & echo $! >pid; sleep 30", NULL, NULL, 0.3,
	    &status, &err);
	ck_assert_int_eq(r, 1);
	ck_assert(rd_monotonic() - t0 < 3);
	ck_assert_int_eq(access("pid", F_OK), 0);
	/* gone, or a zombie where init does not reap orphans */
	r = rd_hook_run(alive, NULL, NULL, 5, &status, &err);
	ck_assert_int_eq(r, 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);

	/* a directory that cannot be entered */
	r = rd_hook_run("true", "missing", NULL, 5, &status, &err);
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(err.code, RD_EUNAVAIL);
	ck_assert_str_eq(err.msg,
	    "cannot run '/bin/sh' in 'missing': No such file or directory");
}
END_TEST

/* A listening socket on 127.0.0.1; its port into "port". */
static int
listener(char *port, size_t len)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ne(fd, -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(port, len, "%u", ntohs(sin.sin_port));
	return fd;
}

START_TEST(test_run_net)
{
	struct rd_probe_result r;
	char port[16], spec[128];
	int fd;

	fd = listener(port, sizeof(port));
	snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%s", port);
	r = run1(spec, 2);
	ck_assert_int_eq(r.state, RD_PROBE_UP);
	/* accepted by the kernel, never answered */
	snprintf(spec, sizeof(spec), "http://127.0.0.1:%s/health", port);
	r = run1(spec, 0.3);
	ck_assert_int_eq(r.state, RD_PROBE_DOWN);
	ck_assert_str_eq(r.reason, "timeout after 0.3 s");
	close(fd);

	/* nothing listens there any more */
	snprintf(spec, sizeof(spec), "tcp://127.0.0.1:%s", port);
	r = run1(spec, 2);
	ck_assert_int_eq(r.state, RD_PROBE_DOWN);
	ck_assert_str_eq(r.reason, "connection refused");
	snprintf(spec, sizeof(spec), "http://127.0.0.1:%s/", port);
	r = run1(spec, 2);
	ck_assert_str_eq(r.reason, "connection refused");

	r = run1("tcp://no-such-host.invalid:1", 2);
	ck_assert_int_eq(r.state, RD_PROBE_DOWN);
	ck_assert(strncmp(r.reason,
	              "cannot resolve 'no-such-host.invalid': ", 39) == 0);
}
END_TEST

START_TEST(test_round_concurrent)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_probe_result res[4];
	struct rd_probe *p[4];
	double start, took;
	int i;

	p[0] = parse_ok("exec:sleep 30");
	p[1] = parse_ok("exec:sleep 31");
	p[2] = parse_ok("exec:sleep 32");
	p[3] = parse_ok("exec:exit 0");
	start = rd_monotonic();
	ck_assert_int_eq(rd_probe_round(p, 4, 1.0, res, &err), 0);
	took = rd_monotonic() - start;
	/* one timeout, not three in a row */
	ck_assert(took >= 1.0 && took < 2.5);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(res[i].state, RD_PROBE_DOWN);
		ck_assert_str_eq(res[i].reason, "timeout after 1.0 s");
	}
	ck_assert_int_eq(res[3].state, RD_PROBE_UP);
	ck_assert(res[3].latency < 1.0);
	for (i = 0; i < 4; i++)
		rd_probe_free(p[i]);
}
END_TEST

START_TEST(test_print)
{
	struct rd_probe_result r;
	struct rd_probe *p = parse_ok("tcp://127.0.0.1:9");
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	memset(&r, 0, sizeof(r));
	r.state = RD_PROBE_DOWN;
	r.latency = 0.000213;
	snprintf(r.reason, sizeof(r.reason), "connection\nrefused");
	fp = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(fp);
	rd_probe_print(fp, p, &r);
	putc('|', fp);
	r.state = RD_PROBE_UP;
	r.latency = 1.25;
	rd_probe_print(fp, p, &r);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_str_eq(buf,
	    "tcp://127.0.0.1:9 down 0.2 ms connection?refused|"
	    "tcp://127.0.0.1:9 up 1250.0 ms");
	free(buf);
	rd_probe_free(p);
}
END_TEST

START_TEST(test_duration_human)
{
	/* clang-format off */
	static const struct {
		double seconds;
		const char *text;
	} cases[] = {
		{ 0, "0 s" },
		{ -5, "0 s" },
		{ 45, "45 s" },
		{ 2.5, "2.5 s" },
		{ 0.25, "0.25 s" },
		{ 59, "59 s" },
		{ 60, "1 min" },
		{ 90, "1 min 30 s" },
		{ 600, "10 min" },
		{ 3599, "59 min 59 s" },
		{ 3600, "1 h" },
		{ 3659, "1 h" },
		{ 3660, "1 h 1 min" },
		{ 7380, "2 h 3 min" },
		{ 7380.9, "2 h 3 min" },
		{ 86399, "23 h 59 min" },
		{ 86400, "1 d" },
		{ 604800, "7 d" },
		{ 694800, "8 d 1 h" },
		{ 3e7, "347 d 5 h" },
	};
	/* clang-format on */
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(rd_duration_human(cases[i].seconds, buf,
		                     sizeof(buf)),
		    cases[i].text);
}
END_TEST

START_TEST(test_time_iso)
{
	char buf[40];

	ck_assert_str_eq(rd_time_iso(1795775405.123, 1, buf, sizeof(buf)),
	    "2026-11-27T10:30:05.123Z");
	ck_assert_str_eq(rd_time_iso(1795775405.999, 0, buf, sizeof(buf)),
	    "2026-11-27T10:30:05Z");
	ck_assert_str_eq(rd_probe_state_name(RD_PROBE_UNKNOWN), "unknown");
	ck_assert_str_eq(rd_probe_state_name(RD_PROBE_UP), "up");
	ck_assert_str_eq(rd_probe_state_name(RD_PROBE_DOWN), "down");
	ck_assert_str_eq(rd_probe_state_name(RD_PROBE_ERROR), "error");
}
END_TEST

static Suite *
probe_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_tcp);
	tcase_add_test(tc, test_parse_http);
	tcase_add_test(tc, test_parse_exec_file);
	tcase_add_test(tc, test_parse_store);
	tcase_add_loop_test(tc, test_parse_bad, 0,
	    (int)(sizeof(bad_specs) / sizeof(bad_specs[0])));
	tcase_add_test(tc, test_seconds);
	suite_add_tcase(s, tc);

	tc = tcase_create("damper");
	tcase_add_test(tc, test_damper);
	suite_add_tcase(s, tc);

	tc = tcase_create("prometheus");
	tcase_add_test(tc, test_prom_escape);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_add_test(tc, test_print);
	tcase_add_test(tc, test_duration_human);
	tcase_add_test(tc, test_time_iso);
	suite_add_tcase(s, tc);

	tc = tcase_create("run");
	tcase_add_checked_fixture(tc, setup_tmp, teardown_tmp);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_run_file);
	tcase_add_test(tc, test_run_exec);
	tcase_add_test(tc, test_hook_run);
	tcase_add_test(tc, test_run_net);
	tcase_add_test(tc, test_round_concurrent);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(probe_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
