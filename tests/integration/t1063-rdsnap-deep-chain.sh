#!/bin/sh
# A file changed in place, version after version, goes on as aligned
# deltas past the store's chain length (8) up to 64 deep, then is stored
# whole: every version restores byte-exact, through a rebuild that
# writes the upper deltas into their base in place; a change that is
# not in place, that deep, is stored whole; damage in a deep link is
# found; a standby takes the deep chain and rebuilds it the same way.
. "$RD_SRCDIR/tests/integration/lib.sh"

depth() {
	sqlite3 p/catalog.db "select depth from contents
	    where sha = x'$(sha256sum src/f | cut -c1-64)'"
}

mkdir src
head -c 1200000 /dev/urandom >src/f
expect_exit 0 rdsnap init --codec zlib p
i=1
while [ $i -le 66 ]; do
	head -c 4096 /dev/urandom |
	    dd of=src/f bs=4096 seek=$((i * 7 % 290)) conv=notrunc 2>/dev/null
	[ $i -ne 40 ] || head -c 5000 /dev/urandom >>src/f # grows: in place
	expect_exit 0 rdsnap create --quiet p src
	cp src/f v$i
	d=$(depth)
	# 1 is whole; 2-65 are deltas, 64 deep at most; 66 starts again
	case $i in
	1 | 66) [ "$d" = 0 ] || fail "version $i at depth $d, not whole" ;;
	*) [ "$d" = $((i - 1)) ] || fail "version $i at depth $d, not $((i - 1))" ;;
	esac
	i=$((i + 1))
done
# verify rebuilds every version; restore those at the edges
expect_exit 0 rdsnap verify --read-data p
for i in 1 2 3 9 10 39 40 41 64 65 66; do
	rdsnap restore --quiet --snapshot $i p r$i f >/dev/null 2>&1 ||
		fail "restore of snapshot $i failed"
	cmp -s r$i/f v$i || fail "snapshot $i does not restore its bytes"
done

# the standby takes the chain as it is and rebuilds it the same way
expect_exit 0 rdsnap init --standby --no-key s
expect_exit 0 rdship push --apply rep p s
cmp -s rep/f src/f || fail "replica differs"
expect_exit 0 rdsnap verify --read-data s
expect_exit 0 rdsnap restore --snapshot 65 s s65 f
cmp -s s65/f v65 || fail "the standby's deepest version differs"

# that deep, a change that is not in place (an insert) is stored whole;
# within the chain length it is a rolling delta
for n in 1 2 3 4 5 6 7 8 9 10; do
	head -c 4096 /dev/urandom |
	    dd of=src/f bs=4096 seek=$n conv=notrunc 2>/dev/null
	expect_exit 0 rdsnap create --quiet p src
done
[ "$(depth)" = 10 ] || fail "depth $(depth), not 10"
{ printf 'inserted'; cat src/f; } >f.new && cat f.new >src/f
expect_exit 0 rdsnap create --quiet p src
[ "$(depth)" = 0 ] || fail "an insert 11 deep was stored at depth $(depth)"
{ printf 'again'; cat src/f; } >f.new && cat f.new >src/f
expect_exit 0 rdsnap create --quiet p src
[ "$(depth)" = 1 ] || fail "an insert within the chain length: depth $(depth)"
# in-place deltas over the rolling one: a chain of both kinds
for n in 3 4; do
	head -c 4096 /dev/urandom |
	    dd of=src/f bs=4096 seek=$n conv=notrunc 2>/dev/null
	expect_exit 0 rdsnap create --quiet p src
done
[ "$(depth)" = 3 ] || fail "depth $(depth), not 3"
expect_exit 0 rdsnap restore p last f
cmp -s last/f src/f || fail "a chain of rolling and in-place deltas"

# one flipped byte in a deep link's literals: the versions above it
# fail to rebuild (65), the ones below do not, and verify finds it
sha=$(sha256sum v30 | cut -c1-64)
set -- $(sqlite3 -separator ' ' p/catalog.db "select p.name, c.off, c.len
    from contents c join packs p on p.id = c.pack where c.sha = x'$sha'")
pos=$(($2 + $3 / 2))
b=$(dd if="p/packs/$1.pack" bs=1 skip=$pos count=1 2>/dev/null |
	od -An -tu1 | tr -d ' ')
printf "\\$(printf '%03o' $(((b + 1) % 256)))" |
    dd of="p/packs/$1.pack" bs=1 seek=$pos conv=notrunc 2>/dev/null
expect_exit 65 rdsnap restore --snapshot 45 p d45 f
grep -q "checksum mismatch" err || fail "restore: $(cat err)"
expect_exit 0 rdsnap restore --snapshot 29 p d29 f
cmp -s d29/f v29 || fail "a version below the damage differs"
expect_exit 1 rdsnap verify --read-data p
