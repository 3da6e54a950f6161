#!/bin/sh
# Issue 11, problem 9: the snapshot's age is only an upper bound on the
# data given up.  With --failed-at the summary, the JSON and the journal
# give the changes actually given up: from the newest data of the
# snapshot (its end, or the modification time of a --heartbeat file in
# it) to the failure.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

mkdir src
printf 'data\n' >src/data
hb=$(($(date +%s) - 100))
printf 'beat\n' >src/heartbeat
touch -d "@$hb" src/heartbeat
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
for n in 1 2 3; do
	expect_exit 0 rdsnap init --standby --no-key "s$n"
	expect_exit 0 rdship push p "s$n"
done
fin=$(sqlite3 s1/catalog.db "select cast(finished as integer) from snapshots where id = 1")
utc() {
	date -u -d "@$1" '+%Y-%m-%d %H:%M:%S +0000'
}

# the failure 5.5 s after the end of the snapshot
fa=$(date -u -d "@$((fin + 5))" '+%Y-%m-%dT%H:%M:%S').5Z
expect_exit 0 rdpromote --force --fence true --failed-at "$fa" s1 t1
grep -q "^  RPO [0-9]* s: the age of that snapshot when the promotion began$" out ||
    fail "$(cat out)"
grep -q "^  data given up: 5.5 s of changes, from $(utc "$fin") (the newest data of the snapshot) to the failure at $(utc $((fin + 5)))$" out ||
    fail "$(cat out)"
row=$(sqlite3 s1/catalog.db "select failed_at - $fin, data_time - $fin, given_up from promotions")
[ "$row" = "5.5|0.0|5.5" ] || fail "journal: $row"

# the newest data is the heartbeat's time; the JSON says so too
fa=$((hb + 8)).7
expect_exit 0 rdpromote --json --force --fence true --heartbeat ./heartbeat \
    --failed-at "@$fa" s2 t2
python3 - out "$hb" "$fa" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
hb, fa = float(sys.argv[2]), float(sys.argv[3])
assert d["outcome"] == "done", d
assert d["data_time"] == hb and d["failed_at"] == fa, d
assert abs(d["given_up"] - 8.7) < 1e-6 and d["given_up_exact"] is True, d
assert d["rpo"] > 0, d
PY
row=$(sqlite3 s2/catalog.db "select data_time - $hb, printf('%.3f', given_up) from promotions")
[ "$row" = "0.0|8.700" ] || fail "journal: $row"
expect_exit 0 rdpromote history s2
grep -q "^1  promote  snapshot 1  .*  RTO [0-9.]* s  RPO [0-9]* s  given up 8.7 s$" out ||
    fail "$(cat out)"

# without --failed-at, the age is the bound, and says so
expect_exit 0 rdpromote --force --fence true s3 t3
grep -q "^  RPO [0-9]* s: changes on the old primary after that snapshot are not in it$" out ||
    fail "$(cat out)"
grep -q "^      (an upper bound; --failed-at TIME gives the data actually given up)$" out ||
    fail "$(cat out)"
row=$(sqlite3 s3/catalog.db "select failed_at is null, data_time = (select
    cast(finished as integer) from snapshots), abs(given_up - (started - data_time)) < 0.001
    from promotions")
[ "$row" = "1|1|1" ] || fail "journal: $row"
