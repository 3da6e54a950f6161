/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_util.h: what the fuzz targets share: a scratch directory made
 * once per process, and resetting a store in it to a template's bytes.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>

/* The scratch directory, made on the first call (exits on failure). */
const char *fz_dir(void);
/* Remove every file in directory "path" (not below it). */
void fz_empty(const char *path);
/* Read the whole file "path" into "*buf" (malloc'd); exits on failure. */
size_t fz_slurp(const char *path, unsigned char **buf);
/* Write "len" bytes to "path", replacing it; exits on failure. */
void fz_write(const char *path, const void *buf, size_t len);

#endif
