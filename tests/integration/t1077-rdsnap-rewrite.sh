#!/bin/sh
# A file rewritten at the same size between two reads of one snapshot,
# on a file system whose timestamps are too coarse to show it
# (snap-shim.c hides it from fstat): every content is stored under the
# SHA-256 of exactly the bytes stored, so the store verifies, the file
# restores as it was last read, and no later file is deduplicated onto
# bytes that are not its own.
. "$RD_SRCDIR/tests/integration/lib.sh"

cc -shared -fPIC -o "$TMP/shim.so" \
    "$RD_SRCDIR/tests/integration/snap-shim.c" -ldl ||
	fail "cannot build the test shim"
shim() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    LD_PRELOAD="$TMP/shim.so" "$@"
}
# rand N SEED FILE: N KiB of reproducible pseudo-random bytes
rand() {
	openssl enc -aes-128-ctr -nosalt -pass "pass:$2" -pbkdf2 \
	    -in /dev/zero 2>/dev/null | head -c "$(($1 * 1024))" >"$3"
}
sha() {
	sha256sum "$1" | cut -c1-64
}

mkdir src
rand 3072 a src/a
rdsnap init store >/dev/null
expect_exit 0 rdsnap create --quiet store src

# 1. A new file of a size the store holds already: read once to look for
# a duplicate, then again to store it; rewritten between the two.
rand 3072 b1 src/b
cp src/b b-first
rand 3072 b2 b-last
RD_SHIM_FILE=b RD_SHIM_DATA="$TMP/b-last" \
    expect_exit 0 shim rdsnap create --quiet store src
cmp -s src/b b-last || fail "the shim did not rewrite b"
expect_exit 0 rdsnap verify --read-data store
rdsnap ls --snapshot 2 --json store b >ls.json
grep -q "\"sha256\": *\"$(sha b-last)\"" ls.json ||
	fail "b is not recorded under the hash of its stored bytes: $(cat ls.json)"
expect_exit 0 rdsnap restore --snapshot 2 store r2 b
cmp r2/b b-last || fail "b does not restore as last read"

# 2. A file changed in place, stored as an aligned delta, rewritten as
# soon as the read reaches its end: the delta, its hash and signature
# all come from that one read, so the snapshot holds the bytes read (the
# rewrite is the next version), under their own hash.
cp src/a a-first
rand 64 a1 patch1
dd if=patch1 of=src/a conv=notrunc status=none
cp src/a a-mid
cp src/a a-last
rand 64 a2 patch2
dd if=patch2 of=a-last conv=notrunc status=none
RD_SHIM_FILE=a RD_SHIM_DATA="$TMP/a-last" \
    expect_exit 0 shim rdsnap create --quiet store src
cmp -s src/a a-last || fail "the shim did not rewrite a"
expect_exit 0 rdsnap verify --read-data store
expect_exit 0 rdsnap restore --snapshot 3 store r3 a b
cmp r3/a a-mid || fail "a does not restore as read"
rdsnap ls --snapshot 3 --json store a >ls.json
grep -q "\"sha256\": *\"$(sha a-mid)\"" ls.json ||
	fail "a is not recorded under the hash of its stored bytes: $(cat ls.json)"

# 3. The versions that were hashed but never stored come back as
# themselves: nothing in the store claims their hashes.
cp b-first src/c
cp a-mid src/d
expect_exit 0 rdsnap create --quiet store src
expect_exit 0 rdsnap restore --snapshot 4 store r4
cmp r4/c b-first || fail "c was deduplicated onto other bytes"
cmp r4/d a-mid || fail "d was deduplicated onto other bytes"
cmp r4/a a-last || fail "a changed"
expect_exit 0 rdsnap verify --read-data store
