#!/bin/sh
# Everything a server holds comes back exactly, from a restore and from a
# replica after push --apply: extended attributes in every namespace,
# ACLs (access and default), file capabilities, hard links, fifos,
# device nodes, holes, odd names, ns times, long paths; compared
# attribute by attribute with the source and with an rsync -aHAXS copy.
# A change of only an xattr, only an ACL or only a link count is a new
# version that diff shows.  An ordinary user's restore of root's
# snapshot names what it could not keep and exits 3.
. "$RD_SRCDIR/tests/integration/lib.sh"

for t in setfacl getfacl setfattr getfattr setcap getcap rsync; do
	command -v $t >/dev/null || fail "$t is missing (scripts/deps.sh installs it)"
done

mkdir -p src/d/deep src/acl src/deep
printf 'data\n' >src/f
setfattr -n user.colour -v blue src/f
setfattr -n trusted.tag -v secret src/f
setfattr -n security.note -v x src/f
setfacl -m u:nobody:rwx src/f
setfacl -d -m u:nobody:rx src/acl
setfacl -m g:nogroup:r src/acl
cp /bin/true src/bind80
setcap cap_net_bind_service+ep src/bind80
chmod 4755 src/bind80
head -c 70000 /dev/urandom >src/h1
ln src/h1 src/d/h2
ln src/h1 src/d/deep/h3
mkfifo src/fifo
mknod src/null c 1 3
mknod src/loop b 7 200
ln -s f src/sl
truncate -s 1G src/sparse
head -c 65536 /dev/urandom | dd of=src/sparse bs=65536 seek=5000 conv=notrunc status=none
# names: non-UTF-8 bytes, a newline, 255 bytes
printf 'x' >"$(printf 'bad\377\376name')"
mv bad* src/
printf 'y' >"src/new
line"
long=$(printf 'n%.0s' $(seq 255))
printf 'z' >"src/$long"
# a path of more than 4096 bytes (made one directory at a time)
seg=$(printf 'd%.0s' $(seq 250))
(cd src/deep && i=0 && while [ $i -lt 20 ]; do
	mkdir "$seg" && cd "$seg" && i=$((i + 1))
done && printf 'far' >leaf)
# ns times on everything (symlinks too)
find src -depth -execdir touch -h -d '2021-02-03 04:05:06.123456789' {} +

# the tree below $1/deep, through directory fds (its paths are longer
# than PATH_MAX): name, type, mode, mtime and content of each entry
deep() {
	python3 - "$1/deep" <<'PY'
import os, stat, sys
for top, dirs, files, fd in os.fwalk(sys.argv[1]):
    dirs.sort()
    rel = top[len(sys.argv[1]):]
    for n in sorted(dirs + files):
        st = os.stat(n, dir_fd=fd, follow_symlinks=False)
        data = b""
        if stat.S_ISREG(st.st_mode):
            f = os.open(n, os.O_RDONLY, dir_fd=fd)
            data = os.read(f, 100)
            os.close(f)
        print(len(rel), rel[-20:], n[:10], oct(st.st_mode), st.st_mtime_ns,
              data)
PY
}

