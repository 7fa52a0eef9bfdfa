/* screen_home.c: the recipe's eight stages with their state and key
 * facts; Enter opens one.  Outside a workspace it offers to create one. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app/command.h"
#include "base/fsio.h"
#include "base/xalloc.h"
#include "facts.h"
#include "input.h"
#include "list.h"
#include "screens.h"

struct home {
    struct stage_fact st[STAGE_COUNT];
    struct list list;
    double last;
    int ticks;
    char stamp[1024];           /* the files the facts were read from */
};

static const char *const about[STAGE_COUNT] = {
    "Gather the text the model learns from: plain files, folders, fortune files "
    "('%'-separated) or JSONL. A share is held out to measure the model honestly.",
    "Learn a byte-level BPE vocabulary from the corpus, then encode the corpus "
    "into token shards. See how a sentence splits into tokens.",
    "Create a GPT and train it to predict the next token, watching the loss and "
    "the held-out bits per byte fall, with samples at each evaluation.",
    "Write prompts with the answers you want (demonstrations) and fine-tune the "
    "model on them (supervised fine-tuning).",
    "Read several sampled answers to a prompt and rank them with keystrokes; each "
    "ranking is saved before the next prompt appears.",
    "Fit a reward model to your rankings; check its accuracy on held-out pairs "
    "and score any answer.",
    "Tune the model with PPO to earn more reward, with a KL penalty that keeps it "
    "close to where it started.",
    "Talk to the result: the newest tuned, fine-tuned or base model.",
};

static const struct key_binding home_keys[] = {
    { '\n', "open", "Open the selected stage", "Enter" },
    { '1', "stage", "Open stage 1 to 8 directly", "1-8" },
    { 'c', "create", "Create a workspace (when this folder is not one)", NULL },
    { 'o', "open folder", "Work in another workspace folder", NULL },
    { 'r', "refresh", "Read the workspace again", NULL },
    { KEY_UP, NULL, "Select the previous stage (also k)", NULL },
    { KEY_DOWN, NULL, "Select the next stage (also j)", NULL },
    { 'q', "quit", "Quit", NULL },
    { 0 }
};

/* Sizes and times of what the facts come from: reading them again
 * (shard checksums included) only when one changed keeps the loop fast
 * on big corpora. */
static void
stamp(const char *dir, char *buf, size_t cap)
{
    static const char *const files[] = {
        "garage.yaml", "corpus/docs.idx", "tokenizer.bin", "corpus/train.tok",
        "checkpoints", "labels/demos.jsonl", "labels/rankings.jsonl", "logs", NULL
    };
    size_t n = (size_t)snprintf(buf, cap, "%s", dir ? dir : "-");
    for (const char *const *f = files; dir && *f && n < cap; f++) {
        char *p = fs_join(dir, *f);
        struct stat st;
        if (stat(p, &st) == 0)
            n += (size_t)snprintf(buf + n, cap - n, "|%lld.%ld.%lld", (long long)st.st_mtim.tv_sec,
                                  st.st_mtim.tv_nsec, (long long)st.st_size);
        else
            n += (size_t)snprintf(buf + n, cap - n, "|-");
        free(p);
    }
}

static void
refresh_facts(struct screen *scr)
{
    struct home *h = scr->state;
    stamp(tui_workspace(scr->tui), h->stamp, sizeof h->stamp);
    facts_read(tui_workspace(scr->tui), h->st);
}

static void
home_open(struct screen *scr, const char *arg)
{
    (void)arg;
    struct home *h = xcalloc(1, sizeof *h);
    h->list.n = STAGE_COUNT;
    scr->state = h;
    refresh_facts(scr);
    /* start on the first stage that is not done */
    for (int i = 0; i < STAGE_COUNT; i++)
        if (h->st[i].state != STAGE_DONE) {
            h->list.sel = i;
            break;
        }
}

static void
home_close(struct screen *scr)
{
    free(scr->state);
}

static void
home_tick(struct screen *scr)
{
    struct home *h = scr->state;
    char now[sizeof h->stamp];
    stamp(tui_workspace(scr->tui), now, sizeof now);
    if (strcmp(now, h->stamp) != 0)
        refresh_facts(scr);
}

static enum style
state_style(enum stage_state s)
{
    switch (s) {
    case STAGE_DONE:    return ST_GOOD;
    case STAGE_READY:   return ST_WARN;
    case STAGE_STALE:   return ST_BAD;
    default:            return ST_DIM;
    }
}

