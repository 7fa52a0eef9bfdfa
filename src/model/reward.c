#include "model/reward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "text/chat.h"

/* Sequences per forward pass when scoring (causal trunks). */
#define REWARD_SCORE_BATCH 16

int
reward_pack(const int32_t *const *seqs, const int *lens, int n, int T_max,
            const struct gpt *pad, int32_t *inputs, int *lens_out)
{
    int T = 1;
    for (int i = 0; i < n; i++) {
        int l = lens[i] < T_max ? lens[i] : T_max;
        lens_out[i] = l;
        if (l > T)
            T = l;
    }
    if (pad) {
        int p = gpt_padded_len(pad, T);
        T = p < T_max ? p : T_max;
    }
    for (int i = 0; i < n; i++) {
        int l = lens_out[i];
        const int32_t *s = seqs[i] + (lens[i] - l);     /* the last l tokens */
        int32_t *row = inputs + (size_t)i * T;
        memcpy(row, s, (size_t)l * sizeof *row);
        for (int t = l; t < T; t++)
            row[t] = BPE_ENDOFTEXT;
    }
    return T;
}

void
reward_head_forward(const float *hidden, const float *head, const int *lens,
                    int B, int T, int C, float *raw)
{
    for (int b = 0; b < B; b++) {
        const float *h = hidden + ((size_t)b * T + (size_t)(lens[b] - 1)) * C;
        double s = head[C];
        for (int c = 0; c < C; c++)
            s += (double)head[c] * h[c];
        raw[b] = (float)s;
    }
}

void
reward_head_backward(const float *hidden, const float *head, const int *lens,
                     const float *draw, int B, int T, int C, float *dhidden,
                     float *dhead)
{
    memset(dhidden, 0, (size_t)B * T * C * sizeof *dhidden);
    for (int b = 0; b < B; b++) {
        size_t at = ((size_t)b * T + (size_t)(lens[b] - 1)) * C;
        const float *h = hidden + at;
        float *dh = dhidden + at;
        for (int c = 0; c < C; c++) {
            dh[c] = draw[b] * head[c];
            dhead[c] += draw[b] * h[c];
        }
        dhead[C] += draw[b];
    }
}

void
reward_release(struct reward_model *rm)
{
    if (!rm)
        return;
    gpt_release(&rm->gpt);
    ckpt_meta_release(&rm->meta);
    free(rm->head);
    free(rm->inputs);
    free(rm->lens);
    memset(rm, 0, sizeof *rm);
}

enum gr_status
reward_load(const char *path, const struct bpe *t, struct reward_model *rm,
            struct gr_error *err)
{
    memset(rm, 0, sizeof *rm);
    ckpt_meta_init(&rm->meta);
    enum gr_status rc = ckpt_load(path, &rm->gpt, &rm->meta, 0, &rm->head, err);
    if (rc != GR_OK)
        return rc;
    int C = rm->meta.cfg.C;
    if (strcmp(rm->meta.kind, "reward") != 0 || rm->meta.nextra != (size_t)C + 1) {
        rc = gr_fail(err, GR_EINPUT, "%s is a '%s' checkpoint, not a reward model "
                     "(train one with 'garage reward')", path, rm->meta.kind);
        goto fail;
    }
    if (t && (rm->meta.tok_hash != t->hash || rm->meta.cfg.V != t->vocab_size)) {
        rc = gr_fail(err, GR_EINPUT, "%s was made with another tokenizer than this "
                     "workspace's tokenizer.bin", path);
        goto fail;
    }
    rm->causal = 1;
    rm->offset = 0;
    if (rm->meta.extra) {
        json_t *o = json_object_get(rm->meta.extra, "offset");
        json_t *a = json_object_get(rm->meta.extra, "attention");
        if (o && json_is_number(o))
            rm->offset = (float)json_number_value(o);
        if (a && json_is_string(a) && !strcmp(json_string_value(a), "bidirectional"))
            rm->causal = 0;
    }
    for (int c = 0; c <= C; c++)
        if (!isfinite(rm->head[c])) {
            rc = gr_fail(err, GR_ECORRUPT, "%s: the reward head holds %s", path,
                         isnan(rm->head[c]) ? "NaN" : "infinity");
            goto fail;
        }
    return GR_OK;
fail:
    reward_release(rm);
    return rc;
}

static enum gr_status
reserve(struct reward_model *rm, int B, int T, struct gr_error *err)
{
    enum gr_status rc = gpt_alloc_acts(&rm->gpt, B, T, err);
    if (rc != GR_OK)
        return rc;
    size_t need = (size_t)B * T;
    if (need > rm->cap) {
        rm->inputs = xrealloc(rm->inputs, need * sizeof *rm->inputs);
        rm->cap = need;
    }
    rm->lens = xrealloc(rm->lens, (size_t)B * sizeof *rm->lens);
    return GR_OK;
}

enum gr_status
reward_score_batch(struct reward_model *rm, const int32_t *const *seqs,
                   const int *lens, int n, float *scores, struct gr_error *err)
{
    const int Tmax = rm->gpt.cfg.T, C = rm->gpt.cfg.C;
    /* A bidirectional trunk would see the padding: one sequence a pass. */
    const int per = rm->causal ? REWARD_SCORE_BATCH : 1;
    for (int i = 0; i < n; i++)
        if (lens[i] < 1)
            return gr_fail(err, GR_EINPUT, "sequence %d to score is empty", i);
    for (int first = 0; first < n; first += per) {
        int B = n - first < per ? n - first : per;
        int T = 1;
        for (int b = 0; b < B; b++)
            T = lens[first + b] > T ? lens[first + b] : T;
        T = T < Tmax ? T : Tmax;
        enum gr_status rc = reserve(rm, B, T, err);
        if (rc != GR_OK)
            return rc;
        T = reward_pack(seqs + first, lens + first, B, Tmax, NULL, rm->inputs,
                        rm->lens);
        gpt_forward_trunk(&rm->gpt, rm->inputs, B, T, rm->causal);
        reward_head_forward(gpt_hidden(&rm->gpt), rm->head, rm->lens, B, T, C,
                            scores + first);
        for (int b = 0; b < B; b++)
            scores[first + b] -= rm->offset;
    }
    return GR_OK;
}

enum gr_status
reward_score_texts(struct reward_model *rm, const struct bpe *t,
                   const char *prompt, const char *const *answers, int n,
                   float *scores, struct gr_error *err)
{
    int32_t **seqs = xcalloc((size_t)(n ? n : 1), sizeof *seqs);
    int *lens = xcalloc((size_t)(n ? n : 1), sizeof *lens);
    enum gr_status rc = GR_OK;
    for (int i = 0; i < n && rc == GR_OK; i++) {
        size_t nt = 0, cap = 0;
        rc = chat_encode_pair(t, prompt, answers[i], &seqs[i], &nt, &cap, NULL, err);
        lens[i] = (int)nt;
    }
    if (rc == GR_OK)
        rc = reward_score_batch(rm, (const int32_t *const *)seqs, lens, n, scores, err);
    for (int i = 0; i < n; i++)
        free(seqs[i]);
    free(seqs);
    free(lens);
    return rc;
}
