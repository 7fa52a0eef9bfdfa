#!/bin/sh
# Demonstrations from the command line: import in both formats, bad lines
# named file:line, strict imports that write nothing, duplicates, add,
# list, export round trips, delete.
. "$srcdir/tests/cli-lib.sh"
cd "$tmp"

expect 0 "$GARAGE" init ws
store=ws/labels/demos.jsonl

cat > mixed.jsonl <<'EOF'
{"prompt": "Hi there", "completion": "Hello! How can I help?"}
{"prompt": "Bye"}

{"messages": [{"role": "user", "content": "One?"}, {"role": "assistant", "content": "Yes."}, {"role": "user", "content": "Two?"}, {"role": "assistant", "content": "Also yes."}]}
not json at all
{"messages": [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "x"}]}
EOF

# strict: the first bad line is named, and nothing is written
expect 1 "$GARAGE" -C ws demos import mixed.jsonl strict=true
same "$err" "garage: mixed.jsonl:2: no field 'completion'; nothing was imported (strict=true; 3 bad lines in all)"
[ -s "$store" ] && fail "a refused strict import wrote $store"

# default: bad lines are reported and skipped
expect 0 "$GARAGE" -q -C ws demos import mixed.jsonl
has "$err" "mixed.jsonl:2: no field 'completion' (skipped)"
has "$err" "mixed.jsonl:5: "
has "$err" "mixed.jsonl:6: message 1: role 'system' is not supported"
same "$out" "Imported 2 demonstrations (skipped 3 bad lines); ws/labels/demos.jsonl holds 2."
[ "$(wc -l < "$store")" -eq 2 ] || fail "expected 2 lines in $store"

# importing again adds nothing; the positional form works too
expect 0 "$GARAGE" -q -C ws demos mixed.jsonl
has "$out" "Imported 0 demonstrations (skipped 3 bad lines, 2 already stored)"
[ "$(wc -l < "$store")" -eq 2 ] || fail "a second import changed $store"

# add, list
expect 0 "$GARAGE" -C ws demos add prompt="What is a haiku?" answer="A short poem of three lines."
same "$out" "Added demonstration #3 to ws/labels/demos.jsonl."
expect 1 "$GARAGE" -C ws demos add prompt="What is a haiku?" answer="A short poem of three lines."
same "$err" "garage: this demonstration is stored already (#3)"
expect 1 "$GARAGE" -C ws demos add prompt=" " answer="x"
same "$err" "garage: the prompt is empty"
expect 2 "$GARAGE" -C ws demos add prompt="x"
same "$err" "garage: 'demos add' needs prompt=TEXT and answer=TEXT"
expect 2 "$GARAGE" -C ws demos list add
same "$err" "garage: choose one action: import, add, list, export or delete"
expect 0 "$GARAGE" -C ws demos list
has "$out" "#2
  user:      One?
  assistant: Yes.
  user:      Two?
  assistant: Also yes.
#3"
expect 0 "$GARAGE" -C ws demos
same "$out" "ws/labels/demos.jsonl: 3 demonstrations (1 with several turns)"

# export, and import the export elsewhere: the same records
expect 0 "$GARAGE" -C ws demos export=all.jsonl
same "$out" "Exported 3 demonstrations to all.jsonl."
cmp -s all.jsonl "$store" || fail "the chat-format export differs from the store"
expect 1 "$GARAGE" -C ws demos export=pc.jsonl format=completion
has "$err" "demonstration 2 has 4 turns"
[ -f pc.jsonl ] && fail "a refused export left pc.jsonl"
expect 0 "$GARAGE" init ws2
expect 0 "$GARAGE" -q -C ws2 demos import all.jsonl
cmp -s ws2/labels/demos.jsonl "$store" || fail "export + import is not a round trip"

# delete by number; the other lines stay as they were
expect 0 "$GARAGE" -C ws demos delete=2
same "$out" "Deleted demonstration #2; 2 left."
expect 0 "$GARAGE" -C ws demos export=pc.jsonl format=completion
same "$(cat pc.jsonl)" '{"prompt":"Hi there","completion":"Hello! How can I help?"}
{"prompt":"What is a haiku?","completion":"A short poem of three lines."}'
expect 1 "$GARAGE" -C ws demos delete=3
same "$err" "garage: there is no demonstration #3 (2 stored; see 'garage demos list')"

# the shipped data: every demonstration imports (strict), enough of
# everything, and the evaluation prompts are held out
share=$top_srcdir/share/garage
expect 0 "$GARAGE" init ws3
expect 0 "$GARAGE" -q -C ws3 demos import "$share/demos.jsonl" strict=true
n=$(wc -l < ws3/labels/demos.jsonl)
[ "$n" -ge 150 ] || fail "share/garage/demos.jsonl has only $n demonstrations"
grep -v '^#' "$share/prompts.txt" | grep -v '^ *$' | sort > train.txt
grep -v '^#' "$share/prompts-eval.txt" | grep -v '^ *$' | sort > eval.txt
[ "$(wc -l < train.txt)" -ge 300 ] || fail "prompts.txt has fewer than 300 prompts"
[ "$(wc -l < eval.txt)" -ge 100 ] || fail "prompts-eval.txt has fewer than 100 prompts"
[ -z "$(comm -12 train.txt eval.txt)" ] || fail "prompts in both files: $(comm -12 train.txt eval.txt)"
[ "$(sort -u train.txt | wc -l)" -eq "$(wc -l < train.txt)" ] || fail "prompts.txt repeats a prompt"

# one fsync per record (where strace can trace)
if command -v strace >/dev/null 2>&1 && strace -o /dev/null true >/dev/null 2>&1; then
    head -n 5 "$share/demos.jsonl" > five.jsonl
    expect 0 "$GARAGE" init ws4
    # (LeakSanitizer cannot run under ptrace)
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -f -e trace=fsync,fdatasync -o trace.txt "$GARAGE" -q -C ws4 demos import \
        five.jsonl >/dev/null 2>&1 || fail "the traced import failed"
    n=$(grep -c 'sync(' trace.txt)
    [ "$n" -eq 5 ] || fail "5 records were appended with $n fsyncs"
fi

# a file with no demonstrations at all
printf '{"text": "x"}\n' > none.jsonl
expect 1 "$GARAGE" -q -C ws demos import none.jsonl
has "$err" "none.jsonl: no demonstrations found"
expect 1 "$GARAGE" -C ws demos import missing.jsonl
has "$err" "missing.jsonl"

finish
