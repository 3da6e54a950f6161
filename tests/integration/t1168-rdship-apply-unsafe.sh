#!/bin/sh
# A tampered standby catalog cannot make replica apply write or delete
# outside the replica: a row with a ".." path is refused (65, the path
# named), the files beside the replica are untouched, and restore refuses
# it the same way.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir -p src victim
printf 'a\n' >src/a
printf 'b\n' >src/b
printf 'keep x\n' >victim/x
printf 'keep y\n' >victim/y
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdsnap init --standby --no-key s
expect_exit 0 rdship push --quiet --apply rep p s
printf 'a2\n' >src/a
rm src/b
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdship push --quiet p s
# snapshot 2 arrived; the replica is still at 1.  Now the catalog lies:
# the new version of "a" is written to ../victim/x, and the removal of
# "b" deletes ../victim/y.
sqlite3 s/catalog.db "update entries set path = cast('../victim/x' as blob)
    where path = cast('a' as blob) and first = 2;
    update entries set path = cast('../victim/y' as blob)
    where path = cast('b' as blob)"
expect_exit 0 rdship send --since 2 p
mv out none.rdb
expect_exit 65 rdship receive --apply rep s <none.rdb
expect_file err "rdship: catalog has a bad row for '../victim/x': unsafe path"
[ "$(cat victim/x victim/y)" = "keep x
keep y" ] || fail "apply wrote or deleted outside the replica"
[ "$(ls victim)" = "x
y" ] || fail "apply left files beside the replica: $(ls victim)"
[ "$(cat rep/a)" = a ] || fail "the replica changed"
expect_exit 65 rdsnap restore s r
grep -q "unsafe path" err || fail "restore: $(cat err)"
[ "$(cat victim/x victim/y)" = "keep x
keep y" ] || fail "restore wrote outside its target"
