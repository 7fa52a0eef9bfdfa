#include "config.h"

#include "kernels/onednn.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/blas.h"

#ifdef HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif

#ifdef HAVE_DNNL

/* One oneDNN matmul per shape, made on first use. */
struct prim {
    int bf16, M, N, K, ta, tb, lda, ldb, ldc, acc;
    dnnl_primitive_t p;
    dnnl_memory_desc_t a, b, c;
};

#define MAX_PRIMS 256

static struct {
    pthread_once_t once;
    pthread_mutex_t mu;
    int ok;
    const char *why;
    dnnl_engine_t eng;
    struct prim prims[MAX_PRIMS];
    int nprims;
    char kernel[2][64];         /* f32, bf16 */
} g = { .once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER };

static void
setup(void)
{
    if (dnnl_engine_create(&g.eng, dnnl_cpu, 0) != dnnl_success) {
        g.why = "oneDNN cannot make a CPU engine";
        return;
    }
    g.ok = 1;
}

int
onednn_available(const char **why)
{
    pthread_once(&g.once, setup);
    if (why)
        *why = g.ok ? NULL : g.why;
    return g.ok;
}

const char *
onednn_kernel(int bf16)
{
    return g.kernel[bf16 != 0];
}

static void
fail(const char *what, dnnl_status_t st)
{
    fprintf(stderr, "garage: oneDNN: %s failed (status %d)\n", what, (int)st);
    abort();        /* shapes and formats are ours: a bug, not user input */
}

#define DNNL(call) do { dnnl_status_t st_ = (call); \
    if (st_ != dnnl_success) fail(#call, st_); } while (0)

/* The primitive for a shape, kept in the table.  Once the table is full,
 * a bf16 shape gets a new one just for this call (*temp = 1: the caller
 * destroys it); an f32 shape gets none (p NULL: the caller has OpenBLAS),
 * and f32 shapes leave the last F32_SPARE slots to bf16, so that a run of
 * ever new shapes (sequences of every length) costs at most a table of
 * primitives to make. */
#define F32_SPARE 64
static struct prim
get_prim(int bf16, int M, int N, int K, int ta, int tb, int lda, int ldb,
         int ldc, int acc, int *temp)
{
    pthread_mutex_lock(&g.mu);
    struct prim *p = NULL, tmp;
    for (int i = 0; i < g.nprims; i++) {
        struct prim *q = &g.prims[i];
        if (q->bf16 == bf16 && q->M == M && q->N == N && q->K == K && q->ta == ta &&
            q->tb == tb && q->lda == lda && q->ldb == ldb && q->ldc == ldc &&
            q->acc == acc) {
            p = q;
            break;
        }
    }
    *temp = 0;
    if (!p && !bf16 && g.nprims >= MAX_PRIMS - F32_SPARE) {
        tmp = (struct prim){ .p = NULL };
        p = &tmp;
    } else if (!p) {
        *temp = g.nprims == MAX_PRIMS;
        p = *temp ? &tmp : &g.prims[g.nprims];
        *p = (struct prim){ bf16, M, N, K, ta, tb, lda, ldb, ldc, acc, NULL,
                            { 0 }, { 0 }, { 0 } };
        dnnl_data_type_t dt = bf16 ? dnnl_bf16 : dnnl_f32;
        /* Row-major op(A) (M,K): A stored (M,K) or, transposed, (K,M). */
        dnnl_dims_t ad = { M, K }, bd = { K, N }, cd = { M, N };
        dnnl_dims_t as = { ta ? 1 : lda, ta ? lda : 1 };
        dnnl_dims_t bs = { tb ? 1 : ldb, tb ? ldb : 1 };
        dnnl_dims_t cs = { ldc, 1 };
        DNNL(dnnl_memory_desc_init_by_strides(&p->a, 2, ad, dt, as));
        DNNL(dnnl_memory_desc_init_by_strides(&p->b, 2, bd, dt, bs));
        DNNL(dnnl_memory_desc_init_by_strides(&p->c, 2, cd, dnnl_f32, cs));
        dnnl_matmul_desc_t md;
        DNNL(dnnl_matmul_desc_init(&md, &p->a, &p->b, NULL, &p->c));
        dnnl_primitive_attr_t attr = NULL;
        dnnl_post_ops_t ops = NULL;
        if (acc) {      /* C += A B: a sum post-op */
            DNNL(dnnl_primitive_attr_create(&attr));
            DNNL(dnnl_post_ops_create(&ops));
            DNNL(dnnl_post_ops_append_sum(ops, 1.0f));
            DNNL(dnnl_primitive_attr_set_post_ops(attr, ops));
        }
        dnnl_primitive_desc_t pd;
        if (dnnl_primitive_desc_create(&pd, &md, attr, g.eng, NULL) ==
            dnnl_success) {     /* else p->p stays NULL: not supported */
            const char *impl = NULL;
            if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0,
                                          &impl) == dnnl_success && impl)
                snprintf(g.kernel[bf16], sizeof g.kernel[bf16], "%s", impl);
            DNNL(dnnl_primitive_create(&p->p, pd));
            dnnl_primitive_desc_destroy(pd);
        }
        if (ops)
            dnnl_post_ops_destroy(ops);
        if (attr)
            dnnl_primitive_attr_destroy(attr);
        g.nprims += !*temp;
    }
    struct prim out = *p;
    pthread_mutex_unlock(&g.mu);
    return out;
}

