#!/bin/sh
# rdsnap diff: a known change set (added, removed, new content, chmod
# only, mtime only, symlink retargeted, file become directory), the
# reverse change, a range that skips a snapshot, --json, and misuse.
. "$RD_SRCDIR/tests/integration/lib.sh"

# every entry gets the same mtime, so that only deliberate changes show
stamp() {
	find src -exec touch -h -d '2024-01-01 00:00:00' {} +
}

mkdir -p src/sub
printf 'one\n' >src/keep
printf 'gone\n' >src/gone
printf 'v1\n' >src/edit
printf 'mode\n' >src/chmod
printf 'time\n' >src/touch
printf 'file\n' >src/became-dir
printf 'x\n' >src/sub/inner
ln -s keep src/link
find src -type f -exec chmod 644 {} +
find src -type d -exec chmod 755 {} +
stamp
expect_exit 0 rdsnap init store
expect_exit 0 rdsnap create store src

# snapshot 2: one change of each kind
rm src/gone
printf 'v2 longer\n' >src/edit
chmod 600 src/chmod
rm src/link
ln -s edit src/link
rm src/became-dir
mkdir src/became-dir
printf 'in\n' >src/became-dir/in
printf 'added\n' >src/new
chmod 755 src/became-dir
chmod 644 src/became-dir/in src/new
stamp
touch -d '2024-02-02 00:00:00' src/touch
expect_exit 0 rdsnap create store src

expect_exit 0 rdsnap diff --from 1 --snapshot 2 store
expect_file out "- f 5 became-dir
+ d 0 became-dir
+ f 3 became-dir/in
m f mode=644->600 chmod
M f 3 -> 10 edit
- f 5 gone
M l 4 -> 4 link -> edit
+ f 6 new
m f mtime=2024-01-01T00:00:00.000000000Z->2024-02-02T00:00:00.000000000Z touch
added 3 (9 B), removed 2 (10 B), changed 2 (+7 B), metadata-only 2"
expect_empty err
# --snapshot defaults to the newest
expect_exit 0 rdsnap diff --from 1 store
cp out newest
expect_exit 0 rdsnap diff --from 1 --snapshot 2 store
cmp -s out newest || fail "diff 1 differs from diff 1 2"

# going back in time is the reverse change
expect_exit 0 rdsnap diff --from 2 --snapshot 1 store
expect_file out "+ f 5 became-dir
- d 0 became-dir
- f 3 became-dir/in
m f mode=600->644 chmod
M f 10 -> 3 edit
+ f 5 gone
M l 4 -> 4 link -> keep
- f 6 new
m f mtime=2024-02-02T00:00:00.000000000Z->2024-01-01T00:00:00.000000000Z touch
added 2 (10 B), removed 3 (9 B), changed 2 (-7 B), metadata-only 2"

# the same snapshot twice: nothing
expect_exit 0 rdsnap diff --from 2 --snapshot 2 store
expect_file out "added 0 (0 B), removed 0 (0 B), changed 0 (+0 B), metadata-only 0"

# snapshot 3: edit goes back to its first version, new goes away, two
# files appear (one with a newline and a backslash in its name)
printf 'v1\n' >src/edit
rm src/new
printf 'three\n' >src/three
printf 'nl\n' >"src/n\\l
name"
chmod 644 src/three src/n*
stamp
touch -d '2024-02-02 00:00:00' src/touch
expect_exit 0 rdsnap create store src

# 1 to 3 skips 2: what lived only in 2 does not show, and a file that
# changed and changed back is no change
expect_exit 0 rdsnap diff --from 1 --snapshot 3 store
expect_file out "- f 5 became-dir
+ d 0 became-dir
+ f 3 became-dir/in
m f mode=644->600 chmod
- f 5 gone
M l 4 -> 4 link -> edit
+ f 3 n\\\\l\\nname
+ f 6 three
m f mtime=2024-01-01T00:00:00.000000000Z->2024-02-02T00:00:00.000000000Z touch
added 4 (12 B), removed 2 (10 B), changed 1 (+0 B), metadata-only 2"
expect_exit 0 rdsnap diff --from 3 --snapshot 1 store
expect_file out "+ f 5 became-dir
- d 0 became-dir
- f 3 became-dir/in
m f mode=600->644 chmod
+ f 5 gone
M l 4 -> 4 link -> keep
- f 3 n\\\\l\\nname
- f 6 three
m f mtime=2024-02-02T00:00:00.000000000Z->2024-01-01T00:00:00.000000000Z touch
added 2 (10 B), removed 4 (12 B), changed 1 (+0 B), metadata-only 2"
expect_exit 0 rdsnap diff --from 2 store
expect_file out "M f 10 -> 3 edit
+ f 3 n\\\\l\\nname
- f 6 new
+ f 6 three
added 2 (9 B), removed 1 (6 B), changed 1 (-7 B), metadata-only 0"

# --json: one object per change, then the summary
expect_exit 0 rdsnap diff --json --from 1 --snapshot 3 store
expect_empty err
python3 - out <<'PY'
import hashlib, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
changes, summary = lines[:-1], lines[-1]
got = [(c["change"], c["path"]) for c in changes]
assert got == [
    ("removed", "became-dir"), ("added", "became-dir"),
    ("added", "became-dir/in"), ("metadata", "chmod"),
    ("removed", "gone"), ("changed", "link"), ("added", "n\\l\nname"),
    ("added", "three"), ("metadata", "touch")], got
