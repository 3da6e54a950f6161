#!/bin/sh
# Loop mode: scripted up/down sequences give exactly the expected
# transitions (rise/fall damping, no flap on single failures), hooks run
# once per transition, in order, one at a time per target, with the
# documented environment; text and JSON output.
. "$RD_SRCDIR/tests/integration/lib.sh"

# seq.sh NAME: the Nth run exits with the Nth number of NAME.seq (0 after)
cat >seq.sh <<'SH'
n=$(cat "$1.count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$1.count"
code=$(awk -v n="$n" '{ print $n }' "$1.seq")
exit "${code:-0}"
SH
# hook.sh HOOK: record the environment; detect overlapping runs
cat >hook.sh <<'SH'
name=${RDWATCH_TARGET##* }
mkdir "lock.$name" 2>/dev/null || echo "OVERLAP" >>"hooks.$name"
printf '%s target=%s state=%s previous=%s reason=%s\n' "$1" \
    "$RDWATCH_TARGET" "$RDWATCH_STATE" "$RDWATCH_PREVIOUS" \
    "$RDWATCH_REASON" >>"hooks.$name"
sleep 0.1
rmdir "lock.$name"
SH
# a: down for three rounds, back for two; b: single failures only
echo '0 0 1 0 1 1 1 0 0 0 0 0' >a.seq
echo '0 0 1 0 0 1 0 1 0 0 1 0' >b.seq
# the inherited value must not leak through
RDWATCH_REASON=stale
export RDWATCH_REASON

expect_exit 0 rdwatch --interval 0.02 --count 12 --fall 3 --rise 2 \
    --on-up 'sh hook.sh on-up' --on-down 'sh hook.sh on-down' \
    --on-change 'sh hook.sh on-change' 'exec:sh seq.sh a' 'exec:sh seq.sh b'
cut -d' ' -f2- out >lines
expect_file lines 'exec:sh seq.sh a unknown -> up
exec:sh seq.sh b unknown -> up
exec:sh seq.sh a up -> down exit 1
exec:sh seq.sh a down -> up'
if grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z ' out; then
	fail "lines without a timestamp"
fi
expect_empty err
expect_file a.count 12
expect_file b.count 12
expect_file hooks.a 'on-up target=exec:sh seq.sh a state=up previous=unknown reason=
on-change target=exec:sh seq.sh a state=up previous=unknown reason=
on-down target=exec:sh seq.sh a state=down previous=up reason=exit 1
on-change target=exec:sh seq.sh a state=down previous=up reason=exit 1
on-up target=exec:sh seq.sh a state=up previous=down reason=
on-change target=exec:sh seq.sh a state=up previous=down reason='
expect_file hooks.b 'on-up target=exec:sh seq.sh b state=up previous=unknown reason=
on-change target=exec:sh seq.sh b state=up previous=unknown reason='

# fall 1 / rise 1 follows every change; a failing hook is reported
rm -f a.count hooks.a
echo '1 0 0 1' >a.seq
expect_exit 0 rdwatch -i 0.02 -c 4 -f 1 -r 1 --on-down 'exit 7' \
    'exec:sh seq.sh a'
cut -d' ' -f2- out >lines
expect_file lines 'exec:sh seq.sh a unknown -> down exit 1
exec:sh seq.sh a down -> up
exec:sh seq.sh a up -> down exit 1'
expect_file err "rdwatch: --on-down hook for 'exec:sh seq.sh a' failed: exit 7
rdwatch: --on-down hook for 'exec:sh seq.sh a' failed: exit 7"

# --verbose: every result too
rm -f a.count
echo '0 1 1 1' >a.seq
expect_exit 0 rdwatch -i 0.02 -c 4 -v 'exec:sh seq.sh a'
cut -d' ' -f2- out | sed 's/ [0-9][0-9]*\.[0-9] ms/ L ms/' >lines
expect_file lines 'exec:sh seq.sh a up L ms
exec:sh seq.sh a down L ms exit 1
exec:sh seq.sh a down L ms exit 1
exec:sh seq.sh a down L ms exit 1
exec:sh seq.sh a unknown -> down exit 1'

# JSON: a result per probe per round, plus transition events
rm -f a.count b.count
echo '0 0 1 1 1 0 0' >a.seq
echo '1 0 1 0 1 0 1' >b.seq
expect_exit 0 rdwatch -i 0.02 -c 7 --json 'exec:sh seq.sh a' \
    'exec:sh seq.sh b'
python3 - <<'PY' || fail "JSON lines: $(cat out)"
import json
events = [json.loads(l) for l in open("out").read().splitlines()]
results = [(e["target"][-1], e["state"]) for e in events
           if e["type"] == "result"]
assert results == [(t, s) for r in zip("uuddduu", "dududud")
                   for t, s in zip("ab", ["up" if c == "u" else "down"
                                         for c in r])], results
trans = [(e["target"], e["previous"], e["state"], e["reason"],
          e["transitions"]) for e in events if e["type"] == "transition"]
assert trans == [
    ("exec:sh seq.sh a", "unknown", "up", None, 1),
    ("exec:sh seq.sh a", "up", "down", "exit 1", 2),
    ("exec:sh seq.sh a", "down", "up", None, 3),
], trans
# each transition comes right after the result that caused it
i = [n for n, e in enumerate(events) if e["type"] == "transition"]
assert [events[n - 1]["target"] for n in i] == ["exec:sh seq.sh a"] * 3
assert all(set(e) == {"schema", "type", "time", "target", "previous", "state",
                      "reason", "transitions"} for e in events
           if e["type"] == "transition")
PY
