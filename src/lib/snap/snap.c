/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snap.c: taking a snapshot, the run from start to end.
 *
 * rd_snap_create opens the source and a pending snapshot in one
 * transaction, starts the workers (workers.c), walks the source merged
 * with the newest snapshot (walk.c), adds the bracket's files
 * (scratch.c), seals the packs and commits the catalog (record.c) after
 * every pack it refers to is durable; only then is the snapshot visible.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"
#include "snap_int.h"

void
snap_notice(struct ctx *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (c->opts->notice == NULL)
		return;
	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	c->opts->notice(c->opts->notice_arg, msg);
}

int
rd_snap_create(struct rd_store *st, const char *source,
    const struct rd_snap_opts *opts, struct rd_snapinfo *info,
    struct rd_err *err)
{
	struct ctx c;
	struct worker *w = NULL;
	struct rdi_buf path = { NULL, 0, 0 };
	struct stat sb;
	struct prev p;
	int nw, k, in_txn = 0, pending = 0, ret = -1, has_prev;
	double t0 = rd_monotonic();

	memset(&c, 0, sizeof(c));
	memset(&p, 0, sizeof(p));
	c.st = st;
	c.opts = opts;
	c.rootfd = -1;
	c.xfd = -1;
	c.chain_max = st->info.chain_max;
	pthread_mutex_init(&c.mu, NULL);
	pthread_cond_init(&c.cv_job, NULL);
	pthread_cond_init(&c.cv_main, NULL);
	if (st->mode != RD_OPEN_WRITE) {
		rd_err_set(err, RD_EINTERNAL, "store is not open for writing");
		goto out;
	}
	if (st->info.standby) {
		rd_err_set(err, RD_EPERM,
		    "store '%s' is a standby: it takes snapshots only from rdship (promote it first)",
		    st->path);
		goto out;
	}
	if (snap_compile_excludes(&c, err) == -1)
		goto out;
	c.rootfd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.rootfd == -1) {
		if (errno == ENOENT)
			rd_err_set(err, RD_ENOENT,
			    "cannot open source '%s': No such file or directory",
			    source);
		else
			rd_err_sys(err, RD_EIO, "cannot open source '%s'",
			    source);
		goto out;
	}
	if (fstat(c.rootfd, &sb) == -1) {
		rd_err_sys(err, RD_EIO, "cannot stat source '%s'", source);
		goto out;
	}
	c.root_dev = sb.st_dev;
	if (snap_new_pending(&c, source, err) == -1)
		goto out;
	pending = 1;
	c.info.id = c.snap_id;
	c.info.started = (int64_t)rd_now();
	if (rdi_db_exec(st->db, "BEGIN IMMEDIATE", err) == -1)
		goto out;
	in_txn = 1;
	if (snap_prepare_all(&c, err) == -1 ||
	    rdi_next_pack_id(st, &c.next_pack, err) == -1 ||
	    snap_cursor_next(&c, err) == -1)
		goto out;
	c.first_pack = c.next_pack;

	nw = opts->threads > 0 ? opts->threads : rd_ncpu();
	/*
	 * zlib is the slow codec: with more than one thread, a large file
	 * is compressed on two, so that the last big file does not run
	 * alone on one core while the others are idle.
	 */
	c.split = nw > 1 && st->info.codec == RD_CODEC_ZLIB;
	w = calloc((size_t)nw, sizeof(*w));
	if (w == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	for (k = 0; k < nw; k++) {
		w[k].c = &c;
		w[k].buf = malloc(SMALL_MAX + 1);
		w[k].pc = rdi_packcache_new(st);
		if (w[k].buf == NULL || w[k].pc == NULL) {
			rd_err_set(err, RD_ENOMEM, "out of memory");
			goto out;
		}
		if (rdi_zenc_new(st->info.codec, &w[k].zenc, err) == -1)
			goto out;
	}
	for (k = 0; k < nw; k++) {
		if (pthread_create(&w[k].thread, NULL, snap_worker_main,
		        &w[k]) != 0) {
			rd_err_set(err, RD_ENOMEM, "cannot start a thread");
			goto out;
		}
		w[k].started = 1;
	}

	if (opts->bracket != NULL &&
	    rdi_bracket_start(st, opts->bracket, opts->bracket_cwd,
	        opts->bracket_env, opts->bracket_timeout, &c.bk, err) == -1)
		goto out;
	/* the root, then everything below it */
	has_prev = snap_cursor_seek(&c, "", 0, &p, err);
	if (has_prev == -1)
		goto out;
	{
		struct meta m;

		meta_from_stat(&m, &sb);
		m.size = m.ino = m.ctime = 0;
		c.info.files++;
		if (!has_prev || p.type != RD_TYPE_DIR ||
		    !snap_meta_equal(&p, &m)) {
			if ((has_prev &&
			        snap_close_entry(&c, p.id, 0, err) == -1) ||
			    snap_insert_entry(&c, "", 0, RD_TYPE_DIR, &m, NULL,
			        NULL, 0, err) == -1)
				goto out;
		}
		snap_prev_release(&p);
	}
	if (snap_walk(&c, c.rootfd, &path, err) == -1)
		goto out;
	/* whatever the cursor still holds is gone from the source */
	while (c.cur_valid) {
		if (snap_close_entry(&c, c.cur_prev.id, 1, err) == -1 ||
		    snap_cursor_next(&c, err) == -1)
			goto out;
	}
	if (snap_wait_all(&c, err) == -1)
		goto out;
	if (c.bk != NULL &&
	    (snap_bracket_files(&c, err) == -1 ||
	        rdi_bracket_cleanup(c.bk, err) == -1))
		goto out;
	pthread_mutex_lock(&c.mu);
	c.stop = 1;
	pthread_cond_broadcast(&c.cv_job);
	pthread_mutex_unlock(&c.mu);
	for (k = 0; k < nw; k++) {
		if (w[k].started)
			pthread_join(w[k].thread, NULL);
		w[k].started = 0;
	}
	if (snap_seal_packs(&c, w, nw, err) == -1)
		goto out;
	c.info.seconds = rd_monotonic() - t0;
	if (snap_complete(&c, c.info.seconds, err) == -1)
		goto out;
	/* every pack is durable: now the snapshot may become visible */
	if (rdi_db_exec(st->db, "COMMIT", err) == -1)
		goto out;
	in_txn = 0;
	pending = 0;
	if (opts->label != NULL)
		snprintf(c.info.label, sizeof(c.info.label), "%s", opts->label);
	if (info != NULL)
		*info = c.info;
	ret = 0;
out:
	if (w != NULL) {
		pthread_mutex_lock(&c.mu);
		c.stop = 1;
		/* drop queued jobs: the run is failing */
		while (c.q_head != NULL) {
			struct job *j = c.q_head;

			c.q_head = j->next;
			snap_job_free(j);
		}
		c.q_tail = NULL;
		pthread_cond_broadcast(&c.cv_job);
		pthread_mutex_unlock(&c.mu);
		for (k = 0; k < nw; k++)
			if (w[k].started)
				pthread_join(w[k].thread, NULL);
		while (c.r_head != NULL) {
			struct job *j = c.r_head;

			c.r_head = j->next;
			snap_job_free(j);
		}
		for (k = 0; k < nw; k++) {
			if (w[k].pw_open)
				rdi_packw_abort(st, &w[k].pw);
			rdi_zenc_free(w[k].zenc);
			rdi_packcache_free(w[k].pc);
			free(w[k].buf);
			rdi_buf_release(&w[k].cbuf);
			rdi_buf_release(&w[k].sigbuf);
			rdi_buf_release(&w[k].oldsig);
		}
		free(w);
	}
	/* after the workers: they may be reading its files */
	rdi_bracket_free(c.bk);
	snap_prev_release(&p);
	snap_prev_release(&c.cur_prev);
	snap_finalize_all(&c);
	if (in_txn)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	if (pending) {
		char sql[96];

		snprintf(sql, sizeof(sql),
		    "DELETE FROM snapshots WHERE id = %lld AND state = 'pending'",
		    (long long)c.snap_id);
		sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	}
	rdi_buf_release(&path);
	rdi_buf_release(&c.cur_path);
	free(c.set.slots);
	free(c.packs);
	free(c.known_packs);
	free(c.xp);
	free(c.xbuf);
	free(c.mp);
	free(c.mbuf);
	if (c.rootfd != -1)
		close(c.rootfd);
	pthread_cond_destroy(&c.cv_main);
	pthread_cond_destroy(&c.cv_job);
	pthread_mutex_destroy(&c.mu);
	return ret;
}
