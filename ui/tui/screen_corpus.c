/* screen_corpus.c: what the corpus holds (statistics, sources, the split)
 * and a scrollable preview of its documents; 'a' adds paths (a path
 * prompt with completion that says what it found and in which format),
 * with the settings of the registry's 'corpus' command.  Lines, words and
 * duplicates are counted on a thread of the screen's own (a corpus of
 * 100 MB takes most of a second), the screen answering keys meanwhile. */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "app/workspace.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "stages/corpus.h"
#include "form.h"
#include "input.h"
#include "list.h"
#include "screens.h"

#define MAX_SOURCES 64

enum { PANE_DOCS, PANE_TEXT, PANE_SETTINGS, NPANES };

struct source {
    char *path;
    char format[16];
    double docs, bytes;
};

struct corpus_scr {
    struct form form;               /* format, field, val_fraction */
    int have;                       /* c is open */
    struct corpus c;
    struct corpus_stats st;         /* valid once stats_ready */
    pthread_t stats_th;             /* counting st over c */
    int stats_running;              /* stats_th to join */
    atomic_int stats_ready;
    struct source src[MAX_SOURCES];
    int nsrc;
    struct list docs;               /* the preview's selection */
    int text_top;                   /* first line of the document shown */
    /* the add job */
    char prog_what[64];
    double prog_done, prog_total;
    char last_note[GR_METRIC_TEXT];
    double stamp;                   /* docs.idx when last read */
};

static const struct key_binding corpus_keys[] = {
    { 'a', "add", "Add files, folders or globs (Tab completes; the prompt says "
      "what it finds)", NULL },
    { 't', "tokenizer", "Go on to the tokenizer", NULL },
    { 'C', "clear", "Remove every document from the corpus (asks first)", NULL },
    { 'x', "stop", "Stop adding", NULL },
    { KEY_UP, NULL, "Documents: the previous one (also k; PgUp/PgDn, Home/End)", "Up/Down" },
    { KEY_RIGHT, NULL, "Scroll the document (Left: back)", "Right" },
    { '\n', NULL, "Settings pane: edit the selected value (format, field, "
      "val_fraction apply to the next add)", "Enter" },
    { 'q', "back", "Back to the stages", NULL },
    { 0 }
};

static void
free_sources(struct corpus_scr *s)
{
    for (int i = 0; i < s->nsrc; i++)
        free(s->src[i].path);
    s->nsrc = 0;
}

static void
read_sources(struct corpus_scr *s, const char *ws)
{
    free_sources(s);
    char *path = fs_join(ws, "corpus/manifest.json");
    json_t *root = json_load_file(path, 0, NULL);
    free(path);
    json_t *arr = root ? json_object_get(root, "sources") : NULL;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        if (s->nsrc >= MAX_SOURCES)
            break;
        struct source *src = &s->src[s->nsrc++];
        const char *p = json_string_value(json_object_get(v, "path"));
        const char *f = json_string_value(json_object_get(v, "format"));
        src->path = xstrdup(p ? p : "?");
        snprintf(src->format, sizeof src->format, "%s", f ? f : "?");
        src->docs = json_number_value(json_object_get(v, "documents"));
        src->bytes = json_number_value(json_object_get(v, "bytes"));
    }
    json_decref(root);
}

/* The counting thread: st from c, which stays open until it is joined. */
static void *
stats_main(void *arg)
{
    struct corpus_scr *s = arg;
    corpus_stats_compute(&s->c, &s->st);
    atomic_store(&s->stats_ready, 1);
    return NULL;
}

static void
join_stats(struct corpus_scr *s)
{
    if (s->stats_running)
        pthread_join(s->stats_th, NULL);
    s->stats_running = 0;
}

static void
close_corpus(struct corpus_scr *s)
{
    join_stats(s);
    if (s->have)
        corpus_close(&s->c);
    s->have = 0;
}

/* When docs.idx last changed (0: none), to notice another process's add. */
static double
idx_stamp(const char *dir)
{
    char *idx = fs_join(dir, "corpus/docs.idx");
    struct stat st;
    double stamp = stat(idx, &st) == 0 ? st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9
                                       + (double)st.st_ino : 0;
    free(idx);
    return stamp;
}

