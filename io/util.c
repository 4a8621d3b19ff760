/* util.c — small helpers for io/: byte order, UTF-8, message formatting,
 * a non-recursive index sort. */
#include <stdio.h>
#include <string.h>

#include "st_internal.h"

bool mt_st_host_little_endian(void)
{
    const uint32_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* ---- UTF-8 (RFC 3629, as Rust's str::from_utf8) ---------------------------- */

bool mt_st_utf8_valid(const uint8_t *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xbf;  /* range of the second byte */
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0) lo = 0xa0;        /* overlong */
            if (c == 0xed) hi = 0x9f;        /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0) lo = 0x90;        /* overlong */
            if (c == 0xf4) hi = 0x8f;        /* > U+10FFFF */
        } else {
            *bad = i;                        /* 0x80..0xc1, 0xf5..0xff */
            return false;
        }
        if (n - i <= need) {
            *bad = i;
            return false;
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            *bad = i;
            return false;
        }
        for (size_t k = 2; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                *bad = i;
                return false;
            }
        }
        i += need + 1;
    }
    return true;
}

/* U+0080..U+009F (C1 controls: U+009B is a terminal's CSI) and the bidi
 * overrides U+202A..U+202E, U+2066..U+2069, which make a name print as
 * another. */
bool mt_st_utf8_control(const uint8_t *s, size_t seq)
{
    if (seq == 2)
        return s[0] == 0xc2 && s[1] <= 0x9f;
    if (seq == 3 && s[0] == 0xe2)
        return (s[1] == 0x80 && s[2] >= 0xaa && s[2] <= 0xae) ||
               (s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9);
    return false;
}

/* ---- message helpers ------------------------------------------------------- */

const char *mt_st_quote(char *buf, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const size_t limit = 80;  /* source bytes shown */
    size_t o = 0;
    if (cap < 16) {
        if (cap) buf[0] = '\0';
        return buf;
    }
    buf[o++] = '\'';
    size_t i = 0;
    for (; i < len && i < limit; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 8 >= cap) break;
        size_t seq = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4, bad;
        if (c >= 0x80 && seq <= len - i &&
            mt_st_utf8_valid((const uint8_t *)s + i, seq, &bad) &&
            !mt_st_utf8_control((const uint8_t *)s + i, seq)) {
            if (o + seq + 8 >= cap) break;
            memcpy(buf + o, s + i, seq);   /* a whole character */
            o += seq;
            i += seq - 1;
        } else if (c < 0x20 || c >= 0x7f) {
            /* controls, and bytes that are not UTF-8: never echoed raw */
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        } else {
            buf[o++] = (char)c;
        }
    }
    if (i < len) {
        /* (whole characters only were copied: no sequence is cut) */
        buf[o++] = '.';
        buf[o++] = '.';
        buf[o++] = '.';
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

const char *mt_st_shape_str(char *buf, size_t cap, const uint64_t *dims,
                            size_t rank)
{
    size_t o = 0;
    if (cap < 8) {
        if (cap) buf[0] = '\0';
        return buf;
    }
    buf[o++] = '[';
    for (size_t i = 0; i < rank; i++) {
        char num[24];
        int w = snprintf(num, sizeof num, "%s%llu", i ? "," : "",
                         (unsigned long long)dims[i]);
        if (w < 0 || o + (size_t)w + 5 >= cap) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, num, (size_t)w);
        o += (size_t)w;
    }
    buf[o++] = ']';
    buf[o] = '\0';
    return buf;
}

int mt_st_bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t m = alen < blen ? alen : blen;
    int c = m ? memcmp(a, b, m) : 0;
    if (c != 0) return c;
    return (alen > blen) - (alen < blen);
}

/* ---- sort ------------------------------------------------------------------ */

/* Bottom-up merge sort: O(n log n) worst case whatever the input (a file
 * cannot make opening quadratic), stable, no recursion. */
void mt_st_sort_indices(size_t *idx, size_t *scratch, size_t n, st_cmp_fn cmp,
                        const void *ctx)
{
    size_t *src = idx, *dst = scratch;
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = cmp(src[j], src[i], ctx) < 0 ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        size_t *t = src;
        src = dst;
        dst = t;
        if (width > n / 2) break;  /* next width would overflow past n */
    }
    if (src != idx) memcpy(idx, src, n * sizeof *idx);
}
