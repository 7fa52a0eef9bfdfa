/* tests/grad-layers.c: each layer's backward agrees with central finite
 * differences of its forward, on every element of small random shapes.
 * The loss of a layer is sum(out * k) for a fixed random k, summed in
 * double, so d(loss)/d(out) = k. */
#include <stdint.h>
#include <stdlib.h>

#include "base/rng.h"
#include "check.h"
#include "kernels/act.h"
#include "kernels/attention.h"
#include "kernels/blas.h"
#include "kernels/linear.h"
#include "kernels/loss.h"
#include "kernels/norm.h"

static struct gr_rng rng;

static float *
randv(size_t n, float scale)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = scale * rng_normal(&rng);
    return x;
}

static float *
zeros(size_t n)
{
    return calloc(n, sizeof(float));
}

static double
dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* The layer under test: fills its output, returns sum(out * k). */
typedef double (*loss_fn)(void *ctx);

/* Compare analytic gradients ana (n) of the parameters x (n) with central
 * differences.  An element passes when |ana - num| <= tol * max(|num|,
 * |ana|, floor), floor = 1e-2 * max |num| (float32 loses the smallest
 * entries to rounding). */
static void
check_grad(const char *what, float *x, const float *ana, size_t n,
           loss_fn f, void *ctx, float eps, double tol)
{
    double *num = malloc(n * sizeof *num), mx = 0.0;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + eps;
        double up = f(ctx);
        x[i] = x0 - eps;
        double down = f(ctx);
        x[i] = x0;
        num[i] = (up - down) / (2.0 * eps);
        mx = fabs(num[i]) > mx ? fabs(num[i]) : mx;
    }
    double floor = 1e-2 * mx, worst = 0.0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        double s = fabs(num[i]) > fabs(ana[i]) ? fabs(num[i]) : fabs(ana[i]);
        s = s > floor ? s : floor;
        double e = s > 0 ? fabs(ana[i] - num[i]) / s : 0.0;
        worst = e > worst ? e : worst;
        if (e > tol && bad++ < 5)
            fprintf(stderr, "%s[%zu]: analytic %.7g numeric %.7g\n", what, i,
                    ana[i], num[i]);
    }
    CHECK_MSG(bad == 0, "%s: %zu of %zu gradients off (worst rel. error %.3g)",
              what, bad, n, worst);
    CHECK_MSG(mx > 0.0, "%s: all gradients zero", what);
    free(num);
}

/* --- matmul: gr_sgemm against a naive product ------------------------ */

static void
test_matmul(const char *mode)
{
    int M = 150, N = 170, K = 130;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            float *A = randv((size_t)M * K, 1), *B = randv((size_t)K * N, 1);
            float *C = randv((size_t)M * N, 1), *R = malloc((size_t)M * N * 4);
            int lda = ta ? M : K, ldb = tb ? K : N;
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    double s = 0;
                    for (int k = 0; k < K; k++)
                        s += (double)(ta ? A[k * lda + i] : A[i * lda + k]) *
                             (tb ? B[j * ldb + k] : B[k * ldb + j]);
                    R[i * N + j] = (float)(0.5 * s + 2.0 * C[i * N + j]);
                }
            gr_sgemm(ta ? CblasTrans : CblasNoTrans,
                     tb ? CblasTrans : CblasNoTrans, M, N, K, 0.5f, A, lda,
                     B, ldb, 2.0f, C, N);
            double worst = 0;
            for (int i = 0; i < M * N; i++)
                worst = fmax(worst, fabs(C[i] - R[i]));
            CHECK_MSG(worst < 1e-3, "%s sgemm ta=%d tb=%d: max error %g",
                      mode, ta, tb, worst);
            free(A); free(B); free(C); free(R);
        }
}

/* --- linear ------------------------------------------------------------ */

struct lin { int N, C, OC, add; float *out, *res, *inp, *w, *b, *k; };

static double
lin_loss(void *p)
{
    struct lin *c = p;
    if (c->add)
        linear_forward_add(c->out, c->res, c->inp, c->w, c->b, c->N, c->C,
                           c->OC);
    else
        linear_forward(c->out, c->inp, c->w, c->b, c->N, c->C, c->OC);
    return dot(c->out, c->k, (size_t)c->N * c->OC);
}

