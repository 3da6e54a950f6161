/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snap-shim.c: an LD_PRELOAD library for the rdsnap tests, in the rdsnap
 * process only.  It plays a file system whose timestamps are too coarse
 * to see a rewrite, and a writer that rewrites a file between two reads:
 *
 *   RD_SHIM_FILE=NAME   the file (by its last path component)
 *   RD_SHIM_DATA=PATH   its new bytes, written over it in place the first
 *                       time a read of it reaches the end of the file
 *
 * fstat of NAME always answers the size, mtime and ctime it answered
 * first, so the rewrite is invisible to the stat checks: only the bytes
 * tell.  With RD_SHIM_TICK=1 instead, every fstat of NAME answers an
 * mtime one nanosecond later than the one before: a file that is being
 * written all the time, without a writer racing the reads.
 *
 *   RD_SHIM_STALL=NAME  every read of NAME blocks until the process is
 *                       killed: a copy that is still running when a
 *                       test kills it
 *
 * RD_SHIM_PROG=NAME plays all this in the program NAME (default rdsnap).
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

static int frozen, rewritten;
static long ticks;
static struct stat first;

/* Whether "fd" is the file named in the environment variable "var", with
 * its path in "path". */
static int
named(const char *var, int fd, char *path, size_t size)
{
	char link[64];
	const char *name = getenv(var), *base;
	ssize_t n;

	if (name == NULL ||
	    strcmp(program_invocation_short_name,
	        getenv("RD_SHIM_PROG") != NULL ? getenv("RD_SHIM_PROG")
	                                       : "rdsnap") != 0)
		return 0;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, size - 1);
	if (n <= 0)
		return 0;
	path[n] = '\0';
	base = strrchr(path, '/');
	return base != NULL && strcmp(base + 1, name) == 0;
}

static int
target(int fd, char *path, size_t size)
{
	return named("RD_SHIM_FILE", fd, path, size);
}

static void
rewrite(const char *path)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	in = open(getenv("RD_SHIM_DATA"), O_RDONLY | O_CLOEXEC);
	out = open(path, O_WRONLY | O_CLOEXEC);
	if (in == -1 || out == -1)
		abort();
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			abort();
	if (n == -1)
		abort();
	close(in);
	close(out);
	rewritten = 1;
}

static int
shim_fstat(const char *sym, int fd, struct stat *sb)
{
	int (*real)(int, struct stat *) =
	    (int (*)(int, struct stat *))dlsym(RTLD_NEXT, sym);
	char path[4096];
	int saved;

	if (real(fd, sb) == -1)
		return -1;
	saved = errno;
	if (target(fd, path, sizeof(path))) {
		if (!frozen) {
			first = *sb;
			frozen = 1;
		}
		sb->st_size = first.st_size;
		sb->st_mtim = first.st_mtim;
		sb->st_ctim = first.st_ctim;
		if (getenv("RD_SHIM_TICK") != NULL)
			sb->st_mtim.tv_nsec = (first.st_mtim.tv_nsec + ++ticks) %
			    1000000000L;
	}
	errno = saved;
	return 0;
}

int
fstat(int fd, struct stat *sb)
{
	return shim_fstat("fstat", fd, sb);
}

/* the same layout as struct stat on 64-bit Linux */
int
fstat64(int fd, struct stat64 *sb)
{
	return shim_fstat("fstat64", fd, (struct stat *)sb);
}

ssize_t
read(int fd, void *buf, size_t len)
{
	ssize_t (*real)(int, void *, size_t) =
	    (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	char path[4096];
	ssize_t n;
	int saved;

	if (named("RD_SHIM_STALL", fd, path, sizeof(path)))
		for (;;)
			pause();
	n = real(fd, buf, len);
	saved = errno;
	if (n == 0 && len > 0 && !rewritten &&
	    getenv("RD_SHIM_DATA") != NULL && target(fd, path, sizeof(path)))
		rewrite(path);
	errno = saved;
	return n;
}
