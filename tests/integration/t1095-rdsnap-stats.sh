#!/bin/sh
# rdsnap stats: every count and size agrees with the catalog and with the
# pack files on disk, in JSON and in the aligned text form; unused object
# bytes and orphan packs are found; misuse and a missing store.
. "$RD_SRCDIR/tests/integration/lib.sh"

# the JSON of "rdsnap stats" in ./out against the catalog and packs/
check_stats() {
	python3 - out store <<'PY'
import json, os, sqlite3, sys
s = json.load(open(sys.argv[1]))
store = sys.argv[2]
db = sqlite3.connect("file:%s/catalog.db?mode=ro" % store, uri=True)
def q(sql):
    v = db.execute(sql).fetchone()[0]
    return 0 if v is None else v
snaps = "FROM snapshots WHERE state = 'complete'"
want = {
    "snapshots": q("SELECT COUNT(*) " + snaps),
    "entries": q("SELECT COUNT(*) FROM entries"),
    "logical_bytes": q("SELECT SUM(bytes) " + snaps),
    "contents": q("SELECT COUNT(*) FROM contents"),
    "contents_full": q("SELECT COUNT(*) FROM contents WHERE kind = 0"),
    "contents_delta": q("SELECT COUNT(*) FROM contents WHERE kind = 1"),
    "unique_bytes": q("SELECT SUM(size) FROM contents"),
    "full_raw_bytes": q("SELECT SUM(size) FROM contents WHERE kind = 0"),
    "full_stored_bytes": q("SELECT SUM(len) FROM contents WHERE kind = 0"),
    "delta_raw_bytes": q("SELECT SUM(size) FROM contents WHERE kind = 1"),
    "delta_stored_bytes": q("SELECT SUM(len) FROM contents WHERE kind = 1"),
    "depth_max": q("SELECT MAX(depth) FROM contents"),
    "signatures": q("SELECT COUNT(*) FROM signatures"),
    "signature_bytes": q("SELECT SUM(len) FROM signatures"),
    "catalog_packs": q("SELECT COUNT(*) FROM packs"),
}
for k, v in want.items():
    assert s[k] == v, (k, s[k], v)
if s["snapshots"] > 0:
    assert s["oldest"] == q("SELECT MIN(id) " + snaps), s
    assert s["newest"] == q("SELECT MAX(id) " + snaps), s
    assert s["oldest_time"] == int(q("SELECT started %s AND id = %d" %
        (snaps, s["oldest"]))), s
    assert s["newest_time"] == int(q("SELECT started %s AND id = %d" %
        (snaps, s["newest"]))), s
else:
    assert s["oldest"] is None and s["newest_time"] is None, s
depths = dict(db.execute("SELECT depth, COUNT(*) FROM contents GROUP BY depth"))
want = [depths.get(d, 0) for d in range(s["depth_max"] + 1)] if depths else []
assert s["depth_counts"] == want, (s["depth_counts"], want)
mean = q("SELECT AVG(depth) FROM contents")
assert abs(s["depth_mean"] - mean) < 1e-9, (s["depth_mean"], mean)
assert s["dedup_saved_bytes"] == s["logical_bytes"] - s["unique_bytes"], s
live = q("SELECT SUM(len) + 96 * COUNT(*) FROM contents") + \
    q("SELECT SUM(len) + 96 * COUNT(*) FROM signatures")
assert s["live_bytes"] == live, (s["live_bytes"], live)
assert s["unreferenced_bytes"] == q("SELECT SUM(size) - 8 * COUNT(*) FROM packs") - live, s
names = set(r[0] for r in db.execute("SELECT name FROM packs"))
files = [f for f in os.listdir(store + "/packs") if f.endswith(".pack")]
sizes = {f: os.stat(store + "/packs/" + f).st_size for f in files}
assert s["packs"] == len(files), s
assert s["pack_bytes"] == sum(sizes.values()), s
orphans = [f for f in files if f[:-5] not in names]
assert s["orphan_packs"] == len(orphans), s
assert s["orphan_bytes"] == sum(sizes[f] for f in orphans), s
cat = os.stat(store + "/catalog.db").st_size
if os.path.exists(store + "/catalog.db-wal"):
    cat += os.stat(store + "/catalog.db-wal").st_size
assert s["catalog_bytes"] == cat, (s["catalog_bytes"], cat)
assert s["disk_bytes"] == s["pack_bytes"] + s["catalog_bytes"], s
assert s["store"] == store, s
PY
}