static void
reload(struct screen *scr)
{
    struct corpus_scr *s = scr->state;
    const char *dir = tui_workspace(scr->tui);
    close_corpus(s);
    free_sources(s);
    memset(&s->st, 0, sizeof s->st);
    s->docs.n = 0;
    struct workspace ws;
    if (!dir || workspace_open(&ws, dir, NULL) != GR_OK)
        return;
    s->stamp = idx_stamp(dir);
    if (corpus_open(&s->c, &ws, NULL) == GR_OK) {
        s->have = 1;
        atomic_store(&s->stats_ready, 0);
        if (pthread_create(&s->stats_th, NULL, stats_main, s) == 0) {
            s->stats_running = 1;
        } else {
            corpus_stats_compute(&s->c, &s->st);
            atomic_store(&s->stats_ready, 1);
        }
        s->docs.n = (int)s->c.ndocs;
        read_sources(s, dir);
    }
    workspace_release(&ws);
    list_show(&s->docs, 1);
}

static void
corpus_open_scr(struct screen *scr, const char *arg)
{
    (void)arg;
    struct corpus_scr *s = xcalloc(1, sizeof *s);
    scr->state = s;
    static const char *const hide[] = { "add", "info", "clear", NULL };
    form_init(&s->form, command_find("corpus"), tui_dir(scr->tui), hide);
    reload(scr);
    scr->pane = PANE_DOCS;
}

static void
corpus_close_scr(struct screen *scr)
{
    struct corpus_scr *s = scr->state;
    close_corpus(s);
    free_sources(s);
    form_release(&s->form);
    free(s);
}

static void
corpus_metric(struct screen *scr, const struct gr_metric *m)
{
    struct corpus_scr *s = scr->state;
    if (!strcmp(m->kind, "progress")) {
        const char *bar = strchr(m->text, '|');
        snprintf(s->prog_what, sizeof s->prog_what, "%.*s",
                 bar ? (int)(bar - m->text) : (int)strlen(m->text), m->text);
        s->prog_done = metric_get(m, "done", 0);
        s->prog_total = metric_get(m, "total", 0);
    } else if (!strcmp(m->kind, "note")) {
        snprintf(s->last_note, sizeof s->last_note, "%s", m->text);
    }
}

static void
corpus_text(struct screen *scr, const char *text, size_t n)
{
    /* 'corpus add' reports what it added: the last line, as a message */
    tui_msg_line(scr->tui, text, n, 1);
}

static void
corpus_done(struct screen *scr, enum gr_status rc, const char *msg)
{
    struct corpus_scr *s = scr->state;
    (void)rc;
    (void)msg;
    s->prog_what[0] = 0;
    reload(scr);
}

/* ---- drawing ------------------------------------------------------------- */

