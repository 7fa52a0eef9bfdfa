# src/kernels: numeric kernels, built with -O3 -ffast-math (no NaN checks here)
src_libkernels_a_SOURCES += \
	src/kernels/par.h src/kernels/simd.h \
	src/kernels/blas.c src/kernels/blas.h \
	src/kernels/gemm.c src/kernels/gemm.h \
	src/kernels/linear.c src/kernels/linear.h \
	src/kernels/norm.c src/kernels/norm.h \
	src/kernels/act.c src/kernels/act.h \
	src/kernels/attention.c src/kernels/attention.h \
	src/kernels/loss.c src/kernels/loss.h \
	src/kernels/optim.c src/kernels/optim.h
# prof (per-kind step timers, pretrain profile=true)
src_libkernels_a_SOURCES += src/kernels/prof.c src/kernels/prof.h
# bf16 (oneDNN matmul for precision=bf16)
src_libkernels_a_SOURCES += src/kernels/bf16.c src/kernels/bf16.h \
	src/kernels/onednn.c src/kernels/onednn.h
# amx (few-row products on AMX tiles: generating many sequences in bf16)
src_libkernels_a_SOURCES += src/kernels/amx.c src/kernels/amx.h
# topk (the whole-row scans of top-k and top-p sampling)
src_libkernels_a_SOURCES += src/kernels/topk.c src/kernels/topk.h
