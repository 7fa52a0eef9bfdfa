/* screen_stage.c: a stage of the recipe through its registry command:
 * the settings panel, a start key, the job's loss chart and its output.
 * Used for stages without a screen of their own; a stage whose engine
 * part is not in this build says so (and offers nothing to run). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "chartview.h"
#include "facts.h"
#include "form.h"
#include "screens.h"
#include "textlog.h"

struct stage {
    const struct gr_command *cmd;   /* NULL: not available yet */
    const char *title;
    const char *about;
    struct form form;
    struct textlog log;
    struct chartview cv;
    struct series loss, val;
    char status[256];
};

static const struct {
    const char *command, *title, *about;
} stages[] = {
    { "sft", "Demonstrations & SFT",
      "Write prompts with the answers you want (demonstrations) and fine-tune the "
      "pretrained model on them, so that it answers instead of rambling on." },
    { "rank", "Rank",
      "Read several sampled answers to a prompt and rank them with keystrokes: "
      "the rankings teach the reward model what you prefer." },
    { "reward", "Reward",
      "Fit a reward model (the same network with a score head) to every pair your "
      "rankings imply; its accuracy on held-out pairs says how well it learned." },
    { "tune", "Tune",
      "Tune the model with PPO to earn more reward, with a KL penalty that keeps "
      "it close to the model it started from." },
    { NULL, NULL, NULL }
};

static const struct key_binding stage_keys[] = {
    { 'g', "start", "Start with these settings", NULL },
    { 'p', "pause", "Pause or resume the job", NULL },
    { 'x', "stop", "Stop the job (keeping a checkpoint)", NULL },
    { '\n', "edit", "Edit the selected setting (Enter again keeps it)", "Enter" },
    { 'e', "EMA", "Chart: smoothing on or off (in the chart pane)", NULL },
    { 'l', "log", "Chart: log scale on or off (in the chart pane)", NULL },
    { 'z', "zoom", "Chart: show the last 50/200/1000/5000 steps, or all", NULL },
    { 'q', "back", "Back to the stages", NULL },
    { 0 }
};

static void
stage_open(struct screen *scr, const char *arg)
{
    struct stage *s = xcalloc(1, sizeof *s);
    scr->state = s;
    s->title = arg;
    for (int i = 0; stages[i].command; i++)
        if (arg && strcmp(stages[i].command, arg) == 0) {
            s->title = stages[i].title;
            s->about = stages[i].about;
        }
    scr->title = s->title;
    s->cmd = arg ? command_find(arg) : NULL;
    textlog_init(&s->log, 256 << 10);
    chartview_init(&s->cv);
    if (s->cmd)
        form_init(&s->form, s->cmd, tui_dir(scr->tui), NULL);
}

static void
stage_close(struct screen *scr)
{
    struct stage *s = scr->state;
    if (s->cmd)
        form_release(&s->form);
    textlog_release(&s->log);
    chartview_release(&s->cv);
    series_release(&s->loss);
    series_release(&s->val);
    free(s);
}

static void
stage_metric(struct screen *scr, const struct gr_metric *m)
{
    struct stage *s = scr->state;
    double step = metric_get(m, "step", NAN);
    if (!strcmp(m->kind, "note")) {
        textlog_newline(&s->log);
        textlog_printf(&s->log, "%s\n", m->text);
        return;
    }
    if (!strcmp(m->kind, "run"))
        series_clear(&s->loss), series_clear(&s->val);
    double loss = metric_get(m, "loss", NAN);
    if (isfinite(step) && isfinite(loss) && strcmp(m->kind, "eval") != 0)
        series_add(&s->loss, step, loss);
    double vl = metric_get(m, "val_loss", NAN);
    if (isfinite(step) && isfinite(vl))
        series_add(&s->val, step, vl);
    if (strcmp(m->kind, "progress") != 0) {
        size_t k = (size_t)snprintf(s->status, sizeof s->status, "%s", m->kind);
        for (int i = 0; i < m->n && k < sizeof s->status; i++)
            k += (size_t)snprintf(s->status + k, sizeof s->status - k, "  %s %.4g",
                                  m->keys[i], m->vals[i]);
    }
}

