/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * verify.c: checking a store.  The fast check proves that the catalog is
 * sound (the database, every content its rows name, the rows' own
 * invariants: rowcheck.c), that every pack it names is there and long
 * enough, and that every object header, of contents and signatures, is
 * where the catalog says; --read-data also rebuilds every content and
 * checks its SHA-256, and reads every signature whole.  Each problem is
 * reported with the snapshots and paths that it damages.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"

#define USES_MAX 10

struct vctx {
	struct rd_store *st;
	const struct rd_verify_opts *opts;
	struct rd_verify_result *res;
	sqlite3_stmt *uses;
	int64_t newest;
};

/*
 * The snapshots and paths that need content "sha": up to USES_MAX ranges
 * in "u" ("*n" of them, paths kept in "names"), "*more" if there are
 * others.
 */
static int
find_uses(struct vctx *c, const unsigned char *sha, struct rd_use *u,
    struct rdi_buf *names, int *n, int *more, struct rd_err *err)
{
	size_t off[USES_MAX], len;
	int r, i;

	*n = 0;
	*more = 0;
	names->len = 0;
	if (rdi_db_bind(c->st->db, c->uses, err, "h", sha) == -1)
		return -1;
	while ((r = rdi_db_step(c->st->db, c->uses, err)) == 1) {
		if (*n == USES_MAX) {
			*more = 1;
			break;
		}
		len = (size_t)sqlite3_column_bytes(c->uses, 0);
		off[*n] = names->len;
		if (rdi_buf_append(names, sqlite3_column_blob(c->uses, 0), len,
		        err) == -1 ||
		    rdi_buf_append(names, "", 1, err) == -1)
			return -1;
		u[*n].first = sqlite3_column_int64(c->uses, 1);
		u[*n].last = sqlite3_column_type(c->uses, 2) == SQLITE_NULL
		    ? c->newest
		    : sqlite3_column_int64(c->uses, 2);
		(*n)++;
	}
	if (r == -1)
		return -1;
	/* the buffer has stopped moving: point into it */
	for (i = 0; i < *n; i++)
		u[i].path = (const char *)names->data + off[i];
	return 0;
}

static int
report(struct vctx *c, const char *what, const unsigned char *sha,
    struct rd_err *err)
{
	struct rdi_buf names = { NULL, 0, 0 };
	struct rd_use u[USES_MAX];
	int n = 0, more = 0;

	c->res->damaged++;
	if (c->opts->damage == NULL)
		return 0;
	if (sha != NULL && find_uses(c, sha, u, &names, &n, &more, err) == -1) {
		rdi_buf_release(&names);
		return -1;
	}
	c->opts->damage(c->opts->damage_arg, what, sha, u, n, more);
	rdi_buf_release(&names);
	return 0;
}

/*
 * The rows of every snapshot can be restored (rowcheck.c: the first bad
 * row is named), and every content and signature row is possible.
 */
