#!/bin/sh
# verify checks everything the store holds: the rows of every snapshot
# (safe paths, one row per path, no name both a directory and not, sizes),
# the content and signature rows, every signature's bytes with
# --read-data, and object lengths in both modes.  Each tampering is found
# and named (exit 1); the untouched store verifies.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir -p src/d
head -c 3000000 /dev/urandom >src/big
printf 'a\n' >src/a
printf 'f\n' >src/d/f
expect_exit 0 rdsnap init store
expect_exit 0 rdsnap create --quiet store src
cp -a store clean
expect_exit 0 rdsnap verify --read-data store
expect_exit 0 rdsnap verify --read-data clean

# tamper SQL, the line expected (exit 1 from plain verify and --read-data)
try() {
	rm -rf t
	cp -a clean t
	sqlite3 t/catalog.db "$1"
	for mode in "" --read-data; do
		# shellcheck disable=SC2086
		expect_exit 1 rdsnap verify $mode t
		grep -qF -- "$2" out || fail "verify $mode after '$1': $(cat out)"
	done
}
try "update entries set path = cast('../../victim/x' as blob)
    where path = cast('a' as blob)" \
    "catalog has a bad row for '../../victim/x': unsafe path"
try "insert into entries(path, first, type, mode, uid, gid, size, mtime)
    values (cast('d/' as blob), 1, 100, 493, 0, 0, 0, 0)" \
    "catalog has a bad row for 'd': it is there twice in one snapshot"
try "insert into entries(path, first, type, mode, uid, gid, size, mtime,
    target) values (cast('d' as blob), 1, 108, 511, 0, 0, 1,
    0, cast('a' as blob))" \
    "catalog has a bad row for 'd': it is there twice in one snapshot"
try "update entries set size = -3 where path = cast('a' as blob)" \
    "catalog has a bad row for 'a': its size is not its content's"
try "update contents set size = -1 where size = 2" \
    "its size, length or offset is impossible"
try "update contents set depth = 70 where size = 2" \
    "its delta chain is too long"
try "update contents set len = len + 1 where size = 2" \
    "object header disagrees with the catalog"
try "delete from entries where path = cast('d/' as blob)" \
    "catalog has a bad row for 'd/f': its parent is not a directory"
try "update signatures set block = 0" \
    "its signature's pack or place is not in the catalog"

# a flipped byte inside a stored signature: only --read-data reads it
rm -rf t
cp -a clean t
set -- $(sqlite3 -separator ' ' t/catalog.db "select p.name, s.off, s.len
    from signatures s join packs p on p.id = s.pack")
[ $# -eq 3 ] || fail "no signature row"
python3 - "t/packs/$1.pack" $(($2 + 96 + $3 / 2)) <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0x40]))
PY
expect_exit 0 rdsnap verify t
expect_exit 1 rdsnap verify --read-data t
grep -q "^DAMAGED the signature of content [0-9a-f]\{64\} is damaged: .*payload checksum mismatch$" out ||
	fail "signature flip: $(cat out)"
grep -q "^  used by 'big' in snapshot 1$" out || fail "signature users: $(cat out)"
expect_exit 0 rdsnap verify --read-data clean

# the other commands on a tampered catalog of two snapshots: damage
# (65), never an internal error
cp -a clean two
printf 'changed\n' >src/a
expect_exit 0 rdsnap create --quiet two src
other() {
	rm -rf t
	cp -a two t
	sqlite3 t/catalog.db "$1"
	shift
	expect_exit 65 "$@"
}
other "update packs set size = 9223372036854775807" rdsnap stats t
expect_file err "rdsnap: catalog: integer overflow"
other "update contents set base = x'00'" \
    rdsnap prune --keep-last 1 --max-unused 0 t
expect_file err "rdsnap: catalog: FOREIGN KEY constraint failed"
other "update contents set len = -1" rdship send t
grep -q "^rdship: pack '[0-9a-f]*' offset [0-9]*: object header disagrees with the catalog (run rdsnap verify)$" err ||
	fail "send: $(cat err)"
other "update signatures set off = 9223372036854775807" rdship send t
grep -q "^rdship: pack '[0-9a-f]*' offset 9223372036854775807: impossible offset$" err ||
	fail "send: $(cat err)"
# prune of a pack whose objects the catalog makes larger than the pack
other "update contents set len = 9223372036854775807" \
    rdsnap prune --keep-last 1 --max-unused 0 t
grep -q "^rdsnap: pack '[0-9a-f]*': the catalog puts more in it than it holds (run rdsnap verify)$" err ||
	fail "prune: $(cat err)"

# a catalog that fuzz_catalog made, whose schema SQLite cannot read
rm -rf t
cp -a clean t
cp "$RD_SRCDIR/tests/fixtures/catalog-unsupported-format.db" t/catalog.db
expect_exit 65 rdsnap list t
expect_file err "rdsnap: catalog: unsupported file format"
