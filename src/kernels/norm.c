#include "kernels/norm.h"

#include <math.h>
#include <stddef.h>

#include "kernels/par.h"
#include "kernels/prof.h"

GR_CLONES static void
ln_rows(float *out, float *mean, float *rstd, const float *inp,
        const float *w, const float *b, int n, int C)
{
    for (int r = 0; r < n; r++) {
        const float *x = inp + (size_t)r * C;
        float *o = out + (size_t)r * C;
        float s = 0.0f;
        for (int i = 0; i < C; i++)
            s += x[i];
        float m = s / C;
        float v = 0.0f;
        for (int i = 0; i < C; i++) {
            float d = x[i] - m;
            v += d * d;
        }
        float rs = 1.0f / sqrtf(v / C + LAYERNORM_EPS);
        for (int i = 0; i < C; i++)
            o[i] = (x[i] - m) * rs * w[i] + b[i];
        mean[r] = m;
        rstd[r] = rs;
    }
}

void
layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                  const float *w, const float *b, int N, int C)
{
    prof_begin(PROF_NORM);
    int rows = par_rows(N, C, 1 << 13);
    int nch = (N + rows - 1) / rows;
#pragma omp parallel for num_threads(kernels_threads()) if (nch > 1)
    for (int c = 0; c < nch; c++) {
        int r0 = c * rows, n = N - r0 < rows ? N - r0 : rows;
        ln_rows(out + (size_t)r0 * C, mean + r0, rstd + r0,
                inp + (size_t)r0 * C, w, b, n, C);
    }
    prof_end(PROF_NORM);
}

/* dinp for rows [0, n). */
GR_CLONES static void
ln_back_rows(float *dinp, const float *dout, const float *inp,
             const float *w, const float *mean, const float *rstd,
             int n, int C)
{
    for (int r = 0; r < n; r++) {
        const float *x = inp + (size_t)r * C;
        const float *dy = dout + (size_t)r * C;
        float *dx = dinp + (size_t)r * C;
        float m = mean[r], rs = rstd[r];
        float sd = 0.0f, sdx = 0.0f;      /* sums of dnorm, dnorm * xhat */
        for (int i = 0; i < C; i++) {
            float xh = (x[i] - m) * rs;
            float dn = dy[i] * w[i];
            sd += dn;
            sdx += dn * xh;
        }
        sd /= C;
        sdx /= C;
        for (int i = 0; i < C; i++) {
            float xh = (x[i] - m) * rs;
            float dn = dy[i] * w[i];
            dx[i] += rs * (dn - sd - xh * sdx);
        }
    }
}

/* dw[0:n], db[0:n] += sums over N rows, for columns [c0, c0+n). */
GR_CLONES static void
ln_back_cols(float *dw, float *db, const float *dout, const float *inp,
             const float *mean, const float *rstd, int N, int C, int n)
{
    float aw[64], ab[64];
    for (int i = 0; i < n; i++)
        aw[i] = ab[i] = 0.0f;
    for (int r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * C;
        const float *dy = dout + (size_t)r * C;
        float m = mean[r], rs = rstd[r];
        for (int i = 0; i < n; i++) {
            aw[i] += dy[i] * ((x[i] - m) * rs);
            ab[i] += dy[i];
        }
    }
    if (dw)
        for (int i = 0; i < n; i++)
            dw[i] += aw[i];
    if (db)
        for (int i = 0; i < n; i++)
            db[i] += ab[i];
}

void
layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                   const float *inp, const float *w, const float *mean,
                   const float *rstd, int N, int C)
{
    prof_begin(PROF_NORM);
    int nt = kernels_threads();
    int rows = par_rows(N, C, 1 << 13);
    int nch = (N + rows - 1) / rows;
#pragma omp parallel for num_threads(nt) if (nch > 1)
    for (int c = 0; c < nch; c++) {
        int r0 = c * rows, n = N - r0 < rows ? N - r0 : rows;
        ln_back_rows(dinp + (size_t)r0 * C, dout + (size_t)r0 * C,
                     inp + (size_t)r0 * C, w, mean + r0, rstd + r0, n, C);
    }
    if (!dw && !db) {
        prof_end(PROF_NORM);
        return;
    }
    /* Parameter gradients by column blocks: no sharing between threads,
     * and the same sums whatever the number of threads. */
    int nblk = (C + 63) / 64;
#pragma omp parallel for num_threads(nt) if ((size_t)N * C > 1 << 15)
    for (int k = 0; k < nblk; k++) {
        int c0 = k * 64;
        ln_back_cols(dw ? dw + c0 : NULL, db ? db + c0 : NULL, dout + c0,
                     inp + c0, mean, rstd, N, C, C - c0 < 64 ? C - c0 : 64);
    }
    prof_end(PROF_NORM);
}
