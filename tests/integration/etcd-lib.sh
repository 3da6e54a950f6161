# Shared by the tests of several standbys: a real 3-member etcd cluster
# on 127.0.0.1 free high ports, with its data in the test's directory.
# start_etcd sets ETCD_URLS (the client URLs, comma-separated) and
# ETCD1..ETCD3; stop_etcd_member N stops one member; every member still
# running is stopped (by PID) when the test ends, also on failure.
# shellcheck shell=sh

# six free ports on 127.0.0.1, one a line
etcd_ports() {
	python3 -c '
import socket
ss = [socket.socket() for _ in range(6)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in ss))'
}

# skip the test (77 for automake) when etcd is not installed
need_etcd() {
	if ! command -v etcd >/dev/null 2>&1 ||
	    ! command -v etcdctl >/dev/null 2>&1; then
		echo "etcd or etcdctl is not installed: skipped" >&2
		trap - EXIT
		cd /
		rm -rf "$TMP"
		exit 77
	fi
}

stop_etcd_all() {
	for pf in "$TMP"/etcd/*.pid; do
		[ -e "$pf" ] || continue
		kill "$(cat "$pf")" 2>/dev/null || true
		wait "$(cat "$pf")" 2>/dev/null || true
		rm -f "$pf"
	done
}

start_etcd() {
	mkdir -p "$TMP/etcd"
	etcd_ports >"$TMP/etcd/ports"
	cluster=
	cp=
	pp=
	for i in 1 2 3; do
		eval "CP$i=\$(sed -n $((2 * i - 1))p \"\$TMP/etcd/ports\")"
		eval "PP$i=\$(sed -n $((2 * i))p \"\$TMP/etcd/ports\")"
		eval "pp=\$PP$i"
		cluster="${cluster:+$cluster,}m$i=http://127.0.0.1:$pp"
	done
	for i in 1 2 3; do
		eval "cp=\$CP$i; pp=\$PP$i"
		etcd --name "m$i" --data-dir "$TMP/etcd/m$i" \
		    --listen-client-urls "http://127.0.0.1:$cp" \
		    --advertise-client-urls "http://127.0.0.1:$cp" \
		    --listen-peer-urls "http://127.0.0.1:$pp" \
		    --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
		    --initial-cluster "$cluster" \
		    --initial-cluster-token "rdtest-$$" \
		    --initial-cluster-state new \
		    --heartbeat-interval 50 --election-timeout 500 \
		    >"$TMP/etcd/m$i.log" 2>&1 &
		echo $! >"$TMP/etcd/m$i.pid"
		eval "ETCD$i=http://127.0.0.1:$cp"
	done
	ETCD_URLS="$ETCD1,$ETCD2,$ETCD3"
	RD_ON_EXIT="${RD_ON_EXIT:+$RD_ON_EXIT; }stop_etcd_all"
	n=0
	until ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URLS" \
	    --command-timeout 2s put /rdtest/ready 1 >/dev/null 2>&1; do
		n=$((n + 1))
		[ $n -lt 300 ] || fail "etcd did not come up: $(tail -3 "$TMP/etcd/m1.log")"
		sleep 0.1
	done
}

stop_etcd_member() {
	kill "$(cat "$TMP/etcd/m$1.pid")"
	wait "$(cat "$TMP/etcd/m$1.pid")" 2>/dev/null || true
	rm -f "$TMP/etcd/m$1.pid"
}

# etcdctl against the cluster
ectl() {
	ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URLS" --command-timeout 5s "$@"
}

# the store id, the epoch and the role of STORE (from rdship status)
store_field() {
	rdship status "$1" >"$TMP/status.txt" ||
	    fail "rdship status $1 failed"
	sed -n "1s/^store .* (\([a-z]*\), id \([0-9a-f-]*\), epoch \([0-9]*\))\$/$2/p" \
	    "$TMP/status.txt"
}

store_uuid() {
	store_field "$1" '\2'
}

store_epoch() {
	store_field "$1" '\3'
}

store_role() {
	store_field "$1" '\1'
}
