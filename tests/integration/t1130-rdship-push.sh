#!/bin/sh
# push through a local "rdship serve": only what is missing is sent; a
# push killed with -9 mid-stream resumes without resending what arrived.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir -p src/a src/b
i=0
while [ $i -lt 12 ]; do
	head -c 6000000 /dev/urandom >src/a/f$i
	i=$((i + 1))
done
seq 1 100000 >src/b/text
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
expect_exit 0 rdsnap init --standby --no-key s
total=$(sqlite3 p/catalog.db "select sum(len) from contents")

# a transport that runs the remote command locally, at about 20 MB/s
cat >slowrsh <<'SH'
#!/bin/sh
# usage: slowrsh HOST COMMAND
python3 -c '
import os, sys, time
rate = 20 * 1024 * 1024
start = time.time(); sent = 0
while True:
    b = os.read(0, 65536)
    if not b:
        break
    os.write(1, b)
    sent += len(b)
    ahead = sent / rate - (time.time() - start)
    if ahead > 0:
        time.sleep(ahead)
' | sh -c "$2"
SH
chmod +x slowrsh

# kill the sender once the standby has committed a first batch
rdship push --rsh ./slowrsh --remote-rdship "$RD_BUILDDIR/rdship" p \
    "localhost:$TMP/s" >push1.out 2>push1.err &
pid=$!
n=0
while [ "$(ls s/packs | wc -l)" -lt 1 ]; do
	n=$((n + 1))
	[ $n -lt 600 ] || fail "no batch committed"
	sleep 0.05
done
kill -9 $pid
wait $pid 2>/dev/null || true
# the receiving side notices and exits; its store verifies, no snapshot
i=0
while pgrep -f "rdship' serve '$TMP/s'" >/dev/null; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "serve did not exit"
	sleep 0.05
done
expect_exit 0 rdsnap verify s
expect_exit 0 rdsnap list s
expect_file out "no snapshots"
have=$(sqlite3 s/catalog.db "select count(*) from contents")
[ "$have" -ge 1 ] || fail "nothing survived the kill"

expect_exit 0 rdship push --json p s
python3 - out "$total" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
total = int(sys.argv[2])
assert d["newest"] == 1 and d["snapshots"] == 1, d
assert d["skipped"] >= 1, d
assert d["object_bytes"] + d["skipped_bytes"] == total, (d, total)
assert d["wire_bytes"] < total, (d, total)
PY
expect_exit 0 rdsnap verify --read-data s
expect_exit 0 rdsnap restore s r
tree_sig src >a
tree_sig r >b
cmp -s a b || fail "standby restore differs"

# an unchanged push sends almost nothing; a change sends only itself
expect_exit 0 rdship push p s
expect_file out "'s' is up to date at snapshot 1"
printf 'change' | dd of=src/a/f3 bs=1 seek=100 conv=notrunc 2>/dev/null
expect_exit 0 rdsnap create p src
expect_exit 0 rdship push --json --apply rep p s
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["snapshots"] == 1 and d["newest"] == 2, d
assert d["wire_bytes"] < 200000, d
assert d["replica_version"] == 2, d
PY
tree_sig src >a
tree_sig rep >b
cmp -s a b || fail "replica differs"

# a busy standby, an unreachable one
flock s/lock sh -c 'touch held; while [ ! -e release ]; do sleep 0.05; done' &
holder=$!
while [ ! -e held ]; do sleep 0.05; done
expect_exit 75 rdship push p s
expect_file err "rdship: store 's' is busy: another writer holds its lock
rdship: the receiving side exited with status 75"
touch release
wait $holder
expect_exit 69 rdship push --rsh false p host:/x
expect_file err "rdship: the receiving side did not start (false exited with status 1)"
