/* screen_rank.c: rank sampled answers with keystrokes.
 *
 * The registry's 'rank' command (labeler=human) runs on the worker with
 * this screen's labeler (app/labeler.h): for each prompt the engine
 * samples K answers and calls rank(), which hands a copy of the query to
 * this screen and waits for the person's reply; the engine appends the
 * label to labels/rankings.jsonl with its own fsync and only then
 * samples the next prompt, so each label is on disk before the next
 * prompt appears.
 *
 * Keys: 1..K picks the next best answer (building the order; the last
 * one places itself), j/k move the selection, J/K move the selected
 * answer down/up, t ties it with the one above, s skips the prompt, b
 * says every answer is bad, e writes a better answer (stored as a
 * demonstration, ranked first), r samples new answers, u takes back the
 * last label, Enter saves.  A session's 'rank' step with labeler: human
 * opens this screen and goes on when the ranking is done. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/job.h"
#include "app/labeler.h"
#include "base/xalloc.h"
#include "form.h"
#include "input.h"
#include "screens.h"

/* ---- the channel between the engine's thread and this screen --------- */

struct query_copy {
    char *prompt;
    char *answers[LABEL_MAX_ANSWERS];
    int n;
    size_t number, total, done, can_undo;
    int want_ratings;
    char *checkpoint;
};

struct rank_link {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct gr_metrics *metrics;     /* the job's: tells the screen */
    struct gr_job *job;
    struct query_copy q;            /* the prompt to rank */
    int replied;
    struct label_reply reply;       /* reply.better moves to the engine */
};

static struct rank_link link = {
    .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
};

static void
query_free(struct query_copy *q)
{
    free(q->prompt);
    for (int i = 0; i < q->n; i++)
        free(q->answers[i]);
    free(q->checkpoint);
    memset(q, 0, sizeof *q);
}

static void
query_copy(struct query_copy *dst, const struct query_copy *src)
{
    memset(dst, 0, sizeof *dst);
    *dst = *src;
    dst->prompt = xstrdup(src->prompt ? src->prompt : "");
    for (int i = 0; i < src->n; i++)
        dst->answers[i] = xstrdup(src->answers[i]);
    dst->checkpoint = src->checkpoint ? xstrdup(src->checkpoint) : NULL;
}

static void
tell(const char *kind, double n, const char *text)
{
    struct gr_metric m;
    metric_begin(&m, kind);
    metric_add(&m, "n", n);
    if (text)
        metric_text(&m, "%s", text);
    metrics_emit(link.metrics, &m);
}

/* labeler_ops.rank: on the engine's thread. */
static enum gr_status
lab_rank(void *self, const struct label_query *q, struct label_reply *r,
         struct gr_error *err)
{
    (void)self;
    pthread_mutex_lock(&link.mu);
    query_free(&link.q);
    link.q.prompt = xstrdup(q->prompt);
    link.q.n = q->nanswers;
    for (int i = 0; i < q->nanswers; i++)
        link.q.answers[i] = xstrdup(q->answers[i]);
    link.q.number = q->number;
    link.q.total = q->total;
    link.q.done = q->done;
    link.q.can_undo = q->can_undo;
    link.q.want_ratings = q->want_ratings;
    link.q.checkpoint = q->checkpoint ? xstrdup(q->checkpoint) : NULL;
    link.replied = 0;
    pthread_mutex_unlock(&link.mu);
    tell("rank_query", (double)q->number, NULL);

    enum gr_status rc = GR_OK;
    pthread_mutex_lock(&link.mu);
    while (!link.replied) {
        if (link.job && atomic_load(&link.job->stop)) {
            rc = gr_fail(err, GR_ESTOPPED, "ranking stopped");
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&link.cv, &link.mu, &ts);
    }
    if (rc == GR_OK) {
        *r = link.reply;
        link.reply.better = NULL;
    }
    link.replied = 0;
    pthread_mutex_unlock(&link.mu);
    return rc;
}

static void
lab_saved(void *self, const struct label_query *q, size_t n)
{
    (void)self;
    (void)q;
    tell("rank_saved", (double)n, NULL);
}

static void
lab_notice(void *self, const char *text)
{
    (void)self;
    tell("note", 0, text);
}

static const struct labeler_ops tui_labeler = {
    .rank = lab_rank, .saved = lab_saved, .notice = lab_notice,
};

void
tui_rank_prepare(struct gr_ctx *ctx)
{
    link.metrics = ctx->metrics;
    link.job = ctx->job;
    ctx->labeler = &tui_labeler;
    ctx->labeler_ctx = &link;
}

