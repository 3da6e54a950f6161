#!/bin/sh
# A live SQLite database in WAL mode (sqlite-bank.py: numbered transfers
# with chained checksums), snapshotted with the recipe of
# examples/sqlite (sqlite-bracket, the live database and its -wal, -shm
# and -journal excluded): 20 snapshots under load, each restored copy
# passes sqlite-validate (integrity_check and the bank's invariants),
# holds every transfer committed before its snapshot began and none that
# was not committed by its end, and a drill with --validate passes.  The
# README's old recipe (a --pre ".backup" with only the database
# excluded) ships the live -wal: once its copy is renamed into place, the
# stale WAL is replayed onto it, and rdpromote --validate refuses it.  The
# writes between the backup and the copy are made by the pre hook itself,
# so the outcome does not depend on timing.
. "$RD_SRCDIR/tests/integration/lib.sh"

EX=$RD_SRCDIR/examples/sqlite
BANK=$RD_SRCDIR/tests/integration/sqlite-bank.py
export BANK
LIVE="--exclude /bank.db --exclude /bank.db-wal --exclude /bank.db-shm --exclude /bank.db-journal"
INV1="SELECT sum(balance) = 100000 FROM accounts"
INV2="SELECT count(*) = coalesce(max(id), 0) FROM transfers"
stop_all() {
	touch "$TMP/stop" "$TMP/stop2"
	for p in ${writer:-} ${holder:-}; do
		wait "$p" 2>/dev/null || true
	done
}
RD_ON_EXIT=stop_all

mkdir app
printf 'mode = live\n' >app/app.conf
python3 "$BANK" init app/bank.db
expect_exit 0 rdsnap init store

# 20 snapshots under load
python3 "$BANK" run app/bank.db committed "$TMP/stop" &
writer=$!
i=0
while [ ! -s committed ] && [ $i -lt 600 ]; do
	sleep 0.05
	i=$((i + 1))
done
[ -s committed ] || fail "the writer commits nothing"
: >bounds
for n in $(seq 1 20); do
	before=$(wc -l <committed)
	# shellcheck disable=SC2086
	expect_exit 0 rdsnap create --quiet $LIVE \
	    --bracket "$EX/sqlite-bracket bank.db" store app
	expect_empty err
	echo "$n $before $(wc -l <committed)" >>bounds
done
kill -0 "$writer" || fail "the writer stopped during the snapshots"
touch "$TMP/stop"
wait "$writer"
writer=

# each: no live -wal or -shm, the database's own checks, a prefix of the
# committed transfers between the two bounds
while read -r n before after; do
	expect_exit 0 rdsnap restore --quiet --snapshot "$n" store "r$n"
	[ ! -e "r$n/bank.db-wal" ] && [ ! -e "r$n/bank.db-shm" ] ||
	    fail "snapshot $n holds a live -wal or -shm"
	expect_exit 0 "$EX/sqlite-validate" "r$n/bank.db" "$INV1" "$INV2"
	expect_file err "sqlite-validate: 'r$n/bank.db' passed integrity_check, foreign_key_check and 2 invariant(s)"
	expect_file "r$n/app.conf" "mode = live"
done <bounds
python3 "$BANK" check $(seq -f 'r%g/bank.db' 1 20) >counts ||
    fail "the transfers of a snapshot are not a prefix"
paste bounds counts >joined
while read -r n before after k; do
	[ "$k" -ge "$before" ] && [ "$k" -le "$after" ] ||
	    fail "snapshot $n holds $k transfers; $before were committed before it began, $after by its end"
done <joined

# and as rdpromote proves it, in a drill
expect_exit 0 rdpromote --drill \
    --validate "$EX/sqlite-validate \"\$RDPROMOTE_COPY/bank.db\" '$INV1' '$INV2'" \
    store "$TMP/drill"
grep -q "^  validate     ok .* the --validate command passed$" out ||
    fail "the drill did not validate: $(cat out)"

# The old recipe, with the interleaving that breaks it: the pre hook
# backs up, then the application commits transfers, a checkpoint restarts
# the WAL and more transfers follow, all before the copy reads the live
# -wal.  The application keeps the database open, as a live one does.
mkdir naive
python3 "$BANK" init naive/bank.db
python3 "$BANK" hold naive/bank.db held "$TMP/stop2" &
holder=$!
i=0
while [ ! -e held ] && [ $i -lt 600 ]; do
	sleep 0.05
	i=$((i + 1))
done
[ -e held ] || fail "the application does not open its database"
python3 "$BANK" steps naive/bank.db 200
cat >writes <<'EOF'
python3 "$BANK" steps bank.db 50 --restart && python3 "$BANK" steps bank.db 50
EOF
expect_exit 0 rdsnap init store2
expect_exit 0 rdsnap create --quiet \
    --pre "sqlite3 bank.db '.backup bank.db.snap' && sh $TMP/writes" \
    --post 'rm -f bank.db.snap' --exclude /bank.db store2 naive
expect_exit 0 rdsnap ls store2
awk '{ print $NF }' out >names
expect_file names ".
bank.db-shm
bank.db-wal
bank.db.snap"
# its restore procedure: the copy renamed into place, next to the -wal
cat >naive-validate <<EOF
#!/bin/sh
mv "\$RDPROMOTE_COPY/bank.db.snap" "\$RDPROMOTE_COPY/bank.db" &&
exec "$EX/sqlite-validate" "\$RDPROMOTE_COPY/bank.db" '$INV1' '$INV2'
EOF
chmod +x naive-validate
expect_exit 1 rdpromote --drill --validate "$TMP/naive-validate" store2 \
    "$TMP/drill2"
grep -qxF "sqlite-validate: invariant does not hold (0): $INV2" err ||
    fail "the naive copy was not refused for its missing transfers: $(cat err)"
grep -q "^  validate     failed" out || fail "validate did not fail: $(cat out)"

# the recipe, with the same interleaving: the copy has all 300
expect_exit 0 rdsnap init store3
# shellcheck disable=SC2086
expect_exit 0 rdsnap create --quiet --pre "sh $TMP/writes" $LIVE \
    --bracket "$EX/sqlite-bracket bank.db" store3 naive
expect_exit 0 rdsnap restore --quiet store3 recipe
expect_exit 0 "$EX/sqlite-validate" recipe/bank.db "$INV1" "$INV2"
expect_file err "sqlite-validate: 'recipe/bank.db' passed integrity_check, foreign_key_check and 2 invariant(s)"
k=$(python3 "$BANK" check recipe/bank.db) || fail "the recipe's copy is damaged"
[ "$k" = 400 ] || fail "the recipe's copy holds $k transfers, not 400"

# the recipe refuses to run without the live files excluded
expect_exit 65 rdsnap create --quiet \
    --bracket "$EX/sqlite-bracket bank.db" store3 naive
expect_file err "rdsnap: bracket file 'bank.db' is also in the source (exclude it there)"
