# Sourced by scripts/test and scripts/demo: install what they need from
# Debian's packages when it is missing.
# shellcheck shell=sh

# what building the tools and running scripts/demo need (the demo's
# sample service is python3's http.server)
RD_BUILD_PACKAGES="build-essential autoconf automake pkg-config librsync-dev
libsqlite3-dev libssl-dev zlib1g-dev libzstd-dev python3"
# what scripts/test needs on top: the unit tests (check), catalog and
# JSON schema checks (sqlite3, python3-jsonschema), the lint
# (mandoc, the shell script checker, clang-format), ssh and live-database
# tests, metadata tests (acl, attr, libcap2-bin, and rsync to compare
# with), the sanitizer
# and fuzzer builds, metrics (promtool), the package (debhelper, lintian)
# and the completion test (bash-completion)
RD_TEST_PACKAGES="check sqlite3 python3-jsonschema mandoc openssh-server
openssh-client valgrind clang clang-format libclang-rt-14-dev postgresql
acl attr libcap2-bin rsync etcd-server etcd-client prometheus lintian
debhelper shellcheck bash-completion"
RD_PACKAGES="$RD_BUILD_PACKAGES $RD_TEST_PACKAGES"

# rd_install_deps [PACKAGES]: install those of PACKAGES (default: all
# of RD_PACKAGES) that are missing
rd_install_deps() {
	missing=
	for p in ${1:-$RD_PACKAGES}; do
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
		cd "$dir" || exit 1
		[ -f Makefile ] || "$top/configure" -q "$@"
		make -s -j"$(nproc)"
	)
}