static void
draw_stats(struct screen *scr, struct rect r)
{
    struct corpus_scr *s = scr->state;
    int x = r.x + 1, w = r.w - 2, y = r.y, end = r.y + r.h;
    char a[32], b[32], c2[32];
    if (tui_job_is(scr->tui, scr) && s->prog_what[0]) {
        draw_textf(y++, x, w, A_BOLD, "%s %.0f / %.0f", s->prog_what, s->prog_done,
                   s->prog_total);
        if (y < end)
            draw_bar(y++, x, w, s->prog_total > 0 ? s->prog_done / s->prog_total : 0);
        if (y < end && s->last_note[0])
            draw_wrap((struct rect){ y, x, end - y, w }, 0, style(ST_DIM), s->last_note);
        return;
    }
    if (!s->have) {
        draw_wrap((struct rect){ y, x, r.h, w }, 0, A_NORMAL,
                  "The corpus is empty. Press a to add text: files, folders (read "
                  "recursively), globs, fortune files, JSONL.");
        return;
    }
    fmt_count(a, sizeof a, (double)s->c.ndocs);
    fmt_bytes(b, sizeof b, (double)s->c.nbytes);
    draw_textf(y++, x, w, A_BOLD, "%s documents, %s", a, b);
    if (!atomic_load(&s->stats_ready)) {
        if (y < end)
            draw_text(y++, x, w, style(ST_DIM), "counting lines, words and duplicates...");
        return;
    }
    fmt_count(a, sizeof a, (double)s->st.nlines);
    fmt_count(b, sizeof b, (double)s->st.nwords);
    if (y < end)
        draw_textf(y++, x, w, A_NORMAL, "%s lines, %s words", a, b);
    fmt_count(a, sizeof a, (double)s->st.train_docs);
    fmt_count(b, sizeof b, (double)s->st.val_docs);
    fmt_bytes(c2, sizeof c2, (double)s->st.val_bytes);
    if (y < end)
        draw_textf(y++, x, w, A_NORMAL, "%s training, %s held out (%s)", a, b, c2);
    if (y < end)
        draw_textf(y++, x, w, s->st.ndups ? style(ST_WARN) : style(ST_DIM),
                   "%llu duplicate documents", (unsigned long long)s->st.ndups);
    for (int i = 0; i < s->nsrc && y < end; i++) {
        fmt_count(a, sizeof a, s->src[i].docs);
        if (y == end - 1 && i < s->nsrc - 1) {
            draw_textf(y++, x, w, style(ST_DIM), "... %d sources in all", s->nsrc);
            break;
        }
        char line[512];
        snprintf(line, sizeof line, "%s (%s, %s)", s->src[i].path, s->src[i].format, a);
        draw_text(y++, x, w, style(ST_DIM), line);
    }
}

/* The first line of document i, for the list. */
static void
doc_title(struct corpus_scr *s, int i, char *buf, size_t cap)
{
    size_t n;
    const unsigned char *p = corpus_doc(&s->c, (size_t)i, &n);
    while (n && (*p == '\n' || *p == ' ' || *p == '\t' || *p == '\r'))
        p++, n--;
    const unsigned char *nl = memchr(p, '\n', n);
    size_t len = nl ? (size_t)(nl - p) : n;
    if (len > cap - 1)
        len = cap - 1;
    memcpy(buf, p, len);
    buf[len] = 0;
}

static void
draw_docs(struct screen *scr, struct rect r, int focused)
{
    struct corpus_scr *s = scr->state;
    if (!s->have)
        return;
    list_show(&s->docs, r.h);
    for (int k = 0; k < r.h; k++) {
        int i = s->docs.top + k;
        if (i >= s->docs.n)
            break;
        int sel = i == s->docs.sel;
        attr_t a = sel ? (focused ? style(ST_SELECT) : A_BOLD) : A_NORMAL;
        draw_fill(r.y + k, r.x, r.w, sel && focused ? a : A_NORMAL);
        char title[256];
        doc_title(s, i, title, sizeof title);
        int x = r.x;
        x += draw_textf(r.y + k, x, 8, a | (corpus_is_val(&s->c, (size_t)i) ? 0 : style(ST_DIM)),
                        "%c%-6d", corpus_is_val(&s->c, (size_t)i) ? '*' : ' ', i + 1);
        draw_text(r.y + k, x, r.x + r.w - x, a, title);
    }
}

static void
draw_text_pane(struct screen *scr, struct rect r)
{
    struct corpus_scr *s = scr->state;
    if (!s->have || s->docs.sel >= s->docs.n)
        return;
    size_t n;
    const unsigned char *p = corpus_doc(&s->c, (size_t)s->docs.sel, &n);
    /* documents can be large: show at most the first 64 kB */
    size_t show = n < 65536 ? n : 65536;
    char *text = xstrndup((const char *)p, show);
    for (size_t i = 0; i < show; i++)
        if (text[i] == 0)
            text[i] = ' ';
    int total = draw_wrap((struct rect){ 0, 0, 0, r.w }, 0, A_NORMAL, text);
    if (s->text_top > total - r.h)
        s->text_top = total - r.h > 0 ? total - r.h : 0;
    draw_wrap(r, s->text_top, A_NORMAL, text);
    free(text);
}

