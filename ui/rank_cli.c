#include "rank_cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help_text[] =
    "  3 1 2 4    the order, best first (with up to 9 answers also 3124)\n"
    "  3 1t2 4    't' or '=' between two answers: equally good\n"
    "  r 5 3 4 0  rate each answer from 0 (bad) to 5 (great), '-' for none;\n"
    "             the order follows from the ratings\n"
    "  s          skip this prompt (it is not asked again)\n"
    "  b          every answer is bad\n"
    "  e          write a better answer yourself (it is ranked first and kept\n"
    "             as a demonstration), then order the others\n"
    "  q          stop here; run the same step again to go on\n";

void
rank_cli_init(struct rank_cli *c, FILE *in, FILE *out, struct progress *prog)
{
    c->in = in;
    c->out = out;
    c->prog = prog;
}

int
rank_cli_usable(int fd)
{
    struct stat st;
    if (isatty(fd))
        return 1;
    if (fstat(fd, &st) < 0)
        return 0;
    return S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode);
}

/* One line without its newline (caller frees), or NULL at the end of the
 * input; *intr is set when a signal interrupted the read. */
static char *
read_line(struct rank_cli *c, int *intr)
{
    char *line = NULL;
    size_t cap = 0;
    *intr = 0;
    fflush(c->out);
    errno = 0;
    ssize_t n = getline(&line, &cap, c->in);
    if (n < 0) {
        *intr = errno == EINTR;
        clearerr(c->in);
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (!isatty(fileno(c->in)))         /* a script: show what it answered */
        fprintf(c->out, "%s\n", line);
    return line;
}

static void
show_text(FILE *f, const char *lead, const char *text)
{
    fputs(lead, f);
    for (const char *p = text; *p; p++) {
        fputc(*p, f);
        if (*p == '\n' && p[1])
            fprintf(f, "%*s", (int)strlen(lead), "");
    }
    fputc('\n', f);
}

static void
show_query(struct rank_cli *c, const struct label_query *q)
{
    FILE *f = c->out;
    fprintf(f, "\n=== Prompt %zu of %zu", q->number, q->total);
    if (q->done)
        fprintf(f, " (%zu ranked before)", q->done);
    fprintf(f, " ===\n");
    show_text(f, "", q->prompt);
    fputc('\n', f);
    for (int i = 0; i < q->nanswers; i++) {
        char lead[16];
        snprintf(lead, sizeof lead, "[%d] ", i + 1);
        show_text(f, lead, *q->answers[i] ? q->answers[i] : "(empty)");
    }
}

static int
is_word(const char *s, const char *w)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(w);
    if (strncasecmp(s, w, n))
        return 0;
    for (s += n; *s; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

/* Parse an order of K answers; 0 or -1 with a message in why. */
static int
parse_order(const char *s, int K, struct label_reply *r, char *why, size_t cap)
{
    int seen[LABEL_MAX_ANSWERS] = { 0 }, n = 0, pending_tie = 0;
    memset(r->tie, 0, sizeof r->tie);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isspace(ch) || ch == ',' || ch == '>')
            continue;
        if (ch == 't' || ch == 'T' || ch == '=') {
            if (!n || pending_tie) {
                snprintf(why, cap, "'%c' goes between two answer numbers, as in 2 1t3", ch);
                return -1;
            }
            pending_tie = 1;
            continue;
        }
        if (!isdigit(ch)) {
            snprintf(why, cap, "'%c' is not an answer number ('?' for help)", ch);
            return -1;
        }
        int x = ch - '0';
        if (x < 1 || x > K) {
            snprintf(why, cap, "there is no answer %d (they are numbered 1 to %d)", x, K);
            return -1;
        }
        if (seen[x - 1]++) {
            snprintf(why, cap, "answer %d is named twice", x);
            return -1;
        }
        if (pending_tie)
            r->tie[n - 1] = 1;
        pending_tie = 0;
        r->order[n++] = x - 1;
    }
    if (pending_tie) {
        snprintf(why, cap, "a tie needs an answer after it");
        return -1;
    }
    if (n != K) {
        int missing = 0;
        for (int i = 0; i < K && !missing; i++)
            if (!seen[i])
                missing = i + 1;
        snprintf(why, cap, "name all %d answers once (answer %d is missing)", K, missing);
        return -1;
    }
    r->norder = K;
    return 0;
}

/* "5 3 4 0" or "5340": K ratings 0..5, '-' for none. */
static int
parse_ratings(const char *s, int K, int *ratings, char *why, size_t cap)
{
    int n = 0, any = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isspace(ch) || ch == ',')
            continue;
        if (n == K) {
            snprintf(why, cap, "more than %d ratings", K);
            return -1;
        }
        if (ch == '-') {
            ratings[n++] = -1;
            continue;
        }
        if (ch < '0' || ch > '0' + LABEL_MAX_RATING) {
            snprintf(why, cap, "ratings are 0 to 5 ('-' for none), got '%c'", ch);
            return -1;
        }
        ratings[n++] = ch - '0';
        any = 1;
    }
    if (n != K || !any) {
        snprintf(why, cap, "give %d ratings, one per answer, 0 to 5", K);
        return -1;
    }
    return 0;
}

