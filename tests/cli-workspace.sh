#!/bin/sh
# Workspaces: init, -C, refusing a second init, stage order.
. "$srcdir/tests/cli-lib.sh"
cd "$tmp"

expect 0 "$GARAGE" init ws
has "$out" "Created a garage workspace in ws"
for d in corpus checkpoints labels logs; do
    [ -d "ws/$d" ] || fail "ws/$d was not created"
done
[ -f ws/garage.yaml ] || fail "ws/garage.yaml was not created"

expect 1 "$GARAGE" init ws
same "$err" "garage: ws is already a garage workspace"

expect 0 "$GARAGE" -C ws status
has "$out" "corpus     ready"

# each stage refuses to run before the one it builds on
expect 1 "$GARAGE" -C ws tokenizer
has "$err" "corpus is empty"
expect 1 "$GARAGE" -C ws model
has "$err" "there is no tokenizer yet"
expect 1 "$GARAGE" -C ws pretrain
has "$err" "there is no tokenizer yet"
expect 1 "$GARAGE" -C ws sample
has "$err" "there is no tokenizer yet"

# a file where the workspace should be
echo hi > afile
expect 1 "$GARAGE" init afile
same "$err" "garage: afile exists and is not a folder"

finish