static void
corpus_draw(struct screen *scr, struct rect body)
{
    struct corpus_scr *s = scr->state;
    struct rect r = body;
    int top_h = r.h >= 30 ? 10 : 8;
    struct rect top = rect_cut_top(&r, top_h);
    struct rect left = rect_cut_left(&top, top.w / 2);
    struct rect sin = draw_box(left, "Corpus", 0);
    draw_stats(scr, sin);
    struct rect fin = draw_box(top, "Settings for adding", scr->pane == PANE_SETTINGS);
    form_draw(&s->form, fin, scr->pane == PANE_SETTINGS);

    int listw = r.w >= 120 ? 44 : r.w / 3;
    struct rect lbox = rect_cut_left(&r, listw);
    char title[64];
    snprintf(title, sizeof title, "Documents (* held out)");
    struct rect lin = draw_box(lbox, title, scr->pane == PANE_DOCS);
    draw_docs(scr, lin, scr->pane == PANE_DOCS);
    if (s->have && s->docs.sel < s->docs.n) {
        size_t n;
        corpus_doc(&s->c, (size_t)s->docs.sel, &n);
        char b[32];
        fmt_bytes(b, sizeof b, (double)n);
        snprintf(title, sizeof title, "Document %d, %s%s", s->docs.sel + 1, b,
                 corpus_is_val(&s->c, (size_t)s->docs.sel) ? ", held out" : "");
    } else {
        snprintf(title, sizeof title, "Document");
    }
    struct rect tin = draw_box(r, title, scr->pane == PANE_TEXT);
    draw_text_pane(scr, (struct rect){ tin.y, tin.x + 1, tin.h, tin.w - 2 });
}

/* ---- adding ---------------------------------------------------------------- */

/* The prompt says what the typed path is: a file and its format, a
 * folder, a glob, or nothing. */
static void
watch_path(struct input *in, void *arg)
{
    (void)arg;
    const char *p = in->buf;
    while (*p == ' ')
        p++;
    if (!*p) {
        input_set_hint(in, "a file, folder or glob; several separated by spaces");
        return;
    }
    const char *last = strrchr(p, ' ');
    const char *path = last ? last + 1 : p;
    char hint[512];
    struct stat st;
    if (strpbrk(path, "*?[")) {
        snprintf(hint, sizeof hint, "%s: a glob", path);
    } else if (stat(path, &st) != 0) {
        snprintf(hint, sizeof hint, "%s: not found yet (Tab completes)", path);
    } else if (S_ISDIR(st.st_mode)) {
        snprintf(hint, sizeof hint, "%s: a folder, read recursively (binary files "
                 "are skipped)", path);
    } else {
        unsigned char buf[8192];
        size_t n = 0;
        FILE *f = fopen(path, "rb");
        if (f) {
            n = fread(buf, 1, sizeof buf, f);
            fclose(f);
        }
        char size[32];
        fmt_bytes(size, sizeof size, (double)st.st_size);
        if (corpus_is_binary(buf, n))
            snprintf(hint, sizeof hint, "%s: %s, binary: it would be skipped", path, size);
        else
            snprintf(hint, sizeof hint, "%s: %s, detected format: %s", path, size,
                     corpus_format_name(corpus_detect_format(path, buf, n)));
    }
    input_set_hint(in, hint);
}

static void
add_paths(struct tui *t, const char *text, void *arg)
{
    struct screen *scr = arg;
    struct corpus_scr *s = scr->state;
    char **w;
    int n = tui_split_words(text, &w);
    if (n == 0) {
        free(w);
        return;
    }
    struct gr_args *a = xcalloc(1, sizeof *a);
    form_args(&s->form, a);
    const struct gr_option *add = command_option(a->cmd, "add");
    struct gr_error err;
    int ok = 1;
    for (int i = 0; i < n && ok; i++)
        if (args_set(a, add, w[i], &err) != GR_OK) {
            tui_error(t, "%s", err.msg);
            ok = 0;
        }
    for (int i = 0; i < n; i++)
        free(w[i]);
    free(w);
    if (!ok) {
        args_release(a);
        free(a);
        return;
    }
    close_corpus(s);                /* the files change under the job */
    s->last_note[0] = 0;
    if (tui_run(t, scr, a, 1) == 0)
        tui_msg(t, "adding %s...", text);
    else
        reload(scr);
}

