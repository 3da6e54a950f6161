#!/bin/sh
# Several standbys, exactly one promotion: a real 3-member etcd cluster.
# Two standbys race rdpromote --etcd --cluster app a few rounds: exactly
# one is promoted each time, the other exits 77 with its target, epoch
# and journal untouched.  The winner's epoch is max(local + 1, token) and
# etcd names it.  With one member stopped a promotion still works; with
# two stopped it is refused with 69 and nothing changes; the dry run
# shows what etcd says.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/etcd-lib.sh"

need_etcd
start_etcd

mkdir src
printf 'one\n' >src/a
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

# a standby of p, and etcd says the winner took over from another store
new_standby c
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
new_standby d
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
