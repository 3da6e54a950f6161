#!/bin/sh
# exec probes (exit status, signals, timeout killing the process group)
# and file probes (missing, fresh, too old).
. "$RD_SRCDIR/tests/integration/lib.sh"

mask() {
	sed 's/ [0-9][0-9]*\.[0-9] ms/ L ms/' out >masked
}

expect_exit 0 rdwatch 'exec:test -d /'
mask
expect_file masked "exec:test -d / up L ms"
expect_exit 1 rdwatch 'exec:exit 3'
mask
expect_file masked "exec:exit 3 down L ms exit 3"
expect_exit 1 rdwatch 'exec:kill -9 $$'
mask
expect_file masked 'exec:kill -9 $$ down L ms killed by signal 9'

# the command's output stays out of ours; its stderr is passed on
expect_exit 0 rdwatch 'exec:echo chatter; echo trouble >&2'
mask
expect_file masked 'exec:echo chatter; echo trouble >&2 up L ms'
expect_file err 'trouble'

# timeout: the command and what it started are killed together
expect_exit 1 rdwatch --timeout 1.5 'exec:sleep 60 & echo $! >child; wait'
mask
expect_file masked 'exec:sleep 60 & echo $! >child; wait down L ms timeout after 1.5 s'
child=$(cat child)
# gone, or a zombie where init does not reap orphans
if st=$(ps -o stat= -p "$child"); then
	case $st in
	Z*) ;;
	*) fail "process $child survived the timeout ($st)" ;;
	esac
fi

expect_exit 1 rdwatch --timeout 2 'exec:exit 0' 'exec:exit 1' \
    'exec:sleep 0.1'
mask
expect_file masked 'exec:exit 0 up L ms
exec:exit 1 down L ms exit 1
exec:sleep 0.1 up L ms'

# file
expect_exit 1 rdwatch file:heartbeat
mask
expect_file masked "file:heartbeat down L ms no such file"
: >heartbeat
expect_exit 0 rdwatch file:heartbeat 'file:heartbeat?max-age=30' \
    "file:$PWD/heartbeat?max-age=10m"
age() {
	python3 -c 'import os, sys, time
t = time.time() - float(sys.argv[1])
os.utime("heartbeat", (t, t))' "$1"
}
age 45
expect_exit 1 rdwatch 'file:heartbeat?max-age=30'
mask
grep -Eq '^file:heartbeat\?max-age=30 down L ms age 4[5-9] s > 30 s$' masked ||
    fail "old file: $(cat out)"
expect_exit 0 rdwatch 'file:heartbeat?max-age=1m'
age 864000
expect_exit 1 rdwatch 'file:heartbeat?max-age=7d'
grep -Eq ' down [0-9.]+ ms age 86400[0-9] s > 604800 s$' out ||
    fail "old file: $(cat out)"
