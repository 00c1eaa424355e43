#!/bin/sh
# Installs the Debian packages liaison needs to build, run or test.
# Usage: scripts/deps.sh build|run|check|bench|fuzz|lint
# As root the missing packages are installed; otherwise the one apt-get
# line to run is printed and the script fails.
set -eu

build="gcc make pkg-config libevent-dev libpq-dev libical-dev libjansson-dev
libcurl4-openssl-dev libssl-dev libsystemd-dev zlib1g-dev libicu-dev
libcmocka-dev"
server="postgresql-15 util-linux curl"
tests="python3 python3-icalendar python3-recurring-ical-events python3-vobject calcurse systemd procps curl openssl nginx-light
chromium"
bench="wrk postgresql-contrib procps nginx-light radicale"
fuzz="clang libclang-rt-14-dev"
lint="clang-format cppcheck nodejs python3"
# Debian's nodejs comes without npm; NodeSource's carries its own.
command -v npm >/dev/null 2>&1 || lint="$lint npm"

case "${1:-build}" in
build) want="$build" ;;
run) want="$build $server" ;;
check) want="$build $server $tests" ;;
bench) want="$build $server $tests $bench" ;;
fuzz) want="$build $fuzz" ;;
lint) want="$lint" ;;
*) echo "usage: $0 build|run|check|bench|fuzz|lint" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	# An old or empty package list finds nothing: refresh it first.
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends $missing >&2
else
	echo "deps: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
