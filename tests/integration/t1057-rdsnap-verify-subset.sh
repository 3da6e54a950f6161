#!/bin/sh
# verify --read-data --subset N%: the contents of a seeded share of the
# packs are rebuilt; the seed is printed and --seed repeats the choice;
# a damaged pack is found when the share covers it, and at 100%.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir src
head -c 300000 /dev/urandom >src/victim
expect_exit 0 rdsnap init store
expect_exit 0 rdsnap create --quiet store src
for i in 1 2 3 4 5; do
	printf 'file %s\n' "$i" >src/f$i
	expect_exit 0 rdsnap create --quiet store src
done
npacks=$(sqlite3 store/catalog.db "select count(*) from packs")
[ "$npacks" = 6 ] || fail "packs: $npacks"

# usage
expect_exit 64 rdsnap verify --subset 10 store
expect_file err "rdsnap: --subset needs --read-data
usage: rdsnap verify [options] store"
expect_exit 64 rdsnap verify --read-data --seed 3 store
expect_file err "rdsnap: --seed needs --subset
usage: rdsnap verify [options] store"
expect_exit 64 rdsnap verify --read-data --subset 0 store
expect_exit 64 rdsnap verify --read-data --subset 101% store

# a random seed is printed; --seed picks the same packs again
expect_exit 0 rdsnap verify --read-data --subset 50% store
[ "$(wc -l <out)" = 2 ] || fail "output: $(cat out)"
seed=$(sed -n 's/^subset: .*, seed \([0-9]*\); --seed \1 picks the same packs$/\1/p' out)
[ -n "$seed" ] || fail "no seed: $(cat out)"
line=$(sed -n 2p out)
expect_exit 0 rdsnap verify --read-data --subset 50% --seed "$seed" store
[ "$(sed -n 2p out)" = "$line" ] || fail "not repeated: $line / $(cat out)"

# the rule of rd_verify_opts: SHA-256 of the seed (64-bit little endian)
# and the pack's name, its first 8 bytes (little endian) mod 10000 below
# 100 times the percentage
pack=$(sqlite3 store/catalog.db "select p.name from contents c join packs p on p.id = c.pack join entries e on e.sha = c.sha where e.path = cast('victim' as blob)")
cat >pick.py <<'PY'
import hashlib, struct, sys
pack, want, names = sys.argv[1], sys.argv[2] == "in", sys.argv[3:]
def picks(seed, name):
    h = hashlib.sha256(struct.pack("<Q", seed) + name.encode()).digest()
    return struct.unpack("<Q", h[:8])[0] % 10000 < 5000
for seed in range(1, 100000):
    if picks(seed, pack) == want:
        print(seed, sum(picks(seed, n) for n in names))
        break
PY
names=$(sqlite3 store/catalog.db "select name from packs")
# shellcheck disable=SC2046,SC2086
set -- $(python3 pick.py "$pack" in $names)
seed_in=$1 n_in=$2
# shellcheck disable=SC2046,SC2086
set -- $(python3 pick.py "$pack" out $names)
seed_out=$1 n_out=$2
expect_exit 0 rdsnap verify --read-data --subset 50 --seed "$seed_in" store
expect_file out "ok: 6 snapshots, 6 contents in 6 packs, $(sed -n 's/.*packs, \(.*\) rebuilt and hashed$/\1/p' out) rebuilt and hashed
subset: the contents of $n_in of 6 packs (50%), seed $seed_in; --seed $seed_in picks the same packs"

# damage the victim's pack
row=$(sqlite3 store/catalog.db "select c.off from contents c join entries e on e.sha = c.sha where e.path = cast('victim' as blob)")
pos=$((row + 96 + 1000))
b=$(dd if=store/packs/$pack.pack bs=1 skip=$pos count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $(( (b + 1) % 256 )))" |
    dd of=store/packs/$pack.pack bs=1 seek=$pos conv=notrunc 2>/dev/null
sha=$(sha256sum src/victim | cut -d' ' -f1)

# a share without the pack does not see it (headers are still fine)
expect_exit 0 rdsnap verify --read-data --subset 50 --seed "$seed_out" store
expect_file out "ok: 6 snapshots, 6 contents in 6 packs, $(sed -n 's/.*packs, \(.*\) rebuilt and hashed$/\1/p' out) rebuilt and hashed
subset: the contents of $n_out of 6 packs (50%), seed $seed_out; --seed $seed_out picks the same packs"
# a share with it finds it, and so do 100% and plain --read-data
expect_exit 1 rdsnap verify --read-data --subset 50 --seed "$seed_in" store
expect_file out "DAMAGED content $sha: pack '$pack' offset $row: payload checksum mismatch
  used by 'victim' in snapshots 1-6
verify found 1 problem
subset: the contents of $n_in of 6 packs (50%), seed $seed_in; --seed $seed_in picks the same packs"
expect_exit 1 rdsnap verify --read-data --subset 100% --seed 1 store
grep -q "^DAMAGED content $sha: " out || fail "100%: $(cat out)"
grep -q "^subset: the contents of 6 of 6 packs (100%), seed 1; " out ||
    fail "100%: $(cat out)"
expect_exit 1 rdsnap verify --read-data --subset 100 --seed 9 --json store
python3 - out "$pack" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False and d["damaged"] == 1, d
assert d["subset"] == 100 and d["seed"] == 9, d
assert d["packs_read"] == 6 and d["contents_read"] == 6, d
PY
expect_exit 1 rdsnap verify --read-data store
grep -q "^DAMAGED content $sha: " out || fail "full: $(cat out)"
