#!/bin/sh
# A path that an ordinary user cannot read is never recorded as removed:
# it keeps its previous version, the snapshot is partial (catalog rows,
# list, problems), create exits 3, and retention cannot drop the last
# copy.  The same for a subtree cut off by the file descriptor limit.
. "$RD_SRCDIR/tests/integration/lib.sh"

chmod 755 "$TMP"
as_user() {
	runuser -u nobody -- "$@"
}
mkdir -p src/d/sub src/e
printf 'a\n' >src/a
printf 'b\n' >src/d/b
printf 'deep\n' >src/d/sub/c
printf 'e\n' >src/e/f
ln -s a src/l
chown -R nobody "$TMP"
as_user rdsnap init store >/dev/null
expect_exit 0 as_user rdsnap create --quiet store src
rdsnap ls --snapshot 1 store | cut -d' ' -f5- >ls1

chmod 000 src/a src/d
chmod 600 src/e
expect_exit 3 as_user rdsnap create --quiet store src
# (files are read in parallel: the order of the notices may vary)
sort err >err.sorted
expect_file err.sorted "rdsnap: 'a' could not be read (Permission denied): kept its previous version
rdsnap: 'd/' could not be read (Permission denied): kept the previous version of its contents
rdsnap: 'e/f' could not be read (Permission denied): kept its previous version
rdsnap: snapshot 2 is partial: 3 paths could not be read (rdsnap problems lists them)"
expect_empty out
# every path is still there, with its old content
rdsnap ls --snapshot 2 store | cut -d' ' -f5- >ls2
cmp ls1 ls2 || fail "snapshot 2 lost paths: $(diff ls1 ls2)"
expect_exit 0 rdsnap diff store
expect_file out "m d mode=755->0 d
m d mode=755->600 e
added 0 (0 B), removed 0 (0 B), changed 0 (+0 B), metadata-only 2"
expect_exit 0 rdsnap problems store
expect_file out "unreadable  a: Permission denied
unreadable  d: Permission denied
unreadable  e/f: Permission denied"
expect_exit 0 rdsnap problems --snapshot 1 store
expect_empty out
[ "$(sqlite3 store/catalog.db 'select id, partial from snapshots order by id')" = "1|0
2|3" ] || fail "snapshots.partial: $(sqlite3 store/catalog.db 'select id, partial from snapshots')"
[ "$(sqlite3 store/catalog.db "select snapshot, cast(path as text), problem
    from snapshot_problems order by path")" = "2|a|unreadable
2|d/|unreadable
2|e/f|unreadable" ] || fail "snapshot_problems rows"
expect_exit 0 rdsnap list store
grep -q '^ *2  .*  partial  *$' out || fail "list does not mark 2 partial: $(cat out)"
grep -q '^ *1  .*  complete  *$' out || fail "list does not mark 1 complete"
expect_exit 0 rdsnap list --json store
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [s["partial"] for s in d] == [0, 3], d
assert d[1]["files"] == d[0]["files"] == 9, d
PY

# create && prune from cron: retention keeps what the partial one kept
expect_exit 0 as_user rdsnap prune --keep-last 1 --quiet store
expect_exit 0 rdsnap verify --read-data store
expect_exit 0 rdsnap restore store rst
[ "$(cat rst/a rst/d/b rst/d/sub/c rst/e/f)" = "a
b
deep
e" ] || fail "the partial snapshot does not restore the kept files"

# readable again: complete, exit 0
chmod 755 src/d src/e
chmod 644 src/a
expect_exit 0 as_user rdsnap create --quiet store src
expect_empty err
expect_exit 0 rdsnap list --json store
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [s["partial"] for s in d] == [3, 0], d
PY

# a file that was never stored and cannot be read is named, not hidden,
# and its name cannot drive the terminal
new=$(printf 'new\033[2J\007')
printf 'new\n' >"src/$new"
chmod 000 "src/$new"
expect_exit 3 as_user rdsnap create --quiet store src
expect_file err "rdsnap: 'new?[2J?' could not be read (Permission denied): not in this snapshot
rdsnap: snapshot 4 is partial: 1 path could not be read (rdsnap problems lists them)"
rm -f "src/$new"

# the descriptor limit on a deep tree keeps the subtree, never drops it
p=src/deep
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 \
    26 27 28 29 30 31 32 33 34 35 36 37 38 39 40; do
	p=$p/$i
done
mkdir -p "$p"
printf 'bottom\n' >"$p/file"
chown -R nobody src
expect_exit 0 as_user rdsnap create --quiet store src
set +e
(ulimit -n 32 && exec runuser -u nobody -- rdsnap create --quiet store src) \
    >out 2>err
rc=$?
set -e
[ "$rc" = 3 ] || fail "create with few descriptors: exit $rc: $(cat err)"
grep -q "could not be read (Too many open files): kept the previous version of its contents" \
    err || fail "no EMFILE notice: $(cat err)"
expect_exit 0 rdsnap ls store "${p#src/}/file"
expect_exit 0 rdsnap restore store rst2 "${p#src/}/file"
[ "$(cat "rst2/${p#src/}/file")" = bottom ] || fail "deep file lost"
expect_exit 0 rdsnap verify --read-data store
