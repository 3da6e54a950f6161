/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fsio.c: I/O that checks everything: full writes and reads that loop on
 * short counts and EINTR, directory fsync, safe path checks, growable
 * buffers, random ids, clocks, and removing a tree without following
 * symlinks.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "rd_int.h"

int
rdi_write_all(int fd, const void *buf, size_t len, const char *what,
    struct rd_err *err)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return rd_err_sys(err, RD_EIO, "cannot write '%s'",
			    what);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
rdi_pwrite_all(int fd, const void *buf, size_t len, off_t off, const char *what,
    struct rd_err *err)
{
	const unsigned char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, off);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return rd_err_sys(err, RD_EIO, "cannot write '%s'",
			    what);
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

ssize_t
rdi_read_full(int fd, void *buf, size_t len, const char *what,
    struct rd_err *err)
{
	unsigned char *p = buf;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, p + got, len - got);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return rd_err_sys(err, RD_EIO, "cannot read '%s'",
			    what);
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

void
rdi_hreader_init(struct rdi_hreader *h, int fd)
{
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->seek = 1;
}

/*
 * Learn what lies at h->pos: data up to h->data_end, a hole up to
 * h->hole_end, or (h->at_end) nothing that the file system knows of:
 * the end, which a read() confirms.  Returns 0 or -1.
 */
static int
hreader_probe(struct rdi_hreader *h, const char *what, struct rd_err *err)
{
	struct stat st;
	off_t d, e;

	h->seek = 1; /* the probes move the offset */
	d = lseek(h->fd, h->pos, SEEK_DATA);
	if (d == -1 && errno == ENXIO) {
		/* no data from pos on: a trailing hole, or the end */
		if (fstat(h->fd, &st) == -1)
			return rd_err_sys(err, RD_EIO, "cannot stat '%s'",
			    what);
		if (st.st_size > h->pos)
			h->hole_end = st.st_size;
		else
			h->at_end = 1;
		return 0;
	}
	if (d == -1) {
		h->plain = 1; /* EINVAL: not on this file system */
		return 0;
	}
	if (d > h->pos) {
		h->hole_end = d;
		return 0;
	}
	e = lseek(h->fd, h->pos, SEEK_HOLE);
	if (e == -1)
		return rd_err_sys(err, RD_EIO, "cannot seek '%s'", what);
	h->data_end = e > h->pos ? e : h->pos + 1;
	return 0;
}

/*
 * read() up to "want" bytes at h->pos (data, or what follows the end as
 * the file system knew it): 0 at the end of the file, or -1.
 */
static ssize_t
hreader_data(struct rdi_hreader *h, void *buf, size_t want, const char *what,
    struct rd_err *err)
{
	ssize_t n;

	if (h->seek && lseek(h->fd, h->pos, SEEK_SET) == -1)
		return rd_err_sys(err, RD_EIO, "cannot seek '%s'", what);
	h->seek = 0;
	do
		n = read(h->fd, buf, want);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return rd_err_sys(err, RD_EIO, "cannot read '%s'", what);
	return n;
}

ssize_t
rdi_hread(struct rdi_hreader *h, void *buf, size_t len, const char *what,
    struct rd_err *err)
{
	unsigned char *p = buf;
	size_t got = 0, want;
	ssize_t n;

	while (got < len) {
		want = len - got;
		if (!h->plain && !h->at_end && h->pos >= h->data_end &&
		    h->pos >= h->hole_end && hreader_probe(h, what, err) == -1)
			return -1;
		if (!h->plain && !h->at_end && h->pos < h->hole_end) {
			if ((off_t)want > h->hole_end - h->pos)
				want = (size_t)(h->hole_end - h->pos);
			memset(p + got, 0, want);
			h->hole_bytes += (int64_t)want;
			got += want;
			h->pos += (off_t)want;
			continue;
		}
		if (!h->plain && !h->at_end &&
		    (off_t)want > h->data_end - h->pos)
			want = (size_t)(h->data_end - h->pos);
		n = hreader_data(h, p + got, want, what, err);
		if (n == -1)
			return -1;
		if (n == 0 && (h->plain || h->at_end))
			break;
		if (n == 0) {
			/* shorter than it was: ask again */
			h->data_end = h->hole_end = h->pos;
			continue;
		}
		/* past the end the file system knew: it grew, ask again */
		h->at_end = 0;
		got += (size_t)n;
		h->pos += n;
	}
	return (ssize_t)got;
}

int
rdi_pread_exact(int fd, void *buf, size_t len, off_t off, const char *what,
    struct rd_err *err)
{
	unsigned char *p = buf;
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(fd, p + got, len - got, off + (off_t)got);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return rd_err_sys(err, RD_EIO, "cannot read '%s'",
			    what);
		}
		if (n == 0)
			return rd_err_set(err, RD_ECORRUPT,
			    "'%s' is truncated at offset %lld", what,
			    (long long)(off + (off_t)got));
		got += (size_t)n;
	}
	return 0;
}

