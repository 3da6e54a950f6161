#!/bin/sh
# One writer at a time: a second writer exits 75 at once, or waits with
# --wait; readers are never blocked.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir src && printf 'x' >src/x
expect_exit 0 rdsnap init store
expect_exit 0 rdsnap create store src

# hold the store's lock as a running rdsnap would
flock store/lock sh -c 'touch held; while [ ! -e release ]; do sleep 0.05; done' &
holder=$!
while [ ! -e held ]; do sleep 0.05; done

expect_exit 75 rdsnap create store src
expect_file err "rdsnap: store 'store' is busy: another writer holds its lock"
expect_exit 75 rdsnap create --wait 0.3 store src
expect_file err "rdsnap: store 'store' is busy: another writer holds its lock"
# readers do not wait for the writer
expect_exit 0 rdsnap list store
expect_exit 0 rdsnap verify store
expect_exit 0 rdsnap restore store rst

# a waiting writer proceeds when the lock is released
rdsnap create --wait 60 store src >waited.out 2>waited.err &
waiter=$!
touch release
wait $holder
set +e
wait $waiter
rc=$?
set -e
[ "$rc" -eq 0 ] || fail "waiting create exited $rc: $(cat waited.err)"
grep -q '^snapshot 2:' waited.out || fail "waiting create: $(cat waited.out)"

# two creates at once: while the first is inside the store (its pre hook
# waits for a file), the second says busy; the first then completes
printf 'y' >src/y
rdsnap create --pre "touch '$TMP/inside'; while [ ! -e '$TMP/go' ]; do sleep 0.05; done" \
    store src >a.out 2>a.err &
pa=$!
while [ ! -e inside ]; do sleep 0.05; done
expect_exit 75 rdsnap create store src
expect_file err "rdsnap: store 'store' is busy: another writer holds its lock"
touch go
set +e
wait $pa
ra=$?
set -e
[ "$ra" -eq 0 ] || fail "the first create exited $ra: $(cat a.err)"
grep -q '^snapshot 3:' a.out || fail "first create: $(cat a.out)"
[ "$(sqlite3 store/catalog.db "select count(*) from snapshots")" = 3 ] ||
	fail "the busy create left a snapshot row"
expect_exit 0 rdsnap verify --read-data store