# every attribute of every entry of tree $1, as the system's tools show
# them, into file $2 (names as od shows their bytes)
sig() {
	(cd "$1" && find . -path ./deep -prune -o -print0 | sort -z | xargs -0 sh -c '
	for e; do
		printf "%s" "$e" | od -An -c
		stat -c "%F %a %u %g %h %t %T %y %s" "$e"
		getfattr -d -m - --absolute-names -h "$e" 2>/dev/null | sed 1d
		if [ -f "$e" ] && [ ! -L "$e" ]; then getcap "$e" | sed "s/^[^ ]* //"; fi
		if [ ! -L "$e" ] && { [ -d "$e" ] || [ -f "$e" ]; }; then
			getfacl -cpn "$e" 2>/dev/null
		fi
	done' sh && if [ -z "${NODEEP:-}" ]; then deep .; fi) >"$2" 2>&1
}
# the hard-link groups of tree $1: a group number and a name, by name
links_of() {
	(cd "$1" && find . -type f -links +1 -printf '%i %p\n' | sort -k2 |
		awk '{ if (!($1 in g)) g[$1] = ++n; print g[$1], $2 }')
}

expect_exit 0 rdsnap init store
expect_exit 0 rdsnap create --quiet store src
expect_empty err
expect_exit 0 rdsnap verify --quiet store
expect_exit 0 rdsnap restore --quiet store rst
expect_empty err
sig src s.src
sig rst s.rst
cmp s.src s.rst || fail "restore differs: $(diff s.src s.rst | head -20)"
[ "$(links_of src)" = "$(links_of rst)" ] || fail "hard links: $(links_of rst)"
[ "$(getcap rst/bind80)" = "rst/bind80 cap_net_bind_service=ep" ] ||
    fail "capability: $(getcap rst/bind80)"
[ "$(stat -c %a rst/bind80)" = 4755 ] || fail "setuid after setcap"
cmp src/sparse rst/sparse || fail "sparse content"
[ "$(stat -c %b rst/sparse)" -lt 1024 ] ||
    fail "sparse file restored with $(stat -c %b rst/sparse) blocks"
[ "$(find rst/deep -name leaf -execdir cat {} \;)" = far ] || fail "long path"
[ "$(find rst/deep -name leaf | wc -c)" -gt 4096 ] || fail "path not long"
grep -q "^5020 .*b'far'$" s.rst || fail "deep tree not compared"

# the same as an rsync -aHAXS --numeric-ids copy (but for the long
# path, which rsync refuses: "filename overflows max-path len")
rsync -aHAXS --numeric-ids --exclude='/deep/*' src/ rs/
NODEEP=1 sig rs s.rs
NODEEP=1 sig rst s.rst.nodeep
cmp s.rs s.rst.nodeep ||
    fail "restore differs from rsync: $(diff s.rs s.rst.nodeep | head)"

# the stored size of the sparse file (its content and its signature):
# close to its 64 KiB of data, not its 1 GiB length.  zstd stores its
# zeros in 32 KB; zlib in 1 MB, deflate's limit (1 byte in 1032)
stored_sparse() {
	sqlite3 "$1/catalog.db" "select c.len + s.len from contents c join entries e on e.sha = c.sha join signatures s on s.sha = c.sha where e.path = CAST('sparse' AS BLOB) and e.last is null"
}
codec_of() {
	sqlite3 "$1/catalog.db" "select value from meta where key = 'codec'"
}
bound_of() {
	case $(codec_of "$1") in
	zstd) echo 262144 ;;
	*) echo $((1024 * 1024 + 131072)) ;;
	esac
}
stored=$(stored_sparse store)
[ "$stored" -lt "$(bound_of store)" ] ||
    fail "1 GiB sparse file with 64 KiB of data stored in $stored bytes ($(codec_of store))"

# push --apply: the replica is the same
expect_exit 0 rdsnap init --standby --no-key standby
expect_exit 0 rdship push --quiet --apply "$TMP/rep" store standby
sig rep s.rep
cmp s.src s.rep || fail "replica differs: $(diff s.src s.rep | head -20)"
[ "$(links_of src)" = "$(links_of rep)" ] || fail "replica hard links"
[ "$(stat -c %b rep/sparse)" -lt 1024 ] ||
    fail "sparse file applied with $(stat -c %b rep/sparse) blocks"

