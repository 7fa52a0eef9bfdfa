#include "stages/common.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fsio.h"
#include "base/xalloc.h"
#include "kernels/amx.h"
#include "kernels/bf16.h"
#include "kernels/blas.h"
#include "kernels/linear.h"

enum gr_status
stage_load_tokenizer(const struct workspace *ws, struct bpe *t,
                     struct gr_error *err)
{
    char *path = workspace_path(ws, "tokenizer.bin");
    enum gr_status rc;
    bpe_init(t);
    if (!fs_exists(path))
        rc = gr_fail(err, GR_ESTATE, "there is no tokenizer yet: train one with "
                     "'garage tokenizer' (after 'garage corpus add PATH')");
    else
        rc = bpe_load(t, path, err);
    free(path);
    return rc;
}

enum gr_status
stage_no_checkpoint(const char *dir, const char *path, const char *extra,
                    struct gr_error *err)
{
    char *inside = NULL;
    if (dir && strcmp(dir, ".") != 0 && path[0] != '/') {
        inside = fs_join(dir, path);
        if (!fs_exists(inside)) {
            free(inside);
            inside = NULL;
        }
    }
    enum gr_status rc;
    if (inside)
        rc = gr_fail(err, GR_EINPUT, "%s: no such checkpoint (file paths are "
                     "read from the current folder: did you mean %s?)", path,
                     inside);
    else
        rc = gr_fail(err, GR_EINPUT, "%s: no such checkpoint%s", path, extra);
    free(inside);
    return rc;
}

enum gr_status
stage_pick_checkpoint(const struct workspace *ws, const char *path,
                      const char *kinds, char **out, struct gr_error *err)
{
    *out = NULL;
    if (path) {
        if (!fs_exists(path))
            return stage_no_checkpoint(ws ? ws->root : NULL, path, "", err);
        *out = xstrdup(path);
        return GR_OK;
    }
    char *list = xstrdup(kinds);
    char *save = NULL;
    for (char *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        if ((*out = workspace_latest_checkpoint(ws, k)))
            break;
    }
    free(list);
    if (!*out)
        return gr_fail(err, GR_ESTATE, "there is no model yet: create one with "
                       "'garage model' and train it with 'garage pretrain'");
    return GR_OK;
}

enum gr_status
stage_load_checkpoint(const char *path, const struct bpe *t, struct gpt *m,
                      struct ckpt_meta *meta, int want_opt, struct gr_error *err)
{
    enum gr_status rc = ckpt_load(path, m, meta, want_opt, NULL, err);
    if (rc != GR_OK)
        return rc;
    if (meta->tok_hash != t->hash || meta->cfg.V != t->vocab_size) {
        gpt_release(m);
        ckpt_meta_release(meta);
        return gr_fail(err, GR_EINPUT, "%s was made with another tokenizer than this "
                       "workspace's tokenizer.bin (create a new model with 'garage model')",
                       path);
    }
    return GR_OK;
}

char *
stage_checkpoint_path(const struct workspace *ws, const char *kind, uint64_t step)
{
    char *rel = xasprintf("checkpoints/%s-%06llu.ckpt", kind, (unsigned long long)step);
    char *p = workspace_path(ws, rel);
    free(rel);
    return p;
}

float *
stage_token_bytes(const struct bpe *t)
{
    float *len = xcalloc((size_t)t->vocab_size, sizeof *len);
    for (int i = 0; i < t->vocab_size; i++) {
        const unsigned char *b;
        len[i] = bpe_special_name(i) ? 0.0f : (float)bpe_token_bytes(t, i, &b);
    }
    return len;
}

/* A precision option's explicit value, "fp32" or "bf16", in *p: 1; for
 * "auto" (or NULL) 0, the caller deciding. */
static int
precision_named(const char *choice, enum gpt_precision *p)
{
    if (choice && !strcmp(choice, "fp32"))
        *p = GPT_FP32;
    else if (choice && !strcmp(choice, "bf16"))
        *p = GPT_BF16;
    else
        return 0;
    return 1;
}

enum gpt_precision
stage_gen_precision(const char *choice)
{
    enum gpt_precision p;
    if (precision_named(choice, &p))
        return p;
    return linear_rows_bf16_available() ? GPT_BF16 : GPT_FP32;
}

enum gpt_precision
stage_train_precision(const char *choice)
{
    enum gpt_precision p;
    if (precision_named(choice, &p))
        return p;
    /* auto: where it was measured (AMX: 1.8-2.2x fp32, the same loss);
     * CPUs with AVX512-BF16 alone can ask for it */
    return amx_available(NULL) && bf16_available(NULL) ? GPT_BF16 : GPT_FP32;
}

const char *
stage_products_name(enum gpt_precision p)
{
    return p == GPT_BF16 ? "bf16 (oneDNN)" : kernels_sgemm_backend();
}

double
stage_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int
stage_remove_checkpoints(const struct workspace *ws, const char *kind)
{
    char *dir = workspace_path(ws, "checkpoints");
    DIR *d = opendir(dir);
    int n = 0;
    size_t klen = strlen(kind);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            if (strncmp(e->d_name, kind, klen) == 0 && e->d_name[klen] == '-' &&
                len > 5 && strcmp(e->d_name + len - 5, ".ckpt") == 0) {
                char *p = fs_join(dir, e->d_name);
                if (unlink(p) == 0)
                    n++;
                free(p);
            }
        }
        closedir(d);
    }
    free(dir);
    return n;
}
