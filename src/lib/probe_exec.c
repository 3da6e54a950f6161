/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe_exec.c: the exec probe and the shell runner it shares with the
 * watch hooks.  Commands run through /bin/sh -c, started with
 * posix_spawn(3) (safe in a threaded process), with the default signal
 * mask and dispositions whatever ours are.  An exec probe runs in a
 * process group of its own so that on timeout the command and everything
 * it started are killed together.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe_int.h"

extern char **environ;

/* Longest sleep between two looks at a running probe command. */
#define EXEC_POLL_MAX 0.01

int
rdi_spawn_sh(const char *command, char *const *envp, int own_group,
    int out_to_err, pid_t *pid, struct rd_err *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	char *argv[4];
	int rc, have_fa = 0, have_at = 0, ret = -1;
	short flags;

	argv[0] = (char *)"sh";
	argv[1] = (char *)"-c";
	argv[2] = (char *)command;
	argv[3] = NULL;
	rc = posix_spawn_file_actions_init(&fa);
	if (rc != 0)
		goto fail;
	have_fa = 1;
	rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (rc == 0 && out_to_err)
		rc = posix_spawn_file_actions_adddup2(&fa, 2, 1);
	else if (rc == 0)
		rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null",
		    O_WRONLY, 0);
	if (rc != 0)
		goto fail;
	rc = posix_spawnattr_init(&at);
	if (rc != 0)
		goto fail;
	have_at = 1;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGQUIT);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGALRM);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGCHLD);
	sigaddset(&dfl, SIGUSR1);
	sigaddset(&dfl, SIGUSR2);
	flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	if (own_group)
		flags |= POSIX_SPAWN_SETPGROUP;
	rc = posix_spawnattr_setflags(&at, flags);
	if (rc == 0)
		rc = posix_spawnattr_setsigmask(&at, &none);
	if (rc == 0)
		rc = posix_spawnattr_setsigdefault(&at, &dfl);
	if (rc == 0 && own_group)
		rc = posix_spawnattr_setpgroup(&at, 0);
	if (rc != 0)
		goto fail;
	rc = posix_spawn(pid, "/bin/sh", &fa, &at, argv,
	    envp != NULL ? envp : environ);
	if (rc != 0)
		goto fail;
	ret = 0;
	goto out;
fail:
	errno = rc;
	rd_err_sys(err, rc == EAGAIN || rc == ENOMEM ? RD_ENOMEM : RD_EUNAVAIL,
	    "cannot run '/bin/sh'");
out:
	if (have_at)
		posix_spawnattr_destroy(&at);
	if (have_fa)
		posix_spawn_file_actions_destroy(&fa);
	return ret;
}

void
rdi_wait_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "wait status %#x", (unsigned)status);
}

static void
nap(double seconds)
{
	struct timespec ts;

	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		continue;
}

/*
 * A descriptor that becomes readable when "pid" exits (Linux 5.3 and
 * later), or -1: then we look at the child every few milliseconds.
 */
static int
child_fd(pid_t pid)
{
#if defined(__linux__) && defined(SYS_pidfd_open)
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

pid_t
rdi_waitpid(pid_t pid, int *status, int flags)
{
	pid_t r;

	while ((r = waitpid(pid, status, flags)) == -1 && errno == EINTR)
		continue;
	return r;
}

void
rdi_probe_exec_run(const struct rd_probe *p, double deadline, double timeout,
    struct rd_probe_result *res)
{
	struct rd_err err = RD_ERR_INIT;
	struct pollfd pfd;
	double delay = 0.001, left;
	char what[64];
	pid_t pid, r;
	int status;

	if (rdi_spawn_sh(p->command, NULL, 1, 0, &pid, &err) == -1) {
		rdi_probe_error(res, err.code, "%s", err.msg);
		return;
	}
	pfd.fd = child_fd(pid);
	pfd.events = POLLIN;
	for (;;) {
		r = rdi_waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r == -1) {
			rdi_probe_error(res, RD_EINTERNAL, "cannot wait: %s",
			    strerror(errno));
			goto out;
		}
		left = deadline - rd_monotonic();
		if (left <= 0) {
			/* not reaped yet, so the group id is still ours */
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			if (rdi_waitpid(pid, &status, 0) == -1)
				rdi_probe_error(res, RD_EINTERNAL,
				    "cannot wait: %s", strerror(errno));
			else
				rdi_probe_timeout(res, timeout);
			goto out;
		}
		/*
		 * waitpid() has no timeout, and SIGCHLD belongs to the
		 * process, not to this thread.
		 */
		if (pfd.fd != -1) {
			pfd.revents = 0;
			poll(&pfd, 1, (int)(left * 1000) + 1);
		} else {
			nap(delay < left ? delay : left);
			if (delay < EXEC_POLL_MAX)
				delay *= 2;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		res->state = RD_PROBE_UP;
	else {
		rdi_wait_status(status, what, sizeof(what));
		rdi_probe_down(res, "%s", what);
	}
out:
	if (pfd.fd != -1)
		close(pfd.fd);
}
