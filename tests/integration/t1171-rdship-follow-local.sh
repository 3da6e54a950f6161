#!/bin/sh
# rdship follow to local standbys (rdship serve through a pipe): --cycles
# and --json, --no-notify (a snapshot every cycle), two destinations with
# change notification (cycles without change take no snapshot), pruning
# as it goes; in the background: skipped cycles in the metrics, a deep
# directory made after the start watched at once, cycles that walk only
# the changed directories (and the whole source for a changed file with
# a second name elsewhere), two queue overflows
# (told once) still giving correct snapshots; --bracket around the cycles
# that walk; --one-file-system across a tmpfs; and a refusal that no
# retry mends (a keyed standby, no key) ending it with 77.
. "$RD_SRCDIR/tests/integration/lib.sh"

make_sample_tree src
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap init --standby --no-key s1
expect_exit 0 rdsnap init --standby --no-key s2
expect_exit 0 rdship follow --interval 1 --cycles 2 --json --no-notify \
    --apply "$TMP/rep" p src s1
[ "$(wc -l <out)" -eq 2 ] || fail "$(cat out)"
grep -q '^{"schema":"rdship-follow/1","cycle":1,"snapshot":1,"walk":"whole","destinations":1,"bytes":[0-9]*,' out ||
    fail "$(cat out)"
grep -q '^{"schema":"rdship-follow/1","cycle":2,"snapshot":2,"walk":"whole","destinations":1,"bytes":[0-9]*,.*"failures":0}$' out ||
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

# change notification, with follow in the background (a cycle a second,
# no full walk in the test's time): cycles without change take nothing
follow_pid=
RD_ON_EXIT='[ -z "$follow_pid" ] || kill -KILL $follow_pid'
: >fout
: >ferr
rdship follow --interval 1 --full-every 1000 --metrics "$TMP/m.prom" \
    p src s1 >fout 2>ferr &
follow_pid=$!
metric() {
	sed -n "s/^$1 //p" "$TMP/m.prom" 2>/dev/null | grep . || echo 0
}
# wait (bounded) until metric $1 is at least $2
wait_metric() {
	n=0
	while [ "$(metric "$1")" -lt "$2" ]; do
		n=$((n + 1))
		[ $n -lt 1200 ] || fail "$1 still $(metric "$1"): $(cat ferr)"
		kill -0 $follow_pid 2>/dev/null || fail "follow ended: $(cat ferr)"
		sleep 0.1
	done
}
# wait until a cycle found no change: the events so far are all taken
quiet() {
	wait_metric rdship_follow_cycles_skipped_total \
	    $(($(metric rdship_follow_cycles_skipped_total) + 1))
}
wait_metric rdship_follow_cycles_total 3
cp m.prom m1
c=$(sed -n 's/^rdship_follow_cycles_total //p' m1)
grep -q "^rdship_follow_cycles_skipped_total $((c - 1))$" m1 || fail "$(cat m1)"
grep -q '^rdship_follow_snapshot 4$' m1 || fail "$(cat m1)"
grep -q '^rdship_follow_notify_active 1$' m1 || fail "$(cat m1)"
grep -q '^rdship_follow_notify_overflows_total 0$' m1 || fail "$(cat m1)"
expect_exit 0 rdsnap list --json s1
[ "$(grep -o '"id":' out | wc -l)" -eq 4 ] || fail "standby has: $(cat out)"
grep -q '"id":4,' out || fail "$(cat out)"

# a deep directory made after the start is watched: a file written in
# it later is seen (no full walk is due)
mkdir -p src/n1/n2/n3
wait_metric rdship_follow_snapshot 5
quiet
s=$(metric rdship_follow_snapshot)
printf 'deep\n' >src/n1/n2/n3/f
wait_metric rdship_follow_snapshot $((s + 1))

