#!/bin/sh
# A drill proves a snapshot restorable and leaves nothing but its record;
# --dry-run changes nothing; --verify quick says it did not hash.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

setup_standby
dump() {
	sqlite3 s/catalog.db 'select * from meta order by key; select * from snapshots;
	    select * from replicas; select count(*) from promotions'
}
dump >before
expect_exit 0 rdpromote --dry-run s target
expect_file out "PLAN for a promotion of 's' into 'target' (nothing will be changed):
  preflight    no --primary probe: the primary would not be checked
  fence        no --fence command; raise the epoch to 2
  materialize  move the warm replica $TMP/rep into place
  verify       check every entry and hash every file
  switch       rename $TMP/.target.rdpromote to $TMP/target
  start        no --start command
  check        no --check probe
  record       record RTO and RPO
nothing was changed (--dry-run); snapshot 2 is $(sed -n 's/.*snapshot 2 is \([0-9]*\) s old$/\1/p' out) s old"
dump >after
cmp -s before after || fail "--dry-run changed the store"
[ ! -e target ] || fail "--dry-run made the target"

age0=$(python3 -c "import time; print(time.time())")
expect_exit 0 rdpromote --drill --json --start 'test -f "$RDPROMOTE_TARGET/abc"' \
    --check "file:$TMP/src/abc" s scratch
age1=$(python3 -c "import time; print(time.time())")
python3 - out "$age0" "$age1" s/catalog.db <<'PY'
import json, sqlite3, sys
d = json.load(open(sys.argv[1]))
t0, t1 = float(sys.argv[2]), float(sys.argv[3])
db = sqlite3.connect(sys.argv[4])
finished = db.execute("select finished from snapshots where id = 2").fetchone()[0]
assert d["outcome"] == "done" and d["operation"] == "drill", d
assert d["epoch"] == 1 and d["used_replica"] is False, d
assert 0 < d["rto"] < (t1 - t0) + 1, d
# RPO is the snapshot's age when the drill started
assert t0 - finished - 1 <= d["rpo"] <= t1 - finished + 1, (d, finished)
row = db.execute("select kind, version, state, rto, rpo from promotions").fetchone()
assert row[0] == "drill" and row[1] == 2 and row[2] == "done", row
assert abs(row[3] - d["rto"]) < 0.001 and abs(row[4] - d["rpo"]) < 0.001, row
PY
[ ! -e scratch ] && [ ! -e .scratch.rdpromote ] || fail "drill left a tree"
[ -d rep ] || fail "a drill consumed the replica"
[ "$(sqlite3 s/catalog.db "select value from meta where key = 'epoch'")" = 1 ] ||
    fail "a drill raised the epoch"
[ "$(sqlite3 s/catalog.db "select value from meta where key = 'role'")" = standby ] ||
    fail "a drill changed the role"
expect_exit 73 rdpromote --drill s src
expect_file err "rdpromote: drill target 'src' exists: give a new scratch path"

expect_exit 0 rdpromote --verify quick s target
grep -q "^  verify       ok  .*metadata only (quick: contents NOT hashed)$" out || fail "$(cat out)"
grep -q "^  WARNING: --verify quick checked metadata only; contents were not hashed$" out ||
    fail "$(cat out)"

# a drill whose check fails leaves no scratch tree, only its record
expect_exit 1 rdpromote --drill --check-timeout 1 \
    --check 'exec:test -f "$RDPROMOTE_TARGET/no-such-file"' s scratch2
[ ! -e scratch2 ] && [ ! -e .scratch2.rdpromote ] || fail "failed drill left a tree"
[ "$(sqlite3 s/catalog.db "select state from promotions order by id desc limit 1")" = failed ] ||
    fail "failed drill not recorded"
# the check probe sees the hooks' environment
expect_exit 0 rdpromote --drill --check 'exec:test -f "$RDPROMOTE_TARGET/abc"' s scratch3
[ ! -e scratch3 ] || fail "drill left scratch3"

# a promoted store is not promoted again
expect_exit 0 rdsnap verify s
state=$(sqlite3 s/catalog.db "select value from meta where key = 'role'")
[ "$state" = primary ] || fail "role after promotion: $state"
expect_exit 1 rdpromote s target2
grep -q "^REFUSED: store 's' is not a standby: it is a primary (promoted already, or never a standby); nothing to promote$" out ||
    fail "$(cat out)"
[ ! -e target2 ] || fail "second promotion made a target"
expect_exit 64 rdpromote --primary bogus://x s target3
[ "$(sqlite3 s/catalog.db "select count(*) from promotions where state = 'running'")" = 0 ] ||
    fail "a bad probe left a running promotion"
