/* read_file.c — read a whole file with a size bound, into counted memory. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "formats_internal.h"
#include "minitensor/memory.h"

mt_status io_read_file(const char *path, size_t limit, unsigned char **bytes,
                       size_t *size)
{
    *bytes = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return mt_fail(MT_ERR_IO, "%s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    mt_status s = MT_OK;
    for (;;) {
        if (len == cap) {
            if (cap > limit) {
                s = mt_fail(MT_ERR_FORMAT, "%s: larger than %zu bytes", path, limit);
                break;
            }
            size_t grown = cap ? 2 * cap : 64 * 1024;
            unsigned char *p = mt_alloc(grown, 64);
            if (!p) {
                s = mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
                break;
            }
            if (len)
                memcpy(p, buf, len);
            mt_dealloc(buf);
            buf = p;
            cap = grown;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                s = mt_fail(MT_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (!s && len > limit)
        s = mt_fail(MT_ERR_FORMAT, "%s: larger than %zu bytes", path, limit);
    if (s || len == 0) {
        mt_dealloc(buf);
        return s;
    }
    *bytes = buf;
    *size = len;
    return MT_OK;
}
