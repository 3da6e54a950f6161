/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_receive.c: libFuzzer target for rd_ship_receive, the standby's
 * reader of hostile streams.  An input is a list of frames,
 *
 *	type (1 byte)  length (4 bytes, little-endian)  payload
 *
 * that the harness writes as a well-formed stream (preamble, lengths and
 * MACs with the public zero key, as an attacker without a key could), so
 * that mutations reach the frame parsers instead of failing a MAC.  An
 * input whose first byte is 0 is written raw instead, for the preamble
 * and framing.  Each input is received into a standby reset to a fresh
 * one's bytes.  The seed corpus (fuzz/corpus/receive) holds real bundles
 * in this form, made by fuzz/mkcorpus.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "rd_int.h"

static unsigned char *tmpl;
static size_t tmpl_len;
static char store[4200], catalog[4300], packs[4300], tmp[4300];

static void
setup(void)
{
	struct rd_init_opts io = RD_INIT_OPTS_INIT;
	struct rd_err err = RD_ERR_INIT;

	snprintf(store, sizeof(store), "%s/s", fz_dir());
	io.standby = 1;
	if (rd_store_init(store, &io, &err) == -1) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	snprintf(catalog, sizeof(catalog), "%s/catalog.db", store);
	snprintf(packs, sizeof(packs), "%s/packs", store);
	snprintf(tmp, sizeof(tmp), "%s/tmp", store);
	tmpl_len = fz_slurp(catalog, &tmpl);
}

/* The input as a stream in the memory file "fd". */
static int
write_stream(int fd, const uint8_t *data, size_t size)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_chan ch;
	uint32_t len;
	int ret = -1;

	if (size > 0 && data[0] == 0)
		return write(fd, data + 1, size - 1) == (ssize_t)(size - 1)
		    ? 0
		    : -1;
	if (rdi_chan_init(&ch, -1, fd, NULL, 1, &err) == -1)
		return -1;
	if (rdi_chan_send_preamble(&ch, &err) == -1)
		goto out;
	while (size >= 5) {
		len = (uint32_t)data[1] | (uint32_t)data[2] << 8 |
		    (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
		if (len > size - 5)
			len = (uint32_t)(size - 5);
		if (rdi_chan_send(&ch, data[0], data + 5, len, &err) == -1)
			goto out;
		data += 5 + len;
		size -= 5 + len;
	}
	ret = rdi_chan_flush(&ch, &err);
out:
	rdi_chan_release(&ch);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_ship_opts o = RD_SHIP_OPTS_INIT;
	struct rd_ship_result res;
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st;
	char side[4400];
	int fd;

	if (tmpl == NULL)
		setup();
	/* a fresh standby: its catalog as made, no packs */
	fz_empty(packs);
	fz_empty(tmp);
	snprintf(side, sizeof(side), "%s-wal", catalog);
	(void)unlink(side);
	snprintf(side, sizeof(side), "%s-shm", catalog);
	(void)unlink(side);
	fz_write(catalog, tmpl, tmpl_len);
	fd = memfd_create("stream", MFD_CLOEXEC);
	if (fd == -1 || write_stream(fd, data, size) == -1 ||
	    lseek(fd, 0, SEEK_SET) == -1) {
		if (fd != -1)
			close(fd);
		return 0;
	}
	if (rd_store_open(store, RD_OPEN_WRITE, 0, &st, &err) == 0) {
		(void)rd_ship_receive(st, fd, -1, &o, &res, &err);
		/* the internal class is a bug on hostile input */
		if (err.code == RD_EINTERNAL) {
			fprintf(stderr, "internal error on a stream: %s\n",
			    err.msg);
			abort();
		}
		rd_store_close(st);
	}
	close(fd);
	return 0;
}