int
rdi_fsync_dirfd(int dfd, const char *what, struct rd_err *err)
{
	if (fsync(dfd) == -1 && errno != EINVAL)
		return rd_err_sys(err, RD_EIO, "cannot fsync '%s'", what);
	return 0;
}

int
rdi_fsync_dir(const char *path, struct rd_err *err)
{
	int fd, ret;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open '%s'", path);
	ret = rdi_fsync_dirfd(fd, path, err);
	close(fd);
	return ret;
}

int
rdi_close(int fd, const char *what, struct rd_err *err)
{
	if (close(fd) == -1 && errno != EINTR)
		return rd_err_sys(err, RD_EIO, "cannot close '%s'", what);
	return 0;
}

int
rdi_path_safe(const char *path)
{
	const char *p = path, *slash;
	size_t n;

	if (*path == '\0' || *path == '/' || strlen(path) > RDI_PATH_MAX)
		return 0;
	while (*p != '\0') {
		slash = strchr(p, '/');
		n = slash != NULL ? (size_t)(slash - p) : strlen(p);
		if (n == 0 || n > NAME_MAX)
			return 0;
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (slash == NULL)
			break;
		p = slash + 1;
		if (*p == '\0')
			return 0;
	}
	return 1;
}

int
rdi_buf_append(struct rdi_buf *b, const void *p, size_t n, struct rd_err *err)
{
	size_t cap;
	unsigned char *d;

	if (n == 0)
		return 0;
	if (b->len + n > b->cap) {
		cap = b->cap != 0 ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL)
			return rd_err_set(err, RD_ENOMEM, "out of memory");
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void
rdi_buf_release(struct rdi_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int
rdi_buf_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	return rdi_buf_append(arg, buf, len, err);
}

int
rdi_null_sink(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	(void)arg;
	(void)buf;
	(void)len;
	(void)err;
	return 0;
}

int
rdi_random(void *buf, size_t len, struct rd_err *err)
{
	if (RAND_bytes(buf, (int)len) != 1)
		return rd_err_set(err, RD_EINTERNAL, "cannot get random bytes");
	return 0;
}

int
rdi_uuid(char out[37], struct rd_err *err)
{
	unsigned char b[16];
	char hex[33];

	if (rdi_random(b, sizeof(b), err) == -1)
		return -1;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	rd_hex(b, sizeof(b), hex);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
	    hex + 16, hex + 20);
	return 0;
}

double
rd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
rd_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
rd_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

int
rdi_open_parent(int rootfd, const char *path, char *name, struct rd_err *err)
{
	char comp[NAME_MAX + 1];
	const char *p = path, *slash;
	size_t n, len = strlen(path);
	int fd, nfd;

	if (len > 0 && path[len - 1] == '/')
		len--;
	fd = dup(rootfd);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot open directory");
	for (;;) {
		slash = memchr(p, '/', len - (size_t)(p - path));
		n = slash != NULL ? (size_t)(slash - p)
		                  : len - (size_t)(p - path);
		/* never up and out of "rootfd", whatever the catalog says */
		if (n == 0 || n > NAME_MAX || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			close(fd);
			return rd_err_set(err, RD_ECORRUPT,
			    "unsafe path '%s' in catalog", path);
		}
		if (slash == NULL) {
			memcpy(name, p, n);
			name[n] = '\0';
			return fd;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		nfd = openat(fd, comp,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd == -1) {
			rd_err_sys(err, RD_EIO, "cannot open '%.*s'",
			    (int)(slash - path), path);
			close(fd);
			return -1;
		}
		close(fd);
		fd = nfd;
		p = slash + 1;
	}
}

void
rdi_put_le64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

uint64_t
rdi_get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void
rdi_put_le32(unsigned char *p, uint32_t v)
{
	int i;

	for (i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

uint32_t
rdi_get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

struct timespec
rdi_ns_to_timespec(int64_t t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(t / 1000000000);
	ts.tv_nsec = (long)(t % 1000000000);
	if (ts.tv_nsec < 0) {
		ts.tv_nsec += 1000000000;
		ts.tv_sec--;
	}
	return ts;
}

DIR *
rdi_opendir_fd(int fd, const char *what, struct rd_err *err)
{
	DIR *d;
	int dfd;

	dfd = dup(fd);
	if (dfd == -1) {
		rd_err_sys(err, RD_EIO, "cannot read directory '%s'", what);
		return NULL;
	}
	d = fdopendir(dfd);
	if (d == NULL) {
		rd_err_sys(err, RD_EIO, "cannot read directory '%s'", what);
		close(dfd);
		return NULL;
	}
	/* the dup shares its offset with "fd": start from the top */
	rewinddir(d);
	return d;
}

int
rdi_dir_has_entries(int fd, const char *what, struct rd_err *err)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	d = rdi_opendir_fd(fd, what, err);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			r = 1;
			break;
		}
	}
	closedir(d);
	return r;
}

/* ------------------------------------------------------------------ */
/* Removing a tree */

/* The deepest tree rdi_rmtree() removes. */
#define RMTREE_DEPTH 1024

