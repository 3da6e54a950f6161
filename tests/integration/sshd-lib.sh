# shellcheck shell=sh
# Sourced by the tests that ship over a real ssh, after lib.sh: starts an
# sshd on a free 127.0.0.1 port with a throwaway host key and user key,
# sets $sshd_pid and $RSH (an ssh command line that logs in as root with
# that key), and waits until a login works.  Skips (77) without
# openssh-server and openssh-client, or when not root.  The caller stops
# it by its pid ($RD_ON_EXIT).
SSHD=/usr/sbin/sshd
if [ ! -x "$SSHD" ] || ! command -v ssh >/dev/null ||
    ! command -v ssh-keygen >/dev/null; then
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
RSH="ssh -p $port -i $TMP/userkey -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
n=0
until $RSH 127.0.0.1 true 2>/dev/null; do
	n=$((n + 1))
	if [ $n -ge 100 ]; then
		kill "$sshd_pid"
		fail "sshd did not come up: $(cat "$TMP/sshd.log")"
	fi
	sleep 0.1
done
