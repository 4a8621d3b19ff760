/* cmocka.c — the wasm32 test builds' stand-in for libcmocka (cmocka.h says
 * what it does and does not do: a failure ends the program). */
#include "cmocka.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* the test that is running, for the FAILED line an assertion prints */
static const char *current_test = "(group fixture)";

void print_message(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vprintf(format, ap);
    va_end(ap);
    fflush(stdout);
}

void print_error(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vfprintf(stderr, format, ap);
    va_end(ap);
}

_Noreturn void _fail(const char *file, int line)
{
    fprintf(stderr, "%s:%d: error: Failure!\n", file, line);
    printf("[  FAILED  ] %s\n", current_test);
    fflush(stdout);
    exit(1);
}

_Noreturn void _skip(const char *file, int line)
{
    /* Without longjmp the runner cannot go on to the next test: the whole
     * program counts as skipped (77), as meson reads it. */
    fprintf(stderr, "%s:%d: skipped\n", file, line);
    printf("[  SKIPPED ] %s\n", current_test);
    fflush(stdout);
    exit(77);
}

void _assert_true(LargestIntegralType result, const char *expression, const char *file,
                  int line)
{
    if (!result) {
        print_error("%s\n", expression);
        _fail(file, line);
    }
}

static void print_values(const char *op, LargestIntegralType a, LargestIntegralType b)
{
    /* decimal as signed (what most tests compare) and hex as cmocka does */
    print_error("%" PRIdMAX " %s %" PRIdMAX " (%#" PRIxMAX " %s %#" PRIxMAX ")\n",
                (intmax_t)a, op, (intmax_t)b, a, op, b);
}

void _assert_int_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                       int line)
{
    if (a != b) {
        print_values("!=", a, b);
        _fail(file, line);
    }
}

void _assert_int_not_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                           int line)
{
    if (a == b) {
        print_values("==", a, b);
        _fail(file, line);
    }
}

void _assert_float_equal(float a, float b, float epsilon, const char *file, int line)
{
    float diff = a > b ? a - b : b - a;
    if (!(a == b || diff <= epsilon)) {
        print_error("%.9g != %.9g (epsilon %.9g)\n", (double)a, (double)b, (double)epsilon);
        _fail(file, line);
    }
}

void _assert_string_equal(const char *a, const char *b, const char *file, int line)
{
    if (!a || !b ? a != b : strcmp(a, b) != 0) {
        print_error("\"%s\" != \"%s\"\n", a ? a : "(null)", b ? b : "(null)");
        _fail(file, line);
    }
}

void _assert_string_not_equal(const char *a, const char *b, const char *file, int line)
{
    if (!a || !b ? a == b : strcmp(a, b) == 0) {
        print_error("\"%s\" == \"%s\"\n", a ? a : "(null)", b ? b : "(null)");
        _fail(file, line);
    }
}

void _assert_memory_equal(const void *a, const void *b, size_t size, const char *file,
                          int line)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < size; i++) {
        if (x[i] != y[i]) {
            print_error("difference at offset %zu 0x%02x 0x%02x (%zu bytes compared)\n", i,
                        x[i], y[i], size);
            _fail(file, line);
        }
    }
}

void _assert_in_range(LargestIntegralType value, LargestIntegralType minimum,
                      LargestIntegralType maximum, const char *file, int line)
{
    if (value < minimum || value > maximum) {
        print_error("%" PRIdMAX " (%#" PRIxMAX ") is not within the range %#" PRIxMAX
                    "-%#" PRIxMAX "\n",
                    (intmax_t)value, value, minimum, maximum);
        _fail(file, line);
    }
}

int _cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests,
                            size_t count, CMFixtureFunction group_setup,
                            CMFixtureFunction group_teardown)
{
    void *group_state = NULL;
    /* WASI has no working directory: wasi-libc starts in "/". Relative
     * paths mean meson's workdir, which cross/wasi-run.mjs passes as PWD. */
    const char *pwd = getenv("PWD");
    if (pwd && chdir(pwd) != 0) {
        printf("[  ERROR   ] %s: cannot chdir to PWD=%s\n", group_name, pwd);
        return 1;
    }
    printf("[==========] %s: Running %zu test(s).\n", group_name, count);
    fflush(stdout);
    if (group_setup && group_setup(&group_state) != 0) {
        printf("[  ERROR   ] %s: group setup failed\n", group_name);
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        const struct CMUnitTest *t = &tests[i];
        void *state = group_state ? group_state : t->initial_state;
        current_test = t->name;
        printf("[ RUN      ] %s\n", t->name);
        fflush(stdout);
        if (t->setup_func && t->setup_func(&state) != 0) {
            printf("[  ERROR   ] %s: setup failed\n", t->name);
            return 1;
        }
        t->test_func(&state);
        if (t->teardown_func && t->teardown_func(&state) != 0) {
            printf("[  ERROR   ] %s: teardown failed\n", t->name);
            return 1;
        }
        printf("[       OK ] %s\n", t->name);
        fflush(stdout);
    }
    current_test = "(group fixture)";
    if (group_teardown && group_teardown(&group_state) != 0) {
        printf("[  ERROR   ] %s: group teardown failed\n", group_name);
        return 1;
    }
    printf("[==========] %s: %zu test(s) run.\n[  PASSED  ] %zu test(s).\n", group_name, count,
           count);
    fflush(stdout);
    return 0;
}
