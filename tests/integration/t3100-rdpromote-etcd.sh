#!/bin/sh
# Several standbys, exactly one promotion: a real 3-member etcd cluster.
# Two standbys race rdpromote --etcd --cluster app a few rounds: exactly
# one is promoted each time, the other exits 77 with its target, epoch
# and journal untouched.  The winner's epoch is max(local + 1, token) and
# etcd names it.  With one member stopped a promotion still works; with
# two stopped it is refused with 69 and nothing changes; the dry run
# shows what etcd says.  The old primary rejoins as a standby of the
# winner with one command: its post-fork snapshot is kept aside, only
# what it lacks is shipped.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/etcd-lib.sh"

need_etcd
start_etcd

mkdir src
printf 'one\n' >src/a
head -c 1000000 /dev/urandom >src/big
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
PU=$(store_uuid p)

# new_standby NAME: a standby of p with its snapshot
new_standby() {
	expect_exit 0 rdsnap init --standby --no-key "$1"
	expect_exit 0 rdship push p "$1"
}

promote() {
	rdpromote --force --no-fence --etcd "$ETCD_URLS" --cluster app \
	    --etcd-timeout 2 "$@"
}

for round in 1 2 3; do
	new_standby a$round
	new_standby b$round
	if [ $round -gt 1 ]; then
		# the key names the primary both follow
		ectl put /redund/app/primary "$PU 1 -" >/dev/null
	fi
	set +e
	promote a$round ta$round >a.out 2>a.err &
	pa=$!
	promote b$round tb$round >b.out 2>b.err &
	pb=$!
	wait $pa
	ra=$?
	wait $pb
	rb=$?
	set -e
	if [ $ra -eq 0 ] && [ $rb -eq 77 ]; then
		win=a$round lose=b$round
	elif [ $ra -eq 77 ] && [ $rb -eq 0 ]; then
		win=b$round lose=a$round
	else
		cat a.out a.err b.out b.err >&2
		fail "round $round: exit statuses $ra and $rb, expected 0 and 77"
	fi
	wu=$(store_uuid "$win")
	[ -d "t$win" ] || fail "round $round: $win was not promoted"
	[ ! -e "t$lose" ] || fail "round $round: $lose's target was made"
	[ "$(store_epoch "$lose")" = 1 ] || fail "round $round: $lose's epoch changed"
	[ "$(store_role "$lose")" = standby ] || fail "round $round: $lose's role changed"
	[ "$(store_role "$win")" = primary ] || fail "round $round: $win's role"
	# the loser says why, in one line, and its journal is not open
	l=${lose%?}
	grep -q "^REFUSED: .*refusing to promote" $l.out ||
	    fail "round $round: no refusal on stdout: $(cat $l.out)"
	expect_exit 77 promote --dry-run "$lose" "t$lose"
	grep -q "^  journal      ok       no unfinished promotion or drill\$" out ||
	    fail "round $round: $lose's journal: $(cat out)"
	expect_exit 0 ectl get --print-value-only /redund/app/primary
	# shellcheck disable=SC2046
	set -- $(cat out)
	[ "$1" = "$wu" ] || fail "round $round: etcd names $1, not $wu"
	ep=$(store_epoch "$win")
	[ "$2" = "$ep" ] || fail "round $round: etcd epoch $2, store epoch $ep"
	[ "$ep" -gt 1 ] || fail "round $round: epoch not raised"
	if [ $round -gt 1 ]; then
		[ "$3" = "$PU" ] || fail "round $round: previous primary $3"
	else
		[ "$3" = "-" ] || fail "round $round: previous primary $3"
	fi
done

# the loser follows the winner: refused without etcd, followed when
# etcd confirms it; the old primary is refused from then on
printf 'two\n' >src/b
expect_exit 0 rdsnap create "$win" src
expect_exit 77 rdship push "$win" "$lose"
expect_file err "rdship: receiver: bundle comes from store $wu, but '$lose' follows $PU (use --adopt to follow the new one)"
expect_exit 0 rdship push --etcd "$ETCD_URLS" --cluster app "$win" "$lose"
expect_file err "rdship: following $wu, the promoted primary of cluster 'app' (epoch $ep), instead of $PU"
rdship status "$lose" >st.txt
sed -n 2p st.txt >origin.txt
expect_file origin.txt "origin     $wu"
[ "$(store_epoch "$lose")" = "$ep" ] || fail "the follower's epoch"
expect_exit 0 rdsnap ls --snapshot 2 "$lose" b
expect_exit 77 rdship push p "$lose"
expect_file err "rdship: receiver: bundle comes from store $PU, but '$lose' follows $wu (use --adopt to follow the new one)"

# standbys of p at its snapshot 1, for the checks below
new_standby c
new_standby d

