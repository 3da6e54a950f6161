#!/bin/sh
# Fan-out: rdship push STORE DEST1 DEST2 DEST3 ships to each in turn; one
# unreachable destination does not stop the others, the exit status (3)
# and one line on stderr say which failed, status lists what each
# standby has, and a rerun completes the failed one without resending
# to the others.
. "$RD_SRCDIR/tests/integration/lib.sh"

mkdir src
printf 'one\n' >src/a
expect_exit 0 rdsnap init p
expect_exit 0 rdsnap create p src
printf 'two\n' >src/b
expect_exit 0 rdsnap create p src
for i in 1 2 3; do
	expect_exit 0 rdsnap init --standby --no-key s$i
done
# a remote shell that cannot reach a host while $TMP/down-HOST exists
cat >rsh <<RSH
#!/bin/sh
host=\$1
shift
[ ! -e "$TMP/down-\$host" ] || exit 255
exec sh -c "\$*"
RSH
chmod +x rsh
touch down-h2
expect_exit 3 rdship push --rsh "$TMP/rsh" p h1:"$TMP/s1" h2:"$TMP/s2" \
    h3:"$TMP/s3"
expect_file err "rdship: h2:$TMP/s2: failed (exit status 69): the receiving side did not start ($TMP/rsh exited with status 255)
rdship: 1 of 3 destinations failed: rerun the push to complete them"
sed 's/: [0-9].*//' out >pushed
expect_file pushed "pushed snapshots 1-2 to h1:$TMP/s1
pushed snapshots 1-2 to h3:$TMP/s3"
expect_exit 0 rdsnap ls --snapshot 2 s3 b
expect_exit 66 rdsnap ls --snapshot 1 s2 a

# status on the primary: which standby has what, by id
for i in 1 2 3; do
	expect_exit 0 rdship status s$i
	sed -n "1s/^store .*, id \([0-9a-f-]*\),.*/\1/p" out >u$i
done
expect_exit 0 rdship status p
sed -n 's/ (pushed .*//; /^standby/p' out | sort >got
printf 'standby    %s has snapshot 2\n' "$(cat u1)" "$(cat u3)" | sort >want
cmp -s want got || { cat out >&2; fail "status does not list s1 and s3 at 2"; }

# the rerun completes h2 and sends nothing to the others
rm down-h2
expect_exit 0 rdship push --rsh "$TMP/rsh" p h1:"$TMP/s1" h2:"$TMP/s2" \
    h3:"$TMP/s3"
expect_empty err
sed 's/: [0-9].*//' out >pushed
expect_file pushed "'h1:$TMP/s1' is up to date at snapshot 2
pushed snapshots 1-2 to h2:$TMP/s2
'h3:$TMP/s3' is up to date at snapshot 2"
expect_exit 0 rdsnap ls --snapshot 2 s2 b

# a new snapshot pushed to s1 only: s2 and s3 lag by one
printf 'three\n' >src/c
expect_exit 0 rdsnap create p src
expect_exit 0 rdship push p s1
expect_exit 0 rdship status p
sed -n 's/ (pushed [^)]*)//; /^standby/p' out | sort >got
printf 'standby    %s has snapshot %s, lag %s\n' "$(cat u1)" 3 0 \
    "$(cat u2)" 2 1 "$(cat u3)" 2 1 | sort >want
cmp -s want got || { cat out >&2; fail "status lags"; }

# one destination: its own exit status, as before
touch down-h1
expect_exit 69 rdship push --rsh "$TMP/rsh" p h1:"$TMP/s1"
expect_file err "rdship: the receiving side did not start ($TMP/rsh exited with status 255)"
