#!/bin/sh
# End to end: a standby with a warm replica, the primary's service down,
# a promotion with fence, start and check hooks; the target equals the
# snapshot, the service comes up, the record has RTO and RPO, the epoch
# is raised and the old primary's next push is refused.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

setup_standby
P1=$(free_port)
P2=$(free_port)
mkdir www
start_http "$P1" www primary.pid
kill "$(cat primary.pid)"
wait "$(cat primary.pid)" 2>/dev/null || true
mkdir target
printf 'old data\n' >target/old

cat >hook.sh <<HOOK
#!/bin/sh
env | grep '^RDPROMOTE_' | sort >"$TMP/\$1.env"
HOOK
chmod +x hook.sh
RD_ON_EXIT='kill $(cat service.pid)'
expect_exit 0 rdpromote --json --primary "tcp://127.0.0.1:$P1" \
    --fence "$TMP/hook.sh fence" \
    --validate "$TMP/hook.sh validate && test \"\$(cat \"\$RDPROMOTE_COPY/etc/app/app.conf\")\" = v2" \
    --start "$TMP/hook.sh start && python3 -m http.server $P2 --bind 127.0.0.1 --directory \"\$RDPROMOTE_TARGET\" >/dev/null 2>&1 & echo \$! >$TMP/service.pid" \
    --stop "kill \$(cat $TMP/service.pid)" \
    --check "http://127.0.0.1:$P2/etc/app/app.conf?contains=v2" \
    --check-timeout 30 s target
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["outcome"] == "done" and d["version"] == 2, d
assert d["epoch"] == 2, d
assert d["used_replica"] is True, d
assert d["rto"] > 0 and d["rpo"] >= 0, d
assert d["validated"] is True and d["no_fence"] is False, d
assert [s["step"] for s in d["steps"]] == ["preflight", "fence", "materialize",
    "verify", "validate", "switch", "start", "check", "record"], d
assert all(s["outcome"] == "ok" for s in d["steps"]), d
assert d["aside"].startswith(d["target"] + ".pre-promote-"), d
assert d["failed_at"] is None and d["given_up_exact"] is False, d
PY
tree_sig target >got
cmp -s sig2 got || { diff sig2 got >&2; fail "target differs from snapshot 2"; }
aside=$(ls -d target.pre-promote-*)
[ "$(cat "$aside/old")" = "old data" ] || fail "old target not kept"
[ ! -e rep ] || fail "the warm replica was copied, not moved"
expect_file fence.env "RDPROMOTE_EPOCH=1
RDPROMOTE_SNAPSHOT=2
RDPROMOTE_STORE=$TMP/s
RDPROMOTE_TARGET=$TMP/target"
expect_file validate.env "RDPROMOTE_COPY=$TMP/.target.rdpromote
RDPROMOTE_EPOCH=2
RDPROMOTE_SNAPSHOT=2
RDPROMOTE_STORE=$TMP/s
RDPROMOTE_TARGET=$TMP/target"
expect_file start.env "RDPROMOTE_EPOCH=2
RDPROMOTE_SNAPSHOT=2
RDPROMOTE_STORE=$TMP/s
RDPROMOTE_TARGET=$TMP/target"
python3 -c "import urllib.request; assert urllib.request.urlopen('http://127.0.0.1:$P2/etc/app/app.conf').read() == b'v2\n'"

# the record
state=$(sqlite3 s/catalog.db "select kind, version, state, epoch, rto > 0, rpo >= 0, validated from promotions")
[ "$state" = "promote|2|done|2|1|1|1" ] || fail "promotions row: $state"
steps=$(sqlite3 s/catalog.db "select count(*) from promotion_steps where outcome = 'ok'")
[ "$steps" = 9 ] || fail "journal has $steps ok steps"
expect_exit 0 rdpromote history s
grep -q "^1  promote  snapshot 2  .*  done  $TMP/target  RTO " out || fail "$(cat out)"
grep -q "^    kept tree $TMP/$aside (the target before the promotion)$" out ||
    fail "history lacks the kept tree: $(cat out)"
grep -q "^remove a kept tree with: rdpromote remove-tree s PATH$" out ||
    fail "history lacks how to remove a kept tree"

# the promoted store is a primary now; the old primary is refused
expect_exit 0 rdship status --json s
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["role"] == "primary" and d["epoch"] == 2, d
PY
printf 'late write\n' >src/late
expect_exit 0 rdsnap create p src
expect_exit 77 rdship push p s
expect_file err "rdship: receiver: bundle has epoch 1, older than this store's epoch 2: its sender was superseded by a promotion"
expect_exit 0 rdsnap create s target
expect_exit 0 rdsnap verify --read-data s
