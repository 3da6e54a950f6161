#!/bin/sh
# --metrics: the file is Prometheus text exposition format (checked by a
# strict parser), rewritten atomically each round, with escaped labels.
. "$RD_SRCDIR/tests/integration/lib.sh"

# start the test servers; wait for their ports
python3 "$RD_SRCDIR/tests/integration/rdwatch-servers.py" $$ \
    silent:open refused:closed &
for name in open closed; do
	i=0
	while [ ! -s "$name.port" ]; do
		i=$((i + 1))
		[ "$i" -le 600 ] || fail "server $name did not start"
		sleep 0.05
	done
done
open=$(cat open.port)
closed=$(cat closed.port)

# check.py FILE EXPECTED: parse FILE strictly; compare samples to EXPECTED
# ("metric target value" lines, target last-but-one, NaN allowed)
cat >check.py <<'PY'
import math, re, sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
text = open(sys.argv[1], "rb").read().decode("utf-8")
assert text.endswith("\n"), "no final newline"
families, samples, order = {}, {}, []
current = None
for n, line in enumerate(text[:-1].split("\n"), 1):
    where = "line %d: %r" % (n, line)
    if line.startswith("#"):
        m = re.fullmatch(r"# (HELP|TYPE) (%s) (.*)" % NAME, line)
        assert m, where
        kind, name, rest = m.groups()
        fam = families.setdefault(name, {})
        assert kind not in fam, "second %s: %s" % (kind, where)
        assert name not in order or order[-1] == name, where
        if kind == "TYPE":
            assert rest in ("counter", "gauge", "histogram", "summary",
                            "untyped"), where
            assert not any(s[0] == name for s in samples), where
        else:
            assert re.fullmatch(r"([^\\\n]|\\\\|\\n)*", rest), where
        fam[kind] = rest
        if name not in order:
            order.append(name)
        current = name
        continue
    m = re.fullmatch(r"(%s)(\{(.*)\})? (\S+)( -?\d+)?" % NAME, line)
    assert m, where
    name, _, labels, value = m.group(1, 2, 3, 4)
    assert name == current, "sample outside its family: " + where
    assert families[name].get("TYPE"), where
    if families[name]["TYPE"] == "counter":
        assert name.endswith("_total"), where
    parsed = {}
    rest = labels or ""
    while rest:
        m2 = re.match(r'(%s)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)' % LABEL,
                      rest)
        assert m2, "labels: " + where
        key, raw = m2.group(1, 2)
        assert key not in parsed, where
        parsed[key] = re.sub(r"\\(.)", lambda e: {"n": "\n"}.get(
            e.group(1), e.group(1)), raw)
        rest = rest[m2.end():]
    if value in ("NaN", "+Inf", "-Inf"):
        v = float(value.replace("Inf", "inf"))
    else:
        assert re.fullmatch(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", value), \
            where
        v = float(value)
    key = (name, tuple(sorted(parsed.items())))
    assert key not in samples, "duplicate series: " + where
    samples[key] = v

got = sorted("%s %s %s" % (k[0], dict(k[1])["target"],
                           "NaN" if math.isnan(v) else
                           ("%g" % v if k[0] != "rdwatch_latency_seconds"
                            else "L"))
             for k, v in samples.items())
want = sorted(open(sys.argv[2]).read().splitlines())
assert got == want, "\n".join(["got:"] + got + ["want:"] + want)
for name in ("rdwatch_up", "rdwatch_latency_seconds",
             "rdwatch_consecutive_failures", "rdwatch_transitions_total"):
    assert families[name].get("HELP") and families[name].get("TYPE"), name
for k, v in samples.items():
    if k[0] == "rdwatch_latency_seconds":
        assert 0 <= v < 5, (k, v)
PY

mkdir prom
expect_exit 0 rdwatch -i 0.02 -c 3 --fall 2 --rise 2 -m prom/rdwatch.prom \
    "tcp://127.0.0.1:$open" "tcp://127.0.0.1:$closed" 'exec:true "q" \x'
cat >want <<EOF2
rdwatch_up tcp://127.0.0.1:$open 1
rdwatch_up tcp://127.0.0.1:$closed 0
rdwatch_up exec:true "q" \\x 1
rdwatch_latency_seconds tcp://127.0.0.1:$open L
rdwatch_latency_seconds tcp://127.0.0.1:$closed L
rdwatch_latency_seconds exec:true "q" \\x L
rdwatch_consecutive_failures tcp://127.0.0.1:$open 0
rdwatch_consecutive_failures tcp://127.0.0.1:$closed 3
rdwatch_consecutive_failures exec:true "q" \\x 0
rdwatch_transitions_total tcp://127.0.0.1:$open 1
rdwatch_transitions_total tcp://127.0.0.1:$closed 1
rdwatch_transitions_total exec:true "q" \\x 1
EOF2
python3 check.py prom/rdwatch.prom want || fail "metrics: $(cat prom/rdwatch.prom)"
promtool check metrics <prom/rdwatch.prom >promtool.out 2>&1 ||
    fail "promtool: $(cat promtool.out)"
grep -q '^rdwatch_up{target="exec:true \\"q\\" \\\\x"} 1$' prom/rdwatch.prom ||
    fail "label escaping: $(cat prom/rdwatch.prom)"
grep -q '^# TYPE rdwatch_transitions_total counter$' prom/rdwatch.prom ||
    fail "counter type"
# nothing but the metrics file is left in the directory
(cd prom && ls -A) >listing
expect_file listing rdwatch.prom
perm=$(ls -l prom/rdwatch.prom | cut -c1-10)
[ "$perm" = "-rw-r--r--" ] || [ "$(umask)" != 0022 ] ||
    fail "mode $perm"

# before the first decision the state is the last result, never NaN;
# a relative path works
cd prom || fail "cd prom"
expect_exit 0 rdwatch -i 0.02 -c 1 -m rdwatch.prom "tcp://127.0.0.1:$open" \
    "tcp://127.0.0.1:$closed"
cd ..
grep -q NaN prom/rdwatch.prom && fail "NaN: $(cat prom/rdwatch.prom)"
promtool check metrics <prom/rdwatch.prom >promtool.out 2>&1 ||
    fail "promtool: $(cat promtool.out)"
cat >want <<EOF2
rdwatch_up tcp://127.0.0.1:$open 1
rdwatch_up tcp://127.0.0.1:$closed 0
rdwatch_latency_seconds tcp://127.0.0.1:$closed L
rdwatch_consecutive_failures tcp://127.0.0.1:$closed 1
rdwatch_transitions_total tcp://127.0.0.1:$closed 0
rdwatch_latency_seconds tcp://127.0.0.1:$open L
rdwatch_consecutive_failures tcp://127.0.0.1:$open 0
rdwatch_transitions_total tcp://127.0.0.1:$open 0
EOF2
python3 check.py prom/rdwatch.prom want || fail "metrics: $(cat prom/rdwatch.prom)"

# an unwritable directory is reported once and the loop goes on
if [ "$(id -u)" != 0 ]; then
	mkdir ro
	chmod 555 ro
	expect_exit 0 rdwatch -i 0.02 -c 3 -m ro/m.prom 'exec:true'
	chmod 755 ro
	[ "$(wc -l <err)" -eq 1 ] || fail "notices: $(cat err)"
	grep -Eq "^rdwatch: cannot create 'ro/\.m\.prom\.[0-9]+\.tmp': Permission denied$" err ||
	    fail "notice: $(cat err)"
fi