static void
prepare(struct gr_ctx *ctx, void *arg)
{
    (void)arg;
    tui_rank_prepare(ctx);
}

/* ---- the screen ---------------------------------------------------------- */

struct rank_scr {
    struct form form;
    int attached;               /* a session's step */
    int up;                     /* a prompt is shown */
    int waiting;                /* ... and the engine waits for the reply */
    struct query_copy q;
    int pos[LABEL_MAX_ANSWERS]; /* the answer shown on each row */
    int placed;                 /* rows 0..placed-1 are ranked */
    int tie[LABEL_MAX_ANSWERS]; /* tie[r]: row r is as good as row r-1 */
    int ratings[LABEL_MAX_ANSWERS];
    int sel;                    /* selected row */
    int rating;                 /* R pressed: the next digit rates */
    char *better;               /* the person's own answer */
    int writing;                /* editing it */
    struct input edit;
    size_t saved;               /* labels saved this run */
};

static const struct key_binding rank_keys[] = {
    { '1', "pick", "Pick the next best answer by its number (the last places itself)",
      "1-K" },
    { '\n', "save", "Save the ranking (each label is on disk before the next prompt)",
      "Enter" },
    { 'j', NULL, "Select the next answer (k: the previous one)", "j/k" },
    { 'J', "move", "Move the selected answer down (K: up)", "J/K" },
    { 't', "tie", "Tie the selected answer with the one above (again: untie)", NULL },
    { 's', "skip", "Skip this prompt (recorded, not asked again)", NULL },
    { 'b', "all bad", "Every answer is bad (your written answer, if any, beats them)",
      NULL },
    { 'e', "write", "Write a better answer: stored as a demonstration, ranked first "
      "(Ctrl-S or F2 keeps it, Esc drops it)", NULL },
    { 'r', "resample", "Sample new answers to this prompt", NULL },
    { 'u', "undo", "Take back the last label of this run and rank its prompt again", NULL },
    { 'R', NULL, "Rate the selected answer: R then 0-5 (when rank ratings=true)", "R 0-5" },
    { 'g', NULL, "Start ranking with the settings (when no prompt is shown)", NULL },
    { 'q', "stop", "Stop ranking (this prompt is asked again next time)", NULL },
    { 0 }
};

static void
clear_prompt(struct rank_scr *s)
{
    query_free(&s->q);
    free(s->better);
    s->better = NULL;
    s->up = s->waiting = 0;
    s->writing = 0;
}

static void
take_query(struct screen *scr)
{
    struct rank_scr *s = scr->state;
    clear_prompt(s);
    pthread_mutex_lock(&link.mu);
    query_copy(&s->q, &link.q);
    pthread_mutex_unlock(&link.mu);
    for (int i = 0; i < s->q.n; i++) {
        s->pos[i] = i;
        s->tie[i] = 0;
        s->ratings[i] = -1;
    }
    s->placed = 0;
    s->sel = 0;
    s->rating = 0;
    s->up = s->waiting = 1;
}

static void
reply(struct screen *scr, enum label_verdict v)
{
    struct rank_scr *s = scr->state;
    pthread_mutex_lock(&link.mu);
    memset(&link.reply, 0, sizeof link.reply);
    link.reply.verdict = v;
    for (int i = 0; i < LABEL_MAX_ANSWERS; i++)
        link.reply.ratings[i] = i < s->q.n ? s->ratings[i] : -1;
    if (v == LABEL_ORDERED) {
        link.reply.norder = s->q.n;
        for (int r = 0; r < s->q.n; r++) {
            link.reply.order[r] = s->pos[r];
            link.reply.tie[r] = r + 1 < s->q.n && s->tie[r + 1];
        }
    }
    if ((v == LABEL_ORDERED || v == LABEL_ALL_BAD) && s->better)
        link.reply.better = xstrdup(s->better);
    link.replied = 1;
    pthread_cond_signal(&link.cv);
    pthread_mutex_unlock(&link.mu);
    s->waiting = 0;
    static const char *const what[] = {
        [LABEL_ORDERED] = "saving the ranking...", [LABEL_RATED] = "saving the ratings...",
        [LABEL_ALL_BAD] = "saving: all bad...", [LABEL_SKIP] = "skipped; saving...",
        [LABEL_QUIT] = "stopping...", [LABEL_RESAMPLE] = "sampling new answers...",
        [LABEL_UNDO] = "taking back the last label...",
    };
    tui_msg(scr->tui, "%s", what[v]);
}