static void
test_linear(int add)
{
    struct lin c = { .N = 7, .C = 5, .OC = 6, .add = add };
    size_t no = (size_t)c.N * c.OC, ni = (size_t)c.N * c.C;
    c.out = zeros(no);
    c.res = randv(no, 1);
    c.inp = randv(ni, 1);
    c.w = randv((size_t)c.OC * c.C, 1);
    c.b = randv(c.OC, 1);
    c.k = randv(no, 1);
    float *dinp = randv(ni, 1), *dinp0 = malloc(ni * 4);
    float *dw = zeros((size_t)c.OC * c.C), *db = zeros(c.OC);
    for (size_t i = 0; i < ni; i++)
        dinp0[i] = dinp[i];
    /* dinp_acc = 1 adds to what was there */
    linear_backward(dinp, dw, db, c.k, c.inp, c.w, c.N, c.C, c.OC, 1);
    for (size_t i = 0; i < ni; i++)
        dinp[i] -= dinp0[i];
    const char *n = add ? "linear_add" : "linear";
    check_grad(n, c.inp, dinp, ni, lin_loss, &c, 1e-2f, 1e-3);
    check_grad(n, c.w, dw, (size_t)c.OC * c.C, lin_loss, &c, 1e-2f, 1e-3);
    check_grad(n, c.b, db, c.OC, lin_loss, &c, 1e-2f, 1e-3);
    if (add)        /* d(res) = k */
        check_grad("linear_add res", c.res, c.k, no, lin_loss, &c, 1e-2f,
                   1e-3);
    /* dinp_acc = 0 overwrites */
    linear_backward(dinp0, NULL, NULL, c.k, c.inp, c.w, c.N, c.C, c.OC, 0);
    for (size_t i = 0; i < ni; i++)
        CHECK_NEAR(dinp0[i], dinp[i], 1e-5);
    free(c.out); free(c.res); free(c.inp); free(c.w); free(c.b); free(c.k);
    free(dinp); free(dinp0); free(dw); free(db);
}

/* --- layernorm ----------------------------------------------------------- */

struct ln { int N, C; float *out, *mean, *rstd, *inp, *w, *b, *k; };

static double
ln_loss(void *p)
{
    struct ln *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N,
                      c->C);
    return dot(c->out, c->k, (size_t)c->N * c->C);
}

static void
test_layernorm(void)
{
    struct ln c = { .N = 6, .C = 9 };
    size_t n = (size_t)c.N * c.C;
    c.out = zeros(n);
    c.mean = zeros(c.N);
    c.rstd = zeros(c.N);
    c.inp = randv(n, 1);
    for (size_t i = 0; i < n; i++)
        c.inp[i] += 0.5f;
    c.w = randv(c.C, 1);
    c.b = randv(c.C, 1);
    c.k = randv(n, 1);
    float *dinp = zeros(n), *dw = zeros(c.C), *db = zeros(c.C);
    ln_loss(&c);
    layernorm_backward(dinp, dw, db, c.k, c.inp, c.w, c.mean, c.rstd, c.N,
                       c.C);
    check_grad("layernorm inp", c.inp, dinp, n, ln_loss, &c, 1e-2f, 1e-2);
    check_grad("layernorm w", c.w, dw, c.C, ln_loss, &c, 1e-2f, 1e-3);
    check_grad("layernorm b", c.b, db, c.C, ln_loss, &c, 1e-2f, 1e-3);
    free(c.out); free(c.mean); free(c.rstd); free(c.inp); free(c.w);
    free(c.b); free(c.k); free(dinp); free(dw); free(db);
}

/* --- attention ----------------------------------------------------------- */

struct att { int B, T, C, NH, causal; float *out, *att, *qkv, *k; };

static double
att_loss(void *p)
{
    struct att *c = p;
    attention_forward(c->out, c->att, c->qkv, c->B, c->T, c->C, c->NH,
                      c->causal, 0);
    return dot(c->out, c->k, (size_t)c->B * c->T * c->C);
}

