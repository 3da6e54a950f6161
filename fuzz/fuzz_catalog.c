/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_catalog.c: libFuzzer target for the catalog reader.  An input is
 * the bytes of a store's catalog.db, put in a store whose packs are those
 * of the seed store (fuzz/corpus/catalog holds such catalogs, made by
 * fuzz/mkcorpus); the store is then opened and listed, each snapshot's
 * entries walked, and verified.  An internal error (exit 70) on a hostile
 * catalog is a bug: it aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "rd_int.h"

static char store[4200], catalog[4300];

static int
on_snap(void *arg, const struct rd_snapinfo *si)
{
	(void)arg;
	(void)si;
	return 0;
}

static int
on_entry(void *arg, const struct rd_entry *e)
{
	(void)arg;
	(void)e;
	return 0;
}

static void
check(const struct rd_err *err)
{
	if (err->code == RD_EINTERNAL) {
		fprintf(stderr, "internal error on a catalog: %s\n", err->msg);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_verify_opts vo = RD_VERIFY_OPTS_INIT;
	struct rd_verify_result vr;
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st;
	char side[4400];

	if (store[0] == '\0') {
		struct rd_init_opts io = RD_INIT_OPTS_INIT;

		snprintf(store, sizeof(store), "%s/c", fz_dir());
		if (rd_store_init(store, &io, &err) == -1) {
			fprintf(stderr, "%s\n", err.msg);
			exit(1);
		}
		snprintf(catalog, sizeof(catalog), "%s/catalog.db", store);
	}
	snprintf(side, sizeof(side), "%s-wal", catalog);
	(void)unlink(side);
	snprintf(side, sizeof(side), "%s-shm", catalog);
	(void)unlink(side);
	fz_write(catalog, data, size);
	if (rd_store_open(store, RD_OPEN_READ, 0, &st, &err) == -1) {
		check(&err);
		return 0;
	}
	if (rd_snap_list(st, on_snap, NULL, &err) == -1)
		check(&err);
	rd_err_clear(&err);
	if (rd_snap_entries(st, 0, NULL, on_entry, NULL, &err) == -1)
		check(&err);
	rd_err_clear(&err);
	if (rd_verify(st, &vo, &vr, &err) == -1)
		check(&err);
	rd_store_close(st);
	return 0;
}
