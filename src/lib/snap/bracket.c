/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bracket.c: the co-process that brackets a snapshot (rdsnap create
 * --bracket).  It is started before the source is read, with an empty
 * scratch directory, STORE/tmp/bracket, named in its environment as
 * RDSNAP_BRACKET_DIR.  rdsnap waits for a line "ready" on its standard
 * output, copies the source, writes "done" on its standard input and
 * waits for it to exit 0; what it wrote into the scratch directory then
 * joins the same snapshot (snap.c).  A database keeps its backup mode
 * open in the co-process (PostgreSQL's non-exclusive backup ends with
 * the session that began it), so the mode ends when rdsnap does,
 * whichever way: an end of file on its standard input instead of "done"
 * means that the copy failed.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"

#define SCRATCH    "bracket"
#define READY_MAX  128  /* the longest first line we look at */
#define POLL_SLICE 0.01 /* without a pidfd, look this often */

struct rdi_bracket {
	pid_t pid; /* 0 once reaped */
	int status;
	int in, out; /* our ends of its standard input and output */
	int in_r;    /* a read end of its standard input, kept: see finish */
	int pidfd;
	int tmpfd, dirfd; /* STORE/tmp and STORE/tmp/bracket */
	int made;         /* the scratch directory is ours to remove */
	double timeout;
	const char *store; /* for messages */
	char dir[PATH_MAX];
	char var[PATH_MAX + 32]; /* RDSNAP_BRACKET_DIR=... */
};

/* ------------------------------------------------------------------ */
/* The co-process */

/* "1 s", "0.5 s" */
static void
seconds_text(double s, char *buf, size_t len)
{
	if (s == (double)(long long)s)
		snprintf(buf, len, "%lld s", (long long)s);
	else
		snprintf(buf, len, "%g s", s);
}

/* "exited 3", "killed by signal 9" */
static void
how_it_ended(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "wait status %#x", (unsigned)status);
}

/* Kill its process group and reap it. */
static void
kill_it(struct rdi_bracket *b)
{
	if (b->pid == 0)
		return;
	/* not reaped yet, so the group id is still its own */
	(void)kill(-b->pid, SIGKILL);
	(void)kill(b->pid, SIGKILL);
	if (rdi_waitpid(b->pid, &b->status, 0) == b->pid)
		b->pid = 0;
}

/*
 * Read what its standard output holds now.  With "line" (READY_MAX
 * bytes, "*len" used), add to it up to the first newline and return 1
 * once there is one; without, throw it away.  At end of file the
 * descriptor is closed.  Returns 1, 0, or -1 on a read error.
 */
