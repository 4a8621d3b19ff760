/* text.c — reading text files and turning them into token ids. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text.h"
#include "utf8.h"

/* The largest text file read: the whole file is held, as its token ids. */
#define MAX_TEXT_BYTES ((size_t)1 << 30)

/* path opened for reading if it is a regular file of at most
 * MAX_TEXT_BYTES: a device (/dev/zero) would be read for ever, and a FIFO
 * opened without O_NONBLOCK would wait for a writer. */
static mt_status open_text(const char *path, FILE **out)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0)
        return mt_fail(MT_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    mt_status s = MT_OK;
    if (fstat(fd, &sb) != 0)
        s = mt_fail(MT_ERR_IO, "%s: %s", path, strerror(errno));
    else if (S_ISDIR(sb.st_mode))
        s = mt_fail(MT_ERR_IO, "%s: read error: %s", path, strerror(EISDIR));
    else if (!S_ISREG(sb.st_mode))
        s = mt_fail(MT_ERR_IO, "%s: not a regular file: give the path of a text file", path);
    else if ((uint64_t)sb.st_size > MAX_TEXT_BYTES)
        s = mt_fail(MT_ERR_IO, "%s: %lld bytes, more than the %zu this reads", path,
                    (long long)sb.st_size, MAX_TEXT_BYTES);
    FILE *f = s ? NULL : fdopen(fd, "rb");
    if (!s && !f)
        s = mt_fail(MT_ERR_IO, "%s: %s", path, strerror(errno));
    if (s) {
        close(fd);
        return s;
    }
    *out = f;
    return MT_OK;
}

mt_status charlm_read_file(const char *path, char **data, size_t *size)
{
    FILE *f = NULL;
    mt_status s = open_text(path, &f);
    if (s)
        return s;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap)
            break;
        if (cap > MAX_TEXT_BYTES) {   /* it grew past the limit since it was opened */
            free(buf);
            fclose(f);
            return mt_fail(MT_ERR_IO, "%s: more than the %zu bytes this reads", path,
                           MAX_TEXT_BYTES);
        }
        char *bigger = realloc(buf, cap *= 2);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    int err = buf && ferror(f) ? errno : 0;   /* EISDIR for a directory */
    fclose(f);
    if (!buf)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    if (err) {
        free(buf);
        return mt_fail(MT_ERR_IO, "%s: read error: %s", path, strerror(err));
    }
    *data = buf;
    *size = len;
    return MT_OK;
}

/* "'x' (U+0078)" for a message, the character itself if printable. */
static const char *describe(uint32_t cp, char *buf, size_t size)
{
    char utf8[5] = {0};
    if (cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0))
        utf8[utf8_put(cp, utf8)] = '\0';
    if (utf8[0])
        snprintf(buf, size, "'%s' (U+%04X)", utf8, (unsigned)cp);
    else
        snprintf(buf, size, "U+%04X", (unsigned)cp);
    return buf;
}

/* Decode and look up one character at text[*pos]; line/col for messages. */
static mt_status next_token(const charlm_model *m, const char *text, size_t size, size_t *pos,
                            const char *what, int64_t line, int64_t col, int32_t *tok,
                            uint32_t *cp)
{
    if (!utf8_next(text, size, pos, cp))
        return mt_fail(MT_ERR_FORMAT, "%s: line %lld, character %lld: not UTF-8 (byte 0x%02X)",
                       what, (long long)line, (long long)col, (unsigned char)text[*pos]);
    *tok = charlm_token(m, *cp);
    if (*tok < 0) {
        char d[32];
        return mt_fail(MT_ERR_FORMAT, "%s: line %lld, character %lld: %s is not in the "
                                      "vocabulary", what, (long long)line, (long long)col,
                       describe(*cp, d, sizeof d));
    }
    return MT_OK;
}

mt_status charlm_tokenize(const charlm_model *m, const char *text, size_t size,
                          const char *what, int32_t **tokens, int64_t *n)
{
    /* At most one token per byte. */
    int32_t *out = malloc((size ? size : 1) * sizeof *out);
    if (!out)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
    int64_t count = 0, line = 1, col = 1;
    for (size_t pos = 0; pos < size; count++) {
        uint32_t cp;
        mt_status s = next_token(m, text, size, &pos, what, line, col, &out[count], &cp);
        if (s) {
            free(out);
            return s;
        }
        if (cp == '\n')
            line++, col = 1;
        else
            col++;
    }
    *tokens = out;
    *n = count;
    return MT_OK;
}

mt_status charlm_tokenize_lines(const charlm_model *m, const char *text, size_t size,
                                const char *what, int32_t **tokens, int64_t *lines,
                                int64_t *length)
{
    if (size == 0)
        return mt_fail(MT_ERR_FORMAT, "%s: no lines", what);
    if (text[size - 1] != '\n') {
        int64_t last = 1;
        for (size_t i = 0; i < size; i++)
            last += text[i] == '\n';
        return mt_fail(MT_ERR_FORMAT, "%s: line %lld does not end with a newline", what,
                       (long long)last);
    }
    int32_t *out = malloc(size * sizeof *out);
    if (!out)
        return mt_fail(MT_ERR_OUT_OF_MEMORY, "%s: out of memory", what);
    int64_t B = m->cfg.block_size, L = -1, line = 1, count = 0;
    mt_status s = MT_OK;
    for (size_t pos = 0; pos < size && !s; line++) {
        int64_t col = 1;
        while (text[pos] != '\n' && !s) {
            uint32_t cp;
            s = next_token(m, text, size, &pos, what, line, col, &out[count + col - 1], &cp);
            col++;
        }
        pos++;   /* the '\n' */
        int64_t len = col - 1;
        if (s)
            break;
        if (len == 0)
            s = mt_fail(MT_ERR_FORMAT, "%s: line %lld is empty", what, (long long)line);
        else if (len > B)
            s = mt_fail(MT_ERR_FORMAT, "%s: line %lld has %lld characters, more than the "
                                       "block_size %lld", what, (long long)line,
                        (long long)len, (long long)B);
        else if (L >= 0 && len != L)
            s = mt_fail(MT_ERR_FORMAT, "%s: line %lld has %lld characters, line 1 has %lld",
                        what, (long long)line, (long long)len, (long long)L);
        L = len;
        count += len;
    }
    if (s) {
        free(out);
        return s;
    }
    *tokens = out;
    *lines = line - 1;
    *length = L;
    return MT_OK;
}
