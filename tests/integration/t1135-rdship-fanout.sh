#!/bin/sh
# Fan-out: rdship push STORE DEST1 DEST2 DEST3 ships to each in turn; one
# unreachable destination does not stop the others, the exit status (3)
# and one line on stderr say which failed, status lists what each
# standby has and names the failing destination with its count of
# failures in a row and the last reason, and a rerun completes the
# failed one without resending to the others and resets its failures.
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
# times masked: T
mask() {
	sed -n 's/(pushed [^)]*)/(pushed T)/
	    s/the last at [0-9-]* [0-9:]* +0000/the last at T/
	    /^standby/p' out | sort
}
# "got" holds the status's standby lines: do they equal $1, in any order?
expect_standbys() {
	printf '%s\n' "$1" | sort >want
	cmp -s want got || { diff want got >&2; fail "status's standbys"; }
}
expect_exit 0 rdship status p
mask >got
expect_standbys "standby    $(cat u1) has snapshot 2 (pushed T), lag 0 via h1:$TMP/s1
standby    $(cat u3) has snapshot 2 (pushed T), lag 0 via h3:$TMP/s3
standby    h2:$TMP/s2 has no confirmed snapshot, 1 failure in a row, the last at T: the receiving side did not start ($TMP/rsh exited with status 255)"
# a second failure counts on
expect_exit 3 rdship push --rsh "$TMP/rsh" p h2:"$TMP/s2" h3:"$TMP/s3"
expect_exit 0 rdship status --json p
python3 - out "$TMP" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["unconfirmed"]) == 1, d
s = d["unconfirmed"][0]
assert s["destination"] == "h2:%s/s2" % sys.argv[2], s
assert "uuid" not in s and "snapshot" not in s, s
assert s["failures"] == 2, s
assert s["last_failure_reason"] == "the receiving side did not start (%s/rsh exited with status 255)" % sys.argv[2], s
assert s["last_failure"] > 0 and s["last_failure_at"].endswith("Z"), s
ok = sorted((x["destination"], x["snapshot"], x["failures"], x["last_failure"])
    for x in d["standbys"])
assert ok == [("h%d:%s/s%d" % (i, sys.argv[2], i), 2, 0, None)
    for i in (1, 3)], d
PY

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
# its failures reset; the last one's time and reason stay in --json
expect_exit 0 rdship status p
mask >got
expect_standbys "standby    $(cat u1) has snapshot 2 (pushed T), lag 0 via h1:$TMP/s1
standby    $(cat u2) has snapshot 2 (pushed T), lag 0 via h2:$TMP/s2
standby    $(cat u3) has snapshot 2 (pushed T), lag 0 via h3:$TMP/s3"

# a new snapshot pushed to s1 only: s2 and s3 lag by one
printf 'three\n' >src/c
expect_exit 0 rdsnap create p src
expect_exit 0 rdship push p s1
expect_exit 0 rdship status p
sed -n 's/ (pushed [^)]*)//; s/ via .*//; /^standby/p' out | sort >got
printf 'standby    %s has snapshot %s, lag %s\n' "$(cat u1)" 3 0 \
    "$(cat u1)" 3 0 "$(cat u2)" 2 1 "$(cat u3)" 2 1 | sort >want
cmp -s want got || { cat out >&2; fail "status lags"; }

# one destination: its own exit status, as before
touch down-h1
expect_exit 69 rdship push --rsh "$TMP/rsh" p h1:"$TMP/s1"
expect_file err "rdship: the receiving side did not start ($TMP/rsh exited with status 255)"
# a standby that confirmed snapshot 3 and then failed: both told
expect_exit 0 rdship status p
mask >got
expect_standbys "standby    $(cat u1) has snapshot 3 (pushed T), lag 0 via h1:$TMP/s1, 1 failure in a row, the last at T: the receiving side did not start ($TMP/rsh exited with status 255)
standby    $(cat u1) has snapshot 3 (pushed T), lag 0 via s1
standby    $(cat u2) has snapshot 2 (pushed T), lag 1 via h2:$TMP/s2
standby    $(cat u3) has snapshot 2 (pushed T), lag 1 via h3:$TMP/s3"
