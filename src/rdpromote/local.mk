# rdpromote: promotion of a standby, drills and aborts.

bin_PROGRAMS += rdpromote
rdpromote_SOURCES = src/rdpromote/rdpromote.c
rdpromote_LDADD = $(RD_LIBS)

dist_man_MANS += man/rdpromote.1
