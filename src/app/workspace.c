#include "app/workspace.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/command.h"
#include "base/fsio.h"
#include "base/xalloc.h"

static const char *const layout[] = {
    "corpus", "checkpoints", "labels", "logs", NULL
};

enum gr_status
workspace_init(const char *dir, uint64_t seed, struct gr_error *err)
{
    enum gr_status rc;
    char *yaml = fs_join(dir, "garage.yaml");
    if (fs_exists(yaml)) {
        rc = gr_fail(err, GR_EINPUT, "%s is already a garage workspace", dir);
        goto out;
    }
    if (fs_exists(dir) && !fs_is_dir(dir)) {
        rc = gr_fail(err, GR_EINPUT, "%s exists and is not a folder", dir);
        goto out;
    }
    if ((rc = fs_mkdirs(dir, err)) != GR_OK)
        goto out;
    for (const char *const *p = layout; *p; p++) {
        char *sub = fs_join(dir, *p);
        rc = fs_mkdirs(sub, err);
        free(sub);
        if (rc != GR_OK)
            goto out;
    }
    char *text = xasprintf(
        "# garage workspace: settings.  The state of each stage is read from\n"
        "# the files beside this one (corpus/, tokenizer.bin, checkpoints/).\n"
        "garage: 1\n"
        "seed: %llu\n", (unsigned long long)seed);
    rc = fs_write_atomic(yaml, text, strlen(text), err);
    free(text);
out:
    free(yaml);
    return rc;
}

/* garage.yaml is ours and flat: "key: value" lines (garage, seed), blank
 * lines and # comments.  Anything else is an error naming the line: a
 * setting read wrong (a seed of "42x" taken as 42) would change runs
 * silently. */
static enum gr_status
read_settings(struct workspace *ws, int *version, const char *yaml,
              char *text, struct gr_error *err)
{
    int lineno = 0;
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        size_t len = strlen(line);
        while (len > 0 && strchr(" \t\r", line[len - 1]))
            line[--len] = '\0';
        line += strspn(line, " \t");
        if (!*line)
            continue;
        char *colon = strchr(line, ':');
        if (!colon)
            return gr_fail(err, GR_ECORRUPT, "%s:%d: expected 'key: value', "
                           "got '%s'", yaml, lineno, line);
        *colon = '\0';
        const char *val = colon + 1 + strspn(colon + 1, " \t");
        int is_seed = !strcmp(line, "seed");
        if (!is_seed && strcmp(line, "garage") != 0)
            return gr_fail(err, GR_ECORRUPT, "%s:%d: unknown setting '%s' "
                           "(expected 'garage' or 'seed')", yaml, lineno, line);
        char *end;
        errno = 0;
        unsigned long long v = strtoull(val, &end, 10);
        if (!isdigit((unsigned char)*val) || *end || errno == ERANGE)
            return gr_fail(err, GR_ECORRUPT, "%s:%d: %s: expected a whole "
                           "number from 0 to %llu, got '%s'", yaml, lineno,
                           line, ULLONG_MAX, val);
        if (is_seed)
            ws->seed = v;
        else
            *version = v > 1000 ? 1000 : (int)v;
    }
    return GR_OK;
}

enum gr_status
workspace_open(struct workspace *ws, const char *dir, struct gr_error *err)
{
    memset(ws, 0, sizeof *ws);
    if (!dir)
        dir = ".";
    char *yaml = fs_join(dir, "garage.yaml");
    char *text = NULL;
    enum gr_status rc = GR_OK;
    if (!fs_exists(yaml)) {
        if (strcmp(dir, ".") == 0)
            rc = gr_fail(err, GR_ESTATE, "this folder is not a garage workspace "
                         "(create one with 'garage init DIR', or use -C DIR)");
        else
            rc = gr_fail(err, GR_ESTATE, "%s is not a garage workspace "
                         "(create one with 'garage init %s')", dir, dir);
        goto out;
    }
    if ((rc = fs_read_all(yaml, &text, NULL, err)) != GR_OK)
        goto out;
    ws->seed = 1337;
    int version = 0;
    if ((rc = read_settings(ws, &version, yaml, text, err)) != GR_OK)
        goto out;
    if (version != 1) {
        rc = gr_fail(err, GR_ECORRUPT, "%s: missing or unsupported 'garage:' version "
                     "(this garage reads 1)", yaml);
        goto out;
    }
    ws->root = xstrdup(dir);
    for (const char *const *p = layout; *p; p++) {   /* repair missing folders */
        char *sub = fs_join(dir, *p);
        fs_mkdirs(sub, NULL);
        free(sub);
    }
out:
    free(text);
    free(yaml);
    return rc;
}

void
workspace_release(struct workspace *ws)
{
    if (!ws)
        return;
    free(ws->root);
    ws->root = NULL;
}

char *
workspace_path(const struct workspace *ws, const char *rel)
{
    return fs_join(ws->root, rel);
}

char *
workspace_latest_checkpoint(const struct workspace *ws, const char *kind)
{
    char *dirpath = workspace_path(ws, "checkpoints");
    DIR *d = opendir(dirpath);
    char *best = NULL;
    long long beststep = -1;
    size_t klen = strlen(kind);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            const char *n = e->d_name;
            size_t len = strlen(n);
            if (strncmp(n, kind, klen) != 0 || n[klen] != '-' || len < klen + 6 ||
                strcmp(n + len - 5, ".ckpt") != 0)
                continue;
            char *end;
            long long step = strtoll(n + klen + 1, &end, 10);
            if (end != n + len - 5)
                continue;
            if (step > beststep) {
                beststep = step;
                free(best);
                best = fs_join(dirpath, n);
            }
        }
        closedir(d);
    }
    free(dirpath);
    return best;
}

char *
workspace_run_name(const char *kind)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    return xasprintf("%s-%s", kind, stamp);
}
