#!/bin/sh
# gen-bash.sh GARAGE TEMPLATE: print the bash completion template with the
# line @TABLE@ replaced by shell functions that describe the registry's
# commands and options (from 'garage --list-commands' and '--list-options'),
# so that completion cannot drift from the program.
set -e
garage=$1 template=$2
run() { ASAN_OPTIONS=detect_leaks=0 GARAGE_REEXECED=1 "$garage" "$@"; }
tmp=${TMPDIR:-/tmp}/garage-bash.$$
trap 'rm -f "$tmp" "$tmp.o"' EXIT

cmds=$(run --list-commands)
{
    printf "_garage_commands='%s'\n\n" "$(echo $cmds)"
    echo '# COMMAND -> REPLY: its options, as key='
    echo '_garage_options()'
    echo '{'
    echo '    case $1 in'
    for c in $cmds; do
        run --list-options "$c" > "$tmp.o"
        opts=
        while read -r name kind pos rest; do
            opts="$opts $name="
        done < "$tmp.o"
        printf "    %s) REPLY='%s' ;;\n" "$c" "${opts# }"
    done
    echo '    *) REPLY= ;;'
    echo '    esac'
    echo '}'
    echo
    echo '# COMMAND KEY -> REPLY: the values (words, @path or @command), or nothing'
    echo '_garage_values()'
    echo '{'
    echo '    case $1.$2 in'
    for c in $cmds; do
        run --list-options "$c" > "$tmp.o"
        while read -r name kind pos rest; do
            case $kind in
            bool|choice) printf "    %s.%s) REPLY='%s' ;;\n" "$c" "$name" "$rest" ;;
            path|paths) printf "    %s.%s) REPLY=@path ;;\n" "$c" "$name" ;;
            command) printf "    %s.%s) REPLY=@command ;;\n" "$c" "$name" ;;
            esac
        done < "$tmp.o"
    done
    echo '    *) REPLY= ;;'
    echo '    esac'
    echo '}'
    echo
    echo '# COMMAND -> REPLY: the option its bare words go to, or nothing'
    echo '_garage_positional()'
    echo '{'
    echo '    case $1 in'
    for c in $cmds; do
        run --list-options "$c" > "$tmp.o"
        while read -r name kind pos rest; do
            if [ "$pos" = positional ]; then
                printf "    %s) REPLY=%s ;;\n" "$c" "$name"
            fi
        done < "$tmp.o"
    done
    echo '    *) REPLY= ;;'
    echo '    esac'
    echo '}'
} > "$tmp"

while IFS= read -r line; do
    case $line in
    @TABLE@) cat "$tmp" ;;
    *) printf '%s\n' "$line" ;;
    esac
done < "$template"
