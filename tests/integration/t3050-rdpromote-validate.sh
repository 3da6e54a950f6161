#!/bin/sh
# Issue 11, problems 4 and 5: the bytes of a snapshot can be intact while
# its data is not.  A --validate that runs SQLite's integrity check
# rejects a snapshot of a damaged database: the promotion is refused,
# the target untouched, the copy kept, and the way to an older snapshot
# printed; falling back to it promotes that one, and the journal and
# history say so.  After a failed --check (the switch done) there are two
# ways out that work: fall back to an older snapshot, or roll back to the
# old target; each leaves a journal that says what really runs.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

mkdir src
sqlite3 src/app.db "create table t(id integer primary key, v text);
    with recursive c(x) as (select 1 union all select x + 1 from c where x < 2000)
    insert into t select x, printf('%040d', x * 7919) from c;
    create index tv on t(v);"
[ "$(sqlite3 src/app.db 'pragma integrity_check')" = ok ] || fail "bad test db"
cp src/app.db good.db
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
# a page of an index overwritten: every byte is what was written, the
# database is damaged
printf '\377\377\377\377\377\377\377\377' |
    dd of=src/app.db bs=1 seek=$((4096 * 3 + 8)) conv=notrunc 2>/dev/null
touch -d '+1 second' src/app.db
[ "$(sqlite3 src/app.db 'pragma integrity_check' 2>&1)" != ok ] ||
    fail "the damage is not seen by sqlite"
cp src/app.db bad.db
expect_exit 0 rdsnap create p src
for n in 1 2 3; do
	expect_exit 0 rdsnap init --standby --no-key "s$n"
	expect_exit 0 rdship push --apply "$TMP/rep$n" p "s$n"
	mkdir "target$n"
	printf 'old service data\n' >"target$n/old"
done
tree_sig target1 >old.sig
V='test "$(sqlite3 "$RDPROMOTE_COPY/app.db" "pragma integrity_check" 2>&1)" = ok'
C='exec:test "$(sqlite3 "$RDPROMOTE_TARGET/app.db" "pragma integrity_check" 2>&1)" = ok'

# 1. --validate rejects the damaged database before the switch
expect_exit 1 rdpromote --force --fence true --validate "$V" s1 target1
copy=$(ls -d target1.rejected-*)
expect_file out "Promotion of 's1' into 'target1':
$(grep '^  [a-z]' out | sed -n '1,4p')
  validate     failed  $(sed -n 's/^  validate     failed  \(.*s\)  the .*/\1/p' out)  the application check (--validate) rejected snapshot 2 (exit 1); '$TMP/target1' was not touched; the copy is kept as '$TMP/$copy' for inspection
REFUSED: the application check (--validate) rejected snapshot 2 (exit 1); '$TMP/target1' was not touched; the copy is kept as '$TMP/$copy' for inspection
the promotion stays open (the store is fenced); ways out:
  rdpromote --resume s1
      fix the cause, then continue it
  rdpromote --resume --snapshot 1 s1
      fall back to snapshot 1, the one before 2
  rdpromote --abort s1
      undo it: the target was not touched"
tree_sig target1 >now.sig
cmp -s old.sig now.sig || fail "a rejected snapshot touched the target"
cmp -s "$copy/app.db" bad.db || fail "the rejected copy was not kept as it was"
[ "$(sqlite3 s1/catalog.db "select state || ':' || step || ':' || validated from promotions")" = "running:validate:0" ] ||
    fail "journal after the rejection"

