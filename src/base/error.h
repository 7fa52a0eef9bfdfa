/* error.h: status codes and the error buffer the engine fills.
 * The engine never prints: it returns a status and a message, and the
 * front end decides how to show it. */
#ifndef GR_ERROR_H
#define GR_ERROR_H

#include <stddef.h>

enum gr_status {
    GR_OK = 0,
    GR_EINPUT,      /* bad user input: options, files, values */
    GR_EUSAGE,      /* unknown command or option (exit status 2) */
    GR_EIO,         /* the operating system said no */
    GR_ENOMEM,      /* an allocation failed */
    GR_ESTATE,      /* the workspace is not ready for this (missing stage) */
    GR_ECORRUPT,    /* a file we wrote is damaged or from another version */
    GR_ENUMERIC,    /* NaN or infinity during training */
    GR_ESTOPPED,    /* the job was asked to stop (not a failure) */
    GR_EINTERNAL,   /* our bug */
};

struct gr_error {
    enum gr_status code;
    char msg[1024];
};

/* Fill err (may be NULL) with code and a printf-style message; returns code. */
enum gr_status gr_fail(struct gr_error *err, enum gr_status code,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like gr_fail, appending ": strerror(errno)". */
enum gr_status gr_fail_errno(struct gr_error *err, enum gr_status code,
                             const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset err to GR_OK and an empty message. */
void gr_error_clear(struct gr_error *err);

/* A short name for a status ("input", "io", ...). */
const char *gr_status_name(enum gr_status s);

#endif
