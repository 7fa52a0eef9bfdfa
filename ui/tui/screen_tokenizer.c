/* screen_tokenizer.c: train the byte-level BPE tokenizer with a progress
 * bar, see what it holds, and watch a sentence split into tokens as it
 * is typed (each token in alternating colours, between '|' marks). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/workspace.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "text/bpe.h"
#include "text/shard.h"
#include "form.h"
#include "input.h"
#include "list.h"
#include "screens.h"

enum { PANE_SETTINGS, PANE_SAMPLE, PANE_VOCAB, NPANES };

struct tok_scr {
    struct form form;
    struct bpe t;                   /* vocab_size 0: none yet */
    int stale;                      /* the shards are from another tokenizer */
    size_t train_tok, val_tok;
    double train_bytes, val_bytes;
    struct input sample;
    int32_t *toks;                  /* the sample's tokens */
    size_t ntok, cap;
    struct list vocab;              /* learned tokens, newest first */
    char prog_what[64];
    double prog_done, prog_total;
};

static const struct key_binding tok_keys[] = {
    { 'g', "train", "Train the tokenizer with these settings and encode the corpus", NULL },
    { 'x', "stop", "Stop the training", NULL },
    { 'i', "try", "Type a sentence and see its tokens (Esc or Tab leaves)", NULL },
    { 'p', "pretrain", "Go on to pretraining", NULL },
    { '\n', NULL, "Settings: edit the selected value (Enter again keeps it)", "Enter" },
    { KEY_UP, NULL, "Vocabulary pane: scroll the learned tokens", "Up/Down" },
    { 'q', "back", "Back to the stages", NULL },
    { 0 }
};

static void
encode_sample(struct tok_scr *s)
{
    s->ntok = 0;
    if (s->t.vocab_size)
        bpe_encode(&s->t, s->sample.buf, s->sample.len, &s->toks, &s->ntok, &s->cap, NULL);
}

static void
load(struct screen *scr)
{
    struct tok_scr *s = scr->state;
    bpe_release(&s->t);
    bpe_init(&s->t);
    s->stale = 0;
    s->train_tok = s->val_tok = 0;
    const char *dir = tui_workspace(scr->tui);
    if (!dir)
        return;
    char *tp = fs_join(dir, "tokenizer.bin");
    if (fs_exists(tp) && bpe_load(&s->t, tp, NULL) == GR_OK) {
        static const char *const split[2] = { "corpus/train.tok", "corpus/val.tok" };
        for (int k = 0; k < 2; k++) {
            char *sp = fs_join(dir, split[k]);
            struct shard sh = { 0 };
            if (fs_exists(sp) && shard_open(&sh, sp, NULL) == GR_OK) {
                if (sh.tok_hash != s->t.hash)
                    s->stale = 1;
                *(k ? &s->val_tok : &s->train_tok) = sh.ntok;
                *(k ? &s->val_bytes : &s->train_bytes) = (double)sh.nbytes;
                shard_close(&sh);
            } else {
                s->stale = 1;
            }
            free(sp);
        }
    }
    free(tp);
    s->vocab.n = s->t.vocab_size ? s->t.vocab_size - BPE_FIRST_MERGE : 0;
    encode_sample(s);
}

static void
tok_open(struct screen *scr, const char *arg)
{
    (void)arg;
    struct tok_scr *s = xcalloc(1, sizeof *s);
    scr->state = s;
    static const char *const hide[] = { "show", NULL };
    form_init(&s->form, command_find("tokenizer"), tui_dir(scr->tui), hide);
    input_init(&s->sample);
    input_set(&s->sample, "Hello, world! The quick brown fox jumps over the lazy dog.");
    bpe_init(&s->t);
    load(scr);
}

static void
tok_close(struct screen *scr)
{
    struct tok_scr *s = scr->state;
    form_release(&s->form);
    input_release(&s->sample);
    bpe_release(&s->t);
    free(s->toks);
    free(s);
}

static void
tok_metric(struct screen *scr, const struct gr_metric *m)
{
    struct tok_scr *s = scr->state;
    if (strcmp(m->kind, "progress") != 0)
        return;
    const char *bar = strchr(m->text, '|');
    snprintf(s->prog_what, sizeof s->prog_what, "%.*s",
             bar ? (int)(bar - m->text) : (int)strlen(m->text), m->text);
    s->prog_done = metric_get(m, "done", 0);
    s->prog_total = metric_get(m, "total", 0);
}

static void
tok_text(struct screen *scr, const char *text, size_t n)
{
    tui_msg_line(scr->tui, text, n, 0);
}

static void
tok_done(struct screen *scr, enum gr_status rc, const char *msg)
{
    struct tok_scr *s = scr->state;
    (void)rc;
    (void)msg;
    s->prog_what[0] = 0;
    load(scr);
}

/* ---- drawing ----------------------------------------------------------------- */

