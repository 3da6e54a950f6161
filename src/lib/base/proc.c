/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * proc.c: child processes for every layer: the shell runner behind the
 * exec probe, the watch hooks and the hooks of rdsnap and rdpromote
 * (rd_hook_run), and the co-process of a bracket.  Commands run through
 * /bin/sh -c, started with posix_spawn(3) (safe in a threaded process),
 * with the default signal mask and dispositions whatever ours are.  A
 * hook runs in a process group of its own so that on timeout the command
 * and everything it started are killed together.
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
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rd_int.h"

extern char **environ;

/* Longest sleep between two looks at a child without an exit descriptor. */
#define CHILD_POLL_MAX 0.01

/*
 * rdi_spawn_sh() in the directory "cwd" (NULL: ours), which the child
 * enters before it runs /bin/sh.  With "io" not NULL, its standard input
 * is io[0] and its standard output io[1] instead ("out_to_err" is then
 * unused).  Returns 0 or -1 with "err" set.
 */
static int
spawn_sh(const char *command, const char *cwd, char *const *envp, int own_group,
    int out_to_err, const int *io, pid_t *pid, struct rd_err *err)
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
	if (io != NULL) {
		rc = posix_spawn_file_actions_adddup2(&fa, io[0], 0);
		if (rc == 0)
			rc = posix_spawn_file_actions_adddup2(&fa, io[1], 1);
	} else {
		rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
		    O_RDONLY, 0);
		if (rc == 0 && out_to_err)
			rc = posix_spawn_file_actions_adddup2(&fa, 2, 1);
		else if (rc == 0)
			rc = posix_spawn_file_actions_addopen(&fa, 1,
			    "/dev/null", O_WRONLY, 0);
	}
	if (rc == 0 && cwd != NULL)
		rc = posix_spawn_file_actions_addchdir_np(&fa, cwd);
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
	if (cwd != NULL)
		rd_err_sys(err,
		    rc == EAGAIN || rc == ENOMEM ? RD_ENOMEM : RD_EUNAVAIL,
		    "cannot run '/bin/sh' in '%s'", cwd);
	else
		rd_err_sys(err,
		    rc == EAGAIN || rc == ENOMEM ? RD_ENOMEM : RD_EUNAVAIL,
		    "cannot run '/bin/sh'");
out:
	if (have_at)
		posix_spawnattr_destroy(&at);
	if (have_fa)
		posix_spawn_file_actions_destroy(&fa);
	return ret;
}

int
rdi_spawn_sh(const char *command, char *const *envp, int own_group,
    int out_to_err, pid_t *pid, struct rd_err *err)
{
	return spawn_sh(command, NULL, envp, own_group, out_to_err, NULL, pid,
	    err);
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

/*
 * A descriptor that becomes readable when "pid" exits (Linux 5.3 and
 * later), or -1: then we look at the child every few milliseconds.
 */
int
rdi_child_fd(pid_t pid)
{
#if defined(__linux__) && defined(SYS_pidfd_open)
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

void
rdi_child_nap(int *fd, double left, double *delay)
{
	struct pollfd pfd;
	struct timespec ts;
	double nap;

	if (*fd != -1) {
		pfd.fd = *fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) == -1 &&
		    errno != EINTR) {
			close(*fd);
			*fd = -1;
		}
		return;
	}
	nap = *delay < left ? *delay : left;
	ts.tv_sec = (time_t)nap;
	ts.tv_nsec = (long)((nap - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		continue;
	if (*delay < CHILD_POLL_MAX)
		*delay *= 2;
}

pid_t
rdi_waitpid(pid_t pid, int *status, int flags)
{
	pid_t r;

	while ((r = waitpid(pid, status, flags)) == -1 && errno == EINTR)
		continue;
	return r;
}

/* ------------------------------------------------------------------ */
/* Hooks */

/* 1 if "var" ("NAME=value") is the variable that "set" sets or removes. */
static int
same_name(const char *var, const char *set)
{
	const char *eq = strchr(set, '=');
	size_t len = eq != NULL ? (size_t)(eq - set) : strlen(set);

	return strncmp(var, set, len) == 0 && var[len] == '=';
}

/*
 * Our environment changed by "env": "NAME=value" replaces or adds NAME,
 * "NAME" removes it.  The array is new (free it); its strings are
 * borrowed.  Returns NULL with "err" set when out of memory.
 */
static char **
merge_env(const char *const *env, struct rd_err *err)
{
	char **envp;
	size_t n = 0, extra = 0, i, k, out = 0;

	while (environ[n] != NULL)
		n++;
	while (env[extra] != NULL)
		extra++;
	envp = calloc(n + extra + 1, sizeof(*envp));
	if (envp == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		return NULL;
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < extra; k++)
			if (same_name(environ[i], env[k]))
				break;
		if (k == extra)
			envp[out++] = environ[i];
	}
	for (k = 0; k < extra; k++)
		if (strchr(env[k], '=') != NULL)
			envp[out++] = (char *)env[k];
	envp[out] = NULL;
	return envp;
}

int
rd_hook_run(const char *command, const char *cwd, const char *const *env,
    double timeout, int *status, struct rd_err *err)
{
	char **envp = NULL;
	double deadline, left, delay = 0.001;
	pid_t pid, r;
	int child_fd = -1, ret = -1;

	if (env != NULL) {
		envp = merge_env(env, err);
		if (envp == NULL)
			return -1;
	}
	if (spawn_sh(command, cwd, envp, 1, 1, NULL, &pid, err) == -1)
		goto out;
	deadline = rd_monotonic() + timeout;
	child_fd = rdi_child_fd(pid);
	for (;;) {
		r = rdi_waitpid(pid, status, WNOHANG);
		if (r == pid)
			break;
		if (r == -1) {
			rd_err_sys(err, RD_EINTERNAL, "cannot wait for a hook");
			/* not reaped, so the group id is still its own */
			(void)kill(-pid, SIGKILL);
			goto out;
		}
		left = deadline - rd_monotonic();
		if (left <= 0) {
			(void)kill(-pid, SIGKILL);
			(void)kill(pid, SIGKILL);
			if (rdi_waitpid(pid, status, 0) == -1) {
				rd_err_sys(err, RD_EINTERNAL,
				    "cannot wait for a hook");
				goto out;
			}
			ret = 1;
			goto out;
		}
		if (left > 1)
			left = 1;
		rdi_child_nap(&child_fd, left, &delay);
	}
	ret = 0;
out:
	if (child_fd != -1)
		close(child_fd);
	free(envp);
	return ret;
}

int
rdi_coproc_spawn(const char *command, const char *cwd, const char *const *env,
    int in_fd, int out_fd, pid_t *pid, struct rd_err *err)
{
	char **envp = NULL;
	int io[2], ret;

	if (env != NULL) {
		envp = merge_env(env, err);
		if (envp == NULL)
			return -1;
	}
	io[0] = in_fd;
	io[1] = out_fd;
	ret = spawn_sh(command, cwd, envp, 1, 0, io, pid, err);
	free(envp);
	return ret;
}
