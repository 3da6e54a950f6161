#!/bin/sh
# Issue 11, problems 3 and 10, in the documentation: no example, unit
# file or script of the project promotes without a fence; an automatic
# failover with rdwatch watches one target with a fall count and calls
# no unfenced promotion; rdpromote(1) does not claim that a store is
# promoted twice, and documents every option of rdpromote's usage.
. "$RD_SRCDIR/tests/integration/lib.sh"

python3 - "$RD_SRCDIR" <<'PY'
import glob, os, re, shlex, sys

src = sys.argv[1]
files = [os.path.join(src, f) for f in ("README", "scripts/demo")]
files += glob.glob(os.path.join(src, "man", "*.[1-8]"))
files += [f for f in glob.glob(os.path.join(src, "examples", "**"), recursive=True)
          if os.path.isfile(f)]
bad = []

def code_lines(path):
    """The lines of "path" that are commands: literal blocks, .Dl and .Ic
    lines of a man page, indented lines of the README, all of a script."""
    lines = open(path, encoding="utf-8").read().split("\n")
    man = re.search(r"\.[1-8]$", path) is not None
    out, lit = [], False
    for n, l in enumerate(lines, 1):
        if man:
            if l.startswith(".Bd -literal"):
                lit = True
                continue
            if l.startswith(".Ed"):
                lit = False
                continue
            if l.startswith((".Dl ", ".Ic ")):
                out.append((n, l[4:]))
            elif lit:
                out.append((n, l.replace("\\e", "\\")))
        elif path.endswith("README"):
            if l.startswith("    "):
                out.append((n, l))
        else:
            out.append((n, l))
    # join continuation lines
    joined, cur, first = [], "", None
    for n, l in out:
        if first is None:
            first = n
        if l.rstrip().endswith("\\"):
            cur += l.rstrip()[:-1] + " "
            continue
        joined.append((first, cur + l))
        cur, first = "", None
    return joined

def words(cmd):
    try:
        return shlex.split(cmd, comments=True)
    except ValueError:
        return cmd.split()

for path in files:
    rel = os.path.relpath(path, src)
    for n, line in code_lines(path):
        w = words(line)
        for i, t in enumerate(w):
            base = os.path.basename(t)
            if base == "rdpromote":
                args = w[i + 1:]
                modes = {"--drill", "--abort", "--resume", "history",
                         "remove-tree", "--help", "-h", "--version", "-V"}
                if not args or modes & set(args):
                    continue
                if "--fence" not in args:
                    bad.append("%s:%d: rdpromote without --fence: %s" % (rel, n, line.strip()))
            if base == "rdwatch" and any(a.startswith("--on-down") for a in w[i + 1:]):
                args = w[i + 1:]
                takes = {"-c", "-f", "-i", "-m", "-o", "-r", "-t", "--count", "--fall",
                         "--interval", "--metrics", "--output", "--rise", "--timeout",
                         "--on-change", "--on-down", "--on-up", "--record"}
                probes, fall, j = [], 0, 0
                while j < len(args):
                    a = args[j]
                    if a in takes:
                        if a in ("-f", "--fall"):
                            fall = int(args[j + 1])
                        if a == "--on-down" and "rdpromote" in args[j + 1] \
                                and "--fence" not in args[j + 1]:
                            bad.append("%s:%d: --on-down promotes without a fence" % (rel, n))
                        j += 2
                        continue
                    if not a.startswith("-"):
                        probes.append(a)
                    j += 1
                if len(probes) != 1:
                    bad.append("%s:%d: an automatic failover watches %d targets" % (rel, n, len(probes)))
                if fall < 3:
                    bad.append("%s:%d: an automatic failover without a fall count of 3 or more" % (rel, n))
if bad:
    sys.exit("\n".join(bad))
PY

man=$RD_SRCDIR/man/rdpromote.1
if grep -q "does not refuse to promote" "$man"; then
	fail "rdpromote(1) says it does not refuse to promote a store twice"
fi
grep -q "^it refuses a store that is not a standby, and a snapshot that is$" "$man" ||
    fail "rdpromote(1) does not say that it refuses a store that is not a standby"
# every long option of the usage is in the synopsis and described
expect_exit 0 rdpromote --help
for opt in $(grep -o -- '--[a-z][a-z-]*' out | sort -u); do
	name=${opt#--}
	grep -q "^\.Op Fl -$name\b\|^\.Fl -$name\b\|Fl -$name | \|^\.Fl -drill$\|^\.Fl -resume$\|^\.Fl -abort$" "$man" ||
	    fail "$opt is not in the synopsis of rdpromote(1)"
	grep -q "^\.It Fl -$name\b\|^\.It Fl V , Fl -$name\|^\.It Fl h , Fl -$name" "$man" ||
	    fail "$opt is not described in rdpromote(1)"
done
