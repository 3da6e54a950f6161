#!/bin/sh
# Stores made by the first landed catalog format (1) open in this build:
# the catalog is migrated forward on first use, in one transaction, and
# then everything works on it as on a new store.  The fixture was made by
# tests/fixtures/make-format1.sh with the build of that format.
. "$RD_SRCDIR/tests/integration/lib.sh"

tar xzf "$RD_SRCDIR/tests/fixtures/format1-stores.tar.gz"
[ "$(sqlite3 primary/catalog.db 'PRAGMA user_version')" = 1 ] ||
    fail "the fixture is not of format 1"

# a reader migrates it
expect_exit 0 rdsnap ls --snapshot 1 primary
expect_file out "d 755 0 2020-01-02T03:04:05.500000000Z - .
f 644 6 2020-01-02T03:04:05.500000000Z 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 a.txt
d 755 0 2020-01-02T03:04:05.500000000Z - empty
l 777 5 2020-01-02T03:04:05.500000000Z - link -> a.txt
d 755 0 2020-01-02T03:04:05.500000000Z - sub
f 640 12 2020-01-02T03:04:05.500000000Z f957b19529906961933c5c30f8713c500a9bb5d9d0695c40d48c97a26a3594ec sub/b.txt
f 644 1305000 2020-01-02T03:04:05.500000000Z 792b77861a84c56cb02d0cd83f0cb9a699c01e69d7a07e114b3e6b06361eadde sub/big.txt"
expect_empty err
[ "$(sqlite3 primary/catalog.db 'PRAGMA user_version')" = 4 ] ||
    fail "the catalog was not migrated to format 4"

# the migrated catalog has exactly the schema of a new store
expect_exit 0 rdsnap init fresh
sqlite3 fresh/catalog.db .schema >schema.fresh
sqlite3 primary/catalog.db .schema >schema.migrated
cmp -s schema.fresh schema.migrated || fail "migrated schema differs"

# every byte of the old packs still verifies, and restores exactly
expect_exit 0 rdsnap verify --read-data primary
expect_exit 0 rdsnap restore primary restored
(cd restored && sha256sum a.txt c.txt sub/big.txt) >sums
expect_file sums "d9a4c6676a62cb3b8ca0b8459ab341837cdba8543316c8574b454ccc24d4c690  a.txt
7aa7a5359173d05b63cfd682e3c38487f3cb4f7f1d60659fe59fab1505977d4c  c.txt
6d707cc094c2f832a4cdf5bdafa465ef2c6fc9e1086caf10e4cb1173046df218  sub/big.txt"

# the old journals are read: the drill, the watch record, the standby
expect_exit 0 rdpromote history --json primary
grep -q '"kind":"drill"' out || fail "the format-1 drill is not listed"
expect_exit 0 rdwatch report primary
grep -q '^file:' out || fail "the format-1 watch record is not reported"
expect_exit 0 rdship status --json standby
grep -q '"newest":2' out || fail "the standby's newest snapshot"

# a writer works on it: a new snapshot, shipped to the migrated standby
mkdir src && printf 'three\n' >src/three
expect_exit 0 rdsnap create primary src
rdship send --since 2 primary >b3.rdb 2>/dev/null ||
    fail "send from a migrated store"
expect_exit 0 rdship receive standby <b3.rdb
[ "$(sqlite3 standby/catalog.db 'PRAGMA user_version')" = 4 ] ||
    fail "the standby was not migrated"
expect_exit 0 rdsnap verify --read-data standby
expect_exit 0 rdsnap restore standby s3
[ "$(cat s3/three)" = three ] || fail "snapshot 3 on the standby"

# a catalog that cannot be written cannot be migrated: clear error, unchanged
tar xzf "$RD_SRCDIR/tests/fixtures/format1-stores.tar.gz" standby
mv standby ro && chmod 0444 ro/catalog.db
if [ "$(id -u)" -eq 0 ]; then
	chmod o+x "$TMP"
	chown -R nobody ro
	chown root ro/catalog.db
	set +e
	runuser -u nobody -- "$RD_BUILDDIR/rdsnap" list ro >out 2>err
	rc=$?
	set -e
else
	set +e
	rdsnap list ro >out 2>err
	rc=$?
	set -e
fi
[ "$rc" -eq 77 ] || fail "migrating a read-only catalog: status $rc"
grep -q "^rdsnap: cannot upgrade the catalog of store 'ro' from format 1 to 4: " err ||
    fail "message: $(cat err)"
[ "$(sqlite3 ro/catalog.db 'PRAGMA user_version')" = 1 ] ||
    fail "a failed migration changed the format"
