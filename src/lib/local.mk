# librd.a: the library the four tools share, one folder a layer, each
# layer using only the ones listed before it.  The public API is
# redund.h (with rd_probe.h for probes); rd_int.h is shared by the
# library's own files and its tests, never by a tool.

src_lib_librd_a_SOURCES = \
	src/lib/redund.h \
	src/lib/rd_probe.h \
	src/lib/rd_int.h

# base: errors, file system I/O, hashing, JSON, child processes
src_lib_librd_a_SOURCES += \
	src/lib/base/err.c \
	src/lib/base/fsio.c \
	src/lib/base/xattr.c \
	src/lib/base/hash.c \
	src/lib/base/json.c \
	src/lib/base/duration.c \
	src/lib/base/proc.c \
	src/lib/base/metrics.c

# store: codecs, deltas, packs, the catalog, the store and its row checks,
# the content reader, the drill records
src_lib_librd_a_SOURCES += \
	src/lib/store/zio.c \
	src/lib/store/delta.c \
	src/lib/store/sigpar.c \
	src/lib/store/catalog.c \
	src/lib/store/pack.c \
	src/lib/store/store.c \
	src/lib/store/keys.c \
	src/lib/store/rowcheck.c \
	src/lib/store/content.c \
	src/lib/store/drill.c

# cluster: the etcd client (HTTP, a bounded JSON reader) and the
# cluster's leadership claim
src_lib_librd_a_SOURCES += \
	src/lib/cluster/cluster_int.h \
	src/lib/cluster/jsonr.c \
	src/lib/cluster/http.c \
	src/lib/cluster/etcd.c \
	src/lib/cluster/claim.c

# snap: snapshots and what reads them back
src_lib_librd_a_SOURCES += \
	src/lib/snap/snap_int.h \
	src/lib/snap/snap.c \
	src/lib/snap/walk.c \
	src/lib/snap/exclude.c \
	src/lib/snap/glob.c \
	src/lib/snap/workers.c \
	src/lib/snap/record.c \
	src/lib/snap/scratch.c \
	src/lib/snap/bracket.c \
	src/lib/snap/notify.c \
	src/lib/snap/restore.c \
	src/lib/snap/verify.c \
	src/lib/snap/prune.c \
	src/lib/snap/query.c \
	src/lib/snap/find.c \
	src/lib/snap/diff.c \
	src/lib/snap/stats.c

# ship: the channel, sending and receiving bundles, status, the
# warm replica
src_lib_librd_a_SOURCES += \
	src/lib/ship/ship_int.h \
	src/lib/ship/chan.c \
	src/lib/ship/follow.c \
	src/lib/ship/session.c \
	src/lib/ship/send.c \
	src/lib/ship/receive.c \
	src/lib/ship/recvbatch.c \
	src/lib/ship/status.c \
	src/lib/ship/recvcache.c \
	src/lib/ship/rejoin.c \
	src/lib/ship/replica.c

# watch: probes, the watch loop and its history
src_lib_librd_a_SOURCES += \
	src/lib/watch/probe_int.h \
	src/lib/watch/probe.c \
	src/lib/watch/probe_net.c \
	src/lib/watch/probe_exec.c \
	src/lib/watch/probe_store.c \
	src/lib/watch/probe_etcd.c \
	src/lib/watch/watch.c \
	src/lib/watch/watchlog.c

# promote: the promotion's steps, checks, journal, abort and drills
src_lib_librd_a_SOURCES += \
	src/lib/promote/promote_int.h \
	src/lib/promote/promote.c \
	src/lib/promote/promote_check.c \
	src/lib/promote/promote_abort.c \
	src/lib/promote/promote_journal.c \
	src/lib/promote/promote_handover.c \
	src/lib/promote/promote_tree.c
