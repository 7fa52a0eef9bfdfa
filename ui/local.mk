garage_SOURCES += ui/main.c ui/progress.c ui/progress.h ui/format.c ui/format.h
# sft: the chat prompt
garage_SOURCES += ui/chat.c ui/chat.h
# tui: the curses application
garage_SOURCES += ui/tui/tui.h ui/tui/screens.h ui/tui/app.c \
	ui/tui/worker.c ui/tui/worker.h ui/tui/draw.c ui/tui/draw.h \
	ui/tui/chart.c ui/tui/chart.h ui/tui/chartview.c ui/tui/chartview.h \
	ui/tui/form.c ui/tui/form.h ui/tui/input.c ui/tui/input.h \
	ui/tui/list.c ui/tui/list.h ui/tui/textlog.c ui/tui/textlog.h \
	ui/tui/facts.c ui/tui/facts.h ui/tui/runlog.c ui/tui/runlog.h \
	ui/tui/screen_home.c ui/tui/screen_corpus.c ui/tui/screen_tokenizer.c \
	ui/tui/screen_pretrain.c ui/tui/screen_console.c ui/tui/screen_stage.c \
	ui/tui/screen_session.c ui/tui/screen_chat.c ui/tui/screen_rank.c \
	ui/tui/screen_sft.c ui/tui/screen_reward.c ui/tui/screen_tune.c
# reward: the line interface for ranking
garage_SOURCES += ui/rank_cli.c ui/rank_cli.h
# repl
garage_SOURCES += ui/repl.c ui/repl.h
