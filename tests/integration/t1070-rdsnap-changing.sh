#!/bin/sh
# A file that keeps changing while it is read is retried, then reported;
# the snapshot completes for the rest.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir src
printf 'stable\n' >src/stable
head -c 3000000 /dev/urandom >src/busy
expect_exit 0 rdsnap init store
cat >writer.py <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY)
open("started", "w").close()
end = time.time() + 60
while time.time() < end and not os.path.exists("stop"):
    os.pwrite(fd, os.urandom(1), 12345)
    time.sleep(0.00005)
PY
python3 writer.py src/busy &
writer=$!
while [ ! -e started ]; do sleep 0.02; done
expect_exit 0 rdsnap create --json store src
touch stop
wait $writer
expect_file err "rdsnap: 'busy' kept changing while it was read; stored as last read"
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["inconsistent"] == 1, d
assert d["files"] == 3, d
PY
unstable=$(sqlite3 store/catalog.db "select unstable from entries where path = cast('busy' as blob)")
[ "$unstable" = 1 ] || fail "entry not marked unstable"
expect_exit 0 rdsnap verify --read-data store
expect_exit 0 rdsnap restore store rst stable
[ "$(cat rst/stable)" = stable ] || fail "stable file"
# the next snapshot reads the file again even though it looks unchanged
expect_exit 0 rdsnap create --json store src
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bytes_read"] == 3000000 and d["inconsistent"] == 0, d
PY