# only an xattr, only an ACL, only a link count: each a new version
change() {
	expect_exit 0 rdsnap create --quiet store src
	expect_exit 0 rdsnap diff store
	expect_file out "$1"
	expect_exit 0 rdship push --quiet --apply "$TMP/rep" store standby
	sig src s.src
	sig rep s.rep
	cmp s.src s.rep || fail "replica after '$1': $(diff s.src s.rep | head)"
}
setfattr -n user.colour -v red src/f
touch -h -d '2021-02-03 04:05:06.123456789' src/f
change "m f xattrs f
added 0 (0 B), removed 0 (0 B), changed 0 (+0 B), metadata-only 1"
setfacl -m u:nobody:r src/acl
touch -h -d '2021-02-03 04:05:06.123456789' src/acl
change "m d xattrs acl
added 0 (0 B), removed 0 (0 B), changed 0 (+0 B), metadata-only 1"
ln src/f src/f2
touch -h -d '2021-02-03 04:05:06.123456789' src/f src
change "m f hardlink=no->yes f
+ f 5 f2
added 1 (5 B), removed 0 (0 B), changed 0 (+0 B), metadata-only 1"
rm src/f2
touch -h -d '2021-02-03 04:05:06.123456789' src
change "m f hardlink=yes->no f
- f 5 f2
added 0 (0 B), removed 1 (5 B), changed 0 (+0 B), metadata-only 1"

# --no-xattrs and --no-acls leave them out (in a zlib store: the sparse
# file is small there too, and restore and apply keep its holes)
expect_exit 0 rdsnap init --quiet --codec zlib plain
expect_exit 0 rdsnap create --quiet --no-xattrs --no-acls plain src
[ "$(codec_of plain)" = zlib ] || fail "plain is not a zlib store"
stored=$(stored_sparse plain)
[ "$stored" -lt "$(bound_of plain)" ] ||
    fail "zlib store: 1 GiB sparse file with 64 KiB of data stored in $stored bytes"
expect_exit 0 rdsnap restore --quiet plain rplain
cmp src/sparse rplain/sparse || fail "zlib store: sparse content"
[ "$(stat -c %b rplain/sparse)" -lt 1024 ] ||
    fail "zlib store: sparse file restored with $(stat -c %b rplain/sparse) blocks"
expect_exit 0 rdsnap init --standby --no-key plainsb
expect_exit 0 rdship push --quiet --apply "$TMP/rplainsb" plain plainsb
cmp src/sparse rplainsb/sparse || fail "zlib store: applied sparse content"
[ "$(stat -c %b rplainsb/sparse)" -lt 1024 ] ||
    fail "zlib store: sparse file applied with $(stat -c %b rplainsb/sparse) blocks"
[ -z "$(getfattr -d -m - --absolute-names -h rplain/f 2>/dev/null)" ] ||
    fail "--no-xattrs --no-acls kept attributes"
expect_exit 0 rdsnap init noacl
expect_exit 0 rdsnap create --quiet --no-acls noacl src
expect_exit 0 rdsnap restore --quiet noacl rnoacl
[ "$(getfattr -n user.colour --only-values rnoacl/f)" = red ] ||
    fail "--no-acls lost user.colour"
[ -z "$(getfattr -n system.posix_acl_access --only-values rnoacl/f 2>/dev/null)" ] ||
    fail "--no-acls kept the ACL"

# an ordinary user restores what it may, names the rest, exits 3
chmod o+x "$TMP"
chown -R nobody store
mkdir u && chown nobody u
expect_exit 3 runuser -u nobody -- rdsnap restore --quiet store u/r
grep -q "^rdsnap: 'null': character device 1:3 not restored: Operation not permitted$" err ||
    fail "device not named: $(cat err)"
grep -q "^rdsnap: 'loop': block device 7:200 not restored: Operation not permitted$" err ||
    fail "block device not named"
grep -q "^rdsnap: 'f': extended attribute 'trusted.tag' not restored: Operation not permitted$" err ||
    fail "trusted.* not named"
grep -q "^rdsnap: 'bind80': extended attribute 'security.capability' (file capabilities) not restored: Operation not permitted$" err ||
    fail "capability not named"
grep -q "^rdsnap: 'bind80': owner 0:0 not restored (not root)$" err ||
    fail "owner not named"
grep -q "^rdsnap: [0-9]* things not restored (see above" err ||
    fail "no summary: $(tail -n 3 err)"
