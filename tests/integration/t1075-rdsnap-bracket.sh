#!/bin/sh
# create --bracket: the co-process is started before the copy with an
# empty scratch directory, the copy waits for its "ready", it reads
# "done" after the copy, and what it wrote joins the same snapshot.  Every
# way it can fail (no "ready", a wrong line, a non-zero exit, an exit
# before "done", the timeout, files it must not add) fails the run with
# one line and a documented status, and commits nothing.
. "$RD_SRCDIR/tests/integration/lib.sh"

umask 022
mkdir -p src/pg_wal src/base
printf 'data\n' >src/base/1
printf 'old wal\n' >src/pg_wal/000000010000000000000001
expect_exit 0 rdsnap init store
STORE=$(cd store && pwd -P)
SOURCE=$(cd src && pwd -P)
REC=$TMP/rec
mkdir "$REC"
export REC

# the store as it was: snapshots and the scratch area
state() {
	sqlite3 store/catalog.db "select id, state from snapshots" >"$1"
	find store/tmp -mindepth 1 >>"$1"
}
unchanged() {
	state state.after
	cmp -s state.before state.after ||
	    fail "the store changed: $(cat state.after)"
}

# what it sees; it adds a file before "ready" (in the snapshot) and one
# after "done" (not in it); it fills more than a pipe's worth of its
# standard output before it reads "done", which rdsnap throws away
cat >"$TMP/co.sh" <<'EOF'
d=$RDSNAP_BRACKET_DIR
printf '%s\n' "cwd=$(pwd -P)" "dir=$d" "store=$RDSNAP_STORE" \
    "source=$RDSNAP_SOURCE" "status=${RDSNAP_STATUS-unset}" \
    "snapshot=${RDSNAP_SNAPSHOT-unset}" "empty=$(ls -A "$d" | wc -l)" \
    "pre=$(cat made-by-pre)" >"$REC/env"
echo before >made-before-ready
echo ready
head -c 200000 /dev/zero
read -r line
echo "line=$line" >>"$REC/env"
echo after >made-after-done
printf 'START WAL LOCATION: 0/2000028\n' >"$d/backup_label"
mkdir "$d/pg_wal"
printf 'wal %s\n' "$1" >"$d/pg_wal/000000010000000000000002"
echo "to stderr" >&2
EOF
expect_exit 0 env RDSNAP_STATUS=stale rdsnap create --json \
    --exclude '/pg_wal/*' --pre 'echo pre >made-by-pre' \
    --bracket "sh $TMP/co.sh 1" store src
expect_file err "to stderr"
expect_file "$REC/env" "cwd=$SOURCE
dir=$STORE/tmp/bracket
store=$STORE
source=$SOURCE
status=unset
snapshot=unset
empty=0
pre=pre
line=done"
python3 - out <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
# . base base/1 made-by-pre made-before-ready pg_wal + backup_label and
# pg_wal/000000010000000000000002 from the bracket
assert d["id"] == 1 and d["files"] == 8 and d["changed"] == 8, d
assert d["removed"] == 0, d
PY
expect_exit 0 rdsnap ls store
cut -d' ' -f1,3,5- out >entries
expect_file entries "d 0 - .
f 30 $(printf 'START WAL LOCATION: 0/2000028\n' | sha256sum | cut -d' ' -f1) backup_label
d 0 - base
f 5 $(printf 'data\n' | sha256sum | cut -d' ' -f1) base/1
f 7 $(printf 'before\n' | sha256sum | cut -d' ' -f1) made-before-ready
f 4 $(printf 'pre\n' | sha256sum | cut -d' ' -f1) made-by-pre
d 0 - pg_wal
f 6 $(printf 'wal 1\n' | sha256sum | cut -d' ' -f1) pg_wal/000000010000000000000002"
expect_exit 0 rdsnap restore store restored
expect_file restored/backup_label "START WAL LOCATION: 0/2000028"
expect_file restored/pg_wal/000000010000000000000002 "wal 1"
[ ! -e restored/made-after-done ] || fail "a file made after done is in the snapshot"
[ -e src/made-after-done ] || fail "the bracket did not run to its end"
find store/tmp -mindepth 1 >left
expect_empty left

# the next one replaces the bracket's files: nothing counts as removed
rm -f src/made-after-done
expect_exit 0 rdsnap create --json --exclude '/pg_wal/*' \
    --bracket "sh $TMP/co.sh 2" store src
python3 - out <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert d["id"] == 2 and d["files"] == 8 and d["removed"] == 0, d
# the root and made-before-ready (written again), and the bracket's two
assert d["changed"] == 4, d
PY
expect_exit 0 rdsnap ls store pg_wal/000000010000000000000002
cut -d' ' -f5- out >entry
expect_file entry "$(printf 'wal 2\n' | sha256sum | cut -d' ' -f1) pg_wal/000000010000000000000002"
rm -f src/made-after-done

