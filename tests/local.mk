# tests
# cli (command-line tests)
TESTS += tests/cli-help.sh tests/cli-workspace.sh tests/cli-pipeline.sh \
	tests/cli-learns.sh
EXTRA_DIST += tests/check.h tests/cli-lib.sh tests/cli-help.sh \
	tests/cli-workspace.sh tests/cli-pipeline.sh tests/cli-learns.sh
CLEANFILES += tests/out tests/err
clean-local: clean-cli-tmp
clean-cli-tmp:
	-rm -rf tests/tmp-*
# session
check_PROGRAMS += tests/test-session
TESTS += tests/test-session
tests_test_session_SOURCES = tests/test-session.c
tests_test_session_LDADD = $(ENGINE_LIBS)
EXTRA_DIST += \
	tests/data/sessions/bad-choice.yaml \
	tests/data/sessions/bad-command.yaml \
	tests/data/sessions/bad-int.yaml \
	tests/data/sessions/bad-option.yaml \
	tests/data/sessions/bad-range.yaml \
	tests/data/sessions/bad-seed.yaml \
	tests/data/sessions/bad-top-key-far.yaml \
	tests/data/sessions/bad-top-key.yaml \
	tests/data/sessions/bad-workspace.yaml \
	tests/data/sessions/dup-key.yaml \
	tests/data/sessions/dup-option.yaml \
	tests/data/sessions/empty-step.yaml \
	tests/data/sessions/empty.yaml \
	tests/data/sessions/fortunes.txt \
	tests/data/sessions/list-value.yaml \
	tests/data/sessions/malformed.yaml \
	tests/data/sessions/map-value.yaml \
	tests/data/sessions/minimal.yaml \
	tests/data/sessions/missing-file.yaml \
	tests/data/sessions/no-glob-match.yaml \
	tests/data/sessions/no-options.yaml \
	tests/data/sessions/no-session.yaml \
	tests/data/sessions/no-steps.yaml \
	tests/data/sessions/no-version.yaml \
	tests/data/sessions/not-a-map.yaml \
	tests/data/sessions/null-value.yaml \
	tests/data/sessions/options-scalar.yaml \
	tests/data/sessions/scalar-step.yaml \
	tests/data/sessions/steps-empty.yaml \
	tests/data/sessions/steps-scalar.yaml \
	tests/data/sessions/tab-flow.yaml \
	tests/data/sessions/tab-in-string.yaml \
	tests/data/sessions/tab.yaml \
	tests/data/sessions/texts/notes.txt \
	tests/data/sessions/two-commands.yaml \
	tests/data/sessions/two-docs.yaml \
	tests/data/sessions/two-keys.yaml \
	tests/data/sessions/unquoted-glob.yaml \
	tests/data/sessions/valid.yaml \
	tests/data/sessions/version2.yaml
# bpe
check_PROGRAMS += tests/test-bpe
TESTS += tests/test-bpe
tests_test_bpe_SOURCES = tests/test-bpe.c
tests_test_bpe_LDADD = $(ENGINE_LIBS)
# corpus
check_PROGRAMS += tests/test-corpus tests/test-shard
TESTS += tests/test-corpus tests/test-shard
tests_test_corpus_SOURCES = tests/test-corpus.c
tests_test_corpus_LDADD = $(ENGINE_LIBS)
tests_test_shard_SOURCES = tests/test-shard.c
tests_test_shard_LDADD = $(ENGINE_LIBS)
EXTRA_DIST += \
	tests/data/corpus/plain.txt \
	tests/data/corpus/quotes \
	tests/data/corpus/docs.jsonl \
	tests/data/corpus/bad-utf8.txt \
	tests/data/corpus/auto/records \
	tests/data/corpus/auto/sayings \
	tests/data/corpus/auto/brace.c \
	tests/data/corpus/auto/notes.json \
	tests/data/corpus/auto/essay.txt
# a tool for cli-pipeline.sh
check_PROGRAMS += tests/poison-ckpt
tests_poison_ckpt_LDADD = $(ENGINE_LIBS)
# model
check_PROGRAMS += tests/grad-layers tests/grad-gpt tests/test-gpt \
	tests/test-gpt-learns tests/test-sample tests/test-gpt-speed
TESTS += tests/grad-layers tests/grad-gpt tests/test-gpt \
	tests/test-gpt-learns tests/test-sample
