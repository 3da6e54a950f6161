/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe_exec.c: the exec probe: a command run through the shell runner
 * of base/proc.c in a process group of its own, up when it exits 0,
 * killed with its group when the probe's time is up.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "probe_int.h"

void
rdi_probe_exec_run(const struct rd_probe *p, double deadline, double timeout,
    struct rd_probe_result *res)
{
	struct rd_err err = RD_ERR_INIT;
	double delay = 0.001, left;
	char what[64];
	pid_t pid, r;
	int status, fd;

	if (rdi_spawn_sh(p->command, NULL, 1, 0, &pid, &err) == -1) {
		rdi_probe_error(res, err.code, "%s", err.msg);
		return;
	}
	fd = rdi_child_fd(pid);
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
		rdi_child_nap(&fd, left, &delay);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		res->state = RD_PROBE_UP;
	else {
		rdi_wait_status(status, what, sizeof(what));
		rdi_probe_down(res, "%s", what);
	}
out:
	if (fd != -1)
		close(fd);
}
