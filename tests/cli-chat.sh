#!/bin/sh
# Chatting: after SFT a tiny model answers trained prompts with their
# demonstrations (greedy); pipe mode gives one answer line per message
# line, is deterministic for a seed, and takes slash commands; /save
# writes what 'demos import' reads; prompt= answers once; at a terminal
# (through script(1), when there is one) the history file is written.
. "$srcdir/tests/cli-lib.sh"
cd "$tmp"

mkdir docs
i=0
while [ $i -lt 120 ]; do
    printf 'the cat sat on the mat number %d.\nthe dog ran to the log number %d.\n' $i $((i % 7)) > docs/d$i.txt
    i=$((i + 1))
done
cat > demos.jsonl <<'EOF'
{"prompt": "hello", "completion": "the cat sat on the mat."}
{"prompt": "bye", "completion": "the dog ran to the log."}
{"prompt": "where is the cat?", "completion": "on the mat number 3."}
{"prompt": "where is the dog?", "completion": "on the log number 5."}
{"prompt": "what did the cat do?", "completion": "the cat sat."}
{"prompt": "what did the dog do?", "completion": "the dog ran."}
EOF

expect 0 "$GARAGE" init ws
expect 0 "$GARAGE" -q -C ws corpus add docs
expect 0 "$GARAGE" -q -C ws tokenizer vocab_size=300
expect 1 "$GARAGE" -C ws chat prompt=hi
has "$err" "there is no model yet"
expect 0 "$GARAGE" -q -C ws model layers=2 heads=2 dim=32 context=32
expect 0 "$GARAGE" -q -C ws pretrain steps=20 batch=4 lr=3e-3 warmup=2 eval_every=0

# before SFT: the base model, with a notice
expect 0 "$GARAGE" -C ws chat prompt=hello max_tokens=5
has "$err" "is a base model"

expect 0 "$GARAGE" -q -C ws demos import demos.jsonl
expect 0 "$GARAGE" -q -C ws sft steps=150 batch=4 lr=5e-3 warmup=5 val_fraction=0 eval_every=0

# piped: messages in, one answer line each; greedy reproduces the
# demonstrations; a blank line gets a blank line; slash commands answer
# on standard error
chat() { input=$1; shift; printf "$input" | "$GARAGE" -C ws chat "$@"; }
expect 0 chat 'hello\nbye\n\n/temp\nwhere is the cat?\n/reset\nwhat did the dog do?\n' \
    temperature=0 repetition_penalty=1
same "$out" "the cat sat on the mat.
the dog ran to the log.

on the mat number 3.
the dog ran."
has "$err" "temperature 0"
has "$err" "The conversation starts over."
# the context of 32 tokens holds one exchange: older ones are dropped
has "$err" "(the oldest 2 messages no longer fit the model's context of 32 tokens: dropped)"

# the newest of tuned, sft, base; or the one asked for
expect 0 "$GARAGE" -C ws chat prompt=hello temperature=0 repetition_penalty=1
same "$out" "the cat sat on the mat."
expect 0 "$GARAGE" -C ws chat sft prompt=bye temperature=0 repetition_penalty=1
same "$out" "the dog ran to the log."
expect 0 "$GARAGE" -C ws chat ws/checkpoints/sft-000150.ckpt prompt=bye temperature=0 repetition_penalty=1
same "$out" "the dog ran to the log."
expect 1 "$GARAGE" -C ws chat tuned prompt=hi
same "$err" "garage: there is no tuned checkpoint yet"

# sampling is deterministic for a seed, and answers stay one line each
expect 0 chat 'hello\nthe cat\nthe dog\n' temperature=1.5 top_k=0 top_p=1 seed=3 max_tokens=12
s1=$out
[ "$(printf '%s\n' "$out" | wc -l)" -eq 3 ] || fail "expected 3 answer lines, got: $out"
expect 0 chat 'hello\nthe cat\nthe dog\n' temperature=1.5 top_k=0 top_p=1 seed=3 max_tokens=12
same "$out" "$s1"
expect 0 chat '/seed 3\nhello\nthe cat\nthe dog\n' temperature=1.5 top_k=0 top_p=1 seed=9 max_tokens=12
same "$out" "$s1"

# /save writes the conversation as JSONL messages, which demos import reads
expect 0 chat 'hello\nbye\n/save talk.jsonl\n/bogus\n/temp 99\n' temperature=0 repetition_penalty=1
has "$err" "Saved 4 messages to talk.jsonl."
has "$err" "garage: unknown command /bogus (/help lists them)"
has "$err" "garage: /temp must be between 0 and 10, got 99"
same "$(cat talk.jsonl)" '{"messages":[{"role":"user","content":"hello"},{"role":"assistant","content":"the cat sat on the mat."},{"role":"user","content":"bye"},{"role":"assistant","content":"the dog ran to the log."}]}'
expect 0 "$GARAGE" -q -C ws demos import talk.jsonl
same "$out" "Imported 1 demonstration; ws/labels/demos.jsonl holds 7."

# /model switches checkpoints, /quit leaves before the end of the input
expect 0 chat '/model base\nhello\n/quit\nbye\n' temperature=0 max_tokens=3
has "$err" "base-000020.ckpt (base, step 20)"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "/quit did not leave: $out"

# a session step
cat > s.yaml <<'EOF'
garage: 1
workspace: ws
steps:
  - chat: { prompt: "where is the dog?", temperature: 0, repetition_penalty: 1 }
EOF
expect 0 "$GARAGE" run s.yaml
has "$out" "on the log number 5."

# the shipped session is valid (with a local corpus for the fortunes)
expect 0 "$GARAGE" run "$top_srcdir/share/garage/sessions/chatbot.yaml" --dry-run --set corpus.add=docs
has "$out" "chatbot.yaml: 8 steps, valid"

# at a terminal: readline, and the history file in the workspace
if command -v script >/dev/null 2>&1 &&
   script -qec true /dev/null >/dev/null 2>&1 </dev/null; then
    printf 'hello\n/temp 0.5\n\004' |
        TERM=dumb script -qec "'$GARAGE' -C ws chat temperature=0 repetition_penalty=1" /dev/null \
        > tty.out 2>&1
    [ -f ws/.garage_chat_history ] || fail "no history file"
    same "$(cat ws/.garage_chat_history)" "hello
/temp 0.5"
    has "$(cat tty.out)" "the cat sat on the mat."
else
    echo "script(1) cannot make a terminal here: the readline part is not tested" >&2
fi

finish
