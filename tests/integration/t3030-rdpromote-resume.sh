#!/bin/sh
# kill -9 in every step, then "rdpromote --resume STORE" without any of
# the original options: the journal has them, and the promotion ends
# promoted and verified, with every command run as first given.  A rerun
# of the same command continues too; any other command is refused.
# --abort before the switch restores the state before.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

setup_standby
build_shim
make_once
RD_ON_EXIT='for f in "$TMP"/hookpid.*; do kill -9 "$(cat "$f")"; done'
mkdir target
printf 'old data\n' >target/old
tree_sig target >old.sig
expect_exit 0 rdsnap restore --snapshot 1 s want1
tree_sig want1 >sig1

# killed in the fence step, then aborted: everything as before
kill_at "$TMP/in-fence" rdpromote --force --fence "$TMP/once fence" s target
[ "$(journal 1)" = "running:fence" ] || fail "journal after kill in fence: $(journal 1)"
expect_exit 1 rdpromote --force --no-fence s other
expect_file out "Promotion of 's' into 'other':
REFUSED: promote 1 into '$TMP/target' is unfinished: continue it with rdpromote --resume s, or undo it with rdpromote --abort s"
expect_exit 0 rdpromote --abort s
expect_file out "ABORTED: aborted before the switch; '$TMP/target' was not touched"
[ "$(epoch)" = 1 ] || fail "epoch after abort"
[ -d rep ] || fail "replica gone after abort"
rm -f ran-fence

# one promotion of snapshot 1, killed once in every step; each resume
# gives only the store
P="exec:$TMP/once probe 1"
kill_at "$TMP/in-probe" rdpromote --snapshot 1 --primary "$P" \
    --probe-timeout 60 --fence "$TMP/once fence2" \
    --validate "$TMP/once validate" --start "$TMP/once start" \
    --stop "touch $TMP/stopped" --check "exec:$TMP/once check" \
    --check-timeout 60 s target
[ "$(journal 2)" = "running:preflight" ] || fail "kill in preflight: $(journal 2)"
rm in-probe
# the same command again would continue it; another one is refused
expect_exit 1 rdpromote --snapshot 1 --primary "$P" --fence true s target
expect_file out "Promotion of 's' into 'target':
REFUSED: promote 2 into '$TMP/target' is unfinished with another --fence: continue it as journaled with rdpromote --resume s, or undo it with rdpromote --abort s"
expect_exit 64 rdpromote --resume --fence true s
expect_file err "rdpromote: --resume takes its options from the journal: give only --snapshot (to fall back) and --allow-partial
usage: rdpromote [options] store target"

kill_at "$TMP/in-fence2" rdpromote --resume s
[ "$(journal 2)" = "running:fence" ] || fail "kill in fence: $(journal 2)"
grep -q "^  preflight    ok  .*primary exec:$TMP/once probe 1 is down (exit 1)$" killed.out ||
    fail "preflight: $(cat killed.out)"

kill_at "$TMP/in-syncfs" "$TMP/shim" RD_PAUSE_AT=syncfs \
    RD_PAUSE_MARK="$TMP/in-syncfs" rdpromote --resume s
[ "$(journal 2)" = "running:materialize" ] || fail "kill in materialize: $(journal 2)"
[ "$(epoch)" = 2 ] || fail "epoch after the fence: $(epoch)"

kill_at "$TMP/in-readlinkat" "$TMP/shim" RD_PAUSE_AT=readlinkat \
    RD_PAUSE_MARK="$TMP/in-readlinkat" rdpromote --resume s
[ "$(journal 2)" = "running:verify" ] || fail "kill in verify: $(journal 2)"

kill_at "$TMP/in-validate" rdpromote --resume s
[ "$(journal 2)" = "running:validate" ] || fail "kill in validate: $(journal 2)"

kill_at "$TMP/in-renameat2" "$TMP/shim" RD_PAUSE_AT=renameat2 \
    RD_PAUSE_MARK="$TMP/in-renameat2" rdpromote --resume s
