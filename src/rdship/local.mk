# rdship: shipping: init, push, receive, status of standbys.

bin_PROGRAMS += rdship
rdship_SOURCES = src/rdship/rdship.c src/rdship/runmetrics.h \
	src/rdship/runmetrics.c
rdship_LDADD = $(RD_LIBS)

dist_man_MANS += man/rdship.1
