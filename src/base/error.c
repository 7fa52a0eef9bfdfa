#include "base/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum gr_status
gr_fail(struct gr_error *err, enum gr_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

enum gr_status
gr_fail_errno(struct gr_error *err, enum gr_status code, const char *fmt, ...)
{
    int e = errno;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof err->msg)
            snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(e));
        err->code = code;
    }
    return code;
}

void
gr_error_clear(struct gr_error *err)
{
    if (err) {
        err->code = GR_OK;
        err->msg[0] = '\0';
    }
}

const char *
gr_status_name(enum gr_status s)
{
    switch (s) {
    case GR_OK:        return "ok";
    case GR_EINPUT:    return "input";
    case GR_EUSAGE:    return "usage";
    case GR_EIO:       return "io";
    case GR_ENOMEM:    return "memory";
    case GR_ESTATE:    return "state";
    case GR_ECORRUPT:  return "corrupt";
    case GR_ENUMERIC:  return "numeric";
    case GR_ESTOPPED:  return "stopped";
    case GR_EINTERNAL: return "internal";
    }
    return "?";
}
