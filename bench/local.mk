# bench: speed checks, built on demand (make bench/bench-bpe), not by
# "make" or "make check".
EXTRA_PROGRAMS = bench/bench-bpe
bench_bench_bpe_SOURCES = bench/bench-bpe.c
bench_bench_bpe_LDADD = $(ENGINE_LIBS)
CLEANFILES += $(EXTRA_PROGRAMS)
# bench: training, sampling and sgemm against PyTorch and llm.c ("make bench")
EXTRA_PROGRAMS += bench/bench-train
bench_bench_train_SOURCES = bench/bench-train.c
bench_bench_train_LDADD = $(ENGINE_LIBS)
EXTRA_DIST += bench/run-bench.sh bench/torch_ref.py bench/llmc-bench.c \
	bench/bench-bf16.c bench/README
.PHONY: bench
bench: bench/bench-train$(EXEEXT) src/libkernels.a
	CC='$(CC)' $(SHELL) $(srcdir)/bench/run-bench.sh \
	    $(abs_top_builddir)/bench/bench-train$(EXEEXT)