# a cycle with changes walks only the directories they are in (and
# those above them): the snapshot equals one that walks the whole source
# (rdsnap ls of both: type, mode, owner, size, mtime, path); a new
# directory is read whole, a removed one goes with what was below it
quiet
w=$(metric rdship_follow_walks_whole_total)
s=$(metric rdship_follow_snapshot)
printf 'changed\n' >>src/deep/a/b/c/file
chmod 600 src/etc/app/app.conf
mkdir -p src/fresh/sub
printf 'one\n' >src/fresh/sub/one
rm -r src/var
mv src/abc src/abc.moved
wait_metric rdship_follow_snapshot $((s + 1))
quiet
expect_exit 0 rdsnap init p-whole
expect_exit 0 rdsnap create p-whole src
expect_exit 0 rdsnap ls p-whole
mv out ls-whole
expect_exit 0 rdsnap ls p
cmp -s out ls-whole || { diff ls-whole out >&2; fail "changed-directory walk"; }
grep -q ' fresh/sub/one$' out || fail "$(cat out)"
grep -q ' var' out && fail "$(cat out)"
# and so are its totals, though it read only a part of the source
totals() {
	expect_exit 0 rdsnap list --json "$1"
	grep -o '"files":[0-9]*,"bytes":[0-9]*' out | tail -n 1
}
[ "$(totals p)" = "$(totals p-whole)" ] ||
    fail "totals: $(totals p) against $(totals p-whole)"
[ "$(metric rdship_follow_walks_whole_total)" -eq "$w" ] ||
    fail "walked whole: $(cat m.prom)"
# a changed file with a second name in a directory not walked: that
# cycle walks the whole source, so both names hold the new bytes
ln src/etc/app/app.conf src/deep/a/second
wait_metric rdship_follow_walks_whole_total $((w + 1))
quiet
printf 'through the second name\n' >>src/deep/a/second
wait_metric rdship_follow_walks_whole_total $((w + 2))
quiet
expect_exit 0 rdsnap cat p etc/app/app.conf
cmp -s out src/etc/app/app.conf || fail "app.conf: $(cat out)"
rm src/deep/a/second
quiet

# overflow: with follow stopped, more events than the kernel queues
# (two files written in turn, so that none merge), twice: the notice is
# told once; each time the next cycle walks and the watches are set again
q=$(cat /proc/sys/fs/inotify/max_queued_events)
flood() {
	kill -STOP $follow_pid
	i=0
	while [ $i -lt $((q / 2 + 50)) ]; do
		echo $i >>src/n1/a
		echo $i >>src/n1/n2/b
		i=$((i + 1))
	done
	kill -CONT $follow_pid
}
flood
wait_metric rdship_follow_notify_overflows_total 1
expect_exit 0 rdsnap cat s1 n1/n2/b
[ "$(wc -l <out)" -eq $((q / 2 + 50)) ] || fail "b has $(wc -l <out) lines"
flood
wait_metric rdship_follow_notify_overflows_total 2
s=$(metric rdship_follow_snapshot)
printf 'after\n' >>src/n1/n2/n3/f
wait_metric rdship_follow_snapshot $((s + 1))
grep -q '^rdship_follow_notify_active 1$' m.prom || fail "$(cat m.prom)"
# one watch a directory, after the overflows as before
grep -q "^rdship_follow_notify_watches $(find src -type d | wc -l)$" m.prom ||
    fail "$(cat m.prom)"
promtool check metrics <m.prom >promtool.out 2>&1 ||
    fail "promtool: $(cat promtool.out) in $(cat m.prom)"
term_wait $follow_pid follow
follow_pid=
[ $rc -eq 0 ] || fail "follow exited $rc: $(cat ferr)"
[ "$(grep -c 'change notification lost events' ferr)" -eq 1 ] ||
    fail "$(cat ferr)"
grep -qv 'change notification lost events' ferr && fail "$(cat ferr)"
expect_exit 0 rdsnap restore s1 r-n
tree_sig src >a
tree_sig r-n >b
cmp -s a b || { diff a b >&2; fail "standby's newest differs from the source"; }

# --bracket: each cycle that walks runs the co-process around its copy,
# with what rdsnap create gives it; what it writes joins the snapshot
STORE=$(cd p && pwd -P)
SOURCE=$(cd src && pwd -P)
cat >br.sh <<'EOF'
n=$(($(cat "$REC/runs" 2>/dev/null || echo 0) + 1))
echo $n >"$REC/runs"
printf '%s\n' "cwd=$(pwd -P)" "store=$RDSNAP_STORE" "source=$RDSNAP_SOURCE" \
    "status=${RDSNAP_STATUS-unset}" >"$REC/env"
