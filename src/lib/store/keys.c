/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * keys.c: the shipping key: making a key file, loading one, and finding
 * a store's own (STORE/ship.key), refusing a file others can read or a
 * symlink.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rd_int.h"

int
rd_key_generate(const char *path, struct rd_err *err)
{
	unsigned char key[RD_KEY_LEN];
	char hex[2 * RD_KEY_LEN + 2];
	int fd, ret = -1;

	if (rdi_random(key, sizeof(key), err) == -1)
		return -1;
	rd_hex(key, sizeof(key), hex);
	hex[2 * RD_KEY_LEN] = '\n';
	hex[2 * RD_KEY_LEN + 1] = '\0';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		if (errno == EEXIST)
			return rd_err_set(err, RD_ECANTCREAT,
			    "key file '%s' exists; not overwriting it", path);
		return rd_err_sys(err, RD_ECANTCREAT, "cannot create '%s'",
		    path);
	}
	if (rdi_write_all(fd, hex, strlen(hex), path, err) == -1)
		goto out;
	if (fsync(fd) == -1) {
		rd_err_sys(err, RD_EIO, "cannot fsync '%s'", path);
		goto out;
	}
	ret = 0;
out:
	if (rdi_close(fd, path, err) == -1)
		ret = -1;
	if (ret == -1)
		unlink(path);
	memset(key, 0, sizeof(key));
	memset(hex, 0, sizeof(hex));
	return ret;
}

static int
key_load_at(int dfd, const char *name, const char *shown,
    unsigned char key[RD_KEY_LEN], struct rd_err *err)
{
	struct stat sb;
	char buf[2 * RD_KEY_LEN + 8];
	ssize_t n;
	int fd, ret = -1;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ELOOP)
		return rd_err_set(err, RD_EPERM,
		    "key file '%s' is a symlink: refusing it", shown);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open key file '%s'",
		    shown);
	if (fstat(fd, &sb) == -1) {
		rd_err_sys(err, RD_EIO, "cannot stat key file '%s'", shown);
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rd_err_set(err, RD_EPERM, "key file '%s' is not a regular file",
		    shown);
		goto out;
	}
	if ((sb.st_mode & 077) != 0) {
		rd_err_set(err, RD_EPERM,
		    "key file '%s' is accessible to others (mode %03o): chmod 600 it",
		    shown, (unsigned)(sb.st_mode & 0777));
		goto out;
	}
	n = rdi_read_full(fd, buf, sizeof(buf) - 1, shown, err);
	if (n == -1)
		goto out;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (rd_unhex(buf, key, RD_KEY_LEN) == -1) {
		rd_err_set(err, RD_EPERM,
		    "key file '%s' does not hold a key (64 hex digits; make one with rdship keygen)",
		    shown);
		goto out;
	}
	ret = 0;
out:
	memset(buf, 0, sizeof(buf));
	close(fd);
	return ret;
}

int
rd_key_load(const char *path, unsigned char key[RD_KEY_LEN], struct rd_err *err)
{
	return key_load_at(AT_FDCWD, path, path, key, err);
}

int
rd_store_key(struct rd_store *st, unsigned char key[RD_KEY_LEN],
    struct rd_err *err)
{
	struct stat sb;
	char shown[PATH_MAX];

	if (fstatat(st->dfd, "ship.key", &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT)
			return 0;
		return rd_err_sys(err, RD_EIO, "cannot stat '%s/ship.key'",
		    st->path);
	}
	snprintf(shown, sizeof(shown), "%s/ship.key", st->path);
	if (key_load_at(st->dfd, "ship.key", shown, key, err) == -1)
		return -1;
	return 1;
}