state state.before

# failures before "ready": nothing was read, nothing is committed
expect_exit 69 rdsnap create --bracket 'echo hello' store src
expect_file err "rdsnap: bracket hook failed: it said 'hello' instead of 'ready'"
unchanged
expect_exit 69 rdsnap create --bracket 'echo "ready "' store src
expect_file err "rdsnap: bracket hook failed: it said 'ready ' instead of 'ready'"
unchanged
expect_exit 69 rdsnap create --bracket 'echo oops >&2; exit 2' store src
expect_file err "oops
rdsnap: bracket hook failed: exited 2 before it said 'ready'"
unchanged
expect_exit 69 rdsnap create --bracket 'kill -9 $$' store src
expect_file err "rdsnap: bracket hook failed: killed by signal 9 before it said 'ready'"
unchanged
expect_exit 69 rdsnap create --bracket 'exec >&-; exit 0' store src
expect_file err "rdsnap: bracket hook failed: exited 0 before it said 'ready'"
unchanged

# a hook that never says "ready" is killed at the timeout with everything
# it started
expect_exit 69 rdsnap create --hook-timeout 1 \
    --bracket 'echo $$ >"$REC/sh.pid"; sleep 60 & echo $! >"$REC/child.pid"; wait' \
    store src
expect_file err "rdsnap: bracket hook failed: no 'ready' within 1 s"
unchanged
gone() {
	for f in "$@"; do
		pid=$(cat "$REC/$f.pid")
		if [ -e "/proc/$pid/stat" ]; then
			state=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null || echo gone)
			case $state in
			Z | X | gone) ;;
			*) fail "the hook's $f process $pid is still running ($state)" ;;
			esac
		fi
	done
}
gone sh child
expect_exit 69 rdsnap create --hook-timeout 0.5 \
    --bracket 'exec >/dev/null; sleep 60' store src
expect_file err "rdsnap: bracket hook failed: no 'ready' within 0.5 s (it closed its standard output)"
unchanged

# failures after the copy
expect_exit 69 rdsnap create --bracket 'echo ready; exit 0' store src
expect_file err "rdsnap: bracket hook failed: exited 0 before it read 'done'"
unchanged
expect_exit 69 rdsnap create \
    --bracket 'echo ready; read -r l; touch "$RDSNAP_BRACKET_DIR/x"; exit 3' \
    store src
expect_file err "rdsnap: bracket hook failed: exited 3 after 'done'"
unchanged
expect_exit 69 rdsnap create --hook-timeout 1 \
    --bracket 'echo ready; read -r l; echo $$ >"$REC/sh.pid"; sleep 60 & echo $! >"$REC/child.pid"; wait' \
    store src
expect_file err "rdsnap: bracket hook failed: still running 1 s after 'done'"
unchanged
gone sh child

# a copy that fails between "ready" and "done": the hook reads an end of
# file instead of "done", and is waited for
cc -shared -fPIC -o "$TMP/shim.so" \
    "$RD_SRCDIR/tests/integration/bracket-shim.c" -ldl ||
	fail "cannot build the test shim"
printf 'changed\n' >src/base/1
RD_SHIM_EIO=1 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    LD_PRELOAD="$TMP/shim.so" expect_exit 74 rdsnap create \
    --bracket 'echo ready; if read -r l; then echo "got $l"; else echo "end of file"; fi >"$REC/abort"' \
    store src
expect_file err "rdsnap: cannot read 'base/1': Input/output error"
expect_file "$REC/abort" "end of file"
unchanged

# snap-shim.c plays the file system and the writers the next cases need
cc -shared -fPIC -o "$TMP/snapshim.so" \
    "$RD_SRCDIR/tests/integration/snap-shim.c" -ldl ||
	fail "cannot build the test shim"
snapshim() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	    LD_PRELOAD="$TMP/snapshim.so" "$@"
}
# killed during the copy (the shim holds it at a new source file, read
# before "done" is sent, until the kill): the hook reads an end of file
# too, and the next writer removes what it left in the scratch directory
printf 'held\n' >src/base/held
RD_SHIM_STALL=held expect_exit 137 snapshim rdsnap create --bracket 'mkdir -p "$RDSNAP_BRACKET_DIR/a/b"; touch "$RDSNAP_BRACKET_DIR/a/b/c"; chmod 0 "$RDSNAP_BRACKET_DIR/a"; echo ready; kill -9 $PPID; if read -r l; then echo "got $l"; else echo "end of file"; fi >"$REC/killed"' \
    store src
i=0
while [ ! -s "$REC/killed" ] && [ $i -lt 600 ]; do
	sleep 0.05
	i=$((i + 1))
done
expect_file "$REC/killed" "end of file"
[ -d store/tmp/bracket/a ] || fail "the killed run left no scratch directory"
rm src/base/held
expect_exit 0 rdsnap list --json store
python3 - out <<'PY'
import json, sys
assert [s["id"] for s in json.load(open(sys.argv[1]))] == [1, 2]
PY

