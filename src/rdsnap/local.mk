# rdsnap: snapshots: create, list, restore, verify, prune, diff, stats.

bin_PROGRAMS += rdsnap
rdsnap_SOURCES = src/rdsnap/rdsnap.h src/rdsnap/rdsnap.c \
	src/rdsnap/create.c src/rdsnap/list.c src/rdsnap/diff.c \
	src/rdsnap/stats.c src/rdsnap/restore.c src/rdsnap/runmetrics.c \
	src/rdsnap/cat.c src/rdsnap/find.c
rdsnap_LDADD = $(RD_LIBS)

dist_man_MANS += man/rdsnap.1
