#!/bin/sh
# rdship follow to local standbys (rdship serve through a pipe): --cycles
# and --json, --no-notify (a snapshot every cycle), two destinations with
# change notification (cycles without change take no snapshot), pruning
# as it goes, and a refusal that no retry mends (a keyed standby, no key)
# ending it with 77.
. "$RD_SRCDIR/tests/integration/lib.sh"

make_sample_tree src
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap init --standby --no-key s1
expect_exit 0 rdsnap init --standby --no-key s2
expect_exit 0 rdship follow --interval 1 --cycles 2 --json --no-notify \
    --apply "$TMP/rep" p src s1
[ "$(wc -l <out)" -eq 2 ] || fail "$(cat out)"
grep -q '^{"schema":"rdship-follow/1","cycle":1,"snapshot":1,"destinations":1,"bytes":[0-9]*,' out ||
    fail "$(cat out)"
grep -q '^{"schema":"rdship-follow/1","cycle":2,"snapshot":2,"destinations":1,"bytes":[0-9]*,.*"failures":0}$' out ||
    fail "$(cat out)"
expect_empty err
tree_sig src >a
tree_sig rep >b
cmp -s a b || fail "replica differs from the source"

# two destinations, each with its own channel; prune keeps the last 2;
# the first cycle walks, the next two see no change and take nothing
printf 'new\n' >src/new
expect_exit 0 rdship follow --interval 1 --cycles 3 --keep-last 2 \
    --prune-every 1 p src s1 s2
grep -q '^stopped after 3 cycles: snapshot 3, 0 failures, ' out ||
    fail "$(cat out)"
expect_exit 0 rdsnap list --json p
[ "$(grep -o '"id":' out | wc -l)" -eq 2 ] || fail "prune kept: $(cat out)"
grep -q '"id":2,' out || fail "$(cat out)"
grep -q '"id":3,' out || fail "$(cat out)"
for s in s1 s2; do
	expect_exit 0 rdsnap restore "$s" r-$s
	tree_sig r-$s >b
	tree_sig src >a
	cmp -s a b || fail "$s differs from the source"
done

# a standby that demands a key: follow without it stops at once with 77
expect_exit 0 rdsnap init --standby k
expect_exit 77 rdship follow --interval 1 p src k
grep -q "^rdship: the receiving store requires a key: give --key$" err ||
    fail "$(cat err)"