static void
test_attention(int B, int T, int C, int NH, int causal, const char *mode)
{
    struct att c = { B, T, C, NH, causal, 0, 0, 0, 0 };
    size_t no = (size_t)B * T * C, nq = 3 * no, na = (size_t)B * NH * T * T;
    c.out = zeros(no);
    c.att = zeros(na);
    c.qkv = randv(nq, 1);
    c.k = randv(no, 1);
    float *dqkv = zeros(nq), *datt = zeros(na);
    att_loss(&c);
    /* causal: each row a distribution over 0..t */
    double worst = 0;
    for (int bh = 0; bh < B * NH; bh++)
        for (int t = 0; t < T; t++) {
            double s = 0;
            for (int j = 0; j <= (causal ? t : T - 1); j++)
                s += c.att[(size_t)bh * T * T + (size_t)t * T + j];
            worst = fmax(worst, fabs(s - 1));
        }
    CHECK_MSG(worst < 1e-5, "attention rows sum to 1 (off by %g)", worst);
    attention_backward(dqkv, datt, c.k, c.qkv, c.att, B, T, C, NH, causal, 0);
    char name[96];
    snprintf(name, sizeof name, "attention %s B=%d T=%d C=%d NH=%d %s",
             causal ? "causal" : "bidirectional", B, T, C, NH, mode);
    check_grad(name, c.qkv, dqkv, nq, att_loss, &c, 1e-2f, 1e-2);
    if (causal) {   /* the future does not leak: outputs at t < T-1 do not
                       depend on the last position */
        float *o0 = malloc(no * 4);
        for (size_t i = 0; i < no; i++)
            o0[i] = c.out[i];
        for (int b = 0; b < B; b++)
            for (int i = 0; i < 3 * C; i++)
                c.qkv[((size_t)b * T + T - 1) * 3 * C + i] += 1.0f;
        att_loss(&c);
        double leak = 0;
        for (int b = 0; b < B; b++)
            for (size_t i = 0; i < (size_t)(T - 1) * C; i++)
                leak = fmax(leak, fabs(c.out[(size_t)b * T * C + i] -
                                       o0[(size_t)b * T * C + i]));
        CHECK_MSG(leak == 0.0, "%s: future leaks (%g)", name, leak);
        free(o0);
    }
    free(c.out); free(c.att); free(c.qkv); free(c.k); free(dqkv); free(datt);
}

/* --- gelu, residual ---------------------------------------------------- */

struct ew { size_t n; float *out, *a, *b, *k; };

static double
gelu_loss(void *p)
{
    struct ew *c = p;
    gelu_forward(c->out, c->a, c->n);
    return dot(c->out, c->k, c->n);
}

static double
resid_loss(void *p)
{
    struct ew *c = p;
    residual_forward(c->out, c->a, c->b, c->n);
    return dot(c->out, c->k, c->n);
}

static void
test_gelu_residual(void)
{
    struct ew c = { .n = 200 };
    c.out = zeros(c.n);
    c.a = randv(c.n, 2.5f);
    c.b = randv(c.n, 1);
    c.k = randv(c.n, 1);
    /* the forward against the formula with libm's tanh */
    gelu_forward(c.out, c.a, c.n);
    for (size_t i = 0; i < c.n; i++) {
        double x = c.a[i];
        double r = 0.5 * x * (1 + tanh(0.7978845608028654 *
                                       (x + 0.044715 * x * x * x)));
        CHECK_NEAR(c.out[i], r, 1e-6);
    }
    float *d = zeros(c.n), *da = zeros(c.n), *db = zeros(c.n);
    gelu_backward(d, c.a, c.k, c.n);
    check_grad("gelu", c.a, d, c.n, gelu_loss, &c, 1e-2f, 1e-2);
    residual_backward(da, db, c.k, c.n);
    check_grad("residual a", c.a, da, c.n, resid_loss, &c, 1e-2f, 1e-3);
    check_grad("residual b", c.b, db, c.n, resid_loss, &c, 1e-2f, 1e-3);
    free(c.out); free(c.a); free(c.b); free(c.k); free(d); free(da); free(db);
}

/* --- softmax + cross-entropy --------------------------------------------- */

struct xe { int N, V; float *logits, *losses, *lse, *w; int32_t *tg; };

static double
xe_loss(void *p)
{
    struct xe *c = p;
    crossentropy_forward(c->losses, c->lse, c->logits, c->tg, c->N, c->V);
    return dot(c->losses, c->w, c->N);
}

