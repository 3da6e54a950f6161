/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * promote_check.c: what a promotion checks before it changes anything.
 * The options (rd_promote_opts_check), and the checks of the preflight
 * in the order of the table "checks": the unfinished promotion in the
 * journal, the snapshot, the store's role, the target, a partial
 * snapshot, the space for a restore and the primary.  A real promotion
 * runs the first four before it is journaled and the others in its
 * preflight step; the dry run runs them all and reports each, so that it
 * exits with the status the real run would.
 */
#include "config.h"

#include <sys/statvfs.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "promote_int.h"

/* ------------------------------------------------------------------ */
/* Options */

int
rd_time_parse(const char *s, double *out, struct rd_err *err)
{
	struct tm tm;
	const char *p;
	char *end;
	double x, frac = 0;
	long off = 0;
	int zone = 0;
	time_t t;

	if (s[0] == '@') {
		x = strtod(s + 1, &end);
		if (end != s + 1 && *end == '\0' && isfinite(x) && x >= 0) {
			*out = x;
			return 0;
		}
		goto bad;
	}
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%d", &tm);
	if (p == NULL || (*p != 'T' && *p != ' '))
		goto bad;
	p = strptime(p + 1, "%H:%M:%S", &tm);
	if (p == NULL)
		goto bad;
	if (*p == '.') {
		frac = strtod(p, &end);
		if (end == p + 1)
			goto bad;
		p = end;
	}
	if (*p == 'Z') {
		zone = 1;
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':' &&
	    strspn(p + 1, "0123456789") == 2 &&
	    strspn(p + 4, "0123456789") == 2) {
		zone = 1;
		off = (atol(p + 1) * 60 + atol(p + 4)) * 60 *
		    (*p == '-' ? -1 : 1);
		p += 6;
	}
	if (*p != '\0')
		goto bad;
	if (zone) {
		t = timegm(&tm) - off;
	} else {
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	if (t == (time_t)-1)
		goto bad;
	*out = (double)t + frac;
	return 0;
bad:
	return rd_err_set(err, RD_EUSAGE,
	    "invalid time '%s' (expected YYYY-MM-DDTHH:MM:SSZ, a local YYYY-MM-DD HH:MM:SS, or @UNIXTIME)",
	    s);
}

/* The options a resume takes from the journal: none may be given. */
static int
resume_opts_check(const struct rd_promote_opts *o, struct rd_err *err)
{
	struct rd_promote_opts def = RD_PROMOTE_OPTS_INIT;

	if (o->primary != NULL || o->fence != NULL || o->no_fence ||
	    o->validate != NULL || o->start != NULL || o->check != NULL ||
	    o->stop != NULL || o->heartbeat != NULL || o->failed_at != 0 ||
	    o->force || o->drill || o->quick_verify ||
	    o->check_timeout != def.check_timeout ||
	    o->hook_timeout != def.hook_timeout ||
	    o->probe_timeout != def.probe_timeout || o->etcd != NULL ||
	    o->cluster != NULL || o->etcd_timeout != def.etcd_timeout ||
	    o->switchover || o->primary_stop != NULL ||
	    o->final_snapshot != NULL)
		return rd_err_set(err, RD_EUSAGE,
		    "--resume takes its options from the journal: give only --snapshot (to fall back) and --allow-partial");
	return 0;
}

/* --etcd and --cluster: together, valid, and not for a drill. */
static int
etcd_opts_check(const struct rd_promote_opts *o, struct rd_err *err)
{
	struct rdi_etcd ec;

	if (o->etcd == NULL && o->cluster == NULL)
		return 0;
	if (rd_cluster_opts_check(o->etcd, o->cluster, err) == -1)
		return -1;
	if (o->drill)
		return rd_err_set(err, RD_EUSAGE,
		    "a drill claims nothing in etcd: drop --etcd and --cluster");
	return rdi_etcd_init(&ec, o->etcd, o->etcd_timeout, err);
}

/*
 * A switchover stops the primary itself: it needs both commands, and
 * neither a primary probe nor --force, a chosen snapshot or a failure
 * time (it promotes the final snapshot, and the primary did not fail).
 */
static int
switchover_opts_check(const struct rd_promote_opts *o, struct rd_err *err)
{
	if (!o->switchover) {
		if (o->primary_stop != NULL || o->final_snapshot != NULL)
			return rd_err_set(err, RD_EUSAGE,
			    "--primary-stop and --final-snapshot are for --switchover");
		return 0;
	}
	if (o->drill)
		return rd_err_set(err, RD_EUSAGE,
		    "a drill is no switchover: drop --switchover or --drill");
	if (o->primary_stop == NULL || o->final_snapshot == NULL)
		return rd_err_set(err, RD_EUSAGE,
		    "--switchover needs --primary-stop CMD (stop the primary's writers) and --final-snapshot CMD (take and ship the last snapshot)");
	if (o->primary != NULL || o->force)
		return rd_err_set(err, RD_EUSAGE,
		    "a switchover stops the primary itself: drop --primary and --force");
	if (o->version != 0 || o->failed_at != 0)
		return rd_err_set(err, RD_EUSAGE,
		    "a switchover promotes the final snapshot: drop --snapshot and --failed-at");
	return 0;
}

/* What a drill, and what a promotion, must and must not be given. */
static int
kind_opts_check(const struct rd_promote_opts *o, struct rd_err *err)
{
	if (o->drill) {
		if (o->primary != NULL || o->fence != NULL || o->no_fence ||
		    o->force)
			return rd_err_set(err, RD_EUSAGE,
			    "a drill does not check the primary, fence or force: drop --primary, --fence, --no-fence and --force");
		if (o->failed_at != 0)
			return rd_err_set(err, RD_EUSAGE,
			    "a drill has no failure time: drop --failed-at");
		return 0;
	}
	if (o->fence != NULL && o->no_fence)
		return rd_err_set(err, RD_EUSAGE,
		    "--fence and --no-fence do not go together");
	if (o->fence == NULL && !o->no_fence)
		return rd_err_set(err, RD_EUSAGE,
		    "a promotion needs --fence CMD to cut the old primary off, or --no-fence to promote without one");
	if (o->primary == NULL && !o->force && !o->switchover)
		return rd_err_set(err, RD_EUSAGE,
		    "a promotion needs --primary PROBE to check that the primary is down, or --force to skip that check");
	if (o->failed_at > rd_now() + 60)
		return rd_err_set(err, RD_EUSAGE,
		    "--failed-at is in the future");
	return 0;
}

int
rd_promote_opts_check(const struct rd_promote_opts *o, struct rd_err *err)
{
	const char *spec[2] = { o->primary, o->check }, *hb;
	struct rd_probe *p = NULL;
	int i;

	if (!(o->check_timeout > 0) || !(o->hook_timeout > 0) ||
	    !(o->probe_timeout > 0) || !isfinite(o->check_timeout) ||
	    !isfinite(o->hook_timeout) || !isfinite(o->probe_timeout))
		return rd_err_set(err, RD_EUSAGE,
		    "timeouts must be more than 0 seconds");
	if (o->resume)
		return resume_opts_check(o, err);
	if (switchover_opts_check(o, err) == -1 ||
	    kind_opts_check(o, err) == -1 || etcd_opts_check(o, err) == -1)
		return -1;
	if (o->start != NULL && o->stop == NULL)
		return rd_err_set(err, RD_EUSAGE,
		    "--start needs --stop CMD to stop what it started (on --abort, a fall-back and after a drill); give --stop true if it leaves nothing running");
	if (o->stop != NULL && o->start == NULL)
		return rd_err_set(err, RD_EUSAGE,
		    "--stop without --start: there is nothing to stop");
	hb = o->heartbeat;
	while (hb != NULL && hb[0] == '.' && hb[1] == '/')
		hb += 2;
	if (hb != NULL && (hb[0] == '/' || !rdi_path_safe(hb)))
		return rd_err_set(err, RD_EUSAGE,
		    "invalid --heartbeat '%s' (expected the path of a file inside the snapshot)",
		    o->heartbeat);
	for (i = 0; i < 2; i++) {
		if (spec[i] == NULL)
			continue;
		if (rd_probe_parse(spec[i], &p, err) == -1)
			return -1;
		rd_probe_free(p);
		p = NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers */

int64_t
rdi_pc_older(struct rd_store *st, int64_t id, struct rd_err *err)
{
	sqlite3_stmt *q = NULL;
	int64_t v = 0;
	int r;

	if (rdi_db_prepare(st->db,
	        "SELECT max(id) FROM snapshots WHERE"
	        " state = 'complete' AND id < ?",
	        &q, err) == -1)
		return -1;
	r = rdi_db_bind(st->db, q, err, "i", (int64_t)id);
	if (r == 0)
		r = rdi_db_step(st->db, q, err);
	if (r == 1)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return r == -1 ? -1 : v;
}

/* "1.5 MiB" */
static const char *
human(double n, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB",
		"PiB", "EiB", "ZiB" };
	int i = 0;

	while (n >= 1024 && i < 7) {
		n /= 1024;
		i++;
	}
	snprintf(buf, len, i == 0 ? "%.0f %s" : "%.1f %s", n, unit[i]);
	return buf;
}

/* UTC "2026-11-28T03:12:04Z" */
static const char *
utc(double t, char *buf, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

int
rdi_pc_probe(struct rdi_pctx *c, const char *spec, char *why, size_t whylen,
    struct rd_err *err)
{
	struct rd_probe *p = NULL;
	struct rd_probe_result r;
	int ret = -1;

	if (rd_probe_parse(spec, &p, err) == -1)
		return -1;
	if (rd_probe_round(&p, 1, c->o.probe_timeout, &r, err) == -1)
		goto out;
	snprintf(why, whylen, "%s", r.reason);
	if (r.state == RD_PROBE_ERROR) {
		rd_err_set(err, r.code != RD_OK ? r.code : RD_EINTERNAL,
		    "probe %s could not run: %s", spec, r.reason);
		goto out;
	}
	ret = r.state == RD_PROBE_UP;
out:
	rd_probe_free(p);
	return ret;
}

struct heartbeat {
	int type;
	int64_t mtime_ns;
};

static int
heartbeat_one(void *arg, const struct rd_entry *e)
{
	struct heartbeat *h = arg;

	h->type = e->type;
	h->mtime_ns = e->mtime_ns;
	return 1;
}

/* The modification time of the --heartbeat file in the snapshot. */
static int
heartbeat_time(struct rdi_pctx *c, double *t, struct rd_err *err)
{
	struct heartbeat h = { 0, 0 };

	if (rd_snap_entries(c->st, c->si.id, c->o.heartbeat, heartbeat_one, &h,
	        err) == -1) {
		if (err->code == RD_ENOENT)
			rd_err_set(err, RD_ENOENT,
			    "--heartbeat: snapshot %lld has no path '%s'",
			    (long long)c->si.id, c->o.heartbeat);
		return -1;
	}
	if (h.type != RD_TYPE_FILE)
		return rd_err_set(err, RD_ENOENT,
		    "--heartbeat '%s' is not a file in snapshot %lld",
		    c->o.heartbeat, (long long)c->si.id);
	*t = (double)h.mtime_ns / 1e9;
	return 0;
}

/* ------------------------------------------------------------------ */
/* The checks */

static int
ck_journal(struct rdi_pctx *c, char *d, size_t n, struct rd_err *err)
{
	int s;

	(void)err;
	if (c->blocked)
		return 1;
	if (!c->resumed) {
		snprintf(d, n, "no unfinished promotion or drill");
		return 0;
	}
	snprintf(d, n, "continues %s %lld into '%s' (done:",
	    c->o.drill ? "drill" : "promotion", (long long)c->id, c->target);
	for (s = 0; s < RD_PROMOTE_NSTEPS; s++)
		if (c->done[s])
			snprintf(d + strlen(d), n - strlen(d), " %s",
			    rd_promote_step_name(s));
	snprintf(d + strlen(d), n - strlen(d), ")");
	return 0;
}

/* RPO, the newest data and the data given up, for the snapshot. */
static void
data_lost(struct rdi_pctx *c, double hb)
{
	struct rd_promote_result *res = c->res;
	double end;

	res->rpo = c->t0 - (double)c->si.finished;
	res->data_time = hb > 0 ? hb : (double)c->si.finished;
	res->failed_at = c->o.failed_at;
	res->exact = c->o.failed_at != 0;
	res->heartbeat = hb > 0;
	end = res->exact ? res->failed_at : c->t0;
	res->given_up = end > res->data_time ? end - res->data_time : 0;
}

static int
ck_snapshot(struct rdi_pctx *c, char *d, size_t n, struct rd_err *err)
{
	int64_t v = c->fall_to != 0 ? c->fall_to
	    : c->resumed            ? c->row.version
	                            : c->o.version;
	double hb = 0;
	char t[32];

	if (rd_snap_get(c->st, v, &c->si, err) == -1)
		return -1;
	c->have_si = 1;
	c->res->version = c->si.id;
	c->res->snap_time = c->si.finished;
	c->res->partial = c->si.partial;
	c->res->inconsistent = c->si.inconsistent;
	if (c->o.heartbeat != NULL && heartbeat_time(c, &hb, err) == -1)
		return -1;
	data_lost(c, hb);
	snprintf(d, n, "snapshot %lld, finished %s, %.0f s before the start",
	    (long long)c->si.id, utc((double)c->si.finished, t, sizeof(t)),
	    c->res->rpo);
	if (hb > 0)
		snprintf(d + strlen(d), n - strlen(d), "; heartbeat '%s' at %s",
		    c->o.heartbeat, utc(hb, t, sizeof(t)));
	return 0;
}

static int
ck_role(struct rdi_pctx *c, char *d, size_t n, struct rd_err *err)
{
	char mark[40];

	if (c->o.drill) {
		snprintf(d, n, "drill: the store's role does not matter");
		return 2;
	}
	if (c->resumed) {
		snprintf(d, n, "checked when the promotion began");
		return 2;
	}
	if (!c->st->info.standby) {
		snprintf(c->res->message, sizeof(c->res->message),
		    "store '%s' is not a standby: it is a primary (promoted already, or never a standby); nothing to promote",
		    c->st->path);
		return 1;
	}
	/* rdship rejoin: its snapshots past the fork point are not yet gone */
	if (rdi_meta_get(c->st->db, "rejoin", mark, sizeof(mark), err) == -1)
		return -1;
	if (mark[0] != '\0') {
		snprintf(c->res->message, sizeof(c->res->message),
		    "store '%s' is rejoining %s and has not had its first push from it: it still holds its own snapshots after the fork point; nothing to promote",
		    c->st->path, c->st->info.origin);
		return 1;
	}
	snprintf(d, n, "'%s' is a standby, epoch %lld", c->st->path,
	    (long long)c->st->info.epoch);
	return 0;
}

static int
ck_target(struct rdi_pctx *c, char *d, size_t n, struct rd_err *err)
{
	if (c->resumed) {
		snprintf(d, n, "continues into '%s'", c->target);
		return 0;
	}
	if (c->o.drill && rdi_pt_exists(c->target))
		return rd_err_set(err, RD_ECANTCREAT,
		    "drill target '%s' exists: give a new scratch path",
		    c->target_arg);
	if (rdi_pt_exists(c->staging))
		return rd_err_set(err, RD_ECANTCREAT,
		    "'%s' exists and no unfinished promotion owns it: move it away (the new tree is built there)",
		    c->staging);
	if (rdi_pt_exists(c->target))
		snprintf(d, n,
		    "'%s' exists: it will be kept as %s.pre-promote-TIMESTAMP",
		    c->target, c->target);
	else
		snprintf(d, n, "'%s' does not exist yet", c->target);
	return 0;
}

/* A partial or inconsistent snapshot needs --allow-partial. */
static int
ck_partial(struct rdi_pctx *c, char *d, size_t n, struct rd_err *err)
{
	char what[256];

	(void)err;
	if (!c->have_si || (c->done[RDI_S_PREFLIGHT] && c->fall_to == 0)) {
		snprintf(d, n, "%s",
		    c->have_si ? "checked by an earlier run" : "no snapshot");
		return 2;
	}
	if (c->si.partial == 0 && c->si.inconsistent == 0) {
		snprintf(d, n, "snapshot %lld is complete and consistent",
		    (long long)c->si.id);
		return 0;
	}
	snprintf(what, sizeof(what),
	    "snapshot %lld is PARTIAL: %lld paths kept an older version, %lld files changed while they were read",
	    (long long)c->si.id, (long long)c->si.partial,
	    (long long)c->si.inconsistent);
	if (c->o.allow_partial) {
		snprintf(d, n, "%s (--allow-partial)", what);
		return 0;
	}
	snprintf(c->res->message, sizeof(c->res->message),
	    "%s; promote it only with --allow-partial, or choose a complete one with --snapshot N (see rdsnap list)",
	    what);
	return 1;
}

static int
ck_space(struct rdi_pctx *c, char *d, size_t n, struct rd_err *err)
{
	struct statvfs sv;
	char dir[PATH_MAX], a[32], b[32], replica[1100];
	double need, avail;
	int64_t files;

	if (!c->have_si || (c->done[RDI_S_PREFLIGHT] && c->fall_to == 0)) {
		snprintf(d, n, "%s",
		    c->have_si ? "checked by an earlier run" : "no snapshot");
		return 2;
	}
	if (rdi_pc_find_replica(c, replica, sizeof(replica), err) == -1)
		return -1;
	if (replica[0] != '\0') {
		snprintf(d, n,
		    "the warm replica is moved into place: no space needed");
		return 0;
	}
	snprintf(dir, sizeof(dir), "%s", c->target);
	if (statvfs(dirname(dir), &sv) == -1)
		return rd_err_sys(err, RD_EIO,
		    "cannot stat the file system of '%s'", c->target);
	if (rdi_pt_need(c->st, c->si.id, (int64_t)sv.f_frsize, &need, &files,
	        err) == -1)
		return -1;
	avail = (double)sv.f_bavail * (double)sv.f_frsize;
	if (need > avail ||
	    (sv.f_files != 0 && (double)files > (double)sv.f_favail)) {
		snprintf(c->res->message, sizeof(c->res->message),
		    "not enough space in '%.1000s' to restore snapshot %lld: it needs %s and %lld inodes, %s and %llu are free",
		    dir, (long long)c->si.id, human(need, a, sizeof(a)),
		    (long long)files, human(avail, b, sizeof(b)),
		    (unsigned long long)sv.f_favail);
		return 1;
	}
	snprintf(d, n, "snapshot %lld needs %s, %s are free in '%s'",
	    (long long)c->si.id, human(need, a, sizeof(a)),
	    human(avail, b, sizeof(b)), dir);
	return 0;
}

static int
ck_primary(struct rdi_pctx *c, char *d, size_t n, struct rd_err *err)
{
	char why[256];
	int r;

	if (c->o.drill || c->done[RDI_S_PREFLIGHT]) {
		snprintf(d, n, "%s",
		    c->o.drill ? "drill: the primary is not checked"
		               : "checked by an earlier run");
		return 2;
	}
	if (c->o.switchover) {
		snprintf(d, n,
		    "switchover: the primary is up until --primary-stop stops it");
		return 0;
	}
	if (c->o.primary == NULL) {
		snprintf(d, n,
		    "the primary was NOT checked (--force, no --primary)");
		return 0;
	}
	r = rdi_pc_probe(c, c->o.primary, why, sizeof(why), err);
	if (r == -1)
		return -1;
	if (r == 1 && !c->o.force) {
		snprintf(c->res->message, sizeof(c->res->message),
		    "the primary %s is up: refusing to promote (use --force if you are sure it is not serving)",
		    c->o.primary);
		return 1;
	}
	snprintf(d, n,
	    r == 1 ? "primary %.200s is UP, promoting anyway (--force)"
	           : "primary %.200s is down (%.250s)",
	    c->o.primary, why);
	return 0;
}

/*
 * The claim of the cluster in etcd (--etcd): last of the checks, so that
 * nothing else refuses the promotion after it; a dry run only reads.
 */
static int
ck_etcd(struct rdi_pctx *c, char *d, size_t n, struct rd_err *err)
{
	if (c->o.etcd == NULL) {
		snprintf(d, n, "no --etcd: this standby decides alone");
		return 2;
	}
	if (c->o.drill) {
		snprintf(d, n, "drill: nothing is claimed");
		return 2;
	}
	if (rdi_pc_claim(c, c->o.dry_run, err) != 0)
		return 1;
	snprintf(d, n, "%s", c->res->message);
	c->res->message[0] = '\0';
	return 0;
}

/* clang-format off */
static const struct check {
	const char *name;
	int (*fn)(struct rdi_pctx *, char *, size_t, struct rd_err *);
} checks[RDI_CK_N] = {
	{ "journal",  ck_journal },
	{ "snapshot", ck_snapshot },
	{ "role",     ck_role },
	{ "target",   ck_target },
	{ "partial",  ck_partial },
	{ "space",    ck_space },
	{ "primary",  ck_primary },
	{ "etcd",     ck_etcd },
};
/* clang-format on */

/* Tell the caller of a dry run what check "i" found ("r" as it gave). */
static void
report(struct rdi_pctx *c, int i, int r, const char *d,
    const struct rd_err *err)
{
	const char *outcome = r == 0 ? "ok" : r == 2 ? "skipped" : "failed";
	const char *detail = r == 1 ? c->res->message : r == -1 ? err->msg : d;

	if (c->o.checked != NULL)
		c->o.checked(c->o.step_arg, checks[i].name, outcome, 0, detail);
}

int
rdi_pc_checks(struct rdi_pctx *c, int from, int to, struct rd_err *err)
{
	struct rd_err first_err = RD_ERR_INIT;
	char d[1024], msg[sizeof(c->res->message)];
	int i, r, first = 0, code = 0;

	if (from == RDI_CK_PARTIAL)
		c->preflight[0] = '\0';
	for (i = from; i < to; i++) {
		d[0] = '\0';
		if (i == RDI_CK_ETCD && c->o.etcd == NULL)
			continue; /* not a cluster: no line for it */
		r = checks[i].fn(c, d, sizeof(d), err);
		if (c->o.dry_run)
			report(c, i, r, d, err);
		if (r == 0 && i >= RDI_CK_PARTIAL)
			snprintf(c->preflight + strlen(c->preflight),
			    sizeof(c->preflight) - strlen(c->preflight), "%s%s",
			    c->preflight[0] != '\0' ? "; " : "", d);
		if (r != 1 && r != -1)
			continue;
		if (!c->o.dry_run)
			return r;
		if (first == 0) {
			first = r;
			first_err = *err;
			code = c->res->refused_code;
			snprintf(msg, sizeof(msg), "%s", c->res->message);
		}
		rd_err_clear(err);
	}
	if (first != 0) {
		*err = first_err;
		c->res->refused_code = code;
		snprintf(c->res->message, sizeof(c->res->message), "%s", msg);
	}
	return first;
}
