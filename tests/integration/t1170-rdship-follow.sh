#!/bin/sh
# rdship follow over a real ssh (an sshd started by the test on
# 127.0.0.1): a writer changes files while follow snapshots and pushes
# every second; the first channel is cut in the middle of its first push
# and a later one is killed, and follow resumes both times; after
# SIGTERM it exits 0, the standby has the primary's newest snapshot, and
# that snapshot restores byte-exact, equal to the replica and the source.
. "$RD_SRCDIR/tests/integration/lib.sh"

# usage errors first: no sshd needed
short='usage: rdship follow [options] store source [host:]path ...'
expect_exit 64 rdship follow p src
expect_file err "rdship: missing [host:]path
$short"
expect_exit 64 rdship follow --interval 0.5 p src s
expect_file err "rdship: invalid interval '0.5': at least 1 second
$short"
expect_exit 64 rdship follow --since 3 p src s
expect_file err "rdship: follow does not take --since
$short"

. "$RD_SRCDIR/tests/integration/sshd-lib.sh"
follow_pid=
RD_ON_EXIT='[ -z "$follow_pid" ] || kill -KILL $follow_pid; kill $sshd_pid'
SSH=$RSH

# The channel command: the first one lets only 20000 bytes through, so
# the first push breaks in its middle; the later ones leave their pid.
cat >rsh.sh <<RSH
n=\$(cat "$TMP/rsh.count" 2>/dev/null || echo 0)
n=\$((n + 1))
echo \$n >"$TMP/rsh.count"
if [ \$n -eq 1 ]; then
	dd bs=4096 count=20000 iflag=count_bytes status=none | $SSH "\$@"
	exit 255
fi
echo \$\$ >"$TMP/ssh.pid"
exec $SSH "\$@"
RSH

make_sample_tree src
mkdir src/w
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap init --standby --no-key "$TMP/s"
expect_exit 0 rdship keygen k
cp k "$TMP/s/ship.key"
# the files exist before the background job opens them (it may run late)
: >fout
: >ferr
rdship follow --interval 1 --key k --rsh "sh $TMP/rsh.sh" \
    --remote-rdship "$RD_BUILDDIR/rdship" --apply "$TMP/rep" \
    --metrics "$TMP/m.prom" p src "127.0.0.1:$TMP/s" >fout 2>ferr &
follow_pid=$!

# the value of a metric, 0 before the file exists
metric() {
	sed -n "s/^$1 //p" "$TMP/m.prom" 2>/dev/null | grep . || echo 0
}
# wait (up to a generous deadline) until a cycle ends after this call
# and another one starts after it, so that a whole cycle saw the tree
two_cycles() {
	c0=$(metric rdship_follow_cycles_total)
	n=0
	while [ "$(metric rdship_follow_cycles_total)" -lt $((c0 + 2)) ]; do
		n=$((n + 1))
		[ $n -lt 1200 ] || fail "follow made no progress: $(cat ferr)"
		kill -0 $follow_pid 2>/dev/null || fail "follow ended: $(cat ferr)"
		sleep 0.1
	done
}
# wait until follow said "shipping again" N times
resumed() {
	n=0
	while [ "$(grep -c ': shipping again, at snapshot ' ferr)" -lt "$1" ]; do
		n=$((n + 1))
		[ $n -lt 1200 ] || fail "follow did not resume: $(cat ferr)"
		kill -0 $follow_pid 2>/dev/null || fail "follow ended: $(cat ferr)"
		sleep 0.1
	done
}

resumed 1
grep -q "^rdship: 127.0.0.1:$TMP/s: .* (trying again in 1 s)$" ferr ||
    fail "no retry: $(cat ferr)"

# a writer: whole new versions of a few files, renamed into place
i=0
while [ $i -lt 30 ]; do
	head -c 50000 /dev/urandom >w.tmp
	echo "version $i" >>w.tmp
	mv w.tmp "src/w/file$((i % 4))"
	printf 'line %d\n' $i >>src/var/lib/db/text.log
	[ $i -ne 10 ] || rm -f src/abc
	i=$((i + 1))
	sleep 0.1
done

# kill the channel's ssh: the next push fails and follow reconnects
kill "$(cat "$TMP/ssh.pid")"
resumed 2
two_cycles

term_wait $follow_pid follow
follow_pid=
[ $rc -eq 0 ] || fail "follow exited $rc: $(cat ferr)"
grep -Eq '^stopped after [0-9]+ cycles: snapshot [0-9]+, [0-9]+ failures?, ' fout ||
    fail "$(cat fout)"

# the standby ends where the primary ends: the last cycle was complete
expect_exit 0 rdship status --json p
pnew=$(sed -n 's/.*"newest":\([0-9]*\).*/\1/p' out)
expect_exit 0 rdship status --json "$TMP/s"
snew=$(sed -n 's/.*"newest":\([0-9]*\).*/\1/p' out)
[ -n "$pnew" ] && [ "$pnew" -gt 3 ] || fail "primary newest '$pnew'"
[ "$pnew" = "$snew" ] || fail "standby at '$snew', primary at '$pnew'"
grep -q "\"version\":$snew,\"state\":\"clean\"" out || fail "replica: $(cat out)"
grep -q "^rdship_follow_snapshot $pnew$" m.prom || fail "$(cat m.prom)"
grep -q '^rdship_follow_rpo_seconds [0-9]' m.prom || fail "$(cat m.prom)"
grep -Eq "^rdship_follow_lag_seconds\\{dest=\"127.0.0.1:$TMP/s\"\\} [0-9]" m.prom ||
    fail "$(cat m.prom)"
[ "$(metric rdship_follow_failures_total)" -ge 2 ] || fail "$(cat m.prom)"

tree_sig src >a
expect_exit 0 rdsnap restore "$TMP/s" r
tree_sig r >b
cmp -s a b || { diff a b >&2; fail "standby's newest differs from the source"; }
tree_sig "$TMP/rep" >b
cmp -s a b || { diff a b >&2; fail "replica differs from the source"; }
expect_exit 0 rdsnap verify --read-data "$TMP/s"

# a snapshot taken while the writer ran is the same on both sides
mid=$((pnew / 2))
expect_exit 0 rdsnap restore --snapshot $mid p r1
expect_exit 0 rdsnap restore --snapshot $mid "$TMP/s" r2
tree_sig r1 >a
tree_sig r2 >b
cmp -s a b || fail "snapshot $mid differs between primary and standby"
