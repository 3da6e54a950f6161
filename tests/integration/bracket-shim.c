/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * bracket-shim.c: an LD_PRELOAD library for the bracket tests, in the
 * rdsnap process only: every read(2) of the file whose last path
 * component is RD_SHIM_EIO fails with EIO, so that a snapshot fails
 * while its bracket hook is between "ready" and "done", every time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t
read(int fd, void *buf, size_t len)
{
	ssize_t (*real)(int, void *, size_t) =
	    (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	const char *name = getenv("RD_SHIM_EIO"), *base;
	char link[64], path[4096];
	ssize_t n;

	if (name != NULL &&
	    strcmp(program_invocation_short_name, "rdsnap") == 0) {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof(path) - 1);
		if (n > 0) {
			path[n] = '\0';
			base = strrchr(path, '/');
			if (base != NULL && strcmp(base + 1, name) == 0) {
				errno = EIO;
				return -1;
			}
		}
	}
	return real(fd, buf, len);
}