static void
start(struct screen *scr)
{
    struct rank_scr *s = scr->state;
    struct gr_args *a = xcalloc(1, sizeof *a);
    struct gr_error err;
    form_args(&s->form, a);
    args_set(a, command_option(a->cmd, "labeler"), "human", &err);
    s->saved = 0;
    tui_prepare_job(scr->tui, prepare, NULL);
    if (tui_run(scr->tui, scr, a, 1) == 0)
        tui_msg(scr->tui, "sampling answers...");
}

static void
rank_open(struct screen *scr, const char *arg)
{
    (void)arg;
    struct rank_scr *s = xcalloc(1, sizeof *s);
    scr->state = s;
    static const char *const hide[] = { "labeler", "target_length", NULL };
    form_init(&s->form, command_find("rank"), tui_dir(scr->tui), hide);
    input_init(&s->edit);
    s->edit.multiline = 1;
    s->attached = tui_busy(scr->tui);
}

static void
rank_close(struct screen *scr)
{
    struct rank_scr *s = scr->state;
    clear_prompt(s);
    form_release(&s->form);
    input_release(&s->edit);
    free(s);
}

static void
rank_follow(struct screen *scr, const struct gr_args *a)
{
    struct rank_scr *s = scr->state;
    form_load_args(&s->form, a);
    s->attached = 1;
}

static void
rank_metric(struct screen *scr, const struct gr_metric *m)
{
    struct rank_scr *s = scr->state;
    if (!strcmp(m->kind, "rank_query")) {
        take_query(scr);
        tui_msg(scr->tui, "%s", s->q.can_undo ? "rank the answers (u takes back the last label)"
                                               : "rank the answers: 1-K picks the next best");
    } else if (!strcmp(m->kind, "rank_saved")) {
        s->saved = (size_t)metric_get(m, "n", 0);
        tui_msg(scr->tui, "saved: %zu label%s this run, in labels/rankings.jsonl", s->saved,
                s->saved == 1 ? "" : "s");
    }
}

static void
rank_text(struct screen *scr, const char *text, size_t n)
{
    tui_msg_line(scr->tui, text, n, 0);
}

static void
rank_done(struct screen *scr, enum gr_status rc, const char *msg)
{
    struct rank_scr *s = scr->state;
    (void)rc;
    (void)msg;
    clear_prompt(s);
}

/* ---- drawing ------------------------------------------------------------- */

static void
draw_settings(struct screen *scr, struct rect r)
{
    struct rank_scr *s = scr->state;
    struct rect left = rect_cut_left(&r, r.w / 2);
    struct rect in = draw_box(left, "Ranking settings", 1);
    form_draw(&s->form, in, 1);
    struct rect help = draw_box(r, "How it works", 0);
    draw_wrap((struct rect){ help.y, help.x + 1, help.h, help.w - 2 }, 0, A_NORMAL,
              tui_busy(scr->tui)
              ? "Sampling answers..."
              : "g starts. For each prompt the model writes several answers; you "
                "order them from best to worst with their numbers (1-K), or skip (s), "
                "or say all are bad (b), or write a better one (e). Each ranking is "
                "saved to labels/rankings.jsonl before the next prompt appears; the "
                "reward model learns from them.\n\nrank ratings=true also asks for "
                "0-5 ratings (R then a digit).");
}

static int
rank_of_row(const struct rank_scr *s, int row)
{
    int rank = 1;
    for (int r = 1; r <= row; r++)
        if (!s->tie[r])
            rank = r + 1;
    return rank;
}