static void
stage_text(struct screen *scr, const char *text, size_t n)
{
    struct stage *s = scr->state;
    textlog_add(&s->log, text, n);
}

static void
stage_done(struct screen *scr, enum gr_status rc, const char *msg)
{
    struct stage *s = scr->state;
    textlog_newline(&s->log);
    textlog_printf(&s->log, rc == GR_OK ? "(done)\n" : "garage: %s\n", msg);
}

static void
stage_draw(struct screen *scr, struct rect body)
{
    struct stage *s = scr->state;
    struct rect r = body;
    if (!s->cmd) {
        struct rect in = draw_box(r, s->title, 1);
        in.x += 1;
        in.w -= 2;
        int y = in.y + 1;
        y += draw_wrap((struct rect){ y, in.x, 4, in.w }, 0, A_NORMAL,
                       s->about ? s->about : "") + 1;
        draw_text(y, in.x, in.w, style(ST_WARN) | A_BOLD, "Not available yet.");
        char buf[256];
        snprintf(buf, sizeof buf, "The engine part of this stage (the '%s' command) is "
                 "not in this build of garage yet; this screen will offer it as soon as "
                 "it is.", scr->arg ? scr->arg : "?");
        draw_wrap((struct rect){ y + 2, in.x, 4, in.w }, 0, A_NORMAL, buf);
        return;
    }
    int formw = r.w >= 100 ? 44 : 36;
    struct rect left = rect_cut_left(&r, formw);
    struct rect fin = draw_box(left, "Settings", scr->pane == 0);
    form_draw(&s->form, fin, scr->pane == 0);
    int charth = r.h / 2 >= 8 ? r.h / 2 : r.h;
    struct rect chart = rect_cut_top(&r, charth);
    struct rect cin = draw_box(chart, "Chart", scr->pane == 1);
    static const char *const names[] = { "loss", "val loss" };
    struct series *ss[] = { &s->loss, &s->val };
    chartview_draw(&s->cv, (struct rect){ cin.y, cin.x + 1, cin.h, cin.w - 1 },
                   tui_chart_glyphs(scr->tui), names, ss, s->val.n ? 2 : 1);
    if (r.h >= 3) {
        struct rect lin = draw_box(r, "Output", scr->pane == 2);
        textlog_draw(&s->log, (struct rect){ lin.y, lin.x + 1, lin.h, lin.w - 2 }, A_NORMAL);
    }
}

static enum screen_result
stage_key(struct screen *scr, int key)
{
    struct stage *s = scr->state;
    struct tui *t = scr->tui;
    if (!s->cmd)
        return SCREEN_IGNORED;
    if (scr->pane == 0 && form_key(&s->form, key))
        return SCREEN_HANDLED;
    if (scr->pane == 1 && chartview_key(&s->cv, key))
        return SCREEN_HANDLED;
    if (scr->pane == 2 && textlog_key(&s->log, key, LINES / 2))
        return SCREEN_HANDLED;
    if (tui_job_keys(t, scr, key))
        return SCREEN_HANDLED;
    switch (key) {
    case 'g': {
        struct gr_args *a = xcalloc(1, sizeof *a);
        form_args(&s->form, a);
        if (tui_run(t, scr, a, 1) == 0) {
            textlog_newline(&s->log);
            textlog_printf(&s->log, "$ garage %s ...\n", s->cmd->name);
        }
        return SCREEN_HANDLED;
    }
    }
    if (chartview_key(&s->cv, key))
        return SCREEN_HANDLED;
    return SCREEN_IGNORED;
}

static void
stage_follow(struct screen *scr, const struct gr_args *a)
{
    struct stage *s = scr->state;
    if (s->cmd)
        form_load_args(&s->form, a);
}

const struct screen_ops stage_screen = {
    .name = "stage", .title = "Stage", .keys = stage_keys,
    .open = stage_open, .close = stage_close, .draw = stage_draw,
    .key = stage_key, .metric = stage_metric, .text = stage_text,
    .done = stage_done, .follow = stage_follow, .panes = 3,
};