/* One stream per thread (a CPU stream runs on the calling thread). */
static pthread_key_t stream_key;
static pthread_once_t stream_once = PTHREAD_ONCE_INIT;

static void
free_stream(void *s)
{
    dnnl_stream_destroy(s);
}

static void
make_stream_key(void)
{
    pthread_key_create(&stream_key, free_stream);
}

static dnnl_stream_t
stream(void)
{
    pthread_once(&stream_once, make_stream_key);
    dnnl_stream_t s = pthread_getspecific(stream_key);
    if (!s) {
        DNNL(dnnl_stream_create(&s, g.eng, dnnl_stream_default_flags));
        pthread_setspecific(stream_key, s);
    }
    return s;
}

int
onednn_gemm(int bf16, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
            int M, int N, int K, const void *A, int lda, const void *B,
            int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return 0;
    if (!onednn_available(NULL))
        return -1;
    int temp;
    struct prim p = get_prim(bf16 != 0, M, N, K, ta != CblasNoTrans,
                             tb != CblasNoTrans, lda, ldb, ldc, beta != 0.0f,
                             &temp);
    if (!p.p)
        return -1;
    dnnl_memory_t a, b, c;
    DNNL(dnnl_memory_create(&a, &p.a, g.eng, (void *)A));
    DNNL(dnnl_memory_create(&b, &p.b, g.eng, (void *)B));
    DNNL(dnnl_memory_create(&c, &p.c, g.eng, C));
    dnnl_exec_arg_t args[3] = {
        { DNNL_ARG_SRC, a }, { DNNL_ARG_WEIGHTS, b }, { DNNL_ARG_DST, c },
    };
    /* oneDNN threads as many as the calling thread's OpenMP default. */
    int saved = omp_get_max_threads(), nt = kernels_threads();
    if (nt != saved)
        omp_set_num_threads(nt);
    DNNL(dnnl_primitive_execute(p.p, stream(), 3, args));
    DNNL(dnnl_stream_wait(stream()));
    if (nt != saved)
        omp_set_num_threads(saved);
    dnnl_memory_destroy(a);
    dnnl_memory_destroy(b);
    dnnl_memory_destroy(c);
    if (temp)
        dnnl_primitive_destroy(p.p);
    return 0;
}

#else   /* !HAVE_DNNL */

int
onednn_available(const char **why)
{
    if (why)
        *why = "garage was built without oneDNN (Debian: apt-get install "
               "libdnnl-dev, then configure again)";
    return 0;
}

const char *
onednn_kernel(int bf16)
{
    (void)bf16;
    return "";
}

int
onednn_gemm(int bf16, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
            int M, int N, int K, const void *A, int lda, const void *B,
            int ldb, float beta, float *C, int ldc)
{
    (void)bf16; (void)ta; (void)tb; (void)M; (void)N; (void)K; (void)A;
    (void)lda; (void)B; (void)ldb; (void)beta; (void)C; (void)ldc;
    return -1;
}

#endif
