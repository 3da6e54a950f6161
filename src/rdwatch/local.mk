# rdwatch: health probes with rise/fall damping, hooks and metrics.

bin_PROGRAMS += rdwatch
rdwatch_SOURCES = src/rdwatch/rdwatch.c
rdwatch_LDADD = $(RD_LIBS)

dist_man_MANS += man/rdwatch.1

RDWATCH_TESTS = \
	tests/integration/t2000-rdwatch-usage.sh \
	tests/integration/t2010-rdwatch-tcp.sh \
	tests/integration/t2020-rdwatch-http.sh \
	tests/integration/t2030-rdwatch-exec-file.sh \
	tests/integration/t2040-rdwatch-loop.sh \
	tests/integration/t2050-rdwatch-metrics.sh \
	tests/integration/t2055-rdwatch-gauges.sh \
	tests/integration/t2060-rdwatch-signals.sh \
	tests/integration/t2070-rdwatch-store.sh \
	tests/integration/t2080-rdwatch-report.sh
INTEGRATION_TESTS += $(RDWATCH_TESTS)
EXTRA_DIST += $(RDWATCH_TESTS) tests/integration/rdwatch-servers.py