[ "$(journal 2)" = "running:switch" ] || fail "kill in switch: $(journal 2)"
# between the two renames: the old target is aside, the new one staged
[ ! -e target ] && [ -d .target.rdpromote ] || fail "state between the renames"
aside=$(ls -d target.pre-promote-*)
tree_sig "$aside" >now.sig
cmp -s old.sig now.sig || fail "the old target is not what was kept"

kill_at "$TMP/in-start" rdpromote --resume s
[ "$(journal 2)" = "running:start" ] || fail "kill in start: $(journal 2)"
tree_sig target >got
cmp -s sig1 got || fail "target is not snapshot 1 after the switch"

kill_at "$TMP/in-check" rdpromote --resume s
[ "$(journal 2)" = "running:check" ] || fail "kill in check: $(journal 2)"

expect_exit 0 rdpromote --resume s
expect_file out "Resuming the unfinished promotion or drill in 's':
  preflight    done              done by an earlier run
  fence        done              done by an earlier run
  materialize  done              done by an earlier run
  verify       done              done by an earlier run
  validate     done              done by an earlier run
  switch       done              done by an earlier run
  start        done              done by an earlier run
$(sed -n 's/^\(  check        ok  .*\)$/\1/p' out)
$(sed -n 's/^\(  record       ok  .*\)$/\1/p' out)
$(sed -n '/^PROMOTED/,$p' out)"
grep -q "^  check        ok  .* exec:$TMP/once check is up$" out || fail "$(cat out)"
grep -q "^PROMOTED: '$TMP/target' holds snapshot 1 " out || fail "$(cat out)"
[ "$(journal 2)" = "done:record" ] || fail "journal at the end: $(journal 2)"
tree_sig target >got
cmp -s sig1 got || fail "target is not snapshot 1"
tree_sig "$aside" >now.sig
cmp -s old.sig now.sig || fail "the old target changed"
[ "$(epoch)" = 2 ] || fail "epoch raised twice or not at all: $(epoch)"
[ ! -e stopped ] || fail "the stop command ran in a promotion that went well"
[ "$(sqlite3 s/catalog.db "select validated from promotions where id = 2")" = 1 ] ||
    fail "validate not recorded"
steps=$(sqlite3 s/catalog.db "select group_concat(step || '=' || outcome, ' ') from
    (select step, outcome from promotion_steps where promotion = 2 order by started)")
[ "$steps" = "preflight=ok fence=ok materialize=ok verify=ok validate=ok switch=ok start=ok check=ok record=ok" ] ||
    fail "steps: $steps"
opts=$(sqlite3 s/catalog.db "select group_concat(name || '=' || value, ' ') from
    (select name, value from promotion_options where promotion = 2 order by name)")
[ "$opts" = "check=exec:$TMP/once check check-timeout=60 fence=$TMP/once fence2 hook-timeout=300 primary=$P probe-timeout=60 snapshot=1 start=$TMP/once start stop=touch $TMP/stopped validate=$TMP/once validate verify=full" ] ||
    fail "options: $opts"
expect_exit 1 rdpromote --resume s
expect_file out "Resuming the unfinished promotion or drill in 's':
REFUSED: no unfinished promotion or drill in store 's': nothing to resume"

# a drill killed in its record step (its stop command) resumes too
kill_at "$TMP/in-dstop" rdpromote --drill --start true \
    --stop "$TMP/once dstop" s scratch
[ "$(journal 3)" = "running:record" ] || fail "kill in record: $(journal 3)"
[ -d scratch ] || fail "the drill's tree went before its record"
expect_exit 0 rdpromote --resume s
grep -q "^DRILL PASSED: snapshot 2 " out || fail "$(cat out)"
[ ! -e scratch ] || fail "resumed drill left its tree"
[ "$(journal 3)" = "done:record" ] || fail "drill journal: $(journal 3)"

# a drill killed while restoring, then aborted: no trace
kill_at "$TMP/in-syncfs" "$TMP/shim" RD_PAUSE_AT=syncfs \
    RD_PAUSE_MARK="$TMP/in-syncfs" rdpromote --drill s scratch
expect_exit 0 rdpromote --abort s scratch
expect_file out "ABORTED: drill 4 aborted; its scratch tree is gone"
[ ! -e .scratch.rdpromote ] && [ ! -e scratch ] || fail "drill staging left"
expect_exit 0 rdsnap verify --read-data s
