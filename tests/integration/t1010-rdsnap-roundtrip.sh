#!/bin/sh
# Snapshot, change, snapshot; restore every version byte- and
# metadata-exact; list and ls show what was stored.
. "$RD_SRCDIR/tests/integration/lib.sh"

make_sample_tree src
tree_sig src >sig1
expect_exit 0 rdsnap init store
# the default codec is zstd in a build with libzstd, else zlib
if grep -q '^#define HAVE_ZSTD 1$' "$RD_BUILDDIR/config.h"; then
	codec=zstd
else
	codec=zlib
fi
grep -q "^initialized store 'store' (id [0-9a-f-]*, codec $codec, delta chains up to 8)$" out ||
    fail "init output: $(cat out)"
[ -f store/catalog.db ] && [ -d store/packs ] && [ -d store/tmp ] &&
    [ -f store/lock ] || fail "store layout"
expect_exit 0 rdsnap create store src
grep -q '^snapshot 1: 23 entries' out || fail "create output: $(cat out)"

expect_exit 0 rdsnap ls --snapshot 1 store abc
expect_file out "f 644 3 2020-01-02T03:04:05.500000000Z ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad abc"
expect_exit 0 rdsnap ls --snapshot 1 store link-to-abc
expect_file out "l 777 3 2021-06-01T12:00:00.123456789Z - link-to-abc -> abc"
expect_exit 0 rdsnap ls --snapshot 1 store 'name
with newline'
cut -d' ' -f6- out >name
expect_file name 'name\nwith newline'

# change: edit, delete, add, chmod, a few bytes inside the big file
printf 'port = 9090\n' >src/etc/app/app.conf
rm src/var/lib/db/text.log
printf 'new\n' >src/new-file
chmod 640 src/abc
printf 'XXXXXXXX' | dd of=src/var/lib/db/random.bin bs=1 seek=1000000 conv=notrunc 2>/dev/null
rm src/link-to-abc
ln -s etc src/link-to-abc
tree_sig src >sig2
expect_exit 0 rdsnap create --label after-change store src
grep -q '^snapshot 2: 23 entries, .*; 7 new or changed, 1 removed$' out ||
    fail "create 2 output: $(cat out)"

# an unchanged third snapshot reads nothing
expect_exit 0 rdsnap create --json store src
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["id"] == 3, d
assert d["bytes_read"] == 0, d
assert d["changed"] == 0 and d["removed"] == 0, d
assert d["stored"] == 0, d
PY
# the unchanged files are one catalog row for all three snapshots
rows=$(sqlite3 store/catalog.db "select count(*) from entries where path = cast('abc' as blob) or path = cast('deep/a/b/c/file' as blob)")
[ "$rows" = 3 ] || fail "expected 3 rows for abc (2) and deep file (1), got $rows"
# the big file's change is a delta
kind=$(sqlite3 store/catalog.db "select c.kind || ' ' || (c.len < 100000) from contents c join entries e on e.sha = c.sha where e.path = cast('var/lib/db/random.bin' as blob) and e.first = 2")
[ "$kind" = "1 1" ] || fail "random.bin v2 is not a small delta: $kind"

expect_exit 0 rdsnap restore --snapshot 1 store out1
tree_sig out1 >got1
cmp -s sig1 got1 || { diff sig1 got1 >&2; fail "version 1 restore differs"; }
expect_exit 0 rdsnap restore store out2
grep -q "^restored snapshot 3 into 'out2': 23 entries" out || fail "$(cat out)"
tree_sig out2 >got2
cmp -s sig2 got2 || { diff sig2 got2 >&2; fail "newest restore differs"; }
diff -r --no-dereference src out2 >/dev/null || fail "diff -r src out2"

# one path of the newest snapshot, and one directory of an old one
expect_exit 0 rdsnap restore store part etc/app/app.conf
[ "$(cat part/etc/app/app.conf)" = "port = 9090" ] || fail "partial restore"
[ "$(find part -type f | wc -l)" = 1 ] || fail "partial restore wrote more"
expect_exit 0 rdsnap restore --snapshot 1 store part2 var
tree_sig part2/var >gotvar
tree_sig src/../out1/var >wantvar
cmp -s wantvar gotvar || fail "directory restore differs"

expect_exit 0 rdsnap list store
[ "$(wc -l <out)" = 4 ] || fail "list lines: $(cat out)"
grep -q ' after-change$' out || fail "label not listed"
expect_exit 0 rdsnap list --json store
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [s["id"] for s in d] == [1, 2, 3], d
assert d[1]["label"] == "after-change", d
assert d[0]["files"] == 23 and d[0]["bytes_added"] > 0, d
PY

expect_exit 0 rdsnap verify store
expect_exit 0 rdsnap verify --read-data store
grep -q '^ok: 3 snapshots, ' out || fail "verify: $(cat out)"
