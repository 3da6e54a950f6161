/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cluster_int.h: what the files of the cluster layer share, and what its
 * unit tests and fuzz targets reach: a bounded JSON reader (jsonr.c), a
 * small HTTP/1.1 client over plain TCP (http.c) and the etcd v3 JSON
 * gateway client built on them (etcd.c).  Everything these read comes
 * from the network and is treated as hostile: every size is bounded and
 * every value validated before it is used.
 */
#ifndef CLUSTER_INT_H
#define CLUSTER_INT_H

#include "rd_int.h"

/* The largest HTTP response (head and body) the client reads. */
#define RDI_HTTP_MAX (64 * 1024)
/* The largest response head. */
#define RDI_HTTP_HEAD_MAX (8 * 1024)
/* The deepest nesting the JSON reader accepts. */
#define RDI_JSON_DEPTH 32

/* ------------------------------------------------------------------ */
/* jsonr.c: a validating reader for one JSON document in a buffer */

enum {
	RDI_JV_NULL,
	RDI_JV_BOOL,
	RDI_JV_NUM,
	RDI_JV_STR,
	RDI_JV_ARR,
	RDI_JV_OBJ
};

/* A value inside a checked document: its type and its raw text. */
struct rdi_jv {
	int type;
	const char *p; /* first byte of the value in the document */
	size_t n;      /* length of its text */
};

/*
 * Check that "buf" ("len" bytes) is exactly one JSON value (RFC 8259:
 * strict grammar, valid UTF-8, escapes, nesting at most RDI_JSON_DEPTH,
 * white space around it), and set "root" to it.  Returns 0, or -1 with
 * RD_ECORRUPT naming the first problem and its offset.
 */
int rdi_json_parse(const char *buf, size_t len, struct rdi_jv *root,
    struct rd_err *err);

/*
 * Find the value at "path" below "v" (a value of a checked document):
 * members by name separated by '.', array elements as "[N]", as in
 * "kvs[0].value".  A name in "path" must not hold '.' or '['.  Returns 1
 * with "out" set, 0 if there is no such value (or "path" is malformed).
 */
int rdi_json_find(const struct rdi_jv *v, const char *path, struct rdi_jv *out);

/*
 * Decode the string "v" into "out" ("cap" bytes with its NUL).  A string
 * holding NUL or longer than cap - 1 bytes is refused.  Returns the
 * length, or -1.
 */
long rdi_jv_str(const struct rdi_jv *v, char *out, size_t cap);

/*
 * An integer: a JSON number without fraction or exponent, or a string of
 * one (etcd writes int64 values as strings), within int64.  Returns 0
 * with "*out" set, or -1.
 */
int rdi_jv_i64(const struct rdi_jv *v, int64_t *out);

/* A boolean "v" into "*out".  Returns 0, or -1 if "v" is not a boolean. */
int rdi_jv_bool(const struct rdi_jv *v, int *out);

/* ------------------------------------------------------------------ */
/* Base64 (RFC 4648, with padding), as the gateway wants keys and values */

/* Encode "len" bytes; "out" needs 4 * ((len + 2) / 3) + 1.  Returns 0, or
 * -1 if "cap" is too small. */
int rdi_b64_encode(const void *in, size_t len, char *out, size_t cap);

/* Decode "len" characters into "out" ("cap" bytes).  Returns the decoded
 * length, or -1 if the text is not canonical base64 or too long. */
long rdi_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap);

/* ------------------------------------------------------------------ */
/* http.c: one request per connection, bounded in time and size */

/* An endpoint "http://HOST:PORT" (no path, no user, no TLS). */
struct rdi_endpoint {
	char host[256];
	char port[8];
	char url[300]; /* as given, for messages */
};

/*
 * Parse "url" into "ep".  Returns 0, or -1 with RD_EUSAGE: not http, no
 * port, a path, user info, or a host or port that is not plain.
 */
int rdi_endpoint_parse(const char *url, struct rdi_endpoint *ep,
    struct rd_err *err);

struct rdi_http_resp {
	int status; /* 100..599 */
	char *body; /* NUL-terminated, owned: free() it */
	size_t len; /* body bytes */
};

/*
 * POST "body" (JSON) to "path" on "ep" over a new connection, and read
 * the whole answer, all within "timeout" seconds.  Returns 0 with
 * "resp" filled (any status), or -1: RD_EUNAVAIL when the endpoint
 * cannot be reached or does not answer in time, RD_ECORRUPT for an
 * answer that is not a bounded, well-formed HTTP/1.x response.
 */
int rdi_http_post(const struct rdi_endpoint *ep, const char *path,
    const char *body, double timeout, struct rdi_http_resp *resp,
    struct rd_err *err);

/*
 * Parse a complete response "buf" ("len" bytes: head, then the body as
 * Content-Length, chunked coding or up to the end) into "resp".
 * Returns 0, or -1 with RD_ECORRUPT.  http.c's reader and fuzz targets
 * use it.
 */
