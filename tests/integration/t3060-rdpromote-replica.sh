#!/bin/sh
# Issue 11, problem 6: a warm replica found damaged at verify is
# discarded, and the next run restores the snapshot from the store, as
# rdpromote(1) says, instead of failing for ever on the staging tree that
# went with it.  A fall-back gives a moved warm replica back.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

setup_standby
mkdir target
printf 'old\n' >target/old
# one byte of the replica changed; size and mtime kept, so only hashing
# finds it
f=rep/var/lib/db/random.bin
t=$(stat -c %y "$f")
printf 'Z' | dd of="$f" bs=1 seek=1000 conv=notrunc 2>/dev/null
touch -d "$t" "$f"

expect_exit 1 rdpromote --force --fence true s target
grep -q "^  materialize  ok  .* warm replica $TMP/rep, moved into place$" out ||
    fail "$(cat out)"
grep -q "^REFUSED: the materialized tree does not match snapshot 2: 'var/lib/db/random.bin': content does not match its SHA-256; the warm replica was discarded: resume to restore snapshot 2 from the store$" out ||
    fail "$(cat out)"
grep -q "^  rdpromote --resume s$" out || fail "$(cat out)"
[ ! -e .target.rdpromote ] && [ ! -e rep ] || fail "the damaged replica was kept"
[ "$(cat target/old)" = old ] || fail "the target was touched"
row=$(sqlite3 s/catalog.db "select p.state || ':' || p.step || ':' || coalesce(p.replica, '-')
    || ':' || s.outcome from promotions p join promotion_steps s
    on s.promotion = p.id and s.step = 'materialize'")
[ "$row" = "running:verify:-:discarded" ] || fail "journal after the damage: $row"

# the next run restores from the store and promotes
expect_exit 0 rdpromote --resume s
grep -q "^  materialize  ok  .* restored snapshot 2 into $TMP/.target.rdpromote$" out ||
    fail "$(cat out)"
grep -q "^  verify       ok  .* every file hashed$" out || fail "$(cat out)"
grep -q "^PROMOTED: '$TMP/target' holds snapshot 2 " out || fail "$(cat out)"
tree_sig target >got
cmp -s sig2 got || fail "the target is not snapshot 2"
expect_exit 0 rdsnap verify --read-data s

# a promotion killed while it verified the warm replica, then made to
# fall back to snapshot 1: the replica, which holds snapshot 2, goes back
# to its place, clean, and snapshot 1 is restored from the store
build_shim
expect_exit 0 rdsnap init --standby --no-key s2
expect_exit 0 rdship push --apply "$TMP/rep2" p s2
tree_sig rep2 >rep2.sig
kill_at "$TMP/in-readlinkat" "$TMP/shim" RD_PAUSE_AT=readlinkat \
    RD_PAUSE_MARK="$TMP/in-readlinkat" rdpromote --force --fence true s2 target2
[ ! -e rep2 ] && [ -d .target2.rdpromote ] || fail "the replica was not moved into place"
expect_exit 0 rdpromote --resume --snapshot 1 s2
grep -q "^PROMOTED: '$TMP/target2' holds snapshot 1 " out || fail "$(cat out)"
grep -q "^  materialize  ok  .* restored snapshot 1 into $TMP/.target2.rdpromote$" out ||
    fail "$(cat out)"
tree_sig rep2 >now.sig
cmp -s rep2.sig now.sig || fail "the warm replica did not come back as it was"
[ "$(sqlite3 s2/catalog.db "select version || ':' || state from replicas where dir = '$TMP/rep2'")" = "2:clean" ] ||
    fail "the warm replica is not recorded again"
expect_exit 0 rdsnap restore --snapshot 1 s2 want1
tree_sig want1 >sig1
tree_sig target2 >got
cmp -s sig1 got || fail "target2 is not snapshot 1"
