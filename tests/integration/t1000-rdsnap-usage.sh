#!/bin/sh
# rdsnap's command line: help, version, misuse.
. "$RD_SRCDIR/tests/integration/lib.sh"

expect_exit 64 rdsnap
expect_file err "rdsnap: missing command
usage: rdsnap {init|create|list|problems|ls|cat|find|diff|restore|verify|prune|stats} [options] store ... (rdsnap --help)"
expect_empty out

expect_exit 0 rdsnap --help
head -n2 out >first
expect_file first "usage: rdsnap init [-jqv] [--codec zlib|zstd] [--chain N] [--standby [--no-key]]
              [--syslog] store"
expect_empty err

expect_exit 0 rdsnap -h
# one subcommand's help is that subcommand's usage only
expect_exit 0 rdsnap create --help
expect_file out "usage: rdsnap create [-jqv] [-w SECONDS] [--checksum] [--exclude PATTERN]
              [--exclude-from FILE] [--one-file-system] [--no-xattrs]
              [--no-acls] [--label TEXT]
              [--threads N] [--pre COMMAND] [--post COMMAND]
              [--bracket COMMAND] [--may-change PATTERN]
              [--hook-timeout SECONDS] [--metrics FILE] [--syslog]
              store source"
expect_empty err
expect_exit 0 rdsnap ls -h
expect_file out "usage: rdsnap ls [-jqv] [-s N] [--syslog] store [path | pattern]"
expect_exit 0 rdsnap --version
grep -q '^rdsnap (redund) [0-9]' out || fail "version line: $(cat out)"
expect_exit 0 rdsnap -V

expect_exit 64 rdsnap frobnicate store
expect_file err "rdsnap: unknown command 'frobnicate'
usage: rdsnap {init|create|list|problems|ls|cat|find|diff|restore|verify|prune|stats} [options] store ... (rdsnap --help)"

# a usage error: a one-line reason, then one short usage line
expect_exit 64 rdsnap create --bogus store src
expect_file err "rdsnap: unrecognized option '--bogus'
usage: rdsnap create [options] store source"
expect_exit 64 rdsnap create store
expect_file err "rdsnap: missing source
usage: rdsnap create [options] store source"
expect_exit 64 rdsnap create /x
expect_file err "rdsnap: missing source
usage: rdsnap create [options] store source"
expect_empty out
expect_exit 64 rdsnap list
expect_file err "rdsnap: missing store
usage: rdsnap list [options] store"
expect_exit 64 rdsnap restore store
expect_file err "rdsnap: missing target
usage: rdsnap restore [options] store target [path | pattern ...]"
expect_exit 64 rdsnap ls store a b
expect_file err "rdsnap: unexpected operand 'b'
usage: rdsnap ls [options] store [path | pattern]"
expect_exit 64 rdsnap ls -s
expect_file err "rdsnap: option requires an argument -- 's'
usage: rdsnap ls [options] store [path | pattern]"
expect_exit 64 rdsnap --json list store
expect_file err "rdsnap: missing command before '--json'
usage: rdsnap {init|create|list|problems|ls|cat|find|diff|restore|verify|prune|stats} [options] store ... (rdsnap --help)"
expect_exit 64 rdsnap list --read-data store
expect_file err "rdsnap: list does not take --read-data
usage: rdsnap list [options] store"
expect_exit 64 rdsnap list -n store
expect_file err "rdsnap: list does not take --dry-run
usage: rdsnap list [options] store"
expect_exit 64 rdsnap create --threads 0 store src
expect_file err "rdsnap: invalid thread count '0' (expected 1 to 256)
usage: rdsnap create [options] store source"
expect_exit 64 rdsnap init --chain 99 store
expect_file err "rdsnap: invalid chain length '99' (expected 1 to 64)
usage: rdsnap init [options] store"
expect_exit 64 rdsnap init --codec lz4 store
expect_file err "rdsnap: unknown codec 'lz4' (expected zlib or zstd)
usage: rdsnap init [options] store"
expect_exit 64 rdsnap create --wait soon store src
expect_file err "rdsnap: invalid wait 'soon' (expected seconds, or a number with s, m, h, d or w)
usage: rdsnap create [options] store source"
[ ! -e store ] || fail "misuse created the store"
