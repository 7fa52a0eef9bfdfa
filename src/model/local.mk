# src/model
# checkpoint
src_libgarage_a_SOURCES += src/model/checkpoint.c src/model/checkpoint.h
# gpt, adamw, sample (model)
src_libgarage_a_SOURCES += \
	src/model/gpt.c src/model/gpt.h \
	src/model/adamw.c src/model/adamw.h \
	src/model/sample.c src/model/sample.h
# tune: PPO
src_libgarage_a_SOURCES += src/model/ppo.c src/model/ppo.h
# reward
src_libgarage_a_SOURCES += src/model/reward.c src/model/reward.h