# ... and falling back to snapshot 1 promotes that one
expect_exit 0 rdpromote --resume --snapshot 1 s1
grep -q "^PROMOTED: '$TMP/target1' holds snapshot 1 " out || fail "$(cat out)"
grep -q "^  fell back from snapshot 2$" out || fail "$(cat out)"
cmp -s target1/app.db good.db || fail "target1 does not hold snapshot 1"
[ "$(sqlite3 target1/app.db 'pragma integrity_check')" = ok ] || fail "promoted db"
cmp -s "$copy/app.db" bad.db || fail "the rejected copy changed"
row=$(sqlite3 s1/catalog.db "select version, state, validated,
    abs(rpo - (started - (select finished from snapshots where id = 1))) < 1
    from promotions")
[ "$row" = "1|done|1|1" ] || fail "journal after the fall-back: $row"
expect_exit 0 rdpromote history s1
grep -q "^1  promote  snapshot 1  .*  done  $TMP/target1  RTO " out || fail "$(cat out)"
grep -q "^    fall-back: from snapshot 2 to 1: validate: the application check (--validate) rejected snapshot 2 (exit 1); " out ||
    fail "$(cat out)"
grep -q "^    kept tree $TMP/$copy (snapshot 2, rejected)$" out || fail "$(cat out)"

# 2. a failed --check after the switch, then a fall-back to snapshot 1
expect_exit 1 rdpromote --force --fence true --start "touch $TMP/started2" \
    --stop "touch $TMP/stopped2" --check "$C" --check-timeout 1 s2 target2
grep -q "^REFUSED: the service did not become healthy within 1 s (.*); '$TMP/target2' holds snapshot 2$" out ||
    fail "$(cat out)"
grep -q "^  rdpromote --resume --snapshot 1 s2$" out || fail "$(cat out)"
grep -q "^      roll back: stop the service, keep this tree aside, put the old target back$" out ||
    fail "$(cat out)"
cmp -s target2/app.db bad.db || fail "target2 after the switch"
[ ! -e stopped2 ] || fail "stopped before asked to"
expect_exit 0 rdpromote --resume --snapshot 1 s2
[ -e stopped2 ] || fail "the fall-back did not stop the service first"
grep -q "^PROMOTED: '$TMP/target2' holds snapshot 1 " out || fail "$(cat out)"
cmp -s target2/app.db good.db || fail "target2 does not hold snapshot 1"
replaced=$(sqlite3 s2/catalog.db "select path from promotion_trees where snapshot = 2")
cmp -s "$replaced/app.db" bad.db || fail "the tree of snapshot 2 was not kept"
orig=$(sqlite3 s2/catalog.db "select aside from promotions")
[ "$(cat "$orig/old")" = "old service data" ] || fail "the old target was not kept"
row=$(sqlite3 s2/catalog.db "select version, state,
    abs(rpo - (started - (select finished from snapshots where id = 1))) < 1
    from promotions")
[ "$row" = "1|done|1" ] || fail "journal after the fall-back: $row"
expect_exit 0 rdpromote history s2
grep -q "^1  promote  snapshot 1  .*  done  $TMP/target2  RTO " out || fail "$(cat out)"
grep -q "^    stop: stop command succeeded (fall-back)$" out || fail "$(cat out)"
grep -q "^    fall-back: from snapshot 2 to 1: check: the service did not become healthy" out ||
    fail "$(cat out)"
grep -q "^    kept tree $replaced (snapshot 2, replaced by a fall-back)$" out || fail "$(cat out)"
grep -q "^    kept tree $orig (the target before the promotion)$" out || fail "$(cat out)"

# 3. a failed --check after the switch, then a roll-back
expect_exit 1 rdpromote --force --fence true --start "touch $TMP/started3" \
    --stop "touch $TMP/stopped3" --check "$C" --check-timeout 1 s3 target3
expect_exit 0 rdpromote --abort s3
rejected=$(ls -d target3.rejected-*)
expect_file out "ABORTED: rolled back: '$TMP/target3' holds what it held before the promotion again; the tree of snapshot 2 is kept as '$TMP/$rejected'; the store is a standby again (epoch 1); the fence command is not undone"
[ -e stopped3 ] || fail "the roll-back did not stop the service"
[ "$(ls target3)" = old ] && [ "$(cat target3/old)" = "old service data" ] ||
    fail "the old target is not back"
cmp -s "$rejected/app.db" bad.db || fail "the rolled-back tree was not kept"
row=$(sqlite3 s3/catalog.db "select state from promotions;
    select value from meta where key in ('role', 'epoch') order by key;
    select kind || ':' || state from promotion_trees order by id;
    select event from promotion_events order by id")
[ "$row" = "aborted
1
standby
pre-promote:restored
rejected:kept
stop
roll-back" ] || fail "journal after the roll-back: $row"
expect_exit 0 rdpromote history s3
grep -q "^    restored tree .* (the target before the promotion)$" out || fail "$(cat out)"
# the standby takes bundles again, and a new promotion works
expect_exit 0 rdship push p s3
expect_exit 0 rdpromote --force --fence true --snapshot 1 s3 target3
grep -q "^PROMOTED: '$TMP/target3' holds snapshot 1 " out || fail "$(cat out)"
