#!/bin/sh
# The stream's own fields are checked: a stream of another format
# version is refused with 69 naming both versions; a HELLO with an origin
# that is not a store id (escape sequences), an epoch at or past 2^62,
# or an impossible range is damage (65); a signature without its content
# is damage, not an internal error.  A hostile responder's message is
# printed with its control characters as '?', and a responder whose
# store id is not one is refused and not recorded; a label's and a
# reason's control characters arrive as '?', and status prints a
# catalog's strings tamed.  A partial snapshot arrives partial, with its
# problems; a catalog epoch out of range is damage.  Each refusal leaves the store as
# it was, and the next real push works.
. "$RD_SRCDIR/tests/integration/lib.sh"

PYTHONPATH="$RD_SRCDIR/tests/integration"
export PYTHONPATH
state() {
	{
		sqlite3 s/catalog.db .dump
		ls -l s/packs
	} >"$1"
}
mkdir src
printf 'a\n' >src/a
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create --quiet p src
expect_exit 0 rdsnap init --standby --no-key s
expect_exit 0 rdship push --quiet p s
origin=$(sqlite3 p/catalog.db "select value from meta where key = 'uuid'")
export origin
state before

# another version of the format
expect_exit 0 rdship send --since 1 p
printf 'RDSHIP1\n' >v1.rdb
tail -c +9 out >>v1.rdb
expect_exit 69 rdship receive s <v1.rdb
expect_file err "rdship: stream format version 1 is not supported (this rdship reads version 3): use the same redund release on both sides"
# version 2 lacked the devices, hard links and extended attributes
printf 'RDSHIP2\n' >v2.rdb
tail -c +9 out >>v2.rdb
expect_exit 69 rdship receive s <v2.rdb
expect_file err "rdship: stream format version 2 is not supported (this rdship reads version 3): use the same redund release on both sides"
printf 'RDSHIPX\n' >bad.rdb
expect_exit 65 rdship receive s <bad.rdb
expect_file err "rdship: not an rdship stream"

hello() {
	python3 - "$@" <<'PY' >evil.rdb
import os, sys
from forge import *
origin, epoch, since, newest = sys.argv[1], int(sys.argv[2]), \
    int(sys.argv[3]), int(sys.argv[4])
if origin == "ESC":
    # 36 characters, as an id, that would clear a terminal and retitle it
    origin = ("\x1b[2J\x1b]0;owned\x07" + "0" * 36)[:36]
b = Bundle(origin, epoch=epoch, since=since, newest=newest)
b.snap(2)
b.end()
sys.stdout.buffer.write(b.bytes())
PY
}
for c in "ESC 1 1 2:its origin is not a store id" \
    "$origin 4611686018427387904 1 2:impossible epoch, snapshot range or mode in its HELLO" \
    "$origin 9223372036854775807 1 2:impossible epoch, snapshot range or mode in its HELLO" \
    "$origin 0 1 2:impossible epoch, snapshot range or mode in its HELLO" \
    "$origin 1 3 2:impossible epoch, snapshot range or mode in its HELLO"; do
	# shellcheck disable=SC2086
	hello ${c%%:*}
	expect_exit 65 rdship receive s <evil.rdb
	expect_file err "rdship: stream is damaged: ${c#*:}"
	state after
	cmp before after || fail "hello ${c%%:*}: the store changed"
done
expect_exit 0 rdsnap list --json s
python3 -c 'import json; assert json.load(open("out"))[-1]["id"] == 1'
[ "$(sqlite3 s/catalog.db "select value from meta where key = 'epoch'")" = 1 ] ||
	fail "the epoch moved"

# a signature whose content is not sent
python3 - <<'PY' >sig.rdb
import os, sys
from forge import *
b = Bundle(os.environ["origin"], since=1, newest=2)
b.obj(SIG, 0, 16, bytes(16), os.urandom(32), extra=4096)
b.snap(2)
b.end()
sys.stdout.buffer.write(b.bytes())
PY
expect_exit 65 rdship receive s <sig.rdb
grep -q '^rdship: stream is damaged: a signature of [0-9a-f]\{64\} without its content$' err ||
	fail "signature: $(cat err)"