# the text form in ./out, rendered from the JSON in ./json
check_text() {
	python3 - json out <<'PY'
import json, sys, time
s = json.load(open(sys.argv[1]))
def hb(n):
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    v, u = float(n), 0
    while (v >= 1024 or v <= -1024) and u < 4:
        v /= 1024
        u += 1
    return "%d B" % n if u == 0 else "%.1f %s" % (v, units[u])
def saving(saved, base):
    if base > 0:
        return "%s (%.1f%%)" % (hb(saved), 100.0 * saved / base)
    return hb(saved)
def when(t):
    return time.strftime("%Y-%m-%d %H:%M:%S +0000", time.gmtime(t))
rows = []
if s["snapshots"] > 0:
    rows.append(("snapshots", "%d (%d to %d)" % (s["snapshots"], s["oldest"],
        s["newest"])))
    rows.append(("oldest", "%s (snapshot %d)" % (when(s["oldest_time"]),
        s["oldest"])))
    rows.append(("newest", "%s (snapshot %d)" % (when(s["newest_time"]),
        s["newest"])))
else:
    rows.append(("snapshots", "0"))
rows += [
    ("entries", "%d catalog rows" % s["entries"]),
    ("contents", "%d (%d full, %d delta)" % (s["contents"],
        s["contents_full"], s["contents_delta"])),
    ("logical bytes", hb(s["logical_bytes"])),
    ("unique bytes", hb(s["unique_bytes"])),
    ("dedup savings", saving(s["dedup_saved_bytes"], s["logical_bytes"])),
    ("full contents", "%s raw, %s stored" % (hb(s["full_raw_bytes"]),
        hb(s["full_stored_bytes"]))),
    ("compression savings", saving(s["full_raw_bytes"] -
        s["full_stored_bytes"], s["full_raw_bytes"])),
    ("delta contents", "%s raw, %s stored" % (hb(s["delta_raw_bytes"]),
        hb(s["delta_stored_bytes"]))),
    ("delta savings", saving(s["delta_raw_bytes"] - s["delta_stored_bytes"],
        s["delta_raw_bytes"])),
    ("delta chains", "max depth %d, mean %.2f" % (s["depth_max"],
        s["depth_mean"])),
    ("chain depths", ", ".join("%d: %d" % (d, n) for d, n in
        enumerate(s["depth_counts"])) or "-"),
    ("signatures", "%d (%s)" % (s["signatures"], hb(s["signature_bytes"]))),
    ("packs", "%d (%s)" % (s["packs"], hb(s["pack_bytes"]))),
    ("live objects", hb(s["live_bytes"])),
    ("unreferenced", hb(s["unreferenced_bytes"])),
    ("orphan packs", "%d (%s)" % (s["orphan_packs"], hb(s["orphan_bytes"]))),
    ("catalog", hb(s["catalog_bytes"])),
    ("size on disk", hb(s["disk_bytes"])),
]
want = "".join("%-20s %s\n" % (k + ":", v) for k, v in rows)
got = open(sys.argv[2]).read()
assert got == want, "\n--- want\n%s--- got\n%s" % (want, got)
PY
}

expect_exit 0 rdsnap init store

# an empty store
expect_exit 0 rdsnap stats --json store
expect_empty err
check_stats
cp out json
python3 - json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["snapshots"] == 0 and s["contents"] == 0 and s["packs"] == 0, s
assert s["depth_counts"] == [] and s["depth_max"] == 0, s
assert s["disk_bytes"] == s["catalog_bytes"] > 0, s
PY
expect_exit 0 rdsnap stats store
expect_empty err
check_text
head -n3 out >first
expect_file first "snapshots:           0
entries:             0 catalog rows
contents:            0 (0 full, 0 delta)"

