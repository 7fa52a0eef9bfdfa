#include "app/datadir.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsio.h"
#include "base/xalloc.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const char *dir = GARAGE_DATADIR;

/* The program's own folder, as the kernel names it; NULL if unknown. */
static char *
exe_dir(void)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    return xstrdup(buf);
}

static void
find(void)
{
#if defined(GARAGE_BUILDDIR) && defined(GARAGE_SRCDATADIR)
    /* This very binary in its build folder: the source tree's data. */
    char *exe = exe_dir(), *build = realpath(GARAGE_BUILDDIR, NULL);
    if (exe && build && !strcmp(exe, build) && fs_is_dir(GARAGE_SRCDATADIR))
        dir = GARAGE_SRCDATADIR;
    free(exe);
    free(build);
#endif
}

const char *
data_dir(void)
{
    pthread_once(&once, find);
    return dir;
}

char *
data_path(const char *name)
{
    return fs_join(data_dir(), name);
}