static void
draw_stats(struct screen *scr, struct rect r)
{
    struct tok_scr *s = scr->state;
    int x = r.x + 1, w = r.w - 2, y = r.y, end = r.y + r.h;
    char a[32], b[32];
    if (tui_job_is(scr->tui, scr)) {
        draw_textf(y++, x, w, A_BOLD, "%s %.0f / %.0f",
                   s->prog_what[0] ? s->prog_what : "starting", s->prog_done, s->prog_total);
        if (y < end)
            draw_bar(y++, x, w, s->prog_total > 0 ? s->prog_done / s->prog_total : 0);
        return;
    }
    if (!s->t.vocab_size) {
        draw_wrap(r, 0, A_NORMAL, "No tokenizer yet. Press g to learn one from the "
                  "corpus (vocab_size tokens: 256 bytes, 5 special tokens, and the "
                  "merges it learns).");
        return;
    }
    draw_textf(y++, x, w, A_BOLD, "%d tokens (%d merges)", s->t.vocab_size,
               s->t.vocab_size - BPE_FIRST_MERGE);
    if (s->stale) {
        if (y < end)
            draw_wrap((struct rect){ y, x, end - y, w }, 0, style(ST_BAD),
                      "The corpus changed since: train again (g).");
        return;
    }
    fmt_count(a, sizeof a, (double)s->train_tok);
    fmt_count(b, sizeof b, (double)s->val_tok);
    if (y < end)
        draw_textf(y++, x, w, A_NORMAL, "%s training tokens", a);
    if (y < end)
        draw_textf(y++, x, w, A_NORMAL, "%s held-out tokens", b);
    if (y < end && s->train_tok)
        draw_textf(y++, x, w, A_NORMAL, "%.2f bytes per token",
                   s->train_bytes / (double)s->train_tok);
}

/* One token's bytes, printable: newlines and tabs shown as \n, \t. */
static void
token_text(const struct bpe *t, int id, char *buf, size_t cap)
{
    const unsigned char *b;
    size_t n = bpe_token_bytes(t, id, &b);
    size_t k = 0;
    for (size_t i = 0; i < n && k + 3 < cap; i++) {
        if (b[i] == '\n') {
            buf[k++] = '\\';
            buf[k++] = 'n';
        } else if (b[i] == '\t') {
            buf[k++] = '\\';
            buf[k++] = 't';
        } else if (b[i] < 32) {
            buf[k++] = '?';
        } else {
            buf[k++] = (char)b[i];
        }
    }
    buf[k] = 0;
}

static void
draw_sample(struct screen *scr, struct rect r)
{
    struct tok_scr *s = scr->state;
    int focused = scr->pane == PANE_SAMPLE;
    int lw = draw_text(r.y, r.x + 1, r.w, style(ST_KEY), "> ");
    input_draw(&s->sample, r.y, r.x + 1 + lw, r.w - lw - 2,
               focused ? A_UNDERLINE : A_NORMAL, focused);
    if (!s->t.vocab_size) {
        draw_text(r.y + 2, r.x + 1, r.w - 2, style(ST_DIM), "(no tokenizer yet)");
        return;
    }
    draw_textf(r.y + 1, r.x + 1, r.w - 2, style(ST_DIM), "%zu bytes -> %zu tokens",
               s->sample.len, s->ntok);
    /* tokens, wrapped, in alternating colours between '|' marks */
    int y = r.y + 2, x = r.x + 1, right = r.x + r.w - 1;
    int rows = r.h - 2;
    int ids_rows = rows >= 6 ? 2 : rows >= 4 ? 1 : 0;
    int end = r.y + 2 + rows - ids_rows;
    draw_text(y, x++, 1, style(ST_DIM), "|");
    for (size_t i = 0; i < s->ntok && y < end; i++) {
        char tok[256];
        token_text(&s->t, s->toks[i], tok, sizeof tok);
        int tw = text_width(tok, strlen(tok)) + 1;
        if (x + tw > right && x > r.x + 2) {
            y++;
            x = r.x + 1;
            if (y >= end)
                break;
            draw_text(y, x++, 1, style(ST_DIM), "|");
        }
        x += draw_text(y, x, right - x, style(i % 2 ? ST_ALT : ST_SERIES1) | A_BOLD, tok);
        x += draw_text(y, x, right - x, style(ST_DIM), "|");
    }
    if (ids_rows) {
        char ids[2048];
        size_t k = 0;
        for (size_t i = 0; i < s->ntok && k + 12 < sizeof ids; i++)
            k += (size_t)snprintf(ids + k, sizeof ids - k, "%s%d", i ? " " : "", s->toks[i]);
        ids[k] = 0;
        draw_wrap((struct rect){ end, r.x + 1, ids_rows, r.w - 2 }, 0, style(ST_DIM), ids);
    }
}

