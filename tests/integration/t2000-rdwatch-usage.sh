#!/bin/sh
# rdwatch's command line: help, version, misuse, bad probe specs and
# options (exit 64, nothing started).
. "$RD_SRCDIR/tests/integration/lib.sh"

usage='usage: rdwatch [-hjqvV] [-m file] [-t seconds] [--record store] [--syslog] probe ...
       rdwatch -i seconds [-jqv] [-c count] [-f count] [-m file] [-o file]
               [-r count] [-t seconds] [--on-change command]
               [--on-down command] [--on-up command]
               [--record store] [--syslog] probe ...
       rdwatch report [-jqv] [--now time] [--since duration] [--syslog] store'
short='usage: rdwatch [options] probe ...'

expect_exit 64 rdwatch
expect_empty out
expect_file err "rdwatch: missing probe
$short"

expect_exit 0 rdwatch -h
expect_file out "$usage"
expect_empty err
expect_exit 0 rdwatch --help tcp://db1:1
expect_file out "$usage"

expect_exit 0 rdwatch --version
grep -q '^rdwatch (redund) [0-9]' out || fail "version line: $(cat out)"
expect_exit 0 rdwatch -V

expect_exit 64 rdwatch --bogus tcp://db1:1
expect_file err "rdwatch: unrecognized option '--bogus'
$short"
expect_exit 64 rdwatch -t
expect_exit 64 rdwatch -i 1

# every spec is checked before any probe runs
bad() {
	expect_exit 64 rdwatch 'exec:touch started' "$1"
	expect_file err "rdwatch: invalid probe '$1': $2
$short"
	expect_empty out
	[ ! -e started ] || fail "a probe ran before '$1' was refused"
}
bad db1:5432 'unknown kind (expected tcp://, http://, exec:, file:, snapshot:, lag:, drill: or etcd:)'
bad https://db1/health 'https is not supported (use exec:curl -fsS https://db1/health)'
bad tcp://db1 'missing port'
bad tcp://db1:70000 "invalid port '70000' (expected 1 to 65535)"
bad tcp://::1:80 'an IPv6 address needs brackets, as in [::1]:80'
bad 'tcp://[::1:80' "unterminated '['"
bad 'http://db1/?expect=99' "invalid expect '99' (expected 100 to 599)"
bad 'http://db1/?contains=' 'empty contains'
bad 'exec:' 'missing command'
bad 'file:/x?max-age=soon' "invalid max-age 'soon' (expected seconds above 0, or a number with s, m, h, d or w)"
bad 'file:/x?age=1' "unknown option 'age' (expected max-age)"
bad 'snapshot:' 'missing store'
bad 'snapshot:/backup/app?max-age=1y' "invalid max-age '1y' (expected seconds above 0, or a number with s, m, h, d or w)"
bad 'lag:/srv/standby/app?max=-1' "invalid max '-1' (expected a number of snapshots, 0 or more)"
bad 'lag:/srv/standby/app?age=1h' "unknown option 'age' (expected max, max-age or rpo)"
bad 'lag:/srv/standby/app?rpo=0' "invalid rpo '0' (expected seconds above 0, or a number with s, m, h, d or w)"
bad 'drill:/srv/standby/app?max=1' "unknown option 'max' (expected max-age)"
bad '' 'empty'

expect_exit 64 rdwatch 'exec:touch started' tcp://db1:1 'exec:touch started'
expect_file err "rdwatch: duplicate probe 'exec:touch started'
$short"
[ ! -e started ] || fail "a probe ran despite a duplicate"

# options
expect_exit 64 rdwatch -t 0 tcp://db1:1
expect_file err "rdwatch: invalid timeout '0' (expected more than 0 and at most 1000000 seconds)
$short"
expect_exit 64 rdwatch --timeout soon tcp://db1:1
expect_file err "rdwatch: invalid timeout 'soon' (expected seconds, or a number with s, m, h, d or w)
$short"
expect_exit 64 rdwatch -i 0 tcp://db1:1
expect_file err "rdwatch: invalid interval '0' (expected more than 0 and at most 1000000 seconds)
$short"
expect_exit 64 rdwatch -i 1 --fall 0 tcp://db1:1
expect_file err "rdwatch: invalid fall count '0' (expected 1 to 1000000)
$short"
expect_exit 64 rdwatch -i 1 --rise x tcp://db1:1
expect_file err "rdwatch: invalid rise count 'x' (expected 1 to 1000000)
$short"
expect_exit 64 rdwatch -i 1 --count 0 tcp://db1:1
expect_file err "rdwatch: invalid round count '0' (expected 1 to 9223372036854775807)
$short"
for opt in --fall --rise --count; do
	expect_exit 64 rdwatch "$opt" 2 'exec:touch started'
	expect_file err "rdwatch: $opt needs --interval
$short"
done
for opt in --on-up --on-down --on-change --output; do
	expect_exit 64 rdwatch "$opt" x 'exec:touch started'
	expect_file err "rdwatch: $opt needs --interval
$short"
done
[ ! -e started ] || fail "a probe ran despite a bad option"

# output paths are checked before the first round
expect_exit 66 rdwatch -i 1 -c 1 -m nodir/rdwatch.prom 'exec:touch started'
expect_file err "rdwatch: cannot open directory 'nodir' for the metrics file: No such file or directory"
expect_exit 64 rdwatch -i 1 -c 1 -m dir/ 'exec:touch started'
expect_file err "rdwatch: invalid metrics file 'dir/': a directory
$short"
# ... in a one-shot round too (--metrics needs no --interval)
expect_exit 66 rdwatch -m nodir/rdwatch.prom 'exec:touch started'
expect_file err "rdwatch: cannot open directory 'nodir' for the metrics file: No such file or directory"
expect_exit 64 rdwatch -m dir/ 'exec:touch started'
expect_file err "rdwatch: invalid metrics file 'dir/': a directory
$short"
expect_exit 66 rdwatch -i 1 -c 1 -o nodir/log 'exec:touch started'
expect_file err "rdwatch: cannot open 'nodir/log': No such file or directory"
[ ! -e started ] || fail "a probe ran despite a bad output path"
