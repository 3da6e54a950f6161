#!/bin/sh
# The command-line convention every tool shares: options anywhere after
# the subcommand (GNU order), "--" ends them, short options mean the same
# in every tool, SUBCOMMAND --help prints that subcommand only, a usage
# error is a one-line reason and one usage line (64), and REDUND_STORE
# names the store of read-only commands only.
. "$RD_SRCDIR/tests/integration/lib.sh"
unset REDUND_STORE

mkdir src && printf 'abc' >src/abc && printf 'x' >src/-dash
touch -d @1577934245 src/abc src/-dash src
expect_exit 0 rdsnap init store
# options after the operands, short options
expect_exit 0 rdsnap create store src -q --label one
expect_empty out
expect_empty err
expect_exit 0 rdsnap list store --json
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert [s["label"] for s in d] == ["one"], d
PY
expect_exit 0 rdsnap ls store abc -s 1
expect_file out "f 644 3 2020-01-02T03:04:05.000000000Z ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad abc"
expect_exit 0 rdsnap ls -s1 store abc
expect_file out "f 644 3 2020-01-02T03:04:05.000000000Z ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad abc"
# "--" ends the options: a path that begins with a dash
expect_exit 0 rdsnap ls store -- -dash
expect_file out "f 644 1 2020-01-02T03:04:05.000000000Z 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 -dash"
expect_exit 64 rdsnap ls store -dash
expect_file err "rdsnap: invalid option -- 'd'
usage: rdsnap ls [options] store [path | pattern]"
# -j is --json, -n --dry-run, -w --wait in every tool that has them
expect_exit 0 rdsnap prune store -n --keep-last 1 -j
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["dry_run"] is True and d["removed"] == 0, d
PY
expect_exit 0 rdship status -j store
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["role"] == "primary", d
PY

# --quiet, --verbose and --syslog go with every subcommand
for cmd in list stats verify problems; do
	expect_exit 0 rdsnap "$cmd" store -q --syslog -v
done
expect_exit 0 rdship status store --quiet --verbose --syslog
expect_exit 0 rdpromote history store -q -v --syslog
expect_empty out

# SUBCOMMAND --help: that subcommand's usage only, on stdout
expect_exit 0 rdsnap stats --help
expect_file out "usage: rdsnap stats [-jqv] [--syslog] store"
expect_exit 0 rdship status -h
expect_file out "usage: rdship status [-jqv] [--syslog] store"
expect_exit 0 rdwatch report --help
expect_file out "usage: rdwatch report [-jqv] [--now time] [--since duration] [--syslog] store"
expect_exit 0 rdpromote remove-tree --help
expect_file out "usage: rdpromote remove-tree [-qv] [-w SECONDS] [--syslog] store path"

# REDUND_STORE: the store of a read-only command given none
REDUND_STORE=store
export REDUND_STORE
expect_exit 0 rdsnap ls -s 1
expect_file out "d 755 0 2020-01-02T03:04:05.000000000Z - .
f 644 1 2020-01-02T03:04:05.000000000Z 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 -dash
f 644 3 2020-01-02T03:04:05.000000000Z ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad abc"
expect_exit 0 rdsnap stats -j
expect_exit 0 rdsnap verify -q
expect_exit 0 rdship status
head -n1 out | cut -d' ' -f1-8 >first
expect_file first "store      store (primary,"
expect_exit 0 rdpromote history
expect_exit 0 rdwatch report
# the command line wins over the environment
expect_exit 66 rdsnap list nostore
expect_file err "rdsnap: cannot open store 'nostore': No such file or directory"
# writers always need it on the command line
for cmd in create prune; do
	expect_exit 64 rdsnap "$cmd"
	expect_file err "rdsnap: $cmd needs its store on the command line (REDUND_STORE is only for read-only commands)
usage: rdsnap $cmd [options] store$([ "$cmd" = create ] && echo ' source')"
done
expect_exit 64 rdsnap create src
expect_file err "rdsnap: create needs its store on the command line (REDUND_STORE is only for read-only commands)
usage: rdsnap create [options] store source"
expect_exit 64 rdship receive
expect_file err "rdship: receive needs its store on the command line (REDUND_STORE is only for read-only commands)
usage: rdship receive [options] store"
expect_exit 64 rdpromote --force --no-fence
expect_file err "rdpromote: rdpromote needs its store on the command line (REDUND_STORE is only for read-only commands)
usage: rdpromote [options] store target"
expect_exit 64 rdpromote --resume
expect_file err "rdpromote: rdpromote needs its store on the command line (REDUND_STORE is only for read-only commands)
usage: rdpromote [options] store target"
expect_exit 64 rdpromote remove-tree
expect_file err "rdpromote: remove-tree needs its store on the command line (REDUND_STORE is only for read-only commands)
usage: rdpromote remove-tree [options] store path"
unset REDUND_STORE
expect_exit 64 rdsnap stats
expect_file err "rdsnap: missing store
usage: rdsnap stats [options] store"

# --verbose: the steps, on standard error; --quiet wins over it
printf 'new' >src/abc
expect_exit 0 rdsnap create -v -q store src
expect_empty out
expect_empty err
expect_exit 0 rdsnap create store src --verbose --label v
expect_file err "rdsnap: opening store 'store' to write
rdsnap: snapshotting 'src'"
expect_exit 0 rdsnap verify -v store
expect_file err "rdsnap: opening store 'store' to read
rdsnap: verifying the catalog and the pack headers"
