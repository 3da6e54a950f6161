# rdwatch: health probes with rise/fall damping, hooks and metrics.

src_lib_librd_a_SOURCES += \
	src/lib/rd_probe.h \
	src/lib/probe_int.h \
	src/lib/probe.c \
	src/lib/probe_net.c \
	src/lib/probe_exec.c \
	src/lib/probe_store.c \
	src/lib/watch.c \
	src/lib/watchlog.c

bin_PROGRAMS += rdwatch
rdwatch_SOURCES = src/rdwatch/rdwatch.c
rdwatch_LDADD = $(RD_LIBS)

dist_man_MANS += man/rdwatch.1

if HAVE_CHECK
check_PROGRAMS += tests/unit/check_probe
tests_unit_check_probe_SOURCES = tests/unit/check_probe.c
tests_unit_check_probe_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_check_probe_LDADD = $(RD_LIBS) $(CHECK_LIBS)
endif

RDWATCH_TESTS = \
	tests/integration/t2000-rdwatch-usage.sh \
	tests/integration/t2010-rdwatch-tcp.sh \
	tests/integration/t2020-rdwatch-http.sh \
	tests/integration/t2030-rdwatch-exec-file.sh \
	tests/integration/t2040-rdwatch-loop.sh \
	tests/integration/t2050-rdwatch-metrics.sh \
	tests/integration/t2060-rdwatch-signals.sh \
	tests/integration/t2070-rdwatch-store.sh \
	tests/integration/t2080-rdwatch-report.sh
INTEGRATION_TESTS += $(RDWATCH_TESTS)
EXTRA_DIST += $(RDWATCH_TESTS) tests/integration/rdwatch-servers.py
