#!/bin/sh
# create --exclude, --exclude-from and --one-file-system: names at any
# depth, anchored paths, directories only, what a snapshot then lists and
# counts as removed, an excluded directory that is never opened, bad
# exclude files and patterns, and a tmpfs mounted below the source.
. "$RD_SRCDIR/tests/integration/lib.sh"

umask 022
sha() {
	printf '%s' "$1" | sha256sum | cut -d' ' -f1
}
T='2024-01-02T03:04:05.000000000Z'

mkdir -p src/a/b/cache src/a/cache src/build src/sub/build src/logs \
    src/docs/sub
printf 'keep\n' >src/keep.txt
printf 'log\n' >src/app.log
printf 'deep\n' >src/a/b/deep.log
printf 'c1\n' >src/a/cache/c1
printf 'c2\n' >src/a/b/cache/c2
printf 'a file named cache\n' >src/docs/cache
printf 'top build\n' >src/build/out.o
printf 'sub build\n' >src/sub/build/out.o
printf 'tmp\n' >src/docs/a.tmp
printf 'deeper tmp\n' >src/docs/sub/b.tmp
printf '1\n' >src/logs/1
find src -exec touch -h -d '2024-01-02 03:04:05 UTC' {} +

expect_exit 0 rdsnap init store
expect_exit 0 rdsnap create --json store src
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["id"] == 1 and d["files"] == 22 and d["removed"] == 0, d
PY

# blank lines, lines of blanks and comments are not patterns
printf '# leave out\n\n   \n\t\ndocs/*.tmp\nlogs\n' >excl.txt
expect_exit 0 rdsnap create --json --exclude '*.log' --exclude 'cache/' \
    --exclude /build --exclude-from excl.txt store src
