# Sourced by scripts/test and scripts/demo: install what the build and
# the tests need from Debian's packages when it is missing.
# shellcheck shell=sh

RD_PACKAGES="build-essential autoconf automake pkg-config librsync-dev
libsqlite3-dev libssl-dev zlib1g-dev libzstd-dev check sqlite3 mandoc
python3 openssh-server openssh-client valgrind clang clang-format
libclang-rt-14-dev postgresql acl attr libcap2-bin etcd-server etcd-client
prometheus lintian debhelper shellcheck bash-completion rsync"

rd_install_deps() {
	missing=
	for p in $RD_PACKAGES; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null |
		    grep -q 'install ok installed' || missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing:$missing"
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=
	elif command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "missing packages:$missing (run as root or install them)" >&2
		return 1
	fi
	# shellcheck disable=SC2086
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
	    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $missing >/dev/null
}

# Configure (once) and build in directory $1 with configure flags $2...
rd_build() {
	dir=$1
	shift
	top=$(pwd)
	[ -x configure ] || autoreconf -fi
	mkdir -p "$dir"
	(
		cd "$dir"
		[ -f Makefile ] || "$top/configure" -q "$@"
		make -s -j"$(nproc)"
	)
}
