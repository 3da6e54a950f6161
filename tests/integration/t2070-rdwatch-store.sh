#!/bin/sh
# Probes of a store's catalog (snapshot: age against the RPO budget, lag:
# of a standby and its replica, drill: age of the last successful drill)
# and --record in one-shot and loop mode, with a busy catalog.
. "$RD_SRCDIR/tests/integration/lib.sh"

mask() {
	sed 's/ [0-9][0-9]*\.[0-9] ms/ L ms/' out >masked
}

# snapshot:
mkdir src
printf 'abc' >src/abc
expect_exit 0 rdsnap init S
expect_exit 1 rdwatch 'snapshot:S?max-age=1h'
mask
expect_file masked 'snapshot:S?max-age=1h down L ms store has no snapshots'
expect_exit 0 rdsnap create S src
expect_exit 0 rdwatch 'snapshot:S?max-age=1h' snapshot:S
mask
expect_file masked 'snapshot:S?max-age=1h up L ms
snapshot:S up L ms'
sqlite3 S/catalog.db "update snapshots set finished = strftime('%s', 'now') - 7200"
expect_exit 1 rdwatch 'snapshot:S?max-age=1h' 'snapshot:S?max-age=3h' \
    'snapshot:S?max-age=90m'
mask
expect_file masked 'snapshot:S?max-age=1h down L ms newest snapshot 1 is 2 h old > 1 h
snapshot:S?max-age=3h up L ms
snapshot:S?max-age=90m down L ms newest snapshot 1 is 2 h old > 1 h 30 min'
expect_empty err
expect_exit 1 rdwatch --json 'snapshot:S?max-age=1h'
sed 's/"time":"[^"]*"/"time":T/; s/"latency":[0-9.e-]*/"latency":L/' out >masked
expect_file masked '{"schema":"rdwatch/1","type":"result","time":T,"target":"snapshot:S?max-age=1h","kind":"snapshot","state":"down","latency":L,"reason":"newest snapshot 1 is 2 h old > 1 h"}'
# a partial or inconsistent newest snapshot is not at the recovery point
sqlite3 S/catalog.db "update snapshots set partial = 2"
expect_exit 1 rdwatch 'snapshot:S?max-age=3h' 'snapshot:S?max-age=1h'
mask
expect_file masked 'snapshot:S?max-age=3h down L ms newest snapshot 1 is partial: 2 paths could not be read
snapshot:S?max-age=1h down L ms newest snapshot 1 is 2 h old > 1 h; newest snapshot 1 is partial: 2 paths could not be read'
sqlite3 S/catalog.db "update snapshots set partial = 0, inconsistent = 1"
expect_exit 1 rdwatch snapshot:S
mask
expect_file masked 'snapshot:S down L ms newest snapshot 1 is inconsistent: 1 file kept changing while read'
sqlite3 S/catalog.db "update snapshots set inconsistent = 0"
expect_exit 1 rdwatch snapshot:missing snapshot:src
mask
expect_file masked "snapshot:missing down L ms cannot open store 'missing': No such file or directory
snapshot:src down L ms 'src' is not a store (no catalog.db): create one with rdsnap init"

# lag: a standby fed by rdship, with a replica
expect_exit 0 rdsnap init --standby --no-key T
expect_exit 1 rdwatch lag:T lag:S
mask
expect_file masked 'lag:T down L ms no ship received
lag:S down L ms not a standby store'
expect_exit 0 rdship send S
mv out b1.rdb
expect_exit 0 rdship receive --apply R T <b1.rdb
expect_exit 0 rdwatch lag:T 'lag:T?max-age=1h'
printf 'def' >src/def
expect_exit 0 rdsnap create S src
expect_exit 0 rdship send --since 1 S
mv out b2.rdb
expect_exit 0 rdship receive T <b2.rdb
R=$(pwd -P)/R
expect_exit 1 rdwatch lag:T
mask
expect_file masked "lag:T down L ms replica $R at snapshot 1, store at 2"
# the origin has taken two more snapshots than were shipped
sqlite3 T/catalog.db "update meta set value = '4' where key = 'origin_newest'"
expect_exit 1 rdwatch 'lag:T?max=1' 'lag:T?max=2'
mask
expect_file masked "lag:T?max=1 down L ms 2 snapshots behind the origin; replica $R at snapshot 1, store at 2
lag:T?max=2 down L ms replica $R at snapshot 1, store at 2"
# caught up again; a receive with --apply brings the replica up
sqlite3 T/catalog.db "update meta set value = '2' where key = 'origin_newest'"
expect_exit 0 rdship receive --apply R T <b2.rdb
expect_exit 0 rdwatch lag:T 'lag:T?max-age=1h'
sqlite3 T/catalog.db \
    "update meta set value = strftime('%s', 'now') - 10800 where key = 'last_ship'"
