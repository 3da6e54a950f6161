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

# build_shim: the LD_PRELOAD library of promote-shim.c, as $TMP/shim.so,
# and $TMP/shim CMD..., which runs (execs) CMD with it preloaded (an ASan
# build accepts it after its own runtime)
build_shim() {
	cc -shared -fPIC -o "$TMP/shim.so" \
	    "$RD_SRCDIR/tests/integration/promote-shim.c" -ldl ||
	    fail "cannot build the test shim"
	cat >"$TMP/shim" <<SHIM
#!/bin/sh
ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS
exec env LD_PRELOAD="$TMP/shim.so" "\$@"
SHIM
	chmod +x "$TMP/shim"
}

# A hook that hangs the first time it runs, after creating $TMP/in-NAME
# (the test kills it there), and passes every later time: once NAME.
make_once() {
	cat >"$TMP/once" <<ONCE
#!/bin/sh
if [ ! -e "$TMP/ran-\$1" ]; then
	touch "$TMP/ran-\$1"
	echo \$\$ >"$TMP/hookpid.\$1"
	touch "$TMP/in-\$1"
	exec sleep 120
fi
exit \${2:-0}
ONCE
	chmod +x "$TMP/once"
}

# kill_at MARK CMD...: run CMD in the background until the file MARK
# exists, then kill -9 it and the hook it was waiting for
kill_at() {
	mark=$1
	shift
	rm -f "$mark"
	"$@" >killed.out 2>killed.err &
	pid=$!
	n=0
	until [ -e "$mark" ]; do
		n=$((n + 1))
		[ $n -lt 1200 ] ||
		    fail "never reached $mark: $(cat killed.out killed.err)"
		sleep 0.05
	done
	kill -9 $pid
	wait $pid 2>/dev/null || true
	for f in "$TMP"/hookpid.*; do
		[ -e "$f" ] || continue
		kill -9 "$(cat "$f")" 2>/dev/null || true
		rm -f "$f"
	done
}

# journal ID: "state:step" of promotion ID
journal() {
	sqlite3 s/catalog.db "select state || ':' || step from promotions where id = $1"
}

epoch() {
	sqlite3 s/catalog.db "select value from meta where key = 'epoch'"
}
