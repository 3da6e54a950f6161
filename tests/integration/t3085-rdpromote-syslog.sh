#!/bin/sh
# --syslog on rdpromote and rdwatch, as on rdsnap and rdship: an incident
# leaves an audit trail.  The tools run in a mount namespace of their own
# whose /dev/log is a socket of this test, so the system's log is left
# alone; where namespaces cannot be made the test is skipped.
. "$RD_SRCDIR/tests/integration/lib.sh"
. "$RD_SRCDIR/tests/integration/promote-lib.sh"

if [ "$(id -u)" -ne 0 ] || ! unshare -m true 2>/dev/null; then
	echo "SKIP: t3085-rdpromote-syslog: needs root and mount namespaces" >&2
	exit 77
fi
setup_standby
mkdir target

cat >listen.py <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[1] + ".ready", "w").close()
with open(sys.argv[1], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536).rstrip(b"\n") + b"\n")
PY
# run in the namespace: a /dev of its own, the listener, then each line
# of "commands", whose status goes to status.N; wait for $1 log lines
cat >inner.sh <<INNER
set -u
cd "$TMP"
mount --make-rprivate /
mkdir realdev
mount --bind /dev realdev
mount -t tmpfs tmpfs /dev
for n in null zero full random urandom; do
	touch /dev/\$n
	mount --bind realdev/\$n /dev/\$n
done
ln -s /proc/self/fd /dev/fd
python3 listen.py "$TMP/log" &
listener=\$!
n=0
until [ -e "$TMP/log.ready" ]; do
	n=\$((n + 1))
	[ \$n -lt 600 ] || exit 1
	sleep 0.05
done
i=0
while read -r cmd; do
	i=\$((i + 1))
	eval "\$cmd" >out.\$i 2>err.\$i
	echo \$? >status.\$i
done <commands
n=0
until [ "\$(wc -l <log)" -ge "\$1" ]; do
	n=\$((n + 1))
	[ \$n -lt 600 ] || break
	sleep 0.05
done
kill \$listener
INNER
cat >commands <<'CMDS'
rdpromote --syslog --force --fence true s target
rdpromote --syslog --force --no-fence s target2
rdpromote --syslog --snapshot 9 --force --no-fence s target3
rdwatch --syslog tcp://127.0.0.1:1
rdwatch --syslog --interval 0.1 --count 2 --fall 1 tcp://127.0.0.1:1
CMDS
unshare -m sh inner.sh 14 || fail "the namespace could not be set up"
for i in 1 2 3 4 5; do
	[ -e "status.$i" ] || fail "command $i did not run"
done
[ "$(cat status.1 status.2 status.3 status.4 status.5 | tr '\n' ' ')" = "0 1 66 1 0 " ] ||
    fail "statuses: $(cat status.*)"
sed 's/^<\([0-9]*\)>[A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]* \([a-z]*\)\[[0-9]*\]: /<\1> \2: /' log >msgs
if grep -vq '^<[0-9]*> rd[a-z]*: ' msgs; then
	fail "unexpected log lines: $(cat msgs)"
fi
rpo=$(sed -n 's/^  RPO \([0-9]*\) s: .*/\1/p' out.1)
for line in \
    "<29> rdpromote: promote: fence ok: fence command succeeded; epoch is now 2" \
    "<29> rdpromote: promote: materialize ok: warm replica $TMP/rep, moved into place" \
    "<29> rdpromote: promote: validate ok: no --validate command: the application's data was NOT checked" \
    "<29> rdpromote: promote: PROMOTED: '$TMP/target' holds snapshot 2, RPO $rpo s, epoch 2, NOT VALIDATED" \
    "<29> rdpromote: promote REFUSED: store 's' is not a standby: it is a primary (promoted already, or never a standby); nothing to promote" \
    "<27> rdpromote: no snapshot 9 in 's'" \
    "<29> rdwatch: tcp://127.0.0.1:1 down: connection refused" \
    "<29> rdwatch: tcp://127.0.0.1:1 unknown -> down: connection refused"; do
	grep -qxF "$line" msgs || fail "not logged: $line
$(cat msgs)"
done
[ "$(grep -c '^<29> rdpromote: promote: [a-z]* ok: ' msgs)" = 9 ] ||
    fail "not every step was logged: $(cat msgs)"
