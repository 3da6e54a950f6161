#!/bin/sh
# The fsfreeze recipe (examples/fsfreeze/fsfreeze-bracket) on an ext4
# image mounted through losetup: a writer that makes numbered files and
# then a counter naming the last one keeps writing during every snapshot,
# and every snapshot is one instant of the file system (files 1..K, the
# counter K or K - 1); the file system is thawed after each, after an end of
# file instead of "done", and after the co-process is killed (by its
# guard).  The store on the frozen file system and the root file system
# are refused.  Skipped, with a message, where losetup or mount does not
# work.
. "$RD_SRCDIR/tests/integration/lib.sh"

EX=$RD_SRCDIR/examples/fsfreeze
skip() {
	echo "SKIP: $*" >&2
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "losetup and mount need root"
command -v fsfreeze >/dev/null 2>&1 || skip "no fsfreeze"
truncate -s 64M fs.img
mkfs.ext4 -q -F fs.img >/dev/null 2>&1 || skip "mkfs.ext4 does not work here"
dev=$(losetup -f --show fs.img 2>losetup.err) ||
    skip "losetup does not work here: $(cat losetup.err)"
mkdir mnt
MNT=$TMP/mnt
cleanup() {
	fsfreeze -u "$MNT" 2>/dev/null || true
	touch "$TMP/stop"
	[ -z "${writer:-}" ] || wait "$writer" 2>/dev/null || true
	umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	losetup -d "$dev" 2>/dev/null || true
}
RD_ON_EXIT=cleanup
mount "$dev" "$MNT" 2>mount.err || skip "mount does not work here: $(cat mount.err)"
mkdir "$MNT/data"

# writable within a generous deadline: not frozen
thawed() {
	i=0
	until timeout 1 sh -c "echo x >'$MNT/probe'" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 30 ] || fail "'$MNT' is still frozen $1"
	done
}

# the writer: file N, then the counter N (renamed into place)
cat >writer.sh <<'EOF'
n=0
while [ ! -e "$2" ]; do
	n=$((n + 1))
	echo "$n" >"$1/f$n"
	echo "$n" >"$1/count.tmp"
	mv "$1/count.tmp" "$1/count"
done
EOF
sh writer.sh "$MNT/data" "$TMP/stop" &
writer=$!
while [ ! -e "$MNT/data/count" ]; do
	sleep 0.05
done
expect_exit 0 rdsnap init store
for n in 1 2 3 4 5; do
	expect_exit 0 rdsnap create --quiet --bracket "$EX/fsfreeze-bracket" \
	    store "$MNT/data"
	expect_empty err
	thawed "after snapshot $n"
done
touch "$TMP/stop"
wait "$writer"
writer=
for n in 1 2 3 4 5; do
	expect_exit 0 rdsnap restore --quiet --snapshot "$n" store "r$n"
	c=$(cat "r$n/count")
	rm -f "r$n/count.tmp"
	k=$(find "r$n" -name 'f*' | wc -l)
	# one instant: f1..fK, the counter K or K - 1 (fK made, the counter
	# not yet renamed), fK complete or still empty
	[ "$c" -eq "$k" ] || [ "$c" -eq $((k - 1)) ] ||
	    fail "snapshot $n: the counter says $c, $k files are there"
	i=1
	while [ $i -lt "$k" ]; do
		expect_file "r$n/f$i" "$i"
		i=$((i + 1))
	done
	[ ! -s "r$n/f$k" ] || expect_file "r$n/f$k" "$k"
done

# while it is frozen a write waits: one started after "ready" is blocked
# (state D) during the whole copy, is not in the snapshot, and lands
# after the thaw
cat >wrap.sh <<EOF
"$EX/fsfreeze-bracket" | {
	read -r r
	sh -c 'echo late >"$MNT/data/late"' &
	w=\$!
	i=0
	while [ "\$(cut -d' ' -f3 /proc/\$w/stat)" != D ] && [ \$i -lt 600 ]; do
		sleep 0.05
		i=\$((i + 1))
	done
	cut -d' ' -f3 /proc/\$w/stat >"$TMP/late.state"
	echo "\$r"
	wait \$w
}
EOF
expect_exit 0 rdsnap create --quiet --bracket "sh $TMP/wrap.sh" store "$MNT/data"
expect_file late.state "D"
expect_file "$MNT/data/late" "late"
expect_exit 66 rdsnap ls store late
expect_file err "rdsnap: snapshot 6 has no path 'late'"

# an end of file instead of "done": thawed, exit 1
RDSNAP_BRACKET_DIR=$TMP/scratch RDSNAP_STORE=$TMP/store
export RDSNAP_BRACKET_DIR RDSNAP_STORE
expect_exit 1 sh -c "cd '$MNT/data' && exec '$EX/fsfreeze-bracket'" </dev/null
expect_file out "ready"
expect_file err "fsfreeze-bracket: the copy failed (no 'done'): '$MNT' is thawed"
thawed "after an end of file"

# killed while the file system is frozen: its guard thaws it
mkfifo in
(cd "$MNT/data" && exec "$EX/fsfreeze-bracket" <"$TMP/in" >"$TMP/killed.out") &
co=$!
exec 3>in
i=0
while [ "$(cat killed.out)" != ready ] && [ $i -lt 600 ]; do
	sleep 0.05
	i=$((i + 1))
done
expect_file killed.out "ready"
kill -KILL "$co"
wait "$co" || true
exec 3>&-
thawed "after the co-process was killed"

# the store on the frozen file system, and the root file system
mkdir "$MNT/store"
expect_exit 0 rdsnap init "$MNT/store"
expect_exit 69 rdsnap create --bracket "$EX/fsfreeze-bracket" "$MNT/store" \
    "$MNT/data"
expect_file err "fsfreeze-bracket: the store '$MNT/store' is on '$MNT', the file system to freeze
rdsnap: bracket hook failed: exited 1 before it said 'ready'"
unset RDSNAP_BRACKET_DIR RDSNAP_STORE
if [ "$(findmnt -n -o TARGET --target /etc)" = / ]; then
	expect_exit 69 rdsnap create --bracket "$EX/fsfreeze-bracket" store /etc
	expect_file err "fsfreeze-bracket: '/etc' is on the root file system: freezing it would stop the host; give the data a file system of its own
rdsnap: bracket hook failed: exited 1 before it said 'ready'"
fi
