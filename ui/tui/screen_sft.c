/* screen_sft.c: demonstrations and supervised fine-tuning.  A list of
 * the stored demonstrations with the selected one in full; 'a' writes a
 * new one (a prompt line and a multi-line answer with readline-like
 * keys); 'd' deletes one; 'g' fine-tunes with the settings panel's
 * values, charting the training loss and the held-out loss live. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/datadir.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "text/labels.h"
#include "chartview.h"
#include "form.h"
#include "input.h"
#include "list.h"
#include "runlog.h"
#include "screens.h"

enum { PANE_DEMOS, PANE_SETTINGS, PANE_CHART, NPANES };

struct sft_scr {
    struct demo_set demos;
    struct list list;
    int text_top;
    struct form form;
    struct chartview cv;
    struct series loss, val;
    double step, steps, eta, cur_loss;
    /* writing a demonstration */
    int writing;                /* 0 no, 1 the prompt, 2 the answer */
    struct input prompt, answer;
};

static const struct key_binding sft_keys[] = {
    { 'a', "add", "Write a demonstration: a prompt, then the answer you want "
      "(Tab switches; Ctrl-S or F2 saves; Esc drops it)", NULL },
    { 'd', "delete", "Delete the selected demonstration (asks first)", NULL },
    { 'i', "import", "Import the demonstrations garage ships (those stored already "
      "are skipped)", NULL },
    { 'g', "train", "Fine-tune on the demonstrations with these settings", NULL },
    { 'p', "pause", "Pause or resume training", NULL },
    { 'x', "stop", "Stop training, keeping a checkpoint", NULL },
    { 'e', NULL, "Chart pane: smoothing on or off (l: log scale, z: zoom)", NULL },
    { 'q', "back", "Back to the stages", NULL },
    { 0 }
};

static void
load(struct screen *scr)
{
    struct sft_scr *s = scr->state;
    demos_release(&s->demos);
    demos_init(&s->demos);
    const char *dir = tui_workspace(scr->tui);
    if (dir) {
        char *p = fs_join(dir, "labels/demos.jsonl");
        demos_read_file(p, 1, &s->demos, NULL, NULL, NULL);
        free(p);
    }
    s->list.n = (int)s->demos.n;
    list_show(&s->list, 1);
}

static void
take(struct sft_scr *s, const struct gr_metric *m)
{
    if (!strcmp(m->kind, "run") && metric_get(m, "start_step", 0) == 0) {
        series_clear(&s->loss);
        series_clear(&s->val);
    } else if (!strcmp(m->kind, "sft")) {
        double step = metric_get(m, "step", NAN);
        if (s->loss.n && step <= s->loss.x[s->loss.n - 1]) {
            series_clear(&s->loss);
            series_clear(&s->val);
        }
        series_add(&s->loss, step, metric_get(m, "loss", NAN));
        s->step = step;
        s->steps = metric_get(m, "steps", s->steps);
        s->eta = metric_get(m, "eta", NAN);
        s->cur_loss = metric_get(m, "loss", NAN);
    } else if (!strcmp(m->kind, "eval")) {
        double vl = metric_get(m, "val_loss", NAN);
        if (isfinite(vl))
            series_add(&s->val, metric_get(m, "step", 0), vl);
    }
}

static void
take_logged(void *ctx, const struct gr_metric *m)
{
    take(ctx, m);
}

static void
sft_open(struct screen *scr, const char *arg)
{
    (void)arg;
    struct sft_scr *s = xcalloc(1, sizeof *s);
    scr->state = s;
    demos_init(&s->demos);
    form_init(&s->form, command_find("sft"), tui_dir(scr->tui), NULL);
    chartview_init(&s->cv);
    input_init(&s->prompt);
    input_init(&s->answer);
    s->answer.multiline = 1;
    s->step = s->steps = s->eta = s->cur_loss = NAN;
    load(scr);
    if (tui_workspace(scr->tui))
        runlog_read(tui_workspace(scr->tui), "sft", RUNLOG_NEWEST, take_logged, s);
}

static void
sft_close(struct screen *scr)
{
    struct sft_scr *s = scr->state;
    demos_release(&s->demos);
    form_release(&s->form);
    chartview_release(&s->cv);
    series_release(&s->loss);
    series_release(&s->val);
    input_release(&s->prompt);
    input_release(&s->answer);
    free(s);
}

static void
sft_metric(struct screen *scr, const struct gr_metric *m)
{
    take(scr->state, m);
}

static void
sft_text(struct screen *scr, const char *text, size_t n)
{
    tui_msg_line(scr->tui, text, n, 1);
}

static void
sft_done(struct screen *scr, enum gr_status rc, const char *msg)
{
    (void)rc;
    (void)msg;
    load(scr);
}

static void
sft_follow(struct screen *scr, const struct gr_args *a)
{
    struct sft_scr *s = scr->state;
    form_load_args(&s->form, a);
}

/* ---- drawing ------------------------------------------------------------- */

