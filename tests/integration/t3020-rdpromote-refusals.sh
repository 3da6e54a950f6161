#!/bin/sh
# What rdpromote refuses, with its exit code and the target untouched;
# and (issue 11, problem 2) that --dry-run makes every check the real
# run makes and exits with the status the real run gives, running none
# of the fence, validate, start or stop commands.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

setup_standby
mkdir target
printf 'live\n' >target/data
tree_sig target >target.sig
untouched() {
	tree_sig target >now.sig
	cmp -s target.sig now.sig || fail "target was touched ($1)"
	[ -z "$(ls -d .target.rdpromote target.pre-promote-* target.rejected-* 2>/dev/null)" ] ||
	    fail "staging or a kept tree left ($1)"
	[ -z "$(ls ran-* 2>/dev/null)" ] || fail "a command ran ($1): $(ls ran-*)"
}
H="--fence 'touch ran-fence' --validate 'touch ran-validate'"
H="$H --start 'touch ran-start' --stop 'touch ran-stop'"

# same ARGS...: the dry run and the real run of ARGS exit with the same
# status, with the same refusal or error (the free space, which other
# processes change meanwhile, masked)
same() {
	want=$1
	shift
	free='s/, [0-9.]* [KMGTPEZ]*i*B and [0-9]* are free$/, FREE are free/'
	expect_exit "$want" rdpromote --dry-run "$@"
	sed -n "s/^REFUSED: //p" out | sed "$free" >dry.refused
	cp err dry.err
	expect_exit "$want" rdpromote "$@"
	sed -n "s/^REFUSED: //p" out | sed "$free" >real.refused
	cmp -s dry.refused real.refused ||
	    fail "dry run refused '$(cat dry.refused)', the run '$(cat real.refused)'"
	cmp -s dry.err err || fail "dry run said '$(cat dry.err)', the run '$(cat err)'"
}

# the primary is still up
P=$(free_port)
mkdir www
start_http "$P" www web.pid
RD_ON_EXIT='kill $(cat web.pid)'
eval "same 1 --primary tcp://127.0.0.1:$P $H s target"
expect_file real.refused "the primary tcp://127.0.0.1:$P is up: refusing to promote (use --force if you are sure it is not serving)"
untouched "primary up"
[ "$(epoch)" = 1 ] || fail "epoch changed"
kill "$(cat web.pid)"

# the fence command fails: stop before anything changes
expect_exit 1 rdpromote --force --fence 'echo cannot reach the PDU >&2; exit 3' s target
grep -q "^REFUSED: fence command failed (exit 3): stopping before anything changed$" out ||
    fail "$(cat out)"
grep -q "^cannot reach the PDU$" err || fail "fence output not passed through"
untouched "fence failed"
[ "$(epoch)" = 1 ] || fail "epoch raised although the fence failed"

# a fence that hangs is killed at the hook timeout
expect_exit 1 rdpromote --force --hook-timeout 1 --fence 'sleep 30' s target
grep -q "^REFUSED: fence command failed (timed out after 1 s)" out || fail "$(cat out)"
untouched "fence timeout"

# a snapshot that does not exist
eval "same 66 --snapshot 9 --force $H s target"
expect_file err "rdpromote: no snapshot 9 in 's'"
untouched "missing snapshot"

# a heartbeat file that the snapshot lacks
eval "same 66 --heartbeat no/such --force $H s target"
expect_file err "rdpromote: --heartbeat: snapshot 2 has no path 'no/such'"
eval "same 66 --heartbeat etc --force $H s target"
expect_file err "rdpromote: --heartbeat 'etc' is not a file in snapshot 2"
untouched "missing heartbeat"

# a partial or inconsistent snapshot needs --allow-partial
sqlite3 s/catalog.db "update snapshots set partial = 2, inconsistent = 1 where id = 2"
eval "same 1 --force $H s target"
expect_file real.refused "snapshot 2 is PARTIAL: 2 paths kept an older version, 1 files changed while they were read; promote it only with --allow-partial, or choose a complete one with --snapshot N (see rdsnap list)"
untouched "partial"
expect_exit 0 rdpromote --dry-run --allow-partial --force --no-fence s target
grep -q "^  preflight    the primary is NOT checked (--force, no --primary); snapshot 2 is PARTIAL (2 paths kept an older version, 1 files changed while read): promoted anyway (--allow-partial)$" out ||
    fail "the plan does not flag the partial snapshot: $(cat out)"
