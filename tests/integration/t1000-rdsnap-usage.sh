#!/bin/sh
# rdsnap's command line: help, version, misuse.
. "$RD_SRCDIR/tests/integration/lib.sh"

expect_exit 64 rdsnap
head -n1 err >first
expect_file first "usage: rdsnap init [--codec zlib|zstd] [--chain N] [--standby [--no-key]] [--json]"
expect_empty out

expect_exit 0 rdsnap --help
head -n1 out >first
expect_file first "usage: rdsnap init [--codec zlib|zstd] [--chain N] [--standby [--no-key]] [--json]"
expect_empty err

expect_exit 0 rdsnap -h
expect_exit 0 rdsnap create --help
expect_exit 0 rdsnap --version
grep -q '^rdsnap (redund) [0-9]' out || fail "version line: $(cat out)"
expect_exit 0 rdsnap -V

expect_exit 64 rdsnap frobnicate store
head -n1 err >first
expect_file first "rdsnap: unknown command 'frobnicate'"

expect_exit 64 rdsnap create --bogus store src
expect_exit 64 rdsnap create store
expect_exit 64 rdsnap list
expect_exit 64 rdsnap list --read-data store
expect_file err "rdsnap: list does not take --read-data"
expect_exit 64 rdsnap create --threads 0 store src
expect_file err "rdsnap: invalid thread count '0' (expected 1 to 256)"
expect_exit 64 rdsnap init --chain 99 store
expect_file err "rdsnap: invalid chain length '99' (expected 1 to 64)"
expect_exit 64 rdsnap init --codec lz4 store
expect_file err "rdsnap: unknown codec 'lz4' (expected zlib or zstd)"
expect_exit 64 rdsnap create --wait soon store src
expect_file err "rdsnap: invalid wait 'soon' (expected seconds, or a number with s, m, h, d or w)"
[ ! -e store ] || fail "misuse created the store"
