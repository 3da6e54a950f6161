#!/bin/sh
# A drill proves a snapshot restorable and, with --validate, usable; a
# passed one leaves nothing but its record, and only a validated one
# counts for rdwatch's drill: probe.  A failed drill keeps its tree and
# stops what its --start started (issue 11, problem 7).  --dry-run prints
# the plan and the checks and changes nothing; --verify quick says it did
# not hash; a promoted store is not promoted again.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

setup_standby
dump() {
	sqlite3 s/catalog.db 'select * from meta order by key; select * from snapshots;
	    select * from replicas; select count(*) from promotions'
}
dump >before
expect_exit 0 rdpromote --dry-run --force --no-fence s target
fin=$(sqlite3 s/catalog.db "select strftime('%Y-%m-%dT%H:%M:%SZ', finished, 'unixepoch') from snapshots where id = 2")
age=$(sed -n 's/.*snapshot 2 is \([0-9]*\) s old$/\1/p' out)
expect_file out "PLAN for a promotion of 's' into 'target' (nothing will be changed):
  preflight    the primary is NOT checked (--force, no --primary)
  fence        NO fence command (--no-fence): the old primary is not cut off; raise the epoch to 2
  materialize  move the warm replica $TMP/rep into place
  verify       check every entry and hash every file
  validate     no --validate command: the application's data is NOT checked
  switch       rename $TMP/.target.rdpromote to $TMP/target
  start        no --start command
  check        no --check probe
  record       record RTO and RPO
checks (as the promotion would make them):
  journal      ok       no unfinished promotion or drill
  snapshot     ok       snapshot 2, finished $fin, $age s before the start
  role         ok       's' is a standby, epoch 1
  target       ok       '$TMP/target' does not exist yet
  partial      ok       snapshot 2 is complete and consistent
  space        ok       the warm replica is moved into place: no space needed
  primary      ok       the primary was NOT checked (--force, no --primary)
nothing was changed (--dry-run); snapshot 2 is $age s old"
dump >after
cmp -s before after || fail "--dry-run changed the store"
[ ! -e target ] || fail "--dry-run made the target"

# a drill without --validate passes, but the drill: probe does not count it
expect_exit 0 rdpromote --drill s scratch0
grep -q "^  NOT VALIDATED: no --validate, so rdwatch's drill: probe does not count this drill$" out ||
    fail "$(cat out)"
expect_exit 1 rdwatch 'drill:s?max-age=1d'
grep -q "^drill:s?max-age=1d down .* no validated drill recorded$" out || fail "$(cat out)"

age0=$(python3 -c "import time; print(time.time())")
expect_exit 0 rdpromote --drill --json --validate 'test -f "$RDPROMOTE_COPY/abc"' \
    --start 'test -f "$RDPROMOTE_TARGET/abc"' --stop "touch $TMP/stopped" \
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
assert d["validated"] is True, d
assert 0 < d["rto"] < (t1 - t0) + 1, d
# RPO is the snapshot's age when the drill started
assert t0 - finished - 1 <= d["rpo"] <= t1 - finished + 1, (d, finished)
row = db.execute("select kind, version, state, rto, rpo, validated from promotions where id = 2").fetchone()
assert row[0] == "drill" and row[1] == 2 and row[2] == "done" and row[5] == 1, row
assert abs(row[3] - d["rto"]) < 0.001 and abs(row[4] - d["rpo"]) < 0.001, row
PY
[ -e stopped ] || fail "the drill did not run its stop command"
[ ! -e scratch ] && [ ! -e .scratch.rdpromote ] || fail "drill left a tree"
[ -d rep ] || fail "a drill consumed the replica"
[ "$(epoch)" = 1 ] || fail "a drill raised the epoch"
[ "$(sqlite3 s/catalog.db "select value from meta where key = 'role'")" = standby ] ||
    fail "a drill changed the role"
expect_exit 0 rdwatch 'drill:s?max-age=1d'
expect_exit 73 rdpromote --drill s src
expect_file err "rdpromote: drill target 'src' exists: give a new scratch path"

# a drill that started a server and then failed: the server is stopped,
# the tree stays for inspection, and only rdpromote remove-tree removes it
P=$(free_port)
RD_ON_EXIT='kill $(cat srv.pid)'
expect_exit 1 rdpromote --drill --check-timeout 1 \
    --start "python3 -m http.server $P --bind 127.0.0.1 --directory \"\$RDPROMOTE_TARGET\" >/dev/null 2>&1 & echo \$! >$TMP/srv.pid" \
    --stop "kill \$(cat $TMP/srv.pid)" \
    --check 'exec:test -f "$RDPROMOTE_TARGET/no-such-file"' s scratch2
