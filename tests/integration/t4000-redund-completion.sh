#!/bin/bash
# Issue 16: bash completion for the four tools (completion/redund), loaded
# into bash with bash-completion as a user's shell has it: subcommands
# and options come from the tools' own usage text, snapshot ids from the
# store, option values from the usage (zlib|zstd), stores are directories.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
. "$RD_SRCDIR/tests/integration/lib.sh"

bc=/usr/share/bash-completion/bash_completion
[ -f "$bc" ] || fail "$bc missing (scripts/deps.sh installs bash-completion)"
# shellcheck source=/dev/null
. "$bc"
# shellcheck source=../../completion/redund
. "$RD_SRCDIR/completion/redund"
[ "$(complete -p rdsnap)" = "complete -F _redund rdsnap" ] ||
    fail "rdsnap: $(complete -p rdsnap)"

# comp LINE: what TAB offers at the end of LINE, one per line, sorted
comp() {
	local line=$1 COMP_WORDS COMP_CWORD COMP_LINE COMP_POINT
	read -ra COMP_WORDS <<<"$line"
	[[ $line == *' ' ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMPREPLY=()
	# as in an interactive shell: no errexit inside the completion
	set +e
	_redund "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
	    "${COMP_WORDS[COMP_CWORD - 1]}"
	set -e
	if ((${#COMPREPLY[@]})); then
		printf '%s\n' "${COMPREPLY[@]}" | sort
	fi
}

mkdir src sfile-dir
echo one >src/a
: >sfile
rdsnap init st >/dev/null
for i in 1 2 3; do
	echo "$i" >src/n
	rdsnap create --quiet st src
done

# subcommands, for each tool
comp 'rdsnap cr' >out
expect_file out create
comp 'rdsnap l' >out
expect_file out "list
ls"
comp 'rdship st' >out
expect_file out status
comp 'rdwatch rep' >out
expect_file out report
comp 'rdpromote hist' >out
expect_file out history

# options of one subcommand, not of the others
comp 'rdsnap create --exclude' >out
expect_file out "--exclude
--exclude-from"
comp 'rdsnap verify --read' >out
expect_file out --read-data
comp 'rdsnap list --read' >out
expect_empty out
comp 'rdship send --sin' >out
expect_file out --since
comp 'rdship rejoin --' >out
expect_file out "--cluster
--etcd
--origin
--quiet
--syslog
--verbose
--wait"
comp 'rdship follow --no-' >out
expect_file out --no-notify
comp 'rdship follow --f' >out
expect_file out --full-every
comp 'rdship follow --b' >out
expect_file out --bracket
comp 'rdship push --no-' >out
expect_empty out
comp 'rdpromote --allow' >out
expect_file out --allow-partial
comp 'rdwatch report --sin' >out
expect_file out --since
# the long names of the shared short options, which usage lines show short
comp 'rdsnap ls --snap' >out
expect_file out --snapshot
comp 'rdship receive --wa' >out
expect_file out --wait

# option values: snapshot ids from the store, wherever the store stands,
# and the choices the usage lists
comp 'rdsnap ls st --snapshot ' >out
expect_file out "1
2
3"
comp 'rdsnap restore --force --snapshot 2 st --snapshot ' >out
expect_file out "1
2
3"
comp 'rdship send --since ' >out
expect_empty out
comp 'rdship send st --since 2' >out
expect_file out 2
REDUND_STORE=st comp 'rdsnap diff --from ' >out
expect_file out "1
2
3"
comp 'rdsnap init --codec z' >out
expect_file out "zlib
zstd"
comp 'rdpromote --verify ' >out
expect_file out "full
quick"
# an option that takes a value does not take the store's place
comp 'rdsnap create --label x s' >out
expect_file out "sfile-dir
src
st"

# stores are directories; operands after the store are files
comp 'rdsnap list s' >out
expect_file out "sfile-dir
src
st"
comp 'rdsnap restore st sf' >out
expect_file out "sfile
sfile-dir"

# the options come from the tool's usage, so a new option completes
# without touching the script: a stand-in rdsnap with one more option
mkdir bin
cat >bin/rdsnap <<'EOS'
#!/bin/sh
echo "usage: rdsnap list [--json] [--brand-new-option N] store"
echo "       rdsnap stats [--json] store"
EOS
chmod +x bin/rdsnap
PATH="$TMP/bin:$PATH" comp 'rdsnap list --b' >out
expect_file out --brand-new-option
PATH="$TMP/bin:$PATH" comp 'rdsnap stats --b' >out
expect_empty out
PATH="$TMP/bin:$PATH" comp 'rdsnap ' >out
expect_file out "list
stats"
