# bench: speed checks, built on demand (make bench/bench-bpe), not by
# "make" or "make check".
EXTRA_PROGRAMS = bench/bench-bpe
bench_bench_bpe_SOURCES = bench/bench-bpe.c
bench_bench_bpe_LDADD = $(ENGINE_LIBS)
CLEANFILES += $(EXTRA_PROGRAMS)