static void
home_draw(struct screen *scr, struct rect body)
{
    struct home *h = scr->state;
    const char *ws = tui_workspace(scr->tui);
    struct rect r = body;
    rect_cut_top(&r, 1);
    int listh = STAGE_COUNT + 2;
    struct rect box = rect_cut_top(&r, listh);
    box.x += 1;
    box.w -= 2;
    struct rect in = draw_box(box, "The recipe", 1);
    list_show(&h->list, in.h);
    int titlew = 22, statew = 8;
    if (in.w < 70) {
        titlew = in.w / 3;
        statew = 8;
    }
    for (int i = 0; i < STAGE_COUNT && i < in.h; i++) {
        struct stage_fact *f = &h->st[i];
        int sel = i == h->list.sel;
        attr_t a = sel ? style(ST_SELECT) : A_NORMAL;
        int y = in.y + i, x = in.x;
        draw_fill(y, x, in.w, a);
        x += draw_textf(y, x, 4, a | style(ST_DIM), " %d ", i + 1);
        draw_text(y, x, titlew, a | A_BOLD, f->title);
        x += titlew + 1;
        const char *sname = ws ? stage_state_name(f->state) : "-";
        if (f->state == STAGE_MISSING)
            sname = "n/a";
        draw_text(y, x, statew, sel ? a : style(state_style(f->state)), sname);
        x += statew + 1;
        draw_text(y, x, in.x + in.w - x - 1,
                  sel ? a : (f->state == STAGE_MISSING ? style(ST_DIM) : A_NORMAL), f->facts);
    }
    rect_cut_top(&r, 1);
    struct rect desc = r;
    desc.x += 2;
    desc.w -= 4;
    if (!ws) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s is not a garage workspace yet.",
                 strcmp(tui_dir(scr->tui), ".") == 0 ? "This folder" : tui_dir(scr->tui));
        draw_text(desc.y, desc.x, desc.w, style(ST_WARN) | A_BOLD, buf);
        int x = desc.x;
        int y = desc.y + 2;
        x += draw_text(y, x, 3, style(ST_KEY), "c");
        x += draw_text(y, x, desc.w, A_NORMAL, " create a workspace here (or in a folder you name)   ");
        y++;
        x = desc.x;
        x += draw_text(y, x, 3, style(ST_KEY), "o");
        draw_text(y, x, desc.w, A_NORMAL, " open another workspace folder");
        return;
    }
    struct stage_fact *f = &h->st[h->list.sel];
    int used = draw_wrap(desc, 0, A_NORMAL, about[h->list.sel]);
    if (f->state == STAGE_MISSING && used + 1 < desc.h)
        draw_text(desc.y + used + 1, desc.x, desc.w, style(ST_DIM),
                  "This stage is not available yet: its engine part is still being built.");
}

static int
folder_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = 0;
    closedir(d);
    return empty;
}

static void
create_ws(struct tui *t, const char *text, void *arg)
{
    struct screen *scr = arg;
    if (!*text)
        return;
    char *yaml = fs_join(text, "garage.yaml");
    int exists = fs_exists(yaml);
    free(yaml);
    if (!exists) {
        struct gr_args a;
        struct gr_error err;
        struct gr_ctx ctx = { .dir = text };
        args_init(&a, command_find("init"), NULL);
        enum gr_status rc = command_run(&ctx, &a, &err);
        args_release(&a);
        if (rc != GR_OK) {
            tui_error(t, "%s", err.msg);
            return;
        }
        tui_msg(t, "created a garage workspace in %s", text);
    } else {
        tui_msg(t, "%s is a workspace already: working there", text);
    }
    tui_set_dir(t, text);
    refresh_facts(scr);
    ((struct home *)scr->state)->list.sel = 0;
}

static void
open_ws(struct tui *t, const char *text, void *arg)
{
    struct screen *scr = arg;
    if (!*text)
        return;
    char *yaml = fs_join(text, "garage.yaml");
    int exists = fs_exists(yaml);
    free(yaml);
    if (!exists) {
        tui_error(t, "%s is not a garage workspace (c creates one)", text);
        return;
    }
    tui_set_dir(t, text);
    refresh_facts(scr);
    tui_msg(t, "working in %s", text);
}

static void
open_stage(struct screen *scr, int i)
{
    struct home *h = scr->state;
    struct tui *t = scr->tui;
    h->list.sel = i;
    if (!tui_workspace(t)) {
        tui_error(t, "create a workspace first: press c");
        return;
    }
    /* a stage whose engine part is missing says so on the generic screen */
    tui_push(t, h->st[i].state == STAGE_MISSING ? "stage" : h->st[i].screen,
             h->st[i].command);
}

static enum screen_result
home_key(struct screen *scr, int key)
{
    struct home *h = scr->state;
    struct tui *t = scr->tui;
    if (list_key(&h->list, key, STAGE_COUNT))
        return SCREEN_HANDLED;
    switch (key) {
    case '\n': case '\r': case KEY_ENTER: case KEY_RIGHT:
        open_stage(scr, h->list.sel);
        return SCREEN_HANDLED;
    case 'c':
        if (tui_workspace(t)) {
            tui_msg(t, "%s is a workspace already (o opens another)", tui_dir(t));
            return SCREEN_HANDLED;
        }
        tui_prompt(t, "Create a workspace in: ",
                   folder_is_empty(tui_dir(t)) ? tui_dir(t) : "my-garage",
                   input_complete_path, create_ws, scr);
        return SCREEN_HANDLED;
    case 'o':
        tui_prompt(t, "Open the workspace in: ", "", input_complete_path, open_ws, scr);
        return SCREEN_HANDLED;
    case 'r':
        refresh_facts(scr);
        tui_msg(t, "read the workspace again");
        return SCREEN_HANDLED;
    }
    if (key >= '1' && key <= '0' + STAGE_COUNT) {
        open_stage(scr, key - '1');
        return SCREEN_HANDLED;
    }
    return SCREEN_IGNORED;
}

const struct screen_ops home_screen = {
    .name = "home", .title = "Home", .keys = home_keys,
    .open = home_open, .close = home_close, .draw = home_draw,
    .key = home_key, .tick = home_tick,
};
