#!/bin/sh
# Forged snapshots that could not be restored are refused (65) before
# anything commits: a hard link to a directory, a device number on a
# file, extended attributes over the kernel's limits or malformed, a path twice, a new row for a still-current path, a
# symlink beside a directory of the same name, a path without its parent
# directory, a directory closed under its children, sizes that are not
# possible, a content that is not there, NaN times, an object after the
# snapshot records, frames out of order.  Each leaves the store's
# snapshots as they were, and a sound bundle is then taken.
. "$RD_SRCDIR/tests/integration/lib.sh"

PYTHONPATH="$RD_SRCDIR/tests/integration"
export PYTHONPATH
# the snapshots as the catalog has them (an object batch that verified
# before the rows failed may stay: it is sound, and resumes a push)
state() {
	for t in meta snapshots entries snapshot_problems replicas; do
		sqlite3 s/catalog.db ".dump $t"
	done >"$1"
}
mkdir -p src/d
printf 'a\n' >src/a
printf 'f\n' >src/d/f
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdsnap init --standby --no-key s
expect_exit 0 rdship push --quiet p s
origin=$(sqlite3 p/catalog.db "select value from meta where key = 'uuid'")
export origin
state before

# forge CASE: a bundle of snapshot 2 after 1 (the store holds "", "a",
# "d/" and "d/f" as current rows)
forge() {
	python3 - "$1" <<'PY' >evil.rdb
import math, os, sys
from forge import *
case = sys.argv[1]
b = Bundle(os.environ["origin"], since=1, newest=2)
x = b"new\n"
R = Bundle.row
started = float("nan") if case == "nan" else 1e9
if case not in ("lateobj", "rowsobj"):
    b.full(x)
if case == "rowsobj":
    b.rows(R(b"n", FILE, 2, size=4, content=sha(x)))
    b.full(x)
elif case == "rowsfirst":
    b.rows(R(b"n", FILE, 2, size=4, content=sha(x)))
b.snap(2, started=started)
if case == "closesfirst":
    b.closes((b"a", 1, 1))
    b.rows(R(b"n", FILE, 2, size=4, content=sha(x)))
elif case == "lateobj":
    b.full(x)
elif case == "nocontent":
    b.rows(R(b"d/n", FILE, 2, size=5, content=sha(b"other")))
elif case == "twice":
    b.rows(R(b"n", FILE, 2, size=4, content=sha(x)),
           R(b"n", FILE, 2, size=4, content=sha(x)))
elif case == "current":
    b.rows(R(b"a", FILE, 2, size=4, content=sha(x)))
elif case == "twin":
    b.rows(R(b"x", LINK, 2, size=1, target=b"a"), R(b"x/", DIR, 2))
elif case == "orphan":
    b.rows(R(b"nodir/n", FILE, 2, size=4, content=sha(x)))
elif case == "parentfile":
    b.rows(R(b"a/n", FILE, 2, size=4, content=sha(x)))
elif case == "closedir":
    b.closes((b"d/", 1, 1))
elif case == "negative":
    b.rows(R(b"n", FILE, 2, size=-4, content=sha(x)))
elif case == "huge":
    b.rows(R(b"n", FILE, 2, size=1 << 62 + 1, content=sha(x)))
elif case == "wrongsize":
    b.rows(R(b"n", FILE, 2, size=5, content=sha(x)))
elif case == "nan":
    pass
elif case == "linkdir":
    b.rows(R(b"n", FILE, 2, size=4, content=sha(x), link=7),
           R(b"m/", DIR, 2, link=7))
elif case == "rdevfile":
    b.rows(R(b"n", FILE, 2, size=4, content=sha(x), rdev=0x103))
elif case == "fifosize":
    b.rows(R(b"p", FIFO, 2, size=4))
elif case == "bigvalue":
    b.rows(R(b"n", FILE, 2, size=4, content=sha(x),
             xattrs=xattr(b"user.big", b"v" * 65537)))
elif case == "bigname":
    b.rows(R(b"n", FILE, 2, size=4, content=sha(x),
             xattrs=xattr(b"user." + b"n" * 251, b"v")))
elif case == "unsorted":
    b.rows(R(b"n", FILE, 2, size=4, content=sha(x),
             xattrs=xattr(b"user.b", b"1") + xattr(b"user.a", b"2")))
elif case == "nonamespace":
    b.rows(R(b"n", FILE, 2, size=4, content=sha(x),
             xattrs=xattr(b"evil", b"1")))
elif case == "xatrunc":
    b.rows(R(b"n", FILE, 2, size=4, content=sha(x),
             xattrs=xattr(b"user.a", b"12345")[:-2]))
b.end()
sys.stdout.buffer.write(b.bytes())
PY
}
for c in "twice:bundle has a bad row for 'n': it is there twice in one snapshot" \
    "current:bundle has a bad row for 'a': it is there twice in one snapshot" \
    "twin:bundle has a bad row for 'x': it is there twice in one snapshot" \
    "orphan:bundle has a bad row for 'nodir/n': its parent is not a directory" \
    "parentfile:bundle has a bad row for 'a/n': its parent is not a directory" \
    "closedir:bundle has a bad row for 'd/f': its directory is gone" \
    "negative:stream is damaged: bad entry row" \
    "huge:stream is damaged: bad entry row" \
    "wrongsize:bundle has a bad row for 'n': its size is not its content's" \
    "nan:stream is damaged: snapshot 2 has impossible times" \
    "nocontent:bundle lacks 1 contents its snapshots need, the first for 'd/n' (was it made with --since for another store?)" \
    "lateobj:stream is damaged: an object after the snapshot records" \
    "rowsobj:stream is damaged: an object after the snapshot records" \
    "rowsfirst:stream is damaged: a frame of type 'S' out of order" \
    "closesfirst:stream is damaged: a frame of type 'E' out of order" \
    "linkdir:stream is damaged: a hard link to an entry that is not a regular file" \
    "rdevfile:stream is damaged: a device number on an entry that is not a device" \
    "fifosize:stream is damaged: bad entry row" \
    "bigvalue:stream is damaged: bad extended attributes (over the kernel's limits or malformed)" \
    "bigname:stream is damaged: bad extended attributes (over the kernel's limits or malformed)" \
    "unsorted:stream is damaged: bad extended attributes (over the kernel's limits or malformed)" \
    "nonamespace:stream is damaged: bad extended attributes (over the kernel's limits or malformed)" \
    "xatrunc:stream is damaged: bad extended attributes (over the kernel's limits or malformed)"; do
	forge "${c%%:*}"
	expect_exit 65 rdship receive --apply rep s <evil.rdb
	expect_file err "rdship: ${c#*:}"
	state after
	cmp before after || fail "${c%%:*}: the store changed"
	[ ! -e rep ] || fail "${c%%:*}: a replica was made"
done
expect_exit 0 rdsnap verify --read-data s

# the same bundle made right is taken (the forging itself is sound)
python3 - <<'PY' >good.rdb
import os, sys
from forge import *
b = Bundle(os.environ["origin"], since=1, newest=2)
x = b"new\n"
b.full(x)
b.snap(2)
b.rows(Bundle.row(b"d/n", FILE, 2, size=4, content=sha(x), mode=0o644,
                  xattrs=xattr(b"user.a", b"1") + xattr(b"user.b", b"2")))
b.end()
sys.stdout.buffer.write(b.bytes())
PY
expect_exit 0 rdship receive --apply rep s <good.rdb
[ "$(cat rep/d/n rep/a)" = "new
a" ] || fail "the sound forged bundle was not applied"
[ "$(getfattr -n user.b --only-values rep/d/n)" = 2 ] ||
    fail "the sound bundle's attributes were not applied"
