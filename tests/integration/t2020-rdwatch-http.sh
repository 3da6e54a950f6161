#!/bin/sh
# http probes against a server switched between 200 and 503, expect=,
# contains= (plain and chunked bodies), and a listener that accepts but
# never answers (the timeout path).
. "$RD_SRCDIR/tests/integration/lib.sh"

mask() {
	sed 's/ [0-9][0-9]*\.[0-9] ms/ L ms/' out >masked
}
# start the test servers; wait for their ports
python3 "$RD_SRCDIR/tests/integration/rdwatch-servers.py" $$ \
    http:web silent:mute refused:closed garbage:junk &
for name in web mute closed junk; do
	i=0
	while [ ! -s "$name.port" ]; do
		i=$((i + 1))
		[ "$i" -le 600 ] || fail "server $name did not start"
		sleep 0.05
	done
done
web=$(cat web.port)
mute=$(cat mute.port)
closed=$(cat closed.port)
junk=$(cat junk.port)
url="http://127.0.0.1:$web"

echo 200 >status
expect_exit 0 rdwatch "$url/health"
mask
expect_file masked "$url/health up L ms"
expect_file requests "GET /health HTTP/1.1 127.0.0.1:$web"

echo 503 >status
expect_exit 1 rdwatch "$url/health"
mask
expect_file masked "$url/health down L ms HTTP 503"

echo 204 >status
expect_exit 0 rdwatch "$url/"
echo 301 >status
expect_exit 1 rdwatch "$url/"
mask
expect_file masked "$url/ down L ms HTTP 301"

# expect= replaces "any 2xx"
echo 503 >status
expect_exit 0 rdwatch "$url/maint?expect=503"
echo 200 >status
expect_exit 1 rdwatch "$url/maint?expect=503"
mask
expect_file masked "$url/maint?expect=503 down L ms HTTP 200 (expected 503)"

# contains=, percent-decoded; other query options go to the server
printf '{"status": "ok", "role": "primary"}\n' >body
rm -f requests
expect_exit 0 rdwatch "$url/h?role=x&contains=%22role%22%3A%20%22primary%22&v=2"
expect_file requests "GET /h?role=x&v=2 HTTP/1.1 127.0.0.1:$web"
expect_exit 1 rdwatch "$url/h?contains=standby"
mask
expect_file masked "$url/h?contains=standby down L ms body does not contain 'standby'"
expect_exit 0 rdwatch "$url/chunked?contains=primary"
expect_exit 1 rdwatch "$url/chunked?contains=standby"
mask
expect_file masked "$url/chunked?contains=standby down L ms body does not contain 'standby'"
expect_exit 0 rdwatch "$url/close?contains=primary"
expect_exit 1 rdwatch "$url/close?contains=standby"
mask
expect_file masked "$url/close?contains=standby down L ms body does not contain 'standby'"
# the status is checked before the body
echo 500 >status
expect_exit 1 rdwatch "$url/h?contains=primary"
mask
expect_file masked "$url/h?contains=primary down L ms HTTP 500"

# accepted, never answered: the timeout bounds the whole request
expect_exit 1 rdwatch --timeout 0.5 "http://127.0.0.1:$mute/health"
mask
expect_file masked "http://127.0.0.1:$mute/health down L ms timeout after 0.5 s"
ms=$(sed 's/.* down \([0-9]*\)\.[0-9] ms .*/\1/' out)
if [ "$ms" -lt 500 ] || [ "$ms" -ge 3000 ]; then
	fail "timeout took $ms ms"
fi

expect_exit 1 rdwatch "http://127.0.0.1:$closed/"
mask
expect_file masked "http://127.0.0.1:$closed/ down L ms connection refused"

expect_exit 1 rdwatch "http://127.0.0.1:$junk/"
mask
expect_file masked "http://127.0.0.1:$junk/ down L ms invalid HTTP response"

# one round: the silent server does not hold up the others
echo 200 >status
expect_exit 1 rdwatch -t 2 "http://127.0.0.1:$mute/" "$url/" \
    "tcp://127.0.0.1:$mute"
mask
expect_file masked "http://127.0.0.1:$mute/ down L ms timeout after 2.0 s
$url/ up L ms
tcp://127.0.0.1:$mute up L ms"

expect_exit 1 rdwatch -j -t 0.5 "http://127.0.0.1:$mute/"
python3 - <<'PY' || fail "JSON output: $(cat out)"
import json
o = json.loads(open("out").read())
assert o["kind"] == "http" and o["state"] == "down", o
assert o["reason"] == "timeout after 0.5 s", o
assert 0.5 <= o["latency"] < 3, o
PY
