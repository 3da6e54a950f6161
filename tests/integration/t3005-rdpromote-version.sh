#!/bin/sh
# Issue 11, problem 1: "--version" only ever prints the program version,
# in every tool, and only when it is alone: a --version with a value or
# with operands (a mistyped or empty snapshot variable) is a usage error
# that promotes, restores or changes nothing.  A snapshot is chosen with
# --snapshot N everywhere, and a value that is no snapshot id is 64.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

setup_standby
sqlite3 s/catalog.db .dump >before.sql
msg="--version takes no value and goes with nothing else (a snapshot is chosen with --snapshot N)"

for tool in rdsnap rdship rdwatch rdpromote; do
	expect_exit 0 "$tool" --version
	expect_file out "$tool (redund) $(sed -n 's/.*(redund) //p' out)"
	expect_exit 0 "$tool" -V
	grep -q "^$tool (redund) " out || fail "$tool -V: $(cat out)"
done

V=
expect_exit 64 rdpromote --version "$V" --force --no-fence s target
expect_file err "rdpromote: $msg
usage: rdpromote [options] store target"
expect_empty out
expect_exit 64 rdpromote --version 1 --force --no-fence s target
expect_file err "rdpromote: $msg
usage: rdpromote [options] store target"
expect_exit 64 rdpromote --version s target
expect_exit 64 rdpromote --version=1 --force --no-fence s target
expect_exit 64 rdpromote --drill --version 1 s scratch
expect_file err "rdpromote: $msg
usage: rdpromote [options] store target"
expect_exit 64 rdpromote -V --force --no-fence s target
expect_file err "rdpromote: $msg
usage: rdpromote [options] store target"
expect_exit 64 rdpromote history --version s
expect_file err "rdpromote: $msg
usage: rdpromote history [options] store"
[ ! -e target ] && [ ! -e scratch ] || fail "a --version promoted something"

expect_exit 64 rdsnap restore --version 1 s rv
expect_file err "rdsnap: $msg
usage: rdsnap restore [options] store target [path | pattern ...]"
expect_exit 64 rdsnap restore --version "$V" s rv
expect_exit 64 rdsnap --version restore s rv
expect_file err "rdsnap: $msg
usage: rdsnap {init|create|list|problems|ls|cat|find|diff|restore|verify|prune|stats} [options] store ... (rdsnap --help)"
expect_exit 64 rdsnap ls --version 1 s
expect_exit 64 rdsnap diff --version 1 s
[ ! -e rv ] || fail "a --version restored something"
expect_exit 64 rdship status --version s
expect_file err "rdship: $msg
usage: rdship status [options] store"
expect_exit 64 rdship --version status s
expect_exit 64 rdwatch --version tcp://127.0.0.1:1
expect_file err "rdwatch: $msg
usage: rdwatch [options] probe ..."
sqlite3 s/catalog.db .dump >after.sql
cmp -s before.sql after.sql || fail "a --version changed the store"

# --snapshot N everywhere
expect_exit 0 rdsnap restore --snapshot 1 s r1
[ "$(cat r1/etc/app/app.conf)" = "port = 8080" ] || fail "restore --snapshot 1"
expect_exit 0 rdsnap ls --snapshot 1 s etc/app/app.conf
grep -q ' etc/app/app.conf$' out || fail "ls --snapshot 1: $(cat out)"
expect_exit 0 rdsnap diff --from 1 --snapshot 2 s
expect_file out "M f 12 -> 3 etc/app/app.conf
added 0 (0 B), removed 0 (0 B), changed 1 (-9 B), metadata-only 0"
for bad in x 0 -1 1x ''; do
	expect_exit 64 rdsnap restore --snapshot "$bad" s rbad
	expect_file err "rdsnap: invalid snapshot id '$bad' (expected 1 to 9223372036854775807)
usage: rdsnap restore [options] store target [path | pattern ...]"
	expect_exit 64 rdsnap ls --snapshot "$bad" s
	expect_exit 64 rdsnap diff --snapshot "$bad" s
	expect_exit 64 rdsnap diff --from "$bad" s
	expect_exit 64 rdpromote --snapshot "$bad" --force --no-fence s target
	expect_file err "rdpromote: invalid snapshot id '$bad' (expected 1 to 9223372036854775807)
usage: rdpromote [options] store target"
	expect_exit 64 rdpromote --drill --snapshot "$bad" s scratch
done
[ ! -e rbad ] && [ ! -e target ] || fail "a bad --snapshot did something"
expect_exit 66 rdsnap restore --snapshot 9 s r9
expect_file err "rdsnap: no snapshot 9 in 's'"
expect_exit 66 rdpromote --snapshot 9 --force --no-fence s target
expect_file err "rdpromote: no snapshot 9 in 's'"
