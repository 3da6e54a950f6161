#!/bin/sh
# Bad input: a clear one-line error, the documented exit code, and the
# store unchanged.
. "$RD_SRCDIR/tests/integration/lib.sh"

expect_exit 66 rdsnap create missing src
expect_file err "rdsnap: cannot open store 'missing': No such file or directory"
expect_exit 66 rdsnap list missing
mkdir notastore
expect_exit 66 rdsnap list notastore
expect_file err "rdsnap: 'notastore' is not a store (no catalog.db): create one with rdsnap init"

mkdir src && printf 'x' >src/x
expect_exit 0 rdsnap init store
expect_exit 73 rdsnap init store
expect_file err "rdsnap: cannot create store 'store': exists and is not an empty directory"
expect_exit 66 rdsnap create store nosuchdir
expect_file err "rdsnap: cannot open source 'nosuchdir': No such file or directory"
expect_exit 66 rdsnap restore store rst
expect_file err "rdsnap: store 'store' has no snapshots"
[ ! -e rst ] || fail "failed restore left its target"
expect_exit 0 rdsnap create store src
sqlite3 store/catalog.db .dump >before.sql

expect_exit 66 rdsnap restore --snapshot 9 store out
expect_file err "rdsnap: no snapshot 9 in 'store'"
expect_exit 66 rdsnap ls --snapshot 9 store
expect_file err "rdsnap: no snapshot 9 in 'store'"
expect_exit 66 rdsnap ls --snapshot 1 store nope
expect_file err "rdsnap: snapshot 1 has no path 'nope'"
expect_exit 66 rdsnap restore store rst nope
expect_file err "rdsnap: snapshot 1 has no path 'nope'"
expect_exit 64 rdsnap restore store rst ../etc
expect_file err "rdsnap: invalid path '../etc'
usage: rdsnap restore [options] store target [path | pattern ...]"

mkdir full && printf 'keep' >full/keep
expect_exit 73 rdsnap restore store full
expect_file err "rdsnap: restore target 'full' is not empty (use --force to write into it)"
[ "$(ls full)" = keep ] || fail "refused restore touched the target"
expect_exit 0 rdsnap restore --force store full
[ "$(cat full/x)" = x ] && [ "$(cat full/keep)" = keep ] || fail "--force restore"

# a catalog of a newer format: refused, whatever the command, unchanged
cp -a store future
sqlite3 future/catalog.db 'PRAGMA user_version = 99'
expect_exit 66 rdsnap list future
expect_file err "rdsnap: store 'future' has catalog format 99, newer than this redund reads (1 to 4): use a newer redund"
expect_exit 66 rdsnap create future src
[ "$(sqlite3 future/catalog.db 'PRAGMA user_version')" = 99 ] ||
    fail "a refused newer catalog changed its format"

sqlite3 store/catalog.db .dump >after.sql
cmp -s before.sql after.sql || fail "failed commands changed the catalog"