state after
cmp before after || fail "the lone signature changed the store"

# a hostile responder: its refusal message and its store id come from
# the stream, and never reach the terminal raw or the catalog
cat >fake-serve <<'PY'
import sys
from forge import *
case = sys.argv[1]
esc = b"\x1b[2J\x1b]0;owned\x07"
if case == "message":
    answer_have(2, b"no " + esc + b"thanks", b"0" * 36)
else:
    answer_have(0, b"", (esc + b"0" * 36)[:36])
PY
expect_exit 65 rdship push --rsh "python3 fake-serve message" p h:s
expect_file err "rdship: receiver: no ?[2J?]0;owned?thanks"
expect_exit 65 rdship push --rsh "python3 fake-serve uuid" p h:s
expect_file err "rdship: malformed answer from the receiver: its store id or newest snapshot is impossible"
[ -z "$(sqlite3 p/catalog.db "select key from meta where key like 'standby:%' and key <> 'standby:$(sqlite3 s/catalog.db "select value from meta where key = 'uuid'")'")" ] ||
	fail "the hostile responder was recorded as a standby"

# a partial snapshot is shipped as partial, with its problems
chmod 755 "$TMP"
chown -R nobody p src
printf 'b\n' >src/b
chown nobody src/b
chmod 000 src/a
expect_exit 3 runuser -u nobody -- rdsnap create --quiet p src
expect_exit 0 rdship push --quiet p s
expect_exit 0 rdsnap list --json s
python3 -c '
import json
d = json.load(open("out"))[-1]
assert d["id"] == 2 and d["partial"] == 1, d'
expect_exit 0 rdsnap problems s
expect_file out "unreadable  a: Permission denied"
expect_exit 0 rdship status s
grep -q '^newest     snapshot 2 (.*), partial: some paths could not be read$' out ||
	fail "status does not show partial: $(cat out)"
expect_exit 0 rdship status --json s
python3 -c '
import json
d = json.load(open("out"))
assert d["newest_partial"] == 1 and d["newest_inconsistent"] == 0, d'
expect_exit 0 rdship status --json p
python3 -c '
import json
d = json.load(open("out"))
assert d["newest"] == 2 and d["newest_partial"] == 1, d' 
expect_exit 0 rdsnap restore s r
[ "$(cat r/a r/b)" = "a
b" ] || fail "the standby's partial snapshot does not restore"
expect_exit 0 rdsnap verify --read-data s

# a label and a problem's reason are text for people: their control
# characters arrive as '?'; a catalog's strings print tamed
python3 - <<'PY' >label.rdb
import os, sys
from forge import *
b = Bundle(os.environ["origin"], epoch=1, since=2, newest=3)
b.snap(3, label=b"nightly\x1b[2J", counts=[0] * 9 + [1])
b.problems((3, b"a", b"unreadable", b"gone\x1b]0;owned\x07"))
b.end()
sys.stdout.buffer.write(b.bytes())
PY
expect_exit 0 rdship receive s <label.rdb
[ "$(sqlite3 s/catalog.db "select label from snapshots where id = 3")" = "nightly?[2J" ] ||
	fail "the label arrived raw"
expect_exit 0 rdsnap problems --snapshot 3 s
expect_file out "unreadable  a: gone?]0;owned?"
sqlite3 s/catalog.db "update meta set value = 'x' || char(27) || '[2J' where key = 'origin'"
expect_exit 0 rdship status s
grep -q '^origin     x?\[2J$' out || fail "status printed the origin raw: $(cat out)"

# a catalog whose epoch no bundle or promotion can make is damage, not
# a negative number
cp -a s s2
sqlite3 s2/catalog.db "update meta set value = '9223372036854775807' where key = 'epoch'"
expect_exit 65 rdship status s2
expect_file err "rdship: store 's2' has an impossible epoch '9223372036854775807'"
sqlite3 s2/catalog.db "update meta set value = '-1' where key = 'epoch'"
expect_exit 65 rdship status s2
expect_file err "rdship: store 's2' has an impossible epoch '-1'"
