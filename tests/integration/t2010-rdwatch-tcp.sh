#!/bin/sh
# tcp probes against a listener, a port where nothing listens, IPv4 and
# host names; one-shot exit status and output format, text and JSON.
. "$RD_SRCDIR/tests/integration/lib.sh"

# start the test servers; wait for their ports
python3 "$RD_SRCDIR/tests/integration/rdwatch-servers.py" $$ \
    silent:open refused:closed silent6:open6 &
for name in open closed open6; do
	i=0
	while [ ! -s "$name.port" ]; do
		i=$((i + 1))
		[ "$i" -le 600 ] || fail "server $name did not start"
		sleep 0.05
	done
done
open=$(cat open.port)
closed=$(cat closed.port)
open6=$(cat open6.port)

# latencies vary: compare lines with the latency masked
mask() {
	sed 's/ [0-9][0-9]*\.[0-9] ms/ L ms/' out >masked
}

expect_exit 0 rdwatch "tcp://127.0.0.1:$open"
mask
expect_file masked "tcp://127.0.0.1:$open up L ms"
expect_empty err
grep -Eq '^tcp://127\.0\.0\.1:[0-9]+ up [0-9]+\.[0-9] ms$' out ||
    fail "format: $(cat out)"

expect_exit 0 rdwatch "tcp://localhost:$open"
mask
expect_file masked "tcp://localhost:$open up L ms"

# IPv6, where the host has it
if [ "$open6" != none ]; then
	expect_exit 0 rdwatch "tcp://[::1]:$open6"
	mask
	expect_file masked "tcp://[::1]:$open6 up L ms"
	expect_exit 1 rdwatch "tcp://[::1]:$closed"
fi

expect_exit 1 rdwatch "tcp://127.0.0.1:$closed"
mask
expect_file masked "tcp://127.0.0.1:$closed down L ms connection refused"
expect_empty err

# one line per probe in the order given; any down gives 1
expect_exit 1 rdwatch -t 2 "tcp://127.0.0.1:$closed" \
    "tcp://127.0.0.1:$open" "tcp://localhost:$closed"
mask
expect_file masked "tcp://127.0.0.1:$closed down L ms connection refused
tcp://127.0.0.1:$open up L ms
tcp://localhost:$closed down L ms connection refused"

expect_exit 1 rdwatch --json "tcp://127.0.0.1:$open" "tcp://127.0.0.1:$closed"
python3 - "$open" "$closed" <<'PY' || fail "JSON output: $(cat out)"
import json, re, sys
lines = open("out").read().split("\n")
assert lines[-1] == "", "no final newline"
a, b = [json.loads(l) for l in lines[:-1]]
op, cl = sys.argv[1], sys.argv[2]
for o in (a, b):
    assert set(o) == {"schema", "type", "time", "target", "kind", "state", "latency",
                      "reason"}, o
    assert o["type"] == "result" and o["kind"] == "tcp", o
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"])
    assert isinstance(o["latency"], (int, float)) and 0 <= o["latency"] < 5
assert a["target"] == "tcp://127.0.0.1:" + op and a["state"] == "up"
assert a["reason"] is None
assert b["target"] == "tcp://127.0.0.1:" + cl and b["state"] == "down"
assert b["reason"] == "connection refused"
PY

# a name that cannot resolve is down, not an error
expect_exit 1 rdwatch tcp://no-such-host.invalid:80
grep -q "^tcp://no-such-host.invalid:80 down [0-9.]* ms cannot resolve 'no-such-host.invalid': " out ||
    fail "resolve failure: $(cat out)"
