src_libgarage_a_SOURCES += \
	src/base/error.c src/base/error.h \
	src/base/xalloc.c src/base/xalloc.h \
	src/base/rng.c src/base/rng.h \
	src/base/fsio.c src/base/fsio.h \
	src/base/metrics.c src/base/metrics.h
