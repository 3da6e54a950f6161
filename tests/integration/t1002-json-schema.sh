#!/bin/sh
# Every --json output of every command validates against its schema in
# docs/json (JSON Schema 2020-12, python3-jsonschema), carries its schema
# version, gives times as RFC 3339 UTC, null for unknown, an empty
# result as valid JSON; a name that is not UTF-8 comes with a base64
# field that gives its bytes back, and is restored by that name.
. "$RD_SRCDIR/tests/integration/lib.sh"
unset REDUND_STORE
python3 -c 'import jsonschema' 2>/dev/null ||
    fail "python3-jsonschema is missing (scripts/deps.sh installs it)"

# check NAME FILE: FILE (one document, or JSON Lines) against NAME's schema
check() {
	python3 - "$RD_SRCDIR/docs/json/$1.schema.json" "$2" <<'PY' ||
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
text = open(sys.argv[2], "rb").read().decode("utf-8")
try:
    docs = [json.loads(text)]
except ValueError:
    docs = [json.loads(l) for l in text.splitlines()]
assert docs, "no JSON"
v = jsonschema.Draft202012Validator(
    schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
for d in docs:
    v.validate(d)
PY
	    fail "$2 does not match docs/json/$1.schema.json: $(cat "$2")"
}

mkdir src
printf 'one' >src/a
printf 'bad' >"src/bad$(printf '\377\376')"
printf 'good' >"src/bad$(printf '\303\277\303\276')"
ln -s a src/link
expect_exit 0 rdsnap init -j s
cp out init.json && check rdsnap-init init.json
expect_exit 0 rdsnap create -j s src
cp out create.json && check rdsnap-create create.json
printf 'two' >src/a
expect_exit 0 rdsnap create -j s src
expect_exit 0 rdsnap list -j s
cp out list.json && check rdsnap-list list.json
expect_exit 0 rdsnap ls -j s
cp out ls.json && check rdsnap-ls ls.json
expect_exit 0 rdsnap diff -j s
cp out diff.json && check rdsnap-diff diff.json
expect_exit 0 rdsnap stats -j s
cp out stats.json && check rdsnap-stats stats.json
expect_exit 0 rdsnap verify -j s
cp out verify.json && check rdsnap-verify verify.json
expect_exit 0 rdsnap verify -j --read-data --subset 50 --seed 7 s
cp out verify-subset.json && check rdsnap-verify verify-subset.json
expect_exit 0 rdsnap find -j s a
cp out find.json && check rdsnap-find find.json
expect_exit 0 rdsnap restore -j s r
cp out restore.json && check rdsnap-restore restore.json
expect_exit 0 rdsnap prune -j -n --keep-last 1 s
cp out prune.json && check rdsnap-prune prune.json
mkfifo src/fifo
expect_exit 0 rdsnap create -q s src
expect_empty err
expect_exit 0 rdsnap problems -j s
# a fifo is skipped, not a problem: no record, and no output
expect_empty out

# times: RFC 3339 UTC beside the Unix seconds; null for unknown
python3 - create.json stats.json <<'PY'
import json, sys, calendar, time
c = json.load(open(sys.argv[1]))
assert c["started_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ",
    time.gmtime(c["started"])), c
s = json.load(open(sys.argv[2]))
assert s["newest_at"].endswith("Z") and s["oldest_at"] <= s["newest_at"], s
PY
expect_exit 0 rdsnap init empty
expect_exit 0 rdsnap stats -j empty
cp out stats-empty.json && check rdsnap-stats stats-empty.json
python3 - stats-empty.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["oldest_at"] is None and s["newest_time"] is None, s
PY
expect_exit 0 rdsnap list -j empty
expect_file out "[]"

# a name that is not UTF-8: lossy text plus its bytes in base64, so that
# it differs from the UTF-8 name that reads the same
python3 - ls.json >names <<'PY'
import base64, json, sys
seen = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    raw = base64.b64decode(e["path_base64"]) if "path_base64" in e \
        else e["path"].encode("utf-8")
    assert raw not in seen, raw
    seen[raw] = e
bad = seen[b"bad\xff\xfe"]
good = seen["badÿþ".encode("utf-8")]
assert bad["path"] == good["path"] == "badÿþ", (bad, good)
assert "path_base64" in bad and "path_base64" not in good, (bad, good)
assert bad["path_base64"] == "YmFk//4=", bad
sys.stdout.buffer.write(base64.b64decode(bad["path_base64"]) + b"\n")
PY
name=$(cat names)
expect_exit 0 rdsnap restore s back "$name"
cmp -s back/"$name" src/"$name" || fail "the decoded name did not restore"
[ ! -e "back/bad$(printf '\303\277\303\276')" ] ||
    fail "the UTF-8 twin was restored too"
# in text the bytes are escaped, one rule for every tool
expect_exit 0 rdsnap ls s "$name"
cut -d' ' -f6 out >name.txt
expect_file name.txt 'bad\xff\xfe'

# rdship
expect_exit 0 rdsnap init --standby --no-key sb
rdship send -j s >bundle 2>send.json || fail "send: $(cat send.json)"
check rdship-send send.json
expect_exit 0 rdship receive -j sb <bundle
cp out receive.json && check rdship-receive receive.json
expect_exit 0 rdship push -j s sb
cp out push.json && check rdship-push push.json
expect_exit 0 rdsnap init fp
expect_exit 0 rdsnap init --standby --no-key fs
expect_exit 0 rdship follow -j --interval 1 --cycles 1 fp src fs
cp out follow.json && check rdship-follow follow.json
expect_exit 0 rdship status -j sb
cp out status.json && check rdship-status status.json
expect_exit 0 rdship status -j empty
cp out status-empty.json && check rdship-status status-empty.json
# an origin's status: a standby that confirmed, a destination that failed
expect_exit 66 rdship push s nowhere
expect_exit 0 rdship status -j s
cp out status-origin.json && check rdship-status status-origin.json
python3 - status-empty.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["newest_time"] is None and s["newest_at"] is None, s
assert s["last_ship"] is None and s["last_ship_at"] is None, s
PY

# rdwatch: one-shot and loop records, and the report (empty too)
expect_exit 0 rdwatch -j 'exec:true'
cp out watch.json && check rdwatch watch.json
expect_exit 0 rdwatch -i 0.01 -c 2 -f 1 -j --record sb 'exec:false'
cp out loop.json && check rdwatch loop.json
expect_exit 0 rdwatch report -j sb
cp out report.json && check rdwatch-report report.json
expect_exit 0 rdwatch report -j -q s
cp out report-empty.json && check rdwatch-report report-empty.json
expect_file out '{"schema":"rdwatch-report/1","targets":[]}'

# rdpromote: a dry run (no promotion: RTO and RPO unknown), a drill, history
expect_exit 0 rdpromote --drill -n -j sb scratch
cp out plan.json && check rdpromote plan.json
expect_exit 0 rdpromote --switchover -n -j --primary-stop true \
    --final-snapshot true --no-fence sb switched
cp out plan-switchover.json && check rdpromote plan-switchover.json
python3 - plan-switchover.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d["switchover"]
assert s["final_snapshot"] is None and s["unavailable"] is None, s
assert [x["step"] for x in d["steps"]][:3] == ["preflight", "handover", "fence"], d
PY
python3 - plan.json <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["rto"] is None and p["rpo"] is None, p
assert p["snapshot_at"].endswith("Z"), p
PY
expect_exit 0 rdpromote --drill -j sb scratch
cp out drill.json && check rdpromote drill.json
expect_exit 0 rdpromote history -j sb
cp out history.json && check rdpromote-history history.json
