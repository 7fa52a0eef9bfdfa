#!/bin/sh
# setup.sh: everything from a fresh Debian 12 machine to a result.
#
#   ./setup.sh          install what is missing, build, and open the curses
#                       application on ./my-garage with the fortune corpus
#                       added (without a terminal: run the quickstart session,
#                       a small GPT on the fortune corpus, headless)
#   ./setup.sh check    install what is missing, build, and run the tests
#
# Packages are installed with apt-get (through sudo when not root).
set -eu

cd "$(dirname "$0")"

PACKAGES="gcc make autoconf automake pkg-config libncurses-dev libreadline-dev
libopenblas-dev libyaml-dev libjansson-dev libunistring-dev fortunes tmux"
# oneDNN (x86-64 only): bf16 products (pretrain precision=bf16) and the
# faster fp32 products of the forward pass; garage builds without it.
[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] && PACKAGES="$PACKAGES libdnnl-dev"
# The tests also trace system calls (one fsync per saved label).
[ "${1:-run}" = check ] && PACKAGES="$PACKAGES strace"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -n "$missing" ]; then
    echo "setup: installing:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi

JOBS=$(nproc 2>/dev/null || echo 2)
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
    autoreconf -fi
fi
if [ ! -f Makefile ] || [ configure -nt Makefile ]; then
    ./configure
fi
make -j"$JOBS"

case "${1:-run}" in
check)
    if ! make -j"$JOBS" check; then
        # what the failing tests printed, so that a log of this run says why
        [ -f test-suite.log ] && head -c 60000 test-suite.log
        exit 1
    fi
    ;;
run)
    if [ -t 0 ] && [ -t 1 ]; then
        # tui: a terminal: the curses application on a ready workspace,
        # ./my-garage with the fortune cookie corpus added
        [ -f my-garage/garage.yaml ] || ./garage init my-garage
        [ -f my-garage/corpus/docs.idx ] ||
            ./garage -C my-garage corpus add /usr/share/games/fortunes format=fortune
        exec ./garage -C my-garage tui
    fi
    # no terminal: the quickstart session, headless
    ./garage run share/garage/sessions/quickstart.yaml
    ;;
*)
    echo "usage: ./setup.sh [run|check]" >&2
    exit 2
    ;;
esac