expect_exit 1 rdwatch 'lag:T?max-age=1h' 'lag:T?max-age=4h'
mask
expect_file masked 'lag:T?max-age=1h down L ms last ship 3 h ago > 1 h
lag:T?max-age=4h up L ms'
# a bundle that brings nothing proves nothing about now; a push that
# finds the standby current does (an idle rdship follow): the last ship
# is now, and origin_newest what the push said
expect_exit 0 rdship receive T <b2.rdb
expect_exit 1 rdwatch 'lag:T?max-age=1h'
sqlite3 T/catalog.db "update meta set value = '1' where key = 'origin_newest'"
expect_exit 0 rdship push S T
expect_exit 0 rdwatch 'lag:T?max-age=1h'
expect_exit 0 sqlite3 T/catalog.db \
    "select value from meta where key = 'origin_newest'"
expect_file out 2
# rpo: the age of the data of the standby's newest snapshot (times are
# set from now, not moved back from when the test made them, so that a
# slow run reads the same hours)
expect_exit 0 rdwatch 'lag:T?rpo=1h'
sqlite3 T/catalog.db "update snapshots set started = strftime('%s', 'now') - 7200 where id = 2"
expect_exit 1 rdwatch 'lag:T?rpo=1h&max-age=4h' 'lag:T?rpo=3h'
mask
expect_file masked 'lag:T?rpo=1h&max-age=4h down L ms newest snapshot 2 taken 2 h ago > rpo 1 h
lag:T?rpo=3h up L ms'
# an interrupted update of the replica
sqlite3 T/catalog.db "update replicas set state = 'applying', target = 3"
expect_exit 1 rdwatch lag:T
mask
expect_file masked "lag:T down L ms replica $R update interrupted"

# drill:
expect_exit 1 rdwatch 'drill:T?max-age=7d'
mask
expect_file masked 'drill:T?max-age=7d down L ms no validated drill recorded'
now=$(date +%s)
sqlite3 T/catalog.db "insert into promotions(kind, version, target,
    started, finished, state, rto, rpo, validated) values
    ('drill', 2, '/scratch/1', $now - 8 * 86400 - 7300,
     $now - 8 * 86400 - 7200, 'done', 95.5, 120, 1),
    ('drill', 2, '/scratch/2', $now - 3700, $now - 3600, 'failed', null,
     null, 0),
    ('drill', 2, '/scratch/4', $now - 3000, $now - 2900, 'done', 9, 9,
     null),
    ('drill', 2, '/scratch/5', $now - 2800, $now - 2700, 'done', 9, 9, 0),
    ('promote', 2, '/srv/app', $now - 1800, $now - 1700, 'done', 30, 60,
     1)"
expect_exit 1 rdwatch 'drill:T?max-age=7d' 'drill:T?max-age=9d' drill:T
mask
expect_file masked 'drill:T?max-age=7d down L ms last drill 8 d 2 h ago > 7 d
drill:T?max-age=9d up L ms
drill:T up L ms'
sqlite3 T/catalog.db "insert into promotions(kind, version, target,
    started, finished, state, validated) values
    ('drill', 2, '/scratch/3', $now - 86500, $now - 86400, 'done', 1)"
expect_exit 0 rdwatch 'drill:T?max-age=7d'

# --record, one-shot: every result, and a transition on each change
expect_exit 0 rdsnap init L
expect_exit 66 rdwatch --record nostore 'exec:touch started'
expect_file err "rdwatch: cannot open store 'nostore': No such file or directory"
expect_exit 66 rdwatch -i 1 -c 1 --record nostore 'exec:touch started'
expect_file err "rdwatch: cannot open store 'nostore': No such file or directory"
[ ! -e started ] || fail "a probe ran despite a bad --record store"
expect_exit 1 rdwatch --record L 'exec:test -e flag' 'exec:true'
: >flag
expect_exit 0 rdwatch --record L 'exec:test -e flag' 'exec:true'
expect_exit 0 rdwatch --record L 'exec:test -e flag' 'exec:true'
expect_empty err
sqlite3 -separator ' ' L/catalog.db "select target, state,
    coalesce(reason, '-'), latency > 0 from watch_results order by id" >rows
expect_file rows 'exec:test -e flag down exit 1 1
exec:true up - 1
exec:test -e flag up - 1
exec:true up - 1
exec:test -e flag up - 1
exec:true up - 1'
sqlite3 -separator ' ' L/catalog.db "select target, previous, state,
    coalesce(reason, '-') from watch_transitions order by id" >rows
