#!/bin/sh
# create --pre, --post and --hook-timeout: where hooks run, what they see,
# where their output goes, and what a failing, killed or hanging hook
# does to the run and to the store.
. "$RD_SRCDIR/tests/integration/lib.sh"

umask 022
mkdir src
printf 'data\n' >src/data
expect_exit 0 rdsnap init store
STORE=$(cd store && pwd -P)
SOURCE=$(cd src && pwd -P)
HOOKS=$TMP/hooks
mkdir "$HOOKS"
export HOOKS

# what a hook sees, in the file "$HOOKS/$1.env"
cat >"$HOOKS/env.sh" <<'EOF'
printf '%s\n' "cwd=$(pwd -P)" "store=${RDSNAP_STORE-unset}" \
    "source=${RDSNAP_SOURCE-unset}" "status=${RDSNAP_STATUS-unset}" \
    "snapshot=${RDSNAP_SNAPSHOT-unset}" "inherited=${HOOKS:+yes}" \
    >"$HOOKS/$1.env"
EOF

# the pre hook makes a file that the snapshot holds; the post hook
# removes it; their output goes to stderr, so --json stays clean; an
# RDSNAP_STATUS that rdsnap inherits does not reach the pre hook
expect_exit 0 env RDSNAP_STATUS=stale RDSNAP_SNAPSHOT=stale rdsnap create \
    --json \
    --pre 'echo pre-out; echo pre-err >&2; printf "made\n" >made-by-pre; sh "$HOOKS/env.sh" pre' \
    --post 'echo post-out; rm made-by-pre; sh "$HOOKS/env.sh" post' \
    store src
expect_file err "pre-out
pre-err
post-out"
python3 - out <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
d = json.loads(lines[0])
assert d["id"] == 1 and d["files"] == 3 and d["changed"] == 3, d
PY
expect_file "$HOOKS/pre.env" "cwd=$SOURCE
store=$STORE
source=$SOURCE
status=unset
snapshot=unset
inherited=yes"
expect_file "$HOOKS/post.env" "cwd=$SOURCE
store=$STORE
source=$SOURCE
status=ok
snapshot=1
inherited=yes"
[ ! -e src/made-by-pre ] || fail "the post hook did not run"
expect_exit 0 rdsnap ls --snapshot 1 store made-by-pre
cut -d' ' -f1,3,5- out >entry
expect_file entry "f 5 $(printf 'made\n' | sha256sum | cut -d' ' -f1) made-by-pre"

# a hook's standard output never reaches rdsnap's
expect_exit 0 rdsnap create --quiet --pre 'echo hello' --post 'echo bye' \
    store src
expect_empty out
expect_file err "hello
bye"

# a failing pre hook: exit 1, one line, no snapshot, no post hook, the
# store as it was
expect_exit 0 rdsnap list store
cp out list.before
find store/packs -type f | sort >packs.before
rows=$(sqlite3 store/catalog.db "select count(*) from snapshots")
expect_exit 1 rdsnap create --pre 'echo failing >&2; exit 3' \
    --post 'touch "$HOOKS/post-ran"' store src
expect_empty out
expect_file err "failing
rdsnap: pre hook failed: exited 3"
expect_exit 1 rdsnap create --json --pre 'kill -9 $$' \
    --post 'touch "$HOOKS/post-ran"' store src
expect_empty out
expect_file err "rdsnap: pre hook failed: killed by signal 9"
[ ! -e "$HOOKS/post-ran" ] || fail "the post hook ran after a failed pre hook"
expect_exit 0 rdsnap list store
cmp -s out list.before || fail "a failed pre hook changed the list"
find store/packs -type f | sort >packs.after
cmp -s packs.before packs.after || fail "a failed pre hook changed the packs"
n=$(sqlite3 store/catalog.db "select count(*) from snapshots")
[ "$n" = "$rows" ] || fail "snapshot rows: $n, expected $rows"

