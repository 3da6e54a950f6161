#!/bin/sh
# Truncated, altered, unkeyed, wrongly keyed, stale-epoch and
# foreign-lineage streams are refused with their exit codes, and leave
# the standby's snapshots exactly as they were.
. "$RD_SRCDIR/tests/integration/lib.sh"

dump() {
	sqlite3 "$1/catalog.db" 'select * from snapshots; select * from entries;
	    select * from meta order by key; select * from replicas'
}

mkdir src
seq 1 50000 >src/text
head -c 400000 /dev/urandom >src/rand
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
expect_exit 0 rdsnap init --standby --no-key s
rdship send p >b1.rdb 2>/dev/null
expect_exit 0 rdship receive --apply rep s <b1.rdb
seq 1 60000 >src/text
expect_exit 0 rdsnap create p src
rdship send --since 1 p >b2.rdb 2>/dev/null
dump s >before
size=$(stat -c %s b2.rdb)

# truncated at several places
for cut in 10 30 200 1000 $((size / 2)) $((size - 33)) $((size - 1)); do
	head -c "$cut" b2.rdb >cut.rdb
	expect_exit 65 rdship receive --apply rep s <cut.rdb
	grep -q "^rdship: stream is truncated after " err ||
	    grep -q "^rdship: not an rdship stream" err ||
	    fail "cut at $cut: $(cat err)"
	dump s >now
	cmp -s before now || fail "truncated stream ($cut) changed the store"
done
expect_exit 65 rdship receive s </dev/null
expect_file err "rdship: stream is empty: not an rdship stream"

# one flipped byte anywhere
for pos in 30 100 $((size / 3)) $((size / 2)) $((size - 40)) $((size - 5)); do
	cp b2.rdb flip.rdb
	b=$(dd if=flip.rdb bs=1 skip=$pos count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	printf "\\$(printf '%03o' $(( b ^ 1 )))" |
	    dd of=flip.rdb bs=1 seek=$pos conv=notrunc 2>/dev/null
	expect_exit 65 rdship receive s <flip.rdb
	grep -q "^rdship: stream is damaged" err || fail "flip at $pos: $(cat err)"
	dump s >now
	cmp -s before now || fail "altered stream ($pos) changed the store"
done

# frames out of order: swap two frames' worth of bytes is caught by the
# sequence numbers in the MACs (simulated by dropping the first frame)
python3 - b2.rdb drop.rdb <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
pre = 8 + 1 + 16
pos = pre
frames = []
while pos < len(data):
    t = data[pos]
    n = struct.unpack("<Q", data[pos + 1:pos + 9])[0]
    frames.append(data[pos:pos + 9 + n + 32])
    pos += 9 + n + 32
out = data[:pre] + frames[0] + b"".join(frames[2:3] + frames[1:2] + frames[3:])
open(sys.argv[2], "wb").write(out)
PY
expect_exit 65 rdship receive s <drop.rdb
grep -q "^rdship: stream is damaged" err || fail "reordered: $(cat err)"

# keys: a standby with STORE/ship.key demands it
expect_exit 0 rdship keygen s/ship.key
cp s/ship.key good.key
expect_exit 0 rdship keygen other.key
expect_exit 77 rdship receive s <b2.rdb
expect_file err "rdship: stream is not authenticated, and 's' requires a key"
rdship send --since 1 --key other.key p >wrong.rdb 2>/dev/null
expect_exit 77 rdship receive s <wrong.rdb
expect_file err "rdship: stream is not authenticated with this key"
dump s >now
cmp -s before now || fail "refused key changed the store"
rdship send --since 1 --key good.key p >keyed.rdb 2>/dev/null
mv s/ship.key aside.key
expect_exit 77 rdship receive s <keyed.rdb
expect_file err "rdship: stream is authenticated with a key: give --key (or put it in 's/ship.key')"
expect_exit 0 rdship receive --key good.key s <keyed.rdb

# epoch: a promoted standby (epoch raised) refuses its old primary
dump s >before
sqlite3 s/catalog.db "update meta set value = '2' where key = 'epoch'"
dump s >before
seq 1 70000 >src/text
expect_exit 0 rdsnap create p src
rdship send --since 2 p >b3.rdb 2>/dev/null
expect_exit 77 rdship receive s <b3.rdb
expect_file err "rdship: bundle has epoch 1, older than this store's epoch 2: its sender was superseded by a promotion"
dump s >now
cmp -s before now || fail "old-epoch bundle changed the store"

# lineage: a bundle of another store is refused unless --adopt
sqlite3 s/catalog.db "update meta set value = '1' where key = 'epoch'"
dump s >before
expect_exit 0 rdsnap init q
expect_exit 0 rdsnap create q src
expect_exit 0 rdsnap create --checksum q src
expect_exit 0 rdsnap create --checksum q src
rdship send q >q.rdb 2>/dev/null
quuid=$(sqlite3 q/catalog.db "select value from meta where key = 'uuid'")
puuid=$(sqlite3 p/catalog.db "select value from meta where key = 'uuid'")
expect_exit 77 rdship receive s <q.rdb
expect_file err "rdship: bundle comes from store $quuid, but 's' follows $puuid (use --adopt to follow the new one)"
dump s >now
cmp -s before now || fail "foreign bundle changed the store"
# --adopt passes the lineage check; the history must still fit
expect_exit 65 rdship receive --adopt s <q.rdb
expect_file err "rdship: bundle holds snapshots 1-3 but this store has up to 2: send with --since 2"
expect_exit 0 rdsnap verify --read-data s

# a standby demands a key by default: init writes one (0600), an unkeyed
# stream is refused and changes nothing, the key's stream lands
expect_exit 0 rdsnap init --standby --codec zlib k
expect_file out "initialized standby store 'k' (id $(sqlite3 k/catalog.db "select value from meta where key = 'uuid'"), codec zlib, delta chains up to 8)
wrote its shipping key to 'k/ship.key': it accepts only streams
made with this key; copy the file to the primary over a safe channel
and give it to rdship push or send with --key FILE"
[ "$(stat -c %a k/ship.key)" = 600 ] || fail "ship.key mode"
rdship send p >unkeyed.rdb 2>/dev/null
dump k >before
expect_exit 77 rdship receive k <unkeyed.rdb
expect_file err "rdship: stream is not authenticated, and 'k' requires a key"
dump k >now
cmp -s before now || fail "an unkeyed stream changed a keyed standby"
rdship send --key k/ship.key p >k.rdb 2>/dev/null
expect_exit 0 rdship receive k <k.rdb
expect_exit 0 rdsnap verify --read-data k
# --no-key is an explicit choice, and only for a standby
expect_exit 64 rdsnap init --no-key nk
expect_file err "rdsnap: --no-key is for a standby store (--standby)
usage: rdsnap init [options] store"
[ ! -e nk ] || fail "a refused init created the store"
expect_exit 0 rdsnap init --standby --no-key --json nk
[ ! -e nk/ship.key ] || fail "--no-key wrote a key"
grep -q '"key":null' out || fail "init --json without a key"
