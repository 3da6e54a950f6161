#!/bin/sh
# A large file changed in place (database pages) reaches the standby as
# an aligned delta: the standby's cache and the replica's copy are
# patched in place, only their changed blocks written.  A file shifted
# by an insert is written whole; a replica copy or cache file that does
# not hold the old version is rewritten from the store; an apply
# interrupted halfway through a file is finished by patching it again.
. "$RD_SRCDIR/tests/integration/lib.sh"

sha() { sha256sum "$1" | cut -c1-64; }
ino() { stat -c %i "$1"; }
# pages N... of file F get new random bytes, in place
pages() {
	f=$1
	shift
	for n in "$@"; do
		head -c 8192 /dev/urandom |
		    dd of="$f" bs=8192 seek="$n" conv=notrunc 2>/dev/null
	done
}
same() {
	cmp -s "src/$1" "rep/$1" || fail "replica '$1' differs from the source ($2)"
}

mkdir src
head -c 12582912 /dev/urandom >src/db
seq 1 20000 >src/small
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap init --standby --no-key s
expect_exit 0 rdsnap create p src
expect_exit 0 rdship push --apply rep p s
same db "first push"
[ "$(ls s/cache)" = "$(sha src/db)" ] ||
    fail "cache: $(ls s/cache), not the database's bytes"
rep_ino=$(ino rep/db)
cache_ino=$(ino "s/cache/$(sha src/db)")

# pages rewritten in place: both copies patched where they are
pages src/db 3 700 1535
expect_exit 0 rdsnap create p src
expect_exit 0 rdship push --apply rep p s
same db "pages rewritten"
[ "$(ino rep/db)" = "$rep_ino" ] || fail "the replica's copy was written anew"
[ "$(ls s/cache)" = "$(sha src/db)" ] || fail "cache: $(ls s/cache)"
[ "$(ino "s/cache/$(sha src/db)")" = "$cache_ino" ] ||
    fail "the cache file was written anew"
[ -z "$(find rep -name '.rdship-*')" ] || fail "temp files left in the replica"
expect_exit 0 rdship status --json s
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["replicas"][0]["state"] == "clean" and d["replicas"][0]["version"] == 2, d
PY

# grown at the end as well: still in place
pages src/db 10 1536
expect_exit 0 rdsnap create p src
expect_exit 0 rdship push --apply rep p s
same db "grown"
[ "$(ino rep/db)" = "$rep_ino" ] || fail "the grown copy was written anew"

# a replica copy that is not the old version (someone wrote to it): the
# patch fails its check and the file is written whole from the store
printf 'X' | dd of=rep/db bs=1 seek=5000000 conv=notrunc 2>/dev/null
touch -d @1000000000 rep/db # (else its mtime may tie with the source's)
pages src/db 20
expect_exit 0 rdsnap create p src
expect_exit 0 rdship push --apply rep p s
same db "replica copy tampered with"
[ "$(ino rep/db)" != "$rep_ino" ] || fail "a wrong copy was kept"
rep_ino=$(ino rep/db)

# a cache file that is not what its name says: dropped, the delta is
# rebuilt from the store and checked there
c=s/cache/$(sha src/db)
printf 'X' | dd of="$c" bs=1 seek=7000000 conv=notrunc 2>/dev/null
pages src/db 30
expect_exit 0 rdsnap create p src
expect_exit 0 rdship push --apply rep p s
same db "cache tampered with"
[ "$(ls s/cache)" = "$(sha src/db)" ] || fail "cache: $(ls s/cache)"
cmp -s "s/cache/$(sha src/db)" src/db || fail "the cache holds other bytes"

# an insert shifts every block: a rolling delta, the copy written whole
{ printf 'inserted'; cat src/db; } >src/db.new && mv src/db.new src/db
expect_exit 0 rdsnap create p src
expect_exit 0 rdship push --apply rep p s
same db "shifted"
[ "$(ino rep/db)" != "$rep_ino" ] || fail "a shifted file was patched in place"
rep_ino=$(ino rep/db)

# grown by zeros: they stay holes in the copy, as in a file written anew
truncate -s 33554432 src/db
expect_exit 0 rdsnap create p src
expect_exit 0 rdship push --apply rep p s
same db "grown by zeros"
[ "$(ino rep/db)" = "$rep_ino" ] || fail "the copy grown by zeros was written anew"
[ "$(stat -c %b rep/db)" -lt $((14 * 1024 * 2)) ] ||
	fail "the zeros were written: $(stat -c %b rep/db) blocks"

# interrupted halfway through the file: some pages new, others old, and
# the journal says "applying".  The redo patches the same copy again.
cp src/db old.db
pages src/db 40 41 900
expect_exit 0 rdsnap create p src
rdship push p s >/dev/null 2>&1 || fail "push without --apply"
dd if=src/db of=rep/db bs=8192 skip=40 seek=40 count=1 conv=notrunc \
    2>/dev/null
cmp -s rep/db old.db && fail "the replica's copy was not changed"
cmp -s rep/db src/db && fail "the replica's copy is already new"
new=$(sqlite3 s/catalog.db "select max(id) from snapshots")
sqlite3 s/catalog.db "update replicas set state = 'applying', target = $new"
expect_exit 0 rdship status s
grep -q "interrupted update: the next receive with --apply finishes it" out ||
    fail "status: $(cat out)"
expect_exit 0 rdship push --apply rep p s
grep -q "resuming an interrupted replica update" err || fail "$(cat err)"
same db "resumed"
same small "resumed"
[ "$(ino rep/db)" = "$rep_ino" ] || fail "the resumed copy was written anew"
expect_exit 0 rdship status --json s
python3 - out "$new" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
r = d["replicas"][0]
assert r["state"] == "clean" and r["version"] == int(sys.argv[2]), d
PY
expect_exit 0 rdsnap verify --read-data s
