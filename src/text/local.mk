# src/text
# bpe
src_libgarage_a_SOURCES += src/text/bpe.c src/text/bpe.h
# corpus: token shards, JSONL reading
src_libgarage_a_SOURCES += \
	src/text/shard.c src/text/shard.h \
	src/text/jsonl.c src/text/jsonl.h
# chat template
src_libgarage_a_SOURCES += src/text/chat.c src/text/chat.h
# sft: human labels (demonstrations)
src_libgarage_a_SOURCES += src/text/labels.c src/text/labels.h
# reward: rankings
src_libgarage_a_SOURCES += src/text/rankings.c src/text/rankings.h