# rejoin: the old primary takes a snapshot after the fork point
# (snapshot 1, the newest the winner took from it); a push from the
# winner is refused, to p and to a standby of p that got that snapshot
printf 'fork\n' >src/f
expect_exit 0 rdsnap create p src
cp -a src forked
rm src/f
new_standby s
expect_exit 77 rdship push "$win" p
expect_file err "rdship: receiver: store 'p' is a primary (epoch 1) and $wu sends at epoch $ep: if it was promoted in its place, run 'rdship rejoin' on 'p' to follow it, keeping aside what came after the fork"
expect_exit 77 rdship push --etcd "$ETCD_URLS" --cluster app "$win" s
expect_file err "rdship: receiver: store 's' has snapshots past snapshot 1, the fork point of $wu (its later ones are its own): to keep them aside and follow it, run 'rdship rejoin' on 's'"
[ "$(store_epoch s)" = 1 ] || fail "the refused standby's epoch changed"
expect_exit 0 rdsnap ls --snapshot 2 s f
# one command turns p into a standby of the winner, its history aside
expect_exit 0 rdship rejoin --etcd "$ETCD_URLS" --cluster app p
expect_file out "store 'p' is now a standby of $wu (epoch $ep); its snapshots 1-2 are kept aside in 'p/forked-1'
the next push from $wu keeps here the snapshots up to the fork point and sends only what this store lacks"
expect_exit 0 rdship push --json "$win" p
expect_file err "rdship: rejoined $wu at the fork point, snapshot 1: this store's snapshot 2 is kept aside in 'p/forked-1'"
# only what p lacks travels: a small fraction of the store
wire=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["wire_bytes"] if d["objects"] == 0 and d["from"] == 1 and d["newest"] == 2 else -1)' out)
size=$(du -sb p/packs | cut -f1)
[ "$wire" -gt 0 ] && [ $((wire * 20)) -lt "$size" ] ||
    fail "rejoin push: $wire bytes on the wire for a store of $size: $(cat out)"
echo "rejoin push: $wire bytes on the wire for a store of $size bytes"
[ "$(store_role p)" = standby ] || fail "p is not a standby"
[ "$(store_epoch p)" = "$ep" ] || fail "p's epoch is not the winner's"
# the post-fork snapshot is kept, and restores byte-exact
expect_exit 0 rdsnap restore --snapshot 2 p/forked-1 rf
[ "$(tree_sig rf)" = "$(tree_sig forked)" ] || fail "the kept snapshot differs"
# the rejoined store's newest is the winner's newest
expect_exit 0 rdsnap restore p rp
expect_exit 0 rdsnap restore "$win" rw
[ "$(tree_sig rp)" = "$(tree_sig rw)" ] || fail "p's newest is not the winner's"
# the old lineage is refused from now on
expect_exit 77 rdship push p/forked-1 p
FU=$(store_uuid p/forked-1)
expect_file err "rdship: receiver: bundle comes from store $FU, but 'p' follows $wu (use --adopt to follow the new one)"
expect_exit 77 rdship push --adopt p/forked-1 p
expect_file err "rdship: receiver: bundle has epoch 1, older than this store's epoch $ep: its sender was superseded by a promotion"

# a standby of p, and etcd says the winner took over from another store
X=00000000-0000-4000-8000-000000000000
ectl put /redund/app/primary "$wu $ep $X" >/dev/null
expect_exit 77 rdship push --etcd "$ETCD_URLS" --cluster app "$win" c
expect_file err "rdship: receiver: bundle comes from store $wu at epoch $ep, but etcd names $wu at epoch $ep (after $X) as the primary of cluster 'app'"
expect_exit 0 rdsnap ls --snapshot 1 c a

# rdwatch's cluster view: who is primary in etcd
expect_exit 0 rdwatch "etcd:$ETCD_URLS?cluster=app&primary=$wu"
expect_exit 1 rdwatch "etcd:$ETCD_URLS?cluster=app&primary=$PU"
sed 's/ down [0-9.]* ms / down L ms /' out >masked
expect_file masked "etcd:$ETCD_URLS?cluster=app&primary=$PU down L ms etcd names $wu (epoch $ep) as the primary of cluster 'app', not $PU"
expect_exit 1 rdwatch "etcd:$ETCD_URLS?cluster=other"
sed 's/ down [0-9.]* ms / down L ms /' out >masked
expect_file masked "etcd:$ETCD_URLS?cluster=other down L ms etcd names no primary for cluster 'other'"
expect_exit 64 rdwatch "etcd:$ETCD_URLS"

# a standby whose primary is not the one etcd names: refused, 77
expect_exit 77 promote --dry-run c tc
grep -q "^  etcd         failed   etcd names $wu (epoch $ep) as the primary of cluster 'app', but this standby follows $PU: refusing to promote\$" out ||
    fail "dry run does not say what etcd says: $(cat out)"
expect_exit 77 promote c tc
[ ! -e tc ] || fail "refused promotion made its target"

# the dry run of a standby of the named primary shows the claim
ectl put /redund/app/primary "$PU 1 -" >/dev/null
expect_exit 0 promote --dry-run c tc
grep -q "^  etcd         ok       etcd names $PU, the primary this standby follows (epoch 1, revision [0-9]*): the claim would take it over\$" out ||
    fail "dry run: $(cat out)"

# one member down: a quorum is left, the promotion works
stop_etcd_member 1
expect_exit 0 promote c tc
[ "$(store_epoch c)" -gt 1 ] || fail "epoch not raised with 2 of 3 members"

# two members down: no quorum, refused with 69, nothing changed
stop_etcd_member 2
expect_exit 69 rdpromote --force --no-fence --etcd "$ETCD_URLS" \
    --cluster app --etcd-timeout 1 d td
grep -q "^REFUSED: cannot claim cluster 'app' in etcd: etcd is unavailable or has no quorum (3 endpoints tried; last: $ETCD3: " out ||
    fail "no quorum: $(cat out)"
[ ! -e td ] || fail "promotion without quorum made its target"
[ "$(store_epoch d)" = 1 ] || fail "epoch changed without quorum"
# the journal is not left open: the same promotion may run again
expect_exit 69 rdpromote --force --no-fence --etcd "$ETCD_URLS" \
    --cluster app --etcd-timeout 1 d td