static void
clear_corpus(struct tui *t, void *arg)
{
    struct screen *scr = arg;
    close_corpus(scr->state);
    if (tui_run_line(t, scr, "corpus clear") != 0)
        reload(scr);
}

static enum screen_result
corpus_key(struct screen *scr, int key)
{
    struct corpus_scr *s = scr->state;
    struct tui *t = scr->tui;
    if (scr->pane == PANE_SETTINGS && form_key(&s->form, key))
        return SCREEN_HANDLED;
    if (scr->pane != PANE_SETTINGS) {
        int page = LINES - 14;
        if (scr->pane == PANE_TEXT) {
            if (key == KEY_DOWN || key == 'j' || key == KEY_WHEEL_DOWN) {
                s->text_top += key == KEY_WHEEL_DOWN ? 3 : 1;
                return SCREEN_HANDLED;
            }
            if (key == KEY_UP || key == 'k' || key == KEY_WHEEL_UP) {
                s->text_top -= key == KEY_WHEEL_UP ? 3 : 1;
                if (s->text_top < 0)
                    s->text_top = 0;
                return SCREEN_HANDLED;
            }
        }
        if (key == KEY_RIGHT || key == ' ' || (scr->pane == PANE_TEXT && key == KEY_NPAGE)) {
            s->text_top += page > 1 ? page : 1;
            return SCREEN_HANDLED;
        }
        if (key == KEY_LEFT || (scr->pane == PANE_TEXT && key == KEY_PPAGE)) {
            s->text_top -= page > 1 ? page : 1;
            if (s->text_top < 0)
                s->text_top = 0;
            return SCREEN_HANDLED;
        }
        int old = s->docs.sel;
        if (list_key(&s->docs, key, page)) {
            if (s->docs.sel != old)
                s->text_top = 0;
            return SCREEN_HANDLED;
        }
    }
    switch (key) {
    case 'a':
        if (tui_busy(t)) {
            tui_error(t, "a job is running: wait for it first");
            return SCREEN_HANDLED;
        }
        tui_prompt(t, "Add to the corpus: ", "", input_complete_path, add_paths, scr);
        tui_prompt_watch(t, watch_path);
        return SCREEN_HANDLED;
    case 'C':
        if (tui_busy(t)) {
            tui_error(t, "a job is running: wait for it first");
            return SCREEN_HANDLED;
        }
        if (s->have)
            tui_confirm(t, "Remove every document from the corpus? (The files you "
                        "added from stay where they are.)", clear_corpus, scr);
        return SCREEN_HANDLED;
    case 'x':
        if (tui_job_is(t, scr))
            tui_job_stop(t);
        return SCREEN_HANDLED;
    case 't':
        tui_push(t, "tokenizer", "tokenizer");
        return SCREEN_HANDLED;
    }
    return SCREEN_IGNORED;
}

/* The corpus changed on disk (a ':' command, another program): read it
 * again. */
static void
corpus_tick(struct screen *scr)
{
    struct corpus_scr *s = scr->state;
    const char *dir = tui_workspace(scr->tui);
    if (s->stats_running && atomic_load(&s->stats_ready)) {
        join_stats(s);              /* done: the figures are in */
        tui_dirty(scr->tui);
    }
    if (tui_busy(scr->tui) || !dir)
        return;
    if (idx_stamp(dir) != s->stamp)
        reload(scr);
}

static void
corpus_follow(struct screen *scr, const struct gr_args *a)
{
    struct corpus_scr *s = scr->state;
    form_load_args(&s->form, a);
    close_corpus(s);                /* the files change under the job */
}

const struct screen_ops corpus_screen = {
    .name = "corpus", .title = "Corpus", .keys = corpus_keys,
    .open = corpus_open_scr, .close = corpus_close_scr, .draw = corpus_draw,
    .key = corpus_key, .metric = corpus_metric, .text = corpus_text,
    .done = corpus_done, .tick = corpus_tick, .follow = corpus_follow,
    .panes = NPANES,
};
