#!/bin/sh
# A run that fills more than one pack a worker: a full pack is sealed in
# STORE/tmp while the run goes on, and every pack is published into
# STORE/packs (fsynced) only at the end, before the snapshot commits.  A
# run that fails or is killed after sealing packs leaves nothing in
# packs/, and the next writer removes what it left in tmp/.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir src
i=0
while [ $i -lt 20 ]; do
	head -c 8000000 /dev/urandom >src/f$i
	i=$((i + 1))
done
expect_exit 0 rdsnap init store

# the bracket hook fails after the copy: every pack is sealed by then
expect_exit 69 rdsnap create --threads 2 \
    --bracket 'echo ready; read -r l; exit 3' store src
expect_file err "rdsnap: bracket hook failed: exited 3 after 'done'"
[ -z "$(ls store/packs)" ] || fail "a failed run left packs: $(ls store/packs)"
[ -z "$(ls store/tmp)" ] ||
    fail "a failed run left its sealed packs: $(ls -l store/tmp)"

# killed with a sealed pack in tmp/ (three files: two open, one full)
rdsnap create --threads 2 store src >/dev/null 2>&1 &
pid=$!
n=0
while [ "$(ls store/tmp | wc -l)" -lt 3 ]; do
	n=$((n + 1))
	[ $n -lt 600 ] || fail "no pack was sealed in 60 s"
	kill -0 $pid 2>/dev/null || fail "the run ended before sealing a pack"
	sleep 0.1
done
kill -9 $pid
wait $pid 2>/dev/null || true
[ -z "$(ls store/packs)" ] || fail "a killed run left packs: $(ls store/packs)"
expect_exit 0 rdsnap verify store
grep -q 'unreferenced' out && fail "a killed run left packs: $(cat out)"

# a whole run: more than one pack a worker, all in packs/ and named
expect_exit 0 rdsnap create --threads 2 store src
[ -z "$(ls store/tmp)" ] || fail "tmp not cleaned: $(ls store/tmp)"
rows=$(sqlite3 store/catalog.db "select count(*) from packs")
[ "$rows" -ge 3 ] || fail "160 MB in $rows packs: none was sealed"
[ "$(ls store/packs | wc -l)" = "$rows" ] ||
    fail "packs/ holds $(ls store/packs | wc -l) packs, the catalog $rows"
sqlite3 store/catalog.db "select name || '.pack ' || size from packs order by name" >want
for f in store/packs/*.pack; do
	echo "$(basename "$f") $(stat -c %s "$f")"
done >got
cmp -s got want || fail "pack sizes differ from the catalog: $(diff got want)"
expect_exit 0 rdsnap verify --read-data store
grep -q 'unreferenced' out && fail "orphan packs after a whole run: $(cat out)"
expect_exit 0 rdsnap restore store rst
diff -r src rst >/dev/null || fail "the restore differs"
