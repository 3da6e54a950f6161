#!/bin/sh
# Forged objects never get into a standby: a delta that does not rebuild
# to its hash, a delta bomb, an inflate bomb and a chain deeper than the
# limit are refused (65) before anything is committed; the store is
# byte for byte as before, and the next legitimate push of the same
# content is transferred (not taken as present) and restores exactly.
. "$RD_SRCDIR/tests/integration/lib.sh"

PYTHONPATH="$RD_SRCDIR/tests/integration"
export PYTHONPATH
state() {
	{
		sqlite3 s/catalog.db .dump
		ls -l s/packs
	} >"$1"
}
mkdir src
python3 -c '
import random, sys
random.seed(7)
sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(1 << 20)))
' >src/big
cp src/big v1
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdsnap init --standby --no-key s
expect_exit 0 rdship push --quiet p s
origin=$(sqlite3 p/catalog.db "select value from meta where key = 'uuid'")
export origin
python3 -c '
import sys
d = bytearray(open("v1", "rb").read())
d[0:4096] = bytes(4096)
sys.stdout.buffer.write(d)
' >v2
v1=$(sha256sum v1 | cut -c1-64)
v2=$(sha256sum v2 | cut -c1-64)

# 1. a delta under v2's hash that rebuilds to v1's bytes, in a bundle
# that is otherwise in order
python3 - <<'PY' >bogus.rdb
import os, sys
from forge import *
v1, v2 = open("v1", "rb").read(), open("v2", "rb").read()
b = Bundle(os.environ["origin"], since=1, newest=2)
b.delta(sha(v2), sha(v1), len(v2), [copy_op(0, len(v1))])
b.snap(2)
b.rows(Bundle.row(b"big", FILE, 2, size=len(v2), content=sha(v2),
                  mode=0o644))
b.closes((b"big", 1, 1))
b.end()
sys.stdout.buffer.write(b.bytes())
PY
state before
expect_exit 65 rdship receive s <bogus.rdb
expect_file err "rdship: object fails verification: content $v2 is damaged: rebuilt bytes do not match its SHA-256"
state after
cmp before after || fail "the failed receive changed the store"
expect_exit 0 rdsnap verify --read-data s
# the real v2 is shipped, not skipped as present, and restores exactly
cp v2 src/big
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdship push --json p s
python3 -c '
import json, sys
d = json.load(open("out"))
assert d["objects"] == 1 and d["skipped"] == 0, d
'
expect_exit 0 rdsnap restore s r2
cmp r2/big v2 || fail "v2 does not restore from the standby"

# 2. a delta bomb: 3000 copies of a 1 MiB base, declared as 1 MiB
python3 - <<'PY' >dbomb.rdb
import os, sys
from forge import *
v1 = open("v1", "rb").read()
b = Bundle(os.environ["origin"], since=2, newest=3)
b.delta(os.urandom(32), sha(v1), len(v1), [copy_op(0, len(v1))] * 3000)
b.snap(3)
b.end()
sys.stdout.buffer.write(b.bytes())
PY
[ "$(wc -c <dbomb.rdb)" -lt 60000 ] || fail "the delta bomb is not small"
state before
expect_exit 65 rdship receive --apply rep s <dbomb.rdb
grep -q "^rdship: object fails verification: content [0-9a-f]*: pack '[0-9a-f]*' offset [0-9]*: rebuilds to more than its 1048576 bytes$" err ||
	fail "delta bomb: $(cat err)"
state after
cmp before after || fail "the delta bomb changed the store"
[ ! -e rep ] || fail "the delta bomb made a replica"

# 3. an inflate bomb: 64 MiB of zeros compressed, declared as 1 KiB
python3 - <<'PY' >zbomb.rdb
import os, sys, zlib
from forge import *
b = Bundle(os.environ["origin"], since=2, newest=3)
b.full(None, content=os.urandom(32), raw=1024, codec=1,
       payload=zlib.compress(bytes(64 << 20), 9))
b.snap(3)
b.end()
sys.stdout.buffer.write(b.bytes())
PY
expect_exit 65 rdship receive s <zbomb.rdb
grep -q "^rdship: object fails verification: content [0-9a-f]*: pack '[0-9a-f]*' offset [0-9]*: rebuilds to more than its 1024 bytes$" err ||
	fail "inflate bomb: $(cat err)"
state after
cmp before after || fail "the inflate bomb changed the store"

# 4. a chain of 67 objects, each delta honest, one past the limit
python3 - <<'PY' >chain.rdb
import os, sys
from forge import *
b = Bundle(os.environ["origin"], since=2, newest=3)
c = b"x" * 100
b.full(c)
for i in range(66):
    n = c + b"y"
    b.delta(sha(n), sha(c), len(n), [copy_op(0, len(c)), literal_op(b"y")])
    c = n
b.snap(3)
b.end()
sys.stdout.buffer.write(b.bytes())
PY
expect_exit 65 rdship receive s <chain.rdb
grep -q "^rdship: delta [0-9a-f]* would make a chain of 67 objects, more than the limit of 66$" err ||
	fail "deep chain: $(cat err)"
state after
cmp before after || fail "the deep chain changed the store"

# and the standby still takes the real thing
printf 'more\n' >src/more
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdship push --quiet --apply rep p s
cmp rep/big v2 && cmp rep/more src/more || fail "replica after the attacks"
expect_exit 0 rdsnap verify --read-data s