[ "$(stat -c %a u/r/bind80)" = 755 ] || fail "setuid kept on a file nobody owns"
[ -p u/r/fifo ] && [ "$(getfattr -n user.colour --only-values u/r/f)" = red ] ||
    fail "what nobody may restore was not restored"
[ "$(find u/r/deep -name leaf -execdir cat {} \;)" = far ] ||
    fail "long path as nobody"

# a replica that cannot take an attribute: the standby names the entry
# and the attribute, in its status too, and the push exits 3
mkdir src2
printf 'x' >src2/f
setfattr -n trusted.tag -v secret src2/f
setfattr -n user.colour -v blue src2/f
expect_exit 0 rdsnap init --quiet small
expect_exit 0 rdsnap create --quiet small src2
chown -R nobody small
expect_exit 0 runuser -u nobody -- rdsnap init --quiet --standby --no-key u/sb
expect_exit 3 runuser -u nobody -- rdship push --quiet --apply "$TMP/u/rep" small u/sb
expect_file err "rdship: replica: 'f': extended attribute 'trusted.tag' not set: Operation not permitted
rdship: 'u/sb': the replica update could not set everything: replica: 'f': extended attribute 'trusted.tag' not set: Operation not permitted"
[ "$(getfattr -n user.colour --only-values u/rep/f)" = blue ] ||
    fail "the attribute the replica could take was not set"
expect_exit 0 rdship status u/sb
grep -qx "replica    $TMP/u/rep: the update to snapshot 1 could not set 1 attribute: replica: 'f': extended attribute 'trusted.tag' not set: Operation not permitted" out ||
    fail "status: $(cat out)"
# nothing new: 0, and the status still says what the replica lacks
expect_exit 0 runuser -u nobody -- rdship push --quiet --apply "$TMP/u/rep" small u/sb
expect_empty err
expect_exit 0 rdship status --json u/sb
grep -q '"omitted":{"snapshot":1,"count":1,"first":"replica: .f.: extended attribute .trusted.tag. not set: Operation not permitted"}' out ||
    fail "status --json: $(cat out)"
# a bundle received with --apply says the same and exits 3
rdship send --quiet small >u/b.rdb || fail "send: $?"
expect_exit 0 runuser -u nobody -- rdsnap init --quiet --standby --no-key u/sb2
expect_exit 3 runuser -u nobody -- sh -c 'rdship receive --quiet --apply "$1/u/rep2" u/sb2 <u/b.rdb' sh "$TMP"
expect_file err "rdship: replica: 'f': extended attribute 'trusted.tag' not set: Operation not permitted
rdship: replica '$TMP/u/rep2': 1 attribute could not be set (see above)"

# a forged catalog: a hard link to a directory, attributes over the
# kernel's limits: verify finds the damage (1) and names the row; a
# restore names the entry, restores the rest and exits 65
cp -r store forged
sqlite3 forged/catalog.db "update entries set link = 5 where path = CAST('d/' AS BLOB)"
expect_exit 1 rdsnap verify --quiet forged
grep -q "^DAMAGED catalog has a bad row for 'd': a hard link to an entry that is not a regular file$" out ||
    fail "verify: $(cat out)"
cp -r store forged2
sqlite3 forged2/catalog.db "update entries set xattrs = CAST('user.a' AS BLOB) || x'0000010001' || zeroblob(65537) where path = CAST('f' AS BLOB) and last is null"
expect_exit 1 rdsnap verify --quiet forged2
grep -q "^DAMAGED catalog has a bad row for 'f': bad extended attributes$" out ||
    fail "verify: $(cat out)"
expect_exit 65 rdsnap restore --quiet forged2 rforged
grep -q "^rdsnap: not restored: entry 'f' has bad extended attributes in catalog$" err ||
    fail "restore: $(cat err)"
[ -L rforged/sl ] && cmp -s src/bind80 rforged/bind80 || fail "the rest was not restored"
[ ! -e rforged/f ] || fail "the damaged entry was restored"