# a hanging pre hook is killed at the timeout with everything it started
start=$(date +%s)
expect_exit 1 rdsnap create --hook-timeout 1 \
    --pre 'echo $$ >"$HOOKS/sh.pid"; sleep 60 & echo $! >"$HOOKS/child.pid"; sleep 60' \
    --post 'touch "$HOOKS/post-ran"' store src
elapsed=$(($(date +%s) - start))
expect_file err "rdsnap: pre hook failed: timed out after 1 s"
[ "$elapsed" -le 5 ] || fail "the timed-out hook took $elapsed s"
for f in sh child; do
	pid=$(cat "$HOOKS/$f.pid")
	# gone, or a zombie that nobody has reaped yet
	if [ -e "/proc/$pid/stat" ]; then
		state=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null || echo gone)
		case $state in
		Z | X | gone) ;;
		*) fail "the hook's $f process $pid is still running ($state)" ;;
		esac
	fi
done
[ ! -e "$HOOKS/post-ran" ] || fail "the post hook ran after a timed-out pre hook"
expect_exit 0 rdsnap list store
cmp -s out list.before || fail "a timed-out pre hook changed the list"

# a busy store runs no hook
flock store/lock sh -c 'touch held; while [ ! -e release ]; do sleep 0.05; done' &
holder=$!
while [ ! -e held ]; do sleep 0.05; done
expect_exit 75 rdsnap create --pre 'touch "$HOOKS/pre-ran"' \
    --post 'touch "$HOOKS/post-ran"' store src
expect_file err "rdsnap: store 'store' is busy: another writer holds its lock"
touch release
wait $holder
[ ! -e "$HOOKS/pre-ran" ] && [ ! -e "$HOOKS/post-ran" ] ||
    fail "a hook ran although the store was busy"

# a failing post hook keeps the snapshot and exits 1
expect_exit 1 rdsnap create --post 'exit 4' store src
expect_file err "rdsnap: post hook failed: exited 4"
grep -q '^snapshot 3: 2 entries' out || fail "no summary: $(cat out)"
expect_exit 0 rdsnap list --json store
python3 - out <<'PY'
import json, sys
assert [s["id"] for s in json.load(open(sys.argv[1]))] == [1, 2, 3]
PY

# the post hook runs after a snapshot that failed, and is told so; the
# exit status is the snapshot's
expect_exit 0 rdsnap init --standby --no-key standby
expect_exit 77 rdsnap create --post 'sh "$HOOKS/env.sh" failed' standby src
expect_file err "rdsnap: store 'standby' is a standby: it takes snapshots only from rdship (promote it first)"
expect_file "$HOOKS/failed.env" "cwd=$SOURCE
store=$(cd standby && pwd -P)
source=$SOURCE
status=failed
snapshot=
inherited=yes"
expect_exit 77 rdsnap create --post 'exit 5' standby src
expect_file err "rdsnap: store 'standby' is a standby: it takes snapshots only from rdship (promote it first)
rdsnap: post hook failed: exited 5"

# no hook runs for a source that is missing
expect_exit 66 rdsnap create --pre 'touch "$HOOKS/pre-ran"' store missing
expect_file err "rdsnap: cannot open source 'missing': No such file or directory"
[ ! -e "$HOOKS/pre-ran" ] || fail "the pre hook ran for a missing source"

# bad timeouts
expect_exit 64 rdsnap create --hook-timeout 0 --pre true store src
expect_file err "rdsnap: invalid hook timeout '0' (expected more than 0 seconds)
usage: rdsnap create [options] store source"
expect_exit 64 rdsnap create --hook-timeout soon --pre true store src
expect_file err "rdsnap: invalid hook timeout 'soon' (expected seconds, or a number with s, m, h, d or w)
usage: rdsnap create [options] store source"
expect_exit 64 rdsnap list --pre true store
expect_file err "rdsnap: list does not take --pre
usage: rdsnap list [options] store"
