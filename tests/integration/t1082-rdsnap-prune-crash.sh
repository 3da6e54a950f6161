#!/bin/sh
# prune killed with -9 at points spread over its run leaves a store that
# verifies (every byte) with either all or none of the prune; the next
# prune completes and removes the leftovers.  Pack files that a reader
# may still use are left for a later writer.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir src
for f in a b c; do
	head -c 4000000 /dev/urandom >src/$f
done
expect_exit 0 rdsnap init base
i=1
while [ $i -le 8 ]; do
	for f in a b c; do
		head -c 100000 /dev/urandom >>src/$f
	done
	head -c 300000 /dev/urandom >src/small$i
	rm -f src/small$((i - 3))
	expect_exit 0 rdsnap create base src
	i=$((i + 1))
done
mkdir ref
cp -a src/. ref/
# keep 3 (its chains run through 1 and 2, which go) and the newest
expect_exit 0 rdsnap restore --snapshot 3 base ref3
sqlite3 base/catalog.db "insert into meta values ('standby:test', '3 0')"
keep_rules="--keep-last 1 --max-unused 0"

# how long does an uninterrupted prune take?
cp -a base timing
start=$(date +%s.%N)
expect_exit 0 rdsnap prune $keep_rules timing
end=$(date +%s.%N)
grep -q '^removed 6 snapshots, kept 2;' out || fail "prune: $(cat out)"
dur=$(awk "BEGIN { print $end - $start }")
rm -rf timing

# kill points: while a rebased content is written in tmp/, once a new
# pack is in packs/ (before the commit), and at fractions of the run
ls base/packs >packs.base
killed=0
for point in tmp pack 0.05 0.2 0.4 0.6 0.8; do
	rm -rf w
	cp -a base w
	rdsnap prune $keep_rules w >prune.out 2>&1 &
	pid=$!
	case $point in
	tmp | pack)
		n=0
		while [ $n -lt 2000 ]; do
			if [ $point = tmp ]; then
				[ -z "$(ls w/tmp)" ] || break
			else
				ls w/packs >packs.now
				[ -z "$(comm -13 packs.base packs.now)" ] || break
			fi
			n=$((n + 1))
		done
		;;
	*) sleep "$(awk "BEGIN { print $dur * $point }")" ;;
	esac
	if kill -9 $pid 2>/dev/null; then
		killed=$((killed + 1))
	fi
	wait $pid 2>/dev/null || true
	delay=$point
	expect_exit 0 rdsnap verify --read-data w
	expect_exit 0 rdsnap list --json w
	ids=$(python3 -c 'import json,sys; print(" ".join(str(s["id"]) for s in json.load(open(sys.argv[1]))))' out)
	case $ids in
	"1 2 3 4 5 6 7 8" | "3 8") ;;
	*) fail "after kill at $delay s: snapshots '$ids'" ;;
	esac
	expect_exit 0 rdsnap prune $keep_rules w
	expect_exit 0 rdsnap verify --read-data w
	expect_exit 0 rdsnap list --json w
	ids=$(python3 -c 'import json,sys; print(" ".join(str(s["id"]) for s in json.load(open(sys.argv[1]))))' out)
	[ "$ids" = "3 8" ] || fail "after the second prune: '$ids'"
	n=$(sqlite3 w/catalog.db "select count(*) from packs")
	[ "$n" = "$(ls w/packs | wc -l)" ] || fail "orphan packs left after kill at $delay s"
	[ -z "$(ls w/tmp)" ] || fail "temp files left after kill at $delay s"
	rm -rf r8 r3
	expect_exit 0 rdsnap restore w r8
	expect_exit 0 rdsnap restore --snapshot 3 w r3
	tree_sig ref >a
	tree_sig r8 >b
	cmp -s a b || fail "snapshot 8 differs after kill at $delay s"
	tree_sig ref3 >a
	tree_sig r3 >b
	cmp -s a b || fail "snapshot 3 differs after kill at $delay s"
done
[ $killed -ge 3 ] || fail "only $killed of 7 prunes were interrupted (run $dur s)"

# a reader holds the store open: the dropped pack files stay until a
# writer finds no reader; the store verifies all along
rm -rf w
cp -a base w
python3 - w/lock <<'PY' &
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, struct.pack("hhqqi4x", fcntl.F_RDLCK, 0, 0, 1, 0))
open("reader.ready", "w").close()
while not os.path.exists("reader.stop"):
    time.sleep(0.05)
PY
reader=$!
RD_ON_EXIT="touch '$TMP/reader.stop'"
n=0
while [ ! -e reader.ready ]; do
	n=$((n + 1))
	[ $n -lt 200 ] || fail "reader did not start"
	sleep 0.05
done
ls w/packs >packs.before
expect_exit 0 rdsnap prune --json $keep_rules w
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["removed"] == 6 and d["packs_deferred"] > 0, d
PY
ls w/packs >packs.after
[ -z "$(comm -23 packs.before packs.after)" ] || fail "packs removed under a reader"
expect_exit 0 rdsnap verify --read-data w
grep -q 'unreferenced pack' out || fail "verify does not report the dropped packs"
# a writer while the reader is still there leaves them too
expect_exit 0 rdsnap create w src
[ "$(ls w/packs | wc -l)" -gt "$(sqlite3 w/catalog.db 'select count(*) from packs')" ] ||
    fail "a writer removed packs under a reader"
touch reader.stop
wait $reader
expect_exit 0 rdsnap create w src
[ "$(ls w/packs | wc -l)" = "$(sqlite3 w/catalog.db 'select count(*) from packs')" ] ||
    fail "leftover packs not removed once the reader went"
expect_exit 0 rdsnap verify --read-data w

# damage in a chain that prune must rebuild: it stops with 65 and
# changes nothing; verify names the damage
rm -rf w
cp -a base w
row=$(sqlite3 w/catalog.db "select p.name || ' ' || c.off from contents c
    join packs p on p.id = c.pack where c.sha = (select sha from entries
    where path = cast('a' as blob) and first <= 5
    and (last is null or last >= 5))")
pack=${row% *}
off=${row#* }
printf '\377' | dd of="w/packs/$pack.pack" bs=1 seek=$((off + 96 + 10)) \
    conv=notrunc 2>/dev/null
ls w/packs >packs.before
cp w/catalog.db catalog.before
expect_exit 65 rdsnap prune $keep_rules w
grep -q "^rdsnap: content [0-9a-f]*: " err || fail "prune error: $(cat err)"
ls w/packs >packs.after
cmp -s packs.before packs.after || fail "a failed prune changed the packs"
expect_exit 0 rdsnap list --json w
ids=$(python3 -c 'import json,sys; print(" ".join(str(s["id"]) for s in json.load(open(sys.argv[1]))))' out)
[ "$ids" = "1 2 3 4 5 6 7 8" ] || fail "a failed prune removed snapshots: '$ids'"
expect_exit 1 rdsnap verify --read-data w
grep -q '^DAMAGED content' out || fail "verify did not name the damage"