static void
rank_draw(struct screen *scr, struct rect body)
{
    struct rank_scr *s = scr->state;
    if (!s->up) {
        draw_settings(scr, body);
        return;
    }
    struct rect r = body;
    char title[160];
    snprintf(title, sizeof title, "Prompt %zu / %zu%s", s->q.number, s->q.total,
             s->q.done ? "" : "");
    if (s->q.done)
        snprintf(title + strlen(title), sizeof title - strlen(title), " (%zu ranked before)",
                 s->q.done);
    int ph = draw_wrap((struct rect){ 0, 0, 0, r.w - 4 }, 0, A_NORMAL, s->q.prompt);
    if (ph > 4)
        ph = 4;
    struct rect pin = draw_box(rect_cut_top(&r, ph + 2), title, 0);
    draw_wrap((struct rect){ pin.y, pin.x + 1, pin.h, pin.w - 2 }, 0, A_BOLD, s->q.prompt);

    if (s->writing) {
        struct rect wb = rect_cut_bottom(&r, r.h / 2 > 4 ? r.h / 2 : 4);
        struct rect win = draw_box(wb, "Your answer (Ctrl-S or F2 keeps it, Esc drops it)", 1);
        input_draw_multi(&s->edit, (struct rect){ win.y, win.x + 1, win.h, win.w - 2 },
                         A_NORMAL, 1);
    } else if (s->better) {
        struct rect bb = rect_cut_bottom(&r, 3);
        struct rect bin = draw_box(bb, "Your answer, ranked first", 0);
        draw_text(bin.y, bin.x + 1, bin.w - 2, style(ST_GOOD), s->better);
    }

    snprintf(title, sizeof title, s->waiting ? "Answers: %d-%d picks the next best, Enter "
             "saves" : "Saving...", 1, s->q.n);
    struct rect ain = draw_box(r, title, s->waiting);
    int K = s->q.n;
    int each = K ? ain.h / K : 0;
    if (each < 1)
        each = 1;
    for (int row = 0; row < K; row++) {
        int y = ain.y + row * each;
        if (y >= ain.y + ain.h)
            break;
        int a = s->pos[row];
        int sel = row == s->sel && s->waiting;
        attr_t at = sel ? style(ST_SELECT) : A_NORMAL;
        char mark[16];
        if (row < s->placed)
            snprintf(mark, sizeof mark, "%s%d", s->tie[row] ? "=" : "#", rank_of_row(s, row));
        else
            snprintf(mark, sizeof mark, " -");
        draw_fill(y, ain.x, ain.w, sel ? at : A_NORMAL);
        draw_text(y, ain.x + 1, 4, at | (row < s->placed ? style(ST_GOOD) : style(ST_DIM)),
                  mark);
        draw_textf(y, ain.x + 5, 4, at | style(ST_KEY), "[%d]", a + 1);
        int tx = ain.x + 9;
        if (s->ratings[a] >= 0) {
            draw_textf(y, tx, 4, at | style(ST_WARN), "%d/5", s->ratings[a]);
            tx += 5;
        }
        int h = each;
        if (y + h > ain.y + ain.h)
            h = ain.y + ain.h - y;
        /* the answer, on its rows (newlines as spaces keep it compact) */
        char *flat = xstrdup(s->q.answers[a]);
        for (char *p = flat; *p; p++)
            if (*p == '\n' || *p == '\t')
                *p = ' ';
        int lines = draw_wrap((struct rect){ 0, 0, 0, ain.x + ain.w - tx - 1 }, 0, A_NORMAL, flat);
        draw_wrap((struct rect){ y, tx, h, ain.x + ain.w - tx - 1 }, 0, at, flat);
        if (lines > h)
            draw_text(y + h - 1, ain.x + ain.w - 2, 1, style(ST_DIM), "+");
        free(flat);
    }
}

/* ---- keys ---------------------------------------------------------------------- */

static void
move_row(struct rank_scr *s, int from, int to)
{
    int K = s->q.n;
    if (to < 0 || to >= K || from == to)
        return;
    int a = s->pos[from];
    s->pos[from] = s->pos[to];
    s->pos[to] = a;
    for (int r = 0; r < K; r++)
        s->tie[r] = 0;          /* ties follow rows: moving breaks them */
    s->placed = K;              /* the person arranges the whole list now */
    s->sel = to;
}

static void
pick(struct screen *scr, int answer)
{
    struct rank_scr *s = scr->state;
    int K = s->q.n, row = -1;
    for (int r = 0; r < K; r++)
        if (s->pos[r] == answer)
            row = r;
    if (row < s->placed) {
        tui_msg(scr->tui, "answer %d is ranked already (J/K move it; u takes back the "
                "last label)", answer + 1);
        return;
    }
    /* rotate it into place after the ranked ones */
    for (int r = row; r > s->placed; r--)
        s->pos[r] = s->pos[r - 1];
    s->pos[s->placed] = answer;
    s->tie[s->placed] = 0;
    s->placed++;
    if (s->placed == K - 1)
        s->placed = K;          /* the last one places itself */
    s->sel = s->placed < K ? s->placed : K - 1;
}

static void
ask_quit(struct tui *t, void *arg)
{
    struct screen *scr = arg;
    struct rank_scr *s = scr->state;
    if (s->waiting)
        reply(scr, LABEL_QUIT);
    else
        tui_job_stop(t);
    if (!s->attached)
        tui_close_when_done(t);
}