echo ready
read -r line
printf 'label %s %s\n' "$n" "$line" >"$RDSNAP_BRACKET_DIR/backup_label"
EOF
mkdir rec
printf 'one more\n' >src/n1/c
expect_exit 0 env REC="$TMP/rec" RDSNAP_STATUS=stale rdship follow \
    --interval 1 --cycles 2 --bracket "sh $TMP/br.sh" --hook-timeout 30 \
    p src s1
expect_empty err
expect_file rec/runs "1"
expect_file rec/env "cwd=$SOURCE
store=$STORE
source=$SOURCE
status=unset"
expect_exit 0 rdsnap cat s1 backup_label
expect_file out "label 1 done"
# a co-process that fails: the cycle's snapshot fails, follow goes on
printf 'two more\n' >src/n1/c
expect_exit 0 rdship follow --interval 1 --cycles 1 --bracket 'echo nope' \
    p src s1
expect_file err "rdship: snapshot failed: bracket hook failed: it said 'nope' instead of 'ready'"
grep -q '^stopped after 1 cycle: snapshot 0, 1 failure, ' out ||
    fail "$(cat out)"

# --one-file-system: a mount point is recorded and watched, nothing below
mkdir -p fs/mnt fs/dir
printf 'top\n' >fs/top
expect_exit 0 rdsnap init p3
expect_exit 0 rdsnap init --standby --no-key s3
if mount -t tmpfs none fs/mnt 2>mount.err; then
	RD_ON_EXIT="umount '$TMP/fs/mnt'"
	mkdir fs/mnt/sub
	printf 'below\n' >fs/mnt/below
	expect_exit 0 rdship follow --interval 1 --cycles 1 --one-file-system \
	    --metrics "$TMP/m3.prom" p3 fs s3
	umount fs/mnt
	RD_ON_EXIT=
	expect_exit 0 rdsnap ls s3
	cut -d' ' -f1,6- out >paths
	expect_file paths "d .
d dir
d mnt
f top"
	grep -q '^rdship_follow_notify_watches 3$' m3.prom || fail "$(cat m3.prom)"
else
	echo "$RD_TEST_NAME: could not mount a tmpfs ($(cat mount.err)):" \
	    "follow --one-file-system across a mount point NOT tested" >&2
fi

# --apply onto a file system without extended attributes (ramfs): the
# replica lacks one; follow says so once in two cycles, counts it, goes on
mkdir rf
printf 'x\n' >src/coloured
setfattr -n user.colour -v blue src/coloured
expect_exit 0 rdsnap init p4
expect_exit 0 rdsnap init --standby --no-key s4
if mount -t ramfs none rf 2>mount.err; then
	RD_ON_EXIT="umount '$TMP/rf'"
	expect_exit 0 rdship follow --interval 1 --cycles 2 --no-notify \
	    --apply "$TMP/rf/rep" --metrics "$TMP/m4.prom" p4 src s4
	umount rf
	RD_ON_EXIT=
	expect_file err "rdship: replica: 'coloured': extended attribute 'user.colour' not set: Operation not supported
rdship: s4: the replica update could not set everything: replica: 'coloured': extended attribute 'user.colour' not set: Operation not supported"
	grep -q '^stopped after 2 cycles: snapshot 2, 0 failures, ' out ||
	    fail "$(cat out)"
	grep -q '^rdship_follow_replica_omissions_total 1$' m4.prom ||
	    fail "$(cat m4.prom)"
else
	echo "$RD_TEST_NAME: could not mount a ramfs ($(cat mount.err)):" \
	    "follow --apply without extended attributes NOT tested" >&2
fi
rm src/coloured

# a standby that demands a key: follow without it stops at once with 77
expect_exit 0 rdsnap init --standby k
expect_exit 77 rdship follow --interval 1 p src k
grep -q "^rdship: the receiving store requires a key: give --key$" err ||
    fail "$(cat err)"
