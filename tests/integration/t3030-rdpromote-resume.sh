#!/bin/sh
# kill -9 in a step, then rerun: the promotion continues from the journal
# and ends promoted and verified; or --abort restores the state before.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

setup_standby
epoch() {
	sqlite3 s/catalog.db "select value from meta where key = 'epoch'"
}

# run "rdpromote ARGS" in the background and kill -9 it once FILE exists
kill_at() {
	file=$1
	shift
	rm -f "$file"
	rdpromote "$@" >killed.out 2>killed.err &
	pid=$!
	n=0
	until [ -e "$file" ]; do
		n=$((n + 1))
		[ $n -lt 600 ] || fail "never reached $file: $(cat killed.out killed.err)"
		sleep 0.05
	done
	kill -9 $pid
	wait $pid 2>/dev/null || true
}

# killed in the fence step: rerun continues (the fence runs again)
kill_at "$TMP/in-fence" --fence "touch $TMP/in-fence; sleep 30" s target
[ "$(sqlite3 s/catalog.db 'select state || ":" || step from promotions')" = "running:fence" ] ||
    fail "journal after kill in fence"
expect_exit 1 rdpromote s other
grep -q "^REFUSED: promote 1 into '$TMP/target' is unfinished: rerun that command to finish it, or rdpromote --abort it$" out ||
    fail "$(cat out)"
expect_exit 0 rdpromote --abort s target
expect_file out "ABORTED: aborted before the switch; '$TMP/target' was not touched"
[ "$(epoch)" = 1 ] || fail "epoch after abort"
[ -d rep ] || fail "replica gone after abort"

# killed in the start step (after the switch): rerun finishes it
kill_at "$TMP/in-start" --fence true --start "touch $TMP/in-start; sleep 30" s target
[ "$(sqlite3 s/catalog.db "select state || ':' || step from promotions where id = 2")" = "running:start" ] ||
    fail "journal after kill in start"
expect_exit 1 rdpromote --abort s target
grep -q "^NOT ABORTED: promotion 2 has switched '$TMP/target' already" out || fail "$(cat out)"
expect_exit 0 rdpromote --fence true --start true s target
grep -q "^  fence  *done  *done by an earlier run$" out || fail "$(cat out)"
grep -q "^  start        ok  " out || fail "$(cat out)"
tree_sig target >got
cmp -s sig2 got || fail "target differs after resume"
[ "$(epoch)" = 2 ] || fail "epoch raised twice or not at all: $(epoch)"

# killed in the check step: the rerun checks again and records
kill_at "$TMP/in-check" --drill --probe-timeout 60 \
    --check "exec:touch $TMP/in-check; sleep 30" s drilled
[ "$(sqlite3 s/catalog.db "select state || ':' || step from promotions where id = 3")" = "running:check" ] ||
    fail "journal after kill in check"
expect_exit 0 rdpromote --drill --check 'exec:true' s drilled
grep -q "^  switch  *done  *done by an earlier run$" out || fail "$(cat out)"
grep -q "^  check        ok  " out || fail "$(cat out)"
[ ! -e drilled ] || fail "resumed drill left its tree"

# a drill killed in materialize on a bigger tree, then aborted: no trace
mkdir -p big
i=0
while [ $i -lt 40 ]; do
	head -c 1000000 /dev/urandom >big/f$i
	i=$((i + 1))
done
rdsnap create s big >/dev/null
rdpromote --drill s scratch >drill.out 2>drill.err &
pid=$!
n=0
until [ -d .scratch.rdpromote ]; do
	n=$((n + 1))
	[ $n -lt 600 ] || fail "drill never materialized"
	sleep 0.01
done
kill -9 $pid
wait $pid 2>/dev/null || true
expect_exit 0 rdpromote --abort s scratch
[ ! -e .scratch.rdpromote ] && [ ! -e scratch ] || fail "drill staging left"
expect_exit 0 rdpromote --drill s scratch
[ ! -e scratch ] && [ ! -e .scratch.rdpromote ] || fail "drill left its tree"
expect_exit 0 rdsnap verify --read-data s
