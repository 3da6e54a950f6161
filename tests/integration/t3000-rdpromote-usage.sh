#!/bin/sh
# rdpromote's command line: usage, what each mode must and must not be
# given, and that misuse is refused (64) before the store is opened.
. "$RD_SRCDIR/tests/integration/lib.sh"

expect_exit 64 rdpromote
expect_file err "rdpromote: missing store
usage: rdpromote [options] store target"
expect_exit 0 rdpromote --help
expect_file out "usage: rdpromote [-jnqv] (--primary PROBE | --force) (--fence CMD | --no-fence)
              [--validate CMD] [--start CMD --stop CMD] [--check PROBE]
              [-s N] [--allow-partial] [--failed-at TIME]
              [--heartbeat PATH] [--check-timeout SECONDS]
              [--hook-timeout SECONDS] [--probe-timeout SECONDS]
              [--verify full|quick] [--etcd URLS --cluster NAME]
              [--etcd-timeout SECONDS] [-w SECONDS] [--syslog]
              store target
       rdpromote --switchover [-jnqv] --primary-stop CMD --final-snapshot CMD
              (--fence CMD | --no-fence) [--validate CMD]
              [--start CMD --stop CMD] [--check PROBE] [--allow-partial]
              [--check-timeout SECONDS] [--hook-timeout SECONDS]
              [--probe-timeout SECONDS] [--verify full|quick]
              [--etcd URLS --cluster NAME] [--etcd-timeout SECONDS]
              [-w SECONDS] [--syslog] store target
       rdpromote --drill [-jnqv] [--validate CMD] [--start CMD --stop CMD]
              [--check PROBE] [-s N] [--allow-partial]
              [--heartbeat PATH] [--check-timeout SECONDS]
              [--hook-timeout SECONDS] [--probe-timeout SECONDS]
              [--verify full|quick] [-w SECONDS] [--syslog] store scratch
       rdpromote --resume [-jnqv] [-s N] [--allow-partial] [-w SECONDS] [--syslog]
              store
       rdpromote --abort [-jqv] [-w SECONDS] [--syslog] store [target]
       rdpromote history [-jqv] [--syslog] store
       rdpromote remove-tree [-qv] [-w SECONDS] [--syslog] store path
       rdpromote --help | --version"
cp out usage
expect_exit 0 rdpromote history --help
expect_file out "usage: rdpromote history [-jqv] [--syslog] store"
expect_exit 0 rdpromote --version
grep -q '^rdpromote (redund) [0-9]' out || fail "version: $(cat out)"
expect_exit 64 rdpromote --bogus s t
expect_exit 64 rdpromote --verify sometimes --force --no-fence s t
expect_file err "rdpromote: invalid --verify 'sometimes' (expected full or quick)
usage: rdpromote [options] store target"
expect_exit 64 rdpromote --check-timeout forever --force --no-fence s t

# what goes together (nothing is opened: the store does not exist)
misuse() {
	msg=$1
	shift
	expect_exit 64 rdpromote "$@"
	expect_file err "rdpromote: $msg
usage: rdpromote [options] store target"
	expect_empty out
}
misuse "a promotion needs --fence CMD to cut the old primary off, or --no-fence to promote without one" \
    --force s t
misuse "a promotion needs --fence CMD to cut the old primary off, or --no-fence to promote without one" \
    --primary tcp://127.0.0.1:1 s t
misuse "a promotion needs --fence CMD to cut the old primary off, or --no-fence to promote without one" \
    --dry-run --primary tcp://127.0.0.1:1 s t
misuse "--fence and --no-fence do not go together" \
    --force --fence true --no-fence s t
misuse "a promotion needs --primary PROBE to check that the primary is down, or --force to skip that check" \
    --fence true s t
misuse "a drill does not check the primary, fence or force: drop --primary, --fence, --no-fence and --force" \
    --drill --fence true s t
misuse "a drill does not check the primary, fence or force: drop --primary, --fence, --no-fence and --force" \
    --drill --no-fence s t
misuse "a drill has no failure time: drop --failed-at" \
    --drill --failed-at @1 s t
misuse "--start needs --stop CMD to stop what it started (on --abort, a fall-back and after a drill); give --stop true if it leaves nothing running" \
    --drill --start true s t
misuse "--stop without --start: there is nothing to stop" \
    --force --no-fence --stop true s t
misuse "--abort takes only the store and the target (and --json, --wait, --syslog)" \
    --abort --start true s t
misuse "--abort takes only the store and the target (and --json, --wait, --syslog)" \
    --abort --dry-run s
misuse "--resume takes its options from the journal: give only --snapshot (to fall back) and --allow-partial" \
    --resume --fence true s
misuse "--resume takes its options from the journal: give only --snapshot (to fall back) and --allow-partial" \
    --resume --drill s
misuse "invalid snapshot id 'x' (expected 1 to 9223372036854775807)" \
    --snapshot x --force --no-fence s t
misuse "invalid snapshot id '0' (expected 1 to 9223372036854775807)" \
    --snapshot 0 --force --no-fence s t
misuse "invalid time 'yesterday' (expected YYYY-MM-DDTHH:MM:SSZ, a local YYYY-MM-DD HH:MM:SS, or @UNIXTIME)" \
    --failed-at yesterday --force --no-fence s t
misuse "invalid time '2026-13-01T00:00:00Z' (expected YYYY-MM-DDTHH:MM:SSZ, a local YYYY-MM-DD HH:MM:SS, or @UNIXTIME)" \
    --failed-at 2026-13-01T00:00:00Z --force --no-fence s t
misuse "--failed-at is in the future" \
    --failed-at 2999-01-01T00:00:00Z --force --no-fence s t
misuse "invalid --heartbeat '../hb' (expected the path of a file inside the snapshot)" \
    --heartbeat ../hb --force --no-fence s t
misuse "invalid --heartbeat '/hb' (expected the path of a file inside the snapshot)" \
    --heartbeat /hb --force --no-fence s t
misuse "invalid probe 'bogus://x': unknown kind (expected tcp://, http://, exec:, file:, snapshot:, lag:, drill: or etcd:)" \
    --primary bogus://x --no-fence s t

# operands
expect_exit 64 rdpromote --force --no-fence s
expect_file err "rdpromote: missing target
usage: rdpromote [options] store target"
expect_exit 64 rdpromote --resume s t
expect_file err "rdpromote: unexpected operand 't'
usage: rdpromote [options] store target"
expect_exit 64 rdpromote --abort
expect_file err "rdpromote: missing store
usage: rdpromote [options] store target"
expect_exit 64 rdpromote --abort s t extra
expect_exit 64 rdpromote history
expect_file err "rdpromote: missing store
usage: rdpromote history [options] store"
expect_exit 64 rdpromote history --force s
expect_file err "rdpromote: history does not take --force
usage: rdpromote history [options] store"
expect_exit 64 rdpromote remove-tree s
expect_exit 64 rdpromote remove-tree --json s t

# a valid command line on a store that does not exist
expect_exit 66 rdpromote --force --no-fence nostore t
expect_file err "rdpromote: cannot open store 'nostore': No such file or directory"
expect_exit 66 rdpromote --resume nostore
expect_exit 66 rdpromote history nostore
