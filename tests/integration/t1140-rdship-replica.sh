#!/bin/sh
# A replica update killed with -9 is finished by the next receive with
# --apply; the journal says what state the replica is in meanwhile.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir src
i=0
while [ $i -lt 300 ]; do
	mkdir -p src/d$((i % 10))
	seq $i 3000 >src/d$((i % 10))/f$i
	i=$((i + 1))
done
head -c 3000000 /dev/urandom >src/big
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
expect_exit 0 rdsnap init --standby --no-key s
rdship send p >b1.rdb 2>/dev/null
expect_exit 0 rdship receive --apply rep s <b1.rdb

# a second snapshot that touches every file
i=0
while [ $i -lt 300 ]; do
	seq $i 3100 >src/d$((i % 10))/f$i
	i=$((i + 1))
done
rm -r src/d9
printf 'XXXX' | dd of=src/big bs=1 seek=2000000 conv=notrunc 2>/dev/null
expect_exit 0 rdsnap create p src
rdship send --since 1 p >b2.rdb 2>/dev/null
expect_exit 0 rdship receive s <b2.rdb

# kill the apply as soon as the journal says it started
killed=0
for attempt in 1 2 3 4 5; do
	rdship receive --apply rep s <b2.rdb >/dev/null 2>&1 &
	pid=$!
	n=0
	while :; do
		st=$(sqlite3 s/catalog.db "select state from replicas" 2>/dev/null || true)
		[ "$st" = applying ] && break
		kill -0 $pid 2>/dev/null || break
		n=$((n + 1))
		[ $n -lt 2000 ] || break
		sleep 0.002
	done
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	st=$(sqlite3 s/catalog.db "select state from replicas")
	if [ "$st" = applying ]; then
		killed=1
		break
	fi
	# it finished before the kill: start over from version 1
	sqlite3 s/catalog.db "delete from replicas"
	rm -rf rep
	rdship receive --apply rep s <b2.rdb >/dev/null 2>&1 || true
	sqlite3 s/catalog.db "update replicas set version = 1"
	rm -rf rep
	rdsnap restore --snapshot 1 s rep >/dev/null
done
[ "$killed" = 1 ] || fail "could not interrupt the apply"
expect_exit 0 rdship status s
grep -q "interrupted update: the next receive with --apply finishes it" out ||
    fail "status: $(cat out)"

expect_exit 0 rdship receive --apply rep s <b2.rdb
expect_file err "rdship: resuming an interrupted replica update"
grep -q "^replica 'rep' at snapshot 2" out || fail "$(cat out)"
tree_sig src >a
tree_sig rep >b
cmp -s a b || { diff a b >&2; fail "replica differs after resume"; }
[ -z "$(find rep -name '.rdship-*')" ] || fail "temp files left in the replica"
expect_exit 0 rdship status --json s
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["replicas"][0]["state"] == "clean" and d["replicas"][0]["version"] == 2, d
PY

# a replica directory this store does not know must be empty
mkdir other && printf 'x' >other/x
expect_exit 73 rdship receive --apply other s <b2.rdb
expect_file err "rdship: replica 'other' is not empty and this store has no record of it"
