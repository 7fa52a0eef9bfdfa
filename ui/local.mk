garage_SOURCES += ui/main.c ui/progress.c ui/progress.h