c = {(c["change"], c["path"]): c for c in changes}
d = c[("removed", "became-dir")]
assert d["new"] is None and d["old"]["type"] == "f", d
assert d["old"]["sha256"] == hashlib.sha256(b"file\n").hexdigest(), d
d = c[("added", "became-dir")]
assert d["old"] is None and d["new"]["type"] == "d" and d["new"]["mode"] == 0o755, d
d = c[("metadata", "chmod")]
assert d["differs"] == ["mode"], d
assert (d["old"]["mode"], d["new"]["mode"]) == (0o644, 0o600), d
assert d["old"]["sha256"] == d["new"]["sha256"], d
d = c[("changed", "link")]
assert d["differs"] == ["target"], d
assert (d["old"]["target"], d["new"]["target"]) == ("keep", "edit"), d
assert "sha256" not in d["new"], d
d = c[("metadata", "touch")]
assert d["differs"] == ["mtime"], d
assert d["new"]["mtime"] == "2024-02-02T00:00:00.000000000Z", d
assert d["new"]["mtime_ns"] - d["old"]["mtime_ns"] == 32 * 86400 * 10**9, d
assert summary == {"schema": "rdsnap-diff/1", "from": 1, "to": 3,
    "added": 4, "added_bytes": 12,
    "removed": 2, "removed_bytes": 10, "changed": 1, "changed_bytes": 0,
    "metadata": 2}, summary
PY
expect_exit 0 rdsnap diff --json --from 2 store
python3 - out <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
d = lines[0]
assert d["change"] == "changed" and d["path"] == "edit", d
assert d["differs"] == ["content"], d
assert (d["old"]["size"], d["new"]["size"]) == (10, 3), d
assert lines[-1]["from"] == 2 and lines[-1]["to"] == 3, lines[-1]
assert lines[-1]["changed_bytes"] == -7, lines[-1]
PY

# a file that becomes a symlink is one change of type
rm src/keep
ln -s sub src/keep
touch -h -d '2024-01-01 00:00:00' src/keep src
expect_exit 0 rdsnap create store src
expect_exit 0 rdsnap diff --from 3 --snapshot 4 store
expect_file out "M f>l 4 -> 3 keep -> sub
added 0 (0 B), removed 0 (0 B), changed 1 (-4 B), metadata-only 0"
expect_exit 0 rdsnap diff --json --from 3 --snapshot 4 store
python3 - out <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).readline())
assert d["differs"] == ["type", "mode"], d
assert (d["old"]["type"], d["new"]["type"]) == ("f", "l"), d
PY

# owners, where the test may change them
if [ "$(id -u)" -eq 0 ]; then
	chown 1234:5678 src/three
	expect_exit 0 rdsnap create store src
	expect_exit 0 rdsnap diff --from 4 --snapshot 5 store
	expect_file out "m f uid=0->1234,gid=0->5678 three
added 0 (0 B), removed 0 (0 B), changed 0 (+0 B), metadata-only 1"
fi

# missing snapshots
expect_exit 66 rdsnap diff --from 9 store
expect_file err "rdsnap: no snapshot 9 in 'store'"
expect_empty out
expect_exit 66 rdsnap diff --from 1 --snapshot 9 store
expect_file err "rdsnap: no snapshot 9 in 'store'"
expect_exit 66 rdsnap diff --json --from 8 --snapshot 1 store
expect_file err "rdsnap: no snapshot 8 in 'store'"
expect_empty out
expect_exit 66 rdsnap diff --from 1 --snapshot 2 missing
expect_file err "rdsnap: cannot open store 'missing': No such file or directory"
mkdir empty
expect_exit 0 rdsnap init empty/store
expect_exit 66 rdsnap diff --from 1 empty/store
expect_file err "rdsnap: no snapshot 1 in 'empty/store'"

# without --from: the snapshot before the one compared (the newest)
expect_exit 0 rdsnap diff --snapshot 3 store
cp out before3
expect_exit 0 rdsnap diff --from 2 --snapshot 3 store
cmp -s out before3 || fail "diff --snapshot 3 differs from diff --from 2 --snapshot 3"
newest=$(sqlite3 store/catalog.db 'select max(id) from snapshots')
expect_exit 0 rdsnap diff store
cp out last
expect_exit 0 rdsnap diff --from $((newest - 1)) --snapshot "$newest" store
cmp -s out last || fail "diff differs from diff of the newest two"
expect_exit 66 rdsnap diff --snapshot 1 store
expect_file err "rdsnap: snapshot 1 is the oldest: there is none before it to compare with (give --from N)"
expect_empty out

# misuse
expect_exit 64 rdsnap diff store 1
expect_file err "rdsnap: unexpected operand '1'
usage: rdsnap diff [options] store"
expect_empty out
expect_exit 64 rdsnap diff store 1 2
expect_exit 64 rdsnap diff --from x store
expect_file err "rdsnap: invalid snapshot id 'x' (expected 1 to 9223372036854775807)
usage: rdsnap diff [options] store"
expect_exit 64 rdsnap diff --from 1 --snapshot 0 store
expect_file err "rdsnap: invalid snapshot id '0' (expected 1 to 9223372036854775807)
usage: rdsnap diff [options] store"
expect_exit 64 rdsnap diff --version 2 store
expect_file err "rdsnap: --version takes no value and goes with nothing else (a snapshot is chosen with --snapshot N)
usage: rdsnap diff [options] store"
expect_exit 64 rdsnap diff --read-data --from 1 --snapshot 2 store
expect_file err "rdsnap: diff does not take --read-data
usage: rdsnap diff [options] store"
expect_exit 0 rdsnap diff --help
expect_file out "usage: rdsnap diff [-jqv] [--from N] [-s N] [--syslog] store"
