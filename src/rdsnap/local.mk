# rdsnap: snapshots: create, list, restore, verify, prune, diff, stats.

bin_PROGRAMS += rdsnap
rdsnap_SOURCES = src/rdsnap/rdsnap.c
rdsnap_LDADD = $(RD_LIBS)

dist_man_MANS += man/rdsnap.1