/* Read a better answer up to a line holding only '.'; NULL if none. */
static char *
read_better(struct rank_cli *c, int *intr)
{
    fprintf(c->out, "Write a better answer; end it with a line holding only '.':\n");
    char *text = NULL;
    size_t n = 0;
    for (;;) {
        char *line = read_line(c, intr);
        if (!line)
            break;
        if (!strcmp(line, ".")) {
            free(line);
            break;
        }
        size_t l = strlen(line);
        text = realloc(text, n + l + 2);
        if (!text)
            abort();
        if (n)
            text[n++] = '\n';
        memcpy(text + n, line, l + 1);
        n += l;
        free(line);
    }
    if (text && strspn(text, " \t\n") == n) {
        free(text);
        text = NULL;
    }
    return text;
}

static enum gr_status
interrupted(struct gr_error *err)
{
    return gr_fail(err, GR_ESTOPPED, "ranking interrupted; the labels given so far are "
                   "saved (run the step again to go on)");
}

static enum gr_status
cli_rank(void *self, const struct label_query *q, struct label_reply *r,
         struct gr_error *err)
{
    struct rank_cli *c = self;
    if (c->prog)
        progress_break(c->prog);
    show_query(c, q);
    const int K = q->nanswers;
    char why[160];
    int intr;
    for (;;) {
        fprintf(c->out, "\nOrder best first (e.g. %s), s skip, b all bad, e write a better "
                "answer, r rate, q quit, ? help\nrank> ", K == 2 ? "2 1" : K == 3 ? "2 1 3"
                : "2 1 3 4");
        char *line = read_line(c, &intr);
        if (!line) {
            if (intr)
                return interrupted(err);
            fprintf(c->out, "\n");
            r->verdict = LABEL_QUIT;
            return GR_OK;
        }
        const char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s) {
            free(line);
            continue;
        }
        if (is_word(s, "?") || is_word(s, "h") || is_word(s, "help")) {
            fputs(help_text, c->out);
        } else if (is_word(s, "q")) {
            r->verdict = LABEL_QUIT;
            free(line);
            return GR_OK;
        } else if (is_word(s, "s")) {
            r->verdict = LABEL_SKIP;
            free(line);
            return GR_OK;
        } else if (is_word(s, "b")) {
            r->verdict = LABEL_ALL_BAD;
            free(line);
            return GR_OK;
        } else if (is_word(s, "e")) {
            free(line);
            char *better = read_better(c, &intr);
            if (!better) {
                if (intr)
                    return interrupted(err);
                fprintf(c->out, "(no answer written)\n");
                continue;
            }
            for (;;) {
                fprintf(c->out, "Your answer goes first.  Now order the %d sampled answers "
                        "(or b: all equally bad):\nrank> ", K);
                line = read_line(c, &intr);
                if (!line) {
                    free(better);
                    if (intr)
                        return interrupted(err);
                    r->verdict = LABEL_QUIT;
                    return GR_OK;
                }
                if (is_word(line, "b")) {
                    r->verdict = LABEL_ALL_BAD;
                } else if (parse_order(line, K, r, why, sizeof why) == 0) {
                    r->verdict = LABEL_ORDERED;
                } else {
                    fprintf(c->out, "%s\n", why);
                    free(line);
                    continue;
                }
                free(line);
                r->better = better;
                return GR_OK;
            }
        } else if (tolower((unsigned char)*s) == 'r' && !isdigit((unsigned char)*s)) {
            if (parse_ratings(s + 1, K, r->ratings, why, sizeof why) == 0) {
                r->verdict = LABEL_RATED;
                free(line);
                return GR_OK;
            }
            for (int i = 0; i < K; i++)
                r->ratings[i] = -1;
            fprintf(c->out, "%s\n", why);
        } else if (parse_order(s, K, r, why, sizeof why) == 0) {
            free(line);
            r->verdict = LABEL_ORDERED;
            if (!q->want_ratings)
                return GR_OK;
            for (;;) {
                fprintf(c->out, "Rate each answer 0-5 in the order shown (e.g. 5 3 4 0), "
                        "or Enter for none:\nrate> ");
                line = read_line(c, &intr);
                if (!line || !line[strspn(line, " \t")]) {
                    free(line);
                    if (intr)
                        return interrupted(err);
                    return GR_OK;
                }
                if (parse_ratings(line, K, r->ratings, why, sizeof why) == 0) {
                    free(line);
                    return GR_OK;
                }
                for (int i = 0; i < K; i++)
                    r->ratings[i] = -1;
                fprintf(c->out, "%s\n", why);
                free(line);
            }
        } else {
            fprintf(c->out, "%s\n", why);
        }
        free(line);
    }
}

static void
cli_saved(void *self, const struct label_query *q, size_t n)
{
    struct rank_cli *c = self;
    fprintf(c->out, "Saved (%zu this run; %zu of %zu left).\n", n, q->total - q->number,
            q->total);
    fflush(c->out);
}

static void
cli_notice(void *self, const char *text)
{
    struct rank_cli *c = self;
    if (c->prog)
        progress_break(c->prog);
    fprintf(c->out, "note: %s\n", text);
    fflush(c->out);
}

const struct labeler_ops rank_cli_ops = {
    .rank = cli_rank,
    .saved = cli_saved,
    .notice = cli_notice,
};
