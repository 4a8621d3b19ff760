/* module_format.c — vsnprintf/snprintf for minitensor-mnist.wasm.
 *
 * Why: the library formats its error messages with vsnprintf (mt_fail),
 * and wasi-libc's printf is ~25 KB of code and tables (printf_core, long
 * double arithmetic for %Lf, strerror's table for %m) in a module whose
 * budget besides the weights is ~40 KB. Defining vsnprintf and snprintf
 * here keeps libc's from being linked (see module_malloc.c for why that is
 * safe). Only the module links this file; native builds use libc's.
 *
 * What it formats: the conversions d i u x X o c s p % with the flags
 * - 0 + space #, a width and a precision (numbers or *), and the length
 * modifiers hh h l ll j z t (on wasm32 every integer type is 32 or 64 bits,
 * and only the size matters); and g/G with up to 17 significant digits,
 * computed in double (the last digit may differ from glibc's correctly
 * rounded one beyond ~15 digits). Every conversion the library's messages
 * use (%s %d %lld %zu %g) is exact (tests/wasm/test_module_libc.c). Any
 * other conversion is copied to the output as written (%f %e %a consume
 * their double, so the conversions after them still print right).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct sink {
    char *buf;
    size_t cap, len; // len counts every byte, also those past cap
} sink;

static void put(sink *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++, s->len++)
        if (s->len + 1 < s->cap) // keep one byte for the NUL
            s->buf[s->len] = p[i];
}

static void pad(sink *s, char c, int n)
{
    for (; n > 0; n--)
        put(s, &c, 1);
}

enum { LEFT = 1, ZERO = 2, PLUS = 4, SPACE = 8, ALT = 16 };

/* Emit prefix (sign, 0x) and body in a field of `width`: zeros go between
 * them with ZERO, spaces before them otherwise, after them with LEFT. */
static void field(sink *s, const char *prefix, const char *body, size_t len,
                  int width, int flags)
{
    size_t plen = strlen(prefix);
    int fill = width - (int)(plen + len);
    if (!(flags & (LEFT | ZERO)))
        pad(s, ' ', fill);
    put(s, prefix, plen);
    if ((flags & (LEFT | ZERO)) == ZERO)
        pad(s, '0', fill);
    put(s, body, len);
    if (flags & LEFT)
        pad(s, ' ', fill);
}

/* The digits of v in base (8, 10, 16), at least `min_digits` of them,
 * right-aligned ending at end; returns their start. */
static char *utoa(char *end, uintmax_t v, unsigned base, int upper, int min_digits)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char *p = end;
    while (v || min_digits > 0) {
        *--p = digits[v % base];
        v /= base;
        min_digits--;
    }
    return p;
}

/* v × 10^k. Powers up to 10^22 are exact doubles, so for |k| <= 22 this is
 * one correctly rounded operation. */
static double scale10(double v, int k)
{
    for (; k > 22; k -= 22)
        v *= 1e22;
    for (; k < -22; k += 22)
        v /= 1e22;
    double p = 1;
    for (int i = 0; i < (k < 0 ? -k : k); i++)
        p *= 10;
    return k < 0 ? v / p : v * p;
}

/* n <= 17 significant decimal digits of v > 0 (finite) into d, and the
 * decimal exponent of the first: v ≈ d[0].d[1]d[2]… × 10^exp. The digits
 * are v scaled to an n-digit integer, rounded half to even (f64.nearest)
 * as C's printf rounds. */
static void decimal_digits(double v, int n, char *d, int *exp)
{
    int e = 0; // first estimate; corrected below
    for (double x = v; x >= 10; x /= 10)
        e++;
    for (double x = v; x < 1; x *= 10)
        e--;
    double limit = scale10(1, n), r;
    while ((r = __builtin_rint(scale10(v, n - 1 - e))) >= limit)
        e++;
    while (r < limit / 10 && (r = __builtin_rint(scale10(v, n - e))) < limit)
        e--;
    char tmp[24], *end = tmp + sizeof tmp;
    memcpy(d, utoa(end, (uintmax_t)r, 10, 0, n), (size_t)n);
    *exp = e;
}

