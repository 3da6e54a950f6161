#!/bin/sh
# rdship rejoin --origin UUID, without etcd: the old primary becomes a
# standby of the store promoted in its place.  Its refusals leave it as
# it was (this store itself, a store aside already there, a rejoin under
# way, a bundle instead of a push, a promotion before the first push);
# the first push drops the snapshot taken after the fork point, which
# stays in STORE/forked-1, a store of its own that verifies and
# restores.  t3100 runs the same with etcd.
. "$RD_SRCDIR/tests/integration/lib.sh"

# the store id and the role of STORE
sid() {
	rdship status "$1" >status.txt || fail "rdship status $1"
	sed -n '1s/^store .* (\([a-z]*\), id \([0-9a-f-]*\), .*/\2 \1/p' \
	    status.txt
}

mkdir src
printf 'one\n' >src/a
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
expect_exit 0 rdsnap init --standby --no-key w
expect_exit 0 rdship push p w
expect_exit 0 rdpromote --force --no-fence w tw
printf 'two\n' >src/b
expect_exit 0 rdsnap create w src
printf 'fork\n' >src/f
expect_exit 0 rdsnap create p src
PU=$(sid p | cut -d' ' -f1)
WU=$(sid w | cut -d' ' -f1)

expect_exit 77 rdship rejoin --origin "$PU" p
expect_file err "rdship: $PU is this store itself: nothing to rejoin"
mkdir p/forked-1
expect_exit 73 rdship rejoin --origin "$WU" p
expect_file err "rdship: cannot keep the snapshots aside: 'p/forked-1' exists"
rmdir p/forked-1
[ "$(sid p)" = "$PU primary" ] || fail "a refused rejoin changed p"

expect_exit 0 rdship rejoin --origin "$WU" p
expect_file out "store 'p' is now a standby of $WU; its snapshots 1-2 are kept aside in 'p/forked-1'
the next push from $WU keeps here the snapshots up to the fork point and sends only what this store lacks"
[ "$(sid p)" = "$PU standby" ] || fail "p is not a standby: $(cat status.txt)"
sed -n 3p status.txt >rejoin.txt
expect_file rejoin.txt "rejoin     waiting for the first push from the origin; this store's history is kept aside in 'p/forked-1'"
expect_exit 0 rdship status --json p
python3 -c 'import json, sys; assert json.load(open(sys.argv[1]))["rejoining"] == "forked-1"' out ||
    fail "status --json: $(cat out)"
expect_exit 77 rdship rejoin --origin "$WU" p
expect_file err "rdship: store 'p' is rejoining $WU already: push from it to finish"
# a bundle cannot say where the histories forked
rdship send -q w >w.rdb || fail "send"
expect_exit 77 rdship receive p <w.rdb
expect_file err "rdship: store 'p' is rejoining $WU: its first snapshots must come from rdship push, which says where the histories forked, not from a bundle"
expect_exit 0 rdsnap ls --snapshot 2 p f
# nor is it promoted before that push
expect_exit 1 rdpromote --force --no-fence p tp
sed -n 2p out >refused
expect_file refused "REFUSED: store 'p' is rejoining $WU and has not had its first push from it: it still holds its own snapshots after the fork point; nothing to promote"
[ ! -e tp ] || fail "a refused promotion made its target"

# the push keeps snapshot 1 and replaces 2 by the winner's
expect_exit 0 rdship push w p
expect_file err "rdship: rejoined $WU at the fork point, snapshot 1: this store's snapshot 2 is kept aside in 'p/forked-1'"
sed 's/ ([^)]*)//g; s/; [0-9.]* s$//; s/, [0-9.]* [KMG]*i*B on/, N on/' out >masked
expect_file masked "pushed snapshot 2 to p: 0 objects, N on the wire; 1 object already there"
expect_exit 0 rdsnap ls --snapshot 2 p b
expect_exit 0 rdsnap verify p
expect_exit 0 rdsnap restore p rp
expect_exit 0 rdsnap restore w rw
[ "$(tree_sig rp)" = "$(tree_sig rw)" ] || fail "p's newest is not w's"
[ "$(sid p)" = "$PU standby" ] || fail "p: $(cat status.txt)"
sed -n 2,3p status.txt >origin.txt
expect_file origin.txt "origin     $WU
newest     snapshot 2 ($(sed -n 's/^newest     snapshot 2 (\(.*\))$/\1/p' status.txt))"
expect_exit 77 rdship rejoin --origin "$WU" p
expect_file err "rdship: store 'p' is a standby of $WU already: nothing to rejoin"

# what came after the fork point is a store of its own
case "$(sid p/forked-1)" in
"$PU "* | *standby) fail "p/forked-1: $(cat status.txt)" ;;
*" primary") ;;
*) fail "p/forked-1: $(cat status.txt)" ;;
esac
expect_exit 0 rdsnap verify p/forked-1
expect_exit 0 rdsnap restore --snapshot 2 p/forked-1 rf
expect_file rf/f "fork"
