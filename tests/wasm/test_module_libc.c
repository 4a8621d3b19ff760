/* test_module_libc.c — the module's own malloc family and vsnprintf
 * (wasm/module_malloc.c, wasm/module_format.c), linked into this program
 * as into minitensor-mnist.wasm, so they replace wasi-libc's here too.
 * Expected strings are C's (what glibc prints for the same calls).
 * Exit code 0 = pass; each failure prints one line. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);              \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

/* snprintf here is the module's (module_format.c). */
__attribute__((format(printf, 2, 3))) static void expect(const char *want, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    CHECK(strcmp(buf, want) == 0, "format \"%s\": got \"%s\", want \"%s\"", fmt, buf, want);
    CHECK(n == (int)strlen(want), "format \"%s\": returned %d, want %zu", fmt, n, strlen(want));
}

static void test_format(void)
{
    expect("matmul: inner dimensions differ: [2,3] x d1_w [4,5]",
           "%s: inner dimensions differ: %s x %s %s", "matmul", "[2,3]", "d1_w", "[4,5]");
    expect("-42 0 2147483647 -2147483648", "%d %i %d %d", -42, 0, INT32_MAX, INT32_MIN);
    expect("-9223372036854775808 18446744073709551615", "%lld %llu", (long long)INT64_MIN,
           (unsigned long long)UINT64_MAX);
    expect("4294967295 4294967295 -7", "%zu %lu %ld", (size_t)UINT32_MAX, (unsigned long)UINT32_MAX,
           -7L);
    expect("   42|42   |00042|  -42|-0042", "%5d|%-5d|%05d|%5d|%05d", 42, 42, 42, -42, -42);
    expect("+5  5 -5", "%+d % d %+d", 5, 5, -5);
    expect("ff FF 0xff 0XFF 10 010 0 0", "%x %X %#x %#X %o %#o %#x %#o", 255, 255, 255, 255, 8, 8, 0, 0);
    expect("07 0x0000001f", "%02x %#010x", 7, 31);
    expect("007|    -007||   |1", "%.3d|%8.3d|%.0d|%3.0d|%.0d", 7, -7, 0, 0, 1);
    expect("abc|        hi|hi  |  ab", "%.*s|%10s|%-4s|%*.*s", 3, "abcdef", "hi", "hi", 4, 2, "abc");
    expect("hi   |", "%*s|", -5, "hi");
    expect("ok (null) %", "%c%c %s %%", 'o', 'k', (char *)NULL);
    expect("0.2 0.5 1e-05 123456 1.23457e+06 3.14159", "%g %g %g %g %g %g", (double)0.2f, 0.5,
           1e-5, 123456.0, 1234567.0, 3.14159265);
    expect("0.0001 1.234e-05 -2.5 100 1e+100 1e-100", "%g %g %g %g %g %g", 0.0001, 0.00001234,
           -2.5, 100.0, 1e100, 1e-100);
    expect("0 -0 nan inf -inf INF", "%g %g %g %g %g %G", 0.0, -0.0, (double)NAN,
           (double)INFINITY, (double)-INFINITY, (double)INFINITY);
    expect("0.667 10 1e+06 1.00000 1.5E-07 0.1", "%.3g %g %g %#g %G %.0g", 2.0 / 3, 9.9999996,
           999999.5, 1.0, 1.5e-7, 0.1);
    expect("     3.142|3.142     |+3.142|00003.142", "%10.4g|%-10.4g|%+.4g|%09.4g", 3.14159,
           3.14159, 3.14159, 3.14159);
    expect("0.333333333333333 123456789012345", "%.15g %.15g", 1.0 / 3, 123456789012345.0);
    // Not supported: shown as written; a double is consumed so what follows is right.
    expect("x=%5.1f y=3", "x=%5.1f y=%d", 2.5, 3);
    expect("dropout 0.2", "dropout %g", (double)0.2f);

    char small[5] = "zzzz";
    CHECK(snprintf(small, sizeof small, "%s", "abcdefgh") == 8, "truncated: returns the full length");
    CHECK(strcmp(small, "abcd") == 0, "truncated to \"%s\"", small);
    CHECK(snprintf(small, 0, "%d", 12345) == 5 && strcmp(small, "abcd") == 0,
          "cap 0 writes nothing");
    CHECK(snprintf(small, 1, "%d", 12345) == 5 && small[0] == '\0', "cap 1 writes the NUL");
}

static size_t memory_bytes(void) { return __builtin_wasm_memory_size(0) * 65536; }