tests_grad_layers_LDADD = $(ENGINE_LIBS)
tests_grad_gpt_LDADD = $(ENGINE_LIBS)
tests_test_gpt_LDADD = $(ENGINE_LIBS)
tests_test_gpt_learns_LDADD = $(ENGINE_LIBS)
tests_test_sample_LDADD = $(ENGINE_LIBS)
tests_test_gpt_speed_LDADD = $(ENGINE_LIBS)
# sft: chat template, demonstrations, fine-tuning, chat
check_PROGRAMS += tests/test-chat tests/test-labels
TESTS += tests/test-chat tests/test-labels
tests_test_chat_LDADD = $(ENGINE_LIBS)
tests_test_labels_LDADD = $(ENGINE_LIBS)
TESTS += tests/cli-demos.sh
EXTRA_DIST += tests/cli-demos.sh
check_PROGRAMS += tests/test-sft
TESTS += tests/test-sft
tests_test_sft_LDADD = $(ENGINE_LIBS)
TESTS += tests/cli-sft.sh tests/cli-chat.sh
EXTRA_DIST += tests/cli-sft.sh tests/cli-chat.sh
# tui: the chart on its own, and the application driven through tmux
check_PROGRAMS += tests/test-chart
TESTS += tests/test-chart tests/cli-tui.sh
tests_test_chart_SOURCES = tests/test-chart.c ui/tui/chart.c ui/tui/chart.h
tests_test_chart_LDADD = $(ENGINE_LIBS)
check_PROGRAMS += tests/test-runlog
TESTS += tests/test-runlog
tests_test_runlog_SOURCES = tests/test-runlog.c ui/tui/runlog.c ui/tui/runlog.h
tests_test_runlog_LDADD = $(ENGINE_LIBS)
EXTRA_DIST += tests/cli-tui.sh tests/tui-lib.sh
# tune
check_PROGRAMS += tests/test-ppo
TESTS += tests/test-ppo
tests_test_ppo_LDADD = $(ENGINE_LIBS)
# reward
check_PROGRAMS += tests/test-rankings tests/grad-reward
TESTS += tests/test-rankings tests/grad-reward
tests_test_rankings_LDADD = $(ENGINE_LIBS)
tests_grad_reward_LDADD = $(ENGINE_LIBS)
TESTS += tests/cli-reward.sh tests/cli-rank.sh
EXTRA_DIST += tests/cli-reward.sh tests/cli-rank.sh
# repl: session files further (include, ${VAR}, when_missing)
TESTS += tests/cli-session.sh
EXTRA_DIST += tests/cli-session.sh \
	tests/data/sessions/env-bad-name.yaml \
	tests/data/sessions/env-unclosed.yaml \
	tests/data/sessions/env-unset-second.yaml \
	tests/data/sessions/env-unset.yaml \
	tests/data/sessions/env.yaml \
	tests/data/sessions/inc-broken-outer.yaml \
	tests/data/sessions/inc-cycle-a.yaml \
	tests/data/sessions/inc-cycle-b.yaml \
	tests/data/sessions/inc-extra-key.yaml \
	tests/data/sessions/inc-main.yaml \
	tests/data/sessions/inc-missing.yaml \
	tests/data/sessions/inc-self.yaml \
	tests/data/sessions/inc-top.yaml \
	tests/data/sessions/inc/broken.yaml \
	tests/data/sessions/inc/part.yaml \
	tests/data/sessions/wm-all.yaml \
	tests/data/sessions/wm-bad.yaml \
	tests/data/sessions/wm-list.yaml \
	tests/data/sessions/wm-twice.yaml
# repl: tab completion and the REPL
check_PROGRAMS += tests/test-complete
TESTS += tests/test-complete tests/cli-repl.sh
tests_test_complete_LDADD = $(ENGINE_LIBS)
EXTRA_DIST += tests/cli-repl.sh \
	tests/data/complete/.hidden \
	tests/data/complete/alpha.txt \
	tests/data/complete/alpine/inner.txt \
	tests/data/complete/beta.yaml
# repl: what is generated from the registry (man pages, bash completion)
TESTS += tests/cli-docs.sh
EXTRA_DIST += tests/cli-docs.sh
# tune
check_PROGRAMS += tests/test-tune
TESTS += tests/test-tune tests/cli-tune.sh tests/cli-tune-bar.sh tests/cli-tui-tune.sh
tests_test_tune_LDADD = $(ENGINE_LIBS)
EXTRA_DIST += tests/tune-lib.sh tests/cli-tune.sh tests/cli-tune-bar.sh tests/cli-tui-tune.sh \
	tests/data/tune/corpus.txt tests/data/tune/demos.jsonl \
	tests/data/tune/prompts.txt tests/data/tune/prompts-eval.txt
# profile (pretrain profile=true)
TESTS += tests/cli-profile.sh
EXTRA_DIST += tests/cli-profile.sh
# bf16 (precision=bf16 products; skipped without oneDNN)
check_PROGRAMS += tests/test-bf16
TESTS += tests/test-bf16
tests_test_bf16_LDADD = $(ENGINE_LIBS)
# linear (forward paths: gemv, few-row kernels, sgemm)
check_PROGRAMS += tests/test-linear
TESTS += tests/test-linear
tests_test_linear_LDADD = $(ENGINE_LIBS)
# gemm (garage's own fp32 product, GARAGE_SGEMM=garage; skipped without AVX-512)
check_PROGRAMS += tests/test-gemm
TESTS += tests/test-gemm
tests_test_gemm_LDADD = $(ENGINE_LIBS)
# amx (few-row products on AMX tiles; skipped without AMX)
check_PROGRAMS += tests/test-amx
TESTS += tests/test-amx
tests_test_amx_LDADD = $(ENGINE_LIBS)
