#!/bin/sh
# A file that keeps changing while it is read is retried, then stored as
# last read and reported: the snapshot completes for the rest, is marked
# inconsistent, and create exits 3.  The writer is simulated by
# snap-shim.c (every fstat sees a newer mtime), so no timing decides.
. "$RD_SRCDIR/tests/integration/lib.sh"

cc -shared -fPIC -o "$TMP/shim.so" \
    "$RD_SRCDIR/tests/integration/snap-shim.c" -ldl ||
	fail "cannot build the test shim"
shim() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    LD_PRELOAD="$TMP/shim.so" "$@"
}

mkdir src
printf 'stable\n' >src/stable
head -c 2999992 /dev/urandom >src/busy
printf 'small\n' >src/small
expect_exit 0 rdsnap init store
for f in busy small; do
	printf 'changed\n' >>src/$f
	RD_SHIM_FILE=$f RD_SHIM_TICK=1 expect_exit 3 shim rdsnap create --json \
	    store src
	expect_file err "rdsnap: '$f' kept changing while it was read; stored as last read
rdsnap: snapshot $((${n:-0} + 1)) is inconsistent: 1 file kept changing while read (rdsnap problems lists them)"
	n=$((${n:-0} + 1))
	python3 - out $f <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["inconsistent"] == 1 and d["partial"] == 0, d
assert d["files"] == 4, d
# read three times in all: busy (3000000 bytes) whole each time, as a
# delta of one pass; small (14 bytes) next to busy, read again once as
# the last snapshot stored it inconsistent
if sys.argv[2] == "busy":
    assert d["bytes_read"] == 3 * 3000000 + 7 + 6, d
else:
    assert d["bytes_read"] == 3000000 + 3 * 14, d
PY
	unstable=$(sqlite3 store/catalog.db "select unstable from entries
	    where path = cast('$f' as blob) and last is null")
	[ "$unstable" = 1 ] || fail "$f not marked unstable"
	expect_exit 0 rdsnap problems store
	expect_file out "changing    $f: kept changing while it was read"
	expect_exit 0 rdsnap list --json store
	python3 - out $n <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))[-1]
assert d["id"] == int(sys.argv[2]) and d["inconsistent"] == 1, d
PY
done
expect_exit 0 rdsnap verify --read-data store
expect_exit 0 rdsnap restore store rst
cmp rst/busy src/busy || fail "busy is not stored as last read"
cmp rst/stable src/stable || fail "stable file"
# follow reads a changing file once a cycle: the next cycle is the retry
expect_exit 0 rdsnap init --standby --no-key standby
printf 'changed\n' >>src/busy
RD_SHIM_PROG=rdship RD_SHIM_FILE=busy RD_SHIM_TICK=1 expect_exit 0 shim \
    rdship follow --cycles 1 --no-notify store src standby
grep -q "^rdship: 'busy' kept changing while it was read; stored as last read$" \
    err || fail "follow: $(cat err)"
expect_exit 0 rdsnap list --json store
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))[-1]
assert d["inconsistent"] == 1 and d["bytes_read"] == 3000008 + 14, d
PY
expect_exit 0 rdsnap restore store rst2
cmp rst2/busy src/busy || fail "follow: busy is not stored as read"
# the next snapshot reads the file that changed in the last one again,
# although it looks unchanged
expect_exit 0 rdsnap create --json store src
expect_empty err
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bytes_read"] == 3000008 and d["inconsistent"] == 0, d
PY
expect_exit 0 rdsnap problems store
expect_empty out
