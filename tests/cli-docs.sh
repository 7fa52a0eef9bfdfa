#!/bin/sh
# What is generated from the registry at build time: the man pages list
# every option of every command (garage.1 and garage-session.5), document
# the REPL and the session features; the bash completion file exists and
# completes commands, options and values.
. "$srcdir/tests/cli-lib.sh"
top=$(dirname "$GARAGE")

for page in man/garage.1 man/garage-session.5; do
    [ -f "$top/$page" ] || { fail "$page was not built"; continue; }
    for cmd in $("$GARAGE" --list-commands); do
        grep -qx ".SS $cmd" "$top/$page" || fail "$page: no section for '$cmd'"
        "$GARAGE" --list-options "$cmd" > "$tmp/opts" || fail "--list-options $cmd"
        while read -r name kind pos rest; do
            roff=$(printf '%s' "$name" | sed 's/-/\\\\-/g')
            grep -qx ".B $roff" "$top/$page" ||
                fail "$page: option '$name' of '$cmd' is not listed"
        done < "$tmp/opts"
    done
done
expect 2 "$GARAGE" --list-options
same "$err" "garage: --list-options needs a command name"

# the hand-written parts
for word in 'garage repl' '\-\-keep\-going' 'save\-session' '.garage_history' \
            'Ctrl\-R' 'Ctrl\-C' 'Ctrl\-D' 'garage: line'; do
    grep -qF -- "$word" "$top/man/garage.1" || fail "garage.1 does not mention $word"
done
for word in 'include:' 'when_missing' '${' '$$' 'include cycle'; do
    grep -qF -- "$word" "$top/man/garage-session.5" ||
        fail "garage-session.5 does not mention $word"
done

# bash completion
comp=$top/share/bash-completion/completions/garage
[ -f "$comp" ] || fail "the bash completion file was not built"
if command -v bash >/dev/null 2>&1 && [ -f "$comp" ]; then
    # complete LINE: the candidates for LINE (cursor at the end), one a line
    complete() {
        bash -c '. "$1" || exit 1
                 COMP_LINE=$2; COMP_POINT=${#2}
                 _garage; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$1"
    }
    same "$(complete 'garage pret')" "pretrain"
    same "$(complete 'garage -C ws -q pret')" "pretrain"
    same "$(complete 'garage help pret')" "pretrain"
    same "$(complete 'garage pretrain st')" "steps=
stop_at="
    same "$(complete 'garage pretrain objective=m')" "masked"
    same "$(complete 'garage pretrain --objective ')" "next
masked"
    same "$(complete 'garage pretrain --sto')" "--stop_at"
    same "$(complete 'garage corpus info=')" "true
false"
    mkdir -p "$tmp/dir/sub" && : > "$tmp/dir/file.txt"
    same "$(cd "$tmp" && complete 'garage corpus add dir/f')" "dir/file.txt"
    same "$(cd "$tmp" && complete 'garage -C di')" "dir"
    all=$("$GARAGE" --list-commands | sort)
    same "$(complete 'garage ' | sort)" "$all"
fi

finish
