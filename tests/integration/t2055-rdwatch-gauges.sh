#!/bin/sh
# --metrics in a one-shot round (no --interval), for a cron job feeding
# the textfile collector: the up/down booleans and the numbers the store
# probes read (snapshot age and id, standby lag, last drill, last
# promotion's RTO and RPO, store size), never NaN, accepted by promtool.
. "$RD_SRCDIR/tests/integration/lib.sh"

# samples FILE: "name target value" lines, sorted
samples() {
	grep -v '^#' "$1" |
	    sed 's/^\([a-z_]*\){target="\([^"]*\)"} \(.*\)$/\1 \2 \3/' | sort
}
# check FILE: promtool accepts it, no NaN or Inf, every HELP has a TYPE
check() {
	promtool check metrics <"$1" >promtool.out 2>&1 ||
	    fail "promtool: $(cat promtool.out) in $(cat "$1")"
	! grep -Eq 'NaN|Inf' "$1" || fail "NaN: $(cat "$1")"
	[ "$(grep -c '^# HELP' "$1")" = "$(grep -c '^# TYPE' "$1")" ] ||
	    fail "HELP/TYPE: $(cat "$1")"
}

mkdir src prom
printf 'abc' >src/abc
expect_exit 0 rdsnap init S
expect_exit 0 rdsnap create S src
printf 'def' >src/def
expect_exit 0 rdsnap create S src

# one-shot, no --interval: the file is written once, exit status as ever
expect_exit 0 rdwatch -m prom/m.prom snapshot:S exec:true
check prom/m.prom
expect_exit 0 rdsnap stats --json S
size=$(sed 's/.*"disk_bytes":\([0-9]*\).*/\1/' out)
samples prom/m.prom | grep -v -e latency -e snapshot_age >got
expect_file got "rdwatch_consecutive_failures exec:true 0
rdwatch_consecutive_failures snapshot:S 0
rdwatch_snapshot_id snapshot:S 2
rdwatch_store_bytes snapshot:S $size
rdwatch_up exec:true 1
rdwatch_up snapshot:S 1"
grep -q '^# TYPE rdwatch_snapshot_age_seconds gauge$' prom/m.prom ||
    fail "type: $(cat prom/m.prom)"
(cd prom && ls -A) >listing
expect_file listing m.prom

# the age of the newest snapshot: 2 h, as the catalog says
sqlite3 S/catalog.db "update snapshots set finished = finished - 7200"
expect_exit 1 rdwatch -m prom/m.prom 'snapshot:S?max-age=1h'
check prom/m.prom
age=$(samples prom/m.prom | sed -n 's/^rdwatch_snapshot_age_seconds [^ ]* //p')
awk -v a="$age" 'BEGIN { exit !(a >= 7200 && a < 7200 + 600) }' ||
    fail "snapshot age $age"
samples prom/m.prom | grep -e '^rdwatch_up' -e failures >got
expect_file got 'rdwatch_consecutive_failures snapshot:S?max-age=1h 1
rdwatch_up snapshot:S?max-age=1h 0'

# standby lag: two snapshots behind the origin, last ship 3 h ago
expect_exit 0 rdsnap init --standby --no-key T
expect_exit 0 rdship push S T
sqlite3 T/catalog.db "update meta set value = '4' where key = 'origin_newest';
    update meta set value = value - 10800 where key = 'last_ship'"
expect_exit 1 rdwatch -m prom/m.prom lag:T 'lag:T?max=2'
check prom/m.prom
samples prom/m.prom | grep lag_snapshots >got
expect_file got 'rdwatch_standby_lag_snapshots lag:T 2
rdwatch_standby_lag_snapshots lag:T?max=2 2'
samples prom/m.prom | sed -n 's/^rdwatch_standby_lag_seconds [^ ]* //p' >lag
[ "$(wc -l <lag)" = 2 ] || fail "lag seconds: $(cat prom/m.prom)"
while read -r s; do
	awk -v a="$s" 'BEGIN { exit !(a >= 10800 && a < 10800 + 600) }' ||
	    fail "lag seconds $s"
done <lag
# a standby that never received a ship has no lag in seconds
expect_exit 0 rdsnap init --standby --no-key U
expect_exit 1 rdwatch -m prom/m.prom lag:U
check prom/m.prom
samples prom/m.prom | grep -v latency >got
expect_exit 0 rdsnap stats --json U
usize=$(sed 's/.*"disk_bytes":\([0-9]*\).*/\1/' out)
expect_file got "rdwatch_consecutive_failures lag:U 1
rdwatch_store_bytes lag:U $usize
rdwatch_up lag:U 0"

# drills and promotions: the last drill failed an hour ago; the last
# promotion took 30 s at a recovery point of 60 s
now=$(date +%s)
sqlite3 T/catalog.db "insert into promotions(kind, version, target,
    started, finished, state, rto, rpo, validated) values
    ('drill', 2, '/scratch/1', $now - 7300, $now - 7200, 'done', 95.5,
     120, 1),
    ('drill', 2, '/scratch/2', $now - 3700, $now - 3600, 'failed', null,
     null, 0),
    ('promote', 2, '/srv/app', $now - 1800, $now - 1700, 'done', 30.25,
     60, 1),
    ('promote', 2, '/srv/app', $now - 900, $now - 800, 'failed', 5, 5, 1)"
expect_exit 0 rdwatch -m prom/m.prom drill:T
check prom/m.prom
samples prom/m.prom | grep -e drill_success -e promotion >got
expect_file got 'rdwatch_drill_success drill:T 0
rdwatch_promotion_rpo_seconds drill:T 60
rdwatch_promotion_rto_seconds drill:T 30.250000'
age=$(samples prom/m.prom | sed -n 's/^rdwatch_drill_age_seconds [^ ]* //p')
awk -v a="$age" 'BEGIN { exit !(a >= 3600 && a < 3600 + 600) }' ||
    fail "drill age $age"
sqlite3 T/catalog.db "insert into promotions(kind, version, target,
    started, finished, state, validated) values
    ('drill', 2, '/scratch/3', $now - 200, $now - 100, 'done', 1)"
expect_exit 0 rdwatch -m prom/m.prom drill:T
check prom/m.prom
samples prom/m.prom | grep drill_success >got
expect_file got 'rdwatch_drill_success drill:T 1'

# a probe that cannot run a store: a down target, no numbers but up
expect_exit 1 rdwatch -m prom/m.prom snapshot:missing
check prom/m.prom
samples prom/m.prom | grep -v latency >got
expect_file got 'rdwatch_consecutive_failures snapshot:missing 1
rdwatch_up snapshot:missing 0'

# the loop writes the same numbers
expect_exit 0 rdwatch -i 0.02 -c 1 -m prom/m.prom snapshot:S
check prom/m.prom
samples prom/m.prom | grep -e snapshot_id -e store_bytes -e '^rdwatch_up' >got
expect_file got "rdwatch_snapshot_id snapshot:S 2
rdwatch_store_bytes snapshot:S $size
rdwatch_up snapshot:S 1"

# a metrics file that cannot be written is an error of a one-shot round
expect_exit 0 rdwatch -m prom/m.prom exec:true
mkdir prom/d.prom
expect_exit 74 rdwatch -m prom/d.prom exec:true
sed 's/\.[0-9]*\.tmp/.PID.tmp/' err >masked
expect_file masked "rdwatch: cannot rename 'prom/.d.prom.PID.tmp' to 'prom/d.prom': Is a directory"
expect_file out 'exec:true up '"$(sed -n 's/^exec:true up //p' out)"
(cd prom && ls -A) >listing
expect_file listing 'd.prom
m.prom'
