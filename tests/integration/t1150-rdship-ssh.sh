#!/bin/sh
# push over a real ssh: an sshd started by the test on 127.0.0.1 with a
# throwaway host key and user key; the standby ends equal to the primary.
. "$RD_SRCDIR/tests/integration/lib.sh"

. "$RD_SRCDIR/tests/integration/sshd-lib.sh"
RD_ON_EXIT='kill $sshd_pid'

make_sample_tree src
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
expect_exit 0 rdsnap init --standby --no-key "$TMP/s"
expect_exit 0 rdship keygen k
cp k "$TMP/s/ship.key"
expect_exit 0 rdship push --key k --rsh "$RSH" --remote-rdship "$RD_BUILDDIR/rdship" \
    --apply "$TMP/rep" p "127.0.0.1:$TMP/s"
grep -q "^pushed snapshot 1 to 127.0.0.1:$TMP/s: " out || fail "$(cat out)"
tree_sig src >a
tree_sig "$TMP/rep" >b
cmp -s a b || { diff a b >&2; fail "replica over ssh differs"; }
expect_exit 0 rdsnap restore "$TMP/s" r
tree_sig r >b
cmp -s a b || fail "standby restore over ssh differs"

# a change travels too; a push without the key is refused by the standby
printf 'port = 1\n' >src/etc/app/app.conf
expect_exit 0 rdsnap create p src
expect_exit 77 rdship push --rsh "$RSH" --remote-rdship "$RD_BUILDDIR/rdship" \
    p "127.0.0.1:$TMP/s"
grep -q "^rdship: the receiving store requires a key: give --key$" err ||
    fail "$(cat err)"
expect_exit 0 rdship push --key k --rsh "$RSH" --remote-rdship "$RD_BUILDDIR/rdship" \
    --apply "$TMP/rep" p "127.0.0.1:$TMP/s"
tree_sig src >a
tree_sig "$TMP/rep" >b
cmp -s a b || fail "replica over ssh differs after a change"