static int
drain_out(struct rdi_bracket *b, char *line, size_t *len, struct rd_err *err)
{
	char buf[512];
	char *nl;
	size_t room;
	ssize_t n;

	while (b->out != -1) {
		n = read(b->out, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return 0;
		if (n == -1)
			return rd_err_sys(err, RD_EIO,
			    "cannot read the output of the bracket hook");
		if (n == 0) {
			close(b->out);
			b->out = -1;
			return 0;
		}
		if (line == NULL)
			continue;
		room = READY_MAX - 1 - *len;
		nl = memchr(buf, '\n', (size_t)n);
		if (nl != NULL)
			n = nl - buf;
		if ((size_t)n > room)
			n = (ssize_t)room;
		memcpy(line + *len, buf, (size_t)n);
		*len += (size_t)n;
		line[*len] = '\0';
		if (nl != NULL || *len == READY_MAX - 1)
			return 1;
	}
	return 0;
}

enum { AWAIT_TIMEOUT, AWAIT_EXITED, AWAIT_LINE };

/*
 * Wait for the co-process until "deadline" (monotonic seconds), reading
 * its standard output as drain_out() does.  Returns AWAIT_LINE when a
 * line is complete, AWAIT_EXITED when it has exited and was reaped
 * (b->status), AWAIT_TIMEOUT at the deadline, or -1.
 */
static int
await(struct rdi_bracket *b, double deadline, char *line, size_t *len,
    struct rd_err *err)
{
	struct pollfd pfd[2];
	double left;
	nfds_t n;
	pid_t r;
	int d;

	for (;;) {
		d = drain_out(b, line, len, err);
		if (d != 0)
			return d == 1 ? AWAIT_LINE : -1;
		r = rdi_waitpid(b->pid, &b->status, WNOHANG);
		if (r == -1)
			return rd_err_sys(err, RD_EINTERNAL,
			    "cannot wait for the bracket hook");
		if (r == b->pid) {
			b->pid = 0;
			/* what it wrote just before it exited */
			d = drain_out(b, line, len, err);
			if (d != 0)
				return d == 1 ? AWAIT_LINE : -1;
			return AWAIT_EXITED;
		}
		left = deadline - rd_monotonic();
		if (left <= 0)
			return AWAIT_TIMEOUT;
		n = 0;
		if (b->out != -1) {
			pfd[n].fd = b->out;
			pfd[n++].events = POLLIN;
		}
		if (b->pidfd != -1) {
			pfd[n].fd = b->pidfd;
			pfd[n++].events = POLLIN;
		} else if (left > POLL_SLICE) {
			left = POLL_SLICE;
		}
		if (left > 1)
			left = 1;
		if (poll(pfd, n, (int)(left * 1000) + 1) == -1 &&
		    errno != EINTR)
			return rd_err_sys(err, RD_EINTERNAL,
			    "cannot wait for the bracket hook");
	}
}

/* Make the scratch directory, empty, and its absolute path. */
static int
make_scratch(struct rdi_bracket *b, struct rd_store *st, struct rd_err *err)
{
	char top[PATH_MAX], what[PATH_MAX + 16];
	int n;

	snprintf(what, sizeof(what), "%s/tmp/%s", st->path, SCRATCH);
	b->tmpfd = openat(st->dfd, "tmp",
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (b->tmpfd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s/tmp'",
		    st->path);
	/* a leftover of a run that was killed */
	if (rdi_rmtree(b->tmpfd, SCRATCH, what, err) == -1)
		return -1;
	if (mkdirat(b->tmpfd, SCRATCH, 0700) == -1)
		return rd_err_sys(err, RD_ECANTCREAT, "cannot create '%s'",
		    what);
	b->made = 1;
	b->dirfd = openat(b->tmpfd, SCRATCH,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (b->dirfd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s'", what);
	if (realpath(st->path, top) == NULL)
		return rd_err_sys(err, RD_EIO, "cannot resolve store '%s'",
		    st->path);
	n = snprintf(b->dir, sizeof(b->dir), "%s/tmp/%s", top, SCRATCH);
	if (n < 0 || (size_t)n >= sizeof(b->dir))
		return rd_err_set(err, RD_EIO, "store path '%s' is too long",
		    st->path);
	snprintf(b->var, sizeof(b->var), "RDSNAP_BRACKET_DIR=%s", b->dir);
	return 0;
}

/* Start it with its pipes; "env" as for rdi_bracket_start(). */
static int
spawn(struct rdi_bracket *b, const char *command, const char *cwd,
    const char *const *env, struct rd_err *err)
{
	const char **env2 = NULL;
	int pi[2] = { -1, -1 }, po[2] = { -1, -1 };
	size_t n = 0;
	int ret = -1;

	while (env != NULL && env[n] != NULL)
		n++;
	env2 = calloc(n + 2, sizeof(*env2));
	if (env2 == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	if (n > 0)
		memcpy(env2, env, n * sizeof(*env2));
	env2[n] = b->var;
	if (pipe2(pi, O_CLOEXEC) == -1 || pipe2(po, O_CLOEXEC) == -1) {
		rd_err_sys(err, RD_ENOMEM, "cannot make a pipe");
		goto out;
	}
	/* only our end: the co-process writes as it always does */
	if (fcntl(po[0], F_SETFL, O_NONBLOCK) == -1) {
		rd_err_sys(err, RD_EINTERNAL, "cannot set up a pipe");
		goto out;
	}
	if (rdi_coproc_spawn(command, cwd, env2, pi[0], po[1], &b->pid, err) ==
	    -1)
		goto out;
	/*
	 * We keep a read end of its standard input: writing "done" never
	 * raises SIGPIPE, and what it left unread can be seen after it ends.
	 */
	b->in_r = pi[0];
	b->in = pi[1];
	b->out = po[0];
	pi[0] = pi[1] = po[0] = -1;
	b->pidfd = rdi_child_fd(b->pid);
	ret = 0;
out:
	free(env2);
	if (pi[0] != -1)
		close(pi[0]);
	if (pi[1] != -1)
		close(pi[1]);
	if (po[0] != -1)
		close(po[0]);
	if (po[1] != -1)
		close(po[1]);
	return ret;
}

/* Wait for its "ready" line; a failure kills it. */
static int
wait_ready(struct rdi_bracket *b, struct rd_err *err)
{
	char line[READY_MAX], how[64], t[32];
	size_t len = 0;
	int r;

	line[0] = '\0';
	r = await(b, rd_monotonic() + b->timeout, line, &len, err);
	if (r == AWAIT_LINE && strcmp(line, "ready") == 0)
		return 0;
	if (r == -1)
		return -1;
	if (r == AWAIT_LINE)
		rd_err_set(err, RD_EUNAVAIL,
		    "bracket hook failed: it said '%.64s' instead of 'ready'",
		    line);
	else if (r == AWAIT_TIMEOUT) {
		seconds_text(b->timeout, t, sizeof(t));
		rd_err_set(err, RD_EUNAVAIL,
		    "bracket hook failed: no 'ready' within %s%s", t,
		    b->out == -1 ? " (it closed its standard output)" : "");
	} else {
		how_it_ended(b->status, how, sizeof(how));
		rd_err_set(err, RD_EUNAVAIL,
		    "bracket hook failed: %s before it said 'ready'", how);
	}
	kill_it(b);
	return -1;
}

int
rdi_bracket_start(struct rd_store *st, const char *command, const char *cwd,
    const char *const *env, double timeout, struct rdi_bracket **out,
    struct rd_err *err)
{
	struct rdi_bracket *b;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return rd_err_set(err, RD_ENOMEM, "out of memory");
	b->in = b->in_r = b->out = b->pidfd = b->tmpfd = b->dirfd = -1;
	b->timeout = timeout;
	b->store = st->path;
	if (make_scratch(b, st, err) == -1 ||
	    spawn(b, command, cwd, env, err) == -1 ||
	    wait_ready(b, err) == -1) {
		rdi_bracket_free(b);
		return -1;
	}
	*out = b;
	return 0;
}

int
rdi_bracket_dirfd(const struct rdi_bracket *b)
{
	return b->dirfd;
}

int
rdi_bracket_finish(struct rdi_bracket *b, struct rd_err *err)
{
	char how[64], t[32];
	int r, unread = 0;

	if (b->pid != 0 && rdi_waitpid(b->pid, &b->status, WNOHANG) == b->pid)
		b->pid = 0;
	if (b->pid == 0) {
		how_it_ended(b->status, how, sizeof(how));
		return rd_err_set(err, RD_EUNAVAIL,
		    "bracket hook failed: %s before it read 'done'", how);
	}
	/* the pipe is empty and has a reader (us): this cannot block */
	if (rdi_write_all(b->in, "done\n", 5, "the bracket hook's input",
	        err) == -1)
		return -1;
	/* then an end of file */
	close(b->in);
	b->in = -1;
	r = await(b, rd_monotonic() + b->timeout, NULL, NULL, err);
	if (r == -1)
		return -1;
	if (r == AWAIT_TIMEOUT) {
		kill_it(b);
		seconds_text(b->timeout, t, sizeof(t));
		return rd_err_set(err, RD_EUNAVAIL,
		    "bracket hook failed: still running %s after 'done'", t);
	}
	how_it_ended(b->status, how, sizeof(how));
	if (ioctl(b->in_r, FIONREAD, &unread) == -1)
		return rd_err_sys(err, RD_EINTERNAL,
		    "cannot look at the bracket hook's input");
	if (unread > 0)
		return rd_err_set(err, RD_EUNAVAIL,
		    "bracket hook failed: %s before it read 'done'", how);
	if (!WIFEXITED(b->status) || WEXITSTATUS(b->status) != 0)
		return rd_err_set(err, RD_EUNAVAIL,
		    "bracket hook failed: %s after 'done'", how);
	return 0;
}

int
rdi_bracket_cleanup(struct rdi_bracket *b, struct rd_err *err)
{
	char what[PATH_MAX + 16];
	int fd = b->dirfd;

	if (!b->made)
		return 0;
	snprintf(what, sizeof(what), "%s/tmp/%s", b->store, SCRATCH);
	b->dirfd = -1;
	if (fd != -1)
		close(fd);
	if (rdi_rmtree(b->tmpfd, SCRATCH, what, err) == -1)
		return -1;
	b->made = 0;
	return 0;
}

void
rdi_bracket_free(struct rdi_bracket *b)
{
	struct rd_err e = RD_ERR_INIT;

	if (b == NULL)
		return;
	if (b->in != -1) {
		/* an end of file instead of "done": the copy failed */
		close(b->in);
		b->in = -1;
	}
	if (b->pid != 0 &&
	    await(b, rd_monotonic() + b->timeout, NULL, NULL, &e) !=
	        AWAIT_EXITED)
		kill_it(b);
	if (b->out != -1)
		close(b->out);
	if (b->in_r != -1)
		close(b->in_r);
	if (b->pidfd != -1)
		close(b->pidfd);
	(void)rdi_bracket_cleanup(b, &e);
	if (b->tmpfd != -1)
		close(b->tmpfd);
	free(b);
}
