#!/bin/sh
# prune --orphans removes the contents that a cut-off ship committed and
# no snapshot uses; a dry run counts them and changes nothing; the next
# complete ship still lands whole.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir src
i=0
while [ $i -lt 8 ]; do
	head -c 6000000 /dev/urandom >src/f$i
	i=$((i + 1))
done
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
expect_exit 0 rdsnap init --standby --no-key s
rdship send p >full.rdb 2>send.err || fail "send: $(cat send.err)"
# cut after the first 32 MiB batch, which the standby commits
size=$(stat -c %s full.rdb)
head -c $((size * 9 / 10)) full.rdb >cut.rdb
expect_exit 65 rdship receive s <cut.rdb
n=$(sqlite3 s/catalog.db "select count(*) from contents")
[ "$n" -ge 1 ] || fail "the cut ship committed nothing"
[ "$(sqlite3 s/catalog.db "select count(*) from snapshots")" = 0 ] ||
    fail "the cut ship left a snapshot"
before=$(du -sb s/packs | cut -f1)

# a prune without --orphans does not look at them
expect_exit 0 rdsnap prune --keep-last 1 --json s
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["contents_removed"] == 0 and d["removed"] == 0, d
PY
expect_exit 0 rdsnap prune --orphans --dry-run --json s
python3 - out "$n" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["contents_removed"] == int(sys.argv[2]), d
assert d["removed"] == 0 and d["bytes_freed"] > 0, d
PY
[ "$(sqlite3 s/catalog.db "select count(*) from contents")" = "$n" ] ||
    fail "the dry run removed contents"
expect_exit 0 rdsnap prune --orphans s
grep -q "^removed 0 snapshots, kept 0; freed .* ($n contents, " out ||
    fail "prune --orphans: $(cat out)"
[ "$(sqlite3 s/catalog.db "select count(*) from contents")" = 0 ] ||
    fail "orphan contents left"
[ "$(sqlite3 s/catalog.db "select count(*) from packs")" = 0 ] ||
    fail "orphan packs left"
after=$(du -sb s/packs | cut -f1)
[ "$after" -lt "$before" ] || fail "no space freed ($before -> $after)"
expect_exit 0 rdsnap verify s

# the whole bundle lands, and the snapshot restores exactly
expect_exit 0 rdship receive s <full.rdb
expect_exit 0 rdsnap verify --read-data s
expect_exit 0 rdsnap restore s r
tree_sig src >a
tree_sig r >b
cmp -s a b || fail "restore after the orphan prune differs"
# with snapshots, --orphans leaves every used content alone
expect_exit 0 rdsnap prune --orphans s
grep -q '^removed 0 snapshots, kept 1; freed 0 B (0 contents' out ||
    fail "prune --orphans on a clean store: $(cat out)"