expect_empty err
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
# app.log a/b/deep.log a/b/cache/ a/b/cache/c2 a/cache/ a/cache/c1 build/
# build/out.o docs/a.tmp logs/ logs/1
assert d["id"] == 2 and d["files"] == 11 and d["removed"] == 11, d
assert d["changed"] == 0 and d["skipped"] == 0, d
PY
expect_exit 0 rdsnap ls --snapshot 2 store
expect_file out "d 755 0 $T - .
d 755 0 $T - a
d 755 0 $T - a/b
d 755 0 $T - docs
f 644 19 $T $(sha 'a file named cache
') docs/cache
d 755 0 $T - docs/sub
f 644 11 $T $(sha 'deeper tmp
') docs/sub/b.tmp
f 644 5 $T $(sha 'keep
') keep.txt
d 755 0 $T - sub
d 755 0 $T - sub/build
f 644 10 $T $(sha 'sub build
') sub/build/out.o"
# the earlier snapshot keeps what is left out now
expect_exit 0 rdsnap ls --snapshot 1 store logs
expect_file out "d 755 0 $T - logs
f 644 2 $T $(sha '1
') logs/1"

# a leading '/' only anchors: '/docs/sub' is 'docs/sub'; '*' stays
# within one component ('*/*/*' is any path of three); '?' and sets work
expect_exit 0 rdsnap create --exclude /docs/sub --exclude '*/*/*' \
    --exclude 'k?ep.[tx]xt' store src
expect_exit 0 rdsnap ls --snapshot 3 store
cut -d' ' -f1,6- out >paths
expect_file paths "d .
d a
d a/b
d a/cache
f app.log
d build
f build/out.o
d docs
f docs/a.tmp
f docs/cache
d logs
f logs/1
d sub
d sub/build"

# an excluded directory is not read at all: as a user who cannot read it,
# the snapshot is clean only because it is never opened
mkdir -p usrc/ok usrc/secret/inner
printf 'ok\n' >usrc/ok/f
printf 'secret\n' >usrc/secret/inner/f
chmod 000 usrc/secret
mkdir u
if [ "$(id -u)" -eq 0 ]; then
	chmod 755 "$TMP"
	chown 65534:65534 u
	as_user() {
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	}
else
	as_user() {
		"$@"
	}
fi
expect_exit 0 as_user rdsnap init u/store
expect_exit 3 as_user rdsnap create u/store usrc
expect_file err "rdsnap: 'secret/' could not be read (Permission denied): its contents are not in this snapshot
rdsnap: snapshot 1 is partial: 1 path could not be read (rdsnap problems lists them)"
expect_exit 0 as_user rdsnap create --exclude secret/ u/store usrc
expect_empty err
expect_exit 0 rdsnap ls --snapshot 2 u/store
cut -d' ' -f1,6- out >paths
expect_file paths "d .
d ok
f ok/f"
# and as root, who could read it: no system call names it (a sanitizer
# build's leak check cannot run under ptrace; the other runs have it)
if command -v strace >/dev/null 2>&1; then
	expect_exit 0 env \
	    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    strace -f -o trace -e trace=%file rdsnap create \
	    --exclude /secret u/store usrc
	grep -v 'execve(' trace >calls
	if grep 'secret' calls >&2; then
		fail "an excluded directory was touched"
	fi
fi

# bad exclude files and patterns: nothing is written
expect_exit 0 rdsnap list store
cp out list.before
expect_exit 66 rdsnap create --exclude-from missing.txt store src
expect_file err "rdsnap: cannot read exclude file 'missing.txt': No such file or directory"
expect_empty out
expect_exit 66 rdsnap create --exclude-from . store src
expect_file err "rdsnap: cannot read exclude file '.': Is a directory"
expect_exit 64 rdsnap create --exclude / store src
expect_file err "rdsnap: invalid exclude pattern '/': it matches nothing
usage: rdsnap create [options] store source"
printf 'ok\n//\n' >bad.txt
expect_exit 64 rdsnap create --exclude-from bad.txt store src
expect_file err "rdsnap: invalid exclude pattern '//': it matches nothing (in 'bad.txt', line 2)
usage: rdsnap create [options] store source"
expect_exit 64 rdsnap list --exclude x store
expect_file err "rdsnap: list does not take --exclude
usage: rdsnap list [options] store"
expect_exit 0 rdsnap list store
cmp -s out list.before || fail "a failed create changed the list"
n=$(sqlite3 store/catalog.db "select count(*) from snapshots")
[ "$n" = 3 ] || fail "expected 3 snapshot rows, got $n"

# --one-file-system: a mount point is recorded, nothing below it
mkdir -p fs/mnt fs/dir
printf 'top\n' >fs/top
expect_exit 0 rdsnap init store2
if mount -t tmpfs none fs/mnt 2>mount.err; then
	RD_ON_EXIT="umount '$TMP/fs/mnt'"
	mkdir fs/mnt/sub
	printf 'below\n' >fs/mnt/below
	printf 'x\n' >fs/mnt/sub/x
	chmod 1777 fs/mnt
	expect_exit 0 rdsnap create --json store2 fs
	expect_exit 0 rdsnap ls store2
	cut -d' ' -f1,2,6- out >paths
	expect_file paths "d 755 .
d 755 dir
d 1777 mnt
f 644 mnt/below
d 755 mnt/sub
f 644 mnt/sub/x
f 644 top"
	expect_exit 0 rdsnap create --json --one-file-system store2 fs
	expect_empty err
	python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["files"] == 4 and d["removed"] == 3 and d["skipped"] == 0, d
PY
	expect_exit 0 rdsnap ls store2
	cut -d' ' -f1,2,6- out >paths
	expect_file paths "d 755 .
d 755 dir
d 1777 mnt
f 644 top"
	umount fs/mnt
	RD_ON_EXIT=
else
	echo "$RD_TEST_NAME: could not mount a tmpfs ($(cat mount.err)):" \
	    "--one-file-system across a mount point NOT tested" >&2
fi
# on one file system, --one-file-system leaves nothing out
expect_exit 0 rdsnap create --one-file-system store2 fs
expect_exit 0 rdsnap ls store2
cut -d' ' -f1,6- out >paths
expect_file paths "d .
d dir
d mnt
f top"
