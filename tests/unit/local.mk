# Check unit tests, one suite per librd module: tests/unit/check_<module>.c.
# check_store covers store.c and catalog.c; check_snap covers snap.c,
# query.c, restore.c and verify.c; check_ship the receiving side of
# rdship (ship/receive.c, recvbatch.c) and chan.c; check_replica
# replica.c and its journal.  unit.h holds the shared helpers.
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_err
tests_unit_check_err_SOURCES = tests/unit/check_err.c tests/unit/unit.h
tests_unit_check_err_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_err_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_fsio
tests_unit_check_fsio_SOURCES = tests/unit/check_fsio.c tests/unit/unit.h
tests_unit_check_fsio_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_fsio_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_hash
tests_unit_check_hash_SOURCES = tests/unit/check_hash.c tests/unit/unit.h
tests_unit_check_hash_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_hash_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_metrics
tests_unit_check_metrics_SOURCES = tests/unit/check_metrics.c tests/unit/unit.h
tests_unit_check_metrics_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_metrics_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_notify
tests_unit_check_notify_SOURCES = tests/unit/check_notify.c tests/unit/unit.h
tests_unit_check_notify_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_notify_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_zio
tests_unit_check_zio_SOURCES = tests/unit/check_zio.c tests/unit/unit.h
tests_unit_check_zio_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_zio_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_delta
tests_unit_check_delta_SOURCES = tests/unit/check_delta.c tests/unit/unit.h
tests_unit_check_delta_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_delta_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_pack
tests_unit_check_pack_SOURCES = tests/unit/check_pack.c tests/unit/unit.h
tests_unit_check_pack_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_pack_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_ship
tests_unit_check_ship_SOURCES = tests/unit/check_ship.c tests/unit/unit.h
tests_unit_check_ship_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_ship_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_replica
tests_unit_check_replica_SOURCES = tests/unit/check_replica.c tests/unit/unit.h
tests_unit_check_replica_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_replica_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_store
tests_unit_check_store_SOURCES = tests/unit/check_store.c tests/unit/unit.h
tests_unit_check_store_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_store_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_snap
tests_unit_check_snap_SOURCES = tests/unit/check_snap.c tests/unit/unit.h
tests_unit_check_snap_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_snap_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_prune
tests_unit_check_prune_SOURCES = tests/unit/check_prune.c tests/unit/unit.h
tests_unit_check_prune_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_prune_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_json
tests_unit_check_json_SOURCES = tests/unit/check_json.c tests/unit/unit.h
tests_unit_check_json_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_json_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_diff
tests_unit_check_diff_SOURCES = tests/unit/check_diff.c tests/unit/unit.h
tests_unit_check_diff_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_diff_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_stats
tests_unit_check_stats_SOURCES = tests/unit/check_stats.c tests/unit/unit.h
tests_unit_check_stats_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_stats_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_cluster
tests_unit_check_cluster_SOURCES = tests/unit/check_cluster.c tests/unit/unit.h
tests_unit_check_cluster_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_cluster_LDADD = $(RD_LIBS) $(CHECK_LIBS)
endif

# rdwatch's records, reports and store probes (watchlog.c, probe_store.c)
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_watchlog
tests_unit_check_watchlog_SOURCES = tests/unit/check_watchlog.c tests/unit/unit.h
tests_unit_check_watchlog_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_watchlog_LDADD = $(RD_LIBS) $(CHECK_LIBS)
endif

# the promotion journal, options check and trees (promote_*.c)
if HAVE_CHECK
check_PROGRAMS += tests/unit/check_promote
tests_unit_check_promote_SOURCES = tests/unit/check_promote.c tests/unit/unit.h
tests_unit_check_promote_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SQLITE3_CFLAGS)
tests_unit_check_promote_LDADD = $(RD_LIBS) $(CHECK_LIBS)

check_PROGRAMS += tests/unit/check_probe
tests_unit_check_probe_SOURCES = tests/unit/check_probe.c
tests_unit_check_probe_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_probe_LDADD = $(RD_LIBS) $(CHECK_LIBS)
endif