grep -q "^REFUSED: the service did not become healthy within 1 s (exec:test -f \"\$RDPROMOTE_TARGET/no-such-file\": exit 1); '$TMP/scratch2' holds snapshot 2; the drill's tree is kept at '$TMP/scratch2' for inspection$" out ||
    fail "$(cat out)"
grep -q "^remove it with: rdpromote remove-tree s '$TMP/scratch2'$" out || fail "$(cat out)"
[ -f scratch2/abc ] || fail "the failed drill did not keep its tree"
n=0
while python3 -c "import socket; socket.create_connection(('127.0.0.1', $P), 1)" 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 200 ] || fail "the drill's server still runs after it failed"
	sleep 0.05
done
[ "$(sqlite3 s/catalog.db "select state from promotions order by id desc limit 1")" = failed ] ||
    fail "failed drill not recorded"
[ "$(sqlite3 s/catalog.db "select kind || ':' || state || ':' || snapshot from promotion_trees where path = '$TMP/scratch2'")" = "drill:kept:2" ] ||
    fail "the kept tree is not in the journal"
expect_exit 0 rdpromote history s
grep -q "^    kept tree $TMP/scratch2 (snapshot 2, a failed drill's tree)$" out || fail "$(cat out)"
grep -q "^    stop: stop command succeeded (the drill failed)$" out || fail "$(cat out)"
expect_exit 73 rdpromote --drill s scratch2
expect_exit 1 rdpromote remove-tree s src
expect_file out "NOT REMOVED: '$TMP/src' is not a tree that rdpromote kept (rdpromote history lists them)"
[ -d src ] || fail "remove-tree removed a tree it did not keep"
expect_exit 0 rdpromote remove-tree s scratch2
expect_file out "removed 'scratch2'"
[ ! -e scratch2 ] || fail "remove-tree left the tree"
expect_exit 1 rdpromote remove-tree s scratch2
expect_file out "NOT REMOVED: '$TMP/scratch2' was removed already"
expect_exit 0 rdpromote --drill --check 'exec:test -f "$RDPROMOTE_TARGET/abc"' s scratch2
[ ! -e scratch2 ] || fail "drill left scratch2"

# a drill whose validate fails keeps the copy it rejected
expect_exit 1 rdpromote --drill --validate 'test -f "$RDPROMOTE_COPY/nope"' s scratch3
expect_file out "Drill of 's' into 'scratch3':
$(sed -n '1,/^  validate/{/^  [a-z]/p}' out)
REFUSED: the application check (--validate) rejected snapshot 2 (exit 1); '$TMP/scratch3' was not touched; the drill's tree is kept at '$TMP/scratch3' for inspection
remove it with: rdpromote remove-tree s '$TMP/scratch3'"
[ -f scratch3/abc ] || fail "the rejected drill copy is not kept"
[ "$(sqlite3 s/catalog.db "select validated from promotions order by id desc limit 1")" = 0 ] ||
    fail "validate failure not recorded"

expect_exit 0 rdpromote --force --no-fence --verify quick s target
grep -q "^  verify       ok  .*metadata only (quick: contents NOT hashed)$" out || fail "$(cat out)"
grep -q "^  WARNING: --verify quick checked metadata only; contents were not hashed$" out ||
    fail "$(cat out)"
grep -q "^  NOT FENCED (--no-fence): the old primary was not cut off; make sure it cannot write$" out ||
    fail "$(cat out)"
grep -q "^  NOT VALIDATED: no --validate; the bytes were checked, not the application's data$" out ||
    fail "$(cat out)"
[ "$(sqlite3 s/catalog.db "select value from promotion_options o join promotions p on p.id = o.promotion where p.kind = 'promote' and o.name = 'no-fence'")" = 1 ] ||
    fail "--no-fence is not in the journal"

# a promoted store is not promoted again
expect_exit 0 rdsnap verify s
state=$(sqlite3 s/catalog.db "select value from meta where key = 'role'")
[ "$state" = primary ] || fail "role after promotion: $state"
expect_exit 1 rdpromote --force --no-fence s target2
grep -q "^REFUSED: store 's' is not a standby: it is a primary (promoted already, or never a standby); nothing to promote$" out ||
    fail "$(cat out)"
[ ! -e target2 ] || fail "second promotion made a target"
expect_exit 64 rdpromote --primary bogus://x --no-fence s target3
[ "$(sqlite3 s/catalog.db "select count(*) from promotions where state = 'running'")" = 0 ] ||
    fail "a bad probe left a running promotion"
