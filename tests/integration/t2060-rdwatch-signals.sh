#!/bin/sh
# Loop mode without --count: SIGTERM and SIGINT end it with status 0
# after running hooks finish; SIGHUP reopens the --output file.
. "$RD_SRCDIR/tests/integration/lib.sh"

# wait_for FILE: until FILE exists and is not empty (at most 20 s)
wait_for() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ "$i" -le 400 ] || fail "no $1"
		sleep 0.05
	done
}

# --count only bounds a test that fails before it sends its signal
rdwatch -i 0.05 -c 600 --json -o log -m m.prom --fall 1 \
    --on-down 'echo x >hook.started; sleep 0.5; touch hook.done' \
    'exec:test -e down && exit 4; exit 0' 2>err &
pid=$!
wait_for m.prom
wait_for log
mv log log.1
kill -HUP "$pid"
wait_for log
# the reopened file gets the new lines
: >down
wait_for hook.started
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM"
[ -e hook.done ] || fail "rdwatch did not wait for the running hook"
expect_empty err
python3 - <<'PY' || fail "logs: $(cat log.1) / $(cat log)"
import json
old = [json.loads(l) for l in open("log.1").read().splitlines()]
new = [json.loads(l) for l in open("log").read().splitlines()]
assert old and new
# nothing lost or doubled across the reopen
events = old + new
trans = [(e["previous"], e["state"], e["reason"]) for e in events
         if e["type"] == "transition"]
assert trans == [("unknown", "up", None), ("up", "down", "exit 4")], trans
states = [e["state"] for e in events if e["type"] == "result"]
n = states.index("down")
assert n >= 2 and set(states[:n]) == {"up"}, states
assert set(states[n:]) == {"down"}, states
PY

rm -f down m.prom
rdwatch -i 0.05 -c 600 -m m.prom tcp://127.0.0.1:1 2>err &
pid=$!
wait_for m.prom
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGINT"
expect_empty err
