#!/bin/sh
# rdship's command line, and keys: made 0600, never overwritten, refused
# when others can read them.
. "$RD_SRCDIR/tests/integration/lib.sh"

expect_exit 64 rdship
expect_file err "rdship: missing command
usage: rdship {push|send|receive|serve|follow|rejoin|keygen|status} [options] store ... (rdship --help)"
expect_exit 0 rdship --help
head -n1 out >first
expect_file first "usage: rdship push [-jqv] [-k FILE] [--rsh CMD] [--remote-rdship PATH]"
expect_exit 0 rdship push --help
expect_file out "usage: rdship push [-jqv] [-k FILE] [--rsh CMD] [--remote-rdship PATH]
              [--apply DIR] [--adopt] [--etcd URLS --cluster NAME]
              [--metrics FILE] [--syslog] store [host:]path ..."
expect_exit 0 rdship --version
grep -q '^rdship (redund) [0-9]' out || fail "version: $(cat out)"
expect_exit 64 rdship fly store
head -n1 err >first
expect_file first "rdship: unknown command 'fly'"
expect_exit 64 rdship send --apply x store
expect_file err "rdship: send does not take --apply
usage: rdship send [options] store"
expect_exit 64 rdship send --since -1 store
expect_file err "rdship: invalid snapshot id '-1' (expected 0 to 9223372036854775807)
usage: rdship send [options] store"
expect_exit 64 rdship status
expect_file err "rdship: missing store
usage: rdship status [options] store"
expect_exit 64 rdship rejoin store
expect_file err "rdship: rejoin needs the new primary: --origin UUID or --etcd URLS --cluster NAME
usage: rdship rejoin [options] store"
expect_exit 64 rdship rejoin --origin 0000 --etcd http://127.0.0.1:1 --cluster c store
expect_file err "rdship: rejoin needs the new primary: --origin UUID or --etcd URLS --cluster NAME
usage: rdship rejoin [options] store"
expect_exit 64 rdship rejoin --origin 0000 store
expect_file err "rdship: invalid store id '0000' for --origin
usage: rdship rejoin [options] store"
expect_exit 64 rdship rejoin --apply d --origin 0000 store
expect_file err "rdship: rejoin does not take --apply
usage: rdship rejoin [options] store"
expect_exit 0 rdship rejoin --help
expect_file out "usage: rdship rejoin [-qv] [-w SECONDS] [--origin UUID | --etcd URLS --cluster NAME]
              [--syslog] store"
expect_exit 64 rdship push store
expect_file err "rdship: missing [host:]path
usage: rdship push [options] store [host:]path ..."

expect_exit 0 rdship keygen k1
expect_file out "wrote a new key to 'k1' (mode 0600): copy it to the other host over a safe channel"
[ "$(stat -c %a k1)" = 600 ] || fail "key mode $(stat -c %a k1)"
grep -Eq '^[0-9a-f]{64}$' k1 || fail "key format: $(cat k1)"
cp k1 saved
expect_exit 73 rdship keygen k1
expect_file err "rdship: key file 'k1' exists; not overwriting it"
cmp -s k1 saved || fail "keygen overwrote a key"

mkdir src && printf 'x' >src/x
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
chmod 644 k1
expect_exit 77 rdship send --key k1 p
expect_file err "rdship: key file 'k1' is accessible to others (mode 644): chmod 600 it"
printf 'not a key\n' >bad
chmod 600 bad
expect_exit 77 rdship send --key bad p
expect_file err "rdship: key file 'bad' does not hold a key (64 hex digits; make one with rdship keygen)"
expect_exit 66 rdship send --key nokey p
expect_file err "rdship: cannot open key file 'nokey': No such file or directory"
expect_exit 66 rdship send nostore
expect_file err "rdship: cannot open store 'nostore': No such file or directory"
