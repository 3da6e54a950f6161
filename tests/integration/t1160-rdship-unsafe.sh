#!/bin/sh
# A bundle whose entries point outside the store or replica (absolute
# paths, "..", a path through a symlink) is refused, even when every
# frame is intact.  The bundles are forged here with the format's public
# zero key, as an attacker without a key could.
. "$RD_SRCDIR/tests/integration/lib.sh"

expect_exit 0 rdsnap init --standby --no-key s
cat >forge.py <<'PY'
import hashlib, hmac, os, struct, sys

def u64(v): return struct.pack("<Q", v)
def bstr(b): return u64(len(b)) + b

nonce = os.urandom(16)
out = [b"RDSHIP3\n", bytes([0]), nonce]
seq = 0
def frame(t, payload):
    global seq
    mac = hmac.new(bytes(32), b"I" + u64(seq) + nonce + bytes([ord(t)]) +
                   u64(len(payload)) + payload, hashlib.sha256).digest()
    out.append(bytes([ord(t)]) + u64(len(payload)) + payload + mac)
    seq += 1

origin = b"00000000-0000-4000-8000-000000000001"
frame("H", bstr(origin) + u64(1) + u64(0) + u64(0) + u64(1) + u64(0b11))
frame("S", u64(1) + struct.pack("<d", 1e9) + struct.pack("<d", 1e9 + 1) +
      bstr(b"") + bstr(b"/src") + b"".join(u64(0) for _ in range(10)))
rows = u64(0)  # placeholder
def row(path, typ, target=b""):
    return (bstr(path) + u64(1) + u64(0) + u64(ord(typ)) + u64(0o755) +
            u64(0) + u64(0) + u64(len(target)) + u64(0) + bstr(b"") +
            bstr(target) + u64(0) + u64(0) + u64(0) + bstr(b""))
path = sys.argv[1].encode()
typ = sys.argv[2]
frame("E", row(b"", "d") + row(path, typ, b"x" if typ == "l" else b""))
frame("Z", u64(0) + u64(1) + u64(2) + u64(0) + u64(0))
sys.stdout.buffer.write(b"".join(out))
PY
sqlite3 s/catalog.db .dump >before
for spec in "/etc/evil/ d" "../evil/ d" "a/../../evil/ d" "./x/ d" "a//b/ d" "evil l"; do
	p=${spec% *}
	t=${spec#* }
	python3 forge.py "$p" "$t" >evil.rdb
	if [ "$p" = "evil" ]; then
		# a well-formed bundle: accepted (the forging itself is right)
		expect_exit 0 rdship receive --apply rep s <evil.rdb
		[ -L rep/evil ] || fail "forged symlink not applied"
		continue
	fi
	expect_exit 65 rdship receive --apply rep s <evil.rdb
	grep -q "^rdship: bundle has an unsafe path" err || fail "$p: $(cat err)"
	sqlite3 s/catalog.db .dump >after
	cmp -s before after || fail "unsafe bundle '$p' changed the catalog"
done
[ ! -e /etc/evil ] && [ ! -e evil ] && [ ! -e ../evil ] || fail "wrote outside"
