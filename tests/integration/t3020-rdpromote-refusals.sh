#!/bin/sh
# What rdpromote refuses, with its exit code, and the target untouched.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

setup_standby
mkdir target
printf 'live\n' >target/data
tree_sig target >target.sig
epoch() {
	sqlite3 s/catalog.db "select value from meta where key = 'epoch'"
}
untouched() {
	tree_sig target >now.sig
	cmp -s target.sig now.sig || fail "target was touched ($1)"
	[ -z "$(ls -d .target.rdpromote target.pre-promote-* 2>/dev/null)" ] ||
	    fail "staging or aside left ($1)"
}

# the primary is still up
P=$(free_port)
mkdir www
start_http "$P" www web.pid
RD_ON_EXIT='kill $(cat web.pid)'
expect_exit 1 rdpromote --primary "tcp://127.0.0.1:$P" s target
grep -q "^REFUSED: the primary tcp://127.0.0.1:$P is up: refusing to promote (use --force if you are sure it is not serving)$" out ||
    fail "$(cat out)"
untouched "primary up"
[ "$(epoch)" = 1 ] || fail "epoch changed"
kill "$(cat web.pid)"

# the fence command fails: stop before anything changes
expect_exit 1 rdpromote --fence 'echo cannot reach the PDU >&2; exit 3' s target
grep -q "^REFUSED: fence command failed (exit 3): stopping before anything changed$" out ||
    fail "$(cat out)"
grep -q "^cannot reach the PDU$" err || fail "fence output not passed through"
untouched "fence failed"
[ "$(epoch)" = 1 ] || fail "epoch raised although the fence failed"

# a fence that hangs is killed at the hook timeout
expect_exit 1 rdpromote --hook-timeout 1 --fence 'sleep 30' s target
grep -q "^REFUSED: fence command failed (timed out after 1 s)" out || fail "$(cat out)"
untouched "fence timeout"

# a version that does not exist
expect_exit 66 rdpromote --version 9 s target
expect_file err "rdpromote: no snapshot 9 in 's'"
untouched "missing version"

# damaged content in the store, and no replica to fall back on
sqlite3 s/catalog.db "delete from replicas"
rm -rf rep
pack=$(sqlite3 s/catalog.db "select p.name from contents c join packs p on p.id = c.pack where c.size > 1000000 limit 1")
off=$(sqlite3 s/catalog.db "select c.off from contents c where c.size > 1000000 limit 1")
printf 'XXXX' | dd of="s/packs/$pack.pack" bs=1 seek=$((off + 96 + 5000)) conv=notrunc 2>/dev/null
expect_exit 1 rdpromote s target
grep -q "^REFUSED: snapshot 2 cannot be restored: content [0-9a-f]*: " out ||
    fail "$(cat out)"
untouched "damaged store"
# the store was fenced: the promotion stays open until fixed or aborted
[ "$(epoch)" = 2 ] || fail "epoch after a fenced, stopped promotion"
expect_exit 0 rdpromote --abort s target
[ "$(epoch)" = 1 ] || fail "epoch not restored by --abort"

# one promotion at a time
flock s/lock sh -c 'touch held; while [ ! -e release ]; do sleep 0.05; done' &
holder=$!
while [ ! -e held ]; do sleep 0.05; done
expect_exit 75 rdpromote s target
expect_file err "rdpromote: store 's' is busy: another writer holds its lock"
touch release
wait $holder
untouched "busy"
history=$(sqlite3 s/catalog.db "select group_concat(state || ':' || step, ' ') from promotions")
[ "$history" = "failed:preflight failed:fence failed:fence aborted:materialize" ] ||
    fail "journal: $history"
