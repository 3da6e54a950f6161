#!/bin/sh
# Sockets are skipped by rule, silently; fifos are kept; hard links are
# stored once and come back as one inode; sparse files come back sparse;
# a restore never follows a symlink planted in the target.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir src
printf 'data\n' >src/file
mkfifo src/fifo
python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' src/sock
head -c 2000000 /dev/urandom >src/hard1
ln src/hard1 src/hard2
cp src/hard1 src/copy
truncate -s 50M src/sparse
printf 'tail' | dd of=src/sparse bs=1 seek=30000000 conv=notrunc 2>/dev/null

expect_exit 0 rdsnap init store
expect_exit 0 rdsnap create --json store src
expect_empty err
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["skipped"] == 1, d
assert d["files"] == 7, d   # root, file, fifo, hard1, hard2, copy, sparse
PY
# a second run warns about nothing either
expect_exit 0 rdsnap create --quiet store src
expect_empty err
n=$(sqlite3 store/catalog.db "select count(distinct sha) from entries where sha is not null")
[ "$n" = 3 ] || fail "expected 3 contents (file, hard link/copy, sparse), got $n"
n=$(sqlite3 store/catalog.db "select count(*) from contents")
[ "$n" = 3 ] || fail "contents rows: $n"
stored=$(sqlite3 store/catalog.db "select sum(len) from contents")
[ "$stored" -lt 3000000 ] || fail "hard link or copy stored twice ($stored bytes)"

expect_exit 0 rdsnap restore store rst
cmp src/sparse rst/sparse || fail "sparse content"
blocks=$(stat -c %b rst/sparse)
[ "$blocks" -lt 1000 ] || fail "restored sparse file is not sparse ($blocks blocks)"
[ -p rst/fifo ] && [ ! -e rst/sock ] || fail "fifo not restored, or socket restored"
cmp src/hard1 rst/hard2 || fail "hard link content"
[ "$(stat -c %i rst/hard1)" = "$(stat -c %i rst/hard2)" ] &&
    [ "$(stat -c %h rst/hard1)" = 2 ] || fail "hard links restored as two files"
[ "$(stat -c %i rst/copy)" != "$(stat -c %i rst/hard1)" ] ||
    fail "a copy restored as a hard link"

# a symlink planted where a file will go is replaced, not followed
mkdir victim
printf 'secret' >victim/target
mkdir planted
ln -s ../victim/target planted/file
expect_exit 0 rdsnap restore --force store planted
[ "$(cat victim/target)" = secret ] || fail "restore followed a planted symlink"
[ ! -L planted/file ] && [ "$(cat planted/file)" = data ] ||
    fail "planted symlink not replaced"
# a symlinked directory in the target is not written through either
mkdir planted2
ln -s ../victim planted2/sub
mkdir -p src/sub && printf 'inner' >src/sub/target
expect_exit 0 rdsnap create store src
expect_exit 0 rdsnap restore --force store planted2
[ "$(cat victim/target)" = secret ] || fail "restore wrote through a symlinked dir"
[ -d planted2/sub ] && [ ! -L planted2/sub ] || fail "symlinked dir not replaced"
