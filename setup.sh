#!/bin/sh
# floe's set-up on Debian 12. Installs the packages floe needs, builds it,
# then either runs floe with its defaults or runs every test.
#
#   ./setup.sh run     build, then `floe run` with the built-in defaults
#   ./setup.sh test    check the formatting, build with -Werror, install the browser
#                      tests' playwright-core (npm ci), run `make check` (with the browser
#                      tests in Debian's chromium), then again under ASan+UBSan, then the
#                      daemon integration test under valgrind, then `make distcheck`
#
# Builds go to build/ and build-san/ beside this script. Run as root, or as
# a user who may sudo.
set -eu
cd "$(dirname "$0")"
TOP=$(pwd)

BUILD_DEPS="build-essential autoconf automake libtool pkg-config
 libfixbuf-dev libndpi-dev liblua5.4-dev librrd-dev libuv1-dev libsqlite3-dev
 libmicrohttpd-dev libpcap-dev libcurl4-openssl-dev libcrypt-dev libssl-dev zlib1g-dev"
TEST_DEPS="python3 tshark softflowd valgrind clang libclang-rt-14-dev clang-format curl git
 rrdcached rrdtool file chromium nodejs openssl clickhouse-server clickhouse-client"
JOBS=$(nproc 2>/dev/null || echo 2)

say() { printf '\n== %s\n' "$*"; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    say "installing:$missing"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
}

build() { # build DIR [configure flags...]
    dir=$1
    shift
    say "building in $dir ($*)"
    [ -x "$TOP/configure" ] || (cd "$TOP" && autoreconf -fi)
    mkdir -p "$TOP/$dir"
    (cd "$TOP/$dir" && "$TOP/configure" -q "$@" && make -j"$JOBS")
}

case "${1:-}" in
run)
    apt_install $BUILD_DEPS
    build build --enable-werror
    say "starting floe: UDP 2055/4739/6343, web UI on http://127.0.0.1:3000/ (user admin;"
    echo "   the password is web_password or FLOE_ADMIN_PASSWORD, else the one floe logs below)"
    exec "$TOP/build/floe" run
    ;;
test)
    apt_install $BUILD_DEPS $TEST_DEPS
    # npm comes with NodeSource's nodejs, which conflicts with Debian's npm.
    command -v npm >/dev/null 2>&1 || apt_install npm
    say "browser test dependencies (npm ci in tests/browser: playwright-core, no browser download)"
    (cd "$TOP/tests/browser" && npm ci --no-audit --no-fund)
    if [ -d "$TOP/.git" ]; then
        say "formatting (clang-format, .clang-format)"
        (cd "$TOP" && git ls-files '*.c' '*.h' | grep -v '^tests/golden/' |
            xargs clang-format --dry-run --Werror) || {
            echo "run: git ls-files '*.c' '*.h' | xargs clang-format -i" >&2
            exit 1
        }
    fi
    (cd "$TOP" && autoreconf -fi)
    build build --enable-werror
    say "make check"
    (cd build && make -j"$JOBS" check) || { cat build/test-suite.log; exit 1; }
    build build-san --enable-werror --enable-sanitizers
    say "make check under ASan and UBSan"
    (cd build-san && make -j"$JOBS" check) || { cat build-san/test-suite.log; exit 1; }
    say "the daemon integration test under valgrind"
    (cd build && FLOE_VALGRIND=1 make check TESTS=tests/integration/test_daemon.py) ||
        { cat build/tests/integration/test_daemon.log; exit 1; }
    # The tarball builds, installs and passes a smoke set of tests; the
    # whole suite already ran twice above.
    say "make distcheck"
    (cd build && make -j"$JOBS" distcheck \
        TESTS="tests/unit/test-util tests/check_layers.py tests/integration/test_docs.py tests/integration/test_replay.py")
    say "all tests passed"
    ;;
*)
    echo "usage: $0 run|test" >&2
    exit 2
    ;;
esac
