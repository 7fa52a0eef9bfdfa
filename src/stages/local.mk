# src/stages
# stages (glue): tokenizer, model, pretrain, sample, info
src_libgarage_a_SOURCES += \
	src/stages/stages.h \
	src/stages/common.c src/stages/common.h \
	src/stages/tokenize.c \
	src/stages/model.c \
	src/stages/pretrain.c \
	src/stages/sample.c
# corpus
src_libgarage_a_SOURCES += src/stages/corpus.c src/stages/corpus.h
# sft: demonstrations, supervised fine-tuning, chat
src_libgarage_a_SOURCES += src/stages/demos.c \
	src/stages/train.c src/stages/train.h \
	src/stages/sft.c src/stages/sft.h \
	src/stages/chat.c src/stages/chat.h
# reward: ranking, preferences, the reward model
src_libgarage_a_SOURCES += src/stages/rank.c src/stages/rank.h \
	src/stages/prefs.c src/stages/reward.c
# tune: reward-guided fine-tuning and its evaluation
src_libgarage_a_SOURCES += src/stages/tune.c src/stages/tune.h src/stages/eval.c
