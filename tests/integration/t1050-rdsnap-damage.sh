#!/bin/sh
# Damage in packs is found and named with the paths and snapshots it
# breaks; restore refuses damaged content rather than writing it.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir src
head -c 500000 /dev/urandom >src/victim
printf 'fine\n' >src/fine
expect_exit 0 rdsnap init store
expect_exit 0 rdsnap create store src
printf 'more\n' >src/other
expect_exit 0 rdsnap create store src
expect_exit 0 rdsnap verify --read-data store

# flip one byte inside the payload of 'victim' (stored raw: random data)
row=$(sqlite3 store/catalog.db "select p.name || ' ' || c.off from contents c join packs p on p.id = c.pack join entries e on e.sha = c.sha where e.path = cast('victim' as blob)")
pack=${row% *}
off=${row#* }
sha=$(sha256sum src/victim | cut -d' ' -f1)
cp store/packs/$pack.pack saved.pack
pos=$((off + 96 + 1000))
b=$(dd if=store/packs/$pack.pack bs=1 skip=$pos count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $(( (b + 1) % 256 )))" |
    dd of=store/packs/$pack.pack bs=1 seek=$pos conv=notrunc 2>/dev/null

expect_exit 1 rdsnap verify --read-data store
expect_file out "DAMAGED content $sha: pack '$pack' offset $off: payload checksum mismatch
  used by 'victim' in snapshots 1-2
verify found 1 problem"
expect_exit 1 rdsnap verify --read-data --json store
# the document with its damage follows the documented schema
python3 - "$RD_SRCDIR/docs/json/rdsnap-verify.schema.json" out <<'PY' ||
import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
PY
    fail "verify --json with damage does not follow its schema: $(cat out)"
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False and d["damaged"] == 1, d
assert d["damage"][0]["used_by"] == [
    {"path": "victim", "first": 1, "last": 2}], d
assert d["damage"][0]["used_by_more"] is False, d
PY
expect_exit 65 rdsnap restore store rst
grep -q "payload checksum mismatch" err || fail "restore error: $(cat err)"
[ ! -e rst/victim ] || fail "damaged file was written"
expect_exit 0 rdsnap restore store out2 fine
cp saved.pack store/packs/$pack.pack
expect_exit 0 rdsnap verify --read-data store

# a truncated pack and a missing pack are found by the fast check
cp saved.pack store/packs/$pack.pack
truncate -s 200 store/packs/$pack.pack
expect_exit 1 rdsnap verify store
grep -q "^DAMAGED pack $pack is truncated (200 of " out || fail "$(cat out)"
rm store/packs/$pack.pack
expect_exit 1 rdsnap verify store
grep -q "^DAMAGED pack $pack is missing" out || fail "$(cat out)"
cp saved.pack store/packs/$pack.pack
expect_exit 0 rdsnap verify --read-data store

# --read-data rebuilds contents of 16 MiB or more first, largest first:
# damage in them is reported before damage in the packs before them
flip() { # STORE PATH: change one byte of the payload of PATH's content
	row=$(sqlite3 "$1/catalog.db" "select p.name || ' ' || c.off from contents c join packs p on p.id = c.pack join entries e on e.sha = c.sha where e.path = cast('$2' as blob)")
	pos=$((${row#* } + 96 + 1000))
	b=$(dd if="$1/packs/${row% *}.pack" bs=1 skip=$pos count=1 2>/dev/null | od -An -tu1 | tr -d ' ')
	printf "\\$(printf '%03o' $(( (b + 1) % 256 )))" |
	    dd of="$1/packs/${row% *}.pack" bs=1 seek=$pos conv=notrunc 2>/dev/null
}
mkdir big
head -c 300000 /dev/urandom >big/small
expect_exit 0 rdsnap init big.store
expect_exit 0 rdsnap create big.store big
head -c 17000000 /dev/urandom >big/large
head -c 16777216 /dev/urandom >big/edge
expect_exit 0 rdsnap create big.store big
expect_exit 0 rdsnap verify --read-data big.store
flip big.store small
flip big.store large
flip big.store edge
expect_exit 1 rdsnap verify --read-data big.store
grep "^DAMAGED" out | sed 's/^DAMAGED content \([0-9a-f]*\):.*/\1/' >order
sha256sum big/large big/edge big/small | cut -d' ' -f1 >want
cmp -s order want ||
    fail "damage is not reported largest first: $(cat out)"
