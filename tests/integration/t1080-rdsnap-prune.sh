#!/bin/sh
# prune against a history with known dates: exactly the snapshots the
# rules keep remain, each restores byte for byte, kept deltas whose base
# went are rebased, the store shrinks, the snapshot a standby confirmed
# survives, and a second prune finds nothing to do.
. "$RD_SRCDIR/tests/integration/lib.sh"

# snapshot N's date (UTC, lib.sh sets TZ=UTC)
date_of() {
	case $1 in
	1) echo 2026-01-01T10:00:00 ;;
	2) echo 2026-01-15T10:00:00 ;;
	3) echo 2026-02-01T10:00:00 ;;
	4) echo 2026-02-20T10:00:00 ;;
	5) echo 2026-03-01T09:00:00 ;;
	6) echo 2026-03-01T10:00:00 ;;
	7) echo 2026-03-02T10:00:00 ;;
	8) echo 2026-03-03T08:00:00 ;;
	9) echo 2026-03-03T09:00:00 ;;
	10) echo 2026-03-03T10:00:00 ;;
	11) echo 2026-03-04T10:00:00 ;;
	12) echo 2026-03-05T10:00:00 ;;
	esac
}

mkdir -p src/keep src/churn
head -c 3000000 /dev/urandom >src/db
head -c 2000000 /dev/urandom >src/keep/static
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap init --standby --no-key s
i=1
while [ $i -le 12 ]; do
	# the database grows: a delta chain; churn comes and goes
	head -c 40000 /dev/urandom >>src/db
	printf 'version %s\n' $i >src/churn/v
	head -c 1500000 /dev/urandom >src/churn/big$i
	rm -f src/churn/big$((i - 2))
	[ $i -ne 7 ] || rm -rf src/keep
	expect_exit 0 rdsnap create p src
	t=$(date -u -d "$(date_of $i)" +%s)
	sqlite3 p/catalog.db "update snapshots set started = $t, finished = $t + 1 where id = $i"
	mkdir ref$i
	cp -a src/. ref$i/
	if [ $i -eq 6 ]; then
		# the standby confirms snapshot 6 and then falls behind
		expect_exit 0 rdship push p s
	fi
	i=$((i + 1))
done
n=$(sqlite3 p/catalog.db "select count(*) from contents where kind = 1")
[ "$n" -ge 5 ] || fail "expected delta chains, got $n deltas"
before=$(du -sb p/packs | cut -f1)
uuid=$(sqlite3 s/catalog.db "select value from meta where key = 'uuid'")
n=$(sqlite3 p/catalog.db "select value from meta where key = 'standby:$uuid'" |
    cut -d' ' -f1)
[ "$n" = 6 ] || fail "standby confirmation not recorded: '$n'"
expect_exit 0 rdship status p
grep -q "^standby    $uuid has snapshot 6 (pushed " out ||
    fail "status does not show the standby: $(cat out)"
expect_exit 0 rdship status --json p
python3 - out "$uuid" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [(s["uuid"], s["snapshot"]) for s in d["standbys"]] == [(sys.argv[2], 6)], d
PY

rules="--keep-last 2 --keep-daily 3 --keep-monthly 3"
# the dry run says what goes and changes nothing
cp p/catalog.db catalog.before
expect_exit 0 rdsnap prune $rules --dry-run p
expect_file out "remove      1  2026-01-01 10:00:00 +0000
keep        2  2026-01-15 10:00:00 +0000  (monthly)
remove      3  2026-02-01 10:00:00 +0000
keep        4  2026-02-20 10:00:00 +0000  (monthly)
remove      5  2026-03-01 09:00:00 +0000
keep        6  2026-03-01 10:00:00 +0000  (standby)
remove      7  2026-03-02 10:00:00 +0000
remove      8  2026-03-03 08:00:00 +0000
remove      9  2026-03-03 09:00:00 +0000
keep       10  2026-03-03 10:00:00 +0000  (daily)
keep       11  2026-03-04 10:00:00 +0000  (last, daily)
keep       12  2026-03-05 10:00:00 +0000  (last, daily, monthly, newest)
$(sed -n '$p' out)"
grep -q '^would remove 6 snapshots, kept 6; would free about ' out ||
    fail "dry run summary: $(tail -n 1 out)"
