#include "base/fsio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/xalloc.h"

enum gr_status
fs_read_all(const char *path, char **out, size_t *len, struct gr_error *err)
{
    enum gr_status rc = GR_OK;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gr_fail_errno(err, GR_EINPUT, "%s", path);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = gr_fail(err, GR_EINPUT, "%s: is a folder, expected a file", path);
        goto out;
    }
    cap = (st.st_size > 0 ? (size_t)st.st_size : 4096) + 1;
    buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = gr_fail_errno(err, GR_EIO, "%s: read failed", path);
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
    if (len)
        *len = n;
out:
    free(buf);
    close(fd);
    return rc;
}

static int
write_full(int fd, const void *data, size_t n)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void
sync_dir_of(const char *path)
{
    char *dir = fs_dirname(path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

enum gr_status
fs_atomic_open(struct fs_atomic *a, const char *path, struct gr_error *err)
{
    memset(a, 0, sizeof *a);
    a->path = xstrdup(path);
    a->tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (a->fd < 0) {
        enum gr_status rc = gr_fail_errno(err, GR_EIO, "%s: cannot create", a->tmp);
        free(a->path);
        free(a->tmp);
        a->path = a->tmp = NULL;
        return rc;
    }
    return GR_OK;
}

enum gr_status
fs_atomic_write(struct fs_atomic *a, const void *data, size_t n,
                struct gr_error *err)
{
    if (a->failed)
        return gr_fail(err, GR_EIO, "%s: not saved (an earlier write failed; "
                       "nothing was replaced)", a->path);
    if (write_full(a->fd, data, n) < 0) {
        a->failed = 1;
        a->saved_errno = errno;
        /* The name the person knows, not the temporary one; and that what
         * was there before is still there. */
        return gr_fail_errno(err, GR_EIO, "%s: not saved, nothing was replaced",
                             a->path);
    }
    return GR_OK;
}

enum gr_status
fs_atomic_commit(struct fs_atomic *a, struct gr_error *err)
{
    enum gr_status rc = GR_OK;
    if (a->failed) {
        errno = a->saved_errno;
        rc = gr_fail_errno(err, GR_EIO, "%s: not saved, nothing was replaced", a->path);
        fs_atomic_abort(a);
        return rc;
    }
    if (fsync(a->fd) < 0) {
        rc = gr_fail_errno(err, GR_EIO, "%s: not saved (fsync), nothing was replaced",
                           a->path);
        fs_atomic_abort(a);
        return rc;
    }
    if (close(a->fd) < 0) {
        a->fd = -1;
        rc = gr_fail_errno(err, GR_EIO, "%s: not saved (close), nothing was replaced",
                           a->path);
        fs_atomic_abort(a);
        return rc;
    }
    a->fd = -1;
    if (rename(a->tmp, a->path) < 0) {
        rc = gr_fail_errno(err, GR_EIO, "%s: rename failed", a->path);
        fs_atomic_abort(a);
        return rc;
    }
    sync_dir_of(a->path);
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
    return GR_OK;
}

void
fs_atomic_abort(struct fs_atomic *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    if (a->tmp)
        unlink(a->tmp);
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
}

enum gr_status
fs_write_atomic(const char *path, const void *data, size_t n,
                struct gr_error *err)
{
    struct fs_atomic a;
    enum gr_status rc = fs_atomic_open(&a, path, err);
    if (rc != GR_OK)
        return rc;
    if ((rc = fs_atomic_write(&a, data, n, err)) != GR_OK) {
        fs_atomic_abort(&a);
        return rc;
    }
    return fs_atomic_commit(&a, err);
}

enum gr_status
fs_append_sync(const char *path, const void *data, size_t n,
               struct gr_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return gr_fail_errno(err, GR_EIO, "%s: cannot open for append", path);
    struct stat st;
    off_t before = fstat(fd, &st) == 0 ? st.st_size : -1;
    if (write_full(fd, data, n) < 0 || fsync(fd) < 0) {
        enum gr_status rc = gr_fail_errno(err, GR_EIO, "%s: append failed", path);
        /* A disk that filled up mid-line: take the part back, so the file
         * holds whole lines only, as before. */
        if (before >= 0 && ftruncate(fd, before) == 0)
            fsync(fd);
        close(fd);
        return rc;
    }
    if (close(fd) < 0)
        return gr_fail_errno(err, GR_EIO, "%s: close failed", path);
    return GR_OK;
}

enum gr_status
fs_mkdirs(const char *path, struct gr_error *err)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; ; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                enum gr_status rc = gr_fail_errno(err, GR_EIO, "%s: cannot create folder", p);
                free(p);
                return rc;
            }
            if (!fs_is_dir(p)) {
                enum gr_status rc = gr_fail(err, GR_EIO, "%s: exists and is not a folder", p);
                free(p);
                return rc;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    return GR_OK;
}

int
fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int
fs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

long long
fs_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    return (long long)st.st_size;
}

char *
fs_join(const char *a, const char *b)
{
    if (!a || !*a || b[0] == '/')
        return xstrdup(b);
    size_t la = strlen(a);
    if (a[la - 1] == '/')
        return xasprintf("%s%s", a, b);
    return xasprintf("%s/%s", a, b);
}

char *
fs_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

enum gr_status
fs_map_open(struct fs_map *m, const char *path, struct gr_error *err)
{
    m->data = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gr_fail_errno(err, GR_EINPUT, "%s", path);
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return gr_fail_errno(err, GR_EIO, "%s", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return GR_OK;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return gr_fail_errno(err, GR_EIO, "%s: mmap failed", path);
    m->data = p;
    m->len = (size_t)st.st_size;
    return GR_OK;
}

void
fs_map_close(struct fs_map *m)
{
    if (m->data)
        munmap(m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

uint64_t
gr_hash64(const void *data, size_t n, uint64_t seed)
{
    const unsigned char *p = data;
    const uint64_t k = 0x9e3779b97f4a7c15ULL;
    uint64_t h = seed ^ (n * k);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w *= 0xbf58476d1ce4e5b9ULL;
        w ^= w >> 31;
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    for (size_t j = 0; i + j < n; j++)
        tail |= (uint64_t)p[i + j] << (8 * j);
    h = (h ^ (tail * 0x94d049bb133111ebULL)) * k;
    h ^= h >> 32;
    return h;
}
