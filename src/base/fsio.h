/* fsio.h: files.  Whole-file reads, atomic writes (temporary file,
 * fsync, rename, fsync of the folder), durable appends, folders. */
#ifndef GR_FSIO_H
#define GR_FSIO_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Read all of path into a new NUL-terminated buffer (caller frees *out);
 * *len excludes the NUL. */
enum gr_status fs_read_all(const char *path, char **out, size_t *len,
                           struct gr_error *err);

/* Replace path with the n bytes at data, atomically: a crash leaves
 * either the old file or the new one, never a torn one. */
enum gr_status fs_write_atomic(const char *path, const void *data, size_t n,
                               struct gr_error *err);

/* Streaming version: open a temporary beside path, write, then commit
 * (fsync + rename) or abort (unlink). */
struct fs_atomic {
    int fd;
    char *path;
    char *tmp;
    int failed;     /* a write failed; commit will refuse */
    int saved_errno;
};
enum gr_status fs_atomic_open(struct fs_atomic *a, const char *path,
                              struct gr_error *err);
enum gr_status fs_atomic_write(struct fs_atomic *a, const void *data, size_t n,
                               struct gr_error *err);
enum gr_status fs_atomic_commit(struct fs_atomic *a, struct gr_error *err);
void fs_atomic_abort(struct fs_atomic *a);

/* Append n bytes to path (created if missing) and fsync before returning. */
enum gr_status fs_append_sync(const char *path, const void *data, size_t n,
                              struct gr_error *err);

/* mkdir -p. */
enum gr_status fs_mkdirs(const char *path, struct gr_error *err);

/* 1 if path exists (any type), 0 if not. */
int fs_exists(const char *path);
/* 1 if path is a folder. */
int fs_is_dir(const char *path);
/* Size in bytes, or -1. */
long long fs_size(const char *path);

/* Join two path parts with one '/'; caller frees.  An absolute b wins. */
char *fs_join(const char *a, const char *b);
/* Folder part of path ("." if none); caller frees. */
char *fs_dirname(const char *path);

/* Read-only memory map of a whole file. */
struct fs_map {
    void *data;
    size_t len;
};
enum gr_status fs_map_open(struct fs_map *m, const char *path,
                           struct gr_error *err);
void fs_map_close(struct fs_map *m);

/* A fast 64-bit checksum of n bytes (not cryptographic). */
uint64_t gr_hash64(const void *data, size_t n, uint64_t seed);

#endif
