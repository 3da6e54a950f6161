/* SPDX-License-Identifier: BSD-2-Clause */
#include <sys/stat.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"

static char dir[] = "/tmp/rdfuzz.XXXXXX";
static int made;

static void
cleanup(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

const char *
fz_dir(void)
{
	if (!made) {
		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			exit(1);
		}
		made = 1;
		atexit(cleanup);
	}
	return dir;
}

void
fz_empty(const char *path)
{
	char p[4096];
	struct dirent *de;
	DIR *d = opendir(path);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' ||
		        (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		(void)unlink(p);
	}
	closedir(d);
}

size_t
fz_slurp(const char *path, unsigned char **buf)
{
	struct stat sb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1 || fstat(fd, &sb) == -1 ||
	    (*buf = malloc((size_t)sb.st_size + 1)) == NULL ||
	    read(fd, *buf, (size_t)sb.st_size) != sb.st_size) {
		perror(path);
		exit(1);
	}
	close(fd);
	return (size_t)sb.st_size;
}

void
fz_write(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd == -1 || (len > 0 && write(fd, buf, len) != (ssize_t)len) ||
	    close(fd) == -1) {
		perror(path);
		exit(1);
	}
}
