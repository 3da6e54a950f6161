#!/bin/sh
# A standby keeps the bytes of its large current contents (8 MiB and
# more) in STORE/cache, checked, and patches the next delta against them
# instead of rebuilding the delta's chain from its packs.  The cache is
# advice: a cached file that does not match is dropped and the delta is
# rebuilt from the store; a bogus delta is refused either way; files of
# contents that are no longer current go.
. "$RD_SRCDIR/tests/integration/lib.sh"

PYTHONPATH="$RD_SRCDIR/tests/integration"
export PYTHONPATH
sha() { sha256sum "$1" | cut -c1-64; }
cached() { (cd s/cache && ls); }
mkdir src
python3 -c '
import random, sys
random.seed(11)
sys.stdout.buffer.write(random.randbytes(9 << 20))
' >src/db
printf 'small\n' >src/small
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdsnap init --standby --no-key s
expect_exit 0 rdship push --quiet p s
# only the large content is cached, with its bytes
[ "$(cached)" = "$(sha src/db)" ] || fail "cache after the first push: $(cached)"
cmp "s/cache/$(sha src/db)" src/db || fail "the cached bytes differ"

# pages rewritten in place: a delta, patched against the cache; the old
# version's file goes and the new one's comes
change() {
	python3 - "$1" <<'PY'
import sys
with open("src/db", "r+b") as f:
    for page in (3, 500, 1000):
        f.seek(page * 8192)
        f.write(bytes([int(sys.argv[1])]) * 8192)
PY
}
change 1
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdship push --json p s
python3 -c '
import json
d = json.load(open("out"))
assert d["objects"] == 1 and d["object_bytes"] < 1 << 20, d'
[ "$(sqlite3 s/catalog.db "select kind from contents where sha = x'$(sha src/db)'")" = 1 ] ||
	fail "the new version did not arrive as a delta"
[ "$(cached)" = "$(sha src/db)" ] || fail "cache after the delta: $(cached)"
expect_exit 0 rdsnap restore s r1
cmp r1/db src/db || fail "restore after the cached patch"

# a cached file that is not its content: the delta is rebuilt from the
# store, the file is dropped, and the new version cached
printf 'garbage' | dd of="s/cache/$(sha src/db)" bs=1 seek=100 conv=notrunc 2>/dev/null
change 2
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdship push --quiet p s
[ "$(cached)" = "$(sha src/db)" ] || fail "cache after a damaged cache: $(cached)"
cmp "s/cache/$(sha src/db)" src/db || fail "the cached bytes differ after a damaged cache"
expect_exit 0 rdsnap restore s r2
cmp r2/db src/db || fail "restore after a damaged cache"

# a bogus delta against the cached base is refused, and changes nothing
# but the cache (advice: its base's file is dropped)
origin=$(sqlite3 p/catalog.db "select value from meta where key = 'uuid'")
export origin
python3 - <<'PY' >bogus.rdb
import os, sys
from forge import *
cur = open("src/db", "rb").read()
fake = sha(b"not the database")
b = Bundle(os.environ["origin"], since=3, newest=4)
b.delta(fake, sha(cur), len(cur), [copy_op(0, len(cur))])
b.snap(4)
b.rows(Bundle.row(b"db", FILE, 4, size=len(cur), content=fake, mode=0o644))
b.closes((b"db", 3, 3))
b.end()
sys.stdout.buffer.write(b.bytes())
PY
sqlite3 s/catalog.db .dump >before
ls -l s/packs >>before
expect_exit 65 rdship receive s <bogus.rdb
expect_file err "rdship: object fails verification: content $(python3 -c 'import hashlib; print(hashlib.sha256(b"not the database").hexdigest())') is damaged: rebuilt bytes do not match its SHA-256"
sqlite3 s/catalog.db .dump >after
ls -l s/packs >>after
cmp before after || fail "the bogus delta changed the store"
expect_exit 0 rdsnap verify --read-data s

# without the cache (dropped above) the next delta is rebuilt from the
# store and cached again; a removed file's content leaves the cache
change 3
printf 'more\n' >src/small
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdship push --quiet p s
[ "$(cached)" = "$(sha src/db)" ] || fail "cache after a miss: $(cached)"
cp src/db v4
rm src/db
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdship push --quiet p s
[ -z "$(cached)" ] || fail "cache after the file went: $(cached)"
expect_exit 0 rdsnap restore --snapshot 4 s r4
cmp r4/db v4 || fail "snapshot 4 does not restore"
expect_exit 0 rdsnap verify --read-data s
