#!/bin/sh
# A restore that cannot keep owners (an ordinary user, or --no-owner)
# never hands out setuid or setgid rights to whoever restores: the bits
# are dropped, each file is named, and restore exits 3.  A file whose
# owner and group the restored file gets anyway keeps them.
. "$RD_SRCDIR/tests/integration/lib.sh"

chmod 755 "$TMP"
mkdir src
printf 'root tool\n' >src/suid-root
chmod 4755 src/suid-root
printf 'group tool\n' >src/sgid-root
chmod 2755 src/sgid-root
printf 'own tool\n' >src/suid-nobody
chown 65534:65534 src/suid-nobody
chmod 6750 src/suid-nobody
printf 'plain\n' >src/plain
chmod 640 src/plain
expect_exit 0 rdsnap init store
expect_exit 0 rdsnap create --quiet store src
# a store of root's snapshots that an ordinary user may open
chown -R nobody store

# as root, owners and bits are kept
expect_exit 0 rdsnap restore --quiet store r-root
expect_empty err
[ "$(stat -c '%a %u' r-root/suid-root r-root/suid-nobody)" = "4755 0
6750 65534" ] || fail "root restore: $(stat -c '%n %a %u' r-root/*)"

# as an ordinary user
mkdir u && chown nobody u
expect_exit 3 runuser -u nobody -- rdsnap restore --quiet store u/r
# (writers run in parallel: the order of the named files may vary)
sort err >err.sorted
expect_file err.sorted "rdsnap: '.': owner 0:0 not restored (not root)
rdsnap: 'plain': owner 0:0 not restored (not root)
rdsnap: 'sgid-root' restored without its setuid/setgid bits: its owner 0:0 is not kept
rdsnap: 'sgid-root': owner 0:0 not restored (not root)
rdsnap: 'suid-root' restored without its setuid/setgid bits: its owner 0:0 is not kept
rdsnap: 'suid-root': owner 0:0 not restored (not root)
rdsnap: 2 files restored without setuid/setgid bits (restore as root to keep owners and bits)
rdsnap: 4 things not restored (see above)"
[ "$(stat -c '%n %a %u' u/r/* | sort)" = "u/r/plain 640 65534
u/r/sgid-root 755 65534
u/r/suid-nobody 6750 65534
u/r/suid-root 755 65534" ] || fail "user restore: $(stat -c '%n %a %u' u/r/*)"
for f in plain sgid-root suid-nobody suid-root; do
	cmp src/$f u/r/$f || fail "$f content"
done

# as root with --no-owner: the files are root's, the bits still go
expect_exit 3 rdsnap restore --no-owner --json store r-noown
python3 - out <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["setid_dropped"] == 1 and d["files"] == 5, d
PY
[ "$(stat -c '%n %a %u' r-noown/* | sort)" = "r-noown/plain 640 0
r-noown/sgid-root 2755 0
r-noown/suid-nobody 750 0
r-noown/suid-root 4755 0" ] || fail "--no-owner restore: $(stat -c '%n %a %u' r-noown/*)"