static enum screen_result
rank_key(struct screen *scr, int key)
{
    struct rank_scr *s = scr->state;
    struct tui *t = scr->tui;
    scr->typing = s->writing;
    if (!s->up) {
        if (form_key(&s->form, key))
            return SCREEN_HANDLED;
        if (key == 'g') {
            if (tui_busy(t))
                tui_error(t, "a job is running: wait for it first");
            else
                start(scr);
            return SCREEN_HANDLED;
        }
        if ((key == 'q' || key == KEY_ESC) && tui_job_is(t, scr)) {
            tui_confirm(t, "Stop ranking? Labels saved so far stay.", ask_quit, scr);
            return SCREEN_HANDLED;
        }
        return SCREEN_IGNORED;
    }
    if (s->writing) {
        enum input_event ev = input_key(&s->edit, key);
        if (ev == INPUT_CANCEL) {
            s->writing = 0;
        } else if (ev == INPUT_SUBMIT) {
            s->writing = 0;
            free(s->better);
            s->better = s->edit.len ? xstrdup(s->edit.buf) : NULL;
            tui_msg(t, "%s", s->better ? "your answer is ranked first: rank the others, "
                    "or b if they are all bad; Enter saves" : "no answer written");
        }
        scr->typing = s->writing;
        return SCREEN_HANDLED;
    }
    if ((key == 'q' || key == KEY_ESC)) {
        tui_confirm(t, "Stop ranking? This prompt is asked again next time; labels saved "
                    "so far stay.", ask_quit, scr);
        return SCREEN_HANDLED;
    }
    if (!s->waiting)
        return key == '?' || key == ':' ? SCREEN_IGNORED : SCREEN_HANDLED;
    int K = s->q.n;
    if (s->rating) {
        s->rating = 0;
        if (key >= '0' && key <= '0' + LABEL_MAX_RATING) {
            s->ratings[s->pos[s->sel]] = key - '0';
            return SCREEN_HANDLED;
        }
    }
    if (key >= '1' && key <= '0' + K) {
        pick(scr, key - '1');
        return SCREEN_HANDLED;
    }
    switch (key) {
    case 'j': case KEY_DOWN:
        s->sel = s->sel + 1 < K ? s->sel + 1 : s->sel;
        return SCREEN_HANDLED;
    case 'k': case KEY_UP:
        s->sel = s->sel > 0 ? s->sel - 1 : 0;
        return SCREEN_HANDLED;
    case 'J':
        move_row(s, s->sel, s->sel + 1);
        return SCREEN_HANDLED;
    case 'K':
        move_row(s, s->sel, s->sel - 1);
        return SCREEN_HANDLED;
    case 't':
        if (s->sel < 1 || s->sel >= s->placed)
            tui_msg(t, "select a ranked answer below another one to tie them");
        else
            s->tie[s->sel] = !s->tie[s->sel];
        return SCREEN_HANDLED;
    case 's':
        reply(scr, LABEL_SKIP);
        return SCREEN_HANDLED;
    case 'b':
        reply(scr, LABEL_ALL_BAD);
        return SCREEN_HANDLED;
    case 'e':
        s->writing = 1;
        scr->typing = 1;
        input_set(&s->edit, s->better ? s->better : "");
        return SCREEN_HANDLED;
    case 'r':
        reply(scr, LABEL_RESAMPLE);
        return SCREEN_HANDLED;
    case 'u':
        if (!s->q.can_undo)
            tui_msg(t, "nothing to take back: no label saved yet in this run");
        else
            reply(scr, LABEL_UNDO);
        return SCREEN_HANDLED;
    case 'R':
        if (!s->q.want_ratings)
            tui_msg(t, "ratings are off (rank ratings=true asks for them)");
        else
            s->rating = 1;
        return SCREEN_HANDLED;
    case '\n': case '\r': case KEY_ENTER: {
        int rated = 0;
        for (int i = 0; i < K; i++)
            rated |= s->ratings[i] >= 0;
        if (s->placed >= K)
            reply(scr, LABEL_ORDERED);
        else if (rated && s->placed == 0)
            reply(scr, LABEL_RATED);
        else
            tui_msg(t, "rank the answers first: %s picks the next best (or s skips, b: "
                    "all bad)", K == 2 ? "1 or 2" : "1-K");
        return SCREEN_HANDLED;
    }
    }
    return SCREEN_IGNORED;
}

const struct screen_ops rank_screen = {
    .name = "rank", .title = "Rank", .keys = rank_keys,
    .open = rank_open, .close = rank_close, .draw = rank_draw, .key = rank_key,
    .metric = rank_metric, .text = rank_text, .done = rank_done, .follow = rank_follow,
};