[ "$(rdsnap list --json p | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 12 ] ||
    fail "dry run removed snapshots"
[ "$(du -sb p/packs | cut -f1)" = "$before" ] || fail "dry run changed packs"

expect_exit 0 rdsnap prune $rules --json p
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
kept = [s["id"] for s in d["snapshots"] if s["keep"]]
gone = [s["id"] for s in d["snapshots"] if not s["keep"]]
assert kept == [2, 4, 6, 10, 11, 12], kept
assert gone == [1, 3, 5, 7, 8, 9], gone
assert d["removed"] == 6 and d["kept"] == 6, d
assert d["contents_removed"] > 0 and d["bytes_freed"] > 0, d
assert d["contents_rebased"] >= 1, d
assert d["packs_deferred"] == 0, d
PY
expect_exit 0 rdsnap list --json p
python3 - out <<'PY'
import json, sys
ids = [s["id"] for s in json.load(open(sys.argv[1]))]
assert ids == [2, 4, 6, 10, 11, 12], ids
PY
after=$(du -sb p/packs | cut -f1)
[ "$after" -lt "$before" ] || fail "store did not shrink ($before -> $after)"
# the catalog has no content that no row needs, and no dangling base
n=$(sqlite3 p/catalog.db "select count(*) from contents c where not exists
    (select 1 from entries e where e.sha = c.sha)")
[ "$n" = 0 ] || fail "$n unreferenced contents left"
n=$(sqlite3 p/catalog.db "select count(*) from contents c where base is not null
    and not exists (select 1 from contents b where b.sha = c.base)")
[ "$n" = 0 ] || fail "$n deltas lost their base"
n=$(sqlite3 p/catalog.db "select count(*) from packs")
[ "$n" = "$(ls p/packs | wc -l)" ] || fail "pack files and rows differ"
# db in snapshot 2 lost its base (1) and is whole now; db in 4 lost its
# base (3) and is a delta against the nearest kept ancestor, 2's
db_in() {
	echo "(select sha from entries where path = cast('db' as blob) and first <= $1
	    and (last is null or last >= $1))"
}
n=$(sqlite3 p/catalog.db "select kind, depth from contents where sha = $(db_in 2)")
[ "$n" = "0|0" ] || fail "db of snapshot 2: kind|depth $n"
n=$(sqlite3 p/catalog.db "select kind, depth, base = $(db_in 2) from contents
    where sha = $(db_in 4)")
[ "$n" = "1|1|1" ] || fail "db of snapshot 4: kind|depth|base is 2's: $n"

expect_exit 0 rdsnap verify --read-data p
for v in 2 4 6 10 11 12; do
	expect_exit 0 rdsnap restore --snapshot $v p r$v
	tree_sig ref$v >a
	tree_sig r$v >b
	cmp -s a b || fail "snapshot $v differs after prune"
done
for v in 1 3 5 7 8 9; do
	expect_exit 66 rdsnap restore --snapshot $v p x$v
	expect_file err "rdsnap: no snapshot $v in 'p'"
done

# nothing more to do with the same rules
expect_exit 0 rdsnap prune $rules p
grep -q '^removed 0 snapshots, kept 6; freed 0 B ' out || fail "second prune: $(cat out)"

# the standby still follows: the push goes on from snapshot 6
expect_exit 0 rdship push p s
expect_exit 0 rdsnap restore s rs
tree_sig ref12 >a
tree_sig rs >b
cmp -s a b || fail "standby differs after a push from a pruned store"
n=$(sqlite3 p/catalog.db "select value from meta where key = 'standby:$uuid'" |
    cut -d' ' -f1)
[ "$n" = 12 ] || fail "standby confirmation not moved on: '$n'"

# a bundle from a snapshot that was pruned is refused, not half sent
expect_exit 66 rdship send --since 7 p
expect_file err "rdship: snapshot 7, the receiver's newest, is no longer in 'p' (pruned): re-seed the receiver from a new store"

# forgetting the standby lets its snapshot go
expect_exit 0 rdsnap create p src
expect_exit 0 rdsnap prune --keep-last 1 --dry-run p
grep -q '(standby)' out || fail "standby snapshot not protected"
expect_exit 66 rdsnap prune --forget-standby 00000000-0000-4000-8000-000000000000 p
expect_file err "rdsnap: no standby '00000000-0000-4000-8000-000000000000' is recorded in 'p'"
expect_exit 0 rdsnap prune --forget-standby "$uuid" --keep-last 1 p
expect_exit 0 rdsnap list --json p
python3 - out <<'PY'
import json, sys
ids = [s["id"] for s in json.load(open(sys.argv[1]))]
assert ids == [13], ids
PY
expect_exit 0 rdsnap verify --read-data p
expect_exit 0 rdsnap restore p r13
tree_sig src >a
tree_sig r13 >b
cmp -s a b || fail "last snapshot differs"

# bad input changes nothing
cp -a p p.copy
expect_exit 64 rdsnap prune p
expect_file err "rdsnap: prune needs at least one --keep rule
usage: rdsnap prune [options] store"
expect_exit 64 rdsnap prune --keep-last 0 p
expect_exit 64 rdsnap prune --max-unused 101 --keep-last 1 p
expect_exit 64 rdsnap prune --keep-last 1 --label x p
tree_sig p.copy/packs >a
tree_sig p/packs >b
cmp -s a b || fail "a refused prune changed the packs"
