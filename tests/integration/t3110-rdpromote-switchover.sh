#!/bin/sh
# Planned switchover: a writer appends committed lines to a file of the
# primary's source and acknowledges each after it is written; the stop
# command stops it after its last acknowledged write; the final snapshot
# command takes the labelled snapshot and pushes it to the standby, whose
# lock rdpromote lets go for that push.  The promoted tree holds every
# acknowledged line, the report says RPO 0 and the unavailability window.
# A final snapshot that did not reach the standby is refused (69) with
# the primary's service said to be stopped, and nothing changed there.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir src
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap init --standby --no-key s
cat >writer <<'W'
#!/bin/sh
# the service: a committed line, then its acknowledgement
i=0
while [ ! -e "$1/stop" ]; do
	i=$((i + 1))
	echo "commit $i" >>"$1/src/log"
	echo "$i" >"$1/acked"
	sleep 0.01
done
echo stopped >"$1/writer-done"
W
cat >stop-service <<W
#!/bin/sh
# stop the writer and wait until it has ended (60 s at most)
touch "$TMP/stop"
n=0
while [ ! -e "$TMP/writer-done" ]; do
	n=\$((n + 1))
	[ \$n -lt 600 ] || exit 1
	sleep 0.1
done
W
chmod +x stop-service
sh writer "$TMP" &
RD_ON_EXIT="touch '$TMP/stop'; wait"
n=0
until [ -s acked ] && [ "$(cat acked)" -ge 3 ]; do
	n=$((n + 1))
	[ $n -lt 600 ] || fail "the writer did not start"
	sleep 0.1
done
# the standby follows while the writer writes
expect_exit 0 rdsnap create p src
expect_exit 0 rdship push p s

final="rdsnap create -q --label \"\$RDPROMOTE_FINAL_LABEL\" '$TMP/p' '$TMP/src' && rdship push -q '$TMP/p' '$TMP/s'"
expect_exit 0 rdpromote --switchover --primary-stop "$TMP/stop-service" \
    --final-snapshot "$final" --no-fence s target
[ -e writer-done ] || fail "the writer still runs"
wait
RD_ON_EXIT=
uuid=$(sqlite3 s/catalog.db "select value from meta where key = 'uuid'")
sed -n 's/[0-9.]* s:/N s:/; /SWITCHOVER/,/writes unavailable/p' out >got
expect_file got "  SWITCHOVER: RPO 0: snapshot 2 is the primary's final one (switchover-$uuid-1),
      taken after its service stopped; no snapshot of the primary is missing
  writes unavailable for N s: from --primary-stop to the end of the promotion"
# every acknowledged write is in the promoted tree, nothing else
seq 1 "$(cat acked)" | sed 's/^/commit /' >want
cmp -s want target/log || { diff want target/log >&2 | head; fail "acknowledged writes lost"; }
expect_exit 0 rdsnap list s
expect_exit 0 rdpromote history --json s
python3 - out <<'PY'
import json, sys
d = json.loads(open(sys.argv[1]).readline())
steps = [s["step"] for s in d["steps"]]
assert steps == ["preflight", "handover", "fence", "materialize", "verify",
    "validate", "switch", "start", "check", "record"], steps
assert d["rpo"] == 0, d
PY

# a final snapshot that does not reach the standby: refused, nothing changed
expect_exit 0 rdsnap init --standby --no-key s2
expect_exit 0 rdship push p s2
mkdir target2
printf 'old\n' >target2/old
cp s2/catalog.db s2.before
uuid2=$(sqlite3 s2/catalog.db "select value from meta where key = 'uuid'")
expect_exit 69 rdpromote --switchover --primary-stop true \
    --final-snapshot "rdsnap create -q --label \"\$RDPROMOTE_FINAL_LABEL\" '$TMP/p' '$TMP/src'" \
    --no-fence s2 target2
