/* runlog.c: metrics logs read back (see runlog.h). */
#include "runlog.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/fsio.h"
#include "base/xalloc.h"

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
to_metric(json_t *o, struct gr_metric *m)
{
    json_t *kind = json_object_get(o, "kind");
    if (!json_is_string(kind))
        return 0;
    metric_begin(m, json_string_value(kind));
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (json_is_number(v))
            metric_add(m, key, json_number_value(v));
        else if (json_is_null(v))
            metric_add(m, key, NAN);
        else if (json_is_string(v) && strcmp(key, "text") == 0)
            snprintf(m->text, sizeof m->text, "%s", json_string_value(v));
    }
    return 1;
}

long
runlog_read(const char *ws_root, const char *prefix, int newest_only,
            void (*fn)(void *ctx, const struct gr_metric *m), void *ctx)
{
    char *logs = fs_join(ws_root, "logs");
    DIR *d = opendir(logs);
    if (!d) {
        free(logs);
        return 0;
    }
    char **names = NULL;
    size_t n = 0, plen = strlen(prefix);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, plen) != 0 || e->d_name[plen] != '-' ||
            len < 6 || strcmp(e->d_name + len - 6, ".jsonl") != 0)
            continue;
        names = xrealloc(names, (n + 1) * sizeof *names);
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    long count = 0;
    for (size_t i = newest_only && n ? n - 1 : 0; i < n; i++) {
        char *path = fs_join(logs, names[i]);
        FILE *f = fopen(path, "re");
        free(path);
        if (!f)
            continue;
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
            json_t *o = json_loads(line, 0, NULL);
            struct gr_metric m;
            if (o && json_is_object(o) && to_metric(o, &m)) {
                fn(ctx, &m);
                count++;
            }
            json_decref(o);
        }
        free(line);
        fclose(f);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(logs);
    return count;
}
