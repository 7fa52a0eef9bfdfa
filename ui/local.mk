garage_SOURCES += ui/main.c ui/progress.c ui/progress.h
# sft: the chat prompt
garage_SOURCES += ui/chat.c ui/chat.h
