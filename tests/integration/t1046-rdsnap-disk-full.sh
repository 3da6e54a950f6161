#!/bin/sh
# A store on a file system that fills up: "rdsnap create" fails with one
# line naming the problem and exit 74, whatever point of the run the disk
# fills at (a pack, the catalog, the commit); the store still verifies,
# lists only the snapshots that completed, restores them exactly and
# holds nothing of the failed run in tmp/.  Once there is room again the
# next create succeeds.  On an ext4 image mounted through losetup;
# skipped, with a message, where losetup or mount does not work.
. "$RD_SRCDIR/tests/integration/lib.sh"

skip() {
	echo "SKIP: $*" >&2
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "losetup and mount need root"
truncate -s 48M fs.img
mkfs.ext4 -q -F -m 0 fs.img >/dev/null 2>&1 ||
    skip "mkfs.ext4 does not work here"
dev=$(losetup -f --show fs.img 2>losetup.err) ||
    skip "losetup does not work here: $(cat losetup.err)"
mkdir mnt
MNT=$TMP/mnt
cleanup() {
	umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
	losetup -d "$dev" 2>/dev/null || true
}
RD_ON_EXIT=cleanup
mount "$dev" "$MNT" 2>mount.err ||
    skip "mount does not work here: $(cat mount.err)"
S=$MNT/store

mkdir src
make_sample_tree src
expect_exit 0 rdsnap init "$S"
expect_exit 0 rdsnap create "$S" src
cp -a src snap1
ls "$S/packs" >packs1

# the store is fine, its snapshots restore, nothing is left in tmp/
store_ok() {
	expect_exit 0 rdsnap verify --read-data "$S"
	[ -z "$(ls "$S/tmp")" ] || fail "$1: tmp/ holds $(ls "$S/tmp")"
	rm -rf rst
	expect_exit 0 rdsnap restore --snapshot 1 "$S" rst
	diff -r --no-dereference snap1 rst >/dev/null ||
	    fail "$1: snapshot 1 restores differently"
}

# far too much: the packs fill the disk
i=0
while [ $i -lt 6 ]; do
	head -c 10000000 /dev/urandom >src/big$i
	i=$((i + 1))
done
expect_exit 74 rdsnap create "$S" src
[ "$(wc -l <err)" -eq 1 ] || fail "more than one line: $(cat err)"
grep -q "^rdsnap: .*No space left on device" err ||
    fail "the error does not say the disk is full: $(cat err)"
store_ok "after a full disk"
ls "$S/packs" >packs2
cmp -s packs1 packs2 || fail "the failed run left packs: $(cat packs2)"
expect_exit 0 rdsnap list --json "$S"
python3 - out <<'PY'
import json, sys
assert [s["id"] for s in json.load(open(sys.argv[1]))] == [1]
PY

# 3 MB of new data, with the room left from 0.5 to 6 MB: the disk fills
# at a different point each time
rm -f src/big*
head -c 3000000 /dev/urandom >src/new
for kb in 500 1000 1500 2000 2500 3000 3500 4000 6000; do
	rm -f "$MNT/filler"
	sync
	avail=$(df --output=avail -B1024 "$MNT" | tail -n 1)
	[ "$avail" -gt "$kb" ] || fail "only $avail KiB free"
	fallocate -l $(((avail - kb) * 1024)) "$MNT/filler"
	sync
	rdsnap create "$S" src >out 2>err && rc=0 || rc=$?
	case $rc in
	0) ;;
	74)
		[ "$(wc -l <err)" -eq 1 ] ||
		    fail "$kb KiB free: more than one line: $(cat err)"
		grep -q "No space left on device\|disk is full" err ||
		    fail "$kb KiB free: the error does not say the disk is full: $(cat err)"
		cat err >>errors ;;
	*) fail "$kb KiB free: exit $rc: $(cat err)" ;;
	esac
	store_ok "with $kb KiB free"
	if [ $rc = 0 ]; then
		rm -rf rstn
		expect_exit 0 rdsnap restore "$S" rstn
		diff -r --no-dereference src rstn >/dev/null ||
		    fail "$kb KiB free: the new snapshot restores differently"
	fi
	echo "$kb $rc" >>results
done
# the smallest room fails, the largest succeeds
head -n 1 results | grep -q ' 74$' || fail "500 KiB free was enough: $(cat results)"
tail -n 1 results | grep -q ' 0$' || fail "6000 KiB free failed: $(cat results)"

# room again: the next create succeeds
rm -f "$MNT/filler"
expect_exit 0 rdsnap create "$S" src
store_ok "with room again"
echo "room in KiB and exit status: $(tr '\n' ' ' <results)" >&2
sort -u errors >&2