static void
test_crossentropy(void)
{
    struct xe c = { .N = 8, .V = 13 };
    size_t n = (size_t)c.N * c.V;
    c.logits = randv(n, 2);
    c.losses = zeros(c.N);
    c.lse = zeros(c.N);
    c.w = randv(c.N, 1);
    c.tg = malloc(c.N * sizeof *c.tg);
    for (int i = 0; i < c.N; i++)
        c.tg[i] = i % 3 == 1 ? -1 : (int32_t)rng_below(&rng, c.V);
    xe_loss(&c);
    for (int i = 0; i < c.N; i++) {
        double mx = -1e30, s = 0;
        for (int v = 0; v < c.V; v++)
            mx = fmax(mx, c.logits[i * c.V + v]);
        for (int v = 0; v < c.V; v++)
            s += exp(c.logits[i * c.V + v] - mx);
        double l = c.tg[i] < 0 ? 0 : mx + log(s) - c.logits[i * c.V + c.tg[i]];
        CHECK_NEAR(c.losses[i], l, 1e-5);
    }
    float *d = zeros(n);
    crossentropy_backward(d, c.logits, c.lse, c.tg, c.w, c.N, c.V);
    check_grad("crossentropy", c.logits, d, n, xe_loss, &c, 1e-2f, 1e-2);
    for (int i = 0; i < c.N; i++)
        if (c.tg[i] < 0)
            for (int v = 0; v < c.V; v++)
                CHECK(d[i * c.V + v] == 0.0f);
    /* in place, as the model does it */
    crossentropy_backward(c.logits, c.logits, c.lse, c.tg, c.w, c.N, c.V);
    for (size_t i = 0; i < n; i++)
        CHECK_NEAR(c.logits[i], d[i], 1e-6);
    free(c.logits); free(c.losses); free(c.lse); free(c.w); free(c.tg);
    free(d);
}

/* --- embedding ----------------------------------------------------------- */

struct enc { int B, T, C, V; float *out, *wte, *wpe, *k; int32_t *tok; };

static double
enc_loss(void *p)
{
    struct enc *c = p;
    encoder_forward(c->out, c->tok, c->wte, c->wpe, c->B, c->T, c->C);
    return dot(c->out, c->k, (size_t)c->B * c->T * c->C);
}

static void
test_encoder(void)
{
    struct enc c = { .B = 3, .T = 5, .C = 70, .V = 6 };
    size_t no = (size_t)c.B * c.T * c.C;
    c.out = zeros(no);
    c.wte = randv((size_t)c.V * c.C, 1);
    c.wpe = randv((size_t)c.T * c.C, 1);
    c.k = randv(no, 1);
    c.tok = malloc(c.B * c.T * sizeof *c.tok);
    for (int i = 0; i < c.B * c.T; i++)      /* repeats; token 5 unused */
        c.tok[i] = (int32_t)rng_below(&rng, c.V - 1);
    float *dwte = zeros((size_t)c.V * c.C), *dwpe = zeros((size_t)c.T * c.C);
    encoder_backward(dwte, dwpe, c.k, c.tok, c.B, c.T, c.C);
    check_grad("embedding wte", c.wte, dwte, (size_t)c.V * c.C, enc_loss, &c,
               1e-2f, 1e-3);
    check_grad("embedding wpe", c.wpe, dwpe, (size_t)c.T * c.C, enc_loss, &c,
               1e-2f, 1e-3);
    free(c.out); free(c.wte); free(c.wpe); free(c.k); free(c.tok);
    free(dwte); free(dwpe);
}

int
main(void)
{
    rng_seed(&rng, 42);
    test_matmul("default");
    test_linear(0);
    test_linear(1);
    test_layernorm();
    test_gelu_residual();
    test_crossentropy();
    test_encoder();
    test_attention(2, 5, 8, 2, 1, "default");
    test_attention(2, 5, 8, 2, 0, "default");
    test_attention(1, 70, 4, 2, 1, "default");    /* several row blocks */
    test_attention(1, 70, 4, 2, 0, "default");
    /* one pool: products split by us, heads in parallel */
    kernels_set_threads(2);
    test_matmul("split");
    test_attention(2, 67, 8, 2, 1, "split");
    test_attention(2, 67, 8, 2, 0, "split");
    return check_exit();
}
