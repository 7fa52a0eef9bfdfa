#!/bin/sh
# gen-man.sh GARAGE TEMPLATE VERSION: print the template with @VERSION@
# filled and the line @COMMANDS@ replaced by the registry's roff.
set -e
garage=$1 template=$2 version=$3
tmp=${TMPDIR:-/tmp}/garage-man.$$
trap 'rm -f "$tmp"' EXIT
ASAN_OPTIONS=detect_leaks=0 GARAGE_REEXECED=1 "$garage" --roff-commands > "$tmp"
while IFS= read -r line; do
    case $line in
    @COMMANDS@) cat "$tmp" ;;
    *) printf '%s\n' "$line" | sed "s/@VERSION@/$version/g" ;;
    esac
done < "$template"
