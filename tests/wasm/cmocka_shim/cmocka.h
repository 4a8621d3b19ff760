/* cmocka.h — the subset of cmocka's API the suites in tests/ use, for the
 * wasm32 build only (tests/wasm/meson.build puts this directory on the
 * include path instead of libcmocka-dev's).
 *
 * cmocka itself cannot be built for wasm32: it unwinds a failing test with
 * longjmp, and wasi-libc has no setjmp. Here a failing assertion prints
 * file:line and the values, then "[  FAILED  ] test" and exit(1): the
 * program stops at the first failure (the remaining tests of the group do
 * not run, nor does the teardown). skip() cannot return to the runner
 * either: it prints "[  SKIPPED ]" and exits with 77, which meson counts as
 * a skipped test. Otherwise the group runners print what cmocka prints
 * ("[ RUN      ] name", "[       OK ] name", the counts) and return 0.
 *
 * The semantics follow cmocka 1.1: integer assertions compare as uintmax_t,
 * assert_float_equal as float with an absolute epsilon, pointers as
 * integers; a test's state is the group setup's state if it set one, else
 * the test's initial_state. Per-test setup/teardown are called as cmocka
 * does (a failing setup fails the test). */
#ifndef MT_CMOCKA_SHIM_H
#define MT_CMOCKA_SHIM_H

#include <stddef.h>
#include <stdint.h>

typedef uintmax_t LargestIntegralType;

typedef void (*CMUnitTestFunction)(void **state);
typedef int (*CMFixtureFunction)(void **state);

struct CMUnitTest {
    const char *name;
    CMUnitTestFunction test_func;
    CMFixtureFunction setup_func;
    CMFixtureFunction teardown_func;
    void *initial_state;
};

#define cmocka_unit_test(f) {#f, f, NULL, NULL, NULL}
#define cmocka_unit_test_setup(f, setup) {#f, f, setup, NULL, NULL}
#define cmocka_unit_test_teardown(f, teardown) {#f, f, NULL, teardown, NULL}
#define cmocka_unit_test_setup_teardown(f, setup, teardown) {#f, f, setup, teardown, NULL}
#define cmocka_unit_test_prestate(f, state) {#f, f, NULL, NULL, state}

#define cmocka_run_group_tests(tests, setup, teardown)                                  \
    _cmocka_run_group_tests(#tests, tests, sizeof(tests) / sizeof((tests)[0]), setup, \
                            teardown)
#define cmocka_run_group_tests_name(name, tests, setup, teardown)                      \
    _cmocka_run_group_tests(name, tests, sizeof(tests) / sizeof((tests)[0]), setup, \
                            teardown)

int _cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests,
                            size_t count, CMFixtureFunction group_setup,
                            CMFixtureFunction group_teardown);

void print_message(const char *format, ...) __attribute__((format(printf, 1, 2)));
void print_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

_Noreturn void _fail(const char *file, int line);
_Noreturn void _skip(const char *file, int line);
void _assert_true(LargestIntegralType result, const char *expression, const char *file,
                  int line);
void _assert_int_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                       int line);
void _assert_int_not_equal(LargestIntegralType a, LargestIntegralType b, const char *file,
                           int line);
void _assert_float_equal(float a, float b, float epsilon, const char *file, int line);
void _assert_string_equal(const char *a, const char *b, const char *file, int line);
void _assert_string_not_equal(const char *a, const char *b, const char *file, int line);
void _assert_memory_equal(const void *a, const void *b, size_t size, const char *file,
                          int line);
void _assert_in_range(LargestIntegralType value, LargestIntegralType minimum,
                      LargestIntegralType maximum, const char *file, int line);

#define fail() _fail(__FILE__, __LINE__)
#define skip() _skip(__FILE__, __LINE__)
#define fail_msg(msg, ...)                                  \
    do {                                                    \
        print_error("ERROR: " msg "\n", ##__VA_ARGS__);     \
        fail();                                             \
    } while (0)

#define assert_true(c) \
    _assert_true((LargestIntegralType)(c), #c, __FILE__, __LINE__)
#define assert_false(c) \
    _assert_true(!(LargestIntegralType)(c), "!(" #c ")", __FILE__, __LINE__)
#define assert_non_null(c) \
    _assert_true((LargestIntegralType)(uintptr_t)(c), #c, __FILE__, __LINE__)
#define assert_null(c) \
    _assert_true(!(LargestIntegralType)(uintptr_t)(c), #c " == NULL", __FILE__, __LINE__)
#define assert_int_equal(a, b)                                                       \
    _assert_int_equal((LargestIntegralType)(a), (LargestIntegralType)(b), __FILE__, \
                      __LINE__)
#define assert_int_not_equal(a, b)                                                       \
    _assert_int_not_equal((LargestIntegralType)(a), (LargestIntegralType)(b), __FILE__, \
                          __LINE__)
#define assert_ptr_equal(a, b)                                               \
    _assert_int_equal((LargestIntegralType)(uintptr_t)(const void *)(a),     \
                      (LargestIntegralType)(uintptr_t)(const void *)(b), __FILE__, \
                      __LINE__)
#define assert_ptr_not_equal(a, b)                                               \
    _assert_int_not_equal((LargestIntegralType)(uintptr_t)(const void *)(a),     \
                          (LargestIntegralType)(uintptr_t)(const void *)(b), __FILE__, \
                          __LINE__)
#define assert_float_equal(a, b, epsilon) \
    _assert_float_equal((float)(a), (float)(b), (float)(epsilon), __FILE__, __LINE__)
#define assert_string_equal(a, b) _assert_string_equal((a), (b), __FILE__, __LINE__)
#define assert_string_not_equal(a, b) _assert_string_not_equal((a), (b), __FILE__, __LINE__)
#define assert_memory_equal(a, b, size) \
    _assert_memory_equal((a), (b), (size_t)(size), __FILE__, __LINE__)
#define assert_in_range(value, minimum, maximum)                                   \
    _assert_in_range((LargestIntegralType)(value), (LargestIntegralType)(minimum), \
                     (LargestIntegralType)(maximum), __FILE__, __LINE__)

#endif
