/* bench/llmc-bench.c: times llm.c's CPU trainer (train_gpt2.c) on garage's
 * bench configs.  No llm.c code lives here: run-bench.sh compiles this
 * file against a checkout named by LLMC_DIR, with llm.c's own flags:
 *     cc -Ofast -march=native -fopenmp -DOMP -I$LLMC_DIR \
 *        bench/llmc-bench.c -lm -o llmc-bench
 *     llmc-bench L NH C V T B TSEQ STEPS [WARMUP]
 * It writes a checkpoint in llm.c's format (GPT-2 initialisation, vocab
 * padded to a multiple of 128 as llm.c pads it) to a temporary file,
 * loads it with gpt2_build_from_checkpoint and times the loop of llm.c's
 * main(): gpt2_forward, gpt2_zero_grad, gpt2_backward, gpt2_update.
 * Output: `KEY value` lines, like bench-train. */
#define TESTING                 /* train_gpt2.c without its main() */
#include "train_gpt2.c"

#include <sys/resource.h>

static double
wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double
unit(void)          /* (0,1) */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return ((rng_state * 0x2545F4914F6CDD1DULL >> 11) + 0.5) / 9007199254740992.0;
}

static float
normal(float std)
{
    return std * (float)(sqrt(-2.0 * log(unit())) * cos(6.283185307179586 * unit()));
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    if (argc < 9) {
        fprintf(stderr, "usage: llmc-bench L NH C V T B TSEQ STEPS [WARMUP]\n");
        return 2;
    }
    int L = atoi(argv[1]), NH = atoi(argv[2]), C = atoi(argv[3]);
    int V = atoi(argv[4]), maxT = atoi(argv[5]), B = atoi(argv[6]);
    int T = atoi(argv[7]), steps = atoi(argv[8]);
    int warmup = argc > 9 ? atoi(argv[9]) : 1;
    int Vp = (V + 127) / 128 * 128;

    char path[] = "/tmp/llmc-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    FILE *f = fdopen(fd, "wb");
    int header[256] = { 20240326, 3, maxT, V, L, NH, C, Vp };
    fwrite(header, sizeof header, 1, f);
    /* Tensor by tensor, in llm.c's order: matrices N(0, 0.02) (residual
     * projections scaled by 1/sqrt(2L)), LayerNorm gains 1, biases 0. */
    size_t sz[16] = {
        (size_t)Vp * C, (size_t)maxT * C, (size_t)L * C, (size_t)L * C,
        (size_t)L * 3 * C * C, (size_t)L * 3 * C, (size_t)L * C * C,
        (size_t)L * C, (size_t)L * C, (size_t)L * C, (size_t)L * 4 * C * C,
        (size_t)L * 4 * C, (size_t)L * 4 * C * C, (size_t)L * C, C, C,
    };
    const int kind[16] = { 1, 1, 2, 0, 1, 0, 3, 0, 2, 0, 1, 0, 3, 0, 2, 0 };
    for (int t = 0; t < 16; t++)
        for (size_t i = 0; i < sz[t]; i++) {
            float x = kind[t] == 2 ? 1.0f : kind[t] == 0 ? 0.0f :
                      normal(kind[t] == 3 ? 0.02f / sqrtf(2.0f * L) : 0.02f);
            fwrite(&x, sizeof x, 1, f);
        }
    if (fclose(f) != 0) {
        perror(path);
        return 1;
    }
    GPT2 model;
    gpt2_build_from_checkpoint(&model, path);
    unlink(path);

    int *in = malloc(2 * (size_t)B * T * sizeof *in), *tg = in + (size_t)B * T;
    double *dt = malloc((size_t)steps * sizeof *dt);
    for (int s = 0; s < warmup + steps; s++) {
        for (int i = 0; i < 2 * B * T; i++)
            in[i] = (int)(unit() * V);
        double t0 = wall();
        gpt2_forward(&model, in, tg, B, T);
        gpt2_zero_grad(&model);
        gpt2_backward(&model);
        gpt2_update(&model, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, s + 1);
        if (s >= warmup)
            dt[s - warmup] = wall() - t0;
    }
    /* Model FLOPs as garage counts them: its parameters (vocab unpadded). */
    double n = (double)V * C + (double)maxT * C + L * (12.0 * C * C + 13.0 * C) + 2.0 * C;
    printf("STEP_S");
    for (int s = 0; s < steps; s++)
        printf(" %.5f", dt[s]);
    printf("\n");
    qsort(dt, (size_t)steps, sizeof *dt, cmp_double);
    double med = steps % 2 ? dt[steps / 2] : 0.5 * (dt[steps / 2 - 1] + dt[steps / 2]);
    printf("TOK_S %.1f\n", B * T / med);
    printf("FLOPS %.4g\n", B * T / med * (6.0 * n + 12.0 * L * C * T));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("PEAK_RSS_MIB %.1f\n", ru.ru_maxrss / 1024.0);
    free(dt);
    free(in);
    gpt2_free(&model);
    return 0;
}
