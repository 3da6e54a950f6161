#!/bin/sh
# push over a real ssh: an sshd started by the test on 127.0.0.1 with a
# throwaway host key and user key; the standby ends equal to the primary.
. "$RD_SRCDIR/tests/integration/lib.sh"

SSHD=/usr/sbin/sshd
if [ ! -x "$SSHD" ] || ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null; then
	echo "SKIP: openssh-server and openssh-client are needed" >&2
	exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: sshd for a test user needs root here" >&2
	exit 77
fi
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$TMP/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$TMP/userkey"
cp "$TMP/userkey.pub" "$TMP/authorized_keys"
chmod 600 "$TMP/authorized_keys"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$TMP/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $port
HostKey $TMP/hostkey
AuthorizedKeysFile $TMP/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $TMP/sshd.pid
LogLevel ERROR
CFG
"$SSHD" -D -e -f "$TMP/sshd_config" 2>"$TMP/sshd.log" &
sshd_pid=$!
RD_ON_EXIT='kill $sshd_pid'
RSH="ssh -p $port -i $TMP/userkey -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
n=0
until $RSH 127.0.0.1 true 2>/dev/null; do
	n=$((n + 1))
	[ $n -lt 100 ] || fail "sshd did not come up: $(cat "$TMP/sshd.log")"
	sleep 0.1
done

make_sample_tree src
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
expect_exit 0 rdsnap init --standby --no-key "$TMP/s"
expect_exit 0 rdship keygen k
cp k "$TMP/s/ship.key"
expect_exit 0 rdship push --key k --rsh "$RSH" --remote-rdship "$RD_BUILDDIR/rdship" \
    --apply "$TMP/rep" p "127.0.0.1:$TMP/s"
grep -q "^pushed snapshot 1 to 127.0.0.1:$TMP/s: " out || fail "$(cat out)"
tree_sig src >a
tree_sig "$TMP/rep" >b
cmp -s a b || { diff a b >&2; fail "replica over ssh differs"; }
expect_exit 0 rdsnap restore "$TMP/s" r
tree_sig r >b
cmp -s a b || fail "standby restore over ssh differs"

# a change travels too; a push without the key is refused by the standby
printf 'port = 1\n' >src/etc/app/app.conf
expect_exit 0 rdsnap create p src
expect_exit 77 rdship push --rsh "$RSH" --remote-rdship "$RD_BUILDDIR/rdship" \
    p "127.0.0.1:$TMP/s"
grep -q "^rdship: the receiving store requires a key: give --key$" err ||
    fail "$(cat err)"
expect_exit 0 rdship push --key k --rsh "$RSH" --remote-rdship "$RD_BUILDDIR/rdship" \
    --apply "$TMP/rep" p "127.0.0.1:$TMP/s"
tree_sig src >a
tree_sig "$TMP/rep" >b
cmp -s a b || fail "replica over ssh differs after a change"
