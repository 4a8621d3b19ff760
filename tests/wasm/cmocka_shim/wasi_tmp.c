/* wasi_tmp.c — mkstemp and mkdtemp for the wasm32 tests (wasi_tmp.h):
 * the template's trailing XXXXXX become random letters and digits, then
 * the file (O_EXCL) or directory is created; on a name that exists, again. */
#define _DEFAULT_SOURCE   /* arc4random */
#include "wasi_tmp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* the XXXXXX at the end of template_, filled in; NULL (EINVAL) if none */
static char *fill(char *template_)
{
    static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = strlen(template_);
    if (n < 6 || strcmp(template_ + n - 6, "XXXXXX") != 0) {
        errno = EINVAL;
        return NULL;
    }
    uint32_t r = arc4random();
    for (size_t i = n - 6; i < n; i++, r /= 36)
        template_[i] = chars[r % 36];
    return template_ + n - 6;
}

int mkstemp(char *template_)
{
    for (int tries = 0; tries < 100; tries++) {
        char *x = fill(template_);
        if (!x)
            return -1;
        int fd = open(template_, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
        memcpy(x, "XXXXXX", 6);
    }
    return -1;
}

char *mkdtemp(char *template_)
{
    for (int tries = 0; tries < 100; tries++) {
        char *x = fill(template_);
        if (!x)
            return NULL;
        if (mkdir(template_, 0700) == 0)
            return template_;
        if (errno != EEXIST)
            return NULL;
        memcpy(x, "XXXXXX", 6);
    }
    return NULL;
}
