#!/bin/sh
# rdwatch report: availability, outages, MTBF and MTTR from histories
# with known answers (inserted at fixed times, reported at a fixed
# --now), the window edges, JSON, errors, and a history recorded by a
# real loop.
. "$RD_SRCDIR/tests/integration/lib.sh"

usage='usage: rdwatch report [-jqv] [--now time] [--since duration] [--syslog] store'

expect_exit 0 rdsnap init S
expect_exit 0 rdwatch report S
expect_empty out
expect_file err "rdwatch: no probe records in store 'S'"
expect_exit 0 rdwatch report --since 7d S
expect_file err "rdwatch: no probe records in store 'S' in the last 7d"
# an empty result is still one JSON document; --quiet drops the notice
expect_exit 0 rdwatch report --json -q S
expect_file out '{"schema":"rdwatch-report/1","targets":[]}'
expect_empty err

# T = 1795000000 (2026-11-18T10:46:40Z)
# tcp: up from T+1000, down T+4000 to T+4600 and T+10000 to T+10300,
#      results from T+995 to T+12000
# http: up T+2000 to T+3000, rdwatch stopped until T+5000, down until
#      T+6000, up; results from T+1995 to T+6500
# exec:old: down from T+1200, results to T+1500
sqlite3 S/catalog.db "insert into watch_transitions(target, time, previous,
    state, reason) values
    ('tcp://db1:5432', 1795001000, 'unknown', 'up', null),
    ('tcp://db1:5432', 1795004000, 'up', 'down', 'connection refused'),
    ('tcp://db1:5432', 1795004600, 'down', 'up', null),
    ('tcp://db1:5432', 1795010000, 'up', 'down', 'connection refused'),
    ('tcp://db1:5432', 1795010300, 'down', 'up', null),
    ('http://db1:8080/health', 1795002000, 'unknown', 'up', null),
    ('http://db1:8080/health', 1795003000, 'up', 'unknown',
     'rdwatch stopped'),
    ('http://db1:8080/health', 1795005000, 'unknown', 'down', 'HTTP 503'),
    ('http://db1:8080/health', 1795006000, 'down', 'up', null),
    ('exec:old', 1795001200, 'unknown', 'down', 'exit 1');
    insert into watch_results(target, time, state, latency, reason) values
    ('tcp://db1:5432', 1795000995, 'up', 0.001, null),
    ('tcp://db1:5432', 1795001000, 'up', 0.001, null),
    ('tcp://db1:5432', 1795007000, 'up', 0.001, null),
    ('tcp://db1:5432', 1795012000, 'up', 0.001, null),
    ('http://db1:8080/health', 1795001995, 'up', 0.002, null),
    ('http://db1:8080/health', 1795006500, 'up', 0.002, null),
    ('exec:old', 1795001200, 'down', 0.003, 'exit 1'),
    ('exec:old', 1795001500, 'down', 0.003, 'exit 1')"

# everything up to "now": each target from its first record to its last
expect_exit 0 rdwatch report --now 1795020000 S
expect_empty err
expect_file out 'exec:old availability 0.000% over 5 min, 1 outage, down 5 min, longest 5 min, MTBF 0 s, MTTR 5 min, last down
http://db1:8080/health availability 60.000% over 41 min 40 s, 1 outage, down 16 min 40 s, longest 16 min 40 s, MTBF 25 min, MTTR 16 min 40 s, last up
tcp://db1:5432 availability 91.818% over 3 h 3 min, 2 outages, down 15 min, longest 10 min, MTBF 1 h 24 min, MTTR 7 min 30 s, last up'
expect_exit 0 rdwatch report --json --now 1795020000 S
expect_file out '{"schema":"rdwatch-report/1","targets":[{"target":"exec:old","from":"2026-11-18T11:26:40Z","to":"2026-11-18T11:31:40Z","known":300,"up":0,"down":300,"availability":0,"outages":1,"longest":300,"mtbf":0,"mttr":300,"last":"down","results":2},{"target":"http://db1:8080/health","from":"2026-11-18T11:39:55Z","to":"2026-11-18T12:55:00Z","known":2500,"up":1500,"down":1000,"availability":60,"outages":1,"longest":1000,"mtbf":1500,"mttr":1000,"last":"up","results":2},{"target":"tcp://db1:5432","from":"2026-11-18T11:23:15Z","to":"2026-11-18T14:26:40Z","known":11000,"up":10100,"down":900,"availability":91.8181,"outages":2,"longest":600,"mtbf":5050,"mttr":450,"last":"up","results":4}]}'

# the last 5000 s before T+12000: up at the start (the T+4600 transition)
expect_exit 0 rdwatch report --now 1795012000 --since 5000 S
expect_file out 'tcp://db1:5432 availability 94.000% over 1 h 23 min, 1 outage, down 5 min, longest 5 min, MTBF 1 h 18 min, MTTR 5 min, last up'
expect_exit 0 rdwatch report --now 1795012000 --since 5000 --json S
expect_file out '{"schema":"rdwatch-report/1","targets":[{"target":"tcp://db1:5432","from":"2026-11-18T13:03:20Z","to":"2026-11-18T14:26:40Z","known":5000,"up":4700,"down":300,"availability":94,"outages":1,"longest":300,"mtbf":4700,"mttr":300,"last":"up","results":2}]}'

