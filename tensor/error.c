/* error.c — the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>

#include "minitensor/error.h"

static _Thread_local char last_error[512];

static const char *const status_names[MT_STATUS_COUNT] = {
    [MT_OK] = "MT_OK",
    [MT_ERR_INVALID_ARGUMENT] = "MT_ERR_INVALID_ARGUMENT",
    [MT_ERR_SHAPE] = "MT_ERR_SHAPE",
    [MT_ERR_DTYPE] = "MT_ERR_DTYPE",
    [MT_ERR_OVERFLOW] = "MT_ERR_OVERFLOW",
    [MT_ERR_OUT_OF_MEMORY] = "MT_ERR_OUT_OF_MEMORY",
    [MT_ERR_IO] = "MT_ERR_IO",
    [MT_ERR_FORMAT] = "MT_ERR_FORMAT",
    [MT_ERR_NOT_FOUND] = "MT_ERR_NOT_FOUND",
    [MT_ERR_UNSUPPORTED] = "MT_ERR_UNSUPPORTED",
};

const char *mt_status_name(mt_status status)
{
    if ((unsigned)status >= MT_STATUS_COUNT)
        return "MT_STATUS_UNKNOWN";
    return status_names[status];
}

const char *mt_last_error(void) { return last_error; }

void mt_clear_error(void) { last_error[0] = '\0'; }

mt_status mt_fail(mt_status status, const char *fmt, ...)
{
    if (!fmt) {   /* no details: still say what failed */
        snprintf(last_error, sizeof last_error, "failed: %s", mt_status_name(status));
        return status;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