# three snapshots: a large file changed twice (a chain of two deltas), a
# compressible log, and two small files with the same bytes
mkdir src
head -c 3000000 /dev/urandom >src/random.bin
seq 1 300000 >src/text.log
printf 'same\n' >src/a
printf 'same\n' >src/b
expect_exit 0 rdsnap create store src
printf 'XXXXXXXX' | dd of=src/random.bin bs=1 seek=1000000 conv=notrunc 2>/dev/null
expect_exit 0 rdsnap create store src
printf 'YYYYYYYY' | dd of=src/random.bin bs=1 seek=2000000 conv=notrunc 2>/dev/null
expect_exit 0 rdsnap create store src

expect_exit 0 rdsnap stats --json store
expect_empty err
check_stats
cp out json
log=$(stat -c %s src/text.log)
python3 - json "$log" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
log = int(sys.argv[2])
assert (s["snapshots"], s["oldest"], s["newest"]) == (3, 1, 3), s
# root, random.bin, text.log, a, b; random.bin has three versions
assert s["entries"] == 7, s
assert s["logical_bytes"] == 3 * (3000000 + log + 10), s
assert (s["contents"], s["contents_full"], s["contents_delta"]) == (5, 3, 2), s
assert s["unique_bytes"] == 3 * 3000000 + log + 5, s
assert s["dedup_saved_bytes"] == 2 * log + 25, s
assert s["delta_raw_bytes"] == 2 * 3000000, s
assert 0 < s["delta_stored_bytes"] < 100000, s
assert s["full_stored_bytes"] < s["full_raw_bytes"], s
assert s["depth_max"] == 2 and s["depth_counts"] == [3, 1, 1], s
assert abs(s["depth_mean"] - 0.6) < 1e-9, s
assert s["orphan_packs"] == 0, s
PY
expect_exit 0 rdsnap stats store
check_text
sed -n '1p;4,5p;14p' out >first
expect_file first "snapshots:           3 (1 to 3)
entries:             7 catalog rows
contents:            5 (3 full, 2 delta)
chain depths:        0: 3, 1: 1, 2: 1"

# a signature dropped from the catalog leaves its bytes unreferenced
before=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["unreferenced_bytes"])' json)
lost=$(sqlite3 store/catalog.db "SELECT 96 + len FROM signatures ORDER BY sha LIMIT 1")
sqlite3 store/catalog.db "DELETE FROM signatures WHERE sha = (SELECT sha FROM signatures ORDER BY sha LIMIT 1)"
expect_exit 0 rdsnap stats --json store
check_stats
after=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["unreferenced_bytes"])' out)
[ "$after" -eq $((before + lost)) ] ||
    fail "unreferenced bytes $before -> $after, expected +$lost"

# a pack the catalog does not name is an orphan; a reader leaves it
set -- store/packs/*.pack
cp "$1" store/packs/0123456789abcdef0123456789abcdef.pack
expect_exit 0 rdsnap stats --json store
check_stats
cp out json
python3 - json "$(stat -c %s "$1")" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["orphan_packs"] == 1 and s["orphan_bytes"] == int(sys.argv[2]), s
assert s["packs"] == s["catalog_packs"] + 1, s
PY
expect_exit 0 rdsnap stats store
check_text
[ -f store/packs/0123456789abcdef0123456789abcdef.pack ] ||
    fail "stats removed an orphan pack"

# misuse and a missing store
expect_exit 66 rdsnap stats missing
expect_file err "rdsnap: cannot open store 'missing': No such file or directory"
expect_empty out
expect_exit 64 rdsnap stats
expect_file err "rdsnap: missing store
usage: rdsnap stats [options] store"
expect_exit 64 rdsnap stats store extra
expect_file err "rdsnap: unexpected operand 'extra'
usage: rdsnap stats [options] store"
expect_exit 64 rdsnap stats --read-data store
expect_file err "rdsnap: stats does not take --read-data
usage: rdsnap stats [options] store"
