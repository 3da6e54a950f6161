#!/bin/sh
# A live PostgreSQL under pgbench load (scale 1, 20 s), snapshotted with
# the backup-API recipe (examples/postgresql: pg-bracket, pg.exclude),
# pushed with --apply to an unkeyed standby; the primary is killed
# (pg_ctl stop -m immediate) and rdpromote fences, validates
# (pg-validate: scratch start, pg_amcheck --heapallindexed, the pgbench
# invariant), starts and checks the copy.  The promoted cluster passes
# pg_amcheck, sum(abalance) = sum(tbalance) = sum(bbalance) = sum(delta),
# and holds every transaction committed before its snapshot began and
# none that was never acknowledged.  The commits lost are measured and
# printed to the log.  Servers run as the postgres user on free ports of
# 127.0.0.1 and are stopped by PID at the end.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: runs PostgreSQL as the postgres user: needs root" >&2
	exit 77
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/pg_ctl" ] || ! id postgres >/dev/null 2>&1; then
	echo "SKIP: PostgreSQL is not installed (scripts/deps.sh installs it)" >&2
	exit 77
fi
EX=$RD_SRCDIR/examples/postgresql
chmod o+x "$TMP"
mkdir pg
chown postgres pg
PGS=$TMP/pg
pg() {
	runuser -u postgres -- "$@"
}

# stop a server by the PID in its postmaster.pid, and pgbench by its own
stop_pid() {
	pid=$1
	kill -INT "$pid" 2>/dev/null || return 0
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -KILL "$pid" 2>/dev/null || true
}
stop_all() {
	[ -z "${bench:-}" ] || kill -KILL "$bench" 2>/dev/null || true
	for d in "$PGS/primary" "$PGS/promoted"; do
		if [ -f "$d/postmaster.pid" ]; then
			stop_pid "$(sed 1q "$d/postmaster.pid")"
		fi
	done
}
RD_ON_EXIT=stop_all

P1=$(free_port)
P2=$(free_port)
pg "$PGBIN/initdb" -D "$PGS/primary" -U postgres -A trust -E UTF8 \
    --no-sync >/dev/null || fail "initdb failed"
cat >>"$PGS/primary/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $P1
unix_socket_directories = '$PGS'
# a process crash is the failure here; the page cache survives it
fsync = off
# small, so that checkpoints recycle WAL during the run
max_wal_size = 48MB
min_wal_size = 32MB
EOF
pg "$PGBIN/pg_ctl" -D "$PGS/primary" -l "$PGS/primary.log" -w start \
    >/dev/null || fail "the primary does not start"
pg "$PGBIN/pgbench" -i -s 1 -q -h "$PGS" -p "$P1" postgres >/dev/null 2>&1 ||
    fail "pgbench -i failed"
q1() {
	pg "$PGBIN/psql" -X -A -t -h "$PGS" -p "$P1" -d postgres -c "$1"
}

expect_exit 0 rdsnap init store
expect_exit 0 rdsnap init --standby --no-key standby

# 20 s of load; snapshots and pushes one after the other meanwhile
pg "$PGBIN/pgbench" -n -c 2 -j 2 -T 40 -l --log-prefix="$PGS/bench" \
    -h "$PGS" -p "$P1" postgres >"$PGS/bench.out" 2>&1 &
bench=$!
t0=$(date +%s)
snaps=0
while :; do
	before=$(q1 "SELECT count(*) FROM pgbench_history")
	expect_exit 0 rdsnap create --quiet --exclude-from "$EX/pg.exclude" \
	    --may-change '*' \
	    --bracket "$EX/pg-bracket -h $PGS -p $P1" store "$PGS/primary"
	snaps=$((snaps + 1))
	expect_exit 0 rdship push --quiet --apply "$TMP/replica" store standby
	[ $(($(date +%s) - t0)) -lt 20 ] || break
done
kill -0 "$bench" 2>/dev/null || fail "pgbench ended before the primary failed: $(cat "$PGS/bench.out")"
[ "$before" -gt 0 ] || fail "no transaction before the last snapshot"

# the failure
pg "$PGBIN/pg_ctl" -D "$PGS/primary" -m immediate -w stop >/dev/null ||
    fail "pg_ctl stop -m immediate failed"
