#!/bin/sh
# Finding things in a store: ls and restore with glob patterns, cat of
# one file (byte-exact, a large one too; a directory or link refused),
# find across snapshots with a file deleted and created again.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir -p src/sub/deep src/other
printf 'top\n' >src/top.txt
printf 'one\n' >src/sub/a.txt
printf 'two\n' >src/sub/b.log
printf 'deep\n' >src/sub/deep/c.txt
printf 'x\n' >src/other/a.txt
ln -s top.txt src/link
head -c 3000000 /dev/urandom >src/big
expect_exit 0 rdsnap init S
expect_exit 0 rdsnap create --quiet S src

# ls: a pattern matches whole paths with FNM_PATHNAME; a matched
# directory brings what is below it
expect_exit 0 rdsnap ls S 'sub/*'
cut -d' ' -f1,6 out >got
expect_file got 'f sub/a.txt
f sub/b.log
d sub/deep
f sub/deep/c.txt'
expect_exit 0 rdsnap ls S '*/a.txt'
cut -d' ' -f6 out >got
expect_file got 'other/a.txt
sub/a.txt'
expect_exit 0 rdsnap ls S '*.txt'
cut -d' ' -f6 out >got
expect_file got 'top.txt'
expect_exit 0 rdsnap ls S 's?b/[ab].*'
cut -d' ' -f6 out >got
expect_file got 'sub/a.txt
sub/b.log'
expect_exit 0 rdsnap ls --json S './sub/deep/*'
expect_file out '{"schema":"rdsnap-ls/1","path":"sub/deep/c.txt","type":"f","mode":420,"uid":'"$(id -u)"',"gid":'"$(id -g)"',"size":5,"mtime_ns":'"$(sed 's/.*"mtime_ns":\([0-9]*\).*/\1/' out)"',"mtime":"'"$(sed 's/.*"mtime":"\([^"]*\)".*/\1/' out)"'","sha256":"'"$(sha256sum src/sub/deep/c.txt | cut -d' ' -f1)"'"}'
expect_exit 66 rdsnap ls S 'sub/*.pdf'
expect_file err "rdsnap: snapshot 1 has no path matching 'sub/*.pdf'"
expect_empty out
# a plain path is still a path
expect_exit 66 rdsnap ls S 'sub/nothing'
expect_file err "rdsnap: snapshot 1 has no path 'sub/nothing'"

# restore: patterns, each checked before anything is written
expect_exit 66 rdsnap restore S r0 'sub/*.txt' 'nothing*'
expect_file err "rdsnap: snapshot 1 has no path matching 'nothing*'"
[ ! -e r0 ] || fail "restore wrote r0"
expect_exit 0 rdsnap restore --quiet S r1 'sub/*.txt' '*/deep' 'l?nk'
(cd r1 && find . | sort) >got
expect_file got '.
./link
./sub
./sub/a.txt
./sub/deep
./sub/deep/c.txt'
cmp r1/sub/a.txt src/sub/a.txt || fail "a.txt differs"
cmp r1/sub/deep/c.txt src/sub/deep/c.txt || fail "c.txt differs"
[ "$(readlink r1/link)" = top.txt ] || fail "link"

# cat: byte-exact, a large file too, streamed to stdout
expect_exit 0 rdsnap cat S sub/a.txt
cmp out src/sub/a.txt || fail "cat a.txt"
expect_empty err
rdsnap cat S big >big.out || fail "cat big"
cmp big.out src/big || fail "cat big differs"
rdsnap cat S ./big | sha256sum >sum1
sha256sum <src/big >sum2
cmp sum1 sum2 || fail "cat big through a pipe"
expect_exit 0 rdsnap create --quiet S src
: >src/empty
expect_exit 0 rdsnap create --quiet S src
expect_exit 0 rdsnap cat S empty
expect_empty out
expect_exit 64 rdsnap cat S sub
expect_file err "rdsnap: 'sub' is a directory in snapshot 3: cat prints one file (list it with ls, copy it with restore)
usage: rdsnap cat [options] store path"
expect_empty out
expect_exit 64 rdsnap cat S .
expect_file err "rdsnap: '.' is a directory in snapshot 3: cat prints one file (list it with ls, copy it with restore)
usage: rdsnap cat [options] store path"
expect_exit 64 rdsnap cat S link
expect_file err "rdsnap: 'link' is a symbolic link to 'top.txt' in snapshot 3: cat prints one file
usage: rdsnap cat [options] store path"
expect_exit 66 rdsnap cat S nothing
expect_file err "rdsnap: snapshot 3 has no path 'nothing'"
expect_exit 66 rdsnap cat --snapshot 9 S top.txt
expect_file err "rdsnap: no snapshot 9 in 'S'"
expect_exit 64 rdsnap cat S
# an older snapshot
printf 'top v2\n' >src/top.txt
expect_exit 0 rdsnap create --quiet S src
expect_exit 0 rdsnap cat S top.txt
expect_file out 'top v2'
expect_exit 0 rdsnap cat --snapshot 1 S top.txt
expect_file out 'top'

# find: which snapshots hold a path; sub/a.txt deleted in 5, created
# again (same bytes) in 6, changed in 7
rm src/sub/a.txt
expect_exit 0 rdsnap create --quiet S src
printf 'one\n' >src/sub/a.txt
expect_exit 0 rdsnap create --quiet S src
printf 'one v2\n' >src/sub/a.txt
expect_exit 0 rdsnap create --quiet S src
one=$(printf 'one\n' | sha256sum | cut -d' ' -f1)
two=$(printf 'one v2\n' | sha256sum | cut -d' ' -f1)
expect_exit 0 rdsnap find S sub/a.txt
cut -d' ' -f1,2,4,6,7 out >got
expect_file got "1-4 f 4 $one sub/a.txt
6 f 4 $one sub/a.txt
7 f 7 $two sub/a.txt"
# a pattern without '/' matches names at any depth
expect_exit 0 rdsnap find S 'a.txt'
cut -d' ' -f1,7 out >got
expect_file got '1-7 other/a.txt
1-4 sub/a.txt
6 sub/a.txt
7 sub/a.txt'
expect_exit 0 rdsnap find S 'top.*'
cut -d' ' -f1,7 out >got
expect_file got '1-3 top.txt
4-7 top.txt'
expect_exit 0 rdsnap find --json S 'sub/a.txt'
python3 - out "$one" "$two" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
got = [(r["path"], r["first"], r["last"], r["type"], r["size"], r["sha256"])
       for r in rows]
want = [("sub/a.txt", 1, 4, "f", 4, sys.argv[2]),
        ("sub/a.txt", 6, 6, "f", 4, sys.argv[2]),
        ("sub/a.txt", 7, 7, "f", 7, sys.argv[3])]
assert got == want, got
PY
expect_exit 1 rdsnap find S '*.pdf'
expect_empty out
expect_file err "rdsnap: no snapshot of 'S' has a path matching '*.pdf'"
expect_exit 1 rdsnap find --json S '*.pdf'
expect_empty out
expect_exit 64 rdsnap find S
expect_exit 0 rdsnap init E
expect_exit 1 rdsnap find E '*'
expect_file err "rdsnap: no snapshot of 'E' has a path matching '*'"
