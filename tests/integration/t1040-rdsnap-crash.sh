#!/bin/sh
# kill -9 at random points of "rdsnap create": the store always verifies,
# no partial snapshot is ever listed, and the next create succeeds and
# restores exactly.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir -p src
i=0
while [ $i -lt 40 ]; do
	mkdir -p src/d$i
	seq $i 20000 >src/d$i/text
	head -c 200000 /dev/urandom >src/d$i/rand
	i=$((i + 1))
done
head -c 8000000 /dev/urandom >src/big1
seq 1 2000000 >src/big2
expect_exit 0 rdsnap init store

delays="0.01 0.03 0.05 0.08 0.12 0.2 0.3"
n=0
for d in $delays; do
	# change something so that every run has work to do
	seq $n 1000 >src/d$n/text
	head -c 300000 /dev/urandom >src/d$n/rand
	rdsnap create --threads 2 store src >/dev/null 2>&1 &
	pid=$!
	sleep "$d"
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	expect_exit 0 rdsnap verify store
	expect_exit 0 rdsnap list --json store
	python3 - out <<'PY'
import json, sys
for s in json.load(open(sys.argv[1])):
    assert s["finished"] >= s["started"], s
PY
	n=$((n + 1))
done
pending=$(sqlite3 store/catalog.db "select count(*) from snapshots where state = 'pending'")
[ "$pending" -le 1 ] || fail "$pending pending snapshots"

expect_exit 0 rdsnap create store src
[ -z "$(ls store/tmp)" ] || fail "tmp not cleaned: $(ls store/tmp)"
pending=$(sqlite3 store/catalog.db "select count(*) from snapshots where state = 'pending'")
[ "$pending" = 0 ] || fail "pending snapshot left after a clean run"
expect_exit 0 rdsnap verify --read-data store
grep -q 'unreferenced' out && fail "orphan packs left after a clean run: $(cat out)"
expect_exit 0 rdsnap restore store rst
diff -r --no-dereference src rst >/dev/null || fail "restore after crashes differs"
