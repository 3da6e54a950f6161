#!/bin/sh
# Forged objects never get into a standby: a delta that does not rebuild
# to its hash, a delta bomb, an inflate bomb, a chain deeper than the
# limit, a delta before its base and a signature that does not fit its
# content are refused (65) before anything is committed; the store is
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
b.delta(sha(b"delta bomb"), sha(v1), len(v1), [copy_op(0, len(v1))] * 3000)
b.snap(3)
b.end()
sys.stdout.buffer.write(b.bytes())
PY
[ "$(wc -c <dbomb.rdb)" -lt 60000 ] || fail "the delta bomb is not small"
bomb=$(printf 'delta bomb' | sha256sum | cut -c1-64)
state before
expect_exit 65 rdship receive --apply rep s <dbomb.rdb
# the pack is named at random: the first object of a pack is at 8
sed "s/pack '[0-9a-f]\{32\}'/pack 'P'/" err >err.p
expect_file err.p "rdship: object fails verification: content $bomb: pack 'P' offset 8: rebuilds to more than its 1048576 bytes"
state after
cmp before after || fail "the delta bomb changed the store"
[ ! -e rep ] || fail "the delta bomb made a replica"
[ -z "$(ls s/tmp)" ] || fail "the delta bomb left files in s/tmp"

# 3. an inflate bomb: 4 GiB of zeros in a 4 MiB zlib stream (a block of
# 1 MiB of zeros, repeated), declared as 1 KiB
python3 - <<'PY' >zbomb.rdb
import os, struct, sys, zlib
from forge import *
z = zlib.compressobj(9)
head = z.compress(bytes(1 << 20)) + z.flush(zlib.Z_FULL_FLUSH)
block = z.compress(bytes(1 << 20)) + z.flush(zlib.Z_FULL_FLUSH)
tail = z.flush()
# the Adler-32 of 4 GiB of zeros, for a stream that is valid throughout
tail = tail[:-4] + struct.pack(">I", ((4096 << 20) % 65521) << 16 | 1)
b = Bundle(os.environ["origin"], since=2, newest=3)
b.full(None, content=sha(b"inflate bomb"), raw=1024, codec=1,
       payload=head + block * 4095 + tail)
b.snap(3)
b.end()
sys.stdout.buffer.write(b.bytes())
PY
[ "$(wc -c <zbomb.rdb)" -lt 5000000 ] || fail "the inflate bomb is not small"
bomb=$(printf 'inflate bomb' | sha256sum | cut -c1-64)
expect_exit 65 rdship receive s <zbomb.rdb
sed "s/pack '[0-9a-f]\{32\}'/pack 'P'/" err >err.p
expect_file err.p "rdship: object fails verification: content $bomb: pack 'P' offset 8: rebuilds to more than its 1024 bytes"
state after
cmp before after || fail "the inflate bomb changed the store"

# 4. a chain of 65 honest deltas, one past the limit of 64
python3 - <<'PY' >chain.rdb
import os, sys
from forge import *
b = Bundle(os.environ["origin"], since=2, newest=3)
c = b"x" * 100
b.full(c)
for i in range(65):
    n = c + b"y"
    b.delta(sha(n), sha(c), len(n), [copy_op(0, len(c)), literal_op(b"y")])
    c = n
b.snap(3)
b.end()
sys.stdout.buffer.write(b.bytes())
PY
hash() { python3 -c 'import hashlib, sys; print(hashlib.sha256(eval(sys.argv[1])).hexdigest())' "$1"; }
expect_exit 65 rdship receive s <chain.rdb
expect_file err "rdship: delta $(hash 'b"x" * 100 + b"y" * 65') would make a chain deeper than the limit of 64 deltas"
state after
cmp before after || fail "the deep chain changed the store"

# 5. a delta before its base; a signature that does not fit its content
python3 - <<'PY' >order.rdb
import os, sys
from forge import *
b = Bundle(os.environ["origin"], since=2, newest=3)
c, n = b"x" * 100, b"x" * 101
b.delta(sha(n), sha(c), len(n), [copy_op(0, len(c)), literal_op(b"x")])
b.full(c)
b.snap(3)
b.end()
sys.stdout.buffer.write(b.bytes())
PY
expect_exit 65 rdship receive s <order.rdb
expect_file err "rdship: stream is damaged: delta $(hash 'b"x" * 101') arrived before its base"
state after
cmp before after || fail "the early delta changed the store"
python3 - <<'PY' >sig.rdb
import os, struct, sys
from forge import *
b = Bundle(os.environ["origin"], since=2, newest=3)
c = b"s" * 10000
b.full(c)
# a signature of 4096-byte blocks with 8-byte sums: 2 blocks, not 3
sig = struct.pack(">III", 0x72730147, 4096, 8) + bytes(12) * 2
b.obj(SIG, 0, len(sig), sig, sha(c), extra=4096)
b.snap(3)
b.end()
sys.stdout.buffer.write(b.bytes())
PY
expect_exit 65 rdship receive s <sig.rdb
expect_file err "rdship: object fails verification: the signature of content $(hash 'b"s" * 10000') does not cover its 10000 bytes"
state after
cmp before after || fail "the short signature changed the store"

# and the standby still takes the real thing
printf 'more\n' >src/more
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdship push --quiet --apply rep p s
cmp rep/big v2 && cmp rep/more src/more || fail "replica after the attacks"
expect_exit 0 rdsnap verify --read-data s
