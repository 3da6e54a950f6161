/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * claim.c: a standby claims its cluster's leadership in etcd before it
 * fences (rdpromote --etcd --cluster).
 *
 * The claim succeeds only if the key still holds what the standby read:
 * absent (the first claim of the cluster) or naming the primary the
 * standby follows.  Of two standbys racing, etcd's compare-and-swap lets
 * exactly one through; the other reads the winner in the failed
 * transaction's answer and is refused.  The claim's revision is the
 * fencing token; the epoch written with it is max(local + 1, token), so
 * epochs rise across the cluster whichever standby wins.
 *
 * A claim is two writes (the key, then the epoch into it).  A run that
 * dies between them, or after them but before it fenced, leaves etcd
 * naming this store: its rerun finds its own claim and continues it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cluster_int.h"

/* Write the claim's epoch into the key the claim took at "token". */
static int
confirm(struct rdi_etcd *ec, const char *key, const char *self,
    const char *prev, int64_t local, struct rdi_claim *c, struct rd_err *err)
{
	struct rdi_kv now;
	char val[RDI_KV_VALUE_MAX + 1];
	int won = 0;

	c->epoch = local + 1 > c->token ? local + 1 : c->token;
	snprintf(val, sizeof(val), "%s %lld %s", self, (long long)c->epoch,
	    prev[0] != '\0' ? prev : "-");
	if (rdi_etcd_cas(ec, key, c->token, val, &won, &now, err) == -1)
		return -1;
	if (!won) {
		snprintf(c->message, sizeof(c->message),
		    "the claim was lost mid-way: etcd key '%s' changed after this standby took it (now: %.80s): nothing was changed here",
		    key, now.found ? now.value : "absent");
		return 1;
	}
	snprintf(c->message, sizeof(c->message),
	    "etcd names this store the primary (fencing token %lld, epoch %lld)",
	    (long long)c->token, (long long)c->epoch);
	return 0;
}

/* The key names this store already: an earlier run's claim. */
static int
again(struct rdi_etcd *ec, const char *key, const char *self,
    const struct rdi_leader *l, const struct rdi_kv *kv, int64_t local,
    int dry_run, struct rdi_claim *c, struct rd_err *err)
{
	c->again = 1;
	snprintf(c->was, sizeof(c->was), "%s", l->prev);
	if (l->epoch != 0) {
		c->token = kv->mod_rev;
		c->epoch = l->epoch > local ? l->epoch : local;
		snprintf(c->message, sizeof(c->message),
		    "etcd already names this store the primary (epoch %lld): an earlier run claimed it",
		    (long long)l->epoch);
		return 0;
	}
	c->token = kv->mod_rev;
	if (dry_run) {
		c->epoch = local + 1 > c->token ? local + 1 : c->token;
		snprintf(c->message, sizeof(c->message),
		    "etcd names this store, claimed at revision %lld by an earlier run that did not confirm it: would confirm epoch %lld",
		    (long long)c->token, (long long)c->epoch);
		return 0;
	}
	return confirm(ec, key, self, l->prev, local, c, err);
}

int
rdi_cluster_claim(struct rdi_etcd *ec, const char *cluster, const char *self,
    const char *follows, int64_t local, int dry_run, struct rdi_claim *c,
    struct rd_err *err)
{
	struct rdi_leader l, now_l;
	struct rdi_kv kv, now;
	char key[128], val[RDI_KV_VALUE_MAX + 1];
	int r, won = 0;

	memset(c, 0, sizeof(*c));
	rdi_leader_key(cluster, key, sizeof(key));
	r = rdi_leader_get(ec, cluster, &l, &kv, err);
	if (r == -1)
		return -1;
	if (r == 1 && strcmp(l.uuid, self) == 0)
		return again(ec, key, self, &l, &kv, local, dry_run, c, err);
	if (r == 1 && (follows[0] == '\0' || strcmp(l.uuid, follows) != 0)) {
		snprintf(c->message, sizeof(c->message),
		    "etcd names %s (epoch %lld) as the primary of cluster '%s', but this standby follows %s: refusing to promote",
		    l.uuid, (long long)l.epoch, cluster,
		    follows[0] != '\0' ? follows : "no primary yet");
		return 1;
	}
	if (r == 1)
		snprintf(c->was, sizeof(c->was), "%s", l.uuid);
	if (dry_run && r == 1) {
		snprintf(c->message, sizeof(c->message),
		    "etcd names %s, the primary this standby follows (epoch %lld, revision %lld): the claim would take it over",
		    l.uuid, (long long)l.epoch, (long long)kv.mod_rev);
		return 0;
	}
	if (dry_run) {
		snprintf(c->message, sizeof(c->message),
		    "etcd names no primary for cluster '%s' yet: this would be its first claim",
		    cluster);
		return 0;
	}
	snprintf(val, sizeof(val), "%s 0 %s", self,
	    c->was[0] != '\0' ? c->was : "-");
	if (rdi_etcd_cas(ec, key, r == 1 ? kv.mod_rev : 0, val, &won, &now,
	        err) == -1)
		return -1;
	if (!won) {
		if (now.found &&
		    rdi_leader_parse(now.value, now.vlen, &now_l) == 0)
			snprintf(c->message, sizeof(c->message),
			    "another standby claimed cluster '%s' first: etcd now names %s: refusing to promote, nothing was changed",
			    cluster, now_l.uuid);
		else
			snprintf(c->message, sizeof(c->message),
			    "the claim of cluster '%s' lost a race: etcd key '%s' changed: refusing to promote, nothing was changed",
			    cluster, key);
		return 1;
	}
	c->token = now.mod_rev;
	return confirm(ec, key, self, c->was, local, c, err);
}

int
rdi_cluster_confirm(struct rdi_etcd *ec, const char *cluster,
    const char *follows, const char *sender, int64_t epoch, char *why,
    size_t whylen, struct rd_err *err)
{
	struct rdi_leader l;
	struct rdi_kv kv;
	int r;

	r = rdi_leader_get(ec, cluster, &l, &kv, err);
	if (r == -1)
		return -1;
	if (r == 0) {
		snprintf(why, whylen,
		    "bundle comes from store %s, but etcd names no primary for cluster '%s'",
		    sender, cluster);
		return 0;
	}
	if (strcmp(l.uuid, sender) != 0 || l.epoch != epoch ||
	    strcmp(l.prev, follows) != 0) {
		snprintf(why, whylen,
		    "bundle comes from store %s at epoch %lld, but etcd names %s at epoch %lld (after %s) as the primary of cluster '%s'",
		    sender, (long long)epoch, l.uuid, (long long)l.epoch,
		    l.prev[0] != '\0' ? l.prev : "none", cluster);
		return 0;
	}
	return 1;
}
