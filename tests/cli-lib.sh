# cli-lib.sh: helpers for the command-line tests (sourced).
# $GARAGE is the built program; each test works in its own folder under
# the build tree and removes it when it passes.
set -u
: "${GARAGE:?GARAGE must name the garage binary}"
# GARAGE_REEXECED skips the start-up re-exec, so set what it would set:
# without PASSIVE, OpenMP's spinning threads crawl on a loaded machine.
export GARAGE_REEXECED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
fails=0
name=$(basename "$0" .sh)
tmp=$(pwd)/tests/tmp-$name
rm -rf "$tmp" && mkdir -p "$tmp"

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect STATUS CMD...: run CMD, capture stdout/stderr in $out/$err
expect() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    out=$(cat "$tmp/out"); err=$(cat "$tmp/err")
    if [ "$got" -ne "$want" ]; then
        fail "'$*' exited $got, expected $want; stderr: $err"
    fi
}
has() { case $1 in *"$2"*) ;; *) fail "expected to find '$2' in: $1" ;; esac; }
hasnt() { case $1 in *"$2"*) fail "did not expect '$2' in: $1" ;; esac; }
same() { [ "$1" = "$2" ] || fail "expected exactly:
  $2
got:
  $1"; }
finish() {
    if [ "$fails" -eq 0 ]; then rm -rf "$tmp"; exit 0; fi
    echo "$fails checks failed (files kept in $tmp)" >&2
    exit 1
}
