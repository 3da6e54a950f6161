#!/bin/sh
# create's progress line on a terminal (with an estimate of the time left
# once there is a newest snapshot to measure against), nothing when
# standard error is not a terminal, the --json summary, and labels in
# list and --json.
. "$RD_SRCDIR/tests/integration/lib.sh"

command -v script >/dev/null 2>&1 || fail "script(1) is needed to run on a terminal"
mkdir src
i=0
while [ $i -lt 20 ]; do
	head -c 1000 /dev/zero | tr '\0' "$(printf '\\%o' $((i + 65)))" >src/f$i
	i=$((i + 1))
done
expect_exit 0 rdsnap init store

# the first snapshot: files, bytes and rate, but nothing to estimate from
expect_exit 0 script -qec "rdsnap create --label nightly store src" /dev/null
tr '\r' '\n' <out >lines
grep -Eq '^.\[K[0-9]+ files, [0-9.]+ [KMGT]?i?B, [0-9.]+ [KMGT]?i?B/s$' lines ||
    fail "no progress line: $(cat lines)"
if grep -q 'ETA' lines; then
	fail "an estimate without a newest snapshot: $(cat lines)"
fi
grep -q 'snapshot 1: 21 entries, 19.5 KiB; 21 new or changed, 0 removed' lines ||
    fail "no summary: $(cat lines)"

# nothing changed: the progress line counts against snapshot 1's size
expect_exit 0 script -qec "rdsnap create store src" /dev/null
tr '\r' '\n' <out >lines
grep -Eq '^.\[K[0-9]+ of 21 files, [0-9.]+ [KMGT]?i?B of 19\.5 KiB, [0-9.]+ [KMGT]?i?B/s, ETA ([0-9]+h)?([0-9]+m)?[0-9]+s$' lines ||
    fail "no progress line with an estimate: $(cat lines)"

# --quiet, and standard error that is not a terminal: no progress line
expect_exit 0 script -qec "rdsnap create --quiet store src" /dev/null
expect_empty out
expect_exit 0 rdsnap create store src
expect_empty err

# the --json summary: counts, bytes read and stored, seconds, the label
printf 'changed' >src/f0
expect_exit 0 rdsnap create --json --label 'after upgrade' store src
expect_empty err
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(d) == sorted(["schema", "id", "started", "finished",
    "started_at", "finished_at", "seconds", "files",
    "bytes", "bytes_read", "bytes_added", "stored", "changed", "removed",
    "inconsistent", "partial", "skipped", "label"]), d
assert d["id"] == 5 and d["files"] == 21 and d["changed"] == 1, d
assert d["schema"] == "rdsnap-create/1", d
assert d["bytes"] == 19 * 1000 + 7 and d["bytes_read"] == 7, d
assert d["bytes_added"] == 7 and d["stored"] > 0, d
assert d["removed"] == 0 and d["skipped"] == 0, d
assert isinstance(d["seconds"], float) and d["seconds"] >= 0, d
assert d["label"] == "after upgrade", d
PY

# labels in list and list --json
expect_exit 0 rdsnap list store
sed -n '2,$s/^ *\([0-9]*\) .* s  complete  /\1 /p' out >labels
expect_file labels "1 nightly
2 
3 
4 
5 after upgrade"
expect_exit 0 rdsnap list --json store
python3 - out <<'PY'
import json, sys
labels = [s["label"] for s in json.load(open(sys.argv[1]))]
assert labels == ["nightly", None, None, None, "after upgrade"], labels
PY