crash=$(date +%s.%N)
failed_at=$(date -u -d "@$crash" +%Y-%m-%dT%H:%M:%S.%NZ)
wait "$bench" || true
bench=
# every transaction that pgbench saw committed (failed ones say so)
acked=$(cat "$PGS"/bench.* | awk '$3 ~ /^[0-9]+$/' | wc -l)

# the snapshots hold their own WAL, and nothing of the live pg_wal
expect_exit 0 rdsnap ls store pg_wal
awk '{ print $1, $NF }' out | sed 's/[0-9A-F]\{24\}$/SEGMENT/' | sort -u >wal
expect_file wal "d pg_wal
f pg_wal/SEGMENT"
expect_exit 0 rdsnap ls store backup_label
expect_exit 66 rdsnap ls store postmaster.pid

INV="SELECT (SELECT sum(abalance) FROM pgbench_accounts) = (SELECT sum(tbalance) FROM pgbench_tellers) AND (SELECT sum(tbalance) FROM pgbench_tellers) = (SELECT sum(bbalance) FROM pgbench_branches) AND (SELECT sum(bbalance) FROM pgbench_branches) = (SELECT coalesce(sum(delta), 0) FROM pgbench_history)"
cat >fence <<EOF
#!/bin/sh
# the old primary is down for good: pg_ctl status says 3, not running
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGS/primary" status >/dev/null
test \$? -eq 3
EOF
cat >start <<EOF
#!/bin/sh
exec runuser -u postgres -- "$PGBIN/pg_ctl" -D "\$RDPROMOTE_TARGET" \
    -l "$PGS/promoted.log" -w -o "-p $P2" start
EOF
cat >stop <<EOF
#!/bin/sh
exec runuser -u postgres -- "$PGBIN/pg_ctl" -D "\$RDPROMOTE_TARGET" -m fast -w stop
EOF
chmod +x fence start stop
expect_exit 0 rdpromote --primary "tcp://127.0.0.1:$P1" --fence "$TMP/fence" \
    --validate "$EX/pg-validate \"\$RDPROMOTE_COPY\" '$INV'" \
    --start "$TMP/start" --stop "$TMP/stop" \
    --check "exec:runuser -u postgres -- $PGBIN/pg_isready -q -h 127.0.0.1 -p $P2" \
    --failed-at "$failed_at" --heartbeat backup_label \
    standby "$PGS/promoted"
grep -q "^  validate     ok .* the --validate command passed$" out ||
    fail "validate did not pass: $(cat out)"
grep -q "^  check        ok .* is up$" out || fail "check did not pass: $(cat out)"
grep -q "^PROMOTED: '$PGS/promoted' holds snapshot $snaps " out ||
    fail "not promoted: $(cat out)"
grep -q "pg-validate: '.*' started, passed pg_amcheck --heapallindexed and 1 invariant(s), and stopped" err ||
    fail "pg-validate said: $(cat err)"

# the promoted cluster, running: its own check, the invariant, the data
q2() {
	pg "$PGBIN/psql" -X -A -t -h 127.0.0.1 -p "$P2" -d postgres -c "$1"
}
pg "$PGBIN/pg_amcheck" -h 127.0.0.1 -p "$P2" --all --heapallindexed ||
    fail "pg_amcheck found damage in the promoted cluster"
[ "$(q2 "$INV")" = t ] || fail "the pgbench invariant does not hold"
promoted=$(q2 "SELECT count(*) FROM pgbench_history")
[ "$promoted" -ge "$before" ] ||
    fail "the promoted cluster has $promoted transactions, fewer than the $before committed before its snapshot began"
# at most one unacknowledged commit per client
[ "$promoted" -le $((acked + 2)) ] ||
    fail "the promoted cluster has $promoted transactions, more than the $acked acknowledged"
newest=$(q2 "SELECT extract(epoch FROM max(mtime)) FROM pgbench_history")
lost_s=$(python3 -c "print('%.1f' % ($crash - $newest))")
given=$(sed -n 's/^  data given up: \([0-9.]* s\) .*/\1/p' out)
echo "measured: $snaps snapshots under load; the primary acknowledged $acked commits," \
    "the promoted cluster holds $promoted: $((acked - promoted)) commits lost," \
    "$lost_s s from its newest commit to the failure; rdpromote: data given up $given" >&2