/* %g: `prec` significant digits, trailing zeros dropped (kept with #). */
static size_t format_g(char *out, double v, int prec, int flags, int upper)
{
    char *p = out;
    if (v != v || v == __builtin_inf()) {
        memcpy(out, v != v ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"), 3);
        return 3;
    }
    if (v == 0) {
        *p++ = '0';
        if (flags & ALT) {
            *p++ = '.';
            for (int i = 1; i < prec; i++)
                *p++ = '0';
        }
        return (size_t)(p - out);
    }
    char d[17];
    int e;
    decimal_digits(v, prec, d, &e);
    int n = prec;
    if (!(flags & ALT))
        while (n > 1 && d[n - 1] == '0')
            n--;
    if (e < -4 || e >= prec) { // d.ddde+XX
        *p++ = d[0];
        if (n > 1 || (flags & ALT))
            *p++ = '.';
        for (int i = 1; i < n; i++)
            *p++ = d[i];
        *p++ = upper ? 'E' : 'e';
        *p++ = e < 0 ? '-' : '+';
        char tmp[8], *end = tmp + sizeof tmp;
        char *x = utoa(end, (uintmax_t)(e < 0 ? -e : e), 10, 0, 2);
        memcpy(p, x, (size_t)(end - x));
        p += end - x;
    } else if (e < 0) { // 0.000ddd
        *p++ = '0';
        *p++ = '.';
        for (int i = e + 1; i < 0; i++)
            *p++ = '0';
        for (int i = 0; i < n; i++)
            *p++ = d[i];
    } else { // ddd.ddd
        for (int i = 0; i <= e; i++)
            *p++ = i < n ? d[i] : '0';
        if (n > e + 1 || (flags & ALT))
            *p++ = '.';
        for (int i = e + 1; i < n; i++)
            *p++ = d[i];
    }
    return (size_t)(p - out);
}

static int read_int(const char **f)
{
    int v = 0;
    while (**f >= '0' && **f <= '9')
        v = v * 10 + *(*f)++ - '0';
    return v;
}

int vsnprintf(char *buf, size_t cap, const char *fmt, va_list ap)
{
    sink s = {buf, cap, 0};
    while (*fmt) {
        const char *start = fmt;
        if (*fmt != '%') {
            put(&s, fmt++, 1);
            continue;
        }
        fmt++;
        int flags = 0, width = 0, prec = -1;
        for (int f = 0; *fmt && f < 5;) { // "-0+ #", in the order of LEFT…ALT
            if (*fmt == "-0+ #"[f]) {
                flags |= 1 << f;
                fmt++;
                f = 0;
            } else {
                f++;
            }
        }
        if (*fmt == '*') {
            fmt++;
            if ((width = va_arg(ap, int)) < 0) {
                flags |= LEFT;
                width = -width;
            }
        } else {
            width = read_int(&fmt);
        }
        if (*fmt == '.') {
            fmt++;
            if (*fmt == '*') {
                fmt++;
                prec = va_arg(ap, int); // negative: as if none
            } else {
                prec = read_int(&fmt);
            }
        }
        /* The length modifier only matters through the argument's size:
         * int and long long, as every integer type here is one of the two
         * sizes (a va_arg of the same-size signed/unsigned type). */
        bool wide = false;
        while (*fmt == 'h' || *fmt == 'l' || *fmt == 'j' || *fmt == 'z' || *fmt == 't') {
            wide = wide || (*fmt == 'l' ? fmt[1] == 'l' || sizeof(long) == 8
                            : *fmt == 'j' ? sizeof(intmax_t) == 8
                            : *fmt == 'z' ? sizeof(size_t) == 8
                            : *fmt == 't' ? sizeof(ptrdiff_t) == 8
                                          : false);
            fmt += *fmt == 'l' && fmt[1] == 'l' ? 2 : 1;
        }
        const char conv = *fmt ? *fmt++ : '\0';
        char num[64], *end = num + sizeof num;
        const char *prefix = "";
        switch (conv) {
        case 'd':
        case 'i':
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            const bool is_signed = conv == 'd' || conv == 'i';
            uintmax_t v;
            if (wide)
                v = (uintmax_t)va_arg(ap, unsigned long long);
            else
                v = is_signed ? (uintmax_t)(intmax_t)va_arg(ap, int) : va_arg(ap, unsigned);
            if (is_signed) {
                const bool negative = (intmax_t)v < 0;
                if (negative)
                    v = -v;
                prefix = negative ? "-" : flags & PLUS ? "+" : flags & SPACE ? " " : "";
            }
            unsigned base = conv == 'o' ? 8 : conv == 'x' || conv == 'X' ? 16 : 10;
            if ((flags & ALT) && v && base == 16)
                prefix = conv == 'x' ? "0x" : "0X";
            char *p = utoa(end, v, base, conv == 'X', prec < 0 ? 1 : prec);
            if ((flags & ALT) && base == 8 && *p != '0')
                *--p = '0';
            field(&s, prefix, p, (size_t)(end - p), width, prec < 0 ? flags : flags & ~ZERO);
            break;
        }
        case 'p': {
            char *p = utoa(end, (uintptr_t)va_arg(ap, void *), 16, 0, 1);
            field(&s, "0x", p, (size_t)(end - p), width, flags & ~ZERO);
            break;
        }
        case 'c':
            num[0] = (char)va_arg(ap, int);
            field(&s, "", num, 1, width, flags & ~ZERO);
            break;
        case 's': {
            const char *str = va_arg(ap, const char *);
            if (!str)
                str = "(null)";
            size_t n = 0; // at most prec bytes are read
            while ((prec < 0 || n < (size_t)prec) && str[n])
                n++;
            field(&s, "", str, n, width, flags & ~ZERO);
            break;
        }
        case 'g':
        case 'G': {
            double v = va_arg(ap, double);
            prefix = __builtin_signbit(v) ? "-" : flags & PLUS ? "+" : flags & SPACE ? " " : "";
            size_t n = format_g(num, __builtin_fabs(v), prec < 0 ? 6 : prec == 0 ? 1 : prec > 17 ? 17 : prec,
                                flags, conv == 'G');
            field(&s, prefix, num, n, width, v == v && v - v == 0 ? flags : flags & ~ZERO);
            break;
        }
        case '%':
            put(&s, "%", 1);
            break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'a':
        case 'A': // not supported here: shown as written, the double consumed
            (void)va_arg(ap, double);
            put(&s, start, (size_t)(fmt - start));
            break;
        default: // not supported here: shown as written
            put(&s, start, (size_t)(fmt - start));
            break;
        }
    }
    if (cap)
        buf[s.len < cap ? s.len : cap - 1] = '\0';
    return s.len > INT32_MAX ? -1 : (int)s.len;
}

int snprintf(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n;
}
