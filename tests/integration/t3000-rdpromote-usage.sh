#!/bin/sh
# rdpromote's command line.
. "$RD_SRCDIR/tests/integration/lib.sh"

expect_exit 64 rdpromote
head -n1 err >first
expect_file first "usage: rdpromote [--primary PROBE] [--fence CMD] [--start CMD] [--check PROBE]"
expect_exit 0 rdpromote --help
expect_exit 0 rdpromote --version
grep -q '^rdpromote (redund) [0-9]' out || fail "version: $(cat out)"
expect_exit 64 rdpromote --bogus s t
expect_exit 64 rdpromote --verify sometimes s t
expect_file err "rdpromote: invalid --verify 'sometimes' (expected full or quick)"
expect_exit 64 rdpromote --drill --fence true s t
expect_file err "rdpromote: a drill does not check the primary, fence or force: drop --primary, --fence and --force"
expect_exit 64 rdpromote --abort --start true s t
expect_file err "rdpromote: --abort takes only the store and the target (and --json, --wait)"
expect_exit 64 rdpromote --check-timeout forever s t
expect_exit 66 rdpromote nostore t
expect_file err "rdpromote: cannot open store 'nostore': No such file or directory"
expect_exit 64 rdpromote history