# --may-change: a file that keeps changing while it is read (snap-shim.c:
# every fstat sees a newer mtime) is read once and stored as read, with
# no notice and no inconsistent snapshot; without it, exit 3
printf 'busy\n' >src/base/small
head -c 2000000 /dev/urandom >src/base/big
for f in small big; do
	printf 'more\n' >>src/base/$f
	RD_SHIM_FILE=$f RD_SHIM_TICK=1 expect_exit 3 snapshim rdsnap create \
	    --quiet --exclude '/pg_wal/*' --bracket 'echo ready; read -r l' \
	    store src
	expect_file err "rdsnap: 'base/$f' kept changing while it was read; stored as last read
rdsnap: snapshot $(($(sqlite3 store/catalog.db "select max(id) from snapshots"))) is inconsistent: 1 file kept changing while read (rdsnap problems lists them)"
	printf 'again\n' >>src/base/$f
	RD_SHIM_FILE=$f RD_SHIM_TICK=1 expect_exit 0 snapshim rdsnap create \
	    --json --exclude '/pg_wal/*' --may-change 'base/*' \
	    --bracket 'echo ready; read -r l' store src
	expect_empty err
	python3 - out <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert d["inconsistent"] == 0 and d["partial"] == 0, d
PY
	expect_exit 0 rdsnap ls store base/$f
	cut -d' ' -f5- out >entry
	expect_file entry "$(sha256sum <src/base/$f | cut -d' ' -f1) base/$f"
done
expect_exit 64 rdsnap create --may-change 'base/*' store src
expect_file err "rdsnap: --may-change needs --bracket: only what brackets the copy can repair a file that changed while read
usage: rdsnap create [options] store source"
expect_exit 64 rdsnap create --may-change / --bracket true store src
expect_file err "rdsnap: invalid exclude pattern '/': it matches nothing
usage: rdsnap create [options] store source"

expect_exit 0 rdsnap create --quiet --exclude '/pg_wal/*' \
    --bracket 'echo ready; read -r l' store src
expect_empty err
find store/tmp -mindepth 1 >left
expect_empty left
state state.before

# files it must not add: each fails the run with status 65
bad() {
	msg=$1
	shift
	expect_exit 65 rdsnap create --exclude '/pg_wal/*' \
	    --bracket "echo ready; read -r l; cd \"\$RDSNAP_BRACKET_DIR\"; $*" \
	    store src
	expect_file err "rdsnap: $msg"
	unchanged
}
bad "bracket file 'backup_label' is a symlink, not a regular file" \
    'ln -s /etc/passwd backup_label'
bad "bracket file 'pg_wal/x' is a symlink, not a regular file" \
    'mkdir pg_wal; ln -s /etc/passwd pg_wal/x'
bad "bracket file 'pg_wal/x' is a symlink, not a regular file" \
    'mkdir pg_wal; ln -s ../../.. pg_wal/x'
bad "bracket file 'fifo' is a fifo, not a regular file" 'mkfifo fifo'
bad "bracket file 'base/1' is also in the source (exclude it there)" \
    'mkdir base; echo evil >base/1'
bad "bracket file 'base' is also in the source (exclude it there)" \
    'echo evil >base'
bad "bracket file 'none/x': 'none' is not a directory of the snapshot" \
    'mkdir none; echo x >none/x'
bad "bracket file 'base/1/x': 'base/1' is not a directory of the snapshot" \
    'mkdir -p base/1; echo x >base/1/x'
bad "bracket file 'a?b' has an unsafe name" \
    'echo x >"a
b"'
bad "bracket directory 'd/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d' is nested deeper than 32" \
    'mkdir -p d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d'
bad "the bracket hook wrote more than 10000 files" \
    'mkdir pg_wal; cd pg_wal; seq 1 10001 | xargs touch'
bad "the bracket hook wrote more than 10000 files" \
    'mkdir pg_wal; (cd pg_wal; seq 1 5000 | xargs touch); seq 1 5001 | sed s/^/w/ | xargs touch'
# a directory excluded from the snapshot takes no file either
expect_exit 65 rdsnap create --exclude '/pg_wal/' \
    --bracket 'echo ready; read -r l; mkdir "$RDSNAP_BRACKET_DIR/pg_wal"; touch "$RDSNAP_BRACKET_DIR/pg_wal/1"' \
    store src
expect_file err "rdsnap: bracket file 'pg_wal/1': 'pg_wal' is not a directory of the snapshot"
unchanged

# usage
expect_exit 64 rdsnap list --bracket true store
expect_file err "rdsnap: list does not take --bracket
usage: rdsnap list [options] store"
expect_exit 64 rdsnap create --bracket
sed 1q err >err1
expect_file err1 "rdsnap: option '--bracket' requires an argument"
