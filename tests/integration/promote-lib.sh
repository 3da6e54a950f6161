# Shared by the rdpromote tests: a primary store with two snapshots, a
# standby with a warm replica, and helpers for ports and HTTP servers.
# shellcheck shell=sh

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_http PORT DIR PIDFILE: serve DIR on 127.0.0.1:PORT in the background
start_http() {
	python3 -m http.server "$1" --bind 127.0.0.1 --directory "$2" \
	    >/dev/null 2>&1 &
	echo $! >"$3"
	n=0
	until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 1)" 2>/dev/null; do
		n=$((n + 1))
		[ $n -lt 200 ] || fail "http server on $1 did not start"
		sleep 0.05
	done
}

setup_standby() {
	make_sample_tree src
	expect_exit 0 rdsnap init p
	expect_exit 0 rdsnap create p src
	printf 'v2\n' >src/etc/app/app.conf
	expect_exit 0 rdsnap create p src
	tree_sig src >sig2
	expect_exit 0 rdsnap init --standby --no-key s
	expect_exit 0 rdship push --apply "$TMP/rep" p s
}
