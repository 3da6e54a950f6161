#!/bin/sh
# send | receive: the standby's snapshots and replica equal the primary's,
# byte and metadata; bundles for sneakernet with --since.
. "$RD_SRCDIR/tests/integration/lib.sh"

make_sample_tree src
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
tree_sig src >sig1
expect_exit 0 rdsnap init --standby --no-key s

rdship send p >b1.rdb 2>send.err || fail "send: $(cat send.err)"
grep -q '^rdship: sent snapshot 1: ' send.err || fail "send summary: $(cat send.err)"
expect_exit 0 rdship receive --apply rep s <b1.rdb
grep -q "^received snapshot 1 from [0-9a-f-]*: " out || fail "$(cat out)"
expect_empty err
tree_sig rep >got
cmp -s sig1 got || { diff sig1 got >&2; fail "replica differs from the source"; }
expect_exit 0 rdsnap restore s r1
tree_sig r1 >got
cmp -s sig1 got || fail "standby restore differs"
origin=$(sqlite3 p/catalog.db "select value from meta where key = 'uuid'")
adopted=$(sqlite3 s/catalog.db "select value from meta where key = 'origin'")
[ "$origin" = "$adopted" ] || fail "standby did not adopt the origin"

# receiving the same bundle again changes nothing
sqlite3 s/catalog.db 'select * from snapshots; select * from entries' >before
expect_exit 0 rdship receive s <b1.rdb
expect_file out "store 's' is up to date at snapshot 1"
sqlite3 s/catalog.db 'select * from snapshots; select * from entries' >after
cmp -s before after || fail "re-receive changed the catalog"

# change, snapshot twice, ship the two as one bundle with --since
printf 'port = 9090\n' >src/etc/app/app.conf
rm -r src/deep
printf 'XXXX' | dd of=src/var/lib/db/random.bin bs=1 seek=4096 conv=notrunc 2>/dev/null
expect_exit 0 rdsnap create p src
seq 1 100 >src/new-file
expect_exit 0 rdsnap create p src
tree_sig src >sig3
rdship send --since 1 p >b23.rdb 2>/dev/null
rdship send --since 2 p >b3.rdb 2>/dev/null
expect_exit 66 rdship receive s <b3.rdb
expect_file err "rdship: bundle holds snapshots 3-3 but this store has up to 1: send with --since 1"
expect_exit 0 rdship receive --json --apply rep s <b23.rdb
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["from"] == 1 and d["newest"] == 3 and d["snapshots"] == 2, d
assert d["replica_version"] == 3, d
# the 4-byte change of a 3 MB file travels as a small delta
assert d["object_bytes"] < 1000000, d
PY
tree_sig rep >got
cmp -s sig3 got || { diff sig3 got >&2; fail "replica differs after update"; }
expect_exit 0 rdsnap restore --snapshot 2 s r2
expect_exit 0 rdsnap restore --snapshot 2 p r2p
tree_sig r2 >a
tree_sig r2p >b
cmp -s a b || fail "snapshot 2 differs between primary and standby"
expect_exit 0 rdsnap verify --read-data s
expect_exit 0 rdship status --json s
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["role"] == "standby" and d["newest"] == 3 and d["lag"] == 0, d
assert d["replicas"][0]["version"] == 3 and d["replicas"][0]["state"] == "clean", d
PY

# a standby refuses local snapshots; a primary refuses bundles
expect_exit 77 rdsnap create s src
expect_file err "rdsnap: store 's' is a standby: it takes snapshots only from rdship (promote it first)"
expect_exit 77 rdship receive p <b1.rdb
expect_file err "rdship: store 'p' is not a standby (make one with rdsnap init --standby)"
