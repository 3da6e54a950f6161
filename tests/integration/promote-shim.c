/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * promote-shim.c: an LD_PRELOAD library for the rdpromote tests, built
 * by promote-lib.sh.  It gives the tests deterministic points inside the
 * steps that run no hook, in the rdpromote process only:
 *
 *   RD_PAUSE_AT=syncfs      pause in materialize, after the restore
 *   RD_PAUSE_AT=readlinkat  pause in verify, at the first symlink
 *   RD_PAUSE_AT=renameat2   pause in switch, after the first rename
 *                           (the old target moved aside, the new tree
 *                           not yet in place)
 *
 * On pausing it creates the file RD_PAUSE_MARK and waits for a signal
 * (the test sends SIGKILL).  RD_PLANT=1 makes an empty directory at the
 * destination of the first rename to a ".pre-promote-" name just before
 * the rename, as another process could: the switch must never replace
 * it.
 */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
ours(void)
{
	return strcmp(program_invocation_short_name, "rdpromote") == 0;
}

static void
pause_at(const char *what)
{
	const char *at = getenv("RD_PAUSE_AT");
	const char *mark = getenv("RD_PAUSE_MARK");
	int fd;

	if (!ours() || at == NULL || mark == NULL || strcmp(at, what) != 0)
		return;
	fd = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd != -1)
		close(fd);
	for (;;)
		pause();
}

static void
plant(const char *to)
{
	static int planted;
	const char *p = getenv("RD_PLANT");

	if (ours() && !planted && p != NULL && strcmp(p, "1") == 0 &&
	    strstr(to, ".pre-promote-") != NULL) {
		(void)mkdir(to, 0755);
		planted = 1;
	}
}

int
syncfs(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "syncfs");

	pause_at("syncfs");
	return real(fd);
}

ssize_t
readlinkat(int dfd, const char *path, char *buf, size_t len)
{
	ssize_t (*real)(int, const char *, char *, size_t) =
	    (ssize_t (*)(int, const char *, char *, size_t))dlsym(RTLD_NEXT,
	        "readlinkat");

	pause_at("readlinkat");
	return real(dfd, path, buf, len);
}

int
renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
	int (*real)(int, const char *, int, const char *, unsigned) =
	    (int (*)(int, const char *, int, const char *, unsigned))dlsym(
	        RTLD_NEXT, "renameat2");
	int r, saved;

	plant(to);
	r = real(ofd, from, nfd, to, flags);
	saved = errno;
	if (r == 0)
		pause_at("renameat2");
	errno = saved;
	return r;
}

int
rename(const char *from, const char *to)
{
	int (*real)(const char *, const char *) =
	    (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");

	plant(to);
	return real(from, to);
}