static int
check_rows(struct vctx *c, struct rd_err *err)
{
	static const char sql_bad[] =
	    "SELECT sha, 'its size, length or offset is impossible' FROM"
	    " contents WHERE size < 0 OR len < 0 OR off < 0 OR size > ?1"
	    " OR len > ?1 OR off > ?1"
	    " UNION ALL SELECT sha, 'its delta chain is too long' FROM contents"
	    " WHERE depth < 0 OR depth >= ?2"
	    " UNION ALL SELECT c.sha, 'its delta base is not in the catalog'"
	    " FROM contents c WHERE c.kind = 1 AND NOT EXISTS (SELECT 1 FROM"
	    " contents b WHERE b.sha = c.base)"
	    " UNION ALL SELECT c.sha, 'its pack is not in the catalog' FROM"
	    " contents c WHERE NOT EXISTS (SELECT 1 FROM packs p"
	    " WHERE p.id = c.pack)"
	    " UNION ALL SELECT s.sha, 'its signature''s pack or place is not in"
	    " the catalog' FROM signatures s WHERE s.off < 0 OR s.len < 0"
	    " OR s.block < 1 OR NOT EXISTS (SELECT 1 FROM packs p"
	    " WHERE p.id = s.pack)";
	struct rd_err e2 = RD_ERR_INIT;
	sqlite3_stmt *s = NULL;
	char what[600], hex[2 * RD_HASH_LEN + 1];
	const unsigned char *sha;
	int r, ret = -1;

	if (rdi_rows_check(c->st->db, 0, c->newest, "catalog", &e2) == -1) {
		if (e2.code != RD_ECORRUPT) {
			*err = e2;
			return -1;
		}
		if (report(c, e2.msg, NULL, err) == -1)
			return -1;
	}
	if (rdi_db_query(c->st->db, &s, err, sql_bad, "ii",
	        (int64_t)RDI_MAX_SIZE, (int64_t)RDI_MAX_CHAIN) == -1)
		return -1;
	while ((r = rdi_db_step(c->st->db, s, err)) == 1) {
		sha = sqlite3_column_blob(s, 0);
		if (sqlite3_column_bytes(s, 0) != RD_HASH_LEN)
			snprintf(what, sizeof(what),
			    "catalog: a content has a malformed hash");
		else {
			rd_hex(sha, RD_HASH_LEN, hex);
			snprintf(what, sizeof(what), "content %s: %s", hex,
			    (const char *)sqlite3_column_text(s, 1));
		}
		if (report(c, what,
		        sqlite3_column_bytes(s, 0) == RD_HASH_LEN ? sha : NULL,
		        err) == -1)
			goto out;
	}
	if (r == 0)
		ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

static int
check_catalog(struct vctx *c, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	const unsigned char *msg;
	char what[512];
	int r, ret = -1;

	if (rdi_db_prepare(c->st->db, "PRAGMA quick_check", &s, err) == -1)
		return -1;
	for (;;) {
		r = rdi_db_step(c->st->db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		msg = sqlite3_column_text(s, 0);
		if (msg != NULL && strcmp((const char *)msg, "ok") != 0) {
			snprintf(what, sizeof(what), "catalog: %s", msg);
			if (report(c, what, NULL, err) == -1)
				goto out;
		}
	}
	sqlite3_finalize(s);
	s = NULL;
	/* every content an entry names must exist */
	if (rdi_db_prepare(c->st->db,
	        "SELECT DISTINCT e.sha FROM entries e"
	        " LEFT JOIN contents c ON c.sha = e.sha"
	        " WHERE e.sha IS NOT NULL AND c.sha IS NULL",
	        &s, err) == -1)
		return -1;
	for (;;) {
		char hex[2 * RD_HASH_LEN + 1];
		unsigned char sha[RD_HASH_LEN];

		r = rdi_db_step(c->st->db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		if (sqlite3_column_bytes(s, 0) != RD_HASH_LEN) {
			if (report(c,
			        "catalog: an entry has a malformed content hash",
			        NULL, err) == -1)
				goto out;
			continue;
		}
		memcpy(sha, sqlite3_column_blob(s, 0), RD_HASH_LEN);
		rd_hex(sha, RD_HASH_LEN, hex);
		snprintf(what, sizeof(what),
		    "content %s is missing from the catalog", hex);
		if (report(c, what, sha, err) == -1)
			goto out;
	}
	ret = check_rows(c, err);
out:
	sqlite3_finalize(s);
	return ret;
}

int
rd_verify_selects(const char *name, int subset, uint64_t seed)
{
	struct rd_err err = RD_ERR_INIT;
	unsigned char buf[8 + 64], sha[RD_HASH_LEN];
	size_t n = strlen(name);

	if (subset <= 0 || subset >= 100)
		return 1;
	if (n > sizeof(buf) - 8)
		n = sizeof(buf) - 8;
	rdi_put_le64(buf, seed);
	memcpy(buf + 8, name, n);
	if (rd_sha256_buf(buf, 8 + n, sha, &err) == -1)
		return 1; /* cannot hash: check it rather than skip it */
	return rdi_get_le64(sha) % 10000 < (uint64_t)subset * 100;
}

/* 1 if the contents of pack "name" are rebuilt in this run. */
static int
selected(const struct vctx *c, const char *name)
{
	return rd_verify_selects(name != NULL ? name : "", c->opts->subset,
	    c->opts->seed);
}

/* Packs: present and at least as long as the catalog says. */
static int
check_packs(struct vctx *c, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct stat sb;
	char path[64], what[256];
	const char *name;
	int r, ret = -1;

	if (rdi_db_prepare(c->st->db, "SELECT name, size FROM packs", &s,
	        err) == -1)
		return -1;
	for (;;) {
		r = rdi_db_step(c->st->db, s, err);
		if (r == -1)
			goto out;
		if (r == 0)
			break;
		c->res->packs++;
		name = (const char *)sqlite3_column_text(s, 0);
		if (c->opts->read_data && selected(c, name))
			c->res->packs_read++;
		snprintf(path, sizeof(path), "packs/%s.pack",
		    name != NULL ? name : "");
		if (fstatat(c->st->dfd, path, &sb, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(sb.st_mode)) {
			snprintf(what, sizeof(what), "pack %s is missing",
			    name != NULL ? name : "?");
			if (report(c, what, NULL, err) == -1)
				goto out;
			continue;
		}
		if (sb.st_size < sqlite3_column_int64(s, 1)) {
			snprintf(what, sizeof(what),
			    "pack %s is truncated (%lld of %lld bytes)", name,
			    (long long)sb.st_size,
			    (long long)sqlite3_column_int64(s, 1));
			if (report(c, what, NULL, err) == -1)
				goto out;
		}
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	return ret;
}

static int
count_orphan(void *arg, int pfd, const char *file, int known, int64_t size,
    struct rd_err *err)
{
	struct vctx *c = arg;

	(void)pfd;
	(void)file;
	(void)size;
	(void)err;
	if (!known)
		c->res->orphan_packs++;
	return 0;
}

/* The line that reports content "hex" as damaged, from the error "e". */
static void
damage_line(const char *hex, const struct rd_err *e, char *what, size_t len)
{
	if (strncmp(e->msg, "content ", 8) == 0 &&
	    strncmp(e->msg + 8, hex, 2 * RD_HASH_LEN) == 0)
		snprintf(what, len, "%s", e->msg);
	else if (strncmp(e->msg, "content ", 8) == 0)
		/* a base of its delta chain is damaged */
		snprintf(what, len, "content %s: its delta base is damaged: %s",
		    hex, e->msg);
	else
		snprintf(what, len, "content %s: %s", hex, e->msg);
}

/* 1 if the error "e" means damaged data rather than a failing check. */
static int
is_damage(const struct rd_err *e)
{
	return e->code == RD_ECORRUPT || e->code == RD_EIO ||
	    e->code == RD_ENOENT;
}

static void
progress(struct vctx *c, double *last)
{
	if (c->opts->progress != NULL && rd_monotonic() - *last >= 0.1) {
		*last = rd_monotonic();
		c->opts->progress(c->opts->progress_arg, c->res->contents,
		    c->res->bytes_checked);
	}
}

static const char sql_contents[] =
    "SELECT c.sha, c.kind, c.size, c.off, c.len, p.name"
    " FROM contents c JOIN packs p ON p.id = c.pack ORDER BY c.pack, c.off";

/*
 * --read-data rebuilds the contents of at least BIG_CONTENT bytes first,
 * largest (and deepest) first, then the others in the order of the packs:
 * a database rebuilt last would keep one core busy after the other has
 * finished.  Both orders are fixed by the catalog, so reports are too.
 */
#define BIG_CONTENT (INT64_C(16) << 20)

static const char *const sql_rebuild[] = {
	"SELECT c.sha, c.kind, c.size, c.off, c.len, p.name"
	" FROM contents c JOIN packs p ON p.id = c.pack WHERE c.size >= ?1"
	" ORDER BY c.size DESC, c.depth DESC, c.pack, c.off",
	"SELECT c.sha, c.kind, c.size, c.off, c.len, p.name"
	" FROM contents c JOIN packs p ON p.id = c.pack"
	" WHERE (c.size >= ?1) IS NOT 1 ORDER BY c.pack, c.off",
};

/* Every content's object header, read where the catalog says. */
static int
check_headers(struct vctx *c, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct rdi_packcache *pc;
	struct rdi_objhdr h;
	struct rd_err e2 = RD_ERR_INIT;
	unsigned char sha[RD_HASH_LEN];
	char hex[2 * RD_HASH_LEN + 1], what[600];
	const char *name;
	int fd, r, ret = -1;
	double last = 0;

	pc = rdi_packcache_new(c->st);
	if (pc == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (rdi_db_prepare(c->st->db, sql_contents, &s, err) == -1)
		goto out;
	while ((r = rdi_db_step(c->st->db, s, err)) == 1) {
		if (!c->opts->read_data) {
			/* else counted as they are rebuilt */
			c->res->contents++;
			progress(c, &last);
		}
		if (sqlite3_column_bytes(s, 0) != RD_HASH_LEN)
			continue;
		memcpy(sha, sqlite3_column_blob(s, 0), RD_HASH_LEN);
		name = (const char *)sqlite3_column_text(s, 5);
		rd_err_clear(&e2);
		fd = rdi_packcache_fd(pc, name != NULL ? name : "", &e2);
		if (fd != -1 &&
		    rdi_obj_read(fd, name, sqlite3_column_int64(s, 3), sha,
		        sqlite3_column_int(s, 1), NULL, NULL, &h, &e2) == 0) {
			if (h.len == sqlite3_column_int64(s, 4) &&
			    h.raw_size == sqlite3_column_int64(s, 2))
				continue;
			rd_err_set(&e2, RD_ECORRUPT,
			    "object header disagrees with the catalog");
		} else if (c->opts->read_data && is_damage(&e2)) {
			continue; /* the rebuild names it, with its cause */
		}
		if (!is_damage(&e2)) {
			*err = e2;
			goto out;
		}
		rd_hex(sha, RD_HASH_LEN, hex);
		damage_line(hex, &e2, what, sizeof(what));
		if (report(c, what, sha, err) == -1)
			goto out;
	}
	if (r == 0)
		ret = 0;
out:
	sqlite3_finalize(s);
	rdi_packcache_free(pc);
	return ret;
}

/*
 * Every stored signature: its header where the catalog says, and with
 * "whole", its payload (CRC-32) and its librsync structure.
 */
static int
check_sigs(struct vctx *c, int whole, struct rd_err *err)
{
	sqlite3_stmt *s = NULL;
	struct rdi_packcache *pc;
	struct rdi_objhdr h;
	struct rdi_buf sig = { NULL, 0, 0 };
	struct rdi_sigview v;
	struct rd_err e2 = RD_ERR_INIT;
	unsigned char sha[RD_HASH_LEN];
	char hex[2 * RD_HASH_LEN + 1], what[600];
	const char *name;
	int fd, r, ret = -1;

	pc = rdi_packcache_new(c->st);
	if (pc == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (rdi_db_prepare(c->st->db,
	        "SELECT s.sha, s.off, s.len, p.name FROM signatures s"
	        " JOIN packs p ON p.id = s.pack ORDER BY s.pack, s.off",
	        &s, err) == -1)
		goto out;
	while ((r = rdi_db_step(c->st->db, s, err)) == 1) {
		if (sqlite3_column_bytes(s, 0) != RD_HASH_LEN)
			continue;
		memcpy(sha, sqlite3_column_blob(s, 0), RD_HASH_LEN);
		name = (const char *)sqlite3_column_text(s, 3);
		rd_err_clear(&e2);
		sig.len = 0;
		fd = rdi_packcache_fd(pc, name != NULL ? name : "", &e2);
		if (fd != -1 &&
		    rdi_obj_read(fd, name, sqlite3_column_int64(s, 1), sha,
		        RDI_OBJ_SIG, whole ? rdi_buf_sink : NULL,
		        whole ? &sig : NULL, &h, &e2) == 0) {
			if (h.len != sqlite3_column_int64(s, 2))
				rd_err_set(&e2, RD_ECORRUPT,
				    "signature header disagrees with the catalog");
			else if (whole &&
			    rdi_sig_view(sig.data, sig.len, &v, &e2) == -1)
				e2.code = RD_ECORRUPT;
			else
				continue;
		}
		if (!is_damage(&e2)) {
			*err = e2;
			goto out;
		}
		rd_hex(sha, RD_HASH_LEN, hex);
		snprintf(what, sizeof(what),
		    "the signature of content %s is damaged: %s", hex, e2.msg);
		if (report(c, what, sha, err) == -1)
			goto out;
	}
	if (r == 0)
		ret = 0;
out:
	rdi_buf_release(&sig);
	sqlite3_finalize(s);
	rdi_packcache_free(pc);
	return ret;
}

/*
 * --read-data: workers rebuild contents in parallel.  The main thread
 * reads the catalog (a connection is not shared between threads), puts
 * each content's chain into a slot of a ring, and retires the slots in
 * order, so that damage is reported in the same order as by one thread.
 * Workers read only packs, which no writer removes while this reader has
 * the store open.
 */
enum { SLOT_EMPTY, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

struct vslot {
	int state;
	int64_t seq;
	struct rdi_chain ch;
	int ok;
	struct rd_err err;
};

struct vpool {
	struct vctx *c;
	int tmpfd;
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	struct vslot *slot;
	size_t nslots;
	int64_t next_take, next_put;
	int closing;
};

static void *
vworker(void *arg)
{
	struct vpool *p = arg;
	struct rdi_packcache *pc = rdi_packcache_new(p->c->st);
	struct vslot *sl;
	struct rd_err e = RD_ERR_INIT;
	int ok;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		sl = &p->slot[p->next_take % (int64_t)p->nslots];
		if (p->next_take < p->next_put && sl->state == SLOT_QUEUED) {
			sl->state = SLOT_RUNNING;
			p->next_take++;
			pthread_mutex_unlock(&p->mu);
			rd_err_clear(&e);
			if (pc == NULL)
				ok = rd_err_set(&e, RD_ENOMEM,
				         "out of memory") == 0;
			else
				ok = rdi_chain_read(pc, &sl->ch, p->tmpfd,
				         rdi_null_sink, NULL, &e) == 0;
			pthread_mutex_lock(&p->mu);
			sl->ok = ok;
			sl->err = e;
			sl->state = SLOT_DONE;
			pthread_cond_broadcast(&p->cv_done);
			continue;
		}
		if (p->closing)
			break;
		pthread_cond_wait(&p->cv_work, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	rdi_packcache_free(pc);
	return NULL;
}

/* Report the result of slot "sl" (held, done) and free it. */
static int
retire(struct vpool *p, struct vslot *sl, struct rd_err *err)
{
	struct vctx *c = p->c;
	char hex[2 * RD_HASH_LEN + 1], what[600];
	int ret = 0;

	if (sl->ok) {
		c->res->bytes_checked += sl->ch.link[0].size;
	} else if (!is_damage(&sl->err)) {
		*err = sl->err;
		ret = -1;
	} else {
		rd_hex(sl->ch.link[0].sha, RD_HASH_LEN, hex);
		damage_line(hex, &sl->err, what, sizeof(what));
		ret = report(c, what, sl->ch.link[0].sha, err);
	}
	sl->state = SLOT_EMPTY;
	return ret;
}

/*
 * Wait for the oldest slot in flight and retire it; with "all", every
 * slot in flight.  Called and returns with the lock held.
 */
static int
retire_oldest(struct vpool *p, int64_t *next_retire, int all, double *last,
    struct rd_err *err)
{
	struct vslot *sl;
	int r;

	while (*next_retire < p->next_put) {
		sl = &p->slot[*next_retire % (int64_t)p->nslots];
		if (sl->state != SLOT_DONE) {
			pthread_cond_wait(&p->cv_done, &p->mu);
			continue;
		}
		/* reporting reads the catalog: not under the lock */
		pthread_mutex_unlock(&p->mu);
		r = retire(p, sl, err);
		progress(p->c, last);
		pthread_mutex_lock(&p->mu);
		(*next_retire)++;
		if (r == -1)
			return -1;
		if (!all)
			break;
	}
	return 0;
}

static int
check_data(struct vctx *c, int tmpfd, struct rd_err *err)
{
	struct vpool p;
	sqlite3_stmt *s = NULL, *chain = NULL;
	pthread_t th[8];
	struct vslot *sl;
	struct rd_err e2 = RD_ERR_INIT;
	unsigned char sha[RD_HASH_LEN];
	char hex[2 * RD_HASH_LEN + 1], what[600];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nth = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (int)ncpu, started = 0, i, r;
	int64_t next_retire = 0;
	int ret = -1, phase = 0;
	double last = 0;

	memset(&p, 0, sizeof(p));
	p.c = c;
	p.tmpfd = tmpfd;
	p.nslots = (size_t)nth * 8 + 2;
	p.slot = calloc(p.nslots, sizeof(*p.slot));
	if (p.slot == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv_work, NULL);
	pthread_cond_init(&p.cv_done, NULL);
	for (i = 0; i < nth; i++) {
		if (pthread_create(&th[i], NULL, vworker, &p) != 0) {
			rd_err_set(err, RD_ENOMEM, "cannot start a thread");
			goto out;
		}
		started++;
	}
	pthread_mutex_lock(&p.mu);
	for (;;) {
		pthread_mutex_unlock(&p.mu);
		if (s == NULL) {
			r = rdi_db_query(c->st->db, &s, err, sql_rebuild[phase],
			    "i", BIG_CONTENT);
			if (r == -1) {
				pthread_mutex_lock(&p.mu);
				goto unlock;
			}
		}
		r = rdi_db_step(c->st->db, s, err);
		if (r != 1) {
			pthread_mutex_lock(&p.mu);
			if (r == -1)
				goto unlock;
			sqlite3_finalize(s);
			s = NULL;
			if (++phase < 2)
				continue;
			break;
		}
		c->res->contents++;
		if (sqlite3_column_bytes(s, 0) != RD_HASH_LEN ||
		    !selected(c, (const char *)sqlite3_column_text(s, 5))) {
			pthread_mutex_lock(&p.mu);
			continue;
		}
		c->res->contents_read++;
		memcpy(sha, sqlite3_column_blob(s, 0), RD_HASH_LEN);
		pthread_mutex_lock(&p.mu);
		sl = &p.slot[p.next_put % (int64_t)p.nslots];
		if (sl->state != SLOT_EMPTY &&
		    retire_oldest(&p, &next_retire, 0, &last, err) == -1)
			goto unlock;
		pthread_mutex_unlock(&p.mu);
		rd_err_clear(&e2);
		r = rdi_chain_load(c->st->db, &chain, sha, &sl->ch, &e2);
		pthread_mutex_lock(&p.mu);
		if (r == -1) {
			/* a broken chain is reported here, in its turn */
			if (!is_damage(&e2)) {
				*err = e2;
				goto unlock;
			}
			if (retire_oldest(&p, &next_retire, 1, &last, err) ==
			    -1)
				goto unlock;
			pthread_mutex_unlock(&p.mu);
			rd_hex(sha, RD_HASH_LEN, hex);
			damage_line(hex, &e2, what, sizeof(what));
			r = report(c, what, sha, err);
			pthread_mutex_lock(&p.mu);
			if (r == -1)
				goto unlock;
			continue;
		}
		sl->seq = p.next_put++;
		sl->state = SLOT_QUEUED;
		pthread_cond_signal(&p.cv_work);
	}
	if (retire_oldest(&p, &next_retire, 1, &last, err) == -1)
		goto unlock;
	ret = 0;
unlock:
	pthread_mutex_unlock(&p.mu);
out:
	pthread_mutex_lock(&p.mu);
	p.closing = 1;
	/* drop what was not started: the run has failed */
	while (p.next_take < p.next_put) {
		p.slot[p.next_take % (int64_t)p.nslots].state = SLOT_EMPTY;
		p.next_take++;
	}
	pthread_cond_broadcast(&p.cv_work);
	pthread_mutex_unlock(&p.mu);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	sqlite3_finalize(chain);
	sqlite3_finalize(s);
	pthread_cond_destroy(&p.cv_done);
	pthread_cond_destroy(&p.cv_work);
	pthread_mutex_destroy(&p.mu);
	free(p.slot);
	return ret;
}

int
rd_verify(struct rd_store *st, const struct rd_verify_opts *opts,
    struct rd_verify_result *res, struct rd_err *err)
{
	struct vctx c;
	struct rd_verify_result dummy;
	sqlite3_stmt *s = NULL;
	int tmpfd = -1, ret = -1, r;

	memset(&c, 0, sizeof(c));
	if (res == NULL)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	c.st = st;
	c.opts = opts;
	c.res = res;
	tmpfd = openat(st->dfd, "tmp",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tmpfd == -1) {
		rd_err_sys(err, RD_EIO, "cannot open '%s/tmp'", st->path);
		goto out;
	}
	if (rdi_db_exec(st->db, "BEGIN", err) == -1)
		goto out;
	if (rdi_db_prepare(st->db,
	        "SELECT COUNT(*), COALESCE(MAX(id), 0)"
	        " FROM snapshots WHERE state = 'complete'",
	        &s, err) == -1)
		goto out;
	r = rdi_db_step(st->db, s, err);
	if (r != 1)
		goto out;
	res->snapshots = sqlite3_column_int64(s, 0);
	c.newest = sqlite3_column_int64(s, 1);
	sqlite3_finalize(s);
	s = NULL;
	if (rdi_db_prepare(st->db,
	        "SELECT path, first, last FROM entries"
	        " WHERE sha = ? ORDER BY first, path",
	        &c.uses, err) == -1)
		goto out;
	/* headers in both modes: --read-data rebuilds, but trusts lengths */
	if (check_catalog(&c, err) == -1 || check_packs(&c, err) == -1 ||
	    rdi_pack_files(st, count_orphan, &c, err) == -1 ||
	    check_headers(&c, err) == -1 ||
	    check_sigs(&c, opts->read_data, err) == -1 ||
	    (opts->read_data && check_data(&c, tmpfd, err) == -1))
		goto out;
	ret = res->damaged > 0 ? 1 : 0;
out:
	sqlite3_finalize(s);
	sqlite3_finalize(c.uses);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (tmpfd != -1)
		close(tmpfd);
	return ret;
}