int rdi_http_parse(const char *buf, size_t len, struct rdi_http_resp *resp,
    struct rd_err *err);

/*
 * Whether "buf" holds a complete response yet: 1 yes, 0 not yet, -1
 * malformed (with "err").  "eof" says the peer closed the connection.
 */
int rdi_http_complete(const char *buf, size_t len, int eof, struct rd_err *err);

void rdi_http_resp_release(struct rdi_http_resp *resp);

/* ------------------------------------------------------------------ */
/* etcd.c: the v3 gateway client and the primary's key */

#define RDI_ETCD_MAX_EP  8
#define RDI_KV_VALUE_MAX 255

struct rdi_etcd {
	struct rdi_endpoint ep[RDI_ETCD_MAX_EP];
	int n;
	double timeout; /* per request and endpoint, seconds */
};

/* A key as etcd answered it. */
struct rdi_kv {
	int found;
	int64_t header_rev; /* the store's revision when it answered */
	int64_t mod_rev, create_rev;
	char value[RDI_KV_VALUE_MAX + 1];
	size_t vlen;
};

/*
 * Parse "urls" (comma-separated http://HOST:PORT) into "ec", with
 * "timeout" seconds for each request to each endpoint.  Returns 0, or
 * -1 with RD_EUSAGE.
 */
int rdi_etcd_init(struct rdi_etcd *ec, const char *urls, double timeout,
    struct rd_err *err);

/* 1 if "name" may name a cluster (1-64 of [A-Za-z0-9._-], no leading dot). */
int rdi_cluster_name_ok(const char *name);

/*
 * Read "key" (linearizable) into "out".  Returns 0 ("out->found" says if
 * it exists), or -1: RD_EUNAVAIL when no endpoint answers (down, no
 * quorum, timeout), RD_ECORRUPT for an answer that is not etcd's.
 */
int rdi_etcd_get(struct rdi_etcd *ec, const char *key, struct rdi_kv *out,
    struct rd_err *err);

/*
 * Put "value" at "key" if its mod revision is still "expect" (0: if the
 * key is absent).  "*won" says whether it did; "now" holds the key as
 * the transaction left it (on a win, the revision of the put).  Returns
 * 0, or -1 as rdi_etcd_get().  A timeout does not say the put did not
 * happen: read the key again.
 */
int rdi_etcd_cas(struct rdi_etcd *ec, const char *key, int64_t expect,
    const char *value, int *won, struct rdi_kv *now, struct rd_err *err);

/* The value of a cluster's primary key: "UUID EPOCH PREVIOUS". */
struct rdi_leader {
	char uuid[37];
	int64_t epoch; /* 0: claimed, epoch not yet written */
	char prev[37]; /* the primary before, or "" */
};

/* Parse a primary key's value.  Returns 0, or -1 if it is not one. */
int rdi_leader_parse(const char *value, size_t len, struct rdi_leader *l);

/* The key of cluster "cluster"'s primary, "/redund/CLUSTER/primary". */
void rdi_leader_key(const char *cluster, char *out, size_t cap);

/*
 * Read the primary of "cluster".  Returns 1 with "l" and "kv" set, 0 if
 * none is recorded, or -1 (RD_ECORRUPT for a value that is not a
 * primary's).
 */
int rdi_leader_get(struct rdi_etcd *ec, const char *cluster,
    struct rdi_leader *l, struct rdi_kv *kv, struct rd_err *err);

/* ------------------------------------------------------------------ */
/* claim.c: a standby claims the cluster's leadership */

struct rdi_claim {
	int64_t token;     /* the claim's revision: the fencing token */
	int64_t epoch;     /* the epoch to take: max(local + 1, token) */
	int again;         /* the key already named this store */
	char was[37];      /* the primary etcd named before, or "" */
	char message[512]; /* what etcd says, or why it was refused */
};

/*
 * Claim "cluster" for the store "self" (a standby following "follows",
 * at epoch "local").  With "dry_run" only read and say what would
 * happen.  Returns 0 claimed (or would be), 1 refused ("c->message":
 * another primary is named, the race was lost, the claim was lost
 * mid-way), -1 (RD_EUNAVAIL: etcd unreachable or without quorum).
 */
int rdi_cluster_claim(struct rdi_etcd *ec, const char *cluster,
    const char *self, const char *follows, int64_t local, int dry_run,
    struct rdi_claim *c, struct rd_err *err);

/*
 * Does etcd confirm that "sender" (at epoch "epoch") is the promoted
 * primary of "cluster" that took over from "follows"?  Returns 1 yes,
 * 0 no ("why" says what etcd says), -1 (RD_EUNAVAIL: etcd unreachable).
 */
int rdi_cluster_confirm(struct rdi_etcd *ec, const char *cluster,
    const char *follows, const char *sender, int64_t epoch, char *why,
    size_t whylen, struct rd_err *err);

#endif