static void
draw_demo(const struct demo *d, struct rect r, int top)
{
    int line = 0;
    for (size_t i = 0; i < d->nturns && line - top < r.h; i++) {
        const struct chat_turn *t = &d->turns[i];
        int y = r.y + line - top;
        if (line >= top)
            draw_text(y, r.x, r.w, style(t->role == CHAT_USER ? ST_KEY : ST_GOOD),
                      t->role == CHAT_USER ? "User" : "Assistant");
        line++;
        int n = draw_wrap((struct rect){ 0, 0, 0, r.w - 2 }, 0, A_NORMAL, t->text);
        int first = top - line > 0 ? top - line : 0;
        int yy = r.y + line + first - top;
        if (first < n && yy < r.y + r.h)
            draw_wrap((struct rect){ yy, r.x + 2, r.y + r.h - yy, r.w - 2 }, first,
                      A_NORMAL, t->text);
        line += n;
    }
}

static void
sft_draw(struct screen *scr, struct rect body)
{
    struct sft_scr *s = scr->state;
    struct rect r = body;
    if (s->writing) {
        struct rect pb = rect_cut_top(&r, 3);
        struct rect pin = draw_box(pb, "Prompt (Tab: the answer)", s->writing == 1);
        input_draw(&s->prompt, pin.y, pin.x + 1, pin.w - 2, A_NORMAL, s->writing == 1);
        struct rect ain = draw_box(r, "The answer you want (Enter: a new line; Ctrl-S or "
                                   "F2 saves; Esc drops)", s->writing == 2);
        input_draw_multi(&s->answer, (struct rect){ ain.y, ain.x + 1, ain.h, ain.w - 2 },
                         A_NORMAL, s->writing == 2);
        return;
    }
    struct rect left = rect_cut_left(&r, r.w * 11 / 20);
    int listh = left.h / 2 > 5 ? left.h / 2 : 5;
    struct rect lbox = rect_cut_top(&left, listh);
    char title[64];
    snprintf(title, sizeof title, "Demonstrations (%zu)", s->demos.n);
    struct rect lin = draw_box(lbox, title, scr->pane == PANE_DEMOS);
    list_show(&s->list, lin.h);
    if (!s->demos.n) {
        char *shipped = data_path("demos.jsonl");
        /* the path last: its length moves where the lines wrap */
        char *hint = xasprintf("None yet: a writes one, ':demos import=FILE' imports a "
                               "file of yours, i the set garage ships: %s", shipped);
        draw_wrap((struct rect){ lin.y, lin.x + 1, lin.h, lin.w - 2 }, 0, style(ST_DIM),
                  hint);
        free(hint);
        free(shipped);
    }
    for (int k = 0; k < lin.h && s->list.top + k < s->list.n; k++) {
        int i = s->list.top + k;
        int sel = i == s->list.sel;
        attr_t a = sel && scr->pane == PANE_DEMOS ? style(ST_SELECT) : A_NORMAL;
        draw_fill(lin.y + k, lin.x, lin.w, a);
        char *flat = xstrdup(s->demos.v[i].nturns ? s->demos.v[i].turns[0].text : "");
        for (char *p = flat; *p; p++)
            if (*p == '\n')
                *p = ' ';
        draw_textf(lin.y + k, lin.x + 1, 5, a | style(ST_DIM), "%d", i + 1);
        draw_text(lin.y + k, lin.x + 6, lin.w - 7, a, flat);
        free(flat);
    }
    struct rect din = draw_box(left, "Selected", 0);
    if (s->list.sel < (int)s->demos.n)
        draw_demo(&s->demos.v[s->list.sel], (struct rect){ din.y, din.x + 1, din.h, din.w - 2 },
                  s->text_top);

    int formh = r.h / 2 > 6 ? r.h / 2 : 6;
    struct rect fbox = rect_cut_top(&r, formh);
    form_draw(&s->form, draw_box(fbox, "Fine-tuning settings", scr->pane == PANE_SETTINGS),
              scr->pane == PANE_SETTINGS);
    char ctitle[96];
    char eta[32];
    fmt_duration(eta, sizeof eta, s->eta);
    if (isfinite(s->step))
        snprintf(ctitle, sizeof ctitle, "Loss, step %.0f/%.0f, ETA %s", s->step, s->steps, eta);
    else
        snprintf(ctitle, sizeof ctitle, "Loss");
    struct rect cin = draw_box(r, ctitle, scr->pane == PANE_CHART);
    static const char *const names[] = { "loss", "held out" };
    struct series *ss[] = { &s->loss, &s->val };
    chartview_draw(&s->cv, (struct rect){ cin.y, cin.x + 1, cin.h, cin.w - 1 },
                   tui_chart_glyphs(scr->tui), names, ss, 2);
}

/* ---- keys ------------------------------------------------------------------ */

static void
delete_demo(struct tui *t, void *arg)
{
    struct screen *scr = arg;
    struct sft_scr *s = scr->state;
    char line[64];
    snprintf(line, sizeof line, "demos delete=%d", s->list.sel + 1);
    if (tui_run_line(t, scr, line) == 0)
        tui_msg(t, "deleting demonstration %d...", s->list.sel + 1);
}