sed -n '/^REFUSED/p' out >got
expect_file got "REFUSED: switchover refused: the final snapshot did not reach this standby (its newest, snapshot 2, is not labelled 'switchover-$uuid2-1': the --final-snapshot command must run 'rdsnap create --label \"\$RDPROMOTE_FINAL_LABEL\"' and push it here); nothing was changed on this standby; the primary's service is STOPPED (by 'true'): start it again on the primary"
[ "$(ls target2)" = old ] && [ "$(cat target2/old)" = old ] ||
    fail "target2 was touched"
[ "$(ls -d target2* .target2* 2>/dev/null)" = target2 ] ||
    fail "a tree was left beside target2: $(ls -a)"
expect_exit 0 rdship status s2
sed -n '1s/ (standby, id [^,]*, epoch \([0-9]*\))/ standby epoch \1/p' out >got
expect_file got "store      s2 standby epoch 1"

# a --primary-stop that fails: refused, the service perhaps partly stopped
expect_exit 69 rdpromote --switchover --primary-stop false \
    --final-snapshot 'echo final >final-ran' --no-fence s2 target2
sed -n '/^REFUSED/p' out >got
expect_file got "REFUSED: switchover refused: the --primary-stop command failed (exit 1); nothing was changed on this standby; the primary's service may be partly stopped (by 'false'): start it again on the primary"
[ ! -e final-ran ] || fail "the final snapshot command ran after a failed stop"
[ "$(ls target2)" = old ] || fail "target2 was touched"

# usage: what a switchover needs
expect_exit 64 rdpromote --switchover --primary-stop true --no-fence s2 t3
expect_file err "rdpromote: --switchover needs --primary-stop CMD (stop the primary's writers) and --final-snapshot CMD (take and ship the last snapshot)
usage: rdpromote [options] store target"
expect_exit 64 rdpromote --primary-stop true --force --no-fence s2 t3
expect_file err "rdpromote: --primary-stop and --final-snapshot are for --switchover
usage: rdpromote [options] store target"
expect_exit 64 rdpromote --switchover --primary-stop true --final-snapshot true \
    --force --no-fence s2 t3
expect_file err "rdpromote: a switchover stops the primary itself: drop --primary and --force
usage: rdpromote [options] store target"

# a switchover that stops at its start step stays open: --resume knows
# it is one (RPO 0, the window from the first run's --primary-stop), and
# --abort says that the primary's service is stopped
for i in 3 4; do
	expect_exit 0 rdsnap init --standby --no-key s$i
	expect_exit 0 rdship push p s$i
	expect_exit 1 rdpromote --switchover --primary-stop true \
	    --final-snapshot "rdsnap create -q --label \"\$RDPROMOTE_FINAL_LABEL\" '$TMP/p' '$TMP/src' && rdship push -q '$TMP/p' '$TMP/s$i'" \
	    --no-fence --start "test -e '$TMP/ok'" --stop true s$i target$i
done
touch ok
expect_exit 0 rdpromote --resume --json s3
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["outcome"] == "done" and d["resumed"] is True, d
s = d["switchover"]
assert s["final_snapshot"] == d["version"] and s["rpo_snapshots"] == 0, s
assert s["final_label"].endswith("-1") and s["unavailable"] > 0, s
assert d["rpo"] == 0 and d["given_up"] == 0, d
assert [(x["step"], x["outcome"]) for x in d["steps"]][:3] == [
    ("preflight", "done"), ("handover", "done"), ("fence", "done")], d
PY
expect_exit 0 rdpromote --abort s4
sed 's/rejected-[0-9TZ]*/rejected-T/' out >got
expect_file got "ABORTED: rolled back: '$TMP/target4' does not exist, as before the promotion; the tree of snapshot 5 is kept as '$TMP/target4.rejected-T'; the store is a standby again (epoch 1); the fence command is not undone; this was a switchover: the primary's service is STOPPED (--primary-stop): start it again on the primary"
