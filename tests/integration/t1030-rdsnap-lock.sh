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

# two creates started together: exactly one runs, the other says busy
printf 'y' >src/y
rdsnap create store src >a.out 2>a.err &
pa=$!
rdsnap create store src >b.out 2>b.err &
pb=$!
set +e
wait $pa
ra=$?
wait $pb
rb=$?
set -e
case "$ra.$rb" in
0.0 | 0.75 | 75.0) ;;
*) fail "concurrent creates exited $ra and $rb" ;;
esac
expect_exit 0 rdsnap verify --read-data store