static void
save_demo(struct screen *scr)
{
    struct sft_scr *s = scr->state;
    struct tui *t = scr->tui;
    if (!s->prompt.len || !s->answer.len) {
        tui_error(t, "a demonstration needs a prompt and an answer");
        return;
    }
    struct gr_args *a = xcalloc(1, sizeof *a);
    struct gr_error err;
    args_init(a, command_find("demos"), NULL);
    if (args_set(a, command_option(a->cmd, "add"), "true", &err) != GR_OK ||
        args_set(a, command_option(a->cmd, "prompt"), s->prompt.buf, &err) != GR_OK ||
        args_set(a, command_option(a->cmd, "answer"), s->answer.buf, &err) != GR_OK) {
        tui_error(t, "%s", err.msg);
        args_release(a);
        free(a);
        return;
    }
    if (tui_run(t, scr, a, 1) == 0) {
        s->writing = 0;
        scr->typing = 0;
        input_set(&s->prompt, "");
        input_set(&s->answer, "");
    }
}

static enum screen_result
sft_key(struct screen *scr, int key)
{
    struct sft_scr *s = scr->state;
    struct tui *t = scr->tui;
    if (s->writing) {
        if (key == '\t' || key == KEY_BTAB) {
            s->writing = s->writing == 1 ? 2 : 1;
            return SCREEN_HANDLED;
        }
        struct input *in = s->writing == 1 ? &s->prompt : &s->answer;
        int k = key;
        if (s->writing == 1 && (key == '\n' || key == '\r' || key == KEY_ENTER)) {
            s->writing = 2;             /* Enter on the prompt: on to the answer */
            return SCREEN_HANDLED;
        }
        if (key == KEY_CTRL('s') || key == KEY_F(2)) {
            save_demo(scr);
            return SCREEN_HANDLED;
        }
        enum input_event ev = input_key(in, k);
        if (ev == INPUT_CANCEL) {
            s->writing = 0;
            scr->typing = 0;
        } else if (ev == INPUT_SUBMIT) {
            save_demo(scr);
        }
        return SCREEN_HANDLED;
    }
    if (scr->pane == PANE_SETTINGS && form_key(&s->form, key))
        return SCREEN_HANDLED;
    if (scr->pane == PANE_CHART && chartview_key(&s->cv, key))
        return SCREEN_HANDLED;
    if (scr->pane == PANE_DEMOS) {
        int old = s->list.sel;
        if (list_key(&s->list, key, 5)) {
            if (old != s->list.sel)
                s->text_top = 0;
            return SCREEN_HANDLED;
        }
        if (key == ' ' || key == KEY_RIGHT) {
            s->text_top += 3;
            return SCREEN_HANDLED;
        }
        if (key == KEY_LEFT) {
            s->text_top = s->text_top > 3 ? s->text_top - 3 : 0;
            return SCREEN_HANDLED;
        }
    }
    if (tui_job_keys(t, scr, key))
        return SCREEN_HANDLED;
    switch (key) {
    case 'a':
        if (tui_busy(t)) {
            tui_error(t, "a job is running: wait for it first");
            return SCREEN_HANDLED;
        }
        s->writing = 1;
        scr->typing = 1;
        return SCREEN_HANDLED;
    case 'i': {
        if (tui_busy(t)) {
            tui_error(t, "a job is running: wait for it first");
            return SCREEN_HANDLED;
        }
        struct gr_args *a = xcalloc(1, sizeof *a);
        struct gr_error err;
        char *shipped = data_path("demos.jsonl");
        args_init(a, command_find("demos"), NULL);
        enum gr_status rc = args_set(a, command_option(a->cmd, "import"), shipped, &err);
        free(shipped);
        if (rc != GR_OK) {
            tui_error(t, "%s", err.msg);
            args_release(a);
            free(a);
        } else if (tui_run(t, scr, a, 1) == 0) {
            tui_msg(t, "importing the shipped demonstrations...");
        }
        return SCREEN_HANDLED;
    }
    case 'd':
        if (tui_busy(t))
            tui_error(t, "a job is running: wait for it first");
        else if (s->list.sel < (int)s->demos.n)
            tui_confirm(t, "Delete the selected demonstration?", delete_demo, scr);
        return SCREEN_HANDLED;
    case 'g': {
        if (tui_busy(t)) {
            tui_error(t, "a job is running: wait for it first");
            return SCREEN_HANDLED;
        }
        struct gr_args *a = xcalloc(1, sizeof *a);
        form_args(&s->form, a);
        if (tui_run(t, scr, a, 1) == 0)
            tui_msg(t, "fine-tuning...");
        return SCREEN_HANDLED;
    }
    }
    return SCREEN_IGNORED;
}

const struct screen_ops sft_screen = {
    .name = "sft", .title = "Demonstrations & SFT", .keys = sft_keys,
    .open = sft_open, .close = sft_close, .draw = sft_draw, .key = sft_key,
    .metric = sft_metric, .text = sft_text, .done = sft_done, .follow = sft_follow,
    .panes = NPANES,
};
