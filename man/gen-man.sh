#!/bin/sh
# gen-man.sh GARAGE TEMPLATE VERSION DATADIR: print the template with
# @VERSION@ and @PKGDATADIR@ filled and the line @COMMANDS@ replaced by
# the registry's roff.
set -e
garage=$1 template=$2 version=$3 datadir=$4
tmp=${TMPDIR:-/tmp}/garage-man.$$
trap 'rm -f "$tmp"' EXIT
ASAN_OPTIONS=detect_leaks=0 GARAGE_REEXECED=1 "$garage" --roff-commands > "$tmp"
while IFS= read -r line; do
    case $line in
    @COMMANDS@) cat "$tmp" ;;
    *) printf '%s\n' "$line" | sed -e "s/@VERSION@/$version/g" -e "s|@PKGDATADIR@|$datadir|g" ;;
    esac
done < "$template"
