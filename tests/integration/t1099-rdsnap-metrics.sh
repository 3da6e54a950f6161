#!/bin/sh
# rdsnap create --metrics and rdship push --metrics: a Prometheus textfile
# written when the run ends, on success and on failure, that promtool
# accepts, with the snapshot id, counts and status of the run.
. "$RD_SRCDIR/tests/integration/lib.sh"

# samples FILE: "name value" lines without the store label, sorted
samples() {
	grep -v '^#' "$1" | sed 's/^\([a-z_]*\){store="[^"]*"} /\1 /' | sort
}
check() {
	promtool check metrics <"$1" >promtool.out 2>&1 ||
	    fail "promtool: $(cat promtool.out) in $(cat "$1")"
	! grep -Eq 'NaN|Inf' "$1" || fail "NaN: $(cat "$1")"
}
# the value of metric $2 in file $1
value() {
	samples "$1" | sed -n "s/^$2 //p"
}

mkdir src prom
printf 'abc' >src/abc
mkdir src/sub
printf 'defgh' >src/sub/d
expect_exit 0 rdsnap init S

# a bad metrics path is a usage error before anything runs
expect_exit 64 rdsnap create --metrics prom/ S src
expect_file err "rdsnap: invalid metrics file 'prom/': a directory
usage: rdsnap create [options] store source"
expect_exit 66 rdsnap create --metrics nodir/m.prom S src
expect_file err "rdsnap: cannot open directory 'nodir' for the metrics file: No such file or directory"
expect_exit 0 rdsnap list --json S
expect_file out '[]'

expect_exit 0 rdsnap create --metrics prom/create.prom --quiet S src
check prom/create.prom
expect_exit 0 rdsnap list --json S
files=$(sed 's/.*"files":\([0-9]*\).*/\1/' out)
finished=$(sed 's/.*"finished":\([0-9]*\).*/\1/' out)
[ "$files" = 4 ] || fail "files $files"
samples prom/create.prom | grep -v -e duration -e end_timestamp >got
expect_file got "rdsnap_create_bytes 8
rdsnap_create_exit_status 0
rdsnap_create_files $files
rdsnap_create_last_success_timestamp_seconds $finished
rdsnap_create_snapshot_id 1
rdsnap_create_success 1"
grep -q '^rdsnap_create_snapshot_id{store="S"} 1$' prom/create.prom ||
    fail "label: $(cat prom/create.prom)"
end=$(value prom/create.prom rdsnap_create_end_timestamp_seconds)
awk -v e="$end" -v f="$finished" 'BEGIN { exit !(e >= f && e < f + 600) }' ||
    fail "end $end, finished $finished"
(cd prom && ls -A) >listing
expect_file listing create.prom

# a failed run: its status, no snapshot, the last success still known
expect_exit 66 rdsnap create --metrics prom/create.prom S nosrc
expect_file err "rdsnap: cannot open source 'nosrc': No such file or directory"
check prom/create.prom
samples prom/create.prom | grep -v -e duration -e end_timestamp >got
expect_file got "rdsnap_create_exit_status 66
rdsnap_create_last_success_timestamp_seconds $finished
rdsnap_create_success 0"
# a failed pre hook; a store that is not one
expect_exit 1 rdsnap create --metrics prom/create.prom --pre false S src
check prom/create.prom
[ "$(value prom/create.prom rdsnap_create_exit_status)" = 1 ] ||
    fail "status: $(cat prom/create.prom)"
expect_exit 66 rdsnap create --metrics prom/create.prom nostore src
check prom/create.prom
samples prom/create.prom | grep -v -e duration -e end_timestamp >got
expect_file got "rdsnap_create_exit_status 66
rdsnap_create_success 0"

# done with omissions (exit 3) is a success that made a snapshot
if [ "$(id -u)" = 0 ]; then
	expect_exit 0 rdsnap create --metrics prom/create.prom --quiet S src
else
	chmod 000 src/sub
	expect_exit 3 rdsnap create --metrics prom/create.prom --quiet S src
	chmod 755 src/sub
fi
check prom/create.prom
[ "$(value prom/create.prom rdsnap_create_success)" = 1 ] ||
    fail "success: $(cat prom/create.prom)"
[ "$(value prom/create.prom rdsnap_create_snapshot_id)" = 2 ] ||
    fail "id: $(cat prom/create.prom)"

# rdship push
expect_exit 0 rdsnap init --standby --no-key T
expect_exit 0 rdship push --metrics prom/push.prom --json S T
check prom/push.prom
objects=$(sed 's/.*"objects":\([0-9]*\).*/\1/' out)
wire=$(sed 's/.*"wire_bytes":\([0-9]*\).*/\1/' out)
samples prom/push.prom | grep -v -e duration -e timestamp >got
expect_file got "rdship_push_bytes $wire
rdship_push_exit_status 0
rdship_push_objects $objects
rdship_push_snapshot_id 2
rdship_push_success 1"
pushed=$(value prom/push.prom rdship_push_last_success_timestamp_seconds)
[ -n "$pushed" ] || fail "no last success: $(cat prom/push.prom)"
expect_exit 66 rdship push --metrics prom/push.prom S nostandby
check prom/push.prom
samples prom/push.prom | grep -v -e duration -e end_timestamp >got
expect_file got "rdship_push_exit_status 66
rdship_push_last_success_timestamp_seconds $pushed
rdship_push_success 0"
expect_exit 64 rdship push --metrics prom/ S T
expect_file err "rdship: invalid metrics file 'prom/': a directory
usage: rdship push [options] store [host:]path ..."
(cd prom && ls -A) >listing
expect_file listing 'create.prom
push.prom'