grep -q "^  partial      ok       snapshot 2 is PARTIAL: 2 paths kept an older version, 1 files changed while they were read (--allow-partial)$" out ||
    fail "$(cat out)"
expect_exit 0 rdpromote --dry-run --force --no-fence --snapshot 1 s target
grep -q "^  partial      ok       snapshot 1 is complete and consistent$" out ||
    fail "$(cat out)"
sqlite3 s/catalog.db "update snapshots set partial = 0, inconsistent = 0 where id = 2"

# no room for a restore (snapshot 1: the warm replica holds 2)
sqlite3 s/catalog.db "update entries set size = 1152921504606846976
    where path = CAST('var/lib/db/random.bin' AS BLOB) and first = 1"
eval "same 1 --snapshot 1 --force $H s target"
grep -q "^not enough space in '$TMP' to restore snapshot 1: it needs 1.0 EiB and 23 inodes, FREE are free$" real.refused ||
    fail "$(cat real.refused)"
untouched "no space"
expect_exit 0 rdpromote --dry-run --force --no-fence s target
grep -q "^  space        ok       the warm replica is moved into place: no space needed$" out ||
    fail "$(cat out)"
sqlite3 s/catalog.db "update entries set size = 3000000
    where path = CAST('var/lib/db/random.bin' AS BLOB) and first = 1"

# a staging directory that no promotion owns is not removed
mkdir .target.rdpromote
eval "same 73 --force $H s target"
expect_file err "rdpromote: '$TMP/.target.rdpromote' exists and no unfinished promotion owns it: move it away (the new tree is built there)"
rmdir .target.rdpromote
untouched "foreign staging"

# a drill into a path that exists
eval "same 73 --drill --validate 'touch ran-validate' s src"
expect_file err "rdpromote: drill target 'src' exists: give a new scratch path"

# damaged content in the store, and no replica to fall back on
sqlite3 s/catalog.db "delete from replicas"
rm -rf rep
pack=$(sqlite3 s/catalog.db "select p.name from contents c join packs p on p.id = c.pack where c.size > 1000000 limit 1")
off=$(sqlite3 s/catalog.db "select c.off from contents c where c.size > 1000000 limit 1")
printf 'XXXX' | dd of="s/packs/$pack.pack" bs=1 seek=$((off + 96 + 5000)) conv=notrunc 2>/dev/null
expect_exit 0 rdpromote --dry-run --force --no-fence s target
expect_exit 1 rdpromote --force --no-fence s target
grep -q "^REFUSED: snapshot 2 cannot be restored: content [0-9a-f]*: " out ||
    fail "$(cat out)"
untouched "damaged store"
# the store was fenced: the promotion stays open until fixed or aborted
[ "$(epoch)" = 2 ] || fail "epoch after a fenced, stopped promotion"
# another promotion meanwhile is refused, by the dry run as well
eval "same 1 --force $H s other"
expect_file real.refused "promote 6 into '$TMP/target' is unfinished: continue it with rdpromote --resume s, or undo it with rdpromote --abort s"
expect_exit 0 rdpromote --abort s target
[ "$(epoch)" = 1 ] || fail "epoch not restored by --abort"

# one promotion at a time
flock s/lock sh -c 'touch held; while [ ! -e release ]; do sleep 0.05; done' &
holder=$!
while [ ! -e held ]; do sleep 0.05; done
expect_exit 75 rdpromote --force --no-fence s target
expect_file err "rdpromote: store 's' is busy: another writer holds its lock"
touch release
wait $holder
untouched "busy"
history=$(sqlite3 s/catalog.db "select group_concat(state || ':' || step, ' ') from promotions")
[ "$history" = "failed:preflight failed:fence failed:fence failed:preflight failed:preflight aborted:materialize" ] ||
    fail "journal: $history"

# a store that is a primary is not promoted, by the dry run as well
eval "same 1 --force $H p target"
expect_file real.refused "store 'p' is not a standby: it is a primary (promoted already, or never a standby); nothing to promote"
untouched "primary store"
