src_libgarage_a_SOURCES += \
	src/app/command.c src/app/command.h \
	src/app/commands.c \
	src/app/workspace.c src/app/workspace.h \
	src/app/datadir.c src/app/datadir.h \
	src/app/status.c \
	src/app/job.c src/app/job.h
src_libgarage_a_SOURCES += src/app/session.c src/app/session.h
# reward: the labeler interface front ends implement
src_libgarage_a_SOURCES += src/app/labeler.h
# repl: command lines and tab completion
src_libgarage_a_SOURCES += src/app/complete.c src/app/complete.h
