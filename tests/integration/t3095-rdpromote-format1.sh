#!/bin/sh
# The promotion journal of a store made by the first landed catalog
# format (the fixture's primary holds a drill) still reads after the
# migration: history shows the drill with its steps, it journaled no
# options and ran no --validate, so rdwatch's drill: probe does not count
# it; a new drill with --validate on the migrated store does.
. "$RD_SRCDIR/tests/integration/lib.sh"

tar xzf "$RD_SRCDIR/tests/fixtures/format1-stores.tar.gz"
[ "$(sqlite3 primary/catalog.db 'PRAGMA user_version')" = 1 ] ||
    fail "the fixture is not of format 1"
expect_exit 0 rdpromote history --json primary
expect_empty err
[ "$(sqlite3 primary/catalog.db 'PRAGMA user_version')" = 4 ] ||
    fail "the catalog was not migrated"
python3 - out <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 1, lines
d = lines[0]
assert d["id"] == 1 and d["kind"] == "drill" and d["version"] == 2, d
assert d["state"] == "done" and d["validated"] is None, d
assert d["rto"] > 0 and d["rpo"] > 0, d
assert [s["step"] for s in d["steps"]] == ["preflight", "fence", "materialize",
    "verify", "switch", "start", "check", "record"], d
assert all(s["outcome"] == "ok" for s in d["steps"]), d
assert d["steps"][2]["detail"].startswith("restored snapshot 2 into "), d
assert d["options"] == {} and d["events"] == [] and d["trees"] == [], d
assert "given_up" not in d, d
PY
expect_exit 0 rdpromote history primary
head -n1 out >first
grep -q "^1  drill    snapshot 2  .*  done  .*/drill  RTO [0-9.]* s  RPO [0-9]* s$" first ||
    fail "$(cat out)"
[ "$(grep -c '^    [a-z]* *ok ' out)" = 8 ] || fail "$(cat out)"

expect_exit 1 rdwatch drill:primary
grep -q "^drill:primary down .* no validated drill recorded$" out || fail "$(cat out)"
expect_exit 0 rdpromote --drill --validate 'test -f "$RDPROMOTE_COPY/a.txt"' primary drill2
expect_exit 0 rdwatch 'drill:primary?max-age=1h'
expect_exit 0 rdpromote history --json primary
python3 - out <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [(d["id"], d["validated"]) for d in lines] == [(1, None), (2, True)], lines
assert lines[1]["options"] == {"check-timeout": "60", "hook-timeout": "300",
    "probe-timeout": "5", "validate": 'test -f "$RDPROMOTE_COPY/a.txt"',
    "verify": "full"}, lines[1]
assert len(lines[1]["steps"]) == 9, lines[1]
PY
