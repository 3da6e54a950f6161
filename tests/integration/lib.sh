# tests/integration/lib.sh: sourced by every integration test.
#
# Runs the test with "set -eu" in a fresh temp directory (removed on exit
# unless the test failed and RD_TEST_KEEP=1), with the built tools first
# in PATH.  Helpers:
#   expect_exit CODE cmd...   run cmd, save stdout in ./out and stderr in
#                             ./err, fail unless it exits with CODE
#   expect_file FILE TEXT     fail unless FILE holds exactly TEXT + newline
#   expect_empty FILE         fail unless FILE is empty
#   fail MSG                  fail the test with MSG
#   RD_ON_EXIT=CMD            run CMD at exit (stop servers), status kept
#   term_wait PID WHAT        send SIGTERM to the background child PID, wait
#                             up to 120 s for it to end (else fail), and
#                             set rc to its exit status
#   tree_sig DIR              print a listing of DIR with type, mode, size,
#                             mtime (ns), symlink target and SHA-256
# With RD_VALGRIND=1 in the environment every tool the test runs from the
# build directory runs under valgrind's memcheck: an error or a definite
# or indirect leak makes it exit 99, which fails the test (valgrind's
# report is in .valgrind/log.PID of the test's directory, kept with
# RD_TEST_KEEP=1).
# shellcheck shell=sh

set -eu
: "${RD_BUILDDIR:?run through make check}"
: "${RD_SRCDIR:?run through make check}"
PATH="$RD_BUILDDIR:$PATH"
export PATH
LC_ALL=C
export LC_ALL
TZ=UTC
export TZ

RD_TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rdtest.$RD_TEST_NAME.XXXXXX")
# Extra cleanup for a test (stop its servers): set RD_ON_EXIT to a
# command; it runs before the temp dir goes and cannot change the status.
RD_ON_EXIT=
rd_cleanup() {
	rc=$?
	if [ -n "$RD_ON_EXIT" ]; then
		eval "$RD_ON_EXIT" >/dev/null 2>&1 || true
	fi
	cd /
	if [ "$rc" -ne 0 ] && [ "${RD_TEST_KEEP:-0}" = 1 ]; then
		echo "kept $TMP" >&2
	else
		chmod -R u+rwx "$TMP" 2>/dev/null || true
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap rd_cleanup EXIT
trap 'exit 1' INT TERM HUP
cd "$TMP"

if [ "${RD_VALGRIND:-0}" = 1 ]; then
	mkdir "$TMP/.valgrind"
	for t in rdsnap rdship rdwatch rdpromote; do
		printf '#!/bin/sh\nexec valgrind -q --log-file=%s/.valgrind/log.%%%%p --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 "%s/%s" "$@"\n' \
		    "$TMP" "$RD_BUILDDIR" "$t" >"$TMP/.valgrind/$t"
		chmod 755 "$TMP/.valgrind/$t"
	done
	PATH="$TMP/.valgrind:$PATH"
fi

fail() {
	echo "FAIL: $RD_TEST_NAME: $*" >&2
	exit 1
}

expect_exit() {
	want=$1
	shift
	set +e
	"$@" >out 2>err
	got=$?
	set -e
	if [ "$got" -ne "$want" ]; then
		echo "command: $*" >&2
		echo "--- stdout" >&2
		cat out >&2
		echo "--- stderr" >&2
		cat err >&2
		fail "exit status $got, expected $want"
	fi
}

expect_file() {
	printf '%s\n' "$2" >expected.txt
	if ! cmp -s expected.txt "$1"; then
		echo "--- expected" >&2
		cat expected.txt >&2
		echo "--- got ($1)" >&2
		cat "$1" >&2
		fail "$1 differs from the expected text"
	fi
}

expect_empty() {
	if [ -s "$1" ]; then
		echo "--- $1" >&2
		cat "$1" >&2
		fail "$1 is not empty"
	fi
}

tree_sig() {
	(
		cd "$1"
		find . -mindepth 1 -printf '%y %m %U:%G %s %T@ %l %P\n' | sort -k7
		find . -type f -print0 | sort -z | xargs -0r sha256sum
	) | sed 's/ \.\// /'
}

# tree_sig without directory mtimes, for trees that were changed in place
tree_sig_nodirtime() {
	(
		cd "$1"
		find . -mindepth 1 ! -type d -printf '%y %m %s %T@ %l %P\n' |
		    sort -k6
		find . -mindepth 1 -type d -printf '%y %m %P\n' | sort -k3
		find . -type f -print0 | sort -z | xargs -0r sha256sum
	)
}

# A small tree with every kind of entry and awkward names.
make_sample_tree() {
	mkdir -p "$1/etc/app" "$1/var/lib/db" "$1/empty dir" "$1/deep/a/b/c"
	printf 'abc' >"$1/abc"
	printf 'port = 8080\n' >"$1/etc/app/app.conf"
	: >"$1/empty file"
	printf 'spaces\n' >"$1/name with spaces"
	printf 'newline\n' >"$1/name
with newline"
	printf 'utf8\n' >"$1/caf$(printf '\303\251')-$(printf '\346\227\245\346\234\254')"
	head -c 3000000 /dev/urandom >"$1/var/lib/db/random.bin"
	seq 1 300000 >"$1/var/lib/db/text.log"
	printf 'deep\n' >"$1/deep/a/b/c/file"
	ln -s abc "$1/link-to-abc"
	ln -s ../../etc "$1/var/lib/link-to-dir"
	ln -s does-not-exist "$1/dangling"
	chmod 600 "$1/etc/app/app.conf"
	if [ "$(id -u)" -eq 0 ]; then
		# owners come back too (restores run as root here)
		chown 1234:5678 "$1/etc/app/app.conf" "$1/deep/a"
		chown -h 4321:8765 "$1/link-to-abc"
	fi
	chmod 755 "$1/deep/a/b/c/file"
	chmod 700 "$1/var/lib/db"
	touch -h -d '2021-06-01 12:00:00.123456789' "$1/link-to-abc"
	touch -d '2020-01-02 03:04:05.5' "$1/abc"
}

term_wait() {
	kill -TERM "$1"
	n=0
	while kill -0 "$1" 2>/dev/null; do
		n=$((n + 1))
		[ $n -lt 1200 ] || fail "$2 did not stop after SIGTERM"
		sleep 0.1
	done
	set +e
	wait "$1"
	rc=$?
	set -e
}