static void
draw_vocab(struct screen *scr, struct rect r)
{
    struct tok_scr *s = scr->state;
    if (!s->vocab.n) {
        draw_text(r.y, r.x + 1, r.w - 2, style(ST_DIM), "(no merges learned yet)");
        return;
    }
    /* columns of tokens, newest merge first */
    int colw = 18, cols = (r.w - 1) / colw;
    if (cols < 1)
        cols = 1;
    int rows = r.h;
    s->vocab.top = s->vocab.top < 0 ? 0 : s->vocab.top;
    int per = rows * cols;
    if (s->vocab.top > s->vocab.n - per)
        s->vocab.top = s->vocab.n - per > 0 ? s->vocab.n - per : 0;
    for (int k = 0; k < per; k++) {
        int i = s->vocab.top + k;
        if (i >= s->vocab.n)
            break;
        int id = s->t.vocab_size - 1 - i;
        char tok[128];
        token_text(&s->t, id, tok, sizeof tok);
        int row = k % rows, col = k / rows;
        int x = r.x + 1 + col * colw;
        int used = draw_textf(r.y + row, x, 6, style(ST_DIM), "%5d ", id);
        draw_text(r.y + row, x + used, colw - used - 1, A_BOLD, "'");
        draw_text(r.y + row, x + used + 1, colw - used - 3, A_NORMAL, tok);
        int tw = text_width(tok, strlen(tok));
        if (tw > colw - used - 3)
            tw = colw - used - 3;
        draw_text(r.y + row, x + used + 1 + tw, 1, A_BOLD, "'");
    }
}

static void
tok_draw(struct screen *scr, struct rect body)
{
    struct tok_scr *s = scr->state;
    struct rect r = body;
    struct rect top = rect_cut_top(&r, 6);
    struct rect left = rect_cut_left(&top, top.w / 2);
    draw_stats(scr, draw_box(left, "Tokenizer", 0));
    form_draw(&s->form, draw_box(top, "Settings", scr->pane == PANE_SETTINGS),
              scr->pane == PANE_SETTINGS);
    int sample_h = r.h >= 20 ? 10 : 8;
    struct rect sbox = rect_cut_top(&r, sample_h);
    draw_sample(scr, draw_box(sbox, scr->pane == PANE_SAMPLE ? "Try a sentence (Esc: done)"
                              : "Try a sentence (i)", scr->pane == PANE_SAMPLE));
    draw_vocab(scr, draw_box(r, "Learned tokens, newest first", scr->pane == PANE_VOCAB));
}

static enum screen_result
tok_key(struct screen *scr, int key)
{
    struct tok_scr *s = scr->state;
    struct tui *t = scr->tui;
    if (scr->pane == PANE_SAMPLE) {
        if (key == '\t' || key == KEY_BTAB)
            return SCREEN_IGNORED;      /* Tab moves on */
        enum input_event ev = input_key(&s->sample, key);
        if (ev == INPUT_CANCEL || ev == INPUT_SUBMIT) {
            scr->pane = PANE_SETTINGS;
            return SCREEN_HANDLED;
        }
        if (ev == INPUT_EDITED) {
            encode_sample(s);
            return SCREEN_HANDLED;
        }
        return SCREEN_IGNORED;
    }
    if (scr->pane == PANE_SETTINGS && form_key(&s->form, key))
        return SCREEN_HANDLED;
    if (scr->pane == PANE_VOCAB) {
        int rows = LINES - 20 > 1 ? LINES - 20 : 1;
        if (key == KEY_DOWN || key == 'j' || key == KEY_WHEEL_DOWN) {
            s->vocab.top += 1;
            return SCREEN_HANDLED;
        }
        if (key == KEY_UP || key == 'k' || key == KEY_WHEEL_UP) {
            s->vocab.top -= 1;
            return SCREEN_HANDLED;
        }
        if (key == KEY_NPAGE) {
            s->vocab.top += rows;
            return SCREEN_HANDLED;
        }
        if (key == KEY_PPAGE) {
            s->vocab.top -= rows;
            return SCREEN_HANDLED;
        }
    }
    switch (key) {
    case 'g': {
        if (tui_busy(t)) {
            tui_error(t, "a job is running: wait for it first");
            return SCREEN_HANDLED;
        }
        struct gr_args *a = xcalloc(1, sizeof *a);
        form_args(&s->form, a);
        s->prog_what[0] = 0;
        if (tui_run(t, scr, a, 1) == 0)
            tui_msg(t, "training the tokenizer...");
        return SCREEN_HANDLED;
    }
    case 'x':
        if (tui_job_is(t, scr))
            tui_job_stop(t);
        return SCREEN_HANDLED;
    case 'i':
        scr->pane = PANE_SAMPLE;
        return SCREEN_HANDLED;
    case 'p':
        tui_push(t, "pretrain", "pretrain");
        return SCREEN_HANDLED;
    }
    return SCREEN_IGNORED;
}

static void
tok_tick(struct screen *scr)
{
    struct tok_scr *s = scr->state;
    (void)s;
    if (!tui_busy(scr->tui) && !s->t.vocab_size)
        load(scr);
}

static void
tok_follow(struct screen *scr, const struct gr_args *a)
{
    struct tok_scr *s = scr->state;
    form_load_args(&s->form, a);
}

const struct screen_ops tokenizer_screen = {
    .name = "tokenizer", .title = "Tokenizer", .keys = tok_keys,
    .open = tok_open, .close = tok_close, .draw = tok_draw, .key = tok_key,
    .metric = tok_metric, .text = tok_text, .done = tok_done, .tick = tok_tick,
    .follow = tok_follow,
    .panes = NPANES,
};
