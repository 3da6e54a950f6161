/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * xattr.c: the extended attributes of an entry (ACLs and file
 * capabilities among them), read into and written from one canonical
 * encoding, the "xattrs" column of an entry row and of a stream:
 *
 *	repeated, names in strictly ascending byte order:
 *	    name (1..255 bytes, no NUL), a NUL byte,
 *	    the value's length (4 bytes, big-endian), the value
 *
 * An entry without attributes has an empty encoding (NULL in the
 * catalog).  The kernel's limits bound it: a name at most XATTR_NAME_MAX
 * bytes, a value at most XATTR_SIZE_MAX, the names together (with their
 * NULs) at most XATTR_LIST_MAX; the whole encoding at most
 * RDI_XATTRS_MAX.  Entries are reached as "/proc/self/fd/DIRFD/NAME",
 * so that a path of any length works and the last name is never
 * followed (the l*xattr calls).
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/xattr.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rd_int.h"

#define NAME_MAX_X 255   /* XATTR_NAME_MAX */
#define VALUE_MAX  65536 /* XATTR_SIZE_MAX */
#define LIST_MAX   65536 /* XATTR_LIST_MAX */

static int
proc_path(char *buf, size_t len, int dfd, const char *name)
{
	int n = snprintf(buf, len, "/proc/self/fd/%d/%s", dfd, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
rdi_xattr_is_acl(const char *name)
{
	return strcmp(name, "system.posix_acl_access") == 0 ||
	    strcmp(name, "system.posix_acl_default") == 0;
}

static int
known_namespace(const char *name, size_t n)
{
	static const char *const ns[] = { "user.", "security.", "trusted.",
		"system." };
	size_t i, l;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		l = strlen(ns[i]);
		if (n > l && memcmp(name, ns[i], l) == 0)
			return 1;
	}
	return 0;
}

int
rdi_xattr_next(const unsigned char *blob, size_t len, size_t *pos,
    const char **name, const unsigned char **val, size_t *vlen)
{
	const unsigned char *p = blob + *pos, *nul;
	size_t left = len - *pos, n;
	uint32_t v;

	if (*pos >= len)
		return 0;
	nul = memchr(p, '\0', left < NAME_MAX_X + 1 ? left : NAME_MAX_X + 1);
	if (nul == NULL)
		return -1;
	n = (size_t)(nul - p);
	if (n == 0 || left - n - 1 < 4)
		return -1;
	v = (uint32_t)nul[1] << 24 | (uint32_t)nul[2] << 16 |
	    (uint32_t)nul[3] << 8 | nul[4];
	if (v > VALUE_MAX || left - n - 5 < v)
		return -1;
	*name = (const char *)p;
	*val = nul + 5;
	*vlen = v;
	*pos += n + 5 + v;
	return 1;
}

int
rdi_xattrs_valid(const unsigned char *blob, size_t len)
{
	const char *name, *prev = NULL;
	const unsigned char *val;
	size_t pos = 0, vlen, names = 0;
	int r;

	if (len > RDI_XATTRS_MAX)
		return 0;
	while ((r = rdi_xattr_next(blob, len, &pos, &name, &val, &vlen)) == 1) {
		names += strlen(name) + 1;
		if (names > LIST_MAX || !known_namespace(name, strlen(name)) ||
		    (prev != NULL && strcmp(prev, name) >= 0))
			return 0;
		prev = name;
	}
	return r == 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int
want(const char *name, int flags)
{
	if (rdi_xattr_is_acl(name))
		return (flags & RDI_XA_NO_ACLS) == 0;
	return (flags & RDI_XA_NO_XATTRS) == 0;
}

/* Append the attribute "name" of "path" to "out"; 0 if it went away. */
static int
read_one(const char *path, const char *name, const char *what,
    struct rdi_buf *out, unsigned char *val, struct rd_err *err)
{
	unsigned char hdr[4];
	ssize_t n;

	n = lgetxattr(path, name, val, VALUE_MAX);
	if (n == -1 && (errno == ENODATA || errno == ENOTSUP))
		return 0;
	if (n == -1)
		return rd_err_sys(err, RD_EIO,
		    "cannot read extended attribute '%s' of '%s'", name, what);
	hdr[0] = (unsigned char)(n >> 24);
	hdr[1] = (unsigned char)(n >> 16);
	hdr[2] = (unsigned char)(n >> 8);
	hdr[3] = (unsigned char)n;
	if (rdi_buf_append(out, name, strlen(name) + 1, err) == -1 ||
	    rdi_buf_append(out, hdr, 4, err) == -1 ||
	    rdi_buf_append(out, val, (size_t)n, err) == -1)
		return -1;
	if (out->len > RDI_XATTRS_MAX)
		return rd_err_set(err, RD_EIO,
		    "extended attributes of '%s' exceed %d bytes", what,
		    RDI_XATTRS_MAX);
	return 0;
}

int
rdi_xattrs_read(int dfd, const char *name, int flags, const char *what,
    struct rdi_buf *out, struct rd_err *err)
{
	char path[64 + NAME_MAX_X + 2];
	char *list = NULL, **names = NULL;
	unsigned char *val = NULL;
	ssize_t n;
	size_t i, k = 0, cnt = 0;
	int ret = -1;

	out->len = 0;
	if ((flags & RDI_XA_NO_XATTRS) && (flags & RDI_XA_NO_ACLS))
		return 0;
	if (proc_path(path, sizeof(path), dfd, name) == -1)
		return rd_err_set(err, RD_ECORRUPT, "name too long: '%s'",
		    what);
	list = malloc(LIST_MAX);
	val = malloc(VALUE_MAX);
	if (list == NULL || val == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	n = llistxattr(path, list, LIST_MAX);
	if (n == -1 && (errno == ENOTSUP || errno == ENOENT)) {
		ret = 0;
		goto out;
	}
	if (n == -1) {
		rd_err_sys(err, RD_EIO,
		    "cannot list extended attributes of '%s'", what);
		goto out;
	}
	for (i = 0; i < (size_t)n; i += strlen(list + i) + 1)
		cnt++;
	names = calloc(cnt + 1, sizeof(*names));
	if (names == NULL) {
		rd_err_set(err, RD_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < (size_t)n; i += strlen(list + i) + 1)
		if (list[i] != '\0' && want(list + i, flags))
			names[k++] = list + i;
	qsort(names, k, sizeof(*names), name_cmp);
	for (i = 0; i < k; i++)
		if (read_one(path, names[i], what, out, val, err) == -1)
			goto out;
	ret = 0;
out:
	free(names);
	free(val);
	free(list);
	return ret;
}

int
rdi_xattrs_apply(int fd, int dfd, const char *name, const unsigned char *blob,
    size_t len, void (*failed)(void *arg, const char *attr, int errnum),
    void *arg)
{
	char path[64 + NAME_MAX_X + 2];
	const char *aname;
	const unsigned char *val;
	size_t pos = 0, vlen;
	int bad = 0;

	if (len == 0)
		return 0;
	if (fd == -1 && proc_path(path, sizeof(path), dfd, name) == -1) {
		failed(arg, "*", ENAMETOOLONG);
		return 1;
	}
	while (rdi_xattr_next(blob, len, &pos, &aname, &val, &vlen) == 1) {
		if ((fd != -1 ? fsetxattr(fd, aname, val, vlen, 0)
		              : lsetxattr(path, aname, val, vlen, 0)) == -1) {
			failed(arg, aname, errno);
			bad++;
		}
	}
	return bad;
}

void
rdi_xattrs_prune(int fd, const unsigned char *blob, size_t len)
{
	char *list;
	const char *name;
	const unsigned char *val;
	size_t i, pos, vlen;
	ssize_t n;
	int keep;

	list = malloc(LIST_MAX);
	if (list == NULL)
		return;
	n = flistxattr(fd, list, LIST_MAX);
	for (i = 0; n > 0 && i < (size_t)n; i += strlen(list + i) + 1) {
		keep = 0;
		pos = 0;
		while (!keep &&
		    rdi_xattr_next(blob, len, &pos, &name, &val, &vlen) == 1)
			keep = strcmp(name, list + i) == 0;
		if (!keep)
			(void)fremovexattr(fd, list + i);
	}
	free(list);
}

int
rdi_entry_meta_at(int dfd, const char *name, const struct rdi_entry_meta *m,
    const char **step)
{
	struct timespec ts[2];

	if (m->chown &&
	    fchownat(dfd, name, (uid_t)m->uid, (gid_t)m->gid,
	        AT_SYMLINK_NOFOLLOW) == -1) {
		*step = "chown";
		return -1;
	}
	if (m->mode != -1 && fchmodat(dfd, name, (mode_t)m->mode, 0) == -1) {
		*step = "chmod";
		return -1;
	}
	if (m->xalen > 0)
		(void)rdi_xattrs_apply(-1, dfd, name, m->xa, m->xalen,
		    m->failed, m->arg);
	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1] = rdi_ns_to_timespec(m->mtime);
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) == -1) {
		*step = "set times of";
		return -1;
	}
	return 0;
}
