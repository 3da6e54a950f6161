/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * etcd.c: the etcd v3 client (its JSON gateway: /v3/kv/range and
 * /v3/kv/txn over plain HTTP) and the cluster's leadership claim.
 *
 * Requests go to each endpoint in turn until one answers with HTTP 200
 * and a valid document; reads are linearizable, so a member without
 * quorum cannot answer from a stale copy: it times out (the client's
 * deadline) or says it has no leader, and the next endpoint is tried.
 * When none answers, the call fails with RD_EUNAVAIL naming the last
 * reason.
 *
 * The key /redund/CLUSTER/primary holds "UUID EPOCH PREVIOUS": the store
 * id of the cluster's primary, its epoch (0 while its claim is not yet
 * confirmed) and the primary it took over from ("-" for none).  A claim
 * is two compare-and-swaps: the first takes the key if it still holds
 * what this standby read (absent, or naming the primary it follows) and
 * its revision becomes the fencing token; the second writes the epoch,
 * max(local + 1, token), if nobody took the key in between.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"

static int
uuid_ok(const char *s, size_t n)
{
	size_t i;

	if (n != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		               (s[i] >= 'a' && s[i] <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

int
rdi_etcd_init(struct rdi_etcd *ec, const char *urls, double timeout,
    struct rd_err *err)
{
	char one[400];
	const char *p = urls;
	size_t n;

	memset(ec, 0, sizeof(*ec));
	ec->timeout = timeout;
	if (!(timeout > 0 && timeout <= 3600))
		return rd_err_set(err, RD_EUSAGE,
		    "etcd timeout must be above 0 and at most 3600 seconds");
	for (;;) {
		n = strcspn(p, ",");
		if (n == 0 || n >= sizeof(one))
			return rd_err_set(err, RD_EUSAGE,
			    "--etcd wants http://HOST:PORT[,http://HOST:PORT...]");
		if (ec->n == RDI_ETCD_MAX_EP)
			return rd_err_set(err, RD_EUSAGE,
			    "--etcd names more than %d endpoints",
			    RDI_ETCD_MAX_EP);
		memcpy(one, p, n);
		one[n] = '\0';
		if (rdi_endpoint_parse(one, &ec->ep[ec->n], err) == -1)
			return -1;
		ec->n++;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

int
rdi_cluster_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		        (name[i] >= 'A' && name[i] <= 'Z') ||
		        (name[i] >= '0' && name[i] <= '9') || name[i] == '-' ||
		        name[i] == '_' || name[i] == '.'))
			return 0;
	return name[0] != '.';
}

int
rd_cluster_opts_check(const char *etcd, const char *cluster, struct rd_err *err)
{
	struct rdi_etcd ec;

	if (etcd == NULL && cluster == NULL)
		return 0;
	if (etcd == NULL || cluster == NULL)
		return rd_err_set(err, RD_EUSAGE,
		    "--etcd and --cluster go together");
	if (!rdi_cluster_name_ok(cluster))
		return rd_err_set(err, RD_EUSAGE,
		    "invalid --cluster '%.100s' (expected 1 to 64 letters, digits, '.', '-' or '_')",
		    cluster);
	return rdi_etcd_init(&ec, etcd, 3, err);
}

/*
 * POST "body" to "path" on each endpoint until one answers 200 with a
 * valid JSON document: "resp" keeps its text, "root" points into it.
 */
static int
call(struct rdi_etcd *ec, const char *path, const char *body,
    struct rdi_http_resp *resp, struct rdi_jv *root, struct rd_err *err)
{
	struct rd_err e = RD_ERR_INIT;
	char why[200];
	struct rdi_jv m;
	int i;

	snprintf(why, sizeof(why), "no endpoint");
	for (i = 0; i < ec->n; i++) {
		rd_err_clear(&e);
		if (rdi_http_post(&ec->ep[i], path, body, ec->timeout, resp,
		        &e) == -1) {
			snprintf(why, sizeof(why), "%s", e.msg);
			continue;
		}
		if (rdi_json_parse(resp->body, resp->len, root, &e) == -1) {
			snprintf(why, sizeof(why), "%s: %s", ec->ep[i].url,
			    e.msg);
		} else if (resp->status != 200) {
			char msg[120] = "";

			if (rdi_json_find(root, "error", &m) == 1 ||
			    rdi_json_find(root, "message", &m) == 1)
				(void)rdi_jv_str(&m, msg, sizeof(msg));
			snprintf(why, sizeof(why), "%s: HTTP %d%s%s",
			    ec->ep[i].url, resp->status, msg[0] ? ": " : "",
			    msg);
		} else if (root->type != RDI_JV_OBJ) {
			snprintf(why, sizeof(why),
			    "%s: answer is not an object", ec->ep[i].url);
		} else {
			return 0;
		}
		rdi_http_resp_release(resp);
	}
	return rd_err_set(err, RD_EUNAVAIL,
	    "etcd is unavailable or has no quorum (%d endpoint%s tried; last: %s)",
	    ec->n, ec->n == 1 ? "" : "s", why);
}

/* The header's revision of "root", which every answer has. */
static int
header_rev(const struct rdi_jv *root, int64_t *rev, struct rd_err *err)
{
	struct rdi_jv v;

	if (rdi_json_find(root, "header.revision", &v) != 1 ||
	    rdi_jv_i64(&v, rev) == -1 || *rev < 1)
		return rd_err_set(err, RD_ECORRUPT,
		    "etcd's answer has no valid header revision");
	return 0;
}

/* One key-value object "kv" of an answer into "out". */
static int
read_kv(const struct rdi_jv *kv, struct rdi_kv *out, struct rd_err *err)
{
	struct rdi_jv v;
	char b64[4 * (RDI_KV_VALUE_MAX / 3) + 8];
	long n;

	out->found = 1;
	out->value[0] = '\0';
	out->vlen = 0;
	if (rdi_json_find(kv, "mod_revision", &v) != 1 ||
	    rdi_jv_i64(&v, &out->mod_rev) == -1 || out->mod_rev < 1 ||
	    rdi_json_find(kv, "create_revision", &v) != 1 ||
	    rdi_jv_i64(&v, &out->create_rev) == -1 || out->create_rev < 1)
		return rd_err_set(err, RD_ECORRUPT,
		    "etcd's answer has a key without valid revisions");
	if (rdi_json_find(kv, "value", &v) != 1)
		return 0; /* an empty value is left out */
	n = rdi_jv_str(&v, b64, sizeof(b64));
	if (n >= 0)
		n = rdi_b64_decode(b64, (size_t)n, (unsigned char *)out->value,
		    RDI_KV_VALUE_MAX);
	if (n < 0)
		return rd_err_set(err, RD_ECORRUPT,
		    "etcd's answer has a value that is not base64 of at most %d bytes",
		    RDI_KV_VALUE_MAX);
	out->value[n] = '\0';
	out->vlen = (size_t)n;
	return 0;
}

/* The kvs of a range answer "r": none, or one that is "key". */
static int
read_range(const struct rdi_jv *r, struct rdi_kv *out, struct rd_err *err)
{
	struct rdi_jv kv, extra;

	out->found = 0;
	if (rdi_json_find(r, "kvs[0]", &kv) != 1)
		return 0;
	if (rdi_json_find(r, "kvs[1]", &extra) == 1)
		return rd_err_set(err, RD_ECORRUPT,
		    "etcd answered several keys for one");
	return read_kv(&kv, out, err);
}

static int
key_b64(const char *key, char *out, size_t cap, struct rd_err *err)
{
	if (rdi_b64_encode(key, strlen(key), out, cap) == -1)
		return rd_err_set(err, RD_EUSAGE, "etcd key is too long");
	return 0;
}

int
rdi_etcd_get(struct rdi_etcd *ec, const char *key, struct rdi_kv *out,
    struct rd_err *err)
{
	struct rdi_http_resp resp;
	struct rdi_jv root;
	char k[200], body[300];
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (key_b64(key, k, sizeof(k), err) == -1)
		return -1;
	snprintf(body, sizeof(body), "{\"key\":\"%s\"}", k);
	if (call(ec, "/v3/kv/range", body, &resp, &root, err) == -1)
		return -1;
	if (header_rev(&root, &out->header_rev, err) == 0 &&
	    read_range(&root, out, err) == 0)
		ret = 0;
	rdi_http_resp_release(&resp);
	return ret;
}

int
rdi_etcd_cas(struct rdi_etcd *ec, const char *key, int64_t expect,
    const char *value, int *won, struct rdi_kv *now, struct rd_err *err)
{
	struct rdi_http_resp resp;
	struct rdi_jv root, v;
	char k[200], val[4 * (RDI_KV_VALUE_MAX / 3) + 8], cmp[160];
	char body[1600];
	int ret = -1, ok = 0;

	memset(now, 0, sizeof(*now));
	if (key_b64(key, k, sizeof(k), err) == -1)
		return -1;
	if (strlen(value) > RDI_KV_VALUE_MAX ||
	    rdi_b64_encode(value, strlen(value), val, sizeof(val)) == -1)
		return rd_err_set(err, RD_EUSAGE, "etcd value is too long");
	if (expect == 0)
		snprintf(cmp, sizeof(cmp),
		    "\"target\":\"CREATE\",\"create_revision\":\"0\"");
	else
		snprintf(cmp, sizeof(cmp),
		    "\"target\":\"MOD\",\"mod_revision\":\"%lld\"",
		    (long long)expect);
	snprintf(body, sizeof(body),
	    "{\"compare\":[{\"key\":\"%s\",\"result\":\"EQUAL\",%s}],"
	    "\"success\":[{\"request_put\":{\"key\":\"%s\",\"value\":\"%s\"}}],"
	    "\"failure\":[{\"request_range\":{\"key\":\"%s\"}}]}",
	    k, cmp, k, val, k);
	if (call(ec, "/v3/kv/txn", body, &resp, &root, err) == -1)
		return -1;
	if (header_rev(&root, &now->header_rev, err) == -1)
		goto out;
	/* protobuf's JSON leaves out a false "succeeded" */
	if (rdi_json_find(&root, "succeeded", &v) == 1 &&
	    rdi_jv_bool(&v, &ok) == -1) {
		rd_err_set(err, RD_ECORRUPT,
		    "etcd's answer has a \"succeeded\" that is not a boolean");
		goto out;
	}
	*won = ok;
	if (ok) {
		/* the put's revision is the answer's */
		now->found = 1;
		now->mod_rev = now->header_rev;
		snprintf(now->value, sizeof(now->value), "%s", value);
		now->vlen = strlen(value);
	} else if (rdi_json_find(&root, "responses[0].response_range", &v) !=
	        1 ||
	    read_range(&v, now, err) == -1) {
		if (err->code == RD_OK)
			rd_err_set(err, RD_ECORRUPT,
			    "etcd's answer to a failed compare has no range");
		goto out;
	}
	ret = 0;
out:
	rdi_http_resp_release(&resp);
	return ret;
}

int
rdi_leader_parse(const char *value, size_t len, struct rdi_leader *l)
{
	const char *sp1, *sp2;
	char num[24];
	size_t nl;
	struct rdi_jv jv;

	memset(l, 0, sizeof(*l));
	if (len != strlen(value) || len < 36 + 1 + 1 + 1 + 1)
		return -1;
	sp1 = value + 36;
	if (!uuid_ok(value, 36) || *sp1 != ' ')
		return -1;
	sp2 = strchr(sp1 + 1, ' ');
	if (sp2 == NULL)
		return -1;
	nl = (size_t)(sp2 - sp1 - 1);
	if (nl == 0 || nl >= sizeof(num))
		return -1;
	memcpy(num, sp1 + 1, nl);
	num[nl] = '\0';
	jv.type = RDI_JV_NUM;
	jv.p = num;
	jv.n = nl;
	if (rdi_jv_i64(&jv, &l->epoch) == -1 || l->epoch < 0)
		return -1;
	if (strcmp(sp2 + 1, "-") != 0 && !uuid_ok(sp2 + 1, strlen(sp2 + 1)))
		return -1;
	memcpy(l->uuid, value, 36);
	if (strcmp(sp2 + 1, "-") != 0)
		memcpy(l->prev, sp2 + 1, 36);
	return 0;
}

void
rdi_leader_key(const char *cluster, char *out, size_t cap)
{
	snprintf(out, cap, "/redund/%s/primary", cluster);
}

/*
 * Read the cluster's primary: 1 with "l" and "kv" set, 0 if the key is
 * absent, -1 (RD_ECORRUPT for a value that is not a claim).
 */
int
rdi_leader_get(struct rdi_etcd *ec, const char *cluster, struct rdi_leader *l,
    struct rdi_kv *kv, struct rd_err *err)
{
	char key[128];

	rdi_leader_key(cluster, key, sizeof(key));
	if (rdi_etcd_get(ec, key, kv, err) == -1)
		return -1;
	if (!kv->found)
		return 0;
	if (rdi_leader_parse(kv->value, kv->vlen, l) == -1)
		return rd_err_set(err, RD_ECORRUPT,
		    "etcd key '%s' does not hold a redund primary (\"UUID EPOCH PREVIOUS\")",
		    key);
	return 1;
}