/* A simple deterministic generator for sizes and choices. */
static uint32_t rng = 12345;
static uint32_t next_random(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

enum { SLOTS = 200 };

static void test_malloc_stress(void)
{
    unsigned char *block[SLOTS] = {0};
    size_t size[SLOTS] = {0};
    for (int round = 0; round < 20000; round++) {
        int i = (int)(next_random() % SLOTS);
        if (block[i]) { // the pattern written at allocation is intact
            for (size_t j = 0; j < size[i]; j++)
                if (block[i][j] != (unsigned char)(i + j)) {
                    CHECK(0, "block %d byte %zu overwritten", i, j);
                    return;
                }
            if (size[i] < 50000 && next_random() % 3 == 0) { // grow it, keeping the bytes
                size_t grown = size[i] * 2 + 1;
                unsigned char *p = realloc(block[i], grown);
                CHECK(p != NULL, "realloc to %zu", grown);
                for (size_t j = size[i]; j < grown; j++)
                    p[j] = (unsigned char)(i + j);
                block[i] = p;
                size[i] = grown;
                continue;
            }
            free(block[i]);
            block[i] = NULL;
            continue;
        }
        size_t align = (size_t)16 << (next_random() % 4); // 16..128
        size[i] = next_random() % 3 == 0 ? next_random() % 20000 : next_random() % 100;
        block[i] = next_random() % 2 ? malloc(size[i]) : aligned_alloc(align, size[i]);
        CHECK(block[i] != NULL, "allocation of %zu", size[i]);
        CHECK((uintptr_t)block[i] % 16 == 0, "%p is not 16-byte aligned", (void *)block[i]);
        for (size_t j = 0; j < size[i]; j++)
            block[i][j] = (unsigned char)(i + j);
    }
    size_t before = memory_bytes();
    for (int i = 0; i < SLOTS; i++)
        free(block[i]);
    // Everything merged back: one block as large as the heap grew takes no new memory.
    void *big = malloc(before / 2);
    CHECK(big != NULL && memory_bytes() == before,
          "after freeing everything, a %zu-byte block grew the memory from %zu to %zu",
          before / 2, before, memory_bytes());
    free(big);
}

static void test_malloc_edges(void)
{
    void *p = aligned_alloc(4096, 10);
    CHECK(p && (uintptr_t)p % 4096 == 0, "aligned_alloc(4096) gave %p", p);
    free(p);
    errno = 0;
    CHECK(aligned_alloc(24, 48) == NULL && errno == EINVAL, "alignment 24 is refused");
    errno = 0;
    CHECK(aligned_alloc(131072, 48) == NULL && errno == EINVAL,
          "alignments beyond a page are refused");
    errno = 0;
    CHECK(malloc(SIZE_MAX) == NULL && errno == ENOMEM, "malloc(SIZE_MAX) fails with ENOMEM");
    errno = 0;
    CHECK(calloc(SIZE_MAX / 2, 4) == NULL && errno == ENOMEM, "calloc overflow fails");
    CHECK(malloc(0) != NULL, "malloc(0) gives a unique pointer");
    free(NULL);

    // calloc of a reused (dirty) block is zero
    unsigned char *dirty = malloc(1000);
    memset(dirty, 0xAB, 1000);
    free(dirty);
    unsigned char *zero = calloc(250, 4);
    int nonzero = 0;
    for (int i = 0; i < 1000; i++)
        nonzero += zero[i] != 0;
    CHECK(nonzero == 0, "calloc left %d non-zero bytes", nonzero);
    free(zero);

    unsigned char *r = realloc(NULL, 8);
    memcpy(r, "minitens", 8);
    r = realloc(r, 100000); // moves: beyond the free space nearby
    CHECK(r && memcmp(r, "minitens", 8) == 0, "realloc kept the bytes");
    free(r);

    // Growth beyond the initial memory, then reuse of the same space.
    size_t before = memory_bytes();
    void *huge = malloc(before + (size_t)3 * 1024 * 1024);
    CHECK(huge != NULL && memory_bytes() > before, "a block larger than the memory grows it");
    free(huge);
    size_t grown = memory_bytes();
    for (int i = 0; i < 100; i++)
        free(malloc(before + (size_t)3 * 1024 * 1024));
    CHECK(memory_bytes() == grown, "repeated large alloc/free grew the memory %zu -> %zu", grown,
          memory_bytes());
}

int main(void)
{
    test_format();
    test_malloc_edges();
    test_malloc_stress();
    if (failures)
        fprintf(stderr, "%d failure(s)\n", failures);
    else
        printf("module libc: format and malloc ok\n");
    return failures != 0;
}