# a window that starts inside an outage counts its part of it; the
# state at the start is that of the last transition before it ("http"
# is unknown then: rdwatch was stopped); options may follow the store
expect_exit 0 rdwatch report S --since 7700 --now 1795012000 -j
expect_file out '{"schema":"rdwatch-report/1","targets":[{"target":"http://db1:8080/health","from":"2026-11-18T12:18:20Z","to":"2026-11-18T12:55:00Z","known":1500,"up":500,"down":1000,"availability":33.3333,"outages":1,"longest":1000,"mtbf":500,"mttr":1000,"last":"up","results":1},{"target":"tcp://db1:5432","from":"2026-11-18T12:18:20Z","to":"2026-11-18T14:26:40Z","known":7700,"up":7100,"down":600,"availability":92.2077,"outages":2,"longest":300,"mtbf":3550,"mttr":300,"last":"up","results":2}]}'
expect_exit 0 rdwatch report S --since 7700 --now 1795012000
expect_file out 'http://db1:8080/health availability 33.333% over 25 min, 1 outage, down 16 min 40 s, longest 16 min 40 s, MTBF 8 min 20 s, MTTR 16 min 40 s, last up
tcp://db1:5432 availability 92.207% over 2 h 8 min, 2 outages, down 10 min, longest 5 min, MTBF 59 min 10 s, MTTR 5 min, last up'

# "now" in the past: later records do not exist yet; an outage that
# has just begun counts, with what it lasted so far
expect_exit 0 rdwatch report --now 1795005500 S
expect_file out 'exec:old availability 0.000% over 5 min, 1 outage, down 5 min, longest 5 min, MTBF 0 s, MTTR 5 min, last down
http://db1:8080/health availability 100.000% over 16 min 40 s, 1 outage, down 0 s, longest 0 s, MTBF 16 min 40 s, MTTR 0 s, last down
tcp://db1:5432 availability 83.333% over 1 h, 1 outage, down 10 min, longest 10 min, MTBF 50 min, MTTR 10 min, last up'
# before the first decision nothing is known
expect_exit 0 rdwatch report --now 1795001000 S
expect_file out 'tcp://db1:5432 availability - over 0 s, 0 outages, last up'
expect_exit 0 rdwatch report --json --now 1795001000 S
expect_file out '{"schema":"rdwatch-report/1","targets":[{"target":"tcp://db1:5432","from":"2026-11-18T11:23:15Z","to":"2026-11-18T11:23:20Z","known":0,"up":0,"down":0,"availability":null,"outages":0,"longest":0,"mtbf":null,"mttr":null,"last":"up","results":2}]}'

# errors
expect_exit 64 rdwatch report
expect_file err "rdwatch: missing store
usage: rdwatch report [options] store"
expect_exit 0 rdwatch report -h
expect_file out "$usage"
expect_exit 64 rdwatch report S S
expect_file err "rdwatch: unexpected operand 'S'
usage: rdwatch report [options] store"
expect_exit 64 rdwatch report --bogus S
head -n 1 err >first
expect_file first "rdwatch: unrecognized option '--bogus'"
expect_exit 64 rdwatch report --since 0 S
expect_file err "rdwatch: invalid duration '0' (expected more than 0 seconds)
usage: rdwatch report [options] store"
expect_exit 64 rdwatch report --since soon S
expect_file err "rdwatch: invalid duration 'soon' (expected seconds, or a number with s, m, h, d or w)
usage: rdwatch report [options] store"
expect_exit 64 rdwatch report --now yesterday S
expect_file err "rdwatch: invalid time 'yesterday' (expected 1 to 1099511627776)
usage: rdwatch report [options] store"
expect_exit 66 rdwatch report missing
expect_file err "rdwatch: cannot open store 'missing': No such file or directory"
expect_exit 0 rdsnap init O
sqlite3 O/catalog.db "drop table watch_results"
expect_exit 65 rdwatch report O
expect_file err "rdwatch: store 'O' has a catalog schema that redund did not make: table 'watch_results' is missing"
expect_exit 65 rdwatch --record O exec:true
expect_file err "rdwatch: store 'O' has a catalog schema that redund did not make: table 'watch_results' is missing"

# a history recorded by a loop: one outage, up again at the end
cat >seq.sh <<'SH'
n=$(cat "$1.count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$1.count"
code=$(awk -v n="$n" '{ print $n }' "$1.seq")
exit "${code:-0}"
SH
echo '0 0 1 1 0 0 1 0 0 0' >a.seq
expect_exit 0 rdsnap init L
expect_exit 0 rdwatch -i 0.05 -c 10 -f 2 -r 2 --record L 'exec:sh seq.sh a'
expect_exit 0 rdwatch report --json L
python3 - out <<'PY' || fail "report of the loop: $(cat out)"
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert d["schema"] == "rdwatch-report/1" and len(d["targets"]) == 1, d
r = d["targets"][0]
assert r["target"] == "exec:sh seq.sh a", r
assert r["outages"] == 1 and r["last"] == "up" and r["results"] == 10, r
assert 0 < r["availability"] < 100, r
assert r["mttr"] == r["down"] == r["longest"], r
PY
