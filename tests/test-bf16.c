/* tests/test-bf16.c: precision bf16 (bf16 matrix products through oneDNN)
 * computes what fp32 computes, to bf16's rounding: the bf16 product
 * kernel against sgemm for every transpose, the loss, logits and
 * gradients of a model against the fp32 path, the activation buffers
 * across precision switches and a regrown batch, and a few AdamW steps
 * that lower the loss as fp32's do.  Skipped (77) where bf16 products
 * are not available (no oneDNN, or a CPU without bf16 units). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/rng.h"
#include "check.h"
#include "kernels/bf16.h"
#include "kernels/blas.h"
#include "model/adamw.h"
#include "model/gpt.h"

static void
test_gemm(struct gr_rng *rng)
{
    const int M = 37, N = 53, K = 70;
    float *A = malloc(M * K * sizeof *A), *B = malloc(K * N * sizeof *B);
    float *C0 = malloc(M * N * sizeof *C0), *C1 = malloc(M * N * sizeof *C1);
    gr_bf16 *A16 = malloc(M * K * sizeof *A16), *B16 = malloc(K * N * sizeof *B16);
    for (int i = 0; i < M * K; i++)
        A[i] = rng_normal(rng);
    for (int i = 0; i < K * N; i++)
        B[i] = rng_normal(rng);
    bf16_from_f32(A16, A, (size_t)M * K);
    bf16_from_f32(B16, B, (size_t)K * N);
    /* rounding: bf16 keeps 8 bits, so |x - bf16(x)| <= 2^-9 |x| */
    for (int i = 0; i < M * K; i++) {
        uint32_t u = (uint32_t)A16[i] << 16;
        float back;
        memcpy(&back, &u, sizeof back);
        CHECK(fabsf(back - A[i]) <= fabsf(A[i]) / 256.0f);
    }
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int acc = 0; acc < 2; acc++) {
                enum CBLAS_TRANSPOSE a = ta ? CblasTrans : CblasNoTrans;
                enum CBLAS_TRANSPOSE b = tb ? CblasTrans : CblasNoTrans;
                int lda = ta ? M : K, ldb = tb ? K : N;
                for (int i = 0; i < M * N; i++)
                    C0[i] = C1[i] = acc ? 1.0f + 0.01f * i : -7.0f;
                cblas_sgemm(CblasRowMajor, a, b, M, N, K, 1.0f, A, lda, B,
                            ldb, acc ? 1.0f : 0.0f, C0, N);
                bf16_gemm(a, b, M, N, K, A16, lda, B16, ldb,
                          acc ? 1.0f : 0.0f, C1, N);
                double e = check_rel_l2(C1, C0, (size_t)M * N);
                CHECK_MSG(e < 1e-2, "ta %d tb %d acc %d: error %g", ta, tb,
                          acc, e);
            }
    free(A);
    free(B);
    free(C0);
    free(C1);
    free(A16);
    free(B16);
}

int
main(void)
{
    const char *why;
    if (!bf16_available(&why)) {
        printf("SKIP: %s\n", why);
        return 77;
    }
    kernels_set_threads(2);
    struct gr_rng rng;
    rng_seed(&rng, 11);
    test_gemm(&rng);

    struct gpt_config cfg = { .L = 2, .NH = 2, .C = 64, .T = 32, .V = 97 };
    struct gpt m;
    struct gr_error err;
    CHECK(gpt_create(&m, &cfg, &err) == GR_OK);
    gpt_init_weights(&m, &rng);
    const int B = 3, T = 32, N = B * T;
    CHECK(gpt_alloc_acts(&m, B, T, &err) == GR_OK);
    int32_t in[3 * 32], tg[3 * 32];
    for (int i = 0; i < N; i++) {
        in[i] = (int32_t)rng_below(&rng, cfg.V);
        tg[i] = (int32_t)((in[i] * 7 + 3) % cfg.V);
    }
    size_t nl = (size_t)N * cfg.V;
    float *lg = malloc(nl * sizeof *lg), *g32 = malloc(m.nparams * sizeof *g32);

    /* fp32 reference */
    gpt_zero_grad(&m);
    float l32 = gpt_forward(&m, in, tg, B, T, 1);
    memcpy(lg, m.a.logits, nl * sizeof *lg);
    gpt_backward(&m);
    memcpy(g32, m.grads, m.nparams * sizeof *g32);

    /* bf16: acts16 allocated by set_precision after alloc_acts */
    CHECK(gpt_set_precision(&m, GPT_BF16, &err) == GR_OK);
    CHECK(m.params16 && m.acts16);
    gpt_zero_grad(&m);
    float l16 = gpt_forward(&m, in, tg, B, T, 1);
    CHECK_MSG(fabsf(l16 - l32) < 2e-3f * l32, "loss %g vs %g", l16, l32);
    double lerr = check_rel_l2(m.a.logits, lg, nl);
    CHECK_MSG(lerr < 2e-2, "logits error %g", lerr);
    gpt_backward(&m);
    double ge = check_rel_l2(m.grads, g32, m.nparams);
    CHECK_MSG(ge < 3e-2, "gradient error %g", ge);

    /* a bigger batch reallocates acts16 too */
    CHECK(gpt_alloc_acts(&m, 4, T, &err) == GR_OK);
    gpt_zero_grad(&m);
    CHECK(fabsf(gpt_forward(&m, in, tg, B, T, 1) - l16) < 1e-6f);
    gpt_backward(&m);
    CHECK(check_rel_l2(m.grads, g32, m.nparams) == ge);

    /* training lowers the loss about as fp32 does */
    float *p0 = malloc(m.nparams * sizeof *p0);
    memcpy(p0, m.params, m.nparams * sizeof *p0);
    float last[2];
    for (int prec = 0; prec < 2; prec++) {
        CHECK(gpt_set_precision(&m, prec ? GPT_BF16 : GPT_FP32, &err) == GR_OK);
        memcpy(m.params, p0, m.nparams * sizeof *p0);
        memset(m.adam_m, 0, m.nparams * sizeof *m.adam_m);
        memset(m.adam_v, 0, m.nparams * sizeof *m.adam_v);
        for (int s = 1; s <= 30; s++) {
            gpt_zero_grad(&m);
            last[prec] = gpt_forward(&m, in, tg, B, T, 1);
            gpt_backward(&m);
            gpt_clip_grads(&m, 1.0f);
            adamw_step(&m, 3e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, s);
        }
    }
    printf("loss fp32 %.6f bf16 %.6f; logits error %.2e; gradient error "
           "%.2e; after 30 steps fp32 %.5f bf16 %.5f; kernel %s\n", l32, l16,
           lerr, ge, last[0], last[1], bf16_kernel());
    CHECK_MSG(last[0] < 0.5f * l32, "fp32 loss %g -> %g", l32, last[0]);
    CHECK_MSG(fabsf(last[1] - last[0]) < 0.02f * last[0] + 0.02f,
              "after 30 steps: bf16 loss %g, fp32 %g", last[1], last[0]);
    CHECK(gpt_set_precision(&m, GPT_FP32, &err) == GR_OK);
    CHECK(m.params16 == NULL && m.acts16 == NULL);

    free(p0);
    free(lg);
    free(g32);
    gpt_release(&m);
    return check_exit();
}