static int rmtree_at(int dfd, const char *name, const char *what, int depth,
    struct rd_err *err);

/* Remove everything in the directory "fd"; "what" names it. */
static int
empty_dir(int fd, const char *what, int depth, struct rd_err *err)
{
	DIR *d;
	struct dirent *de;
	int pass, removed;

	for (pass = 0; pass < 3; pass++) {
		d = rdi_opendir_fd(fd, what, err);
		if (d == NULL)
			return -1;
		removed = 0;
		for (;;) {
			errno = 0;
			de = readdir(d);
			if (de == NULL)
				break;
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (rmtree_at(fd, de->d_name, what, depth + 1, err) ==
			    -1) {
				closedir(d);
				return -1;
			}
			removed = 1;
		}
		if (errno != 0) {
			rd_err_sys(err, RD_EIO, "cannot read directory '%s'",
			    what);
			closedir(d);
			return -1;
		}
		closedir(d);
		if (!removed)
			break;
	}
	return 0;
}

/*
 * Remove "name" in the directory "dfd", and all below it when it is a
 * directory, never through a symlink.  "what" names the top in errors.
 */
static int
rmtree_at(int dfd, const char *name, const char *what, int depth,
    struct rd_err *err)
{
	int fd, r;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return rd_err_sys(err, RD_EIO, "cannot remove '%s'", what);
	if (depth >= RMTREE_DEPTH)
		return rd_err_set(err, RD_EIO,
		    "cannot remove '%s': nested deeper than %d directories",
		    what, RMTREE_DEPTH);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == EACCES &&
	    fchmodat(dfd, name, 0700, AT_SYMLINK_NOFOLLOW) == 0)
		fd = openat(dfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return rd_err_sys(err, RD_EIO, "cannot remove '%s'", what);
	/* a directory we cannot write to keeps its entries */
	(void)fchmod(fd, 0700);
	r = empty_dir(fd, what, depth, err);
	close(fd);
	if (r == -1)
		return -1;
	if (unlinkat(dfd, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		return rd_err_sys(err, RD_EIO, "cannot remove '%s'", what);
	return 0;
}

int
rdi_rmtree(int dfd, const char *name, const char *what, struct rd_err *err)
{
	return rmtree_at(dfd, name, what, 0, err);
}

/*
 * Writes a file, leaving holes where whole blocks are zero: a block
 * that a write leaves unfinished is kept in "part" until the next one
 * completes it, so that a hole never depends on where the content
 * reader's pieces end ("cp --sparse=always" does the same).
 */
static int
sparse_block(struct rdi_sparse *ws, const unsigned char *p, size_t len,
    struct rd_err *err)
{
	static const unsigned char zero[RDI_SPARSE_BLOCK];
	size_t run;

	while (len > 0) {
		if (len >= RDI_SPARSE_BLOCK &&
		    memcmp(p, zero, RDI_SPARSE_BLOCK) == 0) {
			ws->off += RDI_SPARSE_BLOCK;
			p += RDI_SPARSE_BLOCK;
			len -= RDI_SPARSE_BLOCK;
			continue;
		}
		/* a run of blocks that are not all zero, written at once */
		run = len < RDI_SPARSE_BLOCK ? len : RDI_SPARSE_BLOCK;
		while (run + RDI_SPARSE_BLOCK <= len &&
		    memcmp(p + run, zero, RDI_SPARSE_BLOCK) != 0)
			run += RDI_SPARSE_BLOCK;
		if (rdi_pwrite_all(ws->fd, p, run, ws->off, ws->path, err) ==
		    -1)
			return -1;
		ws->off += (off_t)run;
		p += run;
		len -= run;
	}
	return 0;
}

int
rdi_sparse_write(void *arg, const void *buf, size_t len, struct rd_err *err)
{
	struct rdi_sparse *ws = arg;
	const unsigned char *p = buf;
	size_t take, whole;

	if (ws->plen > 0) {
		take = RDI_SPARSE_BLOCK - ws->plen;
		if (take > len)
			take = len;
		memcpy(ws->part + ws->plen, p, take);
		ws->plen += take;
		p += take;
		len -= take;
		if (ws->plen < RDI_SPARSE_BLOCK)
			return 0;
		ws->plen = 0;
		if (sparse_block(ws, ws->part, RDI_SPARSE_BLOCK, err) == -1)
			return -1;
	}
	whole = len - len % RDI_SPARSE_BLOCK;
	if (whole > 0 && sparse_block(ws, p, whole, err) == -1)
		return -1;
	memcpy(ws->part, p + whole, len - whole);
	ws->plen = len - whole;
	return 0;
}

int
rdi_sparse_flush(struct rdi_sparse *ws, struct rd_err *err)
{
	size_t n = ws->plen;

	ws->plen = 0;
	return n > 0 ? sparse_block(ws, ws->part, n, err) : 0;
}

void
rdi_sparse_init(struct rdi_sparse *ws, int fd, const char *path)
{
	ws->fd = fd;
	ws->off = 0;
	ws->path = path;
	ws->plen = 0;
}
