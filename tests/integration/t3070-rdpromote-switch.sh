#!/bin/sh
# Issue 11, problem 8: the switch never replaces a directory, even one
# that appears at the name for the old target between the check and the
# rename (another process, an earlier run); it never deletes one; and
# the old target is kept under a free name.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

setup_standby
build_shim
mkdir target
printf 'old data\n' >target/old
expect_exit 0 "$TMP/shim" RD_PLANT=1 rdpromote --force --fence true s target
grep -q "^PROMOTED: '$TMP/target' holds snapshot 2 " out || fail "$(cat out)"
tree_sig target >got
cmp -s sig2 got || fail "target differs from snapshot 2"
aside=$(sqlite3 s/catalog.db "select aside from promotions")
case $aside in
"$TMP"/target.pre-promote-*Z.1) ;;
*) fail "the old target was not kept under a new name: $aside" ;;
esac
[ "$(cat "$aside/old")" = "old data" ] || fail "the old target is not at $aside"
planted=${aside%.1}
[ -d "$planted" ] && [ -z "$(ls -A "$planted")" ] ||
    fail "the directory at $planted was replaced"
grep -q "^  the old target is kept as '$aside'$" out || fail "$(cat out)"
[ "$(sqlite3 s/catalog.db "select count(*) from promotion_trees where path = '$planted'")" = 0 ] ||
    fail "the journal claims a tree it did not make"
