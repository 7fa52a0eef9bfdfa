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
# the shipped demonstrations it suggests exist, installed or not (a
# build run in place reads the source tree's share/garage)
demos=$(printf '%s\n' "$out" | sed -n 's/.*garage demos import //p')
[ -f "$demos" ] || fail "status suggests importing '$demos', which does not exist"

# adding a folder that holds the workspace leaves the workspace's own
# files out (its shards, logs and labels are not text to learn from)
mkdir top && echo "the cat sat on the mat" > top/a.txt
expect 0 "$GARAGE" init top/ws
expect 1 "$GARAGE" -C top/ws corpus add top/ws
same "$err" "garage: top/ws is the garage workspace itself: give the files you want from it by name"
expect 0 "$GARAGE" -C top/ws corpus add top
has "$err" "skipped folder top/ws: it is the garage workspace"
has "$out" "Added 1 document "

# each stage refuses to run before the one it builds on
expect 1 "$GARAGE" -C ws tokenizer
has "$err" "corpus is empty"
expect 1 "$GARAGE" -C ws model
has "$err" "there is no tokenizer yet"
expect 1 "$GARAGE" -C ws pretrain
has "$err" "there is no tokenizer yet"
expect 1 "$GARAGE" -C ws sample
has "$err" "there is no tokenizer yet"

# garage.yaml: comments, blank lines and CRLF are fine; a setting that
# does not read is an error naming the line, never a silent default
printf '# mine\r\ngarage: 1\r\n\r\nseed: 42   # the answer\r\n' > ws/garage.yaml
expect 0 "$GARAGE" -C ws status
has "$out" "(seed 42)"
# bad_yaml LINE2 MESSAGE: garage.yaml with LINE2 after the version
bad_yaml() {
    printf 'garage: 1\n%s\n' "$1" > ws/garage.yaml
    expect 1 "$GARAGE" -C ws status
    same "$err" "garage: ws/garage.yaml:2: $2"
}
bad_yaml 'seed: 42x' "seed: expected a whole number from 0 to 18446744073709551615, got '42x'"
bad_yaml 'sed: 42' "unknown setting 'sed' (expected 'garage' or 'seed')"
bad_yaml 'seed 42' "expected 'key: value', got 'seed 42'"
printf 'garage: 1\nseed: 1337\n' > ws/garage.yaml

# a checkpoint path is read from the current folder; under -C, a path
# that names a file in the workspace gets a hint
mkdir -p ws/checkpoints && : > ws/checkpoints/x.ckpt
expect 1 "$GARAGE" -C ws info checkpoint=checkpoints/x.ckpt
same "$err" "garage: checkpoints/x.ckpt: no such checkpoint (file paths are read from the current folder: did you mean ws/checkpoints/x.ckpt?)"
expect 1 "$GARAGE" -C ws info checkpoint=checkpoints/y.ckpt
same "$err" "garage: checkpoints/y.ckpt: no such checkpoint"
rm ws/checkpoints/x.ckpt

# a file where the workspace should be
echo hi > afile
expect 1 "$GARAGE" init afile
same "$err" "garage: afile exists and is not a folder"

finish