expect_file rows 'exec:test -e flag unknown down exit 1
exec:true unknown up -
exec:test -e flag down up -'
# one time per run, shared by its results and transitions
expect_exit 0 sqlite3 L/catalog.db "select count(distinct time)
    from watch_results; select count(*) from watch_transitions t where
    not exists (select 1 from watch_results r where r.target = t.target
    and r.time = t.time)"
expect_file out '3
0'

# --record, loop: damped transitions, then "rdwatch stopped"
cat >seq.sh <<'SH'
n=$(cat "$1.count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$1.count"
code=$(awk -v n="$n" '{ print $n }' "$1.seq")
exit "${code:-0}"
SH
echo '0 0 1 1 1 0 0 0' >a.seq
expect_exit 0 rdwatch -i 0.05 -c 8 -f 3 -r 2 --record L 'exec:sh seq.sh a'
expect_empty err
sqlite3 -separator ' ' L/catalog.db "select previous, state,
    coalesce(reason, '-') from watch_transitions
    where target = 'exec:sh seq.sh a' order by id" >rows
expect_file rows 'unknown up -
up down exit 1
down up -
up unknown rdwatch stopped'
expect_exit 0 sqlite3 L/catalog.db "select group_concat(state, ' ') from
    (select state from watch_results where target = 'exec:sh seq.sh a'
    order by id)"
expect_file out 'up up down down down up up up'

# a busy catalog (a writer holds it, as rdsnap create does for its whole
# scan): results wait in memory and are written once it is free
mkfifo ctl
sqlite3 L/catalog.db <ctl >sqlite.out 2>&1 &
sqpid=$!
exec 3>ctl
# the writer waits out the probing below instead of failing at once
# (the shell's busy timeout is 0), so it always gets the lock
echo '.timeout 60000' >&3
echo 'BEGIN IMMEDIATE;' >&3
deadline=$(($(date +%s) + 60))
while sqlite3 L/catalog.db 'BEGIN IMMEDIATE; ROLLBACK;' 2>/dev/null; do
	[ "$(date +%s)" -lt $deadline ] ||
	    fail "the catalog never became busy: $(cat sqlite.out)"
done
# one-shot: not recorded, said so, and the answer stands
expect_exit 0 rdwatch -t 1 --record L 'exec:true'
expect_file err "rdwatch: cannot record in store 'L': catalog: database is locked; 1 result and 0 transitions not recorded"
# loop: the third round's probe ends the writer's transaction
cat >release.sh <<'SH'
n=$(cat release.count 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >release.count
if [ "$n" -eq 3 ]; then
	echo 'COMMIT;' >ctl
	until sqlite3 L/catalog.db 'BEGIN IMMEDIATE; ROLLBACK;' 2>/dev/null; do
		:
	done
fi
exit 0
SH
expect_exit 0 rdwatch -i 0.1 -c 5 -f 1 -r 1 --record L 'exec:sh release.sh'
expect_empty err
echo '.quit' >&3
exec 3>&-
wait $sqpid || fail "sqlite3: $(cat sqlite.out)"
expect_file release.count 5
expect_exit 0 sqlite3 L/catalog.db "select count(*), count(distinct time),
    min(time) < max(time) from watch_results
    where target = 'exec:sh release.sh'; select previous || ' ' || state
    from watch_transitions where target = 'exec:sh release.sh' order by id"
expect_file out '5|5|1
unknown up
up unknown'
expect_exit 0 sqlite3 L/catalog.db "select count(*) from watch_results
    where target = 'exec:true'"
expect_file out '3'

# more replicas and standbys than a status lists: counted, and a stale
# one among those not listed still makes lag: down
sqlite3 T/catalog.db "update replicas set state = 'clean', target = null"
n=1
while [ $n -le 34 ]; do
	sqlite3 T/catalog.db "insert into replicas(dir, version, state, updated)
	    values ('/srv/zz-$(printf %02d $n)', 2, 'clean', 0)"
	sqlite3 S/catalog.db "insert into meta(key, value)
	    values ('standby:zz-$(printf %02d $n)', '1 0')"
	n=$((n + 1))
done
sqlite3 T/catalog.db "update replicas set state = 'applying', target = 2
    where dir = '/srv/zz-34'"
expect_exit 0 rdship status T
grep -q '^replica    and 3 more, not listed$' out || fail "status: $(cat out)"
expect_exit 0 rdship status --json T
python3 -c '
import json
d = json.load(open("out"))
assert len(d["replicas"]) == 32 and d["replicas_more"] == 3, d'
expect_exit 0 rdship status S
grep -q '^standby    and [0-9]* more, not listed$' out || fail "status S: $(cat out)"
expect_exit 1 rdwatch lag:T
mask
expect_file masked "lag:T down L ms 1 more replica not at snapshot 2"
